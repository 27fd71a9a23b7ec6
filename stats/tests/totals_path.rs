//! The database path: per-PSU totals produced by a GROUP BY (emulated here) give exactly the
//! results of reading the microdata directly.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use std::collections::BTreeMap;

use sipas_stats::design::{Design, Fpc};
use sipas_stats::estimate::estimate_all;
use sipas_stats::methodology::Methodology;
use sipas_stats::microdata::read_csv;
use sipas_stats::totals::{
    Area, DomainKey, DomainTotals, Moments, SufficientStats, sum_national_moments,
};

#[test]
fn group_by_totals_reproduce_the_microdata_results() {
    let dir = std::path::Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("golden");
    let mut m =
        Methodology::from_toml(&std::fs::read_to_string(dir.join("methodology.toml")).unwrap())
            .unwrap();
    m.subgroups.clear();
    let text = std::fs::read_to_string(dir.join("microdata.csv")).unwrap();
    let direct = estimate_all(&read_csv(text.as_bytes(), &m).unwrap(), &m)
        .unwrap()
        .cells;

    // SELECT province, stratum, psu, SUM(w*y_k), SUM(w*d_k), SUM(d_k), COUNT(*),
    //        SUM(CASE WHEN <any item of node g answered> ...) ... GROUP BY province, stratum, psu
    // and, per province, SUM(w*d_k*d_l), SUM(w*y_k*d_l), SUM(w*y_k*y_l) ... GROUP BY province.
    let tree = m.compile().unwrap();
    let node_items = tree.node_items();
    let k_n = tree.items.len();
    let mut moments: BTreeMap<String, Moments> = BTreeMap::new();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    type Cell = (u64, Vec<(f64, f64, u64)>, Vec<(u64, f64)>);
    let mut groups: BTreeMap<(String, String, String), Cell> = BTreeMap::new();
    let mut fpc: BTreeMap<String, f64> = BTreeMap::new();
    for record in reader.records() {
        let r = record.unwrap();
        let w: f64 = r[col("weight")].parse().unwrap();
        fpc.insert(
            r[col("stratum")].to_string(),
            r[col("fpc")].parse().unwrap(),
        );
        let key = (
            r[col("province")].to_string(),
            r[col("stratum")].to_string(),
            r[col("psu")].to_string(),
        );
        let province = key.0.clone();
        let entry = groups.entry(key).or_insert_with(|| {
            (
                0,
                vec![(0.0, 0.0, 0); k_n],
                vec![(0, 0.0); node_items.len()],
            )
        });
        entry.0 += 1;
        let mut d = vec![0.0; k_n];
        let mut y = vec![0.0; k_n];
        for (k, item) in tree.items.iter().enumerate() {
            if let Ok(v) = r[col(item)].parse::<i64>()
                && (1..=5).contains(&v)
            {
                d[k] = 1.0;
                entry.1[k].1 += w;
                entry.1[k].2 += 1;
                if v >= 4 {
                    y[k] = 1.0;
                    entry.1[k].0 += w;
                }
            }
        }
        for (g, items) in node_items.iter().enumerate() {
            if items.iter().any(|&k| d[k] > 0.0) {
                entry.2[g].0 += 1;
                entry.2[g].1 += w;
            }
        }
        let m = moments
            .entry(province)
            .or_insert_with(|| Moments::zeros(k_n));
        for k in 0..k_n {
            for l in 0..k_n {
                m.dd[k * k_n + l] += w * d[k] * d[l];
                m.yd[k * k_n + l] += w * y[k] * d[l];
                m.yy[k * k_n + l] += w * y[k] * y[l];
            }
        }
    }
    // Number the strata and PSUs, then fill each domain from its groups.
    let strata: Vec<String> = fpc.keys().cloned().collect();
    let mut psu_stratum = Vec::new();
    let mut domains: BTreeMap<DomainKey, DomainTotals> = BTreeMap::new();
    for (psu, ((province, stratum, _), (rows, items, nodes))) in groups.iter().enumerate() {
        psu_stratum.push(strata.iter().position(|s| s == stratum).unwrap() as u32);
        for area in [Area::Province(province.clone()), Area::National] {
            domains
                .entry(DomainKey {
                    area,
                    subgroup: None,
                })
                .or_insert_with(|| DomainTotals::new(k_n, node_items.len()))
                .push_psu(psu as u32, *rows, items, nodes);
        }
    }
    for (province, m) in moments {
        domains
            .get_mut(&DomainKey {
                area: Area::Province(province),
                subgroup: None,
            })
            .unwrap()
            .moments = m;
    }
    sum_national_moments(&mut domains);
    let design = Design::new(
        strata
            .iter()
            .map(|s| (s.clone(), Fpc::from_r_value(fpc[s])))
            .collect(),
        psu_stratum,
        m.lonely_psu,
    )
    .unwrap();
    let stats = SufficientStats {
        design,
        items: tree.items.clone(),
        nodes: tree.nodes.iter().map(|(code, _)| code.clone()).collect(),
        domains,
        calibration: None,
        psu_labels: groups.keys().map(|(_, _, psu)| psu.clone()).collect(),
        merged_node_ss: Default::default(),
    };
    let from_totals = estimate_all(&stats, &m).unwrap().cells;

    assert_eq!(direct.len(), from_totals.len());
    for (a, b) in direct.iter().zip(&from_totals) {
        assert_eq!(
            (&a.domain, &a.node, a.n, a.df, a.flag),
            (&b.domain, &b.node, b.n, b.df, b.flag)
        );
        for (x, y) in [
            (a.estimate, b.estimate),
            (a.se, b.se),
            (a.ci_low, b.ci_low),
            (a.ci_high, b.ci_high),
            (a.deff, b.deff),
            (a.n_eff, b.n_eff),
        ] {
            assert!(
                (x - y).abs() <= 1e-12 * y.abs().max(1e-12),
                "{a:?} vs {b:?}"
            );
        }
    }
}

