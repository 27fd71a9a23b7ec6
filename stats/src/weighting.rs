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

/// `[nonresponse]` in the methodology: how weights from the sample frame adjust for
/// nonresponse. Each stratum starts as its own weighting class; a class with fewer than
/// `min_respondents` respondents joins its neighbour in the same province (the next stratum in
/// code order, or the previous for the last) until none is that small; a class's adjustment
/// factor is capped at `max_factor` (docs/methodology.md, "Weights from the frame").
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NonresponseSettings {
    #[serde(default = "one_respondent")]
    pub min_respondents: u64,
    #[serde(default)]
    pub max_factor: Option<f64>,
}

fn one_respondent() -> u64 {
    1
}

impl Default for NonresponseSettings {
    fn default() -> Self {
        Self {
            min_respondents: one_respondent(),
            max_factor: None,
        }
    }
}

/// One stratum of a sample frame, with the respondents it got.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameStratum {
    pub province: String,
    pub stratum: String,
    /// N_h: the stratum's population.
    pub population: f64,
    /// n_h: the respondents the design asked for (the frame's target); when 0, the
    /// respondents themselves (an adjustment factor of 1).
    pub sampled: f64,
    /// r_h: the respondents the stratum got.
    pub respondents: u64,
}

/// How one stratum's respondents are weighted.
#[derive(Debug, Clone, PartialEq)]
pub struct StratumWeighting {
    /// d_h = N_h / n_h.
    pub design_weight: f64,
    /// The weighting class: the strata it joins, in code order, separated by `+`.
    pub class: String,
    /// The class's nonresponse adjustment Σ N_h / Σ d_h r_h (after the cap).
    pub factor: f64,
    /// The cap held the factor down.
    pub capped: bool,
    /// When a class of the province was capped, every weight of the province is scaled by
    /// Σ N / Σ w so the province still weighs its population (1 otherwise).
    pub province_scale: f64,
    /// d_h × factor × province_scale: every respondent of the stratum carries it (0 without
    /// respondents).
    pub weight: f64,
}

