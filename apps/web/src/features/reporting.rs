//! Organisation reporting behind an authorisation chain (`/reporting`): the trust's authoriser
//! (recorded by a platform administrator, confirmed by an emailed link) authorises reporting
//! leads with a statement recorded word for word; a lead nominates report users with a purpose
//! and an expiry; leads and report users run the identifiable reports (staff activity,
//! completions over time, course uptake) on screen, as PDF and as CSV, or have a link to one
//! emailed each month. Every grant, revocation, expiry and refusal is in the audit trail, and
//! every report run and download in the access log; the authoriser and the leads see both.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::features::account::{message_page, render_email};
use crate::http::export::cell;
use crate::http::form::FormErrors;
use crate::http::page::{self, RequestInfo, see_other_saying};
use crate::http::{Ctx, Member, may, tx};
use crate::usecases::records::activity::time_words;
use bytes::Bytes;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use poem::http::StatusCode;
use poem::web::{Form, Path};
use poem::{Body, Request, Response, handler};
use serde_json::json;
use trellis_db::identity as id;
use trellis_db::reporting::{self as rep, AccessEvent, NewReportGrant, People, ReportQuery, Standing};
use trellis_db::states::{AuthoriserRole, ReportGrantKind};
use trellis_db::{TenantTx, audit, outbox};
use trellis_domain::identity::Email;
use trellis_domain::learning::{STAFF_GROUPS, staff_group};
use trellis_domain::{CourseId, PersonId};

/// The longest a lead's or a report user's grant may last, and the default.
pub const MAX_DAYS: i64 = 365;
/// People on one screen of the staff activity report.
const PAGE_PEOPLE: u64 = 25;
/// Lines of the streamed staff activity CSV formatted at a time.
const EXPORT_LINES: usize = 5_000;

/// An authoriser's role in words.
pub fn role_words(r: AuthoriserRole) -> &'static str {
    match r {
        AuthoriserRole::HrDirector => "HR director",
        AuthoriserRole::MedicalDirector => "medical director",
        AuthoriserRole::Siro => "Senior Information Risk Owner (SIRO)",
        AuthoriserRole::CaldicottGuardian => "Caldicott Guardian",
    }
}

fn day(t: DateTime<Utc>, zone: chrono_tz::Tz) -> String {
    t.with_timezone(&zone).format("%-d %B %Y").to_string()
}

fn ip_of(state: &AppState, req: &Request) -> String {
    crate::http::middleware::forwarded::client_ip(req, &state.proxies).map(|ip| ip.to_string()).unwrap_or_default()
}

/// The statement an authoriser makes, word for word, when they authorise a reporting lead.
pub fn lead_statement(
    role: AuthoriserRole,
    authoriser: &str,
    site: &Site,
    name: &str,
    email: &str,
    until: NaiveDate,
) -> String {
    format!(
        "As the {role} of {trust} ({ods}), I, {authoriser}, authorise {name} ({email}) as reporting lead for {trust} until {until}: to nominate report users, each with a stated purpose, and to run reports that identify the trust's staff and their learning, for managing and assuring that learning and for no other purpose.",
        role = role_words(role),
        trust = site.entry.name,
        ods = site.entry.ods_code,
        until = until.format("%-d %B %Y"),
    )
}

/// The approved member of this trust with this address, or the reason on `email`.
async fn approved_member(
    tx: &TenantTx,
    email: &Email,
    errors: &mut FormErrors,
) -> Result<Option<id::Person>, AppError> {
    let Some(p) = id::member_by_email(tx, email.as_str()).await? else {
        errors.insert("email", "Nobody on this trust's site has this email address: they need an account here first");
        return Ok(None);
    };
    match id::member_person(tx, p).await? {
        Some(person) if id::membership(tx, p).await?.is_some_and(|m| m.status == id::MembershipStatus::Approved) => {
            Ok(Some(person))
        }
        _ => {
            errors.insert("email", "This person's membership of the trust is not approved");
            Ok(None)
        }
    }
}

/// Records a refused attempt in the access log (the authoriser sees refusals) and refuses.
async fn refuse(
    state: &AppState,
    req: &Request,
    tx: TenantTx,
    me: PersonId,
    what: &str,
    heading: &str,
    detail: &str,
) -> Result<Response, AppError> {
    rep::record_access(
        &tx,
        &AccessEvent {
            at: Utc::now(),
            person: Some(me),
            kind: "report.refused".into(),
            subject: what.into(),
            detail: json!({ "path": req.uri().path() }),
            rows: 0,
            format: String::new(),
            ip: ip_of(state, req),
            bytes: 0,
        },
    )
    .await?;
    tx.commit().await?;
    Err(AppError::forbidden(heading, detail, Some(("Organisation reports", "/reporting"))))
}

// ---------------------------------------------------------------------------------------------
// The platform administrator records a trust's authoriser.

/// The authoriser's confirmation page (`/reporting/authoriser/<token>`): only for the person
/// the link was sent to, signed in with that address.
async fn confirming(
    state: &AppState,
    site: &Site,
    req: &Request,
    tx: &TenantTx,
    me: PersonId,
    token: &str,
) -> Result<Result<rep::Authoriser, Response>, AppError> {
    let Some(a) = rep::authoriser_by_token(tx, token).await? else { return Err(AppError::NotFound) };
    if a.confirmed_at.is_some() || a.ended_at.is_some() || a.link_expires_at <= Utc::now() {
        return Ok(Err(message_page(
            state,
            site,
            req,
            StatusCode::GONE,
            "This link no longer works",
            "It has been used, a newer one was sent, or it is more than 7 days old. Ask the platform's administrators to send a new one.",
            Some(("Organisation reports", "/reporting")),
        )?));
    }
    let mine = id::member_person(tx, me).await?.map(|p| p.email).unwrap_or_default();
    if !mine.eq_ignore_ascii_case(&a.email) {
        return Err(AppError::forbidden(
            "This link is for someone else",
            "Sign in with the email address the link was sent to, then open the link again.",
            None,
        ));
    }
    Ok(Ok(a))
}

