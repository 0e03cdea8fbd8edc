//! Enrolments and what learners do: enrolling (at once, or by a request a manager decides),
//! leaving, opening sessions, time on them, completing them, and the rows a completed course
//! writes. What a completion sets off (the assignment, learning paths, sharing) is a use case in
//! the web crate (`usecases::learning`).

use crate::catalogue::{self, Object};
pub use crate::enrolments::{Enrolled, Enrolment, enrol, enrolment, enrolments_of, reopen};
use crate::entities::{assignment, completion, enrolment, object_progress};
use crate::states::EnrolmentStatus;
use crate::{DbError, TenantTx};
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use std::collections::HashMap;
use trellis_domain::learning::{Completion, Event, beat_seconds, expires_on};
use trellis_domain::{CourseId, EnrolmentId, ObjectId, PersonId};
use uuid::Uuid;

/// Leaves a course. A course assigned by the trust cannot be left by the learner.
pub async fn withdraw(tx: &TenantTx, person: PersonId, course: CourseId) -> Result<bool, DbError> {
    let res = tx
        .update_many::<enrolment::Entity>()
        .filter(enrolment::Column::PersonId.eq(person.as_uuid()))
        .filter(enrolment::Column::CourseId.eq(course.as_uuid()))
        .filter(
            enrolment::Column::Status
                .is_in([crate::states::EnrolmentStatus::Active, crate::states::EnrolmentStatus::Requested]),
        )
        .filter(enrolment::Column::Source.ne("assigned"))
        .col_expr(enrolment::Column::Status, Expr::value(crate::states::EnrolmentStatus::Withdrawn))
        .exec(tx)
        .await?;
    Ok(res.rows_affected == 1)
}

/// A request waiting for a decision.
#[derive(Debug, Clone)]
pub struct Request {
    pub enrolment: Enrolment,
    pub course_title: String,
}

/// Enrolment requests waiting for a decision, oldest first.
pub async fn requests(tx: &TenantTx, limit: u64) -> Result<Vec<Request>, DbError> {
    let list: Vec<Enrolment> = tx
        .select::<enrolment::Entity>()
        .filter(enrolment::Column::Status.eq(crate::states::EnrolmentStatus::Requested))
        .order_by_asc(enrolment::Column::RequestedAt)
        .limit(limit)
        .all(tx)
        .await?
        .into_iter()
        .map(Enrolment::from)
        .collect();
    let courses = catalogue::courses_by_id(tx, &list.iter().map(|e| e.course.as_uuid()).collect::<Vec<_>>()).await?;
    Ok(list
        .into_iter()
        .map(|e| Request {
            course_title: courses.get(&e.course.as_uuid()).map(|c| c.title.clone()).unwrap_or_default(),
            enrolment: e,
        })
        .collect())
}

/// Approves or declines a request. Returns the enrolment decided, if it was waiting.
pub async fn decide(
    tx: &TenantTx,
    id: EnrolmentId,
    approve: bool,
    by: PersonId,
    reason: Option<&str>,
) -> Result<Option<Enrolment>, DbError> {
    let Some(e) = tx
        .select::<enrolment::Entity>()
        .filter(enrolment::Column::Id.eq(id.as_uuid()))
        .filter(enrolment::Column::Status.eq(crate::states::EnrolmentStatus::Requested))
        .one(tx)
        .await?
        .map(Enrolment::from)
    else {
        return Ok(None);
    };
    if approve {
        if let Some(c) = catalogue::course(tx, e.course).await? {
            enrol(tx, e.person, &c, &e.source, true, e.due_on, Some(by)).await?;
        }
    } else {
        tx.update_many::<enrolment::Entity>()
            .filter(enrolment::Column::Id.eq(id.as_uuid()))
            .col_expr(enrolment::Column::Status, Expr::value(crate::states::EnrolmentStatus::Rejected))
            .col_expr(enrolment::Column::DecidedBy, Expr::value(Some(by.as_uuid())))
            .col_expr(enrolment::Column::Reason, Expr::value(reason.map(str::to_owned)))
            .exec(tx)
            .await?;
    }
    Ok(Some(e))
}

