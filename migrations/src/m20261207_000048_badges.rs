//! Badges (issue 22): the badges a trust awards, and who has earned them.
//!
//! - `badges`: a trust's badge: its name and description, and its criterion (`criterion`:
//!   `programme`, every course of `programme_id` completed; or `mandatory`, all of one's mandatory
//!   training complete and current); `active` while it is awarded.
//! - `badge_awards`: one row for each person and badge they earned: when, and, for a badge for
//!   training kept current, until when it stays current (the earliest renewal date then).

use crate::helpers::{at, at_null, boolean, index, table, text, uuid, uuid_null};
use crate::protect_tenant_table;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        table(
            manager,
            "badges",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                text("name", 120),
                text("description", 500),
                text("criterion", 16),
                uuid_null("programme_id"),
                boolean("active"),
                at("created_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        protect_tenant_table(manager, "badges").await?;

        table(
            manager,
            "badge_awards",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("badge_id"),
                uuid("person_id"),
                at("awarded_at"),
                at_null("valid_until"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "badge_awards_once", "badge_awards", &["tenant_id", "badge_id", "person_id"], true).await?;
        index(manager, "badge_awards_person", "badge_awards", &["tenant_id", "person_id"], false).await?;
        protect_tenant_table(manager, "badge_awards").await?;
        Ok(())
    }
}
