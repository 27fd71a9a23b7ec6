//! Estimation of every node of the index tree in every domain, with linearized variances,
//! intervals and reliability flags.
//!
//! An item's index is the ratio R_k = Σw·y_k / Σw·d_k; its influence score in PSU j is
//! z_kj = (wy_kj − R_k·wd_kj) / Σw·d_k. An inner node is Σ c_k R_k with the coefficients the
//! tree gives, so its score is Σ c_k z_kj — covariances between items come for free.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::StatsError;
use crate::ci::{Interval, IntervalInput, interval, korn_graubard_nchs};
use crate::design::{Design, PsuScores, StratumAccumulator};
use crate::methodology::{FlagRule, Methodology, Reliability};
use crate::totals::{Area, DomainKey, DomainTotals, SufficientStats};

/// How a cell may be published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    Ok,
    /// Publish with a mark: few degrees of freedom, a large CV or interval, or an estimate at
    /// 0 or 1 (exact fallback interval).
    LowPrecision,
    /// Too few (effective) respondents: do not publish the number.
    Suppressed,
    /// No valid answers: nothing to publish.
    NoData,
    /// Computed from self-selected respondents (the open link): no design-based interval is
    /// valid; never published or ranked as SIPAS.
    NonProbability,
}

impl Flag {
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::Ok => "ok",
            Flag::LowPrecision => "low_precision",
            Flag::Suppressed => "suppressed",
            Flag::NoData => "no_data",
            Flag::NonProbability => "non_probability",
        }
    }
}

/// One published number: a node (or item) in a domain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    pub domain: String,
    pub subgroup: String,
    pub node: String,
    /// Respondents: for an item those who answered it, for an inner node those who answered at
    /// least one of its items.
    pub n: f64,
    /// Design degrees of freedom of the same rows.
    pub df: f64,
    /// A proportion between 0 and 1.
    pub estimate: f64,
    pub se: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// Design effect against simple random sampling with replacement, as R's
    /// `svytotal(u, deff = "replace")` on the statistic's linearized score u.
    pub deff: f64,
    /// `n / max(deff, 1)`: never more than n.
    pub n_eff: f64,
    /// `se / estimate`.
    pub cv: f64,
    pub flag: Flag,
    /// Why a cell is flagged, in words (empty when it is `ok`).
    pub note: String,
}

/// Estimate and variance of one statistic, with the rows it rests on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub estimate: f64,
    pub variance: f64,
    pub n: f64,
    pub df: f64,
    /// Σw of the rows it rests on (the estimated population N̂ of the SRS reference).
    pub weight: f64,
    /// Σ w·u² of its linearized score u (zero mean over those rows).
    pub ss: f64,
}

impl Estimate {
    /// V over the with-replacement SRS variance of the same statistic, N̂·Σw·u²/(n − 1).
    pub fn deff(&self) -> f64 {
        let srs = self.weight * self.ss / (self.n - 1.0);
        if self.n > 1.0 && srs > 0.0 && self.variance.is_finite() {
            self.variance / srs
        } else {
            f64::NAN
        }
    }
}

/// Scores of one domain: ratios per item and z per (present PSU, item).
struct DomainScores<'a> {
    totals: &'a DomainTotals,
    ratio: Vec<f64>,
    /// Σw·d per item over the domain.
    wd: Vec<f64>,
    z: Vec<f64>,
}

impl<'a> DomainScores<'a> {
    fn new(totals: &'a DomainTotals) -> Self {
        let k_n = totals.n_items;
        let mut wy = vec![0.0; k_n];
        let mut wd = vec![0.0; k_n];
        for pos in 0..totals.n_present() {
            for k in 0..k_n {
                wy[k] += totals.wy[pos * k_n + k];
                wd[k] += totals.wd[pos * k_n + k];
            }
        }
        let ratio: Vec<f64> = wy
            .iter()
            .zip(&wd)
            .map(|(y, d)| if *d > 0.0 { y / d } else { f64::NAN })
            .collect();
        let mut z = vec![0.0; totals.n_present() * k_n];
        for pos in 0..totals.n_present() {
            for k in 0..k_n {
                let i = pos * k_n + k;
                if wd[k] > 0.0 {
                    z[i] = (totals.wy[i] - ratio[k] * totals.wd[i]) / wd[k];
                }
            }
        }
        Self {
            totals,
            ratio,
            wd,
            z,
        }
    }

