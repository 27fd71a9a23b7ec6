//! The survey's server-side use cases, shared by the server functions (hydrated browser) and the
//! plain form posts (no JavaScript): open a code, keep a draft, submit.

use crate::domain::{Invitation, Wave};
use crate::error::AppError;
use crate::i18n::Locale;
use crate::ports::{Store, StoreError};
use crate::survey::codes::{InvitationCode, hash, hex, receipt_number, sha256_hex};
use crate::survey::device::device_hash;
use crate::survey::flow;
use crate::survey::questionnaire::{Answers, Questionnaire};
use crate::survey::response::{
    Channel, Draft, DraftSaved, NewResponse, StoreOutcome, SubmitReply, SubmitRequest,
    valid_submission_id,
};

/// A code that exists, with everything needed to show its questionnaire.
pub struct Opened {
    pub code: InvitationCode,
    pub code_hash: String,
    pub invitation: Invitation,
    pub wave: Wave,
    pub questionnaire: Questionnaire,
}

pub enum Entry {
    /// The code exists; `invitation.used` says whether it already carries a response.
    Found(Box<Opened>),
    /// Mistyped, or not one of ours.
    Unknown,
    /// The code's wave has no questionnaire (not open for answers).
    Closed,
}

pub async fn open(store: &dyn Store, raw_code: &str) -> Result<Entry, AppError> {
    let Ok(code) = InvitationCode::parse(raw_code) else {
        return Ok(Entry::Unknown);
    };
    let code_hash = hash(&code);
    let invitation = match store.invitation(&code_hash).await {
        Ok(invitation) => invitation,
        Err(StoreError::NotFound) => return Ok(Entry::Unknown),
        Err(err) => return Err(err.into()),
    };
    let wave = store.wave(&invitation.sample.wave_code).await?;
    let Some(reference) = wave.questionnaire.clone().filter(|_| !wave.closed) else {
        return Ok(Entry::Closed);
    };
    let questionnaire = store
        .questionnaire(&reference.code, reference.version)
        .await?;
    Ok(Entry::Found(Box::new(Opened {
        code,
        code_hash,
        invitation,
        wave,
        questionnaire,
    })))
}

/// Opens a code that must exist in an open wave (used or not).
async fn open_found(store: &dyn Store, raw_code: &str) -> Result<Box<Opened>, AppError> {
    match open(store, raw_code).await? {
        Entry::Found(opened) => Ok(opened),
        Entry::Unknown => Err(AppError::NotFound),
        Entry::Closed => Err(AppError::Invalid("this survey is not open".into())),
    }
}

/// Now, RFC 3339 UTC.
pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A client-supplied timestamp, kept only when it is well-formed and plausible: not in the
/// future (five minutes of clock skew allowed) and not more than a year ago (no wave lasts
/// longer; a phone with its clock reset to 1970 would otherwise say it took 56 years).
fn checked_time(value: Option<&str>) -> Option<String> {
    use time::format_description::well_known::Rfc3339;
    let parsed = time::OffsetDateTime::parse(value?, &Rfc3339).ok()?;
    let now = time::OffsetDateTime::now_utc();
    let plausible =
        parsed <= now + time::Duration::minutes(5) && parsed >= now - time::Duration::days(366);
    plausible.then(|| parsed.format(&Rfc3339).ok()).flatten()
}

/// Answers may name only the questionnaire's items: anything else comes from a tampered or
/// foreign request, and is refused with one short message (not stored, not silently dropped).
pub fn refuse_unknown_items(
    questionnaire: &Questionnaire,
    answers: &Answers,
) -> Result<(), AppError> {
    match answers
        .keys()
        .find(|code| questionnaire.item(code).is_none())
    {
        None => Ok(()),
        Some(code) => {
            let shown: String = code.chars().take(40).collect();
            Err(AppError::Invalid(format!("unknown question {shown:?}")))
        }
    }
}

fn random<const N: usize>() -> Result<[u8; N], AppError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|err| {
        tracing::error!(error = %err, "random generator failed");
        AppError::Unavailable
    })?;
    Ok(bytes)
}

/// A fresh submission id for a page that renders the final form (128 random bits).
pub fn new_submission_id() -> Result<String, AppError> {
    Ok(hex(&random::<16>()?))
}

/// When the respondent started: kept from an earlier draft, else the (checked) time the page
/// was first rendered, else now.
pub fn start_time(earlier: Option<&Draft>, first_render: Option<&str>) -> String {
    match earlier {
        Some(draft) => draft.started_at.clone(),
        None => checked_time(first_render).unwrap_or_else(now),
    }
}

