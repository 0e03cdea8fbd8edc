//! sea-orm entities, one file a table. Tenant-owned ones implement [`crate::TenantScoped`].

pub mod eligibility_domain;
pub mod key_message;
pub mod platform_audit;
pub mod tenant;
pub mod tenant_branding;
pub mod tenant_host;
pub mod tenant_logo;
