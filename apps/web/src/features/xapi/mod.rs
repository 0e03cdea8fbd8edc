//! The trust's xAPI learning record store, at `/xapi` on its host (xAPI 2.0.0 and 1.0.3).
//!
//! One entry point reads what every resource needs the same way: the version asked for (echoed in
//! every response), the 1.0.3 alternate request syntax (`POST …?method=PUT` with the headers and
//! content in a form; refused in 2.0), who is asking (HTTP Basic with a credential the trust's
//! administrators issued, or a cmi5 AU's session token), the query's parameters (unknown ones are
//! refused) and CORS, so content on the content origin can reach it. Then the resource's module
//! takes over: [`statements`], [`documents`] (state, activity and agent profiles), and the
//! activities, agents and about resources here. Errors are RFC 9457 problem documents.
//!
//! Everything is scoped to the trust of the Host: a credential or token of another trust is
//! refused, and every query names this trust.

// Resources return early with the response to send (`Err(response)`); boxing it would only add
// noise on a path that ends the request anyway.
#![allow(clippy::result_large_err)]

pub mod admin;
pub mod cmi5;
mod documents;
mod multipart;
pub mod shape;
mod statements;

use crate::context::AppState;
use crate::context::directory::Site;
use crate::context::launch_token::{Claims, Purpose};
use crate::http::Ctx;
use base64::Engine as _;
use bytes::Bytes;
use poem::http::{HeaderValue, Method, StatusCode};
use poem::{Body, Response, handler};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use trellis_db::audit;

pub use shape::lrs_time;

use trellis_db::xapi::Credential;
use trellis_domain::TenantId;

/// Versions this LRS speaks, newest first (as `/about` lists them).
pub const VERSIONS: [&str; 2] = ["2.0.0", "1.0.3"];

/// The most a request body may be (statements with attachments).
pub const MAX_BODY: usize = 64 << 20;

/// Who is asking.
#[derive(Debug, Clone)]
pub enum Who {
    /// A client with a credential the trust issued.
    Client(Arc<Credential>),
    /// A cmi5 AU in one session, with the token its fetch URL gave it.
    Au(Claims),
}

impl Who {
    fn may_read(&self) -> bool {
        match self {
            Who::Client(c) => c.scope != "write",
            Who::Au(_) => true,
        }
    }
    fn may_write(&self) -> bool {
        match self {
            Who::Client(c) => c.scope != "read",
            Who::Au(_) => true,
        }
    }
}

/// A request as the resources see it (the alternate syntax already unwrapped).
pub struct Call<'a> {
    pub state: &'a AppState,
    pub site: &'a Site,
    pub method: Method,
    /// `2.0.0` or `1.0.3`: the version asked for, echoed in the response.
    pub version: &'static str,
    pub params: Vec<(String, String)>,
    pub content_type: String,
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    pub accept_language: String,
    pub body: Bytes,
    pub who: Who,
}

impl Call<'_> {
    /// The one value of a parameter (`Err` if given twice).
    pub fn param(&self, name: &str) -> Result<Option<&str>, Response> {
        let mut it = self.params.iter().filter(|(k, _)| k == name);
        let first = it.next().map(|(_, v)| v.as_str());
        if it.next().is_some() {
            return Err(self.fail(StatusCode::BAD_REQUEST, &format!("The parameter {name} is given more than once.")));
        }
        Ok(first)
    }

    /// Refuses parameters other than `allowed` (names are case-sensitive in xAPI).
    pub fn only(&self, allowed: &[&str]) -> Result<(), Response> {
        match self.params.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            Some((k, _)) => {
                Err(self.fail(StatusCode::BAD_REQUEST, &format!("{k} is not a parameter of this resource.")))
            }
            None => Ok(()),
        }
    }

    pub fn is_v2(&self) -> bool {
        self.version.starts_with('2')
    }

    /// An RFC 9457 problem document, with the xAPI headers.
    pub fn fail(&self, status: StatusCode, detail: &str) -> Response {
        problem(self.version, status, detail)
    }

    /// A response with the xAPI headers.
    pub fn reply(&self, status: StatusCode) -> poem::ResponseBuilder {
        with_headers(Response::builder().status(status), self.version)
    }

    /// The agent who is the LRS's authority for statements stored by this caller.
    pub fn authority(&self) -> Value {
        let home = self.site.url.trim_end_matches('/').to_owned();
        match &self.who {
            Who::Client(c) => json!({
                "objectType": "Agent",
                "name": c.name,
                "account": { "homePage": format!("{home}/xapi"), "name": c.key },
            }),
            Who::Au(_) => json!({
                "objectType": "Agent",
                "name": self.site.entry.name,
                "account": { "homePage": format!("{home}/xapi"), "name": "lms" },
            }),
        }
    }
}

