//! Double data entry ([`Keyed`]): each entry is one write transaction that also decides what
//! the form becomes. On SQLite write transactions are serial (`begin_write`); on PostgreSQL the
//! wave's row is locked (`lock_wave`), as for an import: two clerks saving the same form at
//! once are taken one after the other, so one is the first entry and the other the second.
//! A form becomes a response through the import's own code (`collected::import_one`), so a
//! keyed form and an imported one are checked and stored alike.

use sipas_app::domain::Wave;
use sipas_app::ports::{StoreError, StoreResult};
use sipas_app::staff::keying::{Entry, FormStatus, Keyed, KeyedForm, differing};
use sipas_app::staff::port::{AuditOf, PaperRecord, PaperTarget, RowOutcome};
use sqlx::AnyConnection;

use super::audit::record as audit_record;
use super::collected::{ImportContext, import_one};
use super::sql::{
    SqlStore, WAVE_COLUMNS, answers_json, begin_write, db_error, lock_wave, now_rfc3339,
    parse_answers, wave_from_row,
};

/// The form's key: its code's hash, or its commune and number.
fn form_key(target: &PaperTarget) -> String {
    match target {
        PaperTarget::Code { code_hash } => format!("code:{code_hash}"),
        PaperTarget::Point { psu, form_id } => format!("point:{psu}/{form_id}"),
    }
}

#[derive(sqlx::FromRow)]
struct FormRow {
    id: i64,
    province_code: String,
    code_hash: Option<String>,
    psu: Option<String>,
    form_number: Option<String>,
    status: String,
    updated_at: String,
}

const FORM_COLUMNS: &str = "SELECT id, province_code, code_hash, psu, form_number, status, \
     updated_at FROM paper_forms";

async fn entries(conn: &mut AnyConnection, form: i64) -> StoreResult<Vec<Entry>> {
    sqlx::query_as::<_, (i64, String, String, String)>(
        "SELECT e.clerk_id, s.username, e.answers, e.entered_at FROM paper_entries e \
         JOIN staff_users s ON s.id = e.clerk_id WHERE e.paper_form = $1 ORDER BY e.entered_at",
    )
    .bind(form)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?
    .into_iter()
    .map(|(clerk_id, clerk, answers, entered_at)| {
        Ok(Entry {
            clerk_id,
            clerk,
            answers: parse_answers(&answers)?,
            entered_at,
        })
    })
    .collect()
}

async fn form_of(conn: &mut AnyConnection, row: FormRow) -> StoreResult<KeyedForm> {
    let status = FormStatus::parse(&row.status)
        .ok_or_else(|| StoreError::Backend(format!("unknown form status {:?}", row.status)))?;
    Ok(KeyedForm {
        entries: entries(conn, row.id).await?,
        id: row.id,
        province_code: row.province_code,
        psu: row.psu.unwrap_or_default(),
        form_number: row.form_number.unwrap_or_default(),
        code_hash: row.code_hash,
        status,
        updated_at: row.updated_at,
    })
}

/// Where a form is: its province and commune (from its code, or from the frame).
async fn place(
    conn: &mut AnyConnection,
    context: &ImportContext,
    target: &PaperTarget,
) -> StoreResult<Option<(String, String)>> {
    Ok(match target {
        PaperTarget::Code { code_hash } => sqlx::query_as::<_, (String, String)>(
            "SELECT province_code, psu FROM invitation_codes WHERE code_hash = $1",
        )
        .bind(code_hash)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?,
        PaperTarget::Point { psu, .. } => context
            .places
            .get(psu)
            .map(|(province, _)| (province.clone(), psu.clone())),
    })
}

impl SqlStore {
    async fn wave_for_keying(&self, wave_code: &str) -> StoreResult<Wave> {
        wave_from_row(
            sqlx::query_as::<_, super::sql::WaveRow>(&format!("{WAVE_COLUMNS} WHERE code = $1"))
                .bind(wave_code)
                .fetch_optional(self.pool())
                .await
                .map_err(db_error)?
                .ok_or(StoreError::NotFound)?,
        )
    }

