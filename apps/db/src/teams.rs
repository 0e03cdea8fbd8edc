//! Line managers and their teams (issue 22): who manages whom at a trust, a manager's view of
//! their team's training, and the reminders they send.
//!
//! A person's line manager is another approved member of the same trust, set by the staff
//! import's line-manager column or by an admin. Every read here is through the trust's own
//! transaction (RLS), so a manager never sees anyone of another trust.

use crate::TenantTx;
use crate::error::DbError;
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::Value;
use trellis_domain::{CourseId, PersonId};
use uuid::Uuid;

/// How many steps up a chain of managers are followed before it is called a loop: far more than
/// any organisation's depth.
const MAX_DEPTH: usize = 200;

/// Why a line manager was not set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The person, or the manager, is not an approved member of this trust.
    NotMember(PersonId),
    /// Someone cannot be their own line manager.
    Themselves,
    /// The manager is (through others) managed by the person: a loop.
    Loop,
}

/// Who set a line manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Import,
    Admin,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Import => "import",
            Source::Admin => "admin",
        }
    }
}

/// Whether `person` is an approved member here.
pub(crate) async fn approved(tx: &TenantTx, person: PersonId) -> Result<bool, DbError> {
    Ok(tx
        .query_one(
            "SELECT 1 AS one FROM memberships WHERE tenant_id = $1 AND person_id = $2 AND status = 'approved'",
            vec![person.as_uuid().into()],
        )
        .await?
        .is_some())
}

/// `person`'s line manager here, if they have one.
pub async fn manager_of(tx: &TenantTx, person: PersonId) -> Result<Option<PersonId>, DbError> {
    let row = tx
        .query_one(
            "SELECT manager_id FROM line_managers WHERE tenant_id = $1 AND person_id = $2",
            vec![person.as_uuid().into()],
        )
        .await?;
    Ok(match row {
        Some(r) => Some(PersonId::from_uuid(r.try_get::<Uuid>("", "manager_id")?)),
        None => None,
    })
}

/// Whether making `manager` the line manager of `person` would make a loop: `person` is
/// `manager` or above them. `planned` are changes not yet written (a file being imported),
/// which take the place of what is stored for the people they name.
pub async fn would_loop(
    tx: &TenantTx,
    person: PersonId,
    manager: PersonId,
    planned: &std::collections::HashMap<PersonId, Option<PersonId>>,
) -> Result<bool, DbError> {
    let mut at = manager;
    for _ in 0..MAX_DEPTH {
        if at == person {
            return Ok(true);
        }
        let up = match planned.get(&at) {
            Some(m) => *m,
            None => manager_of(tx, at).await?,
        };
        match up {
            Some(next) => at = next,
            None => return Ok(false),
        }
    }
    Ok(true)
}

/// Sets `person`'s line manager (or, with `None`, removes it).
pub async fn set_manager(
    tx: &TenantTx,
    person: PersonId,
    manager: Option<PersonId>,
    source: Source,
) -> Result<Result<(), Refused>, DbError> {
    let Some(manager) = manager else {
        tx.execute("DELETE FROM line_managers WHERE tenant_id = $1 AND person_id = $2", vec![person.as_uuid().into()])
            .await?;
        return Ok(Ok(()));
    };
    if person == manager {
        return Ok(Err(Refused::Themselves));
    }
    for p in [person, manager] {
        if !approved(tx, p).await? {
            return Ok(Err(Refused::NotMember(p)));
        }
    }
    if would_loop(tx, person, manager, &Default::default()).await? {
        return Ok(Err(Refused::Loop));
    }
    write(tx, person, manager, source).await?;
    Ok(Ok(()))
}

/// Writes a line manager already checked (by [`set_manager`], or by an import's plan).
pub async fn write(tx: &TenantTx, person: PersonId, manager: PersonId, source: Source) -> Result<(), DbError> {
    let changed = tx
        .execute(
            "UPDATE line_managers SET manager_id = $3, source = $4, set_at = $5 WHERE tenant_id = $1 AND person_id = $2",
            vec![person.as_uuid().into(), manager.as_uuid().into(), source.as_str().into(), Utc::now().into()],
        )
        .await?;
    if changed == 0 {
        tx.execute(
            "INSERT INTO line_managers (tenant_id, person_id, manager_id, source, set_at) VALUES ($1, $2, $3, $4, $5)",
            vec![person.as_uuid().into(), manager.as_uuid().into(), source.as_str().into(), Utc::now().into()],
        )
        .await?;
    }
    Ok(())
}

