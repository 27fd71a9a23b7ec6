//! The staff side's queries ([`StaffStore`]), shared by both engines like `sql.rs`.
//!
//! Monitoring and batch counts are GROUP BY queries; exports read keyset pages; the audit log
//! has an INSERT and a SELECT and nothing else.

use async_trait::async_trait;
use sipas_app::domain::Wave;
use sipas_app::ports::{StoreError, StoreResult};
use sipas_app::staff::frame::{Frame, FramePsu, FrameStratum};
use sipas_app::staff::port::{
    AnswersRow, AuditEntry, AuditFilter, AuditOf, AuditRecord, BatchSummary, ChannelCounts,
    ExportRow, Monitoring, NewBatch, NewUser, PaperRecord, PaperTarget, ProvinceProgress,
    PsuProgress, RowOutcome, StaffStore, WaveDetails, WaveSchedule,
};
use sipas_app::staff::roles::{ProvinceRef, Role, StaffUser};
use sipas_app::survey::codes::sha256_hex;
use sqlx::AnyConnection;

use super::sql::{
    SqlStore, WAVE_COLUMNS, answers_json, db_error, now_rfc3339, parse_answers, parse_geography,
    parse_version, wave_from_row,
};
use super::submissions::vietnam_date;

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    username: String,
    display_name: String,
    role: String,
    province_geography: Option<String>,
    province_code: Option<String>,
    credentials_version: i64,
    active: i64,
    created_at: String,
}

const USER_COLUMNS: &str = "SELECT id, username, display_name, role, province_geography, \
     province_code, credentials_version, active, created_at FROM staff_users";

fn user_from_row(row: UserRow) -> StoreResult<StaffUser> {
    let UserRow {
        id,
        username,
        display_name,
        role,
        province_geography: geography,
        province_code: province,
        credentials_version: version,
        active,
        created_at,
    } = row;
    let role =
        Role::parse(&role).ok_or_else(|| StoreError::Backend(format!("unknown role {role:?}")))?;
    let province = match (geography, province) {
        (Some(geography), Some(code)) => Some(ProvinceRef {
            geography: parse_geography(&geography)?,
            code,
        }),
        _ => None,
    };
    Ok(StaffUser {
        id,
        username,
        display_name,
        role,
        province,
        active: active != 0,
        credentials_version: version,
        created_at,
    })
}

/// `''` stands for "every province" in the queries' `($N = '' OR province_code = $N)`.
fn province_param(province: Option<&str>) -> &str {
    province.unwrap_or("")
}

#[derive(sqlx::FromRow)]
struct DetailsRow {
    #[sqlx(flatten)]
    wave: super::sql::WaveRow,
    opens_on: Option<String>,
    methodology_version: Option<String>,
    created_at: String,
}

const DETAILS_COLUMNS: &str = "SELECT code, title, year, geography, questionnaire_code, \
     questionnaire_version, open_link, closed_at, closes_on, opens_on, methodology_version, \
     created_at FROM waves";

fn details_from_row(row: DetailsRow) -> StoreResult<WaveDetails> {
    let schedule = WaveSchedule {
        opens_on: row.opens_on,
        closes_on: row.wave.closes_on.clone(),
        closed_at: row.wave.closed_at.clone(),
        methodology_version: row.methodology_version,
    };
    Ok(WaveDetails {
        wave: wave_from_row(row.wave)?,
        schedule,
        created_at: row.created_at,
    })
}

#[derive(sqlx::FromRow)]
struct BatchRow {
    id: String,
    wave_code: String,
    province_code: String,
    scope: String,
    size: i64,
    issued_by: String,
    issued_at: String,
    voided_at: Option<String>,
    used: i64,
    drafts: i64,
}

/// Batches with their codes' fates, counted in one GROUP BY.
const BATCH_QUERY: &str = "SELECT b.id, b.wave_code, b.province_code, b.scope, b.size, \
     b.issued_by, b.issued_at, b.voided_at, COALESCE(u.used, 0) AS used, \
     COALESCE(u.drafts, 0) AS drafts \
     FROM invitation_batches b LEFT JOIN ( \
       SELECT c.batch AS batch, \
         SUM(CASE WHEN c.used_at IS NOT NULL THEN 1 ELSE 0 END) AS used, \
         SUM(CASE WHEN c.used_at IS NULL AND c.voided_at IS NULL AND d.code_hash IS NOT NULL \
             THEN 1 ELSE 0 END) AS drafts \
       FROM invitation_codes c LEFT JOIN survey_drafts d ON d.code_hash = c.code_hash \
       WHERE c.wave_code = $1 GROUP BY c.batch) u ON u.batch = b.id";

fn batch_from_row(row: BatchRow) -> BatchSummary {
    BatchSummary {
        id: row.id,
        wave_code: row.wave_code,
        province_code: row.province_code,
        scope: row.scope,
        size: row.size,
        issued_by: row.issued_by,
        issued_at: row.issued_at,
        voided_at: row.voided_at,
        used: row.used,
        in_progress: row.drafts,
    }
}

/// Appends `entry` to the audit log on `conn`: inside a change's transaction, the entry commits
/// with the change or not at all.
pub(super) async fn record(conn: &mut AnyConnection, entry: &AuditEntry) -> StoreResult<()> {
    let written = write_entry(conn, entry).await;
    if let Some(pause) = pause_before_commit() {
        // For the test that kills the process between a change and its commit
        // (server/tests/it/cli.rs): say so, then hold the transaction open.
        eprintln!("audit entry written, not committed");
        tokio::time::sleep(pause).await;
    }
    written
}

