//! The queue SCORM commits wait in for the group writer ([`super::commits`]), and the count of
//! each trust's commits in flight (kept by the server, so below it).

use super::token::Claims;
use crate::directory::Site;
use crate::error::AppError;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// What the runtime is told: SCORM's `result` and `errorCode`.
pub type Answer = (bool, u32);

pub(super) struct Job {
    pub(super) site: Arc<Site>,
    pub(super) claims: Claims,
    pub(super) raw: Bytes,
    pub(super) reply: oneshot::Sender<Result<Answer, AppError>>,
}

/// Hands commits to the group writer (when it runs; otherwise they are applied directly).
pub struct Committer {
    pub(super) tx: mpsc::Sender<Job>,
    pub(super) rx: std::sync::Mutex<Option<mpsc::Receiver<Job>>>,
    /// Commits received and not yet answered, by trust; and a bell rung as each is answered.
    pub(super) in_flight: std::sync::Mutex<HashMap<trellis_core::TenantId, usize>>,
    answered: tokio::sync::Notify,
}

impl Default for Committer {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(4096);
        Self {
            tx,
            rx: std::sync::Mutex::new(Some(rx)),
            in_flight: std::sync::Mutex::default(),
            answered: tokio::sync::Notify::new(),
        }
    }
}

/// Counts a commit in flight for its trust until dropped.
pub(super) struct InFlight<'a>(pub(super) &'a Committer, pub(super) trellis_core::TenantId);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Ok(mut m) = self.0.in_flight.lock()
            && let Some(n) = m.get_mut(&self.1)
        {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.1);
            }
        }
        self.0.answered.notify_waiters();
    }
}

/// How long a page waits for a trust's commits in flight before it reads the record anyway.
const SETTLE_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

impl Committer {
    fn pending(&self, tenant: trellis_core::TenantId) -> usize {
        self.in_flight.lock().map(|m| m.get(&tenant).copied().unwrap_or(0)).unwrap_or(0)
    }

    /// Waits (up to two seconds) until the trust has no commit in flight: a learner taken back to
    /// a session's page as the content finishes then sees what its last commit (sent as the
    /// content closed, as a beacon that nothing waits for) recorded.
    pub async fn settled(&self, tenant: trellis_core::TenantId) {
        let deadline = tokio::time::Instant::now() + SETTLE_LIMIT;
        loop {
            let bell = self.answered.notified();
            if self.pending(tenant) == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline, bell).await.is_err() {
                return;
            }
        }
    }
}
