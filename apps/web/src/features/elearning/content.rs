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

use super::Launch;
use crate::context::AppState;
use crate::context::directory::Site;
use crate::context::launch_token::{Claims, Purpose};
use crate::error::AppError;
use crate::http::LearnerLaunch;
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};
use serde_json::{Value, json};
use trellis_db::elearning as db;
use trellis_domain::AttemptId;
use trellis_elearning::cmi::{self, Model};

/// `frame-ancestors` for content: the trust's own origins (and the content origin itself, for
/// a SCO inside the runtime page).
fn ancestors(site: &Site) -> String {
    let mut a = vec!["'self'".to_owned()];
    a.extend(site.origins.iter().cloned());
    a.join(" ")
}

/// What the runtime loads into the SCORM API before the SCO starts: who the learner is, where
/// they were, and what the package declared.
fn initial_cmi(
    model: Model,
    rec: &cmi::Attempt,
    launch: &Launch,
    learner_id: &str,
    name: &str,
    resume: bool,
    review: bool,
) -> Value {
    let (mode, credit) = if review { ("review", "no-credit") } else { ("normal", "credit") };
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
                "credit": credit,
                "lesson_mode": mode,
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
                "credit": credit,
                "mode": mode,
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
pub async fn runtime(launch: LearnerLaunch, Data(state): Data<&AppState>) -> Result<Response, AppError> {
    let LearnerLaunch { claims: c, site, token } = launch;
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let a = db::attempt(&tx, AttemptId::from_uuid(c.attempt)).await?.ok_or(AppError::NotFound)?;
    let launch = super::launch_of(&tx, a.object).await.map_err(AppError::Internal)?.ok_or(AppError::NotFound)?;
    let person = trellis_db::identity::member_person(&tx, a.person).await?;
    tx.commit().await?;
    let model = model_of(&launch.standard).ok_or(AppError::NotFound)?;
    let rec: cmi::Attempt = serde_json::from_str(&a.record).unwrap_or_default();
    let name = person.map(|p| format!("{}, {}", p.family_name, p.given_name)).unwrap_or_default();
    let resume = rec.exit == "suspend" || rec.exit.is_empty();
    let review = rec.reviewing(c.launch);
    let cmi_data =
        initial_cmi(model, &rec, &launch, &super::learner_name(site.entry.id, a.person), &name, resume, review);
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
        title = crate::http::page::html_escape(&launch.object.title),
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

fn scorm_answer(ok: bool, code: u32) -> Response {
    Response::builder()
        .content_type("application/json")
        .header("cache-control", "no-store")
        .body(json!({ "result": ok, "errorCode": code }).to_string())
}

/// A SCORM commit: applied to the attempt's record (never losing data, never going backwards),
/// kept as sent for the trace view, reflected in the learning record and mirrored in the LRS;
/// answered once it is stored (see [`super::commits`]).
#[handler]
pub async fn scorm_commit(launch: poem::Result<LearnerLaunch>, body: Body, Data(state): Data<&AppState>) -> Response {
    let over = || {
        Response::builder().status(StatusCode::UNAUTHORIZED).content_type("application/json").body(
            json!({ "result": false, "errorCode": 101, "detail": "This launch is over: open the course again." })
                .to_string(),
        )
    };
    let Ok(LearnerLaunch { claims: c, site, .. }) = launch else { return over() };
    let Ok(raw) = body.into_bytes_limit(4 << 20).await else {
        return Response::builder()
            .status(StatusCode::PAYLOAD_TOO_LARGE)
            .content_type("application/json")
            .body(json!({ "result": false, "errorCode": 101, "detail": "A commit may be at most 4 MB." }).to_string());
    };
    match state.commits.apply(state, site, c, raw).await {
        Ok((ok, code)) => scorm_answer(ok, code),
        Err(AppError::NotFound) => over(),
        Err(e) => {
            tracing::error!(error = ?e, "SCORM commit failed");
            scorm_answer(false, 101)
        }
    }
}

/// A package's file.
#[handler]
pub async fn file(
    req: &Request,
    Data(state): Data<&AppState>,
    launch: LearnerLaunch,
    Path((_, path)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let LearnerLaunch { claims: c, site, .. } = launch;
    let package = trellis_domain::PackageId::from_uuid(c.subject);
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let p = db::package(&tx, package).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let path = percent_decode(&path);
    if path.is_empty() || path.split('/').any(|s| s == ".." || s.is_empty()) || path.contains('\\') {
        return Err(AppError::NotFound);
    }
    let key = db::file_key(p.files.0, p.files.1, &path);
    let range = req.header("range").and_then(crate::http::range::parse_range);
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
    Data(state): Data<&AppState>,
    Path((tenant, session, key)): Path<(String, String, String)>,
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
    let site = tenant.parse::<trellis_domain::TenantId>().ok().and_then(|t| state.directory.site_by_id(t));
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
        .parse::<trellis_domain::TenantId>()
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
