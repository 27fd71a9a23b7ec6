//! Computing a wave's draft results as a background job: weights from the frame, the sufficient
//! statistics from the stored responses ([`crate::wave_compute`]), the estimates, the change
//! since the latest earlier release (re-aggregated to this wave's map when the map changed), the
//! weights report and the warnings. The job says it is alive every few seconds; a job that stops
//! saying so (the server restarted or crashed) is marked failed, never left running.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sipas_app::domain::{Geography, Wave};
use sipas_app::staff::StaffStore;
use sipas_app::staff::release::ComparedWith;
use sipas_app::staff::review::{DraftData, DraftReport, ProvinceWeights, Warning};
use sipas_stats::estimate::{add_changes, estimate_all};
use sipas_stats::methodology::Methodology;
use sipas_stats::totals::{SufficientStats, reaggregate};
use sipas_stats::totals_file::{read_totals, write_totals};

use crate::wave_compute::{Progress, StratumWeight, wave_totals_reporting};

/// How often a running job says it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// A running job silent this long is taken for dead.
pub const STALLED_AFTER: Duration = Duration::from_secs(60);
/// A weight this many times its province's median is reported.
const EXTREME_WEIGHT_RATIO: f64 = 5.0;

fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Starts computing `wave` in the background; returns the computation's id at once.
pub async fn start(
    store: Arc<dyn StaffStore>,
    wave: Wave,
    methodology: String,
    started_by: i64,
) -> Result<i64, sipas_app::ports::StoreError> {
    let id = store
        .start_computation(&wave.code, &methodology, started_by, now_unix())
        .await?;
    tokio::spawn(run(store, wave, methodology, id));
    Ok(id)
}

/// The job: computes, stores the draft or the failure. A heartbeat task reports progress
/// meanwhile.
pub async fn run(store: Arc<dyn StaffStore>, wave: Wave, methodology: String, id: i64) {
    let progress = Arc::new(Progress::default());
    let heartbeat = {
        let (store, progress) = (store.clone(), progress.clone());
        tokio::spawn(async move {
            let mut every = tokio::time::interval(HEARTBEAT);
            loop {
                every.tick().await;
                let (done, total) = (
                    progress.done.load(Ordering::Relaxed),
                    progress.total.load(Ordering::Relaxed),
                );
                if let Err(err) = store
                    .computation_heartbeat(id, done, total, now_unix())
                    .await
                {
                    tracing::warn!(error = %err, id, "computation heartbeat failed");
                }
            }
        })
    };
    let outcome = compute(store.as_ref(), &wave, &methodology, &progress).await;
    heartbeat.abort();
    let stored = match &outcome {
        Ok(draft) => store.finish_computation(id, Ok(draft)).await,
        Err(reason) => {
            tracing::warn!(id, wave = %wave.code, reason, "computation failed");
            store.finish_computation(id, Err(reason)).await
        }
    };
    if let Err(err) = stored {
        tracing::error!(error = %err, id, "storing the computation's outcome failed");
    }
}

