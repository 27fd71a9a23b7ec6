//! The HTTP edge: the state the handlers share, the router (Leptos pages and server functions,
//! the public results site and open data, the survey's form posts, the staff workspace), the
//! middleware every response goes through (tracing, compression, security headers) and the
//! listener. The parts of the public side are the modules below; the staff workspace is
//! `crate::staff`.

pub mod assets;
pub mod device;
pub mod limits;
pub mod site;
pub mod survey_forms;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use serde::Deserialize;
use sipas_app::i18n::{LANG_COOKIE, Locale};
use sipas_app::ports::Store;
use sipas_app::{App, shell};
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// The request's language: the `lang` cookie, Vietnamese by default (every page and error).
pub fn locale(headers: &axum::http::HeaderMap) -> Locale {
    headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(Locale::from_cookie_header)
        .unwrap_or_default()
}

/// Shared state of the axum handlers.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub store: Arc<dyn Store>,
    /// Brotli-11 copies of the wasm bundle, script and stylesheet.
    pub assets: Arc<crate::web::assets::PrecompressedAssets>,
    /// Rate limits, load shedding and caps on the public routes.
    pub limits: Arc<crate::web::limits::Limits>,
    /// The staff workspace's store, sessions and sign-in settings.
    pub staff: Arc<crate::staff::StaffState>,
    /// The public results site's built pages, loaded releases and open-data files.
    pub site: Arc<site::SiteCache>,
    /// The origin browsers see (`https://sipas.example.gov.vn`), when a proxy rewrites Host:
    /// form posts must come from it, and printed invitations link to it.
    pub public_origin: Option<String>,
    /// Who may read `/metrics`.
    pub metrics_access: Arc<crate::metrics::MetricsAccess>,
    /// This server's connection pool, for the metrics (`None` where the store is not SQL).
    pub pool: Option<sqlx::AnyPool>,
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

/// The application's routes, generated once per process. Generating them sets Leptos's
/// process-wide "do not load resources" flag (`leptos_server::SuppressResourceLoad`,
/// leptos-rs/leptos#4773) while it runs: a page rendered meanwhile by another router of the same
/// process would wait on its resources forever. Every router built after the first reuses the list.
fn route_list() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

pub fn router(state: AppState) -> Router {
    let routes = route_list();
    let store = state.store.clone();
    let leptos_options = state.leptos_options.clone();
    let assets = state.assets.clone();
    let limits = state.limits.clone();
    let https = state
        .public_origin
        .as_deref()
        .is_some_and(|origin| origin.starts_with("https://"));

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
        .merge(crate::staff::router(&state))
        .route("/healthz", get(health))
        .route("/metrics", get(crate::metrics::endpoint))
        .route("/lang/{code}", get(set_language))
        .route("/sw.js", get(service_worker))
        .route(
            "/du-lieu/{year}/{version}/{file}",
            get(crate::web::site::open_data::file),
        )
        .route("/", get(crate::web::site::pages::latest_overview))
        .route("/ket-qua", get(crate::web::site::pages::latest_overview))
        .route("/ket-qua/{year}", get(crate::web::site::pages::year_overview))
        .route(
            "/ket-qua/{year}/{version}",
            get(crate::web::site::pages::version_overview),
        )
        .route(
            "/ket-qua/{year}/tinh/{code}",
            get(crate::web::site::pages::year_province),
        )
        .route(
            "/ket-qua/{year}/{version}/tinh/{code}",
            get(crate::web::site::pages::version_province),
        )
        .route("/phuong-phap", get(crate::web::site::pages::methodology))
        .route(
            "/phuong-phap/{file}",
            get(crate::web::site::pages::methodology_file),
        )
        .route("/api/v1/releases", get(crate::web::site::api::api_releases))
        .route(
            "/api/v1/releases/{year}/{version}",
            get(crate::web::site::api::api_release),
        )
        .route(
            "/api/v1/releases/{year}/{version}/provinces/{code}",
            get(crate::web::site::api::api_province),
        )
        .route("/api/v1/openapi.json", get(crate::web::site::api::api_openapi))
        .route(
            "/s/go",
            get(crate::web::survey_forms::go).post(crate::web::survey_forms::go_posted),
        )
        .route("/s/{code}", post(crate::web::survey_forms::post_section))
        .route("/s/open/{wave}", post(crate::web::survey_forms::post_open))
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
            https,
            crate::web::device::device_cookie,
        ))
        .layer(axum::middleware::from_fn_with_state(
            assets,
            crate::web::assets::serve_precompressed,
        ))
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn(crate::web::limits::body_limit))
        // No request is held forever: a stalled render (or database, or a client sending its
        // body slowly) answers 503 after 30 s, so a phone's retry logic and the outbox take over.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(axum::middleware::from_fn_with_state(
            limits,
            crate::web::limits::guard,
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
        // Outermost: shed, rate-limited and timed-out requests are counted too.
        .layer(axum::middleware::from_fn(crate::metrics::track))
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
/// Its cache name carries a tag of this build's bundle (content hashes of the wasm, script and
/// stylesheet), so a new build is a new worker that drops the old caches; without precompressed
/// files (tests, a server-only build) the tag is the package version.
async fn service_worker(State(state): State<AppState>) -> Response {
    let tag = state
        .assets
        .build_tag()
        .unwrap_or_else(|| format!("v{}", env!("CARGO_PKG_VERSION").replace('.', "-")));
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'self'"),
        ],
        include_str!("../../assets/sw.js").replace("__SIPAS_BUILD__", &tag),
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
    // `is_local_path` admits only visible ASCII, so the header value is always valid.
    let Ok(location) = HeaderValue::from_str(&target) else {
        return Redirect::to("/").into_response();
    };
    let cookie = format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        locale.code()
    );
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response();
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

