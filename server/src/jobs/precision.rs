//! Provisional margins of error during fieldwork (staff only, never published): each
//! province's SIPAS index from the responses received so far, by the same engine as the
//! release (weights from the frame or the draw, linearized variance), so central staff see
//! where more responses are needed. Computed in the background at most every
//! [`REFRESH`] per wave; the monitoring page shows the last result and never waits for one.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sipas_app::results::ROOT;
use sipas_app::staff::StaffStore;
use sipas_stats::estimate::estimate_all;
use sipas_stats::methodology::Methodology;

/// How old the margins may be before a page view starts a new computation.
pub const REFRESH: Duration = Duration::from_secs(300);

/// One computation's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Margins {
    /// RFC 3339, when the computation finished.
    pub computed_at: String,
    /// Province → (respondents, half-width of the 95% interval of the index).
    pub by_province: BTreeMap<String, (f64, f64)>,
    /// Why there are none (no frame, responses outside it, …), in English (the engine's).
    pub error: Option<String>,
}

/// Computes the provisional margins of a wave now (the shipped SIPAS method's tree).
pub async fn compute(store: &dyn StaffStore, wave_code: &str) -> Margins {
    let finished = || {
        time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    let failed = |error: String| Margins {
        computed_at: finished(),
        by_province: BTreeMap::new(),
        error: Some(error),
    };
    let methodology =
        match Methodology::from_toml(crate::services::questionnaires::SIPAS_2023_METHODOLOGY) {
            Ok(m) => m,
            Err(err) => return failed(err.to_string()),
        };
    // After any other computation of this server ([`super::ONE_COMPUTATION`]).
    let Ok(_slot) = super::ONE_COMPUTATION.acquire().await else {
        return failed("the computation slot is closed".into());
    };
    let stats = match super::wave_totals::wave_totals(store, wave_code, &methodology).await {
        Ok(stats) => stats,
        Err(err) => return failed(err.to_string()),
    };
    // The estimation is CPU work: off the async threads.
    let estimated =
        tokio::task::spawn_blocking(move || estimate_all(&stats, &methodology).map(|e| e.cells))
            .await;
    let cells = match estimated {
        Ok(Ok(cells)) => cells,
        Ok(Err(err)) => return failed(err.to_string()),
        Err(err) => return failed(err.to_string()),
    };
    let by_province = cells
        .iter()
        .filter(|c| c.node == ROOT && c.subgroup.is_empty())
        .filter(|c| !c.domain.starts_with("national"))
        .filter(|c| c.ci_low.is_finite() && c.ci_high.is_finite())
        .map(|c| (c.domain.clone(), (c.n, (c.ci_high - c.ci_low) / 2.0)))
        .collect();
    Margins {
        computed_at: finished(),
        by_province,
        error: None,
    }
}

#[derive(Default)]
struct Entry {
    finished: Option<Instant>,
    margins: Option<Arc<Margins>>,
    running: bool,
}

/// The last margins per wave, and the single computation in flight for each.
#[derive(Default)]
pub struct PrecisionCache {
    waves: Mutex<HashMap<String, Entry>>,
}

/// What the monitoring page is given.
pub struct Latest {
    pub margins: Option<Arc<Margins>>,
    /// A computation is running (started now or earlier).
    pub running: bool,
}

impl PrecisionCache {
    /// The wave's last margins; starts a computation in the background when there are none or
    /// they are older than [`REFRESH`] and none is running. Never waits.
    pub fn latest(self: &Arc<Self>, store: Arc<dyn StaffStore>, wave_code: &str) -> Latest {
        let mut waves = self.waves.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = waves.entry(wave_code.to_owned()).or_default();
        let stale = entry.finished.is_none_or(|at| at.elapsed() >= REFRESH);
        if stale && !entry.running {
            entry.running = true;
            let cache = Arc::clone(self);
            let wave = wave_code.to_owned();
            tokio::spawn(async move {
                let margins = Arc::new(compute(store.as_ref(), &wave).await);
                let mut waves = cache.waves.lock().unwrap_or_else(PoisonError::into_inner);
                let entry = waves.entry(wave).or_default();
                entry.margins = Some(margins);
                entry.finished = Some(Instant::now());
                entry.running = false;
            });
        }
        Latest {
            margins: entry.margins.clone(),
            running: entry.running,
        }
    }
}
