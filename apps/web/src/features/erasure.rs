//! Erasure by anonymisation (the right to erasure, and withdrawing consent): *Close my account*
//! for the person, and *Erase this person's details* for a trust's training managers. The page
//! says what goes, what stays and why, and asks for confirmation; the work is
//! [`trellis_db::erasure`], in one transaction.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::http::form::FormErrors;
use crate::http::page::{self, RequestInfo};
use crate::http::{Ctx, Member, may};
use poem::http::StatusCode;
use poem::session::Session;
use poem::web::{CsrfToken, Form, Path};
use poem::{Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use trellis_db::erasure::{Erased, Refusal, Requester, Scope};
use trellis_db::identity as id;
use trellis_domain::{PersonId, TenantId};

#[derive(Debug, Deserialize, Default)]
pub struct ConfirmForm {
    #[serde(default)]
    confirm: String,
}

const NOT_TICKED: &str = "Tick the box to confirm that you understand this cannot be undone";

/// The person's own page: what closing their account does, at which organisations, and the form.
#[handler]
pub async fn close_form(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let me = member.release().await?;
    close_page(state, site, req, &token.0, me.person, None).await
}

async fn close_page(
    state: &AppState,
    site: &Site,
    req: &poem::Request,
    csrf: &str,
    person: PersonId,
    error: Option<&str>,
) -> Result<Response, AppError> {
    let itx = state.dbs.identity.begin_read(site.entry.id).await?;
    let trusts = id::memberships_of(&itx, person).await?;
    itx.commit().await?;
    let names: Vec<String> =
        trusts.iter().filter_map(|(t, _)| state.directory.site_by_id(*t)).map(|s| s.entry.name.clone()).collect();
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "Close your account",
        &[("Home", "/"), ("Your profile", "/profile")],
    );
    ctx.insert("csrf_token", csrf);
    ctx.insert("own", &true);
    ctx.insert("action", "/account/close");
    ctx.insert("organisations", &names);
    render_page(state, site, ctx, error)
}

/// Renders the confirmation page (the person's own, or an administrator's), with the box's error.
fn render_page(
    state: &AppState,
    site: &Site,
    mut ctx: tera::Context,
    error: Option<&str>,
) -> Result<Response, AppError> {
    let errors = error.map_or_else(FormErrors::new, |e| FormErrors::one("confirm", e));
    errors.insert_into(&mut ctx);
    ctx.insert("kept", &kept());
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    page::render(state, Some(site), "pages/close_account.html", &ctx, status)
}

/// What an erasure keeps, and why: shown on both pages.
fn kept() -> Vec<Value> {
    vec![
        json!({ "what": "Learning records", "why": "Courses enrolled on, progress, attempts and completions stay, under a random reference instead of a name, so that each organisation's training figures and the published statistics stay correct. Nobody can tell they were yours." }),
        json!({ "what": "Payment records", "why": "Where a course was paid for, the amount, date and organisations stay, because UK tax law requires businesses to keep such records for at least six years. They no longer name you." }),
        json!({ "what": "The audit trail", "why": "Each organisation's record of what was done keeps the date and kind of each entry, so that it stays complete, but no longer names you or holds your network address." }),
    ]
}

/// Closes the person's account and erases their details, after confirmation; refused, with the
/// reason, when they are the last training manager of an organisation.
#[handler]
pub async fn close(
    Ctx { req, state, site }: Ctx<'_>,
    session: &Session,
    member: Member<may::Anyone>,
    token: &CsrfToken,
    Form(f): Form<ConfirmForm>,
) -> Result<Response, AppError> {
    let me = member.release().await?;
    if f.confirm != "yes" {
        return close_page(state, site, req, &token.0, me.person, Some(NOT_TICKED)).await;
    }
    match erase(state, me.person, Scope::Account, Requester::TheirOwn).await? {
        Ok(_) => {
            session.purge();
            crate::features::account::message_page(
                state,
                site,
                req,
                StatusCode::OK,
                "Your account is closed",
                "Your name, email address and other details have been erased at every organisation you belonged to, and you have been signed out everywhere. Your learning records are kept without your name for the organisations' figures. This cannot be undone: to use the service again, register as a new person.",
                Some(("Go to the home page", "/")),
            )
        }
        Err(refusal) => refused(state, site, req, &refusal),
    }
}

fn refused(state: &AppState, site: &Site, req: &poem::Request, refusal: &Refusal) -> Result<Response, AppError> {
    let (heading, body) = match refusal {
        Refusal::LastAdmin(t) => (
            "You are the only training manager",
            format!(
                "{} needs a training manager. Give another member of staff the training manager role on the Staff page first, then close your account. Nothing has been changed.",
                state.directory.name_of(*t).unwrap_or_else(|| "Your organisation".into())
            ),
        ),
        Refusal::PlatformAdmin => (
            "You are a platform administrator",
            "Ask another platform administrator to remove your administrator rights first, then close your account. Nothing has been changed.".to_owned(),
        ),
        Refusal::NotFound => return Err(AppError::NotFound),
    };
    crate::features::account::message_page(
        state,
        site,
        req,
        StatusCode::CONFLICT,
        heading,
        &body,
        Some(("Go to your profile", "/profile")),
    )
}

