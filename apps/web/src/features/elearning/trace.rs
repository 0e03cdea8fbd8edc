//! What a training manager sees of packaged learning: the attempts at a course's packaged
//! sessions, and one attempt's trace — its record, every commit exactly as the runtime sent it
//! (with what was done with it), and the statements in the trust's LRS for its registration.

use crate::context::directory::Site;
use crate::error::AppError;
use crate::http::page::{self, RequestInfo};
use crate::http::{Ctx, Member, may};
use poem::http::StatusCode;
use poem::session::Session;
use poem::web::Path;
use poem::{Request, Response, handler};
use serde_json::{Value, json};
use trellis_db::audit;
use trellis_db::elearning as db;
use trellis_domain::{AttemptId, CourseId};

fn when(t: chrono::DateTime<chrono::Utc>, site: &Site) -> String {
    t.with_timezone(&site.zone()).format("%-d %B %Y %H:%M:%S").to_string()
}

fn minutes(cs: i64) -> String {
    trellis_domain::learning::time_words(cs / 100)
}

/// The attempts at a course's packaged sessions, newest first.
#[handler]
pub async fn attempts_page(
    Ctx { req, state, site }: Ctx<'_>,
    _session: &Session,
    member: Member<may::ManageTraining>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let Member { me: _me, tx, .. } = member;
    let course: CourseId = page::path_id(&id)?;
    let c = trellis_db::catalogue::course(&tx, course).await?.ok_or(AppError::NotFound)?;
    let rows = db::attempts_of_course(&tx, course, 200).await?;
    tx.commit().await?;
    let list: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.attempt.id.to_string(),
                "learner": r.learner,
                "session": r.session_title,
                "number": r.attempt.number,
                "standard": r.attempt.standard,
                "completion": r.attempt.completion,
                "success": r.attempt.success,
                "score": r.attempt.score_scaled.map(|s| format!("{:.0}%", s * 100.0)),
                "time": minutes(r.attempt.total_cs),
                "updated": when(r.attempt.updated_at, site),
            })
        })
        .collect();
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        &format!("Attempts: {}", c.title),
        &[("Home", "/"), ("Courses", "/admin/courses")],
    );
    ctx.insert("course", &crate::features::learner::course_json(&c));
    ctx.insert("attempts", &list);
    page::render(state, Some(site), "pages/admin_attempts.html", &ctx, StatusCode::OK)
}

