//! Reading a microdata CSV (one row per response) into sufficient statistics.
//!
//! Columns: `response_id`, `province`, optional `stratum` (default: the province), `psu`
//! (default: each response its own PSU), `weight` (default 1) and `fpc`; the methodology's
//! subgroup columns; one column per item with the raw answer. An empty answer, `NA`, or a value
//! outside the scale is "no answer". Anything else that is not a number is an error naming the
//! row and column. Rows are numbered as lines of the file (the header is row 1).

use std::collections::HashMap;
use std::io::Read;

use crate::StatsError;
use crate::calibration::{BlockBuilder, Bounds, CalibrationSettings, Population, rake_bounded};
use crate::design::{Design, Fpc};
use crate::methodology::{Methodology, Scale};
use crate::totals::{Answer, Area, DomainKey, SufficientStats, TotalsBuilder};
use crate::weighting::{
    Margin, ProvinceWeighting, WeightSummary, trim_province_within_strata, validate_margins,
};

struct Columns {
    response_id: usize,
    province: usize,
    stratum: Option<usize>,
    psu: Option<usize>,
    weight: Option<usize>,
    fpc: Option<usize>,
    certainty: Option<usize>,
    subgroups: Vec<(String, usize)>,
    items: Vec<usize>,
}

fn find_columns(
    headers: &csv::ByteRecord,
    methodology: &Methodology,
    items: &[String],
) -> Result<Columns, StatsError> {
    // A byte-order mark (spreadsheet exports) is not part of the first column's name.
    let names: Vec<String> = headers
        .iter()
        .map(|h| {
            String::from_utf8_lossy(h)
                .trim_start_matches('\u{feff}')
                .trim()
                .to_owned()
        })
        .collect();
    let find = |name: &str| names.iter().position(|n| n == name);
    let require = |name: &str| {
        find(name).ok_or_else(|| StatsError::Input {
            row: 1,
            column: name.to_owned(),
            message: "required column is missing from the header".to_owned(),
        })
    };
    let mut seen = HashMap::new();
    for (i, name) in names.iter().enumerate() {
        if let Some(first) = seen.insert(name.as_str(), i) {
            return Err(StatsError::Input {
                row: 1,
                column: name.clone(),
                message: format!(
                    "column appears twice (positions {} and {})",
                    first + 1,
                    i + 1
                ),
            });
        }
    }
    Ok(Columns {
        // The platform's export names its random row id `export_id`.
        response_id: match find("response_id").or_else(|| find("export_id")) {
            Some(i) => i,
            None => require("response_id")?,
        },
        province: require("province")?,
        stratum: find("stratum"),
        psu: find("psu"),
        weight: find("weight"),
        fpc: find("fpc"),
        certainty: find("certainty"),
        subgroups: methodology
            .subgroups
            .iter()
            .map(|s| require(s).map(|i| (s.clone(), i)))
            .collect::<Result<_, _>>()?,
        items: items
            .iter()
            .map(|item| require(item))
            .collect::<Result<_, _>>()?,
    })
}

fn field<'r>(
    record: &'r csv::ByteRecord,
    index: usize,
    row: u64,
    column: &str,
) -> Result<&'r str, StatsError> {
    let bytes = record.get(index).unwrap_or_default();
    std::str::from_utf8(bytes)
        .map(str::trim)
        .map_err(|_| StatsError::Input {
            row,
            column: column.to_owned(),
            message: "not valid UTF-8".to_owned(),
        })
}

fn is_missing(text: &str) -> bool {
    text.is_empty() || text == "NA"
}

/// A stratum code found in two provinces. Strata are sampled within a province, so a code
/// shared by two provinces would pool them into one stratum (R's `svydesign` would too) and
/// give wrong standard errors and degrees of freedom without any error.
fn shared_stratum(stratum: &str, first: &str, first_row: u64, province: &str) -> String {
    format!(
        "stratum {stratum:?} is used in province {first} (row {first_row}) and in province \
         {province}: stratum codes must be unique across provinces, or the two would be pooled \
         into one stratum; prefix them with the province (e.g. {province}-{stratum})"
    )
}

/// Parses one raw answer against the scale.
fn parse_answer(text: &str, scale: &Scale, row: u64, column: &str) -> Result<Answer, StatsError> {
    if is_missing(text) {
        return Ok(None);
    }
    // Fast path: a single digit, by far the most common answer.
    let value: f64 = match text.as_bytes() {
        [digit @ b'0'..=b'9'] => f64::from(digit - b'0'),
        _ => text.parse().map_err(|_| StatsError::Input {
            row,
            column: column.to_owned(),
            message: format!("answer {text:?} is not a number (leave it empty for no answer)"),
        })?,
    };
    if value.fract() != 0.0 || value < scale.min as f64 || value > scale.max as f64 {
        return Ok(None);
    }
    Ok(Some(value >= scale.satisfied_min as f64))
}

fn parse_positive(text: &str, row: u64, column: &str) -> Result<f64, StatsError> {
    let value: f64 = text.parse().map_err(|_| StatsError::Input {
        row,
        column: column.to_owned(),
        message: format!("{text:?} is not a number"),
    })?;
    if !(value.is_finite() && value > 0.0) {
        return Err(StatsError::Input {
            row,
            column: column.to_owned(),
            message: format!("must be a positive number, got {text}"),
        });
    }
    Ok(value)
}

/// Interns strings to dense indices in first-seen order.
#[derive(Default)]
struct Interner {
    index: HashMap<String, u32>,
    names: Vec<String>,
}

impl Interner {
    fn get(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.index.insert(name.to_owned(), i);
        self.names.push(name.to_owned());
        i
    }
}

