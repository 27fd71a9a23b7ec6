//! The public routes under abuse: oversized bodies, floods from one client, the open link's
//! hourly cap, slow clients (slow-loris), too many connections, too many requests in flight,
//! open redirects, malformed and tampered requests. Each bound is checked from the outside.

use crate::common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use sipas_server::config::Config;
use sipas_server::web::limits::{Limits, SURVEY_BODY_LIMIT};
use sipas_server::web::{Listener, ServeSettings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::{get, send, sqlite_db, state_on};

const HOST: &str = "127.0.0.1:3000";

fn from_client(mut request: Request<Body>, client: &str) -> Request<Body> {
    let addr: SocketAddr = format!("{client}:40000").parse().expect("addr");
    request.extensions_mut().insert(ConnectInfo(addr));
    request
}

fn open_link_post(client: &str) -> Request<Body> {
    let request = Request::post("/s/open/sipas-2026-demo")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::HOST, HOST)
        .body(Body::from("province=79"))
        .expect("request");
    from_client(request, client)
}

/// The application on a fresh seeded SQLite database, with `limits`.
async fn app_with(limits: Limits) -> (axum::Router, sipas_server::web::AppState, common::SqliteDb) {
    let db = sqlite_db();
    let state = state_on(&db.url, limits).await;
    sipas_server::services::demo::seed(state.staff.store.as_ref())
        .await
        .expect("seed");
    (sipas_server::web::router(state.clone()), state, db)
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_they_are_read() {
    let (app, _state, _db) = app_with(Limits::without_rate_limits()).await;
    let big = "x".repeat(SURVEY_BODY_LIMIT + 1);
    for uri in [
        "/api/survey/submit",
        "/s/AAAAAAAAAAAAAAAAA",
        "/s/open/sipas-2026-demo",
    ] {
        let request = Request::post(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::CONTENT_LENGTH, big.len())
            .body(Body::from(big.clone()))
            .expect("request");
        let (status, _, _) = send(&app, request).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{uri}");
    }
    // A chunked body (no length announced) of a well-formed form post is cut off while it is
    // read: 413, where without the limit it would be read whole and answered.
    let mut chunks: Vec<Result<String, std::io::Error>> = vec![Ok("step=0&nav=next".to_owned())];
    chunks.extend((0..600).map(|i| Ok(format!("&started_at=2026-11-28T08%3A00%3A{:02}Z", i % 60))));
    let request = Request::post("/s/AAAAAAAAAAAAAAAAA")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from_stream(futures_stream(chunks)))
        .expect("request");
    let (status, _, _) = send(&app, request).await;
    assert_eq!(
        status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "chunked oversized body"
    );
}

fn futures_stream(
    items: Vec<Result<String, std::io::Error>>,
) -> impl tokio_stream::Stream<Item = Result<String, std::io::Error>> {
    tokio_stream::iter(items)
}

#[tokio::test]
async fn one_client_flooding_the_open_link_is_slowed_the_others_are_not() {
    let config = Config {
        limit_open_link_per_minute: 5,
        ..Config::default()
    };
    let (app, state, _db) = app_with(Limits::from_config(&config)).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let (status, headers, _) = send(&app, open_link_post("203.0.113.7")).await;
        statuses.push(status);
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert!(headers.contains_key(header::RETRY_AFTER));
        }
    }
    assert!(
        statuses[..5].iter().all(|s| *s == StatusCode::SEE_OTHER),
        "{statuses:?}"
    );
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS);
    // Another client is unaffected.
    let (status, _, _) = send(&app, open_link_post("198.51.100.20")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // Exactly the six admitted posts made codes.
    let hour_ago = "2000-01-01T00:00:00Z";
    let made = state
        .store
        .codes_issued_since(
            "sipas-2026-demo",
            sipas_app::domain::SampleKind::Open,
            hour_ago,
        )
        .await
        .expect("count");
    assert_eq!(made, 6);
}

