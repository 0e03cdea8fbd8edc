//! Campaigns (issue 22): a training manager promotes one course to an audience of staff (staff
//! groups, departments; everyone, or only those overdue on it or not enrolled) with an email shot
//! in the trust's branding, an intranet banner with embed code, and a landing page, then reads
//! its results: emails sent, link clicks, and enrolments and completions within its window.
//!
//! Privacy by design: no tracking pixels, and clicks are counted per link, never per person (a
//! banner's image is served without counting, cookies or a session). The email is bulk mail
//! (`trellis_db::mailings`): it honours the one opt-out model (`Purpose::Campaigns`) when the
//! audience is resolved and again as each copy is sent, and each copy carries RFC 8058 one-click
//! unsubscribe headers whose POST (`/unsubscribe/<token>`) needs no cookies: a signed token is
//! the key.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::context::launch_token::{Claims, Purpose as TokenPurpose};
use crate::error::AppError;
use crate::features::account::{client_ip, render_email};
use crate::features::learner::{enrol_self, enrolled_words};
use crate::http::form::FormErrors;
use crate::http::page::{self, RequestInfo, html_escape, see_other_saying};
use crate::http::{Ctx, Member, may};
use chrono::{Duration, Utc};
use poem::http::StatusCode;
use poem::web::{CsrfToken, Form, Path};
use poem::{Request, Response, handler};
use serde_json::json;
use std::sync::Arc;
use trellis_db::campaigns::{self, Campaign, Link, Status};
use trellis_db::catalogue as cat;
use trellis_db::learning::{self as learn, Enrolled};
use trellis_db::{TenantTx, audit, mailings, outbox};
use trellis_domain::campaigns::{CampaignInput, FIELDS, Template, Typed, Who, is_slug};
use trellis_domain::identity::Permission;
use trellis_domain::privacy::Purpose;
use trellis_domain::{CourseId, PersonId};
use uuid::Uuid;

/// The outbox job that resolves a campaign's audience and queues its email.
pub const SEND_JOB: &str = "campaign_send";

/// Banner sizes (width, height) offered with embed code.
pub const BANNER_SIZES: &[(u32, u32)] = &[(728, 90), (300, 250)];

/// How long an unsubscribe link works (years after the email).
const UNSUBSCRIBE_YEARS: i64 = 3;

fn status_words(s: Status) -> &'static str {
    match s {
        Status::Draft => "Draft",
        Status::Live => "Live",
        Status::Ended => "Ended",
    }
}

fn when_words(site: &Site, at: Option<chrono::DateTime<Utc>>) -> Option<String> {
    at.map(|t| t.with_timezone(&site.zone()).format("%-d %B %Y at %H:%M").to_string())
}

/// The form as typed (repeated checkboxes for staff groups and departments).
#[derive(Debug, Default)]
struct CampaignForm {
    name: String,
    course: String,
    staff_groups: Vec<String>,
    departments: Vec<String>,
    who: String,
    template: String,
    subject: String,
    message: String,
    banner_text: String,
    landing_text: String,
    window_days: String,
}

impl CampaignForm {
    fn from_pairs(pairs: &[(String, String)]) -> Self {
        let one = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
        let many = |k: &str| pairs.iter().filter(|(n, _)| n == k).map(|(_, v)| v.clone()).collect();
        CampaignForm {
            name: one("name"),
            course: one("course"),
            staff_groups: many("staff_groups"),
            departments: many("departments"),
            who: one("who"),
            template: one("template"),
            subject: one("subject"),
            message: one("message"),
            banner_text: one("banner_text"),
            landing_text: one("landing_text"),
            window_days: one("window_days"),
        }
    }

    fn of(c: &Campaign) -> Self {
        CampaignForm {
            name: c.name.clone(),
            course: c.course.to_string(),
            staff_groups: c.audience.staff_groups.clone(),
            departments: c.audience.departments.clone(),
            who: c.audience.who.key().to_owned(),
            template: c.template.key().to_owned(),
            subject: c.subject.clone(),
            message: c.message.clone(),
            banner_text: c.banner_text.clone(),
            landing_text: c.landing_text.clone(),
            window_days: c.window_days.to_string(),
        }
    }

