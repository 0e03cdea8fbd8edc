//! Hosting, launching and tracking packaged e-learning (SCORM 1.2, SCORM 2004, cmi5).
//!
//! - [`upload`]: a content editor's package upload, checked before anything is stored.
//! - [`play`]: the learner's launch from the trust's site, and the page framing the content.
//! - [`content`]: the content origin (a different site from every trust): the runtime page,
//!   the package's files, SCORM commits and the cmi5 fetch URL, all authorised by launch tokens.
//! - [`trace`]: an administrator's view of one attempt, every commit as it was sent.
//! - here: what they share: how a session is launched, the learner as the LRS knows them, an
//!   attempt's record and how it reaches the learning record and the LRS.

pub mod commits;
pub mod content;
pub mod play;
pub mod trace;
pub mod upload;

use crate::context::AppState;
use crate::context::directory::Site;
use crate::usecases::learning::record::Did;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use trellis_db::TenantTx;
use trellis_db::catalogue::{self as cat, Object};
use trellis_db::elearning::{self as db, Attempt};
use trellis_db::learning::{self as learn, Outcome};
use trellis_domain::{ObjectId, PackageId, PersonId};
use trellis_elearning::lrs;
use uuid::Uuid;

pub use crate::context::launch::{Launch, LaunchSpec};

/// The hash kept of a cmi5 fetch URL's one-time key.
pub fn fetch_key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The session's launch, if it is a packaged one (own or national).
pub async fn launch_of(tx: &TenantTx, object: ObjectId) -> anyhow::Result<Option<Launch>> {
    let Some(o) = cat::object(tx, object).await? else { return Ok(None) };
    Ok(launch_from(o))
}

/// [`launch_of`], kept in memory: a packaged session's row never changes once learners can launch
/// it (published versions are not edited; a package session is never edited), so SCORM commits
/// need not read it each time.
pub async fn launch_cached(
    state: &AppState,
    tx: &TenantTx,
    object: ObjectId,
) -> anyhow::Result<Option<std::sync::Arc<Launch>>> {
    let key = (tx.tenant(), object);
    if let Some(l) = state.launches.get(&key) {
        return Ok(Some(l));
    }
    let Some(l) = launch_of(tx, object).await? else { return Ok(None) };
    let l = std::sync::Arc::new(l);
    state.launches.insert(key, l.clone());
    Ok(Some(l))
}

/// The launch a session's row describes.
pub fn launch_from(o: Object) -> Option<Launch> {
    let package = PackageId::from_uuid(o.package?);
    let spec: LaunchSpec = serde_json::from_str(o.launch.as_deref()?).ok()?;
    Some(Launch {
        package,
        standard: spec.standard,
        course: spec.course,
        mastery_score: spec.item.mastery_score,
        item: spec.item,
        object: o,
    })
}

/// The opaque name a learner has in the trust's learning record: stable, never their email, and
/// different in each trust.
pub fn learner_name(tenant: trellis_domain::TenantId, person: PersonId) -> String {
    let d = Sha256::digest(format!("trellis learner|{tenant}|{person}").as_bytes());
    hex::encode(&d[..16])
}

/// The learner as the LRS knows them: an account on the trust's site with an opaque name.
pub fn learner_actor(site: &Site, person: PersonId) -> Value {
    json!({
        "objectType": "Agent",
        "account": {
            "homePage": site.url.trim_end_matches('/'),
            "name": learner_name(site.entry.id, person),
        },
    })
}

/// The actor an attempt speaks as: the learner's opaque account, or (for an external learner a
/// conformance-scoped API token launched) the actor the caller named.
pub fn attempt_actor(site: &Site, a: &Attempt) -> Value {
    a.external_actor
        .as_deref()
        .and_then(|x| serde_json::from_str(x).ok())
        .unwrap_or_else(|| learner_actor(site, a.person))
}

/// The activity id the LMS gives a session (cmi5 §8.1.5: not the publisher's id, and the same on
/// every launch and in every registration: it follows the session across course versions).
pub fn au_activity_id(site: &Site, launch: &Launch) -> String {
    format!("{}/xapi/activities/session/{}", site.url.trim_end_matches('/'), launch.object.lineage)
}

/// A cmi5 attempt's record: what the AU's statements have said in the registration.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Cmi5Record {
    pub completed: bool,
    pub passed: bool,
    pub failed: bool,
    pub waived: bool,
    pub score: Option<f64>,
    pub seconds: u64,
    pub satisfied: bool,
}

impl Cmi5Record {
    pub fn of(a: &Attempt) -> Self {
        serde_json::from_str(&a.record).unwrap_or_default()
    }

