//! The public results site and its read-only JSON API.
//!
//! Pages: `/ket-qua` (the latest release), `/ket-qua/{year}` (the latest version of a year),
//! `/ket-qua/{year}/v{n}`, province pages under `…/tinh/{code}`, and `/phuong-phap`. API:
//! `/api/v1/releases`, `/api/v1/releases/{year}/{version}` and
//! `…/provinces/{code}` (`version`: a number or `latest`), described at `/api/v1/openapi.json`.
//!
//! A published release never changes, so every page and document is built once per process
//! (per language) and served from memory with an ETag and a Brotli copy; the list of releases
//! is re-read at most every [`INDEX_TTL`], and it is part of each cache key, so a new release
//! shows in the year menus within that time. Nothing is cached for an address that does not
//! exist, so unknown addresses cannot fill the memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sipas_app::domain::Geography;
use sipas_app::results::charts::{SeriesKind, SeriesPoint};
use sipas_app::results::{ROOT, ReleaseData, Site, Sort, TreeNode, pages};
use sipas_app::staff::release::{PublishedElsewhere, ReleaseCell, ReleaseInfo};

use crate::web::AppState;

/// How long the list of releases is trusted before it is read again.
pub const INDEX_TTL: Duration = Duration::from_secs(10);

/// Pages' policy: our stylesheet and icon, no scripts at all.
const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// A built response body.
pub struct Built {
    /// The strong validators of the plain, Brotli and gzip codings (each coding is its own
    /// representation): `"…"`, `"…-br"`, `"…-gz"`.
    etags: [HeaderValue; 3],
    content_type: &'static str,
    body: Bytes,
    brotli: Bytes,
    /// For clients without Brotli (older browsers and HTTP libraries): compressed once here
    /// rather than by the compression layer on every request.
    gzip: Bytes,
}

impl Built {
    fn new(content_type: &'static str, body: Vec<u8>) -> Self {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(&body);
        let tag = sipas_app::survey::codes::hex(&digest[..12]);
        let etags = ["", "-br", "-gz"].map(|suffix| {
            HeaderValue::from_str(&format!("\"{tag}{suffix}\""))
                .unwrap_or(HeaderValue::from_static("\"\""))
        });
        let mut brotli = Vec::new();
        // Quality 9: most of 11's gain at a fraction of its time; built once per page.
        let params = brotli::enc::BrotliEncoderParams {
            quality: 9,
            ..Default::default()
        };
        let compressed = brotli::BrotliCompress(&mut body.as_slice(), &mut brotli, &params);
        let gzip = {
            use std::io::Write;
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            encoder
                .write_all(&body)
                .and_then(|()| encoder.finish())
                .unwrap_or_default()
        };
        Self {
            etags,
            content_type,
            body: Bytes::from(body),
            brotli: if compressed.is_ok() {
                Bytes::from(brotli)
            } else {
                Bytes::new()
            },
            gzip: Bytes::from(gzip),
        }
    }
}

/// An old-map release's cells on today's map, by (year, version).
type MergedCells = HashMap<(i32, i32), Arc<Vec<ReleaseCell>>>;

/// What the site keeps in memory, per store (so two databases in one process never mix).
#[derive(Default)]
pub struct SiteCache {
    index: Mutex<Option<(Instant, Arc<Vec<ReleaseInfo>>)>>,
    releases: Mutex<HashMap<(i32, i32), Arc<ReleaseData>>>,
    /// Cells of an old-map release merged into today's units.
    merged: Mutex<MergedCells>,
    elsewhere: Mutex<Option<Arc<Vec<PublishedElsewhere>>>>,
    built: Mutex<HashMap<String, Arc<Built>>>,
    /// The open-data files (`crate::web::open_data`).
    pub(crate) open_data: crate::web::open_data::Cache,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind: keep serving.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Why an address has no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    NotFound,
    Unavailable,
    Internal,
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::NotFound => {
                (StatusCode::NOT_FOUND, "no such release, province or page\n").into_response()
            }
            Failure::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "5")],
                "the database did not answer; try again\n",
            )
                .into_response(),
            Failure::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be made\n",
            )
                .into_response(),
        }
    }
}

fn unavailable(err: impl std::fmt::Display) -> Failure {
    tracing::error!(error = %err, "public site: the database failed");
    Failure::Unavailable
}

