//! Accredited researchers over HTTP: the conditions of use (accepted once, at the first
//! sign-in, before any download) and the start page with the releases their approval names.
//! The download itself is `results::full_totals`, which checks the approval.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sipas_app::api::today_iso;
use sipas_app::ports::StoreError;
use sipas_app::staff::Role;
use sipas_app::staff::research::ResearchAccess;
use sipas_app::staff::research_pages;

use super::auth::Staff;
use super::html;
use super::waves::store_failure;
use crate::http::AppState;

/// The signed-in researcher's approval; a 403 for any other account.
pub async fn access(state: &AppState, staff: &Staff) -> Result<ResearchAccess, Response> {
    if staff.user.role != Role::Researcher {
        return Err(staff.forbidden());
    }
    match state.staff.store.research_access(staff.user.id).await {
        Ok(Some(access)) => Ok(access),
        // A researcher account is created with its approval; without one it may do nothing.
        Ok(None) => Err(staff.forbidden()),
        Err(err) => Err(store_failure(staff, err)),
    }
}

/// `GET /staff` for a researcher: the conditions first, then the releases to download.
pub async fn home(state: &AppState, staff: &Staff) -> Response {
    match access(state, staff).await {
        Ok(a) if a.conditions_accepted_at.is_none() => {
            Redirect::to("/staff/conditions").into_response()
        }
        Ok(a) => html(
            StatusCode::OK,
            research_pages::researcher_home(&staff.ctx, &a, &today_iso()),
        ),
        Err(refused) => refused,
    }
}

pub async fn conditions(State(state): State<AppState>, staff: Staff) -> Response {
    match access(&state, &staff).await {
        Ok(a) => html(
            StatusCode::OK,
            research_pages::conditions_page(&staff.ctx, &a),
        ),
        Err(refused) => refused,
    }
}

#[derive(Deserialize)]
pub struct AcceptForm {
    #[serde(default)]
    accept: String,
}

pub async fn accept(
    State(state): State<AppState>,
    staff: Staff,
    Form(form): Form<AcceptForm>,
) -> Response {
    let access = match access(&state, &staff).await {
        Ok(a) => a,
        Err(refused) => return refused,
    };
    if form.accept != "yes" || access.conditions_accepted_at.is_some() {
        return Redirect::to("/staff/conditions").into_response();
    }
    let at = match time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
    {
        Ok(at) => at,
        Err(err) => return store_failure(&staff, StoreError::Backend(err.to_string())),
    };
    if let Err(err) = state
        .staff
        .store
        .accept_research_conditions(staff.user.id, &at)
        .await
    {
        return store_failure(&staff, err);
    }
    staff
        .audit(
            &state.staff,
            "research_conditions_accepted",
            None,
            None,
            format!("project: {} ({})", access.project, access.approval),
        )
        .await;
    Redirect::to("/staff").into_response()
}
