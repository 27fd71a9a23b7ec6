//! The quality review (issue #25, part 3): checks measured on arrival (web and paper), the queue
//! and its role matrix, decisions with history and audit, and the draft computed only from the
//! responses that count, exactly as if the excluded ones had never been stored.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use sipas_app::domain::{Geography, SampleKind, SamplePoint};
use sipas_app::staff::Role;
use sipas_app::staff::port::{CollectedStore, FieldStore};
use sipas_app::survey::response::{Channel, SubmitReply, SubmitRequest};
use sipas_server::jobs::wave_totals::Progress;
use sipas_server::services::questionnaires::SIPAS_2023_METHODOLOGY;
use sipas_server::store::SqlStore;

use crate::common::{self, browser::Browser};

const WAVE: &str = "sipas-2027-quality";
const PASSWORD: &str = "a long enough password 42";

fn ago(seconds: i64) -> String {
    (time::OffsetDateTime::now_utc() - time::Duration::seconds(seconds))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time")
}

async fn draft(store: &SqlStore, methodology: &str) -> sipas_app::staff::review::DraftData {
    let wave = sipas_app::ports::Store::wave(store, WAVE)
        .await
        .expect("wave");
    sipas_server::jobs::results::compute(store, &wave, methodology, None, &Progress::default())
        .await
        .expect("draft")
}

/// The export id of the response whose paper form or web code is `key`.
async fn export_id_of(store: &SqlStore, receipt: &str) -> String {
    sqlx::query_scalar("SELECT export_id FROM responses WHERE receipt = $1")
        .bind(receipt)
        .fetch_one(store.pool())
        .await
        .expect("export id")
}

