//! The sample design and its linearized (ultimate-cluster) variance, as R's `svyrecvar` with
//! `svydesign(ids = ~psu, strata = ~stratum, fpc = ~fpc, nest = TRUE)`.
//!
//! A statistic's influence scores are summed per PSU; within each stratum the PSU totals are
//! centred at their mean and `f_h · n_h/(n_h − 1) · Σ (z_hj − z̄_h)²` is added. `n_h` is the
//! stratum's PSU count in the whole design: PSUs of the stratum without rows in a domain count
//! as zeros, which is how domain estimation keeps the design's structure.

use serde::{Deserialize, Serialize};

use crate::StatsError;

/// What to do with a stratum that has a single PSU (R's `options(survey.lonely.psu)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LonelyPsu {
    /// An error naming the stratum (R's default).
    #[default]
    Fail,
    /// The stratum contributes nothing.
    Remove,
    /// The PSU was sampled with certainty: it contributes nothing.
    Certainty,
    /// The single PSU total is centred at the grand mean of the scores (zero) instead of its
    /// stratum mean, a conservative choice.
    Adjust,
    /// The stratum gets the average variance of the other strata.
    Average,
}

/// Finite population correction of one stratum.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Fpc {
    /// Sampling with replacement (no correction).
    #[default]
    None,
    /// `N_h`, the number of PSUs in the stratum's population.
    Population(f64),
    /// `n_h / N_h`, the sampling fraction.
    Fraction(f64),
}

