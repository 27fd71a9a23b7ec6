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
mod fieldwork;
mod keying;
mod postgres;
mod quality;
mod releases;
mod research;
mod review;
mod roles;
mod sql;
pub mod sqlite;
mod submissions;

use std::time::Duration;

use sqlx::migrate::MigrateError;

pub use roles::{APPEND_ONLY, PublishedRecordsGuard, READ_ONLY};
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
    #[error(
        "the database lacks {pending} migration(s) of this version of sipas: run `sipas migrate` \
         first, with SIPAS_MIGRATE_DATABASE_URL (migrate_database_url) set to the URL of the \
         role that owns the database (the application's role cannot change the schema)"
    )]
    NotMigrated { pending: usize },
    #[error(
        "the role {role} may not change this database's schema ({cause}): run `sipas migrate` \
         with SIPAS_MIGRATE_DATABASE_URL (migrate_database_url) set to the URL of the role that \
         owns the database, one made with `createdb -O OWNER NAME`"
    )]
    NotOwner { role: String, cause: String },
    #[error("there is no database at {}: check DATABASE_URL", .0.display())]
    Missing(std::path::PathBuf),
    #[error("cannot read the database's migrations: {0}")]
    Inspect(sqlx::Error),
    #[error("granting the application role {role:?} its privileges failed: {source}")]
    Grant { role: String, source: sqlx::Error },
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

/// Opens the database named by `url` for the application. SQLite's schema is brought up to
/// date here (an embedded file has one user); PostgreSQL's must already be, by [`migrate`] as
/// the owner role: the application's role cannot change the schema, and a schema behind or
/// ahead of this build is refused.
pub async fn open(url: &str, options: &ConnectOptions) -> Result<SqlStore, OpenError> {
    let store = connect(url, options).await?;
    match store.engine_kind() {
        Engine::Sqlite => store.migrate().await?,
        Engine::Postgres => store.check_schema_current().await?,
    }
    Ok(store)
}

/// Opens an existing database for a maintenance command (`sipas backup`) without changing it:
/// a SQLite file that does not exist is an error (not a new empty database), and a schema
/// behind or ahead of this build is refused on both engines rather than migrated under a
/// running server.
pub async fn open_existing(url: &str, options: &ConnectOptions) -> Result<SqlStore, OpenError> {
    if Engine::from_url(url)? == Engine::Sqlite {
        let path = sqlite::path_of(url);
        if !path.exists() {
            return Err(OpenError::Missing(path));
        }
    }
    let store = connect(url, options).await?;
    store.check_schema_current().await?;
    Ok(store)
}

/// `sipas migrate`: as the owner role at `owner_url`, applies pending migrations, then (on
/// PostgreSQL) gives `application_role` exactly the privileges the server needs
/// ([`roles`]: add and read published records, never change them).
pub async fn migrate(
    owner_url: &str,
    options: &ConnectOptions,
    application_role: Option<&str>,
) -> Result<SqlStore, OpenError> {
    Ok(migrate_counting(owner_url, options, application_role)
        .await?
        .0)
}

/// [`migrate`], also saying how many migrations it applied.
pub async fn migrate_counting(
    owner_url: &str,
    options: &ConnectOptions,
    application_role: Option<&str>,
) -> Result<(SqlStore, usize), OpenError> {
    let store = connect(owner_url, options).await?;
    let before = store.applied_migrations().await;
    if let Err(err) = store.migrate().await {
        let cause = err.to_string();
        return Err(
            match (store.engine_kind(), cause.contains("permission denied")) {
                (Engine::Postgres, true) => OpenError::NotOwner {
                    role: postgres_user(owner_url).unwrap_or_default(),
                    cause: cause
                        .rsplit(": ")
                        .next()
                        .unwrap_or("permission denied")
                        .to_owned(),
                },
                _ => err,
            },
        );
    }
    if let (Engine::Postgres, Some(role)) = (store.engine_kind(), application_role) {
        roles::grant_application_role(store.pool(), role)
            .await
            .map_err(|source| OpenError::Grant {
                role: role.to_owned(),
                source,
            })?;
    }
    let applied = store.applied_migrations().await.saturating_sub(before);
    Ok((store, applied))
}

async fn connect(url: &str, options: &ConnectOptions) -> Result<SqlStore, OpenError> {
    sqlx::any::install_default_drivers();
    match Engine::from_url(url)? {
        Engine::Sqlite => sqlite::connect(url, options).await,
        Engine::Postgres => postgres::connect(url, options).await,
    }
}

/// How many migrations this build has for `engine`.
pub fn migrations(engine: Engine) -> usize {
    let migrator = match engine {
        Engine::Sqlite => &sqlite::MIGRATOR,
        Engine::Postgres => &postgres::MIGRATOR,
    };
    migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .count()
}

/// The user name in a PostgreSQL URL (the role the server connects as).
pub fn postgres_user(url: &str) -> Option<String> {
    use std::str::FromStr;
    let options = sqlx::postgres::PgConnectOptions::from_str(url).ok()?;
    Some(options.get_username().to_owned())
}

pub(crate) fn migrate_error(err: MigrateError) -> OpenError {
    match err {
        MigrateError::VersionMissing(version) => OpenError::NewerSchema { version },
        other => OpenError::Migrate(other),
    }
}
