//! cmi5 in the LRS: what an AU may do with the session token its fetch URL gave it, the
//! statement rules the LMS enforces (cmi5 §9 and §6.3: initialized first and once, the cmi5
//! category and context template, results that fit the verb, completed and passed once per
//! registration, at most one of passed and failed per session, nothing after terminated, nothing
//! judged in Browse or Review mode, no voiding), and what follows from the AU's statements: the
//! session's state, the attempt's record, the learning record (moveOn met), and the `satisfied`
//! statements the LMS makes for blocks and the course.

use super::{Call, lrs_time};
use crate::routes::elearning::token::Claims;
use crate::routes::elearning::{self as el, Launch};
use poem::Response;
use poem::http::{Method, StatusCode};
use serde_json::{Value, json};
use trellis_db::elearning::{self as db, Attempt, Cmi5Session};
use trellis_db::xapi::Api;
use trellis_db::{TenantTx, xapi as store};
use trellis_elearning::lrs;
use uuid::Uuid;

pub const CMI5_CATEGORY: &str = "https://w3id.org/xapi/cmi5/context/categories/cmi5";
pub const MOVEON_CATEGORY: &str = "https://w3id.org/xapi/cmi5/context/categories/moveon";
pub const SESSION_EXT: &str = "https://w3id.org/xapi/cmi5/context/extensions/sessionid";
pub const MASTERY_EXT: &str = "https://w3id.org/xapi/cmi5/context/extensions/masteryscore";
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

