//! What an LRS does to statements apart from storing them: the canonical key of an agent (its
//! inverse functional identifier) and of an activity, what a statement mentions (for the
//! `agent`, `activity` and `related_*` filters), the properties the LRS sets on storing it, the
//! forms it returns them in (`exact`, `ids`, `canonical`), the merging of activity definitions,
//! and the comparison of a signed statement with its signature's payload.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// The verb that voids a statement.
pub const VOIDED: &str = "http://adlnet.gov/expapi/verbs/voided";
/// The attachment usage type of a statement's signature.
pub const SIGNATURE: &str = "http://adlnet.gov/expapi/attachments/signature";

/// A short, fixed-length key for an identifier of any length (IRIs can be long): 32 hex digits of
/// its SHA-256.
pub fn key_hash(canonical: &str) -> String {
    let d = Sha256::digest(canonical.as_bytes());
    hex(&d[..16])
}

fn hex(b: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(H[usize::from(x >> 4)] as char);
        s.push(H[usize::from(x & 15)] as char);
    }
    s
}

/// The canonical form of an agent's or identified group's identifier (`mbox:mailto:…`,
/// `account:<homePage> <name>`, …); `None` for an anonymous group or anything without one.
pub fn agent_key(v: &Value) -> Option<String> {
    let m = v.as_object()?;
    if let Some(s) = m.get("mbox").and_then(Value::as_str) {
        return Some(format!("mbox:{}", s.to_lowercase()));
    }
    if let Some(s) = m.get("mbox_sha1sum").and_then(Value::as_str) {
        return Some(format!("mbox_sha1sum:{}", s.to_lowercase()));
    }
    if let Some(s) = m.get("openid").and_then(Value::as_str) {
        return Some(format!("openid:{s}"));
    }
    let a = m.get("account")?.as_object()?;
    Some(format!("account:{} {}", a.get("homePage")?.as_str()?, a.get("name")?.as_str()?))
}

/// The key an activity id is matched by.
pub fn activity_key(id: &str) -> String {
    key_hash(&format!("activity:{id}"))
}

/// The key an agent is matched by (see [`agent_key`]).
pub fn agent_hash(v: &Value) -> Option<String> {
    agent_key(v).map(|k| key_hash(&k))
}

/// The key a verb is matched by.
pub fn verb_key(id: &str) -> String {
    key_hash(&format!("verb:{id}"))
}

/// One thing a statement mentions, for the filters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mention {
    /// `agent` or `activity`.
    pub kind: &'static str,
    pub key: String,
    /// Found only where `related_agents` / `related_activities` look (context, sub-statement,
    /// authority, group members), not as the statement's actor or object.
    pub related_only: bool,
}

fn agents_in(v: &Value, related_only: bool, out: &mut Vec<Mention>) {
    if let Some(k) = agent_hash(v) {
        out.push(Mention { kind: "agent", key: k, related_only });
    }
    // A group's members are related to it.
    if let Some(members) = v.get("member").and_then(Value::as_array) {
        for m in members {
            if let Some(k) = agent_hash(m) {
                out.push(Mention { kind: "agent", key: k, related_only: true });
            }
        }
    }
}

fn is_agent_object(o: &Value) -> bool {
    matches!(o.get("objectType").and_then(Value::as_str), Some("Agent" | "Group"))
}

