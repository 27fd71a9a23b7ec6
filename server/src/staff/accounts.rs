//! Accounts (admin only) and the audit log.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use sipas_app::api::today_iso;
use sipas_app::domain::Geography;
use sipas_app::i18n::Text;
use sipas_app::ports::StoreError;
use sipas_app::staff::pages;
use sipas_app::staff::port::AuditAction;
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
    show_page(
        state,
        staff,
        status,
        (error, pages::AccountForm::default()),
        pages::Sort::default(),
    )
    .await
}

async fn show_page(
    state: &AppState,
    staff: &Staff,
    status: StatusCode,
    form: (Option<String>, pages::AccountForm),
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
        pages::users_page(&staff.ctx, users, provinces, form, sort),
    ))
}

pub async fn list(
    State(state): State<AppState>,
    staff: Allowed<can::ManageAccounts>,
    Query(sort): Query<pages::Sort>,
) -> StaffResult {
    let form = (None, pages::AccountForm::default());
    show_page(&state, &staff, StatusCode::OK, form, sort).await
}

#[derive(Deserialize)]
pub struct NewUserForm {
    #[serde(flatten)]
    typed: pages::AccountForm,
    #[serde(default)]
    password: String,
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
    let typed = &form.typed;
    let account = NewAccount {
        username: &typed.username,
        display_name: &typed.display_name,
        role: &typed.role,
        province: &typed.province,
        password: &form.password,
        project: &typed.project,
        approval: &typed.approval,
        expires_on: &typed.expires_on,
        releases: &typed.releases,
        communes: &typed.communes,
    };
    let entry = |province: Option<&str>, detail| {
        staff.entry(AuditAction::AccountCreated, None, province, detail)
    };
    let store = state.staff.store.as_ref();
    let (status, message) =
        match accounts::create(store, &account, &provinces, &today_iso(), entry).await {
            Ok((username, role)) => {
                let (vi, en) = role.label();
                staff
                    .flash(Text::new(
                        format!("Đã tạo tài khoản {username} ({vi})."),
                        format!("Account {username} ({en}) created."),
                    ))
                    .await;
                return Ok(Redirect::to("/staff/users").into_response());
            }
            Err(AccountError::Invalid(message)) => (StatusCode::BAD_REQUEST, message),
            Err(AccountError::Taken(message)) => (StatusCode::CONFLICT, message),
            Err(AccountError::Store(err)) => return Err(err.into()),
        };
    // Refused: the form again as typed (but the password), with what to change.
    let error = Some(message.pick(staff.ctx.locale).to_owned());
    show_page(
        &state,
        &staff,
        status,
        (error, form.typed),
        pages::Sort::default(),
    )
    .await
}

#[derive(Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

pub async fn change(
    State(state): State<AppState>,
    staff: Allowed<can::ManageAccounts>,
    Path((id, change)): Path<(i64, String)>,
    Form(form): Form<ChangeForm>,
) -> StaffResult {
    let store = &state.staff.store;
    let target = store.user(id).await?;
    let audit = |action: AuditAction| {
        staff.entry(
            action,
            None,
            target.province.as_ref().map(|p| p.code.as_str()),
            target.username.clone(),
        )
    };
    // Locking and a new password end the account's sessions: asked first, on a page of its own
    // (which asks for the new password itself).
    if matches!(change.as_str(), "disable" | "password") && form.confirm != "yes" {
        let ctx = &staff.ctx;
        let name = format!("{} ({})", target.username, target.display_name);
        let (title, consequences, button) = if change == "disable" {
            (
                format!("{} {name}?", ctx.t("Khóa tài khoản", "Disable the account of")),
                vec![ctx.t(
                    "Người này không đăng nhập được nữa và mọi phiên đăng nhập của họ kết thúc ngay; có thể mở khóa lại sau.",
                    "They can no longer sign in and every session of theirs ends now; the account can be enabled again later.",
                )
                .to_owned()],
                ctx.t("Khóa tài khoản", "Disable the account"),
            )
        } else {
            (
                format!("{} {name}", ctx.t("Đặt lại mật khẩu của", "Reset the password of")),
                vec![
                    ctx.t(
                        "Mật khẩu cũ hết hiệu lực và mọi phiên đăng nhập của người này kết thúc ngay.",
                        "The old password stops working and every session of theirs ends now.",
                    )
                    .to_owned(),
                    ctx.t(
                        "Hãy trao mật khẩu mới cho họ trực tiếp, không qua thư điện tử.",
                        "Hand them the new password in person, not by e-mail.",
                    )
                    .to_owned(),
                ],
                ctx.t("Đặt mật khẩu mới", "Set the new password"),
            )
        };
        return Ok(html(
            StatusCode::OK,
            pages::confirm_page(
                ctx,
                pages::Confirmation {
                    title,
                    consequences,
                    action: format!("/staff/users/{id}/{change}"),
                    fields: Vec::new(),
                    new_password: change == "password",
                    irreversible: change == "password",
                    button: button.to_owned(),
                    back: "/staff/users".into(),
                },
            ),
        ));
    }
    let result = match change.as_str() {
        "disable" if target.id == staff.user.id => {
            return show(
                &state,
                &staff,
                StatusCode::CONFLICT,
                Some(
                    staff
                        .ctx
                        .t(
                            "Bạn không thể tự khóa tài khoản của mình.",
                            "You cannot disable your own account.",
                        )
                        .to_owned(),
                ),
            )
            .await;
        }
        "disable" => {
            store
                .set_active(id, false, &audit(AuditAction::AccountDisabled))
                .await
        }
        "enable" => {
            store
                .set_active(id, true, &audit(AuditAction::AccountEnabled))
                .await
        }
        "password" => {
            let audit = audit(AuditAction::PasswordReset);
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
    let who = &target.username;
    let notice = match change.as_str() {
        "disable" => Text::new(
            format!("Đã khóa tài khoản {who}."),
            format!("Account {who} disabled."),
        ),
        "enable" => Text::new(
            format!("Đã mở khóa tài khoản {who}."),
            format!("Account {who} enabled."),
        ),
        _ => Text::new(
            format!("Đã đặt mật khẩu mới cho {who}; các phiên đăng nhập của họ đã kết thúc."),
            format!("New password set for {who}; their sessions have ended."),
        ),
    };
    staff.flash(notice).await;
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
