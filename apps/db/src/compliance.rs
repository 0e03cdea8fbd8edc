//! Assignment rules and the compliance record they produce: who must complete which course by
//! when, renewals that re-open a course, the training manager's matrix with trust-wide totals, and
//! the overdue list the reminder digest is built from.
//!
//! The status of a cell is [`Compliance::on`]; the totals are counted in SQL with the same rule
//! (`STATUS_SQL`), and a test holds the two together.

use crate::catalogue::{self, Course};
use crate::enrolments as learning;
use crate::entities::{assignment, enrolment, requirement};
use crate::states::EnrolmentStatus;
use crate::{DbError, TenantTx};
use chrono::{NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, Set, Value};
use std::collections::HashMap;
use trellis_domain::learning::{Audience, Compliance, RENEWAL_OPENS_DAYS, due_date, expires_on};
use trellis_domain::{CourseId, PersonId, RequirementId, TenantId};
use uuid::Uuid;

/// An assignment rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub id: RequirementId,
    pub course: CourseId,
    pub audience: Audience,
    pub mandatory: bool,
    pub due_days: Option<i32>,
    pub renewal_months: Option<i32>,
}

fn requirement_from(m: requirement::Model) -> Option<Requirement> {
    Some(Requirement {
        id: RequirementId::from_uuid(m.id),
        course: CourseId::from_uuid(m.course_id),
        audience: Audience::parse(&m.audience_kind, &m.audience_value)?,
        mandatory: m.mandatory,
        due_days: m.due_days,
        renewal_months: m.renewal_months,
    })
}

/// This trust's rules, oldest first.
pub async fn requirements(tx: &TenantTx) -> Result<Vec<Requirement>, DbError> {
    Ok(tx
        .select::<requirement::Entity>()
        .order_by_asc(requirement::Column::CreatedAt)
        .all(tx)
        .await?
        .into_iter()
        .filter_map(requirement_from)
        .collect())
}

/// What applying rules did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// People newly enrolled.
    pub enrolled: usize,
    /// New entries in the compliance record.
    pub assigned: usize,
}

/// Adds a rule and applies it at once.
#[allow(clippy::too_many_arguments)] // each is a part of the rule
pub async fn add_requirement(
    tx: &TenantTx,
    course: &Course,
    audience: &Audience,
    mandatory: bool,
    due_days: Option<i32>,
    renewal_months: Option<i32>,
    by: Option<PersonId>,
    today: NaiveDate,
) -> Result<(Requirement, Applied), DbError> {
    let (kind, value) = audience.parts();
    let id = RequirementId::new();
    tx.insert(requirement::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        id: Set(id.as_uuid()),
        course_id: Set(course.id.as_uuid()),
        audience_kind: Set(kind.to_owned()),
        audience_value: Set(value),
        mandatory: Set(mandatory),
        due_days: Set(due_days),
        renewal_months: Set(renewal_months),
        created_by: Set(by.map(|p| p.as_uuid())),
        created_at: Set(Utc::now()),
    })
    .await?;
    let r = Requirement { id, course: course.id, audience: audience.clone(), mandatory, due_days, renewal_months };
    if mandatory {
        // The catalogue marks courses mandatory here.
        crate::catalogue::changed(tx).await?;
    }
    let applied = apply_one(tx, &r, course, today).await?;
    Ok((r, applied))
}

/// Removes a rule and the compliance entries it made that are not yet complete; enrolments stay.
pub async fn remove_requirement(tx: &TenantTx, id: RequirementId) -> Result<bool, DbError> {
    tx.delete_many::<assignment::Entity>()
        .filter(assignment::Column::RequirementId.eq(id.as_uuid()))
        .filter(assignment::Column::CompletedAt.is_null())
        .exec(tx)
        .await?;
    let res = tx.delete_many::<requirement::Entity>().filter(requirement::Column::Id.eq(id.as_uuid())).exec(tx).await?;
    crate::catalogue::changed(tx).await?;
    Ok(res.rows_affected == 1)
}

/// Where one approved member the audience takes in stands on the rule's course.
struct Standing {
    person: Uuid,
    enrolment: Option<String>,
    assigned: bool,
    last_completed: Option<chrono::DateTime<Utc>>,
    /// The trust where that completion was earned, when it is another (a national course).
    completed_in: Option<Uuid>,
}

