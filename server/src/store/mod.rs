//! The storage adapters behind `sipas_app::ports::Store`.
//!
//! Both engines share one query layer ([`sql::SqlStore`] over sqlx's `Any` driver, `$N`
//! placeholders understood by both); what differs per engine — connection options, pragmas,
//! pool sizing, the migration folder — lives in [`sqlite`] and [`postgres`]. The URL's scheme
//! chooses the adapter.

mod accounts;
mod audit;
mod collected;
mod field;
mod postgres;
mod releases;
mod research;
mod review;
mod sql;
mod sqlite;
mod submissions;

use std::time::Duration;

use sqlx::migrate::MigrateError;

pub use sql::{SqlStore, random_token};

/// Connection settings independent of the engine.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub max_connections: u32,
    pub connect_timeout: Duration,
    /// Store submissions through the group-commit writer (see `submissions`).
    pub group_commit: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            connect_timeout: Duration::from_secs(10),
            group_commit: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "unsupported database URL {0:?}: use sqlite://PATH or postgres://USER:PASSWORD@HOST/DB"
    )]
    UnsupportedUrl(String),
    #[error("cannot connect to the {engine} database at {url}: {source}")]
    Connect {
        engine: &'static str,
        url: String,
        source: sqlx::Error,
    },
    #[error(
        "the database has migration {version}, which this version of sipas does not know: it was \
         upgraded by a newer release. Refusing to start; run the newer release or restore a backup"
    )]
    NewerSchema { version: i64 },
    #[error("database migration failed: {0}")]
    Migrate(MigrateError),
}

/// Which engine a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn from_url(url: &str) -> Result<Self, OpenError> {
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Engine::Sqlite),
            "postgres" | "postgresql" => Ok(Engine::Postgres),
            _ => Err(OpenError::UnsupportedUrl(crate::config::redact_url(url))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// Opens the database named by `url` and brings its schema up to date.
pub async fn open(url: &str, options: &ConnectOptions) -> Result<SqlStore, OpenError> {
    sqlx::any::install_default_drivers();
    let store = match Engine::from_url(url)? {
        Engine::Sqlite => sqlite::connect(url, options).await?,
        Engine::Postgres => postgres::connect(url, options).await?,
    };
    store.migrate().await?;
    Ok(store)
}

pub(crate) fn migrate_error(err: MigrateError) -> OpenError {
    match err {
        MigrateError::VersionMissing(version) => OpenError::NewerSchema { version },
        other => OpenError::Migrate(other),
    }
}
