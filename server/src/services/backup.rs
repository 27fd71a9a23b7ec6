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
//! `backup` writes `FILE.manifest` beside the backup: the files of every release published
//! when the backup began (releases are only ever added, so the backup has at least those).
//! `restore --verify` rebuilds them from the restored copy and compares them byte for byte
//! before the copy replaces anything. The manifest depends on the software that built the
//! files: verify with the version that took the backup.

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
        "{1} has {0} tables already: restore into an empty database (createdb -O OWNER NAME); \
         --force replaces SQLite files only"
    )]
    NotEmpty(i64, String),
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
    #[error(
        "{} has no manifest beside it ({}): --verify cannot compare the release files \
         (restore without --verify to go on anyway)",
        .0.display(),
        manifest_path(.0).display()
    )]
    NoManifest(PathBuf),
    #[error(
        "a server is running on {}: stop it before restoring over its database",
        .0.display()
    )]
    ServerRunning(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A restored database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub summary: Summary,
    /// With `--verify`: the manifest every release file matched.
    pub manifest_checked: Option<PathBuf>,
    /// Releases published after the backup began, so in it but not in its manifest.
    pub newer_releases: usize,
    /// Where the database that was replaced went (SQLite with `--force`).
    pub replaced: Option<PathBuf>,
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
/// The database must exist and be at this build's schema (it is never created or migrated
/// here: take the backup before an upgrade with the version that is running).
pub async fn backup(url: &str, to: &Path) -> Result<Summary, BackupError> {
    let manifest = manifest_path(to);
    for path in [to, manifest.as_path()] {
        if path.exists() {
            return Err(BackupError::Exists { path: path.into() });
        }
    }
    let partial = {
        let mut name = to.as_os_str().to_owned();
        name.push(".partial");
        PathBuf::from(name)
    };
    let store = Arc::new(store::open_existing(url, &one_connection()).await?);
    // A partial file left by an interrupted backup is ours to replace. The new one is made
    // empty and private first (responses, password hashes): never readable by others, not even
    // while it is written. `VACUUM INTO` accepts an empty file; `pg_dump` overwrites it.
    let _ = std::fs::remove_file(&partial);
    create_private(&partial)?;
    // What was published when the backup began: the copy holds at least that.
    let summary = summarize(store.clone()).await?;
    match store.engine_kind() {
        Engine::Sqlite => {
            let target = partial.display().to_string().replace('\'', "''");
            sqlx::query(&format!("VACUUM INTO '{target}'"))
                .execute(store.pool())
                .await
                .map_err(|e| BackupError::Database(format!("VACUUM INTO: {e}")))?;
        }
        Engine::Postgres => {
            let partial = partial.display().to_string();
            let url = url.to_owned();
            tokio::task::spawn_blocking(move || {
                run_tool(
                    "pg_dump",
                    &url,
                    &[
                        "--format=custom",
                        "--no-owner",
                        "--no-privileges",
                        "--file",
                        &partial,
                    ],
                )
            })
            .await
            .map_err(|e| BackupError::Database(e.to_string()))??;
        }
    }
    store.close().await;
    // The manifest first: a backup under its final name always has its manifest beside it.
    crate::services::files::temp_beside(&manifest)
        .and_then(|mut file| {
            use std::io::Write;
            file.write_all(summary.manifest.as_bytes())?;
            crate::services::files::persist(file, &manifest)
        })
        .map_err(io(&manifest))?;
    sync_file(&partial)?;
    std::fs::rename(&partial, to).map_err(io(to))?;
    if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The rename itself survives a power cut.
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(summary)
}

/// An empty file only its owner may read and write.
fn create_private(path: &Path) -> Result<(), BackupError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop).map_err(io(path))
}

#[cfg(unix)]
fn restrict(path: &Path) -> Result<(), BackupError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io(path))
}

#[cfg(not(unix))]
fn restrict(_path: &Path) -> Result<(), BackupError> {
    Ok(())
}

fn sync_file(path: &Path) -> Result<(), BackupError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io(path))
}

/// A URL's password moved out of it (from the user part or a `password=` parameter, decoded):
/// PostgreSQL's tools read `PGPASSWORD`, and a command line is visible to every user of the
/// machine.
fn without_password(raw: &str) -> (String, Option<String>) {
    let Ok(mut url) = url::Url::parse(raw) else {
        return (raw.to_owned(), None);
    };
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8_lossy()
            .into_owned()
    };
    let mut password = url.password().map(decode);
    let _ = url.set_password(None);
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter_map(|(key, value)| {
            if key == "password" {
                password = Some(value.into_owned());
                None
            } else {
                Some((key.into_owned(), value.into_owned()))
            }
        })
        .collect();
    if pairs.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    (url.to_string(), password)
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

