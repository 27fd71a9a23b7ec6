//! The server's integration tests, one module per subject, in one test binary: the server is
//! linked once instead of once per file (15 links of the whole server cost minutes on 2 cores).
//! `cargo test -p sipas --test it staff::` runs one subject.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

mod common;

mod abuse;
mod cli;
mod compute;
mod concurrency;
mod crash;
mod demo;
mod fieldwork;
mod group_commit;
mod http;
mod keying;
mod never_panics;
mod operations;
mod public_site;
mod quality;
mod releases;
mod results;
mod staff;
mod store_conformance;
mod survey_http;
mod two_servers;
mod wave_compute;
