//! The quality review (`/staff/waves/{wave}/quality`): the queue of flagged responses under the
//! thresholds of the built-in methodology's `[quality]`, one response's answers and decisions,
//! and a reviewer's decision (approve or exclude, with a reason; audit-logged; a newer decision
//! reverses an older one). Central staff and statisticians only (`Action::ReviewResponses`).

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use sipas_app::i18n::Text;
use sipas_app::staff::pages;
use sipas_app::staff::port::AuditAction;
use sipas_app::staff::quality::{Decision, NewDecision, QueueRow, is_reason};
use sipas_stats::methodology::Methodology;
use sipas_stats::quality::QualityThresholds;

use super::error::{StaffError, StaffResult};
use super::guard::{InWave, can};
use super::html;
use crate::web::AppState;

/// Rows the queue shows at once (undecided first).
const QUEUE_ROWS: u32 = 500;
/// A reviewer's note: a sentence or two.
const MAX_NOTE: usize = 1_000;

/// The thresholds the queue flags with: the built-in methodology's (the file a computation
/// starts from; a computation with other thresholds reports what they left out).
pub fn thresholds() -> QualityThresholds {
    Methodology::from_toml(crate::services::questionnaires::SIPAS_2023_METHODOLOGY)
        .map(|m| m.quality)
        .unwrap_or_default()
}

pub async fn queue(
    State(state): State<AppState>,
    wave: InWave<can::ReviewResponses>,
) -> StaffResult {
    let store = &state.staff.store;
    let thresholds = thresholds();
    store.mark_twins(wave.code()).await?;
    let rows = store
        .quality_queue(wave.code(), &thresholds, None, QUEUE_ROWS)
        .await?;
    let left_out = store.left_out(wave.code(), &thresholds).await?;
    Ok(html(
        StatusCode::OK,
        pages::quality_queue(&wave.ctx, &wave.wave, &thresholds, &rows, &left_out),
    ))
}

pub async fn response(
    State(state): State<AppState>,
    wave: InWave<can::ReviewResponses>,
    Path((_, export_id)): Path<(String, String)>,
) -> StaffResult {
    let reviewed = state
        .staff
        .store
        .reviewed_response(wave.code(), &export_id)
        .await?;
    Ok(html(
        StatusCode::OK,
        pages::reviewed_response(&wave.ctx, &wave.wave, &thresholds(), &reviewed),
    ))
}

#[derive(Deserialize)]
pub struct DecisionForm {
    decision: String,
    reason: String,
    #[serde(default)]
    note: String,
}

pub async fn decide(
    State(state): State<AppState>,
    wave: InWave<can::ReviewResponses>,
    Path((_, export_id)): Path<(String, String)>,
    Form(form): Form<DecisionForm>,
) -> StaffResult {
    let ctx = &wave.ctx;
    let Some(decision) = Decision::parse(&form.decision) else {
        return Err(StaffError::Invalid(
            ctx.t(
                "decision: chọn \"chấp thuận\" hoặc \"loại\".",
                "decision: choose approve or exclude.",
            )
            .to_owned(),
        ));
    };
    if !is_reason(&form.reason) {
        return Err(StaffError::Invalid(
            ctx.t(
                "reason: chọn một lý do trong danh sách.",
                "reason: choose a listed reason.",
            )
            .to_owned(),
        ));
    }
    let note = form.note.trim();
    if note.chars().count() > MAX_NOTE || (form.reason == "other" && note.is_empty()) {
        return Err(StaffError::Invalid(
            ctx.t(
                "note: bắt buộc với lý do khác, tối đa 1.000 ký tự.",
                "note: required with the reason \"other\", 1,000 characters at most.",
            )
            .to_owned(),
        ));
    }
    let new = NewDecision {
        decision,
        reason: form.reason.clone(),
        note: note.to_owned(),
        by: wave.user.id,
    };
    let code = wave.code().to_owned();
    let staff = &wave.allowed.staff;
    let audit = |row: &QueueRow| {
        staff.entry(
            AuditAction::ResponseReviewed,
            Some(&code),
            Some(&row.province_code),
            format!(
                "phiếu {}: {} ({}){}",
                row.export_id,
                decision.label().0,
                new.reason,
                if new.note.is_empty() {
                    String::new()
                } else {
                    format!(": {}", new.note)
                }
            ),
        )
    };
    state
        .staff
        .store
        .decide(&code, &export_id, &new, &audit)
        .await?;
    staff
        .flash(Text::new(
            format!("Đã ghi quyết định cho phiếu {export_id}."),
            format!("Decision recorded for response {export_id}."),
        ))
        .await;
    Ok(Redirect::to(&format!("/staff/waves/{code}/quality/{export_id}")).into_response())
}
