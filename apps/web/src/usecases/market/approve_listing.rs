//! A platform admin approves a submitted listing (publishing its snapshot, at the platform's
//! commission) or rejects it with a reason the seller sees.

use crate::context::AppState;
use crate::error::AppError;
use trellis_domain::ListingId;

/// The decision on a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approve,
    /// With the reason the seller is given (up to 1,000 characters are kept).
    Reject(String),
}

impl Decision {
    /// Reads the review form: `approve`, or `reject` with a note.
    pub fn parse(decision: &str, note: &str) -> Result<Self, AppError> {
        match decision {
            "approve" => Ok(Self::Approve),
            "reject" => {
                let note = note.trim();
                if note.is_empty() {
                    return Err(AppError::BadRequest(
                        "Give the seller a reason (note) when you reject a listing.".into(),
                    ));
                }
                Ok(Self::Reject(note.chars().take(1000).collect()))
            }
            _ => Err(AppError::BadRequest("Choose approve or reject (decision).".into())),
        }
    }
}

/// Applies `decision` to listing `lid`, by platform admin `admin`.
pub async fn decide(
    state: &AppState,
    lid: ListingId,
    admin: trellis_domain::PersonId,
    decision: &Decision,
) -> Result<(), AppError> {
    match decision {
        Decision::Approve => {
            state.dbs.platform.approve_listing(lid, admin, state.config.payments.commission_bps).await?;
        }
        Decision::Reject(note) => {
            state.dbs.platform.reject_listing(lid, admin, note).await?;
        }
    }
    Ok(())
}
