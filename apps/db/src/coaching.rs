//! Coaching (issue 22): coaches a trust appoints, each with a caseload of learners given by hand or
//! by rule (a department or a staff group from the staff records), the coach's view of their
//! caseload's training, and the follow-up log.
//!
//! A learner given to a coach by hand is in that coach's caseload only; everyone else is in the
//! caseload of each coach whose rule matches their staff record, worked out when it is read, so
//! staff who join or move are in the right caseload at once. Every read is through the trust's own
//! transaction (RLS): a coach never sees anyone of another trust.

use crate::TenantTx;
use crate::error::DbError;
use crate::teams::{approved, training_columns};
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{QueryResult, Value};
use trellis_domain::{CourseId, PersonId};
use uuid::Uuid;

/// How a caseload rule matches staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum RuleKind {
    Department,
    StaffGroup,
}

impl RuleKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            RuleKind::Department => "department",
            RuleKind::StaffGroup => "staff_group",
        }
    }

    pub fn from_word(word: &str) -> Option<Self> {
        match word {
            "department" => Some(RuleKind::Department),
            "staff_group" => Some(RuleKind::StaffGroup),
            _ => None,
        }
    }
}

/// How a coach was in touch with a learner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Method {
    Phone,
    /// An email of the coach's own.
    Email,
    InPerson,
    /// An email sent through the site from a template.
    Message,
}

impl Method {
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Phone => "phone",
            Method::Email => "email",
            Method::InPerson => "in_person",
            Method::Message => "message",
        }
    }

    pub fn from_word(word: &str) -> Option<Self> {
        match word {
            "phone" => Some(Method::Phone),
            "email" => Some(Method::Email),
            "in_person" => Some(Method::InPerson),
            "message" => Some(Method::Message),
            _ => None,
        }
    }
}

/// Why a coach or a learner was not set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Not an approved member of this trust.
    NotMember(PersonId),
    /// Not appointed as a coach here.
    NotCoach,
    /// A coach cannot be in their own caseload.
    Themselves,
}

fn person(r: &QueryResult, column: &str) -> Result<PersonId, DbError> {
    Ok(PersonId::from_uuid(r.try_get::<Uuid>("", column)?))
}

fn full_name(r: &QueryResult) -> Result<String, DbError> {
    Ok(format!("{} {}", r.try_get::<String>("", "given_name")?, r.try_get::<String>("", "family_name")?)
        .trim()
        .to_owned())
}

/// Whether `person` is a coach here.
pub async fn is_coach(tx: &TenantTx, person: PersonId) -> Result<bool, DbError> {
    Ok(tx
        .query_one(
            "SELECT 1 AS one FROM coaches WHERE tenant_id = $1 AND person_id = $2",
            vec![person.as_uuid().into()],
        )
        .await?
        .is_some())
}

/// Appoints `person` (an approved member) as a coach; `Ok(false)` if they already are one.
pub async fn appoint(tx: &TenantTx, person: PersonId, by: PersonId) -> Result<Result<bool, Refused>, DbError> {
    if !approved(tx, person).await? {
        return Ok(Err(Refused::NotMember(person)));
    }
    if is_coach(tx, person).await? {
        return Ok(Ok(false));
    }
    tx.execute(
        "INSERT INTO coaches (tenant_id, person_id, appointed_at, appointed_by) VALUES ($1, $2, $3, $4)",
        vec![person.as_uuid().into(), Utc::now().into(), by.as_uuid().into()],
    )
    .await?;
    Ok(Ok(true))
}

/// Ends `coach`'s appointment: their learners by hand, rules and follow-ups go (their learners by
/// hand are then in caseloads by rule again); the log of their contacts stays. False if they were
/// not a coach.
pub async fn stand_down(tx: &TenantTx, coach: PersonId) -> Result<bool, DbError> {
    let c: Value = coach.as_uuid().into();
    for table in ["coach_learners", "coach_rules", "coach_follow_ups"] {
        tx.execute(&format!("DELETE FROM {table} WHERE tenant_id = $1 AND coach_id = $2"), vec![c.clone()]).await?;
    }
    Ok(tx.execute("DELETE FROM coaches WHERE tenant_id = $1 AND person_id = $2", vec![c]).await? > 0)
}

