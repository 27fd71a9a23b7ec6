//! Published releases are immutable on both engines: the store writes a version once with all
//! its cells, corrections are new versions with a changelog, four eyes are required, and the
//! database itself refuses UPDATE, DELETE, TRUNCATE and late cells.

use crate::common;

use sipas_app::domain::{Geography, QuestionnaireRef, Wave};
use sipas_app::ports::{Store, StoreError};
use sipas_app::staff::release::{NewRelease, ReleaseStore};
use sipas_server::store::{self, ConnectOptions};
use sipas_stats::estimate::estimate_all;
use sipas_stats::methodology::Methodology;
use sipas_stats::microdata::read_csv;

fn golden(name: &str) -> std::path::PathBuf {
    std::path::Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("../stats/golden")
    .join(name)
}

async fn story(url: &str, owner_url: Option<&str>) {
    // One connection: every statement runs on the connection that prepared it first (a NULL in
    // the first cell once fixed a parameter's type on PostgreSQL; see below).
    let db = store::open(
        url,
        &ConnectOptions {
            max_connections: 1,
            ..ConnectOptions::default()
        },
    )
    .await
    .expect("open and migrate");
    let sipas_2023 = sipas_server::services::questionnaires::parse(
        sipas_server::services::questionnaires::SIPAS_2023,
    )
    .expect("parse");
    common::publish(&db, &sipas_2023).await.expect("publish");
    common::create_wave(
        &db,
        &Wave {
            code: "sipas-2026".into(),
            title: "SIPAS 2026".into(),
            year: 2026,
            geography: Geography::G2025,
            questionnaire: Some(QuestionnaireRef {
                code: "sipas-2023".into(),
                version: 1,
            }),
            open_link: false,
            closed: false,
        },
    )
    .await
    .expect("wave");

    // Real results from the engine.
    let methodology_text = std::fs::read_to_string(golden("methodology.toml")).expect("toml");
    let methodology = Methodology::from_toml(&methodology_text).expect("methodology");
    let data = std::fs::read_to_string(golden("microdata.csv")).expect("data");
    let cells = estimate_all(
        &read_csv(data.as_bytes(), &methodology).expect("read"),
        &methodology,
    )
    .expect("estimate")
    .cells;
    let mut stored_cells = sipas_server::services::compute::release_cells(&cells);
    // Undefined in the first cell, defined in a later one, for every number column: each must
    // be stored as given (PostgreSQL once refused the later number, bound where a NULL had been).
    stored_cells[0].change = None;
    stored_cells[0].deff = None;
    stored_cells[0].rank = None;
    stored_cells[1].change = Some(0.0125);
    stored_cells[1].deff = Some(1.5);
    stored_cells[1].rank = Some(2);
    assert!(
        stored_cells
            .iter()
            .any(|c| c.rank.is_some() && c.tier.is_some())
    );
    let mut release = NewRelease {
        year: 2026,
        wave_code: "sipas-2026".into(),
        geography: Geography::G2025,
        title: "SIPAS 2026".into(),
        methodology: methodology_text.clone(),
        questionnaire_code: "sipas-2023".into(),
        questionnaire_version: 1,
        input_digest: "a".repeat(64),
        software_version: env!("CARGO_PKG_VERSION").into(),
        computed_by: "thu.statistician".into(),
        approved_by: "thu.statistician".into(),
        changelog: String::new(),
        cells: stored_cells.clone(),
        totals: "{}".into(),
        aggregates: "domain,kind,code,n,sum_w,sum_wy,sum_wd\n".into(),
        compared_with: None,
        computation: None,
        left_out: Vec::new(),
    };

    // Four eyes.
    match db
        .publish_release(&release, &|_: &i32| common::audit("release_published"))
        .await
    {
        Err(StoreError::Conflict(message)) => {
            assert!(
                message.en.contains("second person") && message.vi.contains("người thứ hai"),
                "{message:?}"
            )
        }
        other => panic!("one person published alone: {other:?}"),
    }
    release.approved_by = "lan.approver".into();
    assert_eq!(
        db.publish_release(&release, &|_: &i32| common::audit("release_published"))
            .await
            .expect("v1"),
        1
    );
    let (info, read) = db.release(2026, None).await.expect("read").expect("latest");
    assert_eq!(
        (info.version, info.cell_count),
        (1, stored_cells.len() as i64)
    );
    assert_eq!(info.methodology, methodology_text);
    assert_eq!(
        read, stored_cells,
        "cells come back exactly, in publication order"
    );

    // A correction is a new version with a reason; the first stays readable.
    match db
        .publish_release(&release, &|_: &i32| common::audit("release_published"))
        .await
    {
        Err(StoreError::Conflict(message)) => assert!(
            message.en.contains("v2") && message.vi.contains("v2"),
            "{message:?}"
        ),
        other => panic!("a correction without a changelog: {other:?}"),
    }
    release.changelog = "Province 24's weights used last year's frame; recomputed.".into();
    release.cells[0].estimate = Some(0.5);
    assert_eq!(
        db.publish_release(&release, &|_: &i32| common::audit("release_published"))
            .await
            .expect("v2"),
        2
    );
    let (latest, latest_cells) = db.release(2026, None).await.expect("read").expect("v2");
    assert_eq!(latest.version, 2);
    assert_eq!(latest_cells[0].estimate, Some(0.5));
    let (first, first_cells) = db.release(2026, Some(1)).await.expect("read").expect("v1");
    assert_eq!(first.version, 1);
    assert_eq!(first_cells, stored_cells);
    assert_eq!(db.releases().await.expect("list").len(), 2);
    assert!(db.release(2026, Some(3)).await.expect("read").is_none());
    assert!(db.release(2019, None).await.expect("read").is_none());

    // No SQL path changes a published release.
    let mut attempts = vec![
        // The figures published elsewhere are a record too.
        "UPDATE published_elsewhere SET sipas_percent = 99.9 WHERE year = 2024",
        "DELETE FROM published_elsewhere WHERE year = 2024",
        "UPDATE releases SET title = 'edited' WHERE year = 2026",
        "DELETE FROM releases WHERE year = 2026",
        "UPDATE release_cells SET estimate = 0.99 WHERE year = 2026",
        "DELETE FROM release_cells WHERE year = 2026 AND version = 1",
        "INSERT INTO release_cells (year, version, position, domain, subgroup, node, flag, note) \
         VALUES (2026, 1, 9999, 'late', '', 'sipas', 'ok', '')",
    ];
    // A new cell in a position of the release (all are taken).
    attempts.push(
        "INSERT INTO release_cells (year, version, position, domain, subgroup, node, flag, note) \
         VALUES (2026, 1, 0, 'late', '', 'sipas', 'ok', '')",
    );
    // Cells for a release that does not exist.
    attempts.push(
        "INSERT INTO release_cells (year, version, position, domain, subgroup, node, flag, note) \
         VALUES (2031, 1, 0, '01', '', 'sipas', 'ok', '')",
    );
    if db.engine() == "postgres" {
        attempts.push("TRUNCATE published_elsewhere");
        attempts.push(
            "INSERT INTO published_elsewhere SELECT year, geography, province_code, \
             province_name, 99.9, rank, ranked_of, note, source FROM published_elsewhere \
             WHERE year = 2024 ON CONFLICT (year, geography, province_code) \
             DO UPDATE SET sipas_percent = 99.9",
        );
        attempts.push("TRUNCATE release_cells");
        attempts.push("TRUNCATE releases CASCADE");
        attempts.push(
            "INSERT INTO release_cells (year, version, position, domain, subgroup, node, flag, \
             note) SELECT year, version, position, domain, subgroup, node, flag, 'edited' \
             FROM release_cells WHERE year = 2026 AND version = 1 \
             ON CONFLICT (year, version, domain, subgroup, node) DO UPDATE SET note = 'edited'",
        );
    } else {
        // REPLACE deletes without firing DELETE triggers: refused by the insert guards.
        attempts.push(
            "INSERT OR REPLACE INTO published_elsewhere SELECT year, geography, province_code, \
             province_name, 99.9, rank, ranked_of, note, source FROM published_elsewhere \
             WHERE year = 2024",
        );
        attempts.push(
            "INSERT OR REPLACE INTO releases SELECT year, version, wave_code, geography, \
             'forged', methodology, questionnaire_code, questionnaire_version, input_digest, \
             software_version, computed_by, approved_by, published_at, changelog, \
             cell_count + 1, totals, compared_year, compared_version, compared_reaggregated, \
             public_totals, aggregates, left_out \
             FROM releases WHERE year = 2026 AND version = 1",
        );
        attempts.push(
            "INSERT OR REPLACE INTO release_cells SELECT year, version, position, domain, \
             subgroup, node, n, df, 0.99, se, ci_low, ci_high, deff, n_eff, cv, flag, note, \
             rank, rank_best, rank_worst, rank_best_marginal, rank_worst_marginal, ranked_of, \
             tier, vs_national_difference, vs_national_se, vs_national_p, change, change_se, \
             change_df, change_p, vs_national_p_holm, change_p_holm FROM release_cells \
             WHERE year = 2026 AND version = 1 LIMIT 1",
        );
    }
    for &sql in &attempts {
        let err = sqlx::query(sql)
            .execute(db.pool())
            .await
            .err()
            .unwrap_or_else(|| panic!("{} accepted: {sql}", db.engine()));
        // The triggers refuse it, or (PostgreSQL's application role) the privileges do.
        let refused = err.to_string();
        assert!(
            refused.contains("cannot be changed") || refused.contains("permission denied"),
            "{}: {sql}: {err}",
            db.engine()
        );
    }
    if let Some(owner_url) = owner_url {
        owner_cannot_be_attacked_through_the_application_role(&db, owner_url, &attempts).await;
    } else {
        assert_eq!(
            db.published_records_guard().await.expect("guard"),
            store::PublishedRecordsGuard::FileOwner
        );
    }
    let (unchanged_info, unchanged) = db.release(2026, Some(1)).await.expect("read").expect("v1");
    assert_eq!(unchanged, stored_cells);
    assert_eq!(unchanged_info.title, "SIPAS 2026");
    assert!(db.release(2026, Some(0)).await.expect("read").is_none());

    // The "published elsewhere" series: exactly data/published/*.csv, apart from releases.
    let published = db.published_elsewhere().await.expect("published");
    let dir = std::path::Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("../data/published");
    let national = csv::Reader::from_path(dir.join("published_sipas_national.csv"))
        .expect("csv")
        .records()
        .count();
    let provincial = csv::Reader::from_path(dir.join("published_sipas_provincial.csv"))
        .expect("csv")
        .records()
        .count();
    assert_eq!(published.len(), national + provincial);
    let quang_ninh_2020 = published
        .iter()
        .find(|p| p.year == 2020 && p.province_code.as_deref() == Some("22"))
        .expect("Quảng Ninh 2020");
    assert_eq!(quang_ninh_2020.province_name, "Quảng Ninh");
    assert_eq!(quang_ninh_2020.sipas_percent, 95.76);
    assert_eq!(
        (quang_ninh_2020.rank, quang_ninh_2020.ranked_of),
        (Some(1), Some(63))
    );
    assert!(quang_ninh_2020.source.starts_with("https://"));
    let national_2024 = published
        .iter()
        .find(|p| p.year == 2024 && p.province_code.is_none())
        .expect("national 2024");
    assert_eq!(national_2024.sipas_percent, 83.94);
    assert_eq!(national_2024.geography, Geography::G2004);
    db.close().await;
}