fn not_found() -> Failure {
    Failure::NotFound
}

async fn index(state: &AppState) -> Result<Arc<Vec<ReleaseInfo>>, Failure> {
    let cache = &state.site;
    if let Some((at, list)) = lock(&cache.index).as_ref()
        && at.elapsed() < INDEX_TTL
    {
        return Ok(list.clone());
    }
    let list = Arc::new(state.staff.store.releases().await.map_err(unavailable)?);
    let previous = lock(&cache.index).replace((Instant::now(), list.clone()));
    // A new release changes every page's menus: drop what was built for the old list.
    if previous.is_some_and(|(_, old)| fingerprint(&old) != fingerprint(&list)) {
        lock(&cache.built).clear();
    }
    Ok(list)
}

/// Changes whenever a release is added: part of every cache key.
fn fingerprint(index: &[ReleaseInfo]) -> String {
    let newest = index.iter().map(|r| r.published_at.as_str()).max();
    format!("{}:{}", index.len(), newest.unwrap_or(""))
}

/// Resolves `version` ("latest", "v2" or "2") of `year` against the index.
fn resolve<'a>(index: &'a [ReleaseInfo], year: i32, version: &str) -> Option<&'a ReleaseInfo> {
    let of_year = index.iter().filter(|r| r.year == year);
    if version == "latest" {
        return of_year.max_by_key(|r| r.version);
    }
    let wanted: i32 = version.strip_prefix('v').unwrap_or(version).parse().ok()?;
    index.iter().find(|r| r.year == year && r.version == wanted)
}

fn latest(index: &[ReleaseInfo]) -> Option<&ReleaseInfo> {
    index.iter().max_by_key(|r| (r.year, r.version))
}

/// Whether `year` v`version` was published (the cached index, asked again before saying no).
pub(crate) async fn is_published(
    state: &AppState,
    year: i32,
    version: i32,
) -> Result<bool, Failure> {
    let listed =
        |index: &[ReleaseInfo]| index.iter().any(|r| r.year == year && r.version == version);
    if listed(&index(state).await?) {
        return Ok(true);
    }
    let fresh = state.staff.store.releases().await.map_err(unavailable)?;
    Ok(listed(&fresh))
}

/// The pages' data of `year` v`version`, or `None` when it was not published (the index is
/// asked again before saying so: it may predate a release published a moment ago).
pub(crate) async fn published_data(
    state: &AppState,
    year: i32,
    version: i32,
) -> Result<Option<Arc<ReleaseData>>, Failure> {
    if let Some(found) = lock(&state.site.releases).get(&(year, version)) {
        return Ok(Some(found.clone()));
    }
    let listed = |index: &[ReleaseInfo]| {
        index
            .iter()
            .find(|r| r.year == year && r.version == version)
            .cloned()
    };
    let info = match listed(&index(state).await?) {
        Some(info) => info,
        None => {
            let fresh = state.staff.store.releases().await.map_err(unavailable)?;
            match listed(&fresh) {
                Some(info) => info,
                None => return Ok(None),
            }
        }
    };
    release_data(state, &info).await.map(Some)
}

