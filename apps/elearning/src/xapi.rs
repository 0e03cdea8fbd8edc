//! xAPI statements checked as the specification requires (2.0.0 and 1.0.3), before an LRS stores
//! them: every property known and of the right shape, agents with exactly one identifier,
//! IRIs with a scheme, language maps keyed by language tags, scores in range, UUIDs, timestamps
//! and durations that parse. An error gives the path of the property at fault
//! (`object.definition.name`) and what is wrong, for the LRS's `400 Bad Request`.

use serde_json::{Map, Value};

/// What is wrong with a statement, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct XapiError {
    pub path: String,
    pub message: String,
}

type Checked = Result<(), XapiError>;

fn bad(path: &str, message: impl Into<String>) -> XapiError {
    XapiError { path: path.to_owned(), message: message.into() }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, XapiError> {
    v.as_object().ok_or_else(|| bad(path, "must be a JSON object"))
}

fn only(map: &Map<String, Value>, path: &str, allowed: &[&str]) -> Checked {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(bad(&join(path, k), "is not a property here")),
        None => Ok(()),
    }
}

fn string<'a>(v: &'a Value, path: &str) -> Result<&'a str, XapiError> {
    v.as_str().ok_or_else(|| bad(path, "must be a string"))
}

/// An absolute IRI: a scheme, a colon, something after it, no spaces.
pub fn is_iri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else { return false };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !s.chars().any(char::is_whitespace)
}

fn iri(v: &Value, path: &str) -> Checked {
    if is_iri(string(v, path)?) {
        Ok(())
    } else {
        Err(bad(path, "must be an absolute IRI (with a scheme, like https:)"))
    }
}

/// A UUID in its hyphenated text form.
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter()
            .enumerate()
            .all(|(i, c)| if [8, 13, 18, 23].contains(&i) { *c == b'-' } else { c.is_ascii_hexdigit() })
}

fn uuid(v: &Value, path: &str) -> Checked {
    if is_uuid(string(v, path)?) { Ok(()) } else { Err(bad(path, "must be a UUID")) }
}

/// An RFC 5646 language tag, as far as its shape goes (`en`, `en-GB`, `zh-Hant-TW`).
pub fn is_language_tag(s: &str) -> bool {
    let mut parts = s.split('-');
    let first_ok =
        parts.next().is_some_and(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    first_ok && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn language_map(v: &Value, path: &str) -> Checked {
    for (k, text) in object(v, path)? {
        if !is_language_tag(k) {
            return Err(bad(&join(path, k), "is not a language tag (like en-GB)"));
        }
        string(text, &join(path, k))?;
    }
    Ok(())
}

fn extensions(v: &Value, path: &str) -> Checked {
    for k in object(v, path)?.keys() {
        if !is_iri(k) {
            return Err(bad(&join(path, k), "extension keys must be IRIs"));
        }
    }
    Ok(())
}

/// An ISO 8601 timestamp with a date and a time (and, if given, an offset), as xAPI requires.
fn timestamp(v: &Value, path: &str) -> Checked {
    let s = string(v, path)?;
    // RFC 3339 §4.3: "-00:00" means an unknown offset, which xAPI does not allow (nor -00, -0000).
    if s.ends_with("-00:00") || s.ends_with("-0000") || s.ends_with("-00") {
        return Err(bad(path, "an offset of -00:00 (unknown) is not allowed: use Z or +00:00"));
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|_| ())
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").map(|_| ()))
        .map_err(|_| bad(path, "must be an ISO 8601 timestamp (like 2026-11-22T09:30:00Z)"))
}

/// An agent's identifiers: exactly one for an agent or identified group.
fn identifiers(map: &Map<String, Value>, path: &str) -> Result<usize, XapiError> {
    let mut n = 0;
    if let Some(v) = map.get("mbox") {
        let s = string(v, &join(path, "mbox"))?;
        let addr = s.strip_prefix("mailto:").ok_or_else(|| bad(&join(path, "mbox"), "must be a mailto: IRI"))?;
        if !addr.contains('@') || addr.contains(char::is_whitespace) {
            return Err(bad(&join(path, "mbox"), "must be a mailto: IRI with an email address"));
        }
        n += 1;
    }
    if let Some(v) = map.get("mbox_sha1sum") {
        let s = string(v, &join(path, "mbox_sha1sum"))?;
        if s.len() != 40 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad(&join(path, "mbox_sha1sum"), "must be 40 hexadecimal digits"));
        }
        n += 1;
    }
    if let Some(v) = map.get("openid") {
        iri(v, &join(path, "openid"))?;
        n += 1;
    }
    if let Some(v) = map.get("account") {
        let p = join(path, "account");
        let a = object(v, &p)?;
        only(a, &p, &["homePage", "name"])?;
        iri(a.get("homePage").ok_or_else(|| bad(&p, "needs a homePage"))?, &join(&p, "homePage"))?;
        string(a.get("name").ok_or_else(|| bad(&p, "needs a name"))?, &join(&p, "name"))?;
        n += 1;
    }
    Ok(n)
}

