//! The context every request and job runs in: the application's state and the things it keeps
//! (the trust directory, themes, caches, signers, queues). The lowest layer of the web crate: it
//! uses nothing above it.

pub mod access_log;
pub mod catalogue_cache;
pub mod commit_queue;
pub mod credentials;
pub mod directory;
pub mod launch;
pub mod launch_token;
pub mod metrics;
pub mod queue;
pub mod rate_limit;
pub mod security;
pub mod theme;
pub mod totals;
pub mod trust_css;
pub mod usage;

use crate::context::directory::Directory;
use crate::context::metrics::Metrics;
use crate::context::theme::Themes;
use std::sync::Arc;
use trellis_db::Databases;
use trellis_domain::config::Config;
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
    pub limiter: Arc<crate::context::rate_limit::RateLimiter>,
    pub security: crate::context::security::Security,
    /// The access log: which requests it records, and how.
    pub access: Arc<crate::context::access_log::AccessLog>,
    /// The platform's terms and privacy notice, current versions.
    pub terms: Arc<Vec<trellis_domain::terms::Document>>,
    /// Talks to trusts' OpenID providers.
    pub oidc: Arc<trellis_integrations::oidc::OidcClient>,
    /// Checks custom domains' TXT records.
    pub dns: trellis_integrations::dns::DomainChecker,
    /// Uploaded files: local disk or an S3-compatible bucket.
    pub files: trellis_integrations::files::FileStore,
    /// The compliance matrix's totals, counted once and kept a short while.
    pub totals: Arc<crate::context::totals::TotalsCache>,
    /// Each trust's catalogue listing and recent search rankings.
    pub catalogue: Arc<crate::context::catalogue_cache::CatalogueCache>,
    /// Signs and checks the launch tokens content carries instead of a session.
    pub launch: crate::context::launch_token::Signer,
    /// Packaged sessions' launch details, by trust and session (they never change once launchable).
    pub launches:
        moka::sync::Cache<(trellis_domain::TenantId, trellis_domain::ObjectId), Arc<crate::context::launch::Launch>>,
    /// The sessions of published course versions, by trust and version (a published version's
    /// sessions never change: editing starts a new draft version).
    pub versions: moka::sync::Cache<(trellis_domain::TenantId, uuid::Uuid), Arc<Vec<trellis_db::catalogue::Object>>>,
    /// Applies SCORM commits in groups.
    pub commits: Arc<crate::context::commit_queue::Committer>,
    /// Stripe, or the local test mode.
    pub payments: trellis_integrations::payments::Payments,
    /// LRS credentials kept a short while.
    pub credentials: Arc<crate::context::credentials::Credentials>,
    /// A password hash of nothing, made at start-up with the configured cost: checked when an
    /// email has no account (or no password), so a failed sign-in costs the same either way.
    pub dummy_hash: String,
    /// The operator keys that seal the secrets admins enter (`secrets.*`).
    pub keyring: Arc<trellis_db::secrets::Keyring>,
    /// Scans uploads for viruses (clamd), as `uploads.*` asks.
    pub scanner: trellis_integrations::scan::Scanner,
    /// Page views counted in memory until they are written (no cookies).
    pub usage: Arc<crate::context::usage::Usage>,
}
