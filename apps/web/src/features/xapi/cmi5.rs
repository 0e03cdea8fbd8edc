//! cmi5 in the LRS: what an AU may do with the session token its fetch URL gave it, the
//! statement rules the LMS enforces (cmi5 §9 and §6.3: initialized first and once, the cmi5
//! category and context template, results that fit the verb, completed and passed once per
//! registration, at most one of passed and failed per session, nothing after terminated, nothing
//! judged in Browse or Review mode, no voiding), and what follows from the AU's statements: the
//! session's state, the attempt's record, the learning record (moveOn met), and the `satisfied`
//! statements the LMS makes for blocks and the course.

use super::Call;
use crate::context::launch_token::Claims;
use crate::features::elearning::{self as el, Launch};
use poem::Response;
use poem::http::{Method, StatusCode};
use serde_json::Value;
use trellis_db::elearning::{self as db, Attempt, Cmi5Session};
use trellis_db::xapi::Api;
use trellis_db::{TenantTx, xapi as store};
use trellis_elearning::lrs;
use uuid::Uuid;

pub use super::shape::{CMI5_CATEGORY, MASTERY_EXT, MOVEON_CATEGORY, SESSION_EXT, lms_statement};

const VERB: &str = "http://adlnet.gov/expapi/verbs/";
const ADL_VERB: &str = "https://w3id.org/xapi/adl/verbs/";

/// The short name of a cmi5-defined verb, if the IRI is one.
pub fn cmi5_verb(iri: &str) -> Option<&'static str> {
    let v = match iri.strip_prefix(VERB) {
        Some("launched") => "launched",
        Some("initialized") => "initialized",
        Some("completed") => "completed",
        Some("passed") => "passed",
        Some("failed") => "failed",
        Some("terminated") => "terminated",
        _ => match iri.strip_prefix(ADL_VERB) {
            Some("abandoned") => "abandoned",
            Some("waived") => "waived",
            Some("satisfied") => "satisfied",
            _ => return None,
        },
    };
    Some(v)
}

/// What the token's session stands for, read from the database.
pub struct Au {
    pub attempt: Attempt,
    pub session: Cmi5Session,
    pub launch: Launch,
}

/// Loads the session the token names (`None` if it is not this trust's, or gone).
pub async fn load(tx: &TenantTx, claims: &Claims, lock: bool) -> anyhow::Result<Option<Au>> {
    let Some(session) = db::cmi5_session(tx, claims.subject, lock).await? else { return Ok(None) };
    if session.attempt.as_uuid() != claims.attempt {
        return Ok(None);
    }
    let Some(attempt) = db::attempt(tx, session.attempt).await? else { return Ok(None) };
    let Some(launch) = el::launch_of(tx, attempt.object).await? else { return Ok(None) };
    Ok(Some(Au { attempt, session, launch }))
}

/// A refusal of the AU's statements, naming the cmi5 requirement it breaks.
fn refuse(call: &Call<'_>, requirement: &str, why: &str) -> Response {
    call.fail(StatusCode::FORBIDDEN, &format!("cmi5 requirement {requirement}: {why}."))
}

fn categories(s: &Value) -> Vec<&str> {
    s.pointer("/context/contextActivities/category")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("id").and_then(Value::as_str))
        .collect()
}

fn is_utc(t: &str) -> bool {
    t.ends_with('Z') || t.ends_with("+00:00")
}