    /// Whether the AU's moveOn criterion is met.
    pub fn meets(&self, move_on: &str) -> bool {
        self.waived
            || match move_on {
                "Passed" => self.passed,
                "Completed" => self.completed,
                "CompletedAndPassed" => self.completed && self.passed,
                "CompletedOrPassed" => self.completed || self.passed,
                _ => true,
            }
    }
}

/// The learner's enrolment an attempt belongs to.
async fn enrolment_of(tx: &TenantTx, a: &Attempt, o: &Object) -> anyhow::Result<Option<learn::Enrolment>> {
    Ok(learn::enrolment(tx, a.person, o.course).await?.filter(|e| e.id == a.enrolment))
}

/// Writes a cmi5 attempt's record, and what follows: the learning record (the session completes
/// when its moveOn is met), and when that satisfies a block or the course, the LMS's `satisfied`
/// statements (in `session`, or a new session id outside one).
pub async fn save_cmi5(
    state: &AppState,
    site: &Site,
    tx: &TenantTx,
    a: &mut Attempt,
    launch: &Launch,
    mut record: Cmi5Record,
    session: Option<Uuid>,
) -> anyhow::Result<()> {
    let was = Cmi5Record::of(a).satisfied;
    record.satisfied = record.meets(&launch.item.move_on);
    a.completion = if record.completed { "completed" } else { "incomplete" }.into();
    a.success = if record.passed {
        "passed"
    } else if record.failed {
        "failed"
    } else {
        "unknown"
    }
    .into();
    a.score_scaled = record.score;
    a.total_cs = i64::try_from(record.seconds * 100).unwrap_or(i64::MAX);
    if record.satisfied && a.completed_at.is_none() {
        a.completed_at = Some(chrono::Utc::now());
    }
    a.record = serde_json::to_string(&record)?;
    db::save_attempt(tx, a).await?;
    let Some(e) = enrolment_of(tx, a, &launch.object).await? else { return Ok(()) };
    let success = if record.passed {
        Some("passed")
    } else if record.failed {
        Some("failed")
    } else {
        None
    };
    let seconds = i32::try_from(record.seconds).unwrap_or(i32::MAX);
    let o = &launch.object;
    let out = Outcome { completed: record.satisfied, success, score_scaled: record.score, seconds };
    crate::usecases::learning::record::record(state, tx, site, &e, o, Did::Result(out)).await?;
    if record.satisfied && !was {
        satisfied_statements(site, tx, a, launch, &e, session.unwrap_or_else(Uuid::new_v4)).await?;
    }
    Ok(())
}

/// Why an AU is waived (cmi5 §9.3.7: the reason extension's values).
pub const WAIVE_REASONS: [&str; 4] = ["Tested Out", "Equivalent AU", "Equivalent Outside Activity", "Administrative"];

/// Waives a cmi5 AU for the attempt's learner (cmi5 §9.3.7): the LMS's `waived` statement, in a
/// session id of its own (9.3.7.0-3), and the AU counts as satisfied (so may its block and the
/// course, whose `satisfied` statements share that session id). False, and nothing done, if the
/// AU is already satisfied (so never two `waived` in a registration, 9.3.7.0-4).
pub async fn waive_au(
    state: &AppState,
    site: &Site,
    tx: &TenantTx,
    a: &mut Attempt,
    launch: &Launch,
    reason: &str,
) -> anyhow::Result<bool> {
    let mut record = Cmi5Record::of(a);
    if record.satisfied {
        return Ok(false);
    }
    let waiver = Uuid::new_v4();
    let mut ext = serde_json::Map::new();
    ext.insert("https://w3id.org/xapi/cmi5/result/extensions/reason".into(), json!(reason));
    let mut statement = crate::features::xapi::shape::lms_statement(
        site,
        &attempt_actor(site, a),
        "https://w3id.org/xapi/adl/verbs/waived",
        json!({ "objectType": "Activity", "id": au_activity_id(site, launch) }),
        a.registration,
        waiver,
        &[&launch.item.identifier],
        Default::default(),
        Some(json!({ "success": true, "completion": true, "extensions": ext })),
    );
    if let Some(cats) = statement.pointer_mut("/context/contextActivities/category").and_then(Value::as_array_mut) {
        cats.push(json!({ "id": crate::features::xapi::shape::MOVEON_CATEGORY }));
    }
    record_statements(tx, &[statement], site).await?;
    record.waived = true;
    save_cmi5(state, site, tx, a, launch, record, Some(waiver)).await?;
    Ok(true)
}

