//! Two-step verification: set-up, the second sign-in step, recovery codes.

use super::*;
use crate::http::page::see_other;
use crate::http::{Ctx, CurrentSite, Member, may};
use trellis_db::audit;

/// The person half-way through signing in (password right, code not yet given), if recent.
fn mfa_pending(session: &Session, site: &Site) -> Option<trellis_domain::PersonId> {
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
    CurrentSite(site): CurrentSite<'_>,
    session: &Session,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    if mfa_pending(session, site).is_none() {
        return Ok(see_other("/sign-in"));
    }
    form_page(
        state,
        site,
        req,
        token,
        "pages/sign_in_code.html",
        "Enter your security code",
        &FormErrors::new(),
        json!({}),
        StatusCode::OK,
    )
}

/// Checks the code: a TOTP code is accepted once (its time step must be new), a recovery code once.
#[handler]
pub async fn code(
    Ctx { req, state, site }: Ctx<'_>,
    session: &Session,
    token: &CsrfToken,
    Form(f): Form<CodeForm>,
) -> Result<Response, AppError> {
    let Some(person) = mfa_pending(session, site) else {
        return Ok(see_other("/sign-in"));
    };
    let ip = client_ip(state, req);
    // Wrong codes count against the person, whichever trust's site they are tried on.
    let key = format!("mfa:{person}");
    if let Some(retry) = state.limiter.over(&key, state.config.auth.attempts_per_account, window(state)).await {
        return too_many(state, site, req, retry);
    }
    let itx = state.dbs.identity.begin(site.entry.id).await?;
    let Some((secret, _)) = id::mfa_secret(&itx, person).await? else {
        itx.commit().await?;
        return Ok(see_other("/sign-in"));
    };
    let Some(how) = auth::mfa::verify(&itx, person, &secret, &f.code).await? else {
        audit::record(&itx, Some(person), "mfa.failed", &person.to_string(), ip.as_deref(), json!({})).await?;
        itx.commit().await?;
        state.limiter.fail(&key, window(state)).await;
        let mut errors = FormErrors::new();
        errors.insert("code", "Enter the 6-digit code your authenticator app shows now, or one of your recovery codes");
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
    let epoch = id::account_by_id(&itx, person).await?.map(|p| p.session_epoch).unwrap_or(0);
    itx.commit().await?;
    let tx = state.dbs.app.begin(site.entry.id).await?;
    audit::record(&tx, Some(person), "sign_in", &person.to_string(), ip.as_deref(), json!({ "second_step": how }))
        .await?;
    auth::sign_in(&tx, state, req, session, site, person, epoch, auth::Method::TwoStep).await?;
    tx.commit().await?;
    state.limiter.reset(&key).await;
    Ok(see_other("/"))
}

/// Two-step verification: set it up (a new secret, shown as text and as an otpauth address), or
/// see that it is on and turn it off.
#[handler]
pub async fn mfa_page(
    Ctx { req, state, site }: Ctx<'_>,
    session: &Session,
    member: Member<may::Anyone>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let me = member.release().await?;
    let itx = state.dbs.identity.begin_read(site.entry.id).await?;
    let person = id::account_by_id(&itx, me.person).await?.ok_or(AppError::NotFound)?;
    itx.commit().await?;
    let mut values = json!({ "enabled": person.mfa_enabled });
    if !person.mfa_enabled {
        let secret = session.get::<String>(K_MFA_SETUP).unwrap_or_else(|| {
            let s = auth::mfa::new_secret();
            session.set(K_MFA_SETUP, s.clone());
            s
        });
        values["secret"] = json!(secret);
        let otpauth = auth::mfa::otpauth_url(&secret, &person.email, &site.entry.name);
        values["qr"] = json!(otpauth.as_deref().and_then(auth::mfa::qr_svg));
        values["otpauth"] = json!(otpauth);
    }
    form_page(
        state,
        site,
        req,
        token,
        "pages/mfa.html",
        "Two-step verification",
        &FormErrors::new(),
        values,
        StatusCode::OK,
    )
}

/// Turns two-step verification on once a code from the new secret proves the app has it; shows the
/// recovery codes once.
#[handler]
pub async fn mfa_enable(
    Ctx { req, state, site }: Ctx<'_>,
    session: &Session,
    member: Member<may::Anyone>,
    token: &CsrfToken,
    Form(f): Form<CodeForm>,
) -> Result<Response, AppError> {
    let me = member.release().await?;
    let Some(secret) = session.get::<String>(K_MFA_SETUP) else {
        return Ok(see_other("/account/mfa"));
    };
    let Some(step) = auth::mfa::check(&secret, &f.code) else {
        let mut errors = FormErrors::new();
        errors.insert("code", "That code is not right: enter the 6-digit code your authenticator app shows now");
        let otpauth = auth::mfa::otpauth_url(&secret, "", &site.entry.name);
        let qr = otpauth.as_deref().and_then(auth::mfa::qr_svg);
        return form_page(
            state,
            site,
            req,
            token,
            "pages/mfa.html",
            "Two-step verification",
            &errors,
            json!({ "enabled": false, "secret": secret, "otpauth": otpauth, "qr": qr }),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let codes = auth::mfa::recovery_codes();
    let normalised: Vec<String> = codes.iter().map(|c| c.replace('-', "")).collect();
    let itx = state.dbs.identity.begin(site.entry.id).await?;
    id::enable_mfa(&itx, me.person, &secret, step, &normalised).await?;
    audit::record(
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
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &CsrfToken,
    Form(f): Form<CodeForm>,
) -> Result<Response, AppError> {
    let me = member.release().await?;
    let itx = state.dbs.identity.begin(site.entry.id).await?;
    let Some((secret, _)) = id::mfa_secret(&itx, me.person).await? else {
        itx.commit().await?;
        return Ok(see_other("/account/mfa"));
    };
    if auth::mfa::verify(&itx, me.person, &secret, &f.code).await?.is_none() {
        itx.commit().await?;
        let mut errors = FormErrors::new();
        errors.insert("code", "Enter a current code from your authenticator app, or a recovery code");
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
    audit::record(
        &itx,
        Some(me.person),
        "mfa.disabled",
        &me.person.to_string(),
        client_ip(state, req).as_deref(),
        json!({}),
    )
    .await?;
    itx.commit().await?;
    Ok(crate::http::page::see_other_saying(req, "/profile", "Two-step verification turned off"))
}
