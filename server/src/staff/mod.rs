//! The staff workspace over HTTP: `/staff/*` pages and forms, rendered on the server
//! (`sipas_app::staff::pages`), behind database sessions, role and province checks, same-origin
//! checks on every change, and the audit log.
//!
//! Nothing here is part of the citizen's wasm bundle (docs/architecture.md, "Staff pages").

pub mod accounts;
pub mod auth;
mod data;
mod design;
pub mod error;
mod field;
mod fieldwork;
pub mod guard;
mod keying;
mod quality;
mod research;
mod results;
pub mod sessions;
pub mod upload;
mod waves;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sipas_app::staff::StaffStore;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::web::AppState;

/// Sessions and sign-in settings.
#[derive(Debug, Clone)]
pub struct StaffSettings {
    /// A session unused this long ends.
    pub session_idle: Duration,
    /// A session ends this long after sign-in, however busy.
    pub session_absolute: Duration,
    /// Session cookies only over HTTPS (set when the public origin is `https://`).
    pub secure_cookies: bool,
    /// Keys the sign-in throttle's address hashes; servers sharing a database share it
    /// (configuration's `throttle_secret`). `None`: random per process.
    pub throttle_secret: Option<String>,
    /// A background job whose server has not renewed its lease for this long is taken over by
    /// another server (configuration's `job_lease_secs`).
    pub job_lease: Duration,
}

impl Default for StaffSettings {
    fn default() -> Self {
        Self {
            session_idle: Duration::from_secs(30 * 60),
            session_absolute: Duration::from_secs(12 * 3600),
            secure_cookies: false,
            throttle_secret: None,
            job_lease: Duration::from_secs(60),
        }
    }
}

/// What the staff handlers share.
pub struct StaffState {
    pub store: Arc<dyn StaffStore>,
    pub settings: StaffSettings,
    /// Keys the hashes of client addresses in the sign-in throttle (configured, shared by the
    /// servers on one database, or random per process): the addresses cannot be recovered
    /// from the table without it.
    pub throttle_secret: String,
    /// This server's name on the background jobs it runs, and their lease.
    pub lease: crate::jobs::results::Lease,
    /// Provisional margins during fieldwork, per wave (monitoring).
    pub precision: Arc<crate::jobs::precision::PrecisionCache>,
}

impl StaffState {
    pub fn new(store: Arc<dyn StaffStore>, settings: StaffSettings) -> Self {
        let throttle_secret = settings.throttle_secret.clone().unwrap_or_else(|| {
            let mut secret = [0u8; 32];
            // Without randomness the keys are plain hashes of addresses: still not stored raw.
            let _ = getrandom::fill(&mut secret);
            secret.iter().map(|b| format!("{b:02x}")).collect()
        });
        Self {
            store,
            lease: crate::jobs::results::Lease::for_this_server(settings.job_lease),
            settings,
            throttle_secret,
            precision: Arc::default(),
        }
    }
}

pub use quality::{thresholds as quality_thresholds, thresholds_for as quality_thresholds_for};

/// Staff pages' policy: our own scripts and styles only, forms post to us only.
const STAFF_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// An HTML response with the staff policy.
pub fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(STAFF_CSP),
            ),
        ],
        body,
    )
        .into_response()
}

/// The `confirm` field of a form for an irreversible action: the action is done only when it is
/// `yes` (the confirmation page, or a ticked box, sends it).
#[derive(serde::Deserialize, Default)]
pub struct Confirm {
    #[serde(default)]
    confirm: String,
}

impl Confirm {
    pub fn confirmed(&self) -> bool {
        self.confirm == "yes"
    }
}

/// A path inside the staff workspace, safe to redirect to after sign-in.
pub fn is_local_staff_path(path: &str) -> bool {
    (path == "/staff" || path.starts_with("/staff/"))
        && !path.starts_with("/staff/login")
        && path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
}