pub(crate) async fn release_data(
    state: &AppState,
    info: &ReleaseInfo,
) -> Result<Arc<ReleaseData>, Failure> {
    let key = (info.year, info.version);
    if let Some(found) = lock(&state.site.releases).get(&key) {
        return Ok(found.clone());
    }
    let (info, cells) = state
        .staff
        .store
        .release(info.year, Some(info.version))
        .await
        .map_err(unavailable)?
        .ok_or_else(not_found)?;
    let names: BTreeMap<String, String> = state
        .store
        .provinces(info.geography)
        .await
        .map_err(unavailable)?
        .into_iter()
        .map(|p| (p.code, p.name_vi))
        .collect();
    let items = match state
        .store
        .questionnaire(
            &info.questionnaire_code,
            u32::try_from(info.questionnaire_version).unwrap_or(0),
        )
        .await
    {
        Ok(q) => q
            .sections
            .into_iter()
            .flat_map(|s| s.items)
            .map(|i| (i.code, (i.vi, i.en)))
            .collect(),
        // Labels only: without them the page shows item codes.
        Err(err) => {
            tracing::warn!(error = %err, "public site: no questionnaire wording");
            BTreeMap::new()
        }
    };
    let methodology = sipas_stats::methodology::Methodology::from_toml(&info.methodology);
    // The figure tiers and "against the nation" differences are measured from.
    let reference = match methodology.as_ref().map(|m| m.national_rule) {
        Ok(sipas_stats::methodology::NationalRule::Pooled) => "national",
        _ => "national_mean",
    };
    let tree = methodology
        .map(|m| {
            m.nodes
                .into_iter()
                .map(|n| TreeNode {
                    code: n.code,
                    label_vi: n.label_vi,
                    label_en: n.label_en,
                    children: n.children,
                })
                .collect()
        })
        .unwrap_or_default();
    let missing_provinces = names
        .iter()
        .filter(|(code, _)| !cells.iter().any(|c| &c.domain == *code))
        .map(|(code, name)| format!("{code} {name}"))
        .collect();
    // The SHA-256 of the files `sipas verify` reads, as /du-lieu serves them.
    let checksums = crate::web::open_data::checksums(state, info.year, info.version)
        .await
        .map_err(|response| {
            tracing::error!(status = %response.status(), "public site: checksums failed");
            Failure::Internal
        })?;
    let data = Arc::new(ReleaseData {
        info,
        cells,
        tree,
        names,
        items,
        reference,
        checksums,
        missing_provinces,
    });
    lock(&state.site.releases).insert(key, data.clone());
    Ok(data)
}

/// An old-map release's cells on today's 34 units (from its full totals; built once).
async fn merged_cells(
    state: &AppState,
    info: &ReleaseInfo,
) -> Result<Option<Arc<Vec<ReleaseCell>>>, Failure> {
    let key = (info.year, info.version);
    if let Some(found) = lock(&state.site.merged).get(&key) {
        return Ok(Some(found.clone()));
    }
    let Some(totals) = state
        .staff
        .store
        .release_totals(info.year, info.version)
        .await
        .map_err(unavailable)?
        .filter(|t| !t.is_empty())
    else {
        return Ok(None);
    };
    let methodology = info.methodology.clone();
    let cells = tokio::task::spawn_blocking(move || {
        crate::jobs::results::reaggregated_cells(&methodology, &totals).map(|(cells, _)| cells)
    })
    .await
    .map_err(unavailable)?;
    match cells {
        Ok(cells) => {
            let cells = Arc::new(cells);
            lock(&state.site.merged).insert(key, cells.clone());
            Ok(Some(cells))
        }
        Err(err) => {
            tracing::warn!(error = %err, year = info.year, "public site: no re-aggregated series");
            Ok(None)
        }
    }
}

async fn elsewhere(state: &AppState) -> Result<Arc<Vec<PublishedElsewhere>>, Failure> {
    if let Some(found) = lock(&state.site.elsewhere).as_ref() {
        return Ok(found.clone());
    }
    let list = Arc::new(
        state
            .staff
            .store
            .published_elsewhere()
            .await
            .map_err(unavailable)?,
    );
    *lock(&state.site.elsewhere) = Some(list.clone());
    Ok(list)
}

