//! The public results site: the annual index of each published release, its map, province
//! pages and a methodology page for journalists. Rendered on the server only, from plain data
//! the server crate loads (`server/src/web/site/`), with no JavaScript: a release never
//! changes, so each page is rendered once per process and served from memory.

pub mod charts;
pub mod pages;
pub mod tables;

use std::collections::BTreeMap;

use crate::domain::Geography;
use crate::i18n::Locale;
use crate::staff::release::{ReleaseCell, ReleaseInfo};

/// A cell's flag in words (empty when it is `ok`), the same on the public pages and in the
/// staff's draft.
pub fn flag_words(locale: Locale, flag: &str) -> &'static str {
    match flag {
        "low_precision" => locale.pick("độ chính xác thấp", "low precision"),
        "suppressed" => locale.pick(
            "không công bố (quá ít dữ liệu)",
            "withheld (too little data)",
        ),
        "no_data" => locale.pick("không có dữ liệu", "no data"),
        _ => "",
    }
}

/// The root of the index tree: the SIPAS index itself.
pub const ROOT: &str = "sipas";

/// An inner node of the index tree, as the release's methodology defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeNode {
    pub code: String,
    pub label_vi: Option<String>,
    pub label_en: Option<String>,
    pub children: Vec<String>,
}

/// One published release with what its pages need beside the numbers.
#[derive(Debug, Clone)]
pub struct ReleaseData {
    pub info: ReleaseInfo,
    pub cells: Vec<ReleaseCell>,
    /// What its nodes and items are called.
    pub wording: Wording,
    /// Province code → name, on the release's map.
    pub names: BTreeMap<String, String>,
    /// The domain tiers and differences "against the nation" are measured from:
    /// `national_mean` (the official mean of provinces) or `national` (all respondents).
    pub reference: &'static str,
    /// `(file, SHA-256)` of the files `sipas verify` reads.
    pub checksums: Vec<(String, String)>,
    /// Provinces of the release's map without a row (no respondents): `code name`.
    pub missing_provinces: Vec<String>,
}

/// Whether a release's files can be checked with `sipas verify`: it publishes its aggregates
/// (releases published before the platform wrote them cannot be).
pub fn verifiable(checksums: &[(String, String)]) -> bool {
    checksums.iter().any(|(file, _)| file == "aggregates.csv")
}

impl ReleaseData {
    /// The cell of `node` in `domain` (no subgroup).
    pub fn cell(&self, domain: &str, node: &str) -> Option<&ReleaseCell> {
        self.cells
            .iter()
            .find(|c| c.domain == domain && c.node == node && c.subgroup.is_empty())
    }

    /// Province codes with a cell of the index, in code order.
    pub fn provinces(&self) -> Vec<&ReleaseCell> {
        self.cells
            .iter()
            .filter(|c| {
                c.node == ROOT && c.subgroup.is_empty() && self.names.contains_key(&c.domain)
            })
            .collect()
    }

    pub fn name<'a>(&'a self, code: &'a str) -> &'a str {
        self.names.get(code).map_or(code, String::as_str)
    }

    pub fn label(&self, locale: Locale, code: &str) -> String {
        self.wording.label(locale, code)
    }

    /// The children of an inner node (empty for an item).
    pub fn children(&self, code: &str) -> &[String] {
        self.wording.children(code)
    }
}

/// What the nodes and items of an index are called: the methodology's tree (inner nodes, root
/// first) and the questionnaire's wording (item code → (Vietnamese, English)).
#[derive(Debug, Clone, Default)]
pub struct Wording {
    pub tree: Vec<TreeNode>,
    pub items: BTreeMap<String, (String, String)>,
}

