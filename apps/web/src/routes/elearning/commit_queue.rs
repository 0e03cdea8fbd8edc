//! The queue SCORM commits wait in for the group writer ([`super::commits`]), kept by the server
//! (so below it).

use super::token::Claims;
use crate::directory::Site;
use crate::error::AppError;
use bytes::Bytes;
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
}

impl Default for Committer {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(4096);
        Self { tx, rx: std::sync::Mutex::new(Some(rx)) }
    }
}
