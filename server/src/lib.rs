//! The SIPAS server: configuration, start-up, the HTTP application and the storage adapters.
//!
//! `main.rs` only parses the command line and reports errors; everything else lives here so the
//! integration tests can drive it in-process.

pub mod assets;
pub mod cli;
pub mod compute;
pub mod config;
pub mod demo;
pub mod drafts;
pub mod export;
pub mod files;
pub mod http;
pub mod invitations;
pub mod limits;
pub mod open_data;
pub mod public_site;
pub mod questionnaires;
pub mod staff;
pub mod store;
pub mod survey_forms;
pub mod telemetry;
pub mod verify;
pub mod wave_compute;

/// What a release records as the software that computed it.
pub const SOFTWARE_VERSION: &str = concat!("sipas ", env!("CARGO_PKG_VERSION"));