/// Everything the draft holds, or why it could not be computed (a message for the
/// statistician).
pub async fn compute(
    store: &dyn StaffStore,
    wave: &Wave,
    methodology_text: &str,
    progress: &Progress,
) -> Result<DraftData, String> {
    let methodology = Methodology::from_toml(methodology_text).map_err(|e| e.to_string())?;
    if methodology.calibration.is_some() {
        return Err(
            "this methodology calibrates to population margins, which computing from \
                    the database does not do yet: use `sipas compute --data EXPORT --population \
                    MARGINS` (docs/methodology.md)"
                .into(),
        );
    }
    let totals = wave_totals_reporting(store, &wave.code, &methodology, progress)
        .await
        .map_err(|e| e.to_string())?;
    let previous = previous_release(store, wave, &methodology).await?;

    // The estimates are CPU work (about a second for a million responses): off the async threads.
    let level = methodology.ci.level;
    let (cells, totals_json, input_digest, stats_strata, previous_label) =
        tokio::task::spawn_blocking(move || {
            let stats = totals.stats;
            let mut results = estimate_all(&stats, &methodology).map_err(|e| e.to_string())?;
            let mut label = None;
            if let Some((compared, before)) = previous {
                let before_cells = estimate_all(&before, &methodology)
                    .map_err(|e| e.to_string())?
                    .cells;
                add_changes(&mut results.cells, &before_cells, level);
                label = Some(compared);
            }
            let mut json = Vec::new();
            write_totals(&stats, &mut json).map_err(|e| e.to_string())?;
            let digest = {
                use sha2::Digest;
                sipas_app::survey::codes::hex(&sha2::Sha256::digest(&json))
            };
            let json = String::from_utf8(json).map_err(|e| e.to_string())?;
            Ok::<_, String>((results.cells, json, digest, totals.strata, label))
        })
        .await
        .map_err(|e| format!("the computation stopped: {e}"))??;

    let cells = crate::compute::release_cells(&cells);
    let mut report = DraftReport {
        weights: weights_report(&stats_strata),
        warnings: Vec::new(),
        compared_with: previous_label,
    };
    report.warnings = warnings(&report, &cells);
    Ok(DraftData {
        input_digest,
        cells,
        totals: totals_json,
        report,
    })
}

/// The latest release of the latest earlier year, as totals on this wave's map.
async fn previous_release(
    store: &dyn StaffStore,
    wave: &Wave,
    methodology: &Methodology,
) -> Result<Option<(ComparedWith, SufficientStats)>, String> {
    let releases = store.releases().await.map_err(|e| e.to_string())?;
    // Newest year first, versions ascending: the last of the first earlier year is its latest.
    let Some(year) = releases
        .iter()
        .map(|r| r.year)
        .find(|&year| year < wave.year)
    else {
        return Ok(None);
    };
    let Some(info) = releases.iter().rfind(|r| r.year == year) else {
        return Ok(None);
    };
    let totals = store
        .release_totals(info.year, info.version)
        .await
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    if totals.is_empty() {
        return Ok(None);
    }
    let name = format!("SIPAS {} v{}", info.year, info.version);
    let stats = read_totals(totals.as_bytes(), methodology)
        .map_err(|e| format!("{name}: its totals do not fit this methodology: {e}"))?;
    let compared = |reaggregated| ComparedWith {
        year: info.year,
        version: info.version,
        reaggregated,
    };
    match (info.geography, wave.geography) {
        (from, to) if from == to => Ok(Some((compared(false), stats))),
        (Geography::G2004, Geography::G2025) => {
            let map = crate::compute::crosswalk_2004_2025();
            let merged = reaggregate(&stats, &|old| map.get(old).cloned())
                .map_err(|e| format!("{name}: {e}"))?;
            Ok(Some((compared(true), merged)))
        }
        // A later map back to an earlier one: not comparable.
        _ => Ok(None),
    }
}

/// Per province: respondents, Kish's deff of weighting, min / median / max weight.
pub fn weights_report(strata: &[StratumWeight]) -> Vec<ProvinceWeights> {
    let mut by_province: BTreeMap<&str, Vec<&StratumWeight>> = BTreeMap::new();
    for s in strata {
        by_province.entry(&s.province).or_default().push(s);
    }
    by_province
        .into_iter()
        .map(|(province, strata)| {
            let n: i64 = strata.iter().map(|s| s.completes).sum();
            let target: i64 = strata.iter().map(|s| s.target).sum();
            let (sum_w, sum_w2) = strata.iter().fold((0.0, 0.0), |(a, b), s| {
                let r = s.completes as f64;
                (a + r * s.weight, b + r * s.weight * s.weight)
            });
            let mut answered: Vec<(f64, i64)> = strata
                .iter()
                .filter(|s| s.completes > 0)
                .map(|s| (s.weight, s.completes))
                .collect();
            answered.sort_by(|a, b| a.0.total_cmp(&b.0));
            ProvinceWeights {
                province: province.to_owned(),
                respondents: n,
                target,
                kish_deff: if sum_w > 0.0 {
                    n as f64 * sum_w2 / (sum_w * sum_w)
                } else {
                    f64::NAN
                },
                min: answered.first().map_or(f64::NAN, |w| w.0),
                median: weighted_median(&answered, n),
                max: answered.last().map_or(f64::NAN, |w| w.0),
                share_trimmed: 0.0,
            }
        })
        .collect()
}

