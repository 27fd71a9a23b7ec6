//! Backups and restores (`sipas backup`, `sipas restore`), and the manifest that proves a
//! restore whole: every published release's open-data files, by SHA-256, built by the same code
//! that serves them.
//!
//! - SQLite: `VACUUM INTO` writes a consistent copy of the live database (one read
//!   transaction: the server keeps answering, and every commit acknowledged before the backup
//!   started is in it) to a temporary file that is flushed and renamed into place. It is
//!   SQLite's documented alternative to the online backup API, with no C calls of ours, and
//!   the copy comes out compacted.
//! - PostgreSQL: `pg_dump --format=custom` (one snapshot, consistent under load), restored by
//!   `pg_restore` as the owner role into an empty database; the application role's privileges
//!   are granted again as `sipas migrate` grants them. Point-in-time recovery (WAL archiving)
//!   is the cluster's business: docs/operations.md.
//!
//! `backup` writes `FILE.manifest` beside the backup; `restore --verify` rebuilds the
//! manifest from the restored database and compares it line by line.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::store::{self, ConnectOptions, Engine, SqlStore};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Open(#[from] store::OpenError),
    #[error("{path} exists already: choose a new file (backups are never overwritten)")]
    Exists { path: PathBuf },
    #[error("the database at {path} exists already: restore into a new one, or pass --force")]
    TargetExists { path: PathBuf },
    #[error(
        "the PostgreSQL database has {0} tables already: restore into an empty database \
         (createdb -O OWNER NAME)"
    )]
    NotEmpty(i64),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Database(String),
    #[error("{tool} failed: {message}")]
    Tool { tool: &'static str, message: String },
    #[error("{path} is neither a SQLite database nor a PostgreSQL custom-format dump")]
    UnknownFormat { path: PathBuf },
    #[error("the backup is damaged: SQLite's integrity check says {0}")]
    Damaged(String),
    #[error("{0} release files differ from the backup's manifest:\n{1}")]
    ManifestMismatch(usize, String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A restored database, and whether its release files were compared with a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub summary: Summary,
    /// `Some(path)`: the manifest beside the backup, which every release file matched.
    pub manifest_checked: Option<PathBuf>,
}

/// What a backup or a restore found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub responses: i64,
    pub releases: i64,
    /// One line per release file: `YEAR vVERSION FILE SHA256`.
    pub manifest: String,
}

impl Summary {
    pub fn render(&self) -> String {
        format!(
            "{} responses, {} releases ({} release files)\n",
            self.responses,
            self.releases,
            self.manifest.lines().count()
        )
    }
}

/// The manifest of `path`'s backup.
pub fn manifest_path(backup: &Path) -> PathBuf {
    let mut name = backup.as_os_str().to_owned();
    name.push(".manifest");
    PathBuf::from(name)
}

fn sqlite_path(url: &str) -> PathBuf {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    PathBuf::from(rest.split('?').next().unwrap_or(rest))
}

fn one_connection() -> ConnectOptions {
    ConnectOptions {
        max_connections: 2,
        group_commit: false,
        ..ConnectOptions::default()
    }
}

/// Counts and the release manifest of the database `store` is on.
pub async fn summarize(store: Arc<SqlStore>) -> Result<Summary, BackupError> {
    let count = |sql: &'static str| {
        let pool = store.pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .map_err(|e| BackupError::Database(e.to_string()))
        }
    };
    let responses = count("SELECT COUNT(*) FROM responses").await?;
    let releases = count("SELECT COUNT(*) FROM releases").await?;
    Ok(Summary {
        responses,
        releases,
        manifest: release_manifest(store).await?,
    })
}

/// Every open-data file of every published release, built and hashed as the public site serves
/// it (`/du-lieu/YEAR/vVERSION/FILE`).
pub async fn release_manifest(store: Arc<SqlStore>) -> Result<String, BackupError> {
    use sha2::Digest;
    use sipas_app::staff::release::ReleaseStore;
    use tower::ServiceExt;
    let releases = store
        .releases()
        .await
        .map_err(|e| BackupError::Database(e.to_string()))?;
    let app =
        crate::startup::Application::build(store, crate::startup::Settings::in_process()).router();
    let mut manifest = String::new();
    for release in releases {
        for file in crate::services::open_data::FILES {
            let uri = format!("/du-lieu/{}/v{}/{file}", release.year, release.version);
            let request = axum::http::Request::get(&uri)
                .body(axum::body::Body::empty())
                .map_err(|e| BackupError::Database(e.to_string()))?;
            let response = app
                .clone()
                .oneshot(request)
                .await
                .map_err(|e| BackupError::Database(e.to_string()))?;
            match response.status() {
                axum::http::StatusCode::OK => {}
                // Files a release does not have (the 2025-map ones of a 34-unit release).
                axum::http::StatusCode::NOT_FOUND => continue,
                other => {
                    return Err(BackupError::Database(format!("{uri} answered {other}")));
                }
            }
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .map_err(|e| BackupError::Database(e.to_string()))?;
            let digest = sipas_app::survey::codes::hex(&sha2::Sha256::digest(&body));
            manifest.push_str(&format!(
                "{} v{} {file} {digest}\n",
                release.year, release.version
            ));
        }
    }
    Ok(manifest)
}

