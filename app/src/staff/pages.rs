//! The staff pages, rendered on the server from plain data (the handlers in the server crate
//! load the data, check the role and write the audit log). Every action is a plain form, so the
//! pages need no JavaScript; `/staff.js` only refreshes the monitoring page in place.
//!
//! Wording comes in Vietnamese–English pairs through [`Locale::pick`], so a missing
//! translation cannot compile.

use leptos::prelude::*;

use super::frame::Frame;
use super::port::{AuditFilter, AuditRecord, BatchSummary, Monitoring, RowOutcome, WaveDetails};
use super::roles::{Action, Role, StaffUser};
use super::sheet::CellProblem;
use crate::domain::{Geography, Province};
use crate::i18n::Locale;
use crate::survey::questionnaire::Questionnaire;

/// What every page needs: the language, who is signed in, and where it is.
#[derive(Clone)]
pub struct Ctx {
    pub locale: Locale,
    pub user: Option<StaffUser>,
    /// The request path with its query, for the language switch's way back.
    pub path: String,
    /// A one-line notice above the page ("Wave created.").
    pub notice: Option<String>,
}

impl Ctx {
    pub fn t<'a>(&self, vi: &'a str, en: &'a str) -> &'a str {
        self.locale.pick(vi, en)
    }
}

/// A whole HTML document around a page body.
pub fn document(ctx: &Ctx, title: &str, body: impl IntoView + 'static) -> String {
    let locale = ctx.locale;
    let title = format!("{title} · SIPAS");
    let nav = ctx.user.clone().map(|user| nav(ctx, &user));
    let switch = Locale::ALL
        .into_iter()
        .map(|other| {
            let href = format!(
                "/lang/{}?next={}",
                other.code(),
                crate::url::url_part(&ctx.path)
            );
            view! {
                <li>
                    <a href=href lang=other.code() hreflang=other.code()
                        aria-current=(other == locale).then_some("true")>{other.endonym()}</a>
                </li>
            }
        })
        .collect_view();
    let notice = ctx
        .notice
        .clone()
        .map(|text| view! { <p class="notice" role="status">{text}</p> });
    let skip = ctx.t("Bỏ qua, đến nội dung chính", "Skip to main content");
    let language = ctx.t("Ngôn ngữ", "Language");
    let html = view! {
        <html lang=locale.code()>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="robots" content="noindex" />
                <title>{title}</title>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <link rel="stylesheet" href="/staff.css" />
                <script src="/staff.js" defer></script>
            </head>
            <body class="staff">
                <a class="skip-link" href="#main">{skip}</a>
                <header class="staff-header">
                    <a class="brand" href="/staff">"SIPAS · "{locale.pick("Quản lý khảo sát", "Survey administration")}</a>
                    {nav}
                    <nav aria-label=language><ul class="lang-switch">{switch}</ul></nav>
                </header>
                <main id="main">{notice}{body}</main>
            </body>
        </html>
    }
    .to_html();
    format!("<!DOCTYPE html>{html}")
}

fn nav(ctx: &Ctx, user: &StaffUser) -> impl IntoView + use<> {
    let mut links: Vec<(&'static str, String)> = Vec::new();
    if user.may(Action::Monitor) {
        links.push((ctx.t("Đợt khảo sát", "Waves"), "/staff".into()));
        links.push((
            ctx.t("Bảng hỏi", "Questionnaires"),
            "/staff/questionnaires".into(),
        ));
    }
    if user.may(Action::ManageAccounts) {
        links.push((ctx.t("Tài khoản", "Accounts"), "/staff/users".into()));
    }
    if user.may(Action::ReadAudit) {
        links.push((ctx.t("Nhật ký", "Audit log"), "/staff/audit".into()));
    }
    let (vi, en) = user.role.label();
    let who = format!(
        "{} ({}{})",
        user.display_name,
        ctx.t(vi, en),
        user.province
            .as_ref()
            .map(|p| format!(" {}", p.code))
            .unwrap_or_default()
    );
    let sign_out = ctx.t("Đăng xuất", "Sign out");
    let aria = ctx.t("Chức năng", "Sections");
    let links = links
        .into_iter()
        .map(|(label, href)| view! { <li><a href=href>{label}</a></li> })
        .collect_view();
    view! {
        <nav aria-label=aria class="staff-nav"><ul>{links}</ul></nav>
        <form method="post" action="/staff/logout" class="who">
            <span>{who}</span>" "
            <button type="submit" class="link">{sign_out}</button>
        </form>
    }
}

fn problems_list(ctx: &Ctx, problems: Vec<CellProblem>, total: usize) -> impl IntoView + use<> {
    let heading = if total > problems.len() {
        format!(
            "{} {} ({} {})",
            total,
            ctx.t("lỗi; hiển thị", "problems; showing"),
            problems.len(),
            ctx.t("lỗi đầu", "first")
        )
    } else {
        format!("{total} {}", ctx.t("lỗi", "problems"))
    };
    let row = ctx.t("Dòng", "Row");
    let column = ctx.t("Cột", "Column");
    let problem = ctx.t("Lỗi", "Problem");
    let rows = problems
        .into_iter()
        .map(|p| {
            view! {
                <tr><td>{p.row}</td><td><code>{p.column}</code></td><td>{p.message}</td></tr>
            }
        })
        .collect_view();
    view! {
        <section class="problems" role="alert" aria-labelledby="problems-heading">
            <h2 id="problems-heading">{heading}</h2>
            <p>{ctx.t("Chưa lưu gì. Sửa tệp rồi tải lên lại.", "Nothing was stored. Fix the file and upload it again.")}</p>
            <table><thead><tr><th scope="col">{row}</th><th scope="col">{column}</th><th scope="col">{problem}</th></tr></thead>
            <tbody>{rows}</tbody></table>
        </section>
    }
}

/// How a table is sorted: a column key and a direction, from `?sort=KEY&dir=asc|desc`, so sorting
/// works without JavaScript.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct Sort {
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub dir: String,
}

