//! Organisation reporting behind an authorisation chain (issue 19).
//!
//! A platform administrator records a trust's **authoriser** (HR director, medical director, SIRO
//! or Caldicott Guardian), who confirms by an emailed link; the authoriser authorises **reporting
//! leads** with a statement recorded word for word; a lead nominates **report users**, each with a
//! purpose and an expiry. A report user's grant works only while the lead's grant that nominated
//! them does. Every report run, download and refusal goes to one access log (shared with content
//! access). The reports themselves (staff activity, completions over time, course uptake) read
//! this trust's members only.

use crate::entities::{access_event, report_authoriser, report_grant, report_schedule};
use crate::states::{AuthoriserRole, ReportGrantKind};
use crate::{DbError, TenantTx};
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect, Set, Value};
use trellis_domain::{CourseId, PersonId, TenantId};
use uuid::Uuid;

/// A trust's authoriser, as recorded and (once they follow the link) confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authoriser {
    pub id: Uuid,
    pub name: String,
    pub role: AuthoriserRole,
    pub email: String,
    pub recorded_by: String,
    pub created_at: DateTime<Utc>,
    pub link_expires_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub person: Option<PersonId>,
    pub ended_at: Option<DateTime<Utc>>,
}

impl From<report_authoriser::Model> for Authoriser {
    fn from(m: report_authoriser::Model) -> Self {
        Authoriser {
            id: m.id,
            name: m.name,
            role: m.role,
            email: m.email,
            recorded_by: m.recorded_by,
            created_at: m.created_at,
            link_expires_at: m.link_expires_at,
            confirmed_at: m.confirmed_at,
            person: m.person_id.map(PersonId::from_uuid),
            ended_at: m.ended_at,
        }
    }
}

/// Records an authoriser waiting to confirm (the link's token kept as its SHA-256). A link sent
/// earlier and not yet followed stops working: only the newest record can be confirmed.
pub async fn record_authoriser(
    tx: &TenantTx,
    name: &str,
    role: AuthoriserRole,
    email: &str,
    token: &str,
    recorded_by: &str,
    link_expires_at: DateTime<Utc>,
) -> Result<Uuid, DbError> {
    tx.update_many::<report_authoriser::Entity>()
        .filter(report_authoriser::Column::ConfirmedAt.is_null())
        .filter(report_authoriser::Column::EndedAt.is_null())
        .col_expr(report_authoriser::Column::EndedAt, Expr::value(Some(Utc::now())))
        .exec(tx)
        .await?;
    let id = Uuid::now_v7();
    tx.insert(report_authoriser::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        id: Set(id),
        name: Set(name.to_owned()),
        role: Set(role),
        email: Set(email.to_owned()),
        token_sha256: Set(crate::links::hash(token)),
        recorded_by: Set(recorded_by.to_owned()),
        created_at: Set(Utc::now()),
        link_expires_at: Set(link_expires_at),
        confirmed_at: Set(None),
        person_id: Set(None),
        confirmed_ip: Set(String::new()),
        ended_at: Set(None),
    })
    .await?;
    Ok(id)
}

/// The authoriser record behind a confirmation link in this trust, whatever its state.
pub async fn authoriser_by_token(tx: &TenantTx, token: &str) -> Result<Option<Authoriser>, DbError> {
    Ok(tx
        .select::<report_authoriser::Entity>()
        .filter(report_authoriser::Column::TokenSha256.eq(crate::links::hash(token)))
        .one(tx)
        .await?
        .map(Authoriser::from))
}

/// Confirms a waiting authoriser as `person`; the authoriser they replace (if any) ends. Whether
/// it was still waiting.
pub async fn confirm_authoriser(tx: &TenantTx, id: Uuid, person: PersonId, ip: &str) -> Result<bool, DbError> {
    let now = Utc::now();
    let done = tx
        .update_many::<report_authoriser::Entity>()
        .filter(report_authoriser::Column::Id.eq(id))
        .filter(report_authoriser::Column::ConfirmedAt.is_null())
        .filter(report_authoriser::Column::EndedAt.is_null())
        .filter(report_authoriser::Column::LinkExpiresAt.gt(now))
        .col_expr(report_authoriser::Column::ConfirmedAt, Expr::value(Some(now)))
        .col_expr(report_authoriser::Column::PersonId, Expr::value(Some(person.as_uuid())))
        .col_expr(report_authoriser::Column::ConfirmedIp, Expr::value(ip.chars().take(64).collect::<String>()))
        .exec(tx)
        .await?;
    if done.rows_affected != 1 {
        return Ok(false);
    }
    tx.update_many::<report_authoriser::Entity>()
        .filter(report_authoriser::Column::Id.ne(id))
        .filter(report_authoriser::Column::ConfirmedAt.is_not_null())
        .filter(report_authoriser::Column::EndedAt.is_null())
        .col_expr(report_authoriser::Column::EndedAt, Expr::value(Some(now)))
        .exec(tx)
        .await?;
    Ok(true)
}

