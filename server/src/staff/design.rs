//! The sample design of a wave (central staff and statisticians): the allocation options and
//! what each gives, recomputed from the address (a GET form, nothing stored), and the draw that
//! makes the wave's frame from the official communes and their sizes.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Multipart, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use sipas_app::domain::Geography;
use sipas_app::i18n::Text;
use sipas_app::ports::StoreError;
use sipas_app::results::ROOT;
use sipas_app::staff::design::{self, Options, ProvinceInput};
use sipas_app::staff::pages;
use sipas_app::staff::port::AuditAction;

use super::error::{StaffError, StaffResult};
use super::guard::{InWave, can};
use super::html;
use crate::web::AppState;

/// The provinces as the design sees them (adults from `sizes` when given, else from the wave's
/// frame; each one's deff from the latest release on the same map), and that release's name.
async fn inputs(
    state: &AppState,
    wave: &InWave<can::DesignSample>,
    communes: &[sipas_app::domain::Commune],
    sizes: Option<&HashMap<String, f64>>,
) -> StaffResult<(Vec<ProvinceInput>, Option<String>)> {
    let geography = wave.wave.wave.geography;
    let frame = state.staff.store.frame(wave.code(), None).await?;
    let population = |code: &str| -> Option<f64> {
        if let Some(sizes) = sizes {
            return Some(
                communes
                    .iter()
                    .filter(|c| c.province_code == code)
                    .filter_map(|c| sizes.get(&c.code))
                    .sum(),
            );
        }
        let strata: Vec<_> = frame
            .strata
            .iter()
            .filter(|s| s.province_code == code)
            .collect();
        (!strata.is_empty()).then(|| strata.iter().map(|s| s.population as f64).sum())
    };
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
    // The strata the draw will make (from the official list; 2 where the map has none).
    let strata = |code: &str| -> u64 {
        let units: Vec<&sipas_app::domain::Commune> = communes
            .iter()
            .filter(|c| c.province_code == code)
            .collect();
        if units.is_empty() {
            2
        } else {
            design::province_strata(code, &units).len() as u64
        }
    };
    let provinces = state
        .store
        .provinces(geography)
        .await?
        .into_iter()
        .map(|p| ProvinceInput {
            // A province whose communes all have size 0 has no known adults.
            population: population(&p.code).filter(|n| *n > 0.0),
            deff: deff(&p.code),
            strata: strata(&p.code),
            code: p.code,
            name: p.name_vi,
        })
        .collect();
    Ok((provinces, release))
}

/// A seed to offer: the current second (any number may be typed instead, e.g. a public draw's).
fn suggested_seed() -> u64 {
    time::OffsetDateTime::now_utc()
        .unix_timestamp()
        .unsigned_abs()
}

pub async fn page(
    State(state): State<AppState>,
    wave: InWave<can::DesignSample>,
    RawQuery(query): RawQuery,
    options: Result<Query<Options>, QueryRejection>,
) -> StaffResult {
    let ctx = &wave.ctx;
    // A value the form cannot hold (a word where a number goes) shows the defaults and says so.
    // With nothing asked yet, a frame drawn here shows the options it was drawn with.
    let drawn_with = match query.as_deref() {
        None | Some("") => state
            .staff
            .store
            .frame_draw(wave.code())
            .await?
            .map(|record| record.options),
        Some(_) => None,
    };
    let (options, refused) = match options {
        Ok(Query(options)) => (drawn_with.unwrap_or(options), None),
        Err(_) => (
            Options::default(),
            Some(ctx.t(
                "Một ô của biểu mẫu không phải số hợp lệ: bảng dưới dùng giá trị mặc định.",
                "A field of the form is not a valid number: the table below uses the defaults.",
            )),
        ),
    };
    // The official list on the 2025 map (the strata the draw would make); none before it.
    let communes = match wave.wave.wave.geography {
        Geography::G2025 => state.store.communes().await?,
        Geography::G2004 => Vec::new(),
    };
    let (provinces, release) = inputs(&state, &wave, &communes, None).await?;
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
        pages::design_page(
            ctx,
            &wave.wave,
            &options,
            outcome,
            release,
            suggested_seed(),
        ),
    ))
}

