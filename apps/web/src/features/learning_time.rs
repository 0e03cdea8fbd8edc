//! Protected learning time (issue 22): a learner asks their line manager for a weekly allowance
//! (`/learning/time`), the line manager agrees or declines it on *Your team*, My learning plans
//! what fits in the coming sessions, and each person may have a calendar feed (a secret,
//! revocable link) of their learning time, due dates and booked sessions (`/calendar/<secret>.ics`).

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::features::account::render_email;
use crate::features::learner::{date_words, learning_view, sessions_json};
use crate::features::training::DecideForm;
use crate::http::form::FormErrors;
use crate::http::page::{self, RequestInfo, see_other_saying};
use crate::http::{Ctx, Member, may};
use poem::http::StatusCode;
use poem::web::{CsrfToken, Form, Path};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::json;
use trellis_db::learning_time::{self as lt, LearningTime};
use trellis_db::{TenantTx, audit, events, outbox, teams};
use trellis_domain::PersonId;
use trellis_domain::learning_time::{ALLOWANCES, Allowance, PLANNED, day_name, minutes_words, plan};
use trellis_integrations::calendar::{self, FeedEntry, When};

/// How many sessions the calendar feed holds.
const IN_FEED: usize = 12;

fn time_json(site: &Site, t: &LearningTime, manager: Option<&str>) -> serde_json::Value {
    json!({
        "words": t.allowance.words(),
        "agreed": t.agreed.map(|(_, at)| date_words(at.with_timezone(&site.zone()).date_naive())),
        "asked": date_words(t.asked_at.with_timezone(&site.zone()).date_naive()),
        "manager": manager,
    })
}

