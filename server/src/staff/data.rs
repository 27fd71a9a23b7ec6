//! Data in and out of a wave: paper-form imports, and exports (CSV, XLSX, JSON, codebook, R).
//!
//! Exports stream keyset pages of 1,000 responses from the database, so memory stays flat
//! whatever the wave's size (docs/benchmarks.md, "Exports").

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sipas_app::i18n::Text;
use sipas_app::ports::StoreError;
use sipas_app::staff::pages::{self, ImportReport};
use sipas_app::staff::paper;
use sipas_app::staff::port::AuditAction;
use sipas_app::staff::port::{RowOutcome, StaffStore, WaveDetails};
use sipas_app::staff::sheet::CellProblem;
use sipas_app::survey::codes::receipt_number;
use sipas_app::survey::questionnaire::Questionnaire;

use super::error::{StaffError, StaffResult};
use super::guard::{InWave, can};
use super::html;
use crate::services::export::{
    COLUMNS, FIRST_NUMERIC_COLUMN, PAGE, cells as export_cells, csv_line, header as export_header,
    neutralise,
};
use crate::web::AppState;

/// The questionnaire version a wave answers.
pub(super) async fn questionnaire_of(
    state: &AppState,
    wave: &WaveDetails,
) -> StaffResult<Questionnaire> {
    let reference = wave.wave.questionnaire.clone().ok_or_else(|| {
        StaffError::Conflict(Text::new(
            "Đợt này chưa có bảng hỏi.",
            "The wave has no questionnaire.",
        ))
    })?;
    Ok(state
        .store
        .questionnaire(&reference.code, reference.version)
        .await?)
}

pub async fn import_form(wave: InWave<can::ImportPaper>) -> StaffResult {
    Ok(html(
        StatusCode::OK,
        pages::import_page(&wave.ctx, &wave.wave, None, None),
    ))
}

pub(super) fn fresh_ids() -> (String, String) {
    let mut bytes = [0u8; 16];
    let _ = getrandom::fill(&mut bytes);
    let mut receipt = [0u8; 8];
    receipt.copy_from_slice(&bytes[..8]);
    let export_id = bytes[8..].iter().map(|b| format!("{b:02x}")).collect();
    (receipt_number(receipt), export_id)
}