/// Only same-site paths. Browsers drop tabs and newlines from addresses and read a backslash as
/// a slash, so `/<TAB>/evil.example` or `/\\evil.example` would become `//evil.example`, another
/// site: visible ASCII only, no backslash, and never a second leading slash.
fn is_local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
}

#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct BindError {
    pub addr: SocketAddr,
    pub source: std::io::Error,
}

/// A bound, not yet serving listener. Binding first reports a busy port before any other
/// start-up work, and lets tests use port 0 and learn the port.
pub struct Listener {
    listener: TcpListener,
}

impl Listener {
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
    ///
    /// A hand-written accept loop rather than `axum::serve`, for two bounds it lacks: a client
    /// must send its request headers within `header_read_timeout` (slow-loris), and at most
    /// `max_connections` are open at once (further clients wait in the kernel's backlog).
    pub async fn run_until(
        self,
        state: AppState,
        settings: ServeSettings,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        use hyper_util::rt::{TokioIo, TokioTimer};
        use hyper_util::server::graceful::GracefulShutdown;
        use tower::ServiceExt;

        let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
        let connections = Arc::new(tokio::sync::Semaphore::new(settings.max_connections.max(1)));
        let per_client = Arc::new(std::sync::Mutex::new(HashMap::new()));
        let graceful = GracefulShutdown::new();
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(settings.header_read_timeout);
        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                permit = connections.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
                () = &mut shutdown => break,
            };
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        // Out of file descriptors and the like: wait, do not spin.
                        tracing::warn!(error = %err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            // One client may hold only a share of the connections (else one that never reads
            // its responses could take them all); over its share, it is hung up on at once.
            let Some(client_slot) =
                ClientSlot::take(&per_client, peer.ip(), settings.max_connections_per_client)
            else {
                drop(stream);
                continue;
            };
            let _ = stream.set_nodelay(true);
            let Ok(service) = app.clone().oneshot(peer).await;
            let service = hyper_util::service::TowerToHyperService::new(service);
            let connection = http.serve_connection(TokioIo::new(stream), service);
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                // Errors here are a client going away or timing out: nothing to report.
                let _ = connection.await;
                drop((permit, client_slot));
            });
        }
        drop(self.listener);
        // Requests in flight finish (within the request timeout); idle keep-alive connections
        // are closed. A client that never reads its response does not hold the shutdown up.
        if tokio::time::timeout(Duration::from_secs(35), graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("connections still open after 35 s; stopping anyway");
        }
        Ok(())
    }
}

/// Connection-level bounds of the HTTP server.
#[derive(Debug, Clone, Copy)]
pub struct ServeSettings {
    pub max_connections: usize,
    /// Open connections one peer address may hold (0 = no limit). Off behind a reverse proxy,
    /// where every connection comes from the proxy.
    pub max_connections_per_client: usize,
    pub header_read_timeout: Duration,
}

impl ServeSettings {
    pub fn from_config(config: &crate::config::Config) -> Self {
        let behind_proxy = config.client_ip_header.is_some();
        Self {
            max_connections: config.max_connections,
            // A quarter of all: generous for a carrier's NAT, yet no one address can take
            // the server.
            max_connections_per_client: if behind_proxy {
                0
            } else {
                (config.max_connections / 4).max(1)
            },
            header_read_timeout: Duration::from_secs(config.header_read_timeout_secs.max(1)),
        }
    }
}

/// A connection counted against its peer address; the count drops with it.
struct ClientSlot {
    counts: Arc<std::sync::Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl ClientSlot {
    fn take(
        counts: &Arc<std::sync::Mutex<HashMap<IpAddr, usize>>>,
        ip: IpAddr,
        limit: usize,
    ) -> Option<Self> {
        let mut map = counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let held = map.entry(ip).or_insert(0);
        if limit > 0 && *held >= limit {
            return None;
        }
        *held += 1;
        Some(Self {
            counts: counts.clone(),
            ip,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut map = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(held) = map.get_mut(&self.ip) {
            *held -= 1;
            if *held == 0 {
                map.remove(&self.ip);
            }
        }
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
        assert!(!is_local_path("/\t/evil.example"));
        assert!(!is_local_path("/\n/evil.example"));
        assert!(!is_local_path("/\r\nSet-Cookie: x=1"));
        assert!(!is_local_path("/ /evil.example"));
        assert!(!is_local_path("/x\\y"));
        assert!(!is_local_path("/\u{3000}/evil.example"));
    }
}
