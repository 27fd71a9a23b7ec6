//! Earlier years on today's map: re-aggregating a year's totals through a crosswalk that merges
//! whole provinces gives the results of computing that year with the provinces recoded.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use sipas_stats::estimate::estimate_all;
use sipas_stats::methodology::Methodology;
use sipas_stats::microdata::read_csv;
use sipas_stats::totals::reaggregate;

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

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

#[test]
fn merging_provinces_in_the_totals_equals_recoding_the_microdata() {
    let m = Methodology::from_toml(&golden("methodology.toml")).unwrap();
    let text = golden("microdata.csv");
    let old = read_csv(text.as_bytes(), &m).unwrap();
    let merged = estimate_all(&reaggregate(&old, &new_code).unwrap(), &m)
        .unwrap()
        .cells;

    // The same rows with the province column recoded (strata keep their own names).
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let province = headers.iter().position(|h| h == "province").unwrap();
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&headers).unwrap();
    for record in reader.records() {
        let record = record.unwrap();
        let row: Vec<String> = record
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if i == province {
                    new_code(v).unwrap()
                } else {
                    v.to_owned()
                }
            })
            .collect();
        writer.write_record(&row).unwrap();
    }
    let recoded = writer.into_inner().unwrap();
    let direct = estimate_all(&read_csv(recoded.as_slice(), &m).unwrap(), &m)
        .unwrap()
        .cells;

    assert_eq!(merged.len(), direct.len());
    assert!(merged.iter().any(|c| c.domain == "01" && c.n > 150.0));
    assert!(!merged.iter().any(|c| c.domain == "24"));
    for (a, b) in merged.iter().zip(&direct) {
        assert_eq!(
            (&a.domain, &a.subgroup, &a.node),
            (&b.domain, &b.subgroup, &b.node)
        );
        for (name, x, y) in [
            ("estimate", a.estimate, b.estimate),
            ("se", a.se, b.se),
            ("ci_low", a.ci_low, b.ci_low),
            ("ci_high", a.ci_high, b.ci_high),
            ("deff", a.deff, b.deff),
            ("n", a.n, b.n),
            ("df", a.df, b.df),
        ] {
            assert!(
                close(x, y),
                "{} {} {} {name}: {x} vs {y}",
                a.domain,
                a.subgroup,
                a.node
            );
        }
        assert_eq!(a.flag, b.flag);
        assert_eq!(a.standing, b.standing);
    }
}

#[test]
fn a_province_missing_from_the_crosswalk_is_an_error_naming_it() {
    let m = Methodology::from_toml(&golden("methodology.toml")).unwrap();
    let old = read_csv(golden("microdata.csv").as_bytes(), &m).unwrap();
    let err = reaggregate(&old, &|code| (code != "79").then(|| code.to_owned()))
        .err()
        .unwrap();
    assert!(err.to_string().contains("province 79"), "{err}");
}