const AGENT_KEYS: &[&str] = &["objectType", "name", "mbox", "mbox_sha1sum", "openid", "account"];

fn agent(map: &Map<String, Value>, path: &str) -> Checked {
    only(map, path, AGENT_KEYS)?;
    if let Some(n) = map.get("name") {
        string(n, &join(path, "name"))?;
    }
    match identifiers(map, path)? {
        1 => Ok(()),
        0 => Err(bad(path, "an agent needs one identifier (mbox, mbox_sha1sum, openid or account)")),
        _ => Err(bad(path, "an agent must have exactly one identifier, not several")),
    }
}

fn group(map: &Map<String, Value>, path: &str) -> Checked {
    let mut keys = AGENT_KEYS.to_vec();
    keys.push("member");
    only(map, path, &keys)?;
    if let Some(n) = map.get("name") {
        string(n, &join(path, "name"))?;
    }
    let ids = identifiers(map, path)?;
    if ids > 1 {
        return Err(bad(path, "a group must have at most one identifier"));
    }
    match map.get("member") {
        Some(m) => {
            let p = join(path, "member");
            let members = m.as_array().ok_or_else(|| bad(&p, "must be an array of agents"))?;
            for (i, a) in members.iter().enumerate() {
                let pi = format!("{p}[{i}]");
                let am = object(a, &pi)?;
                if am.get("objectType").and_then(Value::as_str).is_some_and(|t| t != "Agent") {
                    return Err(bad(&pi, "a group's members are agents"));
                }
                agent(am, &pi)?;
            }
            if ids == 0 && members.is_empty() {
                return Err(bad(&p, "an anonymous group needs members"));
            }
            Ok(())
        }
        None if ids == 0 => Err(bad(path, "an anonymous group needs members")),
        None => Ok(()),
    }
}

/// An actor: an agent, or a group when `objectType` says so.
fn actor(v: &Value, path: &str) -> Checked {
    let map = object(v, path)?;
    match map.get("objectType").map(|t| string(t, &join(path, "objectType"))).transpose()? {
        None | Some("Agent") => agent(map, path),
        Some("Group") => group(map, path),
        Some(other) => Err(bad(&join(path, "objectType"), format!("{other:?} is not Agent or Group"))),
    }
}

/// Checks an agent or group given as a parameter (`agent=` of the LRS's resources).
pub fn check_agent(v: &Value, path: &str) -> Checked {
    actor(v, path)
}

fn verb(v: &Value, path: &str) -> Checked {
    let map = object(v, path)?;
    only(map, path, &["id", "display"])?;
    iri(map.get("id").ok_or_else(|| bad(path, "needs an id"))?, &join(path, "id"))?;
    if let Some(d) = map.get("display") {
        language_map(d, &join(path, "display"))?;
    }
    Ok(())
}

const INTERACTION_TYPES: &[&str] = &[
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
];

