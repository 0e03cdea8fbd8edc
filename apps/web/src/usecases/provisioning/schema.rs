//! The SCIM User as Trellis serves it (RFC 7643): the attributes it keeps, each once, and the
//! discovery documents made from them (`/Schemas`, `/ResourceTypes`, `/ServiceProviderConfig`).
//! Incoming resources are brought to this shape by [`normalise`]: attribute names as the schema
//! spells them, types checked, unknown attributes dropped, unassigned ones (null, `[]`) left out.

use super::ScimError;
use serde_json::{Map, Value, json};

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// Trellis's own extension: the parts of a staff record that no standard schema has.
pub const STAFF: &str = "urn:trellis:params:scim:schemas:extension:staff:2.0:User";
pub const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The longest text an attribute may hold.
pub const MAX_TEXT: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Boolean,
    Complex,
}

/// An attribute of a schema.
#[derive(Debug)]
pub struct Attr {
    pub name: &'static str,
    pub kind: Kind,
    pub multi: bool,
    pub required: bool,
    pub unique: bool,
    pub description: &'static str,
    pub subs: &'static [Attr],
    pub canonical: &'static [&'static str],
}

const fn text(name: &'static str, description: &'static str) -> Attr {
    Attr {
        name,
        kind: Kind::Text,
        multi: false,
        required: false,
        unique: false,
        description,
        subs: &[],
        canonical: &[],
    }
}

static NAME_SUBS: [Attr; 3] = [
    text("givenName", "Given name: the account's given name when the account is made by provisioning."),
    text("familyName", "Family name: the account's family name when the account is made by provisioning."),
    text("formatted", "The full name, as the identity system shows it."),
];

static EMAIL_SUBS: [Attr; 3] = [
    Attr {
        required: true,
        ..text("value", "The email address. The primary one (or the first) is the new account's sign-in address.")
    },
    Attr { canonical: &["work", "home", "other"], ..text("type", "work, home or other.") },
    Attr { kind: Kind::Boolean, ..text("primary", "Whether this is the person's main address (at most one is).") },
];

pub static USER_ATTRS: [Attr; 6] = [
    Attr {
        required: true,
        unique: true,
        ..text("userName", "The identity system's name for the person; unique in the trust, not case-sensitive.")
    },
    Attr { kind: Kind::Complex, subs: &NAME_SUBS, ..text("name", "The person's name.") },
    text("displayName", "The name to show (used for the name when name is not given)."),
    text("title", "Job title: the staff record's position."),
    Attr {
        kind: Kind::Complex,
        multi: true,
        required: true,
        subs: &EMAIL_SUBS,
        ..text("emails", "Email addresses; one is needed to provision someone new (or a userName that is one).")
    },
    Attr {
        kind: Kind::Boolean,
        ..text(
            "active",
            "false suspends the person's membership of the trust (their learning record is kept); true or absent reinstates it.",
        )
    },
];

pub static ENTERPRISE_ATTRS: [Attr; 2] = [
    text(
        "employeeNumber",
        "The ESR assignment number (8 digits, with -N for a later assignment): the staff record's; unique in the trust.",
    ),
    text("department", "The department (training rules for a department apply)."),
];

pub static STAFF_ATTRS: [Attr; 2] = [
    Attr {
        canonical: &trellis_domain::learning::STAFF_GROUPS,
        ..text("staffGroup", "The staff group, as the HR system names it (training rules for a staff group apply).")
    },
    text("placeOfWork", "The place of work."),
];

/// The schemas and their attributes: the core first.
pub fn schemas() -> [(&'static str, &'static str, &'static str, &'static [Attr]); 3] {
    [
        (USER, "User", "A member of the trust's staff", &USER_ATTRS),
        (ENTERPRISE, "EnterpriseUser", "Enterprise user: the assignment number and department", &ENTERPRISE_ATTRS),
        (STAFF, "StaffRecord", "The staff group and place of work of the trust's staff record", &STAFF_ATTRS),
    ]
}

