//! Uploaded spreadsheets: a multipart form's file as a [`Table`], from CSV (UTF-8, with or
//! without a byte-order mark; comma or semicolon) or XLSX (its first sheet).

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
pub async fn read(mut multipart: Multipart) -> Result<Upload, String> {
    let mut upload = Upload::default();
    while let Some(field) = multipart.next_field().await.map_err(|e| e.body_text())? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            upload.file_name = field.file_name().unwrap_or_default().to_owned();
            upload.bytes = field.bytes().await.map_err(|e| e.body_text())?.to_vec();
        } else {
            let value = field.text().await.map_err(|e| e.body_text())?;
            upload.fields.push((name, value));
        }
    }
    if upload.bytes.is_empty() {
        return Err("no file was uploaded (or it is empty)".into());
    }
    Ok(upload)
}

const MAX_ROWS: usize = 1_100_000;

/// The file as a table: XLSX when it is a zip (by content, not by name), else CSV.
pub fn table(bytes: &[u8]) -> Result<Table, String> {
    if bytes.starts_with(b"PK\x03\x04") {
        xlsx_table(bytes)
    } else {
        csv_table(bytes)
    }
}

fn csv_table(bytes: &[u8]) -> Result<Table, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "the CSV is not UTF-8 (byte {}): save it as \"CSV UTF-8\"",
            e.valid_up_to()
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
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("row {}: {e}", index + 1))?;
        if rows.len() > MAX_ROWS {
            return Err(format!("more than {MAX_ROWS} rows"));
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

fn xlsx_table(bytes: &[u8]) -> Result<Table, String> {
    let mut workbook: Xlsx<_> =
        Xlsx::new(Cursor::new(bytes)).map_err(|e| format!("not a readable XLSX file: {e}"))?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or("the workbook has no sheet")?
        .map_err(|e| format!("the first sheet cannot be read: {e}"))?;
    if range.height() > MAX_ROWS {
        return Err(format!("more than {MAX_ROWS} rows"));
    }
    let row_offset = range.start().map_or(0, |(row, _)| row as usize);
    let mut rows = range
        .rows()
        .map(|row| row.iter().map(ToString::to_string).collect::<Vec<_>>());
    Ok(Table {
        header: rows.next().unwrap_or_default(),
        rows: rows.collect(),
        row_offset,
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
}
