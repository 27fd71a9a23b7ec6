//! Sufficient statistics. Per domain and present PSU: for every item Σw·y (weighted satisfied
//! answers), Σw·d (weighted valid answers) and the count of valid answers; for every inner node
//! the rows (and their weight) that answered at least one of its items. Per domain: the item ×
//! item moments Σw·d_k·d_l, Σw·y_k·d_l, Σw·y_k·y_l that the design effect of a composite needs.
//! Every published number is a function of these, so they can come from database GROUP BYs as
//! well as from a microdata file.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::calibration::{Calibration, DomainCalibration};
use crate::design::Design;

/// The area of a domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Area {
    /// One province, by code.
    Province(String),
    /// All respondents pooled (design-based national estimate).
    National,
    /// The plain mean of the provinces' estimates (the official national rule).
    NationalMean,
}

impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Area::Province(code) => f.write_str(code),
            Area::National => f.write_str("national"),
            Area::NationalMean => f.write_str("national_mean"),
        }
    }
}

/// An estimation domain: an area, optionally restricted to one subgroup (`column = value`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DomainKey {
    pub area: Area,
    pub subgroup: Option<(String, String)>,
}

impl DomainKey {
    pub fn subgroup_label(&self) -> String {
        self.subgroup
            .as_ref()
            .map(|(column, value)| format!("{column}={value}"))
            .unwrap_or_default()
    }
}

/// Item × item weighted moments of one domain, each row-major `K × K`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Moments {
    /// `dd[k * K + l]` = Σ w·d_k·d_l (both answered).
    pub dd: Vec<f64>,
    /// `yd[k * K + l]` = Σ w·y_k·d_l (k satisfied, l answered).
    pub yd: Vec<f64>,
    /// `yy[k * K + l]` = Σ w·y_k·y_l (both satisfied).
    pub yy: Vec<f64>,
}

impl Moments {
    pub fn zeros(n_items: usize) -> Self {
        let n = n_items * n_items;
        Self {
            dd: vec![0.0; n],
            yd: vec![0.0; n],
            yy: vec![0.0; n],
        }
    }

    /// Adds one row (`d[k]`, `y[k]` are 0 or 1) to the upper triangles of the symmetric `dd`
    /// and `yy` and to all of `yd`; [`Self::mirror`] completes them.
    fn add_row_upper(&mut self, w: f64, d: &[f64], y: &[f64]) {
        let k_n = d.len();
        for k in 0..k_n {
            if d[k] == 0.0 {
                continue;
            }
            let upper = k * k_n + k..(k + 1) * k_n;
            for (m, x) in self.dd[upper.clone()].iter_mut().zip(&d[k..]) {
                *m += w * x;
            }
            if y[k] != 0.0 {
                for (m, x) in self.yd[k * k_n..(k + 1) * k_n].iter_mut().zip(d) {
                    *m += w * x;
                }
                for (m, x) in self.yy[upper].iter_mut().zip(&y[k..]) {
                    *m += w * x;
                }
            }
        }
    }

    /// Copies the upper triangles of `dd` and `yy` below the diagonal.
    fn mirror(&mut self, k_n: usize) {
        for k in 0..k_n {
            for l in 0..k {
                self.dd[k * k_n + l] = self.dd[l * k_n + k];
                self.yy[k * k_n + l] = self.yy[l * k_n + k];
            }
        }
    }

    fn add(&mut self, other: &Moments) {
        for (a, b) in [
            (&mut self.dd, &other.dd),
            (&mut self.yd, &other.yd),
            (&mut self.yy, &other.yy),
        ] {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        }
    }

    /// Σ w·u² for u = Σ_k a_k·d_k·(y_k − R_k): the weighted sum of squares of a linear
    /// combination of item residuals (`coefficients` = (k, a_k)).
    pub fn residual_sum_of_squares(&self, coefficients: &[(usize, f64)], ratio: &[f64]) -> f64 {
        let k_n = ratio.len();
        let mut total = 0.0;
        for &(k, a_k) in coefficients {
            for &(l, a_l) in coefficients {
                let (kl, lk) = (k * k_n + l, l * k_n + k);
                total += a_k
                    * a_l
                    * (self.yy[kl] - ratio[l] * self.yd[kl] - ratio[k] * self.yd[lk]
                        + ratio[k] * ratio[l] * self.dd[kl]);
            }
        }
        total
    }
}

