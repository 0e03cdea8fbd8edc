//! Embedded videos (issue 20): the video services a trust allows to be embedded in its pages
//! (`youtube`, `vimeo`, comma-separated; empty for none), declared in its `tenant.toml`.

use crate::helpers::{add_column, text};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_column(manager, "tenants", text("embeds", 64)).await
    }
}
