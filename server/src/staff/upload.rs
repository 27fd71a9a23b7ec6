//! Uploaded spreadsheets: a multipart form's file as a [`Table`], from CSV (UTF-8, with or
//! without a byte-order mark; comma or semicolon) or XLSX (its first sheet).

use sipas_app::i18n::Text;
use std::io::Cursor;

use axum::extract::Multipart;
use calamine::{Reader, Xlsx};
use sipas_app::staff::sheet::Table;

/// A multipart form: its file and its other (text) fields.
#[derive(Default)]
pub struct Upload {
    pub file_name: String,
    pub bytes: Vec<u8>,
    pub fields: Vec<(String, String)>,
}

impl Upload {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads the whole form; the body limit of the route bounds its size.
pub async fn read(mut multipart: Multipart) -> Result<Upload, Text> {
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        Text::new(
            format!("Không đọc được biểu mẫu gửi lên: {}", e.body_text()),
            format!("The form could not be read: {}", e.body_text()),
        )
    };
    let mut upload = Upload::default();
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            upload.file_name = field.file_name().unwrap_or_default().to_owned();
            upload.bytes = field.bytes().await.map_err(unreadable)?.to_vec();
        } else {
            let value = field.text().await.map_err(unreadable)?;
            upload.fields.push((name, value));
        }
    }
    if upload.bytes.is_empty() {
        return Err(Text::new(
            "Chưa có tệp nào được tải lên (hoặc tệp rỗng).",
            "No file was uploaded (or it is empty).",
        ));
    }
    Ok(upload)
}

/// Bounds on an uploaded table, checked while it is read (before anything is allocated for a
/// cell beyond them): a two-cell XLSX can claim a sheet of 17 billion cells.
pub const MAX_ROWS: usize = 200_000;
pub const MAX_COLUMNS: usize = 500;
/// About 60,000 paper forms of the SIPAS questionnaire per file; split larger ones.
pub const MAX_CELLS: usize = 4_000_000;

fn too_big(what: &str) -> Text {
    Text::new(
        format!(
            "Tệp quá lớn ({what}); mỗi tệp tối đa {MAX_ROWS} dòng, {MAX_COLUMNS} cột và \
             {MAX_CELLS} ô: hãy chia nhỏ tệp."
        ),
        format!(
            "The file is too large ({what}); at most {MAX_ROWS} rows, {MAX_COLUMNS} columns and \
             {MAX_CELLS} cells per file: split it."
        ),
    )
}

/// The file as a table: XLSX when it is a zip (by content, not by name), else CSV. CPU-bound:
/// call it from a blocking thread (see [`table_blocking`]).
pub fn table(bytes: &[u8]) -> Result<Table, Text> {
    if bytes.starts_with(b"PK\x03\x04") {
        xlsx_table(bytes)
    } else {
        csv_table(bytes)
    }
}

/// [`table`] on a blocking thread, so parsing a large file does not hold up the async workers.
pub async fn table_blocking(bytes: Vec<u8>) -> Result<Table, Text> {
    tokio::task::spawn_blocking(move || table(&bytes))
        .await
        .map_err(|e| {
            Text::new(
                format!("Không đọc được tệp: {e}"),
                format!("The file could not be read: {e}"),
            )
        })?
}

fn csv_table(bytes: &[u8]) -> Result<Table, Text> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        Text::new(
            format!("Tệp CSV không ở mã UTF-8 (byte {at}): hãy lưu dạng \"CSV UTF-8\"."),
            format!("The CSV is not UTF-8 (byte {at}): save it as \"CSV UTF-8\"."),
        )
    })?;
    let text = text.trim_start_matches('\u{feff}');
    // Excel in a Vietnamese locale saves CSV with semicolons.
    let first_line = text.lines().next().unwrap_or_default();
    let delimiter = if first_line.matches(';').count() > first_line.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut cells = 0;
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            Text::new(
                format!("dòng {}: {e}", index + 1),
                format!("row {}: {e}", index + 1),
            )
        })?;
        cells += record.len();
        if rows.len() >= MAX_ROWS {
            return Err(too_big("rows"));
        }
        if record.len() > MAX_COLUMNS {
            return Err(too_big(&format!("{} / {}", index + 1, record.len())));
        }
        if cells > MAX_CELLS {
            return Err(too_big("cells"));
        }
        rows.push(record.iter().map(str::to_owned).collect::<Vec<_>>());
    }
    let mut rows = rows.into_iter();
    Ok(Table {
        header: rows.next().unwrap_or_default(),
        rows: rows.collect(),
        row_offset: 0,
    })
}