    fn blank() -> Self {
        CampaignForm {
            who: Who::Everyone.key().to_owned(),
            template: Template::Announcement.key().to_owned(),
            window_days: "30".to_owned(),
            ..Default::default()
        }
    }

    /// Checks the form; the course must be one in this trust's catalogue.
    async fn parse(
        &self,
        state: &AppState,
        tx: &TenantTx,
        me: &crate::http::auth::SignedIn,
    ) -> Result<(CampaignInput, Uuid), FormErrors> {
        let typed = Typed {
            name: &self.name,
            course: &self.course,
            staff_groups: &self.staff_groups,
            departments: &self.departments,
            who: &self.who,
            template: &self.template,
            subject: &self.subject,
            message: &self.message,
            banner_text: &self.banner_text,
            landing_text: &self.landing_text,
            window_days: &self.window_days,
        };
        let mut errors = FormErrors::new();
        let parsed = CampaignInput::parse(&typed).map_err(|e| {
            for (field, message) in e {
                errors.insert(field, message);
            }
        });
        let course = match self.course.parse::<CourseId>() {
            Ok(id) => match state.catalogue.listing(tx, me.catalogue).await {
                Ok(listing) if listing.get(id).is_some() => Some(id.as_uuid()),
                _ => None,
            },
            Err(_) => None,
        };
        if course.is_none() && !self.course.trim().is_empty() {
            errors.insert("course", "Choose a course from your catalogue");
        }
        match (parsed, course) {
            (Ok(input), Some(course)) if errors.is_empty() => Ok((input, course)),
            _ => Err(errors.ordered_by(FIELDS)),
        }
    }

    fn values(&self) -> serde_json::Value {
        json!({
            "name": self.name, "course": self.course, "staff_groups": self.staff_groups,
            "departments": self.departments, "who": self.who, "template": self.template, "subject": self.subject,
            "message": self.message, "banner_text": self.banner_text, "landing_text": self.landing_text,
            "window_days": self.window_days,
        })
    }
}

/// The campaign form's page (new, or editing `existing`).
#[allow(clippy::too_many_arguments)] // the page's parts
async fn form_render(
    state: &AppState,
    site: &Site,
    req: &Request,
    tx: &TenantTx,
    me: &crate::http::auth::SignedIn,
    token: &CsrfToken,
    existing: Option<&Campaign>,
    form: &CampaignForm,
    errors: &FormErrors,
    status: StatusCode,
) -> Result<Response, AppError> {
    let listing = state.catalogue.listing(tx, me.catalogue).await?;
    let (departments, groups) = (trellis_db::staff::departments(tx).await?, trellis_db::staff::staff_groups(tx).await?);
    let title = match existing {
        Some(c) => format!("Change {}", c.name),
        None => "Create a campaign".to_owned(),
    };
    let mut crumbs = vec![("Home", "/"), ("Admin", "/admin"), ("Campaigns", "/admin/campaigns")];
    let back = existing.map(|c| format!("/admin/campaigns/{}", c.id));
    if let (Some(c), Some(b)) = (existing, back.as_deref()) {
        crumbs.push((c.name.as_str(), b));
    }
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), &title, &crumbs);
    errors.insert_into(&mut ctx);
    ctx.insert("csrf_token", &token.0);
    ctx.insert("values", &form.values());
    ctx.insert(
        "action",
        &match existing {
            Some(c) => format!("/admin/campaigns/{}/edit", c.id),
            None => "/admin/campaigns/new".to_owned(),
        },
    );
    ctx.insert("editing", &existing.is_some());
    ctx.insert(
        "courses",
        &listing
            .cards
            .iter()
            .map(|c| json!({ "id": c.course.id.to_string(), "title": c.course.title }))
            .collect::<Vec<_>>(),
    );
    ctx.insert("departments", &departments);
    ctx.insert("groups", &groups);
    ctx.insert("whos", &Who::ALL.iter().map(|w| json!({ "key": w.key(), "label": w.label() })).collect::<Vec<_>>());
    ctx.insert(
        "templates",
        &Template::ALL.iter().map(|t| json!({ "key": t.key(), "label": t.label() })).collect::<Vec<_>>(),
    );
    page::render(state, Some(site), "pages/admin_campaign_form.html", &ctx, status)
}

