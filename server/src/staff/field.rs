//! The field work of a wave: its sample frame, invitation batches, and monitoring.

use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sipas_app::domain::SampleKind;
use sipas_app::ports::StoreError;
use sipas_app::staff::Action;
use sipas_app::staff::frame::{self, Frame, FramePsu};
use sipas_app::staff::pages::{self, Card, MONITOR_SORTS, MonitorView};
use sipas_app::staff::port::{NewBatch, WaveDetails};
use sipas_app::survey::codes::{InvitationCode, hash};

use super::auth::Staff;
use super::html;
use super::waves::store_failure;
use crate::http::AppState;

/// The wave, or the response to send instead.
async fn wave_for(state: &AppState, staff: &Staff, code: &str) -> Result<WaveDetails, Response> {
    state
        .staff
        .store
        .wave_details(code)
        .await
        .map_err(|err| store_failure(staff, err))
}

pub async fn frame(
    State(state): State<AppState>,
    staff: Staff,
    Path(code): Path<String>,
) -> Response {
    if let Err(refused) = staff.require(Action::Monitor) {
        return refused;
    }
    let wave = match wave_for(&state, &staff, &code).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let province = match staff.province_filter(&wave) {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    match state.staff.store.frame(&code, province.as_deref()).await {
        Ok(frame) => html(
            StatusCode::OK,
            pages::frame_page(
                &staff.ctx,
                &wave,
                frame,
                staff.user.may(Action::UploadFrame),
                None,
            ),
        ),
        Err(err) => store_failure(&staff, err),
    }
}

pub async fn upload_frame(
    State(state): State<AppState>,
    staff: Staff,
    Path(code): Path<String>,
    multipart: Multipart,
) -> Response {
    if let Err(refused) = staff.require(Action::UploadFrame) {
        return refused;
    }
    let wave = match wave_for(&state, &staff, &code).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let store = &state.staff.store;
    let show = |frame: Frame, problems: Vec<sipas_app::staff::sheet::CellProblem>, total: usize| {
        html(
            StatusCode::BAD_REQUEST,
            pages::frame_page(&staff.ctx, &wave, frame, true, Some((problems, total))),
        )
    };
    let one = |message: String| sipas_app::staff::sheet::CellProblem {
        row: 0,
        column: String::new(),
        message,
    };
    let current = store.frame(&code, None).await.unwrap_or_default();
    let read = match super::upload::read(multipart).await {
        Ok(upload) => super::upload::table_blocking(upload.bytes).await,
        Err(message) => Err(message),
    };
    let table = match read {
        Ok(table) => table,
        Err(message) => return show(current, vec![one(message)], 1),
    };
    let provinces = match state.store.provinces(wave.wave.geography).await {
        Ok(list) => list.into_iter().map(|p| p.code).collect(),
        Err(err) => return store_failure(&staff, err),
    };
    let parsed = match frame::parse(table, &provinces) {
        Ok(parsed) => parsed,
        Err(problems) => return show(current, problems.listed, problems.total),
    };
    match store.replace_frame(&code, &parsed).await {
        Ok(()) => {
            staff
                .audit(
                    &state.staff,
                    "frame_uploaded",
                    Some(&code),
                    None,
                    format!(
                        "{} strata, {} PSUs, target {}",
                        parsed.strata.len(),
                        parsed.psus.len(),
                        parsed.total_target()
                    ),
                )
                .await;
            Redirect::to(&format!("/staff/waves/{code}/frame")).into_response()
        }
        Err(StoreError::Conflict(message)) => show(current, vec![one(message)], 1),
        Err(err) => store_failure(&staff, err),
    }
}

/// A fresh random token for the issue form: the batch id, so a form posted twice issues once.
fn request_token() -> String {
    crate::store::random_token()
}

pub async fn batches(
    State(state): State<AppState>,
    staff: Staff,
    Path(code): Path<String>,
    Query(sort): Query<pages::Sort>,
) -> Response {
    if let Err(refused) = staff.require(Action::IssueCodes) {
        return refused;
    }
    let wave = match wave_for(&state, &staff, &code).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    batches_list(&state, &staff, &wave, StatusCode::OK, None, sort).await
}

/// The batches page after a refused issue: the message, the default order.
async fn batches_view(
    state: &AppState,
    staff: &Staff,
    wave: &WaveDetails,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    batches_list(state, staff, wave, status, error, pages::Sort::default()).await
}

async fn batches_list(
    state: &AppState,
    staff: &Staff,
    wave: &WaveDetails,
    status: StatusCode,
    error: Option<String>,
    sort: pages::Sort,
) -> Response {
    let province = match staff.province_filter(wave) {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let store = &state.staff.store;
    let frame = match store.frame(&wave.wave.code, province.as_deref()).await {
        Ok(f) => f,
        Err(err) => return store_failure(staff, err),
    };
    match store.batches(&wave.wave.code, province.as_deref()).await {
        Ok(list) => html(
            status,
            pages::batches_page(&staff.ctx, wave, frame, list, request_token(), error, sort),
        ),
        Err(err) => store_failure(staff, err),
    }
}

#[derive(Deserialize)]
pub struct IssueForm {
    #[serde(default)]
    request_id: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    count: String,
}

/// Shares `count` codes over PSUs in proportion to their targets (largest remainder; equal
/// shares when no PSU has a target).
pub fn share_out(psus: &[FramePsu], count: usize) -> Vec<usize> {
    if psus.is_empty() {
        return Vec::new();
    }
    let total: i64 = psus.iter().map(|p| p.target.max(0)).sum();
    let weights: Vec<f64> = psus
        .iter()
        .map(|p| {
            if total > 0 {
                p.target.max(0) as f64 / total as f64
            } else {
                1.0 / psus.len() as f64
            }
        })
        .collect();
    let exact: Vec<f64> = weights.iter().map(|w| w * count as f64).collect();
    let mut shares: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let mut left = count - shares.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..psus.len()).collect();
    order.sort_by(|&a, &b| {
        (exact[b] - exact[b].floor())
            .total_cmp(&(exact[a] - exact[a].floor()))
            .then(a.cmp(&b))
    });
    for index in order.into_iter().cycle() {
        if left == 0 {
            break;
        }
        shares[index] += 1;
        left -= 1;
    }
    shares
}

/// The origin printed on invitations: the configured public origin, else this request's host.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(origin) = &state.public_origin {
        return origin.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:3000");
    format!("http://{host}")
}

