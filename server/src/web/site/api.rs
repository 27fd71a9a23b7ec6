//! The read-only JSON API: `/api/v1/releases`, `/api/v1/releases/{year}/{version}` and
//! `…/provinces/{code}` (`version`: a number or `latest`), described at `/api/v1/openapi.json`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sipas_app::staff::release::{ReleaseCell, ReleaseInfo};

use super::built::{Built, Kind, respond};
use super::load::{fingerprint, index, release_data, resolve};
use super::pages::{JSON, cached};
use super::{Failure, not_found};
use crate::web::AppState;

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
        Ok(respond(&headers, &built, "public, max-age=60", Kind::Open))
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
        Ok(respond(&headers, &built, api_cache(&version), Kind::Open))
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
        Ok(respond(&headers, &built, api_cache(&version), Kind::Open))
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
    respond(&headers, built, "public, max-age=3600", Kind::Open)
}