fn with_headers(b: poem::ResponseBuilder, version: &str) -> poem::ResponseBuilder {
    b.header("x-experience-api-version", version)
        .header("access-control-allow-origin", "*")
        .header(
            "access-control-expose-headers",
            "ETag, Last-Modified, Content-Type, X-Experience-API-Version, X-Experience-API-Consistent-Through",
        )
        .header("cache-control", "no-store")
}

/// A problem document (RFC 9457) with the xAPI headers.
pub fn problem(version: &str, status: StatusCode, detail: &str) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    let mut b = with_headers(Response::builder().status(status), version).content_type("application/problem+json");
    if status == StatusCode::UNAUTHORIZED {
        b = b.header("www-authenticate", "Basic realm=\"xAPI\"");
    }
    b.body(body.to_string())
}

/// The version a request asks for, as echoed: `Some("2.0.0")` for 2.0.x, `Some("1.0.3")` for
/// 1.0.x; `None` for anything else.
fn version_of(v: &str) -> Option<&'static str> {
    let v = v.trim();
    let minor = |prefix: &str| {
        v == prefix || v.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')).is_some_and(|n| n.parse::<u8>().is_ok())
    };
    if minor("2.0") {
        Some("2.0.0")
    } else if minor("1.0") {
        Some("1.0.3")
    } else {
        None
    }
}

fn unauthorized(version: &str) -> Response {
    problem(version, StatusCode::UNAUTHORIZED, "Send the credentials the trust issued for its LRS (HTTP Basic).")
}

/// Who the `Authorization` header says is asking, or the 401 to send.
async fn authenticate(state: &AppState, site: &Site, header: Option<&str>, version: &str) -> Result<Who, Response> {
    let raw = header.unwrap_or_default().trim();
    let Some(token) = raw.get(..6).filter(|p| p.eq_ignore_ascii_case("basic ")).map(|_| raw[6..].trim()) else {
        return Err(unauthorized(version));
    };
    if let Some(claims) = state.launch.verify(token, Purpose::Lrs, chrono::Utc::now().timestamp()) {
        if claims.tenant != site.entry.id {
            return Err(unauthorized(version));
        }
        return Ok(Who::Au(claims));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| unauthorized(version))?;
    let (key, secret) = decoded.split_once(':').ok_or_else(|| unauthorized(version))?;
    let cache_key = (site.entry.id, key.to_owned());
    let found = match state.credentials.cache.get(&cache_key) {
        Some(c) => c,
        None => {
            let tx = state.dbs.app.begin_read(site.entry.id).await.map_err(|_| unauthorized(version))?;
            let c = trellis_db::xapi::credential(&tx, key).await.map_err(|_| unauthorized(version))?.map(Arc::new);
            let _ = tx.commit().await;
            state.credentials.cache.insert(cache_key, c.clone());
            c
        }
    };
    let Some(c) = found.filter(|c| c.revoked_at.is_none()) else { return Err(unauthorized(version)) };
    let hash = hex::encode(Sha256::digest(secret.as_bytes()));
    if !constant_time_eq(hash.as_bytes(), c.secret_sha256.as_bytes()) {
        return Err(unauthorized(version));
    }
    Ok(Who::Client(c))
}

