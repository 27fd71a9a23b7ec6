//! The storage conformance suite: every operation of the `Store` port, run the same way on
//! SQLite and on PostgreSQL.

use crate::common;

use std::sync::Arc;

use sipas_app::domain::{Geography, QuestionnaireRef, SampleKind, SamplePoint, UnitKind, Wave};
use sipas_app::ports::{Store, StoreError};
use sipas_app::survey::questionnaire::Answers;
use sipas_app::survey::response::{Channel, Draft, DraftSaved, NewResponse, StoreOutcome};
use sipas_server::store::{self, ConnectOptions, OpenError};

fn reference_csv(name: &str) -> Vec<Vec<String>> {
    let path = std::path::Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("../data/geography")
    .join(name);
    let mut reader = csv::Reader::from_path(path).expect("reference CSV");
    reader
        .records()
        .map(|r| r.expect("record").iter().map(String::from).collect())
        .collect()
}

/// `owner_url`: the schema owner's URL (PostgreSQL), which alone may touch the migrations.
async fn story(url: &str, owner_url: Option<&str>) {
    let options = ConnectOptions::default();
    let db = store::open(url, &options).await.expect("open and migrate");
    db.ping().await.expect("ping");
    assert!(["sqlite", "postgres"].contains(&db.engine()));

    // Geography: exactly the reference data, keyed by geography and code.
    for (geography, file, count) in [
        (Geography::G2004, "provinces_2004.csv", 63),
        (Geography::G2025, "provinces_2025.csv", 34),
    ] {
        let units = db.provinces(geography).await.expect("provinces");
        assert_eq!(units.len(), count);
        let expected = reference_csv(file);
        for (unit, row) in units.iter().zip(&expected) {
            assert_eq!(
                (unit.code.as_str(), unit.name_vi.as_str()),
                (row[0].as_str(), row[1].as_str())
            );
            assert_eq!(unit.kind, UnitKind::parse(&row[2]).expect("kind"));
            assert_eq!(unit.geography, geography);
        }
    }
    // The 3,321 communes of the 2025 map, each in its province, names as published (runs of
    // spaces collapsed).
    let communes = db.communes().await.expect("communes");
    let mut expected = reference_csv("communes_2025.csv");
    expected.sort_by(|a, b| (&a[0], &a[1]).cmp(&(&b[0], &b[1])));
    assert_eq!(communes.len(), 3321);
    for (commune, row) in communes.iter().zip(&expected) {
        let name = row[2].split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(
            (
                commune.province_code.as_str(),
                commune.code.as_str(),
                commune.name_vi.as_str()
            ),
            (row[0].as_str(), row[1].as_str(), name.as_str())
        );
        assert_eq!(
            commune.kind,
            sipas_app::domain::CommuneKind::parse(&row[3]).expect("kind")
        );
    }
    let wards = communes.iter().filter(|c| c.kind.urban()).count();
    assert_eq!(wards, 687);
    assert_eq!(
        db.provinces_on("2025-06-30").await.expect("before").len(),
        63
    );
    assert_eq!(
        db.provinces_on("2025-07-01").await.expect("after").len(),
        34
    );
    assert_eq!(
        db.provinces_on("2026-11-27").await.expect("today").len(),
        34
    );
    // A reused code never confuses two units.
    assert_eq!(
        db.province(Geography::G2004, "15")
            .await
            .expect("old 15")
            .name_vi,
        "Yên Bái"
    );
    assert_eq!(
        db.province(Geography::G2025, "15")
            .await
            .expect("new 15")
            .name_vi,
        "Lào Cai"
    );
    assert!(matches!(
        db.province(Geography::G2025, "02").await,
        Err(StoreError::NotFound)
    ));

    let crosswalk = db.crosswalk().await.expect("crosswalk");
    let expected = reference_csv("crosswalk_2004_2025.csv");
    assert_eq!(crosswalk.len(), expected.len());
    for (link, row) in crosswalk.iter().zip(&expected) {
        assert_eq!(
            (link.old_code.as_str(), link.new_code.as_str()),
            (row[0].as_str(), row[1].as_str())
        );
    }

    // Waves: create, read, list newest first, refuse a duplicate code.
    let older = Wave {
        code: "w-2025".into(),
        title: "Đợt 2025".into(),
        year: 2025,
        geography: Geography::G2004,
        questionnaire: None,
        open_link: false,
        closed: false,
    };
    let newer = Wave {
        code: "w-2026".into(),
        title: "Đợt 2026".into(),
        year: 2026,
        geography: Geography::G2025,
        questionnaire: Some(QuestionnaireRef {
            code: "sipas-2023".into(),
            version: 1,
        }),
        open_link: true,
        closed: false,
    };
    let sipas_2023 = sipas_server::services::questionnaires::parse(
        sipas_server::services::questionnaires::SIPAS_2023,
    )
    .expect("parse");
    let first_is_new = common::publish(&db, &sipas_2023).await.expect("publish");
    common::create_wave(&db, &older)
        .await
        .expect("create older");
    common::create_wave(&db, &newer)
        .await
        .expect("create newer");
    assert_eq!(db.wave("w-2025").await.expect("read"), older);
    assert_eq!(
        db.waves().await.expect("list"),
        vec![newer.clone(), older.clone()]
    );
    match common::create_wave(&db, &newer).await {
        Err(StoreError::Conflict(message)) => {
            assert!(message.en.contains("w-2026") && message.vi.contains("w-2026"))
        }
        other => panic!("duplicate wave accepted: {other:?}"),
    }
    assert!(matches!(db.wave("nope").await, Err(StoreError::NotFound)));

    // Demo data is idempotent.
    assert_eq!(
        sipas_server::services::demo::seed(&db).await.expect("seed"),
        1
    );
    assert_eq!(
        sipas_server::services::demo::seed(&db)
            .await
            .expect("seed again"),
        0
    );

    // Questionnaires: published versions are immutable.
    let sipas = sipas_server::services::questionnaires::parse(
        sipas_server::services::questionnaires::SIPAS_2023,
    )
    .expect("parse");
    assert_eq!(
        db.questionnaire("sipas-2023", 1)
            .await
            .expect("published by demo"),
        sipas
    );
    assert!(
        !common::publish(&db, &sipas)
            .await
            .expect("same content again is fine")
    );
    let mut edited = sipas.clone();
    edited.title_en.push_str(" (edited)");
    assert!(matches!(
        common::publish(&db, &edited).await,
        Err(StoreError::Conflict(_))
    ));
    edited.version = 2;
    assert!(common::publish(&db, &edited).await.expect("a new version"));
    assert_eq!(db.questionnaire("sipas-2023", 2).await.expect("v2"), edited);
    // Each version published is logged once, in its own transaction; publishing the same
    // content again (here, the demo's seeding) and a refused change log nothing.
    let logged: Vec<String> = sipas_app::staff::AuditStore::audit_log(
        &db,
        &sipas_app::staff::port::AuditFilter {
            action: Some("questionnaire_published".into()),
            limit: 100,
            ..Default::default()
        },
    )
    .await
    .expect("audit")
    .into_iter()
    .filter(|r| r.entry.action == "questionnaire_published")
    .map(|r| r.entry.actor)
    .collect();
    let expected = if first_is_new { 2 } else { 1 };
    assert_eq!(logged, vec!["test"; expected]);
    assert!(matches!(
        db.questionnaire("sipas-2023", 3).await,
        Err(StoreError::NotFound)
    ));

    // Invitations: stored by hash with their sample point; a batch is all or nothing.
    let sample = SamplePoint {
        wave_code: "w-2026".into(),
        geography: Geography::G2025,
        province_code: "15".into(),
        stratum: "15-rural".into(),
        psu: "village-7".into(),
    };
    let hashes: Vec<String> = (0..3).map(|i| format!("{i:064x}")).collect();
    db.add_invitations(&sample, SampleKind::Probability, "b1", &hashes)
        .await
        .expect("add");
    let invitation = db.invitation(&hashes[1]).await.expect("lookup");
    assert_eq!(
        (
            invitation.sample,
            invitation.kind,
            invitation.batch.as_str(),
            invitation.used
        ),
        (sample.clone(), SampleKind::Probability, "b1", false)
    );
    let clash = vec![format!("{:064x}", 99), hashes[0].clone()];
    assert!(
        db.add_invitations(&sample, SampleKind::Probability, "b2", &clash)
            .await
            .is_err()
    );
    assert!(
        matches!(db.invitation(&clash[0]).await, Err(StoreError::NotFound)),
        "batch rolled back"
    );
    let mut elsewhere = sample.clone();
    elsewhere.province_code = "02".into(); // a 2004 code that is not a 2025 province
    assert!(
        db.add_invitations(&elsewhere, SampleKind::Open, "b3", &[format!("{:064x}", 7)])
            .await
            .is_err()
    );

    // Data survives a restart; migrating again changes nothing.
    db.close().await;
    let reopened = store::open(url, &options).await.expect("reopen");
    assert_eq!(reopened.waves().await.expect("after restart").len(), 3);

    // A database migrated by a newer release is refused with a clear message.
    let owner = match owner_url {
        Some(owner_url) => store::migrate(owner_url, &options, None)
            .await
            .expect("owner"),
        None => store::open(url, &options).await.expect("second connection"),
    };
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(9_999_i64)
    .bind("from the future")
    .bind(true)
    .bind(vec![0u8; 48])
    .bind(0_i64)
    .execute(owner.pool())
    .await
    .expect("fake a newer migration");
    owner.close().await;
    reopened.close().await;
    match store::open(url, &options).await {
        Err(err @ OpenError::NewerSchema { version: 9999 }) => {
            assert!(err.to_string().contains("newer release"), "{err}");
        }
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("a database from a newer release was accepted"),
    }
}

