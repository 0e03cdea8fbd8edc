//! Use cases: what the product does, one folder per subject and one use case per file, between
//! the features' handlers (which parse, call one, and render) and `trellis_db`. A use case knows
//! nothing of HTTP: it takes the request's transaction and the trust, and returns data or an error.

pub mod compliance;
pub mod hr_export;
pub mod learning;
pub mod market;
pub mod provisioning;
pub mod records;
pub mod retention;
pub mod statistics;
pub mod uploads;
