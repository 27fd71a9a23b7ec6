//! What a release publishes, and how anyone can check it from the public files alone
//! (docs/methodology.md, "Publication and public verification").
//!
//! A release publishes two tables:
//! - the **aggregates** ([`aggregates`]): per province and for the nation, per item the count of
//!   valid answers and the weighted sums Σw·y and Σw·d, and per inner node the respondents who
//!   answered any of its items and their Σw. They identify nobody (a province holds hundreds of
//!   respondents, and nothing is given per commune or subgroup).
//! - the **results** ([`publish`]): every cell rounded as published: estimates, interval ends,
//!   SEs and differences to 0.01 percentage points (four decimals of a proportion), design
//!   effects to two decimals, n_eff to a whole number, p-values to four decimals and the
//!   Satterthwaite df of a change to two.
//!
//! What the results take from the per-commune data (which stay with accredited access) is only
//! each cell's standard error, design df and design effect ([`Measured`]). Everything else is a
//! function of the aggregates and of those three published numbers, computed here:
//! - estimates: an item is Σw·y / Σw·d, a node Σ c_k R_k over its items, the pooled national
//!   figure the same on the national aggregates, the mean of provinces the plain mean;
//! - the SE of the mean of provinces, √(Σ se_p²) / P (provinces are independent samples);
//! - intervals, n_eff, CV and flags from the published estimate, SE, df, n and deff;
//! - each province against the nation: the difference from the national figure of the
//!   methodology's rule, with the variance of that difference from the published SEs, tested
//!   on the province's df and adjusted by Holm's method over the provinces tested;
//! - rank intervals (joint, Bonferroni over all pairs) from the published estimates and SEs;
//! - the change since last year from both years' published estimates, SEs and df
//!   (Satterthwaite), Holm-adjusted over the provinces.
//!
//! The engine publishes exactly what this module computes, so `sipas verify` — which runs the
//! same function on the downloaded files — reproduces every published number bit for bit.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};

use crate::StatsError;
use crate::ci::{IntervalInput, interval};
use crate::compare::{Change, RankScope, Unit, rank_intervals, t_test};
use crate::estimate::{
    Cell, Estimate, Flag, Standing, adjust_province_changes, assign_tiers, judge, testable_change,
};
use crate::methodology::{Methodology, NationalRule};
use crate::totals::{Area, DomainKey, SufficientStats};

/// Decimals of published proportions, SEs and differences: 0.01 percentage points.
pub const PROPORTION_DECIMALS: i32 = 4;
/// Decimals of published design effects.
pub const DEFF_DECIMALS: i32 = 2;
/// Decimals of published p-values.
pub const P_DECIMALS: i32 = 4;
/// Decimals of the published df of a change (Satterthwaite's are not whole).
pub const CHANGE_DF_DECIMALS: i32 = 2;

/// `x` rounded half away from zero to `decimals` places: the double nearest that decimal
/// number, so it prints (shortest round trip) as exactly those digits and parses back to itself.
pub fn round_to(x: f64, decimals: i32) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

/// What an aggregate row describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AggregateKind {
    Item,
    Node,
}

impl AggregateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AggregateKind::Item => "item",
            AggregateKind::Node => "node",
        }
    }
}

/// One row of the public aggregates.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    /// A province code or `national`.
    pub domain: String,
    pub kind: AggregateKind,
    pub code: String,
    /// Items: valid answers. Nodes: respondents who answered at least one of its items.
    pub n: u64,
    /// Nodes: Σw of those respondents.
    pub sum_w: Option<f64>,
    /// Items: Σw·y (satisfied) and Σw·d (answered).
    pub sum_wy: Option<f64>,
    pub sum_wd: Option<f64>,
}

pub const AGGREGATE_COLUMNS: [&str; 7] =
    ["domain", "kind", "code", "n", "sum_w", "sum_wy", "sum_wd"];

