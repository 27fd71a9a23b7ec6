//! What of a release's sufficient statistics the public may have.
//!
//! The full totals ([`crate::totals`]) reproduce every published number, but a review recovered
//! single respondents from them: with weights constant within a stratum, the per-commune counts
//! and the item × item moments of a province difference down to one respondent's whole
//! satisfied/answered profile. The public form therefore keeps
//! - the province and national domains only (a subgroup's share of a commune is often one
//!   person),
//! - per PSU the per-item counts and weighted sums (a commune's table of marginals, with no link
//!   between items), only when every PSU has at least `min_psu_rows` respondents and no
//!   commune × item cell (satisfied, not satisfied, not answering) has 1 to `min_psu_rows - 1`,
//! - per domain and inner node the single number Σw·u² the composite design effect needs
//!   instead of the K × K moments (it follows from the published deff, se and n anyway),
//! - for a year on an old map, the same number for each domain a re-aggregation merges.
//!
//! Calibrated weights vary inside a commune by calibration cell, so their weighted sums could be
//! decoded into counts by cell: calibrated totals are not made public. Rows by subgroup are not
//! published at all (the server leaves them out of drafts and releases; `sipas compute` on the
//! microdata or the full totals still gives them):
//! any file that reproduces them exactly needs per-commune × subgroup totals, most of them one
//! to four people (93% of the commune × sex × age band × item cells of the national
//! demonstration wave, at 91 a commune), and a second review decoded those rows'
//! full-precision standard errors into such counts with the per-commune totals, recovering
//! answers of respondents alone in their commune × sex or age band (at least 83 respondents and
//! 1,601 answers, 9 whole profiles, in one demo year). Two public versions of the same year are
//! checked against each other with [`differencing_risks`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::StatsError;
use crate::estimate::node_sums_of_squares;
use crate::methodology::Methodology;
use crate::totals::{Area, DomainKey, Moments, SufficientStats, reaggregate};

/// Why a release's totals cannot be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Withheld {
    /// The weights were calibrated (they vary within a commune).
    Calibrated,
    /// These communes (stratum/name) have fewer respondents than the minimum.
    SmallCommunes(Vec<String>),
    /// In these commune × item cells ("stratum/name: item") the satisfied, the not satisfied
    /// or the unanswered are 1 to `min - 1` people: a commune's table of marginals would say
    /// how those few answered.
    SmallCells(Vec<String>),
    /// Against an earlier public version of the year, these communes changed by too few
    /// respondents: subtracting one file from the other would isolate them.
    Differencing(Vec<String>),
}

/// The first five of `items` and how many more, in no language (a page shows it in either):
/// "a, b, c, d, e (+7)".
pub fn listed(items: &[String]) -> String {
    let shown: Vec<&str> = items.iter().take(5).map(String::as_str).collect();
    match items.len().saturating_sub(shown.len()) {
        0 => shown.join(", "),
        more => format!("{} (+{more})", shown.join(", ")),
    }
}

impl fmt::Display for Withheld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Withheld::Calibrated => f.write_str(
                "calibrated weights vary within a commune, so its weighted totals would give \
                 counts by calibration cell",
            ),
            Withheld::SmallCommunes(psus) => write!(
                f,
                "{} commune(s) have too few respondents: {}",
                psus.len(),
                listed(psus)
            ),
            Withheld::SmallCells(cells) => write!(
                f,
                "{} commune × item cell(s) have 1 to 4 people satisfied, not satisfied or not \
                 answering: {}",
                cells.len(),
                listed(cells)
            ),
            Withheld::Differencing(psus) => write!(
                f,
                "{} commune(s) differ from an earlier version of this year by too few \
                 respondents: {}",
                psus.len(),
                listed(psus)
            ),
        }
    }
}

/// "stratum/commune" of a PSU.
fn psu_name(stats: &SufficientStats, psu: u32) -> String {
    let stratum = stats
        .design
        .psu_stratum
        .get(psu as usize)
        .and_then(|&h| stats.design.strata.get(h as usize))
        .map(|s| s.name.as_str())
        .unwrap_or("?");
    let label = stats
        .psu_labels
        .get(psu as usize)
        .map(String::as_str)
        .unwrap_or("?");
    format!("{stratum}/{label}")
}

