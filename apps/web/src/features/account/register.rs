//! Registration: eligible domains approved at once, everyone else queued.

use super::*;
use crate::http::{Ctx, CurrentSite};
use trellis_db::audit;
use trellis_db::outbox;

#[derive(Debug, Deserialize, Default)]
pub struct RegisterForm {
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    job_role: String,
    #[serde(default)]
    place_of_work: String,
    #[serde(default)]
    register_kind: String,
    #[serde(default)]
    register_number: String,
}

fn form_values(f: &RegisterForm) -> serde_json::Value {
    json!({
        "given_name": f.given_name, "family_name": f.family_name, "email": f.email, "job_role": f.job_role,
        "place_of_work": f.place_of_work, "register_kind": f.register_kind, "register_number": f.register_number,
    })
}

/// The registration form.
#[handler]
pub fn register_form(
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
        "pages/register.html",
        "Create an account",
        &FormErrors::new(),
        with_organisations(state, json!({})),
        StatusCode::OK,
    )
}

/// Registers: eligible email domains are approved at once, others wait for the trust's admins.
/// The answer is the same whether or not the email is already registered.
#[handler]
pub async fn register(
    Ctx { req, state, site }: Ctx<'_>,
    token: &CsrfToken,
    Form(f): Form<RegisterForm>,
) -> Result<Response, AppError> {
    let ip = client_ip(state, req);
    if let Some(refused) = limit_address(state, site, req, "register", ip.as_deref()).await? {
        return Ok(refused);
    }
    let mut errors = FormErrors::new();
    let text = |v: &str, field: &'static str, label: &str, errors: &mut FormErrors| {
        let v = v.trim();
        if v.is_empty() {
            errors.insert(field, format!("Enter your {label}"));
        } else if v.chars().count() > 100 {
            errors.insert(field, format!("Your {label} must be 100 characters or fewer"));
        }
        v.to_owned()
    };
    let given = text(&f.given_name, "given_name", "first name", &mut errors);
    let family = text(&f.family_name, "family_name", "last name", &mut errors);
    let job_role = text(&f.job_role, "job_role", "job role", &mut errors);
    let email = match Email::parse(&f.email) {
        Ok(e) => Some(e),
        Err(m) => {
            errors.insert("email", m);
            None
        }
    };
    let place = f.place_of_work.trim().to_uppercase();
    if !is_ods_code(&place) {
        errors.insert("place_of_work", "Enter the ODS code of your place of work, like RXX or RXX01");
    }
    let register = match f.register_kind.as_str() {
        "" | "none" => None,
        kind => match Register::parse(kind) {
            None => {
                errors.insert("register_kind", "Choose a professional register");
                None
            }
            Some(r) => match r.check(&f.register_number) {
                Ok(n) => Some((r, n)),
                Err(m) => {
                    errors.insert("register_number", m);
                    None
                }
            },
        },
    };
    if let Err(m) = check_password(&f.password, &[&given, &family, email.as_ref().map_or("", |e| e.as_str())]) {
        errors.insert("password", m);
    }
    let Some(email) = email.filter(|_| errors.is_empty()) else {
        return form_page(
            state,
            site,
            req,
            token,
            "pages/register.html",
            "Create an account",
            &errors,
            with_organisations(state, form_values(&f)),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };

    let auth = &state.config.auth;
    let hash = password::hash(f.password.clone(), auth.password_memory_kib, auth.password_iterations).await?;
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let eligible = trellis_db::site::eligibility_domains(&tx).await?.iter().any(|d| d == email.domain());
    match accounts::find_one(&tx, email.as_str()).await? {
        Some(existing) => {
            // Never say so on the page; tell the address's owner instead.
            let mail = render_email(
                state,
                site,
                "already_registered",
                email.as_str(),
                "You already have an account",
                json!({
                    "member_here": existing.member_here,
                    "sign_in_url": format!("{}sign-in", site.url),
                    "join_url": format!("{}join", site.url),
                    "reset_url": format!("{}password-reset", site.url),
                }),
            )?;
            outbox::enqueue_email(&tx, &mail).await?;
            audit::record(&tx, None, "register.duplicate", &existing.id.to_string(), ip.as_deref(), json!({})).await?;
            tx.commit().await?;
        }
        None => {
            let created = accounts::create_person(
                &tx,
                id::NewPerson {
                    email: email.as_str().to_owned(),
                    password_hash: Some(hash),
                    given_name: given.clone(),
                    family_name: family,
                    job_role,
                    place_of_work: place,
                    register_kind: register.as_ref().map(|(r, _)| r.as_str().to_owned()),
                    register_number: register.map(|(_, n)| n),
                },
                false,
            )
            .await?;
            let status = if eligible { MembershipStatus::Approved } else { MembershipStatus::Pending };
            accounts::add_membership(&tx, accounts::Consent::New(&created), status, &[Role::Learner]).await?;
            let rules_changed = if eligible {
                crate::usecases::compliance::apply_rules::arrived(&tx, site, created.id).await?
            } else {
                false
            };
            audit::record(
                &tx,
                Some(created.id),
                "register",
                &created.id.to_string(),
                ip.as_deref(),
                json!({ "eligible": eligible }),
            )
            .await?;
            tx.commit().await?;
            crate::usecases::compliance::apply_rules::changed(state, site, rules_changed);
            // The confirmation link is the identity path's (single-use links are its alone). If
            // this step failed, "send the confirmation link again" gives a new one.
            let itx = state.dbs.identity.begin(site.entry.id).await?;
            let raw =
                id::issue_token(&itx, created.id, TokenPurpose::VerifyEmail, chrono::Duration::hours(auth.link_hours))
                    .await?;
            let mail = render_email(
                state,
                site,
                "verify",
                email.as_str(),
                "Confirm your email address",
                json!({
                    "name": given,
                    "link": format!("{}verify-email?token={raw}", site.url),
                    "hours": auth.link_hours,
                    "pending": !eligible,
                }),
            )?;
            outbox::enqueue_email(&itx, &mail).await?;
            itx.commit().await?;
        }
    }
    message_page(
        state,
        site,
        req,
        StatusCode::OK,
        "Check your email",
        &format!(
            "We have sent an email to {email}. Open the link in it to confirm your address and finish creating your account."
        ),
        None,
    )
}
