//! Comparisons: the change of an index between two independent samples, and rank intervals
//! that say "rank 2–6" when the data cannot tell neighbours apart.

use serde::Serialize;

use crate::distributions::{normal_quantile, normal_two_sided_p};

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Change {
    pub difference: f64,
    pub se: f64,
    /// `difference / se`, referred to the standard Normal (large independent samples).
    pub z: f64,
    pub p_value: f64,
    pub significant: bool,
}

/// `after − before` for two independent samples (two survey years): the variances add.
pub fn change(before: (f64, f64), after: (f64, f64), level: f64) -> Change {
    let (b, se_b) = before;
    let (a, se_a) = after;
    let difference = a - b;
    let se = (se_a * se_a + se_b * se_b).sqrt();
    let z = difference / se;
    let p_value = normal_two_sided_p(z);
    Change {
        difference,
        se,
        z,
        p_value,
        significant: p_value < 1.0 - level,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankInterval {
    pub id: String,
    pub estimate: f64,
    /// 1 + the number of units with a strictly higher estimate (ties share a rank).
    pub rank: usize,
    /// Best rank the data support: 1 + units significantly higher.
    pub best: usize,
    /// Worst rank the data support: count − units significantly lower.
    pub worst: usize,
}

/// Rank intervals from pairwise two-sided Normal tests at `level` on independent estimates
/// (provinces are separate strata). Deterministic: no simulation, no seed. The tests are not
/// adjusted for multiplicity, so the intervals are, if anything, narrow.
pub fn rank_intervals(units: &[(String, f64, f64)], level: f64) -> Vec<RankInterval> {
    let critical = normal_quantile(1.0 - (1.0 - level) / 2.0);
    let count = units.len();
    units
        .iter()
        .map(|(id, estimate, se)| {
            let mut higher = 0;
            let mut sig_higher = 0;
            let mut sig_lower = 0;
            for (other_id, other, other_se) in units {
                if other_id == id {
                    continue;
                }
                if other > estimate {
                    higher += 1;
                }
                let z = (other - estimate) / (se * se + other_se * other_se).sqrt();
                if z > critical {
                    sig_higher += 1;
                } else if z < -critical {
                    sig_lower += 1;
                }
            }
            RankInterval {
                id: id.clone(),
                estimate: *estimate,
                rank: higher + 1,
                best: sig_higher + 1,
                worst: count - sig_lower,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_adds_variances() {
        let c = change((0.80, 0.03), (0.84, 0.04), 0.95);
        assert!((c.difference - 0.04).abs() < 1e-12);
        assert!((c.se - 0.05).abs() < 1e-12);
        assert!(!c.significant);
        assert!(change((0.70, 0.01), (0.80, 0.01), 0.95).significant);
    }

    #[test]
    fn tied_neighbours_share_rank_intervals() {
        let units = vec![
            ("A".to_string(), 0.90, 0.01),
            ("B".to_string(), 0.899, 0.01),
            ("C".to_string(), 0.70, 0.01),
        ];
        let ranks = rank_intervals(&units, 0.95);
        assert_eq!((ranks[0].rank, ranks[0].best, ranks[0].worst), (1, 1, 2));
        assert_eq!((ranks[1].rank, ranks[1].best, ranks[1].worst), (2, 1, 2));
        assert_eq!((ranks[2].rank, ranks[2].best, ranks[2].worst), (3, 3, 3));
    }
}
