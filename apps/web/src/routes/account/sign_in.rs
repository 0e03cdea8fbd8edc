//! Sign-in and out, with the second step when two-step verification is on.

use super::*;
use crate::routes::page::see_other;

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
    let ip = client_ip(state, req);
    let email = f.email.trim().to_lowercase();
    let (account_key, over) = sign_in_budget(state, site, ip.as_deref(), &email).await;
    let itx = state.dbs.platform.begin_identity(site.entry.id).await?;
    if let Some(retry) = over {
        id::audit(&itx, None, "sign_in.rate_limited", &email, ip.as_deref(), json!({ "retry_after": retry })).await?;
        itx.commit().await?;
        return too_many(state, site, req, retry);
    }
    let (person, ok) = check_password_of(state, &itx, &email, &f.password).await?;
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
    // The right password for an account that is not a member here: offer to join with it.
    if let (Some(p), true, None) = (&person, ok, &membership)
        && p.active
    {
        id::audit(&itx, Some(p.id), "sign_in.not_member", &email, ip.as_deref(), json!({})).await?;
        itx.commit().await?;
        return message_page(
            state,
            site,
            req,
            StatusCode::FORBIDDEN,
            &format!("You are not a member of {} yet", site.entry.name),
            &format!(
                "Your account works at another organisation. Join {} with it to use the same sign-in and learning record here.",
                site.entry.name
            ),
            Some(("Join with your account", "/join")),
        );
    }
    match outcome {
        Ok(p) if p.mfa_enabled => {
            // The password was right; the code comes next. Nothing is signed in yet.
            itx.commit().await?;
            session.clear();
            session.renew();
            session.set(K_MFA_PERSON, p.id.to_string());
            session.set(K_MFA_TENANT, site.entry.id.to_string());
            session.set(K_MFA_AT, chrono::Utc::now().timestamp());
            Ok(see_other("/sign-in/code"))
        }
        Ok(p) => {
            id::audit(&itx, Some(p.id), "sign_in", &email, ip.as_deref(), json!({})).await?;
            auth::sign_in(&itx, state, req, session, site, p.id, p.session_epoch, auth::Method::Password).await?;
            itx.commit().await?;
            state.limiter.reset(&account_key).await;
            Ok(see_other("/profile"))
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
    let me = auth::current(state, site, session).await?;
    if let Some(me) = &me {
        let tx = state.dbs.app.begin(site.entry.id).await?;
        id::audit(&tx, Some(me.person), "sign_out", &me.person.to_string(), None, json!({})).await?;
        tx.commit().await?;
    }
    auth::sign_out(state, site, session, me.map(|m| m.person)).await?;
    Ok(see_other("/"))
}

/// Ends every session of the signed-in person, on every trust's site.
#[handler]
pub async fn sign_out_everywhere(
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    session: &Session,
) -> Result<Response, AppError> {
    let Some(me) = auth::current(state, site, session).await? else {
        return Ok(see_other("/sign-in"));
    };
    let itx = state.dbs.platform.begin_identity(site.entry.id).await?;
    id::end_all_sessions(&itx, me.person).await?;
    id::audit(&itx, Some(me.person), "sign_out.everywhere", &me.person.to_string(), None, json!({})).await?;
    itx.commit().await?;
    auth::sign_out(state, site, session, None).await?;
    Ok(see_other("/"))
}
