//! Identity: people (one each, platform-wide), their memberships and roles in trusts, single-use
//! tokens, the audit trail and the email outbox.

use crate::{APP_ROLE, PLATFORM_ROLE, grant_platform_table, is_postgres, protect_tenant_table};
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
    Email,
    EmailVerifiedAt,
    PasswordHash,
    GivenName,
    FamilyName,
    JobRole,
    PlaceOfWork,
    RegisterKind,
    RegisterNumber,
    Status,
    PlatformAdmin,
    SessionEpoch,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    TenantId,
    PersonId,
    Status,
    Reason,
    DecidedBy,
    DecidedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum MembershipRoles {
    Table,
    TenantId,
    PersonId,
    Role,
    GrantedBy,
    GrantedAt,
}

#[derive(DeriveIden)]
enum EmailTokens {
    Table,
    Id,
    TokenSha256,
    PersonId,
    TenantId,
    Purpose,
    NewEmail,
    ExpiresAt,
    UsedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    TenantId,
    Id,
    At,
    ActorPersonId,
    Action,
    Subject,
    Ip,
    Detail,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    TenantId,
    Id,
    Kind,
    Payload,
    CreatedAt,
    Attempts,
    NextAttemptAt,
    SentAt,
    LastError,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(People::Table)
                    .col(ColumnDef::new(People::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(People::Email).string_len(254).not_null().unique_key())
                    .col(ColumnDef::new(People::EmailVerifiedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(People::PasswordHash).string_len(200).null())
                    .col(ColumnDef::new(People::GivenName).string_len(100).not_null())
                    .col(ColumnDef::new(People::FamilyName).string_len(100).not_null())
                    .col(ColumnDef::new(People::JobRole).string_len(100).not_null())
                    .col(ColumnDef::new(People::PlaceOfWork).string_len(6).not_null())
                    .col(ColumnDef::new(People::RegisterKind).string_len(8).null())
                    .col(ColumnDef::new(People::RegisterNumber).string_len(16).null())
                    .col(ColumnDef::new(People::Status).string_len(16).not_null())
                    .col(ColumnDef::new(People::PlatformAdmin).boolean().not_null().default(false))
                    .col(ColumnDef::new(People::SessionEpoch).integer().not_null().default(0))
                    .col(ColumnDef::new(People::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(People::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Memberships::Table)
                    .col(ColumnDef::new(Memberships::TenantId).uuid().not_null())
                    .col(ColumnDef::new(Memberships::PersonId).uuid().not_null())
                    .col(ColumnDef::new(Memberships::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Memberships::Reason).string_len(500).null())
                    .col(ColumnDef::new(Memberships::DecidedBy).uuid().null())
                    .col(ColumnDef::new(Memberships::DecidedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Memberships::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Memberships::UpdatedAt).timestamp_with_time_zone().not_null())
                    .primary_key(Index::create().col(Memberships::TenantId).col(Memberships::PersonId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Memberships::Table, Memberships::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Memberships::Table, Memberships::PersonId)
                            .to(People::Table, People::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("memberships_status")
                    .table(Memberships::Table)
                    .col(Memberships::TenantId)
                    .col(Memberships::Status)
                    .col(Memberships::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("memberships_person")
                    .table(Memberships::Table)
                    .col(Memberships::PersonId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MembershipRoles::Table)
                    .col(ColumnDef::new(MembershipRoles::TenantId).uuid().not_null())
                    .col(ColumnDef::new(MembershipRoles::PersonId).uuid().not_null())
                    .col(ColumnDef::new(MembershipRoles::Role).string_len(32).not_null())
                    .col(ColumnDef::new(MembershipRoles::GrantedBy).uuid().null())
                    .col(ColumnDef::new(MembershipRoles::GrantedAt).timestamp_with_time_zone().not_null())
                    .primary_key(
                        Index::create()
                            .col(MembershipRoles::TenantId)
                            .col(MembershipRoles::PersonId)
                            .col(MembershipRoles::Role),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(MembershipRoles::Table, (MembershipRoles::TenantId, MembershipRoles::PersonId))
                            .to(Memberships::Table, (Memberships::TenantId, Memberships::PersonId))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("membership_roles_role")
                    .table(MembershipRoles::Table)
                    .col(MembershipRoles::TenantId)
                    .col(MembershipRoles::Role)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EmailTokens::Table)
                    .col(ColumnDef::new(EmailTokens::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(EmailTokens::TokenSha256).string_len(64).not_null().unique_key())
                    .col(ColumnDef::new(EmailTokens::PersonId).uuid().not_null())
                    .col(ColumnDef::new(EmailTokens::TenantId).uuid().not_null())
                    .col(ColumnDef::new(EmailTokens::Purpose).string_len(16).not_null())
                    .col(ColumnDef::new(EmailTokens::NewEmail).string_len(254).null())
                    .col(ColumnDef::new(EmailTokens::ExpiresAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(EmailTokens::UsedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(EmailTokens::CreatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(EmailTokens::Table, EmailTokens::PersonId)
                            .to(People::Table, People::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("email_tokens_person")
                    .table(EmailTokens::Table)
                    .col(EmailTokens::PersonId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(ColumnDef::new(AuditEvents::TenantId).uuid().not_null())
                    .col(ColumnDef::new(AuditEvents::Id).uuid().not_null())
                    .col(ColumnDef::new(AuditEvents::At).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(AuditEvents::ActorPersonId).uuid().null())
                    .col(ColumnDef::new(AuditEvents::Action).string_len(64).not_null())
                    .col(ColumnDef::new(AuditEvents::Subject).string_len(300).not_null())
                    .col(ColumnDef::new(AuditEvents::Ip).string_len(45).null())
                    .col(ColumnDef::new(AuditEvents::Detail).text().not_null())
                    .primary_key(Index::create().col(AuditEvents::TenantId).col(AuditEvents::Id))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AuditEvents::Table, AuditEvents::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_events_at")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::TenantId)
                    .col(AuditEvents::At)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .col(ColumnDef::new(Outbox::TenantId).uuid().not_null())
                    .col(ColumnDef::new(Outbox::Id).uuid().not_null())
                    .col(ColumnDef::new(Outbox::Kind).string_len(32).not_null())
                    .col(ColumnDef::new(Outbox::Payload).text().not_null())
                    .col(ColumnDef::new(Outbox::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Outbox::Attempts).integer().not_null().default(0))
                    .col(ColumnDef::new(Outbox::NextAttemptAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Outbox::SentAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Outbox::LastError).text().null())
                    .primary_key(Index::create().col(Outbox::TenantId).col(Outbox::Id))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Outbox::Table, Outbox::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The worker's query: what is due, across trusts.
        manager
            .create_index(
                Index::create()
                    .name("outbox_due")
                    .table(Outbox::Table)
                    .col(Outbox::SentAt)
                    .col(Outbox::NextAttemptAt)
                    .to_owned(),
            )
            .await?;

        for table in ["memberships", "membership_roles", "outbox"] {
            protect_tenant_table(manager, table).await?;
        }
        protect_tenant_table(manager, "audit_events").await?;
        // Link tokens carry the trust that issued them: row-level security like any tenant-owned
        // table, but only the platform role (sign-in and registration flows) may use them.
        protect_tenant_table(manager, "email_tokens").await?;
        if is_postgres(manager) {
            let db = manager.get_connection();
            // The audit trail is append-only, for everyone but its owner.
            db.execute_unprepared(&format!(
                "REVOKE UPDATE, DELETE ON audit_events FROM {APP_ROLE}, {PLATFORM_ROLE}; REVOKE ALL ON email_tokens FROM {APP_ROLE};"
            ))
                .await?;
            // People are platform-wide. The application role sees a person only through a
            // membership in the current trust; sign-in and registration go through PlatformDb.
            let member = "EXISTS (SELECT 1 FROM memberships m WHERE m.person_id = people.id \
                          AND m.tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)";
            db.execute_unprepared(&format!(
                "ALTER TABLE people ENABLE ROW LEVEL SECURITY;
                 ALTER TABLE people FORCE ROW LEVEL SECURITY;
                 CREATE POLICY member_of_current_tenant ON people FOR SELECT USING ({member});
                 GRANT SELECT ON people TO {APP_ROLE};"
            ))
            .await?;
        }
        grant_platform_table(manager, "people", "SELECT, INSERT, UPDATE").await?;
        Ok(())
    }
}
