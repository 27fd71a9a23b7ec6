//! The statistics inputs never panic (issue 10, item 6): the methodology TOML and the microdata
//! CSV reader, fed arbitrary text and bytes and mutations of the shipped and golden files, answer
//! `Ok` or a `StatsError`. A read that succeeds is also estimated, as `sipas compute` would.
//! The same parsers are fuzzed for longer by `scripts/fuzz.sh` (fuzz/fuzz_targets/).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use proptest::prelude::*;
use sipas_stats::StatsError;
use sipas_stats::estimate::estimate_all;
use sipas_stats::methodology::Methodology;
use sipas_stats::microdata::read_csv;

const SHIPPED_METHODOLOGY: &str = include_str!("../../data/methodology/sipas-2023.toml");
const GOLDEN_METHODOLOGY: &str = include_str!("../golden/methodology.toml");
const GOLDEN_CSV: &str = include_str!("../golden/microdata.csv");
const GOLDEN_LONELY_CSV: &str = include_str!("../golden/microdata_lonely.csv");
const GOLDEN_SRS_CSV: &str = include_str!("../golden/microdata_srs.csv");

/// The golden methodology with a lonely-PSU policy that lets small mutated files reach the
/// estimator instead of stopping at "stratum has only one PSU".
fn adjusting_methodology() -> Methodology {
    Methodology::from_toml(
        &GOLDEN_METHODOLOGY.replace("lonely_psu = \"fail\"", "lonely_psu = \"adjust\""),
    )
    .expect("golden methodology")
}

/// The first `lines` lines of a file (a golden CSV head keeps each case fast).
fn head(text: &str, lines: usize) -> String {
    text.lines()
        .take(lines)
        .map(|line| format!("{line}\n"))
        .collect()
}

/// What `sipas compute` does with a file: read it, then estimate. Either step may refuse the
/// input with a `StatsError`; neither may panic (a panic fails the property).
fn read_and_estimate(bytes: &[u8], methodology: &Methodology) -> Result<(), StatsError> {
    let stats = read_csv(bytes, methodology)?;
    estimate_all(&stats, methodology)?;
    Ok(())
}

/// A methodology text, then (when it is valid) its tree and the golden file read with it.
fn methodology_round(text: &str) {
    if let Ok(methodology) = Methodology::from_toml(text) {
        methodology
            .compile()
            .expect("a validated methodology compiles");
        let _ = read_and_estimate(head(GOLDEN_CSV, 80).as_bytes(), &methodology);
    }
}

/// Literals that sit at the edges of what the parsers accept.
const TOML_LITERALS: &[&str] = &[
    "0",
    "-1",
    "1.5",
    "-0.0",
    "1e308",
    "-1e308",
    "1e-320",
    "inf",
    "-inf",
    "nan",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999",
    "true",
    "\"\"",
    "\"x\"",
    "\"sipas\"",
    "\"p1\"",
    "[]",
    "[\"\"]",
    "[\"sipas\"]",
    "[\"p1\", \"p1\"]",
    "[0, 0]",
    "[1e308, 1e308]",
    "[-1, 2]",
    "[nan]",
    "{}",
    "\"adjust\"",
    "\"remove\"",
    "\"certainty\"",
    "\"average\"",
    "\"beta\"",
    "\"wilson\"",
    "\"mean\"",
    "\"xlogit\"",
    "\"pooled\"",
];

const CSV_LITERALS: &[&str] = &[
    "",
    "NA",
    "0",
    "-1",
    "-0",
    "0.5",
    "1.0",
    "5.0000000001",
    "1e308",
    "-1e308",
    "1e-320",
    "inf",
    "NaN",
    "99999999999999999999999",
    "9223372036854775807",
    "\"\"",
    "\"a,b\"",
    "\u{feff}",
    "x",
    "01",
    "01-1",
    "c1",
    "1",
    "2",
    "M",
    "response_id",
    "province",
    "fpc",
];

/// One edit of a text: its position and length are taken modulo the text's size.
#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, String),
    Delete(usize, usize),
    Replace(usize, usize, String),
    /// Replaces the value after `=` (TOML) or a `,`-separated cell (CSV) on a line.
    Value(usize, usize, String),
    DuplicateLine(usize),
    DropLine(usize),
    SwapLines(usize, usize),
}

fn snippet(literals: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(literals).prop_map(str::to_owned),
        "[\\[\\]{}=\",.#\n\r'a-z0-9_ -]{1,8}",
        any::<String>().prop_map(|s| s.chars().take(6).collect()),
    ]
}

