//! Allocating a wave's sample across provinces before anything is drawn: what each rule gives
//! (respondents, communes, take per commune, expected margin of error, design df) so the choice
//! is made with its consequences in view. The arithmetic is `sipas_stats::sampling`'s.

use serde::{Deserialize, Serialize};
use sipas_stats::sampling;

use crate::i18n::Text;

/// How respondents are shared across provinces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The Ministry's current rule: n = N / (1 + N·e²) in every province.
    #[default]
    Yamane,
    /// The same number in every province.
    Equal,
    /// In proportion to the provinces' adult populations.
    Proportional,
    /// The smallest n whose expected margin of error is at most the target.
    Precision,
}

impl Rule {
    pub const ALL: [Rule; 4] = [
        Rule::Yamane,
        Rule::Equal,
        Rule::Proportional,
        Rule::Precision,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Rule::Yamane => "yamane",
            Rule::Equal => "equal",
            Rule::Proportional => "proportional",
            Rule::Precision => "precision",
        }
    }

    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Rule::Yamane => (
                "Quy tắc hiện nay của Bộ: n = N / (1 + N·e²)",
                "The Ministry's current rule: n = N / (1 + N·e²)",
            ),
            Rule::Equal => ("Chia đều cho các tỉnh", "The same in every province"),
            Rule::Proportional => (
                "Theo tỷ lệ dân số trưởng thành",
                "In proportion to the adult population",
            ),
            Rule::Precision => (
                "Đủ để sai số không quá mức mục tiêu",
                "Enough for a target margin of error",
            ),
        }
    }
}

/// What the design page asks (all with defaults, so the page shows a table at once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Options {
    pub rule: Rule,
    /// Yamane's e, in percentage points.
    pub yamane_e: f64,
    /// All respondents, for the equal and proportional rules.
    pub total: u64,
    /// The target margin of error, in percentage points (precision rule).
    pub margin: f64,
    /// The anticipated share satisfied, in percent.
    pub p: f64,
    /// The design effect where the last release gives none for a province.
    pub deff: f64,
    /// Communes (PSUs) to visit per province.
    pub communes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            rule: Rule::Yamane,
            yamane_e: 5.0,
            total: 34_000,
            margin: 4.0,
            p: 50.0,
            deff: 2.0,
            communes: 12,
        }
    }
}

/// One province as the design sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProvinceInput {
    pub code: String,
    pub name: String,
    /// Adults; unknown until a measure of size is uploaded (then no finite-population
    /// correction, and the proportional rule shares equally).
    pub population: Option<f64>,
    /// From the last release on the same map, for the overall index.
    pub deff: Option<f64>,
    /// The strata the draw makes in it ([`province_strata`]; 2 where the map has no list).
    pub strata: u64,
}

impl Options {
    /// The options from a posted form's fields (`field(name)`); an absent field keeps its
    /// default, a field that is not a number says which.
    pub fn from_fields<'a>(field: impl Fn(&str) -> Option<&'a str>) -> Result<Options, Text> {
        let mut options = Options::default();
        if let Some(rule) = field("rule") {
            options.rule = Rule::ALL
                .into_iter()
                .find(|r| r.key() == rule)
                .ok_or_else(|| {
                    Text::new("Cách phân bổ không hợp lệ.", "Unknown allocation rule.")
                })?;
        }
        let number = |name: &str, value: &mut f64| -> Result<(), Text> {
            if let Some(text) = field(name) {
                *value = text.trim().replace(',', ".").parse().map_err(|_| {
                    Text::new(
                        format!("Ô {name} không phải số hợp lệ."),
                        format!("The field {name} is not a valid number."),
                    )
                })?;
            }
            Ok(())
        };
        let count = |name: &str, value: &mut u64| -> Result<(), Text> {
            if let Some(text) = field(name) {
                *value = text.trim().parse().map_err(|_| {
                    Text::new(
                        format!("Ô {name} không phải số nguyên hợp lệ."),
                        format!("The field {name} is not a valid whole number."),
                    )
                })?;
            }
            Ok(())
        };
        number("yamane_e", &mut options.yamane_e)?;
        number("margin", &mut options.margin)?;
        number("p", &mut options.p)?;
        number("deff", &mut options.deff)?;
        count("total", &mut options.total)?;
        count("communes", &mut options.communes)?;
        options.checked()?;
        Ok(options)
    }
}