/// A province's index over the years up to `data`'s year: computed releases on its map,
/// old-map releases merged into a 2025 unit, and figures published elsewhere (for a 2025
/// unit: those of the old provinces now inside it).
async fn series(
    state: &AppState,
    index: &[ReleaseInfo],
    data: &ReleaseData,
    code: &str,
) -> Result<Vec<SeriesPoint>, Failure> {
    let geography = data.info.geography;
    let mut points = Vec::new();
    let mut years: Vec<&ReleaseInfo> = index
        .iter()
        .filter(|r| r.year <= data.info.year)
        .filter(|r| {
            !index
                .iter()
                .any(|o| o.year == r.year && o.version > r.version)
        })
        .collect();
    if let Some(own) = years.iter_mut().find(|r| r.year == data.info.year) {
        *own = &data.info;
    }
    for release in years {
        let (cell, kind) = if release.geography == geography {
            let other = release_data(state, release).await?;
            (
                other.cell(code, ROOT).cloned(),
                SeriesKind::Computed {
                    version: release.version,
                },
            )
        } else if release.geography == Geography::G2004 && geography == Geography::G2025 {
            let merged = merged_cells(state, release).await?;
            (
                merged.and_then(|cells| {
                    cells
                        .iter()
                        .find(|c| c.domain == code && c.node == ROOT && c.subgroup.is_empty())
                        .cloned()
                }),
                SeriesKind::Reaggregated {
                    version: release.version,
                },
            )
        } else {
            (None, SeriesKind::Computed { version: 0 })
        };
        if let Some(c) = cell
            && let Some(estimate) = c.estimate
        {
            points.push(SeriesPoint {
                year: release.year,
                estimate,
                interval: c.ci_low.zip(c.ci_high),
                kind,
            });
        }
    }
    let crosswalk = crate::services::compute::crosswalk_2004_2025();
    for e in elsewhere(state).await?.iter() {
        let Some(old) = e.province_code.as_deref() else {
            continue;
        };
        let here = match (e.geography, geography) {
            (a, b) if a == b => old == code,
            (Geography::G2004, Geography::G2025) => {
                crosswalk.get(old).is_some_and(|new| new == code)
            }
            _ => false,
        };
        if here && e.year <= data.info.year {
            points.push(SeriesPoint {
                year: e.year,
                estimate: e.sipas_percent / 100.0,
                interval: None,
                kind: SeriesKind::Elsewhere {
                    label: e.province_name.clone(),
                    source: e.source.clone(),
                },
            });
        }
    }
    points.sort_by_key(|p| p.year);
    Ok(points)
}

fn site(state: &AppState, headers: &HeaderMap, path: &str) -> Site {
    Site {
        locale: crate::web::locale(headers),
        path: path.to_owned(),
        origin: state.public_origin.clone(),
    }
}

/// Answers with a built body: 304 for a matching ETag, the Brotli copy when accepted.
/// Whether `Accept-Encoding` lists `coding` without refusing it (`;q=0`).
fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',').any(|entry| {
                let mut parts = entry.split(';').map(str::trim);
                parts
                    .next()
                    .is_some_and(|name| name.eq_ignore_ascii_case(coding))
                    && !parts.any(|p| {
                        p.strip_prefix("q=")
                            .and_then(|q| q.parse::<f32>().ok())
                            .is_some_and(|q| q == 0.0)
                    })
            })
        })
}

fn respond(headers: &HeaderMap, built: &Built, cache_control: &'static str, api: bool) -> Response {
    // Each coding of a page is its own representation with its own strong ETag; a client
    // holding any of them has the page.
    let (coding, etag) = if !built.brotli.is_empty() && accepts(headers, "br") {
        (Some(("br", &built.brotli)), &built.etags[1])
    } else if !built.gzip.is_empty() && accepts(headers, "gzip") {
        (Some(("gzip", &built.gzip)), &built.etags[2])
    } else {
        (None, &built.etags[0])
    };
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',').any(|t| {
                built
                    .etags
                    .iter()
                    .any(|k| k.as_bytes() == t.trim().as_bytes())
            })
        }) {
        StatusCode::NOT_MODIFIED.into_response()
    } else if let Some((name, bytes)) = coding {
        let mut r = bytes.clone().into_response();
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static(name));
        r
    } else {
        built.body.clone().into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(built.content_type),
    );
    h.insert(header::ETAG, etag.clone());
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    if api {
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    } else {
        // The language comes from a cookie.
        h.insert(
            header::VARY,
            HeaderValue::from_static("accept-encoding, cookie"),
        );
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_CSP),
        );
    }
    response
}

/// The cached body under `key`, or builds it (`None`: no such page, nothing cached).
async fn cached<F, Fut>(state: &AppState, key: String, build: F) -> Result<Arc<Built>, Failure>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Option<Built>, Failure>>,
{
    if let Some(found) = lock(&state.site.built).get(&key) {
        return Ok(found.clone());
    }
    let built = Arc::new(build().await?.ok_or_else(not_found)?);
    lock(&state.site.built).insert(key, built.clone());
    Ok(built)
}

const HTML: &str = "text/html; charset=utf-8";
const JSON: &str = "application/json";
/// Pages: the year menu changes when a year is published.
const PAGE_CACHE: &str = "public, max-age=60";

#[derive(Deserialize)]
pub struct OverviewQuery {
    #[serde(rename = "sap-xep")]
    sort: Option<String>,
}

