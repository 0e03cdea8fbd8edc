//! What statements look like, shared by the LRS and the e-learning tier (which writes the LMS's
//! own cmi5 statements and SCORM's mirrored ones): the cmi5 categories and extensions, an LMS
//! statement, a statement's stored row, and the LRS's time format. Depends on nothing above it.

use serde_json::{Value, json};
use trellis_db::xapi as store;
use trellis_elearning::lrs;
use uuid::Uuid;

pub const CMI5_CATEGORY: &str = "https://w3id.org/xapi/cmi5/context/categories/cmi5";
pub const MOVEON_CATEGORY: &str = "https://w3id.org/xapi/cmi5/context/categories/moveon";
pub const SESSION_EXT: &str = "https://w3id.org/xapi/cmi5/context/extensions/sessionid";
pub const MASTERY_EXT: &str = "https://w3id.org/xapi/cmi5/context/extensions/masteryscore";

/// A statement the LMS makes about a session (launched, abandoned, satisfied).
#[allow(clippy::too_many_arguments)] // each is a distinct part of the statement
pub fn lms_statement(
    site: &crate::context::directory::Site,
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

/// The row a statement is stored as.
pub fn new_row(id: Uuid, s: &Value, now: chrono::DateTime<chrono::Utc>) -> store::NewStatement {
    let (actor_key, object_key, verb_key) = lrs::primary_keys(s);
    let timestamp =
        s.get("timestamp")
            .and_then(Value::as_str)
            .and_then(|t| {
                chrono::DateTime::parse_from_rfc3339(t).ok().map(|d| d.with_timezone(&chrono::Utc)).or_else(|| {
                    chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|n| n.and_utc())
                })
            })
            .unwrap_or(now);
    store::NewStatement {
        id,
        stored: now,
        timestamp,
        verb_key,
        object_key,
        actor_key,
        registration: s.pointer("/context/registration").and_then(Value::as_str).and_then(|r| Uuid::parse_str(r).ok()),
        ref_target: lrs::statement_ref(s).and_then(|r| Uuid::parse_str(r).ok()),
        voiding: lrs::is_voiding(s),
        version: s.get("version").and_then(Value::as_str).unwrap_or("1.0.0").to_owned(),
        body: s.to_string(),
        mentions: lrs::mentions(s).into_iter().map(|m| (m.kind, m.key, m.related_only)).collect(),
    }
}

/// The current time as the LRS writes it (RFC 3339, milliseconds, UTC).
pub fn lrs_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}
