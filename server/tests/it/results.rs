//! From responses to a published release over HTTP, on both engines: a statistician computes a
//! wave in the background, the draft is reviewed, returned with a reason, submitted again,
//! approved by a second person and published; `sipas verify` on the release's public files
//! reproduces every published number (and catches a forged one); the full totals of accredited
//! access give the unrounded numbers; nothing changes a published release; a job stopped by a
//! restart is marked failed.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::StatusCode;
use common::browser::Browser;
use sipas_app::domain::{Geography, QuestionnaireRef, Wave};
use sipas_app::staff::Role;
use sipas_app::staff::port::NewUser;
use sipas_app::staff::release::ReleaseStore;
use sipas_app::staff::review::{ComputationStatus, ReviewStore};
use sipas_app::staff::{AccountStore, FieldStore};

const PASSWORD: &str = "mật khẩu thử nghiệm 2026";
const WAVE: &str = "sipas-2027-test";

struct World {
    app: axum::Router,
    store: std::sync::Arc<sipas_server::store::SqlStore>,
}

/// The built-in methodology, rows by subgroup included: the draft and the release keep only
/// the province and national rows, so the public totals reproduce all of them.
/// The built-in methodology without the duplicate check: the forms here answer alike within a
/// commune on purpose ([`commune_uniform`]: one answer vector per commune, told apart by sex
/// and age), which the check would rightly flag (tests/it/quality.rs tests it).
fn sipas_methodology() -> String {
    let text = sipas_server::services::questionnaires::SIPAS_2023_METHODOLOGY;
    assert!(text.contains("subgroups = [\"sex\", \"age_band\", \"area\"]"));
    assert!(text.contains("duplicates = true"));
    text.replace("duplicates = true", "duplicates = false")
}

fn items() -> Vec<String> {
    sipas_stats::methodology::Methodology::from_toml(
        sipas_server::services::questionnaires::SIPAS_2023_METHODOLOGY,
    )
    .expect("methodology")
    .compile()
    .expect("tree")
    .items
}

/// The wave's frame (three provinces) and its paper forms.
fn this_year() -> (
    sipas_app::staff::frame::Frame,
    Vec<sipas_app::staff::port::PaperRecord>,
) {
    let frame = common::fixtures::frame(&["01".into(), "79".into(), "48".into()], Geography::G2025);
    let forms = commune_uniform(common::fixtures::forms(&frame, &items(), 2027));
    (frame, forms)
}

/// Every respondent of a commune gives the same answer to an item (2 or 5, by commune and
/// item): communes differ, so the intervals are not degenerate.
fn commune_uniform(
    mut forms: Vec<sipas_app::staff::port::PaperRecord>,
) -> Vec<sipas_app::staff::port::PaperRecord> {
    let items = items();
    for form in &mut forms {
        let sipas_app::staff::port::PaperTarget::Point { psu, .. } = &form.target else {
            continue;
        };
        let commune: usize = psu.bytes().map(usize::from).sum();
        for (k, item) in items.iter().enumerate() {
            let answer = if (commune + k).is_multiple_of(3) {
                2
            } else {
                5
            };
            form.answers.insert(item.clone(), answer);
        }
        let canonical = serde_json::to_string(&form.answers).expect("json");
        form.content_hash = sipas_app::survey::codes::sha256_hex(canonical.as_bytes());
    }
    forms
}

