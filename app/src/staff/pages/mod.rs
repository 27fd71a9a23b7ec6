//! The staff pages, rendered on the server from plain data (the handlers in the server crate
//! load the data, check the role and write the audit log). Every action is a plain form, so the
//! pages need no JavaScript; `/staff.js` only refreshes the monitoring page in place.
//!
//! Wording comes in Vietnamese–English pairs through [`Locale::pick`], so a missing
//! translation cannot compile.

use leptos::prelude::*;

use super::roles::{Action, StaffUser};
use super::sheet::CellProblem;
use crate::i18n::Locale;

mod accounts;
mod data;
mod design;
mod field;
mod fieldwork;
mod keying;
mod monitoring;
mod quality;
mod questionnaires;
mod waves;

pub use accounts::{AccountForm, audit_page, users_page};
pub use data::{ImportReport, export_page, import_page};
pub use design::design_page;
pub use field::{Card, batch_sheet, batch_sheet_file, batches_page, frame_page, scope_label};
pub use fieldwork::{AssignmentForm, FieldworkView, field_assignment, field_home, fieldwork_page};
pub use keying::{keyed_form_page, keying_page};
pub use monitoring::{MONITOR_SORTS, MonitorView, Provisional, monitor_page};
pub use quality::{left_out_table, quality_queue, reviewed_response};
pub use questionnaires::{questionnaire, questionnaire_diff, questionnaires};
pub use waves::{WaveForm, wave_new, wave_page, waves};

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
    if user.may(Action::DoFieldwork) {
        links.push((
            ctx.t("Phiếu được giao", "My assignments"),
            "/staff/field".into(),
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
                <tr><td>{p.row}</td><td><code>{p.column}</code></td><td>{p.message.pick(ctx.locale).to_owned()}</td></tr>
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

/// Month names for English dates on staff pages.
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A moment stored as RFC 3339 (UTC) as staff read it: Vietnam time (UTC+7, no daylight
/// saving), `07/12/2026 09:05` in Vietnamese and `7 Dec 2026 09:05` in English. Text that is not
/// a timestamp is shown as it is; nothing at all is "—".
pub fn moment(locale: Locale, stamp: &str) -> String {
    use time::format_description::well_known::Rfc3339;
    if stamp.trim().is_empty() {
        return "—".into();
    }
    let Ok(at) = time::OffsetDateTime::parse(stamp, &Rfc3339) else {
        return stamp.to_owned();
    };
    let at = at.to_offset(time::macros::offset!(+7));
    match locale {
        Locale::Vi => format!(
            "{:02}/{:02}/{} {:02}:{:02}",
            at.day(),
            u8::from(at.month()),
            at.year(),
            at.hour(),
            at.minute()
        ),
        Locale::En => {
            format!(
                "{} {} {} {:02}:{:02}",
                at.day(),
                MONTHS[usize::from(u8::from(at.month())) - 1],
                at.year(),
                at.hour(),
                at.minute()
            )
        }
    }
}

/// A calendar date (`YYYY-MM-DD`) as staff read it: `31/12/2026` in Vietnamese, `31 Dec 2026`
/// in English; `unset` when there is none.
pub fn day(locale: Locale, date: Option<&str>, unset: (&str, &str)) -> String {
    let Some(date) = date.map(str::trim).filter(|d| !d.is_empty()) else {
        return locale.pick(unset.0, unset.1).to_owned();
    };
    let parts: Vec<&str> = date.split('-').collect();
    let [year, month, dd] = parts[..] else {
        return date.to_owned();
    };
    let Ok(m) = month.parse::<usize>() else {
        return date.to_owned();
    };
    match (locale, MONTHS.get(m.wrapping_sub(1))) {
        (Locale::Vi, Some(_)) => format!("{dd}/{month}/{year}"),
        (Locale::En, Some(name)) => format!("{} {name} {year}", dd.trim_start_matches('0')),
        (_, None) => date.to_owned(),
    }
}

/// Which map of provinces a wave uses, in words.
pub fn geography_label(locale: Locale, geography: crate::domain::Geography) -> &'static str {
    match geography {
        crate::domain::Geography::G2025 => locale.pick(
            "Bản đồ 2025 (34 đơn vị cấp tỉnh)",
            "2025 map (34 provincial units)",
        ),
        crate::domain::Geography::G2004 => locale.pick(
            "Bản đồ 2004 (63 tỉnh, thành phố)",
            "2004 map (63 provinces)",
        ),
    }
}

/// What a screen is for, in a sentence or two under its heading, in the reader's language.
pub fn purpose(ctx: &Ctx, vi: &'static str, en: &'static str) -> impl IntoView + use<> {
    let text = ctx.t(vi, en);
    view! { <p class="help">{text}</p> }
}

/// A term of survey statistics a staff screen uses, explained where it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Term {
    Frame,
    Stratum,
    Psu,
    Target,
    Deff,
    KishDeff,
    EffectiveN,
    Df,
    RankInterval,
    Adjustment,
}

impl Term {
    /// (term, meaning), each as (Vietnamese, English).
    fn words(self) -> ((&'static str, &'static str), (&'static str, &'static str)) {
        match self {
            Self::Frame => (
                ("Dàn mẫu", "Frame"),
                (
                    "danh sách các tầng và các xã/phường được chọn của đợt, với dân số và chỉ tiêu phiếu; trọng số tính từ đây.",
                    "the list of the wave's strata and selected communes, with populations and targets; the weights come from it.",
                ),
            ),
            Self::Stratum => (
                ("Tầng", "Stratum"),
                (
                    "một nhóm xã/phường trong một tỉnh (ví dụ thành thị, nông thôn) được chọn mẫu riêng; mã tầng do dàn mẫu đặt và là duy nhất trong cả nước.",
                    "a group of communes within one province (e.g. urban, rural) sampled separately; its code comes from the frame and is unique nationwide.",
                ),
            ),
            Self::Psu => (
                ("PSU", "PSU"),
                (
                    "xã/phường được chọn vào mẫu (đơn vị mẫu cấp 1); người trả lời được chọn trong các xã/phường này.",
                    "a commune or ward drawn into the sample (primary sampling unit); respondents are chosen within them.",
                ),
            ),
            Self::Target => (
                ("Chỉ tiêu", "Target"),
                (
                    "số phiếu cần thu ở mỗi xã/phường theo thiết kế mẫu.",
                    "the number of completed forms the design asks of each commune.",
                ),
            ),
            Self::Deff => (
                ("Hệ số thiết kế (deff)", "Design effect (deff)"),
                (
                    "phương sai của ước lượng theo thiết kế mẫu thực tế (trọng số, phân tầng, chọn theo xã/phường) chia cho phương sai nếu chọn ngẫu nhiên đơn giản cùng số phiếu. Lớn hơn 1: kém chính xác hơn mẫu ngẫu nhiên đơn giản. Mỗi chỉ tiêu có deff riêng.",
                    "the variance of an estimate under the actual design (weights, strata, sampling by commune) divided by its variance under simple random sampling of as many forms. Above 1: less precise than a simple random sample. Each measure has its own.",
                ),
            ),
            Self::KishDeff => (
                ("Hệ số Kish", "Kish's deff"),
                (
                    "phần deff chỉ do trọng số không đều gây ra: 1 + (hệ số biến thiên của trọng số)². Như nhau cho mọi chỉ tiêu của một tỉnh; khác với deff của từng chỉ tiêu, vốn gồm cả ảnh hưởng của việc chọn theo xã/phường.",
                    "the part of the design effect due to unequal weights alone: 1 + (coefficient of variation of the weights)². The same for every measure of a province; unlike a measure's deff, it leaves out the clustering by commune.",
                ),
            ),
            Self::EffectiveN => (
                ("n hiệu dụng", "Effective n"),
                (
                    "số phiếu n chia cho deff (deff dưới 1 thì lấy bằng 1): số người mà một mẫu ngẫu nhiên đơn giản cần để chính xác như vậy.",
                    "the number of forms n divided by the deff (a deff below 1 counts as 1): how many people a simple random sample would need for the same precision.",
                ),
            ),
            Self::Df => (
                ("Bậc tự do (df)", "Degrees of freedom (df)"),
                (
                    "số xã/phường có người trả lời trừ số tầng của chúng; khoảng tin cậy dùng phân phối t với df này. Theo quy tắc mặc định, df dưới 8 thì kết quả được đánh dấu cần xem xét.",
                    "the number of communes with respondents minus the number of their strata; intervals use the t distribution with this df. Under the default rule, a df below 8 marks a result for review.",
                ),
            ),
            Self::RankInterval => (
                ("Khoảng thứ hạng", "Rank interval"),
                (
                    "các thứ hạng mà tỉnh có thể có khi tính đến sai số của mọi tỉnh cùng lúc (độ tin cậy chung cho cả bảng, mặc định 95%); hai tỉnh có khoảng không chồng lên nhau thì chắc chắn tỉnh này đứng trên tỉnh kia; khoảng chồng nhau thì chưa kết luận được.",
                    "the ranks a province could hold given the uncertainty of every province at once (confidence for the whole table at once, 95% by default); two provinces whose intervals do not overlap are surely in that order; overlapping intervals leave it open.",
                ),
            ),
            Self::Adjustment => (
                ("Hệ số g", "Adjustment g"),
                (
                    "trọng số sau hiệu chỉnh chia cho trọng số trước hiệu chỉnh (w / w₀); xa 1 nghĩa là mẫu lệch nhiều so với tổng thể.",
                    "the calibrated weight divided by the weight before calibration (w / w₀); far from 1 means the sample was far from the population.",
                ),
            ),
        }
    }
}

/// The terms a screen uses, explained in a fold under its purpose.
pub fn glossary(ctx: &Ctx, terms: &[Term]) -> impl IntoView + use<> {
    let entries = terms
        .iter()
        .map(|term| {
            let ((vi, en), (meaning_vi, meaning_en)) = term.words();
            view! { <dt>{ctx.t(vi, en)}</dt><dd>{ctx.t(meaning_vi, meaning_en)}</dd> }
        })
        .collect_view();
    let summary = ctx.t("Các thuật ngữ trên trang này", "Terms on this page");
    view! { <details class="help"><summary>{summary}</summary><dl>{entries}</dl></details> }
}

/// What an irreversible action asks before it is done: the action in words, what it will
/// change, and one button that posts the same form again with `confirm=yes` (the handler acts
/// only then), beside a way back. No JavaScript: the first post answers with this page.
pub struct Confirmation {
    pub title: String,
    pub consequences: Vec<String>,
    pub action: String,
    /// The form's other fields, posted again unchanged.
    pub fields: Vec<(String, String)>,
    /// Asks for a new password on this page (a password is never carried in a hidden field).
    pub new_password: bool,
    /// Says it cannot be undone (a disabled account can be enabled again: not said there).
    pub irreversible: bool,
    pub button: String,
    pub back: String,
}

/// A page that asks before an irreversible action ([`Confirmation`]).
pub fn confirm_page(ctx: &Ctx, confirmation: Confirmation) -> String {
    let Confirmation {
        title,
        consequences,
        action,
        fields,
        new_password,
        irreversible,
        button,
        back,
    } = confirmation;
    let password = new_password.then(|| {
        view! {
            <label for="new-password">{ctx.t("Mật khẩu mới (ít nhất 12 ký tự)", "New password (at least 12 characters)")}</label>
            <input id="new-password" name="password" type="password" minlength="12" required autocomplete="new-password" />
        }
    });
    let consequences = consequences
        .into_iter()
        .map(|line| view! { <li>{line}</li> })
        .collect_view();
    let fields = fields
        .into_iter()
        .map(|(name, value)| view! { <input type="hidden" name=name value=value /> })
        .collect_view();
    let body = view! {
        <section class="narrow confirm">
            <h1>{title.clone()}</h1>
            <ul>{consequences}</ul>
            {irreversible.then(|| view! { <p><strong>{ctx.t("Việc này không thể hoàn tác.", "This cannot be undone.")}</strong></p> })}
            <form method="post" action=action class="stacked">
                {fields}
                {password}
                <input type="hidden" name="confirm" value="yes" />
                <button type="submit" class="danger">{button}</button>
                <a href=back class="button secondary">{ctx.t("Không, quay lại", "No, go back")}</a>
            </form>
        </section>
    };
    document(ctx, &title, body)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_are_in_vietnam_time() {
        // 21:20 UTC is 04:20 the next day in Vietnam.
        let stamp = "2026-12-06T21:20:19.262236157Z";
        assert_eq!(moment(Locale::Vi, stamp), "07/12/2026 04:20");
        assert_eq!(moment(Locale::En, stamp), "7 Dec 2026 04:20");
        assert_eq!(
            moment(Locale::Vi, "2026-01-01T00:00:00+07:00"),
            "01/01/2026 00:00"
        );
        assert_eq!(moment(Locale::Vi, ""), "—");
        assert_eq!(moment(Locale::Vi, "not a time"), "not a time");
    }

    #[test]
    fn days_read_the_local_way_and_say_when_unset() {
        let unset = ("chưa đặt", "not set");
        assert_eq!(day(Locale::Vi, Some("2099-12-31"), unset), "31/12/2099");
        assert_eq!(day(Locale::En, Some("2026-03-05"), unset), "5 Mar 2026");
        assert_eq!(day(Locale::Vi, None, unset), "chưa đặt");
        assert_eq!(day(Locale::En, Some(""), unset), "not set");
    }
}
