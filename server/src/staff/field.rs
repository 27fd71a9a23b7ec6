//! The field work of a wave: its sample frame, invitation batches, and monitoring.

use axum::Form;
use axum::extract::{Multipart, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use sipas_app::domain::SampleKind;
use sipas_app::ports::StoreError;
use sipas_app::staff::Action;
use sipas_app::staff::frame::{self, Frame, FramePsu};
use sipas_app::staff::pages::{self, Card, MONITOR_SORTS, MonitorView};
use sipas_app::staff::port::NewBatch;
use sipas_app::survey::codes::{InvitationCode, hash};

use super::error::{StaffError, StaffResult};
use super::guard::{InBatch, InWave, can};
use super::html;
use crate::web::AppState;

pub async fn frame(State(state): State<AppState>, wave: InWave<can::Monitor>) -> StaffResult {
    let frame = state
        .staff
        .store
        .frame(wave.code(), wave.province.as_deref())
        .await?;
    Ok(html(
        StatusCode::OK,
        pages::frame_page(
            &wave.ctx,
            &wave.wave,
            frame,
            wave.user.may(Action::UploadFrame),
            None,
        ),
    ))
}

pub async fn upload_frame(
    State(state): State<AppState>,
    wave: InWave<can::UploadFrame>,
    multipart: Multipart,
) -> StaffResult {
    let store = &state.staff.store;
    let code = wave.code().to_owned();
    let show = |frame: Frame, problems: Vec<sipas_app::staff::sheet::CellProblem>, total: usize| {
        Ok(html(
            StatusCode::BAD_REQUEST,
            pages::frame_page(&wave.ctx, &wave.wave, frame, true, Some((problems, total))),
        ))
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
    let provinces = state
        .store
        .provinces(wave.wave.wave.geography)
        .await?
        .into_iter()
        .map(|p| p.code)
        .collect();
    let parsed = match frame::parse(table, &provinces) {
        Ok(parsed) => parsed,
        Err(problems) => return show(current, problems.listed, problems.total),
    };
    let audit = wave.entry(
        "frame_uploaded",
        Some(&code),
        None,
        format!(
            "{} strata, {} PSUs, target {}",
            parsed.strata.len(),
            parsed.psus.len(),
            parsed.total_target()
        ),
    );
    match store.replace_frame(&code, &parsed, &audit).await {
        Ok(()) => Ok(Redirect::to(&format!("/staff/waves/{code}/frame")).into_response()),
        Err(StoreError::Conflict(message)) => show(current, vec![one(message)], 1),
        Err(err) => Err(err.into()),
    }
}

/// A fresh random token for the issue form: the batch id, so a form posted twice issues once.
fn request_token() -> String {
    crate::store::random_token()
}

pub async fn batches(
    State(state): State<AppState>,
    wave: InWave<can::IssueCodes>,
    Query(sort): Query<pages::Sort>,
) -> StaffResult {
    batches_list(&state, &wave, StatusCode::OK, None, sort).await
}

/// The batches page after a refused issue: the message, the default order.
async fn batches_view(
    state: &AppState,
    wave: &InWave<can::IssueCodes>,
    status: StatusCode,
    error: Option<String>,
) -> StaffResult {
    batches_list(state, wave, status, error, pages::Sort::default()).await
}

async fn batches_list(
    state: &AppState,
    wave: &InWave<can::IssueCodes>,
    status: StatusCode,
    error: Option<String>,
    sort: pages::Sort,
) -> StaffResult {
    let store = &state.staff.store;
    let province = wave.province.as_deref();
    let frame = store.frame(wave.code(), province).await?;
    let list = store.batches(wave.code(), province).await?;
    Ok(html(
        status,
        pages::batches_page(
            &wave.ctx,
            &wave.wave,
            frame,
            list,
            request_token(),
            error,
            sort,
        ),
    ))
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
    wave: InWave<can::IssueCodes>,
    headers: HeaderMap,
    Form(form): Form<IssueForm>,
) -> StaffResult {
    let code = wave.code().to_owned();
    let refuse =
        |status, message: &str| batches_view(&state, &wave, status, Some(message.to_owned()));
    if wave.wave.wave.closed {
        return refuse(
            StatusCode::CONFLICT,
            wave.ctx.t("Đợt đã đóng.", "The wave is closed."),
        )
        .await;
    }
    let count = match form.count.trim().parse::<usize>() {
        Ok(n) if (1..=5000).contains(&n) => n,
        _ => {
            return refuse(
                StatusCode::BAD_REQUEST,
                wave.ctx
                    .t("Số mã từ 1 đến 5000.", "The count must be from 1 to 5000."),
            )
            .await;
        }
    };
    let token_ok = (16..=64).contains(&form.request_id.len())
        && form.request_id.bytes().all(|b| b.is_ascii_hexdigit());
    if !token_ok {
        return refuse(StatusCode::BAD_REQUEST, "request_id").await;
    }
    // The whole frame: the target is checked against the member's province below, so an id
    // edited in the form cannot reach another province.
    let frame = state.staff.store.frame(&code, None).await?;
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
        return refuse(
            StatusCode::BAD_REQUEST,
            wave.ctx.t(
                "Không có PSU nào như vậy trong dàn mẫu.",
                "No such PSU in the frame.",
            ),
        )
        .await;
    };
    if !wave
        .user
        .scope()
        .allows(wave.wave.wave.geography, &province)
    {
        return Err(StaffError::Forbidden);
    }
    let shares = share_out(&chosen, count);
    let codes = crate::services::invitations::generate(count).map_err(|err| {
        tracing::error!(error = %err, "no random codes");
        StaffError::Unavailable
    })?;
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
        issued_by: wave.user.username.clone(),
        kind: SampleKind::Probability,
        codes: assigned
            .iter()
            .map(|(psu, c)| (psu.clone(), hash(c)))
            .collect(),
    };
    let audit = wave.entry(
        "batch_issued",
        Some(&code),
        Some(&province),
        format!("{batch_id}: {count} codes for {scope}"),
    );
    match state.staff.store.issue_batch(&batch, &audit).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return refuse(
                StatusCode::CONFLICT,
                wave.ctx.t(
                    "Lô này đã được phát (biểu mẫu được gửi hai lần). Mã chỉ hiện một lần; nếu chưa in, hãy hủy lô và phát lô mới.",
                    "This batch was issued already (the form was sent twice). Codes are shown once; if they were not printed, void the batch and issue a new one.",
                ),
            )
            .await;
        }
        Err(err) => return Err(err.into()),
    }
    let base = base_url(&state, &headers);
    let mut cards = Vec::with_capacity(assigned.len());
    for (psu, invitation) in assigned {
        let link = format!("{base}/s/{}", invitation.as_str());
        let qr_svg = crate::services::invitations::qr_svg(&link).unwrap_or_default();
        cards.push(Card {
            code_display: invitation.display(),
            code: invitation.as_str().to_owned(),
            link,
            qr_svg,
            psu: psu.psu,
            psu_name: psu.name,
        });
    }
    Ok(html(
        StatusCode::OK,
        pages::batch_sheet(&wave.ctx, &wave.wave.wave.title, &batch_id, &base, cards),
    ))
}

