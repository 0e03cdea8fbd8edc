//! The enquiry desk: *Contact us* on every trust's site (signed in or not) records an enquiry
//! with a reference, emails the enquirer an acknowledgement with a private link to the thread, and
//! tells the trust's training managers. They answer at *Enquiries* (each reply is emailed, with
//! the reference in its subject, so mail programs thread it), and close or reopen it; the enquirer
//! replies through their link. A request to close an account is due within five working days, and
//! both the form and the desk say by when. Everything is audited.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::features::account::render_email;
use crate::http::form::FormErrors;
use crate::http::page::{self, RequestInfo};
use crate::http::{Ctx, Member, may};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use poem::http::StatusCode;
use poem::session::Session;
use poem::web::{CsrfToken, Form, Path, Query};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};
use trellis_db::enquiries::{self as desk, Enquiry, NewEnquiry, TOPICS};
use trellis_db::{audit, identity as id, outbox};

/// Enquiries from one address in an hour: generous, since a hospital's staff share one.
const PER_ADDRESS: u64 = 100;
/// Enquiries from one email address in an hour.
const PER_EMAIL: u64 = 5;
/// The longest message accepted.
const MAX_MESSAGE: usize = 5_000;
const PAGE: u64 = 50;
/// Working days within which a request to close an account is dealt with.
pub const CLOSURE_DAYS: u32 = 5;

/// `from` plus `n` working days (Monday to Friday; bank holidays are not known, so they count).
pub fn add_working_days(from: NaiveDate, n: u32) -> NaiveDate {
    let mut d = from;
    let mut left = n;
    while left > 0 {
        d += Duration::days(1);
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    d
}

#[derive(Debug, Deserialize, Default, serde::Serialize)]
pub struct ContactForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    message: String,
}

fn topics() -> Vec<Value> {
    TOPICS.iter().map(|(k, label)| json!({ "key": k, "label": label })).collect()
}

fn topic_words(key: &str) -> &'static str {
    TOPICS.iter().find(|(k, _)| *k == key).map_or("Enquiry", |(_, l)| l)
}

fn when(site: &Site, t: DateTime<Utc>) -> String {
    t.with_timezone(&site.zone()).format("%-d %B %Y at %H:%M").to_string()
}

fn day(site: &Site, t: DateTime<Utc>) -> String {
    t.with_timezone(&site.zone()).format("%A %-d %B %Y").to_string()
}

/// The signed-in person's name and email, to fill the form in.
async fn who_is_here(
    state: &AppState,
    site: &Site,
    session: &Session,
) -> Result<Option<(trellis_domain::PersonId, String, String)>, AppError> {
    let Some(me) = crate::http::auth::current(state, site, session).await? else { return Ok(None) };
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let p = id::member_person(&tx, me.person).await?;
    tx.commit().await?;
    Ok(p.map(|p| (me.person, format!("{} {}", p.given_name, p.family_name), p.email)))
}

/// The *Contact us* form.
#[handler]
pub async fn contact_form(
    Ctx { req, state, site }: Ctx<'_>,
    session: &Session,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let me = who_is_here(state, site, session).await?;
    let values = match &me {
        Some((_, name, email)) => json!({ "name": name, "email": email }),
        None => json!({}),
    };
    form_page(state, site, req, &token.0, values, &FormErrors::new(), StatusCode::OK)
}

fn form_page(
    state: &AppState,
    site: &Site,
    req: &Request,
    csrf: &str,
    values: Value,
    errors: &FormErrors,
    status: StatusCode,
) -> Result<Response, AppError> {
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "Contact us", &[("Home", "/")]);
    ctx.insert("csrf_token", csrf);
    ctx.insert("topics", &topics());
    ctx.insert("values", &values);
    errors.insert_into(&mut ctx);
    ctx.insert("closure_days", &CLOSURE_DAYS);
    page::render(state, Some(site), "pages/contact.html", &ctx, status)
}

fn too_many(state: &AppState, site: &Site, req: &Request, retry: u64) -> Result<Response, AppError> {
    let mut resp = crate::features::account::message_page(
        state,
        site,
        req,
        StatusCode::TOO_MANY_REQUESTS,
        "Too many enquiries",
        &format!(
            "We have had a lot of messages from you in the last hour. Wait {} minute(s) and send it again; your message was not kept.",
            retry.div_ceil(60)
        ),
        None,
    )?;
    if let Ok(v) = retry.to_string().parse() {
        resp.headers_mut().insert("retry-after", v);
    }
    Ok(resp)
}