/// `sipas backup --to FILE`: a consistent copy of the database at `url`, and its manifest.
pub async fn backup(url: &str, to: &Path) -> Result<Summary, BackupError> {
    if to.exists() {
        return Err(BackupError::Exists { path: to.into() });
    }
    let partial = {
        let mut name = to.as_os_str().to_owned();
        name.push(".partial");
        PathBuf::from(name)
    };
    // A partial file left by an interrupted backup is ours to replace.
    let _ = std::fs::remove_file(&partial);
    let store = Arc::new(store::open(url, &one_connection()).await?);
    match store.engine_kind() {
        Engine::Sqlite => {
            let target = partial.display().to_string().replace('\'', "''");
            sqlx::query(&format!("VACUUM INTO '{target}'"))
                .execute(store.pool())
                .await
                .map_err(|e| BackupError::Database(format!("VACUUM INTO: {e}")))?;
        }
        Engine::Postgres => run_tool(
            "pg_dump",
            url,
            &[
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                "--file",
                &partial.display().to_string(),
            ],
        )?,
    }
    let summary = summarize(store.clone()).await?;
    store.close().await;
    sync_file(&partial)?;
    std::fs::rename(&partial, to).map_err(io(to))?;
    let manifest = manifest_path(to);
    std::fs::write(&manifest, &summary.manifest).map_err(io(&manifest))?;
    sync_file(&manifest)?;
    if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The renames themselves survive a power cut.
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(summary)
}

fn sync_file(path: &Path) -> Result<(), BackupError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io(path))
}

/// A URL's password moved out of it: PostgreSQL's tools read `PGPASSWORD`, and a command line
/// is visible to every user of the machine.
fn without_password(url: &str) -> (String, Option<String>) {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((credentials, host)) = rest.rsplit_once('@')
        && let Some((user, password)) = credentials.split_once(':')
    {
        return (
            format!("{scheme}://{user}@{host}"),
            Some(password.to_owned()),
        );
    }
    (url.to_owned(), None)
}

/// Runs one of PostgreSQL's tools on the database at `url`.
fn run_tool(tool: &'static str, url: &str, args: &[&str]) -> Result<(), BackupError> {
    let (url, password) = without_password(url);
    let mut command = std::process::Command::new(tool);
    command.args(args).arg("--dbname").arg(&url);
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    let output = command.output().map_err(|e| BackupError::Tool {
        tool,
        message: format!("cannot run it ({e}); install PostgreSQL's client tools"),
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(BackupError::Tool {
            tool,
            message: crate::config::redact_url(String::from_utf8_lossy(&output.stderr).trim()),
        })
    }
}

enum Format {
    Sqlite,
    PostgresDump,
}

fn format_of(path: &Path) -> Result<Format, BackupError> {
    use std::io::Read;
    let mut head = [0u8; 16];
    let mut file = std::fs::File::open(path).map_err(io(path))?;
    let read = file.read(&mut head).map_err(io(path))?;
    if read == 16 && &head == b"SQLite format 3\0" {
        Ok(Format::Sqlite)
    } else if read >= 5 && &head[..5] == b"PGDMP" {
        Ok(Format::PostgresDump)
    } else {
        Err(BackupError::UnknownFormat { path: path.into() })
    }
}

/// `sipas restore --from FILE`: the backup into the database at `url` (SQLite: a new file;
/// PostgreSQL: an empty database, restored as the owner at `owner_url`, then the application
/// role `application_role` granted its privileges). With `verify`, the restored database is
/// checked (SQLite's integrity check, the schema, counts) and its release manifest compared
/// with the backup's.
pub async fn restore(
    from: &Path,
    url: &str,
    owner_url: &str,
    application_role: Option<&str>,
    force: bool,
    verify: bool,
) -> Result<Restored, BackupError> {
    match (format_of(from)?, Engine::from_url(url)?) {
        (Format::Sqlite, Engine::Sqlite) => {
            let target = sqlite_path(url);
            if target.exists() && !force {
                return Err(BackupError::TargetExists { path: target });
            }
            check_sqlite_file(from).await?;
            let partial = target.with_extension("restoring");
            std::fs::copy(from, &partial).map_err(io(&partial))?;
            sync_file(&partial)?;
            // An old database's journal must not be replayed into the restored one.
            for suffix in ["-wal", "-shm"] {
                let mut name = target.as_os_str().to_owned();
                name.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(name));
            }
            std::fs::rename(&partial, &target).map_err(io(&target))?;
        }
        (Format::PostgresDump, Engine::Postgres) => {
            sqlx::any::install_default_drivers();
            let pool = sqlx::any::AnyPoolOptions::new()
                .max_connections(1)
                .connect(owner_url)
                .await
                .map_err(|e| BackupError::Database(e.to_string()))?;
            let tables: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'",
            )
            .fetch_one(&pool)
            .await
            .map_err(|e| BackupError::Database(e.to_string()))?;
            pool.close().await;
            if tables > 0 {
                return Err(BackupError::NotEmpty(tables));
            }
            run_tool(
                "pg_restore",
                owner_url,
                &[
                    "--no-owner",
                    "--no-privileges",
                    "--exit-on-error",
                    "--single-transaction",
                    &from.display().to_string(),
                ],
            )?;
            // Tables restored by the owner, privileges as `sipas migrate` grants them.
            store::migrate(owner_url, &one_connection(), application_role)
                .await?
                .close()
                .await;
        }
        (Format::Sqlite, Engine::Postgres) | (Format::PostgresDump, Engine::Sqlite) => {
            return Err(BackupError::Tool {
                tool: "restore",
                message: "the backup is of the other database engine".into(),
            });
        }
    }
    let store = Arc::new(store::open(url, &one_connection()).await?);
    let summary = summarize(store.clone()).await?;
    store.close().await;
    let mut manifest_checked = None;
    if verify {
        let manifest = manifest_path(from);
        if manifest.exists() {
            let expected = std::fs::read_to_string(&manifest).map_err(io(&manifest))?;
            compare_manifests(&expected, &summary.manifest)?;
            manifest_checked = Some(manifest);
        }
    }
    Ok(Restored {
        summary,
        manifest_checked,
    })
}

