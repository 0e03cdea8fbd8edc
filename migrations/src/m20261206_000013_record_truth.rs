//! Record truth: a shared (national) course completed at one trust counts at the person's other
//! trusts. `shared_completions` keeps only the fact and the date (and where it was earned), one
//! row per person, course and trust; `assignments.completed_in` says when a compliance entry is
//! met by a completion elsewhere. On PostgreSQL the application role reads the shared
//! completions of its own members and writes only those earned in its trust;
//! `trellis_share_completion` (owner's, `SECURITY DEFINER`) brings the person's entries in their
//! other trusts in date, touching nothing else.

use crate::helpers::{add_column, at, index, table, uuid, uuid_null};
use crate::{APP_ROLE, NATIONAL_CATALOGUE, is_postgres};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_column(manager, "assignments", uuid_null("completed_in")).await?;
        table(
            manager,
            "shared_completions",
            vec![uuid("person_id"), uuid("course_id"), uuid("earned_in"), at("completed_at")],
            &["person_id", "course_id", "earned_in"],
        )
        .await?;
        index(manager, "shared_completions_course", "shared_completions", &["course_id", "person_id"], false).await?;
        if is_postgres(manager) {
            let here = "NULLIF(current_setting('app.tenant_id', true), '')::uuid";
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    r#"
ALTER TABLE shared_completions ENABLE ROW LEVEL SECURITY;
ALTER TABLE shared_completions FORCE ROW LEVEL SECURITY;
CREATE POLICY members_of_current_tenant ON shared_completions FOR SELECT
  USING (EXISTS (SELECT 1 FROM memberships m WHERE m.person_id = shared_completions.person_id AND m.tenant_id = {here}));
CREATE POLICY earned_here ON shared_completions FOR INSERT WITH CHECK (earned_in = {here});
CREATE POLICY earned_here_update ON shared_completions FOR UPDATE USING (earned_in = {here}) WITH CHECK (earned_in = {here});
CREATE POLICY owner_functions ON shared_completions FOR ALL TO CURRENT_USER USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON shared_completions TO {APP_ROLE};
CREATE POLICY owner_functions ON assignments FOR ALL TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY owner_functions ON requirements FOR SELECT TO CURRENT_USER USING (true);

CREATE FUNCTION trellis_share_completion(p_person uuid, p_course uuid, p_at timestamptz)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
  t uuid := {here};
  n bigint;
BEGIN
  IF t IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = 'no trust in this transaction';
  END IF;
  -- Only a course of the free national catalogue, completed by a member of this trust.
  IF NOT EXISTS (SELECT 1 FROM courses c WHERE c.tenant_id = '{NATIONAL_CATALOGUE}'::uuid AND c.id = p_course
                   AND c.seller_id IS NULL)
     OR NOT EXISTS (SELECT 1 FROM memberships m WHERE m.tenant_id = t AND m.person_id = p_person) THEN
    RETURN 0;
  END IF;
  INSERT INTO shared_completions (person_id, course_id, earned_in, completed_at)
  VALUES (p_person, p_course, t, p_at)
  ON CONFLICT (person_id, course_id, earned_in) DO UPDATE
    SET completed_at = GREATEST(shared_completions.completed_at, EXCLUDED.completed_at);
  UPDATE assignments a
     SET completed_at = p_at,
         started_at = COALESCE(a.started_at, p_at),
         completed_in = t,
         expires_on = CASE WHEN r.renewal_months IS NULL OR r.renewal_months <= 0 THEN NULL
                           ELSE (p_at::date + make_interval(months => r.renewal_months))::date END,
         due_on = CASE WHEN r.renewal_months IS NULL OR r.renewal_months <= 0 THEN a.due_on
                       ELSE (p_at::date + make_interval(months => r.renewal_months))::date END
    FROM requirements r
   WHERE a.person_id = p_person AND a.course_id = p_course AND a.tenant_id <> t
     AND r.tenant_id = a.tenant_id AND r.id = a.requirement_id
     AND (a.completed_at IS NULL OR a.completed_at < p_at);
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$fn$;
REVOKE ALL ON FUNCTION trellis_share_completion(uuid, uuid, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION trellis_share_completion(uuid, uuid, timestamptz) TO {APP_ROLE};
"#
                ))
                .await?;
        }
        Ok(())
    }
}
