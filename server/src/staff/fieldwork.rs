//! Fieldwork: the field worker's phone pages (`/staff/field`, their own assignments only; any
//! other assignment is a 404, so ids cannot be probed), and a wave's fieldwork page
//! (`/staff/waves/{wave}/fieldwork`: response rates, per-worker rows, assigning forms).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use sipas_app::i18n::Text;
use sipas_app::ports::StoreError;
use sipas_app::staff::fieldwork::{AssignedForms, Mark, Marked, NewAssignment, Outcome};
use sipas_app::staff::pages::{self, FieldworkView};
use sipas_app::staff::port::AuditAction;
use sipas_app::staff::research::valid_date;

use super::error::{StaffError, StaffResult};
use super::guard::{Allowed, InWave, can};
use super::html;
use crate::web::AppState;

/// More fields than an assignment's forms can post (two per form) is not a form of ours.
const MAX_FIELDS: usize = 2 * 2000 + 8;

pub async fn home(State(state): State<AppState>, staff: Allowed<can::DoFieldwork>) -> StaffResult {
    let assignments = state
        .staff
        .store
        .assignments(None, None, Some(staff.user.id))
        .await?;
    Ok(html(
        StatusCode::OK,
        pages::field_home(&staff.ctx, &assignments),
    ))
}

/// One of the worker's own assignments; another's is "not found", as one that does not exist.
async fn own(
    state: &AppState,
    staff: &Allowed<can::DoFieldwork>,
    id: &str,
) -> Result<
    (
        sipas_app::staff::fieldwork::Assignment,
        Vec<sipas_app::staff::fieldwork::AssignedForm>,
    ),
    StaffError,
> {
    let id: i64 = id.parse().map_err(|_| StaffError::NotFound)?;
    let (assignment, forms) = state.staff.store.assignment(id).await?;
    if assignment.worker_id != staff.user.id {
        return Err(StaffError::NotFound);
    }
    Ok((assignment, forms))
}

pub async fn assignment(
    State(state): State<AppState>,
    staff: Allowed<can::DoFieldwork>,
    Path(id): Path<String>,
) -> StaffResult {
    let (assignment, forms) = own(&state, &staff, &id).await?;
    Ok(html(
        StatusCode::OK,
        pages::field_assignment(&staff.ctx, &assignment, &forms, None),
    ))
}

/// The marks a posted form asks for: `w{n}` is what the page showed for form n, `o{n}` what the
/// worker chose; with `bulk=handed_out`, every form still "not handed out" becomes handed out.
/// A number that is not on the assignment, or an outcome we do not know, names the field.
fn marks_of(fields: &[(String, String)], numbers: &[i64]) -> Result<Vec<Mark>, String> {
    let bulk = fields.iter().any(|(k, v)| k == "bulk" && v == "handed_out");
    let value = |name: String| {
        fields
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    };
    let mut marks = Vec::new();
    for (key, _) in fields {
        let Some(number) = key.strip_prefix('o') else {
            continue;
        };
        let number: i64 = number
            .parse()
            .ok()
            .filter(|n| numbers.contains(n))
            .ok_or_else(|| format!("{key}: no such form on this assignment"))?;
        let read = |name: String| {
            let text = value(name.clone()).unwrap_or("");
            Outcome::parse(text).ok_or_else(|| format!("{name}: unknown outcome {text:?}"))
        };
        let was = read(format!("w{number}"))?;
        let mut now = read(key.clone())?;
        if bulk && now == Outcome::Assigned {
            now = Outcome::HandedOut;
        }
        marks.push(Mark { number, was, now });
    }
    Ok(marks)
}

