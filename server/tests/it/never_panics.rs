//! Whatever a browser or an attacker posts to the survey endpoints, the server answers it with a
//! status below 500 (issue 10, item 6): arbitrary form bodies to `POST /s/{code}` and arbitrary
//! JSON to `POST /api/survey/submit`, through the in-process router on SQLite. A 500 would mean
//! a parser or handler failed on input it should refuse; a 503 ("temporarily unavailable") is
//! not expected either, since the database is healthy throughout. Case counts are modest so CI
//! stays fast; the parsers themselves get thousands of cases in app/ and stats/ and are fuzzed
//! by `scripts/fuzz.sh`.

use crate::common;

use std::collections::BTreeMap;
use std::sync::Mutex;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use sipas_app::ports::Store;
use sipas_server::store::{self, ConnectOptions};

use common::{SqliteDb, app_on, send};

const HOST: &str = "127.0.0.1:3000";
const HTTP_CASES: u32 = 64;

struct Fixture {
    app: axum::Router,
    codes: Vec<String>,
    item_codes: Vec<String>,
    _db: SqliteDb,
}

/// The demo wave, a few fresh codes for one sample point, and the app on that database.
async fn setup() -> Fixture {
    let db = common::sqlite_db();
    let store = store::open(&db.url, &ConnectOptions::default())
        .await
        .expect("open");
    let codes = common::seed_codes(&store, &store, 4).await;
    let questionnaire = store
        .questionnaire("sipas-2023", 1)
        .await
        .expect("questionnaire");
    Fixture {
        app: app_on(&db.url).await,
        codes,
        item_codes: questionnaire.items().map(|i| i.code.clone()).collect(),
        _db: db,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        // Runs outside `proptest!` have no source file to keep regressions beside.
        failure_persistence: None,
        ..Config::default()
    })
}

fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn field_value() -> impl Strategy<Value = String> {
    prop_oneof![
        (-2i64..12).prop_map(|v| v.to_string()),
        prop::sample::select(
            &[
                "next",
                "back",
                "submit",
                "",
                " 1 ",
                "99",
                "9223372036854775808",
                "18446744073709551615",
                "2026-11-27T08:00:00Z",
                "1970-01-01T00:00:00Z",
                "not a time",
            ][..]
        )
        .prop_map(str::to_owned),
        any::<String>().prop_map(|s| s.chars().take(40).collect()),
        any::<u64>().prop_map(|v| v.to_string()),
    ]
}

/// A form body: well-formed fields (real item names, the control fields, strangers), or bytes.
fn form_body(item_codes: Vec<String>) -> impl Strategy<Value = Vec<u8>> {
    let mut names = item_codes;
    names.extend(
        ["step", "nav", "started_at", "submission_id", "code", ""]
            .iter()
            .map(|s| (*s).to_owned()),
    );
    let fields = prop::collection::vec(
        (
            prop_oneof![
                4 => prop::sample::select(names),
                1 => any::<String>().prop_map(|s| s.chars().take(20).collect()),
            ],
            field_value(),
        ),
        0..30,
    )
    .prop_map(|fields| {
        fields
            .iter()
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
            .into_bytes()
    });
    prop_oneof![
        4 => fields,
        1 => prop::collection::vec(any::<u8>(), 0..256),
        1 => "([a-z_]{0,6}=?[0-9%+&;=]{0,6}&?){0,12}".prop_map(String::into_bytes),
    ]
}

/// Which code the post names: a real one (used or not), its lower-case form, or a stranger.
fn code_in_path(codes: Vec<String>) -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(codes.clone()),
        1 => prop::sample::select(codes).prop_map(|c| c.to_lowercase()),
        1 => "[0-9A-Za-z*~$=-]{1,30}",
        1 => any::<String>().prop_map(|s| percent_encode(&s.chars().take(24).collect::<String>())),
    ]
}

async fn post(
    app: &axum::Router,
    uri: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, String) {
    let request = Request::post(uri)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::ACCEPT, "application/json")
        .header(header::HOST, HOST)
        .header(header::ORIGIN, format!("http://{HOST}"))
        .body(Body::from(body))
        .expect("request");
    let (status, _, body) = send(app, request).await;
    (status, body)
}