/// The list of campaigns.
#[handler]
pub async fn admin_list(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageTraining>,
) -> Result<Response, AppError> {
    let Member { tx, .. } = member;
    let list = campaigns::list(&tx, 200).await?;
    tx.commit().await?;
    let mut ctx =
        page::context(state, Some(site), &RequestInfo::of(req), "Campaigns", &[("Home", "/"), ("Admin", "/admin")]);
    ctx.insert(
        "campaigns",
        &list
            .iter()
            .map(|c| {
                json!({
                    "id": c.id.to_string(), "name": c.name, "status": status_words(c.status),
                    "live": c.status == Status::Live, "emailed": c.email_count,
                    "clicks": c.email_clicks + c.banner_clicks, "sent": c.emailed_at.is_some(),
                })
            })
            .collect::<Vec<_>>(),
    );
    page::render(state, Some(site), "pages/admin_campaigns.html", &ctx, StatusCode::OK)
}

/// The form for a new campaign.
#[handler]
pub async fn new_form(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageTraining>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let resp = form_render(
        state,
        site,
        req,
        &tx,
        &me,
        token,
        None,
        &CampaignForm::blank(),
        &FormErrors::new(),
        StatusCode::OK,
    )
    .await?;
    tx.commit().await?;
    Ok(resp)
}

/// Creates a draft campaign.
#[handler]
pub async fn create(
    ctx: Ctx<'_>,
    member: Member<may::ManageTraining>,
    token: &CsrfToken,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    submit(ctx, &me, tx, token, None, &pairs).await
}

/// Creates a campaign from the form (`existing` is `None`) or saves the changes to one; a refused
/// form comes back with its errors, nothing saved.
async fn submit(
    Ctx { req, state, site }: Ctx<'_>,
    me: &crate::http::auth::SignedIn,
    tx: TenantTx,
    token: &CsrfToken,
    existing: Option<Campaign>,
    pairs: &[(String, String)],
) -> Result<Response, AppError> {
    let form = CampaignForm::from_pairs(pairs);
    let (input, course) = match form.parse(state, &tx, me).await {
        Ok(parsed) => parsed,
        Err(errors) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            let resp = form_render(state, site, req, &tx, me, token, existing.as_ref(), &form, &errors, status).await?;
            tx.commit().await?;
            return Ok(resp);
        }
    };
    let (id, action, said) = match &existing {
        None => {
            let (id, _) = campaigns::create(&tx, &input, course, me.person).await?;
            (id, "campaign.created", format!("Campaign {} created as a draft", input.name))
        }
        Some(c) if campaigns::update(&tx, c.id, &input, course).await? => {
            (c.id, "campaign.changed", "Campaign saved".into())
        }
        Some(c) => {
            tx.commit().await?;
            return Ok(see_other_saying(req, &format!("/admin/campaigns/{}", c.id), SENT_ALREADY));
        }
    };
    audit::record(&tx, Some(me.person), action, &id.to_string(), None, json!({ "name": input.name })).await?;
    tx.commit().await?;
    Ok(see_other_saying(req, &format!("/admin/campaigns/{id}"), said))
}

/// Why a campaign whose email went can't be changed.
const SENT_ALREADY: &str = "Its email has been sent, so the campaign can no longer be changed";

async fn campaign_of(tx: &TenantTx, id: &str) -> Result<Campaign, AppError> {
    let id: Uuid = page::path_id(id)?;
    campaigns::get(tx, id).await?.ok_or(AppError::NotFound)
}

