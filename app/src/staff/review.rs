//! Results before publication: a computation of a wave runs as a background job and becomes a
//! draft; the statistician who computed it submits it, a second person with the approving role
//! approves it (four eyes), and the approved draft is published as a release
//! ([`super::release`]). Every step is in the audit log.
//!
//! ```text
//! running ──► draft ──submit──► submitted ──approve──► approved ──publish──► published
//!    │          ▲                   │                     │
//!    ▼          └──────return───────┴─────────────────────┘
//! failed
//! ```

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::port::AuditEntry;
use super::release::ReleaseCell;
use crate::ports::StoreResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ComputationStatus {
    Running,
    Failed,
    Draft,
    Submitted,
    Approved,
    Published,
}

impl ComputationStatus {
    pub const ALL: [ComputationStatus; 6] = [
        Self::Running,
        Self::Failed,
        Self::Draft,
        Self::Submitted,
        Self::Approved,
        Self::Published,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Failed => "failed",
            Self::Draft => "draft",
            Self::Submitted => "submitted",
            Self::Approved => "approved",
            Self::Published => "published",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.key() == key)
    }

    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Self::Running => ("Đang tính", "Computing"),
            Self::Failed => ("Thất bại", "Failed"),
            Self::Draft => ("Bản nháp", "Draft"),
            Self::Submitted => ("Chờ phê duyệt", "Awaiting approval"),
            Self::Approved => ("Đã phê duyệt", "Approved"),
            Self::Published => ("Đã công bố", "Published"),
        }
    }
}

/// A computation as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComputationSummary {
    pub id: i64,
    pub wave_code: String,
    pub status: ComputationStatus,
    /// Responses read, of `progress_total`.
    pub progress_done: i64,
    pub progress_total: i64,
    pub started_by_id: i64,
    pub started_by: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Why it failed.
    pub error: String,
    pub submitted_at: Option<String>,
    pub approved_by: Option<String>,
    pub approved_at: Option<String>,
    /// The release it became: year and version.
    pub release: Option<(i32, i32)>,
}

/// A computation with its draft results.
#[derive(Debug, Clone, PartialEq)]
pub struct Computation {
    pub summary: ComputationSummary,
    /// The methodology TOML exactly as used.
    pub methodology: String,
    /// SHA-256 of the totals file the results rest on.
    pub input_digest: String,
    pub cells: Vec<ReleaseCell>,
    pub report: DraftReport,
}

/// What a finished job stores.
#[derive(Debug, Clone, PartialEq)]
pub struct DraftData {
    pub input_digest: String,
    pub cells: Vec<ReleaseCell>,
    /// The totals file (`sipas-totals/1` JSON): kept with the release (every number rests on
    /// it; its SHA-256 is the input digest).
    pub totals: String,
    /// The public aggregates (`aggregates.csv`: per province and nation, no commune, no
    /// subgroup) the published cells are verified from.
    pub aggregates: String,
    pub report: DraftReport,
}

/// The weights report and warnings of a draft.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DraftReport {
    pub weights: Vec<ProvinceWeights>,
    pub warnings: Vec<Warning>,
    /// The release the change columns compare with, if any.
    pub compared_with: Option<super::release::ComparedWith>,
    /// The quality review's thresholds and the responses it left out.
    #[serde(default)]
    pub quality: super::quality::QualityReport,
}

/// The weights of one province's respondents, step by step: design weights d_h = N_h / n_h,
/// then the nonresponse adjustment of each weighting class (the weights from the frame), then
/// `[trimming]` and `[calibration]` when the methodology has them. Each step's Kish design
/// effect of weighting, n Σw² / (Σw)², says what it cost in precision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvinceWeights {
    pub province: String,
    pub respondents: i64,
    /// The frame's target completes.
    pub target: i64,
    /// Kish's design effect of the design weights alone.
    #[serde(default)]
    pub kish_design: f64,
    /// Kish's design effect of the weights from the frame (after the nonresponse adjustment).
    pub kish_deff: f64,
    /// Min, median and max of the weights from the frame.
    pub min: f64,
    pub median: f64,
    pub max: f64,
    /// Kish's design effect after `[trimming]`.
    #[serde(default)]
    pub kish_trimmed: Option<f64>,
    /// Kish's design effect after `[calibration]`, and the range of its adjustments g = w / w₀.
    #[serde(default)]
    pub kish_calibrated: Option<f64>,
    #[serde(default)]
    pub g_range: Option<(f64, f64)>,
    /// Weighting classes that join strata too small alone (`a+b`).
    #[serde(default)]
    pub joined_classes: Vec<String>,
    /// Strata whose class's adjustment `[nonresponse] max_factor` held down.
    #[serde(default)]
    pub capped_strata: Vec<String>,
    /// Drawn communes (or strata of a frame file, alone in their weighting class) with a
    /// target and no completes: the adults they stand for are carried by no respondent.
    #[serde(default)]
    pub unanswered: Vec<String>,
}