/// Adults per commune from a file (`commune`, `size` columns): every code on the official list,
/// once, with a whole number; a commune the file leaves out has size 0 and is never drawn.
pub fn parse_sizes(
    mut table: super::sheet::Table,
    communes: &std::collections::HashMap<String, crate::domain::Commune>,
) -> Result<std::collections::HashMap<String, f64>, super::sheet::Problems> {
    use super::sheet::{Problems, Table, parse_count};
    table.normalise_header();
    let mut problems = Problems::default();
    let Some(cols) = table.require(&["commune", "size"], &mut problems) else {
        return Err(problems);
    };
    let mut sizes = std::collections::HashMap::new();
    for (row_number, row) in table.data() {
        let code = Table::cell(row, cols[0]);
        if !communes.contains_key(code) {
            problems.add(
                row_number,
                "commune",
                (
                    format!("{code:?} không phải mã chính thức của một xã, phường hay đặc khu trên bản đồ từ 1/7/2025"),
                    format!("{code:?} is not the official code of a commune, ward or special zone of the map since 1 July 2025"),
                ),
            );
            continue;
        }
        let Some(size) = parse_count(Table::cell(row, cols[1])) else {
            problems.add(
                row_number,
                "size",
                (
                    "cần số người trưởng thành, một số nguyên từ 0",
                    "the number of adults is needed, a whole number from 0",
                ),
            );
            continue;
        };
        if sizes.insert(code.to_owned(), size as f64).is_some() {
            problems.add(
                row_number,
                "commune",
                (
                    format!("{code} xuất hiện hai lần"),
                    format!("{code} is listed twice"),
                ),
            );
        }
    }
    if sizes.is_empty() && problems.is_empty() {
        problems.add(
            0,
            "",
            ("tệp không có dòng dữ liệu nào", "the file has no data rows"),
        );
    }
    if problems.is_empty() {
        Ok(sizes)
    } else {
        Err(problems)
    }
}

/// What a rule gives one province.
#[derive(Debug, Clone, PartialEq)]
pub struct ProvinceDesign {
    pub code: String,
    pub name: String,
    pub population: Option<f64>,
    pub deff: f64,
    /// Whether `deff` is the last release's (else the option's).
    pub deff_from_release: bool,
    /// Respondents wanted (communes × take).
    pub respondents: u64,
    pub communes: u64,
    pub take: u64,
    /// Expected half-width of the 95% interval of the overall index, proportion points.
    pub margin: f64,
    /// The design's degrees of freedom: communes − strata.
    pub df: u64,
}

/// Below this many respondents per commune, commune × item cells of 1 to 4 people are likely
/// and the per-commune totals cannot be published (docs/methodology.md, disclosure).
pub const SMALL_TAKE: u64 = 10;
/// The reliability rule's minimum design df (NCHS: below 8, marked for review).
pub const MIN_DF: u64 = 8;

