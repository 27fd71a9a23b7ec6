//! `sipas verify FOLDER`: checks a downloaded release against its own public files. It reads
//! results.csv, aggregates.csv and methodology.toml (and last year's published table when the
//! release shows changes), runs the publication rule ([`sipas_stats::publish`]) on them and
//! compares every published value, as text, with what it recomputed. Nothing needs the
//! database or the network: a journalist or a researcher runs it on what they downloaded.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sipas_app::staff::release::ReleaseCell;
use sipas_stats::methodology::Methodology;
use sipas_stats::publish::{AggregateKind, measured, publish, read_aggregates};

use crate::compute::{cell_from_release, release_cells};
use crate::open_data::{COLUMNS, cell_values, read_cell};

/// Values a release takes from the per-commune data: published as computed and taken as given
/// (except the mean of provinces' SE, derived from the provinces').
const MEASURED: [&str; 3] = ["se", "df", "deff"];

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(
        "{folder}: no {file} (looked for {file} and sipas-YEAR-vN-{file}); download it from \
         the release's open data"
    )]
    Missing { folder: String, file: String },
    #[error("{file}: {message}")]
    Read { file: String, message: String },
}

/// One published value that was not reproduced.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// Line of the results file (the header is line 1); 0 for a row that is missing there.
    pub line: usize,
    pub domain: String,
    pub node: String,
    pub column: String,
    pub published: String,
    pub recomputed: String,
}

/// What a verification found.
#[derive(Debug, Default)]
pub struct Report {
    pub rows: usize,
    /// Published values recomputed and found equal.
    pub reproduced: usize,
    /// Published values taken as given (SE, df, deff: they need the per-commune data).
    pub taken: usize,
    /// Aggregate rows of the nation checked against the sum of the provinces.
    pub national_sums: usize,
    pub mismatches: Vec<Mismatch>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.mismatches.is_empty() && self.rows > 0
    }

    /// The report for a person: counts, then every value not reproduced by row and column.
    pub fn render(&self) -> String {
        let mut out = format!(
            "{} rows: {} published values reproduced exactly; {} taken as published (standard \
             errors, degrees of freedom and design effects rest on the per-commune data); {} \
             national aggregates equal the sum of the provinces.\n",
            self.rows, self.reproduced, self.taken, self.national_sums
        );
        if self.mismatches.is_empty() {
            out.push_str("Every published number was reproduced.\n");
        } else {
            out.push_str(&format!(
                "{} published values were NOT reproduced:\n",
                self.mismatches.len()
            ));
            for m in &self.mismatches {
                out.push_str(&format!(
                    "  line {} ({}, {}), column {}: published {:?}, recomputed {:?}\n",
                    m.line, m.domain, m.node, m.column, m.published, m.recomputed
                ));
            }
        }
        out
    }
}

/// `name` in `folder`, as downloaded (`sipas-2025-v1-results.csv`) or renamed (`results.csv`).
fn find(folder: &Path, name: &str) -> Result<PathBuf, VerifyError> {
    let plain = folder.join(name);
    if plain.is_file() {
        return Ok(plain);
    }
    let suffix = format!("-{name}");
    let found = std::fs::read_dir(folder)
        .map_err(|e| VerifyError::Read {
            file: folder.display().to_string(),
            message: e.to_string(),
        })?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("sipas-") && n.ends_with(&suffix))
        })
        .min();
    found.ok_or_else(|| VerifyError::Missing {
        folder: folder.display().to_string(),
        file: name.to_owned(),
    })
}

fn read(path: &Path) -> Result<String, VerifyError> {
    let text = std::fs::read_to_string(path).map_err(|e| VerifyError::Read {
        file: path.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(text.trim_start_matches('\u{feff}').to_owned())
}

/// A published results table: its rows as text (by column name) and as cells, with the line of
/// each row.
struct Table {
    rows: Vec<(usize, HashMap<String, String>)>,
    cells: Vec<ReleaseCell>,
}

fn read_table(path: &Path) -> Result<Table, VerifyError> {
    let text = read(path)?;
    let fail = |message: String| VerifyError::Read {
        file: path.display().to_string(),
        message,
    };
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| fail(format!("cannot read the header: {e}")))?
        .iter()
        .map(str::to_owned)
        .collect();
    for column in COLUMNS {
        if !headers.iter().any(|h| h == column) {
            return Err(fail(format!("line 1: column {column} is missing")));
        }
    }
    let mut rows = Vec::new();
    let mut cells = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| fail(format!("line {line}: {e}")))?;
        let row: HashMap<String, String> = headers
            .iter()
            .cloned()
            .zip(record.iter().map(str::to_owned))
            .collect();
        cells.push(read_cell(&row).map_err(|e| fail(format!("line {line}: {e}")))?);
        rows.push((line, row));
    }
    Ok(Table { rows, cells })
}

