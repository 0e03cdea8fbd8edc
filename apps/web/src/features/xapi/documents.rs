//! The document resources: state (per activity, agent and registration), activity profiles and
//! agent profiles. PUT replaces, POST merges JSON objects, DELETE removes one (or, for state,
//! every one in scope), GET reads one or lists their ids. Concurrency by ETag (the SHA-1 of the
//! content, quoted): `If-Match` must match, `If-None-Match: *` means "only if new", and a PUT
//! over an existing document without either is refused (409), as is a PUT creating a profile
//! without one (400), so no client overwrites what it has not seen. The 409 rule follows the
//! request's version: xAPI 1.0.3 applies it to profiles only (a State PUT without a
//! precondition replaces the document, as cmi5 libraries expect), 2.0.0 to State as well.

use super::{Call, Who, agent_param, http_date, iri_param, server_error};
use poem::Response;
use poem::http::{Method, StatusCode};
use serde_json::Value;
use sha1::{Digest, Sha1};
use trellis_db::xapi::{self as store, Api, DocScope, Document};
use uuid::Uuid;

/// The largest document kept.
const MAX_DOCUMENT: usize = 16 << 20;

fn etag_of(body: &[u8]) -> String {
    format!("\"{}\"", hex::encode(Sha1::digest(body)))
}

/// The document's scope and id from the parameters, as the resource defines them.
struct Target {
    scope: DocScope,
    /// `stateId` / `profileId`, if given.
    doc_id: Option<String>,
    agent: Option<Value>,
    activity: Option<String>,
    registration: Option<String>,
}

fn target(call: &Call<'_>, api: Api) -> Result<Target, Response> {
    let reading_list = matches!(call.method, Method::GET | Method::HEAD);
    let (allowed, id_name): (&[&str], &str) = match api {
        Api::State => (&["activityId", "agent", "registration", "stateId", "since"], "stateId"),
        Api::ActivityProfile => (&["activityId", "profileId", "since"], "profileId"),
        Api::AgentProfile => (&["agent", "profileId", "since"], "profileId"),
    };
    call.only(allowed)?;
    let doc_id = call.param(id_name)?.map(str::to_owned);
    if call.param("since")?.is_some() && (doc_id.is_some() || !reading_list) {
        return Err(call.fail(StatusCode::BAD_REQUEST, "since is for listing documents (GET without an id)."));
    }
    let needs_id = match api {
        Api::State => matches!(call.method, Method::PUT | Method::POST),
        _ => !reading_list,
    };
    if needs_id && doc_id.is_none() {
        return Err(call.fail(StatusCode::BAD_REQUEST, &format!("{id_name} is required.")));
    }
    let activity =
        if api == Api::AgentProfile { None } else { iri_param(call, "activityId", true)?.map(str::to_owned) };
    let agent = if api == Api::ActivityProfile { None } else { Some(agent_param(call, "agent")?) };
    let registration = match call.param("registration")? {
        Some(r) => Some(
            Uuid::parse_str(r)
                .map_err(|_| call.fail(StatusCode::BAD_REQUEST, "registration must be a UUID."))?
                .hyphenated()
                .to_string(),
        ),
        None => None,
    };
    let scope = DocScope {
        activity_id: activity.clone().unwrap_or_default(),
        agent_key: agent.as_ref().and_then(trellis_elearning::lrs::agent_hash).unwrap_or_default(),
        registration: registration.clone().unwrap_or_default(),
    };
    Ok(Target { scope, doc_id, agent, activity, registration })
}

pub async fn handle(call: &Call<'_>, api: Api) -> Response {
    let t = match target(call, api) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if let Who::Au(claims) = &call.who
        && let Err(r) = super::cmi5::document_allowed(
            call,
            claims,
            api,
            &t.agent,
            t.activity.as_deref(),
            t.registration.as_deref(),
            t.doc_id.as_deref(),
        )
        .await
    {
        return r;
    }
    let result = match call.method {
        Method::GET | Method::HEAD => get(call, api, &t).await,
        Method::PUT => write(call, api, &t, false).await,
        Method::POST => write(call, api, &t, true).await,
        Method::DELETE => delete(call, api, &t).await,
        _ => Ok(call.fail(StatusCode::METHOD_NOT_ALLOWED, "Documents are read, PUT, POSTed or deleted.")),
    };
    result.unwrap_or_else(|e| server_error(call, e))
}

async fn get(call: &Call<'_>, api: Api, t: &Target) -> anyhow::Result<Response> {
    let tx = call.state.dbs.app.begin_read(call.site.entry.id).await?;
    let Some(id) = &t.doc_id else {
        let since = match call.param("since").ok().flatten() {
            Some(s) => match chrono::DateTime::parse_from_rfc3339(s) {
                Ok(d) => Some(d.with_timezone(&chrono::Utc)),
                Err(_) => return Ok(call.fail(StatusCode::BAD_REQUEST, "since must be an ISO 8601 timestamp.")),
            },
            None => None,
        };
        let ids = store::document_ids(&tx, api, &t.scope, since).await?;
        tx.commit().await?;
        return Ok(call.reply(StatusCode::OK).content_type("application/json").body(serde_json::to_string(&ids)?));
    };
    let doc = store::document(&tx, api, &t.scope, id).await?;
    tx.commit().await?;
    let Some(d) = doc else { return Ok(call.fail(StatusCode::NOT_FOUND, "There is no such document.")) };
    if let Who::Au(claims) = &call.who {
        super::cmi5::document_read(call, claims, api, id).await?;
    }
    Ok(call
        .reply(StatusCode::OK)
        .content_type(if d.content_type.is_empty() { "application/octet-stream".to_owned() } else { d.content_type })
        .header("etag", d.etag)
        .header("last-modified", http_date(d.updated))
        .body(d.body))
}

