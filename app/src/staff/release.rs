//! Published annual releases: immutable, versioned result sets.
//!
//! A release is written once with all its cells; a correction is a new version of the same
//! year with a changelog note, and earlier versions stay readable. The port below offers no way
//! to change or delete one, and the database refuses it too (triggers in migration 0008).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::Geography;
use crate::ports::StoreResult;

/// One published number (a node or item in a domain), rounded as published and with what is
/// derived recomputed from the rounded numbers (`sipas_stats::publish`). Undefined numbers are
/// `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseCell {
    pub domain: String,
    pub subgroup: String,
    pub node: String,
    pub n: Option<f64>,
    pub df: Option<f64>,
    pub estimate: Option<f64>,
    pub se: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub deff: Option<f64>,
    pub n_eff: Option<f64>,
    pub cv: Option<f64>,
    pub flag: String,
    pub note: String,
    pub rank: Option<i64>,
    pub rank_best: Option<i64>,
    pub rank_worst: Option<i64>,
    pub ranked_of: Option<i64>,
    pub tier: Option<String>,
    pub vs_national_difference: Option<f64>,
    pub vs_national_se: Option<f64>,
    pub vs_national_p: Option<f64>,
    /// Adjusted by Holm's method over the provinces tested for the node: the tier rests on it.
    #[serde(default)]
    pub vs_national_p_holm: Option<f64>,
    pub change: Option<f64>,
    pub change_se: Option<f64>,
    pub change_df: Option<f64>,
    pub change_p: Option<f64>,
    /// Adjusted by Holm's method over the provinces' changes of the node.
    #[serde(default)]
    pub change_p_holm: Option<f64>,
}

/// What a release records beside its cells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseInfo {
    pub year: i32,
    pub version: i32,
    pub wave_code: String,
    pub geography: Geography,
    pub title: String,
    /// The methodology TOML exactly as used.
    pub methodology: String,
    pub questionnaire_code: String,
    pub questionnaire_version: i32,
    /// SHA-256 over the sufficient statistics and weights the results rest on.
    pub input_digest: String,
    pub software_version: String,
    pub computed_by: String,
    pub approved_by: String,
    pub published_at: String,
    /// What changed and why (empty for version 1).
    pub changelog: String,
    pub cell_count: i64,
    /// The release the change columns compare with.
    pub compared_with: Option<ComparedWith>,
    /// Responses the quality review left out, per province and reason (none before the review
    /// existed; not written into `results.json` then, so older releases keep their bytes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<super::quality::LeftOut>,
}

/// The earlier release a release's change columns compare with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComparedWith {
    pub year: i32,
    pub version: i32,
    /// It was on the 63-province map and was merged into the 34 units first.
    pub reaggregated: bool,
}

/// A release to publish: the version is the next one for its year.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRelease {
    pub year: i32,
    pub wave_code: String,
    pub geography: Geography,
    pub title: String,
    pub methodology: String,
    pub questionnaire_code: String,
    pub questionnaire_version: i32,
    pub input_digest: String,
    pub software_version: String,
    pub computed_by: String,
    pub approved_by: String,
    pub changelog: String,
    pub cells: Vec<ReleaseCell>,
    /// The full totals file (`sipas-totals/1` JSON, per commune: accredited access only).
    pub totals: String,
    /// The public aggregates (`aggregates.csv`, per province and nation) the published cells
    /// are verified from.
    pub aggregates: String,
    pub compared_with: Option<ComparedWith>,
    /// The approved computation this publishes; it is marked published in the same
    /// transaction, and the release is refused unless it is approved.
    pub computation: Option<i64>,
    /// What the quality review left out (the draft's report).
    pub left_out: Vec<super::quality::LeftOut>,
}

/// A SIPAS figure published before this platform (the Ministry's announcement as reported):
/// a point estimate without uncertainty, with its source. Never mixed with computed releases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedElsewhere {
    pub year: i32,
    pub geography: Geography,
    /// `None` for the national figure.
    pub province_code: Option<String>,
    pub province_name: String,
    /// As published, in percent (81.0 = 81%).
    pub sipas_percent: f64,
    /// Rank among `ranked_of` provinces, when published.
    pub rank: Option<i64>,
    pub ranked_of: Option<i64>,
    pub note: String,
    pub source: String,
}

#[async_trait]
pub trait ReleaseStore: Send + Sync + 'static {
    /// The "published elsewhere" series, by year then province (the national figure first).
    async fn published_elsewhere(&self) -> StoreResult<Vec<PublishedElsewhere>>;
    /// Writes the release and all its cells in one transaction as the next version of its year
    /// and returns that version. Refused (`Conflict`, a message for the user) when the approver
    /// computed it (names compared without case), when a correction (version 2 on) has no
    /// changelog, or when someone else published that version a moment before.
    async fn publish_release(
        &self,
        release: &NewRelease,
        audit: &crate::staff::port::AuditOf<'_, i32>,
    ) -> StoreResult<i32>;
    /// Every version of every year, newest year first, versions in order.
    async fn releases(&self) -> StoreResult<Vec<ReleaseInfo>>;
    /// A version's totals file (empty when it was published without one).
    async fn release_totals(&self, year: i32, version: i32) -> StoreResult<Option<String>>;
    /// A version's public aggregates (`aggregates.csv`): `None` when there is no such release
    /// or it was published before aggregates were kept.
    async fn release_aggregates(&self, year: i32, version: i32) -> StoreResult<Option<String>>;
    /// One version (`None`: the latest of the year) with its cells.
    async fn release(
        &self,
        year: i32,
        version: Option<i32>,
    ) -> StoreResult<Option<(ReleaseInfo, Vec<ReleaseCell>)>>;
}