/// `POST /staff/waves/{wave}/design`: draws the communes with the options and the sizes file,
/// and makes the draw the wave's frame (recorded with it).
pub async fn draw(
    State(state): State<AppState>,
    wave: InWave<can::DesignSample>,
    multipart: Multipart,
) -> StaffResult {
    // Drawing replaces the frame: it needs the right to upload one too.
    if !wave.user.may(sipas_app::staff::Action::UploadFrame) {
        return Err(StaffError::Forbidden);
    }
    let ctx = wave.ctx.clone();
    let refuse = |options: &Options, message: String, release: Option<String>| {
        Ok::<_, StaffError>(html(
            StatusCode::BAD_REQUEST,
            pages::design_page(
                &ctx,
                &wave.wave,
                options,
                Err(message),
                release,
                suggested_seed(),
            ),
        ))
    };
    if wave.wave.wave.geography != Geography::G2025 {
        return refuse(
            &Options::default(),
            ctx.t(
                "Chỉ chọn được mẫu trên bản đồ từ 1/7/2025 (có danh sách xã/phường chính thức).",
                "Communes can be drawn only on the map in force since 1 July 2025 (it has the official list).",
            )
            .to_owned(),
            None,
        );
    }
    let upload = match super::upload::read(multipart).await {
        Ok(upload) => upload,
        Err(message) => {
            return refuse(
                &Options::default(),
                message.pick(ctx.locale).to_owned(),
                None,
            );
        }
    };
    let options = match Options::from_fields(|name| upload.field(name)) {
        Ok(options) => options,
        Err(message) => {
            return refuse(
                &Options::default(),
                message.pick(ctx.locale).to_owned(),
                None,
            );
        }
    };
    let Some(seed) = upload
        .field("seed")
        .and_then(|s| s.trim().parse::<u64>().ok())
    else {
        return refuse(
            &options,
            ctx.t(
                "Hạt giống phải là một số nguyên không âm.",
                "The seed must be a whole number from 0.",
            )
            .to_owned(),
            None,
        );
    };
    let table = match super::upload::table_blocking(upload.bytes).await {
        Ok(table) => table,
        Err(message) => return refuse(&options, message.pick(ctx.locale).to_owned(), None),
    };
    let communes = state.store.communes().await?;
    let by_code: HashMap<String, sipas_app::domain::Commune> = communes
        .iter()
        .map(|c| (c.code.clone(), c.clone()))
        .collect();
    let sizes = match design::parse_sizes(table, &by_code) {
        Ok(sizes) => sizes,
        Err(problems) => {
            let lines: Vec<String> = problems
                .listed
                .iter()
                .map(|p| {
                    format!(
                        "{} {}, {} {}: {}",
                        ctx.t("dòng", "row"),
                        p.row,
                        ctx.t("cột", "column"),
                        p.column,
                        p.message.pick(ctx.locale)
                    )
                })
                .collect();
            let more = problems.total.saturating_sub(problems.listed.len());
            let mut message = lines.join("; ");
            if more > 0 {
                message.push_str(&format!(" (+{more})"));
            }
            return refuse(&options, message, None);
        }
    };
    let (provinces, release) = inputs(&state, &wave, &communes, Some(&sizes)).await?;
    let (frame, record) = match design::draw_frame(&communes, &sizes, &provinces, &options, seed) {
        Ok(parts) => parts,
        Err(message) => {
            return refuse(&options, message.pick(ctx.locale).to_owned(), release);
        }
    };
    let detail = record.audit_detail(&frame);
    let audit = wave.entry(AuditAction::FrameDrawn, Some(wave.code()), None, detail);
    match state
        .staff
        .store
        .replace_frame_drawn(wave.code(), &frame, &record, &audit)
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(message)) => {
            return refuse(&options, message.pick(ctx.locale).to_owned(), release);
        }
        Err(err) => return Err(err.into()),
    }
    // Communes taken with certainty add no df: say where that left a province under the rule.
    let short: Vec<String> = record
        .draw
        .short_of_df()
        .into_iter()
        .map(|(province, df)| format!("{province} ({df})"))
        .collect();
    let (short_vi, short_en) = if short.is_empty() {
        (String::new(), String::new())
    } else {
        (
            format!(
                " Lưu ý: có xã/phường được chọn chắc chắn (không thêm bậc tự do), nên các tỉnh sau có bậc tự do dưới {}: {}; nên chọn thêm xã/phường cho các tỉnh này.",
                design::MIN_DF,
                short.join(", ")
            ),
            format!(
                " Note: communes taken with certainty add no degrees of freedom, so these provinces have fewer than {}: {}; draw more communes there.",
                design::MIN_DF,
                short.join(", ")
            ),
        )
    };
    wave.flash(Text::new(
        format!(
            "Đã chọn {} xã/phường (hạt giống {seed}); đây là dàn mẫu mới của đợt.{short_vi}",
            frame.psus.len()
        ),
        format!(
            "{} communes drawn (seed {seed}); this is the wave's new frame.{short_en}",
            frame.psus.len()
        ),
    ))
    .await;
    Ok(Redirect::to(&format!("/staff/waves/{}/frame", wave.code())).into_response())
}
