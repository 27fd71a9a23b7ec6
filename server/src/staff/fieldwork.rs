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
use sipas_app::staff::Action;
use sipas_app::staff::fieldwork::{AssignedForms, MAX_FORMS, Mark, Marked, NewAssignment, Outcome};
use sipas_app::staff::pages::{self, AssignmentForm, FieldworkView};
use sipas_app::staff::port::AuditAction;
use sipas_app::staff::research::valid_date;

use super::error::{StaffError, StaffResult};
use super::guard::{Allowed, InWave, can};
use super::html;
use crate::web::AppState;

/// More fields than an assignment's forms can post (two per form) is not a form of ours.
const MAX_FIELDS: usize = 2 * MAX_FORMS as usize + 8;

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
/// A field that is not a form number, or an outcome we do not know, names the field (the page
/// only offers valid ones: this is for an edited or truncated form).
fn marks_of(fields: &[(String, String)]) -> Result<Vec<Mark>, Text> {
    let bulk = fields.iter().any(|(k, v)| k == "bulk" && v == "handed_out");
    let posted: std::collections::HashMap<&str, &str> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut marks = Vec::new();
    for (key, _) in fields {
        let Some(number) = key.strip_prefix('o') else {
            continue;
        };
        // A number no longer on the assignment (taken back, or its code voided, since the page
        // was shown) is reported by the store as changed elsewhere, not refused here: the
        // worker's other marks are kept.
        let number: i64 = number.parse().map_err(|_| {
            Text::new(
                format!("{key}: không phải một phiếu"),
                format!("{key}: not a form"),
            )
        })?;
        let read = |name: &str| {
            let text = posted.get(name).copied().unwrap_or("");
            Outcome::parse(text).ok_or_else(|| {
                Text::new(
                    format!("{name}: không có kết quả {text:?}; hãy tải lại trang"),
                    format!("{name}: unknown outcome {text:?}; reload the page"),
                )
            })
        };
        let was = read(&format!("w{number}"))?;
        let mut now = read(key)?;
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
    let marks = match marks_of(&fields) {
        Ok(marks) => marks,
        Err(problem) => {
            let problem = problem.pick(staff.ctx.locale).to_owned();
            return Ok(html(
                StatusCode::UNPROCESSABLE_ENTITY,
                pages::field_assignment(&staff.ctx, &assignment, &forms, Some(problem)),
            ));
        }
    };
    let audit = |marked: &Marked| {
        let changes: Vec<String> = marks
            .iter()
            .filter(|m| marked.changed.contains(&m.number))
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
                changes.len(),
                changes.join(", ")
            ),
        )
    };
    let marked = state
        .staff
        .store
        .mark_forms(assignment.id, &marks, staff.user.id, &audit)
        .await?;
    let notice = if marked.stale.is_empty() {
        Text::new(
            format!("Đã lưu {} phiếu.", marked.changed.len()),
            format!("{} forms saved.", marked.changed.len()),
        )
    } else {
        let numbers = marked
            .stale
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        Text::new(
            format!(
                "Đã lưu {} phiếu. Phiếu số {numbers} đã được sửa ở nơi khác trong lúc đó nên được giữ nguyên: hãy xem lại các phiếu này.",
                marked.changed.len()
            ),
            format!(
                "{} forms saved. Forms {numbers} had been changed elsewhere meanwhile and were left as they are: check them.",
                marked.changed.len()
            ),
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

/// A refused assignment form: what was typed and what is wrong with it.
type Refused = (AssignmentForm, String);

async fn page<P>(
    state: &AppState,
    wave: &InWave<P>,
    province: Option<String>,
    status: StatusCode,
    refused: Option<Refused>,
) -> StaffResult {
    let store = &state.staff.store;
    let code = wave.code();
    let mut tallies = store.fieldwork(code, province.as_deref()).await?;
    let frame = store.frame(code, wave.province.as_deref()).await?;
    let mut provinces: Vec<String> = frame.psus.iter().map(|p| p.province_code.clone()).collect();
    provinces.sort();
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
            let assigning = if wave.user.may(Action::AssignFieldwork) {
                let psus = frame
                    .psus
                    .into_iter()
                    .filter(|p| p.province_code == chosen)
                    .collect();
                // Paper imports keep their forms in a batch of their own: nothing to hand out.
                let batches = store
                    .batches(code, Some(chosen))
                    .await?
                    .into_iter()
                    .filter(|b| b.issued_by != "paper-import")
                    .collect();
                Some((store.field_workers(Some(chosen)).await?, psus, batches))
            } else {
                None
            };
            (assignments, assigning)
        }
    };
    let (typed, error) = refused.map_or((AssignmentForm::default(), None), |(t, e)| (t, Some(e)));
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
                can_withdraw: wave.user.may(Action::AssignFieldwork),
                typed,
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

/// The assignment a form asks for, or what is wrong with it (field and reason).
fn assignment_of(form: &AssignmentForm, wave: &str, by: i64) -> Result<NewAssignment, Text> {
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
    let count = match form.count.trim() {
        "" => None,
        count => Some(count.parse::<i64>().map_err(|_| {
            Text::new(
                format!("số phiếu: {count:?} không phải là số"),
                format!("forms: {count:?} is not a number"),
            )
        })?),
    };
    let forms = match (form.batch.trim(), count) {
        ("", Some(count)) => AssignedForms::Paper(count),
        ("", None) => {
            return Err(Text::new(
                "phiếu: chọn một lô mã mời, hoặc nhập số phiếu giấy",
                "forms: choose a batch of codes, or give a number of paper forms",
            ));
        }
        (batch, count) => AssignedForms::Batch {
            id: batch.to_owned(),
            count,
        },
    };
    let (out, by_date) = (form.hand_out_on.trim(), form.collect_by.trim());
    for (vi, en, date) in [
        ("ngày phát", "hand out on", out),
        ("hạn thu", "collect by", by_date),
    ] {
        if !valid_date(date) {
            return Err(Text::new(
                format!("{vi}: {date:?} không phải là ngày"),
                format!("{en}: {date:?} is not a date"),
            ));
        }
    }
    if by_date < out {
        return Err(Text::new(
            "hạn thu: không được trước ngày phát",
            "collect by: cannot come before the hand-out",
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
    Form(form): Form<AssignmentForm>,
) -> StaffResult {
    let province = province_of(wave.province.clone(), Some(form.province.clone()))?;
    let show = |message: Text| {
        let text = wave.ctx.t(&message.vi, &message.en).to_owned();
        page(
            &state,
            &wave,
            province.clone(),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some((form.clone(), text)),
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
            "nhân viên: không có nhân viên phát và thu phiếu như vậy trong tỉnh của bạn",
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
            Some(&worker.province_code),
            format!(
                "giao {count} phiếu của xã {psu} cho {} (phát {}, hạn thu {})",
                worker.username, new.hand_out_on, new.collect_by
            ),
        )
    };
    match state.staff.store.assign(&new, &audit).await {
        Ok(id) => {
            let (given, _) = state.staff.store.assignment(id).await?;
            let range = format!("{}–{}", given.first_form, given.last_form);
            staff
                .flash(Text::new(
                    format!(
                        "Đã giao {} phiếu (số {range}) của {} cho {}.",
                        given.tally.forms, given.psu_name, worker.display_name
                    ),
                    format!(
                        "{} forms (numbers {range}) of {} assigned to {}.",
                        given.tally.forms, given.psu_name, worker.display_name
                    ),
                ))
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

/// Takes the forms not yet handed out off an assignment of the member's province.
pub async fn withdraw(
    State(state): State<AppState>,
    wave: InWave<can::AssignFieldwork>,
    Path((_, id)): Path<(String, String)>,
) -> StaffResult {
    let id: i64 = id.parse().map_err(|_| StaffError::NotFound)?;
    let (assignment, _) = state.staff.store.assignment(id).await?;
    let visible = assignment.wave_code == wave.code()
        && wave
            .province
            .as_deref()
            .is_none_or(|own| own == assignment.province_code);
    if !visible {
        return Err(StaffError::NotFound);
    }
    let staff = &wave.allowed.staff;
    let audit = |taken: &i64| {
        staff.entry(
            AuditAction::FieldworkWithdrawn,
            Some(&assignment.wave_code),
            Some(&assignment.province_code),
            format!(
                "thu hồi {taken} phiếu chưa phát của lần giao {} (xã {}, {})",
                assignment.id, assignment.psu, assignment.worker
            ),
        )
    };
    let taken = state
        .staff
        .store
        .withdraw_unmarked(assignment.id, &audit)
        .await?;
    staff
        .flash(Text::new(
            format!(
                "Đã thu hồi {taken} phiếu chưa phát của {} ({}).",
                assignment.worker, assignment.psu_name
            ),
            format!(
                "{taken} forms not handed out taken back from {} ({}).",
                assignment.worker, assignment.psu_name
            ),
        ))
        .await;
    let back = format!(
        "/staff/waves/{}/fieldwork?province={}",
        assignment.wave_code, assignment.province_code
    );
    Ok(Redirect::to(&back).into_response())
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
        let marks = marks_of(&posted).unwrap();
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
        let en = |posted: &[(&str, &str)]| marks_of(&fields(posted)).map_err(|e| e.en);
        // A number not (or no longer) on the assignment is the store's to report.
        assert_eq!(
            en(&[("w9", "assigned"), ("o9", "refused")]).map(|m| m.len()),
            Ok(1)
        );
        assert_eq!(
            en(&[("w1", "assigned"), ("ox", "refused")]),
            Err("ox: not a form".into())
        );
        assert_eq!(
            en(&[("w1", "assigned"), ("o1", "lost")]),
            Err("o1: unknown outcome \"lost\"; reload the page".into())
        );
        assert_eq!(
            en(&[("o1", "refused")]),
            Err("w1: unknown outcome \"\"; reload the page".into())
        );
    }

    #[test]
    fn an_assignment_form_names_what_is_wrong() {
        let form = |batch: &str, count: &str, out: &str, by: &str| AssignmentForm {
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
        let all = assignment_of(&form("b1", "", "2026-10-01", "2026-10-01"), "w", 1).unwrap();
        let batch = |count| AssignedForms::Batch {
            id: "b1".into(),
            count,
        };
        assert_eq!(all.forms, batch(None));
        let some = assignment_of(&form("b1", "12", "2026-10-01", "2026-10-01"), "w", 1).unwrap();
        assert_eq!(some.forms, batch(Some(12)));
        for (bad, field) in [
            (form("", "", "2026-10-01", "2026-10-03"), "forms"),
            (form("", "x", "2026-10-01", "2026-10-03"), "forms"),
            (form("", "30", "2026-13-01", "2026-10-03"), "hand out on"),
            (form("", "30", "2026-10-03", "2026-10-01"), "collect by"),
        ] {
            let err = assignment_of(&bad, "w", 1).unwrap_err();
            assert!(err.en.starts_with(field), "{field}: {}", err.en);
        }
    }
}
