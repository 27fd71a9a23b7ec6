//! Questionnaire versions: list, one version, and what changed between two.

use leptos::prelude::*;

use super::{Ctx, document};
use crate::survey::questionnaire::Questionnaire;

pub fn questionnaires(
    ctx: &Ctx,
    versions: Vec<(String, u32)>,
    can_upload: bool,
    errors: Vec<String>,
) -> String {
    let title = ctx.t("Bảng hỏi", "Questionnaires");
    let rows = versions
        .iter()
        .map(|(code, version)| {
            let href = format!("/staff/questionnaires/{code}/{version}");
            view! { <li><a href=href>{format!("{code} v{version}")}</a></li> }
        })
        .collect_view();
    let compare = (versions.len() > 1).then(|| {
        let opts = |selected: usize| {
            versions
                .iter()
                .enumerate()
                .map(|(i, (code, version))| {
                    let value = format!("{code}@{version}");
                    view! { <option value=value selected={i == selected}>{format!("{code} v{version}")}</option> }
                })
                .collect_view()
        };
        let last = versions.len() - 1;
        view! {
            <h2>{ctx.t("So sánh hai phiên bản", "Compare two versions")}</h2>
            <form method="get" action="/staff/questionnaires/diff" class="inline">
                <label for="from">{ctx.t("Từ", "From")}</label>
                <select id="from" name="from">{opts(last.saturating_sub(1))}</select>
                <label for="to">{ctx.t("Đến", "To")}</label>
                <select id="to" name="to">{opts(last)}</select>
                <button type="submit">{ctx.t("So sánh", "Compare")}</button>
            </form>
        }
    });
    let upload = can_upload.then(|| {
        let errors = (!errors.is_empty()).then(|| {
            let items = errors.iter().map(|e| view! { <li>{e.clone()}</li> }).collect_view();
            view! { <div class="problems" role="alert"><ul>{items}</ul></div> }
        });
        view! {
            <h2>{ctx.t("Đăng phiên bản mới", "Publish a new version")}</h2>
            // The folder is a path in the repository: quoted as code.
            <p class="hint">
                {ctx.t("Tệp TOML như bảng hỏi mẫu (thư mục ", "A TOML file like the built-in questionnaire (folder ")}
                <code>"data/questionnaires"</code>
                {ctx.t("). Phiên bản đã đăng không thể sửa: thay đổi cần số phiên bản mới.", "). Published versions never change: a change needs a new version number.")}
            </p>
            {errors}
            <form method="post" action="/staff/questionnaires" enctype="multipart/form-data" class="inline">
                <label for="file">{ctx.t("Tệp bảng hỏi", "Questionnaire file")}</label>
                <input id="file" name="file" type="file" accept=".toml" required />
                <button type="submit">{ctx.t("Đăng", "Publish")}</button>
            </form>
        }
    });
    let body = view! {
        <h1>{title}</h1>
        {super::purpose(ctx,
            "Các phiên bản bảng hỏi đã ban hành. Một phiên bản không sửa được; mọi thay đổi là một phiên bản mới, và có thể so sánh hai phiên bản câu theo câu.",
            "The published questionnaire versions. A version cannot be edited; every change is a new version, and two versions can be compared item by item.")}
        <ul>{rows}</ul>{compare}{upload}
    };
    document(ctx, title, body)
}

/// A questionnaire as respondents see it, both languages side by side.
pub fn questionnaire(ctx: &Ctx, q: Questionnaire) -> String {
    let title = format!("{} v{}", q.code, q.version);
    let sections = q
        .sections
        .iter()
        .map(|section| {
            let items = section
                .items
                .iter()
                .map(|item| {
                    let choices = q
                        .choices(item)
                        .map(|c| view! { <li><b>{c.value}</b>" "{c.vi.clone()}" / "<span lang="en">{c.en.clone()}</span></li> })
                        .collect_view();
                    let rule = item.show_if.as_ref().map(|cond| {
                        format!(
                            "{} {} ∈ {:?}",
                            ctx.t("Chỉ hỏi khi", "Asked only when"),
                            cond.item,
                            cond.any_of
                        )
                    });
                    let required = if item.required { "" } else { ctx.t(" (không bắt buộc)", " (optional)") };
                    view! {
                        <li class="item">
                            <p><code>{item.code.clone()}</code>{required}</p>
                            <p lang="vi">{item.vi.clone()}</p>
                            <p lang="en" class="en">{item.en.clone()}</p>
                            {rule.map(|r| view! { <p class="hint">{r}</p> })}
                            <ul class="choices">{choices}</ul>
                        </li>
                    }
                })
                .collect_view();
            view! {
                <section>
                    <h2><span lang="vi">{section.title_vi.clone()}</span>" / "<span lang="en">{section.title_en.clone()}</span></h2>
                    <ol class="items">{items}</ol>
                </section>
            }
        })
        .collect_view();
    let body = view! {
        <p class="crumbs"><a href="/staff/questionnaires">{ctx.t("Bảng hỏi", "Questionnaires")}</a></p>
        <h1><span lang="vi">{q.title_vi.clone()}</span></h1>
        <p lang="en" class="en">{q.title_en.clone()}</p>
        <p><code>{title.clone()}</code></p>
        {super::purpose(ctx,
            "Toàn bộ câu hỏi của phiên bản này, như người trả lời thấy, bằng tiếng Việt và tiếng Anh, với các lựa chọn và điều kiện hiển thị.",
            "Every question of this version as respondents see it, in Vietnamese and English, with its choices and when it is shown.")}
        {sections}
    };
    document(ctx, &title, body)
}

pub fn questionnaire_diff(ctx: &Ctx, from: &Questionnaire, to: &Questionnaire) -> String {
    let title = format!(
        "{} v{} → {} v{}",
        from.code, from.version, to.code, to.version
    );
    let changes = crate::staff::changes::compare(from, to);
    let empty = changes.is_empty().then(|| view! { <p class="empty">{ctx.t("Không có thay đổi về câu hỏi.", "No item changed.")}</p> });
    let rows = changes
        .into_iter()
        .map(|change| {
            use crate::staff::changes::Change;
            let (item, kind, what) = match change {
                Change::Added(item) => (item, ctx.t("Thêm", "Added"), String::new()),
                Change::Removed(item) => (item, ctx.t("Bỏ", "Removed"), String::new()),
                Change::Changed { item, what } => {
                    let what: Vec<&str> = what.iter().map(|(vi, en)| ctx.t(vi, en)).collect();
                    (item, ctx.t("Sửa", "Changed"), what.join("; "))
                }
            };
            view! { <tr><td><code>{item}</code></td><td>{kind}</td><td>{what}</td></tr> }
        })
        .collect_view();
    let body = view! {
        <p class="crumbs"><a href="/staff/questionnaires">{ctx.t("Bảng hỏi", "Questionnaires")}</a></p>
        <h1>{title.clone()}</h1>
        {super::purpose(ctx,
            "Những câu hỏi được thêm, bỏ hoặc sửa giữa hai phiên bản; kết quả của một câu đã sửa có thể không so sánh được giữa hai năm.",
            "The questions added, removed or changed between two versions; a changed question's results may not compare across the two years.")}
        {empty}
        <table class="data"><thead><tr>
            <th scope="col">{ctx.t("Câu hỏi", "Item")}</th>
            <th scope="col">{ctx.t("Thay đổi", "Change")}</th>
            <th scope="col">{ctx.t("Chi tiết", "Details")}</th>
        </tr></thead><tbody>{rows}</tbody></table>
    };
    document(ctx, &title, body)
}
