//! A trust's NHS England region (issue 19): a grouping of the anonymised statistics; and the
//! index the statistics across trusts read a course's enrolments by (every trust at once).

use crate::helpers::{add_column, index, text};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_column(manager, "tenants", text("region", 40)).await?;
        index(manager, "enrolments_course_any_trust", "enrolments", &["course_id", "tenant_id"], false).await
    }
}
