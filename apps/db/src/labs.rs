//! Learning labs (issue 22): a trust's rooms with PCs, and the slots staff book there. A live
//! booking holds a seat (one of the room's PCs) under a unique index, so a room is never
//! overbooked however requests race; a person holds at most the room's limit of upcoming slots.

use crate::TenantTx;
use crate::error::DbError;
use chrono::{DateTime, Utc};
use sea_orm::{QueryResult, Value};
use std::collections::HashMap;
use trellis_domain::PersonId;
use trellis_domain::labs::RoomInput;
use uuid::Uuid;

/// A room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lab {
    pub id: Uuid,
    pub room: RoomInput,
    pub active: bool,
}

const LAB_COLUMNS: &str =
    "id, name, location, pcs, days, opens_minute, closes_minute, slot_minutes, max_bookings, active";

fn lab(r: &QueryResult) -> Result<Lab, DbError> {
    Ok(Lab {
        id: r.try_get("", "id")?,
        room: RoomInput {
            name: r.try_get("", "name")?,
            location: r.try_get("", "location")?,
            pcs: r.try_get("", "pcs")?,
            days: r.try_get("", "days")?,
            opens: r.try_get("", "opens_minute")?,
            closes: r.try_get("", "closes_minute")?,
            slot_minutes: r.try_get("", "slot_minutes")?,
            max_bookings: r.try_get("", "max_bookings")?,
        },
        active: r.try_get("", "active")?,
    })
}

fn room_values(r: &RoomInput) -> Vec<Value> {
    vec![
        r.name.clone().into(),
        r.location.clone().into(),
        r.pcs.into(),
        r.days.clone().into(),
        r.opens.into(),
        r.closes.into(),
        r.slot_minutes.into(),
        r.max_bookings.into(),
    ]
}

/// Adds a room (open for booking). Returns its id.
pub async fn create(tx: &TenantTx, room: &RoomInput) -> Result<Uuid, DbError> {
    let id = Uuid::now_v7();
    let mut values = vec![id.into()];
    values.extend(room_values(room));
    values.push(Utc::now().into());
    tx.execute(
        "INSERT INTO labs (tenant_id, id, name, location, pcs, days, opens_minute, closes_minute, slot_minutes, max_bookings,
                           active, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, TRUE, $11)",
        values,
    )
    .await?;
    Ok(id)
}

/// Changes a room's details and whether it takes bookings; false if there is no such room.
pub async fn update(tx: &TenantTx, id: Uuid, room: &RoomInput, active: bool) -> Result<bool, DbError> {
    let mut values = vec![id.into()];
    values.extend(room_values(room));
    values.push(active.into());
    Ok(tx
        .execute(
            "UPDATE labs SET name = $3, location = $4, pcs = $5, days = $6, opens_minute = $7, closes_minute = $8,
                    slot_minutes = $9, max_bookings = $10, active = $11
              WHERE tenant_id = $1 AND id = $2",
            values,
        )
        .await?
        > 0)
}

/// The trust's rooms by name (only those taking bookings, with `active_only`).
pub async fn list(tx: &TenantTx, active_only: bool) -> Result<Vec<Lab>, DbError> {
    let cond = if active_only { " AND active = TRUE" } else { "" };
    let sql = format!("SELECT {LAB_COLUMNS} FROM labs WHERE tenant_id = $1{cond} ORDER BY name, id LIMIT 200");
    tx.query_all(&sql, vec![]).await?.iter().map(lab).collect()
}

/// A room of this trust.
pub async fn get(tx: &TenantTx, id: Uuid) -> Result<Option<Lab>, DbError> {
    let sql = format!("SELECT {LAB_COLUMNS} FROM labs WHERE tenant_id = $1 AND id = $2");
    tx.query_one(&sql, vec![id.into()]).await?.map(|r| lab(&r)).transpose()
}

/// How many PCs are taken in each slot of `lab` starting in `[from, to)`, by start.
pub async fn taken(
    tx: &TenantTx,
    lab: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<HashMap<DateTime<Utc>, i64>, DbError> {
    let rows = tx
        .query_all(
            "SELECT starts_at, COUNT(*) AS n FROM lab_bookings
              WHERE tenant_id = $1 AND lab_id = $2 AND starts_at >= $3 AND starts_at < $4 AND seat IS NOT NULL
              GROUP BY starts_at",
            vec![lab.into(), from.into(), to.into()],
        )
        .await?;
    rows.iter().map(|r| Ok((r.try_get("", "starts_at")?, r.try_get("", "n")?))).collect()
}

/// What asking for a slot came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Booked {
    Booked(Uuid),
    /// Every PC is taken.
    Full,
    /// They already hold the room's limit of upcoming slots.
    Limit,
    /// They already have this slot.
    Already,
}

