//! The device cookie of the survey (`sipas_app::survey::device`): every response to a survey
//! page, form post or server function whose request came without a device id sets a fresh one
//! for the browser to send from then on. Only an id the browser sent back is counted: a browser
//! that refuses cookies would otherwise count as a new device on every save. The id is random
//! and stays in the browser: the store keeps only its hash with one code's hash, and only until
//! that code takes a response or can take none (docs/architecture.md, "Privacy").

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use sipas_app::survey::codes::hex;
use sipas_app::survey::device::{DEVICE_COOKIE, from_headers};

/// The paths where a survey is answered.
fn answers_survey(path: &str) -> bool {
    path.starts_with("/s/") || path.starts_with("/api/survey/")
}

/// `secure`: the site is served over HTTPS, so the cookie never travels in clear.
pub async fn device_cookie(State(secure): State<bool>, request: Request, next: Next) -> Response {
    if !answers_survey(request.uri().path()) {
        return next.run(request).await;
    }
    let known = from_headers(request.headers()).is_some();
    let mut bytes = [0u8; 16];
    if known || getrandom::fill(&mut bytes).is_err() {
        // Without randomness the response goes out without a device: unknown, never guessed.
        return next.run(request).await;
    }
    let id = hex(&bytes);
    let mut response = next.run(request).await;
    let secure = if secure { "; Secure" } else { "" };
    let cookie =
        format!("{DEVICE_COOKIE}={id}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax{secure}");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}
