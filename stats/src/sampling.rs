//! Choosing the sample before fieldwork: how many respondents per province (allocation, with the
//! margin of error each choice gives) and which communes (probability proportional to size,
//! systematic selection), as R's `sampling` package does it.
//!
//! - [`inclusion_probabilities`] is `sampling::inclusionprobabilities(a, n)`: π_k = n·a_k/Σa,
//!   and while some π_k ≥ 1 those units are taken with certainty (π = 1) and the rest share
//!   what is left, repeated until no new unit reaches 1.
//! - [`systematic_selection`] is `sampling::UPsystematic(pik)` with its random start `u` given:
//!   along the cumulated probabilities of the uncertain units, a unit is selected when a point
//!   u, u + 1, u + 2, … falls in its interval; certain units (π ≥ 1 − 10⁻⁶) are selected, units
//!   with π ≤ 10⁻⁶ are not. The order of the units is part of the design (it is the implicit
//!   stratification of systematic sampling) and is recorded with the draw.
//!
//! Golden tests against R 4.2 / sampling 2.9: `stats/golden/generate.R` (`sampling.csv`).

use crate::StatsError;

/// A running sum kept to about twice double precision (Neumaier's compensated summation). R's
/// `sum` and `cumsum` accumulate in long double; a plain double sum differs from them in the last
/// bits, which decides whether a unit reaches probability 1 (300 / 600 · 2 must be 1, not
/// 0.9999999999999996) and, at a boundary, which unit a systematic point falls in.
#[derive(Default)]
struct Sum {
    sum: f64,
    compensation: f64,
}

impl Sum {
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        self.compensation += if self.sum.abs() >= x.abs() {
            (self.sum - t) + x
        } else {
            (x - t) + self.sum
        };
        self.sum = t;
    }

    fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

fn accurate_sum(values: impl Iterator<Item = f64>) -> f64 {
    let mut sum = Sum::default();
    values.for_each(|x| sum.add(x));
    sum.value()
}

/// R's `eps` in `UPsystematic`: probabilities this close to 0 or 1 are treated as 0 or 1.
pub const CERTAINTY_EPS: f64 = 1e-6;

/// Inclusion probabilities proportional to `sizes` for a sample of `n` units, with certainty
/// units (R's `inclusionprobabilities`). Zero sizes get probability 0; a negative or non-finite
/// size is an error naming its position (R shifts negatives to zero with a warning: a measure of
/// size below zero is a data error here).
pub fn inclusion_probabilities(sizes: &[f64], n: usize) -> Result<Vec<f64>, StatsError> {
    if let Some((i, size)) = sizes
        .iter()
        .enumerate()
        .find(|(_, s)| !s.is_finite() || **s < 0.0)
    {
        return Err(StatsError::Invalid(format!(
            "measure of size of unit {} is {size}: sizes must be finite and not negative",
            i + 1
        )));
    }
    let positive = sizes.iter().filter(|s| **s > 0.0).count();
    if n > positive {
        return Err(StatsError::Invalid(format!(
            "{n} units to select but only {positive} have a positive size"
        )));
    }
    let total = accurate_sum(sizes.iter().copied());
    if total == 0.0 {
        return Ok(vec![0.0; sizes.len()]);
    }
    let n_f = n as f64;
    let mut pik: Vec<f64> = sizes.iter().map(|a| n_f * a / total).collect();
    // R works on the positive units only; zeros stay zero throughout.
    let mut certain: Vec<bool> = pik.iter().map(|p| *p >= 1.0).collect();
    let mut count = certain.iter().filter(|c| **c).count();
    if count > 0 {
        let mut previous = 0;
        while count != previous {
            let rest = accurate_sum(
                pik.iter()
                    .zip(&certain)
                    .filter(|(p, c)| **p > 0.0 && !**c)
                    .map(|(p, _)| *p),
            );
            let share = (n - count) as f64;
            for (p, c) in pik.iter_mut().zip(&certain) {
                if *p > 0.0 {
                    *p = if *c { 1.0 } else { share * (*p / rest) };
                }
            }
            previous = count;
            for (p, c) in pik.iter().zip(certain.iter_mut()) {
                *c = *p >= 1.0;
            }
            count = certain.iter().filter(|c| **c).count();
        }
    }
    Ok(pik)
}