/// The `/staff` routes with their session layer and same-origin check.
pub fn router(state: &AppState) -> Router<AppState> {
    let settings = &state.staff.settings;
    let idle =
        time::Duration::seconds(i64::try_from(settings.session_idle.as_secs()).unwrap_or(1800));
    let sessions = SessionManagerLayer::new(sessions::DbSessions(state.staff.store.clone()))
        .with_name("sipas_staff")
        .with_path("/staff")
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_secure(settings.secure_cookies)
        .with_expiry(Expiry::OnInactivity(idle))
        // Each request renews the idle deadline (staff traffic is light: one write each).
        .with_always_save(true);
    // Uploads (frames, paper forms, questionnaires): up to 32 MB.
    let uploads = DefaultBodyLimit::max(32 * 1024 * 1024);
    Router::new()
        .route("/staff/login", get(auth::sign_in_page).post(auth::sign_in))
        .route("/staff/logout", post(auth::sign_out))
        .route("/staff", get(waves::list))
        .route("/staff/waves", post(waves::create))
        .route("/staff/waves/new", get(waves::new_form))
        .route("/staff/waves/{wave}", get(waves::show))
        .route("/staff/waves/{wave}/close", post(waves::close))
        .route(
            "/staff/waves/{wave}/design",
            get(design::page).post(design::draw).layer(uploads),
        )
        .route(
            "/staff/questionnaires",
            get(waves::questionnaires)
                .post(waves::publish)
                .layer(uploads),
        )
        .route("/staff/questionnaires/diff", get(waves::diff))
        .route(
            "/staff/questionnaires/{code}/{version}",
            get(waves::questionnaire),
        )
        .route(
            "/staff/waves/{wave}/frame",
            get(field::frame).post(field::upload_frame).layer(uploads),
        )
        .route(
            "/staff/waves/{wave}/batches",
            get(field::batches).post(field::issue),
        )
        .route("/staff/batches/{batch}/void", post(field::void))
        .route("/staff/batches/{batch}/codes.csv", post(field::codes_csv))
        .route("/staff/waves/{wave}/monitor", get(field::monitor))
        .route(
            "/staff/waves/{wave}/fieldwork",
            get(fieldwork::fieldwork).post(fieldwork::assign),
        )
        .route(
            "/staff/waves/{wave}/fieldwork/{id}/withdraw",
            post(fieldwork::withdraw),
        )
        .route("/staff/field", get(fieldwork::home))
        .route(
            "/staff/field/{id}",
            get(fieldwork::assignment).post(fieldwork::mark),
        )
        .route(
            "/staff/waves/{wave}/import",
            get(data::import_form).post(data::import).layer(uploads),
        )
        .route("/staff/waves/{wave}/export", get(data::export_page))
        .route(
            "/staff/waves/{wave}/keying",
            get(keying::screen).post(keying::save),
        )
        .route(
            "/staff/waves/{wave}/keying/{id}",
            get(keying::form).post(keying::resolve),
        )
        .route("/staff/waves/{wave}/quality", get(quality::queue))
        .route("/staff/waves/{wave}/quality-all", post(quality::decide_all))
        .route(
            "/staff/waves/{wave}/quality/{export_id}",
            get(quality::response).post(quality::decide),
        )
        .route("/staff/waves/{wave}/{file}", get(data::export_file))
        .route(
            "/staff/waves/{wave}/results",
            get(results::list).post(results::start),
        )
        .route("/staff/computations/{id}", get(results::show))
        .route("/staff/computations/{id}/comment", post(results::comment))
        .route("/staff/computations/{id}/submit", post(results::submit))
        .route("/staff/computations/{id}/approve", post(results::approve))
        .route(
            "/staff/computations/{id}/return",
            post(results::return_draft),
        )
        .route("/staff/computations/{id}/publish", post(results::publish))
        .route(
            "/staff/releases/{year}/{version}/totals.json",
            get(results::full_totals),
        )
        .route(
            "/staff/conditions",
            get(research::conditions).post(research::accept),
        )
        .route("/staff/users", get(accounts::list).post(accounts::create))
        .route("/staff/users/{id}/{change}", post(accounts::change))
        .route("/staff/audit", get(accounts::audit_log))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::refuse_cross_origin,
        ))
        .layer(axum::middleware::from_fn(error::error_pages))
        .layer(sessions)
}