/// The aggregates of every province and the nation (no subgroups), in the order of the
/// results: provinces by code, then the nation; nodes in the methodology's order, then items.
/// Sums run over the domain's PSUs in the order the estimation sums them, so an estimate
/// recomputed from them is the engine's to the last bit.
pub fn aggregates(
    stats: &SufficientStats,
    methodology: &Methodology,
) -> Result<Vec<Aggregate>, StatsError> {
    let tree = methodology.compile()?;
    let column = |item: &str| {
        stats
            .items
            .iter()
            .position(|c| c == item)
            .ok_or_else(|| StatsError::Methodology(format!("item {item:?} is not in the data")))
    };
    let columns: Vec<usize> = tree
        .items
        .iter()
        .map(|i| column(i))
        .collect::<Result<_, _>>()?;
    let node_index: Vec<usize> = tree
        .nodes
        .iter()
        .map(|(code, _)| {
            stats.nodes.iter().position(|c| c == code).ok_or_else(|| {
                StatsError::Methodology(format!("node {code:?} has no counts in the totals"))
            })
        })
        .collect::<Result<_, _>>()?;
    let mut domains: Vec<(&DomainKey, _)> = stats
        .domains
        .iter()
        .filter(|(key, _)| key.subgroup.is_none() && !matches!(key.area, Area::NationalMean))
        .collect();
    domains.sort_by_key(|(key, _)| match &key.area {
        Area::Province(code) => (0, code.clone()),
        _ => (1, String::new()),
    });
    let mut rows = Vec::new();
    for (key, totals) in domains {
        let domain = key.area.to_string();
        for ((code, _), &g) in tree.nodes.iter().zip(&node_index) {
            let (mut n, mut w) = (0u64, 0.0);
            for pos in 0..totals.n_present() {
                n = n.saturating_add(totals.any_rows[pos * totals.n_nodes + g]);
                w += totals.any_w[pos * totals.n_nodes + g];
            }
            rows.push(Aggregate {
                domain: domain.clone(),
                kind: AggregateKind::Node,
                code: code.clone(),
                n,
                sum_w: Some(w),
                sum_wy: None,
                sum_wd: None,
            });
        }
        for (item, &k) in tree.items.iter().zip(&columns) {
            let k_n = totals.n_items;
            let (mut n, mut wy, mut wd) = (0u64, 0.0, 0.0);
            for pos in 0..totals.n_present() {
                n = n.saturating_add(totals.nd[pos * k_n + k]);
                wy += totals.wy[pos * k_n + k];
                wd += totals.wd[pos * k_n + k];
            }
            rows.push(Aggregate {
                domain: domain.clone(),
                kind: AggregateKind::Item,
                code: item.clone(),
                n,
                sum_w: None,
                sum_wy: Some(wy),
                sum_wd: Some(wd),
            });
        }
    }
    Ok(rows)
}

/// The aggregates as CSV (numbers in shortest round-trip form, so they read back exactly).
pub fn write_aggregates<W: Write>(rows: &[Aggregate], out: W) -> Result<(), StatsError> {
    let io = |e: csv::Error| StatsError::Csv(format!("cannot write the aggregates: {e}"));
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(AGGREGATE_COLUMNS).map_err(io)?;
    let real = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    for r in rows {
        writer
            .write_record([
                r.domain.clone(),
                r.kind.as_str().to_owned(),
                r.code.clone(),
                r.n.to_string(),
                real(r.sum_w),
                real(r.sum_wy),
                real(r.sum_wd),
            ])
            .map_err(io)?;
    }
    writer
        .flush()
        .map_err(|e| StatsError::Csv(format!("cannot write the aggregates: {e}")))
}

/// Reads aggregates written by [`write_aggregates`]; errors name the row and column.
pub fn read_aggregates<R: Read>(reader: R) -> Result<Vec<Aggregate>, StatsError> {
    let mut csv = csv::Reader::from_reader(reader);
    let headers: Vec<String> = csv
        .headers()
        .map_err(|e| StatsError::Csv(format!("aggregates: cannot read the header: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_owned())
        .collect();
    let at = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| StatsError::Input {
                row: 1,
                column: name.into(),
                message: "aggregates: required column is missing".into(),
            })
    };
    let cols: Vec<usize> = AGGREGATE_COLUMNS
        .iter()
        .map(|c| at(c))
        .collect::<Result<_, _>>()?;
    let mut rows = Vec::new();
    for (i, record) in csv.records().enumerate() {
        let row = i as u64 + 2;
        let record = record.map_err(|e| StatsError::Csv(format!("aggregates, row {row}: {e}")))?;
        let get = |c: usize| record.get(cols[c]).unwrap_or("").trim();
        let bad = |column: &str, message: String| StatsError::Input {
            row,
            column: column.into(),
            message,
        };
        let real = |c: usize| -> Result<Option<f64>, StatsError> {
            match get(c) {
                "" => Ok(None),
                text => text
                    .parse::<f64>()
                    .map(Some)
                    .map_err(|_| bad(AGGREGATE_COLUMNS[c], format!("{text:?} is not a number"))),
            }
        };
        let kind = match get(1) {
            "item" => AggregateKind::Item,
            "node" => AggregateKind::Node,
            other => return Err(bad("kind", format!("{other:?} is neither item nor node"))),
        };
        let n = get(3)
            .parse::<u64>()
            .map_err(|_| bad("n", format!("{:?} is not a whole number", get(3))))?;
        rows.push(Aggregate {
            domain: get(0).to_owned(),
            kind,
            code: get(2).to_owned(),
            n,
            sum_w: real(4)?,
            sum_wy: real(5)?,
            sum_wd: real(6)?,
        });
    }
    Ok(rows)
}

/// What a published cell takes from the per-commune data: its standard error, design degrees
/// of freedom and design effect (the mean of provinces' SE is derived instead).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    pub se: f64,
    pub df: f64,
    pub deff: f64,
}

