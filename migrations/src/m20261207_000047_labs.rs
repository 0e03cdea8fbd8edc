//! Learning labs (issue 22): rooms with PCs that staff book a slot at.
//!
//! - `labs`: a trust's room: name, where it is, how many PCs, the days it opens (`days`: the ISO
//!   weekday digits, e.g. `12345`), opening and closing (minutes after midnight, the trust's time),
//!   the length of a slot, and how many upcoming slots one person may hold there.
//! - `lab_bookings`: a person's slot. A live booking holds a `seat` (1 to the room's PCs); the
//!   unique index on (room, start, seat) means two people can never hold the same PC, however the
//!   requests race. Cancelling clears the seat. The register marks attendance (`attended` or
//!   `no_show`), and `reminded_at` records the reminder.

use crate::helpers::{a, at, at_null, boolean, index, int, table, text, uuid, uuid_null};
use crate::protect_tenant_table;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        table(
            manager,
            "labs",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                text("name", 200),
                text("location", 300),
                int("pcs"),
                text("days", 7),
                int("opens_minute"),
                int("closes_minute"),
                int("slot_minutes"),
                int("max_bookings"),
                boolean("active"),
                at("created_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        protect_tenant_table(manager, "labs").await?;

        table(
            manager,
            "lab_bookings",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("lab_id"),
                uuid("person_id"),
                at("starts_at"),
                at("ends_at"),
                ColumnDef::new(a("seat")).integer().null().to_owned(),
                text("status", 16),
                text("attendance", 16),
                at("booked_at"),
                at_null("cancelled_at"),
                at_null("reminded_at"),
                uuid_null("marked_by"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "lab_bookings_seat", "lab_bookings", &["tenant_id", "lab_id", "starts_at", "seat"], true)
            .await?;
        index(manager, "lab_bookings_person", "lab_bookings", &["tenant_id", "person_id", "starts_at"], false).await?;
        index(manager, "lab_bookings_reminders", "lab_bookings", &["tenant_id", "status", "starts_at"], false).await?;
        protect_tenant_table(manager, "lab_bookings").await?;
        Ok(())
    }
}