/// The approved members of this trust the audience takes in (or only `only`, if given), each with
/// their enrolment status on `course`, whether they already have its compliance entry, and their
/// last completion of it — here, or at another of their trusts for a shared national course: one
/// query (joins the planner can hash), whatever the trust's size.
async fn standings(
    tx: &TenantTx,
    audience: &Audience,
    course: CourseId,
    only: Option<PersonId>,
) -> Result<Vec<Standing>, DbError> {
    let mut values: Vec<Value> = vec![course.as_uuid().into()];
    let (mut filter, value) = audience_condition(audience, 3);
    values.extend(value);
    if let Some(p) = only {
        values.push(p.as_uuid().into());
        filter.push_str(&format!(" AND m.person_id = ${}", values.len() + 1));
    }
    let sql = format!(
        "SELECT m.person_id AS id, e.status AS status, CASE WHEN a.person_id IS NULL THEN 0 ELSE 1 END AS assigned, \
         (SELECT max(c.completed_at) FROM completions c \
          WHERE c.tenant_id = $1 AND c.person_id = m.person_id AND c.course_id = $2) AS last_completed, \
         (SELECT sc.completed_at FROM shared_completions sc \
          WHERE sc.person_id = m.person_id AND sc.course_id = $2 AND sc.earned_in <> $1 \
          ORDER BY sc.completed_at DESC LIMIT 1) AS shared_completed, \
         (SELECT sc.earned_in FROM shared_completions sc \
          WHERE sc.person_id = m.person_id AND sc.course_id = $2 AND sc.earned_in <> $1 \
          ORDER BY sc.completed_at DESC LIMIT 1) AS shared_in \
         FROM memberships m \
         LEFT JOIN enrolments e ON e.tenant_id = $1 AND e.person_id = m.person_id AND e.course_id = $2 \
         LEFT JOIN assignments a ON a.tenant_id = $1 AND a.person_id = m.person_id AND a.course_id = $2 \
         WHERE m.tenant_id = $1 AND m.status = 'approved'{filter}"
    );
    let rows = tx.query_all(&sql, values).await?;
    rows.into_iter()
        .map(|r| {
            let here: Option<chrono::DateTime<Utc>> = r.try_get("", "last_completed")?;
            let shared: Option<chrono::DateTime<Utc>> = r.try_get("", "shared_completed")?;
            let shared_in: Option<Uuid> = r.try_get("", "shared_in")?;
            // The later of this trust's own completion and one earned elsewhere.
            let (last_completed, completed_in) = match (here, shared) {
                (Some(h), Some(s)) if s > h => (Some(s), shared_in),
                (None, Some(s)) => (Some(s), shared_in),
                (h, _) => (h, None),
            };
            Ok(Standing {
                person: r.try_get("", "id")?,
                enrolment: r.try_get("", "status")?,
                assigned: r.try_get::<i32>("", "assigned")? != 0,
                last_completed,
                completed_in,
            })
        })
        .collect()
}

/// Applies one rule: enrols everyone it takes in who is not on the course (with the due date),
/// and, for mandatory training, gives each a compliance entry (in date already if they completed
/// the course recently enough). Batched: one query to read where everyone stands, then inserts
/// of 500 rows at a time.
pub async fn apply_one(tx: &TenantTx, r: &Requirement, course: &Course, today: NaiveDate) -> Result<Applied, DbError> {
    apply_rule(tx, r, course, today, None).await
}

/// [`apply_one`], for everyone or for one person.
async fn apply_rule(
    tx: &TenantTx,
    r: &Requirement,
    course: &Course,
    today: NaiveDate,
    only: Option<PersonId>,
) -> Result<Applied, DbError> {
    let people = standings(tx, &r.audience, course.id, only).await?;
    let due = due_date(today, r.due_days);
    let now = Utc::now();
    let mut applied = Applied::default();
    let mut new_enrolments = Vec::new();
    for p in &people {
        match p.enrolment.as_deref() {
            Some("active" | "completed") => {}
            None if course.kind == "course" => new_enrolments.push(enrolment::ActiveModel {
                tenant_id: Set(tx.tenant().as_uuid()),
                id: Set(Uuid::now_v7()),
                person_id: Set(p.person),
                course_id: Set(course.id.as_uuid()),
                version_id: Set(course.current_version),
                status: Set(EnrolmentStatus::Active),
                source: Set("assigned".into()),
                cycle: Set(1),
                due_on: Set(Some(due)),
                requested_at: Set(now),
                enrolled_at: Set(Some(now)),
                completed_at: Set(None),
                last_object_id: Set(None),
                last_activity_at: Set(None),
                decided_by: Set(None),
                reason: Set(None),
            }),
            _ => {
                learning::enrol(tx, PersonId::from_uuid(p.person), course, "assigned", true, Some(due), None).await?;
                applied.enrolled += 1;
            }
        }
    }
    applied.enrolled += new_enrolments.len();
    for chunk in new_enrolments.chunks(500) {
        tx.insert_many(chunk.to_vec()).await?;
    }
    if r.mandatory {
        let rows: Vec<assignment::ActiveModel> = people
            .iter()
            .filter(|p| !p.assigned)
            .map(|p| {
                let done = p.last_completed;
                let expiry = done.and_then(|d| expires_on(d.date_naive(), r.renewal_months));
                assignment::ActiveModel {
                    tenant_id: Set(tx.tenant().as_uuid()),
                    person_id: Set(p.person),
                    course_id: Set(course.id.as_uuid()),
                    requirement_id: Set(r.id.as_uuid()),
                    assigned_at: Set(now),
                    due_on: Set(expiry.unwrap_or(due)),
                    started_at: Set(done),
                    completed_at: Set(done),
                    expires_on: Set(expiry),
                    reminded_due_on: Set(None),
                    completed_in: Set(done.and(p.completed_in)),
                }
            })
            .collect();
        applied.assigned = rows.len();
        for chunk in rows.chunks(500) {
            tx.insert_many(chunk.to_vec()).await?;
        }
    }
    Ok(applied)
}

/// Applies every rule again (after staff are imported or change group).
pub async fn apply_all(tx: &TenantTx, today: NaiveDate) -> Result<Applied, DbError> {
    apply_rules(tx, today, None).await
}

