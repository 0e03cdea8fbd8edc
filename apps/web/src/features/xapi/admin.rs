//! A trust administrator issues and revokes the credentials of the trust's LRS (for activity
//! providers that send statements, and reporting tools that read them). A secret is shown once,
//! when it is issued; only its hash is kept.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::http::form::FormErrors;
use crate::http::page::{self, RequestInfo};
use crate::http::{Ctx, Member, may};
use poem::http::StatusCode;
use poem::web::{CsrfToken, Form, Path};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::json;
use trellis_db::audit;
use trellis_db::xapi::{self as store, NewCredential};

#[allow(clippy::too_many_arguments)] // each is a distinct part of the page
async fn render(
    state: &AppState,
    site: &Site,
    req: &Request,
    token: &CsrfToken,
    issued: Option<(String, String, String)>,
    errors: &FormErrors,
    values: serde_json::Value,
    status: StatusCode,
) -> Result<Response, AppError> {
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let list = store::credentials(&tx).await?;
    tx.commit().await?;
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "Learning record store",
        &[("Home", "/"), ("Your profile", "/profile")],
    );
    errors.insert_into(&mut ctx);
    ctx.insert("csrf_token", &token.0);
    ctx.insert("endpoint", &format!("{}/xapi", site.url.trim_end_matches('/')));
    ctx.insert("values", &values);
    ctx.insert("issued", &issued.map(|(name, key, secret)| json!({ "name": name, "key": key, "secret": secret })));
    ctx.insert(
        "credentials",
        &list
            .iter()
            .map(|c| {
                json!({
                    "id": c.id.to_string(),
                    "name": c.name,
                    "key": c.key,
                    "scope": c.scope,
                    "version": c.version,
                    "created": crate::features::learner::date_words(c.created_at.date_naive()),
                    "last_used": c.last_used_at.map(|t| crate::features::learner::date_words(t.date_naive())),
                    "revoked": c.revoked_at.map(|t| crate::features::learner::date_words(t.date_naive())),
                })
            })
            .collect::<Vec<_>>(),
    );
    page::render(state, Some(site), "pages/admin_lrs.html", &ctx, status)
}

/// The trust's LRS: its address, and its credentials.
#[handler]
pub async fn lrs_page(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageRecords>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let _me = member.release().await?;
    render(state, site, req, token, None, &FormErrors::new(), json!({}), StatusCode::OK).await
}

#[derive(Debug, Deserialize, Default)]
pub struct IssueForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    version: String,
}

/// Issues a credential and shows its secret, once.
#[handler]
pub async fn issue(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageRecords>,
    token: &CsrfToken,
    Form(form): Form<IssueForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let name = form.name.trim().to_owned();
    let mut errors = FormErrors::new();
    if name.is_empty() || name.chars().count() > 200 {
        errors.insert("name", "Enter a name of 1 to 200 characters, saying who will use it");
    }
    if !matches!(form.scope.as_str(), "all" | "read" | "write") {
        errors.insert("scope", "Choose what the credential may do");
    }
    if !matches!(form.version.as_str(), "2.0.0" | "1.0.3") {
        errors.insert("version", "Choose the xAPI version the tool speaks");
    }
    if !errors.is_empty() {
        let values = json!({ "name": form.name, "scope": form.scope, "version": form.version });
        return render(state, site, req, token, None, &errors, values, StatusCode::BAD_REQUEST).await;
    }
    let (key, secret, hash) = super::new_credential();
    let id = store::create_credential(
        &tx,
        &NewCredential {
            name: &name,
            key: &key,
            secret_sha256: &hash,
            scope: &form.scope,
            version: &form.version,
            by: Some(me.person),
        },
    )
    .await?;
    audit::record(
        &tx,
        Some(me.person),
        "lrs.credential_issued",
        &id.to_string(),
        None,
        json!({ "name": name, "scope": form.scope }),
    )
    .await?;
    tx.commit().await?;
    render(state, site, req, token, Some((name, key, secret)), &FormErrors::new(), json!({}), StatusCode::OK).await
}

/// Revokes a credential: refused from the next request on (every server within half a minute).
#[handler]
pub async fn revoke(
    req: &Request,
    Ctx { state, site, .. }: Ctx<'_>,
    member: Member<may::ManageRecords>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let id: uuid::Uuid = page::path_id(&id)?;
    let key = store::credentials(&tx).await?.into_iter().find(|c| c.id == id).map(|c| c.key);
    let Some(key) = key else { return Err(AppError::NotFound) };
    if store::revoke_credential(&tx, id).await? {
        audit::record(&tx, Some(me.person), "lrs.credential_revoked", &id.to_string(), None, json!({})).await?;
    }
    tx.commit().await?;
    state.credentials.forget(site.entry.id, &key);
    Ok(page::see_other_saying(req, "/admin/lrs", "Credentials revoked: they no longer work"))
}
