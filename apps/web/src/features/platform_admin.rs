//! Platform administration on the bare base domain: platform admins sign in, list the trusts,
//! create a trust and appoint its first training manager (who sets a password by an emailed link).

use crate::context::AppState;
use crate::error::AppError;
use crate::features::account::render_email;
use crate::http::PlatformAdmin;
use crate::http::auth::password;
use crate::http::auth::platform::{K_EPOCH, K_PERSON, K_SIGNED_IN};
use crate::http::form::FormErrors;
use crate::http::middleware::forwarded;
use crate::http::page::see_other;
use crate::http::page::{self, RequestInfo};
use poem::http::StatusCode;
use poem::session::Session;
use poem::web::{CsrfToken, Data, Form};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use trellis_db::audit as trail;
use trellis_db::identity::{self as id, MembershipStatus, NewPerson, TokenPurpose, accounts};
use trellis_db::outbox;
use trellis_domain::PersonId;
use trellis_domain::colour::{ColourScheme, Rgb};
use trellis_domain::identity::{Email, Role, is_ods_code};
use trellis_domain::tenant_spec::{Contact, TenantSpec};

/// Password accepted, second step outstanding: who, since when, and which step (`code`/`setup`).
const K_PENDING: &str = "platform_pending_person";
const K_PENDING_AT: &str = "platform_pending_at";
const K_PENDING_STEP: &str = "platform_pending_step";
const K_SETUP_SECRET: &str = "platform_mfa_setup_secret";
/// How long the second step may take after the password.
const PENDING_SECS: i64 = 600;

pub(crate) fn render(
    state: &AppState,
    req: &Request,
    template: &str,
    title: &str,
    ctx_extra: serde_json::Value,
    status: StatusCode,
) -> Result<Response, AppError> {
    let mut ctx = page::context(state, None, &RequestInfo::of(req), title, &[("Home", "/")]);
    if let serde_json::Value::Object(map) = ctx_extra {
        for (k, v) in map {
            ctx.insert(k, &v);
        }
    }
    page::render(state, None, template, &ctx, status)
}

fn form_ctx(token: &CsrfToken, errors: &FormErrors, values: serde_json::Value) -> serde_json::Value {
    let (list, by_field) = errors.to_json();
    let mut all = json!({ "email": "", "slug": "", "name": "", "ods_code": "", "primary": "#005eb8", "admin_email": "", "email_domains": "", "region": "" });
    if let (Some(map), serde_json::Value::Object(given)) = (all.as_object_mut(), values) {
        map.extend(given);
    }
    json!({ "csrf_token": token.0, "errors": list, "error": by_field, "values": all })
}

/// The platform's sign-in form.
#[handler]
pub fn sign_in_form(req: &Request, Data(state): Data<&AppState>, token: &CsrfToken) -> Result<Response, AppError> {
    render(state, req, "pages/sign_in.html", "Sign in", form_ctx(token, &FormErrors::new(), json!({})), StatusCode::OK)
}

