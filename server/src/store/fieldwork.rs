//! Fieldwork ([`FieldworkStore`]): assignments of a commune's forms to field workers, and the
//! outcome of each form. An assignment is one write transaction with the wave's lock (as an
//! issued batch is), so two assignments of the same commune never number paper forms alike and
//! a code is never on two assignments (also a UNIQUE column). A worker's marks change a form
//! only if it is still as their page showed it.

use std::collections::BTreeMap;

use async_trait::async_trait;
use sipas_app::i18n::Text;
use sipas_app::ports::{StoreError, StoreResult};
use sipas_app::staff::fieldwork::{
    AssignedForm, AssignedForms, Assignment, FieldworkStore, FieldworkTallies, MAX_FORMS, Mark,
    Marked, NewAssignment, Outcome, Tally, Worker,
};
use sipas_app::staff::port::AuditOf;

use super::audit::record;
use super::field::province_param;
use super::sql::{SqlStore, begin_write, db_error, lock_wave, now_rfc3339};

fn refused(vi: String, en: String) -> StoreError {
    StoreError::Conflict(Text::new(vi, en))
}

fn outcome(key: &str) -> StoreResult<Outcome> {
    Outcome::parse(key).ok_or_else(|| StoreError::Backend(format!("unknown outcome {key:?}")))
}

/// A form's response, if it came back: on its code (`r`: online, or a paper form keyed by its
/// code) or as a numbered paper form imported or keyed (`p`, by its import key); and its code
/// (`c`), whose voiding takes the form off the assignment.
const FORM_JOINS: &str = "LEFT JOIN responses r ON r.code_hash = f.code_hash \
     LEFT JOIN responses p ON p.import_key = f.import_key \
     LEFT JOIN invitation_codes c ON c.code_hash = f.code_hash";

/// Whether a form came back, and whether on the web survey: two 0/1 columns (cast, so both
/// engines return 64-bit integers).
const ANSWERED: &str = "CAST(CASE WHEN r.receipt IS NULL AND p.receipt IS NULL THEN 0 ELSE 1 END \
     AS BIGINT), \
     CAST(CASE WHEN r.channel IN ('online', 'form', 'outbox') THEN 1 ELSE 0 END AS BIGINT)";

/// The key the paper import and keying give a numbered paper form (`collected::import_one`).
fn paper_key(wave_code: &str, psu: &str, number: i64) -> String {
    sipas_app::survey::codes::sha256_hex(format!("{wave_code}\u{1f}{psu}\u{1f}{number}").as_bytes())
}

/// Refuses a change to an assignment of a closed wave (its outcomes are final: its rates may be
/// published); `NotFound` for no such assignment. Takes the wave's lock first (PostgreSQL), so
/// a change is ordered with the wave's closing and with imports of its forms.
async fn still_open(
    conn: &mut sqlx::AnyConnection,
    engine: super::Engine,
    assignment: i64,
) -> StoreResult<()> {
    let wave: String = sqlx::query_scalar("SELECT wave_code FROM field_assignments WHERE id = $1")
        .bind(assignment)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?
        .ok_or(StoreError::NotFound)?;
    lock_wave(conn, engine, &wave).await?;
    let closed: Option<String> = sqlx::query_scalar("SELECT closed_at FROM waves WHERE code = $1")
        .bind(&wave)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_error)?;
    match closed {
        Some(_) => Err(refused(
            "Đợt đã đóng: kết quả phát, thu phiếu không sửa được nữa.".into(),
            "The wave is closed: its form outcomes can no longer change.".into(),
        )),
        None => Ok(()),
    }
}

#[derive(sqlx::FromRow)]
struct AssignmentRow {
    id: i64,
    wave_code: String,
    worker_id: i64,
    worker: String,
    province_code: String,
    psu: String,
    psu_name: String,
    batch: Option<String>,
    first_form: i64,
    last_form: i64,
    hand_out_on: String,
    collect_by: String,
    created_by: String,
    created_at: String,
}

/// Filters of [`SqlStore::assignment_list`]: empty or 0 for "any".
const ASSIGNMENT_FILTER: &str = "($1 = '' OR a.wave_code = $1) AND ($2 = '' OR a.province_code = \
     $2) AND ($3 = 0 OR a.worker_id = $3) AND ($4 = 0 OR a.id = $4)";

