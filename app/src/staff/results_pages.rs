//! Staff pages for results: a wave's computations, a draft under review (headline table, one
//! province in full, weights report, warnings, comments) and the sign-off forms.

use std::collections::HashMap;

use leptos::prelude::*;

use super::pages::{Ctx, Term, document, glossary, moment, purpose};
use super::port::WaveDetails;
use super::release::{ComparedWith, ReleaseCell, ReleaseInfo};
use super::review::{Comment, Computation, ComputationStatus, ComputationSummary, Warning};
use super::roles::Action;

/// The root of the index tree (the SIPAS index itself).
pub const ROOT_NODE: &str = "sipas";

fn status_label(ctx: &Ctx, status: ComputationStatus) -> &'static str {
    let (vi, en) = status.label();
    ctx.t(vi, en)
}

fn pct(ctx: &Ctx, x: Option<f64>) -> String {
    x.map_or("—".into(), |v| ctx.locale.decimal(100.0 * v, 1))
}

fn num(ctx: &Ctx, x: Option<f64>, digits: usize) -> String {
    x.map_or("—".into(), |v| ctx.locale.decimal(v, digits))
}

fn interval(ctx: &Ctx, c: &ReleaseCell) -> String {
    match (c.ci_low, c.ci_high) {
        (Some(lo), Some(hi)) => format!("{} – {}", pct(ctx, Some(lo)), pct(ctx, Some(hi))),
        _ => "—".into(),
    }
}

fn ranks(c: &ReleaseCell) -> String {
    match (c.rank_best, c.rank_worst, c.ranked_of) {
        (Some(best), Some(worst), Some(of)) => format!("{best}–{worst} / {of}"),
        _ => "—".into(),
    }
}

/// A p-value to three decimals; a tiny one reads "p < 0,001" (three decimals would show 0,000).
fn p_value(locale: crate::i18n::Locale, p: f64) -> String {
    if p < 0.001 {
        format!("p < {}", locale.decimal(0.001, 3))
    } else {
        format!("p = {}", locale.decimal(p, 3))
    }
}

fn change(ctx: &Ctx, c: &ReleaseCell) -> String {
    match (c.change, c.change_p) {
        (Some(d), Some(p)) => format!(
            "{}{} {} ({})",
            if d >= 0.0 { "+" } else { "" },
            ctx.locale.decimal(100.0 * d, 1),
            ctx.t("điểm", "pts"),
            p_value(ctx.locale, p)
        ),
        _ => "—".into(),
    }
}

/// One line of a results table (staff pages are rendered on the server only, so `AnyView`
/// costs no wasm).
fn result_row(
    ctx: &Ctx,
    header: AnyView,
    flag: String,
    cell: &ReleaseCell,
) -> impl IntoView + use<> {
    view! {
        <tr>
            <th scope="row">{header}</th>
            <td class="num">{pct(ctx, cell.estimate)}</td>
            <td class="num">{interval(ctx, cell)}</td>
            <td>{flag}</td>
            <td class="num">{num(ctx, cell.n, 0)}</td>
            <td class="num">{num(ctx, cell.n_eff, 0)}</td>
            <td class="num">{num(ctx, cell.deff, 2)}</td>
            <td>{ranks(cell)}</td>
            <td>{crate::results::charts::Tier::parse(cell.tier.as_deref()).label(ctx.locale)}</td>
            <td>{change(ctx, cell)}</td>
        </tr>
    }
}

