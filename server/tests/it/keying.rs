//! Double data entry of paper forms (issue #25, part 2): two clerks key a form; agreeing
//! entries become a response, differing ones wait for a third person; the same clerk cannot
//! key a form twice nor decide it; two clerks saving the same form at once are taken one after
//! the other. Both engines.

use std::sync::Arc;

use axum::http::StatusCode;
use sipas_app::domain::{Geography, SampleKind, SamplePoint};
use sipas_app::staff::Role;
use sipas_app::staff::keying::Keyed;
use sipas_app::staff::port::{CollectedStore, FieldStore};
use sipas_app::survey::questionnaire::Answers;
use sipas_server::store::SqlStore;

use crate::common::{self, browser::Browser};

const WAVE: &str = "sipas-2027-keying";
const PASSWORD: &str = "a long enough password 42";

/// The keying screen's fields for a form: its code or commune and number, then every item
/// (empty for an item left empty).
fn fields(target: &[(&str, &str)], answers: &Answers) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = target
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    for item in common::fixtures::sipas_questionnaire().items() {
        let value = answers
            .get(&item.code)
            .map_or_else(String::new, i64::to_string);
        fields.push((item.code.clone(), value));
    }
    fields
}

async fn count(store: &SqlStore, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(WAVE)
        .fetch_one(store.pool())
        .await
        .expect("count")
}

async fn responses(store: &SqlStore) -> i64 {
    count(store, "SELECT COUNT(*) FROM responses WHERE wave_code = $1").await
}

