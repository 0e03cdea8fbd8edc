//! The trust's API (`/api/v1` on the trust's own host): for other systems and for automated
//! testing. Callers authenticate with an API token the trust's administrators issue
//! ([`tokens`]): `Authorization: Bearer <token>`. What a token may do is its scopes:
//!
//! - `courses`: import a course package (a zip, or a bare cmi5 course structure) as a new course
//!   or into a course's draft, read a course's sessions, and delete a course the API imported;
//! - `enrolments`: enrol the trust's staff on courses;
//! - `launch`: obtain a launch URL for a session (in a cmi5 launch mode), waive a cmi5 AU for a
//!   registration, abandon a cmi5 session;
//! - `conformance`: launches may name their own xAPI actor (account form only) and registration,
//!   for conformance test suites such as ADL's CATAPULT. Such actors are external learners,
//!   recorded apart from the trust's people; the trust's own learners keep their opaque accounts.
//!
//! The trust is the Host's, as everywhere; a token of another trust is unknown here. Errors are
//! RFC 9457 problem documents naming the field at fault. The OpenAPI description is generated
//! from this code and served at `/api/v1/openapi.json`.

pub mod tokens;

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::features::elearning::play::{self, Mode};
use crate::features::elearning::upload::{self, ImportError, Source};
use crate::features::elearning::{self as el, Launch};
use crate::http::CurrentSite;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Body, Endpoint, EndpointExt, IntoResponse, Request, Response};
use poem_openapi::auth::Bearer;
use poem_openapi::param::Path;
use poem_openapi::payload::{Binary, Json};
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, OpenApiService, SecurityScheme, Tags};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use trellis_db::TenantTx;
use trellis_db::api::{self as store, ApiToken};
use trellis_db::audit;
use trellis_db::catalogue as cat;
use trellis_db::elearning as db;
use trellis_db::learning as learn;
use trellis_db::states::EnrolmentStatus;
use trellis_domain::{CourseId, PersonId};
use uuid::Uuid;

/// The scopes a token may carry, with what each allows (shown on the tokens page).
pub const SCOPES: [(&str, &str); 5] = [
    ("courses", "Import course packages, read courses and delete courses it imported"),
    ("enrolments", "Enrol staff on courses"),
    ("launch", "Launch sessions, waive cmi5 AUs and abandon cmi5 sessions"),
    ("conformance", "Launch for actors it names (conformance test suites only: never for real staff)"),
    ("scim", "Provision staff accounts from an identity system (SCIM): create, change and deactivate them"),
];

/// The token's prefix, so a leaked one is recognisable (secret scanners look for it).
const PREFIX: &str = "trellis_";

/// A new token: its id, the token to show once, and the hash to keep.
pub fn new_token() -> (Uuid, String, String) {
    use base64::Engine as _;
    let id = Uuid::now_v7();
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let hash = hex::encode(Sha256::digest(secret.as_bytes()));
    (id, format!("{PREFIX}{}_{secret}", id.simple()), hash)
}

/// A token's id and secret, if it has the shape of one.
fn parse_token(token: &str) -> Option<(Uuid, &str)> {
    let rest = token.trim().strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    Some((Uuid::try_parse(id).ok()?, secret))
}

/// How the API authenticates: an API token as a bearer token.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "trellis_<id>_<secret>")]
pub struct TokenAuth(Bearer);

#[derive(Tags)]
enum Tag {
    /// Courses and their packages.
    Courses,
    /// Enrolments of the trust's staff.
    Enrolments,
    /// Launching sessions, and the LMS's side of cmi5 (waive, abandon).
    Launches,
}

/// An RFC 9457 problem document.
#[derive(Object, Debug)]
#[oai(rename = "Problem")]
pub struct ProblemDoc {
    /// Always `about:blank`: the status says what kind of problem.
    #[oai(rename = "type")]
    kind: String,
    title: String,
    status: u16,
    /// What is wrong, in words.
    detail: String,
    /// The request's part at fault (a field of the body, a parameter, `body` for the body as a
    /// whole, `authorization` for the token).
    #[oai(skip_serializing_if_is_none)]
    field: Option<String>,
}

/// Every refusal and failure is a problem document.
#[derive(ApiResponse, Debug)]
pub enum Problem {
    /// The request cannot be done as asked; `detail` says why and `field` names the part at fault.
    #[oai(status_range = "4XX", content_type = "application/problem+json")]
    Client(StatusCode, Json<ProblemDoc>),
    /// Something failed on the server's side.
    #[oai(status_range = "5XX", content_type = "application/problem+json")]
    Server(StatusCode, Json<ProblemDoc>),
}

fn problem(status: StatusCode, field: Option<&str>, detail: impl Into<String>) -> Problem {
    let doc = ProblemDoc {
        kind: "about:blank".into(),
        title: status.canonical_reason().unwrap_or("Error").into(),
        status: status.as_u16(),
        detail: detail.into(),
        field: field.map(str::to_owned),
    };
    if status.is_server_error() { Problem::Server(status, Json(doc)) } else { Problem::Client(status, Json(doc)) }
}

