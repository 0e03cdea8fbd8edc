//! Coaching (issue 22): a coach's caseload (`/coaching`: who is and isn't doing which courses,
//! when each was last active and last contacted, follow-ups due), a learner's page for their coach
//! (their training, the follow-up log, a contact to log, an email to send from a template), the
//! admins' pages that appoint coaches and give them caseloads by hand or by rule
//! (`/admin/coaches`), and the daily reminder of follow-ups due. A coach sees their own caseload
//! only.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::features::account::render_email;
use crate::features::learner::{date_words, learning_view};
use crate::features::team::{start_of_today, still_to_do, when};
use crate::http::form::FormErrors;
use crate::http::page::{self, RequestInfo, see_other_saying};
use crate::http::{Ctx, Member, may};
use poem::http::StatusCode;
use poem::web::{CsrfToken, Form, Path, Query};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use trellis_db::coaching::{self, CaseloadQuery, Method, NewContact, Refused, RuleKind, Show};
use trellis_db::identity as id;
use trellis_db::{TenantTx, audit, compliance, outbox, staff};
use trellis_domain::{CourseId, PersonId};

/// How many of a caseload the dashboard shows at once.
const SHOWN: u64 = 200;
/// The longest note or message a coach may write.
const MAX_NOTE: usize = 4000;

/// The emails a coach can send: (key, what the form calls it, subject).
const MESSAGES: &[(&str, &str, &str)] = &[
    ("check_in", "Checking in: how is your training going?", "How is your training going?"),
    ("catch_up", "Catching up: the training you still have to do", "Catching up on your training"),
    ("well_done", "Well done: recognising progress", "Well done on your training"),
];

fn method_words(m: Method) -> &'static str {
    match m {
        Method::Phone => "Phone call",
        Method::Email => "Email",
        Method::InPerson => "In person",
        Method::Message => "Email sent from this site",
    }
}

fn status_words(status: Option<&str>) -> &'static str {
    match status {
        Some("active") => "In progress",
        Some("completed") => "Completed",
        Some("requested") => "Asked for a place",
        Some("payment") => "Waiting for payment",
        Some("withdrawn") => "Left the course",
        Some("rejected") => "Place declined",
        Some("expired") => "Access ended",
        _ => "Not enrolled",
    }
}

async fn not_a_coach(tx: TenantTx) -> Result<Response, AppError> {
    tx.commit().await?;
    Err(AppError::forbidden(
        "You are not a coach here",
        "This page is for coaches: it lists the training of the learners they follow up. Your trust's training managers appoint coaches.",
        Some(("Go to your home page", "/")),
    ))
}

#[derive(Debug, Deserialize, Default)]
pub struct CaseloadParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    show: String,
    #[serde(default)]
    course: String,
}