/// Compares two secrets' hashes in time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new credential's key and secret (shown once), and the secret's hash to keep.
pub fn new_credential() -> (String, String, String) {
    let key = hex::encode(rand::random::<[u8; 12]>());
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>());
    let hash = hex::encode(Sha256::digest(secret.as_bytes()));
    (key, secret, hash)
}

/// Issues a credential for a trust's LRS outside the web pages (`trellis lrs-credential`):
/// returns the key and the secret (shown once; only its hash is kept).
pub async fn issue_credential(
    dbs: &trellis_db::Databases,
    tenant: TenantId,
    name: &str,
    scope: &str,
    version: &str,
) -> anyhow::Result<(String, String)> {
    anyhow::ensure!(matches!(scope, "all" | "read" | "write"), "scope must be all, read or write");
    anyhow::ensure!(matches!(version, "2.0.0" | "1.0.3"), "the version must be 2.0.0 or 1.0.3");
    let (key, secret, hash) = new_credential();
    let tx = dbs.app.begin(tenant).await?;
    let c = trellis_db::xapi::NewCredential { name, key: &key, secret_sha256: &hash, scope, version, by: None };
    let id = trellis_db::xapi::create_credential(&tx, &c).await?;
    audit::record(&tx, None, "lrs.credential_issued", &id.to_string(), None, json!({ "name": name, "scope": scope }))
        .await?;
    tx.commit().await?;
    Ok((key, secret))
}

fn cors_preflight() -> Response {
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header("access-control-allow-origin", "*")
        .header("access-control-allow-methods", "GET, HEAD, PUT, POST, DELETE, OPTIONS")
        .header(
            "access-control-allow-headers",
            "Authorization, Content-Type, X-Experience-API-Version, If-Match, If-None-Match, Accept-Language",
        )
        .header("access-control-max-age", "86400")
        .finish()
}