impl From<AppError> for Problem {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound => problem(StatusCode::NOT_FOUND, None, "There is no such thing here."),
            AppError::BadRequest(m) => problem(StatusCode::BAD_REQUEST, None, m),
            AppError::Conflict(m) => problem(StatusCode::CONFLICT, None, m),
            AppError::PayloadTooLarge(m) => problem(StatusCode::PAYLOAD_TOO_LARGE, Some("body"), m),
            AppError::Unavailable(m) => problem(StatusCode::SERVICE_UNAVAILABLE, None, m),
            AppError::Forbidden(r) => problem(StatusCode::FORBIDDEN, None, r.detail),
            AppError::SignInRequired | AppError::TermsRequired => {
                problem(StatusCode::UNAUTHORIZED, None, "This call needs an API token.")
            }
            AppError::Internal(e) => {
                tracing::error!(error = ?e, "an API request failed");
                problem(StatusCode::INTERNAL_SERVER_ERROR, None, "Something went wrong on our side; try again.")
            }
        }
    }
}

impl From<trellis_db::DbError> for Problem {
    fn from(e: trellis_db::DbError) -> Self {
        AppError::from(e).into()
    }
}

impl From<anyhow::Error> for Problem {
    fn from(e: anyhow::Error) -> Self {
        AppError::Internal(e).into()
    }
}

type ApiResult<T> = Result<T, Problem>;

/// A session of a course, as the API lists it: `index` is its place in the course (a cmi5 AU's
/// place in the course structure, from 0).
#[derive(Object, Debug)]
pub struct SessionOut {
    index: u32,
    id: Uuid,
    title: String,
    /// `scorm12`, `scorm2004`, `cmi5`, or another kind of session (`page`, `video`, …).
    kind: String,
    /// The SCO's or AU's identifier in its package (for a cmi5 AU, its publisher id).
    #[oai(skip_serializing_if_is_none)]
    identifier: Option<String>,
}

/// A course.
#[derive(Object, Debug)]
pub struct CourseOut {
    id: Uuid,
    title: String,
    code: String,
    /// `draft` or `published`.
    status: String,
    /// The sessions learners launch (of the published version; of the draft before then).
    sessions: Vec<SessionOut>,
}

#[derive(ApiResponse)]
enum CourseCreated {
    /// The course, as imported.
    #[oai(status = 201)]
    Created(Json<CourseOut>),
}

#[derive(ApiResponse)]
enum CourseRead {
    #[oai(status = 200)]
    Ok(Json<CourseOut>),
}

#[derive(ApiResponse)]
enum Done {
    /// Done.
    #[oai(status = 204)]
    Done,
}

/// Who to enrol: a member of the trust, by id or by email address.
#[derive(Object, Debug)]
pub struct EnrolIn {
    #[oai(skip_serializing_if_is_none)]
    person: Option<Uuid>,
    #[oai(skip_serializing_if_is_none)]
    email: Option<String>,
}

/// An enrolment.
#[derive(Object, Debug)]
pub struct EnrolmentOut {
    id: Uuid,
    course: Uuid,
    person: Uuid,
    /// `active` (or `completed`).
    status: String,
}

#[derive(ApiResponse)]
enum Enrolled {
    /// Enrolled now.
    #[oai(status = 201)]
    Created(Json<EnrolmentOut>),
    /// Already enrolled.
    #[oai(status = 200)]
    Already(Json<EnrolmentOut>),
}

/// The cmi5 launch mode (cmi5 §10.2.2): `Normal` records results; `Browse` and `Review` do not.
/// A SCORM session has only Normal (a completed attempt reopens in review by itself).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaunchMode {
    Normal,
    Browse,
    Review,
}

/// What to launch, for whom.
#[derive(Object, Debug)]
pub struct LaunchIn {
    /// The session's place in the course, from 0 (as `GET /courses/{id}` lists it).
    #[oai(skip_serializing_if_is_none)]
    au_index: Option<u32>,
    /// Or the session's id.
    #[oai(skip_serializing_if_is_none)]
    session: Option<Uuid>,
    /// The learner: a member of the trust enrolled on the course.
    #[oai(skip_serializing_if_is_none)]
    person: Option<Uuid>,
    /// Or (tokens with the `conformance` scope only) an xAPI Agent in account form,
    /// `{"account": {"homePage": …, "name": …}}`: an external learner, enrolled as needed.
    #[oai(skip_serializing_if_is_none)]
    actor: Option<Value>,
    /// The registration (a UUID) to launch in (with `actor` only); one is made if not given.
    #[oai(skip_serializing_if_is_none)]
    registration: Option<Uuid>,
    #[oai(skip_serializing_if_is_none)]
    launch_mode: Option<LaunchMode>,
}

/// A launch: open `url` in a browser (in a window of its own, or a frame).
#[derive(Object, Debug)]
pub struct LaunchOut {
    url: String,
    attempt: Uuid,
    registration: Uuid,
    /// The cmi5 session id (cmi5 launches).
    #[oai(skip_serializing_if_is_none)]
    session: Option<Uuid>,
    launch_mode: LaunchMode,
}

#[derive(ApiResponse)]
enum Launched {
    #[oai(status = 201)]
    Created(Json<LaunchOut>),
}

/// Why an AU is waived (cmi5 §9.5.5.2).
#[derive(Enum, Debug, Clone, Copy)]
pub enum WaiveReason {
    #[oai(rename = "Tested Out")]
    TestedOut,
    #[oai(rename = "Equivalent AU")]
    EquivalentAu,
    #[oai(rename = "Equivalent Outside Activity")]
    EquivalentOutsideActivity,
    Administrative,
}

