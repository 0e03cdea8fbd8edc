//! Face-to-face events: a course's face-to-face session is met by attending one of its events.
//! Staff book a place or join the waiting list; a place that frees up goes to the longest waiting;
//! trainers take the register, which completes the session for those who attended.
//!
//! Places are counted in `events.booked` and taken only by a conditional update (`booked <
//! capacity`): on PostgreSQL that update locks the event's row until the transaction ends, and
//! SQLite writes one at a time, so concurrent bookings never exceed the capacity.

use crate::entities::{event, event_booking, event_setting, event_trainer};
use crate::{DbError, TenantTx};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use trellis_domain::{CourseId, PersonId};
use uuid::Uuid;

/// How many hours before an event a booking may still be cancelled, unless the trust says.
pub const DEFAULT_CANCEL_HOURS: i32 = 24;

/// An event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: Uuid,
    pub course: CourseId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub venue: String,
    pub capacity: i32,
    /// Places taken.
    pub booked: i32,
    pub joining: String,
    pub meeting_url: String,
    /// `scheduled` or `cancelled`.
    pub status: String,
    /// Its calendar files' SEQUENCE: raised on each change.
    pub sequence: i32,
}

impl Event {
    pub fn cancelled(&self) -> bool {
        self.status == "cancelled"
    }
}

impl From<event::Model> for Event {
    fn from(m: event::Model) -> Self {
        Event {
            id: m.id,
            course: CourseId::from_uuid(m.course_id),
            starts_at: m.starts_at,
            ends_at: m.ends_at,
            venue: m.venue,
            capacity: m.capacity,
            booked: m.booked,
            joining: m.joining,
            meeting_url: m.meeting_url,
            status: m.status,
            sequence: m.sequence,
        }
    }
}

/// An event's details, as its organiser gives them.
#[derive(Debug, Clone, Default)]
pub struct EventInput {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub venue: String,
    pub capacity: i32,
    pub joining: String,
    pub meeting_url: String,
    pub trainers: Vec<PersonId>,
}

/// A booking (or a place on the waiting list), with the register's mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    pub id: Uuid,
    pub event: Uuid,
    pub person: PersonId,
    /// `booked`, `waiting` or `cancelled`.
    pub status: String,
    /// `attended`, `absent`, `partial`, or empty until the register is taken.
    pub attendance: String,
    /// `pass`, `fail`, or empty.
    pub result: String,
    pub requested_at: DateTime<Utc>,
}

impl From<event_booking::Model> for Booking {
    fn from(m: event_booking::Model) -> Self {
        Booking {
            id: m.id,
            event: m.event_id,
            person: PersonId::from_uuid(m.person_id),
            status: m.status,
            attendance: m.attendance,
            result: m.result,
            requested_at: m.requested_at,
        }
    }
}

