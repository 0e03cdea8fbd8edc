//! The platform's own tables: trusts, the hosts that reach them, and the platform audit log.

use crate::grant_platform_table;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Slug,
    Name,
    ShortName,
    OdsCode,
    Theme,
    TimeZone,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TenantHosts {
    Table,
    Host,
    TenantId,
    Kind,
    VerifiedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PlatformAudit {
    Table,
    Id,
    At,
    Actor,
    Action,
    TenantId,
    Detail,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .col(ColumnDef::new(Tenants::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Tenants::Slug).string_len(63).not_null().unique_key())
                    .col(ColumnDef::new(Tenants::Name).string_len(200).not_null())
                    .col(ColumnDef::new(Tenants::ShortName).string_len(60).null())
                    .col(ColumnDef::new(Tenants::OdsCode).string_len(6).not_null())
                    .col(ColumnDef::new(Tenants::Theme).string_len(63).not_null())
                    .col(ColumnDef::new(Tenants::TimeZone).string_len(64).not_null())
                    .col(ColumnDef::new(Tenants::Status).string_len(16).not_null().default("active"))
                    .col(ColumnDef::new(Tenants::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Tenants::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TenantHosts::Table)
                    .col(ColumnDef::new(TenantHosts::Host).string_len(253).not_null().primary_key())
                    .col(ColumnDef::new(TenantHosts::TenantId).uuid().not_null())
                    .col(ColumnDef::new(TenantHosts::Kind).string_len(16).not_null())
                    .col(ColumnDef::new(TenantHosts::VerifiedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(TenantHosts::CreatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(TenantHosts::Table, TenantHosts::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("tenant_hosts_tenant")
                    .table(TenantHosts::Table)
                    .col(TenantHosts::TenantId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PlatformAudit::Table)
                    .col(ColumnDef::new(PlatformAudit::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(PlatformAudit::At).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(PlatformAudit::Actor).string_len(200).not_null())
                    .col(ColumnDef::new(PlatformAudit::Action).string_len(100).not_null())
                    .col(ColumnDef::new(PlatformAudit::TenantId).uuid().null())
                    .col(ColumnDef::new(PlatformAudit::Detail).text().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("platform_audit_tenant_at")
                    .table(PlatformAudit::Table)
                    .col(PlatformAudit::TenantId)
                    .col(PlatformAudit::At)
                    .to_owned(),
            )
            .await?;
        grant_platform_table(manager, "tenants", "SELECT, INSERT, UPDATE").await?;
        grant_platform_table(manager, "tenant_hosts", "SELECT, INSERT, UPDATE, DELETE").await?;
        // Append-only: the platform role may add to the audit log but never change it.
        grant_platform_table(manager, "platform_audit", "SELECT, INSERT").await?;
        Ok(())
    }
}