/// Asks the authoriser to confirm.
#[handler]
pub async fn authoriser_form(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let a = match confirming(state, site, req, &tx, me.person, &token).await? {
        Ok(a) => a,
        Err(page) => return Ok(page),
    };
    tx.commit().await?;
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "Confirm your role", &[("Home", "/")]);
    ctx.insert("name", &a.name);
    ctx.insert("role", role_words(a.role));
    ctx.insert("token", &token);
    page::render(state, Some(site), "pages/reporting_confirm.html", &ctx, StatusCode::OK)
}

/// The authoriser confirms; one they replace ends.
#[handler]
pub async fn authoriser_confirm(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let a = match confirming(state, site, req, &tx, me.person, &token).await? {
        Ok(a) => a,
        Err(page) => return Ok(page),
    };
    let ip = ip_of(state, req);
    if !rep::confirm_authoriser(&tx, a.id, me.person, &ip).await? {
        return Err(AppError::NotFound);
    }
    audit::record(
        &tx,
        Some(me.person),
        "reporting.authoriser_confirmed",
        &a.id.to_string(),
        Some(&ip),
        json!({ "role": a.role.as_str(), "name": a.name }),
    )
    .await?;
    tx.commit().await?;
    Ok(see_other_saying(
        req,
        "/reporting/leads",
        format!(
            "You are confirmed as the {} of {}. You can now authorise reporting leads.",
            role_words(a.role),
            site.entry.name
        ),
    ))
}

// ---------------------------------------------------------------------------------------------
// The overview.

/// What the signed-in person can do in organisation reporting, and their monthly emails.
#[handler]
pub async fn overview(Ctx { req, state, site }: Ctx<'_>, member: Member<may::Anyone>) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let st = rep::standing(&tx, me.person, Utc::now()).await?;
    let current = rep::current_authoriser(&tx).await?;
    let schedules = rep::schedules_of(&tx, me.person).await?;
    tx.commit().await?;
    let zone = site.zone();
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "Organisation reports", &[("Home", "/")]);
    ctx.insert("authoriser", &st.authoriser.is_some());
    ctx.insert("lead", &st.lead.as_ref().map(|g| json!({ "until": day(g.expires_at, zone) })));
    ctx.insert("user", &st.user.as_ref().map(|g| json!({ "until": day(g.expires_at, zone), "purpose": g.purpose })));
    ctx.insert("current", &current.map(|a| json!({ "name": a.name, "role": role_words(a.role) })));
    ctx.insert(
        "schedules",
        &schedules
            .iter()
            .map(|s| {
                json!({ "id": s.id.to_string(), "title": Kind::parse(&s.report).map_or("", |k| k.title()),
                        "link": format!("/reporting/reports/{}?{}", s.report, s.query),
                        "next": s.next_on.format("%-d %B %Y").to_string() })
            })
            .collect::<Vec<_>>(),
    );
    page::render(state, Some(site), "pages/reporting.html", &ctx, StatusCode::OK)
}

// ---------------------------------------------------------------------------------------------
// The authoriser: reporting leads.

