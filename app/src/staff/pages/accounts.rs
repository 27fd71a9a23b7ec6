//! Staff accounts and the audit log.

use leptos::prelude::*;

use super::{Ctx, Sort, document, sort_header};
use crate::domain::{Geography, Province};
use crate::staff::port::{AuditAction, AuditFilter, AuditRecord};
use crate::staff::roles::{Role, StaffUser};

/// The new-account form as typed (never the password): shown again when it is refused.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct AccountForm {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub province: String,
    /// A researcher's approval.
    #[serde(default)]
    pub project: String,
    #[serde(default)]
    pub approval: String,
    #[serde(default)]
    pub expires_on: String,
    #[serde(default)]
    pub releases: String,
    /// A field worker's communes, if restricted.
    #[serde(default)]
    pub communes: String,
}

pub fn users_page(
    ctx: &Ctx,
    mut users: Vec<StaffUser>,
    provinces: Vec<Province>,
    (error, typed): (Option<String>, AccountForm),
    sort: Sort,
) -> String {
    let title = ctx.t("Tài khoản", "Accounts");
    sort.apply(
        &mut users,
        &[
            ("username", |a, b| a.username.cmp(&b.username)),
            ("name", |a, b| a.display_name.cmp(&b.display_name)),
            ("role", |a, b| a.role.key().cmp(b.role.key())),
            ("province", |a, b| {
                a.province
                    .as_ref()
                    .map(|p| &p.code)
                    .cmp(&b.province.as_ref().map(|p| &p.code))
            }),
            ("status", |a, b| a.active.cmp(&b.active)),
        ],
    );
    let rows = users
        .iter()
        .map(|u| {
            let (vi, en) = u.role.label();
            let toggle = format!("/staff/users/{}/{}", u.id, if u.active { "disable" } else { "enable" });
            let reset = format!("/staff/users/{}/password", u.id);
            let toggle_label = if u.active { ctx.t("Khóa", "Disable") } else { ctx.t("Mở khóa", "Enable") };
            // No one locks themselves out: their own account has no lock button.
            let is_self = ctx.user.as_ref().is_some_and(|me| me.id == u.id);
            let toggle = (!is_self).then(|| view! {
                <form method="post" action=toggle class="inline">
                    <button type="submit" class="small" aria-label=format!("{toggle_label} {}", u.username)>{toggle_label}</button>
                </form>
            });
            view! {
                <tr>
                    <td>{u.username.clone()}</td>
                    <td>{u.display_name.clone()}</td>
                    <td>{ctx.t(vi, en)}</td>
                    <td>{u.province.as_ref().map(|p| p.code.clone())}</td>
                    <td>{if u.active { ctx.t("Hoạt động", "Active") } else { ctx.t("Đã khóa", "Disabled") }}</td>
                    <td>
                        {toggle}
                        <form method="post" action=reset class="inline">
                            <button type="submit" class="small secondary"
                                aria-label=format!("{} {}", ctx.t("Đặt lại mật khẩu của", "Reset the password of"), u.username)>
                                {ctx.t("Đặt lại mật khẩu", "Reset password")}</button>
                        </form>
                    </td>
                </tr>
            }
        })
        .collect_view();
    // Least privilege first: a careless click makes a viewer, not an administrator.
    let roles = [
        Role::Viewer,
        Role::Field,
        Role::Researcher,
        Role::Statistician,
        Role::Approver,
        Role::Provincial,
        Role::Central,
        Role::Admin,
    ]
    .into_iter()
    .map(|r| {
        let (vi, en) = r.label();
        view! { <option value=r.key() selected=typed.role == r.key()>{ctx.t(vi, en)}</option> }
    })
    .collect_view();
    let province_options = provinces
        .into_iter()
        .filter(|p| p.geography == Geography::G2025)
        .map(|p| view! { <option value=p.code.clone() selected=typed.province == p.code>{format!("{} {}", p.code, p.name_vi)}</option> })
        .collect_view();
    let role_rows = Role::ALL
        .into_iter()
        .map(|role| {
            let (vi, en) = role.label();
            let may: Vec<&str> = crate::staff::roles::Action::ALL
                .into_iter()
                .filter(|a| role.may(*a))
                .map(|a| {
                    let (vi, en) = a.label();
                    ctx.t(vi, en)
                })
                .collect();
            let scope = match role {
                Role::Provincial => Some(ctx.t(" (chỉ tỉnh của mình)", " (their province only)")),
                Role::Field => Some(ctx.t(
                    " (chỉ phiếu được giao cho mình)",
                    " (only the forms assigned to them)",
                )),
                _ => None,
            };
            view! { <tr><th scope="row">{ctx.t(vi, en)}{scope}</th><td>{may.join("; ")}</td></tr> }
        })
        .collect_view();
    let body = view! {
        <h1>{title}</h1>
        {super::purpose(ctx,
            "Tài khoản của cán bộ dùng hệ thống. Mỗi người một tài khoản, với vai trò quyết định việc được làm (xem bảng cuối trang); tài khoản không dùng nữa thì khóa, không xóa.",
            "The accounts of the staff who use the platform. One account per person; its role decides what it may do (see the table at the end); an account no longer used is disabled, not deleted.")}
        {error.map(|e| view! { <p class="error" role="alert">{e}</p> })}
        <table class="data sortable"><thead><tr>
            {sort_header("/staff/users", "username", ctx.t("Tên đăng nhập", "Username"), &sort)}
            {sort_header("/staff/users", "name", ctx.t("Họ tên", "Name"), &sort)}
            {sort_header("/staff/users", "role", ctx.t("Vai trò", "Role"), &sort)}
            {sort_header("/staff/users", "province", ctx.t("Tỉnh", "Province"), &sort)}
            {sort_header("/staff/users", "status", ctx.t("Trạng thái", "Status"), &sort)}
            <th scope="col">{ctx.t("Thao tác", "Actions")}</th>
        </tr></thead><tbody>{rows}</tbody></table>
        <h2>{ctx.t("Thêm tài khoản", "Add an account")}</h2>
        <form method="post" action="/staff/users" class="stacked">
            <label for="new-username">{ctx.t("Tên đăng nhập", "Username")}</label>
            // The hyphen escaped: browsers read `pattern` with the `v` flag, where an unescaped
            // `-` at the end of a class is a syntax error (and the check is silently skipped).
            <input id="new-username" name="username" required pattern="[a-z0-9._\\-]{3,40}" autocomplete="off"
                value=typed.username.clone() aria-describedby="new-username-hint" />
            <p class="hint" id="new-username-hint">{ctx.t("3 đến 40 chữ thường không dấu, chữ số, dấu chấm, gạch ngang hoặc gạch dưới, ví dụ nguyen.van.a", "3 to 40 lower-case letters, digits, dots, dashes or underscores, e.g. nguyen.van.a")}</p>
            <label for="new-name">{ctx.t("Họ tên", "Full name")}</label>
            <input id="new-name" name="display_name" required maxlength="120" value=typed.display_name.clone() />
            <label for="new-role">{ctx.t("Vai trò", "Role")}</label>
            <select id="new-role" name="role">{roles}</select>
            <label for="new-province">{ctx.t("Tỉnh (chỉ cho cán bộ Sở Nội vụ và nhân viên phát, thu phiếu)", "Province (provincial officers and field workers only)")}</label>
            <select id="new-province" name="province"><option value="">"—"</option>{province_options}</select>
            <label for="new-communes">{ctx.t("Chỉ các xã/phường (nhân viên phát, thu phiếu; để trống: cả tỉnh)", "Only these communes (field workers; empty: the whole province)")}</label>
            <input id="new-communes" name="communes" inputmode="numeric" value=typed.communes.clone()
                aria-describedby="new-communes-hint" />
            <p class="hint" id="new-communes-hint">{ctx.t("Mã 5 chữ số, cách nhau bằng dấu cách hoặc dấu phẩy, ví dụ 00004 00008", "5-digit codes separated by spaces or commas, e.g. 00004 00008")}</p>
            <label for="new-password">{ctx.t("Mật khẩu ban đầu (ít nhất 12 ký tự)", "Initial password (at least 12 characters)")}</label>
            <input id="new-password" name="password" type="password" minlength="12" required autocomplete="new-password" />
            <fieldset>
                <legend>{ctx.t("Chỉ cho nhà nghiên cứu được cấp phép", "Accredited researchers only")}</legend>
                <label for="new-project">{ctx.t("Dự án được phê duyệt", "Approved project")}</label>
                <input id="new-project" name="project" maxlength="300" value=typed.project.clone() />
                <label for="new-approval">{ctx.t("Số văn bản phê duyệt", "Reference of the approval")}</label>
                <input id="new-approval" name="approval" maxlength="200" value=typed.approval.clone() />
                <label for="new-expires">{ctx.t("Hết hạn sau ngày", "Expires after")}</label>
                <input id="new-expires" name="expires_on" type="date" value=typed.expires_on.clone() />
                <label for="new-releases">{ctx.t("Các bản công bố được phép tải (ví dụ: 2025 v1, 2024 v2)", "Releases it may download (e.g. 2025 v1, 2024 v2)")}</label>
                <input id="new-releases" name="releases" value=typed.releases.clone() />
            </fieldset>
            <button type="submit">{ctx.t("Thêm", "Add")}</button>
        </form>
        <details class="help">
            <summary>{ctx.t("Mỗi vai trò được làm gì", "What each role may do")}</summary>
            <table class="data"><thead><tr>
                <th scope="col">{ctx.t("Vai trò", "Role")}</th><th scope="col">{ctx.t("Được làm", "May")}</th>
            </tr></thead><tbody>{role_rows}</tbody></table>
        </details>
    };
    document(ctx, title, body)
}