/// Gives `learner` to `coach` by hand (moving them from another coach's hand, whose previous
/// coach is returned).
pub async fn assign(
    tx: &TenantTx,
    coach: PersonId,
    learner: PersonId,
) -> Result<Result<Option<PersonId>, Refused>, DbError> {
    if coach == learner {
        return Ok(Err(Refused::Themselves));
    }
    if !is_coach(tx, coach).await? {
        return Ok(Err(Refused::NotCoach));
    }
    if !approved(tx, learner).await? {
        return Ok(Err(Refused::NotMember(learner)));
    }
    let before = tx
        .query_one(
            "SELECT coach_id FROM coach_learners WHERE tenant_id = $1 AND learner_id = $2",
            vec![learner.as_uuid().into()],
        )
        .await?
        .map(|r| person(&r, "coach_id"))
        .transpose()?;
    if before.is_some() {
        tx.execute(
            "UPDATE coach_learners SET coach_id = $3, assigned_at = $4 WHERE tenant_id = $1 AND learner_id = $2",
            vec![learner.as_uuid().into(), coach.as_uuid().into(), Utc::now().into()],
        )
        .await?;
    } else {
        tx.execute(
            "INSERT INTO coach_learners (tenant_id, learner_id, coach_id, assigned_at) VALUES ($1, $2, $3, $4)",
            vec![learner.as_uuid().into(), coach.as_uuid().into(), Utc::now().into()],
        )
        .await?;
    }
    Ok(Ok(before.filter(|b| *b != coach)))
}

/// Takes `learner` out of `coach`'s hand; false if they were not theirs by hand.
pub async fn unassign(tx: &TenantTx, coach: PersonId, learner: PersonId) -> Result<bool, DbError> {
    Ok(tx
        .execute(
            "DELETE FROM coach_learners WHERE tenant_id = $1 AND learner_id = $2 AND coach_id = $3",
            vec![learner.as_uuid().into(), coach.as_uuid().into()],
        )
        .await?
        > 0)
}

/// Adds a caseload rule for `coach`; `Ok(false)` if they have it already.
pub async fn add_rule(
    tx: &TenantTx,
    coach: PersonId,
    kind: RuleKind,
    value: &str,
) -> Result<Result<bool, Refused>, DbError> {
    if !is_coach(tx, coach).await? {
        return Ok(Err(Refused::NotCoach));
    }
    let exists = tx
        .query_one(
            "SELECT 1 AS one FROM coach_rules WHERE tenant_id = $1 AND coach_id = $2 AND kind = $3 AND value = $4",
            vec![coach.as_uuid().into(), kind.as_str().into(), value.into()],
        )
        .await?;
    if exists.is_some() {
        return Ok(Ok(false));
    }
    tx.execute(
        "INSERT INTO coach_rules (tenant_id, id, coach_id, kind, value, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        vec![Uuid::now_v7().into(), coach.as_uuid().into(), kind.as_str().into(), value.into(), Utc::now().into()],
    )
    .await?;
    Ok(Ok(true))
}

/// Removes one of `coach`'s rules; false if they have no such rule.
pub async fn remove_rule(tx: &TenantTx, coach: PersonId, rule: Uuid) -> Result<bool, DbError> {
    Ok(tx
        .execute(
            "DELETE FROM coach_rules WHERE tenant_id = $1 AND id = $2 AND coach_id = $3",
            vec![rule.into(), coach.as_uuid().into()],
        )
        .await?
        > 0)
}

