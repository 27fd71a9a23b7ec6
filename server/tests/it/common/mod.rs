//! Test harness: fresh databases on both engines.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
#![allow(dead_code)]

pub mod browser;
pub mod fixtures;
pub mod load;

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::Executor;
use sqlx::any::AnyPoolOptions;

/// A fresh SQLite database file in its own temporary directory.
pub struct SqliteDb {
    pub dir: tempfile::TempDir,
    pub url: String,
}

pub fn sqlite_db() -> SqliteDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    SqliteDb { dir, url }
}

/// The PostgreSQL server for tests: `TEST_DATABASE_URL`, or the role scripts/test.sh creates.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://sipas_test:sipas_test@127.0.0.1:5432/postgres".to_owned())
}

/// The role the application runs as in the tests (scripts/postgres.sh creates it): not the
/// owner of the databases, granted by `sipas migrate` what a deployment's server gets.
pub const POSTGRES_APP_ROLE: &str = "sipas_test_app";

/// The URL of database `name` as its owner (the admin role that created it).
pub fn postgres_owner_url(name: &str) -> String {
    let admin = postgres_admin_url();
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_owned())
        .expect("URL with a database");
    format!("{base}/{name}")
}

/// The URL of database `name` as the application role.
pub fn postgres_app_url(name: &str) -> String {
    let owner = postgres_owner_url(name);
    let (_, host) = owner.split_once('@').expect("URL with credentials");
    format!("postgres://{POSTGRES_APP_ROLE}:{POSTGRES_APP_ROLE}@{host}")
}

/// A fresh PostgreSQL database, migrated by its owner and granted to the application role as
/// `sipas migrate` does; returns the application role's URL and the name (for
/// `drop_postgres_db`). `None` means the server is unreachable and we are not in CI; in CI
/// (CI=true) an unreachable server fails the test.
pub async fn postgres_db() -> Option<(String, String)> {
    let name = postgres_empty_db().await?;
    let owner = sipas_server::store::migrate(
        &postgres_owner_url(&name),
        &sipas_server::store::ConnectOptions {
            max_connections: 1,
            group_commit: false,
            ..Default::default()
        },
        Some(POSTGRES_APP_ROLE),
    )
    .await
    .unwrap_or_else(|err| {
        panic!("migrating {name} as its owner failed ({err}); scripts/postgres.sh creates the {POSTGRES_APP_ROLE} role")
    });
    owner.close().await;
    Some((postgres_app_url(&name), name))
}

/// A fresh PostgreSQL database with nothing in it (its name); see [`postgres_db`].
pub async fn postgres_empty_db() -> Option<String> {
    sqlx::any::install_default_drivers();
    let admin = postgres_admin_url();
    let pool = match AnyPoolOptions::new()
        .max_connections(1)
        .connect(&admin)
        .await
    {
        Ok(pool) => pool,
        Err(err) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("PostgreSQL must be reachable in CI ({err}); run scripts/test.sh");
            }
            eprintln!("SKIPPING PostgreSQL: cannot connect ({err}); run scripts/test.sh");
            return None;
        }
    };
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let name = format!("sipas_test_{}_{}", std::process::id(), nanos);
    pool.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create database");
    pool.close().await;
    Some(name)
}

pub async fn drop_postgres_db(name: &str) {
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(&postgres_admin_url())
        .await
        .expect("connect to drop");
    // A SIGKILLed server's backends may still be going away (crash.rs): FORCE ends them, and
    // a second try covers one that was starting meanwhile.
    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    if let Err(first) = pool.execute(drop.as_str()).await {
        eprintln!("dropping {name} failed once ({first}); trying again");
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        if let Err(err) = pool.execute(drop.as_str()).await {
            panic!("drop database {name}: {err}");
        }
    }
    pool.close().await;
}

/// A store on a database, migrated.
pub async fn store_on(url: &str) -> std::sync::Arc<sipas_server::store::SqlStore> {
    std::sync::Arc::new(
        sipas_server::store::open(url, &sipas_server::store::ConnectOptions::default())
            .await
            .expect("open"),
    )
}

/// The application on a store, built as `sipas serve` builds it ([`sipas_server::startup`]).
pub fn application(
    store: std::sync::Arc<sipas_server::store::SqlStore>,
    settings: sipas_server::startup::Settings,
) -> sipas_server::startup::Application {
    sipas_server::startup::Application::build(store, settings)
}