    fn item(
        &self,
        k: usize,
        design: &Design,
        acc: &mut StratumAccumulator,
        buf: &mut Vec<(u32, f64)>,
    ) -> Result<Estimate, StatsError> {
        let t = self.totals;
        let k_n = t.n_items;
        buf.clear();
        let mut n = 0u64;
        for pos in 0..t.n_present() {
            let nd = t.nd[pos * k_n + k];
            if nd > 0 {
                n += nd;
                buf.push((t.psus[pos], self.z[pos * k_n + k]));
            }
        }
        let r = self.ratio[k];
        let mut est = finish(r, n as f64, design, acc, buf, buf.iter().map(|(p, _)| *p))?;
        // u = d·(y − R)/D: Σw·u² = R(1 − R)/D for a 0/1 item.
        est.weight = self.wd[k];
        est.ss = r * (1.0 - r) / self.wd[k];
        Ok(est)
    }

    /// Fills `buf` with the node's PSU scores over all present PSUs.
    fn node_scores(&self, coefficients: &[(usize, f64)], buf: &mut Vec<(u32, f64)>) -> f64 {
        let t = self.totals;
        let k_n = t.n_items;
        let estimate: f64 = coefficients.iter().map(|&(k, c)| c * self.ratio[k]).sum();
        buf.clear();
        for pos in 0..t.n_present() {
            let z: f64 = coefficients
                .iter()
                .map(|&(k, c)| c * self.z[pos * k_n + k])
                .sum();
            buf.push((t.psus[pos], z));
        }
        estimate
    }

    /// Σw·u² of the node's score u = Σ c_k·d_k·(y_k − R_k)/D_k.
    fn node_ss(&self, coefficients: &[(usize, f64)]) -> f64 {
        let scaled: Vec<(usize, f64)> = coefficients
            .iter()
            .map(|&(k, c)| (k, c / self.wd[k]))
            .collect();
        self.totals
            .moments
            .residual_sum_of_squares(&scaled, &self.ratio)
    }

    /// An inner node over the rows that answered at least one of its items (node `g`).
    fn node(
        &self,
        coefficients: &[(usize, f64)],
        g: usize,
        design: &Design,
        acc: &mut StratumAccumulator,
        buf: &mut Vec<(u32, f64)>,
    ) -> Result<Estimate, StatsError> {
        let t = self.totals;
        let estimate = self.node_scores(coefficients, buf);
        let mut n = 0u64;
        let mut weight = 0.0;
        for pos in 0..t.n_present() {
            n += t.any_rows[pos * t.n_nodes + g];
            weight += t.any_w[pos * t.n_nodes + g];
        }
        let answering = (0..t.n_present())
            .filter(|&pos| t.any_rows[pos * t.n_nodes + g] > 0)
            .map(|pos| t.psus[pos]);
        let mut est = finish(estimate, n as f64, design, acc, buf, answering)?;
        est.weight = weight;
        est.ss = self.node_ss(coefficients);
        Ok(est)
    }
}

/// Variance of a statistic from its PSU scores, and the df of the PSUs whose rows it rests on.
fn finish(
    estimate: f64,
    n: f64,
    design: &Design,
    acc: &mut StratumAccumulator,
    scores: &PsuScores,
    psus_with_rows: impl IntoIterator<Item = u32>,
) -> Result<Estimate, StatsError> {
    let variance = if estimate.is_nan() {
        f64::NAN
    } else {
        acc.variance(design, scores)?
    };
    Ok(Estimate {
        estimate,
        variance,
        n,
        df: design.degrees_of_freedom(psus_with_rows),
        weight: f64::NAN,
        ss: f64::NAN,
    })
}