/// Detects repeated response ids without allocating a string per row: ids live in one arena,
/// found through their hash; the rare hash collision falls back to a map of strings.
#[derive(Default)]
struct UniqueIds {
    arena: String,
    spans: Vec<(usize, usize, u64)>,
    by_hash: HashMap<u64, usize>,
    collisions: HashMap<String, u64>,
    hasher: std::collections::hash_map::RandomState,
}

impl UniqueIds {
    /// Records `id` first seen in `row`; returns the earlier row if it was seen before.
    fn insert(&mut self, id: &str, row: u64) -> Option<u64> {
        use std::hash::BuildHasher;
        let hash = self.hasher.hash_one(id);
        match self.by_hash.get(&hash) {
            None => {
                self.by_hash.insert(hash, self.spans.len());
                let start = self.arena.len();
                self.arena.push_str(id);
                self.spans.push((start, id.len(), row));
                None
            }
            Some(&i) => {
                let (start, len, first) = self.spans[i];
                if &self.arena[start..start + len] == id {
                    Some(first)
                } else {
                    self.collisions.insert(id.to_owned(), row)
                }
            }
        }
    }
}

/// Reads the CSV and accumulates the totals of every domain the methodology asks for:
/// each province, the nation, and each of those by every subgroup value. A methodology with
/// `[calibration]` needs [`read_csv_calibrated`].
pub fn read_csv<R: Read>(
    reader: R,
    methodology: &Methodology,
) -> Result<SufficientStats, StatsError> {
    read_csv_calibrated(reader, methodology, None)
}

/// A row kept until the weights are trimmed or raked (`[trimming]`, `[calibration]`).
struct HeldRow {
    line: u64,
    province: u32,
    psu: u32,
    weight: f64,
    /// Range in the shared answer and subgroup buffers.
    answers: usize,
    subgroups: (usize, usize),
    /// Interned value of each margin.
    margins: usize,
}

/// Rows that wait for their province's weights (trimming and raking need them all at once),
/// in shared buffers rather than a vector per row.
#[derive(Default)]
struct Held {
    rows: Vec<HeldRow>,
    answers: Vec<Answer>,
    subgroups: Vec<(u32, u32)>,
    margins: Vec<u32>,
    /// The categories met in each margin column.
    margin_values: Vec<Interner>,
}

impl Held {
    /// Keeps one row, with its category of every calibration margin (which it must have).
    fn keep(
        &mut self,
        record: &csv::ByteRecord,
        (line, (province, psu, weight)): (u64, (u32, u32, f64)),
        answers: &[Answer],
        subgroups: &[(u32, u32)],
        margin_cols: &[(String, usize)],
    ) -> Result<(), StatsError> {
        let margins = self.margins.len();
        for (m, (name, col)) in margin_cols.iter().enumerate() {
            let value = field(record, *col, line, name)?;
            if is_missing(value) {
                return Err(StatsError::Input {
                    row: line,
                    column: name.clone(),
                    message:
                        "is empty: every respondent needs a category of each calibration margin"
                            .into(),
                });
            }
            self.margins.push(self.margin_values[m].get(value));
        }
        let start = self.subgroups.len();
        self.subgroups.extend_from_slice(subgroups);
        self.rows.push(HeldRow {
            line,
            province,
            psu,
            weight,
            answers: self.answers.len(),
            subgroups: (start, self.subgroups.len()),
            margins,
        });
        self.answers.extend_from_slice(answers);
        Ok(())
    }

    fn answers_of(&self, r: &HeldRow, n_items: usize) -> &[Answer] {
        &self.answers[r.answers..r.answers + n_items]
    }

    fn subgroups_of(&self, r: &HeldRow) -> &[(u32, u32)] {
        &self.subgroups[r.subgroups.0..r.subgroups.1]
    }
}

/// Where each row stands in the design, as the file is read: its province, its stratum (in
/// one province only, with one fpc), its PSU (nested in the stratum) and its weight; response
/// ids are unique. Errors name the row and column.
#[derive(Default)]
struct DesignReader {
    provinces: Interner,
    strata: Interner,
    stratum_fpc: Vec<Option<f64>>,
    /// The strata marked in the `certainty` column (a commune taken with certainty).
    stratum_certain: Vec<bool>,
    /// The province of every stratum, and the row that first named it.
    stratum_owner: Vec<(String, u64)>,
    /// PSU names per stratum (PSUs are nested in strata), looked up without allocating.
    psus: Vec<HashMap<String, u32>>,
    psu_stratum: Vec<u32>,
    psu_labels: Vec<String>,
    response_ids: UniqueIds,
}

impl DesignReader {
    /// The row's province (1-based index), PSU and weight.
    fn place(
        &mut self,
        record: &csv::ByteRecord,
        row: u64,
        cols: &Columns,
    ) -> Result<(u32, u32, f64), StatsError> {
        let empty = |column: &str| StatsError::Input {
            row,
            column: column.into(),
            message: "is empty".into(),
        };
        let id = field(record, cols.response_id, row, "response_id")?;
        if id.is_empty() {
            return Err(empty("response_id"));
        }
        if let Some(first) = self.response_ids.insert(id, row) {
            return Err(StatsError::Input {
                row,
                column: "response_id".into(),
                message: format!("{id:?} was already used in row {first}"),
            });
        }
        let province = field(record, cols.province, row, "province")?;
        if province.is_empty() {
            return Err(empty("province"));
        }
        let h = self.stratum(record, row, cols, province)?;
        let psu = match cols.psu {
            Some(i) => {
                let name = field(record, i, row, "psu")?;
                if name.is_empty() {
                    return Err(empty("psu"));
                }
                match self.psus[h as usize].get(name) {
                    Some(&psu) => psu,
                    None => {
                        let psu = self.new_psu(h, name.to_owned());
                        self.psus[h as usize].insert(name.to_owned(), psu);
                        psu
                    }
                }
            }
            // No PSU column: every response is its own PSU (ids are unique).
            None => self.new_psu(h, format!("response {id}")),
        };
        let weight = match cols.weight {
            Some(i) => {
                let text = field(record, i, row, "weight")?;
                if is_missing(text) {
                    return Err(empty("weight"));
                }
                parse_positive(text, row, "weight")?
            }
            None => 1.0,
        };
        Ok((self.provinces.get(province) + 1, psu, weight))
    }

