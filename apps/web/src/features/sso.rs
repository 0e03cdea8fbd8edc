//! Single sign-on with the trust's OpenID provider: `/sso/start` and `/sso/callback`.
//!
//! The first sign-in creates the account and membership under the trust's eligibility rules. An
//! address that already has an account is linked at once only when the provider vouches for it
//! (`email_verified`) and the account belongs to this trust alone (not to another trust, not a
//! platform administrator); otherwise its owner must open a link emailed to it first, so a
//! trust's provider can never sign in as someone it does not answer for.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::features::account::message_page;
use crate::http::Ctx;
use crate::http::auth;
use crate::http::middleware::forwarded;
use crate::http::page::see_other;
use poem::http::StatusCode;
use poem::session::Session;
use poem::web::Query;
use poem::{Response, handler};
use serde::Deserialize;
use serde_json::json;
use trellis_db::audit;
use trellis_db::identity::{self as id, MembershipStatus, NewPerson, accounts};
use trellis_db::outbox;
use trellis_domain::identity::Role;
use trellis_integrations::oidc::{ClaimNames, SsoSettings};

const K_STATE: &str = "sso_state";
const K_NONCE: &str = "sso_nonce";
const K_VERIFIER: &str = "sso_verifier";
const K_AT: &str = "sso_started_at";
/// How long a sign-in may take at the provider.
const WINDOW_SECS: i64 = 600;

/// The trust's single sign-on settings, its client secret opened (a secret from the environment,
/// or one stored before secrets were sealed, is used as it is).
fn settings(state: &AppState, site: &Site) -> Option<SsoSettings> {
    let s = site.entry.sso.as_ref()?;
    let client_secret = if trellis_db::secrets::Keyring::is_sealed(&s.client_secret) {
        match state.keyring.open(&trellis_db::secrets::sso_purpose(site.entry.id), &s.client_secret) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(trust = %site.entry.slug, error = %e, "the single sign-on client secret does not open");
                String::new()
            }
        }
    } else {
        s.client_secret.clone()
    };
    Some(SsoSettings {
        issuer: s.issuer.clone(),
        client_id: s.client_id.clone(),
        client_secret,
        redirect_url: format!("{}sso/callback", site.url),
        claims: ClaimNames {
            email: s.claim_email.clone(),
            email_verified: s.claim_email_verified.clone(),
            given_name: s.claim_given_name.clone(),
            family_name: s.claim_family_name.clone(),
        },
    })
}

#[derive(Debug, Deserialize)]
pub struct StartQuery {
    login_hint: Option<String>,
}

