//! What issue 3's remaining parts need: a record of each signed-in session (so a person can see
//! and end them one by one), a verification token on a custom domain a trust admin claims, an
//! index for platform admins' view of every trust's audit trail, and a mark on single sign-on
//! settings a trust admin has edited (so `tenants apply` keeps them).

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
enum PersonSessions {
    Table,
    TenantId,
    Id,
    PersonId,
    CreatedAt,
    LastSeenAt,
    Ip,
    UserAgent,
    Method,
    EndedAt,
}

#[derive(DeriveIden)]
enum TenantHosts {
    Table,
    VerifyToken,
    CheckedAt,
    CheckResult,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    At,
}

#[derive(DeriveIden)]
enum TenantSso {
    Table,
    AdminEditedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PersonSessions::Table)
                    .col(ColumnDef::new(PersonSessions::TenantId).uuid().not_null())
                    .col(ColumnDef::new(PersonSessions::Id).uuid().not_null())
                    .col(ColumnDef::new(PersonSessions::PersonId).uuid().not_null())
                    .col(ColumnDef::new(PersonSessions::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(PersonSessions::LastSeenAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(PersonSessions::Ip).string_len(64).null())
                    .col(ColumnDef::new(PersonSessions::UserAgent).string_len(300).null())
                    .col(ColumnDef::new(PersonSessions::Method).string_len(16).not_null())
                    .col(ColumnDef::new(PersonSessions::EndedAt).timestamp_with_time_zone().null())
                    .primary_key(Index::create().col(PersonSessions::TenantId).col(PersonSessions::Id))
                    .foreign_key(
                        ForeignKey::create()
                            .from(PersonSessions::Table, PersonSessions::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(PersonSessions::Table, PersonSessions::PersonId)
                            .to(People::Table, People::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("person_sessions_person")
                    .table(PersonSessions::Table)
                    .col(PersonSessions::TenantId)
                    .col(PersonSessions::PersonId)
                    .col(PersonSessions::LastSeenAt)
                    .to_owned(),
            )
            .await?;
        protect_tenant_table(manager, "person_sessions").await?;
        // The platform admins' view of every trust's audit trail, newest first.
        manager
            .create_index(
                Index::create().name("audit_events_at_all").table(AuditEvents::Table).col(AuditEvents::At).to_owned(),
            )
            .await?;

        // SQLite adds one column per ALTER TABLE.
        for col in [
            ColumnDef::new(TenantHosts::VerifyToken).string_len(64).null().to_owned(),
            ColumnDef::new(TenantHosts::CheckedAt).timestamp_with_time_zone().null().to_owned(),
            ColumnDef::new(TenantHosts::CheckResult).string_len(300).null().to_owned(),
        ] {
            manager.alter_table(Table::alter().table(TenantHosts::Table).add_column(col).to_owned()).await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(TenantSso::Table)
                    .add_column(ColumnDef::new(TenantSso::AdminEditedAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
