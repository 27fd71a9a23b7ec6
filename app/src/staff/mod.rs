//! The Ministry's side: staff accounts and roles, wave administration, the sample frame,
//! invitation batches, monitoring, paper import and exports.
//!
//! Server-side only (compiled with `ssr`): the staff pages are rendered on the server and work
//! with plain forms, so none of this code reaches the citizen's wasm bundle
//! (docs/architecture.md, "Staff pages").

pub mod changes;
pub mod design;
pub mod fieldwork;
pub mod frame;
pub mod keying;
pub mod pages;
pub mod paper;
pub mod port;
pub mod quality;
pub mod release;
pub mod research;
pub mod research_pages;
pub mod results_pages;
pub mod review;
pub mod roles;
pub mod sheet;

pub use port::{AccountStore, AuditStore, CollectedStore, FieldStore, SessionStore, StaffStore};
pub use roles::{Action, ProvinceFilter, ProvinceRef, Role, Scope, StaffUser};