/// `sipas restore --from FILE`: the backup into the database at `url` (SQLite: a new file, or
/// with `force` in place of one no server is running on, which is kept aside; PostgreSQL: an
/// empty database, restored as the owner at `owner_url`, then the application role
/// `application_role` granted its privileges). With `verify`, the release files of the backup's
/// manifest are rebuilt from the restored copy and compared byte for byte, before anything is
/// replaced (SQLite).
pub async fn restore(
    from: &Path,
    url: &str,
    owner_url: &str,
    application_role: Option<&str>,
    force: bool,
    verify: bool,
) -> Result<Restored, BackupError> {
    let expected = if verify {
        let manifest = manifest_path(from);
        if !manifest.exists() {
            return Err(BackupError::NoManifest(from.into()));
        }
        Some((
            std::fs::read_to_string(&manifest).map_err(io(&manifest))?,
            manifest,
        ))
    } else {
        None
    };
    let check = |summary: &Summary| -> Result<(Option<PathBuf>, usize), BackupError> {
        match &expected {
            Some((lines, manifest)) => {
                let newer = compare_manifests(lines, &summary.manifest)?;
                Ok((Some(manifest.clone()), newer))
            }
            None => Ok((None, 0)),
        }
    };
    match (format_of(from)?, Engine::from_url(url)?) {
        (Format::Sqlite, Engine::Sqlite) => {
            let target = store::sqlite::path_of(url);
            // Held until the restore is done: no server starts on the file meanwhile.
            let lock = serving_lock_exclusive(&target)?;
            if target.exists() && !force {
                return Err(BackupError::TargetExists { path: target });
            }
            check_sqlite_file(from).await?;
            let restoring = target.with_extension("restoring");
            let _ = std::fs::remove_file(&restoring);
            std::fs::copy(from, &restoring).map_err(io(&restoring))?;
            restrict(&restoring)?;
            // Checked as the database it will be, before it replaces anything.
            let store = Arc::new(
                store::open(
                    &format!("sqlite://{}", restoring.display()),
                    &one_connection(),
                )
                .await?,
            );
            let summary = summarize(store.clone()).await?;
            store.close().await;
            let (manifest_checked, newer_releases) = check(&summary)?;
            sync_file(&restoring)?;
            // The database replaced is kept, with its journal (commits not yet in the file).
            let replaced = if target.exists() {
                let now = time::OffsetDateTime::now_utc();
                let stamp = format!(
                    "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
                    now.year(),
                    u8::from(now.month()),
                    now.day(),
                    now.hour(),
                    now.minute(),
                    now.second()
                );
                let aside = PathBuf::from(format!("{}.replaced-{stamp}", target.display()));
                for suffix in ["", "-wal", "-shm"] {
                    let from = PathBuf::from(format!("{}{suffix}", target.display()));
                    if from.exists() {
                        let to = PathBuf::from(format!("{}{suffix}", aside.display()));
                        std::fs::rename(&from, &to).map_err(io(&from))?;
                    }
                }
                Some(aside)
            } else {
                None
            };
            std::fs::rename(&restoring, &target).map_err(io(&target))?;
            drop(lock);
            Ok(Restored {
                summary,
                manifest_checked,
                newer_releases,
                replaced,
            })
        }
        (Format::PostgresDump, Engine::Postgres) => {
            if force {
                return Err(BackupError::Tool {
                    tool: "restore",
                    message: "--force replaces SQLite files only: a PostgreSQL backup is \
                              restored into an empty database (createdb -O OWNER NAME)"
                        .into(),
                });
            }
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
                let name = url::Url::parse(owner_url)
                    .map(|u| format!("the database {}", u.path().trim_start_matches('/')))
                    .unwrap_or_else(|_| "the database".to_owned());
                return Err(BackupError::NotEmpty(tables, name));
            }
            let (owner, dump) = (owner_url.to_owned(), from.display().to_string());
            tokio::task::spawn_blocking(move || {
                run_tool(
                    "pg_restore",
                    &owner,
                    &[
                        "--no-owner",
                        "--no-privileges",
                        "--exit-on-error",
                        "--single-transaction",
                        &dump,
                    ],
                )
            })
            .await
            .map_err(|e| BackupError::Database(e.to_string()))?
            .map_err(|err| match err {
                BackupError::Tool { tool, message } if message.contains("permission denied") => {
                    BackupError::Tool {
                        tool,
                        message: format!(
                            "the role of migrate_database_url may not create the tables: set \
                             SIPAS_MIGRATE_DATABASE_URL to the URL of the role that owns the \
                             database (createdb -O OWNER NAME). {}",
                            message.lines().next().unwrap_or_default()
                        ),
                    }
                }
                other => other,
            })?;
            // Tables restored by the owner, privileges as `sipas migrate` grants them.
            store::migrate(owner_url, &one_connection(), application_role)
                .await?
                .close()
                .await;
            let store = Arc::new(store::open(url, &one_connection()).await?);
            let summary = summarize(store.clone()).await?;
            store.close().await;
            // A new database: if it does not match, it replaced nothing; drop it.
            let (manifest_checked, newer_releases) = check(&summary)?;
            Ok(Restored {
                summary,
                manifest_checked,
                newer_releases,
                replaced: None,
            })
        }
        (Format::Sqlite, Engine::Postgres) => Err(BackupError::Tool {
            tool: "restore",
            message: "the backup is a SQLite database and database_url names PostgreSQL".into(),
        }),
        (Format::PostgresDump, Engine::Sqlite) => Err(BackupError::Tool {
            tool: "restore",
            message: "the backup is a PostgreSQL dump and database_url names a SQLite file".into(),
        }),
    }
}