/// Applies every rule to one person, in the caller's transaction: called with every change that
/// can bring someone into a rule's audience (registration approved at once, approval, joining,
/// a first single sign-on, an accepted invitation, reinstatement, a change of their record).
pub async fn apply_for(tx: &TenantTx, person: PersonId, today: NaiveDate) -> Result<Applied, DbError> {
    apply_rules(tx, today, Some(person)).await
}

async fn apply_rules(tx: &TenantTx, today: NaiveDate, only: Option<PersonId>) -> Result<Applied, DbError> {
    let mut total = Applied::default();
    let rules = requirements(tx).await?;
    if rules.is_empty() {
        return Ok(total);
    }
    let courses = catalogue::courses_by_id(tx, &rules.iter().map(|r| r.course.as_uuid()).collect::<Vec<_>>()).await?;
    for r in rules {
        if let Some(c) = courses.get(&r.course.as_uuid()) {
            let a = apply_rule(tx, &r, c, today, only).await?;
            total.enrolled += a.enrolled;
            total.assigned += a.assigned;
        }
    }
    Ok(total)
}

/// What the daily reconciliation fixed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Reconciled {
    /// Compliance entries added for people a rule takes in who had none.
    pub assigned: usize,
    /// Enrolments made by rules for them.
    pub enrolled: usize,
    /// Open entries removed for people a rule no longer takes in (moved group, left, suspended).
    /// Completed entries are kept: they are the record of what was done.
    pub removed: usize,
}

/// Brings every rule and its audience into line: entries for everyone a rule takes in, and none
/// still open for anyone it no longer does.
pub async fn reconcile(tx: &TenantTx, today: NaiveDate) -> Result<Reconciled, DbError> {
    reconcile_rules(tx, today, None).await
}

/// [`reconcile`] for one person (after their record changes).
pub async fn reconcile_person(tx: &TenantTx, person: PersonId, today: NaiveDate) -> Result<Reconciled, DbError> {
    reconcile_rules(tx, today, Some(person)).await
}

async fn reconcile_rules(tx: &TenantTx, today: NaiveDate, only: Option<PersonId>) -> Result<Reconciled, DbError> {
    let applied = apply_rules(tx, today, only).await?;
    let mut removed = 0usize;
    for r in requirements(tx).await? {
        let (in_audience, value) = audience_condition(&r.audience, 2);
        let mut values: Vec<Value> = Vec::new();
        values.extend(value);
        values.push(r.id.as_uuid().into());
        let n = values.len() + 1;
        let person = match only {
            Some(p) => {
                values.push(p.as_uuid().into());
                format!(" AND person_id = ${}", values.len() + 1)
            }
            None => String::new(),
        };
        let sql = format!(
            "DELETE FROM assignments WHERE tenant_id = $1 AND requirement_id = ${n} AND completed_at IS NULL{person} \
             AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.tenant_id = $1 AND m.person_id = assignments.person_id \
                             AND m.status = 'approved'{in_audience})"
        );
        let res = tx.execute(&sql, values).await?;
        removed += usize::try_from(res).unwrap_or(0);
    }
    Ok(Reconciled { assigned: applied.assigned, enrolled: applied.enrolled, removed })
}

/// The SQL condition (on `m`, a membership; `$1` is the trust) that an audience takes a person
/// in, using placeholder `$n` for its value if it has one.
fn audience_condition(audience: &Audience, n: usize) -> (String, Option<Value>) {
    match audience {
        Audience::Everyone => (String::new(), None),
        Audience::Person(p) => (format!(" AND m.person_id = ${n}"), Some(p.as_uuid().into())),
        Audience::StaffGroup(v) | Audience::Department(v) | Audience::Position(v) | Audience::PlaceOfWork(v) => {
            let col = match audience {
                Audience::StaffGroup(_) => "staff_group",
                Audience::Department(_) => "department",
                Audience::Position(_) => "position",
                _ => "place_of_work",
            };
            (
                format!(
                    " AND EXISTS (SELECT 1 FROM staff_records s WHERE s.tenant_id = $1 AND s.person_id = m.person_id AND lower(s.{col}) = ${n})"
                ),
                Some(v.to_lowercase().into()),
            )
        }
    }
}

/// Brings the person's compliance entry for the course in date after a completion.
pub async fn completed(tx: &TenantTx, person: PersonId, course: CourseId, today: NaiveDate) -> Result<(), DbError> {
    let Some(a) = tx
        .select::<assignment::Entity>()
        .filter(assignment::Column::PersonId.eq(person.as_uuid()))
        .filter(assignment::Column::CourseId.eq(course.as_uuid()))
        .one(tx)
        .await?
    else {
        return Ok(());
    };
    let renewal = tx
        .select::<requirement::Entity>()
        .filter(requirement::Column::Id.eq(a.requirement_id))
        .one(tx)
        .await?
        .and_then(|r| r.renewal_months);
    let expiry = expires_on(today, renewal);
    let now = Utc::now();
    tx.update_many::<assignment::Entity>()
        .filter(assignment::Column::PersonId.eq(person.as_uuid()))
        .filter(assignment::Column::CourseId.eq(course.as_uuid()))
        .col_expr(assignment::Column::CompletedAt, Expr::value(Some(now)))
        .col_expr(assignment::Column::CompletedIn, Expr::value(Option::<Uuid>::None))
        .col_expr(assignment::Column::ExpiresOn, Expr::value(expiry))
        .col_expr(assignment::Column::DueOn, Expr::value(expiry.unwrap_or(a.due_on)))
        .exec(tx)
        .await?;
    Ok(())
}