impl Fpc {
    /// R's convention for an `fpc` column value: above 1 a population size, otherwise a fraction.
    pub fn from_r_value(value: f64) -> Self {
        if value > 1.0 {
            Fpc::Population(value)
        } else {
            Fpc::Fraction(value)
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stratum {
    pub name: String,
    /// PSUs of this stratum in the whole sample.
    pub n_psu: usize,
    pub fpc: Fpc,
    /// A commune taken with certainty, whose PSUs are its respondents: it adds their
    /// variance but no degrees of freedom (see [`Design::degrees_of_freedom`]).
    pub certainty: bool,
}

impl Stratum {
    /// `1 − n_h/N_h`, or 1 without a correction.
    pub fn finite_correction(&self) -> f64 {
        match self.fpc {
            Fpc::None => 1.0,
            Fpc::Population(pop) => (pop - self.n_psu as f64) / pop,
            Fpc::Fraction(fraction) => 1.0 - fraction,
        }
    }
}

/// Strata and the stratum of every PSU. PSUs are numbered `0..n_psus` across the whole design.
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    pub strata: Vec<Stratum>,
    /// `psu_stratum[psu]` is the index of the PSU's stratum.
    pub psu_stratum: Vec<u32>,
    pub lonely_psu: LonelyPsu,
}

/// PSU totals of a statistic's scores over the PSUs present in a (sub)design: `(psu, total)`,
/// one entry per present PSU, in any order. "Present" means the PSU has at least one row in the
/// subset the statistic is computed on; its total may still be zero.
pub type PsuScores = [(u32, f64)];

impl Design {
    /// Builds a design from stratum names, their corrections and each PSU's stratum index.
    pub fn new(
        strata: Vec<(String, Fpc)>,
        psu_stratum: Vec<u32>,
        lonely_psu: LonelyPsu,
    ) -> Result<Self, StatsError> {
        let mut counts = vec![0usize; strata.len()];
        for &h in &psu_stratum {
            let slot = counts
                .get_mut(h as usize)
                .ok_or_else(|| StatsError::Invalid(format!("PSU refers to unknown stratum {h}")))?;
            *slot += 1;
        }
        let strata = strata
            .into_iter()
            .zip(counts)
            .map(|((name, fpc), n_psu)| Stratum {
                name,
                n_psu,
                fpc,
                certainty: false,
            })
            .collect::<Vec<_>>();
        for stratum in &strata {
            if let Fpc::Population(pop) = stratum.fpc
                && pop < stratum.n_psu as f64
            {
                return Err(StatsError::Invalid(format!(
                    "stratum {:?}: fpc {pop} is smaller than its {} sampled PSUs",
                    stratum.name, stratum.n_psu
                )));
            }
        }
        Ok(Self {
            strata,
            psu_stratum,
            lonely_psu,
        })
    }

    pub fn n_psus(&self) -> usize {
        self.psu_stratum.len()
    }

    /// Marks the strata that are communes taken with certainty (`flags[h]` for stratum h;
    /// missing flags stay unmarked).
    pub fn with_certainty(mut self, flags: &[bool]) -> Self {
        for (stratum, &flag) in self.strata.iter_mut().zip(flags) {
            stratum.certainty = flag;
        }
        self
    }

    /// Whether any stratum is a certainty commune's.
    pub fn has_certainty(&self) -> bool {
        self.strata.iter().any(|s| s.certainty)
    }

    /// Degrees of freedom of the subset whose present PSUs are given: #PSUs − #strata (R's
    /// `degf`), not counting the strata of communes taken with certainty while drawn communes
    /// are present: a certainty commune's respondents, its PSUs, add ~90 df to a province
    /// whose variance comes almost all from its few drawn communes. With certainty communes
    /// only, their respondents' df.
    pub fn degrees_of_freedom(&self, present_psus: impl IntoIterator<Item = u32>) -> f64 {
        let mut strata_seen = vec![false; self.strata.len()];
        // (PSUs, strata): all of them, and those drawn at random.
        let (mut all, mut drawn) = ((0usize, 0usize), (0usize, 0usize));
        for psu in present_psus {
            let h = self.psu_stratum[psu as usize] as usize;
            let random = !self.strata[h].certainty;
            let new_stratum = !strata_seen[h];
            strata_seen[h] = true;
            all.0 += 1;
            all.1 += usize::from(new_stratum);
            if random {
                drawn.0 += 1;
                drawn.1 += usize::from(new_stratum);
            }
        }
        let (psus, strata) = if drawn.0 > 0 { drawn } else { all };
        psus as f64 - strata as f64
    }

    /// The linearized variance of a statistic from its PSU score totals.
    pub fn variance(&self, scores: &PsuScores) -> Result<f64, StatsError> {
        let mut acc = StratumAccumulator::new(self.strata.len());
        acc.variance(self, scores)
    }
}

/// Reusable scratch space for many variance computations on one design.
pub struct StratumAccumulator {
    sum: Vec<f64>,
    present: Vec<u32>,
    squares: Vec<f64>,
    touched: Vec<u32>,
}

impl StratumAccumulator {
    pub fn new(n_strata: usize) -> Self {
        Self {
            sum: vec![0.0; n_strata],
            present: vec![0; n_strata],
            squares: vec![0.0; n_strata],
            touched: Vec::new(),
        }
    }

    pub fn variance(&mut self, design: &Design, scores: &PsuScores) -> Result<f64, StatsError> {
        // Pass 1: per-stratum totals and the number of present PSUs.
        for &(psu, z) in scores {
            let h = design.psu_stratum[psu as usize] as usize;
            if self.present[h] == 0 {
                self.touched.push(h as u32);
            }
            self.present[h] += 1;
            self.sum[h] += z;
        }
        // Pass 2: squared deviations from the stratum mean over the design's n_h PSUs.
        for &(psu, z) in scores {
            let h = design.psu_stratum[psu as usize] as usize;
            let n_h = design.strata[h].n_psu as f64;
            let d = z - self.sum[h] / n_h;
            self.squares[h] += d * d;
        }
        let result = self.combine(design);
        for &h in &self.touched {
            let h = h as usize;
            self.sum[h] = 0.0;
            self.present[h] = 0;
            self.squares[h] = 0.0;
        }
        self.touched.clear();
        result
    }

    fn combine(&self, design: &Design) -> Result<f64, StatsError> {
        let mut total = 0.0;
        let mut n_strata = 0usize;
        let mut n_ok = 0usize;
        for &h in &self.touched {
            let h = h as usize;
            let stratum = &design.strata[h];
            n_strata += 1;
            let f = stratum.finite_correction();
            if f < 1e-7 {
                // Sampled completely: no sampling variance.
                n_ok += 1;
                continue;
            }
            let n_h = stratum.n_psu;
            if n_h > 1 {
                let mean = self.sum[h] / n_h as f64;
                // PSUs of the stratum absent from the subset are zeros.
                let absent = (n_h - self.present[h] as usize) as f64;
                let ss = self.squares[h] + absent * mean * mean;
                total += f * n_h as f64 / (n_h as f64 - 1.0) * ss;
                n_ok += 1;
                continue;
            }
            match design.lonely_psu {
                LonelyPsu::Fail => {
                    return Err(StatsError::LonelyPsu {
                        stratum: stratum.name.clone(),
                    });
                }
                LonelyPsu::Remove | LonelyPsu::Certainty => n_ok += 1,
                LonelyPsu::Adjust => {
                    total += f * self.sum[h] * self.sum[h];
                    n_ok += 1;
                }
                LonelyPsu::Average => {}
            }
        }
        if n_ok == 0 {
            return Ok(if n_strata == 0 { 0.0 } else { f64::NAN });
        }
        Ok(total * n_strata as f64 / n_ok as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1e-300)
    }

    #[test]
    fn srs_with_replacement_is_the_textbook_formula() {
        // One stratum, every row its own PSU: V = n/(n−1) Σ (z − z̄)².
        let design =
            Design::new(vec![("all".into(), Fpc::None)], vec![0; 4], LonelyPsu::Fail).unwrap();
        let scores = [(0, 1.0), (1, 2.0), (2, 3.0), (3, 6.0)];
        let mean = 3.0;
        let ss: f64 = [1.0f64, 2.0, 3.0, 6.0]
            .iter()
            .map(|z| (z - mean) * (z - mean))
            .sum();
        assert!(close(design.variance(&scores).unwrap(), 4.0 / 3.0 * ss));
    }

    #[test]
    fn absent_psus_count_as_zeros() {
        let design =
            Design::new(vec![("h".into(), Fpc::None)], vec![0; 3], LonelyPsu::Fail).unwrap();
        let sparse = design.variance(&[(0, 3.0)]).unwrap();
        let dense = design.variance(&[(0, 3.0), (1, 0.0), (2, 0.0)]).unwrap();
        assert!(close(sparse, dense));
    }

    #[test]
    fn lonely_policies() {
        let strata = vec![("a".into(), Fpc::None), ("b".into(), Fpc::None)];
        let psus = vec![0, 0, 1];
        let scores = [(0, 1.0), (1, -3.0), (2, 2.0)];
        let two_psu = 2.0 * (2.0f64 * 2.0 + 2.0 * 2.0);
        let make = |policy| Design::new(strata.clone(), psus.clone(), policy).unwrap();
        assert!(matches!(
            make(LonelyPsu::Fail).variance(&scores),
            Err(StatsError::LonelyPsu { .. })
        ));
        assert!(close(
            make(LonelyPsu::Remove).variance(&scores).unwrap(),
            two_psu
        ));
        assert!(close(
            make(LonelyPsu::Certainty).variance(&scores).unwrap(),
            two_psu
        ));
        assert!(close(
            make(LonelyPsu::Adjust).variance(&scores).unwrap(),
            two_psu + 4.0
        ));
        assert!(close(
            make(LonelyPsu::Average).variance(&scores).unwrap(),
            two_psu * 2.0
        ));
    }

    #[test]
    fn complete_strata_contribute_nothing() {
        let design = Design::new(
            vec![("h".into(), Fpc::Population(2.0))],
            vec![0, 0],
            LonelyPsu::Fail,
        )
        .unwrap();
        assert_eq!(design.variance(&[(0, 1.0), (1, -1.0)]).unwrap(), 0.0);
    }

    #[test]
    fn degrees_of_freedom_count_present_psus_and_strata() {
        let design = Design::new(
            vec![("a".into(), Fpc::None), ("b".into(), Fpc::None)],
            vec![0, 0, 0, 1, 1],
            LonelyPsu::Fail,
        )
        .unwrap();
        assert_eq!(design.degrees_of_freedom([0, 1, 2, 3, 4]), 3.0);
        assert_eq!(design.degrees_of_freedom([0, 1]), 1.0);
        // Stratum b is a commune taken with certainty (its PSUs are respondents): no df while
        // drawn PSUs are present, its own when alone.
        let design = design.with_certainty(&[false, true]);
        assert!(design.has_certainty());
        assert_eq!(design.degrees_of_freedom([0, 1, 2, 3, 4]), 2.0);
        assert_eq!(design.degrees_of_freedom([3, 4]), 1.0);
    }
}