/// What an overview or province address names.
enum Target {
    Latest,
    Year(i32),
    Version(i32, String),
}

async fn overview_page(
    state: &AppState,
    headers: &HeaderMap,
    target: Target,
    sort: Sort,
    path: String,
) -> Result<Response, Failure> {
    let index = index(state).await?;
    let site = site(state, headers, &path);
    let info = match &target {
        Target::Latest => latest(&index),
        Target::Year(year) => resolve(&index, *year, "latest"),
        Target::Version(year, v) => resolve(&index, *year, v),
    };
    let Some(info) = info.cloned() else {
        if matches!(target, Target::Latest) {
            let built = Built::new(HTML, pages::nothing_published(&site).into_bytes());
            return Ok(respond(headers, &built, "no-cache", false));
        }
        return Err(not_found());
    };
    let key = format!(
        "overview|{}|{}|{:?}|{}|{path}",
        info.year,
        info.version,
        sort,
        site.locale.code(),
    ) + "|"
        + &fingerprint(&index);
    let built = cached(state, key, || async {
        let data = release_data(state, &info).await?;
        let html = pages::overview(&site, &data, &index, sort);
        Ok(Some(Built::new(HTML, html.into_bytes())))
    })
    .await?;
    Ok(respond(headers, &built, PAGE_CACHE, false))
}

async fn province_page(
    state: &AppState,
    headers: &HeaderMap,
    year: i32,
    version: &str,
    code: &str,
    path: String,
) -> Result<Response, Failure> {
    let index = index(state).await?;
    let Some(info) = resolve(&index, year, version).cloned() else {
        return Err(not_found());
    };
    let site = site(state, headers, &path);
    let key = format!(
        "province|{year}|{}|{code}|{}|{path}|{}",
        info.version,
        site.locale.code(),
        fingerprint(&index)
    );
    let built = cached(state, key, || async {
        let data = release_data(state, &info).await?;
        if data.cell(code, ROOT).is_none() || !data.names.contains_key(code) {
            return Ok(None);
        }
        let points = series(state, &index, &data, code).await?;
        Ok(pages::province(&site, &data, &index, code, &points)
            .map(|html| Built::new(HTML, html.into_bytes())))
    })
    .await?;
    Ok(respond(headers, &built, PAGE_CACHE, false))
}

