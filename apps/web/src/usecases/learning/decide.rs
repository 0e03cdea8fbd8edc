//! A training manager or the learner's line manager approves or declines a place a learner asked
//! for on a course that needs approval.

use crate::error::AppError;
use serde_json::json;
use trellis_db::enrolments::Enrolment;
use trellis_db::learning as learn;
use trellis_db::{TenantTx, audit};
use trellis_domain::{EnrolmentId, PersonId};

/// What was decided.
pub enum Decision {
    Approve,
    /// With the reason the learner sees (up to 500 characters are kept).
    Decline(String),
}

impl Decision {
    /// The form's `decision` (`approve` or `decline`) and `reason` (needed to decline).
    pub fn parse(decision: &str, reason: &str) -> Result<Self, AppError> {
        let reason = reason.trim().chars().take(500).collect::<String>();
        match decision {
            "approve" => Ok(Decision::Approve),
            "decline" if reason.is_empty() => {
                Err(AppError::BadRequest("Give a reason for declining: the learner sees it.".into()))
            }
            "decline" => Ok(Decision::Decline(reason)),
            _ => Err(AppError::BadRequest("Choose approve or decline.".into())),
        }
    }

    pub fn approved(&self) -> bool {
        matches!(self, Decision::Approve)
    }
}

/// Decides the request `id` (not found unless it is waiting), in the audit trail as `by`'s, noting
/// when they decided as the learner's line manager.
pub async fn decide(
    tx: &TenantTx,
    id: EnrolmentId,
    decision: &Decision,
    by: PersonId,
    as_line_manager: bool,
) -> Result<Enrolment, AppError> {
    let reason = match decision {
        Decision::Approve => None,
        Decision::Decline(r) => Some(r.as_str()),
    };
    let Some(e) = learn::decide(tx, id, decision.approved(), by, reason).await? else {
        return Err(AppError::NotFound);
    };
    let action = if decision.approved() { "enrolment.approved" } else { "enrolment.declined" };
    let mut detail = json!({ "person": e.person.to_string() });
    if as_line_manager {
        detail["as"] = json!("line_manager");
    }
    audit::record(tx, Some(by), action, &e.course.to_string(), None, detail).await?;
    Ok(e)
}