fn statement_mentions(s: &Value, related: bool, out: &mut Vec<Mention>) {
    if let Some(a) = s.get("actor") {
        agents_in(a, related, out);
    }
    if let Some(o) = s.get("object") {
        match o.get("objectType").and_then(Value::as_str) {
            Some("SubStatement") => statement_mentions(o, true, out),
            Some("StatementRef") => {}
            _ if is_agent_object(o) => agents_in(o, related, out),
            _ => {
                if let Some(id) = o.get("id").and_then(Value::as_str) {
                    out.push(Mention { kind: "activity", key: activity_key(id), related_only: related });
                }
            }
        }
    }
    if let Some(c) = s.get("context") {
        for k in ["instructor", "team"] {
            if let Some(a) = c.get(k) {
                agents_in(a, true, out);
            }
        }
        for list in ["contextAgents", "contextGroups"] {
            for e in c.get(list).and_then(Value::as_array).into_iter().flatten() {
                if let Some(a) = e.get("agent").or_else(|| e.get("group")) {
                    agents_in(a, true, out);
                }
            }
        }
        if let Some(ca) = c.get("contextActivities").and_then(Value::as_object) {
            for v in ca.values() {
                let list: Vec<&Value> = match v {
                    Value::Array(a) => a.iter().collect(),
                    other => vec![other],
                };
                for a in list {
                    if let Some(id) = a.get("id").and_then(Value::as_str) {
                        out.push(Mention { kind: "activity", key: activity_key(id), related_only: true });
                    }
                }
            }
        }
    }
}

/// Everything the statement mentions, each once (a direct mention wins over a related one).
pub fn mentions(statement: &Value) -> Vec<Mention> {
    let mut out = Vec::new();
    statement_mentions(statement, false, &mut out);
    if let Some(a) = statement.get("authority") {
        agents_in(a, true, &mut out);
    }
    out.sort_by(|a, b| (a.kind, &a.key, a.related_only).cmp(&(b.kind, &b.key, b.related_only)));
    out.dedup_by(|later, earlier| later.kind == earlier.kind && later.key == earlier.key);
    out
}

/// The statement's primary keys for the direct filters: (actor, object, verb).
pub fn primary_keys(statement: &Value) -> (String, String, String) {
    let actor = statement.get("actor").and_then(agent_hash).unwrap_or_default();
    let object = match statement.get("object") {
        Some(o) if is_agent_object(o) => agent_hash(o).unwrap_or_default(),
        Some(o) if o.get("objectType").and_then(Value::as_str) == Some("StatementRef") => String::new(),
        Some(o) if o.get("objectType").and_then(Value::as_str) == Some("SubStatement") => String::new(),
        Some(o) => o.get("id").and_then(Value::as_str).map(activity_key).unwrap_or_default(),
        None => String::new(),
    };
    let verb = statement.pointer("/verb/id").and_then(Value::as_str).map(verb_key).unwrap_or_default();
    (actor, object, verb)
}

/// The statement a StatementRef object points at, if the object is one.
pub fn statement_ref(statement: &Value) -> Option<&str> {
    let o = statement.get("object")?;
    (o.get("objectType").and_then(Value::as_str) == Some("StatementRef")).then(|| o.get("id")?.as_str())?
}

/// Whether the statement voids another.
pub fn is_voiding(statement: &Value) -> bool {
    statement.pointer("/verb/id").and_then(Value::as_str) == Some(VOIDED)
}

/// Context activities given as a single object are stored (and returned) as arrays; a top-level
/// `"timestamp": null` is treated as absent.
pub fn normalise(statement: &mut Value) {
    fn ctx(s: &mut Value) {
        if let Some(ca) = s.pointer_mut("/context/contextActivities").and_then(Value::as_object_mut) {
            for v in ca.values_mut() {
                if v.is_object() {
                    *v = Value::Array(vec![v.take()]);
                }
            }
        }
    }
    if let Some(m) = statement.as_object_mut()
        && m.get("timestamp").is_some_and(Value::is_null)
    {
        m.remove("timestamp");
    }
    ctx(statement);
    if let Some(o) = statement.get_mut("object")
        && o.get("objectType").and_then(Value::as_str) == Some("SubStatement")
    {
        ctx(o);
    }
}

/// How statements are returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Exact,
    Ids,
    Canonical,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "exact" => Some(Format::Exact),
            "ids" => Some(Format::Ids),
            "canonical" => Some(Format::Canonical),
            _ => None,
        }
    }
}