/// Verifies the release in `folder`: `results.csv` and `aggregates.csv` (or, with `map_2025`,
/// `results-2025-map.csv` and `aggregates-2025-map.csv`), `methodology.toml`, and `previous`,
/// last year's published table, when the release shows changes.
pub fn verify(
    folder: &Path,
    previous: Option<&Path>,
    map_2025: bool,
) -> Result<Report, VerifyError> {
    let (results_name, aggregates_name) = if map_2025 {
        ("results-2025-map.csv", "aggregates-2025-map.csv")
    } else {
        ("results.csv", "aggregates.csv")
    };
    let methodology_path = find(folder, "methodology.toml")?;
    let methodology =
        Methodology::from_toml(&read(&methodology_path)?).map_err(|e| VerifyError::Read {
            file: methodology_path.display().to_string(),
            message: e.to_string(),
        })?;
    let results_path = find(folder, results_name)?;
    let table = read_table(&results_path)?;
    let aggregates_path = find(folder, aggregates_name)?;
    let aggregates =
        read_aggregates(read(&aggregates_path)?.as_bytes()).map_err(|e| VerifyError::Read {
            file: aggregates_path.display().to_string(),
            message: e.to_string(),
        })?;
    let before = match previous {
        Some(path) => Some(
            read_table(path)?
                .cells
                .iter()
                .map(cell_from_release)
                .collect::<Vec<_>>(),
        ),
        None => None,
    };
    let published: Vec<_> = table.cells.iter().map(cell_from_release).collect();
    let recomputed = publish(
        &aggregates,
        &measured(&published),
        &methodology,
        before.as_deref(),
    )
    .map_err(|e| VerifyError::Read {
        file: aggregates_path.display().to_string(),
        message: e.to_string(),
    })?;
    let mut report = Report {
        rows: table.rows.len(),
        ..Report::default()
    };
    let mut expected: HashMap<(String, String), Vec<String>> = release_cells(&recomputed)
        .iter()
        .map(|c| ((c.domain.clone(), c.node.clone()), cell_values(c)))
        .collect();
    for (line, row) in &table.rows {
        let domain = row.get("domain").cloned().unwrap_or_default();
        let node = row.get("node").cloned().unwrap_or_default();
        let Some(values) = expected.remove(&(domain.clone(), node.clone())) else {
            report.mismatches.push(Mismatch {
                line: *line,
                domain,
                node,
                column: "(row)".into(),
                published: "a row".into(),
                recomputed: "no such domain and node in the aggregates and methodology".into(),
            });
            continue;
        };
        for (column, value) in COLUMNS.iter().zip(values) {
            let published = row.get(*column).cloned().unwrap_or_default();
            let derived_se = *column == "se" && domain == "national_mean";
            if MEASURED.contains(column) && !derived_se {
                report.taken += usize::from(!published.is_empty());
                continue;
            }
            if published == value {
                report.reproduced += usize::from(!published.is_empty());
            } else {
                report.mismatches.push(Mismatch {
                    line: *line,
                    domain: domain.clone(),
                    node: node.clone(),
                    column: (*column).to_owned(),
                    published,
                    recomputed: value,
                });
            }
        }
    }
    let mut missing: Vec<_> = expected.into_keys().collect();
    missing.sort();
    for (domain, node) in missing {
        report.mismatches.push(Mismatch {
            line: 0,
            domain,
            node,
            column: "(row)".into(),
            published: "no row".into(),
            recomputed: "a row".into(),
        });
    }
    // The nation's aggregates are the provinces' summed (to rounding of the sums).
    for national in aggregates.iter().filter(|a| a.domain == "national") {
        let parts: Vec<_> = aggregates
            .iter()
            .filter(|a| {
                a.domain != "national" && a.kind == national.kind && a.code == national.code
            })
            .collect();
        let sum = |f: fn(&sipas_stats::publish::Aggregate) -> Option<f64>| -> (f64, f64) {
            (
                f(national).unwrap_or(0.0),
                parts.iter().map(|a| f(a).unwrap_or(0.0)).sum(),
            )
        };
        let close = |(a, b): (f64, f64)| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
        let n: u64 = parts.iter().map(|a| a.n).sum();
        let fine = n == national.n
            && match national.kind {
                AggregateKind::Item => close(sum(|a| a.sum_wy)) && close(sum(|a| a.sum_wd)),
                AggregateKind::Node => close(sum(|a| a.sum_w)),
            };
        if fine {
            report.national_sums += 1;
        } else {
            report.mismatches.push(Mismatch {
                line: 0,
                domain: "national".into(),
                node: national.code.clone(),
                column: "aggregates".into(),
                published: format!("n {}", national.n),
                recomputed: format!("the provinces sum to n {n}"),
            });
        }
    }
    Ok(report)
}
