//! The one way the application is put together. `sipas serve`, every integration test and
//! every benchmark build it here: the state from a store and [`Settings`], the background jobs
//! started beside it, and the router.

use std::sync::Arc;

use axum::Router;
use leptos::config::LeptosOptions;

use crate::config::Config;
use crate::staff::{StaffSettings, StaffState};
use crate::store::SqlStore;
use crate::web::AppState;
use crate::web::assets::PrecompressedAssets;
use crate::web::limits::Limits;

/// Everything the application is made of besides its database.
pub struct Settings {
    pub leptos_options: LeptosOptions,
    /// The site's wasm, script and stylesheet, compressed once (empty in tests).
    pub assets: Arc<PrecompressedAssets>,
    pub limits: Limits,
    pub staff: StaffSettings,
    /// The origin browsers see, when a proxy rewrites Host.
    pub public_origin: Option<String>,
    /// Who may read `/metrics` (nobody in process unless a test says so).
    pub metrics_access: crate::metrics::MetricsAccess,
    /// Start the periodic jobs ([`crate::jobs::start`]): always for the server; off in
    /// process for the tests, which drive the sweeps themselves where they test them.
    pub background_jobs: bool,
}

impl Settings {
    /// The server's settings from its configuration and Leptos's.
    pub fn from_config(config: &Config, leptos_options: LeptosOptions) -> Result<Self, String> {
        let metrics_access = crate::metrics::MetricsAccess::parse(
            config.metrics_token.as_deref(),
            &config.metrics_allow_from,
            config.client_ip_header.is_some(),
        )?;
        Ok(Self {
            metrics_access,
            leptos_options,
            assets: Arc::default(),
            limits: Limits::from_config(config),
            staff: config.staff_settings(),
            public_origin: config.public_origin(),
            background_jobs: true,
        })
    }

    /// In-process use (tests, benchmarks): no per-client rate limits (one client sends every
    /// request), default staff settings, no site assets, no periodic jobs.
    pub fn in_process() -> Self {
        Self {
            leptos_options: LeptosOptions::builder().output_name("sipas").build(),
            assets: Arc::default(),
            limits: Limits::without_rate_limits(),
            staff: StaffSettings::default(),
            public_origin: None,
            metrics_access: crate::metrics::MetricsAccess::default(),
            background_jobs: false,
        }
    }
}

/// The application on one store: its state, with the background jobs running beside it when the
/// settings say so (for as long as the Tokio runtime that built it).
pub struct Application {
    pub state: AppState,
}

impl Application {
    /// Builds the state and starts the background jobs ([`crate::jobs::start`]).
    pub fn build(store: Arc<SqlStore>, settings: Settings) -> Self {
        let staff = Arc::new(StaffState::new(store.clone(), settings.staff));
        let state = AppState {
            leptos_options: settings.leptos_options,
            pool: Some(store.pool().clone()),
            metrics_access: Arc::new(settings.metrics_access),
            store,
            assets: settings.assets,
            limits: Arc::new(settings.limits),
            staff,
            site: Arc::default(),
            public_origin: settings.public_origin,
        };
        if settings.background_jobs {
            crate::jobs::start(&state);
        }
        Self { state }
    }

    /// The HTTP application (what `sipas serve` serves, and what tests send requests to).
    pub fn router(&self) -> Router {
        crate::web::router(self.state.clone())
    }
}