/// Sends the browser to the provider, keeping state, nonce and PKCE verifier in the session.
#[handler]
pub async fn start(
    Ctx { req, state, site }: Ctx<'_>,
    session: &Session,
    Query(q): Query<StartQuery>,
) -> Result<Response, AppError> {
    let Some(s) = settings(state, site) else { return Err(AppError::NotFound) };
    let hint = q.login_hint.filter(|h| !h.is_empty() && h.len() <= 254);
    let started = match state.oidc.start(&s, hint.as_deref()).await {
        Ok(started) => started,
        Err(e) => {
            // Unreachable, misconfigured, or not the issuer configured: say so, keep the reason.
            tracing::warn!(error = %e, issuer = %s.issuer, "single sign-on cannot start");
            let ip = forwarded::client_ip(req, &state.proxies).map(|i| i.to_string());
            let tx = state.dbs.app.begin(site.entry.id).await?;
            audit::record(
                &tx,
                None,
                "sso.refused",
                "provider_unusable",
                ip.as_deref(),
                json!({ "detail": e.to_string() }),
            )
            .await?;
            tx.commit().await?;
            let label = site.entry.sso.as_ref().map_or("", |x| x.label.as_str());
            return message_page(
                state,
                site,
                req,
                StatusCode::BAD_GATEWAY,
                "We could not sign you in",
                &format!(
                    "{label} is not available at the moment. Sign in with your email address and password, or try again later."
                ),
                Some(("Go to the sign-in page", "/sign-in")),
            );
        }
    };
    session.set(K_STATE, started.state);
    session.set(K_NONCE, started.nonce);
    session.set(K_VERIFIER, started.verifier);
    session.set(K_AT, chrono::Utc::now().timestamp());
    Ok(see_other(&started.url))
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Back from the provider: checks the state, exchanges the code, checks the ID token, then finds,
/// links or creates the person, and signs them in if their membership here is approved.
#[handler]
pub async fn callback(
    Ctx { req, state, site }: Ctx<'_>,
    session: &Session,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, AppError> {
    let Some(s) = settings(state, site) else { return Err(AppError::NotFound) };
    let ip = forwarded::client_ip(req, &state.proxies).map(|i| i.to_string());
    let label = site.entry.sso.as_ref().map_or("", |x| x.label.as_str());
    let expected: Option<String> = session.get(K_STATE);
    let nonce: Option<String> = session.get(K_NONCE);
    let verifier: Option<String> = session.get(K_VERIFIER);
    let started: i64 = session.get(K_AT).unwrap_or(0);
    for k in [K_STATE, K_NONCE, K_VERIFIER, K_AT] {
        session.remove(k);
    }
    let refusal_ip = ip.clone();
    let refuse = |status: StatusCode, why: &'static str, detail: String| async move {
        let tx = state.dbs.app.begin(site.entry.id).await?;
        audit::record(&tx, None, "sso.refused", why, refusal_ip.as_deref(), json!({ "detail": detail })).await?;
        tx.commit().await?;
        message_page(
            state,
            site,
            req,
            status,
            "We could not sign you in",
            &format!(
                "Signing in with {label} did not work. Go back to the sign-in page and try again; if it keeps happening, contact the trust's training team."
            ),
            Some(("Go to the sign-in page", "/sign-in")),
        )
    };
    if let Some(err) = q.error {
        return refuse(StatusCode::BAD_REQUEST, "provider_error", err).await;
    }
    let (Some(code), Some(got), Some(expected), Some(nonce), Some(verifier)) =
        (q.code, q.state, expected, nonce, verifier)
    else {
        return refuse(StatusCode::BAD_REQUEST, "no_sign_in_under_way", "no state in the session".into()).await;
    };
    if got != expected {
        return refuse(
            StatusCode::BAD_REQUEST,
            "state_mismatch",
            "the state does not match this browser's sign-in".into(),
        )
        .await;
    }
    if chrono::Utc::now().timestamp() - started > WINDOW_SECS {
        return refuse(StatusCode::BAD_REQUEST, "expired", "the sign-in took too long".into()).await;
    }
    let who = match state.oidc.finish(&s, &code, &verifier, &nonce).await {
        Ok(w) => w,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, "token_refused", e.to_string()).await,
    };

    let tx = state.dbs.app.begin(site.entry.id).await?;
    let linked = id::sso_linked_person(&tx, &who.issuer, &who.subject).await?;
    let person = match linked {
        Some(p) => p,
        None => {
            let Some(email) = who.email.clone().and_then(|e| trellis_domain::identity::Email::parse(&e).ok()) else {
                tx.commit().await?;
                return refuse(StatusCode::BAD_REQUEST, "no_email", "the provider gave no usable email address".into())
                    .await;
            };
            let eligible = trellis_db::site::eligibility_domains(&tx).await?.iter().any(|d| d == email.domain());
            match accounts::find_one(&tx, email.as_str()).await? {
                Some(existing) if !who.email_verified => {
                    // Never attach an account on an address the provider does not vouch for.
                    audit::record(
                        &tx,
                        Some(existing.id),
                        "sso.refused",
                        &existing.id.to_string(),
                        ip.as_deref(),
                        json!({ "issuer": who.issuer, "reason": "unverified_email_link" }),
                    )
                    .await?;
                    tx.commit().await?;
                    return message_page(
                        state,
                        site,
                        req,
                        StatusCode::FORBIDDEN,
                        "We could not link your account",
                        &format!(
                            "An account already uses this email address, and {label} did not confirm the address belongs to you. Sign in with your password instead."
                        ),
                        Some(("Go to the sign-in page", "/sign-in")),
                    );
                }
                Some(existing) if existing.member_here && !existing.member_elsewhere && !existing.platform_admin => {
                    // This trust's own account: the trust already answers for it.
                    audit::record(
                        &tx,
                        Some(existing.id),
                        "sso.linked",
                        &existing.id.to_string(),
                        ip.as_deref(),
                        json!({ "issuer": who.issuer }),
                    )
                    .await?;
                    id::link_sso(&tx, &who.issuer, &who.subject, existing.id).await?;
                    existing.id
                }
                Some(existing) => {
                    // An account others answer for too: its owner confirms by email first.
                    audit::record(
                        &tx,
                        Some(existing.id),
                        "sso.link_requested",
                        &existing.id.to_string(),
                        ip.as_deref(),
                        json!({ "issuer": who.issuer }),
                    )
                    .await?;
                    tx.commit().await?;
                    send_link_confirmation(state, site, existing.id, email.as_str(), &who.issuer, &who.subject).await?;
                    return message_page(
                        state,
                        site,
                        req,
                        StatusCode::OK,
                        "Check your email",
                        &format!(
                            "An account already uses this email address. To use {label} with it, open the link we have sent to the address, then sign in with {label} again."
                        ),
                        None,
                    );
                }
                None => {
                    let created = accounts::create_person(
                        &tx,
                        NewPerson {
                            email: email.as_str().to_owned(),
                            password_hash: None,
                            given_name: who.given_name.clone().unwrap_or_default(),
                            family_name: who.family_name.clone().unwrap_or_default(),
                            job_role: String::new(),
                            place_of_work: site.entry.ods_code.clone(),
                            register_kind: None,
                            register_number: None,
                        },
                        who.email_verified,
                    )
                    .await?;
                    audit::record(
                        &tx,
                        Some(created.id),
                        "sso.registered",
                        &created.id.to_string(),
                        ip.as_deref(),
                        json!({ "issuer": who.issuer, "eligible": eligible }),
                    )
                    .await?;
                    id::link_sso(&tx, &who.issuer, &who.subject, created.id).await?;
                    let status = if eligible { MembershipStatus::Approved } else { MembershipStatus::Pending };
                    accounts::add_membership(&tx, accounts::Consent::New(&created), status, &[Role::Learner]).await?;
                    created.id
                }
            }
        }
    };
    let membership = id::membership(&tx, person).await?;
    let epoch = id::session_epoch(&tx, person).await?.unwrap_or(0);
    match membership.map(|m| m.status) {
        Some(MembershipStatus::Approved) => {
            // A first sign-in may have just made them a member: the trust's rules reach them.
            let rules_changed = if linked.is_none() {
                crate::usecases::compliance::apply_rules::arrived(&tx, site, person).await?
            } else {
                false
            };
            audit::record(
                &tx,
                Some(person),
                "sign_in",
                &person.to_string(),
                ip.as_deref(),
                json!({ "issuer": who.issuer }),
            )
            .await?;
            auth::sign_in(&tx, state, req, session, site, person, epoch, auth::Method::SingleSignOn).await?;
            tx.commit().await?;
            crate::usecases::compliance::apply_rules::changed(state, site, rules_changed);
            Ok(see_other("/"))
        }
        Some(MembershipStatus::Pending) => {
            tx.commit().await?;
            message_page(
                state,
                site,
                req,
                StatusCode::FORBIDDEN,
                "Your registration is waiting for approval",
                &format!("{} will check your registration; we will email you when it is approved.", site.entry.name),
                None,
            )
        }
        _ => {
            tx.commit().await?;
            message_page(
                state,
                site,
                req,
                StatusCode::FORBIDDEN,
                "You cannot sign in here",
                &format!("Your access to this site has been withdrawn. Contact {} for help.", site.entry.name),
                None,
            )
        }
    }
}

