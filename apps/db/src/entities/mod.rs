//! sea-orm entities, one file a table. Tenant-owned ones implement [`crate::TenantScoped`].

pub mod audit_event;
pub mod eligibility_domain;
pub mod email_token;
pub mod key_message;
pub mod membership;
pub mod membership_role;
pub mod mfa_recovery_code;
pub mod outbox;
pub mod person;
pub mod person_session;
pub mod platform_audit;
pub mod platform_terms_acceptance;
pub mod sso_link;
pub mod tenant;
pub mod tenant_branding;
pub mod tenant_host;
pub mod tenant_logo;
pub mod tenant_sso;
pub mod tenant_terms;
pub mod tenant_terms_acceptance;
