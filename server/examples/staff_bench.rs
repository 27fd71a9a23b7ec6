//! Benchmarks of the staff workspace's heavy pages, in-process through the real router:
//!
//! - `monitor URL N`: a wave of N responses over the 34 provinces (2 strata and 5 PSUs each);
//!   server time of the national monitoring page (`GET /staff/waves/W/monitor`, signed in),
//!   against the baseline of loading the wave's responses into memory and counting them there
//!   (what the page must not do), in the same run.
//! - `seed URL N` then `export URL`: N responses, then one CSV export in a fresh process, with
//!   rows per second and the process's peak resident memory (VmHWM); run it for two sizes to see
//!   that memory does not grow with the export.
//!
//! - `compute URL N`: the demonstration's drawn frame and N responses (its respondents' answers
//!   repeated), then the indices of the wave from the database (`sipas compute --wave`: weights
//!   as drawn, sufficient statistics over keyset pages, every cell) against the CSV path in the
//!   same run (the same responses as a microdata CSV with the same weights, read and estimated
//!   as `sipas compute --data` does); medians of three alternating runs.
//! - `compute-demo URL`: the same on the demonstration's current wave, collected through the
//!   survey's submission and the paper import (about 33,000 responses).
//!
//! - `precision URL N`: N responses, then the provisional margins monitoring shows: the
//!   background computation's time, and the monitoring page's with the margins on it.
//!
//! `scripts/bench-staff.sh` runs them on SQLite and PostgreSQL (docs/benchmarks.md).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark tool: fail loudly

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use sipas_app::domain::Geography;
use sipas_app::ports::Store;
use sipas_app::staff::Role;
use sipas_app::staff::frame::{Frame, FramePsu, FrameStratum};
use sipas_app::staff::port::NewUser;
use sipas_app::staff::{AccountStore, CollectedStore, FieldStore};
use sipas_server::store::SqlStore;
use tower::ServiceExt;

const WAVE: &str = "sipas-2026-demo";
const PASSWORD: &str = "benchmark password 2026";

/// The store, migrated (the bench's role owns its databases).
async fn open(url: &str) -> Arc<SqlStore> {
    Arc::new(
        sipas_server::store::migrate(url, &sipas_server::store::ConnectOptions::default(), None)
            .await
            .expect("open"),
    )
}

/// The demo wave, a frame over the 34 provinces, and `n` responses spread over its PSUs,
/// inserted in bulk (multi-row statements; this is set-up, not what is measured).
async fn seed(store: &SqlStore, n: usize) {
    sipas_server::services::demo::seed(store)
        .await
        .expect("demo");
    let provinces = store.provinces(Geography::G2025).await.expect("provinces");
    let mut frame = Frame::default();
    for p in &provinces {
        for stratum in ["urban", "rural"] {
            frame.strata.push(FrameStratum {
                province_code: p.code.clone(),
                stratum: stratum.into(),
                population: 500_000,
                psus_in_population: 100,
            });
            for k in 0..5 {
                frame.psus.push(FramePsu {
                    province_code: p.code.clone(),
                    stratum: stratum.into(),
                    psu: format!("{}-{stratum}-{k}", p.code),
                    name: format!("Xã {k}"),
                    target: 40,
                });
            }
        }
    }
    store
        .replace_frame(
            WAVE,
            &frame,
            &bench_audit(sipas_app::staff::port::AuditAction::FrameUploaded),
        )
        .await
        .expect("frame");
    let q = store
        .questionnaire("sipas-2023", 1)
        .await
        .expect("questionnaire");
    // Five answer patterns (each item takes its (v + k)-th choice), so indices are not 0 or 1.
    let variants: Vec<String> = (0..5)
        .map(|v| {
            let mut answers = sipas_app::survey::questionnaire::Answers::new();
            for (k, item) in q.items().enumerate() {
                let count = q.choices(item).count();
                if item.is_relevant(&answers)
                    && count > 0
                    && let Some(choice) = q.choices(item).nth((v + k) % count)
                {
                    answers.insert(item.code.clone(), choice.value);
                }
            }
            serde_json::to_string(&answers).expect("json")
        })
        .collect();
    insert_responses(store, n, |i| {
        (
            &frame.psus[i % frame.psus.len()],
            variants[(i * 7 + i / 13) % variants.len()].as_str(),
        )
    })
    .await;
}