/// Emails the address a link that links this provider's identity to the account (the identity
/// path issues it, at most a few an hour).
async fn send_link_confirmation(
    state: &AppState,
    site: &Site,
    person: trellis_domain::PersonId,
    email: &str,
    issuer: &str,
    subject: &str,
) -> Result<(), AppError> {
    let itx = state.dbs.identity.begin(site.entry.id).await?;
    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    if id::links_issued_since(&itx, person, id::TokenPurpose::LinkSso, since).await?
        >= state.config.auth.links_per_recipient_per_hour
    {
        itx.commit().await?;
        return Ok(());
    }
    let payload = json!({ "issuer": issuer, "subject": subject }).to_string();
    let raw = id::issue_token_with(
        &itx,
        person,
        id::TokenPurpose::LinkSso,
        chrono::Duration::hours(state.config.auth.link_hours),
        None,
        Some(payload),
    )
    .await?;
    let label = site.entry.sso.as_ref().map_or("", |x| x.label.as_str());
    let mail = crate::features::account::render_email(
        state,
        site,
        "sso_link",
        email,
        &format!("Confirm: use {label} with your account"),
        json!({ "label": label, "link": format!("{}sso/link?token={raw}", site.url), "hours": state.config.auth.link_hours }),
    )?;
    outbox::enqueue_email(&itx, &mail).await?;
    itx.commit().await?;
    Ok(())
}