impl Sort {
    pub fn descending(&self) -> bool {
        self.dir == "desc"
    }

    /// Orders `items` by the chosen column (`keys` maps column keys to comparisons); an unknown
    /// key keeps the given order.
    pub fn apply<T>(&self, items: &mut [T], keys: &[SortKey<T>]) {
        if let Some((_, compare)) = keys.iter().find(|(key, _)| *key == self.sort) {
            items.sort_by(|a, b| {
                let order = compare(a, b);
                if self.descending() {
                    order.reverse()
                } else {
                    order
                }
            });
        }
    }
}

/// A sortable column: its key in the address, and how two rows compare by it.
pub type SortKey<T> = (&'static str, fn(&T, &T) -> std::cmp::Ordering);

/// A column header that sorts the table by this column (and reverses on a second click).
fn sort_header(
    base: &str,
    key: &'static str,
    label: &'static str,
    sort: &Sort,
) -> impl IntoView + use<> {
    let active = sort.sort == key;
    let next = if active && !sort.descending() {
        "desc"
    } else {
        "asc"
    };
    let separator = if base.contains('?') { '&' } else { '?' };
    let href = format!("{base}{separator}sort={key}&dir={next}");
    let aria_sort = match (active, sort.descending()) {
        (false, _) => "none",
        (true, false) => "ascending",
        (true, true) => "descending",
    };
    let arrow = active.then_some(if sort.descending() { " ▼" } else { " ▲" });
    view! { <th scope="col" aria-sort=aria_sort><a href=href>{label}{arrow}</a></th> }
}

// ---------------------------------------------------------------- sign-in

pub fn sign_in(ctx: &Ctx, error: Option<String>, next: String, username: String) -> String {
    let body = view! {
        <section class="narrow">
            <h1>{ctx.t("Đăng nhập", "Sign in")}</h1>
            {error.map(|e| view! { <p class="error" role="alert" id="sign-in-error">{e}</p> })}
            <form method="post" action="/staff/login">
                <input type="hidden" name="next" value=next />
                <label for="username">{ctx.t("Tên đăng nhập", "Username")}</label>
                <input id="username" name="username" autocomplete="username" required value=username
                    autocapitalize="none" spellcheck="false" />
                <label for="password">{ctx.t("Mật khẩu", "Password")}</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required />
                <button type="submit">{ctx.t("Đăng nhập", "Sign in")}</button>
            </form>
            <p class="hint">{ctx.t(
                "Chưa có tài khoản? Quản trị viên tạo tài khoản cho bạn. Quản trị viên đầu tiên được tạo bằng lệnh sipas admin create trên máy chủ.",
                "No account yet? An administrator creates it for you. The first administrator is created with sipas admin create on the server.")}</p>
        </section>
    };
    document(ctx, ctx.t("Đăng nhập", "Sign in"), body)
}

/// A short page for refusals and errors (403, 404, 409, 429).
pub fn message(ctx: &Ctx, title: &str, text: String) -> String {
    let back = ctx.t("Về trang chính", "Back to the start");
    let body = view! {
        <section class="narrow">
            <h1>{title.to_owned()}</h1>
            <p>{text}</p>
            <p><a href="/staff">{back}</a></p>
        </section>
    };
    document(ctx, title, body)
}

// ---------------------------------------------------------------- waves

fn wave_status(ctx: &Ctx, details: &WaveDetails, today: &str) -> &'static str {
    let s = &details.schedule;
    if s.closed_at.is_some() || s.closes_on.as_deref().is_some_and(|d| d < today) {
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
            let dates = format!(
                "{} → {}",
                w.schedule.opens_on.clone().unwrap_or_else(|| "…".into()),
                w.schedule.closes_on.clone().unwrap_or_else(|| "…".into())
            );
            view! {
                <tr>
                    <td><a href=href>{w.wave.code.clone()}</a></td>
                    <td>{w.wave.title.clone()}</td>
                    <td>{w.wave.year}</td>
                    <td>{w.wave.geography.key()}</td>
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
    let body = view! { <h1>{title}</h1>{create}{empty}{table} };
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
    actions.push(link("monitor", ctx.t("Theo dõi tiến độ", "Monitoring")));
    actions.push(link(
        "frame",
        ctx.t("Dàn mẫu và chỉ tiêu", "Sample frame and targets"),
    ));
    if may(Action::IssueCodes) {
        actions.push(link("batches", ctx.t("Mã mời", "Invitation batches")));
    }
    if may(Action::ImportPaper) {
        actions.push(link("import", ctx.t("Nhập phiếu giấy", "Paper import")));
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
        <dl class="facts">
            <dt>{ctx.t("Mã", "Code")}</dt><dd><code>{code.clone()}</code></dd>
            <dt>{ctx.t("Trạng thái", "Status")}</dt><dd>{status}</dd>
            <dt>{ctx.t("Năm", "Year")}</dt><dd>{details.wave.year}</dd>
            <dt>{ctx.t("Địa giới", "Geography")}</dt><dd>{details.wave.geography.key()}</dd>
            <dt>{ctx.t("Bảng hỏi", "Questionnaire")}</dt><dd>{q}</dd>
            <dt>{ctx.t("Mở – đóng", "Opens – closes")}</dt>
            <dd>{format!("{} – {}", details.schedule.opens_on.clone().unwrap_or_default(), details.schedule.closes_on.clone().unwrap_or_default())}</dd>
            <dt>{ctx.t("Phương pháp", "Methodology")}</dt><dd>{details.schedule.methodology_version.clone().unwrap_or_default()}</dd>
            <dt>{ctx.t("Dàn mẫu", "Frame")}</dt><dd>{frame_line}</dd>
        </dl>
        <nav aria-label=ctx.t("Việc của đợt", "Wave tasks")><ul class="tasks">{actions}</ul></nav>
        {close}
    };
    document(ctx, &title, body)
}

// ---------------------------------------------------------------- questionnaires

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
            <p class="hint">{ctx.t(
                "Tệp TOML như bảng hỏi mẫu (data/questionnaires). Phiên bản đã đăng không thể sửa: thay đổi cần số phiên bản mới.",
                "A TOML file like the built-in questionnaire (data/questionnaires). Published versions never change: a change needs a new version number.")}</p>
            {errors}
            <form method="post" action="/staff/questionnaires" enctype="multipart/form-data" class="inline">
                <label for="file">{ctx.t("Tệp bảng hỏi", "Questionnaire file")}</label>
                <input id="file" name="file" type="file" accept=".toml" required />
                <button type="submit">{ctx.t("Đăng", "Publish")}</button>
            </form>
        }
    });
    let body = view! { <h1>{title}</h1><ul>{rows}</ul>{compare}{upload} };
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
        {sections}
    };
    document(ctx, &title, body)
}

