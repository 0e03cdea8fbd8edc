//! Registration, email confirmation, sign-in and out, password reset and the profile page.

use crate::auth::{self, password};
use crate::directory::Site;
use crate::error::AppError;
use crate::middleware::forwarded;
use crate::routes::page::{self, RequestInfo};
use crate::state::AppState;
use poem::http::StatusCode;
use poem::session::Session;
use poem::web::{CsrfToken, Data, Form, Query};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use trellis_core::identity::{Email, Register, Role, check_password, is_ods_code};
use trellis_db::identity::{self as id, IdentityTx, MembershipStatus, OutgoingEmail, TokenError, TokenPurpose};

type Errors = BTreeMap<&'static str, String>;

const K_MFA_PERSON: &str = "mfa_person";
const K_MFA_TENANT: &str = "mfa_tenant";
const K_MFA_AT: &str = "mfa_started_at";
const K_MFA_SETUP: &str = "mfa_setup_secret";

/// The order of fields on the account forms, for the error summary.
const SUMMARY_ORDER: &[&str] = &[
    "given_name",
    "family_name",
    "email",
    "password",
    "job_role",
    "place_of_work",
    "register_kind",
    "register_number",
];

/// The fields of the account forms.
const FORM_FIELDS: &[&str] = &[
    "given_name",
    "family_name",
    "email",
    "job_role",
    "place_of_work",
    "register_kind",
    "register_number",
    "token",
    "secret",
    "otpauth",
];

/// Renders a page of this trust's site with the CSRF token and any form errors.
#[allow(clippy::too_many_arguments)] // each is a distinct part of the page; a struct would only rename them
fn form_page(
    state: &AppState,
    site: &Site,
    req: &Request,
    token: &CsrfToken,
    template: &str,
    title: &str,
    errors: &Errors,
    values: serde_json::Value,
    status: StatusCode,
) -> Result<Response, AppError> {
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), title, &[("Home", "/")]);
    ctx.insert("csrf_token", &token.0);
    // The summary lists errors in the order the fields appear on the form.
    let position = |f: &str| SUMMARY_ORDER.iter().position(|x| *x == f).unwrap_or(usize::MAX);
    let mut ordered: Vec<_> = errors.iter().collect();
    ordered.sort_by_key(|(f, _)| position(f));
    let list: Vec<_> = ordered.iter().map(|(f, m)| json!({ "field": f, "message": m })).collect();
    ctx.insert("errors", &list);
    ctx.insert("error", &errors.iter().map(|(f, m)| (f.to_string(), m.clone())).collect::<BTreeMap<_, _>>());
    // Every form field is defined (empty unless given), so templates can print any of them.
    let mut all = serde_json::Map::new();
    for field in FORM_FIELDS {
        all.insert((*field).to_owned(), json!(""));
    }
    if let serde_json::Value::Object(given) = values {
        all.extend(given);
    }
    ctx.insert("values", &all);
    page::render(state, Some(site), template, &ctx, status)
}

/// A page with a heading and a message (and an optional link).
pub fn message_page(
    state: &AppState,
    site: &Site,
    req: &Request,
    status: StatusCode,
    heading: &str,
    body: &str,
    link: Option<(&str, &str)>,
) -> Result<Response, AppError> {
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), heading, &[("Home", "/")]);
    ctx.insert("heading", heading);
    ctx.insert("body", body);
    ctx.insert("link", &link.map(|(label, href)| json!({ "label": label, "href": href })));
    page::render(state, Some(site), "pages/message.html", &ctx, status)
}

/// Renders an email from `emails/<name>.txt` and `.html` in the trust's theme.
pub fn render_email(
    state: &AppState,
    site: &Site,
    name: &str,
    to: &str,
    subject: &str,
    extra: serde_json::Value,
) -> Result<OutgoingEmail, AppError> {
    let mut ctx = tera::Context::new();
    ctx.insert_value("tenant", site.view.clone());
    ctx.insert("site_url", &site.url);
    ctx.insert("subject", subject);
    if let serde_json::Value::Object(map) = extra {
        for (k, v) in map {
            ctx.insert(k, &v);
        }
    }
    let theme = site.entry.theme.as_str();
    Ok(OutgoingEmail {
        to: to.to_owned(),
        subject: subject.to_owned(),
        text: state.themes.render(theme, &format!("emails/{name}.txt"), &ctx)?,
        html: state.themes.render(theme, &format!("emails/{name}.html"), &ctx)?,
        from_name: site.entry.name.clone(),
    })
}

fn client_ip(state: &AppState, req: &Request) -> Option<String> {
    forwarded::client_ip(req, &state.proxies).map(|ip| ip.to_string())
}

fn too_many(state: &AppState, site: &Site, req: &Request, retry: u64) -> Result<Response, AppError> {
    let mut resp = message_page(
        state,
        site,
        req,
        StatusCode::TOO_MANY_REQUESTS,
        "Too many attempts",
        &format!("There have been too many attempts. Wait {} minute(s) and try again.", retry.div_ceil(60)),
        None,
    )?;
    if let Ok(v) = retry.to_string().parse() {
        resp.headers_mut().insert("retry-after", v);
    }
    Ok(resp)
}

/// Counts one attempt at `scope` from this address; past the limit, the 429 page to send.
async fn limit_address(
    state: &AppState,
    site: &Site,
    req: &Request,
    scope: &str,
    ip: Option<&str>,
) -> Result<Option<Response>, AppError> {
    let key = format!("{scope}:ip:{}", ip.unwrap_or("-"));
    match state.limiter.hit(&key, state.config.auth.attempts_per_address, window(state)).await {
        Ok(()) => Ok(None),
        Err(retry) => too_many(state, site, req, retry).map(Some),
    }
}