/// A statistic to report: an inner node or an item, as coefficients over the data's item columns.
struct Statistic {
    code: String,
    coefficients: Vec<(usize, f64)>,
    /// For an inner node, its index in [`SufficientStats::nodes`]; `None` for an item.
    node: Option<usize>,
}

/// Each subgroup's province domains, with their scores and estimates (for the mean of provinces).
type ProvinceScores<'a> =
    BTreeMap<Option<(String, String)>, Vec<(&'a str, DomainScores<'a>, Vec<Estimate>)>>;

/// Everything `estimate_all` produces, in publication order.
pub struct Results {
    pub cells: Vec<Cell>,
}

/// Estimates every inner node and item in every domain of `stats`, plus the mean of provinces.
pub fn estimate_all(
    stats: &SufficientStats,
    methodology: &Methodology,
) -> Result<Results, StatsError> {
    let tree = methodology.compile()?;
    let design = &stats.design;
    // Map the tree's items onto the columns of the totals.
    let columns: Vec<usize> =
        tree.items
            .iter()
            .map(|item| {
                stats.items.iter().position(|c| c == item).ok_or_else(|| {
                    StatsError::Methodology(format!("item {item:?} is not in the data"))
                })
            })
            .collect::<Result<_, _>>()?;
    // Statistics to report: inner nodes, then items, each as coefficients over data columns.
    let mut statistics = Vec::new();
    for (code, coefs) in &tree.nodes {
        let node = stats.nodes.iter().position(|c| c == code).ok_or_else(|| {
            StatsError::Methodology(format!("node {code:?} has no counts in the totals"))
        })?;
        statistics.push(Statistic {
            code: code.clone(),
            coefficients: coefs.iter().map(|&(k, c)| (columns[k], c)).collect(),
            node: Some(node),
        });
    }
    for (item, &k) in tree.items.iter().zip(&columns) {
        statistics.push(Statistic {
            code: item.clone(),
            coefficients: vec![(k, 1.0)],
            node: None,
        });
    }

    let mut acc = StratumAccumulator::new(design.strata.len());
    let mut buf = Vec::new();
    let mut cells = Vec::new();
    // Province scores kept per subgroup for the mean of provinces.
    let mut province_scores: ProvinceScores<'_> = BTreeMap::new();

    for (key, totals) in &stats.domains {
        let scores = DomainScores::new(totals);
        let mut estimates = Vec::with_capacity(statistics.len());
        for statistic in &statistics {
            let est = match statistic.node {
                None => scores.item(statistic.coefficients[0].0, design, &mut acc, &mut buf)?,
                Some(g) => scores.node(&statistic.coefficients, g, design, &mut acc, &mut buf)?,
            };
            cells.push(make_cell(key, &statistic.code, est, methodology));
            estimates.push(est);
        }
        if let Area::Province(code) = &key.area {
            province_scores
                .entry(key.subgroup.clone())
                .or_default()
                .push((code.as_str(), scores, estimates));
        }
    }

    // The official national figure: the plain mean of the provinces, with the variance of that
    // linear combination (scores averaged PSU by PSU, so any design is handled exactly).
    let all_provinces: Vec<&str> = province_scores
        .get(&None)
        .map(|p| p.iter().map(|(code, _, _)| *code).collect())
        .unwrap_or_default();
    let mut dense = vec![0.0; design.n_psus()];
    let mut present = vec![false; design.n_psus()];
    let mut with_rows = vec![false; design.n_psus()];
    for (subgroup, provinces) in &province_scores {
        let key = DomainKey {
            area: Area::NationalMean,
            subgroup: subgroup.clone(),
        };
        // A mean over fewer provinces is another quantity: say which are missing.
        let missing: Vec<&str> = all_provinces
            .iter()
            .filter(|code| !provinces.iter().any(|(c, _, _)| c == *code))
            .copied()
            .collect();
        let p = provinces.len() as f64;
        for (s, statistic) in statistics.iter().enumerate() {
            let coefs = &statistic.coefficients;
            dense.iter_mut().for_each(|z| *z = 0.0);
            present.iter_mut().for_each(|x| *x = false);
            with_rows.iter_mut().for_each(|x| *x = false);
            let (mut estimate, mut n, mut weight, mut ss) = (0.0, 0.0, 0.0, 0.0);
            for (_, scores, estimates) in provinces {
                let e = &estimates[s];
                estimate += e.estimate / p;
                n += e.n;
                weight += e.weight;
                // Provinces are disjoint sets of rows: the scores' squares add.
                ss += e.ss / (p * p);
                let t = scores.totals;
                match statistic.node {
                    None => {
                        let k = coefs[0].0;
                        for pos in 0..t.n_present() {
                            if t.nd[pos * t.n_items + k] > 0 {
                                let psu = t.psus[pos] as usize;
                                dense[psu] += scores.z[pos * t.n_items + k] / p;
                                present[psu] = true;
                                with_rows[psu] = true;
                            }
                        }
                    }
                    Some(g) => {
                        scores.node_scores(coefs, &mut buf);
                        for (pos, &(psu, z)) in buf.iter().enumerate() {
                            dense[psu as usize] += z / p;
                            present[psu as usize] = true;
                            if t.any_rows[pos * t.n_nodes + g] > 0 {
                                with_rows[psu as usize] = true;
                            }
                        }
                    }
                }
            }
            buf.clear();
            buf.extend(
                present
                    .iter()
                    .enumerate()
                    .filter(|(_, on)| **on)
                    .map(|(psu, _)| (psu as u32, dense[psu])),
            );
            let psus_with_rows = with_rows
                .iter()
                .enumerate()
                .filter(|(_, on)| **on)
                .map(|(psu, _)| psu as u32);
            let mut est = finish(estimate, n, design, &mut acc, &buf, psus_with_rows)?;
            est.weight = weight;
            est.ss = ss;
            let mut cell = make_cell(&key, &statistic.code, est, methodology);
            if !missing.is_empty() && cell.flag != Flag::NoData {
                cell.flag = Flag::Suppressed;
                cell.note = format!(
                    "not a national figure: no respondents in province(s) {}",
                    missing.join(", ")
                );
            }
            cells.push(cell);
        }
    }
    cells.sort_by(|a, b| {
        order_key(&a.domain)
            .cmp(&order_key(&b.domain))
            .then_with(|| a.subgroup.cmp(&b.subgroup))
    });
    Ok(Results { cells })
}

