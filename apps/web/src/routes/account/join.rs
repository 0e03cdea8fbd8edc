//! A person who already has a Trellis account (at another trust) joins this trust with it: one
//! login, one learning record, a membership per trust. They prove the account is theirs with its
//! password (and security code, if two-step verification is on); this trust's eligibility rules
//! then approve the membership at once or queue it for the trust's admins.

use super::*;
use crate::routes::page::see_other;

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
    Data(site): Data<&Arc<Site>>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    form_page(state, site, req, token, "pages/join.html", &join_title(site), &Errors::new(), json!({}), StatusCode::OK)
}

/// Checks the account, then adds a membership here under this trust's eligibility rules.
#[handler]
pub async fn join(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    session: &Session,
    token: &CsrfToken,
    Form(f): Form<JoinForm>,
) -> Result<Response, AppError> {
    let auth = &state.config.auth;
    let ip = client_ip(state, req);
    let email = f.email.trim().to_lowercase();
    // The same budgets as signing in: a join form must not be a way round them.
    let (account_key, over) = sign_in_budget(state, site, ip.as_deref(), &email).await;
    let itx = state.dbs.platform.begin_identity(site.entry.id).await?;
    if let Some(retry) = over {
        id::audit(&itx, None, "join.rate_limited", &email, ip.as_deref(), json!({ "retry_after": retry })).await?;
        itx.commit().await?;
        return too_many(state, site, req, retry);
    }
    let (person, ok) = check_password_of(state, &itx, &email, &f.password).await?;
    let values = json!({ "email": f.email });
    let refuse = |field: &'static str, message: &str, status: StatusCode| {
        let mut errors = Errors::new();
        errors.insert(field, message.to_owned());
        form_page(state, site, req, token, "pages/join.html", &join_title(site), &errors, values.clone(), status)
    };
    let p = match person {
        Some(p) if ok && p.active && p.email_verified => p,
        Some(p) if ok && p.active => {
            id::audit(&itx, Some(p.id), "join.failed", &email, ip.as_deref(), json!({ "reason": "unverified" }))
                .await?;
            itx.commit().await?;
            return refuse(
                "email",
                "Confirm your email address first: open the link in the email we sent you",
                StatusCode::FORBIDDEN,
            );
        }
        other => {
            let reason = if other.is_some() { "bad_credentials_or_closed" } else { "bad_credentials" };
            id::audit(&itx, other.map(|p| p.id), "join.failed", &email, ip.as_deref(), json!({ "reason": reason }))
                .await?;
            itx.commit().await?;
            return refuse("email", "Enter a correct email address and password", StatusCode::UNAUTHORIZED);
        }
    };
    if id::membership(&itx, p.id).await?.is_some() {
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
    if p.mfa_enabled {
        let mfa_key = format!("mfa:{}:{}", site.entry.id, p.id);
        if let Err(retry) = state.limiter.hit(&mfa_key, auth.attempts_per_account, window(state)).await {
            itx.commit().await?;
            return too_many(state, site, req, retry);
        }
        let secret = id::mfa_secret(&itx, p.id).await?.map(|(s, _)| s).unwrap_or_default();
        if auth::mfa::verify(&itx, p.id, &secret, &f.code).await?.is_none() {
            id::audit(&itx, Some(p.id), "mfa.failed", &email, ip.as_deref(), json!({ "during": "join" })).await?;
            itx.commit().await?;
            return refuse(
                "code",
                "Your account uses two-step verification: enter the 6-digit code your authenticator app shows now, or a recovery code",
                StatusCode::UNAUTHORIZED,
            );
        }
        method = auth::Method::TwoStep;
    }
    let domain = email.rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_default();
    let eligible = trellis_db::site::eligibility_domains(&itx).await?.contains(&domain);
    let status = if eligible { MembershipStatus::Approved } else { MembershipStatus::Pending };
    id::add_membership(&itx, p.id, status, &[Role::Learner]).await?;
    id::audit(&itx, Some(p.id), "membership.joined", &email, ip.as_deref(), json!({ "eligible": eligible })).await?;
    if eligible {
        id::audit(&itx, Some(p.id), "sign_in", &email, ip.as_deref(), json!({ "via": "join" })).await?;
        auth::sign_in(&itx, state, req, session, site, p.id, p.session_epoch, method).await?;
        itx.commit().await?;
        state.limiter.reset(&account_key).await;
        return Ok(see_other("/profile"));
    }
    itx.commit().await?;
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
