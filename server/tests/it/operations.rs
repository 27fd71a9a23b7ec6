//! Running it like a ministry system (issue #24): the metrics endpoint, who may read it, and
//! that it shows the load.

use crate::common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::load::{complete_answers, submit_body};
use sipas_server::config::Config;
use sipas_server::metrics::MetricsAccess;
use sipas_server::startup::Settings;
use sipas_server::web::limits::Limits;

/// The value of one sample line (`name{labels} value`), 0 when absent.
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn scrape(app: &axum::Router, token: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::get("/metrics");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let (status, headers, body) = common::send(app, request.body(Body::empty()).unwrap()).await;
    if status == StatusCode::OK {
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("application/openmetrics-text"),
        );
        assert!(body.ends_with("# EOF\n"), "a complete exposition");
    }
    (status, body)
}

#[tokio::test]
async fn metrics_show_the_load_to_the_operators_only() {
    let db = common::sqlite_db();
    let store = common::store_on(&db.url).await;
    let config = Config {
        limit_submissions_per_minute: 3,
        ..Config::default()
    };
    let settings = Settings {
        limits: Limits::from_config(&config),
        metrics_access: MetricsAccess::parse(Some("operator token"), "10.0.0.0/8", false).unwrap(),
        ..Settings::in_process()
    };
    let application = common::application(store.clone(), settings);
    let state = application.state.clone();
    let app = application.router();

    // Nobody else: no token, a wrong one, and (in process) no peer address in the range.
    assert_eq!(scrape(&app, None).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        scrape(&app, Some("operator")).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, before) = scrape(&app, Some("operator token")).await;
    assert_eq!(status, StatusCode::OK);

    // Five submissions from one client whose limit is three a minute.
    let codes = common::seed_codes(state.store.as_ref(), state.staff.store.as_ref(), 5).await;
    let questionnaire = state.store.questionnaire("sipas-2023", 1).await.unwrap();
    let answers = complete_answers(&questionnaire);
    let mut statuses = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        let request = Request::post("/api/survey/submit")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(submit_body(
                code,
                &format!("metrics-{i:020}"),
                &answers,
            )))
            .unwrap();
        statuses.push(common::send(&app, request).await.0);
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 429, 429].map(|s| StatusCode::from_u16(s).unwrap())
    );
    let (_, after) = scrape(&app, Some("operator token")).await;
    // Counters are per process and other tests run beside this one: at least these many more.
    let more = |series: &str| sample(&after, series) - sample(&before, series);
    assert!(more("sipas_submissions_acknowledged_total{outcome=\"new\"}") >= 3.0);
    assert!(more("sipas_rate_limited_total{limit=\"submissions\"}") >= 2.0);
    assert!(more("sipas_http_requests_total{class=\"survey\",status=\"200\"}") >= 3.0);
    assert!(more("sipas_http_requests_total{class=\"survey\",status=\"429\"}") >= 2.0);
    assert!(more("sipas_http_request_duration_seconds_count{class=\"survey\"}") >= 5.0);
    assert!(more("sipas_group_commit_batch_size_count") >= 3.0);
    assert!(
        sample(
            &after,
            "sipas_http_requests_total{class=\"metrics\",status=\"403\"}"
        ) >= 2.0
    );
    // Read at the scrape: this server's pool, the computations of the database.
    assert!(
        after.contains("sipas_database_connections_max 10"),
        "{after}"
    );
    assert!(after.contains("sipas_database_connections{state=\"idle\"}"));
    assert!(
        after.contains("sipas_computations{state=\"running\"} 0"),
        "{after}"
    );
    assert!(after.contains("# TYPE sipas_load_shed counter"));
    assert!(after.contains("# TYPE sipas_sign_in_throttled counter"));
    // No personal data: no codes, no addresses, no paths beyond the fixed classes.
    for code in &codes {
        assert!(!after.contains(code.as_str()));
    }
    assert!(!after.contains("/api/"));
}

