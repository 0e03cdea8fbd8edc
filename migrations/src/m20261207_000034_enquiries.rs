//! The enquiry desk (issue 20): each trust's enquiries from its *Contact us* form, with a
//! reference, a status (open, answered, closed), a date by which a request to close an account
//! must be dealt with, the hash of the enquirer's private link to the thread, and every message of
//! the thread, theirs and the trust's.

use crate::helpers::{at, at_null, boolean, index, long_text, table, text, uuid, uuid_null};
use crate::protect_tenant_table;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        table(
            manager,
            "enquiries",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                text("reference", 16),
                uuid_null("person_id"),
                text("name", 200),
                text("email", 254),
                // general | account | data | technical | course
                text("topic", 20),
                text("subject", 200),
                // open | answered | closed
                text("status", 16),
                at_null("due_at"),
                text("token_hash", 64),
                at("created_at"),
                at("updated_at"),
                at_null("closed_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "enquiries_reference", "enquiries", &["tenant_id", "reference"], true).await?;
        index(manager, "enquiries_status", "enquiries", &["tenant_id", "status", "created_at"], false).await?;
        index(manager, "enquiries_person", "enquiries", &["tenant_id", "person_id"], false).await?;
        index(manager, "enquiries_closed", "enquiries", &["tenant_id", "closed_at"], false).await?;
        protect_tenant_table(manager, "enquiries").await?;
        table(
            manager,
            "enquiry_messages",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("enquiry_id"),
                boolean("from_staff"),
                uuid_null("author_person_id"),
                long_text("body"),
                at("created_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(
            manager,
            "enquiry_messages_thread",
            "enquiry_messages",
            &["tenant_id", "enquiry_id", "created_at"],
            false,
        )
        .await?;
        protect_tenant_table(manager, "enquiry_messages").await?;
        Ok(())
    }
}