/// The first sheet, read cell by cell: positions are checked against the bounds before a row
/// or column is made for them.
fn xlsx_table(bytes: &[u8]) -> Result<Table, Text> {
    let sheet_unreadable = |e: calamine::XlsxError| {
        Text::new(
            format!("Không đọc được trang tính đầu tiên: {e}"),
            format!("The first sheet cannot be read: {e}"),
        )
    };
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(|e| {
        Text::new(
            format!("Không phải tệp XLSX đọc được: {e}"),
            format!("Not a readable XLSX file: {e}"),
        )
    })?;
    let first = workbook.sheet_names().into_iter().next().ok_or_else(|| {
        Text::new(
            "Bảng tính không có trang nào.",
            "The workbook has no sheet.",
        )
    })?;
    let mut reader = workbook
        .worksheet_cells_reader(&first)
        .map_err(sheet_unreadable)?;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut first_row: Option<usize> = None;
    let mut cells = 0;
    while let Some(cell) = reader.next_cell().map_err(sheet_unreadable)? {
        let (row, column) = cell.get_position();
        let (row, column) = (row as usize, column as usize);
        let text = calamine::Data::from(cell.get_value().clone()).to_string();
        if text.is_empty() {
            continue;
        }
        let top = *first_row.get_or_insert(row);
        let index = row.checked_sub(top).ok_or_else(|| {
            Text::new(
                "Các dòng của trang tính không theo thứ tự.",
                "The sheet's rows are out of order.",
            )
        })?;
        if index >= MAX_ROWS {
            return Err(too_big("rows"));
        }
        if column >= MAX_COLUMNS {
            return Err(too_big(&format!("> {MAX_COLUMNS}: {}", column + 1)));
        }
        cells += 1;
        if cells > MAX_CELLS {
            return Err(too_big("cells"));
        }
        if rows.len() <= index {
            rows.resize_with(index + 1, Vec::new);
        }
        let cells_of_row = &mut rows[index];
        if cells_of_row.len() <= column {
            cells_of_row.resize(column + 1, String::new());
        }
        cells_of_row[column] = text;
    }
    let mut rows = rows.into_iter();
    Ok(Table {
        header: rows.next().unwrap_or_default(),
        rows: rows.collect(),
        row_offset: first_row.unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_bom_and_semicolons() {
        let parsed = table("\u{feff}a;b\n1;Hà Nội\n".as_bytes()).expect("table");
        assert_eq!(parsed.header, ["a", "b"]);
        assert_eq!(parsed.rows, [["1", "Hà Nội"]]);
        assert!(table(&[0xff, 0xfe, 0x00]).is_err());
    }

    #[test]
    fn xlsx_first_sheet() {
        let mut workbook = rust_xlsxwriter::Workbook::new();
        let sheet = workbook.add_worksheet();
        sheet.write(0, 0, "code").expect("write");
        sheet.write(0, 1, "q1").expect("write");
        sheet.write(1, 0, "ABC").expect("write");
        sheet.write(1, 1, 5).expect("write");
        let bytes = workbook.save_to_buffer().expect("save");
        let parsed = table(&bytes).expect("table");
        assert_eq!(parsed.header, ["code", "q1"]);
        assert_eq!(parsed.rows, [["ABC", "5"]]);
    }

    #[test]
    fn a_sheet_that_claims_billions_of_cells_is_refused_without_allocating_them() {
        let mut workbook = rust_xlsxwriter::Workbook::new();
        let sheet = workbook.add_worksheet();
        sheet.write(0, 0, "code").expect("write");
        sheet.write(1_048_575, 16_383, "x").expect("write");
        let bytes = workbook.save_to_buffer().expect("save");
        let refused = table(&bytes).expect_err("too large");
        assert!(
            refused.en.contains("too large") && refused.vi.contains("quá lớn"),
            "{refused:?}"
        );
        let wide = format!("{}\n", vec!["a"; MAX_COLUMNS + 1].join(","));
        assert!(table(wide.as_bytes()).is_err());
    }
}
