//! Computing a wave's draft results as a background job: weights from the frame, the sufficient
//! statistics from the stored responses ([`crate::jobs::wave_totals`]), the estimates, the change
//! since the latest earlier release (re-aggregated to this wave's map when the map changed), the
//! weights report and the warnings. The job says it is alive every few seconds; a job that stops
//! saying so (the server restarted or crashed) is marked failed, never left running.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sipas_app::domain::{Geography, Wave};
use sipas_app::staff::StaffStore;
use sipas_app::staff::quality::QualityReport;
use sipas_app::staff::release::ComparedWith;
use sipas_app::staff::review::{DraftData, DraftReport, ProvinceWeights, Warning};
use sipas_stats::disclosure::{differencing_risks, listed};
use sipas_stats::estimate::estimate_all;
use sipas_stats::methodology::Methodology;
use sipas_stats::publish::{Aggregate, aggregates, measured, publish, write_aggregates};
use sipas_stats::totals::{SufficientStats, reaggregate};
use sipas_stats::totals_file::{read_totals, write_totals};
use sipas_stats::weighting::ProvinceWeighting;

use crate::jobs::wave_totals::{Progress, StratumWeight, wave_totals_reporting};

/// How often a running job says it is alive (renews its lease), at most.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// A job whose lease has run out this many times is failed rather than taken over again:
/// something in it may be what stops its servers.
pub const MAX_ATTEMPTS: i64 = 3;
/// A weight this many times its province's median is reported.
const EXTREME_WEIGHT_RATIO: f64 = 5.0;
/// Calibration adjustments outside [1/5, 5], or Kish's deff after calibration over 2, are
/// reported: the sample is far from the population's margins (and the weights carry it).
const STRONG_G: f64 = 5.0;
const STRONG_KISH: f64 = 2.0;

fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Who runs a job and for how long its lease lasts without a heartbeat. The holder names one
/// server process (one [`crate::startup::Application`]); another server takes over a job whose
/// lease ran out ([`take_over_stalled`]).
#[derive(Debug, Clone)]
pub struct Lease {
    pub holder: String,
    pub duration: Duration,
}

impl Lease {
    /// A fresh holder name for this server process: random, with the process id for the logs.
    pub fn for_this_server(duration: Duration) -> Self {
        Self {
            holder: format!("{}-{}", std::process::id(), crate::store::random_token()),
            duration,
        }
    }

    /// Several heartbeats per lease, so one late heartbeat does not lose it.
    fn heartbeat(&self) -> Duration {
        (self.duration / 5).clamp(Duration::from_millis(100), HEARTBEAT)
    }
}

/// Starts computing `wave` in the background; returns the computation's id at once.
pub async fn start(
    store: Arc<dyn StaffStore>,
    lease: Lease,
    wave: Wave,
    methodology: String,
    population: Option<String>,
    started_by: i64,
    audit: &sipas_app::staff::port::AuditOf<'_, i64>,
) -> Result<i64, sipas_app::ports::StoreError> {
    let id = store
        .start_computation(
            &wave.code,
            &methodology,
            population.as_deref(),
            started_by,
            &lease.holder,
            now_unix(),
            audit,
        )
        .await?;
    tokio::spawn(run(store, lease, wave, methodology, population, id));
    Ok(id)
}

