//! Line managers (issue 22): who manages whom at a trust, and the reminders they send.
//!
//! - `line_managers`: one row per member who has a line manager here (`manager_id`, another member
//!   of the same trust), set by the staff import's line-manager column or by an admin (`source`:
//!   `import` or `admin`). `line_managers_team` finds a manager's team by index.
//! - `team_nudges`: each reminder a line manager sent one of their team (to whom, about which
//!   course if one, when), so the team page shows when each was last reminded and a second
//!   reminder the same day is refused.

use crate::helpers::{at, index, table, text, uuid, uuid_null};
use crate::protect_tenant_table;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        table(
            manager,
            "line_managers",
            vec![uuid("tenant_id"), uuid("person_id"), uuid("manager_id"), text("source", 8), at("set_at")],
            &["tenant_id", "person_id"],
        )
        .await?;
        index(manager, "line_managers_team", "line_managers", &["tenant_id", "manager_id"], false).await?;
        protect_tenant_table(manager, "line_managers").await?;

        table(
            manager,
            "team_nudges",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("manager_id"),
                uuid("person_id"),
                uuid_null("course_id"),
                at("sent_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "team_nudges_person", "team_nudges", &["tenant_id", "person_id", "sent_at"], false).await?;
        protect_tenant_table(manager, "team_nudges").await?;
        Ok(())
    }
}