pub async fn void(State(state): State<AppState>, batch: InBatch<can::IssueCodes>) -> StaffResult {
    let audit = |voided: &i64| {
        batch.entry(
            "batch_voided",
            Some(&batch.batch.wave_code),
            Some(&batch.batch.province_code),
            format!("{}: {voided} unused codes voided", batch.batch.id),
        )
    };
    state
        .staff
        .store
        .void_batch(&batch.batch.id, &batch.user.username, &audit)
        .await?;
    Ok(Redirect::to(&format!("/staff/waves/{}/batches", batch.wave.wave.code)).into_response())
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
    batch: InBatch<can::IssueCodes>,
    headers: HeaderMap,
    Form(form): Form<CodesForm>,
) -> StaffResult {
    let id = batch.batch.id.clone();
    let base = base_url(&state, &headers);
    let mut writer = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    let _ = writer.write_record(["code", "link", "wave", "province", "stratum", "psu"]);
    let mut rows = 0;
    for raw in form.codes.split_whitespace().take(5000) {
        let code = InvitationCode::parse(raw).map_err(|_| StaffError::NotFound)?;
        let invitation = state.store.invitation(&hash(&code)).await?;
        if invitation.batch != id {
            return Err(StaffError::NotFound);
        }
        let (shown, link) = (code.display(), format!("{base}/s/{}", code.as_str()));
        let cells = [
            shown.as_str(),
            &link,
            &invitation.sample.wave_code,
            &invitation.sample.province_code,
            &invitation.sample.stratum,
            &invitation.sample.psu,
        ];
        let _ = writer.write_record(cells.into_iter().map(crate::services::export::neutralise));
        rows += 1;
    }
    let bytes = writer.into_inner().map_err(|err| {
        tracing::error!(error = %err, "codes CSV");
        StaffError::Unavailable
    })?;
    batch
        .audit_before_giving(
            &state.staff,
            "batch_codes_downloaded",
            Some(&batch.batch.wave_code),
            Some(&batch.batch.province_code),
            format!("{id}: {rows} codes"),
        )
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{id}.csv\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct MonitorQuery {
    province: Option<String>,
    sort: Option<String>,
    dir: Option<String>,
}

pub async fn monitor(
    State(state): State<AppState>,
    wave: InWave<can::Monitor>,
    Query(query): Query<MonitorQuery>,
) -> StaffResult {
    let requested = query.province.filter(|p| !p.is_empty());
    // A provincial officer sees their province; asking for another one is refused.
    let province = match (wave.province.clone(), requested) {
        (Some(own), Some(asked)) if own != asked => return Err(StaffError::Forbidden),
        (Some(own), _) => Some(own),
        (None, asked) => asked,
    };
    let monitoring = state
        .staff
        .store
        .monitoring(wave.code(), province.as_deref())
        .await?;
    let province_names = state
        .store
        .provinces(wave.wave.wave.geography)
        .await
        .unwrap_or_default();
    let sort = query
        .sort
        .filter(|s| MONITOR_SORTS.contains(&s.as_str()))
        .unwrap_or_else(|| "unit".into());
    Ok(html(
        StatusCode::OK,
        pages::monitor_page(
            &wave.ctx,
            MonitorView {
                wave: wave.wave.clone(),
                monitoring,
                province,
                sort,
                descending: query.dir.as_deref() == Some("desc"),
                province_names,
            },
        ),
    ))
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
