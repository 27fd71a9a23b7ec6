//! The public results site and its read-only JSON API.
//!
//! Pages: `/ket-qua` (the latest release), `/ket-qua/{year}` (the latest version of a year),
//! `/ket-qua/{year}/v{n}`, province pages under `…/tinh/{code}`, and `/phuong-phap`. API:
//! `/api/v1/releases`, `/api/v1/releases/{year}/{version}` and
//! `…/provinces/{code}` (`version`: a number or `latest`), described at `/api/v1/openapi.json`.
//!
//! A published release never changes, so every page and document is built once per process
//! (per language) and served from memory with an ETag and a Brotli copy; the list of releases
//! is re-read at most every [`INDEX_TTL`], and it is part of each cache key, so a new release
//! shows in the year menus within that time. Nothing is cached for an address that does not
//! exist, so unknown addresses cannot fill the memory.
//!
//! Modules: [`built`] (a response body built once: ETags, Brotli and gzip copies, conditional
//! answers), [`load`] (the releases behind the pages, cached), [`pages`], [`api`] and
//! [`open_data`] (the files of each release).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sipas_app::results::ReleaseData;
use sipas_app::staff::release::{PublishedElsewhere, ReleaseCell, ReleaseInfo};

pub mod api;
pub mod built;
pub mod load;
pub mod open_data;
pub mod pages;

pub use built::Built;

/// How long the list of releases is trusted before it is read again.
pub const INDEX_TTL: Duration = Duration::from_secs(10);

/// An old-map release's cells on today's map, by (year, version).
type MergedCells = HashMap<(i32, i32), Arc<Vec<ReleaseCell>>>;

/// What the site keeps in memory, per store (so two databases in one process never mix).
#[derive(Default)]
pub struct SiteCache {
    pub(crate) index: Mutex<Option<(Instant, Arc<Vec<ReleaseInfo>>)>>,
    pub(crate) releases: Mutex<HashMap<(i32, i32), Arc<ReleaseData>>>,
    /// Cells of an old-map release merged into today's units.
    pub(crate) merged: Mutex<MergedCells>,
    pub(crate) elsewhere: Mutex<Option<Arc<Vec<PublishedElsewhere>>>>,
    pub(crate) built: Mutex<HashMap<String, Arc<Built>>>,
    /// The open-data files ([`open_data`]).
    pub(crate) open_data: open_data::Cache,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind: keep serving.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Why an address has no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    NotFound,
    Unavailable,
    Internal,
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::NotFound => {
                (StatusCode::NOT_FOUND, "no such release, province or page\n").into_response()
            }
            Failure::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "5")],
                "the database did not answer; try again\n",
            )
                .into_response(),
            Failure::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be made\n",
            )
                .into_response(),
        }
    }
}

pub(crate) fn unavailable(err: impl std::fmt::Display) -> Failure {
    tracing::error!(error = %err, "public site: the database failed");
    Failure::Unavailable
}

pub(crate) fn not_found() -> Failure {
    Failure::NotFound
}