/// Over a real connection the peer address decides: the default range (this machine) may
/// read it; a server whose range excludes it answers 403.
#[tokio::test]
async fn metrics_by_address_range() {
    use sipas_server::web::{Listener, ServeSettings};
    for (allow_from, expected) in [("127.0.0.1/32,::1/128", 200), ("10.0.0.0/8", 403)] {
        let db = common::sqlite_db();
        let settings = Settings {
            metrics_access: MetricsAccess::parse(None, allow_from, false).unwrap(),
            ..Settings::in_process()
        };
        let state = common::application(common::store_on(&db.url).await, settings).state;
        let listener = Listener::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(listener.run_until(
            state,
            ServeSettings {
                max_connections: 16,
                max_connections_per_client: 0,
                header_read_timeout: std::time::Duration::from_secs(10),
            },
            async move {
                let _ = stopped.await;
            },
        ));
        let (status, _, body) = common::load::Client::new(addr)
            .send("GET", "/metrics", &[], String::new())
            .await
            .unwrap();
        assert_eq!(status, expected, "{allow_from}: {body}");
        let _ = stop.send(());
        let _ = server.await;
    }
}

/// What one submitting phone saw.
#[derive(Default)]
struct Seen {
    acknowledged: std::collections::HashMap<String, String>,
    /// When each acknowledgement arrived.
    at: Vec<std::time::Instant>,
    /// 503 replies, and how many of them said when to come back.
    unavailable: usize,
    with_retry_after: usize,
    /// Replies that were neither a receipt nor a 503 (none expected).
    other: Vec<String>,
}