/// Re-opens for renewal every completed course whose completion expires within
/// [`RENEWAL_OPENS_DAYS`]: a new cycle on the published version, due when the completion expires.
pub async fn reopen_for_renewal(tx: &TenantTx, today: NaiveDate) -> Result<usize, DbError> {
    let horizon = today + chrono::Duration::days(RENEWAL_OPENS_DAYS);
    let due: Vec<assignment::Model> = tx
        .select::<assignment::Entity>()
        .filter(assignment::Column::ExpiresOn.lte(horizon))
        .filter(assignment::Column::CompletedAt.is_not_null())
        .all(tx)
        .await?;
    let courses = catalogue::courses_by_id(tx, &due.iter().map(|a| a.course_id).collect::<Vec<_>>()).await?;
    let mut n = 0;
    for a in due {
        let Some(e) =
            learning::enrolment(tx, PersonId::from_uuid(a.person_id), CourseId::from_uuid(a.course_id)).await?
        else {
            continue;
        };
        if e.status != EnrolmentStatus::Completed {
            continue;
        }
        let version = courses.get(&a.course_id).and_then(|c| c.current_version);
        learning::reopen(tx, &e, version, a.expires_on.unwrap_or(a.due_on)).await?;
        tx.update_many::<assignment::Entity>()
            .filter(assignment::Column::PersonId.eq(a.person_id))
            .filter(assignment::Column::CourseId.eq(a.course_id))
            .col_expr(assignment::Column::StartedAt, Expr::value(Option::<chrono::DateTime<Utc>>::None))
            .exec(tx)
            .await?;
        n += 1;
    }
    Ok(n)
}

/// [`Compliance::on`] in SQL, over `assignments a` with `$today` as the given placeholder.
fn status_sql(today: &str) -> String {
    format!(
        "CASE WHEN a.completed_at IS NOT NULL AND (a.expires_on IS NULL OR a.expires_on > {today}) THEN 'complete'
              WHEN a.due_on < {today} THEN 'overdue'
              WHEN a.started_at IS NOT NULL THEN 'due'
              ELSE 'not_started' END"
    )
}

/// A cell of the matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub status: Compliance,
    pub due_on: NaiveDate,
    pub completed_on: Option<NaiveDate>,
    pub expires_on: Option<NaiveDate>,
    /// The other trust where the completion was earned (a shared national course), if not here.
    pub completed_in: Option<trellis_domain::TenantId>,
}

impl Cell {
    /// The cell of a compliance entry on `today`.
    fn of(a: &assignment::Model, today: NaiveDate) -> Cell {
        Cell {
            status: Compliance::on(today, a.due_on, a.completed_at.is_some(), a.expires_on, a.started_at.is_some()),
            due_on: a.due_on,
            completed_on: a.completed_at.map(|d| d.date_naive()),
            expires_on: a.expires_on,
            completed_in: a.completed_in.map(trellis_domain::TenantId::from_uuid),
        }
    }
}

/// A row of the matrix: one member of staff.
#[derive(Debug, Clone)]
pub struct Row {
    pub person: PersonId,
    pub name: String,
    pub email: String,
    pub staff_group: String,
    pub department: String,
    /// One per course of [`Matrix::courses`]; `None` where the course is not required of them.
    pub cells: Vec<Option<Cell>>,
}

/// Counts of each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub complete: i64,
    pub due: i64,
    pub overdue: i64,
    pub not_started: i64,
}

impl Counts {
    fn plus(&mut self, other: &Counts) {
        self.complete += other.complete;
        self.due += other.due;
        self.overdue += other.overdue;
        self.not_started += other.not_started;
    }

    /// Everyone counted.
    pub fn total(&self) -> i64 {
        self.complete + self.due + self.overdue + self.not_started
    }

    /// The share in date, in whole per cent (rounded down, so 99.6% is not shown as 100%).
    pub fn percent_complete(&self) -> i64 {
        if self.total() == 0 { 0 } else { self.complete * 100 / self.total() }
    }
}

/// What the matrix is asked for.
#[derive(Debug, Clone, Default)]
pub struct MatrixQuery {
    pub staff_group: String,
    pub department: String,
    pub search: String,
    /// Only people with at least one course in this status.
    pub status: Option<Compliance>,
    /// `name` (default), `group` or `overdue` (most overdue first).
    pub sort: String,
    pub offset: u64,
    pub limit: u64,
}

/// The totals for everyone a matrix query's filters take in (whatever the page or the sort).
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub by_course: HashMap<Uuid, Counts>,
    /// Per staff group ("" where none is recorded), sorted by group.
    pub by_group: Vec<(String, Counts)>,
    pub overall: Counts,
}

/// A page of the matrix with the trust-wide totals.
#[derive(Debug, Clone, Default)]
pub struct Matrix {
    pub courses: Vec<(CourseId, String)>,
    pub rows: Vec<Row>,
    /// People matching the filters (all pages).
    pub people: u64,
    /// Per course, in the order of `courses`, for everyone matching the filters.
    pub course_totals: Vec<Counts>,
    /// Per staff group, across all mandatory courses.
    pub group_totals: Vec<(String, Counts)>,
    pub overall: Counts,
}

