//! The job queue's door: what a request queues for the worker (in its own transaction), and
//! waking the workers. Below the worker (`jobs`), so the routes and payments that queue work do
//! not depend on the worker that does it.

use crate::context::AppState;
use serde_json::json;
use trellis_db::outbox;
use trellis_db::{DbError, TenantTx};
use trellis_domain::PersonId;

/// The Redis topic that wakes workers.
pub const JOBS_TOPIC: &str = "jobs";

/// Work for the worker (emails are queued by `outbox::enqueue_email`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// Send the trust's overdue-training digest to everyone not yet reminded for their due date.
    Reminders,
    /// Import a checked staff file (kept in the file store) all or nothing.
    StaffImport { file: String, by: PersonId, complete: bool, confirmed: bool },
}

/// Queues a job in the caller's transaction.
pub async fn enqueue(tx: &TenantTx, job: &Job) -> Result<(), DbError> {
    match job {
        Job::Reminders => outbox::enqueue_job(tx, "reminders", &json!({})).await,
        Job::StaffImport { file, by, complete, confirmed } => {
            let payload = json!({ "file": file, "by": by.to_string(), "complete": complete, "confirmed": confirmed });
            outbox::enqueue_job(tx, "staff_import", &payload).await
        }
    }
}

/// Wakes the workers (after the enqueuing transaction committed). Without Redis the in-process
/// worker finds the job at its next poll.
pub async fn wake(state: &AppState) {
    if let Some(bus) = &state.redis
        && let Err(e) = bus.publish(JOBS_TOPIC, "new").await
    {
        tracing::debug!(error = %e, "cannot wake workers; they poll");
    }
}