/// Provinces by code, then the two national rows.
fn order_key(domain: &str) -> (u8, &str) {
    match domain {
        "national" => (1, ""),
        "national_mean" => (2, ""),
        code => (0, code),
    }
}

/// Interval, design effect and flag for one estimate.
pub fn make_cell(key: &DomainKey, node: &str, est: Estimate, methodology: &Methodology) -> Cell {
    let se = est.variance.sqrt();
    let level = methodology.ci.level;
    let input = IntervalInput {
        estimate: est.estimate,
        variance: est.variance,
        df: est.df,
        n: est.n,
        level,
    };
    let ci = interval(methodology.ci.method, input);
    let p = est.estimate;
    let deff = est.deff();
    // An effective size above the respondents would credit the design with more information
    // than was collected (NCHS: deff below 1 counts as 1).
    let n_eff = if deff > 1.0 { est.n / deff } else { est.n };
    let cv = if p > 0.0 { se / p } else { f64::NAN };
    let (flag, note) = judge(&methodology.reliability, &est, n_eff, cv, &ci, input);
    Cell {
        domain: key.area.to_string(),
        subgroup: key.subgroup_label(),
        node: node.to_owned(),
        n: est.n,
        df: est.df,
        estimate: p,
        se,
        ci_low: ci.low,
        ci_high: ci.high,
        deff,
        n_eff,
        cv,
        flag,
        note,
    }
}

