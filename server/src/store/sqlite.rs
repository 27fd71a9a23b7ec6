//! SQLite: the embedded default. The file is created if missing and runs in WAL mode, so readers
//! never block the writer.

use sqlx::AnyConnection;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::{Connection, Executor};

use super::{ConnectOptions, Engine, OpenError, SqlStore};

pub(super) static MIGRATOR: Migrator = sqlx::migrate!("../migrations/sqlite");

/// Set on every connection: WAL (readers never block the writer), enforced foreign keys, waiting
/// on a busy database instead of failing, and durable commits. With `synchronous = NORMAL` a
/// WAL database may lose the commits since the last checkpoint on power loss, after the phone
/// was told its answers were received; `FULL` flushes the WAL at every commit, and the
/// group-commit writer (`submissions`) shares one flush among all the submissions of a batch.
const PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
                       PRAGMA busy_timeout = 5000; PRAGMA synchronous = FULL;";

pub(super) async fn connect(url: &str, options: &ConnectOptions) -> Result<SqlStore, OpenError> {
    let url = with_create_mode(url);
    let connect_error = |source| OpenError::Connect {
        engine: "sqlite",
        url: url.clone(),
        source,
    };
    // One direct connection first: the pool would retry a failing file (not a database, no
    // permission) until its timeout and then report only "timed out", hiding the cause.
    let mut probe = AnyConnection::connect(&url).await.map_err(connect_error)?;
    probe.execute(PRAGMAS).await.map_err(connect_error)?;
    probe.close().await.map_err(connect_error)?;
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
                conn.execute(PRAGMAS).await?;
                Ok(())
            })
        })
        // SQLite rolls a transaction back by itself on some errors (the disk full, an I/O
        // error); the driver's ROLLBACK then fails and it goes on counting a transaction that
        // is not there, so the next "transaction" on this connection is a savepoint whose
        // failure leaves the write lock held: every other writer then waits and fails
        // ("database is locked") until the server restarts. A connection still counting a
        // transaction when it comes back to the pool is closed instead (the ping first lets
        // the rollback queued by a dropped transaction run). Tested by
        // `operations::sqlite_disk_full_is_503_and_loses_nothing`.
        .after_release(|conn, _meta| {
            Box::pin(async move {
                if !conn.is_in_transaction() {
                    return Ok(true);
                }
                conn.ping().await?;
                Ok(!conn.is_in_transaction())
            })
        })
        .connect(&url)
        .await
        .map_err(connect_error)?;
    Ok(SqlStore::new(
        pool,
        Engine::Sqlite,
        &MIGRATOR,
        options.group_commit,
    ))
}

/// The file a `sqlite:` URL names.
pub fn path_of(url: &str) -> std::path::PathBuf {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    std::path::PathBuf::from(rest.split('?').next().unwrap_or(rest))
}

/// While a server runs on a SQLite file it holds a shared lock on `FILE.serving`; `sipas
/// restore` takes it exclusively, so it cannot replace a database under a running server.
pub fn serving_lock(database: &std::path::Path) -> std::path::PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".serving");
    std::path::PathBuf::from(name)
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
