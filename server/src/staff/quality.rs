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
use sipas_app::ports::StoreError;
use sipas_app::staff::StaffStore;
use sipas_app::staff::pages;
use sipas_app::staff::port::AuditAction;
use sipas_app::staff::quality::{Decision, NewDecision, QualityReport, QueueRow, fits};
use sipas_stats::methodology::Methodology;
use sipas_stats::quality::{Flag, QualityThresholds};

use super::error::{StaffError, StaffResult};
use super::guard::{InWave, can};
use super::html;
use crate::web::AppState;

/// Rows the queue shows at once (undecided first).
const QUEUE_ROWS: u32 = 500;
/// A reviewer's note: a sentence or two.
const MAX_NOTE: usize = 1_000;

/// The built-in methodology's thresholds (the file a computation starts from), read once.
pub fn thresholds() -> QualityThresholds {
    static BUILT_IN: std::sync::OnceLock<QualityThresholds> = std::sync::OnceLock::new();
    BUILT_IN
        .get_or_init(|| {
            Methodology::from_toml(crate::services::questionnaires::SIPAS_2023_METHODOLOGY)
                .map(|m| m.quality)
                .unwrap_or_default()
        })
        .clone()
}

/// The thresholds a wave's review flags with: those of the methodology of its latest
/// computation that did not fail (so the queue lists what that draft holds back), else the
/// built-in ones.
pub async fn thresholds_for(
    store: &dyn StaffStore,
    wave_code: &str,
) -> Result<QualityThresholds, StoreError> {
    if let Some(text) = store.latest_methodology(wave_code).await? {
        match Methodology::from_toml(&text) {
            Ok(methodology) => return Ok(methodology.quality),
            Err(err) => {
                tracing::warn!(wave = wave_code, error = %err, "stored methodology unreadable")
            }
        }
    }
    Ok(thresholds())
}

pub async fn queue(
    State(state): State<AppState>,
    wave: InWave<can::ReviewResponses>,
) -> StaffResult {
    let store = &state.staff.store;
    let thresholds = thresholds_for(store.as_ref(), wave.code()).await?;
    store.mark_twins(wave.code()).await?;
    let rows = store
        .quality_queue(wave.code(), &thresholds, None, QUEUE_ROWS)
        .await?;
    let summary = store.review_summary(wave.code(), &thresholds).await?;
    Ok(html(
        StatusCode::OK,
        pages::quality_queue(
            &wave.ctx,
            &wave.wave,
            &QualityReport::new(thresholds, summary, 0),
            &rows,
        ),
    ))
}

#[derive(Deserialize)]
pub struct BulkForm {
    flag: String,
    decision: String,
    reason: String,
    #[serde(default)]
    note: String,
}

/// One decision for every undecided response flagged for one reason alone (after a look at a
/// sample of them): an approval with `checked`, or an exclusion for that flag.
pub async fn decide_all(
    State(state): State<AppState>,
    wave: InWave<can::ReviewResponses>,
    Form(form): Form<BulkForm>,
) -> StaffResult {
    let ctx = &wave.ctx;
    let Some(flag) = Flag::parse(&form.flag) else {
        return Err(StaffError::Invalid(
            ctx.t("flag: chọn một dấu hiệu.", "flag: choose a flag.")
                .to_owned(),
        ));
    };
    let new = decision_of(ctx, &form.decision, &form.reason, &form.note, wave.user.id)?;
    if Flag::parse(&new.reason).is_some_and(|reason| reason != flag) {
        return Err(StaffError::Invalid(
            ctx.t(
                "reason: loại cả nhóm vì chính dấu hiệu đã chọn, hoặc \"lý do khác\".",
                "reason: exclude the group for the flag chosen, or \"other\".",
            )
            .to_owned(),
        ));
    }
    let store = &state.staff.store;
    store.mark_twins(wave.code()).await?;
    let thresholds = thresholds_for(store.as_ref(), wave.code()).await?;
    let code = wave.code().to_owned();
    let staff = &wave.allowed.staff;
    let audit = |count: &i64| {
        staff.entry(
            AuditAction::ResponseReviewed,
            Some(&code),
            None,
            format!(
                "{count} phiếu chỉ bị đánh dấu \"{}\": {} ({}){}",
                flag.key(),
                new.decision.label().0,
                new.reason,
                if new.note.is_empty() {
                    String::new()
                } else {
                    format!(": {}", new.note)
                }
            ),
        )
    };
    let count = store
        .decide_all(&code, None, flag, &thresholds, &new, &audit)
        .await?;
    staff
        .flash(Text::new(
            format!("Đã ghi quyết định cho {count} phiếu."),
            format!("Decision recorded for {count} responses."),
        ))
        .await;
    Ok(Redirect::to(&format!("/staff/waves/{code}/quality")).into_response())
}

/// A decision from a form, or what is wrong with it.
fn decision_of(
    ctx: &sipas_app::staff::pages::Ctx,
    decision: &str,
    reason: &str,
    note: &str,
    by: i64,
) -> StaffResult<NewDecision> {
    let Some(decision) = Decision::parse(decision) else {
        return Err(StaffError::Invalid(
            ctx.t(
                "decision: chọn \"chấp thuận\" hoặc \"loại\".",
                "decision: choose approve or exclude.",
            )
            .to_owned(),
        ));
    };
    if !fits(decision, reason) {
        return Err(StaffError::Invalid(
            ctx.t(
                "reason: chấp thuận đi với \"đã kiểm tra, hợp lệ\"; loại đi với một dấu hiệu hoặc \"lý do khác\".",
                "reason: an approval goes with \"checked\"; an exclusion with a flag or \"other\".",
            )
            .to_owned(),
        ));
    }
    let note = note.trim();
    if note.chars().count() > MAX_NOTE || (reason == "other" && note.is_empty()) {
        return Err(StaffError::Invalid(
            ctx.t(
                "note: bắt buộc với lý do khác, tối đa 1.000 ký tự.",
                "note: required with the reason \"other\", 1,000 characters at most.",
            )
            .to_owned(),
        ));
    }
    Ok(NewDecision {
        decision,
        reason: reason.to_owned(),
        note: note.to_owned(),
        by,
    })
}

pub async fn response(
    State(state): State<AppState>,
    wave: InWave<can::ReviewResponses>,
    Path((_, export_id)): Path<(String, String)>,
) -> StaffResult {
    let store = &state.staff.store;
    let reviewed = store.reviewed_response(wave.code(), &export_id).await?;
    let thresholds = thresholds_for(store.as_ref(), wave.code()).await?;
    Ok(html(
        StatusCode::OK,
        pages::reviewed_response(&wave.ctx, &wave.wave, &thresholds, &reviewed),
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
    let new = decision_of(
        &wave.ctx,
        &form.decision,
        &form.reason,
        &form.note,
        wave.user.id,
    )?;
    let decision = new.decision;
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