/// One line of a comparison between two questionnaire versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added(String),
    Removed(String),
    Changed { item: String, what: String },
}

/// What changed between two versions, item by item (wording, scale, choices, rule, required).
pub fn compare(from: &Questionnaire, to: &Questionnaire) -> Vec<Change> {
    let mut changes = Vec::new();
    for item in from.items() {
        match to.item(&item.code) {
            None => changes.push(Change::Removed(item.code.clone())),
            Some(new) => {
                let mut what = Vec::new();
                if item.vi != new.vi {
                    what.push(format!("vi: «{}» → «{}»", item.vi, new.vi));
                }
                if item.en != new.en {
                    what.push(format!("en: «{}» → «{}»", item.en, new.en));
                }
                let old_choices: Vec<_> = from
                    .choices(item)
                    .map(|c| (c.value, c.vi.clone(), c.en.clone()))
                    .collect();
                let new_choices: Vec<_> = to
                    .choices(new)
                    .map(|c| (c.value, c.vi.clone(), c.en.clone()))
                    .collect();
                if old_choices != new_choices {
                    what.push("choices".to_owned());
                }
                if item.required != new.required {
                    what.push(format!("required: {} → {}", item.required, new.required));
                }
                if item.show_if != new.show_if {
                    what.push("show_if".to_owned());
                }
                if !what.is_empty() {
                    changes.push(Change::Changed {
                        item: item.code.clone(),
                        what: what.join("; "),
                    });
                }
            }
        }
    }
    for item in to.items() {
        if from.item(&item.code).is_none() {
            changes.push(Change::Added(item.code.clone()));
        }
    }
    changes
}

pub fn questionnaire_diff(ctx: &Ctx, from: &Questionnaire, to: &Questionnaire) -> String {
    let title = format!(
        "{} v{} → {} v{}",
        from.code, from.version, to.code, to.version
    );
    let changes = compare(from, to);
    let empty = changes.is_empty().then(|| view! { <p class="empty">{ctx.t("Không có thay đổi về câu hỏi.", "No item changed.")}</p> });
    let rows = changes
        .into_iter()
        .map(|change| {
            let (item, kind, what) = match change {
                Change::Added(item) => (item, ctx.t("Thêm", "Added"), String::new()),
                Change::Removed(item) => (item, ctx.t("Bỏ", "Removed"), String::new()),
                Change::Changed { item, what } => (item, ctx.t("Sửa", "Changed"), what),
            };
            view! { <tr><td><code>{item}</code></td><td>{kind}</td><td>{what}</td></tr> }
        })
        .collect_view();
    let body = view! {
        <p class="crumbs"><a href="/staff/questionnaires">{ctx.t("Bảng hỏi", "Questionnaires")}</a></p>
        <h1>{title.clone()}</h1>
        {empty}
        <table class="data"><thead><tr>
            <th scope="col">{ctx.t("Câu hỏi", "Item")}</th>
            <th scope="col">{ctx.t("Thay đổi", "Change")}</th>
            <th scope="col">{ctx.t("Chi tiết", "Details")}</th>
        </tr></thead><tbody>{rows}</tbody></table>
    };
    document(ctx, &title, body)
}

// ---------------------------------------------------------------- frame

