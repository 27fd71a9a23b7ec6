//! Bounds on what one client, or everyone together, can make the server do: request body size,
//! requests per client and minute on the public survey routes, and load shedding when too many
//! requests are in flight. Client addresses are used here, in memory, as rate-limit keys only;
//! they are never stored or logged.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::Semaphore;

use crate::config::Config;

/// Largest request body on the survey routes (`/s/*`, `/api/*`): a complete questionnaire is
/// about 1 KB as JSON or as a form post, so 16 KB leaves room for every language and version.
pub const SURVEY_BODY_LIMIT: usize = 16 * 1024;

/// Seconds a shed or rate-limited client is asked to wait.
const RETRY_AFTER_SECS: u64 = 5;

/// Which per-client budget a request draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteClass {
    /// `/s/open/{wave}`: each post makes a code.
    OpenLink,
    /// Survey pages and code look-ups.
    CodePage,
    /// Submissions, drafts and form posts.
    Submission,
    /// Everything else (public pages, assets, health).
    Unlimited,
}

pub fn classify(method: &Method, path: &str) -> RouteClass {
    if path.starts_with("/s/open/") {
        return if method == Method::POST {
            RouteClass::OpenLink
        } else {
            RouteClass::CodePage
        };
    }
    match path {
        "/api/survey/submit" | "/api/survey/draft" => RouteClass::Submission,
        "/api/survey/load" | "/api/survey/receipt" | "/api/survey/open" => RouteClass::CodePage,
        _ if path == "/s" || path.starts_with("/s/") || path.starts_with("/receipt/") => {
            if method == Method::POST {
                RouteClass::Submission
            } else {
                RouteClass::CodePage
            }
        }
        _ => RouteClass::Unlimited,
    }
}

/// The rate limiters and the in-flight budget of one server.
pub struct Limits {
    open_link: Option<DefaultKeyedRateLimiter<IpAddr>>,
    code_pages: Option<DefaultKeyedRateLimiter<IpAddr>>,
    submissions: Option<DefaultKeyedRateLimiter<IpAddr>>,
    client_ip_header: Option<String>,
    in_flight: Arc<Semaphore>,
    /// Open-link codes per wave and hour (0 = no cap); checked against the database.
    pub open_link_codes_per_hour: u32,
}

fn per_minute(limit: u32) -> Option<DefaultKeyedRateLimiter<IpAddr>> {
    // A burst of the whole minute's budget: a respondent moving quickly through the screens
    // is never slowed; only sustained floods are.
    NonZeroU32::new(limit).map(|n| RateLimiter::keyed(Quota::per_minute(n)))
}

impl Limits {
    pub fn from_config(config: &Config) -> Self {
        Self {
            open_link: per_minute(config.limit_open_link_per_minute),
            code_pages: per_minute(config.limit_code_pages_per_minute),
            submissions: per_minute(config.limit_submissions_per_minute),
            client_ip_header: config
                .client_ip_header
                .as_ref()
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty()),
            in_flight: Arc::new(Semaphore::new(config.max_requests_in_flight.max(1))),
            open_link_codes_per_hour: config.open_link_codes_per_hour,
        }
    }

    /// No per-client limits (in-process tests and the load benchmark's single client); the
    /// in-flight bound and the open-link cap keep their defaults.
    pub fn without_rate_limits() -> Self {
        Self::from_config(&Config {
            limit_open_link_per_minute: 0,
            limit_code_pages_per_minute: 0,
            limit_submissions_per_minute: 0,
            ..Config::default()
        })
    }

    fn limiter(&self, class: RouteClass) -> Option<&DefaultKeyedRateLimiter<IpAddr>> {
        match class {
            RouteClass::OpenLink => self.open_link.as_ref(),
            RouteClass::CodePage => self.code_pages.as_ref(),
            RouteClass::Submission => self.submissions.as_ref(),
            RouteClass::Unlimited => None,
        }
    }

    /// Forgets clients not seen for a while, so the key tables stay small (run periodically).
    pub fn forget_idle_clients(&self) {
        for limiter in [&self.open_link, &self.code_pages, &self.submissions]
            .into_iter()
            .flatten()
        {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// The client a request comes from: the configured proxy header, else the connection's
    /// peer. IPv6 clients are keyed by their /64, which one subscriber usually holds whole.
    pub fn client_key(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> IpAddr {
        let from_header = self.client_ip_header.as_ref().and_then(|name| {
            let value = headers.get(name.as_str())?.to_str().ok()?;
            // X-Forwarded-For: the last entry is the one our own proxy appended; earlier ones
            // are whatever the client claimed.
            value.rsplit(',').next()?.trim().parse::<IpAddr>().ok()
        });
        let ip = from_header
            .or(peer.map(|p| p.ip()))
            .unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let s = v6.segments();
                    IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
                }
            },
            v4 => v4,
        }
    }
}