/// `SIPAS_TEST_PAUSE_BEFORE_COMMIT_MS`: a test hook, read once; unset in every real run.
fn pause_before_commit() -> Option<std::time::Duration> {
    static PAUSE: std::sync::OnceLock<Option<std::time::Duration>> = std::sync::OnceLock::new();
    *PAUSE.get_or_init(|| {
        std::env::var("SIPAS_TEST_PAUSE_BEFORE_COMMIT_MS")
            .ok()
            .and_then(|ms| ms.parse().ok())
            .map(std::time::Duration::from_millis)
    })
}

async fn write_entry(conn: &mut AnyConnection, entry: &AuditEntry) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, wave_code, province_code, detail) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(now_rfc3339()?)
    .bind(&entry.actor)
    .bind(&entry.action)
    .bind(entry.wave_code.as_deref())
    .bind(entry.province_code.as_deref())
    .bind(&entry.detail)
    .execute(conn)
    .await
    .map_err(db_error)
    .map(|_| ())
}

/// Records that the paper codes of a wave and province form one batch (grows with each import).
async fn paper_batch(
    conn: &mut AnyConnection,
    wave_code: &str,
    province_code: &str,
    now: &str,
) -> StoreResult<String> {
    let id = format!("paper-{wave_code}-{province_code}");
    sqlx::query(
        "INSERT INTO invitation_batches (id, wave_code, province_code, scope, size, issued_by, \
         issued_at) VALUES ($1, $2, $3, 'paper forms without a code', 1, 'paper-import', $4) \
         ON CONFLICT (id) DO UPDATE SET size = invitation_batches.size + 1",
    )
    .bind(&id)
    .bind(wave_code)
    .bind(province_code)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(id)
}

/// Stores one paper response against a code already claimed in this transaction.
async fn insert_paper_response(
    conn: &mut AnyConnection,
    record: &PaperRecord,
    code_hash: &str,
    questionnaire: (&str, u32),
    import_key: Option<&str>,
    now: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO responses (receipt, submission_id, code_hash, wave_code, geography, \
         province_code, stratum, psu, sample_kind, questionnaire_code, questionnaire_version, \
         answers, content_hash, language, mode, started_at, submitted_at, channel, \
         duration_secs, submitted_on, export_id, import_key) \
         SELECT $1, $2, code_hash, wave_code, geography, province_code, stratum, psu, \
         sample_kind, $3, $4, $5, $6, $7, 'paper', NULL, $8, 'paper', NULL, $9, $10, $11 \
         FROM invitation_codes WHERE code_hash = $12",
    )
    .bind(&record.receipt)
    .bind(format!("paper-{}", &code_hash[..code_hash.len().min(40)]))
    .bind(questionnaire.0)
    .bind(i64::from(questionnaire.1))
    .bind(answers_json(&record.answers)?)
    .bind(&record.content_hash)
    .bind(&record.language)
    .bind(now)
    .bind(vietnam_date(now))
    .bind(&record.export_id)
    .bind(import_key)
    .bind(code_hash)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

fn problem(column: &str, message: impl Into<String>) -> RowOutcome {
    RowOutcome::Problem {
        column: column.to_owned(),
        message: message.into(),
    }
}