/// The signed-in coach's caseload.
#[handler]
pub async fn caseload_page(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Query(params): Query<CaseloadParams>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    if !coaching::is_coach(&tx, me.person).await? {
        return not_a_coach(tx).await;
    }
    let today = site.today();
    let listing = state.catalogue.listing(&tx, me.catalogue).await?;
    let course = params.course.parse::<CourseId>().ok().filter(|c| listing.get(*c).is_some());
    let show = match params.show.as_str() {
        "overdue" => Show::Overdue,
        "inactive" => Show::Inactive,
        "follow_up" => Show::FollowUpDue,
        "not_on_course" if course.is_some() => Show::NotOnCourse,
        _ => Show::Everyone,
    };
    let q = CaseloadQuery { search: params.q.trim().to_owned(), show, course, limit: SHOWN + 1 };
    let mut rows = coaching::caseload(&tx, me.person, today, &q).await?;
    let size = coaching::caseload_size(&tx, me.person).await?;
    let due = coaching::follow_ups_due(&tx, me.person, today).await?;
    tx.commit().await?;
    let more = rows.len() as u64 > SHOWN;
    rows.truncate(SHOWN as usize);
    let learners: Vec<_> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.person.to_string(),
                "name": format!("{} {}", r.given_name, r.family_name).trim(),
                "email": r.email,
                "mandatory": r.mandatory,
                "complete": r.complete,
                "overdue": r.overdue,
                "in_progress": r.in_progress,
                "last_active": r.last_active.map(|d| when(site, d)),
                "last_contact": r.last_contact.map(date_words),
                "follow_up": r.follow_up.map(date_words),
                "follow_up_due": r.follow_up.is_some_and(|d| d <= today),
                "course_status": status_words(r.course_status.as_deref()),
            })
        })
        .collect();
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "Your coaching caseload", &[("Home", "/")]);
    ctx.insert("learners", &learners);
    ctx.insert("more", &more);
    ctx.insert("size", &size);
    ctx.insert("q", &q.search);
    ctx.insert(
        "show",
        match show {
            Show::Everyone => "",
            Show::Overdue => "overdue",
            Show::Inactive => "inactive",
            Show::FollowUpDue => "follow_up",
            Show::NotOnCourse => "not_on_course",
        },
    );
    ctx.insert("course", &course.map(|c| c.to_string()).unwrap_or_default());
    ctx.insert("course_title", &course.and_then(|c| listing.get(c)).map(|c| c.course.title.clone()));
    ctx.insert(
        "courses",
        &listing
            .cards
            .iter()
            .map(|c| json!({ "id": c.course.id.to_string(), "title": c.course.title }))
            .collect::<Vec<_>>(),
    );
    ctx.insert(
        "due",
        &due.iter()
            .map(|d| json!({ "id": d.person.to_string(), "name": d.name, "due_on": date_words(d.due_on) }))
            .collect::<Vec<_>>(),
    );
    page::render(state, Some(site), "pages/coaching.html", &ctx, StatusCode::OK)
}

