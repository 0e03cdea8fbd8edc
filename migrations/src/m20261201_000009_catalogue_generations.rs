//! A change counter per catalogue owner (a trust, or the national catalogue), bumped in the same
//! transaction as any change to what its catalogue lists. Servers keep each trust's catalogue in
//! memory and read the counters with the sign-in check, so a change on one server shows on every
//! server at the next request.

use crate::protect_shared_content_table;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CatalogueGenerations {
    Table,
    TenantId,
    Generation,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CatalogueGenerations::Table)
                    .col(ColumnDef::new(CatalogueGenerations::TenantId).uuid().not_null().primary_key())
                    .col(ColumnDef::new(CatalogueGenerations::Generation).big_integer().not_null().default(0))
                    .to_owned(),
            )
            .await?;
        // The national row is read by every trust (and written by the national catalogue's owner).
        protect_shared_content_table(manager, "catalogue_generations").await
    }
}