async fn router(store: Arc<SqlStore>) -> axum::Router {
    let _ = store
        .create_user(
            &NewUser {
                username: "bench".into(),
                display_name: "Benchmark".into(),
                role: Role::Central,
                province: None,
                password_hash: sipas_server::services::accounts::hash_password(PASSWORD.into())
                    .await
                    .expect("hash"),
                research: None,
                communes: Vec::new(),
            },
            &bench_audit(sipas_app::staff::port::AuditAction::AccountCreated),
        )
        .await;
    sipas_server::startup::Application::build(store, sipas_server::startup::Settings::in_process())
        .router()
}

async fn sign_in(app: &axum::Router) -> String {
    let response = app
        .clone()
        .oneshot(
            Request::post("/staff/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!(
                    "username=bench&password={}&next=%2Fstaff",
                    PASSWORD.replace(' ', "+")
                )))
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .expect("ascii");
    cookie.split(';').next().expect("cookie").to_owned()
}

async fn get(app: &axum::Router, cookie: &str, path: &str) -> (Duration, usize) {
    let start = Instant::now();
    let length = get_text(app, cookie, path).await.len();
    (start.elapsed(), length)
}

/// A page's text (status 200 checked).
async fn get_text(app: &axum::Router, cookie: &str, path: &str) -> String {
    let response = app
        .clone()
        .oneshot(
            Request::get(path)
                .header(header::COOKIE, cookie)
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    String::from_utf8_lossy(&body).into_owned()
}

/// Reads the CSV export as it streams, keeping nothing: (time, bytes, data rows).
async fn stream_export(app: &axum::Router, cookie: &str) -> (Duration, usize, usize) {
    use http_body_util::BodyExt;
    let start = Instant::now();
    let response = app
        .clone()
        .oneshot(
            Request::get(format!("/staff/waves/{WAVE}/export.csv"))
                .header(header::COOKIE, cookie)
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let (mut bytes, mut lines) = (0, 0);
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("frame").into_data() {
            bytes += data.len();
            lines += data.iter().filter(|&&b| b == b'\n').count();
        }
    }
    (start.elapsed(), bytes, lines.saturating_sub(1))
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (mode, url) = (args[1].as_str(), args[2].as_str());
    let engine = if url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    match mode {
        "monitor" => {
            let n: usize = args[3].parse().expect("N");
            let store = open(url).await;
            seed(&store, n).await;
            let app = router(store.clone()).await;
            let cookie = sign_in(&app).await;
            let path = format!("/staff/waves/{WAVE}/monitor");
            let _ = get(&app, &cookie, &path).await;
            let mut page = Vec::with_capacity(20);
            for _ in 0..20 {
                page.push(get(&app, &cookie, &path).await.0);
            }
            // Baseline: every response into memory, counted in Rust.
            let mut naive = Vec::new();
            for _ in 0..5 {
                let start = Instant::now();
                let responses = store.responses(WAVE).await.expect("responses");
                let mut per_psu = std::collections::HashMap::<String, usize>::new();
                for r in &responses {
                    *per_psu.entry(r.sample.psu.clone()).or_default() += 1;
                }
                assert_eq!(per_psu.values().sum::<usize>(), n);
                naive.push(start.elapsed());
            }
            let (page, naive) = (median(page), median(naive));
            println!(
                "monitor {engine} n={n}: page {:.1} ms (median of 20), load-all baseline {:.1} ms, ratio {:.2}",
                page.as_secs_f64() * 1e3,
                naive.as_secs_f64() * 1e3,
                naive.as_secs_f64() / page.as_secs_f64()
            );
        }
        "precision" => {
            // The provisional margins: the background computation's time, and the monitoring
            // page's with them on it (the page never waits for the computation).
            let n: usize = args[3].parse().expect("N");
            let store = open(url).await;
            seed(&store, n).await;
            let start = Instant::now();
            let margins = sipas_server::jobs::precision::compute(store.as_ref(), WAVE).await;
            let job = start.elapsed();
            assert_eq!(margins.error, None);
            assert_eq!(margins.by_province.len(), 34);
            let app = router(store.clone()).await;
            let cookie = sign_in(&app).await;
            let path = format!("/staff/waves/{WAVE}/monitor");
            // The first view starts the background computation and answers at once.
            let (first, _) = get(&app, &cookie, &path).await;
            let mut shown = false;
            for _ in 0..1200 {
                if get_text(&app, &cookie, &path).await.contains("Tính lúc") {
                    shown = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(shown, "the margins never appeared");
            let mut page = Vec::with_capacity(20);
            for _ in 0..20 {
                page.push(get(&app, &cookie, &path).await.0);
            }
            println!(
                "precision {engine} n={n}: background computation {:.2} s; monitoring page {:.1} ms while it starts, {:.1} ms with the margins (median of 20)",
                job.as_secs_f64(),
                first.as_secs_f64() * 1e3,
                median(page).as_secs_f64() * 1e3
            );
        }
        "compute" | "compute-demo" => {
            let store = open(url).await;
            let n = if mode == "compute" {
                let n: usize = args[3].parse().expect("N");
                seed_drawn(&store, n).await;
                n
            } else {
                // The demonstration's current wave, collected through the real paths.
                let (wave, frame, questionnaire) = demo_wave(&store).await;
                let started = Instant::now();
                sipas_server::services::demo::collect(
                    store.as_ref(),
                    &wave,
                    &frame,
                    &questionnaire,
                )
                .await
                .expect("collected");
                eprintln!("collected in {:.1} s", started.elapsed().as_secs_f64());
                store
                    .completes(WAVE)
                    .await
                    .expect("completes")
                    .iter()
                    .map(|c| c.completes as usize)
                    .sum()
            };
            let methodology = sipas_stats::methodology::Methodology::from_toml(include_str!(
                "../../data/methodology/sipas-2023.toml"
            ))
            .expect("methodology");
            // The CSV path's input, written outside the timing.
            let path = microdata_csv(&store, &methodology).await;
            let mut db_times = Vec::new();
            let mut csv_times = Vec::new();
            let mut read_times = Vec::new();
            let mut cells = 0;
            // Alternating, three times each: the median of each path.
            for _ in 0..3 {
                let start = Instant::now();
                let stats = sipas_server::jobs::wave_totals::wave_totals(
                    store.as_ref(),
                    WAVE,
                    &methodology,
                )
                .await
                .expect("wave totals");
                let from_db = sipas_stats::estimate::estimate_all(&stats, &methodology)
                    .expect("estimate")
                    .cells;
                db_times.push(start.elapsed().as_secs_f64());
                let start = Instant::now();
                let file = std::fs::File::open(&path).expect("open");
                let csv_stats = sipas_stats::microdata::read_csv(
                    std::io::BufReader::with_capacity(1 << 20, file),
                    &methodology,
                )
                .expect("read");
                read_times.push(start.elapsed().as_secs_f64());
                let from_csv = sipas_stats::estimate::estimate_all(&csv_stats, &methodology)
                    .expect("estimate")
                    .cells;
                csv_times.push(start.elapsed().as_secs_f64());
                assert_eq!(from_db.len(), from_csv.len());
                for (a, b) in from_db.iter().zip(&from_csv) {
                    assert!(
                        a.estimate.to_bits() == b.estimate.to_bits()
                            && a.se.to_bits() == b.se.to_bits()
                            || (a.estimate.is_nan() && b.estimate.is_nan()),
                        "{a:?} vs {b:?}"
                    );
                }
                cells = from_db.len();
            }
            let _ = std::fs::remove_file(&path);
            let median = |times: &mut Vec<f64>| {
                times.sort_by(f64::total_cmp);
                times[times.len() / 2]
            };
            let (db, csv, read) = (
                median(&mut db_times),
                median(&mut csv_times),
                median(&mut read_times),
            );
            println!(
                "{mode} {engine} n={n}: database {db:.2} s, CSV path {csv:.2} s (reading \
                 {read:.2} s), ratio {:.2}; {cells} cells, identical (medians of 3)",
                db / csv,
            );
        }
        "seed" => {
            let n: usize = args[3].parse().expect("N");
            seed(open(url).await.as_ref(), n).await;
        }
        "export" => {
            let store = open(url).await;
            let app = router(store).await;
            let cookie = sign_in(&app).await;
            let before = peak_rss_mib();
            let (took, bytes, rows) = stream_export(&app, &cookie).await;
            println!(
                "export {engine}: {rows} rows, {bytes} bytes in {:.2} s = {:.0} rows/s; \
                 peak RSS {:.1} MiB (before the export {:.1} MiB)",
                took.as_secs_f64(),
                rows as f64 / took.as_secs_f64(),
                peak_rss_mib(),
                before
            );
        }
        other => panic!("unknown mode {other}"),
    }
}

/// The demonstration's drawn frame (11 communes × 91 in each of the 34 units) and `n`
/// responses over its communes: the demonstration's respondents (their answers: a skewed
/// profile, routed feedback items, blanks), repeated in turn until there are `n`, inserted in
/// bulk (set-up, not what is measured).
async fn seed_drawn(store: &SqlStore, n: usize) {
    let (wave, frame, questionnaire) = demo_wave(store).await;
    let people = sipas_server::services::demo::respondents(&questionnaire, &frame, &wave);
    let people: Vec<(&FramePsu, String)> = people
        .iter()
        .map(|p| {
            (
                &frame.psus[p.psu],
                serde_json::to_string(&p.answers).expect("json"),
            )
        })
        .collect();
    insert_responses(store, n, |i| {
        let (psu, answers) = &people[i % people.len()];
        (*psu, answers.as_str())
    })
    .await;
}

/// The demonstration's current wave, its drawn frame and its questionnaire.
async fn demo_wave(
    store: &SqlStore,
) -> (
    sipas_app::domain::Wave,
    Frame,
    sipas_app::survey::questionnaire::Questionnaire,
) {
    sipas_server::services::demo::seed(store)
        .await
        .expect("demo");
    let wave = sipas_server::services::demo::seed_current_frame(store)
        .await
        .expect("frame");
    let frame = store.frame(WAVE, None).await.expect("frame");
    let questionnaire = store
        .questionnaire("sipas-2023", 1)
        .await
        .expect("questionnaire");
    (wave, frame, questionnaire)
}

/// Inserts `n` responses (and their codes) in bulk, multi-row statements of 200 (set-up, not
/// what is measured): the i-th in `place(i)`'s commune with its answers (JSON), every sixth on
/// paper.
async fn insert_responses<'a>(
    store: &SqlStore,
    n: usize,
    place: impl Fn(usize) -> (&'a FramePsu, &'a str),
) {
    let pool = store.pool();
    let start = Instant::now();
    let chunk = 200;
    let mut done = 0;
    while done < n {
        let rows = chunk.min(n - done);
        let mut codes = String::from(
            "INSERT INTO invitation_codes (code_hash, wave_code, geography, province_code, stratum, \
             psu, batch, created_at, used_at, sample_kind) VALUES ",
        );
        let mut responses = String::from(
            "INSERT INTO responses (receipt, submission_id, code_hash, wave_code, geography, \
             province_code, stratum, psu, sample_kind, questionnaire_code, questionnaire_version, \
             answers, content_hash, language, mode, started_at, submitted_at, channel, \
             duration_secs, submitted_on, export_id) VALUES ",
        );
        for r in 0..rows {
            let i = done + r;
            let (psu, answers) = place(i);
            let sep = if r == 0 { "" } else { "," };
            let hash = format!("{i:064x}");
            codes.push_str(&format!(
                "{sep}('{hash}','{WAVE}','2025','{}','{}','{}','bench','2026-05-01T00:00:00Z','2026-05-01T00:00:00Z','probability')",
                psu.province_code, psu.stratum, psu.psu
            ));
            let channel = ["online", "online", "online", "form", "outbox", "paper"][i % 6];
            let answer_mode = if channel == "paper" { "paper" } else { "web" };
            responses.push_str(&format!(
                "{sep}('R{i:012}','S{i:016}','{hash}','{WAVE}','2025','{}','{}','{}','probability',\
                 'sipas-2023',1,'{answers}','{}','vi','{answer_mode}',NULL,'2026-05-01T00:00:00Z','{channel}',{},\
                 '2026-05-{:02}','{:016x}')",
                psu.province_code,
                psu.stratum,
                psu.psu,
                "c".repeat(64),
                300 + (i * 7919) % 900,
                1 + i % 28,
                (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            ));
        }
        let mut tx = pool.begin().await.expect("begin");
        sqlx::query(&codes).execute(&mut *tx).await.expect("codes");
        sqlx::query(&responses)
            .execute(&mut *tx)
            .await
            .expect("responses");
        tx.commit().await.expect("commit");
        done += rows;
    }
    eprintln!(
        "seeded {n} responses in {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

/// The wave's responses as `sipas compute --data` reads them, weighted as drawn by hand: a
/// respondent of commune i weighs M_i / (π_i · r_i); a commune taken with certainty is a stratum
/// of its own whose PSUs are its respondents; no finite population correction.
async fn microdata_csv(
    store: &SqlStore,
    methodology: &sipas_stats::methodology::Methodology,
) -> std::path::PathBuf {
    use std::io::Write;
    let tree = methodology.compile().expect("tree");
    let record = store
        .frame_draw(WAVE)
        .await
        .expect("draw")
        .expect("a drawn frame");
    let completes: std::collections::HashMap<String, i64> = store
        .completes(WAVE)
        .await
        .expect("completes")
        .into_iter()
        .map(|c| (c.psu, c.completes))
        .collect();
    let communes: std::collections::HashMap<&str, &sipas_app::staff::design::DrawnCommune> = record
        .draw
        .communes
        .iter()
        .map(|c| (c.code.as_str(), c))
        .collect();
    let path = std::env::temp_dir().join(format!("sipas-compute-bench-{}.csv", std::process::id()));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("csv"));
    let mut header = String::from("response_id,province,stratum,psu,weight,fpc,certainty");
    for column in methodology.subgroups.iter().chain(&tree.items) {
        header.push(',');
        header.push_str(column);
    }
    writeln!(out, "{header}").expect("write");
    let mut after: Option<String> = None;
    loop {
        let page = store
            .export_page(WAVE, &Default::default(), None, after.as_deref(), 5000)
            .await
            .expect("page");
        let Some(last) = page.last() else { break };
        after = Some(last.export_id.clone());
        for r in &page {
            let c = communes[r.psu.as_str()];
            let weight =
                c.size.expect("size") / (c.inclusion_probability * completes[&r.psu] as f64);
            let certain = c.inclusion_probability >= 1.0 - sipas_stats::sampling::CERTAINTY_EPS;
            let (stratum, psu) = if certain {
                (format!("{}:{}", r.stratum, r.psu), r.export_id.clone())
            } else {
                (r.stratum.clone(), r.psu.clone())
            };
            let mut line = format!(
                "{},{},{}/{stratum},{psu},{weight},,{}",
                r.export_id,
                r.province_code,
                r.province_code,
                if certain { "1" } else { "" }
            );
            for column in methodology.subgroups.iter().chain(&tree.items) {
                line.push(',');
                if let Some(v) = r.answers.get(column) {
                    line.push_str(&v.to_string());
                }
            }
            writeln!(out, "{line}").expect("write");
        }
    }
    out.flush().expect("flush");
    path
}

/// The audit entry of a change the benchmark makes directly on the store.
fn bench_audit(action: sipas_app::staff::port::AuditAction) -> sipas_app::staff::port::AuditEntry {
    sipas_app::staff::port::AuditEntry::new("bench", action)
}
