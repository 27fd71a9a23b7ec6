//! Calibration (raking) to population margins within each province, and its variance.
//!
//! `sipas compute` rakes each province's design weights w₀ to the census totals of the
//! methodology's margins (say sex, age band, urban/rural), optionally keeping every adjustment
//! g = w / w₀ within bounds, exactly as R's `calibrate(calfun = "raking", bounds = ...)` does
//! (Newton steps on the raking multipliers, [`rake_bounded`]). The variance is
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
    /// Bounds on the calibration adjustment g = w / w₀ (R's `bounds`): raking then hits the
    /// totals while no weight moves further from its design weight than this.
    #[serde(default)]
    pub bounds: Option<Bounds>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
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

/// Raking by R's `grake` with `cal.raking`: find η so that the adjustments
/// g_i = clamp(exp(x_iᵀη), lower, upper) give Σ w₀ x g = `totals`, by Newton steps on η
/// (step halving if a step overflows). `active[i]` lists the columns where row i's x is 1.
/// Without `bounds` they are R's default, (−∞, ∞): g = exp(x_iᵀη) can fall as low as the
/// totals need. As R does, when every total is over 20 times its sample total the weights are
/// first scaled by the mean of those ratios (the bounds then apply to the scaled weights).
///
/// With bounds, R's Newton path can stall short of a solution that lies inside them (its rule
/// drops a row from the Jacobian once g < exp(lower − 1)): when it does and the unbounded
/// solution keeps every g within the bounds, that solution is returned (it meets the totals
/// and the bounds; R's `calibrate` stops with an error there).
/// Returns the calibrated weights, or — when the totals cannot be reached (within the bounds)
/// — `Err` with the weights of the last step, so the caller can say how far each total is.
pub fn rake_bounded(
    w0: &[f64],
    active: &[Vec<usize>],
    totals: &[f64],
    bounds: Option<Bounds>,
) -> Result<Vec<f64>, Vec<f64>> {
    let c = totals.len();
    let mut ww = w0.to_vec();
    let mut sample = vec![0.0; c];
    for (w, cols) in ww.iter().zip(active) {
        for &j in cols {
            sample[j] += w;
        }
    }
    let scales: Vec<f64> = totals.iter().zip(&sample).map(|(t, s)| t / s).collect();
    if scales.iter().all(|&r| r > 20.0) {
        let scale = scales.iter().sum::<f64>() / c as f64;
        ww.iter_mut().for_each(|w| *w *= scale);
    }
    // R's default bounds = c(-Inf, Inf). (The bounds (0, ∞) once used here made R's derivative
    // rule below zero for every g under e⁻¹, so provinces R calibrates were refused.)
    let unbounded = (f64::NEG_INFINITY, f64::INFINITY);
    let Some(b) = bounds else {
        return newton(&ww, active, totals, unbounded);
    };
    newton(&ww, active, totals, (b.lower, b.upper)).or_else(|stalled| {
        match newton(&ww, active, totals, unbounded) {
            Ok(weights)
                if weights
                    .iter()
                    .zip(&ww)
                    .all(|(w, start)| (b.lower..=b.upper).contains(&(w / start))) =>
            {
                Ok(weights)
            }
            _ => Err(stalled),
        }
    })
}

/// R's Newton iteration of `grake` for adjustments clamped to `(lower, upper)`.
fn newton(
    ww: &[f64],
    active: &[Vec<usize>],
    totals: &[f64],
    (lower, upper): (f64, f64),
) -> Result<Vec<f64>, Vec<f64>> {
    const EPSILON: f64 = 1e-12;
    const MAX_ITERATIONS: usize = 1000;
    let c = totals.len();
    // R's cal.raking: g = clamp(exp(u), lower, upper); its derivative is taken as exp(u) while
    // lower − 1 < u < upper − 1 (R's own rule, kept so the Newton path is R's).
    let adjust = |eta: &[f64], cols: &[usize]| {
        let u: f64 = cols.iter().map(|&j| eta[j]).sum();
        let e = u.exp();
        let derivative = if u > lower - 1.0 && u < upper - 1.0 {
            e
        } else {
            0.0
        };
        (e.clamp(lower, upper), derivative)
    };
    let misfit = |eta: &[f64]| -> Vec<f64> {
        let mut m = totals.to_vec();
        for (w, cols) in ww.iter().zip(active) {
            let (g, _) = adjust(eta, cols);
            for &j in cols {
                m[j] -= w * g;
            }
        }
        m
    };
    let converged = |m: &[f64]| {
        m.iter()
            .zip(totals)
            .all(|(m, t)| m.abs() / (1.0 + t.abs()) < EPSILON)
    };
    let mut eta = vec![0.0; c];
    for _ in 0..MAX_ITERATIONS {
        let mut jacobian = vec![0.0; c * c];
        for (w, cols) in ww.iter().zip(active) {
            let (_, derivative) = adjust(&eta, cols);
            for &i in cols {
                for &j in cols {
                    jacobian[i * c + j] += w * derivative;
                }
            }
        }
        let m = misfit(&eta);
        if converged(&m) {
            break;
        }
        // R uses MASS::ginv: rows on a bound drop out of the Jacobian, which can leave it
        // singular.
        let inverse = pseudo_inverse(&jacobian, c);
        let mut step: Vec<f64> = (0..c)
            .map(|i| (0..c).map(|j| inverse[i * c + j] * m[j]).sum())
            .collect();
        let mut next: Vec<f64> = eta.iter().zip(&step).map(|(e, d)| e + d).collect();
        // Halve a step that overflows exp.
        let mut halvings = 0;
        while active.iter().any(|cols| !adjust(&next, cols).0.is_finite()) && halvings < 60 {
            step.iter_mut().for_each(|d| *d /= 2.0);
            next = eta.iter().zip(&step).map(|(e, d)| e + d).collect();
            halvings += 1;
        }
        eta = next;
    }
    let weights: Vec<f64> = ww
        .iter()
        .zip(active)
        .map(|(w, cols)| w * adjust(&eta, cols).0)
        .collect();
    if converged(&misfit(&eta)) {
        Ok(weights)
    } else {
        Err(weights)
    }
}