impl WaiveReason {
    fn as_str(self) -> &'static str {
        match self {
            WaiveReason::TestedOut => "Tested Out",
            WaiveReason::EquivalentAu => "Equivalent AU",
            WaiveReason::EquivalentOutsideActivity => "Equivalent Outside Activity",
            WaiveReason::Administrative => "Administrative",
        }
    }
}

/// Which AU to waive, and why.
#[derive(Object, Debug)]
pub struct WaiveIn {
    au_index: u32,
    reason: WaiveReason,
}

/// The API.
pub struct LmsApi;

/// The token on the request, checked: it is this trust's, live, and carries `scope`. Failures
/// count against the caller's address (as failed sign-ins do).
async fn authorise(state: &AppState, site: &Site, req: &Request, auth: &TokenAuth, scope: &str) -> ApiResult<ApiToken> {
    check_token(state, site, req, &auth.0.token, scope).await.map_err(|r| match r {
        Refused::Internal(e) => e.into(),
        Refused::Status(status, detail) => problem(status, Some("authorization"), detail),
    })
}

/// Why a token was refused.
#[derive(Debug)]
pub enum Refused {
    /// 401 (no live token of this trust), 403 (not its scope) or 429 (too many refusals).
    Status(StatusCode, String),
    Internal(AppError),
}

impl From<trellis_db::DbError> for Refused {
    fn from(e: trellis_db::DbError) -> Self {
        Refused::Internal(e.into())
    }
}

/// Checks a bearer token for every integration that calls the trust (the API, SCIM): it is this
/// trust's, live, and carries `scope`. Refusals count against the caller's address, as failed
/// sign-ins do (a hospital's shared address has the sign-in limit's allowance).
pub async fn check_token(
    state: &AppState,
    site: &Site,
    req: &Request,
    token: &str,
    scope: &str,
) -> Result<ApiToken, Refused> {
    let ip =
        crate::http::middleware::forwarded::client_ip(req, &state.proxies).map_or_else(String::new, |i| i.to_string());
    let key = format!("api:{ip}");
    let window = std::time::Duration::from_secs(900);
    if let Some(wait) = state.limiter.over(&key, state.config.auth.failures_per_address, window).await {
        return Err(Refused::Status(
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many refused tokens from this address: try again in {wait} seconds."),
        ));
    }
    let refused = || Refused::Status(StatusCode::UNAUTHORIZED, "Send a live API token of this trust.".into());
    let Some((id, secret)) = parse_token(token) else {
        state.limiter.fail(&key, window).await;
        return Err(refused());
    };
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let Some(t) = store::token(&tx, id).await? else {
        tx.rollback().await?;
        state.limiter.fail(&key, window).await;
        return Err(refused());
    };
    let hash = hex::encode(Sha256::digest(secret.as_bytes()));
    let good = crate::features::xapi::constant_time_eq(hash.as_bytes(), t.secret_sha256.as_bytes());
    if !good || !t.live(chrono::Utc::now()) {
        tx.rollback().await?;
        state.limiter.fail(&key, window).await;
        return Err(refused());
    }
    if t.last_used_at.is_none_or(|u| chrono::Utc::now() - u > chrono::Duration::minutes(1)) {
        store::touch_token(&tx, t.id).await?;
    }
    tx.commit().await?;
    if !t.has(scope) {
        return Err(Refused::Status(StatusCode::FORBIDDEN, format!("This token does not have the {scope} scope.")));
    }
    Ok(t)
}

/// The sessions of a course's version, in order.
async fn sessions_of(tx: &TenantTx, version: Option<Uuid>) -> ApiResult<Vec<cat::Object>> {
    Ok(match version {
        Some(v) => cat::objects(tx, v).await?,
        None => vec![],
    })
}

async fn course_out(tx: &TenantTx, course: CourseId) -> ApiResult<CourseOut> {
    let c = cat::course(tx, course)
        .await?
        .filter(|c| !c.national)
        .ok_or_else(|| problem(StatusCode::NOT_FOUND, Some("id"), "There is no such course here."))?;
    let version = match c.current_version {
        Some(v) => Some(v),
        None => cat::draft(tx, course).await?.map(|d| d.id),
    };
    let sessions = sessions_of(tx, version)
        .await?
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            let launch = el::launch_from(o.clone());
            SessionOut {
                index: u32::try_from(i).unwrap_or(u32::MAX),
                id: o.id.as_uuid(),
                title: o.title.clone(),
                kind: launch.as_ref().map_or_else(|| o.kind.clone(), |l| l.standard.clone()),
                identifier: launch.map(|l| l.item.identifier),
            }
        })
        .collect();
    Ok(CourseOut { id: c.id.as_uuid(), title: c.title, code: c.code, status: c.status.to_string(), sessions })
}