fn grant_rows(grants: &[rep::ReportGrant], zone: chrono_tz::Tz) -> Vec<serde_json::Value> {
    let now = Utc::now();
    grants
        .iter()
        .map(|g| {
            json!({
                "id": g.id.to_string(), "name": g.person_name, "email": g.person_email,
                "made": day(g.created_at, zone), "until": day(g.expires_at, zone),
                "purpose": g.purpose, "statement": g.statement,
                "state": if g.revoked_at.is_some() { "Revoked" } else if g.expires_at <= now { "Ended" } else { "Active" },
                "live": g.live(now),
            })
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
async fn leads_page(
    state: &AppState,
    site: &Site,
    req: &Request,
    tx: TenantTx,
    errors: &FormErrors,
    values: serde_json::Value,
    statement: Option<String>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let given = rep::grants(&tx, ReportGrantKind::Lead).await?;
    tx.commit().await?;
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "Reporting leads",
        &[("Home", "/"), ("Organisation reports", "/reporting")],
    );
    ctx.insert("grants", &grant_rows(&given, site.zone()));
    ctx.insert("values", &values);
    ctx.insert("statement", &statement);
    errors.insert_into(&mut ctx);
    page::render(state, Some(site), "pages/reporting_leads.html", &ctx, status)
}

fn default_until(site: &Site) -> String {
    (site.today() + Duration::days(MAX_DAYS)).to_string()
}

/// The authoriser's page: the leads they have authorised, and the form to authorise one.
#[handler]
pub async fn leads(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone, tx::Writes>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let st = rep::standing(&tx, me.person, Utc::now()).await?;
    if st.authoriser.is_none() {
        return refuse(
            state,
            req,
            tx,
            me.person,
            "leads",
            "Only the trust's authoriser can do this",
            "Reporting leads are authorised by the trust's HR director, medical director, SIRO or Caldicott Guardian, once confirmed.",
        )
        .await;
    }
    let values = json!({ "email": "", "until": default_until(site) });
    leads_page(state, site, req, tx, &FormErrors::new(), values, None, StatusCode::OK).await
}

/// The authoriser authorises a lead: first the statement to make is shown, then, confirmed, it is
/// recorded word for word with the time and the address it came from.
#[handler]
pub async fn authorise_lead(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let st = rep::standing(&tx, me.person, Utc::now()).await?;
    let Some(authoriser) = st.authoriser else {
        return refuse(state, req, tx, me.person, "leads", "Only the trust's authoriser can do this", "").await;
    };
    let one = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_owned()).unwrap_or_default();
    let mut errors = FormErrors::new();
    let email = Email::parse(&one("email")).map_err(|m| errors.insert("email", m)).ok();
    let who = match &email {
        Some(e) => approved_member(&tx, e, &mut errors).await?.filter(|p| {
            let other = p.id != me.person;
            if !other {
                errors.insert(
                    "email",
                    "Choose someone other than yourself: the authoriser and the lead are different people",
                );
            }
            other
        }),
        None => None,
    };
    let until = page::last_day(&one, site.today(), MAX_DAYS, "Enter the last day of the grant", &mut errors);
    let values = json!({ "email": one("email"), "until": page::date_as_typed(&one("until"), [&one("until-day"), &one("until-month"), &one("until-year")]) });
    let (Some(person), Some(until)) = (who.filter(|_| errors.is_empty()), until) else {
        return leads_page(state, site, req, tx, &errors, values, None, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let name = format!("{} {}", person.given_name, person.family_name).trim().to_owned();
    let statement = lead_statement(authoriser.role, &authoriser.name, site, &name, &person.email, until);
    if one("step") != "confirm" || one("statement") != statement {
        // Show the statement, word for word, for the authoriser to make.
        let values = json!({ "email": person.email, "until": until.to_string() });
        return leads_page(state, site, req, tx, &FormErrors::new(), values, Some(statement), StatusCode::OK).await;
    }
    let ip = ip_of(state, req);
    let grant = rep::grant(
        &tx,
        &NewReportGrant {
            kind: ReportGrantKind::Lead,
            person: person.id,
            person_name: &name,
            person_email: &person.email,
            granted_by: me.person,
            parent: authoriser.id,
            statement: &statement,
            purpose: "",
            ip: &ip,
            expires_at: site.end_of_day(until),
        },
    )
    .await?;
    audit::record(
        &tx,
        Some(me.person),
        "reporting.lead_authorised",
        &grant.to_string(),
        Some(&ip),
        json!({ "person": person.id.to_string(), "until": until.to_string(), "statement": statement }),
    )
    .await?;
    let mail = render_email(
        state,
        site,
        "report_grant",
        &person.email,
        &format!("You are a reporting lead of {}", site.entry.name),
        json!({ "name": name, "by": authoriser.name, "what": "a reporting lead", "until": until.format("%-d %B %Y").to_string(),
                "purpose": "", "link": format!("{}reporting", site.url) }),
    )?;
    outbox::enqueue_email(&tx, &mail).await?;
    tx.commit().await?;
    crate::context::queue::wake(state).await;
    Ok(see_other_saying(
        req,
        "/reporting/leads",
        format!("{name} is a reporting lead until {}. We emailed them.", until.format("%-d %B %Y")),
    ))
}

/// The authoriser revokes a lead at once (and with it the report users the lead nominated).
#[handler]
pub async fn revoke_lead(
    Ctx { req, state, site: _ }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path(grant): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let grant: uuid::Uuid = page::path_id(&grant)?;
    let st = rep::standing(&tx, me.person, Utc::now()).await?;
    if st.authoriser.is_none() {
        return refuse(state, req, tx, me.person, "leads", "Only the trust's authoriser can do this", "").await;
    }
    let Some(g) = rep::revoke_grant(&tx, grant, ReportGrantKind::Lead, me.person).await? else {
        return Err(AppError::NotFound);
    };
    audit::record(
        &tx,
        Some(me.person),
        "reporting.lead_revoked",
        &grant.to_string(),
        Some(&ip_of(state, req)),
        json!({ "person": g.person.to_string() }),
    )
    .await?;
    tx.commit().await?;
    Ok(see_other_saying(
        req,
        "/reporting/leads",
        format!(
            "{} is no longer a reporting lead, and the report users they nominated can no longer run reports.",
            g.person_name
        ),
    ))
}

// ---------------------------------------------------------------------------------------------
// A reporting lead: report users.

async fn users_page(
    state: &AppState,
    site: &Site,
    req: &Request,
    tx: TenantTx,
    errors: &FormErrors,
    values: serde_json::Value,
    status: StatusCode,
) -> Result<Response, AppError> {
    let given = rep::grants(&tx, ReportGrantKind::User).await?;
    tx.commit().await?;
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "Report users",
        &[("Home", "/"), ("Organisation reports", "/reporting")],
    );
    ctx.insert("grants", &grant_rows(&given, site.zone()));
    ctx.insert("values", &values);
    errors.insert_into(&mut ctx);
    page::render(state, Some(site), "pages/reporting_users.html", &ctx, status)
}

/// A lead's page: the report users, and the form to nominate one.
#[handler]
pub async fn users(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone, tx::Writes>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let st = rep::standing(&tx, me.person, Utc::now()).await?;
    if st.lead.is_none() {
        return refuse(
            state,
            req,
            tx,
            me.person,
            "users",
            "Only a reporting lead can do this",
            "Report users are nominated by the trust's reporting leads, whom the trust's authoriser authorises.",
        )
        .await;
    }
    let values = json!({ "email": "", "purpose": "", "until": default_until(site) });
    users_page(state, site, req, tx, &FormErrors::new(), values, StatusCode::OK).await
}

/// A lead nominates a report user with a purpose and an expiry.
#[handler]
pub async fn nominate_user(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let st = rep::standing(&tx, me.person, Utc::now()).await?;
    let Some(lead) = st.lead else {
        return refuse(state, req, tx, me.person, "users", "Only a reporting lead can do this", "").await;
    };
    let one = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_owned()).unwrap_or_default();
    let mut errors = FormErrors::new();
    let email = Email::parse(&one("email")).map_err(|m| errors.insert("email", m)).ok();
    let who = match &email {
        Some(e) => approved_member(&tx, e, &mut errors).await?,
        None => None,
    };
    let purpose = one("purpose");
    if purpose.chars().count() < 10 || purpose.chars().count() > 500 {
        errors.insert("purpose", "Say what they need the reports for, in 10 to 500 characters");
    }
    let until = page::last_day(&one, site.today(), MAX_DAYS, "Enter the last day of the grant", &mut errors);
    let values = json!({ "email": one("email"), "purpose": purpose, "until": page::date_as_typed(&one("until"), [&one("until-day"), &one("until-month"), &one("until-year")]) });
    let (Some(person), Some(until)) = (who.filter(|_| errors.is_empty()), until) else {
        return users_page(state, site, req, tx, &errors, values, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    // A user's grant cannot outlast the lead's that nominated them.
    let expires = site.end_of_day(until).min(lead.expires_at);
    let name = format!("{} {}", person.given_name, person.family_name).trim().to_owned();
    let ip = ip_of(state, req);
    let grant = rep::grant(
        &tx,
        &NewReportGrant {
            kind: ReportGrantKind::User,
            person: person.id,
            person_name: &name,
            person_email: &person.email,
            granted_by: me.person,
            parent: lead.id,
            statement: "",
            purpose: &purpose,
            ip: &ip,
            expires_at: expires,
        },
    )
    .await?;
    audit::record(
        &tx,
        Some(me.person),
        "reporting.user_nominated",
        &grant.to_string(),
        Some(&ip),
        json!({ "person": person.id.to_string(), "purpose": purpose, "until": expires.date_naive().to_string() }),
    )
    .await?;
    let until_words = day(expires, site.zone());
    let mail = render_email(
        state,
        site,
        "report_grant",
        &person.email,
        &format!("You can run organisation reports at {}", site.entry.name),
        json!({ "name": name, "by": me.name, "what": "a report user", "until": until_words, "purpose": purpose,
                "link": format!("{}reporting", site.url) }),
    )?;
    outbox::enqueue_email(&tx, &mail).await?;
    tx.commit().await?;
    crate::context::queue::wake(state).await;
    Ok(see_other_saying(
        req,
        "/reporting/users",
        format!("{name} can run reports until {until_words}. We emailed them."),
    ))
}

/// A lead (or the authoriser) revokes a report user at once.
#[handler]
pub async fn revoke_user(
    Ctx { req, state, site: _ }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path(grant): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let grant: uuid::Uuid = page::path_id(&grant)?;
    let st = rep::standing(&tx, me.person, Utc::now()).await?;
    if st.lead.is_none() && st.authoriser.is_none() {
        return refuse(state, req, tx, me.person, "users", "Only a reporting lead can do this", "").await;
    }
    let Some(g) = rep::revoke_grant(&tx, grant, ReportGrantKind::User, me.person).await? else {
        return Err(AppError::NotFound);
    };
    audit::record(
        &tx,
        Some(me.person),
        "reporting.user_revoked",
        &grant.to_string(),
        Some(&ip_of(state, req)),
        json!({ "person": g.person.to_string() }),
    )
    .await?;
    tx.commit().await?;
    let back = if st.lead.is_some() { "/reporting/users" } else { "/reporting/audit" };
    Ok(see_other_saying(req, back, format!("{} can no longer run reports.", g.person_name)))
}

// ---------------------------------------------------------------------------------------------
// The audit: grants and report runs, for the authoriser and the leads.

fn audit_words(action: &str) -> &str {
    match action {
        "reporting.authoriser_recorded" => "Authoriser recorded by the platform",
        "reporting.authoriser_confirmed" => "Authoriser confirmed",
        "reporting.lead_authorised" => "Reporting lead authorised",
        "reporting.lead_revoked" => "Reporting lead revoked",
        "reporting.user_nominated" => "Report user nominated",
        "reporting.user_revoked" => "Report user revoked",
        "reporting.grant_expired" => "Grant ended (its time ran out)",
        "reporting.schedule_made" => "Monthly report email set up",
        "reporting.schedule_stopped" => "Monthly report email stopped",
        "reporting.schedule_sent" => "Monthly report email sent",
        "report.run" => "Report run on screen",
        "report.download" => "Report downloaded",
        "report.refused" => "Refused: no grant",
        other => other,
    }
}

/// Every grant, refusal, expiry and revocation, and every report run and download.
#[handler]
pub async fn audit_page(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone, tx::Writes>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let st = rep::standing(&tx, me.person, Utc::now()).await?;
    if st.authoriser.is_none() && st.lead.is_none() {
        return refuse(
            state,
            req,
            tx,
            me.person,
            "audit",
            "Only the trust's authoriser and reporting leads can see this",
            "The record of organisation reporting is for the authoriser and the reporting leads.",
        )
        .await;
    }
    let trail = trellis_db::audit::trail_of(&tx, "reporting.", 200).await?;
    let runs = rep::access_log(&tx, "report.", 500).await?;
    let mut ids: Vec<PersonId> = runs.iter().filter_map(|r| r.person).collect();
    ids.extend(trail.iter().filter_map(|e| e.actor));
    ids.extend(trail.iter().filter_map(|e| {
        serde_json::from_str::<serde_json::Value>(&e.detail).ok()?["person"].as_str()?.parse::<PersonId>().ok()
    }));
    ids.sort();
    ids.dedup();
    let names = id::member_names(&tx, &ids).await?;
    tx.commit().await?;
    let zone = site.zone();
    let when = |t: DateTime<Utc>| t.with_timezone(&zone).format("%-d %b %Y %H:%M").to_string();
    let name_of = |p: Option<PersonId>| {
        p.map_or_else(
            || "The service".to_owned(),
            |p| names.get(&p).cloned().unwrap_or_else(|| "A former member".into()),
        )
    };
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "Record of organisation reporting",
        &[("Home", "/"), ("Organisation reports", "/reporting")],
    );
    ctx.insert(
        "grants",
        &trail
            .iter()
            .map(|e| {
                let who = e.actor;
                let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap_or_default();
                let about = detail["person"].as_str().and_then(|p| p.parse::<PersonId>().ok());
                json!({
                    "at": when(e.at), "by": name_of(who), "what": audit_words(&e.action),
                    "about": about.map(|p| names.get(&p).cloned().unwrap_or_else(|| "A former member".into())),
                    "words": detail["statement"].as_str().or(detail["purpose"].as_str()).unwrap_or(""),
                })
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert(
        "runs",
        &runs
            .iter()
            .map(|r| {
                json!({
                    "at": when(r.at), "by": name_of(r.person), "what": audit_words(&r.kind),
                    "report": Kind::parse(&r.subject).map_or(r.subject.as_str(), |k| k.title()),
                    "format": match r.format.as_str() { "csv" => "CSV", "pdf" => "PDF", "screen" => "Screen", _ => "" },
                    "filters": filter_words(&r.detail), "rows": r.rows,
                })
            })
            .collect::<Vec<_>>(),
    );
    page::render(state, Some(site), "pages/reporting_audit.html", &ctx, StatusCode::OK)
}

fn filter_words(d: &serde_json::Value) -> String {
    let Some(map) = d.as_object() else { return String::new() };
    fn label(k: &str) -> &str {
        match k {
            "course" => "courses",
            "programme" => "programme",
            "group" => "staff group",
            "department" => "department",
            "place" => "place of work",
            "from" => "from",
            "to" => "to",
            "path" => "page",
            other => other,
        }
    }
    map.iter()
        .filter(|(_, v)| !v.is_null() && v.as_str() != Some("") && v.as_array().is_none_or(|a| !a.is_empty()))
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{}: {s}", label(k)),
            serde_json::Value::Array(a) => format!("{}: {}", label(k), a.len()),
            other => format!("{}: {other}", label(k)),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

// ---------------------------------------------------------------------------------------------
// The reports.

/// The reports of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    StaffActivity,
    Completions,
    Uptake,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "staff-activity" => Some(Self::StaffActivity),
            "completions" => Some(Self::Completions),
            "uptake" => Some(Self::Uptake),
            _ => None,
        }
    }
    pub fn key(self) -> &'static str {
        match self {
            Self::StaffActivity => "staff-activity",
            Self::Completions => "completions",
            Self::Uptake => "uptake",
        }
    }
    pub fn title(self) -> &'static str {
        match self {
            Self::StaffActivity => "Staff activity",
            Self::Completions => "Completions over time",
            Self::Uptake => "Course uptake",
        }
    }
}

/// A report's filters as asked for in the query string.
struct Asked {
    q: ReportQuery,
    page: u64,
    typed: serde_json::Value,
    errors: FormErrors,
}

fn asked(req: &Request, site: &Site, known: &[(CourseId, String)], programmes: &[(uuid::Uuid, String)]) -> Asked {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()).into_owned().collect();
    let one = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_owned()).unwrap_or_default();
    let mut errors = FormErrors::new();
    let mut courses = Vec::new();
    for (_, v) in pairs.iter().filter(|(k, _)| k == "course") {
        match v.parse::<CourseId>().ok().filter(|c| known.iter().any(|k| k.0 == *c)) {
            Some(c) => courses.push(c),
            None => errors.insert("course", "Choose courses from the list"),
        }
    }
    let programme = match one("programme").as_str() {
        "" => None,
        p => match p.parse::<uuid::Uuid>().ok().filter(|p| programmes.iter().any(|x| x.0 == *p)) {
            Some(p) => Some(p),
            None => {
                errors.insert("programme", "Choose a programme from the list");
                None
            }
        },
    };
    let group = one("group");
    if !group.is_empty() && staff_group(&group).is_none() {
        errors.insert("group", "Choose a staff group from the list");
    }
    let mut date = |name: &str, label: &'static str| {
        let parts = [one(&format!("{name}-day")), one(&format!("{name}-month")), one(&format!("{name}-year"))];
        let parts = [parts[0].as_str(), parts[1].as_str(), parts[2].as_str()];
        let typed = page::date_as_typed(&one(name), parts);
        match page::date_entered(&one(name), parts) {
            None => (None, typed),
            Some(Ok(d)) => (Some(d), typed),
            Some(Err(())) => {
                errors.insert(name.to_owned(), label);
                (None, typed)
            }
        }
    };
    let (from, from_typed) = date("from", "Enter the first day as a real date, like 1 9 2026");
    let (to, to_typed) = date("to", "Enter the last day as a real date, like 30 11 2026");
    if let (Some(f), Some(t)) = (from, to)
        && t < f
    {
        errors.insert("to", "The last day must be on or after the first day");
    }
    let zone = site.zone();
    let start = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0).and_then(|t| t.and_local_timezone(zone).earliest()).map(|t| t.with_timezone(&Utc))
    };
    let q = ReportQuery {
        courses,
        programme,
        staff_group: staff_group(&group).unwrap_or_default().to_owned(),
        department: one("department"),
        place_of_work: one("place").to_uppercase(),
        from: from.and_then(start),
        to: to.and_then(|t| start(t + Duration::days(1))),
    };
    let typed = json!({
        "group": group, "department": one("department"), "place": one("place"), "programme": one("programme"),
        "from": from_typed, "to": to_typed,
    });
    Asked { q, page: one("page").parse::<u64>().unwrap_or(1).max(1), typed, errors }
}

