//! A person who already has a Trellis account (at another trust) joins this trust with it: one
//! login, one learning record, a membership per trust. They prove the account is theirs with its
//! password (and security code, if two-step verification is on); this trust's eligibility rules
//! then approve the membership at once or queue it for the trust's admins.

use super::*;
use crate::http::{Ctx, CurrentSite};
use trellis_db::audit;

#[derive(Debug, Deserialize, Default)]
pub struct JoinForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

fn join_title(site: &Site) -> String {
    format!("Join {} with your account", site.entry.name)
}

/// The form: email, password and (if the account has it) a security code.
#[handler]
pub fn join_form(
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
        "pages/join.html",
        &join_title(site),
        &FormErrors::new(),
        json!({}),
        StatusCode::OK,
    )
}

/// Checks the account, then adds a membership here under this trust's eligibility rules.
#[handler]
pub async fn join(
    Ctx { req, state, site }: Ctx<'_>,
    session: &Session,
    token: &CsrfToken,
    Form(f): Form<JoinForm>,
) -> Result<Response, AppError> {
    let auth = &state.config.auth;
    let ip = client_ip(state, req);
    let email = f.email.trim().to_lowercase();
    // The same budgets as signing in: a join form must not be a way round them.
    let (budget, over) = budget(state, ip.as_deref(), &email).await;
    if let Some(retry) = over {
        let tx = state.dbs.app.begin(site.entry.id).await?;
        audit::record(&tx, None, "join.rate_limited", "", ip.as_deref(), json!({ "retry_after": retry })).await?;
        tx.commit().await?;
        return too_many(state, site, req, retry);
    }
    let values = json!({ "email": f.email });
    let refuse = |field: &'static str, message: &str, status: StatusCode| {
        let mut errors = FormErrors::new();
        errors.insert(field, message.to_owned());
        form_page(state, site, req, token, "pages/join.html", &join_title(site), &errors, values.clone(), status)
    };
    // The identity path checks the password and any code, and leaves a proof that this person
    // agreed to join; nothing about the account is said unless both are right.
    let itx = state.dbs.identity.begin(site.entry.id).await?;
    let (account, ok) = check_password_of(state, &itx, &email, &f.password).await?;
    let a = match account {
        Some(a) if ok && a.active && a.email_verified => a,
        Some(a) if ok && a.active => {
            audit::record(
                &itx,
                Some(a.id),
                "join.failed",
                &a.id.to_string(),
                ip.as_deref(),
                json!({ "reason": "unverified" }),
            )
            .await?;
            itx.commit().await?;
            return refuse(
                "email",
                "Confirm your email address first: open the link in the email we sent you",
                StatusCode::FORBIDDEN,
            );
        }
        other => {
            let who = other.map(|a| a.id);
            let subject = who.map_or_else(|| "unknown account".to_owned(), |p| p.to_string());
            audit::record(&itx, who, "join.failed", &subject, ip.as_deref(), json!({ "reason": "bad_credentials" }))
                .await?;
            itx.commit().await?;
            failed(state, &budget).await;
            return refuse("email", "Enter a correct email address and password", StatusCode::UNAUTHORIZED);
        }
    };
    if id::membership_here(&itx, a.id).await?.is_some() {
        itx.commit().await?;
        return message_page(
            state,
            site,
            req,
            StatusCode::OK,
            &format!("You are already a member of {}", site.entry.name),
            "Sign in with your email address and password.",
            Some(("Go to the sign-in page", "/sign-in")),
        );
    }
    let mut method = auth::Method::Password;
    if a.mfa_enabled {
        let mfa_key = format!("mfa:{}", a.id);
        if let Some(retry) = state.limiter.over(&mfa_key, auth.attempts_per_account, window(state)).await {
            itx.commit().await?;
            return too_many(state, site, req, retry);
        }
        let secret = id::mfa_secret(&itx, a.id).await?.map(|(s, _)| s).unwrap_or_default();
        if auth::mfa::verify(&itx, a.id, &secret, &f.code).await?.is_none() {
            audit::record(
                &itx,
                Some(a.id),
                "mfa.failed",
                &a.id.to_string(),
                ip.as_deref(),
                json!({ "during": "join" }),
            )
            .await?;
            itx.commit().await?;
            state.limiter.fail(&mfa_key, window(state)).await;
            return refuse(
                "code",
                "Your account uses two-step verification: enter the 6-digit code your authenticator app shows now, or a recovery code",
                StatusCode::UNAUTHORIZED,
            );
        }
        method = auth::Method::TwoStep;
    }
    id::grant_proof(&itx, a.id, "join").await?;
    itx.commit().await?;

    let tx = state.dbs.app.begin(site.entry.id).await?;
    let domain = email.rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_default();
    let eligible = trellis_db::site::eligibility_domains(&tx).await?.contains(&domain);
    let status = if eligible { MembershipStatus::Approved } else { MembershipStatus::Pending };
    accounts::add_membership(&tx, accounts::Consent::Proven(a.id), status, &[Role::Learner]).await?;
    let rules_changed =
        if eligible { crate::usecases::compliance::apply_rules::arrived(&tx, site, a.id).await? } else { false };
    audit::record(
        &tx,
        Some(a.id),
        "membership.joined",
        &a.id.to_string(),
        ip.as_deref(),
        json!({ "eligible": eligible }),
    )
    .await?;
    if eligible {
        audit::record(&tx, Some(a.id), "sign_in", &a.id.to_string(), ip.as_deref(), json!({ "via": "join" })).await?;
        auth::sign_in(&tx, state, req, session, site, a.id, a.session_epoch, method).await?;
        tx.commit().await?;
        crate::usecases::compliance::apply_rules::changed(state, site, rules_changed);
        succeeded(state, &budget).await;
        return Ok(crate::http::page::see_other_saying(req, "/", format!("You have joined {}", site.entry.name)));
    }
    tx.commit().await?;
    message_page(
        state,
        site,
        req,
        StatusCode::OK,
        "Your request to join is waiting for approval",
        &format!(
            "{} approves staff from other organisations one by one. We will email you when your membership is approved; then sign in with your usual email address and password.",
            site.entry.name
        ),
        None,
    )
}
