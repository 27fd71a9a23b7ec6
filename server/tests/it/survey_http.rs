//! The citizen survey over HTTP, in-process: the whole questionnaire with plain form posts (no
//! JavaScript), validation beside the field, relevance, resume, the receipt, double taps, used
//! codes, forged posts, and the JSON submission the hydrated page and the outbox use. Runs on
//! SQLite and PostgreSQL.

use crate::common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use sipas_app::domain::SampleKind;
use sipas_app::ports::Store;
use sipas_app::survey::flow;
use sipas_app::survey::questionnaire::{Answers, Questionnaire};
use sipas_server::store::{self, ConnectOptions, SqlStore};

use common::{app_on, get, send};

const HOST: &str = "127.0.0.1:3000";

/// Seeds the demo wave and issues `count` codes for one sample point.
async fn setup(url: &str, count: usize) -> (axum::Router, SqlStore, Vec<String>, Questionnaire) {
    let db = store::open(url, &ConnectOptions::default())
        .await
        .expect("open");
    let codes = common::seed_codes(&db, &db, count).await;
    let questionnaire = db
        .questionnaire("sipas-2023", 1)
        .await
        .expect("questionnaire");
    let app = app_on(url).await;
    (app, db, codes, questionnaire)
}

async fn post_form(
    app: &axum::Router,
    uri: &str,
    fields: &[(&str, String)],
    origin: &str,
) -> (StatusCode, String) {
    let body = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::HOST, HOST)
        .header(header::ORIGIN, origin)
        .body(Body::from(body))
        .expect("request");
    let (status, headers, _) = send(app, request).await;
    let location = headers
        .get(header::LOCATION)
        .map(|v| v.to_str().expect("location").to_owned())
        .unwrap_or_default();
    (status, location)
}

fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn hidden(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in page"))
        + marker.len();
    body[start..].split('"').next().expect("value").to_owned()
}

fn step_of(location: &str) -> usize {
    location
        .split("step=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no step in {location}"))
}

/// Answers every on-screen item of a section with its first choice, as a respondent would.
fn first_choices(q: &Questionnaire, step: usize, answers: &Answers) -> Vec<(String, i64)> {
    q.sections[step]
        .items
        .iter()
        .enumerate()
        .filter(|(i, _)| flow::item_on_screen(q, step, *i, answers))
        .map(|(_, item)| {
            (
                item.code.clone(),
                q.choices(item).next().expect("choice").value,
            )
        })
        .collect()
}

