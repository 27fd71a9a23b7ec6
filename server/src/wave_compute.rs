//! Indices from a wave's stored responses: weights from the sample frame, then the same
//! sufficient statistics `sipas compute` builds from a CSV, accumulated over keyset pages of the
//! responses (bounded memory; the database does the per-stratum counts with a GROUP BY).
//!
//! Weights (docs/methodology.md, "Weights from the frame"): a respondent in stratum h of
//! province p stands for N_h / r_h adults, N_h the stratum's population in the frame and r_h
//! its probability-sample completes (design weight and nonresponse adjustment within the
//! stratum); the stratum's PSUs in the population give the finite population correction.

use std::collections::HashMap;

use sipas_app::ports::StoreError;
use sipas_app::staff::StaffStore;
use sipas_stats::StatsError;
use sipas_stats::methodology::Methodology;
use sipas_stats::microdata::{Accumulator, Row};
use sipas_stats::totals::SufficientStats;

/// Responses per keyset page.
const PAGE: u32 = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum WaveComputeError {
    #[error("the database failed: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Stats(#[from] StatsError),
    #[error("{0}")]
    Stored(String),
    #[error(
        "responses were stored while the indices were computed, so the weights would not match \
         them: close the wave (or wait for collection to pause) and compute again"
    )]
    Moving,
    #[error(
        "{count} probability response(s) are outside the sample frame (the first in province \
         {province}, stratum {stratum}, PSU {psu}): upload a frame that lists their PSU"
    )]
    OutsideFrame {
        count: usize,
        province: String,
        stratum: String,
        psu: String,
    },
}

/// The sufficient statistics of a wave's probability sample, weighted from its frame.
pub async fn wave_totals(
    store: &dyn StaffStore,
    wave_code: &str,
    methodology: &Methodology,
) -> Result<SufficientStats, WaveComputeError> {
    let completes: HashMap<(String, String), i64> = store
        .completes_by_stratum(wave_code)
        .await?
        .into_iter()
        .map(|(province, stratum, n)| ((province, stratum), n))
        .collect();
    let frame_def = store.frame(wave_code, None).await?;
    let frame: HashMap<(String, String), (i64, i64)> = frame_def
        .strata
        .into_iter()
        .map(|s| {
            (
                (s.province_code, s.stratum),
                (s.population, s.psus_in_population),
            )
        })
        .collect();
    let frame_psus: std::collections::HashSet<(String, String, String)> = frame_def
        .psus
        .into_iter()
        .map(|p| (p.province_code, p.stratum, p.psu))
        .collect();
    let mut read: HashMap<(String, String), i64> = HashMap::new();
    let mut accumulator = Accumulator::new(methodology)?;
    let mut outside: Option<(usize, String, String, String)> = None;
    let mut after: Option<String> = None;
    loop {
        let page = store
            .answers_page(wave_code, after.as_deref(), PAGE)
            .await?;
        let Some(last) = page.last() else {
            break;
        };
        after = Some(last.export_id.clone());
        for row in &page {
            let key = (row.province_code.clone(), row.stratum.clone());
            *read.entry(key.clone()).or_default() += 1;
            let in_frame = frame_psus.contains(&(
                row.province_code.clone(),
                row.stratum.clone(),
                row.psu.clone(),
            ));
            let (true, Some(&(population, psus)), Some(&completes)) =
                (in_frame, frame.get(&key), completes.get(&key))
            else {
                let entry = outside.get_or_insert_with(|| {
                    (
                        0,
                        row.province_code.clone(),
                        row.stratum.clone(),
                        row.psu.clone(),
                    )
                });
                entry.0 += 1;
                continue;
            };
            // Item codes are plain identifiers: their keys borrow from the stored text.
            let answers: HashMap<&str, i64> = serde_json::from_str(&row.answers).map_err(|e| {
                WaveComputeError::Stored(format!(
                    "response {} has unreadable answers: {e}",
                    row.export_id
                ))
            })?;
            accumulator.add(&Row {
                province: &row.province_code,
                stratum: &row.stratum,
                psu: &row.psu,
                weight: population as f64 / completes as f64,
                fpc: Some(psus as f64),
                value: &|item| answers.get(item).copied(),
            })?;
        }
    }
    // The counts and the pages are separate reads: responses stored meanwhile would be weighted
    // with stale counts. Close the wave (or retry) rather than publish such weights.
    if read != completes {
        return Err(WaveComputeError::Moving);
    }
    if let Some((count, province, stratum, psu)) = outside {
        return Err(WaveComputeError::OutsideFrame {
            count,
            province,
            stratum,
            psu,
        });
    }
    Ok(accumulator.finish()?)
}
