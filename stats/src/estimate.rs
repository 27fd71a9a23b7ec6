//! Estimation of every node of the index tree in every domain, with linearized variances,
//! intervals and reliability flags.
//!
//! An item's index is the ratio R_k = Σw·y_k / Σw·d_k; its influence score in PSU j is
//! z_kj = (wy_kj − R_k·wd_kj) / Σw·d_k. An inner node is Σ c_k R_k with the coefficients the
//! tree gives, so its score is Σ c_k z_kj — covariances between items come for free.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::StatsError;
use crate::calibration::{Calibration, invert};
use crate::ci::{Interval, IntervalInput, interval, korn_graubard_nchs};
use crate::compare::{Change, RankScope, Unit, change, rank_intervals, t_test};
use crate::design::{Design, Fpc, LonelyPsu, StratumAccumulator};
use crate::methodology::{CompiledTree, FlagRule, Methodology, NationalRule, Reliability};
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
    /// The flag written as [`Flag::as_str`] writes it.
    pub fn parse(text: &str) -> Option<Self> {
        [
            Flag::Ok,
            Flag::LowPrecision,
            Flag::Suppressed,
            Flag::NoData,
            Flag::NonProbability,
        ]
        .into_iter()
        .find(|f| f.as_str() == text)
    }

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
    /// Province cells of the whole sample (no subgroup) that may be published: the rank
    /// interval among the provinces.
    pub standing: Option<Standing>,
    /// The same cells: the difference from the headline national figure and its test.
    pub vs_national: Option<VsNational>,
    /// The change since the previous year (`sipas compute --previous-data`), when the cell is
    /// publishable in both years.
    pub change: Option<Change>,
}

/// A province's place in the league table of one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Standing {
    /// 1 + provinces with a higher estimate.
    pub rank: usize,
    /// Rank interval holding jointly for the whole table (Bonferroni over all pairs): the one
    /// published everywhere, since a reader of any page compares provinces.
    pub best: usize,
    pub worst: usize,
    /// Provinces in the table: those publishable for this node (a suppressed province is not
    /// ranked, so "rank 3 of 31" says how many were).
    pub of: usize,
}

/// Where a province stands against the national figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Above,
    NotDistinguishable,
    Below,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Above => "above",
            Tier::NotDistinguishable => "not_distinguishable",
            Tier::Below => "below",
        }
    }
}

