//! CPD in a person's own record (issue 19): `trellis_activity_of` also returns each course's CPD
//! points and accrediting body, so *My activity* totals them.

use crate::{IDENTITY_ROLE, NATIONAL_CATALOGUE, is_postgres};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if is_postgres(manager) {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    r#"
DROP FUNCTION trellis_activity_of(uuid);
CREATE FUNCTION trellis_activity_of(p_person uuid)
RETURNS TABLE(tenant_id uuid, trust text, enrolment_id uuid, course_id uuid, course_title text, course_code text,
              status text, requested_at timestamptz, completed_at timestamptz, cycle integer, object_id uuid,
              object_title text, first_access_at timestamptz, last_access_at timestamptz, visits integer,
              seconds_spent integer, object_completed_at timestamptz, score_scaled double precision, success text,
              cpd_points integer, accreditation text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
  SELECT e.tenant_id, t.name::text, e.id, e.course_id, c.title::text, c.code::text, e.status::text,
         e.requested_at, e.completed_at, p.cycle, o.id, o.title::text, p.first_access_at, p.last_access_at,
         p.visits, p.seconds_spent, p.completed_at, p.score_scaled, p.success::text, c.cpd_points,
         c.accreditation::text
    FROM enrolments e
    JOIN tenants t ON t.id = e.tenant_id
    JOIN courses c ON c.id = e.course_id AND c.tenant_id IN (e.tenant_id, '{NATIONAL_CATALOGUE}'::uuid)
    LEFT JOIN object_progress p ON p.tenant_id = e.tenant_id AND p.enrolment_id = e.id
    LEFT JOIN learning_objects o ON o.id = p.object_id AND o.tenant_id IN (e.tenant_id, '{NATIONAL_CATALOGUE}'::uuid)
   WHERE e.person_id = p_person
$fn$;
REVOKE ALL ON FUNCTION trellis_activity_of(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION trellis_activity_of(uuid) TO {IDENTITY_ROLE};
"#
                ))
                .await?;
        }
        Ok(())
    }
}