/// Reads the request body to a temporary file (a zip), or to memory (a course structure),
/// by its content type.
async fn receive(
    req: &Request,
    body: Body,
    max: u64,
    who: crate::usecases::uploads::Uploader,
) -> ApiResult<(Source, Option<tempfile::NamedTempFile>)> {
    let ctype = req.header("content-type").unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let too_big =
        || problem(StatusCode::PAYLOAD_TOO_LARGE, Some("body"), format!("A package may be at most {} MB.", max >> 20));
    match ctype.as_str() {
        "application/zip" | "application/x-zip-compressed" | "application/octet-stream" => {
            let tmp = tempfile::NamedTempFile::new().map_err(|e| AppError::Internal(e.into()))?;
            let mut out = tokio::fs::File::create(tmp.path()).await.map_err(|e| AppError::Internal(e.into()))?;
            let mut hasher = Sha256::new();
            let mut size: u64 = 0;
            let mut stream = body.into_bytes_stream();
            while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
                let chunk = chunk.map_err(|e| {
                    problem(StatusCode::BAD_REQUEST, Some("body"), format!("The body was cut short: {e}"))
                })?;
                size += chunk.len() as u64;
                if size > max {
                    return Err(too_big());
                }
                hasher.update(&chunk);
                out.write_all(&chunk).await.map_err(|e| AppError::Internal(e.into()))?;
            }
            out.flush().await.map_err(|e| AppError::Internal(e.into()))?;
            let path = tmp.path().to_path_buf();
            let sha = hex::encode(hasher.finalize());
            let name = "The package".to_owned();
            Ok((Source::Zip { path, sha, size, name, uploader: Some(who) }, Some(tmp)))
        }
        "text/xml" | "application/xml" => {
            let bytes = body.into_bytes_limit(4 << 20).await.map_err(|_| {
                problem(StatusCode::PAYLOAD_TOO_LARGE, Some("body"), "A course structure may be at most 4 MB.")
            })?;
            Ok((Source::CourseStructure(bytes.to_vec()), None))
        }
        other => Err(problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("content-type"),
            format!(
                "{} is not a course package: send a zip (application/zip) or a cmi5 course structure (text/xml).",
                if other.is_empty() { "A body without a content type" } else { other }
            ),
        )),
    }
}

fn import_problem(e: ImportError) -> Problem {
    match e {
        ImportError::Refused(m) => {
            problem(StatusCode::UNPROCESSABLE_ENTITY, Some("body"), format!("The package was refused: {m}"))
        }
        ImportError::ScannerUnavailable => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            Some("body"),
            "The virus scanner is not available just now, and uploads must be scanned: nothing was kept. Send the package again in a few minutes.",
        ),
        ImportError::NotFound => {
            problem(StatusCode::NOT_FOUND, Some("id"), "There is no such course of this trust's own.")
        }
        ImportError::Failed(e) => e.into(),
    }
}

/// A course's session at `index` (or by id), with its launch.
fn pick_session(objects: &[cat::Object], index: Option<u32>, id: Option<Uuid>) -> ApiResult<Launch> {
    let o = match (index, id) {
        (Some(i), None) => objects.get(i as usize),
        (None, Some(id)) => objects.iter().find(|o| o.id.as_uuid() == id),
        _ => return Err(problem(StatusCode::BAD_REQUEST, Some("au_index"), "Give au_index or session (one of them).")),
    };
    let o = o.ok_or_else(|| problem(StatusCode::NOT_FOUND, Some("au_index"), "The course has no such session."))?;
    el::launch_from(o.clone())
        .ok_or_else(|| problem(StatusCode::BAD_REQUEST, Some("au_index"), "That session is not e-learning to launch."))
}

/// An xAPI agent in account form, as a conformance caller may name it.
fn external_actor(v: &Value) -> ApiResult<Value> {
    let bad = |m: &str| problem(StatusCode::BAD_REQUEST, Some("actor"), m.to_owned());
    let obj = v.as_object().ok_or_else(|| bad("actor is an xAPI Agent object"))?;
    if obj.get("objectType").is_some_and(|t| t != "Agent") {
        return Err(bad("actor is an Agent (objectType Agent)"));
    }
    if ["mbox", "mbox_sha1sum", "openid", "member"].iter().any(|k| obj.contains_key(*k)) {
        return Err(bad("actor is identified by an account only (no mbox, mbox_sha1sum or openid)"));
    }
    let account = obj.get("account").and_then(Value::as_object).ok_or_else(|| bad("actor needs an account"))?;
    let home = account.get("homePage").and_then(Value::as_str).unwrap_or("");
    let name = account.get("name").and_then(Value::as_str).unwrap_or("");
    if name.is_empty() || name.len() > 200 || url::Url::parse(home).is_err() || home.len() > 500 {
        return Err(bad("actor.account needs a homePage (an absolute IRI) and a name"));
    }
    trellis_elearning::xapi::check_agent(v, "actor").map_err(|e| bad(&e.to_string()))?;
    Ok(v.clone())
}