/// The application's state on a database, with the given limits.
pub async fn state_on(
    url: &str,
    limits: sipas_server::web::limits::Limits,
) -> sipas_server::web::AppState {
    let settings = sipas_server::startup::Settings {
        limits,
        ..sipas_server::startup::Settings::in_process()
    };
    application(store_on(url).await, settings).state
}

/// The whole HTTP application on a database, in-process. One in-process "client" sends every
/// request of a test, so there are no per-client rate limits here; they have tests of their
/// own (abuse.rs).
pub async fn app_on(url: &str) -> axum::Router {
    application(
        store_on(url).await,
        sipas_server::startup::Settings::in_process(),
    )
    .router()
}

/// Seeds the demo wave and issues `count` probability codes for one sample point.
pub async fn seed_codes(
    store: &dyn sipas_app::ports::Store,
    staff: &dyn sipas_app::staff::StaffStore,
    count: usize,
) -> Vec<String> {
    use sipas_app::domain::{Geography, SampleKind, SamplePoint};
    sipas_server::services::demo::seed(staff)
        .await
        .expect("seed");
    let codes = sipas_server::services::invitations::generate(count).expect("codes");
    let hashes: Vec<String> = codes
        .iter()
        .map(sipas_server::services::invitations::hash)
        .collect();
    let sample = SamplePoint {
        wave_code: "sipas-2026-demo".into(),
        geography: Geography::G2025,
        province_code: "79".into(),
        stratum: sipas_server::services::demo::EXAMPLE_STRATUM.into(),
        psu: sipas_server::services::demo::EXAMPLE_COMMUNE.into(),
    };
    store
        .add_invitations(&sample, SampleKind::Probability, "t", &hashes)
        .await
        .expect("store codes");
    codes.iter().map(|c| c.as_str().to_owned()).collect()
}

/// The application on a fresh SQLite database.
pub async fn app() -> (axum::Router, SqliteDb) {
    let db = sqlite_db();
    (app_on(&db.url).await, db)
}

/// Sends a request; returns status, headers and body text.
pub async fn send(
    app: &axum::Router,
    request: axum::http::Request<axum::body::Body>,
) -> (axum::http::StatusCode, axum::http::HeaderMap, String) {
    use tower::ServiceExt;
    let response = app.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 4 << 20)
        .await
        .expect("body");
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// GETs a page. A page that has not rendered within 10 s fails the test: there is no retry,
/// so a stalled render (as leptos-rs/leptos#4773 once caused, see `http::route_list`) is loud.
pub async fn get(
    app: &axum::Router,
    uri: &str,
) -> (axum::http::StatusCode, axum::http::HeaderMap, String) {
    let request = axum::http::Request::get(uri)
        .body(axum::body::Body::empty())
        .expect("request");
    tokio::time::timeout(std::time::Duration::from_secs(10), send(app, request))
        .await
        .unwrap_or_else(|_| panic!("GET {uri} did not answer within 10 s (a stalled render)"))
}

/// The audit entry of a change a test makes directly on the store (`action` is a key).
pub fn audit(action: &str) -> sipas_app::staff::port::AuditEntry {
    let action = sipas_app::staff::port::AuditAction::from_key(action)
        .unwrap_or_else(|| panic!("{action} is not an audit action"));
    sipas_app::staff::port::AuditEntry::new("test", action)
}

/// Creates a wave with no schedule, as the tests' actor.
pub async fn create_wave(
    store: &(impl sipas_app::staff::FieldStore + ?Sized),
    wave: &sipas_app::domain::Wave,
) -> sipas_app::ports::StoreResult<()> {
    store
        .create_wave_scheduled(wave, &Default::default(), &audit("wave_created"))
        .await
}

/// Publishes a questionnaire version as the tests' actor; whether it was new.
pub async fn publish(
    store: &(impl sipas_app::staff::FieldStore + ?Sized),
    questionnaire: &sipas_app::survey::questionnaire::Questionnaire,
) -> sipas_app::ports::StoreResult<bool> {
    store
        .publish_questionnaire(questionnaire, &audit("questionnaire_published"))
        .await
}

