//! The waves: list, creation form and a wave's page.

use leptos::prelude::*;

use super::{Ctx, document};
use crate::domain::Province;
use crate::staff::frame::Frame;
use crate::staff::port::WaveDetails;
use crate::staff::roles::Action;

fn wave_status(ctx: &Ctx, details: &WaveDetails, today: &str) -> &'static str {
    let s = &details.schedule;
    // `closed`: by hand or past its closing date (the store decides, for codes too).
    if details.wave.closed {
        ctx.t("Đã đóng", "Closed")
    } else if details.wave.questionnaire.is_none() {
        ctx.t("Chưa có bảng hỏi", "No questionnaire")
    } else if s.opens_on.as_deref().is_some_and(|d| d > today) {
        ctx.t("Sắp mở", "Not open yet")
    } else {
        ctx.t("Đang thu thập", "Collecting")
    }
}

pub fn waves(ctx: &Ctx, waves: Vec<WaveDetails>, today: &str, can_create: bool) -> String {
    let title = ctx.t("Đợt khảo sát", "Survey waves");
    let empty = waves.is_empty().then(|| {
        view! { <p class="empty">{ctx.t(
        "Chưa có đợt khảo sát nào. Cán bộ Bộ Nội vụ tạo đợt đầu tiên.",
        "No survey waves yet. Ministry staff create the first one.")}</p> }
    });
    let rows = waves
        .iter()
        .map(|w| {
            let status = wave_status(ctx, w, today);
            let href = format!("/staff/waves/{}", w.wave.code);
            let questionnaire = w
                .wave
                .questionnaire
                .as_ref()
                .map(|q| format!("{} v{}", q.code, q.version))
                .unwrap_or_else(|| "—".into());
            let unset = ("chưa đặt", "not set");
            let dates = format!(
                "{} → {}",
                super::day(ctx.locale, w.schedule.opens_on.as_deref(), unset),
                super::day(ctx.locale, w.schedule.closes_on.as_deref(), unset)
            );
            view! {
                <tr>
                    <td><a href=href>{w.wave.code.clone()}</a></td>
                    <td>{w.wave.title.clone()}</td>
                    <td>{w.wave.year}</td>
                    <td>{super::geography_label(ctx.locale, w.wave.geography)}</td>
                    <td>{questionnaire}</td>
                    <td>{dates}</td>
                    <td>{status}</td>
                </tr>
            }
        })
        .collect_view();
    let table = (!waves.is_empty()).then(|| {
        view! {
            <table class="data">
                <thead><tr>
                    <th scope="col">{ctx.t("Mã", "Code")}</th>
                    <th scope="col">{ctx.t("Tên", "Title")}</th>
                    <th scope="col">{ctx.t("Năm", "Year")}</th>
                    <th scope="col">{ctx.t("Địa giới", "Geography")}</th>
                    <th scope="col">{ctx.t("Bảng hỏi", "Questionnaire")}</th>
                    <th scope="col">{ctx.t("Thời gian", "Dates")}</th>
                    <th scope="col">{ctx.t("Trạng thái", "Status")}</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
    });
    let create = can_create.then(|| {
        view! { <p><a class="button" href="/staff/waves/new">{ctx.t("Tạo đợt khảo sát", "Create a wave")}</a></p> }
    });
    let body = view! {
        <h1>{title}</h1>
        {super::purpose(ctx,
            "Mỗi đợt là một lần khảo sát trong năm: bảng hỏi, dàn mẫu, mã mời, thu thập, rồi tính và công bố kết quả. Chọn một đợt để làm việc với nó.",
            "Each wave is one year's survey: questionnaire, frame, invitation codes, collection, then results computed and published. Choose a wave to work on it.")}
        {create}{empty}{table}
    };
    document(ctx, title, body)
}

/// The values of the wave form, kept when it is shown again with an error.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct WaveForm {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub year: String,
    #[serde(default)]
    pub geography: String,
    #[serde(default)]
    pub questionnaire: String,
    #[serde(default)]
    pub opens_on: String,
    #[serde(default)]
    pub closes_on: String,
    #[serde(default)]
    pub methodology_version: String,
}

