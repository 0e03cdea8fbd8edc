//! Face-to-face training: a course's face-to-face session is met by attending one of the course's
//! events.
//!
//! - Content editors add, change and cancel a course's events (`/admin/courses/<id>/events`,
//!   `/admin/events/<id>`), see who is booked and waiting, and message everyone booked.
//! - Staff enrolled on the course book a place from the session's page, or join the waiting list
//!   when it is full (a freed place goes to the longest waiting, who is emailed); they cancel up to
//!   the trust's cut-off. Confirmations, reminders, changes and cancellations carry calendar files
//!   (`trellis_integrations::calendar`: the same UID throughout, a higher SEQUENCE on each change,
//!   METHOD:CANCEL when it is off).
//! - Trainers (and training managers) take the register (`/events/<id>/register`): attended,
//!   absent or partial, with a pass or fail where the session is assessed. Attending completes the
//!   session as e-learning does ([`crate::usecases::learning::record`]), so it counts towards
//!   compliance, renewal and certificates.
//! - Training managers see every upcoming event with its fill rate, waiting list and no-shows, and
//!   set the cancellation cut-off (`/admin/events`).

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::features::account::render_email;
use crate::http::auth::SignedIn;
use crate::http::form::FormErrors;
use crate::http::page::{self, RequestInfo, see_other_saying};
use crate::http::{Ctx, Member, may};
use crate::usecases::learning::record::{Did, record};
use chrono::{NaiveTime, TimeZone, Utc};
use poem::http::StatusCode;
use poem::web::{CsrfToken, Form, Path};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use trellis_db::catalogue::{self as cat, Course};
use trellis_db::events::{self as ev, Booked, Event, EventInput};
use trellis_db::learning as learn;
use trellis_db::states::EnrolmentStatus;
use trellis_db::{TenantTx, audit, identity as id, outbox};
use trellis_domain::identity::Permission;
use trellis_domain::learning::{Event as Happened, ObjectKind};
use trellis_domain::{CourseId, PersonId};
use trellis_integrations::calendar::{self, CalendarEvent, Method};
use uuid::Uuid;

/// The most places an event may have.
const MAX_CAPACITY: i32 = 1000;

fn course_json(c: &Course) -> Value {
    json!({ "id": c.id.to_string(), "title": c.title })
}

fn when(site: &Site, e: &Event) -> String {
    let z = site.zone();
    let (s, f) = (e.starts_at.with_timezone(&z), e.ends_at.with_timezone(&z));
    format!("{}, {} to {}", s.format("%A %-d %B %Y"), s.format("%H:%M"), f.format("%H:%M"))
}

fn event_json(site: &Site, e: &Event, figures: Option<&ev::Figures>) -> Value {
    let f = figures.copied().unwrap_or_default();
    let fill = if e.capacity > 0 { i64::from(e.booked) * 100 / i64::from(e.capacity) } else { 0 };
    json!({
        "id": e.id.to_string(),
        "course": e.course.to_string(),
        "when": when(site, e),
        "date": e.starts_at.with_timezone(&site.zone()).format("%Y-%m-%d").to_string(),
        "start": e.starts_at.with_timezone(&site.zone()).format("%H:%M").to_string(),
        "end": e.ends_at.with_timezone(&site.zone()).format("%H:%M").to_string(),
        "venue": e.venue,
        "capacity": e.capacity,
        "booked": e.booked,
        "free": (e.capacity - e.booked).max(0),
        "fill": fill,
        "waiting": f.waiting,
        "attended": f.attended,
        "no_shows": f.absent,
        "joining": e.joining.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).collect::<Vec<_>>(),
        "joining_raw": e.joining,
        "meeting_url": e.meeting_url,
        "cancelled": e.cancelled(),
        "past": e.starts_at <= Utc::now(),
    })
}

// ── Calendar files and emails ──────────────────────────────────────────────────────────────────

/// A calendar entry: what it asks of the calendar, its UID and its SEQUENCE.
#[derive(Debug, Clone)]
struct Entry {
    method: Method,
    uid: String,
    sequence: u32,
}

