//! The JSON submission: the server function's body (`{"request": SubmitRequest}`) or a bare
//! `SubmitRequest` (what the outbox keeps), then the checks `service::submit` makes before it
//! asks the store, against the default questionnaire, without a database.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sipas_app::i18n::Locale;
use sipas_app::survey::api::SubmitSurvey;
use sipas_app::survey::codes::InvitationCode;
use sipas_app::survey::flow;
use sipas_app::survey::questionnaire::Questionnaire;
use sipas_app::survey::response::{SubmitRequest, valid_submission_id};

static QUESTIONNAIRE: LazyLock<Option<Questionnaire>> = LazyLock::new(|| {
    let q: Questionnaire =
        toml::from_str(include_str!("../../data/questionnaires/sipas-2023.toml")).ok()?;
    q.check().ok()?;
    Some(q)
});

/// Mirrors `service::submit_opened` up to the store call.
fn validate(q: &Questionnaire, request: &SubmitRequest) {
    let _ = InvitationCode::parse(&request.code);
    if !valid_submission_id(&request.submission_id) {
        return;
    }
    let mut answers = request.answers.clone();
    q.prune(&mut answers);
    if let Some((step, errors)) = flow::first_incomplete(q, &answers) {
        assert!(!errors.is_empty());
        assert!(step < q.sections.len());
        return;
    }
    assert!(serde_json::to_string(&answers).is_ok());
    let _ = Locale::parse(&request.language).unwrap_or_default().code();
}

fuzz_target!(|data: &[u8]| {
    let Some(q) = QUESTIONNAIRE.as_ref() else {
        panic!("the default questionnaire does not parse");
    };
    if let Ok(wrapped) = serde_json::from_slice::<SubmitSurvey>(data) {
        validate(q, &wrapped.request);
    }
    if let Ok(request) = serde_json::from_slice::<SubmitRequest>(data) {
        validate(q, &request);
    }
});
