//! SCIM 2.0 provisioning (issue 21): an identity system (Entra ID, say) provisions a trust's staff
//! through `/scim/v2/Users`. Each provisioned user is a row here: its own id (never the person's,
//! so a response cannot tell whether the account was new), the person it stands for, the
//! `userName` as sent and lower-cased for lookups, the `externalId`, and the attributes as the
//! identity system last sent them (`resource`, JSON), from which the person's account (when new),
//! staff record and membership are derived. `version` is the resource's ETag version. Deleting a
//! user removes its row and suspends the membership; the person's learning record stays.

use crate::helpers::{at, index, int, long_text, table, text, text_null, uuid, uuid_null};
use crate::protect_tenant_table;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        table(
            manager,
            "scim_users",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("person_id"),
                text("user_name", 300),
                text("user_name_key", 300),
                text_null("external_id", 300),
                long_text("resource"),
                int("version"),
                uuid_null("token_id"),
                at("created_at"),
                at("updated_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "scim_users_user_name", "scim_users", &["tenant_id", "user_name_key"], true).await?;
        index(manager, "scim_users_person", "scim_users", &["tenant_id", "person_id"], true).await?;
        index(manager, "scim_users_external", "scim_users", &["tenant_id", "external_id"], false).await?;
        index(manager, "scim_users_created", "scim_users", &["tenant_id", "created_at", "id"], false).await?;
        protect_tenant_table(manager, "scim_users").await?;
        Ok(())
    }
}
