//! Quality checks of single responses (docs/methodology.md, "Quality review"): measures taken
//! when a response arrives, and the methodology's `[quality]` thresholds that turn them into
//! flags. A response counts in the indices unless a reviewer excludes it; a draft that counts a
//! flagged one nobody has decided on cannot be submitted for approval.
//!
//! The measures are facts about the response (how many items it answered, its longest run of
//! one answer, ...) and are stored with it; the thresholds belong to the methodology, so a
//! methodology with other thresholds flags the same stored responses differently without
//! touching them. The database evaluates the same rules in SQL (`server::store::quality`); the
//! tests there keep the two in step.

use serde::{Deserialize, Serialize};

/// When a response is flagged for review. Each check has a value that turns it off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualityThresholds {
    /// Speeding: fewer seconds than this per answered item, first page to submission (0: off).
    /// Web only: paper forms carry no timing.
    #[serde(default = "default_min_seconds_per_item")]
    pub min_seconds_per_item: f64,
    /// Straight-lining: the same answer on at least this many consecutive rating-scale items
    /// (0: off).
    #[serde(default = "default_straight_line_items")]
    pub straight_line_items: i64,
    /// Too many "no answer": more than this share of the items shown to the respondent
    /// answered "not applicable / don't know" or left empty (1: off).
    #[serde(default = "default_max_no_answer_share")]
    pub max_no_answer_share: f64,
    /// Duplicates: another response in the same commune (PSU) with the very same answers.
    #[serde(default = "yes")]
    pub duplicates: bool,
    /// A code answered from many devices: drafts or the submission came from more than this
    /// many browsers (each keeps a random device cookie; 0: off). Web only. A respondent may
    /// well start on one phone and finish on another, or clear their cookies, so a few are
    /// normal; many suggest a code passed around.
    #[serde(default = "default_max_devices")]
    pub max_devices: i64,
}

fn default_min_seconds_per_item() -> f64 {
    1.5
}
fn default_straight_line_items() -> i64 {
    30
}
fn default_max_no_answer_share() -> f64 {
    0.5
}
/// Devices counted for one code at most (a bound on what one code can make the server store);
/// `max_devices` must stay below it.
pub const DEVICES_COUNTED_AT_MOST: i64 = 50;

fn default_max_devices() -> i64 {
    3
}
fn yes() -> bool {
    true
}

impl Default for QualityThresholds {
    fn default() -> Self {
        Self {
            min_seconds_per_item: default_min_seconds_per_item(),
            straight_line_items: default_straight_line_items(),
            max_no_answer_share: default_max_no_answer_share(),
            duplicates: true,
            max_devices: default_max_devices(),
        }
    }
}

impl QualityThresholds {
    /// Refuses thresholds that cannot be meant (negative, shares outside 0–1, a run of one).
    pub fn validate(&self) -> Result<(), String> {
        let seconds = self.min_seconds_per_item;
        if !(seconds.is_finite() && seconds >= 0.0) {
            return Err(format!(
                "[quality] min_seconds_per_item must be 0 (off) or more (is {seconds})"
            ));
        }
        let run = self.straight_line_items;
        if run != 0 && run < 2 {
            return Err(format!(
                "[quality] straight_line_items must be 0 (off) or at least 2 (is {run})"
            ));
        }
        let share = self.max_no_answer_share;
        if !(0.0..=1.0).contains(&share) {
            return Err(format!(
                "[quality] max_no_answer_share must be between 0 and 1 (off) (is {share})"
            ));
        }
        let devices = self.max_devices;
        if !(0..DEVICES_COUNTED_AT_MOST).contains(&devices) {
            return Err(format!(
                "[quality] max_devices must be 0 (off) to {} (is {devices}): no more than {} \
                 devices are counted for a code",
                DEVICES_COUNTED_AT_MOST - 1,
                DEVICES_COUNTED_AT_MOST
            ));
        }
        Ok(())
    }
}

