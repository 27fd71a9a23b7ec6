//! Results: start a computation, review its draft, comment, submit, approve or return, publish.
//! Every handler checks its action on the server; the status changes are conditional in the
//! store, so a stale page or a replayed form cannot skip a step; four eyes are checked in the
//! store and by the database.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sipas_app::ports::StoreError;
use sipas_app::staff::Action;
use sipas_app::staff::pages;
use sipas_app::staff::release::NewRelease;
use sipas_app::staff::results_pages::{self, Permitted};
use sipas_app::staff::review::ComputationStatus;
use sipas_stats::methodology::Methodology;

use super::auth::Staff;
use super::html;
use super::waves::store_failure;
use crate::http::AppState;

/// Comments and changelog notes: what fits on a screen.
const MAX_TEXT: usize = 4000;
/// A methodology file is a few kilobytes; anything far larger is not one.
const MAX_METHODOLOGY_BYTES: usize = 64 * 1024;
/// Population totals: a few rows per province and margin.
const MAX_POPULATION_BYTES: usize = 1024 * 1024;

fn invalid(staff: &Staff, message: String) -> Response {
    html(
        StatusCode::UNPROCESSABLE_ENTITY,
        pages::message(&staff.ctx, staff.ctx.t("Chưa hợp lệ", "Not valid"), message),
    )
}

fn to_computation(id: i64) -> Response {
    Redirect::to(&format!("/staff/computations/{id}")).into_response()
}

/// After a step on a computation: audit it and go back to its page, or say why it was refused.
async fn step_done(
    state: &AppState,
    staff: &Staff,
    id: i64,
    action: &str,
    outcome: Result<(), StoreError>,
) -> Response {
    match outcome {
        Ok(()) => {
            staff
                .audit(
                    &state.staff,
                    action,
                    None,
                    None,
                    format!("computation {id}"),
                )
                .await;
            to_computation(id)
        }
        Err(err) => store_failure(staff, err),
    }
}

pub async fn list(
    State(state): State<AppState>,
    staff: Staff,
    Path(code): Path<String>,
) -> Response {
    if let Err(refused) = staff.require(Action::ReadResults) {
        return refused;
    }
    let store = &state.staff.store;
    let loaded = async {
        Ok::<_, StoreError>((
            store.wave_details(&code).await?,
            store.computations(&code).await?,
            store.releases().await?,
        ))
    }
    .await;
    match loaded {
        Ok((wave, computations, releases)) => html(
            StatusCode::OK,
            results_pages::results_page(
                &staff.ctx,
                &wave,
                computations,
                releases,
                crate::questionnaires::SIPAS_2023_METHODOLOGY,
            ),
        ),
        Err(err) => store_failure(&staff, err),
    }
}

#[derive(Deserialize)]
pub struct StartForm {
    methodology: String,
    /// Population totals for a methodology with `[calibration]` (CSV).
    #[serde(default)]
    population: String,
}

