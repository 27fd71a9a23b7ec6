//! What the Ministry's IT staff watch (`/metrics`, Prometheus/OpenMetrics text): requests by
//! route class and status and their latency, submissions acknowledged, group-commit batch
//! sizes, load shed, rate-limited requests, sign-ins throttled, background jobs by state, the
//! database pool. Labels are fixed sets (route classes, statuses, limits), never paths, codes
//! or addresses. Counters are per process; a Prometheus server scrapes every instance.
//!
//! `/metrics` answers a bearer token from configuration, or a client whose connection comes
//! from a configured address range (the peer address itself, never a forwarded header); anyone
//! else gets 403. docs/operations.md says what each alert means.

use std::net::{IpAddr, SocketAddr};
use std::sync::LazyLock;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::web::AppState;

/// Which part of the platform a request is for.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)] // label values as Prometheus users write them
pub enum RouteClass {
    /// The questionnaire: pages, code look-ups, drafts and submissions.
    survey,
    /// The staff workspace.
    staff,
    /// The public results site, its API and open data.
    public,
    /// Scripts, styles, the wasm bundle, the service worker.
    assets,
    health,
    metrics,
    other,
}

impl RouteClass {
    pub fn of(path: &str) -> Self {
        let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
        if under("/s") || under("/api/survey") || under("/receipt") || under("/khao-sat") {
            Self::survey
        } else if under("/staff") {
            Self::staff
        } else if path == "/"
            || under("/ket-qua")
            || under("/phuong-phap")
            || under("/api/v1")
            || under("/du-lieu")
            || under("/lang")
        {
            Self::public
        } else if under("/pkg") || path == "/sw.js" || path.starts_with("/favicon") {
            Self::assets
        } else if path == "/healthz" {
            Self::health
        } else if path == "/metrics" {
            Self::metrics
        } else {
            Self::other
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub class: RouteClass,
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClassLabel {
    pub class: RouteClass,
}

#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Limit {
    open_link,
    code_pages,
    submissions,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabel {
    pub limit: Limit,
}

#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Acknowledged {
    /// Stored now.
    new,
    /// The same submission again (a retry after a lost reply): its receipt once more.
    repeated,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AcknowledgedLabel {
    pub outcome: Acknowledged,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    pub state: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabel {
    pub state: &'static str,
}

/// The states of a computation (migration 0011's CHECK).
const COMPUTATION_STATES: [&str; 6] = [
    "running",
    "failed",
    "draft",
    "submitted",
    "approved",
    "published",
];

fn latency_histogram() -> Histogram {
    // 1 ms to ~33 s: a page from memory to the 30 s request timeout.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<ClassLabel, Histogram, fn() -> Histogram>,
    pub submissions: Family<AcknowledgedLabel, Counter>,
    pub group_commit_batch: Histogram,
    pub load_shed: Counter,
    pub rate_limited: Family<LimitLabel, Counter>,
    pub sign_in_throttled: Counter,
    jobs: Family<StateLabel, Gauge>,
    pool: Family<PoolLabel, Gauge>,
    pool_max: Gauge,
}

/// The process's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("sipas");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route class and status",
            requests.clone(),
        );
        let latency = Family::<ClassLabel, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request, by route class",
            latency.clone(),
        );
        let submissions = Family::<AcknowledgedLabel, Counter>::default();
        registry.register(
            "submissions_acknowledged",
            "Questionnaires acknowledged with a receipt after a durable commit",
            submissions.clone(),
        );
        let group_commit_batch = Histogram::new(exponential_buckets(1.0, 2.0, 10));
        registry.register(
            "group_commit_batch_size",
            "Submissions and drafts committed together in one transaction",
            group_commit_batch.clone(),
        );
        let load_shed = Counter::default();
        registry.register(
            "load_shed",
            "Requests answered 503 at once because too many were in flight",
            load_shed.clone(),
        );
        let rate_limited = Family::<LimitLabel, Counter>::default();
        registry.register(
            "rate_limited",
            "Requests answered 429 by a per-client limit",
            rate_limited.clone(),
        );
        let sign_in_throttled = Counter::default();
        registry.register(
            "sign_in_throttled",
            "Staff sign-ins refused by the failed-sign-in throttle",
            sign_in_throttled.clone(),
        );
        let jobs = Family::<StateLabel, Gauge>::default();
        registry.register(
            "computations",
            "Results computations in the database, by state (all servers)",
            jobs.clone(),
        );
        let pool = Family::<PoolLabel, Gauge>::default();
        registry.register(
            "database_connections",
            "This server's database connections, in use or idle",
            pool.clone(),
        );
        let pool_max = Gauge::default();
        registry.register(
            "database_connections_max",
            "This server's database pool size limit",
            pool_max.clone(),
        );
        // Series an alert watches exist from the start, at 0: "no submissions for an hour"
        // must not be "no series".
        for outcome in [Acknowledged::new, Acknowledged::repeated] {
            drop(submissions.get_or_create(&AcknowledgedLabel { outcome }));
        }
        for limit in [Limit::open_link, Limit::code_pages, Limit::submissions] {
            drop(rate_limited.get_or_create(&LimitLabel { limit }));
        }
        Self {
            registry,
            requests,
            latency,
            submissions,
            group_commit_batch,
            load_shed,
            rate_limited,
            sign_in_throttled,
            jobs,
            pool,
            pool_max,
        }
    }
}

