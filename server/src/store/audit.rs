//! The audit log ([`AuditStore`]): an INSERT and a SELECT, nothing else. A change the log
//! records writes its entry with [`record`] in its own transaction.

use async_trait::async_trait;
use sipas_app::ports::StoreResult;
use sipas_app::staff::port::{AuditEntry, AuditFilter, AuditRecord, AuditStore};
use sqlx::AnyConnection;

use super::sql::{SqlStore, db_error, now_rfc3339};

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

#[async_trait]
impl AuditStore for SqlStore {
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
}