#[OpenApi]
impl LmsApi {
    /// Import a course package as a new course
    ///
    /// The body is a SCORM 1.2, SCORM 2004 or cmi5 package (a zip; `Content-Type:
    /// application/zip`), or a bare cmi5 course structure (`text/xml`) whose AUs are hosted
    /// elsewhere (absolute URLs). The package is checked as an upload in the course editor is:
    /// a package that breaks a rule of its standard is refused (422) naming the file and the
    /// rule. The course is created, given the package's title and a code (unless `code` is
    /// given), and published unless `publish=false`. Scope: `courses`.
    #[oai(path = "/courses", method = "post", tag = "Tag::Courses", operation_id = "importCourse")]
    #[allow(clippy::too_many_arguments)] // the request's parts, as poem-openapi extracts them
    async fn import_course(
        &self,
        req: &Request,
        Data(state): Data<&AppState>,
        CurrentSite(site): CurrentSite<'_>,
        auth: TokenAuth,
        /// A code for the course (letters, digits, hyphens); made from the package's id if not given.
        code: poem_openapi::param::Query<Option<String>>,
        /// Whether to publish the course at once (default true).
        publish: poem_openapi::param::Query<Option<bool>>,
        body: Binary<Body>,
    ) -> ApiResult<CourseCreated> {
        let t = authorise(state, site, req, &auth, "courses").await?;
        let max = state.config.elearning.max_package_mb * 1024 * 1024;
        let who = crate::http::transfer::uploader(state, req, None, Some(t.id.to_string()));
        let (source, _tmp) = receive(req, body.0, max, who).await?;
        // The course is made first (a draft), the package imported into it, then published;
        // a refused package leaves no course behind.
        let code = match code.0.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()) {
            Some(c) if c.len() <= 40 && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-') => c,
            Some(_) => {
                return Err(problem(
                    StatusCode::BAD_REQUEST,
                    Some("code"),
                    "A code is 1 to 40 letters, digits or hyphens.",
                ));
            }
            None => format!("API-{}", &Uuid::now_v7().simple().to_string()[20..]).to_uppercase(),
        };
        let course = {
            let tx = state.dbs.app.begin(site.entry.id).await?;
            let input = cat::CourseInput {
                code: code.clone(),
                kind: "course".into(),
                title: "Imported course".into(),
                enrolment: "open".into(),
                ..Default::default()
            };
            let id = match cat::create_course(&tx, &input).await? {
                Ok(id) => id,
                Err(taken) => {
                    tx.rollback().await?;
                    return Err(problem(StatusCode::CONFLICT, Some("code"), taken.to_string()));
                }
            };
            store::record_import(&tx, id, t.id).await?;
            tx.commit().await?;
            id
        };
        let via = json!({ "api_token": t.id.to_string() });
        let imported = match upload::import(state, site, course, source, None, via).await {
            Ok(i) => i,
            Err(e) => {
                let tx = state.dbs.app.begin(site.entry.id).await?;
                let _ = store::delete_imported_course(&tx, course).await?;
                tx.commit().await?;
                return Err(import_problem(e));
            }
        };
        let tx = state.dbs.app.begin(site.entry.id).await?;
        if let Some(c) = cat::course(&tx, course).await? {
            let input = cat::CourseInput {
                code: c.code.clone(),
                kind: c.kind.clone(),
                title: imported.title.clone(),
                summary: c.summary.clone(),
                description: c.description.clone(),
                topic: c.topic.clone(),
                audience: c.audience.clone(),
                duration_minutes: c.duration_minutes,
                accreditation: c.accreditation.clone(),
                cpd_points: c.cpd_points,
                certificate: c.certificate,
                enrolment: c.enrolment.clone(),
            };
            let _ = cat::update_course(&tx, course, &input).await?;
        }
        if publish.0.unwrap_or(true) {
            let _ = cat::publish(&tx, course).await?;
        }
        audit::record(
            &tx,
            None,
            "course.imported",
            &course.to_string(),
            None,
            json!({ "api_token": t.id.to_string(), "token_name": t.name, "standard": imported.standard }),
        )
        .await?;
        let out = course_out(&tx, course).await?;
        tx.commit().await?;
        Ok(CourseCreated::Created(Json(out)))
    }

    /// Import a package into a course's draft
    ///
    /// Adds the package's sessions to the draft of one of the trust's own courses, as the course
    /// editor's upload does; publish the course in the editor when ready. Scope: `courses`.
    #[oai(path = "/courses/:id/package", method = "post", tag = "Tag::Courses", operation_id = "importPackage")]
    async fn import_package(
        &self,
        req: &Request,
        Data(state): Data<&AppState>,
        CurrentSite(site): CurrentSite<'_>,
        auth: TokenAuth,
        id: Path<Uuid>,
        body: Binary<Body>,
    ) -> ApiResult<CourseCreated> {
        let t = authorise(state, site, req, &auth, "courses").await?;
        let course = CourseId::from_uuid(id.0);
        let max = state.config.elearning.max_package_mb * 1024 * 1024;
        let who = crate::http::transfer::uploader(state, req, None, Some(t.id.to_string()));
        let (source, _tmp) = receive(req, body.0, max, who).await?;
        let via = json!({ "api_token": t.id.to_string() });
        upload::import(state, site, course, source, None, via).await.map_err(import_problem)?;
        let tx = state.dbs.app.begin_read(site.entry.id).await?;
        let out = course_out(&tx, course).await?;
        tx.commit().await?;
        Ok(CourseCreated::Created(Json(out)))
    }

    /// A course and its sessions
    ///
    /// Scope: `courses` or `launch`.
    #[oai(path = "/courses/:id", method = "get", tag = "Tag::Courses", operation_id = "getCourse")]
    async fn get_course(
        &self,
        req: &Request,
        Data(state): Data<&AppState>,
        CurrentSite(site): CurrentSite<'_>,
        auth: TokenAuth,
        id: Path<Uuid>,
    ) -> ApiResult<CourseRead> {
        if authorise(state, site, req, &auth, "courses").await.is_err() {
            authorise(state, site, req, &auth, "launch").await?;
        }
        let tx = state.dbs.app.begin_read(site.entry.id).await?;
        let out = course_out(&tx, CourseId::from_uuid(id.0)).await?;
        tx.commit().await?;
        Ok(CourseRead::Ok(Json(out)))
    }

    /// Delete a course the API imported
    ///
    /// Deletes the course, its versions and sessions, its packages' files, and any external
    /// learners' records on it. Refused (409) while the trust's own staff are enrolled on it or a
    /// training rule or learning path names it: unpublish it in the course editor instead.
    /// Statements in the learning record store stay. Scope: `courses`.
    #[oai(path = "/courses/:id", method = "delete", tag = "Tag::Courses", operation_id = "deleteCourse")]
    async fn delete_course(
        &self,
        req: &Request,
        Data(state): Data<&AppState>,
        CurrentSite(site): CurrentSite<'_>,
        auth: TokenAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Done> {
        let t = authorise(state, site, req, &auth, "courses").await?;
        let course = CourseId::from_uuid(id.0);
        let tx = state.dbs.app.begin(site.entry.id).await?;
        let packages = match store::delete_imported_course(&tx, course).await? {
            Ok(p) => p,
            Err(store::NotDeleted::NotFound) => {
                tx.rollback().await?;
                return Err(problem(
                    StatusCode::NOT_FOUND,
                    Some("id"),
                    "There is no course here that the API imported.",
                ));
            }
            Err(store::NotDeleted::InUse(why)) => {
                tx.rollback().await?;
                return Err(problem(StatusCode::CONFLICT, Some("id"), format!("The course cannot be deleted: {why}.")));
            }
        };
        audit::record(
            &tx,
            None,
            "course.deleted",
            &course.to_string(),
            None,
            json!({ "api_token": t.id.to_string(), "token_name": t.name }),
        )
        .await?;
        tx.commit().await?;
        for p in packages {
            if let Err(e) = state.files.delete_prefix(&format!("{}/packages/{p}/", site.entry.id)).await {
                tracing::warn!(error = ?e, package = %p, "a deleted course's package files were not all removed");
            }
        }
        Ok(Done::Done)
    }

    /// Enrol a member of staff on a course
    ///
    /// The person (by id, or by the email address they have here) must be a member of the
    /// trust; the course must be in its catalogue. Scope: `enrolments`.
    #[oai(path = "/courses/:id/enrolments", method = "post", tag = "Tag::Enrolments", operation_id = "enrol")]
    async fn enrol(
        &self,
        req: &Request,
        Data(state): Data<&AppState>,
        CurrentSite(site): CurrentSite<'_>,
        auth: TokenAuth,
        id: Path<Uuid>,
        body: Json<EnrolIn>,
    ) -> ApiResult<Enrolled> {
        let t = authorise(state, site, req, &auth, "enrolments").await?;
        let tx = state.dbs.app.begin(site.entry.id).await?;
        let person = match (&body.person, &body.email) {
            (Some(p), None) => {
                trellis_db::identity::membership(&tx, PersonId::from_uuid(*p)).await?.map(|_| PersonId::from_uuid(*p))
            }
            (None, Some(e)) => trellis_db::identity::member_by_email(&tx, e).await?,
            _ => return Err(problem(StatusCode::BAD_REQUEST, Some("person"), "Give person or email (one of them).")),
        };
        let field = if body.person.is_some() { "person" } else { "email" };
        let person = person.ok_or_else(|| {
            problem(StatusCode::NOT_FOUND, Some(field), "No member of this trust has that id or email address.")
        })?;
        let c = cat::course(&tx, CourseId::from_uuid(id.0))
            .await?
            .ok_or_else(|| problem(StatusCode::NOT_FOUND, Some("id"), "There is no such course here."))?;
        if !cat::in_catalogue(&tx, &c).await? {
            return Err(problem(
                StatusCode::CONFLICT,
                Some("id"),
                "The course is not in the trust's catalogue (publish it first).",
            ));
        }
        let outcome = learn::enrol(&tx, person, &c, "api", true, None, None).await?;
        if outcome == learn::Enrolled::AwaitingPayment {
            tx.rollback().await?;
            return Err(problem(
                StatusCode::CONFLICT,
                Some("id"),
                "A marketplace course the learner pays for: enrol them in the portal.",
            ));
        }
        let e = learn::enrolment(&tx, person, c.id)
            .await?
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no enrolment after enrolling")))?;
        if outcome != learn::Enrolled::Already {
            audit::record(
                &tx,
                Some(person),
                "enrolment.enrolled",
                &c.id.to_string(),
                None,
                json!({ "course": c.code, "api_token": t.id.to_string() }),
            )
            .await?;
        }
        tx.commit().await?;
        let out = EnrolmentOut {
            id: e.id.as_uuid(),
            course: c.id.as_uuid(),
            person: person.as_uuid(),
            status: e.status.to_string(),
        };
        Ok(if outcome == learn::Enrolled::Already {
            Enrolled::Already(Json(out))
        } else {
            Enrolled::Created(Json(out))
        })
    }

    /// Launch a session
    ///
    /// Starts a launch of one of the course's sessions (`au_index` from 0, or `session` by id)
    /// for a learner, and answers the URL to open. For the trust's own staff give `person` (they
    /// must be enrolled). Tokens with the `conformance` scope may instead give `actor` (an xAPI
    /// account) and `registration`: an external learner, enrolled as needed. cmi5 sessions take a
    /// `launch_mode`. Scope: `launch`.
    #[oai(path = "/courses/:id/launches", method = "post", tag = "Tag::Launches", operation_id = "launch")]
    async fn launch(
        &self,
        req: &Request,
        Data(state): Data<&AppState>,
        CurrentSite(site): CurrentSite<'_>,
        auth: TokenAuth,
        id: Path<Uuid>,
        body: Json<LaunchIn>,
    ) -> ApiResult<Launched> {
        let t = authorise(state, site, req, &auth, "launch").await?;
        let course = CourseId::from_uuid(id.0);
        let mode = body.launch_mode.unwrap_or(LaunchMode::Normal);
        let tx = state.dbs.app.begin(site.entry.id).await?;
        let c = cat::course(&tx, course)
            .await?
            .ok_or_else(|| problem(StatusCode::NOT_FOUND, Some("id"), "There is no such course here."))?;
        let (e, external) = match (&body.person, &body.actor) {
            (Some(p), None) => {
                if body.registration.is_some() {
                    return Err(problem(
                        StatusCode::BAD_REQUEST,
                        Some("registration"),
                        "A registration is chosen by the caller only for an external actor.",
                    ));
                }
                let e = learn::enrolment(&tx, PersonId::from_uuid(*p), course)
                    .await?
                    .filter(|e| matches!(e.status, EnrolmentStatus::Active | EnrolmentStatus::Completed))
                    .ok_or_else(|| {
                        problem(StatusCode::CONFLICT, Some("person"), "That person is not enrolled on this course.")
                    })?;
                (e, None)
            }
            (None, Some(actor)) => {
                if !t.has("conformance") {
                    return Err(problem(
                        StatusCode::FORBIDDEN,
                        Some("actor"),
                        "Only a token with the conformance scope may name an actor.",
                    ));
                }
                let actor = external_actor(actor)?;
                let key = trellis_elearning::lrs::agent_hash(&actor).unwrap_or_default();
                let learner = store::external_learner(&tx, &key, &actor.to_string(), t.id).await?;
                let person = PersonId::from_uuid(learner.id);
                let _ = learn::enrol(&tx, person, &c, "external", true, None, None).await?;
                let e = learn::enrolment(&tx, person, course)
                    .await?
                    .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no enrolment after enrolling")))?;
                (e, Some(learner.actor))
            }
            _ => return Err(problem(StatusCode::BAD_REQUEST, Some("person"), "Give person or actor (one of them).")),
        };
        let version = e.version.or(c.current_version);
        let objects = sessions_of(&tx, version).await?;
        let launch = pick_session(&objects, body.au_index, body.session)?;
        let cmi5 = launch.standard == "cmi5";
        if !cmi5 && mode != LaunchMode::Normal {
            return Err(problem(
                StatusCode::BAD_REQUEST,
                Some("launch_mode"),
                "Only a cmi5 AU is launched in Browse or Review mode.",
            ));
        }
        // One registration for all the AUs of a package in the enrolment's cycle: a registration
        // in use stays; one asked for must be this learner's (or new).
        let in_use = {
            let mut r = None;
            for a in db::attempts_of_enrolment(&tx, &e).await? {
                if objects.iter().any(|o| o.id == a.object && o.package == Some(launch.package.as_uuid())) {
                    r = Some(a.registration);
                    break;
                }
            }
            r
        };
        let registration = match (body.registration, in_use) {
            (Some(asked), Some(used)) if asked != used => {
                return Err(problem(
                    StatusCode::CONFLICT,
                    Some("registration"),
                    format!("This learner's registration on this course is {used}."),
                ));
            }
            (Some(asked), None) => {
                if !db::attempts_by_registration(&tx, asked).await?.is_empty() {
                    return Err(problem(
                        StatusCode::CONFLICT,
                        Some("registration"),
                        "That registration belongs to another learner or course.",
                    ));
                }
                Some(asked)
            }
            (_, used) => used,
        };
        let m = match mode {
            LaunchMode::Normal => Mode::Normal,
            LaunchMode::Browse => Mode::Browse,
            LaunchMode::Review => Mode::Review,
        };
        let (a, n) = play::start_as(state, site, &tx, &e, &launch, false, m, registration, external)
            .await
            .map_err(Problem::from)?;
        let url = play::launch_address(state, site, &tx, &a, &launch, n).await.map_err(Problem::from)?;
        let session = cmi5.then(|| play::cmi5_session_id(state, a.id, n));
        tx.commit().await?;
        Ok(Launched::Created(Json(LaunchOut {
            url,
            attempt: a.id.as_uuid(),
            registration: a.registration,
            session,
            launch_mode: mode,
        })))
    }

    /// Waive a cmi5 AU for a registration
    ///
    /// The LMS records `waived` (with the reason) and the AU counts as satisfied, and so may its
    /// block and the course (cmi5 §9.3.7). Refused (409) if the AU is already satisfied.
    /// Scope: `launch`.
    #[oai(
        path = "/registrations/:registration/waive",
        method = "post",
        tag = "Tag::Launches",
        operation_id = "waiveAu"
    )]
    async fn waive(
        &self,
        req: &Request,
        Data(state): Data<&AppState>,
        CurrentSite(site): CurrentSite<'_>,
        auth: TokenAuth,
        registration: Path<Uuid>,
        body: Json<WaiveIn>,
    ) -> ApiResult<Done> {
        let t = authorise(state, site, req, &auth, "launch").await?;
        let tx = state.dbs.app.begin(site.entry.id).await?;
        let attempts = db::attempts_by_registration(&tx, registration.0).await?;
        let first = attempts
            .first()
            .ok_or_else(|| problem(StatusCode::NOT_FOUND, Some("registration"), "There is no such registration here."))?
            .clone();
        let o = cat::object(&tx, first.object).await?.ok_or(AppError::NotFound)?;
        let e = learn::enrolment(&tx, first.person, o.course)
            .await?
            .filter(|e| e.id == first.enrolment)
            .ok_or(AppError::NotFound)?;
        let c = cat::course(&tx, o.course).await?.ok_or(AppError::NotFound)?;
        let objects = sessions_of(&tx, e.version.or(c.current_version)).await?;
        let launch = pick_session(&objects, Some(body.au_index), None)?;
        if launch.standard != "cmi5" {
            return Err(problem(StatusCode::BAD_REQUEST, Some("au_index"), "Only a cmi5 AU is waived."));
        }
        let mut a = match attempts.iter().find(|a| a.object == launch.object.id) {
            Some(a) => a.clone(),
            None => {
                let record = serde_json::to_string(&el::Cmi5Record::default()).unwrap_or_default();
                db::new_attempt_as(
                    &tx,
                    &e,
                    launch.object.id,
                    "cmi5",
                    registration.0,
                    record,
                    first.external_actor.clone(),
                )
                .await?
            }
        };
        if !el::waive_au(state, site, &tx, &mut a, &launch, body.reason.as_str()).await? {
            tx.rollback().await?;
            return Err(problem(
                StatusCode::CONFLICT,
                Some("au_index"),
                "That AU is already satisfied in this registration.",
            ));
        }
        audit::record(
            &tx,
            None,
            "cmi5.waived",
            &a.id.to_string(),
            None,
            json!({ "reason": body.reason.as_str(), "api_token": t.id.to_string() }),
        )
        .await?;
        tx.commit().await?;
        Ok(Done::Done)
    }

    /// Abandon a cmi5 session
    ///
    /// The LMS records `abandoned` for the session (cmi5 §9.3.6) and refuses anything more the
    /// AU sends in it. Refused (409) if the session has already ended. Scope: `launch`.
    #[oai(path = "/sessions/:session/abandon", method = "post", tag = "Tag::Launches", operation_id = "abandonSession")]
    async fn abandon(
        &self,
        req: &Request,
        Data(state): Data<&AppState>,
        CurrentSite(site): CurrentSite<'_>,
        auth: TokenAuth,
        session: Path<Uuid>,
    ) -> ApiResult<Done> {
        let t = authorise(state, site, req, &auth, "launch").await?;
        let tx = state.dbs.app.begin(site.entry.id).await?;
        let s = db::cmi5_session(&tx, session.0, true)
            .await?
            .ok_or_else(|| problem(StatusCode::NOT_FOUND, Some("session"), "There is no such cmi5 session here."))?;
        if s.ended_at.is_some() {
            return Err(problem(StatusCode::CONFLICT, Some("session"), "That session has already ended."));
        }
        let a = db::attempt(&tx, s.attempt).await?.ok_or(AppError::NotFound)?;
        let launch = el::launch_of(&tx, a.object).await?.ok_or(AppError::NotFound)?;
        let statement = el::abandon_session(site, &tx, &a, &launch, s, chrono::Utc::now()).await?;
        el::record_statements(&tx, &[statement], site).await?;
        audit::record(
            &tx,
            None,
            "cmi5.abandoned",
            &a.id.to_string(),
            None,
            json!({ "session": session.0.to_string(), "api_token": t.id.to_string() }),
        )
        .await?;
        tx.commit().await?;
        Ok(Done::Done)
    }
}

