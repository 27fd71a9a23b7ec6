//! Invariances every design-based estimator must have.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use proptest::prelude::*;
use sipas_stats::estimate::{Cell, estimate_all};
use sipas_stats::methodology::Methodology;
use sipas_stats::microdata::read_csv;

const METHODOLOGY: &str = r#"
lonely_psu = "adjust"
[[nodes]]
code = "overall"
children = ["a", "b"]
weights = [2, 1]
"#;

#[derive(Debug, Clone)]
struct Row {
    province: u8,
    psu: u8,
    weight: f64,
    a: Option<u8>,
    b: Option<u8>,
}

fn rows() -> impl Strategy<Value = Vec<Row>> {
    prop::collection::vec(
        (
            0u8..2,
            0u8..4,
            0.5f64..3.0,
            prop::option::of(1u8..=5),
            prop::option::of(1u8..=5),
        )
            .prop_map(|(province, psu, weight, a, b)| Row {
                province,
                psu,
                weight,
                a,
                b,
            }),
        40..120,
    )
}

fn csv_text(rows: &[Row], scale: f64) -> String {
    let mut out = String::from("response_id,province,psu,weight,a,b\n");
    for (i, r) in rows.iter().enumerate() {
        let answer = |x: Option<u8>| x.map(|v| v.to_string()).unwrap_or_default();
        out.push_str(&format!(
            "{i},P{},c{},{},{},{}\n",
            r.province,
            r.psu,
            r.weight * scale,
            answer(r.a),
            answer(r.b)
        ));
    }
    out
}

fn estimate(text: &str) -> Vec<Cell> {
    let m = Methodology::from_toml(METHODOLOGY).unwrap();
    let stats = read_csv(text.as_bytes(), &m).unwrap();
    let mut cells = estimate_all(&stats, &m).unwrap().cells;
    cells.sort_by(|x, y| (&x.domain, &x.subgroup, &x.node).cmp(&(&y.domain, &y.subgroup, &y.node)));
    cells
}

fn same(x: f64, y: f64) -> bool {
    (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-9 * y.abs().max(1e-9)
}

fn assert_same(left: &[Cell], right: &[Cell]) {
    assert_eq!(left.len(), right.len());
    for (l, r) in left.iter().zip(right) {
        assert_eq!(
            (&l.domain, &l.node, l.n, l.df),
            (&r.domain, &r.node, r.n, r.df)
        );
        for (a, b) in [
            (l.estimate, r.estimate),
            (l.se, r.se),
            (l.ci_low, r.ci_low),
            (l.ci_high, r.ci_high),
            (l.deff, r.deff),
            (l.n_eff, r.n_eff),
        ] {
            assert!(same(a, b), "{l:?} vs {r:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn scaling_all_weights_changes_nothing(rows in rows(), scale in 0.01f64..100.0) {
        assert_same(&estimate(&csv_text(&rows, 1.0)), &estimate(&csv_text(&rows, scale)));
    }

    #[test]
    fn permuting_rows_changes_nothing(rows in rows(), seed in any::<u64>()) {
        let mut shuffled = rows.clone();
        // A deterministic Fisher–Yates from the generated seed.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        assert_same(&estimate(&csv_text(&rows, 1.0)), &estimate(&csv_text(&shuffled, 1.0)));
    }

    #[test]
    fn effective_size_never_exceeds_respondents(rows in rows()) {
        for cell in estimate(&csv_text(&rows, 1.0)) {
            prop_assert!(cell.n_eff.is_nan() || cell.n_eff <= cell.n, "{cell:?}");
            prop_assert!(cell.deff.is_nan() || cell.deff >= 0.0, "{cell:?}");
        }
    }

    #[test]
    fn a_node_of_one_item_has_the_items_numbers(rows in rows()) {
        // "single" has one child, "a": the composite formulas must reduce to the item's.
        let m = Methodology::from_toml(
            "lonely_psu = \"adjust\"\n[[nodes]]\ncode = \"single\"\nchildren = [\"a\"]\n[[nodes]]\ncode = \"other\"\nchildren = [\"b\"]\n",
        ).unwrap();
        let text = csv_text(&rows, 1.0);
        let cells = estimate_all(&read_csv(text.as_bytes(), &m).unwrap(), &m).unwrap().cells;
        for node in cells.iter().filter(|c| c.node == "single") {
            let item = cells
                .iter()
                .find(|c| c.domain == node.domain && c.subgroup == node.subgroup && c.node == "a")
                .unwrap();
            prop_assert_eq!((node.n, node.df), (item.n, item.df));
            for (x, y) in [(node.estimate, item.estimate), (node.se, item.se), (node.deff, item.deff), (node.n_eff, item.n_eff)] {
                prop_assert!(same(x, y), "{node:?} vs {item:?}");
            }
            prop_assert_eq!(node.flag, item.flag);
        }
    }

    #[test]
    fn one_row_psus_reproduce_simple_random_sampling(answers in prop::collection::vec(1u8..=5, 10..200)) {
        // One province (one stratum), no PSU column, equal weights: p = x/n, V = p(1−p)/(n−1).
        let mut text = String::from("response_id,province,a,b\n");
        for (i, a) in answers.iter().enumerate() {
            text.push_str(&format!("{i},P,{a},{a}\n"));
        }
        let cells = estimate(&text);
        let n = answers.len() as f64;
        let p = answers.iter().filter(|a| **a >= 4).count() as f64 / n;
        let item = cells.iter().find(|c| c.domain == "P" && c.node == "a").unwrap();
        prop_assert!(same(item.estimate, p));
        prop_assert!(same(item.se * item.se, p * (1.0 - p) / (n - 1.0)));
        prop_assert_eq!(item.df, n - 1.0);
        prop_assert_eq!(item.n, n);
    }
}