/// Checks (and unless `dry_run` stores) one paper form. `Err` is a database failure.
async fn import_one(
    conn: &mut AnyConnection,
    wave: &Wave,
    province: Option<&str>,
    record: &PaperRecord,
    dry_run: bool,
    now: &str,
) -> StoreResult<RowOutcome> {
    let Some(questionnaire) = wave.questionnaire.as_ref() else {
        return Ok(problem("", "the wave has no questionnaire"));
    };
    let q = (questionnaire.code.as_str(), questionnaire.version);
    match &record.target {
        PaperTarget::Code { code_hash } => {
            #[derive(sqlx::FromRow)]
            struct CodeState {
                wave_code: String,
                province_code: String,
                used_at: Option<String>,
                voided_at: Option<String>,
                channel: Option<String>,
                content_hash: Option<String>,
                submitted_on: Option<String>,
            }
            let row = sqlx::query_as::<_, CodeState>(
                "SELECT c.wave_code, c.province_code, c.used_at, c.voided_at, r.channel, \
                 r.content_hash, r.submitted_on FROM invitation_codes c \
                 LEFT JOIN responses r ON r.code_hash = c.code_hash WHERE c.code_hash = $1",
            )
            .bind(code_hash)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error)?;
            let Some(CodeState {
                wave_code,
                province_code: code_province,
                used_at,
                voided_at,
                channel,
                content_hash: content,
                submitted_on: day,
            }) = row
            else {
                return Ok(problem("code", "no such invitation code (mistyped?)"));
            };
            if wave_code != wave.code {
                return Ok(problem("code", "this code belongs to another wave"));
            }
            if province.is_some_and(|p| p != code_province) {
                return Ok(problem("code", "this code belongs to another province"));
            }
            if used_at.is_some() {
                return Ok(match (channel.as_deref(), content) {
                    (Some("paper"), Some(content)) if content == record.content_hash => {
                        RowOutcome::AlreadyImported
                    }
                    (Some("paper"), _) => RowOutcome::Conflict(
                        "this code was imported before with other answers".into(),
                    ),
                    _ => RowOutcome::Conflict(format!(
                        "this code was answered online on {}",
                        day.unwrap_or_default()
                    )),
                });
            }
            if voided_at.is_some() {
                return Ok(problem("code", "this code's batch was voided"));
            }
            if !dry_run {
                let claimed = sqlx::query(
                    "UPDATE invitation_codes SET used_at = $1 \
                     WHERE code_hash = $2 AND used_at IS NULL AND voided_at IS NULL",
                )
                .bind(now)
                .bind(code_hash)
                .execute(&mut *conn)
                .await
                .map_err(db_error)?
                .rows_affected();
                if claimed == 0 {
                    // Answered online between the check above and now.
                    return Ok(RowOutcome::Conflict(
                        "this code was just answered online".into(),
                    ));
                }
                insert_paper_response(conn, record, code_hash, q, None, now).await?;
            }
            Ok(RowOutcome::New)
        }
        PaperTarget::Point { psu, form_id } => {
            #[derive(sqlx::FromRow)]
            struct Place {
                province_code: String,
                stratum: String,
            }
            let place = sqlx::query_as::<_, Place>(
                "SELECT province_code, stratum FROM frame_psus WHERE wave_code = $1 AND psu = $2",
            )
            .bind(&wave.code)
            .bind(psu)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error)?;
            let Some(Place {
                province_code: psu_province,
                stratum,
            }) = place
            else {
                return Ok(problem(
                    "psu",
                    format!("{psu:?} is not a PSU of this wave's frame"),
                ));
            };
            if province.is_some_and(|p| p != psu_province) {
                return Ok(problem("psu", "this PSU belongs to another province"));
            }
            let import_key =
                sha256_hex(format!("{}\u{1f}{psu}\u{1f}{form_id}", wave.code).as_bytes());
            let existing: Option<String> =
                sqlx::query_scalar("SELECT content_hash FROM responses WHERE import_key = $1")
                    .bind(&import_key)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_error)?;
            match existing {
                Some(content) if content == record.content_hash => {
                    return Ok(RowOutcome::AlreadyImported);
                }
                Some(_) => {
                    return Ok(RowOutcome::Conflict(format!(
                        "form {form_id:?} of PSU {psu} was imported before with other answers"
                    )));
                }
                None => {}
            }
            if !dry_run {
                let batch = paper_batch(conn, &wave.code, &psu_province, now).await?;
                // The form has no code: it gets a code row of its own (never printed, so its
                // "hash" is derived from the import key and cannot be typed in).
                let code_hash = sha256_hex(format!("paper\u{1f}{import_key}").as_bytes());
                sqlx::query(
                    "INSERT INTO invitation_codes (code_hash, wave_code, geography, \
                     province_code, stratum, psu, batch, created_at, used_at, sample_kind) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, 'probability')",
                )
                .bind(&code_hash)
                .bind(&wave.code)
                .bind(wave.geography.key())
                .bind(&psu_province)
                .bind(&stratum)
                .bind(psu)
                .bind(&batch)
                .bind(now)
                .execute(&mut *conn)
                .await
                .map_err(db_error)?;
                insert_paper_response(conn, record, &code_hash, q, Some(&import_key), now).await?;
            }
            Ok(RowOutcome::New)
        }
    }
}

