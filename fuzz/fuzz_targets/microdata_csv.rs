//! The microdata CSV reader (`sipas compute --data`), then the estimator on what it read, with
//! the golden methodology (items p1, p2, s1..s4, subgroup sex). The first input byte picks the
//! lonely-PSU policy so every policy is reached.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sipas_stats::estimate::estimate_all;
use sipas_stats::methodology::Methodology;
use sipas_stats::microdata::read_csv;

const GOLDEN_METHODOLOGY: &str = include_str!("../../stats/golden/methodology.toml");

static METHODOLOGIES: LazyLock<Vec<Methodology>> = LazyLock::new(|| {
    ["fail", "adjust", "remove", "certainty", "average"]
        .iter()
        .filter_map(|policy| {
            let text = GOLDEN_METHODOLOGY.replace(
                "lonely_psu = \"fail\"",
                &format!("lonely_psu = \"{policy}\""),
            );
            Methodology::from_toml(&text).ok()
        })
        .collect()
});

fuzz_target!(|data: &[u8]| {
    let Some((&selector, csv)) = data.split_first() else {
        return;
    };
    let methodologies = &*METHODOLOGIES;
    assert_eq!(methodologies.len(), 5, "the golden methodology parses");
    let methodology = &methodologies[usize::from(selector) % methodologies.len()];
    if let Ok(stats) = read_csv(csv, methodology) {
        let _ = estimate_all(&stats, methodology);
    }
});