/// Something a reviewer should look at before approving.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Warning {
    /// Fewer completes than the frame's target.
    UnderTarget {
        province: String,
        completes: i64,
        target: i64,
    },
    /// The largest weight is this many times the median (above the report's threshold).
    ExtremeWeights { province: String, ratio: f64 },
    /// `[nonresponse] max_factor` held these strata's adjustment down: the province's weights
    /// were scaled to its population, and its nonresponse is only partly corrected.
    CappedClasses { province: String, strata: String },
    /// Calibration moved weights a long way (some g below 0.2 or above 5, or Kish's deff after
    /// calibration above 2): the sample is far from the population's margins.
    StrongCalibration {
        province: String,
        g_low: f64,
        g_high: f64,
        kish: f64,
    },
    /// Communes (or strata) with a target and no completes: their adults are carried by no
    /// respondent, so the province's weights add up to less than its adults.
    Unrepresented { province: String, units: String },
    /// Cells withheld or to be reviewed under the reliability rule.
    Flagged { suppressed: usize, review: usize },
    /// No earlier release to compare with: the change columns are empty.
    NoPreviousRelease,
    /// Flagged responses no reviewer has decided on: left out of this draft.
    AwaitingReview { count: i64 },
    /// The earlier release could not be compared with (e.g. its totals lack an item of this
    /// methodology): the change columns are empty.
    NotComparable { release: String, reason: String },
    /// The public totals (open data) are withheld for this draft: why.
    TotalsWithheld { reason: String },
    /// Against a version of this year already published, these communes changed by 1 to 4
    /// respondents: subtracting the two versions' results tables would show how those few
    /// answered. Better to wait for more forms, or to publish anyway knowingly.
    SmallChange { release: String, communes: String },
}

/// A computation taken over from a server that stopped: what the job needs to run again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedComputation {
    pub id: i64,
    pub wave_code: String,
    pub methodology: String,
    pub population: Option<String>,
    /// Including this one.
    pub attempts: i64,
}

/// A reviewer's remark on a draft.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub author: String,
    pub at: String,
    pub body: String,
}

#[async_trait]
pub trait ReviewStore: Send + Sync + 'static {
    /// Records a running computation, leased to `holder` (the server process that will run
    /// it), and returns its id.
    #[allow(clippy::too_many_arguments)]
    async fn start_computation(
        &self,
        wave_code: &str,
        methodology: &str,
        population: Option<&str>,
        started_by: i64,
        holder: &str,
        now_unix: i64,
        audit: &super::port::AuditOf<'_, i64>,
    ) -> StoreResult<i64>;
    /// The job is alive and has read `done` of `total` responses: renews `holder`'s lease.
    /// `false`: the lease is no longer `holder`'s (another server took the job over, or it
    /// ended), and the job must stop.
    async fn computation_heartbeat(
        &self,
        id: i64,
        holder: &str,
        done: i64,
        total: i64,
        now_unix: i64,
    ) -> StoreResult<bool>;
    /// Stores the job's outcome: a draft, or the reason it failed. Only a running job, by the
    /// holder of its lease, can end.
    async fn finish_computation(
        &self,
        id: i64,
        holder: &str,
        outcome: Result<&DraftData, &str>,
    ) -> StoreResult<()>;
    /// Takes over, for `holder`, one running job of another holder that has not renewed its
    /// lease since `silent_since` (its server stopped): one claimant wins, whatever the number
    /// of servers. A job already tried `max_attempts` times is marked failed instead. A
    /// holder's own jobs are left alone (it is still running them).
    async fn claim_stalled_computation(
        &self,
        holder: &str,
        silent_since_unix: i64,
        now_unix: i64,
        max_attempts: i64,
    ) -> StoreResult<Option<ClaimedComputation>>;
    /// How many computations there are in each status (all waves), for the metrics.
    async fn computation_counts(&self) -> StoreResult<Vec<(String, i64)>>;
    /// The wave's computations, newest first.
    async fn computations(&self, wave_code: &str) -> StoreResult<Vec<ComputationSummary>>;
    async fn computation(&self, id: i64) -> StoreResult<Computation>;
    /// The methodology of the wave's latest computation that did not fail, if any (without
    /// reading its draft).
    async fn latest_methodology(&self, wave_code: &str) -> StoreResult<Option<String>>;
    /// The draft's full totals file and its public aggregates (`None` for a draft computed
    /// before aggregates were kept).
    async fn computation_totals(&self, id: i64) -> StoreResult<(String, Option<String>)>;
    async fn comments(&self, id: i64) -> StoreResult<Vec<Comment>>;
    async fn add_comment(
        &self,
        id: i64,
        author_id: i64,
        body: &str,
        audit: &AuditEntry,
    ) -> StoreResult<()>;
    /// Draft → submitted, by the statistician who computed it only (`Conflict` otherwise).
    async fn submit_computation(&self, id: i64, by: i64, audit: &AuditEntry) -> StoreResult<()>;
    /// Submitted or approved → draft again, with the reviewer's reason as a comment (one
    /// transaction: never returned without its reason).
    async fn return_computation(
        &self,
        id: i64,
        by: i64,
        reason: &str,
        audit: &AuditEntry,
    ) -> StoreResult<()>;
    /// Submitted → approved, by someone other than who computed it, and only while no later
    /// computation of the wave has finished (`Conflict` otherwise).
    async fn approve_computation(&self, id: i64, by: i64, audit: &AuditEntry) -> StoreResult<()>;
}
