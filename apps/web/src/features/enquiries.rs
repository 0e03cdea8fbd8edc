//! The enquiry desks: *Contact us* on every trust's site (signed in or not) and on the platform's
//! own site records an enquiry with a reference, emails the enquirer an acknowledgement with a
//! private link to the thread, and tells the desk: the trust's training managers, or the
//! platform's administrators. They answer at *Enquiries* (each reply is emailed, with the
//! reference in its subject, so mail programs thread it), and close or reopen it; the enquirer
//! replies through their link. A request to close an account (a trust's desk only: accounts are
//! closed where their learning is) is due within five working days, and both the form and the desk
//! say by when. Everything is audited. The platform's enquiries are kept under the national
//! catalogue's owner, a tenant no trust can read.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::features::account::{Sender, render_email, render_email_from};
use crate::http::form::FormErrors;
use crate::http::page::{self, RequestInfo};
use crate::http::{Ctx, Member, PlatformAdmin, may};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use poem::http::StatusCode;
use poem::session::Session;
use poem::web::{CsrfToken, Form, Path, Query};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use trellis_db::enquiries::{self as enq, Enquiry, NewEnquiry, TOPICS};
use trellis_db::{audit, identity as id, outbox};
use trellis_domain::{PersonId, TenantId};

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

/// Whose desk: a trust's (enquiries kept as its rows, pages in its theme) or the platform's.
pub(crate) struct Desk {
    site: Option<Arc<Site>>,
    /// Whose rows the enquiries are.
    owner: TenantId,
    /// What the pages and emails call the desk's side.
    name: String,
    /// The site's address, ending in `/`.
    url: String,
    zone: chrono_tz::Tz,
}

impl Desk {
    fn trust(site: &Arc<Site>) -> Desk {
        Desk {
            site: Some(site.clone()),
            owner: site.entry.id,
            name: site.entry.name.clone(),
            url: site.url.clone(),
            zone: site.zone(),
        }
    }

    fn platform(state: &AppState) -> Desk {
        let mut url = state.config.url_for_host(&state.config.server.base_domain);
        if !url.ends_with('/') {
            url.push('/');
        }
        Desk { site: None, owner: TenantId::NATIONAL, name: "Trellis".into(), url, zone: chrono_tz::Europe::London }
    }

    fn is_platform(&self) -> bool {
        self.site.is_none()
    }

    fn key(&self) -> String {
        self.owner.to_string()
    }

    fn topics(&self) -> Vec<Value> {
        TOPICS
            .iter()
            .filter(|(k, _)| !self.is_platform() || *k != enq::ACCOUNT)
            .map(|(k, label)| json!({ "key": k, "label": label }))
            .collect()
    }