/// One item the respondent was shown, in questionnaire order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShownItem {
    /// The answer; `None` when left empty.
    pub value: Option<i64>,
    /// The answer is the scale's "not applicable / don't know".
    pub not_applicable: bool,
    /// The item is on a rating scale (the satisfaction scale, not a demographic question):
    /// straight-lining is counted on these.
    pub rating: bool,
}

/// What a response's checks measure, stored with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Measures {
    /// Items with a substantive answer.
    pub answered_items: i64,
    /// Shown items answered "not applicable / don't know" or left empty.
    pub no_answer_items: i64,
    /// The longest run of one substantive answer on consecutive shown rating items.
    pub straight_line: i64,
}

/// Measures the items a respondent was shown, in questionnaire order.
pub fn measure(items: &[ShownItem]) -> Measures {
    let mut measures = Measures::default();
    let mut run: Option<(i64, i64)> = None;
    for item in items {
        let substantive = item.value.filter(|_| !item.not_applicable);
        if substantive.is_some() {
            measures.answered_items += 1;
        } else {
            measures.no_answer_items += 1;
        }
        if !item.rating {
            continue;
        }
        // A "no answer" breaks the run: it is counted by its own check.
        run = match (run, substantive) {
            (Some((value, length)), Some(v)) if v == value => Some((value, length + 1)),
            (_, Some(v)) => Some((v, 1)),
            (_, None) => None,
        };
        if let Some((_, length)) = run {
            measures.straight_line = measures.straight_line.max(length);
        }
    }
    measures
}

/// Why a response is flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    Speeding,
    StraightLining,
    ManyNoAnswers,
    Duplicate,
    ManyDevices,
}

impl Flag {
    pub const ALL: [Flag; 5] = [
        Flag::Speeding,
        Flag::StraightLining,
        Flag::ManyNoAnswers,
        Flag::Duplicate,
        Flag::ManyDevices,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Flag::Speeding => "speeding",
            Flag::StraightLining => "straight_lining",
            Flag::ManyNoAnswers => "many_no_answers",
            Flag::Duplicate => "duplicate",
            Flag::ManyDevices => "many_devices",
        }
    }

    pub fn parse(key: &str) -> Option<Flag> {
        Flag::ALL.into_iter().find(|f| f.key() == key)
    }
}

/// A stored response as the checks see it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Checked {
    pub measures: Measures,
    /// Seconds from the first page to the submission; `None` on paper or when unknown.
    pub duration_secs: Option<i64>,
    /// Another response of the commune has the same answers.
    pub duplicate: bool,
    /// Browsers the code was answered from (drafts and submission); `None` on paper or when
    /// unknown.
    pub devices: Option<i64>,
}

