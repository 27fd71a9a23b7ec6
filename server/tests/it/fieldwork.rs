//! Fieldwork (issue #25, part 1): field workers' accounts (one province, optionally some
//! communes), forms assigned to them (a batch's codes in a commune, or numbered paper forms),
//! the outcomes they mark on their phones, and the AAPOR response rates by province, commune
//! and worker. Role matrix and IDOR on the new routes; both engines.

use axum::http::StatusCode;
use sipas_app::domain::Geography;
use sipas_app::staff::Role;
use sipas_app::staff::fieldwork::{AssignedForms, FieldworkStore, NewAssignment, Outcome, Tally};
use sipas_app::staff::port::FieldStore;
use sipas_app::survey::response::{Channel, SubmitReply, SubmitRequest};
use sipas_server::store::SqlStore;

use crate::common::{self, browser::Browser};

const WAVE: &str = "sipas-2027-fieldwork";
const PASSWORD: &str = "a long enough password 42";

async fn count(store: &SqlStore, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(store.pool())
        .await
        .expect("count")
}

fn between(text: &str, start: &str, end: &str) -> String {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} in page"))
        + start.len();
    let to = text[from..].find(end).expect("end") + from;
    text[from..to].to_owned()
}

/// Posts the assignment form; returns the reply.
async fn assign(
    browser: &mut Browser,
    worker: i64,
    psu: &str,
    batch: &str,
    count: &str,
    dates: (&str, &str),
) -> common::browser::Reply {
    let worker = worker.to_string();
    browser
        .post(
            &format!("/staff/waves/{WAVE}/fieldwork"),
            &[
                // The page the form is on: province 01's.
                ("province", "01"),
                ("worker", worker.as_str()),
                ("psu", psu),
                ("batch", batch),
                ("count", count),
                ("hand_out_on", dates.0),
                ("collect_by", dates.1),
            ],
        )
        .await
}

/// A paper form of `psu` numbered `number`, imported as from a file.
async fn import_paper_form(store: &SqlStore, psu: &str, number: &str, seed: usize) {
    let record = common::fixtures::paper_form(psu, number, common::fixtures::varied_answers(seed));
    common::fixtures::import_paper(store, WAVE, &[record]).await;
}

/// A commune's row of the fieldwork counts.
fn commune(tallies: &sipas_app::staff::fieldwork::FieldworkTallies, psu: &str) -> Tally {
    tallies
        .communes
        .iter()
        .find(|c| c.1 == psu)
        .unwrap_or_else(|| panic!("commune {psu}"))
        .3
        .clone()
}

/// The ids of a worker's assignments, oldest first.
async fn assignment_ids(store: &SqlStore, worker: i64) -> Vec<i64> {
    sqlx::query_scalar("SELECT id FROM field_assignments WHERE worker_id = $1 ORDER BY id")
        .bind(worker)
        .fetch_all(store.pool())
        .await
        .expect("ids")
}

async fn outcomes(store: &SqlStore, assignment: i64) -> Vec<(i64, String)> {
    sqlx::query_as(
        "SELECT form_number, outcome FROM assignment_forms WHERE assignment_id = $1 \
         ORDER BY form_number",
    )
    .bind(assignment)
    .fetch_all(store.pool())
    .await
    .expect("outcomes")
}

/// The form a worker's page posts: each form's shown outcome and the chosen one.
fn marks(shown: &[(i64, String)], chosen: &[(i64, Outcome)]) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    for (number, was) in shown {
        let now = chosen
            .iter()
            .find(|(n, _)| n == number)
            .map_or(was.clone(), |(_, o)| o.key().to_owned());
        fields.push((format!("w{number}"), was.clone()));
        fields.push((format!("o{number}"), now));
    }
    fields
}

