//! The identity path (ADR 0014): secrets out of `people`, a role of its own for the identity
//! path, narrow functions for what the application may do across trusts, invitations, proofs of
//! consent, and the only door to changing the audit trail.
//!
//! - `person_secrets` holds password hashes and TOTP secrets; only `trellis_identity` reads or
//!   writes it (and `mfa_recovery_codes`, `email_tokens`).
//! - `trellis_identity` (no BYPASSRLS, owns nothing) reads people and memberships across trusts
//!   (sign-in by email, "a member elsewhere?"), ends sessions everywhere, and records its own
//!   audit entries and emails under the trust's row-level security.
//! - The application role may no longer insert memberships: `trellis_add_membership` does, and
//!   only for a person created in the same transaction, one whose invitation to this trust was
//!   accepted in it, or one the identity path left a fresh proof for (password, two-step code or
//!   emailed link checked). It finds accounts by email through `trellis_accounts_by_emails`,
//!   which answers only what the application needs, and creates people with
//!   `trellis_create_person`.
//! - `audit_events` stays append-only for every role; `trellis_audit_erase_person` and
//!   `trellis_audit_purge` (owner's, SECURITY DEFINER) are the only ways to change it.

use crate::{APP_ROLE, IDENTITY_ROLE, PLATFORM_ROLE, is_postgres, protect_tenant_table};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum People {
    Table,
    Id,
    PasswordHash,
    MfaSecret,
    MfaLastStep,
}

