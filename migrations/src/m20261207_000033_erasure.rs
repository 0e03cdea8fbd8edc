//! Erasure by anonymisation (issue 20): what the platform's handle needs, and no more, to close a
//! person's account and keep their learning record under a random pseudonym.
//!
//! - `trellis_audit_pseudonymise` replaces `trellis_audit_erase_person`: the person's entries in
//!   the named trusts take the pseudonym (as actor and subject) and lose their address; any entry
//!   of those trusts (and of the platform's own trail) whose subject or detail names them loses
//!   that detail. It stays the only way, with `trellis_audit_purge`, to change the trail.
//! - `trellis_erase_account` deletes the account itself (its secrets, codes, links, proofs,
//!   platform terms accepted, and the `people` row) once no membership is left: the platform's
//!   role has no grant on those tables.
//! - The platform's role may re-key the person column of the ledger and of shared completions
//!   (and nothing else of either; the ledger is append-only),
//!   and delete a trust's terms acceptances.

use crate::{PLATFORM_ROLE, is_postgres};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if is_postgres(manager) {
            manager.get_connection().execute_unprepared(&postgres_sql()).await?;
        }
        Ok(())
    }
}

fn postgres_sql() -> String {
    let platform = PLATFORM_ROLE;
    format!(
        r#"
GRANT UPDATE (person_id) ON ledger_entries TO {platform};
GRANT DELETE ON tenant_terms_acceptances TO {platform};
GRANT SELECT (person_id, earned_in), UPDATE (person_id) ON shared_completions TO {platform};

CREATE POLICY owner_functions ON email_tokens FOR ALL TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY owner_functions ON identity_proofs FOR ALL TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY owner_functions ON platform_terms_acceptances FOR ALL TO CURRENT_USER USING (true) WITH CHECK (true);

DROP FUNCTION trellis_audit_erase_person(uuid);

CREATE FUNCTION trellis_audit_pseudonymise(p_person uuid, p_pseudonym uuid, p_tenants uuid[], p_texts text[],
  p_platform boolean)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE n bigint; m bigint; pattern text;
BEGIN
  UPDATE audit_events SET ip = NULL,
         actor_person_id = CASE WHEN actor_person_id = p_person THEN p_pseudonym ELSE actor_person_id END,
         subject = CASE WHEN subject = p_person::text THEN p_pseudonym::text ELSE subject END
   WHERE tenant_id = ANY (p_tenants) AND (actor_person_id = p_person OR subject = p_person::text);
  GET DIAGNOSTICS n = ROW_COUNT;
  IF coalesce(array_length(p_texts, 1), 0) = 0 THEN
    RETURN n;
  END IF;
  -- Each text as a whole name or address, ignoring case: not with a letter, digit or one of
  -- . _ % + ' @ - just before or after it (the application's own rule).
  SELECT '(^|[^[:alnum:]._%+''@-])(' ||
         string_agg(regexp_replace(t, '([^[:alnum:]])', '\\\1', 'g'), '|') ||
         ')($|[^[:alnum:]._%+''@-])'
    INTO pattern FROM unnest(p_texts) t;
  UPDATE audit_events a
     SET detail = '{{}}', subject = CASE WHEN a.subject ~* pattern THEN '(erased)' ELSE a.subject END
   WHERE a.tenant_id = ANY (p_tenants) AND (a.detail ~* pattern OR a.subject ~* pattern);
  GET DIAGNOSTICS m = ROW_COUNT;
  IF p_platform THEN
    UPDATE platform_audit p
       SET detail = '{{}}', actor = CASE WHEN p.actor ~* pattern THEN '(erased)' ELSE p.actor END
     WHERE p.detail ~* pattern OR p.actor ~* pattern;
  END IF;
  RETURN n + m;
END
$fn$;

CREATE FUNCTION trellis_erase_account(p_person uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
BEGIN
  IF EXISTS (SELECT 1 FROM memberships WHERE person_id = p_person) THEN
    RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = 'an account is erased only once it belongs to no trust';
  END IF;
  DELETE FROM person_secrets WHERE person_id = p_person;
  DELETE FROM mfa_recovery_codes WHERE person_id = p_person;
  DELETE FROM email_tokens WHERE person_id = p_person;
  DELETE FROM identity_proofs WHERE person_id = p_person;
  DELETE FROM platform_terms_acceptances WHERE person_id = p_person;
  DELETE FROM people WHERE id = p_person;
END
$fn$;

REVOKE ALL ON FUNCTION trellis_audit_pseudonymise(uuid, uuid, uuid[], text[], boolean), trellis_erase_account(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION trellis_audit_pseudonymise(uuid, uuid, uuid[], text[], boolean), trellis_erase_account(uuid) TO {platform};
"#
    )
}