/// Whether `manager` is `person`'s line manager.
pub async fn manages(tx: &TenantTx, manager: PersonId, person: PersonId) -> Result<bool, DbError> {
    Ok(manager_of(tx, person).await? == Some(manager))
}

/// How many people `manager` manages here (0: they are nobody's line manager).
pub async fn team_size(tx: &TenantTx, manager: PersonId) -> Result<i64, DbError> {
    let row = tx
        .query_one(
            "SELECT COUNT(*) AS n FROM line_managers l
               JOIN memberships m ON m.tenant_id = l.tenant_id AND m.person_id = l.person_id AND m.status = 'approved'
              WHERE l.tenant_id = $1 AND l.manager_id = $2",
            vec![manager.as_uuid().into()],
        )
        .await?;
    Ok(match row {
        Some(r) => r.try_get::<i64>("", "n")?,
        None => 0,
    })
}

/// One of a manager's team, with their training at a glance.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TeamMember {
    pub person: PersonId,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
    /// Their mandatory training here: how many courses, and of those complete and overdue.
    pub mandatory: i64,
    pub complete: i64,
    pub overdue: i64,
    /// Courses they are on and have not finished.
    pub in_progress: i64,
    /// When they last did anything on a course here.
    pub last_active: Option<DateTime<Utc>>,
    /// When their line manager last reminded them.
    pub last_reminded: Option<DateTime<Utc>>,
}

/// A person's training here at a glance, as select-list columns `mandatory`, `complete`, `overdue`,
/// `in_progress` and `last_active`, for the person in column `who` on day `today` (a placeholder);
/// `$1` is the trust. Each is read by the person's own index.
pub(crate) fn training_columns(who: &str, today: &str) -> String {
    let complete = format!("a.completed_at IS NOT NULL AND (a.expires_on IS NULL OR a.expires_on > {today})");
    format!(
        "(SELECT COUNT(*) FROM assignments a WHERE a.tenant_id = $1 AND a.person_id = {who}) AS mandatory,
         (SELECT COUNT(*) FROM assignments a WHERE a.tenant_id = $1 AND a.person_id = {who} AND {complete}) AS complete,
         (SELECT COUNT(*) FROM assignments a WHERE a.tenant_id = $1 AND a.person_id = {who} AND NOT ({complete}) AND a.due_on < {today}) AS overdue,
         (SELECT COUNT(*) FROM enrolments e WHERE e.tenant_id = $1 AND e.person_id = {who} AND e.status = 'active') AS in_progress,
         (SELECT MAX(e.last_activity_at) FROM enrolments e WHERE e.tenant_id = $1 AND e.person_id = {who}) AS last_active"
    )
}

/// `manager`'s team (approved members only), by family name: one query on the team's index and
/// each member's own rows.
pub async fn team(tx: &TenantTx, manager: PersonId, today: NaiveDate) -> Result<Vec<TeamMember>, DbError> {
    let sql = format!(
        "SELECT l.person_id, p.given_name, p.family_name, p.email, {},
                (SELECT MAX(n.sent_at) FROM team_nudges n WHERE n.tenant_id = $1 AND n.person_id = l.person_id) AS last_reminded
           FROM line_managers l
           JOIN memberships m ON m.tenant_id = l.tenant_id AND m.person_id = l.person_id AND m.status = 'approved'
           JOIN people p ON p.id = l.person_id
          WHERE l.tenant_id = $1 AND l.manager_id = $2
          ORDER BY p.family_name, p.given_name",
        training_columns("l.person_id", "$3")
    );
    let rows = tx.query_all(&sql, vec![manager.as_uuid().into(), today.into()]).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(TeamMember {
            person: PersonId::from_uuid(r.try_get("", "person_id")?),
            given_name: r.try_get("", "given_name")?,
            family_name: r.try_get("", "family_name")?,
            email: r.try_get("", "email")?,
            mandatory: r.try_get("", "mandatory")?,
            complete: r.try_get("", "complete")?,
            overdue: r.try_get("", "overdue")?,
            in_progress: r.try_get("", "in_progress")?,
            last_active: r.try_get("", "last_active")?,
            last_reminded: r.try_get("", "last_reminded")?,
        });
    }
    Ok(out)
}