    /// The row's stratum (the province when there is no stratum column or it is empty): a code
    /// belongs to one province, and its fpc is the same on every row.
    fn stratum(
        &mut self,
        record: &csv::ByteRecord,
        row: u64,
        cols: &Columns,
        province: &str,
    ) -> Result<u32, StatsError> {
        let name = match cols.stratum {
            Some(i) => match field(record, i, row, "stratum")? {
                "" => province,
                s => s,
            },
            None => province,
        };
        let h = self.strata.get(name);
        if h as usize == self.stratum_fpc.len() {
            self.stratum_fpc.push(None);
            self.psus.push(HashMap::new());
            self.stratum_owner.push((province.to_owned(), row));
            let certain = match cols.certainty {
                Some(i) => match field(record, i, row, "certainty")? {
                    "1" => true,
                    "" | "0" => false,
                    other => {
                        return Err(StatsError::Input {
                            row,
                            column: "certainty".into(),
                            message: format!(
                                "{other:?}: 1 (a commune taken with certainty) or empty"
                            ),
                        });
                    }
                },
                None => false,
            };
            self.stratum_certain.push(certain);
        } else if self.stratum_owner[h as usize].0 != province {
            let (first, first_row) = &self.stratum_owner[h as usize];
            return Err(StatsError::Input {
                row,
                column: "stratum".into(),
                message: shared_stratum(name, first, *first_row, province),
            });
        }
        if let Some(i) = cols.fpc {
            let text = field(record, i, row, "fpc")?;
            if !is_missing(text) {
                let value = parse_positive(text, row, "fpc")?;
                match self.stratum_fpc[h as usize] {
                    None => self.stratum_fpc[h as usize] = Some(value),
                    Some(previous) if previous != value => {
                        return Err(StatsError::Input {
                            row,
                            column: "fpc".into(),
                            message: format!(
                                "{value} differs from {previous} given earlier for stratum {name:?}"
                            ),
                        });
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(h)
    }

    fn new_psu(&mut self, stratum: u32, label: String) -> u32 {
        self.psu_stratum.push(stratum);
        self.psu_labels.push(label);
        self.psu_stratum.len() as u32 - 1
    }

    fn stratum_of(&self, psu: u32) -> &str {
        &self.strata.names[self.psu_stratum[psu as usize] as usize]
    }

    fn province_name(&self, p: u32) -> &str {
        &self.provinces.names[p as usize - 1]
    }
}

/// The totals being built, with their domains found through small integer keys.
struct Sink {
    builder: TotalsBuilder,
    domain_ids: HashMap<(u32, u32, u32), usize>,
    row_domains: Vec<usize>,
}

impl Sink {
    /// Adds a row whose answers (and calibration, if any) the builder has been given.
    fn add(
        &mut self,
        names: &DomainNames<'_>,
        place: (u32, u32, f64),
        subgroups: &[(u32, u32)],
        answers: &[Answer],
    ) {
        add_to_domains(
            &mut self.builder,
            &mut self.domain_ids,
            &mut self.row_domains,
            names,
            place,
            subgroups,
            answers,
        );
    }
}

/// [`read_csv`], raking each province's weights to `population` when the methodology has
/// `[calibration]` (see [`crate::calibration`]).
pub fn read_csv_calibrated<R: Read>(
    reader: R,
    methodology: &Methodology,
    population: Option<&Population>,
) -> Result<SufficientStats, StatsError> {
    read_csv_weighted(reader, methodology, population).map(|(stats, _)| stats)
}

/// [`read_csv_calibrated`], with what trimming and raking did to each province's weights (for
/// the weights report; empty when the methodology does neither).
///
/// In steps: the header's columns; each row's place in the design, answers and subgroups
/// (added to its domains at once, or held when its province's weights must first be trimmed
/// or raked); trimming; raking, adding the held rows with their final weights; the design.
pub fn read_csv_weighted<R: Read>(
    reader: R,
    methodology: &Methodology,
    population: Option<&Population>,
) -> Result<(SufficientStats, Vec<ProvinceWeighting>), StatsError> {
    let tree = methodology.compile()?;
    let calibration = methodology.calibration.as_ref();
    if calibration.is_some() && population.is_none() {
        return Err(StatsError::Methodology(
            "[calibration] rakes to population totals: give the population file (--population)"
                .into(),
        ));
    }
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(reader);
    let headers = csv
        .byte_headers()
        .map_err(|e| StatsError::Csv(format!("cannot read the header: {e}")))?
        .clone();
    let cols = find_columns(&headers, methodology, &tree.items)?;
    let margin_cols = margin_columns(&headers, calibration)?;
    let hold = calibration.is_some() || methodology.trimming.is_some();

    let mut design = DesignReader::default();
    let mut held = Held {
        margin_values: margin_cols.iter().map(|_| Interner::default()).collect(),
        ..Held::default()
    };
    let mut subgroup_values: Vec<Interner> =
        cols.subgroups.iter().map(|_| Interner::default()).collect();
    let mut sink = Sink {
        builder: TotalsBuilder::new(tree.items.len(), tree.node_items()),
        domain_ids: HashMap::new(),
        row_domains: Vec::new(),
    };
    let mut answers: Vec<Answer> = vec![None; tree.items.len()];
    let mut row_subgroups: Vec<(u32, u32)> = Vec::new();
    let mut record = csv::ByteRecord::new();
    let mut row: u64 = 1;
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(err) => return Err(StatsError::Csv(format!("row {}: {err}", row + 1))),
        }
        // Rows as a spreadsheet numbers them (the header is row 1): records, not lines, so
        // a quoted field with a line break or CRLF endings do not shift the count.
        row += 1;
        let place = design.place(&record, row, &cols)?;
        for ((slot, &col), name) in answers.iter_mut().zip(&cols.items).zip(&tree.items) {
            *slot = parse_answer(
                field(&record, col, row, name)?,
                &methodology.scale,
                row,
                name,
            )?;
        }
        row_subgroups.clear();
        for (c, (name, col)) in cols.subgroups.iter().enumerate() {
            let value = field(&record, *col, row, name)?;
            if !is_missing(value) {
                row_subgroups.push((c as u32 + 1, subgroup_values[c].get(value)));
            }
        }
        if hold {
            held.keep(
                &record,
                (row, place),
                &answers,
                &row_subgroups,
                &margin_cols,
            )?;
            continue;
        }
        sink.builder.set_row(&answers);
        let names = DomainNames {
            provinces: &design.provinces,
            subgroup_columns: &cols.subgroups,
            subgroup_values: &subgroup_values,
        };
        sink.add(&names, place, &row_subgroups, &answers);
    }
    if design.psu_stratum.is_empty() {
        return Err(StatsError::Csv("the file has no data rows".into()));
    }

    let mut report: Vec<ProvinceWeighting> = Vec::new();
    if let Some(settings) = methodology.trimming {
        trim_held(&mut held, &design, settings, &mut report)?;
    }
    let names = DomainNames {
        provinces: &design.provinces,
        subgroup_columns: &cols.subgroups,
        subgroup_values: &subgroup_values,
    };
    let n_items = tree.items.len();
    let mut blocks = BlockBuilder::default();
    match (calibration, population) {
        (Some(settings), Some(population)) => {
            let raking = Raking {
                margin_cols: &margin_cols,
                population,
                settings,
            };
            rake_held(&held, &design, &raking, &mut report, |p, rows, raked| {
                let province = design.province_name(p).to_owned();
                let block = blocks.add_block(province, raked.columns.clone());
                let c = raked.columns.len();
                for (j, r) in rows.iter().enumerate() {
                    let answers = held.answers_of(r, n_items);
                    let (active, w) = (&raked.active[j], raked.weights[j]);
                    sink.builder.set_row(answers);
                    sink.builder
                        .set_calibration(Some((block, c, r.weight, active)));
                    blocks.add_row(block, r.psu, r.weight, w, active);
                    sink.add(&names, (p, r.psu, w), held.subgroups_of(r), answers);
                }
            })?;
        }
        // Trimmed only (or nothing held): the rows go in as they are.
        _ => {
            for r in &held.rows {
                let answers = held.answers_of(r, n_items);
                sink.builder.set_row(answers);
                sink.add(
                    &names,
                    (r.province, r.psu, r.weight),
                    held.subgroups_of(r),
                    answers,
                );
            }
        }
    }

    let strata_defs = design
        .strata
        .names
        .into_iter()
        .zip(design.stratum_fpc)
        .map(|(name, fpc)| (name, fpc.map_or(Fpc::None, Fpc::from_r_value)))
        .collect();
    let stats = SufficientStats {
        design: Design::new(strata_defs, design.psu_stratum, methodology.lonely_psu)?
            .with_certainty(&design.stratum_certain),
        nodes: tree.nodes.iter().map(|(code, _)| code.clone()).collect(),
        items: tree.items,
        domains: sink.builder.finish(),
        calibration: calibration.map(|_| blocks.finish()),
        psu_labels: design.psu_labels,
        merged_node_ss: Default::default(),
    };
    Ok((stats, report))
}

/// The header's column of each calibration margin.
fn margin_columns(
    headers: &csv::ByteRecord,
    calibration: Option<&CalibrationSettings>,
) -> Result<Vec<(String, usize)>, StatsError> {
    let Some(calibration) = calibration else {
        return Ok(Vec::new());
    };
    calibration
        .margins
        .iter()
        .map(|m| {
            headers
                .iter()
                .position(|h| {
                    String::from_utf8_lossy(h)
                        .trim_start_matches('\u{feff}')
                        .trim()
                        == m
                })
                .map(|i| (m.clone(), i))
                .ok_or_else(|| StatsError::Input {
                    row: 1,
                    column: m.clone(),
                    message: "calibration margin column is missing from the header".into(),
                })
        })
        .collect()
}

/// Trims each province's held weights within its strata (`[trimming]`), noting the result in
/// the weights report.
fn trim_held(
    held: &mut Held,
    design: &DesignReader,
    settings: crate::weighting::TrimSettings,
    report: &mut Vec<ProvinceWeighting>,
) -> Result<(), StatsError> {
    for (p, rows) in rows_by_province(&held.rows, design.provinces.names.len()) {
        let province = design.province_name(p);
        let given: Vec<f64> = rows.iter().map(|&i| held.rows[i].weight).collect();
        let stratum_of_row: Vec<&str> = rows
            .iter()
            .map(|&i| design.stratum_of(held.rows[i].psu))
            .collect();
        let (trimmed, _) = trim_province_within_strata(&given, &stratum_of_row, settings)
            .map_err(|e| StatsError::Weighting(format!("province {province}: {e}")))?;
        report.push(ProvinceWeighting {
            province: province.to_owned(),
            given: WeightSummary::of(&given),
            trimmed: Some(WeightSummary::of(&trimmed)),
            calibrated: None,
        });
        for (&i, w) in rows.iter().zip(trimmed) {
            held.rows[i].weight = w;
        }
    }
    Ok(())
}

/// What raking needs besides the rows.
struct Raking<'a> {
    margin_cols: &'a [(String, usize)],
    population: &'a Population,
    settings: &'a CalibrationSettings,
}

/// Rakes each province's held rows to its population totals (`[calibration]`), notes the
/// weights and the g-range in the report, and gives each province's rows with the raking to
/// `add` (in province order).
fn rake_held(
    held: &Held,
    design: &DesignReader,
    raking: &Raking<'_>,
    report: &mut Vec<ProvinceWeighting>,
    mut add: impl FnMut(u32, &[&HeldRow], &RakedProvince),
) -> Result<(), StatsError> {
    for (p, rows) in rows_by_province(&held.rows, design.provinces.names.len()) {
        let province = design.province_name(p);
        let rows: Vec<&HeldRow> = rows.iter().map(|&i| &held.rows[i]).collect();
        let raked = rake_province(
            province,
            &rows,
            &held.margins,
            raking.margin_cols,
            &held.margin_values,
            raking.population,
            raking.settings,
        )?;
        let before: Vec<f64> = rows.iter().map(|r| r.weight).collect();
        let (g_min, g_max) = before
            .iter()
            .zip(&raked.weights)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (w0, w)| {
                (lo.min(w / w0), hi.max(w / w0))
            });
        let summary = (WeightSummary::of(&raked.weights), g_min, g_max);
        match report.iter_mut().find(|r| r.province == province) {
            Some(entry) => entry.calibrated = Some(summary),
            None => report.push(ProvinceWeighting {
                province: province.to_owned(),
                given: WeightSummary::of(&before),
                trimmed: None,
                calibrated: Some(summary),
            }),
        }
        add(p, &rows, &raked);
    }
    Ok(())
}

