//! Two `sipas serve` processes on one PostgreSQL database, as the platform grows past one
//! machine (issue #24): submissions split between them round-robin, one of them killed
//! (SIGKILL) mid-stream; sign-in failures alternating between them; a computation started on
//! one that is then frozen (SIGSTOP), taken over by the other when its lease runs out, and
//! the frozen one resumed. Nothing acknowledged is lost, nothing is stored twice, the job runs
//! to one draft, the throttle counts across both.

use crate::common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::load::{Client, Reply, wait_until_ready};

const CODES: usize = 1200;
const WORKERS: usize = 8;
const PASSWORD: &str = "two servers password 2026";
/// Short, so the test waits seconds for a take-over, not the default minute.
const LEASE_SECS: &str = "3";

fn sipas(url: &str, args: &[&str], input: Option<&str>) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sipas"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run sipas");
    let mut stdin = child.stdin.take().expect("stdin");
    if let Some(input) = input {
        stdin.write_all(input.as_bytes()).expect("write");
    }
    drop(stdin);
    let output = child.wait_with_output().expect("wait");
    assert!(
        output.status.success(),
        "sipas {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

struct Server {
    addr: SocketAddr,
    child: tokio::process::Child,
}

async fn start_server(url: &str) -> Server {
    let (child, addr) = common::spawn_server(
        url,
        &[
            // The servers of one database share the throttle's secret (docs/operations.md).
            ("SIPAS_THROTTLE_SECRET", "shared by both servers"),
            ("SIPAS_JOB_LEASE_SECS", LEASE_SECS),
        ],
    );
    assert!(
        wait_until_ready(addr, Duration::from_secs(30)).await,
        "a server did not come up"
    );
    Server { addr, child }
}

fn signal(server: &Server, signal: &str) {
    let pid = server.child.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .expect("kill");
    assert!(status.success(), "kill {signal} {pid}");
}

/// Submits `codes` alternating between the servers; a submission whose server is gone goes to
/// the next one with the same submission id (what the phone's outbox does). Returns the
/// receipts and how many were retried elsewhere.
async fn submit_round_robin(
    servers: &[SocketAddr],
    codes: &[(usize, String)],
    answers: &Arc<sipas_app::survey::questionnaire::Answers>,
    acknowledged: &Arc<AtomicUsize>,
) -> (HashMap<String, String>, usize) {
    let queue = Arc::new(std::sync::Mutex::new(codes.to_vec()));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (queue, answers, servers, acknowledged) = (
                queue.clone(),
                answers.clone(),
                servers.to_vec(),
                acknowledged.clone(),
            );
            tokio::spawn(async move {
                let mut clients: Vec<Client> = servers.iter().map(|a| Client::new(*a)).collect();
                let (mut receipts, mut retried) = (Vec::new(), 0);
                loop {
                    let Some((index, code)) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let id = format!("two-servers-{index:08}");
                    let mut reply = None;
                    for attempt in 0..clients.len() {
                        let client = &mut clients[(index + attempt) % servers.len()];
                        match client.submit(&code, &id, &answers).await {
                            Ok(got) => {
                                reply = Some(got);
                                break;
                            }
                            Err(_) => retried += 1,
                        }
                    }
                    match reply {
                        Some(Reply::Accepted(receipt)) => {
                            acknowledged.fetch_add(1, Ordering::Relaxed);
                            receipts.push((code, receipt));
                        }
                        other => panic!("{code}: no server took it: {other:?}"),
                    }
                }
                (receipts, retried)
            })
        })
        .collect();
    let (mut receipts, mut retried) = (HashMap::new(), 0);
    for worker in workers {
        let (got, again) = worker.await.expect("worker");
        retried += again;
        receipts.extend(got);
    }
    (receipts, retried)
}