/// Books `person` a PC in `lab` from `starts_at` to `ends_at` (a slot the caller checked is one
/// the room offers, in the future).
pub async fn book(
    tx: &TenantTx,
    lab: &Lab,
    person: PersonId,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> Result<Booked, DbError> {
    let mine = tx
        .query_all(
            "SELECT starts_at FROM lab_bookings
              WHERE tenant_id = $1 AND person_id = $2 AND lab_id = $3 AND seat IS NOT NULL AND starts_at > $4",
            vec![person.as_uuid().into(), lab.id.into(), Utc::now().into()],
        )
        .await?;
    let mine: Vec<DateTime<Utc>> = mine.iter().map(|r| r.try_get("", "starts_at")).collect::<Result<_, _>>()?;
    if mine.contains(&starts_at) {
        return Ok(Booked::Already);
    }
    if mine.len() >= usize::try_from(lab.room.max_bookings).unwrap_or(0) {
        return Ok(Booked::Limit);
    }
    let seats = tx
        .query_all(
            "SELECT seat FROM lab_bookings WHERE tenant_id = $1 AND lab_id = $2 AND starts_at = $3 AND seat IS NOT NULL",
            vec![lab.id.into(), starts_at.into()],
        )
        .await?;
    let used: Vec<i32> = seats.iter().map(|r| r.try_get("", "seat")).collect::<Result<_, _>>()?;
    for seat in (1..=lab.room.pcs).filter(|s| !used.contains(s)) {
        let id = Uuid::now_v7();
        // Someone booking the same PC at the same moment makes this insert nothing: try the next.
        let n = tx
            .execute(
                "INSERT INTO lab_bookings (tenant_id, id, lab_id, person_id, starts_at, ends_at, seat, status, attendance, booked_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'booked', '', $8)
                 ON CONFLICT DO NOTHING",
                vec![
                    id.into(),
                    lab.id.into(),
                    person.as_uuid().into(),
                    starts_at.into(),
                    ends_at.into(),
                    seat.into(),
                    Utc::now().into(),
                ],
            )
            .await?;
        if n == 1 {
            return Ok(Booked::Booked(id));
        }
    }
    Ok(Booked::Full)
}

/// A booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    pub id: Uuid,
    pub lab: Uuid,
    pub lab_name: String,
    pub location: String,
    pub person: PersonId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// `booked` or `cancelled`.
    pub status: String,
    /// `attended`, `no_show`, or empty until marked.
    pub attendance: String,
}

const BOOKING_COLUMNS: &str =
    "b.id, b.lab_id, l.name, l.location, b.person_id, b.starts_at, b.ends_at, b.status, b.attendance";

fn booking(r: &QueryResult) -> Result<Booking, DbError> {
    Ok(Booking {
        id: r.try_get("", "id")?,
        lab: r.try_get("", "lab_id")?,
        lab_name: r.try_get("", "name")?,
        location: r.try_get("", "location")?,
        person: PersonId::from_uuid(r.try_get("", "person_id")?),
        starts_at: r.try_get("", "starts_at")?,
        ends_at: r.try_get("", "ends_at")?,
        status: r.try_get("", "status")?,
        attendance: r.try_get("", "attendance")?,
    })
}

/// One booking of this trust.
pub async fn booking_by_id(tx: &TenantTx, id: Uuid) -> Result<Option<Booking>, DbError> {
    let sql = format!(
        "SELECT {BOOKING_COLUMNS} FROM lab_bookings b JOIN labs l ON l.tenant_id = b.tenant_id AND l.id = b.lab_id
          WHERE b.tenant_id = $1 AND b.id = $2"
    );
    tx.query_one(&sql, vec![id.into()]).await?.map(|r| booking(&r)).transpose()
}

/// `person`'s live bookings ending after `from`, soonest first (at most 100).
pub async fn bookings_of(tx: &TenantTx, person: PersonId, from: DateTime<Utc>) -> Result<Vec<Booking>, DbError> {
    let sql = format!(
        "SELECT {BOOKING_COLUMNS} FROM lab_bookings b JOIN labs l ON l.tenant_id = b.tenant_id AND l.id = b.lab_id
          WHERE b.tenant_id = $1 AND b.person_id = $2 AND b.status = 'booked' AND b.ends_at > $3
          ORDER BY b.starts_at LIMIT 100"
    );
    tx.query_all(&sql, vec![person.as_uuid().into(), from.into()]).await?.iter().map(booking).collect()
}