/// Every acknowledged submission (code → receipt) is in the database under its receipt, once;
/// no code is used without its response or answered without being used; `total` responses in
/// all.
pub async fn assert_acknowledged_stored_once(
    pool: &sqlx::AnyPool,
    acknowledged: &std::collections::HashMap<String, String>,
    total: usize,
) {
    let stored: Vec<(String, String)> = sqlx::query_as("SELECT code_hash, receipt FROM responses")
        .fetch_all(pool)
        .await
        .expect("responses");
    let used: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM invitation_codes WHERE used_at IS NOT NULL")
            .fetch_one(pool)
            .await
            .expect("used codes");
    let used_with_response: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM responses r JOIN invitation_codes c ON c.code_hash = r.code_hash \
         WHERE c.used_at IS NOT NULL",
    )
    .fetch_one(pool)
    .await
    .expect("join");
    assert_eq!(stored.len(), total, "exactly one response per code");
    assert_eq!(used, total as i64, "no used code without its response");
    assert_eq!(
        used_with_response, total as i64,
        "no response without its used code"
    );
    let by_code: std::collections::HashMap<String, String> = stored.into_iter().collect();
    for (code, receipt) in acknowledged {
        let hash = sipas_server::services::invitations::hash(
            &sipas_app::survey::codes::InvitationCode::parse(code).expect("code"),
        );
        assert_eq!(
            by_code.get(&hash),
            Some(receipt),
            "the acknowledged receipt of {code} is the stored one"
        );
    }
}

/// A PostgreSQL server of the test's own (initdb in a temporary folder, its own port), for
/// tests that stop and start the server: the shared one serves the other tests meanwhile.
/// `None` outside CI when the PostgreSQL binaries are missing.
pub struct PrivateCluster {
    pub dir: tempfile::TempDir,
    pub port: u16,
    bin: std::path::PathBuf,
}

