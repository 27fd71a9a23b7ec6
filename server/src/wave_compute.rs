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
        "{count} probability response(s) are outside the sample frame (the first in province \
         {province}, stratum {stratum}, PSU {psu}): upload a frame that lists their stratum"
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
    let frame: HashMap<(String, String), (i64, i64)> = store
        .frame(wave_code, None)
        .await?
        .strata
        .into_iter()
        .map(|s| {
            (
                (s.province_code, s.stratum),
                (s.population, s.psus_in_population),
            )
        })
        .collect();
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
            let (Some(&(population, psus)), Some(&completes)) =
                (frame.get(&key), completes.get(&key))
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