/// Ends an open cmi5 session abnormally (cmi5 §9.3.6): the LMS's `abandoned` statement, with the
/// session's duration as far as the LMS saw it (9.5.4.2-1), and nothing more is accepted for it.
/// Returns the statement, for the caller to record with others in order.
pub async fn abandon_session(
    site: &Site,
    tx: &TenantTx,
    a: &Attempt,
    launch: &Launch,
    mut session: db::Cmi5Session,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Value> {
    let last = session.last_statement_at.unwrap_or(session.launched_at);
    let ms = (last - session.launched_at).num_milliseconds().max(0);
    let duration = format!("PT{}.{:02}S", ms / 1000, (ms % 1000) / 10);
    session.ended_at = Some(now);
    db::save_cmi5_session(tx, &session).await?;
    Ok(crate::features::xapi::shape::lms_statement(
        site,
        &attempt_actor(site, a),
        "https://w3id.org/xapi/adl/verbs/abandoned",
        json!({ "objectType": "Activity", "id": au_activity_id(site, launch) }),
        a.registration,
        session.id,
        &[&launch.item.identifier],
        Default::default(),
        Some(json!({ "duration": duration })),
    ))
}

/// The LMS's `satisfied` statements for the blocks and the course this AU's satisfaction
/// completes (cmi5 §9.3.9).
async fn satisfied_statements(
    site: &Site,
    tx: &TenantTx,
    a: &Attempt,
    launch: &Launch,
    e: &learn::Enrolment,
    session: Uuid,
) -> anyhow::Result<()> {
    use crate::features::xapi::shape::lms_statement;
    let version = e.version.unwrap_or(launch.object.version);
    let siblings: Vec<Launch> = cat::objects(tx, version)
        .await?
        .into_iter()
        .filter(|o| o.package == Some(launch.package.as_uuid()))
        .filter_map(launch_from)
        .collect();
    let done = learn::progress(tx, e).await?;
    let complete = |l: &Launch| done.get(&l.object.id).is_some_and(|p| p.completed_at.is_some());
    let actor = attempt_actor(site, a);
    let base = site.url.trim_end_matches('/');
    let mut out = Vec::new();
    for b in &launch.item.blocks {
        let members: Vec<&Launch> = siblings.iter().filter(|l| l.item.blocks.iter().any(|x| x.id == b.id)).collect();
        if members.iter().all(|l| complete(l)) {
            let object = json!({
                "objectType": "Activity",
                "id": format!("{base}/xapi/activities/block/{}", hex::encode(&Sha256::digest(format!("{}|{}", launch.package, b.id).as_bytes())[..16])),
                "definition": { "type": "https://w3id.org/xapi/cmi5/activitytype/block", "name": { "en-GB": b.title } },
            });
            out.push(lms_statement(
                site,
                &actor,
                "https://w3id.org/xapi/adl/verbs/satisfied",
                object,
                a.registration,
                session,
                &[&b.id],
                Default::default(),
                None,
            ));
        }
    }
    if siblings.iter().all(complete) {
        let object = json!({
            "objectType": "Activity",
            "id": format!("{base}/xapi/activities/course/{}", launch.package),
            "definition": { "type": "https://w3id.org/xapi/cmi5/activitytype/course" },
        });
        out.push(lms_statement(
            site,
            &actor,
            "https://w3id.org/xapi/adl/verbs/satisfied",
            object,
            a.registration,
            session,
            &[&launch.course],
            Default::default(),
            None,
        ));
    }
    let now = chrono::Utc::now();
    let rows: Vec<_> = out
        .iter()
        .filter_map(|s| {
            Some(crate::features::xapi::shape::new_row(Uuid::parse_str(s.get("id")?.as_str()?).ok()?, s, now))
        })
        .collect();
    trellis_db::xapi::insert(tx, &rows).await?;
    Ok(())
}

/// The statements that mirror a SCORM attempt's change in the LRS, so every standard's results
/// are in one record (the learner as an opaque account, never an email address).
pub fn scorm_statements(
    site: &Site,
    a: &Attempt,
    launch: &Launch,
    before: &trellis_elearning::cmi::Attempt,
    after: &trellis_elearning::cmi::Attempt,
    commit: &trellis_elearning::cmi::Commit,
    last: bool,
) -> Vec<Value> {
    use trellis_elearning::cmi::{Completion, Success};
    let actor = attempt_actor(site, a);
    let activity = json!({
        "objectType": "Activity",
        "id": au_activity_id(site, launch),
        "definition": {
            "name": { "en-GB": launch.object.title },
            "type": "http://adlnet.gov/expapi/activities/lesson",
        },
    });
    let now = crate::features::xapi::shape::lrs_time(chrono::Utc::now());
    let context = json!({
        "registration": a.registration.to_string(),
        "contextActivities": { "grouping": [{ "id": launch.course }] },
        "extensions": { "https://trellis.example/xapi/extensions/scorm-attempt": a.number },
    });
    let duration = trellis_elearning::time::to_iso8601(after.total_time());
    let statement = |verb: &str, result: Option<Value>, object: &Value| {
        let mut s = json!({
            "id": Uuid::new_v4().to_string(),
            "timestamp": now,
            "actor": actor,
            "verb": { "id": format!("http://adlnet.gov/expapi/verbs/{verb}"), "display": { "en-US": verb } },
            "object": object,
            "context": context,
        });
        if let Some(r) = result {
            s["result"] = r;
        }
        s
    };
    let score = || {
        let mut sc = serde_json::Map::new();
        for (k, v) in [
            ("scaled", after.score_scaled),
            ("raw", after.score_raw),
            ("min", after.score_min),
            ("max", after.score_max),
        ] {
            if let Some(v) = v {
                sc.insert(k.into(), json!(v));
            }
        }
        Value::Object(sc)
    };
    let mut out = Vec::new();
    if commit.session != before.last.0 && commit.session > before.last.0 {
        out.push(statement(if commit.session == 1 { "initialized" } else { "resumed" }, None, &activity));
    }
    for i in &after.interactions {
        let old = before.interactions.iter().find(|x| x.id == i.id);
        if old.is_some_and(|o| o.fields == i.fields) {
            continue;
        }
        let response = i.fields.get("learner_response").cloned().unwrap_or_default();
        let mut result = json!({ "response": response });
        match i.fields.get("result").map(String::as_str) {
            Some("correct") => result["success"] = json!(true),
            Some("incorrect" | "wrong") => result["success"] = json!(false),
            _ => {}
        }
        let mut definition = json!({ "type": "http://adlnet.gov/expapi/activities/cmi.interaction" });
        if let Some(t) = i.fields.get("type").filter(|t| {
            [
                "true-false",
                "choice",
                "fill-in",
                "long-fill-in",
                "matching",
                "performance",
                "sequencing",
                "likert",
                "numeric",
                "other",
            ]
            .contains(&t.as_str())
        }) {
            definition["interactionType"] = json!(t);
        }
        if let Some(d) = i.fields.get("description").filter(|d| !d.is_empty()) {
            definition["description"] = json!({ "en-GB": d });
        }
        let object = json!({
            "objectType": "Activity",
            "id": format!("{}/interactions/{}", au_activity_id(site, launch), url::form_urlencoded::byte_serialize(i.id.as_bytes()).collect::<String>()),
            "definition": definition,
        });
        out.push(statement("answered", Some(result), &object));
    }
    if after.completion == Completion::Completed && before.completion != Completion::Completed {
        out.push(statement("completed", Some(json!({ "completion": true, "duration": duration })), &activity));
    }
    if after.success != before.success {
        match after.success {
            Success::Passed => out.push(statement(
                "passed",
                Some(json!({ "success": true, "score": score(), "duration": duration })),
                &activity,
            )),
            Success::Failed => out.push(statement(
                "failed",
                Some(json!({ "success": false, "score": score(), "duration": duration })),
                &activity,
            )),
            Success::Unknown => {}
        }
    }
    // How the launch ended, said once: by the finishing commit.
    if last {
        let verb = if after.exit == "suspend" { "suspended" } else { "terminated" };
        out.push(statement(verb, Some(json!({ "duration": duration })), &activity));
    }
    out
}

/// What a SCORM attempt's record tells the learning record.
pub fn scorm_outcome(rec: &trellis_elearning::cmi::Attempt, all_attempts_seconds: i32) -> Outcome {
    use trellis_elearning::cmi::{Completion, Success};
    Outcome {
        completed: rec.completion == Completion::Completed || rec.success == Success::Passed,
        success: match rec.success {
            Success::Passed => Some("passed"),
            Success::Failed => Some("failed"),
            Success::Unknown => None,
        },
        score_scaled: rec.score_scaled,
        seconds: all_attempts_seconds,
    }
}

/// Adds the statements to the LRS in the caller's transaction.
pub async fn record_statements(tx: &TenantTx, statements: &[Value], site: &Site) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    let stored = crate::features::xapi::shape::lrs_time(now);
    let authority = json!({
        "objectType": "Agent",
        "name": site.entry.name,
        "account": { "homePage": format!("{}/xapi", site.url.trim_end_matches('/')), "name": "lms" },
    });
    let mut rows = Vec::with_capacity(statements.len());
    for s in statements {
        let mut s = s.clone();
        lrs::normalise(&mut s);
        s["stored"] = json!(stored);
        s["authority"] = authority.clone();
        s["version"] = json!("1.0.0");
        let Some(id) = s.get("id").and_then(Value::as_str).and_then(|i| Uuid::parse_str(i).ok()) else { continue };
        rows.push(crate::features::xapi::shape::new_row(id, &s, now));
    }
    trellis_db::xapi::insert(tx, &rows).await?;
    Ok(())
}
