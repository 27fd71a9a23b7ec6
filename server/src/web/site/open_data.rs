//! Open data of each published release, at stable addresses:
//! `/du-lieu/{year}/v{version}/{file}` (never changes) and `/du-lieu/{year}/latest/{file}`
//! (a redirect to the newest version). Files: README.txt, results.csv (UTF-8 with BOM),
//! results.xlsx, results.json, methodology.toml, aggregates.csv (per province and nation, the
//! public form of the data: `sipas_stats::publish`), SHA256SUMS, and for a year on the
//! 63-province map the same year on today's 34 units (results-2025-map.csv with its
//! aggregates-2025-map.csv). `sipas verify` reproduces every published number from them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use sipas_app::staff::release::ReleaseCell;

use super::built::{Built, Kind, respond};
use crate::services::open_data::{
    FILES, ReadmeFacts, VERIFICATION_FILES, province_file, readme, results_csv, results_json,
    results_xlsx, version_number,
};
use crate::web::AppState;

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such release or file\n").into_response()
}

/// Built files by (year, version, file). A published version never changes, so a file is built
/// once per process and then served from memory to everyone (a slow client holds a reference,
/// not a copy); the cache holds at most the nine files of each published version and three
/// per province of it (`tinh-{code}.*`, built only for a code the release has).
/// Kept per application (in [`super::load::SiteCache`]), so two databases in one process
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
    if version == "latest" {
        // The index as of a second ago at most: a new version is "latest" at once, and a
        // stream of requests costs at most one database read a second.
        return match super::load::recent_index(state).await {
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
            Err(failure) => failure.into_response(),
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
    // A day, then revalidated by ETag (304): the numbers never change, but a file may be
    // written anew by a later version of the platform.
    let mut response = respond(headers, &built, "public, max-age=86400", Kind::Open);
    let disposition = if matches!(file, "README.txt" | "SHA256SUMS") {
        HeaderValue::from_static("inline")
    } else {
        // Year and version are numbers and the file one of FILES: nothing to escape.
        HeaderValue::from_str(&format!(
            "attachment; filename=\"sipas-{year}-v{version}-{file}\""
        ))
        .unwrap_or(HeaderValue::from_static("attachment"))
    };
    response
        .headers_mut()
        .insert(header::CONTENT_DISPOSITION, disposition);
    response
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
    match super::load::is_published(state, year, version).await {
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
                sipas_app::survey::codes::hex(&sha2::Sha256::digest(built.body())),
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
            let Some(data) = super::load::published_data(state, year, version)
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
        let data = super::load::release_data(state, &info)
            .await
            .map_err(IntoResponse::into_response)?;
        let Some(text) = sipas_app::results::tables::province_table_vi(&data, code) else {
            return Ok(None);
        };
        return finish(state, "text/csv; charset=utf-8", text.into_bytes())
            .await
            .map(Some)
            .map_err(|err| {
                tracing::error!(error = %err, year, version, "open data file failed");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            });
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
    let made = match bytes {
        Ok(bytes) => finish(state, content_type, bytes).await,
        Err(err) => Err(err),
    };
    made.map(Some).map_err(|err| {
        tracing::error!(error = %err, year, version, "open data file failed");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the file could not be made\n",
        )
            .into_response()
    })
}

/// The file with its compressed copies, made off the async threads (a results file is
/// megabytes). A workbook (a zip) gains little, but compressed here it is not compressed
/// again by the compression layer on every request, and each coding keeps its own ETag.
async fn finish(
    state: &AppState,
    content_type: &'static str,
    bytes: Vec<u8>,
) -> Result<Built, String> {
    cpu_bound(state, move || Ok(Built::new(content_type, bytes))).await
}

fn unavailable(err: sipas_app::ports::StoreError) -> Response {
    tracing::error!(error = %err, "open data: the database failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the database did not answer; try again\n",
    )
        .into_response()
}