#[allow(clippy::too_many_arguments)] // the page's parts
async fn render(
    state: &AppState,
    site: &Site,
    req: &Request,
    tx: &TenantTx,
    token: &CsrfToken,
    me: PersonId,
    errors: &FormErrors,
    values: serde_json::Value,
    new_feed: Option<String>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let time = lt::of(tx, me).await?;
    let manager = match teams::manager_of(tx, me).await? {
        Some(m) => {
            trellis_db::identity::member_person(tx, m).await?.map(|p| format!("{} {}", p.given_name, p.family_name))
        }
        None => None,
    };
    let sessions = match time.as_ref().filter(|t| t.agreed.is_some()) {
        Some(t) => {
            let view = learning_view(state, tx, site, me).await?;
            sessions_json(&plan(&t.allowance, site.today(), &view.plan_items, PLANNED))
        }
        None => Vec::new(),
    };
    let feed = lt::feed(tx, me).await?;
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "Protected learning time",
        &[("Home", "/"), ("My learning", "/learning")],
    );
    errors.insert_into(&mut ctx);
    ctx.insert("csrf_token", &token.0);
    ctx.insert("values", &values);
    ctx.insert("time", &time.as_ref().map(|t| time_json(site, t, manager.as_deref())));
    ctx.insert("manager", &manager);
    ctx.insert("sessions", &sessions);
    ctx.insert(
        "allowances",
        &ALLOWANCES.iter().map(|m| json!({ "value": m, "words": minutes_words(*m) })).collect::<Vec<_>>(),
    );
    ctx.insert(
        "days",
        &(1..=5u32)
            .map(|d| {
                let day = chrono::Weekday::try_from(u8::try_from(d - 1).unwrap_or(0)).unwrap_or(chrono::Weekday::Mon);
                json!({ "value": d, "name": day_name(day) })
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert(
        "feed",
        &feed.map(|f| {
            json!({
                "made": date_words(f.created_at.with_timezone(&site.zone()).date_naive()),
                "fetches": f.fetches,
                "last": f.last_fetched.map(|d| crate::features::team::when(site, d)),
            })
        }),
    );
    ctx.insert("new_feed", &new_feed.map(|t| format!("{}calendar/{t}.ics", site.url)));
    page::render(state, Some(site), "pages/learning_time.html", &ctx, status)
}

fn no_values() -> serde_json::Value {
    json!({ "minutes": "", "weekday": "", "start": "" })
}

/// The learner's learning time: what is agreed or waiting, the plan, the form to ask, and their
/// calendar feed.
#[handler]
pub async fn page_get(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let resp =
        render(state, site, req, &tx, token, me.person, &FormErrors::new(), no_values(), None, StatusCode::OK).await?;
    tx.commit().await?;
    Ok(resp)
}

#[derive(Debug, Deserialize, Default)]
pub struct AskForm {
    #[serde(default)]
    minutes: String,
    #[serde(default)]
    weekday: String,
    #[serde(default)]
    start: String,
}

/// Asks the learner's line manager to agree a weekly allowance (emailing them).
#[handler]
pub async fn ask(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &CsrfToken,
    Form(f): Form<AskForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let mut errors = FormErrors::new();
    let manager = teams::manager_of(&tx, me.person).await?;
    let allowance = match Allowance::parse(&f.minutes, &f.weekday, &f.start) {
        Ok(a) => Some(a),
        Err(e) => {
            for (field, message) in e {
                errors.insert(field, message);
            }
            None
        }
    };
    if manager.is_none() {
        errors.insert(
            "minutes",
            "You have no line manager here to agree it with: ask your training manager to set your line manager",
        );
    }
    let (Some(allowance), Some(manager), true) = (allowance, manager, errors.is_empty()) else {
        let values = json!({ "minutes": f.minutes, "weekday": f.weekday, "start": f.start });
        let errors = errors.ordered_by(&["minutes", "weekday", "start"]);
        let resp =
            render(state, site, req, &tx, token, me.person, &errors, values, None, StatusCode::UNPROCESSABLE_ENTITY)
                .await?;
        tx.commit().await?;
        return Ok(resp);
    };
    lt::ask(&tx, me.person, me.person, &allowance).await?;
    if let Some(boss) = trellis_db::identity::member_person(&tx, manager).await? {
        let mail = render_email(
            state,
            site,
            "learning_time_asked",
            &boss.email,
            &format!("{} asks you to agree protected learning time", me.name),
            json!({ "name": boss.given_name, "learner": me.name, "words": allowance.words(),
                    "team_url": format!("{}team", site.url) }),
        )?;
        outbox::enqueue_email(&tx, &mail).await?;
    }
    audit::record(
        &tx,
        Some(me.person),
        "learning_time.asked",
        &me.person.to_string(),
        None,
        json!({ "minutes": allowance.minutes, "weekday": allowance.weekday_number() }),
    )
    .await?;
    tx.commit().await?;
    Ok(see_other_saying(
        req,
        "/learning/time",
        "Sent to your line manager to agree: you will get an email when they do",
    ))
}

/// Stops the learner's learning time (or takes back what they asked for).
#[handler]
pub async fn stop(Ctx { req, .. }: Ctx<'_>, member: Member<may::Anyone>) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    if !lt::remove(&tx, me.person).await? {
        return Err(AppError::NotFound);
    }
    audit::record(&tx, Some(me.person), "learning_time.stopped", &me.person.to_string(), None, json!({})).await?;
    tx.commit().await?;
    Ok(see_other_saying(req, "/learning/time", "Your learning time has stopped"))
}

/// A line manager agrees or declines the learning time one of their team asked for (a reason is
/// needed to decline; the learner sees it in the email).
#[handler]
pub async fn decide(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path(person): Path<String>,
    Form(f): Form<DecideForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let person: PersonId = page::path_id(&person)?;
    let Some((time, name)) = lt::waiting_for(&tx, me.person).await?.into_iter().find(|(t, _)| t.person == person)
    else {
        return Err(AppError::NotFound);
    };
    let agree = match f.decision.as_str() {
        "approve" => true,
        "decline" if !f.reason.trim().is_empty() => false,
        "decline" => {
            tx.commit().await?;
            return Ok(see_other_saying(req, "/team", format!("Give a reason to decline {name}'s learning time")));
        }
        _ => return Err(AppError::NotFound),
    };
    if agree {
        lt::agree(&tx, person, me.person).await?;
    } else {
        lt::remove(&tx, person).await?;
    }
    if let Some(who) = trellis_db::identity::member_person(&tx, person).await? {
        let subject = if agree { "Your learning time is agreed" } else { "Your learning time was not agreed" };
        let mail = render_email(
            state,
            site,
            "learning_time_decided",
            &who.email,
            subject,
            json!({ "name": who.given_name, "manager": me.name, "agreed": agree, "words": time.allowance.words(),
                    "reason": f.reason.trim(), "url": format!("{}learning/time", site.url) }),
        )?;
        outbox::enqueue_email(&tx, &mail).await?;
    }
    audit::record(
        &tx,
        Some(me.person),
        if agree { "learning_time.agreed" } else { "learning_time.declined" },
        &person.to_string(),
        None,
        json!({}),
    )
    .await?;
    tx.commit().await?;
    let said = if agree {
        format!("{name}'s learning time agreed: {}", time.allowance.words())
    } else {
        format!("{name}'s learning time declined: they see your reason")
    };
    Ok(see_other_saying(req, "/team", said))
}

// ---- The calendar feed ----

/// Makes the learner a new calendar feed (revoking any before) and shows its link, once.
#[handler]
pub async fn make_feed(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let secret = page::link_token();
    lt::new_feed(&tx, me.person, &secret).await?;
    audit::record(&tx, Some(me.person), "calendar_feed.made", &me.person.to_string(), None, json!({})).await?;
    let resp =
        render(state, site, req, &tx, token, me.person, &FormErrors::new(), no_values(), Some(secret), StatusCode::OK)
            .await?;
    tx.commit().await?;
    Ok(resp)
}

/// Turns the learner's calendar feed off: its link stops working at once.
#[handler]
pub async fn feed_off(Ctx { req, .. }: Ctx<'_>, member: Member<may::Anyone>) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    if !lt::revoke_feed(&tx, me.person).await? {
        return Err(AppError::NotFound);
    }
    audit::record(&tx, Some(me.person), "calendar_feed.revoked", &me.person.to_string(), None, json!({})).await?;
    tx.commit().await?;
    Ok(see_other_saying(req, "/learning/time", "Calendar link turned off: calendars using it get nothing more"))
}