pub async fn import(
    State(state): State<AppState>,
    wave: InWave<can::ImportPaper>,
    multipart: Multipart,
) -> StaffResult {
    let code = wave.code().to_owned();
    let province = wave.province.clone();
    let questionnaire = questionnaire_of(&state, &wave.wave).await?;
    let refuse = |problems: Vec<CellProblem>, total: usize| {
        Ok(html(
            StatusCode::BAD_REQUEST,
            pages::import_page(&wave.ctx, &wave.wave, Some((problems, total)), None),
        ))
    };
    let upload = match super::upload::read(multipart).await {
        Ok(upload) => upload,
        Err(message) => {
            return refuse(
                vec![CellProblem {
                    row: 0,
                    column: String::new(),
                    message,
                }],
                1,
            );
        }
    };
    let dry_run = upload.field("dry_run") == Some("yes");
    let file_name = upload.file_name.clone();
    let table = match super::upload::table_blocking(upload.bytes).await {
        Ok(table) => table,
        Err(message) => {
            return refuse(
                vec![CellProblem {
                    row: 0,
                    column: String::new(),
                    message,
                }],
                1,
            );
        }
    };
    let mut ids = fresh_ids;
    let records = match paper::parse(table, &questionnaire, &mut ids) {
        Ok(records) => records,
        Err(problems) => return refuse(problems.listed, problems.total),
    };
    let shown_name: String = file_name.chars().take(80).collect();
    let audit = |outcomes: &[RowOutcome]| {
        let count = |f: fn(&RowOutcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
        wave.entry(
            AuditAction::PaperImported,
            Some(&code),
            province.as_deref(),
            format!(
                "tệp {shown_name:?}: lưu {} phiếu, {} phiếu đã nhập trước đó, {} phiếu mâu thuẫn",
                count(|o| matches!(o, RowOutcome::New)),
                count(|o| matches!(o, RowOutcome::AlreadyImported)),
                count(|o| matches!(o, RowOutcome::Conflict(_))),
            ),
        )
    };
    let outcomes = state
        .staff
        .store
        .import_paper(&code, province.as_deref(), &records, dry_run, &audit)
        .await?;
    let problems: Vec<CellProblem> = records
        .iter()
        .zip(&outcomes)
        .filter_map(|(record, outcome)| match outcome {
            RowOutcome::Problem { column, message } => Some(CellProblem {
                row: record.row,
                column: column.clone(),
                message: message.clone(),
            }),
            _ => None,
        })
        .collect();
    if !problems.is_empty() {
        let total = problems.len();
        return refuse(
            problems
                .into_iter()
                .take(sipas_app::staff::sheet::MAX_PROBLEMS)
                .collect(),
            total,
        );
    }
    let report = ImportReport {
        dry_run,
        stored: !dry_run,
        outcomes: records.iter().map(|r| r.row).zip(outcomes).collect(),
    };
    Ok(html(
        StatusCode::OK,
        pages::import_page(&wave.ctx, &wave.wave, None, Some(report)),
    ))
}

pub async fn export_page(wave: InWave<can::Export>) -> StaffResult {
    Ok(html(
        StatusCode::OK,
        pages::export_page(&wave.ctx, &wave.wave, wave.province.clone()),
    ))
}

fn attachment(content_type: &'static str, file_name: &str, body: Body) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// What an export reads: the wave, its province filter and its item columns.
#[derive(Clone)]
struct Source {
    store: Arc<dyn StaffStore>,
    wave: String,
    province: Option<String>,
    items: Vec<String>,
    /// What the `quality` column calls flagged (`super::quality_thresholds_for`).
    quality: sipas_stats::quality::QualityThresholds,
}

impl Source {
    async fn page(
        &self,
        after: Option<&str>,
    ) -> Result<Vec<sipas_app::staff::port::ExportRow>, StoreError> {
        self.store
            .export_page(
                &self.wave,
                &self.quality,
                self.province.as_deref(),
                after,
                PAGE,
            )
            .await
    }
}

/// CSV, UTF-8 with a byte-order mark (Excel then shows Vietnamese correctly), streamed.
fn csv_body(source: Source) -> Body {
    let mut header = vec![0xEF, 0xBB, 0xBF];
    header.extend(csv_line(&export_header(&source.items)));
    let first = futures_util::stream::once(async move { Ok::<_, std::io::Error>(header) });
    let rows = futures_util::stream::unfold(Some((source, None::<String>)), |state| async move {
        let (source, after) = state?;
        match source.page(after.as_deref()).await {
            Ok(rows) if rows.is_empty() => None,
            Ok(rows) => {
                let last = rows.last().map(|r| r.export_id.clone());
                let mut chunk = Vec::new();
                for row in &rows {
                    chunk.extend(csv_line(&export_cells(row, &source.items)));
                }
                Some((Ok(chunk), Some((source, last))))
            }
            Err(err) => {
                tracing::error!(error = %err, "export page failed");
                Some((Err(std::io::Error::other("export failed")), None))
            }
        }
    });
    // Fused: a compressing layer polls once more after the end, which `unfold` forbids.
    Body::from_stream(futures_util::StreamExt::fuse(
        futures_util::StreamExt::chain(first, rows),
    ))
}

/// JSON: `{"wave": ..., "columns": [...], "rows": [[...], ...]}`, streamed.
fn json_body(source: Source, questionnaire: String) -> Body {
    let head = format!(
        "{{\"wave\":{},\"questionnaire\":{},\"columns\":{},\"rows\":[",
        serde_json::Value::String(source.wave.clone()),
        serde_json::Value::String(questionnaire),
        serde_json::to_string(&export_header(&source.items)).unwrap_or_else(|_| "[]".into()),
    );
    let first =
        futures_util::stream::once(async move { Ok::<_, std::io::Error>(head.into_bytes()) });
    let rows =
        futures_util::stream::unfold(Some((source, None::<String>, true)), |state| async move {
            let (source, after, first_page) = state?;
            match source.page(after.as_deref()).await {
                Ok(rows) if rows.is_empty() => Some((Ok(b"]}".to_vec()), None)),
                Ok(rows) => {
                    let last = rows.last().map(|r| r.export_id.clone());
                    let mut chunk = Vec::new();
                    for (i, row) in rows.iter().enumerate() {
                        if !(first_page && i == 0) {
                            chunk.push(b',');
                        }
                        // Codes stay text (a PSU may start with 0); counts and answers are numbers.
                        let cells: Vec<serde_json::Value> = export_cells(row, &source.items)
                            .into_iter()
                            .enumerate()
                            .map(|(col, c)| match c.parse::<i64>() {
                                _ if c.is_empty() => serde_json::Value::Null,
                                Ok(n) if col >= FIRST_NUMERIC_COLUMN => serde_json::Value::from(n),
                                _ => serde_json::Value::String(c),
                            })
                            .collect();
                        chunk.extend(serde_json::to_vec(&cells).unwrap_or_default());
                    }
                    Some((Ok(chunk), Some((source, last, false))))
                }
                Err(err) => {
                    tracing::error!(error = %err, "export page failed");
                    Some((Err(std::io::Error::other("export failed")), None))
                }
            }
        });
    // Fused: a compressing layer polls once more after the end, which `unfold` forbids.
    Body::from_stream(futures_util::StreamExt::fuse(
        futures_util::StreamExt::chain(first, rows),
    ))
}

/// Why [`xlsx_body`] gave no workbook when another one is being built.
const BUSY: &str = "another XLSX export is being prepared";

/// XLSX cannot be streamed as it is made (it is a zip): the workbook is written in
/// rust_xlsxwriter's constant-memory mode (rows go to a temporary file as they come), then the
/// file is streamed.
async fn xlsx_body(source: Source) -> Result<Body, String> {
    // One workbook at a time per server: building one keeps a core busy.
    // A second one waits its turn a while (a wave's workbook takes seconds), then is told.
    static BUILDS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
    let Ok(Ok(_building)) =
        tokio::time::timeout(std::time::Duration::from_secs(10), BUILDS.acquire()).await
    else {
        return Err(BUSY.into());
    };
    // If the request goes away (the client leaves, or the 30 s request timeout answers 503),
    // the guard is dropped with it and the builder stops at its next page.
    struct CancelOnDrop(Arc<std::sync::atomic::AtomicBool>);
    impl Drop for CancelOnDrop {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
    let cancelled = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let _cancel_on_drop = CancelOnDrop(cancelled.clone());
    let handle = tokio::runtime::Handle::current();
    let file = tokio::task::spawn_blocking(move || -> Result<tempfile::NamedTempFile, String> {
        let mut workbook = rust_xlsxwriter::Workbook::new();
        let sheet = workbook
            .add_worksheet_with_constant_memory()
            .map_err(|e| e.to_string())?;
        let header = export_header(&source.items);
        for (col, name) in header.iter().enumerate() {
            sheet
                .write_string(0, col as u16, name)
                .map_err(|e| e.to_string())?;
        }
        let mut row_index: u32 = 1;
        let mut after: Option<String> = None;
        loop {
            if cancelled.load(std::sync::atomic::Ordering::Relaxed) {
                return Err("cancelled".into());
            }
            let rows = handle
                .block_on(source.page(after.as_deref()))
                .map_err(|e| e.to_string())?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                if row_index >= 1_048_575 {
                    return Err(
                        "more rows than a worksheet holds (1,048,576): export CSV instead".into(),
                    );
                }
                for (col, cell) in export_cells(row, &source.items).iter().enumerate() {
                    let col = col as u16;
                    // Answers and counts as numbers; codes (which may start with 0) as text.
                    let numeric = usize::from(col) >= FIRST_NUMERIC_COLUMN
                        && !cell.is_empty()
                        && cell.parse::<f64>().is_ok();
                    let written = if numeric {
                        sheet.write_number(row_index, col, cell.parse::<f64>().unwrap_or_default())
                    } else {
                        sheet.write_string(row_index, col, cell)
                    };
                    written.map_err(|e| e.to_string())?;
                }
                row_index += 1;
            }
            after = rows.last().map(|r| r.export_id.clone());
        }
        let file = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
        workbook.save(file.path()).map_err(|e| e.to_string())?;
        Ok(file)
    })
    .await
    .map_err(|e| e.to_string())??;
    let reader = tokio::fs::File::open(file.path())
        .await
        .map_err(|e| e.to_string())?;
    // The open handle keeps the data readable; the temporary file's name is removed now.
    drop(file);
    Ok(Body::from_stream(tokio_util::io::ReaderStream::new(reader)))
}

/// The codebook: one row per item and value, with both languages' wording.
fn codebook(questionnaire: &Questionnaire) -> Vec<u8> {
    let mut writer = NeutralWriter(csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]));
    let _ = writer.write_record([
        "column",
        "questionnaire",
        "version",
        "section",
        "text_vi",
        "text_en",
        "required",
        "show_if",
        "value",
        "label_vi",
        "label_en",
    ]);
    let version = questionnaire.version.to_string();
    let fixed = COLUMNS;
    for (column, vi, en) in fixed {
        let _ = writer.write_record([
            column,
            &questionnaire.code,
            &version,
            "",
            vi,
            en,
            "",
            "",
            "",
            "",
            "",
        ]);
    }
    for section in &questionnaire.sections {
        for item in &section.items {
            let show_if = item
                .show_if
                .as_ref()
                .map(|c| format!("{} in {:?}", c.item, c.any_of))
                .unwrap_or_default();
            for choice in questionnaire.choices(item) {
                let _ = writer.write_record([
                    item.code.as_str(),
                    &questionnaire.code,
                    &version,
                    &section.id,
                    &item.vi,
                    &item.en,
                    if item.required { "yes" } else { "no" },
                    &show_if,
                    &choice.value.to_string(),
                    &choice.vi,
                    &choice.en,
                ]);
            }
        }
    }
    writer.0.into_inner().unwrap_or_default()
}

