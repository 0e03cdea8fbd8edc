//! A person's account on a trust's site, one use case per file; the shared form helpers live here.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::http::auth::{self, password};
use crate::http::form::FormErrors;
use crate::http::middleware::forwarded;
use crate::http::page::{self, RequestInfo};
use poem::http::StatusCode;
use poem::session::Session;
use poem::web::{CsrfToken, Data, Form, Query};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use trellis_db::audit;
use trellis_db::identity::{self as id, IdentityTx, MembershipStatus, TokenError, TokenPurpose, accounts};
use trellis_db::outbox::OutgoingEmail;
use trellis_db::sessions;
use trellis_domain::identity::{Email, Register, Role, check_password, is_ods_code};

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
    "code",
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
    errors: &FormErrors,
    values: serde_json::Value,
    status: StatusCode,
) -> Result<Response, AppError> {
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), title, &[("Home", "/")]);
    ctx.insert("csrf_token", &token.0);
    // The summary lists errors in the order the fields appear on the form.
    errors.clone().ordered_by(SUMMARY_ORDER).insert_into(&mut ctx);
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

/// The organisations this service knows (its trusts, by ODS code): `(code, name)`.
pub(super) fn organisations(state: &AppState) -> Vec<(String, String)> {
    let mut orgs: Vec<(String, String)> =
        state.directory.sites().iter().map(|s| (s.entry.ods_code.clone(), s.entry.name.clone())).collect();
    orgs.sort();
    orgs.dedup_by(|a, b| a.0 == b.0);
    orgs
}

/// A form's values with the organisations to choose a place of work from (the field's list of
/// suggestions, by name and code) and the name of the one whose code was entered, if known.
pub(super) fn with_organisations(state: &AppState, mut values: serde_json::Value) -> serde_json::Value {
    let orgs = organisations(state);
    let entered = values.get("place_of_work").and_then(|v| v.as_str()).unwrap_or("").trim().to_uppercase();
    values["known_name"] = json!(orgs.iter().find(|(c, _)| *c == entered).map(|(_, n)| n.clone()));
    values["organisations"] = json!(orgs.iter().map(|(c, n)| json!({ "code": c, "name": n })).collect::<Vec<_>>());
    values
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

/// How long an invitation to join a trust stays open, in days.
pub const INVITATION_DAYS: i64 = 14;

/// The email inviting an existing account to join the trust (a staff import's, a provisioning's),
/// with the link carrying the invitation's raw token.
pub fn invitation_email(state: &AppState, site: &Site, to: &str, raw: &str) -> Result<OutgoingEmail, AppError> {
    render_email(
        state,
        site,
        "invitation",
        to,
        &format!("You are invited to join {}", site.entry.name),
        json!({ "link": format!("{}invitation?token={raw}", site.url), "days": INVITATION_DAYS }),
    )
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
    let from = Sender { theme: &site.entry.theme, tenant: site.view.clone(), url: &site.url, name: &site.entry.name };
    render_email_from(state, &from, name, to, subject, extra)
}

/// Who an email is from: the theme it is drawn in, what its templates know as `tenant` and
/// `site_url`, and the sender's name.
pub(crate) struct Sender<'a> {
    pub theme: &'a str,
    pub tenant: tera::Value,
    pub url: &'a str,
    pub name: &'a str,
}

/// Renders an email from `emails/<name>.txt` and `.html`, from `from` (a trust, or the platform).
pub(crate) fn render_email_from(
    state: &AppState,
    from: &Sender<'_>,
    name: &str,
    to: &str,
    subject: &str,
    extra: serde_json::Value,
) -> Result<OutgoingEmail, AppError> {
    let mut ctx = tera::Context::new();
    ctx.insert_value("tenant", from.tenant.clone());
    ctx.insert("site_url", from.url);
    ctx.insert("subject", subject);
    if let serde_json::Value::Object(map) = extra {
        for (k, v) in map {
            ctx.insert(k, &v);
        }
    }
    Ok(OutgoingEmail {
        to: to.to_owned(),
        subject: subject.to_owned(),
        text: state.themes.render(from.theme, &format!("emails/{name}.txt"), &ctx)?,
        html: state.themes.render(from.theme, &format!("emails/{name}.html"), &ctx)?,
        from_name: from.name.to_owned(),
        calendar: None,
        reply_to: None,
    })
}

pub(crate) fn client_ip(state: &AppState, req: &Request) -> Option<String> {
    forwarded::client_ip(req, &state.proxies).map(|ip| ip.to_string())
}

