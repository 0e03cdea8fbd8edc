//! Single sign-on: a trust's OpenID Connect settings, and the links from a provider's subject to a
//! person. Both tenant-owned.

use crate::protect_tenant_table;
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
enum TenantSso {
    Table,
    TenantId,
    Issuer,
    ClientId,
    ClientSecret,
    ClientSecretEnv,
    Label,
    ClaimEmail,
    ClaimEmailVerified,
    ClaimGivenName,
    ClaimFamilyName,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SsoLinks {
    Table,
    TenantId,
    Issuer,
    Subject,
    PersonId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TenantSso::Table)
                    .col(ColumnDef::new(TenantSso::TenantId).uuid().not_null().primary_key())
                    .col(ColumnDef::new(TenantSso::Issuer).string_len(500).not_null())
                    .col(ColumnDef::new(TenantSso::ClientId).string_len(200).not_null())
                    .col(ColumnDef::new(TenantSso::ClientSecret).string_len(500).null())
                    .col(ColumnDef::new(TenantSso::ClientSecretEnv).string_len(100).null())
                    .col(ColumnDef::new(TenantSso::Label).string_len(100).not_null())
                    .col(ColumnDef::new(TenantSso::ClaimEmail).string_len(100).not_null())
                    .col(ColumnDef::new(TenantSso::ClaimEmailVerified).string_len(100).not_null())
                    .col(ColumnDef::new(TenantSso::ClaimGivenName).string_len(100).not_null())
                    .col(ColumnDef::new(TenantSso::ClaimFamilyName).string_len(100).not_null())
                    .col(ColumnDef::new(TenantSso::UpdatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(TenantSso::Table, TenantSso::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SsoLinks::Table)
                    .col(ColumnDef::new(SsoLinks::TenantId).uuid().not_null())
                    .col(ColumnDef::new(SsoLinks::Issuer).string_len(500).not_null())
                    .col(ColumnDef::new(SsoLinks::Subject).string_len(255).not_null())
                    .col(ColumnDef::new(SsoLinks::PersonId).uuid().not_null())
                    .col(ColumnDef::new(SsoLinks::CreatedAt).timestamp_with_time_zone().not_null())
                    .primary_key(Index::create().col(SsoLinks::TenantId).col(SsoLinks::Issuer).col(SsoLinks::Subject))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SsoLinks::Table, SsoLinks::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create().from(SsoLinks::Table, SsoLinks::PersonId).to(People::Table, People::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sso_links_person")
                    .table(SsoLinks::Table)
                    .col(SsoLinks::TenantId)
                    .col(SsoLinks::PersonId)
                    .to_owned(),
            )
            .await?;
        protect_tenant_table(manager, "tenant_sso").await?;
        protect_tenant_table(manager, "sso_links").await?;
        Ok(())
    }
}
