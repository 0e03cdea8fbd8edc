//! Platform administration on the bare base domain: platform admins sign in, list the trusts,
//! create a trust and appoint its first training manager (who sets a password by an emailed link).

use crate::auth::password;
use crate::error::AppError;
use crate::middleware::forwarded;
use crate::routes::account::render_email;
use crate::routes::page::see_other;
use crate::routes::page::{self, RequestInfo};
use crate::state::AppState;
use poem::http::StatusCode;
use poem::session::Session;
use poem::web::{CsrfToken, Data, Form};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use trellis_core::PersonId;
use trellis_core::colour::{ColourScheme, Rgb};
use trellis_core::identity::{Email, Role, is_ods_code};
use trellis_core::tenant_spec::{Contact, TenantSpec};
use trellis_db::identity::{self as id, MembershipStatus, NewPerson, TokenPurpose};

const K_PERSON: &str = "platform_person";
const K_EPOCH: &str = "platform_epoch";
const K_SIGNED_IN: &str = "platform_signed_in_at";

fn render(
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

/// The signed-in platform administrator, if the session is one and still good.
async fn current(state: &AppState, session: &Session) -> Result<Option<PersonId>, AppError> {
    let Some(person) = session.get::<String>(K_PERSON).and_then(|p| p.parse::<PersonId>().ok()) else {
        return Ok(None);
    };
    let signed_in: i64 = session.get(K_SIGNED_IN).unwrap_or(0);
    let absolute = i64::try_from(state.config.auth.session_absolute_hours * 3600).unwrap_or(i64::MAX);
    if chrono::Utc::now().timestamp() - signed_in > absolute {
        session.purge();
        return Ok(None);
    }
    let p = state.dbs.platform.person_by_id_across_tenants(person).await?;
    match p {
        Some(p) if p.platform_admin && p.active && Some(p.session_epoch) == session.get::<i32>(K_EPOCH) => {
            Ok(Some(person))
        }
        _ => {
            session.purge();
            Ok(None)
        }
    }
}

fn form_ctx(
    token: &CsrfToken,
    errors: &BTreeMap<&'static str, String>,
    values: serde_json::Value,
) -> serde_json::Value {
    let list: Vec<_> = errors.iter().map(|(f, m)| json!({ "field": f, "message": m })).collect();
    let mut all =
        json!({ "email": "", "slug": "", "name": "", "ods_code": "", "primary": "#005eb8", "admin_email": "" });
    if let (Some(map), serde_json::Value::Object(given)) = (all.as_object_mut(), values) {
        map.extend(given);
    }
    json!({ "csrf_token": token.0, "errors": list, "error": errors, "values": all })
}

/// The platform's sign-in form.
#[handler]
pub fn sign_in_form(req: &Request, Data(state): Data<&AppState>, token: &CsrfToken) -> Result<Response, AppError> {
    render(state, req, "pages/sign_in.html", "Sign in", form_ctx(token, &BTreeMap::new(), json!({})), StatusCode::OK)
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
    let limited = match state.limiter.hit(&format!("platform:ip:{ip}"), auth.attempts_per_address, window).await {
        Err(r) => Some(r),
        Ok(()) => state.limiter.hit(&format!("platform:acct:{email}"), auth.attempts_per_account, window).await.err(),
    };
    if let Some(retry) = limited {
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
        return Ok(resp);
    }
    let person = state.dbs.platform.person_by_email_across_tenants(&email).await?;
    let ok = match person.as_ref().and_then(|p| p.password_hash.clone()) {
        Some(hash) => password::verify(f.password.clone(), hash).await?,
        None => {
            password::verify_dummy(f.password.clone(), auth.password_memory_kib, auth.password_iterations).await;
            false
        }
    };
    match person.filter(|p| ok && p.platform_admin && p.active && p.email_verified) {
        Some(p) => {
            state.dbs.platform.record_platform_audit(&format!("person:{}", p.id), "platform.sign_in", None, ip).await?;
            session.clear();
            session.renew();
            session.set(K_PERSON, p.id.to_string());
            session.set(K_EPOCH, p.session_epoch);
            session.set(K_SIGNED_IN, chrono::Utc::now().timestamp());
            Ok(see_other("/admin"))
        }
        None => {
            state
                .dbs
                .platform
                .record_platform_audit(&format!("email:{email}"), "platform.sign_in.failed", None, ip)
                .await?;
            let mut errors = BTreeMap::new();
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

/// The trusts, and the form to create one.
#[handler]
pub async fn home(
    req: &Request,
    Data(state): Data<&AppState>,
    session: &Session,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    if current(state, session).await?.is_none() {
        return Ok(see_other("/sign-in"));
    }
    let mut ctx = form_ctx(token, &BTreeMap::new(), json!({}));
    ctx["trusts"] = trusts(state);
    render(state, req, "pages/platform_admin.html", "Platform administration", ctx, StatusCode::OK)
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
}

/// Creates a trust (as `tenants apply` would, in one transaction) and appoints its first training
/// manager, who is emailed a link to set a password on the new site.
#[handler]
pub async fn create_trust(
    req: &Request,
    Data(state): Data<&AppState>,
    session: &Session,
    token: &CsrfToken,
    Form(f): Form<TrustForm>,
) -> Result<Response, AppError> {
    let Some(me) = current(state, session).await? else { return Ok(see_other("/sign-in")) };
    let mut errors: BTreeMap<&'static str, String> = BTreeMap::new();
    let slug = match trellis_core::Slug::parse(f.slug.trim()) {
        Ok(s) if state.directory.sites().iter().all(|x| x.entry.slug != s.as_str()) => Some(s),
        Ok(_) => {
            errors.insert("slug", "A trust already uses this name in its address".into());
            None
        }
        Err(e) => {
            errors.insert("slug", format!("The address name {e}"));
            None
        }
    };
    let name = f.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        errors.insert("name", "Enter the trust's name, up to 200 characters".into());
    }
    let ods = f.ods_code.trim().to_uppercase();
    if !is_ods_code(&ods) {
        errors.insert("ods_code", "Enter an ODS code: 3 to 6 uppercase letters and digits".into());
    }
    let colours = match Rgb::parse(f.primary.trim()) {
        Some(primary) => {
            let scheme = ColourScheme { primary, ..ColourScheme::DEFAULT };
            if let Some(fail) = scheme.check().into_iter().next() {
                errors.insert("primary", fail.message);
            }
            scheme
        }
        None => {
            errors.insert("primary", "Enter the colour as # and 6 hexadecimal digits, like #005eb8".into());
            ColourScheme::DEFAULT
        }
    };
    let admin = Email::parse(&f.admin_email).map_err(|m| errors.insert("admin_email", m)).ok();
    let (Some(slug), Some(admin)) = (slug, admin.filter(|_| errors.is_empty())) else {
        let mut ctx = form_ctx(
            token,
            &errors,
            json!({ "slug": f.slug, "name": f.name, "ods_code": f.ods_code, "primary": f.primary, "admin_email": f.admin_email }),
        );
        ctx["trusts"] = trusts(state);
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
        theme: "default".into(),
        time_zone: "Europe/London".into(),
        custom_domains: Vec::new(),
        colours,
        logo: None,
        contact: Contact::default(),
        messages: Vec::new(),
        email_domains: Vec::new(),
        terms: None,
        sso: None,
        require_admin_mfa: false,
    };
    let actor = format!("person:{me}");
    let opts = trellis_db::ApplyOptions { overwrite_admin_edits: false, actor: actor.clone(), dry_run: false };
    state.dbs.platform.apply_tenant_specs_across_tenants(std::slice::from_ref(&spec), &opts).await?;
    crate::server::reload_and_announce(state, "platform-admin").await?;
    let site = state.directory.sites().into_iter().find(|s| s.entry.slug == slug.as_str()).ok_or(AppError::NotFound)?;

    // The first training manager: an existing person, or a new one without a password yet.
    let itx = state.dbs.platform.begin_identity(site.entry.id).await?;
    let person = match id::person_by_email(&itx, admin.as_str()).await? {
        Some(p) => p,
        None => {
            id::create_person(
                &itx,
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
            )
            .await?
        }
    };
    id::add_membership(&itx, person.id, MembershipStatus::Approved, &[Role::Learner, Role::TrainingManager]).await?;
    let raw = id::issue_token(
        &itx,
        person.id,
        TokenPurpose::ResetPassword,
        chrono::Duration::hours(state.config.auth.link_hours),
    )
    .await?;
    let mail = render_email(
        state,
        &site,
        "appointed",
        admin.as_str(),
        &format!("You are a training manager of {name}"),
        json!({
            "link": format!("{}password-reset/new?token={raw}", site.url),
            "hours": state.config.auth.link_hours,
        }),
    )?;
    id::enqueue_email(&itx, &mail).await?;
    id::audit(
        &itx,
        None,
        "membership.appointed",
        admin.as_str(),
        None,
        json!({ "by": actor, "role": "training_manager" }),
    )
    .await?;
    itx.commit().await?;
    state
        .dbs
        .platform
        .record_platform_audit(&actor, "trust.appointed_admin", Some(site.entry.id), admin.to_string())
        .await?;
    Ok(see_other("/admin"))
}

/// Ends the platform session.
#[handler]
pub fn sign_out(session: &Session) -> Response {
    session.purge();
    see_other("/")
}

/// The platform audit log: what platform administration did, newest first.
#[handler]
pub async fn audit(req: &Request, Data(state): Data<&AppState>, session: &Session) -> Result<Response, AppError> {
    if current(state, session).await?.is_none() {
        return Ok(see_other("/sign-in"));
    }
    let names: BTreeMap<String, String> =
        state.directory.sites().iter().map(|s| (s.entry.id.to_string(), s.entry.name.clone())).collect();
    let entries: Vec<_> = state
        .dbs
        .platform
        .recent_audit_across_tenants(200)
        .await?
        .into_iter()
        .map(|e| {
            json!({
                "at": e.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                "action": e.action,
                "subject": e.detail.lines().next().unwrap_or_default(),
                "actor": e.actor,
                "ip": e.tenant_id.and_then(|t| names.get(&t.to_string()).cloned()),
            })
        })
        .collect();
    render(
        state,
        req,
        "pages/admin_audit.html",
        "Platform audit log",
        json!({ "entries": entries, "platform": true }),
        StatusCode::OK,
    )
}