/// Phones submitting `codes` to `addr` until each is acknowledged: on a 503 they wait (a
/// tenth of the Retry-After, for the test's sake) and send the same submission again, as
/// the outbox does; a lost connection is retried too.
async fn phones(
    addr: std::net::SocketAddr,
    codes: Vec<String>,
    answers: std::sync::Arc<sipas_app::survey::questionnaire::Answers>,
    seen: std::sync::Arc<std::sync::Mutex<Seen>>,
    workers: usize,
) {
    let queue = std::sync::Arc::new(std::sync::Mutex::new(
        codes.into_iter().enumerate().collect::<Vec<_>>(),
    ));
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (queue, answers, seen) = (queue.clone(), answers.clone(), seen.clone());
            tokio::spawn(async move {
                let mut client = common::load::Client::new(addr);
                loop {
                    let Some((index, code)) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let id = format!("ops-{index:020}");
                    loop {
                        let headers = [("content-type", "application/json")];
                        let body = submit_body(&code, &id, &answers);
                        match client
                            .send("POST", "/api/survey/submit", &headers, body)
                            .await
                        {
                            Ok((200, _, reply)) => {
                                let value: serde_json::Value =
                                    serde_json::from_str(&reply).unwrap();
                                let receipt = value["Accepted"]["number"].as_str();
                                let mut seen = seen.lock().unwrap();
                                match receipt {
                                    Some(receipt) => {
                                        seen.acknowledged.insert(code.clone(), receipt.into());
                                        seen.at.push(std::time::Instant::now());
                                    }
                                    None => seen.other.push(reply),
                                }
                                break;
                            }
                            Ok((503, headers, _)) => {
                                let wait = headers
                                    .get("retry-after")
                                    .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
                                {
                                    let mut seen = seen.lock().unwrap();
                                    seen.unavailable += 1;
                                    seen.with_retry_after += usize::from(wait.is_some());
                                }
                                let wait = wait.unwrap_or(5) * 100;
                                tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
                            }
                            Ok((status, _, reply)) => {
                                seen.lock()
                                    .unwrap()
                                    .other
                                    .push(format!("{status}: {reply}"));
                                break;
                            }
                            Err(_) => {
                                tokio::time::sleep(std::time::Duration::from_millis(100)).await
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

async fn health(addr: std::net::SocketAddr) -> Option<u16> {
    common::load::Client::new(addr)
        .send("GET", "/healthz", &[], String::new())
        .await
        .ok()
        .map(|(status, _, _)| status)
}

/// Waits (a minute at most) for the phones to have every code acknowledged; what they saw.
async fn finished(
    load: tokio::task::JoinHandle<()>,
    seen: std::sync::Arc<std::sync::Mutex<Seen>>,
    after: &str,
) -> Seen {
    tokio::time::timeout(std::time::Duration::from_secs(60), load)
        .await
        .unwrap_or_else(|_| panic!("submissions still refused a minute after {after}"))
        .unwrap();
    std::sync::Arc::try_unwrap(seen)
        .ok()
        .unwrap()
        .into_inner()
        .unwrap()
}

const RESTART_CODES: usize = 1500;

/// PostgreSQL crashes (immediate stop) in the middle of a stream of submissions and comes back
/// five seconds later: meanwhile the server answers 503 with Retry-After (health too), it
/// reconnects by itself, and every acknowledged submission is stored exactly once. The time to
/// recover is printed (docs/reliability.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_mid_load_loses_nothing_acknowledged() {
    let Some(cluster) = common::PrivateCluster::start() else {
        return;
    };
    let (owner, app) = cluster.sipas_database().await;
    let dir = tempfile::tempdir().unwrap();
    let codes = common::demo_codes_from_the_cli(&app, dir.path(), RESTART_CODES);
    let answers = common::sipas_answers();
    // Requests give up on the database after 2 s (default 10) so the outage shows as 503s.
    let (server, addr) =
        common::spawn_server(&app, &[("SIPAS_DATABASE_CONNECT_TIMEOUT_SECS", "2")]);
    assert!(common::load::wait_until_ready(addr, std::time::Duration::from_secs(30)).await);

    let seen = std::sync::Arc::new(std::sync::Mutex::new(Seen::default()));
    let load = tokio::spawn(phones(addr, codes, answers, seen.clone(), 8));
    while seen.lock().unwrap().acknowledged.len() < RESTART_CODES / 5 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    cluster.crash();
    let stopped = std::time::Instant::now();
    let acknowledged_before = seen.lock().unwrap().acknowledged.len();
    let mut health_while_down = Vec::new();
    while stopped.elapsed() < std::time::Duration::from_secs(5) {
        health_while_down.push(health(addr).await);
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    cluster.pg_ctl(&["start", "-w"]);
    let started = std::time::Instant::now();
    let seen = finished(load, seen, "PostgreSQL came back").await;
    let first_after = seen
        .at
        .iter()
        .filter(|t| **t > started)
        .min()
        .copied()
        .expect("acknowledgements after the restart");
    eprintln!(
        "PostgreSQL down {:.1} s; {} acknowledged before, {} answers 503 (all with Retry-After: \
         {}); first acknowledgement {:.2} s after PostgreSQL accepted connections again",
        (started - stopped).as_secs_f64(),
        acknowledged_before,
        seen.unavailable,
        seen.unavailable == seen.with_retry_after,
        (first_after - started).as_secs_f64()
    );
    assert!(seen.other.is_empty(), "{:?}", seen.other);
    assert!(seen.unavailable > 0, "the outage was seen as 503");
    assert_eq!(
        seen.unavailable, seen.with_retry_after,
        "every 503 says when"
    );
    assert!(
        health_while_down.contains(&Some(503)),
        "health said unavailable: {health_while_down:?}"
    );
    assert_eq!(
        health(addr).await,
        Some(200),
        "healthy again without a restart"
    );
    assert_eq!(seen.acknowledged.len(), RESTART_CODES);
    let store = sipas_server::store::open(&owner, &Default::default())
        .await
        .unwrap();
    common::assert_acknowledged_stored_once(store.pool(), &seen.acknowledged, RESTART_CODES).await;
    store.close().await;
    drop(server);
}

/// A small file system of the test's own (tmpfs), or `None` where mounting is not allowed
/// (not root, or a container without the capability): then the test says so and stops.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .output()
            .is_ok_and(|o| o.status.success());
        if !mounted {
            eprintln!(
                "SKIPPING the disk-full test: cannot mount a small file system here \
                 (docs/reliability.md says what happens)"
            );
            return None;
        }
        Some(Self { dir })
    }

    /// Fills the file system with a filler file until `leave` bytes are free.
    fn fill(&self, leave: u64) {
        let free = fs_free(self.dir.path());
        let filler = std::fs::File::create(self.dir.path().join("filler")).unwrap();
        filler.set_len(0).unwrap();
        use std::io::Write;
        let mut writer = std::io::BufWriter::new(filler);
        let chunk = vec![0u8; 64 * 1024];
        let mut left = free.saturating_sub(leave);
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            if writer.write_all(&chunk[..n]).is_err() {
                break;
            }
            left -= n as u64;
        }
        let _ = writer.flush();
    }

    fn make_room(&self) {
        std::fs::remove_file(self.dir.path().join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

fn fs_free(path: &std::path::Path) -> u64 {
    let output = std::process::Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap()
}

const DISK_CODES: usize = 1500;

/// SQLite's disk fills up under load: submissions are answered 503 with Retry-After (never
/// acknowledged without being stored), the server keeps running, and once there is room again
/// the same submissions go through; every acknowledged one is stored exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_disk_full_is_503_and_loses_nothing() {
    let Some(disk) = SmallDisk::mount(64) else {
        return;
    };
    let url = format!("sqlite://{}", disk.dir.path().join("sipas.db").display());
    let codes = common::demo_codes_from_the_cli(&url, disk.dir.path(), DISK_CODES);
    let answers = common::sipas_answers();
    let (server, addr) = common::spawn_server(&url, &[]);
    assert!(common::load::wait_until_ready(addr, std::time::Duration::from_secs(30)).await);
    // Room for a few hundred submissions (each ~1-2 KB with its WAL frames and indexes).
    disk.fill(400 * 1024);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Seen::default()));
    let load = tokio::spawn(phones(addr, codes, answers, seen.clone(), 8));
    // Wait until the disk is full: 503s and no progress.
    let started = std::time::Instant::now();
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let seen = seen.lock().unwrap();
        if seen.unavailable >= 20 || started.elapsed() > std::time::Duration::from_secs(60) {
            break;
        }
    }
    let (full_at, unavailable_full) = {
        let seen = seen.lock().unwrap();
        (seen.acknowledged.len(), seen.unavailable)
    };
    assert!(unavailable_full >= 20, "the full disk was answered 503");
    assert!(full_at < DISK_CODES, "the disk filled up before the end");
    assert!(health(addr).await.is_some(), "the server is still running");
    disk.make_room();
    let seen = finished(load, seen, "room was made").await;
    eprintln!(
        "disk full after {full_at} acknowledged; {} answers 503 (all with Retry-After: {}); \
         all {DISK_CODES} acknowledged once there was room",
        seen.unavailable,
        seen.unavailable == seen.with_retry_after
    );
    assert!(seen.other.is_empty(), "{:?}", seen.other);
    assert_eq!(
        seen.unavailable, seen.with_retry_after,
        "every 503 says when"
    );
    assert_eq!(seen.acknowledged.len(), DISK_CODES);
    drop(server);
    let store = sipas_server::store::open(&url, &Default::default())
        .await
        .unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(check, "ok");
    common::assert_acknowledged_stored_once(store.pool(), &seen.acknowledged, DISK_CODES).await;
    store.close().await;
}

/// The release files a running server serves: `YEAR vVERSION FILE SHA256` lines, as in a
/// backup's manifest.
async fn served_release_files(addr: std::net::SocketAddr, year: i32, version: i32) -> Vec<String> {
    use sha2::Digest;
    let mut lines = Vec::new();
    let mut client = common::load::Client::new(addr);
    for file in sipas_server::services::open_data::FILES {
        let path = format!("/du-lieu/{year}/v{version}/{file}");
        let (status, _, _) = client.send("GET", &path, &[], String::new()).await.unwrap();
        if status == 404 {
            continue;
        }
        assert_eq!(status, 200, "{path}");
        // Bytes, not text: fetched again raw for the digest.
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(connection);
        let response = sender
            .send_request(
                hyper::Request::get(&path)
                    .header("host", addr.to_string())
                    .body(http_body_util::Full::new(hyper::body::Bytes::new()))
                    .unwrap(),
            )
            .await
            .unwrap();
        use http_body_util::BodyExt;
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let digest = sipas_app::survey::codes::hex(&sha2::Sha256::digest(&body));
        lines.push(format!("{year} v{version} {file} {digest}"));
    }
    lines
}

fn sipas_output(url: &str, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_sipas"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .output()
        .expect("run sipas")
}

const DRILL_CODES: usize = 800;

/// The backup drill: a backup taken while phones submit; restored into a fresh database it
/// holds every submission acknowledged before the backup began, and every file of the
/// published release is byte for byte what the live server served (the backup's manifest,
/// checked by `restore --verify`, and the test's own downloads).
/// `restore_env`: the environment `sipas restore` runs in (the target database).
async fn backup_drill(
    url: &str,
    restore_url: &str,
    restore_env: &[(&str, &str)],
    dir: &std::path::Path,
) {
    let store = common::store_on(url).await;
    sipas_server::services::demo::seed(store.as_ref())
        .await
        .unwrap();
    let wave = common::fixtures::collected_wave(
        &store,
        "sipas-2025-test",
        2025,
        sipas_app::domain::Geography::G2025,
        &["01", "79", "48"],
    )
    .await;
    sipas_server::services::demo::publish_demo(store.as_ref(), &wave, "")
        .await
        .unwrap();
    let codes = common::seed_codes(store.as_ref(), store.as_ref(), DRILL_CODES).await;
    store.close().await;
    let answers = common::sipas_answers();
    let (server, addr) = common::spawn_server(url, &[]);
    assert!(common::load::wait_until_ready(addr, std::time::Duration::from_secs(30)).await);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Seen::default()));
    let load = tokio::spawn(phones(addr, codes, answers, seen.clone(), 4));
    while seen.lock().unwrap().acknowledged.len() < DRILL_CODES / 4 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let before = seen.lock().unwrap().acknowledged.clone();
    let backup = dir.join("sipas.backup");
    let url_owned = url.to_owned();
    let backup_path = backup.clone();
    let taken = tokio::task::spawn_blocking(move || {
        sipas_output(
            &url_owned,
            &["backup", "--to", &backup_path.display().to_string()],
            &[],
        )
    })
    .await
    .unwrap();
    assert!(
        taken.status.success(),
        "{}",
        String::from_utf8_lossy(&taken.stderr)
    );
    let during = seen.lock().unwrap().acknowledged.len() - before.len();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&backup).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the backup is readable by its owner only"
        );
    }
    let seen = finished(load, seen, "the backup").await;
    assert!(seen.other.is_empty(), "{:?}", seen.other);
    eprintln!(
        "backup taken with {} acknowledged, {during} more acknowledged while it ran",
        before.len()
    );
    assert!(during > 0, "the backup ran under load");

    // The manifest is what the live server serves.
    let served = served_release_files(addr, 2025, 1).await;
    assert!(served.len() >= 6, "{served:?}");
    let manifest =
        std::fs::read_to_string(sipas_server::services::backup::manifest_path(&backup)).unwrap();
    assert_eq!(manifest.lines().collect::<Vec<_>>(), served);
    drop(server);

    // Restored into a fresh database and verified.
    let restored = sipas_output(
        restore_url,
        &[
            "restore",
            "--from",
            &backup.display().to_string(),
            "--verify",
        ],
        restore_env,
    );
    let said = String::from_utf8_lossy(&restored.stdout);
    assert!(
        restored.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    assert!(
        said.contains("verified: every release file matches"),
        "{said}"
    );
    let store = common::store_on(restore_url).await;
    let stored: Vec<(String, String)> = sqlx::query_as("SELECT code_hash, receipt FROM responses")
        .fetch_all(store.pool())
        .await
        .unwrap();
    let stored: std::collections::HashMap<String, String> = stored.into_iter().collect();
    assert!(stored.len() >= before.len() && stored.len() < DRILL_CODES);
    for (code, receipt) in &before {
        let hash = sipas_server::services::invitations::hash(
            &sipas_app::survey::codes::InvitationCode::parse(code).unwrap(),
        );
        assert_eq!(
            stored.get(&hash),
            Some(receipt),
            "{code} acknowledged before the backup"
        );
    }
    // And the restored database serves the same files.
    let manifest_restored = sipas_server::services::backup::release_manifest(store.clone())
        .await
        .unwrap();
    assert_eq!(manifest_restored, manifest);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_under_load_restores_everything_sqlite() {
    let db = common::sqlite_db();
    let target = db.dir.path().join("restored.db");
    let restore_url = format!("sqlite://{}", target.display());
    backup_drill(&db.url, &restore_url, &[], db.dir.path()).await;

    // SQLite: a backup never overwrites, a restore never replaces a database unasked, and a
    // damaged backup is refused before anything is written.
    let backup = db.dir.path().join("sipas.backup");
    let again = sipas_output(
        &db.url,
        &["backup", "--to", &backup.display().to_string()],
        &[],
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    let onto = sipas_output(
        &restore_url,
        &["restore", "--from", &backup.display().to_string()],
        &[],
    );
    assert!(!onto.status.success());
    assert!(String::from_utf8_lossy(&onto.stderr).contains("--force"));
    let damaged = db.dir.path().join("damaged.backup");
    let mut bytes = std::fs::read(&backup).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle..middle + 4096].fill(0xA5);
    std::fs::write(&damaged, bytes).unwrap();
    let fresh = db.dir.path().join("from-damaged.db");
    let refused = sipas_output(
        &format!("sqlite://{}", fresh.display()),
        &["restore", "--from", &damaged.display().to_string()],
        &[],
    );
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("damaged") || said.contains("malformed"),
        "{said}"
    );
    assert!(!fresh.exists(), "nothing written from a damaged backup");
    assert!(
        !sipas_server::store::sqlite::serving_lock(&fresh).exists(),
        "no lock file left for a database that is not there"
    );

    // A manifest that does not match is reported, file by file.
    let tampered = db.dir.path().join("tampered.backup");
    std::fs::copy(&backup, &tampered).unwrap();
    std::fs::write(
        sipas_server::services::backup::manifest_path(&tampered),
        std::fs::read_to_string(sipas_server::services::backup::manifest_path(&backup))
            .unwrap()
            .replacen(" results.csv ", " results.csv 0", 1),
    )
    .unwrap();
    let restored_before = std::fs::read(&target).unwrap();
    let refused = sipas_output(
        &restore_url,
        &[
            "restore",
            "--from",
            &tampered.display().to_string(),
            "--verify",
            "--force",
        ],
        &[],
    );
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("differ from the backup's manifest"), "{said}");
    assert!(said.contains("results.csv"), "{said}");
    assert_eq!(
        std::fs::read(&target).unwrap(),
        restored_before,
        "a failed verification replaced nothing"
    );

    // --verify needs the manifest; a missing database is not backed up as an empty one.
    std::fs::remove_file(sipas_server::services::backup::manifest_path(&tampered)).unwrap();
    let unverifiable = sipas_output(
        &format!("sqlite://{}", db.dir.path().join("unverified.db").display()),
        &[
            "restore",
            "--from",
            &tampered.display().to_string(),
            "--verify",
        ],
        &[],
    );
    assert!(!unverifiable.status.success());
    assert!(String::from_utf8_lossy(&unverifiable.stderr).contains("no manifest"));
    let typo = db.dir.path().join("sipsa.db");
    let missing = sipas_output(
        &format!("sqlite://{}", typo.display()),
        &[
            "backup",
            "--to",
            &db.dir.path().join("typo.backup").display().to_string(),
        ],
        &[],
    );
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no database at"));
    assert!(!typo.exists(), "no empty database created");

    // Never under a running server; with --force and the server stopped, the replaced
    // database is kept aside.
    let (server, addr) = common::spawn_server(&restore_url, &[]);
    assert!(common::load::wait_until_ready(addr, std::time::Duration::from_secs(30)).await);
    let busy = sipas_output(
        &restore_url,
        &[
            "restore",
            "--from",
            &backup.display().to_string(),
            "--force",
        ],
        &[],
    );
    assert!(!busy.status.success());
    assert!(
        String::from_utf8_lossy(&busy.stderr).contains("a server is running"),
        "{}",
        String::from_utf8_lossy(&busy.stderr)
    );
    drop(server);
    // kill_on_drop sends SIGKILL; wait for the process to be gone (its lock with it).
    let started = std::time::Instant::now();
    let replaced = loop {
        let out = sipas_output(
            &restore_url,
            &[
                "restore",
                "--from",
                &backup.display().to_string(),
                "--force",
            ],
            &[],
        );
        if out.status.success() || started.elapsed() > std::time::Duration::from_secs(10) {
            break out;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let said = String::from_utf8_lossy(&replaced.stdout);
    assert!(
        replaced.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&replaced.stderr)
    );
    assert!(
        said.contains("the database it replaced was kept as"),
        "{said}"
    );
    let kept = std::fs::read_dir(db.dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("restored.db.replaced-")
        })
        .count();
    assert!(kept >= 1, "the replaced database is kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_under_load_restores_everything_postgres() {
    let Some((url, name)) = common::postgres_db().await else {
        return;
    };
    let Some(target) = common::postgres_empty_db().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let owner = common::postgres_owner_url(&target);
    backup_drill(
        &url,
        &common::postgres_app_url(&target),
        &[("SIPAS_MIGRATE_DATABASE_URL", owner.as_str())],
        dir.path(),
    )
    .await;
    // PostgreSQL: a restore goes into an empty database only.
    let onto = sipas_output(
        &common::postgres_app_url(&target),
        &[
            "restore",
            "--from",
            &dir.path().join("sipas.backup").display().to_string(),
        ],
        &[("SIPAS_MIGRATE_DATABASE_URL", owner.as_str())],
    );
    assert!(!onto.status.success());
    assert!(
        String::from_utf8_lossy(&onto.stderr).contains("restore into an empty database"),
        "{}",
        String::from_utf8_lossy(&onto.stderr)
    );
    let forced = sipas_output(
        &common::postgres_app_url(&target),
        &[
            "restore",
            "--from",
            &dir.path().join("sipas.backup").display().to_string(),
            "--force",
        ],
        &[("SIPAS_MIGRATE_DATABASE_URL", owner.as_str())],
    );
    assert!(!forced.status.success());
    assert!(String::from_utf8_lossy(&forced.stderr).contains("--force replaces SQLite files only"));
    common::drop_postgres_db(&name).await;
    common::drop_postgres_db(&target).await;
}

