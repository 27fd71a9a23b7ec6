//! Fieldwork monitoring: nation → province → stratum → PSU.

use leptos::prelude::*;

use super::{Ctx, document};
use crate::domain::Province;
use crate::staff::port::{Monitoring, WaveDetails};

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
    pub provisional: Provisional,
}

/// The provisional margins of error (staff only): the last background computation's, and the
/// design's targets when the frame was drawn here.
#[derive(Debug, Clone, Default)]
pub struct Provisional {
    /// RFC 3339; `None` until a computation has finished.
    pub computed_at: Option<String>,
    pub running: bool,
    /// Why the last computation gave none (the engine's words).
    pub error: Option<String>,
    /// Province → (respondents, half-width of the 95% interval), proportion points.
    pub margins: std::collections::BTreeMap<String, (f64, f64)>,
    /// Province → the design's expected margin.
    pub targets: std::collections::BTreeMap<String, f64>,
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
        provisional,
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
                    <td class="num">{ctx.locale.integer(l.target)}</td>
                    <td class="num">{ctx.locale.integer(l.completes)}</td>
                    <td class="bar"><progress max=max value=l.completes.min(max)
                        aria-label=format!("{} {}", l.label, percent(l.completes, l.target))></progress>
                        " "{percent(l.completes, l.target)}</td>
                    <td class="num">{format!("{} / {} ({})", ctx.locale.integer(l.used), ctx.locale.integer(l.issued), percent(l.used, l.issued))}</td>
                    <td class="num">{ctx.locale.integer(l.drafts)}</td>
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
                        <td class="num">{ctx.locale.integer(target)}</td>
                        <td class="num">{ctx.locale.integer(completes)}</td>
                        <td class="bar"><progress max=max value=completes.min(max)
                            aria-label=format!("{stratum} {}", percent(completes, target))></progress>
                            " "{percent(completes, target)}</td>
                        <td class="num">{format!("{} / {} ({})", ctx.locale.integer(used), ctx.locale.integer(issued), percent(used, issued))}</td>
                        <td class="num">{ctx.locale.integer(drafts)}</td>
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
    let channels = monitoring.provinces.iter().fold(
        crate::staff::port::ChannelCounts::default(),
        |mut c, p| {
            c.online += p.channels.online;
            c.form += p.channels.form;
            c.outbox += p.channels.outbox;
            c.paper += p.channels.paper;
            c
        },
    );
    let all = channels.online + channels.form + channels.outbox + channels.paper;
    let median = |p: &crate::staff::port::ProvinceProgress| {
        p.median_duration_secs
            .map(|s| {
                format!(
                    "{} {}",
                    ctx.locale.decimal(s / 60.0, 1),
                    ctx.t("phút", "min")
                )
            })
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
            <tr><th scope="row">{super::day(ctx.locale, Some(day), ("", ""))}</th><td class="num">{*n}</td>
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
    // Provisional margins: the provinces shown (one for a province's page), worst first.
    let mut provisional_rows: Vec<(String, f64, f64, Option<f64>)> = provisional
        .margins
        .iter()
        .filter(|(p, _)| province.as_ref().is_none_or(|own| own == *p))
        .map(|(p, (n, margin))| (p.clone(), *n, *margin, provisional.targets.get(p).copied()))
        .collect();
    provisional_rows.sort_by(|a, b| b.2.total_cmp(&a.2));
    let status = match (&provisional.computed_at, provisional.running) {
        (None, _) => ctx
            .t(
                "Đang tính lần đầu; tải lại trang sau ít phút.",
                "Computing for the first time; reload the page in a few minutes.",
            )
            .to_owned(),
        (Some(at), running) => format!(
            "{} {}{}",
            ctx.t("Tính lúc", "Computed at"),
            super::moment(ctx.locale, at),
            if running {
                ctx.t(" · đang tính lại", " · recomputing")
            } else {
                ""
            }
        ),
    };
    let provisional_table = {
        // No table until there is a row (the lines above say why).
        let has_rows = !provisional_rows.is_empty();
        let rows = provisional_rows
            .into_iter()
            .map(|(p, n, margin, target)| {
                let over = target.is_some_and(|t| margin > t);
                let target = target.map_or_else(|| "—".to_owned(), |t| format!("± {}", ctx.locale.decimal(100.0 * t, 1)));
                view! {
                    <tr>
                        <th scope="row">{format!("{p} {}", name_of(&p))}</th>
                        <td class="num">{ctx.locale.integer(n as i64)}</td>
                        <td class="num">{format!("± {}", ctx.locale.decimal(100.0 * margin, 1))}</td>
                        <td class="num">{target}</td>
                        <td>{over.then(|| ctx.t("chưa đạt: cần thêm phiếu", "not yet: more forms needed"))}</td>
                    </tr>
                }
            })
            .collect_view();
        let error = provisional.error.clone().map(|e| {
            view! {
                <p>{ctx.t("Chưa tính được: ", "Not computed: ")}<span lang="en">{e}</span></p>
            }
        });
        // Computed, but no province has an interval yet (too few forms or communes).
        let too_few = (provisional.computed_at.is_some()
            && provisional.error.is_none()
            && provisional.margins.is_empty())
        .then(|| {
            view! {
                <p class="empty">{ctx.t(
                    "Chưa tỉnh nào đủ phiếu ở đủ xã/phường để tính được sai số.",
                    "No province has enough forms in enough communes for a margin yet.")}</p>
            }
        });
        view! {
            <section aria-labelledby="provisional">
                <h2 id="provisional">{ctx.t("Sai số tạm tính (chỉ để điều hành, không công bố)", "Provisional margins (for managing fieldwork, never published)")}</h2>
                <p class="hint">{ctx.t(
                    "Nửa độ rộng khoảng tin cậy 95% của chỉ số SIPAS từng tỉnh, tính bằng chính phương pháp của bản công bố trên các phiếu đã nhận; tính lại tối đa 5 phút một lần. Mục tiêu là sai số dự kiến khi chọn mẫu trên trang Thiết kế mẫu.",
                    "Half the width of the 95% interval of each province's SIPAS index, by the release's own method on the forms received so far; recomputed at most every 5 minutes. The target is the margin expected when the sample was drawn on the design page.")}</p>
                <p class="hint">{status}</p>
                {error}
                {too_few}
                {has_rows.then(|| view! { <table class="data">
                    <thead><tr>
                        <th scope="col">{ctx.t("Tỉnh", "Province")}</th>
                        <th scope="col">{ctx.t("Phiếu", "Forms")}</th>
                        <th scope="col">{ctx.t("Sai số tạm tính (điểm %)", "Provisional margin (points)")}</th>
                        <th scope="col">{ctx.t("Mục tiêu", "Target")}</th>
                        <th scope="col">{ctx.t("Lưu ý", "Note")}</th>
                    </tr></thead>
                    <tbody>{rows}</tbody>
                </table> })}
            </section>
        }
    };
    let body = view! {
        <p class="crumbs"><a href=back>{code.clone()}</a>{national}</p>
        <h1>{title.clone()}</h1>
        {super::purpose(ctx,
            "Theo dõi thu thập: số phiếu hoàn thành so với chỉ tiêu theo tỉnh, tầng và xã/phường, để biết nơi nào cần nhắc. Bấm vào một tỉnh để xem chi tiết.",
            "Follow collection: completes against target by province, stratum and commune, to see where reminders are needed. Choose a province for its detail.")}
        <p><a href=format!("/staff/waves/{code}/fieldwork")>{ctx.t("Phát, thu phiếu theo nhân viên và tỷ lệ trả lời (RR1, RR3) →", "Fieldwork by worker and response rates (RR1, RR3) →")}</a></p>
        <p>{scope_line}" · "<span>{ctx.t("Tự cập nhật mỗi 30 giây khi bật JavaScript; nếu không, tải lại trang.", "Refreshes every 30 s with JavaScript; otherwise reload the page.")}</span></p>
        <div id="live" data-refresh=refresh aria-live="polite">
            <dl class="facts">
                <dt>{ctx.t("Chỉ tiêu", "Target")}</dt><dd>{ctx.locale.integer(totals.0)}</dd>
                <dt>{ctx.t("Hoàn thành", "Completes")}</dt><dd>{format!("{} ({})", ctx.locale.integer(totals.2), percent(totals.2, totals.0))}</dd>
                <dt>{ctx.t("Mã đã phát", "Codes issued")}</dt><dd>{ctx.locale.integer(totals.1)}</dd>
                <dt>{ctx.t("Đang trả lời", "In progress")}</dt><dd>{ctx.locale.integer(totals.3)}</dd>
                <dt>{ctx.t("Ngoài dàn mẫu", "Outside the frame")}</dt><dd>{ctx.locale.integer(monitoring.outside_frame)}</dd>
                <dt>{ctx.t("Kênh", "Modes")}</dt>
                <dd>{format!("{} {} · {} {} · {} {} · {} {}",
                    ctx.t("trực tuyến", "online"), percent(channels.online, all),
                    ctx.t("không JavaScript", "without JavaScript"), percent(channels.form, all),
                    ctx.t("gửi lại khi có mạng", "sent when back online"), percent(channels.outbox, all),
                    ctx.t("giấy", "paper"), percent(channels.paper, all))}</dd>
            </dl>
            <details class="help">
                <summary>{ctx.t("Các số này là gì", "What these numbers are")}</summary>
                <dl>
                    <dt>{ctx.t("Mã đã phát", "Codes issued")}</dt>
                    <dd>{ctx.t(
                        "mã mời in ra và phát cho người dân theo xã/phường (PSU). Phiếu giấy nhập không kèm mã được tính vào Hoàn thành, không vào Mã đã phát; trang Mã mời liệt kê chúng thành lô riêng.",
                        "invitation codes printed and handed out per commune (PSU). Paper forms keyed in without a code count as completes, not as codes issued; the batches page lists them as a batch of their own.")}</dd>
                    <dt>"PSU"</dt>
                    <dd>{ctx.t("xã/phường được chọn vào mẫu (đơn vị mẫu cấp 1).", "a commune or ward drawn into the sample (primary sampling unit).")}</dd>
                    <dt>{ctx.t("Ngoài dàn mẫu", "Outside the frame")}</dt>
                    <dd>{ctx.t("phiếu hoàn thành trên mã không thuộc xã/phường nào của dàn mẫu (đường dẫn mở, hoặc xã/phường đã bỏ khỏi dàn mẫu).", "completes on codes of no commune in the frame (the open link, or a commune since dropped from the frame).")}</dd>
                    <dt>{ctx.t("Trung vị", "Median")}</dt>
                    <dd>{ctx.t("thời gian trả lời ở giữa của các phiếu trực tuyến; “—” khi chưa có phiếu trực tuyến nào (phiếu giấy không có thời gian).", "the middle answering time of the online forms; “—” while there are none (paper forms have no time).")}</dd>
                </dl>
            </details>
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
            {provisional_table}
            <table class="data">
                <caption>{ctx.t("Kênh trả lời và thời gian hoàn thành (trung vị)", "Modes and median completion time")}</caption>
                <thead><tr>
                    <th scope="col">{ctx.t("Tỉnh", "Province")}</th><th scope="col">{ctx.t("Trực tuyến", "Online")}</th>
                    <th scope="col">{ctx.t("Không JavaScript", "Without JavaScript")}</th><th scope="col">{ctx.t("Gửi lại khi có mạng", "Sent when back online")}</th>
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
