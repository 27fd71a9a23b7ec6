//! The `sipas` command line on a real SQLite file.

use crate::common;

use sipas_app::ports::Store;
use sipas_app::staff::{AccountStore, AuditStore, FieldStore};
use sipas_app::survey::codes::InvitationCode;
use sipas_server::services::demo::{EXAMPLE_COMMUNE, EXAMPLE_STRATUM};
use sipas_server::store::{self, ConnectOptions};

fn sipas(url: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_sipas"))
        .args(args)
        .env("DATABASE_URL", url)
        .output()
        .expect("run sipas")
}

/// `sipas codes` with its target arguments, writing `codes.csv` in the database's folder.
fn codes(db: &common::SqliteDb, target: &[&str], extra: &[&str]) -> std::process::Output {
    let out = db.dir.path().join("codes.csv");
    let mut args = vec![
        "codes",
        "--wave",
        "sipas-2026-demo",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(target);
    args.extend_from_slice(extra);
    sipas(&db.url, &args)
}

#[tokio::test]
async fn codes_are_a_batch_over_the_frame_printed_and_stored_hashed() {
    let db = common::sqlite_db();
    assert!(sipas(&db.url, &["demo", "--no-history"]).status.success());
    let out = db.dir.path().join("codes.csv");
    let sheet = db.dir.path().join("codes.html");
    let output = codes(
        &db,
        &["--psu", EXAMPLE_COMMUNE],
        &["--count", "5", "--sheet", sheet.to_str().unwrap()],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // UTF-8 with a byte-order mark (for Excel), as the staff page's CSV.
    assert!(
        std::fs::read(&out)
            .unwrap()
            .starts_with(b"\xEF\xBB\xBFcode,link,wave,")
    );
    let mut reader = csv::Reader::from_path(&out).unwrap();
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        ["code", "link", "wave", "province", "stratum", "psu"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 5);
    let store = store::open(&db.url, &ConnectOptions::default())
        .await
        .unwrap();
    for row in &rows {
        let code = InvitationCode::parse(&row[0]).expect("printed code parses");
        assert!(row[1].ends_with(&format!("/s/{}", code.as_str())));
        assert_eq!(
            [&row[3], &row[4], &row[5]],
            ["79", EXAMPLE_STRATUM, EXAMPLE_COMMUNE]
        );
        let invitation = store
            .invitation(&sipas_server::services::invitations::hash(&code))
            .await
            .expect("stored by hash");
        assert_eq!(invitation.sample.province_code, "79");
        assert_eq!(invitation.sample.stratum, EXAMPLE_STRATUM);
        assert_eq!(invitation.sample.psu, EXAMPLE_COMMUNE);
        assert!(!invitation.used);
    }
    // The same sheet as the staff page's: a card per code, the stylesheet inline.
    let html = std::fs::read_to_string(&sheet).unwrap();
    assert_eq!(html.matches("<article class=\"card\">").count(), 5);
    assert!(html.contains("<svg") && html.contains(".sheet {"));
    assert!(html.contains(&InvitationCode::parse(&rows[0][0]).unwrap().display()));
    // A batch the staff see (listed, voidable), issued and audited as `cli`.
    let batches = store.batches("sipas-2026-demo", None).await.unwrap();
    assert_eq!(batches.len(), 1);
    assert_eq!(
        (
            batches[0].scope.as_str(),
            batches[0].size,
            batches[0].issued_by.as_str()
        ),
        (format!("psu {EXAMPLE_COMMUNE}").as_str(), 5, "cli")
    );
    let audit = store
        .audit_log(&sipas_app::staff::port::AuditFilter {
            action: Some("batch_issued".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let issued: Vec<_> = audit
        .iter()
        .filter(|r| r.entry.action == "batch_issued")
        .collect();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].entry.actor, "cli");
    assert!(
        issued[0]
            .entry
            .detail
            .contains(&format!("5 mã cho Xã/phường (PSU) {EXAMPLE_COMMUNE}"))
    );
    // The plain code is nowhere in the database.
    let plain: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM invitation_codes WHERE code_hash = $1")
            .bind(InvitationCode::parse(&rows[0][0]).unwrap().as_str())
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(plain, 0);
}

#[tokio::test]
async fn codes_for_a_province_are_shared_over_its_psus_by_target() {
    let db = common::sqlite_db();
    assert!(sipas(&db.url, &["demo", "--no-history"]).status.success());
    // Province 79's drawn frame: eleven communes with the take of 91 (1,001 in all); 1,012
    // codes give each 92.
    let sheet = db.dir.path().join("province.html");
    let output = codes(
        &db,
        &["--province", "79"],
        &["--count", "1012", "--sheet", sheet.to_str().unwrap()],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The sheet file is titled by the province's name, as the staff page's is.
    let html = std::fs::read_to_string(&sheet).unwrap();
    assert!(
        html.contains("Cả tỉnh 79 Hồ Chí Minh · 1.012 mã"),
        "{}",
        &html[..500.min(html.len())]
    );
    let mut reader = csv::Reader::from_path(db.dir.path().join("codes.csv")).unwrap();
    let mut per_psu = std::collections::BTreeMap::<String, usize>::new();
    for row in reader.records() {
        *per_psu.entry(row.unwrap()[5].to_owned()).or_default() += 1;
    }
    assert_eq!(per_psu.len(), 11);
    assert!(per_psu.values().all(|n| *n == 92), "{per_psu:?}");
    // A stratum of it.
    let output = codes(
        &db,
        &["--province", "79", "--stratum", "79-nong-thon"],
        &["--count", "5"],
    );
    assert!(output.status.success());
    let mut reader = csv::Reader::from_path(db.dir.path().join("codes.csv")).unwrap();
    assert!(reader.records().all(|r| &r.unwrap()[4] == "79-nong-thon"));
}

#[tokio::test]
async fn stored_codes_keep_their_file_when_it_cannot_take_its_name() {
    let db = common::sqlite_db();
    assert!(sipas(&db.url, &["demo", "--no-history"]).status.success());
    // The output name is taken by a folder: the rename fails after the codes are stored.
    std::fs::create_dir(db.dir.path().join("codes.csv")).unwrap();
    let output = codes(&db, &["--psu", EXAMPLE_COMMUNE], &["--count", "3"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let kept = stderr
        .split("the file is kept at ")
        .nth(1)
        .unwrap_or_else(|| panic!("{stderr}"))
        .trim();
    let mut reader = csv::Reader::from_path(kept).expect("the kept file");
    assert_eq!(reader.records().count(), 3, "every stored code is in it");
    let store = store::open(&db.url, &ConnectOptions::default())
        .await
        .unwrap();
    assert_eq!(
        store.batches("sipas-2026-demo", None).await.unwrap()[0].size,
        3
    );
}

#[test]
fn codes_outside_the_frame_or_the_limit_are_refused_and_nothing_is_written() {
    let db = common::sqlite_db();
    assert!(sipas(&db.url, &["demo", "--no-history"]).status.success());
    let out = db.dir.path().join("codes.csv");
    let refused = |target: &[&str], extra: &[&str], expected: &str| {
        let output = codes(&db, target, extra);
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{stderr}");
        assert!(!out.exists());
    };
    // 02 (Hà Giang) no longer exists in the 2025 geography of the demo wave.
    refused(
        &["--province", "02"],
        &[],
        "no province 02 in the wave's frame",
    );
    refused(
        &["--psu", "p-nowhere"],
        &[],
        "no psu p-nowhere in the wave's frame",
    );
    // One limit with the staff page.
    refused(
        &["--psu", EXAMPLE_COMMUNE],
        &["--count", "5001"],
        "the count must be from 1 to 5000",
    );
    refused(
        &["--psu", EXAMPLE_COMMUNE],
        &["--count", "0"],
        "from 1 to 5000",
    );
    // A stratum needs its province; a PSU takes no province.
    refused(&["--stratum", EXAMPLE_STRATUM], &[], "--province");
    refused(
        &["--psu", EXAMPLE_COMMUNE, "--province", "79"],
        &[],
        "cannot be used with",
    );
}

#[tokio::test]
async fn waves_are_created_on_a_published_questionnaire() {
    let db = common::sqlite_db();
    let wave = |extra: &[&str]| {
        let mut args = vec![
            "wave",
            "--code",
            "sipas-2027",
            "--title",
            "SIPAS 2027",
            "--year",
            "2027",
        ];
        args.extend_from_slice(extra);
        sipas(&db.url, &args)
    };
    // Not yet published: a clear refusal, nothing created.
    let refused = wave(&[]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("\"sipas-2023@1\" is not a published questionnaire version"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let published = sipas(&db.url, &["publish"]);
    assert!(
        published.status.success(),
        "{}",
        String::from_utf8_lossy(&published.stderr)
    );
    assert!(
        sipas(&db.url, &["publish"]).status.success(),
        "publishing again is a no-op"
    );
    let created = wave(&["--open-link"]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let again = wave(&[]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let bad = wave(&["--geography", "1999"]);
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("geography: 2025 (34 provincial units) or 2004")
    );

    let store = store::open(&db.url, &ConnectOptions::default())
        .await
        .expect("open");
    let stored = store.wave("sipas-2027").await.expect("wave");
    assert!(stored.open_link);
    assert_eq!(
        stored.questionnaire.map(|q| (q.code, q.version)),
        Some(("sipas-2023".to_owned(), 1))
    );

    // A changed file under the same version is refused: published versions never change.
    let edited = db.dir.path().join("edited.toml");
    let text = sipas_server::services::questionnaires::SIPAS_2023.replace(
        "Citizen satisfaction questionnaire",
        "Citizen satisfaction questionnaire (edited)",
    );
    std::fs::write(&edited, text).expect("write");
    let conflict = sipas(
        &db.url,
        &["publish", "--file", edited.to_str().expect("path")],
    );
    assert!(!conflict.status.success());
    assert!(String::from_utf8_lossy(&conflict.stderr).contains("publish a new version instead"));

    // Computing a wave reads its responses from the database: none yet, a clear refusal.
    let methodology = std::path::Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("../data/methodology/sipas-2023.toml");
    let out = db.dir.path().join("results.csv");
    let empty = sipas(
        &db.url,
        &[
            "compute",
            "--wave",
            "sipas-2027",
            "--methodology",
            methodology.to_str().expect("path"),
            "--out",
            out.to_str().expect("path"),
        ],
    );
    assert!(!empty.status.success());
    assert!(
        String::from_utf8_lossy(&empty.stderr).contains("wave sipas-2027: there are no responses"),
        "{}",
        String::from_utf8_lossy(&empty.stderr)
    );
    assert!(!out.exists());
}

/// `sipas` with a line on standard input (a password), as a script would run it.
fn sipas_with_input(url: &str, args: &[&str], input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sipas"))
        .args(args)
        .env("DATABASE_URL", url)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run sipas");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    child.wait_with_output().expect("wait")
}

#[tokio::test]
async fn staff_accounts_from_the_command_line() {
    let db = common::sqlite_db();
    let create = [
        "admin",
        "create",
        "--username",
        "admin",
        "--name",
        "Quản trị viên",
    ];
    let short = sipas_with_input(&db.url, &create, "short\n");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12 characters"));
    assert!(
        sipas_with_input(&db.url, &create, "một mật khẩu đủ dài\n")
            .status
            .success()
    );
    let again = sipas_with_input(&db.url, &create, "một mật khẩu đủ dài\n");
    assert!(!again.status.success(), "a taken username is refused");
    let officer = |province: Option<&str>| {
        let mut args = vec![
            "user",
            "add",
            "--username",
            "ha.noi",
            "--name",
            "Cán bộ Hà Nội",
            "--role",
            "provincial",
        ];
        if let Some(p) = province {
            args.extend(["--province", p]);
        }
        sipas_with_input(&db.url, &args, "mật khẩu của Hà Nội\n")
    };
    assert!(
        !officer(None).status.success(),
        "a provincial officer needs a province"
    );
    assert!(
        !officer(Some("99")).status.success(),
        "an unknown province is refused"
    );
    assert!(officer(Some("01")).status.success());
    assert!(
        sipas(&db.url, &["user", "disable", "--username", "ha.noi"])
            .status
            .success()
    );
    let list = String::from_utf8_lossy(&sipas(&db.url, &["user", "list"]).stdout).into_owned();
    assert!(list.contains("admin\tadmin\t-\tactive"), "{list}");
    assert!(list.contains("ha.noi\tprovincial\t01\tdisabled"), "{list}");
    let reset = sipas_with_input(
        &db.url,
        &["user", "reset-password", "--username", "ha.noi"],
        "một mật khẩu mới khác\n",
    );
    assert!(reset.status.success());

    let store = store::open(&db.url, &ConnectOptions::default())
        .await
        .expect("open");
    let (admin, hash) = store.user_for_sign_in("admin").await.expect("admin");
    assert!(hash.starts_with("$argon2id$"), "stored as an argon2id hash");
    assert!(admin.active);
    let (officer, _) = store.user_for_sign_in("ha.noi").await.expect("officer");
    assert!(!officer.active);
    assert_eq!(
        officer.credentials_version, 3,
        "disable and reset each end the sessions"
    );
    let log = store
        .audit_log(&sipas_app::staff::port::AuditFilter {
            actor: Some("cli".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("audit");
    let actions: Vec<&str> = log.iter().map(|r| r.entry.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "password_reset",
            "account_disabled",
            "account_created",
            "account_created"
        ]
    );
    store.close().await;
}

/// A change and its audit entry commit together: `sipas user add` killed (SIGKILL) after both
/// are written but before the commit leaves neither; run again, it leaves both, once each. On
/// both engines.
async fn an_account_and_its_audit_entry_commit_together(url: &str) {
    use std::io::{BufRead, Write};
    let store = store::open(url, &ConnectOptions::default())
        .await
        .expect("open");
    let args = [
        "user",
        "add",
        "--username",
        "bi.ngat",
        "--name",
        "Bị ngắt",
        "--role",
        "viewer",
    ];
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sipas"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("SIPAS_TEST_PAUSE_BEFORE_COMMIT_MS", "60000")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run sipas");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all("mật khẩu đủ dài để dùng\n".as_bytes())
        .expect("password");
    // Wait until the account and its entry are written in the open transaction, then kill.
    let stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut said = String::new();
    for line in stderr.lines() {
        let line = line.expect("stderr line");
        said.push_str(&line);
        if line.contains("audit entry written, not committed") {
            break;
        }
    }
    assert!(said.contains("not committed"), "{said}");
    child.kill().expect("kill");
    let _ = child.wait();
    let created = |store: &store::SqlStore| {
        let pool = store.pool().clone();
        async move {
            let users: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM staff_users WHERE username = 'bi.ngat'")
                    .fetch_one(&pool)
                    .await
                    .expect("count users");
            let entries: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'account_created' \
                 AND detail LIKE 'bi.ngat %'",
            )
            .fetch_one(&pool)
            .await
            .expect("count entries");
            (users, entries)
        }
    };
    assert_eq!(
        created(&store).await,
        (0, 0),
        "killed before the commit: neither"
    );
    let again = sipas_with_input(url, &args, "mật khẩu đủ dài để dùng\n");
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(created(&store).await, (1, 1), "committed: both, once");
    assert!(store.user_for_sign_in("bi.ngat").await.is_ok());
}

#[tokio::test]
async fn audit_commits_with_its_change_sqlite() {
    let db = common::sqlite_db();
    an_account_and_its_audit_entry_commit_together(&db.url).await;
}

#[tokio::test]
async fn audit_commits_with_its_change_postgres() {
    let Some((url, name)) = common::postgres_db().await else {
        return;
    };
    an_account_and_its_audit_entry_commit_together(&url).await;
    common::drop_postgres_db(&name).await;
}

#[tokio::test]
async fn the_demo_writes_population_margins_that_add_up_to_each_province() {
    let db = common::sqlite_db();
    let path = db.dir.path().join("margins.csv");
    let output = sipas(
        &db.url,
        &["demo", "--no-history", "--margins", path.to_str().unwrap()],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&path).unwrap();
    // What the computation reads.
    sipas_stats::calibration::Population::from_csv(text.as_bytes()).expect("readable");
    let store = store::open(&db.url, &ConnectOptions::default())
        .await
        .unwrap();
    let frame = store.frame("sipas-2026-demo", None).await.unwrap();
    // Per province, each margin (2 sexes, 5 age bands) adds up to the frame's adults.
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let mut sums = std::collections::BTreeMap::<(String, String), i64>::new();
    for row in reader.records() {
        let row = row.unwrap();
        *sums
            .entry((row[0].to_owned(), row[1].to_owned()))
            .or_default() += row[3].parse::<i64>().unwrap();
    }
    assert_eq!(sums.len(), 34 * 2);
    for ((province, _), total) in &sums {
        let adults: i64 = frame
            .strata
            .iter()
            .filter(|s| &s.province_code == province)
            .map(|s| s.population)
            .sum();
        assert_eq!(*total, adults, "{province}");
    }
}

/// The PostgreSQL deployment of docs/operations.md: `sipas migrate` as the owner grants the
/// application role; `sipas serve` refuses to run as the owner (it could switch the releases'
/// guards off) and starts as the application role.
#[tokio::test]
async fn postgres_runs_as_the_application_role_migrated_by_the_owner() {
    let Some(name) = common::postgres_empty_db().await else {
        return;
    };
    let (owner, app) = (
        common::postgres_owner_url(&name),
        common::postgres_app_url(&name),
    );
    let migrate_with = |owner_url: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_sipas"));
        command.arg("migrate").env("DATABASE_URL", &app);
        if let Some(owner_url) = owner_url {
            command.env("SIPAS_MIGRATE_DATABASE_URL", owner_url);
        }
        command.output().expect("run sipas migrate")
    };
    // Forgetting the owner's URL, or naming another database with it, says what to set.
    let as_application = migrate_with(None);
    assert!(!as_application.status.success());
    let said = String::from_utf8_lossy(&as_application.stderr);
    assert!(
        said.contains("may not change this database's schema"),
        "{said}"
    );
    assert!(said.contains("SIPAS_MIGRATE_DATABASE_URL"), "{said}");
    let elsewhere = owner.replace(&name, "postgres");
    let mismatched = migrate_with(Some(&elsewhere));
    assert!(!mismatched.status.success());
    let said = String::from_utf8_lossy(&mismatched.stderr);
    assert!(said.contains("must name the same database"), "{said}");
    let migrate = migrate_with(Some(&owner));
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let serve = |url: &str, port: u16| {
        std::process::Command::new(env!("CARGO_BIN_EXE_sipas"))
            .arg("serve")
            .env("DATABASE_URL", url)
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start sipas serve")
    };
    let refused = serve(&owner, common::load::free_port())
        .wait_with_output()
        .expect("serve as owner");
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("refusing to serve"), "{said}");
    assert!(said.contains("releases: the role owns it"), "{said}");
    // The application role starts and answers.
    let port = common::load::free_port();
    let mut running = serve(&app, port);
    let ready = common::load::wait_until_ready(
        std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        std::time::Duration::from_secs(30),
    )
    .await;
    assert!(ready, "the application role's server did not answer");
    running.kill().expect("kill");
    let _ = running.wait();
    common::drop_postgres_db(&name).await;
}

/// `log_format = "json"`: one JSON object a line, for a log collector.
#[tokio::test]
async fn logs_as_json_lines() {
    let db = common::sqlite_db();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sipas"))
        .arg("migrate")
        .env("DATABASE_URL", &db.url)
        .env("SIPAS_LOG_FORMAT", "json")
        .env_remove("RUST_LOG")
        .output()
        .expect("run sipas");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "INFO" && l["message"] == "database is up to date"),
        "{text}"
    );
    // A new database: every migration was applied, and the log says how many.
    let applied = lines
        .iter()
        .find(|l| l["message"] == "migrations applied")
        .and_then(|l| l["applied"].as_u64())
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(
        applied as usize,
        sipas_server::store::migrations(sipas_server::store::Engine::Sqlite)
    );
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_sipas"))
        .arg("config")
        .env("SIPAS_LOG_FORMAT", "xml")
        .output()
        .expect("run sipas");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("LOG_FORMAT"));
}