/// The calendar feed of the link's owner: their agreed learning time for the next 12 sessions
/// (each with what the plan puts in it), the due dates of their mandatory training still to do,
/// and the face-to-face sessions they have a place at. Any other link is not found.
#[handler]
pub async fn calendar_feed(Ctx { state, site, .. }: Ctx<'_>, Path(file): Path<String>) -> Result<Response, AppError> {
    let Some(secret) = file.strip_suffix(".ics").filter(|s| !s.is_empty() && s.len() <= 64) else {
        return Err(AppError::NotFound);
    };
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let Some(person) = lt::feed_owner(&tx, secret).await? else {
        tx.commit().await?;
        return Err(AppError::NotFound);
    };
    let host = site.entry.slug.clone();
    let view = learning_view(state, &tx, site, person).await?;
    let mut entries = Vec::new();
    if let Some(time) = lt::of(&tx, person).await?.filter(|t| t.agreed.is_some()) {
        let planned = plan(&time.allowance, site.today(), &view.plan_items, IN_FEED);
        for on in time.allowance.next_days(site.today(), IN_FEED) {
            let parts = planned.iter().find(|p| p.on == on).map_or(&[][..], |p| &p.parts[..]);
            let Some(starts) = site.at(on, time.allowance.start) else { continue };
            let ends = starts + chrono::Duration::minutes(i64::from(time.allowance.minutes));
            let plan: Vec<String> =
                parts.iter().map(|p| format!("{} ({})", p.title, minutes_words(p.minutes))).collect();
            entries.push(FeedEntry {
                uid: format!("learning-time-{person}-{on}@{host}"),
                when: When::Between(starts, ends),
                summary: "Protected learning time".into(),
                description: if plan.is_empty() {
                    "Time agreed with your line manager for your training.".into()
                } else {
                    format!("Planned: {}", plan.join("; "))
                },
                location: String::new(),
                url: Some(format!("{}learning", site.url)),
            });
        }
    }
    for m in view.mandatory.iter().filter(|m| m["status"] != "complete") {
        let (Some(id), Some(title), Some(due)) = (m["id"].as_str(), m["title"].as_str(), m["due"].as_str()) else {
            continue;
        };
        let Ok(due) = due.parse::<chrono::NaiveDate>() else { continue };
        entries.push(FeedEntry {
            uid: format!("due-{id}-{person}@{host}"),
            when: When::Day(due),
            summary: format!("Due: {title}"),
            description: format!("Mandatory training due at {}.", site.entry.name),
            location: String::new(),
            url: Some(format!("{}courses/{id}", site.url)),
        });
    }
    let booked = events::booked(&tx, person, chrono::Utc::now()).await?;
    let courses =
        trellis_db::catalogue::courses_by_id(&tx, &booked.iter().map(|e| e.course.as_uuid()).collect::<Vec<_>>())
            .await?;
    for e in &booked {
        let title = courses.get(&e.course.as_uuid()).map_or("Face-to-face session", |c| c.title.as_str());
        entries.push(FeedEntry {
            uid: format!("booked-{}-{person}@{host}", e.id),
            when: When::Between(e.starts_at, e.ends_at),
            summary: title.to_owned(),
            description: format!("Your place at a face-to-face session. {}", e.joining).trim().to_owned(),
            location: if e.meeting_url.is_empty() { e.venue.clone() } else { e.meeting_url.clone() },
            url: Some(format!("{}courses/{}", site.url, e.course)),
        });
    }
    entries.extend(crate::features::labs::feed_entries(&tx, site, person).await?);
    tx.commit().await?;
    let body = calendar::feed(&format!("Learning at {}", site.entry.name), &entries);
    Ok(Response::builder()
        .header("Content-Type", "text/calendar; charset=utf-8")
        .header("Cache-Control", "private, no-store")
        .header("Content-Disposition", "inline; filename=\"learning.ics\"")
        .body(body))
}
