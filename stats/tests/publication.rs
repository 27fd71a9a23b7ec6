//! The publication rule (`sipas_stats::publish`): the published cells are the engine's rounded
//! as published, everything derived is recomputed from the rounded numbers and the public
//! aggregates, the aggregates read back to the same cells, and the tiers hold their error rate
//! when every province equals the nation (Holm).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use std::collections::HashMap;
use std::path::PathBuf;

use sipas_stats::estimate::{Cell, Flag, Tier, estimate_all};
use sipas_stats::methodology::{Methodology, NationalRule};
use sipas_stats::microdata::read_csv;
use sipas_stats::publish::{
    Aggregate, AggregateKind, Measured, aggregates, measured, publish, read_aggregates, round_to,
    write_aggregates,
};

fn golden(name: &str) -> PathBuf {
    PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("golden")
    .join(name)
}

fn methodology() -> Methodology {
    Methodology::from_toml(&std::fs::read_to_string(golden("methodology.toml")).unwrap()).unwrap()
}

/// The golden clustered sample (three provinces) without its fpc column.
fn engine(m: &Methodology) -> (sipas_stats::totals::SufficientStats, Vec<Cell>) {
    let data = std::fs::read_to_string(golden("microdata.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(data.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let keep: Vec<usize> = (0..headers.len())
        .filter(|&i| &headers[i] != "fpc")
        .collect();
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(keep.iter().map(|&i| &headers[i]))
        .unwrap();
    for r in reader.records() {
        let r = r.unwrap();
        writer.write_record(keep.iter().map(|&i| &r[i])).unwrap();
    }
    let text = String::from_utf8(writer.into_inner().unwrap()).unwrap();
    let stats = read_csv(text.as_bytes(), m).unwrap();
    let cells = estimate_all(&stats, m).unwrap().cells;
    (stats, cells)
}

fn by_id(cells: &[Cell]) -> HashMap<(String, String), &Cell> {
    cells
        .iter()
        .filter(|c| c.subgroup.is_empty())
        .map(|c| ((c.domain.clone(), c.node.clone()), c))
        .collect()
}

#[test]
fn published_cells_are_the_engines_rounded() {
    let m = methodology();
    let (stats, engine) = engine(&m);
    let rows = aggregates(&stats, &m).unwrap();
    let published = publish(&rows, &measured(&engine), &m, None).unwrap();
    let ours = by_id(&engine);
    // Every unsubgrouped engine cell is published, in the engine's order.
    let engine_order: Vec<(&str, &str)> = engine
        .iter()
        .filter(|c| c.subgroup.is_empty())
        .map(|c| (c.domain.as_str(), c.node.as_str()))
        .collect();
    let published_order: Vec<(&str, &str)> = published
        .iter()
        .map(|c| (c.domain.as_str(), c.node.as_str()))
        .collect();
    assert_eq!(engine_order, published_order);
    let provinces: Vec<&Cell> = published
        .iter()
        .filter(|c| !c.domain.starts_with("national") && c.node == "sipas")
        .collect();
    for p in &published {
        let e = ours[&(p.domain.clone(), p.node.clone())];
        // The estimate recomputed from the aggregates is the engine's, rounded.
        assert_eq!(
            p.estimate,
            round_to(e.estimate, 4),
            "{} {}",
            p.domain,
            p.node
        );
        assert_eq!(p.n, e.n);
        assert_eq!(p.df, e.df);
        assert_eq!(p.deff, round_to(e.deff, 2));
        if p.domain == "national_mean" {
            // Derived from the provinces' published SEs: √(Σ se²) / P, which equals the joint
            // linearization (R's svycontrast) up to the rounding of the provinces' SEs.
            let members: Vec<&Cell> = published
                .iter()
                .filter(|c| !c.domain.starts_with("national") && c.node == p.node)
                .collect();
            let k = members.len() as f64;
            let v: f64 = members.iter().map(|c| c.se * c.se).sum::<f64>() / (k * k);
            assert_eq!(p.se, round_to(v.sqrt(), 4));
            assert!((p.se - e.se).abs() < 1.5e-4, "{} {} {}", p.node, p.se, e.se);
        } else {
            assert_eq!(p.se, round_to(e.se, 4));
        }
        // Intervals from the rounded numbers: within a few units of the last digit of the
        // engine's.
        if e.ci_low.is_finite() {
            assert!(
                (p.ci_low - e.ci_low).abs() < 5e-4,
                "{} {}",
                p.domain,
                p.node
            );
            assert!(
                (p.ci_high - e.ci_high).abs() < 5e-4,
                "{} {}",
                p.domain,
                p.node
            );
        }
    }
    // The tier's difference is measured from the mean of provinces as published, with the
    // variance of the difference from the published SEs; the engine's (joint linearization)
    // agrees up to rounding.
    let mean = published
        .iter()
        .find(|c| c.domain == "national_mean" && c.node == "sipas")
        .unwrap();
    for p in &provinces {
        let v = p.vs_national.expect("tested");
        let e = ours[&(p.domain.clone(), p.node.clone())]
            .vs_national
            .unwrap();
        assert_eq!(v.difference, round_to(p.estimate - mean.estimate, 4));
        assert!((v.se - e.se).abs() < 1.5e-4, "{} {}", v.se, e.se);
        assert!(p.standing.is_some());
    }
}

/// The claim behind the published tier test: with strata inside provinces, the variance of a
/// province minus the mean of provinces is (1 − 1/P)² V_i + Σ_{j≠i} V_j / P², the joint
/// linearization the engine (and R's svycontrast) computes.
#[test]
fn the_difference_from_the_mean_needs_only_the_provinces_variances() {
    let m = methodology();
    let (_, engine) = engine(&m);
    for node in ["sipas", "policy", "s4"] {
        let provinces: Vec<&Cell> = engine
            .iter()
            .filter(|c| {
                !c.domain.starts_with("national") && c.subgroup.is_empty() && c.node == node
            })
            .collect();
        let k = provinces.len() as f64;
        for (i, p) in provinces.iter().enumerate() {
            let v: f64 = provinces
                .iter()
                .enumerate()
                .map(|(j, q)| {
                    let c = if i == j { 1.0 - 1.0 / k } else { 1.0 / k };
                    c * c * q.se * q.se
                })
                .sum();
            let joint = p.vs_national.unwrap().se;
            assert!(
                (v.sqrt() - joint).abs() <= 1e-12 * joint,
                "{node} {}: {} vs {joint}",
                p.domain,
                v.sqrt()
            );
        }
    }
}

#[test]
fn aggregates_read_back_to_the_same_cells() {
    let m = methodology();
    let (stats, engine) = engine(&m);
    let rows = aggregates(&stats, &m).unwrap();
    let mut text = Vec::new();
    write_aggregates(&rows, &mut text).unwrap();
    let back = read_aggregates(text.as_slice()).unwrap();
    assert_eq!(back, rows);
    // A verifier has only the published cells: their SE, df and deff as published.
    let first = publish(&rows, &measured(&engine), &m, None).unwrap();
    let again = publish(&back, &measured(&first), &m, None).unwrap();
    assert_eq!(first, again);
    // No subgroup and no commune in the public aggregates.
    assert!(
        rows.iter()
            .all(|r| r.domain == "national" || r.domain.len() == 2)
    );
    let national_items = rows
        .iter()
        .filter(|r| r.domain == "national" && r.kind == AggregateKind::Item)
        .count();
    assert_eq!(national_items, 6);
    // Bad input names the row and column.
    let err =
        read_aggregates("domain,kind,code,n,sum_w,sum_wy,sum_wd\n01,item,p1,x,,1,2\n".as_bytes())
            .unwrap_err()
            .to_string();
    assert!(err.starts_with("row 2, column n:"), "{err}");
}

#[test]
fn changes_come_from_both_years_published_figures() {
    let m = methodology();
    let (stats, engine) = engine(&m);
    let rows = aggregates(&stats, &m).unwrap();
    let this_year = publish(&rows, &measured(&engine), &m, None).unwrap();
    // Last year: every figure 2 points lower, same SEs.
    let last_year: Vec<Cell> = this_year
        .iter()
        .map(|c| Cell {
            estimate: round_to(c.estimate - 0.02, 4),
            ..c.clone()
        })
        .collect();
    let with_change = publish(&rows, &measured(&engine), &m, Some(&last_year)).unwrap();
    for c in with_change
        .iter()
        .filter(|c| c.flag == Flag::Ok || c.flag == Flag::LowPrecision)
    {
        let change = c.change.expect("a change");
        assert_eq!(change.difference, 0.02, "{} {}", c.domain, c.node);
        assert_eq!(change.se, round_to((2.0 * c.se * c.se).sqrt(), 4));
        assert!(change.p_holm >= change.p_value);
    }
    // Every test can be redone from the published numbers: p from the published difference,
    // SE and df; Holm over the provinces' published p; the decision on the published p_holm.
    let redo = |difference: f64, se: f64, df: f64| {
        round_to(
            sipas_stats::compare::t_test(difference, se * se, df, 0.95).p_value,
            4,
        )
    };
    let provinces = |node: &str| -> Vec<&Cell> {
        with_change
            .iter()
            .filter(|c| c.node == node && c.subgroup.is_empty() && c.domain.len() == 2)
            .collect()
    };
    let mut redone = 0;
    for node in ["sipas", "policy", "s4", "p1"] {
        let tested: Vec<&Cell> = provinces(node)
            .into_iter()
            .filter(|c| c.vs_national.is_some())
            .collect();
        let p: Vec<f64> = tested
            .iter()
            .map(|c| {
                let v = c.vs_national.unwrap();
                assert_eq!(v.p_value, redo(v.difference, v.se, c.df), "{}", c.domain);
                v.p_value
            })
            .collect();
        for (c, p_holm) in tested.iter().zip(sipas_stats::compare::holm(&p)) {
            let v = c.vs_national.unwrap();
            assert_eq!(v.p_holm, round_to(p_holm, 4));
            let expected = if v.p_holm >= 0.05 {
                Tier::NotDistinguishable
            } else if v.difference > 0.0 {
                Tier::Above
            } else {
                Tier::Below
            };
            assert_eq!(v.tier, expected, "{} {node}", c.domain);
            redone += 1;
        }
        let changed: Vec<&Cell> = provinces(node)
            .into_iter()
            .filter(|c| c.change.is_some())
            .collect();
        let p: Vec<f64> = changed
            .iter()
            .map(|c| {
                let ch = c.change.unwrap();
                assert_eq!(
                    ch.p_value,
                    redo(ch.difference, ch.se, ch.df),
                    "{}",
                    c.domain
                );
                ch.p_value
            })
            .collect();
        for (c, p_holm) in changed.iter().zip(sipas_stats::compare::holm(&p)) {
            let ch = c.change.unwrap();
            assert_eq!(ch.p_holm, round_to(p_holm, 4));
            assert_eq!(ch.significant, ch.p_holm < 0.05);
            redone += 1;
        }
    }
    assert!(redone >= 16, "{redone} tests redone");
    // Both years at 100% with no sampling variance: no change is published.
    let exact = |estimate: f64| Cell {
        estimate,
        se: 0.0,
        ..this_year[0].clone()
    };
    let mut one = vec![exact(1.0)];
    let previous = vec![exact(1.0)];
    sipas_stats::estimate::add_changes(&mut one, &previous, 0.95);
    assert!(one[0].change.is_none());
}

/// A release where all 34 provinces equal the nation: with Holm's adjustment over the
/// provinces, a release shows any "above" or "below" in at most 5% of releases; unadjusted
/// tests at 5% make about 34 × 5% = 1.7 false calls in every release.
#[test]
fn tiers_hold_their_error_rate_when_every_province_equals_the_nation() {
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        }
        fn normal(&mut self) -> f64 {
            let (u, v) = (self.next().max(1e-300), self.next());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        }
    }
    let mut m = Methodology::from_toml("[[nodes]]\ncode = \"all\"\nchildren = [\"q\"]\n").unwrap();
    m.national_rule = NationalRule::MeanOfProvinces;
    const RELEASES: usize = 2000;
    const SE: f64 = 0.015;
    const DF: f64 = 400.0;
    let mut rng = Rng(20261206);
    let (mut any_false, mut unadjusted_calls) = (0usize, 0usize);
    for _ in 0..RELEASES {
        let mut rows: Vec<Aggregate> = Vec::new();
        let mut m_cells = HashMap::new();
        for p in 0..34 {
            let domain = format!("{:02}", p + 1);
            let estimate = 0.8 + SE * rng.normal();
            rows.push(Aggregate {
                domain: domain.clone(),
                kind: AggregateKind::Node,
                code: "all".into(),
                n: 600,
                sum_w: Some(600.0),
                sum_wy: None,
                sum_wd: None,
            });
            rows.push(Aggregate {
                domain: domain.clone(),
                kind: AggregateKind::Item,
                code: "q".into(),
                n: 600,
                sum_w: None,
                sum_wy: Some(estimate * 1000.0),
                sum_wd: Some(1000.0),
            });
            for node in ["all", "q"] {
                m_cells.insert(
                    (domain.clone(), node.to_owned()),
                    Measured {
                        se: SE,
                        df: DF,
                        deff: 1.0,
                    },
                );
            }
        }
        let cells = publish(&rows, &m_cells, &m, None).unwrap();
        let provinces = cells
            .iter()
            .filter(|c| c.node == "all" && c.domain != "national_mean");
        let mut false_calls = 0;
        for c in provinces {
            let v = c.vs_national.unwrap();
            if v.tier != Tier::NotDistinguishable {
                false_calls += 1;
            }
            if v.p_value < 0.05 {
                unadjusted_calls += 1;
            }
        }
        any_false += usize::from(false_calls > 0);
    }
    let familywise = any_false as f64 / RELEASES as f64;
    let per_release = unadjusted_calls as f64 / RELEASES as f64;
    eprintln!(
        "{RELEASES} releases of 34 equal provinces: Holm called any tier in {familywise}; \
         unadjusted tests made {per_release} false calls per release"
    );
    // 2,000 releases: the binomial SE of a 5% rate is 0.5 points.
    assert!(
        familywise <= 0.065,
        "Holm: false calls in {familywise} of releases"
    );
    assert!(
        (1.4..2.0).contains(&per_release),
        "unadjusted: {per_release} false calls per release"
    );
}