/// The form to change a campaign (until its email is asked for).
#[handler]
pub async fn edit_form(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageTraining>,
    token: &CsrfToken,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let c = campaign_of(&tx, &id).await?;
    if c.send_requested_at.is_some() {
        tx.commit().await?;
        return Ok(see_other_saying(req, &format!("/admin/campaigns/{}", c.id), SENT_ALREADY));
    }
    let resp = form_render(
        state,
        site,
        req,
        &tx,
        &me,
        token,
        Some(&c),
        &CampaignForm::of(&c),
        &FormErrors::new(),
        StatusCode::OK,
    )
    .await?;
    tx.commit().await?;
    Ok(resp)
}

/// Saves a changed campaign.
#[handler]
pub async fn save(
    ctx: Ctx<'_>,
    member: Member<may::ManageTraining>,
    token: &CsrfToken,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let c = campaign_of(&tx, &id).await?;
    submit(ctx, &me, tx, token, Some(c), &pairs).await
}

/// The embed code for a banner of `w` × `h`.
fn embed_code(site: &Site, c: &Campaign, w: u32, h: u32) -> String {
    format!(
        r#"<a href="{u}promo/{s}/banner"><img src="{u}promo/{s}/banner-{w}x{h}.svg" width="{w}" height="{h}" alt="{alt}"></a>"#,
        u = site.url,
        s = c.slug,
        alt = html_escape(&format!("{}: {}", site.entry.name, c.banner_text)),
    )
}

/// A campaign's page: what it is, who it reaches, its email, banner and landing page, the actions
/// its state allows, and its results.
#[handler]
pub async fn admin_page(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageTraining>,
    token: &CsrfToken,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let Member { tx, .. } = member;
    let c = campaign_of(&tx, &id).await?;
    let course = cat::course(&tx, CourseId::from_uuid(c.course)).await?;
    let (size, objecting) = campaigns::audience_size(&tx, &c.audience, c.course, site.today()).await?;
    let results = campaigns::results(&tx, &c).await?;
    tx.commit().await?;
    let preview = email_for(state, site, &c, course.as_ref().map(|k| k.title.as_str()).unwrap_or_default())?;
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        &c.name,
        &[("Home", "/"), ("Admin", "/admin"), ("Campaigns", "/admin/campaigns")],
    );
    ctx.insert("csrf_token", &token.0);
    ctx.insert(
        "c",
        &json!({
            "id": c.id.to_string(), "name": c.name, "slug": c.slug, "status": status_words(c.status),
            "draft": c.status == Status::Draft, "live": c.status == Status::Live, "ended": c.status == Status::Ended,
            "course": course.as_ref().map(|k| k.title.clone()).unwrap_or_else(|| "(a course no longer in the catalogue)".into()),
            "course_id": c.course.to_string(),
            "audience": c.audience.words(), "size": size, "objecting": objecting, "emailable": size - objecting,
            "subject": c.subject, "banner_text": c.banner_text, "window_days": c.window_days,
            "launched": when_words(site, c.launched_at), "ended_at": when_words(site, c.ended_at),
            "window_ends": when_words(site, c.window_ends()),
            "send_requested": when_words(site, c.send_requested_at), "emailed": when_words(site, c.emailed_at),
            "email_count": c.email_count, "email_clicks": c.email_clicks, "banner_clicks": c.banner_clicks,
            "landing_url": format!("{}campaigns/{}", site.url, c.slug),
        }),
    );
    ctx.insert(
        "results",
        &json!({ "reached": results.reached, "enrolled": results.enrolled, "completed": results.completed, "from_page": results.from_page }),
    );
    ctx.insert(
        "preview_text",
        &preview.text.replace(mailings::UNSUBSCRIBE_MARK, "(each person's own unsubscribe link)"),
    );
    ctx.insert(
        "banners",
        &BANNER_SIZES
            .iter()
            .map(|(w, h)| json!({ "w": w, "h": h, "src": format!("/promo/{}/banner-{w}x{h}.svg", c.slug), "code": embed_code(site, &c, *w, *h) }))
            .collect::<Vec<_>>(),
    );
    page::render(state, Some(site), "pages/admin_campaign.html", &ctx, StatusCode::OK)
}

