//! Computations and their drafts ([`ReviewStore`]). Every change of status is one conditional
//! UPDATE (`WHERE status = ...`), so two reviewers clicking at once cannot both succeed; four
//! eyes are also a CHECK constraint (migration 0011).

use async_trait::async_trait;
use sipas_app::i18n::Text;
use sipas_app::ports::{StoreError, StoreResult};
use sipas_app::staff::release::ReleaseCell;
use sipas_app::staff::review::{
    ClaimedComputation, Comment, Computation, ComputationStatus, ComputationSummary, DraftData,
    DraftReport, ReviewStore,
};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::audit::record;
use super::sql::{SqlStore, db_error, now_rfc3339};
use sipas_app::staff::port::{AuditEntry, AuditOf};

const SUMMARY_COLUMNS: &str = "SELECT c.id, c.wave_code, c.status, c.progress_done, \
     c.progress_total, c.started_by, s.username AS started_by_name, c.started_at, \
     c.finished_at, c.error, c.submitted_at, a.username AS approved_by_name, c.approved_at, \
     c.release_year, c.release_version \
     FROM computations c JOIN staff_users s ON s.id = c.started_by \
     LEFT JOIN staff_users a ON a.id = c.approved_by";

/// A computation's summary read by column name.
fn summary_from_row(row: &AnyRow) -> StoreResult<ComputationSummary> {
    let int = |name: &str| row.try_get::<i64, _>(name).map_err(db_error);
    let text = |name: &str| row.try_get::<String, _>(name).map_err(db_error);
    let maybe = |name: &str| row.try_get::<Option<String>, _>(name).map_err(db_error);
    let status = text("status")?;
    let year: Option<i64> = row.try_get("release_year").map_err(db_error)?;
    let version: Option<i64> = row.try_get("release_version").map_err(db_error)?;
    Ok(ComputationSummary {
        id: int("id")?,
        wave_code: text("wave_code")?,
        status: ComputationStatus::parse(&status)
            .ok_or_else(|| StoreError::Backend(format!("unknown status {status:?}")))?,
        progress_done: int("progress_done")?,
        progress_total: int("progress_total")?,
        started_by_id: int("started_by")?,
        started_by: text("started_by_name")?,
        started_at: text("started_at")?,
        finished_at: maybe("finished_at")?,
        error: text("error")?,
        submitted_at: maybe("submitted_at")?,
        approved_by: maybe("approved_by_name")?,
        approved_at: maybe("approved_at")?,
        release: match (year, version) {
            (Some(y), Some(v)) => Some((
                i32::try_from(y).map_err(|_| StoreError::Backend(format!("year {y}")))?,
                i32::try_from(v).map_err(|_| StoreError::Backend(format!("version {v}")))?,
            )),
            _ => None,
        },
    })
}

fn stored_json(what: &str, err: serde_json::Error) -> StoreError {
    StoreError::Backend(format!("stored {what} are unreadable: {err}"))
}

