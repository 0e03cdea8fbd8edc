//! SCIM 2.0 (`/scim/v2` on the trust's own host) for identity systems such as Entra ID: Users
//! (create, read, replace, patch, delete as deactivation, list with `filter=userName eq "…"` and
//! paging, `/.search`) and the discovery endpoints. Callers authenticate with an API token of the
//! trust carrying the `scim` scope. Every answer is `application/scim+json`; every refusal a SCIM
//! error document (`scimType` naming the kind of fault). What a provisioned user does to the
//! person is [`crate::usecases::provisioning`]'s.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::features::api::{Refused, check_token};
use crate::http::Ctx;
use crate::usecases::provisioning::{self as prov, Outcome, ScimError, schema};
use poem::http::{Method, StatusCode};
use poem::{Body, Request, Response, handler};
use serde_json::Value;
use trellis_db::outbox;

/// The largest body accepted (a User or a PatchOp is a few kilobytes).
const MAX_BODY: usize = 256 * 1024;
/// How many users a list gives when the caller does not say.
const DEFAULT_COUNT: u64 = 100;

fn reply(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/scim+json; charset=utf-8")
        .header("cache-control", "no-store")
        .body(body.to_string())
}

fn error(e: &ScimError) -> Response {
    if let Some(internal) = &e.internal {
        tracing::error!(error = ?internal, "a SCIM request failed");
    }
    reply(StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST), &e.doc())
}

fn bearer(req: &Request) -> Option<&str> {
    let h = req.header("authorization")?.trim();
    let (scheme, token) = h.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

/// The query's parameters (the last of each name wins).
fn param(req: &Request, name: &str) -> Option<String> {
    url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.into_owned())
        .last()
}

fn list_param(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => s.split(',').map(|x| x.trim().to_owned()).filter(|x| !x.is_empty()).collect(),
        Some(Value::Array(xs)) => xs.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => vec![],
    }
}

fn number(v: Option<&Value>, name: &str) -> Result<Option<u64>, ScimError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(Some(n.as_i64().map_or(0, |n| u64::try_from(n.max(0)).unwrap_or(0)))),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(|n| Some(u64::try_from(n.max(0)).unwrap_or(0)))
            .map_err(|_| ScimError::bad("invalidValue", format!("{name}: must be a whole number."))),
        Some(_) => Err(ScimError::bad("invalidValue", format!("{name}: must be a whole number."))),
    }
}

async fn json_body(req: &Request, body: Body) -> Result<Value, ScimError> {
    let ctype = req.header("content-type").unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if !ctype.is_empty() && ctype != "application/scim+json" && ctype != "application/json" {
        return Err(ScimError::status(415, None, "Send the body as application/scim+json."));
    }
    let bytes = body
        .into_bytes_limit(MAX_BODY)
        .await
        .map_err(|_| ScimError::status(413, None, format!("A body may be at most {} KB.", MAX_BODY / 1024)))?;
    serde_json::from_slice(&bytes).map_err(|e| ScimError::bad("invalidSyntax", format!("The body is not JSON: {e}.")))
}

/// Everything under `/scim/v2`.
#[handler]
pub async fn entry(Ctx { req, state, site }: Ctx<'_>, body: Body) -> Response {
    let path: Vec<String> = req
        .uri()
        .path()
        .strip_prefix("/scim/v2")
        .unwrap_or("")
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let token = match check_token(state, site, req, bearer(req).unwrap_or(""), "scim").await {
        Ok(t) => t,
        Err(Refused::Status(status, detail)) => {
            let mut resp = reply(status, &ScimError::status(status.as_u16(), None, detail).doc());
            if status == StatusCode::UNAUTHORIZED {
                resp.headers_mut().insert("www-authenticate", poem::http::HeaderValue::from_static("Bearer"));
            }
            return resp;
        }
        Err(Refused::Internal(e)) => return error(&ScimError::from(e)),
    };
    match route(state, site, req, body, token.id, &path).await {
        Ok(r) => r,
        Err(e) => error(&e),
    }
}

