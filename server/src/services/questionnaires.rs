//! The questionnaires shipped with the platform, embedded in the binary.

use sipas_app::i18n::Text;
use sipas_app::survey::questionnaire::Questionnaire;

/// SIPAS, method 2023–2026, version 1.
pub const SIPAS_2023: &str = include_str!("../../../data/questionnaires/sipas-2023.toml");

/// The index tree over SIPAS_2023's item codes, for `sipas compute` and releases.
pub const SIPAS_2023_METHODOLOGY: &str = include_str!("../../../data/methodology/sipas-2023.toml");

/// Parses a questionnaire definition and checks it; what is wrong says where, in both
/// languages. (The TOML reader explains in English: the Vietnamese message names the field or
/// quotes the line instead.)
pub fn parse(text: &str) -> Result<Questionnaire, Text> {
    let questionnaire: Questionnaire = toml::from_str(text).map_err(|err| {
        let at = err
            .span()
            .map(|span| span.start)
            .unwrap_or(0)
            .min(text.len());
        let before = text.get(..at).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        let message = err.message();
        // serde's wording: "missing field `x`", "unknown field `x`, expected …".
        let field = |prefix: &str| {
            message
                .strip_prefix(prefix)
                .and_then(|rest| rest.split('`').next())
                .map(|name| name.chars().take(120).collect::<String>())
        };
        let vi = if let Some(name) = field("missing field `") {
            format!(
                "Tệp bảng hỏi thiếu trường bắt buộc «{name}» (trong phần bắt đầu ở dòng {line})."
            )
        } else if let Some(name) = field("unknown field `") {
            format!("Tệp bảng hỏi có trường không dùng được «{name}» ở dòng {line}, cột {column}.")
        } else {
            let shown: String = text
                .lines()
                .nth(line - 1)
                .unwrap_or("")
                .trim()
                .chars()
                .take(120)
                .collect();
            format!("Tệp bảng hỏi sai định dạng ở dòng {line}, cột {column}: «{shown}»")
        };
        Text::new(
            vi,
            format!(
                "The questionnaire file is not valid at line {line}, column {column}: {message}"
            ),
        )
    })?;
    questionnaire.check()?;
    Ok(questionnaire)
}

/// What the nodes and items of an index are called: the methodology's tree and the wording
/// of the questionnaire it was computed from. Labels only: what cannot be read is left out (the
/// pages then show codes) and logged.
pub async fn wording(
    store: &dyn sipas_app::ports::Store,
    questionnaire_code: &str,
    questionnaire_version: i32,
    methodology: &str,
) -> sipas_app::results::Wording {
    let items = match store
        .questionnaire(
            questionnaire_code,
            u32::try_from(questionnaire_version).unwrap_or(0),
        )
        .await
    {
        Ok(q) => q
            .sections
            .into_iter()
            .flat_map(|s| s.items)
            .map(|i| (i.code, (i.vi, i.en)))
            .collect(),
        Err(err) => {
            tracing::warn!(error = %err, "no questionnaire wording");
            Default::default()
        }
    };
    let tree = sipas_stats::methodology::Methodology::from_toml(methodology)
        .map(|m| {
            m.nodes
                .into_iter()
                .map(|n| sipas_app::results::TreeNode {
                    code: n.code,
                    label_vi: n.label_vi,
                    label_en: n.label_en,
                    children: n.children,
                })
                .collect()
        })
        .unwrap_or_default();
    sipas_app::results::Wording { tree, items }
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
                .en
                .contains("not an earlier item")
        );
        let bad_scale = SIPAS_2023.replacen("scale = \"yes_no\"", "scale = \"nope\"", 1);
        assert!(parse(&bad_scale).unwrap_err().en.contains("unknown scale"));
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
                parse(&renamed).unwrap_err().en.contains("reserved"),
                "item code {reserved} accepted"
            );
        }
        // A broken file says where, in both languages; the Vietnamese quotes the line.
        let broken = SIPAS_2023.replacen("version = 1", "version = \"một\"", 1);
        let line = SIPAS_2023
            .lines()
            .position(|l| l.starts_with("version = 1"))
            .expect("the shipped file has a version line")
            + 1;
        let error = parse(&broken).unwrap_err();
        assert!(
            error.vi.contains(&format!("dòng {line}, cột 11"))
                && error.vi.contains("«version = \"một\"»"),
            "{}",
            error.vi
        );
        assert!(
            error.en.contains(&format!("line {line}, column 11")),
            "{error}"
        );
        // A missing or unknown field is named.
        let error = parse("code = \"x\"\nversion = 2\n").unwrap_err();
        assert!(
            error.vi.contains("thiếu trường bắt buộc «title_vi»"),
            "{}",
            error.vi
        );
        let extra = SIPAS_2023.replacen("version = 1", "version = 1\ncolour = \"xanh\"", 1);
        let error = parse(&extra).unwrap_err();
        assert!(error.vi.contains("«colour»"), "{}", error.vi);
        let mut twice = parse(SIPAS_2023).expect("shipped");
        let scale = twice.scales.values_mut().next().expect("a scale");
        let first = scale.options[0].value;
        scale.options[1].value = first;
        let error = twice.check().unwrap_err();
        assert!(error.en.contains("given to two choices"), "{error}");
        assert!(
            error.vi.contains("được dùng cho hai lựa chọn"),
            "{}",
            error.vi
        );
    }
}
