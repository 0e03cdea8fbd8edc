//! Email change by a link to the new address, and closing an account.

use super::*;
use crate::http::{Ctx, CurrentSite, Member, may};
use trellis_db::audit;
use trellis_db::outbox;

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
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let _me = member.release().await?;
    form_page(
        state,
        site,
        req,
        token,
        "pages/email_change.html",
        "Change your email address",
        &FormErrors::new(),
        json!({}),
        StatusCode::OK,
    )
}

/// Sends a single-use link to the new address; nothing changes until it is opened.
#[handler]
pub async fn email_request(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &CsrfToken,
    Form(f): Form<EmailChangeForm>,
) -> Result<Response, AppError> {
    let me = member.release().await?;
    let key = format!("email-change:{}", me.person);
    if let Err(retry) = state.limiter.hit(&key, state.config.auth.attempts_per_account, window(state)).await {
        return too_many(state, site, req, retry);
    }
    let mut errors = FormErrors::new();
    let new = match Email::parse(&f.email) {
        Ok(e) => Some(e),
        Err(m) => {
            errors.insert("email", m);
            None
        }
    };
    let itx = state.dbs.identity.begin(site.entry.id).await?;
    let person = id::account_by_id(&itx, me.person).await?.ok_or(AppError::NotFound)?;
    let password_ok = match id::password_hash(&itx, me.person).await? {
        Some(hash) => password::verify(f.password.clone(), hash).await?,
        None => false,
    };
    if !password_ok {
        errors.insert("password", "Enter your current password");
    }
    if new.as_ref().is_some_and(|n| n.as_str() == person.email) {
        errors.insert("email", "Enter an email address different from your current one");
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
        None,
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
    outbox::enqueue_email(&itx, &mail).await?;
    audit::record(
        &itx,
        Some(me.person),
        "email_change.requested",
        &me.person.to_string(),
        client_ip(state, req).as_deref(),
        json!({ "to": new.as_str() }),
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
    CurrentSite(site): CurrentSite<'_>,
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
        &FormErrors::new(),
        json!({ "token": q.token }),
        StatusCode::OK,
    )
}

/// Changes the address by its single-use link, and tells the old address.
#[handler]
pub async fn email_confirm(Ctx { req, state, site }: Ctx<'_>, Form(f): Form<TokenForm>) -> Result<Response, AppError> {
    let itx = state.dbs.identity.begin(site.entry.id).await?;
    let (person, new) = match id::consume_token_with(&itx, &f.token, TokenPurpose::ChangeEmail).await? {
        Ok(id::UsedToken { person, new_email: Some(new), .. }) => (person, new),
        Ok(_) => return refused_link(state, site, req, itx, TokenError::Unknown, "email-change").await,
        Err(why) => return refused_link(state, site, req, itx, why, "email-change").await,
    };
    if id::account_by_email(&itx, &new).await?.is_some() {
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
    let old = id::account_by_id(&itx, person).await?.ok_or(AppError::NotFound)?;
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
    outbox::enqueue_email(&itx, &mail).await?;
    audit::record(
        &itx,
        Some(person),
        "email.changed",
        &person.to_string(),
        client_ip(state, req).as_deref(),
        json!({ "from": old.email, "to": new }),
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
