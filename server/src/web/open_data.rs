//! Open data of each published release, at stable addresses:
//! `/du-lieu/{year}/v{version}/{file}` (never changes) and `/du-lieu/{year}/latest/{file}`
//! (a redirect to the newest version). Files: README.txt, results.csv (UTF-8 with BOM),
//! results.xlsx, results.json, methodology.toml, aggregates.csv (per province and nation, the
//! public form of the data: `sipas_stats::publish`), SHA256SUMS, and for a year on the
//! 63-province map the same year on today's 34 units (results-2025-map.csv with its
//! aggregates-2025-map.csv). `sipas verify` reproduces every published number from them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use sipas_app::staff::release::{ReleaseCell, ReleaseInfo};

use crate::web::AppState;

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

/// What the README of a download says besides the release's record.
pub struct ReadmeFacts {
    /// Provinces of the release's map with no row (no respondents): named in the README.
    pub missing_provinces: Vec<String>,
    /// `(file, SHA-256)` of the verification files.
    pub checksums: Vec<(String, String)>,
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
{correction}{missing}
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

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such release or file\n").into_response()
}

/// One built file of a published version: its ETag, type and bytes.
pub(crate) struct Built {
    etag: String,
    content_type: &'static str,
    bytes: Bytes,
}

impl Built {
    /// The ETag is the SHA-256 of the bytes (its first 128 bits): a published release never
    /// changes its numbers, but a later version of the platform may write a file of it
    /// differently (a column added, a README reworded), and a client holding the old bytes
    /// must not be told they are current.
    fn new(content_type: &'static str, bytes: Vec<u8>) -> Self {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(&bytes);
        Self {
            etag: format!("\"{}\"", sipas_app::survey::codes::hex(&digest[..16])),
            content_type,
            bytes: Bytes::from(bytes),
        }
    }
}

/// Built files by (year, version, file). A published version never changes, so a file is built
/// once per process and then served from memory to everyone (a slow client holds a reference,
/// not a copy); the cache holds at most the nine files of each published version and three
/// per province of it (`tinh-{code}.*`, built only for a code the release has).
/// Kept per application (in [`crate::web::public_site::SiteCache`]), so two databases in one process
/// never serve each other's files.
/// A file is built once even when many ask for it at once (release day): later requests wait
/// for the first one's build. A miss (no such version, file or province) is not kept.
pub(crate) struct Cache {
    files: Mutex<HashMap<FileKey, Arc<tokio::sync::OnceCell<Arc<Built>>>>>,
    /// CPU work (workbooks, tables, re-aggregation) runs two at a time, so first requests for
    /// many files cannot take every core from the survey. The permit goes with the blocking
    /// work, so a request that gives up does not free it while its build still runs.
    cpu: Arc<tokio::sync::Semaphore>,
}

type FileKey = (i32, i32, String);

impl Default for Cache {
    fn default() -> Self {
        Self {
            files: Mutex::default(),
            cpu: Arc::new(tokio::sync::Semaphore::new(2)),
        }
    }
}

/// Removes its key's cache entry when dropped, if the entry holds no file.
struct ForgetUnbuilt<'a> {
    files: &'a Mutex<HashMap<FileKey, Arc<tokio::sync::OnceCell<Arc<Built>>>>>,
    key: FileKey,
}

impl Drop for ForgetUnbuilt<'_> {
    fn drop(&mut self) {
        let mut files = self
            .files
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if files.get(&self.key).is_some_and(|o| !o.initialized()) {
            files.remove(&self.key);
        }
    }
}

/// Why a file could not be served.
enum Miss {
    /// No such version, file or province: 404.
    Absent,
    /// The database or the build failed: the response to give.
    Failed(Response),
}

/// Runs `work` off the async threads, at most [`Cache::cpu`] at a time.
async fn cpu_bound<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    let permit = state
        .site
        .open_data
        .cpu
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| e.to_string())?;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work()
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()))
}