/// Runs the property and turns a failure into a test failure with proptest's minimal input.
/// The property returns the status it got; the statuses seen are printed and returned, so a
/// test can check its cases reached the handler rather than stopping at a guard.
fn check<S: Strategy>(
    cases: u32,
    strategy: S,
    property: impl Fn(S::Value) -> Result<StatusCode, TestCaseError>,
) -> BTreeMap<u16, usize> {
    let seen = Mutex::new(BTreeMap::new());
    let result = runner(cases).run(&strategy, |value| {
        let status = property(value)?;
        *seen.lock().unwrap().entry(status.as_u16()).or_insert(0) += 1;
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    let seen = seen.into_inner().unwrap();
    eprintln!("statuses: {seen:?}");
    seen
}

#[test]
fn form_posts_never_fail_the_server() {
    let rt = runtime();
    let fixture = rt.block_on(setup());
    let strategy = (
        code_in_path(fixture.codes.clone()),
        form_body(fixture.item_codes.clone()),
    );
    let seen = check(HTTP_CASES, strategy, |(code, body)| {
        let uri = format!("/s/{code}");
        let (status, text) = rt.block_on(post(
            &fixture.app,
            &uri,
            "application/x-www-form-urlencoded",
            body.clone(),
        ));
        prop_assert!(
            status.as_u16() < 500,
            "POST {uri} with {:?} answered {status}: {text}",
            String::from_utf8_lossy(&body)
        );
        Ok(status)
    });
    // Most posts name a real code and reach the flow, which answers with a redirect.
    assert!(
        seen.get(&303).is_some_and(|&n| n > HTTP_CASES as usize / 4),
        "too few posts reached the survey flow: {seen:?}"
    );
}

/// A well-formed submission with arbitrary contents: answers to real and unknown items with any
/// value, any submission id, language and start time, on a real or unknown code.
fn submission(codes: Vec<String>, item_codes: Vec<String>) -> impl Strategy<Value = Vec<u8>> {
    let answers = prop::collection::btree_map(
        prop_oneof![
            40 => prop::sample::select(item_codes),
            1 => any::<String>().prop_map(|s| s.chars().take(20).collect()),
        ],
        prop_oneof![4 => -1i64..10, 1 => any::<i64>()],
        0..70,
    );
    (
        code_in_path(codes),
        prop_oneof![4 => "[0-9a-f-]{16,64}", 1 => any::<String>()],
        answers,
        prop_oneof![
            Just("vi".to_owned()),
            Just("en".to_owned()),
            any::<String>()
        ],
        prop::option::of(field_value()),
    )
        .prop_map(|(code, submission_id, answers, language, started_at)| {
            serde_json::json!({ "request": {
                "code": code,
                "submission_id": submission_id,
                "answers": answers,
                "language": language,
                "started_at": started_at,
            }})
            .to_string()
            .into_bytes()
        })
}

#[test]
fn json_submissions_never_fail_the_server() {
    let rt = runtime();
    let fixture = rt.block_on(setup());
    let strategy = submission(fixture.codes.clone(), fixture.item_codes.clone());
    let seen = check(HTTP_CASES, strategy, |body| {
        let (status, text) = rt.block_on(post(
            &fixture.app,
            "/api/survey/submit",
            "application/json",
            body.clone(),
        ));
        prop_assert!(
            status.as_u16() < 500,
            "{} answered {status}: {text}",
            String::from_utf8_lossy(&body)
        );
        Ok(status)
    });
    // Well-formed requests reach `service::submit` (200: incomplete, accepted or used; 4xx:
    // unknown code or a bad submission id).
    assert!(
        seen.get(&200).is_some_and(|&n| n > 0),
        "no submission reached the service: {seen:?}"
    );
}

/// Bodies that are not a submission at all: arbitrary bytes, JSON-like text, wrong types.
fn malformed_json() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        any::<String>().prop_map(String::into_bytes),
        "\\{(\"(request|code|submission_id|answers|language|started_at|acc_1)\"|[:,{}\\[\\]0-9a-z\" -]|null|true|1e999|-1){0,40}\\}"
            .prop_map(String::into_bytes),
        prop::sample::select(
            &[
                "",
                "{}",
                "null",
                "[]",
                "{\"request\": null}",
                "{\"request\": {}}",
                "{\"request\": {\"code\": 1}}",
                "{\"request\": {\"code\": \"x\", \"submission_id\": \"0123456789abcdef\", \"answers\": {\"acc_1\": 1.5}, \"language\": \"vi\", \"started_at\": null}}",
                "{\"request\": {\"code\": \"x\", \"submission_id\": \"0123456789abcdef\", \"answers\": {\"acc_1\": 99999999999999999999}, \"language\": \"vi\"}}",
            ][..]
        )
        .prop_map(|s| s.as_bytes().to_vec()),
    ]
}

#[test]
fn malformed_json_never_fails_the_server() {
    let rt = runtime();
    let fixture = rt.block_on(setup());
    let _ = check(HTTP_CASES, malformed_json(), |body| {
        let (status, text) = rt.block_on(post(
            &fixture.app,
            "/api/survey/submit",
            "application/json",
            body.clone(),
        ));
        // `status < 500` on purpose: a malformed server-function body must be refused as the
        // client's mistake (4xx). Before the fix in app/src/error.rs (issue 10, item 4) Leptos
        // answered it with 500 "error deserializing server function arguments"; this property
        // fails on that until the fix lands, and must not be weakened to accept it.
        prop_assert!(
            status.as_u16() < 500,
            "{:?} answered {status}: {text}",
            String::from_utf8_lossy(&body)
        );
        Ok(status)
    });
}