/// Opens a draft campaign: its landing page and banner link work, and its email may be sent.
#[handler]
pub async fn launch(
    Ctx { req, .. }: Ctx<'_>,
    member: Member<may::ManageTraining>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    step(req, member, &id, Step::Launch).await
}

/// Ends a live campaign.
#[handler]
pub async fn end(
    Ctx { req, .. }: Ctx<'_>,
    member: Member<may::ManageTraining>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    step(req, member, &id, Step::End).await
}

/// A step in a campaign's life.
#[derive(Clone, Copy)]
enum Step {
    Launch,
    End,
}

/// Takes a campaign a step on (launch or end), saying what happened, or why not.
async fn step(req: &Request, member: Member<may::ManageTraining>, id: &str, step: Step) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let c = campaign_of(&tx, id).await?;
    let to = format!("/admin/campaigns/{}", c.id);
    let (done, action, said, refused) = match step {
        Step::Launch => (
            campaigns::launch(&tx, c.id).await?,
            "campaign.launched",
            format!("{} is live: its landing page and banner are open", c.name),
            "The campaign is already live or has ended",
        ),
        Step::End => (
            campaigns::end(&tx, c.id).await?,
            "campaign.ended",
            format!("{} has ended: its landing page now says so", c.name),
            "The campaign is not live",
        ),
    };
    if done {
        audit::record(&tx, Some(me.person), action, &c.id.to_string(), None, json!({ "name": c.name })).await?;
    }
    tx.commit().await?;
    Ok(see_other_saying(req, &to, if done { said } else { refused.to_owned() }))
}

/// Asks for the campaign's email to be sent to its audience (once): the worker resolves the
/// audience and queues every copy in one transaction.
#[handler]
pub async fn send(
    Ctx { req, state, .. }: Ctx<'_>,
    member: Member<may::ManageTraining>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let c = campaign_of(&tx, &id).await?;
    let to = format!("/admin/campaigns/{}", c.id);
    if c.status != Status::Live {
        tx.commit().await?;
        return Ok(see_other_saying(req, &to, "Launch the campaign before sending its email"));
    }
    if !campaigns::request_send(&tx, c.id).await? {
        tx.commit().await?;
        return Ok(see_other_saying(req, &to, "The campaign's email has already been sent"));
    }
    outbox::enqueue_job(&tx, SEND_JOB, &json!({ "campaign": c.id.to_string(), "by": me.person.to_string() })).await?;
    audit::record(&tx, Some(me.person), "campaign.send_requested", &c.id.to_string(), None, json!({ "name": c.name }))
        .await?;
    tx.commit().await?;
    crate::context::queue::wake(state).await;
    Ok(see_other_saying(req, &to, "The email is being sent: this page shows how many it went to once it is queued"))
}

/// Sends the campaign's email to the signed-in manager only, marked as a test.
#[handler]
pub async fn test(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageTraining>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let c = campaign_of(&tx, &id).await?;
    let course = cat::course(&tx, CourseId::from_uuid(c.course)).await?;
    let Some(who) = trellis_db::identity::member_person(&tx, me.person).await? else { return Err(AppError::NotFound) };
    let mail = email_for(state, site, &c, course.as_ref().map(|k| k.title.as_str()).unwrap_or_default())?;
    let choices = format!("{}profile#choices", site.url);
    let (text, html) = mailings::with_link(&mail.text, &mail.html, &choices);
    outbox::enqueue_email(
        &tx,
        &outbox::OutgoingEmail {
            to: who.email.clone(),
            subject: format!("[Test] {}", mail.subject),
            text,
            html,
            from_name: site.entry.name.clone(),
            calendar: None,
            reply_to: None,
        },
    )
    .await?;
    audit::record(&tx, Some(me.person), "campaign.tested", &c.id.to_string(), None, json!({})).await?;
    tx.commit().await?;
    crate::context::queue::wake(state).await;
    Ok(see_other_saying(
        req,
        &format!("/admin/campaigns/{}", c.id),
        format!("A test copy is on its way to {}", who.email),
    ))
}

