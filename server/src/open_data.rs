//! Open data of each published release, at stable addresses:
//! `/du-lieu/{year}/v{version}/{file}` (never changes) and `/du-lieu/{year}/latest/{file}`
//! (a redirect to the newest version). Files: README.txt, results.csv (UTF-8 with BOM),
//! results.xlsx, results.json, methodology.toml and totals.json (the public form of the totals:
//! per-PSU counts and weighted sums of provinces and the nation, no moments, no subgroups, no
//! microdata; withheld when unsafe, see `sipas_stats::disclosure`), from which
//! `sipas compute --totals` reproduces every published number (a release has no rows by
//! subgroup).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use sipas_app::staff::release::{ReleaseCell, ReleaseInfo};

use crate::http::AppState;

pub const FILES: [&str; 7] = [
    "README.txt",
    "results.csv",
    "results.xlsx",
    "results.json",
    "methodology.toml",
    "totals.json",
    // Releases on the 63-province map only: the same year on today's 34 units.
    "results-2025-map.csv",
];

/// A province's own table, `tinh-{code}.csv|xlsx|json` (the rows of that domain, in the
/// columns of results.csv): `(code, extension)`.
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
pub fn readme(info: &ReleaseInfo, totals_published: bool) -> String {
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
Input digest (SHA-256 of the full totals): {digest}
{correction}
Files / Tệp
  results.csv       every published number (UTF-8 with BOM, opens in Excel)
  results.xlsx      the same table as a workbook
  results.json      the same table with this release's record
{map_line}  methodology.toml  the methodology exactly as used (index tree, interval method, rules)
{totals_line}
Reproduce the numbers / Tính lại các con số
  sipas compute --totals totals.json --methodology methodology.toml --out check.csv
{previous}  check.csv then equals results.csv (without the BOM), every row: estimates,
  intervals, design effects, flags, ranks, tiers and changes (tested with the public
  totals on data that passes the rules below, and with the full totals).
  No rows by subgroup (sex, age, area) are published: with about eight respondents per
  commune, any file that reproduced them would hold per-commune totals of one to four
  people. The subgroup column is kept, empty, so the table has the layout of
  `sipas compute`.

Columns: domain (province code, national = design-based, national_mean = mean of provinces),
subgroup, node (index, content, element or item), n respondents, df, estimate (share
satisfied, 0-1), se, ci_low / ci_high (at the level in methodology.toml, [ci] level), deff, n_eff, cv, flag (ok, low_precision,
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
        map_line = if info.geography == sipas_app::domain::Geography::G2004 {
            "  results-2025-map.csv  this year re-aggregated to today's 34 units (provinces merged\n                    by the 2025 crosswalk; docs/methodology.md, \"Earlier years on today's map\")\n"
        } else {
            ""
        },
        totals_line = if totals_published {
            "  totals.json       per-commune (PSU) counts and weighted sums of each province and\n                    the nation: no microdata, no subgroups, no item x item moments"
        } else {
            "  totals.json       not published for this version: a commune had too few respondents,\n                    a commune x item cell had 1 to 4 people (satisfied, not satisfied or\n                    not answering), the weights were calibrated, or it differs from an\n                    earlier version of the year by too few respondents (disclosure\n                    control, docs/methodology.md). The full totals are kept with the\n                    release (their SHA-256 is the input digest) and reproduce every number\n                    below; the Ministry gives them to accredited researchers"
        },
        previous = match info.compared_with {
            None => "  (no earlier release: the change columns are empty)\n".to_owned(),
            Some(c) => format!(
                "  The change columns compare with SIPAS {y} v{v}{note}; add\n    \
                 --previous-data sipas-{y}-v{v}-totals.json{flag}\n  \
                 (that release's totals file) to the command above.\n",
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

/// One built file of a published version: its ETag, type and bytes.
pub(crate) struct Built {
    etag: String,
    content_type: &'static str,
    bytes: Bytes,
}

/// Built files by (year, version, file). A published version never changes, so a file is built
/// once per process and then served from memory to everyone (a slow client holds a reference,
/// not a copy); the cache holds at most the seven files of each published version and three
/// per province of it (`tinh-{code}.*`, built only for a code the release has).
/// Kept per store (in [`crate::public_site::SiteCache`]), so two databases in one process
/// never serve each other's files.
pub(crate) type Cache = Mutex<HashMap<(i32, i32, String), Arc<Built>>>;

/// A version in an address, `v1`, `v2`, …: its number.
pub fn version_number(text: &str) -> Option<i32> {
    text.strip_prefix('v')
        .and_then(|v| v.parse::<i32>().ok())
        .filter(|v| *v >= 1)
}

/// `GET /du-lieu/{year}/{version}/{file}`: `version` is `v1`, `v2`, … or `latest`. Readable
/// from any origin (every answer, redirects and errors included, carries CORS).
pub async fn file(
    State(state): State<AppState>,
    Path((year, version, file)): Path<(i32, String, String)>,
    headers: axum::http::HeaderMap,
) -> Response {
    let mut response = serve(&state, year, &version, &file, &headers).await;
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

async fn serve(
    state: &AppState,
    year: i32,
    version: &str,
    file: &str,
    headers: &axum::http::HeaderMap,
) -> Response {
    if !FILES.contains(&file) && province_file(file).is_none() {
        return not_found();
    }
    let store = &state.staff.store;
    if version == "latest" {
        return match store.releases().await {
            Ok(releases) => match releases
                .iter()
                .filter(|r| r.year == year)
                .map(|r| r.version)
                .max()
            {
                Some(latest) => Redirect::temporary(&format!("/du-lieu/{year}/v{latest}/{file}"))
                    .into_response(),
                None => not_found(),
            },
            Err(err) => unavailable(err),
        };
    }
    let Some(version) = version_number(version) else {
        return not_found();
    };
    let key = (year, version, file.to_owned());
    let cache = &state.staff.site.open_data;
    let cached = cache.lock().ok().and_then(|c| c.get(&key).cloned());
    let built = match cached {
        Some(built) => built,
        None => match build(state, year, version, file).await {
            Ok(Some(built)) => {
                let built = Arc::new(built);
                if let Ok(mut c) = cache.lock() {
                    c.insert(key, built.clone());
                }
                built
            }
            Ok(None) => return not_found(),
            Err(response) => return response,
        },
    };
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == built.etag))
    {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag_value(&built.etag))],
        )
            .into_response();
    }
    let disposition = if file == "README.txt" {
        HeaderValue::from_static("inline")
    } else {
        // Year and version are numbers and the file one of FILES: nothing to escape.
        HeaderValue::from_str(&format!(
            "attachment; filename=\"sipas-{year}-v{version}-{file}\""
        ))
        .unwrap_or(HeaderValue::from_static("attachment"))
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(built.content_type),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
            (header::ETAG, etag_value(&built.etag)),
        ],
        built.bytes.clone(),
    )
        .into_response()
}