/// Every authoriser the trust has had or is waiting for, newest first.
pub async fn authorisers(tx: &TenantTx) -> Result<Vec<Authoriser>, DbError> {
    Ok(tx
        .select::<report_authoriser::Entity>()
        .order_by_desc(report_authoriser::Column::CreatedAt)
        .limit(50)
        .all(tx)
        .await?
        .into_iter()
        .map(Authoriser::from)
        .collect())
}

/// The trust's confirmed authoriser now, if it has one.
pub async fn current_authoriser(tx: &TenantTx) -> Result<Option<Authoriser>, DbError> {
    Ok(tx
        .select::<report_authoriser::Entity>()
        .filter(report_authoriser::Column::ConfirmedAt.is_not_null())
        .filter(report_authoriser::Column::EndedAt.is_null())
        .order_by_desc(report_authoriser::Column::ConfirmedAt)
        .one(tx)
        .await?
        .map(Authoriser::from))
}

/// A reporting lead's or a report user's grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportGrant {
    pub id: Uuid,
    pub kind: ReportGrantKind,
    pub person: PersonId,
    pub person_name: String,
    pub person_email: String,
    pub granted_by: PersonId,
    /// A lead's authoriser record; a report user's lead grant.
    pub parent: Option<Uuid>,
    pub statement: String,
    pub purpose: String,
    pub ip: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<PersonId>,
}

impl ReportGrant {
    /// Neither revoked nor expired (a report user's also needs their lead's: see [`standing`]).
    pub fn live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

impl From<report_grant::Model> for ReportGrant {
    fn from(m: report_grant::Model) -> Self {
        ReportGrant {
            id: m.id,
            kind: m.kind,
            person: PersonId::from_uuid(m.person_id),
            person_name: m.person_name,
            person_email: m.person_email,
            granted_by: PersonId::from_uuid(m.granted_by),
            parent: m.parent_id,
            statement: m.statement,
            purpose: m.purpose,
            ip: m.ip,
            created_at: m.created_at,
            expires_at: m.expires_at,
            revoked_at: m.revoked_at,
            revoked_by: m.revoked_by.map(PersonId::from_uuid),
        }
    }
}

/// A grant to record.
#[derive(Debug, Clone)]
pub struct NewReportGrant<'a> {
    pub kind: ReportGrantKind,
    pub person: PersonId,
    pub person_name: &'a str,
    pub person_email: &'a str,
    pub granted_by: PersonId,
    pub parent: Uuid,
    pub statement: &'a str,
    pub purpose: &'a str,
    pub ip: &'a str,
    pub expires_at: DateTime<Utc>,
}

/// Records a grant.
pub async fn grant(tx: &TenantTx, g: &NewReportGrant<'_>) -> Result<Uuid, DbError> {
    let id = Uuid::now_v7();
    tx.insert(report_grant::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        id: Set(id),
        kind: Set(g.kind),
        person_id: Set(g.person.as_uuid()),
        person_name: Set(g.person_name.chars().take(200).collect()),
        person_email: Set(g.person_email.to_owned()),
        granted_by: Set(g.granted_by.as_uuid()),
        parent_id: Set(Some(g.parent)),
        statement: Set(g.statement.to_owned()),
        purpose: Set(g.purpose.to_owned()),
        ip: Set(g.ip.chars().take(64).collect()),
        created_at: Set(Utc::now()),
        expires_at: Set(g.expires_at),
        revoked_at: Set(None),
        revoked_by: Set(None),
        expiry_noted: Set(false),
    })
    .await?;
    Ok(id)
}

/// The grants of one kind, newest first (the most recent 500).
pub async fn grants(tx: &TenantTx, kind: ReportGrantKind) -> Result<Vec<ReportGrant>, DbError> {
    Ok(tx
        .select::<report_grant::Entity>()
        .filter(report_grant::Column::Kind.eq(kind))
        .order_by_desc(report_grant::Column::CreatedAt)
        .limit(500)
        .all(tx)
        .await?
        .into_iter()
        .map(ReportGrant::from)
        .collect())
}

