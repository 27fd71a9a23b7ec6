//! No acknowledged answer is lost: the real server (`sipas serve`) is killed with SIGKILL in the
//! middle of a stream of submissions, restarted, killed again, and so on; then every submission
//! that got a receipt must be stored exactly once under that receipt, nothing may be half-stored
//! (a used code without a response, or the reverse), and a retry of a submission whose reply was
//! lost in the crash must get the receipt that was stored. On SQLite and on PostgreSQL.
//!
//! `CRASH_KILLS` sets the number of kills per engine (default 6; the reliability notes in
//! docs/reliability.md were measured with 20).

use crate::common;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::load::{Client, Reply, free_port, wait_until_ready};

const CODES: usize = 2500;
const WORKERS: usize = 16;

fn start_server(url: &str, port: u16, site: &std::path::Path) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_sipas"))
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("LEPTOS_SITE_ROOT", site)
        .env("LEPTOS_OUTPUT_NAME", "sipas")
        .env("RUST_LOG", "error")
        // One client sends everything here; rate limits would only slow the test down.
        .env("SIPAS_LIMIT_SUBMISSIONS_PER_MINUTE", "0")
        .env("SIPAS_LIMIT_CODE_PAGES_PER_MINUTE", "0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start sipas serve")
}

/// Submits codes from the queue until it is empty or the server is gone; returns the receipts
/// it was given, and any reply that was neither a receipt nor a lost connection.
async fn worker(
    addr: SocketAddr,
    queue: Arc<Mutex<VecDeque<(usize, String)>>>,
    answers: Arc<sipas_app::survey::questionnaire::Answers>,
) -> (Vec<(String, String)>, Vec<String>, usize) {
    let mut client = Client::new(addr);
    let mut receipts = Vec::new();
    let mut unexpected = Vec::new();
    let mut cut_off = 0;
    loop {
        let Some((index, code)) = queue.lock().unwrap().pop_front() else {
            break;
        };
        // The same submission id in every round: a retry after a crash is the same submission.
        let submission_id = format!("crash-test-{index:08}");
        match client.submit(&code, &submission_id, &answers).await {
            Ok(Reply::Accepted(receipt)) => receipts.push((code, receipt)),
            Ok(Reply::Other(status, body)) => unexpected.push(format!("{status}: {body}")),
            // The server was killed: this code goes round again after the restart.
            Err(_) => {
                queue.lock().unwrap().push_back((index, code));
                cut_off += 1;
                break;
            }
        }
    }
    (receipts, unexpected, cut_off)
}

async fn crash_story(url: &str) {
    let kills: usize = std::env::var("CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let dir = tempfile::tempdir().expect("dir");
    let codes = common::demo_codes_from_the_cli(url, dir.path(), CODES);
    let answers = common::sipas_answers();

    let mut acknowledged: HashMap<String, String> = HashMap::new();
    // Submissions cut off by a kill (no reply): each is retried after the restart.
    let mut interrupted = 0;
    let queue: Arc<Mutex<VecDeque<(usize, String)>>> =
        Arc::new(Mutex::new(codes.iter().cloned().enumerate().collect()));
    for round in 0..=kills {
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let mut server = start_server(url, port, dir.path());
        assert!(
            wait_until_ready(addr, Duration::from_secs(30)).await,
            "round {round}: the server did not come up"
        );
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| tokio::spawn(worker(addr, queue.clone(), answers.clone())))
            .collect();
        if round < kills {
            // Kill at a different moment each round, while submissions are in flight.
            let after = Duration::from_millis(150 + (round as u64 * 137) % 500);
            tokio::time::sleep(after).await;
            server.kill().await.expect("SIGKILL");
        }
        let mut acknowledged_now = 0;
        for worker in workers {
            let (receipts, unexpected, cut_off) = worker.await.expect("worker");
            interrupted += cut_off;
            assert!(
                unexpected.is_empty(),
                "round {round}: unexpected replies {unexpected:?}"
            );
            acknowledged_now += receipts.len();
            for (code, receipt) in receipts {
                // A code acknowledged twice (a retry) must get the same receipt both times.
                if let Some(earlier) = acknowledged.insert(code.clone(), receipt.clone()) {
                    assert_eq!(earlier, receipt, "code {code} got two receipts");
                }
            }
        }
        let left = queue.lock().unwrap().len();
        eprintln!("round {round}: {acknowledged_now} acknowledged, {left} left");
        if round == kills {
            assert_eq!(left, 0, "every code was answered");
            server.kill().await.expect("stop");
        }
    }
    eprintln!("{kills} kills; {interrupted} submissions cut off and retried");
    assert!(interrupted > 0, "the kills hit submissions in flight");
    assert_eq!(
        acknowledged.len(),
        CODES,
        "every code acknowledged in the end"
    );

    // What is in the database, read directly.
    let store = sipas_server::store::open(url, &Default::default())
        .await
        .expect("open");
    // SIGKILL leaves the operating system's page cache intact, so the kills above cannot tell
    // a flushed commit from an unflushed one: check that every connection asks for durable
    // commits (a power loss is the case this guards against).
    if url.starts_with("sqlite") {
        let level: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(store.pool())
            .await
            .expect("pragma");
        assert_eq!(level, 2, "SQLite synchronous = FULL");
    } else {
        let level: String = sqlx::query_scalar("SHOW synchronous_commit")
            .fetch_one(store.pool())
            .await
            .expect("show");
        assert_eq!(level, "on", "PostgreSQL synchronous_commit = on");
    }
    common::assert_acknowledged_stored_once(store.pool(), &acknowledged, CODES).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_every_acknowledged_submission_through_sigkills() {
    let db = common::sqlite_db();
    crash_story(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_every_acknowledged_submission_through_sigkills() {
    let Some((url, name)) = common::postgres_db().await else {
        return;
    };
    crash_story(&url).await;
    common::drop_postgres_db(&name).await;
}