/// Totals of one domain over the PSUs that have at least one row in it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DomainTotals {
    pub n_items: usize,
    /// Inner nodes (in [`SufficientStats::nodes`] order) with per-PSU "answered any" counts.
    pub n_nodes: usize,
    /// Present PSUs (design numbering).
    pub psus: Vec<u32>,
    /// Rows of the domain in each present PSU.
    pub rows: Vec<u64>,
    /// `wy[pos * n_items + k]`: Σ w·y of item k in the PSU at `pos`.
    pub wy: Vec<f64>,
    /// Σ w·d: weighted valid answers.
    pub wd: Vec<f64>,
    /// Count of valid answers.
    pub nd: Vec<u64>,
    /// `any_rows[pos * n_nodes + g]`: rows of the PSU that answered at least one item of node g.
    pub any_rows: Vec<u64>,
    /// Their summed weight.
    pub any_w: Vec<f64>,
    pub moments: Moments,
    /// Σw·u² of each inner node's score, given instead of the moments (which are then empty)
    /// in public totals: the moments let single respondents be recovered
    /// ([`crate::disclosure`]). NaN where a node has no score.
    pub node_ss: Option<Vec<f64>>,
    /// With calibration: the domain's totals per calibration block it has rows in.
    pub calibration: Vec<DomainCalibration>,
}

impl DomainTotals {
    pub fn new(n_items: usize, n_nodes: usize) -> Self {
        Self {
            n_items,
            n_nodes,
            moments: Moments::zeros(n_items),
            ..Self::default()
        }
    }

    /// Appends a PSU's totals; `items` holds `(Σw·y, Σw·d, count)` per item, `nodes`
    /// `(rows, Σw)` of the rows that answered at least one item of each node.
    pub fn push_psu(
        &mut self,
        psu: u32,
        rows: u64,
        items: &[(f64, f64, u64)],
        nodes: &[(u64, f64)],
    ) {
        self.psus.push(psu);
        self.rows.push(rows);
        for &(wy, wd, nd) in items {
            self.wy.push(wy);
            self.wd.push(wd);
            self.nd.push(nd);
        }
        for &(rows, w) in nodes {
            self.any_rows.push(rows);
            self.any_w.push(w);
        }
    }

    pub fn n_present(&self) -> usize {
        self.psus.len()
    }
}

/// A design and the totals of every domain.
#[derive(Debug, Clone)]
pub struct SufficientStats {
    pub design: Design,
    pub items: Vec<String>,
    /// Inner nodes whose "answered any" counts the domains carry, in that order.
    pub nodes: Vec<String>,
    pub domains: BTreeMap<DomainKey, DomainTotals>,
    /// The calibration model when the weights were raked (see [`crate::calibration`]).
    pub calibration: Option<Calibration>,
    /// Each PSU's name within its stratum, so two years' samples can be linked.
    pub psu_labels: Vec<String>,
    /// Public totals of a year on an old map: Σw·u² per inner node of each domain that
    /// [`reaggregate`] makes by merging provinces (keyed by the merged provinces' codes, sorted,
    /// and the subgroup), since without moments it cannot be summed.
    pub merged_node_ss: BTreeMap<MergedKey, Vec<f64>>,
}

/// The provinces merged into one domain (codes sorted) and its subgroup.
pub type MergedKey = (Vec<String>, Option<(String, String)>);

/// Gives every national domain the sum of its provinces' moments (each row is in exactly one
/// province): a database path can then GROUP BY province only.
pub fn sum_national_moments(domains: &mut BTreeMap<DomainKey, DomainTotals>) {
    let mut sums: BTreeMap<Option<(String, String)>, Moments> = BTreeMap::new();
    for (key, totals) in domains.iter() {
        if matches!(key.area, Area::Province(_)) {
            let sum = sums
                .entry(key.subgroup.clone())
                .or_insert_with(|| Moments::zeros(totals.n_items));
            sum.add(&totals.moments);
        }
    }
    for (key, totals) in domains.iter_mut() {
        if key.area == Area::National
            && let Some(sum) = sums.remove(&key.subgroup)
        {
            totals.moments = sum;
        }
    }
}