fn window(state: &AppState) -> Duration {
    Duration::from_secs(state.config.auth.attempt_window_seconds)
}

// ---------------------------------------------------------------- registration

#[derive(Debug, Deserialize, Default)]
pub struct RegisterForm {
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    job_role: String,
    #[serde(default)]
    place_of_work: String,
    #[serde(default)]
    register_kind: String,
    #[serde(default)]
    register_number: String,
}

fn form_values(f: &RegisterForm) -> serde_json::Value {
    json!({
        "given_name": f.given_name, "family_name": f.family_name, "email": f.email, "job_role": f.job_role,
        "place_of_work": f.place_of_work, "register_kind": f.register_kind, "register_number": f.register_number,
    })
}

/// The registration form.
#[handler]
pub fn register_form(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    form_page(
        state,
        site,
        req,
        token,
        "pages/register.html",
        "Create an account",
        &Errors::new(),
        json!({}),
        StatusCode::OK,
    )
}

/// Registers: eligible email domains are approved at once, others wait for the trust's admins.
/// The answer is the same whether or not the email is already registered.
#[handler]
pub async fn register(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    token: &CsrfToken,
    Form(f): Form<RegisterForm>,
) -> Result<Response, AppError> {
    let ip = client_ip(state, req);
    if let Some(refused) = limit_address(state, site, req, "register", ip.as_deref()).await? {
        return Ok(refused);
    }
    let mut errors = Errors::new();
    let text = |v: &str, field: &'static str, label: &str, errors: &mut Errors| {
        let v = v.trim();
        if v.is_empty() {
            errors.insert(field, format!("Enter your {label}"));
        } else if v.chars().count() > 100 {
            errors.insert(field, format!("Your {label} must be 100 characters or fewer"));
        }
        v.to_owned()
    };
    let given = text(&f.given_name, "given_name", "first name", &mut errors);
    let family = text(&f.family_name, "family_name", "last name", &mut errors);
    let job_role = text(&f.job_role, "job_role", "job role", &mut errors);
    let email = match Email::parse(&f.email) {
        Ok(e) => Some(e),
        Err(m) => {
            errors.insert("email", m);
            None
        }
    };
    let place = f.place_of_work.trim().to_uppercase();
    if !is_ods_code(&place) {
        errors.insert("place_of_work", "Enter the ODS code of your place of work, like RXX or RXX01".into());
    }
    let register = match f.register_kind.as_str() {
        "" | "none" => None,
        kind => match Register::parse(kind) {
            None => {
                errors.insert("register_kind", "Choose a professional register".into());
                None
            }
            Some(r) => match r.check(&f.register_number) {
                Ok(n) => Some((r, n)),
                Err(m) => {
                    errors.insert("register_number", m);
                    None
                }
            },
        },
    };
    if let Err(m) = check_password(&f.password, &[&given, &family, email.as_ref().map_or("", |e| e.as_str())]) {
        errors.insert("password", m);
    }
    let Some(email) = email.filter(|_| errors.is_empty()) else {
        return form_page(
            state,
            site,
            req,
            token,
            "pages/register.html",
            "Create an account",
            &errors,
            form_values(&f),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };

    let auth = &state.config.auth;
    let hash = password::hash(f.password.clone(), auth.password_memory_kib, auth.password_iterations).await?;
    let itx = state.dbs.platform.begin_identity(site.entry.id).await?;
    let eligible = trellis_db::site::eligibility_domains(&itx).await?.iter().any(|d| d == email.domain());
    match id::person_by_email(&itx, email.as_str()).await? {
        Some(existing) => {
            // Never say so on the page; tell the address's owner instead.
            let mail = render_email(
                state,
                site,
                "already_registered",
                &existing.email,
                "You already have an account",
                json!({
                    "name": existing.given_name,
                    "sign_in_url": format!("{}sign-in", site.url),
                    "reset_url": format!("{}password-reset", site.url),
                }),
            )?;
            id::enqueue_email(&itx, &mail).await?;
            id::audit(&itx, None, "register.duplicate", email.as_str(), ip.as_deref(), json!({})).await?;
        }
        None => {
            let person = id::create_person(
                &itx,
                id::NewPerson {
                    email: email.as_str().to_owned(),
                    password_hash: Some(hash),
                    given_name: given.clone(),
                    family_name: family,
                    job_role,
                    place_of_work: place,
                    register_kind: register.as_ref().map(|(r, _)| r.as_str().to_owned()),
                    register_number: register.map(|(_, n)| n),
                },
            )
            .await?;
            let status = if eligible { MembershipStatus::Approved } else { MembershipStatus::Pending };
            id::add_membership(&itx, person.id, status, &[Role::Learner]).await?;
            let raw =
                id::issue_token(&itx, person.id, TokenPurpose::VerifyEmail, chrono::Duration::hours(auth.link_hours))
                    .await?;
            let mail = render_email(
                state,
                site,
                "verify",
                email.as_str(),
                "Confirm your email address",
                json!({
                    "name": given,
                    "link": format!("{}verify-email?token={raw}", site.url),
                    "hours": auth.link_hours,
                    "pending": !eligible,
                }),
            )?;
            id::enqueue_email(&itx, &mail).await?;
            id::audit(
                &itx,
                Some(person.id),
                "register",
                email.as_str(),
                ip.as_deref(),
                json!({ "eligible": eligible }),
            )
            .await?;
        }
    }
    itx.commit().await?;
    message_page(
        state,
        site,
        req,
        StatusCode::OK,
        "Check your email",
        &format!(
            "We have sent an email to {email}. Open the link in it to confirm your address and finish creating your account."
        ),
        None,
    )
}