/// Takes over one job whose server stopped (its lease ran out) and runs it here; `true` if
/// there was one. Called periodically by every server ([`crate::jobs::start`]).
pub async fn take_over_stalled(
    store: &Arc<dyn StaffStore>,
    lease: &Lease,
) -> Result<bool, sipas_app::ports::StoreError> {
    let now = now_unix();
    let silent_since = now - lease.duration.as_secs().max(1) as i64;
    let Some(claimed) = store
        .claim_stalled_computation(&lease.holder, silent_since, now, MAX_ATTEMPTS)
        .await?
    else {
        return Ok(false);
    };
    tracing::warn!(
        id = claimed.id,
        wave = %claimed.wave_code,
        attempt = claimed.attempts,
        "taking over a computation whose server stopped"
    );
    match store.wave_details(&claimed.wave_code).await {
        Ok(details) => {
            let wave = details.wave;
            tokio::spawn(run(
                store.clone(),
                lease.clone(),
                wave,
                claimed.methodology,
                claimed.population,
                claimed.id,
            ));
        }
        Err(err) => {
            store
                .finish_computation(
                    claimed.id,
                    &lease.holder,
                    Err(&format!("its wave could not be read: {err}")),
                )
                .await?
        }
    }
    Ok(true)
}

/// Stops the heartbeat when the job ends, however it ends (a panic included): a job that is
/// gone must not look alive.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The job: computes, stores the draft or the failure. A heartbeat task renews the lease and
/// reports progress meanwhile; if the lease is lost (this server was too slow to renew it and
/// another took the job over), the job stops without storing anything.
pub async fn run(
    store: Arc<dyn StaffStore>,
    lease: Lease,
    wave: Wave,
    methodology: String,
    population: Option<String>,
    id: i64,
) {
    let progress = Arc::new(Progress::default());
    let lost = Arc::new(tokio::sync::Notify::new());
    let heartbeat = AbortOnDrop({
        let (store, progress, lost, lease) =
            (store.clone(), progress.clone(), lost.clone(), lease.clone());
        tokio::spawn(async move {
            let mut every = tokio::time::interval(lease.heartbeat());
            loop {
                every.tick().await;
                let (done, total) = (
                    progress.done.load(Ordering::Relaxed),
                    progress.total.load(Ordering::Relaxed),
                );
                match store
                    .computation_heartbeat(id, &lease.holder, done, total, now_unix())
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        lost.notify_one();
                        return;
                    }
                    Err(err) => tracing::warn!(error = %err, id, "computation heartbeat failed"),
                }
            }
        })
    });
    // One computation at a time per server ([`super::ONE_COMPUTATION`]). A queued job keeps
    // its heartbeat, so it is not taken for dead while it waits. In a task of its own, so a
    // panic becomes a failed computation, not a silent one.
    let mut computing = {
        let (store, wave, progress) = (store.clone(), wave.clone(), progress.clone());
        tokio::spawn(async move {
            let _permit = super::ONE_COMPUTATION
                .acquire()
                .await
                .map_err(|err| format!("the computation queue closed: {err}"))?;
            compute(
                store.as_ref(),
                &wave,
                &methodology,
                population.as_deref(),
                &progress,
            )
            .await
        })
    };
    let outcome = tokio::select! {
        joined = &mut computing => joined
            .unwrap_or_else(|err| Err(format!("the computation stopped unexpectedly: {err}"))),
        () = lost.notified() => {
            computing.abort();
            tracing::warn!(id, wave = %wave.code, "computation lease lost: another server runs it");
            return;
        }
    };
    drop(heartbeat);
    let stored = match &outcome {
        Ok(draft) => store.finish_computation(id, &lease.holder, Ok(draft)).await,
        Err(reason) => {
            tracing::warn!(id, wave = %wave.code, reason, "computation failed");
            store
                .finish_computation(id, &lease.holder, Err(reason))
                .await
        }
    };
    if let Err(err) = stored {
        tracing::error!(error = %err, id, "storing the computation's outcome failed");
        // Say why, rather than let another server take it over for the same end.
        let _ = store
            .finish_computation(
                id,
                &lease.holder,
                Err(&format!("the results could not be stored: {err}")),
            )
            .await;
    }
}

