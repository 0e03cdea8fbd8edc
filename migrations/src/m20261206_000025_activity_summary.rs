//! `trellis_activity_summary_of`: the identity path's named read of one person's learning in every
//! trust, one line per enrolment with its sessions summed (for the summarised activity record, so a
//! learner with 50,000 tracking rows is read as a few hundred lines). Owner's, `SECURITY DEFINER`,
//! executable by the identity role alone, like `trellis_activity_of`; SQLite runs the same query
//! through the identity path.

use crate::{IDENTITY_ROLE, NATIONAL_CATALOGUE, is_postgres};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !is_postgres(manager) {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(&format!(
                r#"
CREATE FUNCTION trellis_activity_summary_of(p_person uuid)
RETURNS TABLE(tenant_id uuid, trust text, enrolment_id uuid, course_id uuid, course_title text, course_code text,
              status text, requested_at timestamptz, completed_at timestamptz, sessions bigint,
              first_access_at timestamptz, last_access_at timestamptz, visits bigint, seconds_spent bigint,
              score_scaled double precision, success_rank integer, cpd_points integer, accreditation text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
  SELECT e.tenant_id, t.name::text, e.id, e.course_id, c.title::text, c.code::text, e.status::text,
         e.requested_at, e.completed_at, COUNT(p.enrolment_id), MIN(p.first_access_at), MAX(p.last_access_at),
         COALESCE(SUM(p.visits), 0), COALESCE(SUM(p.seconds_spent), 0), MAX(p.score_scaled),
         MAX(CASE WHEN p.success = 'passed' THEN 2 WHEN p.success = 'failed' THEN 1 ELSE 0 END),
         c.cpd_points, c.accreditation::text
    FROM enrolments e
    JOIN tenants t ON t.id = e.tenant_id
    JOIN courses c ON c.id = e.course_id AND c.tenant_id IN (e.tenant_id, '{NATIONAL_CATALOGUE}'::uuid)
    LEFT JOIN object_progress p ON p.tenant_id = e.tenant_id AND p.enrolment_id = e.id
   WHERE e.person_id = p_person
   GROUP BY e.tenant_id, t.name, e.id, e.course_id, c.title, c.code, e.status, e.requested_at, e.completed_at,
            c.cpd_points, c.accreditation
$fn$;
REVOKE ALL ON FUNCTION trellis_activity_summary_of(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION trellis_activity_summary_of(uuid) TO {IDENTITY_ROLE};
"#
            ))
            .await?;
        Ok(())
    }
}