/// The filters as a query string (for paging, downloads and monthly emails).
fn query_of(q: &ReportQuery, site: &Site) -> String {
    let zone = site.zone();
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for c in &q.courses {
        s.append_pair("course", &c.to_string());
    }
    if let Some(p) = q.programme {
        s.append_pair("programme", &p.to_string());
    }
    for (k, v) in [("group", &q.staff_group), ("department", &q.department), ("place", &q.place_of_work)] {
        if !v.is_empty() {
            s.append_pair(k, v);
        }
    }
    if let Some(f) = q.from {
        s.append_pair("from", &f.with_timezone(&zone).date_naive().to_string());
    }
    if let Some(t) = q.to {
        s.append_pair("to", &(t.with_timezone(&zone).date_naive() - Duration::days(1)).to_string());
    }
    s.finish()
}

/// The filters as recorded in the access log.
fn filters_json(q: &ReportQuery, site: &Site) -> serde_json::Value {
    let zone = site.zone();
    json!({
        "course": q.courses.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "programme": q.programme.map(|p| p.to_string()),
        "group": q.staff_group, "department": q.department, "place": q.place_of_work,
        "from": q.from.map(|f| f.with_timezone(&zone).date_naive().to_string()),
        "to": q.to.map(|t| (t.with_timezone(&zone).date_naive() - Duration::days(1)).to_string()),
    })
}