/// One response from a source other than a CSV file (the database): where it was sampled,
/// its weight, and its answers and subgroup values as integer codes by item or column name.
pub struct Row<'a> {
    pub province: &'a str,
    /// Unique within the province.
    pub stratum: &'a str,
    /// Unique within the stratum.
    pub psu: &'a str,
    pub weight: f64,
    /// As the CSV's `fpc` column: N_h if > 1, else a sampling fraction.
    pub fpc: Option<f64>,
    /// As the CSV's `certainty` column: the stratum is a commune taken with certainty whose
    /// PSUs are its respondents.
    pub certainty: bool,
    pub value: &'a dyn Fn(&str) -> Option<i64>,
}

/// Accumulates the same sufficient statistics as [`read_csv`] from rows given one at a time,
/// in bounded memory (totals per PSU and domain, not rows).
pub struct Accumulator {
    items: Vec<String>,
    nodes: Vec<String>,
    scale: Scale,
    lonely: crate::design::LonelyPsu,
    subgroup_columns: Vec<(String, usize)>,
    subgroup_values: Vec<Interner>,
    strata: Interner,
    stratum_fpc: Vec<Option<f64>>,
    stratum_certain: Vec<bool>,
    psus: Vec<HashMap<String, u32>>,
    psu_stratum: Vec<u32>,
    psu_labels: Vec<String>,
    provinces: Interner,
    builder: TotalsBuilder,
    domain_ids: HashMap<(u32, u32, u32), usize>,
    row_domains: Vec<usize>,
    row_subgroups: Vec<(u32, u32)>,
    answers: Vec<Answer>,
    rows: u64,
    /// Scratch for `province/stratum`: strata are keyed by province, so a code used in two
    /// provinces (frames uploaded before the frame refused it) is two strata, never pooled.
    stratum_key: String,
}

