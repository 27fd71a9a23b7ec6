//! SQLite: the embedded default. The file is created if missing and runs in WAL mode, so readers
//! never block the writer.

use sqlx::Executor;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;

use super::{ConnectOptions, Engine, OpenError, SqlStore};

pub(super) static MIGRATOR: Migrator = sqlx::migrate!("../migrations/sqlite");

pub(super) async fn connect(url: &str, options: &ConnectOptions) -> Result<SqlStore, OpenError> {
    let url = with_create_mode(url);
    // An in-memory database exists per connection: keep exactly one.
    let max = if url.contains(":memory:") || url.contains("mode=memory") {
        1
    } else {
        options.max_connections.max(1)
    };
    let pool = AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(options.connect_timeout)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
                     PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;",
                )
                .await?;
                Ok(())
            })
        })
        .connect(&url)
        .await
        .map_err(|source| OpenError::Connect {
            engine: "sqlite",
            url: url.clone(),
            source,
        })?;
    Ok(SqlStore::new(pool, Engine::Sqlite, &MIGRATOR))
}

/// `sqlite://file.db` → `sqlite://file.db?mode=rwc` (read, write, create) unless a mode is given.
fn with_create_mode(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

#[cfg(test)]
mod tests {
    use super::with_create_mode;

    #[test]
    fn adds_create_mode() {
        assert_eq!(with_create_mode("sqlite://a.db"), "sqlite://a.db?mode=rwc");
        assert_eq!(
            with_create_mode("sqlite://a.db?cache=shared"),
            "sqlite://a.db?cache=shared&mode=rwc"
        );
        assert_eq!(
            with_create_mode("sqlite://a.db?mode=ro"),
            "sqlite://a.db?mode=ro"
        );
        assert_eq!(with_create_mode("sqlite::memory:"), "sqlite::memory:");
    }
}
