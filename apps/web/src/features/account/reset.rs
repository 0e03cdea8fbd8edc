//! Password reset by a single-use link.

use super::*;
use crate::http::{Ctx, CurrentSite};
use trellis_db::audit;
use trellis_db::outbox;

/// Asks for the email address to send a reset link to.
#[handler]
pub fn reset_form(
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
        "pages/reset_request.html",
        "Reset your password",
        &FormErrors::new(),
        json!({}),
        StatusCode::OK,
    )
}

/// Sends a reset link if the address belongs to a member here; the page says the same either way.
#[handler]
pub async fn reset_request(
    Ctx { req, state, site }: Ctx<'_>,
    Form(f): Form<ResetRequestForm>,
) -> Result<Response, AppError> {
    let ip = client_ip(state, req);
    if let Some(refused) = limit_address(state, site, req, "reset", ip.as_deref()).await? {
        return Ok(refused);
    }
    let email = f.email.trim().to_lowercase();
    let itx = state.dbs.identity.begin(site.entry.id).await?;
    let person = id::account_by_email(&itx, &email).await?;
    let member = match &person {
        Some(p) => {
            id::membership_here(&itx, p.id).await?.is_some()
                && may_send_link(state, &itx, p.id, TokenPurpose::ResetPassword).await?
        }
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
            outbox::enqueue_email(&itx, &mail).await?;
            audit::record(&itx, Some(p.id), "password_reset.requested", &p.id.to_string(), ip.as_deref(), json!({}))
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
    CurrentSite(site): CurrentSite<'_>,
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
        &FormErrors::new(),
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
    Ctx { req, state, site }: Ctx<'_>,
    token: &CsrfToken,
    Form(f): Form<ResetNewForm>,
) -> Result<Response, AppError> {
    if let Err(m) = check_password(&f.password, &[]) {
        let mut errors = FormErrors::new();
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
    let itx = state.dbs.identity.begin(site.entry.id).await?;
    let person = match id::consume_token(&itx, &f.token, TokenPurpose::ResetPassword).await? {
        Ok(p) => p,
        Err(why) => return refused_link(state, site, req, itx, why, "password-reset").await,
    };
    id::set_password(&itx, person, hash).await?;
    // Whoever could open the emailed link controls the address.
    id::mark_email_verified(&itx, person).await?;
    audit::record(
        &itx,
        Some(person),
        "password_reset",
        &person.to_string(),
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
        "Password changed",
        "Your password has been changed and you have been signed out everywhere.",
        Some(("Sign in", "/sign-in")),
    )
}