/// The AU's statements checked against the session and the registration (cmi5 §9, §10.2.2,
/// §11): `Err` is the 403 to send, naming the requirement, and nothing of the batch is stored.
/// The rules are the specification's, no stricter.
pub async fn check(call: &Call<'_>, claims: &Claims, list: &[Value]) -> Result<(), Response> {
    let loaded = async {
        let tx = call.state.dbs.app.begin_read(call.site.entry.id).await?;
        let au = load(&tx, claims, false).await?;
        tx.commit().await?;
        Ok::<_, anyhow::Error>(au)
    }
    .await
    .map_err(|e| super::server_error(call, e))?;
    let Some(au) = loaded else { return Err(call.fail(StatusCode::UNAUTHORIZED, "The session is over.")) };
    if au.session.ended_at.is_some() {
        // cmi5 8.1.2.0-2 and 9.3.6.0-2: nothing is recorded for a session that has ended.
        return Err(call.fail(StatusCode::UNAUTHORIZED, "The session is over (terminated or abandoned)."));
    }
    let record = el::Cmi5Record::of(&au.attempt);
    let mut verbs = au.session.verbs.clone();
    let actor_key = lrs::agent_key(&el::attempt_actor(call.site, &au.attempt));
    let activity = el::au_activity_id(call.site, &au.launch);
    let registration = au.attempt.registration.to_string();
    let session_id = au.session.id.to_string();
    let mode = au.session.launch_mode.as_str();
    let (mut completed, mut passed) = (record.completed, record.passed);
    for (i, s) in list.iter().enumerate() {
        let n = i + 1;
        let verb_iri = s.pointer("/verb/id").and_then(Value::as_str).unwrap_or_default();
        if verb_iri == lrs::VOIDED {
            return Err(refuse(call, "6.3.0.0-1", "an AU may not void statements"));
        }
        if s.get("id").is_none() {
            return Err(refuse(call, "9.1.0.0-1", &format!("statement {n} has no id")));
        }
        match s.get("timestamp").and_then(Value::as_str) {
            None => return Err(refuse(call, "9.7.0.0-1", &format!("statement {n} has no timestamp"))),
            Some(t) if !is_utc(t) => {
                return Err(refuse(call, "9.7.0.0-2", &format!("statement {n}'s timestamp is not in UTC")));
            }
            Some(_) => {}
        }
        let cats = categories(s);
        let moveon = cats.contains(&MOVEON_CATEGORY);
        let verb = cmi5_verb(verb_iri).filter(|_| cats.contains(&CMI5_CATEGORY));
        if verb.is_some() {
            if s.pointer("/actor/objectType").and_then(Value::as_str).is_some_and(|t| t != "Agent") {
                return Err(refuse(call, "9.2.0.0-2", &format!("statement {n}'s actor is not an Agent")));
            }
            if s.pointer("/actor/account/name").is_none() || s.pointer("/actor/account/homePage").is_none() {
                return Err(refuse(call, "9.2.0.0-3", &format!("statement {n}'s actor has no account")));
            }
        }
        if s.get("actor").and_then(lrs::agent_key) != actor_key {
            return Err(refuse(call, "8.1.3.0-3", &format!("statement {n}'s actor is not the launch's actor")));
        }
        if moveon && !matches!(verb, Some("completed" | "passed" | "failed")) {
            return Err(refuse(
                call,
                "9.6.2.2-2",
                &format!("statement {n} carries the moveOn category but is not completed, passed or failed"),
            ));
        }
        if s.pointer("/context/registration").and_then(Value::as_str) != Some(registration.as_str()) {
            return Err(refuse(call, "9.6.1.0-1", &format!("statement {n} lacks the launch's registration")));
        }
        if s.pointer("/context/extensions").and_then(|e| e.get(SESSION_EXT)).and_then(Value::as_str)
            != Some(session_id.as_str())
        {
            return Err(refuse(call, "9.6.3.1-4", &format!("statement {n} lacks the session id")));
        }
        let grouped = s.pointer("/context/contextActivities/grouping").and_then(Value::as_array).is_some_and(|g| {
            g.iter().any(|x| x.get("id").and_then(Value::as_str) == Some(au.launch.item.identifier.as_str()))
        });
        if !grouped {
            return Err(refuse(
                call,
                "10.2.1.0-6",
                &format!("statement {n}'s context lacks the launch data's contextTemplate (the AU's grouping)"),
            ));
        }
        if !verbs.iter().any(|v| v == "initialized") && verb != Some("initialized") {
            return Err(refuse(call, "9.3.0.0-4", &format!("statement {n} comes before initialized")));
        }
        if verbs.iter().any(|v| v == "terminated") {
            return Err(refuse(call, "9.3.0.0-5", &format!("statement {n} comes after terminated")));
        }
        let Some(verb) = verb else {
            // A cmi5 "allowed" statement: inside the session, and (above) never claiming moveOn.
            continue;
        };
        if s.pointer("/object/id").and_then(Value::as_str) != Some(activity.as_str()) {
            return Err(refuse(call, "8.1.5.0-6", &format!("statement {n}'s object is not the AU's activity id")));
        }
        if matches!(verb, "completed" | "passed" | "failed") {
            match mode {
                "Browse" => return Err(refuse(call, "10.2.2.0-2", &format!("{verb} is not recorded in Browse mode"))),
                "Review" => return Err(refuse(call, "10.2.2.0-3", &format!("{verb} is not recorded in Review mode"))),
                _ => {}
            }
        }
        let result = s.get("result");
        let has = |k: &str| result.and_then(|r| r.get(k)).is_some();
        let flag = |k: &str| result.and_then(|r| r.get(k)).and_then(Value::as_bool);
        let scaled = result.and_then(|r| r.pointer("/score/scaled")).and_then(Value::as_f64);
        if has("completion") && verb != "completed" {
            return Err(refuse(call, "9.5.3.0-2", &format!("{verb} may not carry a completion")));
        }
        if verb == "completed" && flag("completion") != Some(true) {
            return Err(refuse(call, "9.5.3.0-1", "completed has completion true"));
        }
        if has("success") && !matches!(verb, "passed" | "failed") {
            return Err(refuse(call, "9.5.2.0-3", &format!("{verb} may not carry a success")));
        }
        if verb == "passed" && flag("success") != Some(true) {
            return Err(refuse(call, "9.5.2.0-1", "passed has success true"));
        }
        if verb == "failed" && flag("success") != Some(false) {
            return Err(refuse(call, "9.5.2.0-2", "failed has success false"));
        }
        if (has("completion") || has("success")) && !moveon {
            return Err(refuse(call, "9.6.2.2-1", &format!("{verb} carries the moveOn category")));
        }
        if has("score") {
            if !matches!(verb, "passed" | "failed") {
                return Err(refuse(call, "9.5.1.0-2", &format!("{verb} may not carry a score")));
            }
            if result.and_then(|r| r.pointer("/score/raw")).is_some()
                && (result.and_then(|r| r.pointer("/score/min")).is_none()
                    || result.and_then(|r| r.pointer("/score/max")).is_none())
            {
                return Err(refuse(call, "9.5.1.0-3", "a raw score needs min and max"));
            }
            // Judged against the mastery score: the AU says which it used.
            if let Some(m) = au.launch.mastery_score {
                let ext = s.pointer("/context/extensions").and_then(|e| e.get(MASTERY_EXT)).and_then(Value::as_f64);
                if !ext.is_some_and(|e| (e - m).abs() < 1e-9) {
                    return Err(refuse(
                        call,
                        "9.6.3.2-2",
                        &format!(
                            "a scored {verb} carries the launch's mastery score ({m}) as the masteryScore extension"
                        ),
                    ));
                }
            }
        }
        if !has("duration") {
            let req = match verb {
                "terminated" => Some("9.5.4.1-1"),
                "completed" => Some("9.5.4.1-2"),
                "passed" => Some("9.5.4.1-3"),
                "failed" => Some("9.5.4.1-4"),
                _ => None,
            };
            if let Some(req) = req {
                return Err(refuse(call, req, &format!("{verb} needs a result duration")));
            }
        }
        match verb {
            "initialized" => {
                if verbs.iter().any(|v| v == "initialized") {
                    return Err(refuse(call, "9.3.0.0-2", "initialized was already sent in this session"));
                }
                if !au.session.prefs_read {
                    return Err(refuse(
                        call,
                        "11.0.0.0-3",
                        "read the cmi5LearnerPreferences document before initialized",
                    ));
                }
            }
            "terminated" => {}
            "completed" => {
                if verbs.iter().any(|v| v == "completed") {
                    return Err(refuse(call, "9.3.0.0-2", "completed was already sent in this session"));
                }
                if completed {
                    return Err(refuse(call, "9.3.0.0-6", "completed was already sent in this registration"));
                }
                completed = true;
            }
            "passed" => {
                if let (Some(m), Some(sc)) = (au.launch.mastery_score, scaled)
                    && sc < m
                {
                    return Err(refuse(
                        call,
                        "9.3.4.0-2",
                        &format!("passed with a scaled score {sc} below the mastery score {m}"),
                    ));
                }
                if verbs.iter().any(|v| v == "passed") {
                    return Err(refuse(call, "9.3.0.0-2", "passed was already sent in this session"));
                }
                if verbs.iter().any(|v| v == "failed") {
                    return Err(refuse(call, "9.3.0.0-3", "failed was already sent in this session"));
                }
                if passed {
                    return Err(refuse(call, "9.3.0.0-7", "passed was already sent in this registration"));
                }
                passed = true;
            }
            "failed" => {
                if let (Some(m), Some(sc)) = (au.launch.mastery_score, scaled)
                    && sc >= m
                {
                    return Err(refuse(
                        call,
                        "9.3.5.0-2",
                        &format!("failed with a scaled score {sc} at or above the mastery score {m}"),
                    ));
                }
                if verbs.iter().any(|v| v == "failed") {
                    return Err(refuse(call, "9.3.0.0-2", "failed was already sent in this session"));
                }
                if verbs.iter().any(|v| v == "passed") {
                    return Err(refuse(call, "9.3.0.0-3", "passed was already sent in this session"));
                }
                if passed {
                    return Err(refuse(call, "9.3.0.0-8", "failed may not follow passed in a registration"));
                }
            }
            other => {
                // launched, abandoned, waived and satisfied are the LMS's to say.
                return Err(refuse(call, "9.3.0.0-1", &format!("{other} is the LMS's to say, not the AU's")));
            }
        }
        verbs.push(verb.to_owned());
    }
    Ok(())
}

