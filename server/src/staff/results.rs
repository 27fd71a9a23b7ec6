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
use sipas_app::api::today_iso;
use sipas_app::i18n::Text;
use sipas_app::staff::Action;
use sipas_app::staff::pages;
use sipas_app::staff::port::{AuditAction, AuditEntry};
use sipas_app::staff::release::NewRelease;
use sipas_app::staff::results_pages::{self, Permitted};
use sipas_app::staff::review::ComputationStatus;
use sipas_stats::methodology::Methodology;

use super::auth::Staff;
use super::error::{StaffError, StaffResult};
use super::guard::{Allowed, InWave, Researcher, can};
use super::html;
use crate::web::AppState;

/// Comments and changelog notes: what fits on a screen.
const MAX_TEXT: usize = 4000;
/// A methodology file is a few kilobytes; anything far larger is not one.
const MAX_METHODOLOGY_BYTES: usize = 64 * 1024;
/// Population totals: a few rows per province and margin.
const MAX_POPULATION_BYTES: usize = 1024 * 1024;

fn to_computation(id: i64) -> Response {
    Redirect::to(&format!("/staff/computations/{id}")).into_response()
}

/// The audit entry of a step on a computation.
fn step(staff: &Staff, id: i64, action: AuditAction) -> AuditEntry {
    staff.entry(action, None, None, format!("lần tính {id}"))
}

pub async fn list(State(state): State<AppState>, wave: InWave<can::ReadResults>) -> StaffResult {
    let store = &state.staff.store;
    let computations = store.computations(wave.code()).await?;
    let releases = store.releases().await?;
    Ok(html(
        StatusCode::OK,
        results_pages::results_page(
            &wave.ctx,
            &wave.wave,
            computations,
            releases,
            crate::services::questionnaires::SIPAS_2023_METHODOLOGY,
        ),
    ))
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
    wave: InWave<can::ComputeResults>,
    Form(form): Form<StartForm>,
) -> StaffResult {
    let ctx = &wave.ctx;
    if form.methodology.len() > MAX_METHODOLOGY_BYTES {
        return Err(StaffError::Invalid(
            ctx.t(
                "Tệp phương pháp quá lớn (tối đa 64 KB).",
                "The methodology is too large (64 KB at most).",
            )
            .to_owned(),
        ));
    }
    // A methodology or population that does not parse is refused here, with its message, not
    // in the job.
    let methodology = Methodology::from_toml(&form.methodology)
        .map_err(|err| StaffError::Invalid(err.to_string()))?;
    let population = match (methodology.calibration.is_some(), form.population.trim()) {
        (false, _) => None,
        (true, "") => {
            return Err(StaffError::Invalid(
                ctx.t(
                    "Phương pháp này hiệu chỉnh theo tổng thể: nhập số liệu dân số (CSV: province,margin,category,total).",
                    "This methodology calibrates to the population: give its totals (CSV: province,margin,category,total).",
                )
                .to_owned(),
            ));
        }
        (true, text) => {
            if text.len() > MAX_POPULATION_BYTES {
                return Err(StaffError::Invalid(
                    "population totals: 1 MB at most".into(),
                ));
            }
            sipas_stats::calibration::Population::from_csv(text.as_bytes())
                .map_err(|err| StaffError::Invalid(format!("population totals: {err}")))?;
            Some(text.to_owned())
        }
    };
    let code = wave.code().to_owned();
    let audit = |id: &i64| {
        wave.entry(
            AuditAction::ComputationStarted,
            Some(&code),
            None,
            format!("lần tính {id}"),
        )
    };
    let id = crate::jobs::results::start(
        state.staff.store.clone(),
        state.staff.lease.clone(),
        wave.wave.wave.clone(),
        form.methodology,
        population,
        wave.user.id,
        &audit,
    )
    .await?;
    Ok(to_computation(id))
}

