//! Quality review of single responses: the queue of flagged responses, a reviewer's decisions
//! (approve or exclude, with a reason; a newer decision reverses an older one) and what the
//! indices left out. The checks themselves are `sipas_stats::quality`.

use serde::{Deserialize, Serialize};
use sipas_stats::quality::{Checked, Flag, Measures, QualityThresholds, flags};

/// A reviewer's decision on one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Counts in the indices, flagged or not.
    Approved,
    /// Never counts.
    Excluded,
}

impl Decision {
    pub fn key(self) -> &'static str {
        match self {
            Decision::Approved => "approved",
            Decision::Excluded => "excluded",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        match key {
            "approved" => Some(Decision::Approved),
            "excluded" => Some(Decision::Excluded),
            _ => None,
        }
    }

    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Decision::Approved => ("Chấp thuận", "Approved"),
            Decision::Excluded => ("Loại", "Excluded"),
        }
    }
}

/// Why a reviewer decided: a flag's key, or one of these.
pub const OTHER_REASONS: [&str; 2] = ["checked", "other"];

/// Whether `reason` may go with `decision`: an approval says the response was checked; an
/// exclusion names the flag it was excluded for, or `other` (with a note).
pub fn fits(decision: Decision, reason: &str) -> bool {
    match decision {
        Decision::Approved => reason == "checked",
        Decision::Excluded => Flag::parse(reason).is_some() || reason == "other",
    }
}

/// A reason in words: (Vietnamese, English).
pub fn reason_label(key: &str) -> (&'static str, &'static str) {
    match key {
        "speeding" => ("Trả lời quá nhanh", "Answered too fast"),
        "straight_lining" => (
            "Cùng một câu trả lời cho nhiều câu liên tiếp",
            "The same answer on many items in a row",
        ),
        "many_no_answers" => ("Quá nhiều câu không trả lời", "Too many items not answered"),
        "duplicate" => (
            "Trùng câu trả lời với phiếu khác cùng xã",
            "The same answers as another response of the commune",
        ),
        "many_devices" => (
            "Mã được trả lời từ nhiều thiết bị",
            "The code was answered from many devices",
        ),
        "checked" => ("Đã kiểm tra, hợp lệ", "Checked: genuine"),
        "awaiting_review" => ("Bị đánh dấu, chưa rà soát", "Flagged, not yet reviewed"),
        _ => ("Lý do khác", "Other reason"),
    }
}

/// A decision to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDecision {
    pub decision: Decision,
    /// [`is_reason`].
    pub reason: String,
    /// The reviewer's words (required with `other`).
    pub note: String,
    pub by: i64,
}

/// One response in the review queue: flagged under the thresholds, or decided on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueRow {
    pub export_id: String,
    pub province_code: String,
    pub psu: String,
    pub channel: String,
    pub submitted_on: String,
    pub duration_secs: Option<i64>,
    pub measures: Measures,
    pub duplicate: bool,
    /// Browsers the code was answered from; `None` on paper or before devices were counted.
    pub devices: Option<i64>,
    pub review: Option<Decision>,
    pub review_reason: Option<String>,
}

impl QueueRow {
    /// The flags it raises under `thresholds` (the same rules the database counts with).
    pub fn flags(&self, thresholds: &QualityThresholds) -> Vec<Flag> {
        flags(
            &Checked {
                measures: self.measures,
                duration_secs: self.duration_secs,
                duplicate: self.duplicate,
                devices: self.devices,
            },
            thresholds,
        )
    }

    /// Whether it counts in the indices: unless a reviewer excluded it. (A flagged response
    /// nobody has decided on counts, and holds back the draft's submission.)
    pub fn counts(&self) -> bool {
        self.review != Some(Decision::Excluded)
    }

    /// Flagged and not decided on.
    pub fn awaits_review(&self, thresholds: &QualityThresholds) -> bool {
        self.review.is_none() && !self.flags(thresholds).is_empty()
    }
}

/// One past decision, newest last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastDecision {
    pub decision: Decision,
    pub reason: String,
    pub note: String,
    pub by: String,
    pub at: String,
}

/// A response under review: its row, its answers and every decision on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewedResponse {
    pub row: QueueRow,
    pub answers: std::collections::BTreeMap<String, i64>,
    pub history: Vec<PastDecision>,
}

/// Probability-sample responses of a province the review touched: excluded (with the
/// reviewer's reason), or flagged with no decision yet (`awaiting_review`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftOut {
    pub province: String,
    pub reason: String,
    pub count: i64,
}

/// What a draft says about the quality review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct QualityReport {
    pub thresholds: QualityThresholds,
    /// Excluded by a reviewer, per province and reason: left out of the indices.
    pub left_out: Vec<LeftOut>,
    /// Flagged under the thresholds, no decision yet, per province: counted, and the draft
    /// cannot be submitted while there are any.
    #[serde(default)]
    pub awaiting: Vec<LeftOut>,
    /// The latest review decision when the draft was computed: a newer one at submission
    /// means the draft no longer describes what the reviewers decided.
    #[serde(default)]
    pub last_decision: i64,
}

impl QualityReport {
    /// Splits a store's summary ([`LeftOut`] rows, `awaiting_review` among the reasons).
    pub fn new(thresholds: QualityThresholds, summary: Vec<LeftOut>, last_decision: i64) -> Self {
        let (awaiting, left_out) = summary
            .into_iter()
            .partition(|l| l.reason == "awaiting_review");
        Self {
            thresholds,
            left_out,
            awaiting,
            last_decision,
        }
    }

    pub fn excluded(&self) -> i64 {
        self.left_out.iter().map(|l| l.count).sum()
    }

    pub fn awaiting_review(&self) -> i64 {
        self.awaiting.iter().map(|l| l.count).sum()
    }
}
