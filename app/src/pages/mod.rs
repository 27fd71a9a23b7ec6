//! One module per route.

mod home;
mod not_found;
mod survey;

pub use home::HomePage;
pub use not_found::NotFound;
pub use survey::{OpenSurveyPage, ReceiptPage, SurveyEntryPage, SurveyPage};

/// Sets the HTTP status of the page being rendered on the server (a no-op in the browser), so
/// a page that says "not found" is a real 404 for monitoring and crawlers, not a soft one.
pub(crate) fn set_http_status(status: u16) {
    #[cfg(feature = "ssr")]
    if let (Some(response), Ok(status)) = (
        leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
        http::StatusCode::from_u16(status),
    ) {
        response.set_status(status);
    }
    #[cfg(not(feature = "ssr"))]
    let _ = status;
}