#[derive(Deserialize)]
pub struct ShowQuery {
    domain: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    staff: Allowed<can::ReadResults>,
    Path(id): Path<i64>,
    Query(query): Query<ShowQuery>,
) -> StaffResult {
    let store = &state.staff.store;
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
    let names: HashMap<String, String> =
        provinces.into_iter().map(|p| (p.code, p.name_vi)).collect();
    let wording = match &wave.wave.questionnaire {
        Some(q) => {
            crate::services::questionnaires::wording(
                state.store.as_ref(),
                &q.code,
                i32::try_from(q.version).unwrap_or(0),
                &computation.methodology,
            )
            .await
        }
        None => Default::default(),
    };
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
        wave_open: still_collecting(&wave),
    };
    // Only domains of this draft are shown (the parameter is matched, never echoed raw).
    let domain = query
        .domain
        .filter(|d| computation.cells.iter().any(|c| &c.domain == d));
    Ok(html(
        StatusCode::OK,
        results_pages::computation_page(
            &staff.ctx,
            &wave,
            computation,
            comments,
            (names, wording),
            domain,
            permitted,
        ),
    ))
}

#[derive(Deserialize)]
pub struct TextForm {
    body: String,
}

fn checked_text(staff: &Staff, text: &str) -> StaffResult<String> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_TEXT {
        return Err(StaffError::Invalid(
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
    staff: Allowed<can::ReadResults>,
    Path(id): Path<i64>,
    Form(form): Form<TextForm>,
) -> StaffResult {
    let body = checked_text(&staff, &form.body)?;
    let store = &state.staff.store;
    if store.computation(id).await?.summary.status == ComputationStatus::Published {
        return Err(StaffError::Conflict(Text::new(
            "Lần tính đã công bố không nhận thêm nhận xét.",
            "A published computation takes no more comments.",
        )));
    }
    store
        .add_comment(
            id,
            staff.user.id,
            &body,
            &step(&staff, id, AuditAction::ComputationCommented),
        )
        .await?;
    Ok(to_computation(id))
}

pub async fn submit(
    State(state): State<AppState>,
    staff: Allowed<can::ComputeResults>,
    Path(id): Path<i64>,
) -> StaffResult {
    // A published index rests on reviewed responses: a draft that counted flagged responses
    // nobody had decided on goes back to the review queue first (then computed again).
    let store = &state.staff.store;
    let computation = store.computation(id).await?;
    let quality = &computation.report.quality;
    if store.last_decision(&computation.summary.wave_code).await? != quality.last_decision {
        return Err(StaffError::Conflict(Text::new(
            "Đã có quyết định rà soát mới sau khi bản nháp này được tính: tính lại rồi trình.",
            "Review decisions were recorded after this draft was computed: compute again, then submit.",
        )));
    }
    let awaiting = quality.awaiting_review();
    if awaiting > 0 {
        return Err(StaffError::Conflict(Text::new(
            format!(
                "Bản nháp này tính cả {awaiting} phiếu bị đánh dấu chưa được rà soát: rà soát chúng (trang Rà soát chất lượng phiếu) rồi tính lại trước khi trình."
            ),
            format!(
                "This draft counts {awaiting} flagged responses nobody has reviewed: review them (Quality review page), then compute again before submitting."
            ),
        )));
    }
    state
        .staff
        .store
        .submit_computation(
            id,
            staff.user.id,
            &step(&staff, id, AuditAction::ComputationSubmitted),
        )
        .await?;
    Ok(to_computation(id))
}

pub async fn approve(
    State(state): State<AppState>,
    staff: Allowed<can::ApproveResults>,
    Path(id): Path<i64>,
    Form(form): Form<super::Confirm>,
) -> StaffResult {
    let c = state.staff.store.computation(id).await?;
    // Asked first only when it can be done; a refusal is said at once (by the store).
    let approvable = c.summary.status == ComputationStatus::Submitted
        && c.summary.started_by_id != staff.user.id;
    if approvable && !form.confirmed() {
        let ctx = &staff.ctx;
        return Ok(html(
            StatusCode::OK,
            pages::confirm_page(
                ctx,
                pages::Confirmation {
                    title: format!(
                        "{} #{id} ({})?",
                        ctx.t("Phê duyệt kết quả", "Approve results"),
                        c.summary.wave_code
                    ),
                    consequences: vec![
                        ctx.t(
                            "Bạn xác nhận đã đọc các bảng, trọng số và cảnh báo của bản nháp này.",
                            "You confirm you have read this draft's tables, weights and warnings.",
                        )
                        .to_owned(),
                        ctx.t(
                            "Sau khi phê duyệt, bản nháp có thể được công bố; muốn sửa thì phải trả lại và tính lại.",
                            "Once approved, the draft can be published; to change it, return it and compute again.",
                        )
                        .to_owned(),
                    ],
                    action: format!("/staff/computations/{id}/approve"),
                    fields: Vec::new(),
                    new_password: false,
                    // An approved draft can still be returned (the approval stays in the log).
                    irreversible: false,
                    button: ctx.t("Phê duyệt", "Approve").to_owned(),
                    back: format!("/staff/computations/{id}"),
                },
            ),
        ));
    }
    state
        .staff
        .store
        .approve_computation(
            id,
            staff.user.id,
            &step(&staff, id, AuditAction::ComputationApproved),
        )
        .await?;
    Ok(to_computation(id))
}

pub async fn return_draft(
    State(state): State<AppState>,
    staff: Allowed<can::ApproveResults>,
    Path(id): Path<i64>,
    Form(form): Form<TextForm>,
) -> StaffResult {
    let body = checked_text(&staff, &form.body)?;
    // The reason stays with the draft (embargoed): the audit log, which administrators read,
    // records only the step.
    state
        .staff
        .store
        .return_computation(
            id,
            staff.user.id,
            &body,
            &step(&staff, id, AuditAction::ComputationReturned),
        )
        .await?;
    Ok(to_computation(id))
}

#[derive(Deserialize)]
pub struct PublishForm {
    title: String,
    #[serde(default)]
    changelog: String,
    #[serde(default)]
    confirm: String,
    /// Publishing while the wave still collects, acknowledged.
    #[serde(default)]
    open_ack: String,
}

/// Whether a wave is still collecting: not closed by hand nor past its closing date (the
/// store's `closed`, which also stops its codes).
fn still_collecting(wave: &sipas_app::staff::port::WaveDetails) -> bool {
    !wave.wave.closed
}

pub async fn publish(
    State(state): State<AppState>,
    staff: Allowed<can::ApproveResults>,
    Path(id): Path<i64>,
    Form(form): Form<PublishForm>,
) -> StaffResult {
    if form.confirm != "yes" {
        return Ok(to_computation(id));
    }
    let title = form.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(StaffError::Invalid(
            staff
                .ctx
                .t(
                    "Tên bản công bố phải có từ 1 đến 200 ký tự.",
                    "The release title must be 1 to 200 characters.",
                )
                .to_owned(),
        ));
    }
    if form.changelog.chars().count() > MAX_TEXT {
        checked_text(&staff, &form.changelog)?;
    }
    let store = &state.staff.store;
    let c = store.computation(id).await?;
    let wave = store.wave_details(&c.summary.wave_code).await?;
    let (totals, aggregates) = store.computation_totals(id).await?;
    let (Some(approved_by), ComputationStatus::Approved) =
        (c.summary.approved_by.clone(), c.summary.status)
    else {
        return Err(StaffError::Conflict(Text::new(
            "Chỉ công bố được bản nháp đã phê duyệt.",
            "Only an approved draft can be published.",
        )));
    };
    let Some(questionnaire) = wave.wave.questionnaire.clone() else {
        return Err(StaffError::Conflict(Text::new(
            "Đợt này chưa có phiên bản bảng hỏi.",
            "The wave has no questionnaire version.",
        )));
    };
    // A draft computed before aggregates were kept has none: compute it again.
    let Some(aggregates) = aggregates.filter(|a| !a.is_empty()) else {
        return Err(StaffError::Conflict(Text::new(
            "Bản nháp này được tính trước khi bản công bố lưu các tổng công khai: hãy tính lại.",
            "This draft was computed before releases kept their public aggregates: compute it \
             again.",
        )));
    };
    // Published before the wave closed: only when acknowledged, and the release says so.
    let mut changelog = form.changelog.trim().to_owned();
    if still_collecting(&wave) {
        if form.open_ack != "yes" {
            return Err(StaffError::Conflict(Text::new(
                "Đợt này vẫn đang thu thập: hãy đánh dấu ô xác nhận công bố khi đợt chưa đóng, hoặc đóng đợt trước.",
                "This wave is still collecting: tick the box to publish before it closes, or close the wave first.",
            )));
        }
        // In Vietnamese, like the note the Ministry writes itself (a release has one note).
        let note = format!(
            "Công bố ngày {} khi đợt {} còn đang thu thập; phiếu đến sau không có trong bản này.",
            sipas_app::staff::pages::day(sipas_app::i18n::Locale::Vi, Some(&today_iso()), ("", "")),
            wave.wave.code,
        );
        changelog = if changelog.is_empty() {
            note
        } else {
            format!("{changelog}\n\n{note}")
        };
    }
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
        changelog,
        cells: c.cells,
        compared_with: c.report.compared_with,
        totals,
        aggregates,
        computation: Some(id),
        left_out: c.report.quality.left_out.clone(),
    };
    let audit = |version: &i32| {
        staff.entry(
            AuditAction::ReleasePublished,
            Some(&release.wave_code),
            None,
            format!(
                "SIPAS {} v{version} từ lần tính {id}, dữ liệu đầu vào {}",
                release.year, release.input_digest
            ),
        )
    };
    store.publish_release(&release, &audit).await?;
    Ok(to_computation(id))
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
    staff: Allowed<can::DownloadFullTotals>,
    Path((year, version)): Path<(i32, String)>,
) -> StaffResult {
    let version =
        crate::services::open_data::version_number(&version).ok_or(StaffError::NotFound)?;
    // A researcher downloads what the approval names, until it expires, once the conditions of
    // use are accepted; the download is logged with the project.
    let project = if staff.user.role == sipas_app::staff::Role::Researcher {
        let researcher = Researcher::of(&state, staff.staff.clone()).await?;
        use sipas_app::staff::research::Refusal;
        let why = match researcher
            .access
            .allows(year, version, &sipas_app::api::today_iso())
        {
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
            return Ok(html(
                StatusCode::FORBIDDEN,
                pages::message(
                    &staff.ctx,
                    staff.ctx.t("Không có quyền", "Not allowed"),
                    why.to_owned(),
                ),
            ));
        }
        Some(format!(
            "dự án {} ({})",
            researcher.access.project, researcher.access.approval
        ))
    } else {
        None
    };
    let store = &state.staff.store;
    let totals = store
        .release_totals(year, version)
        .await?
        .filter(|t| !t.is_empty())
        .ok_or(StaffError::NotFound)?;
    let info = store
        .releases()
        .await?
        .into_iter()
        .find(|r| r.year == year && r.version == version)
        .ok_or(StaffError::NotFound)?;
    staff
        .audit_before_giving(
            &state.staff,
            AuditAction::ReleaseTotalsDownloaded,
            Some(&info.wave_code),
            None,
            match &project {
                Some(project) => format!("SIPAS {year} v{version}, tổng số liệu đầy đủ, {project}"),
                None => format!("SIPAS {year} v{version}, tổng số liệu đầy đủ"),
            },
        )
        .await?;
    Ok((
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
        .into_response())
}
