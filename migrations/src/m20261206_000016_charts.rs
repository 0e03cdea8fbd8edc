//! Charts (issue 18): a trust's compliance day by day, kept whenever its trust-wide totals are
//! counted (the daily run counts them at least once a day), so the training manager's home draws
//! the trend from one short range read; and an index for a course's uptake by month.

use crate::helpers::{date, index, int, table, uuid};
use crate::protect_tenant_table;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        table(
            manager,
            "compliance_history",
            vec![
                uuid("tenant_id"),
                date("day"),
                // The trust-wide counts of mandatory training entries that day (the last count).
                int("complete"),
                int("due"),
                int("overdue"),
                int("not_started"),
            ],
            &["tenant_id", "day"],
        )
        .await?;
        protect_tenant_table(manager, "compliance_history").await?;
        index(manager, "enrolments_course_requested", "enrolments", &["tenant_id", "course_id", "requested_at"], false)
            .await?;
        Ok(())
    }
}
