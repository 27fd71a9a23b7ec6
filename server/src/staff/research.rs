//! Accredited researchers over HTTP: the conditions of use (accepted once, at the first
//! sign-in, before any download) and the start page with the releases their approval names.
//! The download itself is `results::full_totals`, which checks the approval.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use sipas_app::api::today_iso;
use sipas_app::ports::StoreError;
use sipas_app::staff::port::AuditAction;
use sipas_app::staff::research_pages;

use super::error::StaffResult;
use super::guard::Researcher;
use super::html;
use crate::web::AppState;

/// `GET /staff` for a researcher: the conditions first, then the releases to download.
pub fn home(researcher: &Researcher) -> StaffResult {
    if researcher.access.conditions_accepted_at.is_none() {
        return Ok(Redirect::to("/staff/conditions").into_response());
    }
    Ok(html(
        StatusCode::OK,
        research_pages::researcher_home(&researcher.ctx, &researcher.access, &today_iso()),
    ))
}

pub async fn conditions(researcher: Researcher) -> StaffResult {
    Ok(html(
        StatusCode::OK,
        research_pages::conditions_page(&researcher.ctx, &researcher.access),
    ))
}

#[derive(Deserialize)]
pub struct AcceptForm {
    #[serde(default)]
    accept: String,
}

pub async fn accept(
    State(state): State<AppState>,
    researcher: Researcher,
    Form(form): Form<AcceptForm>,
) -> StaffResult {
    if form.accept != "yes" || researcher.access.conditions_accepted_at.is_some() {
        return Ok(Redirect::to("/staff/conditions").into_response());
    }
    let at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|err| StoreError::Backend(err.to_string()))?;
    let audit = researcher.entry(
        AuditAction::ResearchConditionsAccepted,
        None,
        None,
        format!(
            "dự án: {} ({})",
            researcher.access.project, researcher.access.approval
        ),
    );
    state
        .staff
        .store
        .accept_research_conditions(researcher.user.id, &at, &audit)
        .await?;
    Ok(Redirect::to("/staff").into_response())
}