/// A CSV writer that neutralises every cell (the codebook is all text).
struct NeutralWriter(csv::Writer<Vec<u8>>);

impl NeutralWriter {
    fn write_record<'a>(&mut self, cells: impl IntoIterator<Item = &'a str>) -> csv::Result<()> {
        self.0.write_record(cells.into_iter().map(neutralise))
    }
}

/// An R script that reads the CSV export and declares the survey design.
fn r_snippet(wave: &str, questionnaire: &Questionnaire) -> String {
    // An item on the satisfaction scale makes a meaningful example mean.
    let example = questionnaire
        .items()
        .find(|i| i.scale == "satisfaction")
        .or_else(|| questionnaire.items().next())
        .map_or_else(|| "q1".to_owned(), |i| i.code.clone());
    format!(
        r#"# SIPAS export of wave {wave} (questionnaire {q} version {v}).
# Reads {wave}.csv (the CSV export) and declares the survey design with the survey package.
library(survey)
d <- read.csv("{wave}.csv", fileEncoding = "UTF-8-BOM",
              colClasses = c(export_id = "character", province = "character",
                             stratum = "character", psu = "character"))
# Design-based estimates use the probability sample only (open-link answers are self-selected),
# without the responses a reviewer excluded (column quality; docs/methodology.md).
d <- subset(d, sample == "probability" & !startsWith(quality, "excluded") &
              !is.na(stratum_psus))
# Provisional weights: each respondent stands for an equal share of the stratum's population.
# The annual release computes the published weights (docs/methodology.md); use those for
# official figures.
d$weight <- ave(d$stratum_population, d$province, d$stratum,
                FUN = function(x) x[1] / length(x))
design <- svydesign(ids = ~psu, strata = ~interaction(province, stratum, drop = TRUE),
                    fpc = ~stratum_psus, weights = ~weight, data = d, nest = TRUE)
# Example: the mean answer to {example}, by province, with design-based standard errors.
svyby(~{example}, ~province, design, svymean, na.rm = TRUE)
"#,
        q = questionnaire.code,
        v = questionnaire.version,
    )
}

