//! Reusable pieces of the page frame and of pages.

mod frame;
mod province_table;

pub use frame::{LoadFailed, SiteFooter, SiteHeader};
pub use province_table::ProvinceTable;