/// Adds an event to a course. Returns its id.
pub async fn create(
    tx: &TenantTx,
    course: CourseId,
    input: &EventInput,
    by: Option<PersonId>,
) -> Result<Uuid, DbError> {
    let id = Uuid::now_v7();
    let now = Utc::now();
    tx.insert(event::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        id: Set(id),
        course_id: Set(course.as_uuid()),
        starts_at: Set(input.starts_at),
        ends_at: Set(input.ends_at),
        venue: Set(input.venue.clone()),
        capacity: Set(input.capacity),
        booked: Set(0),
        joining: Set(input.joining.clone()),
        meeting_url: Set(input.meeting_url.clone()),
        status: Set("scheduled".into()),
        sequence: Set(0),
        created_by: Set(by.map(|p| p.as_uuid())),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .await?;
    set_trainers(tx, id, &input.trainers).await?;
    Ok(id)
}

async fn set_trainers(tx: &TenantTx, id: Uuid, trainers: &[PersonId]) -> Result<(), DbError> {
    tx.delete_many::<event_trainer::Entity>().filter(event_trainer::Column::EventId.eq(id)).exec(tx).await?;
    let mut seen = std::collections::HashSet::new();
    let rows: Vec<_> = trainers
        .iter()
        .filter(|p| seen.insert(**p))
        .map(|p| event_trainer::ActiveModel {
            tenant_id: Set(Uuid::nil()),
            event_id: Set(id),
            person_id: Set(p.as_uuid()),
        })
        .collect();
    if !rows.is_empty() {
        tx.insert_many(rows).await?;
    }
    Ok(())
}

/// Changes a scheduled event (its SEQUENCE goes up). The capacity may not go below the places
/// already taken (None is returned then, as for an event not found or cancelled); places a larger
/// capacity frees go to the waiting list ([`promote`]).
pub async fn update(tx: &TenantTx, id: Uuid, input: &EventInput) -> Result<Option<Event>, DbError> {
    let Some(before) = get(tx, id).await? else { return Ok(None) };
    let done = tx
        .update_many::<event::Entity>()
        .filter(event::Column::Id.eq(id))
        .filter(event::Column::Status.eq("scheduled"))
        .filter(event::Column::Booked.lte(input.capacity))
        .col_expr(event::Column::StartsAt, Expr::value(input.starts_at))
        .col_expr(event::Column::EndsAt, Expr::value(input.ends_at))
        .col_expr(event::Column::Venue, Expr::value(input.venue.clone()))
        .col_expr(event::Column::Capacity, Expr::value(input.capacity))
        .col_expr(event::Column::Joining, Expr::value(input.joining.clone()))
        .col_expr(event::Column::MeetingUrl, Expr::value(input.meeting_url.clone()))
        .col_expr(event::Column::Sequence, Expr::col(event::Column::Sequence).add(1))
        .col_expr(event::Column::UpdatedAt, Expr::value(Utc::now()))
        .exec(tx)
        .await?;
    if done.rows_affected == 0 {
        return Ok(None);
    }
    set_trainers(tx, id, &input.trainers).await?;
    // Moved to another time: those with places are reminded of the new one.
    if before.starts_at != input.starts_at {
        tx.update_many::<event_booking::Entity>()
            .filter(event_booking::Column::EventId.eq(id))
            .filter(event_booking::Column::Status.eq("booked"))
            .col_expr(event_booking::Column::RemindedAt, Expr::value(Option::<DateTime<Utc>>::None))
            .exec(tx)
            .await?;
    }
    get(tx, id).await
}

/// Cancels a scheduled event (its SEQUENCE goes up). Its bookings stay, for the record of who was
/// told. False if it was not scheduled.
pub async fn cancel(tx: &TenantTx, id: Uuid) -> Result<bool, DbError> {
    let done = tx
        .update_many::<event::Entity>()
        .filter(event::Column::Id.eq(id))
        .filter(event::Column::Status.eq("scheduled"))
        .col_expr(event::Column::Status, Expr::value("cancelled"))
        .col_expr(event::Column::Sequence, Expr::col(event::Column::Sequence).add(1))
        .col_expr(event::Column::UpdatedAt, Expr::value(Utc::now()))
        .exec(tx)
        .await?;
    Ok(done.rows_affected > 0)
}

/// One event.
pub async fn get(tx: &TenantTx, id: Uuid) -> Result<Option<Event>, DbError> {
    Ok(tx.select::<event::Entity>().filter(event::Column::Id.eq(id)).one(tx).await?.map(Event::from))
}

/// A course's events ending after `since`, soonest first (at most 500).
pub async fn of_course(tx: &TenantTx, course: CourseId, since: DateTime<Utc>) -> Result<Vec<Event>, DbError> {
    Ok(tx
        .select::<event::Entity>()
        .filter(event::Column::CourseId.eq(course.as_uuid()))
        .filter(event::Column::EndsAt.gt(since))
        .order_by_asc(event::Column::StartsAt)
        .limit(500)
        .all(tx)
        .await?
        .into_iter()
        .map(Event::from)
        .collect())
}

/// The trust's events starting in `[from, until)`: soonest first, or (`latest_first`) latest
/// first; at most `limit`.
pub async fn between(
    tx: &TenantTx,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    latest_first: bool,
    limit: u64,
) -> Result<Vec<Event>, DbError> {
    let q = tx
        .select::<event::Entity>()
        .filter(event::Column::StartsAt.gte(from))
        .filter(event::Column::StartsAt.lt(until));
    let q =
        if latest_first { q.order_by_desc(event::Column::StartsAt) } else { q.order_by_asc(event::Column::StartsAt) };
    Ok(q.limit(limit).all(tx).await?.into_iter().map(Event::from).collect())
}

/// Who runs an event.
pub async fn trainers(tx: &TenantTx, id: Uuid) -> Result<Vec<PersonId>, DbError> {
    Ok(tx
        .select::<event_trainer::Entity>()
        .filter(event_trainer::Column::EventId.eq(id))
        .all(tx)
        .await?
        .into_iter()
        .map(|t| PersonId::from_uuid(t.person_id))
        .collect())
}

/// Whether someone runs an event.
pub async fn is_trainer(tx: &TenantTx, id: Uuid, person: PersonId) -> Result<bool, DbError> {
    Ok(tx
        .select::<event_trainer::Entity>()
        .filter(event_trainer::Column::EventId.eq(id))
        .filter(event_trainer::Column::PersonId.eq(person.as_uuid()))
        .one(tx)
        .await?
        .is_some())
}

/// The events someone runs ending after `from`, soonest first (at most 200), in one read.
pub async fn teaching(tx: &TenantTx, person: PersonId, from: DateTime<Utc>) -> Result<Vec<Event>, DbError> {
    events_of(tx, "JOIN event_trainers t ON t.tenant_id = e.tenant_id AND t.event_id = e.id", person, from).await
}

/// The scheduled events `person` has a place at that end after `from`, soonest first (at most 200).
pub async fn booked(tx: &TenantTx, person: PersonId, from: DateTime<Utc>) -> Result<Vec<Event>, DbError> {
    let join = "JOIN event_bookings t ON t.tenant_id = e.tenant_id AND t.event_id = e.id AND t.status = 'booked'
                 AND e.status = 'scheduled'";
    events_of(tx, join, person, from).await
}

/// The events joined by `join` (which names its person column `t.person_id`) for `person` that end
/// after `from`.
async fn events_of(tx: &TenantTx, join: &str, person: PersonId, from: DateTime<Utc>) -> Result<Vec<Event>, DbError> {
    use sea_orm::FromQueryResult;
    let sql = format!(
        "SELECT e.* FROM events e {join}
          WHERE e.tenant_id = $1 AND t.person_id = $2 AND e.ends_at > $3
          ORDER BY e.starts_at LIMIT 200"
    );
    let rows = tx.query_all(&sql, vec![person.as_uuid().into(), from.into()]).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(Event::from(event::Model::from_query_result(&r, "")?));
    }
    Ok(out)
}