async fn story(url: &str) {
    let store = common::fixtures::seeded_with_staff(
        url,
        PASSWORD,
        &[
            ("admin", Role::Admin, None),
            ("central", Role::Central, None),
            ("officer01", Role::Provincial, Some("01")),
            ("stats", Role::Statistician, None),
            ("viewer", Role::Viewer, None),
            ("postman", Role::Field, Some("01")),
            ("postman79", Role::Field, Some("79")),
            ("officer79", Role::Provincial, Some("79")),
        ],
    )
    .await;
    common::fixtures::collected_wave(&store, WAVE, 2027, Geography::G2025, &["01", "79"]).await;
    let frame = store.frame(WAVE, None).await.expect("frame");
    let in_01: Vec<String> = frame
        .psus
        .iter()
        .filter(|p| p.province_code == "01")
        .map(|p| p.psu.clone())
        .collect();
    let in_79 = frame
        .psus
        .iter()
        .find(|p| p.province_code == "79")
        .expect("a commune of 79")
        .psu
        .clone();
    let (psu_a, psu_b) = (in_01[0].clone(), in_01[1].clone());
    let app =
        common::application(store.clone(), sipas_server::startup::Settings::in_process()).router();
    let page = format!("/staff/waves/{WAVE}/fieldwork");

    // A field account restricted to a commune, through the accounts form: a commune of another
    // province is refused, naming the field; nothing is created.
    let mut admin = Browser::signed_in(&app, "admin", PASSWORD).await;
    let account = |communes: &'static str| {
        vec![
            ("username", "postman.ba.dinh"),
            ("display_name", "Bưu tá Ba Đình"),
            ("role", "field"),
            ("province", "01"),
            ("password", PASSWORD),
            ("communes", communes),
        ]
    };
    let refused = admin.post("/staff/users", &account("00004 26740")).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.body.contains("26740"), "{}", refused.body);
    let refused = admin.post("/staff/users", &account("4")).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("5-digit") || refused.body.contains("5 chữ số"));
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM staff_users WHERE username = 'postman.ba.dinh'"
        )
        .await,
        0
    );
    let created = admin.post("/staff/users", &account("00004, 00004")).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let restricted = common::fixtures::user_id(&store, "postman.ba.dinh").await;
    let workers = store.field_workers(Some("01")).await.expect("workers");
    let listed = workers.iter().find(|w| w.id == restricted).expect("listed");
    assert_eq!(listed.communes, vec!["00004".to_owned()]);
    // Another role cannot be restricted to communes.
    let mut viewer_account = account("00004");
    viewer_account[2] = ("role", "viewer");
    viewer_account[3] = ("province", "");
    viewer_account[0] = ("username", "viewer.two");
    let refused = admin.post("/staff/users", &viewer_account).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused
            .body
            .contains("chỉ tài khoản nhân viên phát, thu phiếu mới giới hạn")
    );

    // Role matrix of the new routes.
    for (user, fieldwork_page, field_home) in [
        ("central", StatusCode::OK, StatusCode::FORBIDDEN),
        ("officer01", StatusCode::OK, StatusCode::FORBIDDEN),
        ("stats", StatusCode::OK, StatusCode::FORBIDDEN),
        ("viewer", StatusCode::OK, StatusCode::FORBIDDEN),
        ("postman", StatusCode::FORBIDDEN, StatusCode::OK),
    ] {
        let mut browser = Browser::signed_in(&app, user, PASSWORD).await;
        assert_eq!(browser.get(&page).await.status, fieldwork_page, "{user}");
        assert_eq!(
            browser.get("/staff/field").await.status,
            field_home,
            "{user}"
        );
    }
    let mut anonymous = Browser::new(&app);
    assert_eq!(anonymous.get(&page).await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        anonymous.get("/staff/field").await.status,
        StatusCode::SEE_OTHER
    );
    // A field worker's start page is their assignments; nothing else of the workspace opens.
    let mut postman = Browser::signed_in(&app, "postman", PASSWORD).await;
    let start = postman.get("/staff").await;
    assert_eq!(start.location.as_deref(), Some("/staff/field"));
    for path in [
        format!("/staff/waves/{WAVE}"),
        format!("/staff/waves/{WAVE}/monitor"),
        format!("/staff/waves/{WAVE}/export.csv"),
        format!("/staff/waves/{WAVE}/keying"),
    ] {
        assert_eq!(
            postman.get(&path).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }

    // A batch of six codes for commune A, issued by central staff; its cards are numbered.
    let mut central = Browser::signed_in(&app, "central", PASSWORD).await;
    let batches = central.get(&format!("/staff/waves/{WAVE}/batches")).await;
    let token = between(&batches.body, "name=\"request_id\" value=\"", "\"");
    let sheet = central
        .post(
            &format!("/staff/waves/{WAVE}/batches"),
            &[
                ("request_id", &token),
                ("target", &format!("psu:{psu_a}")),
                ("count", "6"),
            ],
        )
        .await;
    assert_eq!(sheet.status, StatusCode::OK, "{}", sheet.body);
    let batch = format!("b{}", &token[..16]);
    for n in 1..=6 {
        assert!(
            sheet.body.contains(&format!("Số {n} · PSU {psu_a}")),
            "card {n}"
        );
    }
    let codes: Vec<String> = between(&sheet.body, "name=\"codes\" value=\"", "\"")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(codes.len(), 6);

    let postman_id = common::fixtures::user_id(&store, "postman").await;
    let postman79 = common::fixtures::user_id(&store, "postman79").await;
    let dates = ("2027-10-01", "2027-10-03");
    // Who may assign: not a viewer, a statistician or a field worker.
    for user in ["viewer", "stats", "postman"] {
        let mut browser = Browser::signed_in(&app, user, PASSWORD).await;
        let reply = assign(&mut browser, postman_id, &psu_a, "", "30", dates).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{user}");
    }
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM field_assignments").await,
        0
    );
    // Refusals name the field, and store nothing.
    let mut officer = Browser::signed_in(&app, "officer01", PASSWORD).await;
    let late = ("2027-10-03", "2027-10-01");
    for (by_officer, worker, psu, batch_id, n, dates, expected) in [
        (true, postman79, &psu_a, "", "30", dates, "nhân viên: "),
        (false, postman_id, &in_79, "", "30", dates, "xã/phường: "),
        (false, restricted, &psu_a, "", "30", dates, "xã/phường: "),
        (
            false,
            postman_id,
            &psu_a,
            batch.as_str(),
            "0",
            dates,
            "số phiếu: ",
        ),
        (
            false,
            postman_id,
            &psu_a,
            batch.as_str(),
            "2001",
            dates,
            "số phiếu: ",
        ),
        (false, postman_id, &psu_a, "", "", dates, "phiếu: "),
        (false, postman_id, &psu_a, "", "0", dates, "số phiếu: "),
        (false, postman_id, &psu_b, batch.as_str(), "", dates, "lô: "),
        (false, postman_id, &psu_a, "", "30", late, "hạn thu: "),
    ] {
        let browser = if by_officer {
            &mut officer
        } else {
            &mut central
        };
        let reply = assign(browser, worker, psu, batch_id, n, dates).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{expected}: {}",
            reply.body
        );
        assert!(
            reply.body.contains(expected),
            "{expected} named: {}",
            reply.body
        );
    }
    // A refused form comes back as typed (the worker and commune chosen, the dates).
    let typed = assign(&mut central, postman_id, &psu_a, "", "30", late).await;
    assert!(
        typed
            .body
            .contains(&format!("<option value=\"{postman_id}\" selected"))
    );
    assert!(
        typed
            .body
            .contains(&format!("<option value=\"{psu_a}\" selected"))
    );
    assert!(typed.body.contains("value=\"2027-10-03\""));
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM field_assignments").await,
        0
    );

    // The batch's codes in commune A to the worker (by the province's own officer), then 30
    // paper forms of commune A (central staff), then 10 more: numbered on, 31 to 40.
    let given = assign(&mut officer, postman_id, &psu_a, &batch, "", dates).await;
    assert_eq!(given.status, StatusCode::SEE_OTHER, "{}", given.body);
    let again = assign(&mut central, postman_id, &psu_a, &batch, "", dates).await;
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a code is given once"
    );
    for n in ["30", "10"] {
        let given = assign(&mut central, postman_id, &psu_a, "", n, dates).await;
        assert_eq!(given.status, StatusCode::SEE_OTHER, "{}", given.body);
    }
    let ids = assignment_ids(&store, postman_id).await;
    assert_eq!(ids.len(), 3);
    let (codes_id, paper_id, more_id) = (ids[0], ids[1], ids[2]);
    let numbers = |forms: &[(i64, String)]| forms.iter().map(|f| f.0).collect::<Vec<_>>();
    assert_eq!(
        numbers(&outcomes(&store, codes_id).await),
        (1..=6).collect::<Vec<_>>()
    );
    assert_eq!(
        numbers(&outcomes(&store, paper_id).await),
        (1..=30).collect::<Vec<_>>()
    );
    assert_eq!(
        numbers(&outcomes(&store, more_id).await),
        (31..=40).collect::<Vec<_>>()
    );
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'fieldwork_assigned'"
        )
        .await,
        3
    );

    // Two assignments of the same commune at once are numbered one after the other.
    let paper = |n| NewAssignment {
        wave_code: WAVE.into(),
        worker_id: postman_id,
        psu: psu_b.clone(),
        forms: AssignedForms::Paper(n),
        hand_out_on: dates.0.into(),
        collect_by: dates.1.into(),
        created_by: postman_id,
    };
    let audit = |_: &(String, i64)| common::audit("fieldwork_assigned");
    let (five, seven) = (paper(5), paper(7));
    let (first, second) = tokio::join!(store.assign(&five, &audit), store.assign(&seven, &audit));
    let (first, second) = (first.expect("first"), second.expect("second"));
    let mut ranges: Vec<(i64, i64)> = Vec::new();
    for id in [first, second] {
        let forms = outcomes(&store, id).await;
        ranges.push((forms[0].0, forms[forms.len() - 1].0));
    }
    ranges.sort();
    assert!(
        ranges == vec![(1, 5), (6, 12)] || ranges == vec![(1, 7), (8, 12)],
        "{ranges:?}"
    );

    // One code answered online (its form marked only "handed out"): complete all the same.
    let reply = sipas_app::survey::service::submit(
        store.as_ref(),
        &SubmitRequest {
            code: codes[0].clone(),
            submission_id: "fieldwork-online-1".into(),
            answers: common::fixtures::varied_answers(1),
            language: "vi".into(),
            started_at: None,
            queued: false,
        },
        Channel::Online,
        None,
    )
    .await
    .expect("submit");
    assert!(matches!(reply, SubmitReply::Accepted(_)), "{reply:?}");

    // The worker's phone: their three assignments (and commune B's two); a form's page.
    let home = postman.get("/staff/field").await;
    assert_eq!(home.status, StatusCode::OK);
    for id in [codes_id, paper_id, more_id, first, second] {
        assert!(
            home.body.contains(&format!("href=\"/staff/field/{id}\"")),
            "{id}"
        );
    }
    let codes_page = postman.get(&format!("/staff/field/{codes_id}")).await;
    assert_eq!(codes_page.status, StatusCode::OK);
    assert_eq!(codes_page.body.matches("name=\"o").count(), 6);
    assert_eq!(
        codes_page.body.matches("answered online").count()
            + codes_page.body.matches("đã trả lời trực tuyến").count(),
        1,
        "the answered code is shown"
    );
    // Another worker's assignment does not exist for them, to read or to mark.
    let mut other = Browser::signed_in(&app, "postman79", PASSWORD).await;
    assert!(
        !other
            .get("/staff/field")
            .await
            .body
            .contains(&format!("/staff/field/{codes_id}"))
    );
    assert_eq!(
        other.get(&format!("/staff/field/{codes_id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let shown = outcomes(&store, codes_id).await;
    let theirs = marks(&shown, &[(2, Outcome::Refused)]);
    let reply = other
        .post_fields(&format!("/staff/field/{codes_id}"), &theirs)
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(outcomes(&store, codes_id).await, shown, "nothing marked");
    assert_eq!(
        other.get("/staff/field/not-a-number").await.status,
        StatusCode::NOT_FOUND
    );

    // Marking the codes: 1 (answered online) handed out, 2 refused, 3 nobody met, 6 not found,
    // and the bulk button hands out what is still not handed out (4 and 5).
    let path = format!("/staff/field/{codes_id}");
    let mut posted = marks(
        &shown,
        &[
            (1, Outcome::HandedOut),
            (2, Outcome::Refused),
            (3, Outcome::NoContact),
            (6, Outcome::NotFound),
        ],
    );
    posted.push(("bulk".into(), "handed_out".into()));
    let saved = postman.post_fields(&path, &posted).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let keys = |forms: Vec<(i64, String)>| forms.into_iter().map(|f| f.1).collect::<Vec<_>>();
    assert_eq!(
        keys(outcomes(&store, codes_id).await),
        [
            "handed_out",
            "refused",
            "no_contact",
            "handed_out",
            "handed_out",
            "not_found"
        ]
    );
    // A page shown before that save (form 2 still "not handed out") changes nothing stale.
    let stale = marks(&shown, &[(2, Outcome::Collected), (4, Outcome::Collected)]);
    let saved = postman.post_fields(&path, &stale).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let after = postman.get(&path).await;
    assert!(
        after.body.contains("Phiếu số 2, 4 đã được sửa ở nơi khác"),
        "{}",
        after.body
    );
    // The first save sent again (a double tap on a slow network) is no one else's change.
    let saved = postman.post_fields(&path, &posted).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let after = postman.get(&path).await;
    assert!(after.body.contains("Đã lưu 0 phiếu."), "{}", after.body);
    assert!(!after.body.contains("nơi khác"));
    assert_eq!(
        keys(outcomes(&store, codes_id).await)[1],
        "refused",
        "stale mark refused"
    );
    // An outcome we do not know, or a form not on the assignment: 422 naming it, nothing saved.
    let before = outcomes(&store, codes_id).await;
    let mut bad = marks(&before, &[]);
    bad[1].1 = "lost".into();
    let reply = postman.post_fields(&path, &bad).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        reply.body.contains("o1: không có kết quả"),
        "{}",
        reply.body
    );
    let reply = postman
        .post_fields(
            &path,
            &[
                ("w99".into(), "assigned".into()),
                ("o99".into(), "refused".into()),
            ],
        )
        .await;
    // A form not (or no longer) on the assignment is reported by number; nothing changes.
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let after = postman.get(&path).await;
    assert!(
        after.body.contains("Phiếu số 99 đã được sửa ở nơi khác"),
        "{}",
        after.body
    );
    assert_eq!(outcomes(&store, codes_id).await, before);

    // The 30 paper forms: 18 collected, 3 handed out, 2 refused, 1 nobody met, 2 not found,
    // 1 not eligible, 3 not handed out. The 10 more stay not handed out.
    let shown = outcomes(&store, paper_id).await;
    let mut chosen = Vec::new();
    for (number, outcome, n) in [
        (1, Outcome::Collected, 18),
        (19, Outcome::HandedOut, 3),
        (22, Outcome::Refused, 2),
        (24, Outcome::NoContact, 1),
        (25, Outcome::NotFound, 2),
        (27, Outcome::NotEligible, 1),
    ] {
        for k in 0..n {
            chosen.push((number + k, outcome));
        }
    }
    let saved = postman
        .post_fields(&format!("/staff/field/{paper_id}"), &marks(&shown, &chosen))
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'forms_marked'"
        )
        .await,
        2,
        "one entry a save that changed something"
    );

    // Form 19, still out, comes back and is imported by its commune and number: complete.
    import_paper_form(&store, &psu_a, "19", 3).await;

    // The rates, by hand. Commune A: codes I=1 (online), R=1+2 (2 refused; 4, 5 out), NC=1,
    // UH=1; paper I=18+1 (19 came back), R=2+2, NC=1, UH=2+3, NE=1; the 10 more UH=10. So
    // I=20, R=7, NC=2, UH=16, NE=1: RR1 = 20/45; e = 29/30, RR3 = 20 / (29 + 16 · 29/30).
    let tallies = store.fieldwork(WAVE, Some("01")).await.expect("tallies");
    let a = &commune(&tallies, &psu_a);
    assert_eq!(
        (
            a.forms,
            a.complete,
            a.refusal,
            a.non_contact,
            a.unknown,
            a.ineligible
        ),
        (46, 20, 7, 2, 16, 1)
    );
    assert_eq!(
        (a.answered, a.online, a.collected, a.refused),
        (2, 1, 18, 3)
    );
    assert!((a.rr1().unwrap() - 20.0 / 45.0).abs() < 1e-12);
    let e = 29.0 / 30.0;
    assert!((a.rr3().unwrap() - 20.0 / (29.0 + 16.0 * e)).abs() < 1e-12);
    // Commune B: 12 forms never handed out: RR1 0, RR3 unknown (no eligibility known).
    let b = &commune(&tallies, &psu_b);
    assert_eq!(
        (b.forms, b.unknown, b.rr1(), b.rr3()),
        (12, 12, Some(0.0), None)
    );
    // The province and the worker add both communes: I=20 of 58 forms, UH=28.
    let (_, province) = &tallies.provinces[0];
    assert_eq!(
        (province.forms, province.complete, province.unknown),
        (58, 20, 28)
    );
    assert!((province.rr1().unwrap() - 20.0 / 57.0).abs() < 1e-12);
    let worker = tallies
        .workers
        .iter()
        .find(|w| w.0 == postman_id)
        .expect("worker row");
    assert_eq!(&worker.4, province);

    // The monitoring page shows the same numbers; a province officer sees only theirs.
    let shown = central.get(&format!("{page}?province=01")).await;
    assert_eq!(shown.status, StatusCode::OK);
    // Percentages as Vietnamese writes them: 42,2%.
    let percent = |x: f64| format!("{:.1}%", 100.0 * x).replace('.', ",");
    let rr1 = percent(20.0 / 45.0);
    let rr3 = percent(20.0 / (29.0 + 16.0 * e));
    assert!(
        shown.body.contains(&rr1) && shown.body.contains(&rr3),
        "{rr1} {rr3}"
    );
    assert!(shown.body.contains("postman"), "the worker's row");
    let national = central.get(&page).await;
    assert!(national.body.contains(&percent(20.0 / 57.0)));
    assert_eq!(
        officer.get(&format!("{page}?province=79")).await.status,
        StatusCode::FORBIDDEN
    );

    // Taking back the forms not handed out: the 10 more leave; another province's officer
    // finds no such assignment.
    let withdraw = format!("/staff/waves/{WAVE}/fieldwork/{more_id}/withdraw");
    let mut officer79 = Browser::signed_in(&app, "officer79", PASSWORD).await;
    assert_eq!(
        officer79.post(&withdraw, &[]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(outcomes(&store, more_id).await.len(), 10);
    // Of the 10 more, 31 came back (imported) and 32 was handed out: both stay.
    import_paper_form(&store, &psu_a, "31", 4).await;
    let shown_more = outcomes(&store, more_id).await;
    let saved = postman
        .post_fields(
            &format!("/staff/field/{more_id}"),
            &marks(&shown_more, &[(32, Outcome::HandedOut)]),
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let taken = officer.post(&withdraw, &[]).await;
    assert_eq!(taken.status, StatusCode::SEE_OTHER);
    assert_eq!(
        outcomes(&store, more_id).await,
        vec![(31, "assigned".to_owned()), (32, "handed_out".to_owned())]
    );
    // A page shown before the take-back still saves what is left, and names what is gone.
    let late = marks(
        &shown_more,
        &[(31, Outcome::Collected), (33, Outcome::Refused)],
    );
    let saved = postman
        .post_fields(&format!("/staff/field/{more_id}"), &late)
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let after = postman.get(&format!("/staff/field/{more_id}")).await;
    assert!(
        after
            .body
            .contains("Đã lưu 1 phiếu. Phiếu số 33 đã được sửa"),
        "{}",
        after.body
    );
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'fieldwork_withdrawn'"
        )
        .await,
        1
    );
    // Voiding the batch voids its five codes not answered: their forms leave the assignment
    // and the rates. Before: I=20, R=7, NC=2, UH=16, NE=1; 31 came back (I+1, UH-1), 32 went
    // out (R+1, UH-1), 33-40 were taken back (UH-8): I=21, R=8, NC=2, UH=6, NE=1, 38 forms;
    // the voided codes were R=3 (2, 4, 5), NC=1 (3), UH=1 (6): I=21, R=5, NC=1, UH=5, NE=1.
    let voided = central
        .post(
            &format!("/staff/batches/{batch}/void"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(voided.status, StatusCode::SEE_OTHER);
    let tallies = store.fieldwork(WAVE, Some("01")).await.expect("tallies");
    let a = &commune(&tallies, &psu_a);
    assert_eq!(
        (
            a.forms,
            a.complete,
            a.refusal,
            a.non_contact,
            a.unknown,
            a.ineligible
        ),
        (33, 21, 5, 1, 5, 1)
    );
    assert_eq!(
        postman
            .get(&format!("/staff/field/{codes_id}"))
            .await
            .body
            .matches("name=\"o")
            .count(),
        1,
        "only the answered code is left on the worker's page"
    );

    // Once the wave is closed its outcomes are final.
    let closed = central
        .post(&format!("/staff/waves/{WAVE}/close"), &[("confirm", "yes")])
        .await;
    assert_eq!(closed.status, StatusCode::SEE_OTHER);
    let shown = outcomes(&store, paper_id).await;
    let late_mark = marks(&shown, &[(28, Outcome::Refused)]);
    let refused = postman
        .post_fields(&format!("/staff/field/{paper_id}"), &late_mark)
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.body.contains("Đợt đã đóng"));
    assert_eq!(outcomes(&store, paper_id).await, shown);
    assert_eq!(
        officer.post(&withdraw, &[]).await.status,
        StatusCode::CONFLICT
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fieldwork_sqlite() {
    let db = common::sqlite_db();
    story(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fieldwork_postgres() {
    let Some((url, name)) = common::postgres_db().await else {
        return;
    };
    story(&url).await;
    common::drop_postgres_db(&name).await;
}

/// Migrations up to 0023 (copied to a folder of their own), rows that refer to accounts, then
/// every migration: the field role's migration keeps the accounts and what refers to them, and
/// the new rules hold. SQLite rebuilds the accounts table for it (with the references checked
/// at commit), PostgreSQL changes its constraints.
async fn field_role_migration(url: &str, engine: &str) {
    use sqlx::migrate::Migrator;
    sqlx::any::install_default_drivers();
    let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../migrations")
        .join(engine);
    let before = tempfile::tempdir().expect("dir");
    for entry in std::fs::read_dir(&all).expect("migrations") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        if name.as_str() < "0024" {
            std::fs::copy(&path, before.path().join(&name)).expect("copy");
        }
    }
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .expect("connect");
    Migrator::new(before.path())
        .await
        .expect("migrator")
        .run(&pool)
        .await
        .expect("up to 0023");
    for sql in [
        "INSERT INTO staff_users (id, username, display_name, role, province_geography, \
         province_code, password_hash, created_at) VALUES \
         (1, 'admin', 'A', 'admin', NULL, NULL, 'h', 't'), \
         (2, 'officer', 'O', 'provincial', '2025', '01', 'h', 't'), \
         (3, 'stats', 'S', 'statistician', NULL, NULL, 'h', 't')",
        "INSERT INTO waves (code, title, year, geography, created_at) \
         VALUES ('w', 'W', 2026, '2025', 't')",
        "INSERT INTO computations (id, wave_code, methodology, status, heartbeat_at, \
         started_by, started_at) VALUES (1, 'w', 'm', 'draft', 0, 3, 't')",
        "INSERT INTO computation_comments (computation_id, author_id, at, body) \
         VALUES (1, 2, 't', 'ok')",
        "INSERT INTO paper_forms (id, wave_code, form_key, province_code, status, created_at, \
         updated_at) VALUES (1, 'w', 'k', '01', 'keyed_once', 't', 't')",
        "INSERT INTO paper_entries (paper_form, clerk_id, answers, entered_at) \
         VALUES (1, 2, '{}', 't')",
    ] {
        sqlx::query(sql).execute(&pool).await.expect(sql);
    }
    Migrator::new(all.as_path())
        .await
        .expect("migrator")
        .run(&pool)
        .await
        .expect("every migration");
    let accounts: Vec<(i64, String, Option<String>)> =
        sqlx::query_as("SELECT id, role, province_code FROM staff_users ORDER BY id")
            .fetch_all(&pool)
            .await
            .expect("accounts");
    assert_eq!(
        accounts,
        vec![
            (1, "admin".into(), None),
            (2, "provincial".into(), Some("01".into())),
            (3, "statistician".into(), None),
        ]
    );
    for (sql, expected) in [
        ("SELECT COUNT(*) FROM computations WHERE started_by = 3", 1),
        (
            "SELECT COUNT(*) FROM computation_comments WHERE author_id = 2",
            1,
        ),
        ("SELECT COUNT(*) FROM paper_entries WHERE clerk_id = 2", 1),
    ] {
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.expect(sql);
        assert_eq!(n, expected, "{sql}");
    }
    if engine == "sqlite" {
        let broken: Vec<(String,)> =
            sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
                .fetch_all(&pool)
                .await
                .expect("foreign key check");
        assert!(broken.is_empty(), "{broken:?}");
    }
    // The field role with a province; without one, or a viewer with one, is refused.
    let insert = |id: i64, role: &str, province: Option<&str>| {
        sqlx::query(
            "INSERT INTO staff_users (id, username, display_name, role, province_geography, \
             province_code, password_hash, created_at) VALUES ($1, $2, 'F', $3, $4, $5, 'h', 't')",
        )
        .bind(id)
        .bind(format!("user{id}"))
        .bind(role.to_owned())
        .bind(province.map(|_| "2025"))
        .bind(province.map(str::to_owned))
    };
    insert(4, "field", Some("01"))
        .execute(&pool)
        .await
        .expect("a field worker");
    for (id, role, province) in [
        (5, "field", None),
        (6, "viewer", Some("01")),
        (7, "courier", None),
    ] {
        assert!(
            insert(id, role, province).execute(&pool).await.is_err(),
            "{role} {province:?} refused"
        );
    }
    // References to accounts are still enforced.
    let orphan = sqlx::query(
        "INSERT INTO computation_comments (computation_id, author_id, at, body) \
         VALUES (1, 99, 't', 'x')",
    )
    .execute(&pool)
    .await;
    assert!(orphan.is_err(), "a comment by no account is refused");
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_role_migration_sqlite() {
    let db = common::sqlite_db();
    field_role_migration(&format!("{}?mode=rwc", db.url), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_role_migration_postgres() {
    let Some(name) = common::postgres_empty_db().await else {
        return;
    };
    field_role_migration(&common::postgres_owner_url(&name), "postgres").await;
    common::drop_postgres_db(&name).await;
}