pub async fn start(
    State(state): State<AppState>,
    staff: Staff,
    Path(code): Path<String>,
    Form(form): Form<StartForm>,
) -> Response {
    if let Err(refused) = staff.require(Action::ComputeResults) {
        return refused;
    }
    if form.methodology.len() > MAX_METHODOLOGY_BYTES {
        return invalid(
            &staff,
            staff
                .ctx
                .t(
                    "Tệp phương pháp quá lớn (tối đa 64 KB).",
                    "The methodology is too large (64 KB at most).",
                )
                .to_owned(),
        );
    }
    // A methodology or population that does not parse is refused here, with its message, not
    // in the job.
    let methodology = match Methodology::from_toml(&form.methodology) {
        Ok(m) => m,
        Err(err) => return invalid(&staff, err.to_string()),
    };
    let population = match (methodology.calibration.is_some(), form.population.trim()) {
        (false, _) => None,
        (true, "") => {
            return invalid(
                &staff,
                staff
                    .ctx
                    .t(
                        "Phương pháp này hiệu chỉnh theo tổng thể: nhập số liệu dân số (CSV: province,margin,category,total).",
                        "This methodology calibrates to the population: give its totals (CSV: province,margin,category,total).",
                    )
                    .to_owned(),
            );
        }
        (true, text) => {
            if text.len() > MAX_POPULATION_BYTES {
                return invalid(&staff, "population totals: 1 MB at most".into());
            }
            if let Err(err) = sipas_stats::calibration::Population::from_csv(text.as_bytes()) {
                return invalid(&staff, format!("population totals: {err}"));
            }
            Some(text.to_owned())
        }
    };
    let wave = match state.staff.store.wave_details(&code).await {
        Ok(w) => w.wave,
        Err(err) => return store_failure(&staff, err),
    };
    match crate::drafts::start(
        state.staff.store.clone(),
        wave,
        form.methodology,
        population,
        staff.user.id,
    )
    .await
    {
        Ok(id) => {
            staff
                .audit(
                    &state.staff,
                    "computation_started",
                    Some(&code),
                    None,
                    format!("computation {id}"),
                )
                .await;
            to_computation(id)
        }
        Err(err) => store_failure(&staff, err),
    }
}

#[derive(Deserialize)]
pub struct ShowQuery {
    domain: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Query(query): Query<ShowQuery>,
) -> Response {
    if let Err(refused) = staff.require(Action::ReadResults) {
        return refused;
    }
    let store = &state.staff.store;
    let loaded = async {
        let computation = store.computation(id).await?;
        let wave = store.wave_details(&computation.summary.wave_code).await?;
        let comments = store.comments(id).await?;
        let provinces = state.store.provinces(wave.wave.geography).await?;
        let latest_version = store
            .releases()
            .await?
            .into_iter()
            .filter(|r| r.year == wave.wave.year)
            .map(|r| r.version)
            .max();
        Ok::<_, StoreError>((computation, wave, comments, provinces, latest_version))
    }
    .await;
    let (computation, wave, comments, provinces, latest_version) = match loaded {
        Ok(v) => v,
        Err(err) => return store_failure(&staff, err),
    };
    let names: HashMap<String, String> =
        provinces.into_iter().map(|p| (p.code, p.name_vi)).collect();
    let s = &computation.summary;
    let user = &staff.user;
    let permitted = Permitted {
        submit: s.status == ComputationStatus::Draft
            && user.may(Action::ComputeResults)
            && s.started_by_id == user.id,
        approve: s.status == ComputationStatus::Submitted
            && user.may(Action::ApproveResults)
            && s.started_by_id != user.id,
        publish: s.status == ComputationStatus::Approved && user.may(Action::ApproveResults),
        correction_of: latest_version,
    };
    // Only domains of this draft are shown (the parameter is matched, never echoed raw).
    let domain = query
        .domain
        .filter(|d| computation.cells.iter().any(|c| &c.domain == d));
    html(
        StatusCode::OK,
        results_pages::computation_page(
            &staff.ctx,
            &wave,
            computation,
            comments,
            names,
            domain,
            permitted,
        ),
    )
}

#[derive(Deserialize)]
pub struct TextForm {
    body: String,
}

fn checked_text(staff: &Staff, text: &str) -> Result<String, Response> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_TEXT {
        return Err(invalid(
            staff,
            staff
                .ctx
                .t(
                    "Nội dung phải có từ 1 đến 4.000 ký tự.",
                    "The text must be 1 to 4,000 characters.",
                )
                .to_owned(),
        ));
    }
    Ok(text.to_owned())
}

