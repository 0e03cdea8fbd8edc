//! Launching a packaged session from the trust's site.
//!
//! `POST /learn/<course>/<session>/launch` starts a launch: the attempt to continue (or a new one,
//! by rule or when the learner asks), counted; for cmi5 a new session (any still open abandoned
//! first, as cmi5 §9.3.6 has it), its `LMS.LaunchData` state and the `launched` statement. Then
//! `GET /learn/<course>/<session>/play/<attempt>/<launch>` shows the content in a frame from the
//! content origin, with a launch token for that attempt only. A cmi5 AU that must have its own
//! window is sent there instead.

use super::content::content_url;
use super::{Cmi5Record, Launch, attempt_actor, au_activity_id};
use crate::context::AppState;
use crate::context::directory::Site;
use crate::context::launch_token::{Claims, Purpose};
use crate::error::AppError;
use crate::http::page::{self, RequestInfo, see_other};
use crate::http::{Ctx, Member, may};
use crate::usecases::learning::record::{Did, record};
use poem::http::StatusCode;
use poem::session::Session;
use poem::web::{Form, Path};
use poem::{Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};
use trellis_db::TenantTx;
use trellis_db::elearning::{self as db, Attempt};
use trellis_db::learning::{self as learn, Enrolment, Outcome};
use trellis_db::states::EnrolmentStatus;
use trellis_db::xapi::{self as store, Api, DocScope};
use trellis_domain::{AttemptId, CourseId, ObjectId};
use uuid::Uuid;

/// The learner's enrolment and the packaged session, if they may launch it.
pub async fn learner_launch(
    tx: &TenantTx,
    person: trellis_domain::PersonId,
    course: CourseId,
    object: ObjectId,
) -> Result<(Enrolment, Launch), AppError> {
    let c = trellis_db::catalogue::course(tx, course).await?.ok_or(AppError::NotFound)?;
    let e = learn::enrolment(tx, person, course)
        .await?
        .filter(|e| matches!(e.status, EnrolmentStatus::Active | EnrolmentStatus::Completed))
        .ok_or(AppError::NotFound)?;
    let version = e.version.or(c.current_version).ok_or(AppError::NotFound)?;
    let o = trellis_db::catalogue::objects(tx, version)
        .await?
        .into_iter()
        .find(|o| o.id == object)
        .ok_or(AppError::NotFound)?;
    let launch = super::launch_from(o).ok_or(AppError::NotFound)?;
    Ok((e, launch))
}

/// Whether a SCORM attempt has ended (its SCO exited other than by suspending): the next launch
/// starts a new attempt.
fn scorm_ended(a: &Attempt) -> bool {
    a.ended_at.is_some()
}

#[derive(Debug, Deserialize, Default)]
pub struct LaunchForm {
    /// `new` to start a new attempt; `review` to look back over a finished one.
    #[serde(default)]
    attempt: String,
}

/// How a session is launched (cmi5 §10.2.2 launchMode; SCORM's lesson mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Satisfaction-related data is recorded.
    Normal,
    /// The learner looks around; nothing of completion or success is recorded (cmi5 only).
    Browse,
    /// The learner looks back over what they finished; nothing more is recorded.
    Review,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Normal => "Normal",
            Mode::Browse => "Browse",
            Mode::Review => "Review",
        }
    }
}