    fn when(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.zone).format("%-d %B %Y at %H:%M").to_string()
    }

    fn day(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.zone).format("%A %-d %B %Y").to_string()
    }

    fn context(&self, state: &AppState, req: &Request, title: &str, crumbs: &[(&str, &str)]) -> tera::Context {
        let mut ctx = page::context(state, self.site.as_deref(), &RequestInfo::of(req), title, crumbs);
        ctx.insert("desk_name", &self.name);
        ctx.insert("platform_desk", &self.is_platform());
        ctx
    }

    fn render(
        &self,
        state: &AppState,
        template: &str,
        ctx: &tera::Context,
        status: StatusCode,
    ) -> Result<Response, AppError> {
        page::render(state, self.site.as_deref(), template, ctx, status)
    }

    /// An email from the desk: in the trust's theme and name, or the platform's.
    fn email(
        &self,
        state: &AppState,
        name: &str,
        to: &str,
        subject: &str,
        extra: Value,
    ) -> Result<outbox::OutgoingEmail, AppError> {
        if let Some(site) = &self.site {
            return render_email(state, site, name, to, subject, extra);
        }
        let tenant = tera::Value::from_serializable(&json!({ "name": self.name }));
        let from = Sender { theme: "default", tenant, url: &self.url, name: &self.name };
        render_email_from(state, &from, name, to, subject, extra)
    }

    /// Who the desk emails about enquiries: the trust's training managers, or the platform's
    /// administrators.
    async fn addresses(&self, state: &AppState, tx: &trellis_db::TenantTx) -> Result<Vec<String>, AppError> {
        if self.is_platform() {
            return Ok(state.dbs.platform.platform_admin_emails().await?);
        }
        Ok(enq::desk_addresses(tx).await?)
    }

    /// Records a step in the trust's audit trail, in its transaction (the platform's desk records
    /// its steps with [`Desk::recorded`], once its transaction is committed).
    async fn record(
        &self,
        tx: &trellis_db::TenantTx,
        actor: Option<PersonId>,
        action: &str,
        reference: &str,
        detail: Value,
    ) -> Result<(), AppError> {
        if !self.is_platform() {
            audit::record(tx, actor, action, reference, None, detail).await?;
        }
        Ok(())
    }

    /// Records a step of the platform's desk in the platform's audit (after its transaction).
    async fn recorded(
        &self,
        state: &AppState,
        actor: Option<PersonId>,
        action: &str,
        reference: &str,
    ) -> Result<(), AppError> {
        if self.is_platform() {
            let who = actor.map_or_else(|| "visitor".to_owned(), |p| format!("person:{p}"));
            let detail = json!({ "reference": reference }).to_string();
            state.dbs.platform.record_platform_audit(&who, action, None, detail).await?;
        }
        Ok(())
    }

    /// How the desk names its own people in a thread.
    async fn staff_names(
        &self,
        state: &AppState,
        tx: &trellis_db::TenantTx,
        messages: &[enq::Message],
    ) -> Result<std::collections::HashMap<PersonId, String>, AppError> {
        let authors: Vec<_> = messages.iter().filter_map(|m| m.author).collect();
        if self.is_platform() {
            return Ok(state.dbs.platform.person_names_across_tenants(&authors).await?);
        }
        Ok(id::member_names(tx, &authors).await?)
    }
}

fn topic_words(key: &str) -> &'static str {
    TOPICS.iter().find(|(k, _)| *k == key).map_or("Enquiry", |(_, l)| l)
}

/// The signed-in person's name and email, to fill the form in (on a trust's site).
async fn who_is_here(
    state: &AppState,
    desk: &Desk,
    session: &Session,
) -> Result<Option<(PersonId, String, String)>, AppError> {
    let Some(site) = &desk.site else { return Ok(None) };
    let Some(me) = crate::http::auth::current(state, site, session).await? else { return Ok(None) };
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let p = id::member_person(&tx, me.person).await?;
    tx.commit().await?;
    Ok(p.map(|p| (me.person, format!("{} {}", p.given_name, p.family_name), p.email)))
}

/// The *Contact us* form on a trust's site.
#[handler]
pub async fn contact_form(
    Ctx { req, state, site }: Ctx<'_>,
    session: &Session,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    show_form(state, &Desk::trust(site), req, session, token).await
}

/// The *Contact us* form on the platform's site.
#[handler]
pub async fn platform_contact_form(
    req: &Request,
    poem::web::Data(state): poem::web::Data<&AppState>,
    session: &Session,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    show_form(state, &Desk::platform(state), req, session, token).await
}

async fn show_form(
    state: &AppState,
    desk: &Desk,
    req: &Request,
    session: &Session,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let me = who_is_here(state, desk, session).await?;
    let values = match &me {
        Some((_, name, email)) => json!({ "name": name, "email": email }),
        None => json!({}),
    };
    form_page(state, desk, req, &token.0, values, &FormErrors::new(), StatusCode::OK)
}

