//! A course is completed: the enrolment and the completion are written, the person's compliance
//! entry for the course comes in date (with its renewal), a free national course's completion is
//! shared with their other trusts, and any learning path of theirs whose courses are now all
//! complete is completed in turn. The audit trail notes it.

use trellis_db::audit;
use trellis_db::learning::{self as learn, Enrolment};
use trellis_db::{DbError, TenantTx, compliance};
use trellis_domain::PersonId;

/// Completes the course of `e` (an active enrolment whose sessions are all complete) in the
/// caller's transaction. `by` is who did it (the learner, or no one for content reporting alone).
pub async fn course(
    tx: &TenantTx,
    e: &Enrolment,
    by: Option<PersonId>,
    today: chrono::NaiveDate,
) -> Result<(), DbError> {
    let at = learn::mark_completed(tx, e).await?;
    compliance::completed(tx, e.person, e.course, today).await?;
    learn::share_completion(tx, e.person, e.course, at).await?;
    audit::record(tx, by, "course.completed", &e.course.to_string(), None, serde_json::json!({})).await?;
    // To the learner's ePortfolio, if they linked one.
    trellis_db::portfolio::queue_completion(tx, e.person, e.course, e.id.as_uuid(), at, None).await?;
    for path in learn::paths_now_complete(tx, e.person, e.course).await? {
        Box::pin(course(tx, &path, by, today)).await?;
    }
    Ok(())
}