fn response(code_hash: &str, submission_id: &str, answers: &Answers) -> NewResponse {
    NewResponse {
        receipt: format!("R-{submission_id}"),
        submission_id: submission_id.to_owned(),
        code_hash: code_hash.to_owned(),
        questionnaire: QuestionnaireRef {
            code: "sipas-2023".into(),
            version: 1,
        },
        answers: answers.clone(),
        content_hash: format!("{:x}", answers.len()),
        language: "vi".into(),
        channel: Channel::Online,
        started_at: Some("2026-11-27T08:00:00Z".into()),
        measures: Default::default(),
        device: None,
    }
}

/// Drafts, submissions, retries, used codes and races: the guarantees of issue #4 that live in
/// the database, on both engines.
async fn responses_story(url: &str) {
    let db = Arc::new(
        store::open(url, &ConnectOptions::default())
            .await
            .expect("open"),
    );
    sipas_server::services::demo::seed(db.as_ref())
        .await
        .expect("seed");
    let sample = SamplePoint {
        wave_code: "sipas-2026-demo".into(),
        geography: Geography::G2025,
        province_code: "01".into(),
        stratum: "01-urban".into(),
        psu: "ward-3".into(),
    };
    let hashes: Vec<String> = (0..4).map(|i| format!("{:064x}", 1000 + i)).collect();
    db.add_invitations(&sample, SampleKind::Probability, "b", &hashes)
        .await
        .expect("codes");

    // Drafts: none, then saved, then replaced by a newer revision (start time kept by the
    // caller; revisions have their own story below).
    assert_eq!(db.draft(&hashes[0]).await.expect("no draft"), None);
    let mut draft = Draft {
        answers: [("used_service".to_owned(), 1)].into_iter().collect(),
        step: 1,
        started_at: "2026-11-27T08:00:00Z".into(),
        revision: 1,
    };
    assert_eq!(
        db.save_draft(&hashes[0], &draft, None).await.expect("save"),
        DraftSaved::Saved
    );
    draft.answers.insert("acc_1".into(), 4);
    draft.step = 2;
    draft.revision = 2;
    assert_eq!(
        db.save_draft(&hashes[0], &draft, None)
            .await
            .expect("replace"),
        DraftSaved::Saved
    );
    assert_eq!(
        db.draft(&hashes[0]).await.expect("read"),
        Some(draft.clone())
    );
    assert!(matches!(
        db.save_draft(&format!("{:064x}", 1), &draft, None).await,
        Err(StoreError::NotFound)
    ));

    // First submission is stored with the code's sample point; a retry gets the same receipt.
    let answers = draft.answers.clone();
    let first = response(&hashes[0], "submission-0000001", &answers);
    let receipt = match db.store_response(&first).await.expect("store") {
        StoreOutcome::Stored(receipt) => receipt,
        other => panic!("expected a new response, got {other:?}"),
    };
    assert_eq!(receipt.number, "R-submission-0000001");
    assert_eq!(
        db.store_response(&first).await.expect("retry"),
        StoreOutcome::Repeated(receipt.clone())
    );
    let stored = db.response(&receipt.number).await.expect("stored response");
    assert_eq!(stored.sample, sample);
    assert_eq!(stored.kind, SampleKind::Probability);
    assert_eq!(stored.answers, answers);
    assert_eq!(
        (stored.language.as_str(), stored.mode.as_str()),
        ("vi", "web")
    );
    assert!(db.invitation(&hashes[0]).await.expect("code").used);

    // A used code takes no second response: another submission, or the same id with other content.
    let other = response(&hashes[0], "submission-0000002", &answers);
    assert_eq!(
        db.store_response(&other).await.expect("other"),
        StoreOutcome::CodeUsed
    );
    let mut changed = first.clone();
    changed.answers.insert("acc_2".into(), 1);
    changed.content_hash = "different".into();
    assert_eq!(
        db.store_response(&changed).await.expect("changed"),
        StoreOutcome::CodeUsed
    );
    // Nor a new draft, however new its revision.
    draft.revision = 1_000;
    assert!(matches!(
        db.save_draft(&hashes[0], &draft, None).await,
        Err(StoreError::NotFound)
    ));
    // An unknown code is not found.
    assert!(matches!(
        db.store_response(&response(
            &format!("{:064x}", 5),
            "submission-0000003",
            &answers
        ))
        .await,
        Err(StoreError::NotFound)
    ));

    // Concurrent submissions with one code: exactly one is stored.
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let db = db.clone();
            let racer = response(&hashes[1], &format!("racer-000000000{i}"), &answers);
            tokio::spawn(async move { db.store_response(&racer).await })
        })
        .collect();
    let mut stored = 0;
    for racer in racers {
        match racer.await.expect("join").expect("store") {
            StoreOutcome::Stored(_) => stored += 1,
            StoreOutcome::CodeUsed => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(stored, 1, "exactly one of the racing submissions is stored");
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM responses WHERE code_hash = $1")
        .bind(&hashes[1])
        .fetch_one(db.pool())
        .await
        .expect("count");
    assert_eq!(count, 1);

    // A submission id belongs to one submission: reusing it on another code is refused.
    assert!(
        db.store_response(&response(&hashes[2], "submission-0000001", &answers))
            .await
            .is_err()
    );
    assert!(
        !db.invitation(&hashes[2]).await.expect("code").used,
        "the refused submission left the code unused"
    );

    // Open-link codes give responses marked as non-probability.
    let open_hash = format!("{:064x}", 2000);
    db.add_invitations(
        &sample,
        SampleKind::Open,
        "open-link",
        std::slice::from_ref(&open_hash),
    )
    .await
    .expect("open code");
    let open = response(&open_hash, "submission-open-01", &answers);
    let StoreOutcome::Stored(receipt) = db.store_response(&open).await.expect("open") else {
        panic!("open response not stored");
    };
    assert_eq!(
        db.response(&receipt.number).await.expect("read").kind,
        SampleKind::Open
    );
    db.close().await;
}

/// Drafts never go backwards (issue #10): a save is kept only when its revision is newer than
/// the stored one; the form post without JavaScript stores the previous revision + 1.
async fn draft_revisions_story(url: &str) {
    use sipas_app::survey::service::{self, Entry};
    let db = store::open(url, &ConnectOptions::default())
        .await
        .expect("open");
    sipas_server::services::demo::seed(&db).await.expect("seed");
    let sample = SamplePoint {
        wave_code: "sipas-2026-demo".into(),
        geography: Geography::G2025,
        province_code: "01".into(),
        stratum: "01-urban".into(),
        psu: "ward-3".into(),
    };
    let code = sipas_server::services::invitations::generate(1)
        .expect("code")
        .pop()
        .expect("one code");
    let code_hash = sipas_server::services::invitations::hash(&code);
    db.add_invitations(
        &sample,
        SampleKind::Probability,
        "drafts",
        std::slice::from_ref(&code_hash),
    )
    .await
    .expect("codes");
    let draft = |answer: i64, revision: u64| Draft {
        answers: [("used_service".to_owned(), answer)].into_iter().collect(),
        step: 0,
        started_at: "2026-11-27T08:00:00Z".into(),
        revision,
    };

    // The phone saves revision 5 (the first save may start anywhere).
    assert_eq!(
        db.save_draft(&code_hash, &draft(1, 5), None)
            .await
            .expect("save"),
        DraftSaved::Saved
    );
    // A stale page autosaves an older revision, then the same one: both refused, nothing changes.
    for stale in [3, 5] {
        assert_eq!(
            db.save_draft(&code_hash, &draft(2, stale), None)
                .await
                .expect("stale"),
            DraftSaved::Stale {
                current_revision: 5
            },
            "revision {stale} must not replace revision 5"
        );
    }
    assert_eq!(db.draft(&code_hash).await.expect("read"), Some(draft(1, 5)));
    // A newer one is kept.
    assert_eq!(
        db.save_draft(&code_hash, &draft(2, 9), None)
            .await
            .expect("newer"),
        DraftSaved::Saved
    );
    assert_eq!(db.draft(&code_hash).await.expect("read"), Some(draft(2, 9)));

    // The form post without JavaScript carries no revision: stored + 1.
    let Entry::Found(opened) = service::open(&db, code.as_str()).await.expect("open code") else {
        panic!("the code was not found");
    };
    let earlier = db.draft(&code_hash).await.expect("read");
    assert_eq!(service::next_revision(earlier.as_ref()), 10);
    assert_eq!(service::next_revision(None), 1);
    let answers: Answers = [("used_service".to_owned(), 1)].into_iter().collect();
    let saved = service::keep_draft(
        &db,
        &opened,
        answers.clone(),
        1,
        "2026-11-27T08:00:00Z".into(),
        service::next_revision(earlier.as_ref()),
        None,
    )
    .await
    .expect("form post");
    assert_eq!(saved, DraftSaved::Saved);
    let stored = db.draft(&code_hash).await.expect("read").expect("draft");
    assert_eq!(
        (stored.revision, stored.step, &stored.answers),
        (10, 1, &answers)
    );
    // A phone page from before that post (revision 9) cannot undo it; its next change can win.
    assert_eq!(
        db.save_draft(&code_hash, &draft(2, 9), None)
            .await
            .expect("stale"),
        DraftSaved::Stale {
            current_revision: 10
        }
    );
    assert_eq!(
        db.save_draft(&code_hash, &draft(2, 11), None)
            .await
            .expect("newer"),
        DraftSaved::Saved
    );

    // Concurrent saves of increasing revisions: the newest always ends up stored.
    let db = Arc::new(db);
    let savers: Vec<_> = (12..20)
        .map(|revision| {
            let (db, hash, d) = (db.clone(), code_hash.clone(), draft(1, revision));
            tokio::spawn(async move { db.save_draft(&hash, &d, None).await })
        })
        .collect();
    for saver in savers {
        saver.await.expect("join").expect("save");
    }
    assert_eq!(
        db.draft(&code_hash)
            .await
            .expect("read")
            .map(|d| d.revision),
        Some(19)
    );

    // Unknown codes stay NotFound.
    assert!(matches!(
        db.save_draft(&format!("{:064x}", 7), &draft(1, 100), None)
            .await,
        Err(StoreError::NotFound)
    ));
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn draft_revisions_sqlite() {
    let db = common::sqlite_db();
    draft_revisions_story(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn draft_revisions_postgres() {
    let Some((url, name)) = common::postgres_db().await else {
        return;
    };
    draft_revisions_story(&url).await;
    common::drop_postgres_db(&name).await;
}

#[tokio::test]
async fn conformance_sqlite() {
    let db = common::sqlite_db();
    story(&db.url, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn responses_sqlite() {
    let db = common::sqlite_db();
    responses_story(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn responses_postgres() {
    let Some((url, name)) = common::postgres_db().await else {
        return;
    };
    responses_story(&url).await;
    common::drop_postgres_db(&name).await;
}

#[tokio::test]
async fn sqlite_file_is_created_in_wal_mode() {
    let db = common::sqlite_db();
    let store = store::open(&db.url, &ConnectOptions::default())
        .await
        .expect("open");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .expect("pragma");
    assert_eq!(mode, "wal");
    assert!(db.dir.path().join("test.db").exists());
}

#[tokio::test]
async fn conformance_postgres() {
    let Some((url, name)) = common::postgres_db().await else {
        return;
    };
    story(&url, Some(&common::postgres_owner_url(&name))).await;
    common::drop_postgres_db(&name).await;
}

/// PostgreSQL is migrated by `sipas migrate` as the owner, never by the server: a database
/// behind this build is refused with what to run, by the owner too.
#[tokio::test]
async fn postgres_behind_this_build_is_refused() {
    let Some(name) = common::postgres_empty_db().await else {
        return;
    };
    let expected = sipas_server::store::OpenError::NotMigrated {
        pending: sipas_server::store::migrations(sipas_server::store::Engine::Postgres),
    }
    .to_string();
    for url in [
        common::postgres_owner_url(&name),
        common::postgres_app_url(&name),
    ] {
        match store::open(&url, &ConnectOptions::default()).await {
            Err(err) => {
                assert_eq!(err.to_string(), expected);
                assert!(expected.contains("sipas migrate"), "{expected}");
            }
            Ok(_) => panic!("an unmigrated database was opened"),
        }
    }
    common::drop_postgres_db(&name).await;
}

#[tokio::test]
async fn unreachable_database_is_a_clear_error() {
    let options = ConnectOptions {
        connect_timeout: std::time::Duration::from_secs(2),
        ..Default::default()
    };
    let err = store::open("postgres://u:secret@127.0.0.1:1/none", &options)
        .await
        .err()
        .expect("no server");
    let message = err.to_string();
    assert!(
        message.contains("cannot connect to the postgres database"),
        "{message}"
    );
    assert!(!message.contains("secret"), "password leaked: {message}");
    let err = store::open("mysql://x", &options)
        .await
        .err()
        .expect("unsupported");
    assert!(err.to_string().contains("unsupported database URL"));
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused() {
    let db = common::sqlite_db();
    let garbage: &[u8] = b"this is not a database, just text; lorem ipsum dolor sit amet, consectetur adipiscing elit";
    let path = db.dir.path().join("test.db");
    std::fs::write(&path, garbage).expect("write");
    let err = store::open(&db.url, &ConnectOptions::default())
        .await
        .err()
        .expect("garbage file");
    let message = err.to_string();
    assert!(
        matches!(
            err,
            OpenError::Connect {
                engine: "sqlite",
                ..
            } | OpenError::Migrate(_)
        ),
        "{message}"
    );
    assert!(
        message.contains("not a database"),
        "the cause is named: {message}"
    );
    assert_eq!(
        std::fs::read(&path).expect("read"),
        garbage,
        "the file is left untouched"
    );
}

/// One engine's schema after every migration, in terms both engines share: per table its
/// columns (name, type class, nullability), its secondary indexes (columns, unique) and the
/// changes its triggers refuse or act on.
#[derive(Debug, Default, PartialEq)]
struct Schema {
    columns: std::collections::BTreeMap<String, Vec<(String, &'static str, bool)>>,
    indexes: std::collections::BTreeSet<(String, String, bool)>,
    triggers: std::collections::BTreeSet<(String, String)>,
}

/// Types by class: what the application reads and writes the same way on both engines.
fn type_class(declared: &str) -> &'static str {
    match declared.to_ascii_lowercase().as_str() {
        "text" | "character varying" | "varchar" => "text",
        "integer" | "bigint" | "smallint" | "int" => "integer",
        "real" | "double precision" | "numeric" => "real",
        "blob" | "bytea" => "blob",
        "boolean" => "boolean",
        other => panic!("a column type the schema test does not know: {other}"),
    }
}

async fn sqlite_schema(pool: &sqlx::AnyPool) -> Schema {
    let mut schema = Schema::default();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%' ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .expect("tables");
    for table in tables {
        let columns: Vec<(String, String, i64, i64)> = sqlx::query_as(&format!(
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info('{table}')"
        ))
        .fetch_all(pool)
        .await
        .expect("columns");
        let mut columns: Vec<(String, &'static str, bool)> = columns
            .into_iter()
            .map(|(name, declared, not_null, pk)| {
                (name, type_class(&declared), not_null == 0 && pk == 0)
            })
            .collect();
        columns.sort();
        let indexes: Vec<(String, i64, String)> = sqlx::query_as(&format!(
            "SELECT name, \"unique\", origin FROM pragma_index_list('{table}')"
        ))
        .fetch_all(pool)
        .await
        .expect("indexes");
        for (index, unique, origin) in indexes {
            if origin == "pk" {
                continue;
            }
            let names: Vec<String> = sqlx::query_scalar(&format!(
                "SELECT name FROM pragma_index_info('{index}') ORDER BY seqno"
            ))
            .fetch_all(pool)
            .await
            .expect("index columns");
            schema
                .indexes
                .insert((table.clone(), names.join(","), unique == 1));
        }
        schema.columns.insert(table, columns);
    }
    let triggers: Vec<(String, String)> =
        sqlx::query_as("SELECT tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
            .fetch_all(pool)
            .await
            .expect("triggers");
    for (table, sql) in triggers {
        let sql = sql.to_ascii_uppercase();
        for event in ["INSERT", "UPDATE", "DELETE"] {
            // `BEFORE UPDATE OF x ON t` / `AFTER DELETE ON t`: the event before ON.
            if sql
                .split(" ON ")
                .next()
                .is_some_and(|head| head.contains(event))
            {
                schema.triggers.insert((table.clone(), event.to_owned()));
            }
        }
    }
    schema
}

async fn postgres_schema(pool: &sqlx::AnyPool) -> Schema {
    let mut schema = Schema::default();
    let columns: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text \
         FROM information_schema.columns WHERE table_schema = 'public' \
         AND table_name NOT LIKE '\\_sqlx%' ORDER BY table_name, column_name",
    )
    .fetch_all(pool)
    .await
    .expect("columns");
    for (table, name, declared, nullable) in columns {
        schema.columns.entry(table).or_default().push((
            name,
            type_class(&declared),
            nullable == "YES",
        ));
    }
    for columns in schema.columns.values_mut() {
        columns.sort();
    }
    let indexes: Vec<(String, String, bool)> = sqlx::query_as(
        "SELECT t.relname::text, \
                string_agg(a.attname::text, ',' ORDER BY k.ordinality), \
                i.indisunique \
         FROM pg_index i \
         JOIN pg_class t ON t.oid = i.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public' \
         CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ordinality) \
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
         WHERE NOT i.indisprimary AND t.relname NOT LIKE '\\_sqlx%' \
         GROUP BY t.relname, i.indexrelid, i.indisunique",
    )
    .fetch_all(pool)
    .await
    .expect("indexes");
    schema.indexes = indexes.into_iter().collect();
    let triggers: Vec<(String, String)> = sqlx::query_as(
        "SELECT event_object_table::text, event_manipulation::text \
         FROM information_schema.triggers WHERE trigger_schema = 'public'",
    )
    .fetch_all(pool)
    .await
    .expect("triggers");
    schema.triggers = triggers.into_iter().collect();
    schema
}

/// Both engines' migrations give the same schema: the same tables and columns with the same
/// type classes and nullability, the same secondary indexes, and triggers on the same changes.
#[tokio::test]
async fn both_engines_migrate_to_the_same_schema() {
    let sqlite = common::sqlite_db();
    let sqlite_store = store::open(&sqlite.url, &ConnectOptions::default())
        .await
        .expect("open");
    let ours = sqlite_schema(sqlite_store.pool()).await;
    let Some((_, name)) = common::postgres_db().await else {
        return;
    };
    // As the owner: information_schema shows a role only the triggers of tables it may do more
    // than read (the application role only reads published_elsewhere).
    let postgres_store = store::open(
        &common::postgres_owner_url(&name),
        &ConnectOptions::default(),
    )
    .await
    .expect("open");
    let theirs = postgres_schema(postgres_store.pool()).await;
    postgres_store.pool().close().await;
    common::drop_postgres_db(&name).await;
    assert!(ours.columns.len() > 15, "{:?}", ours.columns.keys());
    let tables = |s: &Schema| s.columns.keys().cloned().collect::<Vec<_>>();
    assert_eq!(tables(&ours), tables(&theirs), "tables");
    for (table, columns) in &ours.columns {
        assert_eq!(
            Some(columns),
            theirs.columns.get(table),
            "columns of {table} (SQLite, PostgreSQL)"
        );
    }
    let only = |a: &Schema, b: &Schema| {
        a.indexes
            .difference(&b.indexes)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(
        ours.indexes == theirs.indexes,
        "indexes only in SQLite: {:?}; only in PostgreSQL: {:?}",
        only(&ours, &theirs),
        only(&theirs, &ours)
    );
    // Engine-specific on purpose: SQLite's `INSERT OR REPLACE` deletes a conflicting row
    // without firing delete triggers, so a published release and a figure published elsewhere
    // need an insert guard there; PostgreSQL has no REPLACE (a second insert fails on the key).
    let mut expected = theirs.triggers.clone();
    expected.insert(("releases".to_owned(), "INSERT".to_owned()));
    expected.insert(("published_elsewhere".to_owned(), "INSERT".to_owned()));
    assert_eq!(ours.triggers, expected, "triggers (table, change)");
}
