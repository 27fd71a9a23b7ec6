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
    let mut accumulator = Accumulator::new(methodology)?;
    let mut outside: Option<(usize, String, String, String)> = None;
    let mut after: Option<String> = None;
    loop {
        let page = store
            .export_page(wave_code, None, after.as_deref(), PAGE)
            .await?;
        let Some(last) = page.last() else {
            break;
        };
        after = Some(last.export_id.clone());
        for row in page.iter().filter(|r| r.sample_kind == "probability") {
            let key = (row.province_code.clone(), row.stratum.clone());
            let (Some(population), Some(psus), Some(&completes)) = (
                row.stratum_population,
                row.stratum_psus,
                completes.get(&key),
            ) else {
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
            accumulator.add(&Row {
                province: &row.province_code,
                stratum: &row.stratum,
                psu: &row.psu,
                weight: population as f64 / completes as f64,
                fpc: Some(psus as f64),
                value: &|item| row.answers.get(item).copied(),
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