// ---------------------------------------------------------------- email confirmation

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// Shows a button to confirm (a GET never uses the link, so mail scanners cannot spend it).
#[handler]
pub fn verify_form(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    token: &CsrfToken,
    Query(q): Query<TokenQuery>,
) -> Result<Response, AppError> {
    form_page(
        state,
        site,
        req,
        token,
        "pages/verify_email.html",
        "Confirm your email address",
        &Errors::new(),
        json!({ "token": q.token }),
        StatusCode::OK,
    )
}

async fn refused_link(
    state: &AppState,
    site: &Site,
    req: &Request,
    itx: IdentityTx,
    why: TokenError,
    what: &str,
) -> Result<Response, AppError> {
    let (reason, text) = match why {
        TokenError::Used => ("used", "This link has already been used."),
        TokenError::Expired => ("expired", "This link has expired."),
        TokenError::Unknown => ("unknown", "This link is not valid here."),
    };
    id::audit(&itx, None, "link.refused", what, client_ip(state, req).as_deref(), json!({ "reason": reason })).await?;
    itx.commit().await?;
    message_page(
        state,
        site,
        req,
        StatusCode::BAD_REQUEST,
        "This link cannot be used",
        &format!("{text} Ask for a new one if you need it."),
        Some(("Go to the home page", "/")),
    )
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    token: String,
}

/// Confirms the email address by its single-use link.
#[handler]
pub async fn verify(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    Form(f): Form<TokenForm>,
) -> Result<Response, AppError> {
    let itx = state.dbs.platform.begin_identity(site.entry.id).await?;
    let person = match id::consume_token(&itx, &f.token, TokenPurpose::VerifyEmail).await? {
        Ok(p) => p,
        Err(why) => return refused_link(state, site, req, itx, why, "verify-email").await,
    };
    id::mark_email_verified(&itx, person).await?;
    let pending = id::membership(&itx, person).await?.is_some_and(|m| m.status == MembershipStatus::Pending);
    id::audit(&itx, Some(person), "email.verified", &person.to_string(), client_ip(state, req).as_deref(), json!({}))
        .await?;
    itx.commit().await?;
    if pending {
        message_page(
            state,
            site,
            req,
            StatusCode::OK,
            "Email address confirmed",
            &format!(
                "Thank you. {} will check your registration; we will email you when it is approved.",
                site.entry.name
            ),
            None,
        )
    } else {
        message_page(
            state,
            site,
            req,
            StatusCode::OK,
            "Email address confirmed",
            "Thank you. You can now sign in.",
            Some(("Sign in", "/sign-in")),
        )
    }
}

// ---------------------------------------------------------------- sign-in

#[derive(Debug, Deserialize, Default)]
pub struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// The sign-in form.
#[handler]
pub fn sign_in_form(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    form_page(state, site, req, token, "pages/sign_in.html", "Sign in", &Errors::new(), json!({}), StatusCode::OK)
}

/// Signs in. The message for a wrong email or password is the same, and takes as long.
#[handler]
pub async fn sign_in(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    session: &Session,
    token: &CsrfToken,
    Form(f): Form<SignInForm>,
) -> Result<Response, AppError> {
    let auth = &state.config.auth;
    let ip = client_ip(state, req);
    let email = f.email.trim().to_lowercase();
    let account_key = format!("signin:acct:{}:{email}", site.entry.id);
    let ip_key = format!("signin:ip:{}", ip.as_deref().unwrap_or("-"));
    let over = match state.limiter.hit(&ip_key, auth.attempts_per_address, window(state)).await {
        Err(r) => Some(r),
        Ok(()) => state.limiter.hit(&account_key, auth.attempts_per_account, window(state)).await.err(),
    };
    let itx = state.dbs.platform.begin_identity(site.entry.id).await?;
    if let Some(retry) = over {
        id::audit(&itx, None, "sign_in.rate_limited", &email, ip.as_deref(), json!({ "retry_after": retry })).await?;
        itx.commit().await?;
        return too_many(state, site, req, retry);
    }
    let person = id::person_by_email(&itx, &email).await?;
    let ok = match person.as_ref().and_then(|p| p.password_hash.clone()) {
        Some(hash) => password::verify(f.password.clone(), hash).await?,
        None => {
            password::verify_dummy(f.password.clone(), auth.password_memory_kib, auth.password_iterations).await;
            false
        }
    };
    let membership = match (&person, ok) {
        (Some(p), true) => id::membership(&itx, p.id).await?,
        _ => None,
    };
    let refuse = |status: StatusCode, message: &str| {
        let mut errors = Errors::new();
        errors.insert("email", message.to_owned());
        (status, errors)
    };
    let outcome = match (&person, ok, &membership) {
        (Some(p), true, Some(m)) if p.active && p.email_verified && m.status == MembershipStatus::Approved => {
            Ok(p.clone())
        }
        (Some(p), true, Some(_)) if !p.email_verified => Err((
            "unverified",
            refuse(StatusCode::FORBIDDEN, "Confirm your email address first: open the link in the email we sent you"),
        )),
        (Some(_), true, Some(m)) if m.status == MembershipStatus::Pending => Err((
            "pending",
            refuse(StatusCode::FORBIDDEN, &format!("Your registration is waiting for approval by {}", site.entry.name)),
        )),
        (Some(_), true, Some(_)) => Err((
            "withdrawn",
            refuse(
                StatusCode::FORBIDDEN,
                &format!("Your access to this site has been withdrawn. Contact {} for help", site.entry.name),
            ),
        )),
        _ => Err(("bad_credentials", refuse(StatusCode::UNAUTHORIZED, "Enter a correct email address and password"))),
    };
    match outcome {
        Ok(p) if p.mfa_enabled => {
            // The password was right; the code comes next. Nothing is signed in yet.
            itx.commit().await?;
            session.clear();
            session.renew();
            session.set(K_MFA_PERSON, p.id.to_string());
            session.set(K_MFA_TENANT, site.entry.id.to_string());
            session.set(K_MFA_AT, chrono::Utc::now().timestamp());
            Ok(Response::builder().status(StatusCode::SEE_OTHER).header("location", "/sign-in/code").finish())
        }
        Ok(p) => {
            id::audit(&itx, Some(p.id), "sign_in", &email, ip.as_deref(), json!({})).await?;
            itx.commit().await?;
            state.limiter.reset(&account_key).await;
            auth::sign_in(session, site, p.id, p.session_epoch);
            Ok(Response::builder().status(StatusCode::SEE_OTHER).header("location", "/profile").finish())
        }
        Err((why, (status, errors))) => {
            id::audit(
                &itx,
                person.as_ref().map(|p| p.id),
                "sign_in.failed",
                &email,
                ip.as_deref(),
                json!({ "reason": why }),
            )
            .await?;
            itx.commit().await?;
            form_page(
                state,
                site,
                req,
                token,
                "pages/sign_in.html",
                "Sign in",
                &errors,
                json!({ "email": f.email }),
                status,
            )
        }
    }
}

