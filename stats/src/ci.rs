//! Confidence intervals for a proportion (or a mean of proportions) from its design-based
//! estimate, variance and degrees of freedom, as R's `svyciprop`.

use serde::{Deserialize, Serialize};

use crate::distributions::{beta_quantile, t_quantile};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CiMethod {
    /// Wald interval on the logit scale (R's default; for linearization designs equal to xlogit).
    #[default]
    Logit,
    /// The same interval reached through `svycontrast` on the logit, as R's "xlogit".
    Xlogit,
    /// Korn–Graubard: a Clopper–Pearson interval on the df-adjusted effective sample size.
    Beta,
    /// Wald on the proportion scale, with t on the design df.
    Mean,
    /// Wilson score interval on the effective sample size (R survey ≥ 4.5).
    Wilson,
    /// Wald on the arcsine-square-root scale.
    Asin,
}

/// What an interval is computed from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntervalInput {
    pub estimate: f64,
    pub variance: f64,
    /// Design degrees of freedom of the (sub)design.
    pub df: f64,
    /// Rows in the (sub)design (R's `nrow(design)`), used by the beta method and the fallback.
    pub n: f64,
    /// Confidence level, e.g. 0.95.
    pub level: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
    /// True when the estimate sits at 0 or 1 (or has no variance) and the exact fallback was used.
    pub degenerate: bool,
}

/// Computes the interval. At an estimate of exactly 0 or 1 no method of `svyciprop` is defined
/// (its effective sample size is 0/0); we then publish the Korn–Graubard interval with the
/// effective size set to `n` (Clopper–Pearson on n·(t_{n−1}/t_df)², as the NCHS standards do)
/// and mark the cell `degenerate`. A zero variance for 0 < p < 1, or fewer than one degree of
/// freedom, gives no interval (NaN) rather than an invented one.
pub fn interval(method: CiMethod, input: IntervalInput) -> Interval {
    let IntervalInput {
        estimate: p,
        variance: v,
        df,
        n,
        level,
    } = input;
    if !p.is_finite() || !v.is_finite() {
        return Interval {
            low: f64::NAN,
            high: f64::NAN,
            degenerate: false,
        };
    }
    let alpha = 1.0 - level;
    let none = Interval {
        low: f64::NAN,
        high: f64::NAN,
        degenerate: false,
    };
    if df.is_nan() || df < 1.0 {
        return none;
    }
    if p <= 0.0 || p >= 1.0 {
        return exact_fallback(p, n, df, alpha);
    }
    if v <= 0.0 {
        return none;
    }
    let se = v.sqrt();
    let t = t_quantile(1.0 - alpha / 2.0, df);
    let (low, high) = match method {
        CiMethod::Mean => (p - t * se, p + t * se),
        CiMethod::Logit | CiMethod::Xlogit => {
            let centre = (p / (1.0 - p)).ln();
            let half = t * se / (p * (1.0 - p));
            (expit(centre - half), expit(centre + half))
        }
        CiMethod::Asin => {
            let centre = p.sqrt().asin();
            let half = t * se / (2.0 * (p * (1.0 - p)).sqrt());
            ((centre - half).sin().powi(2), (centre + half).sin().powi(2))
        }
        CiMethod::Beta => {
            let ratio = t_quantile(alpha / 2.0, n - 1.0) / t_quantile(alpha / 2.0, df);
            let n_eff = p * (1.0 - p) / v * ratio * ratio;
            (
                beta_quantile(alpha / 2.0, n_eff * p, n_eff * (1.0 - p) + 1.0),
                beta_quantile(1.0 - alpha / 2.0, n_eff * p + 1.0, n_eff * (1.0 - p)),
            )
        }
        CiMethod::Wilson => {
            let n_eff = p * (1.0 - p) / v;
            let t2 = t * t;
            let centre = p + t2 / (2.0 * n_eff);
            let half = t * (p * (1.0 - p) / n_eff + t2 / (4.0 * n_eff * n_eff)).sqrt();
            let scale = 1.0 + t2 / n_eff;
            ((centre - half) / scale, (centre + half) / scale)
        }
    };
    Interval {
        low,
        high,
        degenerate: false,
    }
}

