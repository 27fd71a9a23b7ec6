//! `sipas verify FOLDER`: checks a downloaded release against its own public files. It reads
//! results.csv, aggregates.csv and methodology.toml (and last year's published table when the
//! release shows changes), runs the publication rule ([`sipas_stats::publish`]) on them and
//! compares every published value, as text, with what it recomputed. Nothing needs the
//! database or the network: a journalist or a researcher runs it on what they downloaded.
//!
//! It shows that the files agree with each other; that they are the files the Ministry
//! published is what their SHA-256 (printed, and on the release page and in SHA256SUMS) shows.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sipas_app::staff::release::ReleaseCell;
use sipas_stats::methodology::Methodology;
use sipas_stats::publish::{Aggregate, AggregateKind, measured, publish, read_aggregates};

use crate::services::compute::{cell_from_release, release_cells};
use crate::services::open_data::{COLUMNS, cell_values, read_cell};

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
    #[error(
        "{folder} holds more than one {file} ({candidates}): put one release's files in a \
         folder of their own"
    )]
    Ambiguous {
        folder: String,
        file: String,
        candidates: String,
    },
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
    /// The files read, with their SHA-256.
    pub files: Vec<(String, String)>,
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

    /// The report for a person: the files, the counts, then every value not reproduced by row
    /// and column.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "Files read (compare their SHA-256 with the release page or its SHA256SUMS: that \
             shows they are the ones published):\n",
        );
        for (file, hash) in &self.files {
            out.push_str(&format!("  {hash}  {file}\n"));
        }
        out.push_str(&format!(
            "{} rows: {} published values reproduced exactly; {} taken as published (standard \
             errors, degrees of freedom and design effects rest on the per-commune data); {} \
             national aggregates equal the sum of the provinces.\n",
            self.rows, self.reproduced, self.taken, self.national_sums
        ));
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

