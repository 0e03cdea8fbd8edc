//! A trust adds a live listing to its catalogue, choosing how it pays for it (or changes that), or
//! takes it out again. Both go in the audit trail.

use crate::context::AppState;
use crate::error::AppError;
use serde_json::json;
use trellis_db::TenantTx;
use trellis_db::audit;
use trellis_db::market::{self as mk, Adoption};
use trellis_db::states::ListingStatus;
use trellis_domain::market::Funding;
use trellis_domain::{ListingId, PersonId};

/// Adds listing `lid` (which must be live) to the trust's catalogue with `funding`.
pub async fn add(
    state: &AppState,
    tx: &TenantTx,
    lid: ListingId,
    funding: Funding,
    by: PersonId,
) -> Result<Adoption, AppError> {
    let l =
        state.dbs.platform.listing(lid).await?.filter(|l| l.status == ListingStatus::Live).ok_or(AppError::NotFound)?;
    let seller = state.dbs.platform.seller(l.seller).await?.ok_or(AppError::NotFound)?;
    let a = mk::adopt(tx, &l, &seller, funding, by).await?;
    let detail = json!({ "funding": funding.as_str(), "price": a.price.pence });
    audit::record(tx, Some(by), "market.listing_added", &lid.to_string(), None, detail).await?;
    Ok(a)
}

/// Takes listing `lid` out of the trust's catalogue. Returns whether it was in it.
pub async fn remove(tx: &TenantTx, lid: ListingId, by: PersonId) -> Result<bool, AppError> {
    let removed = mk::remove_adoption(tx, lid, by).await?;
    if removed {
        audit::record(tx, Some(by), "market.listing_removed", &lid.to_string(), None, json!({})).await?;
    }
    Ok(removed)
}
