//! A wave's responses as one row each: the one column list, and `sipas export`'s file. The
//! staff workspace streams the same rows and columns as CSV, JSON and XLSX
//! (`crate::staff::data`); both read keyset pages of [`PAGE`] responses, so memory stays flat
//! whatever the wave's size. Each row carries a random `export_id`, never the respondent's
//! receipt number.

use std::io::Write;
use std::path::{Path, PathBuf};

use sipas_app::ports::{Store, StoreError};
use sipas_app::staff::StaffStore;
use sipas_app::staff::port::ExportRow;

/// Responses read per page.
pub const PAGE: u32 = 1000;

/// The columns before the items, with what they hold (Vietnamese, English) for the codebook.
/// Up to [`FIRST_NUMERIC_COLUMN`] they are codes and text; from there on, numbers.
pub const COLUMNS: [(&str, &str, &str); 17] = [
    (
        "export_id",
        "Mã dòng ngẫu nhiên (không phải số biên nhận)",
        "Random row id (not the receipt number)",
    ),
    (
        "province",
        "Mã tỉnh (theo địa giới của đợt)",
        "Province code (in the wave's geography)",
    ),
    ("province_name", "Tên tỉnh", "Province name"),
    ("stratum", "Tầng", "Stratum"),
    (
        "psu",
        "Đơn vị mẫu cấp 1 (xã/phường)",
        "Primary sampling unit (commune)",
    ),
    (
        "psu_name",
        "Tên xã/phường (dàn mẫu, hoặc danh sách chính thức)",
        "Commune name (frame, or the official list)",
    ),
    (
        "sample",
        "probability: mẫu xác suất; open: đường dẫn mở",
        "probability sample, or open link",
    ),
    (
        "questionnaire_version",
        "Phiên bản bảng hỏi",
        "Questionnaire version",
    ),
    ("mode", "web hoặc paper", "web or paper"),
    (
        "channel",
        "online, form (không JS), outbox (gửi sau khi mất mạng), paper",
        "online, form (no JavaScript), outbox (sent after being offline), paper",
    ),
    ("language", "Ngôn ngữ trả lời", "Language answered in"),
    (
        "submitted_on",
        "Ngày nộp (giờ Việt Nam)",
        "Date submitted (Vietnam time)",
    ),
    (
        "quality",
        "counted: được tính vào chỉ số; excluded:LÝ DO: bị loại khi rà soát, không tính; awaiting_review: bị đánh dấu, chưa rà soát (vẫn được tính; ngưỡng của lần tính gần nhất của đợt)",
        "counted: in the indices; excluded:REASON: excluded by a reviewer, not counted; awaiting_review: flagged, not yet reviewed (still counted; the thresholds of the wave's latest computation)",
    ),
    (
        "duration_secs",
        "Thời gian trả lời (giây)",
        "Time to complete (seconds)",
    ),
    (
        "devices",
        "Số trình duyệt đã trả lời mã (phiếu điện tử; trống: phiếu giấy hoặc không rõ)",
        "Browsers the code was answered from (web; empty: paper or unknown)",
    ),
    (
        "stratum_population",
        "Dân số của tầng (dàn mẫu)",
        "Stratum population (frame)",
    ),
    (
        "stratum_psus",
        "Số PSU của tầng (dàn mẫu)",
        "PSUs in the stratum's population (frame)",
    ),
];

/// `duration_secs` and after (the counts, then the answers) are numbers.
pub const FIRST_NUMERIC_COLUMN: usize = 13;
const _: () = assert!(matches!(
    COLUMNS[FIRST_NUMERIC_COLUMN].0.as_bytes(),
    b"duration_secs"
));

/// The header: [`COLUMNS`], then one column per item in questionnaire order.
pub fn header(items: &[String]) -> Vec<String> {
    COLUMNS
        .iter()
        .map(|(name, _, _)| (*name).to_owned())
        .chain(items.iter().cloned())
        .collect()
}

/// A row's cells in the header's order; an item not asked (hidden by a rule) is empty.
pub fn cells(row: &ExportRow, items: &[String]) -> Vec<String> {
    let number = |n: Option<i64>| n.map(|d| d.to_string()).unwrap_or_default();
    let mut cells = vec![
        row.export_id.clone(),
        row.province_code.clone(),
        row.province_name.clone(),
        row.stratum.clone(),
        row.psu.clone(),
        row.psu_name.clone(),
        row.sample_kind.clone(),
        row.questionnaire_version.to_string(),
        row.mode.clone(),
        row.channel.clone(),
        row.language.clone(),
        row.submitted_on.clone(),
        row.quality.clone(),
        number(row.duration_secs),
        number(row.devices),
        number(row.stratum_population),
        number(row.stratum_psus),
    ];
    cells.extend(items.iter().map(|item| {
        row.answers
            .get(item)
            .map(|v| v.to_string())
            .unwrap_or_default()
    }));
    cells
}

/// A text cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, carriage return
/// first) gets a leading apostrophe, which Excel and LibreOffice show as text.
pub fn neutralise(cell: &str) -> String {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{cell}"),
        _ => cell.to_owned(),
    }
}

/// One CSV line; the text columns (before the numbers) are neutralised.
pub fn csv_line(cells: &[String]) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record(cells.iter().enumerate().map(|(col, cell)| {
        if col < FIRST_NUMERIC_COLUMN {
            neutralise(cell)
        } else {
            cell.clone()
        }
    }));
    writer.into_inner().unwrap_or_default()
}

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

/// The item codes of the questionnaire a wave answers.
pub async fn items(store: &dyn Store, wave_code: &str) -> Result<Vec<String>, ExportError> {
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
    Ok(questionnaire
        .items()
        .map(|item| item.code.clone())
        .collect())
}

/// `sipas export`: every response of a wave as CSV (UTF-8 with a byte-order mark, the staff
/// export's columns), written beside `out` and renamed into place, so a failed export never
/// leaves half a file.
pub async fn export_responses<S: Store + StaffStore>(
    store: &S,
    wave_code: &str,
    out: &Path,
) -> Result<ExportSummary, ExportError> {
    let items = items(store, wave_code).await?;
    let quality = crate::staff::quality_thresholds_for(store, wave_code)
        .await
        .map_err(ExportError::Store)?;
    let write_err = |message: String| ExportError::Write {
        path: out.to_owned(),
        message,
    };
    let mut tmp = crate::services::files::temp_beside(out).map_err(|e| write_err(e.to_string()))?;
    let mut summary = ExportSummary {
        rows: 0,
        open_link: 0,
    };
    {
        let file = tmp.as_file_mut();
        file.write_all(&[0xEF, 0xBB, 0xBF])
            .and_then(|()| file.write_all(&csv_line(&header(&items))))
            .map_err(|e| write_err(e.to_string()))?;
        let mut after: Option<String> = None;
        loop {
            let rows = store
                .export_page(wave_code, &quality, None, after.as_deref(), PAGE)
                .await
                .map_err(ExportError::Store)?;
            let Some(last) = rows.last() else {
                break;
            };
            after = Some(last.export_id.clone());
            for row in &rows {
                file.write_all(&csv_line(&cells(row, &items)))
                    .map_err(|e| write_err(e.to_string()))?;
                summary.rows += 1;
                summary.open_link += usize::from(row.sample_kind == "open");
            }
        }
        file.flush().map_err(|e| write_err(e.to_string()))?;
    }
    crate::services::files::persist(tmp, out).map_err(|e| write_err(e.to_string()))?;
    Ok(summary)
}