/// `name` in `folder`, as downloaded (`sipas-2025-v1-results.csv`) or renamed (`results.csv`);
/// a folder holding two of them is refused (it would be a guess which release is checked).
fn find(folder: &Path, name: &str) -> Result<PathBuf, VerifyError> {
    let suffix = format!("-{name}");
    let mut found: Vec<PathBuf> = std::fs::read_dir(folder)
        .map_err(|e| VerifyError::Read {
            file: folder.display().to_string(),
            message: e.to_string(),
        })?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n == name || (n.starts_with("sipas-") && n.ends_with(&suffix)))
        })
        .collect();
    found.sort();
    match found.len() {
        0 => Err(VerifyError::Missing {
            folder: folder.display().to_string(),
            file: name.to_owned(),
        }),
        1 => Ok(found.remove(0)),
        _ => Err(VerifyError::Ambiguous {
            folder: folder.display().to_string(),
            file: name.to_owned(),
            candidates: found
                .iter()
                .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_owned))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// A file's bytes (without a byte-order mark) as text, and its SHA-256 as downloaded.
fn read(path: &Path) -> Result<(String, String), VerifyError> {
    let bytes = std::fs::read(path).map_err(|e| VerifyError::Read {
        file: path.display().to_string(),
        message: e.to_string(),
    })?;
    let hash = {
        use sha2::Digest;
        sipas_app::survey::codes::hex(&sha2::Sha256::digest(&bytes))
    };
    let body = bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(&bytes)
        .to_vec();
    let text = String::from_utf8(body).map_err(|_| VerifyError::Read {
        file: path.display().to_string(),
        message: "not UTF-8 text".into(),
    })?;
    Ok((text, hash))
}

/// A published results table: each row's line and values in [`COLUMNS`] order, and the rows
/// as cells.
struct Table {
    rows: Vec<(usize, Vec<String>)>,
    cells: Vec<ReleaseCell>,
}

fn read_table(path: &Path, text: &str) -> Result<Table, VerifyError> {
    let fail = |message: String| VerifyError::Read {
        file: path.display().to_string(),
        message,
    };
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| fail(format!("cannot read the header: {e}")))?
        .clone();
    let mut positions = Vec::with_capacity(COLUMNS.len());
    for column in COLUMNS {
        let at = headers
            .iter()
            .position(|h| h == column)
            .ok_or_else(|| fail(format!("line 1: column {column} is missing")))?;
        positions.push(at);
    }
    let mut rows = Vec::new();
    let mut cells = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut line = 1;
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(fail(format!("line {}: {e}", line + 1))),
        }
        line += 1;
        let values: Vec<String> = positions
            .iter()
            .map(|&at| record.get(at).unwrap_or("").to_owned())
            .collect();
        let cell = read_cell(&|column: &str| {
            COLUMNS
                .iter()
                .position(|c| *c == column)
                .map_or("", |i| values[i].as_str())
        })
        .map_err(|e| fail(format!("line {line}: {e}")))?;
        cells.push(cell);
        rows.push((line, values));
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
    let mut files = Vec::new();
    let mut open = |name: &str| -> Result<(PathBuf, String), VerifyError> {
        let path = find(folder, name)?;
        let (text, hash) = read(&path)?;
        files.push((path.display().to_string(), hash));
        Ok((path, text))
    };
    let (methodology_path, methodology_text) = open("methodology.toml")?;
    let methodology = Methodology::from_toml(&methodology_text).map_err(|e| VerifyError::Read {
        file: methodology_path.display().to_string(),
        message: e.to_string(),
    })?;
    let (results_path, results_text) = open(results_name)?;
    let table = read_table(&results_path, &results_text)?;
    drop(results_text);
    let (aggregates_path, aggregates_text) = open(aggregates_name)?;
    let aggregates =
        read_aggregates(aggregates_text.as_bytes()).map_err(|e| VerifyError::Read {
            file: aggregates_path.display().to_string(),
            message: e.to_string(),
        })?;
    let before = match previous {
        Some(path) => {
            let (text, hash) = read(path)?;
            files.push((path.display().to_string(), hash));
            Some(
                read_table(path, &text)?
                    .cells
                    .iter()
                    .map(cell_from_release)
                    .collect::<Vec<_>>(),
            )
        }
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
        files,
        rows: table.rows.len(),
        ..Report::default()
    };
    let mut expected: HashMap<(String, String), Vec<String>> = release_cells(&recomputed)
        .iter()
        .map(|c| ((c.domain.clone(), c.node.clone()), cell_values(c)))
        .collect();
    let column = |name: &str| COLUMNS.iter().position(|c| *c == name).unwrap_or(0);
    let (domain_at, node_at) = (column("domain"), column("node"));
    for (line, row) in &table.rows {
        let domain = row[domain_at].clone();
        let node = row[node_at].clone();
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
        for ((column, value), published) in COLUMNS.iter().zip(values).zip(row) {
            let published = published.clone();
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
    check_aggregates(&aggregates, &methodology, &mut report);
    Ok(report)
}

/// The aggregates themselves: one row per domain, kind and code, only codes of the
/// methodology, finite sums, and the nation's rows the sums of the provinces' (to the rounding
/// of a sum).
fn check_aggregates(aggregates: &[Aggregate], methodology: &Methodology, report: &mut Report) {
    let mut problem = |domain: &str, code: &str, published: String, expected: &str| {
        report.mismatches.push(Mismatch {
            line: 0,
            domain: domain.to_owned(),
            node: code.to_owned(),
            column: "aggregates".into(),
            published,
            recomputed: expected.to_owned(),
        });
    };
    let known: Vec<(AggregateKind, String)> = match methodology.compile() {
        Ok(tree) => tree
            .nodes
            .into_iter()
            .map(|(code, _)| (AggregateKind::Node, code))
            .chain(
                tree.items
                    .into_iter()
                    .map(|code| (AggregateKind::Item, code)),
            )
            .collect(),
        Err(_) => Vec::new(),
    };
    let mut seen = std::collections::HashSet::new();
    for a in aggregates {
        if !seen.insert((a.domain.as_str(), a.kind, a.code.as_str())) {
            problem(&a.domain, &a.code, "a second row".into(), "one row");
        }
        if !known
            .iter()
            .any(|(kind, code)| *kind == a.kind && *code == a.code)
        {
            problem(
                &a.domain,
                &a.code,
                format!("a {} row", a.kind.as_str()),
                "no such item or node in methodology.toml",
            );
        }
        let sums = [a.sum_w, a.sum_wy, a.sum_wd];
        if sums.iter().flatten().any(|x| !x.is_finite() || *x < 0.0) {
            problem(
                &a.domain,
                &a.code,
                format!("{sums:?}"),
                "finite sums of weights",
            );
        }
    }
    let finite_close = |a: f64, b: f64| {
        a.is_finite() && b.is_finite() && (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
    };
    for national in aggregates.iter().filter(|a| a.domain == "national") {
        let parts: Vec<&Aggregate> = aggregates
            .iter()
            .filter(|a| {
                a.domain != "national" && a.kind == national.kind && a.code == national.code
            })
            .collect();
        let n: u64 = parts.iter().map(|a| a.n).sum();
        let mut differs = Vec::new();
        if n != national.n {
            differs.push(format!("n {} (provinces: {n})", national.n));
        }
        type Field = fn(&Aggregate) -> Option<f64>;
        let fields: [(&str, Field); 3] = [
            ("sum_w", |a| a.sum_w),
            ("sum_wy", |a| a.sum_wy),
            ("sum_wd", |a| a.sum_wd),
        ];
        for (name, get) in fields {
            if let Some(value) = get(national) {
                let total: f64 = parts.iter().map(|a| get(a).unwrap_or(0.0)).sum();
                if !finite_close(value, total) {
                    differs.push(format!("{name} {value} (provinces: {total})"));
                }
            }
        }
        if differs.is_empty() {
            report.national_sums += 1;
        } else {
            problem(
                "national",
                &national.code,
                differs.join(", "),
                "the sum of the provinces",
            );
        }
    }
}