#[derive(Debug, Deserialize)]
pub struct LinkQuery {
    #[serde(default)]
    token: String,
}

/// The page the emailed link opens: a button (a GET never uses the link).
#[handler]
pub async fn link_form(
    Ctx { req, state, site }: Ctx<'_>,
    token: &poem::web::CsrfToken,
    Query(q): Query<LinkQuery>,
) -> Result<Response, AppError> {
    let label = site.entry.sso.as_ref().map_or("your organisation's sign-in", |x| x.label.as_str());
    let mut ctx = crate::http::page::context(
        state,
        Some(site),
        &crate::http::page::RequestInfo::of(req),
        "Link your account",
        &[("Home", "/")],
    );
    ctx.insert("csrf_token", &token.0);
    ctx.insert("token", &q.token);
    ctx.insert("label", label);
    crate::http::page::render(state, Some(site), "pages/sso_link.html", &ctx, StatusCode::OK)
}

#[derive(Debug, Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    token: String,
}

/// Links the provider's identity to the account whose address received the link, and (if it was
/// not a member here) adds it to this trust under its eligibility rules.
#[handler]
pub async fn link(
    Ctx { req, state, site }: Ctx<'_>,
    poem::web::Form(f): poem::web::Form<LinkForm>,
) -> Result<Response, AppError> {
    let ip = forwarded::client_ip(req, &state.proxies).map(|i| i.to_string());
    let Some(current) = site.entry.sso.as_ref().map(|s| s.issuer.clone()) else { return Err(AppError::NotFound) };
    let itx = state.dbs.identity.begin(site.entry.id).await?;
    let used = match id::consume_token_with(&itx, &f.token, id::TokenPurpose::LinkSso).await? {
        Ok(u) => u,
        Err(why) => return crate::features::account::refused_link_page(state, site, req, itx, why, "sso-link").await,
    };
    let carried: serde_json::Value =
        used.payload.as_deref().and_then(|p| serde_json::from_str(p).ok()).unwrap_or_default();
    let (Some(issuer), Some(subject)) = (carried["issuer"].as_str(), carried["subject"].as_str()) else {
        return crate::features::account::refused_link_page(state, site, req, itx, id::TokenError::Unknown, "sso-link")
            .await;
    };
    if issuer != current {
        // The trust has changed its provider since: this link is for the old one.
        return crate::features::account::refused_link_page(state, site, req, itx, id::TokenError::Expired, "sso-link")
            .await;
    }
    let person = used.person;
    let member = id::membership_here(&itx, person).await?.is_some();
    if !member {
        id::grant_proof(&itx, person, "link").await?;
    }
    itx.commit().await?;
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let mut rules_changed = false;
    if id::sso_linked_person(&tx, issuer, subject).await?.is_none() {
        id::link_sso(&tx, issuer, subject, person).await?;
    }
    if !member {
        let email_domain = {
            let itx = state.dbs.identity.begin_read(site.entry.id).await?;
            let a = id::account_by_id(&itx, person).await?;
            itx.commit().await?;
            a.map(|a| a.email.rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_default()).unwrap_or_default()
        };
        let eligible = trellis_db::site::eligibility_domains(&tx).await?.contains(&email_domain);
        let status = if eligible { MembershipStatus::Approved } else { MembershipStatus::Pending };
        accounts::add_membership(&tx, accounts::Consent::Proven(person), status, &[Role::Learner]).await?;
        if eligible {
            rules_changed = crate::usecases::compliance::apply_rules::arrived(&tx, site, person).await?;
        }
    }
    audit::record(
        &tx,
        Some(person),
        "sso.linked",
        &person.to_string(),
        ip.as_deref(),
        json!({ "issuer": issuer, "by": "email" }),
    )
    .await?;
    tx.commit().await?;
    crate::usecases::compliance::apply_rules::changed(state, site, rules_changed);
    let label = site.entry.sso.as_ref().map_or("", |x| x.label.as_str());
    message_page(
        state,
        site,
        req,
        StatusCode::OK,
        "Your account is linked",
        &format!("You can now sign in to {} with {label}.", site.entry.name),
        Some((label, "/sso/start")),
    )
}
