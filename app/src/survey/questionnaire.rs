//! Questionnaires as versioned data: sections of items with Vietnamese and English wording,
//! answer scales (with an optional "not applicable"), required or optional items, and relevance
//! rules that show an item only when an earlier answer calls for it.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::i18n::{Locale, Text};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Questionnaire {
    /// Stable identifier of the questionnaire family, e.g. `sipas-2023`.
    pub code: String,
    /// A published version is immutable; changes make a new version.
    pub version: u32,
    pub title_vi: String,
    pub title_en: String,
    pub scales: BTreeMap<String, Scale>,
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scale {
    pub options: Vec<Choice>,
    /// An extra answer outside the scale ("not applicable / don't know").
    #[serde(default)]
    pub not_applicable: Option<Choice>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    pub value: i64,
    pub vi: String,
    pub en: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub id: String,
    pub title_vi: String,
    pub title_en: String,
    #[serde(default)]
    pub intro_vi: Option<String>,
    #[serde(default)]
    pub intro_en: Option<String>,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Stable code; the statistics methodology refers to it.
    pub code: String,
    pub vi: String,
    pub en: String,
    /// Name of a scale in [`Questionnaire::scales`].
    pub scale: String,
    #[serde(default = "yes")]
    pub required: bool,
    /// Shown (and validated) only when this earlier item has one of the given answers.
    #[serde(default)]
    pub show_if: Option<Condition>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub item: String,
    pub any_of: Vec<i64>,
}

/// Names the survey's forms use for their own fields (a form post carries the answers under
/// their item codes beside these), so no item may be called so.
pub const RESERVED_FIELD_NAMES: [&str; 7] = [
    "code",
    "nav",
    "step",
    "check",
    "submission_id",
    "started_at",
    "province",
];

/// Answers by item code.
pub type Answers = BTreeMap<String, i64>;

/// Why an answer was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Problem {
    /// A required, relevant item has no answer.
    Required,
    /// The value is not one of the item's choices.
    NotAChoice,
    /// The item is hidden by its relevance rule but was answered.
    NotRelevant,
    /// No such item in this questionnaire.
    UnknownItem,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub item: String,
    pub problem: Problem,
}

impl Problem {
    pub fn message(self, locale: Locale) -> &'static str {
        match (self, locale) {
            (Problem::Required, Locale::Vi) => "Vui lòng chọn một câu trả lời.",
            (Problem::Required, Locale::En) => "Please choose an answer.",
            (Problem::NotAChoice, Locale::Vi) => "Câu trả lời này không có trong danh sách.",
            (Problem::NotAChoice, Locale::En) => "This answer is not one of the choices.",
            (Problem::NotRelevant, Locale::Vi) => "Câu hỏi này không áp dụng với bạn.",
            (Problem::NotRelevant, Locale::En) => "This question does not apply to you.",
            (Problem::UnknownItem, Locale::Vi) => "Câu hỏi không tồn tại.",
            (Problem::UnknownItem, Locale::En) => "There is no such question.",
        }
    }
}

impl Choice {
    pub fn label(&self, locale: Locale) -> &str {
        locale.pick(&self.vi, &self.en)
    }
}

impl Item {
    pub fn text(&self, locale: Locale) -> &str {
        locale.pick(&self.vi, &self.en)
    }

    /// Whether the item applies given the answers so far.
    pub fn is_relevant(&self, answers: &Answers) -> bool {
        match &self.show_if {
            None => true,
            Some(rule) => answers
                .get(&rule.item)
                .is_some_and(|value| rule.any_of.contains(value)),
        }
    }
}

impl Section {
    pub fn title(&self, locale: Locale) -> &str {
        locale.pick(&self.title_vi, &self.title_en)
    }
}

impl Questionnaire {
    pub fn title(&self, locale: Locale) -> &str {
        locale.pick(&self.title_vi, &self.title_en)
    }

    pub fn items(&self) -> impl Iterator<Item = &Item> {
        self.sections.iter().flat_map(|s| s.items.iter())
    }

    pub fn item(&self, code: &str) -> Option<&Item> {
        self.items().find(|i| i.code == code)
    }

    /// The choices an item accepts, "not applicable" last.
    pub fn choices(&self, item: &Item) -> impl Iterator<Item = &Choice> {
        self.scales
            .get(&item.scale)
            .into_iter()
            .flat_map(|scale| scale.options.iter().chain(scale.not_applicable.iter()))
    }