fn form_page(
    state: &AppState,
    desk: &Desk,
    req: &Request,
    csrf: &str,
    values: Value,
    errors: &FormErrors,
    status: StatusCode,
) -> Result<Response, AppError> {
    let mut ctx = desk.context(state, req, "Contact us", &[("Home", "/")]);
    ctx.insert("csrf_token", csrf);
    ctx.insert("topics", &desk.topics());
    ctx.insert("values", &values);
    errors.insert_into(&mut ctx);
    ctx.insert("closure_days", &CLOSURE_DAYS);
    desk.render(state, "pages/contact.html", &ctx, status)
}

fn too_many(state: &AppState, desk: &Desk, req: &Request, retry: u64) -> Result<Response, AppError> {
    let heading = "Too many enquiries";
    let mut ctx = desk.context(state, req, heading, &[("Home", "/")]);
    ctx.insert("heading", heading);
    ctx.insert(
        "body",
        &format!(
            "We have had a lot of messages from you in the last hour. Wait {} minute(s) and send it again; your message was not kept.",
            retry.div_ceil(60)
        ),
    );
    ctx.insert("link", &Value::Null);
    let mut resp = desk.render(state, "pages/message.html", &ctx, StatusCode::TOO_MANY_REQUESTS)?;
    if let Ok(v) = retry.to_string().parse() {
        resp.headers_mut().insert("retry-after", v);
    }
    Ok(resp)
}

/// Who to email about a new enquiry (`what`: "new") or a follow-up: the desk's people, but at
/// most once in 15 minutes for each (the desk's list shows them all), so a flood of enquiries is
/// not a flood of email.
async fn desk_to_tell(
    state: &AppState,
    desk: &Desk,
    tx: &trellis_db::TenantTx,
    what: &str,
) -> Result<Vec<String>, AppError> {
    let key = format!("enquiry:desk-notice:{}:{what}", desk.key());
    if state.limiter.hit(&key, 1, std::time::Duration::from_secs(15 * 60)).await.is_err() {
        return Ok(Vec::new());
    }
    desk.addresses(state, tx).await
}

/// The client's address, as a rate-limit key ("-" when unknown).
fn client_ip(state: &AppState, req: &Request) -> String {
    crate::features::account::client_ip(state, req).unwrap_or_else(|| "-".to_owned())
}

/// Records an enquiry to a trust, acknowledges it by email with a private link, tells the desk.
#[handler]
pub async fn contact(
    Ctx { req, state, site }: Ctx<'_>,
    session: &Session,
    token: &CsrfToken,
    Form(f): Form<ContactForm>,
) -> Result<Response, AppError> {
    send(state, &Desk::trust(site), req, session, token, f).await
}

/// Records an enquiry to the platform's desk.
#[handler]
pub async fn platform_contact(
    req: &Request,
    poem::web::Data(state): poem::web::Data<&AppState>,
    session: &Session,
    token: &CsrfToken,
    Form(f): Form<ContactForm>,
) -> Result<Response, AppError> {
    send(state, &Desk::platform(state), req, session, token, f).await
}