/// The extension schema with this URN (as the schema spells it), matched without regard to case.
pub fn extension(urn: &str) -> Option<(&'static str, &'static [Attr])> {
    [(ENTERPRISE, &ENTERPRISE_ATTRS[..]), (STAFF, &STAFF_ATTRS[..])]
        .into_iter()
        .find(|(u, _)| u.eq_ignore_ascii_case(urn))
}

/// The attribute of `attrs` with this name, matched without regard to case.
pub fn find<'a>(attrs: &'a [Attr], name: &str) -> Option<&'a Attr> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

fn invalid(path: &str, detail: impl Into<String>) -> ScimError {
    ScimError::bad("invalidValue", format!("{path}: {}", detail.into()))
}

/// A boolean as identity systems send it (`true`, or Entra ID's `"True"`).
fn boolean(v: &Value, path: &str) -> Result<bool, ScimError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(invalid(path, "must be true or false")),
    }
}

/// One value of an attribute, checked and with its sub-attributes' names as the schema spells
/// them; `None` when unassigned.
fn value_of(a: &Attr, v: &Value, path: &str) -> Result<Option<Value>, ScimError> {
    match (a.kind, v) {
        (_, Value::Null) => Ok(None),
        (Kind::Text, Value::String(s)) => {
            let s = s.trim();
            if s.chars().count() > MAX_TEXT {
                return Err(invalid(path, format!("must be at most {MAX_TEXT} characters")));
            }
            if s.chars().any(char::is_control) {
                return Err(invalid(path, "must not hold control characters"));
            }
            Ok((!s.is_empty()).then(|| Value::String(s.to_owned())))
        }
        (Kind::Text, Value::Number(n)) => Ok(Some(Value::String(n.to_string()))),
        (Kind::Text, _) => Err(invalid(path, "must be a string")),
        (Kind::Boolean, v) => boolean(v, path).map(|b| Some(Value::Bool(b))),
        (Kind::Complex, Value::Object(o)) => {
            let mut out = Map::new();
            for (k, v) in o {
                let Some(sub) = find(a.subs, k) else { continue };
                if let Some(v) = value_of(sub, v, &format!("{path}.{}", sub.name))? {
                    out.insert(sub.name.to_owned(), v);
                }
            }
            Ok((!out.is_empty()).then_some(Value::Object(out)))
        }
        (Kind::Complex, _) => Err(invalid(path, "must be an object")),
    }
}

