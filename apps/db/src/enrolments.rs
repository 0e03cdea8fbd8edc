//! Enrolments: who is on which course, and enrolling (on a course, or on a learning path and its
//! courses). Below both learning (progress, completion) and compliance (rules that enrol people),
//! so neither needs the other for these.

use crate::catalogue::{self, Course};
use crate::entities::enrolment;
use crate::states::EnrolmentStatus;
use crate::{DbError, TenantTx};
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, Set};
use trellis_domain::{CourseId, EnrolmentId, ObjectId, PersonId};
use uuid::Uuid;

/// An enrolment as pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    pub id: EnrolmentId,
    pub person: PersonId,
    pub course: CourseId,
    pub version: Option<Uuid>,
    /// `requested`, `active`, `completed`, `withdrawn` or `rejected`.
    pub status: crate::states::EnrolmentStatus,
    /// `self`, `assigned` or `path`.
    pub source: String,
    pub cycle: i32,
    pub due_on: Option<NaiveDate>,
    pub requested_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub last_object: Option<ObjectId>,
    pub last_activity_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
}

impl From<enrolment::Model> for Enrolment {
    fn from(m: enrolment::Model) -> Self {
        Enrolment {
            id: EnrolmentId::from_uuid(m.id),
            person: PersonId::from_uuid(m.person_id),
            course: CourseId::from_uuid(m.course_id),
            version: m.version_id,
            status: m.status,
            source: m.source,
            cycle: m.cycle,
            due_on: m.due_on,
            requested_at: m.requested_at,
            completed_at: m.completed_at,
            last_object: m.last_object_id.map(ObjectId::from_uuid),
            last_activity_at: m.last_activity_at,
            reason: m.reason,
        }
    }
}

/// The person's enrolment on the course here, if any.
pub async fn enrolment(tx: &TenantTx, person: PersonId, course: CourseId) -> Result<Option<Enrolment>, DbError> {
    Ok(tx
        .select::<enrolment::Entity>()
        .filter(enrolment::Column::PersonId.eq(person.as_uuid()))
        .filter(enrolment::Column::CourseId.eq(course.as_uuid()))
        .one(tx)
        .await?
        .map(Enrolment::from))
}

/// An enrolment here by its id.
pub async fn by_id(tx: &TenantTx, id: Uuid) -> Result<Option<Enrolment>, DbError> {
    Ok(tx.select::<enrolment::Entity>().filter(enrolment::Column::Id.eq(id)).one(tx).await?.map(Enrolment::from))
}

/// Every enrolment of the person here (any status).
pub async fn enrolments_of(tx: &TenantTx, person: PersonId) -> Result<Vec<Enrolment>, DbError> {
    Ok(tx
        .select::<enrolment::Entity>()
        .filter(enrolment::Column::PersonId.eq(person.as_uuid()))
        .order_by_desc(enrolment::Column::LastActivityAt)
        .all(tx)
        .await?
        .into_iter()
        .map(Enrolment::from)
        .collect())
}

/// What came of an enrolment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enrolled {
    /// On the course now.
    Active,
    /// A request waits for a manager.
    Requested,
    /// Was already enrolled (or had asked).
    Already,
    /// Approved on a course the learner pays for: waits for the payment.
    AwaitingPayment,
}