/// A wave's computations, and the form to start one.
pub fn results_page(
    ctx: &Ctx,
    wave: &WaveDetails,
    computations: Vec<ComputationSummary>,
    releases: Vec<ReleaseInfo>,
    default_methodology: &str,
) -> String {
    let may = |a| ctx.user.as_ref().is_some_and(|u| u.may(a));
    let code = wave.wave.code.clone();
    let has_computations = !computations.is_empty();
    let no_computation = computations.is_empty().then(|| view! {
        <p class="empty">{ctx.t("Chưa tính lần nào cho đợt này.", "Nothing computed for this wave yet.")}</p>
    });
    let rows = computations
        .into_iter()
        .map(|c| {
            let href = format!("/staff/computations/{}", c.id);
            let release = c
                .release
                .map(|(y, v)| format!("SIPAS {y} v{v}"))
                .unwrap_or_else(|| "—".into());
            view! {
                <tr>
                    <td><a href=href>{format!("#{}", c.id)}</a></td>
                    <td>{status_label(ctx, c.status)}</td>
                    <td>{c.started_by.clone()}</td>
                    <td>{moment(ctx.locale, &c.started_at)}</td>
                    <td>{release}</td>
                </tr>
            }
        })
        .collect_view();
    let releases: Vec<ReleaseInfo> = releases
        .into_iter()
        .filter(|r| r.wave_code == code)
        .collect();
    let no_release = releases.is_empty().then(|| view! {
        <p class="empty">{ctx.t("Chưa công bố bản nào từ đợt này.", "Nothing published from this wave yet.")}</p>
    });
    let published = releases
        .into_iter()
        .map(|r| {
            let href = format!("/du-lieu/{}/v{}/README.txt", r.year, r.version);
            // The full totals reproduce every number but identify respondents: statisticians
            // only (checked again on the server), each download logged.
            let full = may(Action::ComputeResults).then(|| {
                let href = format!("/staff/releases/{}/v{}/totals.json", r.year, r.version);
                view! {
                    " · "
                    <a href=href>{ctx.t("Tổng số liệu đầy đủ (nội bộ)", "Full totals (internal)")}</a>
                }
            });
            view! {
                <li>
                    {format!("SIPAS {} v{} · {} · ", r.year, r.version, moment(ctx.locale, &r.published_at))}
                    <a href=href>{ctx.t("Dữ liệu mở", "Open data")}</a>
                    {full}
                    {(!r.changelog.is_empty()).then(|| format!(" · {}", r.changelog))}
                </li>
            }
        })
        .collect_view();
    let start = may(Action::ComputeResults).then(|| {
        let action = format!("/staff/waves/{code}/results");
        view! {
            <form method="post" action=action class="stack">
                <h2>{ctx.t("Tính kết quả", "Compute results")}</h2>
                <p>{ctx.t(
                    "Trọng số lấy từ dàn mẫu (N_h / r_h trong mỗi tầng); kết quả là bản nháp cho đến khi một người khác phê duyệt.",
                    "Weights come from the frame (N_h / r_h within each stratum); the results stay a draft until someone else approves them.")}</p>
                <p class="hint">{ctx.t(
                    "Để cắt trọng số quá lớn, thêm vào phương pháp: [trimming] upper_to_median = 5 (trọng số trên 5 lần trung vị của tỉnh bị cắt, phần dư chia đều trong tỉnh, trước khi hiệu chỉnh).",
                    "To cut extreme weights, add to the methodology: [trimming] upper_to_median = 5 (weights above 5 times the province's median are cut and the excess shared within the province, before calibration).")}</p>
                <label for="methodology">{ctx.t("Phương pháp (TOML)", "Methodology (TOML)")}</label>
                <textarea id="methodology" name="methodology" rows="12" spellcheck="false">{default_methodology.to_owned()}</textarea>
                <label for="population">{ctx.t(
                    "Tổng thể dân số để hiệu chỉnh (chỉ khi phương pháp có [calibration]; CSV: province,margin,category,total)",
                    "Population totals for calibration (only when the methodology has [calibration]; CSV: province,margin,category,total)")}</label>
                <textarea id="population" name="population" rows="4" spellcheck="false"></textarea>
                <button type="submit">{ctx.t("Bắt đầu tính", "Start computing")}</button>
            </form>
        }
    });
    let title = format!("{} · {}", ctx.t("Kết quả", "Results"), wave.wave.title);
    let wave_href = format!("/staff/waves/{code}");
    let body = view! {
        <p class="crumbs"><a href="/staff">{ctx.t("Đợt khảo sát", "Waves")}</a>" › "<a href=wave_href>{wave.wave.title.clone()}</a></p>
        <h1>{ctx.t("Kết quả", "Results")}</h1>
        {purpose(ctx,
            "Thống kê viên tính kết quả có trọng số từ các phiếu đã nhận, xem bản nháp rồi trình; lãnh đạo phê duyệt và công bố. Bản đã công bố không sửa được; đính chính là một phiên bản mới.",
            "A statistician computes weighted results from the forms received, reviews the draft and submits it; an approving official approves and publishes it. A published release cannot be changed; a correction is a new version.")}
        <h2>{ctx.t("Đã công bố", "Published")}</h2>
        {no_release}
        <ul>{published}</ul>
        <h2>{ctx.t("Các lần tính", "Computations")}</h2>
        {no_computation}
        {has_computations.then(|| view! {
        <table class="data">
            <thead><tr>
                <th scope="col">"#"</th>
                <th scope="col">{ctx.t("Trạng thái", "Status")}</th>
                <th scope="col">{ctx.t("Người tính", "Computed by")}</th>
                <th scope="col">{ctx.t("Bắt đầu", "Started")}</th>
                <th scope="col">{ctx.t("Bản công bố", "Release")}</th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
        })}
        {start}
    };
    document(ctx, &title, body)
}

