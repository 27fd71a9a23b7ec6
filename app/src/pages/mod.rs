//! One module per route.

mod home;
mod not_found;
mod survey;

pub use home::HomePage;
pub use not_found::NotFound;
pub use survey::{OpenSurveyPage, ReceiptPage, SurveyEntryPage, SurveyPage};