/// The province minus the headline national figure: the variance is that of the difference
/// (the province is part of the national figure), with t on the province's df. The tier rests
/// on the p-value adjusted by Holm's method over the provinces tested for the node.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct VsNational {
    pub difference: f64,
    pub se: f64,
    pub p_value: f64,
    pub p_holm: f64,
    pub tier: Tier,
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
        statistic: &Statistic,
        design: &Design,
        work: &mut Work<'_>,
    ) -> Result<Estimate, StatsError> {
        let t = self.totals;
        let k_n = t.n_items;
        let k = statistic.coefficients[0].0;
        let r = self.scores(statistic, work);
        let mut n = 0u64;
        let answering = (0..t.n_present())
            .filter(|&pos| t.nd[pos * k_n + k] > 0)
            .map(|pos| {
                n = n.saturating_add(t.nd[pos * k_n + k]);
                t.psus[pos]
            })
            .collect::<Vec<_>>();
        let mut est = finish(r, n as f64, design, work, answering)?;
        // u = d·(y − R)/D: Σw·u² = R(1 − R)/D for a 0/1 item.
        est.weight = self.wd[k];
        est.ss = r * (1.0 - r) / self.wd[k];
        Ok(est)
    }

    /// Fills `work.buf` with the statistic's PSU scores: every PSU with rows of it and,
    /// with calibration, every PSU of the calibration blocks the domain touches (the residual
    /// reaches rows outside the domain). Returns the estimate Σ c_k R_k.
    fn scores(&self, statistic: &Statistic, work: &mut Work<'_>) -> f64 {
        let coefficients = &statistic.coefficients[..];
        let t = self.totals;
        let k_n = t.n_items;
        let estimate: f64 = coefficients.iter().map(|&(k, c)| c * self.ratio[k]).sum();
        let buf = &mut work.buf;
        buf.clear();
        for pos in 0..t.n_present() {
            // Only PSUs with rows of the statistic, as R's subset: a stratum whose PSUs hold
            // none is not in the subdesign (it matters for lonely_psu = "average").
            let has_rows = match statistic.node {
                Some(g) => t.any_rows[pos * t.n_nodes + g] > 0,
                None => t.nd[pos * k_n + coefficients[0].0] > 0,
            };
            if !has_rows {
                continue;
            }
            let z: f64 = coefficients
                .iter()
                .map(|&(k, c)| c * self.z[pos * k_n + k])
                .sum();
            buf.push((t.psus[pos], z));
        }
        if let Some(cal) = work.calibration
            && !t.calibration.is_empty()
        {
            self.calibrate(coefficients, cal, &mut work.scratch, buf);
        }
        estimate
    }

    /// Replaces the scores u by their residuals e = u − xᵀB̂ (see [`crate::calibration`]).
    fn calibrate(
        &self,
        coefficients: &[(usize, f64)],
        cal: &CalibrationContext<'_>,
        scratch: &mut Scratch,
        buf: &mut Vec<(u32, f64)>,
    ) {
        for &(psu, z) in buf.iter() {
            scratch.set(psu, z);
        }
        for dc in &self.totals.calibration {
            let block = &cal.model.blocks[dc.block];
            let inverse = &cal.inverses[dc.block];
            let c = block.columns.len();
            // Σ w₀ x u over the domain's rows of this block.
            let mut g = vec![0.0; c];
            for &(k, coefficient) in coefficients {
                let a = coefficient / self.wd[k];
                if !a.is_finite() || a == 0.0 {
                    continue;
                }
                for (col, gc) in g.iter_mut().enumerate() {
                    *gc += a * (dc.xy[k * c + col] - self.ratio[k] * dc.xd[k * c + col]);
                }
            }
            let beta: Vec<f64> = (0..c)
                .map(|i| (0..c).map(|j| inverse[i * c + j] * g[j]).sum())
                .collect();
            for (j, &psu) in block.psus.iter().enumerate() {
                let fitted: f64 = (0..c).map(|col| block.wx[j * c + col] * beta[col]).sum();
                scratch.add(psu, -fitted);
            }
        }
        scratch.drain_into(buf);
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

    /// PSUs with rows answering at least one item of node `g`, and their rows and weight.
    fn node_rows(&self, g: usize) -> (Vec<u32>, u64, f64) {
        let t = self.totals;
        let mut n = 0u64;
        let mut weight = 0.0;
        let mut psus = Vec::new();
        for pos in 0..t.n_present() {
            let rows = t.any_rows[pos * t.n_nodes + g];
            if rows > 0 {
                n = n.saturating_add(rows);
                weight += t.any_w[pos * t.n_nodes + g];
                psus.push(t.psus[pos]);
            }
        }
        (psus, n, weight)
    }

    /// An inner node over the rows that answered at least one of its items (node `g`).
    fn node(
        &self,
        statistic: &Statistic,
        g: usize,
        design: &Design,
        work: &mut Work<'_>,
    ) -> Result<Estimate, StatsError> {
        let coefficients = &statistic.coefficients[..];
        let estimate = self.scores(statistic, work);
        let (answering, n, weight) = self.node_rows(g);
        let mut est = finish(estimate, n as f64, design, work, answering)?;
        est.weight = weight;
        est.ss = match &self.totals.node_ss {
            Some(given) => given.get(g).copied().unwrap_or(f64::NAN),
            None => self.node_ss(coefficients),
        };
        Ok(est)
    }

    /// The PSUs whose rows a statistic rests on.
    fn rows_of(&self, statistic: &Statistic) -> Vec<u32> {
        match statistic.node {
            Some(g) => self.node_rows(g).0,
            None => {
                let (t, k) = (self.totals, statistic.coefficients[0].0);
                (0..t.n_present())
                    .filter(|&pos| t.nd[pos * t.n_items + k] > 0)
                    .map(|pos| t.psus[pos])
                    .collect()
            }
        }
    }
}

/// A dense score vector over the design's PSUs that remembers which PSUs it touched.
struct Scratch {
    dense: Vec<f64>,
    on: Vec<bool>,
    touched: Vec<u32>,
}

impl Scratch {
    fn new(n_psus: usize) -> Self {
        Self {
            dense: vec![0.0; n_psus],
            on: vec![false; n_psus],
            touched: Vec::new(),
        }
    }

    fn add(&mut self, psu: u32, z: f64) {
        let i = psu as usize;
        if !self.on[i] {
            self.on[i] = true;
            self.touched.push(psu);
            self.dense[i] = 0.0;
        }
        self.dense[i] += z;
    }

