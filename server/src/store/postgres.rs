//! PostgreSQL: the production and scale-out engine.

use sqlx::Executor;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;

use super::{ConnectOptions, Engine, OpenError, SqlStore};

pub(super) static MIGRATOR: Migrator = sqlx::migrate!("../migrations/postgres");

pub(super) async fn connect(url: &str, options: &ConnectOptions) -> Result<SqlStore, OpenError> {
    let pool = AnyPoolOptions::new()
        .max_connections(options.max_connections.max(1))
        .acquire_timeout(options.connect_timeout)
        // A submission is acknowledged after its commit: the commit must be durable even if
        // the server's default was relaxed.
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute("SET synchronous_commit = on").await?;
                Ok(())
            })
        })
        .connect(url)
        .await
        .map_err(|source| OpenError::Connect {
            engine: "postgres",
            url: crate::config::redact_url(url),
            source,
        })?;
    Ok(SqlStore::new(
        pool,
        Engine::Postgres,
        &MIGRATOR,
        options.group_commit,
    ))
}