/// Signs out of this site.
#[handler]
pub async fn sign_out(
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    session: &Session,
) -> Result<Response, AppError> {
    if let Some(me) = auth::current(state, site, session).await? {
        let tx = state.dbs.app.begin(site.entry.id).await?;
        id::audit(&tx, Some(me.person), "sign_out", &me.person.to_string(), None, json!({})).await?;
        tx.commit().await?;
    }
    auth::sign_out(session);
    Ok(Response::builder().status(StatusCode::SEE_OTHER).header("location", "/").finish())
}

/// Ends every session of the signed-in person, on every trust's site.
#[handler]
pub async fn sign_out_everywhere(
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    session: &Session,
) -> Result<Response, AppError> {
    let Some(me) = auth::current(state, site, session).await? else {
        return Ok(Response::builder().status(StatusCode::SEE_OTHER).header("location", "/sign-in").finish());
    };
    let itx = state.dbs.platform.begin_identity(site.entry.id).await?;
    id::end_all_sessions(&itx, me.person).await?;
    id::audit(&itx, Some(me.person), "sign_out.everywhere", &me.person.to_string(), None, json!({})).await?;
    itx.commit().await?;
    auth::sign_out(session);
    Ok(Response::builder().status(StatusCode::SEE_OTHER).header("location", "/").finish())
}

// ---------------------------------------------------------------- profile

/// The signed-in person's profile: details, roles here, and their other trusts.
#[handler]
pub async fn profile(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    session: &Session,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let me = match auth::signed_in_and_agreed(state, site, session).await? {
        Ok(me) => me,
        Err(redirect) => return Ok(redirect),
    };
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let person = id::member_person(&tx, me.person).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let others = state.dbs.platform.memberships_of_person_across_tenants(me.person).await?;
    let names: BTreeMap<String, String> =
        state.directory.sites().iter().map(|s| (s.entry.id.to_string(), s.entry.name.clone())).collect();
    let trusts: Vec<_> = others
        .iter()
        .map(|(tenant, status)| json!({ "name": names.get(&tenant.to_string()).cloned().unwrap_or_default(), "status": status }))
        .collect();
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "Your profile", &[("Home", "/")]);
    ctx.insert("csrf_token", &token.0);
    ctx.insert("mfa_enabled", &person.mfa_enabled);
    ctx.insert("person", &json!({
        "name": format!("{} {}", person.given_name, person.family_name),
        "email": person.email,
        "job_role": person.job_role,
        "place_of_work": person.place_of_work,
        "register": person.register_kind.map(|k| format!("{} {}", k.to_uppercase(), person.register_number.unwrap_or_default())),
    }));
    ctx.insert("roles", &me.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>());
    ctx.insert("trusts", &trusts);
    page::render(state, Some(site), "pages/profile.html", &ctx, StatusCode::OK)
}

// ---------------------------------------------------------------- password reset

#[derive(Debug, Deserialize, Default)]
pub struct ResetRequestForm {
    #[serde(default)]
    email: String,
}

/// Asks for the email address to send a reset link to.
#[handler]
pub fn reset_form(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    form_page(
        state,
        site,
        req,
        token,
        "pages/reset_request.html",
        "Reset your password",
        &Errors::new(),
        json!({}),
        StatusCode::OK,
    )
}