/// Middleware: counts and times every request by route class and status.
pub async fn track(request: Request, next: Next) -> Response {
    let class = RouteClass::of(request.uri().path());
    let started = Instant::now();
    let response = next.run(request).await;
    let metrics = &*METRICS;
    metrics
        .requests
        .get_or_create(&RequestLabels {
            class,
            status: response.status().as_u16(),
        })
        .inc();
    metrics
        .latency
        .get_or_create(&ClassLabel { class })
        .observe(started.elapsed().as_secs_f64());
    response
}

/// Who may read `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct MetricsAccess {
    pub token: Option<String>,
    pub allow_from: Vec<ipnet::IpNet>,
    /// Behind a reverse proxy (`client_ip_header` set), every request comes from the proxy's
    /// address: the ranges would let the whole internet in, so only the token counts.
    pub behind_proxy: bool,
}

impl MetricsAccess {
    /// From configuration: `metrics_token`, and `metrics_allow_from` as comma-separated CIDR.
    pub fn parse(
        token: Option<&str>,
        allow_from: &str,
        behind_proxy: bool,
    ) -> Result<Self, String> {
        let allow_from = allow_from
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|range| {
                range
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| range.parse::<IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| format!("metrics_allow_from: {range:?} is not an address range"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            token: token.map(str::to_owned).filter(|t| !t.is_empty()),
            allow_from,
            behind_proxy,
        })
    }

