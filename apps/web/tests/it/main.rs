//! The web tier's integration tests: a real server on an ephemeral port, requests over TCP with
//! the Host header set (tools outside a browser do not resolve *.localhost here).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod accounts;
mod bad_input;
mod config;
mod elearning;
mod enquiries;
mod events;
mod home;
mod hosts;
mod hr_export;
mod identity;
mod learning;
mod library;
mod lms_api;
mod market;
mod mfa;
mod platform;
mod portfolio;
mod privacy;
mod propagation;
mod records;
mod reporting;
mod request_shape;
mod scim;
mod security;
mod serving;
mod site_admin;
mod sso;
mod sso_admin;
mod team;
mod themes;
mod uploads;

use std::time::{Duration, Instant};

/// Polls `check` until it holds or `limit` passes; returns whether it held. A bounded wait for
/// something asynchronous to happen, not a timing assertion.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}
