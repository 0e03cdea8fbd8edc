//! Sign-in and out, with the second step when two-step verification is on.

use super::*;
use crate::http::page::see_other;
use crate::http::{Ctx, CurrentSite};
use trellis_db::audit;

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
    CurrentSite(site): CurrentSite<'_>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    form_page(state, site, req, token, "pages/sign_in.html", "Sign in", &FormErrors::new(), json!({}), StatusCode::OK)
}

/// Signs in. A wrong email, a wrong password and the right password at a trust the account does
/// not belong to all get the same answer, after the same work, and count as a failure.
#[handler]
pub async fn sign_in(
    Ctx { req, state, site }: Ctx<'_>,
    session: &Session,
    token: &CsrfToken,
    Form(f): Form<SignInForm>,
) -> Result<Response, AppError> {
    let ip = client_ip(state, req);
    let email = f.email.trim().to_lowercase();
    let (budget, over) = budget(state, ip.as_deref(), &email).await;
    if let Some(retry) = over {
        let tx = state.dbs.app.begin(site.entry.id).await?;
        audit::record(&tx, None, "sign_in.rate_limited", "", ip.as_deref(), json!({ "retry_after": retry })).await?;
        tx.commit().await?;
        return too_many(state, site, req, retry);
    }
    let itx = state.dbs.identity.begin_read(site.entry.id).await?;
    let (account, ok) = check_password_of(state, &itx, &email, &f.password).await?;
    itx.commit().await?;
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let membership = match (&account, ok) {
        (Some(a), true) => id::membership(&tx, a.id).await?,
        _ => None,
    };
    let refuse = |status: StatusCode, message: &str| {
        let mut errors = FormErrors::new();
        errors.insert("email", message.to_owned());
        (status, errors)
    };
    let outcome = match (&account, ok, &membership) {
        (Some(a), true, Some(m)) if a.active && a.email_verified && m.status == MembershipStatus::Approved => {
            Ok(a.clone())
        }
        (Some(a), true, Some(_)) if a.active && !a.email_verified => Err((
            "unverified",
            refuse(StatusCode::FORBIDDEN, "Confirm your email address first: open the link in the email we sent you"),
        )),
        (Some(a), true, Some(m)) if a.active && m.status == MembershipStatus::Pending => Err((
            "pending",
            refuse(StatusCode::FORBIDDEN, &format!("Your registration is waiting for approval by {}", site.entry.name)),
        )),
        (Some(a), true, Some(_)) if a.active => Err((
            "withdrawn",
            refuse(
                StatusCode::FORBIDDEN,
                &format!("Your access to this site has been withdrawn. Contact {} for help", site.entry.name),
            ),
        )),
        // Not a member here (or closed), or simply wrong: one answer for all, so a right
        // password elsewhere is not confirmed. The page offers joining with an account.
        (Some(_), true, None) => Err(("not_member", refuse(StatusCode::UNAUTHORIZED, BAD_CREDENTIALS))),
        _ => Err(("bad_credentials", refuse(StatusCode::UNAUTHORIZED, BAD_CREDENTIALS))),
    };
    match outcome {
        Ok(a) if a.mfa_enabled => {
            // The password was right; the code comes next. Nothing is signed in yet.
            tx.commit().await?;
            session.clear();
            session.renew();
            session.set(K_MFA_PERSON, a.id.to_string());
            session.set(K_MFA_TENANT, site.entry.id.to_string());
            session.set(K_MFA_AT, chrono::Utc::now().timestamp());
            Ok(see_other("/sign-in/code"))
        }
        Ok(a) => {
            audit::record(&tx, Some(a.id), "sign_in", &a.id.to_string(), ip.as_deref(), json!({})).await?;
            auth::sign_in(&tx, state, req, session, site, a.id, a.session_epoch, auth::Method::Password).await?;
            tx.commit().await?;
            succeeded(state, &budget).await;
            Ok(see_other("/"))
        }
        Err((why, (status, errors))) => {
            let who = account.as_ref().map(|a| a.id);
            let subject = who.map_or_else(|| "unknown account".to_owned(), |p| p.to_string());
            audit::record(&tx, who, "sign_in.failed", &subject, ip.as_deref(), json!({ "reason": why })).await?;
            tx.commit().await?;
            if status == StatusCode::UNAUTHORIZED {
                failed(state, &budget).await;
            }
            form_page(
                state,
                site,
                req,
                token,
                "pages/sign_in.html",
                "Sign in",
                &errors,
                json!({ "email": f.email, "offer_join": true }),
                status,
            )
        }
    }
}

/// The one answer to a wrong email or password (or an account of another organisation).
const BAD_CREDENTIALS: &str = "Enter a correct email address and password";

/// Signs out of this site.
#[handler]
pub async fn sign_out(Ctx { state, site, .. }: Ctx<'_>, session: &Session) -> Result<Response, AppError> {
    let me = auth::current(state, site, session).await?;
    if let Some(me) = &me {
        let tx = state.dbs.app.begin(site.entry.id).await?;
        audit::record(&tx, Some(me.person), "sign_out", &me.person.to_string(), None, json!({})).await?;
        tx.commit().await?;
    }
    auth::sign_out(state, site, session, me.map(|m| m.person)).await?;
    Ok(see_other("/"))
}

/// Ends every session of the signed-in person, on every trust's site.
#[handler]
pub async fn sign_out_everywhere(Ctx { state, site, .. }: Ctx<'_>, session: &Session) -> Result<Response, AppError> {
    let Some(me) = auth::current(state, site, session).await? else {
        return Ok(see_other("/sign-in"));
    };
    let itx = state.dbs.identity.begin(site.entry.id).await?;
    id::end_all_sessions(&itx, me.person).await?;
    audit::record(&itx, Some(me.person), "sign_out.everywhere", &me.person.to_string(), None, json!({})).await?;
    itx.commit().await?;
    auth::sign_out(state, site, session, None).await?;
    Ok(see_other("/"))
}
