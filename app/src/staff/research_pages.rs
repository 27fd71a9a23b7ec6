//! The pages of an accredited researcher: the conditions of use to accept at the first sign-in,
//! and the start page with the releases the approval names.

use leptos::prelude::*;

use super::pages::{Ctx, day, document, moment, purpose};
use super::research::{CONDITIONS, ResearchAccess};

fn conditions_list(ctx: &Ctx) -> impl IntoView + use<> {
    CONDITIONS
        .iter()
        .map(|(vi, en)| view! { <li>{ctx.t(vi, en).to_owned()}</li> })
        .collect_view()
}

/// `GET /staff/conditions`: the conditions, and the button that accepts them (until done).
pub fn conditions_page(ctx: &Ctx, access: &ResearchAccess) -> String {
    let title = ctx.t("Điều kiện sử dụng số liệu", "Conditions of use");
    let form = match &access.conditions_accepted_at {
        Some(at) => view! {
            <p>{format!("{} {}.", ctx.t("Bạn đã chấp nhận các điều kiện này lúc", "You accepted these conditions at"), moment(ctx.locale, at))}</p>
            <p><a href="/staff">{ctx.t("Về trang của bạn", "To your page")}</a></p>
        }
        .into_any(),
        None => view! {
            <form method="post" action="/staff/conditions" class="stacked">
                <input type="hidden" name="accept" value="yes" />
                <button type="submit">{ctx.t("Tôi đã đọc và chấp nhận các điều kiện trên", "I have read and accept these conditions")}</button>
            </form>
        }
        .into_any(),
    };
    let body = view! {
        <h1>{title}</h1>
        {purpose(ctx,
            "Trước lần tải đầu tiên, hãy đọc và chấp nhận các điều kiện dưới đây; việc chấp nhận được ghi vào nhật ký.",
            "Before the first download, read and accept the conditions below; the acceptance is recorded in the audit log.")}
        <p>{format!("{} {} ({} {}), {} {}.",
            ctx.t("Dự án", "Project"), access.project,
            ctx.t("phê duyệt", "approval"), access.approval,
            ctx.t("đến hết ngày", "until"), day(ctx.locale, Some(&access.expires_on), ("—", "—")))}</p>
        <ol class="conditions">{conditions_list(ctx)}</ol>
        {form}
    };
    document(ctx, title, body)
}

/// A researcher's start page: the approval, and a download link for each release it names
/// (`today`: Vietnam's date, `YYYY-MM-DD`).
pub fn researcher_home(ctx: &Ctx, access: &ResearchAccess, today: &str) -> String {
    let title = ctx.t("Số liệu cho nghiên cứu", "Data for research");
    let expired = today > access.expires_on.as_str();
    let releases = access
        .releases
        .iter()
        .map(|(year, version)| {
            let href = format!("/staff/releases/{year}/v{version}/totals.json");
            view! {
                <li><a href=href>{format!("SIPAS {year} v{version}: {}", ctx.t("tổng số liệu đầy đủ theo xã (JSON)", "full per-commune totals (JSON)"))}</a></li>
            }
        })
        .collect_view();
    let state = if expired {
        Some(ctx.t(
            "Quyền truy cập đã hết hạn: không tải được nữa.",
            "The access has expired: nothing can be downloaded any more.",
        ))
    } else if access.conditions_accepted_at.is_none() {
        Some(ctx.t(
            "Hãy chấp nhận điều kiện sử dụng trước khi tải.",
            "Accept the conditions of use before downloading.",
        ))
    } else {
        None
    };
    let body = view! {
        <h1>{title}</h1>
        {purpose(ctx,
            "Tải tổng số liệu đầy đủ của các bản công bố mà văn bản phê duyệt cho phép, trong thời hạn được phê duyệt.",
            "Download the full totals of the releases your approval names, while the approval lasts.")}
        <dl class="facts">
            <dt>{ctx.t("Dự án", "Project")}</dt><dd>{access.project.clone()}</dd>
            <dt>{ctx.t("Phê duyệt", "Approval")}</dt><dd>{access.approval.clone()}</dd>
            <dt>{ctx.t("Đến hết ngày", "Until")}</dt><dd>{day(ctx.locale, Some(&access.expires_on), ("—", "—"))}</dd>
        </dl>
        {state.map(|s| view! { <p class="error" role="alert">{s}</p> })}
        <p>{ctx.t(
            "Mỗi tệp chứa tổng số liệu theo xã của một bản công bố: từ đó lệnh sipas compute --totals tính lại mọi con số chưa làm tròn. Mỗi lần tải được ghi vào nhật ký cùng tên dự án.",
            "Each file holds a release's per-commune totals: from them sipas compute --totals recomputes every number unrounded. Every download is logged with the project.")}</p>
        <ul>{releases}</ul>
        <p><a href="/staff/conditions">{ctx.t("Điều kiện sử dụng", "Conditions of use")}</a></p>
    };
    document(ctx, title, body)
}