pub fn wave_new(
    ctx: &Ctx,
    form: WaveForm,
    questionnaires: Vec<(String, u32)>,
    errors: Vec<(String, String)>,
) -> String {
    let title = ctx.t("Tạo đợt khảo sát", "Create a wave");
    let error_for = |field: &str| {
        errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(f, m)| view! { <p class="field-error" id=format!("{f}-error")>{m.clone()}</p> })
    };
    let described = |field: &str| {
        errors
            .iter()
            .any(|(f, _)| f == field)
            .then(|| format!("{field}-error"))
    };
    let options = questionnaires
        .into_iter()
        .map(|(code, version)| {
            let value = format!("{code}@{version}");
            let selected = value == form.questionnaire;
            view! { <option value=value.clone() selected=selected>{format!("{code} v{version}")}</option> }
        })
        .collect_view();
    let geo_2025 = form.geography != "2004";
    let body = view! {
        <h1>{title}</h1>
        {super::purpose(ctx,
            "Tạo đợt trước khi tải dàn mẫu và phát mã. Mã đợt dùng trong đường dẫn và tệp xuất, không đổi được sau khi tạo.",
            "Create the wave before uploading its frame and issuing codes. The wave code appears in links and exported files and cannot be changed later.")}
        <form method="post" action="/staff/waves" class="stacked">
            <label for="code">{ctx.t("Mã đợt (chữ thường, số, gạch ngang)", "Wave code (lower-case letters, digits, dashes)")}</label>
            <input id="code" name="code" required pattern="[a-z0-9-]{3,40}" value=form.code.clone()
                aria-describedby=described("code") />
            {error_for("code")}
            <label for="title">{ctx.t("Tên đợt", "Title")}</label>
            <input id="title" name="title" required maxlength="200" value=form.title.clone()
                aria-describedby=described("title") />
            {error_for("title")}
            <label for="year">{ctx.t("Năm", "Year")}</label>
            <input id="year" name="year" type="number" min="2000" max="2100" required value=form.year.clone()
                aria-describedby=described("year") />
            {error_for("year")}
            <fieldset>
                <legend>{ctx.t("Địa giới hành chính", "Provincial geography")}</legend>
                <label><input type="radio" name="geography" value="2025" checked=geo_2025 />
                    {ctx.t(" 34 tỉnh, thành (từ 1/7/2025)", " 34 units (from 1 July 2025)")}</label>
                <label><input type="radio" name="geography" value="2004" checked=!geo_2025 />
                    {ctx.t(" 63 tỉnh, thành (đến 30/6/2025)", " 63 units (until 30 June 2025)")}</label>
            </fieldset>
            <label for="questionnaire">{ctx.t("Phiên bản bảng hỏi", "Questionnaire version")}</label>
            <select id="questionnaire" name="questionnaire" aria-describedby=described("questionnaire")>{options}</select>
            {error_for("questionnaire")}
            <label for="opens_on">{ctx.t("Ngày mở", "Opens on")}</label>
            <input id="opens_on" name="opens_on" type="date" value=form.opens_on.clone() aria-describedby=described("opens_on") />
            {error_for("opens_on")}
            <label for="closes_on">{ctx.t("Ngày đóng", "Closes on")}</label>
            <input id="closes_on" name="closes_on" type="date" value=form.closes_on.clone() aria-describedby=described("closes_on") />
            {error_for("closes_on")}
            <label for="methodology_version">{ctx.t("Phiên bản phương pháp tính", "Methodology version")}</label>
            <input id="methodology_version" name="methodology_version" maxlength="40" value=form.methodology_version.clone() />
            <button type="submit">{ctx.t("Tạo đợt", "Create the wave")}</button>
        </form>
    };
    document(ctx, title, body)
}

