//! Email confirmation by a single-use link.

use super::*;
use crate::http::{Ctx, CurrentSite};
use trellis_db::audit;
use trellis_db::outbox;

/// Shows a button to confirm (a GET never uses the link, so mail scanners cannot spend it).
#[handler]
pub fn verify_form(
    req: &Request,
    Data(state): Data<&AppState>,
    CurrentSite(site): CurrentSite<'_>,
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
        &FormErrors::new(),
        json!({ "token": q.token }),
        StatusCode::OK,
    )
}

/// Confirms the email address by its single-use link.
#[handler]
pub async fn verify(Ctx { req, state, site }: Ctx<'_>, Form(f): Form<TokenForm>) -> Result<Response, AppError> {
    let itx = state.dbs.identity.begin(site.entry.id).await?;
    let person = match id::consume_token(&itx, &f.token, TokenPurpose::VerifyEmail).await? {
        Ok(p) => p,
        Err(why) => return refused_link(state, site, req, itx, why, "verify-email").await,
    };
    id::mark_email_verified(&itx, person).await?;
    let pending = id::membership_here(&itx, person).await? == Some(MembershipStatus::Pending);
    audit::record(
        &itx,
        Some(person),
        "email.verified",
        &person.to_string(),
        client_ip(state, req).as_deref(),
        json!({}),
    )
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

/// Asks for the address to send a new confirmation link to.
#[handler]
pub fn resend_form(
    req: &Request,
    Data(state): Data<&AppState>,
    CurrentSite(site): CurrentSite<'_>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    form_page(
        state,
        site,
        req,
        token,
        "pages/resend.html",
        "Send the confirmation link again",
        &FormErrors::new(),
        json!({}),
        StatusCode::OK,
    )
}

/// Sends a new confirmation link if the address belongs to an unconfirmed member here; the page
/// says the same whoever asks.
#[handler]
pub async fn resend(Ctx { req, state, site }: Ctx<'_>, Form(f): Form<ResetRequestForm>) -> Result<Response, AppError> {
    let ip = client_ip(state, req);
    if let Some(refused) = limit_address(state, site, req, "resend", ip.as_deref()).await? {
        return Ok(refused);
    }
    let email = f.email.trim().to_lowercase();
    let itx = state.dbs.identity.begin(site.entry.id).await?;
    let person = id::account_by_email(&itx, &email).await?.filter(|p| !p.email_verified);
    let membership = match &person {
        Some(p) => id::membership_here(&itx, p.id).await?,
        None => None,
    };
    let allowed = match &person {
        Some(p) => may_send_link(state, &itx, p.id, TokenPurpose::VerifyEmail).await?,
        None => false,
    };
    if let (Some(p), Some(m), true) = (person, membership, allowed) {
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
                "pending": m == MembershipStatus::Pending,
            }),
        )?;
        outbox::enqueue_email(&itx, &mail).await?;
        audit::record(&itx, Some(p.id), "verify.resent", &p.id.to_string(), ip.as_deref(), json!({})).await?;
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