pub async fn issue(
    State(state): State<AppState>,
    staff: Staff,
    Path(code): Path<String>,
    headers: HeaderMap,
    Form(form): Form<IssueForm>,
) -> Response {
    if let Err(refused) = staff.require(Action::IssueCodes) {
        return refused;
    }
    let wave = match wave_for(&state, &staff, &code).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    if wave.wave.closed {
        return batches_view(
            &state,
            &staff,
            &wave,
            StatusCode::CONFLICT,
            Some(staff.ctx.t("Đợt đã đóng.", "The wave is closed.").into()),
        )
        .await;
    }
    let count = match form.count.trim().parse::<usize>() {
        Ok(n) if (1..=5000).contains(&n) => n,
        _ => {
            let message = staff
                .ctx
                .t("Số mã từ 1 đến 5000.", "The count must be from 1 to 5000.")
                .to_owned();
            return batches_view(
                &state,
                &staff,
                &wave,
                StatusCode::BAD_REQUEST,
                Some(message),
            )
            .await;
        }
    };
    let token_ok = (16..=64).contains(&form.request_id.len())
        && form.request_id.bytes().all(|b| b.is_ascii_hexdigit());
    if !token_ok {
        return batches_view(
            &state,
            &staff,
            &wave,
            StatusCode::BAD_REQUEST,
            Some("request_id".into()),
        )
        .await;
    }
    // The whole frame: the target is checked against the member's province below, so an id
    // edited in the form cannot reach another province.
    let frame = match state.staff.store.frame(&code, None).await {
        Ok(f) => f,
        Err(err) => return store_failure(&staff, err),
    };
    // `psu:{psu}`, `stratum:{province}:{stratum}` or `province:{province}`; PSU and stratum
    // names may themselves hold a colon, province codes never do.
    let target = form.target.as_str();
    let (chosen, scope): (Vec<FramePsu>, String) = if let Some(psu) = target.strip_prefix("psu:") {
        (
            frame
                .psus
                .iter()
                .filter(|p| p.psu == psu)
                .cloned()
                .collect(),
            format!("psu {psu}"),
        )
    } else if let Some((province, stratum)) = target
        .strip_prefix("stratum:")
        .and_then(|rest| rest.split_once(':'))
    {
        (
            frame
                .psus
                .iter()
                .filter(|p| p.province_code == province && p.stratum == stratum)
                .cloned()
                .collect(),
            format!("stratum {stratum}"),
        )
    } else if let Some(province) = target.strip_prefix("province:") {
        (
            frame
                .psus
                .iter()
                .filter(|p| p.province_code == province)
                .cloned()
                .collect(),
            format!("province {province}"),
        )
    } else {
        (Vec::new(), String::new())
    };
    let Some(province) = chosen.first().map(|p| p.province_code.clone()) else {
        let message = staff
            .ctx
            .t(
                "Không có PSU nào như vậy trong dàn mẫu.",
                "No such PSU in the frame.",
            )
            .to_owned();
        return batches_view(
            &state,
            &staff,
            &wave,
            StatusCode::BAD_REQUEST,
            Some(message),
        )
        .await;
    };
    if !staff.user.scope().allows(wave.wave.geography, &province) {
        return staff.forbidden();
    }
    let shares = share_out(&chosen, count);
    let codes = match crate::invitations::generate(count) {
        Ok(codes) => codes,
        Err(err) => {
            tracing::error!(error = %err, "no random codes");
            return store_failure(&staff, StoreError::Backend(err.to_string()));
        }
    };
    let mut assigned: Vec<(FramePsu, InvitationCode)> = Vec::with_capacity(count);
    let mut codes = codes.into_iter();
    for (psu, share) in chosen.iter().zip(shares) {
        for code in codes.by_ref().take(share) {
            assigned.push((psu.clone(), code));
        }
    }
    let batch_id = format!("b{}", &form.request_id[..16]);
    let batch = NewBatch {
        id: batch_id.clone(),
        wave_code: code.clone(),
        province_code: province.clone(),
        scope: scope.clone(),
        issued_by: staff.user.username.clone(),
        kind: SampleKind::Probability,
        codes: assigned
            .iter()
            .map(|(psu, c)| (psu.clone(), hash(c)))
            .collect(),
    };
    match state.staff.store.issue_batch(&batch).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            let message = staff
                .ctx
                .t(
                    "Lô này đã được phát (biểu mẫu được gửi hai lần). Mã chỉ hiện một lần; nếu chưa in, hãy hủy lô và phát lô mới.",
                    "This batch was issued already (the form was sent twice). Codes are shown once; if they were not printed, void the batch and issue a new one.",
                )
                .to_owned();
            return batches_view(&state, &staff, &wave, StatusCode::CONFLICT, Some(message)).await;
        }
        Err(err) => return store_failure(&staff, err),
    }
    staff
        .audit(
            &state.staff,
            "batch_issued",
            Some(&code),
            Some(&province),
            format!("{batch_id}: {count} codes for {scope}"),
        )
        .await;
    let base = base_url(&state, &headers);
    let mut cards = Vec::with_capacity(assigned.len());
    for (psu, invitation) in assigned {
        let link = format!("{base}/s/{}", invitation.as_str());
        let qr_svg = crate::invitations::qr_svg(&link).unwrap_or_default();
        cards.push(Card {
            code_display: invitation.display(),
            code: invitation.as_str().to_owned(),
            link,
            qr_svg,
            psu: psu.psu,
            psu_name: psu.name,
        });
    }
    html(
        StatusCode::OK,
        pages::batch_sheet(&staff.ctx, &wave.wave.title, &batch_id, &base, cards),
    )
}

