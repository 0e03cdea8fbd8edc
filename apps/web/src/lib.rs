//! The HTTP tier: host → trust resolution, themed pages, middleware and the server's life cycle.

mod app;
pub mod config;
mod context;
mod error;
mod features;
mod http;
mod usecases;

pub use app::server::{
    RunningServer, RunningWorker, ShutdownSignal, TENANTS_CHANGED, announce_tenants_changed, start, start_worker,
};
pub use context::AppState;
pub use context::directory::{Directory, Resolved, Site};
pub use context::theme::Themes;
pub use error::AppError;
pub use features::api::tokens::issue as issue_api_token;
pub use features::elearning::learner_name;
pub use features::xapi::issue_credential as issue_lrs_credential;
pub use http::auth::password::hash as hash_password;
pub use http::cookies::{CSRF as CSRF_COOKIE, SESSION as SESSION_COOKIE};

/// The retention schedule, for `trellis retention`.
pub mod retention {
    pub use crate::app::server::anonymise_inactive_accounts;
    pub use crate::features::erasure::InactiveRun;
    pub use crate::usecases::retention::{TrustRun, apply_all, old_mail_files};
}

/// The background worker's jobs that the command line runs directly.
pub mod jobs {
    pub use crate::app::worker::invoice_trust;
    pub use crate::features::coaching::follow_up_reminders as coach_follow_ups;
    pub use crate::features::labs::send_reminders as lab_reminders;
    pub use crate::features::reporting::daily as reporting_daily;
    pub use crate::features::team::monthly_digest as team_digest;
}
