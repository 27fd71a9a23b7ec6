//! The public pages: `/ket-qua` (the latest release), `/ket-qua/{year}`,
//! `/ket-qua/{year}/v{n}`, province pages under `…/tinh/{code}`, and `/phuong-phap`.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sipas_app::results::{ROOT, Site, Sort, pages};
use std::sync::Arc;

use super::built::{Built, Kind, respond};
use super::load::{fingerprint, index, latest, release_data, resolve, series};
use super::{Failure, lock, not_found};
use crate::web::AppState;

fn site(state: &AppState, headers: &HeaderMap, path: &str) -> Site {
    Site {
        locale: crate::web::locale(headers),
        path: path.to_owned(),
        origin: state.public_origin.clone(),
    }
}

/// The cached body under `key`, or builds it (`None`: no such page, nothing cached).
pub(crate) async fn cached<F, Fut>(
    state: &AppState,
    key: String,
    build: F,
) -> Result<Arc<Built>, Failure>
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
pub(crate) const JSON: &str = "application/json";
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
            return Ok(respond(headers, &built, "no-cache", Kind::Page));
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
    Ok(respond(headers, &built, PAGE_CACHE, Kind::Page))
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
    Ok(respond(headers, &built, PAGE_CACHE, Kind::Page))
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
            Ok(respond(&headers, &built, PAGE_CACHE, Kind::Page))
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
                include_bytes!("../../../../docs/methodology.md").to_vec(),
            ),
            Built::new(
                "text/plain; charset=utf-8",
                include_bytes!("../../../../stats/golden/generate.R").to_vec(),
            ),
        ]
    });
    match file.as_str() {
        "methodology.md" => respond(&headers, docs, "public, max-age=3600", Kind::Open),
        "golden-r-survey.R" => respond(&headers, r, "public, max-age=3600", Kind::Open),
        _ => Failure::NotFound.into_response(),
    }
}