/// The lock a running server holds shared on its SQLite file, taken exclusively for the
/// restore. A restore that leaves no database (it failed) removes the lock file it made.
struct RestoreLock {
    _file: std::fs::File,
    path: PathBuf,
    database: PathBuf,
}

impl Drop for RestoreLock {
    fn drop(&mut self) {
        if !self.database.exists() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn serving_lock_exclusive(database: &Path) -> Result<RestoreLock, BackupError> {
    let path = store::sqlite::serving_lock(database);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(&path))?;
    match file.try_lock() {
        Ok(()) => Ok(RestoreLock {
            _file: file,
            path,
            database: database.to_owned(),
        }),
        Err(std::fs::TryLockError::WouldBlock) => {
            Err(BackupError::ServerRunning(database.to_owned()))
        }
        Err(std::fs::TryLockError::Error(err)) => Err(io(&path)(err)),
    }
}

/// SQLite's own check of every page and index, on a copy (opening a database may migrate it).
async fn check_sqlite_file(path: &Path) -> Result<(), BackupError> {
    let dir = tempfile::tempdir().map_err(io(path))?;
    let copy = dir.path().join("check.db");
    std::fs::copy(path, &copy).map_err(io(&copy))?;
    // Named by the backup, not by the copy: the operator knows only the one.
    let damaged =
        |err: &dyn std::fmt::Display| BackupError::Damaged(format!("{}: {err}", path.display()));
    let store = store::open(&format!("sqlite://{}", copy.display()), &one_connection())
        .await
        .map_err(|err| match err {
            store::OpenError::Connect { source, .. } => damaged(&source),
            other => BackupError::Open(other),
        })?;
    let check: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(store.pool())
        .await
        .map_err(|e| damaged(&e))?;
    store.close().await;
    if check != ["ok"] {
        return Err(damaged(&check.join("; ")));
    }
    Ok(())
}

/// Every line of the manifest must be found as it is; releases the restored database has
/// beyond it (published while the backup ran) are counted, not refused.
fn compare_manifests(expected: &str, found: &str) -> Result<usize, BackupError> {
    let release = |line: &str| line.split(' ').take(2).collect::<Vec<_>>().join(" ");
    let found_lines: std::collections::BTreeSet<&str> = found.lines().collect();
    let expected_lines: std::collections::BTreeSet<&str> = expected.lines().collect();
    let expected_releases: std::collections::BTreeSet<String> =
        expected.lines().map(release).collect();
    let mut differing = Vec::new();
    for line in &expected_lines {
        if !found_lines.contains(line) {
            differing.push(format!("  backup:   {line}"));
        }
    }
    for line in &found_lines {
        if expected_releases.contains(&release(line)) && !expected_lines.contains(line) {
            differing.push(format!("  restored: {line}"));
        }
    }
    if !differing.is_empty() {
        return Err(BackupError::ManifestMismatch(
            differing.len(),
            differing.join("\n"),
        ));
    }
    let newer: std::collections::BTreeSet<String> = found
        .lines()
        .map(release)
        .filter(|r| !expected_releases.contains(r))
        .collect();
    Ok(newer.len())
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
            store::sqlite::path_of("sqlite://a/b.db?mode=rwc"),
            PathBuf::from("a/b.db")
        );
        assert_eq!(store::sqlite::path_of("sqlite:c.db"), PathBuf::from("c.db"));
        assert_eq!(
            manifest_path(Path::new("/x/b.db")),
            PathBuf::from("/x/b.db.manifest")
        );
    }
}