/// What the stored statements change: the session, the attempt, the learning record, and the
/// LMS's `satisfied` statements when a block or the course is satisfied.
pub async fn after_store(
    call: &Call<'_>,
    tx: &TenantTx,
    claims: &Claims,
    stored: &[(Uuid, Value)],
) -> anyhow::Result<()> {
    let Some(mut au) = load(tx, claims, true).await? else { return Ok(()) };
    let now = chrono::Utc::now();
    let mut record = el::Cmi5Record::of(&au.attempt);
    for (_, s) in stored {
        let verb = s.pointer("/verb/id").and_then(Value::as_str).and_then(cmi5_verb);
        let is_cmi5 = categories(s).contains(&CMI5_CATEGORY);
        au.session.last_statement_at = Some(now);
        let Some(verb) = verb.filter(|_| is_cmi5) else { continue };
        au.session.verbs.push(verb.to_owned());
        let secs = s
            .pointer("/result/duration")
            .and_then(Value::as_str)
            .and_then(|d| trellis_elearning::time::iso8601(d).ok())
            .map_or(0, |cs| cs / 100);
        match verb {
            "initialized" => au.session.initialized_at = Some(now),
            "completed" => record.completed = true,
            "passed" => {
                record.passed = true;
                record.score = s.pointer("/result/score/scaled").and_then(Value::as_f64).or(record.score);
            }
            "failed" => {
                record.failed = true;
                record.score = s.pointer("/result/score/scaled").and_then(Value::as_f64).or(record.score);
            }
            "terminated" => {
                au.session.ended_at = Some(now);
                record.seconds += secs;
            }
            _ => {}
        }
    }
    db::save_cmi5_session(tx, &au.session).await?;
    el::save_cmi5(call.state, call.site, tx, &mut au.attempt, &au.launch, record, Some(au.session.id)).await?;
    Ok(())
}