/// Signs in; the session cookie, or the status of the refusal.
async fn sign_in(addr: SocketAddr, username: &str, password: &str) -> Result<String, u16> {
    let origin = format!("http://{addr}");
    let body = format!(
        "username={username}&password={}&next=%2Fstaff",
        common::browser::encode(password)
    );
    let (status, headers, _) = Client::new(addr)
        .send(
            "POST",
            "/staff/login",
            &[
                ("origin", origin.as_str()),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            body,
        )
        .await
        .expect("sign-in reply");
    match headers
        .get("set-cookie")
        .and_then(|c| c.to_str().ok())
        .and_then(|c| c.split(';').next())
    {
        Some(cookie) if status == 303 => Ok(cookie.to_owned()),
        _ => Err(status),
    }
}

async fn story(url: &str, owner_url: &str) {
    let dir = tempfile::tempdir().expect("dir");
    let codes = common::demo_codes_from_the_cli(url, dir.path(), CODES);
    sipas(
        url,
        &[
            "user",
            "add",
            "--username",
            "stats",
            "--name",
            "Statistician",
            "--role",
            "statistician",
        ],
        Some(PASSWORD),
    );
    let codes: Vec<(usize, String)> = codes.into_iter().enumerate().collect();
    let answers = common::sipas_answers();
    let a = start_server(url).await;
    let b = start_server(url).await;
    let both = [a.addr, b.addr];
    let acknowledged = Arc::new(AtomicUsize::new(0));

    // 1. Submissions split between the two.
    let (first, second) = codes.split_at(CODES / 2);
    let (mut receipts, retried) = submit_round_robin(&both, first, &answers, &acknowledged).await;
    assert_eq!((receipts.len(), retried), (CODES / 2, 0));

    // 2. The sign-in throttle counts across both: five failures alternating between them
    // (the free ones for this account from this client), then the sixth is refused by either.
    for attempt in 0..5 {
        let server = both[attempt % 2];
        assert_eq!(sign_in(server, "stats", "wrong").await, Err(401));
    }
    for server in both {
        assert_eq!(
            sign_in(server, "stats", PASSWORD).await,
            Err(429),
            "the throttle counts the other server's failures"
        );
    }
    // Clear the throttle as a wait would (the test cannot wait its minutes).
    let owner = sipas_server::store::open(owner_url, &Default::default())
        .await
        .expect("owner");
    sqlx::query("DELETE FROM login_failures")
        .execute(owner.pool())
        .await
        .expect("clear");

    // 3. A computation started on A; A frozen at once: B takes it over when A's lease runs
    // out and stores the draft; A, resumed, finds its lease gone and stores nothing.
    let cookie = sign_in(a.addr, "stats", PASSWORD).await.expect("signed in");
    let origin = format!("http://{}", a.addr);
    let methodology = &common::methodology_without_quality_checks();
    let (status, headers, body) = Client::new(a.addr)
        .send(
            "POST",
            "/staff/waves/sipas-2026-demo/results",
            &[
                ("origin", origin.as_str()),
                ("cookie", cookie.as_str()),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            format!("methodology={}", common::browser::encode(methodology)),
        )
        .await
        .expect("start");
    signal(&a, "-STOP");
    assert_eq!(status, 303, "{body}");
    let location = headers["location"].to_str().expect("location").to_owned();
    let id: i64 = location
        .rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
        .expect("computation id");
    let started = std::time::Instant::now();
    let (status, holder, attempts) = loop {
        let row: (String, String, i64) =
            sqlx::query_as("SELECT status, holder, attempts FROM computations WHERE id = $1")
                .bind(id)
                .fetch_one(owner.pool())
                .await
                .expect("computation");
        if row.0 != "running" || started.elapsed() > Duration::from_secs(60) {
            break row;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let taken_over_after = started.elapsed();
    assert_eq!(
        (status.as_str(), attempts),
        ("draft", 2),
        "B took the job over and finished it (if attempts is 1, A finished before it was stopped)"
    );
    let a_holder: String =
        sqlx::query_scalar("SELECT holder FROM computations WHERE id = $1 AND holder <> $2")
            .bind(id)
            .bind(&holder)
            .fetch_optional(owner.pool())
            .await
            .expect("holder")
            .unwrap_or_default();
    assert!(a_holder.is_empty(), "one holder at the end");
    eprintln!("taken over and computed by the other server in {taken_over_after:?}");
    let draft: (String, String) =
        sqlx::query_as("SELECT input_digest, cells FROM computations WHERE id = $1")
            .bind(id)
            .fetch_one(owner.pool())
            .await
            .expect("draft");
    signal(&a, "-CONT");
    // A's job wakes up, finds its lease lost, and stops; give it time to try.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after: (String, String, String, i64) = sqlx::query_as(
        "SELECT status, input_digest, cells, (SELECT COUNT(*) FROM computations) \
         FROM computations WHERE id = $1",
    )
    .bind(id)
    .fetch_one(owner.pool())
    .await
    .expect("after");
    assert_eq!(
        (after.0.as_str(), &after.1, &after.2, after.3),
        ("draft", &draft.0, &draft.1, 1),
        "the resumed server changed nothing: one computation, one draft"
    );

    // 4. A killed while the second half is being submitted round-robin: what it took before
    // the kill is stored; the rest goes to B.
    let killer = {
        let acknowledged = acknowledged.clone();
        let mut a = a;
        tokio::spawn(async move {
            while acknowledged.load(Ordering::Relaxed) < CODES / 2 + CODES / 8 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            a.child.kill().await.expect("SIGKILL");
        })
    };
    let (more, retried) = submit_round_robin(&both, second, &answers, &acknowledged).await;
    killer.await.expect("killed");
    eprintln!("after the kill, {retried} submissions went to the other server");
    assert!(
        retried > 0,
        "the kill hit submissions meant for the killed server"
    );
    receipts.extend(more);
    assert_eq!(receipts.len(), CODES);
    common::assert_acknowledged_stored_once(owner.pool(), &receipts, CODES).await;
    owner.close().await;
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_one_postgres() {
    let Some((url, name)) = common::postgres_db().await else {
        return;
    };
    story(&url, &common::postgres_owner_url(&name)).await;
    common::drop_postgres_db(&name).await;
}