const ACTIVITY_HEADER: [&str; 16] = [
    "Family name",
    "Given name",
    "Email",
    "Assignment number",
    "Staff group",
    "Department",
    "Place of work",
    "Course",
    "Status",
    "Enrolled",
    "First opened",
    "Last opened",
    "Completed",
    "Visits",
    "Time spent",
    "Best score",
];

fn activity_cells(l: &rep::ActivityLine, zone: chrono_tz::Tz, iso: bool) -> Vec<String> {
    let date = |t: DateTime<Utc>| {
        let t = t.with_timezone(&zone);
        if iso { t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false) } else { t.format("%-d %b %Y").to_string() }
    };
    let c = |s: &str| if iso { cell(s) } else { s.to_owned() };
    vec![
        c(&l.family_name),
        c(&l.given_name),
        c(&l.email),
        c(&l.assignment_number),
        c(&l.staff_group),
        c(&l.department),
        c(&l.place_of_work),
        c(&l.course_title),
        status_words(&l.status).to_owned(),
        date(l.enrolled_at),
        l.first_access_at.map(date).unwrap_or_default(),
        l.last_access_at.map(date).unwrap_or_default(),
        l.completed_at.map(date).unwrap_or_default(),
        l.visits.to_string(),
        if iso { l.seconds.to_string() } else { time_words(l.seconds) },
        l.best_score.map(|s| format!("{}%", (s * 100.0).round())).unwrap_or_default(),
    ]
}

