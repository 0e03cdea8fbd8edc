//! A learner did something on a session (opened it, spent time, confirmed it, or the content
//! reported a result): the learning record notes it, and a course it completes is completed
//! ([`super::complete::course`]) and the trust's compliance totals are told.

use crate::context::AppState;
use crate::context::directory::Site;
use trellis_db::catalogue::Object;
use trellis_db::learning::{self as learn, Enrolment, Outcome};
use trellis_db::{DbError, TenantTx};
use trellis_domain::learning::Event;

/// What happened.
#[derive(Debug, Clone, Copy)]
pub enum Did {
    /// Something the learner did in the portal.
    Event(Event),
    /// What a packaged session's content reported.
    Result(Outcome),
}

/// What was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    pub object_completed: bool,
    pub course_completed: bool,
    pub seconds_spent: i32,
}

/// Records `did` on session `o` of enrolment `e`, in the caller's transaction.
pub async fn record(
    state: &AppState,
    tx: &TenantTx,
    site: &Site,
    e: &Enrolment,
    o: &Object,
    did: Did,
) -> Result<Recorded, DbError> {
    let r = match did {
        Did::Event(ev) => learn::record(tx, e, o, ev).await?,
        Did::Result(out) => learn::record_result(tx, e, o, out).await?,
    };
    if r.sessions_complete {
        super::complete::course(tx, e, Some(e.person), site.today()).await?;
        state.totals.progressed(site.entry.id);
    }
    Ok(Recorded {
        object_completed: r.object_completed,
        course_completed: r.sessions_complete,
        seconds_spent: r.seconds_spent,
    })
}