/// Revokes a live grant of this kind at once; the grant as it was, if there was such a live one.
pub async fn revoke_grant(
    tx: &TenantTx,
    id: Uuid,
    kind: ReportGrantKind,
    by: PersonId,
) -> Result<Option<ReportGrant>, DbError> {
    let Some(g) = tx
        .select::<report_grant::Entity>()
        .filter(report_grant::Column::Id.eq(id))
        .filter(report_grant::Column::Kind.eq(kind))
        .filter(report_grant::Column::RevokedAt.is_null())
        .one(tx)
        .await?
    else {
        return Ok(None);
    };
    tx.update_many::<report_grant::Entity>()
        .filter(report_grant::Column::Id.eq(id))
        .col_expr(report_grant::Column::RevokedAt, Expr::value(Some(Utc::now())))
        .col_expr(report_grant::Column::RevokedBy, Expr::value(Some(by.as_uuid())))
        .exec(tx)
        .await?;
    Ok(Some(g.into()))
}

/// What a person may do in organisation reporting here, now.
#[derive(Debug, Clone, Default)]
pub struct Standing {
    /// They are the trust's confirmed authoriser.
    pub authoriser: Option<Authoriser>,
    /// Their live lead grant.
    pub lead: Option<ReportGrant>,
    /// Their live report-user grant whose lead's grant is live too.
    pub user: Option<ReportGrant>,
}

impl Standing {
    /// May run the identifiable reports (a reporting lead or a report user).
    pub fn may_report(&self) -> bool {
        self.lead.is_some() || self.user.is_some()
    }

    /// The grant a report run is made under (a lead's before a user's).
    pub fn grant(&self) -> Option<&ReportGrant> {
        self.lead.as_ref().or(self.user.as_ref())
    }
}

/// The person's standing, read afresh (a revoked grant stops working at the next request).
pub async fn standing(tx: &TenantTx, person: PersonId, now: DateTime<Utc>) -> Result<Standing, DbError> {
    let authoriser = current_authoriser(tx).await?.filter(|a| a.person == Some(person));
    let mine: Vec<ReportGrant> = tx
        .select::<report_grant::Entity>()
        .filter(report_grant::Column::PersonId.eq(person.as_uuid()))
        .filter(report_grant::Column::RevokedAt.is_null())
        .filter(report_grant::Column::ExpiresAt.gt(now))
        .all(tx)
        .await?
        .into_iter()
        .map(ReportGrant::from)
        .collect();
    let lead = mine.iter().find(|g| g.kind == ReportGrantKind::Lead).cloned();
    let mut user = None;
    for g in mine.iter().filter(|g| g.kind == ReportGrantKind::User) {
        let Some(parent) = g.parent else { continue };
        let lead_live = tx
            .select::<report_grant::Entity>()
            .filter(report_grant::Column::Id.eq(parent))
            .filter(report_grant::Column::Kind.eq(ReportGrantKind::Lead))
            .filter(report_grant::Column::RevokedAt.is_null())
            .filter(report_grant::Column::ExpiresAt.gt(now))
            .count(tx)
            .await?
            > 0;
        if lead_live {
            user = Some(g.clone());
            break;
        }
    }
    Ok(Standing { authoriser, lead, user })
}

/// Grants that have expired since last asked, marked so (for the audit trail, once each).
pub async fn note_expired(tx: &TenantTx, now: DateTime<Utc>) -> Result<Vec<ReportGrant>, DbError> {
    let expired: Vec<ReportGrant> = tx
        .select::<report_grant::Entity>()
        .filter(report_grant::Column::ExpiryNoted.eq(false))
        .filter(report_grant::Column::RevokedAt.is_null())
        .filter(report_grant::Column::ExpiresAt.lte(now))
        .limit(1000)
        .all(tx)
        .await?
        .into_iter()
        .map(ReportGrant::from)
        .collect();
    if !expired.is_empty() {
        tx.update_many::<report_grant::Entity>()
            .filter(report_grant::Column::Id.is_in(expired.iter().map(|g| g.id)))
            .col_expr(report_grant::Column::ExpiryNoted, Expr::value(true))
            .exec(tx)
            .await?;
    }
    Ok(expired)
}

