//! The sufficient statistics as a file (`sipas compute --write-totals` / `--totals`): every
//! published number of a release can be recomputed from it exactly, without microdata. JSON,
//! numbers in shortest round-trip form, so reading it back gives the same bits.
//!
//! Reading validates every length and index, so a damaged or hand-edited file is an error that
//! says where, never a panic.

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use crate::StatsError;
use crate::calibration::{Calibration, CalibrationBlock, DomainCalibration};
use crate::design::{Design, Fpc};
use crate::methodology::Methodology;
use crate::totals::{Area, DomainKey, DomainTotals, Moments, SufficientStats};

pub const FORMAT: &str = "sipas-totals/1";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    format: String,
    items: Vec<String>,
    nodes: Vec<String>,
    strata: Vec<StratumEntry>,
    /// Each PSU's stratum (index into `strata`) and name.
    psus: Vec<(u32, String)>,
    domains: Vec<DomainEntry>,
    calibration: Option<Vec<BlockEntry>>,
    /// Public totals of a year on an old map: Σw·u² per inner node of each domain a
    /// re-aggregation merges from several provinces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    merged_node_ss: Vec<MergedEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MergedEntry {
    /// The merged provinces' codes, sorted.
    provinces: Vec<String>,
    subgroup: Option<(String, String)>,
    /// `null` where unknown (JSON has no NaN).
    node_ss: Vec<Option<f64>>,
}

fn to_json_numbers(values: &[f64]) -> Vec<Option<f64>> {
    values.iter().map(|v| v.is_finite().then_some(*v)).collect()
}

fn from_json_numbers(values: Vec<Option<f64>>) -> Vec<f64> {
    values.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect()
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StratumEntry {
    name: String,
    /// `N_h` (PSUs in the population), or the sampling fraction when ≤ 1; none without.
    fpc: Option<f64>,
    /// A commune taken with certainty (its PSUs are respondents); absent when not.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    certainty: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DomainEntry {
    /// A province code, or `null` for the nation.
    province: Option<String>,
    subgroup: Option<(String, String)>,
    psus: Vec<u32>,
    rows: Vec<u64>,
    wy: Vec<f64>,
    wd: Vec<f64>,
    nd: Vec<u64>,
    any_rows: Vec<u64>,
    any_w: Vec<f64>,
    dd: Vec<f64>,
    yd: Vec<f64>,
    yy: Vec<f64>,
    /// Public totals: Σw·u² per inner node instead of the moments (`dd`, `yd`, `yy` empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    node_ss: Option<Vec<Option<f64>>>,
    calibration: Vec<(usize, Vec<f64>, Vec<f64>)>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockEntry {
    province: String,
    columns: Vec<String>,
    gram: Vec<f64>,
    psus: Vec<u32>,
    wx: Vec<f64>,
}

/// Writes `stats` as a totals file.
pub fn write_totals<W: Write>(stats: &SufficientStats, out: W) -> Result<(), StatsError> {
    let design = &stats.design;
    let file = File {
        format: FORMAT.into(),
        items: stats.items.clone(),
        nodes: stats.nodes.clone(),
        strata: design
            .strata
            .iter()
            .map(|s| StratumEntry {
                name: s.name.clone(),
                fpc: match s.fpc {
                    Fpc::None => None,
                    Fpc::Population(n) => Some(n),
                    Fpc::Fraction(f) => Some(f),
                },
                certainty: s.certainty,
            })
            .collect(),
        psus: design
            .psu_stratum
            .iter()
            .enumerate()
            .map(|(psu, &h)| (h, stats.psu_labels.get(psu).cloned().unwrap_or_default()))
            .collect(),
        domains: stats
            .domains
            .iter()
            .filter_map(|(key, t)| {
                let province = match &key.area {
                    Area::Province(code) => Some(code.clone()),
                    Area::National => None,
                    Area::NationalMean => return None,
                };
                Some(DomainEntry {
                    province,
                    subgroup: key.subgroup.clone(),
                    psus: t.psus.clone(),
                    rows: t.rows.clone(),
                    wy: t.wy.clone(),
                    wd: t.wd.clone(),
                    nd: t.nd.clone(),
                    any_rows: t.any_rows.clone(),
                    any_w: t.any_w.clone(),
                    dd: t.moments.dd.clone(),
                    yd: t.moments.yd.clone(),
                    yy: t.moments.yy.clone(),
                    node_ss: t.node_ss.as_deref().map(to_json_numbers),
                    calibration: t
                        .calibration
                        .iter()
                        .map(|c| (c.block, c.xy.clone(), c.xd.clone()))
                        .collect(),
                })
            })
            .collect(),
        calibration: stats.calibration.as_ref().map(|c| {
            c.blocks
                .iter()
                .map(|b| BlockEntry {
                    province: b.province.clone(),
                    columns: b.columns.clone(),
                    gram: b.gram.clone(),
                    psus: b.psus.clone(),
                    wx: b.wx.clone(),
                })
                .collect()
        }),
        merged_node_ss: stats
            .merged_node_ss
            .iter()
            .map(|((provinces, subgroup), ss)| MergedEntry {
                provinces: provinces.clone(),
                subgroup: subgroup.clone(),
                node_ss: to_json_numbers(ss),
            })
            .collect(),
    };
    serde_json::to_writer(out, &file)
        .map_err(|e| StatsError::Csv(format!("cannot write the totals: {e}")))
}

fn invalid(message: String) -> StatsError {
    StatsError::Invalid(format!("totals file: {message}"))
}

fn check_len<T>(what: &str, values: &[T], expected: usize) -> Result<(), StatsError> {
    if values.len() == expected {
        Ok(())
    } else {
        Err(invalid(format!(
            "{what} has {} values, expected {expected}",
            values.len()
        )))
    }
}

fn check_numbers(what: &str, values: &[f64]) -> Result<(), StatsError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(invalid(format!("{what}[{i}] is not a finite number"))),
        None => Ok(()),
    }
}

