//! The methodology: answer scale, interval method, lonely-PSU policy, reliability thresholds,
//! subgroup breakdowns and the index tree. Read from TOML (see docs/methodology.md).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::StatsError;
use crate::calibration::CalibrationSettings;
use crate::ci::CiMethod;
use crate::design::LonelyPsu;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Methodology {
    #[serde(default)]
    pub scale: Scale,
    #[serde(default)]
    pub ci: CiSettings,
    #[serde(default)]
    pub lonely_psu: LonelyPsu,
    /// Which national figure is the headline; both are always computed.
    #[serde(default)]
    pub national_rule: NationalRule,
    #[serde(default)]
    pub reliability: Reliability,
    /// Columns whose values define subgroup domains (e.g. `sex`, `age_band`, `urban`).
    #[serde(default)]
    pub subgroups: Vec<String>,
    /// Nonresponse adjustment of weights from the sample frame: weighting classes joined when
    /// small, and a cap on the adjustment factor (computing from the database).
    #[serde(default)]
    pub nonresponse: Option<crate::weighting::NonresponseSettings>,
    /// Trimming of extreme weights within each province, before any calibration; never of a
    /// whole stratum of equal weights.
    #[serde(default)]
    pub trimming: Option<crate::weighting::TrimSettings>,
    /// Raking to population margins within each province (`sipas compute --population`).
    #[serde(default)]
    pub calibration: Option<CalibrationSettings>,
    /// When a single response is flagged for review before it counts (`crate::quality`).
    #[serde(default)]
    pub quality: crate::quality::QualityThresholds,
    /// The inner nodes of the index tree. A child that is not a node is an item (a CSV column).
    pub nodes: Vec<NodeDef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scale {
    pub min: i64,
    pub max: i64,
    /// Answers at or above this value count as satisfied (4 = "Hài lòng" on 1–5).
    pub satisfied_min: i64,
}

impl Default for Scale {
    fn default() -> Self {
        Self {
            min: 1,
            max: 5,
            satisfied_min: 4,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CiSettings {
    #[serde(default)]
    pub method: CiMethod,
    #[serde(default = "default_level")]
    pub level: f64,
}

fn default_level() -> f64 {
    0.95
}

impl Default for CiSettings {
    fn default() -> Self {
        Self {
            method: CiMethod::default(),
            level: default_level(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NationalRule {
    /// The official rule: the plain mean of the provinces' indices.
    #[default]
    MeanOfProvinces,
    /// The design-based estimate over all respondents.
    Pooled,
}

/// Which rule set flags cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagRule {
    /// The NCHS Data Presentation Standards for Proportions (Parker et al. 2017): n and effective
    /// n ≥ 30, Korn–Graubard width < 0.30 and relative width ≤ 130% (when wider than 0.05);
    /// df < 8 and estimates at 0 or 1 are marked for review. The thresholds below are not used.
    #[default]
    Nchs,
    /// The thresholds below (`min_n`, `min_n_eff`, `min_df`, `max_cv`, `max_ci_width`).
    Thresholds,
}

/// When a published cell is marked or suppressed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reliability {
    #[serde(default)]
    pub rule: FlagRule,
    /// Fewer respondents than this: suppressed.
    #[serde(default = "default_min_n")]
    pub min_n: f64,
    /// Effective sample size below this: suppressed.
    #[serde(default = "default_min_n")]
    pub min_n_eff: f64,
    /// Fewer design degrees of freedom than this: marked low precision.
    #[serde(default = "default_min_df")]
    pub min_df: f64,
    /// Coefficient of variation (se / estimate) above this: marked low precision.
    #[serde(default = "default_max_cv")]
    pub max_cv: f64,
    /// Interval wider than this (in proportion points): marked low precision.
    #[serde(default = "default_max_ci_width")]
    pub max_ci_width: f64,
}

fn default_min_n() -> f64 {
    30.0
}
fn default_min_df() -> f64 {
    8.0
}
fn default_max_cv() -> f64 {
    0.1
}
fn default_max_ci_width() -> f64 {
    0.2
}

impl Default for Reliability {
    fn default() -> Self {
        Self {
            rule: FlagRule::default(),
            min_n: default_min_n(),
            min_n_eff: default_min_n(),
            min_df: default_min_df(),
            max_cv: default_max_cv(),
            max_ci_width: default_max_ci_width(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeDef {
    pub code: String,
    #[serde(default)]
    pub label_vi: Option<String>,
    #[serde(default)]
    pub label_en: Option<String>,
    pub children: Vec<String>,
    /// Child weights in the same order; equal when omitted. Normalised to sum to one.
    #[serde(default)]
    pub weights: Option<Vec<f64>>,
}

/// The tree flattened for estimation: items in a fixed order, and for every inner node the
/// coefficient of each item in the node's linear combination of item ratios.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledTree {
    pub items: Vec<String>,
    /// Inner nodes in definition order, with sparse `(item index, coefficient)` lists.
    pub nodes: Vec<(String, Vec<(usize, f64)>)>,
}

impl CompiledTree {
    /// The items (indices into `items`) each inner node rests on: those with a positive
    /// coefficient.
    pub fn node_items(&self) -> Vec<Vec<usize>> {
        self.nodes
            .iter()
            .map(|(_, coefs)| {
                coefs
                    .iter()
                    .filter(|(_, c)| *c > 0.0)
                    .map(|(k, _)| *k)
                    .collect()
            })
            .collect()
    }
}

impl Methodology {
    pub fn from_toml(text: &str) -> Result<Self, StatsError> {
        let methodology: Methodology =
            toml::from_str(text).map_err(|err| StatsError::Methodology(err.to_string()))?;
        methodology.validate()?;
        Ok(methodology)
    }

    fn validate(&self) -> Result<(), StatsError> {
        let scale = &self.scale;
        if scale.min > scale.max || !(scale.min..=scale.max).contains(&scale.satisfied_min) {
            return Err(StatsError::Methodology(format!(
                "scale: satisfied_min {} must lie in min..=max ({}..={})",
                scale.satisfied_min, scale.min, scale.max
            )));
        }
        self.quality.validate().map_err(StatsError::Methodology)?;
        if !(self.ci.level > 0.0 && self.ci.level < 1.0) {
            return Err(StatsError::Methodology(format!(
                "ci.level must be between 0 and 1, got {}",
                self.ci.level
            )));
        }
        if let Some(calibration) = &self.calibration {
            if calibration.margins.is_empty() {
                return Err(StatsError::Methodology(
                    "calibration.margins must name at least one column".into(),
                ));
            }
            if let Some(bounds) = calibration.bounds
                && !(bounds.lower >= 0.0 && bounds.lower < 1.0 && bounds.upper > 1.0)
            {
                return Err(StatsError::Methodology(format!(
                    "calibration.bounds: lower {} must be in [0, 1) and upper {} above 1 (limits on w / w0)",
                    bounds.lower, bounds.upper
                )));
            }
        }
        if let Some(nonresponse) = &self.nonresponse
            && let Some(cap) = nonresponse.max_factor
            && !(cap.is_finite() && cap >= 1.0)
        {
            return Err(StatsError::Methodology(format!(
                "nonresponse.max_factor must be a number of at least 1 (the largest adjustment \
                 of a weighting class), got {cap}"
            )));
        }
        if let Some(trimming) = &self.trimming
            && !(trimming.upper_to_median.is_finite() && trimming.upper_to_median > 1.0)
        {
            return Err(StatsError::Methodology(format!(
                "trimming.upper_to_median must be a number above 1 (the cap as a multiple of \
                 the province's median weight), got {}",
                trimming.upper_to_median
            )));
        }
        if self.nodes.is_empty() {
            return Err(StatsError::Methodology(
                "at least one [[nodes]] entry is needed".into(),
            ));
        }
        self.compile().map(|_| ())
    }

    /// Flattens the tree; errors on duplicate nodes, bad weights and cycles.
    pub fn compile(&self) -> Result<CompiledTree, StatsError> {
        let mut by_code: HashMap<&str, &NodeDef> = HashMap::new();
        for node in &self.nodes {
            if by_code.insert(node.code.as_str(), node).is_some() {
                return Err(StatsError::Methodology(format!(
                    "node {:?} is defined twice",
                    node.code
                )));
            }
            if node.children.is_empty() {
                return Err(StatsError::Methodology(format!(
                    "node {:?} has no children",
                    node.code
                )));
            }
            if let Some(weights) = &node.weights {
                if weights.len() != node.children.len() {
                    return Err(StatsError::Methodology(format!(
                        "node {:?}: {} weights for {} children",
                        node.code,
                        weights.len(),
                        node.children.len()
                    )));
                }
                if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0))
                    || weights.iter().sum::<f64>() <= 0.0
                {
                    return Err(StatsError::Methodology(format!(
                        "node {:?}: weights must be non-negative with a positive sum",
                        node.code
                    )));
                }
            }
        }
        // Items: every child that is not a node, in first-seen order.
        let mut items: Vec<String> = Vec::new();
        let mut item_index: HashMap<String, usize> = HashMap::new();
        for node in &self.nodes {
            for child in &node.children {
                if !by_code.contains_key(child.as_str()) && !item_index.contains_key(child) {
                    item_index.insert(child.clone(), items.len());
                    items.push(child.clone());
                }
            }
        }
        let mut memo: HashMap<String, BTreeMap<usize, f64>> = HashMap::new();
        let mut nodes = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            let mut stack = Vec::new();
            let coefficients = expand(&node.code, &by_code, &item_index, &mut memo, &mut stack)?;
            nodes.push((node.code.clone(), coefficients.into_iter().collect()));
        }
        Ok(CompiledTree { items, nodes })
    }
}

fn expand(
    code: &str,
    by_code: &HashMap<&str, &NodeDef>,
    item_index: &HashMap<String, usize>,
    memo: &mut HashMap<String, BTreeMap<usize, f64>>,
    stack: &mut Vec<String>,
) -> Result<BTreeMap<usize, f64>, StatsError> {
    if let Some(done) = memo.get(code) {
        return Ok(done.clone());
    }
    if stack.iter().any(|c| c == code) {
        stack.push(code.to_owned());
        return Err(StatsError::Methodology(format!(
            "the tree has a cycle: {}",
            stack.join(" → ")
        )));
    }
    let Some(node) = by_code.get(code) else {
        let mut single = BTreeMap::new();
        if let Some(&k) = item_index.get(code) {
            single.insert(k, 1.0);
        }
        return Ok(single);
    };
    stack.push(code.to_owned());
    let weights = node
        .weights
        .clone()
        .unwrap_or_else(|| vec![1.0; node.children.len()]);
    let total: f64 = weights.iter().sum();
    let mut combined = BTreeMap::new();
    for (child, weight) in node.children.iter().zip(weights) {
        for (k, c) in expand(child, by_code, item_index, memo, stack)? {
            *combined.entry(k).or_insert(0.0) += weight / total * c;
        }
    }
    stack.pop();
    memo.insert(code.to_owned(), combined.clone());
    Ok(combined)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TREE: &str = r#"
        [[nodes]]
        code = "sipas"
        children = ["policy", "services"]
        weights = [1, 3]

        [[nodes]]
        code = "policy"
        children = ["p1", "p2"]

        [[nodes]]
        code = "services"
        children = ["s1", "s2", "s3"]
    "#;

    #[test]
    fn compiles_coefficients_through_the_tree() {
        let m = Methodology::from_toml(TREE).unwrap();
        let tree = m.compile().unwrap();
        assert_eq!(tree.items, ["p1", "p2", "s1", "s2", "s3"]);
        let sipas = &tree.nodes[0].1;
        let expected = [(0, 0.125), (1, 0.125), (2, 0.25), (3, 0.25), (4, 0.25)];
        for ((k, c), (ek, ec)) in sipas.iter().zip(expected) {
            assert_eq!(*k, ek);
            assert!((c - ec).abs() < 1e-15);
        }
        assert_eq!(m.scale, Scale::default());
        assert_eq!(m.ci.method, CiMethod::Logit);
        assert_eq!(m.lonely_psu, LonelyPsu::Fail);
    }

    #[test]
    fn refuses_cycles_and_bad_weights() {
        let cycle = "[[nodes]]\ncode = \"a\"\nchildren = [\"b\"]\n[[nodes]]\ncode = \"b\"\nchildren = [\"a\"]\n";
        let err = Methodology::from_toml(cycle).unwrap_err().to_string();
        assert!(err.contains("cycle"), "{err}");
        let weights = "[[nodes]]\ncode = \"a\"\nchildren = [\"x\", \"y\"]\nweights = [1]\n";
        assert!(
            Methodology::from_toml(weights)
                .unwrap_err()
                .to_string()
                .contains("1 weights for 2 children")
        );
        let unknown = "colour = 1\n[[nodes]]\ncode = \"a\"\nchildren = [\"x\"]\n";
        assert!(Methodology::from_toml(unknown).is_err());
    }
}