#[derive(Debug, Deserialize, Default)]
pub struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// Signs a platform administrator in (the same message for every failure).
#[handler]
pub async fn sign_in(
    req: &Request,
    Data(state): Data<&AppState>,
    session: &Session,
    token: &CsrfToken,
    Form(f): Form<SignInForm>,
) -> Result<Response, AppError> {
    let auth = &state.config.auth;
    let ip = forwarded::client_ip(req, &state.proxies).map(|i| i.to_string()).unwrap_or_default();
    let email = f.email.trim().to_lowercase();
    let window = Duration::from_secs(auth.attempt_window_seconds);
    // Failures only, as on the trusts' sites.
    let (ip_key, acct_key) = (format!("platform:ip:{ip}"), format!("signin:acct:{email}"));
    let limited = match state.limiter.over(&ip_key, auth.failures_per_address, window).await {
        Some(r) => Some(r),
        None => state.limiter.over(&acct_key, auth.attempts_per_account, window).await,
    };
    if let Some(retry) = limited {
        return too_many(state, req, retry);
    }
    let itx = state.dbs.identity.begin_platform().await?;
    let found = trellis_db::identity::credentials(&itx, &email).await?;
    itx.commit().await?;
    let (person, hash) = match found {
        Some((a, h)) => (Some(a), h),
        None => (None, None),
    };
    // One verification whatever the address, so the time taken says nothing.
    let ok = match hash {
        Some(hash) => password::verify(f.password.clone(), hash).await?,
        None => {
            password::verify(f.password.clone(), state.dummy_hash.clone()).await?;
            false
        }
    };
    if !(ok && person.as_ref().is_some_and(|p| p.platform_admin && p.active && p.email_verified)) {
        state.limiter.fail(&ip_key, window).await;
        state.limiter.fail(&acct_key, window).await;
    }
    match person.filter(|p| ok && p.platform_admin && p.active && p.email_verified) {
        Some(p) if p.mfa_enabled || auth.platform_admin_mfa_required => {
            // The password was right; nothing is signed in until the second step.
            let step = if p.mfa_enabled { "code" } else { "setup" };
            session.clear();
            session.renew();
            session.set(K_PENDING, p.id.to_string());
            session.set(K_PENDING_AT, chrono::Utc::now().timestamp());
            session.set(K_PENDING_STEP, step);
            Ok(see_other(if step == "code" { "/sign-in/code" } else { "/sign-in/mfa-setup" }))
        }
        Some(p) => {
            state.dbs.platform.record_platform_audit(&format!("person:{}", p.id), "platform.sign_in", None, ip).await?;
            complete_sign_in(session, p.id, p.session_epoch);
            Ok(see_other("/admin"))
        }
        None => {
            state.dbs.platform.record_platform_audit("unknown account", "platform.sign_in.failed", None, ip).await?;
            let mut errors = FormErrors::new();
            errors.insert("email", "Enter a correct email address and password".to_owned());
            render(
                state,
                req,
                "pages/sign_in.html",
                "Sign in",
                form_ctx(token, &errors, json!({ "email": f.email })),
                StatusCode::UNAUTHORIZED,
            )
        }
    }
}

fn complete_sign_in(session: &Session, person: PersonId, epoch: i32) {
    session.clear();
    session.renew();
    session.set(K_PERSON, person.to_string());
    session.set(K_EPOCH, epoch);
    session.set(K_SIGNED_IN, chrono::Utc::now().timestamp());
}

/// The person whose password was accepted, if the second step `step` is outstanding and recent.
fn pending(session: &Session, step: &str) -> Option<PersonId> {
    let at: i64 = session.get(K_PENDING_AT)?;
    if chrono::Utc::now().timestamp() - at > PENDING_SECS
        || session.get::<String>(K_PENDING_STEP).as_deref() != Some(step)
    {
        return None;
    }
    session.get::<String>(K_PENDING).and_then(|p| p.parse().ok())
}

fn code_page(
    state: &AppState,
    req: &Request,
    token: &CsrfToken,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let mut errors = FormErrors::new();
    if let Some(e) = error {
        errors.insert("code", e.to_owned());
    }
    render(
        state,
        req,
        "pages/sign_in_code.html",
        "Enter your security code",
        form_ctx(token, &errors, json!({})),
        status,
    )
}

/// The second step for a platform administrator with two-step verification on.
#[handler]
pub fn code_form(
    req: &Request,
    Data(state): Data<&AppState>,
    session: &Session,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    if pending(session, "code").is_none() {
        return Ok(see_other("/sign-in"));
    }
    code_page(state, req, token, None, StatusCode::OK)
}

#[derive(Debug, Deserialize, Default)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