/// Sends a reset link if the address belongs to a member here; the page says the same either way.
#[handler]
pub async fn reset_request(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    Form(f): Form<ResetRequestForm>,
) -> Result<Response, AppError> {
    let ip = client_ip(state, req);
    if let Some(refused) = limit_address(state, site, req, "reset", ip.as_deref()).await? {
        return Ok(refused);
    }
    let email = f.email.trim().to_lowercase();
    let itx = state.dbs.platform.begin_identity(site.entry.id).await?;
    let person = id::person_by_email(&itx, &email).await?;
    let member = match &person {
        Some(p) => id::membership(&itx, p.id).await?.is_some(),
        None => false,
    };
    if let (Some(p), true) = (person, member) {
        {
            let raw = id::issue_token(&itx, p.id, TokenPurpose::ResetPassword, chrono::Duration::hours(1)).await?;
            let mail = render_email(
                state,
                site,
                "reset",
                &p.email,
                "Reset your password",
                json!({
                    "name": p.given_name,
                    "link": format!("{}password-reset/new?token={raw}", site.url),
                }),
            )?;
            id::enqueue_email(&itx, &mail).await?;
            id::audit(&itx, Some(p.id), "password_reset.requested", &email, ip.as_deref(), json!({})).await?;
        }
    }
    itx.commit().await?;
    message_page(
        state,
        site,
        req,
        StatusCode::OK,
        "Check your email",
        &format!(
            "If {email} belongs to an account on this site, we have sent it a link to reset the password. The link works for one hour."
        ),
        None,
    )
}

/// The new-password form, reached from the emailed link.
#[handler]
pub fn reset_new_form(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    token: &CsrfToken,
    Query(q): Query<TokenQuery>,
) -> Result<Response, AppError> {
    form_page(
        state,
        site,
        req,
        token,
        "pages/reset_new.html",
        "Choose a new password",
        &Errors::new(),
        json!({ "token": q.token }),
        StatusCode::OK,
    )
}

#[derive(Debug, Deserialize, Default)]
pub struct ResetNewForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
}

/// Sets the new password (ending every session) with a single-use link.
#[handler]
pub async fn reset_new(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    token: &CsrfToken,
    Form(f): Form<ResetNewForm>,
) -> Result<Response, AppError> {
    if let Err(m) = check_password(&f.password, &[]) {
        let mut errors = Errors::new();
        errors.insert("password", m);
        return form_page(
            state,
            site,
            req,
            token,
            "pages/reset_new.html",
            "Choose a new password",
            &errors,
            json!({ "token": f.token }),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let auth = &state.config.auth;
    let hash = password::hash(f.password.clone(), auth.password_memory_kib, auth.password_iterations).await?;
    let itx = state.dbs.platform.begin_identity(site.entry.id).await?;
    let person = match id::consume_token(&itx, &f.token, TokenPurpose::ResetPassword).await? {
        Ok(p) => p,
        Err(why) => return refused_link(state, site, req, itx, why, "password-reset").await,
    };
    id::set_password(&itx, person, hash).await?;
    // Whoever could open the emailed link controls the address.
    id::mark_email_verified(&itx, person).await?;
    id::audit(&itx, Some(person), "password_reset", &person.to_string(), client_ip(state, req).as_deref(), json!({}))
        .await?;
    itx.commit().await?;
    message_page(
        state,
        site,
        req,
        StatusCode::OK,
        "Password changed",
        "Your password has been changed and you have been signed out everywhere.",
        Some(("Sign in", "/sign-in")),
    )
}

// ---------------------------------------------------------------- terms

/// The documents the signed-in person has yet to accept, with a button to accept them.
#[handler]
pub async fn terms_page(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    session: &Session,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let Some(me) = auth::current(state, site, session).await? else {
        return Ok(Response::builder().status(StatusCode::SEE_OTHER).header("location", "/sign-in").finish());
    };
    let itx = state.dbs.platform.begin_identity(site.entry.id).await?;
    let outstanding = trellis_db::terms::outstanding(&itx, me.person, &state.terms).await?;
    itx.commit().await?;
    if outstanding.is_empty() {
        return Ok(Response::builder().status(StatusCode::SEE_OTHER).header("location", "/profile").finish());
    }
    let docs: Vec<_> = outstanding
        .iter()
        .map(|d| json!({ "key": d.key, "title": d.title, "version": d.version, "paragraphs": d.body.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).collect::<Vec<_>>() }))
        .collect();
    let accepting: Vec<String> = outstanding.iter().map(|d| format!("{}:{}", d.key, d.version)).collect();
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "Terms and policies", &[("Home", "/")]);
    ctx.insert("csrf_token", &token.0);
    ctx.insert("documents", &docs);
    ctx.insert("accepting", &accepting.join(","));
    page::render(state, Some(site), "pages/terms.html", &ctx, StatusCode::OK)
}

#[derive(Debug, Deserialize, Default)]
pub struct TermsForm {
    #[serde(default)]
    accepting: String,
}

/// Accepts exactly the versions the person was shown; if any changed meanwhile, shows them again.
#[handler]
pub async fn accept_terms(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    session: &Session,
    Form(f): Form<TermsForm>,
) -> Result<Response, AppError> {
    let Some(me) = auth::current(state, site, session).await? else {
        return Ok(Response::builder().status(StatusCode::SEE_OTHER).header("location", "/sign-in").finish());
    };
    let itx = state.dbs.platform.begin_identity(site.entry.id).await?;
    let outstanding = trellis_db::terms::outstanding(&itx, me.person, &state.terms).await?;
    let current: Vec<String> = outstanding.iter().map(|d| format!("{}:{}", d.key, d.version)).collect();
    if current.join(",") != f.accepting {
        itx.commit().await?;
        return Ok(Response::builder().status(StatusCode::SEE_OTHER).header("location", "/terms").finish());
    }
    let ip = client_ip(state, req);
    trellis_db::terms::accept(&itx, me.person, &outstanding, ip.as_deref()).await?;
    id::audit(
        &itx,
        Some(me.person),
        "terms.accepted",
        &current.join(","),
        ip.as_deref(),
        json!({ "documents": current }),
    )
    .await?;
    itx.commit().await?;
    Ok(Response::builder().status(StatusCode::SEE_OTHER).header("location", "/profile").finish())
}