    fn set(&mut self, psu: u32, z: f64) {
        self.add(psu, 0.0);
        self.dense[psu as usize] = z;
    }

    /// Moves the touched entries into `buf` (replacing it) and resets.
    fn drain_into(&mut self, buf: &mut Vec<(u32, f64)>) {
        buf.clear();
        for &psu in &self.touched {
            buf.push((psu, self.dense[psu as usize]));
            self.on[psu as usize] = false;
        }
        self.touched.clear();
    }
}

/// The calibration model with each block's (Σ w₀ x xᵀ)⁻¹.
struct CalibrationContext<'a> {
    model: &'a Calibration,
    inverses: Vec<Vec<f64>>,
}

impl<'a> CalibrationContext<'a> {
    fn new(model: &'a Calibration) -> Result<Self, StatsError> {
        let inverses = model
            .blocks
            .iter()
            .map(|b| {
                invert(&b.gram, b.columns.len()).ok_or_else(|| {
                    StatsError::Weighting(format!(
                        "province {}: the calibration margins are collinear ({}); drop one",
                        b.province,
                        b.columns.join(", ")
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { model, inverses })
    }
}

/// Reusable buffers for one `estimate_all` run.
struct Work<'a> {
    acc: StratumAccumulator,
    buf: Vec<(u32, f64)>,
    scratch: Scratch,
    calibration: Option<&'a CalibrationContext<'a>>,
}

/// Variance of a statistic from its PSU scores, and the df of the PSUs whose rows it rests on.
fn finish(
    estimate: f64,
    n: f64,
    design: &Design,
    work: &mut Work<'_>,
    psus_with_rows: impl IntoIterator<Item = u32>,
) -> Result<Estimate, StatsError> {
    let variance = if estimate.is_nan() {
        f64::NAN
    } else {
        work.acc.variance(design, &work.buf)?
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
/// Each entry: province code, scores, estimates per statistic, index of its first cell.
type ProvinceScores<'a> =
    BTreeMap<Option<(String, String)>, Vec<(&'a str, DomainScores<'a>, Vec<Estimate>, usize)>>;

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
    let columns = item_columns(stats, &tree)?;
    let statistics = statistics(stats, &tree, &columns)?;
    let calibration = stats
        .calibration
        .as_ref()
        .map(CalibrationContext::new)
        .transpose()?;
    let mut work = Work {
        acc: StratumAccumulator::new(design.strata.len()),
        buf: Vec::new(),
        scratch: Scratch::new(design.n_psus()),
        calibration: calibration.as_ref(),
    };
    let mut cells = Vec::new();
    // Province scores kept per subgroup for the mean of provinces.
    let mut province_scores: ProvinceScores<'_> = BTreeMap::new();

    for (key, totals) in &stats.domains {
        let scores = DomainScores::new(totals);
        let first_cell = cells.len();
        let mut estimates = Vec::with_capacity(statistics.len());
        for statistic in &statistics {
            let est = match statistic.node {
                None => scores.item(statistic, design, &mut work)?,
                Some(g) => scores.node(statistic, g, design, &mut work)?,
            };
            cells.push(make_cell(key, &statistic.code, est, methodology));
            estimates.push(est);
        }
        if let Area::Province(code) = &key.area {
            province_scores
                .entry(key.subgroup.clone())
                .or_default()
                .push((code.as_str(), scores, estimates, first_cell));
        }
    }

    // The official national figure: the plain mean of the provinces, with the variance of that
    // linear combination (scores averaged PSU by PSU, so any design is handled exactly).
    let all_provinces: Vec<&str> = province_scores
        .get(&None)
        .map(|p| p.iter().map(|(code, _, _, _)| *code).collect())
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
            .filter(|code| !provinces.iter().any(|(c, _, _, _)| c == *code))
            .copied()
            .collect();
        let p = provinces.len() as f64;
        for (s, statistic) in statistics.iter().enumerate() {
            dense.iter_mut().for_each(|z| *z = 0.0);
            present.iter_mut().for_each(|x| *x = false);
            with_rows.iter_mut().for_each(|x| *x = false);
            let (mut estimate, mut n, mut weight, mut ss) = (0.0, 0.0, 0.0, 0.0);
            for (_, scores, estimates, _) in provinces {
                let e = &estimates[s];
                estimate += e.estimate / p;
                n += e.n;
                weight += e.weight;
                // Provinces are disjoint sets of rows: the scores' squares add.
                ss += e.ss / (p * p);
                scores.scores(statistic, &mut work);
                for &(psu, z) in &work.buf {
                    dense[psu as usize] += z / p;
                    present[psu as usize] = true;
                }
                for psu in scores.rows_of(statistic) {
                    with_rows[psu as usize] = true;
                }
            }
            work.buf.clear();
            work.buf.extend(
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
            let mut est = finish(estimate, n, design, &mut work, psus_with_rows)?;
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
            if subgroup.is_none() {
                let (reference, reference_psus) = match methodology.national_rule {
                    NationalRule::MeanOfProvinces => (
                        dense.clone(),
                        (0..design.n_psus() as u32)
                            .filter(|&psu| present[psu as usize])
                            .collect(),
                    ),
                    NationalRule::Pooled => pooled_scores(stats, statistic, &mut work),
                };
                let national = match methodology.national_rule {
                    NationalRule::MeanOfProvinces => estimate,
                    NationalRule::Pooled => national_estimate(&cells, &statistic.code),
                };
                let against = Reference::new(design, reference, reference_psus, &mut work)?;
                let level = methodology.ci.level;
                let mut tested = Vec::new();
                for (_, scores, estimates, first) in provinces {
                    if !publishable(&cells[first + s]) {
                        continue;
                    }
                    let est = &estimates[s];
                    scores.scores(statistic, &mut work);
                    let variance = against.difference_variance(design, &mut work)?;
                    tested.push((
                        first + s,
                        t_test(est.estimate - national, variance, est.df, level),
                    ));
                }
                assign_tiers(&mut cells, &tested, level, None);
                rank_provinces(&mut cells, provinces.iter().map(|p| p.3 + s), level);
            }
        }
    }
    cells.sort_by(|a, b| {
        order_key(&a.domain)
            .cmp(&order_key(&b.domain))
            .then_with(|| a.subgroup.cmp(&b.subgroup))
    });
    Ok(Results { cells })
}

/// The national figure's PSU scores of one statistic, for testing provinces against it.
struct Reference {
    /// Dense over the design's PSUs.
    scores: Vec<f64>,
    /// Its PSUs, by stratum.
    by_stratum: Vec<Vec<u32>>,
    all: Vec<u32>,
    variance: f64,
}

impl Reference {
    fn new(
        design: &Design,
        scores: Vec<f64>,
        psus: Vec<u32>,
        work: &mut Work<'_>,
    ) -> Result<Self, StatsError> {
        let mut by_stratum = vec![Vec::new(); design.strata.len()];
        for &psu in &psus {
            by_stratum[design.psu_stratum[psu as usize] as usize].push(psu);
        }
        let list: Vec<(u32, f64)> = psus.iter().map(|&p| (p, scores[p as usize])).collect();
        let variance = work.acc.variance(design, &list)?;
        Ok(Self {
            scores,
            by_stratum,
            all: psus,
            variance,
        })
    }

    /// Variance of (province − national) from the province's scores in `work.buf`. Strata are
    /// additive (except with lonely_psu = "average"), so only the province's strata are
    /// recomputed: V(national) − their share of it + their share of the difference.
    fn difference_variance(&self, design: &Design, work: &mut Work<'_>) -> Result<f64, StatsError> {
        let province = std::mem::take(&mut work.buf);
        let average = design.lonely_psu == LonelyPsu::Average;
        let strata: Vec<usize> = if average {
            (0..design.strata.len()).collect()
        } else {
            let mut strata: Vec<usize> = province
                .iter()
                .map(|&(psu, _)| design.psu_stratum[psu as usize] as usize)
                .collect();
            strata.sort_unstable();
            strata.dedup();
            strata
        };
        let part: Vec<(u32, f64)> = if average {
            self.all
                .iter()
                .map(|&p| (p, self.scores[p as usize]))
                .collect()
        } else {
            strata
                .iter()
                .flat_map(|&h| self.by_stratum[h].iter())
                .map(|&p| (p, self.scores[p as usize]))
                .collect()
        };
        let reference_part = if average {
            self.variance
        } else {
            work.acc.variance(design, &part)?
        };
        for &(psu, z) in &part {
            work.scratch.set(psu, -z);
        }
        for &(psu, z) in &province {
            work.scratch.add(psu, z);
        }
        let mut difference = Vec::new();
        work.scratch.drain_into(&mut difference);
        let difference_part = work.acc.variance(design, &difference)?;
        work.buf = province;
        Ok((self.variance - reference_part + difference_part).max(0.0))
    }
}

/// The pooled national domain's PSU scores of a statistic (dense) and its PSUs.
fn pooled_scores(
    stats: &SufficientStats,
    statistic: &Statistic,
    work: &mut Work<'_>,
) -> (Vec<f64>, Vec<u32>) {
    let mut dense = vec![0.0; stats.design.n_psus()];
    let mut psus = Vec::new();
    let key = DomainKey {
        area: Area::National,
        subgroup: None,
    };
    if let Some(totals) = stats.domains.get(&key) {
        let scores = DomainScores::new(totals);
        scores.scores(statistic, work);
        for &(psu, z) in &work.buf {
            dense[psu as usize] = z;
            psus.push(psu);
        }
    }
    (dense, psus)
}

fn national_estimate(cells: &[Cell], node: &str) -> f64 {
    cells
        .iter()
        .find(|c| c.domain == "national" && c.subgroup.is_empty() && c.node == node)
        .map_or(f64::NAN, |c| c.estimate)
}

/// Each tested province's standing against the nation (`tested`: cell index and its test),
/// its p-value adjusted by Holm's method over the provinces tested: above or below only when
/// the adjusted p-value is under 1 − level, so a release where every province equals the
/// nation shows any "above" or "below" with probability at most 1 − level.
/// `p_decimals`: the adjusted p-values are rounded to that many places before the decision
/// (publication: the decision a reader makes from the published number).
pub(crate) fn assign_tiers(
    cells: &mut [Cell],
    tested: &[(usize, Change)],
    level: f64,
    p_decimals: Option<i32>,
) {
    let p: Vec<f64> = tested.iter().map(|(_, t)| t.p_value).collect();
    for ((i, test), p_holm) in tested.iter().zip(crate::compare::holm(&p)) {
        let p_holm = p_decimals.map_or(p_holm, |d| crate::publish::round_to(p_holm, d));
        let significant = p_holm < 1.0 - level; // false for NaN too
        let tier = if !significant {
            Tier::NotDistinguishable
        } else if test.difference > 0.0 {
            Tier::Above
        } else {
            Tier::Below
        };
        cells[*i].vs_national = Some(VsNational {
            difference: test.difference,
            se: test.se,
            p_value: test.p_value,
            p_holm,
            tier,
        });
    }
}

/// Holm's adjustment of the provinces' changes, node by node (subgroups apart): a change is
/// called significant when its adjusted p-value is under 1 − level. The national rows keep
/// their own single test. `p_decimals` as in [`assign_tiers`].
pub(crate) fn adjust_province_changes(cells: &mut [Cell], level: f64, p_decimals: Option<i32>) {
    let mut families: HashMap<(String, String), Vec<usize>> = HashMap::new();
    for (i, c) in cells.iter().enumerate() {
        let is_province = !matches!(c.domain.as_str(), "national" | "national_mean");
        if is_province && c.change.is_some_and(|ch| !ch.p_value.is_nan()) {
            families
                .entry((c.subgroup.clone(), c.node.clone()))
                .or_default()
                .push(i);
        }
    }
    for members in families.values() {
        let p: Vec<f64> = members
            .iter()
            .filter_map(|&i| cells[i].change.map(|c| c.p_value))
            .collect();
        for (&i, p_holm) in members.iter().zip(crate::compare::holm(&p)) {
            if let Some(change) = cells[i].change.as_mut() {
                let p_holm = p_decimals.map_or(p_holm, |d| crate::publish::round_to(p_holm, d));
                change.p_holm = p_holm;
                change.significant = p_holm < 1.0 - level;
            }
        }
    }
}

/// Rank intervals of the publishable province cells at `indices` (one node, no subgroup).
fn rank_provinces(cells: &mut [Cell], indices: impl Iterator<Item = usize>, level: f64) {
    let ranked: Vec<usize> = indices.filter(|&i| publishable(&cells[i])).collect();
    let units: Vec<Unit> = ranked
        .iter()
        .map(|&i| Unit {
            id: cells[i].domain.clone(),
            estimate: cells[i].estimate,
            se: cells[i].se,
            df: cells[i].df,
        })
        .collect();
    let joint = rank_intervals(&units, level, RankScope::Joint);
    for (&i, j) in ranked.iter().zip(joint) {
        cells[i].standing = Some(Standing {
            rank: j.rank,
            best: j.best,
            worst: j.worst,
            of: units.len(),
        });
    }
}

/// Statistics to report: inner nodes, then items, each as coefficients over data columns.
fn statistics(
    stats: &SufficientStats,
    tree: &CompiledTree,
    columns: &[usize],
) -> Result<Vec<Statistic>, StatsError> {
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
    for (item, &k) in tree.items.iter().zip(columns) {
        statistics.push(Statistic {
            code: item.clone(),
            coefficients: vec![(k, 1.0)],
            node: None,
        });
    }
    Ok(statistics)
}

/// The tree's items as columns of the totals.
fn item_columns(stats: &SufficientStats, tree: &CompiledTree) -> Result<Vec<usize>, StatsError> {
    tree.items
        .iter()
        .map(|item| {
            stats
                .items
                .iter()
                .position(|c| c == item)
                .ok_or_else(|| StatsError::Methodology(format!("item {item:?} is not in the data")))
        })
        .collect()
}

/// Σw·u² of every inner node's score in every domain (in [`SufficientStats::nodes`] order,
/// NaN for a node without a statistic): all the composite design effects need of the item ×
/// item moments, which public totals cannot carry ([`crate::disclosure`]).
pub fn node_sums_of_squares(
    stats: &SufficientStats,
    methodology: &Methodology,
) -> Result<BTreeMap<DomainKey, Vec<f64>>, StatsError> {
    let tree = methodology.compile()?;
    let columns = item_columns(stats, &tree)?;
    let statistics = statistics(stats, &tree, &columns)?;
    Ok(stats
        .domains
        .iter()
        .map(|(key, totals)| {
            let scores = DomainScores::new(totals);
            let mut ss = vec![f64::NAN; stats.nodes.len()];
            for statistic in &statistics {
                if let Some(g) = statistic.node {
                    ss[g] = match &totals.node_ss {
                        Some(given) => given.get(g).copied().unwrap_or(f64::NAN),
                        None => scores.node_ss(&statistic.coefficients),
                    };
                }
            }
            (key.clone(), ss)
        })
        .collect())
}

/// One statistic in one domain: its estimate, PSU scores and the PSUs whose rows it rests on.
pub struct StatisticScores {
    pub estimate: Estimate,
    pub scores: Vec<(u32, f64)>,
    pub psus_with_rows: Vec<u32>,
}

/// Scores of any statistic in any domain of one sample, computed on demand (for comparisons).
pub struct Scorer<'a> {
    stats: &'a SufficientStats,
    statistics: Vec<Statistic>,
    calibration: Option<CalibrationContext<'a>>,
    domains: HashMap<DomainKey, DomainScores<'a>>,
    acc: StratumAccumulator,
    scratch: Scratch,
}

impl<'a> Scorer<'a> {
    pub fn new(stats: &'a SufficientStats, methodology: &Methodology) -> Result<Self, StatsError> {
        let tree = methodology.compile()?;
        let columns = item_columns(stats, &tree)?;
        Ok(Self {
            stats,
            statistics: statistics(stats, &tree, &columns)?,
            calibration: stats
                .calibration
                .as_ref()
                .map(CalibrationContext::new)
                .transpose()?,
            domains: HashMap::new(),
            acc: StratumAccumulator::new(stats.design.strata.len()),
            scratch: Scratch::new(stats.design.n_psus()),
        })
    }

    /// The estimate and PSU scores of `node` (an inner node or an item) in `domain`; `None`
    /// when the sample has no respondents in the domain.
    pub fn scores(
        &mut self,
        domain: &DomainKey,
        node: &str,
    ) -> Result<Option<StatisticScores>, StatsError> {
        let Some(statistic) = self.statistics.iter().find(|s| s.code == node) else {
            return Err(StatsError::Methodology(format!("no node or item {node:?}")));
        };
        let Some(totals) = self.stats.domains.get(domain) else {
            return Ok(None);
        };
        let scores = self
            .domains
            .entry(domain.clone())
            .or_insert_with(|| DomainScores::new(totals));
        let design = &self.stats.design;
        let mut work = Work {
            acc: std::mem::replace(&mut self.acc, StratumAccumulator::new(0)),
            buf: Vec::new(),
            scratch: std::mem::replace(&mut self.scratch, Scratch::new(0)),
            calibration: self.calibration.as_ref(),
        };
        let estimate = match statistic.node {
            None => scores.item(statistic, design, &mut work),
            Some(g) => scores.node(statistic, g, design, &mut work),
        };
        self.acc = work.acc;
        self.scratch = work.scratch;
        Ok(Some(StatisticScores {
            estimate: estimate?,
            scores: work.buf,
            psus_with_rows: scores.rows_of(statistic),
        }))
    }
}

/// Two years whose samples share PSUs (communes surveyed twice), as one stacked design:
/// strata and PSUs matched by name, sampled with replacement. Every sampled PSU of both years
/// counts in its stratum's n_h.
pub struct LinkedYears<'a> {
    years: [Scorer<'a>; 2],
    /// Each year's PSUs numbered in the stacked design.
    ids: [Vec<u32>; 2],
    design: Design,
    level: f64,
}

impl<'a> LinkedYears<'a> {
    pub fn new(
        before: &'a SufficientStats,
        after: &'a SufficientStats,
        methodology: &Methodology,
    ) -> Result<Self, StatsError> {
        let mut strata: Vec<(String, Fpc)> = Vec::new();
        let mut certain: Vec<bool> = Vec::new();
        let mut stratum_index: HashMap<String, u32> = HashMap::new();
        let mut psu_index: HashMap<(u32, String), u32> = HashMap::new();
        let mut psu_stratum: Vec<u32> = Vec::new();
        let mut number = |stats: &SufficientStats| -> Vec<u32> {
            let design = &stats.design;
            (0..design.n_psus())
                .map(|psu| {
                    let stratum = &design.strata[design.psu_stratum[psu] as usize];
                    let name = &stratum.name;
                    let h = *stratum_index.entry(name.clone()).or_insert_with(|| {
                        certain.push(stratum.certainty);
                        strata.push((name.clone(), Fpc::None));
                        strata.len() as u32 - 1
                    });
                    let label = stats.psu_labels.get(psu).cloned().unwrap_or_default();
                    *psu_index.entry((h, label)).or_insert_with(|| {
                        psu_stratum.push(h);
                        psu_stratum.len() as u32 - 1
                    })
                })
                .collect()
        };
        let ids = [number(before), number(after)];
        Ok(Self {
            years: [
                Scorer::new(before, methodology)?,
                Scorer::new(after, methodology)?,
            ],
            ids,
            design: Design::new(strata, psu_stratum, methodology.lonely_psu)?
                .with_certainty(&certain),
            level: methodology.ci.level,
        })
    }

    /// `after − before` of `node` in `domain`: the variance is that of the stacked PSU totals of
    /// z_after − z_before, which carries the covariance of the linked PSUs (R's
    /// `svyby(covmat = TRUE)` + `svycontrast` on the stacked data). df: PSUs with rows of the
    /// statistic in either year minus their strata. `None` when a year has no respondents there.
    pub fn change(&mut self, domain: &DomainKey, node: &str) -> Result<Option<Change>, StatsError> {
        let mut totals = vec![0.0; self.design.n_psus()];
        let mut with_rows = Vec::new();
        let mut estimates = [0.0; 2];
        for year in 0..2 {
            let Some(s) = self.years[year].scores(domain, node)? else {
                return Ok(None);
            };
            let sign = if year == 0 { -1.0 } else { 1.0 };
            estimates[year] = s.estimate.estimate;
            for (psu, z) in s.scores {
                totals[self.ids[year][psu as usize] as usize] += sign * z;
            }
            with_rows.extend(
                s.psus_with_rows
                    .iter()
                    .map(|&psu| self.ids[year][psu as usize]),
            );
        }
        with_rows.sort_unstable();
        with_rows.dedup();
        let scores: Vec<(u32, f64)> = totals
            .iter()
            .enumerate()
            .filter(|(_, z)| **z != 0.0)
            .map(|(psu, z)| (psu as u32, *z))
            .collect();
        let variance = self.design.variance(&scores)?;
        Ok(Some(t_test(
            estimates[1] - estimates[0],
            variance,
            self.design.degrees_of_freedom(with_rows),
            self.level,
        )))
    }
}

/// One statistic's change between two linked years (see [`LinkedYears`]).
pub fn linked_change(
    before: &SufficientStats,
    after: &SufficientStats,
    methodology: &Methodology,
    domain: &DomainKey,
    node: &str,
) -> Result<Change, StatsError> {
    LinkedYears::new(before, after, methodology)?
        .change(domain, node)?
        .ok_or_else(|| {
            StatsError::Invalid(format!(
                "no respondents in domain {} in one of the years",
                domain.area
            ))
        })
}

/// Fills `change` on every publishable cell that was publishable in `previous` too, for two
/// independent samples (t on Satterthwaite df).
pub fn add_changes(cells: &mut [Cell], previous: &[Cell], level: f64) {
    let before: HashMap<(&str, &str, &str), &Cell> = previous
        .iter()
        .filter(|c| publishable(c))
        .map(|c| ((c.domain.as_str(), c.subgroup.as_str(), c.node.as_str()), c))
        .collect();
    for cell in cells.iter_mut().filter(|c| publishable(c)) {
        if let Some(old) = before.get(&(
            cell.domain.as_str(),
            cell.subgroup.as_str(),
            cell.node.as_str(),
        )) {
            let unit = |c: &Cell| Unit {
                id: String::new(),
                estimate: c.estimate,
                se: c.se,
                df: c.df,
            };
            cell.change = testable_change(&unit(old), &unit(cell), level);
        }
    }
    adjust_province_changes(cells, level, None);
}

/// The change between two years' figures, or `None` when neither has a sampling variance
/// (every respondent satisfied in both years, or none): two figures without a standard error
/// cannot be tested, and "a change of 0 with SE 0" would read as a certainty.
pub(crate) fn testable_change(before: &Unit, after: &Unit, level: f64) -> Option<Change> {
    (before.se > 0.0 || after.se > 0.0).then(|| change(before, after, level))
}

/// [`add_changes`] for years that share PSUs: province and national cells get the linked
/// change ([`LinkedYears`]); the mean of provinces keeps the independent one.
pub fn add_linked_changes(
    cells: &mut [Cell],
    previous: &[Cell],
    years: &mut LinkedYears<'_>,
) -> Result<(), StatsError> {
    add_changes(cells, previous, years.level);
    for cell in cells.iter_mut() {
        if cell.change.is_none() || cell.domain == "national_mean" {
            continue;
        }
        let area = match cell.domain.as_str() {
            "national" => Area::National,
            code => Area::Province(code.to_owned()),
        };
        let subgroup = cell
            .subgroup
            .split_once('=')
            .map(|(column, value)| (column.to_owned(), value.to_owned()));
        let key = DomainKey { area, subgroup };
        cell.change = years.change(&key, &cell.node)?;
    }
    adjust_province_changes(cells, years.level, None);
    Ok(())
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
        standing: None,
        vs_national: None,
        change: None,
    }
}

/// Publishable: a number with an interval that the rules let through.
fn publishable(cell: &Cell) -> bool {
    matches!(cell.flag, Flag::Ok | Flag::LowPrecision) && cell.se.is_finite()
}

/// The flag of a cell and the reason, by the methodology's rule set.
pub(crate) fn judge(
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
        FlagRule::Nchs => nchs(est, input),
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
fn nchs(est: &Estimate, input: IntervalInput) -> (Flag, String) {
    let p = est.estimate;
    if est.n < NCHS_MIN_N {
        return (Flag::Suppressed, format!("n = {} < {NCHS_MIN_N}", est.n));
    }
    // The standard's effective size: p(1−p)/V, at most n (n at 0 or 1).
    let n_eff = if p > 0.0 && p < 1.0 {
        (p * (1.0 - p) / est.variance).min(est.n)
    } else {
        est.n
    };
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
    // The complement (the dissatisfied share) is read off the same table: when it would fail
    // the relative width, the standard asks for statistical review.
    if width > NCHS_SMALL_WIDTH && width / (1.0 - p) > NCHS_MAX_RELATIVE_WIDTH {
        return (
            Flag::LowPrecision,
            format!(
                "the complement 1 − p: relative Korn–Graubard width {:.0}% > {:.0}%: statistical review",
                100.0 * width / (1.0 - p),
                100.0 * NCHS_MAX_RELATIVE_WIDTH
            ),
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
        // Nearly everyone satisfied: the dissatisfied share's interval is too wide relative to
        // it, so the cell goes to review.
        let complement = cell(0.95, 0.02, 500.0, 40.0);
        assert_eq!(complement.flag, Flag::LowPrecision, "{}", complement.note);
        assert!(
            complement.note.contains("complement"),
            "{}",
            complement.note
        );
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