fn agent_ids(a: &Value) -> Value {
    let Some(m) = a.as_object() else { return a.clone() };
    let mut out = Map::new();
    for k in ["objectType", "mbox", "mbox_sha1sum", "openid", "account"] {
        if let Some(v) = m.get(k) {
            out.insert(k.to_owned(), v.clone());
        }
    }
    // An anonymous group is known by its members.
    if agent_key(a).is_none()
        && let Some(members) = m.get("member").and_then(Value::as_array)
    {
        out.insert("member".into(), Value::Array(members.iter().map(agent_ids).collect()));
    }
    Value::Object(out)
}

/// The language a client prefers from an `Accept-Language` header's tags (best first).
fn pick_language<'a>(map: &'a Map<String, Value>, languages: &[String]) -> Option<(&'a String, &'a Value)> {
    for want in languages {
        if want == "*" {
            break;
        }
        if let Some(hit) = map.iter().find(|(k, _)| k.eq_ignore_ascii_case(want)) {
            return Some(hit);
        }
        if let Some(hit) = map.iter().find(|(k, _)| {
            k.split('-').next().is_some_and(|p| want.split('-').next().is_some_and(|w| p.eq_ignore_ascii_case(w)))
        }) {
            return Some(hit);
        }
    }
    map.iter().find(|(k, _)| k.as_str() == "und").or_else(|| map.iter().next())
}

fn canonical_maps(v: &mut Value, languages: &[String]) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                let is_map = matches!(k.as_str(), "display" | "name" | "description");
                if is_map
                    && let Some(lm) = child.as_object()
                    && lm.values().all(Value::is_string)
                {
                    if let Some((lang, text)) = pick_language(lm, languages) {
                        *child = json!({ lang.clone(): text.clone() });
                    }
                    continue;
                }
                if k == "extensions" {
                    continue;
                }
                canonical_maps(child, languages);
            }
        }
        Value::Array(a) => {
            for x in a {
                canonical_maps(x, languages);
            }
        }
        _ => {}
    }
}

/// Parses `Accept-Language` into tags, most wanted first.
pub fn accept_languages(header: &str) -> Vec<String> {
    let mut tags: Vec<(f32, usize, String)> = header
        .split(',')
        .enumerate()
        .filter_map(|(i, part)| {
            let mut bits = part.trim().split(';');
            let tag = bits.next()?.trim();
            if tag.is_empty() {
                return None;
            }
            let q = bits.find_map(|b| b.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok())).unwrap_or(1.0);
            Some((q, i, tag.to_owned()))
        })
        .collect();
    tags.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    tags.into_iter().map(|(_, _, t)| t).collect()
}

fn ids_form(s: &mut Value) {
    if let Some(a) = s.get_mut("actor") {
        *a = agent_ids(a);
    }
    if let Some(v) = s.get_mut("verb")
        && let Some(id) = v.get("id").cloned()
    {
        *v = json!({ "id": id });
    }
    if let Some(o) = s.get_mut("object") {
        match o.get("objectType").and_then(Value::as_str) {
            Some("SubStatement") => {
                let mut sub = o.take();
                ids_form(&mut sub);
                *o = sub;
            }
            Some("StatementRef") => {}
            _ if is_agent_object(o) => *o = agent_ids(o),
            _ => {
                if let Some(id) = o.get("id").cloned() {
                    *o = json!({ "id": id });
                }
            }
        }
    }
    if let Some(c) = s.get_mut("context").and_then(Value::as_object_mut) {
        for k in ["instructor", "team"] {
            if let Some(a) = c.get_mut(k) {
                *a = agent_ids(a);
            }
        }
        if let Some(ca) = c.get_mut("contextActivities").and_then(Value::as_object_mut) {
            for list in ca.values_mut() {
                if let Some(arr) = list.as_array_mut() {
                    for a in arr {
                        if let Some(id) = a.get("id").cloned() {
                            *a = json!({ "id": id });
                        }
                    }
                }
            }
        }
    }
    if let Some(a) = s.get_mut("authority") {
        *a = agent_ids(a);
    }
}

