//! Protected learning time and calendar feeds (issue 22).
//!
//! - `learning_time`: each member's weekly allowance (minutes, weekday `1`–`5`, start as minutes
//!   after midnight in the trust's time zone), who asked for it and when, and who agreed it and
//!   when (`agreed_at` empty while it waits for their line manager).
//! - `calendar_feeds`: each member's calendar feed, a capability link like a certificate's: the
//!   SHA-256 of its secret (shown once, when made), when it was revoked (a new one revokes the
//!   old), and how often and when calendars last fetched it.

use crate::helpers::{at, at_null, index, int, table, text, uuid, uuid_null};
use crate::protect_tenant_table;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        table(
            manager,
            "learning_time",
            vec![
                uuid("tenant_id"),
                uuid("person_id"),
                int("minutes"),
                int("weekday"),
                int("start_minute"),
                uuid("asked_by"),
                at("asked_at"),
                uuid_null("agreed_by"),
                at_null("agreed_at"),
            ],
            &["tenant_id", "person_id"],
        )
        .await?;
        protect_tenant_table(manager, "learning_time").await?;

        table(
            manager,
            "calendar_feeds",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("person_id"),
                text("token_sha256", 64),
                at("created_at"),
                at_null("revoked_at"),
                int("views"),
                at_null("last_viewed_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "calendar_feeds_token", "calendar_feeds", &["tenant_id", "token_sha256"], true).await?;
        index(manager, "calendar_feeds_person", "calendar_feeds", &["tenant_id", "person_id"], false).await?;
        protect_tenant_table(manager, "calendar_feeds").await?;
        Ok(())
    }
}
