//! Certificates for programmes, and the learner's statements from every trust in their export
//! (issue 19).
//! - `programmes.certificate`: whether the programme offers a completion certificate (off unless
//!   its catalogue file says `certificate = true`).
//! - `certificate_links.programme_id`: a verification link for a programme's certificate (its
//!   `enrolment_id` then nil), found by the person's links of that programme.
//! - `trellis_statements_of`: the identity path's named read of the xAPI statements about one
//!   person at each trust where they have an enrolment, given the opaque agent each trust's LRS
//!   knows them by; owner's, `SECURITY DEFINER`, executable by the identity role alone, like
//!   `trellis_activity_of`. SQLite runs the same query through the identity path.

use crate::helpers::{add_column, boolean, index, uuid_null};
use crate::{IDENTITY_ROLE, is_postgres};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_column(manager, "programmes", boolean("certificate")).await?;
        add_column(manager, "certificate_links", uuid_null("programme_id")).await?;
        index(
            manager,
            "certificate_links_programme",
            "certificate_links",
            &["tenant_id", "person_id", "programme_id"],
            false,
        )
        .await?;
        if !is_postgres(manager) {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(&format!(
                r#"
CREATE FUNCTION trellis_statements_of(p_person uuid, p_tenants uuid[], p_agents text[], p_limit integer)
RETURNS TABLE(tenant_id uuid, seq bigint, body text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
  SELECT s.tenant_id, s.seq, s.body::text
    FROM unnest(p_tenants, p_agents) AS a(tenant_id, agent)
    JOIN xapi_statement_refs m ON m.tenant_id = a.tenant_id AND m.kind = 'agent' AND m.ref_key = a.agent
                               AND m.related_only = false
    JOIN xapi_statements s ON s.tenant_id = m.tenant_id AND s.id = m.statement_id AND s.voided = false
   WHERE EXISTS (SELECT 1 FROM enrolments e WHERE e.tenant_id = a.tenant_id AND e.person_id = p_person)
   ORDER BY s.tenant_id, s.seq
   LIMIT p_limit
$fn$;
REVOKE ALL ON FUNCTION trellis_statements_of(uuid, uuid[], text[], integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION trellis_statements_of(uuid, uuid[], text[], integer) TO {IDENTITY_ROLE};
"#
            ))
            .await?;
        Ok(())
    }
}