/// One entry of the access log.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessEvent {
    pub at: DateTime<Utc>,
    pub person: Option<PersonId>,
    /// `report.run`, `report.download`, `report.refused`, …
    pub kind: String,
    pub subject: String,
    pub detail: serde_json::Value,
    pub rows: i32,
    pub format: String,
    pub ip: String,
    /// The bytes moved, for an upload or download of content (0 otherwise).
    pub bytes: i64,
}

/// Records an access.
pub async fn record_access(tx: &TenantTx, e: &AccessEvent) -> Result<(), DbError> {
    tx.insert_only(access_event::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        id: Set(Uuid::now_v7()),
        at: Set(e.at),
        person_id: Set(e.person.map(|p| p.as_uuid())),
        kind: Set(e.kind.clone()),
        subject: Set(e.subject.chars().take(200).collect()),
        detail: Set(e.detail.to_string()),
        rows: Set(e.rows),
        format: Set(e.format.clone()),
        ip: Set(e.ip.chars().take(64).collect()),
        bytes: Set(e.bytes),
    })
    .await
}

/// The access log, newest first: entries whose kind starts with `prefix`, up to `limit`.
pub async fn access_log(tx: &TenantTx, prefix: &str, limit: u64) -> Result<Vec<AccessEvent>, DbError> {
    Ok(tx
        .select::<access_event::Entity>()
        .filter(access_event::Column::Kind.starts_with(prefix))
        .order_by_desc(access_event::Column::At)
        .order_by_desc(access_event::Column::Id)
        .limit(limit)
        .all(tx)
        .await?
        .into_iter()
        .map(|m| AccessEvent {
            at: m.at,
            person: m.person_id.map(PersonId::from_uuid),
            kind: m.kind,
            subject: m.subject,
            detail: serde_json::from_str(&m.detail).unwrap_or(serde_json::Value::Null),
            rows: m.rows,
            format: m.format,
            ip: m.ip,
            bytes: m.bytes,
        })
        .collect())
}

/// A monthly report a report user is sent a link to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub id: Uuid,
    pub person: PersonId,
    pub report: String,
    pub query: String,
    pub created_at: DateTime<Utc>,
    pub next_on: NaiveDate,
    pub last_sent_at: Option<DateTime<Utc>>,
}

impl From<report_schedule::Model> for Schedule {
    fn from(m: report_schedule::Model) -> Self {
        Schedule {
            id: m.id,
            person: PersonId::from_uuid(m.person_id),
            report: m.report,
            query: m.query,
            created_at: m.created_at,
            next_on: m.next_on,
            last_sent_at: m.last_sent_at,
        }
    }
}

/// Schedules a report monthly, first on `next_on`.
pub async fn schedule(
    tx: &TenantTx,
    person: PersonId,
    report: &str,
    query: &str,
    next_on: NaiveDate,
) -> Result<Uuid, DbError> {
    let id = Uuid::now_v7();
    tx.insert(report_schedule::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        id: Set(id),
        person_id: Set(person.as_uuid()),
        report: Set(report.to_owned()),
        query: Set(query.to_owned()),
        created_at: Set(Utc::now()),
        next_on: Set(next_on),
        last_sent_at: Set(None),
        cancelled_at: Set(None),
    })
    .await?;
    Ok(id)
}

/// The person's schedules still running.
pub async fn schedules_of(tx: &TenantTx, person: PersonId) -> Result<Vec<Schedule>, DbError> {
    Ok(tx
        .select::<report_schedule::Entity>()
        .filter(report_schedule::Column::PersonId.eq(person.as_uuid()))
        .filter(report_schedule::Column::CancelledAt.is_null())
        .order_by_asc(report_schedule::Column::CreatedAt)
        .all(tx)
        .await?
        .into_iter()
        .map(Schedule::from)
        .collect())
}