fn edit(literals: &'static [&'static str]) -> impl Strategy<Value = Edit> {
    let position = any::<usize>();
    prop_oneof![
        (position, snippet(literals)).prop_map(|(at, s)| Edit::Insert(at, s)),
        (position, 1usize..16).prop_map(|(at, len)| Edit::Delete(at, len)),
        (position, 1usize..8, snippet(literals)).prop_map(|(at, len, s)| Edit::Replace(at, len, s)),
        (position, any::<usize>(), snippet(literals))
            .prop_map(|(line, cell, s)| Edit::Value(line, cell, s)),
        position.prop_map(Edit::DuplicateLine),
        position.prop_map(Edit::DropLine),
        (position, position).prop_map(|(a, b)| Edit::SwapLines(a, b)),
    ]
}

/// Applies edits to a text, keeping it valid UTF-8 (edits work on characters).
fn mutate(text: &str, edits: &[Edit], csv: bool) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for edit in edits {
        match edit {
            Edit::Insert(at, s) => {
                let at = at % (chars.len() + 1);
                chars.splice(at..at, s.chars());
            }
            Edit::Delete(..) | Edit::Replace(..) if chars.is_empty() => {}
            Edit::Delete(at, len) => {
                let at = at % chars.len();
                let end = (at + len).min(chars.len());
                chars.drain(at..end);
            }
            Edit::Replace(at, len, s) => {
                let at = at % chars.len();
                let end = (at + len).min(chars.len());
                chars.splice(at..end, s.chars());
            }
            Edit::Value(line, cell, s) => {
                let text: String = chars.iter().collect();
                let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
                let n = lines.len();
                let target = &mut lines[line % n];
                if csv {
                    let mut cells: Vec<&str> = target.split(',').collect();
                    let k = cell % cells.len();
                    cells[k] = s;
                    *target = cells.join(",");
                } else if let Some((key, _)) = target.split_once('=') {
                    *target = format!("{key}= {s}");
                }
                chars = lines.join("\n").chars().collect();
            }
            Edit::DuplicateLine(line) | Edit::DropLine(line) => {
                let text: String = chars.iter().collect();
                let mut lines: Vec<&str> = text.split('\n').collect();
                let i = line % lines.len();
                if matches!(edit, Edit::DuplicateLine(_)) {
                    lines.insert(i, lines[i]);
                } else {
                    lines.remove(i);
                }
                chars = lines.join("\n").chars().collect();
            }
            Edit::SwapLines(a, b) => {
                let text: String = chars.iter().collect();
                let mut lines: Vec<&str> = text.split('\n').collect();
                let n = lines.len();
                lines.swap(a % n, b % n);
                chars = lines.join("\n").chars().collect();
            }
        }
    }
    chars.into_iter().collect()
}

/// Byte-level edits (CSV only): invalid UTF-8, stray quotes, carriage returns, NULs.
fn mutate_bytes(text: &str, edits: &[(usize, u8)]) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for &(at, byte) in edits {
        if bytes.is_empty() || at % 3 == 0 {
            let at = at % (bytes.len() + 1);
            bytes.insert(at, byte);
        } else {
            let at = at % bytes.len();
            bytes[at] = byte;
        }
    }
    bytes
}

