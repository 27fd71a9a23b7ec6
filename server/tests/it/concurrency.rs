//! Concurrency over real HTTP connections: one code submitted 100 times at once stores exactly
//! one response and every retry gets its receipt (SQLite and PostgreSQL); and building routers
//! while pages render never stalls a render (leptos-rs/leptos#4773, see `http::route_list`).

use crate::common;

use std::time::Duration;

use common::load::{Client, Reply, complete_answers};
use sipas_server::web::limits::Limits;
use sipas_server::web::{Listener, ServeSettings};

const RACERS: usize = 100;

async fn one_code_many_submits(url: &str) {
    let state = common::state_on(url, Limits::without_rate_limits()).await;
    let codes = common::seed_codes(state.store.as_ref(), state.staff.store.as_ref(), 1).await;
    let questionnaire = state
        .store
        .questionnaire("sipas-2023", 1)
        .await
        .expect("questionnaire");
    let answers = complete_answers(&questionnaire);
    let store = state.store.clone();
    let app = Listener::bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let addr = app.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(
        state,
        ServeSettings {
            max_connections: 1024,
            max_connections_per_client: 0,
            header_read_timeout: Duration::from_secs(10),
        },
        async move {
            let _ = stopped.await;
        },
    ));

    // The same submission 100 times at once, each on its own connection: a double tap, an
    // outbox replay and a lost reply all look like this.
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(RACERS));
    let racers: Vec<_> = (0..RACERS)
        .map(|_| {
            let (code, answers, barrier) = (codes[0].clone(), answers.clone(), barrier.clone());
            tokio::spawn(async move {
                let mut client = Client::new(addr);
                barrier.wait().await;
                client
                    .submit(&code, "same-submission-0123456789", &answers)
                    .await
                    .expect("reply")
            })
        })
        .collect();
    let mut receipts = Vec::new();
    for racer in racers {
        match racer.await.expect("racer") {
            Reply::Accepted(receipt) => receipts.push(receipt),
            other => panic!("a retry was not given its receipt: {other:?}"),
        }
    }
    assert_eq!(receipts.len(), RACERS);
    assert!(
        receipts.iter().all(|r| r == &receipts[0]),
        "every retry gets the one receipt"
    );
    // A different submission on the used code stores nothing.
    let mut other = Client::new(addr);
    let reply = other
        .submit(&codes[0], "another-submission-0123456", &answers)
        .await
        .expect("reply");
    assert_eq!(
        reply,
        Reply::Other(200, "\"CodeUsed\"".to_owned()),
        "a different submission on a used code"
    );
    let stored = store.responses("sipas-2026-demo").await.expect("responses");
    assert_eq!(stored.len(), 1, "exactly one response");
    assert_eq!(stored[0].receipt.number, receipts[0]);
    let _ = stop.send(());
    server.await.expect("server").expect("served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_one_code_100_concurrent_submits() {
    let db = common::sqlite_db();
    one_code_many_submits(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_one_code_100_concurrent_submits() {
    let Some((url, name)) = common::postgres_db().await else {
        return;
    };
    one_code_many_submits(&url).await;
    common::drop_postgres_db(&name).await;
}

/// Before the route list was generated once per process, a router built while another page
/// rendered could park that page's resource forever (the render never finished).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn building_routers_while_pages_render_never_stalls_a_render() {
    let db = common::sqlite_db();
    let state = common::state_on(&db.url, Limits::without_rate_limits()).await;
    let codes = common::seed_codes(state.store.as_ref(), state.staff.store.as_ref(), 1).await;
    let app = sipas_server::web::router(state.clone());
    let building = tokio::task::spawn_blocking({
        let state = state.clone();
        move || {
            for _ in 0..300 {
                drop(sipas_server::web::router(state.clone()));
            }
        }
    });
    let pages = [
        "/",
        "/s",
        &format!("/s/{}", codes[0]),
        "/s/open/sipas-2026-demo",
    ];
    let renders: Vec<_> = (0..120)
        .map(|i| {
            let (app, uri) = (app.clone(), pages[i % pages.len()].to_owned());
            // `common::get` fails the test if a page does not render within 10 s.
            tokio::spawn(async move { common::get(&app, &uri).await.0 })
        })
        .collect();
    for render in renders {
        assert!(render.await.expect("render").is_success());
    }
    building.await.expect("routers built");
}
