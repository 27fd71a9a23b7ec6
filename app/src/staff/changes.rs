//! What changed between two versions of a questionnaire, item by item (the staff's
//! comparison page shows it before a version is used).

use crate::survey::questionnaire::Questionnaire;

/// One line of a comparison between two questionnaire versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added(String),
    Removed(String),
    /// What changed, each as (Vietnamese, English).
    Changed {
        item: String,
        what: Vec<(String, String)>,
    },
}

/// What changed between two versions, item by item (wording, scale, choices, rule, required).
pub fn compare(from: &Questionnaire, to: &Questionnaire) -> Vec<Change> {
    let mut changes = Vec::new();
    for item in from.items() {
        match to.item(&item.code) {
            None => changes.push(Change::Removed(item.code.clone())),
            Some(new) => {
                let mut what = Vec::new();
                if item.vi != new.vi {
                    what.push((
                        format!("lời tiếng Việt: «{}» → «{}»", item.vi, new.vi),
                        format!("vi: «{}» → «{}»", item.vi, new.vi),
                    ));
                }
                if item.en != new.en {
                    what.push((
                        format!("lời tiếng Anh: «{}» → «{}»", item.en, new.en),
                        format!("en: «{}» → «{}»", item.en, new.en),
                    ));
                }
                let old_choices: Vec<_> = from
                    .choices(item)
                    .map(|c| (c.value, c.vi.clone(), c.en.clone()))
                    .collect();
                let new_choices: Vec<_> = to
                    .choices(new)
                    .map(|c| (c.value, c.vi.clone(), c.en.clone()))
                    .collect();
                if old_choices != new_choices {
                    what.push(("các lựa chọn trả lời".to_owned(), "choices".to_owned()));
                }
                if item.required != new.required {
                    let yes_no = |required: bool| {
                        if required {
                            ("bắt buộc", "required")
                        } else {
                            ("không bắt buộc", "optional")
                        }
                    };
                    let (old, now) = (yes_no(item.required), yes_no(new.required));
                    what.push((
                        format!("{} → {}", old.0, now.0),
                        format!("{} → {}", old.1, now.1),
                    ));
                }
                if item.show_if != new.show_if {
                    what.push(("điều kiện hiển thị".to_owned(), "show_if".to_owned()));
                }
                if !what.is_empty() {
                    changes.push(Change::Changed {
                        item: item.code.clone(),
                        what,
                    });
                }
            }
        }
    }
    for item in to.items() {
        if from.item(&item.code).is_none() {
            changes.push(Change::Added(item.code.clone()));
        }
    }
    changes
}
