//! Estimation of every node of the index tree in every domain, with linearized variances,
//! intervals and reliability flags.
//!
//! An item's index is the ratio R_k = Σw·y_k / Σw·d_k; its influence score in PSU j is
//! z_kj = (wy_kj − R_k·wd_kj) / Σw·d_k. An inner node is Σ c_k R_k with the coefficients the
//! tree gives, so its score is Σ c_k z_kj — covariances between items come for free.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::StatsError;
use crate::ci::{IntervalInput, interval};
use crate::design::{Design, PsuScores, StratumAccumulator};
use crate::methodology::{Methodology, Reliability};
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
    /// Respondents: for an item those who answered it, for an inner node all in the domain.
    pub n: f64,
    /// Design degrees of freedom of the same rows.
    pub df: f64,
    /// A proportion between 0 and 1.
    pub estimate: f64,
    pub se: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// Kish's design effect against simple random sampling with replacement.
    pub deff: f64,
    /// `n / deff`.
    pub n_eff: f64,
    /// `se / estimate`.
    pub cv: f64,
    pub flag: Flag,
}

/// Estimate and variance of one statistic, with the rows it rests on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub estimate: f64,
    pub variance: f64,
    pub n: f64,
    pub df: f64,
}

/// Scores of one domain: ratios per item and z per (present PSU, item).
struct DomainScores<'a> {
    totals: &'a DomainTotals,
    ratio: Vec<f64>,
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
        Self { totals, ratio, z }
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
        finish(self.ratio[k], n as f64, design, acc, buf)
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

    fn node(
        &self,
        coefficients: &[(usize, f64)],
        design: &Design,
        acc: &mut StratumAccumulator,
        buf: &mut Vec<(u32, f64)>,
    ) -> Result<Estimate, StatsError> {
        let estimate = self.node_scores(coefficients, buf);
        let n = self.totals.rows.iter().sum::<u64>() as f64;
        finish(estimate, n, design, acc, buf)
    }
}

/// Variance and degrees of freedom of a statistic from its PSU scores over the present PSUs.
fn finish(
    estimate: f64,
    n: f64,
    design: &Design,
    acc: &mut StratumAccumulator,
    scores: &PsuScores,
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
        df: design.degrees_of_freedom(scores.iter().map(|(psu, _)| *psu)),
    })
}

/// A statistic to report: an inner node or an item, as coefficients over the data's item columns.
struct Statistic {
    code: String,
    coefficients: Vec<(usize, f64)>,
    is_item: bool,
}

/// Each subgroup's province domains, with their scores and estimates (for the mean of provinces).
type ProvinceScores<'a> =
    BTreeMap<Option<(String, String)>, Vec<(DomainScores<'a>, Vec<Estimate>)>>;

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
    let nodes = tree.nodes.iter().map(|(code, coefs)| Statistic {
        code: code.clone(),
        coefficients: coefs.iter().map(|&(k, c)| (columns[k], c)).collect(),
        is_item: false,
    });
    let items = tree.items.iter().zip(&columns).map(|(item, &k)| Statistic {
        code: item.clone(),
        coefficients: vec![(k, 1.0)],
        is_item: true,
    });
    let statistics: Vec<Statistic> = nodes.chain(items).collect();

    let mut acc = StratumAccumulator::new(design.strata.len());
    let mut buf = Vec::new();
    let mut cells = Vec::new();
    // Province scores kept per subgroup for the mean of provinces.
    let mut province_scores: ProvinceScores<'_> = BTreeMap::new();

    for (key, totals) in &stats.domains {
        let scores = DomainScores::new(totals);
        let mut estimates = Vec::with_capacity(statistics.len());
        for statistic in &statistics {
            let est = if statistic.is_item {
                scores.item(statistic.coefficients[0].0, design, &mut acc, &mut buf)?
            } else {
                scores.node(&statistic.coefficients, design, &mut acc, &mut buf)?
            };
            cells.push(make_cell(key, &statistic.code, est, methodology));
            estimates.push(est);
        }
        if matches!(key.area, Area::Province(_)) {
            province_scores
                .entry(key.subgroup.clone())
                .or_default()
                .push((scores, estimates));
        }
    }

    // The official national figure: the plain mean of the provinces, with the variance of that
    // linear combination (scores averaged PSU by PSU, so any design is handled exactly).
    let mut dense = vec![0.0; design.n_psus()];
    let mut present = vec![false; design.n_psus()];
    for (subgroup, provinces) in &province_scores {
        let key = DomainKey {
            area: Area::NationalMean,
            subgroup: subgroup.clone(),
        };
        let p = provinces.len() as f64;
        for (s, statistic) in statistics.iter().enumerate() {
            let coefs = &statistic.coefficients;
            dense.iter_mut().for_each(|z| *z = 0.0);
            present.iter_mut().for_each(|x| *x = false);
            let mut estimate = 0.0;
            let mut n = 0.0;
            for (scores, estimates) in provinces {
                estimate += estimates[s].estimate / p;
                n += estimates[s].n;
                if statistic.is_item {
                    let k = coefs[0].0;
                    let t = scores.totals;
                    for pos in 0..t.n_present() {
                        if t.nd[pos * t.n_items + k] > 0 {
                            let psu = t.psus[pos] as usize;
                            dense[psu] += scores.z[pos * t.n_items + k] / p;
                            present[psu] = true;
                        }
                    }
                } else {
                    scores.node_scores(coefs, &mut buf);
                    for &(psu, z) in &buf {
                        dense[psu as usize] += z / p;
                        present[psu as usize] = true;
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
            let est = finish(estimate, n, design, &mut acc, &buf)?;
            cells.push(make_cell(&key, &statistic.code, est, methodology));
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
    let ci = interval(
        methodology.ci.method,
        IntervalInput {
            estimate: est.estimate,
            variance: est.variance,
            df: est.df,
            n: est.n,
            level: methodology.ci.level,
        },
    );
    let p = est.estimate;
    // Kish's deff with replacement: V over p(1−p)/(n−1), R's svyvar-based SRS variance.
    let deff = if est.n > 1.0 && p > 0.0 && p < 1.0 {
        est.variance / (p * (1.0 - p) / (est.n - 1.0))
    } else {
        f64::NAN
    };
    let n_eff = if deff > 0.0 { est.n / deff } else { est.n };
    let cv = if p > 0.0 { se / p } else { f64::NAN };
    let flag = flag(
        &methodology.reliability,
        &est,
        n_eff,
        cv,
        ci.high - ci.low,
        ci.degenerate,
    );
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
    }
}

fn flag(
    rules: &Reliability,
    est: &Estimate,
    n_eff: f64,
    cv: f64,
    width: f64,
    degenerate: bool,
) -> Flag {
    if est.estimate.is_nan() || est.n == 0.0 {
        Flag::NoData
    } else if est.n < rules.min_n || n_eff < rules.min_n_eff {
        Flag::Suppressed
    } else if degenerate
        || est.df < rules.min_df
        || cv > rules.max_cv
        || width > rules.max_ci_width
        || !width.is_finite()
    {
        Flag::LowPrecision
    } else {
        Flag::Ok
    }
}