/// Everything the draft holds, or why it could not be computed (a message for the
/// statistician).
pub async fn compute(
    store: &dyn StaffStore,
    wave: &Wave,
    methodology_text: &str,
    population: Option<&str>,
    progress: &Progress,
) -> Result<DraftData, String> {
    let methodology = Methodology::from_toml(methodology_text).map_err(|e| e.to_string())?;
    // The review's state before and after reading the responses: a decision taken meanwhile
    // would leave the report describing another set than the one computed (and could move
    // completes between communes of one stratum, which the per-stratum check cannot see).
    store
        .mark_twins(&wave.code)
        .await
        .map_err(|e| e.to_string())?;
    let before = store
        .last_decision(&wave.code)
        .await
        .map_err(|e| e.to_string())?;
    let totals = wave_totals_reporting(store, &wave.code, &methodology, population, progress)
        .await
        .map_err(|e| e.to_string())?;
    let summary = store
        .review_summary(&wave.code, &methodology.quality)
        .await
        .map_err(|e| e.to_string())?;
    let after = store
        .last_decision(&wave.code)
        .await
        .map_err(|e| e.to_string())?;
    if after != before {
        return Err(
            "quality review decisions were recorded while the indices were computed: \
             compute again"
                .into(),
        );
    }
    let quality = QualityReport::new(methodology.quality.clone(), summary, before);
    let previous = previous_release(store, wave).await?;

    // Reading last year's totals and the estimates are CPU work (about a second for a million
    // responses): off the async threads.
    let geography = wave.geography;
    let computed = tokio::task::spawn_blocking(move || {
        let stats = totals.stats;
        let mut compared = None;
        let mut not_comparable = None;
        let mut before = None;
        if let Some(previous) = previous {
            let name = format!("SIPAS {} v{}", previous.year, previous.version);
            match previous_cells(previous, geography, &methodology) {
                Ok(Some((with, cells))) => {
                    compared = Some(with);
                    before = Some(cells);
                }
                Ok(None) => {}
                Err(reason) => not_comparable = Some((name, reason)),
            }
        }
        let (cells, rows) = published_cells(&stats, &methodology, before.as_deref())?;
        let mut json = Vec::new();
        write_totals(&stats, &mut json).map_err(|e| e.to_string())?;
        let digest = {
            use sha2::Digest;
            sipas_app::survey::codes::hex(&sha2::Sha256::digest(&json))
        };
        let json = String::from_utf8(json).map_err(|e| e.to_string())?;
        let mut aggregates = Vec::new();
        write_aggregates(&rows, &mut aggregates).map_err(|e| e.to_string())?;
        Ok::<_, String>(Computed {
            cells,
            totals: json,
            aggregates: String::from_utf8(aggregates).map_err(|e| e.to_string())?,
            digest,
            strata: totals.strata,
            weighting: totals.weighting,
            compared,
            not_comparable,
        })
    })
    .await
    .map_err(|e| format!("the computation stopped: {e}"))??;

    let cells = crate::services::compute::release_cells(&computed.cells);
    let mut report = DraftReport {
        weights: weights_report(&computed.strata, &computed.weighting),
        warnings: Vec::new(),
        compared_with: computed.compared,
        quality,
    };
    report.warnings = warnings(&report, &cells);
    if let Some((release, reason)) = computed.not_comparable {
        report.warnings.retain(|w| *w != Warning::NoPreviousRelease);
        report
            .warnings
            .push(Warning::NotComparable { release, reason });
    }
    // Against every version of this year already published: their public aggregates and this
    // one's could be subtracted. A check that cannot run says so; the draft stands.
    match small_changes(store, wave.year, &computed.totals, methodology_text).await {
        Ok(changed) => {
            for (release, communes) in changed {
                report.warnings.push(Warning::SmallChange {
                    release,
                    communes: listed(&communes),
                });
            }
        }
        Err(reason) => report.warnings.push(Warning::NotComparable {
            release: format!("SIPAS {}", wave.year),
            reason: format!("the check against published versions failed: {reason}"),
        }),
    }
    Ok(DraftData {
        input_digest: computed.digest,
        cells,
        totals: computed.totals,
        aggregates: computed.aggregates,
        report,
    })
}