pub async fn export_file(
    State(state): State<AppState>,
    wave: InWave<can::Export>,
    Path((_, file)): Path<(String, String)>,
) -> StaffResult {
    let code = wave.code().to_owned();
    let province = wave.province.clone();
    let questionnaire = questionnaire_of(&state, &wave.wave).await?;
    let source = Source {
        quality: super::quality_thresholds_for(state.staff.store.as_ref(), &code).await?,
        store: state.staff.store.clone(),
        wave: code.clone(),
        province: province.clone(),
        items: questionnaire.items().map(|i| i.code.clone()).collect(),
    };
    let suffix = province
        .as_ref()
        .map(|p| format!("-{p}"))
        .unwrap_or_default();
    let name = |ext: &str| format!("{code}{suffix}.{ext}");
    let response = match file.as_str() {
        "export.csv" => attachment("text/csv; charset=utf-8", &name("csv"), csv_body(source)),
        "export.json" => attachment(
            "application/json",
            &name("json"),
            json_body(
                source,
                format!("{} v{}", questionnaire.code, questionnaire.version),
            ),
        ),
        "export.xlsx" => match xlsx_body(source).await {
            Ok(body) => attachment(
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                &name("xlsx"),
                body,
            ),
            Err(message) if message == BUSY => {
                return Err(StaffError::Conflict(Text::new(
                    "Một tệp XLSX khác đang được chuẩn bị: thử lại sau một phút, hoặc tải CSV.",
                    "Another XLSX export is being prepared: try again in a minute, or download \
                     the CSV.",
                )));
            }
            Err(message) => {
                tracing::error!(error = %message, "XLSX export");
                return Err(StaffError::Unavailable);
            }
        },
        "export.codebook.csv" => attachment(
            "text/csv; charset=utf-8",
            &format!("{code}-codebook.csv"),
            Body::from(codebook(&questionnaire)),
        ),
        "export.R" => attachment(
            "text/plain; charset=utf-8",
            &format!("{code}.R"),
            Body::from(r_snippet(&code, &questionnaire)),
        ),
        _ => return Err(StaffError::NotFound),
    };
    wave.audit_before_giving(
        &state.staff,
        AuditAction::ExportDownloaded,
        Some(&code),
        province.as_deref(),
        file.clone(),
    )
    .await?;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cells_that_look_like_formulas_are_neutralised() {
        assert_eq!(neutralise("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise("+1"), "'+1");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("Hà Nội"), "Hà Nội");
        let mut cells: Vec<String> = vec!["-x".into(); FIRST_NUMERIC_COLUMN];
        cells.push("-5".into());
        let line = String::from_utf8(csv_line(&cells)).expect("utf-8");
        assert!(line.starts_with("'-x,"), "{line}");
        assert!(
            line.trim_end().ends_with(",-5"),
            "numbers stay numbers: {line}"
        );
    }
}
