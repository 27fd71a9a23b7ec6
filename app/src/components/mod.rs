//! Reusable pieces of the page frame and of pages.

mod frame;

pub use frame::{LoadFailed, SiteFooter, SiteHeader};