/// What asking for a place came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Booked {
    /// A place.
    Place,
    /// A place on the waiting list (the event is full).
    Waiting,
    /// They already have a place, or are already waiting.
    Already,
    /// The event is cancelled, has started, or is not this trust's.
    Closed,
}

/// Books a place at a scheduled event that has not started, or a place on its waiting list when
/// it is full.
pub async fn book(tx: &TenantTx, id: Uuid, person: PersonId) -> Result<Booked, DbError> {
    let now = Utc::now();
    lock(tx, id).await?;
    let Some(e) = get(tx, id).await?.filter(|e| !e.cancelled() && e.starts_at > now) else {
        return Ok(Booked::Closed);
    };
    let existing = booking(tx, e.id, person).await?;
    if existing.as_ref().is_some_and(|b| b.status != "cancelled") {
        return Ok(Booked::Already);
    }
    let placed = take_place(tx, e.id).await?;
    let status = if placed { "booked" } else { "waiting" };
    put_booking(tx, &e, person, existing.map(|b| b.id), status, false).await?;
    Ok(if placed { Booked::Place } else { Booked::Waiting })
}

/// Writes someone's booking as `status` (`booked` or `waiting`): a new row, or the one they had
/// (cancelled) asked for again; its calendar entry is new (`requested_at` is part of its UID).
async fn put_booking(
    tx: &TenantTx,
    e: &Event,
    person: PersonId,
    existing: Option<Uuid>,
    status: &str,
    walk_in: bool,
) -> Result<(), DbError> {
    let now = Utc::now();
    let event = e.id;
    let booked_at = (status == "booked").then_some(now);
    // A walk-in, or a place taken within a day of the start (its confirmation is reminder
    // enough), is not reminded.
    let reminded_at =
        (walk_in || (status == "booked" && e.starts_at <= now + chrono::Duration::hours(24))).then_some(now);
    match existing {
        Some(id) => {
            tx.update_many::<event_booking::Entity>()
                .filter(event_booking::Column::Id.eq(id))
                .col_expr(event_booking::Column::Status, Expr::value(status))
                .col_expr(event_booking::Column::RequestedAt, Expr::value(now))
                .col_expr(event_booking::Column::BookedAt, Expr::value(booked_at))
                .col_expr(event_booking::Column::CancelledAt, Expr::value(Option::<DateTime<Utc>>::None))
                .col_expr(event_booking::Column::RemindedAt, Expr::value(reminded_at))
                .exec(tx)
                .await?;
        }
        None => {
            tx.insert(event_booking::ActiveModel {
                tenant_id: Set(Uuid::nil()),
                id: Set(Uuid::now_v7()),
                event_id: Set(event),
                person_id: Set(person.as_uuid()),
                status: Set(status.into()),
                attendance: Set(String::new()),
                result: Set(String::new()),
                requested_at: Set(now),
                booked_at: Set(booked_at),
                cancelled_at: Set(None),
                reminded_at: Set(reminded_at),
                marked_at: Set(None),
                marked_by: Set(None),
                note: Set(None),
            })
            .await?;
        }
    }
    Ok(())
}

