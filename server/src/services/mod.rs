//! What the command line and the browser both do, in one place each, and the offline tools:
//! issuing invitation codes, exporting a wave, computing and verifying results from files, the
//! demonstration data and the shipped questionnaires.

pub mod accounts;
pub mod backup;
pub mod compute;
pub mod demo;
pub mod export;
pub mod files;
pub mod invitations;
pub mod open_data;
pub mod questionnaires;
pub mod verify;
pub mod waves;