impl Accumulator {
    /// A methodology that calibrates or trims needs a province's rows at once: use
    /// [`read_csv_calibrated`].
    pub fn new(methodology: &Methodology) -> Result<Self, StatsError> {
        if methodology.calibration.is_some() || methodology.trimming.is_some() {
            return Err(StatsError::Methodology(
                "[calibration] and [trimming] need every row of a province at once: compute from \
                 the export"
                    .into(),
            ));
        }
        let tree = methodology.compile()?;
        Ok(Self {
            nodes: tree.nodes.iter().map(|(code, _)| code.clone()).collect(),
            builder: TotalsBuilder::new(tree.items.len(), tree.node_items()),
            answers: vec![None; tree.items.len()],
            items: tree.items,
            scale: methodology.scale.clone(),
            lonely: methodology.lonely_psu,
            subgroup_columns: methodology
                .subgroups
                .iter()
                .map(|s| (s.clone(), 0))
                .collect(),
            subgroup_values: methodology
                .subgroups
                .iter()
                .map(|_| Interner::default())
                .collect(),
            strata: Interner::default(),
            stratum_fpc: Vec::new(),
            stratum_certain: Vec::new(),
            psus: Vec::new(),
            psu_stratum: Vec::new(),
            psu_labels: Vec::new(),
            provinces: Interner::default(),
            domain_ids: HashMap::new(),
            row_domains: Vec::new(),
            row_subgroups: Vec::new(),
            rows: 0,
            stratum_key: String::new(),
        })
    }

