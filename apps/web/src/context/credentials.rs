//! LRS credentials kept in memory a short while.

use std::sync::Arc;
use std::time::Duration;
use trellis_db::xapi::Credential;
use trellis_domain::TenantId;

/// Credentials kept a short while, so each request does not read them (a revocation shows within
/// [`CREDENTIAL_KEEP`]).
pub struct Credentials {
    pub(crate) cache: moka::sync::Cache<(TenantId, String), Option<Arc<Credential>>>,
}

const CREDENTIAL_KEEP: Duration = Duration::from_secs(30);

impl Default for Credentials {
    fn default() -> Self {
        Self { cache: moka::sync::Cache::builder().max_capacity(50_000).time_to_live(CREDENTIAL_KEEP).build() }
    }
}

impl Credentials {
    /// Forgets what is kept of a trust's credential (after a revocation on this server).
    pub fn forget(&self, tenant: TenantId, key: &str) {
        self.cache.invalidate(&(tenant, key.to_owned()));
    }
}
