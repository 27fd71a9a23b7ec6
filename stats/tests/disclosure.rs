//! The public totals: no subgroups, no moments, and still every province and national number
//! of the full totals — composite design effects included, on the year's own map and
//! re-aggregated to another.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use sipas_stats::calibration::Calibration;
use sipas_stats::disclosure::{Withheld, differencing_risks, public_totals};
use sipas_stats::estimate::{Cell, estimate_all};
use sipas_stats::methodology::Methodology;
use sipas_stats::microdata::read_csv;
use sipas_stats::output::write_csv;
use sipas_stats::totals::{SufficientStats, reaggregate};
use sipas_stats::totals_file::{read_totals, write_totals};

fn golden(name: &str) -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("golden");
    std::fs::read_to_string(dir.join(name)).unwrap()
}

/// 24 merges into 01; 79 stays.
fn new_code(old: &str) -> Option<String> {
    match old {
        "01" | "24" => Some("01".into()),
        "79" => Some("79".into()),
        _ => None,
    }
}

fn csv(cells: &[Cell]) -> Vec<String> {
    let mut out = Vec::new();
    write_csv(cells, &mut out).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn without_subgroups(cells: Vec<Cell>) -> Vec<Cell> {
    cells
        .into_iter()
        .filter(|c| c.subgroup.is_empty())
        .collect()
}

fn smallest_psu(stats: &SufficientStats) -> u64 {
    stats
        .domains
        .iter()
        .filter(|(key, _)| key.subgroup.is_none())
        .flat_map(|(_, t)| t.rows.iter().copied())
        .min()
        .unwrap()
}

/// Written to a file and read back, as a user of the download would.
fn round_trip(stats: &SufficientStats, m: &Methodology) -> (String, SufficientStats) {
    let mut text = Vec::new();
    write_totals(stats, &mut text).unwrap();
    let back = read_totals(text.as_slice(), m).unwrap();
    (String::from_utf8(text).unwrap(), back)
}

/// The golden methodology, subgroups included: the public form drops the subgroup domains (a
/// release publishes no rows by subgroup) and keeps every other number.
fn methodology() -> Methodology {
    let m = Methodology::from_toml(&golden("methodology.toml")).unwrap();
    assert!(!m.subgroups.is_empty());
    m
}

#[test]
fn public_totals_reproduce_every_province_and_national_number_without_moments_or_subgroups() {
    let m = methodology();
    let full = read_csv(golden("microdata.csv").as_bytes(), &m).unwrap();
    // A minimum of 1: the golden communes are small (their cells are checked below).
    let public = public_totals(&full, &m, 1, Some(&new_code))
        .unwrap()
        .expect("no minimum to miss");
    let (text, public) = round_trip(&public, &m);
    assert!(
        text.contains("\"dd\":[],\"yd\":[],\"yy\":[],\"node_ss\":["),
        "moments replaced by one number per node"
    );
    assert!(text.contains("\"merged_node_ss\":[{\"provinces\":[\"01\",\"24\"]"));

    // The same bits as the full totals, composite design effects and flags included.
    let expected = without_subgroups(estimate_all(&full, &m).unwrap().cells);
    let got = estimate_all(&public, &m).unwrap().cells;
    assert!(got.iter().any(|c| c.node == "sipas" && c.deff.is_finite()));
    assert_eq!(csv(&got), csv(&expected));

    // Re-aggregated to another map: the merged domain's node sums come from the file.
    let expected = without_subgroups(
        estimate_all(&reaggregate(&full, &new_code).unwrap(), &m)
            .unwrap()
            .cells,
    );
    let got = estimate_all(&reaggregate(&public, &new_code).unwrap(), &m)
        .unwrap()
        .cells;
    assert!(
        got.iter()
            .any(|c| c.domain == "01" && c.node == "sipas" && c.deff.is_finite())
    );
    assert_eq!(csv(&got), csv(&expected));

    // A map the file has no node sums for: composite design effects are unknown, not wrong.
    let other = |old: &str| Some(if old == "79" { "24" } else { old }.to_owned());
    let cells = estimate_all(&reaggregate(&public, &other).unwrap(), &m)
        .unwrap()
        .cells;
    let merged = cells
        .iter()
        .find(|c| c.domain == "24" && c.node == "sipas")
        .unwrap();
    assert!(merged.deff.is_nan() && merged.estimate.is_finite());
}

#[test]
fn totals_are_withheld_for_small_communes_and_calibrated_weights() {
    let m = methodology();
    let full = read_csv(golden("microdata.csv").as_bytes(), &m).unwrap();
    let min = smallest_psu(&full);
    match public_totals(&full, &m, min + 1, None).unwrap() {
        Err(Withheld::SmallCommunes(psus)) => {
            assert!(!psus.is_empty());
            assert!(psus.iter().all(|p| p.contains('/')), "{psus:?}");
        }
        other => panic!("expected small communes, got {:?}", other.map(|_| ())),
    }
    let mut calibrated = full.clone();
    calibrated.calibration = Some(Calibration { blocks: Vec::new() });
    assert_eq!(
        public_totals(&calibrated, &m, 1, None).unwrap().err(),
        Some(Withheld::Calibrated)
    );
}

/// Two communes of ten respondents with equal weights; every answer 5 (satisfied) unless
/// `answer` says otherwise for (commune, respondent, item).
fn communes(answer: impl Fn(usize, usize, &str) -> &'static str) -> String {
    let items = ["p1", "p2", "s1", "s2", "s3", "s4"];
    let mut csv = format!(
        "response_id,province,stratum,psu,weight,sex,{}\n",
        items.join(",")
    );
    for c in 0..2 {
        for r in 0..10 {
            let answers: Vec<&str> = items.iter().map(|item| answer(c, r, item)).collect();
            csv.push_str(&format!(
                "{},01,01-1,c{c},100,F,{}\n",
                c * 10 + r,
                answers.join(",")
            ));
        }
    }
    csv
}

#[test]
fn totals_are_withheld_when_a_commune_item_cell_has_one_to_four_people() {
    let m = methodology();
    let public = |csv: String| public_totals(&read_csv(csv.as_bytes(), &m).unwrap(), &m, 5, None);
    // Five satisfied and five not: every cell 0 or at least 5.
    let even = communes(|c, r, item| {
        if c == 0 && item == "p1" && r < 5 {
            "2"
        } else {
            "5"
        }
    });
    assert!(public(even).unwrap().is_ok());
    // One dissatisfied person in commune c1 on p1, and one who left s1 empty in c0.
    let one = communes(|c, r, item| match (c, r, item) {
        (1, 0, "p1") => "2",
        (0, 3, "s1") => "",
        _ => "5",
    });
    match public(one).unwrap() {
        Err(Withheld::SmallCells(cells)) => {
            assert_eq!(
                cells,
                vec!["01-1/c0: s1".to_owned(), "01-1/c1: p1".to_owned()]
            );
        }
        other => panic!("expected small cells, got {:?}", other.map(|_| ())),
    }
    // The golden sample (communes of 2 to 9) has many.
    let full = read_csv(golden("microdata.csv").as_bytes(), &m).unwrap();
    assert!(matches!(
        public_totals(&full, &m, 2, None).unwrap(),
        Err(Withheld::SmallCells(_))
    ));
}

#[test]
fn a_version_that_adds_fewer_respondents_to_a_commune_than_the_minimum_is_flagged() {
    let m = methodology();
    let full = read_csv(golden("microdata.csv").as_bytes(), &m).unwrap();
    let v1 = public_totals(&full, &m, 1, None).unwrap().unwrap();
    assert!(differencing_risks(&v1, &v1, 5).is_empty());

    let mut v2 = v1.clone();
    let (_, province) = v2
        .domains
        .iter_mut()
        .find(|(key, _)| key.subgroup.is_none())
        .unwrap();
    province.rows[0] += 1;
    let risks = differencing_risks(&v2, &v1, 5);
    assert_eq!(risks.len(), 1, "{risks:?}");
    assert!(risks[0].ends_with("/c1"), "{risks:?}");

    // Five late forms in that commune are a group, not a person.
    let (_, province) = v2
        .domains
        .iter_mut()
        .find(|(key, _)| key.subgroup.is_none())
        .unwrap();
    province.rows[0] += 4;
    assert!(differencing_risks(&v2, &v1, 5).is_empty());
}
