//! Indexes for reading everything about one person in a trust (*Download my data*, and erasure
//! to come): each table with a person column had one, but these.

use crate::helpers::index;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, cols) in [
            ("object_progress_person", "object_progress", &["tenant_id", "person_id"][..]),
            ("attempts_person", "attempts", &["tenant_id", "person_id"][..]),
            ("charges_person", "charges", &["tenant_id", "person_id"][..]),
            ("report_authorisers_person", "report_authorisers", &["tenant_id", "person_id"][..]),
            ("held_uploads_person", "held_uploads", &["tenant_id", "uploaded_by"][..]),
            ("audit_events_actor", "audit_events", &["tenant_id", "actor_person_id", "at"][..]),
            ("audit_events_subject", "audit_events", &["tenant_id", "subject"][..]),
        ] {
            index(manager, name, table, cols, false).await?;
        }
        Ok(())
    }
}