/// A stored statement in the form asked for. `canonical`: language maps cut to the one language
/// the client prefers (and activity definitions as the LRS knows them, when given).
pub fn render(stored: &Value, format: Format, languages: &[String]) -> Value {
    let mut s = stored.clone();
    match format {
        Format::Exact => {}
        Format::Ids => ids_form(&mut s),
        Format::Canonical => canonical_maps(&mut s, languages),
    }
    s
}

/// Merges a newly seen activity definition into the one kept: language maps merge per language,
/// other properties are replaced when given. Returns whether anything changed.
pub fn merge_definition(kept: &mut Value, new: &Value) -> bool {
    let (Some(k), Some(n)) = (kept.as_object_mut(), new.as_object()) else {
        if kept != new {
            *kept = new.clone();
            return true;
        }
        return false;
    };
    let mut changed = false;
    for (key, v) in n {
        let is_map = matches!(key.as_str(), "name" | "description");
        match (is_map, k.get_mut(key)) {
            (true, Some(Value::Object(existing))) if v.is_object() => {
                for (lang, text) in v.as_object().into_iter().flatten() {
                    if existing.get(lang) != Some(text) {
                        existing.insert(lang.clone(), text.clone());
                        changed = true;
                    }
                }
            }
            (_, Some(existing)) if existing == v => {}
            _ => {
                k.insert(key.clone(), v.clone());
                changed = true;
            }
        }
    }
    changed
}

/// Two statements the same for the LRS's purposes (a repeated id with the same statement is not
/// a conflict): ignoring what the LRS sets (`stored`, `authority`, `version`, `id`) and the
/// attachments of a signed statement; durations compared to the hundredth of a second; times as
/// instants.
pub fn same_statement(a: &Value, b: &Value) -> bool {
    fn strip(v: &Value) -> Value {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            for k in ["stored", "authority", "version", "id", "attachments"] {
                m.remove(k);
            }
        }
        normalise(&mut v);
        v
    }
    equivalent(&strip(a), &strip(b), "")
}

fn equivalent(a: &Value, b: &Value, key: &str) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equivalent(v, w, k)))
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(v, w)| equivalent(v, w, key)),
        (Value::String(x), Value::String(y)) if key == "duration" => {
            match (crate::time::iso8601(x), crate::time::iso8601(y)) {
                (Ok(p), Ok(q)) => p == q,
                _ => x == y,
            }
        }
        (Value::String(x), Value::String(y)) if key == "timestamp" => {
            match (chrono::DateTime::parse_from_rfc3339(x), chrono::DateTime::parse_from_rfc3339(y)) {
                (Ok(p), Ok(q)) => p == q,
                _ => x == y,
            }
        }
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// Why a signature attachment does not match its statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureError(pub String);