/// Who to email about a new enquiry (`what`: "new") or a follow-up: the trust's training
/// managers, but at most once in 15 minutes for each (the desk's list shows them all), so a flood
/// of enquiries is not a flood of email.
async fn desk_to_tell(
    state: &AppState,
    site: &Site,
    tx: &trellis_db::TenantTx,
    what: &str,
) -> Result<Vec<String>, AppError> {
    let key = format!("enquiry:desk-notice:{}:{what}", site.entry.id);
    if state.limiter.hit(&key, 1, std::time::Duration::from_secs(15 * 60)).await.is_err() {
        return Ok(Vec::new());
    }
    Ok(desk::desk_addresses(tx).await?)
}

/// The client's address, as a rate-limit key ("-" when unknown).
fn client_ip(state: &AppState, req: &Request) -> String {
    crate::features::account::client_ip(state, req).unwrap_or_else(|| "-".to_owned())
}

/// Records an enquiry, acknowledges it by email with a private link, and tells the desk.
#[handler]
pub async fn contact(
    Ctx { req, state, site }: Ctx<'_>,
    session: &Session,
    token: &CsrfToken,
    Form(f): Form<ContactForm>,
) -> Result<Response, AppError> {
    let me = who_is_here(state, site, session).await?;
    let name = f.name.trim().to_owned();
    // Signed in, the enquiry is theirs and goes to their own address.
    let email = match &me {
        Some((_, _, email)) => email.clone(),
        None => f.email.trim().to_lowercase(),
    };
    let message = f.message.trim().to_owned();
    let mut errors = FormErrors::new();
    if name.is_empty() {
        errors.insert("name", "Enter your name");
    } else if name.chars().count() > 200 {
        errors.insert("name", "Your name must be 200 characters or fewer");
    }
    if let Err(why) = trellis_domain::identity::Email::parse(&email) {
        errors.insert("email", why);
    }
    if !TOPICS.iter().any(|(k, _)| *k == f.topic) {
        errors.insert("topic", "Choose what your enquiry is about");
    }
    if let Some(why) = message_error(&message, "message") {
        errors.insert("message", why);
    }
    if !errors.is_empty() {
        let values = json!({ "name": name, "email": email, "topic": f.topic, "message": message });
        return form_page(state, site, req, &token.0, values, &errors, StatusCode::BAD_REQUEST);
    }
    let window = std::time::Duration::from_secs(3600);
    for (key, max) in [
        (format!("enquiry:ip:{}:{}", site.entry.id, client_ip(state, req)), PER_ADDRESS),
        (format!("enquiry:email:{}:{email}", site.entry.id), PER_EMAIL),
    ] {
        if let Err(retry) = state.limiter.hit(&key, max, window).await {
            return too_many(state, site, req, retry);
        }
    }
    let due_at = (f.topic == desk::ACCOUNT).then(|| {
        let due = add_working_days(site.today(), CLOSURE_DAYS);
        due.and_hms_opt(17, 0, 0)
            .and_then(|t| t.and_local_timezone(site.zone()).single())
            .map_or_else(|| Utc::now() + Duration::days(7), |t| t.with_timezone(&Utc))
    });
    let raw = page::link_token();
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let e = desk::open(
        &tx,
        NewEnquiry {
            person: me.as_ref().map(|(p, _, _)| *p),
            name: name.clone(),
            email: email.clone(),
            topic: f.topic.clone(),
            body: message.clone(),
            due_at,
        },
        &raw,
    )
    .await?;
    let link = format!("{}contact/{}?token={raw}", site.url, e.id);
    let due_words = e.due_at.map(|d| day(site, d));
    let ack = render_email(
        state,
        site,
        "enquiry_received",
        &email,
        &format!("[{}] We have your enquiry", e.reference),
        json!({ "name": name, "reference": e.reference, "topic": topic_words(&e.topic), "link": link, "due": due_words }),
    )?;
    outbox::enqueue_email(&tx, &ack).await?;
    for to in desk_to_tell(state, site, &tx, "new").await? {
        let mail = render_email(
            state,
            site,
            "enquiry_new",
            &to,
            &format!("[{}] New enquiry: {}", e.reference, topic_words(&e.topic)),
            json!({ "reference": e.reference, "topic": topic_words(&e.topic), "link": format!("{}admin/enquiries/{}", site.url, e.id),
                    "due": due_words }),
        )?;
        outbox::enqueue_email(&tx, &mail).await?;
    }
    audit::record(
        &tx,
        me.as_ref().map(|(p, _, _)| *p),
        "enquiry.received",
        &e.reference,
        None,
        json!({ "topic": e.topic }),
    )
    .await?;
    tx.commit().await?;
    crate::context::queue::wake(state).await;
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "Enquiry sent", &[("Home", "/")]);
    ctx.insert("reference", &e.reference);
    ctx.insert("email", &email);
    ctx.insert("due", &due_words);
    page::render(state, Some(site), "pages/contact_sent.html", &ctx, StatusCode::OK)
}