fn status_words(s: &str) -> &str {
    match s {
        "requested" => "Requested",
        "payment" => "Awaiting payment",
        "active" => "In progress",
        "completed" => "Completed",
        "withdrawn" => "Withdrawn",
        "expired" => "Access ended",
        other => other,
    }
}

/// A report as a header and rows of cells (all of it: completions and uptake are short).
async fn aggregate_table(
    tx: &TenantTx,
    kind: Kind,
    q: &ReportQuery,
) -> Result<(Vec<&'static str>, Vec<Vec<String>>), AppError> {
    Ok(match kind {
        Kind::Completions => (
            vec!["Month", "Course", "Completions"],
            rep::completions_by_month(tx, q)
                .await?
                .into_iter()
                .map(|(m, t, n)| {
                    let month = NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d")
                        .map_or(m.clone(), |d| d.format("%B %Y").to_string());
                    vec![month, t, n.to_string()]
                })
                .collect(),
        ),
        Kind::Uptake => (
            vec!["Course", "Enrolled", "Started", "Completed", "Withdrawn", "Completed (%)"],
            rep::uptake(tx, q)
                .await?
                .into_iter()
                .map(|u| {
                    let rate = if u.enrolled > 0 { (u.completed * 100 + u.enrolled / 2) / u.enrolled } else { 0 };
                    vec![
                        u.title,
                        u.enrolled.to_string(),
                        u.started.to_string(),
                        u.completed.to_string(),
                        u.withdrawn.to_string(),
                        rate.to_string(),
                    ]
                })
                .collect(),
        ),
        Kind::StaffActivity => unreachable!("the staff activity report is read in pages"),
    })
}