impl Options {
    /// The options, checked; what is out of range says which field.
    pub fn checked(&self) -> Result<(), Text> {
        let bad = |vi: &str, en: &str| Err(Text::new(vi, en));
        // The lower bounds keep n finite (e → 0 asks for the whole population).
        if !(self.yamane_e >= 0.5 && self.yamane_e < 50.0) {
            return bad(
                "e phải từ 0,5 đến dưới 50 điểm %.",
                "e must be from 0.5 to below 50 points.",
            );
        }
        if !(self.margin >= 0.5 && self.margin < 50.0) {
            return bad(
                "Sai số mục tiêu phải từ 0,5 đến dưới 50 điểm %.",
                "The target margin must be from 0.5 to below 50 points.",
            );
        }
        if !(self.p > 0.0 && self.p < 100.0) {
            return bad(
                "Tỷ lệ dự kiến phải trong khoảng 0–100%.",
                "The anticipated share must lie between 0 and 100%.",
            );
        }
        if !(self.deff >= 1.0 && self.deff <= 20.0) {
            return bad(
                "Hệ số thiết kế phải từ 1 đến 20.",
                "The design effect must be from 1 to 20.",
            );
        }
        if self.communes < 4 || self.communes > 200 {
            return bad(
                "Số xã/phường mỗi tỉnh phải từ 4 (hai tầng, mỗi tầng ít nhất 2 để ước lượng được phương sai) đến 200.",
                "Communes per province must be from 4 (two strata of at least 2, so a variance can be estimated) to 200.",
            );
        }
        if self.total > 10_000_000 {
            return bad("Tổng số người trả lời quá lớn.", "The total is too large.");
        }
        Ok(())
    }
}

/// What `options` gives each province.
pub fn allocate(
    provinces: &[ProvinceInput],
    options: &Options,
) -> Result<Vec<ProvinceDesign>, Text> {
    options.checked()?;
    let p = options.p / 100.0;
    // An unknown population is a large one: no finite-population correction.
    let unknown = f64::MAX;
    let sizes: Vec<u64> = match options.rule {
        Rule::Yamane => provinces
            .iter()
            .map(|unit| {
                sampling::yamane(unit.population.unwrap_or(unknown), options.yamane_e / 100.0)
            })
            .collect(),
        Rule::Precision => provinces
            .iter()
            .map(|unit| {
                sampling::size_for_margin(
                    options.margin / 100.0,
                    unit.population.unwrap_or(f64::MAX),
                    p,
                    unit.deff.unwrap_or(options.deff),
                )
                .map_err(|e| {
                    Text::new(
                        format!("{} {}: không tính được cỡ mẫu ({e})", unit.code, unit.name),
                        format!("{} {}: no sample size ({e})", unit.code, unit.name),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
        Rule::Equal | Rule::Proportional => {
            // Proportional needs every province's adults: with one unknown, all share equally.
            let known = provinces.iter().all(|unit| unit.population.is_some());
            let weights: Vec<f64> = provinces
                .iter()
                .map(|unit| match (options.rule, unit.population) {
                    (Rule::Proportional, Some(adults)) if known => adults,
                    _ => 1.0,
                })
                .collect();
            sampling::apportion(options.total, &weights, options.communes)
                .map_err(|e| Text::new(e.to_string(), e.to_string()))?
        }
    };
    Ok(provinces
        .iter()
        .zip(sizes)
        .map(|(unit, wanted)| {
            // Every commune gets the same take; the province's n is rounded up to communes × take.
            let communes = options.communes;
            // Bounded: a province cannot ask for more than the population (nor, unknown, for
            // more than ten million).
            let wanted = wanted.min(10_000_000);
            let take = wanted.div_ceil(communes).max(1);
            let respondents = communes.saturating_mul(take);
            let deff = unit.deff.unwrap_or(options.deff);
            ProvinceDesign {
                code: unit.code.clone(),
                name: unit.name.clone(),
                population: unit.population,
                deff,
                deff_from_release: unit.deff.is_some(),
                respondents,
                communes,
                take,
                margin: sampling::margin_of_error(
                    respondents as f64,
                    unit.population.unwrap_or(f64::MAX),
                    p,
                    deff,
                ),
                df: communes.saturating_sub(unit.strata),
            }
        })
        .collect())
}

/// One stratum of a draw: its units on the official list, how many were drawn, and the
/// random start that drew them (reproducible from the seed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StratumDraw {
    pub province_code: String,
    pub stratum: String,
    pub units: usize,
    pub drawn: usize,
    /// u in [0, 1): `sampling::systematic_selection`'s start (R's `UPsystematic` runif).
    pub start: f64,
    /// Adults in the stratum when sizes were given.
    pub population: Option<f64>,
}

/// A commune drawn into the sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrawnCommune {
    pub province_code: String,
    pub stratum: String,
    pub code: String,
    pub name: String,
    pub size: Option<f64>,
    pub inclusion_probability: f64,
    /// Respondents wanted there (the province's take).
    pub target: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Draw {
    pub seed: u64,
    pub strata: Vec<StratumDraw>,
    pub communes: Vec<DrawnCommune>,
}

/// What is stored with a drawn frame: enough to draw it again (`options`, `draw.seed`, the
/// algorithm, the official list) and to weight it later (each commune's size and probability).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrawRecord {
    pub algorithm: String,
    pub options: Options,
    pub draw: Draw,
    /// Province → the expected 95% margin of its index under the design (monitoring's target).
    #[serde(default)]
    pub targets: std::collections::BTreeMap<String, f64>,
}

impl Draw {
    /// The wave's frame: each stratum's adults (the sizes added up) and units on the list, each
    /// drawn commune with the province's take as its target. Needs the sizes: without them no
    /// stratum has a population to weight to.
    pub fn frame(&self) -> Result<super::frame::Frame, Text> {
        let mut frame = super::frame::Frame::default();
        for stratum in &self.strata {
            let population = stratum.population.unwrap_or(0.0).round();
            if population < 1.0 {
                return Err(Text::new(
                    format!(
                        "tầng {} chưa có dân số: cần tệp số người trưởng thành của từng xã/phường để dàn mẫu tính được trọng số",
                        stratum.stratum
                    ),
                    format!(
                        "stratum {} has no population: the adults of each commune are needed for the frame's weights",
                        stratum.stratum
                    ),
                ));
            }
            frame.strata.push(super::frame::FrameStratum {
                province_code: stratum.province_code.clone(),
                stratum: stratum.stratum.clone(),
                population: population as i64,
                psus_in_population: stratum.units as i64,
            });
        }
        for commune in &self.communes {
            frame.psus.push(super::frame::FramePsu {
                province_code: commune.province_code.clone(),
                stratum: commune.stratum.clone(),
                psu: commune.code.clone(),
                name: commune.name.clone(),
                target: i64::try_from(commune.target).unwrap_or(i64::MAX),
            });
        }
        Ok(frame)
    }
}

/// The draw's algorithm, recorded with it.
pub const DRAW_ALGORITHM: &str = "systematic PPS (sampling::UPsystematic) within strata, units in \
     official-code order, start = first 53 bits of SHA-256(\"seed:province:stratum\") / 2^53";

/// The random start of a stratum: reproducible from the seed, different for every stratum.
pub fn stratum_start(seed: u64, province: &str, stratum: &str) -> f64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{seed}:{province}:{stratum}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) >> 11) as f64 / (1u64 << 53) as f64
}