/// The flag of a cell and the reason, by the methodology's rule set.
fn judge(
    rules: &Reliability,
    est: &Estimate,
    n_eff: f64,
    cv: f64,
    ci: &Interval,
    input: IntervalInput,
) -> (Flag, String) {
    let p = est.estimate;
    if p.is_nan() || est.n == 0.0 {
        return (Flag::NoData, "no valid answers".into());
    }
    if est.df.is_nan() || est.df < 1.0 {
        return (
            Flag::Suppressed,
            format!("{} degrees of freedom: no interval can be computed", est.df),
        );
    }
    if est.variance <= 0.0 && p > 0.0 && p < 1.0 {
        return (
            Flag::Suppressed,
            "zero estimated variance for a proportion strictly between 0 and 1".into(),
        );
    }
    match rules.rule {
        FlagRule::Nchs => nchs(est, n_eff, input),
        FlagRule::Thresholds => {
            let width = ci.high - ci.low;
            if est.n < rules.min_n {
                (Flag::Suppressed, format!("n = {} < {}", est.n, rules.min_n))
            } else if n_eff < rules.min_n_eff {
                (
                    Flag::Suppressed,
                    format!("effective n = {n_eff:.1} < {}", rules.min_n_eff),
                )
            } else if ci.degenerate {
                (Flag::LowPrecision, "estimate at 0 or 1".into())
            } else if est.df < rules.min_df {
                (
                    Flag::LowPrecision,
                    format!("df = {} < {}", est.df, rules.min_df),
                )
            } else if cv > rules.max_cv {
                (
                    Flag::LowPrecision,
                    format!("cv = {cv:.3} > {}", rules.max_cv),
                )
            } else if width.is_nan() || width > rules.max_ci_width {
                (
                    Flag::LowPrecision,
                    format!("interval width {width:.3} > {}", rules.max_ci_width),
                )
            } else {
                (Flag::Ok, String::new())
            }
        }
    }
}

/// The NCHS Data Presentation Standards for Proportions (Parker et al. 2017), in order: sample
/// size and effective sample size, Korn–Graubard interval width (absolute, then relative),
/// degrees of freedom, estimates at 0 or 1.
fn nchs(est: &Estimate, n_eff: f64, input: IntervalInput) -> (Flag, String) {
    let p = est.estimate;
    if est.n < NCHS_MIN_N {
        return (Flag::Suppressed, format!("n = {} < {NCHS_MIN_N}", est.n));
    }
    if n_eff < NCHS_MIN_N {
        return (
            Flag::Suppressed,
            format!("effective n = {n_eff:.1} < {NCHS_MIN_N}"),
        );
    }
    let kg = korn_graubard_nchs(input);
    let width = kg.high - kg.low;
    if width.is_nan() || width >= NCHS_MAX_WIDTH {
        return (
            Flag::Suppressed,
            format!("Korn–Graubard interval width {width:.3} ≥ {NCHS_MAX_WIDTH}"),
        );
    }
    if width > NCHS_SMALL_WIDTH && p > 0.0 && width / p > NCHS_MAX_RELATIVE_WIDTH {
        return (
            Flag::Suppressed,
            format!(
                "relative Korn–Graubard width {:.0}% > {:.0}%",
                100.0 * width / p,
                100.0 * NCHS_MAX_RELATIVE_WIDTH
            ),
        );
    }
    if est.df < NCHS_MIN_DF {
        return (
            Flag::LowPrecision,
            format!("df = {} < {NCHS_MIN_DF}: statistical review", est.df),
        );
    }
    if p <= 0.0 || p >= 1.0 {
        return (
            Flag::LowPrecision,
            "estimate at 0 or 1: statistical review".into(),
        );
    }
    // The complement (the dissatisfied share) is read off the same table: say if it would fail.
    if width > NCHS_SMALL_WIDTH && width / (1.0 - p) > NCHS_MAX_RELATIVE_WIDTH {
        return (
            Flag::Ok,
            "the complement (1 − p) would not meet the relative width standard".into(),
        );
    }
    (Flag::Ok, String::new())
}

