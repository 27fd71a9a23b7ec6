//! Calibration (raking) to population margins within each province, and its variance.
//!
//! `sipas compute` rakes each province's design weights w₀ to the census totals of the
//! methodology's margins (say sex, age band, urban/rural), then trims if asked. The variance is
//! the linearization R uses for `calibrate(calfun = "raking")`: every statistic's score u is
//! replaced by its residual from a weighted regression on the margin indicators x with the
//! pre-calibration weights,
//!
//!   B̂ = (Σ w₀ x xᵀ)⁻¹ Σ w₀ x u,   e = u − xᵀB̂,
//!
//! and the usual PSU totals are taken of w·e (w the calibrated weights). Rows outside a domain
//! have u = 0 but a residual −xᵀB̂, so calibration reaches every PSU of the province.
//!
//! x holds, per province, every category of the first margin and every category but the first
//! of the others: the same column space as R's `~ sex + urban` (intercept and dummies), so the
//! residuals are the same. Everything enters through totals (per PSU Σ w·x; per province
//! Σ w₀ x xᵀ; per domain and item Σ w₀ x·y and Σ w₀ x·d), so a database can supply them too.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::StatsError;

/// `[calibration]` in the methodology.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationSettings {
    /// Microdata columns raked to the population totals, within each province.
    pub margins: Vec<String>,
    /// Trim the raked weights to [lower, upper] × the province's mean weight (R's
    /// `trimWeights` on those bounds), keeping the province total.
    #[serde(default)]
    pub trim: Option<TrimSettings>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrimSettings {
    pub lower: f64,
    pub upper: f64,
}

/// Population totals: province → margin → category → total.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Population {
    pub totals: BTreeMap<String, BTreeMap<String, Vec<(String, f64)>>>,
}

impl Population {
    /// Reads `province,margin,category,total` rows (a header first). Errors name the row and
    /// column; a category listed twice is an error.
    pub fn from_csv<R: Read>(reader: R) -> Result<Self, StatsError> {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(reader);
        let headers = csv
            .headers()
            .map_err(|e| StatsError::Csv(format!("population: cannot read the header: {e}")))?
            .clone();
        let names: Vec<String> = headers
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').trim().to_owned())
            .collect();
        let column = |name: &str| {
            names
                .iter()
                .position(|n| n == name)
                .ok_or_else(|| StatsError::Input {
                    row: 1,
                    column: name.into(),
                    message: "population file: required column is missing".into(),
                })
        };
        let (province, margin, category, total) = (
            column("province")?,
            column("margin")?,
            column("category")?,
            column("total")?,
        );
        let mut population = Population::default();
        for (i, record) in csv.records().enumerate() {
            let row = i as u64 + 2;
            let record =
                record.map_err(|e| StatsError::Csv(format!("population, row {row}: {e}")))?;
            let get = |c: usize| record.get(c).unwrap_or("").trim();
            let value = get(total);
            let amount: f64 = value.parse().map_err(|_| StatsError::Input {
                row,
                column: "total".into(),
                message: format!("population file: {value:?} is not a number"),
            })?;
            if !(amount.is_finite() && amount >= 0.0) {
                return Err(StatsError::Input {
                    row,
                    column: "total".into(),
                    message: format!("population file: {value} must be a non-negative number"),
                });
            }
            for (c, name) in [
                (province, "province"),
                (margin, "margin"),
                (category, "category"),
            ] {
                if get(c).is_empty() {
                    return Err(StatsError::Input {
                        row,
                        column: name.into(),
                        message: "population file: is empty".into(),
                    });
                }
            }
            let categories = population
                .totals
                .entry(get(province).to_owned())
                .or_default()
                .entry(get(margin).to_owned())
                .or_default();
            if categories.iter().any(|(c, _)| c == get(category)) {
                return Err(StatsError::Input {
                    row,
                    column: "category".into(),
                    message: format!(
                        "population file: province {}, margin {}, category {} is listed twice",
                        get(province),
                        get(margin),
                        get(category)
                    ),
                });
            }
            categories.push((get(category).to_owned(), amount));
        }
        Ok(population)
    }
}

/// One province's calibration model and its design-level totals.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationBlock {
    pub province: String,
    /// Column names (`margin=category`).
    pub columns: Vec<String>,
    /// Σ w₀ x xᵀ, row-major `c × c`.
    pub gram: Vec<f64>,
    /// PSUs with rows of the province and, per PSU, Σ w·x (calibrated weights), `c` each.
    pub psus: Vec<u32>,
    pub wx: Vec<f64>,
}

