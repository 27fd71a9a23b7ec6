//! `sipas export`: a wave's responses as one CSV row each, for the statisticians and for
//! `sipas compute` (after weights are attached). Written beside the target and renamed into
//! place, so a failed export never leaves half a file.

use std::io::Write;
use std::path::{Path, PathBuf};

use sipas_app::domain::SampleKind;
use sipas_app::ports::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("wave {0:?} does not exist")]
    UnknownWave(String),
    #[error("wave {0:?} has no questionnaire")]
    NoQuestionnaire(String),
    #[error("cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error("reading the responses failed: {0}")]
    Store(StoreError),
}

/// What was written.
pub struct ExportSummary {
    pub rows: usize,
    /// Responses from the open link: a non-probability sample.
    pub open_link: usize,
}

pub async fn export_responses(
    store: &dyn Store,
    wave_code: &str,
    out: &Path,
) -> Result<ExportSummary, ExportError> {
    let wave = match store.wave(wave_code).await {
        Ok(wave) => wave,
        Err(StoreError::NotFound) => return Err(ExportError::UnknownWave(wave_code.to_owned())),
        Err(err) => return Err(ExportError::Store(err)),
    };
    let reference = wave
        .questionnaire
        .ok_or_else(|| ExportError::NoQuestionnaire(wave_code.to_owned()))?;
    let questionnaire = store
        .questionnaire(&reference.code, reference.version)
        .await
        .map_err(ExportError::Store)?;
    let responses = store
        .responses(wave_code)
        .await
        .map_err(ExportError::Store)?;
    let write_err = |message: String| ExportError::Write {
        path: out.to_owned(),
        message,
    };
    let mut tmp = crate::services::files::temp_beside(out).map_err(|e| write_err(e.to_string()))?;
    {
        let mut writer = csv::Writer::from_writer(tmp.as_file_mut());
        let mut header: Vec<String> = [
            "response_id",
            "geography",
            "province",
            "stratum",
            "psu",
            "sample",
            "questionnaire",
            "language",
            "mode",
            "started_at",
            "submitted_at",
        ]
        .map(String::from)
        .to_vec();
        header.extend(questionnaire.items().map(|item| item.code.clone()));
        writer
            .write_record(&header)
            .map_err(|e| write_err(e.to_string()))?;
        for response in &responses {
            let mut row = vec![
                response.receipt.number.clone(),
                response.sample.geography.key().to_owned(),
                response.sample.province_code.clone(),
                response.sample.stratum.clone(),
                response.sample.psu.clone(),
                response.kind.key().to_owned(),
                format!(
                    "{}@{}",
                    response.questionnaire.code, response.questionnaire.version
                ),
                response.language.clone(),
                response.mode.clone(),
                response.started_at.clone().unwrap_or_default(),
                response.receipt.submitted_at.clone(),
            ];
            // Items not asked (hidden by a rule) stay empty.
            row.extend(questionnaire.items().map(|item| {
                response
                    .answers
                    .get(&item.code)
                    .map(i64::to_string)
                    .unwrap_or_default()
            }));
            writer
                .write_record(&row)
                .map_err(|e| write_err(e.to_string()))?;
        }
        writer.flush().map_err(|e| write_err(e.to_string()))?;
    }
    tmp.as_file_mut()
        .flush()
        .map_err(|e| write_err(e.to_string()))?;
    crate::services::files::persist(tmp, out).map_err(|e| write_err(e.to_string()))?;
    Ok(ExportSummary {
        rows: responses.len(),
        open_link: responses
            .iter()
            .filter(|r| r.kind == SampleKind::Open)
            .count(),
    })
}