/// The coach's page for one learner of their caseload.
#[allow(clippy::too_many_arguments)] // the page's parts
async fn learner_render(
    state: &AppState,
    site: &Site,
    req: &Request,
    tx: &TenantTx,
    token: &CsrfToken,
    learner: &id::Person,
    errors: &FormErrors,
    values: serde_json::Value,
    status: StatusCode,
) -> Result<Response, AppError> {
    let view = learning_view(state, tx, site, learner.id).await?;
    let contacts = coaching::contacts(tx, learner.id, 200).await?;
    let name = format!("{} {}", learner.given_name, learner.family_name).trim().to_owned();
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        &name,
        &[("Home", "/"), ("Your coaching caseload", "/coaching")],
    );
    errors.insert_into(&mut ctx);
    ctx.insert("csrf_token", &token.0);
    ctx.insert("values", &values);
    ctx.insert("learner", &json!({ "id": learner.id.to_string(), "name": name, "email": learner.email }));
    ctx.insert("mandatory", &view.mandatory);
    ctx.insert("in_progress", &view.in_progress);
    ctx.insert("requested", &view.requested);
    ctx.insert("completed", &view.completed);
    ctx.insert(
        "contacts",
        &contacts
            .iter()
            .map(|c| {
                json!({
                    "coach": c.coach.clone().unwrap_or_else(|| "A former coach".into()),
                    "method": method_words(c.method),
                    "note": c.note,
                    "on": date_words(c.contacted_on),
                    "next_on": c.next_on.map(date_words),
                })
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert(
        "methods",
        &[Method::Phone, Method::Email, Method::InPerson]
            .iter()
            .map(|m| json!({ "key": m.as_str(), "label": method_words(*m) }))
            .collect::<Vec<_>>(),
    );
    ctx.insert(
        "messages",
        &MESSAGES.iter().map(|(k, label, _)| json!({ "key": k, "label": label })).collect::<Vec<_>>(),
    );
    page::render(state, Some(site), "pages/coaching_learner.html", &ctx, status)
}

/// The learner of `raw` if they are in `me`'s caseload (otherwise not found, as for anyone else's).
async fn caseload_learner(tx: &TenantTx, me: PersonId, raw: &str) -> Result<id::Person, AppError> {
    let learner: PersonId = page::path_id(raw)?;
    if !coaching::is_coach(tx, me).await? || !coaching::in_caseload(tx, me, learner).await? {
        return Err(AppError::NotFound);
    }
    id::member_person(tx, learner).await?.ok_or(AppError::NotFound)
}

fn today_values(site: &Site) -> serde_json::Value {
    json!({ "contacted_on": site.today().to_string(), "method": "", "note": "", "next_on": "", "message": "", "extra": "" })
}

/// One learner of the coach's caseload: their training and the follow-up log.
#[handler]
pub async fn learner_page(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &CsrfToken,
    Path(person): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let learner = caseload_learner(&tx, me.person, &person).await?;
    let resp =
        learner_render(state, site, req, &tx, token, &learner, &FormErrors::new(), today_values(site), StatusCode::OK)
            .await?;
    tx.commit().await?;
    Ok(resp)
}

/// The contact form, as posted (the dates as the NHS date input's day, month and year).
#[derive(Debug, Deserialize, Default)]
pub struct ContactForm {
    #[serde(flatten)]
    fields: HashMap<String, String>,
}

impl ContactForm {
    fn get(&self, k: &str) -> String {
        self.fields.get(k).cloned().unwrap_or_default()
    }

    fn date(&self, k: &str) -> Option<Result<chrono::NaiveDate, ()>> {
        page::date_entered(
            &self.get(k),
            [&self.get(&format!("{k}-day")), &self.get(&format!("{k}-month")), &self.get(&format!("{k}-year"))],
        )
    }

    fn date_typed(&self, k: &str) -> String {
        page::date_as_typed(
            &self.get(k),
            [&self.get(&format!("{k}-day")), &self.get(&format!("{k}-month")), &self.get(&format!("{k}-year"))],
        )
    }
}

/// Logs a contact with a learner of the caseload, and sets or clears the next follow-up.
#[handler]
pub async fn log_contact(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &CsrfToken,
    Path(person): Path<String>,
    Form(f): Form<ContactForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let learner = caseload_learner(&tx, me.person, &person).await?;
    let today = site.today();
    let mut errors = FormErrors::new();
    // A message through the site is logged by sending it, not by this form.
    let method = Method::from_word(&f.get("method")).filter(|m| *m != Method::Message);
    if method.is_none() {
        errors.insert("method", "Choose how you were in touch");
    }
    let note = f.get("note").trim().to_owned();
    if note.is_empty() {
        errors.insert("note", "Enter a note of what you talked about");
    } else if note.chars().count() > MAX_NOTE {
        errors.insert("note", format!("The note must be {MAX_NOTE} characters or fewer"));
    }
    let contacted_on = match f.date("contacted_on") {
        None => {
            errors.insert("contacted_on", "Enter the date you were in touch");
            None
        }
        Some(Err(())) => {
            errors.insert("contacted_on", "The date you were in touch must be a real date, for example 3 12 2026");
            None
        }
        Some(Ok(d)) if d > today => {
            errors.insert("contacted_on", "The date you were in touch must be today or in the past");
            None
        }
        Some(Ok(d)) if d < today - chrono::Duration::days(366) => {
            errors.insert("contacted_on", "The date you were in touch must be within the last year");
            None
        }
        Some(Ok(d)) => Some(d),
    };
    let next_on = match f.date("next_on") {
        None => None,
        Some(Err(())) => {
            errors.insert("next_on", "The next follow-up must be a real date, for example 10 1 2027");
            None
        }
        Some(Ok(d)) if d <= today => {
            errors.insert("next_on", "The next follow-up must be a date after today");
            None
        }
        Some(Ok(d)) if d > today + chrono::Duration::days(366) => {
            errors.insert("next_on", "The next follow-up must be within a year");
            None
        }
        Some(Ok(d)) => Some(d),
    };
    let (Some(method), Some(contacted_on)) = (method.filter(|_| errors.is_empty()), contacted_on) else {
        let values = json!({
            "method": f.get("method"), "note": f.get("note"),
            "contacted_on": f.date_typed("contacted_on"), "next_on": f.date_typed("next_on"),
            "message": "", "extra": "",
        });
        let errors = errors.ordered_by(&["method", "contacted_on", "note", "next_on"]);
        let resp =
            learner_render(state, site, req, &tx, token, &learner, &errors, values, StatusCode::UNPROCESSABLE_ENTITY)
                .await?;
        tx.commit().await?;
        return Ok(resp);
    };
    let contact = NewContact { method, note, contacted_on, next_on };
    coaching::record_contact(&tx, me.person, learner.id, &contact).await?;
    audit::record(
        &tx,
        Some(me.person),
        "coaching.contact_logged",
        &learner.id.to_string(),
        None,
        json!({ "method": method.as_str(), "next_on": next_on }),
    )
    .await?;
    tx.commit().await?;
    let said = match next_on {
        Some(d) => format!("Contact logged. Next follow-up: {}", date_words(d)),
        None => "Contact logged. No follow-up is planned".to_owned(),
    };
    Ok(see_other_saying(req, &format!("/coaching/{}", learner.id), said))
}

/// Emails a learner of the caseload from one of the templates (with an optional note of the
/// coach's own; replies go to the coach), at most once a day, logged as a contact.
#[handler]
pub async fn send_message(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &CsrfToken,
    Path(person): Path<String>,
    Form(f): Form<ContactForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let learner = caseload_learner(&tx, me.person, &person).await?;
    let mut errors = FormErrors::new();
    let chosen = MESSAGES.iter().find(|(k, ..)| *k == f.get("message"));
    if chosen.is_none() {
        errors.insert("message", "Choose which email to send");
    }
    let extra = f.get("extra").trim().to_owned();
    if extra.chars().count() > MAX_NOTE {
        errors.insert("extra", format!("Your own words must be {MAX_NOTE} characters or fewer"));
    }
    let Some((key, label, subject)) = chosen.filter(|_| errors.is_empty()) else {
        let mut values = today_values(site);
        values["message"] = json!(f.get("message"));
        values["extra"] = json!(f.get("extra"));
        let resp =
            learner_render(state, site, req, &tx, token, &learner, &errors, values, StatusCode::UNPROCESSABLE_ENTITY)
                .await?;
        tx.commit().await?;
        return Ok(resp);
    };
    let name = format!("{} {}", learner.given_name, learner.family_name).trim().to_owned();
    let back = format!("/coaching/{}", learner.id);
    if coaching::messaged_since(&tx, me.person, learner.id, start_of_today(site)).await? {
        tx.commit().await?;
        return Ok(see_other_saying(
            req,
            &back,
            format!("{name} was already emailed from this site today: try again tomorrow"),
        ));
    }
    let Some(coach) = id::member_person(&tx, me.person).await? else { return Err(AppError::NotFound) };
    let courses = if *key == "catch_up" { still_to_do(&tx, site, learner.id).await? } else { Vec::new() };
    let mut mail = render_email(
        state,
        site,
        "coach_message",
        &learner.email,
        subject,
        json!({
            "name": learner.given_name,
            "coach": me.name,
            "kind": key,
            "extra": extra,
            "courses": courses,
            "learning_url": format!("{}learning", site.url),
        }),
    )?;
    mail.reply_to = Some(coach.email.clone());
    outbox::enqueue_email(&tx, &mail).await?;
    let note = if extra.is_empty() { (*label).to_owned() } else { format!("{label}\n\n{extra}") };
    let contact = NewContact { method: Method::Message, note, contacted_on: site.today(), next_on: None };
    // A message keeps the follow-up already planned: log it without touching the follow-up.
    coaching::record_message(&tx, me.person, learner.id, &contact).await?;
    audit::record(&tx, Some(me.person), "coaching.emailed", &learner.id.to_string(), None, json!({ "template": key }))
        .await?;
    tx.commit().await?;
    Ok(see_other_saying(req, &back, format!("{name} has been emailed: replies come to you")))
}

// ---- The admins' pages ----

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
    let coaches = coaching::coaches(tx, 500).await?;
    let mut ctx =
        page::context(state, Some(site), &RequestInfo::of(req), "Coaches", &[("Home", "/"), ("Admin", "/admin")]);
    errors.insert_into(&mut ctx);
    ctx.insert("csrf_token", &token.0);
    ctx.insert("values", &values);
    ctx.insert(
        "coaches",
        &coaches
            .iter()
            .map(|c| {
                json!({
                    "id": c.person.to_string(), "name": c.name, "email": c.email, "caseload": c.caseload,
                    "by_hand": c.by_hand, "rules": c.rules.iter().map(rule_words).collect::<Vec<_>>(),
                })
            })
            .collect::<Vec<_>>(),
    );
    page::render(state, Some(site), "pages/admin_coaches.html", &ctx, status)
}

fn rule_words(r: &coaching::Rule) -> String {
    match r.kind {
        RuleKind::Department => format!("Department: {}", r.value),
        RuleKind::StaffGroup => format!("Staff group: {}", r.value),
    }
}

/// The trust's coaches, with a form to appoint one.
#[handler]
pub async fn admin_page(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageStaff>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let Member { tx, .. } = member;
    let resp = admin_render(state, site, req, &tx, token, &FormErrors::new(), json!({}), StatusCode::OK).await?;
    tx.commit().await?;
    Ok(resp)
}

#[derive(Debug, Deserialize, Default)]
pub struct EmailForm {
    #[serde(default)]
    email: String,
}

/// A member of this trust named by email, or the field's error.
async fn member_named(
    tx: &TenantTx,
    email: &str,
    whom: &str,
    errors: &mut FormErrors,
) -> Result<Option<PersonId>, AppError> {
    let email = email.trim();
    if email.is_empty() {
        errors.insert("email", format!("Enter the email address of {whom}"));
        return Ok(None);
    }
    let found = id::member_by_email(tx, email).await?;
    if found.is_none() {
        errors.insert("email", format!("Nobody at this trust has the email address {email}"));
    }
    Ok(found)
}

/// Appoints a coach, named by email address.
#[handler]
pub async fn appoint(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageStaff>,
    token: &CsrfToken,
    Form(f): Form<EmailForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let mut errors = FormErrors::new();
    if let Some(person) = member_named(&tx, &f.email, "the person to appoint", &mut errors).await? {
        match coaching::appoint(&tx, person, me.person).await? {
            Ok(new) => {
                if new {
                    audit::record(
                        &tx,
                        Some(me.person),
                        "coaching.coach_appointed",
                        &person.to_string(),
                        None,
                        json!({}),
                    )
                    .await?;
                }
                tx.commit().await?;
                let said = if new {
                    format!("{} is now a coach: give them a caseload below", f.email.trim())
                } else {
                    format!("{} is already a coach", f.email.trim())
                };
                return Ok(see_other_saying(req, &format!("/admin/coaches/{person}"), said));
            }
            Err(_) => errors.insert("email", "Only an approved member of this trust can be a coach"),
        }
    }
    let resp = admin_render(
        state,
        site,
        req,
        &tx,
        token,
        &errors,
        json!({ "email": f.email }),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await?;
    tx.commit().await?;
    Ok(resp)
}

#[allow(clippy::too_many_arguments)] // the page's parts
async fn coach_render(
    state: &AppState,
    site: &Site,
    req: &Request,
    tx: &TenantTx,
    token: &CsrfToken,
    coach: &id::Person,
    errors: &FormErrors,
    values: serde_json::Value,
    status: StatusCode,
) -> Result<Response, AppError> {
    let learners = coaching::by_hand(tx, coach.id).await?;
    let summary = coaching::coaches(tx, 1000).await?.into_iter().find(|c| c.person == coach.id);
    let (departments, groups) = (staff::departments(tx).await?, staff::staff_groups(tx).await?);
    let name = format!("{} {}", coach.given_name, coach.family_name).trim().to_owned();
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        &format!("Coach: {name}"),
        &[("Home", "/"), ("Admin", "/admin"), ("Coaches", "/admin/coaches")],
    );
    errors.insert_into(&mut ctx);
    ctx.insert("csrf_token", &token.0);
    ctx.insert("values", &values);
    ctx.insert("coach", &json!({ "id": coach.id.to_string(), "name": name, "email": coach.email }));
    ctx.insert("caseload", &summary.as_ref().map_or(0, |s| s.caseload));
    ctx.insert(
        "rules",
        &summary
            .as_ref()
            .map(|s| {
                s.rules.iter().map(|r| json!({ "id": r.id.to_string(), "words": rule_words(r) })).collect::<Vec<_>>()
            })
            .unwrap_or_default(),
    );
    ctx.insert(
        "learners",
        &learners
            .iter()
            .map(|l| json!({ "id": l.person.to_string(), "name": l.name, "email": l.email }))
            .collect::<Vec<_>>(),
    );
    ctx.insert("departments", &departments);
    ctx.insert("groups", &groups);
    page::render(state, Some(site), "pages/admin_coach.html", &ctx, status)
}

/// A coach of this trust, from the path (not found otherwise).
async fn coach_at(tx: &TenantTx, raw: &str) -> Result<id::Person, AppError> {
    let coach: PersonId = page::path_id(raw)?;
    if !coaching::is_coach(tx, coach).await? {
        return Err(AppError::NotFound);
    }
    id::member_person(tx, coach).await?.ok_or(AppError::NotFound)
}

/// One coach: their caseload by hand and by rule, to change.
#[handler]
pub async fn coach_page(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageStaff>,
    token: &CsrfToken,
    Path(person): Path<String>,
) -> Result<Response, AppError> {
    let Member { tx, .. } = member;
    let coach = coach_at(&tx, &person).await?;
    let resp =
        coach_render(state, site, req, &tx, token, &coach, &FormErrors::new(), json!({}), StatusCode::OK).await?;
    tx.commit().await?;
    Ok(resp)
}

/// Gives a learner (by email) to the coach by hand.
#[handler]
pub async fn add_learner(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageStaff>,
    token: &CsrfToken,
    Path(person): Path<String>,
    Form(f): Form<EmailForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let coach = coach_at(&tx, &person).await?;
    let mut errors = FormErrors::new();
    if let Some(learner) = member_named(&tx, &f.email, "the learner", &mut errors).await? {
        match coaching::assign(&tx, coach.id, learner).await? {
            Ok(before) => {
                audit::record(
                    &tx,
                    Some(me.person),
                    "coaching.learner_assigned",
                    &learner.to_string(),
                    None,
                    json!({ "coach": coach.id.to_string(), "from": before.map(|b| b.to_string()) }),
                )
                .await?;
                tx.commit().await?;
                let said = if before.is_some() {
                    format!("{} moved to this coach's caseload from another coach's", f.email.trim())
                } else {
                    format!("{} added to this coach's caseload", f.email.trim())
                };
                return Ok(see_other_saying(req, &format!("/admin/coaches/{}", coach.id), said));
            }
            Err(Refused::Themselves) => errors.insert("email", "A coach cannot be in their own caseload"),
            Err(_) => errors.insert("email", "Only an approved member of this trust can be in a caseload"),
        }
    }
    let resp = coach_render(
        state,
        site,
        req,
        &tx,
        token,
        &coach,
        &errors,
        json!({ "email": f.email }),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await?;
    tx.commit().await?;
    Ok(resp)
}

/// Takes a learner out of the coach's hand.
#[handler]
pub async fn remove_learner(
    Ctx { req, .. }: Ctx<'_>,
    member: Member<may::ManageStaff>,
    Path((person, learner)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let coach = coach_at(&tx, &person).await?;
    let learner: PersonId = page::path_id(&learner)?;
    if !coaching::unassign(&tx, coach.id, learner).await? {
        return Err(AppError::NotFound);
    }
    audit::record(
        &tx,
        Some(me.person),
        "coaching.learner_removed",
        &learner.to_string(),
        None,
        json!({ "coach": coach.id.to_string() }),
    )
    .await?;
    tx.commit().await?;
    Ok(see_other_saying(req, &format!("/admin/coaches/{}", coach.id), "Learner taken out of this coach's caseload"))
}

#[derive(Debug, Deserialize, Default)]
pub struct RuleForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    staff_group: String,
}

/// Adds a caseload rule: everyone in a department, or a staff group.
#[handler]
pub async fn add_rule(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageStaff>,
    token: &CsrfToken,
    Path(person): Path<String>,
    Form(f): Form<RuleForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let coach = coach_at(&tx, &person).await?;
    let mut errors = FormErrors::new();
    let kind = RuleKind::from_word(&f.kind);
    let value = match kind {
        Some(RuleKind::Department) => f.department.trim(),
        Some(RuleKind::StaffGroup) => f.staff_group.trim(),
        None => {
            errors.insert("kind", "Choose whether the rule is by department or by staff group");
            ""
        }
    };
    if let Some(kind) = kind {
        let (field, known) = match kind {
            RuleKind::Department => ("department", staff::departments(&tx).await?),
            RuleKind::StaffGroup => ("staff_group", staff::staff_groups(&tx).await?),
        };
        if value.is_empty() {
            errors.insert(field, "Choose one from the list");
        } else if !known.iter().any(|k| k == value) {
            errors.insert(field, format!("Nobody on your staff records has {value}: choose one from the list"));
        }
    }
    if let (Some(kind), true) = (kind, errors.is_empty()) {
        let added = coaching::add_rule(&tx, coach.id, kind, value).await?.map_err(|_| AppError::NotFound)?;
        if added {
            audit::record(
                &tx,
                Some(me.person),
                "coaching.rule_added",
                &coach.id.to_string(),
                None,
                json!({ "kind": kind.as_str(), "value": value }),
            )
            .await?;
        }
        tx.commit().await?;
        let words = rule_words(&coaching::Rule { id: uuid::Uuid::nil(), kind, value: value.to_owned() });
        let said =
            if added { format!("Rule added: {words}") } else { format!("This coach already has the rule {words}") };
        return Ok(see_other_saying(req, &format!("/admin/coaches/{}", coach.id), said));
    }
    let values = json!({ "kind": f.kind, "department": f.department, "staff_group": f.staff_group });
    let resp =
        coach_render(state, site, req, &tx, token, &coach, &errors, values, StatusCode::UNPROCESSABLE_ENTITY).await?;
    tx.commit().await?;
    Ok(resp)
}

/// Removes one of the coach's rules.
#[handler]
pub async fn remove_rule(
    Ctx { req, .. }: Ctx<'_>,
    member: Member<may::ManageStaff>,
    Path((person, rule)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let coach = coach_at(&tx, &person).await?;
    let rule: uuid::Uuid = page::path_id(&rule)?;
    if !coaching::remove_rule(&tx, coach.id, rule).await? {
        return Err(AppError::NotFound);
    }
    audit::record(&tx, Some(me.person), "coaching.rule_removed", &coach.id.to_string(), None, json!({})).await?;
    tx.commit().await?;
    Ok(see_other_saying(req, &format!("/admin/coaches/{}", coach.id), "Rule removed"))
}

/// Ends a coach's appointment.
#[handler]
pub async fn stand_down(
    Ctx { req, .. }: Ctx<'_>,
    member: Member<may::ManageStaff>,
    Path(person): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let coach = coach_at(&tx, &person).await?;
    coaching::stand_down(&tx, coach.id).await?;
    audit::record(&tx, Some(me.person), "coaching.coach_stood_down", &coach.id.to_string(), None, json!({})).await?;
    tx.commit().await?;
    let said = format!("{} is no longer a coach; the log of their contacts is kept", coach.email);
    Ok(see_other_saying(req, "/admin/coaches", said))
}

/// Once a day (the worker's first run of the day for the trust): each coach with follow-ups
/// falling due that they have not been reminded of is emailed the list. Returns how many emails
/// were queued.
pub async fn follow_up_reminders(state: &AppState, site: &Site) -> Result<usize, AppError> {
    let today = site.today();
    let tx = state.dbs.app.begin(site.entry.id).await?;
    if !compliance::claim_daily(&tx, "coach_follow_ups", today).await? {
        tx.commit().await?;
        return Ok(0);
    }
    let mut sent = 0;
    for coach in coaching::coaches_to_remind(&tx, today).await? {
        let due = coaching::follow_ups_due(&tx, coach, today).await?;
        coaching::mark_reminded(&tx, coach, today).await?;
        let Some(who) = id::member_person(&tx, coach).await? else { continue };
        if due.is_empty() {
            continue;
        }
        let n = due.len();
        let mail = render_email(
            state,
            site,
            "coach_follow_ups",
            &who.email,
            &format!("{n} {} due", if n == 1 { "follow-up is" } else { "follow-ups are" }),
            json!({
                "name": who.given_name,
                "due": due.iter().map(|d| json!({
                    "name": d.name, "due_on": date_words(d.due_on), "url": format!("{}coaching/{}", site.url, d.person),
                })).collect::<Vec<_>>(),
                "caseload_url": format!("{}coaching?show=follow_up", site.url),
            }),
        )?;
        outbox::enqueue_email(&tx, &mail).await?;
        sent += 1;
    }
    audit::record(&tx, None, "coaching.reminders_sent", "", None, json!({ "coaches": sent })).await?;
    tx.commit().await?;
    Ok(sent)
}
