//! The survey's parsers never panic (issue 10, item 6): the invitation-code parser, the
//! questionnaire TOML with its check, the form-post path (`flow::settle_step` and
//! `flow::apply_section` with whatever fields a browser or a forger sends) and the JSON
//! submission (`SubmitRequest`, and the validation `service::submit` runs before the store).
//! The HTTP side is covered by server/tests/it/never_panics.rs; longer runs by `scripts/fuzz.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use proptest::prelude::*;
use sipas_app::i18n::Locale;
use sipas_app::survey::api::SubmitSurvey;
use sipas_app::survey::codes::{InvitationCode, RANDOM_BYTES};
use sipas_app::survey::flow;
use sipas_app::survey::questionnaire::{Answers, Questionnaire};
use sipas_app::survey::response::{SubmitRequest, valid_submission_id};

const QUESTIONNAIRE: &str = include_str!("../../data/questionnaires/sipas-2023.toml");

/// As `sipas_server::questionnaires::parse`: TOML, then the definition's own check.
fn parse_questionnaire(text: &str) -> Result<Questionnaire, String> {
    let questionnaire: Questionnaire = toml::from_str(text).map_err(|e| e.to_string())?;
    questionnaire.check().map_err(|e| e.en)?;
    Ok(questionnaire)
}

fn default_questionnaire() -> Questionnaire {
    parse_questionnaire(QUESTIONNAIRE).expect("the shipped questionnaire is valid")
}

/// One form post, as `server::survey_forms::post_section` handles it, on a draft's answers:
/// settle the step, apply the section, decide where to go, and the page's own questions.
fn post_form(q: &Questionnaire, answers: &mut Answers, fields: &[(String, String)]) {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let step = flow::settle_step(q, answers, field("step").and_then(|s| s.parse().ok()));
    assert!(
        step < q.sections.len(),
        "settled on a step that does not exist"
    );
    let _ = flow::apply_section(
        q,
        step,
        answers,
        fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let _ = flow::next_section(q, answers, step);
    let _ = flow::previous_section(q, answers, step);
    let _ = flow::section_errors(q, step, answers);
    let (position, of) = flow::progress(q, answers, step);
    assert!((1..=of).contains(&position));
    let _ = flow::first_incomplete(q, answers);
    for item in 0..q.sections[step].items.len() {
        let _ = flow::item_on_screen(q, step, item, answers);
        let _ = flow::same_section_condition(q, step, item);
    }
}

/// What `service::submit_opened` checks before it asks the store (which needs a database):
/// the submission id, the answers pruned and validated, their canonical JSON, the language.
fn validate_submission(q: &Questionnaire, request: &SubmitRequest) {
    if !valid_submission_id(&request.submission_id) {
        return;
    }
    let _ = InvitationCode::parse(&request.code);
    let mut answers = request.answers.clone();
    q.prune(&mut answers);
    if let Some((step, errors)) = flow::first_incomplete(q, &answers) {
        assert!(!errors.is_empty());
        let _ = u32::try_from(step).unwrap_or(0);
        return;
    }
    serde_json::to_string(&answers).expect("answers encode");
    let _ = Locale::parse(&request.language).unwrap_or_default().code();
}

/// Every item code and control field of the default questionnaire, and a few strangers.
fn field_names(q: &Questionnaire) -> Vec<String> {
    let mut names: Vec<String> = q.items().map(|i| i.code.clone()).collect();
    names.extend(
        [
            "step",
            "nav",
            "started_at",
            "submission_id",
            "code",
            "",
            "Step",
        ]
        .iter()
        .map(|s| (*s).to_owned()),
    );
    names
}

fn field_value() -> impl Strategy<Value = String> {
    prop_oneof![
        (-2i64..12).prop_map(|v| v.to_string()),
        prop::sample::select(
            &[
                "next",
                "back",
                "submit",
                "",
                " 1 ",
                "+1",
                "-0",
                "1.0",
                "99",
                "9223372036854775807",
                "-9223372036854775808",
                "9223372036854775808",
                "18446744073709551615",
                "99999999999999999999999",
                "2026-11-27T08:00:00Z",
                "1970-01-01T00:00:00Z",
                "١",
            ][..]
        )
        .prop_map(str::to_owned),
        any::<String>(),
        any::<u64>().prop_map(|v| v.to_string()),
        any::<usize>().prop_map(|v| v.to_string()),
    ]
}

fn fields(q: &Questionnaire) -> impl Strategy<Value = Vec<(String, String)>> {
    let names = field_names(q);
    prop::collection::vec(
        (
            prop_oneof![
                4 => prop::sample::select(names),
                1 => any::<String>(),
            ],
            field_value(),
        ),
        0..24,
    )
}

/// A draft's answers: mostly real items with plausible or absurd values.
fn answers(q: &Questionnaire) -> impl Strategy<Value = Answers> {
    let codes: Vec<String> = q.items().map(|i| i.code.clone()).collect();
    prop::collection::btree_map(
        prop_oneof![
            8 => prop::sample::select(codes),
            1 => any::<String>(),
        ],
        prop_oneof![4 => -1i64..10, 1 => any::<i64>()],
        0..40,
    )
}

/// An edit of a text at a position taken modulo its length.
#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, String),
    Delete(usize, usize),
    /// Replaces the value after `=` on a line.
    Value(usize, String),
    DuplicateLine(usize),
    DropLine(usize),
    SwapLines(usize, usize),
}