/// Every province's block; domains refer to blocks by index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Calibration {
    pub blocks: Vec<CalibrationBlock>,
}

/// A domain's share of one block: Σ w₀ x_c y_k and Σ w₀ x_c d_k over its rows, `[k * c + col]`.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainCalibration {
    pub block: usize,
    pub xy: Vec<f64>,
    pub xd: Vec<f64>,
}

/// Accumulates the design-level totals of the blocks while rows are added.
#[derive(Debug, Default)]
pub struct BlockBuilder {
    blocks: Vec<CalibrationBlock>,
    psu_positions: Vec<HashMap<u32, usize>>,
}

impl BlockBuilder {
    pub fn add_block(&mut self, province: String, columns: Vec<String>) -> usize {
        let c = columns.len();
        self.blocks.push(CalibrationBlock {
            province,
            columns,
            gram: vec![0.0; c * c],
            psus: Vec::new(),
            wx: Vec::new(),
        });
        self.psu_positions.push(HashMap::new());
        self.blocks.len() - 1
    }

    /// One row: its block, PSU, design weight w₀, calibrated weight w and active columns.
    pub fn add_row(&mut self, block: usize, psu: u32, w0: f64, w: f64, active: &[usize]) {
        let b = &mut self.blocks[block];
        let c = b.columns.len();
        for &i in active {
            for &j in active {
                b.gram[i * c + j] += w0;
            }
        }
        let pos = *self.psu_positions[block].entry(psu).or_insert_with(|| {
            b.psus.push(psu);
            b.wx.extend(std::iter::repeat_n(0.0, c));
            b.psus.len() - 1
        });
        for &i in active {
            b.wx[pos * c + i] += w;
        }
    }

    pub fn finish(self) -> Calibration {
        Calibration {
            blocks: self.blocks,
        }
    }
}

/// The inverse of a symmetric positive definite matrix (Gauss–Jordan with partial pivoting);
/// `None` when it is singular (a margin category that is a copy of another).
pub fn invert(matrix: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut a = matrix.to_vec();
    let mut inv = vec![0.0; n * n];
    for i in 0..n {
        inv[i * n + i] = 1.0;
    }
    let scale = (0..n).map(|i| a[i * n + i].abs()).fold(0.0, f64::max);
    for col in 0..n {
        let pivot =
            (col..n).max_by(|&x, &y| a[x * n + col].abs().total_cmp(&a[y * n + col].abs()))?;
        if a[pivot * n + col].abs() <= 1e-12 * scale {
            return None;
        }
        for k in 0..n {
            a.swap(col * n + k, pivot * n + k);
            inv.swap(col * n + k, pivot * n + k);
        }
        let d = a[col * n + col];
        for k in 0..n {
            a[col * n + k] /= d;
            inv[col * n + k] /= d;
        }
        for row in 0..n {
            if row != col {
                let f = a[row * n + col];
                if f != 0.0 {
                    for k in 0..n {
                        a[row * n + k] -= f * a[col * n + k];
                        inv[row * n + k] -= f * inv[col * n + k];
                    }
                }
            }
        }
    }
    Some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverts_and_detects_singular_matrices() {
        let m = [4.0, 1.0, 1.0, 3.0];
        let inv = invert(&m, 2).unwrap();
        let expected = [3.0 / 11.0, -1.0 / 11.0, -1.0 / 11.0, 4.0 / 11.0];
        for (a, b) in inv.iter().zip(expected) {
            assert!((a - b).abs() < 1e-15);
        }
        assert!(invert(&[1.0, 2.0, 2.0, 4.0], 2).is_none());
    }

    #[test]
    fn population_errors_name_row_and_column() {
        let text = "province,margin,category,total\n01,sex,F,10\n01,sex,F,12\n";
        let err = Population::from_csv(text.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("row 3, column category:") && err.contains("twice"),
            "{err}"
        );
        let text = "province,margin,category,total\n01,sex,F,many\n";
        let err = Population::from_csv(text.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("row 2, column total:"), "{err}");
        let text = "province,margin,total\n";
        let err = Population::from_csv(text.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("column category"), "{err}");
    }
}