fn warning_text(ctx: &Ctx, names: &HashMap<String, String>, w: &Warning) -> String {
    let name = |code: &str| names.get(code).cloned().unwrap_or_else(|| code.to_owned());
    match w {
        Warning::UnderTarget {
            province,
            completes,
            target,
        } => format!(
            "{}: {} / {} {}",
            name(province),
            ctx.locale.integer(*completes),
            ctx.locale.integer(*target),
            ctx.t(
                "phiếu hoàn thành so với chỉ tiêu",
                "completes of the target"
            )
        ),
        Warning::ExtremeWeights { province, ratio } => format!(
            "{}: {} {}",
            name(province),
            ctx.t(
                "trọng số lớn nhất gấp trung vị",
                "largest weight is this many times the median:"
            ),
            ctx.locale.decimal(*ratio, 1)
        ),
        Warning::CappedClasses { province, strata } => format!(
            "{}: {} {strata}",
            name(province),
            ctx.t(
                "hệ số điều chỉnh không trả lời bị chặn ở mức tối đa, chỉ bù một phần cho tầng",
                "nonresponse adjustment capped (max_factor), only partly corrected for stratum"
            )
        ),
        Warning::StrongCalibration {
            province,
            g_low,
            g_high,
            kish,
        } => format!(
            "{}: {} {}–{}, {} {}",
            name(province),
            ctx.t(
                "hiệu chỉnh mạnh, hệ số g từ",
                "strong calibration, adjustments g from"
            ),
            ctx.locale.decimal(*g_low, 2),
            ctx.locale.decimal(*g_high, 2),
            ctx.t("hệ số Kish", "Kish's deff"),
            ctx.locale.decimal(*kish, 2)
        ),
        Warning::Flagged { suppressed, review } => format!(
            "{suppressed} {}, {review} {}",
            ctx.t(
                "ô bị ẩn (không đủ tin cậy)",
                "cells suppressed (unreliable)"
            ),
            ctx.t(
                "ô cần xem lại (độ chính xác thấp)",
                "cells to review (low precision)"
            )
        ),
        Warning::AwaitingReview { count } => format!(
            "{} {}",
            ctx.locale.integer(*count),
            ctx.t(
                "phiếu bị đánh dấu chưa được rà soát vẫn được tính; rà soát chúng (trang Rà soát chất lượng phiếu) rồi tính lại trước khi trình",
                "flagged responses nobody has reviewed are counted; review them (Quality review page) and compute again before submitting"
            )
        ),
        Warning::NoPreviousRelease => ctx
            .t(
                "Không có bản công bố năm trước để so sánh: cột thay đổi để trống.",
                "No earlier release to compare with: the change columns are empty.",
            )
            .to_owned(),
        // The reason is the engine's (English), quoted after the sentence in the reader's language.
        Warning::NotComparable { release, reason } => format!(
            "{release}: {} ({}: {reason})",
            ctx.t(
                "không so sánh được, cột thay đổi để trống",
                "cannot be compared with, the change columns are empty"
            ),
            ctx.t("lý do hệ thống ghi, tiếng Anh", "reason")
        ),
        Warning::TotalsWithheld { reason } => format!(
            "{} ({reason})",
            ctx.t(
                "Tổng số liệu theo xã sẽ không được công khai cùng bản công bố",
                "The per-commune totals will not be published with the release"
            )
        ),
        Warning::Unrepresented { province, units } => format!(
            "{}: {} {units}",
            name(province),
            ctx.t(
                "chưa có phiếu nào từ (số người trưởng thành ở đó không được trọng số nào đại diện; cần thu thêm phiếu trước khi công bố):",
                "no responses yet from (the adults there are carried by no weight; collect forms there before publishing):"
            )
        ),
        Warning::SmallChange { release, communes } => format!(
            "{} {release}: {communes}",
            ctx.t(
                "Chỉ 1–4 người trả lời khác với bản đã công bố (trừ hai bảng kết quả cho nhau sẽ lộ câu trả lời của họ; nên chờ thêm phiếu)",
                "Only 1–4 respondents differ from the published version (subtracting the two results tables would show their answers; better to wait for more forms)"
            )
        ),
    }
}