#[tokio::test]
async fn the_open_link_hands_out_a_capped_number_of_codes_per_hour() {
    let config = Config {
        open_link_codes_per_hour: 3,
        ..Config::default()
    };
    let limits = Limits::from_config(&Config {
        limit_open_link_per_minute: 0,
        ..config
    });
    let (app, state, _db) = app_with(limits).await;
    for i in 0..3 {
        let (status, _, _) = send(&app, open_link_post(&format!("192.0.2.{i}"))).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
    }
    let (status, headers, body) = send(&app, open_link_post("192.0.2.99")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(headers.contains_key(header::RETRY_AFTER));
    assert!(body.contains("try again later"), "{body}");
    let made = state
        .store
        .codes_issued_since(
            "sipas-2026-demo",
            sipas_app::domain::SampleKind::Open,
            "2000-01-01T00:00:00Z",
        )
        .await
        .expect("count");
    assert_eq!(made, 3, "no code made beyond the cap");
}

#[tokio::test]
async fn too_many_requests_in_flight_are_shed_with_retry_after() {
    let config = Config {
        max_requests_in_flight: 1,
        ..Config::default()
    };
    let (app, _state, _db) = app_with(Limits::from_config(&config)).await;
    // The first request holds the only slot: its body never finishes.
    let (_sender, receiver) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(1);
    let slow = Request::post("/api/survey/submit")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        ))
        .expect("request");
    let held = tokio::spawn({
        let app = app.clone();
        async move { send(&app, slow).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, headers, _) = get(&app, "/healthz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers[header::RETRY_AFTER], "5");
    held.abort();
}

#[tokio::test]
async fn language_switch_never_redirects_elsewhere() {
    let (app, _state, _db) = app_with(Limits::without_rate_limits()).await;
    for next in [
        "/%09/evil.example",
        "/%0d%0aSet-Cookie:%20x=1",
        "//evil.example",
        "/%5Cevil.example",
        "https://evil.example",
        "/%E3%80%80/evil.example",
    ] {
        let (status, headers, _) = get(&app, &format!("/lang/en?next={next}")).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{next}");
        assert_eq!(headers[header::LOCATION], "/", "{next}");
        assert!(
            !headers
                .get_all(header::SET_COOKIE)
                .iter()
                .any(|v| v.as_bytes().starts_with(b"x=")),
            "{next}: no injected header"
        );
    }
    let (_, headers, _) = get(&app, "/lang/en?next=/s/ABC%3Fstep=2").await;
    assert_eq!(headers[header::LOCATION], "/s/ABC?step=2");
}

#[tokio::test]
async fn malformed_and_tampered_requests_get_a_4xx_with_a_short_message() {
    let (app, state, _db) = app_with(Limits::without_rate_limits()).await;
    let codes = common::seed_codes(state.store.as_ref(), state.staff.store.as_ref(), 1).await;
    let json = |body: String| {
        Request::post("/api/survey/submit")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json")
            .body(Body::from(body))
            .expect("request")
    };
    for body in ["{", "[]", "{\"request\": 5}", "\u{0}\u{1}"] {
        let (status, _, text) = send(&app, json(body.to_owned())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?}: {text}");
        assert!(text.len() < 200, "short message: {text}");
        assert!(!text.contains("line"), "no parser internals: {text}");
    }
    // An answer to a question the questionnaire does not have.
    let questionnaire = state
        .store
        .questionnaire("sipas-2023", 1)
        .await
        .expect("questionnaire");
    let mut answers = common::load::complete_answers(&questionnaire);
    answers.insert("not_a_question".into(), 1);
    let body = common::load::submit_body(&codes[0], "0123456789abcdef0123", &answers);
    let (status, _, text) = send(&app, json(body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("unknown question"), "{text}");
    let stored = state
        .store
        .responses("sipas-2026-demo")
        .await
        .expect("responses");
    assert!(stored.is_empty(), "nothing stored");
    // An unknown code is a real 404, still with a helpful page.
    let (status, _, page) = get(&app, "/s/AAAAAAAAAAAAAAAAA").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        page.contains("<form"),
        "the page offers to type the code again"
    );
    let (status, _, _) = get(&app, "/receipt/AAAA-BBBB-CCCC").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_typed_code_is_posted_not_put_in_the_address() {
    let (app, _state, _db) = app_with(Limits::without_rate_limits()).await;
    let (_, _, page) = get(&app, "/s").await;
    assert!(
        page.contains(r#"method="post" action="/s/go""#),
        "the code form posts"
    );
    let request = Request::post("/s/go")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::HOST, HOST)
        .header(header::ORIGIN, format!("http://{HOST}"))
        .body(Body::from("code=7kqm-9t2x"))
        .expect("request");
    let (status, headers, _) = send(&app, request).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/s/7kqm-9t2x");
    let forged = Request::post("/s/go")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::HOST, HOST)
        .header(header::ORIGIN, "https://evil.example")
        .body(Body::from("code=7kqm"))
        .expect("request");
    let (status, _, _) = send(&app, forged).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// A real server on a port, with the given connection settings.
async fn serve(
    settings: ServeSettings,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    common::SqliteDb,
) {
    let db = sqlite_db();
    let state = state_on(&db.url, Limits::without_rate_limits()).await;
    let app = Listener::bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let addr = app.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(state, settings, async move {
        let _ = stopped.await;
    }));
    (addr, stop, db)
}

#[tokio::test]
async fn a_client_that_sends_its_headers_slowly_is_cut_off() {
    let (addr, _stop, _db) = serve(ServeSettings {
        max_connections: 16,
        max_connections_per_client: 0,
        header_read_timeout: Duration::from_secs(1),
    })
    .await;
    let mut slow = tokio::net::TcpStream::connect(addr).await.expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    // ...and never finishes. The server closes the connection after the timeout.
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut buffer)).await;
    assert!(read.is_ok(), "the connection was closed by the server");
    // A normal client is served.
    let mut fine = tokio::net::TcpStream::connect(addr).await.expect("connect");
    fine.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut reply = Vec::new();
    fine.read_to_end(&mut reply).await.expect("read");
    assert!(reply.starts_with(b"HTTP/1.1 200"));
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_until_one_closes() {
    let (addr, _stop, _db) = serve(ServeSettings {
        max_connections: 1,
        max_connections_per_client: 0,
        header_read_timeout: Duration::from_secs(30),
    })
    .await;
    let idle = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut waiting = tokio::net::TcpStream::connect(addr).await.expect("connect");
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut reply = Vec::new();
    let early =
        tokio::time::timeout(Duration::from_millis(500), waiting.read_to_end(&mut reply)).await;
    assert!(early.is_err(), "not served while the only slot is taken");
    drop(idle);
    tokio::time::timeout(Duration::from_secs(5), waiting.read_to_end(&mut reply))
        .await
        .expect("served once the slot is free")
        .expect("read");
    assert!(reply.starts_with(b"HTTP/1.1 200"));
}

#[tokio::test]
async fn one_client_cannot_take_every_connection() {
    let (addr, _stop, _db) = serve(ServeSettings {
        max_connections: 16,
        max_connections_per_client: 2,
        header_read_timeout: Duration::from_secs(30),
    })
    .await;
    // Two idle connections from this address hold its share...
    let _first = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let _second = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(100)).await;
    // ...so a third is hung up on at once, while the server still has room for others.
    let mut third = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let _ = third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    let mut reply = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(2), third.read_to_end(&mut reply)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "closed without an answer: {read:?} {reply:?}"
    );
    // Once one of its connections closes, the client is served again.
    drop(_first);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut fourth = tokio::net::TcpStream::connect(addr).await.expect("connect");
    fourth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut reply = Vec::new();
    fourth.read_to_end(&mut reply).await.expect("read");
    assert!(reply.starts_with(b"HTTP/1.1 200"));
}