/// The people a matrix query's filters take in: `$1` the trust, `$2` today, then the filters'
/// values; conditions over `m` (memberships), `p` (people) and `s` (staff records), the first
/// being "has a compliance entry".
struct Filters {
    values: Vec<Value>,
    wh: Vec<String>,
    needle: String,
}

/// What the matrix's people come from; `AND` the conditions of [`Filters`] after it.
const FROM: &str = "FROM memberships m JOIN people p ON p.id = m.person_id
                LEFT JOIN staff_records s ON s.tenant_id = $1 AND s.person_id = m.person_id
                WHERE m.tenant_id = $1 AND m.status = 'approved'";

fn filters(q: &MatrixQuery, today: NaiveDate) -> Filters {
    let mut values: Vec<Value> = vec![today.into()];
    let status = status_sql("$2");
    let mut wh =
        vec!["EXISTS (SELECT 1 FROM assignments a WHERE a.tenant_id = $1 AND a.person_id = m.person_id)".to_owned()];
    if !q.staff_group.is_empty() {
        values.push(q.staff_group.clone().into());
        wh.push(format!("s.staff_group = ${}", values.len() + 1));
    }
    if !q.department.is_empty() {
        values.push(q.department.clone().into());
        wh.push(format!("s.department = ${}", values.len() + 1));
    }
    let needle = q.search.trim().to_lowercase();
    if !needle.is_empty() {
        values.push(format!("%{}%", needle.replace(['%', '_', '\\'], "")).into());
        let n = values.len() + 1;
        wh.push(format!(
            "(lower(p.given_name || ' ' || p.family_name) LIKE ${n} OR lower(p.email) LIKE ${n} OR s.assignment_number LIKE ${n})"
        ));
    }
    if let Some(st) = q.status {
        values.push(st.as_str().into());
        wh.push(format!(
            "EXISTS (SELECT 1 FROM assignments a WHERE a.tenant_id = $1 AND a.person_id = m.person_id AND {status} = ${})",
            values.len() + 1
        ));
    }
    Filters { values, wh, needle }
}

/// One line of the compliance export: a person's entry for one mandatory course.
#[derive(Debug, Clone)]
pub struct ExportLine {
    pub person: PersonId,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
    pub assignment_number: String,
    pub staff_group: String,
    pub department: String,
    pub course: String,
    pub cell: Cell,
}

/// Where an export has got to: the last person written (family name, given name, id).
pub type ExportCursor = (String, String, Uuid);

/// The next `people` people the filters take in after `after` (by name), with every compliance
/// entry of each: one query, so an export of any size is read in bounded chunks, each in its own
/// short transaction. Returns the lines and the cursor for the next chunk (`None` at the end).
pub async fn export_chunk(
    tx: &TenantTx,
    q: &MatrixQuery,
    today: NaiveDate,
    after: Option<&ExportCursor>,
    people: u64,
) -> Result<(Vec<ExportLine>, Option<ExportCursor>), DbError> {
    let Filters { mut values, mut wh, .. } = filters(q, today);
    if let Some((family, given, id)) = after {
        values.push(family.clone().into());
        let f = values.len() + 1;
        values.push(given.clone().into());
        let g = values.len() + 1;
        values.push((*id).into());
        let i = values.len() + 1;
        wh.push(format!(
            "(p.family_name > ${f} OR (p.family_name = ${f} AND (p.given_name > ${g} OR (p.given_name = ${g} AND p.id > ${i}))))"
        ));
    }
    values.push(i64::try_from(people.clamp(1, 5_000)).unwrap_or(1_000).into());
    let lim = values.len() + 1;
    values.push(TenantId::NATIONAL.as_uuid().into());
    let national = values.len() + 1;
    let cond = wh.join(" AND ");
    let sql = format!(
        "SELECT w.id AS id, w.given_name AS given_name, w.family_name AS family_name, w.email AS email,
                w.assignment_number AS assignment_number, w.staff_group AS staff_group, w.department AS department,
                c.title AS course, a.due_on AS due_on, a.started_at AS started_at, a.completed_at AS completed_at,
                a.expires_on AS expires_on, a.completed_in AS completed_in
           FROM (SELECT p.id AS id, p.given_name AS given_name, p.family_name AS family_name, p.email AS email,
                        coalesce(s.assignment_number, '') AS assignment_number,
                        coalesce(s.staff_group, '') AS staff_group, coalesce(s.department, '') AS department
                   {FROM} AND {cond}
                  ORDER BY p.family_name, p.given_name, p.id LIMIT ${lim}) w
           JOIN assignments a ON a.tenant_id = $1 AND a.person_id = w.id
           JOIN courses c ON c.id = a.course_id AND (c.tenant_id = $1 OR c.tenant_id = ${national})
          ORDER BY w.family_name, w.given_name, w.id, c.title"
    );
    let mut lines = Vec::new();
    let mut persons = 0u64;
    let mut last: Option<ExportCursor> = None;
    for r in tx.query_all(&sql, values).await? {
        let id: Uuid = r.try_get("", "id")?;
        let given_name: String = r.try_get("", "given_name")?;
        let family_name: String = r.try_get("", "family_name")?;
        if last.as_ref().is_none_or(|l| l.2 != id) {
            persons += 1;
            last = Some((family_name.clone(), given_name.clone(), id));
        }
        let due_on: NaiveDate = r.try_get("", "due_on")?;
        let started: Option<chrono::DateTime<Utc>> = r.try_get("", "started_at")?;
        let completed: Option<chrono::DateTime<Utc>> = r.try_get("", "completed_at")?;
        let expires_on: Option<NaiveDate> = r.try_get("", "expires_on")?;
        lines.push(ExportLine {
            person: PersonId::from_uuid(id),
            given_name,
            family_name,
            email: r.try_get("", "email")?,
            assignment_number: r.try_get("", "assignment_number")?,
            staff_group: r.try_get("", "staff_group")?,
            department: r.try_get("", "department")?,
            course: r.try_get("", "course")?,
            cell: Cell {
                status: Compliance::on(today, due_on, completed.is_some(), expires_on, started.is_some()),
                due_on,
                completed_on: completed.map(|d| d.date_naive()),
                expires_on,
                completed_in: r.try_get::<Option<Uuid>>("", "completed_in")?.map(TenantId::from_uuid),
            },
        });
    }
    let next = if persons < people.clamp(1, 5_000) { None } else { last };
    Ok((lines, next))
}

