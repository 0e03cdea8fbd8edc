//! Organisation reporting behind an authorisation chain (issue 19): a trust's authoriser (recorded
//! by a platform administrator, confirmed by an emailed link), the reporting leads they authorise
//! and the report users the leads nominate; one log of access to reports (and, later, content);
//! and monthly reports a report user asks to be sent a link to.

use crate::helpers::{at, at_null, boolean, date, index, int, long_text, table, text, uuid, uuid_null};
use crate::protect_tenant_table;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        table(
            manager,
            "report_authorisers",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                text("name", 200),
                // `hr_director`, `medical_director`, `siro` or `caldicott_guardian`.
                text("role", 40),
                text("email", 254),
                // The confirmation link's token, kept as its SHA-256.
                text("token_sha256", 64),
                text("recorded_by", 300),
                at("created_at"),
                at("link_expires_at"),
                at_null("confirmed_at"),
                uuid_null("person_id"),
                text("confirmed_ip", 64),
                // Replaced by a later authoriser, or removed.
                at_null("ended_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "report_authorisers_token", "report_authorisers", &["tenant_id", "token_sha256"], true).await?;
        protect_tenant_table(manager, "report_authorisers").await?;

        table(
            manager,
            "report_grants",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                // `lead` (given by the authoriser) or `user` (nominated by a lead).
                text("kind", 10),
                uuid("person_id"),
                text("person_name", 200),
                text("person_email", 254),
                uuid("granted_by"),
                // A lead's authoriser record; a report user's lead grant.
                uuid_null("parent_id"),
                // The authoriser's statement, word for word (leads).
                long_text("statement"),
                // The stated purpose (report users).
                long_text("purpose"),
                text("ip", 64),
                at("created_at"),
                at("expires_at"),
                at_null("revoked_at"),
                uuid_null("revoked_by"),
                // The expiry has been written to the audit trail.
                boolean("expiry_noted"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "report_grants_person", "report_grants", &["tenant_id", "person_id"], false).await?;
        index(manager, "report_grants_kind", "report_grants", &["tenant_id", "kind", "created_at"], false).await?;
        protect_tenant_table(manager, "report_grants").await?;

        table(
            manager,
            "access_events",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                at("at"),
                uuid_null("person_id"),
                // `report.run`, `report.download`, `report.refused`, …
                text("kind", 40),
                // The report (or item) reached.
                text("subject", 200),
                // The filters, as JSON.
                long_text("detail"),
                int("rows"),
                text("format", 10),
                text("ip", 64),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "access_events_at", "access_events", &["tenant_id", "at"], false).await?;
        index(manager, "access_events_person", "access_events", &["tenant_id", "person_id", "at"], false).await?;
        protect_tenant_table(manager, "access_events").await?;

        table(
            manager,
            "report_schedules",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("person_id"),
                text("report", 40),
                // The report's query string (its filters).
                long_text("query"),
                at("created_at"),
                date("next_on"),
                at_null("last_sent_at"),
                at_null("cancelled_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "report_schedules_due", "report_schedules", &["tenant_id", "next_on"], false).await?;
        index(manager, "report_schedules_person", "report_schedules", &["tenant_id", "person_id"], false).await?;
        protect_tenant_table(manager, "report_schedules").await?;
        Ok(())
    }
}