/// Cancels `person`'s booking if it has not started; the booking as it was, else `None`.
pub async fn cancel(tx: &TenantTx, person: PersonId, id: Uuid) -> Result<Option<Booking>, DbError> {
    let Some(b) = booking_by_id(tx, id).await?.filter(|b| b.person == person && b.status == "booked") else {
        return Ok(None);
    };
    if b.starts_at <= Utc::now() {
        return Ok(None);
    }
    tx.execute(
        "UPDATE lab_bookings SET status = 'cancelled', seat = NULL, cancelled_at = $3 WHERE tenant_id = $1 AND id = $2",
        vec![id.into(), Utc::now().into()],
    )
    .await?;
    Ok(Some(b))
}

/// A line of a room's register.
#[derive(Debug, Clone)]
pub struct RegisterLine {
    pub booking: Booking,
    pub name: String,
    pub email: String,
    /// Slots they did not turn up to, at any room here.
    pub no_shows: i64,
}

/// The live bookings of `lab` starting in `[from, to)`, by start then family name.
pub async fn register(
    tx: &TenantTx,
    lab: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<RegisterLine>, DbError> {
    let sql = format!(
        "SELECT {BOOKING_COLUMNS}, p.given_name, p.family_name, p.email,
                (SELECT COUNT(*) FROM lab_bookings x WHERE x.tenant_id = $1 AND x.person_id = b.person_id
                    AND x.attendance = 'no_show') AS no_shows
           FROM lab_bookings b
           JOIN labs l ON l.tenant_id = b.tenant_id AND l.id = b.lab_id
           JOIN people p ON p.id = b.person_id
          WHERE b.tenant_id = $1 AND b.lab_id = $2 AND b.status = 'booked' AND b.starts_at >= $3 AND b.starts_at < $4
          ORDER BY b.starts_at, p.family_name, p.given_name
          LIMIT 2000"
    );
    let rows = tx.query_all(&sql, vec![lab.into(), from.into(), to.into()]).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(RegisterLine {
            booking: booking(&r)?,
            name: format!("{} {}", r.try_get::<String>("", "given_name")?, r.try_get::<String>("", "family_name")?)
                .trim()
                .to_owned(),
            email: r.try_get("", "email")?,
            no_shows: r.try_get("", "no_shows")?,
        });
    }
    Ok(out)
}

/// Marks a live booking that has started as attended or a no-show (`attendance`); false if there
/// is no such booking or it has not started.
pub async fn mark(tx: &TenantTx, id: Uuid, attendance: &str, by: PersonId) -> Result<bool, DbError> {
    if !matches!(attendance, "attended" | "no_show") {
        return Ok(false);
    }
    Ok(tx
        .execute(
            "UPDATE lab_bookings SET attendance = $3, marked_by = $4
              WHERE tenant_id = $1 AND id = $2 AND status = 'booked' AND starts_at <= $5",
            vec![id.into(), attendance.into(), by.as_uuid().into(), Utc::now().into()],
        )
        .await?
        > 0)
}

/// Live bookings starting before `until` (and not yet started) whose reminder has not gone.
pub async fn reminders_due(tx: &TenantTx, until: DateTime<Utc>, limit: u64) -> Result<Vec<Booking>, DbError> {
    let sql = format!(
        "SELECT {BOOKING_COLUMNS} FROM lab_bookings b JOIN labs l ON l.tenant_id = b.tenant_id AND l.id = b.lab_id
          WHERE b.tenant_id = $1 AND b.status = 'booked' AND b.starts_at > $2 AND b.starts_at <= $3 AND b.reminded_at IS NULL
          ORDER BY b.starts_at LIMIT {}",
        limit.min(1000)
    );
    tx.query_all(&sql, vec![Utc::now().into(), until.into()]).await?.iter().map(booking).collect()
}

/// Claims a booking's reminder (false if another worker already did).
pub async fn claim_reminder(tx: &TenantTx, id: Uuid) -> Result<bool, DbError> {
    Ok(tx
        .execute(
            "UPDATE lab_bookings SET reminded_at = $3 WHERE tenant_id = $1 AND id = $2 AND reminded_at IS NULL",
            vec![id.into(), Utc::now().into()],
        )
        .await?
        > 0)
}