fn etag_value(etag: &str) -> HeaderValue {
    HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"\""))
}

/// Builds one file of a published version; `Ok(None)` when there is no such version or file
/// (a withheld totals file).
async fn build(
    state: &AppState,
    year: i32,
    version: i32,
    file: &str,
) -> Result<Option<Built>, Response> {
    let store = &state.staff.store;
    let (info, mut cells) = match store.release(year, Some(version)).await {
        Ok(Some(found)) => found,
        Ok(None) => return Ok(None),
        Err(err) => return Err(unavailable(err)),
    };
    let etag = format!("\"{}-v{version}-{file}\"", info.input_digest);
    // A province's table is results.* cut to its rows; an unknown code has none.
    let province = province_file(file);
    if let Some((code, _)) = province {
        cells.retain(|c| c.domain == code);
        if cells.is_empty() {
            return Ok(None);
        }
    }
    let file = match province {
        Some((_, extension)) => format!("results.{extension}"),
        None => file.to_owned(),
    };
    let content_type = match file.as_str() {
        "README.txt" => "text/plain; charset=utf-8",
        "results.csv" => "text/csv; charset=utf-8",
        "results.xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "methodology.toml" => "application/toml; charset=utf-8",
        _ => "application/json",
    };
    let totals = if file == "totals.json" || file == "README.txt" {
        match store.public_totals(year, version).await {
            Ok(t) => t,
            Err(err) => return Err(unavailable(err)),
        }
    } else {
        None
    };
    if file == "totals.json" && totals.is_none() {
        return Ok(None);
    }
    let full_totals = if file == "results-2025-map.csv" {
        if info.geography != sipas_app::domain::Geography::G2004 {
            return Ok(None);
        }
        match store.release_totals(year, version).await {
            Ok(Some(t)) if !t.is_empty() => Some(t),
            Ok(_) => return Ok(None),
            Err(err) => return Err(unavailable(err)),
        }
    } else {
        None
    };
    // Building a workbook or a table is CPU work: off the async threads.
    let bytes = tokio::task::spawn_blocking(move || match file.as_str() {
        "README.txt" => Ok(readme(&info, totals.is_some()).into_bytes()),
        "results.csv" => results_csv(&cells),
        "results.xlsx" => results_xlsx(&info, &cells),
        "results.json" => results_json(&info, &cells),
        "totals.json" => Ok(totals.unwrap_or_default().into_bytes()),
        "results-2025-map.csv" => {
            crate::drafts::reaggregated_cells(&info.methodology, &full_totals.unwrap_or_default())
                .and_then(|cells| results_csv(&cells))
        }
        _ => Ok(info.methodology.into_bytes()),
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    match bytes {
        Ok(bytes) => Ok(Some(Built {
            etag,
            content_type,
            bytes: Bytes::from(bytes),
        })),
        Err(err) => {
            tracing::error!(error = %err, year, version, "open data file failed");
            Err((
                StatusCode::INTERNAL_SERVER_ERROR,
                "the file could not be made\n",
            )
                .into_response())
        }
    }
}

fn unavailable(err: sipas_app::ports::StoreError) -> Response {
    tracing::error!(error = %err, "open data: the database failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the database did not answer; try again\n",
    )
        .into_response()
}