#[async_trait]
impl StaffStore for SqlStore {
    async fn create_user(&self, user: &NewUser, audit: &AuditEntry) -> StoreResult<i64> {
        let created_at = now_rfc3339()?;
        // The account and a researcher's approval together, or neither.
        let mut tx = self.pool().begin().await.map_err(db_error)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO staff_users (username, display_name, role, province_geography, \
             province_code, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             RETURNING id",
        )
        .bind(&user.username)
        .bind(&user.display_name)
        .bind(user.role.key())
        .bind(user.province.as_ref().map(|p| p.geography.key()))
        .bind(user.province.as_ref().map(|p| p.code.clone()))
        .bind(&user.password_hash)
        .bind(created_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|err| match db_error(err) {
            StoreError::Conflict(_) => {
                StoreError::Conflict(format!("the username {:?} is taken", user.username))
            }
            other => other,
        })?;
        if let Some(access) = &user.research {
            sqlx::query(
                "INSERT INTO researcher_access (user_id, project, approval, expires_on, \
                 releases, conditions_accepted_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(&access.project)
            .bind(&access.approval)
            .bind(&access.expires_on)
            .bind(super::research::releases_text(&access.releases))
            .bind(access.conditions_accepted_at.clone())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        record(&mut tx, audit).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(id)
    }

    async fn user(&self, id: i64) -> StoreResult<StaffUser> {
        let row = sqlx::query_as::<_, UserRow>(&format!("{USER_COLUMNS} WHERE id = $1"))
            .bind(id)
            .fetch_one(self.pool())
            .await
            .map_err(db_error)?;
        user_from_row(row)
    }

    async fn user_for_sign_in(&self, username: &str) -> StoreResult<(StaffUser, String)> {
        let row = sqlx::query_as::<_, UserRow>(&format!("{USER_COLUMNS} WHERE username = $1"))
            .bind(username)
            .fetch_one(self.pool())
            .await
            .map_err(db_error)?;
        let user = user_from_row(row)?;
        let hash: String =
            sqlx::query_scalar("SELECT password_hash FROM staff_users WHERE id = $1")
                .bind(user.id)
                .fetch_one(self.pool())
                .await
                .map_err(db_error)?;
        Ok((user, hash))
    }

    async fn users(&self) -> StoreResult<Vec<StaffUser>> {
        sqlx::query_as::<_, UserRow>(&format!("{USER_COLUMNS} ORDER BY username"))
            .fetch_all(self.pool())
            .await
            .map_err(db_error)?
            .into_iter()
            .map(user_from_row)
            .collect()
    }

    async fn set_password(
        &self,
        id: i64,
        password_hash: &str,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await.map_err(db_error)?;
        let changed = sqlx::query(
            "UPDATE staff_users SET password_hash = $1, \
             credentials_version = credentials_version + 1 WHERE id = $2",
        )
        .bind(password_hash)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        record(&mut tx, audit).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn set_active(&self, id: i64, active: bool, audit: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.pool().begin().await.map_err(db_error)?;
        let changed = sqlx::query(
            "UPDATE staff_users SET active = $1, credentials_version = credentials_version + 1 \
             WHERE id = $2",
        )
        .bind(i64::from(active))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        record(&mut tx, audit).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn record_login_failure(&self, keys: &[String], at_unix: i64) -> StoreResult<()> {
        let mut tx = self.pool().begin().await.map_err(db_error)?;
        for key in keys {
            sqlx::query("INSERT INTO login_failures (throttle_key, failed_at) VALUES ($1, $2)")
                .bind(key)
                .bind(at_unix)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        // Old failures no longer count; dropping them keeps the table small.
        sqlx::query("DELETE FROM login_failures WHERE failed_at < $1")
            .bind(at_unix - 86_400)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }

    async fn login_failures(&self, key: &str, since_unix: i64) -> StoreResult<(i64, Option<i64>)> {
        #[derive(sqlx::FromRow)]
        struct Failures {
            failures: i64,
            latest: Option<i64>,
        }
        sqlx::query_as::<_, Failures>(
            "SELECT COUNT(*) AS failures, MAX(failed_at) AS latest FROM login_failures \
             WHERE throttle_key = $1 AND failed_at >= $2",
        )
        .bind(key)
        .bind(since_unix)
        .fetch_one(self.pool())
        .await
        .map(|f| (f.failures, f.latest))
        .map_err(db_error)
    }

    async fn clear_login_keys(&self, keys: &[String]) -> StoreResult<()> {
        for key in keys {
            sqlx::query("DELETE FROM login_failures WHERE throttle_key = $1")
                .bind(key)
                .execute(self.pool())
                .await
                .map_err(db_error)?;
        }
        Ok(())
    }

    async fn clear_login_failures(&self, username: &str) -> StoreResult<()> {
        // Usernames hold no `%`; a `_` in one matches any character, which can only forget a
        // few more failures of a similar name, never keep one.
        sqlx::query("DELETE FROM login_failures WHERE throttle_key = $1 OR throttle_key LIKE $2")
            .bind(format!("account:{username}"))
            .bind(format!("pair:{username}:%"))
            .execute(self.pool())
            .await
            .map_err(db_error)
            .map(|_| ())
    }

    async fn session_insert(
        &self,
        id_hash: &str,
        data: &str,
        expires_unix: i64,
    ) -> StoreResult<()> {
        sqlx::query("INSERT INTO staff_sessions (id_hash, data, expires_at) VALUES ($1, $2, $3)")
            .bind(id_hash)
            .bind(data)
            .bind(expires_unix)
            .execute(self.pool())
            .await
            .map_err(db_error)
            .map(|_| ())
    }

    async fn session_save(&self, id_hash: &str, data: &str, expires_unix: i64) -> StoreResult<()> {
        // An update only: a request still running when its session is signed out must not
        // bring the session back. (New sessions come through `session_insert`.)
        sqlx::query("UPDATE staff_sessions SET data = $2, expires_at = $3 WHERE id_hash = $1")
            .bind(id_hash)
            .bind(data)
            .bind(expires_unix)
            .execute(self.pool())
            .await
            .map_err(db_error)
            .map(|_| ())
    }

    async fn session_load(&self, id_hash: &str, now_unix: i64) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT data FROM staff_sessions WHERE id_hash = $1 AND expires_at > $2")
            .bind(id_hash)
            .bind(now_unix)
            .fetch_optional(self.pool())
            .await
            .map_err(db_error)
    }

    async fn session_delete(&self, id_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM staff_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(self.pool())
            .await
            .map_err(db_error)
            .map(|_| ())
    }

    async fn sessions_expire(&self, now_unix: i64) -> StoreResult<u64> {
        sqlx::query("DELETE FROM staff_sessions WHERE expires_at <= $1")
            .bind(now_unix)
            .execute(self.pool())
            .await
            .map_err(db_error)
            .map(|r| r.rows_affected())
    }

    async fn audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        let mut conn = self.pool().acquire().await.map_err(db_error)?;
        write_entry(&mut conn, entry).await
    }

    async fn audit_log(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            id: i64,
            at: String,
            actor: String,
            action: String,
            wave_code: Option<String>,
            province_code: Option<String>,
            detail: String,
        }
        let rows = sqlx::query_as::<_, Row>(
            "SELECT id, at, actor, action, wave_code, province_code, detail FROM audit_log \
             WHERE ($1 = '' OR actor = $1) AND ($2 = '' OR action = $2) \
             AND ($3 = '' OR wave_code = $3) AND ($4 = '' OR province_code = $4) \
             AND id < $5 ORDER BY id DESC LIMIT $6",
        )
        .bind(filter.actor.as_deref().unwrap_or(""))
        .bind(filter.action.as_deref().unwrap_or(""))
        .bind(filter.wave_code.as_deref().unwrap_or(""))
        .bind(filter.province_code.as_deref().unwrap_or(""))
        .bind(filter.before_id.unwrap_or(i64::MAX))
        .bind(i64::from(filter.limit.clamp(1, 1000)))
        .fetch_all(self.pool())
        .await
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|row| AuditRecord {
                id: row.id,
                at: row.at,
                entry: AuditEntry {
                    actor: row.actor,
                    action: row.action,
                    wave_code: row.wave_code,
                    province_code: row.province_code,
                    detail: row.detail,
                },
            })
            .collect())
    }

