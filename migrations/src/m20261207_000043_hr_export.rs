//! Completions back to HR (issue 21): each trust may send its staff's completions to its HR
//! system every day, as a CSV of four columns (assignment number, competence, achieved date,
//! expiry date), to an SFTP server or an S3 bucket.
//!
//! - `course_competences`: the HR system's competence code for a course offered at the trust (its
//!   own or a national one), set by content editors. Only courses with one are sent.
//! - `hr_export_settings`: where to send (`target`: empty for off, `sftp` or `s3`) and how. The
//!   secrets (the SFTP password, the SSH key Trellis made for the trust, the S3 secret key) are
//!   sealed with the operator key (`*_sealed`); the server's host key is pinned by fingerprint.
//! - `hr_exports`: each export: the completions recorded after `since` (the last delivered
//!   export's `until`) up to `until`, waiting (`queued`) until delivered, retried with back-off
//!   (`attempts`, `next_attempt_at`, `last_error`), then `delivered` with its row count, SHA-256
//!   and file name.
//!
//! Completions are read by the time they were recorded: `completions_recorded` serves that.

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
            "course_competences",
            vec![uuid("tenant_id"), uuid("course_id"), text("competence", 200), at("updated_at")],
            &["tenant_id", "course_id"],
        )
        .await?;
        protect_tenant_table(manager, "course_competences").await?;

        table(
            manager,
            "hr_export_settings",
            vec![
                uuid("tenant_id"),
                text("target", 8),
                text("sftp_host", 253),
                int("sftp_port"),
                text("sftp_user", 100),
                text("sftp_dir", 300),
                text("sftp_host_key", 100),
                long_text("sftp_password_sealed"),
                long_text("ssh_key_sealed"),
                text("ssh_public_key", 300),
                text("s3_bucket", 63),
                text("s3_prefix", 300),
                text("s3_region", 40),
                text("s3_endpoint", 300),
                text("s3_access_key", 128),
                long_text("s3_secret_sealed"),
                at("updated_at"),
            ],
            &["tenant_id"],
        )
        .await?;
        protect_tenant_table(manager, "hr_export_settings").await?;

        table(
            manager,
            "hr_exports",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                at_null("since"),
                at("until"),
                text("target", 8),
                // queued | delivered
                text("status", 16),
                int("rows"),
                text("sha256", 64),
                text("file_name", 200),
                int("attempts"),
                at("next_attempt_at"),
                text("last_error", 500),
                at("created_at"),
                at_null("delivered_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "hr_exports_created", "hr_exports", &["tenant_id", "created_at"], false).await?;
        index(manager, "hr_exports_due", "hr_exports", &["tenant_id", "status", "next_attempt_at"], false).await?;
        protect_tenant_table(manager, "hr_exports").await?;

        index(manager, "completions_recorded", "completions", &["tenant_id", "completed_at", "id"], false).await?;
        Ok(())
    }
}