impl Wording {
    /// A node's or item's label in `locale`: the methodology's, else the known SIPAS wording,
    /// else the question, else its code.
    pub fn label(&self, locale: Locale, code: &str) -> String {
        if let Some(node) = self.tree.iter().find(|n| n.code == code) {
            let own = match locale {
                Locale::Vi => node.label_vi.as_deref(),
                Locale::En => node.label_en.as_deref(),
            };
            if let Some(label) = own {
                return label.to_owned();
            }
        }
        if let Some((vi, en)) = known_label(code) {
            return locale.pick(vi, en).to_owned();
        }
        if let Some((vi, en)) = self.items.get(code) {
            return locale.pick(vi, en).to_owned();
        }
        code.to_owned()
    }

    /// The children of an inner node (empty for an item).
    pub fn children(&self, code: &str) -> &[String] {
        self.tree
            .iter()
            .find(|n| n.code == code)
            .map_or(&[], |n| n.children.as_slice())
    }
}

/// A reliability note of the engine (English, with a decimal point: "effective n = 21.3 < 30")
/// in the reader's language. Notes the list does not know are shown as written.
pub fn note_words(locale: Locale, note: &str) -> String {
    if locale == Locale::En {
        return note.to_owned();
    }
    // Longer phrases first: "relative Korn–Graubard width" before "Korn–Graubard interval width".
    const PHRASES: [(&str, &str); 13] = [
        ("no valid answers", "không có câu trả lời hợp lệ"),
        (
            "degrees of freedom: no interval can be computed",
            "bậc tự do: không tính được khoảng tin cậy",
        ),
        (
            "zero estimated variance for a proportion strictly between 0 and 1",
            "phương sai ước lượng bằng 0 dù tỉ lệ nằm giữa 0 và 1",
        ),
        ("the complement 1 − p", "phần bù 1 − p"),
        (
            "relative Korn–Graubard width",
            "độ rộng tương đối của khoảng Korn–Graubard",
        ),
        (
            "Korn–Graubard interval width",
            "độ rộng khoảng Korn–Graubard",
        ),
        ("interval width", "độ rộng khoảng tin cậy"),
        ("effective n", "n hiệu dụng"),
        ("estimate at 0 or 1", "ước lượng bằng 0 hoặc 1"),
        ("statistical review", "cần thống kê viên xem xét"),
        ("cv =", "hệ số biến thiên ="),
        ("df =", "bậc tự do ="),
        ("n =", "n ="),
    ];
    let mut out = note.to_owned();
    for (en, vi) in PHRASES {
        out = out.replace(en, vi);
    }
    // Decimal points between digits become commas.
    let chars: Vec<char> = out.chars().collect();
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let between_digits = i > 0
                && chars[i - 1].is_ascii_digit()
                && chars.get(i + 1).is_some_and(char::is_ascii_digit);
            if c == '.' && between_digits { ',' } else { c }
        })
        .collect()
}

/// The wording of the SIPAS contents and elements (the 2023 method), for methodologies that
/// give no label of their own.
pub fn known_label(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        "sipas" => ("Chỉ số SIPAS", "SIPAS index"),
        "policy" => (
            "Xây dựng, tổ chức thực hiện chính sách",
            "Making and carrying out policy",
        ),
        "services" => (
            "Cung ứng dịch vụ hành chính công",
            "Public administrative services",
        ),
        "accountability" => ("Trách nhiệm giải trình", "Accountability"),
        "participation" => ("Sự tham gia của người dân", "Citizens' participation"),
        "policy_quality" => ("Chất lượng chính sách", "Quality of policies"),
        "impact" => ("Tác động của chính sách", "Impact of policies"),
        "access" => ("Tiếp cận dịch vụ", "Access to services"),
        "procedures" => ("Thủ tục hành chính", "Administrative procedures"),
        "civil_servants" => ("Công chức giải quyết công việc", "Civil servants"),
        "results" => ("Kết quả giải quyết công việc", "Results"),
        "feedback" => (
            "Tiếp nhận, xử lý góp ý, phản ánh, kiến nghị",
            "Handling of feedback and complaints",
        ),
        _ => return None,
    })
}