/// The trust-wide totals of the matrix for the filters (per course, per staff group, overall):
/// the costly part of a matrix page for a large trust, as it reads every entry the filters take in.
pub async fn count_totals(tx: &TenantTx, q: &MatrixQuery, today: NaiveDate) -> Result<Totals, DbError> {
    let _t = tx.tenant().as_uuid();
    let Filters { values, wh, needle } = filters(q, today);
    // Every entry belongs to someone with an entry, so that condition is left out here; the
    // people table only for a search.
    let totals_cond = if wh.len() > 1 { wh[1..].join(" AND ") } else { "1 = 1".to_owned() };
    let people_join = if needle.is_empty() { "" } else { "JOIN people p ON p.id = a.person_id" };
    // Counted with FILTER rather than grouped by the status: the same rule as
    // `status_sql`, a third cheaper on 600,000 entries (bench/learning.sh).
    let done = "(a.completed_at IS NOT NULL AND (a.expires_on IS NULL OR a.expires_on > $2))";
    let totals_sql = format!(
        "SELECT a.course_id AS course_id, coalesce(s.staff_group, '') AS staff_group,
                count(*) FILTER (WHERE {done}) AS complete,
                count(*) FILTER (WHERE NOT {done} AND a.due_on < $2) AS overdue,
                count(*) FILTER (WHERE NOT {done} AND a.due_on >= $2 AND a.started_at IS NOT NULL) AS due,
                count(*) AS n
           FROM assignments a
           JOIN memberships m ON m.tenant_id = $1 AND m.person_id = a.person_id AND m.status = 'approved'
           {people_join}
           LEFT JOIN staff_records s ON s.tenant_id = $1 AND s.person_id = a.person_id
          WHERE a.tenant_id = $1 AND {totals_cond}
          GROUP BY a.course_id, coalesce(s.staff_group, '')"
    );
    let mut by_course: HashMap<Uuid, Counts> = HashMap::new();
    let mut by_group: HashMap<String, Counts> = HashMap::new();
    let mut overall = Counts::default();
    for r in tx.query_all(&totals_sql, values.clone()).await? {
        let course: Uuid = r.try_get("", "course_id")?;
        let group: String = r.try_get("", "staff_group")?;
        let complete: i64 = r.try_get("", "complete")?;
        let overdue: i64 = r.try_get("", "overdue")?;
        let due: i64 = r.try_get("", "due")?;
        let n: i64 = r.try_get("", "n")?;
        let c = Counts { complete, overdue, due, not_started: n - complete - overdue - due };
        by_course.entry(course).or_default().plus(&c);
        by_group.entry(group).or_default().plus(&c);
        overall.plus(&c);
    }
    let mut by_group: Vec<(String, Counts)> = by_group.into_iter().collect();
    by_group.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Totals { by_course, by_group, overall })
}