/// Records that `manager` reminded `person` (about `course`, if one). Refused (false) when they
/// were already reminded by them since `since` (the start of the trust's day).
pub async fn record_reminder(
    tx: &TenantTx,
    manager: PersonId,
    person: PersonId,
    course: Option<CourseId>,
    since: DateTime<Utc>,
) -> Result<bool, DbError> {
    let already = tx
        .query_one(
            "SELECT 1 AS one FROM team_nudges WHERE tenant_id = $1 AND person_id = $2 AND manager_id = $3 AND sent_at >= $4",
            vec![person.as_uuid().into(), manager.as_uuid().into(), since.into()],
        )
        .await?;
    if already.is_some() {
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO team_nudges (tenant_id, id, manager_id, person_id, course_id, sent_at) VALUES ($1, $2, $3, $4, $5, $6)",
        vec![
            Uuid::now_v7().into(),
            manager.as_uuid().into(),
            person.as_uuid().into(),
            course.map(|c| c.as_uuid()).into(),
            Utc::now().into(),
        ],
    )
    .await?;
    Ok(true)
}

/// A line-management pair, for the admins' list.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Pair {
    pub person: PersonId,
    pub person_name: String,
    pub person_email: String,
    pub manager: PersonId,
    pub manager_name: String,
    pub manager_email: String,
    pub source: String,
}

/// The trust's line-management pairs, by the manager's then the person's family name (at most
/// `limit`), optionally only those whose person or manager matches `search` (name or email).
pub async fn pairs(tx: &TenantTx, search: &str, limit: u64) -> Result<Vec<Pair>, DbError> {
    let mut values: Vec<Value> = Vec::new();
    let mut cond = String::new();
    if let Some(like) = crate::contains_pattern(search) {
        values.push(like.into());
        cond = " AND (lower(p.email) LIKE $2 ESCAPE '\\' OR lower(p.given_name || ' ' || p.family_name) LIKE $2 ESCAPE '\\'
                  OR lower(q.email) LIKE $2 ESCAPE '\\' OR lower(q.given_name || ' ' || q.family_name) LIKE $2 ESCAPE '\\')"
            .to_owned();
    }
    let sql = format!(
        "SELECT l.person_id, p.given_name AS pg, p.family_name AS pf, p.email AS pe,
                l.manager_id, q.given_name AS qg, q.family_name AS qf, q.email AS qe, l.source
           FROM line_managers l
           JOIN people p ON p.id = l.person_id
           JOIN people q ON q.id = l.manager_id
          WHERE l.tenant_id = $1{cond}
          ORDER BY q.family_name, q.given_name, p.family_name, p.given_name
          LIMIT {}",
        limit.min(1000)
    );
    let rows = tx.query_all(&sql, values).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let name = |g: &str, f: &str| -> Result<String, DbError> {
            Ok(format!("{} {}", r.try_get::<String>("", g)?, r.try_get::<String>("", f)?).trim().to_owned())
        };
        out.push(Pair {
            person: PersonId::from_uuid(r.try_get("", "person_id")?),
            person_name: name("pg", "pf")?,
            person_email: r.try_get("", "pe")?,
            manager: PersonId::from_uuid(r.try_get("", "manager_id")?),
            manager_name: name("qg", "qf")?,
            manager_email: r.try_get("", "qe")?,
            source: r.try_get("", "source")?,
        });
    }
    Ok(out)
}

/// A place asked for by one of a manager's team, waiting for a decision.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TeamRequest {
    pub enrolment: Uuid,
    pub person: PersonId,
    pub name: String,
    pub course: CourseId,
    pub course_title: String,
    pub requested_at: DateTime<Utc>,
}

