//! ePortfolio live links (issue 19): a learner's link to an ePortfolio's learning record store,
//! to which their completions are forwarded until they unlink. The secret is kept sealed
//! (AES-256-GCM under a key derived from the server's secret).

use crate::helpers::{at, at_null, index, int, long_text, table, text, uuid};
use crate::protect_tenant_table;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        table(
            manager,
            "portfolio_links",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("person_id"),
                text("endpoint", 500),
                text("username", 200),
                long_text("secret_sealed"),
                at("created_at"),
                at_null("unlinked_at"),
                int("sent"),
                at_null("last_sent_at"),
                text("last_error", 300),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "portfolio_links_person", "portfolio_links", &["tenant_id", "person_id"], false).await?;
        protect_tenant_table(manager, "portfolio_links").await?;
        Ok(())
    }
}