/// The enquirer's view of their thread, by their private link.
#[handler]
pub async fn thread_page(
    Ctx { req, state, site }: Ctx<'_>,
    token: &CsrfToken,
    Path(id): Path<String>,
    Query(q): Query<crate::features::account::TokenQuery>,
) -> Result<Response, AppError> {
    let id: uuid::Uuid = page::path_id(&id)?;
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let e = desk::by_token(&tx, id, &q.token).await?.ok_or(AppError::NotFound)?;
    let messages = desk::thread(&tx, id).await?;
    tx.commit().await?;
    thread_view(state, site, req, &token.0, &e, &messages, Some(&q.token), None, &FormErrors::new(), StatusCode::OK)
}

#[allow(clippy::too_many_arguments)]
fn thread_view(
    state: &AppState,
    site: &Site,
    req: &Request,
    csrf: &str,
    e: &Enquiry,
    messages: &[desk::Message],
    link_token: Option<&str>,
    names: Option<&std::collections::HashMap<trellis_domain::PersonId, String>>,
    errors: &FormErrors,
    status: StatusCode,
) -> Result<Response, AppError> {
    let staff = link_token.is_none();
    let title = format!("Enquiry {}", e.reference);
    let crumbs: &[(&str, &str)] =
        if staff { &[("Home", "/"), ("Enquiries", "/admin/enquiries")] } else { &[("Home", "/")] };
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), &title, crumbs);
    ctx.insert("csrf_token", csrf);
    ctx.insert("staff", &staff);
    ctx.insert("link_token", &link_token);
    ctx.insert("enquiry", &enquiry_json(site, e));
    let thread: Vec<Value> = messages
        .iter()
        .map(|m| {
            let who = if m.from_staff {
                match (staff, m.author.and_then(|a| names.and_then(|n| n.get(&a)))) {
                    (true, Some(n)) => n.clone(),
                    _ => site.entry.name.clone(),
                }
            } else {
                e.name.clone()
            };
            json!({ "from_staff": m.from_staff, "who": who, "when": when(site, m.created_at), "body": m.body })
        })
        .collect();
    ctx.insert("thread", &thread);
    errors.insert_into(&mut ctx);
    page::render(state, Some(site), "pages/enquiry.html", &ctx, status)
}

fn enquiry_json(site: &Site, e: &Enquiry) -> Value {
    let status = match e.status.as_str() {
        "open" => "Waiting for a reply from us",
        "answered" => "Answered",
        _ => "Closed",
    };
    json!({
        "id": e.id.to_string(), "reference": e.reference, "name": e.name, "email": e.email,
        "topic": topic_words(&e.topic), "account": e.topic == desk::ACCOUNT, "subject": e.subject,
        "status": e.status, "status_words": status, "received": when(site, e.created_at),
        "due": e.due_at.map(|d| day(site, d)), "overdue": e.status != "closed" && e.due_at.is_some_and(|d| d < Utc::now()),
        "person": e.person.map(|p| p.to_string()),
    })
}

#[derive(Debug, Deserialize, Default)]
pub struct ReplyForm {
    #[serde(default)]
    message: String,
    #[serde(default)]
    token: String,
}

