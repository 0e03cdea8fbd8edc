//! The queue SCORM commits wait in for the group writer ([`super::commits`]), kept by the server
//! (so below it).

use crate::context::directory::Site;
use crate::context::launch_token::Claims;
use crate::error::AppError;
use bytes::Bytes;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// What the runtime is told: SCORM's `result` and `errorCode`.
pub type Answer = (bool, u32);

pub(crate) struct Job {
    pub(crate) site: Arc<Site>,
    pub(crate) claims: Claims,
    pub(crate) raw: Bytes,
    pub(crate) reply: oneshot::Sender<Result<Answer, AppError>>,
}

/// Hands commits to the group writer (when it runs; otherwise they are applied directly).
pub struct Committer {
    pub(crate) tx: mpsc::Sender<Job>,
    pub(crate) rx: std::sync::Mutex<Option<mpsc::Receiver<Job>>>,
}

impl Default for Committer {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(4096);
        Self { tx, rx: std::sync::Mutex::new(Some(rx)) }
    }
}