/// The strata the draw makes in a province from its units (in code order): wards urban,
/// communes and special zones rural; when either has fewer than two units, one stratum for the
/// whole province (every stratum can then estimate a variance).
pub fn province_strata<'a>(
    province: &str,
    units: &[&'a crate::domain::Commune],
) -> Vec<(String, Vec<&'a crate::domain::Commune>)> {
    let (urban, rural): (Vec<_>, Vec<_>) = units.iter().partition(|c| c.kind.urban());
    if urban.len() >= 2 && rural.len() >= 2 {
        vec![
            (format!("{province}-thanh-thi"), urban),
            (format!("{province}-nong-thon"), rural),
        ]
    } else {
        vec![(format!("{province}-toan-tinh"), units.to_vec())]
    }
}

/// Draws each province's communes as `allocation` says: the units of the 2025 map split into
/// the default strata (wards urban, communes and special zones rural; a stratum with fewer than
/// two units joins the other, so every stratum can estimate a variance), the province's communes
/// shared across its strata in proportion to their size (at least two each), then systematic
/// PPS in each stratum on `sizes` (adults per commune; none: equal probabilities).
pub fn draw(
    communes: &[crate::domain::Commune],
    sizes: &std::collections::HashMap<String, f64>,
    allocation: &[ProvinceDesign],
    seed: u64,
) -> Result<Draw, Text> {
    let mut out = Draw {
        seed,
        strata: Vec::new(),
        communes: Vec::new(),
    };
    for province in allocation {
        let mut units: Vec<&crate::domain::Commune> = communes
            .iter()
            .filter(|c| c.province_code == province.code)
            .collect();
        units.sort_by(|a, b| a.code.cmp(&b.code));
        let strata = province_strata(&province.code, &units);
        let size_of = |c: &crate::domain::Commune| {
            if sizes.is_empty() {
                1.0
            } else {
                sizes.get(&c.code).copied().unwrap_or(0.0)
            }
        };
        let weights: Vec<f64> = strata
            .iter()
            .map(|(_, members)| members.iter().map(|c| size_of(c)).sum())
            .collect();
        let minimum = if strata.len() > 1 { 2 } else { 1 };
        let mut shares =
            sampling::apportion(province.communes, &weights, minimum).map_err(|e| {
                Text::new(
                    format!("{} {}: {e}", province.code, province.name),
                    format!("{} {}: {e}", province.code, province.name),
                )
            })?;
        // A stratum cannot give more communes than it has with a size: the rest go to the
        // other stratum, up to its room (too few in the whole province is said below).
        let room: Vec<u64> = strata
            .iter()
            .map(|(_, members)| members.iter().filter(|c| size_of(c) > 0.0).count() as u64)
            .collect();
        let mut left: u64 = shares
            .iter()
            .zip(&room)
            .map(|(k, r)| k.saturating_sub(*r))
            .sum();
        for (k, r) in shares.iter_mut().zip(&room) {
            *k = (*k).min(*r);
        }
        for (k, r) in shares.iter_mut().zip(&room) {
            let add = left.min(r - *k);
            *k += add;
            left -= add;
        }
        for ((stratum, members), k) in strata.into_iter().zip(shares) {
            let stratum_sizes: Vec<f64> = members.iter().map(|c| size_of(c)).collect();
            let positive = stratum_sizes.iter().filter(|s| **s > 0.0).count();
            if (k as usize) > positive {
                return Err(Text::new(
                    format!(
                        "{} {}: tầng {stratum} chỉ có {positive} xã/phường có quy mô, không chọn được {k}",
                        province.code, province.name
                    ),
                    format!(
                        "{} {}: stratum {stratum} has only {positive} communes with a size, {k} cannot be drawn",
                        province.code, province.name
                    ),
                ));
            }
            let pik = sampling::inclusion_probabilities(&stratum_sizes, k as usize)
                .map_err(|e| Text::new(e.to_string(), e.to_string()))?;
            let start = stratum_start(seed, &province.code, &stratum);
            let selected = sampling::systematic_selection(&pik, start)
                .map_err(|e| Text::new(e.to_string(), e.to_string()))?;
            let drawn = selected.iter().filter(|s| **s).count();
            out.strata.push(StratumDraw {
                province_code: province.code.clone(),
                stratum: stratum.clone(),
                units: members.len(),
                drawn,
                start,
                population: (!sizes.is_empty()).then(|| stratum_sizes.iter().sum()),
            });
            for ((commune, pi), chosen) in members.iter().zip(&pik).zip(&selected) {
                if *chosen {
                    out.communes.push(DrawnCommune {
                        province_code: province.code.clone(),
                        stratum: stratum.clone(),
                        code: commune.code.clone(),
                        name: commune.name_vi.clone(),
                        size: (!sizes.is_empty()).then(|| size_of(commune)),
                        inclusion_probability: *pi,
                        target: province.take,
                    });
                }
            }
        }
    }
    Ok(out)
}