const NCHS_MIN_N: f64 = 30.0;
const NCHS_MAX_WIDTH: f64 = 0.30;
const NCHS_SMALL_WIDTH: f64 = 0.05;
const NCHS_MAX_RELATIVE_WIDTH: f64 = 1.30;
const NCHS_MIN_DF: f64 = 8.0;

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(p: f64, se: f64, n: f64, df: f64) -> Cell {
        let key = DomainKey {
            area: Area::Province("01".into()),
            subgroup: None,
        };
        // Unit weights: Σw·u² = p(1 − p)/n, the SRS reference of a proportion.
        let est = Estimate {
            estimate: p,
            variance: se * se,
            n,
            df,
            weight: n,
            ss: p * (1.0 - p) / n,
        };
        make_cell(
            &key,
            "x",
            est,
            &Methodology::from_toml("[[nodes]]\ncode = \"a\"\nchildren = [\"b\"]\n").unwrap(),
        )
    }

    #[test]
    fn nchs_standards_suppress_and_mark_in_order() {
        assert_eq!(cell(0.7, 0.02, 500.0, 40.0).flag, Flag::Ok);
        // Fewer than 30 respondents.
        let few = cell(0.7, 0.02, 25.0, 20.0);
        assert_eq!(few.flag, Flag::Suppressed);
        assert!(few.note.contains("n = 25"), "{}", few.note);
        // Effective n below 30: deff = 5 on 100 respondents.
        let mut clustered = cell(0.7, 0.1, 100.0, 20.0);
        assert!((clustered.deff - clustered.se.powi(2) / (0.21 / 99.0)).abs() < 1e-9);
        assert_eq!(clustered.flag, Flag::Suppressed);
        assert_eq!(clustered.n_eff, 100.0 / clustered.deff);
        clustered = cell(0.5, 0.1, 100.0, 20.0);
        assert_eq!(clustered.flag, Flag::Suppressed);
        assert!(clustered.note.contains("effective n"), "{}", clustered.note);
        // Korn–Graubard width ≥ 0.30.
        let wide = cell(0.5, 0.08, 400.0, 30.0);
        assert_eq!(wide.flag, Flag::Suppressed, "{}", wide.note);
        assert!(wide.note.contains("width"), "{}", wide.note);
        // Relative width above 130%: p = 0.05, width ≈ 0.08.
        let small = cell(0.05, 0.02, 400.0, 30.0);
        assert_eq!(small.flag, Flag::Suppressed, "{}", small.note);
        assert!(small.note.contains("relative"), "{}", small.note);
        // Few degrees of freedom: presented, marked for review.
        let few_df = cell(0.7, 0.02, 500.0, 5.0);
        assert_eq!(few_df.flag, Flag::LowPrecision);
        assert!(few_df.note.contains("df = 5"), "{}", few_df.note);
        // All satisfied: presented, marked for review, with the Korn–Graubard fallback interval.
        let all = cell(1.0, 0.0, 500.0, 40.0);
        assert_eq!(all.flag, Flag::LowPrecision);
        assert!(all.ci_low < 1.0 && all.ci_high == 1.0);
        // No degrees of freedom, or no variance for 0 < p < 1: suppressed, no interval.
        let no_df = cell(0.7, 0.02, 500.0, 0.0);
        assert_eq!(no_df.flag, Flag::Suppressed);
        assert!(no_df.ci_low.is_nan());
        let no_var = cell(0.7, 0.0, 500.0, 40.0);
        assert_eq!(no_var.flag, Flag::Suppressed);
        assert!(no_var.ci_low.is_nan());
    }

    #[test]
    fn n_eff_never_exceeds_n() {
        // deff below 1 (a stratified design can beat SRS): n_eff stays n.
        let c = cell(0.7, 0.01, 500.0, 40.0);
        assert!(c.deff < 1.0);
        assert_eq!(c.n_eff, 500.0);
    }
}
