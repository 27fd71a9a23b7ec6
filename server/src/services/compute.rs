//! `sipas compute`: the offline reproducibility path. Reads a microdata CSV and a methodology
//! TOML, writes every domain × node estimate as CSV or JSON. No database involved.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use sipas_app::staff::release::ReleaseCell;
use sipas_stats::calibration::Population;
use sipas_stats::estimate::{Flag, LinkedYears, add_changes, add_linked_changes, estimate_all};
use sipas_stats::methodology::Methodology;
use sipas_stats::microdata::read_csv_calibrated;
use sipas_stats::output::{write_csv, write_json};
use sipas_stats::totals::SufficientStats;
use sipas_stats::totals_file::{read_totals, write_totals as write_totals_file};

#[derive(Debug, thiserror::Error)]
pub enum ComputeError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Stats {
        path: PathBuf,
        source: sipas_stats::StatsError,
    },
    #[error("cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error("{path}: the output must end in .csv or .json")]
    Format { path: PathBuf },
    #[error(
        "{path}: {rows} row(s), the first at row {first_row}, column sample, came through the open \
         link (sample = open): a non-probability sample, which design-based indices cannot use; \
         remove them, or compute them on their own with --non-probability so that every result \
         is labelled as such"
    )]
    OpenSample {
        path: PathBuf,
        rows: usize,
        first_row: u64,
    },
    #[error(
        "{path}: {rows} row(s), the first at row {first_row}, column quality, were excluded by \
         the quality review (quality = excluded:REASON) and are left out of the platform's \
         indices: remove them to reproduce those, or pass --keep-excluded to compute with them"
    )]
    Excluded {
        path: PathBuf,
        rows: usize,
        first_row: u64,
    },
}

/// Rows of the platform's export that a design-based computation must not take as they are:
/// how many, and the first (file line), of each kind.
#[derive(Default)]
struct MarkedRows {
    /// `sample = open`: came through the open link.
    open: Option<(usize, u64)>,
    /// `quality = excluded:REASON`: excluded by the quality review.
    excluded: Option<(usize, u64)>,
}

fn count(found: &mut Option<(usize, u64)>, line: u64) {
    *found = Some(found.map_or((1, line), |(n, first)| (n + 1, first)));
}

/// Scans the export's `sample` and `quality` columns (files without them have no marked rows).
fn marked_rows(data: &Path) -> Result<MarkedRows, ComputeError> {
    let read_err = |source: std::io::Error| ComputeError::Read {
        path: data.to_owned(),
        source,
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(BufReader::new(File::open(data).map_err(read_err)?));
    let headers = reader
        .byte_headers()
        .map_err(|e| read_err(std::io::Error::other(e)))?
        .clone();
    // Matched the way a person edits a header in a spreadsheet: any case, spaces around it,
    // and the byte-order mark Excel puts before the first column.
    let position = |name: &[u8]| {
        headers.iter().position(|header| {
            let header = header.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(header);
            header.trim_ascii().eq_ignore_ascii_case(name)
        })
    };
    let (sample, quality) = (position(b"sample"), position(b"quality"));
    let mut found = MarkedRows::default();
    if sample.is_none() && quality.is_none() {
        return Ok(found);
    }
    let mut record = csv::ByteRecord::new();
    let mut line = 1u64;
    // Malformed rows are reported by the real reader afterwards, with row and column.
    while reader.read_byte_record(&mut record).unwrap_or(false) {
        line += 1;
        let cell =
            |column: Option<usize>| column.and_then(|c| record.get(c)).map(<[u8]>::trim_ascii);
        if cell(sample).is_some_and(|v| v.eq_ignore_ascii_case(b"open")) {
            count(&mut found.open, line);
        }
        if cell(quality).is_some_and(|v| {
            v.get(..8)
                .is_some_and(|head| head.eq_ignore_ascii_case(b"excluded"))
        }) {
            count(&mut found.excluded, line);
        }
    }
    Ok(found)
}

/// Last year's sample, for the change columns.
pub struct Previous {
    pub data: PathBuf,
    pub population: Option<PathBuf>,
    /// The years share PSUs: estimate their covariance.
    pub linked_psus: bool,
    /// Last year is on the 2004 map: merge its provinces with the crosswalk first.
    pub reaggregate: bool,
}

/// The 2004 → 2025 crosswalk (data/geography), built in: old code → new code. Every old
/// province lies wholly in one new unit (the 2025 reform merged whole provinces).
pub fn crosswalk_2004_2025() -> std::collections::BTreeMap<String, String> {
    include_str!("../../../data/geography/crosswalk_2004_2025.csv")
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(','))
        .map(|(old, new)| (old.trim().to_owned(), new.trim().to_owned()))
        .collect()
}