/// One session's record in the current cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub object: ObjectId,
    pub first_access_at: DateTime<Utc>,
    pub last_access_at: DateTime<Utc>,
    pub seconds_spent: i32,
    pub completed_at: Option<DateTime<Utc>>,
    pub visits: i32,
    pub score_scaled: Option<f64>,
    /// `passed`, `failed` or empty.
    pub success: String,
}

/// The records of an enrolment's current cycle, by session.
pub async fn progress(tx: &TenantTx, e: &Enrolment) -> Result<HashMap<ObjectId, Progress>, DbError> {
    Ok(tx
        .select::<object_progress::Entity>()
        .filter(object_progress::Column::EnrolmentId.eq(e.id.as_uuid()))
        .filter(object_progress::Column::Cycle.eq(e.cycle))
        .all(tx)
        .await?
        .into_iter()
        .map(|p| {
            let id = ObjectId::from_uuid(p.object_id);
            (
                id,
                Progress {
                    object: id,
                    first_access_at: p.first_access_at,
                    last_access_at: p.last_access_at,
                    seconds_spent: p.seconds_spent,
                    completed_at: p.completed_at,
                    visits: p.visits,
                    score_scaled: p.score_scaled,
                    success: p.success,
                },
            )
        })
        .collect())
}

/// What recording an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub object_completed: bool,
    /// This record completed the last session of an active enrolment: the course is complete
    /// (the caller's use case completes it, with what follows).
    pub sessions_complete: bool,
    pub seconds_spent: i32,
}

/// Records what the learner did on a session of their enrolment's version: first and last
/// access, time (capped per report), and completion by the session's rule; says whether every
/// session of the version is now complete (the course then is: see the web crate's
/// `usecases::learning::record`).
pub async fn record(tx: &TenantTx, e: &Enrolment, o: &Object, event: Event) -> Result<Recorded, DbError> {
    let now = Utc::now();
    let existing = tx
        .select::<object_progress::Entity>()
        .filter(object_progress::Column::EnrolmentId.eq(e.id.as_uuid()))
        .filter(object_progress::Column::Cycle.eq(e.cycle))
        .filter(object_progress::Column::ObjectId.eq(o.id.as_uuid()))
        .one(tx)
        .await?;
    let rule = Completion::parse(&o.completion, o.min_minutes).unwrap_or(Completion::View);
    let (seconds, was_complete) = match &existing {
        Some(p) => {
            let add = if event == Event::Beat { beat_seconds(p.last_access_at, now) } else { 0 };
            (p.seconds_spent.saturating_add(add), p.completed_at.is_some())
        }
        None => (0, false),
    };
    let complete_now = !was_complete && rule.met(event, seconds);
    match existing {
        Some(_) => {
            let mut q = tx
                .update_many::<object_progress::Entity>()
                .filter(object_progress::Column::EnrolmentId.eq(e.id.as_uuid()))
                .filter(object_progress::Column::Cycle.eq(e.cycle))
                .filter(object_progress::Column::ObjectId.eq(o.id.as_uuid()))
                .col_expr(object_progress::Column::LastAccessAt, Expr::value(now))
                .col_expr(object_progress::Column::SecondsSpent, Expr::value(seconds));
            if event == Event::Open {
                q = q.col_expr(
                    object_progress::Column::Visits,
                    Expr::col(object_progress::Column::Visits).add(Expr::value(1)),
                );
            }
            if complete_now {
                q = q.col_expr(object_progress::Column::CompletedAt, Expr::value(Some(now)));
            }
            q.exec(tx).await?;
        }
        None => {
            tx.insert(object_progress::ActiveModel {
                tenant_id: Set(Uuid::nil()),
                enrolment_id: Set(e.id.as_uuid()),
                cycle: Set(e.cycle),
                object_id: Set(o.id.as_uuid()),
                person_id: Set(e.person.as_uuid()),
                first_access_at: Set(now),
                last_access_at: Set(now),
                seconds_spent: Set(seconds),
                visits: Set(1),
                completed_at: Set(complete_now.then_some(now)),
                score_scaled: Set(None),
                success: Set(String::new()),
            })
            .await?;
        }
    }
    tx.update_many::<enrolment::Entity>()
        .filter(enrolment::Column::Id.eq(e.id.as_uuid()))
        .col_expr(enrolment::Column::LastObjectId, Expr::value(Some(o.id.as_uuid())))
        .col_expr(enrolment::Column::LastActivityAt, Expr::value(Some(now)))
        .exec(tx)
        .await?;
    // The compliance record notes the start of this cycle.
    tx.update_many::<assignment::Entity>()
        .filter(assignment::Column::PersonId.eq(e.person.as_uuid()))
        .filter(assignment::Column::CourseId.eq(e.course.as_uuid()))
        .filter(assignment::Column::StartedAt.is_null())
        .col_expr(assignment::Column::StartedAt, Expr::value(Some(now)))
        .exec(tx)
        .await?;
    let sessions_complete = complete_now && sessions_done(tx, e, o).await?;
    Ok(Recorded { object_completed: complete_now, sessions_complete, seconds_spent: seconds })
}