/// Starts a launch and sends the learner to it.
#[handler]
pub async fn start_launch(
    Ctx { req, state, site }: Ctx<'_>,
    _session: &Session,
    member: Member<may::Anyone>,
    Path((course, object)): Path<(String, String)>,
    Form(form): Form<LaunchForm>,
) -> Result<Response, AppError> {
    let me = member.release().await?;
    let course: CourseId = page::path_id(&course)?;
    let object: ObjectId = page::path_id(&object)?;
    let started = async {
        let tx = state.dbs.app.begin(site.entry.id).await?;
        let (e, launch) = learner_launch(&tx, me.person, course, object).await?;
        let mode = if form.attempt == "review" { Mode::Review } else { Mode::Normal };
        let (a, n) = start(state, site, &tx, &e, &launch, form.attempt == "new", mode).await?;
        tx.commit().await?;
        Ok::<_, AppError>((a, n))
    }
    .await;
    match started {
        Ok((a, n)) => Ok(see_other(&format!("/learn/{course}/{object}/play/{}/{n}", a.id))),
        // The learner is told, in words, that the launch failed and what to do.
        Err(e) => {
            let (status, why) = match &e {
                AppError::NotFound => (
                    StatusCode::NOT_FOUND,
                    "You are not enrolled on this course any more, or this session is no longer part of it.",
                ),
                _ => {
                    tracing::error!(error = ?e, "a launch failed");
                    (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side while starting it.")
                }
            };
            crate::features::account::message_page(
                state,
                site,
                req,
                status,
                "This session could not be started",
                &format!("{why} Go back to the course and try again; if it keeps happening, tell your training team."),
                Some(("Go to the course", &format!("/courses/{course}"))),
            )
        }
    }
}

/// Continues or starts the attempt and counts a launch of it; for cmi5, opens a session in the
/// launch mode asked for. A SCORM attempt already completed is reopened in review mode.
pub async fn start(
    state: &AppState,
    site: &Site,
    tx: &TenantTx,
    e: &Enrolment,
    launch: &Launch,
    want_new: bool,
    mode: Mode,
) -> Result<(Attempt, i32), AppError> {
    start_as(state, site, tx, e, launch, want_new, mode, None, None).await
}

/// [`start`], for an API caller that may name the registration (a new attempt takes it) and an
/// external learner's actor.
#[allow(clippy::too_many_arguments)] // each is a distinct part of the launch
pub async fn start_as(
    state: &AppState,
    site: &Site,
    tx: &TenantTx,
    e: &Enrolment,
    launch: &Launch,
    want_new: bool,
    mode: Mode,
    registration: Option<Uuid>,
    external_actor: Option<String>,
) -> Result<(Attempt, i32), AppError> {
    let attempts = db::attempts(tx, e, launch.object.id).await?;
    let registration = registration.unwrap_or_else(|| db::registration(e, launch.package));
    let cmi5 = launch.standard == "cmi5";
    let current = attempts.into_iter().next();
    let reviewing = mode == Mode::Review && current.as_ref().is_some_and(|a| a.completed_at.is_some());
    let a = match current {
        // cmi5: one registration (and one attempt) per enrolment cycle.
        Some(a) if cmi5 => a,
        Some(a) if reviewing => a,
        Some(a) if !want_new && !scorm_ended(&a) => a,
        _ => {
            let record =
                if cmi5 { serde_json::to_string(&Cmi5Record::default()).unwrap_or_default() } else { "{}".into() };
            db::new_attempt_as(tx, e, launch.object.id, &launch.standard, registration, record, external_actor).await?
        }
    };
    let n = db::launch(tx, &a).await?;
    // SCORM: continuing an attempt already completed is a review (lesson_mode review, no credit),
    // from this launch on.
    if !cmi5 && a.completed_at.is_some() && !launch.item.asset {
        let mut rec: trellis_elearning::cmi::Attempt = serde_json::from_str(&a.record).unwrap_or_default();
        if rec.review_from == 0 {
            rec.review_from = u32::try_from(n).unwrap_or(u32::MAX);
            let mut kept = a.clone();
            kept.record = serde_json::to_string(&rec).map_err(|e| AppError::Internal(e.into()))?;
            db::save_attempt(tx, &kept).await?;
        }
    }
    // The learning record notes the access now (results follow from the content). A SCORM asset
    // has no API to report through: opening it completes it.
    if launch.item.asset && a.completed_at.is_none() {
        let mut done = a.clone();
        done.completion = "completed".into();
        done.completed_at = Some(chrono::Utc::now());
        db::save_attempt(tx, &done).await?;
    }
    let out = Outcome { completed: launch.item.asset, success: None, score_scaled: None, seconds: 0 };
    record(state, tx, site, e, &launch.object, Did::Result(out)).await?;
    if cmi5 {
        open_cmi5_session(state, site, tx, &a, launch, n, mode).await.map_err(AppError::Internal)?;
    }
    Ok((a, n))
}

/// The cmi5 session of a launch: its id is derived from the attempt and the launch number, so the
/// page that frames it can rebuild its fetch URL.
pub fn cmi5_session_id(state: &AppState, a: AttemptId, launch: i32) -> Uuid {
    let d = state.launch.derive("cmi5 session", &[a.as_uuid().as_bytes(), &launch.to_be_bytes()]);
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Builder::from_random_bytes(b).into_uuid()
}

/// The one-time key of a session's fetch URL (derived, so it need not be kept; only its hash is).
pub fn fetch_key(state: &AppState, session: Uuid) -> String {
    hex::encode(&state.launch.derive("cmi5 fetch", &[session.as_bytes()])[..20])
}

async fn open_cmi5_session(
    state: &AppState,
    site: &Site,
    tx: &TenantTx,
    a: &Attempt,
    launch: &Launch,
    n: i32,
    mode: Mode,
) -> anyhow::Result<()> {
    use crate::features::xapi::cmi5::{self as c5, lms_statement};
    let actor = attempt_actor(site, a);
    let activity = au_activity_id(site, launch);
    let now = chrono::Utc::now();
    let mut statements = Vec::new();
    // A session still open when the next starts was abandoned (cmi5 §9.3.6).
    for old in db::open_cmi5_sessions(tx, a.id).await? {
        statements.push(super::abandon_session(site, tx, a, launch, old, now).await?);
    }
    let session = cmi5_session_id(state, a.id, n);
    let key = fetch_key(state, session);
    db::start_cmi5_session(tx, a, session, mode.as_str(), &super::fetch_key_hash(&key), now).await?;
    let token = content_token(state, site, a, launch, n, now.timestamp() + launch_seconds(state));
    let mut ext = serde_json::Map::new();
    ext.insert("https://w3id.org/xapi/cmi5/context/extensions/launchmode".into(), json!(mode.as_str()));
    ext.insert(
        "https://w3id.org/xapi/cmi5/context/extensions/launchurl".into(),
        json!(au_url_base(state, launch, &token)),
    );
    ext.insert("https://w3id.org/xapi/cmi5/context/extensions/moveon".into(), json!(launch.item.move_on));
    if let Some(m) = launch.mastery_score {
        ext.insert(c5::MASTERY_EXT.into(), json!(m));
    }
    if !launch.item.parameters.is_empty() {
        ext.insert(
            "https://w3id.org/xapi/cmi5/context/extensions/launchparameters".into(),
            json!(launch.item.parameters),
        );
    }
    statements.push(lms_statement(
        site,
        &actor,
        "http://adlnet.gov/expapi/verbs/launched",
        json!({ "objectType": "Activity", "id": activity }),
        a.registration,
        session,
        &[&launch.item.identifier],
        ext,
        None,
    ));
    // LMS.LaunchData (cmi5 §10).
    let mut data = json!({
        "contextTemplate": {
            "contextActivities": { "grouping": [{ "id": launch.item.identifier }] },
            "extensions": { c5::SESSION_EXT: session.to_string() },
        },
        "launchMode": mode.as_str(),
        "moveOn": launch.item.move_on,
        "returnURL": return_url(state, site, launch),
    });
    if !launch.item.parameters.is_empty() {
        data["launchParameters"] = json!(launch.item.parameters);
    }
    if let Some(m) = launch.mastery_score {
        data["masteryScore"] = json!(m);
    }
    if !launch.item.launch_data.is_empty() {
        data["entitlementKey"] = json!({ "courseStructure": launch.item.launch_data });
    }
    let body = serde_json::to_vec(&data)?;
    let etag = format!("\"{}\"", hex::encode(<sha1::Sha1 as sha1::Digest>::digest(&body)));
    let scope = DocScope {
        activity_id: activity.clone(),
        agent_key: trellis_elearning::lrs::agent_hash(&actor).unwrap_or_default(),
        registration: a.registration.to_string(),
    };
    store::put_document(tx, Api::State, &scope, "LMS.LaunchData", "application/json", &body, &etag).await?;
    // NotApplicable AUs are satisfied as soon as there is a registration.
    if launch.item.move_on == "NotApplicable" {
        let mut a2 = a.clone();
        let rec = Cmi5Record::of(a);
        super::save_cmi5(state, site, tx, &mut a2, launch, rec, Some(session)).await?;
    }
    super::record_statements(tx, &statements, site).await
}

/// Where the AU goes when it ends: in a frame, the content origin's page that tells the portal;
/// in its own window, the session's page on the trust's site.
fn return_url(state: &AppState, site: &Site, launch: &Launch) -> String {
    if launch.item.launch_method == "OwnWindow" {
        format!("{}/learn/{}/{}", site.url.trim_end_matches('/'), launch.object.course, launch.object.id)
    } else {
        format!("{}/returned/{}", state.config.content_origin(), site.entry.id)
    }
}

/// The AU's address without the cmi5 parameters (the `launchurl` extension).
fn au_url_base(state: &AppState, launch: &Launch, token: &str) -> String {
    if launch.item.href.starts_with("http://") || launch.item.href.starts_with("https://") {
        return launch.item.href.clone();
    }
    content_url(&state.config.content_origin(), token, &launch.item.href, "")
}

/// How long a launch's token lasts.
fn launch_seconds(state: &AppState) -> i64 {
    i64::try_from(state.config.elearning.launch_hours * 3600).unwrap_or(43_200)
}

/// The content token of a launch (for the same expiry, the same token: a cmi5 launch's is fixed
/// when its session starts, so its launch URL is the one recorded in the `launched` statement).
pub fn content_token(state: &AppState, site: &Site, a: &Attempt, launch: &Launch, n: i32, expires: i64) -> String {
    state.launch.sign(&Claims {
        purpose: Purpose::Content,
        tenant: site.entry.id,
        attempt: a.id.as_uuid(),
        subject: launch.package.as_uuid(),
        launch: u32::try_from(n).unwrap_or(0),
        expires,
    })
}

/// The cmi5 launch URL of an AU (cmi5 §8.1): the AU's address with endpoint, fetch, actor,
/// registration and activityId.
pub fn cmi5_url(state: &AppState, site: &Site, token: &str, a: &Attempt, launch: &Launch, n: i32) -> String {
    let origin = state.config.content_origin();
    let session = cmi5_session_id(state, a.id, n);
    let fetch = format!("{origin}/cmi5/fetch/{}/{session}/{}", site.entry.id, fetch_key(state, session));
    let base = if launch.item.href.starts_with("http://") || launch.item.href.starts_with("https://") {
        launch.item.href.clone()
    } else {
        content_url(&origin, token, &launch.item.href, "")
    };
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    // No trailing slash: libraries append "/statements", "/activities/state" (cmi5.js does).
    q.append_pair("endpoint", &format!("{}/xapi", site.url.trim_end_matches('/')));
    q.append_pair("fetch", &fetch);
    q.append_pair("actor", &attempt_actor(site, a).to_string());
    q.append_pair("registration", &a.registration.to_string());
    q.append_pair("activityId", &au_activity_id(site, launch));
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{}", q.finish())
}

/// The page framing a launch (or, for a cmi5 AU that must have its own window, a redirect to it).
#[handler]
pub async fn play_page(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path((course, object, attempt, n)): Path<(String, String, String, String)>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let course_id: CourseId = page::path_id(&course)?;
    let object_id: ObjectId = page::path_id(&object)?;
    let attempt: AttemptId = page::path_id(&attempt)?;
    let n: i32 = page::path_id(&n)?;
    let (e, launch) = learner_launch(&tx, me.person, course_id, object_id).await?;
    let a = db::attempt(&tx, attempt)
        .await?
        .filter(|a| a.enrolment == e.id && a.object == object_id && a.person == me.person)
        .ok_or(AppError::NotFound)?;
    let title = trellis_db::catalogue::course(&tx, course_id).await?.map(|c| c.title).unwrap_or_default();
    let cmi5_started = if launch.standard == "cmi5" {
        let s = db::cmi5_session(&tx, cmi5_session_id(state, a.id, n), false).await?.ok_or(AppError::NotFound)?;
        Some(s.launched_at)
    } else {
        None
    };
    tx.commit().await?;
    if n < 1 || n > a.launches {
        return Err(AppError::NotFound);
    }
    let expires = match &cmi5_started {
        Some(at) => at.timestamp() + launch_seconds(state),
        None => chrono::Utc::now().timestamp() + launch_seconds(state),
    };
    let token = content_token(state, site, &a, &launch, n, expires);
    let origin = state.config.content_origin();
    let src = if launch.standard == "cmi5" {
        let url = cmi5_url(state, site, &token, &a, &launch, n);
        if launch.item.launch_method == "OwnWindow" {
            return Ok(see_other(&url));
        }
        url
    } else {
        format!("{origin}/run/{token}")
    };
    let back = format!("/learn/{course}/{object}");
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        &launch.object.title,
        &[("My learning", "/learning"), (&title, &format!("/courses/{course}")), (&launch.object.title, &back)],
    );
    ctx.insert("src", &src);
    ctx.insert("content_origin", &origin);
    ctx.insert("back_url", &back);
    ctx.insert("session_title", &launch.object.title);
    ctx.insert("play_js_url", state.themes.asset_url(&site.entry.theme, "js/play.js"));
    let mut resp = page::render(state, Some(site), "pages/play.html", &ctx, StatusCode::OK)?;
    // The frame's source is the content origin: this page's policy allows it (and nothing else).
    let csp = format!("{}; frame-src {origin}", crate::http::middleware::security::CSP);
    if let Ok(v) = poem::http::HeaderValue::from_str(&csp) {
        resp.headers_mut().insert("content-security-policy", v);
    }
    Ok(resp)
}