    async fn create_wave_scheduled(
        &self,
        wave: &Wave,
        schedule: &WaveSchedule,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let created_at = now_rfc3339()?;
        let mut tx = self.pool().begin().await.map_err(db_error)?;
        sqlx::query(
            "INSERT INTO waves (code, title, year, geography, questionnaire_code, \
             questionnaire_version, open_link, created_at, opens_on, closes_on, \
             methodology_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&wave.code)
        .bind(&wave.title)
        .bind(i64::from(wave.year))
        .bind(wave.geography.key())
        .bind(wave.questionnaire.as_ref().map(|q| q.code.clone()))
        .bind(wave.questionnaire.as_ref().map(|q| i64::from(q.version)))
        .bind(i64::from(wave.open_link))
        .bind(created_at)
        .bind(schedule.opens_on.as_deref())
        .bind(schedule.closes_on.as_deref())
        .bind(schedule.methodology_version.as_deref())
        .execute(&mut *tx)
        .await
        .map_err(|err| match db_error(err) {
            StoreError::Conflict(_) => {
                StoreError::Conflict(format!("a wave with code {:?} already exists", wave.code))
            }
            other => other,
        })?;
        record(&mut tx, audit).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn wave_details(&self, code: &str) -> StoreResult<WaveDetails> {
        let row = sqlx::query_as::<_, DetailsRow>(&format!("{DETAILS_COLUMNS} WHERE code = $1"))
            .bind(code)
            .fetch_one(self.pool())
            .await
            .map_err(db_error)?;
        details_from_row(row)
    }

    async fn wave_list(&self) -> StoreResult<Vec<WaveDetails>> {
        sqlx::query_as::<_, DetailsRow>(&format!("{DETAILS_COLUMNS} ORDER BY year DESC, code"))
            .fetch_all(self.pool())
            .await
            .map_err(db_error)?
            .into_iter()
            .map(details_from_row)
            .collect()
    }

    async fn close_wave(&self, code: &str, audit: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.pool().begin().await.map_err(db_error)?;
        let changed =
            sqlx::query("UPDATE waves SET closed_at = $1 WHERE code = $2 AND closed_at IS NULL")
                .bind(now_rfc3339()?)
                .bind(code)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?
                .rows_affected();
        if changed == 1 {
            record(&mut tx, audit).await?;
            return tx.commit().await.map_err(db_error);
        }
        drop(tx);
        // Nothing changed: no such wave, or closed already.
        let _: String = sqlx::query_scalar("SELECT code FROM waves WHERE code = $1")
            .bind(code)
            .fetch_one(self.pool())
            .await
            .map_err(db_error)?;
        Err(StoreError::Conflict("the wave is closed already".into()))
    }

    async fn questionnaire_versions(&self) -> StoreResult<Vec<(String, u32)>> {
        #[derive(sqlx::FromRow)]
        struct Version {
            code: String,
            version: i64,
        }
        sqlx::query_as::<_, Version>(
            "SELECT code, version FROM questionnaires ORDER BY code, version",
        )
        .fetch_all(self.pool())
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|row| Ok((row.code, parse_version(row.version)?)))
        .collect()
    }

    async fn replace_frame(
        &self,
        wave_code: &str,
        frame: &Frame,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await.map_err(db_error)?;
        // PSUs that already have codes must keep their place in the design.
        #[derive(sqlx::FromRow)]
        struct Placed {
            psu: String,
            province_code: String,
            stratum: String,
        }
        let with_codes = sqlx::query_as::<_, Placed>(
            "SELECT p.psu, p.province_code, p.stratum FROM frame_psus p WHERE p.wave_code = $1 \
             AND EXISTS (SELECT 1 FROM invitation_codes c WHERE c.wave_code = p.wave_code \
             AND c.psu = p.psu AND c.province_code = p.province_code)",
        )
        .bind(wave_code)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        for Placed {
            psu,
            province_code: province,
            stratum,
        } in with_codes
        {
            let kept = frame
                .psus
                .iter()
                .any(|p| p.psu == psu && p.province_code == province && p.stratum == stratum);
            if !kept {
                return Err(StoreError::Conflict(format!(
                    "PSU {psu} (province {province}, stratum {stratum}) already has invitation \
                     codes: the new frame must keep it in the same province and stratum"
                )));
            }
        }
        for table in ["frame_psus", "frame_strata"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE wave_code = $1"))
                .bind(wave_code)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        for s in &frame.strata {
            sqlx::query(
                "INSERT INTO frame_strata (wave_code, province_code, stratum, population, \
                 psus_in_population) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(wave_code)
            .bind(&s.province_code)
            .bind(&s.stratum)
            .bind(s.population)
            .bind(s.psus_in_population)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        for p in &frame.psus {
            sqlx::query(
                "INSERT INTO frame_psus (wave_code, psu, province_code, stratum, name, target) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(wave_code)
            .bind(&p.psu)
            .bind(&p.province_code)
            .bind(&p.stratum)
            .bind(&p.name)
            .bind(p.target)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        record(&mut tx, audit).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn frame(&self, wave_code: &str, province: Option<&str>) -> StoreResult<Frame> {
        #[derive(sqlx::FromRow)]
        struct StratumRow {
            province_code: String,
            stratum: String,
            population: i64,
            psus_in_population: i64,
        }
        #[derive(sqlx::FromRow)]
        struct PsuRow {
            province_code: String,
            stratum: String,
            psu: String,
            name: String,
            target: i64,
        }
        let strata = sqlx::query_as::<_, StratumRow>(
            "SELECT province_code, stratum, population, psus_in_population FROM frame_strata \
             WHERE wave_code = $1 AND ($2 = '' OR province_code = $2) \
             ORDER BY province_code, stratum",
        )
        .bind(wave_code)
        .bind(province_param(province))
        .fetch_all(self.pool())
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|row| FrameStratum {
            province_code: row.province_code,
            stratum: row.stratum,
            population: row.population,
            psus_in_population: row.psus_in_population,
        })
        .collect();
        let psus = sqlx::query_as::<_, PsuRow>(
            "SELECT province_code, stratum, psu, name, target FROM frame_psus \
             WHERE wave_code = $1 AND ($2 = '' OR province_code = $2) \
             ORDER BY province_code, stratum, psu",
        )
        .bind(wave_code)
        .bind(province_param(province))
        .fetch_all(self.pool())
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|row| FramePsu {
            province_code: row.province_code,
            stratum: row.stratum,
            psu: row.psu,
            name: row.name,
            target: row.target,
        })
        .collect();
        Ok(Frame { strata, psus })
    }

    async fn issue_batch(&self, batch: &NewBatch, audit: &AuditEntry) -> StoreResult<()> {
        let now = now_rfc3339()?;
        let geography: String = sqlx::query_scalar("SELECT geography FROM waves WHERE code = $1")
            .bind(&batch.wave_code)
            .fetch_one(self.pool())
            .await
            .map_err(db_error)?;
        let mut tx = self.pool().begin().await.map_err(db_error)?;
        sqlx::query(
            "INSERT INTO invitation_batches (id, wave_code, province_code, scope, size, \
             issued_by, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&batch.id)
        .bind(&batch.wave_code)
        .bind(&batch.province_code)
        .bind(&batch.scope)
        .bind(i64::try_from(batch.codes.len()).unwrap_or(i64::MAX))
        .bind(&batch.issued_by)
        .bind(&now)
        .execute(&mut *tx)
        .await
        .map_err(|err| match db_error(err) {
            StoreError::Conflict(_) => StoreError::Conflict("this batch was issued already".into()),
            other => other,
        })?;
        for (psu, hash) in &batch.codes {
            sqlx::query(
                "INSERT INTO invitation_codes (code_hash, wave_code, geography, province_code, \
                 stratum, psu, batch, created_at, sample_kind) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(hash)
            .bind(&batch.wave_code)
            .bind(&geography)
            .bind(&psu.province_code)
            .bind(&psu.stratum)
            .bind(&psu.psu)
            .bind(&batch.id)
            .bind(&now)
            .bind(batch.kind.key())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        record(&mut tx, audit).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn batches(
        &self,
        wave_code: &str,
        province: Option<&str>,
    ) -> StoreResult<Vec<BatchSummary>> {
        let sql = format!(
            "{BATCH_QUERY} WHERE b.wave_code = $1 AND ($2 = '' OR b.province_code = $2) \
             ORDER BY b.issued_at DESC, b.id"
        );
        Ok(sqlx::query_as::<_, BatchRow>(&sql)
            .bind(wave_code)
            .bind(province_param(province))
            .fetch_all(self.pool())
            .await
            .map_err(db_error)?
            .into_iter()
            .map(batch_from_row)
            .collect())
    }

    async fn batch(&self, id: &str) -> StoreResult<BatchSummary> {
        let wave_code: String =
            sqlx::query_scalar("SELECT wave_code FROM invitation_batches WHERE id = $1")
                .bind(id)
                .fetch_one(self.pool())
                .await
                .map_err(db_error)?;
        let sql = format!("{BATCH_QUERY} WHERE b.id = $2");
        let row = sqlx::query_as::<_, BatchRow>(&sql)
            .bind(wave_code)
            .bind(id)
            .fetch_one(self.pool())
            .await
            .map_err(db_error)?;
        Ok(batch_from_row(row))
    }

    async fn void_batch(&self, id: &str, by: &str, audit: &AuditOf<'_, i64>) -> StoreResult<i64> {
        let now = now_rfc3339()?;
        let mut tx = self.pool().begin().await.map_err(db_error)?;
        let marked = sqlx::query(
            "UPDATE invitation_batches SET voided_at = $1, voided_by = $2 \
             WHERE id = $3 AND voided_at IS NULL",
        )
        .bind(&now)
        .bind(by)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if marked == 0 {
            return Err(StoreError::Conflict(
                "the batch is voided already (or unknown)".into(),
            ));
        }
        let voided = sqlx::query(
            "UPDATE invitation_codes SET voided_at = $1 \
             WHERE batch = $2 AND used_at IS NULL AND voided_at IS NULL \
             AND province_code = (SELECT province_code FROM invitation_batches WHERE id = $2)",
        )
        .bind(&now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        let voided = i64::try_from(voided).unwrap_or(i64::MAX);
        record(&mut tx, &audit(&voided)).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(voided)
    }

    async fn monitoring(&self, wave_code: &str, province: Option<&str>) -> StoreResult<Monitoring> {
        // Two shapes of each query (every province, or one): a `($2 = '' OR ...)` filter
        // leaves PostgreSQL's generic plans unable to drop the condition.
        let only = |column: &str| match province {
            Some(_) => format!("AND {column} = $2"),
            None => String::new(),
        };
        macro_rules! with_province {
            ($query:expr) => {
                match province {
                    Some(code) => $query.bind(code),
                    None => $query,
                }
            };
        }
        #[derive(sqlx::FromRow)]
        struct PsuRow {
            province_code: String,
            stratum: String,
            psu: String,
            name: String,
            target: i64,
            issued: i64,
            used: i64,
            completes: i64,
            drafts: i64,
        }
        let sql = format!(
            "SELECT p.province_code, p.stratum, p.psu, p.name, p.target, \
               COALESCE(i.n, 0) AS issued, COALESCE(i.u, 0) AS used, \
               COALESCE(r.n, 0) AS completes, COALESCE(d.n, 0) AS drafts \
             FROM frame_psus p \
             LEFT JOIN (SELECT province_code, psu, COUNT(*) AS n, \
                   SUM(CASE WHEN used_at IS NOT NULL THEN 1 ELSE 0 END) AS u \
                 FROM invitation_codes WHERE wave_code = $1 AND voided_at IS NULL \
                 AND batch NOT LIKE 'paper-%' GROUP BY province_code, psu) i \
               ON i.province_code = p.province_code AND i.psu = p.psu \
             LEFT JOIN (SELECT province_code, psu, COUNT(*) AS n FROM responses \
                 WHERE wave_code = $1 GROUP BY province_code, psu) r \
               ON r.province_code = p.province_code AND r.psu = p.psu \
             LEFT JOIN (SELECT c.province_code, c.psu, COUNT(*) AS n FROM survey_drafts d \
                 JOIN invitation_codes c ON c.code_hash = d.code_hash \
                 WHERE c.wave_code = $1 AND c.used_at IS NULL AND c.voided_at IS NULL \
                 GROUP BY c.province_code, c.psu) d \
               ON d.province_code = p.province_code AND d.psu = p.psu \
             WHERE p.wave_code = $1 {} \
             ORDER BY p.province_code, p.stratum, p.psu",
            only("p.province_code")
        );
        let psus = with_province!(sqlx::query_as::<_, PsuRow>(&sql).bind(wave_code))
            .fetch_all(self.pool())
            .await
            .map_err(db_error)?
            .into_iter()
            .map(|row| PsuProgress {
                province_code: row.province_code,
                stratum: row.stratum,
                psu: row.psu,
                name: row.name,
                target: row.target,
                issued: row.issued,
                used: row.used,
                completes: row.completes,
                drafts: row.drafts,
            })
            .collect();
        let sql = format!(
            "SELECT province_code, channel, COUNT(*) AS n FROM responses \
             WHERE wave_code = $1 {} \
             GROUP BY province_code, channel ORDER BY province_code",
            only("province_code")
        );
        #[derive(sqlx::FromRow)]
        struct ChannelRow {
            province_code: String,
            channel: String,
            n: i64,
        }
        let channels = with_province!(sqlx::query_as::<_, ChannelRow>(&sql).bind(wave_code))
            .fetch_all(self.pool())
            .await
            .map_err(db_error)?;
        // The median of each province's web completion times: the middle row (or the two middle
        // rows' mean) by window functions, so no duration leaves the database.
        let sql = format!(
            "SELECT province_code, CAST(AVG(duration_secs) AS DOUBLE PRECISION) AS median FROM ( \
               SELECT province_code, duration_secs, \
                 ROW_NUMBER() OVER (PARTITION BY province_code ORDER BY duration_secs) AS rn, \
                 COUNT(*) OVER (PARTITION BY province_code) AS cnt \
               FROM responses WHERE wave_code = $1 {} \
                 AND duration_secs IS NOT NULL AND channel <> 'paper') t \
             WHERE rn IN ((cnt + 1) / 2, (cnt + 2) / 2) GROUP BY province_code",
            only("province_code")
        );
        #[derive(sqlx::FromRow)]
        struct MedianRow {
            province_code: String,
            median: f64,
        }
        let medians = with_province!(sqlx::query_as::<_, MedianRow>(&sql).bind(wave_code))
            .fetch_all(self.pool())
            .await
            .map_err(db_error)?;
        let mut provinces: Vec<ProvinceProgress> = Vec::new();
        for ChannelRow {
            province_code: code,
            channel,
            n,
        } in channels
        {
            if provinces.last().is_none_or(|p| p.province_code != code) {
                provinces.push(ProvinceProgress {
                    province_code: code.clone(),
                    channels: ChannelCounts::default(),
                    median_duration_secs: medians
                        .iter()
                        .find(|m| m.province_code == code)
                        .map(|m| m.median),
                });
            }
            if let Some(p) = provinces.last_mut() {
                match channel.as_str() {
                    "online" => p.channels.online += n,
                    "form" => p.channels.form += n,
                    "outbox" => p.channels.outbox += n,
                    _ => p.channels.paper += n,
                }
            }
        }
        let sql = format!(
            "SELECT submitted_on, COUNT(*) AS n FROM responses \
             WHERE wave_code = $1 {} AND submitted_on IS NOT NULL \
             GROUP BY submitted_on ORDER BY submitted_on",
            only("province_code")
        );
        #[derive(sqlx::FromRow)]
        struct DayRow {
            submitted_on: String,
            n: i64,
        }
        let per_day = with_province!(sqlx::query_as::<_, DayRow>(&sql).bind(wave_code))
            .fetch_all(self.pool())
            .await
            .map_err(db_error)?
            .into_iter()
            .map(|day| (day.submitted_on, day.n))
            .collect();
        let sql = format!(
            "SELECT COUNT(*) FROM responses r WHERE r.wave_code = $1 {} \
             AND NOT EXISTS (SELECT 1 FROM frame_psus p WHERE p.wave_code = r.wave_code \
             AND p.psu = r.psu AND p.province_code = r.province_code)",
            only("r.province_code")
        );
        let outside_frame: i64 = with_province!(sqlx::query_scalar(&sql).bind(wave_code))
            .fetch_one(self.pool())
            .await
            .map_err(db_error)?;
        Ok(Monitoring {
            psus,
            provinces,
            per_day,
            outside_frame,
        })
    }

    async fn import_paper(
        &self,
        wave_code: &str,
        province: Option<&str>,
        records: &[PaperRecord],
        dry_run: bool,
        audit: &AuditOf<'_, [RowOutcome]>,
    ) -> StoreResult<Vec<RowOutcome>> {
        let wave_row =
            sqlx::query_as::<_, super::sql::WaveRow>(&format!("{WAVE_COLUMNS} WHERE code = $1"))
                .bind(wave_code)
                .fetch_one(self.pool())
                .await
                .map_err(db_error)?;
        let wave = wave_from_row(wave_row)?;
        let now = now_rfc3339()?;
        let mut tx = self.pool().begin().await.map_err(db_error)?;
        let mut outcomes = Vec::with_capacity(records.len());
        for record in records {
            outcomes.push(import_one(&mut tx, &wave, province, record, dry_run, &now).await?);
        }
        let refused = outcomes
            .iter()
            .any(|o| matches!(o, RowOutcome::Problem { .. }));
        if dry_run || refused {
            tx.rollback().await.map_err(db_error)?;
        } else {
            record(&mut tx, &audit(&outcomes)).await?;
            tx.commit().await.map_err(db_error)?;
        }
        Ok(outcomes)
    }

    async fn answers_page(
        &self,
        wave_code: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<AnswersRow>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            export_id: String,
            province_code: String,
            stratum: String,
            psu: String,
            answers: String,
        }
        let rows = sqlx::query_as::<_, Row>(
            "SELECT export_id, province_code, stratum, psu, answers FROM responses \
             WHERE wave_code = $1 AND sample_kind = 'probability' AND export_id > $2 \
             ORDER BY export_id LIMIT $3",
        )
        .bind(wave_code)
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|row| AnswersRow {
                export_id: row.export_id,
                province_code: row.province_code,
                stratum: row.stratum,
                psu: row.psu,
                answers: row.answers,
            })
            .collect())
    }

    async fn completes_by_stratum(
        &self,
        wave_code: &str,
    ) -> StoreResult<Vec<(String, String, i64)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            province_code: String,
            stratum: String,
            n: i64,
        }
        Ok(sqlx::query_as::<_, Row>(
            "SELECT province_code, stratum, COUNT(*) AS n FROM responses \
             WHERE wave_code = $1 AND sample_kind = 'probability' \
             GROUP BY province_code, stratum ORDER BY province_code, stratum",
        )
        .bind(wave_code)
        .fetch_all(self.pool())
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|row| (row.province_code, row.stratum, row.n))
        .collect())
    }

    async fn export_page(
        &self,
        wave_code: &str,
        province: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<ExportRow>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            export_id: String,
            province_code: String,
            stratum: String,
            psu: String,
            sample_kind: String,
            questionnaire_version: i64,
            mode: String,
            channel: String,
            language: String,
            submitted_on: Option<String>,
            duration_secs: Option<i64>,
            answers: String,
            population: Option<i64>,
            psus_in_population: Option<i64>,
            name_vi: Option<String>,
        }
        let rows = sqlx::query_as::<_, Row>(
            "SELECT r.export_id, r.province_code, r.stratum, r.psu, r.sample_kind, \
             r.questionnaire_version, r.mode, r.channel, r.language, r.submitted_on, \
             r.duration_secs, r.answers, s.population, s.psus_in_population, u.name_vi \
             FROM responses r \
             LEFT JOIN admin_units u ON u.geography = r.geography AND u.code = r.province_code \
             LEFT JOIN frame_strata s ON s.wave_code = r.wave_code \
               AND s.province_code = r.province_code AND s.stratum = r.stratum \
             WHERE r.wave_code = $1 AND ($2 = '' OR r.province_code = $2) AND r.export_id > $3 \
             ORDER BY r.export_id LIMIT $4",
        )
        .bind(wave_code)
        .bind(province_param(province))
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit.clamp(1, 10_000)))
        .fetch_all(self.pool())
        .await
        .map_err(db_error)?;
        rows.into_iter()
            .map(|r| {
                Ok(ExportRow {
                    export_id: r.export_id,
                    province_code: r.province_code,
                    province_name: r.name_vi.unwrap_or_default(),
                    stratum: r.stratum,
                    psu: r.psu,
                    sample_kind: r.sample_kind,
                    questionnaire_version: parse_version(r.questionnaire_version)?,
                    mode: r.mode,
                    channel: r.channel,
                    language: r.language,
                    submitted_on: r.submitted_on.unwrap_or_default(),
                    duration_secs: r.duration_secs,
                    answers: parse_answers(&r.answers)?,
                    stratum_population: r.population,
                    stratum_psus: r.psus_in_population,
                })
            })
            .collect()
    }
}