pub fn audit_page(ctx: &Ctx, records: Vec<AuditRecord>, filter: AuditFilter) -> String {
    let title = ctx.t("Nhật ký thay đổi", "Audit log");
    let next = records
        .last()
        .filter(|_| records.len() as u32 >= filter.limit)
        .map(|last| {
            let mut query = format!("before={}", last.id);
            for (key, value) in [
                ("actor", &filter.actor),
                ("action", &filter.action),
                ("wave", &filter.wave_code),
                ("province", &filter.province_code),
            ] {
                if let Some(value) = value {
                    query.push_str(&format!("&{key}={}", crate::url::url_part(value)));
                }
            }
            let href = format!("/staff/audit?{query}");
            view! { <p><a href=href>{ctx.t("Cũ hơn", "Older")}</a></p> }
        });
    let empty = records
        .is_empty()
        .then(|| view! { <p class="empty">{ctx.t("Không có bản ghi nào.", "No records.")}</p> });
    let rows = records
        .into_iter()
        .map(|r| {
            view! {
                <tr>
                    <td><small>{super::moment(ctx.locale, &r.at)}</small></td>
                    <td>{r.entry.actor}</td>
                    <td data-action=r.entry.action.clone()>{action_label(ctx, &r.entry.action)}</td>
                    <td>{r.entry.wave_code}</td>
                    <td>{r.entry.province_code}</td>
                    // The record as it was written, in the Ministry's language, not translated.
                    <td lang="vi">{r.entry.detail}</td>
                </tr>
            }
        })
        .collect_view();
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let actions = AuditAction::ALL
        .into_iter()
        .map(|a| {
            let selected = filter.action.as_deref() == Some(a.key());
            let (vi, en) = a.label();
            view! { <option value=a.key() selected=selected>{ctx.locale.pick(vi, en)}</option> }
        })
        .collect_view();
    let body = view! {
        <h1>{title}</h1>
        {super::purpose(ctx,
            "Mọi thay đổi và mọi lần tải số liệu không công khai được ghi lại ở đây, không sửa, không xóa được. Mới nhất ở trên; lọc theo người, việc, đợt hoặc tỉnh.",
            "Every change and every download of non-public data is recorded here and cannot be edited or deleted. Newest first; filter by who, action, wave or province.")}
        <form method="get" action="/staff/audit" class="inline">
            <label for="f-actor">{ctx.t("Người", "Who")}</label>
            <input id="f-actor" name="actor" value=value(&filter.actor) />
            <label for="f-action">{ctx.t("Việc", "Action")}</label>
            <select id="f-action" name="action">
                <option value="">{ctx.t("Mọi việc", "Any action")}</option>
                {actions}
            </select>
            <label for="f-wave">{ctx.t("Đợt", "Wave")}</label>
            <input id="f-wave" name="wave" value=value(&filter.wave_code) />
            <label for="f-province">{ctx.t("Tỉnh", "Province")}</label>
            <input id="f-province" name="province" value=value(&filter.province_code) size="4" />
            <button type="submit">{ctx.t("Lọc", "Filter")}</button>
        </form>
        {empty}
        <table class="data"><thead><tr>
            <th scope="col">{ctx.t("Thời điểm (giờ Việt Nam)", "When (Vietnam time)")}</th>
            <th scope="col">{ctx.t("Người", "Who")}</th>
            <th scope="col">{ctx.t("Việc", "Action")}</th>
            <th scope="col">{ctx.t("Đợt", "Wave")}</th>
            <th scope="col">{ctx.t("Tỉnh", "Province")}</th>
            <th scope="col">{ctx.t("Chi tiết", "Details")}</th>
        </tr></thead><tbody>{rows}</tbody></table>
        {next}
    };
    document(ctx, title, body)
}

/// An audit key in words; a key this version no longer writes is shown as stored.
fn action_label(ctx: &Ctx, key: &str) -> String {
    match AuditAction::from_key(key) {
        Some(action) => {
            let (vi, en) = action.label();
            ctx.locale.pick(vi, en).to_owned()
        }
        None => key.to_owned(),
    }
}
