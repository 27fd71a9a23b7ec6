//! Waves (list, create, close) and questionnaire versions (view, publish, compare).

use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sipas_app::domain::{Geography, QuestionnaireRef, Wave};
use sipas_app::ports::StoreError;
use sipas_app::staff::Action;
use sipas_app::staff::pages::{self, WaveForm};
use sipas_app::staff::port::WaveSchedule;

use super::auth::Staff;
use super::html;
use crate::http::AppState;
use sipas_app::api::today_iso;

/// A page for a store failure: 404 for a missing record, 409 for a conflict, else 503.
pub fn store_failure(staff: &Staff, err: StoreError) -> Response {
    let (status, title, text) = match &err {
        StoreError::NotFound => (
            StatusCode::NOT_FOUND,
            staff.ctx.t("Không tìm thấy", "Not found"),
            staff
                .ctx
                .t("Không có bản ghi này.", "There is no such record.")
                .to_owned(),
        ),
        StoreError::Conflict(message) => (
            StatusCode::CONFLICT,
            staff.ctx.t("Không thực hiện được", "Not done"),
            message.clone(),
        ),
        StoreError::Backend(_) => {
            tracing::error!(error = %err, "staff request failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                staff.ctx.t("Tạm thời gián đoạn", "Temporarily unavailable"),
                staff
                    .ctx
                    .t(
                        "Cơ sở dữ liệu không trả lời. Hãy thử lại.",
                        "The database did not answer. Please try again.",
                    )
                    .to_owned(),
            )
        }
    };
    html(status, pages::message(&staff.ctx, title, text))
}

pub async fn list(State(state): State<AppState>, staff: Staff) -> Response {
    if staff.user.may(sipas_app::staff::Action::ManageAccounts) && !staff.user.may(Action::Monitor)
    {
        // An account administrator's start page is the accounts list.
        return Redirect::to("/staff/users").into_response();
    }
    if staff.user.role == sipas_app::staff::Role::Researcher {
        return super::research::home(&state, &staff).await;
    }
    if let Err(refused) = staff.require(Action::Monitor) {
        return refused;
    }
    match state.staff.store.wave_list().await {
        Ok(waves) => html(
            StatusCode::OK,
            pages::waves(
                &staff.ctx,
                waves,
                &today_iso(),
                staff.user.may(Action::ManageWaves),
            ),
        ),
        Err(err) => store_failure(&staff, err),
    }
}

pub async fn new_form(State(state): State<AppState>, staff: Staff) -> Response {
    if let Err(refused) = staff.require(Action::ManageWaves) {
        return refused;
    }
    let versions = match state.staff.store.questionnaire_versions().await {
        Ok(v) => v,
        Err(err) => return store_failure(&staff, err),
    };
    let form = WaveForm {
        year: time::OffsetDateTime::now_utc().year().to_string(),
        geography: "2025".into(),
        ..WaveForm::default()
    };
    html(
        StatusCode::OK,
        pages::wave_new(&staff.ctx, form, versions, Vec::new()),
    )
}

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
    staff: Staff,
    Form(form): Form<WaveForm>,
) -> Response {
    if let Err(refused) = staff.require(Action::ManageWaves) {
        return refused;
    }
    let store = &state.staff.store;
    let versions = match store.questionnaire_versions().await {
        Ok(v) => v,
        Err(err) => return store_failure(&staff, err),
    };
    let (wave, schedule) = match check_wave_form(&form, &versions) {
        Ok(checked) => checked,
        Err(errors) => {
            return html(
                StatusCode::BAD_REQUEST,
                pages::wave_new(&staff.ctx, form, versions, errors),
            );
        }
    };
    match store.create_wave_scheduled(&wave, &schedule).await {
        Ok(()) => {
            staff
                .audit(
                    &state.staff,
                    "wave_created",
                    Some(&wave.code),
                    None,
                    format!("{} ({})", wave.title, wave.year),
                )
                .await;
            Redirect::to(&format!("/staff/waves/{}", wave.code)).into_response()
        }
        Err(StoreError::Conflict(message)) => html(
            StatusCode::CONFLICT,
            pages::wave_new(&staff.ctx, form, versions, vec![("code".into(), message)]),
        ),
        Err(err) => store_failure(&staff, err),
    }
}