/// Stops one of the person's schedules. Whether there was such a running one.
pub async fn cancel_schedule(tx: &TenantTx, person: PersonId, id: Uuid) -> Result<bool, DbError> {
    let res = tx
        .update_many::<report_schedule::Entity>()
        .filter(report_schedule::Column::Id.eq(id))
        .filter(report_schedule::Column::PersonId.eq(person.as_uuid()))
        .filter(report_schedule::Column::CancelledAt.is_null())
        .col_expr(report_schedule::Column::CancelledAt, Expr::value(Some(Utc::now())))
        .exec(tx)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Schedules due on or before `today`.
pub async fn due_schedules(tx: &TenantTx, today: NaiveDate, limit: u64) -> Result<Vec<Schedule>, DbError> {
    Ok(tx
        .select::<report_schedule::Entity>()
        .filter(report_schedule::Column::CancelledAt.is_null())
        .filter(report_schedule::Column::NextOn.lte(today))
        .limit(limit)
        .all(tx)
        .await?
        .into_iter()
        .map(Schedule::from)
        .collect())
}

/// Records a schedule's sending and its next day.
pub async fn schedule_sent(tx: &TenantTx, id: Uuid, next_on: NaiveDate) -> Result<(), DbError> {
    tx.update_many::<report_schedule::Entity>()
        .filter(report_schedule::Column::Id.eq(id))
        .col_expr(report_schedule::Column::NextOn, Expr::value(next_on))
        .col_expr(report_schedule::Column::LastSentAt, Expr::value(Some(Utc::now())))
        .exec(tx)
        .await?;
    Ok(())
}

/// What a report is asked for. People are this trust's approved members only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportQuery {
    pub courses: Vec<CourseId>,
    /// A programme: its courses.
    pub programme: Option<Uuid>,
    pub staff_group: String,
    pub department: String,
    /// A place of work (an ODS code, as people give it): a filter within the trust's members.
    pub place_of_work: String,
    /// Activity on or after.
    pub from: Option<DateTime<Utc>>,
    /// Activity before.
    pub to: Option<DateTime<Utc>>,
}

/// Conditions of a report query: over `m`/`p`/`s` (who) and `e` (which enrolments), with their
/// values from `$2`.
struct Conditions {
    values: Vec<Value>,
    who: Vec<String>,
    which: Vec<String>,
}

fn conditions(q: &ReportQuery) -> Conditions {
    let mut values: Vec<Value> = Vec::new();
    let mut who = Vec::new();
    let mut which = vec!["e.tenant_id = $1".to_owned(), "e.status <> 'rejected'".to_owned()];
    let push = |values: &mut Vec<Value>, v: Value| {
        values.push(v);
        values.len() + 1
    };
    if !q.staff_group.is_empty() {
        let n = push(&mut values, q.staff_group.clone().into());
        who.push(format!("s.staff_group = ${n}"));
    }
    if !q.department.is_empty() {
        let n = push(&mut values, q.department.clone().into());
        who.push(format!("s.department = ${n}"));
    }
    if !q.place_of_work.is_empty() {
        let n = push(&mut values, q.place_of_work.clone().into());
        who.push(format!("p.place_of_work = ${n}"));
    }
    if !q.courses.is_empty() {
        let list: Vec<String> =
            q.courses.iter().map(|c| format!("${}", push(&mut values, c.as_uuid().into()))).collect();
        which.push(format!("e.course_id IN ({})", list.join(", ")));
    }
    if let Some(p) = q.programme {
        let n = push(&mut values, p.into());
        which.push(format!(
            "e.course_id IN (SELECT pc.course_id FROM programme_courses pc WHERE pc.tenant_id = $1 AND pc.programme_id = ${n})"
        ));
    }
    if let Some(f) = q.from {
        let n = push(&mut values, f.into());
        which.push(format!("COALESCE(e.last_activity_at, e.completed_at, e.requested_at) >= ${n}"));
    }
    if let Some(t) = q.to {
        let n = push(&mut values, t.into());
        which.push(format!("e.requested_at < ${n}"));
    }
    Conditions { values, who, which }
}

/// The members a report takes in: this trust's approved members with an enrolment the filters
/// take in; `AND`ed conditions after `FROM … WHERE`.
const MEMBERS: &str = "FROM memberships m JOIN people p ON p.id = m.person_id
      LEFT JOIN staff_records s ON s.tenant_id = $1 AND s.person_id = m.person_id
     WHERE m.tenant_id = $1 AND m.status = 'approved'";

/// One line of the staff activity report: one person's enrolment on one course.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityLine {
    pub person: PersonId,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
    pub assignment_number: String,
    pub staff_group: String,
    pub department: String,
    pub place_of_work: String,
    pub course: CourseId,
    pub course_title: String,
    pub status: String,
    pub enrolled_at: DateTime<Utc>,
    pub first_access_at: Option<DateTime<Utc>>,
    pub last_access_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub visits: i64,
    pub seconds: i64,
    pub best_score: Option<f64>,
}

/// Where a chunked read of the staff activity report has got to: the last person (family name,
/// given name, id).
pub type ActivityCursor = (String, String, Uuid);

