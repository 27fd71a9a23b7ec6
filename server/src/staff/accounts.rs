//! Accounts (admin only) and the audit log.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use sipas_app::domain::Geography;
use sipas_app::ports::StoreError;
use sipas_app::staff::pages;
use sipas_app::staff::port::{AuditFilter, NewUser};
use sipas_app::staff::research::{ResearchAccess, parse_releases, valid_date};
use sipas_app::staff::roles::{password_problem, valid_username};
use sipas_app::staff::{ProvinceRef, Role};

use super::auth::{Staff, hash_password};
use super::error::StaffResult;
use super::guard::{Allowed, can};
use super::html;
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

/// A researcher's approval from the form (exactly for the researcher role; `today` is
/// Vietnam's date). Errors name the field.
pub fn check_research(
    role: Role,
    project: &str,
    approval: &str,
    expires_on: &str,
    releases: &str,
    today: &str,
) -> Result<Option<ResearchAccess>, String> {
    let (project, approval, expires_on) = (project.trim(), approval.trim(), expires_on.trim());
    if role != Role::Researcher {
        return if [project, approval, expires_on, releases.trim()]
            .iter()
            .all(|f| f.is_empty())
        {
            Ok(None)
        } else {
            Err("project: only researchers carry a project and an approval".into())
        };
    }
    if project.is_empty() || project.chars().count() > 300 {
        return Err("project: the approved project's title, 1 to 300 characters".into());
    }
    if approval.is_empty() || approval.chars().count() > 200 {
        return Err("approval: the reference of the approval, 1 to 200 characters".into());
    }
    if !valid_date(expires_on) {
        return Err(format!(
            "expires_on: {expires_on:?} is not a date (YYYY-MM-DD)"
        ));
    }
    if expires_on < today {
        return Err(format!("expires_on: {expires_on} is already past"));
    }
    let releases = parse_releases(releases).map_err(|entry| {
        format!("releases: {entry:?} is not a release (write 2025 v1, 2024 v2)")
    })?;
    if releases.is_empty() {
        return Err("releases: name the releases the approval covers (2025 v1, ...)".into());
    }
    Ok(Some(ResearchAccess {
        project: project.to_owned(),
        approval: approval.to_owned(),
        expires_on: expires_on.to_owned(),
        releases,
        conditions_accepted_at: None,
    }))
}

/// Checks an account's fields (shared with `sipas user add`).
pub async fn check_new_user(
    state_provinces: &[String],
    username: &str,
    display_name: &str,
    role: &str,
    province: &str,
    password: &str,
) -> Result<(String, String, Role, Option<ProvinceRef>), String> {
    let username = username.trim().to_lowercase();
    if !valid_username(&username) {
        return Err(
            "username: 3 to 40 lower-case letters, digits, dots, dashes or underscores".into(),
        );
    }
    let display_name = display_name.trim().to_owned();
    if display_name.is_empty() || display_name.chars().count() > 120 {
        return Err("name: 1 to 120 characters".into());
    }
    let role = Role::parse(role)
        .ok_or("role: admin, central, provincial, statistician, approver, viewer or researcher")?;
    let province = province.trim();
    let province = match (role, province.is_empty()) {
        (Role::Provincial, true) => {
            return Err("province: a provincial officer needs a province".into());
        }
        (Role::Provincial, false) if !state_provinces.iter().any(|p| p == province) => {
            return Err(format!(
                "province: {province:?} is not one of the 34 provincial units"
            ));
        }
        (Role::Provincial, false) => Some(ProvinceRef {
            geography: Geography::G2025,
            code: province.to_owned(),
        }),
        (_, false) => {
            return Err("province: only provincial officers are bound to a province".into());
        }
        (_, true) => None,
    };
    if let Some(problem) = password_problem(password) {
        return Err(format!("password: {problem}"));
    }
    Ok((username, display_name, role, province))
}

pub async fn create(
    State(state): State<AppState>,
    staff: Allowed<can::ManageAccounts>,
    Form(form): Form<NewUserForm>,
) -> StaffResult {
    let provinces: Vec<String> = state
        .store
        .provinces(Geography::G2025)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|p| p.code)
        .collect();
    let checked = check_new_user(
        &provinces,
        &form.username,
        &form.display_name,
        &form.role,
        &form.province,
        &form.password,
    )
    .await;
    let (username, display_name, role, province) = match checked {
        Ok(c) => c,
        Err(message) => return show(&state, &staff, StatusCode::BAD_REQUEST, Some(message)).await,
    };
    let research = match check_research(
        role,
        &form.project,
        &form.approval,
        &form.expires_on,
        &form.releases,
        &sipas_app::api::today_iso(),
    ) {
        Ok(research) => research,
        Err(message) => return show(&state, &staff, StatusCode::BAD_REQUEST, Some(message)).await,
    };
    // The approval covers releases that exist: a typo would give access to nothing, or to a
    // version published later that the approval never named.
    if let Some(access) = &research {
        let published: Vec<(i32, i32)> = state
            .staff
            .store
            .releases()
            .await?
            .iter()
            .map(|r| (r.year, r.version))
            .collect();
        if let Some((year, version)) = access
            .releases
            .iter()
            .find(|release| !published.contains(release))
        {
            let message = format!("releases: {year} v{version} has not been published");
            return show(&state, &staff, StatusCode::BAD_REQUEST, Some(message)).await;
        }
    }
    let password_hash = hash_password(form.password)
        .await
        .map_err(StoreError::Backend)?;
    let user = NewUser {
        username: username.clone(),
        display_name,
        role,
        province: province.clone(),
        password_hash,
        research: research.clone(),
    };
    let audit = staff.entry(
        "account_created",
        None,
        province.as_ref().map(|p| p.code.as_str()),
        match &research {
            Some(r) => format!(
                "{username} ({}), project: {} ({}), until {}, releases {}",
                role.key(),
                r.project,
                r.approval,
                r.expires_on,
                r.releases
                    .iter()
                    .map(|(y, v)| format!("{y} v{v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => format!("{username} ({})", role.key()),
        },
    );
    match state.staff.store.create_user(&user, &audit).await {
        Ok(_) => Ok(Redirect::to("/staff/users").into_response()),
        Err(StoreError::Conflict(message)) => {
            show(&state, &staff, StatusCode::CONFLICT, Some(message)).await
        }
        Err(err) => Err(err.into()),
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
            if let Some(problem) = password_problem(&form.password) {
                return show(
                    &state,
                    &staff,
                    StatusCode::BAD_REQUEST,
                    Some(format!("password: {problem}")),
                )
                .await;
            }
            match hash_password(form.password).await {
                Ok(hash) => {
                    // A new password also lifts the account's sign-in wait.
                    let _ = store.clear_login_failures(&target.username).await;
                    store
                        .set_password(id, &hash, &audit("password_reset"))
                        .await
                }
                Err(err) => Err(StoreError::Backend(err)),
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