fn forbidden(call: &Call<'_>, why: &str) -> Response {
    call.fail(StatusCode::FORBIDDEN, &format!("cmi5: {why}."))
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

/// The AU's statements checked against the session and the registration (cmi5 §9): `Err` is the
/// 403 to send, and nothing of the batch is stored.
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
        return Err(call.fail(StatusCode::UNAUTHORIZED, "The session is over (terminated or abandoned)."));
    }
    let record = el::Cmi5Record::of(&au.attempt);
    let mut verbs = au.session.verbs.clone();
    let actor_key = lrs::agent_key(&el::learner_actor(call.site, au.attempt.person));
    let activity = el::au_activity_id(call.site, &au.launch);
    let registration = au.attempt.registration.to_string();
    let session_id = au.session.id.to_string();
    let judged = au.session.launch_mode == "Normal";
    let (mut completed, mut passed) = (record.completed, record.passed);
    for (i, s) in list.iter().enumerate() {
        let n = i + 1;
        let verb_iri = s.pointer("/verb/id").and_then(Value::as_str).unwrap_or_default();
        if verb_iri == lrs::VOIDED {
            return Err(forbidden(call, "an AU may not void statements"));
        }
        if s.get("id").is_none() {
            return Err(forbidden(call, &format!("statement {n} has no id")));
        }
        if !s.get("timestamp").and_then(Value::as_str).is_some_and(is_utc) {
            return Err(forbidden(call, &format!("statement {n} needs a UTC timestamp")));
        }
        if s.get("actor").and_then(lrs::agent_key) != actor_key
            || s.pointer("/actor/objectType").and_then(Value::as_str) == Some("Group")
            || s.pointer("/actor/account").is_none()
        {
            return Err(forbidden(call, &format!("statement {n}'s actor is not the launch's actor")));
        }
        if s.pointer("/context/registration").and_then(Value::as_str) != Some(registration.as_str()) {
            return Err(forbidden(call, &format!("statement {n} lacks the launch's registration")));
        }
        if s.pointer("/context/extensions").and_then(|e| e.get(SESSION_EXT)).and_then(Value::as_str)
            != Some(session_id.as_str())
        {
            return Err(forbidden(call, &format!("statement {n} lacks the session id of the context template")));
        }
        let cats = categories(s);
        let moveon = cats.contains(&MOVEON_CATEGORY);
        let verb = cmi5_verb(verb_iri).filter(|_| cats.contains(&CMI5_CATEGORY));
        if verb.is_none() {
            // A cmi5 "allowed" statement: only inside the session, never claiming moveOn.
            if !verbs.iter().any(|v| v == "initialized") || verbs.iter().any(|v| v == "terminated") {
                return Err(forbidden(call, &format!("statement {n} is outside initialized … terminated")));
            }
            if moveon {
                return Err(forbidden(
                    call,
                    &format!("statement {n} carries the moveOn category but is not completed, passed or failed"),
                ));
            }
            continue;
        }
        let verb = verb.unwrap_or_default();
        if s.pointer("/object/id").and_then(Value::as_str) != Some(activity.as_str()) {
            return Err(forbidden(call, &format!("statement {n}'s object is not the AU's activity id")));
        }
        let result = s.get("result");
        let has = |k: &str| result.and_then(|r| r.get(k)).is_some();
        let flag = |k: &str| result.and_then(|r| r.get(k)).and_then(Value::as_bool);
        let duration = has("duration");
        let scaled = result.and_then(|r| r.pointer("/score/scaled")).and_then(Value::as_f64);
        if has("score")
            && result.and_then(|r| r.pointer("/score/raw")).is_some()
            && (result.and_then(|r| r.pointer("/score/min")).is_none()
                || result.and_then(|r| r.pointer("/score/max")).is_none())
        {
            return Err(forbidden(call, "a raw score needs min and max"));
        }
        let mastery_ok = || {
            let ext = s.pointer("/context/extensions").and_then(|e| e.get(MASTERY_EXT)).and_then(Value::as_f64);
            match au.launch.mastery_score {
                Some(m) => ext.is_some_and(|e| (e - m).abs() < 1e-9),
                None => true,
            }
        };
        match verb {
            "initialized" => {
                if !verbs.is_empty() {
                    return Err(forbidden(call, "initialized comes first, and once"));
                }
                if !au.session.prefs_read {
                    return Err(forbidden(call, "read cmi5LearnerPreferences before initialized"));
                }
            }
            "launched" | "abandoned" | "waived" | "satisfied" => {
                return Err(forbidden(call, &format!("{verb} is the LMS's to say")));
            }
            other => {
                if !verbs.iter().any(|v| v == "initialized") {
                    return Err(forbidden(call, &format!("{other} before initialized")));
                }
                if !duration {
                    return Err(forbidden(call, &format!("{other} needs a result duration")));
                }
                match other {
                    "completed" => {
                        if !judged {
                            return Err(forbidden(call, "completed is not judged in Browse or Review mode"));
                        }
                        if flag("completion") != Some(true) || has("success") || has("score") || !moveon {
                            return Err(forbidden(
                                call,
                                "completed has completion true, no success or score, and the moveOn category",
                            ));
                        }
                        if completed {
                            return Err(forbidden(call, "completed was already sent in this registration"));
                        }
                        completed = true;
                    }
                    "passed" | "failed" => {
                        if !judged {
                            return Err(forbidden(call, "passed and failed are not judged in Browse or Review mode"));
                        }
                        let want = other == "passed";
                        if flag("success") != Some(want) || has("completion") || !moveon || !mastery_ok() {
                            return Err(forbidden(
                                call,
                                &format!(
                                    "{other} has success {want}, no completion, the moveOn category and the launch's mastery score"
                                ),
                            ));
                        }
                        if let (Some(m), Some(sc)) = (au.launch.mastery_score, scaled)
                            && ((want && sc < m) || (!want && sc >= m))
                        {
                            return Err(forbidden(
                                call,
                                &format!("{other} with a score that does not fit the mastery score"),
                            ));
                        }
                        if verbs.iter().any(|v| v == "passed" || v == "failed") {
                            return Err(forbidden(call, "one of passed or failed per session"));
                        }
                        if passed {
                            return Err(forbidden(call, "passed was already sent in this registration"));
                        }
                        if want {
                            passed = true;
                        }
                    }
                    "terminated" if moveon => {
                        return Err(forbidden(call, "terminated does not carry the moveOn category"));
                    }
                    _ => {}
                }
            }
        }
        if verbs.iter().any(|v| v == "terminated") {
            return Err(forbidden(call, "nothing follows terminated"));
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

/// The attempt an AU's token is for (its registration and learner).
async fn attempt_of(call: &Call<'_>, claims: &Claims) -> Result<db::Attempt, Response> {
    let tx = call.state.dbs.app.begin_read(call.site.entry.id).await.map_err(|e| super::server_error(call, e))?;
    let a = db::attempt(&tx, trellis_core::AttemptId::from_uuid(claims.attempt))
        .await
        .map_err(|e| super::server_error(call, e))?;
    let _ = tx.commit().await;
    a.ok_or_else(|| call.fail(StatusCode::UNAUTHORIZED, "The session is over."))
}

/// Whether an AU may read a stored statement: only one of its own registration whose actor is its
/// own learner (not any statement that happens to carry a registration).
pub async fn may_read(call: &Call<'_>, claims: &Claims, body: &Value) -> Result<bool, Response> {
    let a = attempt_of(call, claims).await?;
    let registration = a.registration.to_string();
    let actor = el::learner_actor(call.site, a.person);
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
    let own = lrs::agent_hash(&el::learner_actor(call.site, a.person));
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
    let Some(mut au) = au else { return Err(call.fail(StatusCode::UNAUTHORIZED, "The session is over.")) };
    let actor = el::learner_actor(call.site, au.attempt.person);
    let same_agent = agent.as_ref().is_none_or(|a| lrs::agent_key(a) == lrs::agent_key(&actor));
    let reading = matches!(call.method, Method::GET | Method::HEAD);
    let verdict = match api {
        Api::State => {
            if !same_agent
                || activity != Some(el::au_activity_id(call.site, &au.launch).as_str())
                || registration != Some(au.attempt.registration.to_string().as_str())
            {
                Err("the state of another learner, activity or registration")
            } else if doc_id == Some("LMS.LaunchData") && !reading {
                Err("LMS.LaunchData is the LMS's")
            } else {
                Ok(())
            }
        }
        Api::AgentProfile => {
            if !same_agent {
                Err("another learner's profile")
            } else if doc_id == Some("cmi5LearnerPreferences") && !reading {
                Err("learner preferences are kept by the LMS")
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
    verdict.map_err(|why| forbidden(call, why))
}

/// A document an AU read (nothing more to note beyond [`document_allowed`]).
pub async fn document_read(_call: &Call<'_>, _claims: &Claims, _api: Api, _doc_id: &str) -> anyhow::Result<()> {
    Ok(())
}

/// A statement the LMS makes about a session (launched, abandoned, satisfied).
#[allow(clippy::too_many_arguments)] // each is a distinct part of the statement
pub fn lms_statement(
    site: &crate::directory::Site,
    actor: &Value,
    verb: &str,
    object: Value,
    registration: Uuid,
    session: Uuid,
    grouping: &[&str],
    extensions: serde_json::Map<String, Value>,
    result: Option<Value>,
) -> Value {
    let mut ext = serde_json::Map::new();
    ext.insert(SESSION_EXT.into(), json!(session.to_string()));
    ext.extend(extensions);
    let now = lrs_time(chrono::Utc::now());
    let mut s = json!({
        "id": Uuid::new_v4().to_string(),
        "timestamp": now,
        "actor": actor,
        "verb": { "id": verb, "display": { "en-US": verb.rsplit('/').next().unwrap_or(verb) } },
        "object": object,
        "context": {
            "registration": registration.to_string(),
            "contextActivities": {
                "category": [{ "id": CMI5_CATEGORY }],
                "grouping": grouping.iter().map(|g| json!({ "id": g })).collect::<Vec<_>>(),
            },
            "extensions": ext,
        },
        "authority": {
            "objectType": "Agent",
            "name": site.entry.name,
            "account": { "homePage": format!("{}/xapi", site.url.trim_end_matches('/')), "name": "lms" },
        },
        "stored": now,
        "version": "1.0.0",
    });
    if let Some(r) = result {
        s["result"] = r;
    }
    s
}