/// The API's service (its OpenAPI description says it is served under `/api/v1`).
pub fn service() -> OpenApiService<LmsApi, ()> {
    OpenApiService::new(LmsApi, "Trellis trust API", "1.0")
        .description(
            "The API of one trust's Trellis site: import courses, enrol staff, launch e-learning, and the LMS's side of cmi5. \
             Authenticate with an API token the trust's administrators issue (Authorization: Bearer). \
             Errors are RFC 9457 problem documents.",
        )
        .server("/api/v1")
}

/// Every answer of the API that is not already a problem document becomes one (a missing
/// token, a body that does not parse, an unknown path), so callers read one kind of error.
pub fn problems<E: Endpoint + 'static>(ep: E) -> impl Endpoint<Output = Response> {
    ep.map_to_response().around(|ep, req| async move {
        let resp = match ep.call(req).await {
            Ok(r) => r,
            Err(e) => e.into_response(),
        };
        let is_problem = resp.content_type().is_some_and(|c| c.starts_with("application/problem+json"));
        if resp.status().is_success() || resp.status().is_redirection() || is_problem {
            return Ok(resp);
        }
        let status = resp.status();
        let text = resp.into_body().into_string().await.unwrap_or_default();
        let field = if status == StatusCode::UNAUTHORIZED { Some("authorization") } else { None };
        let detail =
            if text.trim().is_empty() { status.canonical_reason().unwrap_or("Error").to_owned() } else { text };
        Ok(problem(status, field, detail).into_response())
    })
}
