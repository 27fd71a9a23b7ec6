//! Paper forms keyed in, and a wave's exports.

use leptos::prelude::*;

use super::{Ctx, document, problems_list};
use crate::staff::port::{RowOutcome, WaveDetails};
use crate::staff::sheet::CellProblem;

pub struct ImportReport {
    pub dry_run: bool,
    pub stored: bool,
    pub outcomes: Vec<(usize, RowOutcome)>,
}

pub fn import_page(
    ctx: &Ctx,
    wave: &WaveDetails,
    problems: Option<(Vec<CellProblem>, usize)>,
    report: Option<ImportReport>,
) -> String {
    let code = wave.wave.code.clone();
    let title = format!("{} · {}", ctx.t("Nhập phiếu giấy", "Paper import"), code);
    let action = format!("/staff/waves/{code}/import");
    let problems = problems.map(|(listed, total)| problems_list(ctx, listed, total));
    let report = report.map(|report| {
        let count = |f: fn(&RowOutcome) -> bool| report.outcomes.iter().filter(|(_, o)| f(o)).count();
        let new = count(|o| matches!(o, RowOutcome::New));
        let again = count(|o| matches!(o, RowOutcome::AlreadyImported));
        let conflicts: Vec<(usize, String)> = report
            .outcomes
            .iter()
            .filter_map(|(row, o)| match o {
                RowOutcome::Conflict(m) => Some((*row, m.pick(ctx.locale).to_owned())),
                _ => None,
            })
            .collect();
        let headline = match (report.dry_run, report.stored) {
            (true, _) => format!("{}: {new} {}", ctx.t("Chạy thử, chưa lưu gì", "Dry run, nothing stored"), ctx.t("phiếu mới sẽ được lưu", "new forms would be stored")),
            (false, _) => format!("{new} {}", ctx.t("phiếu mới đã được lưu", "new forms stored")),
        };
        let conflict_rows = conflicts
            .into_iter()
            .map(|(row, m)| view! { <tr><td>{row}</td><td>{m}</td></tr> })
            .collect_view();
        view! {
            <section class="report" role="status">
                <h2>{headline}</h2>
                <p>{format!("{again} {}", ctx.t("phiếu đã nhập trước đây (bỏ qua)", "forms imported before (skipped)"))}</p>
                <table class="data"><caption>{ctx.t("Xung đột (không ghi đè)", "Conflicts (never overwritten)")}</caption>
                <thead><tr><th scope="col">{ctx.t("Dòng", "Row")}</th><th scope="col">{ctx.t("Lý do", "Reason")}</th></tr></thead>
                <tbody>{conflict_rows}</tbody></table>
            </section>
        }
    });
    let back = format!("/staff/waves/{code}");
    let body = view! {
        <p class="crumbs"><a href=back>{code.clone()}</a></p>
        <h1>{title.clone()}</h1>
        {super::purpose(ctx,
            "Nhập các phiếu giấy đã được gõ vào tệp CSV hoặc XLSX. Chạy thử trước để kiểm tra từng dòng; phiếu đã nhập rồi không bị nhập hai lần.",
            "Import paper forms typed into a CSV or XLSX file. Try a dry run first to check every row; a form already imported is not imported twice.")}
        {problems}{report}
        // Column names are quoted as code: they are typed as they are, in either language.
        {match ctx.locale {
            crate::i18n::Locale::Vi => view! {
                <p class="hint">"CSV hoặc XLSX, mỗi dòng một phiếu: cột "<code>"code"</code>" (mã mời in trên phiếu) hoặc "<code>"psu"</code>" và "<code>"form_id"</code>" (phiếu phát không kèm mã), cột "<code>"language"</code>" ("<code>"vi"</code>"/"<code>"en"</code>", không bắt buộc), và mỗi câu hỏi một cột theo mã câu hỏi. Ô trống là không trả lời. Nhập lại cùng tệp không lưu thêm gì."</p>
            }.into_any(),
            crate::i18n::Locale::En => view! {
                <p class="hint">"CSV or XLSX, one row per form: a "<code>"code"</code>" column (the invitation code printed on the form) or "<code>"psu"</code>" and "<code>"form_id"</code>" (forms handed out without a code), an optional "<code>"language"</code>" column ("<code>"vi"</code>"/"<code>"en"</code>"), and one column per item code. An empty cell is no answer. Importing the same file again stores nothing new."</p>
            }.into_any(),
        }}
        {wave.wave.questionnaire.as_ref().map(|q| {
            let href = format!("/staff/questionnaires/{}/{}", q.code, q.version);
            view! { <p><a href=href>{ctx.t("Mã câu hỏi, câu bắt buộc và điều kiện bỏ qua: xem bảng hỏi của đợt", "Item codes, required items and skip rules: see the wave's questionnaire")}</a></p> }
        })}
        <form method="post" action=action enctype="multipart/form-data" class="stacked">
            <label for="file">{ctx.t("Tệp phiếu giấy", "Paper forms file")}</label>
            <input id="file" name="file" type="file" accept=".csv,.xlsx" required />
            <label><input type="checkbox" name="dry_run" value="yes" checked=true />{ctx.t(" Chạy thử (không lưu)", " Dry run (store nothing)")}</label>
            <button type="submit">{ctx.t("Kiểm tra và nhập", "Check and import")}</button>
        </form>
    };
    document(ctx, &title, body)
}

// A wave's exports.

pub fn export_page(ctx: &Ctx, wave: &WaveDetails, province: Option<String>) -> String {
    let code = wave.wave.code.clone();
    let title = format!("{} · {}", ctx.t("Xuất dữ liệu", "Exports"), code);
    let scope = match province {
        Some(p) => format!("{} {p}", ctx.t("Chỉ tỉnh", "Your province only:")),
        None => ctx.t("Tất cả các tỉnh", "All provinces").to_owned(),
    };
    let link = |ext: &str, label: &'static str| {
        let href = format!("/staff/waves/{code}/export.{ext}");
        view! { <li><a href=href download="">{label}</a></li> }
    };
    let back = format!("/staff/waves/{code}");
    let body = view! {
        <p class="crumbs"><a href=back>{code.clone()}</a></p>
        <h1>{title.clone()}</h1>
        {super::purpose(ctx,
            "Tải phiếu trả lời của đợt (một dòng một phiếu, không có thông tin cá nhân) để phân tích ở nơi khác. Mỗi lần tải được ghi vào nhật ký.",
            "Download the wave's responses (one row per form, no personal data) to analyse elsewhere. Every download is recorded in the audit log.")}
        <p>{scope}</p>
        <ul class="tasks">
            {link("csv", "CSV (UTF-8, Excel)")}
            {link("xlsx", "XLSX")}
            {link("json", "JSON")}
            {link("codebook.csv", ctx.t("Sổ mã (codebook)", "Codebook"))}
            {link("R", ctx.t("Đoạn mã R khai báo thiết kế mẫu", "R snippet declaring the design"))}
        </ul>
        <p class="hint">{ctx.t(
            "Mỗi dòng có một mã ngẫu nhiên (export_id), không phải số biên nhận của người trả lời.",
            "Each row carries a random export_id, never the respondent's receipt number.")}</p>
    };
    document(ctx, &title, body)
}