/// The campaign's email, rendered once for everyone: its unsubscribe link is
/// [`mailings::UNSUBSCRIBE_MARK`], put in for each recipient as their copy is sent.
fn email_for(
    state: &AppState,
    site: &Site,
    c: &Campaign,
    course_title: &str,
) -> Result<outbox::OutgoingEmail, AppError> {
    let paragraphs: Vec<&str> = c.message.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).collect();
    let colours = &site.entry.colours;
    render_email(
        state,
        site,
        "campaign",
        "",
        &c.subject,
        json!({
            "opening": c.template.opening(), "paragraphs": paragraphs, "action": c.template.action(),
            "action_url": format!("{}promo/{}/email", site.url, c.slug), "course": course_title,
            "unsubscribe_url": mailings::UNSUBSCRIBE_MARK, "profile_url": format!("{}profile#choices", site.url),
            "primary": colours.primary.to_string(), "on_primary": colours.on_primary.to_string(),
        }),
    )
}

/// An unsubscribe link for `person`'s copy of `mailing` (HTTPS on this trust's site in production).
fn unsubscribe_url(state: &AppState, site: &Site, person: PersonId, mailing: Uuid) -> String {
    let token = state.launch.sign(&Claims {
        purpose: TokenPurpose::Unsubscribe,
        tenant: site.entry.id,
        attempt: person.as_uuid(),
        subject: mailing,
        launch: 0,
        expires: (Utc::now() + Duration::days(365 * UNSUBSCRIBE_YEARS)).timestamp(),
    });
    format!("{}unsubscribe/{token}", site.url)
}

/// The worker's job: resolves the campaign's audience and queues its email, in one transaction
/// (everyone or no one; done once: a campaign already emailed is left as it is).
pub async fn send_job(state: &AppState, site: &Arc<Site>, id: Uuid, by: Option<PersonId>) -> anyhow::Result<()> {
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let Some(c) = campaigns::get(&tx, id).await? else { return Ok(()) };
    if c.emailed_at.is_some() || c.status == Status::Draft {
        return Ok(());
    }
    let course = cat::course(&tx, CourseId::from_uuid(c.course)).await?;
    let people = campaigns::recipients(&tx, &c.audience, c.course, site.today()).await?;
    let mail = email_for(state, site, &c, course.as_ref().map(|k| k.title.as_str()).unwrap_or_default())
        .map_err(|e| anyhow::anyhow!("the campaign's email: {e:?}"))?;
    let mailing =
        mailings::create(&tx, Purpose::Campaigns.key(), &mail.subject, &mail.text, &mail.html, &site.entry.name)
            .await?;
    let copies: Vec<mailings::Recipient> = people
        .iter()
        .map(|(p, email)| mailings::Recipient {
            person: *p,
            to: email.clone(),
            unsubscribe: unsubscribe_url(state, site, *p, mailing),
        })
        .collect();
    mailings::enqueue(&tx, mailing, &copies).await?;
    let ids: Vec<PersonId> = people.iter().map(|(p, _)| *p).collect();
    campaigns::record_emailed(&tx, c.id, mailing, &ids, Utc::now()).await?;
    audit::record(&tx, by, "campaign.emailed", &c.id.to_string(), None, json!({ "name": c.name, "count": ids.len() }))
        .await?;
    tx.commit().await?;
    tracing::info!(tenant = %site.entry.slug, campaign = %c.id, count = ids.len(), "campaign email queued");
    crate::context::queue::wake(state).await;
    Ok(())
}

