//! Place of work and job role confirmed every 12 months (issue 19): when a person last confirmed
//! them (`NULL`: never since they registered, which counts from `created_at`).

use crate::helpers::{add_column, at_null};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_column(manager, "people", at_null("details_confirmed_at")).await
    }
}