/// A report of the suite, on screen (`/reporting/reports/<report>`), as CSV (`….csv`) or as PDF
/// (`….pdf`). Only for a reporting lead or a report user; every run is recorded.
#[handler]
pub async fn report(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone, tx::Writes>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let (stem, format) = match name.rsplit_once('.') {
        Some((s, "csv")) => (s, "csv"),
        Some((s, "pdf")) => (s, "pdf"),
        Some(_) => return Err(AppError::NotFound),
        None => (name.as_str(), "screen"),
    };
    let Some(kind) = Kind::parse(stem) else { return Err(AppError::NotFound) };
    let st: Standing = rep::standing(&tx, me.person, Utc::now()).await?;
    if !st.may_report() {
        return refuse(
            state,
            req,
            tx,
            me.person,
            kind.key(),
            "You need a grant to run organisation reports",
            "Reports that name the trust's staff are for reporting leads and the report users they nominate. Ask a reporting lead if you need them.",
        )
        .await;
    }
    let known = rep::reportable_courses(&tx).await?;
    let programmes: Vec<(uuid::Uuid, String)> =
        trellis_db::catalogue::programmes(&tx).await?.into_iter().map(|p| (p.id.as_uuid(), p.title)).collect();
    let a = asked(req, site, &known, &programmes);
    let zone = site.zone();
    if !a.errors.is_empty() && format != "screen" {
        let (_, m) = a.errors.iter().next().unwrap_or(("", "Check the filters"));
        return Err(AppError::BadRequest(m.to_owned()));
    }
    let ip = ip_of(state, req);
    let log = |rows: u64| AccessEvent {
        at: Utc::now(),
        person: Some(me.person),
        kind: if format == "screen" { "report.run" } else { "report.download" }.into(),
        subject: kind.key().into(),
        detail: filters_json(&a.q, site),
        rows: i32::try_from(rows).unwrap_or(i32::MAX),
        format: format.into(),
        ip: ip.clone(),
        bytes: 0,
    };
    let qs = query_of(&a.q, site);
    let stamp = format!("{}-{}", kind.key(), site.today());
    match (kind, format) {
        (Kind::StaffActivity, "csv") => {
            let lines = rep::staff_activity_lines(&tx, &a.q).await?;
            rep::record_access(&tx, &log(lines)).await?;
            tx.commit().await?;
            Ok(activity_csv(state, site, a.q, &stamp))
        }
        (_, "screen") => {
            let mut status = StatusCode::OK;
            let (header, lines, people, pages) = if !a.errors.is_empty() {
                status = StatusCode::BAD_REQUEST;
                (Vec::new(), Vec::new(), 0, 1)
            } else if kind == Kind::StaffActivity {
                let people = rep::staff_activity_people(&tx, &a.q).await?;
                let pages = people.div_ceil(PAGE_PEOPLE).max(1);
                let page_no = a.page.min(pages);
                let (lines, _) = rep::staff_activity(
                    &tx,
                    &a.q,
                    People::Page { offset: (page_no - 1) * PAGE_PEOPLE, size: PAGE_PEOPLE },
                )
                .await?;
                let cells: Vec<Vec<String>> = lines.iter().map(|l| activity_cells(l, zone, false)).collect();
                (ACTIVITY_HEADER.to_vec(), cells, people, pages)
            } else {
                let (h, l) = aggregate_table(&tx, kind, &a.q).await?;
                (h, l, 0, 1)
            };
            let page_no = a.page.min(pages);
            if a.errors.is_empty() {
                rep::record_access(&tx, &log(lines.len() as u64)).await?;
            }
            let schedules = rep::schedules_of(&tx, me.person).await?;
            tx.commit().await?;
            let link = |n: u64| format!("/reporting/reports/{}?{qs}&page={n}", kind.key());
            let mut ctx = page::context(
                state,
                Some(site),
                &RequestInfo::of(req),
                kind.title(),
                &[("Home", "/"), ("Organisation reports", "/reporting")],
            );
            ctx.insert("report", &json!({ "key": kind.key(), "title": kind.title() }));
            ctx.insert("header", &header);
            ctx.insert("lines", &lines);
            ctx.insert("people", &people);
            ctx.insert("page_no", &page_no);
            ctx.insert("pages", &pages);
            ctx.insert("prev_url", &(page_no > 1).then(|| link(page_no - 1)));
            ctx.insert("next_url", &(page_no < pages).then(|| link(page_no + 1)));
            ctx.insert("csv_url", &format!("/reporting/reports/{}.csv?{qs}", kind.key()));
            ctx.insert("pdf_url", &format!("/reporting/reports/{}.pdf?{qs}", kind.key()));
            ctx.insert("query", &qs);
            ctx.insert("scheduled", &schedules.iter().any(|s| s.report == kind.key() && s.query == qs));
            ctx.insert(
                "courses",
                &known
                    .iter()
                    .map(|(c, t)| json!({ "id": c.to_string(), "title": t, "chosen": a.q.courses.contains(c) }))
                    .collect::<Vec<_>>(),
            );
            ctx.insert(
                "programmes",
                &programmes.iter().map(|(p, t)| json!({ "id": p.to_string(), "title": t })).collect::<Vec<_>>(),
            );
            ctx.insert("groups", &STAFF_GROUPS);
            ctx.insert("values", &a.typed);
            ctx.insert("purpose", &st.user.as_ref().map(|g| g.purpose.clone()));
            a.errors.insert_into(&mut ctx);
            page::render(state, Some(site), "pages/reporting_report.html", &ctx, status)
        }
        (_, _) => {
            // PDF (any report), or CSV of a short report.
            let (header, lines) = if kind == Kind::StaffActivity {
                let mut all = Vec::new();
                let mut cursor = None;
                loop {
                    let (lines, next) =
                        rep::staff_activity(&tx, &a.q, People::After { cursor: cursor.as_ref(), size: 2_000 }).await?;
                    all.extend(lines.iter().map(|l| activity_cells(l, zone, format == "csv")));
                    if next.is_none() || all.len() > 20_000 {
                        break;
                    }
                    cursor = next;
                }
                if all.len() > 20_000 {
                    return Err(AppError::BadRequest(
                        "This report is too long for a PDF (more than 20,000 lines): narrow the filters, or download it as CSV".into(),
                    ));
                }
                // Fewer columns fit a page.
                let keep = [0usize, 1, 4, 7, 8, 12, 14, 15];
                (
                    keep.iter().map(|i| ACTIVITY_HEADER[*i]).collect(),
                    all.into_iter().map(|row| keep.iter().map(|i| row[*i].clone()).collect()).collect(),
                )
            } else {
                aggregate_table(&tx, kind, &a.q).await?
            };
            rep::record_access(&tx, &log(lines.len() as u64)).await?;
            tx.commit().await?;
            if format == "csv" {
                let mut w = csv::Writer::from_writer(Vec::new());
                w.write_record(&header).map_err(|e| AppError::Internal(e.into()))?;
                for l in &lines {
                    w.write_record(l.iter().map(|c| cell(c))).map_err(|e| AppError::Internal(e.into()))?;
                }
                let bytes = w.into_inner().map_err(|e| AppError::Internal(anyhow::anyhow!("csv: {e}")))?;
                return Ok(Response::builder()
                    .content_type("text/csv; charset=utf-8")
                    .header("content-disposition", format!("attachment; filename=\"{stamp}.csv\""))
                    .header("cache-control", "no-store")
                    .body(Body::from(bytes)));
            }
            let mut intro = vec![
                site.entry.name.clone(),
                format!("Run by {}", me.name),
                format!("Made {}", Utc::now().with_timezone(&zone).format("%-d %B %Y at %H:%M")),
                "Official sensitive: personal. For the purpose the report user was given only.".to_owned(),
            ];
            let words = filter_words(&filters_json(&a.q, site));
            if !words.is_empty() {
                intro.push(format!("Filters: {words}"));
            }
            intro.push(format!("{} {}", lines.len(), if lines.len() == 1 { "line" } else { "lines" }));
            let mut rows = vec![header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>()];
            rows.extend(lines);
            crate::http::pdf::response(kind.title().to_owned(), intro, rows, &format!("{stamp}.pdf")).await
        }
    }
}