/// Which people of the staff activity report to read.
#[derive(Debug, Clone)]
pub enum People<'a> {
    /// The `n`th page of `size` people (for the screen).
    Page { offset: u64, size: u64 },
    /// The next `size` people after the cursor (for exports, in bounded chunks).
    After { cursor: Option<&'a ActivityCursor>, size: u64 },
    /// Everyone the filters take in (for a streamed read).
    All,
}

/// Staff activity for a set of people (see [`People`]): every enrolment of theirs the filters
/// take in, with their time, visits and best score; in name order. One query. Returns the lines
/// and, for [`People::After`], the cursor for the next chunk (`None` at the end).
pub async fn staff_activity(
    tx: &TenantTx,
    q: &ReportQuery,
    people: People<'_>,
) -> Result<(Vec<ActivityLine>, Option<ActivityCursor>), DbError> {
    let (sql, values, size) = activity_sql(q, &people);
    no_jit(tx).await?;
    let mut lines = Vec::new();
    let mut persons = 0u64;
    let mut last: Option<ActivityCursor> = None;
    for r in tx.query_all(&sql, values).await? {
        let l = activity_line(&r)?;
        if last.as_ref().is_none_or(|c| c.2 != l.person.as_uuid()) {
            persons += 1;
            last = Some((l.family_name.clone(), l.given_name.clone(), l.person.as_uuid()));
        }
        lines.push(l);
    }
    let next = match people {
        People::After { .. } if persons >= size => last,
        _ => None,
    };
    Ok((lines, next))
}

/// Every line of the staff activity report as the database produces them: one read, one sort,
/// in name order, never gathered in memory (the CSV export streams them straight out).
pub async fn staff_activity_stream<'a>(
    tx: &'a TenantTx,
    q: &ReportQuery,
) -> Result<impl futures_util::Stream<Item = Result<ActivityLine, DbError>> + Send + use<'a>, DbError> {
    use futures_util::StreamExt as _;
    let (sql, values, _) = activity_sql(q, &People::All);
    no_jit(tx).await?;
    let rows = tx.query_stream(&sql, values).await?;
    Ok(rows.map(|r| r.map_err(DbError::from).and_then(|r| activity_line(&r))))
}

/// The planner overestimates the staff activity join (it cannot see a chunk's LIMIT through the
/// grouped tracking rows) and would compile it to machine code, which costs more than the query:
/// no PostgreSQL JIT for this transaction.
async fn no_jit(tx: &TenantTx) -> Result<(), DbError> {
    if tx.is_postgres() {
        tx.query_one("SELECT set_config('jit', 'off', true) AS v WHERE $1::text <> ''", Vec::new()).await?;
    }
    Ok(())
}

fn activity_line(r: &sea_orm::QueryResult) -> Result<ActivityLine, DbError> {
    Ok(ActivityLine {
        person: PersonId::from_uuid(r.try_get("", "id")?),
        given_name: r.try_get("", "given_name")?,
        family_name: r.try_get("", "family_name")?,
        email: r.try_get("", "email")?,
        assignment_number: r.try_get("", "assignment_number")?,
        staff_group: r.try_get("", "staff_group")?,
        department: r.try_get("", "department")?,
        place_of_work: r.try_get("", "place_of_work")?,
        course: CourseId::from_uuid(r.try_get("", "course_id")?),
        course_title: r.try_get("", "course_title")?,
        status: r.try_get("", "status")?,
        enrolled_at: r.try_get("", "requested_at")?,
        first_access_at: r.try_get("", "first_at")?,
        last_access_at: r.try_get("", "last_at")?,
        completed_at: r.try_get("", "completed_at")?,
        visits: r.try_get("", "visits")?,
        seconds: r.try_get("", "seconds")?,
        best_score: r.try_get("", "best")?,
    })
}

