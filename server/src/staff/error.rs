//! How a staff request fails: one error type, [`StaffError`], returned by every staff handler
//! and extractor and rendered in one place, [`error_pages`], as the bilingual error page with
//! the signed-in member's header when there is one.
//!
//! A handler cannot render the page itself from `?` on a store error (it has no request
//! context there), so the error leaves a [`Failure`] on an empty response and the middleware,
//! which saw the request, renders it. The `Staff` extractor leaves the page context in the
//! request's [`PageContext`] slot on its way.

use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sipas_app::ports::StoreError;
use sipas_app::staff::pages::{self, Ctx};

use super::auth::NotSignedIn;
use super::html;

/// Why a staff request was refused or failed.
#[derive(Debug)]
pub enum StaffError {
    /// No valid session: a page request goes to sign-in, anything else gets 401.
    SignIn(NotSignedIn),
    /// The role may not do this, or the record belongs to another province.
    Forbidden,
    NotFound,
    /// A rule was broken (a state that changed meanwhile, a duplicate): the message says
    /// which, for the user, in both languages.
    Conflict(sipas_app::i18n::Text),
    /// Input that cannot be acted on, with what to change.
    Invalid(String),
    /// The database (or the machine) failed; the cause is logged, not shown.
    Unavailable,
}

pub type StaffResult<T = Response> = Result<T, StaffError>;

impl From<StoreError> for StaffError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => StaffError::NotFound,
            StoreError::Conflict(message) => StaffError::Conflict(message),
            StoreError::Backend(_) | StoreError::Database(_) => {
                tracing::error!(
                    error = &err as &dyn std::error::Error,
                    "staff request failed"
                );
                StaffError::Unavailable
            }
        }
    }
}

impl From<NotSignedIn> for StaffError {
    fn from(refused: NotSignedIn) -> Self {
        StaffError::SignIn(refused)
    }
}

/// A failure waiting for [`error_pages`] to render it.
#[derive(Debug, Clone)]
struct Failure {
    status: StatusCode,
    title: (&'static str, &'static str),
    text: Text,
}

#[derive(Debug, Clone)]
enum Text {
    Fixed(&'static str, &'static str),
    Both(sipas_app::i18n::Text),
    Message(String),
}

impl IntoResponse for StaffError {
    fn into_response(self) -> Response {
        let failure = match self {
            StaffError::SignIn(refused) => return refused.into_response(),
            StaffError::Forbidden => Failure {
                status: StatusCode::FORBIDDEN,
                title: ("Không có quyền", "Not allowed"),
                text: Text::Fixed(
                    "Vai trò của bạn không được làm việc này, hoặc dữ liệu thuộc tỉnh khác.",
                    "Your role may not do this, or the data belongs to another province.",
                ),
            },
            StaffError::NotFound => Failure {
                status: StatusCode::NOT_FOUND,
                title: ("Không tìm thấy", "Not found"),
                text: Text::Fixed("Không có bản ghi này.", "There is no such record."),
            },
            StaffError::Conflict(message) => Failure {
                status: StatusCode::CONFLICT,
                title: ("Không thực hiện được", "Not done"),
                text: Text::Both(message),
            },
            StaffError::Invalid(message) => Failure {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                title: ("Chưa hợp lệ", "Not valid"),
                text: Text::Message(message),
            },
            StaffError::Unavailable => Failure {
                status: StatusCode::SERVICE_UNAVAILABLE,
                title: ("Tạm thời gián đoạn", "Temporarily unavailable"),
                text: Text::Fixed(
                    "Cơ sở dữ liệu không trả lời. Hãy thử lại.",
                    "The database did not answer. Please try again.",
                ),
            },
        };
        let mut response = failure.status.into_response();
        response.extensions_mut().insert(failure);
        response
    }
}

/// The page context of the request being served, once the `Staff` extractor has built it.
#[derive(Clone, Default)]
pub struct PageContext(Arc<Mutex<Option<Ctx>>>);

impl PageContext {
    pub fn set(&self, ctx: &Ctx) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(ctx.clone());
        }
    }

    fn take(&self) -> Option<Ctx> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// Renders every [`StaffError`] of the staff routes as the bilingual error page.
pub async fn error_pages(mut request: Request, next: Next) -> Response {
    let slot = PageContext::default();
    request.extensions_mut().insert(slot.clone());
    let locale = crate::web::locale(request.headers());
    let path = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |pq| pq.as_str().to_owned(),
    );
    let mut response = next.run(request).await;
    let Some(failure) = response.extensions_mut().remove::<Failure>() else {
        return response;
    };
    let ctx = slot.take().unwrap_or(Ctx {
        locale,
        user: None,
        path,
        notice: None,
    });
    let text = match failure.text {
        Text::Fixed(vi, en) => ctx.t(vi, en).to_owned(),
        Text::Both(message) => message.pick(ctx.locale).to_owned(),
        Text::Message(message) => message,
    };
    let title = ctx.t(failure.title.0, failure.title.1).to_owned();
    html(failure.status, pages::message(&ctx, &title, text))
}