pub async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Path(code): Path<String>,
) -> Response {
    if let Err(refused) = staff.require(Action::Monitor) {
        return refused;
    }
    let store = &state.staff.store;
    let details = match store.wave_details(&code).await {
        Ok(d) => d,
        Err(err) => return store_failure(&staff, err),
    };
    let province = match staff.province_filter(&details) {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let frame = match store.frame(&code, province.as_deref()).await {
        Ok(f) => f,
        Err(err) => return store_failure(&staff, err),
    };
    html(
        StatusCode::OK,
        pages::wave_page(&staff.ctx, details, frame, &today_iso(), Vec::new()),
    )
}

#[derive(Deserialize)]
pub struct Confirm {
    #[serde(default)]
    confirm: String,
}

pub async fn close(
    State(state): State<AppState>,
    staff: Staff,
    Path(code): Path<String>,
    Form(form): Form<Confirm>,
) -> Response {
    if let Err(refused) = staff.require(Action::ManageWaves) {
        return refused;
    }
    if form.confirm != "yes" {
        return Redirect::to(&format!("/staff/waves/{code}")).into_response();
    }
    match state.staff.store.close_wave(&code).await {
        Ok(()) => {
            staff
                .audit(
                    &state.staff,
                    "wave_closed",
                    Some(&code),
                    None,
                    String::new(),
                )
                .await;
            Redirect::to(&format!("/staff/waves/{code}")).into_response()
        }
        Err(err) => store_failure(&staff, err),
    }
}

pub async fn questionnaires(State(state): State<AppState>, staff: Staff) -> Response {
    if let Err(refused) = staff.require(Action::Monitor) {
        return refused;
    }
    match state.staff.store.questionnaire_versions().await {
        Ok(versions) => html(
            StatusCode::OK,
            pages::questionnaires(
                &staff.ctx,
                versions,
                staff.user.may(Action::ManageWaves),
                Vec::new(),
            ),
        ),
        Err(err) => store_failure(&staff, err),
    }
}

/// Publishes a questionnaire version from an uploaded TOML file.
pub async fn publish(
    State(state): State<AppState>,
    staff: Staff,
    multipart: Multipart,
) -> Response {
    if let Err(refused) = staff.require(Action::ManageWaves) {
        return refused;
    }
    let store = &state.staff.store;
    let errors = match super::upload::read(multipart).await {
        Err(message) => vec![message],
        Ok(upload) => match std::str::from_utf8(&upload.bytes) {
            Err(_) => vec!["the file is not UTF-8 text".to_owned()],
            Ok(text) => match crate::questionnaires::parse(text) {
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
                            return Redirect::to(&format!(
                                "/staff/questionnaires/{}/{}",
                                questionnaire.code, questionnaire.version
                            ))
                            .into_response();
                        }
                        Err(StoreError::Conflict(message)) => vec![message],
                        Err(err) => return store_failure(&staff, err),
                    }
                }
            },
        },
    };
    match store.questionnaire_versions().await {
        Ok(versions) => html(
            StatusCode::BAD_REQUEST,
            pages::questionnaires(&staff.ctx, versions, true, errors),
        ),
        Err(err) => store_failure(&staff, err),
    }
}

pub async fn questionnaire(
    State(state): State<AppState>,
    staff: Staff,
    Path((code, version)): Path<(String, u32)>,
) -> Response {
    if let Err(refused) = staff.require(Action::Monitor) {
        return refused;
    }
    match state.store.questionnaire(&code, version).await {
        Ok(q) => html(StatusCode::OK, pages::questionnaire(&staff.ctx, q)),
        Err(err) => store_failure(&staff, err),
    }
}

#[derive(Deserialize)]
pub struct DiffQuery {
    from: String,
    to: String,
}

pub async fn diff(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<DiffQuery>,
) -> Response {
    if let Err(refused) = staff.require(Action::Monitor) {
        return refused;
    }
    let parse = |text: &str| {
        text.split_once('@')
            .and_then(|(code, version)| Some((code.to_owned(), version.parse::<u32>().ok()?)))
    };
    let (Some((from_code, from_version)), Some((to_code, to_version))) =
        (parse(&query.from), parse(&query.to))
    else {
        return store_failure(&staff, StoreError::NotFound);
    };
    let from = state.store.questionnaire(&from_code, from_version).await;
    let to = state.store.questionnaire(&to_code, to_version).await;
    match (from, to) {
        (Ok(from), Ok(to)) => html(
            StatusCode::OK,
            pages::questionnaire_diff(&staff.ctx, &from, &to),
        ),
        (Err(err), _) | (_, Err(err)) => store_failure(&staff, err),
    }
}
