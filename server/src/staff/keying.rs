//! Double data entry of paper forms (`/staff/waves/{wave}/keying`): the keying screen, a keyed
//! form's page and a supervisor's decision of the fields two clerks keyed differently. Keying
//! needs [`Action::ImportPaper`] (central staff, provincial officers for their province); the
//! decision, the same and not having keyed the form (the store refuses either clerk).
//!
//! [`Action::ImportPaper`]: sipas_app::staff::Action::ImportPaper

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use sipas_app::i18n::Text;
use sipas_app::staff::keying::{Keyed, KeyedForm, NO_ANSWER, as_table};
use sipas_app::staff::pages;
use sipas_app::staff::paper;
use sipas_app::staff::port::{AuditAction, PaperRecord, RowOutcome};
use sipas_app::survey::codes::sha256_hex;
use sipas_app::survey::questionnaire::{Answers, Questionnaire};

use super::data::{fresh_ids, questionnaire_of};
use super::error::{StaffError, StaffResult};
use super::guard::{InWave, can};
use super::html;
use crate::web::AppState;

/// Forms listed under the keying screen.
const LISTED: u32 = 200;
/// Fields a keying form can carry: the form's three, one per item, and slack.
const MAX_FIELDS: usize = 400;

async fn page(
    state: &AppState,
    wave: &InWave<can::ImportPaper>,
    status: StatusCode,
    fields: &[(String, String)],
    problems: Option<&sipas_app::staff::sheet::Problems>,
    message: Option<String>,
) -> StaffResult {
    let questionnaire = questionnaire_of(state, &wave.wave).await?;
    let forms = state
        .staff
        .store
        .keyed_forms(wave.code(), wave.province.as_deref(), LISTED)
        .await?;
    Ok(html(
        status,
        pages::keying_page(
            &wave.ctx,
            &wave.wave,
            &questionnaire,
            fields,
            problems,
            message,
            &forms,
        ),
    ))
}

pub async fn screen(State(state): State<AppState>, wave: InWave<can::ImportPaper>) -> StaffResult {
    page(&state, &wave, StatusCode::OK, &[], None, None).await
}

/// A record of the form as keyed: the import's checks, by field.
fn record_of(
    fields: &[(String, String)],
    questionnaire: &Questionnaire,
) -> Result<PaperRecord, sipas_app::staff::sheet::Problems> {
    let mut ids = fresh_ids;
    let mut records = paper::parse(as_table(fields, questionnaire), questionnaire, &mut ids)?;
    records
        .pop()
        .ok_or_else(sipas_app::staff::sheet::Problems::default)
}

pub async fn save(
    State(state): State<AppState>,
    wave: InWave<can::ImportPaper>,
    Form(fields): Form<Vec<(String, String)>>,
) -> StaffResult {
    if fields.len() > MAX_FIELDS {
        return Err(StaffError::Invalid("too many fields".into()));
    }
    let questionnaire = questionnaire_of(&state, &wave.wave).await?;
    let record = match record_of(&fields, &questionnaire) {
        Ok(record) => record,
        Err(problems) => {
            return page(
                &state,
                &wave,
                StatusCode::UNPROCESSABLE_ENTITY,
                &fields,
                Some(&problems),
                None,
            )
            .await;
        }
    };
    let code = wave.code().to_owned();
    let staff = &wave.allowed.staff;
    let audit = |keyed: &Keyed| {
        staff.entry(
            AuditAction::PaperKeyed,
            Some(&code),
            wave.province.as_deref(),
            keyed.audit_words(),
        )
    };
    let keyed = state
        .staff
        .store
        .key_form(
            &code,
            wave.province.as_deref(),
            &record,
            wave.user.id,
            &audit,
        )
        .await?;
    let ctx = &wave.ctx;
    let refusal = |vi: String, en: String| ctx.t(&vi, &en).to_owned();
    let (status, message) = match keyed {
        Keyed::FirstEntry => {
            return saved(
                staff,
                &code,
                Text::new(
                    "Đã lưu lần nhập thứ nhất. Người thứ hai nhập lại phiếu này.",
                    "First entry saved. A second person keys this form again.",
                ),
            )
            .await;
        }
        Keyed::Stored => {
            return saved(
                staff,
                &code,
                Text::new(
                    "Hai lần nhập khớp: phiếu đã được lưu thành phiếu trả lời.",
                    "The two entries agree: the form is stored as a response.",
                ),
            )
            .await;
        }
        Keyed::Differs { form, items } => {
            return saved(
                staff,
                &code,
                Text::new(
                    format!(
                        "Khác lần nhập thứ nhất ở {}: phiếu #{form} chờ người đối chiếu.",
                        items.join(", ")
                    ),
                    format!(
                        "Differs from the first entry in {}: form #{form} awaits a supervisor.",
                        items.join(", ")
                    ),
                ),
            )
            .await;
        }
        Keyed::SameClerk => (
            StatusCode::CONFLICT,
            refusal(
                "Bạn đã nhập phiếu này; lần nhập thứ hai phải do người khác.".into(),
                "You keyed this form already; the second entry must be someone else's.".into(),
            ),
        ),
        Keyed::AwaitingSupervisor { form } => (
            StatusCode::CONFLICT,
            refusal(
                format!("Phiếu này đã được nhập hai lần và khác nhau: xem phiếu #{form}."),
                format!("This form was keyed twice, differently: see form #{form}."),
            ),
        ),
        Keyed::AlreadyStored => (
            StatusCode::CONFLICT,
            refusal(
                "Phiếu này đã được lưu thành phiếu trả lời.".into(),
                "This form is stored as a response already.".into(),
            ),
        ),
        Keyed::Refused(outcome) => (
            StatusCode::CONFLICT,
            match outcome {
                RowOutcome::Problem { column, message } => {
                    format!("{column}: {}", ctx.t(&message.vi, &message.en))
                }
                RowOutcome::Conflict(text) => ctx.t(&text.vi, &text.en).to_owned(),
                RowOutcome::New | RowOutcome::AlreadyImported => String::new(),
            },
        ),
    };
    page(&state, &wave, status, &fields, None, Some(message)).await
}

