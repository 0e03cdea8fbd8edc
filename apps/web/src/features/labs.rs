//! Learning labs (issue 22): rooms with PCs a trust defines (`/admin/labs`), the slots staff book
//! and cancel (`/labs`, at most the room's limit of upcoming slots each, never more people than
//! PCs), emails with a calendar entry on booking, cancelling and the day before, and the room's
//! register where attendance and no-shows are recorded.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::features::account::render_email;
use crate::features::learner::date_words;
use crate::http::form::FormErrors;
use crate::http::page::{self, RequestInfo, see_other_saying};
use crate::http::{Ctx, Member, may};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use poem::http::StatusCode;
use poem::web::{CsrfToken, Form, Path, Query};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::json;
use trellis_db::labs::{self, Booked, Booking, Lab};
use trellis_db::{TenantTx, audit, outbox};
use trellis_domain::PersonId;
use trellis_domain::labs::{RoomInput, clock};
use trellis_integrations::calendar::{self, CalendarEvent, Method};
use uuid::Uuid;

/// How many days ahead slots can be booked.
const AHEAD_DAYS: i64 = 14;

/// "Wednesday 9 December 2026, 10:00 to 11:00" in the trust's time.
pub(crate) fn slot_words(site: &Site, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let (f, t) = (from.with_timezone(&site.zone()), to.with_timezone(&site.zone()));
    format!("{}, {} to {}", f.format("%A %-d %B %Y"), f.format("%H:%M"), t.format("%H:%M"))
}

fn room_json(l: &Lab) -> serde_json::Value {
    json!({
        "id": l.id.to_string(), "name": l.room.name, "location": l.room.location, "pcs": l.room.pcs,
        "days": l.room.days_words(), "opens": clock(l.room.opens), "closes": clock(l.room.closes),
        "slot_minutes": l.room.slot_minutes, "max_bookings": l.room.max_bookings, "active": l.active,
    })
}

/// Emails `to` about their booking (`kind`: booked, cancelled or reminder), with its calendar entry.
async fn tell(state: &AppState, site: &Site, tx: &TenantTx, b: &Booking, kind: &str) -> Result<(), AppError> {
    let Some(who) = trellis_db::identity::member_person(tx, b.person).await? else { return Ok(()) };
    let when = slot_words(site, b.starts_at, b.ends_at);
    let subject = match kind {
        "booked" => format!("PC booked: {}", b.lab_name),
        "cancelled" => format!("Cancelled: your PC at {}", b.lab_name),
        _ => format!("Reminder: your PC at {} tomorrow", b.lab_name),
    };
    let url = format!("{}labs?lab={}", site.url, b.lab);
    let mut mail = render_email(
        state,
        site,
        "lab_booking",
        &who.email,
        &subject,
        json!({ "name": who.given_name, "kind": kind, "room": b.lab_name, "location": b.location, "when": when, "url": url }),
    )?;
    let summary = format!("PC booked: {}", b.lab_name);
    let description = "A PC for your learning. Cancel on the site if you cannot come, so someone else can book it.";
    let uid = format!("lab-{}@{}", b.id, site.entry.slug);
    let event = CalendarEvent {
        uid: &uid,
        sequence: if kind == "cancelled" { 1 } else { 0 },
        starts: b.starts_at,
        ends: b.ends_at,
        summary: &summary,
        location: &b.location,
        description,
        url: Some(&url),
        organiser: (&site.entry.name, &state.config.mail.from_address),
        attendee: &who.email,
    };
    mail.calendar = Some(calendar::ics(if kind == "cancelled" { Method::Cancel } else { Method::Request }, &event));
    outbox::enqueue_email(tx, &mail).await?;
    Ok(())
}

#[derive(Debug, Deserialize, Default)]
pub struct LabsQuery {
    #[serde(default)]
    lab: String,
    /// The day whose slots are shown (`yyyy-mm-dd`).
    #[serde(default)]
    day: String,
}