/// The attempt an AU's token is for (its registration and learner), while its session is open
/// (cmi5 8.1.2.0-2).
async fn attempt_of(call: &Call<'_>, claims: &Claims) -> Result<db::Attempt, Response> {
    let tx = call.state.dbs.app.begin_read(call.site.entry.id).await.map_err(|e| super::server_error(call, e))?;
    let au = load(&tx, claims, false).await.map_err(|e| super::server_error(call, e))?;
    let _ = tx.commit().await;
    au.filter(|au| au.session.ended_at.is_none())
        .map(|au| au.attempt)
        .ok_or_else(|| call.fail(StatusCode::UNAUTHORIZED, "The session is over (terminated or abandoned)."))
}

/// Whether an AU may read a stored statement: only one of its own registration whose actor is its
/// own learner (not any statement that happens to carry a registration).
pub async fn may_read(call: &Call<'_>, claims: &Claims, body: &Value) -> Result<bool, Response> {
    let a = attempt_of(call, claims).await?;
    let registration = a.registration.to_string();
    let actor = el::attempt_actor(call.site, &a);
    let same_registration = body
        .pointer("/context/registration")
        .and_then(Value::as_str)
        .is_some_and(|r| r.eq_ignore_ascii_case(&registration));
    let same_actor = body.get("actor").and_then(lrs::agent_key).is_some_and(|k| Some(k) == lrs::agent_key(&actor));
    Ok(same_registration && same_actor)
}