/// The precondition's verdict on changing `existing` (`None`: go ahead).
fn precondition(call: &Call<'_>, api: Api, existing: Option<&Document>, put: bool) -> Option<Response> {
    let matches = |header: &str, etag: &str| {
        header.split(',').map(str::trim).any(|h| h == "*" || h == etag || h.strip_prefix("W/") == Some(etag))
    };
    if let Some(m) = &call.if_match {
        return match existing {
            Some(d) if matches(m, &d.etag) => None,
            _ => Some(call.fail(StatusCode::PRECONDITION_FAILED, "If-Match does not match the document's ETag.")),
        };
    }
    if let Some(n) = &call.if_none_match {
        return match existing {
            Some(d) if matches(n, &d.etag) => {
                Some(call.fail(StatusCode::PRECONDITION_FAILED, "The document exists (If-None-Match)."))
            }
            _ => None,
        };
    }
    if !put {
        return None;
    }
    match (existing, api) {
        // xAPI 1.0.3 applies the rule to the Activity and Agent Profile resources only: a State
        // PUT without a precondition replaces the document. 2.0.0 applies it to State too.
        (Some(_), Api::State) if call.version == "1.0.3" => None,
        (Some(_), _) => Some(call.fail(
            StatusCode::CONFLICT,
            "The document exists: send If-Match with its ETag (or If-None-Match: * to create only) to replace it.",
        )),
        (None, Api::State) => None,
        (None, _) => Some(call.fail(
            StatusCode::BAD_REQUEST,
            "Send If-None-Match: * (or If-Match) to create a profile, so a concurrent write is not lost.",
        )),
    }
}

fn is_json(content_type: &str) -> bool {
    content_type.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

async fn write(call: &Call<'_>, api: Api, t: &Target, merge: bool) -> anyhow::Result<Response> {
    let id = t.doc_id.clone().unwrap_or_default();
    if call.body.len() > MAX_DOCUMENT {
        return Ok(call.fail(StatusCode::PAYLOAD_TOO_LARGE, "A document may be at most 16 MB."));
    }
    let tx = call.state.dbs.app.begin(call.site.entry.id).await?;
    let existing = store::document(&tx, api, &t.scope, &id).await?;
    if let Some(r) = precondition(call, api, existing.as_ref(), !merge) {
        tx.rollback().await?;
        return Ok(r);
    }
    let mut content_type =
        if call.content_type.is_empty() { "application/octet-stream".to_owned() } else { call.content_type.clone() };
    let mut body = call.body.to_vec();
    if merge {
        let new: Option<serde_json::Map<String, Value>> = if is_json(&content_type) {
            serde_json::from_slice::<Value>(&body).ok().and_then(|v| v.as_object().cloned())
        } else {
            None
        };
        let Some(new) = new else {
            tx.rollback().await?;
            return Ok(call.fail(StatusCode::BAD_REQUEST, "POST merges JSON objects: send an application/json object."));
        };
        if let Some(old) = &existing {
            let old_obj = if is_json(&old.content_type) {
                serde_json::from_slice::<Value>(&old.body).ok().and_then(|v| v.as_object().cloned())
            } else {
                None
            };
            let Some(mut merged) = old_obj else {
                tx.rollback().await?;
                return Ok(call
                    .fail(StatusCode::BAD_REQUEST, "The document is not a JSON object, so it cannot be merged into."));
            };
            for (k, v) in new {
                merged.insert(k, v);
            }
            body = serde_json::to_vec(&Value::Object(merged))?;
        } else {
            body = serde_json::to_vec(&Value::Object(new))?;
        }
        content_type = "application/json".into();
    } else if is_json(&content_type) && serde_json::from_slice::<Value>(&body).is_err() {
        tx.rollback().await?;
        return Ok(call.fail(StatusCode::BAD_REQUEST, "The document says it is JSON but does not parse."));
    }
    let etag = etag_of(&body);
    store::put_document(&tx, api, &t.scope, &id, &content_type, &body, &etag).await?;
    tx.commit().await?;
    Ok(call.reply(StatusCode::NO_CONTENT).header("etag", etag).finish())
}

async fn delete(call: &Call<'_>, api: Api, t: &Target) -> anyhow::Result<Response> {
    let tx = call.state.dbs.app.begin(call.site.entry.id).await?;
    if let Some(id) = &t.doc_id {
        let existing = store::document(&tx, api, &t.scope, id).await?;
        if let Some(r) = precondition(call, api, existing.as_ref(), false) {
            tx.rollback().await?;
            return Ok(r);
        }
    }
    store::delete_documents(&tx, api, &t.scope, t.doc_id.as_deref()).await?;
    tx.commit().await?;
    Ok(call.reply(StatusCode::NO_CONTENT).finish())
}
