//! Accounts (admin only) and the audit log.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use sipas_app::api::today_iso;
use sipas_app::domain::Geography;
use sipas_app::ports::StoreError;
use sipas_app::staff::pages;
use sipas_app::staff::port::AuditFilter;

use super::auth::Staff;
use super::error::StaffResult;
use super::guard::{Allowed, can};
use super::html;
use crate::services::accounts::{self, AccountError, NewAccount};
use crate::web::AppState;

async fn show(
    state: &AppState,
    staff: &Staff,
    status: StatusCode,
    error: Option<String>,
) -> StaffResult {
    show_sorted(state, staff, status, error, pages::Sort::default()).await
}

async fn show_sorted(
    state: &AppState,
    staff: &Staff,
    status: StatusCode,
    error: Option<String>,
    sort: pages::Sort,
) -> StaffResult {
    let users = state.staff.store.users().await?;
    let provinces = state
        .store
        .provinces(Geography::G2025)
        .await
        .unwrap_or_default();
    Ok(html(
        status,
        pages::users_page(&staff.ctx, users, provinces, error, sort),
    ))
}

pub async fn list(
    State(state): State<AppState>,
    staff: Allowed<can::ManageAccounts>,
    Query(sort): Query<pages::Sort>,
) -> StaffResult {
    show_sorted(&state, &staff, StatusCode::OK, None, sort).await
}

#[derive(Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    province: String,
    #[serde(default)]
    password: String,
    /// A researcher's approval.
    #[serde(default)]
    project: String,
    #[serde(default)]
    approval: String,
    #[serde(default)]
    expires_on: String,
    #[serde(default)]
    releases: String,
}

pub async fn create(
    State(state): State<AppState>,
    staff: Allowed<can::ManageAccounts>,
    Form(form): Form<NewUserForm>,
) -> StaffResult {
    let provinces: Vec<String> = state
        .store
        .provinces(Geography::G2025)
        .await?
        .into_iter()
        .map(|p| p.code)
        .collect();
    let account = NewAccount {
        username: &form.username,
        display_name: &form.display_name,
        role: &form.role,
        province: &form.province,
        password: &form.password,
        project: &form.project,
        approval: &form.approval,
        expires_on: &form.expires_on,
        releases: &form.releases,
    };
    let entry =
        |province: Option<&str>, detail| staff.entry("account_created", None, province, detail);
    let store = state.staff.store.as_ref();
    match accounts::create(store, &account, &provinces, &today_iso(), entry).await {
        Ok(_) => Ok(Redirect::to("/staff/users").into_response()),
        Err(AccountError::Invalid(message)) => {
            let message = message.pick(staff.ctx.locale).to_owned();
            show(&state, &staff, StatusCode::BAD_REQUEST, Some(message)).await
        }
        Err(AccountError::Taken(message)) => {
            let message = message.pick(staff.ctx.locale).to_owned();
            show(&state, &staff, StatusCode::CONFLICT, Some(message)).await
        }
        Err(AccountError::Store(err)) => Err(err.into()),
    }
}

#[derive(Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    password: String,
}

pub async fn change(
    State(state): State<AppState>,
    staff: Allowed<can::ManageAccounts>,
    Path((id, change)): Path<(i64, String)>,
    Form(form): Form<ChangeForm>,
) -> StaffResult {
    let store = &state.staff.store;
    let target = store.user(id).await?;
    let audit = |action: &str| {
        staff.entry(
            action,
            None,
            target.province.as_ref().map(|p| p.code.as_str()),
            target.username.clone(),
        )
    };
    let result = match change.as_str() {
        "disable" if target.id == staff.user.id => {
            return show(
                &state,
                &staff,
                StatusCode::CONFLICT,
                Some("you cannot disable your own account".into()),
            )
            .await;
        }
        "disable" => {
            store
                .set_active(id, false, &audit("account_disabled"))
                .await
        }
        "enable" => store.set_active(id, true, &audit("account_enabled")).await,
        "password" => {
            let audit = audit("password_reset");
            match accounts::reset_password(store.as_ref(), &target, form.password, &audit).await {
                Ok(()) => Ok(()),
                Err(AccountError::Invalid(message) | AccountError::Taken(message)) => {
                    let message = message.pick(staff.ctx.locale).to_owned();
                    return show(&state, &staff, StatusCode::BAD_REQUEST, Some(message)).await;
                }
                Err(AccountError::Store(err)) => Err(err),
            }
        }
        _ => Err(StoreError::NotFound),
    };
    result?;
    Ok(Redirect::to("/staff/users").into_response())
}

#[derive(Deserialize)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    wave: Option<String>,
    province: Option<String>,
    before: Option<i64>,
}

pub async fn audit_log(
    State(state): State<AppState>,
    staff: Allowed<can::ReadAudit>,
    Query(query): Query<AuditQuery>,
) -> StaffResult {
    let keep = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let filter = AuditFilter {
        actor: keep(query.actor),
        action: keep(query.action),
        wave_code: keep(query.wave),
        province_code: keep(query.province),
        before_id: query.before,
        limit: 100,
    };
    let records = state.staff.store.audit_log(&filter).await?;
    Ok(html(
        StatusCode::OK,
        pages::audit_page(&staff.ctx, records, filter),
    ))
}