/// The places `manager`'s team have asked for, oldest first (at most 200).
pub async fn team_requests(tx: &TenantTx, manager: PersonId) -> Result<Vec<TeamRequest>, DbError> {
    let sql = "SELECT e.id, e.person_id, p.given_name, p.family_name, e.course_id, e.requested_at
                 FROM line_managers l
                 JOIN enrolments e ON e.tenant_id = l.tenant_id AND e.person_id = l.person_id AND e.status = 'requested'
                 JOIN people p ON p.id = l.person_id
                WHERE l.tenant_id = $1 AND l.manager_id = $2
                ORDER BY e.requested_at, e.id
                LIMIT 200";
    let rows = tx.query_all(sql, vec![manager.as_uuid().into()]).await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.try_get("", "course_id")).collect::<Result<_, _>>()?;
    let courses = crate::catalogue::courses_by_id(tx, &ids).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let course: Uuid = r.try_get("", "course_id")?;
        out.push(TeamRequest {
            enrolment: r.try_get("", "id")?,
            person: PersonId::from_uuid(r.try_get("", "person_id")?),
            name: format!("{} {}", r.try_get::<String>("", "given_name")?, r.try_get::<String>("", "family_name")?)
                .trim()
                .to_owned(),
            course: CourseId::from_uuid(course),
            course_title: courses.get(&course).map(|c| c.title.clone()).unwrap_or_default(),
            requested_at: r.try_get("", "requested_at")?,
        });
    }
    Ok(out)
}

// ---- Line managers from the staff import ----

/// A person in an import: a row of the file not yet anyone's (a new account), or a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Node {
    Row(usize),
    Person(PersonId),
}

/// What a row of the file is, for line management: a member already (`Some(person)`), someone
/// the import makes an account for (`None, true`), or someone only invited (`None, false`: not a
/// member until they accept, so neither managed nor a manager by this import).
pub(crate) type RowKind = (Option<PersonId>, bool);

/// The line managers a file sets: per row, `Some(Some(manager))` to set, `Some(None)` to clear one
/// the import set before (an empty cell), `None` to leave as it is.
#[derive(Debug, Default)]
pub(crate) struct ImportManagers {
    pub per_row: Vec<Option<Option<Node>>>,
    /// Rows setting a line manager.
    pub set: usize,
}

/// Reads the file's line-manager column: each row's manager is found in the file (by assignment
/// number or email) or among the trust's approved members; one that is nobody, or that would make
/// a loop (with the file's other rows and the managers already stored), is an error naming its row.
pub(crate) async fn plan_import(
    tx: &TenantTx,
    rows: &[trellis_domain::staff_import::StaffRow],
    kinds: &[RowKind],
    errors: &mut Vec<trellis_domain::staff_import::RowError>,
) -> Result<ImportManagers, DbError> {
    use std::collections::HashMap;
    use trellis_domain::staff_import::RowError;
    let mut out = ImportManagers { per_row: vec![None; rows.len()], set: 0 };
    if rows.iter().all(|r| r.line_manager.is_none()) {
        return Ok(out);
    }
    let node_of = |i: usize| kinds[i].0.map_or(Node::Row(i), Node::Person);
    let mut in_file: HashMap<&str, usize> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        in_file.insert(r.assignment_number.as_str(), i);
        in_file.insert(r.email.as_str(), i);
    }
    let mut found: HashMap<String, Option<PersonId>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        let Some(key) = r.line_manager.as_deref() else { continue };
        let invited = kinds[i].0.is_none() && !kinds[i].1;
        if invited {
            continue;
        }
        if key.is_empty() {
            out.per_row[i] = Some(None);
            continue;
        }
        let manager = if let Some(&j) = in_file.get(key) {
            if kinds[j].0.is_none() && !kinds[j].1 {
                // Invited, not a member yet: their team is set by a later file.
                continue;
            }
            node_of(j)
        } else {
            if !found.contains_key(key) {
                let person = if key.contains('@') {
                    tx.query_one(
                        "SELECT m.person_id FROM memberships m JOIN people p ON p.id = m.person_id
                          WHERE m.tenant_id = $1 AND m.status = 'approved' AND p.email = $2",
                        vec![key.into()],
                    )
                    .await?
                } else {
                    tx.query_one(
                        "SELECT s.person_id FROM staff_records s
                           JOIN memberships m ON m.tenant_id = s.tenant_id AND m.person_id = s.person_id AND m.status = 'approved'
                          WHERE s.tenant_id = $1 AND s.assignment_number = $2",
                        vec![key.into()],
                    )
                    .await?
                };
                let person = person.map(|r| r.try_get::<Uuid>("", "person_id")).transpose()?.map(PersonId::from_uuid);
                found.insert(key.to_owned(), person);
            }
            match found[key] {
                Some(p) => Node::Person(p),
                None => {
                    errors.push(RowError {
                        line: r.line,
                        column: "line_manager".into(),
                        message: format!("Nobody in this file or on your staff has the {} {key}.", what(key)),
                    });
                    continue;
                }
            }
        };
        if manager == node_of(i) {
            errors.push(RowError {
                line: r.line,
                column: "line_manager".into(),
                message: "Someone cannot be their own line manager.".into(),
            });
            continue;
        }
        out.per_row[i] = Some(Some(manager));
    }
    // Loops: follow each row's manager upwards, through the file's rows first and the managers
    // already stored for everyone else.
    let planned: HashMap<Node, Option<Node>> =
        out.per_row.iter().enumerate().filter_map(|(i, m)| m.map(|m| (node_of(i), m))).collect();
    let mut stored: HashMap<PersonId, Option<PersonId>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        let Some(Some(manager)) = out.per_row[i] else { continue };
        let me = node_of(i);
        let mut at = manager;
        let mut looped = false;
        for _ in 0..MAX_DEPTH {
            if at == me {
                looped = true;
                break;
            }
            let up = match planned.get(&at) {
                Some(m) => *m,
                None => match at {
                    Node::Person(p) => {
                        let up = match stored.get(&p) {
                            Some(m) => *m,
                            None => {
                                let m = manager_of(tx, p).await?;
                                stored.insert(p, m);
                                m
                            }
                        };
                        up.map(Node::Person)
                    }
                    Node::Row(_) => None,
                },
            };
            match up {
                Some(next) => at = next,
                None => break,
            }
        }
        if looped {
            errors.push(RowError {
                line: r.line,
                column: "line_manager".into(),
                message: format!(
                    "This makes a loop: their line manager, {}, is managed by them, directly or through others.",
                    r.line_manager.as_deref().unwrap_or_default()
                ),
            });
        } else {
            out.set += 1;
        }
    }
    Ok(out)
}