/// After a session of the enrolment was completed: whether every session of its version now is
/// (an active enrolment only).
async fn sessions_done(tx: &TenantTx, e: &Enrolment, o: &Object) -> Result<bool, DbError> {
    if e.status != EnrolmentStatus::Active {
        return Ok(false);
    }
    let version = e.version.unwrap_or(o.version);
    let all = catalogue::objects(tx, version).await?;
    let done = progress(tx, e).await?;
    Ok(all
        .iter()
        .filter(|x| x.counts_towards_completion())
        .all(|x| done.get(&x.id).is_some_and(|p| p.completed_at.is_some())))
}

/// What a packaged session's content reports: the learning record of SCORM and cmi5 alike.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// Completed (SCORM: completed or passed; cmi5: the AU's moveOn criterion met).
    pub completed: bool,
    /// `passed`, `failed`, or `None` when the content says nothing of success.
    pub success: Option<&'static str>,
    /// −1 to 1.
    pub score_scaled: Option<f64>,
    /// Time on the session, all attempts together.
    pub seconds: i32,
}

/// Records a packaged session's results in the learning record: access times, time spent (as the
/// content measured it), score, success (a pass is never undone by a later failure) and
/// completion (never undone); the course completes as for any session.
pub async fn record_result(tx: &TenantTx, e: &Enrolment, o: &Object, r: Outcome) -> Result<Recorded, DbError> {
    let now = Utc::now();
    let existing = tx
        .select::<object_progress::Entity>()
        .filter(object_progress::Column::EnrolmentId.eq(e.id.as_uuid()))
        .filter(object_progress::Column::Cycle.eq(e.cycle))
        .filter(object_progress::Column::ObjectId.eq(o.id.as_uuid()))
        .one(tx)
        .await?;
    let was_complete = existing.as_ref().is_some_and(|p| p.completed_at.is_some());
    let complete_now = r.completed && !was_complete;
    let success = match (existing.as_ref().map(|p| p.success.as_str()), r.success) {
        (Some("passed"), _) => "passed".to_owned(),
        (_, Some(s)) => s.to_owned(),
        (Some(prev), None) => prev.to_owned(),
        (None, None) => String::new(),
    };
    let seconds = std::cmp::max(r.seconds, existing.as_ref().map_or(0, |p| p.seconds_spent));
    match existing {
        Some(p) => {
            tx.update_many::<object_progress::Entity>()
                .filter(object_progress::Column::EnrolmentId.eq(e.id.as_uuid()))
                .filter(object_progress::Column::Cycle.eq(e.cycle))
                .filter(object_progress::Column::ObjectId.eq(o.id.as_uuid()))
                .col_expr(object_progress::Column::LastAccessAt, Expr::value(now))
                .col_expr(object_progress::Column::SecondsSpent, Expr::value(seconds))
                .col_expr(object_progress::Column::ScoreScaled, Expr::value(r.score_scaled.or(p.score_scaled)))
                .col_expr(object_progress::Column::Success, Expr::value(success))
                .col_expr(
                    object_progress::Column::CompletedAt,
                    Expr::value(p.completed_at.or(complete_now.then_some(now))),
                )
                .exec(tx)
                .await?;
        }
        None => {
            tx.insert(object_progress::ActiveModel {
                tenant_id: Set(Uuid::nil()),
                enrolment_id: Set(e.id.as_uuid()),
                cycle: Set(e.cycle),
                object_id: Set(o.id.as_uuid()),
                person_id: Set(e.person.as_uuid()),
                first_access_at: Set(now),
                last_access_at: Set(now),
                seconds_spent: Set(seconds),
                visits: Set(1),
                completed_at: Set(complete_now.then_some(now)),
                score_scaled: Set(r.score_scaled),
                success: Set(success),
            })
            .await?;
        }
    }
    tx.update_many::<enrolment::Entity>()
        .filter(enrolment::Column::Id.eq(e.id.as_uuid()))
        .col_expr(enrolment::Column::LastObjectId, Expr::value(Some(o.id.as_uuid())))
        .col_expr(enrolment::Column::LastActivityAt, Expr::value(Some(now)))
        .exec(tx)
        .await?;
    tx.update_many::<assignment::Entity>()
        .filter(assignment::Column::PersonId.eq(e.person.as_uuid()))
        .filter(assignment::Column::CourseId.eq(e.course.as_uuid()))
        .filter(assignment::Column::StartedAt.is_null())
        .col_expr(assignment::Column::StartedAt, Expr::value(Some(now)))
        .exec(tx)
        .await?;
    let sessions_complete = complete_now && sessions_done(tx, e, o).await?;
    Ok(Recorded { object_completed: complete_now, sessions_complete, seconds_spent: seconds })
}

