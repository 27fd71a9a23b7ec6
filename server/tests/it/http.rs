//! The HTTP application in-process: pages, server functions, health, language switch, headers,
//! and start-up failures of the binary.

use crate::common;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use sipas_server::web::Listener;
use tower::ServiceExt;

use common::{app, app_on, get};

#[tokio::test]
async fn health_reports_the_database() {
    let (app, _db) = app().await;
    let (status, _, body) = get(&app, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("\"status\":\"ok\"") && body.contains("sqlite"),
        "{body}"
    );
}

#[tokio::test]
async fn the_citizens_entry_says_what_the_survey_is_and_starts_it_with_security_headers() {
    let (app, _db) = app().await;
    let (status, headers, body) = get(&app, "/khao-sat").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("<html lang=\"vi\""),
        "{}",
        &body[..body.len().min(400)]
    );
    // What it is, how long it takes, how answers are protected, how to start with a code and
    // what to do without one; the code form works without JavaScript (a plain POST).
    for text in [
        "Khảo sát mức độ hài lòng của người dân",
        "Mất khoảng 15 phút",
        "không lưu địa chỉ IP",
        "tổng hợp theo tỉnh",
        "Bắt đầu với mã trên phiếu mời",
        "Nếu bạn không có mã",
    ] {
        assert!(body.contains(text), "{text}");
    }
    assert!(body.contains("<form method=\"post\" action=\"/s/go\""));
    assert!(!body.contains("<table"), "no table of province codes");
    let csp = headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("csp");
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("'nonce-"),
        "{csp}"
    );
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .expect("nonce");
    assert!(
        body.contains(&format!("nonce=\"{nonce}\"")),
        "scripts carry the header's nonce"
    );
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(
        headers[header::REFERRER_POLICY],
        "strict-origin-when-cross-origin"
    );
}

#[tokio::test]
async fn the_same_pages_are_served_from_postgres() {
    let Some((url, name)) = common::postgres_db().await else {
        return;
    };
    let app = app_on(&url).await;
    let (status, _, body) = get(&app, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("postgres"), "{body}");
    let (status, _, body) = get(&app, "/khao-sat").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("action=\"/s/go\""));
    drop(app);
    common::drop_postgres_db(&name).await;
}

#[tokio::test]
async fn english_is_chosen_by_cookie() {
    let (app, _db) = app().await;
    let (status, headers, _) = get(&app, "/lang/en?next=/?q=x").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/?q=x");
    let cookie = headers[header::SET_COOKIE].to_str().expect("cookie");
    assert!(
        cookie.starts_with("lang=en;") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let (_, headers, _) = get(&app, "/lang/vi?next=//evil.example").await;
    assert_eq!(headers[header::LOCATION], "/", "no open redirect");
    let (status, _, _) = get(&app, "/lang/fr").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let response = app
        .clone()
        .oneshot(
            Request::get("/khao-sat")
                .header(header::COOKIE, "lang=en")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    let body = to_bytes(response.into_body(), 4 << 20).await.expect("body");
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("<html lang=\"en\"") && body.contains("Citizen satisfaction survey"));
}

#[tokio::test]
async fn the_front_page_is_the_latest_release_and_links_the_survey() {
    let (app, _db) = app().await;
    // Nothing is published in this database: the front page says so, script-free, and sends
    // citizens to the survey.
    let (status, headers, body) = get(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Chưa có kết quả nào được công bố."), "{body}");
    assert!(body.contains("href=\"/khao-sat\""));
    assert!(!body.contains("<script"));
    assert!(
        headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("csp")
            .starts_with("default-src 'none';")
    );
}

#[tokio::test]
async fn unknown_pages_are_404() {
    let (app, _db) = app().await;
    let (status, _, body) = get(&app, "/khong-co").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("Không tìm thấy trang"));
}

#[tokio::test]
async fn a_busy_port_is_a_clear_error() {
    let first = Listener::bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let addr = first.local_addr().expect("addr");
    let err = Listener::bind(addr).await.err().expect("port in use");
    assert!(
        err.to_string()
            .starts_with(&format!("cannot listen on {addr}")),
        "{err}"
    );
}

#[test]
fn the_binary_exits_non_zero_with_one_clear_message() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sipas"))
        .arg("migrate")
        .env("DATABASE_URL", "postgres://u:secret@127.0.0.1:1/none")
        .env("SIPAS_DATABASE_CONNECT_TIMEOUT_SECS", "2")
        .output()
        .expect("run sipas");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("sipas: cannot connect to the postgres database"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("secret") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

#[test]
fn config_command_redacts_secrets() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sipas"))
        .arg("config")
        .env("DATABASE_URL", "postgres://sipas:hunter2@db/sipas")
        .output()
        .expect("run sipas");
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("postgres://sipas:***@db/sipas") && !stdout.contains("hunter2"),
        "{stdout}"
    );
}

#[tokio::test]
async fn the_bundle_is_served_precompressed_with_brotli() {
    let db = common::sqlite_db();
    let pkg = tempfile::tempdir().expect("dir");
    let css = "main { margin: 0 auto; }\n".repeat(400);
    std::fs::write(pkg.path().join("sipas.css"), &css).expect("write");
    let settings = sipas_server::startup::Settings::in_process();
    settings
        .assets
        .load(pkg.path().to_owned(), "/pkg".into())
        .await;
    let app = common::application(common::store_on(&db.url).await, settings).router();
    let request = |etag: Option<&str>| {
        let mut builder = axum::http::Request::get("/pkg/sipas.css")
            .header(header::ACCEPT_ENCODING, "gzip, deflate, br");
        if let Some(tag) = etag {
            builder = builder.header(header::IF_NONE_MATCH, tag);
        }
        builder.body(axum::body::Body::empty()).expect("request")
    };
    let (status, headers, _) = common::send(&app, request(None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_ENCODING], "br");
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .expect("type")
            .starts_with("text/css")
    );
    // The body is what was compressed at start-up (read raw, not as text).
    let response = app.clone().oneshot(request(None)).await.expect("response");
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    let mut plain = Vec::new();
    brotli::BrotliDecompress(&mut body.as_ref(), &mut plain).expect("brotli");
    assert_eq!(plain, css.as_bytes());
    // Revalidation: the same ETag gives 304 without a body.
    let etag = headers[header::ETAG].to_str().expect("etag").to_owned();
    let (status, _, body) = common::send(&app, request(Some(&etag))).await;
    assert_eq!((status, body.as_str()), (StatusCode::NOT_MODIFIED, ""));
    // The service worker's cache is named after this bundle, so a new build is a new cache.
    let (_, _, worker) = common::get(&app, "/sw.js").await;
    let tag = worker
        .split("const CACHE = 'sipas-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("cache name");
    assert_eq!(tag.len(), 16, "a tag over the bundle's hashes: {tag}");
    assert!(tag.bytes().all(|b| b.is_ascii_hexdigit()), "{tag}");
}
