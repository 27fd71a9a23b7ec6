//! The quality measures of a response (`sipas_stats::quality`), taken from the questionnaire
//! it answered when it arrives: on the web, on a paper form keyed or imported.

use sipas_stats::quality::{Measures, ShownItem, measure};

use super::questionnaire::{Answers, Questionnaire};

/// Rating items (straight-lining is counted on them) are those on a scale shaped like a
/// satisfaction scale: five options or more and a "not applicable / don't know" choice. Yes/no
/// and the demographic questions (age band, education: five options, no such choice) are not.
const RATING_OPTIONS: usize = 5;

fn is_rating(scale: &crate::survey::questionnaire::Scale) -> bool {
    scale.options.len() >= RATING_OPTIONS && scale.not_applicable.is_some()
}

/// Measures the items shown to the respondent (relevant given the answers), in order.
pub fn measures(questionnaire: &Questionnaire, answers: &Answers) -> Measures {
    let shown: Vec<ShownItem> = questionnaire
        .items()
        .filter(|item| item.is_relevant(answers))
        .map(|item| {
            let scale = questionnaire.scales.get(&item.scale);
            let value = answers.get(&item.code).copied();
            ShownItem {
                value,
                not_applicable: scale
                    .and_then(|s| s.not_applicable.as_ref())
                    .is_some_and(|na| Some(na.value) == value),
                rating: scale.is_some_and(is_rating),
            }
        })
        .collect();
    measure(&shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_questionnaire_measures_a_satisfied_respondent() {
        let questionnaire: Questionnaire =
            toml::from_str(include_str!("../../../data/questionnaires/sipas-2023.toml"))
                .expect("default questionnaire");
        let mut answers = Answers::new();
        for item in questionnaire.items() {
            let scale = &questionnaire.scales[&item.scale];
            // "Very satisfied" on every rating item; the first option elsewhere (which routes
            // the respondent through the services section).
            let value = if is_rating(scale) {
                scale.options.iter().map(|c| c.value).max().unwrap_or(1)
            } else {
                scale.options.first().map_or(1, |c| c.value)
            };
            answers.insert(item.code.clone(), value);
        }
        questionnaire.prune(&mut answers);
        let m = measures(&questionnaire, &answers);
        let rating = questionnaire
            .items()
            .filter(|i| i.is_relevant(&answers))
            .filter(|i| is_rating(&questionnaire.scales[&i.scale]))
            .count();
        assert!(rating >= 30, "SIPAS has its satisfaction items ({rating})");
        assert_eq!(m.no_answer_items, 0);
        assert!(m.answered_items > i64::try_from(rating).unwrap_or(0));
        // Every rating item answered 5: the non-rating items between them (age band, education
        // among them) do not break the run, so it is all of them.
        assert_eq!(m.straight_line, i64::try_from(rating).unwrap_or(0));
    }
}
