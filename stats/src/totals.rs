//! Per-PSU sufficient statistics: for every domain, present PSU and item, Σw·y (weighted
//! satisfied answers), Σw·d (weighted valid answers) and the count of valid answers. Every
//! published number is a function of these, so they can come from one database GROUP BY as well
//! as from a microdata file.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

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

/// Totals of one domain over the PSUs that have at least one row in it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DomainTotals {
    pub n_items: usize,
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
}

impl DomainTotals {
    pub fn new(n_items: usize) -> Self {
        Self {
            n_items,
            ..Self::default()
        }
    }

    /// Appends a PSU's totals; `items` holds `(Σw·y, Σw·d, count)` per item.
    pub fn push_psu(&mut self, psu: u32, rows: u64, items: &[(f64, f64, u64)]) {
        self.psus.push(psu);
        self.rows.push(rows);
        for &(wy, wd, nd) in items {
            self.wy.push(wy);
            self.wd.push(wd);
            self.nd.push(nd);
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
    pub domains: BTreeMap<DomainKey, DomainTotals>,
}

/// Accumulates row-level data into [`DomainTotals`]. Domains are numbered as they are added, so
/// the hot loop works with indices, not keys.
pub struct TotalsBuilder {
    n_items: usize,
    domains: Vec<(DomainKey, DomainAccumulator)>,
}

/// One valid or missing answer: `None` = no valid answer, `Some(true)` = satisfied.
pub type Answer = Option<bool>;

struct DomainAccumulator {
    positions: HashMap<u32, usize>,
    /// Rows of a PSU usually come together: the last PSU's position saves a lookup.
    last: Option<(u32, usize)>,
    totals: DomainTotals,
}

impl TotalsBuilder {
    pub fn new(n_items: usize) -> Self {
        Self {
            n_items,
            domains: Vec::new(),
        }
    }

    /// Adds a domain and returns its index. Each key must be added once.
    pub fn add_domain(&mut self, key: DomainKey) -> usize {
        self.domains.push((
            key,
            DomainAccumulator {
                positions: HashMap::new(),
                last: None,
                totals: DomainTotals::new(self.n_items),
            },
        ));
        self.domains.len() - 1
    }

    /// Adds one row with weight `w` in PSU `psu` to domain `domain`.
    pub fn add_row(&mut self, domain: usize, psu: u32, w: f64, answers: &[Answer]) {
        let n_items = self.n_items;
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
    }

    pub fn finish(self) -> BTreeMap<DomainKey, DomainTotals> {
        self.domains
            .into_iter()
            .map(|(key, acc)| (key, acc.totals))
            .collect()
    }
}