/// Locks an event's row until the transaction ends (on PostgreSQL; SQLite writes one at a time):
/// bookings, cancellations and promotions of one event take their turn.
async fn lock(tx: &TenantTx, id: Uuid) -> Result<(), DbError> {
    tx.update_many::<event::Entity>()
        .filter(event::Column::Id.eq(id))
        .col_expr(event::Column::Booked, Expr::col(event::Column::Booked))
        .exec(tx)
        .await?;
    Ok(())
}

/// Takes a place if one is free (the conditional update that keeps bookings within capacity).
async fn take_place(tx: &TenantTx, id: Uuid) -> Result<bool, DbError> {
    let done = tx
        .update_many::<event::Entity>()
        .filter(event::Column::Id.eq(id))
        .filter(event::Column::Status.eq("scheduled"))
        .filter(Expr::col(event::Column::Booked).lt(Expr::col(event::Column::Capacity)))
        .col_expr(event::Column::Booked, Expr::col(event::Column::Booked).add(1))
        .exec(tx)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Gives someone who attended without a place (a walk-in) a place, whatever the capacity (they
/// were there). False if they already had one.
pub async fn add_walk_in(tx: &TenantTx, id: Uuid, person: PersonId) -> Result<bool, DbError> {
    lock(tx, id).await?;
    let Some(e) = get(tx, id).await?.filter(|e| !e.cancelled()) else { return Ok(false) };
    let existing = booking(tx, e.id, person).await?;
    if existing.as_ref().is_some_and(|b| b.status == "booked") {
        return Ok(false);
    }
    put_booking(tx, &e, person, existing.map(|b| b.id), "booked", true).await?;
    tx.update_many::<event::Entity>()
        .filter(event::Column::Id.eq(e.id))
        .col_expr(event::Column::Booked, Expr::col(event::Column::Booked).add(1))
        .exec(tx)
        .await?;
    Ok(true)
}

/// Someone's booking at an event (of any status).
pub async fn booking(tx: &TenantTx, id: Uuid, person: PersonId) -> Result<Option<Booking>, DbError> {
    Ok(tx
        .select::<event_booking::Entity>()
        .filter(event_booking::Column::EventId.eq(id))
        .filter(event_booking::Column::PersonId.eq(person.as_uuid()))
        .one(tx)
        .await?
        .map(Booking::from))
}

/// Someone's bookings at any of these events.
pub async fn bookings_of(tx: &TenantTx, person: PersonId, events: &[Uuid]) -> Result<Vec<Booking>, DbError> {
    if events.is_empty() {
        return Ok(vec![]);
    }
    Ok(tx
        .select::<event_booking::Entity>()
        .filter(event_booking::Column::PersonId.eq(person.as_uuid()))
        .filter(event_booking::Column::EventId.is_in(events.to_vec()))
        .all(tx)
        .await?
        .into_iter()
        .map(Booking::from)
        .collect())
}

/// The bookings of these people at an event.
pub async fn bookings_of_people(tx: &TenantTx, id: Uuid, people: &[PersonId]) -> Result<Vec<Booking>, DbError> {
    let mut out = Vec::new();
    for chunk in people.chunks(500) {
        out.extend(
            tx.select::<event_booking::Entity>()
                .filter(event_booking::Column::EventId.eq(id))
                .filter(event_booking::Column::PersonId.is_in(chunk.iter().map(|p| p.as_uuid()).collect::<Vec<_>>()))
                .all(tx)
                .await?
                .into_iter()
                .map(Booking::from),
        );
    }
    Ok(out)
}

/// Cancels someone's booking or place on the waiting list. A place given up goes to the longest
/// waiting ([`promote`]): who got it is returned. None if they had neither.
pub async fn cancel_booking(tx: &TenantTx, id: Uuid, person: PersonId) -> Result<Option<Vec<PersonId>>, DbError> {
    lock(tx, id).await?;
    let Some(b) = booking(tx, id, person).await?.filter(|b| b.status != "cancelled") else { return Ok(None) };
    let done = tx
        .update_many::<event_booking::Entity>()
        .filter(event_booking::Column::Id.eq(b.id))
        .filter(event_booking::Column::Status.eq(b.status.clone()))
        .col_expr(event_booking::Column::Status, Expr::value("cancelled"))
        .col_expr(event_booking::Column::CancelledAt, Expr::value(Some(Utc::now())))
        .exec(tx)
        .await?;
    if done.rows_affected == 0 {
        return Ok(None);
    }
    if b.status != "booked" {
        return Ok(Some(vec![]));
    }
    tx.update_many::<event::Entity>()
        .filter(event::Column::Id.eq(id))
        .filter(event::Column::Booked.gt(0))
        .col_expr(event::Column::Booked, Expr::col(event::Column::Booked).sub(1))
        .exec(tx)
        .await?;
    Ok(Some(promote(tx, id).await?))
}

/// Gives free places, one by one, to those waiting longest, while the event is scheduled and has
/// not started. Returns who got one.
pub async fn promote(tx: &TenantTx, id: Uuid) -> Result<Vec<PersonId>, DbError> {
    let now = Utc::now();
    let mut promoted = Vec::new();
    let Some(e) = get(tx, id).await?.filter(|e| !e.cancelled() && e.starts_at > now) else {
        return Ok(promoted);
    };
    // A place given within a day of the start: its email is reminder enough.
    let soon = e.starts_at <= now + chrono::Duration::hours(24);
    loop {
        // The place is taken first: on PostgreSQL that locks the event, so two promotions at once
        // wait for each other and never give the same person a place twice.
        if !take_place(tx, id).await? {
            return Ok(promoted);
        }
        let next = tx
            .select::<event_booking::Entity>()
            .filter(event_booking::Column::EventId.eq(id))
            .filter(event_booking::Column::Status.eq("waiting"))
            .order_by_asc(event_booking::Column::RequestedAt)
            .order_by_asc(event_booking::Column::Id)
            .one(tx)
            .await?;
        let Some(next) = next else {
            // Nobody waiting: the place stays free.
            tx.update_many::<event::Entity>()
                .filter(event::Column::Id.eq(id))
                .col_expr(event::Column::Booked, Expr::col(event::Column::Booked).sub(1))
                .exec(tx)
                .await?;
            return Ok(promoted);
        };
        let given = tx
            .update_many::<event_booking::Entity>()
            .filter(event_booking::Column::Id.eq(next.id))
            .filter(event_booking::Column::Status.eq("waiting"))
            .col_expr(event_booking::Column::Status, Expr::value("booked"))
            .col_expr(event_booking::Column::BookedAt, Expr::value(Some(now)))
            .col_expr(event_booking::Column::RemindedAt, Expr::value(soon.then_some(now)))
            .exec(tx)
            .await?;
        if given.rows_affected == 0 {
            // They left the list meanwhile: the place goes back, and the next in line is asked.
            tx.update_many::<event::Entity>()
                .filter(event::Column::Id.eq(id))
                .col_expr(event::Column::Booked, Expr::col(event::Column::Booked).sub(1))
                .exec(tx)
                .await?;
            continue;
        }
        promoted.push(PersonId::from_uuid(next.person_id));
    }
}

/// An event's bookings, waiting list and cancellations, in the order they were asked for.
pub async fn bookings(tx: &TenantTx, id: Uuid) -> Result<Vec<Booking>, DbError> {
    Ok(tx
        .select::<event_booking::Entity>()
        .filter(event_booking::Column::EventId.eq(id))
        .order_by_asc(event_booking::Column::RequestedAt)
        .order_by_asc(event_booking::Column::Id)
        .limit(5000)
        .all(tx)
        .await?
        .into_iter()
        .map(Booking::from)
        .collect())
}

/// Marks someone booked on an event in its register: `attended`, `absent` or `partial`, with
/// `pass`, `fail` or "" as the result. False if they had no place.
pub async fn mark(
    tx: &TenantTx,
    id: Uuid,
    person: PersonId,
    attendance: &str,
    result: &str,
    by: PersonId,
) -> Result<bool, DbError> {
    let done = tx
        .update_many::<event_booking::Entity>()
        .filter(event_booking::Column::EventId.eq(id))
        .filter(event_booking::Column::PersonId.eq(person.as_uuid()))
        .filter(event_booking::Column::Status.eq("booked"))
        .col_expr(event_booking::Column::Attendance, Expr::value(attendance))
        .col_expr(event_booking::Column::Result, Expr::value(result))
        .col_expr(event_booking::Column::MarkedAt, Expr::value(Some(Utc::now())))
        .col_expr(event_booking::Column::MarkedBy, Expr::value(Some(by.as_uuid())))
        .exec(tx)
        .await?;
    Ok(done.rows_affected > 0)
}

/// An event's figures: places, taken, waiting and (once the register is taken) no-shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    pub waiting: i64,
    pub attended: i64,
    pub absent: i64,
}

/// Each of these events' waiting list and register counts, in one grouped read.
pub async fn figures(tx: &TenantTx, events: &[Uuid]) -> Result<std::collections::HashMap<Uuid, Figures>, DbError> {
    let mut out = std::collections::HashMap::new();
    if events.is_empty() {
        return Ok(out);
    }
    let marks: Vec<String> = (0..events.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "SELECT event_id, status, attendance, CAST(COUNT(*) AS BIGINT) AS n FROM event_bookings
          WHERE tenant_id = $1 AND event_id IN ({}) GROUP BY event_id, status, attendance",
        marks.join(", ")
    );
    let rows = tx.query_all(&sql, events.iter().map(|e| (*e).into()).collect()).await?;
    for r in rows {
        let id: Uuid = r.try_get("", "event_id")?;
        let status: String = r.try_get("", "status")?;
        let attendance: String = r.try_get("", "attendance")?;
        let n: i64 = r.try_get("", "n")?;
        let f: &mut Figures = out.entry(id).or_default();
        match (status.as_str(), attendance.as_str()) {
            ("waiting", _) => f.waiting += n,
            ("booked", "attended" | "partial") => f.attended += n,
            ("booked", "absent") => f.absent += n,
            _ => {}
        }
    }
    Ok(out)
}

/// Places due a reminder: booked at a scheduled event starting before `until`, not yet reminded
/// (at most `limit`).
pub async fn reminders_due(tx: &TenantTx, until: DateTime<Utc>, limit: u64) -> Result<Vec<(Event, Booking)>, DbError> {
    let now = Utc::now();
    let soon: Vec<Event> = tx
        .select::<event::Entity>()
        .filter(event::Column::Status.eq("scheduled"))
        .filter(event::Column::StartsAt.gt(now))
        .filter(event::Column::StartsAt.lte(until))
        .limit(500)
        .all(tx)
        .await?
        .into_iter()
        .map(Event::from)
        .collect();
    if soon.is_empty() {
        return Ok(vec![]);
    }
    let due = tx
        .select::<event_booking::Entity>()
        .filter(event_booking::Column::EventId.is_in(soon.iter().map(|e| e.id).collect::<Vec<_>>()))
        .filter(event_booking::Column::Status.eq("booked"))
        .filter(event_booking::Column::RemindedAt.is_null())
        .limit(limit)
        .all(tx)
        .await?;
    Ok(due
        .into_iter()
        .filter_map(|b| soon.iter().find(|e| e.id == b.event_id).map(|e| (e.clone(), Booking::from(b))))
        .collect())
}

/// Claims a booking's reminder: true once, for whoever sends it.
pub async fn claim_reminder(tx: &TenantTx, booking: Uuid) -> Result<bool, DbError> {
    let done = tx
        .update_many::<event_booking::Entity>()
        .filter(event_booking::Column::Id.eq(booking))
        .filter(event_booking::Column::RemindedAt.is_null())
        .col_expr(event_booking::Column::RemindedAt, Expr::value(Some(Utc::now())))
        .exec(tx)
        .await?;
    Ok(done.rows_affected == 1)
}

/// How many hours before an event its bookings may still be cancelled, at this trust.
pub async fn cancel_hours(tx: &TenantTx) -> Result<i32, DbError> {
    Ok(tx.select::<event_setting::Entity>().one(tx).await?.map_or(DEFAULT_CANCEL_HOURS, |s| s.cancel_hours))
}

/// Sets the trust's cancellation cut-off, in hours.
pub async fn set_cancel_hours(tx: &TenantTx, hours: i32) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO event_settings (tenant_id, cancel_hours) VALUES ($1, $2)
         ON CONFLICT (tenant_id) DO UPDATE SET cancel_hours = excluded.cancel_hours",
        vec![hours.into()],
    )
    .await?;
    Ok(())
}