fn check_psus(what: &str, psus: &[u32], n_psus: usize) -> Result<(), StatsError> {
    match psus.iter().find(|&&p| p as usize >= n_psus) {
        Some(p) => Err(invalid(format!(
            "{what} names PSU {p}, but the design has {n_psus}"
        ))),
        None => Ok(()),
    }
}

/// Counts and weights that can come from responses: no PSU twice, answers and node counts at
/// most the PSU's rows, rows below 2^53 (so sums stay exact and cannot overflow), weighted sums
/// non-negative with satisfied ≤ valid.
fn check_counts(what: &str, d: &DomainEntry, k_n: usize, g_n: usize) -> Result<(), StatsError> {
    let mut seen = std::collections::HashSet::new();
    for (pos, &psu) in d.psus.iter().enumerate() {
        if !seen.insert(psu) {
            return Err(invalid(format!("{what}: PSU {psu} is listed twice")));
        }
        let rows = d.rows[pos];
        if rows > 1 << 53 {
            return Err(invalid(format!("{what}: PSU {psu} has {rows} rows")));
        }
        for k in 0..k_n {
            let i = pos * k_n + k;
            if d.nd[i] > rows {
                return Err(invalid(format!(
                    "{what}: PSU {psu}, item {k}: {} answers from {rows} rows",
                    d.nd[i]
                )));
            }
            if d.wy[i] < 0.0 || d.wd[i] < 0.0 || d.wy[i] > d.wd[i] * (1.0 + 1e-9) {
                return Err(invalid(format!(
                    "{what}: PSU {psu}, item {k}: weighted satisfied {} and valid {} must be non-negative, satisfied at most valid",
                    d.wy[i], d.wd[i]
                )));
            }
        }
        for g in 0..g_n {
            let i = pos * g_n + g;
            if d.any_rows[i] > rows || d.any_w[i] < 0.0 {
                return Err(invalid(format!(
                    "{what}: PSU {psu}, node {g}: {} rows (weight {}) from {rows} rows",
                    d.any_rows[i], d.any_w[i]
                )));
            }
        }
    }
    Ok(())
}

