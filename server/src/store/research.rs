//! Accredited access ([`ResearchStore`]): a researcher account's approval, written with the
//! account (`StaffStore::create_user`), and the acceptance of the conditions of use.

use async_trait::async_trait;
use sipas_app::ports::StoreResult;
use sipas_app::staff::research::{ResearchAccess, ResearchStore};
use sqlx::Row;

use super::sql::{SqlStore, db_error};

/// `(year, version)` pairs as stored: `2025/1,2024/2`.
pub(super) fn releases_text(releases: &[(i32, i32)]) -> String {
    releases
        .iter()
        .map(|(year, version)| format!("{year}/{version}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[async_trait]
impl ResearchStore for SqlStore {
    async fn research_access(&self, user_id: i64) -> StoreResult<Option<ResearchAccess>> {
        let row = sqlx::query(
            "SELECT project, approval, expires_on, releases, conditions_accepted_at \
             FROM researcher_access WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(self.pool())
        .await
        .map_err(db_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let text = |name: &str| row.try_get::<String, _>(name).map_err(db_error);
        let releases =
            sipas_app::staff::research::parse_releases(&text("releases")?).map_err(|entry| {
                sipas_app::ports::StoreError::Backend(format!(
                    "researcher {user_id}: stored release {entry:?} is unreadable"
                ))
            })?;
        Ok(Some(ResearchAccess {
            project: text("project")?,
            approval: text("approval")?,
            expires_on: text("expires_on")?,
            releases,
            conditions_accepted_at: row
                .try_get::<Option<String>, _>("conditions_accepted_at")
                .map_err(db_error)?,
        }))
    }

    async fn accept_research_conditions(
        &self,
        user_id: i64,
        at: &str,
        audit: &sipas_app::staff::port::AuditEntry,
    ) -> StoreResult<()> {
        let mut tx = super::sql::begin_write(self.pool())
            .await
            .map_err(db_error)?;
        let accepted = sqlx::query(
            "UPDATE researcher_access SET conditions_accepted_at = $1 \
             WHERE user_id = $2 AND conditions_accepted_at IS NULL",
        )
        .bind(at)
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        // Accepted before: nothing changes and nothing is logged again.
        if accepted == 1 {
            super::audit::record(&mut tx, audit).await?;
        }
        tx.commit().await.map_err(db_error)
    }
}