/// Accumulates row-level data into [`DomainTotals`]. Domains are numbered as they are added, so
/// the hot loop works with indices, not keys.
pub struct TotalsBuilder {
    n_items: usize,
    /// Item columns of each inner node.
    node_items: Vec<Vec<usize>>,
    domains: Vec<(DomainKey, DomainAccumulator)>,
    /// Moments are accumulated once per row, in the cell of rows that share the same set of
    /// domains (a province and subgroup values), and added to those domains at the end.
    moment_cells: HashMap<Vec<usize>, usize>,
    cell_moments: Vec<(Vec<usize>, Moments)>,
    /// Per-row scratch: d and y as 0/1, and which nodes the row answered.
    d: Vec<f64>,
    y: Vec<f64>,
    answered_node: Vec<bool>,
    /// The row's calibration block, its column count, w₀ and active columns.
    calibration: Option<(usize, usize, f64, Vec<usize>)>,
}

/// One valid or missing answer: `None` = no valid answer, `Some(true)` = satisfied.
pub type Answer = Option<bool>;

struct DomainAccumulator {
    positions: HashMap<u32, usize>,
    /// Rows of a PSU usually come together: the last PSU's position saves a lookup.
    last: Option<(u32, usize)>,
    /// Position of each calibration block in `totals.calibration`.
    blocks: HashMap<usize, usize>,
    totals: DomainTotals,
}

impl TotalsBuilder {
    /// `node_items` lists the item columns of each inner node (for the "answered any" counts).
    pub fn new(n_items: usize, node_items: Vec<Vec<usize>>) -> Self {
        Self {
            n_items,
            node_items,
            domains: Vec::new(),
            moment_cells: HashMap::new(),
            cell_moments: Vec::new(),
            d: vec![0.0; n_items],
            y: vec![0.0; n_items],
            answered_node: Vec::new(),
            calibration: None,
        }
    }

    /// Sets the calibration of the next rows: block, its column count, the row's design weight
    /// w₀ and its active columns (`None` without calibration).
    pub fn set_calibration(&mut self, calibration: Option<(usize, usize, f64, &[usize])>) {
        self.calibration = calibration.map(|(b, c, w0, cols)| (b, c, w0, cols.to_vec()));
    }

    /// Adds a domain and returns its index. Each key must be added once.
    pub fn add_domain(&mut self, key: DomainKey) -> usize {
        self.domains.push((
            key,
            DomainAccumulator {
                positions: HashMap::new(),
                last: None,
                blocks: HashMap::new(),
                totals: DomainTotals::new(self.n_items, self.node_items.len()),
            },
        ));
        self.domains.len() - 1
    }

    /// Prepares one row's answers for [`Self::add_row`] (once per row, whatever its domains).
    pub fn set_row(&mut self, answers: &[Answer]) {
        for (k, answer) in answers.iter().enumerate() {
            self.d[k] = f64::from(u8::from(answer.is_some()));
            self.y[k] = f64::from(u8::from(*answer == Some(true)));
        }
        self.answered_node.clear();
        let d = &self.d;
        self.answered_node.extend(
            self.node_items
                .iter()
                .map(|items| items.iter().any(|&k| d[k] != 0.0)),
        );
    }

