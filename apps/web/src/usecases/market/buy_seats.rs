//! A trust buys prepaid seats on a listing it added: a pending charge, paid by card through a
//! checkout ([`super::checkout`]); the seats follow from Stripe's webhook.

use crate::error::AppError;
use chrono::NaiveDate;
use trellis_db::TenantTx;
use trellis_db::catalogue::{self as cat, Course};
use trellis_db::market::{self as mk, Adoption, Charge};
use trellis_domain::{ListingId, PersonId};

/// The most seats one purchase may buy.
pub const MAX_SEATS: u32 = 10_000;

/// Reads a quantity as entered: a whole number from 1 to [`MAX_SEATS`].
pub fn quantity(entered: &str) -> Result<u32, AppError> {
    entered
        .trim()
        .parse()
        .ok()
        .filter(|q| (1..=MAX_SEATS).contains(q))
        .ok_or_else(|| AppError::BadRequest("Enter how many seats to buy (quantity), from 1 to 10,000.".into()))
}

/// Writes the pending charge for `quantity` seats on listing `lid` (which the trust must have
/// added), within the trust's budget. Returns the charge, the adoption and its course.
pub async fn start(
    tx: &TenantTx,
    lid: ListingId,
    quantity: u32,
    by: PersonId,
    today: NaiveDate,
) -> Result<(Charge, Adoption, Course), AppError> {
    let a = mk::adoptions(tx).await?.into_iter().find(|a| a.listing == lid).ok_or(AppError::NotFound)?;
    let charge = mk::buy_seats(tx, &a, quantity, by, today).await?;
    let course = cat::course(tx, a.course).await?.ok_or(AppError::NotFound)?;
    Ok((charge, a, course))
}