/// "SIPAS 2024 v2 (re-aggregated to the 34 new units)", or "—".
pub fn compared_text(ctx: &Ctx, compared: Option<ComparedWith>) -> String {
    match compared {
        Some(c) if c.reaggregated => format!(
            "SIPAS {} v{} ({})",
            c.year,
            c.version,
            ctx.t(
                "tính lại theo 34 đơn vị mới",
                "re-aggregated to the 34 new units"
            )
        ),
        Some(c) => format!("SIPAS {} v{}", c.year, c.version),
        None => "—".into(),
    }
}

/// What the signed-in user may do with this computation.
pub struct Permitted {
    pub submit: bool,
    pub approve: bool,
    pub publish: bool,
    /// Publishing this year again is a correction: a changelog is required.
    pub correction_of: Option<i32>,
    /// The wave is still collecting (not closed, its closing date not past): publishing asks
    /// for an acknowledgement, and the release says so.
    pub wave_open: bool,
}

/// One computation: progress while it runs, then the draft for review.
pub fn computation_page(
    ctx: &Ctx,
    wave: &WaveDetails,
    c: Computation,
    comments: Vec<Comment>,
    (names, wording): (HashMap<String, String>, crate::results::Wording),
    domain: Option<String>,
    permitted: Permitted,
) -> String {
    let s = &c.summary;
    let id = s.id;
    let wave_code = wave.wave.code.clone();
    let results_href = format!("/staff/waves/{wave_code}/results");
    let name = |code: &str| names.get(code).cloned().unwrap_or_else(|| code.to_owned());

    let running = (s.status == ComputationStatus::Running).then(|| {
        // Until the job has counted the responses it has no total: an indeterminate bar and
        // words, not "0 / 0".
        let progress = if s.progress_total == 0 {
            leptos::either::Either::Left(view! {
                <p>{ctx.t("Đang chuẩn bị: đếm phiếu trả lời…", "Getting ready: counting the responses…")}</p>
                <progress aria-label=ctx.t("Tiến độ", "Progress")></progress>
            })
        } else {
            let read = format!(
                "{} {} / {} {}",
                ctx.t("Đã đọc", "Read"),
                ctx.locale.integer(s.progress_done),
                ctx.locale.integer(s.progress_total),
                ctx.t("phiếu", "forms")
            );
            leptos::either::Either::Right(view! {
                <p>{ctx.t("Đang đọc phiếu trả lời", "Reading responses")}</p>
                <progress max=s.progress_total value=s.progress_done aria-label=ctx.t("Tiến độ", "Progress")>{read.clone()}</progress>
                <p>{read}</p>
            })
        };
        view! {
            // Without JavaScript too: the page reloads itself while the job runs.
            <meta http-equiv="refresh" content="2" />
            {progress}
        }
    });
    // The engine's own reason is English: quoted as such after a sentence in the reader's language.
    let failed = (s.status == ComputationStatus::Failed).then(|| {
        view! {
            <p class="error" role="alert">
                {ctx.t("Lần tính này không thành công. Lý do do hệ thống ghi (tiếng Anh): ", "This computation failed: ")}
                <span lang="en">{s.error.clone()}</span>
            </p>
        }
    });

    let action = |verb: &str| format!("/staff/computations/{id}/{verb}");
    let submit = permitted.submit.then(|| {
        view! {
            <form method="post" action=action("submit")>
                <button type="submit">{ctx.t("Trình phê duyệt", "Submit for approval")}</button>
            </form>
        }
    });
    let approve = permitted.approve.then(|| {
        view! {
            <form method="post" action=action("approve")>
                <button type="submit">{ctx.t("Phê duyệt", "Approve")}</button>
            </form>
            <form method="post" action=action("return") class="stack">
                <label for="return-reason">{ctx.t("Trả lại kèm lý do", "Return with a reason")}</label>
                <textarea id="return-reason" name="body" rows="2" required maxlength="4000"></textarea>
                <button type="submit" class="secondary">{ctx.t("Trả lại", "Return")}</button>
            </form>
        }
    });
    let publish = permitted.publish.then(|| {
        let correction = permitted.correction_of.map(|v| {
            view! {
                <label for="changelog">{format!("{} v{v}: {}", ctx.t("Đính chính bản", "Corrects version"), ctx.t("nêu điều gì thay đổi và vì sao (công khai)", "say what changed and why (public)"))}</label>
                <textarea id="changelog" name="changelog" rows="3" required maxlength="4000"></textarea>
            }
        });
        let title = format!("SIPAS {}", wave.wave.year);
        view! {
            <form method="post" action=action("publish") class="stack">
                <label for="title">{ctx.t("Tên bản công bố", "Release title")}</label>
                <input id="title" name="title" value=title required maxlength="200" />
                {correction}
                {permitted.wave_open.then(|| view! {
                    <p class="warning">{ctx.t(
                        "Đợt này vẫn đang thu thập: phiếu đến sau sẽ không có trong bản công bố này, và bản công bố sẽ ghi rõ là được công bố khi đợt chưa đóng.",
                        "This wave is still collecting: forms that arrive later will not be in this release, and the release will say it was published before the wave closed.")}</p>
                    <label><input type="checkbox" name="open_ack" value="yes" required />
                        {ctx.t(" Tôi vẫn công bố khi đợt chưa đóng.", " Publish while the wave is still open.")}</label>
                })}
                <label><input type="checkbox" name="confirm" value="yes" required />
                    {ctx.t(" Công bố không thể thu hồi; mọi sửa đổi là một phiên bản mới.", " Publishing cannot be undone; a correction is a new version.")}</label>
                <button type="submit">{ctx.t("Công bố", "Publish")}</button>
            </form>
        }
    });

    // Provinces under their target are one line with the list folded under it (34 bullets
    // before the results hid the other warnings).
    let (under, other): (Vec<&Warning>, Vec<&Warning>) = c
        .report
        .warnings
        .iter()
        .partition(|w| matches!(w, Warning::UnderTarget { .. }));
    let under_target = (!under.is_empty()).then(|| {
        let lines = under
            .iter()
            .map(|w| view! { <li>{warning_text(ctx, &names, w)}</li> })
            .collect_view();
        view! {
            <li><details><summary>{format!("{} {}", under.len(), ctx.t(
                "tỉnh chưa đạt chỉ tiêu số phiếu (bấm để xem)",
                "provinces below their target of completes (open to see)"))}</summary>
                <ul>{lines}</ul></details></li>
        }
    });
    let warnings = other
        .into_iter()
        .map(|w| view! { <li>{warning_text(ctx, &names, w)}</li> })
        .collect_view();

    // Headline: the SIPAS index of the nation, the mean of provinces and every province.
    let headline = c
        .cells
        .iter()
        .filter(|cell| cell.node == ROOT_NODE && cell.subgroup.is_empty())
        .map(|cell| {
            let label = match cell.domain.as_str() {
                "national" => ctx
                    .t("Cả nước (thiết kế)", "Nation (design-based)")
                    .to_owned(),
                "national_mean" => ctx.t("Trung bình các tỉnh", "Mean of provinces").to_owned(),
                code => name(code),
            };
            // Straight to the province's detail, not to the top of the page.
            let href = format!("/staff/computations/{id}?domain={}#domain", cell.domain);
            let header = view! { <a href=href>{label}</a> }.into_any();
            result_row(
                ctx,
                header,
                crate::results::flag_words(ctx.locale, &cell.flag).to_owned(),
                cell,
            )
        })
        .collect_view();
    let head = move || {
        view! {
            <thead><tr>
                <th scope="col">{ctx.t("Đơn vị / chỉ tiêu", "Unit / measure")}</th>
                <th scope="col">{ctx.t("Hài lòng (%)", "Satisfied (%)")}</th>
                <th scope="col">{ctx.t("Khoảng tin cậy 95%", "95% interval")}</th>
                <th scope="col">{ctx.t("Cờ", "Flag")}</th>
                <th scope="col">"n"</th>
                <th scope="col">{ctx.t("n hiệu dụng", "Effective n")}</th>
                <th scope="col">{ctx.t("Hệ số thiết kế (deff)", "Deff")}</th>
                <th scope="col">{ctx.t("Khoảng thứ hạng", "Rank interval")}</th>
                <th scope="col">{ctx.t("So với cả nước", "Vs nation")}</th>
                <th scope="col">{ctx.t("Thay đổi", "Change")}</th>
            </tr></thead>
        }
    };
    let detail = domain.map(|d| {
        let rows = c
            .cells
            .iter()
            .filter(|cell| cell.domain == d && cell.subgroup.is_empty())
            .map(|cell| {
                // In words, with the code the open data's `node` column uses.
                let label = wording.label(ctx.locale, &cell.node);
                let header = view! { {label}" "<code>{cell.node.clone()}</code> }.into_any();
                let flag = crate::results::flag_words(ctx.locale, &cell.flag);
                let note = crate::results::note_words(ctx.locale, &cell.note);
                result_row(ctx, header, format!("{flag} {note}").trim().to_owned(), cell)
            })
            .collect_view();
        let heading = match d.as_str() {
            "national" => ctx.t("Cả nước", "Nation").to_owned(),
            "national_mean" => ctx.t("Trung bình các tỉnh", "Mean of provinces").to_owned(),
            code => name(code),
        };
        view! {
            <section id="domain">
                <h2>{format!("{heading}: {}", ctx.t("nội dung, thành phần và câu hỏi", "contents, elements and items"))}</h2>
                <table class="data results">{head()}<tbody>{rows}</tbody></table>
            </section>
        }
    });
    let weights = c
        .report
        .weights
        .iter()
        .map(|w| {
            let step =
                |x: Option<f64>| x.map_or_else(|| "—".to_owned(), |x| ctx.locale.decimal(x, 2));
            let g = w.g_range.map_or_else(
                || "—".to_owned(),
                |(lo, hi)| {
                    format!(
                        "{}–{}",
                        ctx.locale.decimal(lo, 2),
                        ctx.locale.decimal(hi, 2)
                    )
                },
            );
            let mut notes = Vec::new();
            if !w.joined_classes.is_empty() {
                notes.push(format!(
                    "{} {}",
                    ctx.t("Gộp lớp:", "Classes joined:"),
                    w.joined_classes.join(", ")
                ));
            }
            if !w.capped_strata.is_empty() {
                notes.push(format!(
                    "{} {}",
                    ctx.t("Hệ số điều chỉnh bị chặn:", "Adjustment capped:"),
                    w.capped_strata.join(", ")
                ));
            }
            view! {
                <tr>
                    <th scope="row">{name(&w.province)}</th>
                    <td class="num">{format!("{} / {}", ctx.locale.integer(w.respondents), ctx.locale.integer(w.target))}</td>
                    <td class="num">{ctx.locale.decimal(w.kish_design, 2)}</td>
                    <td class="num">{ctx.locale.decimal(w.kish_deff, 2)}</td>
                    <td class="num">{step(w.kish_trimmed)}</td>
                    <td class="num">{step(w.kish_calibrated)}</td>
                    <td class="num">{g}</td>
                    <td class="num">{ctx.locale.decimal(w.min, 1)}</td>
                    <td class="num">{ctx.locale.decimal(w.median, 1)}</td>
                    <td class="num">{ctx.locale.decimal(w.max, 1)}</td>
                    <td>{notes.join("; ")}</td>
                </tr>
            }
        })
        .collect_view();
    let comment_list = comments
        .into_iter()
        .map(|m| {
            view! { <li><p><strong>{m.author}</strong>" · "<time datetime=m.at.clone()>{moment(ctx.locale, &m.at)}</time></p><p class="comment">{m.body}</p></li> }
        })
        .collect_view();
    let may_comment = ctx
        .user
        .as_ref()
        .is_some_and(|u| u.may(Action::ReadResults))
        && s.status != ComputationStatus::Published;
    let comment_form = may_comment.then(|| {
        view! {
            <form method="post" action=action("comment") class="stack">
                <label for="comment">{ctx.t("Nhận xét", "Comment")}</label>
                <textarea id="comment" name="body" rows="3" required maxlength="4000"></textarea>
                <button type="submit" class="secondary">{ctx.t("Gửi nhận xét", "Add comment")}</button>
            </form>
        }
    });
    let compared = compared_text(ctx, c.report.compared_with);
    let release = s.release.map(|(y, v)| {
        let href = format!("/du-lieu/{y}/v{v}/README.txt");
        view! { <a href=href>{format!("SIPAS {y} v{v}")}</a> }
    });
    let title = format!("{} #{id}", ctx.t("Lần tính", "Computation"));
    let body = view! {
        <p class="crumbs"><a href="/staff">{ctx.t("Đợt khảo sát", "Waves")}</a>" › "<a href=results_href>{wave.wave.title.clone()}</a></p>
        <h1>{format!("{title}: {}", status_label(ctx, s.status))}</h1>
        {if s.status == ComputationStatus::Published {
            purpose(ctx,
                "Kết quả đã công bố của lần tính này, giữ nguyên như lúc phê duyệt: cảnh báo, chỉ số từng tỉnh (bấm tên tỉnh để xem các thành phần) và báo cáo trọng số. Dữ liệu mở ở liên kết Bản công bố.",
                "The published results of this computation, as approved: warnings, each province's index (choose a province for its elements) and the weights report. The open data is under Release.")
        } else {
            purpose(ctx,
                "Bản nháp kết quả: đọc các cảnh báo, kiểm tra chỉ số từng tỉnh (bấm tên tỉnh để xem các thành phần) và báo cáo trọng số, rồi trình hoặc phê duyệt. Chưa có gì được công khai cho đến khi công bố.",
                "The draft results: read the warnings, check each province's index (choose a province for its elements) and the weights report, then submit or approve. Nothing is public until it is published.")
        }}
        {glossary(ctx, &[Term::Deff, Term::EffectiveN, Term::KishDeff, Term::Df, Term::RankInterval, Term::Adjustment])}
        {running}
        {failed}
        <dl class="facts">
            <dt>{ctx.t("Người tính", "Computed by")}</dt><dd>{format!("{} · {}", s.started_by, moment(ctx.locale, &s.started_at))}</dd>
            <dt>{ctx.t("Thời điểm trình", "Submitted")}</dt><dd>{moment(ctx.locale, s.submitted_at.as_deref().unwrap_or_default())}</dd>
            <dt>{ctx.t("Người phê duyệt", "Approved by")}</dt><dd>{match (&s.approved_by, &s.approved_at) {
                (Some(by), at) => format!("{by} · {}", moment(ctx.locale, at.as_deref().unwrap_or_default())),
                (None, _) => "—".to_owned(),
            }}</dd>
            <dt>{ctx.t("So sánh với", "Compared with")}</dt><dd>{compared}</dd>
            <dt>{ctx.t("Mã băm dữ liệu đầu vào", "Input digest")}</dt><dd><code>{c.input_digest.clone()}</code></dd>
            <dt>{ctx.t("Bản công bố", "Release")}</dt><dd>{match release {
                Some(link) => leptos::either::Either::Left(link),
                None => leptos::either::Either::Right(ctx.t("chưa công bố", "not published")),
            }}</dd>
        </dl>
        <div class="actions">{submit}{approve}{publish}</div>
        <h2>{ctx.t("Cảnh báo", "Warnings")}</h2>
        <ul class="warnings">{warnings}{under_target}</ul>
        <h2>{ctx.t("Chỉ số SIPAS", "SIPAS index")}</h2>
        <table class="data results">{head()}<tbody>{headline}</tbody></table>
        {detail}
        <h2>{ctx.t("Báo cáo trọng số", "Weights report")}</h2>
        <table class="data">
            <thead><tr>
                <th scope="col">{ctx.t("Tỉnh", "Province")}</th>
                <th scope="col">{ctx.t("Phiếu / chỉ tiêu", "Completes / target")}</th>
                <th scope="col">{ctx.t("Hệ số Kish: trọng số thiết kế", "Kish: design weights")}</th>
                <th scope="col">{ctx.t("Hệ số Kish: sau điều chỉnh không trả lời", "Kish: after nonresponse")}</th>
                <th scope="col">{ctx.t("Hệ số Kish: sau cắt tỉa", "Kish: trimmed")}</th>
                <th scope="col">{ctx.t("Hệ số Kish: sau hiệu chỉnh", "Kish: calibrated")}</th>
                <th scope="col">{ctx.t("Khoảng của hệ số g = w / w₀", "Range of g = w / w₀")}</th>
                <th scope="col">{ctx.t("Nhỏ nhất", "Min")}</th>
                <th scope="col">{ctx.t("Trung vị", "Median")}</th>
                <th scope="col">{ctx.t("Lớn nhất", "Max")}</th>
                <th scope="col">{ctx.t("Ghi chú", "Notes")}</th>
            </tr></thead>
            <tbody>{weights}</tbody>
        </table>
        <h2>{ctx.t("Rà soát chất lượng", "Quality review")}</h2>
        {super::pages::left_out_table(ctx, &names, &c.report.quality)}
        <h2>{ctx.t("Nhận xét", "Comments")}</h2>
        <ol class="comments">{comment_list}</ol>
        {comment_form}
        <details><summary>{ctx.t("Phương pháp đã dùng", "Methodology used")}</summary><pre>{c.methodology.clone()}</pre></details>
    };
    document(ctx, &title, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tiny_p_value_reads_as_below_a_thousandth() {
        use crate::i18n::Locale;
        assert_eq!(p_value(Locale::Vi, 0.000_02), "p < 0,001");
        assert_eq!(p_value(Locale::Vi, 0.0345), "p = 0,035");
        assert_eq!(p_value(Locale::En, 0.000_02), "p < 0.001");
    }
}
