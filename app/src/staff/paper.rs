//! Paper forms transcribed into a spreadsheet: one row per form, the invitation code printed on
//! it (or, for forms handed out without one, the PSU and the form's own number), and one column
//! per item code. Checked here against the questionnaire; the store then checks the codes.

use std::collections::BTreeMap;

use super::port::{PaperRecord, PaperTarget};
use super::sheet::{Problems, Table};
use crate::survey::codes::{InvitationCode, hash, sha256_hex};
use crate::survey::questionnaire::{Answers, Problem, Questionnaire};

/// Columns that are not items.
pub const KEY_COLUMNS: [&str; 4] = ["code", "psu", "form_id", "language"];

/// Fresh random identifiers for a stored response: (receipt number, export id).
pub type IdSource<'a> = &'a mut dyn FnMut() -> (String, String);

/// Checks a paper-form file; all problems are listed (the first 200), by row and column.
pub fn parse(
    mut table: Table,
    questionnaire: &Questionnaire,
    ids: IdSource<'_>,
) -> Result<Vec<PaperRecord>, Problems> {
    table.normalise_header();
    let mut problems = Problems::default();
    let code_col = table.column("code");
    let psu_col = table.column("psu");
    let form_col = table.column("form_id");
    let language_col = table.column("language");
    if code_col.is_none() && (psu_col.is_none() || form_col.is_none()) {
        problems.add(
            1,
            "code",
            (
                "cần cột code (hoặc cột psu và form_id cho phiếu phát không kèm mã)",
                "a code column is needed (or psu and form_id columns for forms issued without a code)",
            ),
        );
    }
    // Item columns by index; header names are matched case-insensitively against item codes.
    let items: BTreeMap<String, String> = questionnaire
        .items()
        .map(|item| (item.code.to_lowercase(), item.code.clone()))
        .collect();
    let mut item_cols: Vec<(usize, String)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (index, name) in table.header.iter().enumerate() {
        if !seen.insert(name.clone()) {
            problems.add(
                1,
                name,
                ("cột này xuất hiện hai lần", "this column appears twice"),
            );
            continue;
        }
        if KEY_COLUMNS.contains(&name.as_str()) || name.is_empty() {
            continue;
        }
        match items.get(name) {
            Some(code) => item_cols.push((index, code.clone())),
            None => problems.add(
                1,
                name,
                (
                    format!(
                        "không phải câu hỏi của bảng hỏi {} phiên bản {}",
                        questionnaire.code, questionnaire.version
                    ),
                    format!(
                        "not an item of questionnaire {} version {}",
                        questionnaire.code, questionnaire.version
                    ),
                ),
            ),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let column_of = |item: &str| {
        item_cols
            .iter()
            .find(|(_, code)| code == item)
            .map(|(index, _)| table.header[*index].clone())
            .unwrap_or_else(|| item.to_lowercase())
    };
    let mut records = Vec::new();
    let mut targets_seen: BTreeMap<String, usize> = BTreeMap::new();
    for (row_number, row) in table.data() {
        let cell = |index: Option<usize>| index.map_or("", |i| Table::cell(row, i));
        let target = match (cell(code_col), cell(psu_col), cell(form_col)) {
            (code, _, _) if !code.is_empty() => match InvitationCode::parse(code) {
                Ok(code) => Some(PaperTarget::Code {
                    code_hash: hash(&code),
                }),
                Err(_) => {
                    problems.add(
                        row_number,
                        "code",
                        (
                            "không phải mã mời hợp lệ (gõ nhầm?)",
                            "not a valid invitation code (mistyped?)",
                        ),
                    );
                    None
                }
            },
            ("", psu, form_id) if !psu.is_empty() && !form_id.is_empty() => {
                if form_id.chars().count() > 40 || psu.chars().count() > 40 {
                    problems.add(
                        row_number,
                        "form_id",
                        ("tối đa 40 ký tự", "at most 40 characters"),
                    );
                    None
                } else {
                    Some(PaperTarget::Point {
                        psu: psu.to_owned(),
                        form_id: form_id.to_owned(),
                    })
                }
            }
            _ => {
                problems.add(
                    row_number,
                    "code",
                    (
                        "mỗi phiếu cần mã mời, hoặc psu và form_id",
                        "each form needs its invitation code, or a psu and a form_id",
                    ),
                );
                None
            }
        };
        if let Some(target) = &target {
            let key = match target {
                PaperTarget::Code { code_hash } => code_hash.clone(),
                PaperTarget::Point { psu, form_id } => format!("{psu}\u{1f}{form_id}"),
            };
            if let Some(first) = targets_seen.insert(key, row_number) {
                problems.add(
                    row_number,
                    if code_col.is_some() && !cell(code_col).is_empty() {
                        "code"
                    } else {
                        "form_id"
                    },
                    (
                        format!("cùng phiếu này đã có ở dòng {first}"),
                        format!("the same form is on row {first}"),
                    ),
                );
            }
        }
        let language = match cell(language_col) {
            "" | "vi" => "vi",
            "en" => "en",
            _ => {
                problems.add(
                    row_number,
                    "language",
                    ("vi hoặc en (hoặc để trống)", "vi or en (or empty)"),
                );
                "vi"
            }
        };
        let mut answers = Answers::new();
        let mut unreadable = false;
        for (index, code) in &item_cols {
            let text = Table::cell(row, *index);
            if text.is_empty() {
                continue;
            }
            match text.strip_suffix(".0").unwrap_or(text).parse::<i64>() {
                Ok(value) => {
                    answers.insert(code.clone(), value);
                }
                Err(_) => {
                    unreadable = true;
                    problems.add(
                        row_number,
                        &table.header[*index],
                        (
                            format!("{text:?} không phải là số"),
                            format!("{text:?} is not a number"),
                        ),
                    );
                }
            }
        }
        if !unreadable {
            for error in questionnaire.validate(&answers, None) {
                let message: (String, String) = match error.problem {
                    Problem::Required => (
                        "câu bắt buộc nhưng để trống".to_owned(),
                        "required, but empty".to_owned(),
                    ),
                    Problem::NotAChoice => {
                        let allowed: Vec<String> = questionnaire
                            .item(&error.item)
                            .map(|item| {
                                questionnaire
                                    .choices(item)
                                    .map(|c| c.value.to_string())
                                    .collect()
                            })
                            .unwrap_or_default();
                        (
                            format!("không phải giá trị của câu này ({})", allowed.join(", ")),
                            format!("not one of the item's values ({})", allowed.join(", ")),
                        )
                    }
                    Problem::NotRelevant => (
                        "có trả lời, nhưng phiếu bỏ qua câu này sau câu trả lời trước đó"
                            .to_owned(),
                        "answered, but the form skips this item after the earlier answer"
                            .to_owned(),
                    ),
                    Problem::UnknownItem => (
                        "không phải câu hỏi của bảng hỏi này".to_owned(),
                        "not an item of this questionnaire".to_owned(),
                    ),
                };
                problems.add(row_number, &column_of(&error.item), message);
            }
        }
        if let Some(target) = target {
            let canonical = serde_json::to_string(&answers).unwrap_or_default();
            let (receipt, export_id) = ids();
            let measures = crate::survey::quality::measures(questionnaire, &answers);
            records.push(PaperRecord {
                row: row_number,
                target,
                content_hash: sha256_hex(canonical.as_bytes()),
                answers,
                language: language.to_owned(),
                receipt,
                export_id,
                measures,
            });
        }
    }
    if records.is_empty() && problems.is_empty() {
        problems.add(
            0,
            "",
            ("tệp không có dòng dữ liệu nào", "the file has no data rows"),
        );
    }
    if problems.is_empty() {
        Ok(records)
    } else {
        Err(problems)
    }
}
