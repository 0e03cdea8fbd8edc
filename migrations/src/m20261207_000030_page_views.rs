//! Usage figures without cookies (issue 20): page views per trust and per course per day,
//! counted on the server in memory and added here every `server.usage_flush_seconds`.

use crate::helpers::{date, index, table, uuid};
use crate::protect_tenant_table;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        table(
            manager,
            "page_views",
            vec![
                uuid("tenant_id"),
                date("day"),
                // The course viewed; the nil id for the whole site.
                uuid("course_id"),
                ColumnDef::new(Alias::new("views")).big_integer().not_null().to_owned(),
            ],
            &["tenant_id", "day", "course_id"],
        )
        .await?;
        index(manager, "page_views_course", "page_views", &["tenant_id", "course_id", "day"], false).await?;
        protect_tenant_table(manager, "page_views").await?;
        Ok(())
    }
}