/// Moore–Penrose inverse of a symmetric positive semi-definite matrix (cyclic Jacobi
/// eigen-decomposition; eigenvalues below 256·ε times the largest are dropped, as MASS::ginv).
pub fn pseudo_inverse(matrix: &[f64], n: usize) -> Vec<f64> {
    let mut a = matrix.to_vec();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j] * a[i * n + j])
            .sum();
        let diag: f64 = (0..n).map(|i| a[i * n + i] * a[i * n + i]).sum();
        if off <= 1e-30 * diag.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let eigen: Vec<f64> = (0..n).map(|i| a[i * n + i]).collect();
    let largest = eigen.iter().fold(0.0f64, |m, e| m.max(e.abs()));
    let tolerance = 256.0 * f64::EPSILON * largest;
    let mut inverse = vec![0.0; n * n];
    for (k, &e) in eigen.iter().enumerate() {
        if e.abs() > tolerance {
            for i in 0..n {
                for j in 0..n {
                    inverse[i * n + j] += v[i * n + k] * v[j * n + k] / e;
                }
            }
        }
    }
    inverse
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
    fn bounded_raking_takes_the_solution_inside_the_bounds_where_r_stalls() {
        // One margin, two cells of ten rows: cell 0 needs g = 0.4, inside [0.3, 1.7], but
        // below exp(0.3 − 1) ≈ 0.50, where R's rule zeroes the derivative and its path stalls.
        let w0 = vec![1.0; 20];
        let active: Vec<Vec<usize>> = (0..20).map(|i| vec![usize::from(i >= 10)]).collect();
        let totals = [4.0, 10.0];
        let bounds = Some(Bounds {
            lower: 0.3,
            upper: 1.7,
        });
        let weights = rake_bounded(&w0, &active, &totals, bounds).expect("inside the bounds");
        assert!(weights[..10].iter().all(|w| (w - 0.4).abs() < 1e-12));
        assert!(weights[10..].iter().all(|w| (w - 1.0).abs() < 1e-12));
        // Needing g = 0.2, outside the bounds: refused.
        assert!(rake_bounded(&w0, &active, &[2.0, 10.0], bounds).is_err());
        // Unbounded, as R's default: reached.
        let free = rake_bounded(&w0, &active, &[2.0, 10.0], None).expect("unbounded");
        assert!((free[0] - 0.2).abs() < 1e-12);
    }

    #[test]
    fn bounds_apply_after_rs_rescaling_when_every_total_is_over_twenty_times() {
        // R: svydesign(ids = ~psu, weights = ~1) of 20 rows, x = a (10) or b (10),
        // calibrate(~x, c(1400, 1000), calfun = "raking", bounds = ...): both totals are over
        // 20 times the sample's (70, 100), so R first scales by their mean, 85, and warns. With
        // bounds (0.2, 1.5) R gives 40 and 100 (g = 0.47 and 1.18 after scaling); with (0.5,
        // 1.5) "Calibration failed". (R 4.2.2, survey 4.1-1.)
        let w0 = vec![1.0; 20];
        let active: Vec<Vec<usize>> = (0..20)
            .map(|i| if i < 10 { vec![0] } else { vec![0, 1] })
            .collect();
        let totals = [1400.0, 1000.0];
        let bounds = |lower, upper| Some(Bounds { lower, upper });
        let weights = rake_bounded(&w0, &active, &totals, bounds(0.2, 1.5)).expect("as R");
        assert!(weights[..10].iter().all(|w| (w - 40.0).abs() < 1e-9));
        assert!(weights[10..].iter().all(|w| (w - 100.0).abs() < 1e-9));
        assert!(rake_bounded(&w0, &active, &totals, bounds(0.5, 1.5)).is_err());
        // (0.4, 1.5): R's path stalls (g = 0.47 is below exp(0.4 - 1)); the unbounded solution
        // is inside the bounds, so the engine gives it.
        let weights = rake_bounded(&w0, &active, &totals, bounds(0.4, 1.5)).expect("inside");
        assert!((weights[0] - 40.0).abs() < 1e-9);
    }

    #[test]
    fn inverts_and_detects_singular_matrices() {
        let m = [4.0, 1.0, 1.0, 3.0];
        let inv = invert(&m, 2).unwrap();
        let expected = [3.0 / 11.0, -1.0 / 11.0, -1.0 / 11.0, 4.0 / 11.0];
        for (a, b) in inv.iter().zip(expected) {
            assert!((a - b).abs() < 1e-15);
        }
        assert!(invert(&[1.0, 2.0, 2.0, 4.0], 2).is_none());
        // The pseudo-inverse agrees where the inverse exists, and of [[1, 2], [2, 4]]
        // (rank one, v = (1, 2)/√5, λ = 5) is v vᵀ / 5 = [[1, 2], [2, 4]] / 25.
        for (a, b) in pseudo_inverse(&m, 2).iter().zip(expected) {
            assert!((a - b).abs() < 1e-14);
        }
        for (a, b) in pseudo_inverse(&[1.0, 2.0, 2.0, 4.0], 2).iter().zip([
            1.0 / 25.0,
            2.0 / 25.0,
            2.0 / 25.0,
            4.0 / 25.0,
        ]) {
            assert!((a - b).abs() < 1e-14, "{a} {b}");
        }
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
