//! Double data entry of paper forms in the browser: two clerks key the same form independently;
//! agreeing entries become a response (channel paper), differing ones wait for a third person
//! who decides the differing fields against the paper. A keyed form is checked by the same code
//! as an imported file ([`super::paper::parse`]), so the two ways in accept the same forms.

use serde::{Deserialize, Serialize};

use super::port::{PaperTarget, RowOutcome};
use super::sheet::Table;
use crate::survey::questionnaire::{Answers, Questionnaire};

/// What keying a form did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keyed {
    /// The first entry: a second clerk keys the form next.
    FirstEntry,
    /// The second entry agreed with the first: the form is a response now.
    Stored,
    /// The second entry differs from the first in these items: a supervisor decides.
    Differs { form: i64, items: Vec<String> },
    /// This clerk keyed the form before; the second entry must be someone else's.
    SameClerk,
    /// Two entries differ already: the supervisor's decision is awaited.
    AwaitingSupervisor { form: i64 },
    /// The form is a response already.
    AlreadyStored,
    /// The form cannot be taken (an unknown code, another province's, answered online): what
    /// the import would have said of it.
    Refused(RowOutcome),
}

impl Keyed {
    /// The audit log's words for it (Vietnamese).
    pub fn audit_words(&self) -> String {
        match self {
            Keyed::FirstEntry => "lần nhập thứ nhất".into(),
            Keyed::Stored => "lần nhập thứ hai khớp: đã lưu thành phiếu trả lời".into(),
            Keyed::Differs { items, .. } => {
                format!("lần nhập thứ hai khác ở {}", items.join(", "))
            }
            _ => String::new(),
        }
    }
}

/// Where a keyed form stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormStatus {
    KeyedOnce,
    Differs,
    Stored,
}

impl FormStatus {
    pub fn key(self) -> &'static str {
        match self {
            FormStatus::KeyedOnce => "keyed_once",
            FormStatus::Differs => "differs",
            FormStatus::Stored => "stored",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        [Self::KeyedOnce, Self::Differs, Self::Stored]
            .into_iter()
            .find(|s| s.key() == key)
    }

    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            FormStatus::KeyedOnce => ("Đã nhập một lần", "Keyed once"),
            FormStatus::Differs => ("Hai lần nhập khác nhau", "The two entries differ"),
            FormStatus::Stored => ("Đã lưu thành phiếu trả lời", "Stored as a response"),
        }
    }
}

/// One clerk's entry of a form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub clerk_id: i64,
    pub clerk: String,
    pub answers: Answers,
    pub entered_at: String,
}

/// A keyed form and its entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyedForm {
    pub id: i64,
    pub province_code: String,
    /// The commune, whether the form was found by its code or by commune and number.
    pub psu: String,
    /// The form's number in its commune (forms handed out without a code), else empty.
    pub form_number: String,
    /// Found by the invitation code printed on it (its hash is kept, never the code).
    pub code_hash: Option<String>,
    pub status: FormStatus,
    pub entries: Vec<Entry>,
    pub updated_at: String,
}

impl KeyedForm {
    /// The form's target for the import's checks and storage.
    pub fn target(&self) -> PaperTarget {
        match &self.code_hash {
            Some(code_hash) => PaperTarget::Code {
                code_hash: code_hash.clone(),
            },
            None => PaperTarget::Point {
                psu: self.psu.clone(),
                form_id: self.form_number.clone(),
            },
        }
    }

    /// The items on which the two entries differ, in questionnaire order.
    pub fn differing_items(&self, questionnaire: &Questionnaire) -> Vec<String> {
        match &self.entries[..] {
            [first, second] => differing(questionnaire, &first.answers, &second.answers),
            _ => Vec::new(),
        }
    }
}

/// Items whose answers differ between two entries, in questionnaire order.
pub fn differing(questionnaire: &Questionnaire, a: &Answers, b: &Answers) -> Vec<String> {
    questionnaire
        .items()
        .filter(|item| a.get(&item.code) != b.get(&item.code))
        .map(|item| item.code.clone())
        .collect()
}

/// What a supervisor chooses for "the paper leaves this item empty" (every digit may be an
/// answer: a scale may have a 0).
pub const NO_ANSWER: &str = "empty";

/// The keying screen's fields as the one-row table an import would read: `code`, or `psu` and
/// `form_id`, then one column per item (an item left empty is an empty field: the clerk moves
/// past it with Tab).
pub fn as_table(fields: &[(String, String)], questionnaire: &Questionnaire) -> Table {
    let value = |name: &str| {
        fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let mut header = vec!["code".to_owned(), "psu".to_owned(), "form_id".to_owned()];
    let mut row = vec![value("code"), value("psu"), value("form_id")];
    for item in questionnaire.items() {
        header.push(item.code.clone());
        row.push(value(&item.code));
    }
    Table {
        header,
        rows: vec![row],
        ..Table::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn questionnaire() -> Questionnaire {
        toml::from_str(include_str!("../../../data/questionnaires/sipas-2023.toml"))
            .expect("questionnaire")
    }

    #[test]
    fn a_keyed_form_is_read_as_an_import_row() {
        let q = questionnaire();
        let first = q.items().next().expect("an item").code.clone();
        let fields = vec![
            ("psu".to_owned(), "26767".to_owned()),
            ("form_id".to_owned(), "12".to_owned()),
            (first.clone(), String::new()),
            ("not_an_item".to_owned(), "3".to_owned()),
        ];
        let table = as_table(&fields, &q);
        assert_eq!(table.header[..3], ["code", "psu", "form_id"]);
        assert_eq!(table.rows[0][1], "26767");
        let column = table
            .header
            .iter()
            .position(|h| *h == first)
            .expect("column");
        assert_eq!(table.rows[0][column], "", "no answer is an empty cell");
        assert!(!table.header.contains(&"not_an_item".to_owned()));
    }

    #[test]
    fn differences_are_listed_in_questionnaire_order() {
        let q = questionnaire();
        let codes: Vec<String> = q.items().map(|i| i.code.clone()).collect();
        let a: Answers = codes.iter().map(|c| (c.clone(), 1)).collect();
        let mut b = a.clone();
        b.insert(codes[5].clone(), 2);
        b.remove(&codes[2]);
        assert_eq!(
            differing(&q, &a, &b),
            vec![codes[2].clone(), codes[5].clone()]
        );
        assert!(differing(&q, &a, &a).is_empty());
    }
}