/// The rooms, the chosen room's open days over the next two weeks (with how many slots have a PC
/// free) and one day's slots, and the person's own bookings to cancel.
#[handler]
pub async fn labs_page(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &CsrfToken,
    Query(q): Query<LabsQuery>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let rooms = labs::list(&tx, true).await?;
    let chosen = rooms.iter().find(|l| l.id.to_string() == q.lab).or(rooms.first());
    let now = Utc::now();
    let today = site.today();
    let bookings = labs::bookings_of(&tx, me.person, now).await?;
    let mut days = Vec::new();
    let mut shown = None;
    if let Some(lab) = chosen {
        let taken = labs::taken(&tx, lab.id, now, now + Duration::days(AHEAD_DAYS + 1)).await?;
        let mine: Vec<DateTime<Utc>> = bookings.iter().filter(|b| b.lab == lab.id).map(|b| b.starts_at).collect();
        let asked = q.day.parse::<NaiveDate>().ok();
        for offset in 0..AHEAD_DAYS {
            let day = today + Duration::days(offset);
            let slots: Vec<_> = lab
                .room
                .slots(day)
                .into_iter()
                .filter_map(|(s, e)| {
                    let (from, to) = (site.at(day, s)?, site.at(day, e)?);
                    (from > now).then(|| {
                        let free = i64::from(lab.room.pcs) - taken.get(&from).copied().unwrap_or(0);
                        json!({
                            "start": from.to_rfc3339(), "from": clock_of(site, from), "to": clock_of(site, to),
                            "free": free.max(0), "mine": mine.contains(&from),
                        })
                    })
                })
                .collect();
            if slots.is_empty() {
                continue;
            }
            let free = slots.iter().filter(|s| s["free"].as_i64().unwrap_or(0) > 0).count();
            // The day asked for, or the first with a slot.
            let this = asked.map_or(shown.is_none(), |a| a == day);
            days.push(json!({ "date": day.to_string(), "day": day.format("%A %-d %B").to_string(),
                              "free": free, "current": this }));
            if this {
                shown = Some(json!({ "day": day.format("%A %-d %B").to_string(), "slots": slots }));
            }
        }
    }
    tx.commit().await?;
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "Learning labs", &[("Home", "/")]);
    ctx.insert("csrf_token", &token.0);
    ctx.insert("rooms", &rooms.iter().map(room_json).collect::<Vec<_>>());
    ctx.insert("chosen", &chosen.map(room_json));
    ctx.insert("days", &days);
    ctx.insert("shown", &shown);
    ctx.insert(
        "bookings",
        &bookings
            .iter()
            .map(|b| {
                json!({ "id": b.id.to_string(), "room": b.lab_name, "location": b.location,
                        "when": slot_words(site, b.starts_at, b.ends_at), "started": b.starts_at <= now })
            })
            .collect::<Vec<_>>(),
    );
    page::render(state, Some(site), "pages/labs.html", &ctx, StatusCode::OK)
}

fn clock_of(site: &Site, at: DateTime<Utc>) -> String {
    at.with_timezone(&site.zone()).format("%H:%M").to_string()
}

#[derive(Debug, Deserialize, Default)]
pub struct BookForm {
    #[serde(default)]
    start: String,
}