fn retry_later(status: StatusCode, message: &'static str) -> Response {
    let mut response = (status, message).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    response
}

/// Middleware: sheds load beyond the in-flight budget, then applies the client's rate limit.
pub async fn guard(State(limits): State<Arc<Limits>>, request: Request, next: Next) -> Response {
    let Ok(_permit) = limits.in_flight.clone().try_acquire_owned() else {
        crate::metrics::METRICS.load_shed.inc();
        return retry_later(
            StatusCode::SERVICE_UNAVAILABLE,
            "The server is busy. Please try again in a few seconds. \
             / Hệ thống đang bận, vui lòng thử lại sau ít giây.",
        );
    };
    let class = classify(request.method(), request.uri().path());
    if let Some(limiter) = limits.limiter(class) {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0);
        let key = limits.client_key(request.headers(), peer);
        if limiter.check_key(&key).is_err() {
            let limit = match class {
                RouteClass::OpenLink => crate::metrics::Limit::open_link,
                RouteClass::CodePage => crate::metrics::Limit::code_pages,
                RouteClass::Submission | RouteClass::Unlimited => {
                    crate::metrics::Limit::submissions
                }
            };
            crate::metrics::METRICS
                .rate_limited
                .get_or_create(&crate::metrics::LimitLabel { limit })
                .inc();
            return retry_later(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests. Please wait a moment and try again. \
                 / Quá nhiều yêu cầu, vui lòng đợi một lát rồi thử lại.",
            );
        }
    }
    next.run(request).await
}

/// Middleware: bodies on the survey routes are refused beyond [`SURVEY_BODY_LIMIT`]: at once
/// (413) when the declared length is larger, and while reading when a chunked body grows past it.
pub async fn body_limit(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !(path == "/s" || path.starts_with("/s/") || path.starts_with("/api/")) {
        return next.run(request).await;
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > SURVEY_BODY_LIMIT as u64) {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    }
    let request = request
        .map(|body| axum::body::Body::new(http_body_util::Limited::new(body, SURVEY_BODY_LIMIT)));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_classified() {
        assert_eq!(classify(&Method::POST, "/s/open/w1"), RouteClass::OpenLink);
        assert_eq!(classify(&Method::GET, "/s/open/w1"), RouteClass::CodePage);
        assert_eq!(classify(&Method::GET, "/s/ABCD"), RouteClass::CodePage);
        assert_eq!(classify(&Method::POST, "/s/ABCD"), RouteClass::Submission);
        assert_eq!(classify(&Method::POST, "/s/go"), RouteClass::Submission);
        assert_eq!(
            classify(&Method::POST, "/api/survey/submit"),
            RouteClass::Submission
        );
        assert_eq!(
            classify(&Method::POST, "/api/survey/load"),
            RouteClass::CodePage
        );
        assert_eq!(classify(&Method::GET, "/"), RouteClass::Unlimited);
        assert_eq!(
            classify(&Method::GET, "/pkg/sipas.wasm"),
            RouteClass::Unlimited
        );
        assert_eq!(classify(&Method::GET, "/staff"), RouteClass::Unlimited);
    }

    #[test]
    fn client_keys() {
        let limits = Limits::from_config(&Config {
            client_ip_header: Some("X-Forwarded-For".into()),
            ..Config::default()
        });
        let mut headers = HeaderMap::new();
        let peer: SocketAddr = "10.0.0.1:5000".parse().expect("addr");
        assert_eq!(
            limits.client_key(&headers, Some(peer)),
            "10.0.0.1".parse::<IpAddr>().expect("ip")
        );
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.2.3.4, 203.0.113.9"),
        );
        assert_eq!(
            limits.client_key(&headers, Some(peer)),
            "203.0.113.9".parse::<IpAddr>().expect("ip"),
            "the entry our proxy appended, not the one the client claimed"
        );
        let v6: SocketAddr = "[2001:db8:1:2:3:4:5:6]:1".parse().expect("addr");
        let plain = Limits::from_config(&Config::default());
        assert_eq!(
            plain.client_key(&HeaderMap::new(), Some(v6)),
            "2001:db8:1:2::".parse::<IpAddr>().expect("ip")
        );
        assert_eq!(
            plain.client_key(&headers, Some(peer)),
            "10.0.0.1".parse::<IpAddr>().expect("ip"),
            "headers are ignored unless configured"
        );
    }
}