fn expit(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Korn and Graubard's degrees-of-freedom factor (t_{n−1} / t_df)² on an effective size.
fn df_factor(n: f64, df: f64, alpha: f64) -> f64 {
    let ratio = t_quantile(alpha / 2.0, n - 1.0) / t_quantile(alpha / 2.0, df);
    ratio * ratio
}

/// Korn–Graubard at p = 0 or 1: Clopper–Pearson with the effective size n·(t_{n−1}/t_df)².
fn exact_fallback(p: f64, n: f64, df: f64, alpha: f64) -> Interval {
    let n_star = if n > 1.0 {
        n * df_factor(n, df, alpha)
    } else {
        n
    };
    let (low, high) = if p <= 0.0 {
        (0.0, beta_quantile(1.0 - alpha / 2.0, 1.0, n_star))
    } else {
        (beta_quantile(alpha / 2.0, n_star, 1.0), 1.0)
    };
    Interval {
        low,
        high,
        degenerate: true,
    }
}

/// The Korn–Graubard interval as the NCHS presentation standards compute it (CDC's
/// surveytable): effective size p(1−p)/V (n at p = 0 or 1) times the df factor, then capped
/// at n.
pub fn korn_graubard_nchs(input: IntervalInput) -> Interval {
    let IntervalInput {
        estimate: p,
        variance: v,
        df,
        n,
        level,
    } = input;
    let alpha = 1.0 - level;
    if df.is_nan() || df < 1.0 || !p.is_finite() {
        return Interval {
            low: f64::NAN,
            high: f64::NAN,
            degenerate: false,
        };
    }
    if p <= 0.0 || p >= 1.0 {
        return exact_fallback(p, n, df, alpha);
    }
    let n_star = (p * (1.0 - p) / v * df_factor(n, df, alpha)).min(n);
    Interval {
        low: beta_quantile(alpha / 2.0, n_star * p, n_star * (1.0 - p) + 1.0),
        high: beta_quantile(1.0 - alpha / 2.0, n_star * p + 1.0, n_star * (1.0 - p)),
        degenerate: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(p: f64, v: f64) -> IntervalInput {
        IntervalInput {
            estimate: p,
            variance: v,
            df: 100.0,
            n: 101.0,
            level: 0.95,
        }
    }

    #[test]
    fn every_method_brackets_the_estimate() {
        for method in [
            CiMethod::Logit,
            CiMethod::Xlogit,
            CiMethod::Beta,
            CiMethod::Mean,
            CiMethod::Wilson,
            CiMethod::Asin,
        ] {
            let ci = interval(method, input(0.8, 0.0016));
            assert!(ci.low < 0.8 && 0.8 < ci.high, "{method:?}: {ci:?}");
            assert!(!ci.degenerate);
        }
    }

    #[test]
    fn wilson_on_srs_matches_the_closed_form() {
        // With V = p(1−p)/n the effective n is n, and the interval is Wilson's with t on df.
        let (p, n) = (0.3f64, 50.0f64);
        let ci = interval(
            CiMethod::Wilson,
            IntervalInput {
                estimate: p,
                variance: p * (1.0 - p) / n,
                df: 1e9,
                n,
                level: 0.95,
            },
        );
        let z = 1.959_963_984_540_054f64;
        let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
        let half = z / (1.0 + z * z / n) * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
        assert!((ci.low - (centre - half)).abs() < 1e-9);
        assert!((ci.high - (centre + half)).abs() < 1e-9);
    }

    #[test]
    fn degenerate_cells_fall_back_to_clopper_pearson() {
        let ci = interval(
            CiMethod::Logit,
            IntervalInput {
                estimate: 1.0,
                variance: 0.0,
                df: 9.0,
                n: 10.0,
                level: 0.95,
            },
        );
        assert!(ci.degenerate);
        assert_eq!(ci.high, 1.0);
        // With df = n − 1 the Korn–Graubard factor is 1: qbeta(0.025, 10, 1) = 0.025^(1/10).
        assert!((ci.low - 0.025f64.powf(0.1)).abs() < 1e-12);
        // With fewer df the effective size shrinks and the interval widens:
        // n* = 10·(qt(0.025, 9)/qt(0.025, 3))² = 10·(2.262157/3.182446)² = 5.05272...
        let few = interval(
            CiMethod::Logit,
            IntervalInput {
                estimate: 1.0,
                variance: 0.0,
                df: 3.0,
                n: 10.0,
                level: 0.95,
            },
        );
        let n_star = 10.0 * (2.262_157_162_740_992f64 / 3.182_446_305_284_263).powi(2);
        assert!(
            (few.low - 0.025f64.powf(1.0 / n_star)).abs() < 1e-9,
            "{few:?}"
        );
    }

    #[test]
    fn no_interval_is_invented() {
        let zero_variance = interval(CiMethod::Logit, input(0.4, 0.0));
        assert!(zero_variance.low.is_nan() && zero_variance.high.is_nan());
        let no_df = interval(
            CiMethod::Logit,
            IntervalInput {
                estimate: 0.4,
                variance: 0.01,
                df: 0.0,
                n: 3.0,
                level: 0.95,
            },
        );
        assert!(no_df.low.is_nan() && no_df.high.is_nan());
    }
}