impl SqlStore {
    async fn assignment_list(
        &self,
        wave_code: Option<&str>,
        province: Option<&str>,
        worker: i64,
        id: i64,
    ) -> StoreResult<Vec<Assignment>> {
        let rows = sqlx::query_as::<_, AssignmentRow>(&format!(
            "SELECT a.id, a.wave_code, a.worker_id, w.username AS worker, a.province_code, \
             a.psu, COALESCE(p.name, a.psu) AS psu_name, a.batch, a.first_form, a.last_form, \
             a.hand_out_on, a.collect_by, c.username AS created_by, a.created_at \
             FROM field_assignments a JOIN staff_users w ON w.id = a.worker_id \
             JOIN staff_users c ON c.id = a.created_by \
             LEFT JOIN frame_psus p ON p.wave_code = a.wave_code AND p.psu = a.psu \
             WHERE {ASSIGNMENT_FILTER} ORDER BY a.hand_out_on DESC, a.id DESC"
        ))
        .bind(wave_code.unwrap_or(""))
        .bind(province_param(province))
        .bind(worker)
        .bind(id)
        .fetch_all(self.pool())
        .await
        .map_err(db_error)?;
        let counts = sqlx::query_as::<_, (i64, String, i64, i64, i64)>(&format!(
            "SELECT f.assignment_id, f.outcome, {ANSWERED}, COUNT(*) FROM assignment_forms f \
             JOIN field_assignments a ON a.id = f.assignment_id {FORM_JOINS} \
             WHERE {ASSIGNMENT_FILTER} AND c.voided_at IS NULL GROUP BY 1, 2, 3, 4"
        ))
        .bind(wave_code.unwrap_or(""))
        .bind(province_param(province))
        .bind(worker)
        .bind(id)
        .fetch_all(self.pool())
        .await
        .map_err(db_error)?;
        let mut tallies: BTreeMap<i64, Tally> = BTreeMap::new();
        for (assignment, key, answered, online, n) in counts {
            tallies.entry(assignment).or_default().add(
                outcome(&key)?,
                n,
                answered == 1,
                online == 1,
            );
        }
        Ok(rows
            .into_iter()
            .map(|row| Assignment {
                tally: tallies.remove(&row.id).unwrap_or_default(),
                id: row.id,
                wave_code: row.wave_code,
                worker_id: row.worker_id,
                worker: row.worker,
                province_code: row.province_code,
                psu: row.psu,
                psu_name: row.psu_name,
                batch: row.batch,
                first_form: row.first_form,
                last_form: row.last_form,
                hand_out_on: row.hand_out_on,
                collect_by: row.collect_by,
                created_by: row.created_by,
                created_at: row.created_at,
            })
            .collect())
    }
}

#[async_trait]
impl FieldworkStore for SqlStore {
    async fn field_workers(&self, province: Option<&str>) -> StoreResult<Vec<Worker>> {
        let rows = sqlx::query_as::<_, (i64, String, String, String, i64)>(
            "SELECT id, username, display_name, province_code, active FROM staff_users \
             WHERE role = 'field' AND ($1 = '' OR province_code = $1) ORDER BY username",
        )
        .bind(province_param(province))
        .fetch_all(self.pool())
        .await
        .map_err(db_error)?;
        let mut communes: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for (user, psu) in sqlx::query_as::<_, (i64, String)>(
            "SELECT user_id, psu FROM staff_communes ORDER BY user_id, psu",
        )
        .fetch_all(self.pool())
        .await
        .map_err(db_error)?
        {
            communes.entry(user).or_default().push(psu);
        }
        Ok(rows
            .into_iter()
            .map(
                |(id, username, display_name, province_code, active)| Worker {
                    communes: communes.remove(&id).unwrap_or_default(),
                    id,
                    username,
                    display_name,
                    province_code,
                    active: active == 1,
                },
            )
            .collect())
    }

