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

/// The application role: owns nothing, is subject to row-level security.
pub const APP_ROLE: &str = "trellis_app";
/// `PlatformDb`'s role: may bypass row-level security, for cross-tenant work only.
pub const PLATFORM_ROLE: &str = "trellis_platform";

/// The migrations' source, so a test database template can be rebuilt when any of them changes.
pub const SOURCES: &[&str] = &[
    include_str!("m20261122_000001_platform.rs"),
    include_str!("m20261122_000002_site.rs"),
    include_str!("m20261122_000003_identity.rs"),
    include_str!("m20261122_000004_terms.rs"),
    include_str!("m20261122_000005_sso.rs"),
    include_str!("m20261122_000006_mfa.rs"),
    include_str!("m20261122_000007_sessions_domains.rs"),
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

/// On PostgreSQL: grants on a platform-wide table to `PlatformDb`'s role only.
pub async fn grant_platform_table(manager: &SchemaManager<'_>, table: &str, privileges: &str) -> Result<(), DbErr> {
    if !is_postgres(manager) {
        return Ok(());
    }
    manager.get_connection().execute_unprepared(&format!("GRANT {privileges} ON {table} TO {PLATFORM_ROLE}")).await?;
    Ok(())
}