fn activity(map: &Map<String, Value>, path: &str) -> Checked {
    only(map, path, &["objectType", "id", "definition"])?;
    iri(map.get("id").ok_or_else(|| bad(path, "an activity needs an id"))?, &join(path, "id"))?;
    let Some(d) = map.get("definition") else { return Ok(()) };
    let p = join(path, "definition");
    let d = object(d, &p)?;
    only(
        d,
        &p,
        &[
            "name",
            "description",
            "type",
            "moreInfo",
            "extensions",
            "interactionType",
            "correctResponsesPattern",
            "choices",
            "scale",
            "source",
            "target",
            "steps",
        ],
    )?;
    for k in ["name", "description"] {
        if let Some(v) = d.get(k) {
            language_map(v, &join(&p, k))?;
        }
    }
    for k in ["type", "moreInfo"] {
        if let Some(v) = d.get(k) {
            iri(v, &join(&p, k))?;
        }
    }
    if let Some(v) = d.get("extensions") {
        extensions(v, &join(&p, "extensions"))?;
    }
    if let Some(t) = d.get("interactionType") {
        let t = string(t, &join(&p, "interactionType"))?;
        if !INTERACTION_TYPES.contains(&t) {
            return Err(bad(&join(&p, "interactionType"), format!("{t:?} is not an interaction type")));
        }
    }
    if let Some(c) = d.get("correctResponsesPattern") {
        let pc = join(&p, "correctResponsesPattern");
        if !d.contains_key("interactionType") {
            return Err(bad(&pc, "only for interactions (an interactionType is needed)"));
        }
        for (i, r) in c.as_array().ok_or_else(|| bad(&pc, "must be an array of strings"))?.iter().enumerate() {
            string(r, &format!("{pc}[{i}]"))?;
        }
    }
    for k in ["choices", "scale", "source", "target", "steps"] {
        let Some(list) = d.get(k) else { continue };
        let pk = join(&p, k);
        if !d.contains_key("interactionType") {
            return Err(bad(&pk, "only for interactions (an interactionType is needed)"));
        }
        for (i, c) in list.as_array().ok_or_else(|| bad(&pk, "must be an array"))?.iter().enumerate() {
            let pi = format!("{pk}[{i}]");
            let c = object(c, &pi)?;
            only(c, &pi, &["id", "description"])?;
            string(c.get("id").ok_or_else(|| bad(&pi, "needs an id"))?, &join(&pi, "id"))?;
            if let Some(v) = c.get("description") {
                language_map(v, &join(&pi, "description"))?;
            }
        }
    }
    Ok(())
}

fn statement_ref(map: &Map<String, Value>, path: &str) -> Checked {
    only(map, path, &["objectType", "id"])?;
    uuid(map.get("id").ok_or_else(|| bad(path, "a statement reference needs an id"))?, &join(path, "id"))
}

/// The statement's object: an activity (the default), agent, group, statement reference or (not
/// inside another) sub-statement. Returns whether it is an activity.
fn statement_object(v: &Value, path: &str, nested: bool) -> Result<bool, XapiError> {
    let map = object(v, path)?;
    match map.get("objectType").map(|t| string(t, &join(path, "objectType"))).transpose()? {
        None | Some("Activity") => activity(map, path).map(|()| true),
        Some("Agent") => agent(map, path).map(|()| false),
        Some("Group") => group(map, path).map(|()| false),
        Some("StatementRef") => statement_ref(map, path).map(|()| false),
        Some("SubStatement") if nested => Err(bad(path, "a sub-statement cannot contain another")),
        Some("SubStatement") => {
            only(
                map,
                path,
                &["objectType", "actor", "verb", "object", "result", "context", "timestamp", "attachments"],
            )?;
            body(map, path, true).map(|()| false)
        }
        Some(other) => Err(bad(&join(path, "objectType"), format!("{other:?} is not an object type"))),
    }
}

fn result(v: &Value, path: &str) -> Checked {
    let map = object(v, path)?;
    only(map, path, &["score", "success", "completion", "response", "duration", "extensions"])?;
    if let Some(s) = map.get("score") {
        let p = join(path, "score");
        let s = object(s, &p)?;
        only(s, &p, &["scaled", "raw", "min", "max"])?;
        let num = |k: &str| -> Result<Option<f64>, XapiError> {
            s.get(k).map(|v| v.as_f64().ok_or_else(|| bad(&join(&p, k), "must be a number"))).transpose()
        };
        let (scaled, raw, min, max) = (num("scaled")?, num("raw")?, num("min")?, num("max")?);
        if scaled.is_some_and(|x| !(-1.0..=1.0).contains(&x)) {
            return Err(bad(&join(&p, "scaled"), "must be between -1 and 1"));
        }
        if let (Some(lo), Some(hi)) = (min, max)
            && lo >= hi
        {
            return Err(bad(&join(&p, "min"), "must be less than max"));
        }
        if let Some(r) = raw {
            if min.is_some_and(|lo| r < lo) {
                return Err(bad(&join(&p, "raw"), "is below min"));
            }
            if max.is_some_and(|hi| r > hi) {
                return Err(bad(&join(&p, "raw"), "is above max"));
            }
        }
    }
    for k in ["success", "completion"] {
        if let Some(v) = map.get(k)
            && !v.is_boolean()
        {
            return Err(bad(&join(path, k), "must be true or false"));
        }
    }
    if let Some(r) = map.get("response") {
        string(r, &join(path, "response"))?;
    }
    if let Some(d) = map.get("duration") {
        let s = string(d, &join(path, "duration"))?;
        crate::time::iso8601(s)
            .map_err(|_| bad(&join(path, "duration"), "must be an ISO 8601 duration (like PT1H30M)"))?;
    }
    if let Some(e) = map.get("extensions") {
        extensions(e, &join(path, "extensions"))?;
    }
    Ok(())
}