    pub fn add(&mut self, row: &Row<'_>) -> Result<(), StatsError> {
        self.rows += 1;
        let place = |message: String| {
            StatsError::Invalid(format!(
                "response {} (province {}, stratum {}, PSU {}): {message}",
                self.rows, row.province, row.stratum, row.psu
            ))
        };
        if !(row.weight.is_finite() && row.weight > 0.0) {
            return Err(place(format!("weight {} must be positive", row.weight)));
        }
        self.stratum_key.clear();
        self.stratum_key.push_str(row.province);
        self.stratum_key.push('/');
        self.stratum_key.push_str(row.stratum);
        let h = self.strata.get(&self.stratum_key);
        if h as usize == self.stratum_fpc.len() {
            self.stratum_fpc.push(row.fpc);
            self.stratum_certain.push(row.certainty);
            self.psus.push(HashMap::new());
        } else if self.stratum_fpc[h as usize] != row.fpc {
            return Err(place(
                "the stratum's fpc differs from an earlier response's".into(),
            ));
        } else if self.stratum_certain[h as usize] != row.certainty {
            return Err(place(
                "the stratum is a certainty commune's for one response and not another's".into(),
            ));
        }
        let psu = match self.psus[h as usize].get(row.psu) {
            Some(&psu) => psu,
            None => {
                let psu = self.psu_stratum.len() as u32;
                self.psu_stratum.push(h);
                self.psu_labels.push(row.psu.to_owned());
                self.psus[h as usize].insert(row.psu.to_owned(), psu);
                psu
            }
        };
        let scale = &self.scale;
        for (slot, item) in self.answers.iter_mut().zip(&self.items) {
            *slot = (row.value)(item)
                .filter(|v| (scale.min..=scale.max).contains(v))
                .map(|v| v >= scale.satisfied_min);
        }
        self.row_subgroups.clear();
        for (c, (name, _)) in self.subgroup_columns.iter().enumerate() {
            if let Some(v) = (row.value)(name) {
                self.row_subgroups
                    .push((c as u32 + 1, self.subgroup_values[c].get(&v.to_string())));
            }
        }
        let p = self.provinces.get(row.province) + 1;
        self.builder.set_row(&self.answers);
        add_to_domains(
            &mut self.builder,
            &mut self.domain_ids,
            &mut self.row_domains,
            &DomainNames {
                provinces: &self.provinces,
                subgroup_columns: &self.subgroup_columns,
                subgroup_values: &self.subgroup_values,
            },
            (p, psu, row.weight),
            &self.row_subgroups,
            &self.answers,
        );
        Ok(())
    }

    pub fn finish(self) -> Result<SufficientStats, StatsError> {
        if self.psu_stratum.is_empty() {
            return Err(StatsError::Invalid(
                "there are no responses to compute from".into(),
            ));
        }
        let strata = self
            .strata
            .names
            .into_iter()
            .zip(self.stratum_fpc)
            .map(|(name, fpc)| (name, fpc.map_or(Fpc::None, Fpc::from_r_value)))
            .collect();
        Ok(SufficientStats {
            design: Design::new(strata, self.psu_stratum, self.lonely)?
                .with_certainty(&self.stratum_certain),
            items: self.items,
            nodes: self.nodes,
            domains: self.builder.finish(),
            calibration: None,
            psu_labels: self.psu_labels,
            merged_node_ss: Default::default(),
        })
    }
}

/// What names a domain: province codes and subgroup columns and values (interned).
struct DomainNames<'a> {
    provinces: &'a Interner,
    subgroup_columns: &'a [(String, usize)],
    subgroup_values: &'a [Interner],
}

/// Adds one row (prepared with `set_row`) to its domains: its province, the nation, and both
/// by each of its subgroup values. Domains are found through small integer keys
/// (area, subgroup column + 1, value), area 0 being the nation and p the p-th province.
fn add_to_domains(
    builder: &mut TotalsBuilder,
    domain_ids: &mut HashMap<(u32, u32, u32), usize>,
    row_domains: &mut Vec<usize>,
    names: &DomainNames<'_>,
    (p, psu, weight): (u32, u32, f64),
    subgroups: &[(u32, u32)],
    answers: &[Answer],
) {
    let mut domain = |area: u32, column: u32, value: u32| {
        *domain_ids.entry((area, column, value)).or_insert_with(|| {
            let area = match area {
                0 => Area::National,
                p => Area::Province(names.provinces.names[p as usize - 1].clone()),
            };
            let subgroup = (column > 0).then(|| {
                let c = column as usize - 1;
                (
                    names.subgroup_columns[c].0.clone(),
                    names.subgroup_values[c].names[value as usize].clone(),
                )
            });
            builder.add_domain(DomainKey { area, subgroup })
        })
    };
    row_domains.clear();
    row_domains.push(domain(p, 0, 0));
    row_domains.push(domain(0, 0, 0));
    for &(column, value) in subgroups {
        row_domains.push(domain(p, column, value));
        row_domains.push(domain(0, column, value));
    }
    for &d in row_domains.iter() {
        builder.add_row(d, psu, weight, answers);
    }
    builder.add_moments(row_domains, weight);
}

/// Held rows grouped by province (1-based province index), in province order.
fn rows_by_province(held: &[HeldRow], n_provinces: usize) -> Vec<(u32, Vec<usize>)> {
    let mut groups: Vec<Vec<usize>> = vec![Vec::new(); n_provinces];
    for (i, r) in held.iter().enumerate() {
        groups[r.province as usize - 1].push(i);
    }
    groups
        .into_iter()
        .enumerate()
        .filter(|(_, rows)| !rows.is_empty())
        .map(|(p, rows)| (p as u32 + 1, rows))
        .collect()
}

/// One province raked: final weights, the model's columns and each row's active columns.
struct RakedProvince {
    weights: Vec<f64>,
    columns: Vec<String>,
    active: Vec<Vec<usize>>,
}

