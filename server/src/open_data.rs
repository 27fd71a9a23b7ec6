//! Open data of each published release, at stable addresses:
//! `/du-lieu/{year}/v{version}/{file}` (never changes) and `/du-lieu/{year}/latest/{file}`
//! (a redirect to the newest version). Files: README.txt, results.csv (UTF-8 with BOM),
//! results.xlsx, results.json, methodology.toml and totals.json (per-PSU totals, no microdata),
//! from which `sipas compute --totals` reproduces every published number.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use sipas_app::staff::release::{ReleaseCell, ReleaseInfo};

use crate::http::AppState;

pub const FILES: [&str; 6] = [
    "README.txt",
    "results.csv",
    "results.xlsx",
    "results.json",
    "methodology.toml",
    "totals.json",
];

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
        int(c.rank_best_marginal),
        int(c.rank_worst_marginal),
        int(c.ranked_of),
        c.tier.clone().unwrap_or_default(),
        real(c.vs_national_difference),
        real(c.vs_national_se),
        real(c.vs_national_p),
        real(c.change),
        real(c.change_se),
        real(c.change_df),
        real(c.change_p),
    ]
}

fn results_csv(cells: &[ReleaseCell]) -> Result<Vec<u8>, String> {
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

fn results_xlsx(info: &ReleaseInfo, cells: &[ReleaseCell]) -> Result<Vec<u8>, String> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
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

fn results_json(info: &ReleaseInfo, cells: &[ReleaseCell]) -> Result<Vec<u8>, String> {
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

/// The README of a download: what each file is and how to reproduce the numbers.
pub fn readme(info: &ReleaseInfo) -> String {
    let correction = if info.changelog.is_empty() {
        String::new()
    } else {
        format!(
            "\nThis version corrects an earlier one / Phiên bản này đính chính bản trước:\n  {}\n",
            info.changelog
        )
    };
    format!(
        "{title} (SIPAS {year} v{version})
Published {published} · computed by {computed} · approved by {approved}
Wave {wave} · questionnaire {q} v{qv} · geography {geo} · software {software}
Input digest (SHA-256 of totals.json): {digest}
{correction}
Files / Tệp
  results.csv       every published number (UTF-8 with BOM, opens in Excel)
  results.xlsx      the same table as a workbook
  results.json      the same table with this release's record
  methodology.toml  the methodology exactly as used (index tree, interval method, rules)
  totals.json       per-PSU weighted totals: no microdata, no respondent can be identified

Reproduce every number / Tính lại mọi con số
  sha256sum totals.json        # equals the input digest above
  sipas compute --totals totals.json --methodology methodology.toml --out check.csv
{previous}  check.csv then equals results.csv line by line (without the BOM): estimates, intervals,
  design effects, flags, ranks, tiers and changes.

Columns: domain (province code, national = design-based, national_mean = mean of provinces),
subgroup, node (index, content, element or item), n respondents, df, estimate (share
satisfied, 0-1), se, ci_low / ci_high (95%), deff, n_eff, cv, flag (ok, low_precision,
suppressed, no_data), note, rank with its joint (rank_best-rank_worst) and marginal intervals
among ranked_of provinces, tier against the national figure, the difference from it with its
se and p-value, change from the previous year with se, df and p-value.
Method: docs/methodology.md of the SIPAS platform.
",
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
        previous = match info.compared_with {
            None => "  (no earlier release: the change columns are empty)\n".to_owned(),
            Some(c) => format!(
                "  The change columns compare with SIPAS {y} v{v}{note}; add\n    \
                 --previous-data sipas-{y}-v{v}-totals.json{flag}\n  \
                 (its totals.json from /du-lieu/{y}/v{v}/totals.json) to the command above.\n",
                y = c.year,
                v = c.version,
                note = if c.reaggregated {
                    ", which is on the 63-province map and is merged into today's 34 units"
                } else {
                    ""
                },
                flag = if c.reaggregated {
                    " --reaggregate-previous"
                } else {
                    ""
                },
            ),
        },
    )
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such release or file\n").into_response()
}

/// `GET /du-lieu/{year}/{version}/{file}`: `version` is `v1`, `v2`, … or `latest`.
pub async fn file(
    State(state): State<AppState>,
    Path((year, version, file)): Path<(i32, String, String)>,
) -> Response {
    if !FILES.contains(&file.as_str()) {
        return not_found();
    }
    let store = &state.staff.store;
    if version == "latest" {
        return match store.release(year, None).await {
            Ok(Some((info, _))) => {
                Redirect::temporary(&format!("/du-lieu/{year}/v{}/{file}", info.version))
                    .into_response()
            }
            Ok(None) => not_found(),
            Err(err) => unavailable(err),
        };
    }
    let Some(version) = version
        .strip_prefix('v')
        .and_then(|v| v.parse::<i32>().ok())
        .filter(|v| *v >= 1)
    else {
        return not_found();
    };
    let (info, cells) = match store.release(year, Some(version)).await {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(),
        Err(err) => return unavailable(err),
    };
    let (content_type, body): (&str, Result<Vec<u8>, String>) = match file.as_str() {
        "README.txt" => ("text/plain; charset=utf-8", Ok(readme(&info).into_bytes())),
        "results.csv" => ("text/csv; charset=utf-8", results_csv(&cells)),
        "results.xlsx" => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            results_xlsx(&info, &cells),
        ),
        "results.json" => ("application/json", results_json(&info, &cells)),
        "methodology.toml" => (
            "application/toml; charset=utf-8",
            Ok(info.methodology.clone().into_bytes()),
        ),
        _ => match store.release_totals(year, version).await {
            Ok(Some(t)) if !t.is_empty() => ("application/json", Ok(t.into_bytes())),
            Ok(_) => return not_found(),
            Err(err) => return unavailable(err),
        },
    };
    let body = match body {
        Ok(b) => b,
        Err(err) => {
            tracing::error!(error = %err, year, version, file, "open data file failed");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the file could not be made\n",
            )
                .into_response();
        }
    };
    let disposition = if file == "README.txt" {
        "inline".to_owned()
    } else {
        format!("attachment; filename=\"sipas-{year}-v{version}-{file}\"")
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition)
                    .unwrap_or(HeaderValue::from_static("attachment")),
            ),
            // A published version never changes.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
            (
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            ),
        ],
        body,
    )
        .into_response()
}

fn unavailable(err: sipas_app::ports::StoreError) -> Response {
    tracing::error!(error = %err, "open data: the database failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the database did not answer; try again\n",
    )
        .into_response()
}
