//! Weights: base weights from frame counts, raking to population margins (iterative proportional
//! fitting, as R's `rake` and `calibrate(calfun = "raking")` converge to), trimming as R's
//! `trimWeights`, and Kish's weighting effect.

use crate::StatsError;

/// `N_h / n_h` for every row: stratum population over completes in the stratum.
/// `stratum_of_row[i]` indexes `population`.
pub fn base_weights(stratum_of_row: &[usize], population: &[f64]) -> Result<Vec<f64>, StatsError> {
    let mut completes = vec![0usize; population.len()];
    for (row, &h) in stratum_of_row.iter().enumerate() {
        *completes.get_mut(h).ok_or_else(|| {
            StatsError::Weighting(format!(
                "row {}: stratum {h} has no population count",
                row + 1
            ))
        })? += 1;
    }
    for (h, &pop) in population.iter().enumerate() {
        if !(pop.is_finite() && pop > 0.0) && completes[h] > 0 {
            return Err(StatsError::Weighting(format!(
                "stratum {h}: population {pop} must be positive"
            )));
        }
    }
    Ok(stratum_of_row
        .iter()
        .map(|&h| population[h] / completes[h] as f64)
        .collect())
}

/// One raking margin: each row's category and the population total of every category.
#[derive(Debug, Clone, PartialEq)]
pub struct Margin {
    pub name: String,
    /// Category index of every row.
    pub category_of_row: Vec<usize>,
    /// Population total of every category.
    pub targets: Vec<f64>,
    /// Category names, for messages.
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RakeControl {
    pub max_iterations: usize,
    /// Converged when every margin cell is within this relative distance of its target.
    pub epsilon: f64,
}

impl Default for RakeControl {
    fn default() -> Self {
        Self {
            max_iterations: 100,
            epsilon: 1e-10,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Raked {
    pub weights: Vec<f64>,
    pub iterations: usize,
}

/// Iterative proportional fitting of `weights` to the margins.
pub fn rake(
    weights: &[f64],
    margins: &[Margin],
    control: RakeControl,
) -> Result<Raked, StatsError> {
    validate_margins(weights, margins)?;
    let mut w = weights.to_vec();
    let mut sums: Vec<Vec<f64>> = margins.iter().map(|m| vec![0.0; m.targets.len()]).collect();
    for iteration in 1..=control.max_iterations {
        for (margin, sum) in margins.iter().zip(sums.iter_mut()) {
            cell_sums(&w, &margin.category_of_row, sum);
            for (wi, &c) in w.iter_mut().zip(&margin.category_of_row) {
                *wi *= margin.targets[c] / sum[c];
            }
        }
        // Largest relative miss over every margin after a full cycle.
        let mut worst: f64 = 0.0;
        for (margin, sum) in margins.iter().zip(sums.iter_mut()) {
            cell_sums(&w, &margin.category_of_row, sum);
            for (&s, &t) in sum.iter().zip(&margin.targets) {
                if t > 0.0 {
                    worst = worst.max((s - t).abs() / t);
                }
            }
        }
        if worst <= control.epsilon {
            return Ok(Raked {
                weights: w,
                iterations: iteration,
            });
        }
    }
    Err(StatsError::Weighting(format!(
        "raking did not converge in {} iterations; check that the margins are consistent",
        control.max_iterations
    )))
}

/// What raking needs: at least one margin, a target for every row's category, respondents
/// for every category with a positive target and none for a zero target, the same grand total
/// on every margin, positive starting weights. Errors name the margin and category.
pub fn validate_margins(weights: &[f64], margins: &[Margin]) -> Result<(), StatsError> {
    if margins.is_empty() {
        return Err(StatsError::Weighting(
            "raking needs at least one margin".into(),
        ));
    }
    let n = weights.len();
    let mut grand_total = None;
    for margin in margins {
        let label = |c: usize| {
            margin
                .labels
                .get(c)
                .cloned()
                .unwrap_or_else(|| c.to_string())
        };
        if margin.category_of_row.len() != n {
            return Err(StatsError::Weighting(format!(
                "margin {}: {} categories for {n} rows",
                margin.name,
                margin.category_of_row.len()
            )));
        }
        let mut counts = vec![0usize; margin.targets.len()];
        for (row, &c) in margin.category_of_row.iter().enumerate() {
            *counts.get_mut(c).ok_or_else(|| {
                StatsError::Weighting(format!(
                    "margin {}, row {}: category {c} has no target",
                    margin.name,
                    row + 1
                ))
            })? += 1;
        }
        for (c, (&target, &count)) in margin.targets.iter().zip(&counts).enumerate() {
            if !(target.is_finite() && target >= 0.0) {
                return Err(StatsError::Weighting(format!(
                    "margin {}, category {}: target {target} must be a non-negative number",
                    margin.name,
                    label(c)
                )));
            }
            if count == 0 && target > 0.0 {
                return Err(StatsError::Weighting(format!(
                    "margin {}, category {}: target {target} but no respondents in the sample",
                    margin.name,
                    label(c)
                )));
            }
            if count > 0 && target == 0.0 {
                return Err(StatsError::Weighting(format!(
                    "margin {}, category {}: {count} respondents but a target of 0",
                    margin.name,
                    label(c)
                )));
            }
        }
        let total: f64 = margin.targets.iter().sum();
        match grand_total {
            None => grand_total = Some(total),
            Some(first) if ((total - first) / first).abs() > 1e-6 => {
                return Err(StatsError::Weighting(format!(
                    "margin {} totals {total}, but the first margin totals {first}: margins must describe the same population",
                    margin.name
                )));
            }
            Some(_) => {}
        }
    }
    if weights.iter().any(|w| !(w.is_finite() && *w > 0.0)) {
        return Err(StatsError::Weighting(
            "starting weights must be positive".into(),
        ));
    }

    Ok(())
}

fn cell_sums(w: &[f64], category_of_row: &[usize], sum: &mut [f64]) {
    sum.iter_mut().for_each(|s| *s = 0.0);
    for (wi, &c) in w.iter().zip(category_of_row) {
        sum[c] += wi;
    }
}

/// R's `trimWeights`: weights outside [lower, upper] are set to the bound and the amount trimmed
/// is shared equally among the weights that were inside, keeping the total. With `strict`, the
/// step repeats until no weight is outside.
pub fn trim(weights: &[f64], lower: f64, upper: f64, strict: bool) -> Result<Vec<f64>, StatsError> {
    if lower > upper {
        return Err(StatsError::Weighting(format!(
            "trimming bounds are reversed: {lower} > {upper}"
        )));
    }
    let mut w = weights.to_vec();
    for _ in 0..1000 {
        let outside: Vec<bool> = w.iter().map(|&x| x < lower || x > upper).collect();
        let n_inside = outside.iter().filter(|o| !**o).count();
        if n_inside == outside.len() {
            return Ok(w);
        }
        if n_inside == 0 {
            return Err(StatsError::Weighting(
                "every weight is outside the trimming bounds".into(),
            ));
        }
        let mut trimmed = 0.0;
        for x in w.iter_mut() {
            let clamped = x.clamp(lower, upper);
            trimmed += clamped - *x;
            *x = clamped;
        }
        let share = trimmed / n_inside as f64;
        for (x, out) in w.iter_mut().zip(&outside) {
            if !out {
                *x -= share;
            }
        }
        if !strict {
            return Ok(w);
        }
    }
    Err(StatsError::Weighting(
        "trimming did not settle in 1000 rounds".into(),
    ))
}

/// `[trimming]` in the methodology: within each province, design weights above
/// `upper_to_median` × the province's median weight are cut to that cap and the amount cut is
/// shared equally among the province's other respondents ([`trim`], strict), so the province's
/// weight total stays. Applied before calibration, which then still meets its totals exactly.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrimSettings {
    pub upper_to_median: f64,
}

/// One province's weights trimmed by `settings`, and the cap. A weight that ends exactly at the
/// cap having been elsewhere was held by it ("trimmed" in the weights report): cut, or pushed
/// up by the shared excess and cut again.
pub fn trim_province(
    weights: &[f64],
    settings: TrimSettings,
) -> Result<(Vec<f64>, f64), StatsError> {
    if weights.is_empty() {
        return Ok((Vec::new(), f64::NAN));
    }
    let cap = settings.upper_to_median * median(weights);
    let total: f64 = weights.iter().sum();
    if cap * (weights.len() as f64) < total {
        return Err(StatsError::Weighting(format!(
            "trimming at {} times the median weight cannot keep the total weight ({total}) with \
             {} respondents: raise trimming.upper_to_median",
            settings.upper_to_median,
            weights.len()
        )));
    }
    let trimmed = trim(weights, f64::NEG_INFINITY, cap, true)?;
    Ok((trimmed, cap))
}

/// R's `median`: the middle value, or the mean of the two middle values.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Kish's weighting effect `1 + CV²(w) = n Σw² / (Σw)²` and effective sample size `(Σw)² / Σw²`.
pub fn kish(weights: &[f64]) -> (f64, f64) {
    let n = weights.len() as f64;
    let sum: f64 = weights.iter().sum();
    let sum_sq: f64 = weights.iter().map(|w| w * w).sum();
    (n * sum_sq / (sum * sum), sum * sum / sum_sq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_weights_are_population_over_completes() {
        let w = base_weights(&[0, 0, 1], &[100.0, 30.0]).unwrap();
        assert_eq!(w, vec![50.0, 50.0, 30.0]);
    }

    #[test]
    fn raking_hits_every_margin() {
        let margins = vec![
            Margin {
                name: "sex".into(),
                category_of_row: vec![0, 0, 1, 1, 1],
                targets: vec![60.0, 40.0],
                labels: vec!["F".into(), "M".into()],
            },
            Margin {
                name: "urban".into(),
                category_of_row: vec![0, 1, 0, 1, 1],
                targets: vec![30.0, 70.0],
                labels: vec![],
            },
        ];
        let raked = rake(&[1.0; 5], &margins, RakeControl::default()).unwrap();
        let w = &raked.weights;
        assert!((w[0] + w[1] - 60.0).abs() < 1e-8);
        assert!((w[0] + w[2] - 30.0).abs() < 1e-8);
    }

    #[test]
    fn raking_refuses_bad_margins() {
        let empty = vec![Margin {
            name: "sex".into(),
            category_of_row: vec![0, 0],
            targets: vec![5.0, 5.0],
            labels: vec!["F".into(), "M".into()],
        }];
        let err = rake(&[1.0, 1.0], &empty, RakeControl::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("margin sex, category M") && err.contains("no respondents"),
            "{err}"
        );
        let inconsistent = vec![
            Margin {
                name: "a".into(),
                category_of_row: vec![0, 1],
                targets: vec![5.0, 5.0],
                labels: vec![],
            },
            Margin {
                name: "b".into(),
                category_of_row: vec![0, 1],
                targets: vec![5.0, 6.0],
                labels: vec![],
            },
        ];
        assert!(
            rake(&[1.0, 1.0], &inconsistent, RakeControl::default())
                .unwrap_err()
                .to_string()
                .contains("same population")
        );
    }

    #[test]
    fn trimming_keeps_the_total() {
        // 9 → 5 trims 4, shared equally by the three weights inside: 1 + 4/3 each.
        let w = trim(&[1.0, 1.0, 1.0, 9.0], 0.0, 5.0, false).unwrap();
        assert_eq!(
            w,
            vec![1.0 + 4.0 / 3.0, 1.0 + 4.0 / 3.0, 1.0 + 4.0 / 3.0, 5.0]
        );
        assert!((w.iter().sum::<f64>() - 12.0).abs() < 1e-12);
    }

    #[test]
    fn kish_effect() {
        let (deff, n_eff) = kish(&[1.0, 1.0, 2.0, 4.0]);
        assert!((deff - 4.0 * 22.0 / 64.0).abs() < 1e-12);
        assert!((n_eff - 64.0 / 22.0).abs() < 1e-12);
    }

    #[test]
    fn trimming_within_a_province_by_hand() {
        let settings = TrimSettings {
            upper_to_median: 2.0,
        };
        // Median 1, cap 2: the 4 is cut to 2 and its excess (2) shared by the other four.
        let (w, cap) = trim_province(&[1.0, 1.0, 4.0, 1.0, 1.0], settings).unwrap();
        assert_eq!(w, vec![1.5, 1.5, 2.0, 1.5, 1.5]);
        assert_eq!(cap, 2.0);
        // Even count: R's median is the mean of the middle two, (1 + 3) / 2 = 2, cap 4.
        assert_eq!(median(&[3.0, 1.0, 1.0, 5.0]), 2.0);
        let (w, cap) = trim_province(&[3.0, 1.0, 1.0, 5.0], settings).unwrap();
        assert_eq!(
            (w, cap),
            (
                vec![3.0 + 1.0 / 3.0, 1.0 + 1.0 / 3.0, 1.0 + 1.0 / 3.0, 4.0],
                4.0
            )
        );
        // Nothing above the cap: unchanged.
        assert_eq!(
            trim_province(&[1.0, 1.5, 1.2], settings).unwrap(),
            (vec![1.0, 1.5, 1.2], 2.4)
        );
        // A cap that cannot hold the total is refused, with what to change.
        let err = trim_province(&[1.0, 1.0, 1.0, 1.0, 10.0], settings)
            .unwrap_err()
            .to_string();
        assert!(err.contains("raise trimming.upper_to_median"), "{err}");
    }
}
