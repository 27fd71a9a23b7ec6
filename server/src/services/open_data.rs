//! The open-data files of a release, as bytes: which files there are, the columns of
//! results.csv and how a cell is written and read back (`sipas verify` reads what the site
//! writes), the workbook, the JSON and the README. Served by `crate::web::site::open_data`.

use sipas_app::staff::release::{ReleaseCell, ReleaseInfo};

pub const FILES: [&str; 9] = [
    "README.txt",
    "results.csv",
    "results.xlsx",
    "results.json",
    "methodology.toml",
    "aggregates.csv",
    "SHA256SUMS",
    // Releases on the 63-province map only: the same year on today's 34 units.
    "results-2025-map.csv",
    "aggregates-2025-map.csv",
];

/// The files `sipas verify` reads, whose SHA-256 the release page and SHA256SUMS give.
pub const VERIFICATION_FILES: [&str; 5] = [
    "results.csv",
    "aggregates.csv",
    "methodology.toml",
    "results-2025-map.csv",
    "aggregates-2025-map.csv",
];

/// A province's own table, `tinh-{code}.csv|xlsx|json` (the CSV for people, in Vietnamese;
/// the workbook and JSON the rows of that domain in the columns of results.csv):
/// `(code, extension)`.
pub fn province_file(file: &str) -> Option<(&str, &str)> {
    let (code, extension) = file.strip_prefix("tinh-")?.split_once('.')?;
    let code_ok = (1..=3).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit());
    (code_ok && matches!(extension, "csv" | "xlsx" | "json")).then_some((code, extension))
}

/// The columns of results.csv and results.xlsx: exactly those `sipas compute` writes, so a
/// recomputed table can be compared with the published one line by line.
pub use sipas_stats::output::CSV_COLUMNS as COLUMNS;

/// A cell's values in [`COLUMNS`] order; numbers in Rust's shortest round-trip form, so a
/// reader gets back exactly the stored double. Undefined is empty.
pub fn cell_values(c: &ReleaseCell) -> Vec<String> {
    let real = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    let int = |x: Option<i64>| x.map(|v| v.to_string()).unwrap_or_default();
    vec![
        c.domain.clone(),
        c.subgroup.clone(),
        c.node.clone(),
        real(c.n),
        real(c.df),
        real(c.estimate),
        real(c.se),
        real(c.ci_low),
        real(c.ci_high),
        real(c.deff),
        real(c.n_eff),
        c.flag.clone(),
        real(c.cv),
        c.note.clone(),
        int(c.rank),
        int(c.rank_best),
        int(c.rank_worst),
        int(c.ranked_of),
        c.tier.clone().unwrap_or_default(),
        real(c.vs_national_difference),
        real(c.vs_national_se),
        real(c.vs_national_p),
        real(c.vs_national_p_holm),
        real(c.change),
        real(c.change_se),
        real(c.change_df),
        real(c.change_p),
        real(c.change_p_holm),
    ]
}

/// A row of results.csv (`row`: a column's value by name) read back as a cell: the inverse of
/// [`cell_values`]. Errors name the column.
pub fn read_cell<'r>(row: &dyn Fn(&str) -> &'r str) -> Result<ReleaseCell, String> {
    let text = |c: &str| row(c).trim().to_owned();
    let real = |c: &str| -> Result<Option<f64>, String> {
        match text(c).as_str() {
            "" => Ok(None),
            v => v
                .parse::<f64>()
                .map(Some)
                .map_err(|_| format!("column {c}: {v:?} is not a number")),
        }
    };
    let int = |c: &str| -> Result<Option<i64>, String> {
        match text(c).as_str() {
            "" => Ok(None),
            v => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| format!("column {c}: {v:?} is not a whole number")),
        }
    };
    let tier = text("vs_national");
    Ok(ReleaseCell {
        domain: text("domain"),
        subgroup: text("subgroup"),
        node: text("node"),
        n: real("n")?,
        df: real("df")?,
        estimate: real("estimate")?,
        se: real("se")?,
        ci_low: real("ci_low")?,
        ci_high: real("ci_high")?,
        deff: real("deff")?,
        n_eff: real("n_eff")?,
        cv: real("cv")?,
        flag: text("flag"),
        note: text("note"),
        rank: int("rank")?,
        rank_best: int("rank_best")?,
        rank_worst: int("rank_worst")?,
        ranked_of: int("ranked_of")?,
        tier: (!tier.is_empty()).then_some(tier),
        vs_national_difference: real("vs_national_difference")?,
        vs_national_se: real("vs_national_se")?,
        vs_national_p: real("vs_national_p")?,
        vs_national_p_holm: real("vs_national_p_holm")?,
        change: real("change")?,
        change_se: real("change_se")?,
        change_df: real("change_df")?,
        change_p: real("change_p")?,
        change_p_holm: real("change_p_holm")?,
    })
}