/// The calendar UID of someone's place at an event: the booking, as (re)made, at the trust's
/// site. Each person's entry is their own, so cancelling one place removes only theirs, and a
/// place booked again after a cancellation is a new entry.
fn calendar_uid(site: &Site, b: &ev::Booking) -> String {
    let host = url::Url::parse(&site.url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
    format!("{}-{}@{host}", b.id, b.requested_at.timestamp_millis())
}

/// The email about an event (booking, waiting list, place offered, reminder, change,
/// cancellation, a message from its organiser), with its calendar file where there is one.
#[allow(clippy::too_many_arguments)] // the message's parts
fn event_email(
    state: &AppState,
    site: &Site,
    c: &Course,
    e: &Event,
    to: &str,
    subject: &str,
    intro: &str,
    message: &str,
    entry: Option<&Entry>,
) -> Result<outbox::OutgoingEmail, AppError> {
    let link = format!("{}courses/{}", site.url, c.id);
    let ctx = json!({
        "intro": intro,
        "message": message.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).collect::<Vec<_>>(),
        "course": c.title,
        "when": when(site, e),
        "venue": e.venue,
        "joining": e.joining,
        "meeting_url": e.meeting_url,
        "link": link,
    });
    let mut mail = render_email(state, site, "event", to, subject, ctx)?;
    if let Some(entry) = entry {
        let description = [e.joining.as_str(), e.meeting_url.as_str(), link.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("\n\n");
        let ce = CalendarEvent {
            uid: &entry.uid,
            sequence: entry.sequence,
            starts: e.starts_at,
            ends: e.ends_at,
            summary: &c.title,
            location: &e.venue,
            description: &description,
            url: Some(&link),
            organiser: (&site.entry.name, &state.config.mail.from_address),
            attendee: to,
        };
        mail.calendar = Some(calendar::ics(entry.method, &ce));
    }
    Ok(mail)
}

/// Emails each of `people` about an event (in the caller's transaction), with their own calendar
/// entry when `method` is given: SEQUENCE is the event's, plus `later` (a cancelled place's
/// entry outranks the request it cancels).
#[allow(clippy::too_many_arguments)] // as event_email
async fn tell(
    state: &AppState,
    site: &Site,
    tx: &TenantTx,
    c: &Course,
    e: &Event,
    people: &[PersonId],
    subject: &str,
    intro: &str,
    message: &str,
    method: Option<(Method, u32)>,
) -> Result<usize, AppError> {
    let contacts = id::member_contacts(tx, people).await?;
    let places: HashMap<PersonId, ev::Booking> = match method {
        Some(_) => ev::bookings_of_people(tx, e.id, people).await?.into_iter().map(|b| (b.person, b)).collect(),
        None => HashMap::new(),
    };
    let mut sent = 0;
    for p in people {
        let Some((email, _)) = contacts.get(p) else { continue };
        let entry = method.zip(places.get(p)).map(|((method, later), b)| Entry {
            method,
            uid: calendar_uid(site, b),
            sequence: u32::try_from(e.sequence).unwrap_or(0) + later,
        });
        let mail = event_email(state, site, c, e, email, subject, intro, message, entry.as_ref())?;
        outbox::enqueue_email(tx, &mail).await?;
        sent += 1;
    }
    Ok(sent)
}

fn short_date(site: &Site, e: &Event) -> String {
    e.starts_at.with_timezone(&site.zone()).format("%-d %B %Y").to_string()
}

// ── The organiser's pages ──────────────────────────────────────────────────────────────────────

#[derive(Debug, Deserialize, Default)]
pub struct EventForm {
    #[serde(default, rename = "date-day")]
    day: String,
    #[serde(default, rename = "date-month")]
    month: String,
    #[serde(default, rename = "date-year")]
    year: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    end: String,
    #[serde(default)]
    venue: String,
    #[serde(default)]
    capacity: String,
    #[serde(default)]
    trainers: String,
    #[serde(default)]
    joining: String,
    #[serde(default)]
    meeting_url: String,
}

impl EventForm {
    fn values(&self) -> Value {
        json!({
            "date": page::date_as_typed("", [&self.day, &self.month, &self.year]),
            "start": self.start, "end": self.end, "venue": self.venue, "capacity": self.capacity,
            "trainers": self.trainers, "joining": self.joining, "meeting_url": self.meeting_url,
        })
    }
}

fn time_of(s: &str) -> Option<NaiveTime> {
    let s = s.trim().replace('.', ":");
    NaiveTime::parse_from_str(&s, "%H:%M").ok()
}

/// Checks an event's form: every problem named in the errors returned, nothing changed.
async fn check_event(tx: &TenantTx, site: &Site, f: &EventForm) -> Result<Result<EventInput, FormErrors>, AppError> {
    let mut e = FormErrors::new();
    let day = match page::date_entered("", [&f.day, &f.month, &f.year]) {
        // A past event may be added (or moved back) to record its register; not one from long ago.
        Some(Ok(d)) if d >= site.today() - chrono::Duration::days(366) => Some(d),
        Some(Ok(_)) => {
            e.insert("date", "Choose a date in the last year or in the future");
            None
        }
        Some(Err(())) => {
            e.insert("date", "Enter the date as a real date, like 12 1 2027");
            None
        }
        None => {
            e.insert("date", "Enter the date of the event");
            None
        }
    };
    let start = time_of(&f.start);
    let end = time_of(&f.end);
    if start.is_none() {
        e.insert("start", "Enter the start time in 24-hour hours and minutes, like 09:30");
    }
    if end.is_none() {
        e.insert("end", "Enter the end time in 24-hour hours and minutes, like 16:00");
    }
    let zone = site.zone();
    let at = |t: NaiveTime| {
        // A time the clocks pass twice (autumn) is its first; one they skip (spring) does not exist.
        day.and_then(|d| zone.from_local_datetime(&d.and_time(t)).earliest()).map(|t| t.with_timezone(&Utc))
    };
    let (starts_at, ends_at) = match (start, end) {
        (Some(s), Some(t)) if t <= s => {
            e.insert("end", "The end time must be after the start time");
            (None, None)
        }
        (Some(s), Some(t)) => (at(s), at(t)),
        _ => (None, None),
    };
    if day.is_some() && start.is_some() && end.is_some() && end > start {
        let skipped = "That time does not exist on that day (the clocks go forward): choose another";
        if starts_at.is_none() {
            e.insert("start", skipped);
        } else if ends_at.is_none() {
            e.insert("end", skipped);
        }
    }
    let venue = f.venue.trim().to_owned();
    if venue.is_empty() || venue.chars().count() > 300 {
        e.insert("venue", "Enter where it is held (or “Online”), in up to 300 characters");
    }
    let capacity = match f.capacity.trim().parse::<i32>() {
        Ok(n) if (1..=MAX_CAPACITY).contains(&n) => n,
        _ => {
            e.insert("capacity", format!("Enter the number of places, from 1 to {MAX_CAPACITY}"));
            0
        }
    };
    let meeting_url = f.meeting_url.trim().to_owned();
    if !meeting_url.is_empty()
        && !url::Url::parse(&meeting_url).is_ok_and(|u| u.scheme() == "https" && u.host_str().is_some())
    {
        e.insert("meeting_url", "Enter the meeting's link starting https://, or leave it empty");
    }
    let joining = f.joining.replace("\r\n", "\n").trim().to_owned();
    if joining.chars().count() > 5000 {
        e.insert("joining", "Enter joining instructions of up to 5,000 characters");
    }
    let mut trainers = Vec::new();
    let mut unknown = Vec::new();
    for address in f.trainers.split([',', ';', '\n']).map(str::trim).filter(|a| !a.is_empty()) {
        match id::member_by_email(tx, address).await? {
            Some(p) => trainers.push(p),
            None => unknown.push(address.to_owned()),
        }
    }
    if !unknown.is_empty() {
        e.insert(
            "trainers",
            format!("These are not the work email of a member of {}: {}", site.entry.name, unknown.join(", ")),
        );
    }
    if !e.is_empty() {
        return Ok(Err(e.ordered_by(&[
            "date",
            "start",
            "end",
            "venue",
            "capacity",
            "trainers",
            "joining",
            "meeting_url",
        ])));
    }
    let (Some(starts_at), Some(ends_at)) = (starts_at, ends_at) else {
        return Ok(Err(FormErrors::one("date", "Enter the date of the event")));
    };
    Ok(Ok(EventInput { starts_at, ends_at, venue, capacity, joining, meeting_url, trainers }))
}

/// The course's face-to-face session, if it has one (in the version staff enrol on now, or the
/// draft).
pub(crate) async fn has_face_to_face(tx: &TenantTx, c: &Course) -> Result<bool, AppError> {
    let versions = cat::versions(tx, c.id).await?;
    for v in versions.iter().take(2) {
        if cat::objects(tx, v.id).await?.iter().any(|o| o.kind == ObjectKind::FaceToFace.as_str()) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The events of one of the trust's own courses, their figures, and the form for a new one.
#[handler]
pub async fn course_events(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::EditContent>,
    token: &CsrfToken,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let Member { tx, .. } = member;
    let course: CourseId = page::path_id(&raw)?;
    events_page(state, site, req, &token.0, tx, course, json!({}), &FormErrors::new(), StatusCode::OK).await
}

#[allow(clippy::too_many_arguments)] // the page's parts
async fn events_page(
    state: &AppState,
    site: &Site,
    req: &Request,
    csrf: &str,
    tx: TenantTx,
    course: CourseId,
    values: Value,
    errors: &FormErrors,
    status: StatusCode,
) -> Result<Response, AppError> {
    if !cat::owns(&tx, course).await? {
        return Err(AppError::NotFound);
    }
    let c = cat::course(&tx, course).await?.ok_or(AppError::NotFound)?;
    let list = ev::of_course(&tx, course, Utc::now() - chrono::Duration::days(365)).await?;
    let figures = ev::figures(&tx, &list.iter().map(|e| e.id).collect::<Vec<_>>()).await?;
    let has_session = has_face_to_face(&tx, &c).await?;
    tx.commit().await?;
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "Face-to-face events",
        &[("Home", "/"), ("Courses", "/admin/courses"), (&c.title, &format!("/admin/courses/{course}"))],
    );
    ctx.insert("csrf_token", csrf);
    ctx.insert("course", &course_json(&c));
    ctx.insert("events", &list.iter().map(|e| event_json(site, e, figures.get(&e.id))).collect::<Vec<_>>());
    ctx.insert("has_session", &has_session);
    ctx.insert("values", &values);
    errors.insert_into(&mut ctx);
    page::render(state, Some(site), "pages/admin_events.html", &ctx, status)
}

/// Adds an event to a course.
#[handler]
pub async fn add_event(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::EditContent>,
    token: &CsrfToken,
    Path(raw): Path<String>,
    Form(f): Form<EventForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let course: CourseId = page::path_id(&raw)?;
    if !cat::owns(&tx, course).await? {
        return Err(AppError::NotFound);
    }
    let input = match check_event(&tx, site, &f).await? {
        Ok(i) => i,
        Err(e) => {
            return events_page(state, site, req, &token.0, tx, course, f.values(), &e, StatusCode::BAD_REQUEST).await;
        }
    };
    let id = ev::create(&tx, course, &input, Some(me.person)).await?;
    let detail = json!({ "course": course.to_string(), "capacity": input.capacity, "starts": input.starts_at });
    audit::record(&tx, Some(me.person), "event.added", &id.to_string(), None, detail).await?;
    tx.commit().await?;
    Ok(see_other_saying(req, &format!("/admin/courses/{course}/events"), "Event added: staff can book it now"))
}

/// An event, for its organiser: change it, who is booked and waiting, message them, cancel it.
#[handler]
pub async fn event_page(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::EditContent>,
    token: &CsrfToken,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let Member { tx, .. } = member;
    let eid: Uuid = page::path_id(&raw)?;
    organiser_page(state, site, req, &token.0, tx, eid, None, json!({}), &FormErrors::new(), StatusCode::OK).await
}

#[allow(clippy::too_many_arguments)] // the page's parts
async fn organiser_page(
    state: &AppState,
    site: &Site,
    req: &Request,
    csrf: &str,
    tx: TenantTx,
    eid: Uuid,
    values: Option<Value>,
    message: Value,
    errors: &FormErrors,
    status: StatusCode,
) -> Result<Response, AppError> {
    let e = owned_event(&tx, eid).await?;
    let c = cat::course(&tx, e.course).await?.ok_or(AppError::NotFound)?;
    let bookings = ev::bookings(&tx, e.id).await?;
    let trainers = ev::trainers(&tx, e.id).await?;
    let mut people: Vec<PersonId> = bookings.iter().map(|b| b.person).collect();
    people.extend(&trainers);
    let contacts = id::member_contacts(&tx, &people).await?;
    let figures = ev::figures(&tx, &[e.id]).await?;
    tx.commit().await?;
    let name =
        |p: &PersonId| contacts.get(p).map_or_else(|| "(no longer a member)".to_owned(), |(m, n)| format!("{n} ({m})"));
    let values = values.unwrap_or_else(|| {
        let j = event_json(site, &e, None);
        json!({
            "date": j["date"], "start": j["start"], "end": j["end"], "venue": e.venue, "capacity": e.capacity.to_string(),
            "trainers": trainers.iter().filter_map(|p| contacts.get(p).map(|c| c.0.clone())).collect::<Vec<_>>().join("\n"),
            "joining": e.joining, "meeting_url": e.meeting_url,
        })
    });
    let list = |status: &str| -> Vec<Value> {
        bookings
            .iter()
            .filter(|b| b.status == status)
            .map(|b| json!({ "name": name(&b.person), "attendance": b.attendance, "result": b.result }))
            .collect()
    };
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        &format!("{}: {}", c.title, short_date(site, &e)),
        &[("Home", "/"), ("Courses", "/admin/courses"), (&c.title, &format!("/admin/courses/{}/events", c.id))],
    );
    ctx.insert("csrf_token", csrf);
    ctx.insert("course", &course_json(&c));
    ctx.insert("event", &event_json(site, &e, figures.get(&e.id)));
    ctx.insert("booked", &list("booked"));
    ctx.insert("waiting", &list("waiting"));
    ctx.insert("values", &values);
    ctx.insert("message", &message);
    errors.insert_into(&mut ctx);
    page::render(state, Some(site), "pages/admin_event.html", &ctx, status)
}

/// An event of one of this trust's own courses (an organiser's to change), or 404.
async fn owned_event(tx: &TenantTx, eid: Uuid) -> Result<Event, AppError> {
    let e = ev::get(tx, eid).await?.ok_or(AppError::NotFound)?;
    if !cat::owns(tx, e.course).await? {
        return Err(AppError::NotFound);
    }
    Ok(e)
}

/// Someone's enrolment on a course, if it lets them take part (active, or completed and still
/// theirs to repeat).
async fn taking_part(tx: &TenantTx, person: PersonId, course: CourseId) -> Result<Option<learn::Enrolment>, AppError> {
    Ok(learn::enrolment(tx, person, course)
        .await?
        .filter(|e| matches!(e.status, EnrolmentStatus::Active | EnrolmentStatus::Completed)))
}

/// Changes an event: those booked are sent the updated calendar entry, and places a larger
/// capacity frees go to those waiting.
#[handler]
pub async fn save_event(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::EditContent>,
    token: &CsrfToken,
    Path(raw): Path<String>,
    Form(f): Form<EventForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let eid: Uuid = page::path_id(&raw)?;
    let before = owned_event(&tx, eid).await?;
    if before.cancelled() {
        return Err(AppError::NotFound);
    }
    let mut input = match check_event(&tx, site, &f).await? {
        Ok(i) => i,
        Err(e) => {
            return organiser_page(
                state,
                site,
                req,
                &token.0,
                tx,
                eid,
                Some(f.values()),
                json!({}),
                &e,
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    if input.capacity < before.booked {
        let e = FormErrors::one(
            "capacity",
            format!(
                "{} people have places: the event needs at least that many (cancel their places first)",
                before.booked
            ),
        );
        return organiser_page(
            state,
            site,
            req,
            &token.0,
            tx,
            eid,
            Some(f.values()),
            json!({}),
            &e,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    input.trainers.dedup();
    let Some(e) = ev::update(&tx, eid, &input).await? else { return Err(AppError::NotFound) };
    let c = cat::course(&tx, e.course).await?.ok_or(AppError::NotFound)?;
    let promoted = ev::promote(&tx, eid).await?;
    let booked: Vec<PersonId> = ev::bookings(&tx, eid)
        .await?
        .into_iter()
        .filter(|b| b.status == "booked" && !promoted.contains(&b.person))
        .map(|b| b.person)
        .collect();
    let subject = format!("Changed: {} on {}", c.title, short_date(site, &e));
    let told = tell(state, site, &tx, &c, &e, &booked, &subject, "The event you have a place at has changed. The new details are below, and the attached calendar entry replaces the one you had.", "", Some((Method::Request, 0))).await?;
    offer(state, site, &tx, &c, &e, &promoted).await?;
    let detail = json!({ "sequence": e.sequence, "told": told, "promoted": promoted.len() });
    audit::record(&tx, Some(me.person), "event.changed", &eid.to_string(), None, detail).await?;
    tx.commit().await?;
    let said = if told == 0 {
        "Event saved".to_owned()
    } else {
        format!("Event saved, and {told} people with places told of the change")
    };
    Ok(see_other_saying(req, &format!("/admin/events/{eid}"), said))
}

/// Tells those given a place from the waiting list.
async fn offer(
    state: &AppState,
    site: &Site,
    tx: &TenantTx,
    c: &Course,
    e: &Event,
    promoted: &[PersonId],
) -> Result<(), AppError> {
    if promoted.is_empty() {
        return Ok(());
    }
    let subject = format!("You have a place: {} on {}", c.title, short_date(site, e));
    tell(state, site, tx, c, e, promoted, &subject, "A place came free and it is yours: you were next on the waiting list. If you can no longer go, cancel it so someone else can.", "", Some((Method::Request, 0))).await?;
    Ok(())
}

/// Cancels an event: everyone booked is sent the calendar cancellation, and those waiting are told.
#[handler]
pub async fn cancel_event(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::EditContent>,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let eid: Uuid = page::path_id(&raw)?;
    owned_event(&tx, eid).await?;
    if !ev::cancel(&tx, eid).await? {
        return Err(AppError::NotFound);
    }
    let e = ev::get(&tx, eid).await?.ok_or(AppError::NotFound)?;
    let c = cat::course(&tx, e.course).await?.ok_or(AppError::NotFound)?;
    let bookings = ev::bookings(&tx, eid).await?;
    let of = |s: &str| bookings.iter().filter(|b| b.status == s).map(|b| b.person).collect::<Vec<_>>();
    let subject = format!("Cancelled: {} on {}", c.title, short_date(site, &e));
    let intro = "This event has been cancelled. The attached calendar entry removes it from your calendar. Book another date from the course's page.";
    let told = tell(state, site, &tx, &c, &e, &of("booked"), &subject, intro, "", Some((Method::Cancel, 0))).await?;
    let waiting_intro =
        "This event, whose waiting list you were on, has been cancelled. Book another date from the course's page.";
    let waited = tell(state, site, &tx, &c, &e, &of("waiting"), &subject, waiting_intro, "", None).await?;
    audit::record(&tx, Some(me.person), "event.cancelled", &eid.to_string(), None, json!({ "told": told + waited }))
        .await?;
    tx.commit().await?;
    Ok(see_other_saying(
        req,
        &format!("/admin/courses/{}/events", c.id),
        format!("Event cancelled: {} people told", told + waited),
    ))
}

#[derive(Debug, Deserialize, Default)]
pub struct MessageForm {
    #[serde(default)]
    subject: String,
    #[serde(default)]
    message: String,
}

/// Emails everyone with a place at an event (a change of room, say).
#[handler]
pub async fn message_booked(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::EditContent>,
    token: &CsrfToken,
    Path(raw): Path<String>,
    Form(f): Form<MessageForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let eid: Uuid = page::path_id(&raw)?;
    let e = owned_event(&tx, eid).await?;
    let subject = f.subject.trim();
    let message = f.message.replace("\r\n", "\n").trim().to_owned();
    let mut errors = FormErrors::new();
    if subject.is_empty() || subject.chars().count() > 150 {
        errors.insert("subject", "Enter a subject of up to 150 characters");
    }
    if message.is_empty() || message.chars().count() > 5000 {
        errors.insert("message", "Enter the message, up to 5,000 characters");
    }
    if !errors.is_empty() {
        let message = json!({ "subject": f.subject, "message": f.message });
        return organiser_page(state, site, req, &token.0, tx, eid, None, message, &errors, StatusCode::BAD_REQUEST)
            .await;
    }
    let c = cat::course(&tx, e.course).await?.ok_or(AppError::NotFound)?;
    let booked: Vec<PersonId> =
        ev::bookings(&tx, eid).await?.into_iter().filter(|b| b.status == "booked").map(|b| b.person).collect();
    let intro = "A message from the organisers of the event you have a place at:";
    let sent = tell(state, site, &tx, &c, &e, &booked, subject, intro, &message, None).await?;
    audit::record(&tx, Some(me.person), "event.messaged", &eid.to_string(), None, json!({ "sent": sent })).await?;
    tx.commit().await?;
    let said = if sent == 0 {
        "Nobody has a place yet, so nobody was emailed".to_owned()
    } else {
        format!("{sent} people emailed")
    };
    Ok(see_other_saying(req, &format!("/admin/events/{eid}"), said))
}

// ── The training manager's view of every event ─────────────────────────────────────────────────

/// The trust's events from today: fill rates, waiting lists and no-shows; the cancellation cut-off.
#[handler]
pub async fn trust_events(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageTraining>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let Member { tx, .. } = member;
    trust_events_page(state, site, req, &token.0, tx, None, &FormErrors::new(), StatusCode::OK).await
}

#[allow(clippy::too_many_arguments)] // the page's parts
async fn trust_events_page(
    state: &AppState,
    site: &Site,
    req: &Request,
    csrf: &str,
    tx: TenantTx,
    hours: Option<String>,
    errors: &FormErrors,
    status: StatusCode,
) -> Result<Response, AppError> {
    let now = Utc::now();
    let mut list = ev::between(&tx, now, now + chrono::Duration::days(3660), false, 300).await?;
    list.extend(ev::between(&tx, now - chrono::Duration::days(31), now, true, 300).await?);
    let figures = ev::figures(&tx, &list.iter().map(|e| e.id).collect::<Vec<_>>()).await?;
    let courses: HashMap<CourseId, String> =
        cat::own_courses(&tx).await?.into_iter().map(|c| (c.id, c.title)).collect();
    let cut_off = ev::cancel_hours(&tx).await?;
    tx.commit().await?;
    let rows: Vec<Value> = list
        .iter()
        .map(|e| {
            let mut j = event_json(site, e, figures.get(&e.id));
            j["course_title"] = json!(courses.get(&e.course).cloned().unwrap_or_default());
            j
        })
        .collect();
    let (upcoming, past): (Vec<Value>, Vec<Value>) = rows.into_iter().partition(|j| j["past"] == json!(false));
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "Face-to-face events", &[("Home", "/")]);
    ctx.insert("csrf_token", csrf);
    ctx.insert("upcoming", &upcoming);
    ctx.insert("past", &past);
    ctx.insert("values", &json!({ "cancel_hours": hours.unwrap_or_else(|| cut_off.to_string()) }));
    ctx.insert("cut_off", &cut_off);
    errors.insert_into(&mut ctx);
    page::render(state, Some(site), "pages/admin_all_events.html", &ctx, status)
}

#[derive(Debug, Deserialize, Default)]
pub struct SettingsForm {
    #[serde(default)]
    cancel_hours: String,
}

/// Sets how many hours before an event staff may still cancel their place.
#[handler]
pub async fn save_settings(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageTraining>,
    token: &CsrfToken,
    Form(f): Form<SettingsForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let Some(hours) = f.cancel_hours.trim().parse::<i32>().ok().filter(|h| (0..=720).contains(h)) else {
        let e = FormErrors::one("cancel_hours", "Enter a number of hours from 0 to 720 (30 days)");
        return trust_events_page(state, site, req, &token.0, tx, Some(f.cancel_hours), &e, StatusCode::BAD_REQUEST)
            .await;
    };
    ev::set_cancel_hours(&tx, hours).await?;
    audit::record(&tx, Some(me.person), "event.settings_changed", "", None, json!({ "cancel_hours": hours })).await?;
    tx.commit().await?;
    Ok(see_other_saying(req, "/admin/events", format!("Staff can now cancel up to {hours} hours before an event")))
}

// ── Trainers: their events and the register ────────────────────────────────────────────────────

/// The events someone runs, from today.
#[handler]
pub async fn teaching(Ctx { req, state, site }: Ctx<'_>, member: Member<may::Anyone>) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let list = ev::teaching(&tx, me.person, site.end_of_day(site.today() - chrono::Duration::days(8))).await?;
    let courses: HashMap<CourseId, String> =
        cat::own_courses(&tx).await?.into_iter().map(|c| (c.id, c.title)).collect();
    tx.commit().await?;
    let rows: Vec<Value> = list
        .iter()
        .map(|e| {
            let mut j = event_json(site, e, None);
            j["course_title"] = json!(courses.get(&e.course).cloned().unwrap_or_default());
            j
        })
        .collect();
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "Events you run", &[("Home", "/")]);
    ctx.insert("events", &rows);
    page::render(state, Some(site), "pages/events_teaching.html", &ctx, StatusCode::OK)
}

/// Whether `me` may take an event's register: one of its trainers, or a training manager.
async fn may_take_register(tx: &TenantTx, me: &SignedIn, e: &Event) -> Result<bool, AppError> {
    Ok(me.may(Permission::ManageTraining) || ev::is_trainer(tx, e.id, me.person).await?)
}

/// Each of `people`'s enrolment on the course (active or completed) and the face-to-face
/// sessions of the version they are on (each version's read once).
async fn their_sessions(
    tx: &TenantTx,
    c: &Course,
    people: &[PersonId],
) -> Result<HashMap<PersonId, (learn::Enrolment, Vec<cat::Object>)>, AppError> {
    let mut by_version: HashMap<_, Vec<cat::Object>> = HashMap::new();
    let mut out = HashMap::new();
    for p in people {
        let Some(e) = taking_part(tx, *p, c.id).await? else { continue };
        let Some(version) = e.version.or(c.current_version) else { continue };
        if let std::collections::hash_map::Entry::Vacant(slot) = by_version.entry(version) {
            let own: Vec<_> = cat::objects(tx, version)
                .await?
                .into_iter()
                .filter(|o| o.kind == ObjectKind::FaceToFace.as_str())
                .collect();
            slot.insert(own);
        }
        out.insert(*p, (e, by_version.get(&version).cloned().unwrap_or_default()));
    }
    Ok(out)
}

/// Whether a learner's face-to-face session is assessed (completed by a pass).
fn is_assessed(sessions: &[cat::Object]) -> bool {
    sessions.iter().any(|o| o.completion == "passed")
}

/// The register of an event: each person with a place, to mark.
#[handler]
pub async fn register_page(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &CsrfToken,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let eid: Uuid = page::path_id(&raw)?;
    register_view(state, site, req, &token.0, &me, tx, eid, "", &FormErrors::new(), StatusCode::OK).await
}

#[allow(clippy::too_many_arguments)] // the page's parts
async fn register_view(
    state: &AppState,
    site: &Site,
    req: &Request,
    csrf: &str,
    me: &SignedIn,
    tx: TenantTx,
    eid: Uuid,
    walk_in: &str,
    errors: &FormErrors,
    status: StatusCode,
) -> Result<Response, AppError> {
    let e = ev::get(&tx, eid).await?.ok_or(AppError::NotFound)?;
    if !may_take_register(&tx, me, &e).await? {
        return Err(AppError::NotFound);
    }
    let c = cat::course(&tx, e.course).await?.ok_or(AppError::NotFound)?;
    let bookings: Vec<_> = ev::bookings(&tx, eid).await?.into_iter().filter(|b| b.status == "booked").collect();
    let people: Vec<PersonId> = bookings.iter().map(|b| b.person).collect();
    let contacts = id::member_contacts(&tx, &people).await?;
    let sessions = their_sessions(&tx, &c, &people).await?;
    tx.commit().await?;
    let rows: Vec<Value> = bookings
        .iter()
        .map(|b| {
            let (email, name) = contacts.get(&b.person).cloned().unwrap_or_default();
            json!({
                "person": b.person.to_string(), "name": if name.is_empty() { email.clone() } else { name }, "email": email,
                "attendance": b.attendance, "result": b.result,
                "assessed": sessions.get(&b.person).is_some_and(|(_, o)| is_assessed(o)),
            })
        })
        .collect();
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        &format!("Register: {}", c.title),
        &[("Home", "/"), ("Events you run", "/events/teaching")],
    );
    ctx.insert("csrf_token", csrf);
    ctx.insert("course", &course_json(&c));
    ctx.insert("event", &event_json(site, &e, None));
    ctx.insert("people", &rows);
    ctx.insert("cancelled", &e.cancelled());
    ctx.insert("walk_in", walk_in);
    ctx.insert("started", &(e.starts_at <= Utc::now()));
    errors.insert_into(&mut ctx);
    page::render(state, Some(site), "pages/event_register.html", &ctx, status)
}

/// Saves the register: each mark recorded (audited); attending (and, where assessed, passing)
/// completes the learner's face-to-face session as e-learning does.
#[handler]
pub async fn save_register(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &CsrfToken,
    Path(raw): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let eid: Uuid = page::path_id(&raw)?;
    let e = ev::get(&tx, eid).await?.ok_or(AppError::NotFound)?;
    if !may_take_register(&tx, &me, &e).await? {
        return Err(AppError::NotFound);
    }
    if e.starts_at > Utc::now() || e.cancelled() {
        let why = if e.cancelled() {
            "The event was cancelled"
        } else {
            "The register can be taken once the event has started"
        };
        let errors = FormErrors::one("register", why);
        return register_view(state, site, req, &token.0, &me, tx, eid, "", &errors, StatusCode::BAD_REQUEST).await;
    }
    let c = cat::course(&tx, e.course).await?.ok_or(AppError::NotFound)?;
    let form: HashMap<String, String> = pairs.into_iter().collect();
    let booked: Vec<_> = ev::bookings(&tx, eid).await?.into_iter().filter(|b| b.status == "booked").collect();
    let sessions = their_sessions(&tx, &c, &booked.iter().map(|b| b.person).collect::<Vec<_>>()).await?;
    let mut marked = 0;
    let mut completed = 0;
    for b in &booked {
        let key = b.person.to_string();
        let attendance = form.get(&format!("attendance-{key}")).map_or("", String::as_str);
        if attendance.is_empty() {
            continue;
        }
        if !matches!(attendance, "attended" | "absent" | "partial") {
            return Err(AppError::BadRequest("Mark each person attended, absent or partial.".into()));
        }
        let theirs = sessions.get(&b.person);
        let assessed = theirs.is_some_and(|(_, o)| is_assessed(o));
        let result = match form.get(&format!("result-{key}")).map_or("", String::as_str) {
            "pass" if assessed && attendance == "attended" => "pass",
            "fail" if assessed && attendance != "absent" => "fail",
            _ => "",
        };
        if b.attendance == attendance && b.result == result {
            continue;
        }
        ev::mark(&tx, eid, b.person, attendance, result, me.person).await?;
        marked += 1;
        if attendance == "attended"
            && let Some((enrolment, objects)) = theirs
            && completes(state, site, &tx, enrolment, objects, result).await?
        {
            completed += 1;
        }
        let detail = json!({ "person": key, "attendance": attendance, "result": result });
        audit::record(&tx, Some(me.person), "event.marked", &eid.to_string(), None, detail).await?;
    }
    tx.commit().await?;
    let said = match (marked, completed) {
        (0, _) => "Nothing changed in the register".to_owned(),
        (m, 0) => format!("Register saved: {m} marked"),
        (m, n) => format!("Register saved: {m} marked, {n} completed the session"),
    };
    Ok(see_other_saying(req, &format!("/events/{eid}/register"), said))
}

#[derive(Debug, Deserialize, Default)]
pub struct WalkIn {
    #[serde(default)]
    email: String,
}

/// Adds someone who attended without a place (a walk-in) to the register: a member enrolled on
/// the course. They take a place whatever the event's capacity.
#[handler]
pub async fn add_walk_in(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &CsrfToken,
    Path(raw): Path<String>,
    Form(f): Form<WalkIn>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let eid: Uuid = page::path_id(&raw)?;
    let e = ev::get(&tx, eid).await?.ok_or(AppError::NotFound)?;
    if !may_take_register(&tx, &me, &e).await? {
        return Err(AppError::NotFound);
    }
    let refuse = |m: &str| FormErrors::one("email", m.to_owned());
    let Some(person) = id::member_by_email(&tx, f.email.trim()).await? else {
        let errors = refuse("Enter the work email of a member of this organisation");
        return register_view(state, site, req, &token.0, &me, tx, eid, &f.email, &errors, StatusCode::BAD_REQUEST)
            .await;
    };
    if e.cancelled() || e.starts_at > Utc::now() {
        let errors = refuse(if e.cancelled() {
            "The event was cancelled"
        } else {
            "Someone who came without a place is added once the event has started: until then they can book"
        });
        return register_view(state, site, req, &token.0, &me, tx, eid, &f.email, &errors, StatusCode::BAD_REQUEST)
            .await;
    }
    if taking_part(&tx, person, e.course).await?.is_none() {
        let errors = refuse("They are not enrolled on this course: enrol them first (or ask them to)");
        return register_view(state, site, req, &token.0, &me, tx, eid, &f.email, &errors, StatusCode::BAD_REQUEST)
            .await;
    }
    let added = ev::add_walk_in(&tx, eid, person).await?;
    audit::record(
        &tx,
        Some(me.person),
        "event.walk_in",
        &eid.to_string(),
        None,
        json!({ "person": person.to_string() }),
    )
    .await?;
    tx.commit().await?;
    let said = if added { "Added to the register: mark their attendance below" } else { "They already have a place" };
    Ok(see_other_saying(req, &format!("/events/{eid}/register"), said))
}

/// Records attendance on the learner's face-to-face sessions (of the version they are on): true
/// if it completed one now. A session completed by a pass is met only by a pass.
async fn completes(
    state: &AppState,
    site: &Site,
    tx: &TenantTx,
    enrolment: &learn::Enrolment,
    objects: &[cat::Object],
    result: &str,
) -> Result<bool, AppError> {
    let did = if result == "pass" { Happened::Passed } else { Happened::Attended };
    let mut completed = false;
    for o in objects {
        completed |= record(state, tx, site, enrolment, o, Did::Event(did)).await?.object_completed;
    }
    Ok(completed)
}

// ── Staff: booking from the session's page ─────────────────────────────────────────────────────

/// What the face-to-face session's page shows: the course's events to come, with this person's
/// booking at each, and the cut-off.
pub(crate) async fn for_learner(tx: &TenantTx, site: &Site, me: PersonId, course: CourseId) -> Result<Value, AppError> {
    let now = Utc::now();
    let list: Vec<Event> = ev::of_course(tx, course, now - chrono::Duration::days(30)).await?;
    let mine = ev::bookings_of(tx, me, &list.iter().map(|e| e.id).collect::<Vec<_>>()).await?;
    let hours = ev::cancel_hours(tx).await?;
    let rows: Vec<Value> = list
        .iter()
        .filter(|e| e.starts_at > now || mine.iter().any(|b| b.event == e.id && b.status == "booked"))
        .map(|e| {
            let b = mine.iter().find(|b| b.event == e.id && b.status != "cancelled");
            let mut j = event_json(site, e, None);
            j["mine"] = json!(b.map(|b| b.status.clone()));
            j["attendance"] = json!(b.map(|b| b.attendance.clone()));
            // The waiting list may be left at any time; a place only up to the cut-off.
            j["may_cancel"] = json!(b.is_some_and(|b| {
                !e.cancelled()
                    && (b.status == "waiting" || e.starts_at - chrono::Duration::hours(i64::from(hours)) > now)
            }));
            j
        })
        .collect();
    let holding = mine.iter().any(|b| {
        b.status != "cancelled" && list.iter().any(|e| e.id == b.event && e.starts_at > now && !e.cancelled())
    });
    Ok(json!({ "events": rows, "cancel_hours": hours, "booked_any": holding }))
}

/// The learner's enrolment on the course, if they may book: active on a course with a
/// face-to-face session.
async fn bookable(tx: &TenantTx, me: &SignedIn, e: &Event) -> Result<Course, AppError> {
    let c = cat::course(tx, e.course).await?.ok_or(AppError::NotFound)?;
    if taking_part(tx, me.person, c.id).await?.is_none() {
        return Err(AppError::Conflict(
            "Enrol on the course (or have your enrolment approved) before booking a date.".into(),
        ));
    }
    Ok(c)
}

async fn back_to_session(tx: &TenantTx, me: &SignedIn, c: &Course) -> Result<String, AppError> {
    let e = learn::enrolment(tx, me.person, c.id).await?;
    let version = e.and_then(|e| e.version).or(c.current_version);
    if let Some(v) = version
        && let Some(o) = cat::objects(tx, v).await?.into_iter().find(|o| o.kind == ObjectKind::FaceToFace.as_str())
    {
        return Ok(format!("/learn/{}/{}", c.id, o.id));
    }
    Ok(format!("/courses/{}", c.id))
}

/// Books a place (or a place on the waiting list) at an event of a course the learner is on.
#[handler]
pub async fn book(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let eid: Uuid = page::path_id(&raw)?;
    let e = ev::get(&tx, eid).await?.ok_or(AppError::NotFound)?;
    let c = bookable(&tx, &me, &e).await?;
    let back = back_to_session(&tx, &me, &c).await?;
    // One place at a time on a course: another date is booked after cancelling the first.
    let others = ev::of_course(&tx, c.id, Utc::now()).await?;
    let mine = ev::bookings_of(&tx, me.person, &others.iter().map(|x| x.id).collect::<Vec<_>>()).await?;
    if mine.iter().any(|b| {
        b.event != eid
            && b.status != "cancelled"
            && others.iter().any(|x| x.id == b.event && x.starts_at > Utc::now() && !x.cancelled())
    }) {
        return Err(AppError::Conflict(
            "You already have a place (or are waiting) on another date of this course: cancel that first.".into(),
        ));
    }
    let outcome = ev::book(&tx, eid, me.person).await?;
    let e = ev::get(&tx, eid).await?.ok_or(AppError::NotFound)?;
    let said = match outcome {
        Booked::Place => {
            let subject = format!("Booked: {} on {}", c.title, short_date(site, &e));
            let intro = "You have a place. The attached calendar entry adds it to your calendar.";
            tell(state, site, &tx, &c, &e, &[me.person], &subject, intro, "", Some((Method::Request, 0))).await?;
            format!("Booked: you have a place on {}. We have emailed you the details", short_date(site, &e))
        }
        Booked::Waiting => {
            let subject = format!("On the waiting list: {} on {}", c.title, short_date(site, &e));
            let intro = "The event is full, so you are on its waiting list. If a place comes free it is yours, and we will email you.";
            tell(state, site, &tx, &c, &e, &[me.person], &subject, intro, "", None).await?;
            "The event is full: you are on the waiting list, and we will email you if a place comes free".to_owned()
        }
        Booked::Already => "You already have a place (or are on the waiting list) for this date".to_owned(),
        Booked::Closed => return Err(AppError::Conflict("This event can no longer be booked.".into())),
    };
    if matches!(outcome, Booked::Place | Booked::Waiting) {
        let what = if outcome == Booked::Place { "event.booked" } else { "event.waiting" };
        audit::record(&tx, Some(me.person), what, &eid.to_string(), None, json!({})).await?;
    }
    tx.commit().await?;
    Ok(see_other_saying(req, &back, said))
}

/// Cancels the learner's place (up to the trust's cut-off) or their place on the waiting list; a
/// freed place goes to the longest waiting.
#[handler]
pub async fn cancel_booking(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let eid: Uuid = page::path_id(&raw)?;
    let e = ev::get(&tx, eid).await?.ok_or(AppError::NotFound)?;
    let c = cat::course(&tx, e.course).await?.ok_or(AppError::NotFound)?;
    let back = back_to_session(&tx, &me, &c).await?;
    let mine = ev::booking(&tx, eid, me.person).await?.filter(|b| b.status != "cancelled").ok_or(AppError::NotFound)?;
    let hours = ev::cancel_hours(&tx).await?;
    if mine.status == "booked" && e.starts_at - chrono::Duration::hours(i64::from(hours)) <= Utc::now() {
        return Err(AppError::Conflict(format!(
            "Places can be cancelled up to {hours} hours before the event: contact the organisers instead."
        )));
    }
    let promoted = ev::cancel_booking(&tx, eid, me.person).await?.ok_or(AppError::NotFound)?;
    if mine.status == "booked" {
        let subject = format!("Cancelled: your place on {} on {}", c.title, short_date(site, &e));
        let intro = "Your place is cancelled. The attached calendar entry removes it from your calendar.";
        tell(state, site, &tx, &c, &e, &[me.person], &subject, intro, "", Some((Method::Cancel, 1))).await?;
    }
    offer(state, site, &tx, &c, &e, &promoted).await?;
    let detail = json!({ "was": mine.status, "promoted": promoted.len() });
    audit::record(&tx, Some(me.person), "event.booking_cancelled", &eid.to_string(), None, detail).await?;
    tx.commit().await?;
    let said = if mine.status == "booked" { "Your place is cancelled" } else { "You have left the waiting list" };
    Ok(see_other_saying(req, &back, said))
}

/// The learner's calendar file for an event they have a place at.
#[handler]
pub async fn calendar_file(
    Ctx { state, site, .. }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let eid: Uuid = page::path_id(&raw)?;
    let e = ev::get(&tx, eid).await?.ok_or(AppError::NotFound)?;
    let b = ev::booking(&tx, eid, me.person).await?.filter(|b| b.status == "booked").ok_or(AppError::NotFound)?;
    let c = cat::course(&tx, e.course).await?.ok_or(AppError::NotFound)?;
    let email = id::member_contacts(&tx, &[me.person]).await?.remove(&me.person).map(|c| c.0).unwrap_or_default();
    tx.commit().await?;
    let method = if e.cancelled() { Method::Cancel } else { Method::Request };
    let entry = Entry { method, uid: calendar_uid(site, &b), sequence: u32::try_from(e.sequence).unwrap_or(0) };
    let mail = event_email(state, site, &c, &e, &email, "", "", "", Some(&entry))?;
    Ok(Response::builder()
        .content_type("text/calendar; charset=utf-8")
        .header("content-disposition", "attachment; filename=\"event.ics\"")
        .body(mail.calendar.unwrap_or_default()))
}

// ── The worker: reminders ──────────────────────────────────────────────────────────────────────

/// Reminds those with a place at an event starting within a day (once each), with its calendar
/// entry. Run by the worker every minute for each trust.
pub async fn send_reminders(state: &AppState, site: &Site) -> Result<usize, AppError> {
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let due = ev::reminders_due(&tx, Utc::now() + chrono::Duration::hours(24), 500).await?;
    if due.is_empty() {
        tx.commit().await?;
        return Ok(0);
    }
    let mut sent = 0;
    let mut courses: HashMap<CourseId, Course> = HashMap::new();
    for (e, b) in &due {
        // Claimed one by one, so two workers never remind anyone twice.
        if !ev::claim_reminder(&tx, b.id).await? {
            continue;
        }
        if !courses.contains_key(&e.course)
            && let Some(c) = cat::course(&tx, e.course).await?
        {
            courses.insert(e.course, c);
        }
        let Some(c) = courses.get(&e.course) else { continue };
        let subject = format!("Reminder: {} on {}", c.title, short_date(site, e));
        let intro = "A reminder of the event you have a place at. If you can no longer go, cancel your place so someone else can have it.";
        sent += tell(state, site, &tx, c, e, &[b.person], &subject, intro, "", Some((Method::Request, 0))).await?;
    }
    tx.commit().await?;
    Ok(sent)
}