/// Checks the code (each TOTP step and each recovery code works once), then signs in.
#[handler]
pub async fn code(
    req: &Request,
    Data(state): Data<&AppState>,
    session: &Session,
    token: &CsrfToken,
    Form(f): Form<CodeForm>,
) -> Result<Response, AppError> {
    let Some(person) = pending(session, "code") else {
        return Ok(see_other("/sign-in"));
    };
    let ip = forwarded::client_ip(req, &state.proxies).map(|i| i.to_string()).unwrap_or_default();
    let window = Duration::from_secs(state.config.auth.attempt_window_seconds);
    let mfa_key = format!("mfa:{person}");
    if let Some(retry) = state.limiter.over(&mfa_key, state.config.auth.attempts_per_account, window).await {
        return too_many(state, req, retry);
    }
    let itx = state.dbs.identity.begin_platform().await?;
    let secret = id::mfa_secret(&itx, person).await?.map(|(s, _)| s).unwrap_or_default();
    let how = crate::http::auth::mfa::verify(&itx, person, &secret, &f.code).await?;
    let epoch = id::account_by_id(&itx, person).await?.map(|p| p.session_epoch).unwrap_or(0);
    itx.commit().await?;
    let actor = format!("person:{person}");
    let Some(how) = how else {
        state.limiter.fail(&mfa_key, window).await;
        state.dbs.platform.record_platform_audit(&actor, "platform.mfa.failed", None, ip).await?;
        return code_page(
            state,
            req,
            token,
            Some("Enter the 6-digit code your authenticator app shows now, or one of your recovery codes"),
            StatusCode::UNAUTHORIZED,
        );
    };
    state.dbs.platform.record_platform_audit(&actor, "platform.sign_in", None, format!("{ip} ({how})")).await?;
    complete_sign_in(session, person, epoch);
    Ok(see_other("/admin"))
}

/// Setting up two-step verification, which platform administrators must have before going on.
#[handler]
pub async fn setup_form(
    req: &Request,
    Data(state): Data<&AppState>,
    session: &Session,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let Some(person) = pending(session, "setup") else {
        return Ok(see_other("/sign-in"));
    };
    setup_page(state, req, session, token, person, None, StatusCode::OK).await
}

async fn setup_page(
    state: &AppState,
    req: &Request,
    session: &Session,
    token: &CsrfToken,
    person: PersonId,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let email = state.dbs.platform.person_by_id_across_tenants(person).await?.map(|p| p.email).unwrap_or_default();
    let secret = session.get::<String>(K_SETUP_SECRET).unwrap_or_else(|| {
        let s = crate::http::auth::mfa::new_secret();
        session.set(K_SETUP_SECRET, s.clone());
        s
    });
    let mut errors = FormErrors::new();
    if let Some(e) = error {
        errors.insert("code", e.to_owned());
    }
    let mut ctx = form_ctx(
        token,
        &errors,
        json!({ "enabled": false, "secret": secret, "otpauth": crate::http::auth::mfa::otpauth_url(&secret, &email, "Trellis platform") }),
    );
    ctx["platform_setup"] = json!(true);
    render(state, req, "pages/mfa.html", "Set up two-step verification", ctx, status)
}