/// What is wrong with a message (`what`: "message" on the form, "reply" in a thread), if anything.
fn message_error(message: &str, what: &str) -> Option<String> {
    if message.trim().is_empty() {
        Some(format!("Enter your {what}"))
    } else if message.chars().count() > MAX_MESSAGE {
        Some(format!("Your {what} must be {MAX_MESSAGE} characters or fewer"))
    } else {
        None
    }
}

/// How the desk names its own people in a thread.
async fn staff_names(
    tx: &trellis_db::TenantTx,
    messages: &[desk::Message],
) -> Result<std::collections::HashMap<trellis_domain::PersonId, String>, AppError> {
    let authors: Vec<_> = messages.iter().filter_map(|m| m.author).collect();
    Ok(id::member_names(tx, &authors).await?)
}

/// The enquirer's reply through their link: the enquiry is open again and the desk is told.
#[handler]
pub async fn enquirer_reply(
    Ctx { req, state, site }: Ctx<'_>,
    csrf: &CsrfToken,
    Path(id): Path<String>,
    Form(f): Form<ReplyForm>,
) -> Result<Response, AppError> {
    let id: uuid::Uuid = page::path_id(&id)?;
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let e = desk::by_token(&tx, id, &f.token).await?.ok_or(AppError::NotFound)?;
    if let Some(why) = message_error(&f.message, "reply") {
        let errors = FormErrors::one("message", why);
        let messages = desk::thread(&tx, id).await?;
        tx.commit().await?;
        return thread_view(
            state,
            site,
            req,
            &csrf.0,
            &e,
            &messages,
            Some(&f.token),
            None,
            &errors,
            StatusCode::BAD_REQUEST,
        );
    }
    let window = std::time::Duration::from_secs(3600);
    for (key, max) in [
        (format!("enquiry:reply:{}:{id}", site.entry.id), PER_EMAIL * 2),
        (format!("enquiry:ip:{}:{}", site.entry.id, client_ip(state, req)), PER_ADDRESS),
    ] {
        if let Err(retry) = state.limiter.hit(&key, max, window).await {
            return too_many(state, site, req, retry);
        }
    }
    let was_waiting = e.status == "open";
    desk::reply(&tx, id, None, f.message.trim()).await?;
    // The desk hears of a follow-up only when it makes the enquiry wait for them again.
    let tell = if was_waiting { Vec::new() } else { desk_to_tell(state, site, &tx, "follow-up").await? };
    for to in tell {
        let mail = render_email(
            state,
            site,
            "enquiry_new",
            &to,
            &format!("[{}] A reply to an enquiry: {}", e.reference, topic_words(&e.topic)),
            json!({ "reference": e.reference, "topic": topic_words(&e.topic), "reply": true,
                    "link": format!("{}admin/enquiries/{}", site.url, e.id), "due": e.due_at.map(|d| day(site, d)) }),
        )?;
        outbox::enqueue_email(&tx, &mail).await?;
    }
    audit::record(&tx, e.person, "enquiry.followed_up", &e.reference, None, json!({})).await?;
    tx.commit().await?;
    crate::context::queue::wake(state).await;
    let back = format!("/contact/{id}?token={}", f.token);
    Ok(page::see_other_saying(req, &back, "Your reply has been sent"))
}

#[derive(Debug, Deserialize, Default)]
pub struct DeskQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    page: u64,
}

/// The desk: the trust's enquiries, open ones first by default.
#[handler]
pub async fn desk_list(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageStaff>,
    Query(q): Query<DeskQuery>,
) -> Result<Response, AppError> {
    let Member { tx, .. } = member;
    let status = match q.status.as_str() {
        "" | "open" => Some("open"),
        "answered" => Some("answered"),
        "closed" => Some("closed"),
        _ => None,
    };
    let page_no = q.page.min(100_000);
    let (rows, total) = desk::list(&tx, status, page_no * PAGE, PAGE).await?;
    tx.commit().await?;
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "Enquiries", &[("Home", "/")]);
    ctx.insert("enquiries", &rows.iter().map(|e| enquiry_json(site, e)).collect::<Vec<_>>());
    ctx.insert("status", status.unwrap_or("all"));
    ctx.insert("total", &total);
    let pages = total.div_ceil(PAGE).max(1);
    let link = |p: u64| format!("/admin/enquiries?status={}&page={p}", status.unwrap_or("all"));
    ctx.insert("prev_url", &(page_no > 0).then(|| link(page_no - 1)));
    ctx.insert("next_url", &(page_no + 1 < pages).then(|| link(page_no + 1)));
    page::render(state, Some(site), "pages/admin_enquiries.html", &ctx, StatusCode::OK)
}

