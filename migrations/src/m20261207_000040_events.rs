//! Face-to-face training (issue 21): a course's session of kind `face_to_face` is met by attending
//! one of the course's **events** (a date and time, venue, capacity, trainers, joining
//! instructions, an optional online-meeting link). Staff book a place or join the waiting list
//! (`event_bookings`); trainers take the register there. `booked` counts the places taken, changed
//! only by a conditional update (`booked < capacity`), so concurrent bookings never exceed the
//! capacity. `sequence` is the calendar files' SEQUENCE, raised on each change. Each trust sets how
//! many hours before an event a booking may still be cancelled (`event_settings`).

use crate::helpers::{at, at_null, index, int, long_text, table, text, text_null, uuid, uuid_null};
use crate::protect_tenant_table;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        table(
            manager,
            "events",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("course_id"),
                at("starts_at"),
                at("ends_at"),
                text("venue", 300),
                int("capacity"),
                int("booked"),
                long_text("joining"),
                text("meeting_url", 2000),
                // scheduled | cancelled
                text("status", 16),
                int("sequence"),
                uuid_null("created_by"),
                at("created_at"),
                at("updated_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "events_course", "events", &["tenant_id", "course_id", "starts_at"], false).await?;
        index(manager, "events_starts", "events", &["tenant_id", "starts_at"], false).await?;
        protect_tenant_table(manager, "events").await?;

        table(
            manager,
            "event_trainers",
            vec![uuid("tenant_id"), uuid("event_id"), uuid("person_id")],
            &["tenant_id", "event_id", "person_id"],
        )
        .await?;
        index(manager, "event_trainers_person", "event_trainers", &["tenant_id", "person_id"], false).await?;
        protect_tenant_table(manager, "event_trainers").await?;

        table(
            manager,
            "event_bookings",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("event_id"),
                uuid("person_id"),
                // booked | waiting | cancelled
                text("status", 16),
                // The register: attended | absent | partial (empty until taken).
                text("attendance", 16),
                // pass | fail (empty unless the session is assessed).
                text("result", 16),
                at("requested_at"),
                at_null("booked_at"),
                at_null("cancelled_at"),
                at_null("reminded_at"),
                at_null("marked_at"),
                uuid_null("marked_by"),
                text_null("note", 500),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "event_bookings_person_once", "event_bookings", &["tenant_id", "event_id", "person_id"], true)
            .await?;
        index(
            manager,
            "event_bookings_queue",
            "event_bookings",
            &["tenant_id", "event_id", "status", "requested_at"],
            false,
        )
        .await?;
        index(manager, "event_bookings_person", "event_bookings", &["tenant_id", "person_id"], false).await?;
        protect_tenant_table(manager, "event_bookings").await?;

        table(manager, "event_settings", vec![uuid("tenant_id"), int("cancel_hours")], &["tenant_id"]).await?;
        protect_tenant_table(manager, "event_settings").await?;
        Ok(())
    }
}