/// Paper imports running at once (two clerks uploading, or an upload beside the survey's
/// writes) all succeed: on SQLite a transaction that reads before it writes must take the
/// write lock at its start (`BEGIN IMMEDIATE`), or it fails at once when another committed
/// in between (SQLITE_BUSY_SNAPSHOT, which no busy timeout waits out).
async fn concurrent_imports(url: &str) {
    use sipas_app::staff::{CollectedStore, FieldStore};
    let store = common::store_on(url).await;
    sipas_server::services::demo::seed(store.as_ref())
        .await
        .unwrap();
    let wave = common::fixtures::new_wave(
        "sipas-2027-imports",
        2027,
        sipas_app::domain::Geography::G2025,
    );
    common::create_wave(store.as_ref(), &wave).await.unwrap();
    let provinces: Vec<String> = ["01", "79", "48", "31"].map(str::to_owned).to_vec();
    let frame = common::fixtures::frame(&provinces, wave.geography);
    store
        .replace_frame(&wave.code, &frame, &common::audit("frame_uploaded"))
        .await
        .unwrap();
    let items = common::fixtures::sipas_items();
    let forms = common::fixtures::forms(&frame, &items, wave.year);
    let clerks = 6;
    let chunk = forms.len().div_ceil(clerks);
    let imports: Vec<_> = forms
        .chunks(chunk)
        .map(|part| {
            let (store, part, code) = (store.clone(), part.to_vec(), wave.code.clone());
            tokio::spawn(async move {
                store
                    .import_paper(
                        &code,
                        None,
                        &part,
                        false,
                        &|_: &[sipas_app::staff::port::RowOutcome]| common::audit("paper_imported"),
                    )
                    .await
                    .map(|outcomes| outcomes.len())
            })
        })
        .collect();
    let mut imported = 0;
    for import in imports {
        imported += import
            .await
            .unwrap()
            .unwrap_or_else(|err| panic!("an import failed: {err}"));
    }
    assert_eq!(imported, forms.len());
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM responses WHERE wave_code = $1")
        .bind(&wave.code)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(stored, forms.len() as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_imports_sqlite() {
    let db = common::sqlite_db();
    concurrent_imports(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_imports_postgres() {
    let Some((url, name)) = common::postgres_db().await else {
        return;
    };
    concurrent_imports(&url).await;
    common::drop_postgres_db(&name).await;
}

/// The start-up check on PostgreSQL refuses every role setup through which the server could
/// still change a published release, not only the plain owner: a membership in the owner
/// without inherited rights (`SET ROLE` still works), a superuser or role-creating role it can
/// become, the right to switch triggers off, temporary tables. A cluster of the test's own,
/// where the test is superuser.
#[tokio::test]
async fn postgres_start_up_check_sees_through_roles() {
    use sipas_server::store::PublishedRecordsGuard;
    let Some(cluster) = common::PrivateCluster::start() else {
        return;
    };
    let (_owner, app) = cluster.sipas_database().await;
    let admin = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&cluster.url("postgres", "sipas"))
        .await
        .unwrap();
    let guard = || async {
        let store = sipas_server::store::open(&app, &Default::default())
            .await
            .unwrap();
        let guard = store.published_records_guard().await.unwrap();
        store.close().await;
        guard
    };
    assert_eq!(guard().await, PublishedRecordsGuard::Enforced);
    for (grant, revoke, expected) in [
        (
            "ALTER ROLE sipas_app NOINHERIT; GRANT sipas_owner TO sipas_app",
            "REVOKE sipas_owner FROM sipas_app; ALTER ROLE sipas_app INHERIT",
            "releases: the role owns it",
        ),
        (
            "CREATE ROLE powerful SUPERUSER; GRANT powerful TO sipas_app",
            "REVOKE powerful FROM sipas_app; DROP ROLE powerful",
            "powerful, a superuser",
        ),
        (
            "ALTER ROLE sipas_app CREATEROLE",
            "ALTER ROLE sipas_app NOCREATEROLE",
            "may create and grant roles",
        ),
        (
            "GRANT SET ON PARAMETER session_replication_role TO sipas_app",
            "REVOKE SET ON PARAMETER session_replication_role FROM sipas_app",
            "session_replication_role",
        ),
        (
            "GRANT TEMPORARY ON DATABASE sipas TO sipas_app",
            "REVOKE TEMPORARY ON DATABASE sipas FROM sipas_app",
            "temporary tables",
        ),
        (
            "GRANT INSERT ON published_elsewhere TO sipas_app",
            "REVOKE INSERT ON published_elsewhere FROM sipas_app",
            "published_elsewhere: the role has INSERT",
        ),
    ] {
        for sql in grant.split("; ") {
            sqlx::query(sql).execute(&admin).await.unwrap();
        }
        match guard().await {
            PublishedRecordsGuard::Weak(reasons) => assert!(
                reasons.iter().any(|r| r.contains(expected)),
                "{grant}: {reasons:?}"
            ),
            other => panic!("{grant}: passed the check: {other:?}"),
        }
        for sql in revoke.split("; ") {
            sqlx::query(sql).execute(&admin).await.unwrap();
        }
        assert_eq!(guard().await, PublishedRecordsGuard::Enforced, "{revoke}");
    }
    admin.close().await;
}

/// Codes are shared over the frame as it was read; if the frame is replaced before the batch
/// is stored, a batch for a commune the new frame lacks is refused (it would be codes for no
/// sample point). A large batch is stored in a few multi-row statements, every code of it.
async fn batches_follow_the_frame(url: &str) {
    use sipas_app::staff::FieldStore;
    use sipas_app::staff::port::NewBatch;
    let store = common::store_on(url).await;
    sipas_server::services::demo::seed(store.as_ref())
        .await
        .unwrap();
    let wave = "sipas-2027-batches";
    common::create_wave(
        store.as_ref(),
        &common::fixtures::new_wave(wave, 2027, sipas_app::domain::Geography::G2025),
    )
    .await
    .unwrap();
    let provinces = ["79", "01"].map(str::to_owned);
    store
        .replace_frame(
            wave,
            &common::fixtures::frame(&provinces, sipas_app::domain::Geography::G2025),
            &common::audit("frame_uploaded"),
        )
        .await
        .unwrap();
    let old = store.frame(wave, Some("79")).await.unwrap();
    let dropped = old.psus[0].clone();
    let batch = |id: &str, psu: &sipas_app::staff::frame::FramePsu, n: usize| NewBatch {
        id: id.into(),
        wave_code: wave.into(),
        province_code: psu.province_code.clone(),
        scope: psu.psu.clone(),
        issued_by: "test".into(),
        kind: sipas_app::domain::SampleKind::Probability,
        codes: (0..n)
            .map(|i| (psu.clone(), format!("{:064x}", i + n * id.len())))
            .collect(),
    };
    let prepared = batch("stale", &dropped, 3);
    let mut frame = store.frame(wave, None).await.unwrap();
    frame.psus.retain(|p| p.psu != dropped.psu);
    store
        .replace_frame(wave, &frame, &common::audit("frame_uploaded"))
        .await
        .unwrap();
    match store
        .issue_batch(&prepared, &common::audit("batch_issued"))
        .await
    {
        Err(sipas_app::ports::StoreError::Conflict(text)) => {
            assert!(text.en.contains("sample frame changed"), "{}", text.en);
            assert!(text.en.contains(&dropped.psu), "{}", text.en);
        }
        other => panic!("a batch for a dropped commune: {other:?}"),
    }
    let kept = frame.psus[0].clone();
    store
        .issue_batch(
            &batch("large", &kept, 1_234),
            &common::audit("batch_issued"),
        )
        .await
        .unwrap();
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM invitation_codes WHERE batch = $1")
        .bind("large")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(stored, 1_234);
    let none: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM invitation_codes WHERE batch = $1")
        .bind("stale")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(none, 0);
}

#[tokio::test]
async fn batches_follow_the_frame_sqlite() {
    let db = common::sqlite_db();
    batches_follow_the_frame(&db.url).await;
}

#[tokio::test]
async fn batches_follow_the_frame_postgres() {
    let Some((url, name)) = common::postgres_db().await else {
        return;
    };
    batches_follow_the_frame(&url).await;
    common::drop_postgres_db(&name).await;
}
