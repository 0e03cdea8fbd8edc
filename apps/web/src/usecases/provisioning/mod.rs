//! SCIM 2.0 provisioning of a trust's staff (RFC 7643, RFC 7644): an identity system creates,
//! reads, replaces, patches and deletes Users; Trellis keeps each as the identity system sent it
//! and derives the person's part from it:
//!
//! - **Creating** a user whose email has no account makes the account and an approved membership
//!   (a learner), with the staff record its attributes give. An address that already has an
//!   account at another trust gets an invitation instead (the account joins only if its owner
//!   accepts), and the response is the same either way, so the caller cannot learn who has an
//!   account. A member here is linked as they are. A platform administrator's address is never
//!   added or invited (the platform's audit notes it).
//! - **`active`** false suspends the membership (the learning record is kept; a trust's only
//!   training manager is kept, and audited); true or absent reinstates it.
//! - **The staff record** (assignment number, position, department, staff group, place of work)
//!   changes only where the identity system changes an attribute, so a trust that also imports
//!   HR files keeps what those set; a changed department or staff group re-applies the rules.
//! - **Deleting** a user deactivates the person (as `active: false`) and forgets the link: it is
//!   gone from SCIM (404), and the person's account and learning record stay.
//!
//! The account's name and sign-in address are the person's own once made: a later change in the
//! identity system is kept on the User, not copied to the account.

pub mod patch;
pub mod schema;

use crate::context::directory::Site;
use crate::error::AppError;
use chrono::Utc;
use serde_json::{Map, Value, json};
use trellis_db::TenantTx;
use trellis_db::audit;
use trellis_db::identity::{self as id, MembershipStatus, NewPerson, accounts};
use trellis_db::scim::{self as store, ScimUser};
use trellis_db::staff::{self, StaffRecord};
use trellis_domain::PersonId;
use trellis_domain::identity::{Email, Role};
use uuid::Uuid;

/// The most users a list returns at once.
pub const MAX_COUNT: u64 = 1000;

/// A SCIM error (RFC 7644 §3.12).
#[derive(Debug)]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<&'static str>,
    pub detail: String,
    /// A failure on the server's side (logged; the caller sees only that it failed).
    pub internal: Option<AppError>,
}

impl ScimError {
    pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self { status: 400, scim_type: Some(scim_type), detail: detail.into(), internal: None }
    }
    pub fn status(status: u16, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        Self { status, scim_type, detail: detail.into(), internal: None }
    }
    pub fn not_found() -> Self {
        Self::status(404, None, "There is no such user here.")
    }
    /// The error document.
    pub fn doc(&self) -> Value {
        let mut d = json!({ "schemas": [schema::ERROR], "status": self.status.to_string(), "detail": self.detail });
        if let Some(t) = self.scim_type {
            d["scimType"] = json!(t);
        }
        d
    }
}

impl From<AppError> for ScimError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound => Self::not_found(),
            AppError::BadRequest(m) => Self::bad("invalidValue", m),
            AppError::Conflict(m) => Self::status(409, Some("uniqueness"), m),
            e => Self {
                status: 500,
                scim_type: None,
                detail: "Something went wrong on our side; try again.".into(),
                internal: Some(e),
            },
        }
    }
}

impl From<trellis_db::DbError> for ScimError {
    fn from(e: trellis_db::DbError) -> Self {
        if e.is_unique_violation() {
            return Self::status(
                409,
                Some("uniqueness"),
                "Another user here already has that userName, person or employeeNumber.",
            );
        }
        AppError::from(e).into()
    }
}

pub type ScimResult<T> = Result<T, ScimError>;

/// What a provisioned user says of the person.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Profile {
    user_name: String,
    external_id: Option<String>,
    email: Option<String>,
    given: String,
    family: String,
    active: bool,
    title: String,
    assignment: String,
    department: String,
    staff_group: String,
    place_of_work: String,
}

