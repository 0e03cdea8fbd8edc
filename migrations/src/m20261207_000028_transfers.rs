//! Upload and download audit (issue 20): the access log records each upload and download of
//! content (`upload.*`, `download.*`) with its size in bytes, read by trust admins (their trust)
//! and platform admins (every trust, newest first).

use crate::helpers::{add_column, index};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_column(
            manager,
            "access_events",
            ColumnDef::new(Alias::new("bytes")).big_integer().not_null().default(0).to_owned(),
        )
        .await?;
        // A trust's uploads or downloads, newest first; and every trust's, for platform admins.
        index(manager, "access_events_kind", "access_events", &["tenant_id", "kind", "at"], false).await?;
        index(manager, "access_events_platform", "access_events", &["at"], false).await?;
        Ok(())
    }
}
