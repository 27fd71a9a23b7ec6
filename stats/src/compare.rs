//! Comparisons: the change of an index between two survey years, and rank intervals that say
//! "rank 2–6" when the data cannot tell neighbours apart.
//!
//! Every test uses Student's t. For a difference of two independent estimates the degrees of
//! freedom are Welch–Satterthwaite's, (V₁ + V₂)² / (V₁²/df₁ + V₂²/df₂), which lies between the
//! smaller df and their sum; a province's df is typically about 11, where the Normal's 1.96
//! would be too small (t = 2.20).

use serde::Serialize;

use crate::distributions::{t_quantile, t_two_sided_p};

/// An estimate with its standard error and design degrees of freedom.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unit {
    pub id: String,
    pub estimate: f64,
    pub se: f64,
    pub df: f64,
}

/// Welch–Satterthwaite df of a sum of independent variances `(V_i, df_i)`.
pub fn satterthwaite(parts: &[(f64, f64)]) -> f64 {
    let total: f64 = parts.iter().map(|(v, _)| v).sum();
    let denominator: f64 = parts
        .iter()
        .filter(|(v, _)| *v > 0.0)
        .map(|(v, df)| v * v / df)
        .sum();
    if denominator > 0.0 {
        total * total / denominator
    } else {
        f64::NAN
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Change {
    pub difference: f64,
    pub se: f64,
    pub df: f64,
    /// `difference / se`, referred to t on `df`.
    pub t: f64,
    pub p_value: f64,
    /// The p-value adjusted by Holm's method over the family it was tested in (the provinces'
    /// changes of one node); `p_value` for a test made alone.
    pub p_holm: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// `p_holm` below 1 − level.
    pub significant: bool,
}

/// A difference with its variance and df, tested two-sided at `level`.
pub fn t_test(difference: f64, variance: f64, df: f64, level: f64) -> Change {
    let se = variance.sqrt();
    let t = difference / se;
    let p_value = t_two_sided_p(t, df);
    let half = t_quantile(1.0 - (1.0 - level) / 2.0, df) * se;
    Change {
        difference,
        se,
        df,
        t,
        p_value,
        p_holm: p_value,
        ci_low: difference - half,
        ci_high: difference + half,
        significant: p_value < 1.0 - level,
    }
}

/// Holm's step-down adjustment of a family of p-values (R's `p.adjust(p, "holm")`): sorted
/// ascending, the i-th smallest is multiplied by (m − i + 1), made non-decreasing, capped at 1.
/// A test is significant at α when its adjusted p-value is below α; whatever the dependence
/// between the tests, the chance of any false call when every null hypothesis is true is at
/// most α. NaN p-values stay NaN and do not count in m.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let m = order.len();
    let mut adjusted = vec![f64::NAN; p.len()];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// `after − before` for two independent samples (two survey years with fresh PSUs): the
/// variances add and the df are Satterthwaite's. For communes surveyed in both years use
/// [`crate::estimate::linked_change`], which estimates the covariance from the linked PSUs.
pub fn change(before: &Unit, after: &Unit, level: f64) -> Change {
    let (v1, v2) = (before.se * before.se, after.se * after.se);
    t_test(
        after.estimate - before.estimate,
        v1 + v2,
        satterthwaite(&[(v1, before.df), (v2, after.df)]),
        level,
    )
}

/// Which rank statements must hold together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RankScope {
    /// The whole league table at once (Klein, Wright and Wieczorek 2020): every one of the
    /// K(K−1)/2 pairwise differences is tested at α / (K(K−1)/2), so all intervals cover the
    /// true ranks together with probability ≥ 1 − α.
    Joint,
    /// One unit's page: its K − 1 comparisons at α / (K − 1), so its own interval covers its
    /// true rank with probability ≥ 1 − α.
    Marginal,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankInterval {
    pub id: String,
    pub estimate: f64,
    /// 1 + the number of units with a strictly higher estimate (ties share a rank).
    pub rank: usize,
    /// Best rank the data support: 1 + units significantly higher.
    pub best: usize,
    /// Worst rank the data support: K − units significantly lower.
    pub worst: usize,
}

/// Rank intervals (rank 1 = highest) from pairwise t tests on independent estimates
/// (provinces are separate strata), Bonferroni-adjusted for `scope`, each pair on its
/// Satterthwaite df. Deterministic: no simulation, no seed.
pub fn rank_intervals(units: &[Unit], level: f64, scope: RankScope) -> Vec<RankInterval> {
    let k = units.len();
    let alpha = 1.0 - level;
    let comparisons = match scope {
        RankScope::Joint => (k * k.saturating_sub(1) / 2).max(1),
        RankScope::Marginal => k.saturating_sub(1).max(1),
    } as f64;
    let tail = alpha / (2.0 * comparisons);
    units
        .iter()
        .enumerate()
        .map(|(i, unit)| {
            let (mut higher, mut sig_higher, mut sig_lower) = (0, 0, 0);
            for (j, other) in units.iter().enumerate() {
                if i == j {
                    continue;
                }
                if other.estimate > unit.estimate {
                    higher += 1;
                }
                let (v1, v2) = (unit.se * unit.se, other.se * other.se);
                let df = satterthwaite(&[(v1, unit.df), (v2, other.df)]);
                let t = (other.estimate - unit.estimate) / (v1 + v2).sqrt();
                // |t| beyond the t quantile at 1 − tail, read as a p-value (one CDF evaluation
                // instead of a quantile search: K² pairs per node).
                if t_two_sided_p(t, df) < 2.0 * tail {
                    if t > 0.0 {
                        sig_higher += 1;
                    } else {
                        sig_lower += 1;
                    }
                }
            }
            RankInterval {
                id: unit.id.clone(),
                estimate: unit.estimate,
                rank: higher + 1,
                best: sig_higher + 1,
                worst: k - sig_lower,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(id: &str, estimate: f64, se: f64, df: f64) -> Unit {
        Unit {
            id: id.into(),
            estimate,
            se,
            df,
        }
    }

    #[test]
    fn change_adds_variances_with_satterthwaite_df() {
        let c = change(
            &unit("2024", 0.80, 0.03, 11.0),
            &unit("2025", 0.84, 0.04, 11.0),
            0.95,
        );
        assert!((c.difference - 0.04).abs() < 1e-12);
        assert!((c.se - 0.05).abs() < 1e-12);
        // (9 + 16)² / (81/11 + 256/11) = 625·11/337
        assert!((c.df - 625.0 * 11.0 / 337.0).abs() < 1e-9);
        assert!(!c.significant);
        assert!(
            change(
                &unit("a", 0.70, 0.01, 30.0),
                &unit("b", 0.80, 0.01, 30.0),
                0.95
            )
            .significant
        );
    }

    #[test]
    fn holm_by_hand() {
        // R: p.adjust(c(0.01, 0.04, 0.03, 0.5), "holm") = 0.04 0.09 0.09 0.50
        let adjusted = holm(&[0.01, 0.04, 0.03, 0.5]);
        for (a, b) in adjusted.iter().zip([0.04, 0.09, 0.09, 0.5]) {
            assert!((a - b).abs() < 1e-15, "{adjusted:?}");
        }
        let with_nan = holm(&[0.2, f64::NAN, 0.6]);
        assert!(with_nan[1].is_nan());
        assert!((with_nan[0] - 0.4).abs() < 1e-15 && (with_nan[2] - 0.6).abs() < 1e-15);
        assert_eq!(holm(&[0.9, 0.8]), vec![1.0, 1.0]);
    }

    #[test]
    fn tied_neighbours_share_rank_intervals() {
        let units = vec![
            unit("A", 0.90, 0.01, 1e9),
            unit("B", 0.899, 0.01, 1e9),
            unit("C", 0.70, 0.01, 1e9),
        ];
        for scope in [RankScope::Joint, RankScope::Marginal] {
            let ranks = rank_intervals(&units, 0.95, scope);
            assert_eq!((ranks[0].rank, ranks[0].best, ranks[0].worst), (1, 1, 2));
            assert_eq!((ranks[1].rank, ranks[1].best, ranks[1].worst), (2, 1, 2));
            assert_eq!((ranks[2].rank, ranks[2].best, ranks[2].worst), (3, 3, 3));
        }
    }

    #[test]
    fn joint_intervals_are_at_least_as_wide_as_marginal_ones() {
        let units: Vec<Unit> = (0..34)
            .map(|i| unit(&format!("{i:02}"), 0.70 + 0.004 * f64::from(i), 0.012, 11.0))
            .collect();
        let joint = rank_intervals(&units, 0.95, RankScope::Joint);
        let marginal = rank_intervals(&units, 0.95, RankScope::Marginal);
        for (j, m) in joint.iter().zip(&marginal) {
            assert!(j.best <= m.best && j.worst >= m.worst, "{j:?} {m:?}");
            assert!(j.best <= j.rank && j.rank <= j.worst);
        }
    }
}
