//! The statements resource: store (PUT one, POST one or a batch, with attachments), void, and get
//! (one by id, or a query with the filters, formats and `more` paging xAPI defines).
//!
//! A batch is all or nothing: any statement refused refuses the request and stores none. A
//! statement whose id is already stored is left alone (stored again unchanged if it is the same
//! statement, 409 Conflict if it is not).

use super::shape::new_row;
use super::{Call, Who, lrs_time, multipart, server_error};
use base64::Engine as _;
use poem::Response;
use poem::http::{HeaderValue, Method, StatusCode};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use trellis_db::xapi as store;
use trellis_elearning::lrs::{self, Format};
use uuid::Uuid;

/// The most statements one page of a query returns.
pub const MAX_PAGE: u64 = 500;

pub async fn handle(call: &Call<'_>) -> Response {
    match call.method {
        Method::PUT => put(call).await.unwrap_or_else(|r| r),
        Method::POST => post(call).await.unwrap_or_else(|r| r),
        Method::GET | Method::HEAD => {
            let mut resp = get(call).await.unwrap_or_else(|r| r);
            // Every answer to a query says how far the LRS is consistent (errors too).
            if let Ok(v) = HeaderValue::from_str(&lrs_time(chrono::Utc::now())) {
                resp.headers_mut().insert("x-experience-api-consistent-through", v);
            }
            resp
        }
        _ => call.fail(StatusCode::METHOD_NOT_ALLOWED, "Statements are PUT, POSTed or read (GET, HEAD)."),
    }
}

fn bad(call: &Call<'_>, detail: &str) -> Response {
    call.fail(StatusCode::BAD_REQUEST, detail)
}

/// Statements and attachment parts from the body (JSON, or multipart/mixed).
async fn incoming(call: &Call<'_>) -> Result<(Vec<Value>, HashMap<String, multipart::Part>, bool), Response> {
    let ct = call.content_type.to_ascii_lowercase();
    let (json, parts) = if ct.starts_with("multipart/mixed") {
        let b = multipart::boundary(&call.content_type)
            .ok_or_else(|| bad(call, "A multipart/mixed body needs a boundary parameter."))?;
        let m = multipart::read(call.body.clone(), &b).await.map_err(|e| bad(call, &format!("The body: {e}.")))?;
        (m.json, m.parts)
    } else if ct.starts_with("application/json") || ct.is_empty() {
        (call.body.clone(), HashMap::new())
    } else {
        return Err(bad(call, "Statements are sent as application/json or multipart/mixed."));
    };
    let v: Value =
        serde_json::from_slice(&json).map_err(|e| bad(call, &format!("The statements are not JSON: {e}.")))?;
    let (list, array) = match v {
        Value::Array(a) => (a, true),
        o @ Value::Object(_) => (vec![o], false),
        _ => return Err(bad(call, "Send a statement (an object) or a list of them.")),
    };
    Ok((list, parts, array))
}

/// Checks the statements and their attachments; returns them normalised.
fn check(call: &Call<'_>, list: Vec<Value>, parts: &HashMap<String, multipart::Part>) -> Result<Vec<Value>, Response> {
    let mut out = Vec::with_capacity(list.len());
    let mut referenced = HashSet::new();
    for (i, mut s) in list.into_iter().enumerate() {
        lrs::normalise(&mut s);
        trellis_elearning::xapi::check_statement(&s).map_err(|e| bad(call, &format!("Statement {}: {e}.", i + 1)))?;
        for a in s.get("attachments").and_then(Value::as_array).into_iter().flatten() {
            let sha = a.get("sha2").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
            let part = parts.get(&sha);
            if part.is_some() {
                referenced.insert(sha.clone());
            }
            let signature = a.get("usageType").and_then(Value::as_str) == Some(lrs::SIGNATURE);
            if part.is_none() && (a.get("fileUrl").is_none() || signature) {
                return Err(bad(call, &format!("Statement {}: attachment {sha} has no fileUrl and no part.", i + 1)));
            }
            if signature {
                if a.get("contentType").and_then(Value::as_str) != Some("application/octet-stream") {
                    return Err(bad(call, "A signature attachment's contentType is application/octet-stream."));
                }
                if let Some(p) = part {
                    lrs::check_signature(&s, &p.bytes)
                        .map_err(|e| bad(call, &format!("Statement {}: {}.", i + 1, e.0)))?;
                }
            }
        }
        out.push(s);
    }
    if let Some(extra) = parts.keys().find(|k| !referenced.contains(*k)) {
        return Err(bad(call, &format!("The part with hash {extra} is not an attachment of any statement.")));
    }
    Ok(out)
}