pub fn frame_page(
    ctx: &Ctx,
    wave: &WaveDetails,
    frame: Frame,
    can_upload: bool,
    problems: Option<(Vec<CellProblem>, usize)>,
) -> String {
    let code = wave.wave.code.clone();
    let title = format!("{} · {}", ctx.t("Dàn mẫu", "Sample frame"), code);
    let upload = can_upload.then(|| {
        let action = format!("/staff/waves/{code}/frame");
        view! {
            <h2>{ctx.t("Tải dàn mẫu lên", "Upload the frame")}</h2>
            <p class="hint">{ctx.t(
                "CSV hoặc XLSX, mỗi dòng một PSU (xã/phường) được chọn, các cột: province, stratum, stratum_population, stratum_psus, psu, psu_name, target. Tải lên lại sẽ thay thế toàn bộ dàn mẫu (PSU đã có mã mời phải giữ nguyên).",
                "CSV or XLSX, one row per sampled PSU (commune), columns: province, stratum, stratum_population, stratum_psus, psu, psu_name, target. Uploading again replaces the whole frame (PSUs with codes must stay as they are).")}</p>
            <dl class="facts">
                <dt>"province"</dt><dd>{ctx.t("mã tỉnh hai chữ số theo địa giới của đợt (ví dụ 01 Hà Nội, 79 Hồ Chí Minh)", "the two-digit province code in the wave's geography (e.g. 01 Hà Nội, 79 Hồ Chí Minh)")}</dd>
                <dt>"stratum"</dt><dd>{ctx.t("tên tầng do bạn đặt, ví dụ urban, rural", "your name for the stratum, e.g. urban, rural")}</dd>
                <dt>"stratum_population"</dt><dd>{ctx.t("số người trưởng thành sống trong tầng", "adults living in the stratum")}</dd>
                <dt>"stratum_psus"</dt><dd>{ctx.t("tổng số xã/phường của tầng (được chọn hay không)", "communes in the stratum in total, sampled or not")}</dd>
                <dt>"psu, psu_name"</dt><dd>{ctx.t("mã và tên xã/phường được chọn", "code and name of the sampled commune")}</dd>
                <dt>"target"</dt><dd>{ctx.t("số phiếu hoàn thành cần đạt ở xã/phường này", "completes wanted in this commune")}</dd>
            </dl>
            <form method="post" action=action enctype="multipart/form-data" class="inline">
                <label for="file">{ctx.t("Tệp dàn mẫu", "Frame file")}</label>
                <input id="file" name="file" type="file" accept=".csv,.xlsx" required />
                <button type="submit">{ctx.t("Tải lên", "Upload")}</button>
            </form>
        }
    });
    let problems = problems.map(|(listed, total)| problems_list(ctx, listed, total));
    let empty = frame.psus.is_empty().then(|| {
        view! { <p class="empty">{ctx.t("Chưa có dàn mẫu.", "No sample frame yet.")}</p> }
    });
    let strata = frame
        .strata
        .iter()
        .map(|s| view! { <tr><td>{s.province_code.clone()}</td><td>{s.stratum.clone()}</td><td class="num">{s.population}</td><td class="num">{s.psus_in_population}</td></tr> })
        .collect_view();
    let psus = frame
        .psus
        .iter()
        .map(|p| view! { <tr><td>{p.province_code.clone()}</td><td>{p.stratum.clone()}</td><td>{p.psu.clone()}</td><td>{p.name.clone()}</td><td class="num">{p.target}</td></tr> })
        .collect_view();
    let tables = (!frame.psus.is_empty()).then(|| view! {
        <h2>{ctx.t("Tầng", "Strata")}</h2>
        <table class="data"><thead><tr>
            <th scope="col">{ctx.t("Tỉnh", "Province")}</th><th scope="col">{ctx.t("Tầng", "Stratum")}</th>
            <th scope="col">{ctx.t("Dân số", "Population")}</th><th scope="col">{ctx.t("Số PSU", "PSUs")}</th>
        </tr></thead><tbody>{strata}</tbody></table>
        <h2>{ctx.t("PSU được chọn", "Sampled PSUs")}</h2>
        <table class="data"><thead><tr>
            <th scope="col">{ctx.t("Tỉnh", "Province")}</th><th scope="col">{ctx.t("Tầng", "Stratum")}</th>
            <th scope="col">PSU</th><th scope="col">{ctx.t("Tên", "Name")}</th><th scope="col">{ctx.t("Chỉ tiêu", "Target")}</th>
        </tr></thead><tbody>{psus}</tbody></table>
    });
    let back = format!("/staff/waves/{code}");
    let body = view! {
        <p class="crumbs"><a href=back>{code.clone()}</a></p>
        <h1>{title.clone()}</h1>
        {problems}{upload}{empty}{tables}
    };
    document(ctx, &title, body)
}

// ---------------------------------------------------------------- batches