/// The median respondent's weight (the lower middle one for an even count), from sorted
/// `(weight, respondents)` runs.
fn weighted_median(sorted: &[(f64, i64)], n: i64) -> f64 {
    if n <= 0 {
        return f64::NAN;
    }
    let middle = (n + 1) / 2;
    let mut seen = 0;
    for &(w, count) in sorted {
        seen += count;
        if seen >= middle {
            return w;
        }
    }
    f64::NAN
}

fn warnings(
    report: &DraftReport,
    cells: &[sipas_app::staff::release::ReleaseCell],
) -> Vec<Warning> {
    let mut warnings = Vec::new();
    for p in &report.weights {
        if p.respondents < p.target {
            warnings.push(Warning::UnderTarget {
                province: p.province.clone(),
                completes: p.respondents,
                target: p.target,
            });
        }
        if p.median > 0.0 && p.max / p.median > EXTREME_WEIGHT_RATIO {
            warnings.push(Warning::ExtremeWeights {
                province: p.province.clone(),
                ratio: p.max / p.median,
            });
        }
    }
    let suppressed = cells.iter().filter(|c| c.flag == "suppressed").count();
    let review = cells.iter().filter(|c| c.flag == "low_precision").count();
    if suppressed + review > 0 {
        warnings.push(Warning::Flagged { suppressed, review });
    }
    if report.compared_with.is_none() {
        warnings.push(Warning::NoPreviousRelease);
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stratum(province: &str, completes: i64, target: i64, weight: f64) -> StratumWeight {
        StratumWeight {
            province: province.into(),
            stratum: format!("{province}-{weight}"),
            completes,
            target,
            weight,
        }
    }

    #[test]
    fn weights_report_by_hand() {
        // Province 01: 3 respondents at weight 100 and 1 at weight 400.
        // Kish: n Σw² / (Σw)² = 4 · (3·100² + 400²) / (700²) = 4 · 190000 / 490000 = 1.5510…
        let report = weights_report(&[
            stratum("01", 3, 4, 100.0),
            stratum("01", 1, 1, 400.0),
            stratum("79", 2, 2, 50.0),
        ]);
        assert_eq!(report.len(), 2);
        let p = &report[0];
        assert_eq!((p.respondents, p.target), (4, 5));
        assert!((p.kish_deff - 4.0 * 190_000.0 / 490_000.0).abs() < 1e-12);
        assert_eq!((p.min, p.median, p.max), (100.0, 100.0, 400.0));
        assert_eq!(report[1].kish_deff, 1.0);
    }

    #[test]
    fn warnings_name_provinces_under_target_and_extreme_weights() {
        let report = DraftReport {
            weights: weights_report(&[
                stratum("01", 9, 10, 100.0),
                stratum("01", 1, 1, 600.0),
                stratum("79", 5, 5, 10.0),
            ]),
            ..DraftReport::default()
        };
        let found = warnings(&report, &[]);
        assert!(found.contains(&Warning::UnderTarget {
            province: "01".into(),
            completes: 10,
            target: 11
        }));
        assert!(found.contains(&Warning::ExtremeWeights {
            province: "01".into(),
            ratio: 6.0
        }));
        assert!(found.contains(&Warning::NoPreviousRelease));
        assert!(
            !found
                .iter()
                .any(|w| matches!(w, Warning::UnderTarget { province, .. } if province == "79"))
        );
    }
}