impl DrawRecord {
    /// The audit log's words for a draw (the Ministry's record is in Vietnamese).
    pub fn audit_detail(&self, frame: &super::frame::Frame) -> String {
        format!(
            "hạt giống {}: {} xã/phường ở {} tầng, {} phiếu",
            self.draw.seed,
            frame.psus.len(),
            frame.strata.len(),
            frame.total_target()
        )
    }
}

impl Draw {
    /// Provinces whose drawn communes give fewer than [`MIN_DF`] degrees of freedom once the
    /// communes taken with certainty are set aside (they add no df: docs/methodology.md), with
    /// that df: the allocation table counted every commune, before the sizes were known.
    pub fn short_of_df(&self) -> Vec<(String, u64)> {
        let mut by_province: std::collections::BTreeMap<
            &str,
            (u64, std::collections::BTreeSet<&str>),
        > = std::collections::BTreeMap::new();
        for commune in &self.communes {
            let entry = by_province
                .entry(commune.province_code.as_str())
                .or_default();
            if commune.inclusion_probability < 1.0 - sampling::CERTAINTY_EPS {
                entry.0 += 1;
                entry.1.insert(commune.stratum.as_str());
            }
        }
        by_province
            .into_iter()
            .map(|(province, (drawn, strata))| {
                (
                    province.to_owned(),
                    drawn.saturating_sub(strata.len() as u64),
                )
            })
            .filter(|(_, df)| *df < MIN_DF)
            .collect()
    }
}

