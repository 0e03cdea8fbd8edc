//! A trust's side: the listings it adds (and how it pays), and its monthly budget.

use super::*;
use crate::states::ListingStatus;

/// The listing behind a marketplace course in this trust's catalogue, if it added one.
pub async fn adoption_for_course(tx: &TenantTx, course: CourseId) -> Result<Option<Adoption>, DbError> {
    Ok(tx
        .select::<market_adoption::Entity>()
        .filter(market_adoption::Column::CourseId.eq(course.as_uuid()))
        .one(tx)
        .await?
        .map(Adoption::from))
}

/// Every listing this trust added.
pub async fn adoptions(tx: &TenantTx) -> Result<Vec<Adoption>, DbError> {
    Ok(tx
        .select::<market_adoption::Entity>()
        .order_by_asc(market_adoption::Column::AddedAt)
        .all(tx)
        .await?
        .into_iter()
        .map(Adoption::from)
        .collect())
}

/// Adds a live listing to this trust's catalogue at its current terms, or changes how the trust
/// pays for one it added (the terms stay those agreed). `seller_account` is the seller's
/// connected Stripe account, paid the price less commission.
pub async fn adopt(
    tx: &TenantTx,
    l: &Listing,
    seller: &Seller,
    funding: Funding,
    by: PersonId,
) -> Result<Adoption, DbError> {
    let Some(course) = l.course.filter(|_| l.status == ListingStatus::Live) else {
        return Err(DbError::Conflict("This listing is not live in the marketplace.".into()));
    };
    if seller.tenant == tx.tenant() {
        return Err(DbError::Conflict("This is your own course: offer it from your catalogue instead.".into()));
    }
    if let Some(a) = tx
        .select::<market_adoption::Entity>()
        .filter(market_adoption::Column::ListingId.eq(l.id.as_uuid()))
        .one(tx)
        .await?
    {
        tx.update_many::<market_adoption::Entity>()
            .filter(market_adoption::Column::ListingId.eq(l.id.as_uuid()))
            .col_expr(market_adoption::Column::Funding, Expr::value(funding.as_str()))
            .exec(tx)
            .await?;
        catalogue::set_offered_unchecked(tx, course, true, Some(by)).await?;
        return Ok(Adoption { funding, ..Adoption::from(a) });
    }
    let row = tx
        .insert(market_adoption::ActiveModel {
            tenant_id: Set(Uuid::nil()),
            listing_id: Set(l.id.as_uuid()),
            course_id: Set(course.as_uuid()),
            seller_id: Set(seller.id.as_uuid()),
            seller_tenant: Set(seller.tenant.as_uuid()),
            seller_account: Set(seller.stripe_account.clone()),
            funding: Set(funding.as_str().into()),
            seats: Set(0),
            price_pence: Set(l.price.pence),
            currency: Set(l.currency.clone()),
            tiers: Set(l.price.tiers_json()),
            licence_days: Set(l.licence_days),
            commission_bps: Set(l.commission_bps),
            added_by: Set(Some(by.as_uuid())),
            added_at: Set(Utc::now()),
        })
        .await?;
    catalogue::set_offered_unchecked(tx, course, true, Some(by)).await?;
    Ok(Adoption::from(row))
}

/// Takes a listing out of this trust's catalogue (enrolments made stay, with their charges).
pub async fn remove_adoption(tx: &TenantTx, listing: ListingId, by: PersonId) -> Result<bool, DbError> {
    let Some(a) = tx
        .select::<market_adoption::Entity>()
        .filter(market_adoption::Column::ListingId.eq(listing.as_uuid()))
        .one(tx)
        .await?
    else {
        return Ok(false);
    };
    catalogue::set_offered_unchecked(tx, CourseId::from_uuid(a.course_id), false, Some(by)).await?;
    Ok(true)
}

/// The trust's monthly budget for paid enrolments, if it set one.
pub async fn budget(tx: &TenantTx) -> Result<Option<i64>, DbError> {
    Ok(tx.select::<market_budget::Entity>().one(tx).await?.and_then(|b| b.monthly_pence))
}

/// Sets (or, with `None`, removes) the monthly budget.
pub async fn set_budget(tx: &TenantTx, pence: Option<i64>, by: PersonId) -> Result<(), DbError> {
    let customer = tx.select::<market_budget::Entity>().one(tx).await?.and_then(|b| b.stripe_customer);
    tx.delete_many::<market_budget::Entity>().exec(tx).await?;
    tx.insert(market_budget::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        monthly_pence: Set(pence),
        stripe_customer: Set(customer),
        updated_by: Set(Some(by.as_uuid())),
        updated_at: Set(Utc::now()),
    })
    .await?;
    Ok(())
}

/// What the trust's charges in `month` come to (billed, paid and pending card payments).
pub async fn spent_in_month(tx: &TenantTx, month: &str) -> Result<i64, DbError> {
    let sql = "SELECT CAST(COALESCE(SUM(amount_pence), 0) AS BIGINT) AS total FROM charges
                WHERE tenant_id = $1 AND month = $2 AND status IN ('billed', 'paid', 'pending')
                  AND funding <> 'learner'";
    let row = tx.query_one(sql, vec![month.into()]).await?;
    Ok(row.map(|r| r.try_get::<i64>("", "total")).transpose()?.unwrap_or(0))
}

/// How many enrolments on the listing were billed to the trust in `month` (for volume tiers).
pub(super) async fn billed_in_month(tx: &TenantTx, listing: ListingId, month: &str) -> Result<i64, DbError> {
    let sql = "SELECT COUNT(*) AS n FROM charges
                WHERE tenant_id = $1 AND month = $2 AND listing_id = $3 AND kind = 'enrolment'
                  AND funding = 'billed' AND status = 'billed'";
    let row = tx.query_one(sql, vec![month.into(), listing.as_uuid().into()]).await?;
    Ok(row.map(|r| r.try_get::<i64>("", "n")).transpose()?.unwrap_or(0))
}

/// On PostgreSQL, takes the trust's marketplace lock for this transaction, so two enrolments
/// cannot both fit the same budget headroom (SQLite has one writer already).
pub(super) async fn lock_trust(tx: &TenantTx) -> Result<(), DbError> {
    if tx.is_postgres() {
        tx.query_one("SELECT pg_advisory_xact_lock(7001, hashtext($1::text))", Vec::new()).await?;
    }
    Ok(())
}