fn either(result: Result<Response, Failure>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /` and `GET /ket-qua`: the latest release (the site's front page; citizens answer
/// the survey from `/khao-sat`, linked from every page's header).
pub async fn latest_overview(
    State(state): State<AppState>,
    Query(q): Query<OverviewQuery>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let sort = Sort::parse(q.sort.as_deref());
    either(
        overview_page(
            &state,
            &headers,
            Target::Latest,
            sort,
            path(uri.path(), sort),
        )
        .await,
    )
}

fn path(base: &str, sort: Sort) -> String {
    match sort {
        Sort::Index => base.to_owned(),
        Sort::Name => format!("{base}?sap-xep=ten"),
    }
}

/// `GET /ket-qua/{year}`: the latest version of a year.
pub async fn year_overview(
    State(state): State<AppState>,
    Path(year): Path<i32>,
    Query(q): Query<OverviewQuery>,
    headers: HeaderMap,
) -> Response {
    let sort = Sort::parse(q.sort.as_deref());
    let p = path(&format!("/ket-qua/{year}"), sort);
    either(overview_page(&state, &headers, Target::Year(year), sort, p).await)
}

/// `GET /ket-qua/{year}/v{n}`: one version.
pub async fn version_overview(
    State(state): State<AppState>,
    Path((year, version)): Path<(i32, String)>,
    Query(q): Query<OverviewQuery>,
    headers: HeaderMap,
) -> Response {
    if !version.starts_with('v') {
        return Failure::NotFound.into_response();
    }
    let sort = Sort::parse(q.sort.as_deref());
    let p = path(&format!("/ket-qua/{year}/{version}"), sort);
    either(overview_page(&state, &headers, Target::Version(year, version), sort, p).await)
}

/// `GET /ket-qua/{year}/tinh/{code}`.
pub async fn year_province(
    State(state): State<AppState>,
    Path((year, code)): Path<(i32, String)>,
    headers: HeaderMap,
) -> Response {
    let p = format!("/ket-qua/{year}/tinh/{code}");
    either(province_page(&state, &headers, year, "latest", &code, p).await)
}

/// `GET /ket-qua/{year}/v{n}/tinh/{code}`.
pub async fn version_province(
    State(state): State<AppState>,
    Path((year, version, code)): Path<(i32, String, String)>,
    headers: HeaderMap,
) -> Response {
    if !version.starts_with('v') {
        return Failure::NotFound.into_response();
    }
    let p = format!("/ket-qua/{year}/{version}/tinh/{code}");
    either(province_page(&state, &headers, year, &version, &code, p).await)
}

/// `GET /phuong-phap`.
pub async fn methodology(State(state): State<AppState>, headers: HeaderMap) -> Response {
    either(
        async {
            let index = index(&state).await?;
            let site = site(&state, &headers, "/phuong-phap");
            let key = format!("methodology|{}|{}", site.locale.code(), fingerprint(&index));
            let built = cached(&state, key, || async {
                Ok(Some(Built::new(
                    HTML,
                    pages::methodology(&site, &index).into_bytes(),
                )))
            })
            .await?;
            Ok(respond(&headers, &built, PAGE_CACHE, false))
        }
        .await,
    )
}

/// `GET /phuong-phap/{file}`: the full methodology and the R script that checks the statistics
/// against R's survey package, as text (built into the binary).
pub async fn methodology_file(Path(file): Path<String>, headers: HeaderMap) -> Response {
    static DOCS: std::sync::OnceLock<[Built; 2]> = std::sync::OnceLock::new();
    let [docs, r] = DOCS.get_or_init(|| {
        [
            Built::new(
                "text/markdown; charset=utf-8",
                include_bytes!("../../../docs/methodology.md").to_vec(),
            ),
            Built::new(
                "text/plain; charset=utf-8",
                include_bytes!("../../../stats/golden/generate.R").to_vec(),
            ),
        ]
    });
    match file.as_str() {
        "methodology.md" => respond(&headers, docs, "public, max-age=3600", true),
        "golden-r-survey.R" => respond(&headers, r, "public, max-age=3600", true),
        _ => Failure::NotFound.into_response(),
    }
}

// ---- The JSON API ----

/// One release in the list.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReleaseSummary {
    pub year: i32,
    pub version: i32,
    pub title: String,
    /// `2004` (63 provinces) or `2025` (34 units).
    pub geography: String,
    pub published_at: String,
    /// What a correction changed (empty for version 1).
    pub changelog: String,
    /// This is the latest version of its year.
    pub latest_of_year: bool,
    /// SHA-256 of the full sufficient statistics.
    pub input_digest: String,
    pub links: ReleaseLinks,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReleaseLinks {
    pub page: String,
    pub api: String,
    pub open_data: String,
}

/// `GET /api/v1/releases`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReleaseList {
    pub releases: Vec<ReleaseSummary>,
}

/// A published number, as in results.csv.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiCell {
    /// Province code, `national` (design-based) or `national_mean` (mean of provinces).
    pub domain: String,
    /// `column=value`, empty for the whole domain.
    pub subgroup: String,
    /// Index, content, element or item code.
    pub node: String,
    pub n: Option<f64>,
    pub df: Option<f64>,
    /// Share satisfied, 0–1.
    pub estimate: Option<f64>,
    pub se: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub deff: Option<f64>,
    pub n_eff: Option<f64>,
    pub cv: Option<f64>,
    /// `ok`, `low_precision`, `suppressed` or `no_data`.
    pub flag: String,
    pub note: String,
    pub rank: Option<i64>,
    /// The rank interval that holds jointly for the whole table (Bonferroni over all pairs,
    /// at the methodology's level): the only one published.
    pub rank_best: Option<i64>,
    pub rank_worst: Option<i64>,
    pub ranked_of: Option<i64>,
    /// `above`, `not_distinguishable` or `below` the national figure of the methodology's
    /// rule (see `reference` of the release), significant at 5% after Holm's adjustment over
    /// the provinces tested.
    pub tier: Option<String>,
    pub vs_national_difference: Option<f64>,
    pub vs_national_se: Option<f64>,
    pub vs_national_p: Option<f64>,
    /// `vs_national_p` adjusted by Holm's method over the provinces tested.
    pub vs_national_p_holm: Option<f64>,
    /// Change since the release in `compared_with`.
    pub change: Option<f64>,
    pub change_se: Option<f64>,
    pub change_df: Option<f64>,
    pub change_p: Option<f64>,
    /// `change_p` adjusted by Holm's method over the provinces' changes.
    pub change_p_holm: Option<f64>,
}

impl From<&ReleaseCell> for ApiCell {
    fn from(c: &ReleaseCell) -> Self {
        Self {
            domain: c.domain.clone(),
            subgroup: c.subgroup.clone(),
            node: c.node.clone(),
            n: c.n,
            df: c.df,
            estimate: c.estimate,
            se: c.se,
            ci_low: c.ci_low,
            ci_high: c.ci_high,
            deff: c.deff,
            n_eff: c.n_eff,
            cv: c.cv,
            flag: c.flag.clone(),
            note: c.note.clone(),
            rank: c.rank,
            rank_best: c.rank_best,
            rank_worst: c.rank_worst,
            ranked_of: c.ranked_of,
            tier: c.tier.clone(),
            vs_national_difference: c.vs_national_difference,
            vs_national_se: c.vs_national_se,
            vs_national_p: c.vs_national_p,
            vs_national_p_holm: c.vs_national_p_holm,
            change: c.change,
            change_se: c.change_se,
            change_df: c.change_df,
            change_p: c.change_p,
            change_p_holm: c.change_p_holm,
        }
    }
}

/// `GET /api/v1/releases/{year}/{version}`: the national cells and every province's index.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReleaseDocument {
    pub release: ReleaseSummary,
    /// The release the change columns compare with, `null` for none.
    pub compared_with: Option<String>,
    /// Every node of `national` and `national_mean`, no subgroups.
    pub national: Vec<ApiCell>,
    /// The index (`sipas`) of every province.
    pub provinces: Vec<ProvinceIndex>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProvinceIndex {
    pub code: String,
    pub name: String,
    pub index: ApiCell,
}

/// `GET /api/v1/releases/{year}/{version}/provinces/{code}`: every cell of one province.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProvinceDocument {
    pub release: ReleaseSummary,
    pub code: String,
    pub name: String,
    /// Every node and item of the province (releases publish no rows by subgroup).
    pub cells: Vec<ApiCell>,
}

fn summary(info: &ReleaseInfo, index: &[ReleaseInfo]) -> ReleaseSummary {
    let latest_of_year = !index
        .iter()
        .any(|r| r.year == info.year && r.version > info.version);
    ReleaseSummary {
        year: info.year,
        version: info.version,
        title: info.title.clone(),
        geography: info.geography.key().to_owned(),
        published_at: info.published_at.clone(),
        changelog: info.changelog.clone(),
        latest_of_year,
        input_digest: info.input_digest.clone(),
        links: ReleaseLinks {
            page: format!("/ket-qua/{}/v{}", info.year, info.version),
            api: format!("/api/v1/releases/{}/{}", info.year, info.version),
            open_data: format!("/du-lieu/{}/v{}/", info.year, info.version),
        },
    }
}

fn json_body<T: Serialize>(value: &T) -> Result<Built, Failure> {
    serde_json::to_vec(value)
        .map(|bytes| Built::new(JSON, bytes))
        .map_err(|e| {
            tracing::error!(error = %e, "api: serialising failed");
            Failure::Internal
        })
}

fn api_error(failure: Failure) -> Response {
    let mut response = failure.into_response();
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// A fixed version never changes; `latest` does when a correction is published.
fn api_cache(version: &str) -> &'static str {
    if version == "latest" {
        "public, max-age=60"
    } else {
        "public, max-age=31536000, immutable"
    }
}

/// Every release, newest year first.
#[utoipa::path(get, path = "/api/v1/releases", responses((status = 200, body = ReleaseList)))]
pub async fn api_releases(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let result = async {
        let index = index(&state).await?;
        let key = format!("api|releases|{}", fingerprint(&index));
        let built = cached(&state, key, || async {
            json_body(&ReleaseList {
                releases: index.iter().map(|r| summary(r, &index)).collect(),
            })
            .map(Some)
        })
        .await?;
        Ok(respond(&headers, &built, "public, max-age=60", true))
    }
    .await;
    result.unwrap_or_else(api_error)
}

/// One release: national cells and every province's index.
#[utoipa::path(
    get,
    path = "/api/v1/releases/{year}/{version}",
    params(("year" = i32, Path), ("version" = String, Path, description = "a version number or `latest`")),
    responses((status = 200, body = ReleaseDocument), (status = 404, description = "no such release"))
)]
pub async fn api_release(
    State(state): State<AppState>,
    Path((year, version)): Path<(i32, String)>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let index = index(&state).await?;
        let info = resolve(&index, year, &version)
            .cloned()
            .ok_or_else(not_found)?;
        let key = format!(
            "api|release|{year}|{}|{}",
            info.version,
            fingerprint(&index)
        );
        let built = cached(&state, key, || async {
            let data = release_data(&state, &info).await?;
            let national = data
                .cells
                .iter()
                .filter(|c| {
                    c.subgroup.is_empty() && (c.domain == "national" || c.domain == "national_mean")
                })
                .map(ApiCell::from)
                .collect();
            let provinces = data
                .provinces()
                .into_iter()
                .map(|c| ProvinceIndex {
                    code: c.domain.clone(),
                    name: data.name(&c.domain).to_owned(),
                    index: ApiCell::from(c),
                })
                .collect();
            json_body(&ReleaseDocument {
                release: summary(&data.info, &index),
                compared_with: data
                    .info
                    .compared_with
                    .map(|c| format!("{}/{}", c.year, c.version)),
                national,
                provinces,
            })
            .map(Some)
        })
        .await?;
        Ok(respond(&headers, &built, api_cache(&version), true))
    }
    .await;
    result.unwrap_or_else(api_error)
}

/// Every cell of one province in one release.
#[utoipa::path(
    get,
    path = "/api/v1/releases/{year}/{version}/provinces/{code}",
    params(("year" = i32, Path), ("version" = String, Path, description = "a version number or `latest`"), ("code" = String, Path, description = "province code on the release's map")),
    responses((status = 200, body = ProvinceDocument), (status = 404, description = "no such release or province"))
)]
pub async fn api_province(
    State(state): State<AppState>,
    Path((year, version, code)): Path<(i32, String, String)>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let index = index(&state).await?;
        let info = resolve(&index, year, &version)
            .cloned()
            .ok_or_else(not_found)?;
        let key = format!(
            "api|province|{year}|{}|{code}|{}",
            info.version,
            fingerprint(&index)
        );
        let built = cached(&state, key, || async {
            let data = release_data(&state, &info).await?;
            let Some(name) = data.names.get(&code).cloned() else {
                return Ok(None);
            };
            let cells: Vec<ApiCell> = data
                .cells
                .iter()
                .filter(|c| c.domain == code)
                .map(ApiCell::from)
                .collect();
            if cells.is_empty() {
                return Ok(None);
            }
            json_body(&ProvinceDocument {
                release: summary(&data.info, &index),
                code: code.clone(),
                name,
                cells,
            })
            .map(Some)
        })
        .await?;
        Ok(respond(&headers, &built, api_cache(&version), true))
    }
    .await;
    result.unwrap_or_else(api_error)
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "SIPAS open data API",
        description = "Read-only access to every published SIPAS release: the national figures, every province's index with its interval, rank interval and tier, and every cell of a province. The same numbers as the release's results.csv.",
    ),
    paths(api_releases, api_release, api_province),
    components(schemas(
        ReleaseList,
        ReleaseSummary,
        ReleaseLinks,
        ReleaseDocument,
        ProvinceIndex,
        ProvinceDocument,
        ApiCell
    ))
)]
struct ApiDoc;

/// The OpenAPI document, generated from the handlers and types above.
pub fn openapi_json() -> String {
    use utoipa::OpenApi;
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".into())
}

/// `GET /api/v1/openapi.json`.
pub async fn api_openapi(headers: HeaderMap) -> Response {
    static DOC: std::sync::OnceLock<Built> = std::sync::OnceLock::new();
    let built = DOC.get_or_init(|| Built::new(JSON, openapi_json().into_bytes()));
    respond(&headers, built, "public, max-age=3600", true)
}
