//! A trust admin sets up the trust's single sign-on (OpenID Connect): issuer, client id and
//! secret, the button's label, and which claims carry the email, its verification and the names.
//! Saving reads the provider's discovery document first, so a wrong issuer is refused then, not
//! at a learner's sign-in. The secret is write-only: the form never shows it.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::features::site_admin::announce;
use crate::http::form::FormErrors;
use crate::http::page::{self, RequestInfo};
use crate::http::{Ctx, Member, may};
use poem::http::StatusCode;
use poem::web::{CsrfToken, Form};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::json;
use trellis_db::audit;
use trellis_db::site::{self as db_site, SsoSettingsInput};
use trellis_domain::tenant_spec::issuer_acceptable;

#[derive(Debug, Deserialize, Default)]
pub struct SsoForm {
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    claim_email: String,
    #[serde(default)]
    claim_email_verified: String,
    #[serde(default)]
    claim_given_name: String,
    #[serde(default)]
    claim_family_name: String,
    /// `save` or `remove`.
    #[serde(default)]
    action: String,
}

const ORDER: &[&str] = &[
    "issuer",
    "client_id",
    "client_secret",
    "label",
    "claim_email",
    "claim_email_verified",
    "claim_given_name",
    "claim_family_name",
];

#[allow(clippy::too_many_arguments)] // each is a distinct part of the page
fn render(
    state: &AppState,
    site: &Site,
    req: &Request,
    token: &CsrfToken,
    values: serde_json::Value,
    has_secret: bool,
    errors: &FormErrors,
    status: StatusCode,
) -> Result<Response, AppError> {
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "Single sign-on",
        &[("Home", "/"), ("Your profile", "/profile")],
    );
    ctx.insert("csrf_token", &token.0);
    errors.clone().ordered_by(ORDER).insert_into(&mut ctx);
    ctx.insert("values", &values);
    ctx.insert("has_secret", &has_secret);
    ctx.insert("callback", &format!("{}sso/callback", site.url));
    page::render(state, Some(site), "pages/admin_sso.html", &ctx, status)
}

fn values_of(s: &SsoSettingsInput, configured: bool) -> serde_json::Value {
    json!({
        "configured": configured,
        "issuer": s.issuer, "client_id": s.client_id, "label": s.label,
        "claim_email": s.claim_email, "claim_email_verified": s.claim_email_verified,
        "claim_given_name": s.claim_given_name, "claim_family_name": s.claim_family_name,
    })
}

fn defaults() -> SsoSettingsInput {
    SsoSettingsInput {
        label: "Sign in with your organisation's account".into(),
        claim_email: "email".into(),
        claim_email_verified: "email_verified".into(),
        claim_given_name: "given_name".into(),
        claim_family_name: "family_name".into(),
        ..SsoSettingsInput::default()
    }
}

/// The settings form.
#[handler]
pub async fn edit(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageSignOn>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let Member { me: _me, tx, .. } = member;
    let current = db_site::sso_settings(&tx).await?;
    tx.commit().await?;
    let (values, has_secret) = match current {
        Some((s, has)) => (values_of(&s, true), has),
        None => (values_of(&defaults(), false), false),
    };
    render(state, site, req, token, values, has_secret, &FormErrors::new(), StatusCode::OK)
}

/// Saves (after checking the provider) or removes the settings.
#[handler]
pub async fn save(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageSignOn>,
    token: &CsrfToken,
    Form(f): Form<SsoForm>,
) -> Result<Response, AppError> {
    let me = member.release().await?;
    let ip = crate::http::middleware::forwarded::client_ip(req, &state.proxies).map(|i| i.to_string());
    if f.action == "remove" {
        let tx = state.dbs.app.begin(site.entry.id).await?;
        if db_site::admin_remove_sso(&tx).await? {
            audit::record(&tx, Some(me.person), "sso.settings_removed", "", ip.as_deref(), json!({})).await?;
        }
        tx.commit().await?;
        announce(state, "sso-edit").await;
        return Ok(page::see_other_saying(req, "/admin/sso", "Single sign-on removed"));
    }
    let mut errors = FormErrors::new();
    let issuer = f.issuer.trim().trim_end_matches('/').to_owned();
    if !issuer_acceptable(&issuer, state.config.development.allow_local_network) {
        errors.insert(
            "issuer",
            "Enter the provider's issuer address: https:// followed by the provider's public host name",
        );
    }
    let mut text = |field: &'static str, v: &str, max: usize, label: &str| {
        let v = v.trim();
        if v.is_empty() || v.chars().count() > max {
            errors.insert(field, format!("Enter the {label}, up to {max} characters"));
        }
        v.to_owned()
    };
    let client_id = text("client_id", &f.client_id, 200, "client id");
    let label = text("label", &f.label, 100, "text of the sign-in button");
    let claim_email = text("claim_email", &f.claim_email, 100, "name of the email claim");
    let claim_email_verified =
        text("claim_email_verified", &f.claim_email_verified, 100, "name of the claim saying the email is verified");
    let claim_given_name = text("claim_given_name", &f.claim_given_name, 100, "name of the first-name claim");
    let claim_family_name = text("claim_family_name", &f.claim_family_name, 100, "name of the last-name claim");
    let secret = f.client_secret.trim();
    if secret.chars().count() > 500 {
        errors.insert("client_secret", "The client secret must be 500 characters or fewer");
    }
    let input = SsoSettingsInput {
        issuer: issuer.clone(),
        client_id,
        client_secret: (!secret.is_empty()).then(|| secret.to_owned()),
        label,
        claim_email,
        claim_email_verified,
        claim_given_name,
        claim_family_name,
    };
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let current = db_site::sso_settings(&tx).await?;
    tx.commit().await?;
    let has_secret = current.as_ref().is_some_and(|(_, h)| *h);
    if input.client_secret.is_none() && !has_secret {
        errors.insert("client_secret", "Enter the client secret the provider gave you");
    }
    if !errors.contains_key("issuer")
        && let Err(e) = state.oidc.check_issuer(&issuer).await
    {
        // One sentence whatever went wrong (refused address, no answer, 404, bad JSON): the
        // reason is in the server's log, not on a page that would map the network behind it.
        let _ = e;
        errors.insert(
            "issuer",
            format!("We could not use the provider at {issuer}. Check the issuer address and that the provider is reachable over https, then try again."),
        );
    }
    if !errors.is_empty() {
        let mut values = values_of(&input, current.is_some());
        values["issuer"] = json!(f.issuer);
        return render(state, site, req, token, values, has_secret, &errors, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let secret_changed = input.client_secret.is_some();
    // The secret is stored sealed (secrets at rest), for this trust's single sign-on only.
    let purpose = trellis_db::secrets::sso_purpose(site.entry.id);
    let input = SsoSettingsInput {
        client_secret: input.client_secret.as_deref().map(|v| state.keyring.seal(&purpose, v)),
        ..input
    };
    let tx = state.dbs.app.begin(site.entry.id).await?;
    db_site::admin_set_sso(&tx, input).await?;
    audit::record(
        &tx,
        Some(me.person),
        "sso.settings_changed",
        &issuer,
        ip.as_deref(),
        json!({ "client_id": f.client_id.trim(), "secret_changed": secret_changed }),
    )
    .await?;
    tx.commit().await?;
    announce(state, "sso-edit").await;
    Ok(page::see_other_saying(req, "/admin/sso", "Single sign-on settings saved"))
}