// ---------------------------------------------------------------- two-step verification

/// The person half-way through signing in (password right, code not yet given), if recent.
fn mfa_pending(session: &Session, site: &Site) -> Option<trellis_core::PersonId> {
    let at: i64 = session.get(K_MFA_AT)?;
    if chrono::Utc::now().timestamp() - at > 600 || session.get::<String>(K_MFA_TENANT)? != site.entry.id.to_string() {
        return None;
    }
    session.get::<String>(K_MFA_PERSON)?.parse().ok()
}

#[derive(Debug, Deserialize, Default)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

/// Asks for the authenticator's code (or a recovery code).
#[handler]
pub fn code_form(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    session: &Session,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    if mfa_pending(session, site).is_none() {
        return Ok(Response::builder().status(StatusCode::SEE_OTHER).header("location", "/sign-in").finish());
    }
    form_page(
        state,
        site,
        req,
        token,
        "pages/sign_in_code.html",
        "Enter your security code",
        &Errors::new(),
        json!({}),
        StatusCode::OK,
    )
}

/// Checks the code: a TOTP code is accepted once (its time step must be new), a recovery code once.
#[handler]
pub async fn code(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    session: &Session,
    token: &CsrfToken,
    Form(f): Form<CodeForm>,
) -> Result<Response, AppError> {
    let Some(person) = mfa_pending(session, site) else {
        return Ok(Response::builder().status(StatusCode::SEE_OTHER).header("location", "/sign-in").finish());
    };
    let ip = client_ip(state, req);
    let key = format!("mfa:{}:{person}", site.entry.id);
    if let Err(retry) = state.limiter.hit(&key, state.config.auth.attempts_per_account, window(state)).await {
        return too_many(state, site, req, retry);
    }
    let itx = state.dbs.platform.begin_identity(site.entry.id).await?;
    let Some((secret, _)) = id::mfa_secret(&itx, person).await? else {
        itx.commit().await?;
        return Ok(Response::builder().status(StatusCode::SEE_OTHER).header("location", "/sign-in").finish());
    };
    let how = match auth::mfa::check(&secret, &f.code) {
        Some(step) if id::accept_mfa_step(&itx, person, step).await? => Some("totp"),
        Some(_) => None, // a code already used
        None if id::use_recovery_code(&itx, person, &f.code).await? => Some("recovery_code"),
        None => None,
    };
    let Some(how) = how else {
        id::audit(&itx, Some(person), "mfa.failed", &person.to_string(), ip.as_deref(), json!({})).await?;
        itx.commit().await?;
        let mut errors = Errors::new();
        errors.insert(
            "code",
            "Enter the 6-digit code your authenticator app shows now, or one of your recovery codes".into(),
        );
        return form_page(
            state,
            site,
            req,
            token,
            "pages/sign_in_code.html",
            "Enter your security code",
            &errors,
            json!({}),
            StatusCode::UNAUTHORIZED,
        );
    };
    let epoch = id::person_by_id(&itx, person).await?.map(|p| p.session_epoch).unwrap_or(0);
    id::audit(&itx, Some(person), "sign_in", &person.to_string(), ip.as_deref(), json!({ "second_step": how })).await?;
    itx.commit().await?;
    state.limiter.reset(&key).await;
    auth::sign_in(session, site, person, epoch);
    Ok(Response::builder().status(StatusCode::SEE_OTHER).header("location", "/profile").finish())
}

/// Two-step verification: set it up (a new secret, shown as text and as an otpauth address), or
/// see that it is on and turn it off.
#[handler]
pub async fn mfa_page(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    session: &Session,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let me = match auth::signed_in_and_agreed(state, site, session).await? {
        Ok(me) => me,
        Err(redirect) => return Ok(redirect),
    };
    let itx = state.dbs.platform.begin_identity(site.entry.id).await?;
    let person = id::person_by_id(&itx, me.person).await?.ok_or(AppError::NotFound)?;
    itx.commit().await?;
    let mut values = json!({ "enabled": person.mfa_enabled });
    if !person.mfa_enabled {
        let secret = session.get::<String>(K_MFA_SETUP).unwrap_or_else(|| {
            let s = auth::mfa::new_secret();
            session.set(K_MFA_SETUP, s.clone());
            s
        });
        values["secret"] = json!(secret);
        values["otpauth"] = json!(auth::mfa::otpauth_url(&secret, &person.email, &site.entry.name));
    }
    form_page(
        state,
        site,
        req,
        token,
        "pages/mfa.html",
        "Two-step verification",
        &Errors::new(),
        values,
        StatusCode::OK,
    )
}