/// Allocates with `options`, draws with `seed` and makes the frame: what the design page's
/// draw stores (the frame and how it was drawn), and what the demonstration's waves are made of.
pub fn draw_frame(
    communes: &[crate::domain::Commune],
    sizes: &std::collections::HashMap<String, f64>,
    provinces: &[ProvinceInput],
    options: &Options,
    seed: u64,
) -> Result<(super::frame::Frame, DrawRecord), Text> {
    let allocation = allocate(provinces, options)?;
    let targets = allocation
        .iter()
        .map(|p| (p.code.clone(), p.margin))
        .collect();
    let draw = draw(communes, sizes, &allocation, seed)?;
    let frame = draw.frame()?;
    Ok((
        frame,
        DrawRecord {
            algorithm: DRAW_ALGORITHM.to_owned(),
            options: options.clone(),
            draw,
            targets,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certainty_communes_count_no_df() {
        let commune = |province: &str, stratum: &str, code: &str, pi: f64| DrawnCommune {
            province_code: province.into(),
            stratum: stratum.into(),
            code: code.into(),
            name: String::new(),
            size: Some(1.0),
            inclusion_probability: pi,
            target: 10,
        };
        // 01: ten communes in two strata, one certain: 9 − 2 = 7 df. 79: ten drawn: 8.
        let mut communes = vec![commune("01", "a", "c0", 1.0)];
        for k in 1..10 {
            communes.push(commune(
                "01",
                if k < 5 { "a" } else { "b" },
                &format!("c{k}"),
                0.3,
            ));
        }
        for k in 0..10 {
            communes.push(commune(
                "79",
                if k < 5 { "a" } else { "b" },
                &format!("d{k}"),
                0.3,
            ));
        }
        let draw = Draw {
            seed: 1,
            strata: Vec::new(),
            communes,
        };
        assert_eq!(draw.short_of_df(), vec![("01".to_owned(), 7)]);
    }

    fn provinces() -> Vec<ProvinceInput> {
        vec![
            ProvinceInput {
                code: "01".into(),
                name: "Hà Nội".into(),
                population: Some(6_000_000.0),
                deff: Some(3.0),
                strata: 2,
            },
            ProvinceInput {
                code: "04".into(),
                name: "Cao Bằng".into(),
                population: Some(380_000.0),
                deff: None,
                strata: 2,
            },
        ]
    }

    #[test]
    fn the_ministry_rule_gives_about_400_per_province_in_whole_communes() {
        let out = allocate(&provinces(), &Options::default()).unwrap();
        // 6,000,000 / (1 + 6,000,000 · 0.0025) = 399.97 → 400 → 12 communes × 34 = 408.
        assert_eq!((out[0].respondents, out[0].take), (408, 34));
        // 380,000 / 951 = 399.58 → 400 as well.
        assert_eq!(out[1].respondents, 408);
        // Hà Nội's deff 3 from the release; Cao Bằng the default 2.
        assert!(out[0].deff_from_release && !out[1].deff_from_release);
        // m = 1.96·√(3 · 0.25 / 408 · (N − n)/(N − 1)) = 0.08403…
        let by_hand = 1.959_963_984_540_054
            * (3.0_f64 * 0.25 / 408.0 * (6_000_000.0 - 408.0) / (6_000_000.0 - 1.0)).sqrt();
        assert!((out[0].margin - by_hand).abs() < 1e-15);
        assert_eq!(out[0].df, 10);
    }

    #[test]
    fn a_precision_target_sizes_each_province_by_its_own_deff() {
        let options = Options {
            rule: Rule::Precision,
            margin: 5.0,
            ..Options::default()
        };
        let out = allocate(&provinces(), &options).unwrap();
        for unit in &out {
            assert!(unit.margin <= 0.05, "{unit:?}");
        }
        // deff 3 needs 1.5 times the respondents deff 2 needs (n₀ = 1152.4 vs 768.3).
        assert!(out[0].respondents > out[1].respondents);
    }

    #[test]
    fn proportional_and_equal_add_up_and_bad_options_say_which() {
        let options = Options {
            rule: Rule::Proportional,
            total: 2_000,
            ..Options::default()
        };
        let out = allocate(&provinces(), &options).unwrap();
        // 12 communes each first, then 1,976 by population (94.0% and 6.0%).
        let wanted: Vec<u64> = sampling::apportion(2_000, &[6_000_000.0, 380_000.0], 12).unwrap();
        assert_eq!(wanted.iter().sum::<u64>(), 2_000);
        assert_eq!(out[0].take, wanted[0].div_ceil(12));
        let bad = Options {
            communes: 3,
            ..Options::default()
        };
        let error = allocate(&provinces(), &bad).unwrap_err();
        assert!(error.vi.contains("phải từ 4"), "{}", error.vi);
    }

    fn map() -> Vec<crate::domain::Commune> {
        use crate::domain::{Commune, CommuneKind};
        let mut list = Vec::new();
        for i in 0..40 {
            let kind = if i < 12 {
                CommuneKind::Ward
            } else {
                CommuneKind::Commune
            };
            list.push(Commune {
                province_code: "01".into(),
                code: format!("{:05}", 100 + i),
                name_vi: format!("Đơn vị {i}"),
                kind,
            });
        }
        // A province with a single ward: one stratum for the whole province.
        for i in 0..20 {
            let kind = if i == 0 {
                CommuneKind::Ward
            } else {
                CommuneKind::Commune
            };
            list.push(Commune {
                province_code: "04".into(),
                code: format!("{:05}", 900 + i),
                name_vi: format!("Xã {i}"),
                kind,
            });
        }
        list
    }

    #[test]
    fn a_draw_takes_every_allocated_commune_reproducibly_from_its_seed() {
        let allocation = allocate(&provinces(), &Options::default()).unwrap();
        let sizes: std::collections::HashMap<String, f64> = map()
            .iter()
            .enumerate()
            // One very large ward is drawn with certainty.
            .map(|(i, c)| {
                (
                    c.code.clone(),
                    if i == 3 {
                        400_000.0
                    } else {
                        2_000.0 + 150.0 * i as f64
                    },
                )
            })
            .collect();
        let first = draw(&map(), &sizes, &allocation, 20_261_207).unwrap();
        assert_eq!(
            first,
            draw(&map(), &sizes, &allocation, 20_261_207).unwrap()
        );
        assert_ne!(
            first.communes,
            draw(&map(), &sizes, &allocation, 1).unwrap().communes
        );
        for province in ["01", "04"] {
            let drawn: Vec<&DrawnCommune> = first
                .communes
                .iter()
                .filter(|c| c.province_code == province)
                .collect();
            assert_eq!(drawn.len(), 12, "{province}");
            assert!(drawn.iter().all(|c| c.target == 34));
        }
        // Hà Nội: two strata, each at least two communes; the giant ward is certain.
        let hanoi: Vec<&StratumDraw> = first
            .strata
            .iter()
            .filter(|s| s.province_code == "01")
            .collect();
        assert_eq!(hanoi.len(), 2);
        assert!(hanoi.iter().all(|s| s.drawn >= 2));
        assert!(
            first
                .communes
                .iter()
                .any(|c| c.code == "00103" && c.inclusion_probability == 1.0)
        );
        // Each stratum's probabilities are sampling's on its units in code order, with its start.
        for stratum in &first.strata {
            assert_eq!(
                stratum.start,
                stratum_start(20_261_207, &stratum.province_code, &stratum.stratum)
            );
            let units: Vec<crate::domain::Commune> = map()
                .into_iter()
                .filter(|c| {
                    c.province_code == stratum.province_code
                        && (stratum.stratum.ends_with("toan-tinh")
                            || c.kind.urban() == stratum.stratum.ends_with("thanh-thi"))
                })
                .collect();
            let stratum_sizes: Vec<f64> = units.iter().map(|c| sizes[&c.code]).collect();
            let pik = sampling::inclusion_probabilities(&stratum_sizes, stratum.drawn).unwrap();
            let chosen = sampling::systematic_selection(&pik, stratum.start).unwrap();
            let expected: Vec<&str> = units
                .iter()
                .zip(&chosen)
                .filter(|(_, s)| **s)
                .map(|(c, _)| c.code.as_str())
                .collect();
            let ours: Vec<&str> = first
                .communes
                .iter()
                .filter(|c| c.stratum == stratum.stratum)
                .map(|c| c.code.as_str())
                .collect();
            assert_eq!(ours, expected, "{}", stratum.stratum);
        }
        // Cao Bằng-like province: one ward only, so one stratum.
        assert_eq!(
            first
                .strata
                .iter()
                .filter(|s| s.province_code == "04")
                .count(),
            1
        );
    }

    #[test]
    fn without_sizes_every_commune_of_a_stratum_has_the_same_chance() {
        let allocation = allocate(&provinces(), &Options::default()).unwrap();
        let drawn = draw(&map(), &Default::default(), &allocation, 7).unwrap();
        for commune in &drawn.communes {
            let stratum = drawn
                .strata
                .iter()
                .find(|s| s.stratum == commune.stratum)
                .unwrap();
            let expected = stratum.drawn as f64 / stratum.units as f64;
            assert!((commune.inclusion_probability - expected).abs() < 1e-12);
            assert!(stratum.population.is_none());
        }
    }

    #[test]
    fn a_stratum_never_gets_more_communes_than_it_has() {
        use crate::domain::{Commune, CommuneKind};
        // Two very large wards and ten small communes: by adults the urban stratum would take
        // four of six communes, but it has two.
        let units: Vec<Commune> = (0..12)
            .map(|i| Commune {
                province_code: "05".into(),
                code: format!("{:05}", 500 + i),
                name_vi: format!("Đơn vị {i}"),
                kind: if i < 2 {
                    CommuneKind::Ward
                } else {
                    CommuneKind::Commune
                },
            })
            .collect();
        let sizes = units
            .iter()
            .enumerate()
            .map(|(i, c)| (c.code.clone(), if i < 2 { 1_000_000.0 } else { 1_000.0 }))
            .collect();
        let allocation = vec![ProvinceDesign {
            code: "05".into(),
            name: "Thử".into(),
            population: None,
            deff: 2.0,
            deff_from_release: false,
            respondents: 60,
            communes: 6,
            take: 10,
            margin: 0.1,
            df: 4,
        }];
        let drawn = draw(&units, &sizes, &allocation, 3).unwrap();
        let per: Vec<(String, usize)> = drawn
            .strata
            .iter()
            .map(|s| (s.stratum.clone(), s.drawn))
            .collect();
        assert_eq!(
            per,
            [
                ("05-thanh-thi".to_owned(), 2),
                ("05-nong-thon".to_owned(), 4)
            ]
        );
        assert_eq!(drawn.communes.len(), 6);
    }
}
