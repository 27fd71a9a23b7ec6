//! Domain types shared by the browser and the server (no database or web dependencies).

use serde::{Deserialize, Serialize};

/// Which administrative geography a unit belongs to. Codes were reused on 1 July 2025
/// (15 was Yên Bái, is now Lào Cai), so a unit is always identified by geography *and* code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Geography {
    /// The 63 provincial units valid until 2025-06-30.
    G2004,
    /// The 34 provincial units valid from 2025-07-01.
    G2025,
}

impl Geography {
    pub fn key(self) -> &'static str {
        match self {
            Geography::G2004 => "2004",
            Geography::G2025 => "2025",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        match key {
            "2004" => Some(Geography::G2004),
            "2025" => Some(Geography::G2025),
            _ => None,
        }
    }

    /// The geography in force on an ISO date (`YYYY-MM-DD`); ISO dates order as strings.
    pub fn in_force_on(iso_date: &str) -> Self {
        if iso_date < "2025-07-01" {
            Geography::G2004
        } else {
            Geography::G2025
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnitKind {
    /// Thành phố trực thuộc trung ương.
    City,
    /// Tỉnh.
    Province,
}

impl UnitKind {
    pub fn parse(key: &str) -> Option<Self> {
        match key {
            "city" => Some(UnitKind::City),
            "province" => Some(UnitKind::Province),
            _ => None,
        }
    }
}

/// What a unit below the province is on the 2025 map (there are no districts since then).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommuneKind {
    /// Xã.
    Commune,
    /// Phường: the default urban stratum.
    Ward,
    /// Đặc khu (island special zones).
    SpecialZone,
}

impl CommuneKind {
    pub fn parse(key: &str) -> Option<Self> {
        match key {
            "commune" => Some(Self::Commune),
            "ward" => Some(Self::Ward),
            "special_zone" => Some(Self::SpecialZone),
            _ => None,
        }
    }

    /// Wards are urban; communes and special zones rural (the default strata of a frame).
    pub fn urban(self) -> bool {
        self == Self::Ward
    }
}

/// A commune, ward or special zone of the 2025 map (3,321 units, official 5-digit codes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commune {
    pub province_code: String,
    pub code: String,
    pub name_vi: String,
    pub kind: CommuneKind,
}

/// A provincial-level administrative unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Province {
    pub geography: Geography,
    /// The two-digit statistical code, meaningful only together with `geography`.
    pub code: String,
    pub name_vi: String,
    pub kind: UnitKind,
}

impl Province {
    /// A key that never confuses two units that share a code, e.g. `2025:15`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.geography.key(), self.code)
    }
}

/// One link of the 2004→2025 crosswalk: an old province became (part of) a new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrosswalkLink {
    pub old_code: String,
    pub new_code: String,
}

/// A survey wave: one round of data collection for one year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wave {
    /// A short stable identifier, e.g. `sipas-2026`.
    pub code: String,
    pub title: String,
    pub year: i32,
    pub geography: Geography,
    /// The questionnaire version respondents of this wave answer (none: the wave is not open).
    #[serde(default)]
    pub questionnaire: Option<QuestionnaireRef>,
    /// Whether the open link `/s/open/{wave}` accepts respondents without a code (pilots only:
    /// such responses are a non-probability sample).
    #[serde(default)]
    pub open_link: bool,
    /// Closed by hand, or past its closing date: its codes take no more answers.
    #[serde(default)]
    pub closed: bool,
}

/// A published questionnaire version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuestionnaireRef {
    pub code: String,
    pub version: u32,
}

/// How a respondent came into the sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SampleKind {
    /// Drawn by the sample design; carries a design weight.
    Probability,
    /// Came through the open link: self-selected, no design weight. Results that use such
    /// responses must say so.
    Open,
}

impl SampleKind {
    pub fn key(self) -> &'static str {
        match self {
            SampleKind::Probability => "probability",
            SampleKind::Open => "open",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        match key {
            "probability" => Some(SampleKind::Probability),
            "open" => Some(SampleKind::Open),
            _ => None,
        }
    }
}

/// Where an invitation code sends its respondent in the sample: the respondent is never asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamplePoint {
    pub wave_code: String,
    pub geography: Geography,
    pub province_code: String,
    pub stratum: String,
    pub psu: String,
}

/// A stored invitation: its sample point and whether it has been used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub sample: SamplePoint,
    pub kind: SampleKind,
    pub batch: String,
    pub used: bool,
}

/// Lower-cases and strips Vietnamese diacritics, so "ha noi" finds "Hà Nội".
pub fn fold_vietnamese(text: &str) -> String {
    const GROUPS: [(&str, char); 7] = [
        ("àáạảãâầấậẩẫăằắặẳẵ", 'a'),
        ("èéẹẻẽêềếệểễ", 'e'),
        ("ìíịỉĩ", 'i'),
        ("òóọỏõôồốộổỗơờớợởỡ", 'o'),
        ("ùúụủũưừứựửữ", 'u'),
        ("ỳýỵỷỹ", 'y'),
        ("đ", 'd'),
    ];
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| {
            GROUPS
                .iter()
                .find(|(accented, _)| accented.contains(c))
                .map_or(c, |&(_, plain)| plain)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_ignores_case_and_accents() {
        assert_eq!(fold_vietnamese("Hà Nội"), "ha noi");
        assert_eq!(fold_vietnamese("Đắk Lắk"), "dak lak");
        assert_eq!(fold_vietnamese("THỪA THIÊN HUẾ"), "thua thien hue");
    }

    #[test]
    fn geography_in_force() {
        assert_eq!(Geography::in_force_on("2025-06-30"), Geography::G2004);
        assert_eq!(Geography::in_force_on("2025-07-01"), Geography::G2025);
        assert_eq!(Geography::parse("2025"), Some(Geography::G2025));
    }
}