/// Turns two-step verification on once a code from the new secret proves the app has it; shows the
/// recovery codes once.
#[handler]
pub async fn mfa_enable(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    session: &Session,
    token: &CsrfToken,
    Form(f): Form<CodeForm>,
) -> Result<Response, AppError> {
    let me = match auth::signed_in_and_agreed(state, site, session).await? {
        Ok(me) => me,
        Err(redirect) => return Ok(redirect),
    };
    let Some(secret) = session.get::<String>(K_MFA_SETUP) else {
        return Ok(Response::builder().status(StatusCode::SEE_OTHER).header("location", "/account/mfa").finish());
    };
    let Some(step) = auth::mfa::check(&secret, &f.code) else {
        let mut errors = Errors::new();
        errors.insert("code", "That code is not right: enter the 6-digit code your authenticator app shows now".into());
        let otpauth = auth::mfa::otpauth_url(&secret, "", &site.entry.name);
        return form_page(
            state,
            site,
            req,
            token,
            "pages/mfa.html",
            "Two-step verification",
            &errors,
            json!({ "enabled": false, "secret": secret, "otpauth": otpauth }),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let codes = auth::mfa::recovery_codes();
    let normalised: Vec<String> = codes.iter().map(|c| c.replace('-', "")).collect();
    let itx = state.dbs.platform.begin_identity(site.entry.id).await?;
    id::enable_mfa(&itx, me.person, &secret, step, &normalised).await?;
    id::audit(
        &itx,
        Some(me.person),
        "mfa.enabled",
        &me.person.to_string(),
        client_ip(state, req).as_deref(),
        json!({}),
    )
    .await?;
    itx.commit().await?;
    session.remove(K_MFA_SETUP);
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "Your recovery codes",
        &[("Home", "/"), ("Your profile", "/profile")],
    );
    ctx.insert("codes", &codes);
    page::render(state, Some(site), "pages/mfa_codes.html", &ctx, StatusCode::OK)
}

/// Turns two-step verification off (a current code or a recovery code is needed).
#[handler]
pub async fn mfa_disable(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    session: &Session,
    token: &CsrfToken,
    Form(f): Form<CodeForm>,
) -> Result<Response, AppError> {
    let me = match auth::signed_in_and_agreed(state, site, session).await? {
        Ok(me) => me,
        Err(redirect) => return Ok(redirect),
    };
    let itx = state.dbs.platform.begin_identity(site.entry.id).await?;
    let Some((secret, _)) = id::mfa_secret(&itx, me.person).await? else {
        itx.commit().await?;
        return Ok(Response::builder().status(StatusCode::SEE_OTHER).header("location", "/account/mfa").finish());
    };
    let ok = match auth::mfa::check(&secret, &f.code) {
        Some(step) => id::accept_mfa_step(&itx, me.person, step).await?,
        None => id::use_recovery_code(&itx, me.person, &f.code).await?,
    };
    if !ok {
        itx.commit().await?;
        let mut errors = Errors::new();
        errors.insert("code", "Enter a current code from your authenticator app, or a recovery code".into());
        return form_page(
            state,
            site,
            req,
            token,
            "pages/mfa.html",
            "Two-step verification",
            &errors,
            json!({ "enabled": true }),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    id::disable_mfa(&itx, me.person).await?;
    id::audit(
        &itx,
        Some(me.person),
        "mfa.disabled",
        &me.person.to_string(),
        client_ip(state, req).as_deref(),
        json!({}),
    )
    .await?;
    itx.commit().await?;
    Ok(Response::builder().status(StatusCode::SEE_OTHER).header("location", "/profile").finish())
}

// ---------------------------------------------------------------- email change, deactivation

#[derive(Debug, Deserialize, Default)]
pub struct EmailChangeForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// Asks for the new address and the current password.
#[handler]
pub async fn email_form(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    session: &Session,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    if let Err(redirect) = auth::signed_in_and_agreed(state, site, session).await? {
        return Ok(redirect);
    }
    form_page(
        state,
        site,
        req,
        token,
        "pages/email_change.html",
        "Change your email address",
        &Errors::new(),
        json!({}),
        StatusCode::OK,
    )
}

/// Sends a single-use link to the new address; nothing changes until it is opened.
#[handler]
pub async fn email_request(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    session: &Session,
    token: &CsrfToken,
    Form(f): Form<EmailChangeForm>,
) -> Result<Response, AppError> {
    let me = match auth::signed_in_and_agreed(state, site, session).await? {
        Ok(me) => me,
        Err(redirect) => return Ok(redirect),
    };
    let key = format!("email-change:{}", me.person);
    if let Err(retry) = state.limiter.hit(&key, state.config.auth.attempts_per_account, window(state)).await {
        return too_many(state, site, req, retry);
    }
    let mut errors = Errors::new();
    let new = match Email::parse(&f.email) {
        Ok(e) => Some(e),
        Err(m) => {
            errors.insert("email", m);
            None
        }
    };
    let itx = state.dbs.platform.begin_identity(site.entry.id).await?;
    let person = id::person_by_id(&itx, me.person).await?.ok_or(AppError::NotFound)?;
    let password_ok = match person.password_hash.clone() {
        Some(hash) => password::verify(f.password.clone(), hash).await?,
        None => false,
    };
    if !password_ok {
        errors.insert("password", "Enter your current password".into());
    }
    if new.as_ref().is_some_and(|n| n.as_str() == person.email) {
        errors.insert("email", "Enter an email address different from your current one".into());
    }
    let Some(new) = new.filter(|_| errors.is_empty()) else {
        itx.commit().await?;
        return form_page(
            state,
            site,
            req,
            token,
            "pages/email_change.html",
            "Change your email address",
            &errors,
            json!({ "email": f.email }),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let raw = id::issue_token_with(
        &itx,
        me.person,
        TokenPurpose::ChangeEmail,
        chrono::Duration::hours(state.config.auth.link_hours),
        Some(new.as_str().to_owned()),
    )
    .await?;
    let mail = render_email(
        state,
        site,
        "email_change",
        new.as_str(),
        "Confirm your new email address",
        json!({
            "name": person.given_name,
            "link": format!("{}account/email/confirm?token={raw}", site.url),
            "hours": state.config.auth.link_hours,
        }),
    )?;
    id::enqueue_email(&itx, &mail).await?;
    id::audit(
        &itx,
        Some(me.person),
        "email_change.requested",
        new.as_str(),
        client_ip(state, req).as_deref(),
        json!({}),
    )
    .await?;
    itx.commit().await?;
    message_page(
        state,
        site,
        req,
        StatusCode::OK,
        "Check your email",
        &format!("We have sent a link to {new}. Your email address changes when you open it."),
        Some(("Go to your profile", "/profile")),
    )
}

/// Shows a button to confirm the new address (from the emailed link).
#[handler]
pub fn email_confirm_form(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    token: &CsrfToken,
    Query(q): Query<TokenQuery>,
) -> Result<Response, AppError> {
    form_page(
        state,
        site,
        req,
        token,
        "pages/email_confirm.html",
        "Confirm your new email address",
        &Errors::new(),
        json!({ "token": q.token }),
        StatusCode::OK,
    )
}

/// Changes the address by its single-use link, and tells the old address.
#[handler]
pub async fn email_confirm(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    Form(f): Form<TokenForm>,
) -> Result<Response, AppError> {
    let itx = state.dbs.platform.begin_identity(site.entry.id).await?;
    let (person, new) = match id::consume_token_with(&itx, &f.token, TokenPurpose::ChangeEmail).await? {
        Ok((p, Some(new))) => (p, new),
        Ok((_, None)) => return refused_link(state, site, req, itx, TokenError::Unknown, "email-change").await,
        Err(why) => return refused_link(state, site, req, itx, why, "email-change").await,
    };
    if id::person_by_email(&itx, &new).await?.is_some() {
        itx.commit().await?;
        return message_page(
            state,
            site,
            req,
            StatusCode::CONFLICT,
            "This email address cannot be used",
            "Another account uses this email address now. Your address has not changed.",
            Some(("Go to your profile", "/profile")),
        );
    }
    let old = id::person_by_id(&itx, person).await?.ok_or(AppError::NotFound)?;
    id::change_email(&itx, person, &new).await?;
    let mail = render_email(
        state,
        site,
        "email_changed",
        &old.email,
        "Your email address has changed",
        json!({
            "name": old.given_name, "new_email": new,
        }),
    )?;
    id::enqueue_email(&itx, &mail).await?;
    id::audit(
        &itx,
        Some(person),
        "email.changed",
        &new,
        client_ip(state, req).as_deref(),
        json!({ "from": old.email }),
    )
    .await?;
    itx.commit().await?;
    message_page(
        state,
        site,
        req,
        StatusCode::OK,
        "Email address changed",
        &format!("You now sign in with {new}."),
        Some(("Go to your profile", "/profile")),
    )
}

#[derive(Debug, Deserialize, Default)]
pub struct DeactivateForm {
    #[serde(default)]
    confirm: String,
}

/// Closes the account at the person's request: every session ends and no sign-in works after.
#[handler]
pub async fn deactivate(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    session: &Session,
    Form(f): Form<DeactivateForm>,
) -> Result<Response, AppError> {
    let me = match auth::signed_in_and_agreed(state, site, session).await? {
        Ok(me) => me,
        Err(redirect) => return Ok(redirect),
    };
    if f.confirm != "yes" {
        return Err(AppError::BadRequest("Tick the box to confirm that you want to close your account.".into()));
    }
    let itx = state.dbs.platform.begin_identity(site.entry.id).await?;
    id::deactivate(&itx, me.person).await?;
    id::audit(
        &itx,
        Some(me.person),
        "account.deactivated",
        &me.person.to_string(),
        client_ip(state, req).as_deref(),
        json!({}),
    )
    .await?;
    itx.commit().await?;
    auth::sign_out(session);
    message_page(
        state,
        site,
        req,
        StatusCode::OK,
        "Your account is closed",
        "You have been signed out everywhere and can no longer sign in. Your learning record is kept as the NHS records schedule requires; ask the trust if you want it erased.",
        None,
    )
}

/// Asks for the address to send a new confirmation link to.
#[handler]
pub fn resend_form(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    form_page(
        state,
        site,
        req,
        token,
        "pages/resend.html",
        "Send the confirmation link again",
        &Errors::new(),
        json!({}),
        StatusCode::OK,
    )
}

/// Sends a new confirmation link if the address belongs to an unconfirmed member here; the page
/// says the same whoever asks.
#[handler]
pub async fn resend(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    Form(f): Form<ResetRequestForm>,
) -> Result<Response, AppError> {
    let ip = client_ip(state, req);
    if let Some(refused) = limit_address(state, site, req, "resend", ip.as_deref()).await? {
        return Ok(refused);
    }
    let email = f.email.trim().to_lowercase();
    let itx = state.dbs.platform.begin_identity(site.entry.id).await?;
    let person = id::person_by_email(&itx, &email).await?.filter(|p| !p.email_verified);
    let membership = match &person {
        Some(p) => id::membership(&itx, p.id).await?,
        None => None,
    };
    if let (Some(p), Some(m)) = (person, membership) {
        let raw = id::issue_token(
            &itx,
            p.id,
            TokenPurpose::VerifyEmail,
            chrono::Duration::hours(state.config.auth.link_hours),
        )
        .await?;
        let mail = render_email(
            state,
            site,
            "verify",
            &p.email,
            "Confirm your email address",
            json!({
                "name": p.given_name,
                "link": format!("{}verify-email?token={raw}", site.url),
                "hours": state.config.auth.link_hours,
                "pending": m.status == MembershipStatus::Pending,
            }),
        )?;
        id::enqueue_email(&itx, &mail).await?;
        id::audit(&itx, Some(p.id), "verify.resent", &email, ip.as_deref(), json!({})).await?;
    }
    itx.commit().await?;
    message_page(
        state,
        site,
        req,
        StatusCode::OK,
        "Check your email",
        &format!("If {email} has an account here waiting to be confirmed, we have sent it a new link."),
        None,
    )
}