fn read_population(path: Option<&Path>) -> Result<Option<Population>, ComputeError> {
    path.map(|path| {
        let file = File::open(path).map_err(|source| ComputeError::Read {
            path: path.to_owned(),
            source,
        })?;
        Population::from_csv(BufReader::new(file)).map_err(|source| ComputeError::Stats {
            path: path.to_owned(),
            source,
        })
    })
    .transpose()
}

fn read_stats(
    data: &Path,
    methodology: &Methodology,
    population: Option<&Population>,
) -> Result<SufficientStats, ComputeError> {
    let file = File::open(data).map_err(|source| ComputeError::Read {
        path: data.to_owned(),
        source,
    })?;
    read_csv_calibrated(
        BufReader::with_capacity(1 << 20, file),
        methodology,
        population,
    )
    .map_err(|source| ComputeError::Stats {
        path: data.to_owned(),
        source,
    })
}

/// What the results are computed from.
#[derive(Clone, Copy)]
pub enum Input<'a> {
    /// A microdata CSV, raked to `population` when the methodology calibrates.
    Data {
        path: &'a Path,
        population: Option<&'a Path>,
    },
    /// A totals file (`--write-totals`, or a release's open data).
    Totals(&'a Path),
    /// Totals already computed (from the database); `source` names them in messages.
    Stats {
        stats: &'a SufficientStats,
        source: &'a Path,
    },
}

/// One `sipas compute` run.
pub struct Request<'a> {
    pub input: Input<'a>,
    pub methodology: &'a Path,
    pub previous: Option<&'a Previous>,
    pub out: &'a Path,
    /// Also write the sufficient statistics here (microdata input only).
    pub write_totals: Option<&'a Path>,
    pub non_probability: bool,
    /// Compute with rows the quality review excluded (`quality = excluded:…`) too.
    pub keep_excluded: bool,
}