/// Books a PC in a slot the room offers (in the next two weeks, not started).
#[handler]
pub async fn book(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path(id): Path<String>,
    Form(f): Form<BookForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let id: Uuid = page::path_id(&id)?;
    let lab = labs::get(&tx, id).await?.filter(|l| l.active).ok_or(AppError::NotFound)?;
    let back = format!("/labs?lab={}", lab.id);
    let now = Utc::now();
    let slot = DateTime::parse_from_rfc3339(f.start.trim()).ok().map(|d| d.with_timezone(&Utc)).and_then(|from| {
        let day = from.with_timezone(&site.zone()).date_naive();
        lab.room
            .slots(day)
            .into_iter()
            .filter_map(|(s, e)| Some((site.at(day, s)?, site.at(day, e)?)))
            .find(|(s, _)| *s == from)
    });
    let Some((from, to)) = slot.filter(|(s, _)| *s > now && *s <= now + Duration::days(AHEAD_DAYS + 1)) else {
        tx.commit().await?;
        return Ok(see_other_saying(req, &back, "That slot cannot be booked: choose one of those shown"));
    };
    let back = format!("{back}&day={}", from.with_timezone(&site.zone()).date_naive());
    let said = match labs::book(&tx, &lab, me.person, from, to).await? {
        Booked::Booked(bid) => {
            let b = labs::booking_by_id(&tx, bid).await?.ok_or(AppError::NotFound)?;
            tell(state, site, &tx, &b, "booked").await?;
            audit::record(
                &tx,
                Some(me.person),
                "lab.booked",
                &bid.to_string(),
                None,
                json!({ "lab": lab.id.to_string() }),
            )
            .await?;
            format!("PC booked at {}: {}. Your email has a calendar entry", lab.room.name, slot_words(site, from, to))
        }
        Booked::Full => "Every PC in that slot has just been taken: choose another".to_owned(),
        Booked::Already => "You already have that slot".to_owned(),
        Booked::Limit => format!(
            "You already have {} upcoming {} here, the most you can book ahead: cancel one to book another",
            lab.room.max_bookings,
            if lab.room.max_bookings == 1 { "slot" } else { "slots" }
        ),
    };
    tx.commit().await?;
    Ok(see_other_saying(req, &back, said))
}

/// Cancels one of the person's bookings before it starts.
#[handler]
pub async fn cancel(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let id: Uuid = page::path_id(&id)?;
    let b = labs::cancel(&tx, me.person, id).await?.ok_or(AppError::NotFound)?;
    tell(state, site, &tx, &b, "cancelled").await?;
    audit::record(&tx, Some(me.person), "lab.cancelled", &id.to_string(), None, json!({})).await?;
    tx.commit().await?;
    let said = format!("Booking cancelled: {}, {}", b.lab_name, slot_words(site, b.starts_at, b.ends_at));
    Ok(see_other_saying(req, &format!("/labs?lab={}", b.lab), said))
}

// ---- The training managers' pages ----

/// The room form, as posted (the days' checkboxes repeat their name).
#[derive(Debug, Default)]
pub struct RoomForm {
    name: String,
    location: String,
    pcs: String,
    days: Vec<String>,
    opens: String,
    closes: String,
    slot_minutes: String,
    max_bookings: String,
    active: String,
}

impl RoomForm {
    fn from_pairs(pairs: &[(String, String)]) -> Self {
        let one = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
        RoomForm {
            name: one("name"),
            location: one("location"),
            pcs: one("pcs"),
            days: pairs.iter().filter(|(n, _)| n == "days").map(|(_, v)| v.clone()).collect(),
            opens: one("opens"),
            closes: one("closes"),
            slot_minutes: one("slot_minutes"),
            max_bookings: one("max_bookings"),
            active: one("active"),
        }
    }

    fn parse(&self) -> Result<RoomInput, FormErrors> {
        RoomInput::parse(
            &self.name,
            &self.location,
            &self.pcs,
            &self.days,
            &self.opens,
            &self.closes,
            &self.slot_minutes,
            &self.max_bookings,
        )
        .map_err(|e| {
            let mut errors = FormErrors::new();
            for (field, message) in e {
                errors.insert(field, message);
            }
            errors
        })
    }

    fn values(&self) -> serde_json::Value {
        json!({
            "name": self.name, "location": self.location, "pcs": self.pcs, "days": self.days.concat(),
            "opens": self.opens, "closes": self.closes, "slot_minutes": self.slot_minutes,
            "max_bookings": self.max_bookings, "active": self.active == "yes",
        })
    }
}

fn blank_room() -> serde_json::Value {
    json!({ "name": "", "location": "", "pcs": "", "days": "12345", "opens": "08:00", "closes": "18:00",
            "slot_minutes": "60", "max_bookings": "2", "active": true })
}

