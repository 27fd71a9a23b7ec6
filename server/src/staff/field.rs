//! The field work of a wave: its sample frame, invitation batches, and monitoring.

use axum::Form;
use axum::extract::{Multipart, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use sipas_app::i18n::Text;
use sipas_app::ports::StoreError;
use sipas_app::staff::Action;
use sipas_app::staff::frame::{self, Frame};
use sipas_app::staff::pages::{self, MONITOR_SORTS, MonitorView};
use sipas_app::staff::port::AuditAction;
use sipas_app::survey::codes::{InvitationCode, hash};

use super::error::{StaffError, StaffResult};
use super::guard::{InBatch, InWave, can};
use super::html;
use crate::services::invitations::{self, BatchRequest, IssueError, Target};
use crate::web::AppState;

pub async fn frame(State(state): State<AppState>, wave: InWave<can::Monitor>) -> StaffResult {
    let frame = wave.frame(&state).await?;
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
    let one = |message: Text| sipas_app::staff::sheet::CellProblem {
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
    // On the 2025 map PSUs are the official communes; the 2004 map had no such list here.
    let communes = match wave.wave.wave.geography {
        sipas_app::domain::Geography::G2025 => Some(
            state
                .store
                .communes()
                .await?
                .into_iter()
                .map(|c| (c.code.clone(), c))
                .collect::<std::collections::HashMap<_, _>>(),
        ),
        sipas_app::domain::Geography::G2004 => None,
    };
    let parsed = match frame::parse(table, &provinces, communes.as_ref()) {
        Ok(parsed) => parsed,
        Err(problems) => return show(current, problems.listed, problems.total),
    };
    let audit = wave.entry(
        AuditAction::FrameUploaded,
        Some(&code),
        None,
        format!(
            "{} tầng, {} xã/phường, chỉ tiêu {} phiếu",
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
    let provinces = state.store.provinces(wave.wave.wave.geography).await?;
    Ok(html(
        status,
        pages::batches_page(
            &wave.ctx,
            (&wave.wave, &provinces),
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
    let token_ok = (16..=64).contains(&form.request_id.len())
        && form.request_id.bytes().all(|b| b.is_ascii_hexdigit());
    let Some(target) = Target::parse(&form.target).filter(|_| token_ok) else {
        let message = wave.ctx.t(
            "Biểu mẫu không hợp lệ; hãy tải lại trang.",
            "The form is not valid; reload the page.",
        );
        return batches_view(&state, &wave, StatusCode::BAD_REQUEST, Some(message.into())).await;
    };
    let store = state.staff.store.as_ref();
    let request = BatchRequest {
        wave_code: wave.code(),
        target: &target,
        count: &form.count,
        // The form's own token: a form posted twice issues once.
        batch_id: invitations::batch_id(&form.request_id),
        issued_by: &wave.user.username,
        scope: &wave.user.scope(),
    };
    let entry = |province: &str, detail| {
        wave.entry(
            AuditAction::BatchIssued,
            Some(wave.code()),
            Some(province),
            detail,
        )
    };
    let issued = match invitations::prepare(store, &request).await {
        Ok(prepared) => invitations::store(store, &prepared, entry)
            .await
            .map(|()| prepared),
        Err(err) => Err(err),
    };
    let prepared = match issued {
        Ok(prepared) => prepared,
        Err(err) => {
            let (status, message) = match err {
                IssueError::Forbidden(_) => return Err(StaffError::Forbidden),
                IssueError::Store(err) => return Err(err.into()),
                IssueError::Random(_) | IssueError::Qr(_) | IssueError::Write { .. } => {
                    tracing::error!(error = %err, "issuing codes");
                    return Err(StaffError::Unavailable);
                }
                IssueError::Closed => (
                    StatusCode::CONFLICT,
                    wave.ctx.t("Đợt đã đóng.", "The wave is closed."),
                ),
                IssueError::Count(_) => (
                    StatusCode::BAD_REQUEST,
                    wave.ctx
                        .t("Số mã từ 1 đến 5000.", "The count must be from 1 to 5000."),
                ),
                IssueError::NotInFrame(_) => (
                    StatusCode::BAD_REQUEST,
                    wave.ctx.t(
                        "Không có PSU nào như vậy trong dàn mẫu.",
                        "No such PSU in the frame.",
                    ),
                ),
                IssueError::AlreadyIssued(_) => (
                    StatusCode::CONFLICT,
                    wave.ctx.t(
                        "Lô này đã được phát (biểu mẫu được gửi hai lần). Mã chỉ hiện một lần; nếu chưa in, hãy hủy lô và phát lô mới.",
                        "This batch was issued already (the form was sent twice). Codes are shown once; if they were not printed, void the batch and issue a new one.",
                    ),
                ),
            };
            return batches_view(&state, &wave, status, Some(message.to_owned())).await;
        }
    };
    let base = base_url(&state, &headers);
    // Up to 5,000 QR codes and their page: CPU work, off the async threads.
    let (ctx, title) = (wave.ctx.clone(), wave.wave.wave.title.clone());
    // The codes are stored: a name that cannot be read leaves the title with the code alone
    // rather than losing the page that shows the codes.
    let province_name = state
        .store
        .provinces(wave.wave.wave.geography)
        .await
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.code == prepared.batch.province_code)
        .map(|p| p.name_vi);
    let page = tokio::task::spawn_blocking(move || {
        let cards = invitations::cards(&prepared, &base);
        let batch = (
            prepared.batch.id.as_str(),
            prepared.batch.scope.as_str(),
            province_name.as_deref(),
        );
        pages::batch_sheet(&ctx, &title, batch, &base, cards)
    })
    .await
    .map_err(|err| {
        // The codes are stored; the batch can be voided and issued again.
        tracing::error!(error = %err, "the sheet of a stored batch was not made");
        StaffError::Unavailable
    })?;
    Ok(html(StatusCode::OK, page))
}

pub async fn void(
    State(state): State<AppState>,
    batch: InBatch<can::IssueCodes>,
    Form(form): Form<super::Confirm>,
) -> StaffResult {
    let batches = format!("/staff/waves/{}/batches", batch.wave.wave.code);
    // A batch voided already is refused at once (by the store), not asked about.
    if !form.confirmed() && batch.batch.voided_at.is_none() {
        let b = &batch.batch;
        let unused = b.size - b.used - b.in_progress;
        let ctx = &batch.ctx;
        return Ok(html(
            StatusCode::OK,
            pages::confirm_page(
                ctx,
                pages::Confirmation {
                    title: format!("{} {}?", ctx.t("Hủy lô", "Void batch"), b.id),
                    consequences: vec![
                        format!(
                            "{} {unused} {}",
                            ctx.t("Mã chưa dùng:", "Unused codes:"),
                            ctx.t(
                                "sẽ không dùng được nữa; phiếu đã in với các mã này phải bỏ đi.",
                                "will stop working; sheets printed with them must be thrown away."
                            )
                        ),
                        format!(
                            "{} {}",
                            b.used + b.in_progress,
                            ctx.t(
                                "mã đã có người trả lời vẫn được giữ.",
                                "codes already answered are kept."
                            )
                        ),
                    ],
                    action: format!("/staff/batches/{}/void", b.id),
                    fields: Vec::new(),
                    new_password: false,
                    irreversible: true,
                    button: ctx.t("Hủy lô", "Void the batch").to_owned(),
                    back: batches,
                },
            ),
        ));
    }
    let audit = |voided: &i64| {
        batch.entry(
            AuditAction::BatchVoided,
            Some(&batch.batch.wave_code),
            Some(&batch.batch.province_code),
            format!("lô {}: hủy {voided} mã chưa dùng", batch.batch.id),
        )
    };
    let voided = state
        .staff
        .store
        .void_batch(&batch.batch.id, &batch.user.username, &audit)
        .await?;
    let id = &batch.batch.id;
    batch
        .flash(Text::new(
            format!("Đã hủy lô {id}: {voided} mã chưa dùng không còn dùng được."),
            format!("Batch {id} voided: {voided} unused codes no longer work."),
        ))
        .await;
    Ok(Redirect::to(&batches).into_response())
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
    let _ = writer.write_record(invitations::CSV_HEADER);
    let mut rows = 0;
    for raw in form.codes.split_whitespace().take(invitations::MAX_BATCH) {
        let code = InvitationCode::parse(raw).map_err(|_| StaffError::NotFound)?;
        let invitation = state.store.invitation(&hash(&code)).await?;
        if invitation.batch != id {
            return Err(StaffError::NotFound);
        }
        let sample = &invitation.sample;
        let _ = writer.write_record(invitations::csv_row(
            &base,
            &code,
            &sample.wave_code,
            &sample.province_code,
            &sample.stratum,
            &sample.psu,
        ));
        rows += 1;
    }
    let bytes = writer.into_inner().map_err(|err| {
        tracing::error!(error = %err, "codes CSV");
        StaffError::Unavailable
    })?;
    batch
        .audit_before_giving(
            &state.staff,
            AuditAction::BatchCodesDownloaded,
            Some(&batch.batch.wave_code),
            Some(&batch.batch.province_code),
            format!("lô {id}: {rows} mã"),
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
    // The provisional margins: the last background result (a stale one starts the next).
    let latest = state
        .staff
        .precision
        .latest(state.staff.store.clone(), wave.code());
    let targets = state
        .staff
        .store
        .frame_draw(wave.code())
        .await?
        .map(|record| record.targets)
        .unwrap_or_default();
    let provisional = match latest.margins {
        Some(margins) => pages::Provisional {
            computed_at: Some(margins.computed_at.clone()),
            running: latest.running,
            error: margins.error.clone(),
            margins: margins.by_province.clone(),
            targets,
        },
        None => pages::Provisional {
            running: latest.running,
            targets,
            ..Default::default()
        },
    };
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
                provisional,
            },
        ),
    ))
}
