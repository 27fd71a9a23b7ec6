//! A spreadsheet as rows of text, whatever file it came from (CSV or XLSX), and errors that
//! name the row and column a person sees in their spreadsheet program.

use std::fmt;

/// The first row names the columns; the rest are data. Row numbers are the spreadsheet's
/// (the header is row 1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Rows above the header (a spreadsheet whose table starts lower down), so problems name
    /// the row the person sees.
    pub row_offset: usize,
}

/// At most this many problems are listed; a file with more is wrong in some systematic way.
pub const MAX_PROBLEMS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellProblem {
    /// Spreadsheet row (1 = header), 0 for the file as a whole.
    pub row: usize,
    /// The column's name as in the header, empty for a whole row.
    pub column: String,
    /// What is wrong, in both languages (the page shows the reader's).
    pub message: crate::i18n::Text,
}

impl fmt::Display for CellProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.row, self.column.is_empty()) {
            (0, _) => write!(f, "{}", self.message),
            (row, true) => write!(f, "row {row}: {}", self.message),
            (row, false) => write!(f, "row {row}, column {}: {}", self.column, self.message),
        }
    }
}

/// Collects problems up to [`MAX_PROBLEMS`], counting the rest.
#[derive(Debug, Default)]
pub struct Problems {
    pub listed: Vec<CellProblem>,
    pub total: usize,
}

impl Problems {
    /// `message`: Vietnamese and English, `(vi, en)`.
    pub fn add(
        &mut self,
        row: usize,
        column: &str,
        message: (impl Into<String>, impl Into<String>),
    ) {
        self.total += 1;
        if self.listed.len() < MAX_PROBLEMS {
            self.listed.push(CellProblem {
                row,
                column: column.to_owned(),
                message: crate::i18n::Text::new(message.0, message.1),
            });
        }
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

impl Table {
    /// Normalises header names: trimmed, lower-case, a leading byte-order mark dropped.
    pub fn normalise_header(&mut self) {
        for name in &mut self.header {
            *name = name.trim_start_matches('\u{feff}').trim().to_lowercase();
        }
    }

    /// The index of a column, if present.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// Indices of required columns, or one problem per missing column.
    pub fn require(&self, names: &[&str], problems: &mut Problems) -> Option<Vec<usize>> {
        let found: Vec<Option<usize>> = names.iter().map(|n| self.column(n)).collect();
        for (name, index) in names.iter().zip(&found) {
            if index.is_none() {
                problems.add(
                    self.row_offset + 1,
                    name,
                    ("thiếu cột này", "this column is missing"),
                );
            }
        }
        found.into_iter().collect()
    }

    /// A cell, trimmed (missing cells at the end of a short row are empty).
    pub fn cell(row: &[String], index: usize) -> &str {
        row.get(index).map_or("", |c| c.trim())
    }

    /// Data rows with their spreadsheet row numbers, skipping rows that are entirely empty.
    pub fn data(&self) -> impl Iterator<Item = (usize, &Vec<String>)> {
        self.rows
            .iter()
            .enumerate()
            .map(|(i, row)| (i + 2 + self.row_offset, row))
            .filter(|(_, row)| row.iter().any(|c| !c.trim().is_empty()))
    }
}

/// A whole number in a cell: digits only (spreadsheets may add `.0` to integers, accepted).
pub fn parse_count(text: &str) -> Option<i64> {
    let text = text.trim();
    let digits = text.strip_suffix(".0").unwrap_or(text);
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(parse_count(" 12 "), Some(12));
        assert_eq!(parse_count("12.0"), Some(12));
        assert_eq!(parse_count("-1"), None);
        assert_eq!(parse_count("1e3"), None);
        assert_eq!(parse_count(""), None);
    }

    #[test]
    fn problems_are_capped_but_counted() {
        let mut problems = Problems::default();
        for row in 0..250 {
            problems.add(row + 2, "x", ("sai", "bad"));
        }
        assert_eq!(problems.listed.len(), MAX_PROBLEMS);
        assert_eq!(problems.total, 250);
        assert_eq!(problems.listed[0].to_string(), "row 2, column x: bad");
    }
}
