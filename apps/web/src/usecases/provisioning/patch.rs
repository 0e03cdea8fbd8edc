//! SCIM PATCH (RFC 7644 §3.5.2) on a kept User, and the small filter language it and list
//! queries use. Paths are `attr`, `attr.sub`, `urn:…:attr` and `attr[sub eq "v" and …].sub`;
//! filters compare with `eq` only (joined by `and`), which is what identity systems send
//! (`userName eq "…"`, `emails[type eq "work"].value`). Anything else is refused with the
//! SCIM error naming the problem (`invalidPath`, `invalidFilter`, `noTarget`), never guessed at.
//!
//! Operations are applied to the kept attributes as JSON; the result is then checked as a whole,
//! exactly as a PUT of it would be (so a PATCH can never keep what a PUT would refuse).

use super::ScimError;
use super::schema::{self, Attr, Kind, USER, USER_ATTRS};
use serde_json::{Map, Value};

/// A token of a filter.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Lit(Value),
}

fn tokens(s: &str) -> Result<Vec<Tok>, ScimError> {
    let bad = |d: &str| ScimError::bad("invalidFilter", d.to_owned());
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            if i >= chars.len() {
                return Err(bad("A quoted value is not closed."));
            }
            i += 1;
            let raw: String = chars[start..i].iter().collect();
            let v: Value = serde_json::from_str(&raw).map_err(|_| bad("A quoted value is not a JSON string."))?;
            out.push(Tok::Lit(v));
        } else if c == '(' || c == ')' || c == '[' || c == ']' {
            return Err(bad("Grouping is not supported: filter with eq, joined by and."));
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '"' {
                i += 1;
            }
            let w: String = chars[start..i].iter().collect();
            match w.as_str() {
                "true" => out.push(Tok::Lit(Value::Bool(true))),
                "false" => out.push(Tok::Lit(Value::Bool(false))),
                "null" => out.push(Tok::Lit(Value::Null)),
                _ => match w.parse::<serde_json::Number>() {
                    Ok(n) => out.push(Tok::Lit(Value::Number(n))),
                    Err(_) => out.push(Tok::Word(w)),
                },
            }
        }
    }
    Ok(out)
}

/// A filter: attribute paths each equal to a value (all must hold).
pub fn parse_filter(s: &str) -> Result<Vec<(String, Value)>, ScimError> {
    let toks = tokens(s)?;
    let mut out = Vec::new();
    let mut it = toks.into_iter();
    loop {
        let (Some(Tok::Word(attr)), Some(Tok::Word(op)), Some(Tok::Lit(v))) = (it.next(), it.next(), it.next()) else {
            return Err(ScimError::bad(
                "invalidFilter",
                "The filter must be attribute eq \"value\", joined by and (for example userName eq \"jo@trust.nhs.uk\").",
            ));
        };
        if !op.eq_ignore_ascii_case("eq") {
            return Err(ScimError::bad("invalidFilter", format!("The operator {op} is not supported: use eq.")));
        }
        out.push((attr, v));
        match it.next() {
            None => return Ok(out),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("and") => {}
            Some(_) => return Err(ScimError::bad("invalidFilter", "Join comparisons with and.")),
        }
    }
}