/// Systematic selection with unequal probabilities in the given order, from the random start
/// `start` in [0, 1) (R's `UPsystematic`, whose `runif(1)` is `start`).
pub fn systematic_selection(pik: &[f64], start: f64) -> Result<Vec<bool>, StatsError> {
    if !(0.0..1.0).contains(&start) {
        return Err(StatsError::Invalid(format!(
            "the random start must lie in [0, 1), got {start}"
        )));
    }
    if let Some((i, p)) = pik
        .iter()
        .enumerate()
        .find(|(_, p)| !p.is_finite() || **p < 0.0 || **p > 1.0 + CERTAINTY_EPS)
    {
        return Err(StatsError::Invalid(format!(
            "inclusion probability of unit {} is {p}: it must lie in [0, 1]",
            i + 1
        )));
    }
    let uncertain: Vec<usize> = (0..pik.len())
        .filter(|&i| pik[i] > CERTAINTY_EPS && pik[i] < 1.0 - CERTAINTY_EPS)
        .collect();
    // a_k = (cumsum(pik)_k − u) mod 1 with a_0 = (0 − u) mod 1; unit k is selected when the
    // sequence steps down (a point u + j falls in its interval). The sum runs in R's order and
    // as precisely as R's.
    // R's `%%`: in [0, 1); x − floor(x) rounds to 1.0 for a tiny negative x, where R gives 0.
    let wrap = |x: f64| {
        let r = x - x.floor();
        if r >= 1.0 { 0.0 } else { r }
    };
    let mut selected: Vec<bool> = pik.iter().map(|p| *p >= 1.0 - CERTAINTY_EPS).collect();
    let mut cumulated = Sum::default();
    let mut before = wrap(0.0 - start);
    for &i in &uncertain {
        cumulated.add(pik[i]);
        let after = wrap(cumulated.value() - start);
        selected[i] = before > after;
        before = after;
    }
    Ok(selected)
}

/// The two-sided normal quantile of a 95% margin of error.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// The expected margin of error (half-width of a 95% interval, in proportion points) of a
/// proportion near `p` from `n` respondents out of a population of `population`, with design
/// effect `deff`: z·√(deff·p(1−p)/n · (N−n)/(N−1)).
pub fn margin_of_error(n: f64, population: f64, p: f64, deff: f64) -> f64 {
    if n <= 0.0 || population <= 1.0 {
        return f64::NAN;
    }
    let fpc = ((population - n) / (population - 1.0)).max(0.0);
    Z_95 * (deff * p * (1.0 - p) / n * fpc).sqrt()
}

/// The smallest sample whose expected margin of error is at most `margin` (Cochran's n₀ =
/// z²·deff·p(1−p)/m², then n = n₀ / (1 + (n₀ − 1)/N)), rounded up; at most the population.
pub fn size_for_margin(margin: f64, population: f64, p: f64, deff: f64) -> Result<u64, StatsError> {
    let valid = margin > 0.0 && margin < 1.0 && p > 0.0 && p < 1.0 && deff > 0.0;
    if !valid {
        return Err(StatsError::Invalid(format!(
            "a precision target needs 0 < margin < 1, 0 < p < 1 and deff > 0 (got {margin}, {p}, {deff})"
        )));
    }
    if population.is_nan() || population < 1.0 {
        return Err(StatsError::Invalid(format!(
            "the population must be at least 1, got {population}"
        )));
    }
    let n0 = Z_95 * Z_95 * deff * p * (1.0 - p) / (margin * margin);
    let n = n0 / (1.0 + (n0 - 1.0) / population);
    // A hair of tolerance: n computed as 384.0000000001 is 384.
    Ok(((n - 1e-9).ceil().max(1.0)).min(population.floor()) as u64)
}

/// The Ministry's rule today: Yamane's n = N / (1 + N·e²), rounded up.
pub fn yamane(population: f64, e: f64) -> u64 {
    if population <= 0.0 {
        return 0;
    }
    (population / (1.0 + population * e * e) - 1e-9)
        .ceil()
        .max(0.0) as u64
}

