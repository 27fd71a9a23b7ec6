//! The citizen survey's shared model: questionnaire definitions and their validation, and the
//! invitation-code format. Compiled for the browser and the server alike, so both validate from
//! the same definition.

pub mod api;
pub mod client;
pub mod codes;
#[cfg(feature = "ssr")]
pub mod device;
pub mod flow;
#[cfg(feature = "ssr")]
pub mod quality;
pub mod questionnaire;
pub mod response;
#[cfg(feature = "ssr")]
pub mod service;