/// A crosswalk: an old province code's code on the new map.
pub type NewCode<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The public form of `stats` (see the module documentation), or why there is none.
/// `new_code`, for a year on an old map, is the crosswalk its results are re-aggregated with.
pub fn public_totals(
    stats: &SufficientStats,
    methodology: &Methodology,
    min_psu_rows: u64,
    new_code: Option<NewCode<'_>>,
) -> Result<Result<SufficientStats, Withheld>, StatsError> {
    if stats.calibration.is_some() {
        return Ok(Err(Withheld::Calibrated));
    }
    let mut public = stats.clone();
    public.domains.retain(|key, _| {
        key.subgroup.is_none() && matches!(key.area, Area::Province(_) | Area::National)
    });
    let small: BTreeSet<String> = public
        .domains
        .values()
        .flat_map(|t| t.psus.iter().zip(&t.rows))
        .filter(|&(_, &rows)| rows < min_psu_rows)
        .map(|(&psu, _)| psu_name(stats, psu))
        .collect();
    if !small.is_empty() {
        return Ok(Err(Withheld::SmallCommunes(small.into_iter().collect())));
    }
    let cells = small_cells(stats, &public, min_psu_rows);
    if !cells.is_empty() {
        return Ok(Err(Withheld::SmallCells(cells)));
    }
    if let Some(new_code) = new_code {
        let mut olds: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for key in public.domains.keys() {
            if let Area::Province(old) = &key.area
                && let Some(new) = new_code(old)
            {
                olds.entry(new).or_default().push(old.clone());
            }
        }
        let merged = reaggregate(&public, new_code)?;
        for (key, ss) in node_sums_of_squares(&merged, methodology)? {
            if let Area::Province(new) = &key.area
                && let Some(mut codes) = olds.remove(new)
                && codes.len() > 1
            {
                codes.sort();
                public.merged_node_ss.insert((codes, None), ss);
            }
        }
    }
    let sums = node_sums_of_squares(&public, methodology)?;
    for (key, totals) in public.domains.iter_mut() {
        totals.node_ss = sums.get(key).cloned();
        totals.moments = Moments::default();
    }
    Ok(Ok(public))
}

/// The commune × item cells of the public domains where the satisfied, the not satisfied or
/// those who did not answer number 1 to `min - 1`. Counts of satisfied answers follow from
/// Σw·y / (Σw·d / n_d) when weights are constant within a commune (weights from the frame
/// always are); with varying weights that is the nearest count, which is what the rule needs.
fn small_cells(stats: &SufficientStats, public: &SufficientStats, min: u64) -> Vec<String> {
    let small = |count: u64| count > 0 && count < min;
    let mut found = BTreeSet::new();
    for totals in public.domains.values() {
        let k = totals.n_items;
        for (pos, (&psu, &rows)) in totals.psus.iter().zip(&totals.rows).enumerate() {
            for item in 0..k {
                let i = pos * k + item;
                let answered = totals.nd[i];
                let satisfied = if answered > 0 && totals.wd[i] > 0.0 {
                    (totals.wy[i] * answered as f64 / totals.wd[i]).round() as u64
                } else {
                    0
                };
                if small(satisfied)
                    || small(answered.saturating_sub(satisfied))
                    || small(rows.saturating_sub(answered))
                {
                    let name = stats.items.get(item).map(String::as_str).unwrap_or("?");
                    found.insert(format!("{}: {name}", psu_name(stats, psu)));
                }
            }
        }
    }
    found.into_iter().collect()
}

/// Communes ("stratum/name") whose respondents in some published domain (a province, the
/// nation) differ between two totals (public or full) of the same year by more than none and fewer than `min_psu_rows`.
pub fn differencing_risks(
    current: &SufficientStats,
    earlier: &SufficientStats,
    min_psu_rows: u64,
) -> Vec<String> {
    let rows = |stats: &SufficientStats| {
        let mut rows: BTreeMap<(DomainKey, String), u64> = BTreeMap::new();
        // The published domains only (full totals also hold subgroups, never published).
        let published = stats.domains.iter().filter(|(key, _)| {
            key.subgroup.is_none() && matches!(key.area, Area::Province(_) | Area::National)
        });
        for (key, totals) in published {
            for (&psu, &n) in totals.psus.iter().zip(&totals.rows) {
                rows.insert((key.clone(), psu_name(stats, psu)), n);
            }
        }
        rows
    };
    let (now, before) = (rows(current), rows(earlier));
    let mut risky = BTreeSet::new();
    for key in now.keys().chain(before.keys()) {
        let a = now.get(key).copied().unwrap_or(0);
        let b = before.get(key).copied().unwrap_or(0);
        if a != b && a.abs_diff(b) < min_psu_rows {
            risky.insert(key.1.clone());
        }
    }
    risky.into_iter().collect()
}
