//! Design-based survey statistics for SIPAS.
//!
//! Plain data in, plain data out: no web, database or async dependencies, so the same code runs
//! in the server, in the offline `sipas compute` command and in the browser.
//!
//! The pipeline: [`microdata`] (or a database GROUP BY) produces per-PSU sufficient statistics
//! ([`totals`]); [`estimate`] turns them into ratio estimates for every domain and every node of
//! the methodology's index tree ([`methodology`]), with linearized variances ([`design`]) and
//! intervals ([`ci`]) that reproduce R's `survey` package, design effects, reliability flags
//! (the NCHS standards by default), each province's standing against the national figure and
//! its rank interval. [`weighting`] builds, rakes and trims weights; [`calibration`] rakes each
//! province inside `sipas compute` and gives the variance R's `calibrate()` gives; [`compare`]
//! tests changes between years and computes rank intervals that hold jointly (Bonferroni over
//! all pairs) or for one province.

pub mod calibration;
pub mod ci;
pub mod compare;
pub mod design;
pub mod disclosure;
pub mod distributions;
pub mod error;
pub mod estimate;
pub mod methodology;
pub mod microdata;
pub mod output;
pub mod publish;
pub mod quality;
pub mod sampling;
pub mod totals;
pub mod totals_file;
pub mod weighting;

pub use error::StatsError;