/// Forwards bytes to `inner` and hashes them (SHA-256).
struct HashingWriter<W: Write> {
    inner: W,
    hasher: sha2::Sha256,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        use sha2::Digest;
        Self {
            inner,
            hasher: sha2::Sha256::new(),
        }
    }

    /// Flushes and returns the digest in lower-case hexadecimal.
    fn finish(mut self) -> std::io::Result<String> {
        use sha2::Digest;
        self.inner.flush()?;
        Ok(sipas_app::survey::codes::hex(&self.hasher.finalize()))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// What a run produced.
pub struct Computed {
    pub cells: usize,
    /// SHA-256 of the totals file the results rest on (the release's input digest).
    pub input_digest: String,
}

/// Computes and writes the results. The output appears complete or not at all: it is written to
/// a temporary file beside the target and renamed into place.
///
/// Data with open-link rows (`sample = open`) is refused unless `non_probability` is set; then
/// every publishable result is flagged `non_probability` (and no totals file is written: it
/// could not carry that mark). Rows the quality review excluded (`quality = excluded:…`) are
/// refused unless `keep_excluded` is set: the platform's indices leave them out.
pub fn run(request: &Request<'_>) -> Result<Computed, ComputeError> {
    let Request {
        input,
        methodology,
        previous,
        out,
        write_totals,
        non_probability,
        keep_excluded,
    } = *request;
    let json = match out.extension().and_then(|e| e.to_str()) {
        Some("csv") => false,
        Some("json") => true,
        _ => {
            return Err(ComputeError::Format {
                path: out.to_owned(),
            });
        }
    };
    let text = std::fs::read_to_string(methodology).map_err(|source| ComputeError::Read {
        path: methodology.to_owned(),
        source,
    })?;
    let methodology_def = Methodology::from_toml(&text).map_err(|source| ComputeError::Stats {
        path: methodology.to_owned(),
        source,
    })?;
    let owned;
    let (stats, data, open_rows) = match input {
        Input::Data { path, population } => {
            let population = read_population(population)?;
            let stats = read_stats(path, &methodology_def, population.as_ref())?;
            let marked = marked_rows(path)?;
            if let (Some((rows, first_row)), false) = (marked.open, non_probability) {
                return Err(ComputeError::OpenSample {
                    path: path.to_owned(),
                    rows,
                    first_row,
                });
            }
            if let (Some((rows, first_row)), false) = (marked.excluded, keep_excluded) {
                return Err(ComputeError::Excluded {
                    path: path.to_owned(),
                    rows,
                    first_row,
                });
            }
            let open_rows = marked.open;
            owned = stats;
            (&owned, path, open_rows)
        }
        Input::Totals(path) => {
            let file = File::open(path).map_err(|source| ComputeError::Read {
                path: path.to_owned(),
                source,
            })?;
            let stats = read_totals(BufReader::with_capacity(1 << 20, file), &methodology_def)
                .map_err(|source| ComputeError::Stats {
                    path: path.to_owned(),
                    source,
                })?;
            owned = stats;
            (&owned, path, None)
        }
        Input::Stats { stats, source } => (stats, source, None),
    };
    let mut results =
        estimate_all(stats, &methodology_def).map_err(|source| ComputeError::Stats {
            path: data.to_owned(),
            source,
        })?;

    // The input digest is the SHA-256 of the totals file, hashed while it is written (to the
    // file with --write-totals, else nowhere): a large wave's totals never sit in memory.
    // Written once the results are computed, so a failed run leaves no totals behind.
    let input_digest = match write_totals {
        Some(path) => {
            if open_rows.is_some() {
                return Err(ComputeError::Write {
                    path: path.to_owned(),
                    message: "the data has open-link rows: a totals file cannot carry their \
                              non-probability mark"
                        .into(),
                });
            }
            let write_err = |message: String| ComputeError::Write {
                path: path.to_owned(),
                message,
            };
            let mut tmp =
                crate::services::files::temp_beside(path).map_err(|e| write_err(e.to_string()))?;
            let digest = {
                let mut writer = HashingWriter::new(BufWriter::new(tmp.as_file_mut()));
                write_totals_file(stats, &mut writer).map_err(|e| write_err(e.to_string()))?;
                writer.finish().map_err(|e| write_err(e.to_string()))?
            };
            crate::services::files::persist(tmp, path).map_err(|e| write_err(e.to_string()))?;
            digest
        }
        None => {
            let mut writer = HashingWriter::new(std::io::sink());
            write_totals_file(stats, &mut writer).map_err(|source| ComputeError::Stats {
                path: data.to_owned(),
                source,
            })?;
            writer.finish().map_err(|e| ComputeError::Write {
                path: out.to_owned(),
                message: e.to_string(),
            })?
        }
    };

    if let Some(previous) = previous {
        let stats_error = |source| ComputeError::Stats {
            path: previous.data.clone(),
            source,
        };
        let population = read_population(previous.population.as_deref())?;
        let mut before = if previous.data.extension().is_some_and(|e| e == "json") {
            let file = File::open(&previous.data).map_err(|source| ComputeError::Read {
                path: previous.data.clone(),
                source,
            })?;
            read_totals(BufReader::with_capacity(1 << 20, file), &methodology_def)
                .map_err(stats_error)?
        } else {
            read_stats(&previous.data, &methodology_def, population.as_ref())?
        };
        if previous.reaggregate {
            let map = crosswalk_2004_2025();
            before = sipas_stats::totals::reaggregate(&before, &|old| map.get(old).cloned())
                .map_err(stats_error)?;
        }
        let before_cells = estimate_all(&before, &methodology_def)
            .map_err(stats_error)?
            .cells;
        if previous.linked_psus {
            let mut years =
                LinkedYears::new(&before, stats, &methodology_def).map_err(stats_error)?;
            add_linked_changes(&mut results.cells, &before_cells, &mut years)
                .map_err(stats_error)?;
        } else {
            add_changes(&mut results.cells, &before_cells, methodology_def.ci.level);
        }
    }

    if open_rows.is_some() {
        for cell in &mut results.cells {
            if !matches!(cell.flag, Flag::Suppressed | Flag::NoData) {
                cell.flag = Flag::NonProbability;
            }
        }
    }

    let write_err = |message: String| ComputeError::Write {
        path: out.to_owned(),
        message,
    };
    let mut tmp = crate::services::files::temp_beside(out).map_err(|e| write_err(e.to_string()))?;
    {
        let mut writer = BufWriter::new(tmp.as_file_mut());
        let written = if json {
            write_json(&results.cells, &mut writer)
        } else {
            write_csv(&results.cells, &mut writer)
        };
        written.map_err(|e| write_err(e.to_string()))?;
        writer.flush().map_err(|e| write_err(e.to_string()))?;
    }
    crate::services::files::persist(tmp, out).map_err(|e| write_err(e.to_string()))?;
    Ok(Computed {
        cells: results.cells.len(),
        input_digest,
    })
}

/// A published cell read back as the statistics engine's cell (what a change compares with,
/// and what `sipas verify` reads): its numbers and flag; standings, tests and changes are not
/// carried back.
pub fn cell_from_release(c: &ReleaseCell) -> sipas_stats::estimate::Cell {
    let number = |x: Option<f64>| x.unwrap_or(f64::NAN);
    sipas_stats::estimate::Cell {
        domain: c.domain.clone(),
        subgroup: c.subgroup.clone(),
        node: c.node.clone(),
        n: number(c.n),
        df: number(c.df),
        estimate: number(c.estimate),
        se: number(c.se),
        ci_low: number(c.ci_low),
        ci_high: number(c.ci_high),
        deff: number(c.deff),
        n_eff: number(c.n_eff),
        cv: number(c.cv),
        flag: sipas_stats::estimate::Flag::parse(&c.flag)
            .unwrap_or(sipas_stats::estimate::Flag::NoData),
        note: c.note.clone(),
        standing: None,
        vs_national: None,
        change: None,
    }
}

/// The engine's cells as a draft and its release store them (undefined numbers become
/// `None`). Rows by subgroup are left out: a release publishes none, because any public file
/// that reproduced them would hold per-commune × subgroup totals of one to four people
/// (`sipas_stats::disclosure`). `sipas compute` on microdata still gives them to those who
/// hold the microdata.
pub fn release_cells(cells: &[sipas_stats::estimate::Cell]) -> Vec<ReleaseCell> {
    let some = |x: f64| x.is_finite().then_some(x);
    let whole = |x: usize| i64::try_from(x).ok();
    cells
        .iter()
        .filter(|c| c.subgroup.is_empty())
        .map(|c| ReleaseCell {
            domain: c.domain.clone(),
            subgroup: c.subgroup.clone(),
            node: c.node.clone(),
            n: some(c.n),
            df: some(c.df),
            estimate: some(c.estimate),
            se: some(c.se),
            ci_low: some(c.ci_low),
            ci_high: some(c.ci_high),
            deff: some(c.deff),
            n_eff: some(c.n_eff),
            cv: some(c.cv),
            flag: c.flag.as_str().to_owned(),
            note: c.note.clone(),
            rank: c.standing.and_then(|s| whole(s.rank)),
            rank_best: c.standing.and_then(|s| whole(s.best)),
            rank_worst: c.standing.and_then(|s| whole(s.worst)),
            ranked_of: c.standing.and_then(|s| whole(s.of)),
            tier: c.vs_national.map(|v| v.tier.as_str().to_owned()),
            vs_national_difference: c.vs_national.and_then(|v| some(v.difference)),
            vs_national_se: c.vs_national.and_then(|v| some(v.se)),
            vs_national_p: c.vs_national.and_then(|v| some(v.p_value)),
            vs_national_p_holm: c.vs_national.and_then(|v| some(v.p_holm)),
            change: c.change.and_then(|v| some(v.difference)),
            change_se: c.change.and_then(|v| some(v.se)),
            change_df: c.change.and_then(|v| some(v.df)),
            change_p: c.change.and_then(|v| some(v.p_value)),
            change_p_holm: c.change.and_then(|v| some(v.p_holm)),
        })
        .collect()
}
