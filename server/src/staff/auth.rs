//! Signing in and out, the signed-in staff member of a request, and the checks every staff
//! handler makes: session, role, province, and same origin for anything that changes state.

use std::net::SocketAddr;

use argon2::password_hash::PasswordHasher;
use argon2::{Argon2, PasswordVerifier};
use axum::Form;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use sipas_app::i18n::Locale;
use sipas_app::ports::StoreError;
use sipas_app::staff::StaffUser;
use sipas_app::staff::pages::{self, Ctx};
use sipas_app::staff::port::{AuditAction, AuditEntry};
use sipas_app::survey::codes::sha256_hex;
use tower_sessions::Session;

use super::{StaffState, html, is_local_staff_path};
use crate::web::AppState;

/// What a session keeps: who, with which credentials, since when.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionUser {
    pub id: i64,
    /// The account's credentials version at sign-in; a reset or disable changes it.
    pub version: i64,
    /// Unix seconds of the sign-in (the absolute timeout counts from here).
    pub since: i64,
}

pub const SESSION_KEY: &str = "staff";

pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Checks a password against a stored hash, off the async threads.
async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok()
    })
    .await
    .unwrap_or(false)
}

/// A real argon2id hash of a random password: signing in as an unknown user costs the same
/// time as a wrong password, so timing does not tell which usernames exist.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let mut secret = [0u8; 16];
        let _ = getrandom::fill(&mut secret);
        Argon2::default()
            .hash_password(&secret)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// The signed-in staff member of a request. Extracting it checks the session, the account
/// (still active, credentials unchanged) and the absolute timeout. Without one, a page
/// request is sent to the sign-in page and anything else is refused with 401.
#[derive(Clone)]
pub struct Staff {
    pub user: StaffUser,
    pub ctx: Ctx,
    session: Session,
}

/// The session key of a one-line notice shown on the next page ("Account created."): it
/// survives the redirect after a change, without JavaScript.
const NOTICE_KEY: &str = "notice";

#[derive(Debug)]
pub struct NotSignedIn {
    method: Method,
    path: String,
    locale: Locale,
}

impl IntoResponse for NotSignedIn {
    fn into_response(self) -> Response {
        if self.method == Method::GET {
            let next = if is_local_staff_path(&self.path) {
                self.path.as_str()
            } else {
                "/staff"
            };
            let target = format!("/staff/login?next={}", urlencode(next));
            return Redirect::to(&target).into_response();
        }
        let ctx = Ctx {
            locale: self.locale,
            user: None,
            path: "/staff/login".into(),
            notice: None,
        };
        html(
            StatusCode::UNAUTHORIZED,
            pages::message(
                &ctx,
                ctx.t("Cần đăng nhập", "Sign-in needed"),
                ctx.t(
                    "Phiên làm việc đã hết hạn hoặc chưa đăng nhập. Hãy đăng nhập lại.",
                    "Your session has ended or you are not signed in. Please sign in again.",
                )
                .to_owned(),
            ),
        )
    }
}

pub fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = NotSignedIn;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let locale = crate::web::locale(&parts.headers);
        let path = parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
        let refuse = || NotSignedIn {
            method: parts.method.clone(),
            path: path.clone(),
            locale,
        };
        let Some(session) = parts.extensions.get::<Session>().cloned() else {
            return Err(refuse());
        };
        let Ok(Some(signed_in)) = session.get::<SessionUser>(SESSION_KEY).await else {
            return Err(refuse());
        };
        let staff = &state.staff;
        let expired =
            now_unix() - signed_in.since > staff.settings.session_absolute.as_secs() as i64;
        let user = match staff.store.user(signed_in.id).await {
            Ok(user)
                if user.active && user.credentials_version == signed_in.version && !expired =>
            {
                user
            }
            Ok(_) | Err(StoreError::NotFound) => {
                // Disabled, password reset, or past the absolute timeout: the session ends.
                let _ = session.flush().await;
                return Err(refuse());
            }
            Err(err) => {
                tracing::error!(error = %err, "loading the signed-in account failed");
                return Err(refuse());
            }
        };
        // Read before it is removed: removing marks the session changed (a write per request).
        let notice = match session.get::<sipas_app::i18n::Text>(NOTICE_KEY).await {
            Ok(Some(text)) => {
                let _ = session.remove_value(NOTICE_KEY).await;
                Some(text.pick(locale).to_owned())
            }
            _ => None,
        };
        let ctx = Ctx {
            locale,
            user: Some(user.clone()),
            path,
            notice,
        };
        // For the error page, should the handler fail (`super::error::error_pages`).
        if let Some(slot) = parts.extensions.get::<super::error::PageContext>() {
            slot.set(&ctx);
        }
        Ok(Staff { ctx, user, session })
    }
}