fn query_pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// Every request to `/xapi/…`.
#[handler]
pub async fn entry(Ctx { req, state, site }: Ctx<'_>, body: Body) -> Response {
    // Doubled slashes are a common client mistake (an endpoint ending in "/" joined to
    // "/activities/state"): the resource is the same.
    let path: String = req.uri().path().strip_prefix("/xapi").unwrap_or("").split('/').filter(|s| !s.is_empty()).fold(
        String::new(),
        |mut p, seg| {
            p.push('/');
            p.push_str(seg);
            p
        },
    );
    if req.method() == Method::OPTIONS {
        return cors_preflight();
    }
    let header = |n: &str| req.header(n).map(str::to_owned);
    let mut method = req.method().clone();
    let mut params = query_pairs(req.uri().query().unwrap_or(""));
    let mut version_header = header("x-experience-api-version");
    let mut authorization = header("authorization");
    let mut content_type = header("content-type").unwrap_or_default();
    let mut if_match = header("if-match");
    let mut if_none_match = header("if-none-match");
    let body = match body.into_bytes_limit(MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return problem(
                VERSIONS[0],
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("The request is larger than {} MB.", MAX_BODY >> 20),
            );
        }
    };
    let mut body = body;
    // The 1.0.3 alternate request syntax: the method in the query, everything else in a form.
    if method == Method::POST && params.iter().any(|(k, _)| k == "method") {
        let asked = version_header.as_deref().and_then(version_of);
        let fallback = asked.unwrap_or("1.0.3");
        if params.len() != 1 {
            return problem(
                fallback,
                StatusCode::BAD_REQUEST,
                "With ?method=, every other parameter goes in the form.",
            );
        }
        if !content_type.starts_with("application/x-www-form-urlencoded") {
            return problem(fallback, StatusCode::BAD_REQUEST, "The alternate request syntax sends a form.");
        }
        let m = params[0].1.to_ascii_uppercase();
        method = match m.as_str() {
            "GET" => Method::GET,
            "PUT" => Method::PUT,
            "POST" => Method::POST,
            "DELETE" => Method::DELETE,
            "HEAD" => Method::HEAD,
            _ => return problem(fallback, StatusCode::BAD_REQUEST, "method must be GET, PUT, POST, DELETE or HEAD."),
        };
        params.clear();
        let mut content = None;
        content_type = String::new();
        for (k, v) in query_pairs(&String::from_utf8_lossy(&body)) {
            match k.to_ascii_lowercase().as_str() {
                "authorization" => authorization = Some(v),
                "x-experience-api-version" => version_header = Some(v),
                "content-type" => content_type = v,
                "content-length" => {}
                "if-match" => if_match = Some(v),
                "if-none-match" => if_none_match = Some(v),
                "content" => content = Some(v),
                _ => params.push((k, v)),
            }
        }
        if version_header.as_deref().and_then(version_of) != Some("1.0.3") {
            return problem(
                version_header.as_deref().and_then(version_of).unwrap_or(VERSIONS[0]),
                StatusCode::BAD_REQUEST,
                "The alternate request syntax (?method=) is for xAPI 1.0.x only; 2.0 sends real methods and headers.",
            );
        }
        if matches!(method, Method::PUT | Method::POST) && content.is_none() {
            return problem("1.0.3", StatusCode::BAD_REQUEST, "The form has no content.");
        }
        if content_type.is_empty() && content.is_some() {
            content_type = "application/json".into();
        }
        body = Bytes::from(content.unwrap_or_default().into_bytes());
    }
    let asked = version_header.as_deref().and_then(version_of);
    if path == "/about" {
        return about(asked.unwrap_or(VERSIONS[0]), &method);
    }
    // Who is asking decides the version echoed when none (or a bad one) was asked for.
    let provisional = asked.unwrap_or(VERSIONS[0]);
    let who = match authenticate(state, site, authorization.as_deref(), provisional).await {
        Ok(w) => w,
        Err(resp) => return resp,
    };
    let Some(version) = asked else {
        let echo = match &who {
            Who::Client(c) if c.version == "1.0.3" => "1.0.3",
            Who::Au(_) => "1.0.3",
            _ => "2.0.0",
        };
        let detail = match &version_header {
            None => "Send the X-Experience-API-Version header (2.0.0 or 1.0.3).".to_owned(),
            Some(v) => format!("X-Experience-API-Version {v:?} is not a version this LRS speaks (2.0.0, 1.0.3)."),
        };
        return problem(echo, StatusCode::BAD_REQUEST, &detail);
    };
    if method == Method::POST && params.iter().any(|(k, _)| k == "method") {
        return problem(version, StatusCode::BAD_REQUEST, "method is not a parameter in xAPI 2.0.");
    }
    let call = Call {
        state,
        site,
        method,
        version,
        params,
        content_type,
        if_match,
        if_none_match,
        accept_language: header("accept-language").unwrap_or_default(),
        body,
        who,
    };
    let reading = matches!(call.method, Method::GET | Method::HEAD);
    if (reading && !call.who.may_read()) || (!reading && !call.who.may_write()) {
        return call.fail(StatusCode::FORBIDDEN, "This credential may not do that.");
    }
    let resp = match path.as_str() {
        "/statements" => statements::handle(&call).await,
        "/activities/state" => documents::handle(&call, trellis_db::xapi::Api::State).await,
        "/activities/profile" => documents::handle(&call, trellis_db::xapi::Api::ActivityProfile).await,
        "/agents/profile" => documents::handle(&call, trellis_db::xapi::Api::AgentProfile).await,
        "/activities" => activities(&call).await,
        "/agents" => agents(&call),
        _ => call.fail(StatusCode::NOT_FOUND, "There is no such xAPI resource."),
    };
    if call.method == Method::HEAD { head(resp) } else { resp }
}

/// A HEAD response: the GET's status and headers, no body.
fn head(mut resp: Response) -> Response {
    let _ = resp.take_body();
    resp.headers_mut().remove("content-length");
    resp
}

fn about(version: &str, method: &Method) -> Response {
    let body = json!({ "version": VERSIONS, "extensions": {} }).to_string();
    let resp = with_headers(Response::builder(), version).content_type("application/json").body(body);
    if *method == Method::HEAD { head(resp) } else { resp }
}

