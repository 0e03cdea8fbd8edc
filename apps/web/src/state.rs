//! What every request can reach.

use crate::directory::Directory;
use crate::metrics::Metrics;
use crate::theme::Themes;
use std::sync::Arc;
use trellis_core::config::Config;
use trellis_db::Databases;
use trellis_integrations::redis_bus::RedisBus;

/// Shared, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub dbs: Databases,
    pub directory: Arc<Directory>,
    pub themes: Arc<Themes>,
    pub metrics: Arc<Metrics>,
    pub redis: Option<RedisBus>,
    pub proxies: Arc<Vec<ipnet::IpNet>>,
    pub limiter: Arc<crate::auth::rate_limit::RateLimiter>,
    pub security: crate::auth::session::Security,
    /// The access log: which requests it records, and how.
    pub access: Arc<crate::middleware::access_log::AccessLog>,
    /// The platform's terms and privacy notice, current versions.
    pub terms: Arc<Vec<trellis_core::terms::Document>>,
    /// Talks to trusts' OpenID providers.
    pub oidc: Arc<trellis_integrations::oidc::OidcClient>,
    /// Checks custom domains' TXT records.
    pub dns: trellis_integrations::dns::DomainChecker,
    /// Uploaded files: local disk or an S3-compatible bucket.
    pub files: trellis_integrations::files::FileStore,
    /// The compliance matrix's totals, counted once and kept a short while.
    pub totals: Arc<crate::totals::TotalsCache>,
    /// Each trust's catalogue listing and recent search rankings.
    pub catalogue: Arc<crate::catalogue_cache::CatalogueCache>,
    /// Signs and checks the launch tokens content carries instead of a session.
    pub launch: crate::routes::elearning::token::Signer,
    /// Packaged sessions' launch details, by trust and session (they never change once launchable).
    pub launches: moka::sync::Cache<
        (trellis_core::TenantId, trellis_core::ObjectId),
        Arc<crate::routes::elearning::launch::Launch>,
    >,
    /// The sessions of published course versions, by trust and version (a published version's
    /// sessions never change: editing starts a new draft version).
    pub versions: moka::sync::Cache<(trellis_core::TenantId, uuid::Uuid), Arc<Vec<trellis_db::catalogue::Object>>>,
    /// Applies SCORM commits in groups.
    pub commits: Arc<crate::routes::elearning::commit_queue::Committer>,
    /// Stripe, or the local test mode.
    pub payments: trellis_integrations::payments::Payments,
    /// LRS credentials kept a short while.
    pub credentials: Arc<crate::routes::xapi::credentials::Credentials>,
    /// A password hash of nothing, made at start-up with the configured cost: checked when an
    /// email has no account (or no password), so a failed sign-in costs the same either way.
    pub dummy_hash: String,
}