/// A campaign's landing page: open to anyone while it is live; a draft only to those who manage
/// campaigns (as a preview); once ended, it says so.
#[handler]
pub async fn landing(
    Ctx { req, state, site }: Ctx<'_>,
    member: Option<Member<may::Anyone>>,
    token: &CsrfToken,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    if !is_slug(&slug) {
        return Err(AppError::NotFound);
    }
    let (tx, me) = match member {
        Some(Member { me, tx, .. }) => (tx, Some(me)),
        None => (state.dbs.app.begin_read(site.entry.id).await?, None),
    };
    let Some(c) = campaigns::by_slug(&tx, &slug).await? else { return Err(AppError::NotFound) };
    let manager = me.as_ref().is_some_and(|m| m.may(Permission::ManageTraining));
    if c.status == Status::Draft && !manager {
        return Err(AppError::NotFound);
    }
    let course = cat::course(&tx, CourseId::from_uuid(c.course)).await?;
    let open = match &course {
        Some(k) => cat::in_catalogue(&tx, k).await?,
        None => false,
    };
    let enrolment = match (&me, &course) {
        (Some(m), Some(k)) => learn::enrolment(&tx, m.person, k.id).await?,
        _ => None,
    };
    tx.commit().await?;
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), &c.name, &[("Home", "/")]);
    ctx.insert("csrf_token", &token.0);
    ctx.insert(
        "c",
        &json!({
            "slug": c.slug, "name": c.name, "paragraphs": c.landing_text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).collect::<Vec<_>>(),
            "draft": c.status == Status::Draft, "ended": c.status == Status::Ended, "id": c.id.to_string(),
        }),
    );
    ctx.insert("manager", &manager);
    ctx.insert("signed_in", &me.is_some());
    ctx.insert("enrolled", &enrolment.as_ref().map(|e| e.status.to_string()));
    ctx.insert(
        "course",
        &course.filter(|_| open).map(|k| {
            json!({ "id": k.id.to_string(), "title": k.title, "summary": k.summary, "minutes": k.duration_minutes,
                    "approval": k.enrolment != "open" })
        }),
    );
    page::render(state, Some(site), "pages/campaign.html", &ctx, StatusCode::OK)
}

/// Enrols the signed-in person on the campaign's course from its landing page (or asks to, for a
/// course that needs approval), and records that the campaign reached them.
#[handler]
pub async fn enrol(
    Ctx { req, .. }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    if !is_slug(&slug) {
        return Err(AppError::NotFound);
    }
    let Member { me, tx, .. } = member;
    let Some(c) = campaigns::by_slug(&tx, &slug).await? else { return Err(AppError::NotFound) };
    if c.status != Status::Live {
        tx.commit().await?;
        return Ok(see_other_saying(req, &format!("/campaigns/{slug}"), "This campaign has ended"));
    }
    let Some(course) = cat::course(&tx, CourseId::from_uuid(c.course)).await? else { return Err(AppError::NotFound) };
    if !cat::in_catalogue(&tx, &course).await? {
        return Err(AppError::NotFound);
    }
    let outcome = enrol_self(&tx, me.person, &course, json!({ "course": course.code, "campaign": c.slug })).await?;
    if outcome != Enrolled::Already {
        campaigns::record_response(&tx, c.id, me.person).await?;
    }
    tx.commit().await?;
    let said = enrolled_words(outcome, &course.title);
    Ok(see_other_saying(req, &format!("/courses/{}", course.id), said))
}

