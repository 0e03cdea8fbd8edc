//! Two-step verification: a TOTP secret on the person, single-use recovery codes, and a trust's
//! choice to require it of its administrators.

use crate::grant_platform_table;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum People {
    Table,
    Id,
    MfaSecret,
    MfaEnabledAt,
    MfaLastStep,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    RequireAdminMfa,
}

#[derive(DeriveIden)]
enum MfaRecoveryCodes {
    Table,
    PersonId,
    CodeSha256,
    UsedAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for col in [
            ColumnDef::new(People::MfaSecret).string_len(64).null().to_owned(),
            ColumnDef::new(People::MfaEnabledAt).timestamp_with_time_zone().null().to_owned(),
            ColumnDef::new(People::MfaLastStep).big_integer().null().to_owned(),
        ] {
            manager.alter_table(Table::alter().table(People::Table).add_column(col).to_owned()).await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .add_column(ColumnDef::new(Tenants::RequireAdminMfa).boolean().not_null().default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MfaRecoveryCodes::Table)
                    .col(ColumnDef::new(MfaRecoveryCodes::PersonId).uuid().not_null())
                    .col(ColumnDef::new(MfaRecoveryCodes::CodeSha256).string_len(64).not_null())
                    .col(ColumnDef::new(MfaRecoveryCodes::UsedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(MfaRecoveryCodes::CreatedAt).timestamp_with_time_zone().not_null())
                    .primary_key(Index::create().col(MfaRecoveryCodes::PersonId).col(MfaRecoveryCodes::CodeSha256))
                    .foreign_key(
                        ForeignKey::create()
                            .from(MfaRecoveryCodes::Table, MfaRecoveryCodes::PersonId)
                            .to(People::Table, People::Id),
                    )
                    .to_owned(),
            )
            .await?;
        grant_platform_table(manager, "mfa_recovery_codes", "SELECT, INSERT, UPDATE, DELETE").await?;
        Ok(())
    }
}
