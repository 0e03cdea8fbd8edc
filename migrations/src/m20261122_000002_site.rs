//! A trust's sub-site: branding, logo, key messages and eligibility rules. All tenant-owned.

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
enum TenantLogos {
    Table,
    TenantId,
    Sha256,
    ContentType,
    Bytes,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TenantBranding {
    Table,
    TenantId,
    PrimaryColour,
    OnPrimaryColour,
    LinkColour,
    AccentColour,
    LogoSha256,
    ContactEmail,
    ContactPhone,
    ContactAddress,
    ContactWebsite,
    AdminEditedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum KeyMessages {
    Table,
    TenantId,
    Id,
    SeedKey,
    Title,
    Body,
    StartsOn,
    EndsOn,
    AdminEditedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum EligibilityDomains {
    Table,
    TenantId,
    Id,
    EmailDomain,
    CreatedAt,
}

fn tenant_fk(from: impl IntoTableRef, col: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create().from(from, col).to(Tenants::Table, Tenants::Id).on_delete(ForeignKeyAction::Cascade).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TenantLogos::Table)
                    .col(ColumnDef::new(TenantLogos::TenantId).uuid().not_null())
                    .col(ColumnDef::new(TenantLogos::Sha256).string_len(64).not_null())
                    .col(ColumnDef::new(TenantLogos::ContentType).string_len(64).not_null())
                    .col(ColumnDef::new(TenantLogos::Bytes).blob().not_null())
                    .col(ColumnDef::new(TenantLogos::CreatedAt).timestamp_with_time_zone().not_null())
                    .primary_key(Index::create().col(TenantLogos::TenantId).col(TenantLogos::Sha256))
                    .foreign_key(&mut tenant_fk(TenantLogos::Table, TenantLogos::TenantId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TenantBranding::Table)
                    .col(ColumnDef::new(TenantBranding::TenantId).uuid().not_null().primary_key())
                    .col(ColumnDef::new(TenantBranding::PrimaryColour).string_len(7).not_null())
                    .col(ColumnDef::new(TenantBranding::OnPrimaryColour).string_len(7).not_null())
                    .col(ColumnDef::new(TenantBranding::LinkColour).string_len(7).not_null())
                    .col(ColumnDef::new(TenantBranding::AccentColour).string_len(7).not_null())
                    .col(ColumnDef::new(TenantBranding::LogoSha256).string_len(64).null())
                    .col(ColumnDef::new(TenantBranding::ContactEmail).string_len(254).null())
                    .col(ColumnDef::new(TenantBranding::ContactPhone).string_len(40).null())
                    .col(ColumnDef::new(TenantBranding::ContactAddress).string_len(300).null())
                    .col(ColumnDef::new(TenantBranding::ContactWebsite).string_len(500).null())
                    .col(ColumnDef::new(TenantBranding::AdminEditedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(TenantBranding::UpdatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(&mut tenant_fk(TenantBranding::Table, TenantBranding::TenantId))
                    // The logo must be this trust's own: the key includes tenant_id.
                    .foreign_key(
                        ForeignKey::create()
                            .from(TenantBranding::Table, (TenantBranding::TenantId, TenantBranding::LogoSha256))
                            .to(TenantLogos::Table, (TenantLogos::TenantId, TenantLogos::Sha256)),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(KeyMessages::Table)
                    .col(ColumnDef::new(KeyMessages::TenantId).uuid().not_null())
                    .col(ColumnDef::new(KeyMessages::Id).uuid().not_null())
                    .col(ColumnDef::new(KeyMessages::SeedKey).string_len(63).null())
                    .col(ColumnDef::new(KeyMessages::Title).string_len(120).not_null())
                    .col(ColumnDef::new(KeyMessages::Body).text().not_null())
                    .col(ColumnDef::new(KeyMessages::StartsOn).date().not_null())
                    .col(ColumnDef::new(KeyMessages::EndsOn).date().null())
                    .col(ColumnDef::new(KeyMessages::AdminEditedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(KeyMessages::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(KeyMessages::UpdatedAt).timestamp_with_time_zone().not_null())
                    .primary_key(Index::create().col(KeyMessages::TenantId).col(KeyMessages::Id))
                    .foreign_key(&mut tenant_fk(KeyMessages::Table, KeyMessages::TenantId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("key_messages_seed_key")
                    .table(KeyMessages::Table)
                    .unique()
                    .col(KeyMessages::TenantId)
                    .col(KeyMessages::SeedKey)
                    .to_owned(),
            )
            .await?;
        // The home page's query: this trust's messages current on a date.
        manager
            .create_index(
                Index::create()
                    .name("key_messages_current")
                    .table(KeyMessages::Table)
                    .col(KeyMessages::TenantId)
                    .col(KeyMessages::StartsOn)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EligibilityDomains::Table)
                    .col(ColumnDef::new(EligibilityDomains::TenantId).uuid().not_null())
                    .col(ColumnDef::new(EligibilityDomains::Id).uuid().not_null())
                    .col(ColumnDef::new(EligibilityDomains::EmailDomain).string_len(253).not_null())
                    .col(ColumnDef::new(EligibilityDomains::CreatedAt).timestamp_with_time_zone().not_null())
                    .primary_key(Index::create().col(EligibilityDomains::TenantId).col(EligibilityDomains::Id))
                    .foreign_key(&mut tenant_fk(EligibilityDomains::Table, EligibilityDomains::TenantId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("eligibility_domains_unique")
                    .table(EligibilityDomains::Table)
                    .unique()
                    .col(EligibilityDomains::TenantId)
                    .col(EligibilityDomains::EmailDomain)
                    .to_owned(),
            )
            .await?;
        for table in ["tenant_logos", "tenant_branding", "key_messages", "eligibility_domains"] {
            protect_tenant_table(manager, table).await?;
        }
        Ok(())
    }
}