const TOML_LITERALS: &[&str] = &[
    "0",
    "-1",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "1.5",
    "true",
    "false",
    "\"\"",
    "\"step\"",
    "\"nav\"",
    "\"used_service\"",
    "\"yes_no\"",
    "\"satisfaction\"",
    "[]",
    "[1]",
    "[1, 1]",
    "[9]",
    "{ item = \"used_service\", any_of = [1] }",
    "{ item = \"nope\", any_of = [] }",
    "{}",
];

fn snippet() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(TOML_LITERALS).prop_map(str::to_owned),
        "[\\[\\]{}=\",.#\n'a-z0-9_ -]{1,8}",
        any::<String>().prop_map(|s| s.chars().take(6).collect()),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    let at = any::<usize>();
    prop_oneof![
        (at, snippet()).prop_map(|(at, s)| Edit::Insert(at, s)),
        (at, 1usize..16).prop_map(|(at, len)| Edit::Delete(at, len)),
        (at, snippet()).prop_map(|(line, s)| Edit::Value(line, s)),
        at.prop_map(Edit::DuplicateLine),
        at.prop_map(Edit::DropLine),
        (at, at).prop_map(|(a, b)| Edit::SwapLines(a, b)),
    ]
}

fn mutate(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for edit in edits {
        let text: String = chars.iter().collect();
        let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
        let n = lines.len();
        match edit {
            Edit::Insert(at, s) => {
                let at = at % (chars.len() + 1);
                chars.splice(at..at, s.chars());
                continue;
            }
            Edit::Delete(_, _) if chars.is_empty() => continue,
            Edit::Delete(at, len) => {
                let at = at % chars.len();
                let end = (at + len).min(chars.len());
                chars.drain(at..end);
                continue;
            }
            Edit::Value(line, s) => {
                let target = &mut lines[line % n];
                if let Some((key, _)) = target.split_once('=') {
                    *target = format!("{key}= {s}");
                }
            }
            Edit::DuplicateLine(line) => {
                let i = line % n;
                let copy = lines[i].clone();
                lines.insert(i, copy);
            }
            Edit::DropLine(line) => {
                lines.remove(line % n);
            }
            Edit::SwapLines(a, b) => lines.swap(a % n, b % n),
        }
        chars = lines.join("\n").chars().collect();
    }
    chars.into_iter().collect()
}