/// The batch, if this member may act on it.
async fn batch_for(
    state: &AppState,
    staff: &Staff,
    id: &str,
) -> Result<(sipas_app::staff::port::BatchSummary, WaveDetails), Response> {
    let batch = state
        .staff
        .store
        .batch(id)
        .await
        .map_err(|err| store_failure(staff, err))?;
    let wave = wave_for(state, staff, &batch.wave_code).await?;
    if !staff
        .user
        .scope()
        .allows(wave.wave.geography, &batch.province_code)
    {
        return Err(staff.forbidden());
    }
    Ok((batch, wave))
}

pub async fn void(State(state): State<AppState>, staff: Staff, Path(id): Path<String>) -> Response {
    if let Err(refused) = staff.require(Action::IssueCodes) {
        return refused;
    }
    let (batch, wave) = match batch_for(&state, &staff, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    match state
        .staff
        .store
        .void_batch(&id, &staff.user.username)
        .await
    {
        Ok(voided) => {
            staff
                .audit(
                    &state.staff,
                    "batch_voided",
                    Some(&batch.wave_code),
                    Some(&batch.province_code),
                    format!("{id}: {voided} unused codes voided"),
                )
                .await;
            Redirect::to(&format!("/staff/waves/{}/batches", wave.wave.code)).into_response()
        }
        Err(err) => store_failure(&staff, err),
    }
}

#[derive(Deserialize)]
pub struct CodesForm {
    #[serde(default)]
    codes: String,
}

/// The CSV of a batch just issued. The codes come back from the sheet page (the server keeps
/// only their hashes); each must belong to this batch and be unvoided.
pub async fn codes_csv(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<CodesForm>,
) -> Response {
    if let Err(refused) = staff.require(Action::IssueCodes) {
        return refused;
    }
    let (batch, _wave) = match batch_for(&state, &staff, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let base = base_url(&state, &headers);
    let mut writer = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    let _ = writer.write_record(["code", "link", "wave", "province", "stratum", "psu"]);
    let mut rows = 0;
    for raw in form.codes.split_whitespace().take(5000) {
        let Ok(code) = InvitationCode::parse(raw) else {
            return store_failure(&staff, StoreError::NotFound);
        };
        match state.store.invitation(&hash(&code)).await {
            Ok(invitation) if invitation.batch == id => {
                let (shown, link) = (code.display(), format!("{base}/s/{}", code.as_str()));
                let cells = [
                    shown.as_str(),
                    &link,
                    &invitation.sample.wave_code,
                    &invitation.sample.province_code,
                    &invitation.sample.stratum,
                    &invitation.sample.psu,
                ];
                let _ = writer.write_record(cells.into_iter().map(super::data::neutralise));
                rows += 1;
            }
            Ok(_) => return store_failure(&staff, StoreError::NotFound),
            Err(err) => return store_failure(&staff, err),
        }
    }
    let Ok(bytes) = writer.into_inner() else {
        return store_failure(&staff, StoreError::Backend("csv".into()));
    };
    staff
        .audit(
            &state.staff,
            "batch_codes_downloaded",
            Some(&batch.wave_code),
            Some(&batch.province_code),
            format!("{id}: {rows} codes"),
        )
        .await;
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{id}.csv\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct MonitorQuery {
    province: Option<String>,
    sort: Option<String>,
    dir: Option<String>,
}

pub async fn monitor(
    State(state): State<AppState>,
    staff: Staff,
    Path(code): Path<String>,
    Query(query): Query<MonitorQuery>,
) -> Response {
    if let Err(refused) = staff.require(Action::Monitor) {
        return refused;
    }
    let wave = match wave_for(&state, &staff, &code).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let requested = query.province.filter(|p| !p.is_empty());
    // A provincial officer sees their province; asking for another one is refused.
    let own = match staff.province_filter(&wave) {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let province = match (own, requested) {
        (Some(own), Some(asked)) if own != asked => return staff.forbidden(),
        (Some(own), _) => Some(own),
        (None, asked) => asked,
    };
    let monitoring = match state
        .staff
        .store
        .monitoring(&code, province.as_deref())
        .await
    {
        Ok(m) => m,
        Err(err) => return store_failure(&staff, err),
    };
    let province_names = state
        .store
        .provinces(wave.wave.geography)
        .await
        .unwrap_or_default();
    let sort = query
        .sort
        .filter(|s| MONITOR_SORTS.contains(&s.as_str()))
        .unwrap_or_else(|| "unit".into());
    html(
        StatusCode::OK,
        pages::monitor_page(
            &staff.ctx,
            MonitorView {
                wave,
                monitoring,
                province,
                sort,
                descending: query.dir.as_deref() == Some("desc"),
                province_names,
            },
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn psu(target: i64) -> FramePsu {
        FramePsu {
            province_code: "01".into(),
            stratum: "s".into(),
            psu: format!("p{target}"),
            name: String::new(),
            target,
        }
    }

    #[test]
    fn shares_follow_targets_and_add_up() {
        assert_eq!(share_out(&[psu(30), psu(10)], 8), vec![6, 2]);
        assert_eq!(
            share_out(&[psu(1), psu(1), psu(1)], 10)
                .iter()
                .sum::<usize>(),
            10
        );
        assert_eq!(share_out(&[psu(0), psu(0)], 3), vec![2, 1]);
        assert!(share_out(&[], 3).is_empty());
    }
}