fn context(v: &Value, path: &str, object_is_activity: bool) -> Checked {
    let map = object(v, path)?;
    only(
        map,
        path,
        &[
            "registration",
            "instructor",
            "team",
            "contextActivities",
            "revision",
            "platform",
            "language",
            "statement",
            "extensions",
            "contextAgents",
            "contextGroups",
        ],
    )?;
    if let Some(r) = map.get("registration") {
        uuid(r, &join(path, "registration"))?;
    }
    if let Some(i) = map.get("instructor") {
        actor(i, &join(path, "instructor"))?;
    }
    if let Some(t) = map.get("team") {
        let p = join(path, "team");
        let g = object(t, &p)?;
        if g.get("objectType").and_then(Value::as_str) != Some("Group") {
            return Err(bad(&join(&p, "objectType"), "a team is a Group"));
        }
        group(g, &p)?;
    }
    if let Some(ca) = map.get("contextActivities") {
        let p = join(path, "contextActivities");
        let ca = object(ca, &p)?;
        only(ca, &p, &["parent", "grouping", "category", "other"])?;
        for (k, v) in ca {
            let pk = join(&p, k);
            let list: Vec<&Value> = match v {
                Value::Array(a) => a.iter().collect(),
                single => vec![single],
            };
            for (i, a) in list.into_iter().enumerate() {
                let pi = format!("{pk}[{i}]");
                let am = object(a, &pi)?;
                if am.get("objectType").and_then(Value::as_str).is_some_and(|t| t != "Activity") {
                    return Err(bad(&pi, "context activities are activities"));
                }
                activity(am, &pi)?;
            }
        }
    }
    for k in ["revision", "platform"] {
        if let Some(v) = map.get(k) {
            string(v, &join(path, k))?;
            if !object_is_activity {
                return Err(bad(&join(path, k), "only when the statement's object is an activity"));
            }
        }
    }
    if let Some(l) = map.get("language")
        && !is_language_tag(string(l, &join(path, "language"))?)
    {
        return Err(bad(&join(path, "language"), "is not a language tag (like en-GB)"));
    }
    if let Some(s) = map.get("statement") {
        let p = join(path, "statement");
        let s = object(s, &p)?;
        if s.get("objectType").and_then(Value::as_str) != Some("StatementRef") {
            return Err(bad(&join(&p, "objectType"), "must be StatementRef"));
        }
        statement_ref(s, &p)?;
    }
    for (k, kind, inner) in [("contextAgents", "contextAgent", "agent"), ("contextGroups", "contextGroup", "group")] {
        let Some(list) = map.get(k) else { continue };
        let p = join(path, k);
        for (i, e) in list.as_array().ok_or_else(|| bad(&p, "must be an array"))?.iter().enumerate() {
            let pi = format!("{p}[{i}]");
            let e = object(e, &pi)?;
            only(e, &pi, &["objectType", inner, "relevantTypes"])?;
            if e.get("objectType").and_then(Value::as_str) != Some(kind) {
                return Err(bad(&join(&pi, "objectType"), format!("must be {kind}")));
            }
            let who = e.get(inner).ok_or_else(|| bad(&pi, format!("needs {inner}")))?;
            let pw = join(&pi, inner);
            let wm = object(who, &pw)?;
            if inner == "group" {
                if wm.get("objectType").and_then(Value::as_str) != Some("Group") {
                    return Err(bad(&join(&pw, "objectType"), "must be Group"));
                }
                group(wm, &pw)?;
            } else {
                if wm.get("objectType").and_then(Value::as_str).is_some_and(|t| t != "Agent") {
                    return Err(bad(&join(&pw, "objectType"), "must be Agent"));
                }
                agent(wm, &pw)?;
            }
            if let Some(rt) = e.get("relevantTypes") {
                let pr = join(&pi, "relevantTypes");
                let rt = rt.as_array().ok_or_else(|| bad(&pr, "must be an array of IRIs"))?;
                if rt.is_empty() {
                    return Err(bad(&pr, "must not be empty"));
                }
                for (j, t) in rt.iter().enumerate() {
                    iri(t, &format!("{pr}[{j}]"))?;
                }
            }
        }
    }
    if let Some(e) = map.get("extensions") {
        extensions(e, &join(path, "extensions"))?;
    }
    Ok(())
}