/// Reads an agent parameter (JSON with an identifier).
pub fn agent_param(call: &Call<'_>, name: &str) -> Result<Value, Response> {
    let raw = call.param(name)?.ok_or_else(|| call.fail(StatusCode::BAD_REQUEST, &format!("{name} is required.")))?;
    let v: Value = serde_json::from_str(raw)
        .map_err(|_| call.fail(StatusCode::BAD_REQUEST, &format!("{name} must be an agent as JSON.")))?;
    trellis_elearning::xapi::check_agent(&v, name).map_err(|e| call.fail(StatusCode::BAD_REQUEST, &e.to_string()))?;
    if trellis_elearning::lrs::agent_key(&v).is_none() {
        return Err(call.fail(StatusCode::BAD_REQUEST, &format!("{name} must have an identifier (mbox, account…).")));
    }
    Ok(v)
}

/// Reads an IRI parameter.
pub fn iri_param<'c>(call: &'c Call<'_>, name: &str, required: bool) -> Result<Option<&'c str>, Response> {
    match call.param(name)? {
        Some(v) if trellis_elearning::xapi::is_iri(v) => Ok(Some(v)),
        Some(_) => Err(call.fail(StatusCode::BAD_REQUEST, &format!("{name} must be an absolute IRI."))),
        None if required => Err(call.fail(StatusCode::BAD_REQUEST, &format!("{name} is required."))),
        None => Ok(None),
    }
}

/// `GET /activities?activityId=`: the activity as the LRS knows it (its merged definition).
async fn activities(call: &Call<'_>) -> Response {
    if !matches!(call.method, Method::GET | Method::HEAD) {
        return call.fail(StatusCode::METHOD_NOT_ALLOWED, "The activities resource is read-only.");
    }
    if let Err(r) = call.only(&["activityId"]) {
        return r;
    }
    let id = match iri_param(call, "activityId", true) {
        Ok(Some(id)) => id.to_owned(),
        Ok(None) => return call.fail(StatusCode::BAD_REQUEST, "activityId is required."),
        Err(r) => return r,
    };
    let key = trellis_elearning::lrs::activity_key(&id);
    let found = async {
        let tx = call.state.dbs.app.begin_read(call.site.entry.id).await?;
        let defs = trellis_db::xapi::activities(&tx, std::slice::from_ref(&key)).await?;
        tx.commit().await?;
        Ok::<_, trellis_db::DbError>(defs)
    }
    .await;
    let defs = match found {
        Ok(d) => d,
        Err(e) => return server_error(call, e),
    };
    let mut activity = json!({ "objectType": "Activity", "id": id });
    if let Some((_, def)) = defs.get(&key)
        && let Ok(d) = serde_json::from_str::<Value>(def)
        && d.as_object().is_some_and(|m| !m.is_empty())
    {
        activity["definition"] = d;
    }
    call.reply(StatusCode::OK).content_type("application/json").body(activity.to_string())
}

/// `GET /agents?agent=`: the Person object for the agent (what is known of them is what was asked).
fn agents(call: &Call<'_>) -> Response {
    if !matches!(call.method, Method::GET | Method::HEAD) {
        return call.fail(StatusCode::METHOD_NOT_ALLOWED, "The agents resource is read-only.");
    }
    if let Err(r) = call.only(&["agent"]) {
        return r;
    }
    let agent = match agent_param(call, "agent") {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut person = json!({ "objectType": "Person" });
    for k in ["name", "mbox", "mbox_sha1sum", "openid", "account"] {
        if let Some(v) = agent.get(k) {
            person[k] = json!([v]);
        }
    }
    call.reply(StatusCode::OK).content_type("application/json").body(person.to_string())
}

/// A 500, with the cause logged (never sent).
pub fn server_error(call: &Call<'_>, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "xAPI request failed");
    call.fail(StatusCode::INTERNAL_SERVER_ERROR, "The LRS could not complete the request.")
}

/// An HTTP date header value.
pub fn http_date(t: chrono::DateTime<chrono::Utc>) -> HeaderValue {
    HeaderValue::from_str(&httpdate::fmt_http_date(std::time::SystemTime::from(t)))
        .unwrap_or(HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"))
}