fn not_allowed() -> ScimError {
    ScimError::status(405, None, "That method is not allowed here.")
}

async fn route(
    state: &AppState,
    site: &Site,
    req: &Request,
    body: Body,
    token: uuid::Uuid,
    path: &[String],
) -> Result<Response, ScimError> {
    let base = format!("{}scim/v2", site.url);
    let get = req.method() == Method::GET;
    let segs: Vec<&str> = path.iter().map(String::as_str).collect();
    match segs.as_slice() {
        ["ServiceProviderConfig"] if get => Ok(reply(StatusCode::OK, &schema::service_provider_config(&base))),
        ["ResourceTypes"] if get => Ok(reply(StatusCode::OK, &schema::list(vec![schema::user_type(&base)], 1, 1))),
        ["ResourceTypes", "User"] if get => Ok(reply(StatusCode::OK, &schema::user_type(&base))),
        ["ResourceTypes", _] if get => Err(ScimError::status(404, None, "The only resource type is User.")),
        ["Schemas"] if get => {
            let docs: Vec<Value> =
                schema::schemas().iter().filter_map(|(u, ..)| schema::schema_doc(&base, u)).collect();
            let n = docs.len() as u64;
            Ok(reply(StatusCode::OK, &schema::list(docs, n, 1)))
        }
        ["Schemas", urn] if get => schema::schema_doc(&base, urn)
            .map(|d| reply(StatusCode::OK, &d))
            .ok_or_else(|| ScimError::status(404, None, "There is no such schema here.")),
        ["ServiceProviderConfig" | "ResourceTypes" | "Schemas", ..] => Err(not_allowed()),
        ["Bulk"] => {
            Err(ScimError::status(501, None, "Bulk operations are not supported (see /ServiceProviderConfig)."))
        }
        [".search"] => Err(ScimError::status(501, None, "Search Users at /Users/.search.")),
        ["Me"] => Err(ScimError::status(501, None, "/Me is not supported.")),
        ["Groups", ..] => {
            Err(ScimError::status(404, None, "Groups are not provisioned: roles are set in the trust's admin pages."))
        }
        ["Users"] if get => {
            let start = number(param(req, "startIndex").map(Value::String).as_ref(), "startIndex")?.unwrap_or(1);
            let count = number(param(req, "count").map(Value::String).as_ref(), "count")?.unwrap_or(DEFAULT_COUNT);
            let attrs = list_param(param(req, "attributes").map(Value::String).as_ref());
            let excluded = list_param(param(req, "excludedAttributes").map(Value::String).as_ref());
            list(state, site, &base, param(req, "filter").as_deref(), start, count, &attrs, &excluded).await
        }
        ["Users", ".search"] if req.method() == Method::POST => {
            let q = json_body(req, body).await?;
            let schemas_ok = q
                .get("schemas")
                .and_then(Value::as_array)
                .is_some_and(|s| s.iter().any(|x| x.as_str().is_some_and(|x| x.eq_ignore_ascii_case(schema::SEARCH))));
            if !schemas_ok {
                return Err(ScimError::bad("invalidSyntax", format!("schemas: must list {}", schema::SEARCH)));
            }
            let start = number(q.get("startIndex"), "startIndex")?.unwrap_or(1);
            let count = number(q.get("count"), "count")?.unwrap_or(DEFAULT_COUNT);
            let filter = q.get("filter").and_then(Value::as_str).map(str::to_owned);
            let attrs = list_param(q.get("attributes"));
            let excluded = list_param(q.get("excludedAttributes"));
            list(state, site, &base, filter.as_deref(), start, count, &attrs, &excluded).await
        }
        ["Users"] if req.method() == Method::POST => {
            let doc = json_body(req, body).await?;
            let tx = state.dbs.app.begin(site.entry.id).await?;
            let ttl = chrono::Duration::days(crate::features::account::INVITATION_DAYS);
            let out = match prov::create(&tx, site, &base, token, ttl, &doc).await {
                Ok(o) => o,
                Err(e) => {
                    tx.rollback().await?;
                    return Err(e);
                }
            };
            finish(state, site, tx, out, StatusCode::CREATED).await
        }
        ["Users", id] if get => {
            let tx = state.dbs.app.begin_read(site.entry.id).await?;
            let doc = prov::get(&tx, &base, id).await;
            tx.commit().await?;
            let attrs = list_param(param(req, "attributes").map(Value::String).as_ref());
            let excluded = list_param(param(req, "excludedAttributes").map(Value::String).as_ref());
            Ok(reply(StatusCode::OK, &prov::project(doc?, &attrs, &excluded)))
        }
        ["Users", id] if req.method() == Method::PUT || req.method() == Method::PATCH => {
            let doc = json_body(req, body).await?;
            let tx = state.dbs.app.begin(site.entry.id).await?;
            let done = if req.method() == Method::PUT {
                prov::replace(&tx, site, &base, token, id, &doc).await
            } else {
                prov::modify(&tx, site, &base, token, id, &doc).await
            };
            match done {
                Ok(out) => finish(state, site, tx, out, StatusCode::OK).await,
                Err(e) => {
                    tx.rollback().await?;
                    Err(e)
                }
            }
        }
        ["Users", id] if req.method() == Method::DELETE => {
            let tx = state.dbs.app.begin(site.entry.id).await?;
            match prov::delete(&tx, site, token, id).await {
                Ok(changed) => {
                    tx.commit().await?;
                    crate::usecases::compliance::apply_rules::changed(state, site, changed);
                    Ok(Response::builder().status(StatusCode::NO_CONTENT).finish())
                }
                Err(e) => {
                    tx.rollback().await?;
                    Err(e)
                }
            }
        }
        ["Users", ..] => Err(not_allowed()),
        _ => Err(ScimError::status(404, None, "There is no such SCIM endpoint here.")),
    }
}