/// Keeps the answers so far (pruned of hidden items) and the step, for resuming later, if
/// `revision` is newer than the server's draft (the hydrated page counts its changes).
pub async fn save_draft(
    store: &dyn Store,
    raw_code: &str,
    answers: Answers,
    step: u32,
    started_at: Option<&str>,
    revision: u64,
    device: Option<&str>,
) -> Result<DraftSaved, AppError> {
    let opened = open_found(store, raw_code).await?;
    let earlier = store.draft(&opened.code_hash).await?;
    let started_at = start_time(earlier.as_ref(), started_at);
    keep_draft(store, &opened, answers, step, started_at, revision, device).await
}

/// The revision a change made on the server gets (a form post without JavaScript carries none):
/// one more than the draft it was merged into.
pub fn next_revision(earlier: Option<&Draft>) -> u64 {
    earlier.map_or(1, |draft| draft.revision.saturating_add(1))
}

/// `save_draft` for a code already opened (the form handler has it and the draft in hand; it
/// passes `next_revision` of that draft). `device` is the browser's device id
/// (`survey::device`), kept only hashed with the code.
pub async fn keep_draft(
    store: &dyn Store,
    opened: &Opened,
    mut answers: Answers,
    step: u32,
    started_at: String,
    revision: u64,
    device: Option<&str>,
) -> Result<DraftSaved, AppError> {
    if opened.invitation.used {
        return Err(AppError::Invalid("this code has already been used".into()));
    }
    opened.questionnaire.prune(&mut answers);
    answers.retain(|code, _| opened.questionnaire.item(code).is_some());
    let draft = Draft {
        answers,
        step,
        started_at,
        revision,
    };
    let device = device.map(|id| device_hash(&opened.code_hash, id));
    Ok(store
        .save_draft(&opened.code_hash, &draft, device.as_deref())
        .await?)
}

/// Validates and stores a complete response (see `Store::store_response` for retries and races).
pub async fn submit(
    store: &dyn Store,
    request: &SubmitRequest,
    channel: Channel,
    device: Option<&str>,
) -> Result<SubmitReply, AppError> {
    let opened = open_found(store, &request.code).await?;
    submit_opened(store, &opened, request, channel, device).await
}

/// `submit` for a code already opened.
pub async fn submit_opened(
    store: &dyn Store,
    opened: &Opened,
    request: &SubmitRequest,
    channel: Channel,
    device: Option<&str>,
) -> Result<SubmitReply, AppError> {
    if !valid_submission_id(&request.submission_id) {
        return Err(AppError::Invalid(
            "submission_id: 16 to 64 letters, digits or dashes".into(),
        ));
    }
    let questionnaire = &opened.questionnaire;
    refuse_unknown_items(questionnaire, &request.answers)?;
    let mut answers = request.answers.clone();
    questionnaire.prune(&mut answers);
    if let Some((step, errors)) = flow::first_incomplete(questionnaire, &answers) {
        return Ok(SubmitReply::Incomplete {
            step: u32::try_from(step).unwrap_or(0),
            errors,
        });
    }
    let started_at = match checked_time(request.started_at.as_deref()) {
        Some(time) => Some(time),
        None => store
            .draft(&opened.code_hash)
            .await?
            .map(|draft| draft.started_at),
    };
    let canonical = serde_json::to_string(&answers).map_err(|err| {
        tracing::error!(error = %err, "cannot encode answers");
        AppError::Unavailable
    })?;
    let content_hash = sha256_hex(canonical.as_bytes());
    let reference = opened
        .wave
        .questionnaire
        .clone()
        .ok_or(AppError::NotFound)?;
    let measures = super::quality::measures(questionnaire, &answers);
    let response = NewResponse {
        receipt: receipt_number(random::<8>()?),
        submission_id: request.submission_id.clone(),
        code_hash: opened.code_hash.clone(),
        questionnaire: reference,
        answers,
        content_hash,
        language: Locale::parse(&request.language)
            .unwrap_or_default()
            .code()
            .to_owned(),
        channel,
        started_at,
        measures,
        device: device.map(|id| device_hash(&opened.code_hash, id)),
    };
    match store.store_response(&response).await {
        Ok(StoreOutcome::Stored(receipt) | StoreOutcome::Repeated(receipt)) => {
            Ok(SubmitReply::Accepted(receipt))
        }
        Ok(StoreOutcome::CodeUsed) => Ok(SubmitReply::CodeUsed),
        Err(StoreError::NotFound) => Err(AppError::NotFound),
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_times_must_be_plausible() {
        let now = time::OffsetDateTime::now_utc();
        let format = |t: time::OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        };
        let an_hour_ago = format(now - time::Duration::hours(1));
        assert_eq!(checked_time(Some(&an_hour_ago)), Some(an_hour_ago.clone()));
        assert_eq!(checked_time(Some("1970-01-01T00:00:00Z")), None);
        assert_eq!(
            checked_time(Some(&format(now - time::Duration::days(400)))),
            None
        );
        assert_eq!(
            checked_time(Some(&format(now + time::Duration::hours(2)))),
            None
        );
        assert_eq!(checked_time(Some("yesterday")), None);
        assert_eq!(checked_time(None), None);
    }
}