/// The measured values of every cell of `cells` (the engine's, or a published table's), by
/// (domain, node); subgroup rows are left out.
pub fn measured(cells: &[Cell]) -> HashMap<(String, String), Measured> {
    cells
        .iter()
        .filter(|c| c.subgroup.is_empty())
        .map(|c| {
            (
                (c.domain.clone(), c.node.clone()),
                Measured {
                    se: c.se,
                    df: c.df,
                    deff: c.deff,
                },
            )
        })
        .collect()
}

/// A published statistic: its code, the items it weighs (index, coefficient), and whether it
/// is a node of the tree (else an item).
type Statistic = (String, Vec<(usize, f64)>, bool);
/// One domain's aggregates by kind and code.
type AggregatesByCode<'a> = HashMap<(AggregateKind, &'a str), &'a Aggregate>;

/// The published cells: provinces by code, the nation, the mean of provinces; in each, the
/// methodology's nodes in order, then its items. `previous` are last year's published cells
/// on this year's map (for the change columns).
pub fn publish(
    aggregates: &[Aggregate],
    measured: &HashMap<(String, String), Measured>,
    methodology: &Methodology,
    previous: Option<&[Cell]>,
) -> Result<Vec<Cell>, StatsError> {
    let tree = methodology.compile()?;
    let level = methodology.ci.level;
    // (code, item coefficients) of every statistic: nodes, then items.
    let statistics: Vec<Statistic> = tree
        .nodes
        .iter()
        .map(|(code, coefs)| (code.clone(), coefs.clone(), true))
        .chain(
            tree.items
                .iter()
                .enumerate()
                .map(|(k, item)| (item.clone(), vec![(k, 1.0)], false)),
        )
        .collect();
    // Aggregates by domain, in file order.
    let mut by_domain: BTreeMap<(u8, String), AggregatesByCode> = BTreeMap::new();
    for a in aggregates {
        let order = match a.domain.as_str() {
            "national" => (1, String::new()),
            code => (0, code.to_owned()),
        };
        by_domain
            .entry(order)
            .or_default()
            .insert((a.kind, a.code.as_str()), a);
    }
    let missing = |domain: &str, what: &str| {
        StatsError::Invalid(format!(
            "the aggregates of {domain} have no row for {what}: they do not fit this methodology"
        ))
    };
    let mut cells: Vec<Cell> = Vec::new();
    // Unrounded estimates per (domain, statistic), for the mean of provinces.
    let mut exact: Vec<Vec<f64>> = Vec::new();
    let mut province_domains: Vec<(String, usize)> = Vec::new();
    for ((_, code), rows) in &by_domain {
        let domain = if code.is_empty() {
            "national".to_owned()
        } else {
            code.clone()
        };
        let mut estimates = Vec::with_capacity(statistics.len());
        let first = cells.len();
        for (statistic, coefs, is_node) in &statistics {
            let ratio = |k: usize| -> Result<f64, StatsError> {
                let a = rows
                    .get(&(AggregateKind::Item, tree.items[k].as_str()))
                    .ok_or_else(|| missing(&domain, &tree.items[k]))?;
                let (wy, wd) = (a.sum_wy.unwrap_or(f64::NAN), a.sum_wd.unwrap_or(f64::NAN));
                Ok(if wd > 0.0 { wy / wd } else { f64::NAN })
            };
            let mut estimate = 0.0;
            for &(k, c) in coefs {
                estimate += c * ratio(k)?;
            }
            let kind = if *is_node {
                AggregateKind::Node
            } else {
                AggregateKind::Item
            };
            let n = rows
                .get(&(kind, statistic.as_str()))
                .ok_or_else(|| missing(&domain, statistic))?
                .n as f64;
            let m = measured
                .get(&(domain.clone(), statistic.clone()))
                .copied()
                .unwrap_or(Measured {
                    se: f64::NAN,
                    df: f64::NAN,
                    deff: f64::NAN,
                });
            estimates.push(estimate);
            cells.push(published_cell(
                &domain,
                statistic,
                estimate,
                n,
                m,
                methodology,
            ));
        }
        exact.push(estimates);
        if domain != "national" {
            province_domains.push((domain, first));
        }
    }
    // The mean of provinces: the plain mean of the provinces' estimates, with the variance of
    // a mean of independent samples from their published SEs.
    let provinces = province_domains.len();
    let p = provinces as f64;
    let mut mean_cells = Vec::with_capacity(statistics.len());
    for (s, (statistic, _, _)) in statistics.iter().enumerate() {
        let mut estimate = 0.0;
        let mut variance = 0.0;
        let mut n = 0.0;
        for (i, (_, first)) in province_domains.iter().enumerate() {
            estimate += exact[i][s] / p;
            let se = cells[first + s].se;
            variance += se * se / (p * p);
            n += cells[first + s].n;
        }
        let m = measured
            .get(&("national_mean".to_owned(), statistic.clone()))
            .copied()
            .unwrap_or(Measured {
                se: f64::NAN,
                df: f64::NAN,
                deff: f64::NAN,
            });
        let derived = Measured {
            se: variance.sqrt(),
            ..m
        };
        mean_cells.push(published_cell(
            "national_mean",
            statistic,
            estimate,
            n,
            derived,
            methodology,
        ));
    }
    cells.extend(mean_cells);
    let mean_first = cells.len() - statistics.len();
    let national_first = province_domains
        .len()
        .checked_mul(statistics.len())
        .filter(|&i| i < mean_first && cells[i].domain == "national");

    // Provinces against the nation, and their ranks.
    for (s, (statistic, _, is_node)) in statistics.iter().enumerate() {
        let reference = match methodology.national_rule {
            NationalRule::MeanOfProvinces => Some(&cells[mean_first + s]),
            NationalRule::Pooled => national_first.map(|i| &cells[i + s]),
        };
        let Some(reference) = reference.filter(|c| c.estimate.is_finite()).cloned() else {
            continue;
        };
        // Pooled: the nation is Σ_j W_j × province j, W_j the province's share of the weight
        // of the statistic's respondents (Σw·d of an item, Σw of a node's respondents).
        let shares: Vec<f64> = match methodology.national_rule {
            NationalRule::MeanOfProvinces => vec![1.0 / p; provinces],
            NationalRule::Pooled => {
                let weight = |domain: &str| -> f64 {
                    let (kind, code) = if *is_node {
                        (AggregateKind::Node, statistic.as_str())
                    } else {
                        (AggregateKind::Item, statistic.as_str())
                    };
                    aggregates
                        .iter()
                        .find(|a| a.domain == domain && a.kind == kind && a.code == code)
                        .and_then(|a| if *is_node { a.sum_w } else { a.sum_wd })
                        .unwrap_or(0.0)
                };
                let w: Vec<f64> = province_domains.iter().map(|(d, _)| weight(d)).collect();
                let total: f64 = w.iter().sum();
                w.iter().map(|x| x / total).collect()
            }
        };
        let mut tested = Vec::new();
        for (i, (_, first)) in province_domains.iter().enumerate() {
            let cell = &cells[first + s];
            if !publishable(cell) {
                continue;
            }
            // Var(province − Σ_j W_j province_j) with independent provinces.
            let mut variance = 0.0;
            for (j, (_, other)) in province_domains.iter().enumerate() {
                let se = cells[other + s].se;
                let coefficient = if i == j { 1.0 - shares[j] } else { shares[j] };
                if se.is_finite() {
                    variance += coefficient * coefficient * se * se;
                }
            }
            let exact = t_test(cell.estimate - reference.estimate, variance, cell.df, level);
            tested.push((first + s, as_published(&exact, level)));
        }
        assign_tiers(&mut cells, &tested, level, Some(P_DECIMALS));
        let ranked: Vec<usize> = province_domains
            .iter()
            .map(|(_, first)| first + s)
            .filter(|&i| publishable(&cells[i]))
            .collect();
        let units: Vec<Unit> = ranked
            .iter()
            .map(|&i| Unit {
                id: cells[i].domain.clone(),
                estimate: cells[i].estimate,
                se: cells[i].se,
                df: cells[i].df,
            })
            .collect();
        for (&i, r) in ranked
            .iter()
            .zip(rank_intervals(&units, level, RankScope::Joint))
        {
            cells[i].standing = Some(Standing {
                rank: r.rank,
                best: r.best,
                worst: r.worst,
                of: units.len(),
            });
        }
    }

    if let Some(previous) = previous {
        let before: HashMap<(&str, &str), &Cell> = previous
            .iter()
            .filter(|c| c.subgroup.is_empty() && publishable(c))
            .map(|c| ((c.domain.as_str(), c.node.as_str()), c))
            .collect();
        for cell in cells.iter_mut().filter(|c| publishable(c)) {
            let Some(old) = before.get(&(cell.domain.as_str(), cell.node.as_str())) else {
                continue;
            };
            let unit = |c: &Cell| Unit {
                id: String::new(),
                estimate: c.estimate,
                se: c.se,
                df: c.df,
            };
            cell.change =
                testable_change(&unit(old), &unit(cell), level).map(|c| as_published(&c, level));
        }
        adjust_province_changes(&mut cells, level, Some(P_DECIMALS));
    }
    for cell in &mut cells {
        round_derived(cell);
    }
    Ok(cells)
}