/// The compliance matrix: a page of staff × mandatory courses, with the totals for everyone the
/// filters take in. Five queries, whatever the page size or the size of the trust; four when
/// `known` holds the totals already (counted earlier for the same query and day: the totals read
/// every entry the filters take in, which is the costly part for a large trust).
pub async fn matrix(
    tx: &TenantTx,
    q: &MatrixQuery,
    today: NaiveDate,
    known: Option<&Totals>,
) -> Result<(Matrix, Totals), DbError> {
    let _t = tx.tenant().as_uuid();
    let rules: Vec<Requirement> = requirements(tx).await?.into_iter().filter(|r| r.mandatory).collect();
    let mut course_ids: Vec<Uuid> = Vec::new();
    for r in &rules {
        if !course_ids.contains(&r.course.as_uuid()) {
            course_ids.push(r.course.as_uuid());
        }
    }
    let found = catalogue::courses_by_id(tx, &course_ids).await?;
    let mut courses: Vec<(CourseId, String)> =
        course_ids.iter().filter_map(|id| found.get(id).map(|c| (c.id, c.title.clone()))).collect();
    courses.sort_by(|a, b| a.1.cmp(&b.1));

    let Filters { values, wh, needle: _ } = filters(q, today);
    let status = status_sql("$2");
    let cond = wh.join(" AND ");

    let totals = match known {
        Some(t) => t.clone(),
        None => count_totals(tx, q, today).await?,
    };

    // The page of people.
    let order = match q.sort.as_str() {
        "group" => "coalesce(s.staff_group, '') ASC, p.family_name ASC, p.given_name ASC, p.id ASC",
        "overdue" => "overdue DESC, p.family_name ASC, p.given_name ASC, p.id ASC",
        _ => "p.family_name ASC, p.given_name ASC, p.id ASC",
    };
    let overdue_count = if q.sort == "overdue" {
        format!(
            "(SELECT count(*) FROM assignments a WHERE a.tenant_id = $1 AND a.person_id = m.person_id AND {status} = 'overdue')"
        )
    } else {
        "0".to_owned()
    };
    let mut page_values = values.clone();
    page_values.push(i64::try_from(q.limit.clamp(1, 200)).unwrap_or(50).into());
    let lim = page_values.len() + 1;
    page_values.push(i64::try_from(q.offset).unwrap_or(0).into());
    let off = page_values.len() + 1;
    let page_sql = format!(
        "SELECT p.id AS id, p.given_name AS given_name, p.family_name AS family_name, p.email AS email,
                coalesce(s.staff_group, '') AS staff_group, coalesce(s.department, '') AS department,
                {overdue_count} AS overdue, count(*) OVER () AS people
           {FROM} AND {cond} ORDER BY {order} LIMIT ${lim} OFFSET ${off}"
    );
    let mut rows = Vec::new();
    let mut people: i64 = 0;
    for r in tx.query_all(&page_sql, page_values).await? {
        people = r.try_get("", "people")?;
        let given: String = r.try_get("", "given_name")?;
        let family: String = r.try_get("", "family_name")?;
        rows.push(Row {
            person: PersonId::from_uuid(r.try_get("", "id")?),
            name: format!("{given} {family}"),
            email: r.try_get("", "email")?,
            staff_group: r.try_get("", "staff_group")?,
            department: r.try_get("", "department")?,
            cells: vec![None; courses.len()],
        });
    }
    if rows.is_empty() && q.offset > 0 {
        // Past the last page: the count alone, for the pager.
        let people_sql = format!("SELECT count(*) AS n {FROM} AND {cond}");
        people =
            tx.query_one(&people_sql, values.clone()).await?.and_then(|r| r.try_get::<i64>("", "n").ok()).unwrap_or(0);
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.person.as_uuid()).collect();
    let position: HashMap<Uuid, usize> = courses.iter().enumerate().map(|(i, (c, _))| (c.as_uuid(), i)).collect();
    let row_of: HashMap<Uuid, usize> = ids.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    if !ids.is_empty() {
        for a in tx.select::<assignment::Entity>().filter(assignment::Column::PersonId.is_in(ids)).all(tx).await? {
            if let (Some(ri), Some(ci)) = (row_of.get(&a.person_id), position.get(&a.course_id)) {
                rows[*ri].cells[*ci] = Some(Cell::of(&a, today));
            }
        }
    }
    let course_totals =
        courses.iter().map(|(c, _)| totals.by_course.get(&c.as_uuid()).copied().unwrap_or_default()).collect();
    let matrix = Matrix {
        courses,
        rows,
        people: u64::try_from(people).unwrap_or(0),
        course_totals,
        group_totals: totals.by_group.clone(),
        overall: totals.overall,
    };
    Ok((matrix, totals))
}

/// The person's compliance entries here: (course, status, due date).
pub async fn person_entries(
    tx: &TenantTx,
    person: PersonId,
    today: NaiveDate,
) -> Result<Vec<(CourseId, Cell)>, DbError> {
    Ok(tx
        .select::<assignment::Entity>()
        .filter(assignment::Column::PersonId.eq(person.as_uuid()))
        .all(tx)
        .await?
        .into_iter()
        .map(|a| (CourseId::from_uuid(a.course_id), Cell::of(&a, today)))
        .collect())
}

/// The person's compliance entry on one course, if it is mandatory for them (one row by key).
pub async fn person_entry(
    tx: &TenantTx,
    person: PersonId,
    course: CourseId,
    today: NaiveDate,
) -> Result<Option<Cell>, DbError> {
    Ok(tx
        .select::<assignment::Entity>()
        .filter(assignment::Column::PersonId.eq(person.as_uuid()))
        .filter(assignment::Column::CourseId.eq(course.as_uuid()))
        .one(tx)
        .await?
        .map(|a| Cell::of(&a, today)))
}

/// A person with overdue training not yet reminded about for its current due date.
#[derive(Debug, Clone)]
pub struct Overdue {
    pub person: PersonId,
    pub email: String,
    pub given_name: String,
    /// (course, title, due date)
    pub courses: Vec<(CourseId, String, NaiveDate)>,
}