pub fn batches_page(
    ctx: &Ctx,
    wave: &WaveDetails,
    frame: Frame,
    mut batches: Vec<BatchSummary>,
    request_id: String,
    error: Option<String>,
    sort: Sort,
) -> String {
    let code = wave.wave.code.clone();
    sort.apply(
        &mut batches,
        &[
            ("batch", |a, b| a.id.cmp(&b.id)),
            ("province", |a, b| a.province_code.cmp(&b.province_code)),
            ("issued", |a, b| a.size.cmp(&b.size)),
            ("used", |a, b| a.used.cmp(&b.used)),
            ("progress", |a, b| a.in_progress.cmp(&b.in_progress)),
            ("date", |a, b| a.issued_at.cmp(&b.issued_at)),
        ],
    );
    let sort_base = format!("/staff/waves/{code}/batches");
    let title = format!("{} · {}", ctx.t("Mã mời", "Invitation batches"), code);
    let closed = wave.schedule.closed_at.is_some();
    let issue = if frame.psus.is_empty() {
        view! { <p class="empty">{ctx.t(
        "Chưa có dàn mẫu: cần tải dàn mẫu lên trước khi phát mã.",
        "No sample frame yet: the frame must be uploaded before codes can be issued.")}</p> }
        .into_any()
    } else if closed {
        view! { <p class="empty">{ctx.t("Đợt đã đóng.", "The wave is closed.")}</p> }.into_any()
    } else {
        let mut provinces: Vec<String> = frame
            .strata
            .iter()
            .map(|s| s.province_code.clone())
            .collect();
        provinces.dedup();
        let targets = provinces
            .iter()
            .map(|p| view! { <option value=format!("province:{p}")>{format!("{} {p}", ctx.t("Cả tỉnh", "Whole province"))}</option> })
            .collect_view();
        let strata = frame
            .strata
            .iter()
            .map(|s| view! { <option value=format!("stratum:{}:{}", s.province_code, s.stratum)>{format!("{} {} · {}", ctx.t("Tầng", "Stratum"), s.stratum, s.province_code)}</option> })
            .collect_view();
        let psus = frame
            .psus
            .iter()
            .map(|p| view! { <option value=format!("psu:{}", p.psu)>{format!("PSU {} · {} ({})", p.psu, p.name, p.province_code)}</option> })
            .collect_view();
        let action = format!("/staff/waves/{code}/batches");
        view! {
            <h2>{ctx.t("Phát mã mời", "Issue codes")}</h2>
            <p class="hint">{ctx.t(
                "Mã chỉ hiện một lần, ngay sau khi phát: in phiếu hoặc tải CSV ở trang tiếp theo. Khi phát cho cả tầng hoặc tỉnh, số mã được chia theo chỉ tiêu của từng PSU.",
                "Codes are shown once, right after issuing: print the sheet or download the CSV on the next page. Issued for a stratum or a province, the codes are shared out by each PSU's target.")}</p>
            {error.map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <form method="post" action=action class="inline">
                <input type="hidden" name="request_id" value=request_id />
                <label for="target">{ctx.t("Cho", "For")}</label>
                <select id="target" name="target">{targets}{strata}{psus}</select>
                <label for="count">{ctx.t("Số mã", "Count")}</label>
                <input id="count" name="count" type="number" min="1" max="5000" value="20" required />
                <button type="submit">{ctx.t("Phát mã", "Issue")}</button>
            </form>
        }.into_any()
    };
    let empty = batches.is_empty().then(|| view! {
        <p class="empty">{ctx.t("Chưa phát mã nào: hãy phát một lô.", "No codes issued yet: issue a batch.")}</p>
    });
    let rows = batches
        .iter()
        .map(|b| {
            let void = b.voided_at.is_none().then(|| {
                let action = format!("/staff/batches/{}/void", b.id);
                view! {
                    <form method="post" action=action class="inline">
                        <button type="submit" class="danger small"
                            aria-label=format!("{} {}", ctx.t("Hủy lô", "Void batch"), b.id)>{ctx.t("Hủy lô", "Void")}</button>
                    </form>
                }
            });
            let state = b.voided_at.as_ref().map(|at| format!("{} {}", ctx.t("đã hủy", "voided"), &at[..at.len().min(10)]));
            view! {
                <tr>
                    <td><code>{b.id.clone()}</code></td>
                    <td>{b.province_code.clone()}</td>
                    <td>{b.scope.clone()}</td>
                    <td class="num">{b.size}</td>
                    <td class="num">{b.used}</td>
                    <td class="num">{b.in_progress}</td>
                    <td>{b.issued_by.clone()}<br/><small>{b.issued_at.clone()}</small></td>
                    <td>{state}{void}</td>
                </tr>
            }
        })
        .collect_view();
    let table = (!batches.is_empty()).then(|| view! {
        <table class="data sortable"><thead><tr>
            {sort_header(&sort_base, "batch", ctx.t("Lô", "Batch"), &sort)}
            {sort_header(&sort_base, "province", ctx.t("Tỉnh", "Province"), &sort)}
            <th scope="col">{ctx.t("Phạm vi", "For")}</th>
            {sort_header(&sort_base, "issued", ctx.t("Đã phát", "Issued"), &sort)}
            {sort_header(&sort_base, "used", ctx.t("Đã trả lời", "Used"), &sort)}
            {sort_header(&sort_base, "progress", ctx.t("Đang trả lời", "In progress"), &sort)}
            {sort_header(&sort_base, "date", ctx.t("Người phát, lúc", "Issued by, at"), &sort)}
            <th scope="col"><span class="visually-hidden">{ctx.t("Thao tác", "Actions")}</span></th>
        </tr></thead><tbody>{rows}</tbody></table>
    });
    let back = format!("/staff/waves/{code}");
    let body = view! {
        <p class="crumbs"><a href=back>{code.clone()}</a></p>
        <h1>{title.clone()}</h1>
        {issue}
        <h2>{ctx.t("Các lô đã phát", "Batches")}</h2>
        {empty}{table}
    };
    document(ctx, &title, body)
}

/// One printed invitation: the QR code (an SVG made by the server), the code and its link.
pub struct Card {
    pub code_display: String,
    pub code: String,
    pub link: String,
    pub qr_svg: String,
    pub psu: String,
    pub psu_name: String,
}

/// The printable A4 sheet of a new batch, with the form that downloads the same codes as CSV.
pub fn batch_sheet(
    ctx: &Ctx,
    wave_title: &str,
    batch_id: &str,
    base_url: &str,
    cards: Vec<Card>,
) -> String {
    let title = format!(
        "{} {batch_id}",
        ctx.t("Phiếu mời, lô", "Invitation sheet, batch")
    );
    let codes: Vec<String> = cards.iter().map(|c| c.code.clone()).collect();
    let csv_action = format!("/staff/batches/{batch_id}/codes.csv");
    let host = base_url
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .to_owned();
    let cards = cards
        .into_iter()
        .map(|card| {
            let host = host.clone();
            view! {
                <article class="card">
                    <div class="qr" inner_html=card.qr_svg aria-hidden="true"></div>
                    <div>
                        <p class="card-title" lang="vi">"Khảo sát sự hài lòng của người dân (SIPAS)"</p>
                        <p lang="vi">"Quét mã QR bằng điện thoại, hoặc vào "<b>{format!("{host}/s")}</b>" và nhập mã:"</p>
                        <p class="code">{card.code_display}</p>
                        <p class="small" lang="vi">"Ý kiến của ông/bà được giữ bí mật. Mỗi mã chỉ dùng được một lần."</p>
                        <p class="small">{format!("PSU {} · {}", card.psu, card.psu_name)}</p>
                        <p class="visually-hidden">{card.link}</p>
                    </div>
                </article>
            }
        })
        .collect_view();
    let body = view! {
        <div class="no-print">
            <h1>{title.clone()}</h1>
            <p>{wave_title.to_owned()}</p>
            <p class="notice">{ctx.t(
                "Mã chỉ hiện lần này. In trang này (Ctrl+P, khổ A4) hoặc tải CSV trước khi rời trang.",
                "The codes are shown this once. Print this page (Ctrl+P, A4) or download the CSV before leaving it.")}</p>
            <form method="post" action=csv_action class="inline">
                <input type="hidden" name="codes" value=codes.join(" ") />
                <button type="submit">{ctx.t("Tải CSV", "Download CSV")}</button>
            </form>
            <p><button type="button" data-print="" hidden>{ctx.t("In phiếu", "Print the sheet")}</button></p>
        </div>
        <section class="sheet" aria-label=ctx.t("Phiếu mời", "Invitations")>{cards}</section>
    };
    document(ctx, &title, body)
}

// ---------------------------------------------------------------- monitoring

/// Sort keys of the monitoring table.
pub const MONITOR_SORTS: [&str; 6] = [
    "unit",
    "target",
    "completes",
    "progress",
    "issued",
    "drafts",
];

pub struct MonitorView {
    pub wave: WaveDetails,
    pub monitoring: Monitoring,
    /// The province whose strata and PSUs are listed (`None`: the national table by province).
    pub province: Option<String>,
    pub sort: String,
    pub descending: bool,
    pub province_names: Vec<Province>,
}

struct Line {
    key: String,
    label: String,
    href: Option<String>,
    target: i64,
    issued: i64,
    used: i64,
    completes: i64,
    drafts: i64,
}

fn percent(part: i64, whole: i64) -> String {
    if whole <= 0 {
        "—".into()
    } else {
        format!("{:.0}%", 100.0 * part as f64 / whole as f64)
    }
}

pub fn monitor_page(ctx: &Ctx, view_data: MonitorView) -> String {
    let MonitorView {
        wave,
        monitoring,
        province,
        sort,
        descending,
        province_names,
    } = view_data;
    let code = wave.wave.code.clone();
    let name_of = |p: &str| {
        province_names
            .iter()
            .find(|u| u.code == p && u.geography == wave.wave.geography)
            .map(|u| u.name_vi.clone())
            .unwrap_or_default()
    };
    let mut lines: Vec<Line> = Vec::new();
    match &province {
        None => {
            let mut by: std::collections::BTreeMap<String, Line> = Default::default();
            for p in &monitoring.psus {
                let line = by.entry(p.province_code.clone()).or_insert_with(|| Line {
                    key: p.province_code.clone(),
                    label: format!("{} {}", p.province_code, name_of(&p.province_code)),
                    href: Some(format!(
                        "/staff/waves/{code}/monitor?province={}",
                        p.province_code
                    )),
                    target: 0,
                    issued: 0,
                    used: 0,
                    completes: 0,
                    drafts: 0,
                });
                line.target += p.target;
                line.issued += p.issued;
                line.used += p.used;
                line.completes += p.completes;
                line.drafts += p.drafts;
            }
            lines.extend(by.into_values());
        }
        Some(_) => {
            for p in &monitoring.psus {
                lines.push(Line {
                    key: format!("{}/{}", p.stratum, p.psu),
                    label: format!("{} · {} {}", p.stratum, p.psu, p.name),
                    href: None,
                    target: p.target,
                    issued: p.issued,
                    used: p.used,
                    completes: p.completes,
                    drafts: p.drafts,
                });
            }
        }
    }
    let progress = |l: &Line| {
        if l.target > 0 {
            l.completes as f64 / l.target as f64
        } else {
            0.0
        }
    };
    lines.sort_by(|a, b| {
        let ord = match sort.as_str() {
            "target" => a.target.cmp(&b.target),
            "completes" => a.completes.cmp(&b.completes),
            "issued" => a.issued.cmp(&b.issued),
            "drafts" => a.drafts.cmp(&b.drafts),
            "progress" => progress(a).total_cmp(&progress(b)),
            _ => a.key.cmp(&b.key),
        };
        if descending { ord.reverse() } else { ord }
    });
    let totals = lines.iter().fold((0, 0, 0, 0), |t, l| {
        (
            t.0 + l.target,
            t.1 + l.issued,
            t.2 + l.completes,
            t.3 + l.drafts,
        )
    });
    let base = format!(
        "/staff/waves/{code}/monitor?{}",
        province
            .as_ref()
            .map(|p| format!("province={p}&"))
            .unwrap_or_default()
    );
    let header = |key: &'static str, label: &'static str| {
        let active = sort == key;
        let next_desc = active && !descending;
        let href = format!(
            "{base}sort={key}&dir={}",
            if next_desc { "desc" } else { "asc" }
        );
        let aria_sort = if active {
            if descending {
                "descending"
            } else {
                "ascending"
            }
        } else {
            "none"
        };
        view! { <th scope="col" aria-sort=aria_sort><a href=href>{label}{active.then_some(if descending { " ▼" } else { " ▲" })}</a></th> }
    };
    let rows = lines
        .iter()
        .map(|l| {
            let label = match &l.href {
                Some(href) => view! { <a href=href.clone()>{l.label.clone()}</a> }.into_any(),
                None => view! { <span>{l.label.clone()}</span> }.into_any(),
            };
            let max = l.target.max(1);
            view! {
                <tr>
                    <th scope="row">{label}</th>
                    <td class="num">{l.target}</td>
                    <td class="num">{l.completes}</td>
                    <td class="bar"><progress max=max value=l.completes.min(max)
                        aria-label=format!("{} {}", l.label, percent(l.completes, l.target))></progress>
                        " "{percent(l.completes, l.target)}</td>
                    <td class="num">{format!("{} / {} ({})", l.used, l.issued, percent(l.used, l.issued))}</td>
                    <td class="num">{l.drafts}</td>
                </tr>
            }
        })
        .collect_view();
    let empty = lines.is_empty().then(|| view! {
        <p class="empty">{ctx.t("Chưa có dàn mẫu hoặc chưa phát mã nào.", "No frame or no codes issued yet.")}</p>
    });
    // Within a province, the strata's totals come before the PSUs.
    let strata = province.as_ref().map(|_| {
        let mut by: std::collections::BTreeMap<&str, (i64, i64, i64, i64, i64)> = Default::default();
        for p in &monitoring.psus {
            let t = by.entry(p.stratum.as_str()).or_default();
            t.0 += p.target;
            t.1 += p.issued;
            t.2 += p.completes;
            t.3 += p.drafts;
            t.4 += p.used;
        }
        let rows = by
            .into_iter()
            .map(|(stratum, (target, issued, completes, drafts, used))| {
                let max = target.max(1);
                view! {
                    <tr>
                        <th scope="row">{stratum.to_owned()}</th>
                        <td class="num">{target}</td>
                        <td class="num">{completes}</td>
                        <td class="bar"><progress max=max value=completes.min(max)
                            aria-label=format!("{stratum} {}", percent(completes, target))></progress>
                            " "{percent(completes, target)}</td>
                        <td class="num">{format!("{used} / {issued} ({})", percent(used, issued))}</td>
                        <td class="num">{drafts}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <table class="data">
                <caption>{ctx.t("Theo tầng", "By stratum")}</caption>
                <thead><tr>
                    <th scope="col">{ctx.t("Tầng", "Stratum")}</th>
                    <th scope="col">{ctx.t("Chỉ tiêu", "Target")}</th>
                    <th scope="col">{ctx.t("Hoàn thành", "Completes")}</th>
                    <th scope="col">{ctx.t("Tiến độ", "Progress")}</th>
                    <th scope="col">{ctx.t("Đã dùng / đã phát", "Used / issued")}</th>
                    <th scope="col">{ctx.t("Đang trả lời", "In progress")}</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
    });
    let channels =
        monitoring
            .provinces
            .iter()
            .fold(super::port::ChannelCounts::default(), |mut c, p| {
                c.online += p.channels.online;
                c.form += p.channels.form;
                c.outbox += p.channels.outbox;
                c.paper += p.channels.paper;
                c
            });
    let all = channels.online + channels.form + channels.outbox + channels.paper;
    let median = |p: &super::port::ProvinceProgress| {
        p.median_duration_secs
            .map(|s| format!("{:.1} min", s / 60.0))
            .unwrap_or_else(|| "—".into())
    };
    let province_rows = monitoring
        .provinces
        .iter()
        .map(|p| {
            let n = p.channels.online + p.channels.form + p.channels.outbox + p.channels.paper;
            view! {
                <tr>
                    <th scope="row">{format!("{} {}", p.province_code, name_of(&p.province_code))}</th>
                    <td class="num">{percent(p.channels.online, n)}</td>
                    <td class="num">{percent(p.channels.form, n)}</td>
                    <td class="num">{percent(p.channels.outbox, n)}</td>
                    <td class="num">{percent(p.channels.paper, n)}</td>
                    <td class="num">{median(p)}</td>
                </tr>
            }
        })
        .collect_view();
    let max_day = monitoring
        .per_day
        .iter()
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(1)
        .max(1);
    let days = monitoring
        .per_day
        .iter()
        .map(|(day, n)| view! {
            <tr><th scope="row">{day.clone()}</th><td class="num">{*n}</td>
            <td class="bar"><progress max=max_day value=*n aria-label=format!("{day}: {n}")></progress></td></tr>
        })
        .collect_view();
    let title = format!("{} · {}", ctx.t("Theo dõi", "Monitoring"), code);
    let scope_line = match &province {
        Some(p) => format!("{} {} {}", ctx.t("Tỉnh", "Province"), p, name_of(p)),
        None => ctx
            .t("Toàn quốc, theo tỉnh", "National, by province")
            .to_owned(),
    };
    let back = format!("/staff/waves/{code}");
    let national = province.as_ref().map(|_| {
        let href = format!("/staff/waves/{code}/monitor");
        view! { " · "<a href=href>{ctx.t("Toàn quốc", "National")}</a> }
    });
    let refresh = format!("/staff/waves/{code}/monitor");
    let body = view! {
        <p class="crumbs"><a href=back>{code.clone()}</a>{national}</p>
        <h1>{title.clone()}</h1>
        <p>{scope_line}" · "<span>{ctx.t("Tự cập nhật mỗi 30 giây khi bật JavaScript; nếu không, tải lại trang.", "Refreshes every 30 s with JavaScript; otherwise reload the page.")}</span></p>
        <div id="live" data-refresh=refresh aria-live="polite">
            <dl class="facts">
                <dt>{ctx.t("Chỉ tiêu", "Target")}</dt><dd>{totals.0}</dd>
                <dt>{ctx.t("Hoàn thành", "Completes")}</dt><dd>{format!("{} ({})", totals.2, percent(totals.2, totals.0))}</dd>
                <dt>{ctx.t("Mã đã phát", "Codes issued")}</dt><dd>{totals.1}</dd>
                <dt>{ctx.t("Đang trả lời", "In progress")}</dt><dd>{totals.3}</dd>
                <dt>{ctx.t("Ngoài dàn mẫu", "Outside the frame")}</dt><dd>{monitoring.outside_frame}</dd>
                <dt>{ctx.t("Kênh", "Modes")}</dt>
                <dd>{format!("online {} · {} {} · offline {} · {} {}",
                    percent(channels.online, all), ctx.t("không JS", "no-JS"), percent(channels.form, all),
                    percent(channels.outbox, all), ctx.t("giấy", "paper"), percent(channels.paper, all))}</dd>
            </dl>
            {empty}
            {strata}
            <table class="data sortable">
                <caption>{ctx.t("Hoàn thành so với chỉ tiêu", "Completes against target")}</caption>
                <thead><tr>
                    {header("unit", if province.is_some() { ctx.t("Tầng · PSU", "Stratum · PSU") } else { ctx.t("Tỉnh", "Province") })}
                    {header("target", ctx.t("Chỉ tiêu", "Target"))}
                    {header("completes", ctx.t("Hoàn thành", "Completes"))}
                    {header("progress", ctx.t("Tiến độ", "Progress"))}
                    {header("issued", ctx.t("Đã dùng / đã phát", "Used / issued"))}
                    {header("drafts", ctx.t("Đang trả lời", "In progress"))}
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
            <table class="data">
                <caption>{ctx.t("Kênh trả lời và thời gian hoàn thành (trung vị)", "Modes and median completion time")}</caption>
                <thead><tr>
                    <th scope="col">{ctx.t("Tỉnh", "Province")}</th><th scope="col">"Online"</th>
                    <th scope="col">{ctx.t("Không JS", "No-JS")}</th><th scope="col">"Offline"</th>
                    <th scope="col">{ctx.t("Giấy", "Paper")}</th><th scope="col">{ctx.t("Trung vị", "Median")}</th>
                </tr></thead>
                <tbody>{province_rows}</tbody>
            </table>
            <table class="data">
                <caption>{ctx.t("Số phiếu hoàn thành theo ngày", "Completes per day")}</caption>
                <thead><tr><th scope="col">{ctx.t("Ngày", "Day")}</th><th scope="col">{ctx.t("Phiếu", "Completes")}</th><th scope="col"></th></tr></thead>
                <tbody>{days}</tbody>
            </table>
        </div>
    };
    document(ctx, &title, body)
}

// ---------------------------------------------------------------- paper import

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
                RowOutcome::Conflict(m) => Some((*row, m.clone())),
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
        {problems}{report}
        <p class="hint">{ctx.t(
            "CSV hoặc XLSX, mỗi dòng một phiếu: cột code (mã mời in trên phiếu) hoặc psu và form_id (phiếu phát không kèm mã), cột language (vi/en, không bắt buộc), và mỗi câu hỏi một cột theo mã câu hỏi. Ô trống là không trả lời. Nhập lại cùng tệp không lưu thêm gì.",
            "CSV or XLSX, one row per form: a code column (the invitation code printed on the form) or psu and form_id (forms handed out without a code), an optional language column (vi/en), and one column per item code. An empty cell is no answer. Importing the same file again stores nothing new.")}</p>
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

// ---------------------------------------------------------------- exports

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

// ---------------------------------------------------------------- accounts

pub fn users_page(
    ctx: &Ctx,
    mut users: Vec<StaffUser>,
    provinces: Vec<Province>,
    error: Option<String>,
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
            let field = format!("password-{}", u.id);
            view! {
                <tr>
                    <td>{u.username.clone()}</td>
                    <td>{u.display_name.clone()}</td>
                    <td>{ctx.t(vi, en)}</td>
                    <td>{u.province.as_ref().map(|p| p.code.clone())}</td>
                    <td>{if u.active { ctx.t("Hoạt động", "Active") } else { ctx.t("Đã khóa", "Disabled") }}</td>
                    <td>
                        <form method="post" action=toggle class="inline">
                            <button type="submit" class="small" aria-label=format!("{toggle_label} {}", u.username)>{toggle_label}</button>
                        </form>
                        <form method="post" action=reset class="inline">
                            <label for=field.clone() class="visually-hidden">{format!("{} {}", ctx.t("Mật khẩu mới cho", "New password for"), u.username)}</label>
                            <input id=field type="password" name="password" minlength="12" autocomplete="new-password" required
                                placeholder=ctx.t("mật khẩu mới", "new password") />
                            <button type="submit" class="small">{ctx.t("Đặt lại", "Reset")}</button>
                        </form>
                    </td>
                </tr>
            }
        })
        .collect_view();
    // Least privilege first: a careless click makes a viewer, not an administrator.
    let roles = [
        Role::Viewer,
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
        view! { <option value=r.key()>{ctx.t(vi, en)}</option> }
    })
    .collect_view();
    let province_options = provinces
        .into_iter()
        .filter(|p| p.geography == Geography::G2025)
        .map(|p| view! { <option value=p.code.clone()>{format!("{} {}", p.code, p.name_vi)}</option> })
        .collect_view();
    let body = view! {
        <h1>{title}</h1>
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
            <input id="new-username" name="username" required pattern="[a-z0-9._-]{3,40}" autocomplete="off" />
            <label for="new-name">{ctx.t("Họ tên", "Full name")}</label>
            <input id="new-name" name="display_name" required maxlength="120" />
            <label for="new-role">{ctx.t("Vai trò", "Role")}</label>
            <select id="new-role" name="role">{roles}</select>
            <label for="new-province">{ctx.t("Tỉnh (chỉ cho cán bộ Sở Nội vụ)", "Province (provincial officers only)")}</label>
            <select id="new-province" name="province"><option value="">"—"</option>{province_options}</select>
            <label for="new-password">{ctx.t("Mật khẩu ban đầu (ít nhất 12 ký tự)", "Initial password (at least 12 characters)")}</label>
            <input id="new-password" name="password" type="password" minlength="12" required autocomplete="new-password" />
            <fieldset>
                <legend>{ctx.t("Chỉ cho nhà nghiên cứu được cấp phép", "Accredited researchers only")}</legend>
                <label for="new-project">{ctx.t("Dự án được phê duyệt", "Approved project")}</label>
                <input id="new-project" name="project" maxlength="300" />
                <label for="new-approval">{ctx.t("Số văn bản phê duyệt", "Reference of the approval")}</label>
                <input id="new-approval" name="approval" maxlength="200" />
                <label for="new-expires">{ctx.t("Hết hạn sau ngày (YYYY-MM-DD)", "Expires after (YYYY-MM-DD)")}</label>
                <input id="new-expires" name="expires_on" type="date" />
                <label for="new-releases">{ctx.t("Các bản công bố được phép tải (ví dụ: 2025 v1, 2024 v2)", "Releases it may download (e.g. 2025 v1, 2024 v2)")}</label>
                <input id="new-releases" name="releases" />
            </fieldset>
            <button type="submit">{ctx.t("Thêm", "Add")}</button>
        </form>
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
                    <td><small>{r.at}</small></td>
                    <td>{r.entry.actor}</td>
                    <td><code>{r.entry.action}</code></td>
                    <td>{r.entry.wave_code}</td>
                    <td>{r.entry.province_code}</td>
                    <td>{r.entry.detail}</td>
                </tr>
            }
        })
        .collect_view();
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let body = view! {
        <h1>{title}</h1>
        <form method="get" action="/staff/audit" class="inline">
            <label for="f-actor">{ctx.t("Người", "Who")}</label>
            <input id="f-actor" name="actor" value=value(&filter.actor) />
            <label for="f-action">{ctx.t("Việc", "Action")}</label>
            <input id="f-action" name="action" value=value(&filter.action) />
            <label for="f-wave">{ctx.t("Đợt", "Wave")}</label>
            <input id="f-wave" name="wave" value=value(&filter.wave_code) />
            <label for="f-province">{ctx.t("Tỉnh", "Province")}</label>
            <input id="f-province" name="province" value=value(&filter.province_code) size="4" />
            <button type="submit">{ctx.t("Lọc", "Filter")}</button>
        </form>
        {empty}
        <table class="data"><thead><tr>
            <th scope="col">{ctx.t("Thời điểm (UTC)", "When (UTC)")}</th>
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
