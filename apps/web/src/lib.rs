//! The HTTP tier: host → trust resolution, themed pages, middleware and the server's life cycle.

mod auth;
mod catalogue_cache;
pub mod config;
mod directory;
mod dispatch;
mod error;
mod http;
pub mod jobs;
mod metrics;
mod middleware;
pub mod payments;
mod pdf;
mod routes;
mod rules;
mod server;
mod state;
mod theme;
mod totals;
mod trust_css;

pub use auth::password::hash as hash_password;
pub use directory::{Directory, Resolved, Site};
pub use error::AppError;
pub use routes::api::tokens::issue as issue_api_token;
pub use routes::xapi::issue_credential as issue_lrs_credential;
pub use server::{
    RunningServer, RunningWorker, ShutdownSignal, TENANTS_CHANGED, announce_tenants_changed, start, start_worker,
};
pub use state::AppState;
pub use theme::Themes;
