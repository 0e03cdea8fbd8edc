//! The content origin: packages' files and their runtime, on a host that is a different site
//! from every trust, so no portal cookie ever reaches it and content scripts cannot make
//! same-site requests to the portal (DESIGN.md §4). Nothing here knows a session: every request
//! carries a launch token naming the trust, the attempt and the launch, signed by the server and
//! short-lived; a token lets its holder read that package's files and report on that attempt,
//! and nothing else.
//!
//! - `GET /run/<token>`: the SCORM runtime page (scorm-again, loaded with the learner's record).
//! - `POST /run/<token>/commit`: the runtime's commits (JSON, or text/plain from a beacon).
//! - `GET /content/<token>/<path>`: the package's files, with their content types.
//! - `POST /cmi5/fetch/<token>`: a cmi5 AU's one-time fetch URL (its LRS credential).
//! - `GET /returned`: where content returns to when it ends (tells the portal's page).

use super::token::{Claims, Purpose};
use super::{Launch, scorm_outcome, scorm_statements};
use crate::directory::Site;
use crate::error::AppError;
use crate::state::AppState;
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use trellis_core::AttemptId;
use trellis_db::elearning as db;
use trellis_elearning::cmi::{self, Model};

fn claims(state: &AppState, token: &str, purpose: Purpose) -> Result<(Claims, Arc<Site>), AppError> {
    let c = state.launch.verify(token, purpose, chrono::Utc::now().timestamp()).ok_or(AppError::NotFound)?;
    let site = state.directory.site_by_id(c.tenant).ok_or(AppError::NotFound)?;
    Ok((c, site))
}