/// Erases `person` within `scope`, then deletes the files that held copies of their data.
pub async fn erase(
    state: &AppState,
    person: PersonId,
    scope: Scope,
    requester: Requester,
) -> Result<Result<Erased, Refusal>, AppError> {
    let itx = state.dbs.identity.begin_read(TenantId::from_uuid(uuid::Uuid::nil())).await?;
    let account = id::account_by_id(&itx, person).await?;
    let trusts = id::memberships_of(&itx, person).await?;
    itx.commit().await?;
    let Some(account) = account else { return Ok(Err(Refusal::NotFound)) };
    let keys = agent_keys(state, person, &account.email, trusts.iter().map(|(t, _)| *t));
    let done = state.dbs.platform.erase_person_across_tenants(person, scope, requester, &keys).await?;
    if let Ok(e) = &done {
        for key in &e.files {
            if let Err(err) = state.files.delete(key).await {
                // The copy expires and the retention job removes it; say so, without the person.
                tracing::warn!(error = %err, "a copy of an erased person's data could not be deleted yet");
            }
        }
    }
    Ok(done)
}

/// The keys the person's learning record store agents have at each trust: their opaque account,
/// and their email address as `mbox` and `mbox_sha1sum`, should content have used it.
fn agent_keys(
    state: &AppState,
    person: PersonId,
    email: &str,
    trusts: impl Iterator<Item = TenantId>,
) -> Vec<(TenantId, String)> {
    let mbox = format!("mailto:{email}");
    let sha = hex::encode(Sha1::digest(mbox.as_bytes()));
    let mut out = Vec::new();
    for t in trusts {
        let actors = [
            state.directory.site_by_id(t).map(|s| crate::features::elearning::learner_actor(&s, person)),
            Some(json!({ "mbox": mbox })),
            Some(json!({ "mbox_sha1sum": sha })),
        ];
        for a in actors.into_iter().flatten() {
            if let Some(k) = trellis_elearning::lrs::agent_hash(&a) {
                out.push((t, k));
            }
        }
    }
    out
}

/// A training manager's page for erasing a member's details at this trust.
#[handler]
pub async fn erase_form(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageStaff>,
    token: &CsrfToken,
    Path(person): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let person: PersonId = page::path_id(&person)?;
    let who = id::member_person(&tx, person).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    if person == me.person {
        return Ok(page::see_other("/account/close"));
    }
    admin_page(state, site, req, &token.0, &who, None).await
}

async fn admin_page(
    state: &AppState,
    site: &Site,
    req: &poem::Request,
    csrf: &str,
    who: &id::Person,
    error: Option<&str>,
) -> Result<Response, AppError> {
    let itx = state.dbs.identity.begin_read(site.entry.id).await?;
    let elsewhere = id::member_elsewhere(&itx, who.id).await?;
    itx.commit().await?;
    let name = format!("{} {}", who.given_name, who.family_name);
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        &format!("Erase {name}'s details"),
        &[("Home", "/"), ("Staff", "/admin/staff")],
    );
    ctx.insert("csrf_token", csrf);
    ctx.insert("own", &false);
    ctx.insert("name", &name);
    ctx.insert("elsewhere", &elsewhere);
    ctx.insert("action", &format!("/admin/staff/{}/erase", who.id));
    render_page(state, site, ctx, error)
}

/// Erases a member's details at this trust (their whole account, if they belong nowhere else),
/// at their request made to the trust; audited with the training manager as actor.
#[handler]
pub async fn erase_member(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageStaff>,
    token: &CsrfToken,
    Path(person): Path<String>,
    Form(f): Form<ConfirmForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let person: PersonId = page::path_id(&person)?;
    let who = id::member_person(&tx, person).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    if person == me.person {
        return Ok(page::see_other("/account/close"));
    }
    if f.confirm != "yes" {
        return admin_page(state, site, req, &token.0, &who, Some(NOT_TICKED)).await;
    }
    // The whole account if they belong nowhere else, decided as the erasure runs.
    match erase(state, person, Scope::AccountIfOnly(site.entry.id), Requester::Admin(me.person)).await? {
        Ok(_) => Ok(page::see_other_saying(req, "/admin/staff", "Their details have been erased")),
        Err(refusal) => refused(state, site, req, &refusal),
    }
}

/// The most accounts the retention schedule anonymises in one run (each is an erasure at every
/// trust the person belongs to; the rest wait for the next day's run).
const INACTIVE_PER_RUN: u64 = 1000;

/// What the retention schedule did about unused accounts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InactiveRun {
    /// Accounts unused for the schedule's period (at most one run's worth).
    pub found: u64,
    /// Anonymised now.
    pub anonymised: u64,
    /// Left as they are: a trust's only training manager (who must hand over first).
    pub kept: u64,
}

/// Anonymises the accounts not signed in to for `retention.inactive_accounts_days`, as if each
/// person had closed their account (see [`erase`]); with `dry_run`, only counts them.
pub async fn anonymise_inactive(state: &AppState, dry_run: bool) -> Result<InactiveRun, AppError> {
    let days = i64::from(state.config.retention.inactive_accounts_days);
    let before = chrono::Utc::now() - chrono::Duration::days(days);
    let people = state.dbs.platform.inactive_people_across_tenants(before, INACTIVE_PER_RUN).await?;
    let mut run = InactiveRun { found: people.len() as u64, ..InactiveRun::default() };
    if dry_run {
        return Ok(run);
    }
    for person in people {
        match erase(state, person, Scope::Account, Requester::Retention).await? {
            Ok(_) => run.anonymised += 1,
            Err(Refusal::LastAdmin(t)) => {
                run.kept += 1;
                tracing::warn!(tenant = %t, "retention: an unused account is a trust's only training manager; kept");
            }
            Err(_) => run.kept += 1,
        }
    }
    Ok(run)
}