/// The sign-in budgets, which count failures only (a good sign-in spends nothing, so thousands of
/// staff behind one hospital address all sign in): per account across every trust, and per
/// client address with a much higher ceiling. Signing in, joining and the second step share them.
pub(super) struct Budget {
    account_key: String,
    ip_key: String,
}

/// The budgets for this address and account, and, if either is spent, how many seconds to wait.
/// Checked before any password work; nothing is counted yet.
async fn budget(state: &AppState, ip: Option<&str>, email: &str) -> (Budget, Option<u64>) {
    let auth = &state.config.auth;
    let b = Budget { account_key: format!("signin:acct:{email}"), ip_key: format!("signin:ip:{}", ip.unwrap_or("-")) };
    let over = match state.limiter.over(&b.ip_key, auth.failures_per_address, window(state)).await {
        Some(r) => Some(r),
        None => state.limiter.over(&b.account_key, auth.attempts_per_account, window(state)).await,
    };
    (b, over)
}

/// Counts a failed attempt against both budgets.
async fn failed(state: &AppState, b: &Budget) {
    state.limiter.fail(&b.ip_key, window(state)).await;
    state.limiter.fail(&b.account_key, window(state)).await;
}

/// Forgets the account's failures after it signs in.
async fn succeeded(state: &AppState, b: &Budget) {
    state.limiter.reset(&b.account_key).await;
}

/// The account with this email address, and whether `password` is theirs. The same work is done
/// whether or not there is such an account (or a password on it): one argon2 verification against
/// the account's hash or against a hash made at start-up, so the time taken tells nothing.
async fn check_password_of(
    state: &AppState,
    itx: &IdentityTx,
    email: &str,
    password: &str,
) -> Result<(Option<id::Account>, bool), AppError> {
    let found = id::credentials(itx, email).await?;
    let (account, hash) = match found {
        Some((a, h)) => (Some(a), h),
        None => (None, None),
    };
    let ok = match hash {
        Some(hash) => {
            state.metrics.password_checks.with_label_values(&["account"]).inc();
            password::verify(password.to_owned(), hash).await?
        }
        None => {
            state.metrics.password_checks.with_label_values(&["stand-in"]).inc();
            password::verify(password.to_owned(), state.dummy_hash.clone()).await?;
            false
        }
    };
    Ok((account, ok))
}

/// Whether another link of `purpose` may be emailed to this person now: at most
/// `auth.links_per_recipient_per_hour` of each kind, whoever asks and from wherever (so nobody can
/// flood an inbox through the "send it again" forms).
async fn may_send_link(
    state: &AppState,
    itx: &IdentityTx,
    person: trellis_domain::PersonId,
    purpose: TokenPurpose,
) -> Result<bool, AppError> {
    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    Ok(id::links_issued_since(itx, person, purpose, since).await? < state.config.auth.links_per_recipient_per_hour)
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

/// Counts one request of `scope` from this address; past the limit, the 429 page to send.
async fn limit_address(
    state: &AppState,
    site: &Site,
    req: &Request,
    scope: &str,
    ip: Option<&str>,
) -> Result<Option<Response>, AppError> {
    let key = format!("{scope}:ip:{}", ip.unwrap_or("-"));
    match state.limiter.hit(&key, state.config.auth.failures_per_address, window(state)).await {
        Ok(()) => Ok(None),
        Err(retry) => too_many(state, site, req, retry).map(Some),
    }
}

fn window(state: &AppState) -> Duration {
    Duration::from_secs(state.config.auth.attempt_window_seconds)
}

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    pub(crate) token: String,
}

/// [`refused_link`] for other modules' links.
pub async fn refused_link_page(
    state: &AppState,
    site: &Site,
    req: &Request,
    itx: IdentityTx,
    why: TokenError,
    what: &str,
) -> Result<Response, AppError> {
    refused_link(state, site, req, itx, why, what).await
}

pub(super) async fn refused_link(
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
    audit::record(&itx, None, "link.refused", what, client_ip(state, req).as_deref(), json!({ "reason": reason }))
        .await?;
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
    pub(crate) token: String,
}

#[derive(Debug, Deserialize, Default)]
pub struct ResetRequestForm {
    #[serde(default)]
    pub(super) email: String,
}

mod confirm;
mod details;
mod email;
mod invitation;
mod join;
mod mfa;
mod profile;
mod register;
mod reset;
mod sign_in;
mod terms;

pub use confirm::*;
pub use details::*;
pub use email::*;
pub use invitation::*;
pub use join::*;
pub use mfa::*;
pub use profile::*;
pub use register::*;
pub use reset::*;
pub use sign_in::*;
pub use terms::*;
