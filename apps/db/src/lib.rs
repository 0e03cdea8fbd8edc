//! The data layer: entities, the tenant-scoped handle and the platform's cross-tenant handle.
//!
//! Callers outside this crate never hold a raw connection. Tenant work goes through
//! [`AppDb::begin`] → [`TenantTx`], which filters every query and stamps every insert with its
//! tenant (and, on PostgreSQL, sets `app.tenant_id` for row-level security in the same
//! transaction). Cross-tenant work goes through [`PlatformDb`], whose methods say so in their names.

pub mod api;
mod apply;
pub mod audit;
pub mod badges;
pub mod campaigns;
pub mod catalogue;
pub mod certificates;
pub mod coaching;
pub mod compliance;
mod connect;
pub mod data_exports;
pub mod domains;
pub mod elearning;
pub mod enquiries;
pub mod enrolments;
pub mod entities;
pub mod erasure;
mod error;
pub mod events;
pub mod grants;
pub mod held;
pub mod hr_export;
pub mod identity;
pub mod labs;
pub mod learning;
pub mod learning_time;
pub mod library;
mod links;
pub mod mailings;
pub mod market;
mod migrate;
pub mod outbox;
mod platform;
pub mod portfolio;
pub mod reporting;
pub mod retention;
pub mod scim;
pub mod secrets;
pub mod sessions;
pub mod site;
pub mod staff;
pub mod states;
pub mod statistics;
pub mod teams;
mod tenant_tx;
pub mod terms;
pub mod transfers;
pub mod usage;
pub mod xapi;

pub use apply::{ApplyOptions, ApplyReport};
pub use connect::{AppDb, Backend, Databases, connect, role_url};
pub use error::DbError;
pub use migrate::migrate;
pub use platform::{DirectoryEntry, LandingEntry, PlatformDb, SsoEntry};
pub use tenant_tx::{PlatformOwned, TenantScoped, TenantTx};
pub use trellis_migrations::{APP_ROLE, IDENTITY_ROLE, PLATFORM_ROLE};

/// A `LIKE … ESCAPE '\'` pattern matching text that contains `search` (lower-cased, its `%`, `_`
/// and `\` taken literally); `None` when the search is empty.
pub(crate) fn contains_pattern(search: &str) -> Option<String> {
    let needle = search.trim().to_lowercase();
    (!needle.is_empty()).then(|| format!("%{}%", needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")))
}