/// `frame-ancestors` for content: the trust's own origins (and the content origin itself, for
/// a SCO inside the runtime page).
fn ancestors(site: &Site) -> String {
    let mut a = vec!["'self'".to_owned()];
    a.extend(site.origins.iter().cloned());
    a.join(" ")
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// What the runtime loads into the SCORM API before the SCO starts: who the learner is, where
/// they were, and what the package declared.
fn initial_cmi(model: Model, rec: &cmi::Attempt, launch: &Launch, learner_id: &str, name: &str, resume: bool) -> Value {
    let entry = if rec.last == (0, 0) {
        "ab-initio"
    } else if resume {
        "resume"
    } else {
        ""
    };
    match model {
        Model::Scorm12 => {
            let status = match (rec.success, rec.completion) {
                (cmi::Success::Passed, _) => "passed",
                (cmi::Success::Failed, _) => "failed",
                (_, cmi::Completion::Completed) => "completed",
                (_, cmi::Completion::Incomplete) => "incomplete",
                _ => "not attempted",
            };
            let mut core = json!({
                "student_id": learner_id,
                "student_name": name,
                "credit": "credit",
                "lesson_mode": "normal",
                "entry": entry,
                "lesson_status": status,
                "lesson_location": rec.location,
                "total_time": trellis_elearning::time::to_scorm12(rec.total_time()),
            });
            if let Some(raw) = rec.score_raw {
                core["score"] = json!({ "raw": raw.to_string() });
            }
            let mut v =
                json!({ "core": core, "suspend_data": rec.suspend_data, "launch_data": launch.item.launch_data });
            if let Some(m) = launch.mastery_score {
                v["student_data"] = json!({ "mastery_score": format!("{}", (m * 100.0).round()) });
            }
            v
        }
        Model::Scorm2004 => {
            let mut v = json!({
                "learner_id": learner_id,
                "learner_name": name,
                "credit": "credit",
                "mode": "normal",
                "entry": entry,
                "location": rec.location,
                "suspend_data": rec.suspend_data,
                "launch_data": launch.item.launch_data,
                "completion_status": match rec.completion {
                    cmi::Completion::Completed => "completed",
                    cmi::Completion::Incomplete => "incomplete",
                    cmi::Completion::NotAttempted => "not attempted",
                    cmi::Completion::Unknown => "unknown",
                },
                "success_status": rec.success.as_str(),
                "total_time": trellis_elearning::time::to_iso8601(rec.total_time()),
            });
            if let Some(m) = launch.mastery_score {
                v["scaled_passing_score"] = json!(format!("{m}"));
            }
            v
        }
    }
}

fn model_of(standard: &str) -> Option<Model> {
    match standard {
        "scorm12" => Some(Model::Scorm12),
        "scorm2004" => Some(Model::Scorm2004),
        _ => None,
    }
}

/// The URL of a package file under this launch (the path's parts encoded, the query kept).
pub fn content_url(origin: &str, token: &str, href: &str, parameters: &str) -> String {
    let (path, query) = href.split_once('?').unwrap_or((href, ""));
    let path: Vec<String> = path
        .split('/')
        .map(|p| url::form_urlencoded::byte_serialize(p.as_bytes()).collect::<String>().replace('+', "%20"))
        .collect();
    let mut url = format!("{origin}/content/{token}/{}", path.join("/"));
    // SCORM parameters are appended to the launch URL (a leading ? or & is the package's).
    let extra = parameters.trim_start_matches(['?', '&']);
    let q: Vec<&str> = [query, extra].into_iter().filter(|s| !s.is_empty()).collect();
    if !q.is_empty() {
        url.push('?');
        url.push_str(&q.join("&"));
    }
    url
}

/// The SCORM runtime page.
#[handler]
pub async fn runtime(Path(token): Path<String>, Data(state): Data<&AppState>) -> Result<Response, AppError> {
    let (c, site) = claims(state, &token, Purpose::Content)?;
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let a = db::attempt(&tx, AttemptId::from_uuid(c.attempt)).await?.ok_or(AppError::NotFound)?;
    let launch = super::launch_of(&tx, a.object).await.map_err(AppError::Internal)?.ok_or(AppError::NotFound)?;
    let person = trellis_db::identity::member_person(&tx, a.person).await?;
    tx.commit().await?;
    let model = model_of(&launch.standard).ok_or(AppError::NotFound)?;
    let rec: cmi::Attempt = serde_json::from_str(&a.record).unwrap_or_default();
    let name = person.map(|p| format!("{}, {}", p.family_name, p.given_name)).unwrap_or_default();
    let resume = rec.exit == "suspend" || rec.exit.is_empty();
    let cmi_data = initial_cmi(model, &rec, &launch, &super::learner_name(site.entry.id, a.person), &name, resume);
    let origin = state.config.content_origin();
    let data = json!({
        "standard": launch.standard,
        "launch": c.launch,
        "commit_url": format!("{origin}/run/{token}/commit"),
        "sco_url": content_url(&origin, &token, &launch.item.href, &launch.item.parameters),
        "portal_origin": site.origins.first(),
        "cmi": cmi_data,
    });
    let theme = &site.entry.theme;
    let api_js = match model {
        Model::Scorm12 => "vendor/scorm-again/scorm12.min.js",
        Model::Scorm2004 => "vendor/scorm-again/scorm2004.min.js",
    };
    // JSON in a data block is not executed, so the strict policy holds; `<` is escaped so the
    // data cannot close its element.
    let json_text = data.to_string().replace('<', "\\u003c");
    let html = format!(
        "<!DOCTYPE html><html lang=\"en-GB\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <link rel=\"stylesheet\" href=\"{css}\">\
         <script id=\"trellis-launch\" type=\"application/json\">{json_text}</script></head>\
         <body class=\"trellis-runtime\"><iframe id=\"trellis-sco\" class=\"trellis-runtime__frame\" title=\"{title}\"></iframe>\
         <p id=\"trellis-finished\" class=\"trellis-runtime__finished\" hidden>This part of the course has finished. You can return to the course.</p>\
         <script src=\"{api}\"></script><script src=\"{runtime}\"></script></body></html>",
        title = html_escape(&launch.object.title),
        css = state.themes.asset_url(theme, "css/runtime.css"),
        api = state.themes.asset_url(theme, api_js),
        runtime = state.themes.asset_url(theme, "js/runtime.js"),
    );
    Ok(Response::builder()
        .content_type("text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .header(
            "content-security-policy",
            format!(
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; \
                 connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors {}",
                ancestors(&site)
            ),
        )
        .header("referrer-policy", "no-referrer")
        .body(html))
}

/// A commit as the runtime sends it (scorm-again's flattened CMI data inside our envelope).
#[derive(Debug, serde::Deserialize)]
struct Envelope {
    launch: u32,
    seq: u64,
    /// The commit sent as the SCO finished (LMSFinish / Terminate).
    #[serde(default, rename = "final")]
    last: bool,
    #[serde(default)]
    values: BTreeMap<String, Value>,
}

fn scorm_answer(ok: bool, code: u32) -> Response {
    Response::builder()
        .content_type("application/json")
        .header("cache-control", "no-store")
        .body(json!({ "result": ok, "errorCode": code }).to_string())
}

/// A SCORM commit: applied to the attempt's record (never losing data, never going backwards),
/// kept as sent for the trace view, reflected in the learning record and mirrored in the LRS.
#[handler]
pub async fn scorm_commit(Path(token): Path<String>, body: Body, Data(state): Data<&AppState>) -> Response {
    match apply_commit(state, &token, body).await {
        Ok(r) => r,
        Err(AppError::NotFound) => {
            Response::builder().status(StatusCode::UNAUTHORIZED).content_type("application/json").body(
                json!({ "result": false, "errorCode": 101, "detail": "This launch is over: open the course again." })
                    .to_string(),
            )
        }
        Err(e) => {
            tracing::error!(error = ?e, "SCORM commit failed");
            scorm_answer(false, 101)
        }
    }
}

async fn apply_commit(state: &AppState, token: &str, body: Body) -> Result<Response, AppError> {
    let (c, site) = claims(state, token, Purpose::Content)?;
    let raw = body
        .into_bytes_limit(4 << 20)
        .await
        .map_err(|_| AppError::PayloadTooLarge("A commit may be at most 4 MB.".into()))?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let envelope: Result<Envelope, _> = serde_json::from_slice(&raw);
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let Some(mut a) = db::attempt_for_update(&tx, AttemptId::from_uuid(c.attempt)).await? else {
        return Err(AppError::NotFound);
    };
    let Some(launch) = super::launch_of(&tx, a.object).await.map_err(AppError::Internal)? else {
        return Err(AppError::NotFound);
    };
    let model = model_of(&launch.standard).ok_or(AppError::NotFound)?;
    let code = if model == Model::Scorm12 { 101 } else { 391 };
    let env = match envelope {
        Ok(e) if e.launch == c.launch => e,
        Ok(_) => {
            db::add_commit(
                &tx,
                a.id,
                i32::try_from(c.launch).unwrap_or(0),
                0,
                &text,
                "refused: another launch's commit",
            )
            .await?;
            tx.commit().await?;
            return Ok(scorm_answer(false, code));
        }
        Err(e) => {
            db::add_commit(
                &tx,
                a.id,
                i32::try_from(c.launch).unwrap_or(0),
                0,
                &text,
                &format!("refused: not a commit ({e})"),
            )
            .await?;
            tx.commit().await?;
            return Ok(scorm_answer(false, code));
        }
    };
    let values: BTreeMap<String, String> = env
        .values
        .into_iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k, s)),
            Value::Number(n) => Some((k, n.to_string())),
            Value::Bool(b) => Some((k, b.to_string())),
            _ => None,
        })
        .collect();
    let commit = cmi::Commit { session: env.launch, seq: env.seq, values };
    let before: cmi::Attempt = serde_json::from_str(&a.record).unwrap_or_default();
    let mut after = before.clone();
    let seq = i64::try_from(env.seq).unwrap_or(i64::MAX);
    let launch_no = i32::try_from(env.launch).unwrap_or(i32::MAX);
    if let Err(e) = after.apply(model, &commit, launch.mastery_score) {
        db::add_commit(&tx, a.id, launch_no, seq, &text, &format!("refused: {e}")).await?;
        tx.commit().await?;
        return Ok(scorm_answer(false, if model == Model::Scorm12 { 405 } else { 406 }));
    }
    db::add_commit(&tx, a.id, launch_no, seq, &text, "applied").await?;
    if after != before || env.last {
        a.completion = after.completion.as_str().to_owned();
        a.success = after.success.as_str().to_owned();
        a.score_scaled = after.score_scaled;
        a.score_raw = after.score_raw;
        a.score_min = after.score_min;
        a.score_max = after.score_max;
        a.total_cs = i64::try_from(after.total_time()).unwrap_or(i64::MAX);
        let done = after.completion == cmi::Completion::Completed || after.success == cmi::Success::Passed;
        if done && a.completed_at.is_none() {
            a.completed_at = Some(chrono::Utc::now());
        }
        // The attempt ends when the SCO exits other than by suspending (the next launch is a new
        // attempt); 1.2's empty exit counts only on the finishing commit.
        if matches!(after.exit.as_str(), "logout" | "normal" | "time-out") || (env.last && after.exit != "suspend") {
            a.ended_at = Some(chrono::Utc::now());
        }
        a.record = serde_json::to_string(&after).map_err(|e| AppError::Internal(e.into()))?;
        db::save_attempt(&tx, &a).await?;
        let statements = scorm_statements(&site, &a, &launch, &before, &after, &commit);
        super::record_statements(&tx, &statements, &site).await.map_err(AppError::Internal)?;
        let e =
            trellis_db::learning::enrolment(&tx, a.person, launch.object.course).await?.filter(|e| e.id == a.enrolment);
        if let Some(e) = e {
            let all = db::attempts(&tx, &e, a.object).await?;
            let seconds: i64 =
                all.iter().map(|x| if x.id == a.id { a.total_cs } else { x.total_cs }).sum::<i64>() / 100;
            let r = trellis_db::learning::record_result(
                &tx,
                &e,
                &launch.object,
                scorm_outcome(&after, i32::try_from(seconds).unwrap_or(i32::MAX)),
                site.today(),
            )
            .await?;
            if r.course_completed {
                state.totals.changed(site.entry.id);
                trellis_db::identity::audit(
                    &tx,
                    Some(a.person),
                    "course.completed",
                    &e.course.to_string(),
                    None,
                    json!({}),
                )
                .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(scorm_answer(true, 0))
}

/// A package's file.
#[handler]
pub async fn file(
    req: &Request,
    Path((token, path)): Path<(String, String)>,
    Data(state): Data<&AppState>,
) -> Result<Response, AppError> {
    let (c, site) = claims(state, &token, Purpose::Content)?;
    let package = trellis_core::PackageId::from_uuid(c.subject);
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let p = db::package(&tx, package).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let path = percent_decode(&path);
    if path.is_empty() || path.split('/').any(|s| s == ".." || s.is_empty()) || path.contains('\\') {
        return Err(AppError::NotFound);
    }
    let key = db::file_key(p.owner, package, &path);
    let range = req.header("range").and_then(crate::routes::learner::parse_range);
    let fetched = state.files.get(&key, range).await.map_err(|_| AppError::NotFound)?;
    let ctype = mime_guess::from_path(&path).first_or_octet_stream().essence_str().to_owned();
    let ctype = if ctype.starts_with("text/") || ctype == "application/javascript" {
        format!("{ctype}; charset=utf-8")
    } else {
        ctype
    };
    let len = fetched.range.end - fetched.range.start;
    let mut b = Response::builder()
        .content_type(ctype)
        .header("content-length", len.to_string())
        .header("accept-ranges", "bytes")
        .header("x-content-type-options", "nosniff")
        .header("cache-control", "private, max-age=3600")
        .header("content-security-policy", format!("frame-ancestors {}", ancestors(&site)))
        .header("referrer-policy", "no-referrer")
        .header("cross-origin-resource-policy", "same-site");
    if range.is_some() {
        b = b.status(StatusCode::PARTIAL_CONTENT).header(
            "content-range",
            format!("bytes {}-{}/{}", fetched.range.start, fetched.range.end.saturating_sub(1), fetched.size),
        );
    }
    // frame-ancestors decides where it may be framed (browsers then ignore X-Frame-Options).
    Ok(b.body(Body::from_bytes_stream(fetched.body)))
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A cmi5 AU's fetch URL (cmi5 §8.2), `/cmi5/fetch/<trust>/<session>/<key>`: the first POST
/// with the session's one-time key gets the session's LRS credential (a token of its own, never
/// in any URL); any other gets `error-code` 1, as the specification has it.
#[handler]
pub async fn fetch(
    req: &Request,
    Path((tenant, session, key)): Path<(String, String, String)>,
    Data(state): Data<&AppState>,
) -> Response {
    let answer = |v: Value| {
        Response::builder()
            .content_type("application/json")
            .header("cache-control", "no-store")
            .header("access-control-allow-origin", "*")
            .body(v.to_string())
    };
    if req.method() != poem::http::Method::POST {
        return Response::builder().status(StatusCode::METHOD_NOT_ALLOWED).finish();
    }
    let site = tenant.parse::<trellis_core::TenantId>().ok().and_then(|t| state.directory.site_by_id(t));
    let (Some(site), Ok(session)) = (site, session.parse::<uuid::Uuid>()) else {
        return answer(json!({ "error-code": "2", "error-text": "This fetch URL is not valid." }));
    };
    let spent = async {
        let tx = state.dbs.app.begin(site.entry.id).await?;
        let ok = db::spend_fetch(&tx, session, &super::fetch_key_hash(&key)).await?;
        let s = if ok { db::cmi5_session(&tx, session, false).await? } else { None };
        tx.commit().await?;
        Ok::<_, trellis_db::DbError>(s)
    }
    .await;
    match spent {
        Ok(Some(s)) => {
            let token = state.launch.sign(&Claims {
                purpose: Purpose::Lrs,
                tenant: site.entry.id,
                attempt: s.attempt.as_uuid(),
                subject: s.id,
                launch: 0,
                expires: chrono::Utc::now().timestamp()
                    + i64::try_from(state.config.elearning.launch_hours * 3600).unwrap_or(43_200),
            });
            answer(json!({ "auth-token": token }))
        }
        Ok(None) => answer(
            json!({ "error-code": "1", "error-text": "This fetch URL has already been used, or the session is over." }),
        ),
        Err(e) => {
            tracing::error!(error = ?e, "cmi5 fetch failed");
            answer(json!({ "error-code": "3", "error-text": "The LMS could not answer." }))
        }
    }
}

/// Where content returns when it ends (`/returned/<trust>`): it tells the portal's page, which
/// takes the learner back. Only the trust's own pages may frame it.
#[handler]
pub fn returned(Path(tenant): Path<String>, Data(state): Data<&AppState>) -> Result<Response, AppError> {
    let site = tenant
        .parse::<trellis_core::TenantId>()
        .ok()
        .and_then(|t| state.directory.site_by_id(t))
        .ok_or(AppError::NotFound)?;
    let theme = &site.entry.theme;
    let html = format!(
        "<!DOCTYPE html><html lang=\"en-GB\"><head><meta charset=\"utf-8\"><title>Finished</title>\
         <link rel=\"stylesheet\" href=\"{css}\"></head>\
         <body class=\"trellis-runtime\"><p class=\"trellis-runtime__finished\">This part of the course has finished. You can return to the course.</p>\
         <script src=\"{js}\"></script></body></html>",
        css = state.themes.asset_url(theme, "css/runtime.css"),
        js = state.themes.asset_url(theme, "js/returned.js"),
    );
    Ok(Response::builder()
        .content_type("text/html; charset=utf-8")
        .header(
            "content-security-policy",
            format!(
                "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors {}",
                ancestors(&site)
            ),
        )
        .body(html))
}