/// What a release publishes from `stats` ([`sipas_stats::publish`]): the cells, rounded and
/// derived from the public aggregates, and those aggregates. `before`: last year's published
/// cells on this map, for the change columns.
pub fn published_cells(
    stats: &SufficientStats,
    methodology: &Methodology,
    before: Option<&[sipas_stats::estimate::Cell]>,
) -> Result<(Vec<sipas_stats::estimate::Cell>, Vec<Aggregate>), String> {
    let engine = estimate_all(stats, methodology)
        .map_err(|e| e.to_string())?
        .cells;
    let rows = aggregates(stats, methodology).map_err(|e| e.to_string())?;
    let cells =
        publish(&rows, &measured(&engine), methodology, before).map_err(|e| e.to_string())?;
    Ok((cells, rows))
}

/// The least change in a commune between two published versions of a year that is not
/// reported as a differencing risk (docs/methodology.md, "Open data and disclosure control").
pub const MIN_PUBLIC_PSU_ROWS: u64 = 5;

/// The versions of `year` already published from which the full totals `text` differ by 1 to
/// 4 respondents in some commune (province and national domains, as published), with those
/// communes: subtracting the two versions' public aggregates would show how those few answered.
/// Checked when a draft is computed (a warning for the approver).
pub async fn small_changes(
    store: &dyn StaffStore,
    year: i32,
    text: &str,
    methodology_text: &str,
) -> Result<Vec<(String, Vec<String>)>, String> {
    let releases = store.releases().await.map_err(|e| e.to_string())?;
    let earlier: Vec<_> = releases.into_iter().filter(|r| r.year == year).collect();
    if earlier.is_empty() {
        return Ok(Vec::new());
    }
    let methodology = Methodology::from_toml(methodology_text).map_err(|e| e.to_string())?;
    let current = {
        let text = text.to_owned();
        tokio::task::spawn_blocking(move || read_totals(text.as_bytes(), &methodology))
            .await
            .map_err(|e| format!("the check stopped: {e}"))?
            .map_err(|e| e.to_string())?
    };
    let current = std::sync::Arc::new(current);
    let mut found = Vec::new();
    // One earlier version at a time (a full totals file can be tens of megabytes), each read
    // with its own methodology (a correction may change it; communes are what is compared).
    for release in earlier {
        let Some(totals) = store
            .release_totals(year, release.version)
            .await
            .map_err(|e| e.to_string())?
            .filter(|t| !t.is_empty())
        else {
            continue;
        };
        let current = current.clone();
        let communes = tokio::task::spawn_blocking(move || {
            let methodology =
                Methodology::from_toml(&release.methodology).map_err(|e| e.to_string())?;
            let before = read_totals(totals.as_bytes(), &methodology).map_err(|e| e.to_string())?;
            Ok::<_, String>(differencing_risks(&current, &before, MIN_PUBLIC_PSU_ROWS))
        })
        .await
        .map_err(|e| format!("the check stopped: {e}"))??;
        if !communes.is_empty() {
            found.push((format!("SIPAS {year} v{}", release.version), communes));
        }
    }
    Ok(found)
}

/// What the blocking part of [`compute`] hands back.
struct Computed {
    cells: Vec<sipas_stats::estimate::Cell>,
    totals: String,
    aggregates: String,
    digest: String,
    strata: Vec<StratumWeight>,
    weighting: Vec<ProvinceWeighting>,
    compared: Option<ComparedWith>,
    not_comparable: Option<(String, String)>,
}

/// The latest release of the latest earlier year: what the change columns compare with.
struct PreviousRelease {
    year: i32,
    version: i32,
    geography: Geography,
    /// Its full totals (for an old-map year, merged into today's units).
    totals: String,
    /// Its published cells (for a year on this map, the figures compared with).
    cells: Vec<sipas_app::staff::release::ReleaseCell>,
}