fn rake_province(
    province: &str,
    rows: &[&HeldRow],
    held_margins: &[u32],
    margin_cols: &[(String, usize)],
    margin_values: &[Interner],
    population: &Population,
    settings: &CalibrationSettings,
) -> Result<RakedProvince, StatsError> {
    let in_province =
        |message: String| StatsError::Weighting(format!("province {province}: {message}"));
    let totals = population
        .totals
        .get(province)
        .ok_or_else(|| in_province("the population file has no totals for this province".into()))?;
    let mut margins = Vec::with_capacity(margin_cols.len());
    let mut columns = Vec::new();
    let mut offsets = Vec::with_capacity(margin_cols.len());
    for (m, (name, _)) in margin_cols.iter().enumerate() {
        let categories = totals.get(name).ok_or_else(|| {
            in_province(format!(
                "the population file has no totals for margin {name}"
            ))
        })?;
        let mut category_of_row = Vec::with_capacity(rows.len());
        for r in rows {
            let value = &margin_values[m].names[held_margins[r.margins + m] as usize];
            let c = categories.iter().position(|(c, _)| c == value).ok_or_else(|| {
                StatsError::Input {
                    row: r.line,
                    column: name.clone(),
                    message: format!(
                        "category {value:?} has no population total for province {province} (known: {})",
                        categories.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                }
            })?;
            category_of_row.push(c);
        }
        // R's model matrix for `~ a + b`: an intercept, then every margin without its first
        // category (the same columns R's `calibrate` solves for, so the same Newton path).
        if m == 0 {
            columns.push("(Intercept)".to_owned());
        }
        offsets.push(columns.len());
        columns.extend(
            categories
                .iter()
                .skip(1)
                .map(|(c, _)| format!("{name}={c}")),
        );
        margins.push(Margin {
            name: name.clone(),
            category_of_row,
            targets: categories.iter().map(|(_, t)| *t).collect(),
            labels: categories.iter().map(|(c, _)| c.clone()).collect(),
        });
    }
    let start: Vec<f64> = rows.iter().map(|r| r.weight).collect();
    // Consistency checks with messages naming the margin and category (no respondents for a
    // category with a total, a zero total with respondents, margins of different totals).
    validate_margins(&start, &margins)
        .map_err(|e| in_province(e.to_string().trim_start_matches("weighting: ").to_owned()))?;
    let active: Vec<Vec<usize>> = (0..rows.len())
        .map(|j| {
            let categories = margins.iter().enumerate().filter_map(|(m, margin)| {
                match margin.category_of_row[j] {
                    0 => None,
                    c => Some(offsets[m] + c - 1),
                }
            });
            std::iter::once(0).chain(categories).collect()
        })
        .collect();
    // The intercept's total is the population (validate_margins checked every margin adds up
    // to the same).
    let population_total: f64 = margins.first().map_or(0.0, |m| m.targets.iter().sum());
    let totals: Vec<f64> = std::iter::once(population_total)
        .chain(
            margins
                .iter()
                .flat_map(|margin| margin.targets.iter().skip(1).copied()),
        )
        .collect();
    let weights = rake_bounded(&start, &active, &totals, settings.bounds)
        .map_err(|last| in_province(raking_failure(&margins, &last, settings.bounds)))?;
    Ok(RakedProvince {
        weights,
        columns,
        active,
    })
}

/// Why raking stopped short, for the statistician: every margin cell with its target and the
/// total the last step reached, and what to change.
fn raking_failure(margins: &[Margin], weights: &[f64], bounds: Option<Bounds>) -> String {
    let mut cells = Vec::new();
    for margin in margins {
        let mut reached = vec![0.0; margin.targets.len()];
        for (w, &c) in weights.iter().zip(&margin.category_of_row) {
            reached[c] += w;
        }
        for ((label, target), reached) in margin.labels.iter().zip(&margin.targets).zip(reached) {
            cells.push(format!(
                "{}={label}: target {target:.0}, reached {reached:.0}",
                margin.name
            ));
        }
    }
    let cells = cells.join("; ");
    match bounds {
        Some(b) => format!(
            "raking cannot reach the population totals with every adjustment g = w / w0 within \
             [{}, {}] ({cells}): the totals need adjustments outside them. Widen or remove \
             calibration.bounds, or collapse margin categories with few respondents",
            b.lower, b.upper
        ),
        None => format!(
            "raking did not converge ({cells}). Check that the margins describe the same \
             population, or collapse margin categories with few respondents"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn methodology() -> Methodology {
        Methodology::from_toml(
            "subgroups = [\"sex\"]\n[[nodes]]\ncode = \"all\"\nchildren = [\"q1\", \"q2\"]\n",
        )
        .unwrap()
    }

    #[test]
    fn reads_defaults_and_missing_answers() {
        let data = "response_id,province,sex,q1,q2\n1,01,F,5,\n2,01,M,3,9\n3,02,F,NA,4\n";
        let stats = read_csv(data.as_bytes(), &methodology()).unwrap();
        assert_eq!(stats.design.n_psus(), 3);
        assert_eq!(stats.design.strata.len(), 2);
        let national = &stats.domains[&DomainKey {
            area: Area::National,
            subgroup: None,
        }];
        assert_eq!(national.rows.iter().sum::<u64>(), 3);
        // q2 answered validly once (9 is outside the scale), satisfied.
        let q2_valid: u64 = (0..3).map(|p| national.nd[p * 2 + 1]).sum();
        assert_eq!(q2_valid, 1);
        let female = DomainKey {
            area: Area::Province("01".into()),
            subgroup: Some(("sex".into(), "F".into())),
        };
        assert_eq!(stats.domains[&female].rows, vec![1]);
    }

    #[test]
    fn the_platforms_export_id_serves_as_the_response_id() {
        let data = "\u{feff}export_id,province,sex,q1,q2\n9f3a,01,F,5,4\n9f3a,01,M,3,4\n";
        let err = read_csv(data.as_bytes(), &methodology())
            .unwrap_err()
            .to_string();
        assert!(err.contains("row 3, column response_id"), "{err}");
    }

    #[test]
    fn a_byte_order_mark_is_ignored() {
        let data = "\u{feff}response_id,province,sex,q1,q2\n1,01,F,5,4\n";
        let stats = read_csv(data.as_bytes(), &methodology()).unwrap();
        assert_eq!(stats.design.n_psus(), 1);
    }

    #[test]
    fn errors_name_row_and_column() {
        let bad_answer = "response_id,province,sex,q1,q2\n1,01,F,5,4\n2,01,M,x,4\n";
        let err = read_csv(bad_answer.as_bytes(), &methodology())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("row 3, column q1:"), "{err}");
        // Rows as a spreadsheet counts them: CRLF endings and a quoted line break in row 2
        // leave the bad answer in row 3.
        let windows = "response_id,province,sex,q1,q2\r\n\"1\r\nb\",01,F,5,4\r\n2,01,M,x,4\r\n";
        let err = read_csv(windows.as_bytes(), &methodology())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("row 3, column q1:"), "{err}");
        let bad_weight = "response_id,province,sex,weight,q1,q2\n1,01,F,-2,5,4\n";
        let err = read_csv(bad_weight.as_bytes(), &methodology())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("row 2, column weight:"), "{err}");
        let missing = "response_id,province,q1,q2\n1,01,5,4\n";
        let err = read_csv(missing.as_bytes(), &methodology())
            .unwrap_err()
            .to_string();
        assert!(err.contains("column sex"), "{err}");
        let dup = "response_id,province,sex,q1,q2\n1,01,F,5,4\n1,01,M,3,4\n";
        let err = read_csv(dup.as_bytes(), &methodology())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("row 3, column response_id") && err.contains("row 2"),
            "{err}"
        );
        let ragged = "response_id,province,sex,q1,q2\n1,01,F,5\n";
        let err = read_csv(ragged.as_bytes(), &methodology())
            .unwrap_err()
            .to_string();
        assert!(err.contains("row 2"), "{err}");
    }

    #[test]
    fn a_stratum_code_in_two_provinces_is_refused_or_kept_apart() {
        // "urban" in 01 and 79: pooled, the two would be one stratum.
        let data = "response_id,province,stratum,psu,sex,q1,q2\n1,01,urban,a,F,5,4\n2,01,urban,b,M,3,4\n3,79,urban,c,F,4,4\n";
        let err = read_csv(data.as_bytes(), &methodology())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("row 4, column stratum:")
                && err.contains("province 01 (row 2)")
                && err.contains("province 79"),
            "{err}"
        );
        // The database path keys strata by province: two strata, not one pooled (a wave whose
        // frame predates the frame's refusal still computes, correctly).
        let m = methodology();
        let mut acc = Accumulator::new(&m).unwrap();
        let value = |_: &str| Some(4);
        for (province, psu) in [("01", "a"), ("01", "b"), ("79", "c"), ("79", "d")] {
            acc.add(&Row {
                province,
                stratum: "urban",
                psu,
                weight: 1.0,
                fpc: None,
                certainty: false,
                value: &value,
            })
            .unwrap();
        }
        let stats = acc.finish().unwrap();
        assert_eq!(stats.design.strata.len(), 2);
    }

    fn only_u_for_bounds() -> Population {
        Population::from_csv("province,margin,category,total\n01,urban,U,3\n".as_bytes()).unwrap()
    }

    #[test]
    fn calibration_errors_name_the_province_margin_and_cell() {
        let mut m = methodology();
        m.calibration = Some(CalibrationSettings {
            margins: vec!["urban".into()],
            bounds: None,
        });
        let data =
            "response_id,province,sex,urban,q1,q2\n1,01,F,U,5,4\n2,01,M,R,3,4\n3,01,M,X,4,4\n";
        let population = |text: &str| Population::from_csv(text.as_bytes()).unwrap();
        let header = "province,margin,category,total\n";
        let both = population(&format!("{header}01,urban,U,40\n01,urban,R,60\n"));
        // A category the population file does not know: row and column.
        let err = read_csv_calibrated(data.as_bytes(), &m, Some(&both))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("row 4, column urban:") && err.contains("\"X\""),
            "{err}"
        );
        let data = "response_id,province,sex,urban,q1,q2\n1,01,F,U,5,4\n2,01,M,U,3,4\n";
        // A target for a category without respondents: province, margin and category.
        let err = read_csv_calibrated(data.as_bytes(), &m, Some(&both))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("province 01") && err.contains("margin urban, category R"),
            "{err}"
        );
        // A province without totals.
        let other = population(&format!("{header}02,urban,U,40\n"));
        let err = read_csv_calibrated(data.as_bytes(), &m, Some(&other))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("province 01") && err.contains("no totals"),
            "{err}"
        );
        // No population file at all.
        let err = read_csv_calibrated(data.as_bytes(), &m, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--population"), "{err}");
        // Bounds on w / w0 that the totals cannot respect: an error naming them.
        let mut bounded = m.clone();
        bounded.calibration = Some(CalibrationSettings {
            margins: vec!["urban".into()],
            bounds: Some(crate::calibration::Bounds {
                lower: 0.9,
                upper: 1.1,
            }),
        });
        let err = read_csv_calibrated(data.as_bytes(), &bounded, Some(&only_u_for_bounds()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("province 01") && err.contains("[0.9, 1.1]"),
            "{err}"
        );
        // Raked weights hit the totals.
        let only_u = population(&format!("{header}01,urban,U,100\n"));
        let stats = read_csv_calibrated(data.as_bytes(), &m, Some(&only_u)).unwrap();
        let national = &stats.domains[&DomainKey {
            area: Area::National,
            subgroup: None,
        }];
        assert!((national.any_w.iter().sum::<f64>() - 100.0).abs() < 1e-6);
    }
}
