//! Inactive accounts (issue 20, retention): when each person was last active (signed in), so the
//! retention schedule can anonymise accounts unused for its period. People already here count as
//! active now (the schedule's clock starts with this migration, never earlier). On PostgreSQL the
//! application role, which may not change people, records a sign-in through
//! `trellis_touch_person` (the owner's, SECURITY DEFINER), for a member of the current trust only.

use crate::helpers::{add_column, at_null, index};
use crate::{APP_ROLE, is_postgres};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_column(manager, "people", at_null("last_active_at")).await?;
        let db = manager.get_connection();
        // As the application writes times: RFC 3339 on SQLite.
        let now = if is_postgres(manager) { "now()" } else { "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')" };
        db.execute_unprepared(&format!("UPDATE people SET last_active_at = {now}")).await?;
        index(manager, "people_last_active", "people", &["last_active_at"], false).await?;
        if is_postgres(manager) {
            let here = "NULLIF(current_setting('app.tenant_id', true), '')::uuid";
            db.execute_unprepared(&format!(
                "CREATE FUNCTION trellis_touch_person(p_person uuid) RETURNS void
                 LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
                   UPDATE people SET last_active_at = now()
                    WHERE id = p_person
                      AND (last_active_at IS NULL OR last_active_at < now() - interval '1 hour')
                      AND EXISTS (SELECT 1 FROM memberships m WHERE m.person_id = p_person AND m.tenant_id = {here})
                 $fn$;
                 REVOKE ALL ON FUNCTION trellis_touch_person(uuid) FROM PUBLIC;
                 GRANT EXECUTE ON FUNCTION trellis_touch_person(uuid) TO {APP_ROLE};"
            ))
            .await?;
        }
        Ok(())
    }
}
