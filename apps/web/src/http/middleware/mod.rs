//! Middleware that wraps every request: observation (ids, logs, metrics), limits, security
//! headers, and which peer's forwarded headers to believe.

pub mod forwarded;
pub mod input;
pub mod limits;
pub mod observe;
pub mod security;
pub mod usage;