/// The staff activity report as CSV, streamed: one read of the whole report in name order
/// (`rep::staff_activity_stream`: one sort, rows as the database produces them), passed on in
/// batches of `EXPORT_LINES` through a channel of one, so memory stays flat whatever the trust's
/// size and the database reads on while the last batch is written out. The read stops when the
/// download is abandoned.
fn activity_csv(state: &AppState, site: &Site, q: ReportQuery, stamp: &str) -> Response {
    let mut header = csv::Writer::from_writer(Vec::new());
    let first = header
        .write_record(ACTIVITY_HEADER.iter().map(|h| if *h == "Time spent" { "Seconds" } else { h }))
        .ok()
        .and_then(|()| header.into_inner().ok())
        .map(Bytes::from)
        .unwrap_or_default();
    let state = state.clone();
    let tenant = site.entry.id;
    let zone = site.zone();
    let (send, receive) = tokio::sync::mpsc::channel::<Result<Vec<rep::ActivityLine>, trellis_db::DbError>>(1);
    tokio::spawn(async move {
        use futures_util::StreamExt as _;
        let run = async {
            let tx = state.dbs.app.begin_read(tenant).await?;
            {
                let mut rows = std::pin::pin!(rep::staff_activity_stream(&tx, &q).await?);
                let mut batch = Vec::with_capacity(EXPORT_LINES);
                while let Some(line) = rows.next().await {
                    batch.push(line?);
                    if batch.len() == EXPORT_LINES {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(EXPORT_LINES));
                        if send.send(Ok(full)).await.is_err() {
                            return Ok(()); // the download was abandoned
                        }
                    }
                }
                if !batch.is_empty() && send.send(Ok(batch)).await.is_err() {
                    return Ok(());
                }
            }
            tx.commit().await?;
            Ok::<_, trellis_db::DbError>(())
        };
        if let Err(e) = run.await {
            let _ = send.send(Err(e)).await;
        }
    });
    let chunks = futures_util::stream::unfold(Some(receive), move |receive| async move {
        let mut receive = receive?;
        match receive.recv().await? {
            Ok(lines) => {
                let mut w = csv::Writer::from_writer(Vec::with_capacity(lines.len() * 240));
                for l in &lines {
                    if let Err(e) = w.write_record(activity_cells(l, zone, true)) {
                        return Some((Err(std::io::Error::other(e)), None));
                    }
                }
                let bytes = w.into_inner().map_err(|e| std::io::Error::other(e.to_string()));
                Some((bytes.map(Bytes::from), Some(receive)))
            }
            Err(e) => {
                tracing::error!(error = %e, "staff activity export failed part way");
                Some((Err(std::io::Error::other("the export failed part way; try again")), None))
            }
        }
    });
    let body = futures_util::StreamExt::chain(futures_util::stream::once(async move { Ok(first) }), chunks);
    Response::builder()
        .content_type("text/csv; charset=utf-8")
        .header("content-disposition", format!("attachment; filename=\"{stamp}.csv\""))
        .header("cache-control", "no-store")
        .body(Body::from_bytes_stream(body))
}

// ---------------------------------------------------------------------------------------------
// Monthly emails.

/// The first day of the month after `d`.
pub fn next_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month0() == 11 { (d.year() + 1, 1) } else { (d.year(), d.month() + 1) };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(d + Duration::days(31))
}
use chrono::Datelike;

/// Sets up a monthly email of a link to this report with these filters.
#[handler]
pub async fn schedule(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let st = rep::standing(&tx, me.person, Utc::now()).await?;
    if !st.may_report() {
        return refuse(state, req, tx, me.person, "schedule", "You need a grant to run organisation reports", "").await;
    }
    let one = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_owned()).unwrap_or_default();
    let Some(kind) = Kind::parse(&one("report")) else { return Err(AppError::BadRequest("Choose a report".into())) };
    let query = one("query");
    if query.len() > 4_000 {
        return Err(AppError::BadRequest("The filters are too long to keep".into()));
    }
    let next = next_month(site.today());
    let id = rep::schedule(&tx, me.person, kind.key(), &query, next).await?;
    audit::record(
        &tx,
        Some(me.person),
        "reporting.schedule_made",
        &id.to_string(),
        None,
        json!({ "report": kind.key(), "query": query }),
    )
    .await?;
    tx.commit().await?;
    Ok(see_other_saying(
        req,
        &format!("/reporting/reports/{}?{query}", kind.key()),
        format!(
            "We will email you a link to this report on the first of each month, starting {}. The email has no personal data in it.",
            next.format("%-d %B %Y")
        ),
    ))
}

/// Stops a monthly email.
#[handler]
pub async fn unschedule(
    Ctx { req, state: _, site: _ }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let id: uuid::Uuid = page::path_id(&id)?;
    if !rep::cancel_schedule(&tx, me.person, id).await? {
        return Err(AppError::NotFound);
    }
    audit::record(&tx, Some(me.person), "reporting.schedule_stopped", &id.to_string(), None, json!({})).await?;
    tx.commit().await?;
    Ok(see_other_saying(req, "/reporting", "The monthly email is stopped."))
}

/// The daily run's part for organisation reporting at one trust: grants whose time ran out go to
/// the audit trail (once each), and monthly report emails due are sent (a link that needs signing
/// in, never the report); a schedule whose owner no longer holds a grant stops.
/// `now` is the time it runs as (the worker passes the clock's; tests pass a later one).
pub async fn daily(state: &AppState, site: &Site, tx: &TenantTx, now: DateTime<Utc>) -> Result<(), AppError> {
    for g in rep::note_expired(tx, now).await? {
        audit::record(
            tx,
            None,
            "reporting.grant_expired",
            &g.id.to_string(),
            None,
            json!({ "person": g.person.to_string(), "kind": g.kind.as_str() }),
        )
        .await?;
    }
    let today = now.with_timezone(&site.zone()).date_naive();
    for s in rep::due_schedules(tx, today, 1_000).await? {
        let st = rep::standing(tx, s.person, now).await?;
        let person = id::member_person(tx, s.person).await?;
        let (Some(person), true) = (person, st.may_report()) else {
            rep::cancel_schedule(tx, s.person, s.id).await?;
            audit::record(
                tx,
                None,
                "reporting.schedule_stopped",
                &s.id.to_string(),
                None,
                json!({ "person": s.person.to_string(), "why": "no grant" }),
            )
            .await?;
            continue;
        };
        let title = Kind::parse(&s.report).map_or("Organisation report", Kind::title);
        let mail = render_email(
            state,
            site,
            "report_ready",
            &person.email,
            &format!("Your monthly report is ready: {title}"),
            json!({ "name": person.given_name, "report": title,
                    "link": format!("{}reporting/reports/{}?{}", site.url, s.report, s.query) }),
        )?;
        outbox::enqueue_email(tx, &mail).await?;
        rep::schedule_sent(tx, s.id, next_month(today)).await?;
        audit::record(
            tx,
            None,
            "reporting.schedule_sent",
            &s.id.to_string(),
            None,
            json!({ "person": s.person.to_string(), "report": s.report }),
        )
        .await?;
    }
    Ok(())
}