/// The staff activity query for `people`, its values, and the chunk's size in people.
fn activity_sql(q: &ReportQuery, people: &People<'_>) -> (String, Vec<Value>, u64) {
    let Conditions { mut values, mut who, which } = conditions(q);
    let which = which.join(" AND ");
    who.push(format!("EXISTS (SELECT 1 FROM enrolments e WHERE e.person_id = m.person_id AND {which})"));
    let size = match people {
        People::Page { size, .. } | People::After { size, .. } => (*size).clamp(1, 5_000),
        People::All => u64::MAX,
    };
    let tail = match people {
        People::Page { offset, .. } => {
            values.push(i64::try_from(size).unwrap_or(50).into());
            let l = values.len() + 1;
            values.push(i64::try_from(*offset).unwrap_or(0).into());
            let o = values.len() + 1;
            format!("LIMIT ${l} OFFSET ${o}")
        }
        People::After { cursor, .. } => {
            if let Some((family, given, id)) = cursor {
                values.push(family.clone().into());
                let f = values.len() + 1;
                values.push(given.clone().into());
                let g = values.len() + 1;
                values.push((*id).into());
                let i = values.len() + 1;
                who.push(format!(
                    "(p.family_name > ${f} OR (p.family_name = ${f} AND (p.given_name > ${g} OR (p.given_name = ${g} AND p.id > ${i}))))"
                ));
            }
            values.push(i64::try_from(size).unwrap_or(1_000).into());
            format!("LIMIT ${}", values.len() + 1)
        }
        People::All => String::new(),
    };
    values.push(TenantId::NATIONAL.as_uuid().into());
    let national = values.len() + 1;
    let who = who.join(" AND ");
    let sql = format!(
        "WITH w AS (
             SELECT p.id AS id, p.given_name AS given_name, p.family_name AS family_name, p.email AS email,
                    p.place_of_work AS place_of_work,
                    COALESCE(s.assignment_number, '') AS assignment_number,
                    COALESCE(s.staff_group, '') AS staff_group, COALESCE(s.department, '') AS department
               {MEMBERS} AND {who}
              ORDER BY p.family_name, p.given_name, p.id {tail}),
         l AS (
             SELECT w.id AS person_id, e.id AS enrolment_id, e.course_id AS course_id, e.status AS status,
                    e.requested_at AS requested_at, e.last_activity_at AS last_activity_at,
                    e.completed_at AS completed_at
               FROM w JOIN enrolments e ON e.person_id = w.id
              WHERE {which}),
         g AS (
             SELECT op.enrolment_id AS enrolment_id, MIN(op.first_access_at) AS first_at,
                    MAX(op.last_access_at) AS last_at, SUM(op.visits) AS visits,
                    SUM(op.seconds_spent) AS seconds, MAX(op.score_scaled) AS best
               FROM object_progress op JOIN l ON op.enrolment_id = l.enrolment_id
              WHERE op.tenant_id = $1
              GROUP BY op.enrolment_id)
         SELECT w.id AS id, w.given_name AS given_name, w.family_name AS family_name, w.email AS email,
                w.place_of_work AS place_of_work, w.assignment_number AS assignment_number,
                w.staff_group AS staff_group, w.department AS department,
                l.course_id AS course_id, c.title AS course_title, l.status AS status,
                l.requested_at AS requested_at, g.first_at AS first_at,
                COALESCE(g.last_at, l.last_activity_at) AS last_at, l.completed_at AS completed_at,
                CAST(COALESCE(g.visits, 0) AS BIGINT) AS visits, CAST(COALESCE(g.seconds, 0) AS BIGINT) AS seconds,
                g.best AS best
           FROM w JOIN l ON l.person_id = w.id
           JOIN courses c ON c.id = l.course_id AND c.tenant_id IN ($1, ${national})
           LEFT JOIN g ON g.enrolment_id = l.enrolment_id
          ORDER BY w.family_name, w.given_name, w.id, c.title, l.enrolment_id"
    );
    (sql, values, size)
}