/// Starts a computation of the wave in the workspace (built-in methodology) and waits for its
/// draft; returns its id.
async fn computed_draft(store: &SqlStore, stats: &mut Browser) -> i64 {
    use sipas_app::staff::review::{ComputationStatus, ReviewStore};
    let started = stats
        .post(
            &format!("/staff/waves/{WAVE}/results"),
            &[("methodology", SIPAS_2023_METHODOLOGY)],
        )
        .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let id: i64 = started
        .location
        .as_deref()
        .and_then(|l| l.rsplit('/').next())
        .and_then(|id| id.parse().ok())
        .expect("computation id");
    for _ in 0..600 {
        let status = store
            .computation(id)
            .await
            .expect("computation")
            .summary
            .status;
        if status != ComputationStatus::Running {
            assert_eq!(status, ComputationStatus::Draft);
            return id;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("computation {id} still running");
}

/// The database's flag rule and the Rust one agree on every response, in both directions,
/// for thresholds a float cannot hold exactly (2.2 × 25 is 55.000000000000007 in binary).
async fn flags_agree(store: &SqlStore) {
    use sipas_stats::quality::{Checked, Measures, QualityThresholds, flags};
    // Measures on a grid over the wave's province 01 forms (paper: no timing, so give some).
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT export_id FROM responses WHERE wave_code = $1 AND province_code = '01' \
         ORDER BY export_id",
    )
    .bind(WAVE)
    .fetch_all(store.pool())
    .await
    .expect("ids");
    assert!(ids.len() >= 50, "{}", ids.len());
    for (i, id) in ids.iter().enumerate() {
        let i = i64::try_from(i).unwrap_or(0);
        let answered: i64 = [25, 50, 20, 41][usize::try_from(i % 4).unwrap_or(0)];
        sqlx::query(
            "UPDATE responses SET duration_secs = $1, answered_items = $2, \
             no_answer_items = $3, straight_line = $4, devices = $5 WHERE export_id = $6",
        )
        .bind(40 + (i % 30))
        .bind(answered)
        .bind(i % 40)
        .bind(i % 30)
        // Some unknown (paper, or no cookie), the rest 1–6 browsers.
        .bind((i % 7 != 0).then_some(i % 6 + 1))
        .bind(id)
        .execute(store.pool())
        .await
        .expect("measures");
    }
    for (seconds, share, run, devices) in [
        (2.2, 0.58, 12, 3),
        (1.1, 0.3, 25, 0),
        (1.5, 0.5, 20, 5),
        (0.7, 0.45, 0, 1),
        // Speed, runs and no-answers off: the device check (more than two browsers) and twins.
        (0.0, 1.0, 0, 2),
    ] {
        let t = QualityThresholds {
            min_seconds_per_item: seconds,
            straight_line_items: run,
            max_no_answer_share: share,
            duplicates: true,
            max_devices: devices,
        };
        let in_sql: std::collections::BTreeSet<String> = store
            .quality_queue(WAVE, &t, Some("01"), 10_000)
            .await
            .expect("queue")
            .into_iter()
            .filter(|r| r.review.is_none())
            .map(|r| r.export_id)
            .collect();
        #[derive(sqlx::FromRow)]
        struct Stored {
            export_id: String,
            duration_secs: Option<i64>,
            answered_items: i64,
            no_answer_items: i64,
            straight_line: i64,
            duplicate: i64,
            devices: Option<i64>,
        }
        let rows: Vec<Stored> = sqlx::query_as(
            "SELECT export_id, duration_secs, answered_items, no_answer_items, straight_line, \
             duplicate, devices FROM responses WHERE wave_code = $1 AND province_code = '01' \
             AND review IS NULL",
        )
        .bind(WAVE)
        .fetch_all(store.pool())
        .await
        .expect("rows");
        let in_rust: std::collections::BTreeSet<String> = rows
            .into_iter()
            .filter(|row| {
                !flags(
                    &Checked {
                        measures: Measures {
                            answered_items: row.answered_items,
                            no_answer_items: row.no_answer_items,
                            straight_line: row.straight_line,
                        },
                        duration_secs: row.duration_secs,
                        duplicate: row.duplicate == 1,
                        devices: row.devices,
                    },
                    &t,
                )
                .is_empty()
            })
            .map(|row| row.export_id)
            .collect();
        assert!(!in_rust.is_empty(), "the grid flags something at {seconds}");
        assert_eq!(
            in_sql, in_rust,
            "thresholds {seconds} s, {share}, {run}, {devices} devices"
        );
    }
}

async fn story(url: &str, owner_url: Option<&str>) {
    let store = common::fixtures::seeded_with_staff(
        url,
        PASSWORD,
        &[
            ("stats", Role::Statistician, None),
            ("central", Role::Central, None),
            ("boss", Role::Approver, None),
            ("viewer", Role::Viewer, None),
            ("prov79", Role::Provincial, Some("79")),
        ],
    )
    .await;
    common::fixtures::collected_wave(&store, WAVE, 2027, Geography::G2025, &["01", "79"]).await;
    let frame = store.frame(WAVE, None).await.expect("frame");
    let psu = frame
        .psus
        .iter()
        .find(|p| p.province_code == "79")
        .expect("a commune of 79")
        .clone();

    // Web: two genuine respondents and a speeder (48 items in 10 seconds), measured on arrival.
    let codes = sipas_server::services::invitations::generate(3).expect("codes");
    let sample = SamplePoint {
        wave_code: WAVE.into(),
        geography: Geography::G2025,
        province_code: psu.province_code.clone(),
        stratum: psu.stratum.clone(),
        psu: psu.psu.clone(),
    };
    let hashes: Vec<String> = codes
        .iter()
        .map(sipas_server::services::invitations::hash)
        .collect();
    sipas_app::ports::Store::add_invitations(
        store.as_ref(),
        &sample,
        SampleKind::Probability,
        "t",
        &hashes,
    )
    .await
    .expect("codes");
    let mut receipts = Vec::new();
    for (i, (code, started)) in codes.iter().zip([1_500, 1_200, 10]).enumerate() {
        let reply = sipas_app::survey::service::submit(
            store.as_ref(),
            &SubmitRequest {
                code: code.as_str().to_owned(),
                submission_id: format!("quality-test-submission-{i}"),
                answers: common::fixtures::varied_answers(i),
                language: "vi".into(),
                started_at: Some(ago(started)),
                queued: false,
            },
            Channel::Online,
            None,
        )
        .await
        .expect("submit");
        let SubmitReply::Accepted(receipt) = reply else {
            panic!("not accepted: {reply:?}");
        };
        receipts.push(receipt.number);
    }
    let speeder = export_id_of(&store, &receipts[2]).await;
    let genuine = export_id_of(&store, &receipts[0]).await;

    // Paper: a straight-liner (every rating item 4) and two forms with the very same answers.
    let mut all_fours = common::fixtures::varied_answers(0);
    let q = common::fixtures::sipas_questionnaire();
    for item in q.items() {
        if all_fours.contains_key(&item.code) && q.scales[&item.scale].not_applicable.is_some() {
            all_fours.insert(item.code.clone(), 4);
        }
    }
    let liner = common::fixtures::paper_form(&psu.psu, "Q-liner", all_fours);
    let twin_a =
        common::fixtures::paper_form(&psu.psu, "Q-twin-a", common::fixtures::varied_answers(3));
    let twin_b =
        common::fixtures::paper_form(&psu.psu, "Q-twin-b", common::fixtures::varied_answers(3));
    assert!(liner.measures.straight_line >= 30, "{:?}", liner.measures);
    let paper = [liner.clone(), twin_a.clone(), twin_b.clone()];
    let outcomes = common::fixtures::import_paper(&store, WAVE, &paper).await;
    assert!(
        outcomes
            .iter()
            .all(|o| *o == sipas_app::staff::port::RowOutcome::New),
        "{outcomes:?}"
    );

    // The queue lists exactly the flagged ones, each with its reason.
    let app =
        common::application(store.clone(), sipas_server::startup::Settings::in_process()).router();
    let mut stats = Browser::new(&app);
    assert_eq!(
        stats.sign_in("stats", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let queue_path = format!("/staff/waves/{WAVE}/quality");
    let queue = stats.get(&queue_path).await;
    assert_eq!(queue.status, StatusCode::OK, "{}", queue.body);
    for flagged in [
        &speeder,
        &liner.export_id,
        &twin_a.export_id,
        &twin_b.export_id,
    ] {
        assert!(queue.body.contains(flagged.as_str()), "{flagged} is queued");
    }
    assert!(
        !queue.body.contains(genuine.as_str()),
        "unflagged: not queued"
    );
    // Each queued row names its own flags (the thresholds above the queue name them all).
    let row_of = |body: &str, id: &str| -> String {
        let at = body.find(&format!(">{id}<")).unwrap_or(0);
        let end = body[at..].find("</tr>").map_or(body.len(), |e| at + e);
        body[at..end].to_owned()
    };
    assert!(row_of(&queue.body, &speeder).contains("Trả lời quá nhanh"));
    assert!(!row_of(&queue.body, &speeder).contains("Trùng câu trả lời"));
    assert!(row_of(&queue.body, &twin_a.export_id).contains("Trùng câu trả lời"));
    assert!(row_of(&queue.body, &liner.export_id).contains("Cùng một câu trả lời"));

    // Role matrix: central staff and statisticians review; an officer of the very province,
    // the approver, a viewer and nobody at all do not.
    let detail_path = format!("/staff/waves/{WAVE}/quality/{speeder}");
    let decide = [
        ("decision", "excluded"),
        ("reason", "speeding"),
        ("note", ""),
    ];
    for (user, allowed) in [
        ("central", true),
        ("boss", false),
        ("viewer", false),
        ("prov79", false),
    ] {
        let mut browser = Browser::new(&app);
        assert_eq!(
            browser.sign_in(user, PASSWORD).await.status,
            StatusCode::SEE_OTHER
        );
        let expected = if allowed {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(browser.get(&queue_path).await.status, expected, "{user}");
        assert_eq!(browser.get(&detail_path).await.status, expected, "{user}");
        if !allowed {
            assert_eq!(
                browser.post(&detail_path, &decide).await.status,
                StatusCode::FORBIDDEN,
                "{user} cannot decide"
            );
        }
    }
    let mut stranger = Browser::new(&app);
    let anonymous = stranger.post(&detail_path, &decide).await;
    assert!(
        anonymous.status.is_client_error()
            || anonymous
                .location
                .as_deref()
                .is_some_and(|l| l.starts_with("/staff/login")),
        "{} {:?}",
        anonymous.status,
        anonymous.location
    );
    // A response is reached only through its own wave (no other wave's id works here).
    let other_wave = common::fixtures::collected_wave(
        &store,
        "sipas-2028-other",
        2028,
        Geography::G2025,
        &["01"],
    )
    .await;
    assert_eq!(
        stats
            .get(&format!(
                "/staff/waves/{}/quality/{speeder}",
                other_wave.code
            ))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        stats
            .post(
                &format!("/staff/waves/{}/quality/{speeder}", other_wave.code),
                &decide
            )
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Bad input is refused with what is wrong.
    for (form, field) in [
        (
            vec![("decision", "maybe"), ("reason", "speeding")],
            "decision",
        ),
        (
            vec![("decision", "excluded"), ("reason", "boring")],
            "reason",
        ),
        (
            vec![("decision", "approved"), ("reason", "speeding")],
            "reason",
        ),
        (vec![("decision", "excluded"), ("reason", "other")], "note"),
    ] {
        let reply = stats.post(&detail_path, &form).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{form:?}");
        assert!(
            reply.body.contains(&format!("{field}: ")),
            "{field}: {}",
            reply.body
        );
    }

    // Twins a concurrent transaction could not see are found again before the queue is read.
    sqlx::query("UPDATE responses SET duplicate = 0 WHERE wave_code = $1")
        .bind(WAVE)
        .execute(store.pool())
        .await
        .expect("unmark");
    assert_eq!(stats.get(&queue_path).await.status, StatusCode::OK);
    let marked: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM responses WHERE wave_code = $1 AND duplicate = 1")
            .bind(WAVE)
            .fetch_one(store.pool())
            .await
            .expect("twins");
    assert_eq!(marked, 2, "both twins marked again by a look at the queue");

    // The database's condition and the Rust rules agree on every queued response.
    let thresholds = sipas_server::staff::quality_thresholds();
    let queued = store
        .quality_queue(WAVE, &thresholds, None, 1_000)
        .await
        .expect("queue");
    assert_eq!(queued.len(), 4);
    assert!(
        queued
            .iter()
            .all(|r| r.awaits_review(&thresholds) && r.counts())
    );

    // Before any decision: the four flagged responses count, and hold the draft back.
    let methodology = SIPAS_2023_METHODOLOGY;
    let before = draft(&store, methodology).await;
    assert_eq!(before.report.quality.awaiting_review(), 4);
    assert_eq!(before.report.quality.excluded(), 0);
    assert!(
        before
            .report
            .warnings
            .contains(&sipas_app::staff::review::Warning::AwaitingReview { count: 4 })
    );
    // Through the workspace: such a draft cannot be submitted for approval.
    let held = computed_draft(&store, &mut stats).await;
    let refused = stats
        .post(&format!("/staff/computations/{held}/submit"), &[])
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(
        refused.body.contains("chưa được rà soát"),
        "{}",
        refused.body
    );

    // Decisions: the speeder excluded, approved (a mistake), excluded again; the straight-liner
    // approved after a look at the paper; one twin excluded, the other approved.
    let decisions: [(&str, &str, &str, &str); 6] = [
        (&speeder, "excluded", "speeding", ""),
        (&speeder, "approved", "checked", ""),
        (
            &speeder,
            "excluded",
            "other",
            "48 items in 10 seconds; the postal worker confirms",
        ),
        (&liner.export_id, "approved", "checked", ""),
        (&twin_b.export_id, "excluded", "duplicate", ""),
        (&twin_a.export_id, "approved", "checked", ""),
    ];
    for (id, decision, reason, note) in decisions {
        let reply = stats
            .post(
                &format!("/staff/waves/{WAVE}/quality/{id}"),
                &[("decision", decision), ("reason", reason), ("note", note)],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    }
    let reviewed = store
        .reviewed_response(WAVE, &speeder)
        .await
        .expect("reviewed");
    let history: Vec<(&str, &str)> = reviewed
        .history
        .iter()
        .map(|d| (d.decision.key(), d.reason.as_str()))
        .collect();
    assert_eq!(
        history,
        [
            ("excluded", "speeding"),
            ("approved", "checked"),
            ("excluded", "other")
        ],
        "every decision kept, newest last"
    );
    assert_eq!(reviewed.history[2].by, "stats");
    let page = stats.get(&detail_path).await;
    assert!(page.body.contains("the postal worker confirms"));
    assert!(page.body.contains("Không được tính vào chỉ số"));
    let audited = sipas_app::staff::port::AuditStore::audit_log(
        store.as_ref(),
        &sipas_app::staff::port::AuditFilter {
            action: Some("response_reviewed".into()),
            ..Default::default()
        },
    )
    .await
    .expect("audit");
    assert_eq!(audited.len(), 6, "one entry per decision");
    assert!(
        audited
            .iter()
            .any(|r| r.entry.detail.contains(&speeder) && r.entry.detail.contains("postal"))
    );
    // The history is append-only for the application's role.
    if owner_url.is_some() {
        let refused = sqlx::query("DELETE FROM response_reviews")
            .execute(store.pool())
            .await;
        assert!(
            refused.is_err(),
            "the application role cannot rewrite history"
        );
    }

    // The draft now leaves out exactly the two excluded responses, for their reasons.
    let after = draft(&store, methodology).await;
    let left: BTreeMap<String, i64> = after
        .report
        .quality
        .left_out
        .iter()
        .map(|l| (format!("{}/{}", l.province, l.reason), l.count))
        .collect();
    assert_eq!(
        left,
        BTreeMap::from([("79/duplicate".to_owned(), 1), ("79/other".to_owned(), 1)])
    );
    assert_eq!(after.report.quality.awaiting_review(), 0);
    let decided = computed_draft(&store, &mut stats).await;
    let submitted = stats
        .post(&format!("/staff/computations/{decided}/submit"), &[])
        .await;
    assert_eq!(
        submitted.status,
        StatusCode::SEE_OTHER,
        "every flagged response decided: {}",
        submitted.body
    );
    assert!(
        !after
            .report
            .warnings
            .iter()
            .any(|w| matches!(w, sipas_app::staff::review::Warning::AwaitingReview { .. }))
    );
    assert_ne!(after.input_digest, before.input_digest);
    // The export says of every row whether it counted, so an analyst drops the same ones.
    let export = stats.get(&format!("/staff/waves/{WAVE}/export.csv")).await;
    assert_eq!(export.status, StatusCode::OK);
    let line_of = |id: &str| {
        export
            .body
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        line_of(&speeder).contains(",excluded:other,"),
        "{}",
        line_of(&speeder)
    );
    assert!(line_of(&twin_b.export_id).contains(",excluded:duplicate,"));
    assert!(line_of(&liner.export_id).contains(",counted,"));
    assert!(line_of(&genuine).contains(",counted,"));
    let header = export.body.lines().next().unwrap_or_default().to_owned();
    assert!(
        header.contains("submitted_on,quality,duration_secs"),
        "{header}"
    );

    // Published, the release keeps what was left out and its README says so.
    let wave = sipas_app::ports::Store::wave(store.as_ref(), WAVE)
        .await
        .expect("wave");
    sipas_server::services::demo::publish_demo_with(store.as_ref(), &wave, "", methodology)
        .await
        .expect("published");
    let (release, _) = sipas_app::staff::release::ReleaseStore::release(store.as_ref(), 2027, None)
        .await
        .expect("release")
        .expect("a 2027 release");
    assert_eq!(release.left_out, after.report.quality.left_out);
    let readme = sipas_server::services::open_data::readme(
        &release,
        &sipas_server::services::open_data::ReadmeFacts {
            missing_provinces: Vec::new(),
            checksums: Vec::new(),
        },
    );
    assert!(readme.contains("2 response(s)"), "{readme}");

    // Excluding is removing: delete the two excluded responses (as the schema's owner) and the
    // draft is the same, byte for byte in its totals and number for number in its cells.
    let owner = match owner_url {
        Some(owner_url) => sipas_server::store::open(owner_url, &Default::default())
            .await
            .expect("owner"),
        None => sipas_server::store::open(url, &Default::default())
            .await
            .expect("second connection"),
    };
    for id in [&speeder, &twin_b.export_id] {
        sqlx::query(
            "DELETE FROM response_reviews WHERE receipt IN \
             (SELECT receipt FROM responses WHERE export_id = $1)",
        )
        .bind(id.as_str())
        .execute(owner.pool())
        .await
        .expect("delete history");
        let deleted = sqlx::query("DELETE FROM responses WHERE export_id = $1")
            .bind(id.as_str())
            .execute(owner.pool())
            .await
            .expect("delete")
            .rows_affected();
        assert_eq!(deleted, 1);
    }
    let removed = draft(&store, methodology).await;
    assert!(removed.report.quality.left_out.is_empty());
    assert_eq!(removed.input_digest, after.input_digest);
    assert_eq!(removed.totals, after.totals);
    assert_eq!(removed.cells, after.cells);
    owner.pool().close().await;

    // A group decision: two more straight-liners, approved at once after a look.
    let mut threes = common::fixtures::varied_answers(0);
    for item in q.items() {
        if threes.contains_key(&item.code) && q.scales[&item.scale].not_applicable.is_some() {
            threes.insert(item.code.clone(), 3);
        }
    }
    let mut fives = threes.clone();
    for item in q.items() {
        if fives.contains_key(&item.code) && q.scales[&item.scale].not_applicable.is_some() {
            fives.insert(item.code.clone(), 5);
        }
    }
    let more = [
        common::fixtures::paper_form(&psu.psu, "Q-liner-3", threes),
        common::fixtures::paper_form(&psu.psu, "Q-liner-5", fives),
    ];
    common::fixtures::import_paper(&store, WAVE, &more).await;
    let group = stats
        .post(
            &format!("/staff/waves/{WAVE}/quality-all"),
            &[
                ("flag", "straight_lining"),
                ("decision", "approved"),
                ("reason", "checked"),
                ("note", "Đã xem 2 phiếu: người trả lời hài lòng như nhau."),
            ],
        )
        .await;
    assert_eq!(group.status, StatusCode::SEE_OTHER, "{}", group.body);
    for form in &more {
        let reviewed = store
            .reviewed_response(WAVE, &form.export_id)
            .await
            .expect("reviewed");
        assert_eq!(
            reviewed.row.review,
            Some(sipas_app::staff::quality::Decision::Approved)
        );
        assert_eq!(reviewed.history.len(), 1);
    }
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'response_reviewed' AND detail LIKE '2 %'",
    )
    .fetch_one(store.pool())
    .await
    .expect("audit");
    assert_eq!(audited, 1, "one entry for the group, with its count");

    // A decision taken after a draft was computed: that draft no longer says what the
    // reviewers decided, and is refused at submission.
    let stale = computed_draft(&store, &mut stats).await;
    let redecided = stats
        .post(
            &format!("/staff/waves/{WAVE}/quality/{}", liner.export_id),
            &[
                ("decision", "excluded"),
                ("reason", "straight_lining"),
                ("note", ""),
            ],
        )
        .await;
    assert_eq!(redecided.status, StatusCode::SEE_OTHER);
    let refused = stats
        .post(&format!("/staff/computations/{stale}/submit"), &[])
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(refused.body.contains("tính lại"), "{}", refused.body);

    flags_agree(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quality_review_sqlite() {
    let db = common::sqlite_db();
    story(&db.url, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quality_review_postgres() {
    let Some((url, name)) = common::postgres_db().await else {
        return;
    };
    story(&url, Some(&common::postgres_owner_url(&name))).await;
    common::drop_postgres_db(&name).await;
}