/// Weights from the frame: the design weight d_h = N_h / n_h of each stratum times the
/// nonresponse adjustment of its class, Σ_{h∈c} N_h / Σ_{h∈c} d_h r_h, at most `max_factor`.
/// A cap leaves the province short of its population; its weights are then all scaled by the
/// same factor Σ N / Σ w, which keeps the ratios between its classes that the cap set (so the
/// province's estimates are those of the capped weights) and its share of the nation right.
/// (Giving the shortfall to the uncapped classes alone would shrink the capped class's share
/// further below its population's.)
/// Without `settings` every stratum is its own class and nothing is capped, so the weight is
/// N_h / r_h. A class without respondents (a whole province without any) gets weight 0.
/// Results are in the order of `strata`.
pub fn frame_weights(
    strata: &[FrameStratum],
    settings: Option<&NonresponseSettings>,
) -> Result<Vec<StratumWeighting>, StatsError> {
    let settings = settings.copied().unwrap_or(NonresponseSettings {
        min_respondents: 0,
        max_factor: None,
    });
    for s in strata {
        if !(s.population.is_finite() && s.population > 0.0) {
            return Err(StatsError::Weighting(format!(
                "province {}, stratum {}: population {} must be positive",
                s.province, s.stratum, s.population
            )));
        }
        if !(s.sampled.is_finite() && s.sampled >= 0.0) {
            return Err(StatsError::Weighting(format!(
                "province {}, stratum {}: target {} must not be negative",
                s.province, s.stratum, s.sampled
            )));
        }
    }
    if let Some(cap) = settings.max_factor
        && !(cap.is_finite() && cap >= 1.0)
    {
        return Err(StatsError::Weighting(format!(
            "nonresponse.max_factor must be a number of at least 1, got {cap}"
        )));
    }
    let design_weight = |s: &FrameStratum| {
        let n = if s.sampled > 0.0 {
            s.sampled
        } else {
            s.respondents as f64
        };
        if n > 0.0 { s.population / n } else { 0.0 }
    };
    let mut out: Vec<Option<StratumWeighting>> = vec![None; strata.len()];
    // Provinces in first-seen order; within each, strata in code order.
    let mut provinces: Vec<&str> = Vec::new();
    for s in strata {
        if !provinces.contains(&s.province.as_str()) {
            provinces.push(&s.province);
        }
    }
    for province in provinces {
        let mut members: Vec<usize> = (0..strata.len())
            .filter(|&i| strata[i].province == province)
            .collect();
        members.sort_by(|&a, &b| strata[a].stratum.cmp(&strata[b].stratum));
        // Classes as runs of consecutive strata: (first member, one past the last).
        let mut classes: Vec<(usize, usize)> = (0..members.len()).map(|i| (i, i + 1)).collect();
        let respondents = |(from, to): (usize, usize)| -> u64 {
            members[from..to]
                .iter()
                .map(|&i| strata[i].respondents)
                .sum()
        };
        while classes.len() > 1 {
            let Some(small) = classes
                .iter()
                .position(|&c| respondents(c) < settings.min_respondents)
            else {
                break;
            };
            let other = if small + 1 < classes.len() {
                small + 1
            } else {
                small - 1
            };
            let (a, b) = (small.min(other), small.max(other));
            classes[a] = (classes[a].0, classes[b].1);
            classes.remove(b);
        }
        for (from, to) in classes {
            let group = &members[from..to];
            let name = group
                .iter()
                .map(|&i| strata[i].stratum.as_str())
                .collect::<Vec<_>>()
                .join("+");
            let population: f64 = group.iter().map(|&i| strata[i].population).sum();
            let represented: f64 = group
                .iter()
                .map(|&i| design_weight(&strata[i]) * strata[i].respondents as f64)
                .sum();
            let raw = if represented > 0.0 {
                population / represented
            } else {
                0.0
            };
            let (factor, capped) = match settings.max_factor {
                Some(cap) if raw > cap => (cap, true),
                _ => (raw, false),
            };
            for &i in group {
                let d = design_weight(&strata[i]);
                let r = strata[i].respondents;
                let weight = match (r, group.len(), capped) {
                    (0, _, _) => 0.0,
                    // A stratum that is its own class: N_h / r_h, written so (d_h × n_h / r_h
                    // would round differently from what an analyst computes).
                    (r, 1, false) => strata[i].population / r as f64,
                    _ => d * factor,
                };
                out[i] = Some(StratumWeighting {
                    design_weight: d,
                    class: name.clone(),
                    factor,
                    capped,
                    province_scale: 1.0,
                    weight,
                });
            }
        }
        let weighted = |i: usize| out[i].as_ref().map_or(0.0, |w| w.weight);
        let capped = members
            .iter()
            .any(|&i| out[i].as_ref().is_some_and(|w| w.capped));
        let reached: f64 = members
            .iter()
            .map(|&i| weighted(i) * strata[i].respondents as f64)
            .sum();
        if capped && reached > 0.0 {
            let population: f64 = members.iter().map(|&i| strata[i].population).sum();
            let scale = population / reached;
            for &i in &members {
                if let Some(w) = out[i].as_mut() {
                    w.province_scale = scale;
                    w.weight *= scale;
                }
            }
        }
    }
    Ok(out.into_iter().flatten().collect())
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

/// [`trim_province`] for a province whose rows belong to strata (`stratum_of_row`, any labels):
/// refused, with the reason, when it would hold every respondent of a stratum at the cap.
/// Weights from the frame (N_h / r_h) are equal within a stratum, so trimming them moves whole
/// strata — a stratum holding most of a province's adults can end with a third of its weight —
/// which is the design, not an outlier; a stratum whose weights all exceed the cap after
/// raking is the same. Trimming is kept for the outlying weights within a stratum.
pub fn trim_province_within_strata(
    weights: &[f64],
    stratum_of_row: &[&str],
    settings: TrimSettings,
) -> Result<(Vec<f64>, f64), StatsError> {
    let (trimmed, cap) = trim_province(weights, settings)?;
    let mut strata: Vec<&str> = stratum_of_row.to_vec();
    strata.sort_unstable();
    strata.dedup();
    for stratum in strata {
        let rows: Vec<usize> = (0..weights.len())
            .filter(|&i| stratum_of_row[i] == stratum)
            .collect();
        let held = rows.iter().all(|&i| trimmed[i] == cap && weights[i] != cap);
        if held {
            let (low, high) = rows
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &i| {
                    (l.min(weights[i]), h.max(weights[i]))
                });
            return Err(StatsError::Weighting(format!(
                "trimming at {} times the median weight would cut every respondent of stratum \
                 {stratum} ({} of them, weighing {low:.1} to {high:.1}, cap {cap:.1}): trimming \
                 is for the outlying weights within a stratum. Weights from the frame are equal \
                 within a stratum; for a stratum far under target use [nonresponse] \
                 (min_respondents, max_factor), and limit raking with calibration.bounds",
                settings.upper_to_median,
                rows.len()
            )));
        }
    }
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

/// A set of weights at one step of weighting: how many, Kish's design effect of weighting and
/// the range.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct WeightSummary {
    pub n: u64,
    /// `n Σw² / (Σw)²` ([`kish`]).
    pub kish_deff: f64,
    pub min: f64,
    pub max: f64,
}

