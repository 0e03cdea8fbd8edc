//! Schema migrations: one change per file, never edited once applied.
//!
//! Tables are created with sea-query so types fit both SQLite and PostgreSQL; on PostgreSQL every
//! tenant-owned table is then put under forced row-level security by [`protect_tenant_table`].

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_platform;
mod m20261122_000002_site;
mod m20261122_000003_identity;
mod m20261122_000004_terms;
mod m20261122_000005_sso;
mod m20261122_000006_mfa;
mod m20261122_000007_sessions_domains;
mod m20261122_000008_catalogue;
mod m20261201_000009_catalogue_generations;
mod m20261201_000010_elearning;
mod m20261202_000011_marketplace;
mod m20261206_000012_identity_path;
mod m20261206_000013_record_truth;
mod m20261206_000014_lms_api;
mod m20261206_000015_tenant_keys;
mod m20261206_000016_charts;
mod m20261206_000017_activity;
mod m20261206_000018_certificates;
mod m20261206_000019_activity_cpd;
mod m20261206_000020_details_confirmed;
mod m20261206_000021_tutor_access;
mod m20261206_000022_organisation_reporting;
mod m20261206_000023_portfolio_links;
mod m20261206_000024_regions;
mod m20261206_000025_activity_summary;
mod m20261206_000026_programme_certificates;
mod m20261207_000027_held_uploads;
mod m20261207_000028_transfers;
mod m20261207_000029_objections;
mod m20261207_000030_page_views;
mod m20261207_000031_data_exports;
mod m20261207_000032_person_indexes;
mod m20261207_000033_erasure;
mod m20261207_000034_enquiries;
mod m20261207_000035_embeds;
mod m20261207_000036_resource_library;
mod m20261207_000037_inactive_accounts;
mod m20261207_000038_platform_outbox;
mod m20261207_000039_held_library_versions;
mod m20261207_000040_events;
mod m20261207_000041_leavers;
mod m20261207_000042_scim;
mod m20261207_000043_hr_export;
mod m20261207_000044_line_managers;
mod m20261207_000045_coaching;
mod m20261207_000046_learning_time;
mod m20261207_000047_labs;
mod m20261207_000048_badges;
mod m20261207_000049_campaigns;
mod m20261207_000050_ledger_balances;

pub mod helpers;

/// The application role: owns nothing, is subject to row-level security.
pub const APP_ROLE: &str = "trellis_app";
/// `PlatformDb`'s role: may bypass row-level security, for cross-tenant work only.
pub const PLATFORM_ROLE: &str = "trellis_platform";
/// `IdentityDb`'s role: the identity path (sign-in, secrets, links, ending sessions everywhere).
/// Owns nothing and cannot bypass row-level security; its policies allow exactly what it needs.
pub const IDENTITY_ROLE: &str = "trellis_identity";

/// The migrations' source, so a test database template can be rebuilt when any of them changes.
pub const SOURCES: &[&str] = &[
    include_str!("m20261122_000001_platform.rs"),
    include_str!("m20261122_000002_site.rs"),
    include_str!("m20261122_000003_identity.rs"),
    include_str!("m20261122_000004_terms.rs"),
    include_str!("m20261122_000005_sso.rs"),
    include_str!("m20261122_000006_mfa.rs"),
    include_str!("m20261122_000007_sessions_domains.rs"),
    include_str!("m20261122_000008_catalogue.rs"),
    include_str!("m20261201_000009_catalogue_generations.rs"),
    include_str!("m20261201_000010_elearning.rs"),
    include_str!("m20261202_000011_marketplace.rs"),
    include_str!("m20261206_000012_identity_path.rs"),
    include_str!("m20261206_000013_record_truth.rs"),
    include_str!("m20261206_000014_lms_api.rs"),
    include_str!("m20261206_000015_tenant_keys.rs"),
    include_str!("m20261206_000016_charts.rs"),
    include_str!("m20261206_000017_activity.rs"),
    include_str!("m20261206_000018_certificates.rs"),
    include_str!("m20261206_000019_activity_cpd.rs"),
    include_str!("m20261206_000020_details_confirmed.rs"),
    include_str!("m20261206_000021_tutor_access.rs"),
    include_str!("m20261206_000022_organisation_reporting.rs"),
    include_str!("m20261206_000023_portfolio_links.rs"),
    include_str!("m20261206_000024_regions.rs"),
    include_str!("m20261206_000025_activity_summary.rs"),
    include_str!("m20261206_000026_programme_certificates.rs"),
    include_str!("m20261207_000027_held_uploads.rs"),
    include_str!("m20261207_000028_transfers.rs"),
    include_str!("m20261207_000029_objections.rs"),
    include_str!("m20261207_000030_page_views.rs"),
    include_str!("m20261207_000031_data_exports.rs"),
    include_str!("m20261207_000032_person_indexes.rs"),
    include_str!("m20261207_000033_erasure.rs"),
    include_str!("m20261207_000034_enquiries.rs"),
    include_str!("m20261207_000035_embeds.rs"),
    include_str!("m20261207_000036_resource_library.rs"),
    include_str!("m20261207_000037_inactive_accounts.rs"),
    include_str!("m20261207_000038_platform_outbox.rs"),
    include_str!("m20261207_000039_held_library_versions.rs"),
    include_str!("m20261207_000040_events.rs"),
    include_str!("m20261207_000041_leavers.rs"),
    include_str!("m20261207_000042_scim.rs"),
    include_str!("m20261207_000043_hr_export.rs"),
    include_str!("m20261207_000044_line_managers.rs"),
    include_str!("m20261207_000045_coaching.rs"),
    include_str!("m20261207_000046_learning_time.rs"),
    include_str!("m20261207_000047_labs.rs"),
    include_str!("m20261207_000048_badges.rs"),
    include_str!("m20261207_000049_campaigns.rs"),
    include_str!("m20261207_000050_ledger_balances.rs"),
    include_str!("helpers.rs"),
    include_str!("lib.rs"),
];

