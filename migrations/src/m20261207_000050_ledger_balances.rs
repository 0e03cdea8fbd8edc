//! Kept ledger balances (issue 18: a seller's home is a kept figure, never a sum of its whole
//! ledger). `ledger_balances` holds each party's running total per account, changed in the same
//! transaction as every ledger line written (`trellis_db::market::ledger::insert_lines`), so it
//! always equals the sum of that party's lines; filled here from the lines already written.

use crate::helpers::{a, table, text, uuid};
use crate::protect_tenant_table;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        table(
            manager,
            "ledger_balances",
            vec![
                uuid("tenant_id"),
                text("account", 32),
                ColumnDef::new(a("total_pence")).big_integer().not_null().default(0).to_owned(),
            ],
            &["tenant_id", "account"],
        )
        .await?;
        protect_tenant_table(manager, "ledger_balances").await?;
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO ledger_balances (tenant_id, account, total_pence)
                 SELECT tenant_id, account, SUM(amount_pence) FROM ledger_entries GROUP BY tenant_id, account",
            )
            .await?;
        Ok(())
    }
}