/// A questionnaire text; when it passes its check, the flow must work on it too.
fn questionnaire_round(text: &str, posted: &[(String, String)]) {
    if let Ok(q) = parse_questionnaire(text) {
        let mut answers = Answers::new();
        post_form(&q, &mut answers, posted);
        let _ = q.validate(&answers, None);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn code_parser_on_arbitrary_strings(input in any::<String>()) {
        if let Ok(code) = InvitationCode::parse(&input) {
            prop_assert_eq!(InvitationCode::parse(code.as_str()), Ok(code.clone()));
            prop_assert_eq!(InvitationCode::parse(&code.display()), Ok(code));
        }
    }

    #[test]
    fn code_parser_on_code_like_strings(input in "[0-9A-Za-z*~$=U \t-]{0,30}") {
        if let Ok(code) = InvitationCode::parse(&input) {
            prop_assert_eq!(InvitationCode::parse(code.as_str()), Ok(code));
        }
    }

    #[test]
    fn code_parser_on_mistyped_codes(
        bytes in any::<[u8; RANDOM_BYTES]>(),
        at in any::<usize>(),
        typed in any::<char>(),
    ) {
        let code = InvitationCode::from_random(bytes);
        let mut chars: Vec<char> = code.display().chars().collect();
        let at = at % chars.len();
        chars[at] = typed;
        let text: String = chars.into_iter().collect();
        let _ = InvitationCode::parse(&text);
        prop_assert_eq!(InvitationCode::parse(&code.display().to_lowercase()), Ok(code));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn questionnaire_from_arbitrary_text(text in any::<String>()) {
        questionnaire_round(&text, &[]);
    }

    #[test]
    fn questionnaire_from_toml_like_text(
        text in "([a-z_]{1,8} = [\\[\\]{}\",.0-9a-z -]{0,12}\n|\\[\\[?[a-z.]{1,10}\\]\\]?\n){0,16}",
    ) {
        questionnaire_round(&text, &[]);
    }

    #[test]
    fn default_questionnaire_mutated(
        edits in prop::collection::vec(edit(), 1..6),
        posted in fields(&default_questionnaire()),
    ) {
        questionnaire_round(&mutate(QUESTIONNAIRE, &edits), &posted);
    }

    #[test]
    fn form_posts_on_the_default_questionnaire(
        mut draft in answers(&default_questionnaire()),
        posts in prop::collection::vec(fields(&default_questionnaire()), 1..4),
    ) {
        let q = default_questionnaire();
        for posted in &posts {
            post_form(&q, &mut draft, posted);
        }
    }

    #[test]
    fn sections_and_steps_out_of_range(
        draft in answers(&default_questionnaire()),
        posted in fields(&default_questionnaire()),
        section in prop_oneof![0usize..16, any::<usize>()],
        wanted in prop::option::of(prop_oneof![0usize..16, any::<usize>()]),
    ) {
        let q = default_questionnaire();
        let step = flow::settle_step(&q, &draft, wanted);
        prop_assert!(step < q.sections.len());
        let mut answers = draft.clone();
        let _ = flow::apply_section(
            &q,
            section,
            &mut answers,
            posted.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let _ = flow::next_section(&q, &answers, section);
        let _ = flow::previous_section(&q, &answers, section);
        let _ = flow::section_errors(&q, section, &answers);
        let _ = flow::progress(&q, &answers, section);
        let _ = flow::section_shown(&q, section, &answers);
        let _ = flow::item_on_screen(&q, section, section, &answers);
        let _ = flow::same_section_condition(&q, section, section / 2);
    }

    #[test]
    fn submit_json_from_arbitrary_text(text in any::<String>()) {
        let q = default_questionnaire();
        if let Ok(request) = serde_json::from_str::<SubmitRequest>(&text) {
            validate_submission(&q, &request);
        }
        if let Ok(wrapped) = serde_json::from_str::<SubmitSurvey>(&text) {
            validate_submission(&q, &wrapped.request);
        }
    }

    #[test]
    fn submit_json_from_json_like_text(
        text in "\\{(\"(request|code|submission_id|answers|language|started_at|used_service|acc_1)\"|[:,{}\\[\\]0-9a-z\" -]|null|true|1e999|-1){0,40}\\}",
    ) {
        let q = default_questionnaire();
        if let Ok(request) = serde_json::from_str::<SubmitRequest>(&text) {
            validate_submission(&q, &request);
        }
        if let Ok(wrapped) = serde_json::from_str::<SubmitSurvey>(&text) {
            validate_submission(&q, &wrapped.request);
        }
    }

    #[test]
    fn submit_requests_with_arbitrary_answers(
        answers in answers(&default_questionnaire()),
        code in prop_oneof![any::<String>(), "[0-9A-Z-]{17,21}"],
        submission_id in prop_oneof!["[0-9a-f-]{16,64}", any::<String>()],
        language in prop_oneof![Just("vi".to_owned()), Just("en".to_owned()), any::<String>()],
        started_at in prop::option::of(field_value()),
    ) {
        let q = default_questionnaire();
        let request = SubmitRequest { code, submission_id, answers, language, started_at, queued: false };
        // The request travels as JSON (the browser's outbox keeps it so): it must come back.
        let text = serde_json::to_string(&serde_json::json!({ "request": request })).unwrap();
        let decoded: SubmitSurvey = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(&decoded.request, &request);
        validate_submission(&q, &decoded.request);
    }
}
