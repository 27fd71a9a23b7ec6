//! The error type every server function returns.
//!
//! Users see only these clean messages. Internal causes (SQL errors, paths) are logged once on the
//! server where they are mapped into an `AppError`, and never cross the wire.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// The thing asked for does not exist.
    #[error("not found")]
    NotFound,
    /// The input was understood but is not acceptable; the message says what and where.
    #[error("{0}")]
    Invalid(String),
    /// A dependency (the database) failed; details are in the server log.
    #[error("the service is temporarily unavailable, please try again")]
    Unavailable,
    /// The request never reached the server function (network, encoding).
    #[error("request failed: {0}")]
    Transport(String),
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}

#[cfg(feature = "ssr")]
impl From<crate::ports::StoreError> for AppError {
    fn from(err: crate::ports::StoreError) -> Self {
        use crate::ports::StoreError;
        match err {
            StoreError::NotFound => AppError::NotFound,
            StoreError::Conflict(msg) => AppError::Invalid(msg),
            StoreError::Backend(cause) => {
                // Logged once here; the user sees a clean message.
                tracing::error!(error = %cause, "storage error");
                AppError::Unavailable
            }
        }
    }
}