/// Fills in what the LRS sets (id, stored, timestamp, authority, version) and stores the batch.
/// Returns the statements' ids in order.
async fn save(
    call: &Call<'_>,
    list: Vec<Value>,
    parts: &HashMap<String, multipart::Part>,
) -> Result<Vec<Uuid>, Response> {
    if let Who::Au(claims) = &call.who {
        super::cmi5::check(call, claims, &list).await?;
    }
    let now = chrono::Utc::now();
    let stored = lrs_time(now);
    let authority = call.authority();
    let mut seen = HashSet::new();
    let mut ready = Vec::with_capacity(list.len());
    // Only ids a client chose can already be stored (the LRS's own are new UUIDs).
    let mut given = Vec::new();
    for mut s in list {
        let id = match s.get("id").and_then(Value::as_str) {
            Some(id) => {
                let id = Uuid::parse_str(id).map_err(|_| bad(call, "A statement id must be a UUID."))?;
                given.push(id);
                id
            }
            None => Uuid::new_v4(),
        };
        if !seen.insert(id) {
            return Err(bad(call, &format!("The batch has statement {id} twice.")));
        }
        let m = s.as_object_mut().ok_or_else(|| bad(call, "A statement is an object."))?;
        m.insert("id".into(), json!(id.to_string()));
        m.insert("stored".into(), json!(stored));
        if !m.contains_key("timestamp") {
            m.insert("timestamp".into(), json!(stored));
        }
        m.insert("authority".into(), authority.clone());
        if !m.contains_key("version") {
            m.insert("version".into(), json!(if call.is_v2() { "2.0.0" } else { "1.0.0" }));
        }
        ready.push((id, s));
    }
    let ids: Vec<Uuid> = ready.iter().map(|(id, _)| *id).collect();
    let result = async {
        let tx = call.state.dbs.app.begin(call.site.entry.id).await?;
        let existing = store::existing(&tx, &given).await?;
        let mut rows = Vec::with_capacity(ready.len());
        let mut conflict = None;
        for (id, s) in &ready {
            if let Some(body) = existing.get(id) {
                let same = serde_json::from_str::<Value>(body).is_ok_and(|old| lrs::same_statement(&old, s));
                if !same {
                    conflict = Some(*id);
                }
                continue;
            }
            rows.push(new_row(*id, s, now));
        }
        if let Some(id) = conflict {
            tx.rollback().await?;
            return Ok(Err(id));
        }
        merge_activities(&tx, ready.iter().map(|(_, s)| s)).await?;
        store::insert(&tx, &rows).await?;
        let keep: Vec<(String, String, Vec<u8>)> =
            parts.iter().map(|(sha, p)| (sha.clone(), p.content_type.clone(), p.bytes.clone())).collect();
        store::put_attachments(&tx, &keep).await?;
        if let Who::Au(claims) = &call.who {
            super::cmi5::after_store(call, &tx, claims, &ready).await?;
        }
        tx.commit().await?;
        Ok::<_, anyhow::Error>(Ok(()))
    }
    .await;
    match result {
        Ok(Ok(())) => Ok(ids),
        Ok(Err(id)) => Err(call.fail(
            StatusCode::CONFLICT,
            &format!("Statement {id} is already stored, and differs from this one: statements cannot be changed."),
        )),
        Err(e) => Err(server_error(call, e)),
    }
}

