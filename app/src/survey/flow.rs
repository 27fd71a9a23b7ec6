//! Moving through a questionnaire one section per screen: which sections and items a respondent
//! sees, where "next" and "back" go, and how a posted section updates the answers. Pure
//! functions, used by the server (plain form posts) and by the browser (hydrated page) alike.

use crate::survey::questionnaire::{Answers, FieldError, Item, Problem, Questionnaire};

/// Whether an item is on screen. An item is shown when its rule holds for the answers so far;
/// an item whose rule depends on an item of the *same* section is also put on the screen (without
/// JavaScript the page cannot react to the answer above it, so the item says when to answer it,
/// and the server drops the answer if the rule turns out not to hold).
pub fn item_on_screen(q: &Questionnaire, section: usize, item: usize, answers: &Answers) -> bool {
    let Some(items) = q.sections.get(section).map(|s| &s.items) else {
        return false;
    };
    let Some(this) = items.get(item) else {
        return false;
    };
    if this.is_relevant(answers) {
        return true;
    }
    match &this.show_if {
        Some(rule) => items[..item]
            .iter()
            .position(|earlier| earlier.code == rule.item)
            .is_some_and(|earlier| item_on_screen(q, section, earlier, answers)),
        None => false,
    }
}

/// The condition item of an item, when it sits in the same section (see [`item_on_screen`]).
pub fn same_section_condition(q: &Questionnaire, section: usize, item: usize) -> Option<&Item> {
    let items = &q.sections.get(section)?.items;
    let rule = items.get(item)?.show_if.as_ref()?;
    items[..item]
        .iter()
        .find(|earlier| earlier.code == rule.item)
}

/// Whether a section has anything to show; sections whose items all depend on an answer that
/// rules them out are skipped (someone who used no service skips the service sections).
pub fn section_shown(q: &Questionnaire, section: usize, answers: &Answers) -> bool {
    q.sections
        .get(section)
        .is_some_and(|s| (0..s.items.len()).any(|i| item_on_screen(q, section, i, answers)))
}

pub fn first_section(q: &Questionnaire, answers: &Answers) -> usize {
    (0..q.sections.len())
        .find(|&s| section_shown(q, s, answers))
        .unwrap_or(0)
}

pub fn next_section(q: &Questionnaire, answers: &Answers, from: usize) -> Option<usize> {
    (from + 1..q.sections.len()).find(|&s| section_shown(q, s, answers))
}

pub fn previous_section(q: &Questionnaire, answers: &Answers, from: usize) -> Option<usize> {
    (0..from.min(q.sections.len()))
        .rev()
        .find(|&s| section_shown(q, s, answers))
}

/// A requested step if it can be shown, otherwise the first section.
pub fn settle_step(q: &Questionnaire, answers: &Answers, wanted: Option<usize>) -> usize {
    wanted
        .filter(|&s| section_shown(q, s, answers))
        .unwrap_or_else(|| first_section(q, answers))
}

/// Position of a section among the sections shown (1-based) and how many there are.
pub fn progress(q: &Questionnaire, answers: &Answers, step: usize) -> (usize, usize) {
    let shown: Vec<usize> = (0..q.sections.len())
        .filter(|&s| section_shown(q, s, answers))
        .collect();
    let position = shown.iter().filter(|&&s| s <= step).count().max(1);
    (position, shown.len().max(1))
}

/// Replaces the answers to one section's on-screen items with the posted ones, then drops answers
/// that other answers have made irrelevant. Returns the posted values that are not choices.
pub fn apply_section<'a>(
    q: &Questionnaire,
    section: usize,
    answers: &mut Answers,
    posted: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(items) = q.sections.get(section).map(|s| &s.items) else {
        return errors;
    };
    for item in items {
        answers.remove(&item.code);
    }
    for item in items {
        let Some((_, raw)) = posted
            .clone()
            .into_iter()
            .find(|(name, _)| *name == item.code)
        else {
            continue;
        };
        match raw.trim().parse::<i64>() {
            Ok(value) if q.choices(item).any(|c| c.value == value) => {
                answers.insert(item.code.clone(), value);
            }
            _ => errors.push(FieldError {
                item: item.code.clone(),
                problem: Problem::NotAChoice,
            }),
        }
    }
    q.prune(answers);
    errors
}

/// The problems on one section for the answers as they stand (hidden items never count).
pub fn section_errors(q: &Questionnaire, section: usize, answers: &Answers) -> Vec<FieldError> {
    let Some(id) = q.sections.get(section).map(|s| s.id.as_str()) else {
        return Vec::new();
    };
    q.validate(answers, Some(&[id]))
        .into_iter()
        .filter(|e| e.problem != Problem::UnknownItem)
        .collect()
}

