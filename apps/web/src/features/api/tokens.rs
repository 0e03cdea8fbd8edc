//! A trust's administrators issue and revoke API tokens (`/admin/api-tokens`). A token is shown
//! once, when it is issued; only a hash of its secret is kept. Each has scopes (what it may do),
//! and may expire. Revoking one refuses it from the next request, on every server (tokens are
//! read from the database on each call, never kept). The same tokens serve every integration of
//! the trust that calls it (the LMS API, and SCIM provisioning with the `scim` scope).

use super::{SCOPES, new_token};
use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::http::form::FormErrors;
use crate::http::page::{self, RequestInfo, see_other};
use crate::http::{Ctx, Member, may};
use poem::http::StatusCode;
use poem::web::{CsrfToken, Data, Path};
use poem::{Request, Response, handler};
use serde_json::json;
use std::sync::Arc;
use trellis_db::api::{self as store, NewToken};
use trellis_db::audit;
use trellis_domain::TenantId;

/// Checks a token's name, scopes and lifetime as entered; the scopes as stored (space-separated).
pub fn check(name: &str, scopes: &[String], days: &str) -> Result<(String, Option<u32>), FormErrors> {
    let mut errors = FormErrors::new();
    if name.trim().is_empty() || name.trim().chars().count() > 200 {
        errors.insert("name", "Enter a name of 1 to 200 characters, saying which system will use it");
    }
    let known: Vec<&str> = SCOPES.iter().map(|(s, _)| *s).collect();
    if scopes.is_empty() || scopes.iter().any(|s| !known.contains(&s.as_str())) {
        errors.insert("scopes", "Choose at least one thing the token may do");
    }
    let days = match days.trim() {
        "" | "never" => None,
        d => match d.parse::<u32>() {
            Ok(n) if (1..=3650).contains(&n) => Some(n),
            _ => {
                errors.insert("expires", "Choose when the token stops working");
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut ordered: Vec<&str> = known.into_iter().filter(|k| scopes.iter().any(|s| s == k)).collect();
    ordered.dedup();
    Ok((ordered.join(" "), days))
}

/// Issues a token (for the CLI and the page): returns the token, to show once.
pub async fn issue(
    dbs: &trellis_db::Databases,
    tenant: TenantId,
    name: &str,
    scopes: &[String],
    days: Option<u32>,
    by: Option<trellis_domain::PersonId>,
) -> anyhow::Result<String> {
    let (scopes, _) = check(name, scopes, "")
        .map_err(|e| anyhow::anyhow!("{}", e.iter().map(|(_, m)| m).collect::<Vec<_>>().join("; ")))?;
    let (id, token, hash) = new_token();
    let tx = dbs.app.begin(tenant).await?;
    let expires_at = days.map(|d| chrono::Utc::now() + chrono::Duration::days(i64::from(d)));
    store::create_token(
        &tx,
        &NewToken { id, name: name.trim(), secret_sha256: &hash, scopes: &scopes, expires_at, by },
    )
    .await?;
    audit::record(
        &tx,
        by,
        "api.token_issued",
        &id.to_string(),
        None,
        json!({ "name": name.trim(), "scopes": scopes, "expires": expires_at.map(|e| e.to_rfc3339()) }),
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}

#[allow(clippy::too_many_arguments)] // each is a distinct part of the page
async fn render(
    state: &AppState,
    site: &Site,
    req: &Request,
    token: &CsrfToken,
    issued: Option<(String, String)>,
    errors: &FormErrors,
    values: serde_json::Value,
    status: StatusCode,
) -> Result<Response, AppError> {
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let list = store::tokens(&tx).await?;
    tx.commit().await?;
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "API tokens",
        &[("Home", "/"), ("Your profile", "/profile")],
    );
    errors.insert_into(&mut ctx);
    ctx.insert("csrf_token", &token.0);
    ctx.insert("api_base", &format!("{}/api/v1", site.url.trim_end_matches('/')));
    ctx.insert("scim_base", &format!("{}/scim/v2", site.url.trim_end_matches('/')));
    ctx.insert("values", &values);
    let revoked = req.uri().query().is_some_and(|q| q.split('&').any(|p| p == "revoked=1"));
    ctx.insert("notice", &revoked.then_some("The token is revoked: it no longer works."));
    ctx.insert("scopes", &SCOPES.iter().map(|(s, d)| json!({ "id": s, "description": d })).collect::<Vec<_>>());
    ctx.insert("issued", &issued.map(|(name, token)| json!({ "name": name, "token": token })));
    let now = chrono::Utc::now();
    let words = |t: chrono::DateTime<chrono::Utc>| crate::features::learner::date_words(t.date_naive());
    ctx.insert(
        "tokens",
        &list
            .iter()
            .map(|t| {
                json!({
                    "id": t.id.to_string(),
                    "name": t.name,
                    "scopes": t.scopes.split_whitespace().collect::<Vec<_>>(),
                    "created": words(t.created_at),
                    "last_used": t.last_used_at.map(words),
                    "expires": t.expires_at.map(words),
                    "expired": t.expires_at.is_some_and(|e| e <= now),
                    "revoked": t.revoked_at.map(words),
                })
            })
            .collect::<Vec<_>>(),
    );
    page::render(state, Some(site), "pages/admin_api_tokens.html", &ctx, status)
}

/// The trust's API tokens.
#[handler]
pub async fn tokens_page(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageIntegrations>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let _me = member.release().await?;
    render(state, site, req, token, None, &FormErrors::new(), json!({}), StatusCode::OK).await
}

/// Issues a token and shows it, once.
#[handler]
pub async fn issue_form(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageIntegrations>,
    token: &CsrfToken,
    body: poem::Body,
) -> Result<Response, AppError> {
    let me = member.release().await?;
    // A form with repeated `scopes` fields (checkboxes).
    let raw = body.into_string().await.map_err(|e| AppError::BadRequest(format!("The form could not be read: {e}")))?;
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw.as_bytes()).into_owned().collect();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let scopes: Vec<String> = pairs.iter().filter(|(n, _)| n == "scopes").map(|(_, v)| v.clone()).collect();
    let (name, expires) = (get("name"), get("expires"));
    let days = match check(&name, &scopes, &expires) {
        Ok((_, days)) => days,
        Err(errors) => {
            let values = json!({ "name": name, "scopes": scopes, "expires": expires });
            return render(state, site, req, token, None, &errors, values, StatusCode::BAD_REQUEST).await;
        }
    };
    let issued =
        issue(&state.dbs, site.entry.id, &name, &scopes, days, Some(me.person)).await.map_err(AppError::Internal)?;
    render(
        state,
        site,
        req,
        token,
        Some((name.trim().to_owned(), issued)),
        &FormErrors::new(),
        json!({}),
        StatusCode::OK,
    )
    .await
}

/// Revokes a token: refused from the next request on.
#[handler]
pub async fn revoke(
    _req: &Request,
    Data(_state): Data<&AppState>,
    Data(_site): Data<&Arc<Site>>,
    member: Member<may::ManageIntegrations>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let id: uuid::Uuid = page::path_id(&id)?;
    if store::token(&tx, id).await?.is_none() {
        return Err(AppError::NotFound);
    }
    if store::revoke_token(&tx, id).await? {
        audit::record(&tx, Some(me.person), "api.token_revoked", &id.to_string(), None, json!({})).await?;
    }
    tx.commit().await?;
    Ok(see_other("/admin/api-tokens?revoked=1"))
}