/// A completion of a free national course follows the person: only its fact, date and where it
/// was earned are kept for their other trusts, whose compliance entries for the course come in
/// date at once. Any other course: nothing. Returns how many entries elsewhere changed.
///
/// On PostgreSQL the owner's `trellis_share_completion` does it (the application role may not
/// write another trust's rows); on SQLite, this code, with the same rules.
pub async fn share_completion(
    tx: &TenantTx,
    person: PersonId,
    course: CourseId,
    at: chrono::DateTime<Utc>,
) -> Result<u64, DbError> {
    use crate::entities::{course as course_entity, requirement, shared_completion};
    use sea_orm::{ActiveModelTrait, EntityTrait};
    use trellis_domain::TenantId;
    if tx.is_postgres() {
        let row = tx
            .call(
                "SELECT trellis_share_completion($1, $2, $3) AS n",
                vec![person.as_uuid().into(), course.as_uuid().into(), at.into()],
            )
            .await?
            .into_iter()
            .next();
        return Ok(row.map(|r| r.try_get::<i64>("", "n")).transpose()?.map_or(0, |n| u64::try_from(n).unwrap_or(0)));
    }
    let national = tx
        .select_shared::<course_entity::Entity>()
        .filter(course_entity::Column::TenantId.eq(TenantId::NATIONAL.as_uuid()))
        .filter(course_entity::Column::Id.eq(course.as_uuid()))
        .filter(course_entity::Column::SellerId.is_null())
        .one(tx)
        .await?
        .is_some();
    if !national || crate::identity::membership(tx, person).await?.is_none() {
        return Ok(0);
    }
    let here = tx.tenant().as_uuid();
    let key = (person.as_uuid(), course.as_uuid(), here);
    match shared_completion::Entity::find_by_id(key).one(tx.across_trusts()).await? {
        Some(old) if old.completed_at >= at => {}
        Some(_) => {
            shared_completion::Entity::update_many()
                .filter(shared_completion::Column::PersonId.eq(key.0))
                .filter(shared_completion::Column::CourseId.eq(key.1))
                .filter(shared_completion::Column::EarnedIn.eq(key.2))
                .col_expr(shared_completion::Column::CompletedAt, Expr::value(at))
                .exec(tx.across_trusts())
                .await?;
        }
        None => {
            shared_completion::ActiveModel {
                person_id: Set(key.0),
                course_id: Set(key.1),
                earned_in: Set(key.2),
                completed_at: Set(at),
            }
            .insert(tx.across_trusts())
            .await?;
        }
    }
    // The person's entries in their other trusts (SQLite: one file, the code carries the rule).
    let elsewhere = assignment::Entity::find()
        .filter(assignment::Column::PersonId.eq(person.as_uuid()))
        .filter(assignment::Column::CourseId.eq(course.as_uuid()))
        .filter(assignment::Column::TenantId.ne(here))
        .all(tx.across_trusts())
        .await?;
    let mut n = 0;
    for a in elsewhere.into_iter().filter(|a| a.completed_at.is_none_or(|c| c < at)) {
        let renewal = requirement::Entity::find()
            .filter(requirement::Column::TenantId.eq(a.tenant_id))
            .filter(requirement::Column::Id.eq(a.requirement_id))
            .one(tx.across_trusts())
            .await?
            .and_then(|r| r.renewal_months);
        let expiry = trellis_domain::learning::expires_on(at.date_naive(), renewal);
        assignment::Entity::update_many()
            .filter(assignment::Column::TenantId.eq(a.tenant_id))
            .filter(assignment::Column::PersonId.eq(a.person_id))
            .filter(assignment::Column::CourseId.eq(a.course_id))
            .col_expr(assignment::Column::CompletedAt, Expr::value(Some(at)))
            .col_expr(assignment::Column::StartedAt, Expr::value(Some(a.started_at.unwrap_or(at))))
            .col_expr(assignment::Column::CompletedIn, Expr::value(Some(here)))
            .col_expr(assignment::Column::ExpiresOn, Expr::value(expiry))
            .col_expr(assignment::Column::DueOn, Expr::value(expiry.unwrap_or(a.due_on)))
            .exec(tx.across_trusts())
            .await?;
        n += 1;
    }
    Ok(n)
}