    async fn assign(
        &self,
        new: &NewAssignment,
        audit: &AuditOf<'_, (String, i64)>,
    ) -> StoreResult<i64> {
        let now = now_rfc3339()?;
        let mut tx = begin_write(self.pool()).await.map_err(db_error)?;
        lock_wave(&mut tx, self.engine_kind(), &new.wave_code).await?;
        let (geography, closed): (String, Option<String>) =
            sqlx::query_as("SELECT geography, closed_at FROM waves WHERE code = $1")
                .bind(&new.wave_code)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?
                .ok_or(StoreError::NotFound)?;
        if closed.is_some() {
            return Err(refused("Đợt đã đóng.".into(), "The wave is closed.".into()));
        }
        let worker: Option<(String, Option<String>, Option<String>, i64)> = sqlx::query_as(
            "SELECT role, province_geography, province_code, active FROM staff_users \
             WHERE id = $1",
        )
        .bind(new.worker_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let Some((_, _, Some(worker_province), _)) =
            worker.clone().filter(|(role, geo, _, active)| {
                role == "field" && geo.as_deref() == Some(geography.as_str()) && *active == 1
            })
        else {
            return Err(refused(
                "nhân viên: không có nhân viên phát, thu phiếu đang hoạt động như vậy cho bản đồ \
                 hành chính của đợt"
                    .into(),
                "worker: no such active field worker on the wave's map".into(),
            ));
        };
        let place: Option<String> = sqlx::query_scalar(
            "SELECT province_code FROM frame_psus WHERE wave_code = $1 AND psu = $2",
        )
        .bind(&new.wave_code)
        .bind(&new.psu)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let psu = &new.psu;
        if place.as_deref() != Some(worker_province.as_str()) {
            return Err(refused(
                format!("xã/phường: {psu:?} không có trong dàn mẫu của tỉnh {worker_province}"),
                format!("commune: {psu:?} is not in province {worker_province}'s sample frame"),
            ));
        }
        let restricted: Vec<String> =
            sqlx::query_scalar("SELECT psu FROM staff_communes WHERE user_id = $1")
                .bind(new.worker_id)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?;
        if !restricted.is_empty() && !restricted.contains(psu) {
            return Err(refused(
                format!(
                    "xã/phường: nhân viên này chỉ làm ở {}",
                    restricted.join(", ")
                ),
                format!(
                    "commune: this worker works only in {}",
                    restricted.join(", ")
                ),
            ));
        }
        // The forms: (number, code hash, import key).
        let forms: Vec<(i64, Option<String>, Option<String>)> = match &new.forms {
            AssignedForms::Batch { id: batch, count } => {
                let codes = sqlx::query_as::<_, (i64, String)>(
                    "SELECT c.serial, c.code_hash FROM invitation_codes c \
                     WHERE c.batch = $1 AND c.wave_code = $2 AND c.psu = $3 \
                     AND c.voided_at IS NULL AND c.serial IS NOT NULL \
                     AND NOT EXISTS (SELECT 1 FROM assignment_forms f \
                                     WHERE f.code_hash = c.code_hash) \
                     ORDER BY c.serial",
                )
                .bind(batch)
                .bind(&new.wave_code)
                .bind(psu)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?;
                let available = i64::try_from(codes.len()).unwrap_or(i64::MAX);
                let too_many = match count {
                    Some(n) => !(1..=MAX_FORMS).contains(n),
                    None => available > MAX_FORMS,
                };
                if too_many {
                    return Err(refused(
                        format!(
                            "số phiếu: một lần giao từ 1 đến {MAX_FORMS} phiếu; hãy nhập số mã cần giao"
                        ),
                        format!(
                            "forms: one assignment holds 1 to {MAX_FORMS} forms; give the number of codes to assign"
                        ),
                    ));
                }
                let wanted = count.unwrap_or(available);
                codes
                    .into_iter()
                    .take(usize::try_from(wanted).unwrap_or(usize::MAX))
                    .map(|(serial, hash)| (serial, Some(hash), None))
                    .collect()
            }
            AssignedForms::Paper(count) => {
                if !(1..=MAX_FORMS).contains(count) {
                    return Err(refused(
                        format!("số phiếu: từ 1 đến {MAX_FORMS}"),
                        format!("forms: from 1 to {MAX_FORMS}"),
                    ));
                }
                // Numbered on from the commune's last paper form, assigned or keyed, so the
                // number a clerk keys with the commune names one form.
                let assigned: i64 = sqlx::query_scalar(
                    "SELECT CAST(COALESCE(MAX(last_form), 0) AS BIGINT) FROM field_assignments \
                     WHERE wave_code = $1 AND psu = $2 AND batch IS NULL",
                )
                .bind(&new.wave_code)
                .bind(psu)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error)?;
                let keyed: Vec<Option<String>> = sqlx::query_scalar(
                    "SELECT form_number FROM paper_forms WHERE wave_code = $1 AND psu = $2",
                )
                .bind(&new.wave_code)
                .bind(psu)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?;
                // A number far past what was assigned is a typing slip, not a form.
                let plausible = assigned.saturating_add(MAX_FORMS);
                let last = keyed
                    .iter()
                    .filter_map(|n| n.as_deref()?.trim().parse::<i64>().ok())
                    .filter(|n| (1..=plausible).contains(n))
                    .fold(assigned, i64::max);
                (last + 1..=last + count)
                    .map(|n| (n, None, Some(paper_key(&new.wave_code, psu, n))))
                    .collect()
            }
        };
        let (Some(first), Some(last)) = (forms.first(), forms.last()) else {
            let batch = match &new.forms {
                AssignedForms::Batch { id, .. } => id.as_str(),
                AssignedForms::Paper(_) => "",
            };
            return Err(refused(
                format!("lô: lô {batch:?} không còn mã nào chưa giao, chưa hủy ở xã/phường {psu}"),
                format!(
                    "batch: batch {batch:?} has no unassigned, unvoided codes in commune {psu}"
                ),
            ));
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO field_assignments (wave_code, worker_id, province_code, psu, batch, \
             first_form, last_form, hand_out_on, collect_by, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(&new.wave_code)
        .bind(new.worker_id)
        .bind(&worker_province)
        .bind(psu)
        .bind(match &new.forms {
            AssignedForms::Batch { id, .. } => Some(id.clone()),
            AssignedForms::Paper(_) => None,
        })
        .bind(first.0)
        .bind(last.0)
        .bind(&new.hand_out_on)
        .bind(&new.collect_by)
        .bind(new.created_by)
        .bind(&now)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        // Many rows a statement, within both engines' limits on parameters.
        for chunk in forms.chunks(300) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let p = i * 4;
                    format!("(${}, ${}, ${}, ${})", p + 1, p + 2, p + 3, p + 4)
                })
                .collect();
            let sql = format!(
                "INSERT INTO assignment_forms (assignment_id, form_number, code_hash, import_key) \
                 VALUES {}",
                rows.join(", ")
            );
            let mut insert = sqlx::query(&sql);
            for (number, hash, key) in chunk {
                insert = insert
                    .bind(id)
                    .bind(*number)
                    .bind(hash.clone())
                    .bind(key.clone());
            }
            insert.execute(&mut *tx).await.map_err(db_error)?;
        }
        let count = i64::try_from(forms.len()).unwrap_or(i64::MAX);
        record(&mut tx, &audit(&(psu.clone(), count))).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(id)
    }

    async fn assignments(
        &self,
        wave_code: Option<&str>,
        province: Option<&str>,
        worker: Option<i64>,
    ) -> StoreResult<Vec<Assignment>> {
        self.assignment_list(wave_code, province, worker.unwrap_or(0), 0)
            .await
    }

    async fn assignment(&self, id: i64) -> StoreResult<(Assignment, Vec<AssignedForm>)> {
        let assignment = self
            .assignment_list(None, None, 0, id)
            .await?
            .into_iter()
            .find(|a| a.id == id)
            .ok_or(StoreError::NotFound)?;
        let forms = sqlx::query_as::<_, (i64, String, i64, i64, Option<String>)>(&format!(
            "SELECT f.form_number, f.outcome, {ANSWERED}, f.marked_at FROM assignment_forms f \
             {FORM_JOINS} WHERE f.assignment_id = $1 AND c.voided_at IS NULL \
             ORDER BY f.form_number"
        ))
        .bind(id)
        .fetch_all(self.pool())
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|(number, key, answered, online, marked_at)| {
            Ok(AssignedForm {
                number,
                outcome: outcome(&key)?,
                answered: answered == 1,
                online: online == 1,
                marked_at,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        Ok((assignment, forms))
    }

    async fn mark_forms(
        &self,
        assignment: i64,
        marks: &[Mark],
        by: i64,
        audit: &AuditOf<'_, Marked>,
    ) -> StoreResult<Marked> {
        let now = now_rfc3339()?;
        let mut tx = begin_write(self.pool()).await.map_err(db_error)?;
        still_open(&mut tx, self.engine_kind(), assignment).await?;
        let mut marked = Marked::default();
        for mark in marks.iter().filter(|m| m.was != m.now) {
            let done = sqlx::query(
                "UPDATE assignment_forms SET outcome = $1, marked_at = $2, marked_by = $3 \
                 WHERE assignment_id = $4 AND form_number = $5 AND outcome = $6",
            )
            .bind(mark.now.key())
            .bind(&now)
            .bind(by)
            .bind(assignment)
            .bind(mark.number)
            .bind(mark.was.key())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
            if done == 1 {
                marked.changed.push(mark.number);
                continue;
            }
            // Not as the page showed it: already what was asked (the same save sent twice, on
            // a slow network), or changed to something else meanwhile.
            let current: Option<String> = sqlx::query_scalar(
                "SELECT outcome FROM assignment_forms WHERE assignment_id = $1 AND form_number = $2",
            )
            .bind(assignment)
            .bind(mark.number)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
            if current.as_deref() != Some(mark.now.key()) {
                marked.stale.push(mark.number);
            }
        }
        if !marked.changed.is_empty() {
            record(&mut tx, &audit(&marked)).await?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(marked)
    }

    async fn withdraw_unmarked(
        &self,
        assignment: i64,
        audit: &AuditOf<'_, i64>,
    ) -> StoreResult<i64> {
        let mut tx = begin_write(self.pool()).await.map_err(db_error)?;
        still_open(&mut tx, self.engine_kind(), assignment).await?;
        // A form that came back stays, whatever its mark.
        let taken = sqlx::query(
            "DELETE FROM assignment_forms WHERE assignment_id = $1 AND outcome = 'assigned' \
             AND NOT EXISTS (SELECT 1 FROM responses r \
                             WHERE r.code_hash = assignment_forms.code_hash) \
             AND NOT EXISTS (SELECT 1 FROM responses p \
                             WHERE p.import_key = assignment_forms.import_key)",
        )
        .bind(assignment)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        let taken = i64::try_from(taken).unwrap_or(i64::MAX);
        if taken > 0 {
            record(&mut tx, &audit(&taken)).await?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(taken)
    }

    async fn fieldwork(
        &self,
        wave_code: &str,
        province: Option<&str>,
    ) -> StoreResult<FieldworkTallies> {
        let rows = sqlx::query_as::<_, (String, String, i64, String, i64, i64, i64)>(&format!(
            "SELECT a.province_code, a.psu, a.worker_id, f.outcome, {ANSWERED}, COUNT(*) \
             FROM assignment_forms f JOIN field_assignments a ON a.id = f.assignment_id \
             {FORM_JOINS} WHERE a.wave_code = $1 AND ($2 = '' OR a.province_code = $2) \
             AND c.voided_at IS NULL GROUP BY 1, 2, 3, 4, 5, 6"
        ))
        .bind(wave_code)
        .bind(province_param(province))
        .fetch_all(self.pool())
        .await
        .map_err(db_error)?;
        let names: BTreeMap<String, String> = sqlx::query_as::<_, (String, String)>(
            "SELECT psu, name FROM frame_psus WHERE wave_code = $1",
        )
        .bind(wave_code)
        .fetch_all(self.pool())
        .await
        .map_err(db_error)?
        .into_iter()
        .collect();
        let mut provinces: BTreeMap<String, Tally> = BTreeMap::new();
        let mut communes: BTreeMap<String, (String, Tally)> = BTreeMap::new();
        let mut workers: BTreeMap<i64, (String, Tally)> = BTreeMap::new();
        for (province, psu, worker, key, answered, online, n) in rows {
            let outcome = outcome(&key)?;
            let (answered, online) = (answered == 1, online == 1);
            provinces
                .entry(province.clone())
                .or_default()
                .add(outcome, n, answered, online);
            communes
                .entry(psu)
                .or_insert_with(|| (province.clone(), Tally::default()))
                .1
                .add(outcome, n, answered, online);
            workers
                .entry(worker)
                .or_insert_with(|| (province, Tally::default()))
                .1
                .add(outcome, n, answered, online);
        }
        let people: BTreeMap<i64, (String, String)> = sqlx::query_as::<_, (i64, String, String)>(
            "SELECT id, username, display_name FROM staff_users WHERE role = 'field'",
        )
        .fetch_all(self.pool())
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|(id, username, name)| (id, (username, name)))
        .collect();
        let mut workers: Vec<(i64, String, String, String, Tally)> = workers
            .into_iter()
            .map(|(id, (province, tally))| {
                let (username, name) = people.get(&id).cloned().unwrap_or_default();
                (id, username, name, province, tally)
            })
            .collect();
        workers.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(FieldworkTallies {
            provinces: provinces.into_iter().collect(),
            communes: communes
                .into_iter()
                .map(|(psu, (province, tally))| {
                    let name = names.get(&psu).cloned().unwrap_or_else(|| psu.clone());
                    (province, psu, name, tally)
                })
                .collect(),
            workers,
        })
    }
}
