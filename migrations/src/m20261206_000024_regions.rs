//! A trust's NHS England region (issue 19): a grouping of the anonymised statistics.

use crate::helpers::{add_column, text};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_column(manager, "tenants", text("region", 40)).await
    }
}