async fn whole_survey_without_javascript(url: &str) {
    let (app, db, codes, q) = setup(url, 3).await;
    let code = &codes[0];
    let page = format!("/s/{code}");
    let origin = format!("http://{HOST}");

    // The first screen: a plain form posting back to the page, no step or sample questions.
    let (status, _, body) = get(&app, &page).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(&format!("action=\"{page}\"")) && body.contains("method=\"post\""));
    assert!(body.contains("name=\"used_service\""));
    assert!(
        !body.contains("name=\"acc_1\""),
        "later sections are not on the first screen"
    );
    let submission_id = hidden(&body, "submission_id");
    let started_at = hidden(&body, "started_at");
    let base = |step: usize, nav: &str| {
        vec![
            ("step", step.to_string()),
            ("nav", nav.to_owned()),
            ("submission_id", submission_id.clone()),
            ("started_at", started_at.clone()),
        ]
    };

    // Nothing answered: back to the same screen, the message beside the question.
    let (status, location) = post_form(&app, &page, &base(0, "next"), &origin).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, format!("{page}?step=0&check=1"));
    let (_, _, body) = get(&app, &location).await;
    assert!(
        body.contains("id=\"err-used_service\""),
        "error beside the field"
    );
    assert!(body.contains("Vui lòng chọn một câu trả lời."));
    assert!(body.contains("aria-invalid=\"true\""));

    // The same-screen follow-up ("how": shown only for users) says when to answer it.
    assert!(body.contains("name=\"channel_used\"") && body.contains("only-if"));

    // Walk the questionnaire, answering every on-screen item with its first choice.
    let mut answers = Answers::new();
    let mut step = 0;
    let mut visited = vec![];
    let receipt_location = loop {
        visited.push(q.sections[step].id.clone());
        let chosen = first_choices(&q, step, &answers);
        let (_, _, body) = get(&app, &format!("{page}?step={step}")).await;
        for (item, _) in &chosen {
            assert!(
                body.contains(&format!("name=\"{item}\"")),
                "{item} on screen"
            );
        }
        let mut fields = base(step, "next");
        for (item, value) in &chosen {
            answers.insert(item.clone(), *value);
            fields.push((item.as_str(), value.to_string()));
        }
        let last = flow::next_section(&q, &answers, step).is_none();
        if last {
            fields[1].1 = "submit".into();
        }
        let (status, location) = post_form(&app, &page, &fields, &origin).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
        if last {
            break location;
        }
        step = step_of(&location);
    };
    assert_eq!(
        visited.len(),
        q.sections.len(),
        "a service user sees every section"
    );
    assert!(
        receipt_location.starts_with("/receipt/"),
        "{receipt_location}"
    );

    // The receipt page confirms, and the response carries the code's sample point.
    let number = receipt_location.trim_start_matches("/receipt/").to_owned();
    let (status, _, body) = get(&app, &receipt_location).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(&number) && body.contains("Cảm ơn bạn!"));
    let stored = db.response(&number).await.expect("stored");
    assert_eq!(
        (
            stored.sample.province_code.as_str(),
            stored.sample.stratum.as_str(),
            stored.sample.psu.as_str()
        ),
        (
            "79",
            sipas_server::services::demo::EXAMPLE_STRATUM,
            sipas_server::services::demo::EXAMPLE_COMMUNE
        )
    );
    assert_eq!(stored.answers, answers);
    assert_eq!(stored.started_at.as_deref(), Some(started_at.as_str()));

    // A double tap on "Submit" (the same form posted again) lands on the same receipt.
    let mut again = base(step, "submit");
    let last_answers = first_choices(&q, step, &answers);
    for (item, value) in &last_answers {
        again.push((item.as_str(), value.to_string()));
    }
    let (_, location) = post_form(&app, &page, &again, &origin).await;
    assert_eq!(location, receipt_location);

    // Another submission with the used code: no second response, a clear message.
    again[2].1 = "another-submission-id-0001".into();
    let (_, location) = post_form(&app, &page, &again, &origin).await;
    assert_eq!(location, page);
    let (_, _, body) = get(&app, &page).await;
    assert!(body.contains("Mã này đã được sử dụng"), "used-code message");
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM responses")
        .fetch_one(db.pool())
        .await
        .expect("count");
    assert_eq!(count, 1);

    // A non-user skips the service sections; a forged cross-site post is refused.
    let page2 = format!("/s/{}", codes[1]);
    let (_, _, body) = get(&app, &page2).await;
    let id2 = hidden(&body, "submission_id");
    let fields = vec![
        ("step", "0".to_owned()),
        ("nav", "next".to_owned()),
        ("submission_id", id2),
        ("used_service", "2".to_owned()),
    ];
    let (status, _) = post_form(&app, &page2, &fields, "https://evil.example").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, location) = post_form(&app, &page2, &fields, &origin).await;
    let policy = q
        .sections
        .iter()
        .position(|s| s.id == "policy")
        .expect("policy");
    assert_eq!(step_of(&location), policy);

    // Resume: the draft brings the respondent back to where they were, answers ticked.
    let (_, _, body) = get(&app, &page2).await;
    assert!(
        body.contains("name=\"pol_acc_1\""),
        "resumes on the policy section"
    );
    let (_, _, body) = get(&app, &format!("{page2}?step=0")).await;
    assert!(body.contains("value=\"2\" checked"), "earlier answer kept");

    // Typed codes are forgiving: lower case and dashes lead to the canonical page.
    let typed = codes[2].to_lowercase();
    let (status, headers, _) =
        get(&app, &format!("/s/go?code={}-{}", &typed[..4], &typed[4..])).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        headers[header::LOCATION],
        format!("/s/{}", codes[2]).as_str()
    );
    let (_, _, body) = get(&app, "/s/ABCD").await;
    assert!(body.contains("Không tìm thấy mã này"));
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn survey_without_javascript_sqlite() {
    let db = common::sqlite_db();
    whole_survey_without_javascript(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn survey_without_javascript_postgres() {
    let Some((url, name)) = common::postgres_db().await else {
        return;
    };
    whole_survey_without_javascript(&url).await;
    common::drop_postgres_db(&name).await;
}

async fn post_json(
    app: &axum::Router,
    uri: &str,
    json: &serde_json::Value,
) -> (StatusCode, String) {
    let request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json")
        .body(Body::from(json.to_string()))
        .expect("request");
    let (status, _, body) = send(app, request).await;
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn json_submission_is_idempotent_and_validated() {
    let db = common::sqlite_db();
    let (app, store, codes, q) = setup(&db.url, 1).await;
    let mut answers = Answers::new();
    let mut step = Some(0);
    while let Some(s) = step {
        answers.extend(first_choices(&q, s, &answers));
        step = flow::next_section(&q, &answers, s);
    }
    let request = |id: &str, answers: &Answers| {
        serde_json::json!({ "request": {
            "code": codes[0].to_lowercase(),
            "submission_id": id,
            "answers": answers,
            "language": "en",
            "started_at": "2026-11-27T08:00:00Z",
        }})
    };

    // Incomplete: nothing stored, the first section to fix and the problems.
    let mut partial = answers.clone();
    partial.remove("acc_2");
    let (status, body) = post_json(
        &app,
        "/api/survey/submit",
        &request("client-id-000000001", &partial),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("Incomplete") && body.contains("acc_2"),
        "{body}"
    );

    let (_, first) = post_json(
        &app,
        "/api/survey/submit",
        &request("client-id-000000001", &answers),
    )
    .await;
    assert!(first.contains("Accepted"), "{first}");
    let (_, retry) = post_json(
        &app,
        "/api/survey/submit",
        &request("client-id-000000001", &answers),
    )
    .await;
    assert_eq!(first, retry, "a retry gets the same receipt");
    let (_, other) = post_json(
        &app,
        "/api/survey/submit",
        &request("client-id-000000002", &answers),
    )
    .await;
    assert!(other.contains("CodeUsed"), "{other}");
    let (status, body) = post_json(&app, "/api/survey/submit", &request("bad id", &answers)).await;
    assert_ne!(status, StatusCode::OK);
    assert!(body.contains("submission_id"), "{body}");

    let (count, language): (i64, String) =
        sqlx::query_as("SELECT COUNT(*), MAX(language) FROM responses")
            .fetch_one(store.pool())
            .await
            .expect("count");
    assert_eq!((count, language.as_str()), (1, "en"));

    // The export: one row, the sample point, the paradata, an empty cell for every hidden item.
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("responses.csv");
    let summary = sipas_server::services::export::export_responses(&store, "sipas-2026-demo", &out)
        .await
        .expect("export");
    assert_eq!((summary.rows, summary.open_link), (1, 0));
    let mut reader = csv::Reader::from_path(&out).expect("csv");
    let header = reader.headers().expect("header").clone();
    let row = reader.records().next().expect("a row").expect("record");
    let cell = |name: &str| {
        let at = header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{name}"));
        row[at].to_owned()
    };
    assert_eq!(
        (
            cell("province"),
            cell("stratum"),
            cell("psu"),
            cell("sample")
        ),
        (
            "79".into(),
            sipas_server::services::demo::EXAMPLE_STRATUM.into(),
            sipas_server::services::demo::EXAMPLE_COMMUNE.into(),
            "probability".into()
        )
    );
    assert_eq!(
        (cell("language"), cell("mode")),
        ("en".into(), "web".into())
    );
    assert_eq!(cell("submitted_on").len(), "2026-11-27".len());
    assert_eq!(cell("acc_2"), answers["acc_2"].to_string());
    // The staff export's columns: a random export_id, never the receipt number.
    assert_eq!(header.len(), 17 + q.items().count());
    assert_eq!(&header[0], "export_id");
    let receipt: String = sqlx::query_scalar("SELECT receipt FROM responses")
        .fetch_one(store.pool())
        .await
        .expect("receipt");
    assert!(
        !row.iter().any(|c| c == receipt),
        "no receipt number: {row:?}"
    );
    // The file is microdata `sipas compute` reads (export_id serves as the response id).
    let methodology = sipas_stats::methodology::Methodology::from_toml(
        sipas_server::services::questionnaires::SIPAS_2023_METHODOLOGY,
    )
    .expect("methodology");
    let stats = sipas_stats::microdata::read_csv(
        std::fs::read(&out).expect("read").as_slice(),
        &methodology,
    )
    .expect("the export is microdata");
    assert_eq!(stats.design.n_psus(), 1);
    assert!(matches!(
        sipas_server::services::export::export_responses(&store, "nope", &out).await,
        Err(sipas_server::services::export::ExportError::UnknownWave(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn open_link_makes_a_non_probability_code() {
    let db = common::sqlite_db();
    let (app, store, _, _) = setup(&db.url, 1).await;
    let (status, _, body) = get(&app, "/s/open/sipas-2026-demo").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<select") && body.contains("Hà Nội"));
    let origin = format!("http://{HOST}");
    let (_, location) = post_form(
        &app,
        "/s/open/sipas-2026-demo",
        &[("province", String::new())],
        &origin,
    )
    .await;
    assert!(location.ends_with("?missing=province"), "{location}");
    let (status, location) = post_form(
        &app,
        "/s/open/sipas-2026-demo",
        &[("province", "01".into())],
        &origin,
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let code = location.trim_start_matches("/s/").to_owned();
    let (_, _, body) = get(&app, &location).await;
    assert!(
        body.contains("không chọn mẫu ngẫu nhiên"),
        "the page says it is not a random sample"
    );
    let code = sipas_app::survey::codes::InvitationCode::parse(&code).expect("a real code");
    let invitation = store
        .invitation(&sipas_server::services::invitations::hash(&code))
        .await
        .expect("stored");
    assert_eq!(invitation.kind, SampleKind::Open);
    assert_eq!(invitation.sample.province_code, "01");
    // A wave without the open link says the survey is not open.
    let (_, _, body) = get(&app, "/s/open/no-such-wave").await;
    assert!(body.contains("Khảo sát đã đóng"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn service_worker_is_served_with_a_policy_that_lets_it_fetch() {
    let (app, _db) = common::app().await;
    let (status, headers, body) = get(&app, "/sw.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .expect("type")
            .starts_with("text/javascript")
    );
    assert_eq!(
        headers[header::CONTENT_SECURITY_POLICY],
        "default-src 'self'"
    );
    assert!(body.contains("addEventListener('fetch'"));
    // The cache is named after the build (here, without a bundle, the package version).
    assert!(
        !body.contains("__SIPAS_BUILD__"),
        "the build tag is filled in"
    );
    assert!(
        body.contains("const CACHE = 'sipas-v"),
        "cache name: {body}"
    );
}

/// A JSON server-function call from a browser holding `cookie` (none: a first visit).
async fn post_json_as(
    app: &axum::Router,
    uri: &str,
    cookie: Option<&str>,
    json: &serde_json::Value,
) -> (StatusCode, String) {
    let mut request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let request = request.body(Body::from(json.to_string())).expect("request");
    let (status, _, body) = send(app, request).await;
    (status, body)
}

/// The device id a response hands a browser that came without one.
fn device_cookie_set(headers: &axum::http::HeaderMap) -> Option<String> {
    let set = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("sipas_device="))?;
    for attribute in ["Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=31536000"] {
        assert!(set.contains(attribute), "{attribute} in {set}");
    }
    let id = set.split(';').next()?.trim_start_matches("sipas_device=");
    assert!(sipas_app::survey::device::is_device_id(id), "{set}");
    Some(id.to_owned())
}

async fn device_rows(db: &SqlStore, code_hash: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT device_hash FROM code_devices WHERE code_hash = $1")
        .bind(code_hash)
        .fetch_all(db.pool())
        .await
        .expect("device rows")
}

/// The "code answered from many devices" check end to end: the cookie the survey page sets,
/// drafts and the submission counting the browsers that sent it back (a stale draft too), only
/// per-code hashes stored and dropped once the response is in, the flag under the threshold, a
/// browser refusing cookies never counted, and a bound on what one code can store.
async fn devices_are_counted_per_code(url: &str) {
    use sipas_app::survey::codes::{InvitationCode, hash};
    use sipas_app::survey::device::device_hash;
    use sipas_stats::quality::{Flag, QualityThresholds};
    let (app, db, codes, q) = setup(url, 6).await;
    let code_hash = |code: &str| hash(&InvitationCode::parse(code).expect("code"));
    let mut answers = Answers::new();
    let mut step = Some(0);
    while let Some(s) = step {
        answers.extend(first_choices(&q, s, &answers));
        step = flow::next_section(&q, &answers, s);
    }
    let draft = |code: &str, revision: u64| {
        serde_json::json!({ "code": code, "answers": {}, "step": 0,
            "started_at": null, "revision": revision })
    };
    let submit = |code: &str, id: &str| {
        serde_json::json!({ "request": { "code": code, "submission_id": id,
            "answers": answers, "language": "vi", "started_at": "2026-11-27T08:00:00Z" }})
    };

    // The survey page hands a browser without one a device id; one that has it gets none.
    let (status, headers, _) = get(&app, &format!("/s/{}", codes[0])).await;
    assert_eq!(status, StatusCode::OK);
    let first = device_cookie_set(&headers).expect("a device cookie on the survey page");
    let (_, headers, _) = get(&app, "/ket-qua").await;
    assert!(
        device_cookie_set(&headers).is_none(),
        "only survey pages set it"
    );

    // Four browsers save drafts of one code; the fourth's is stale, and counts all the same.
    let browsers: Vec<String> = (0..4)
        .map(|i| {
            if i == 0 {
                first.clone()
            } else {
                format!("{i:032x}")
            }
        })
        .collect();
    for (browser, revision) in browsers.iter().zip([1, 2, 3, 1]) {
        let cookie = format!("lang=vi; sipas_device={browser}");
        let (status, body) = post_json_as(
            &app,
            "/api/survey/draft",
            Some(&cookie),
            &draft(&codes[0], revision),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body.contains("Stale"),
            revision == 1 && browser != &first,
            "{body}"
        );
    }
    // Saves without the cookie (a browser refusing it) are never counted: each would look new.
    for revision in 4..7 {
        let (status, body) =
            post_json_as(&app, "/api/survey/draft", None, &draft(&codes[0], revision)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let hash0 = code_hash(&codes[0]);
    let mut stored = device_rows(&db, &hash0).await;
    stored.sort();
    let mut expected: Vec<String> = browsers.iter().map(|b| device_hash(&hash0, b)).collect();
    expected.sort();
    assert_eq!(
        stored, expected,
        "only hashes with the code, one per browser"
    );
    assert!(stored.iter().all(|h| !browsers.contains(h)));

    // The same browser on another code leaves an unrelated hash.
    let cookie = format!("sipas_device={first}");
    let (status, body) = post_json_as(
        &app,
        "/api/survey/draft",
        Some(&cookie),
        &draft(&codes[1], 1),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let hash1 = code_hash(&codes[1]);
    assert_eq!(
        device_rows(&db, &hash1).await,
        vec![device_hash(&hash1, &first)]
    );
    assert!(!stored.contains(&device_hash(&hash1, &first)));
    // A second browser on it, without JavaScript (a plain form post).
    let second = format!("{:032x}", 77);
    let request = Request::post(format!("/s/{}", codes[1]))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::HOST, HOST)
        .header(header::ORIGIN, format!("http://{HOST}"))
        .header(header::COOKIE, format!("sipas_device={second}"))
        .body(Body::from("step=0&nav=next"))
        .expect("request");
    let (status, headers, _) = send(&app, request).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(device_cookie_set(&headers).is_none(), "it has one");
    assert_eq!(device_rows(&db, &hash1).await.len(), 2);

    // Submissions: the count moves to the response and the hashes go. The first comes from
    // a fifth browser, which counts too.
    let (status, body) = post_json_as(
        &app,
        "/api/survey/submit",
        Some(&format!("sipas_device={:032x}", 5)),
        &submit(&codes[0], "devices-submission-0"),
    )
    .await;
    assert!(
        status == StatusCode::OK && body.contains("Accepted"),
        "{body}"
    );
    let (status, body) = post_json_as(
        &app,
        "/api/survey/submit",
        Some(&cookie),
        &submit(&codes[1], "devices-submission-1"),
    )
    .await;
    assert!(
        status == StatusCode::OK && body.contains("Accepted"),
        "{body}"
    );
    assert!(device_rows(&db, &hash0).await.is_empty());
    assert!(device_rows(&db, &hash1).await.is_empty());

    // A bound on what one code can store: 60 browsers, 50 kept.
    for i in 0..60 {
        let cookie = format!("sipas_device={:032x}", 1_000 + i);
        let (status, body) = post_json_as(
            &app,
            "/api/survey/draft",
            Some(&cookie),
            &draft(&codes[2], i + 1),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(device_rows(&db, &code_hash(&codes[2])).await.len(), 50);
    let (status, body) = post_json_as(
        &app,
        "/api/survey/submit",
        None,
        &submit(&codes[2], "devices-submission-2"),
    )
    .await;
    assert!(
        status == StatusCode::OK && body.contains("Accepted"),
        "{body}"
    );

    let devices: Vec<(String, Option<i64>)> = sqlx::query_as(
        "SELECT code_hash, devices FROM responses WHERE wave_code = 'sipas-2026-demo'",
    )
    .fetch_all(db.pool())
    .await
    .expect("devices");
    let of = |h: &str| devices.iter().find(|(c, _)| c == h).map(|(_, d)| *d);
    assert_eq!(of(&hash0), Some(Some(5)));
    assert_eq!(of(&hash1), Some(Some(2)));
    assert_eq!(of(&code_hash(&codes[2])), Some(Some(50)));

    // Three browsers are allowed, four are flagged; the check can be turned off.
    let flagged = |t: QualityThresholds| {
        let db = &db;
        async move {
            let queue = sipas_app::staff::port::CollectedStore::quality_queue(
                db,
                "sipas-2026-demo",
                &t,
                None,
                100,
            )
            .await
            .expect("queue");
            queue
                .into_iter()
                .filter(|row| row.flags(&t).contains(&Flag::ManyDevices))
                .map(|row| row.devices)
                .collect::<Vec<_>>()
        }
    };
    let mut found = flagged(QualityThresholds::default()).await;
    found.sort();
    assert_eq!(found, vec![Some(5), Some(50)]);
    let off = QualityThresholds {
        max_devices: 0,
        ..QualityThresholds::default()
    };
    assert!(flagged(off).await.is_empty());

    // The export carries the count, in the codebook's column.
    let rows = sipas_app::staff::port::CollectedStore::export_page(
        &db,
        "sipas-2026-demo",
        &QualityThresholds::default(),
        None,
        None,
        100,
    )
    .await
    .expect("export");
    let column = sipas_server::services::export::header(&[])
        .iter()
        .position(|c| c == "devices")
        .expect("a devices column");
    let mut exported: Vec<String> = rows
        .iter()
        .map(|row| sipas_server::services::export::cells(row, &[])[column].clone())
        .collect();
    exported.sort();
    assert_eq!(exported, ["2", "5", "50"]);

    // A code whose paper form is stored after drafts on the web: no count, no hashes left.
    let hash3 = code_hash(&codes[3]);
    let cookie = format!("sipas_device={first}");
    post_json_as(
        &app,
        "/api/survey/draft",
        Some(&cookie),
        &draft(&codes[3], 1),
    )
    .await;
    assert_eq!(device_rows(&db, &hash3).await.len(), 1);
    let mut form = common::fixtures::paper_form("", "1", common::fixtures::varied_answers(3));
    form.target = sipas_app::staff::port::PaperTarget::Code {
        code_hash: hash3.clone(),
    };
    let outcomes = common::fixtures::import_paper(&db, "sipas-2026-demo", &[form]).await;
    assert!(
        matches!(
            outcomes.first(),
            Some(sipas_app::staff::port::RowOutcome::New)
        ),
        "{outcomes:?}"
    );
    assert!(device_rows(&db, &hash3).await.is_empty());
    let paper: Option<i64> =
        sqlx::query_scalar("SELECT devices FROM responses WHERE code_hash = $1")
            .bind(&hash3)
            .fetch_one(db.pool())
            .await
            .expect("paper response");
    assert_eq!(paper, None);

    // The hourly sweep: the hashes of codes that take no more answers go (a voided code, a
    // used one whose hashes a race left behind, every code of a wave past its last day);
    // those of codes still open stay.
    use sipas_app::staff::port::FieldStore;
    let today = sipas_app::api::today_iso();
    let (hash4, hash5) = (code_hash(&codes[4]), code_hash(&codes[5]));
    for code in [&codes[4], &codes[5]] {
        post_json_as(&app, "/api/survey/draft", Some(&cookie), &draft(code, 1)).await;
    }
    sqlx::query("INSERT INTO code_devices (code_hash, device_hash) VALUES ($1, $2)")
        .bind(&hash0)
        .bind("left-behind")
        .execute(db.pool())
        .await
        .expect("a leftover");
    sqlx::query("UPDATE invitation_codes SET voided_at = $1 WHERE code_hash = $2")
        .bind(&today)
        .bind(&hash5)
        .execute(db.pool())
        .await
        .expect("void");
    assert_eq!(db.forget_stale_devices(&today).await.expect("sweep"), 2);
    assert!(device_rows(&db, &hash0).await.is_empty());
    assert!(device_rows(&db, &hash5).await.is_empty());
    assert_eq!(device_rows(&db, &hash4).await.len(), 1, "still open");
    sqlx::query("UPDATE waves SET closes_on = '2000-01-01' WHERE code = 'sipas-2026-demo'")
        .execute(db.pool())
        .await
        .expect("past its last day");
    assert_eq!(db.forget_stale_devices(&today).await.expect("sweep"), 1);
    assert!(device_rows(&db, &hash4).await.is_empty());
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn devices_are_counted_per_code_sqlite() {
    let db = common::sqlite_db();
    devices_are_counted_per_code(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn devices_are_counted_per_code_postgres() {
    let Some((url, name)) = common::postgres_db().await else {
        return;
    };
    devices_are_counted_per_code(&url).await;
    common::drop_postgres_db(&name).await;
}

/// PostgreSQL, two servers: a draft saved on one while the other stores the code's response
/// (or a paper import claims it) does not count its device, and does not wait for the other
/// transaction either; no device hash is left behind the moved count.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_device_racing_the_submission_is_not_left_behind_postgres() {
    let Some((url, name)) = common::postgres_db().await else {
        return;
    };
    device_racing_the_submission(&url).await;
    common::drop_postgres_db(&name).await;
}

async fn device_racing_the_submission(url: &str) {
    use sipas_app::survey::response::{Draft, DraftSaved};
    let (_app, db, codes, _q) = setup(url, 2).await;
    let db = std::sync::Arc::new(db);
    let code_hash = sipas_app::survey::codes::hash(
        &sipas_app::survey::codes::InvitationCode::parse(&codes[0]).expect("code"),
    );
    // "The other server": a transaction that has claimed the code and not committed yet.
    let mut other = db.pool().begin().await.expect("begin");
    sqlx::query(
        "UPDATE invitation_codes SET used_at = '2026-12-07T00:00:00Z' WHERE code_hash = $1",
    )
    .bind(&code_hash)
    .execute(&mut *other)
    .await
    .expect("claim");
    // It has counted the code's devices and deleted their hashes; it commits later.
    sqlx::query("DELETE FROM code_devices WHERE code_hash = $1")
        .bind(&code_hash)
        .execute(&mut *other)
        .await
        .expect("forget");
    let saving = {
        let db = db.clone();
        let code_hash = code_hash.clone();
        tokio::spawn(async move {
            let draft = Draft {
                answers: Answers::new(),
                step: 0,
                started_at: "2026-12-07T00:00:00Z".into(),
                revision: 1,
            };
            db.save_draft(&code_hash, &draft, Some(&"d".repeat(64)))
                .await
        })
    };
    // Answered while the other transaction is still open: it never waits on it.
    let saved: Result<DraftSaved, _> =
        tokio::time::timeout(std::time::Duration::from_secs(5), saving)
            .await
            .expect("the save does not wait for the other transaction")
            .expect("joined");
    assert!(saved.is_ok(), "{saved:?}");
    other.commit().await.expect("commit");
    assert!(
        device_rows(&db, &code_hash).await.is_empty(),
        "the device of a code being claimed is not counted"
    );

    // A claim that rolls back: the device skipped meanwhile is counted at its next save (the
    // server remembers only the devices it counted).
    let second = sipas_app::survey::codes::hash(
        &sipas_app::survey::codes::InvitationCode::parse(&codes[1]).expect("code"),
    );
    let draft = |revision| Draft {
        answers: Answers::new(),
        step: 0,
        started_at: "2026-12-07T00:00:00Z".into(),
        revision,
    };
    let device = "e".repeat(64);
    let mut other = db.pool().begin().await.expect("begin");
    sqlx::query("UPDATE invitation_codes SET used_at = 'x' WHERE code_hash = $1")
        .bind(&second)
        .execute(&mut *other)
        .await
        .expect("claim");
    db.save_draft(&second, &draft(1), Some(&device))
        .await
        .expect("saved");
    other.rollback().await.expect("rollback");
    assert!(device_rows(&db, &second).await.is_empty());
    db.save_draft(&second, &draft(2), Some(&device))
        .await
        .expect("saved");
    assert_eq!(device_rows(&db, &second).await.len(), 1);
    db.close().await;
}