/// How many people the staff activity report takes in (for its pages).
pub async fn staff_activity_people(tx: &TenantTx, q: &ReportQuery) -> Result<u64, DbError> {
    let Conditions { values, mut who, which } = conditions(q);
    let which = which.join(" AND ");
    who.push(format!("EXISTS (SELECT 1 FROM enrolments e WHERE e.person_id = m.person_id AND {which})"));
    let sql = format!("SELECT COUNT(*) AS n {MEMBERS} AND {}", who.join(" AND "));
    let n: i64 = match tx.query_one(&sql, values).await? {
        Some(r) => r.try_get("", "n")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The enrolments of this trust's members the filters take in, as `FROM … WHERE …` over `e`
/// (with `c`, the course), and its values.
fn enrolments_of_members(q: &ReportQuery) -> (String, Vec<Value>) {
    let Conditions { mut values, who, which } = conditions(q);
    values.push(TenantId::NATIONAL.as_uuid().into());
    let national = values.len() + 1;
    let mut wh = which;
    wh.push(
        "EXISTS (SELECT 1 FROM memberships m JOIN people p ON p.id = m.person_id
                   LEFT JOIN staff_records s ON s.tenant_id = $1 AND s.person_id = m.person_id
                  WHERE m.tenant_id = $1 AND m.status = 'approved' AND m.person_id = e.person_id"
            .to_owned()
            + &who.iter().map(|w| format!(" AND {w}")).collect::<String>()
            + ")",
    );
    (
        format!(
            "FROM enrolments e JOIN courses c ON c.id = e.course_id AND c.tenant_id IN ($1, ${national})
             WHERE {}",
            wh.join(" AND ")
        ),
        values,
    )
}

/// Completions in each month (`YYYY-MM`, UTC) per course, for the filters: `(month, course
/// title, completions)`, oldest month first.
pub async fn completions_by_month(tx: &TenantTx, q: &ReportQuery) -> Result<Vec<(String, String, i64)>, DbError> {
    let (from, mut values) = enrolments_of_members(q);
    let month = tx.month_of("e.completed_at");
    let mut extra = String::new();
    if let Some(f) = q.from {
        values.push(f.into());
        extra.push_str(&format!(" AND e.completed_at >= ${}", values.len() + 1));
    }
    if let Some(t) = q.to {
        values.push(t.into());
        extra.push_str(&format!(" AND e.completed_at < ${}", values.len() + 1));
    }
    let sql = format!(
        "SELECT {month} AS month, c.title AS title, COUNT(*) AS n {from} AND e.completed_at IS NOT NULL{extra}
          GROUP BY {month}, c.title ORDER BY 1, 2"
    );
    tx.query_all(&sql, values)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("", "month")?, r.try_get("", "title")?, r.try_get("", "n")?)))
        .collect()
}

/// One course's uptake among the trust's members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uptake {
    pub course: CourseId,
    pub title: String,
    pub enrolled: i64,
    pub started: i64,
    pub completed: i64,
    pub withdrawn: i64,
}

/// Uptake per course for the filters, by title.
pub async fn uptake(tx: &TenantTx, q: &ReportQuery) -> Result<Vec<Uptake>, DbError> {
    let (from, values) = enrolments_of_members(q);
    let sql = format!(
        "SELECT e.course_id AS course_id, c.title AS title, COUNT(*) AS enrolled,
                SUM(CASE WHEN e.last_activity_at IS NOT NULL OR e.completed_at IS NOT NULL THEN 1 ELSE 0 END) AS started,
                SUM(CASE WHEN e.completed_at IS NOT NULL THEN 1 ELSE 0 END) AS completed,
                SUM(CASE WHEN e.status = 'withdrawn' THEN 1 ELSE 0 END) AS withdrawn
           {from}
          GROUP BY e.course_id, c.title ORDER BY c.title"
    );
    let n = |r: &sea_orm::QueryResult, k: &str| -> Result<i64, DbError> {
        Ok(r.try_get::<Option<i64>>("", k)
            .or_else(|_| r.try_get::<Option<i32>>("", k).map(|v| v.map(i64::from)))?
            .unwrap_or(0))
    };
    tx.query_all(&sql, values)
        .await?
        .iter()
        .map(|r| {
            Ok(Uptake {
                course: CourseId::from_uuid(r.try_get("", "course_id")?),
                title: r.try_get("", "title")?,
                enrolled: n(r, "enrolled")?,
                started: n(r, "started")?,
                completed: n(r, "completed")?,
                withdrawn: n(r, "withdrawn")?,
            })
        })
        .collect()
}

/// The courses this trust's people have enrolments on (its own and national ones), by title:
/// what a report's course filter offers.
pub async fn reportable_courses(tx: &TenantTx) -> Result<Vec<(CourseId, String)>, DbError> {
    let sql = "SELECT c.id AS id, c.title AS title FROM courses c
                WHERE c.tenant_id IN ($1, $2)
                  AND EXISTS (SELECT 1 FROM enrolments e WHERE e.tenant_id = $1 AND e.course_id = c.id)
                ORDER BY c.title, c.id";
    tx.query_all(sql, vec![TenantId::NATIONAL.as_uuid().into()])
        .await?
        .iter()
        .map(|r| Ok((CourseId::from_uuid(r.try_get("", "id")?), r.try_get("", "title")?)))
        .collect()
}

/// How many lines the staff activity report has for the filters (recorded with a download).
pub async fn staff_activity_lines(tx: &TenantTx, q: &ReportQuery) -> Result<u64, DbError> {
    let (from, values) = enrolments_of_members(q);
    let n: i64 = match tx.query_one(&format!("SELECT COUNT(*) AS n {from}"), values).await? {
        Some(r) => r.try_get("", "n")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}