async fn story(url: &str) {
    let store = common::fixtures::seeded_with_staff(
        url,
        PASSWORD,
        &[
            ("clerk1", Role::Central, None),
            ("clerk2", Role::Provincial, Some("79")),
            ("supervisor", Role::Central, None),
            ("officer01", Role::Provincial, Some("01")),
            ("stats", Role::Statistician, None),
            ("viewer", Role::Viewer, None),
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
    let app =
        common::application(store.clone(), sipas_server::startup::Settings::in_process()).router();
    let path = format!("/staff/waves/{WAVE}/keying");

    // Who may key: central staff and provincial officers (their province's forms).
    for (user, expected) in [
        ("viewer", StatusCode::FORBIDDEN),
        ("stats", StatusCode::FORBIDDEN),
        ("clerk1", StatusCode::OK),
        ("officer01", StatusCode::OK),
    ] {
        let mut browser = Browser::signed_in(&app, user, PASSWORD).await;
        let page = browser.get(&path).await;
        assert_eq!(page.status, expected, "{user}");
        if expected == StatusCode::OK {
            assert!(page.body.contains("data-values"), "one field per item");
        }
    }
    let mut clerk1 = Browser::signed_in(&app, "clerk1", PASSWORD).await;
    let mut clerk2 = Browser::signed_in(&app, "clerk2", PASSWORD).await;
    let mut officer01 = Browser::signed_in(&app, "officer01", PASSWORD).await;
    let mut supervisor = Browser::signed_in(&app, "supervisor", PASSWORD).await;
    let before = responses(&store).await;

    // A form handed out without a code: commune and number.
    let form = [("psu", psu.psu.as_str()), ("form_id", "K-1")];
    let first = common::fixtures::varied_answers(0);
    let saved = clerk1.post_fields(&path, &fields(&form, &first)).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(
        responses(&store).await,
        before,
        "one entry is not a response"
    );
    // The same clerk again: refused, whatever the answers.
    let again = clerk1.post_fields(&path, &fields(&form, &first)).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.body.contains("người khác"), "{}", again.body);
    // Another province's officer cannot key a form of 79.
    let other = officer01.post_fields(&path, &fields(&form, &first)).await;
    assert_eq!(other.status, StatusCode::CONFLICT);
    assert!(other.body.contains("tỉnh khác"), "{}", other.body);
    // Bad input: a value the item does not take, named by its field; nothing kept.
    let satisfaction = common::fixtures::sipas_questionnaire()
        .items()
        .find(|i| i.scale == "satisfaction" && first.contains_key(&i.code))
        .expect("a satisfaction item")
        .code
        .clone();
    let mut wrong = first.clone();
    wrong.insert(satisfaction.clone(), 7);
    let refused = clerk2.post_fields(&path, &fields(&form, &wrong)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains(&format!("<li>{satisfaction}: ")),
        "the problem names the item: {}",
        refused.body
    );
    assert!(
        refused.body.contains("value=\"7\""),
        "what was typed is kept"
    );

    // The second clerk keys one answer differently: a supervisor must decide.
    let mut second = first.clone();
    let differing = if first[&satisfaction] == 5 { 4 } else { 5 };
    second.insert(satisfaction.clone(), differing);
    let saved = clerk2.post_fields(&path, &fields(&form, &second)).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(
        responses(&store).await,
        before,
        "differing entries are not a response"
    );
    let forms = store.keyed_forms(WAVE, None, 10).await.expect("forms");
    let keyed = forms.first().expect("a form").clone();
    assert_eq!(keyed.status, sipas_app::staff::keying::FormStatus::Differs);
    assert_eq!(
        keyed.differing_items(&common::fixtures::sipas_questionnaire()),
        vec![satisfaction.clone()]
    );
    let form_path = format!("{path}/{}", keyed.id);
    // Neither clerk decides: no choice on their page, and the server refuses.
    for clerk in [&mut clerk1, &mut clerk2] {
        let page = clerk.get(&form_path).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.body.contains("<select"), "a clerk gets no choice");
        let forced = clerk
            .post(&form_path, &[(satisfaction.as_str(), "5")])
            .await;
        assert_eq!(forced.status, StatusCode::FORBIDDEN);
    }
    // Another province's officer does not see the form at all.
    assert_eq!(
        officer01.get(&form_path).await.status,
        StatusCode::NOT_FOUND
    );
    // The supervisor sees both values side by side and decides against the paper.
    let page = supervisor.get(&form_path).await;
    assert!(page.body.contains("<select"), "{}", page.body);
    assert!(page.body.contains(&satisfaction));
    let missing = supervisor.post(&form_path, &[]).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    let decided = supervisor
        .post(
            &form_path,
            &[(satisfaction.as_str(), &differing.to_string())],
        )
        .await;
    assert_eq!(decided.status, StatusCode::SEE_OTHER, "{}", decided.body);
    assert_eq!(responses(&store).await, before + 1);
    let stored: (String, String) = sqlx::query_as(
        "SELECT channel, answers FROM responses r JOIN paper_forms f ON f.receipt = r.receipt \
         WHERE f.id = $1",
    )
    .bind(keyed.id)
    .fetch_one(store.pool())
    .await
    .expect("stored");
    assert_eq!(stored.0, "paper");
    let stored_answers: Answers = serde_json::from_str(&stored.1).expect("answers");
    assert_eq!(stored_answers, second, "the supervisor's reading");
    // Measured for the quality review like any response (paper: no timing).
    let measured: (Option<i64>, Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT r.answered_items, r.straight_line, r.duration_secs FROM responses r \
         JOIN paper_forms f ON f.receipt = r.receipt WHERE f.id = $1",
    )
    .bind(keyed.id)
    .fetch_one(store.pool())
    .await
    .expect("measures");
    let expected =
        sipas_app::survey::quality::measures(&common::fixtures::sipas_questionnaire(), &second);
    assert_eq!(
        (measured.0, measured.1, measured.2),
        (
            Some(expected.answered_items),
            Some(expected.straight_line),
            None
        )
    );
    // Decided once: a second decision is refused.
    let twice = supervisor
        .post(&form_path, &[(satisfaction.as_str(), "1")])
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);

    // A form found by its printed code: two agreeing entries store it at once.
    let codes = sipas_server::services::invitations::generate(1).expect("codes");
    sipas_app::ports::Store::add_invitations(
        store.as_ref(),
        &SamplePoint {
            wave_code: WAVE.into(),
            geography: Geography::G2025,
            province_code: "79".into(),
            stratum: psu.stratum.clone(),
            psu: psu.psu.clone(),
        },
        SampleKind::Probability,
        "t",
        &[sipas_server::services::invitations::hash(&codes[0])],
    )
    .await
    .expect("code");
    let printed = codes[0].as_str().to_owned();
    let by_code = [("code", printed.as_str())];
    for clerk in [&mut clerk1, &mut clerk2] {
        let saved = clerk
            .post_fields(
                &path,
                &fields(&by_code, &common::fixtures::varied_answers(1)),
            )
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    }
    assert_eq!(responses(&store).await, before + 2);
    let used: Option<String> =
        sqlx::query_scalar("SELECT used_at FROM invitation_codes WHERE code_hash = $1")
            .bind(sipas_server::services::invitations::hash(&codes[0]))
            .fetch_one(store.pool())
            .await
            .expect("code");
    assert!(used.is_some(), "the code is used by the paper response");
    // A third entry of a stored form is refused.
    let third = supervisor
        .post_fields(
            &path,
            &fields(&by_code, &common::fixtures::varied_answers(1)),
        )
        .await;
    assert_eq!(third.status, StatusCode::CONFLICT);

    // Two clerks saving the same new form at once: one is the first entry, the other the
    // second, and the form is stored once.
    let (a, b) = (
        common::fixtures::user_id(&store, "clerk1").await,
        common::fixtures::user_id(&store, "clerk2").await,
    );
    for (number, same) in [("R-1", true), ("R-2", false)] {
        let x = common::fixtures::paper_form(&psu.psu, number, common::fixtures::varied_answers(2));
        let y = common::fixtures::paper_form(
            &psu.psu,
            number,
            common::fixtures::varied_answers(if same { 2 } else { 3 }),
        );
        let (sa, sb) = (Arc::clone(&store), Arc::clone(&store));
        let audit = |_: &Keyed| common::audit("paper_keyed");
        let (ka, kb) = tokio::join!(
            async move { sa.key_form(WAVE, None, &x, a, &audit).await },
            async move { sb.key_form(WAVE, None, &y, b, &audit).await },
        );
        let mut outcomes = vec![ka.expect("a"), kb.expect("b")];
        outcomes.sort_by_key(|k| format!("{k:?}"));
        if same {
            assert_eq!(outcomes, vec![Keyed::FirstEntry, Keyed::Stored]);
        } else {
            assert!(
                matches!(&outcomes[..], [Keyed::Differs { .. }, Keyed::FirstEntry]),
                "{outcomes:?}"
            );
        }
    }
    assert_eq!(responses(&store).await, before + 3);
    let entries = count(
        &store,
        "SELECT COUNT(*) FROM paper_entries e JOIN paper_forms f ON f.id = e.paper_form \
         WHERE f.wave_code = $1",
    )
    .await;
    assert_eq!(entries, 8, "two entries for each of the four forms");
    let audited = count(
        &store,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'paper_resolved' AND wave_code = $1",
    )
    .await;
    assert_eq!(audited, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_entry_sqlite() {
    let db = common::sqlite_db();
    story(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_entry_postgres() {
    let Some((url, name)) = common::postgres_db().await else {
        return;
    };
    story(&url).await;
    common::drop_postgres_db(&name).await;
}