/// Keeps the activity definitions the statements carry, merged with what is known.
async fn merge_activities<'a>(
    tx: &trellis_db::TenantTx,
    list: impl Iterator<Item = &'a Value>,
) -> Result<(), trellis_db::DbError> {
    let mut found: Vec<(String, Value)> = Vec::new();
    let mut add = |o: &Value| {
        let is_activity = o.get("objectType").and_then(Value::as_str).is_none_or(|t| t == "Activity");
        if is_activity && let (Some(id), Some(def)) = (o.get("id").and_then(Value::as_str), o.get("definition")) {
            found.push((id.to_owned(), def.clone()));
        }
    };
    for s in list {
        let objects = [s.get("object"), s.pointer("/object/object")];
        for o in objects.into_iter().flatten() {
            add(o);
        }
        for c in [s.get("context"), s.pointer("/object/context")].into_iter().flatten() {
            for v in c.get("contextActivities").and_then(Value::as_object).into_iter().flat_map(|m| m.values()) {
                for a in v.as_array().into_iter().flatten() {
                    add(a);
                }
            }
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = found.iter().map(|(id, _)| lrs::activity_key(id)).collect();
    let kept = store::activities(tx, &keys).await?;
    let mut merged: HashMap<String, (String, Value, bool)> = HashMap::new();
    for ((id, def), key) in found.into_iter().zip(keys) {
        let entry = merged.entry(key.clone()).or_insert_with(|| {
            let known = kept.get(&key).and_then(|(_, d)| serde_json::from_str::<Value>(d).ok());
            (id.clone(), known.unwrap_or_else(|| json!({})), false)
        });
        if lrs::merge_definition(&mut entry.1, &def) {
            entry.2 = true;
        }
    }
    for (key, (id, def, changed)) in merged {
        if changed {
            store::save_activity(tx, &key, &id, &def.to_string()).await?;
        }
    }
    Ok(())
}

async fn put(call: &Call<'_>) -> Result<Response, Response> {
    call.only(&["statementId"])?;
    let id = call.param("statementId")?.ok_or_else(|| bad(call, "PUT needs the statementId parameter."))?;
    let id = Uuid::parse_str(id).map_err(|_| bad(call, "statementId must be a UUID."))?;
    let (mut list, parts, array) = incoming(call).await?;
    if array || list.len() != 1 {
        return Err(bad(call, "PUT stores one statement (an object)."));
    }
    let s = &mut list[0];
    match s.get("id").and_then(Value::as_str) {
        Some(given) if Uuid::parse_str(given).ok() != Some(id) => {
            return Err(bad(call, "The statement's id differs from the statementId parameter."));
        }
        _ => {
            if let Some(m) = s.as_object_mut() {
                m.insert("id".into(), json!(id.to_string()));
            }
        }
    }
    let list = check(call, list, &parts)?;
    save(call, list, &parts).await?;
    Ok(call.reply(StatusCode::NO_CONTENT).finish())
}

async fn post(call: &Call<'_>) -> Result<Response, Response> {
    call.only(&[])?;
    let (list, parts, _) = incoming(call).await?;
    if list.is_empty() {
        return Err(bad(call, "The batch is empty."));
    }
    let list = check(call, list, &parts)?;
    let ids = save(call, list, &parts).await?;
    let body = Value::Array(ids.iter().map(|i| json!(i.to_string())).collect());
    Ok(call.reply(StatusCode::OK).content_type("application/json").body(body.to_string()))
}

const QUERY_PARAMS: &[&str] = &[
    "statementId",
    "voidedStatementId",
    "agent",
    "verb",
    "activity",
    "registration",
    "related_activities",
    "related_agents",
    "since",
    "until",
    "limit",
    "format",
    "attachments",
    "ascending",
    "more",
];

fn boolean(call: &Call<'_>, name: &str) -> Result<bool, Response> {
    match call.param(name)? {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(bad(call, &format!("{name} is true or false."))),
    }
}

fn time(call: &Call<'_>, name: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, Response> {
    call.param(name)?
        .map(|t| {
            chrono::DateTime::parse_from_rfc3339(t)
                .map(|d| d.with_timezone(&chrono::Utc))
                .map_err(|_| bad(call, &format!("{name} must be an ISO 8601 timestamp.")))
        })
        .transpose()
}

/// Where a `more` link continues from: the query's parameters and the cursor.
#[derive(serde::Serialize, serde::Deserialize)]
struct More {
    p: Vec<(String, String)>,
    after: i64,
    max: i64,
}

async fn get(call: &Call<'_>) -> Result<Response, Response> {
    call.only(QUERY_PARAMS)?;
    // A `more` link stands alone: it carries the query it continues.
    if let Some(token) = call.param("more")? {
        if call.params.len() != 1 {
            return Err(bad(call, "more is used alone."));
        }
        let more: More = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| bad(call, "more is not a link this LRS gave."))?;
        let inner = Call {
            state: call.state,
            site: call.site,
            method: call.method.clone(),
            version: call.version,
            params: more.p,
            content_type: String::new(),
            if_match: None,
            if_none_match: None,
            accept_language: call.accept_language.clone(),
            body: bytes::Bytes::new(),
            who: call.who.clone(),
        };
        return Box::pin(query(&inner, Some((more.after, more.max)))).await;
    }
    let single = call.param("statementId")?.map(|s| (s, false));
    let voided = call.param("voidedStatementId")?.map(|s| (s, true));
    if let Some((id, want_voided)) = single.or(voided) {
        if call
            .params
            .iter()
            .any(|(k, _)| !matches!(k.as_str(), "statementId" | "voidedStatementId" | "format" | "attachments"))
            || (single.is_some() && voided.is_some())
        {
            return Err(bad(call, "statementId and voidedStatementId go only with format and attachments."));
        }
        let id = Uuid::parse_str(id).map_err(|_| bad(call, "The statement id must be a UUID."))?;
        return one(call, id, want_voided).await;
    }
    query(call, None).await
}

fn format_of(call: &Call<'_>) -> Result<Format, Response> {
    match call.param("format")? {
        None => Ok(Format::Exact),
        Some(f) => Format::parse(f).ok_or_else(|| bad(call, "format is exact, ids or canonical.")),
    }
}

/// What a cmi5 AU may read: its own registration's statements about its own learner.
async fn visible_to(call: &Call<'_>, body: &Value) -> Result<bool, Response> {
    match &call.who {
        Who::Client(_) => Ok(true),
        Who::Au(c) => super::cmi5::may_read(call, c, body).await,
    }
}

async fn one(call: &Call<'_>, id: Uuid, want_voided: bool) -> Result<Response, Response> {
    let format = format_of(call)?;
    let with_attachments = boolean(call, "attachments")?;
    let found = async {
        let tx = call.state.dbs.app.begin_read(call.site.entry.id).await?;
        let s = store::statement(&tx, id).await?;
        tx.commit().await?;
        Ok::<_, trellis_db::DbError>(s)
    }
    .await
    .map_err(|e| server_error(call, e))?;
    let Some(s) = found.filter(|s| s.voided == want_voided) else {
        return Err(call.fail(StatusCode::NOT_FOUND, "There is no such statement."));
    };
    let body: Value = serde_json::from_str(&s.body).map_err(|e| server_error(call, e))?;
    if !visible_to(call, &body).await? {
        return Err(call.fail(StatusCode::NOT_FOUND, "There is no such statement."));
    }
    let languages = lrs::accept_languages(&call.accept_language);
    let out = lrs::render(&body, format, &languages);
    let resp = respond(call, &out.to_string(), std::slice::from_ref(&body), with_attachments).await?;
    let mut resp = resp;
    resp.headers_mut().insert("last-modified", super::http_date(s.stored));
    Ok(resp)
}

/// The JSON (and, with `attachments=true`, the attachments) as the response.
async fn respond(
    call: &Call<'_>,
    json: &str,
    statements: &[Value],
    with_attachments: bool,
) -> Result<Response, Response> {
    if !with_attachments {
        return Ok(call.reply(StatusCode::OK).content_type("application/json").body(json.to_owned()));
    }
    let shas: Vec<String> = statements
        .iter()
        .flat_map(|s| s.get("attachments").and_then(Value::as_array).into_iter().flatten())
        .filter_map(|a| a.get("sha2").and_then(Value::as_str).map(str::to_ascii_lowercase))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let found = async {
        let tx = call.state.dbs.app.begin_read(call.site.entry.id).await?;
        let a = store::attachments(&tx, &shas).await?;
        tx.commit().await?;
        Ok::<_, trellis_db::DbError>(a)
    }
    .await
    .map_err(|e| server_error(call, e))?;
    let (ct, body) = multipart::write(json, &found);
    Ok(call.reply(StatusCode::OK).content_type(ct).body(body))
}

async fn query(call: &Call<'_>, cursor: Option<(i64, i64)>) -> Result<Response, Response> {
    let format = format_of(call)?;
    let with_attachments = boolean(call, "attachments")?;
    let mut q = store::Query {
        agent: match call.param("agent")? {
            Some(_) => Some(lrs::agent_hash(&super::agent_param(call, "agent")?).unwrap_or_default()),
            None => None,
        },
        verb: super::iri_param(call, "verb", false)?.map(lrs::verb_key),
        activity: super::iri_param(call, "activity", false)?.map(lrs::activity_key),
        registration: call
            .param("registration")?
            .map(|r| Uuid::parse_str(r).map_err(|_| bad(call, "registration must be a UUID.")))
            .transpose()?,
        related_activities: boolean(call, "related_activities")?,
        related_agents: boolean(call, "related_agents")?,
        since: time(call, "since")?,
        until: time(call, "until")?,
        ascending: boolean(call, "ascending")?,
        after_seq: cursor.map(|c| c.0),
        max_seq: cursor.map(|c| c.1),
        limit: match call.param("limit")? {
            None => MAX_PAGE,
            Some(l) => match l.parse::<u64>() {
                Ok(0) => MAX_PAGE,
                Ok(n) => n.min(MAX_PAGE),
                Err(_) => return Err(bad(call, "limit is a whole number.")),
            },
        },
    };
    if let Who::Au(c) = &call.who {
        super::cmi5::restrict(call, c, &mut q).await?;
    }
    let found = async {
        let tx = call.state.dbs.app.begin_read(call.site.entry.id).await?;
        let max = match q.max_seq {
            Some(m) => m,
            None => store::latest_seq(&tx).await?,
        };
        q.max_seq = Some(max);
        let rows = store::query(&tx, &q).await?;
        tx.commit().await?;
        Ok::<_, trellis_db::DbError>((rows, max))
    }
    .await
    .map_err(|e| server_error(call, e))?;
    let (mut rows, max) = found;
    let more = if rows.len() as u64 > q.limit {
        rows.truncate(usize::try_from(q.limit).unwrap_or(usize::MAX));
        let last = rows.last().map_or(0, |r| r.seq);
        let p: Vec<(String, String)> = call.params.iter().filter(|(k, _)| k != "more").cloned().collect();
        let token = serde_json::to_vec(&More { p, after: last, max }).unwrap_or_default();
        format!("/xapi/statements?more={}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token))
    } else {
        String::new()
    };
    let languages = lrs::accept_languages(&call.accept_language);
    let bodies: Vec<Value> = rows.iter().filter_map(|r| serde_json::from_str(&r.body).ok()).collect();
    let rendered: Vec<Value> = bodies.iter().map(|b| lrs::render(b, format, &languages)).collect();
    let json = json!({ "statements": rendered, "more": more }).to_string();
    respond(call, &json, &bodies, with_attachments).await
}