async fn previous_release(
    store: &dyn StaffStore,
    wave: &Wave,
) -> Result<Option<PreviousRelease>, String> {
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
    let cells = store
        .release(info.year, Some(info.version))
        .await
        .map_err(|e| e.to_string())?
        .map(|(_, cells)| cells)
        .unwrap_or_default();
    Ok(Some(PreviousRelease {
        year: info.year,
        version: info.version,
        geography: info.geography,
        totals,
        cells,
    }))
}

/// A release on the 63-province map, re-aggregated to today's 34 units from its full totals
/// and published by the same rule (the open data's `results-2025-map.csv` and
/// `aggregates-2025-map.csv`, and the series of a province page).
pub fn reaggregated_cells(
    methodology_text: &str,
    totals: &str,
) -> Result<(Vec<sipas_app::staff::release::ReleaseCell>, Vec<Aggregate>), String> {
    let methodology = Methodology::from_toml(methodology_text).map_err(|e| e.to_string())?;
    let stats = read_totals(totals.as_bytes(), &methodology).map_err(|e| e.to_string())?;
    let map = crate::services::compute::crosswalk_2004_2025();
    let merged = reaggregate(&stats, &|old| map.get(old).cloned()).map_err(|e| e.to_string())?;
    let (cells, rows) = published_cells(&merged, &methodology, None)?;
    Ok((crate::services::compute::release_cells(&cells), rows))
}

/// Last year's published figures on this wave's map: its release's cells on the same map, or
/// its totals merged into today's units and published by the same rule; `Ok(None)` when they
/// cannot be compared at all (no totals, or a later map back to an earlier one), `Err` when its
/// totals do not fit this methodology.
fn previous_cells(
    previous: PreviousRelease,
    geography: Geography,
    methodology: &Methodology,
) -> Result<Option<(ComparedWith, Vec<sipas_stats::estimate::Cell>)>, String> {
    let compared = |reaggregated| ComparedWith {
        year: previous.year,
        version: previous.version,
        reaggregated,
    };
    match (previous.geography, geography) {
        (from, to) if from == to => {
            if previous.cells.is_empty() {
                return Ok(None);
            }
            let cells = previous
                .cells
                .iter()
                .map(crate::services::compute::cell_from_release)
                .collect();
            Ok(Some((compared(false), cells)))
        }
        (Geography::G2004, Geography::G2025) => {
            if previous.totals.is_empty() {
                return Ok(None);
            }
            let stats = read_totals(previous.totals.as_bytes(), methodology)
                .map_err(|e| format!("its totals do not fit this methodology: {e}"))?;
            let map = crate::services::compute::crosswalk_2004_2025();
            let merged =
                reaggregate(&stats, &|old| map.get(old).cloned()).map_err(|e| e.to_string())?;
            let (cells, _) = published_cells(&merged, methodology, None)?;
            Ok(Some((compared(true), cells)))
        }
        _ => Ok(None),
    }
}