/// A comment on a computation, inside the caller's transaction.
async fn insert_comment(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    author_id: i64,
    body: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO computation_comments (computation_id, author_id, at, body) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(author_id)
    .bind(now_rfc3339()?)
    .bind(body)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Who computed a computation (`None`: there is no such computation).
async fn started_by(store: &SqlStore, id: i64) -> StoreResult<Option<i64>> {
    sqlx::query_scalar("SELECT started_by FROM computations WHERE id = $1")
        .bind(id)
        .fetch_optional(store.pool())
        .await
        .map_err(db_error)
}

/// A conditional status change that found nothing to change: say what the draft is now.
async fn refused(store: &SqlStore, id: i64, wanted: (&str, &str)) -> StoreError {
    let now: Result<Option<String>, _> =
        sqlx::query_scalar("SELECT status FROM computations WHERE id = $1")
            .bind(id)
            .fetch_optional(store.pool())
            .await;
    match now {
        Ok(None) => StoreError::NotFound,
        Ok(Some(status)) => {
            let (vi, en) = ComputationStatus::parse(&status)
                .map_or((status.as_str(), status.as_str()), |s| s.label());
            StoreError::Conflict(Text::new(
                format!(
                    "{}: lần tính này giờ là \u{201c}{vi}\u{201d}; hãy tải lại trang.",
                    wanted.0
                ),
                format!(
                    "{}: the computation is now \u{201c}{en}\u{201d}; reload the page.",
                    wanted.1
                ),
            ))
        }
        Err(err) => db_error(err),
    }
}

#[async_trait]
impl ReviewStore for SqlStore {
    async fn start_computation(
        &self,
        wave_code: &str,
        methodology: &str,
        population: Option<&str>,
        started_by: i64,
        holder: &str,
        now_unix: i64,
        audit: &AuditOf<'_, i64>,
    ) -> StoreResult<i64> {
        let mut tx = super::sql::begin_write(self.pool())
            .await
            .map_err(db_error)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO computations (wave_code, methodology, status, heartbeat_at, \
             started_by, started_at, population, holder) \
             VALUES ($1, $2, 'running', $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(wave_code)
        .bind(methodology)
        .bind(now_unix)
        .bind(started_by)
        .bind(now_rfc3339()?)
        .bind(population)
        .bind(holder)
        .fetch_one(&mut *tx)
        .await
        .map_err(|err| match db_error(err) {
            StoreError::Conflict(_) => StoreError::Conflict(Text::new(
                "Đợt này đang được tính; chờ lần tính đó xong.",
                "This wave is being computed already: wait for that computation to finish.",
            )),
            other => other,
        })?;
        record(&mut tx, &audit(&id)).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(id)
    }

    async fn computation_heartbeat(
        &self,
        id: i64,
        holder: &str,
        done: i64,
        total: i64,
        now_unix: i64,
    ) -> StoreResult<bool> {
        let renewed = sqlx::query(
            "UPDATE computations SET progress_done = $1, progress_total = $2, heartbeat_at = $3 \
             WHERE id = $4 AND status = 'running' AND holder = $5",
        )
        .bind(done)
        .bind(total)
        .bind(now_unix)
        .bind(id)
        .bind(holder)
        .execute(self.pool())
        .await
        .map_err(db_error)?;
        Ok(renewed.rows_affected() == 1)
    }

    async fn claim_stalled_computation(
        &self,
        holder: &str,
        silent_since_unix: i64,
        now_unix: i64,
        max_attempts: i64,
    ) -> StoreResult<Option<ClaimedComputation>> {
        // Never its own jobs: a server whose heartbeats failed for a while (the database was
        // away) is still running them, and they go on renewing once it is back.
        sqlx::query(
            "UPDATE computations SET status = 'failed', finished_at = $1, error = $2 \
             WHERE status = 'running' AND heartbeat_at < $3 AND attempts >= $4 \
               AND holder <> $5",
        )
        .bind(now_rfc3339()?)
        .bind(format!(
            "the servers running it stopped {max_attempts} times (restart or crash): start \
             the computation again"
        ))
        .bind(silent_since_unix)
        .bind(max_attempts)
        .bind(holder)
        .execute(self.pool())
        .await
        .map_err(db_error)?;
        // One claimant wins: PostgreSQL locks the row it picks and skips rows other servers
        // are claiming; SQLite runs one writer at a time. The outer condition is checked again
        // on the locked row either way.
        let lock = match self.engine_kind() {
            super::Engine::Postgres => "FOR UPDATE SKIP LOCKED",
            super::Engine::Sqlite => "",
        };
        let row = sqlx::query(&format!(
            "UPDATE computations SET holder = $1, heartbeat_at = $2, attempts = attempts + 1, \
             progress_done = 0 \
             WHERE id = (SELECT id FROM computations WHERE status = 'running' \
                         AND heartbeat_at < $3 AND holder <> $1 ORDER BY id LIMIT 1 {lock}) \
               AND status = 'running' AND heartbeat_at < $3 AND holder <> $1 \
             RETURNING id, wave_code, methodology, population, attempts"
        ))
        .bind(holder)
        .bind(now_unix)
        .bind(silent_since_unix)
        .fetch_optional(self.pool())
        .await
        .map_err(db_error)?;
        row.map(|row| {
            Ok(ClaimedComputation {
                id: row.try_get("id").map_err(db_error)?,
                wave_code: row.try_get("wave_code").map_err(db_error)?,
                methodology: row.try_get("methodology").map_err(db_error)?,
                population: row.try_get("population").map_err(db_error)?,
                attempts: row.try_get("attempts").map_err(db_error)?,
            })
        })
        .transpose()
    }

    async fn finish_computation(
        &self,
        id: i64,
        holder: &str,
        outcome: Result<&DraftData, &str>,
    ) -> StoreResult<()> {
        let finished = now_rfc3339()?;
        let done = match outcome {
            Ok(draft) => {
                let cells = serde_json::to_string(&draft.cells)
                    .map_err(|e| StoreError::Backend(e.to_string()))?;
                let report = serde_json::to_string(&draft.report)
                    .map_err(|e| StoreError::Backend(e.to_string()))?;
                sqlx::query(
                    "UPDATE computations SET status = 'draft', finished_at = $1, \
                     input_digest = $2, cells = $3, totals = $4, report = $5, \
                     aggregates = $6, progress_done = progress_total \
                     WHERE id = $7 AND status = 'running' AND holder = $8",
                )
                .bind(&finished)
                .bind(&draft.input_digest)
                .bind(cells)
                .bind(&draft.totals)
                .bind(report)
                .bind(&draft.aggregates)
                .bind(id)
                .bind(holder)
                .execute(self.pool())
                .await
            }
            Err(reason) => {
                sqlx::query(
                    "UPDATE computations SET status = 'failed', finished_at = $1, error = $2 \
                     WHERE id = $3 AND status = 'running' AND holder = $4",
                )
                .bind(&finished)
                .bind(reason)
                .bind(id)
                .bind(holder)
                .execute(self.pool())
                .await
            }
        }
        .map_err(db_error)?;
        if done.rows_affected() != 1 {
            return Err(refused(
                self,
                id,
                ("Lần tính không kết thúc được", "The computation cannot end"),
            )
            .await);
        }
        Ok(())
    }

    async fn computation_counts(&self) -> StoreResult<Vec<(String, i64)>> {
        sqlx::query_as("SELECT status, COUNT(*) FROM computations GROUP BY status ORDER BY status")
            .fetch_all(self.pool())
            .await
            .map_err(db_error)
    }

    async fn latest_methodology(&self, wave_code: &str) -> StoreResult<Option<String>> {
        sqlx::query_scalar(
            "SELECT methodology FROM computations WHERE wave_code = $1 AND status <> 'failed' \
             ORDER BY id DESC LIMIT 1",
        )
        .bind(wave_code)
        .fetch_optional(self.pool())
        .await
        .map_err(db_error)
    }

    async fn computations(&self, wave_code: &str) -> StoreResult<Vec<ComputationSummary>> {
        sqlx::query(&format!(
            "{SUMMARY_COLUMNS} WHERE c.wave_code = $1 ORDER BY c.id DESC"
        ))
        .bind(wave_code)
        .fetch_all(self.pool())
        .await
        .map_err(db_error)?
        .iter()
        .map(summary_from_row)
        .collect()
    }

    async fn computation(&self, id: i64) -> StoreResult<Computation> {
        let row = sqlx::query(&format!("{SUMMARY_COLUMNS} WHERE c.id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(db_error)?
            .ok_or(StoreError::NotFound)?;
        let summary = summary_from_row(&row)?;
        #[derive(sqlx::FromRow)]
        struct Row {
            methodology: String,
            input_digest: String,
            cells: String,
            report: String,
        }
        let Row {
            methodology,
            input_digest,
            cells,
            report,
        } = sqlx::query_as::<_, Row>(
            "SELECT methodology, input_digest, cells, report FROM computations WHERE id = $1",
        )
        .bind(id)
        .fetch_one(self.pool())
        .await
        .map_err(db_error)?;
        let cells: Vec<ReleaseCell> = if cells.is_empty() {
            Vec::new()
        } else {
            serde_json::from_str(&cells).map_err(|e| stored_json("results", e))?
        };
        let report: DraftReport = if report.is_empty() {
            DraftReport::default()
        } else {
            serde_json::from_str(&report).map_err(|e| stored_json("weights report", e))?
        };
        Ok(Computation {
            summary,
            methodology,
            input_digest,
            cells,
            report,
        })
    }

    async fn computation_totals(&self, id: i64) -> StoreResult<(String, Option<String>)> {
        #[derive(sqlx::FromRow)]
        struct Row {
            totals: String,
            aggregates: Option<String>,
        }
        sqlx::query_as::<_, Row>("SELECT totals, aggregates FROM computations WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(db_error)?
            .map(|row| (row.totals, row.aggregates))
            .ok_or(StoreError::NotFound)
    }

    async fn comments(&self, id: i64) -> StoreResult<Vec<Comment>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            username: String,
            at: String,
            body: String,
        }
        let rows = sqlx::query_as::<_, Row>(
            "SELECT s.username, m.at, m.body FROM computation_comments m \
             JOIN staff_users s ON s.id = m.author_id WHERE m.computation_id = $1 ORDER BY m.id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|row| Comment {
                author: row.username,
                at: row.at,
                body: row.body,
            })
            .collect())
    }

    async fn add_comment(
        &self,
        id: i64,
        author_id: i64,
        body: &str,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let mut tx = super::sql::begin_write(self.pool())
            .await
            .map_err(db_error)?;
        insert_comment(&mut tx, id, author_id, body).await?;
        record(&mut tx, audit).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn submit_computation(&self, id: i64, by: i64, audit: &AuditEntry) -> StoreResult<()> {
        let mut tx = super::sql::begin_write(self.pool())
            .await
            .map_err(db_error)?;
        let done = sqlx::query(
            "UPDATE computations SET status = 'submitted', submitted_at = $1 \
             WHERE id = $2 AND status = 'draft' AND started_by = $3",
        )
        .bind(now_rfc3339()?)
        .bind(id)
        .bind(by)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        if done.rows_affected() == 1 {
            record(&mut tx, audit).await?;
            return tx.commit().await.map_err(db_error);
        }
        drop(tx);
        let owner = started_by(self, id).await?;
        match owner {
            Some(owner) if owner != by => Err(StoreError::Conflict(Text::new(
                "Chỉ người đã tính bản nháp mới gửi duyệt được.",
                "Only the statistician who computed a draft submits it.",
            ))),
            _ => Err(refused(
                self,
                id,
                (
                    "Chỉ bản nháp mới gửi duyệt được",
                    "Only a draft can be submitted",
                ),
            )
            .await),
        }
    }

    async fn return_computation(
        &self,
        id: i64,
        by: i64,
        reason: &str,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        let mut tx = super::sql::begin_write(self.pool())
            .await
            .map_err(db_error)?;
        let done = sqlx::query(
            "UPDATE computations SET status = 'draft', submitted_at = NULL, approved_by = NULL, \
             approved_at = NULL WHERE id = $1 AND status IN ('submitted', 'approved')",
        )
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        if done.rows_affected() != 1 {
            drop(tx);
            return Err(refused(
                self,
                id,
                (
                    "Chỉ trả lại được bản nháp đã gửi duyệt hoặc đã phê duyệt",
                    "Only a submitted or approved draft can be returned",
                ),
            )
            .await);
        }
        insert_comment(&mut tx, id, by, reason).await?;
        record(&mut tx, audit).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn approve_computation(&self, id: i64, by: i64, audit: &AuditEntry) -> StoreResult<()> {
        let mut tx = super::sql::begin_write(self.pool())
            .await
            .map_err(db_error)?;
        let done = sqlx::query(
            "UPDATE computations SET status = 'approved', approved_by = $1, approved_at = $2 \
             WHERE id = $3 AND status = 'submitted' AND started_by <> $1 \
             AND NOT EXISTS (SELECT 1 FROM computations later \
                 WHERE later.wave_code = computations.wave_code AND later.id > computations.id \
                 AND later.status IN ('draft', 'submitted', 'approved', 'published'))",
        )
        .bind(by)
        .bind(now_rfc3339()?)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        if done.rows_affected() == 1 {
            record(&mut tx, audit).await?;
            return tx.commit().await.map_err(db_error);
        }
        drop(tx);
        let owner = started_by(self, id).await?;
        match owner {
            Some(owner) if owner == by => Err(StoreError::Conflict(Text::new(
                "Nguyên tắc bốn mắt: bản nháp phải do người khác với người đã tính phê duyệt.",
                "Four eyes: a draft is approved by someone other than who computed it.",
            ))),
            _ => Err(refused(
                self,
                id,
                (
                    "Chỉ phê duyệt được bản nháp đã gửi mà đợt không có lần tính nào mới hơn",
                    "Only a submitted draft with no later computation of its wave can be approved",
                ),
            )
            .await),
        }
    }
}
