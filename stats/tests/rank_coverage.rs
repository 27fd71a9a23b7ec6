//! Rank intervals hold jointly: a seeded Monte Carlo on a 34-province league table with
//! near-ties (SEs of 1.2 points, 11 df, as a province of the real survey) shows that the joint
//! intervals cover every province's true rank at once in at least 95% of samples. The
//! one-province (marginal) intervals, and the unadjusted pairwise tests the engine used before,
//! do not; the test checks that too, so it can tell a joint method from a marginal one.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use sipas_stats::compare::{RankScope, Unit, rank_intervals};

/// splitmix64: a small, seeded, reproducible generator.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// Box–Muller.
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

const PROVINCES: usize = 34;
const SE: f64 = 0.012;
const DF: f64 = 11.0;

/// The league tables simulated.
#[derive(Clone, Copy)]
enum Table {
    /// A crowded middle of 20 provinces within 0.2 points of each other (near-ties, as in the
    /// real league table) and 14 spread over 72–92%.
    Crowded,
    /// 34 provinces evenly 1 point apart (0.6 standard errors of a difference): every
    /// neighbour is a borderline call.
    Even,
}

fn truth(table: Table) -> Vec<f64> {
    (0..PROVINCES)
        .map(|i| match table {
            Table::Crowded if i < 20 => 0.82 + 0.0001 * i as f64,
            Table::Crowded => 0.72 + 0.015 * (i - 20) as f64,
            Table::Even => 0.70 + 0.01 * i as f64,
        })
        .collect()
}

/// The engine's former method: unadjusted pairwise Normal tests at 1.96.
fn unadjusted(units: &[Unit]) -> Vec<(usize, usize)> {
    units
        .iter()
        .map(|u| {
            let (mut higher, mut lower) = (0, 0);
            for o in units {
                let z = (o.estimate - u.estimate) / (u.se.powi(2) + o.se.powi(2)).sqrt();
                if z > 1.959_963_984_540_054 {
                    higher += 1;
                } else if z < -1.959_963_984_540_054 {
                    lower += 1;
                }
            }
            (higher + 1, units.len() - lower)
        })
        .collect()
}

enum Method {
    Scope(RankScope),
    Unadjusted,
}

/// Share of samples in which every interval covers its province's true rank, and the smallest
/// share over provinces of samples in which the province's own interval covers its rank.
fn coverage(table: Table, method: Method, reps: usize, seed: u64) -> (f64, f64, f64) {
    let truth = truth(table);
    let true_rank: Vec<usize> = truth
        .iter()
        .map(|t| 1 + truth.iter().filter(|o| *o > t).count())
        .collect();
    let mut rng = Rng(seed);
    let mut covered = 0;
    let mut each = vec![0usize; PROVINCES];
    let mut width = 0usize;
    for _ in 0..reps {
        let units: Vec<Unit> = truth
            .iter()
            .enumerate()
            .map(|(i, t)| {
                // The estimated SE varies as a variance estimate on 11 df does: s²·χ²₁₁/11.
                let chi2: f64 = (0..DF as usize).map(|_| rng.normal().powi(2)).sum();
                Unit {
                    id: i.to_string(),
                    estimate: t + SE * rng.normal(),
                    se: SE * (chi2 / DF).sqrt(),
                    df: DF,
                }
            })
            .collect();
        let intervals: Vec<(usize, usize)> = match method {
            Method::Scope(scope) => rank_intervals(&units, 0.95, scope)
                .iter()
                .map(|r| (r.best, r.worst))
                .collect(),
            Method::Unadjusted => unadjusted(&units),
        };
        width += intervals.iter().map(|(b, w)| w - b).sum::<usize>();
        let hits: Vec<bool> = intervals
            .iter()
            .zip(&true_rank)
            .map(|(&(best, worst), &truth)| best <= truth && truth <= worst)
            .collect();
        if hits.iter().all(|h| *h) {
            covered += 1;
        }
        for (count, hit) in each.iter_mut().zip(hits) {
            *count += usize::from(hit);
        }
    }
    let worst_single = each.iter().copied().min().unwrap_or(0);
    (
        covered as f64 / reps as f64,
        worst_single as f64 / reps as f64,
        width as f64 / (reps * PROVINCES) as f64,
    )
}

#[test]
fn joint_rank_intervals_reach_their_nominal_coverage() {
    let reps = 1000;
    for table in [Table::Crowded, Table::Even] {
        let (joint, _, joint_width) =
            coverage(table, Method::Scope(RankScope::Joint), reps, 20_261_128);
        let (marginal_table, marginal_single, marginal_width) =
            coverage(table, Method::Scope(RankScope::Marginal), reps, 20_261_128);
        let (unadjusted, unadjusted_single, _) =
            coverage(table, Method::Unadjusted, reps, 20_261_128);
        eprintln!(
            "whole-table coverage: joint {joint}, marginal {marginal_table}, unadjusted \
             {unadjusted}; worst single province: marginal {marginal_single}, unadjusted \
             {unadjusted_single}; mean interval width (ranks): joint {joint_width:.1}, marginal \
             {marginal_width:.1}"
        );
        assert!(joint >= 0.95, "joint coverage {joint}");
        assert!(joint >= marginal_table);
        // A province page's interval covers that province's rank at the nominal level.
        assert!(marginal_single >= 0.95, "marginal {marginal_single}");
        // Joint intervals are wider (Bonferroni is conservative), never narrower.
        assert!(joint_width >= marginal_width);
        if let Table::Crowded = table {
            // The former unadjusted tests: each province looks fine, the table does not.
            assert!(unadjusted < 0.6, "unadjusted {unadjusted}");
        }
    }
}