pub fn results_csv(cells: &[ReleaseCell]) -> Result<Vec<u8>, String> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut writer = csv::Writer::from_writer(&mut out);
        writer.write_record(COLUMNS).map_err(|e| e.to_string())?;
        for c in cells {
            writer
                .write_record(cell_values(c))
                .map_err(|e| e.to_string())?;
        }
        writer.flush().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

pub fn results_xlsx(info: &ReleaseInfo, cells: &[ReleaseCell]) -> Result<Vec<u8>, String> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    // The same bytes whenever the file is built (its SHA-256 in a backup's manifest, a
    // mirror's copy): the workbook says it was created when the release was published, not
    // now (the writer's default).
    workbook.set_properties(
        &rust_xlsxwriter::DocProperties::new().set_creation_datetime(&published_at(info)?),
    );
    let sheet = workbook.add_worksheet();
    sheet
        .set_name(format!("SIPAS {} v{}", info.year, info.version))
        .map_err(|e| e.to_string())?;
    for (col, name) in COLUMNS.iter().enumerate() {
        sheet
            .write_string(0, col as u16, *name)
            .map_err(|e| e.to_string())?;
    }
    for (i, c) in cells.iter().enumerate() {
        let row = u32::try_from(i + 1).map_err(|e| e.to_string())?;
        for (col, value) in cell_values(c).into_iter().enumerate() {
            let col = col as u16;
            // Text columns stay text (a province code "01" is not the number 1).
            let text_column = matches!(
                COLUMNS[col as usize],
                "domain" | "subgroup" | "node" | "flag" | "note" | "vs_national"
            );
            match value.parse::<f64>() {
                Ok(number) if !text_column => sheet.write_number(row, col, number),
                _ if value.is_empty() => continue,
                _ => sheet.write_string(row, col, &value),
            }
            .map_err(|e| e.to_string())?;
        }
    }
    workbook.save_to_buffer().map_err(|e| e.to_string())
}

/// When the release was published, for the workbook.
fn published_at(info: &ReleaseInfo) -> Result<rust_xlsxwriter::ExcelDateTime, String> {
    let unreadable = |e: &dyn std::fmt::Display| {
        format!(
            "the release's publication time {:?}: {e}",
            info.published_at
        )
    };
    let at = time::OffsetDateTime::parse(
        &info.published_at,
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(|e| unreadable(&e))?
    .to_offset(time::UtcOffset::UTC);
    let year = u16::try_from(at.year()).map_err(|e| unreadable(&e))?;
    rust_xlsxwriter::ExcelDateTime::from_ymd(year, at.month() as u8, at.day())
        .and_then(|date| date.and_hms(u16::from(at.hour()), at.minute(), at.second()))
        .map_err(|e| unreadable(&e))
}

pub fn results_json(info: &ReleaseInfo, cells: &[ReleaseCell]) -> Result<Vec<u8>, String> {
    #[derive(serde::Serialize)]
    struct Document<'a> {
        release: &'a ReleaseInfo,
        cells: &'a [ReleaseCell],
    }
    serde_json::to_vec_pretty(&Document {
        release: info,
        cells,
    })
    .map_err(|e| e.to_string())
}

/// What the README of a download says besides the release's record.
pub struct ReadmeFacts {
    /// Provinces of the release's map with no row (no respondents): named in the README.
    pub missing_provinces: Vec<String>,
    /// `(file, SHA-256)` of the verification files.
    pub checksums: Vec<(String, String)>,
}

/// What the quality review left out of a release (docs/methodology.md, "Quality review").
fn quality_note(info: &ReleaseInfo) -> String {
    if info.left_out.is_empty() {
        return String::new();
    }
    let total: i64 = info.left_out.iter().map(|l| l.count).sum();
    let lines: String = info
        .left_out
        .iter()
        .map(|l| {
            let reason = if l.reason == "awaiting_review" {
                "flagged, not reviewed".to_owned()
            } else {
                format!(
                    "excluded: {}",
                    sipas_app::staff::quality::reason_label(&l.reason).1
                )
            };
            format!("  {:<8} {:>6}  {reason}\n", l.province, l.count)
        })
        .collect();
    format!(
        "\nQuality review / Rà soát chất lượng: {total} response(s) of the probability sample are \
         left out\nof the indices (thresholds in methodology.toml, [quality]); per province and \
         reason:\n{lines}"
    )
}

