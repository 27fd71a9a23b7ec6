//! The HTTP application: Leptos pages and server functions, health, language switch, and the
//! middleware every response goes through (tracing, compression, security headers).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use serde::Deserialize;
use sipas_app::i18n::{LANG_COOKIE, Locale};
use sipas_app::ports::Store;
use sipas_app::{App, shell};
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Shared state of the axum handlers.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub store: Arc<dyn Store>,
    /// Brotli-11 copies of the wasm bundle, script and stylesheet.
    pub assets: Arc<crate::assets::PrecompressedAssets>,
}

impl axum::extract::FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// Policy for pages rendered by Leptos: scripts only from us or carrying this response's nonce.
fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Policy for everything else (assets, JSON, redirects).
const DEFAULT_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let store = state.store.clone();
    let leptos_options = state.leptos_options.clone();
    let assets = state.assets.clone();

    let context = move || {
        provide_context(store.clone());
        // leptos_axum has generated a nonce for this response; the page policy names it.
        if let (Some(nonce), Some(response)) = (
            leptos::nonce::use_nonce(),
            leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
        ) && let Ok(value) = HeaderValue::from_str(&page_csp(&nonce.to_string()))
        {
            response.insert_header(header::CONTENT_SECURITY_POLICY, value);
        }
    };

    Router::new()
        .route("/healthz", get(health))
        .route("/lang/{code}", get(set_language))
        .route("/sw.js", get(service_worker))
        .route("/s/go", get(crate::survey_forms::go))
        .route("/s/{code}", post(crate::survey_forms::post_section))
        .route("/s/open/{wave}", post(crate::survey_forms::post_open))
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let options = leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(
            context,
            shell,
        ))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            assets,
            crate::assets::serve_precompressed,
        ))
        .layer(CompressionLayer::new())
        // No request is held forever: a stalled render (or database) answers 503 after 30 s,
        // so a phone's retry logic and the outbox can take over.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            std::time::Duration::from_secs(30),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DEFAULT_CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(
            // Method and path only: query strings may carry invitation codes, and client
            // addresses are personal data.
            TraceLayer::new_for_http().make_span_with(|request: &axum::extract::Request| {
                tracing::info_span!("request", method = %request.method(), path = %loggable_path(request.uri().path()))
            }),
        )
}

/// Readiness: 200 when the database answers, 503 otherwise.
async fn health(State(state): State<AppState>) -> Response {
    let engine = state.store.engine();
    match state.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({ "status": "ok", "database": engine })),
        )
            .into_response(),
        Err(err) => {
            tracing::error!(error = %err, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({ "status": "unavailable", "database": engine })),
            )
                .into_response()
        }
    }
}

/// The service worker (see `assets/sw.js`). Served by hand rather than from the site folder: a
/// worker's own policy must let it fetch from this origin, and it must never be cached stale.
async fn service_worker() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'self'"),
        ],
        include_str!("../assets/sw.js"),
    )
        .into_response()
}

#[derive(Deserialize)]
struct NextPage {
    next: Option<String>,
}

/// `/lang/{vi|en}?next=/path`: remembers the language in a cookie and goes back. A plain link,
/// so it works without JavaScript.
async fn set_language(Path(code): Path<String>, Query(query): Query<NextPage>) -> Response {
    let Some(locale) = Locale::parse(&code) else {
        return (StatusCode::NOT_FOUND, "unknown language").into_response();
    };
    let target = query
        .next
        .filter(|next| is_local_path(next))
        .unwrap_or_else(|| "/".to_owned());
    let cookie = format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        locale.code()
    );
    let mut response = Redirect::to(&target).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// The path as logged: an invitation code in the address (`/s/{code}`) is a credential, stored
/// only hashed, so it never reaches the logs either.
fn loggable_path(path: &str) -> &str {
    match path.strip_prefix("/s/") {
        Some(rest) if !rest.is_empty() && rest != "go" && !rest.starts_with("open/") => "/s/{code}",
        _ => path,
    }
}

/// Only same-site paths, never `//host` or `/\host` (open-redirect tricks).
fn is_local_path(path: &str) -> bool {
    path.starts_with('/') && !path.starts_with("//") && !path.starts_with("/\\")
}

#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct BindError {
    pub addr: SocketAddr,
    pub source: std::io::Error,
}

/// A bound, not yet serving listener. Binding first reports a busy port before any other
/// start-up work, and lets tests use port 0 and learn the port.
pub struct Application {
    listener: TcpListener,
}

impl Application {
    pub async fn bind(addr: SocketAddr) -> Result<Self, BindError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| BindError { addr, source })?;
        Ok(Self { listener })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight.
    pub async fn run_until(
        self,
        state: AppState,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(self.listener, router(state))
            .with_graceful_shutdown(shutdown)
            .await
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::{is_local_path, loggable_path};

    #[test]
    fn codes_never_reach_the_logs() {
        assert_eq!(loggable_path("/s/7KQM9T2X4RPA8VNEJ"), "/s/{code}");
        assert_eq!(loggable_path("/s/open/sipas-2026"), "/s/open/sipas-2026");
        assert_eq!(loggable_path("/s/go"), "/s/go");
        assert_eq!(
            loggable_path("/receipt/ABCD-EFGH-JKMN"),
            "/receipt/ABCD-EFGH-JKMN"
        );
        assert_eq!(loggable_path("/"), "/");
    }

    #[test]
    fn only_local_redirects() {
        assert!(is_local_path("/"));
        assert!(is_local_path("/results?year=2025"));
        assert!(!is_local_path("//evil.example"));
        assert!(!is_local_path("/\\evil.example"));
        assert!(!is_local_path("https://evil.example"));
    }
}