/// Where a path points.
#[derive(Debug)]
struct Target {
    /// The extension's URN, for an extension's attribute.
    ext: Option<&'static str>,
    attr: &'static Attr,
    /// For a multi-valued attribute: which values (sub-attribute, value).
    filter: Option<Vec<(&'static Attr, Value)>>,
    sub: Option<&'static Attr>,
}

fn invalid_path(path: &str) -> ScimError {
    ScimError::bad("invalidPath", format!("The path {path} names no attribute Trellis keeps (see /Schemas)."))
}

fn parse_path(path: &str) -> Result<Target, ScimError> {
    let p = path.trim();
    // A schema's URN, then the attribute.
    let (ext, rest) = if p.len() > 4 && p[..4].eq_ignore_ascii_case("urn:") {
        let mut found = None;
        for (urn, ..) in schema::schemas() {
            if p.len() > urn.len() && p[..urn.len()].eq_ignore_ascii_case(urn) && p.as_bytes()[urn.len()] == b':' {
                found = Some((urn, &p[urn.len() + 1..]));
            }
        }
        let (urn, rest) = found.ok_or_else(|| invalid_path(path))?;
        ((urn != USER).then_some(urn), rest)
    } else {
        (None, p)
    };
    let attrs: &'static [Attr] = match ext {
        Some(urn) => schema::extension(urn).map(|(_, a)| a).ok_or_else(|| invalid_path(path))?,
        None => &USER_ATTRS,
    };
    let (head, filter, tail) = match rest.find('[') {
        Some(open) => {
            let close = rest.rfind(']').filter(|c| *c > open).ok_or_else(|| invalid_path(path))?;
            let tail = &rest[close + 1..];
            let tail =
                if tail.is_empty() { None } else { Some(tail.strip_prefix('.').ok_or_else(|| invalid_path(path))?) };
            (&rest[..open], Some(&rest[open + 1..close]), tail)
        }
        None => match rest.split_once('.') {
            Some((h, t)) => (h, None, Some(t)),
            None => (rest, None, None),
        },
    };
    if ext.is_none() && head.eq_ignore_ascii_case("externalId") && filter.is_none() && tail.is_none() {
        static EXTERNAL: Attr = Attr {
            name: "externalId",
            kind: Kind::Text,
            multi: false,
            required: false,
            unique: false,
            description: "",
            subs: &[],
            canonical: &[],
        };
        return Ok(Target { ext: None, attr: &EXTERNAL, filter: None, sub: None });
    }
    if ext.is_none() && ["id", "meta", "schemas"].iter().any(|r| head.eq_ignore_ascii_case(r)) {
        return Err(ScimError::bad("mutability", format!("{head} is set by the server and cannot be changed.")));
    }
    let attr = schema::find(attrs, head).ok_or_else(|| invalid_path(path))?;
    let sub = match tail {
        Some(t) => Some(schema::find(attr.subs, t).ok_or_else(|| invalid_path(path))?),
        None => None,
    };
    let filter = match filter {
        Some(f) => {
            if !attr.multi {
                return Err(invalid_path(path));
            }
            let mut conds = Vec::new();
            for (a, v) in parse_filter(f)? {
                let s = schema::find(attr.subs, &a).ok_or_else(|| invalid_path(path))?;
                conds.push((s, v));
            }
            Some(conds)
        }
        None => None,
    };
    Ok(Target { ext, attr, filter, sub })
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
        (Value::String(x), Value::Bool(y)) | (Value::Bool(y), Value::String(x)) => {
            x.eq_ignore_ascii_case(&y.to_string())
        }
        _ => a == b,
    }
}

