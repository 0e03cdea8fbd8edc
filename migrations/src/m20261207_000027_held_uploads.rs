//! Uploads waiting for a virus scan (issue 20): while scanning is required and clamd cannot be
//! reached, an upload is kept aside under `<trust>/held/<id>` (never served) and listed here; the
//! worker scans it again and then completes it (adds the package, sets the logo, keeps the staff
//! file for its check) or discards it if infected.

use crate::helpers::{at, at_null, index, table, text, uuid, uuid_null};
use crate::protect_tenant_table;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        table(
            manager,
            "held_uploads",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                // package | logo | staff_file
                text("kind", 20),
                // what it is for: a course's id for a package; empty otherwise
                text("target", 64),
                text("file_name", 200),
                ColumnDef::new(Alias::new("bytes")).big_integer().not_null().to_owned(),
                text("sha256", 64),
                uuid_null("uploaded_by"),
                at("received_at"),
                // waiting | released | infected | refused
                text("status", 20),
                text("detail", 500),
                at_null("resolved_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "held_uploads_kind", "held_uploads", &["tenant_id", "kind", "status", "received_at"], false)
            .await?;
        protect_tenant_table(manager, "held_uploads").await?;
        Ok(())
    }
}
