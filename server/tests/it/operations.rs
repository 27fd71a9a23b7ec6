//! Running it like a ministry system (issue #24): the metrics endpoint, who may read it, and
//! that it shows the load.

use crate::common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::load::{complete_answers, submit_body};
use sipas_server::config::Config;
use sipas_server::metrics::MetricsAccess;
use sipas_server::startup::Settings;
use sipas_server::web::limits::Limits;

/// The value of one sample line (`name{labels} value`), 0 when absent.
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn scrape(app: &axum::Router, token: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::get("/metrics");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let (status, headers, body) = common::send(app, request.body(Body::empty()).unwrap()).await;
    if status == StatusCode::OK {
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("application/openmetrics-text"),
        );
        assert!(body.ends_with("# EOF\n"), "a complete exposition");
    }
    (status, body)
}

#[tokio::test]
async fn metrics_show_the_load_to_the_operators_only() {
    let db = common::sqlite_db();
    let store = common::store_on(&db.url).await;
    let config = Config {
        limit_submissions_per_minute: 3,
        ..Config::default()
    };
    let settings = Settings {
        limits: Limits::from_config(&config),
        metrics_access: MetricsAccess::parse(Some("operator token"), "10.0.0.0/8").unwrap(),
        ..Settings::in_process()
    };
    let application = common::application(store.clone(), settings);
    let state = application.state.clone();
    let app = application.router();

    // Nobody else: no token, a wrong one, and (in process) no peer address in the range.
    assert_eq!(scrape(&app, None).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        scrape(&app, Some("operator")).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, before) = scrape(&app, Some("operator token")).await;
    assert_eq!(status, StatusCode::OK);

    // Five submissions from one client whose limit is three a minute.
    let codes = common::seed_codes(state.store.as_ref(), state.staff.store.as_ref(), 5).await;
    let questionnaire = state.store.questionnaire("sipas-2023", 1).await.unwrap();
    let answers = complete_answers(&questionnaire);
    let mut statuses = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        let request = Request::post("/api/survey/submit")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(submit_body(
                code,
                &format!("metrics-{i:020}"),
                &answers,
            )))
            .unwrap();
        statuses.push(common::send(&app, request).await.0);
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 429, 429].map(|s| StatusCode::from_u16(s).unwrap())
    );
    let (_, after) = scrape(&app, Some("operator token")).await;
    // Counters are per process and other tests run beside this one: at least these many more.
    let more = |series: &str| sample(&after, series) - sample(&before, series);
    assert!(more("sipas_submissions_acknowledged_total{outcome=\"new\"}") >= 3.0);
    assert!(more("sipas_rate_limited_total{limit=\"submissions\"}") >= 2.0);
    assert!(more("sipas_http_requests_total{class=\"survey\",status=\"200\"}") >= 3.0);
    assert!(more("sipas_http_requests_total{class=\"survey\",status=\"429\"}") >= 2.0);
    assert!(more("sipas_http_request_duration_seconds_count{class=\"survey\"}") >= 5.0);
    assert!(more("sipas_group_commit_batch_size_count") >= 3.0);
    assert!(
        sample(
            &after,
            "sipas_http_requests_total{class=\"metrics\",status=\"403\"}"
        ) >= 2.0
    );
    // Read at the scrape: this server's pool, the computations of the database.
    assert!(
        after.contains("sipas_database_connections_max 10"),
        "{after}"
    );
    assert!(after.contains("sipas_database_connections{state=\"idle\"}"));
    assert!(
        after.contains("sipas_computations{state=\"running\"} 0"),
        "{after}"
    );
    assert!(after.contains("# TYPE sipas_load_shed counter"));
    assert!(after.contains("# TYPE sipas_sign_in_throttled counter"));
    // No personal data: no codes, no addresses, no paths beyond the fixed classes.
    for code in &codes {
        assert!(!after.contains(code.as_str()));
    }
    assert!(!after.contains("/api/"));
}

/// Over a real connection the peer address decides: the default range (this machine) may
/// read it; a server whose range excludes it answers 403.
#[tokio::test]
async fn metrics_by_address_range() {
    use sipas_server::web::{Listener, ServeSettings};
    for (allow_from, expected) in [("127.0.0.1/32,::1/128", 200), ("10.0.0.0/8", 403)] {
        let db = common::sqlite_db();
        let settings = Settings {
            metrics_access: MetricsAccess::parse(None, allow_from).unwrap(),
            ..Settings::in_process()
        };
        let state = common::application(common::store_on(&db.url).await, settings).state;
        let listener = Listener::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(listener.run_until(
            state,
            ServeSettings {
                max_connections: 16,
                max_connections_per_client: 0,
                header_read_timeout: std::time::Duration::from_secs(10),
            },
            async move {
                let _ = stopped.await;
            },
        ));
        let (status, _, body) = common::load::Client::new(addr)
            .send("GET", "/metrics", &[], String::new())
            .await
            .unwrap();
        assert_eq!(status, expected, "{allow_from}: {body}");
        let _ = stop.send(());
        let _ = server.await;
    }
}
