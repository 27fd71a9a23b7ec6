//! The questionnaires shipped with the platform, embedded in the binary.

use sipas_app::survey::questionnaire::Questionnaire;

/// SIPAS, method 2023–2026, version 1.
pub const SIPAS_2023: &str = include_str!("../../../data/questionnaires/sipas-2023.toml");

/// The index tree over SIPAS_2023's item codes, for `sipas compute` and releases.
pub const SIPAS_2023_METHODOLOGY: &str = include_str!("../../../data/methodology/sipas-2023.toml");

/// Parses a questionnaire definition and checks it.
pub fn parse(text: &str) -> Result<Questionnaire, String> {
    let questionnaire: Questionnaire = toml::from_str(text).map_err(|e| e.to_string())?;
    questionnaire.check()?;
    Ok(questionnaire)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use sipas_app::survey::questionnaire::{Answers, Problem};

    use super::*;

    fn sipas() -> Questionnaire {
        parse(SIPAS_2023).expect("the shipped questionnaire is valid")
    }

    #[test]
    fn shipped_questionnaire_is_complete() {
        let q = sipas();
        assert_eq!((q.code.as_str(), q.version), ("sipas-2023", 1));
        let sections: Vec<&str> = q.sections.iter().map(|s| s.id.as_str()).collect();
        for wanted in [
            "access",
            "procedures",
            "civil_servants",
            "results",
            "feedback",
            "policy",
            "policy_quality",
            "perception",
            "expectations",
            "profile",
        ] {
            assert!(sections.contains(&wanted), "missing section {wanted}");
        }
        assert_eq!(
            q.items().filter(|i| i.code.starts_with("pol_q_")).count(),
            9
        );
        for item in q.items() {
            assert!(
                !item.vi.is_empty() && !item.en.is_empty(),
                "{} lacks a translation",
                item.code
            );
        }
    }

    #[test]
    fn methodology_refers_to_satisfaction_items() {
        let m = sipas_stats::methodology::Methodology::from_toml(SIPAS_2023_METHODOLOGY)
            .expect("methodology");
        let tree = m.compile().expect("tree");
        let q = sipas();
        for code in &tree.items {
            let item = q
                .item(code)
                .unwrap_or_else(|| panic!("{code} is not in the questionnaire"));
            assert_eq!(item.scale, "satisfaction", "{code}");
        }
        for subgroup in &m.subgroups {
            assert!(
                q.item(subgroup).is_some(),
                "subgroup {subgroup} is not asked"
            );
        }
    }

    #[test]
    fn relevance_rules_show_and_hide_items() {
        let q = sipas();
        let mut answers: Answers = BTreeMap::new();
        let fb = q.item("fb_1").expect("fb_1");
        let acc = q.item("acc_1").expect("acc_1");
        assert!(!acc.is_relevant(&answers) && !fb.is_relevant(&answers));
        answers.insert("used_service".into(), 1);
        assert!(acc.is_relevant(&answers) && !fb.is_relevant(&answers));
        answers.insert("gave_feedback".into(), 1);
        assert!(fb.is_relevant(&answers));
        answers.insert("fb_1".into(), 4);
        // Changing an earlier answer prunes what it no longer shows.
        answers.insert("used_service".into(), 2);
        q.prune(&mut answers);
        assert!(!answers.contains_key("gave_feedback") && !answers.contains_key("fb_1"));
    }

    #[test]
    fn validation_names_each_field() {
        let q = sipas();
        let mut answers: Answers = BTreeMap::new();
        let errors = q.validate(&answers, Some(&["procedure"]));
        assert_eq!(errors.len(), 1);
        assert_eq!(
            (errors[0].item.as_str(), errors[0].problem),
            ("used_service", Problem::Required)
        );
        answers.insert("used_service".into(), 7);
        assert_eq!(
            q.validate(&answers, Some(&["procedure"]))[0].problem,
            Problem::NotAChoice
        );
        answers.insert("used_service".into(), 2);
        answers.insert("channel_used".into(), 1);
        assert_eq!(
            q.validate(&answers, Some(&["procedure"]))[0].problem,
            Problem::NotRelevant
        );
        answers.remove("channel_used");
        assert!(q.validate(&answers, Some(&["procedure"])).is_empty());
        answers.insert("acc_1".into(), 9); // not applicable is a valid answer... but the item is hidden
        assert_eq!(
            q.validate(&answers, Some(&["access"]))[0].problem,
            Problem::NotRelevant
        );
        answers.insert("nonsense".into(), 1);
        assert!(
            q.validate(&answers, None)
                .iter()
                .any(|e| e.problem == Problem::UnknownItem)
        );
    }

    #[test]
    fn broken_definitions_are_refused() {
        let bad_rule = SIPAS_2023.replace(
            "show_if = { item = \"gave_feedback\"",
            "show_if = { item = \"fb_3\"",
        );
        assert!(
            parse(&bad_rule)
                .unwrap_err()
                .contains("not an earlier item")
        );
        let bad_scale = SIPAS_2023.replacen("scale = \"yes_no\"", "scale = \"nope\"", 1);
        assert!(parse(&bad_scale).unwrap_err().contains("unknown scale"));
        let first_code = parse(SIPAS_2023).expect("shipped").sections[0].items[0]
            .code
            .clone();
        for reserved in ["step", "nav", "submission_id"] {
            let renamed = SIPAS_2023.replacen(
                &format!("code = \"{first_code}\""),
                &format!("code = \"{reserved}\""),
                1,
            );
            assert!(
                parse(&renamed).unwrap_err().contains("reserved"),
                "item code {reserved} accepted"
            );
        }
        let mut twice = parse(SIPAS_2023).expect("shipped");
        let scale = twice.scales.values_mut().next().expect("a scale");
        let first = scale.options[0].value;
        scale.options[1].value = first;
        let error = twice.check().unwrap_err();
        assert!(error.contains("given to two choices"), "{error}");
    }
}