/// PostgreSQL: the owner of the tables can switch their guards off (shown in a transaction
/// that is rolled back); the application's role, as `sipas migrate` grants it, cannot, by any
/// of the statements tried, and `sipas serve` accepts the one and refuses the other.
async fn owner_cannot_be_attacked_through_the_application_role(
    db: &store::SqlStore,
    owner_url: &str,
    attempts: &[&str],
) {
    let owner_only = [
        "ALTER TABLE releases DISABLE TRIGGER releases_are_immutable",
        "ALTER TABLE release_cells DISABLE TRIGGER USER",
        "ALTER TABLE published_elsewhere DISABLE TRIGGER published_elsewhere_is_immutable",
        "DROP TRIGGER releases_are_immutable ON releases",
        "DROP TRIGGER published_elsewhere_is_not_truncated ON published_elsewhere",
        "ALTER TABLE audit_log OWNER TO CURRENT_USER",
        "DROP TABLE audit_log",
        "ALTER TABLE releases RENAME TO releases_away",
        "CREATE OR REPLACE FUNCTION refuse_release_change() RETURNS trigger LANGUAGE plpgsql \
         AS $$ BEGIN RETURN NEW; END $$",
    ];
    let application_only = [
        // Replication mode skips ordinary triggers: superusers only.
        "SET session_replication_role = replica",
        // A temporary table named like ours would be looked up first by an unqualified name in
        // a function (the seal's count of cells, before migration 0018).
        "CREATE TEMP TABLE releases (year BIGINT, version BIGINT, cell_count BIGINT)",
        "INSERT INTO published_elsewhere (year, geography, province_code, province_name, \
         sipas_percent, note, source) VALUES (2021, '2004', '', '', 99.9, '', 'forged')",
        "UPDATE audit_log SET detail = 'edited'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "CREATE TRIGGER unguard BEFORE UPDATE ON releases FOR EACH ROW \
         EXECUTE FUNCTION refuse_release_change()",
        "CREATE TABLE releases_shadow (year BIGINT)",
        "DELETE FROM _sqlx_migrations",
    ];
    for sql in owner_only.iter().chain(&application_only) {
        let err = sqlx::query(sql)
            .execute(db.pool())
            .await
            .err()
            .unwrap_or_else(|| panic!("the application role was allowed: {sql}"));
        let refused = err.to_string();
        assert!(
            refused.contains("must be owner") || refused.contains("permission denied"),
            "{sql}: {err}"
        );
    }
    assert_eq!(
        db.published_records_guard().await.expect("guard"),
        store::PublishedRecordsGuard::Enforced
    );

    // As the owner the same statements work (rolled back): this is what the roles prevent.
    let owner = store::open(owner_url, &ConnectOptions::default())
        .await
        .expect("owner");
    let mut tx = owner.pool().begin().await.expect("begin");
    for sql in owner_only {
        sqlx::query(sql)
            .execute(&mut *tx)
            .await
            .unwrap_or_else(|err| panic!("the owner could not: {sql}: {err}"));
    }
    tx.rollback().await.expect("rollback");
    // The owner is still held by the triggers for plain statements.
    for &sql in attempts {
        let err = sqlx::query(sql)
            .execute(owner.pool())
            .await
            .err()
            .unwrap_or_else(|| panic!("the owner changed a release: {sql}"));
        assert!(
            err.to_string().contains("cannot be changed"),
            "{sql}: {err}"
        );
    }
    match owner.published_records_guard().await.expect("guard") {
        store::PublishedRecordsGuard::Weak(reasons) => {
            for table in store::APPEND_ONLY.iter().chain(&store::READ_ONLY) {
                assert!(
                    reasons.contains(&format!(
                        "{table}: the role owns it (it can disable or drop its triggers)"
                    )),
                    "{table}: {reasons:?}"
                );
            }
        }
        other => panic!("the owner passed the start-up check: {other:?}"),
    }
    owner.close().await;
}

#[tokio::test]
async fn releases_are_immutable_sqlite() {
    let db = common::sqlite_db();
    story(&db.url, None).await;
}

#[tokio::test]
async fn releases_are_immutable_postgres() {
    let Some((url, name)) = common::postgres_db().await else {
        return;
    };
    story(&url, Some(&common::postgres_owner_url(&name))).await;
    common::drop_postgres_db(&name).await;
}