#[derive(DeriveIden)]
enum PersonSecrets {
    Table,
    PersonId,
    PasswordHash,
    MfaSecret,
    MfaLastStep,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum IdentityProofs {
    Table,
    TenantId,
    Id,
    PersonId,
    Purpose,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum Invitations {
    Table,
    TenantId,
    Id,
    Email,
    PersonId,
    TokenSha256,
    Record,
    InvitedBy,
    CreatedAt,
    ExpiresAt,
    AcceptedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum EmailTokens {
    Table,
    Payload,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PersonSecrets::Table)
                    .col(ColumnDef::new(PersonSecrets::PersonId).uuid().not_null().primary_key())
                    .col(ColumnDef::new(PersonSecrets::PasswordHash).string_len(200).null())
                    .col(ColumnDef::new(PersonSecrets::MfaSecret).string_len(64).null())
                    .col(ColumnDef::new(PersonSecrets::MfaLastStep).big_integer().null())
                    .col(ColumnDef::new(PersonSecrets::UpdatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(PersonSecrets::Table, PersonSecrets::PersonId)
                            .to(People::Table, People::Id),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "INSERT INTO person_secrets (person_id, password_hash, mfa_secret, mfa_last_step, updated_at)
             SELECT id, password_hash, mfa_secret, mfa_last_step, updated_at FROM people",
        )
        .await?;
        // SQLite drops one column per ALTER TABLE.
        for col in [People::PasswordHash, People::MfaSecret, People::MfaLastStep] {
            manager.alter_table(Table::alter().table(People::Table).drop_column(col).to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(IdentityProofs::Table)
                    .col(ColumnDef::new(IdentityProofs::TenantId).uuid().not_null())
                    .col(ColumnDef::new(IdentityProofs::Id).uuid().not_null())
                    .col(ColumnDef::new(IdentityProofs::PersonId).uuid().not_null())
                    .col(ColumnDef::new(IdentityProofs::Purpose).string_len(16).not_null())
                    .col(ColumnDef::new(IdentityProofs::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(IdentityProofs::ExpiresAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(IdentityProofs::UsedAt).timestamp_with_time_zone().null())
                    .primary_key(Index::create().col(IdentityProofs::TenantId).col(IdentityProofs::Id))
                    .foreign_key(
                        ForeignKey::create()
                            .from(IdentityProofs::Table, IdentityProofs::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(IdentityProofs::Table, IdentityProofs::PersonId)
                            .to(People::Table, People::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("identity_proofs_person")
                    .table(IdentityProofs::Table)
                    .col(IdentityProofs::TenantId)
                    .col(IdentityProofs::PersonId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Invitations::Table)
                    .col(ColumnDef::new(Invitations::TenantId).uuid().not_null())
                    .col(ColumnDef::new(Invitations::Id).uuid().not_null())
                    .col(ColumnDef::new(Invitations::Email).string_len(254).not_null())
                    .col(ColumnDef::new(Invitations::PersonId).uuid().not_null())
                    .col(ColumnDef::new(Invitations::TokenSha256).string_len(64).not_null())
                    .col(ColumnDef::new(Invitations::Record).text().not_null())
                    .col(ColumnDef::new(Invitations::InvitedBy).uuid().null())
                    .col(ColumnDef::new(Invitations::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Invitations::ExpiresAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Invitations::AcceptedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Invitations::RevokedAt).timestamp_with_time_zone().null())
                    .primary_key(Index::create().col(Invitations::TenantId).col(Invitations::Id))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Invitations::Table, Invitations::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Invitations::Table, Invitations::PersonId)
                            .to(People::Table, People::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("invitations_token")
                    .table(Invitations::Table)
                    .col(Invitations::TenantId)
                    .col(Invitations::TokenSha256)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("invitations_person")
                    .table(Invitations::Table)
                    .col(Invitations::TenantId)
                    .col(Invitations::PersonId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(EmailTokens::Table)
                    .add_column(ColumnDef::new(EmailTokens::Payload).text().null())
                    .to_owned(),
            )
            .await?;

        protect_tenant_table(manager, "identity_proofs").await?;
        protect_tenant_table(manager, "invitations").await?;
        if is_postgres(manager) {
            db.execute_unprepared(&postgres_sql()).await?;
        }
        Ok(())
    }
}

/// Roles, grants, policies and functions (PostgreSQL only).
fn postgres_sql() -> String {
    let app = APP_ROLE;
    let platform = PLATFORM_ROLE;
    let identity = IDENTITY_ROLE;
    let here = "NULLIF(current_setting('app.tenant_id', true), '')::uuid";
    format!(
        r#"
-- Secrets: the identity path's alone.
REVOKE ALL ON person_secrets, mfa_recovery_codes, email_tokens FROM PUBLIC, {app}, {platform};
GRANT SELECT, INSERT, UPDATE ON person_secrets TO {identity};
GRANT SELECT, INSERT, UPDATE, DELETE ON mfa_recovery_codes TO {identity};
GRANT SELECT, INSERT, UPDATE ON email_tokens TO {identity};

-- People: the identity path reads and writes any person; the platform only reads; the
-- application reads the members of the current trust (the earlier policy) and nothing more.
REVOKE INSERT, UPDATE, DELETE ON people FROM {platform}, {app};
GRANT SELECT, INSERT, UPDATE ON people TO {identity};
CREATE POLICY identity_path ON people FOR ALL TO {identity} USING (true) WITH CHECK (true);
-- The owner's functions below see every person (a non-superuser owner is held by FORCE).
CREATE POLICY owner_functions ON people FOR ALL TO CURRENT_USER USING (true) WITH CHECK (true);

-- Memberships: nobody but the owner's function adds one; the identity path reads them all.
REVOKE INSERT ON memberships FROM {app}, {platform};
GRANT SELECT ON memberships TO {identity};
CREATE POLICY identity_reads ON memberships FOR SELECT TO {identity} USING (true);
CREATE POLICY owner_functions ON memberships FOR SELECT TO CURRENT_USER USING (true);

-- Sessions: the identity path ends a person's sessions on every trust's site.
GRANT SELECT (id, tenant_id, person_id, ended_at), UPDATE (ended_at) ON person_sessions TO {identity};
CREATE POLICY identity_ends ON person_sessions FOR SELECT TO {identity} USING (true);
CREATE POLICY identity_ends_update ON person_sessions FOR UPDATE TO {identity} USING (true) WITH CHECK (true);

-- The identity path records its own steps, under the trust's row-level security.
GRANT INSERT ON audit_events, outbox TO {identity};

-- Proofs of consent: written by the identity path, spent by trellis_add_membership.
REVOKE ALL ON identity_proofs FROM {app}, {platform};
GRANT SELECT, INSERT, UPDATE ON identity_proofs TO {identity};

-- The platform's documents a person accepted: the application reads and records them for the
-- members of the current trust.
ALTER TABLE platform_terms_acceptances ENABLE ROW LEVEL SECURITY;
ALTER TABLE platform_terms_acceptances FORCE ROW LEVEL SECURITY;
CREATE POLICY member_of_current_tenant ON platform_terms_acceptances FOR ALL
  USING (EXISTS (SELECT 1 FROM memberships m WHERE m.person_id = platform_terms_acceptances.person_id AND m.tenant_id = {here}))
  WITH CHECK (EXISTS (SELECT 1 FROM memberships m WHERE m.person_id = platform_terms_acceptances.person_id AND m.tenant_id = {here}));
GRANT SELECT, INSERT ON platform_terms_acceptances TO {app};

-- The audit trail: append-only for every role; changed only by these two functions.
CREATE POLICY owner_functions ON audit_events FOR ALL TO CURRENT_USER USING (true) WITH CHECK (true);

CREATE FUNCTION trellis_accounts_by_emails(p_emails text[])
RETURNS TABLE (email text, id uuid, active boolean, email_verified boolean, platform_admin boolean,
               member_here boolean, member_elsewhere boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
  SELECT p.email::text, p.id, p.status = 'active', p.email_verified_at IS NOT NULL, p.platform_admin,
         EXISTS (SELECT 1 FROM memberships m WHERE m.person_id = p.id AND m.tenant_id = {here}),
         EXISTS (SELECT 1 FROM memberships m WHERE m.person_id = p.id AND m.tenant_id IS DISTINCT FROM {here})
    FROM people p
   WHERE p.email = ANY (p_emails)
$fn$;

CREATE FUNCTION trellis_create_person(p_id uuid, p_email text, p_password_hash text, p_given text,
  p_family text, p_job text, p_place text, p_register_kind text, p_register_number text, p_verified boolean)
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
BEGIN
  IF {here} IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = 'people are created for a trust';
  END IF;
  INSERT INTO people (id, email, email_verified_at, given_name, family_name, job_role, place_of_work,
                      register_kind, register_number, status, platform_admin, session_epoch, created_at, updated_at)
  VALUES (p_id, p_email, CASE WHEN p_verified THEN now() END, p_given, p_family, p_job, p_place,
          p_register_kind, p_register_number, 'active', false, 0, now(), now());
  INSERT INTO person_secrets (person_id, password_hash, updated_at) VALUES (p_id, p_password_hash, now());
  RETURN p_id;
END
$fn$;

CREATE FUNCTION trellis_add_membership(p_person uuid, p_status text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
  t uuid := {here};
  proof uuid;
BEGIN
  IF t IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = 'no trust in this transaction';
  END IF;
  IF p_status NOT IN ('pending', 'approved') THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'a new membership is pending or approved';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM people WHERE id = p_person AND xmin = pg_current_xact_id()::xid)
     AND NOT EXISTS (SELECT 1 FROM invitations i WHERE i.tenant_id = t AND i.person_id = p_person
                       AND i.accepted_at IS NOT NULL AND i.xmin = pg_current_xact_id()::xid) THEN
    UPDATE identity_proofs SET used_at = now()
     WHERE tenant_id = t AND id = (SELECT id FROM identity_proofs
                                    WHERE tenant_id = t AND person_id = p_person AND used_at IS NULL
                                      AND expires_at > now() ORDER BY created_at LIMIT 1)
    RETURNING id INTO proof;
    IF proof IS NULL THEN
      RAISE EXCEPTION USING ERRCODE = '42501',
        MESSAGE = 'this person has not agreed to join this trust (no new account, accepted invitation or proof)';
    END IF;
  END IF;
  INSERT INTO memberships (tenant_id, person_id, status, created_at, updated_at)
  VALUES (t, p_person, p_status, now(), now());
END
$fn$;

CREATE FUNCTION trellis_audit_erase_person(p_person uuid)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE n bigint;
BEGIN
  UPDATE audit_events SET ip = NULL, detail = '{{}}',
         subject = CASE WHEN subject = p_person::text THEN subject ELSE '(erased)' END
   WHERE actor_person_id = p_person OR subject = p_person::text;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$fn$;

CREATE FUNCTION trellis_audit_purge(p_tenant uuid, p_before timestamptz)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE n bigint;
BEGIN
  DELETE FROM audit_events WHERE tenant_id = p_tenant AND at < p_before;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$fn$;

REVOKE ALL ON FUNCTION trellis_accounts_by_emails(text[]), trellis_create_person(uuid, text, text, text, text, text, text, text, text, boolean),
  trellis_add_membership(uuid, text), trellis_audit_erase_person(uuid), trellis_audit_purge(uuid, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION trellis_accounts_by_emails(text[]), trellis_create_person(uuid, text, text, text, text, text, text, text, text, boolean),
  trellis_add_membership(uuid, text) TO {app};
GRANT EXECUTE ON FUNCTION trellis_audit_erase_person(uuid), trellis_audit_purge(uuid, timestamptz) TO {identity}, {platform};
"#
    )
}