/// What every public page needs: the language, the request path (for the language switch)
/// and the public origin (for share links), when configured.
#[derive(Debug, Clone)]
pub struct Site {
    pub locale: Locale,
    pub path: String,
    pub origin: Option<String>,
}

impl Site {
    pub fn t<'a>(&self, vi: &'a str, en: &'a str) -> &'a str {
        self.locale.pick(vi, en)
    }

    /// A date of an RFC 3339 timestamp as readers write it: `06/12/2026` in Vietnamese,
    /// `6 December 2026` in English (the calendar date of the timestamp as stored, UTC).
    pub fn date(&self, at: &str) -> String {
        let parts: Option<(u32, u32, u32)> = (|| {
            let year = at.get(..4)?.parse().ok()?;
            let month = at.get(5..7)?.parse().ok()?;
            let day = at.get(8..10)?.parse().ok()?;
            Some((year, month, day))
        })();
        const MONTHS: [&str; 12] = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        match (parts, self.locale) {
            (Some((y, m, d)), Locale::Vi) => format!("{d:02}/{m:02}/{y}"),
            (Some((y, m, d)), Locale::En) if (1..=12).contains(&m) => {
                format!("{d} {} {y}", MONTHS[m as usize - 1])
            }
            _ => at.get(..10).unwrap_or(at).to_owned(),
        }
    }
}

/// How the province list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    Index,
    Name,
}

impl Sort {
    pub fn parse(value: Option<&str>) -> Self {
        match value {
            Some("ten") => Sort::Name,
            _ => Sort::Index,
        }
    }
}

/// The address of a release's overview (the latest version of its year has the short one).
pub fn release_path(info: &ReleaseInfo, latest_of_year: bool) -> String {
    if latest_of_year {
        format!("/ket-qua/{}", info.year)
    } else {
        format!("/ket-qua/{}/v{}", info.year, info.version)
    }
}

/// The address of a province page of a release.
pub fn province_path(info: &ReleaseInfo, latest_of_year: bool, code: &str) -> String {
    format!("{}/tinh/{code}", release_path(info, latest_of_year))
}

/// "34 đơn vị (từ 7/2025)" or "63 tỉnh, thành phố".
pub fn map_label(locale: Locale, geography: Geography) -> &'static str {
    match geography {
        Geography::G2025 => locale.pick(
            "34 tỉnh, thành phố (từ 1/7/2025)",
            "34 provinces and cities (since 1 July 2025)",
        ),
        Geography::G2004 => locale.pick(
            "63 tỉnh, thành phố (trước 7/2025)",
            "63 provinces and cities (before July 2025)",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reliability_notes_read_in_vietnamese() {
        // One of each note the engine writes (stats/src/estimate.rs, `judge`).
        let notes = [
            "no valid answers",
            "0.5 degrees of freedom: no interval can be computed",
            "zero estimated variance for a proportion strictly between 0 and 1",
            "n = 12 < 30",
            "effective n = 21.3 < 30",
            "estimate at 0 or 1",
            "df = 5 < 8",
            "cv = 0.123 > 0.1",
            "interval width 0.251 > 0.2",
            "Korn–Graubard interval width 0.312 ≥ 0.3",
            "relative Korn–Graubard width 140% > 130%",
            "df = 5 < 8: statistical review",
            "estimate at 0 or 1: statistical review",
            "the complement 1 − p: relative Korn–Graubard width 140% > 130%: statistical review",
        ];
        let english = [
            "valid",
            "answers",
            "degrees",
            "interval",
            "zero",
            "estimate",
            "width",
            "relative",
            "statistical",
            "review",
            "complement",
            "effective",
            "cv",
        ];
        for note in notes {
            let vi = note_words(Locale::Vi, note);
            for word in english {
                assert!(!vi.contains(word), "{note} → {vi}");
            }
            assert_eq!(note_words(Locale::En, note), note);
        }
        assert_eq!(
            note_words(Locale::Vi, "effective n = 21.3 < 30"),
            "n hiệu dụng = 21,3 < 30"
        );
    }
}
