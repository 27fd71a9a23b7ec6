//! The releases behind the pages, API and files, read from the store once and kept in the
//! [`SiteCache`](super::SiteCache): the list of releases (trusted for [`INDEX_TTL`]), each
//! release's data, old-map releases on today's map, figures published elsewhere, and a
//! province's series over the years.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use sipas_app::domain::Geography;
use sipas_app::results::charts::{SeriesKind, SeriesPoint};
use sipas_app::results::{ROOT, ReleaseData};
use sipas_app::staff::release::{PublishedElsewhere, ReleaseCell, ReleaseInfo};

use super::{Failure, INDEX_TTL, lock, not_found, unavailable};
use crate::web::AppState;

pub(crate) async fn index(state: &AppState) -> Result<Arc<Vec<ReleaseInfo>>, Failure> {
    index_within(state, INDEX_TTL).await
}

/// The index read again unless it was read within the last second: asked before answering
/// "not published" (a release may have been published a moment ago), so a stream of requests
/// for versions that do not exist costs at most one database read a second.
pub(crate) async fn recent_index(state: &AppState) -> Result<Arc<Vec<ReleaseInfo>>, Failure> {
    index_within(state, std::time::Duration::from_secs(1)).await
}

async fn index_within(
    state: &AppState,
    ttl: std::time::Duration,
) -> Result<Arc<Vec<ReleaseInfo>>, Failure> {
    let cache = &state.site;
    if let Some((at, list)) = lock(&cache.index).as_ref()
        && at.elapsed() < ttl
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
pub(crate) fn fingerprint(index: &[ReleaseInfo]) -> String {
    let newest = index.iter().map(|r| r.published_at.as_str()).max();
    format!("{}:{}", index.len(), newest.unwrap_or(""))
}

/// Resolves `version` ("latest", "v2" or "2") of `year` against the index.
pub(crate) fn resolve<'a>(
    index: &'a [ReleaseInfo],
    year: i32,
    version: &str,
) -> Option<&'a ReleaseInfo> {
    let of_year = index.iter().filter(|r| r.year == year);
    if version == "latest" {
        return of_year.max_by_key(|r| r.version);
    }
    // One spelling per version (`v2` or `2`; not `v02`, `+2`): each spelling would otherwise be
    // a page of its own in the cache.
    let digits = version.strip_prefix('v').unwrap_or(version);
    let wanted = crate::services::open_data::version_number(&format!("v{digits}"))?;
    index.iter().find(|r| r.year == year && r.version == wanted)
}

pub(crate) fn latest(index: &[ReleaseInfo]) -> Option<&ReleaseInfo> {
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
    Ok(listed(&recent_index(state).await?))
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
        None => match listed(&recent_index(state).await?) {
            Some(info) => info,
            None => return Ok(None),
        },
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
    let wording = crate::services::questionnaires::wording(
        state.store.as_ref(),
        &info.questionnaire_code,
        info.questionnaire_version,
        &info.methodology,
    )
    .await;
    // The figure tiers and "against the nation" differences are measured from.
    let reference = match sipas_stats::methodology::Methodology::from_toml(&info.methodology)
        .map(|m| m.national_rule)
    {
        Ok(sipas_stats::methodology::NationalRule::Pooled) => "national",
        _ => "national_mean",
    };
    let missing_provinces = names
        .iter()
        .filter(|(code, _)| !cells.iter().any(|c| &c.domain == *code))
        .map(|(code, name)| format!("{code} {name}"))
        .collect();
    // The SHA-256 of the files `sipas verify` reads, as /du-lieu serves them.
    let checksums = super::open_data::checksums(state, info.year, info.version)
        .await
        .map_err(|response| {
            tracing::error!(status = %response.status(), "public site: checksums failed");
            Failure::Internal
        })?;
    let data = Arc::new(ReleaseData {
        info,
        cells,
        wording,
        names,
        reference,
        checksums,
        missing_provinces,
    });
    lock(&state.site.releases).insert(key, data.clone());
    Ok(data)
}

/// An old-map release's cells on today's 34 units (from its full totals; built once).
pub(crate) async fn merged_cells(
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

pub(crate) async fn elsewhere(state: &AppState) -> Result<Arc<Vec<PublishedElsewhere>>, Failure> {
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
pub(crate) async fn series(
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
