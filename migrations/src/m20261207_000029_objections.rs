//! Objection (issue 20): a person may stop optional processing of their information: email
//! bulletins, training campaigns, and their learning counted in anonymised research extracts.
//! One model for the whole platform, kept on the person (when each objection was made; none =
//! no objection), read by every feature that does such processing.

use crate::helpers::{add_column, at_null};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for c in ["objected_bulletins_at", "objected_campaigns_at", "objected_research_at"] {
            add_column(manager, "people", at_null(c)).await?;
        }
        Ok(())
    }
}