impl Staff {
    /// Says what was done on the next page this member sees (after the redirect).
    pub async fn flash(&self, notice: sipas_app::i18n::Text) {
        if let Err(err) = self.session.insert(NOTICE_KEY, notice).await {
            tracing::warn!(error = %err, "notice not kept");
        }
    }

    pub async fn audit(
        &self,
        staff: &StaffState,
        action: AuditAction,
        wave: Option<&str>,
        province: Option<&str>,
        detail: String,
    ) {
        audit(staff, &self.user.username, action, wave, province, detail).await;
    }

    /// The audit entry of a change this member makes, for the store to write in the change's
    /// transaction.
    pub fn entry(
        &self,
        action: AuditAction,
        wave: Option<&str>,
        province: Option<&str>,
        detail: String,
    ) -> AuditEntry {
        let entry = AuditEntry::new(&self.user.username, action)
            .province(province)
            .detail(detail);
        match wave {
            Some(wave) => entry.wave(wave),
            None => entry,
        }
    }

    /// For what must not be given unlogged (full totals, exports, invitation codes): the entry
    /// is written first, and when it cannot be, the request is refused.
    pub async fn audit_before_giving(
        &self,
        staff: &StaffState,
        action: AuditAction,
        wave: Option<&str>,
        province: Option<&str>,
        detail: String,
    ) -> Result<(), super::error::StaffError> {
        if audit(staff, &self.user.username, action, wave, province, detail).await {
            Ok(())
        } else {
            Err(super::error::StaffError::Unavailable)
        }
    }
}

/// Appends to the audit log; whether it was written. A failure is logged loudly; for a change,
/// the change itself has happened.
pub async fn audit(
    staff: &StaffState,
    actor: &str,
    action: AuditAction,
    wave: Option<&str>,
    province: Option<&str>,
    detail: String,
) -> bool {
    let mut entry = AuditEntry::new(actor, action)
        .province(province)
        .detail(detail);
    entry.wave_code = wave.map(str::to_owned);
    // Written by a task of its own, so a client that goes away (which drops this request's
    // future) cannot leave a change it made unlogged.
    let store = staff.store.clone();
    let written = tokio::spawn(async move { store.audit(&entry).await }).await;
    match written {
        Ok(Ok(())) => true,
        Ok(Err(err)) => {
            tracing::error!(error = %err, action = action.key(), "writing the audit log failed");
            false
        }
        Err(err) => {
            tracing::error!(error = %err, action = action.key(), "the audit task failed");
            false
        }
    }
}

/// Whether a state-changing request comes from our own pages. Browsers send `Origin` with
/// every POST; it must be the public origin when one is configured (behind a proxy that
/// rewrites Host), else match the Host header. `Sec-Fetch-Site` backs this up when `Origin` is
/// missing; a request with neither comes from no browser, so it carries no victim's cookies.
pub fn same_origin(headers: &HeaderMap, public_origin: Option<&str>) -> bool {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        return match public_origin {
            Some(public) => origin.eq_ignore_ascii_case(public.trim_end_matches('/')),
            None => {
                let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
                let origin_host = origin.split_once("://").map(|(_, rest)| rest);
                matches!((origin_host, host), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
            }
        };
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => site == "same-origin" || site == "none",
        None => true,
    }
}

/// Middleware for the staff routes: every request other than GET/HEAD must be same-origin.
pub async fn refuse_cross_origin(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD);
    if !safe && !same_origin(request.headers(), state.public_origin.as_deref()) {
        return (StatusCode::FORBIDDEN, "cross-site requests are refused").into_response();
    }
    let mut response = next.run(request).await;
    // Staff pages carry personal work and, once, invitation codes: never cache them.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn sign_in_page(headers: HeaderMap, Query(query): Query<NextQuery>) -> Response {
    let ctx = Ctx {
        locale: crate::web::locale(&headers),
        user: None,
        path: "/staff/login".into(),
        notice: None,
    };
    let next = query
        .next
        .filter(|n| is_local_staff_path(n))
        .unwrap_or_else(|| "/staff".into());
    html(
        StatusCode::OK,
        pages::sign_in(&ctx, None, next, String::new()),
    )
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// Failed sign-ins allowed within the window before back-off starts: for one account from one
/// client, for one account from all clients, and for one client over all accounts (a provincial
/// office shares one address).
const FREE_FAILURES_PAIR: i64 = 5;
const FREE_FAILURES_ACCOUNT: i64 = 50;
const FREE_FAILURES_CLIENT: i64 = 20;
const WINDOW_SECS: i64 = 15 * 60;