/// A test as published, made again from its published numbers: the difference and its SE
/// rounded like proportions, the df to two places; t, p and the interval from those, p rounded
/// (so anyone with the published difference, SE and df gets the same p, and Holm's adjustment
/// is made on the published p-values).
fn as_published(exact: &Change, level: f64) -> Change {
    let difference = round_to(exact.difference, PROPORTION_DECIMALS);
    let se = round_to(exact.se, PROPORTION_DECIMALS);
    let df = round_to(exact.df, CHANGE_DF_DECIMALS);
    let test = t_test(difference, se * se, df, level);
    let p_value = round_to(test.p_value, P_DECIMALS);
    Change {
        p_value,
        p_holm: p_value,
        significant: p_value < 1.0 - level,
        ..test
    }
}

/// A cell from its estimate, respondents and measured values, rounded as published; interval,
/// n_eff, CV and flag from the rounded numbers.
fn published_cell(
    domain: &str,
    node: &str,
    estimate: f64,
    n: f64,
    measured: Measured,
    methodology: &Methodology,
) -> Cell {
    let estimate = round_to(estimate, PROPORTION_DECIMALS);
    let se = round_to(measured.se, PROPORTION_DECIMALS);
    let deff = round_to(measured.deff, DEFF_DECIMALS);
    let df = measured.df;
    let variance = se * se;
    let input = IntervalInput {
        estimate,
        variance,
        df,
        n,
        level: methodology.ci.level,
    };
    let ci = interval(methodology.ci.method, input);
    let n_eff = if deff > 1.0 { n / deff } else { n };
    let n_eff = if n_eff.is_finite() {
        n_eff.round()
    } else {
        n_eff
    };
    let cv = if estimate > 0.0 {
        se / estimate
    } else {
        f64::NAN
    };
    let est = Estimate {
        estimate,
        variance,
        n,
        df,
        weight: f64::NAN,
        ss: f64::NAN,
    };
    let (flag, note) = judge(&methodology.reliability, &est, n_eff, cv, &ci, input);
    Cell {
        domain: domain.to_owned(),
        subgroup: String::new(),
        node: node.to_owned(),
        n,
        df,
        estimate,
        se,
        ci_low: round_to(ci.low, PROPORTION_DECIMALS),
        ci_high: round_to(ci.high, PROPORTION_DECIMALS),
        deff,
        n_eff,
        cv: round_to(cv, PROPORTION_DECIMALS),
        flag,
        note,
        standing: None,
        vs_national: None,
        change: None,
    }
}

