//! `sipas compute`: the offline reproducibility path. Reads a microdata CSV and a methodology
//! TOML, writes every domain × node estimate as CSV or JSON. No database involved.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use sipas_stats::estimate::estimate_all;
use sipas_stats::methodology::Methodology;
use sipas_stats::microdata::read_csv;
use sipas_stats::output::{write_csv, write_json};

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
}

/// Computes and writes the results. The output appears complete or not at all: it is written to
/// a temporary file beside the target and renamed into place.
pub fn run(data: &Path, methodology: &Path, out: &Path) -> Result<usize, ComputeError> {
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
    let file = File::open(data).map_err(|source| ComputeError::Read {
        path: data.to_owned(),
        source,
    })?;
    let stats =
        read_csv(BufReader::with_capacity(1 << 20, file), &methodology_def).map_err(|source| {
            ComputeError::Stats {
                path: data.to_owned(),
                source,
            }
        })?;
    let results = estimate_all(&stats, &methodology_def).map_err(|source| ComputeError::Stats {
        path: data.to_owned(),
        source,
    })?;

    let write_err = |message: String| ComputeError::Write {
        path: out.to_owned(),
        message,
    };
    let mut tmp = crate::files::temp_beside(out).map_err(|e| write_err(e.to_string()))?;
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
    tmp.persist(out).map_err(|e| write_err(e.to_string()))?;
    Ok(results.cells.len())
}