/// The (coach, learner) pairs of caseloads: by hand, and by each rule for everyone not given to
/// a coach by hand. With `one_coach`, only the coach in `$2`. Members of any status: callers join
/// approved memberships.
fn caseloads(one_coach: bool) -> String {
    let (h, r) = if one_coach { (" AND h.coach_id = $2", " AND r.coach_id = $2") } else { ("", "") };
    let by = |column: &str| {
        format!(
            "SELECT r.coach_id, s.person_id FROM coach_rules r
               JOIN staff_records s ON s.tenant_id = r.tenant_id AND s.{column} = r.value
              WHERE r.tenant_id = $1 AND r.kind = '{column}'{r} AND s.person_id <> r.coach_id
                AND NOT EXISTS (SELECT 1 FROM coach_learners x WHERE x.tenant_id = $1 AND x.learner_id = s.person_id)"
        )
    };
    format!(
        "SELECT h.coach_id, h.learner_id AS person_id FROM coach_learners h WHERE h.tenant_id = $1{h}
         UNION {} UNION {}",
        by("department"),
        by("staff_group")
    )
}

/// Whether `learner` is (an approved member) in `coach`'s caseload.
pub async fn in_caseload(tx: &TenantTx, coach: PersonId, learner: PersonId) -> Result<bool, DbError> {
    let sql = format!(
        "SELECT 1 AS one FROM ({}) c
           JOIN memberships m ON m.tenant_id = $1 AND m.person_id = c.person_id AND m.status = 'approved'
          WHERE c.person_id = $3",
        caseloads(true)
    );
    Ok(tx.query_one(&sql, vec![coach.as_uuid().into(), learner.as_uuid().into()]).await?.is_some())
}

/// A coach as the admins' list shows them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Coach {
    pub person: PersonId,
    pub name: String,
    pub email: String,
    /// Learners in their caseload (approved members), by hand and by rule.
    pub caseload: i64,
    pub by_hand: i64,
    pub rules: Vec<Rule>,
}

/// A caseload rule.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rule {
    pub id: Uuid,
    pub kind: RuleKind,
    pub value: String,
}