fn special_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        any::<u8>(),
        prop::sample::select(&[b'"', b',', b'\r', b'\n', 0u8, 0xff, 0xc3, 0xef][..]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn methodology_from_arbitrary_text(text in any::<String>()) {
        methodology_round(&text);
    }

    #[test]
    fn methodology_from_toml_like_text(text in "([a-z_]{1,8} = [\\[\\]{}\",.0-9a-z -]{0,12}\n|\\[\\[?[a-z]{1,6}\\]\\]?\n){0,12}") {
        methodology_round(&text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn shipped_methodology_mutated(edits in prop::collection::vec(edit(TOML_LITERALS), 1..6)) {
        methodology_round(&mutate(SHIPPED_METHODOLOGY, &edits, false));
    }

    #[test]
    fn golden_methodology_mutated(edits in prop::collection::vec(edit(TOML_LITERALS), 1..6)) {
        methodology_round(&mutate(GOLDEN_METHODOLOGY, &edits, false));
    }

    #[test]
    fn microdata_from_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = read_and_estimate(&bytes, &adjusting_methodology());
    }

    #[test]
    fn microdata_from_arbitrary_text_after_a_valid_header(
        body in "([0-9a-zA-Z.,\"\\- \r\n]|NA|\u{feff}){0,300}",
    ) {
        let header = GOLDEN_CSV.lines().next().unwrap();
        let text = format!("{header}\n{body}");
        let _ = read_and_estimate(text.as_bytes(), &adjusting_methodology());
    }

    #[test]
    fn golden_microdata_mutated(
        file in 0usize..3,
        lines in 2usize..60,
        edits in prop::collection::vec(edit(CSV_LITERALS), 1..8),
        lonely in prop::sample::select(&["fail", "adjust", "remove", "certainty", "average"][..]),
    ) {
        let source = [GOLDEN_CSV, GOLDEN_LONELY_CSV, GOLDEN_SRS_CSV][file];
        let text = mutate(&head(source, lines), &edits, true);
        let methodology = Methodology::from_toml(&GOLDEN_METHODOLOGY.replace(
            "lonely_psu = \"fail\"",
            &format!("lonely_psu = \"{lonely}\""),
        ))
        .unwrap();
        let _ = read_and_estimate(text.as_bytes(), &methodology);
    }

    #[test]
    fn golden_microdata_byte_mutated(
        lines in 2usize..40,
        edits in prop::collection::vec((any::<usize>(), special_byte()), 1..8),
    ) {
        let bytes = mutate_bytes(&head(GOLDEN_CSV, lines), &edits);
        let _ = read_and_estimate(&bytes, &adjusting_methodology());
    }

    #[test]
    fn mutated_methodology_reads_the_golden_file(
        edits in prop::collection::vec(edit(TOML_LITERALS), 1..4),
        lines in 2usize..120,
    ) {
        if let Ok(methodology) = Methodology::from_toml(&mutate(GOLDEN_METHODOLOGY, &edits, false)) {
            let _ = read_and_estimate(head(GOLDEN_CSV, lines).as_bytes(), &methodology);
        }
    }
}

#[test]
fn the_unmutated_inputs_are_accepted() {
    // The mutations start from files that parse: a mutation test that never reaches the
    // reader or the estimator would prove little.
    Methodology::from_toml(SHIPPED_METHODOLOGY).unwrap();
    let golden = Methodology::from_toml(GOLDEN_METHODOLOGY).unwrap();
    read_and_estimate(GOLDEN_CSV.as_bytes(), &golden).unwrap();
    read_and_estimate(head(GOLDEN_CSV, 80).as_bytes(), &adjusting_methodology()).unwrap();
}

/// The totals file of the golden head, as `sipas compute --write-totals` writes it.
fn golden_totals() -> String {
    let m = adjusting_methodology();
    let stats = read_csv(head(GOLDEN_CSV, 120).as_bytes(), &m).expect("golden");
    let mut out = Vec::new();
    sipas_stats::totals_file::write_totals(&stats, &mut out).expect("write");
    String::from_utf8(out).expect("utf-8")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A damaged totals file (a number, bracket or name changed) is read as an error or as
    /// totals that estimate without panicking.
    #[test]
    fn totals_file_mutated(position in any::<prop::sample::Index>(), replacement in prop::sample::select(vec!["0", "-1", "1e308", "]", "[", "\"x\"", "null", ",", "99999", "NaN", "", "18446744073709551615", "4294967295", "-0.5"])) {
        let text = golden_totals();
        let at = position.index(text.len());
        let end = (at + 1 + at % 7).min(text.len());
        let mutated = format!("{}{}{}", &text[..at], replacement, &text[end..]);
        let m = adjusting_methodology();
        if let Ok(stats) = sipas_stats::totals_file::read_totals(mutated.as_bytes(), &m) {
            let _ = estimate_all(&stats, &m);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Sample selection on any sizes, n and start: probabilities in [0, 1] summing to n and
    /// exactly n units drawn, or a refusal.
    #[test]
    fn sample_selection_never_panics(
        sizes in proptest::collection::vec(prop_oneof![
            4 => 0.0f64..1e6,
            1 => Just(0.0),
            1 => prop_oneof![Just(f64::NAN), Just(-1.0), Just(f64::INFINITY), Just(1e300)],
        ], 0..60),
        n in 0usize..70,
        start in 0.0f64..1.0,
    ) {
        use sipas_stats::sampling::{inclusion_probabilities, systematic_selection};
        if let Ok(pik) = inclusion_probabilities(&sizes, n) {
            prop_assert!(pik.iter().all(|p| (0.0..=1.0 + 1e-9).contains(p)), "{pik:?}");
            let total: f64 = pik.iter().sum();
            prop_assert!(pik.iter().all(|p| *p == 0.0) || (total - n as f64).abs() < 1e-6, "{total} vs {n}");
            let selected = systematic_selection(&pik, start).unwrap();
            if pik.iter().any(|p| *p > 0.0) {
                prop_assert_eq!(selected.iter().filter(|s| **s).count(), n);
            }
        }
    }
}