    /// Checks the definition itself: unique codes, known scales, rules that refer to an earlier
    /// item and to values it can take. Run when a version is loaded or published.
    pub fn check(&self) -> Result<(), Text> {
        if self.sections.is_empty() {
            return Err(Text::new(
                "bảng hỏi cần ít nhất một phần (section)",
                "a questionnaire needs at least one section",
            ));
        }
        for (name, scale) in &self.scales {
            let mut values = HashSet::new();
            for choice in scale.options.iter().chain(scale.not_applicable.iter()) {
                if !values.insert(choice.value) {
                    return Err(Text::new(
                        format!(
                            "thang đo {name:?}: giá trị {} được dùng cho hai lựa chọn",
                            choice.value
                        ),
                        format!(
                            "scale {name:?}: the value {} is given to two choices",
                            choice.value
                        ),
                    ));
                }
            }
        }
        let mut seen: HashMap<&str, &Item> = HashMap::new();
        let mut section_ids = HashSet::new();
        for section in &self.sections {
            if !section_ids.insert(section.id.as_str()) {
                return Err(Text::new(
                    format!("phần {:?} xuất hiện hai lần", section.id),
                    format!("section {:?} appears twice", section.id),
                ));
            }
            if section.items.is_empty() {
                return Err(Text::new(
                    format!("phần {:?} không có câu hỏi nào", section.id),
                    format!("section {:?} has no items", section.id),
                ));
            }
            for item in &section.items {
                let Some(scale) = self.scales.get(&item.scale) else {
                    return Err(Text::new(
                        format!("câu {:?}: không có thang đo {:?}", item.code, item.scale),
                        format!("item {:?}: unknown scale {:?}", item.code, item.scale),
                    ));
                };
                if scale.options.is_empty() {
                    return Err(Text::new(
                        format!("thang đo {:?} không có lựa chọn nào", item.scale),
                        format!("scale {:?} has no options", item.scale),
                    ));
                }
                if let Some(rule) = &item.show_if {
                    let Some(earlier) = seen.get(rule.item.as_str()) else {
                        return Err(Text::new(
                            format!(
                                "câu {:?}: show_if dựa vào {:?}, không phải một câu đứng trước",
                                item.code, rule.item
                            ),
                            format!(
                                "item {:?}: show_if refers to {:?}, which is not an earlier item",
                                item.code, rule.item
                            ),
                        ));
                    };
                    for value in &rule.any_of {
                        if !self.choices(earlier).any(|c| c.value == *value) {
                            return Err(Text::new(
                                format!(
                                    "câu {:?}: giá trị {value} của show_if không phải một lựa chọn của {:?}",
                                    item.code, rule.item
                                ),
                                format!(
                                    "item {:?}: show_if value {value} is not a choice of {:?}",
                                    item.code, rule.item
                                ),
                            ));
                        }
                    }
                }
                if RESERVED_FIELD_NAMES.contains(&item.code.as_str()) {
                    return Err(Text::new(
                        format!(
                            "mã câu {:?} đã dành cho chính biểu mẫu; hãy chọn mã khác",
                            item.code
                        ),
                        format!(
                            "item code {:?} is reserved for the form itself; choose another code",
                            item.code
                        ),
                    ));
                }
                if seen.insert(item.code.as_str(), item).is_some() {
                    return Err(Text::new(
                        format!("mã câu {:?} xuất hiện hai lần", item.code),
                        format!("item code {:?} appears twice", item.code),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Validates the answers to the given sections (all when `sections` is `None`): every relevant
    /// required item answered, every answer one of its item's choices, no answer to a hidden item.
    pub fn validate(&self, answers: &Answers, sections: Option<&[&str]>) -> Vec<FieldError> {
        let mut errors = Vec::new();
        for code in answers.keys() {
            if self.item(code).is_none() {
                errors.push(FieldError {
                    item: code.clone(),
                    problem: Problem::UnknownItem,
                });
            }
        }
        for section in &self.sections {
            if sections.is_some_and(|wanted| !wanted.contains(&section.id.as_str())) {
                continue;
            }
            for item in &section.items {
                let relevant = item.is_relevant(answers);
                let problem = match answers.get(&item.code) {
                    Some(_) if !relevant => Some(Problem::NotRelevant),
                    Some(value) if !self.choices(item).any(|c| c.value == *value) => {
                        Some(Problem::NotAChoice)
                    }
                    None if relevant && item.required => Some(Problem::Required),
                    _ => None,
                };
                if let Some(problem) = problem {
                    errors.push(FieldError {
                        item: item.code.clone(),
                        problem,
                    });
                }
            }
        }
        errors
    }

    /// Drops answers to items that the other answers have made irrelevant (a respondent who goes
    /// back and changes "gave feedback" to "no" loses the feedback answers).
    pub fn prune(&self, answers: &mut Answers) {
        loop {
            let hidden: Vec<String> = self
                .items()
                .filter(|item| answers.contains_key(&item.code) && !item.is_relevant(answers))
                .map(|item| item.code.clone())
                .collect();
            if hidden.is_empty() {
                break;
            }
            for code in hidden {
                answers.remove(&code);
            }
        }
    }
}