/// The first shown section with a problem, and all problems of the questionnaire.
pub fn first_incomplete(q: &Questionnaire, answers: &Answers) -> Option<(usize, Vec<FieldError>)> {
    let errors = q.validate(answers, None);
    if errors.is_empty() {
        return None;
    }
    let step = q
        .sections
        .iter()
        .position(|s| {
            s.items
                .iter()
                .any(|i| errors.iter().any(|e| e.item == i.code))
        })
        .unwrap_or_else(|| first_section(q, answers));
    Some((step, errors))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::survey::questionnaire::{Choice, Condition, Scale, Section};

    fn item(code: &str, show_if: Option<(&str, i64)>) -> Item {
        Item {
            code: code.into(),
            vi: code.into(),
            en: code.into(),
            scale: "yn".into(),
            required: true,
            show_if: show_if.map(|(item, value)| Condition {
                item: item.into(),
                any_of: vec![value],
            }),
        }
    }

    fn section(id: &str, items: Vec<Item>) -> Section {
        Section {
            id: id.into(),
            title_vi: id.into(),
            title_en: id.into(),
            intro_vi: None,
            intro_en: None,
            items,
        }
    }

    /// used (yes/no) → service section only for users → feedback asked in the same section.
    fn sample() -> Questionnaire {
        let yn = Scale {
            options: vec![
                Choice {
                    value: 1,
                    vi: "Có".into(),
                    en: "Yes".into(),
                },
                Choice {
                    value: 2,
                    vi: "Không".into(),
                    en: "No".into(),
                },
            ],
            not_applicable: None,
        };
        Questionnaire {
            code: "t".into(),
            version: 1,
            title_vi: "t".into(),
            title_en: "t".into(),
            scales: [("yn".to_owned(), yn)].into_iter().collect(),
            sections: vec![
                section("start", vec![item("used", None)]),
                section(
                    "service",
                    vec![
                        item("gave_feedback", Some(("used", 1))),
                        item("fb", Some(("gave_feedback", 1))),
                    ],
                ),
                section("end", vec![item("age", None)]),
            ],
        }
    }

    fn answers(pairs: &[(&str, i64)]) -> Answers {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    #[test]
    fn sections_without_relevant_items_are_skipped() {
        let q = sample();
        assert_eq!(next_section(&q, &answers(&[("used", 1)]), 0), Some(1));
        assert_eq!(next_section(&q, &answers(&[("used", 2)]), 0), Some(2));
        assert_eq!(previous_section(&q, &answers(&[("used", 2)]), 2), Some(0));
        assert_eq!(progress(&q, &answers(&[("used", 2)]), 2), (2, 2));
        assert_eq!(progress(&q, &answers(&[("used", 1)]), 2), (3, 3));
        assert_eq!(settle_step(&q, &answers(&[("used", 2)]), Some(1)), 0);
        assert_eq!(settle_step(&q, &answers(&[("used", 1)]), Some(1)), 1);
    }

    #[test]
    fn same_section_followups_are_on_screen_until_ruled_out() {
        let q = sample();
        let a = answers(&[("used", 1)]);
        assert!(item_on_screen(&q, 1, 0, &a));
        // "fb" depends on the answer above it in the same section: on screen, with a hint.
        assert!(item_on_screen(&q, 1, 1, &a));
        assert!(same_section_condition(&q, 1, 1).is_some());
        assert!(!item_on_screen(&q, 1, 1, &answers(&[("used", 2)])));
    }

    #[test]
    fn posted_section_replaces_and_prunes() {
        let q = sample();
        let mut a = answers(&[("used", 1), ("gave_feedback", 1), ("fb", 2)]);
        // Changing "gave feedback" to no drops the follow-up even if the form still sent it.
        let errors = apply_section(&q, 1, &mut a, [("gave_feedback", "2"), ("fb", "1")]);
        assert!(errors.is_empty());
        assert_eq!(a, answers(&[("used", 1), ("gave_feedback", 2)]));
        assert!(section_errors(&q, 1, &a).is_empty());

        let errors = apply_section(&q, 1, &mut a, [("gave_feedback", "7")]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].problem, Problem::NotAChoice);
        assert_eq!(section_errors(&q, 1, &a)[0].problem, Problem::Required);
    }

    #[test]
    fn first_incomplete_points_at_the_section() {
        let q = sample();
        let (step, errors) = first_incomplete(&q, &answers(&[("used", 1)])).expect("incomplete");
        assert_eq!(step, 1);
        assert_eq!(errors[0].item, "gave_feedback");
        assert!(first_incomplete(&q, &answers(&[("used", 2), ("age", 1)])).is_none());
    }
}