impl PrivateCluster {
    pub fn start() -> Option<Self> {
        let bin = ["17", "16", "15", "14"]
            .iter()
            .map(|v| std::path::PathBuf::from(format!("/usr/lib/postgresql/{v}/bin")))
            .find(|p| p.join("initdb").exists());
        let Some(bin) = bin else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("PostgreSQL's binaries must be installed in CI (scripts/setup.sh)");
            }
            eprintln!("SKIPPING: no PostgreSQL binaries");
            return None;
        };
        let dir = tempfile::tempdir().expect("dir");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("data dir");
        let cluster = Self {
            port: load::free_port(),
            dir,
            bin,
        };
        cluster.chown();
        cluster.run(
            "initdb",
            &[
                "-D",
                &data.display().to_string(),
                "--auth=trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        cluster.pg_ctl(&["start", "-w"]);
        Some(cluster)
    }

    /// As root, the server runs as the `postgres` account (it refuses root).
    fn chown(&self) {
        if running_as_root() {
            let status = std::process::Command::new("chown")
                .args([
                    "-R",
                    "postgres:postgres",
                    &self.dir.path().display().to_string(),
                ])
                .status()
                .expect("chown");
            assert!(status.success());
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let program = self.bin.join(tool).display().to_string();
        let output = if running_as_root() {
            std::process::Command::new("runuser")
                .args(["-u", "postgres", "--", &program])
                .args(args)
                .current_dir("/tmp")
                .output()
        } else {
            std::process::Command::new(&program).args(args).output()
        }
        .expect("run a PostgreSQL tool");
        assert!(
            output.status.success(),
            "{tool} {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    pub fn pg_ctl(&self, args: &[&str]) {
        let data = self.dir.path().join("data").display().to_string();
        let log = self.dir.path().join("server.log").display().to_string();
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=on",
            self.port,
            self.dir.path().display()
        );
        let mut all = vec!["-D", &data, "-l", &log, "-o", &options];
        all.extend_from_slice(args);
        self.run("pg_ctl", &all);
    }

    /// Stops the server as a crash would (no shutdown checkpoint; recovery replays the WAL).
    pub fn crash(&self) {
        self.pg_ctl(&["stop", "-m", "immediate", "-w"]);
    }

    pub fn url(&self, user: &str, database: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/{database}", self.port)
    }

    /// An owner and an application role and their database, migrated as `sipas migrate`
    /// does; returns (owner URL, application URL).
    pub async fn sipas_database(&self) -> (String, String) {
        sqlx::any::install_default_drivers();
        let admin = AnyPoolOptions::new()
            .max_connections(1)
            .connect(&self.url("postgres", "postgres"))
            .await
            .expect("connect as postgres");
        for sql in [
            "CREATE ROLE sipas_owner LOGIN",
            "CREATE ROLE sipas_app LOGIN",
            "CREATE DATABASE sipas OWNER sipas_owner",
        ] {
            admin.execute(sql).await.expect(sql);
        }
        admin.close().await;
        let (owner, app) = (
            self.url("sipas_owner", "sipas"),
            self.url("sipas_app", "sipas"),
        );
        sipas_server::store::migrate(&owner, &Default::default(), Some("sipas_app"))
            .await
            .expect("migrate")
            .close()
            .await;
        (owner, app)
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let data = self.dir.path().join("data").display().to_string();
        let program = self.bin.join("pg_ctl").display().to_string();
        let args = ["-D", data.as_str(), "stop", "-m", "immediate"];
        let _ = if running_as_root() {
            std::process::Command::new("runuser")
                .args(["-u", "postgres", "--", &program])
                .args(args)
                .output()
        } else {
            std::process::Command::new(&program).args(args).output()
        };
    }
}

/// Whether the tests run as root (then PostgreSQL's tools run as `postgres`).
pub fn running_as_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `sipas demo --no-history` then `sipas codes` for the example commune: `count` codes of the
/// current wave, as an operator would issue them (the CLI, on `url`).
pub fn demo_codes_from_the_cli(url: &str, dir: &std::path::Path, count: usize) -> Vec<String> {
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_sipas"))
            .args(args)
            .env("DATABASE_URL", url)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run sipas");
        assert!(
            output.status.success(),
            "sipas {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let file = dir.join("codes.csv");
    run(&["demo", "--no-history"]);
    run(&[
        "codes",
        "--wave",
        "sipas-2026-demo",
        "--psu",
        sipas_server::services::demo::EXAMPLE_COMMUNE,
        "--count",
        &count.to_string(),
        "--out",
        &file.display().to_string(),
    ]);
    let codes = load::read_codes(&file);
    assert_eq!(codes.len(), count);
    codes
}

/// A complete, valid set of answers to the built-in questionnaire (SIPAS 2023 v1).
/// The built-in methodology with every quality check off: for tests whose responses are one
/// machine-made answer vector sent many times (each would be a duplicate and a straight-liner).
pub fn methodology_without_quality_checks() -> String {
    let text = sipas_server::services::questionnaires::SIPAS_2023_METHODOLOGY
        .replace("min_seconds_per_item = 1.5", "min_seconds_per_item = 0")
        .replace("straight_line_items = 30", "straight_line_items = 0")
        .replace("max_no_answer_share = 0.5", "max_no_answer_share = 1")
        .replace("duplicates = true", "duplicates = false");
    let methodology = sipas_stats::methodology::Methodology::from_toml(&text).expect("methodology");
    assert_eq!(
        methodology.quality.straight_line_items, 0,
        "the built-in [quality] section changed: update this helper"
    );
    text
}

pub fn sipas_answers() -> std::sync::Arc<sipas_app::survey::questionnaire::Answers> {
    let questionnaire = sipas_server::services::questionnaires::parse(
        sipas_server::services::questionnaires::SIPAS_2023,
    )
    .expect("questionnaire");
    let answers = load::complete_answers(&questionnaire);
    assert!(questionnaire.validate(&answers, None).is_empty());
    std::sync::Arc::new(answers)
}

/// `sipas serve` on `url` at a free port, rate limits off (one client sends everything), with
/// `env` added; killed when dropped. `SIPAS_TEST_SERVER_LOGS=1` shows its log.
pub fn spawn_server(
    url: &str,
    env: &[(&str, &str)],
) -> (tokio::process::Child, std::net::SocketAddr) {
    let port = load::free_port();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sipas"))
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "error")
        .env("SIPAS_LIMIT_SUBMISSIONS_PER_MINUTE", "0")
        .env("SIPAS_LIMIT_CODE_PAGES_PER_MINUTE", "0")
        .envs(env.iter().copied())
        .stdout(if std::env::var_os("SIPAS_TEST_SERVER_LOGS").is_some() {
            std::process::Stdio::inherit()
        } else {
            std::process::Stdio::null()
        })
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start sipas serve");
    (child, std::net::SocketAddr::from(([127, 0, 0, 1], port)))
}