/// An AU's queries see its own registration and learner only.
pub async fn restrict(call: &Call<'_>, claims: &Claims, q: &mut store::Query) -> Result<(), Response> {
    let a = attempt_of(call, claims).await?;
    let own = lrs::agent_hash(&el::attempt_actor(call.site, &a));
    // Asking for another agent finds nothing, rather than widening the query.
    if q.agent.is_some() && q.agent != own {
        q.agent = Some("nobody".into());
        q.related_agents = false;
    } else {
        q.agent = own;
        q.related_agents = false;
    }
    q.registration = Some(a.registration);
    Ok(())
}

/// What an AU may do with documents: its own agent, activity and registration; the LMS's launch
/// data is read-only; learner preferences are the LMS's to write.
pub async fn document_allowed(
    call: &Call<'_>,
    claims: &Claims,
    api: Api,
    agent: &Option<Value>,
    activity: Option<&str>,
    registration: Option<&str>,
    doc_id: Option<&str>,
) -> Result<(), Response> {
    let tx = call.state.dbs.app.begin(call.site.entry.id).await.map_err(|e| super::server_error(call, e))?;
    let au = load(&tx, claims, true).await.map_err(|e| super::server_error(call, e))?;
    let Some(mut au) = au.filter(|au| au.session.ended_at.is_none()) else {
        // cmi5 8.1.2.0-2: the token is good for its session only, not after it ends.
        return Err(call.fail(StatusCode::UNAUTHORIZED, "The session is over (terminated or abandoned)."));
    };
    let actor = el::attempt_actor(call.site, &au.attempt);
    let same_agent = agent.as_ref().is_none_or(|a| lrs::agent_key(a) == lrs::agent_key(&actor));
    let reading = matches!(call.method, Method::GET | Method::HEAD);
    let verdict = match api {
        Api::State => {
            if !same_agent {
                Err(("8.1.3.0-3", "the state of another learner"))
            } else if activity != Some(el::au_activity_id(call.site, &au.launch).as_str())
                || registration != Some(au.attempt.registration.to_string().as_str())
            {
                Err(("8.1.2.0-2", "the session's token covers its own AU and registration only"))
            } else if doc_id == Some("LMS.LaunchData") && !reading {
                Err(("10.2.1.0-5", "LMS.LaunchData is the LMS's"))
            } else {
                Ok(())
            }
        }
        Api::AgentProfile => {
            if !same_agent {
                Err(("11.0.0.0-1", "another learner's profile"))
            } else if doc_id == Some("cmi5LearnerPreferences") && !reading {
                Err(("11.0.0.0-2", "learner preferences are kept by the LMS"))
            } else {
                if reading && doc_id == Some("cmi5LearnerPreferences") && !au.session.prefs_read {
                    au.session.prefs_read = true;
                    db::save_cmi5_session(&tx, &au.session).await.map_err(|e| super::server_error(call, e))?;
                }
                Ok(())
            }
        }
        Api::ActivityProfile => Ok(()),
    };
    tx.commit().await.map_err(|e| super::server_error(call, e))?;
    verdict.map_err(|(req, why)| refuse(call, req, why))
}

/// A document an AU read (nothing more to note beyond [`document_allowed`]).
pub async fn document_read(_call: &Call<'_>, _claims: &Claims, _api: Api, _doc_id: &str) -> anyhow::Result<()> {
    Ok(())
}
