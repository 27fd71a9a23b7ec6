//! What changed between two versions of a questionnaire, item by item (the staff's
//! comparison page shows it before a version is used).

use crate::survey::questionnaire::Questionnaire;

/// One line of a comparison between two questionnaire versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added(String),
    Removed(String),
    Changed { item: String, what: String },
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
                    what.push(format!("vi: «{}» → «{}»", item.vi, new.vi));
                }
                if item.en != new.en {
                    what.push(format!("en: «{}» → «{}»", item.en, new.en));
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
                    what.push("choices".to_owned());
                }
                if item.required != new.required {
                    what.push(format!("required: {} → {}", item.required, new.required));
                }
                if item.show_if != new.show_if {
                    what.push("show_if".to_owned());
                }
                if !what.is_empty() {
                    changes.push(Change::Changed {
                        item: item.code.clone(),
                        what: what.join("; "),
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
