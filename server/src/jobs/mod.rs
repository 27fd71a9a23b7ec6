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
/// - expired staff sessions are removed hourly, and so are the device hashes of codes that
///   can take no more answers (the quality review's device count; docs/architecture.md,
///   "Privacy");
/// - a computation whose server stopped renewing its lease (a restart, a crash, another
///   instance gone) is taken over by one of the servers, at start and every half lease: none
///   stays "running" ([`results::take_over_stalled`]);
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
            if let Err(err) = store
                .forget_stale_devices(&sipas_app::api::today_iso())
                .await
            {
                tracing::warn!(error = %err, "removing device hashes failed");
            }
        }
    });
    let (store, lease) = (state.staff.store.clone(), state.staff.lease.clone());
    tokio::spawn(async move {
        let mut every = tokio::time::interval((lease.duration / 2).max(Duration::from_millis(100)));
        loop {
            every.tick().await;
            // All the stalled ones, one claim at a time (each claim is won by one server).
            loop {
                match results::take_over_stalled(&store, &lease).await {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(err) => {
                        tracing::warn!(error = %err, "checking computations failed");
                        break;
                    }
                }
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
