//! Tutor access (issue 19): a learner lets a named person (by email) read their record, all of it
//! or chosen courses, until a date at most twelve months ahead, revocable at once. The tutor opens
//! it with an emailed link (the token kept as its SHA-256); every view is counted and audited.

use crate::helpers::{at, at_null, index, int, long_text, table, text, uuid};
use crate::protect_tenant_table;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        table(
            manager,
            "record_grants",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("person_id"),
                text("tutor_email", 254),
                text("tutor_name", 200),
                // The course ids granted, separated by `;` (empty: the whole record).
                long_text("courses"),
                text("token_sha256", 64),
                at("created_at"),
                at("expires_at"),
                at_null("revoked_at"),
                int("views"),
                at_null("last_viewed_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "record_grants_token", "record_grants", &["tenant_id", "token_sha256"], true).await?;
        index(manager, "record_grants_person", "record_grants", &["tenant_id", "person_id"], false).await?;
        protect_tenant_table(manager, "record_grants").await?;
        Ok(())
    }
}