/// The trust's coaches (at most `limit`), by family name, with their caseload sizes and rules: two
/// statements, whatever the number of coaches.
pub async fn coaches(tx: &TenantTx, limit: u64) -> Result<Vec<Coach>, DbError> {
    let sql = format!(
        "SELECT c.person_id, p.given_name, p.family_name, p.email,
                (SELECT COUNT(*) FROM coach_learners h
                   JOIN memberships m ON m.tenant_id = h.tenant_id AND m.person_id = h.learner_id AND m.status = 'approved'
                  WHERE h.tenant_id = $1 AND h.coach_id = c.person_id) AS by_hand,
                COALESCE(n.caseload, 0) AS caseload
           FROM coaches c
           JOIN people p ON p.id = c.person_id
           LEFT JOIN (SELECT l.coach_id, COUNT(*) AS caseload FROM ({}) l
                        JOIN memberships m ON m.tenant_id = $1 AND m.person_id = l.person_id AND m.status = 'approved'
                       GROUP BY l.coach_id) n ON n.coach_id = c.person_id
          WHERE c.tenant_id = $1
          ORDER BY p.family_name, p.given_name
          LIMIT {}",
        caseloads(false),
        limit.min(1000)
    );
    let rows = tx.query_all(&sql, vec![]).await?;
    let rules = tx
        .query_all(
            "SELECT id, coach_id, kind, value FROM coach_rules WHERE tenant_id = $1 ORDER BY kind, value",
            vec![],
        )
        .await?;
    let mut by_coach: std::collections::HashMap<PersonId, Vec<Rule>> = std::collections::HashMap::new();
    for r in rules {
        let kind: String = r.try_get("", "kind")?;
        let Some(kind) = RuleKind::from_word(&kind) else { continue };
        by_coach.entry(person(&r, "coach_id")?).or_default().push(Rule {
            id: r.try_get("", "id")?,
            kind,
            value: r.try_get("", "value")?,
        });
    }
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let p = person(&r, "person_id")?;
        out.push(Coach {
            person: p,
            name: full_name(&r)?,
            email: r.try_get("", "email")?,
            caseload: r.try_get("", "caseload")?,
            by_hand: r.try_get("", "by_hand")?,
            rules: by_coach.remove(&p).unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Someone in a list: id, name and email.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Named {
    pub person: PersonId,
    pub name: String,
    pub email: String,
}

/// The learners given to `coach` by hand, by family name (at most 1,000).
pub async fn by_hand(tx: &TenantTx, coach: PersonId) -> Result<Vec<Named>, DbError> {
    let rows = tx
        .query_all(
            "SELECT h.learner_id, p.given_name, p.family_name, p.email FROM coach_learners h
               JOIN people p ON p.id = h.learner_id
              WHERE h.tenant_id = $1 AND h.coach_id = $2
              ORDER BY p.family_name, p.given_name LIMIT 1000",
            vec![coach.as_uuid().into()],
        )
        .await?;
    rows.iter()
        .map(|r| Ok(Named { person: person(r, "learner_id")?, name: full_name(r)?, email: r.try_get("", "email")? }))
        .collect()
}

/// Which of a coach's caseload the dashboard shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Show {
    #[default]
    Everyone,
    /// With overdue mandatory training.
    Overdue,
    /// Nothing done on a course for 30 days or more (or ever).
    Inactive,
    /// A follow-up due on or before today.
    FollowUpDue,
    /// Not enrolled on (and not finished) the chosen course.
    NotOnCourse,
}

/// What the dashboard asks for.
#[derive(Debug, Clone, Default)]
pub struct CaseloadQuery {
    pub search: String,
    pub show: Show,
    /// A course whose status each learner's row shows.
    pub course: Option<CourseId>,
    pub limit: u64,
}

/// One learner of a caseload, with their training at a glance.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseRow {
    pub person: PersonId,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
    pub mandatory: i64,
    pub complete: i64,
    pub overdue: i64,
    pub in_progress: i64,
    pub last_active: Option<DateTime<Utc>>,
    /// When the coach (any coach) last logged a contact with them.
    pub last_contact: Option<NaiveDate>,
    /// Their next follow-up with this coach.
    pub follow_up: Option<NaiveDate>,
    /// With a course asked for: their latest enrolment's status on it (`None`: never enrolled).
    pub course_status: Option<String>,
}

/// How many learners are in `coach`'s caseload (approved members).
pub async fn caseload_size(tx: &TenantTx, coach: PersonId) -> Result<i64, DbError> {
    let sql = format!(
        "SELECT COUNT(*) AS n FROM ({}) c
           JOIN memberships m ON m.tenant_id = $1 AND m.person_id = c.person_id AND m.status = 'approved'",
        caseloads(true)
    );
    let row = tx.query_one(&sql, vec![coach.as_uuid().into()]).await?;
    Ok(match row {
        Some(r) => r.try_get("", "n")?,
        None => 0,
    })
}

/// `coach`'s caseload as `q` asks, by family name: at most `q.limit` rows (the caller asks for one
/// more than it shows, to know there are more). One statement.
pub async fn caseload(
    tx: &TenantTx,
    coach: PersonId,
    today: NaiveDate,
    q: &CaseloadQuery,
) -> Result<Vec<CaseRow>, DbError> {
    let values: Vec<Value> = vec![
        coach.as_uuid().into(),
        today.into(),
        q.course.map_or(Uuid::nil(), |c| c.as_uuid()).into(),
        (Utc::now() - chrono::Duration::days(30)).into(),
        crate::contains_pattern(&q.search).unwrap_or_else(|| "%".to_owned()).into(),
    ];
    let shown = match q.show {
        Show::Everyone => "",
        Show::Overdue => "WHERE t.overdue > 0",
        Show::Inactive => "WHERE t.last_active IS NULL OR t.last_active < $5",
        Show::FollowUpDue => "WHERE t.follow_up <= $3",
        Show::NotOnCourse => "WHERE t.course_status IS NULL OR t.course_status NOT IN ('active', 'completed')",
    };
    let sql = format!(
        "SELECT * FROM (
           SELECT c.person_id, p.given_name, p.family_name, p.email, {},
                  (SELECT MAX(k.contacted_on) FROM coach_contacts k WHERE k.tenant_id = $1 AND k.learner_id = c.person_id) AS last_contact,
                  (SELECT f.due_on FROM coach_follow_ups f WHERE f.tenant_id = $1 AND f.coach_id = $2 AND f.learner_id = c.person_id) AS follow_up,
                  (SELECT e.status FROM enrolments e WHERE e.tenant_id = $1 AND e.person_id = c.person_id AND e.course_id = $4
                    ORDER BY e.requested_at DESC LIMIT 1) AS course_status
             FROM ({}) c
             JOIN memberships m ON m.tenant_id = $1 AND m.person_id = c.person_id AND m.status = 'approved'
             JOIN people p ON p.id = c.person_id
            WHERE lower(p.email) LIKE $6 ESCAPE '\\' OR lower(p.given_name || ' ' || p.family_name) LIKE $6 ESCAPE '\\'
         ) t {shown}
         ORDER BY t.family_name, t.given_name, t.person_id
         LIMIT {}",
        training_columns("c.person_id", "$3"),
        caseloads(true),
        q.limit.clamp(1, 1000)
    );
    let rows = tx.query_all(&sql, values).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(CaseRow {
            person: person(&r, "person_id")?,
            given_name: r.try_get("", "given_name")?,
            family_name: r.try_get("", "family_name")?,
            email: r.try_get("", "email")?,
            mandatory: r.try_get("", "mandatory")?,
            complete: r.try_get("", "complete")?,
            overdue: r.try_get("", "overdue")?,
            in_progress: r.try_get("", "in_progress")?,
            last_active: r.try_get("", "last_active")?,
            last_contact: r.try_get("", "last_contact")?,
            follow_up: r.try_get("", "follow_up")?,
            course_status: r.try_get("", "course_status")?,
        });
    }
    Ok(out)
}

