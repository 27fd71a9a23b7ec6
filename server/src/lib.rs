//! The SIPAS server: configuration, start-up, the HTTP application, background jobs, the use
//! cases shared by the command line and the browser, and the storage adapters.
//!
//! `main.rs` only parses the command line and reports errors; everything else lives here so the
//! integration tests can drive it in-process. docs/architecture.md has a table of every module.

pub mod cli;
pub mod config;
pub mod jobs;
pub mod metrics;
pub mod services;
pub mod staff;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod web;

/// What a release records as the software that computed it.
pub const SOFTWARE_VERSION: &str = concat!("sipas ", env!("CARGO_PKG_VERSION"));