/// All migrations, in order.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_platform::Migration),
            Box::new(m20261122_000002_site::Migration),
            Box::new(m20261122_000003_identity::Migration),
            Box::new(m20261122_000004_terms::Migration),
            Box::new(m20261122_000005_sso::Migration),
            Box::new(m20261122_000006_mfa::Migration),
            Box::new(m20261122_000007_sessions_domains::Migration),
            Box::new(m20261122_000008_catalogue::Migration),
            Box::new(m20261201_000009_catalogue_generations::Migration),
            Box::new(m20261201_000010_elearning::Migration),
            Box::new(m20261202_000011_marketplace::Migration),
            Box::new(m20261206_000012_identity_path::Migration),
            Box::new(m20261206_000013_record_truth::Migration),
            Box::new(m20261206_000014_lms_api::Migration),
            Box::new(m20261206_000015_tenant_keys::Migration),
            Box::new(m20261206_000016_charts::Migration),
            Box::new(m20261206_000017_activity::Migration),
            Box::new(m20261206_000018_certificates::Migration),
            Box::new(m20261206_000019_activity_cpd::Migration),
            Box::new(m20261206_000020_details_confirmed::Migration),
            Box::new(m20261206_000021_tutor_access::Migration),
            Box::new(m20261206_000022_organisation_reporting::Migration),
            Box::new(m20261206_000023_portfolio_links::Migration),
            Box::new(m20261206_000024_regions::Migration),
            Box::new(m20261206_000025_activity_summary::Migration),
            Box::new(m20261206_000026_programme_certificates::Migration),
            Box::new(m20261207_000027_held_uploads::Migration),
            Box::new(m20261207_000028_transfers::Migration),
            Box::new(m20261207_000029_objections::Migration),
            Box::new(m20261207_000030_page_views::Migration),
            Box::new(m20261207_000031_data_exports::Migration),
            Box::new(m20261207_000032_person_indexes::Migration),
            Box::new(m20261207_000033_erasure::Migration),
            Box::new(m20261207_000034_enquiries::Migration),
            Box::new(m20261207_000035_embeds::Migration),
            Box::new(m20261207_000036_resource_library::Migration),
            Box::new(m20261207_000037_inactive_accounts::Migration),
            Box::new(m20261207_000038_platform_outbox::Migration),
            Box::new(m20261207_000039_held_library_versions::Migration),
            Box::new(m20261207_000040_events::Migration),
            Box::new(m20261207_000041_leavers::Migration),
            Box::new(m20261207_000042_scim::Migration),
            Box::new(m20261207_000043_hr_export::Migration),
            Box::new(m20261207_000044_line_managers::Migration),
            Box::new(m20261207_000045_coaching::Migration),
            Box::new(m20261207_000046_learning_time::Migration),
            Box::new(m20261207_000047_labs::Migration),
            Box::new(m20261207_000048_badges::Migration),
            Box::new(m20261207_000049_campaigns::Migration),
            Box::new(m20261207_000050_ledger_balances::Migration),
        ]
    }
}

fn is_postgres(manager: &SchemaManager) -> bool {
    manager.get_database_backend() == sea_orm::DbBackend::Postgres
}

/// On PostgreSQL: forced row-level security with the tenant policy, and the two roles' grants.
/// On SQLite nothing: the data layer's scoped handle carries isolation there alone.
pub async fn protect_tenant_table(manager: &SchemaManager<'_>, table: &str) -> Result<(), DbErr> {
    if !is_postgres(manager) {
        return Ok(());
    }
    let db = manager.get_connection();
    let predicate = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid";
    db.execute_unprepared(&format!(
        "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
         ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
         CREATE POLICY tenant_isolation ON {table} USING ({predicate}) WITH CHECK ({predicate});
         GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE}, {PLATFORM_ROLE};"
    ))
    .await?;
    Ok(())
}

/// The owner of the national catalogue's rows: courses every trust may offer. Not a trust; on
/// PostgreSQL every trust may read its rows in the shared content tables, and none may change them.
pub const NATIONAL_CATALOGUE: &str = "00000000-0000-0000-0000-00000000c0de";

/// On PostgreSQL: [`protect_tenant_table`], plus a read-only policy that lets every trust see the
/// national catalogue's rows (`tenant_id` = [`NATIONAL_CATALOGUE`]). Writes stay the owner's alone.
pub async fn protect_shared_content_table(manager: &SchemaManager<'_>, table: &str) -> Result<(), DbErr> {
    protect_tenant_table(manager, table).await?;
    if !is_postgres(manager) {
        return Ok(());
    }
    manager
        .get_connection()
        .execute_unprepared(&format!(
            "CREATE POLICY national_catalogue_read ON {table} FOR SELECT USING (tenant_id = '{NATIONAL_CATALOGUE}'::uuid)"
        ))
        .await?;
    Ok(())
}

/// On PostgreSQL: grants on a platform-wide table to `PlatformDb`'s role only.
pub async fn grant_platform_table(manager: &SchemaManager<'_>, table: &str, privileges: &str) -> Result<(), DbErr> {
    if !is_postgres(manager) {
        return Ok(());
    }
    manager.get_connection().execute_unprepared(&format!("GRANT {privileges} ON {table} TO {PLATFORM_ROLE}")).await?;
    Ok(())
}