fn attachments(v: &Value, path: &str) -> Checked {
    for (i, a) in v.as_array().ok_or_else(|| bad(path, "must be an array"))?.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let a = object(a, &p)?;
        only(a, &p, &["usageType", "display", "description", "contentType", "length", "sha2", "fileUrl"])?;
        iri(a.get("usageType").ok_or_else(|| bad(&p, "needs a usageType"))?, &join(&p, "usageType"))?;
        language_map(a.get("display").ok_or_else(|| bad(&p, "needs a display"))?, &join(&p, "display"))?;
        if let Some(d) = a.get("description") {
            language_map(d, &join(&p, "description"))?;
        }
        string(a.get("contentType").ok_or_else(|| bad(&p, "needs a contentType"))?, &join(&p, "contentType"))?;
        if a.get("length").is_none_or(|l| l.as_u64().is_none()) {
            return Err(bad(&join(&p, "length"), "must be a whole number of bytes"));
        }
        let sha = string(a.get("sha2").ok_or_else(|| bad(&p, "needs a sha2"))?, &join(&p, "sha2"))?;
        if !(sha.len() == 64 || sha.len() == 96 || sha.len() == 128) || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad(&join(&p, "sha2"), "must be a SHA-2 hash in hexadecimal"));
        }
        if let Some(u) = a.get("fileUrl") {
            iri(u, &join(&p, "fileUrl"))?;
        }
    }
    Ok(())
}

/// What a statement and a sub-statement share.
fn body(map: &Map<String, Value>, path: &str, nested: bool) -> Checked {
    actor(map.get("actor").ok_or_else(|| bad(path, "needs an actor"))?, &join(path, "actor"))?;
    verb(map.get("verb").ok_or_else(|| bad(path, "needs a verb"))?, &join(path, "verb"))?;
    let is_activity = statement_object(
        map.get("object").ok_or_else(|| bad(path, "needs an object"))?,
        &join(path, "object"),
        nested,
    )?;
    if let Some(r) = map.get("result") {
        result(r, &join(path, "result"))?;
    }
    if let Some(c) = map.get("context") {
        context(c, &join(path, "context"), is_activity)?;
    }
    if let Some(t) = map.get("timestamp") {
        timestamp(t, &join(path, "timestamp"))?;
    }
    if let Some(a) = map.get("attachments") {
        attachments(a, &join(path, "attachments"))?;
    }
    Ok(())
}

/// An authority: an agent, or (OAuth's consumer and user) an anonymous group of exactly two agents.
fn authority(v: &Value) -> Checked {
    actor(v, "authority")?;
    let map = object(v, "authority")?;
    if map.get("objectType").and_then(Value::as_str) == Some("Group") {
        if identifiers(map, "authority")? > 0 {
            return Err(bad("authority", "an authority group is anonymous (two agents, no identifier)"));
        }
        if map.get("member").and_then(Value::as_array).is_none_or(|m| m.len() != 2) {
            return Err(bad("authority.member", "an authority group has exactly two agents"));
        }
    }
    Ok(())
}

/// Checks one statement as sent to an LRS.
pub fn check_statement(v: &Value) -> Checked {
    let map = object(v, "statement")?;
    only(
        map,
        "",
        &[
            "id",
            "actor",
            "verb",
            "object",
            "result",
            "context",
            "timestamp",
            "stored",
            "authority",
            "version",
            "attachments",
        ],
    )?;
    if let Some(id) = map.get("id") {
        uuid(id, "id")?;
    }
    if let Some(v) = map.get("version") {
        let s = string(v, "version")?;
        let ok = ["1.0.", "2.0."]
            .iter()
            .any(|p| s.strip_prefix(p).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())))
            || s == "1.0"
            || s == "2.0";
        if !ok {
            return Err(bad("version", format!("{s:?} is not an xAPI version (1.0.x or 2.0.x)")));
        }
    }
    if let Some(s) = map.get("stored") {
        timestamp(s, "stored")?;
    }
    if let Some(a) = map.get("authority") {
        authority(a)?;
    }
    body(map, "", false)?;
    // A voiding statement voids a statement: its object is a reference to one.
    if map.get("verb").and_then(|v| v.get("id")).and_then(Value::as_str)
        == Some("http://adlnet.gov/expapi/verbs/voided")
        && map.get("object").and_then(|o| o.get("objectType")).and_then(Value::as_str) != Some("StatementRef")
    {
        return Err(bad("object", "a voiding statement's object is a StatementRef to the statement it voids"));
    }
    Ok(())
}
