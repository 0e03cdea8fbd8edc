//! Single sign-on with the trust's OpenID provider: `/sso/start` and `/sso/callback`.
//!
//! The first sign-in creates the membership under the trust's eligibility rules; an existing
//! account is linked only when the provider vouches for the email address (`email_verified`).

use crate::auth;
use crate::directory::Site;
use crate::error::AppError;
use crate::middleware::forwarded;
use crate::routes::account::message_page;
use crate::routes::page::see_other;
use crate::state::AppState;
use poem::http::StatusCode;
use poem::session::Session;
use poem::web::{Data, Query};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use trellis_core::identity::Role;
use trellis_db::identity::{self as id, MembershipStatus, NewPerson};
use trellis_integrations::oidc::{ClaimNames, SsoSettings};

const K_STATE: &str = "sso_state";
const K_NONCE: &str = "sso_nonce";
const K_VERIFIER: &str = "sso_verifier";
const K_AT: &str = "sso_started_at";
/// How long a sign-in may take at the provider.
const WINDOW_SECS: i64 = 600;

fn settings(site: &Site) -> Option<SsoSettings> {
    let s = site.entry.sso.as_ref()?;
    Some(SsoSettings {
        issuer: s.issuer.clone(),
        client_id: s.client_id.clone(),
        client_secret: s.client_secret.clone(),
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
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    session: &Session,
    Query(q): Query<StartQuery>,
) -> Result<Response, AppError> {
    let Some(s) = settings(site) else { return Err(AppError::NotFound) };
    let hint = q.login_hint.filter(|h| !h.is_empty() && h.len() <= 254);
    let started = match state.oidc.start(&s, hint.as_deref()).await {
        Ok(started) => started,
        Err(e) => {
            // Unreachable, misconfigured, or not the issuer configured: say so, keep the reason.
            tracing::warn!(error = %e, issuer = %s.issuer, "single sign-on cannot start");
            let ip = forwarded::client_ip(req, &state.proxies).map(|i| i.to_string());
            let tx = state.dbs.app.begin(site.entry.id).await?;
            id::audit(&tx, None, "sso.refused", "provider_unusable", ip.as_deref(), json!({ "detail": e.to_string() }))
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
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    session: &Session,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, AppError> {
    let Some(s) = settings(site) else { return Err(AppError::NotFound) };
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
        id::audit(&tx, None, "sso.refused", why, refusal_ip.as_deref(), json!({ "detail": detail })).await?;
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

    let itx = state.dbs.platform.begin_identity(site.entry.id).await?;
    let linked = id::sso_linked_person(&itx, &who.issuer, &who.subject).await?;
    let person = match linked {
        Some(p) => p,
        None => {
            let Some(email) = who.email.clone().and_then(|e| trellis_core::identity::Email::parse(&e).ok()) else {
                itx.commit().await?;
                return refuse(StatusCode::BAD_REQUEST, "no_email", "the provider gave no usable email address".into())
                    .await;
            };
            let eligible = trellis_db::site::eligibility_domains(&itx).await?.iter().any(|d| d == email.domain());
            let person = match id::person_by_email(&itx, email.as_str()).await? {
                Some(existing) => {
                    if !who.email_verified {
                        // Never attach an account on an address the provider does not vouch for.
                        id::audit(
                            &itx,
                            Some(existing.id),
                            "sso.refused",
                            "unverified_email_link",
                            ip.as_deref(),
                            json!({ "issuer": who.issuer }),
                        )
                        .await?;
                        itx.commit().await?;
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
                    id::audit(
                        &itx,
                        Some(existing.id),
                        "sso.linked",
                        email.as_str(),
                        ip.as_deref(),
                        json!({ "issuer": who.issuer }),
                    )
                    .await?;
                    existing.id
                }
                None => {
                    let p = id::create_person(
                        &itx,
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
                    )
                    .await?;
                    if who.email_verified {
                        id::mark_email_verified(&itx, p.id).await?;
                    }
                    id::audit(
                        &itx,
                        Some(p.id),
                        "sso.registered",
                        email.as_str(),
                        ip.as_deref(),
                        json!({ "issuer": who.issuer, "eligible": eligible }),
                    )
                    .await?;
                    p.id
                }
            };
            id::link_sso(&itx, &who.issuer, &who.subject, person).await?;
            if id::membership(&itx, person).await?.is_none() {
                let status = if eligible { MembershipStatus::Approved } else { MembershipStatus::Pending };
                id::add_membership(&itx, person, status, &[Role::Learner]).await?;
            }
            person
        }
    };
    let membership = id::membership(&itx, person).await?;
    let epoch = id::person_by_id(&itx, person).await?.map(|p| p.session_epoch).unwrap_or(0);
    match membership.map(|m| m.status) {
        Some(MembershipStatus::Approved) => {
            id::audit(&itx, Some(person), "sign_in", "sso", ip.as_deref(), json!({ "issuer": who.issuer })).await?;
            auth::sign_in(&itx, state, req, session, site, person, epoch, auth::Method::SingleSignOn).await?;
            itx.commit().await?;
            Ok(see_other("/profile"))
        }
        Some(MembershipStatus::Pending) => {
            itx.commit().await?;
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
            itx.commit().await?;
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
