//! What a respondent hands in, and what the platform gives back.

use serde::{Deserialize, Serialize};

use crate::domain::{QuestionnaireRef, SampleKind, SamplePoint};
use crate::survey::questionnaire::{Answers, FieldError};

/// The answers so far for one code, kept on the server so a respondent can resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    pub answers: Answers,
    /// Index of the section the respondent was on.
    pub step: u32,
    /// When the respondent first opened the questionnaire (RFC 3339).
    pub started_at: String,
    /// Counts the changes: the phone increments it on every local change, the server (for a form
    /// post without JavaScript) stores the previous revision + 1. A save with a revision that is
    /// not newer than the stored one is refused, so a draft never goes backwards.
    pub revision: u64,
}

/// What the store did with a draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DraftSaved {
    /// Stored: it was newer than the draft kept before (or the first one).
    Saved,
    /// Refused: the server already keeps this revision or a newer one.
    Stale { current_revision: u64 },
}

/// How a response was collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// Self-completed in a browser.
    Web,
    /// Transcribed from a paper form.
    Paper,
}

impl Mode {
    pub fn key(self) -> &'static str {
        match self {
            Mode::Web => "web",
            Mode::Paper => "paper",
        }
    }
}

/// How a response reached the server: monitoring shows the shares, so the field team sees
/// how many phones ran without JavaScript or answered offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Channel {
    /// Sent by the page with JavaScript, while online.
    Online,
    /// A plain form post (no JavaScript).
    Form,
    /// Kept in the phone's outbox while offline and sent later.
    Outbox,
    /// Transcribed from a paper form.
    Paper,
}

impl Channel {
    pub fn key(self) -> &'static str {
        match self {
            Channel::Online => "online",
            Channel::Form => "form",
            Channel::Outbox => "outbox",
            Channel::Paper => "paper",
        }
    }

    pub fn mode(self) -> Mode {
        match self {
            Channel::Paper => Mode::Paper,
            _ => Mode::Web,
        }
    }
}

/// A complete, validated response, ready to be stored against its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewResponse {
    pub receipt: String,
    pub submission_id: String,
    pub code_hash: String,
    pub questionnaire: QuestionnaireRef,
    pub answers: Answers,
    /// Hex SHA-256 of the answers' canonical JSON: a retry must carry the same content.
    pub content_hash: String,
    /// `vi` or `en`.
    pub language: String,
    pub channel: Channel,
    pub started_at: Option<String>,
    /// What the quality checks measure (`super::quality`), taken from the questionnaire.
    #[cfg(feature = "ssr")]
    pub measures: sipas_stats::quality::Measures,
    /// The submitting browser (`survey::device::device_hash`), counted with those that saved
    /// drafts; `None` when it sent no device cookie.
    pub device: Option<String>,
}

/// Proof that a response was stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Short, quotable, unguessable: `ABCD-EFGH-JKMN`.
    pub number: String,
    /// RFC 3339, UTC.
    pub submitted_at: String,
}

/// A stored response as the statisticians see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    pub receipt: Receipt,
    pub sample: SamplePoint,
    pub kind: SampleKind,
    pub questionnaire: QuestionnaireRef,
    pub answers: Answers,
    pub language: String,
    pub mode: String,
    pub started_at: Option<String>,
}

/// What the store did with a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOutcome {
    /// The response is new and now stored.
    Stored(Receipt),
    /// The same submission (same id, same content) was stored before: the same receipt.
    Repeated(Receipt),
    /// The code already carries a different response.
    CodeUsed,
}

/// What a browser sends to submit (JSON; also what the offline outbox keeps).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitRequest {
    /// The invitation code as printed or typed.
    pub code: String,
    /// Made once per questionnaire by the browser; retries carry the same id.
    pub submission_id: String,
    pub answers: Answers,
    pub language: String,
    pub started_at: Option<String>,
    /// Set by the outbox when it sends a submission queued offline (monitoring only).
    #[serde(default)]
    pub queued: bool,
}

/// The server's answer to a submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SubmitReply {
    Accepted(Receipt),
    /// The code was used by another submission: nothing was stored.
    CodeUsed,
    /// Some answers are missing or invalid; `step` is the first section to fix.
    Incomplete {
        step: u32,
        errors: Vec<FieldError>,
    },
}

/// A submission id is made by the browser: 16 to 64 letters, digits or dashes.
pub fn valid_submission_id(id: &str) -> bool {
    (16..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submission_ids() {
        assert!(valid_submission_id("0123456789abcdef"));
        assert!(valid_submission_id("3f2a9c1e-77aa-4b1c-9d0e-1234567890ab"));
        assert!(!valid_submission_id("short"));
        assert!(!valid_submission_id("0123456789abcdef<script>"));
        assert!(!valid_submission_id(&"a".repeat(65)));
    }
}