fn matches(item: &Value, conds: &[(&'static Attr, Value)]) -> bool {
    conds.iter().all(|(a, v)| item.get(a.name).is_some_and(|x| same(x, v)))
}

/// A complex value's sub-attributes renamed as the schema spells them (so a merge replaces, not
/// duplicates, `GivenName` over `givenName`).
fn canon(attr: &Attr, v: Value) -> Value {
    match v {
        Value::Object(o) if attr.kind == Kind::Complex => Value::Object(
            o.into_iter().map(|(k, v)| (schema::find(attr.subs, &k).map_or(k, |s| s.name.to_owned()), v)).collect(),
        ),
        Value::Array(xs) => Value::Array(xs.into_iter().map(|x| canon(attr, x)).collect()),
        other => other,
    }
}

fn merge(into: &mut Value, from: Value) {
    match (into.as_object_mut(), from) {
        (Some(o), Value::Object(f)) => {
            for (k, v) in f {
                o.insert(k, v);
            }
        }
        (_, from) => *into = from,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Replace,
    Remove,
}

fn apply_one(doc: &mut Map<String, Value>, op: Op, path: &str, value: Option<Value>) -> Result<(), ScimError> {
    // An extension as a whole.
    if let Some((urn, attrs)) = schema::extension(path.trim()) {
        match (op, value) {
            (Op::Remove, _) => {
                doc.remove(urn);
            }
            (_, Some(Value::Object(v))) => {
                for (k, v) in v {
                    if schema::find(attrs, &k).is_some() {
                        apply_one(doc, op, &format!("{urn}:{k}"), Some(v))?;
                    }
                }
            }
            _ => return Err(ScimError::bad("invalidValue", format!("{urn} takes an object of its attributes."))),
        }
        return Ok(());
    }
    let t = parse_path(path)?;
    let container: &mut Map<String, Value> = match t.ext {
        Some(urn) => {
            let e = doc.entry(urn.to_owned()).or_insert_with(|| Value::Object(Map::new()));
            if !e.is_object() {
                *e = Value::Object(Map::new());
            }
            e.as_object_mut().ok_or_else(|| ScimError::bad("invalidValue", "the extension must be an object"))?
        }
        None => doc,
    };
    let name = t.attr.name.to_owned();
    let value = value.map(|v| canon(t.attr, v));
    if op == Op::Remove {
        if value.is_some() && t.filter.is_none() && t.sub.is_none() && t.attr.multi {
            // Removing given values of a multi-valued attribute (as Entra ID sends for members).
            if let (Some(Value::Array(xs)), Some(v)) = (container.get_mut(&name), value) {
                let gone: Vec<Value> = match v {
                    Value::Array(g) => g,
                    one => vec![one],
                };
                xs.retain(|x| !gone.iter().any(|g| g.get("value").is_some_and(|gv| x.get("value") == Some(gv))));
            }
            return Ok(());
        }
        match (&t.filter, t.sub) {
            (None, None) => {
                container.remove(&name);
            }
            (None, Some(sub)) => match container.get_mut(&name) {
                Some(Value::Object(o)) => {
                    o.remove(sub.name);
                }
                Some(Value::Array(xs)) => {
                    for x in xs.iter_mut().filter_map(Value::as_object_mut) {
                        x.remove(sub.name);
                    }
                }
                _ => {}
            },
            (Some(conds), sub) => {
                let Some(Value::Array(xs)) = container.get_mut(&name) else {
                    return Err(ScimError::bad("noTarget", format!("No value matches {path}.")));
                };
                let before = xs.len();
                match sub {
                    None => xs.retain(|x| !matches(x, conds)),
                    Some(sub) => {
                        for x in xs.iter_mut().filter(|x| matches(x, conds)).filter_map(Value::as_object_mut) {
                            x.remove(sub.name);
                        }
                    }
                }
                if sub.is_none() && xs.len() == before {
                    return Err(ScimError::bad("noTarget", format!("No value matches {path}.")));
                }
            }
        }
        return Ok(());
    }
    let value =
        value.ok_or_else(|| ScimError::bad("invalidValue", format!("The operation on {path} needs a value.")))?;
    match (&t.filter, t.sub) {
        (None, None) => {
            if t.attr.multi {
                let new: Vec<Value> = match value {
                    Value::Array(xs) => xs,
                    one => vec![one],
                };
                match (op, container.get_mut(&name)) {
                    (Op::Add, Some(Value::Array(xs))) => {
                        for n in new {
                            if !xs.contains(&n) {
                                xs.push(n);
                            }
                        }
                    }
                    _ => {
                        container.insert(name, Value::Array(new));
                    }
                }
            } else if t.attr.kind == Kind::Complex && value.is_object() {
                merge(container.entry(name).or_insert_with(|| Value::Object(Map::new())), value);
            } else {
                container.insert(name, value);
            }
        }
        (None, Some(sub)) => match container
            .entry(name)
            .or_insert_with(|| if t.attr.multi { Value::Array(vec![]) } else { Value::Object(Map::new()) })
        {
            Value::Array(xs) if xs.is_empty() => xs.push(serde_json::json!({ sub.name: value })),
            Value::Array(xs) => {
                for x in xs.iter_mut().filter_map(Value::as_object_mut) {
                    x.insert(sub.name.to_owned(), value.clone());
                }
            }
            Value::Object(o) => {
                o.insert(sub.name.to_owned(), value);
            }
            other => *other = serde_json::json!({ sub.name: value }),
        },
        (Some(conds), sub) => {
            let xs = match container.entry(name).or_insert_with(|| Value::Array(vec![])) {
                Value::Array(xs) => xs,
                other => {
                    *other = Value::Array(vec![]);
                    other.as_array_mut().ok_or_else(|| ScimError::bad("invalidValue", "not a list"))?
                }
            };
            let mut hit = false;
            for x in xs.iter_mut().filter(|x| matches(x, conds)) {
                hit = true;
                match sub {
                    Some(sub) => {
                        if let Some(o) = x.as_object_mut() {
                            o.insert(sub.name.to_owned(), value.clone());
                        }
                    }
                    None => merge(x, value.clone()),
                }
            }
            if !hit {
                // No value matches: made from the filter's equalities (Entra ID sets
                // `emails[type eq "work"].value` on a user with no work address this way).
                let mut made = Map::new();
                for (a, v) in conds {
                    made.insert(a.name.to_owned(), v.clone());
                }
                match sub {
                    Some(sub) => {
                        made.insert(sub.name.to_owned(), value);
                    }
                    None => match value {
                        Value::Object(o) => made.extend(o),
                        _ => return Err(ScimError::bad("invalidValue", format!("{path} takes an object."))),
                    },
                }
                xs.push(Value::Object(made));
            }
        }
    }
    Ok(())
}

/// Applies a PatchOp request to a kept User (attributes as [`schema::normalise`] keeps them, plus
/// `schemas`), returning the User to check and keep.
pub fn apply(current: &Map<String, Value>, body: &Value) -> Result<Value, ScimError> {
    let Some(obj) = body.as_object() else {
        return Err(ScimError::bad("invalidSyntax", "The body must be a JSON object: a SCIM PatchOp."));
    };
    let schemas_ok = obj
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|x| x.as_str().is_some_and(|x| x.eq_ignore_ascii_case(schema::PATCH_OP))));
    if !schemas_ok {
        return Err(ScimError::bad("invalidSyntax", format!("schemas: must list {}", schema::PATCH_OP)));
    }
    let ops = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        .and_then(|(_, v)| v.as_array())
        .filter(|o| !o.is_empty())
        .ok_or_else(|| ScimError::bad("invalidSyntax", "Operations: give a list of one or more operations."))?;
    let mut doc = current.clone();
    for (i, o) in ops.iter().enumerate() {
        let get =
            |k: &str| o.as_object().and_then(|m| m.iter().find(|(n, _)| n.eq_ignore_ascii_case(k))).map(|(_, v)| v);
        let op = match get("op").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
            Some("add") => Op::Add,
            Some("replace") => Op::Replace,
            Some("remove") => Op::Remove,
            _ => {
                return Err(ScimError::bad(
                    "invalidSyntax",
                    format!("Operations[{i}].op: must be add, remove or replace."),
                ));
            }
        };
        let value = get("value").cloned();
        match get("path").and_then(Value::as_str).map(str::trim).filter(|p| !p.is_empty()) {
            Some(path) => apply_one(&mut doc, op, path, value)?,
            None if op == Op::Remove => {
                return Err(ScimError::bad("noTarget", format!("Operations[{i}]: remove needs a path.")));
            }
            None => {
                let Some(Value::Object(v)) = value else {
                    return Err(ScimError::bad(
                        "invalidValue",
                        format!("Operations[{i}].value: without a path, the value is an object of attributes."),
                    ));
                };
                for (k, v) in v {
                    match schema::extension(&k) {
                        // An extension's attributes, as an object under its URN.
                        Some((urn, _)) if v.is_object() => {
                            for (ek, ev) in v.as_object().into_iter().flatten() {
                                apply_one(&mut doc, op, &format!("{urn}:{ek}"), Some(ev.clone()))?;
                            }
                        }
                        _ if k.eq_ignore_ascii_case("schemas") => {}
                        // An attribute, or a path as the key (Entra ID sends `name.givenName`).
                        _ => apply_one(&mut doc, op, &k, Some(v))?,
                    }
                }
            }
        }
    }
    doc.insert("schemas".into(), serde_json::json!([USER]));
    Ok(Value::Object(doc))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kept() -> Map<String, Value> {
        let v = json!({
            "schemas": [USER],
            "userName": "jo",
            "name": { "givenName": "Jo", "familyName": "Bloggs" },
            "emails": [{ "value": "jo@a.nhs.uk", "type": "work", "primary": true }],
            "active": true,
        });
        schema::normalise(&v).unwrap()
    }

    fn patch(ops: Value) -> Value {
        json!({ "schemas": [schema::PATCH_OP], "Operations": ops })
    }

    #[test]
    fn entra_id_style_operations_apply() {
        let out = apply(
            &kept(),
            &patch(json!([
                { "op": "Replace", "path": "active", "value": "False" },
                { "op": "Add", "path": "emails[type eq \"work\"].value", "value": "jo.b@a.nhs.uk" },
                { "op": "Add", "value": { "name.familyName": "Brown",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "12345678" } },
            ])),
        )
        .unwrap();
        let n = schema::normalise(&out).unwrap();
        assert_eq!(n["active"], json!(false));
        assert_eq!(n["emails"], json!([{ "value": "jo.b@a.nhs.uk", "type": "work", "primary": true }]));
        assert_eq!(n["name"], json!({ "givenName": "Jo", "familyName": "Brown" }));
        assert_eq!(n[schema::ENTERPRISE], json!({ "employeeNumber": "12345678" }));
    }

    #[test]
    fn remove_and_bad_paths() {
        let out = apply(&kept(), &patch(json!([{ "op": "remove", "path": "name.givenName" }]))).unwrap();
        assert_eq!(out["name"], json!({ "familyName": "Bloggs" }));
        let out = apply(&kept(), &patch(json!([{ "op": "remove", "path": "emails[type eq \"work\"]" }]))).unwrap();
        assert!(schema::normalise(&out).unwrap().get("emails").is_none());
        let e = apply(&kept(), &patch(json!([{ "op": "remove" }]))).unwrap_err();
        assert_eq!(e.scim_type, Some("noTarget"));
        let e = apply(&kept(), &patch(json!([{ "op": "replace", "path": "nickName", "value": "x" }]))).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidPath"));
        let e = apply(&kept(), &patch(json!([{ "op": "replace", "path": "id", "value": "x" }]))).unwrap_err();
        assert_eq!(e.scim_type, Some("mutability"));
        let e = apply(&kept(), &patch(json!([{ "op": "move", "path": "active" }]))).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidSyntax"));
        let e = apply(&kept(), &json!({ "Operations": [] })).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidSyntax"));
    }

    #[test]
    fn filters_parse_eq_and_refuse_the_rest() {
        assert_eq!(
            parse_filter("userName eq \"Jo@A.nhs.uk\"").unwrap(),
            vec![("userName".to_owned(), json!("Jo@A.nhs.uk"))]
        );
        assert_eq!(parse_filter("type eq \"work\" and primary eq true").unwrap().len(), 2);
        for bad in
            ["userName co \"jo\"", "userName eq", "(userName eq \"a\")", "userName eq \"a", "a eq \"b\" or c eq \"d\""]
        {
            assert_eq!(parse_filter(bad).unwrap_err().scim_type, Some("invalidFilter"), "{bad}");
        }
    }
}