/// Turns two-step verification on once a code proves the app has the key, shows the recovery
/// codes once, and signs in.
#[handler]
pub async fn setup(
    req: &Request,
    Data(state): Data<&AppState>,
    session: &Session,
    token: &CsrfToken,
    Form(f): Form<CodeForm>,
) -> Result<Response, AppError> {
    let Some(person) = pending(session, "setup") else {
        return Ok(see_other("/sign-in"));
    };
    let Some(secret) = session.get::<String>(K_SETUP_SECRET) else {
        return Ok(see_other("/sign-in/mfa-setup"));
    };
    let Some(step) = crate::http::auth::mfa::check(&secret, &f.code) else {
        return setup_page(
            state,
            req,
            session,
            token,
            person,
            Some("That code is not right: enter the 6-digit code your authenticator app shows now"),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let codes = crate::http::auth::mfa::recovery_codes();
    let normalised: Vec<String> = codes.iter().map(|c| c.replace('-', "")).collect();
    let itx = state.dbs.identity.begin_platform().await?;
    id::enable_mfa(&itx, person, &secret, step, &normalised).await?;
    let epoch = id::account_by_id(&itx, person).await?.map(|p| p.session_epoch).unwrap_or(0);
    itx.commit().await?;
    let ip = forwarded::client_ip(req, &state.proxies).map(|i| i.to_string()).unwrap_or_default();
    let actor = format!("person:{person}");
    state.dbs.platform.record_platform_audit(&actor, "platform.mfa.enabled", None, ip.clone()).await?;
    state.dbs.platform.record_platform_audit(&actor, "platform.sign_in", None, format!("{ip} (setup)")).await?;
    complete_sign_in(session, person, epoch);
    let mut ctx = json!({ "codes": codes, "next": "/admin" });
    ctx["csrf_token"] = json!(token.0);
    render(state, req, "pages/mfa_codes.html", "Your recovery codes", ctx, StatusCode::OK)
}

fn too_many(state: &AppState, req: &Request, retry: u64) -> Result<Response, AppError> {
    let mut resp = render(
        state,
        req,
        "pages/message.html",
        "Too many attempts",
        json!({ "heading": "Too many attempts", "body": format!("Wait {} minute(s) and try again.", retry.div_ceil(60)), "link": null }),
        StatusCode::TOO_MANY_REQUESTS,
    )?;
    if let Ok(v) = retry.to_string().parse() {
        resp.headers_mut().insert("retry-after", v);
    }
    Ok(resp)
}

/// The trusts, and the form to create one.
#[handler]
pub async fn home(
    req: &Request,
    Data(state): Data<&AppState>,
    PlatformAdmin(_admin): PlatformAdmin,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let mut ctx = form_ctx(token, &FormErrors::new(), json!({}));
    ctx["trusts"] = trusts(state);
    ctx["regions"] = json!(trellis_domain::tenant_spec::REGIONS);
    waiting(state, &mut ctx).await?;
    render(state, req, "pages/platform_admin.html", "Platform administration", ctx, StatusCode::OK)
}

/// What a platform audit entry records, in words (its code where it has none).
fn action_words(action: &str) -> String {
    match action {
        "platform.sign_in" => "Signed in",
        "platform.sign_in.failed" => "A sign-in was refused",
        "platform.mfa.enabled" => "Two-step verification turned on",
        "platform.mfa.failed" => "A two-step verification code was refused",
        "tenants.apply" => "Trusts were set up or changed from their files",
        "trust.appointed_admin" => "A trust's first training manager was appointed",
        "trust.authoriser_recorded" => "A trust's reporting authoriser was recorded",
        "market.seller_registered" => "A seller registered",
        "market.listing_submitted" => "A listing was sent for review",
        "market.listing_approved" => "A listing was approved",
        "market.listing_rejected" => "A listing was rejected",
        "market.listing_withdrawn" => "A listing was withdrawn",
        "market.budget_set" => "A trust's marketplace budget was set",
        other => return other.to_owned(),
    }
    .to_owned()
}

/// What waits for the platform: listings to review, payment events that failed, recent changes.
async fn waiting(state: &AppState, ctx: &mut serde_json::Value) -> Result<(), AppError> {
    let waiting = state.dbs.platform.listings_in("submitted", "", 101).await?.len();
    let failed = state
        .dbs
        .platform
        .stripe_events(100)
        .await?
        .into_iter()
        .filter(|e| e.status == trellis_db::states::StripeEventStatus::Failed)
        .count();
    let events = state.dbs.platform.recent_audit_across_tenants(5).await?;
    // People by name and address (the identity path reads accounts); other actors in words.
    let itx = state.dbs.identity.begin_platform().await?;
    let mut recent = Vec::with_capacity(events.len());
    for e in events {
        let actor = match e.actor.strip_prefix("person:").and_then(|id| id.parse::<trellis_domain::PersonId>().ok()) {
            Some(p) => match id::account_by_id(&itx, p).await? {
                Some(a) => format!("{} ({})", a.given_name, a.email),
                None => "a former account".to_owned(),
            },
            None => match e.actor.as_str() {
                "cli" => "the command line".to_owned(),
                "demo" => "the demo set-up".to_owned(),
                other => other.to_owned(),
            },
        };
        recent.push(json!({
            "at": e.at.format("%-d %B %Y at %H:%M UTC").to_string(),
            "actor": actor,
            "action": action_words(&e.action),
        }));
    }
    itx.commit().await?;
    ctx["listings_waiting"] = json!(if waiting > 100 { "More than 100".to_owned() } else { waiting.to_string() });
    ctx["listings_waiting_n"] = json!(waiting);
    ctx["events_failed"] = json!(failed);
    ctx["recent_audit"] = json!(recent);
    Ok(())
}

fn trusts(state: &AppState) -> serde_json::Value {
    json!(
        state
            .directory
            .sites()
            .iter()
            .map(|s| json!({ "name": s.entry.name, "slug": s.entry.slug, "ods_code": s.entry.ods_code, "url": s.url }))
            .collect::<Vec<_>>()
    )
}

#[derive(Debug, Deserialize, Default)]
pub struct TrustForm {
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    ods_code: String,
    #[serde(default)]
    primary: String,
    #[serde(default)]
    admin_email: String,
    /// Email domains whose staff are approved at once, separated by commas or spaces.
    #[serde(default)]
    email_domains: String,
    /// The NHS England region (optional).
    #[serde(default)]
    region: String,
}

/// Creates a trust (as `tenants apply` would, in one transaction) and appoints its first training
/// manager, who is emailed a link to set a password on the new site.
#[handler]
pub async fn create_trust(
    req: &Request,
    Data(state): Data<&AppState>,
    PlatformAdmin(me): PlatformAdmin,
    token: &CsrfToken,
    Form(f): Form<TrustForm>,
) -> Result<Response, AppError> {
    let mut errors = FormErrors::new();
    let slug = match trellis_domain::Slug::parse(f.slug.trim()) {
        Ok(s) if state.directory.sites().iter().all(|x| x.entry.slug != s.as_str()) => Some(s),
        Ok(_) => {
            errors.insert("slug", "A trust already uses this name in its address");
            None
        }
        Err(e) => {
            errors.insert("slug", format!("The address name {e}"));
            None
        }
    };
    let name = f.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        errors.insert("name", "Enter the trust's name, up to 200 characters");
    }
    let ods = f.ods_code.trim().to_uppercase();
    if !f.region.trim().is_empty() && trellis_domain::tenant_spec::region_named(&f.region).is_none() {
        errors.insert("region", "Choose the trust's NHS England region from the list");
    }
    if !is_ods_code(&ods) {
        errors.insert("ods_code", "Enter an ODS code: 3 to 6 uppercase letters and digits");
    }
    let colours = match Rgb::parse(f.primary.trim()) {
        Some(primary) => {
            let scheme = ColourScheme { primary, ..ColourScheme::DEFAULT };
            if let Some(fail) = scheme.check().into_iter().next() {
                errors.insert("primary", crate::features::site_admin::contrast_words(&fail));
            }
            scheme
        }
        None => {
            errors.insert("primary", "Enter the colour as # and 6 hexadecimal digits, like #005eb8");
            ColourScheme::DEFAULT
        }
    };
    let admin = Email::parse(&f.admin_email).map_err(|m| errors.insert("admin_email", m)).ok();
    let mut email_domains = Vec::new();
    for d in f.email_domains.split([',', ' ', '\n']).map(str::trim).filter(|d| !d.is_empty()) {
        match trellis_domain::host::HostName::parse(d) {
            Ok(h) if h.as_str().contains('.') => email_domains.push(h.as_str().to_owned()),
            _ => {
                errors.insert(
                    "email_domains",
                    format!("\u{201c}{d}\u{201d} is not an email domain such as trust.nhs.uk"),
                );
            }
        }
    }
    let (Some(slug), Some(admin)) = (slug, admin.filter(|_| errors.is_empty())) else {
        let mut ctx = form_ctx(
            token,
            &errors,
            json!({ "slug": f.slug, "name": f.name, "ods_code": f.ods_code, "primary": f.primary, "admin_email": f.admin_email, "email_domains": f.email_domains, "region": f.region }),
        );
        ctx["trusts"] = trusts(state);
        ctx["regions"] = json!(trellis_domain::tenant_spec::REGIONS);
        waiting(state, &mut ctx).await?;
        return render(
            state,
            req,
            "pages/platform_admin.html",
            "Platform administration",
            ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let spec = TenantSpec {
        slug: slug.clone(),
        file: std::path::PathBuf::from("(platform administration)"),
        name: name.clone(),
        short_name: None,
        ods_code: ods,
        region: trellis_domain::tenant_spec::region_named(&f.region).unwrap_or_default().to_owned(),
        theme: "default".into(),
        time_zone: "Europe/London".into(),
        custom_domains: Vec::new(),
        colours,
        logo: None,
        contact: Contact::default(),
        messages: Vec::new(),
        email_domains,
        terms: None,
        sso: None,
        require_admin_mfa: false,
        embeds: Vec::new(),
    };
    let actor = format!("person:{me}");
    let opts = trellis_db::ApplyOptions {
        overwrite_admin_edits: false,
        actor: actor.clone(),
        dry_run: false,
        keyring: Some(state.keyring.clone()),
    };
    state.dbs.platform.apply_tenant_specs_across_tenants(std::slice::from_ref(&spec), &opts).await?;
    crate::context::directory::reload_and_announce(state, "platform-admin").await?;
    let site = state.directory.sites().into_iter().find(|s| s.entry.slug == slug.as_str()).ok_or(AppError::NotFound)?;

    // The first training manager: a new account without a password yet, emailed a link to choose
    // one; or, for an address that already has an account, an invitation its owner accepts.
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let existing = accounts::find_one(&tx, admin.as_str()).await?;
    let roles = [Role::Learner, Role::TrainingManager];
    let link = match &existing {
        Some(a) => {
            let record = json!({ "roles": roles.iter().map(|r| r.as_str()).collect::<Vec<_>>() });
            let raw =
                accounts::invite(&tx, a.id, admin.as_str(), &record, Some(me), chrono::Duration::days(14)).await?;
            trail::record(
                &tx,
                None,
                "membership.invited",
                &a.id.to_string(),
                None,
                json!({ "by": actor, "role": "training_manager" }),
            )
            .await?;
            tx.commit().await?;
            format!("{}invitation?token={raw}", site.url)
        }
        None => {
            let created = accounts::create_person(
                &tx,
                NewPerson {
                    email: admin.as_str().to_owned(),
                    password_hash: None,
                    given_name: String::new(),
                    family_name: String::new(),
                    job_role: "Training manager".into(),
                    place_of_work: site.entry.ods_code.clone(),
                    register_kind: None,
                    register_number: None,
                },
                false,
            )
            .await?;
            accounts::add_membership(&tx, accounts::Consent::New(&created), MembershipStatus::Approved, &roles).await?;
            trail::record(
                &tx,
                None,
                "membership.appointed",
                &created.id.to_string(),
                None,
                json!({ "by": actor, "role": "training_manager" }),
            )
            .await?;
            tx.commit().await?;
            // The link to choose a password is the identity path's to issue.
            let itx = state.dbs.identity.begin(site.entry.id).await?;
            let raw = id::issue_token(
                &itx,
                created.id,
                TokenPurpose::ResetPassword,
                chrono::Duration::hours(state.config.auth.link_hours),
            )
            .await?;
            itx.commit().await?;
            format!("{}password-reset/new?token={raw}", site.url)
        }
    };
    let mail = render_email(
        state,
        &site,
        "appointed",
        admin.as_str(),
        &format!("You are a training manager of {name}"),
        json!({ "link": link, "hours": state.config.auth.link_hours, "invitation": existing.is_some() }),
    )?;
    let tx = state.dbs.app.begin(site.entry.id).await?;
    outbox::enqueue_email(&tx, &mail).await?;
    tx.commit().await?;
    state
        .dbs
        .platform
        .record_platform_audit(&actor, "trust.appointed_admin", Some(site.entry.id), admin.to_string())
        .await?;
    Ok(page::see_other_saying(
        req,
        "/admin",
        format!("{} added: {admin} has been emailed a link to run it", site.entry.name),
    ))
}

/// Ends the platform session.
#[handler]
pub fn sign_out(session: &Session) -> Response {
    session.purge();
    see_other("/")
}

#[derive(Debug, Deserialize, Default)]
pub struct AuditQuery {
    /// A trust's slug, or empty for every trust.
    #[serde(default)]
    trust: String,
    /// Actions starting with this (`sign_in`, `branding.` …).
    #[serde(default)]
    action: String,
}

/// The audit logs: what platform administration did, and every trust's audit trail (or one
/// trust's, or one kind of action), newest first.
#[handler]
pub async fn audit(
    req: &Request,
    Data(state): Data<&AppState>,
    PlatformAdmin(_admin): PlatformAdmin,
    poem::web::Query(q): poem::web::Query<AuditQuery>,
) -> Result<Response, AppError> {
    let sites = state.directory.sites();
    let names: BTreeMap<String, String> =
        sites.iter().map(|s| (s.entry.id.to_string(), s.entry.name.clone())).collect();
    let platform_entries: Vec<_> = state
        .dbs
        .platform
        .recent_audit_across_tenants(100)
        .await?
        .into_iter()
        .map(|e| {
            json!({
                "at": e.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                "action": e.action,
                "subject": e.detail.lines().next().unwrap_or_default(),
                "actor": e.actor,
                "trust": e.tenant_id.and_then(|t| names.get(&t.to_string()).cloned()).unwrap_or_default(),
            })
        })
        .collect();
    let chosen = sites.iter().find(|s| s.entry.slug == q.trust).map(|s| s.entry.id);
    let action = q.action.trim();
    let action = (action.len() <= 100).then_some(action);
    let events = state.dbs.platform.audit_events_across_tenants(chosen, action, 200).await?;
    // People are recorded by id; shown here by name and address.
    let ids: Vec<PersonId> =
        events.iter().flat_map(|(_, e)| e.actor.into_iter().chain(e.subject.parse::<PersonId>().ok())).collect();
    let people = state.dbs.platform.person_names_across_tenants(&ids).await?;
    let shown = |p: PersonId| people.get(&p).cloned().unwrap_or_else(|| p.to_string());
    let trust_entries: Vec<_> = events
        .into_iter()
        .map(|(tenant, e)| {
            json!({
                "at": e.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                "action": e.action,
                "subject": e.subject.parse::<PersonId>().map_or_else(|_| e.subject.clone(), shown),
                "actor": e.actor.map(shown).unwrap_or_default(),
                "trust": names.get(&tenant.to_string()).cloned().unwrap_or_default(),
                "ip": e.ip.unwrap_or_default(),
            })
        })
        .collect();
    let options: Vec<_> = sites
        .iter()
        .map(|s| json!({ "slug": s.entry.slug, "name": s.entry.name, "selected": s.entry.slug == q.trust }))
        .collect();
    render(
        state,
        req,
        "pages/platform_audit.html",
        "Audit logs",
        json!({ "platform_entries": platform_entries, "trust_entries": trust_entries, "trusts": options, "action": q.action }),
        StatusCode::OK,
    )
}

/// A trust's authoriser of organisation reporting as the platform page shows them.
async fn authoriser_ctx(
    state: &AppState,
    site: &crate::context::directory::Site,
) -> Result<serde_json::Value, AppError> {
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let all = trellis_db::reporting::authorisers(&tx).await?;
    tx.commit().await?;
    let now = chrono::Utc::now();
    let day = |t: chrono::DateTime<chrono::Utc>| t.format("%-d %B %Y").to_string();
    Ok(json!(
        all.iter()
            .map(|a| json!({
                "name": a.name, "email": a.email,
                "role": crate::features::reporting::role_words(a.role),
                "recorded": day(a.created_at),
                "state": match (a.confirmed_at, a.ended_at) {
                    (Some(c), None) => format!("Confirmed on {}", day(c)),
                    (Some(_), Some(e)) => format!("Replaced on {}", day(e)),
                    (None, Some(_)) => "Link replaced by a newer one".to_owned(),
                    (None, None) if a.link_expires_at <= now => "Link not followed in time".to_owned(),
                    (None, None) => format!("Waiting for them to confirm (link works until {})", day(a.link_expires_at)),
                },
            }))
            .collect::<Vec<_>>()
    ))
}

/// A trust's site by its slug (404 if there is none).
pub(crate) fn site_by_slug(
    state: &AppState,
    slug: &str,
) -> Result<std::sync::Arc<crate::context::directory::Site>, AppError> {
    state.directory.sites().into_iter().find(|s| s.entry.slug == slug).ok_or(AppError::NotFound)
}

/// A trust's authoriser of organisation reporting: who it is (and was), and the form to record one.
#[handler]
pub async fn authoriser(
    req: &Request,
    Data(state): Data<&AppState>,
    PlatformAdmin(_admin): PlatformAdmin,
    token: &CsrfToken,
    poem::web::Path(slug): poem::web::Path<String>,
) -> Result<Response, AppError> {
    let site = site_by_slug(state, &slug)?;
    let mut ctx = form_ctx(token, &FormErrors::new(), json!({ "name": "", "role": "", "email": "" }));
    ctx["trust"] = json!({ "name": site.entry.name, "slug": site.entry.slug, "ods_code": site.entry.ods_code });
    ctx["authorisers"] = authoriser_ctx(state, &site).await?;
    render(state, req, "pages/platform_authoriser.html", "Reporting authoriser", ctx, StatusCode::OK)
}

#[derive(Debug, Deserialize, Default)]
pub struct AuthoriserForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    email: String,
}

/// Records a trust's authoriser and emails them the link to confirm, on the trust's own site.
#[handler]
pub async fn record_authoriser(
    req: &Request,
    Data(state): Data<&AppState>,
    PlatformAdmin(me): PlatformAdmin,
    token: &CsrfToken,
    poem::web::Path(slug): poem::web::Path<String>,
    Form(f): Form<AuthoriserForm>,
) -> Result<Response, AppError> {
    use trellis_db::states::AuthoriserRole;
    let site = site_by_slug(state, &slug)?;
    let mut errors = FormErrors::new();
    let name = f.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        errors.insert("name", "Enter the authoriser's name, up to 200 characters");
    }
    let role = AuthoriserRole::from_word(f.role.trim());
    if role.is_none() {
        errors.insert("role", "Choose the authoriser's role");
    }
    let email = Email::parse(&f.email).map_err(|m| errors.insert("email", m)).ok();
    let (Some(role), Some(email)) = (role, email.filter(|_| errors.is_empty())) else {
        let mut ctx = form_ctx(token, &errors, json!({ "name": f.name, "role": f.role, "email": f.email }));
        ctx["trust"] = json!({ "name": site.entry.name, "slug": site.entry.slug, "ods_code": site.entry.ods_code });
        ctx["authorisers"] = authoriser_ctx(state, &site).await?;
        return render(
            state,
            req,
            "pages/platform_authoriser.html",
            "Reporting authoriser",
            ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let raw = crate::http::page::link_token();
    let actor = format!("person:{me}");
    let days = 7;
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let id = trellis_db::reporting::record_authoriser(
        &tx,
        &name,
        role,
        email.as_str(),
        &raw,
        &actor,
        chrono::Utc::now() + chrono::Duration::days(days),
    )
    .await?;
    trail::record(
        &tx,
        None,
        "reporting.authoriser_recorded",
        &id.to_string(),
        None,
        json!({ "by": actor, "role": role.as_str(), "name": name }),
    )
    .await?;
    let role_words = crate::features::reporting::role_words(role);
    let mail = render_email(
        state,
        &site,
        "report_authoriser",
        email.as_str(),
        &format!("Confirm that you are the {role_words} of {}", site.entry.name),
        json!({ "name": name, "role": role_words, "days": days,
                "link": format!("{}reporting/authoriser/{raw}", site.url) }),
    )?;
    outbox::enqueue_email(&tx, &mail).await?;
    tx.commit().await?;
    crate::context::queue::wake(state).await;
    state
        .dbs
        .platform
        .record_platform_audit(&actor, "trust.authoriser_recorded", Some(site.entry.id), email.to_string())
        .await?;
    Ok(page::see_other_saying(
        req,
        &format!("/admin/trusts/{slug}/authoriser"),
        format!("{name} is recorded as the {role_words}. We emailed them a link to confirm."),
    ))
}
