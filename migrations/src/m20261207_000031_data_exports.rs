//! "Download my data" (issue 20, the right of access): each request, the zip the worker builds
//! (kept in the file store until it expires), and the hash of the emailed link's token.

use crate::helpers::{at, at_null, index, table, text, uuid};
use crate::protect_tenant_table;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        table(
            manager,
            "data_exports",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("person_id"),
                at("requested_at"),
                // building | ready | failed
                text("status", 20),
                ColumnDef::new(Alias::new("bytes")).big_integer().not_null().to_owned(),
                text("token_hash", 64),
                at_null("expires_at"),
                text("detail", 300),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "data_exports_person", "data_exports", &["tenant_id", "person_id", "requested_at"], false)
            .await?;
        protect_tenant_table(manager, "data_exports").await?;
        Ok(())
    }
}