/// SQLite's own check of every page and index, on a copy (opening a database may migrate it).
async fn check_sqlite_file(path: &Path) -> Result<(), BackupError> {
    let dir = tempfile::tempdir().map_err(io(path))?;
    let copy = dir.path().join("check.db");
    std::fs::copy(path, &copy).map_err(io(&copy))?;
    let store = store::open(&format!("sqlite://{}", copy.display()), &one_connection()).await?;
    let check: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(store.pool())
        .await
        .map_err(|e| BackupError::Damaged(e.to_string()))?;
    store.close().await;
    if check != ["ok"] {
        return Err(BackupError::Damaged(check.join("; ")));
    }
    Ok(())
}

fn compare_manifests(expected: &str, found: &str) -> Result<(), BackupError> {
    let found: std::collections::BTreeSet<&str> = found.lines().collect();
    let expected: std::collections::BTreeSet<&str> = expected.lines().collect();
    let differing: Vec<String> = expected
        .symmetric_difference(&found)
        .map(|line| {
            if expected.contains(line) {
                format!("  backup:   {line}")
            } else {
                format!("  restored: {line}")
            }
        })
        .collect();
    if differing.is_empty() {
        Ok(())
    } else {
        Err(BackupError::ManifestMismatch(
            differing.len(),
            differing.join("\n"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_compare_by_line() {
        assert!(
            compare_manifests("2026 v1 a x\n2026 v1 b y\n", "2026 v1 b y\n2026 v1 a x\n").is_ok()
        );
        let err = compare_manifests("2026 v1 a x\n", "2026 v1 a z\n").expect_err("differs");
        let text = err.to_string();
        assert!(text.contains("backup:   2026 v1 a x"), "{text}");
        assert!(text.contains("restored: 2026 v1 a z"), "{text}");
    }

    #[test]
    fn passwords_stay_off_the_command_line() {
        assert_eq!(
            without_password("postgres://owner:s3cret@db:5432/sipas"),
            (
                "postgres://owner@db:5432/sipas".to_owned(),
                Some("s3cret".to_owned())
            )
        );
        assert_eq!(
            without_password("postgres://owner@db/sipas"),
            ("postgres://owner@db/sipas".to_owned(), None)
        );
    }

    #[test]
    fn sqlite_paths_from_urls() {
        assert_eq!(
            sqlite_path("sqlite://a/b.db?mode=rwc"),
            PathBuf::from("a/b.db")
        );
        assert_eq!(sqlite_path("sqlite:c.db"), PathBuf::from("c.db"));
        assert_eq!(
            manifest_path(Path::new("/x/b.db")),
            PathBuf::from("/x/b.db.manifest")
        );
    }
}