/// Marks the enrolment completed and keeps the completion (with its version). Returns when.
/// What follows (the assignment, sharing, learning paths) is the caller's use case.
pub async fn mark_completed(tx: &TenantTx, e: &Enrolment) -> Result<DateTime<Utc>, DbError> {
    let now = Utc::now();
    tx.update_many::<enrolment::Entity>()
        .filter(enrolment::Column::Id.eq(e.id.as_uuid()))
        .col_expr(enrolment::Column::Status, Expr::value(crate::states::EnrolmentStatus::Completed))
        .col_expr(enrolment::Column::CompletedAt, Expr::value(Some(now)))
        .exec(tx)
        .await?;
    tx.insert(completion::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        id: Set(Uuid::now_v7()),
        person_id: Set(e.person.as_uuid()),
        course_id: Set(e.course.as_uuid()),
        enrolment_id: Set(e.id.as_uuid()),
        version_id: Set(e.version),
        completed_at: Set(now),
    })
    .await?;
    Ok(now)
}

/// The person's active enrolments on learning paths containing `course` whose courses are now
/// all completed.
pub async fn paths_now_complete(tx: &TenantTx, person: PersonId, course: CourseId) -> Result<Vec<Enrolment>, DbError> {
    let mut out = Vec::new();
    for path in catalogue::paths_containing(tx, course).await? {
        let Some(pe) = enrolment(tx, person, path).await?.filter(|pe| pe.status == EnrolmentStatus::Active) else {
            continue;
        };
        let inner = catalogue::path_courses(tx, path).await?;
        let states: HashMap<Uuid, EnrolmentStatus> = tx
            .select::<enrolment::Entity>()
            .filter(enrolment::Column::PersonId.eq(person.as_uuid()))
            .filter(enrolment::Column::CourseId.is_in(inner.iter().map(CourseId::as_uuid).collect::<Vec<_>>()))
            .all(tx)
            .await?
            .into_iter()
            .map(|x| (x.course_id, x.status))
            .collect();
        if inner.iter().all(|c| states.get(&c.as_uuid()) == Some(&EnrolmentStatus::Completed)) {
            out.push(pe);
        }
    }
    Ok(out)
}