async fn world(url: &str) -> World {
    let store = common::store_on(url).await;
    sipas_server::services::demo::seed(store.as_ref())
        .await
        .expect("seed");
    let hash = sipas_server::services::accounts::hash_password(PASSWORD.into())
        .await
        .expect("hash");
    for (username, role) in [
        ("stats", Role::Statistician),
        ("stats2", Role::Statistician),
        ("boss", Role::Approver),
        ("viewer", Role::Viewer),
        ("admin", Role::Admin),
    ] {
        store
            .create_user(
                &NewUser {
                    username: username.into(),
                    display_name: username.into(),
                    role,
                    province: None,
                    password_hash: hash.clone(),
                    research: None,
                    communes: Vec::new(),
                },
                &common::audit("account_created"),
            )
            .await
            .expect("user");
    }
    // A wave of two provinces with its frame and paper forms.
    common::create_wave(
        store.as_ref(),
        &Wave {
            code: WAVE.into(),
            title: "SIPAS 2027".into(),
            year: 2027,
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
    let (frame, forms) = this_year();
    store
        .replace_frame(WAVE, &frame, &common::audit("frame_uploaded"))
        .await
        .expect("frame");
    let items = items();
    common::fixtures::import_paper(&store, WAVE, &forms).await;
    // Last year, on the 63-province map: 01 stays Hà Nội, 74 and 77 went into 79 (Thành phố
    // Hồ Chí Minh), 49 into 48 (Đà Nẵng).
    let last_year = Wave {
        code: "sipas-2026-old-map".into(),
        title: "SIPAS 2026".into(),
        year: 2026,
        geography: Geography::G2004,
        questionnaire: Some(QuestionnaireRef {
            code: "sipas-2023".into(),
            version: 1,
        }),
        open_link: false,
        closed: false,
    };
    common::create_wave(store.as_ref(), &last_year)
        .await
        .expect("last year's wave");
    let old_provinces: Vec<String> = ["01", "79", "74", "77", "48", "49"]
        .into_iter()
        .map(String::from)
        .collect();
    let old_frame = common::fixtures::frame(&old_provinces, Geography::G2004);
    store
        .replace_frame(
            &last_year.code,
            &old_frame,
            &common::audit("frame_uploaded"),
        )
        .await
        .expect("old frame");
    let old_forms = commune_uniform(common::fixtures::forms(&old_frame, &items, 2026));
    common::fixtures::import_paper(&store, &last_year.code, &old_forms).await;
    sipas_server::services::demo::publish_demo_with(
        store.as_ref(),
        &last_year,
        "",
        &sipas_methodology(),
    )
    .await
    .expect("last year published");
    World {
        app: common::application(store.clone(), sipas_server::startup::Settings::in_process())
            .router(),
        store,
    }
}

async fn signed_in(world: &World, username: &str) -> Browser {
    let mut browser = Browser::new(&world.app);
    let reply = browser.sign_in(username, PASSWORD).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{username} signs in");
    browser
}

/// Waits for the background job to leave "running".
async fn finished(world: &World, id: i64) -> ComputationStatus {
    for _ in 0..600 {
        let status = world
            .store
            .computation(id)
            .await
            .expect("computation")
            .summary
            .status;
        if status != ComputationStatus::Running {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("computation {id} still running after 30 s");
}

/// The index row of `domain` in a results table.
fn row(rows: &[BTreeMap<String, String>], domain: &str) -> BTreeMap<String, String> {
    rows.iter()
        .find(|r| r["domain"] == domain && r["subgroup"].is_empty() && r["node"] == "sipas")
        .cloned()
        .expect("row")
}

fn csv_rows(bytes: &[u8]) -> Vec<BTreeMap<String, String>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::Reader::from_reader(bytes);
    let headers = reader.headers().expect("headers").clone();
    reader
        .records()
        .map(|r| {
            let r = r.expect("row");
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

/// `owner_url`: the schema owner's connection (PostgreSQL), for the step that breaks the
/// schema under the running application (its own role cannot).
async fn story(url: &str, owner_url: Option<&str>) {
    let world = world(url).await;
    let owner = match owner_url {
        Some(owner_url) => sipas_server::store::open(owner_url, &Default::default())
            .await
            .expect("owner"),
        None => sipas_server::store::open(url, &Default::default())
            .await
            .expect("second connection"),
    };
    let mut stats = signed_in(&world, "stats").await;
    let mut stats2 = signed_in(&world, "stats2").await;
    let mut boss = signed_in(&world, "boss").await;
    let mut viewer = signed_in(&world, "viewer").await;

    // Drafts are embargoed: a viewer cannot read results.
    assert_eq!(
        viewer
            .get(&format!("/staff/waves/{WAVE}/results"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    let page = stats.get(&format!("/staff/waves/{WAVE}/results")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Bắt đầu tính"), "{}", page.body);
    let started = stats
        .post(
            &format!("/staff/waves/{WAVE}/results"),
            &[("methodology", &sipas_methodology())],
        )
        .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let location = started.location.expect("location");
    let id: i64 = location
        .strip_prefix("/staff/computations/")
        .and_then(|s| s.parse().ok())
        .expect("computation id");
    assert_eq!(finished(&world, id).await, ComputationStatus::Draft);
    let computation = world.store.computation(id).await.expect("draft");
    assert!(!computation.cells.is_empty());
    assert!(
        computation.cells.iter().all(|c| c.subgroup.is_empty()),
        "no rows by subgroup in a draft (nor so in its release)"
    );
    assert_eq!(computation.report.weights.len(), 3);
    assert_eq!(computation.input_digest.len(), 64);
    // Compared with last year on today's map.
    assert_eq!(
        computation.report.compared_with,
        Some(sipas_app::staff::release::ComparedWith {
            year: 2026,
            version: 1,
            reaggregated: true
        })
    );
    assert!(
        computation
            .cells
            .iter()
            .any(|c| c.domain == "79" && c.node == "sipas" && c.change.is_some())
    );

    // The draft page: the index per province with intervals, the weights report, warnings.
    let draft = stats.get(&location).await;
    assert_eq!(draft.status, StatusCode::OK);
    for expected in [
        "Bản nháp",
        "Hà Nội",
        "Báo cáo trọng số",
        "Trình phê duyệt",
        "Khoảng thứ hạng",
    ] {
        assert!(draft.body.contains(expected), "{expected}:\n{}", draft.body);
    }
    let detail = stats.get(&format!("{location}?domain=79")).await;
    assert!(
        detail.body.contains("<code>access</code>"),
        "{}",
        detail.body
    );

    // Only the statistician who computed it submits; an approver cannot approve a draft.
    assert_eq!(
        stats2.post(&format!("{location}/submit"), &[]).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        boss.post(&format!("{location}/approve"), &[]).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        stats.post(&format!("{location}/submit"), &[]).await.status,
        StatusCode::SEE_OTHER
    );
    // A statistician cannot approve (role), not even someone else's.
    assert_eq!(
        stats2
            .post(&format!("{location}/approve"), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // Returned with a reason, which is kept as a comment; submitted again; approved.
    let returned = boss
        .post(
            &format!("{location}/return"),
            &[("body", "Kiểm tra lại trọng số của tỉnh 48.")],
        )
        .await;
    assert_eq!(returned.status, StatusCode::SEE_OTHER);
    assert_eq!(
        world.store.computation(id).await.unwrap().summary.status,
        ComputationStatus::Draft
    );
    assert!(
        stats
            .get(&location)
            .await
            .body
            .contains("Kiểm tra lại trọng số")
    );
    assert_eq!(
        stats
            .post(
                &format!("{location}/comment"),
                &[("body", "Đã kiểm tra: đúng.")]
            )
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(world.store.comments(id).await.unwrap().len(), 2);
    assert_eq!(
        stats.post(&format!("{location}/submit"), &[]).await.status,
        StatusCode::SEE_OTHER
    );
    // Approving is asked first (a page that posts again with confirm=yes); nothing changes.
    let asked = boss.post(&format!("{location}/approve"), &[]).await;
    assert_eq!(asked.status, StatusCode::OK);
    assert!(
        asked.body.contains("Phê duyệt kết quả") && asked.body.contains("name=\"confirm\""),
        "{}",
        asked.body
    );
    assert!(asked.body.contains("name=\"confirm\" value=\"yes\""));
    assert_eq!(
        world.store.computation(id).await.expect("c").summary.status,
        ComputationStatus::Submitted
    );
    assert_eq!(
        boss.post(&format!("{location}/approve"), &[("confirm", "yes")])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    // Four eyes hold whatever the SQL path: the database refuses the computer as approver.
    let started_by = world
        .store
        .computation(id)
        .await
        .unwrap()
        .summary
        .started_by_id;
    assert!(
        sqlx::query("UPDATE computations SET approved_by = $1 WHERE id = $2")
            .bind(started_by)
            .bind(id)
            .execute(world.store.pool())
            .await
            .is_err()
    );

    // Publishing needs the confirmation; then it is v1 of 2027.
    assert_eq!(
        boss.post(&format!("{location}/publish"), &[("title", "SIPAS 2027")])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert!(world.store.release(2027, None).await.unwrap().is_none());
    // The wave is still collecting: publishing needs that acknowledged too, and says so.
    let open = boss
        .post(
            &format!("{location}/publish"),
            &[("title", "SIPAS 2027"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(open.status, StatusCode::CONFLICT);
    assert!(open.body.contains("vẫn đang thu thập"), "{}", open.body);
    assert!(world.store.release(2027, None).await.unwrap().is_none());
    let published = boss
        .post(
            &format!("{location}/publish"),
            &[
                ("title", "SIPAS 2027"),
                ("confirm", "yes"),
                ("open_ack", "yes"),
            ],
        )
        .await;
    assert_eq!(
        published.status,
        StatusCode::SEE_OTHER,
        "{}",
        published.body
    );
    // Once published, the page says so, not that nothing is public yet.
    let page = boss.get(&location).await;
    assert!(
        page.body.contains("Kết quả đã công bố của lần tính này")
            && !page.body.contains("Chưa có gì được công khai"),
        "{}",
        page.body
    );
    let (info, cells) = world
        .store
        .release(2027, None)
        .await
        .unwrap()
        .expect("released");
    assert!(
        info.changelog.contains("còn đang thu thập")
            && info.changelog.contains(&sipas_app::staff::pages::day(
                sipas_app::i18n::Locale::Vi,
                Some(&sipas_app::api::today_iso()),
                ("", "")
            )),
        "{}",
        info.changelog
    );
    assert_eq!(
        (
            info.version,
            info.computed_by.as_str(),
            info.approved_by.as_str()
        ),
        (1, "stats", "boss")
    );
    assert_eq!(info.input_digest, computation.input_digest);
    assert_eq!(cells, computation.cells);
    let summary = world.store.computation(id).await.unwrap().summary;
    assert_eq!(summary.status, ComputationStatus::Published);
    assert_eq!(summary.release, Some((2027, 1)));
    // Published is final: no second publication, approval or return of the same draft.
    for (verb, form) in [
        (
            "publish",
            vec![
                ("title", "SIPAS 2027"),
                ("confirm", "yes"),
                ("changelog", "again"),
            ],
        ),
        ("approve", vec![]),
        ("return", vec![("body", "undo")]),
    ] {
        let reply = boss.post(&format!("{location}/{verb}"), &form).await;
        assert_eq!(reply.status, StatusCode::CONFLICT, "{verb}: {}", reply.body);
    }
    assert_eq!(
        world
            .store
            .releases()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.year == 2027)
            .count(),
        1
    );

    // Every step is in the audit log, with who did it.
    let audit: Vec<(String, String)> =
        sqlx::query_as("SELECT actor, action FROM audit_log ORDER BY id")
            .fetch_all(world.store.pool())
            .await
            .unwrap();
    for step in [
        ("stats", "computation_started"),
        ("stats", "computation_submitted"),
        ("boss", "computation_returned"),
        ("boss", "computation_approved"),
        ("boss", "release_published"),
    ] {
        assert!(
            audit.contains(&(step.0.to_owned(), step.1.to_owned())),
            "{step:?} in {audit:?}"
        );
    }

    // Open data: download, recompute, compare.
    let mut public = Browser::new(&world.app);
    let latest = public.get("/du-lieu/2027/latest/results.csv").await;
    assert_eq!(latest.status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        latest.location.as_deref(),
        Some("/du-lieu/2027/v1/results.csv")
    );
    let results = public.get("/du-lieu/2027/v1/results.csv").await;
    assert_eq!(results.status, StatusCode::OK);
    assert!(results.bytes.starts_with(b"\xEF\xBB\xBF"), "BOM");
    assert_eq!(
        results.headers.get("access-control-allow-origin").unwrap(),
        "*"
    );
    // The public aggregates: per province and the nation, no commune, no subgroup.
    let aggregates = public.get("/du-lieu/2027/v1/aggregates.csv").await;
    assert_eq!(aggregates.status, StatusCode::OK);
    let aggregate_rows = csv_rows(&aggregates.bytes);
    assert!(
        aggregate_rows
            .iter()
            .all(|r| ["01", "48", "79", "national"].contains(&r["domain"].as_str())),
        "nothing per commune or subgroup"
    );
    assert_eq!(
        public.get("/du-lieu/2027/v1/totals.json").await.status,
        StatusCode::NOT_FOUND,
        "per-commune totals are for accredited researchers only"
    );
    // A published file never changes: it carries an ETag, and a client that has it gets 304.
    let etag = results
        .headers
        .get("etag")
        .expect("etag")
        .to_str()
        .unwrap()
        .to_owned();
    {
        // The ETag is the content's SHA-256 (a later platform may write the file anew).
        use sha2::Digest;
        let digest = sha2::Sha256::digest(&results.bytes);
        assert_eq!(
            etag,
            format!("\"{}\"", sipas_app::survey::codes::hex(&digest[..16]))
        );
    }
    {
        use tower::ServiceExt;
        let again = world
            .app
            .clone()
            .oneshot(
                axum::http::Request::get("/du-lieu/2027/v1/results.csv")
                    .header("if-none-match", &etag)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        // Compressed once, like the pages: the Brotli copy is its own representation (its
        // own ETag) and decodes to exactly the published bytes; the workbook too.
        for file in ["results.csv", "results.xlsx"] {
            let reply = world
                .app
                .clone()
                .oneshot(
                    axum::http::Request::get(format!("/du-lieu/2027/v1/{file}"))
                        .header("accept-encoding", "gzip, br")
                        .body(axum::body::Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(reply.headers()["content-encoding"], "br", "{file}");
            let br_etag = reply.headers()["etag"].to_str().unwrap().to_owned();
            assert!(br_etag.ends_with("-br\""), "{br_etag}");
            let compressed = axum::body::to_bytes(reply.into_body(), usize::MAX)
                .await
                .unwrap();
            let mut plain = Vec::new();
            brotli::BrotliDecompress(&mut compressed.as_ref(), &mut plain).unwrap();
            let published = public.get(&format!("/du-lieu/2027/v1/{file}")).await.bytes;
            assert_eq!(plain, published, "{file}");
            if file == "results.csv" {
                assert_eq!(br_etag, format!("{}-br\"", etag.trim_end_matches('"')));
            }
        }
    }
    let methodology = public.get("/du-lieu/2027/v1/methodology.toml").await;
    let readme = public.get("/du-lieu/2027/v1/README.txt").await;
    assert!(readme.body.contains(&info.input_digest));
    assert!(
        readme
            .body
            .contains("sipas verify FOLDER --previous PREVIOUS.csv")
    );
    assert!(
        readme.body.contains(
            "/du-lieu/2026/v1/results-2025-map.csv (that year was on the 63-province map"
        ),
        "{}",
        readme.body
    );
    assert_eq!(info.compared_with, computation.report.compared_with);
    // The SHA-256 of what is served, in SHA256SUMS and the README.
    let sums = public.get("/du-lieu/2027/v1/SHA256SUMS").await.body;
    for (file, bytes) in [
        ("results.csv", &results.bytes),
        ("aggregates.csv", &aggregates.bytes),
        ("methodology.toml", &methodology.bytes),
    ] {
        use sha2::Digest;
        let line = format!(
            "{}  {file}",
            sipas_app::survey::codes::hex(&sha2::Sha256::digest(bytes))
        );
        assert!(sums.contains(&line), "{line} in {sums}");
        assert!(readme.body.contains(&line), "{line} in the README");
    }
    let published_rows = csv_rows(&results.bytes);
    assert!(published_rows.iter().any(|r| !r["change_p"].is_empty()));
    // Published as rounded: four decimals of a proportion (0.01 points), deff two.
    for r in &published_rows {
        for (column, decimals) in [("estimate", 4), ("se", 4), ("ci_low", 4), ("deff", 2)] {
            let text = &r[column];
            let places = text.split_once('.').map_or(0, |(_, f)| f.len());
            assert!(places <= decimals, "{column} {text}");
        }
    }

    // Download, verify: a person with only the public files (and last year's table on today's
    // map, which the README names) reproduces every published number.
    let dir = tempfile::tempdir().unwrap();
    let download = |name: &str, bytes: &[u8]| {
        // As a browser saves them: sipas-2027-v1-{file}.
        std::fs::write(dir.path().join(format!("sipas-2027-v1-{name}")), bytes).unwrap();
    };
    download("results.csv", &results.bytes);
    download("aggregates.csv", &aggregates.bytes);
    download("methodology.toml", &methodology.bytes);
    let previous = dir.path().join("previous.csv");
    std::fs::write(
        &previous,
        &public
            .get("/du-lieu/2026/v1/results-2025-map.csv")
            .await
            .bytes,
    )
    .unwrap();
    let report =
        sipas_server::services::verify::verify(dir.path(), Some(&previous), false).expect("verify");
    assert!(report.ok(), "{}", report.render());
    assert_eq!(report.rows, published_rows.len());
    assert!(report.reproduced > 10 * report.rows, "{}", report.render());
    // Without last year's table the change columns cannot be reproduced: reported by column.
    let without = sipas_server::services::verify::verify(dir.path(), None, false).expect("verify");
    assert!(!without.ok());
    assert!(
        without
            .mismatches
            .iter()
            .all(|m| m.column.starts_with("change"))
    );
    // A forged number is caught, by line and column.
    let original = String::from_utf8(results.bytes.to_vec()).unwrap();
    let forged: String = original
        .split_inclusive('\n')
        .map(|line| {
            if line.starts_with("79,,sipas,") {
                line.replacen(
                    &format!(",{},", row(&published_rows, "79")["estimate"]),
                    ",0.9999,",
                    1,
                )
            } else {
                line.to_owned()
            }
        })
        .collect();
    assert_ne!(forged, original);
    download("results.csv", forged.as_bytes());
    let caught =
        sipas_server::services::verify::verify(dir.path(), Some(&previous), false).expect("verify");
    assert!(
        caught.mismatches.iter().any(|m| m.domain == "79"
            && m.node == "sipas"
            && m.column == "estimate"
            && m.published == "0.9999"),
        "{}",
        caught.render()
    );
    download("results.csv", &results.bytes);
    // A forged aggregate is caught twice: its province's numbers and the nation's sums.
    let aggregates_text = String::from_utf8(aggregates.bytes.to_vec()).unwrap();
    let forged_aggregates: String = aggregates_text
        .split_inclusive('\n')
        .enumerate()
        .map(|(i, line)| {
            if i > 0 && line.starts_with("79,item,") {
                // Double the weighted sum of y of each of 79's items.
                let mut fields: Vec<String> =
                    line.trim_end().split(',').map(str::to_owned).collect();
                let header: Vec<&str> = aggregates_text
                    .lines()
                    .next()
                    .unwrap()
                    .trim_start_matches('\u{feff}')
                    .split(',')
                    .collect();
                let at = header
                    .iter()
                    .position(|h| *h == "sum_wy")
                    .expect("sum_wy column");
                let value: f64 = fields[at].parse().unwrap();
                fields[at] = format!("{}", value * 2.0);
                format!("{}\n", fields.join(","))
            } else {
                line.to_owned()
            }
        })
        .collect();
    assert_ne!(forged_aggregates, aggregates_text);
    download("aggregates.csv", forged_aggregates.as_bytes());
    let caught =
        sipas_server::services::verify::verify(dir.path(), Some(&previous), false).expect("verify");
    assert!(
        caught
            .mismatches
            .iter()
            .any(|m| m.domain == "79" && m.column == "estimate"),
        "{}",
        caught.render()
    );
    assert!(
        caught
            .mismatches
            .iter()
            .any(|m| m.domain == "national" && m.column == "aggregates"),
        "{}",
        caught.render()
    );
    download("aggregates.csv", &aggregates.bytes);
    // Two files that could be the results: refused rather than guessed.
    std::fs::write(dir.path().join("results.csv"), &results.bytes).unwrap();
    let ambiguous = sipas_server::services::verify::verify(dir.path(), Some(&previous), false);
    assert!(
        matches!(
            ambiguous,
            Err(sipas_server::services::verify::VerifyError::Ambiguous { .. })
        ),
        "{ambiguous:?}"
    );
    std::fs::remove_file(dir.path().join("results.csv")).unwrap();
    // Last year's release verifies too, on its own map and on today's.
    let old = tempfile::tempdir().unwrap();
    for file in [
        "results.csv",
        "aggregates.csv",
        "methodology.toml",
        "results-2025-map.csv",
        "aggregates-2025-map.csv",
    ] {
        let got = public.get(&format!("/du-lieu/2026/v1/{file}")).await;
        assert_eq!(got.status, StatusCode::OK, "{file}");
        std::fs::write(old.path().join(file), &got.bytes).unwrap();
    }
    for map_2025 in [false, true] {
        let report =
            sipas_server::services::verify::verify(old.path(), None, map_2025).expect("verify");
        assert!(
            report.ok(),
            "2026 (map 2025: {map_2025}): {}",
            report.render()
        );
    }

    // The full totals (accredited access): a statistician downloads them, each download is
    // logged, a viewer cannot; `sipas compute` on them gives the unrounded numbers, of which
    // the published ones are the rounding.
    assert!(published_rows.iter().all(|r| r["subgroup"].is_empty()));
    assert_eq!(
        viewer
            .get("/staff/releases/2027/v1/totals.json")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let download = stats.get("/staff/releases/2027/v1/totals.json").await;
    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(download.headers["cache-control"], "no-store");
    let full = download.body;
    assert_eq!(
        stats
            .get("/staff/releases/2027/v9/totals.json")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let downloads: Vec<(String, String)> = sqlx::query_as(
        "SELECT actor, detail FROM audit_log WHERE action = 'release_totals_downloaded' ORDER BY id",
    )
    .fetch_all(world.store.pool())
    .await
    .unwrap();
    assert_eq!(
        downloads,
        vec![(
            "stats".to_owned(),
            "SIPAS 2027 v1, tổng số liệu đầy đủ".to_owned()
        )]
    );
    {
        use sha2::Digest;
        assert_eq!(
            sipas_app::survey::codes::hex(&sha2::Sha256::digest(full.as_bytes())),
            info.input_digest,
            "the input digest is the SHA-256 of the full totals"
        );
    }
    std::fs::write(dir.path().join("totals.json"), &full).unwrap();
    std::fs::write(dir.path().join("methodology.toml"), &methodology.bytes).unwrap();
    let out_full = dir.path().join("check-full.csv");
    sipas_server::services::compute::run(&sipas_server::services::compute::Request {
        input: sipas_server::services::compute::Input::Totals(&dir.path().join("totals.json")),
        methodology: &dir.path().join("methodology.toml"),
        previous: None,
        out: &out_full,
        write_totals: None,
        non_probability: false,
        keep_excluded: false,
    })
    .expect("recompute from the full totals");
    // They also give the rows by subgroup, which only the Ministry holds.
    let (by_subgroup, whole): (Vec<_>, Vec<_>) = csv_rows(&std::fs::read(&out_full).unwrap())
        .into_iter()
        .partition(|r| !r["subgroup"].is_empty());
    assert!(!by_subgroup.is_empty());
    assert_eq!(whole.len(), published_rows.len());
    for (full_row, published) in whole.iter().zip(&published_rows) {
        assert_eq!(
            (&full_row["domain"], &full_row["node"]),
            (&published["domain"], &published["node"])
        );
        for column in ["estimate", "se"] {
            let (a, b): (f64, f64) = (
                full_row[column].parse().unwrap(),
                published[column].parse().unwrap(),
            );
            // The mean of provinces' SE is derived from the rounded provinces' SEs.
            let tolerance = if published["domain"] == "national_mean" {
                2e-4
            } else {
                5.1e-5
            };
            assert!((a - b).abs() <= tolerance, "{column} {a} {b}");
        }
    }

    // Accredited access made real: an administrator creates a researcher with an approved
    // project, an expiry date and the releases it names; the conditions of use come first;
    // then exactly those releases, each download logged with the project.
    let mut admin = signed_in(&world, "admin").await;
    let researcher_form = |expires: &'static str, releases: &'static str| {
        vec![
            ("username", "nghien.cuu"),
            ("display_name", "Nhà nghiên cứu"),
            ("role", "researcher"),
            ("password", PASSWORD),
            ("project", "Sự hài lòng ở vùng núi phía Bắc"),
            ("approval", "45/QĐ-BNV"),
            ("expires_on", expires),
            ("releases", releases),
        ]
    };
    let past = admin
        .post("/staff/users", &researcher_form("2020-01-01", "2027 v1"))
        .await;
    assert_eq!(past.status, StatusCode::BAD_REQUEST);
    assert!(past.body.contains("expires_on"), "{}", past.body);
    // A release not (yet) published cannot be approved: a typo, or a later version nobody
    // approved.
    let unpublished = admin
        .post(
            "/staff/users",
            &researcher_form("2099-12-31", "2027 v1, 2027 v2"),
        )
        .await;
    assert_eq!(unpublished.status, StatusCode::BAD_REQUEST);
    assert!(
        unpublished.body.contains("2027 v2 chưa được công bố"),
        "{}",
        unpublished.body
    );
    let created = admin
        .post("/staff/users", &researcher_form("2099-12-31", "2027 v1"))
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let mut researcher = signed_in(&world, "nghien.cuu").await;
    let home = researcher.get("/staff").await;
    assert_eq!(home.location.as_deref(), Some("/staff/conditions"));
    let early = researcher.get("/staff/releases/2027/v1/totals.json").await;
    assert_eq!(early.status, StatusCode::FORBIDDEN);
    assert!(early.body.contains("điều kiện sử dụng"), "{}", early.body);
    let conditions = researcher.get("/staff/conditions").await;
    assert!(conditions.body.contains("Không tìm cách nhận diện"));
    let accepted = researcher
        .post("/staff/conditions", &[("accept", "yes")])
        .await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER);
    let home = researcher.get("/staff").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(
        home.body
            .contains("href=\"/staff/releases/2027/v1/totals.json\"")
    );
    let got = researcher.get("/staff/releases/2027/v1/totals.json").await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body, full);
    assert_eq!(got.headers["cache-control"], "no-store");
    // The log cannot be written (the table is gone): nothing is given unlogged.
    sqlx::query("ALTER TABLE audit_log RENAME TO audit_log_away")
        .execute(owner.pool())
        .await
        .unwrap();
    let unlogged = researcher.get("/staff/releases/2027/v1/totals.json").await;
    sqlx::query("ALTER TABLE audit_log_away RENAME TO audit_log")
        .execute(owner.pool())
        .await
        .unwrap();
    assert_eq!(unlogged.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(!unlogged.body.contains("\"strata\""), "no totals given");
    let other = researcher.get("/staff/releases/2026/v1/totals.json").await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    assert!(
        other.body.contains("không có trong phê duyệt"),
        "{}",
        other.body
    );
    // Nothing else of the workspace: no drafts, no monitoring.
    for path in [
        format!("/staff/waves/{WAVE}/results"),
        format!("/staff/waves/{WAVE}/monitor"),
    ] {
        assert_eq!(
            researcher.get(&path).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let logged: Vec<(String, String)> = sqlx::query_as(
        "SELECT actor, detail FROM audit_log WHERE actor = 'nghien.cuu' ORDER BY id",
    )
    .fetch_all(world.store.pool())
    .await
    .unwrap();
    assert!(
        logged.iter().any(|(_, d)| d
            == "SIPAS 2027 v1, tổng số liệu đầy đủ, dự án Sự hài lòng ở vùng núi phía Bắc (45/QĐ-BNV)"),
        "{logged:?}"
    );
    assert!(
        logged.iter().any(|(_, d)| d.starts_with("dự án:")),
        "conditions accepted"
    );
    // An approval that has expired downloads nothing.
    world
        .store
        .create_user(
            &NewUser {
                username: "het.han".into(),
                display_name: "Hết hạn".into(),
                role: Role::Researcher,
                province: None,
                password_hash: sipas_server::services::accounts::hash_password(PASSWORD.into())
                    .await
                    .unwrap(),
                research: Some(sipas_app::staff::research::ResearchAccess {
                    project: "Cũ".into(),
                    approval: "1/QĐ".into(),
                    expires_on: "2020-12-31".into(),
                    releases: vec![(2027, 1)],
                    conditions_accepted_at: Some("2020-01-01T00:00:00Z".into()),
                }),
                communes: Vec::new(),
            },
            &common::audit("account_created"),
        )
        .await
        .unwrap();
    let mut expired = signed_in(&world, "het.han").await;
    let refused = expired.get("/staff/releases/2027/v1/totals.json").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("hết hạn"), "{}", refused.body);

    // Last year on today's map: 74 and 77 are inside 79, 49 inside 48; the nation is unchanged;
    // this year's change is measured from exactly these figures.
    let merged = public.get("/du-lieu/2026/v1/results-2025-map.csv").await;
    assert_eq!(merged.status, StatusCode::OK);
    let merged = csv_rows(&merged.bytes);
    assert!(
        merged
            .iter()
            .all(|r| !["74", "77", "49"].contains(&r["domain"].as_str()))
    );
    let (_, last_cells) = world.store.release(2026, Some(1)).await.unwrap().unwrap();
    let last_national = last_cells
        .iter()
        .find(|c| c.domain == "national" && c.subgroup.is_empty() && c.node == "sipas")
        .unwrap();
    let merged_national: f64 = row(&merged, "national")["estimate"].parse().unwrap();
    assert!((merged_national - last_national.estimate.unwrap()).abs() <= 1e-4);
    let now_79 = row(&published_rows, "79");
    let change: f64 = now_79["change"].parse().unwrap();
    let before: f64 = row(&merged, "79")["estimate"].parse().unwrap();
    let after: f64 = now_79["estimate"].parse().unwrap();
    assert!(
        (change - (after - before)).abs() < 1e-12,
        "{change} vs {after} - {before}"
    );
    assert_eq!(
        public
            .get("/du-lieu/2027/v1/results-2025-map.csv")
            .await
            .status,
        StatusCode::NOT_FOUND,
        "a release on today's map has no re-aggregated table"
    );
    assert!(
        public
            .get("/du-lieu/2026/v1/README.txt")
            .await
            .body
            .contains("results-2025-map.csv")
    );

    let xlsx = public.get("/du-lieu/2027/v1/results.xlsx").await;
    assert_eq!(xlsx.status, StatusCode::OK);
    {
        use calamine::Reader;
        let mut book: calamine::Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx.bytes.clone())).unwrap();
        let sheet = book.worksheet_range("SIPAS 2027 v1").unwrap();
        assert_eq!(sheet.height(), cells.len() + 1);
    }
    let json: serde_json::Value =
        serde_json::from_slice(&public.get("/du-lieu/2027/v1/results.json").await.bytes).unwrap();
    assert_eq!(json["cells"].as_array().unwrap().len(), cells.len());
    assert_eq!(json["release"]["input_digest"], info.input_digest.as_str());
    for missing in [
        "/du-lieu/2027/v2/results.csv",
        "/du-lieu/2027/v1/passwords.txt",
        "/du-lieu/2027/vx/results.csv",
    ] {
        assert_eq!(
            public.get(missing).await.status,
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }
    // Nothing changes the totals of a published release either.
    assert!(
        sqlx::query("UPDATE releases SET totals = '' WHERE year = 2027")
            .execute(world.store.pool())
            .await
            .is_err()
    );

    // An older draft is not approved once a newer computation of the wave has finished.
    let start = |browser: &mut Browser| {
        let mut browser = browser.clone();
        async move {
            let reply = browser
                .post(
                    &format!("/staff/waves/{WAVE}/results"),
                    &[("methodology", &sipas_methodology())],
                )
                .await;
            assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
            let location = reply.location.unwrap();
            let id: i64 = location.rsplit('/').next().unwrap().parse().unwrap();
            (location, id)
        }
    };
    let (older, older_id) = start(&mut stats).await;
    // A second start while one runs is refused (one job per wave), or the first has finished.
    let user = world.store.user_for_sign_in("stats").await.unwrap().0.id;
    if world
        .store
        .computation(older_id)
        .await
        .unwrap()
        .summary
        .status
        == ComputationStatus::Running
    {
        assert!(matches!(
            world
                .store
                .start_computation(WAVE, "x", None, user, "test", 0, &|_: &i64| common::audit(
                    "computation_started"
                ))
                .await,
            Err(sipas_app::ports::StoreError::Conflict(_))
        ));
    }
    assert_eq!(finished(&world, older_id).await, ComputationStatus::Draft);
    assert_eq!(
        stats.post(&format!("{older}/submit"), &[]).await.status,
        StatusCode::SEE_OTHER
    );
    // One late form in one commune: subtracting v1's aggregates from a v2's would isolate that
    // person, so the newer draft warns its approver.
    let mut late = this_year().1[0].clone();
    if let sipas_app::staff::port::PaperTarget::Point { form_id, .. } = &mut late.target {
        *form_id = "P900".into();
    }
    late.receipt = "LATE00000001".into();
    late.export_id = "late000000000001".into();
    common::fixtures::import_paper(&world.store, WAVE, &[late]).await;
    let (_, newer_id) = start(&mut stats).await;
    assert_eq!(finished(&world, newer_id).await, ComputationStatus::Draft);
    let newer = world.store.computation(newer_id).await.unwrap();
    assert!(
        newer.report.warnings.iter().any(|w| matches!(
            w,
            sipas_app::staff::review::Warning::SmallChange { release, communes }
                if release == "SIPAS 2027 v1" && !communes.is_empty() && !communes.contains(" and ")
        )),
        "{:?}",
        newer.report.warnings
    );
    assert!(
        world
            .store
            .computation_totals(newer_id)
            .await
            .unwrap()
            .1
            .is_some_and(|a| a.starts_with("domain,kind,code")),
        "the aggregates are kept: the warning is for the approver"
    );
    let stale = boss
        .post(&format!("{older}/approve"), &[("confirm", "yes")])
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    // Two running jobs of one wave are refused by the database too.
    let first = world
        .store
        .start_computation(WAVE, "x", None, user, "test", 0, &|_: &i64| {
            common::audit("computation_started")
        })
        .await
        .unwrap();
    assert!(matches!(
        world
            .store
            .start_computation(WAVE, "x", None, user, "test", 0, &|_: &i64| common::audit(
                "computation_started"
            ))
            .await,
        Err(sipas_app::ports::StoreError::Conflict(_))
    ));
    world
        .store
        .finish_computation(first, "test", Err("test"))
        .await
        .unwrap();

    // A job whose server stopped (no heartbeat for long) is taken over by one claimant, a
    // live one is not; the server that lost it can neither renew nor finish it; after
    // MAX_ATTEMPTS it is failed rather than taken over again.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let dead = world
        .store
        .start_computation(WAVE, "x", None, user, "server-a", now - 600, &|_: &i64| {
            common::audit("computation_started")
        })
        .await
        .unwrap();
    // (one running job per wave: the live one is of last year's wave)
    let alive = world
        .store
        .start_computation(
            "sipas-2026-old-map",
            "x",
            None,
            user,
            "server-a",
            now,
            &|_: &i64| common::audit("computation_started"),
        )
        .await
        .unwrap();
    let racing: Vec<_> = (0..8)
        .map(|i| {
            let store = world.store.clone();
            tokio::spawn(async move {
                store
                    .claim_stalled_computation(&format!("server-{i}"), now - 60, now, 3)
                    .await
                    .unwrap()
                    .map(|claim| (i, claim))
            })
        })
        .collect();
    let mut claims = Vec::new();
    for claim in racing {
        claims.extend(claim.await.unwrap());
    }
    assert_eq!(claims.len(), 1, "one claimant wins: {claims:?}");
    let (winner, claim) = &claims[0];
    assert_eq!((claim.id, claim.attempts), (dead, 2));
    assert_eq!(claim.wave_code, WAVE);
    let winner = format!("server-{winner}");
    assert_eq!(
        world.store.computation(dead).await.unwrap().summary.status,
        ComputationStatus::Running
    );
    assert!(
        world
            .store
            .computation_heartbeat(dead, &winner, 0, 0, now)
            .await
            .unwrap(),
        "the winner renews its lease"
    );
    // The server that lost the job cannot renew or end it.
    assert!(
        !world
            .store
            .computation_heartbeat(dead, "server-a", 0, 0, now)
            .await
            .unwrap()
    );
    assert!(
        world
            .store
            .finish_computation(dead, "server-a", Err("late"))
            .await
            .is_err()
    );
    assert_eq!(
        world.store.computation(alive).await.unwrap().summary.status,
        ComputationStatus::Running
    );
    // The winner's server stops too: taken over once more, then failed.
    let third = world
        .store
        .claim_stalled_computation("server-b", now + 1, now + 1, 3)
        .await
        .unwrap()
        .expect("third attempt");
    assert_eq!((third.id, third.attempts), (dead, 3));
    assert!(
        !world
            .store
            .computation_heartbeat(dead, &winner, 0, 0, now)
            .await
            .unwrap()
    );
    assert_eq!(
        world
            .store
            .claim_stalled_computation("server-c", now + 2, now + 2, 3)
            .await
            .unwrap()
            .map(|c| c.id),
        Some(alive),
        "the live one, once silent, is claimed; the thrice-stopped one is not"
    );
    let dead = world.store.computation(dead).await.unwrap().summary;
    assert_eq!(dead.status, ComputationStatus::Failed);
    assert!(dead.error.contains("stopped 3 times"), "{}", dead.error);
    // A server never takes over its own job (it is still running it, its heartbeats failed
    // for a while): nothing for server-c, however silent.
    assert_eq!(
        world
            .store
            .claim_stalled_computation("server-c", now + 60, now + 60, 3)
            .await
            .unwrap(),
        None
    );
    // The live one is running again, under server-c: back to server-a's now for the page.
    assert!(
        world
            .store
            .computation_heartbeat(alive, "server-c", 0, 0, now)
            .await
            .unwrap()
    );
    let failed_page = stats.get(&format!("/staff/computations/{}", dead.id)).await;
    assert!(failed_page.body.contains("stopped 3 times"));
    assert!(failed_page.body.contains("không thành công"));
    // A job that has not counted its responses yet says so, not "0 / 0".
    let starting = stats.get(&format!("/staff/computations/{alive}")).await;
    assert!(starting.body.contains("Đang chuẩn bị"), "{}", starting.body);
    assert!(!starting.body.contains("0 / 0"), "{}", starting.body);
    assert!(starting.body.contains("http-equiv=\"refresh\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_sqlite() {
    let db = common::sqlite_db();
    story(&db.url, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_postgres() {
    let Some((url, name)) = common::postgres_db().await else {
        return;
    };
    story(&url, Some(&common::postgres_owner_url(&name))).await;
    common::drop_postgres_db(&name).await;
}
