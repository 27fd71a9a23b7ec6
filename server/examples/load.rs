//! Load generator for the submission path: complete questionnaires, each with its own code, sent
//! to a running `sipas serve` by many concurrent keep-alive connections. Prints acknowledged
//! submissions per second and the latency of acknowledgements (p50, p99, max).
//!
//! Used by `scripts/bench-load.sh`, which starts the release server on SQLite and on
//! PostgreSQL, with and without group commit, and issues the codes:
//!
//! ```sh
//! cargo run --release -p sipas --example load -- --addr 127.0.0.1:3300 --codes codes.csv \
//!     --connections 64 --label sqlite/group-commit [--drafts 10]
//! ```
//!
//! `--drafts N` saves N drafts per code before submitting it (the hydrated page saves one each
//! time the respondent moves to another screen), so the mix of writes is the real one.
//! Each respondent sends a device cookie of their own, as a browser does after its first page
//! (the quality review counts devices per code); `--devices off` sends none, the baseline of
//! that check's cost.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark tool: fail loudly

#[path = "../tests/it/common/load.rs"]
mod load;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use load::{Client, Reply, complete_answers, read_codes};

struct Args {
    addr: SocketAddr,
    codes: std::path::PathBuf,
    connections: usize,
    label: String,
    drafts: u64,
    devices: bool,
}

fn args() -> Args {
    let mut addr = None;
    let mut codes = None;
    let mut connections = 64;
    let mut label = "run".to_owned();
    let mut drafts = 0;
    let mut devices = true;
    let mut iter = std::env::args().skip(1);
    while let Some(flag) = iter.next() {
        let value = iter
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => addr = Some(value.parse().expect("--addr HOST:PORT")),
            "--codes" => codes = Some(value.into()),
            "--connections" => connections = value.parse().expect("--connections N"),
            "--label" => label = value,
            "--drafts" => drafts = value.parse().expect("--drafts N"),
            "--devices" => devices = value == "on",
            other => panic!("unknown flag {other}"),
        }
    }
    Args {
        addr: addr.expect("--addr"),
        codes: codes.expect("--codes"),
        connections,
        label,
        drafts,
        devices,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() {
    let args = args();
    let codes = Arc::new(read_codes(&args.codes));
    let questionnaire = sipas_server::services::questionnaires::parse(
        sipas_server::services::questionnaires::SIPAS_2023,
    )
    .expect("questionnaire");
    let answers = Arc::new(complete_answers(&questionnaire));
    let next = Arc::new(AtomicUsize::new(0));
    let drafts = args.drafts;
    let started = Instant::now();
    let workers: Vec<_> = (0..args.connections)
        .map(|_| {
            let (codes, answers, next) = (codes.clone(), answers.clone(), next.clone());
            tokio::spawn(async move {
                let mut client = Client::new(args.addr);
                let mut latencies = Vec::new();
                let mut failures = 0usize;
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(code) = codes.get(index) else { break };
                    let submission_id = format!("load-{index:012}");
                    // Each respondent on a browser of their own.
                    client.device = args.devices.then(|| format!("{index:032x}"));
                    let mut draft_failed = false;
                    for revision in 1..=drafts {
                        let step = u32::try_from(revision).unwrap_or(u32::MAX);
                        if !matches!(
                            client.save_draft(code, &answers, step, revision).await,
                            Ok(true)
                        ) {
                            draft_failed = true;
                        }
                    }
                    if draft_failed {
                        failures += 1;
                        if failures <= 3 {
                            eprintln!("a draft save failed");
                        }
                    }
                    let sent = Instant::now();
                    match client.submit(code, &submission_id, &answers).await {
                        Ok(Reply::Accepted(_)) => latencies.push(sent.elapsed()),
                        Ok(Reply::Other(status, body)) => {
                            failures += 1;
                            if failures <= 3 {
                                eprintln!("unexpected reply {status}: {body}");
                            }
                        }
                        Err(err) => {
                            failures += 1;
                            if failures <= 3 {
                                eprintln!("connection error: {err}");
                            }
                        }
                    }
                }
                (latencies, failures)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(codes.len());
    let mut failures = 0;
    for worker in workers {
        let (mut l, f) = worker.await.expect("worker");
        latencies.append(&mut l);
        failures += f;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let rate = latencies.len() as f64 / elapsed.as_secs_f64();
    println!(
        "{label}: {acked} acknowledged, {failures} failed, in {secs:.2} s: {rate:.0}/s; \
         p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms ({connections} connections, \
         {drafts} draft saves before each, device cookies {devices})",
        label = args.label,
        acked = latencies.len(),
        secs = elapsed.as_secs_f64(),
        p50 = percentile(&latencies, 50.0).as_secs_f64() * 1e3,
        p99 = percentile(&latencies, 99.0).as_secs_f64() * 1e3,
        max = latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        connections = args.connections,
        devices = if args.devices { "on" } else { "off" },
    );
    if failures > 0 {
        std::process::exit(1);
    }
}