fn b64url(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

/// Checks a signed statement's JWS (compact form): an RSA algorithm (RS256, RS384, RS512), a JSON
/// payload, and a payload that is the statement itself. The signature is verified only when the
/// header carries the signer's certificate (`x5c`), which the specification leaves optional.
pub fn check_signature(statement: &Value, jws: &[u8]) -> Result<(), SignatureError> {
    let text = std::str::from_utf8(jws).map_err(|_| SignatureError("the signature is not text".into()))?.trim();
    let mut parts = text.split('.');
    let (Some(h), Some(p), Some(_sig), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(SignatureError("the signature is not a JWS in compact form".into()));
    };
    let header: Value = b64url(h)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| SignatureError("the signature's header is not JSON".into()))?;
    match header.get("alg").and_then(Value::as_str) {
        Some("RS256" | "RS384" | "RS512") => {}
        Some(other) => return Err(SignatureError(format!("the signature uses {other}; RS256, RS384 or RS512 only"))),
        None => return Err(SignatureError("the signature's header has no alg".into())),
    }
    let payload: Value = b64url(p)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| SignatureError("the signature's payload is not JSON".into()))?;
    if !same_statement(&payload, statement) {
        return Err(SignatureError("the signature's payload is not this statement".into()));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn agents_are_keyed_by_their_identifier_whatever_else_they_carry() {
        let a = json!({ "objectType": "Agent", "name": "A", "mbox": "mailto:A@example.com" });
        let b = json!({ "mbox": "mailto:a@example.com" });
        assert_eq!(agent_key(&a), agent_key(&b));
        let acc = json!({ "account": { "homePage": "https://x.example", "name": "42" } });
        assert_eq!(agent_key(&acc).unwrap(), "account:https://x.example 42");
        assert_eq!(agent_key(&json!({ "objectType": "Group", "member": [] })), None);
    }

    #[test]
    fn mentions_separate_actor_and_object_from_related_things() {
        let s = json!({
            "actor": { "mbox": "mailto:a@example.com" },
            "verb": { "id": "http://adlnet.gov/expapi/verbs/attempted" },
            "object": { "id": "http://example.com/a" },
            "context": {
                "instructor": { "mbox": "mailto:i@example.com" },
                "contextActivities": { "parent": { "id": "http://example.com/p" } }
            }
        });
        let m = mentions(&s);
        assert!(m.contains(&Mention {
            kind: "activity",
            key: activity_key("http://example.com/a"),
            related_only: false
        }));
        assert!(m.contains(&Mention {
            kind: "activity",
            key: activity_key("http://example.com/p"),
            related_only: true
        }));
        let i = agent_hash(&json!({ "mbox": "mailto:i@example.com" })).unwrap();
        assert!(m.contains(&Mention { kind: "agent", key: i, related_only: true }));
        assert_eq!(m.len(), 4);
    }

    #[test]
    fn formats_cut_what_they_should() {
        let s = json!({
            "actor": { "objectType": "Agent", "name": "A", "mbox": "mailto:a@example.com" },
            "verb": { "id": "http://v", "display": { "en-GB": "did", "fr-FR": "fit" } },
            "object": { "objectType": "Activity", "id": "http://o", "definition": { "name": { "en-GB": "O", "fr-FR": "O-fr" } } }
        });
        let ids = render(&s, Format::Ids, &[]);
        assert_eq!(ids["verb"], json!({ "id": "http://v" }));
        assert_eq!(ids["object"], json!({ "id": "http://o" }));
        assert_eq!(ids["actor"], json!({ "objectType": "Agent", "mbox": "mailto:a@example.com" }));
        let can = render(&s, Format::Canonical, &accept_languages("fr-FR;q=0.9, en-GB"));
        assert_eq!(can["verb"]["display"], json!({ "en-GB": "did" }));
        assert_eq!(can["object"]["definition"]["name"], json!({ "en-GB": "O" }));
    }

    #[test]
    fn definitions_merge_per_language() {
        let mut kept = json!({ "name": { "en-US": "A" }, "type": "http://t1" });
        assert!(merge_definition(&mut kept, &json!({ "name": { "fr-FR": "B" } })));
        assert_eq!(kept["name"], json!({ "en-US": "A", "fr-FR": "B" }));
        assert!(!merge_definition(&mut kept, &json!({ "name": { "fr-FR": "B" } })));
    }

    #[test]
    fn the_same_statement_ignores_what_the_lrs_set_and_duration_noise() {
        let a = json!({ "actor": {"mbox":"mailto:a@example.com"}, "verb": {"id":"http://v"}, "object": {"id":"http://o"},
                        "result": { "duration": "P1DT12H36M0.1237S" } });
        let mut b = a.clone();
        b["result"]["duration"] = json!("P1DT12H36M0.12S");
        b["stored"] = json!("2026-01-01T00:00:00Z");
        assert!(same_statement(&a, &b));
        b["verb"]["id"] = json!("http://w");
        assert!(!same_statement(&a, &b));
    }
}