/// Rounds what is left of the derived numbers (t and the interval ends; the tests were made
/// on the published difference, SE and df by [`as_published`], and decided on rounded p).
fn round_derived(cell: &mut Cell) {
    if let Some(v) = cell.vs_national.as_mut() {
        v.difference = round_to(v.difference, PROPORTION_DECIMALS);
        v.se = round_to(v.se, PROPORTION_DECIMALS);
        v.p_value = round_to(v.p_value, P_DECIMALS);
        v.p_holm = round_to(v.p_holm, P_DECIMALS);
    }
    if let Some(c) = cell.change.as_mut() {
        c.difference = round_to(c.difference, PROPORTION_DECIMALS);
        c.se = round_to(c.se, PROPORTION_DECIMALS);
        c.df = round_to(c.df, CHANGE_DF_DECIMALS);
        c.t = round_to(c.t, P_DECIMALS);
        c.p_value = round_to(c.p_value, P_DECIMALS);
        c.p_holm = round_to(c.p_holm, P_DECIMALS);
        c.ci_low = round_to(c.ci_low, PROPORTION_DECIMALS);
        c.ci_high = round_to(c.ci_high, PROPORTION_DECIMALS);
    }
}

fn publishable(cell: &Cell) -> bool {
    matches!(cell.flag, Flag::Ok | Flag::LowPrecision) && cell.se.is_finite()
}