/// Enrols the person, or re-enrols one who left. `approved`: skip the request step (an open
/// course, or a manager's assignment). A learning path enrols on each of its courses too.
pub async fn enrol(
    tx: &TenantTx,
    person: PersonId,
    c: &Course,
    source: &str,
    approved: bool,
    due_on: Option<NaiveDate>,
    by: Option<PersonId>,
) -> Result<Enrolled, DbError> {
    let now = Utc::now();
    let existing = enrolment(tx, person, c.id).await?;
    let status = if approved { EnrolmentStatus::Active } else { EnrolmentStatus::Requested };
    let outcome = match existing {
        Some(e)
            if matches!(
                e.status,
                EnrolmentStatus::Active
                    | EnrolmentStatus::Completed
                    | EnrolmentStatus::Requested
                    | EnrolmentStatus::Payment
            ) =>
        {
            // An assignment may bring a due date, or approve a request.
            if approved
                && e.status != EnrolmentStatus::Payment
                && (e.status == EnrolmentStatus::Requested
                    || (due_on.is_some() && e.due_on != due_on && e.status != EnrolmentStatus::Completed))
            {
                tx.update_many::<enrolment::Entity>()
                    .filter(enrolment::Column::Id.eq(e.id.as_uuid()))
                    .col_expr(enrolment::Column::Status, Expr::value(crate::states::EnrolmentStatus::Active))
                    .col_expr(enrolment::Column::DueOn, Expr::value(due_on.or(e.due_on)))
                    .col_expr(enrolment::Column::EnrolledAt, Expr::value(Some(now)))
                    .exec(tx)
                    .await?;
            }
            if e.status == EnrolmentStatus::Requested && approved { Enrolled::Active } else { Enrolled::Already }
        }
        Some(e) => {
            tx.update_many::<enrolment::Entity>()
                .filter(enrolment::Column::Id.eq(e.id.as_uuid()))
                .col_expr(enrolment::Column::Status, Expr::value(status))
                .col_expr(enrolment::Column::Source, Expr::value(source))
                .col_expr(enrolment::Column::VersionId, Expr::value(e.version.or(c.current_version)))
                .col_expr(enrolment::Column::DueOn, Expr::value(due_on))
                .col_expr(enrolment::Column::RequestedAt, Expr::value(now))
                .col_expr(enrolment::Column::EnrolledAt, Expr::value(approved.then_some(now)))
                .col_expr(enrolment::Column::DecidedBy, Expr::value(by.map(|p| p.as_uuid())))
                .col_expr(enrolment::Column::Reason, Expr::value(Option::<String>::None))
                .exec(tx)
                .await?;
            if approved { Enrolled::Active } else { Enrolled::Requested }
        }
        None => {
            tx.insert(enrolment::ActiveModel {
                tenant_id: Set(Uuid::nil()),
                id: Set(Uuid::now_v7()),
                person_id: Set(person.as_uuid()),
                course_id: Set(c.id.as_uuid()),
                version_id: Set(c.current_version),
                status: Set(status),
                source: Set(source.to_owned()),
                cycle: Set(1),
                due_on: Set(due_on),
                requested_at: Set(now),
                enrolled_at: Set(approved.then_some(now)),
                completed_at: Set(None),
                last_object_id: Set(None),
                last_activity_at: Set(None),
                decided_by: Set(by.map(|p| p.as_uuid())),
                reason: Set(None),
            })
            .await?;
            if approved { Enrolled::Active } else { Enrolled::Requested }
        }
    };
    // A marketplace course: billed, drawn from a seat or paid by the learner, in this transaction.
    if outcome == Enrolled::Active && c.seller.is_some() {
        let e = enrolment(tx, person, c.id).await?.ok_or(DbError::NotFound)?;
        if let crate::market::Gate::AwaitingPayment(_) =
            crate::market::on_activated(tx, c, e.id, person, now.date_naive()).await?
        {
            return Ok(Enrolled::AwaitingPayment);
        }
    }
    if approved && c.kind == "path" && outcome == Enrolled::Active {
        let ids: Vec<Uuid> = catalogue::path_courses(tx, c.id).await?.iter().map(CourseId::as_uuid).collect();
        for inner in catalogue::courses_by_id(tx, &ids).await?.values() {
            Box::pin(enrol(tx, person, inner, "path", true, due_on, by)).await?;
        }
    }
    Ok(outcome)
}

/// Re-opens a completed course for renewal: a new cycle on the version now published, with the
/// new due date; the old cycle's records and the completion stay.
pub async fn reopen(tx: &TenantTx, e: &Enrolment, version: Option<Uuid>, due_on: NaiveDate) -> Result<(), DbError> {
    tx.update_many::<enrolment::Entity>()
        .filter(enrolment::Column::Id.eq(e.id.as_uuid()))
        .filter(enrolment::Column::Status.eq(crate::states::EnrolmentStatus::Completed))
        .col_expr(enrolment::Column::Status, Expr::value(crate::states::EnrolmentStatus::Active))
        .col_expr(enrolment::Column::Cycle, Expr::value(e.cycle + 1))
        .col_expr(enrolment::Column::VersionId, Expr::value(version.or(e.version)))
        .col_expr(enrolment::Column::DueOn, Expr::value(Some(due_on)))
        .exec(tx)
        .await?;
    Ok(())
}

/// A course's uptake: enrolments made each month (`YYYY-MM`, UTC) from `since` on, requests
/// turned down left out; months with none are absent. One range read of an index.
pub async fn uptake_by_month(
    tx: &TenantTx,
    course: CourseId,
    since: DateTime<Utc>,
) -> Result<Vec<(String, i64)>, DbError> {
    let month = tx.month_of("requested_at");
    let sql = format!(
        "SELECT {month} AS month, count(*) AS n FROM enrolments
          WHERE tenant_id = $1 AND course_id = $2 AND requested_at >= $3 AND status <> 'rejected'
          GROUP BY {month} ORDER BY 1"
    );
    let rows = tx.query_all(&sql, vec![course.as_uuid().into(), since.into()]).await?;
    rows.iter().map(|r| Ok((r.try_get::<String>("", "month")?, r.try_get::<i64>("", "n")?))).collect()
}