/// Reads a totals file; the lonely-PSU policy comes from `methodology`.
pub fn read_totals<R: Read>(
    reader: R,
    methodology: &Methodology,
) -> Result<SufficientStats, StatsError> {
    let file: File =
        serde_json::from_reader(reader).map_err(|e| invalid(format!("not a totals file ({e})")))?;
    if file.format != FORMAT {
        return Err(invalid(format!(
            "format {:?}, expected {FORMAT:?}",
            file.format
        )));
    }
    let k_n = file.items.len();
    let g_n = file.nodes.len();
    let n_psus = file.psus.len();
    for (psu, (h, _)) in file.psus.iter().enumerate() {
        if *h as usize >= file.strata.len() {
            return Err(invalid(format!(
                "PSU {psu} is in stratum {h}, but there are {} strata",
                file.strata.len()
            )));
        }
    }
    let strata = file
        .strata
        .iter()
        .map(|s| {
            let fpc = match s.fpc {
                None => Fpc::None,
                Some(v) if v.is_finite() && v > 0.0 => Fpc::from_r_value(v),
                Some(v) => {
                    return Err(invalid(format!(
                        "stratum {:?}: fpc {v} must be positive",
                        s.name
                    )));
                }
            };
            Ok((s.name.clone(), fpc))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let certain: Vec<bool> = file.strata.iter().map(|s| s.certainty).collect();
    let design = Design::new(
        strata,
        file.psus.iter().map(|(h, _)| *h).collect(),
        methodology.lonely_psu,
    )?
    .with_certainty(&certain);
    let blocks = match &file.calibration {
        None => None,
        Some(entries) => {
            let mut blocks = Vec::with_capacity(entries.len());
            for (b, e) in entries.iter().enumerate() {
                let c = e.columns.len();
                let what = format!("calibration block {b} ({})", e.province);
                check_len(&format!("{what}: gram"), &e.gram, c * c)?;
                check_len(&format!("{what}: wx"), &e.wx, e.psus.len() * c)?;
                check_numbers(&format!("{what}: gram"), &e.gram)?;
                check_numbers(&format!("{what}: wx"), &e.wx)?;
                check_psus(&what, &e.psus, n_psus)?;
                blocks.push(CalibrationBlock {
                    province: e.province.clone(),
                    columns: e.columns.clone(),
                    gram: e.gram.clone(),
                    psus: e.psus.clone(),
                    wx: e.wx.clone(),
                });
            }
            Some(Calibration { blocks })
        }
    };
    let mut domains = std::collections::BTreeMap::new();
    for (i, d) in file.domains.into_iter().enumerate() {
        let key = DomainKey {
            area: d.province.clone().map_or(Area::National, Area::Province),
            subgroup: d.subgroup.clone(),
        };
        let what = format!(
            "domain {i} ({}{})",
            key.area,
            d.subgroup
                .as_ref()
                .map(|(c, v)| format!(", {c}={v}"))
                .unwrap_or_default()
        );
        let p = d.psus.len();
        check_psus(&what, &d.psus, n_psus)?;
        check_len(&format!("{what}: rows"), &d.rows, p)?;
        for (name, values) in [("wy", &d.wy), ("wd", &d.wd)] {
            check_len(&format!("{what}: {name}"), values, p * k_n)?;
            check_numbers(&format!("{what}: {name}"), values)?;
        }
        check_len(&format!("{what}: nd"), &d.nd, p * k_n)?;
        check_len(&format!("{what}: any_rows"), &d.any_rows, p * g_n)?;
        check_len(&format!("{what}: any_w"), &d.any_w, p * g_n)?;
        check_numbers(&format!("{what}: any_w"), &d.any_w)?;
        // Public totals give each node's Σw·u² instead of the moments.
        let moments_len = match &d.node_ss {
            Some(ss) => {
                check_len(&format!("{what}: node_ss"), ss, g_n)?;
                0
            }
            None => k_n * k_n,
        };
        for (name, values) in [("dd", &d.dd), ("yd", &d.yd), ("yy", &d.yy)] {
            check_len(&format!("{what}: {name}"), values, moments_len)?;
            check_numbers(&format!("{what}: {name}"), values)?;
        }
        check_counts(&what, &d, k_n, g_n)?;
        let mut calibration = Vec::with_capacity(d.calibration.len());
        for (block, xy, xd) in d.calibration {
            let c = blocks
                .as_ref()
                .and_then(|b| b.blocks.get(block))
                .map(|b| b.columns.len())
                .ok_or_else(|| {
                    invalid(format!(
                        "{what} refers to calibration block {block}, which the file does not have"
                    ))
                })?;
            check_len(&format!("{what}: calibration xy"), &xy, k_n * c)?;
            check_len(&format!("{what}: calibration xd"), &xd, k_n * c)?;
            check_numbers(&format!("{what}: calibration xy"), &xy)?;
            check_numbers(&format!("{what}: calibration xd"), &xd)?;
            calibration.push(DomainCalibration { block, xy, xd });
        }
        let totals = DomainTotals {
            n_items: k_n,
            n_nodes: g_n,
            psus: d.psus,
            rows: d.rows,
            wy: d.wy,
            wd: d.wd,
            nd: d.nd,
            any_rows: d.any_rows,
            any_w: d.any_w,
            moments: Moments {
                dd: d.dd,
                yd: d.yd,
                yy: d.yy,
            },
            node_ss: d.node_ss.map(from_json_numbers),
            calibration,
        };
        if domains.insert(key, totals).is_some() {
            return Err(invalid(format!("{what} appears twice")));
        }
    }
    let mut merged_node_ss = std::collections::BTreeMap::new();
    for (i, m) in file.merged_node_ss.into_iter().enumerate() {
        check_len(&format!("merged_node_ss[{i}]"), &m.node_ss, g_n)?;
        let mut provinces = m.provinces;
        provinces.sort();
        merged_node_ss.insert((provinces, m.subgroup), from_json_numbers(m.node_ss));
    }
    Ok(SufficientStats {
        design,
        items: file.items,
        nodes: file.nodes,
        domains,
        calibration: blocks,
        psu_labels: file.psus.into_iter().map(|(_, label)| label).collect(),
        merged_node_ss,
    })
}
