//! Staff accounts and the sign-in throttle ([`AccountStore`]), and sessions ([`SessionStore`]).

use async_trait::async_trait;
use sipas_app::i18n::Text;
use sipas_app::ports::{StoreError, StoreResult};
use sipas_app::staff::port::{AccountStore, AuditEntry, NewUser, SessionStore};
use sipas_app::staff::roles::{ProvinceRef, Role, StaffUser};

use super::audit::record;
use super::sql::{SqlStore, db_error, now_rfc3339, parse_geography};

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

#[async_trait]
impl AccountStore for SqlStore {
    async fn create_user(&self, user: &NewUser, audit: &AuditEntry) -> StoreResult<i64> {
        let created_at = now_rfc3339()?;
        // The account and a researcher's approval together, or neither.
        let mut tx = super::sql::begin_write(self.pool())
            .await
            .map_err(db_error)?;
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
            StoreError::Conflict(_) => StoreError::Conflict(Text::new(
                format!("tên đăng nhập {:?} đã có người dùng", user.username),
                format!("the username {:?} is taken", user.username),
            )),
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
        for commune in &user.communes {
            // A commune of the account's own province on the 2025 map, or nothing is created.
            let province = user.province.as_ref().map(|p| p.code.as_str());
            let known: Option<String> =
                sqlx::query_scalar("SELECT province_code FROM communes WHERE code = $1")
                    .bind(commune)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?;
            if known.is_none() || known.as_deref() != province {
                return Err(StoreError::Conflict(Text::new(
                    format!("xã/phường: {commune:?} không thuộc tỉnh của tài khoản"),
                    format!("communes: {commune:?} is not a commune of the account's province"),
                )));
            }
            sqlx::query("INSERT INTO staff_communes (user_id, psu) VALUES ($1, $2)")
                .bind(id)
                .bind(commune)
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
        let mut tx = super::sql::begin_write(self.pool())
            .await
            .map_err(db_error)?;
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
        let mut tx = super::sql::begin_write(self.pool())
            .await
            .map_err(db_error)?;
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
        let mut tx = super::sql::begin_write(self.pool())
            .await
            .map_err(db_error)?;
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
}

#[async_trait]
impl SessionStore for SqlStore {
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
}
