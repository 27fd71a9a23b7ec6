//! The quality review's pages: the queue of flagged responses, one response with its answers
//! and decisions, and the left-out table a draft shows.

use leptos::prelude::*;
use sipas_stats::quality::{Flag, QualityThresholds};

use super::{Ctx, day, document, moment, purpose};
use crate::staff::port::WaveDetails;
use crate::staff::quality::{
    Decision, OTHER_REASONS, QualityReport, QueueRow, ReviewedResponse, reason_label,
};

fn flag_list(ctx: &Ctx, flags: &[Flag]) -> String {
    flags
        .iter()
        .map(|f| {
            let (vi, en) = reason_label(f.key());
            ctx.t(vi, en).to_owned()
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// How the response came, in words.
fn channel(ctx: &Ctx, key: &str) -> String {
    match key {
        "online" => ctx.t("điện thoại, có JavaScript", "phone, with JavaScript"),
        "form" => ctx.t("điện thoại, không JavaScript", "phone, without JavaScript"),
        "outbox" => ctx.t("gửi lại khi có mạng", "sent when back on the network"),
        "paper" => ctx.t("phiếu giấy", "paper form"),
        _ => key,
    }
    .to_owned()
}

fn decision_text(ctx: &Ctx, row: &QueueRow) -> String {
    match row.review {
        None => ctx.t("Chưa rà soát", "Not reviewed").to_owned(),
        Some(decision) => {
            let (vi, en) = decision.label();
            let (rvi, ren) = reason_label(row.review_reason.as_deref().unwrap_or("other"));
            format!("{}: {}", ctx.t(vi, en), ctx.t(rvi, ren))
        }
    }
}

/// The thresholds in words.
fn thresholds_list(ctx: &Ctx, t: &QualityThresholds) -> impl IntoView + use<> {
    let off = ctx.t("tắt", "off").to_owned();
    let seconds = if t.min_seconds_per_item > 0.0 {
        format!(
            "< {} {}",
            ctx.locale.decimal(t.min_seconds_per_item, 1),
            ctx.t(
                "giây mỗi câu trả lời (phiếu điện tử)",
                "seconds per answered item (web)"
            )
        )
    } else {
        off.clone()
    };
    let run = if t.straight_line_items > 0 {
        format!(
            "≥ {} {}",
            t.straight_line_items,
            ctx.t("câu thang điểm liên tiếp", "consecutive rating items")
        )
    } else {
        off.clone()
    };
    let share = if t.max_no_answer_share < 1.0 {
        format!(
            "> {} %",
            ctx.locale.decimal(t.max_no_answer_share * 100.0, 0)
        )
    } else {
        off.clone()
    };
    let twins = if t.duplicates {
        ctx.t(
            "cùng xã, cùng mọi câu trả lời",
            "same commune, every answer the same",
        )
        .to_owned()
    } else {
        off.clone()
    };
    let devices = if t.max_devices > 0 {
        format!(
            "> {} {}",
            t.max_devices,
            ctx.t(
                "trình duyệt cho một mã (phiếu điện tử)",
                "browsers for one code (web)"
            )
        )
    } else {
        off
    };
    let label = |key: &str| {
        let (vi, en) = reason_label(key);
        ctx.t(vi, en).to_owned()
    };
    view! {
        <dl class="facts">
            <dt>{label("speeding")}</dt><dd>{seconds}</dd>
            <dt>{label("straight_lining")}</dt><dd>{run}</dd>
            <dt>{label("many_no_answers")}</dt><dd>{share}</dd>
            <dt>{label("duplicate")}</dt><dd>{twins}</dd>
            <dt>{label("many_devices")}</dt><dd>{devices}</dd>
        </dl>
    }
}

/// What the review did to a wave, per province: excluded responses by reason (left out of the
/// indices) and flagged ones awaiting a decision (counted, holding back submission).
pub fn left_out_table(
    ctx: &Ctx,
    names: &std::collections::HashMap<String, String>,
    report: &QualityReport,
) -> impl IntoView + use<> {
    let rows = report
        .left_out
        .iter()
        .chain(&report.awaiting)
        .map(|l| {
            let (vi, en) = reason_label(&l.reason);
            let reason = if l.reason == "awaiting_review" {
                format!("{} ({})", ctx.t(vi, en), ctx.t("vẫn được tính", "still counted"))
            } else {
                format!("{}: {}", ctx.t("Loại", "Excluded"), ctx.t(vi, en))
            };
            view! {
                <tr>
                    <th scope="row">{names.get(&l.province).cloned().unwrap_or_else(|| l.province.clone())}</th>
                    <td>{reason}</td>
                    <td class="num">{ctx.locale.integer(l.count)}</td>
                </tr>
            }
        })
        .collect_view();
    let summary = format!(
        "{} {} · {} {}",
        ctx.locale.integer(report.excluded()),
        ctx.t(
            "phiếu bị loại, không tính vào chỉ số",
            "responses excluded, left out of the indices"
        ),
        ctx.locale.integer(report.awaiting_review()),
        ctx.t(
            "phiếu bị đánh dấu chờ rà soát (vẫn được tính; chưa trình được bản nháp)",
            "flagged responses awaiting review (counted; the draft cannot be submitted yet)"
        ),
    );
    view! {
        <p>{summary}</p>
        <table class="data">
            <thead><tr>
                <th scope="col">{ctx.t("Tỉnh", "Province")}</th>
                <th scope="col">{ctx.t("Lý do", "Reason")}</th>
                <th scope="col">{ctx.t("Số phiếu", "Responses")}</th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

/// A decision's fields: approve or exclude, the reason (`preselect` chosen first) and a note;
/// `prefix` keeps the ids of two such forms on one page apart.
fn decision_fields(
    ctx: &Ctx,
    legend: (&'static str, &'static str),
    prefix: &str,
    preselect: Option<&'static str>,
) -> impl IntoView + use<> {
    let reasons = Flag::ALL
        .iter()
        .map(|f| f.key())
        .chain(OTHER_REASONS)
        .map(|key| {
            let (vi, en) = reason_label(key);
            view! { <option value=key selected=preselect == Some(key)>{ctx.t(vi, en).to_owned()}</option> }
        })
        .collect_view();
    let (reason_id, note_id) = (format!("{prefix}reason"), format!("{prefix}note"));
    view! {
        <fieldset>
            <legend>{ctx.t(legend.0, legend.1)}</legend>
            <label><input type="radio" name="decision" value=Decision::Approved.key() required />" "{ctx.t("Chấp thuận: tính vào chỉ số", "Approve: counts in the indices")}</label>
            <label><input type="radio" name="decision" value=Decision::Excluded.key() />" "{ctx.t("Loại: không tính", "Exclude: left out of the indices")}</label>
        </fieldset>
        <label for=reason_id.clone()>{ctx.t("Lý do", "Reason")}</label>
        <select id=reason_id name="reason" required>{reasons}</select>
        <label for=note_id.clone()>{ctx.t("Ghi chú (bắt buộc với lý do khác)", "Note (required with \"other\")")}</label>
        <textarea id=note_id name="note" rows="2" maxlength="1000"></textarea>
    }
}

/// The form that decides every undecided response flagged for one reason alone.
fn bulk_form(ctx: &Ctx, code: &str) -> impl IntoView + use<> {
    let action = format!("/staff/waves/{code}/quality-all");
    let flags = Flag::ALL
        .iter()
        .map(|f| {
            let (vi, en) = reason_label(f.key());
            view! { <option value=f.key()>{ctx.t(vi, en).to_owned()}</option> }
        })
        .collect_view();
    view! {
        <details>
            <summary>{ctx.t("Quyết định cho cả nhóm", "Decide a whole group")}</summary>
            <p class="hint">{ctx.t(
                "Sau khi xem một số phiếu, ghi cùng một quyết định cho mọi phiếu chưa rà soát chỉ bị đánh dấu vì một lý do. Mỗi phiếu có dòng lịch sử riêng; nhật ký ghi số phiếu.",
                "After looking at some of them, record one decision for every unreviewed response flagged for one reason alone. Each response gets its own history line; the audit log records the count.")}</p>
            <form method="post" action=action class="stack">
                <label for="bulk-flag">{ctx.t("Chỉ bị đánh dấu vì", "Flagged only for")}</label>
                <select id="bulk-flag" name="flag" required>{flags}</select>
                {decision_fields(ctx, ("Quyết định", "Decision"), "bulk-", None)}
                <button type="submit">{ctx.t("Ghi cho cả nhóm", "Record for the group")}</button>
            </form>
        </details>
    }
}

/// The queue: flagged responses, undecided first, then those decided on.
pub fn quality_queue(
    ctx: &Ctx,
    wave: &WaveDetails,
    report: &QualityReport,
    rows: &[QueueRow],
) -> String {
    let thresholds = &report.thresholds;
    let code = wave.wave.code.clone();
    let title = format!("{} · {code}", ctx.t("Rà soát chất lượng", "Quality review"));
    let lines = rows
        .iter()
        .map(|row| {
            let href = format!("/staff/waves/{code}/quality/{}", row.export_id);
            let per_item = match row.duration_secs {
                Some(d) if row.measures.answered_items > 0 => ctx
                    .locale
                    .decimal(d as f64 / row.measures.answered_items as f64, 1),
                _ => "—".to_owned(),
            };
            view! {
                <tr>
                    <th scope="row"><a href=href><code>{row.export_id.clone()}</code></a></th>
                    <td>{row.province_code.clone()}</td>
                    <td>{row.psu.clone()}</td>
                    <td>{channel(ctx, &row.channel)}</td>
                    <td class="num">{per_item}</td>
                    <td class="num">{row.measures.straight_line}</td>
                    <td class="num">{format!("{} / {}", row.measures.no_answer_items, row.measures.no_answer_items + row.measures.answered_items)}</td>
                    <td>{flag_list(ctx, &row.flags(thresholds))}</td>
                    <td>{decision_text(ctx, row)}</td>
                </tr>
            }
        })
        .collect_view();
    let back = format!("/staff/waves/{code}");
    let shown = format!(
        "{} {}",
        ctx.locale
            .integer(i64::try_from(rows.len()).unwrap_or(i64::MAX)),
        ctx.t(
            "phiếu đầu tiên (chưa rà soát trước, theo tỉnh và xã)",
            "first responses shown (unreviewed first, by province and commune)"
        ),
    );
    let body = view! {
        <p class="crumbs"><a href=back>{code.clone()}</a></p>
        <h1>{title.clone()}</h1>
        {purpose(ctx,
            "Mỗi phiếu được kiểm tra khi về: trả lời quá nhanh, cùng một câu trả lời cho nhiều câu liên tiếp, quá nhiều câu không trả lời, trùng với phiếu khác cùng xã, mã được trả lời từ nhiều thiết bị. Phiếu bị loại không được tính vào chỉ số; phiếu bị đánh dấu chưa rà soát vẫn được tính nhưng bản nháp chưa trình được cho đến khi mọi phiếu bị đánh dấu đã có quyết định. Mỗi quyết định được ghi nhật ký và có thể thay bằng quyết định mới.",
            "Every response is checked when it arrives: answered too fast, the same answer on many items in a row, too many items not answered, the same answers as another response of the commune, a code answered from many devices. An excluded response does not count in the indices; a flagged one nobody has decided on still counts, but no draft can be submitted until every flagged response is decided. Every decision is in the audit log and can be reversed by a newer one.")}
        <h2>{ctx.t("Ngưỡng (tệp phương pháp, mục [quality])", "Thresholds (methodology file, [quality])")}</h2>
        {thresholds_list(ctx, thresholds)}
        <h2>{ctx.t("Tình hình rà soát", "Where the review stands")}</h2>
        {left_out_table(ctx, &Default::default(), report)}
        {bulk_form(ctx, &code)}
        <h2>{ctx.t("Hàng chờ", "Queue")}</h2>
        <p>{shown}</p>
        <div class="scroll">
        <table class="data" id="queue">
            <thead><tr>
                <th scope="col">{ctx.t("Mã phiếu xuất", "Export id")}</th>
                <th scope="col">{ctx.t("Tỉnh", "Province")}</th>
                <th scope="col">{ctx.t("Xã/phường", "Commune")}</th>
                <th scope="col">{ctx.t("Kênh", "Channel")}</th>
                <th scope="col">{ctx.t("Giây mỗi câu", "Seconds per item")}</th>
                <th scope="col">{ctx.t("Chuỗi giống nhau dài nhất", "Longest run")}</th>
                <th scope="col">{ctx.t("Không trả lời", "No answer")}</th>
                <th scope="col">{ctx.t("Đánh dấu", "Flags")}</th>
                <th scope="col">{ctx.t("Quyết định", "Decision")}</th>
            </tr></thead>
            <tbody>{lines}</tbody>
        </table>
        </div>
    };
    document(ctx, &title, body)
}

/// One response: why it is flagged, its answers, every decision, and the decision form.
pub fn reviewed_response(
    ctx: &Ctx,
    wave: &WaveDetails,
    thresholds: &QualityThresholds,
    reviewed: &ReviewedResponse,
) -> String {
    let code = wave.wave.code.clone();
    let row = &reviewed.row;
    let title = format!("{} {}", ctx.t("Phiếu", "Response"), row.export_id);
    let flags = row.flags(thresholds);
    let counts = row.counts();
    let answers = reviewed
        .answers
        .iter()
        .map(|(item, value)| view! { <tr><th scope="row"><code>{item.clone()}</code></th><td class="num">{*value}</td></tr> })
        .collect_view();
    let history = reviewed
        .history
        .iter()
        .map(|d| {
            let (vi, en) = d.decision.label();
            let (rvi, ren) = reason_label(&d.reason);
            let note = (!d.note.is_empty()).then(|| format!(" — {}", d.note));
            view! {
                <li>
                    <strong>{ctx.t(vi, en).to_owned()}</strong>
                    {format!(" ({}) · {} · {}", ctx.t(rvi, ren), d.by, moment(ctx.locale, &d.at))}
                    {note}
                </li>
            }
        })
        .collect_view();
    let preselect = flags.first().map(|f| f.key());
    let action = format!("/staff/waves/{code}/quality/{}", row.export_id);
    let back = format!("/staff/waves/{code}/quality");
    let duration = row
        .duration_secs
        .map_or_else(|| "—".to_owned(), |d| format!("{d} s"));
    let devices = row
        .devices
        .map_or_else(|| "—".to_owned(), |d| d.to_string());
    let status = if !counts {
        ctx.t(
            "Không được tính vào chỉ số (đã loại)",
            "Left out of the indices (excluded)",
        )
    } else if row.awaits_review(thresholds) {
        ctx.t(
            "Được tính, nhưng chờ rà soát: bản nháp có phiếu này chưa trình được",
            "Counted, but awaiting review: a draft that counts it cannot be submitted",
        )
    } else {
        ctx.t("Được tính vào chỉ số", "Counts in the indices")
    };
    let flag_words = if flags.is_empty() {
        ctx.t("không", "none").to_owned()
    } else {
        flag_list(ctx, &flags)
    };
    let body = view! {
        <p class="crumbs"><a href=back>{ctx.t("Rà soát chất lượng", "Quality review")}</a></p>
        <h1>{title.clone()}</h1>
        <p><strong>{status}</strong></p>
        <dl class="facts">
            <dt>{ctx.t("Đánh dấu", "Flags")}</dt><dd>{flag_words}</dd>
            <dt>{ctx.t("Quyết định hiện tại", "Current decision")}</dt><dd>{decision_text(ctx, row)}</dd>
            <dt>{ctx.t("Tỉnh · xã/phường", "Province · commune")}</dt><dd>{format!("{} · {}", row.province_code, row.psu)}</dd>
            <dt>{ctx.t("Kênh · ngày", "Channel · day")}</dt><dd>{format!("{} · {}", channel(ctx, &row.channel), day(ctx.locale, Some(&row.submitted_on), ("—", "—")))}</dd>
            <dt>{ctx.t("Thời gian trả lời", "Time to answer")}</dt><dd>{duration}</dd>
            <dt>{ctx.t("Câu đã trả lời · không trả lời", "Items answered · not answered")}</dt><dd>{format!("{} · {}", row.measures.answered_items, row.measures.no_answer_items)}</dd>
            <dt>{ctx.t("Chuỗi giống nhau dài nhất", "Longest run of one answer")}</dt><dd>{row.measures.straight_line}</dd>
            <dt>{ctx.t("Số trình duyệt đã trả lời mã này", "Browsers this code was answered from")}</dt><dd>{devices}</dd>
        </dl>
        <h2>{ctx.t("Quyết định", "Decide")}</h2>
        <form method="post" action=action class="stack">
            {decision_fields(ctx, ("Phiếu này", "This response"), "", preselect)}
            <button type="submit">{ctx.t("Ghi quyết định", "Record the decision")}</button>
        </form>
        <h2>{ctx.t("Lịch sử quyết định", "Decisions so far")}</h2>
        <ol>{history}</ol>
        <h2>{ctx.t("Câu trả lời", "Answers")}</h2>
        <table class="data"><tbody>{answers}</tbody></table>
    };
    document(ctx, &title, body)
}