/// Under the pooled rule the nation is Σ W_j × province j, W_j the province's share of the
/// statistic's weight (Σw of a node's respondents, Σw·d of an item, from the public
/// aggregates); a province's difference has variance (1 − W_i)² V_i + Σ_{j≠i} W_j² V_j. Redone
/// by hand from the published SEs and the aggregates.
#[test]
fn pooled_tiers_weigh_provinces_by_their_share_of_the_weight() {
    let mut m = methodology();
    m.national_rule = NationalRule::Pooled;
    let (stats, engine) = engine(&m);
    let rows = aggregates(&stats, &m).unwrap();
    let cells = publish(&rows, &measured(&engine), &m, None).unwrap();
    let mut checked = 0;
    for (node, kind) in [("sipas", AggregateKind::Node), ("p1", AggregateKind::Item)] {
        let national = cells
            .iter()
            .find(|c| c.domain == "national" && c.node == node)
            .unwrap();
        let provinces: Vec<&Cell> = cells
            .iter()
            .filter(|c| c.domain.len() == 2 && c.node == node)
            .collect();
        let weight = |domain: &str| -> f64 {
            let a = rows
                .iter()
                .find(|a| a.domain == domain && a.kind == kind && a.code == node)
                .unwrap();
            match kind {
                AggregateKind::Node => a.sum_w.unwrap(),
                AggregateKind::Item => a.sum_wd.unwrap(),
            }
        };
        let total: f64 = provinces.iter().map(|c| weight(&c.domain)).sum();
        for (i, cell) in provinces.iter().enumerate() {
            let variance: f64 = provinces
                .iter()
                .enumerate()
                .map(|(j, other)| {
                    let share = weight(&other.domain) / total;
                    let coefficient = if i == j { 1.0 - share } else { share };
                    coefficient * coefficient * other.se * other.se
                })
                .sum();
            let v = cell.vs_national.expect("tested");
            assert_eq!(v.se, round_to(variance.sqrt(), 4), "{node} {}", cell.domain);
            assert_eq!(
                v.difference,
                round_to(cell.estimate - national.estimate, 4),
                "{node} {}",
                cell.domain
            );
            checked += 1;
        }
        // An item's pooled figure is the provinces' weighted by those shares (to their
        // rounding); a node's is its items' pooled figures combined, which the node's shares
        // only approximate (docs/methodology.md).
        if kind == AggregateKind::Item {
            let pooled: f64 = provinces
                .iter()
                .map(|c| weight(&c.domain) / total * c.estimate)
                .sum();
            assert!(
                (pooled - national.estimate).abs() < 1e-4,
                "{node}: {pooled}"
            );
        }
    }
    assert_eq!(checked, 6);
}
