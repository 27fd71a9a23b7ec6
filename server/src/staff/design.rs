//! The sample design of a wave (central staff and statisticians): the allocation options and
//! what each gives, recomputed from the address (a GET form, nothing stored).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use sipas_app::results::ROOT;
use sipas_app::staff::design::{self, Options, ProvinceInput};
use sipas_app::staff::pages;

use super::error::StaffResult;
use super::guard::{InWave, can};
use super::html;
use crate::web::AppState;

pub async fn page(
    State(state): State<AppState>,
    wave: InWave<can::DesignSample>,
    options: Result<Query<Options>, QueryRejection>,
) -> StaffResult {
    let ctx = &wave.ctx;
    let geography = wave.wave.wave.geography;
    // A value the form cannot hold (a word where a number goes) shows the defaults and says so.
    let (options, refused) = match options {
        Ok(Query(options)) => (options, None),
        Err(_) => (
            Options::default(),
            Some(ctx.t(
                "Một ô của biểu mẫu không phải số hợp lệ: bảng dưới dùng giá trị mặc định.",
                "A field of the form is not a valid number: the table below uses the defaults.",
            )),
        ),
    };
    // Adults per province from the wave's frame, when it has one.
    let frame = state.staff.store.frame(wave.code(), None).await?;
    let population = |code: &str| {
        let strata: Vec<_> = frame
            .strata
            .iter()
            .filter(|s| s.province_code == code)
            .collect();
        (!strata.is_empty()).then(|| strata.iter().map(|s| s.population as f64).sum())
    };
    // Each province's design effect of the SIPAS index in the latest release on this map.
    let latest = state
        .staff
        .store
        .releases()
        .await?
        .into_iter()
        .filter(|r| r.geography == geography)
        .max_by_key(|r| (r.year, r.version));
    let (release, cells) = match latest {
        Some(info) => {
            let cells = state
                .staff
                .store
                .release(info.year, Some(info.version))
                .await?
                .map(|(_, cells)| cells)
                .unwrap_or_default();
            (
                Some(format!("SIPAS {} v{}", info.year, info.version)),
                cells,
            )
        }
        None => (None, Vec::new()),
    };
    let deff = |code: &str| {
        cells
            .iter()
            .find(|c| c.domain == code && c.node == ROOT && c.subgroup.is_empty())
            .and_then(|c| c.deff)
            .filter(|d| d.is_finite() && *d > 0.0)
    };
    let provinces: Vec<ProvinceInput> = state
        .store
        .provinces(geography)
        .await?
        .into_iter()
        .map(|p| ProvinceInput {
            population: population(&p.code),
            deff: deff(&p.code),
            code: p.code,
            name: p.name_vi,
        })
        .collect();
    let outcome = design::allocate(&provinces, &options)
        .map_err(|message| message.pick(ctx.locale).to_owned());
    let outcome = match (refused, outcome) {
        (Some(message), Ok(_)) => Err(message.to_owned()),
        (_, outcome) => outcome,
    };
    let status = if outcome.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok(html(
        status,
        pages::design_page(ctx, &wave.wave, &options, outcome, release),
    ))
}
