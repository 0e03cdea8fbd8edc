//! The web tier's integration tests: a real server on an ephemeral port, requests over TCP with
//! the Host header set (tools outside a browser do not resolve *.localhost here).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod accounts;
mod bad_input;
mod badges;
mod campaigns;
mod coaching;
mod config;
mod elearning;
mod enquiries;
mod events;
mod home;
mod hosts;
mod hr_export;
mod identity;
mod labs;
mod learning;
mod learning_time;
mod library;
mod lms_api;
mod market;
mod marketing;
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

/// Makes `course` mandatory for everyone in staff `group` through the training rules form, as
/// `manager` (due in 10 days, renewed every 12 months); returns the page that answers.
pub async fn mandatory_for_group(
    manager: &mut trellis_testkit::Visitor,
    course: &str,
    group: &str,
) -> trellis_testkit::Page {
    let t = manager.get("/admin/training").await.csrf().expect("the training rules form");
    manager
        .post(
            "/admin/training",
            &[
                ("csrf_token", &t),
                ("course", course),
                ("audience_kind", "staff_group"),
                ("staff_group", group),
                ("mandatory", "1"),
                ("due_days", "10"),
                ("renewal_months", "12"),
            ],
        )
        .await
}