/// A contact to log.
#[derive(Debug, Clone)]
pub struct NewContact {
    pub method: Method,
    pub note: String,
    pub contacted_on: NaiveDate,
    /// The next follow-up (`None`: none planned, clearing one that was).
    pub next_on: Option<NaiveDate>,
}

/// Logs `coach`'s contact with `learner` and sets (or clears) their next follow-up.
pub async fn record_contact(
    tx: &TenantTx,
    coach: PersonId,
    learner: PersonId,
    contact: &NewContact,
) -> Result<(), DbError> {
    record_message(tx, coach, learner, contact).await?;
    let (c, l): (Value, Value) = (coach.as_uuid().into(), learner.as_uuid().into());
    match contact.next_on {
        None => {
            tx.execute(
                "DELETE FROM coach_follow_ups WHERE tenant_id = $1 AND coach_id = $2 AND learner_id = $3",
                vec![c, l],
            )
            .await?;
        }
        Some(next) => {
            let changed = tx
                .execute(
                    "UPDATE coach_follow_ups SET due_on = $4, reminded_on = NULL
                      WHERE tenant_id = $1 AND coach_id = $2 AND learner_id = $3",
                    vec![c.clone(), l.clone(), next.into()],
                )
                .await?;
            if changed == 0 {
                tx.execute(
                    "INSERT INTO coach_follow_ups (tenant_id, coach_id, learner_id, due_on) VALUES ($1, $2, $3, $4)",
                    vec![c, l, next.into()],
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// Logs a contact without changing the follow-up planned (an email sent from the site).
pub async fn record_message(
    tx: &TenantTx,
    coach: PersonId,
    learner: PersonId,
    contact: &NewContact,
) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO coach_contacts (tenant_id, id, coach_id, learner_id, method, note, contacted_on, next_on, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        vec![
            Uuid::now_v7().into(),
            coach.as_uuid().into(),
            learner.as_uuid().into(),
            contact.method.as_str().into(),
            contact.note.clone().into(),
            contact.contacted_on.into(),
            contact.next_on.into(),
            Utc::now().into(),
        ],
    )
    .await?;
    Ok(())
}

/// Whether `coach` has sent `learner` a message through the site since `since`.
pub async fn messaged_since(
    tx: &TenantTx,
    coach: PersonId,
    learner: PersonId,
    since: DateTime<Utc>,
) -> Result<bool, DbError> {
    Ok(tx
        .query_one(
            "SELECT 1 AS one FROM coach_contacts
              WHERE tenant_id = $1 AND learner_id = $2 AND coach_id = $3 AND method = 'message' AND recorded_at >= $4",
            vec![learner.as_uuid().into(), coach.as_uuid().into(), since.into()],
        )
        .await?
        .is_some())
}

/// A contact in the log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Contact {
    /// The coach's name, `None` for an account since closed.
    pub coach: Option<String>,
    pub method: Method,
    pub note: String,
    pub contacted_on: NaiveDate,
    pub next_on: Option<NaiveDate>,
}

/// The log of contacts with `learner` here, newest first (at most `limit`).
pub async fn contacts(tx: &TenantTx, learner: PersonId, limit: u64) -> Result<Vec<Contact>, DbError> {
    let sql = format!(
        "SELECT k.method, k.note, k.contacted_on, k.next_on, p.given_name, p.family_name
           FROM coach_contacts k
           LEFT JOIN people p ON p.id = k.coach_id
          WHERE k.tenant_id = $1 AND k.learner_id = $2
          ORDER BY k.recorded_at DESC, k.id DESC
          LIMIT {}",
        limit.min(1000)
    );
    let rows = tx.query_all(&sql, vec![learner.as_uuid().into()]).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let method: String = r.try_get("", "method")?;
        let given: Option<String> = r.try_get("", "given_name")?;
        let family: Option<String> = r.try_get("", "family_name")?;
        out.push(Contact {
            coach: given.map(|g| format!("{g} {}", family.unwrap_or_default()).trim().to_owned()),
            method: Method::from_word(&method).unwrap_or(Method::Email),
            note: r.try_get("", "note")?,
            contacted_on: r.try_get("", "contacted_on")?,
            next_on: r.try_get("", "next_on")?,
        });
    }
    Ok(out)
}

/// A follow-up that is due.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Due {
    pub person: PersonId,
    pub name: String,
    pub due_on: NaiveDate,
}

/// `coach`'s follow-ups due on or before `today` with learners still in their caseload, earliest
/// first (at most 200).
pub async fn follow_ups_due(tx: &TenantTx, coach: PersonId, today: NaiveDate) -> Result<Vec<Due>, DbError> {
    let sql = format!(
        "SELECT f.learner_id, f.due_on, p.given_name, p.family_name FROM coach_follow_ups f
           JOIN people p ON p.id = f.learner_id
          WHERE f.tenant_id = $1 AND f.coach_id = $2 AND f.due_on <= $3
            AND f.learner_id IN (SELECT c.person_id FROM ({}) c
                                   JOIN memberships m ON m.tenant_id = $1 AND m.person_id = c.person_id AND m.status = 'approved')
          ORDER BY f.due_on, p.family_name
          LIMIT 200",
        caseloads(true)
    );
    let rows = tx.query_all(&sql, vec![coach.as_uuid().into(), today.into()]).await?;
    rows.iter()
        .map(|r| Ok(Due { person: person(r, "learner_id")?, name: full_name(r)?, due_on: r.try_get("", "due_on")? }))
        .collect()
}

/// The coaches (approved members still appointed) with a follow-up due on or before `today` that
/// they have not been reminded of.
pub async fn coaches_to_remind(tx: &TenantTx, today: NaiveDate) -> Result<Vec<PersonId>, DbError> {
    let rows = tx
        .query_all(
            "SELECT DISTINCT f.coach_id FROM coach_follow_ups f
               JOIN coaches c ON c.tenant_id = f.tenant_id AND c.person_id = f.coach_id
               JOIN memberships m ON m.tenant_id = f.tenant_id AND m.person_id = f.coach_id AND m.status = 'approved'
              WHERE f.tenant_id = $1 AND f.due_on <= $2 AND f.reminded_on IS NULL",
            vec![today.into()],
        )
        .await?;
    rows.iter().map(|r| person(r, "coach_id")).collect()
}

/// Marks `coach`'s follow-ups due by `today` as reminded (so each is reminded of once).
pub async fn mark_reminded(tx: &TenantTx, coach: PersonId, today: NaiveDate) -> Result<(), DbError> {
    tx.execute(
        "UPDATE coach_follow_ups SET reminded_on = $3
          WHERE tenant_id = $1 AND coach_id = $2 AND due_on <= $3 AND reminded_on IS NULL",
        vec![coach.as_uuid().into(), today.into()],
    )
    .await?;
    Ok(())
}

/// What a signed-in person's home shows of line management and coaching, in one statement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Glance {
    /// How many people they line manage, and how many of those have overdue training.
    pub team: (i64, i64),
    /// If they are a coach: their caseload's size and the follow-ups due.
    pub coaching: Option<(i64, i64)>,
    /// Their own coaches (name, email).
    pub coaches: Vec<(String, String)>,
}