/// The totals file reproduces every number exactly (same bits), with subgroups, calibration
/// and ranks, so a release's open data can be recomputed without microdata.
#[test]
fn a_totals_file_reproduces_every_number_exactly() {
    use sipas_stats::calibration::{CalibrationSettings, Population};
    use sipas_stats::microdata::read_csv_calibrated;
    use sipas_stats::output::write_csv;
    use sipas_stats::totals_file::{read_totals, write_totals};

    let dir = std::path::Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("golden");
    let mut m =
        Methodology::from_toml(&std::fs::read_to_string(dir.join("methodology.toml")).unwrap())
            .unwrap();
    m.calibration = Some(CalibrationSettings {
        margins: vec!["sex".into(), "urban".into()],
        bounds: None,
    });
    let population =
        Population::from_csv(std::fs::File::open(dir.join("population.csv")).unwrap()).unwrap();
    let data = std::fs::read(dir.join("microdata_calibrated.csv")).unwrap();
    let stats = read_csv_calibrated(data.as_slice(), &m, Some(&population)).unwrap();
    let results = |stats: &SufficientStats| {
        let mut out = Vec::new();
        write_csv(&estimate_all(stats, &m).unwrap().cells, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    let mut file = Vec::new();
    write_totals(&stats, &mut file).unwrap();
    let back = read_totals(file.as_slice(), &m).unwrap();
    let direct = results(&stats);
    assert!(direct.contains("sex=F") && direct.lines().count() > 100);
    assert_eq!(
        results(&stats),
        direct,
        "the same totals give the same bits"
    );
    assert_eq!(results(&back), direct);
    // Written again, the file is the same bytes (its digest identifies the inputs).
    let mut again = Vec::new();
    write_totals(&back, &mut again).unwrap();
    assert_eq!(again, file);
    // A damaged file names the place.
    let text = String::from_utf8(file).unwrap();
    let broken = text.replacen("\"wy\":[", "\"wy\":[1,", 1);
    let err = read_totals(broken.as_bytes(), &m).unwrap_err().to_string();
    assert!(err.contains("domain 0") && err.contains("wy"), "{err}");
}
