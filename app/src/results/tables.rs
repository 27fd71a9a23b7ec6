//! A province's own table for people, as `/du-lieu/{year}/v{n}/tinh-{code}.csv` serves it:
//! Vietnamese column names, province and index names, percentages with a decimal comma and
//! plain-Vietnamese notes, separated by semicolons so that Excel set to Vietnamese opens it in
//! columns. The machine-readable table with stable English names is `results.csv`.

use super::{ROOT, ReleaseData};
use crate::staff::release::ReleaseCell;

pub const PROVINCE_COLUMNS_VI: [&str; 17] = [
    "Mã tỉnh",
    "Tỉnh, thành phố",
    "Mã chỉ tiêu",
    "Chỉ tiêu",
    "Số người trả lời",
    "Tỷ lệ hài lòng (%)",
    "Khoảng tin cậy 95%: cận dưới (%)",
    "Khoảng tin cậy 95%: cận trên (%)",
    "Sai số chuẩn (điểm %)",
    "Hệ số thiết kế",
    "Cỡ mẫu hiệu dụng",
    "Độ tin cậy của con số",
    "Thứ hạng",
    "Khoảng thứ hạng",
    "So với cả nước",
    "Chênh lệch so với cả nước (điểm %)",
    "Thay đổi so với năm trước (điểm %)",
];

/// `x` in percent with two decimals and a decimal comma (`83,94`), ASCII minus; empty when
/// undefined.
fn percent(x: Option<f64>) -> String {
    x.filter(|v| v.is_finite())
        .map(|v| format!("{:.2}", 100.0 * v).replace('.', ","))
        .unwrap_or_default()
}

fn whole(x: Option<f64>) -> String {
    x.filter(|v| v.is_finite())
        .map(|v| format!("{v:.0}"))
        .unwrap_or_default()
}

/// A flag in plain Vietnamese.
pub fn flag_vi(flag: &str) -> &'static str {
    match flag {
        "ok" => "tốt",
        "low_precision" => "độ chính xác thấp, dùng thận trọng",
        "suppressed" => "không công bố (quá ít dữ liệu)",
        "no_data" => "không có dữ liệu",
        _ => "",
    }
}

/// A tier in plain Vietnamese (statistically significant at 5% after Holm's adjustment).
pub fn tier_vi(tier: Option<&str>) -> &'static str {
    match tier {
        Some("above") => "cao hơn (có ý nghĩa thống kê ở mức 5%)",
        Some("below") => "thấp hơn (có ý nghĩa thống kê ở mức 5%)",
        Some("not_distinguishable") => "không khác biệt rõ",
        _ => "",
    }
}

fn change_vi(c: &ReleaseCell) -> String {
    match (c.change, c.change_p_holm.or(c.change_p)) {
        (Some(_), Some(p)) => format!(
            "{} ({})",
            percent(c.change),
            if p < 0.05 {
                "có ý nghĩa thống kê ở mức 5%"
            } else {
                "chưa có ý nghĩa thống kê"
            }
        ),
        _ => String::new(),
    }
}

fn field(text: &str) -> String {
    if text.contains([';', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The table of province `code`: the index first, then its contents, elements and questions in
/// the methodology's order. `None` when the release has no such province.
pub fn province_table_vi(data: &ReleaseData, code: &str) -> Option<String> {
    data.cell(code, ROOT)?;
    let name = data.name(code).to_owned();
    let mut order: Vec<String> = vec![ROOT.to_owned()];
    fn walk(data: &ReleaseData, node: &str, out: &mut Vec<String>) {
        for child in data.children(node) {
            out.push(child.clone());
            walk(data, child, out);
        }
    }
    walk(data, ROOT, &mut order);
    // Anything the tree does not reach (a methodology without labels) after it.
    for c in data.cells.iter().filter(|c| c.domain == code) {
        if !order.contains(&c.node) {
            order.push(c.node.clone());
        }
    }
    let mut out = String::from("\u{feff}");
    out.push_str(&PROVINCE_COLUMNS_VI.join(";"));
    out.push_str("\r\n");
    for node in order {
        let Some(c) = data.cell(code, &node) else {
            continue;
        };
        let rank = match (c.rank_best, c.rank_worst, c.ranked_of) {
            (Some(b), Some(w), Some(of)) if b == w => format!("{b} trên {of}"),
            (Some(b), Some(w), Some(of)) => format!("{b}–{w} trên {of}"),
            _ => String::new(),
        };
        let row = [
            code.to_owned(),
            name.clone(),
            node.clone(),
            data.label(crate::i18n::Locale::Vi, &node),
            whole(c.n),
            percent(c.estimate),
            percent(c.ci_low),
            percent(c.ci_high),
            percent(c.se),
            c.deff
                .filter(|v| v.is_finite())
                .map(|v| format!("{v:.2}").replace('.', ","))
                .unwrap_or_default(),
            whole(c.n_eff),
            flag_vi(&c.flag).to_owned(),
            c.rank.map(|r| r.to_string()).unwrap_or_default(),
            rank,
            tier_vi(c.tier.as_deref()).to_owned(),
            percent(c.vs_national_difference),
            change_vi(c),
        ];
        out.push_str(&row.iter().map(|f| field(f)).collect::<Vec<_>>().join(";"));
        out.push_str("\r\n");
    }
    Some(out)
}