/// An attribute's value: a list for a multi-valued one (a single value is taken as a list of one).
pub fn attribute(a: &Attr, v: &Value, path: &str) -> Result<Option<Value>, ScimError> {
    if !a.multi {
        if v.is_array() {
            return Err(invalid(path, "takes one value, not a list"));
        }
        return value_of(a, v, path);
    }
    let items: Vec<&Value> = match v {
        Value::Null => vec![],
        Value::Array(xs) => xs.iter().collect(),
        one => vec![one],
    };
    let mut out = Vec::new();
    for x in items {
        if let Some(x) = value_of(a, x, path)? {
            out.push(x);
        }
    }
    if a.name == "emails" {
        for e in &out {
            if e.get("value").is_none() {
                return Err(invalid("emails", "each email needs a value"));
            }
        }
        if out.iter().filter(|e| e.get("primary") == Some(&Value::Bool(true))).count() > 1 {
            return Err(invalid("emails", "at most one address may be primary"));
        }
    }
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

/// Brings an incoming User to the kept shape. `id`, `meta` and `schemas` are not kept (the
/// server sets them); `schemas` must name the core User schema.
pub fn normalise(body: &Value) -> Result<Map<String, Value>, ScimError> {
    let Some(obj) = body.as_object() else {
        return Err(ScimError::bad("invalidSyntax", "The body must be a JSON object: a SCIM User."));
    };
    let schemas = obj.iter().find(|(k, _)| k.eq_ignore_ascii_case("schemas")).map(|(_, v)| v);
    let names_user = schemas
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|x| x.as_str().is_some_and(|x| x.eq_ignore_ascii_case(USER))));
    if !names_user {
        return Err(ScimError::bad("invalidSyntax", format!("schemas: must list {USER}")));
    }
    let mut out = Map::new();
    for (k, v) in obj {
        if k.eq_ignore_ascii_case("externalId") {
            if let Some(v) = value_of(&text("externalId", ""), v, "externalId")? {
                out.insert("externalId".into(), v);
            }
        } else if let Some(a) = find(&USER_ATTRS, k) {
            if let Some(v) = attribute(a, v, a.name)? {
                out.insert(a.name.to_owned(), v);
            }
        } else if let Some((urn, attrs)) = extension(k) {
            let Some(ext) = v.as_object() else {
                if v.is_null() {
                    continue;
                }
                return Err(invalid(urn, "must be an object"));
            };
            let mut e = Map::new();
            for (k, v) in ext {
                let Some(a) = find(attrs, k) else { continue };
                if let Some(v) = attribute(a, v, &format!("{urn}:{}", a.name))? {
                    e.insert(a.name.to_owned(), v);
                }
            }
            if !e.is_empty() {
                out.insert(urn.to_owned(), Value::Object(e));
            }
        }
    }
    if let Some(n) = out.get(ENTERPRISE).and_then(|e| e.get("employeeNumber")).and_then(Value::as_str)
        && !trellis_domain::staff_import::assignment_ok(n)
    {
        return Err(invalid(
            &format!("{ENTERPRISE}:employeeNumber"),
            format!("\u{201c}{n}\u{201d} is not an assignment number (8 digits, like 12345678 or 12345678-2)"),
        ));
    }
    if let Some(g) = out.get(STAFF).and_then(|e| e.get("staffGroup")).and_then(Value::as_str) {
        match trellis_domain::learning::staff_group(g) {
            Some(known) => {
                if let Some(Value::Object(e)) = out.get_mut(STAFF) {
                    e.insert("staffGroup".into(), Value::String(known.to_owned()));
                }
            }
            None => {
                return Err(invalid(
                    &format!("{STAFF}:staffGroup"),
                    format!(
                        "\u{201c}{g}\u{201d} is not a staff group the HR system uses (see canonicalValues in /Schemas)"
                    ),
                ));
            }
        }
    }
    Ok(out)
}

fn attr_doc(a: &Attr) -> Value {
    let kind = match a.kind {
        Kind::Text => "string",
        Kind::Boolean => "boolean",
        Kind::Complex => "complex",
    };
    let mut d = json!({
        "name": a.name,
        "type": kind,
        "multiValued": a.multi,
        "description": a.description,
        "required": a.required,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": if a.unique { "server" } else { "none" },
    });
    if a.kind == Kind::Text {
        d["caseExact"] = json!(false);
    }
    if !a.canonical.is_empty() {
        d["canonicalValues"] = json!(a.canonical);
    }
    if !a.subs.is_empty() {
        d["subAttributes"] = Value::Array(a.subs.iter().map(attr_doc).collect());
    }
    d
}

/// A schema's document (RFC 7643 §7).
pub fn schema_doc(base: &str, urn: &str) -> Option<Value> {
    let (urn, name, description, attrs) = schemas().into_iter().find(|(u, ..)| u.eq_ignore_ascii_case(urn))?;
    Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": urn,
        "name": name,
        "description": description,
        "attributes": attrs.iter().map(attr_doc).collect::<Vec<_>>(),
        "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{urn}") },
    }))
}

/// The User resource type (RFC 7643 §6).
pub fn user_type(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "A member of the trust's staff",
        "schema": USER,
        "schemaExtensions": [
            { "schema": ENTERPRISE, "required": false },
            { "schema": STAFF, "required": false },
        ],
        "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User") },
    })
}

/// What the service supports (RFC 7643 §5): PATCH and filtering, not bulk, sorting, ETags or
/// password changes.
pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": super::MAX_COUNT },
        "changePassword": { "supported": false },
        "sort": { "supported": false },
        "etag": { "supported": false },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "API token",
            "description": "An API token with the scim scope, issued by the trust's administrators, as a bearer token.",
            "primary": true,
        }],
        "meta": { "resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig") },
    })
}

/// A list response (RFC 7644 §3.4.2).
pub fn list(resources: Vec<Value>, total: u64, start: u64) -> Value {
    json!({
        "schemas": [LIST],
        "totalResults": total,
        "itemsPerPage": resources.len(),
        "startIndex": start,
        "Resources": resources,
    })
}