/// `total` split across units in proportion to `weights` (equal weights: an equal split), in
/// whole numbers that add up to `total` (largest remainders; ties to the earlier unit), each at
/// least `minimum` when `total` allows it.
pub fn apportion(total: u64, weights: &[f64], minimum: u64) -> Result<Vec<u64>, StatsError> {
    if weights.is_empty() {
        return Ok(Vec::new());
    }
    if let Some((i, w)) = weights
        .iter()
        .enumerate()
        .find(|(_, w)| !w.is_finite() || **w < 0.0)
    {
        return Err(StatsError::Invalid(format!(
            "weight of unit {} is {w}: weights must be finite and not negative",
            i + 1
        )));
    }
    let units = weights.len() as u64;
    let floor_total = minimum.saturating_mul(units);
    if floor_total > total {
        return Err(StatsError::Invalid(format!(
            "{total} cannot give each of {units} units at least {minimum}"
        )));
    }
    let sum: f64 = weights.iter().sum();
    let shares: Vec<f64> = if sum > 0.0 {
        weights.iter().map(|w| w / sum).collect()
    } else {
        vec![1.0 / weights.len() as f64; weights.len()]
    };
    // The minimum first, the rest in proportion.
    let rest = (total - floor_total) as f64;
    let exact: Vec<f64> = shares.iter().map(|s| s * rest).collect();
    let mut out: Vec<u64> = exact.iter().map(|x| minimum + x.floor() as u64).collect();
    let given: u64 = out.iter().sum();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    for &i in order.iter().take(total.saturating_sub(given) as usize) {
        out[i] += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certainty_units_are_taken_out_until_none_reaches_one() {
        // 100 of 130 is 1.54 of 2: certain; the other three share 1, a third each.
        let pik = inclusion_probabilities(&[100.0, 10.0, 10.0, 10.0], 2).unwrap();
        assert_eq!(pik[0], 1.0);
        for p in &pik[1..] {
            assert!((p - 1.0 / 3.0).abs() < 1e-15);
        }
        assert!((pik.iter().sum::<f64>() - 2.0).abs() < 1e-12);
        // Zeros stay out; too few positive sizes is an error.
        assert_eq!(
            inclusion_probabilities(&[0.0, 5.0, 5.0], 2).unwrap(),
            vec![0.0, 1.0, 1.0]
        );
        assert!(inclusion_probabilities(&[0.0, 5.0], 2).is_err());
        assert!(inclusion_probabilities(&[1.0, -1.0], 1).is_err());
    }

    #[test]
    fn systematic_selection_takes_n_units_and_every_certain_one() {
        let pik = inclusion_probabilities(&[50.0, 3.0, 7.0, 2.0, 9.0, 4.0, 1.0, 6.0], 4).unwrap();
        for k in 0..100 {
            let start = k as f64 / 100.0;
            let s = systematic_selection(&pik, start).unwrap();
            assert_eq!(s.iter().filter(|x| **x).count(), 4, "start {start}");
            assert!(s[0]);
        }
        assert!(systematic_selection(&pik, 1.0).is_err());
    }

    #[test]
    fn margins_and_sizes_agree() {
        // The textbook figure: p = 0.5, 5 points, no fpc to speak of: 385.
        let n = size_for_margin(0.05, 1e9, 0.5, 1.0).unwrap();
        assert_eq!(n, 385);
        assert!(margin_of_error(n as f64, 1e9, 0.5, 1.0) <= 0.05);
        assert!(margin_of_error((n - 1) as f64, 1e9, 0.5, 1.0) > 0.05);
        // A design effect of 2 doubles n₀.
        let n2 = size_for_margin(0.05, 1e9, 0.5, 2.0).unwrap();
        assert_eq!(n2, 769);
        // Yamane at N = 1,000,000 and 5%: 399.84 → 400.
        assert_eq!(yamane(1_000_000.0, 0.05), 400);
    }

    #[test]
    fn apportioning_adds_up_and_respects_the_minimum() {
        let out = apportion(10, &[1.0, 1.0, 1.0], 0).unwrap();
        assert_eq!(out, vec![4, 3, 3]);
        let out = apportion(100, &[70.0, 20.0, 10.0], 2).unwrap();
        assert_eq!(out.iter().sum::<u64>(), 100);
        assert!(out.iter().all(|x| *x >= 2));
        // 94 shared: 65.8, 18.8, 9.4; the two .8 remainders get the two left over.
        assert_eq!(out, vec![68, 21, 11]);
        assert!(apportion(3, &[1.0, 1.0], 2).is_err());
    }
}