fn what(key: &str) -> &'static str {
    if key.contains('@') { "email address" } else { "assignment number" }
}

/// Writes the line managers of an applied import: `ids` are the rows' people (after accounts were
/// made), `None` for rows not on the staff (invited).
pub(crate) async fn apply_import(
    tx: &TenantTx,
    plan: &ImportManagers,
    ids: &[Option<PersonId>],
) -> Result<(), DbError> {
    for (i, m) in plan.per_row.iter().enumerate() {
        let Some(person) = ids[i] else { continue };
        match m {
            None => {}
            Some(None) => {
                tx.execute(
                    "DELETE FROM line_managers WHERE tenant_id = $1 AND person_id = $2 AND source = 'import'",
                    vec![person.as_uuid().into()],
                )
                .await?;
            }
            Some(Some(node)) => {
                let manager = match node {
                    Node::Person(p) => Some(*p),
                    Node::Row(j) => ids[*j],
                };
                if let Some(manager) = manager {
                    write(tx, person, manager, Source::Import).await?;
                }
            }
        }
    }
    Ok(())
}

/// The line managers (approved members) with at least one of their team overdue on `today`.
pub async fn managers_with_overdue(tx: &TenantTx, today: NaiveDate) -> Result<Vec<PersonId>, DbError> {
    let sql = "SELECT DISTINCT l.manager_id FROM line_managers l
                 JOIN memberships mm ON mm.tenant_id = l.tenant_id AND mm.person_id = l.manager_id AND mm.status = 'approved'
                 JOIN memberships m ON m.tenant_id = l.tenant_id AND m.person_id = l.person_id AND m.status = 'approved'
                WHERE l.tenant_id = $1 AND EXISTS (
                      SELECT 1 FROM assignments a WHERE a.tenant_id = $1 AND a.person_id = l.person_id
                         AND NOT (a.completed_at IS NOT NULL AND (a.expires_on IS NULL OR a.expires_on > $2))
                         AND a.due_on < $2)";
    let rows = tx.query_all(sql, vec![today.into()]).await?;
    rows.iter().map(|r| Ok(PersonId::from_uuid(r.try_get::<Uuid>("", "manager_id")?))).collect()
}