/// The README of a download: what each file is and how to check every number.
pub fn readme(info: &ReleaseInfo, facts: &ReadmeFacts) -> String {
    let correction = if info.changelog.is_empty() {
        String::new()
    } else {
        format!(
            "\nThis version corrects an earlier one / Phiên bản này đính chính bản trước:\n  {}\n",
            info.changelog
        )
    };
    let missing = if facts.missing_provinces.is_empty() {
        String::new()
    } else {
        format!(
            "\nNot every province is in this release / Bản này thiếu tỉnh: no respondents in {}.\n\
             The mean of provinces is over the provinces present.\n",
            facts.missing_provinces.join(", ")
        )
    };
    let quality = quality_note(info);
    let checksums: String = facts
        .checksums
        .iter()
        .map(|(file, hash)| format!("  {hash}  {file}\n"))
        .collect();
    let old_map = info.geography == sipas_app::domain::Geography::G2004;
    let verifiable = sipas_app::results::verifiable(&facts.checksums);
    let previous_flag = if info.compared_with.is_some() {
        " --previous PREVIOUS.csv"
    } else {
        ""
    };
    let previous = match info.compared_with {
        None => "  (no earlier release: the change columns are empty)\n".to_owned(),
        Some(c) => format!(
            "  The change columns compare with SIPAS {y} v{v}: PREVIOUS.csv is its\n  \
             /du-lieu/{y}/v{v}/{file}{note}.\n",
            y = c.year,
            v = c.version,
            file = if c.reaggregated {
                "results-2025-map.csv"
            } else {
                "results.csv"
            },
            note = if c.reaggregated {
                " (that year was on the 63-province map; this is it merged into\n  today's 34 units)"
            } else {
                ""
            },
        ),
    };
    format!(
        "{title} (SIPAS {year} v{version})
Published {published} · computed by {computed} · approved by {approved}
Wave {wave} · questionnaire {q} v{qv} · geography {geo} · software {software}
Input digest (SHA-256 of the full per-commune totals, kept by the Ministry): {digest}
{correction}{missing}{quality}
Files / Tệp
  results.csv       every published number (UTF-8 with BOM, opens in Excel)
  results.xlsx      the same table as a workbook
  results.json      the same table with this release's record
{aggregates_line}{map_lines}  methodology.toml  the methodology exactly as used (index tree, interval method, rules)
  SHA256SUMS        the SHA-256 of the files above, as on the release page

Check every number / Kiểm tra mọi con số
{check}
Precision / Độ chính xác
  Shares (estimate, ci_low, ci_high, se, differences and changes) are proportions 0-1 rounded
  to 4 decimals (0.01 percentage points); deff to 2 decimals; n_eff to whole respondents;
  p-values to 4 decimals. Intervals, flags, ranks, tiers and changes are computed from the
  rounded numbers, so they can be checked exactly.

Columns: domain (province code; national = design-based over all respondents; national_mean =
mean of provinces, the official national figure), subgroup (always empty), node (index,
content, element or question), n, df, estimate, se, ci_low, ci_high (at the level in
methodology.toml), deff, n_eff, cv, flag (ok, low_precision, suppressed, no_data), note,
rank with the rank interval rank_best-rank_worst among ranked_of provinces (it holds for the
whole table at once), vs_national (above, not_distinguishable or below the national figure of
the methodology's rule), the difference from it with its se, p-value and the p-value adjusted
by Holm's method over the provinces (the tier rests on it: significant at 5%), the change
since the previous year with se, df, p-value and Holm-adjusted p-value.
Method: /phuong-phap/methodology.md on the release's site.
SHA-256:
{checksums}",
        title = info.title,
        year = info.year,
        version = info.version,
        published = info.published_at,
        computed = info.computed_by,
        approved = info.approved_by,
        wave = info.wave_code,
        q = info.questionnaire_code,
        qv = info.questionnaire_version,
        geo = info.geography.key(),
        software = info.software_version,
        digest = info.input_digest,
        aggregates_line = if verifiable {
            "  aggregates.csv    per province and for the nation: for each question the number of valid
                    answers and the weighted sums of satisfied answers (sum_wy) and of answers
                    (sum_wd); for each index, content and element the respondents who answered
                    any of its questions (n) and their weight (sum_w). Nothing per commune,
                    nothing by sex or age: these identify nobody.\n"
        } else {
            ""
        },
        check = if verifiable {
            format!(
                "  Put results.csv, aggregates.csv and methodology.toml in one folder (the names may keep the
  sipas-{year}-v{version}- prefix of the download) and run
    sipas verify FOLDER{previous_flag}
  It recomputes every estimate from the aggregates, and every interval, flag, rank interval,
  tier and change from the published estimates, standard errors and degrees of freedom,
  and reports any number it could not reproduce, by row and column.
{previous}
  Standard errors, degrees of freedom and design effects need the per-commune data: they are
  published as computed (rounded) and the verification takes them as given; the Ministry
  gives the full totals to accredited researchers, who reproduce them too.
",
                year = info.year,
                version = info.version,
            )
        } else {
            "  This release was published before the platform published aggregates per province:
  sipas verify cannot check it. The Ministry gives the full per-commune totals (their SHA-256
  is the input digest above) to accredited researchers, who can reproduce every number.
".to_owned()
        },
        map_lines = if old_map {
            "  results-2025-map.csv, aggregates-2025-map.csv\n                    this year on today's 34 units (provinces merged by the 2025 crosswalk;\n                    docs/methodology.md, \"Earlier years on today's map\"): with them and\n                    methodology.toml in a folder, sipas verify FOLDER --map 2025\n"
        } else {
            ""
        },
    )
}

