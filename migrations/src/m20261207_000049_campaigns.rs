//! Campaigns and the bulk-mail path (issue 22).
//!
//! - `campaigns`: a trust's campaign promoting one course: its audience (JSON: staff groups,
//!   departments, and everyone / only those overdue / only those not enrolled), the email's
//!   template, subject and message, the banner's words, the landing page's text, the results
//!   window in days; `status` draft, live or ended; counts of link clicks from the email and the
//!   banner (never who clicked); when its email was asked for and queued, and to how many.
//! - `campaign_people`: who a campaign reached, for its results: emailed (when), or responded on
//!   its landing page by enrolling (when). Attribution reads this, never a click or image load.
//! - `mailings`: one bulk message rendered once (subject, text, HTML, sender's name), sent to
//!   many through the outbox, each copy with the recipient's own unsubscribe link. Campaigns use
//!   it; bulletins will.

use crate::helpers::{at, at_null, int, long_text, table, text, uuid, uuid_null};
use crate::protect_tenant_table;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        table(
            manager,
            "campaigns",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                text("slug", 80),
                text("name", 120),
                uuid("course_id"),
                long_text("audience"),
                text("template", 16),
                text("subject", 200),
                long_text("message"),
                text("banner_text", 80),
                long_text("landing_text"),
                int("window_days"),
                text("status", 16),
                uuid("created_by"),
                at("created_at"),
                at_null("launched_at"),
                at_null("ended_at"),
                at_null("send_requested_at"),
                at_null("emailed_at"),
                int("email_count"),
                int("email_clicks"),
                int("banner_clicks"),
                uuid_null("mailing_id"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        crate::helpers::index(manager, "campaigns_slug", "campaigns", &["tenant_id", "slug"], true).await?;
        protect_tenant_table(manager, "campaigns").await?;

        table(
            manager,
            "campaign_people",
            vec![
                uuid("tenant_id"),
                uuid("campaign_id"),
                uuid("person_id"),
                at_null("emailed_at"),
                at_null("responded_at"),
            ],
            &["tenant_id", "campaign_id", "person_id"],
        )
        .await?;
        crate::helpers::index(manager, "campaign_people_person", "campaign_people", &["tenant_id", "person_id"], false)
            .await?;
        protect_tenant_table(manager, "campaign_people").await?;

        table(
            manager,
            "mailings",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                text("purpose", 16),
                text("subject", 300),
                long_text("text_body"),
                long_text("html_body"),
                text("from_name", 200),
                at("created_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        protect_tenant_table(manager, "mailings").await?;
        Ok(())
    }
}