/// The address a launch opens at: a cmi5 AU's own URL with its launch parameters (its token the
/// one its `launched` statement recorded), or the SCORM runtime page on the content origin.
pub async fn launch_address(
    state: &AppState,
    site: &Site,
    tx: &TenantTx,
    a: &Attempt,
    launch: &Launch,
    n: i32,
) -> Result<String, AppError> {
    let expires = if launch.standard == "cmi5" {
        let s = db::cmi5_session(tx, cmi5_session_id(state, a.id, n), false).await?.ok_or(AppError::NotFound)?;
        s.launched_at.timestamp() + launch_seconds(state)
    } else {
        chrono::Utc::now().timestamp() + launch_seconds(state)
    };
    let token = content_token(state, site, a, launch, n, expires);
    Ok(if launch.standard == "cmi5" {
        cmi5_url(state, site, &token, a, launch, n)
    } else {
        format!("{}/run/{token}", state.config.content_origin())
    })
}

/// What the session page shows of a packaged session: the attempts and how to launch.
pub fn session_view(attempts: &[Attempt], launch: &Launch) -> Value {
    let latest = attempts.first();
    json!({
        "standard": match launch.standard.as_str() {
            "scorm12" => "SCORM 1.2",
            "scorm2004" => "SCORM 2004",
            _ => "cmi5",
        },
        "attempts": attempts.len(),
        "latest": latest.map(|a| json!({
            "number": a.number,
            "completion": a.completion,
            "success": a.success,
            "score_percent": a.score_scaled.map(|s| (s * 100.0).round() as i64),
            "time_spent": trellis_domain::learning::time_words(a.total_cs / 100),
            "started": a.launches > 0,
            "ended": a.ended_at.is_some(),
        })),
        "can_resume": latest.is_some_and(|a| a.launches > 0 && (launch.standard == "cmi5" || !scorm_ended(a))),
        "can_review": latest.is_some_and(|a| a.completed_at.is_some() && !launch.item.asset),
        "cmi5": launch.standard == "cmi5",
        "can_restart": latest.is_some_and(|a| launch.standard != "cmi5" && a.launches > 0),
    })
}