/// One attempt's trace.
#[handler]
pub async fn attempt_page(
    Ctx { req, state, site }: Ctx<'_>,
    _session: &Session,
    member: Member<may::ManageTraining>,
    token: &poem::web::CsrfToken,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let Member { me: _me, tx, .. } = member;
    let id: AttemptId = page::path_id(&id)?;
    let a = db::attempt(&tx, id).await?.ok_or(AppError::NotFound)?;
    let launch = super::launch_of(&tx, a.object).await.map_err(AppError::Internal)?.ok_or(AppError::NotFound)?;
    let learner = trellis_db::identity::member_person(&tx, a.person).await?;
    let commits = db::commits(&tx, a.id, 2000).await?;
    let q = trellis_db::xapi::Query { registration: Some(a.registration), limit: 500, ..Default::default() };
    let statements = trellis_db::xapi::query(&tx, &q).await?;
    tx.commit().await?;
    let commits: Vec<Value> = commits
        .iter()
        .map(|c| {
            let pretty = serde_json::from_str::<Value>(&c.payload)
                .ok()
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or_else(|| c.payload.clone());
            json!({
                "launch": c.launch,
                "seq": c.seq,
                "received": when(c.received_at, site),
                "outcome": c.outcome,
                "applied": c.outcome == "applied",
                "payload": pretty,
            })
        })
        .collect();
    let statements: Vec<Value> = statements
        .iter()
        .filter_map(|s| serde_json::from_str::<Value>(&s.body).ok())
        .filter(|s| {
            s.pointer("/object/id")
                .and_then(Value::as_str)
                .is_some_and(|o| o.starts_with(&super::au_activity_id(site, &launch)))
        })
        .map(|s| {
            json!({
                "verb": s.pointer("/verb/id").and_then(Value::as_str).and_then(|v| v.rsplit('/').next()).unwrap_or(""),
                "object": s.pointer("/object/id"),
                "stored": s.get("stored"),
                "result": s.get("result").map(|r| r.to_string()),
            })
        })
        .collect();
    let name =
        learner.map(|p| format!("{} {}", p.given_name, p.family_name)).unwrap_or_else(|| "(former member)".into());
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        &format!("Attempt {} of {}", a.number, launch.object.title),
        &[("Home", "/"), ("Attempts", &format!("/admin/courses/{}/attempts", launch.object.course))],
    );
    ctx.insert(
        "attempt",
        &json!({
            "id": a.id.to_string(),
            "number": a.number,
            "learner": name,
            "session": launch.object.title,
            "standard": a.standard,
            "registration": a.registration.to_string(),
            "completion": a.completion,
            "success": a.success,
            "score": a.score_scaled.map(|s| format!("{:.0}%", s * 100.0)),
            "raw": a.score_raw, "min": a.score_min, "max": a.score_max,
            "time": minutes(a.total_cs),
            "launches": a.launches,
            "started": when(a.started_at, site),
            "updated": when(a.updated_at, site),
            "completed": a.completed_at.map(|t| when(t, site)),
            "record": serde_json::from_str::<Value>(&a.record).ok().and_then(|v| serde_json::to_string_pretty(&v).ok()).unwrap_or_default(),
            "waivable": a.standard == "cmi5" && !super::Cmi5Record::of(&a).satisfied,
        }),
    );
    ctx.insert("commits", &commits);
    ctx.insert("statements", &statements);
    ctx.insert("csrf_token", &token.0);
    ctx.insert("waive_reasons", &WAIVE_REASONS);
    page::render(state, Some(site), "pages/admin_attempt.html", &ctx, StatusCode::OK)
}

use super::WAIVE_REASONS;

#[derive(Debug, serde::Deserialize, Default)]
pub struct WaiveForm {
    #[serde(default)]
    reason: String,
}

/// A training manager waives a cmi5 AU for the learner (cmi5 §9.3.7): the LMS's `waived`
/// statement, in a session of its own, and the AU counts as satisfied (so may its block and the
/// course).
#[handler]
pub async fn waive(
    req: &Request,
    Ctx { state, site, .. }: Ctx<'_>,
    _session: &Session,
    member: Member<may::ManageTraining>,
    Path(id): Path<String>,
    poem::web::Form(form): poem::web::Form<WaiveForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let id: AttemptId = page::path_id(&id)?;
    if !WAIVE_REASONS.contains(&form.reason.as_str()) {
        return Err(AppError::BadRequest(format!("Choose why the AU is waived: {}.", WAIVE_REASONS.join(", "))));
    }
    let mut a = db::attempt(&tx, id).await?.ok_or(AppError::NotFound)?;
    let launch = super::launch_of(&tx, a.object).await.map_err(AppError::Internal)?.ok_or(AppError::NotFound)?;
    if launch.standard != "cmi5" {
        return Err(AppError::BadRequest("Only a cmi5 AU can be waived.".into()));
    }
    if super::waive_au(state, site, &tx, &mut a, &launch, &form.reason).await.map_err(AppError::Internal)? {
        audit::record(
            &tx,
            Some(me.person),
            "cmi5.waived",
            &a.id.to_string(),
            None,
            json!({ "reason": form.reason, "session": launch.object.title }),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(page::see_other_saying(
        req,
        &format!("/admin/attempts/{id}"),
        "Waived: this part counts as satisfied for the learner",
    ))
}
