//! The storage port: everything the application needs from a database, and nothing about how.
//!
//! The server crate provides the adapters (SQLite and PostgreSQL) and puts an `Arc<dyn Store>`
//! into the Leptos context; server functions reach it through [`store`].

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{
    CrosswalkLink, Geography, Invitation, Province, SampleKind, SamplePoint, Wave,
};
use crate::error::AppError;
use crate::survey::questionnaire::Questionnaire;
use crate::survey::response::{Draft, DraftSaved, NewResponse, StoreOutcome, StoredResponse};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness or consistency rule was broken; the message is safe to show, in both
    /// languages.
    #[error("{0}")]
    Conflict(crate::i18n::Text),
    /// Stored data broke a rule of ours, or a resource failed; for the server log only.
    #[error("database error: {0}")]
    Backend(String),
    /// The database driver failed: its error kept whole, so the log has the cause chain (and a
    /// caller can still ask the driver's error what it was).
    #[error("database error: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which engine this is (`sqlite` or `postgres`), for logs and the health endpoint.
    fn engine(&self) -> &'static str;

    /// Cheap round trip to the database, for readiness checks.
    async fn ping(&self) -> StoreResult<()>;

    /// The provincial units of one geography, ordered by code.
    async fn provinces(&self, geography: Geography) -> StoreResult<Vec<Province>>;

    /// The communes, wards and special zones of the 2025 map, ordered by province then code.
    async fn communes(&self) -> StoreResult<Vec<crate::domain::Commune>>;

    /// The provincial units in force on an ISO date (`YYYY-MM-DD`), ordered by code.
    async fn provinces_on(&self, iso_date: &str) -> StoreResult<Vec<Province>>;

    /// One unit, identified by geography and code.
    async fn province(&self, geography: Geography, code: &str) -> StoreResult<Province>;

    /// The whole 2004→2025 crosswalk, ordered by old code.
    async fn crosswalk(&self) -> StoreResult<Vec<CrosswalkLink>>;

    async fn wave(&self, code: &str) -> StoreResult<Wave>;

    /// All waves, newest year first.
    async fn waves(&self) -> StoreResult<Vec<Wave>>;

    async fn questionnaire(&self, code: &str, version: u32) -> StoreResult<Questionnaire>;

    /// Stores a batch of invitation code hashes for one sample point, all or none.
    async fn add_invitations(
        &self,
        sample: &SamplePoint,
        kind: SampleKind,
        batch: &str,
        code_hashes: &[String],
    ) -> StoreResult<()>;

    /// How many codes of a kind a wave has handed out since an RFC 3339 time (the open link's
    /// hourly cap).
    async fn codes_issued_since(
        &self,
        wave_code: &str,
        kind: SampleKind,
        since: &str,
    ) -> StoreResult<u64>;

    /// The invitation with this code hash.
    async fn invitation(&self, code_hash: &str) -> StoreResult<Invitation>;

    /// The draft kept for a code, if any.
    async fn draft(&self, code_hash: &str) -> StoreResult<Option<Draft>>;

    /// Creates or replaces the draft of a code (the code must exist and be unused, else
    /// `NotFound`), but only with a newer revision: a draft whose revision is not greater than
    /// the stored one is refused as `Stale`, in one conditional statement (no read-then-write
    /// race), so a stale page can never overwrite newer answers. `device` (a
    /// `survey::device::device_hash`) is counted for the code even when the draft is stale.
    async fn save_draft(
        &self,
        code_hash: &str,
        draft: &Draft,
        device: Option<&str>,
    ) -> StoreResult<DraftSaved>;

    /// Stores a response and marks its code used, in one transaction: of any number of
    /// concurrent submissions with one code exactly one is stored. A retry of a stored
    /// submission (same id, same content) gets the same receipt; anything else on a used code
    /// is `CodeUsed`. An unknown code is `NotFound`.
    async fn store_response(&self, response: &NewResponse) -> StoreResult<StoreOutcome>;

    /// Every response of a wave, in the order they were submitted.
    async fn responses(&self, wave_code: &str) -> StoreResult<Vec<StoredResponse>>;

    /// A stored response by its receipt number.
    async fn response(&self, receipt_number: &str) -> StoreResult<StoredResponse>;
}

/// The store from the Leptos context, for server functions.
pub fn store() -> Result<Arc<dyn Store>, AppError> {
    leptos::prelude::use_context::<Arc<dyn Store>>().ok_or_else(|| {
        tracing::error!("no Store in the Leptos context");
        AppError::Unavailable
    })
}
