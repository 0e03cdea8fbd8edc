//! Terms: each trust's own terms (tenant-owned), and who accepted which version of which document.

use crate::{grant_platform_table, protect_tenant_table};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum People {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum TenantTerms {
    Table,
    TenantId,
    Version,
    Title,
    Body,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TenantTermsAcceptances {
    Table,
    TenantId,
    PersonId,
    Version,
    AcceptedAt,
    Ip,
}

#[derive(DeriveIden)]
enum PlatformTermsAcceptances {
    Table,
    PersonId,
    DocumentKey,
    Version,
    AcceptedAt,
    Ip,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TenantTerms::Table)
                    .col(ColumnDef::new(TenantTerms::TenantId).uuid().not_null().primary_key())
                    .col(ColumnDef::new(TenantTerms::Version).string_len(32).not_null())
                    .col(ColumnDef::new(TenantTerms::Title).string_len(200).not_null())
                    .col(ColumnDef::new(TenantTerms::Body).text().not_null())
                    .col(ColumnDef::new(TenantTerms::UpdatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(TenantTerms::Table, TenantTerms::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TenantTermsAcceptances::Table)
                    .col(ColumnDef::new(TenantTermsAcceptances::TenantId).uuid().not_null())
                    .col(ColumnDef::new(TenantTermsAcceptances::PersonId).uuid().not_null())
                    .col(ColumnDef::new(TenantTermsAcceptances::Version).string_len(32).not_null())
                    .col(ColumnDef::new(TenantTermsAcceptances::AcceptedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(TenantTermsAcceptances::Ip).string_len(45).null())
                    .primary_key(
                        Index::create()
                            .col(TenantTermsAcceptances::TenantId)
                            .col(TenantTermsAcceptances::PersonId)
                            .col(TenantTermsAcceptances::Version),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TenantTermsAcceptances::Table, TenantTermsAcceptances::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TenantTermsAcceptances::Table, TenantTermsAcceptances::PersonId)
                            .to(People::Table, People::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PlatformTermsAcceptances::Table)
                    .col(ColumnDef::new(PlatformTermsAcceptances::PersonId).uuid().not_null())
                    .col(ColumnDef::new(PlatformTermsAcceptances::DocumentKey).string_len(32).not_null())
                    .col(ColumnDef::new(PlatformTermsAcceptances::Version).string_len(32).not_null())
                    .col(ColumnDef::new(PlatformTermsAcceptances::AcceptedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(PlatformTermsAcceptances::Ip).string_len(45).null())
                    .primary_key(
                        Index::create()
                            .col(PlatformTermsAcceptances::PersonId)
                            .col(PlatformTermsAcceptances::DocumentKey)
                            .col(PlatformTermsAcceptances::Version),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(PlatformTermsAcceptances::Table, PlatformTermsAcceptances::PersonId)
                            .to(People::Table, People::Id),
                    )
                    .to_owned(),
            )
            .await?;
        protect_tenant_table(manager, "tenant_terms").await?;
        protect_tenant_table(manager, "tenant_terms_acceptances").await?;
        // What a person accepted is a record: added to, never changed.
        grant_platform_table(manager, "platform_terms_acceptances", "SELECT, INSERT").await?;
        if manager.get_database_backend() == sea_orm::DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "REVOKE UPDATE, DELETE ON tenant_terms_acceptances FROM {}, {}",
                    crate::APP_ROLE,
                    crate::PLATFORM_ROLE
                ))
                .await?;
        }
        Ok(())
    }
}