/// When a completion on `completed` expires for this person's assignment on `course`.
pub fn completion_expiry(completed: DateTime<Utc>, renewal_months: Option<i32>) -> Option<NaiveDate> {
    expires_on(completed.date_naive(), renewal_months)
}

/// For each enrolment, (sessions completed in its current cycle, sessions in its version); a
/// learning path counts its courses. Three queries, however many enrolments.
pub async fn progress_summaries(
    tx: &TenantTx,
    list: &[Enrolment],
) -> Result<HashMap<EnrolmentId, (i64, i64)>, DbError> {
    use crate::entities::{learning_object, path_course};
    let versions: Vec<Uuid> = list.iter().filter_map(|e| e.version).collect();
    let mut per_version: HashMap<Uuid, i64> = HashMap::new();
    if !versions.is_empty() {
        for o in tx
            .select_shared::<learning_object::Entity>()
            .filter(learning_object::Column::VersionId.is_in(versions))
            .all(tx)
            .await?
        {
            *per_version.entry(o.version_id).or_default() += 1;
        }
    }
    let ids: Vec<Uuid> = list.iter().map(|e| e.id.as_uuid()).collect();
    let cycles: HashMap<Uuid, i32> = list.iter().map(|e| (e.id.as_uuid(), e.cycle)).collect();
    let mut done: HashMap<Uuid, i64> = HashMap::new();
    if !ids.is_empty() {
        for p in tx
            .select::<object_progress::Entity>()
            .filter(object_progress::Column::EnrolmentId.is_in(ids))
            .filter(object_progress::Column::CompletedAt.is_not_null())
            .all(tx)
            .await?
        {
            if cycles.get(&p.enrolment_id) == Some(&p.cycle) {
                *done.entry(p.enrolment_id).or_default() += 1;
            }
        }
    }
    // Paths: courses completed of the path's courses.
    let by_course: HashMap<Uuid, &Enrolment> = list.iter().map(|e| (e.course.as_uuid(), e)).collect();
    let mut path_counts: HashMap<Uuid, (i64, i64)> = HashMap::new();
    let course_ids: Vec<Uuid> = by_course.keys().copied().collect();
    if !course_ids.is_empty() {
        for pc in tx
            .select_shared::<path_course::Entity>()
            .filter(path_course::Column::PathId.is_in(course_ids))
            .all(tx)
            .await?
        {
            let entry = path_counts.entry(pc.path_id).or_default();
            entry.1 += 1;
            if by_course.get(&pc.course_id).is_some_and(|e| e.status == EnrolmentStatus::Completed) {
                entry.0 += 1;
            }
        }
    }
    Ok(list
        .iter()
        .map(|e| {
            let v = path_counts.get(&e.course.as_uuid()).copied().unwrap_or_else(|| {
                (
                    done.get(&e.id.as_uuid()).copied().unwrap_or(0),
                    e.version.and_then(|v| per_version.get(&v).copied()).unwrap_or(0),
                )
            });
            (e.id, v)
        })
        .collect())
}

/// How many people are on (or have completed) each version of the course (one grouped query).
pub async fn count_by_version(tx: &TenantTx, course: CourseId) -> Result<HashMap<Uuid, i64>, DbError> {
    let sql = "SELECT version_id, count(*) AS n FROM enrolments
               WHERE tenant_id = $1 AND course_id = $2 AND status IN ('active', 'completed') AND version_id IS NOT NULL
               GROUP BY version_id";
    let rows = tx.query_all(sql, vec![course.as_uuid().into()]).await?;
    let mut out = HashMap::new();
    for r in rows {
        out.insert(r.try_get::<Uuid>("", "version_id")?, r.try_get::<i64>("", "n")?);
    }
    Ok(out)
}
