//! Waves (list, create, close) and questionnaire versions (view, publish, compare).

use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use sipas_app::domain::{Geography, QuestionnaireRef, Wave};
use sipas_app::ports::StoreError;
use sipas_app::staff::Action;
use sipas_app::staff::pages::{self, WaveForm};
use sipas_app::staff::port::WaveSchedule;

use super::auth::Staff;
use super::error::{StaffError, StaffResult};
use super::guard::{Allowed, InWave, can};
use super::html;
use crate::web::AppState;
use sipas_app::api::today_iso;

pub async fn list(State(state): State<AppState>, staff: Staff) -> StaffResult {
    if staff.user.may(Action::ManageAccounts) && !staff.user.may(Action::Monitor) {
        // An account administrator's start page is the accounts list.
        return Ok(Redirect::to("/staff/users").into_response());
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

/// Codes that name a fixed route where a wave's code would stand (`/staff/waves/new` is the
/// creation form): a wave cannot take them.
pub const RESERVED_WAVE_CODES: [&str; 1] = ["new"];

fn valid_wave_code(code: &str) -> bool {
    (3..=40).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn valid_date(text: &str) -> bool {
    time::Date::parse(
        text,
        &time::macros::format_description!("[year]-[month]-[day]"),
    )
    .is_ok()
}

/// Checks the wave form; errors are (field, message) pairs shown beside the fields.
fn check_wave_form(
    form: &WaveForm,
    versions: &[(String, u32)],
) -> Result<(Wave, WaveSchedule), Vec<(String, String)>> {
    let mut errors = Vec::new();
    let mut error =
        |field: &str, message: &str| errors.push((field.to_owned(), message.to_owned()));
    let code = form.code.trim().to_owned();
    if !valid_wave_code(&code) {
        error(
            "code",
            "3 to 40 lower-case letters, digits or dashes / 3–40 chữ thường, chữ số hoặc gạch ngang",
        );
    } else if RESERVED_WAVE_CODES.contains(&code.as_str()) {
        error(
            "code",
            "this code names a page of the workspace: choose another / mã này trùng tên một trang: chọn mã khác",
        );
    }
    let title = form.title.trim().to_owned();
    if title.is_empty() || title.chars().count() > 200 {
        error(
            "title",
            "a title of 1 to 200 characters / tên từ 1 đến 200 ký tự",
        );
    }
    let year = form
        .year
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|y| (2000..=2100).contains(y));
    if year.is_none() {
        error("year", "a year from 2000 to 2100 / năm từ 2000 đến 2100");
    }
    let geography = Geography::parse(form.geography.trim()).unwrap_or(Geography::G2025);
    let questionnaire = form
        .questionnaire
        .split_once('@')
        .and_then(|(code, version)| Some((code.to_owned(), version.parse::<u32>().ok()?)))
        .filter(|chosen| versions.contains(chosen));
    if questionnaire.is_none() {
        error(
            "questionnaire",
            "choose a published questionnaire version / chọn một phiên bản bảng hỏi đã đăng",
        );
    }
    let date = |text: &str| Some(text.trim().to_owned()).filter(|t| !t.is_empty());
    let opens_on = date(&form.opens_on);
    let closes_on = date(&form.closes_on);
    for (field, value) in [("opens_on", &opens_on), ("closes_on", &closes_on)] {
        if value.as_deref().is_some_and(|d| !valid_date(d)) {
            error(field, "a date YYYY-MM-DD / ngày dạng YYYY-MM-DD");
        }
    }
    if let (Some(open), Some(close)) = (&opens_on, &closes_on)
        && close < open
    {
        error(
            "closes_on",
            "the closing date is before the opening date / ngày đóng trước ngày mở",
        );
    }
    let methodology_version = date(&form.methodology_version).map(|m| m.chars().take(40).collect());
    if !errors.is_empty() {
        return Err(errors);
    }
    let (Some(year), Some((q_code, q_version))) = (year, questionnaire) else {
        return Err(errors);
    };
    Ok((
        Wave {
            code,
            title,
            year,
            geography,
            questionnaire: Some(QuestionnaireRef {
                code: q_code,
                version: q_version,
            }),
            open_link: false,
            closed: false,
        },
        WaveSchedule {
            opens_on,
            closes_on,
            closed_at: None,
            methodology_version,
        },
    ))
}

pub async fn create(
    State(state): State<AppState>,
    staff: Allowed<can::ManageWaves>,
    Form(form): Form<WaveForm>,
) -> StaffResult {
    let store = &state.staff.store;
    let versions = store.questionnaire_versions().await?;
    let (wave, schedule) = match check_wave_form(&form, &versions) {
        Ok(checked) => checked,
        Err(errors) => {
            return Ok(html(
                StatusCode::BAD_REQUEST,
                pages::wave_new(&staff.ctx, form, versions, errors),
            ));
        }
    };
    let audit = staff.entry(
        "wave_created",
        Some(&wave.code),
        None,
        format!("{} ({})", wave.title, wave.year),
    );
    match store.create_wave_scheduled(&wave, &schedule, &audit).await {
        Ok(()) => Ok(Redirect::to(&format!("/staff/waves/{}", wave.code)).into_response()),
        Err(StoreError::Conflict(message)) => Ok(html(
            StatusCode::CONFLICT,
            pages::wave_new(&staff.ctx, form, versions, vec![("code".into(), message)]),
        )),
        Err(err) => Err(err.into()),
    }
}

pub async fn show(State(state): State<AppState>, wave: InWave<can::Monitor>) -> StaffResult {
    let frame = state
        .staff
        .store
        .frame(wave.code(), wave.province.as_deref())
        .await?;
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

#[derive(Deserialize)]
pub struct Confirm {
    #[serde(default)]
    confirm: String,
}

pub async fn close(
    State(state): State<AppState>,
    wave: InWave<can::ManageWaves>,
    Form(form): Form<Confirm>,
) -> StaffResult {
    let code = wave.code().to_owned();
    if form.confirm != "yes" {
        return Ok(Redirect::to(&format!("/staff/waves/{code}")).into_response());
    }
    let audit = wave.entry("wave_closed", Some(&code), None, String::new());
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
    let errors = match super::upload::read(multipart).await {
        Err(message) => vec![message],
        Ok(upload) => match std::str::from_utf8(&upload.bytes) {
            Err(_) => vec!["the file is not UTF-8 text".to_owned()],
            Ok(text) => match crate::services::questionnaires::parse(text) {
                Err(message) => vec![message],
                Ok(questionnaire) => {
                    match state.store.publish_questionnaire(&questionnaire).await {
                        Ok(()) => {
                            staff
                                .audit(
                                    &state.staff,
                                    "questionnaire_published",
                                    None,
                                    None,
                                    format!("{} v{}", questionnaire.code, questionnaire.version),
                                )
                                .await;
                            return Ok(Redirect::to(&format!(
                                "/staff/questionnaires/{}/{}",
                                questionnaire.code, questionnaire.version
                            ))
                            .into_response());
                        }
                        Err(StoreError::Conflict(message)) => vec![message],
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