/// A version in an address, `v1`, `v2`, …: its number.
/// Digits only, no sign and no leading zero (`v01` is not the address of `v1`).
pub fn version_number(text: &str) -> Option<i32> {
    text.strip_prefix('v')
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) && !v.starts_with('0'))
        .and_then(|v| v.parse::<i32>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_facts() -> ReadmeFacts {
        ReadmeFacts {
            missing_provinces: Vec::new(),
            checksums: Vec::new(),
        }
    }

    #[test]
    fn the_readme_says_what_the_quality_review_left_out() {
        let left_out = |province: &str, reason: &str, count| sipas_app::staff::quality::LeftOut {
            province: province.into(),
            reason: reason.into(),
            count,
        };
        let info = ReleaseInfo {
            year: 2027,
            version: 1,
            wave_code: "w".into(),
            geography: sipas_app::domain::Geography::G2025,
            title: "SIPAS 2027".into(),
            methodology: String::new(),
            questionnaire_code: "sipas-2023".into(),
            questionnaire_version: 1,
            input_digest: String::new(),
            software_version: "0".into(),
            computed_by: "a".into(),
            approved_by: "b".into(),
            published_at: "2027-12-07T09:56:01Z".into(),
            changelog: String::new(),
            cell_count: 0,
            compared_with: None,
            left_out: vec![
                left_out("01", "awaiting_review", 3),
                left_out("79", "speeding", 12),
            ],
        };
        let text = readme(&info, &no_facts());
        assert!(text.contains("15 response(s)"), "{text}");
        assert!(text.contains("79") && text.contains("excluded: Answered too fast"));
        assert!(text.contains("flagged, not reviewed"));
        // Listed in results.json with the release's record.
        let json = String::from_utf8(results_json(&info, &[]).expect("json")).expect("utf-8");
        assert!(json.contains("\"left_out\""), "{json}");
    }

    /// The workbook is the same bytes whenever it is built (it carries the publication time,
    /// not the build's): a backup's manifest and SHA256SUMS-style checks rely on it.
    #[test]
    fn the_workbook_is_reproducible() {
        let info = ReleaseInfo {
            year: 2026,
            version: 1,
            wave_code: "w".into(),
            geography: sipas_app::domain::Geography::G2025,
            title: "SIPAS 2026".into(),
            methodology: String::new(),
            questionnaire_code: "sipas-2023".into(),
            questionnaire_version: 1,
            input_digest: String::new(),
            software_version: "0".into(),
            computed_by: "a".into(),
            approved_by: "b".into(),
            published_at: "2026-12-07T09:56:01Z".into(),
            changelog: String::new(),
            cell_count: 0,
            compared_with: None,
            left_out: Vec::new(),
        };
        assert!(
            !readme(&info, &no_facts()).contains("Quality review"),
            "nothing left out, nothing said"
        );
        let first = results_xlsx(&info, &[]).expect("xlsx");
        // The writer's clock has a resolution of a second.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert_eq!(first, results_xlsx(&info, &[]).expect("xlsx"));
        let unreadable = ReleaseInfo {
            published_at: "yesterday".into(),
            ..info
        };
        assert!(
            results_xlsx(&unreadable, &[])
                .expect_err("refused")
                .contains("yesterday")
        );
    }
}