impl WeightSummary {
    pub fn of(weights: &[f64]) -> Self {
        Self {
            n: weights.len() as u64,
            kish_deff: if weights.is_empty() {
                f64::NAN
            } else {
                kish(weights).0
            },
            min: weights.iter().copied().fold(f64::INFINITY, f64::min),
            max: weights.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// What trimming and calibration did to one province's weights (`sipas compute`'s reader).
#[derive(Debug, Clone, PartialEq)]
pub struct ProvinceWeighting {
    pub province: String,
    /// The weights as given (from the frame, or the file's `weight` column).
    pub given: WeightSummary,
    /// After `[trimming]`.
    pub trimmed: Option<WeightSummary>,
    /// After `[calibration]`, with the range of the adjustments g = w / w₀.
    pub calibrated: Option<(WeightSummary, f64, f64)>,
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

    fn stratum(province: &str, stratum: &str, n: f64, target: f64, r: u64) -> FrameStratum {
        FrameStratum {
            province: province.into(),
            stratum: stratum.into(),
            population: n,
            sampled: target,
            respondents: r,
        }
    }

    #[test]
    fn frame_weights_by_hand() {
        let frame = [
            stratum("01", "01-U", 1000.0, 40.0, 40),
            stratum("01", "01-R", 3000.0, 60.0, 30),
            stratum("01", "01-M", 600.0, 30.0, 5),
            stratum("02", "02-A", 500.0, 10.0, 0),
        ];
        // No settings: N_h / r_h, and a stratum without respondents weighs nothing.
        let plain = frame_weights(&frame, None).unwrap();
        let weights: Vec<f64> = plain.iter().map(|w| w.weight).collect();
        assert_eq!(weights, vec![25.0, 100.0, 120.0, 0.0]);
        assert!(plain.iter().all(|w| !w.capped));
        // Classes of at least 10: in code order 01-M (5) < 10 joins the next, 01-R. Design
        // weights 20 and 50; factor (600 + 3000) / (20·5 + 50·30) = 3600 / 1600 = 2.25.
        let settings = NonresponseSettings {
            min_respondents: 10,
            max_factor: None,
        };
        let classes = frame_weights(&frame, Some(&settings)).unwrap();
        assert_eq!(classes[2].class, "01-M+01-R");
        assert_eq!(classes[1].class, "01-M+01-R");
        assert_eq!(classes[0].class, "01-U");
        assert_eq!(classes[2].factor, 2.25);
        assert_eq!(classes[1].weight, 50.0 * 2.25);
        assert_eq!(classes[2].weight, 20.0 * 2.25);
        assert_eq!(classes[0].weight, 25.0);
        // The class keeps the population: 5·45 + 30·112.5 = 3600.
        assert_eq!(5.0 * classes[2].weight + 30.0 * classes[1].weight, 3600.0);
        // 02 has one stratum and no respondents: nothing to join, weight 0.
        assert_eq!(classes[3].weight, 0.0);
        // A cap of 2 holds the factor down; the class then stands for 40·5 + 100·30 = 3200
        // of its 3600, so the whole province (01-U: 25·40 = 1000) is scaled by 4600 / 4200.
        let capped = frame_weights(
            &frame,
            Some(&NonresponseSettings {
                min_respondents: 10,
                max_factor: Some(2.0),
            }),
        )
        .unwrap();
        assert!(capped[1].capped && capped[2].capped && !capped[0].capped);
        assert_eq!(capped[1].factor, 2.0);
        let scale = 4600.0 / 4200.0;
        assert!(capped[..3].iter().all(|w| w.province_scale == scale));
        assert_eq!(capped[1].weight, 100.0 * scale);
        assert_eq!(capped[0].weight, 25.0 * scale);
        let province: f64 = [40.0, 30.0, 5.0]
            .iter()
            .zip(&capped)
            .map(|(r, w)| r * w.weight)
            .sum();
        assert!((province - 4600.0).abs() < 1e-9, "{province}");
        // The cap still holds the ratio between the classes: 2 / 1.
        assert!(
            (capped[1].weight / capped[1].design_weight / (capped[0].weight / 25.0) - 2.0).abs()
                < 1e-12
        );
        // 02 has nothing capped: untouched.
        assert_eq!(capped[3].province_scale, 1.0);
        // The last stratum in code order joins the previous one.
        let last = [
            stratum("01", "a", 100.0, 10.0, 10),
            stratum("01", "b", 100.0, 10.0, 2),
        ];
        let joined = frame_weights(&last, Some(&settings)).unwrap();
        assert_eq!(joined[1].class, "a+b");
        let bad = [stratum("01", "a", -1.0, 10.0, 10)];
        assert!(frame_weights(&bad, None).is_err());
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
    fn trimming_never_cuts_a_whole_stratum() {
        let settings = TrimSettings {
            upper_to_median: 2.0,
        };
        // Stratum b's three respondents all weigh 4 (N_h / r_h): above the cap of 2 × median,
        // so trimming would move the whole stratum. Refused, naming it.
        let weights = [1.0, 1.2, 0.9, 1.1, 4.0, 4.0, 4.0, 1.0, 1.0];
        let strata = ["a", "a", "a", "a", "b", "b", "b", "a", "a"];
        let err = trim_province_within_strata(&weights, &strata, settings)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("stratum b") && err.contains("[nonresponse]"),
            "{err}"
        );
        // Unequal weights all above the cap (b after raking, say): still the whole stratum.
        let unequal = [1.0, 1.2, 0.9, 1.1, 3.6, 4.4, 4.0, 1.0, 1.0];
        let err = trim_province_within_strata(&unequal, &strata, settings)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("stratum b") && err.contains("3.6 to 4.4"),
            "{err}"
        );
        // Weights that vary within the stratum are trimmed as before.
        let varying = [1.0, 1.2, 0.9, 1.1, 4.0, 1.0, 1.3, 1.0, 1.0];
        let strata = ["a", "a", "a", "a", "b", "b", "b", "a", "a"];
        let (w, cap) = trim_province_within_strata(&varying, &strata, settings).unwrap();
        assert_eq!((w.clone(), cap), trim_province(&varying, settings).unwrap());
        assert_eq!(w[4], cap);
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