pub async fn mark(
    State(state): State<AppState>,
    staff: Allowed<can::DoFieldwork>,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> StaffResult {
    let (assignment, forms) = own(&state, &staff, &id).await?;
    if fields.len() > MAX_FIELDS {
        return Err(StaffError::Invalid("too many fields".into()));
    }
    let numbers: Vec<i64> = forms.iter().map(|f| f.number).collect();
    let marks = match marks_of(&fields, &numbers) {
        Ok(marks) => marks,
        Err(problem) => {
            return Ok(html(
                StatusCode::UNPROCESSABLE_ENTITY,
                pages::field_assignment(&staff.ctx, &assignment, &forms, Some(problem)),
            ));
        }
    };
    let audit = |marked: &Marked| {
        let changes: Vec<String> = marks
            .iter()
            .filter(|m| m.was != m.now)
            .map(|m| format!("{}: {} → {}", m.number, m.was.key(), m.now.key()))
            .collect();
        staff.entry(
            AuditAction::FormsMarked,
            Some(&assignment.wave_code),
            Some(&assignment.province_code),
            format!(
                "giao phiếu {} (xã {}): ghi {} phiếu ({})",
                assignment.id,
                assignment.psu,
                marked.changed,
                changes.join(", ")
            ),
        )
    };
    let marked = state
        .staff
        .store
        .mark_forms(assignment.id, &marks, staff.user.id, &audit)
        .await?;
    let notice = if marked.stale > 0 {
        Text::new(
            format!(
                "Đã lưu {} phiếu. {} phiếu đã được người khác sửa trong lúc đó và được giữ nguyên: hãy xem lại.",
                marked.changed, marked.stale
            ),
            format!(
                "{} forms saved. {} forms had been changed by someone else meanwhile and were left as they are: check them.",
                marked.changed, marked.stale
            ),
        )
    } else {
        Text::new(
            format!("Đã lưu {} phiếu.", marked.changed),
            format!("{} forms saved.", marked.changed),
        )
    };
    staff.flash(notice).await;
    Ok(Redirect::to(&format!("/staff/field/{}", assignment.id)).into_response())
}

#[derive(Deserialize)]
pub struct FieldworkQuery {
    province: Option<String>,
}

/// The province a member asks for: an officer sees their own (asking for another is refused).
fn province_of(own: Option<String>, asked: Option<String>) -> Result<Option<String>, StaffError> {
    let asked = asked.filter(|p| !p.is_empty());
    match (own, asked) {
        (Some(own), Some(asked)) if own != asked => Err(StaffError::Forbidden),
        (Some(own), _) => Ok(Some(own)),
        (None, asked) => Ok(asked),
    }
}

async fn page<P>(
    state: &AppState,
    wave: &InWave<P>,
    province: Option<String>,
    status: StatusCode,
    error: Option<String>,
) -> StaffResult {
    let store = &state.staff.store;
    let code = wave.code();
    let mut tallies = store.fieldwork(code, province.as_deref()).await?;
    let frame = store.frame(code, wave.province.as_deref()).await?;
    let mut provinces: Vec<String> = frame.psus.iter().map(|p| p.province_code.clone()).collect();
    provinces.dedup();
    // The national page compares provinces; a province's page has its communes, workers and
    // assignments, and the form that assigns them (a country's workers in one list would be
    // a thousand names).
    let (assignments, assigning) = match province.as_deref() {
        None => {
            tallies.communes.clear();
            tallies.workers.clear();
            (Vec::new(), None)
        }
        Some(chosen) => {
            let assignments = store.assignments(Some(code), Some(chosen), None).await?;
            let assigning = if wave.user.may(sipas_app::staff::Action::AssignFieldwork) {
                let psus = frame
                    .psus
                    .into_iter()
                    .filter(|p| p.province_code == chosen)
                    .collect();
                Some((
                    store.field_workers(Some(chosen)).await?,
                    psus,
                    store.batches(code, Some(chosen)).await?,
                ))
            } else {
                None
            };
            (assignments, assigning)
        }
    };
    Ok(html(
        status,
        pages::fieldwork_page(
            &wave.ctx,
            FieldworkView {
                wave: wave.wave.clone(),
                tallies,
                assignments,
                province_names: state
                    .store
                    .provinces(wave.wave.wave.geography)
                    .await
                    .unwrap_or_default(),
                province,
                provinces,
                assigning,
                error,
            },
        ),
    ))
}

pub async fn fieldwork(
    State(state): State<AppState>,
    wave: InWave<can::Monitor>,
    Query(query): Query<FieldworkQuery>,
) -> StaffResult {
    let province = province_of(wave.province.clone(), query.province)?;
    page(&state, &wave, province, StatusCode::OK, None).await
}

#[derive(Deserialize)]
pub struct AssignForm {
    /// The province whose page the form was on (shown again on a refusal).
    #[serde(default)]
    province: String,
    #[serde(default)]
    worker: String,
    #[serde(default)]
    psu: String,
    #[serde(default)]
    batch: String,
    #[serde(default)]
    count: String,
    #[serde(default)]
    hand_out_on: String,
    #[serde(default)]
    collect_by: String,
}

/// The assignment a form asks for, or what is wrong with it (field and reason).
fn assignment_of(form: &AssignForm, wave: &str, by: i64) -> Result<NewAssignment, Text> {
    let worker = form
        .worker
        .trim()
        .parse::<i64>()
        .map_err(|_| Text::new("nhân viên: hãy chọn một người", "worker: choose one"))?;
    let psu = form.psu.trim();
    if psu.is_empty() {
        return Err(Text::new(
            "xã/phường: hãy chọn một xã/phường",
            "commune: choose one",
        ));
    }
    let forms = match (form.batch.trim(), form.count.trim()) {
        (batch, "") if !batch.is_empty() => AssignedForms::Batch(batch.to_owned()),
        ("", count) if !count.is_empty() => {
            AssignedForms::Paper(count.parse::<i64>().map_err(|_| {
                Text::new(
                    format!("số phiếu: {count:?} không phải là số"),
                    format!("forms: {count:?} is not a number"),
                )
            })?)
        }
        _ => {
            return Err(Text::new(
                "phiếu: chọn một lô mã mời, hoặc nhập số phiếu giấy (không cả hai)",
                "forms: choose a batch of codes or give a number of paper forms (not both)",
            ));
        }
    };
    let (out, by_date) = (form.hand_out_on.trim(), form.collect_by.trim());
    for (name, date) in [("hand_out_on", out), ("collect_by", by_date)] {
        if !valid_date(date) {
            return Err(Text::new(
                format!("{name}: {date:?} không phải ngày (YYYY-MM-DD)"),
                format!("{name}: {date:?} is not a date (YYYY-MM-DD)"),
            ));
        }
    }
    if by_date < out {
        return Err(Text::new(
            "collect_by: ngày thu phải từ ngày phát trở đi",
            "collect_by: collection cannot come before hand-out",
        ));
    }
    Ok(NewAssignment {
        wave_code: wave.to_owned(),
        worker_id: worker,
        psu: psu.to_owned(),
        forms,
        hand_out_on: out.to_owned(),
        collect_by: by_date.to_owned(),
        created_by: by,
    })
}

pub async fn assign(
    State(state): State<AppState>,
    wave: InWave<can::AssignFieldwork>,
    Form(form): Form<AssignForm>,
) -> StaffResult {
    let province = province_of(wave.province.clone(), Some(form.province.clone()))?;
    let show = |message: Text| {
        let text = wave.ctx.t(&message.vi, &message.en).to_owned();
        page(
            &state,
            &wave,
            province.clone(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(text),
        )
    };
    let new = match assignment_of(&form, wave.code(), wave.user.id) {
        Ok(new) => new,
        Err(message) => return show(message).await,
    };
    // An officer assigns only to workers of their province (the store then checks the commune
    // is the worker's).
    let workers = state
        .staff
        .store
        .field_workers(wave.province.as_deref())
        .await?;
    let Some(worker) = workers.into_iter().find(|w| w.id == new.worker_id) else {
        return show(Text::new(
            "nhân viên: không có nhân viên phát, thu phiếu như vậy trong tỉnh của bạn",
            "worker: no such field worker in your province",
        ))
        .await;
    };
    let code = wave.code().to_owned();
    let staff = &wave.allowed.staff;
    let audit = |(psu, count): &(String, i64)| {
        staff.entry(
            AuditAction::FieldworkAssigned,
            Some(&code),
            wave.province.as_deref(),
            format!(
                "giao {count} phiếu của xã {psu} cho {} (phát {}, thu trước {})",
                worker.username, new.hand_out_on, new.collect_by
            ),
        )
    };
    match state.staff.store.assign(&new, &audit).await {
        Ok(_) => {
            staff
                .flash(Text::new("Đã giao phiếu.", "Forms assigned."))
                .await;
            let back = format!(
                "/staff/waves/{code}/fieldwork?province={}",
                worker.province_code
            );
            Ok(Redirect::to(&back).into_response())
        }
        Err(StoreError::Conflict(message)) => show(message).await,
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn marks_name_the_form_and_the_bulk_button_hands_out_what_was_not() {
        let posted = fields(&[
            ("w1", "assigned"),
            ("o1", "assigned"),
            ("w2", "handed_out"),
            ("o2", "collected"),
            ("bulk", "handed_out"),
        ]);
        let marks = marks_of(&posted, &[1, 2]).unwrap();
        assert_eq!(
            marks,
            vec![
                Mark {
                    number: 1,
                    was: Outcome::Assigned,
                    now: Outcome::HandedOut
                },
                Mark {
                    number: 2,
                    was: Outcome::HandedOut,
                    now: Outcome::Collected
                },
            ]
        );
        let err = marks_of(&fields(&[("w9", "assigned"), ("o9", "refused")]), &[1, 2]);
        assert_eq!(err, Err("o9: no such form on this assignment".into()));
        let err = marks_of(&fields(&[("w1", "assigned"), ("o1", "lost")]), &[1]);
        assert_eq!(err, Err("o1: unknown outcome \"lost\"".into()));
        let err = marks_of(&fields(&[("o1", "refused")]), &[1]);
        assert_eq!(err, Err("w1: unknown outcome \"\"".into()));
    }

    #[test]
    fn an_assignment_form_names_what_is_wrong() {
        let form = |batch: &str, count: &str, out: &str, by: &str| AssignForm {
            province: "01".into(),
            worker: "3".into(),
            psu: "00004".into(),
            batch: batch.into(),
            count: count.into(),
            hand_out_on: out.into(),
            collect_by: by.into(),
        };
        let ok = assignment_of(&form("", "30", "2026-10-01", "2026-10-03"), "w", 1).unwrap();
        assert_eq!(ok.forms, AssignedForms::Paper(30));
        let batch = assignment_of(&form("b1", "", "2026-10-01", "2026-10-01"), "w", 1).unwrap();
        assert_eq!(batch.forms, AssignedForms::Batch("b1".into()));
        for (bad, field) in [
            (form("b1", "30", "2026-10-01", "2026-10-03"), "forms"),
            (form("", "", "2026-10-01", "2026-10-03"), "forms"),
            (form("", "x", "2026-10-01", "2026-10-03"), "forms"),
            (form("", "30", "2026-13-01", "2026-10-03"), "hand_out_on"),
            (form("", "30", "2026-10-03", "2026-10-01"), "collect_by"),
        ] {
            let err = assignment_of(&bad, "w", 1).unwrap_err();
            assert!(err.en.starts_with(field), "{field}: {}", err.en);
        }
    }
}