fn text_at(m: &Map<String, Value>, path: &[&str]) -> String {
    let mut v = m.get(path[0]);
    for p in &path[1..] {
        v = v.and_then(|x| x.get(*p));
    }
    v.and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn profile(m: &Map<String, Value>) -> Profile {
    let emails: Vec<&Value> = m.get("emails").and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default();
    let pick = emails
        .iter()
        .find(|e| e.get("primary") == Some(&Value::Bool(true)))
        .or_else(|| {
            emails
                .iter()
                .find(|e| e.get("type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("work")))
        })
        .or_else(|| emails.first())
        .and_then(|e| e.get("value"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let user_name = text_at(m, &["userName"]);
    let email = pick.or_else(|| user_name.contains('@').then(|| user_name.clone()));
    let display = text_at(m, &["displayName"]);
    let (mut given, mut family) = (text_at(m, &["name", "givenName"]), text_at(m, &["name", "familyName"]));
    if given.is_empty() && family.is_empty() {
        let (g, f) = display.split_once(' ').unwrap_or((display.as_str(), ""));
        (given, family) = (g.to_owned(), f.trim().to_owned());
    }
    Profile {
        external_id: m.get("externalId").and_then(Value::as_str).map(str::to_owned),
        email,
        given: given.chars().take(100).collect(),
        family: family.chars().take(100).collect(),
        active: m.get("active").and_then(Value::as_bool).unwrap_or(true),
        title: text_at(m, &["title"]).chars().take(200).collect(),
        assignment: text_at(m, &[schema::ENTERPRISE, "employeeNumber"]),
        department: text_at(m, &[schema::ENTERPRISE, "department"]).chars().take(200).collect(),
        staff_group: text_at(m, &[schema::STAFF, "staffGroup"]),
        place_of_work: text_at(m, &[schema::STAFF, "placeOfWork"]).chars().take(200).collect(),
        user_name,
    }
}

/// The staff record after the identity system's change from `old` (none: a new user) to `new`:
/// only the fields it changed (or, new, gave) are taken.
fn record_after(old: Option<&Profile>, new: &Profile, current: &StaffRecord) -> StaffRecord {
    let take = |o: Option<&String>, n: &String, cur: &String| -> String {
        match o {
            Some(o) if o == n => cur.clone(),
            Some(_) => n.clone(),
            None if n.is_empty() => cur.clone(),
            None => n.clone(),
        }
    };
    let cur_number = current.assignment_number.clone().unwrap_or_default();
    let number = take(old.map(|o| &o.assignment), &new.assignment, &cur_number);
    StaffRecord {
        assignment_number: (!number.is_empty()).then_some(number),
        position: take(old.map(|o| &o.title), &new.title, &current.position),
        department: take(old.map(|o| &o.department), &new.department, &current.department),
        staff_group: take(old.map(|o| &o.staff_group), &new.staff_group, &current.staff_group),
        place_of_work: take(old.map(|o| &o.place_of_work), &new.place_of_work, &current.place_of_work),
        end_date: current.end_date,
    }
}

/// What a change did that the caller finishes after (or before) committing.
#[derive(Debug, Default)]
pub struct Outcome {
    pub resource: Value,
    /// An invitation to email: (address, raw token).
    pub invitation: Option<(String, String)>,
    /// The trust's compliance changed (its kept totals are stale).
    pub rules_changed: bool,
    /// The address was a platform administrator's: nothing was added (for the platform's audit).
    pub platform_admin_skipped: bool,
}

/// A kept user as a SCIM resource (RFC 7643 §4.1), under `base` (`…/scim/v2`).
pub fn resource(u: &ScimUser, base: &str) -> Value {
    let mut doc: Map<String, Value> = serde_json::from_str(&u.resource).unwrap_or_default();
    let mut schemas = vec![json!(schema::USER)];
    for ext in [schema::ENTERPRISE, schema::STAFF] {
        if doc.contains_key(ext) {
            schemas.push(json!(ext));
        }
    }
    doc.insert("schemas".into(), Value::Array(schemas));
    doc.insert("id".into(), json!(u.id.to_string()));
    doc.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": u.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "lastModified": u.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "location": format!("{base}/Users/{}", u.id),
            "version": format!("W/\"{}\"", u.version),
        }),
    );
    Value::Object(doc)
}

/// Keeps only the attributes asked for (`attributes`), or drops those not wanted
/// (`excludedAttributes`), as RFC 7644 §3.4.2.5 says; `id` and `schemas` always stay.
pub fn project(mut doc: Value, attributes: &[String], excluded: &[String]) -> Value {
    let Some(obj) = doc.as_object_mut() else { return doc };
    let split = |p: &str| -> (String, Option<String>) {
        let p = p.trim();
        for (urn, ..) in schema::schemas() {
            if p.len() > urn.len() && p[..urn.len()].eq_ignore_ascii_case(urn) && p.as_bytes()[urn.len()] == b':' {
                let rest = &p[urn.len() + 1..];
                return if urn == schema::USER {
                    match rest.split_once('.') {
                        Some((a, s)) => (a.to_owned(), Some(s.to_owned())),
                        None => (rest.to_owned(), None),
                    }
                } else {
                    (urn.to_owned(), Some(rest.to_owned()))
                };
            }
        }
        match p.split_once('.') {
            Some((a, s)) => (a.to_owned(), Some(s.to_owned())),
            None => (p.to_owned(), None),
        }
    };
    let key_of = |obj: &Map<String, Value>, name: &str| obj.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned();
    if !attributes.is_empty() {
        let mut keep = Map::new();
        for k in ["schemas", "id"] {
            if let Some(v) = obj.get(k) {
                keep.insert(k.into(), v.clone());
            }
        }
        for p in attributes {
            let (a, sub) = split(p);
            let Some(k) = key_of(obj, &a) else { continue };
            match (sub, obj.get(&k)) {
                (None, Some(v)) => {
                    keep.insert(k, v.clone());
                }
                (Some(s), Some(Value::Object(o))) => {
                    if let Some(sk) = key_of(o, &s) {
                        let e = keep.entry(k.clone()).or_insert_with(|| Value::Object(Map::new()));
                        if let Some(e) = e.as_object_mut() {
                            e.insert(sk.clone(), o[&sk].clone());
                        }
                    }
                }
                (Some(s), Some(Value::Array(xs))) => {
                    let picked: Vec<Value> = xs
                        .iter()
                        .filter_map(|x| {
                            x.as_object().and_then(|o| key_of(o, &s).map(|sk| json!({ sk.clone(): o[&sk].clone() })))
                        })
                        .collect();
                    if !picked.is_empty() {
                        keep.insert(k, Value::Array(picked));
                    }
                }
                _ => {}
            }
        }
        *obj = keep;
    } else {
        for p in excluded {
            let (a, sub) = split(p);
            if ["id", "schemas"].iter().any(|r| r.eq_ignore_ascii_case(&a)) {
                continue;
            }
            let Some(k) = key_of(obj, &a) else { continue };
            match sub {
                None => {
                    obj.remove(&k);
                }
                Some(s) => {
                    let now_empty = match obj.get_mut(&k) {
                        Some(Value::Object(o)) => {
                            if let Some(sk) = key_of(o, &s) {
                                o.remove(&sk);
                            }
                            o.is_empty()
                        }
                        Some(Value::Array(xs)) => {
                            for x in xs.iter_mut().filter_map(Value::as_object_mut) {
                                if let Some(sk) = key_of(x, &s) {
                                    x.remove(&sk);
                                }
                            }
                            false
                        }
                        _ => false,
                    };
                    if now_empty {
                        obj.remove(&k);
                    }
                }
            }
        }
    }
    doc
}

/// Users in the order they were made: a page from `start` (1-based, as SCIM counts) of `count`,
/// filtered by `userName`, `externalId` or `id` equal to a value.
pub async fn list(
    tx: &TenantTx,
    base: &str,
    filter: Option<&str>,
    start: u64,
    count: u64,
) -> ScimResult<(Vec<Value>, u64)> {
    let start = start.max(1);
    let count = count.min(MAX_COUNT);
    let f = match filter.map(str::trim).filter(|f| !f.is_empty()) {
        None => store::Filter::All,
        Some(f) => {
            let conds = patch::parse_filter(f)?;
            let [(attr, value)] = conds.as_slice() else {
                return Err(ScimError::bad("invalidFilter", "Filter on one attribute: userName, externalId or id."));
            };
            let Some(value) = value.as_str() else {
                return Err(ScimError::bad("invalidFilter", format!("Compare {attr} with a quoted string.")));
            };
            if attr.eq_ignore_ascii_case("userName") || attr.eq_ignore_ascii_case(&format!("{}:userName", schema::USER))
            {
                store::Filter::UserName(value.to_owned())
            } else if attr.eq_ignore_ascii_case("externalId") {
                store::Filter::ExternalId(value.to_owned())
            } else if attr.eq_ignore_ascii_case("id") {
                let found = match Uuid::try_parse(value) {
                    Ok(id) => store::get(tx, id).await?,
                    Err(_) => None,
                };
                let total = u64::from(found.is_some());
                let page = found.filter(|_| start == 1 && count > 0).map(|u| resource(&u, base));
                return Ok((page.into_iter().collect(), total));
            } else {
                return Err(ScimError::bad(
                    "invalidFilter",
                    format!("Filtering on {attr} is not supported: filter on userName, externalId or id."),
                ));
            }
        }
    };
    let (rows, total) = store::list(tx, &f, start - 1, count).await?;
    Ok((rows.iter().map(|u| resource(u, base)).collect(), total))
}

/// A user by id.
pub async fn get(tx: &TenantTx, base: &str, id: &str) -> ScimResult<Value> {
    let id = Uuid::try_parse(id).map_err(|_| ScimError::not_found())?;
    let u = store::get(tx, id).await?.ok_or_else(ScimError::not_found)?;
    Ok(resource(&u, base))
}

fn checked_user_name(p: &Profile) -> ScimResult<()> {
    if p.user_name.is_empty() {
        return Err(ScimError::bad("invalidValue", "userName: give the person's user name in the identity system."));
    }
    Ok(())
}

async fn check_assignment(tx: &TenantTx, p: &Profile, person: Option<PersonId>) -> ScimResult<()> {
    if !p.assignment.is_empty() && store::assignment_taken(tx, &p.assignment, person).await? {
        return Err(ScimError::status(
            409,
            Some("uniqueness"),
            format!(
                "{}:employeeNumber: another member of staff here has assignment number {}.",
                schema::ENTERPRISE,
                p.assignment
            ),
        ));
    }
    Ok(())
}

/// Sets the membership's state to what `active` says (a member here only). Returns whether
/// their compliance changed.
async fn set_active(tx: &TenantTx, site: &Site, person: PersonId, active: bool, scim: Uuid) -> ScimResult<bool> {
    let Some(m) = id::membership(tx, person).await? else {
        if !active {
            // Not joined yet: their invitation is withdrawn.
            store::revoke_invitations(tx, person).await?;
        }
        return Ok(false);
    };
    let detail = json!({ "reason": "Deactivated by the identity system (SCIM)", "scim_user": scim.to_string() });
    match (active, m.status) {
        (false, MembershipStatus::Approved) => {
            if staff::suspend_leaver(tx, person).await? {
                audit::record(tx, None, "membership.suspended", &person.to_string(), None, detail).await?;
                return Ok(true);
            }
            let detail = json!({ "reason": "Deactivated by the identity system (SCIM), kept as the only training manager", "scim_user": scim.to_string() });
            audit::record(tx, None, "membership.leaver_kept", &person.to_string(), None, detail).await?;
            Ok(false)
        }
        (true, MembershipStatus::Suspended | MembershipStatus::Pending) => {
            store::activate(tx, person).await?;
            staff::clear_leaving(tx, person).await?;
            let detail = json!({ "reason": "Activated by the identity system (SCIM)", "scim_user": scim.to_string() });
            audit::record(tx, None, "membership.reinstated", &person.to_string(), None, detail).await?;
            Ok(crate::usecases::compliance::apply_rules::arrived(tx, site, person).await?)
        }
        _ => Ok(false),
    }
}

/// Writes the staff record a change makes, for a member here. Returns whether rules changed.
async fn set_record(
    tx: &TenantTx,
    site: &Site,
    person: PersonId,
    old: Option<&Profile>,
    new: &Profile,
) -> ScimResult<bool> {
    if id::membership(tx, person).await?.is_none() {
        return Ok(false);
    }
    let current = staff::record(tx, person).await?.unwrap_or_default();
    let want = record_after(old, new, &current);
    if want == current {
        return Ok(false);
    }
    staff::set_record(tx, person, &want).await?;
    Ok(crate::usecases::compliance::apply_rules::moved(tx, site, person).await?)
}

/// Refuses a second user for a person already provisioned here.
async fn already_provisioned(tx: &TenantTx, person: PersonId, email: &Email) -> ScimResult<()> {
    if store::by_person(tx, person).await?.is_some() {
        return Err(ScimError::status(
            409,
            Some("uniqueness"),
            format!("emails: {} is already provisioned here as another user.", email.as_str()),
        ));
    }
    Ok(())
}

/// Creates a user (POST /Users).
pub async fn create(
    tx: &TenantTx,
    site: &Site,
    base: &str,
    token: Uuid,
    invitation_ttl: chrono::Duration,
    body: &Value,
) -> ScimResult<Outcome> {
    let attrs = schema::normalise(body)?;
    let p = profile(&attrs);
    checked_user_name(&p)?;
    if store::user_name_taken(tx, &p.user_name, None).await? {
        return Err(ScimError::status(
            409,
            Some("uniqueness"),
            format!("userName: {} is already provisioned here.", p.user_name),
        ));
    }
    let Some(raw_email) = p.email.clone() else {
        return Err(ScimError::bad(
            "invalidValue",
            "emails: give the person's email address (or a userName that is one).",
        ));
    };
    let email = Email::parse(&raw_email)
        .map_err(|m| ScimError::bad("invalidValue", format!("emails: {raw_email} is not an email address ({m}).")))?;
    let account = accounts::find_one(tx, email.as_str()).await?;
    let mut out = Outcome::default();
    let scim_id = Uuid::now_v7();
    let person = match &account {
        Some(a) if a.member_here => {
            already_provisioned(tx, a.id, &email).await?;
            check_assignment(tx, &p, Some(a.id)).await?;
            out.rules_changed |= set_record(tx, site, a.id, None, &p).await?;
            out.rules_changed |= set_active(tx, site, a.id, p.active, scim_id).await?;
            a.id
        }
        Some(a) => {
            already_provisioned(tx, a.id, &email).await?;
            check_assignment(tx, &p, None).await?;
            if a.platform_admin {
                out.platform_admin_skipped = true;
            } else if p.active {
                let record = record_after(None, &p, &StaffRecord::default());
                let carried = json!({ "record": record, "roles": [Role::Learner.as_str()] });
                let raw = accounts::invite(tx, a.id, email.as_str(), &carried, None, invitation_ttl).await?;
                out.invitation = Some((email.as_str().to_owned(), raw));
            }
            a.id
        }
        None => {
            check_assignment(tx, &p, None).await?;
            let given = if p.given.is_empty() && p.family.is_empty() {
                email.as_str().split('@').next().unwrap_or_default().to_owned()
            } else {
                p.given.clone()
            };
            let created = accounts::create_person(
                tx,
                NewPerson {
                    email: email.as_str().to_owned(),
                    password_hash: None,
                    given_name: given,
                    family_name: p.family.clone(),
                    job_role: p.title.chars().take(100).collect(),
                    place_of_work: String::new(),
                    register_kind: None,
                    register_number: None,
                },
                false,
            )
            .await?;
            accounts::add_membership(
                tx,
                accounts::Consent::New(&created),
                MembershipStatus::Approved,
                &[Role::Learner],
            )
            .await?;
            let record = record_after(None, &p, &StaffRecord::default());
            if record != StaffRecord::default() {
                staff::set_record(tx, created.id, &record).await?;
            }
            out.rules_changed |= crate::usecases::compliance::apply_rules::arrived(tx, site, created.id).await?;
            out.rules_changed |= set_active(tx, site, created.id, p.active, scim_id).await?;
            created.id
        }
    };
    let now = Utc::now();
    let u = ScimUser {
        id: scim_id,
        person,
        user_name: p.user_name.clone(),
        external_id: p.external_id.clone(),
        resource: Value::Object(attrs).to_string(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    store::insert(tx, &u, Some(token)).await?;
    audit::record(
        tx,
        None,
        "scim.user_created",
        &scim_id.to_string(),
        None,
        json!({ "user_name": p.user_name, "token": token.to_string() }),
    )
    .await?;
    out.resource = resource(&u, base);
    Ok(out)
}

/// Replaces a user's attributes with `attrs` (PUT, and PATCH once applied).
async fn save(
    tx: &TenantTx,
    site: &Site,
    base: &str,
    token: Uuid,
    u: ScimUser,
    attrs: Map<String, Value>,
    action: &str,
) -> ScimResult<Outcome> {
    let old_attrs: Map<String, Value> = serde_json::from_str(&u.resource).unwrap_or_default();
    let (old, new) = (profile(&old_attrs), profile(&attrs));
    checked_user_name(&new)?;
    if store::user_name_taken(tx, &new.user_name, Some(u.id)).await? {
        return Err(ScimError::status(
            409,
            Some("uniqueness"),
            format!("userName: {} is already provisioned here.", new.user_name),
        ));
    }
    if new.assignment != old.assignment {
        check_assignment(tx, &new, Some(u.person)).await?;
    }
    let mut out = Outcome::default();
    out.rules_changed |= set_record(tx, site, u.person, Some(&old), &new).await?;
    if new.active != old.active {
        out.rules_changed |= set_active(tx, site, u.person, new.active, u.id).await?;
    }
    let resource_text = Value::Object(attrs).to_string();
    if !store::update(tx, u.id, u.version, &new.user_name, new.external_id.as_deref(), &resource_text).await? {
        return Err(ScimError::status(409, None, "The user changed meanwhile: read it again and retry."));
    }
    audit::record(
        tx,
        None,
        action,
        &u.id.to_string(),
        None,
        json!({ "user_name": new.user_name, "token": token.to_string() }),
    )
    .await?;
    let saved = store::get(tx, u.id).await?.ok_or_else(ScimError::not_found)?;
    out.resource = resource(&saved, base);
    Ok(out)
}

async fn existing(tx: &TenantTx, id: &str) -> ScimResult<ScimUser> {
    let id = Uuid::try_parse(id).map_err(|_| ScimError::not_found())?;
    store::get(tx, id).await?.ok_or_else(ScimError::not_found)
}

/// Replaces a user (PUT /Users/{id}).
pub async fn replace(
    tx: &TenantTx,
    site: &Site,
    base: &str,
    token: Uuid,
    id: &str,
    body: &Value,
) -> ScimResult<Outcome> {
    let u = existing(tx, id).await?;
    let attrs = schema::normalise(body)?;
    save(tx, site, base, token, u, attrs, "scim.user_replaced").await
}

/// Patches a user (PATCH /Users/{id}).
pub async fn modify(
    tx: &TenantTx,
    site: &Site,
    base: &str,
    token: Uuid,
    id: &str,
    body: &Value,
) -> ScimResult<Outcome> {
    let u = existing(tx, id).await?;
    let current: Map<String, Value> = serde_json::from_str(&u.resource).unwrap_or_default();
    let patched = patch::apply(&current, body)?;
    let attrs = schema::normalise(&patched)?;
    save(tx, site, base, token, u, attrs, "scim.user_patched").await
}

/// Deletes a user (DELETE /Users/{id}): the person is deactivated and the link forgotten.
pub async fn delete(tx: &TenantTx, site: &Site, token: Uuid, id: &str) -> ScimResult<bool> {
    let u = existing(tx, id).await?;
    let changed = set_active(tx, site, u.person, false, u.id).await?;
    store::delete(tx, u.id).await?;
    audit::record(
        tx,
        None,
        "scim.user_deleted",
        &u.id.to_string(),
        None,
        json!({ "user_name": u.user_name, "token": token.to_string() }),
    )
    .await?;
    Ok(changed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(assignment: &str, department: &str) -> Profile {
        Profile { assignment: assignment.into(), department: department.into(), ..Profile::default() }
    }

    #[test]
    fn only_what_the_identity_system_changes_reaches_the_record() {
        let hr = StaffRecord {
            assignment_number: Some("111".into()),
            department: "Ward 1".into(),
            staff_group: "Medical and Dental".into(),
            ..StaffRecord::default()
        };
        // A new user giving no department keeps the HR file's.
        let r = record_after(None, &p("", ""), &hr);
        assert_eq!(r, hr);
        // A department changed in the identity system is taken; the rest stays.
        let r = record_after(Some(&p("", "Ward 1")), &p("", "Ward 2"), &hr);
        assert_eq!((r.department.as_str(), r.assignment_number.as_deref()), ("Ward 2", Some("111")));
        // Unchanged in the identity system: the HR file's value stands.
        let r = record_after(Some(&p("", "Ward 9")), &p("", "Ward 9"), &hr);
        assert_eq!(r.department, "Ward 1");
    }

    #[test]
    fn attributes_projection_keeps_id_and_schemas() {
        let doc = json!({ "schemas": [schema::USER], "id": "x", "userName": "jo", "name": { "givenName": "Jo", "familyName": "B" },
            "emails": [{ "value": "a@b.c", "type": "work" }] });
        let p = project(doc.clone(), &["userName".into(), "name.givenName".into()], &[]);
        assert_eq!(p, json!({ "schemas": [schema::USER], "id": "x", "userName": "jo", "name": { "givenName": "Jo" } }));
        let p = project(doc, &[], &["emails".into(), "name.familyName".into(), "id".into()]);
        assert_eq!(p, json!({ "schemas": [schema::USER], "id": "x", "userName": "jo", "name": { "givenName": "Jo" } }));
    }
}
