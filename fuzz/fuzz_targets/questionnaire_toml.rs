//! A questionnaire definition from TOML (as `sipas publish --file` reads it), then its check;
//! a definition that passes must also carry a respondent through the flow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipas_app::survey::flow;
use sipas_app::survey::questionnaire::{Answers, Questionnaire};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(q) = toml::from_str::<Questionnaire>(text) else {
        return;
    };
    if q.check().is_err() {
        return;
    }
    // Walk the questionnaire answering every on-screen item with its first choice.
    let mut answers = Answers::new();
    let mut step = Some(flow::settle_step(&q, &answers, None));
    let mut guard = 0;
    while let Some(s) = step {
        let posted: Vec<(String, String)> = q.sections[s]
            .items
            .iter()
            .enumerate()
            .filter(|(i, _)| flow::item_on_screen(&q, s, *i, &answers))
            .filter_map(|(_, item)| {
                let value = q.choices(item).next()?.value;
                Some((item.code.clone(), value.to_string()))
            })
            .collect();
        let _ = flow::apply_section(
            &q,
            s,
            &mut answers,
            posted.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let _ = flow::section_errors(&q, s, &answers);
        let _ = flow::progress(&q, &answers, s);
        step = flow::next_section(&q, &answers, s);
        guard += 1;
        assert!(guard <= q.sections.len(), "next_section went backwards");
    }
    let _ = flow::first_incomplete(&q, &answers);
    let _ = q.validate(&answers, None);
});