/// The [`Glance`] of `me` on `today`.
pub async fn glance(tx: &TenantTx, me: PersonId, today: NaiveDate) -> Result<Glance, DbError> {
    let sql = format!(
        "SELECT 'team' AS kind, COUNT(*) AS a,
                COALESCE(SUM(CASE WHEN EXISTS (
                    SELECT 1 FROM assignments x WHERE x.tenant_id = $1 AND x.person_id = l.person_id
                       AND NOT (x.completed_at IS NOT NULL AND (x.expires_on IS NULL OR x.expires_on > $3))
                       AND x.due_on < $3) THEN 1 ELSE 0 END), 0) AS b,
                '' AS given_name, '' AS family_name, '' AS email
           FROM line_managers l
           JOIN memberships m ON m.tenant_id = l.tenant_id AND m.person_id = l.person_id AND m.status = 'approved'
          WHERE l.tenant_id = $1 AND l.manager_id = $2
         UNION ALL
         SELECT 'coach', (SELECT COUNT(*) FROM ({cl}) c
                            JOIN memberships m ON m.tenant_id = $1 AND m.person_id = c.person_id AND m.status = 'approved'),
                (SELECT COUNT(*) FROM coach_follow_ups f WHERE f.tenant_id = $1 AND f.coach_id = $2 AND f.due_on <= $3),
                '', '', ''
           FROM coaches k WHERE k.tenant_id = $1 AND k.person_id = $2
         UNION ALL
         SELECT 'mine', 0, 0, p.given_name, p.family_name, p.email
           FROM (SELECT h.coach_id FROM coach_learners h WHERE h.tenant_id = $1 AND h.learner_id = $2
                 UNION
                 SELECT r.coach_id FROM coach_rules r
                   JOIN staff_records s ON s.tenant_id = r.tenant_id AND s.person_id = $2
                        AND ((r.kind = 'department' AND r.value = s.department) OR (r.kind = 'staff_group' AND r.value = s.staff_group))
                  WHERE r.tenant_id = $1 AND r.coach_id <> $2
                    AND NOT EXISTS (SELECT 1 FROM coach_learners x WHERE x.tenant_id = $1 AND x.learner_id = $2)) mine
           JOIN memberships m ON m.tenant_id = $1 AND m.person_id = mine.coach_id AND m.status = 'approved'
           JOIN people p ON p.id = mine.coach_id",
        cl = caseloads(true)
    );
    let rows = tx.query_all(&sql, vec![me.as_uuid().into(), today.into()]).await?;
    let mut out = Glance::default();
    for r in rows {
        let kind: String = r.try_get("", "kind")?;
        let (a, b): (i64, i64) = (r.try_get("", "a")?, r.try_get("", "b")?);
        match kind.as_str() {
            "team" => out.team = (a, b),
            "coach" => out.coaching = Some((a, b)),
            _ => out.coaches.push((full_name(&r)?, r.try_get("", "email")?)),
        }
    }
    out.coaches.sort();
    Ok(out)
}