    /// Adds the row given to [`Self::set_row`], with weight `w` in PSU `psu`, to `domain`.
    pub fn add_row(&mut self, domain: usize, psu: u32, w: f64, answers: &[Answer]) {
        let n_items = self.n_items;
        let n_nodes = self.node_items.len();
        let acc = &mut self.domains[domain].1;
        let pos = match acc.last {
            Some((last_psu, pos)) if last_psu == psu => pos,
            _ => {
                let totals = &mut acc.totals;
                let pos = *acc.positions.entry(psu).or_insert_with(|| {
                    totals.psus.push(psu);
                    totals.rows.push(0);
                    totals.wy.extend(std::iter::repeat_n(0.0, n_items));
                    totals.wd.extend(std::iter::repeat_n(0.0, n_items));
                    totals.nd.extend(std::iter::repeat_n(0, n_items));
                    totals.any_rows.extend(std::iter::repeat_n(0, n_nodes));
                    totals.any_w.extend(std::iter::repeat_n(0.0, n_nodes));
                    totals.psus.len() - 1
                });
                acc.last = Some((psu, pos));
                pos
            }
        };
        let totals = &mut acc.totals;
        totals.rows[pos] += 1;
        let base = pos * n_items;
        for (k, answer) in answers.iter().enumerate() {
            if let Some(satisfied) = answer {
                totals.wd[base + k] += w;
                totals.nd[base + k] += 1;
                if *satisfied {
                    totals.wy[base + k] += w;
                }
            }
        }
        let base = pos * n_nodes;
        for (g, answered) in self.answered_node.iter().enumerate() {
            if *answered {
                totals.any_rows[base + g] += 1;
                totals.any_w[base + g] += w;
            }
        }
        if let Some((block, c, w0, active)) = &self.calibration {
            let at = *acc.blocks.entry(*block).or_insert_with(|| {
                totals.calibration.push(DomainCalibration {
                    block: *block,
                    xy: vec![0.0; n_items * c],
                    xd: vec![0.0; n_items * c],
                });
                totals.calibration.len() - 1
            });
            let dc = &mut totals.calibration[at];
            for k in 0..n_items {
                if self.d[k] == 0.0 {
                    continue;
                }
                for &col in active {
                    dc.xd[k * c + col] += w0;
                    if self.y[k] != 0.0 {
                        dc.xy[k * c + col] += w0;
                    }
                }
            }
        }
    }

    /// Adds the row given to [`Self::set_row`], with weight `w`, to the item moments of
    /// `domains` (every domain the row was added to).
    pub fn add_moments(&mut self, domains: &[usize], w: f64) {
        let cell = match self.moment_cells.get(domains) {
            Some(&cell) => cell,
            None => {
                self.cell_moments
                    .push((domains.to_vec(), Moments::zeros(self.n_items)));
                self.moment_cells
                    .insert(domains.to_vec(), self.cell_moments.len() - 1);
                self.cell_moments.len() - 1
            }
        };
        self.cell_moments[cell].1.add_row_upper(w, &self.d, &self.y);
    }

    /// The totals of every domain.
    pub fn finish(mut self) -> BTreeMap<DomainKey, DomainTotals> {
        for (domains, mut moments) in std::mem::take(&mut self.cell_moments) {
            moments.mirror(self.n_items);
            for d in domains {
                self.domains[d].1.totals.moments.add(&moments);
            }
        }
        self.domains
            .into_iter()
            .map(|(key, acc)| (key, acc.totals))
            .collect()
    }
}

