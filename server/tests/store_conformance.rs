//! The storage conformance suite: every operation of the `Store` port, run the same way on
//! SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use sipas_app::domain::{Geography, SamplePoint, UnitKind, Wave};
use sipas_app::ports::{Store, StoreError};
use sipas_server::store::{self, ConnectOptions, OpenError};

fn reference_csv(name: &str) -> Vec<Vec<String>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data/geography")
        .join(name);
    let mut reader = csv::Reader::from_path(path).expect("reference CSV");
    reader
        .records()
        .map(|r| r.expect("record").iter().map(String::from).collect())
        .collect()
}

async fn story(url: &str) {
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
    };
    let newer = Wave {
        code: "w-2026".into(),
        title: "Đợt 2026".into(),
        year: 2026,
        geography: Geography::G2025,
    };
    db.create_wave(&older).await.expect("create older");
    db.create_wave(&newer).await.expect("create newer");
    assert_eq!(db.wave("w-2025").await.expect("read"), older);
    assert_eq!(
        db.waves().await.expect("list"),
        vec![newer.clone(), older.clone()]
    );
    match db.create_wave(&newer).await {
        Err(StoreError::Conflict(message)) => assert!(message.contains("w-2026")),
        other => panic!("duplicate wave accepted: {other:?}"),
    }
    assert!(matches!(db.wave("nope").await, Err(StoreError::NotFound)));

    // Demo data is idempotent.
    assert_eq!(sipas_server::demo::seed(&db).await.expect("seed"), 1);
    assert_eq!(sipas_server::demo::seed(&db).await.expect("seed again"), 0);

    // Questionnaires: published versions are immutable.
    let sipas = sipas_server::questionnaires::parse(sipas_server::questionnaires::SIPAS_2023)
        .expect("parse");
    assert_eq!(
        db.questionnaire("sipas-2023", 1)
            .await
            .expect("published by demo"),
        sipas
    );
    db.publish_questionnaire(&sipas)
        .await
        .expect("same content again is fine");
    let mut edited = sipas.clone();
    edited.title_en.push_str(" (edited)");
    assert!(matches!(
        db.publish_questionnaire(&edited).await,
        Err(StoreError::Conflict(_))
    ));
    edited.version = 2;
    db.publish_questionnaire(&edited)
        .await
        .expect("a new version");
    assert_eq!(db.questionnaire("sipas-2023", 2).await.expect("v2"), edited);
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
    db.add_invitations(&sample, "b1", &hashes)
        .await
        .expect("add");
    let invitation = db.invitation(&hashes[1]).await.expect("lookup");
    assert_eq!(
        (
            invitation.sample,
            invitation.batch.as_str(),
            invitation.used
        ),
        (sample.clone(), "b1", false)
    );
    let clash = vec![format!("{:064x}", 99), hashes[0].clone()];
    assert!(db.add_invitations(&sample, "b2", &clash).await.is_err());
    assert!(
        matches!(db.invitation(&clash[0]).await, Err(StoreError::NotFound)),
        "batch rolled back"
    );
    let mut elsewhere = sample.clone();
    elsewhere.province_code = "02".into(); // a 2004 code that is not a 2025 province
    assert!(
        db.add_invitations(&elsewhere, "b3", &[format!("{:064x}", 7)])
            .await
            .is_err()
    );

    // Data survives a restart; migrating again changes nothing.
    db.close().await;
    let reopened = store::open(url, &options).await.expect("reopen");
    assert_eq!(reopened.waves().await.expect("after restart").len(), 3);

    // A database migrated by a newer release is refused with a clear message.
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(9_999_i64)
    .bind("from the future")
    .bind(true)
    .bind(vec![0u8; 48])
    .bind(0_i64)
    .execute(reopened.pool())
    .await
    .expect("fake a newer migration");
    reopened.close().await;
    match store::open(url, &options).await {
        Err(err @ OpenError::NewerSchema { version: 9999 }) => {
            assert!(err.to_string().contains("newer release"), "{err}");
        }
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("a database from a newer release was accepted"),
    }
}

#[tokio::test]
async fn conformance_sqlite() {
    let db = common::sqlite_db();
    story(&db.url).await;
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
    story(&url).await;
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

#[test]
fn migration_folders_mirror_each_other() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let versions = |engine: &str| {
        let mut names: Vec<String> = std::fs::read_dir(root.join(engine))
            .expect("migration folder")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        names.sort();
        names
    };
    let sqlite = versions("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite,
        versions("postgres"),
        "migrations/sqlite and migrations/postgres differ"
    );
}
