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
    /// The server could not read the request (a malformed body, or one from an incompatible
    /// version of the page). Sending it again cannot help, unlike `Transport`.
    #[error("{0}")]
    Malformed(String),
}

impl AppError {
    /// The HTTP status a server function answers with when it fails this way.
    pub fn status(&self) -> u16 {
        match self {
            AppError::NotFound => 404,
            // A body that is not valid for the endpoint never reached the function.
            AppError::Invalid(_) | AppError::Transport(_) | AppError::Malformed(_) => 400,
            AppError::Unavailable => 503,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        // On the server, a malformed request body arrives here (server_fn reports it as
        // Args, MissingArg or Deserialization); the parser's message is not for the client.
        let malformed = matches!(
            value,
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_)
        ) || (cfg!(feature = "ssr")
            && matches!(value, ServerFnErrorErr::Deserialization(_)));
        if malformed {
            AppError::Malformed("the request's data is malformed".to_owned())
        } else {
            AppError::Transport(value.to_string())
        }
    }

    /// Encodes the error for the client and, on the server, gives the response the matching
    /// status (server_fn answers every error with 500 otherwise: a malformed body would look
    /// like a server fault to monitoring and to retrying clients).
    fn ser(&self) -> leptos::server_fn::Bytes {
        #[cfg(feature = "ssr")]
        if let (Some(response), Ok(status)) = (
            leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
            http::StatusCode::from_u16(self.status()),
        ) {
            response.set_status(status);
            if status == http::StatusCode::SERVICE_UNAVAILABLE {
                response.insert_header(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::from_static("5"),
                );
            }
        }
        <JsonEncoding as leptos::server_fn::Encodes<Self>>::encode(self).unwrap_or_default()
    }
}

#[cfg(feature = "ssr")]
impl From<crate::ports::StoreError> for AppError {
    fn from(err: crate::ports::StoreError) -> Self {
        use crate::ports::StoreError;
        match err {
            StoreError::NotFound => AppError::NotFound,
            StoreError::Conflict(text) => AppError::Invalid(text.en),
            failed @ (StoreError::Backend(_) | StoreError::Database(_)) => {
                // Logged once here, with its causes; the user sees a clean message.
                tracing::error!(error = &failed as &dyn std::error::Error, "storage error");
                AppError::Unavailable
            }
        }
    }
}