/// Links to what a wave offers, shown only to roles allowed to use them.
pub fn wave_page(
    ctx: &Ctx,
    details: WaveDetails,
    frame: Frame,
    today: &str,
    province_names: Vec<Province>,
) -> String {
    let user = ctx.user.clone();
    let may = |action| user.as_ref().is_some_and(|u| u.may(action));
    let code = details.wave.code.clone();
    let status = wave_status(ctx, &details, today);
    let closed = details.schedule.closed_at.is_some();
    let title = details.wave.title.clone();
    let link = |suffix: &str, label: &'static str| {
        let href = format!("/staff/waves/{code}/{suffix}");
        view! { <li><a href=href>{label}</a></li> }
    };
    let mut actions = Vec::new();
    if may(Action::DesignSample) {
        actions.push(link("design", ctx.t("Thiết kế mẫu", "Sample design")));
    }
    actions.push(link("monitor", ctx.t("Theo dõi tiến độ", "Monitoring")));
    actions.push(link(
        "fieldwork",
        ctx.t(
            "Phát, thu phiếu và tỷ lệ trả lời",
            "Fieldwork and response rates",
        ),
    ));
    actions.push(link(
        "frame",
        ctx.t("Dàn mẫu và chỉ tiêu", "Sample frame and targets"),
    ));
    if may(Action::IssueCodes) {
        actions.push(link("batches", ctx.t("Mã mời", "Invitation batches")));
    }
    if may(Action::ImportPaper) {
        actions.push(link(
            "keying",
            ctx.t(
                "Nhập phiếu giấy hai lần (trên trình duyệt)",
                "Double entry of paper forms (in the browser)",
            ),
        ));
        actions.push(link("import", ctx.t("Nhập phiếu giấy", "Paper import")));
    }
    if may(Action::ReviewResponses) {
        actions.push(link(
            "quality",
            ctx.t("Rà soát chất lượng phiếu", "Quality review of responses"),
        ));
    }
    if may(Action::Export) {
        actions.push(link("export", ctx.t("Xuất dữ liệu", "Exports")));
    }
    if may(Action::ReadResults) {
        actions.push(link(
            "results",
            ctx.t(
                "Kết quả: tính, duyệt, công bố",
                "Results: compute, review, publish",
            ),
        ));
    }
    let close = (may(Action::ManageWaves) && !closed).then(|| {
        let action = format!("/staff/waves/{code}/close");
        view! {
            <form method="post" action=action class="danger-zone">
                <p>{ctx.t(
                    "Đóng đợt: các mã mời ngừng hoạt động và người trả lời thấy thông báo khảo sát đã kết thúc. Không thể mở lại.",
                    "Closing the wave stops its codes; respondents see that the survey has closed. It cannot be reopened.")}</p>
                <label><input type="checkbox" name="confirm" value="yes" required />
                    {ctx.t(" Tôi hiểu, đóng đợt này", " I understand, close this wave")}</label>
                <button type="submit" class="danger">{ctx.t("Đóng đợt", "Close the wave")}</button>
            </form>
        }
    });
    let q = details.wave.questionnaire.as_ref().map(|q| {
        let href = format!("/staff/questionnaires/{}/{}", q.code, q.version);
        view! { <a href=href>{format!("{} v{}", q.code, q.version)}</a> }
    });
    let provinces_in_frame = {
        let mut codes: Vec<&str> = frame
            .strata
            .iter()
            .map(|s| s.province_code.as_str())
            .collect();
        codes.dedup();
        codes.len()
    };
    let frame_line = if frame.psus.is_empty() {
        ctx.t(
            "Chưa có dàn mẫu: tải dàn mẫu lên trước khi phát mã.",
            "No sample frame yet: upload it before issuing codes.",
        )
        .to_owned()
    } else {
        format!(
            "{} {} · {} {} · {} PSU · {} {}",
            provinces_in_frame,
            ctx.t("tỉnh", "provinces"),
            frame.strata.len(),
            ctx.t("tầng", "strata"),
            frame.psus.len(),
            ctx.t("chỉ tiêu", "target completes"),
            frame.total_target()
        )
    };
    let _ = province_names;
    let body = view! {
        <p class="crumbs"><a href="/staff">{ctx.t("Đợt khảo sát", "Waves")}</a></p>
        <h1>{title.clone()}</h1>
        {super::purpose(ctx,
            "Trang chính của đợt: trạng thái, bảng hỏi và các việc theo thứ tự — dàn mẫu, mã mời, theo dõi, nhập phiếu giấy, xuất dữ liệu, kết quả.",
            "The wave's main page: its status, questionnaire and the work in order — frame, invitation codes, monitoring, paper import, exports, results.")}
        <dl class="facts">
            <dt>{ctx.t("Mã", "Code")}</dt><dd><code>{code.clone()}</code></dd>
            <dt>{ctx.t("Trạng thái", "Status")}</dt><dd>{status}</dd>
            <dt>{ctx.t("Năm", "Year")}</dt><dd>{details.wave.year}</dd>
            <dt>{ctx.t("Địa giới", "Geography")}</dt><dd>{super::geography_label(ctx.locale, details.wave.geography)}</dd>
            <dt>{ctx.t("Bảng hỏi", "Questionnaire")}</dt><dd>{q}</dd>
            <dt>{ctx.t("Mở – đóng", "Opens – closes")}</dt>
            <dd>{format!("{} – {}",
                super::day(ctx.locale, details.schedule.opens_on.as_deref(), ("chưa đặt", "not set")),
                super::day(ctx.locale, details.schedule.closes_on.as_deref(), ("chưa đặt", "not set")))}</dd>
            <dt>{ctx.t("Phiên bản phương pháp", "Methodology version")}</dt><dd>{details.schedule.methodology_version.clone().unwrap_or_else(|| ctx.t("chưa ghi", "not recorded").to_owned())}</dd>
            <dt>{ctx.t("Dàn mẫu", "Frame")}</dt><dd>{frame_line}</dd>
        </dl>
        <nav aria-label=ctx.t("Việc của đợt", "Wave tasks")><ul class="tasks">{actions}</ul></nav>
        {close}
    };
    document(ctx, &title, body)
}