/// The same sample on another map: every province domain is renamed by `new_code` and the
/// domains that land on the same code are merged (their PSUs side by side, their moments added).
/// Exact for a crosswalk that merges whole provinces: each respondent keeps the weight that
/// makes its old province add up to its population, so the merged domain is weighted by the
/// old provinces' populations (docs/methodology.md, "Earlier years on today's map"). The design
/// (strata, PSUs) is untouched. National domains are unchanged; the mean of provinces is
/// recomputed by the estimator over the new provinces.
///
/// Refused when an old province has no new code, or when the weights were calibrated (the
/// calibration blocks are per old province and would need re-solving).
pub fn reaggregate(
    stats: &SufficientStats,
    new_code: &dyn Fn(&str) -> Option<String>,
) -> Result<SufficientStats, crate::StatsError> {
    if stats.calibration.is_some() {
        return Err(crate::StatsError::Invalid(
            "calibrated totals cannot be re-aggregated to another map (the calibration is per \
             old province)"
                .into(),
        ));
    }
    let mut domains: BTreeMap<DomainKey, DomainTotals> = BTreeMap::new();
    let mut merged_from: BTreeMap<DomainKey, Vec<String>> = BTreeMap::new();
    for (key, totals) in &stats.domains {
        if let Area::Province(old) = &key.area
            && let Some(new) = new_code(old)
        {
            merged_from
                .entry(DomainKey {
                    area: Area::Province(new),
                    subgroup: key.subgroup.clone(),
                })
                .or_default()
                .push(old.clone());
        }
        let key = match &key.area {
            Area::Province(old) => DomainKey {
                area: Area::Province(new_code(old).ok_or_else(|| {
                    crate::StatsError::Invalid(format!(
                        "province {old} has no code on the new map (crosswalk)"
                    ))
                })?),
                subgroup: key.subgroup.clone(),
            },
            _ => key.clone(),
        };
        match domains.remove(&key) {
            None => {
                domains.insert(key, totals.clone());
            }
            Some(existing) => {
                domains.insert(key, merge_domains(&existing, totals));
            }
        }
    }
    // Without moments a merged domain's Σw·u² comes from the file, or is unknown (NaN).
    for (key, totals) in domains.iter_mut() {
        let Some(mut olds) = merged_from.remove(key) else {
            continue;
        };
        if olds.len() > 1 && totals.node_ss.is_some() {
            olds.sort();
            totals.node_ss = Some(
                stats
                    .merged_node_ss
                    .get(&(olds, key.subgroup.clone()))
                    .cloned()
                    .unwrap_or_else(|| vec![f64::NAN; totals.n_nodes]),
            );
        }
    }
    Ok(SufficientStats {
        design: stats.design.clone(),
        items: stats.items.clone(),
        nodes: stats.nodes.clone(),
        domains,
        calibration: None,
        psu_labels: stats.psu_labels.clone(),
        merged_node_ss: BTreeMap::new(),
    })
}

/// Two domains with disjoint PSUs as one, PSUs in ascending order.
fn merge_domains(a: &DomainTotals, b: &DomainTotals) -> DomainTotals {
    let (k, g) = (a.n_items, a.n_nodes);
    let mut order: Vec<(u32, &DomainTotals, usize)> = a
        .psus
        .iter()
        .enumerate()
        .map(|(pos, &psu)| (psu, a, pos))
        .chain(b.psus.iter().enumerate().map(|(pos, &psu)| (psu, b, pos)))
        .collect();
    order.sort_by_key(|&(psu, _, _)| psu);
    let mut merged = DomainTotals::new(k, g);
    for (psu, from, pos) in order {
        // A PSU with rows in both old provinces (possible in data, not in a frame) is one PSU.
        if merged.psus.last() == Some(&psu) {
            let last = merged.psus.len() - 1;
            merged.rows[last] += from.rows[pos];
            for i in 0..k {
                merged.wy[last * k + i] += from.wy[pos * k + i];
                merged.wd[last * k + i] += from.wd[pos * k + i];
                merged.nd[last * k + i] += from.nd[pos * k + i];
            }
            for i in 0..g {
                merged.any_rows[last * g + i] += from.any_rows[pos * g + i];
                merged.any_w[last * g + i] += from.any_w[pos * g + i];
            }
            continue;
        }
        merged.psus.push(psu);
        merged.rows.push(from.rows[pos]);
        merged
            .wy
            .extend_from_slice(&from.wy[pos * k..(pos + 1) * k]);
        merged
            .wd
            .extend_from_slice(&from.wd[pos * k..(pos + 1) * k]);
        merged
            .nd
            .extend_from_slice(&from.nd[pos * k..(pos + 1) * k]);
        merged
            .any_rows
            .extend_from_slice(&from.any_rows[pos * g..(pos + 1) * g]);
        merged
            .any_w
            .extend_from_slice(&from.any_w[pos * g..(pos + 1) * g]);
    }
    merged.moments = a.moments.clone();
    merged.moments.add(&b.moments);
    // Set by `reaggregate` from the file when the moments are withheld.
    if a.node_ss.is_some() || b.node_ss.is_some() {
        merged.node_ss = Some(Vec::new());
    }
    merged
}