async fn send(
    state: &AppState,
    desk: &Desk,
    req: &Request,
    session: &Session,
    token: &CsrfToken,
    f: ContactForm,
) -> Result<Response, AppError> {
    let me = who_is_here(state, desk, session).await?;
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
    if !desk.topics().iter().any(|t| t["key"] == json!(f.topic)) {
        errors.insert("topic", "Choose what your enquiry is about");
    }
    if let Some(why) = message_error(&message, "message") {
        errors.insert("message", why);
    }
    if !errors.is_empty() {
        let values = json!({ "name": name, "email": email, "topic": f.topic, "message": message });
        return form_page(state, desk, req, &token.0, values, &errors, StatusCode::BAD_REQUEST);
    }
    let window = std::time::Duration::from_secs(3600);
    for (key, max) in [
        (format!("enquiry:ip:{}:{}", desk.key(), client_ip(state, req)), PER_ADDRESS),
        (format!("enquiry:email:{}:{email}", desk.key()), PER_EMAIL),
    ] {
        if let Err(retry) = state.limiter.hit(&key, max, window).await {
            return too_many(state, desk, req, retry);
        }
    }
    let due_at = (f.topic == enq::ACCOUNT).then(|| {
        let today = Utc::now().with_timezone(&desk.zone).date_naive();
        let due = add_working_days(today, CLOSURE_DAYS);
        due.and_hms_opt(17, 0, 0)
            .and_then(|t| t.and_local_timezone(desk.zone).single())
            .map_or_else(|| Utc::now() + Duration::days(7), |t| t.with_timezone(&Utc))
    });
    let raw = page::link_token();
    let tx = state.dbs.app.begin(desk.owner).await?;
    let e = enq::open(
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
    let link = format!("{}contact/{}?token={raw}", desk.url, e.id);
    let due_words = e.due_at.map(|d| desk.day(d));
    let ack = desk.email(
        state,
        "enquiry_received",
        &email,
        &format!("[{}] We have your enquiry", e.reference),
        json!({ "name": name, "reference": e.reference, "topic": topic_words(&e.topic), "link": link, "due": due_words }),
    )?;
    outbox::enqueue_email(&tx, &ack).await?;
    for to in desk_to_tell(state, desk, &tx, "new").await? {
        let mail = desk.email(
            state,
            "enquiry_new",
            &to,
            &format!("[{}] New enquiry: {}", e.reference, topic_words(&e.topic)),
            json!({ "reference": e.reference, "topic": topic_words(&e.topic), "link": format!("{}admin/enquiries/{}", desk.url, e.id),
                    "due": due_words }),
        )?;
        outbox::enqueue_email(&tx, &mail).await?;
    }
    let actor = me.as_ref().map(|(p, _, _)| *p);
    desk.record(&tx, actor, "enquiry.received", &e.reference, json!({ "topic": e.topic })).await?;
    tx.commit().await?;
    desk.recorded(state, actor, "enquiry.received", &e.reference).await?;
    crate::context::queue::wake(state).await;
    let mut ctx = desk.context(state, req, "Enquiry sent", &[("Home", "/")]);
    ctx.insert("reference", &e.reference);
    ctx.insert("email", &email);
    ctx.insert("due", &due_words);
    desk.render(state, "pages/contact_sent.html", &ctx, StatusCode::OK)
}

/// The enquirer's view of their thread, by their private link.
#[handler]
pub async fn thread_page(
    Ctx { req, state, site }: Ctx<'_>,
    token: &CsrfToken,
    Path(id): Path<String>,
    Query(q): Query<crate::features::account::TokenQuery>,
) -> Result<Response, AppError> {
    show_thread(state, &Desk::trust(site), req, token, &id, &q.token).await
}

/// The enquirer's view of their thread with the platform's desk.
#[handler]
pub async fn platform_thread_page(
    req: &Request,
    poem::web::Data(state): poem::web::Data<&AppState>,
    token: &CsrfToken,
    Path(id): Path<String>,
    Query(q): Query<crate::features::account::TokenQuery>,
) -> Result<Response, AppError> {
    show_thread(state, &Desk::platform(state), req, token, &id, &q.token).await
}

async fn show_thread(
    state: &AppState,
    desk: &Desk,
    req: &Request,
    token: &CsrfToken,
    id: &str,
    link: &str,
) -> Result<Response, AppError> {
    let id: uuid::Uuid = page::path_id(id)?;
    let tx = state.dbs.app.begin_read(desk.owner).await?;
    let e = enq::by_token(&tx, id, link).await?.ok_or(AppError::NotFound)?;
    let messages = enq::thread(&tx, id).await?;
    tx.commit().await?;
    thread_view(state, desk, req, &token.0, &e, &messages, Some(link), None, &FormErrors::new(), StatusCode::OK)
}

#[allow(clippy::too_many_arguments)]
fn thread_view(
    state: &AppState,
    desk: &Desk,
    req: &Request,
    csrf: &str,
    e: &Enquiry,
    messages: &[enq::Message],
    link_token: Option<&str>,
    names: Option<&std::collections::HashMap<PersonId, String>>,
    errors: &FormErrors,
    status: StatusCode,
) -> Result<Response, AppError> {
    let staff = link_token.is_none();
    let title = format!("Enquiry {}", e.reference);
    let crumbs: &[(&str, &str)] =
        if staff { &[("Home", "/"), ("Enquiries", "/admin/enquiries")] } else { &[("Home", "/")] };
    let mut ctx = desk.context(state, req, &title, crumbs);
    ctx.insert("csrf_token", csrf);
    ctx.insert("staff", &staff);
    ctx.insert("link_token", &link_token);
    ctx.insert("enquiry", &enquiry_json(desk, e));
    let thread: Vec<Value> = messages
        .iter()
        .map(|m| {
            let who = if m.from_staff {
                match (staff, m.author.and_then(|a| names.and_then(|n| n.get(&a)))) {
                    (true, Some(n)) => n.clone(),
                    _ => desk.name.clone(),
                }
            } else {
                e.name.clone()
            };
            json!({ "from_staff": m.from_staff, "who": who, "when": desk.when(m.created_at), "body": m.body })
        })
        .collect();
    ctx.insert("thread", &thread);
    errors.insert_into(&mut ctx);
    desk.render(state, "pages/enquiry.html", &ctx, status)
}

fn enquiry_json(desk: &Desk, e: &Enquiry) -> Value {
    let status = match e.status.as_str() {
        "open" => "Waiting for a reply from us",
        "answered" => "Answered",
        _ => "Closed",
    };
    json!({
        "id": e.id.to_string(), "reference": e.reference, "name": e.name, "email": e.email,
        "topic": topic_words(&e.topic), "account": e.topic == enq::ACCOUNT, "subject": e.subject,
        "status": e.status, "status_words": status, "received": desk.when(e.created_at),
        "due": e.due_at.map(|d| desk.day(d)), "overdue": e.status != "closed" && e.due_at.is_some_and(|d| d < Utc::now()),
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

/// The enquirer's reply through their link: the enquiry is open again and the desk is told.
#[handler]
pub async fn enquirer_reply(
    Ctx { req, state, site }: Ctx<'_>,
    csrf: &CsrfToken,
    Path(id): Path<String>,
    Form(f): Form<ReplyForm>,
) -> Result<Response, AppError> {
    follow_up(state, &Desk::trust(site), req, csrf, &id, f).await
}

/// The enquirer's reply to the platform's desk.
#[handler]
pub async fn platform_enquirer_reply(
    req: &Request,
    poem::web::Data(state): poem::web::Data<&AppState>,
    csrf: &CsrfToken,
    Path(id): Path<String>,
    Form(f): Form<ReplyForm>,
) -> Result<Response, AppError> {
    follow_up(state, &Desk::platform(state), req, csrf, &id, f).await
}

async fn follow_up(
    state: &AppState,
    desk: &Desk,
    req: &Request,
    csrf: &CsrfToken,
    id: &str,
    f: ReplyForm,
) -> Result<Response, AppError> {
    let id: uuid::Uuid = page::path_id(id)?;
    let tx = state.dbs.app.begin(desk.owner).await?;
    let e = enq::by_token(&tx, id, &f.token).await?.ok_or(AppError::NotFound)?;
    if let Some(why) = message_error(&f.message, "reply") {
        let errors = FormErrors::one("message", why);
        let messages = enq::thread(&tx, id).await?;
        tx.commit().await?;
        return thread_view(
            state,
            desk,
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
        (format!("enquiry:reply:{}:{id}", desk.key()), PER_EMAIL * 2),
        (format!("enquiry:ip:{}:{}", desk.key(), client_ip(state, req)), PER_ADDRESS),
    ] {
        if let Err(retry) = state.limiter.hit(&key, max, window).await {
            return too_many(state, desk, req, retry);
        }
    }
    let was_waiting = e.status == "open";
    enq::reply(&tx, id, None, f.message.trim()).await?;
    // The desk hears of a follow-up only when it makes the enquiry wait for them again.
    let tell = if was_waiting { Vec::new() } else { desk_to_tell(state, desk, &tx, "follow-up").await? };
    for to in tell {
        let mail = desk.email(
            state,
            "enquiry_new",
            &to,
            &format!("[{}] A reply to an enquiry: {}", e.reference, topic_words(&e.topic)),
            json!({ "reference": e.reference, "topic": topic_words(&e.topic), "reply": true,
                    "link": format!("{}admin/enquiries/{}", desk.url, e.id), "due": e.due_at.map(|d| desk.day(d)) }),
        )?;
        outbox::enqueue_email(&tx, &mail).await?;
    }
    desk.record(&tx, e.person, "enquiry.followed_up", &e.reference, json!({})).await?;
    tx.commit().await?;
    desk.recorded(state, e.person, "enquiry.followed_up", &e.reference).await?;
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
    list_page(state, &Desk::trust(site), req, member.tx, q).await
}

/// The platform's desk (its administrators).
#[handler]
pub async fn platform_desk_list(
    req: &Request,
    poem::web::Data(state): poem::web::Data<&AppState>,
    PlatformAdmin(_admin): PlatformAdmin,
    Query(q): Query<DeskQuery>,
) -> Result<Response, AppError> {
    let tx = state.dbs.app.begin_read(TenantId::NATIONAL).await?;
    list_page(state, &Desk::platform(state), req, tx, q).await
}

async fn list_page(
    state: &AppState,
    desk: &Desk,
    req: &Request,
    tx: trellis_db::TenantTx,
    q: DeskQuery,
) -> Result<Response, AppError> {
    let status = match q.status.as_str() {
        "" | "open" => Some("open"),
        "answered" => Some("answered"),
        "closed" => Some("closed"),
        _ => None,
    };
    let page_no = q.page.min(100_000);
    let (rows, total) = enq::list(&tx, status, page_no * PAGE, PAGE).await?;
    tx.commit().await?;
    let mut ctx = desk.context(state, req, "Enquiries", &[("Home", "/")]);
    ctx.insert("enquiries", &rows.iter().map(|e| enquiry_json(desk, e)).collect::<Vec<_>>());
    ctx.insert("status", status.unwrap_or("all"));
    ctx.insert("total", &total);
    let pages = total.div_ceil(PAGE).max(1);
    let link = |p: u64| format!("/admin/enquiries?status={}&page={p}", status.unwrap_or("all"));
    ctx.insert("prev_url", &(page_no > 0).then(|| link(page_no - 1)));
    ctx.insert("next_url", &(page_no + 1 < pages).then(|| link(page_no + 1)));
    desk.render(state, "pages/admin_enquiries.html", &ctx, StatusCode::OK)
}

/// One enquiry, its thread and the reply form, for the desk.
#[handler]
pub async fn desk_enquiry(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageStaff>,
    token: &CsrfToken,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    enquiry_page(state, &Desk::trust(site), req, member.tx, token, &id).await
}

/// One enquiry to the platform's desk.
#[handler]
pub async fn platform_desk_enquiry(
    req: &Request,
    poem::web::Data(state): poem::web::Data<&AppState>,
    PlatformAdmin(_admin): PlatformAdmin,
    token: &CsrfToken,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let tx = state.dbs.app.begin_read(TenantId::NATIONAL).await?;
    enquiry_page(state, &Desk::platform(state), req, tx, token, &id).await
}

async fn enquiry_page(
    state: &AppState,
    desk: &Desk,
    req: &Request,
    tx: trellis_db::TenantTx,
    token: &CsrfToken,
    id: &str,
) -> Result<Response, AppError> {
    let id: uuid::Uuid = page::path_id(id)?;
    let e = enq::by_id(&tx, id).await?.ok_or(AppError::NotFound)?;
    let messages = enq::thread(&tx, id).await?;
    let names = desk.staff_names(state, &tx, &messages).await?;
    tx.commit().await?;
    thread_view(state, desk, req, &token.0, &e, &messages, None, Some(&names), &FormErrors::new(), StatusCode::OK)
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
    answer(state, &Desk::trust(site), req, tx, me.person, csrf, &id, f).await
}

/// A reply from the platform's desk.
#[handler]
pub async fn platform_desk_reply(
    req: &Request,
    poem::web::Data(state): poem::web::Data<&AppState>,
    PlatformAdmin(admin): PlatformAdmin,
    csrf: &CsrfToken,
    Path(id): Path<String>,
    Form(f): Form<ReplyForm>,
) -> Result<Response, AppError> {
    let tx = state.dbs.app.begin(TenantId::NATIONAL).await?;
    answer(state, &Desk::platform(state), req, tx, admin, csrf, &id, f).await
}

#[allow(clippy::too_many_arguments)] // the reply's parts
async fn answer(
    state: &AppState,
    desk: &Desk,
    req: &Request,
    tx: trellis_db::TenantTx,
    me: PersonId,
    csrf: &CsrfToken,
    id: &str,
    f: ReplyForm,
) -> Result<Response, AppError> {
    let id: uuid::Uuid = page::path_id(id)?;
    let e = enq::by_id(&tx, id).await?.ok_or(AppError::NotFound)?;
    if let Some(why) = message_error(&f.message, "reply") {
        let errors = FormErrors::one("message", why);
        let messages = enq::thread(&tx, id).await?;
        let names = desk.staff_names(state, &tx, &messages).await?;
        tx.commit().await?;
        return thread_view(
            state,
            desk,
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
    enq::reply(&tx, id, Some(me), f.message.trim()).await?;
    let mail = desk.email(
        state,
        "enquiry_reply",
        &e.email,
        &format!("Re: [{}] {}", e.reference, topic_words(&e.topic)),
        json!({ "name": e.name, "reference": e.reference, "message": f.message.trim() }),
    )?;
    outbox::enqueue_email(&tx, &mail).await?;
    desk.record(&tx, Some(me), "enquiry.answered", &e.reference, json!({})).await?;
    tx.commit().await?;
    desk.recorded(state, Some(me), "enquiry.answered", &e.reference).await?;
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
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageStaff>,
    Path(id): Path<String>,
    Form(f): Form<StatusForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    set_status(state, &Desk::trust(site), req, tx, me.person, &id, f).await
}

/// Closes or reopens an enquiry to the platform's desk.
#[handler]
pub async fn platform_desk_status(
    req: &Request,
    poem::web::Data(state): poem::web::Data<&AppState>,
    PlatformAdmin(admin): PlatformAdmin,
    Path(id): Path<String>,
    Form(f): Form<StatusForm>,
) -> Result<Response, AppError> {
    let tx = state.dbs.app.begin(TenantId::NATIONAL).await?;
    set_status(state, &Desk::platform(state), req, tx, admin, &id, f).await
}

async fn set_status(
    state: &AppState,
    desk: &Desk,
    req: &Request,
    tx: trellis_db::TenantTx,
    me: PersonId,
    id: &str,
    f: StatusForm,
) -> Result<Response, AppError> {
    let id: uuid::Uuid = page::path_id(id)?;
    let closed = match f.decision.as_str() {
        "close" => true,
        "reopen" => false,
        _ => return Err(AppError::BadRequest("Choose close or reopen.".into())),
    };
    let e = enq::by_id(&tx, id).await?.ok_or(AppError::NotFound)?;
    enq::set_closed(&tx, id, closed).await?;
    let action = if closed { "enquiry.closed" } else { "enquiry.reopened" };
    desk.record(&tx, Some(me), action, &e.reference, json!({})).await?;
    tx.commit().await?;
    desk.recorded(state, Some(me), action, &e.reference).await?;
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