pub async fn comment(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<TextForm>,
) -> Response {
    if let Err(refused) = staff.require(Action::ReadResults) {
        return refused;
    }
    let body = match checked_text(&staff, &form.body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let store = &state.staff.store;
    match store.computation(id).await {
        Ok(c) if c.summary.status == ComputationStatus::Published => {
            return store_failure(
                &staff,
                StoreError::Conflict("a published computation takes no more comments".into()),
            );
        }
        Ok(_) => {}
        Err(err) => return store_failure(&staff, err),
    }
    let outcome = store.add_comment(id, staff.user.id, &body).await;
    step_done(&state, &staff, id, "computation_commented", outcome).await
}

pub async fn submit(State(state): State<AppState>, staff: Staff, Path(id): Path<i64>) -> Response {
    if let Err(refused) = staff.require(Action::ComputeResults) {
        return refused;
    }
    let outcome = state
        .staff
        .store
        .submit_computation(id, staff.user.id)
        .await;
    step_done(&state, &staff, id, "computation_submitted", outcome).await
}

pub async fn approve(State(state): State<AppState>, staff: Staff, Path(id): Path<i64>) -> Response {
    if let Err(refused) = staff.require(Action::ApproveResults) {
        return refused;
    }
    let outcome = state
        .staff
        .store
        .approve_computation(id, staff.user.id)
        .await;
    step_done(&state, &staff, id, "computation_approved", outcome).await
}

pub async fn return_draft(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<TextForm>,
) -> Response {
    if let Err(refused) = staff.require(Action::ApproveResults) {
        return refused;
    }
    let body = match checked_text(&staff, &form.body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    // The reason stays with the draft (embargoed): the audit log, which administrators read,
    // records only the step.
    let outcome = state
        .staff
        .store
        .return_computation(id, staff.user.id, &body)
        .await;
    step_done(&state, &staff, id, "computation_returned", outcome).await
}

#[derive(Deserialize)]
pub struct PublishForm {
    title: String,
    #[serde(default)]
    changelog: String,
    #[serde(default)]
    confirm: String,
}

pub async fn publish(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Form(form): Form<PublishForm>,
) -> Response {
    if let Err(refused) = staff.require(Action::ApproveResults) {
        return refused;
    }
    if form.confirm != "yes" {
        return to_computation(id);
    }
    let title = form.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return invalid(
            &staff,
            staff
                .ctx
                .t(
                    "Tên bản công bố phải có từ 1 đến 200 ký tự.",
                    "The release title must be 1 to 200 characters.",
                )
                .to_owned(),
        );
    }
    if form.changelog.chars().count() > MAX_TEXT {
        return checked_text(&staff, &form.changelog)
            .err()
            .unwrap_or_else(|| to_computation(id));
    }
    let store = &state.staff.store;
    let loaded = async {
        let c = store.computation(id).await?;
        let wave = store.wave_details(&c.summary.wave_code).await?;
        let totals = store.computation_totals(id).await?;
        Ok::<_, StoreError>((c, wave, totals))
    }
    .await;
    let (c, wave, (totals, aggregates)) = match loaded {
        Ok(v) => v,
        Err(err) => return store_failure(&staff, err),
    };
    let (Some(approved_by), ComputationStatus::Approved) =
        (c.summary.approved_by.clone(), c.summary.status)
    else {
        return store_failure(
            &staff,
            StoreError::Conflict("only an approved draft can be published".into()),
        );
    };
    let Some(questionnaire) = wave.wave.questionnaire.clone() else {
        return store_failure(
            &staff,
            StoreError::Conflict("the wave has no questionnaire version".into()),
        );
    };
    // A draft computed before aggregates were kept has none: compute it again.
    let Some(aggregates) = aggregates.filter(|a| !a.is_empty()) else {
        return store_failure(
            &staff,
            StoreError::Conflict(
                "this draft was computed before releases kept their public aggregates: compute \
                 it again"
                    .into(),
            ),
        );
    };
    let release = NewRelease {
        year: wave.wave.year,
        wave_code: wave.wave.code.clone(),
        geography: wave.wave.geography,
        title: title.to_owned(),
        methodology: c.methodology,
        questionnaire_code: questionnaire.code,
        questionnaire_version: i32::try_from(questionnaire.version).unwrap_or(i32::MAX),
        input_digest: c.input_digest.clone(),
        software_version: crate::SOFTWARE_VERSION.to_owned(),
        // Usernames: unique, so the release's own four-eyes CHECK compares people, not names
        // (display names repeat: many people are called Nguyễn Văn An).
        computed_by: c.summary.started_by.clone(),
        approved_by,
        changelog: form.changelog.trim().to_owned(),
        cells: c.cells,
        compared_with: c.report.compared_with,
        totals,
        aggregates,
        computation: Some(id),
    };
    match store.publish_release(&release).await {
        Ok(version) => {
            staff
                .audit(
                    &state.staff,
                    "release_published",
                    Some(&release.wave_code),
                    None,
                    format!(
                        "SIPAS {} v{version} from computation {id}, input {}",
                        release.year, release.input_digest
                    ),
                )
                .await;
            to_computation(id)
        }
        Err(err) => store_failure(&staff, err),
    }
}

/// `GET /staff/releases/{year}/v{n}/totals.json`: a release's full totals (every commune,
/// subgroups, item × item moments), its input digest's preimage, from which
/// `sipas compute --totals` recomputes every published number unrounded. They identify
/// respondents, so they are never public (docs/methodology.md, "Publication and public
/// verification"): for statisticians, and for accredited researchers the releases their
/// approval names until it expires, once they accepted the conditions of use; each download
/// in the audit log, a researcher's with the project.
pub async fn full_totals(
    State(state): State<AppState>,
    staff: Staff,
    Path((year, version)): Path<(i32, String)>,
) -> Response {
    if let Err(refused) = staff.require(Action::DownloadFullTotals) {
        return refused;
    }
    let Some(version) = crate::open_data::version_number(&version) else {
        return store_failure(&staff, StoreError::NotFound);
    };
    let project = if staff.user.role == sipas_app::staff::Role::Researcher {
        let access = match super::research::access(&state, &staff).await {
            Ok(a) => a,
            Err(refused) => return refused,
        };
        use sipas_app::staff::research::Refusal;
        let why = match access.allows(year, version, &sipas_app::api::today_iso()) {
            Ok(()) => None,
            Err(Refusal::ConditionsNotAccepted) => Some(staff.ctx.t(
                "Hãy chấp nhận điều kiện sử dụng trước (trang Điều kiện sử dụng).",
                "Accept the conditions of use first (the Conditions of use page).",
            )),
            Err(Refusal::Expired) => Some(staff.ctx.t(
                "Quyền truy cập của dự án đã hết hạn.",
                "The project's access has expired.",
            )),
            Err(Refusal::NotApproved) => Some(staff.ctx.t(
                "Bản công bố này không có trong phê duyệt của dự án.",
                "This release is not named in the project's approval.",
            )),
        };
        if let Some(why) = why {
            return super::html(
                axum::http::StatusCode::FORBIDDEN,
                sipas_app::staff::pages::message(
                    &staff.ctx,
                    staff.ctx.t("Không có quyền", "Not allowed"),
                    why.to_owned(),
                ),
            );
        }
        Some(format!("project: {} ({})", access.project, access.approval))
    } else {
        None
    };
    let store = &state.staff.store;
    let (info, totals) = match (
        store.releases().await,
        store.release_totals(year, version).await,
    ) {
        (Ok(releases), Ok(Some(totals))) if !totals.is_empty() => {
            match releases
                .into_iter()
                .find(|r| r.year == year && r.version == version)
            {
                Some(info) => (info, totals),
                None => return store_failure(&staff, StoreError::NotFound),
            }
        }
        (Err(err), _) | (_, Err(err)) => return store_failure(&staff, err),
        _ => return store_failure(&staff, StoreError::NotFound),
    };
    staff
        .audit(
            &state.staff,
            "release_totals_downloaded",
            Some(&info.wave_code),
            None,
            match &project {
                Some(project) => format!("SIPAS {year} v{version}, full totals, {project}"),
                None => format!("SIPAS {year} v{version}, full totals"),
            },
        )
        .await;
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/json".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"sipas-{year}-v{version}-full-totals.json\""),
            ),
            (axum::http::header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        totals,
    )
        .into_response()
}