/// One enquiry, its thread and the reply form, for the desk.
#[handler]
pub async fn desk_enquiry(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageStaff>,
    token: &CsrfToken,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let Member { tx, .. } = member;
    let id: uuid::Uuid = page::path_id(&id)?;
    let e = desk::by_id(&tx, id).await?.ok_or(AppError::NotFound)?;
    let messages = desk::thread(&tx, id).await?;
    let names = staff_names(&tx, &messages).await?;
    tx.commit().await?;
    thread_view(state, site, req, &token.0, &e, &messages, None, Some(&names), &FormErrors::new(), StatusCode::OK)
}

/// A reply from the desk: kept in the thread, emailed to the enquirer; the enquiry is answered.
#[handler]
pub async fn desk_reply(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageStaff>,
    csrf: &CsrfToken,
    Path(id): Path<String>,
    Form(f): Form<ReplyForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let id: uuid::Uuid = page::path_id(&id)?;
    let e = desk::by_id(&tx, id).await?.ok_or(AppError::NotFound)?;
    if let Some(why) = message_error(&f.message, "reply") {
        let errors = FormErrors::one("message", why);
        let messages = desk::thread(&tx, id).await?;
        let names = staff_names(&tx, &messages).await?;
        tx.commit().await?;
        return thread_view(
            state,
            site,
            req,
            &csrf.0,
            &e,
            &messages,
            None,
            Some(&names),
            &errors,
            StatusCode::BAD_REQUEST,
        );
    }
    desk::reply(&tx, id, Some(me.person), f.message.trim()).await?;
    let mail = render_email(
        state,
        site,
        "enquiry_reply",
        &e.email,
        &format!("Re: [{}] {}", e.reference, topic_words(&e.topic)),
        json!({ "name": e.name, "reference": e.reference, "message": f.message.trim() }),
    )?;
    outbox::enqueue_email(&tx, &mail).await?;
    audit::record(&tx, Some(me.person), "enquiry.answered", &e.reference, None, json!({})).await?;
    tx.commit().await?;
    crate::context::queue::wake(state).await;
    Ok(page::see_other_saying(req, &format!("/admin/enquiries/{id}"), "Your reply has been sent"))
}

#[derive(Debug, Deserialize, Default)]
pub struct StatusForm {
    #[serde(default)]
    decision: String,
}

/// Closes an enquiry, or opens it again.
#[handler]
pub async fn desk_status(
    Ctx { req, .. }: Ctx<'_>,
    member: Member<may::ManageStaff>,
    Path(id): Path<String>,
    Form(f): Form<StatusForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let id: uuid::Uuid = page::path_id(&id)?;
    let closed = match f.decision.as_str() {
        "close" => true,
        "reopen" => false,
        _ => return Err(AppError::BadRequest("Choose close or reopen.".into())),
    };
    let e = desk::by_id(&tx, id).await?.ok_or(AppError::NotFound)?;
    desk::set_closed(&tx, id, closed).await?;
    let action = if closed { "enquiry.closed" } else { "enquiry.reopened" };
    audit::record(&tx, Some(me.person), action, &e.reference, None, json!({})).await?;
    tx.commit().await?;
    let said = if closed {
        format!("Enquiry {} is closed", e.reference)
    } else {
        format!("Enquiry {} is open again", e.reference)
    };
    Ok(page::see_other_saying(req, &format!("/admin/enquiries/{id}"), said))
}

#[cfg(test)]
mod tests {
    use super::add_working_days;
    use chrono::NaiveDate;

    #[test]
    fn five_working_days_skip_the_weekend() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default();
        // Monday 7 December 2026 → Monday 14 December; Thursday → the next Thursday.
        assert_eq!(add_working_days(d(2026, 12, 7), 5), d(2026, 12, 14));
        assert_eq!(add_working_days(d(2026, 12, 10), 5), d(2026, 12, 17));
        // Saturday → the next Friday.
        assert_eq!(add_working_days(d(2026, 12, 12), 5), d(2026, 12, 18));
    }
}
