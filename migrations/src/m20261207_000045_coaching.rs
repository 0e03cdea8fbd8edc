//! Coaching (issue 22): coaches a trust appoints, their caseloads, and the follow-ups they log.
//!
//! - `coaches`: the members appointed as coaches here.
//! - `coach_learners`: a learner given to a coach by hand (one coach each; a learner given by hand
//!   is no longer in any caseload by rule).
//! - `coach_rules`: a coach's caseload by rule, a department or a staff group from the staff
//!   records (`kind`, `value`); who matches is worked out when the caseload is read, so staff who
//!   join or move are in the right caseload without a rerun.
//! - `coach_contacts`: the follow-up log, one row per contact (phone, email, in person, or an
//!   email sent through the site from a template) with its note and the next follow-up date.
//! - `coach_follow_ups`: each learner's next follow-up with each coach, and the day the coach was
//!   reminded of it, so the reminder goes once.

use crate::helpers::{at, date, date_null, index, long_text, table, text, uuid, uuid_null};
use crate::protect_tenant_table;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        table(
            manager,
            "coaches",
            vec![uuid("tenant_id"), uuid("person_id"), at("appointed_at"), uuid_null("appointed_by")],
            &["tenant_id", "person_id"],
        )
        .await?;
        protect_tenant_table(manager, "coaches").await?;

        table(
            manager,
            "coach_learners",
            vec![uuid("tenant_id"), uuid("learner_id"), uuid("coach_id"), at("assigned_at")],
            &["tenant_id", "learner_id"],
        )
        .await?;
        index(manager, "coach_learners_coach", "coach_learners", &["tenant_id", "coach_id"], false).await?;
        protect_tenant_table(manager, "coach_learners").await?;

        table(
            manager,
            "coach_rules",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("coach_id"),
                text("kind", 16),
                text("value", 200),
                at("created_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "coach_rules_coach", "coach_rules", &["tenant_id", "coach_id", "kind", "value"], true).await?;
        index(manager, "coach_rules_match", "coach_rules", &["tenant_id", "kind", "value"], false).await?;
        protect_tenant_table(manager, "coach_rules").await?;

        table(
            manager,
            "coach_contacts",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("coach_id"),
                uuid("learner_id"),
                text("method", 16),
                long_text("note"),
                date("contacted_on"),
                date_null("next_on"),
                at("recorded_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "coach_contacts_learner", "coach_contacts", &["tenant_id", "learner_id", "recorded_at"], false)
            .await?;
        index(manager, "coach_contacts_coach", "coach_contacts", &["tenant_id", "coach_id", "recorded_at"], false)
            .await?;
        protect_tenant_table(manager, "coach_contacts").await?;

        table(
            manager,
            "coach_follow_ups",
            vec![uuid("tenant_id"), uuid("coach_id"), uuid("learner_id"), date("due_on"), date_null("reminded_on")],
            &["tenant_id", "coach_id", "learner_id"],
        )
        .await?;
        index(manager, "coach_follow_ups_due", "coach_follow_ups", &["tenant_id", "coach_id", "due_on"], false).await?;
        index(manager, "coach_follow_ups_learner", "coach_follow_ups", &["tenant_id", "learner_id"], false).await?;
        protect_tenant_table(manager, "coach_follow_ups").await?;
        Ok(())
    }
}