/// A version in an address, `v1`, `v2`, …: its number.
/// Digits only, no sign and no leading zero (`v01` is not the address of `v1`).
pub fn version_number(text: &str) -> Option<i32> {
    text.strip_prefix('v')
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) && !v.starts_with('0'))
        .and_then(|v| v.parse::<i32>().ok())
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
    let built = match built(state, year, version, file).await {
        Ok(Some(built)) => built,
        Ok(None) => return not_found(),
        Err(response) => return response,
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
    let disposition = if matches!(file, "README.txt" | "SHA256SUMS") {
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
                // A day, then revalidated by ETag (304): the numbers never change, but a file
                // may be written anew by a later version of the platform.
                HeaderValue::from_static("public, max-age=86400"),
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

/// One file of a published version, from the cache or built once; `Ok(None)` when there is no
/// such version or file.
async fn built(
    state: &AppState,
    year: i32,
    version: i32,
    file: &str,
) -> Result<Option<Arc<Built>>, Response> {
    // A version that was never published gets no cache entry (the key space is unbounded).
    match crate::web::public_site::is_published(state, year, version).await {
        Ok(true) => {}
        Ok(false) => return Ok(None),
        Err(failure) => return Err(failure.into_response()),
    }
    let key = (year, version, file.to_owned());
    let files = &state.site.open_data.files;
    let once = files
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .entry(key.clone())
        .or_default()
        .clone();
    // However this ends (built, a miss, a failure, or the request given up mid-build), an entry
    // left without a file is removed: a miss must not grow the cache, a failure is tried again.
    let _forget = ForgetUnbuilt { files, key };
    let outcome = once
        .get_or_try_init(|| async {
            match Box::pin(build(state, year, version, file)).await {
                Ok(Some(built)) => Ok(Arc::new(built)),
                Ok(None) => Err(Miss::Absent),
                Err(response) => Err(Miss::Failed(response)),
            }
        })
        .await
        .cloned();
    match outcome {
        Ok(built) => Ok(Some(built)),
        Err(Miss::Absent) => Ok(None),
        Err(Miss::Failed(response)) => Err(response),
    }
}

/// The SHA-256 (hex) of each verification file a version has: what SHA256SUMS, the README and
/// the release page show.
pub async fn checksums(
    state: &AppState,
    year: i32,
    version: i32,
) -> Result<Vec<(String, String)>, Response> {
    use sha2::Digest;
    let mut sums = Vec::new();
    for file in VERIFICATION_FILES {
        if let Some(built) = built(state, year, version, file).await? {
            sums.push((
                file.to_owned(),
                sipas_app::survey::codes::hex(&sha2::Sha256::digest(&built.bytes)),
            ));
        }
    }
    Ok(sums)
}

/// Builds one file of a published version; `Ok(None)` when there is no such version or file.
async fn build(
    state: &AppState,
    year: i32,
    version: i32,
    file: &str,
) -> Result<Option<Built>, Response> {
    let store = &state.staff.store;
    let province = province_file(file);
    let (info, cells) = match province {
        // A province's file comes from the release's pages' data, cached: asking for a code the
        // release does not have costs no database read.
        Some((code, _)) => {
            let Some(data) = crate::web::public_site::published_data(state, year, version)
                .await
                .map_err(IntoResponse::into_response)?
            else {
                return Ok(None);
            };
            let cells: Vec<ReleaseCell> = data
                .cells
                .iter()
                .filter(|c| c.domain == code)
                .cloned()
                .collect();
            if cells.is_empty() {
                return Ok(None);
            }
            (data.info.clone(), cells)
        }
        // The files the pages' data is made from (their checksums): from the store.
        None => match store.release(year, Some(version)).await {
            Ok(Some(found)) => found,
            Ok(None) => return Ok(None),
            Err(err) => return Err(unavailable(err)),
        },
    };
    // The province's CSV is for people: Vietnamese columns and names (`tinh-{code}.csv`);
    // its workbook and JSON are results.* cut to its rows.
    if let Some((code, "csv")) = province {
        let data = crate::web::public_site::release_data(state, &info)
            .await
            .map_err(IntoResponse::into_response)?;
        let Some(text) = sipas_app::results::tables::province_table_vi(&data, code) else {
            return Ok(None);
        };
        return Ok(Some(Built::new(
            "text/csv; charset=utf-8",
            text.into_bytes(),
        )));
    }
    let file = match province {
        Some((_, extension)) => format!("results.{extension}"),
        None => file.to_owned(),
    };
    let content_type = match file.as_str() {
        "README.txt" | "SHA256SUMS" => "text/plain; charset=utf-8",
        "results.csv" | "results-2025-map.csv" | "aggregates.csv" | "aggregates-2025-map.csv" => {
            "text/csv; charset=utf-8"
        }
        "results.xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "methodology.toml" => "application/toml; charset=utf-8",
        _ => "application/json",
    };
    let old_map = info.geography == sipas_app::domain::Geography::G2004;
    let bytes: Result<Vec<u8>, String> = match file.as_str() {
        "SHA256SUMS" => Ok(checksums(state, year, version)
            .await?
            .iter()
            .map(|(file, hash)| format!("{hash}  {file}\n"))
            .collect::<String>()
            .into_bytes()),
        "README.txt" => {
            let missing_provinces = match state.store.provinces(info.geography).await {
                Ok(provinces) => provinces
                    .into_iter()
                    .filter(|p| !cells.iter().any(|c| c.domain == p.code))
                    .map(|p| format!("{} {}", p.code, p.name_vi))
                    .collect(),
                Err(err) => return Err(unavailable(err)),
            };
            let facts = ReadmeFacts {
                missing_provinces,
                checksums: checksums(state, year, version).await?,
            };
            Ok(readme(&info, &facts).into_bytes())
        }
        "aggregates.csv" => match store.release_aggregates(year, version).await {
            Ok(Some(text)) if !text.is_empty() => Ok(text.into_bytes()),
            Ok(_) => return Ok(None),
            Err(err) => return Err(unavailable(err)),
        },
        "results-2025-map.csv" | "aggregates-2025-map.csv" => {
            if !old_map {
                return Ok(None);
            }
            let totals = match store.release_totals(year, version).await {
                Ok(Some(t)) if !t.is_empty() => t,
                Ok(_) => return Ok(None),
                Err(err) => return Err(unavailable(err)),
            };
            let methodology = info.methodology.clone();
            let aggregates = file == "aggregates-2025-map.csv";
            cpu_bound(state, move || {
                let (cells, rows) =
                    crate::jobs::results::reaggregated_cells(&methodology, &totals)?;
                if aggregates {
                    let mut out = Vec::new();
                    sipas_stats::publish::write_aggregates(&rows, &mut out)
                        .map_err(|e| e.to_string())?;
                    Ok(out)
                } else {
                    results_csv(&cells)
                }
            })
            .await
        }
        other => {
            let other = other.to_owned();
            cpu_bound(state, move || match other.as_str() {
                "results.csv" => results_csv(&cells),
                "results.xlsx" => results_xlsx(&info, &cells),
                "results.json" => results_json(&info, &cells),
                _ => Ok(info.methodology.into_bytes()),
            })
            .await
        }
    };
    match bytes {
        Ok(bytes) => Ok(Some(Built::new(content_type, bytes))),
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