/// The campaign's links and banners, served without a session (`/promo/<slug>/…`):
/// - `email`, `banner`: a click on the email's button or the banner, counted for the link (never
///   for a person) while the campaign is live, then on to the landing page;
/// - `banner-<w>x<h>.svg`: the banner's image, for another site's page (`Cross-Origin-Resource-Policy:
///   cross-origin`), never counted and setting no cookie, so it cannot track who sees it.
#[handler]
pub async fn promo(
    Ctx { state, site, .. }: Ctx<'_>,
    Path((slug, what)): Path<(String, String)>,
) -> Result<Response, AppError> {
    if !is_slug(&slug) {
        return Err(AppError::NotFound);
    }
    let link = match what.as_str() {
        "email" => Some(Link::Email),
        "banner" => Some(Link::Banner),
        _ => None,
    };
    if let Some(link) = link {
        let tx = state.dbs.app.begin(site.entry.id).await?;
        let counted = campaigns::count_click(&tx, &slug, link).await?;
        let exists = counted || campaigns::by_slug(&tx, &slug).await?.is_some();
        tx.commit().await?;
        if !exists {
            return Err(AppError::NotFound);
        }
        return Ok(Response::builder()
            .status(StatusCode::SEE_OTHER)
            .header("location", format!("/campaigns/{slug}"))
            .header("cache-control", "no-store")
            .header("referrer-policy", "no-referrer")
            .finish());
    }
    let size = what.strip_prefix("banner-").and_then(|r| r.strip_suffix(".svg")).and_then(|r| r.split_once('x'));
    let Some((w, h)) = size.and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?))) else {
        return Err(AppError::NotFound);
    };
    if !BANNER_SIZES.contains(&(w, h)) {
        return Err(AppError::NotFound);
    }
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let c = campaigns::by_slug(&tx, &slug).await?;
    tx.commit().await?;
    let Some(c) = c else { return Err(AppError::NotFound) };
    let svg = crate::features::marketing::banner_saying(site, w, h, &c.banner_text);
    Ok(Response::builder()
        .content_type("image/svg+xml")
        .header("cache-control", "public, max-age=300")
        .header("cross-origin-resource-policy", "cross-origin")
        .header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'")
        .body(svg))
}

fn unsubscribe_claims(state: &AppState, site: &Site, token: &str) -> Option<Claims> {
    state.launch.verify(token, TokenPurpose::Unsubscribe, Utc::now().timestamp()).filter(|c| c.tenant == site.entry.id)
}

/// An unsubscribe link opened in a browser: says what it will stop and asks to confirm (a GET
/// changes nothing, so mail scanners that follow links do not unsubscribe anyone).
#[handler]
pub async fn unsubscribe_page(
    Ctx { req, state, site }: Ctx<'_>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let valid = unsubscribe_claims(state, site, &token).is_some();
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "Stop emails about training campaigns",
        &[("Home", "/")],
    );
    ctx.insert("valid", &valid);
    ctx.insert("done", &false);
    ctx.insert("action", &format!("/unsubscribe/{token}"));
    page::render(
        state,
        Some(site),
        "pages/unsubscribe.html",
        &ctx,
        if valid { StatusCode::OK } else { StatusCode::NOT_FOUND },
    )
}

/// The one-click unsubscribe (RFC 8058): a mail client's POST of `List-Unsubscribe=One-Click`, or
/// the confirm button. No cookies and no CSRF token: the signed token is the key. It stops
/// campaign emails for the person everywhere (their one opt-out), recorded in the audit trail.
#[handler]
pub async fn unsubscribe(Ctx { req, state, site }: Ctx<'_>, Path(token): Path<String>) -> Result<Response, AppError> {
    let Some(claims) = unsubscribe_claims(state, site, &token) else {
        return Err(AppError::NotFound);
    };
    let person = PersonId::from_uuid(claims.attempt);
    let itx = state.dbs.identity.begin(site.entry.id).await?;
    if trellis_db::identity::stop_purpose(&itx, person, Purpose::Campaigns).await? == Some(true) {
        audit::record(
            &itx,
            Some(person),
            "privacy.objections",
            &person.to_string(),
            client_ip(state, req).as_deref(),
            json!({ "changed": [{ "purpose": Purpose::Campaigns.key(), "stopped": true }], "via": "unsubscribe link" }),
        )
        .await?;
    }
    itx.commit().await?;
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "You will not get emails about training campaigns",
        &[("Home", "/")],
    );
    ctx.insert("valid", &true);
    ctx.insert("done", &true);
    page::render(state, Some(site), "pages/unsubscribe.html", &ctx, StatusCode::OK)
}