/// The flags a response raises under these thresholds.
pub fn flags(response: &Checked, thresholds: &QualityThresholds) -> Vec<Flag> {
    let m = &response.measures;
    let mut flags = Vec::new();
    if let Some(duration) = response.duration_secs
        && m.answered_items > 0
        && (duration as f64) < thresholds.min_seconds_per_item * m.answered_items as f64
    {
        flags.push(Flag::Speeding);
    }
    if thresholds.straight_line_items > 0 && m.straight_line >= thresholds.straight_line_items {
        flags.push(Flag::StraightLining);
    }
    if (m.no_answer_items as f64)
        > thresholds.max_no_answer_share * (m.answered_items + m.no_answer_items) as f64
    {
        flags.push(Flag::ManyNoAnswers);
    }
    if thresholds.duplicates && response.duplicate {
        flags.push(Flag::Duplicate);
    }
    if let Some(devices) = response.devices
        && thresholds.max_devices > 0
        && devices > thresholds.max_devices
    {
        flags.push(Flag::ManyDevices);
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rating(value: i64) -> ShownItem {
        ShownItem {
            value: Some(value),
            not_applicable: value == 9,
            rating: true,
        }
    }

    #[test]
    fn runs_count_consecutive_rating_items_and_no_answer_breaks_them() {
        let mut items: Vec<ShownItem> = [4, 4, 4, 5, 5, 9, 5, 5].map(rating).to_vec();
        // A demographic item between rating items does not break a run.
        items.insert(
            2,
            ShownItem {
                value: Some(1),
                not_applicable: false,
                rating: false,
            },
        );
        items.push(ShownItem {
            value: None,
            not_applicable: false,
            rating: false,
        });
        let m = measure(&items);
        assert_eq!(m.straight_line, 3, "4,4,[sex],4");
        assert_eq!(m.answered_items, 8);
        assert_eq!(m.no_answer_items, 2, "one 9 and one empty");
    }

    #[test]
    fn flags_follow_each_threshold_at_its_boundary() {
        let t = QualityThresholds::default();
        let base = Checked {
            measures: Measures {
                answered_items: 40,
                no_answer_items: 0,
                straight_line: 29,
            },
            duration_secs: Some(60),
            duplicate: false,
            devices: Some(3),
        };
        assert!(
            flags(&base, &t).is_empty(),
            "60 s for 40 items is 1.5 s each"
        );
        let fast = Checked {
            duration_secs: Some(59),
            ..base
        };
        assert_eq!(flags(&fast, &t), vec![Flag::Speeding]);
        let paper = Checked {
            duration_secs: None,
            ..base
        };
        assert!(flags(&paper, &t).is_empty(), "no timing, no speeding");
        let mut lines = base;
        lines.measures.straight_line = 30;
        assert_eq!(flags(&lines, &t), vec![Flag::StraightLining]);
        let mut empty = base;
        empty.measures.answered_items = 10;
        empty.measures.no_answer_items = 10;
        assert!(
            !flags(&empty, &t).contains(&Flag::ManyNoAnswers),
            "half is allowed"
        );
        empty.measures.no_answer_items = 11;
        assert!(flags(&empty, &t).contains(&Flag::ManyNoAnswers));
        let twin = Checked {
            duplicate: true,
            ..base
        };
        assert_eq!(flags(&twin, &t), vec![Flag::Duplicate]);
        let shared = Checked {
            devices: Some(4),
            ..base
        };
        assert_eq!(flags(&shared, &t), vec![Flag::ManyDevices], "3 allowed");
        let unknown = Checked {
            devices: None,
            ..shared
        };
        assert!(flags(&unknown, &t).is_empty(), "paper: no devices");
        let off = QualityThresholds {
            min_seconds_per_item: 0.0,
            straight_line_items: 0,
            max_no_answer_share: 1.0,
            duplicates: false,
            max_devices: 0,
        };
        assert!(flags(&twin, &off).is_empty());
        assert!(flags(&fast, &off).is_empty());
        assert!(flags(&shared, &off).is_empty());
    }

    #[test]
    fn thresholds_parse_with_defaults_and_refuse_nonsense() {
        let t: QualityThresholds = toml::from_str("straight_line_items = 12").expect("parse");
        assert_eq!(t.straight_line_items, 12);
        assert_eq!(t.min_seconds_per_item, 1.5);
        assert!(t.validate().is_ok());
        let bad = QualityThresholds {
            max_no_answer_share: 1.5,
            ..QualityThresholds::default()
        };
        assert!(bad.validate().unwrap_err().contains("max_no_answer_share"));
        let negative = QualityThresholds {
            max_devices: -1,
            ..QualityThresholds::default()
        };
        assert!(negative.validate().unwrap_err().contains("max_devices"));
        let unreachable = QualityThresholds {
            max_devices: DEVICES_COUNTED_AT_MOST,
            ..QualityThresholds::default()
        };
        assert!(unreachable.validate().is_err(), "could never flag");
        let highest = QualityThresholds {
            max_devices: DEVICES_COUNTED_AT_MOST - 1,
            ..QualityThresholds::default()
        };
        assert!(highest.validate().is_ok());
    }
}