async fn saved(staff: &super::auth::Staff, wave: &str, notice: Text) -> StaffResult {
    staff.flash(notice).await;
    Ok(Redirect::to(&format!("/staff/waves/{wave}/keying")).into_response())
}

/// A form of the wave that the member's province may see.
async fn visible_form(
    state: &AppState,
    wave: &InWave<can::ImportPaper>,
    id: i64,
) -> StaffResult<KeyedForm> {
    let form = state.staff.store.keyed_form(wave.code(), id).await?;
    if wave
        .province
        .as_deref()
        .is_some_and(|p| p != form.province_code)
    {
        return Err(StaffError::NotFound);
    }
    Ok(form)
}

fn form_page(
    wave: &InWave<can::ImportPaper>,
    questionnaire: &Questionnaire,
    form: &KeyedForm,
    status: StatusCode,
    message: Option<String>,
) -> Response {
    let is_clerk = form.entries.iter().any(|e| e.clerk_id == wave.user.id);
    html(
        status,
        pages::keyed_form_page(
            &wave.ctx,
            &wave.wave,
            questionnaire,
            form,
            !is_clerk,
            message,
        ),
    )
}

pub async fn form(
    State(state): State<AppState>,
    wave: InWave<can::ImportPaper>,
    Path((_, id)): Path<(String, i64)>,
) -> StaffResult {
    let form = visible_form(&state, &wave, id).await?;
    let questionnaire = questionnaire_of(&state, &wave.wave).await?;
    Ok(form_page(
        &wave,
        &questionnaire,
        &form,
        StatusCode::OK,
        None,
    ))
}

pub async fn resolve(
    State(state): State<AppState>,
    wave: InWave<can::ImportPaper>,
    Path((_, id)): Path<(String, i64)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> StaffResult {
    let form = visible_form(&state, &wave, id).await?;
    let questionnaire = questionnaire_of(&state, &wave.wave).await?;
    let ctx = &wave.ctx;
    if form.entries.iter().any(|e| e.clerk_id == wave.user.id) {
        return Err(StaffError::Forbidden);
    }
    let Some(first) = form.entries.first() else {
        return Err(StaffError::NotFound);
    };
    // The agreed answers, and the supervisor's reading of each differing one.
    let mut answers: Answers = first.answers.clone();
    for item in form.differing_items(&questionnaire) {
        let chosen = fields
            .iter()
            .find(|(key, _)| *key == item)
            .map(|(_, v)| v.trim())
            .unwrap_or_default();
        match chosen {
            "" => {
                return Err(StaffError::Invalid(format!(
                    "{item}: {}",
                    ctx.t(
                        "chọn câu trả lời ghi trên phiếu",
                        "choose the answer on the paper"
                    )
                )));
            }
            NO_ANSWER => {
                answers.remove(&item);
            }
            value => match value.parse::<i64>() {
                Ok(v) => {
                    answers.insert(item, v);
                }
                Err(_) => {
                    return Err(StaffError::Invalid(format!(
                        "{item}: {}",
                        ctx.t("không phải một câu trả lời", "not an answer")
                    )));
                }
            },
        }
    }
    let errors = questionnaire.validate(&answers, None);
    if let Some(error) = errors.first() {
        let message = format!("{}: {}", error.item, error.problem.message(ctx.locale));
        return Ok(form_page(
            &wave,
            &questionnaire,
            &form,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(message),
        ));
    }
    let canonical = serde_json::to_string(&answers).map_err(|_| StaffError::Unavailable)?;
    let (receipt, export_id) = fresh_ids();
    let record = PaperRecord {
        row: 0,
        target: form.target(),
        content_hash: sha256_hex(canonical.as_bytes()),
        measures: sipas_app::survey::quality::measures(&questionnaire, &answers),
        answers,
        language: "vi".into(),
        receipt,
        export_id,
    };
    let code = wave.code().to_owned();
    let staff = &wave.allowed.staff;
    let audit = |_: &Keyed| {
        staff.entry(
            AuditAction::PaperResolved,
            Some(&code),
            Some(&form.province_code),
            format!("phiếu #{id}: đối chiếu phiếu giấy, đã lưu thành phiếu trả lời"),
        )
    };
    match state
        .staff
        .store
        .resolve_form(&code, id, &record, wave.user.id, &audit)
        .await?
    {
        Keyed::Stored => {
            saved(
                staff,
                &code,
                Text::new(
                    format!("Phiếu #{id} đã được lưu theo phiếu giấy."),
                    format!("Form #{id} is stored as on the paper."),
                ),
            )
            .await
        }
        Keyed::SameClerk => Err(StaffError::Forbidden),
        Keyed::Refused(RowOutcome::Conflict(text)) => Err(StaffError::Conflict(text)),
        // The form itself no longer fits (its commune left the frame, its batch was voided):
        // say what, so the supervisor can act on it.
        Keyed::Refused(RowOutcome::Problem { column, message }) => {
            Err(StaffError::Conflict(Text::new(
                format!("{column}: {}", message.vi),
                format!("{column}: {}", message.en),
            )))
        }
        _ => Err(StaffError::Conflict(Text::new(
            "Phiếu này không còn chờ đối chiếu.",
            "This form no longer awaits a decision.",
        ))),
    }
}