    pub fn allows(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> bool {
        use subtle::ConstantTimeEq;
        if let Some(token) = &self.token
            && let Some(given) = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
            && bool::from(given.as_bytes().ct_eq(token.as_bytes()))
        {
            return true;
        }
        // A request a proxy relayed says so; its peer address is the proxy's, not the client's.
        let relayed = ["forwarded", "x-forwarded-for", "x-real-ip"]
            .iter()
            .any(|name| headers.contains_key(*name));
        !self.behind_proxy
            && !relayed
            && peer.is_some_and(|peer| {
                let ip = peer.ip().to_canonical();
                self.allow_from.iter().any(|range| range.contains(&ip))
            })
    }
}

/// `GET /metrics`.
pub async fn endpoint(State(state): State<AppState>, request: Request) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    if !state.metrics_access.allows(request.headers(), peer) {
        return (
            StatusCode::FORBIDDEN,
            "metrics: send `Authorization: Bearer <metrics_token>`; without it only a direct \
             connection (no proxy in between) from an address in metrics_allow_from is let in\n",
        )
            .into_response();
    }
    let metrics = &*METRICS;
    // Read at each scrape: the jobs of every server, this server's pool.
    match state.staff.store.computation_counts().await {
        Ok(counts) => {
            // Every state, 0 when none: an alert on `running` needs the series to exist.
            for state in COMPUTATION_STATES {
                metrics
                    .jobs
                    .get_or_create(&StateLabel {
                        state: state.to_owned(),
                    })
                    .set(0);
            }
            for (status, count) in counts {
                metrics
                    .jobs
                    .get_or_create(&StateLabel { state: status })
                    .set(count);
            }
        }
        Err(err) => tracing::warn!(error = %err, "metrics: counting computations failed"),
    }
    if let Some(pool) = &state.pool {
        let (size, idle) = (pool.size() as i64, pool.num_idle() as i64);
        metrics
            .pool
            .get_or_create(&PoolLabel { state: "in_use" })
            .set(size - idle);
        metrics
            .pool
            .get_or_create(&PoolLabel { state: "idle" })
            .set(idle);
        metrics
            .pool_max
            .set(pool.options().get_max_connections() as i64);
    }
    let mut body = String::new();
    if let Err(err) = prometheus_client::encoding::text::encode(&mut body, &metrics.registry) {
        tracing::error!(error = %err, "metrics: encoding failed");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_fall_in_fixed_classes() {
        assert_eq!(RouteClass::of("/api/survey/submit"), RouteClass::survey);
        assert_eq!(RouteClass::of("/s/ABCD-EFGH"), RouteClass::survey);
        assert_eq!(RouteClass::of("/staff/waves/x/results"), RouteClass::staff);
        assert_eq!(RouteClass::of("/ket-qua/2026/tinh/79"), RouteClass::public);
        assert_eq!(RouteClass::of("/"), RouteClass::public);
        assert_eq!(RouteClass::of("/pkg/sipas.wasm"), RouteClass::assets);
        assert_eq!(RouteClass::of("/healthz"), RouteClass::health);
        assert_eq!(RouteClass::of("/metrics"), RouteClass::metrics);
        assert_eq!(RouteClass::of("/staffing"), RouteClass::other);
        assert_eq!(RouteClass::of("/sx"), RouteClass::other);
    }

    #[test]
    fn access_by_token_or_range_only() {
        let access = MetricsAccess::parse(Some("s3cret"), "10.0.0.0/8, 127.0.0.1,::1/128", false)
            .expect("parse");
        let peer = |ip: &str| Some(SocketAddr::new(ip.parse().expect("ip"), 4000));
        let none = HeaderMap::new();
        assert!(access.allows(&none, peer("10.1.2.3")));
        assert!(access.allows(&none, peer("127.0.0.1")));
        assert!(access.allows(&none, peer("::ffff:10.9.9.9")), "IPv4-mapped");
        assert!(!access.allows(&none, peer("192.168.1.1")));
        assert!(!access.allows(&none, None));
        let mut bearer = HeaderMap::new();
        bearer.insert(header::AUTHORIZATION, "Bearer s3cret".parse().expect("h"));
        assert!(access.allows(&bearer, peer("203.0.113.9")));
        bearer.insert(header::AUTHORIZATION, "Bearer s3cre".parse().expect("h"));
        assert!(!access.allows(&bearer, peer("203.0.113.9")));
        // Relayed by a proxy on this machine: the range does not count, the token does.
        let mut relayed = HeaderMap::new();
        relayed.insert("x-forwarded-for", "198.51.100.7".parse().expect("h"));
        assert!(!access.allows(&relayed, peer("127.0.0.1")));
        relayed.insert(header::AUTHORIZATION, "Bearer s3cret".parse().expect("h"));
        assert!(access.allows(&relayed, peer("127.0.0.1")));
        let proxied = MetricsAccess::parse(Some("s3cret"), "127.0.0.1", true).expect("parse");
        assert!(
            !proxied.allows(&none, peer("127.0.0.1")),
            "behind a proxy: token only"
        );
        assert!(proxied.allows(&relayed, peer("127.0.0.1")));
        assert!(MetricsAccess::parse(None, "10.0.0.0/33", false).is_err());
        assert!(MetricsAccess::parse(None, "somewhere", false).is_err());
        let empty = MetricsAccess::parse(Some(""), "", false).expect("parse");
        let mut blank = HeaderMap::new();
        blank.insert(header::AUTHORIZATION, "Bearer ".parse().expect("h"));
        assert!(
            !empty.allows(&blank, peer("127.0.0.1")),
            "an empty token opens nothing"
        );
    }
}
