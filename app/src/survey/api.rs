//! Server functions of the citizen survey: thin wrappers over `survey::service`.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::survey::questionnaire::{Answers, Questionnaire};
use crate::survey::response::{DraftSaved, Receipt, SubmitReply, SubmitRequest};

/// What the survey page needs for one code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SurveyLoad {
    Ready(Box<SurveyData>),
    /// The code already carries a response.
    Used,
    /// Mistyped or unknown.
    Unknown,
    /// The wave is not open for answers.
    Closed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurveyData {
    /// The code in canonical form.
    pub code: String,
    pub questionnaire: Questionnaire,
    /// The draft's answers, if the respondent has been here before.
    pub answers: Answers,
    /// The section to show: the one asked for if it can be shown, else where the draft stopped.
    /// Decided here, on the server, so the browser hydrates exactly the screen that was rendered
    /// (even from a copy the service worker kept for another address).
    pub step: u32,
    /// Problems to show on that section (after a form post that was incomplete).
    pub errors: Vec<crate::survey::questionnaire::FieldError>,
    pub started_at: String,
    /// The server draft's revision (0 without a draft): the page keeps the phone's draft instead
    /// when that one is newer (e.g. this page is a stale copy the service worker kept).
    pub revision: u64,
    /// Fresh for this page; the browser keeps it for the whole questionnaire.
    pub submission_id: String,
    pub province_name: String,
    pub wave_title: String,
    /// Came through the open link: not a probability sample.
    pub open_sample: bool,
}

#[server(prefix = "/api", endpoint = "survey/load")]
pub async fn load_survey(
    code: String,
    step: Option<u32>,
    check: bool,
) -> Result<SurveyLoad, AppError> {
    use crate::survey::flow;
    use crate::survey::service::{self, Entry};
    let store = crate::ports::store()?;
    let opened = match service::open(store.as_ref(), &code).await? {
        Entry::Found(opened) if opened.invitation.used => return Ok(SurveyLoad::Used),
        Entry::Found(opened) => opened,
        Entry::Unknown => return Ok(SurveyLoad::Unknown),
        Entry::Closed => return Ok(SurveyLoad::Closed),
    };
    let draft = store.draft(&opened.code_hash).await?;
    let answers = draft
        .as_ref()
        .map(|d| d.answers.clone())
        .unwrap_or_default();
    let wanted = step.or(draft.as_ref().map(|d| d.step)).map(|s| s as usize);
    let shown = flow::settle_step(&opened.questionnaire, &answers, wanted);
    let errors = if check {
        flow::section_errors(&opened.questionnaire, shown, &answers)
    } else {
        Vec::new()
    };
    let province = store
        .province(
            opened.invitation.sample.geography,
            &opened.invitation.sample.province_code,
        )
        .await?;
    Ok(SurveyLoad::Ready(Box::new(SurveyData {
        code: opened.code.as_str().to_owned(),
        open_sample: opened.invitation.kind == crate::domain::SampleKind::Open,
        answers,
        step: u32::try_from(shown).unwrap_or(0),
        errors,
        revision: draft.as_ref().map_or(0, |d| d.revision),
        started_at: draft.map(|d| d.started_at).unwrap_or_else(service::now),
        submission_id: service::new_submission_id()?,
        province_name: province.name_vi,
        wave_title: opened.wave.title,
        questionnaire: opened.questionnaire,
    })))
}

/// Keeps the answers so far on the server (the browser also keeps them on the phone), unless
/// the server already has this revision of the draft or a newer one (`Stale`).
#[server(prefix = "/api", endpoint = "survey/draft", input = Json)]
pub async fn save_draft(
    code: String,
    answers: Answers,
    step: u32,
    started_at: Option<String>,
    revision: u64,
) -> Result<DraftSaved, AppError> {
    let store = crate::ports::store()?;
    crate::survey::service::save_draft(
        store.as_ref(),
        &code,
        answers,
        step,
        started_at.as_deref(),
        revision,
        crate::survey::device::from_request().as_deref(),
    )
    .await
}

/// Submits a complete questionnaire. Safe to retry with the same submission id.
#[server(prefix = "/api", endpoint = "survey/submit", input = Json)]
pub async fn submit_survey(request: SubmitRequest) -> Result<SubmitReply, AppError> {
    let store = crate::ports::store()?;
    use crate::survey::response::Channel;
    let channel = if request.queued {
        Channel::Outbox
    } else {
        Channel::Online
    };
    let device = crate::survey::device::from_request();
    crate::survey::service::submit(store.as_ref(), &request, channel, device.as_deref()).await
}

#[server(prefix = "/api", endpoint = "survey/receipt")]
pub async fn find_receipt(number: String) -> Result<Receipt, AppError> {
    let store = crate::ports::store()?;
    Ok(store.response(number.trim()).await?.receipt)
}

/// A wave that accepts respondents through the open link, with the provinces to choose from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenWaveInfo {
    pub code: String,
    pub title: String,
    pub provinces: Vec<crate::domain::Province>,
}

#[server(prefix = "/api", endpoint = "survey/open")]
pub async fn open_wave(wave: String) -> Result<OpenWaveInfo, AppError> {
    let store = crate::ports::store()?;
    let wave = store.wave(&wave).await?;
    if !wave.open_link || wave.questionnaire.is_none() || wave.closed {
        return Err(AppError::NotFound);
    }
    Ok(OpenWaveInfo {
        provinces: store.provinces(wave.geography).await?,
        code: wave.code,
        title: wave.title,
    })
}