    pub(super) async fn key(
        &self,
        wave_code: &str,
        province: Option<&str>,
        record: &PaperRecord,
        clerk: i64,
        audit: &AuditOf<'_, Keyed>,
    ) -> StoreResult<Keyed> {
        let wave = self.wave_for_keying(wave_code).await?;
        let now = now_rfc3339()?;
        let mut tx = begin_write(self.pool()).await.map_err(db_error)?;
        lock_wave(&mut tx, self.engine_kind(), wave_code).await?;
        let mut context = ImportContext::load(&mut tx, wave_code).await?;
        // The import's checks first (the code exists, is this wave's and province's, is not
        // answered): a form it would refuse is refused before anything is kept.
        match import_one(&mut tx, &mut context, &wave, province, record, true, &now).await? {
            RowOutcome::New => {}
            RowOutcome::AlreadyImported => return Ok(Keyed::AlreadyStored),
            refused => return Ok(Keyed::Refused(refused)),
        }
        let Some((province_code, psu)) = place(&mut tx, &context, &record.target).await? else {
            return Err(StoreError::NotFound);
        };
        let key = form_key(&record.target);
        let (code_hash, form_number) = match &record.target {
            PaperTarget::Code { code_hash } => (Some(code_hash.as_str()), None),
            PaperTarget::Point { form_id, .. } => (None, Some(form_id.as_str())),
        };
        sqlx::query(
            "INSERT INTO paper_forms (wave_code, form_key, province_code, code_hash, psu, \
             form_number, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'keyed_once', $7, $7) \
             ON CONFLICT (wave_code, form_key) DO NOTHING",
        )
        .bind(wave_code)
        .bind(&key)
        .bind(&province_code)
        .bind(code_hash)
        .bind(&psu)
        .bind(form_number)
        .bind(&now)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let row = sqlx::query_as::<_, FormRow>(&format!(
            "{FORM_COLUMNS} WHERE wave_code = $1 AND form_key = $2"
        ))
        .bind(wave_code)
        .bind(&key)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        let form = form_of(&mut tx, row).await?;
        let outcome = match (form.status, &form.entries[..]) {
            (FormStatus::Stored, _) => Keyed::AlreadyStored,
            (_, entries) if entries.iter().any(|e| e.clerk_id == clerk) => Keyed::SameClerk,
            (FormStatus::Differs, _) | (_, [_, _, ..]) => {
                Keyed::AwaitingSupervisor { form: form.id }
            }
            (FormStatus::KeyedOnce, entries) => {
                sqlx::query(
                    "INSERT INTO paper_entries (paper_form, clerk_id, answers, entered_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(form.id)
                .bind(clerk)
                .bind(answers_json(&record.answers)?)
                .bind(&now)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
                match entries.first() {
                    None => Keyed::FirstEntry,
                    Some(first) => {
                        let questionnaire = self.questionnaire_of(&wave).await?;
                        let items = differing(&questionnaire, &first.answers, &record.answers);
                        if items.is_empty() {
                            self.store_form(&mut tx, &mut context, &wave, form.id, record, &now)
                                .await?
                        } else {
                            set_status(&mut tx, form.id, FormStatus::Differs, &now).await?;
                            Keyed::Differs {
                                form: form.id,
                                items,
                            }
                        }
                    }
                }
            }
        };
        if matches!(
            outcome,
            Keyed::FirstEntry | Keyed::Stored | Keyed::Differs { .. }
        ) {
            audit_record(&mut tx, &audit(&outcome)).await?;
            tx.commit().await.map_err(db_error)?;
        } else {
            tx.rollback().await.map_err(db_error)?;
        }
        Ok(outcome)
    }

    /// The questionnaire a wave answers (read outside the transaction's connection: it is
    /// immutable once published).
    async fn questionnaire_of(
        &self,
        wave: &Wave,
    ) -> StoreResult<sipas_app::survey::questionnaire::Questionnaire> {
        let reference = wave.questionnaire.as_ref().ok_or(StoreError::NotFound)?;
        sipas_app::ports::Store::questionnaire(self, &reference.code, reference.version).await
    }

    /// Stores the form as a response through the import and marks it stored.
    async fn store_form(
        &self,
        conn: &mut AnyConnection,
        context: &mut ImportContext,
        wave: &Wave,
        form: i64,
        record: &PaperRecord,
        now: &str,
    ) -> StoreResult<Keyed> {
        match import_one(conn, context, wave, None, record, false, now).await? {
            RowOutcome::New => {}
            refused => return Ok(Keyed::Refused(refused)),
        }
        context.finish(conn).await?;
        sqlx::query(
            "UPDATE paper_forms SET status = 'stored', receipt = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(&record.receipt)
        .bind(now)
        .bind(form)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
        Ok(Keyed::Stored)
    }

    pub(super) async fn forms(
        &self,
        wave_code: &str,
        province: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<KeyedForm>> {
        let mut conn = self.pool().acquire().await.map_err(db_error)?;
        let rows = sqlx::query_as::<_, FormRow>(&format!(
            "{FORM_COLUMNS} WHERE wave_code = $1 AND ($2 = '' OR province_code = $2) \
             ORDER BY CASE status WHEN 'differs' THEN 0 WHEN 'keyed_once' THEN 1 ELSE 2 END, \
             updated_at DESC LIMIT $3"
        ))
        .bind(wave_code)
        .bind(super::field::province_param(province))
        .bind(i64::from(limit.clamp(1, 10_000)))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
        let mut forms = Vec::with_capacity(rows.len());
        for row in rows {
            forms.push(form_of(&mut conn, row).await?);
        }
        Ok(forms)
    }

    pub(super) async fn form(&self, wave_code: &str, id: i64) -> StoreResult<KeyedForm> {
        let mut conn = self.pool().acquire().await.map_err(db_error)?;
        let row = sqlx::query_as::<_, FormRow>(&format!(
            "{FORM_COLUMNS} WHERE wave_code = $1 AND id = $2"
        ))
        .bind(wave_code)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?
        .ok_or(StoreError::NotFound)?;
        form_of(&mut conn, row).await
    }

    pub(super) async fn resolve(
        &self,
        wave_code: &str,
        id: i64,
        record: &PaperRecord,
        supervisor: i64,
        audit: &AuditOf<'_, Keyed>,
    ) -> StoreResult<Keyed> {
        let wave = self.wave_for_keying(wave_code).await?;
        let now = now_rfc3339()?;
        let mut tx = begin_write(self.pool()).await.map_err(db_error)?;
        lock_wave(&mut tx, self.engine_kind(), wave_code).await?;
        let row = sqlx::query_as::<_, FormRow>(&format!(
            "{FORM_COLUMNS} WHERE wave_code = $1 AND id = $2"
        ))
        .bind(wave_code)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?
        .ok_or(StoreError::NotFound)?;
        let form = form_of(&mut tx, row).await?;
        if form.entries.iter().any(|e| e.clerk_id == supervisor) {
            return Ok(Keyed::SameClerk);
        }
        match form.status {
            FormStatus::Stored => return Ok(Keyed::AlreadyStored),
            FormStatus::KeyedOnce => return Ok(Keyed::FirstEntry),
            FormStatus::Differs => {}
        }
        if record.target != form.target() {
            return Err(StoreError::Backend(
                "the resolved record is not this form's".into(),
            ));
        }
        let mut context = ImportContext::load(&mut tx, wave_code).await?;
        let outcome = self
            .store_form(&mut tx, &mut context, &wave, form.id, record, &now)
            .await?;
        if outcome != Keyed::Stored {
            tx.rollback().await.map_err(db_error)?;
            return Ok(outcome);
        }
        sqlx::query("UPDATE paper_forms SET resolved_by = $1 WHERE id = $2")
            .bind(supervisor)
            .bind(form.id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        audit_record(&mut tx, &audit(&outcome)).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(outcome)
    }
}

async fn set_status(
    conn: &mut AnyConnection,
    form: i64,
    status: FormStatus,
    now: &str,
) -> StoreResult<()> {
    sqlx::query("UPDATE paper_forms SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(status.key())
        .bind(now)
        .bind(form)
        .execute(&mut *conn)
        .await
        .map_err(db_error)
        .map(|_| ())
}
