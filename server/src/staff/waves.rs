//! Waves (list, create, close) and questionnaire versions (view, publish, compare).

use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use sipas_app::domain::Wave;
use sipas_app::ports::StoreError;
use sipas_app::staff::Action;
use sipas_app::staff::pages::{self, WaveForm};
use sipas_app::staff::port::AuditAction;

use super::auth::Staff;
use super::error::{StaffError, StaffResult};
use super::guard::{Allowed, InWave, can};
use super::html;
use crate::services::waves::{self, WaveError};
use crate::web::AppState;
use sipas_app::api::today_iso;

pub async fn list(State(state): State<AppState>, staff: Staff) -> StaffResult {
    if staff.user.may(Action::ManageAccounts) && !staff.user.may(Action::Monitor) {
        // An account administrator's start page is the accounts list.
        return Ok(Redirect::to("/staff/users").into_response());
    }
    if staff.user.may(Action::DoFieldwork) {
        // A field worker's start page is their assignments.
        return Ok(Redirect::to("/staff/field").into_response());
    }
    if staff.user.role == sipas_app::staff::Role::Researcher {
        return super::research::home(&super::guard::Researcher::of(&state, staff).await?);
    }
    if !staff.user.may(Action::Monitor) {
        return Err(StaffError::Forbidden);
    }
    let waves = state.staff.store.wave_list().await?;
    Ok(html(
        StatusCode::OK,
        pages::waves(
            &staff.ctx,
            waves,
            &today_iso(),
            staff.user.may(Action::ManageWaves),
        ),
    ))
}

pub async fn new_form(
    State(state): State<AppState>,
    staff: Allowed<can::ManageWaves>,
) -> StaffResult {
    let versions = state.staff.store.questionnaire_versions().await?;
    let form = WaveForm {
        year: time::OffsetDateTime::now_utc().year().to_string(),
        geography: "2025".into(),
        ..WaveForm::default()
    };
    Ok(html(
        StatusCode::OK,
        pages::wave_new(&staff.ctx, form, versions, Vec::new()),
    ))
}

pub async fn create(
    State(state): State<AppState>,
    staff: Allowed<can::ManageWaves>,
    Form(form): Form<WaveForm>,
) -> StaffResult {
    let store = state.staff.store.as_ref();
    let entry = |wave: &Wave| {
        staff.entry(
            AuditAction::WaveCreated,
            Some(&wave.code),
            None,
            format!("{} ({})", wave.title, wave.year),
        )
    };
    let (status, errors) = match waves::create(store, &form, false, entry).await {
        Ok(wave) => {
            return Ok(Redirect::to(&format!("/staff/waves/{}", wave.code)).into_response());
        }
        Err(WaveError::Invalid(errors)) => (StatusCode::BAD_REQUEST, errors),
        Err(WaveError::Exists(message)) => (
            StatusCode::CONFLICT,
            vec![("code".into(), message.pick(staff.ctx.locale).to_owned())],
        ),
        Err(WaveError::Store(err)) => return Err(err.into()),
    };
    let versions = store.questionnaire_versions().await?;
    Ok(html(
        status,
        pages::wave_new(&staff.ctx, form, versions, errors),
    ))
}

pub async fn show(State(state): State<AppState>, wave: InWave<can::Monitor>) -> StaffResult {
    let frame = wave.frame(&state).await?;
    Ok(html(
        StatusCode::OK,
        pages::wave_page(
            &wave.ctx,
            wave.wave.clone(),
            frame,
            &today_iso(),
            Vec::new(),
        ),
    ))
}

pub async fn close(
    State(state): State<AppState>,
    wave: InWave<can::ManageWaves>,
    Form(form): Form<super::Confirm>,
) -> StaffResult {
    let code = wave.code().to_owned();
    if !form.confirmed() {
        return Ok(Redirect::to(&format!("/staff/waves/{code}")).into_response());
    }
    let audit = wave.entry(AuditAction::WaveClosed, Some(&code), None, String::new());
    state.staff.store.close_wave(&code, &audit).await?;
    Ok(Redirect::to(&format!("/staff/waves/{code}")).into_response())
}

pub async fn questionnaires(
    State(state): State<AppState>,
    staff: Allowed<can::Monitor>,
) -> StaffResult {
    let versions = state.staff.store.questionnaire_versions().await?;
    Ok(html(
        StatusCode::OK,
        pages::questionnaires(
            &staff.ctx,
            versions,
            staff.user.may(Action::ManageWaves),
            Vec::new(),
        ),
    ))
}

/// Publishes a questionnaire version from an uploaded TOML file.
pub async fn publish(
    State(state): State<AppState>,
    staff: Allowed<can::ManageWaves>,
    multipart: Multipart,
) -> StaffResult {
    let store = &state.staff.store;
    let locale = staff.ctx.locale;
    let errors = match super::upload::read(multipart).await {
        Err(message) => vec![message.pick(locale).to_owned()],
        Ok(upload) => match std::str::from_utf8(&upload.bytes) {
            Err(_) => vec![
                staff
                    .ctx
                    .t(
                        "Tệp không phải văn bản UTF-8.",
                        "The file is not UTF-8 text.",
                    )
                    .to_owned(),
            ],
            Ok(text) => match crate::services::questionnaires::parse(text) {
                Err(message) => vec![message.pick(locale).to_owned()],
                Ok(questionnaire) => {
                    let entry = staff.entry(
                        AuditAction::QuestionnairePublished,
                        None,
                        None,
                        format!("{} v{}", questionnaire.code, questionnaire.version),
                    );
                    match store.publish_questionnaire(&questionnaire, &entry).await {
                        Ok(_) => {
                            return Ok(Redirect::to(&format!(
                                // The code is the file's: encoded, it cannot break the header
                                // or lead elsewhere.
                                "/staff/questionnaires/{}/{}",
                                sipas_app::url::url_part(&questionnaire.code),
                                questionnaire.version
                            ))
                            .into_response());
                        }
                        Err(StoreError::Conflict(message)) => {
                            vec![message.pick(staff.ctx.locale).to_owned()]
                        }
                        Err(err) => return Err(err.into()),
                    }
                }
            },
        },
    };
    let versions = store.questionnaire_versions().await?;
    Ok(html(
        StatusCode::BAD_REQUEST,
        pages::questionnaires(&staff.ctx, versions, true, errors),
    ))
}

pub async fn questionnaire(
    State(state): State<AppState>,
    staff: Allowed<can::Monitor>,
    Path((code, version)): Path<(String, u32)>,
) -> StaffResult {
    let q = state.store.questionnaire(&code, version).await?;
    Ok(html(StatusCode::OK, pages::questionnaire(&staff.ctx, q)))
}

#[derive(Deserialize)]
pub struct DiffQuery {
    from: String,
    to: String,
}

pub async fn diff(
    State(state): State<AppState>,
    staff: Allowed<can::Monitor>,
    Query(query): Query<DiffQuery>,
) -> StaffResult {
    let parse = |text: &str| {
        text.split_once('@')
            .and_then(|(code, version)| Some((code.to_owned(), version.parse::<u32>().ok()?)))
    };
    let (Some((from_code, from_version)), Some((to_code, to_version))) =
        (parse(&query.from), parse(&query.to))
    else {
        return Err(StaffError::NotFound);
    };
    let from = state.store.questionnaire(&from_code, from_version).await?;
    let to = state.store.questionnaire(&to_code, to_version).await?;
    Ok(html(
        StatusCode::OK,
        pages::questionnaire_diff(&staff.ctx, &from, &to),
    ))
}