/// Everyone with overdue training they have not been reminded of for its current due date,
/// grouped by person (for one digest each). Active, approved members only.
pub async fn overdue_unreminded(tx: &TenantTx, today: NaiveDate, limit: u64) -> Result<Vec<Overdue>, DbError> {
    let sql = format!(
        "SELECT a.person_id AS person_id, a.course_id AS course_id, a.due_on AS due_on, p.email AS email, p.given_name AS given_name
           FROM assignments a
           JOIN memberships m ON m.tenant_id = $1 AND m.person_id = a.person_id AND m.status = 'approved'
           JOIN people p ON p.id = a.person_id AND p.status = 'active'
          WHERE a.tenant_id = $1 AND {} = 'overdue'
            AND (a.reminded_due_on IS NULL OR a.reminded_due_on <> a.due_on)
          ORDER BY a.person_id, a.due_on
          LIMIT $3",
        status_sql("$2")
    );
    let rows = tx.query_all(&sql, vec![today.into(), i64::try_from(limit).unwrap_or(5000).into()]).await?;
    let mut by_person: Vec<Overdue> = Vec::new();
    let mut course_ids = Vec::new();
    for r in rows {
        let person = PersonId::from_uuid(r.try_get("", "person_id")?);
        let course: Uuid = r.try_get("", "course_id")?;
        let due: NaiveDate = r.try_get("", "due_on")?;
        course_ids.push(course);
        if by_person.last().is_none_or(|o| o.person != person) {
            by_person.push(Overdue {
                person,
                email: r.try_get("", "email")?,
                given_name: r.try_get("", "given_name")?,
                courses: vec![],
            });
        }
        if let Some(o) = by_person.last_mut() {
            o.courses.push((CourseId::from_uuid(course), String::new(), due));
        }
    }
    let titles = catalogue::courses_by_id(tx, &course_ids).await?;
    for o in &mut by_person {
        for c in &mut o.courses {
            c.1 = titles.get(&c.0.as_uuid()).map(|x| x.title.clone()).unwrap_or_default();
        }
    }
    Ok(by_person)
}

/// Notes that the person was reminded about the course for this due date (so never again for it).
pub async fn mark_reminded(
    tx: &TenantTx,
    person: PersonId,
    course: CourseId,
    due_on: NaiveDate,
) -> Result<(), DbError> {
    tx.update_many::<assignment::Entity>()
        .filter(assignment::Column::PersonId.eq(person.as_uuid()))
        .filter(assignment::Column::CourseId.eq(course.as_uuid()))
        .filter(assignment::Column::DueOn.eq(due_on))
        .col_expr(assignment::Column::RemindedDueOn, Expr::value(Some(due_on)))
        .exec(tx)
        .await?;
    Ok(())
}

/// Claims today's run of a scheduled job for this trust; false if it already ran today.
pub async fn claim_daily(tx: &TenantTx, name: &str, today: NaiveDate) -> Result<bool, DbError> {
    claim_since(tx, name, today, today).await
}

/// Claims this month's run of a scheduled job for this trust (the first run on or after the 1st);
/// false if it already ran this month.
pub async fn claim_monthly(tx: &TenantTx, name: &str, today: NaiveDate) -> Result<bool, DbError> {
    use chrono::Datelike;
    claim_since(tx, name, today, today.with_day(1).unwrap_or(today)).await
}

/// Claims a scheduled job's run, recorded as `today`, unless it last ran on or after `since`.
async fn claim_since(tx: &TenantTx, name: &str, today: NaiveDate, since: NaiveDate) -> Result<bool, DbError> {
    use crate::entities::job_schedule;
    let updated = tx
        .update_many::<job_schedule::Entity>()
        .filter(job_schedule::Column::Name.eq(name))
        .filter(job_schedule::Column::LastRunOn.lt(since))
        .col_expr(job_schedule::Column::LastRunOn, Expr::value(today))
        .exec(tx)
        .await?;
    if updated.rows_affected == 1 {
        return Ok(true);
    }
    let exists =
        tx.select::<job_schedule::Entity>().filter(job_schedule::Column::Name.eq(name)).one(tx).await?.is_some();
    if exists {
        return Ok(false);
    }
    tx.insert(job_schedule::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        name: Set(name.to_owned()),
        last_run_on: Set(today),
    })
    .await?;
    Ok(true)
}

/// Moves every compliance entry's due date (tests stand in for the passing of time with it).
#[doc(hidden)]
pub async fn set_due_for_tests(tx: &TenantTx, due_on: NaiveDate) -> Result<(), DbError> {
    tx.update_many::<assignment::Entity>().col_expr(assignment::Column::DueOn, Expr::value(due_on)).exec(tx).await?;
    Ok(())
}

/// Keeps the trust-wide counts of `day` (the last count of the day wins), for the trend.
pub async fn record_history(tx: &TenantTx, day: NaiveDate, c: &Counts) -> Result<(), DbError> {
    let n = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
    let sql = "INSERT INTO compliance_history (tenant_id, day, complete, due, overdue, not_started)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (tenant_id, day) DO UPDATE SET complete = excluded.complete, due = excluded.due,
                   overdue = excluded.overdue, not_started = excluded.not_started";
    let vals = vec![day.into(), n(c.complete).into(), n(c.due).into(), n(c.overdue).into(), n(c.not_started).into()];
    tx.execute(sql, vals).await?;
    Ok(())
}

/// The trust-wide counts kept for each day from `since` on, oldest first.
pub async fn history(tx: &TenantTx, since: NaiveDate) -> Result<Vec<(NaiveDate, Counts)>, DbError> {
    let sql = "SELECT day, complete, due, overdue, not_started FROM compliance_history
                WHERE tenant_id = $1 AND day >= $2 ORDER BY day";
    let rows = tx.query_all(sql, vec![since.into()]).await?;
    rows.iter()
        .map(|r| {
            let n = |c: &str| r.try_get::<i32>("", c).map(i64::from);
            Ok((
                r.try_get::<NaiveDate>("", "day")?,
                Counts {
                    complete: n("complete")?,
                    due: n("due")?,
                    overdue: n("overdue")?,
                    not_started: n("not_started")?,
                },
            ))
        })
        .collect()
}