#[allow(clippy::too_many_arguments)] // the page's parts
async fn admin_render(
    state: &AppState,
    site: &Site,
    req: &Request,
    tx: &TenantTx,
    token: &CsrfToken,
    errors: &FormErrors,
    values: serde_json::Value,
    status: StatusCode,
) -> Result<Response, AppError> {
    let rooms = labs::list(tx, false).await?;
    let mut ctx =
        page::context(state, Some(site), &RequestInfo::of(req), "Learning labs", &[("Home", "/"), ("Admin", "/admin")]);
    errors.insert_into(&mut ctx);
    ctx.insert("csrf_token", &token.0);
    ctx.insert("values", &values);
    ctx.insert("rooms", &rooms.iter().map(room_json).collect::<Vec<_>>());
    ctx.insert("action", "/admin/labs");
    page::render(state, Some(site), "pages/admin_labs.html", &ctx, status)
}

/// The trust's rooms, with a form to add one.
#[handler]
pub async fn admin_page(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageTraining>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let Member { tx, .. } = member;
    let resp = admin_render(state, site, req, &tx, token, &FormErrors::new(), blank_room(), StatusCode::OK).await?;
    tx.commit().await?;
    Ok(resp)
}

/// Adds a room.
#[handler]
pub async fn add_room(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageTraining>,
    token: &CsrfToken,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let f = RoomForm::from_pairs(&pairs);
    match f.parse() {
        Ok(room) => {
            let id = labs::create(&tx, &room).await?;
            audit::record(&tx, Some(me.person), "lab.created", &id.to_string(), None, json!({ "name": room.name }))
                .await?;
            tx.commit().await?;
            Ok(see_other_saying(req, "/admin/labs", format!("{} added: staff can book it now", room.name)))
        }
        Err(errors) => {
            let resp =
                admin_render(state, site, req, &tx, token, &errors, f.values(), StatusCode::UNPROCESSABLE_ENTITY)
                    .await?;
            tx.commit().await?;
            Ok(resp)
        }
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct RegisterQuery {
    #[serde(default)]
    date: String,
}

#[allow(clippy::too_many_arguments)] // the page's parts
async fn room_render(
    state: &AppState,
    site: &Site,
    req: &Request,
    tx: &TenantTx,
    token: &CsrfToken,
    lab: &Lab,
    day: NaiveDate,
    errors: &FormErrors,
    values: serde_json::Value,
    status: StatusCode,
) -> Result<Response, AppError> {
    let from = site.at(day, chrono::NaiveTime::MIN).unwrap_or_else(Utc::now);
    let lines = labs::register(tx, lab.id, from, from + Duration::days(1)).await?;
    let now = Utc::now();
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        &lab.room.name,
        &[("Home", "/"), ("Admin", "/admin"), ("Learning labs", "/admin/labs")],
    );
    errors.insert_into(&mut ctx);
    ctx.insert("csrf_token", &token.0);
    ctx.insert("values", &values);
    ctx.insert("room", &room_json(lab));
    ctx.insert("action", &format!("/admin/labs/{}", lab.id));
    ctx.insert("day", &date_words(day));
    ctx.insert("date", &day.to_string());
    ctx.insert("previous", &(day - Duration::days(1)).to_string());
    ctx.insert("next", &(day + Duration::days(1)).to_string());
    ctx.insert(
        "register",
        &lines
            .iter()
            .map(|l| {
                json!({
                    "id": l.booking.id.to_string(), "name": l.name, "email": l.email,
                    "when": format!("{} to {}", clock_of(site, l.booking.starts_at), clock_of(site, l.booking.ends_at)),
                    "attendance": l.booking.attendance, "started": l.booking.starts_at <= now, "no_shows": l.no_shows,
                })
            })
            .collect::<Vec<_>>(),
    );
    page::render(state, Some(site), "pages/admin_lab.html", &ctx, status)
}

fn room_values(lab: &Lab) -> serde_json::Value {
    json!({
        "name": lab.room.name, "location": lab.room.location, "pcs": lab.room.pcs.to_string(), "days": lab.room.days,
        "opens": clock(lab.room.opens), "closes": clock(lab.room.closes),
        "slot_minutes": lab.room.slot_minutes.to_string(), "max_bookings": lab.room.max_bookings.to_string(),
        "active": lab.active,
    })
}

/// A room: its details to change, and its register for a day (today unless `date` says).
#[handler]
pub async fn room_page(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageTraining>,
    token: &CsrfToken,
    Path(id): Path<String>,
    Query(q): Query<RegisterQuery>,
) -> Result<Response, AppError> {
    let Member { tx, .. } = member;
    let id: Uuid = page::path_id(&id)?;
    let lab = labs::get(&tx, id).await?.ok_or(AppError::NotFound)?;
    let day = q.date.parse::<NaiveDate>().unwrap_or_else(|_| site.today());
    let values = room_values(&lab);
    let resp = room_render(state, site, req, &tx, token, &lab, day, &FormErrors::new(), values, StatusCode::OK).await?;
    tx.commit().await?;
    Ok(resp)
}

/// Changes a room (bookings already made stand).
#[handler]
pub async fn save_room(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageTraining>,
    token: &CsrfToken,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let f = RoomForm::from_pairs(&pairs);
    let id: Uuid = page::path_id(&id)?;
    let lab = labs::get(&tx, id).await?.ok_or(AppError::NotFound)?;
    match f.parse() {
        Ok(room) => {
            labs::update(&tx, id, &room, f.active == "yes").await?;
            audit::record(&tx, Some(me.person), "lab.changed", &id.to_string(), None, json!({ "name": room.name }))
                .await?;
            tx.commit().await?;
            let said = if f.active == "yes" {
                format!("{} saved", room.name)
            } else {
                format!("{} saved: it takes no new bookings", room.name)
            };
            Ok(see_other_saying(req, &format!("/admin/labs/{id}"), said))
        }
        Err(errors) => {
            let resp = room_render(
                state,
                site,
                req,
                &tx,
                token,
                &lab,
                site.today(),
                &errors,
                f.values(),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await?;
            tx.commit().await?;
            Ok(resp)
        }
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct MarkForm {
    #[serde(default)]
    attendance: String,
}

/// Records whether someone came to a slot that has started (a no-show, or attended).
#[handler]
pub async fn mark(
    Ctx { req, .. }: Ctx<'_>,
    member: Member<may::ManageTraining>,
    Path(id): Path<String>,
    Form(f): Form<MarkForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let id: Uuid = page::path_id(&id)?;
    let b = labs::booking_by_id(&tx, id).await?.ok_or(AppError::NotFound)?;
    if !labs::mark(&tx, id, &f.attendance, me.person).await? {
        return Err(AppError::NotFound);
    }
    audit::record(&tx, Some(me.person), "lab.marked", &id.to_string(), None, json!({ "attendance": f.attendance }))
        .await?;
    tx.commit().await?;
    let said = if f.attendance == "attended" { "Marked as attended" } else { "Marked as a no-show" };
    let day = b.starts_at.date_naive();
    Ok(see_other_saying(req, &format!("/admin/labs/{}?date={day}", b.lab), said))
}

/// Reminds those with a slot starting within a day (once each), with its calendar entry. Run by
/// the worker every minute for each trust. Returns how many were reminded.
pub async fn send_reminders(state: &AppState, site: &Site) -> Result<usize, AppError> {
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let due = labs::reminders_due(&tx, Utc::now() + Duration::hours(24), 500).await?;
    let mut sent = 0;
    for b in &due {
        if !labs::claim_reminder(&tx, b.id).await? {
            continue;
        }
        tell(state, site, &tx, b, "reminder").await?;
        sent += 1;
    }
    tx.commit().await?;
    Ok(sent)
}

/// `person`'s live lab bookings, as entries of their calendar feed.
pub(crate) async fn feed_entries(
    tx: &TenantTx,
    site: &Site,
    person: PersonId,
) -> Result<Vec<calendar::FeedEntry>, AppError> {
    Ok(labs::bookings_of(tx, person, Utc::now())
        .await?
        .into_iter()
        .map(|b| calendar::FeedEntry {
            uid: format!("lab-{}@{}", b.id, site.entry.slug),
            when: calendar::When::Between(b.starts_at, b.ends_at),
            summary: format!("PC booked: {}", b.lab_name),
            description: "A PC for your learning.".into(),
            location: b.location.clone(),
            url: Some(format!("{}labs?lab={}", site.url, b.lab)),
        })
        .collect())
}