#[allow(clippy::too_many_arguments)] // the query's parts
async fn list(
    state: &AppState,
    site: &Site,
    base: &str,
    filter: Option<&str>,
    start: u64,
    count: u64,
    attrs: &[String],
    excluded: &[String],
) -> Result<Response, ScimError> {
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let got = prov::list(&tx, base, filter, start, count).await;
    tx.commit().await?;
    let (rows, total) = got?;
    let rows: Vec<Value> = rows.into_iter().map(|r| prov::project(r, attrs, excluded)).collect();
    Ok(reply(StatusCode::OK, &schema::list(rows, total, start.max(1))))
}

/// Commits a change: the invitation it makes is emailed (through the outbox, in the same
/// transaction), then the platform's audit and the trust's totals are told.
async fn finish(
    state: &AppState,
    site: &Site,
    tx: trellis_db::TenantTx,
    out: Outcome,
    status: StatusCode,
) -> Result<Response, ScimError> {
    if let Some((email, raw)) = &out.invitation {
        let mail = crate::features::account::invitation_email(state, site, email, raw)?;
        outbox::enqueue_email(&tx, &mail).await?;
    }
    tx.commit().await?;
    if out.platform_admin_skipped {
        // Never added, and never said to the trust: only the platform's own audit knows.
        state
            .dbs
            .platform
            .record_platform_audit("scim", "scim.platform_admin_skipped", Some(site.entry.id), "1 user".into())
            .await?;
    }
    crate::usecases::compliance::apply_rules::changed(state, site, out.rules_changed);
    let mut resp = reply(status, &out.resource);
    if status == StatusCode::CREATED
        && let Some(loc) = out.resource.pointer("/meta/location").and_then(Value::as_str)
        && let Ok(v) = poem::http::HeaderValue::from_str(loc)
    {
        resp.headers_mut().insert("location", v);
    }
    Ok(resp)
}