/// Per province: respondents, Kish's deff of weighting at each step (design weights, weights
/// from the frame, trimmed, calibrated), min / median / max weight from the frame, the range of
/// the calibration adjustments, joined classes and capped strata.
pub fn weights_report(
    strata: &[StratumWeight],
    weighting: &[ProvinceWeighting],
) -> Vec<ProvinceWeights> {
    let mut by_province: BTreeMap<&str, Vec<&StratumWeight>> = BTreeMap::new();
    for s in strata {
        by_province.entry(&s.province).or_default().push(s);
    }
    let kish = |pairs: &mut dyn Iterator<Item = (f64, i64)>| {
        let (n, sum_w, sum_w2) = pairs.fold((0.0, 0.0, 0.0), |(n, a, b), (w, r)| {
            let r = r as f64;
            (n + r, a + r * w, b + r * w * w)
        });
        if sum_w > 0.0 {
            n * sum_w2 / (sum_w * sum_w)
        } else {
            f64::NAN
        }
    };
    by_province
        .into_iter()
        .map(|(province, strata)| {
            let n: i64 = strata.iter().map(|s| s.completes).sum();
            let target: i64 = strata.iter().map(|s| s.target).sum();
            let mut answered: Vec<(f64, i64)> = strata
                .iter()
                .filter(|s| s.completes > 0)
                .map(|s| (s.weight, s.completes))
                .collect();
            answered.sort_by(|a, b| a.0.total_cmp(&b.0));
            let steps = weighting.iter().find(|w| w.province == province);
            let mut joined_classes: Vec<String> = strata
                .iter()
                .filter(|s| s.class.contains('+'))
                .map(|s| s.class.clone())
                .collect();
            joined_classes.dedup();
            ProvinceWeights {
                province: province.to_owned(),
                respondents: n,
                target,
                kish_design: kish(&mut strata.iter().map(|s| (s.design_weight, s.completes))),
                kish_deff: kish(&mut answered.iter().copied()),
                min: answered.first().map_or(f64::NAN, |w| w.0),
                median: weighted_median(&answered, n),
                max: answered.last().map_or(f64::NAN, |w| w.0),
                kish_trimmed: steps.and_then(|w| w.trimmed).map(|t| t.kish_deff),
                kish_calibrated: steps.and_then(|w| w.calibrated).map(|c| c.0.kish_deff),
                g_range: steps.and_then(|w| w.calibrated).map(|c| (c.1, c.2)),
                joined_classes,
                capped_strata: strata
                    .iter()
                    .filter(|s| s.capped)
                    .map(|s| s.stratum.clone())
                    .collect(),
                // A drawn commune's row is the commune (its class the stratum); a frame's
                // stratum in a joined class has its adults carried by the class.
                unanswered: strata
                    .iter()
                    .filter(|s| s.completes == 0 && s.target > 0 && !s.class.contains('+'))
                    .map(|s| s.stratum.clone())
                    .collect(),
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
        if !p.unanswered.is_empty() {
            warnings.push(Warning::Unrepresented {
                province: p.province.clone(),
                units: sipas_stats::disclosure::listed(&p.unanswered),
            });
        }
        if !p.capped_strata.is_empty() {
            warnings.push(Warning::CappedClasses {
                province: p.province.clone(),
                strata: p.capped_strata.join(", "),
            });
        }
        if let (Some((g_low, g_high)), Some(kish)) = (p.g_range, p.kish_calibrated)
            && (g_low < 1.0 / STRONG_G || g_high > STRONG_G || kish > STRONG_KISH)
        {
            warnings.push(Warning::StrongCalibration {
                province: p.province.clone(),
                g_low,
                g_high,
                kish,
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
    let awaiting = report.quality.awaiting_review();
    if awaiting > 0 {
        warnings.push(Warning::AwaitingReview { count: awaiting });
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
            design_weight: weight,
            weight,
            class: format!("{province}-{weight}"),
            capped: false,
        }
    }

    #[test]
    fn weights_report_by_hand() {
        // Province 01: 3 respondents at weight 100 and 1 at weight 400.
        // Kish: n Σw² / (Σw)² = 4 · (3·100² + 400²) / (700²) = 4 · 190000 / 490000 = 1.5510…
        let report = weights_report(
            &[
                stratum("01", 3, 4, 100.0),
                stratum("01", 1, 1, 400.0),
                stratum("79", 2, 2, 50.0),
            ],
            &[],
        );
        assert_eq!(report.len(), 2);
        let p = &report[0];
        assert_eq!((p.respondents, p.target), (4, 5));
        assert!((p.kish_deff - 4.0 * 190_000.0 / 490_000.0).abs() < 1e-12);
        assert_eq!((p.min, p.median, p.max), (100.0, 100.0, 400.0));
        assert_eq!(report[1].kish_deff, 1.0);
        assert_eq!(
            (p.kish_trimmed, p.kish_calibrated, p.g_range),
            (None, None, None)
        );

        // The design weights before nonresponse: 100 and 100 (Kish 1); the small stratum joined
        // its neighbour and was adjusted to 400, which the report names.
        let joined = StratumWeight {
            design_weight: 100.0,
            class: "01-a+01-b".into(),
            capped: true,
            ..stratum("01", 1, 4, 400.0)
        };
        let calibrated = ProvinceWeighting {
            province: "01".into(),
            given: sipas_stats::weighting::WeightSummary::default(),
            trimmed: None,
            calibrated: Some((
                sipas_stats::weighting::WeightSummary {
                    n: 4,
                    kish_deff: 1.7,
                    min: 50.0,
                    max: 500.0,
                },
                0.25,
                1.9,
            )),
        };
        let report = weights_report(&[stratum("01", 3, 4, 100.0), joined], &[calibrated]);
        assert_eq!(report[0].kish_design, 1.0);
        assert_eq!(report[0].joined_classes, vec!["01-a+01-b".to_owned()]);
        assert_eq!(report[0].capped_strata, vec!["01-400".to_owned()]);
        assert_eq!(report[0].kish_calibrated, Some(1.7));
        assert_eq!(report[0].g_range, Some((0.25, 1.9)));
        assert!(report[0].unanswered.is_empty());
    }

    #[test]
    fn communes_without_a_response_are_named() {
        // A drawn commune (its row is the commune, its class the stratum) with a target and no
        // completes carries no adults; a frame's stratum in a joined class is carried by it.
        let empty = StratumWeight {
            stratum: "00004".into(),
            class: "01-thanh-thi".into(),
            ..stratum("01", 0, 91, 0.0)
        };
        let joined = StratumWeight {
            class: "79-a+79-b".into(),
            ..stratum("79", 0, 10, 0.0)
        };
        let report = DraftReport {
            weights: weights_report(
                &[
                    stratum("01", 91, 91, 100.0),
                    empty,
                    stratum("79", 5, 5, 10.0),
                    joined,
                ],
                &[],
            ),
            ..DraftReport::default()
        };
        assert_eq!(report.weights[0].unanswered, vec!["00004".to_owned()]);
        assert!(report.weights[1].unanswered.is_empty());
        let found = warnings(&report, &[]);
        assert!(found.contains(&Warning::Unrepresented {
            province: "01".into(),
            units: "00004".into()
        }));
        assert!(
            !found
                .iter()
                .any(|w| matches!(w, Warning::Unrepresented { province, .. } if province == "79"))
        );
    }

    #[test]
    fn warnings_name_provinces_under_target_and_extreme_weights() {
        let report = DraftReport {
            weights: weights_report(
                &[
                    stratum("01", 9, 10, 100.0),
                    stratum("01", 1, 1, 600.0),
                    stratum("79", 5, 5, 10.0),
                ],
                &[],
            ),
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
            !found.iter().any(|w| matches!(
                w,
                Warning::CappedClasses { .. } | Warning::StrongCalibration { .. }
            )),
            "{found:?}"
        );
        // A capped class and calibration down to g = 0.15 are named.
        let mut strong = report.clone();
        strong.weights[0].capped_strata = vec!["01-R".into()];
        strong.weights[1].g_range = Some((0.15, 1.4));
        strong.weights[1].kish_calibrated = Some(1.3);
        let found = warnings(&strong, &[]);
        assert!(found.contains(&Warning::CappedClasses {
            province: "01".into(),
            strata: "01-R".into()
        }));
        assert!(found.contains(&Warning::StrongCalibration {
            province: "79".into(),
            g_low: 0.15,
            g_high: 1.4,
            kish: 1.3
        }));
        assert!(
            !found
                .iter()
                .any(|w| matches!(w, Warning::UnderTarget { province, .. } if province == "79"))
        );
    }
}