/// Seconds to wait before the next attempt after `failures` recent failures: doubling from
/// 15 s once the free attempts are used, at most 15 minutes.
pub fn back_off_secs(failures: i64, free: i64) -> i64 {
    if failures < free {
        return 0;
    }
    let doublings = u32::try_from((failures - free).min(6)).unwrap_or(6);
    (15_i64 << doublings).min(WINDOW_SECS)
}

async fn throttled_for(staff: &StaffState, keys: &[(String, i64)]) -> Result<i64, StoreError> {
    let now = now_unix();
    let mut wait = 0;
    for (key, free) in keys {
        let (failures, latest) = staff.store.login_failures(key, now - WINDOW_SECS).await?;
        let until = latest.unwrap_or(now) + back_off_secs(failures, *free);
        wait = wait.max(until - now);
    }
    Ok(wait)
}

/// The connection's peer address, when the server recorded one (in-process tests have none).
pub struct Peer(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0),
        ))
    }
}

pub async fn sign_in(
    State(state): State<AppState>,
    Peer(peer): Peer,
    session: Session,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let staff = &state.staff;
    let ctx = Ctx {
        locale: crate::web::locale(&headers),
        user: None,
        path: "/staff/login".into(),
        notice: None,
    };
    let next = Some(form.next.clone())
        .filter(|n| is_local_staff_path(n))
        .unwrap_or_else(|| "/staff".into());
    let username = form.username.trim().to_lowercase();
    let show = |status, message: &str| {
        html(
            status,
            pages::sign_in(
                &ctx,
                Some(message.to_owned()),
                next.clone(),
                username.clone(),
            ),
        )
    };
    if username.len() > 64 || form.password.len() > 1024 {
        return show(
            StatusCode::BAD_REQUEST,
            ctx.t(
                "Tên đăng nhập hoặc mật khẩu không đúng.",
                "Wrong username or password.",
            ),
        );
    }
    // Throttle keys (the address only as a keyed hash, never itself): this account from this
    // client, the account from anywhere (looser: one attacker cannot lock a colleague out from
    // their own office), and this client over all accounts.
    let client = state.limits.client_key(&headers, peer);
    let client_hash = sha256_hex(format!("{}\u{1f}{client}", staff.throttle_secret).as_bytes());
    let pair_key = format!("pair:{username}:{client_hash}");
    let account_key = format!("account:{username}");
    let client_key = format!("client:{client_hash}");
    let keys = [
        (pair_key.clone(), FREE_FAILURES_PAIR),
        (account_key.clone(), FREE_FAILURES_ACCOUNT),
        (client_key.clone(), FREE_FAILURES_CLIENT),
    ];
    // One sign-in is checked at a time per server: the throttle's count, the password check and
    // the recorded failure happen in order, so a burst of parallel guesses cannot all pass the
    // count before any failure is written; it also bounds the CPU argon2 can take (about 20
    // sign-ins a second, plenty for staff).
    static ONE_AT_A_TIME: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
    let Ok(_turn) = ONE_AT_A_TIME.acquire().await else {
        return show(
            StatusCode::SERVICE_UNAVAILABLE,
            ctx.t(
                "Hệ thống tạm thời gián đoạn.",
                "The service is temporarily unavailable.",
            ),
        );
    };
    match throttled_for(staff, &keys).await {
        Ok(0) => {}
        Ok(wait) if wait > 0 => {
            let message = format!(
                "{} {} {}",
                ctx.t(
                    "Đăng nhập sai quá nhiều lần. Thử lại sau",
                    "Too many failed sign-ins. Try again in"
                ),
                wait,
                ctx.t("giây.", "seconds.")
            );
            crate::metrics::METRICS.sign_in_throttled.inc();
            let mut response = show(StatusCode::TOO_MANY_REQUESTS, &message);
            if let Ok(value) = header::HeaderValue::from_str(&wait.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
        Ok(_) => {}
        Err(err) => {
            tracing::error!(error = %err, "sign-in throttle lookup failed");
            return show(
                StatusCode::SERVICE_UNAVAILABLE,
                ctx.t(
                    "Hệ thống tạm thời gián đoạn.",
                    "The service is temporarily unavailable.",
                ),
            );
        }
    }
    let found = staff.store.user_for_sign_in(&username).await;
    let (user, hash) = match found {
        Ok((user, hash)) => (Some(user), hash),
        Err(StoreError::NotFound) => (None, decoy_hash().to_owned()),
        Err(err) => {
            tracing::error!(error = %err, "sign-in lookup failed");
            return show(
                StatusCode::SERVICE_UNAVAILABLE,
                ctx.t(
                    "Hệ thống tạm thời gián đoạn.",
                    "The service is temporarily unavailable.",
                ),
            );
        }
    };
    let password_ok = verify_password(form.password, hash).await;
    let user = match user {
        Some(user) if password_ok && user.active => user,
        other => {
            if let Err(err) = staff
                .store
                .record_login_failure(&[pair_key, account_key, client_key], now_unix())
                .await
            {
                tracing::error!(error = %err, "sign-in throttle record failed");
            }
            // Only existing accounts are named: a password typed into the username field must
            // not end up in a log the administrators read.
            let (actor, reason) = match &other {
                None => ("-".to_owned(), "tài khoản không tồn tại"),
                Some(u) if !u.active => (u.username.clone(), "tài khoản đã bị khóa"),
                Some(u) => (u.username.clone(), "sai mật khẩu"),
            };
            audit(
                staff,
                &actor,
                AuditAction::SignInFailed,
                None,
                None,
                reason.to_owned(),
            )
            .await;
            return show(
                StatusCode::UNAUTHORIZED,
                ctx.t(
                    "Tên đăng nhập hoặc mật khẩu không đúng.",
                    "Wrong username or password.",
                ),
            );
        }
    };
    // A new session id at sign-in: an id planted before sign-in (fixation) is worthless.
    if let Err(err) = session.cycle_id().await {
        tracing::error!(error = %err, "session id rotation failed");
        return show(
            StatusCode::SERVICE_UNAVAILABLE,
            ctx.t(
                "Hệ thống tạm thời gián đoạn.",
                "The service is temporarily unavailable.",
            ),
        );
    }
    let record = SessionUser {
        id: user.id,
        version: user.credentials_version,
        since: now_unix(),
    };
    if let Err(err) = session.insert(SESSION_KEY, record).await {
        tracing::error!(error = %err, "storing the session failed");
        return show(
            StatusCode::SERVICE_UNAVAILABLE,
            ctx.t(
                "Hệ thống tạm thời gián đoạn.",
                "The service is temporarily unavailable.",
            ),
        );
    }
    // This client's failures on this account are forgiven; other clients' are not.
    let _ = staff.store.clear_login_keys(&[pair_key, account_key]).await;
    audit(
        staff,
        &user.username,
        AuditAction::SignIn,
        None,
        user.province.as_ref().map(|p| p.code.as_str()),
        String::new(),
    )
    .await;
    Redirect::to(&next).into_response()
}

pub async fn sign_out(State(state): State<AppState>, session: Session) -> Response {
    if let Ok(Some(signed_in)) = session.get::<SessionUser>(SESSION_KEY).await
        && let Ok(user) = state.staff.store.user(signed_in.id).await
    {
        audit(
            &state.staff,
            &user.username,
            AuditAction::SignOut,
            None,
            None,
            String::new(),
        )
        .await;
    }
    let _ = session.flush().await;
    Redirect::to("/staff/login").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_and_is_capped() {
        assert_eq!(back_off_secs(4, 5), 0);
        assert_eq!(back_off_secs(5, 5), 15);
        assert_eq!(back_off_secs(6, 5), 30);
        assert_eq!(back_off_secs(8, 5), 120);
        assert_eq!(back_off_secs(100, 5), 900);
    }

    #[test]
    fn origins() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "127.0.0.1:3000".parse().expect("value"));
        assert!(same_origin(&headers, None));
        headers.insert(
            header::ORIGIN,
            "http://127.0.0.1:3000".parse().expect("value"),
        );
        assert!(same_origin(&headers, None));
        // Behind a proxy that rewrites Host, only the configured public origin counts.
        assert!(!same_origin(&headers, Some("https://sipas.gov.vn")));
        headers.insert(
            header::ORIGIN,
            "https://sipas.gov.vn".parse().expect("value"),
        );
        assert!(same_origin(&headers, Some("https://sipas.gov.vn/")));
        assert!(!same_origin(&headers, None));
        headers.insert(header::ORIGIN, "null".parse().expect("value"));
        assert!(!same_origin(&headers, None));
        let mut fetch = HeaderMap::new();
        fetch.insert("sec-fetch-site", "cross-site".parse().expect("value"));
        assert!(!same_origin(&fetch, None));
        fetch.insert("sec-fetch-site", "same-origin".parse().expect("value"));
        assert!(same_origin(&fetch, None));
    }

    #[tokio::test]
    async fn passwords_hash_with_argon2id() {
        let hash = crate::services::accounts::hash_password("correct horse battery".into())
            .await
            .expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery".into(), hash.clone()).await);
        assert!(!verify_password("wrong horse battery".into(), hash).await);
    }
}
