//! Work that runs beside the requests: the results computation a statistician starts
//! ([`results`], reading a wave through [`wave_totals`]) and the periodic upkeep [`start`]ed
//! with the application.

pub mod precision;
pub mod results;
pub mod wave_totals;

use std::time::Duration;

use crate::web::AppState;

/// One computation over a wave's responses at a time per server (a statistician's results, or
/// monitoring's provisional margins): each keeps both cores busy while it runs (the driver
/// reading pages beside the weighing), and the survey must stay responsive on a 2-core
/// machine. Whoever waits for it keeps waiting; nothing is dropped.
pub(crate) static ONE_COMPUTATION: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Starts the periodic jobs on the current Tokio runtime; they run as long as it does.
/// - expired staff sessions are removed hourly;
/// - a computation whose job stopped saying it is alive (this server restarted, or another
///   instance died) is marked failed, at start and every half minute: none stays "running";
/// - idle clients are forgotten every minute, so the rate limiters' tables stay small.
pub fn start(state: &AppState) {
    let store = state.staff.store.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(3600));
        loop {
            every.tick().await;
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            if let Err(err) = store.sessions_expire(now).await {
                tracing::warn!(error = %err, "removing expired sessions failed");
            }
        }
    });
    let store = state.staff.store.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(30));
        loop {
            every.tick().await;
            let silent_since = time::OffsetDateTime::now_utc().unix_timestamp()
                - results::STALLED_AFTER.as_secs() as i64;
            match store.fail_stalled_computations(silent_since).await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(n, "computations stopped by a restart marked failed"),
                Err(err) => tracing::warn!(error = %err, "checking computations failed"),
            }
        }
    });
    let limits = state.limits.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            limits.forget_idle_clients();
        }
    });
}
