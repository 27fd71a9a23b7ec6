//! The `sipas` command line on a real SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

use sipas_app::ports::Store;
use sipas_app::survey::codes::InvitationCode;
use sipas_server::store::{self, ConnectOptions};

fn sipas(url: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_sipas"))
        .args(args)
        .env("DATABASE_URL", url)
        .output()
        .expect("run sipas")
}

#[tokio::test]
async fn codes_are_printed_and_stored_hashed() {
    let db = common::sqlite_db();
    assert!(sipas(&db.url, &["demo"]).status.success());
    let out = db.dir.path().join("codes.csv");
    let out_arg = out.to_str().unwrap();
    let sheet = db.dir.path().join("codes.html");
    let output = sipas(
        &db.url,
        &[
            "codes",
            "--wave",
            "sipas-2026-demo",
            "--province",
            "79",
            "--stratum",
            "79-urban",
            "--psu",
            "ward-3",
            "--count",
            "5",
            "--out",
            out_arg,
            "--sheet",
            sheet.to_str().unwrap(),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut reader = csv::Reader::from_path(&out).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 5);
    let store = store::open(&db.url, &ConnectOptions::default())
        .await
        .unwrap();
    for row in &rows {
        let code = InvitationCode::parse(&row[0]).expect("printed code parses");
        assert!(row[1].ends_with(&format!("/s/{}", code.as_str())));
        let invitation = store
            .invitation(&sipas_server::invitations::hash(&code))
            .await
            .expect("stored by hash");
        assert_eq!(invitation.sample.province_code, "79");
        assert_eq!(invitation.sample.psu, "ward-3");
        assert!(!invitation.used);
    }
    // The plain code is nowhere in the database.
    let plain: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM invitation_codes WHERE code_hash = $1")
            .bind(InvitationCode::parse(&rows[0][0]).unwrap().as_str())
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(plain, 0);
}

#[test]
fn codes_for_an_unknown_province_are_refused_and_nothing_is_written() {
    let db = common::sqlite_db();
    assert!(sipas(&db.url, &["demo"]).status.success());
    let out = db.dir.path().join("codes.csv");
    // 02 (Hà Giang) no longer exists in the 2025 geography of the demo wave.
    let output = sipas(
        &db.url,
        &[
            "codes",
            "--wave",
            "sipas-2026-demo",
            "--province",
            "02",
            "--stratum",
            "s",
            "--psu",
            "p",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("province \"02\" does not exist"),
        "{stderr}"
    );
    assert!(!out.exists());
}
