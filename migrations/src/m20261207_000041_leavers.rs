//! Movers and leavers from the staff import (issue 21): a staff record keeps the assignment's end
//! date when the file gives one, and the day it was first missing from a file the trust said lists
//! all its staff (`missing_since`, cleared when the person is in a later file). After the trust's
//! grace period (`staff_settings.leaver_grace_days`) either makes the member a leaver, whose
//! membership the daily run suspends.

use crate::helpers::{add_column, date_null, index, int, table, uuid};
use crate::protect_tenant_table;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_column(manager, "staff_records", date_null("end_date")).await?;
        add_column(manager, "staff_records", date_null("missing_since")).await?;
        index(manager, "staff_records_end", "staff_records", &["tenant_id", "end_date"], false).await?;
        index(manager, "staff_records_missing", "staff_records", &["tenant_id", "missing_since"], false).await?;
        table(manager, "staff_settings", vec![uuid("tenant_id"), int("leaver_grace_days")], &["tenant_id"]).await?;
        protect_tenant_table(manager, "staff_settings").await?;
        Ok(())
    }
}
