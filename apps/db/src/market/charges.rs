//! Charges: each sale or bill of the buying trust, written with the enrolment it pays for;
//! prepaid seats, settling, cancelling and refunding, and licences that expire.

use super::*;
use crate::states::ChargeStatus;

/// What an enrolment on a paid course needs once it is approved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Not a marketplace course.
    Free,
    /// Billed to the trust or drawn from a seat: active now.
    Charged(ChargeId),
    /// The learner pays first: the enrolment waits for the payment.
    AwaitingPayment(ChargeId),
}

/// Called in the enrolment's transaction when an enrolment on `c` becomes active: bills it to
/// the trust (within its monthly budget), takes one of its seats, or opens a charge the learner
/// pays. Errors (no budget left, no seats) leave the caller's transaction to be rolled back.
pub async fn on_activated(
    tx: &TenantTx,
    c: &Course,
    enrolment: EnrolmentId,
    person: PersonId,
    today: NaiveDate,
) -> Result<Gate, DbError> {
    let Some(_) = c.seller else { return Ok(Gate::Free) };
    let Some(a) = adoption_for_course(tx, c.id).await? else {
        return Err(DbError::Conflict("This course is not in the trust's catalogue from the marketplace.".into()));
    };
    lock_trust(tx).await?;
    let month = month_of(today);
    let until = today.checked_add_signed(Duration::days(i64::from(a.licence_days)));
    let (kind, status, unit, gate_pending) = match a.funding {
        Funding::Billed => {
            let n = u32::try_from(billed_in_month(tx, a.listing, &month).await? + 1).unwrap_or(u32::MAX);
            let unit = a.price.unit_for(n);
            if let Some(limit) = budget(tx).await? {
                let spent = spent_in_month(tx, &month).await?;
                if spent + unit > limit {
                    return Err(DbError::Conflict(format!(
                        "This enrolment ({}) would take the trust's marketplace spending this month to {}, over its budget of {}. A training manager can raise the budget on the marketplace page.",
                        m::format_pence(unit),
                        m::format_pence(spent + unit),
                        m::format_pence(limit)
                    )));
                }
            }
            ("enrolment", ChargeStatus::Billed, unit, false)
        }
        Funding::Prepaid => {
            let res = tx
                .update_many::<market_adoption::Entity>()
                .filter(market_adoption::Column::ListingId.eq(a.listing.as_uuid()))
                .filter(market_adoption::Column::Seats.gt(0))
                .col_expr(market_adoption::Column::Seats, Expr::col(market_adoption::Column::Seats).sub(1))
                .exec(tx)
                .await?;
            if res.rows_affected != 1 {
                return Err(DbError::Conflict(
                    "The trust has no seats left on this course. A training manager can buy more on the marketplace page."
                        .into(),
                ));
            }
            ("seat", ChargeStatus::Covered, 0, false)
        }
        Funding::Learner => ("enrolment", ChargeStatus::Pending, a.price.pence, true),
    };
    let fee = m::commission(unit, u32::try_from(a.commission_bps).unwrap_or(0));
    let id = ChargeId::new();
    let now = Utc::now();
    tx.insert(charge::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        id: Set(id.as_uuid()),
        listing_id: Set(a.listing.as_uuid()),
        course_id: Set(c.id.as_uuid()),
        seller_id: Set(a.seller.as_uuid()),
        kind: Set(kind.into()),
        funding: Set(a.funding.as_str().into()),
        person_id: Set(Some(person.as_uuid())),
        enrolment_id: Set(Some(enrolment.as_uuid())),
        quantity: Set(1),
        unit_pence: Set(unit),
        amount_pence: Set(unit),
        fee_pence: Set(fee),
        currency: Set(a.currency.clone()),
        status: Set(status),
        month: Set(month),
        checkout_id: Set(None),
        payment_intent: Set(None),
        refund_id: Set(None),
        invoice_id: Set(None),
        access_until: Set(if gate_pending { None } else { until }),
        created_at: Set(now),
        settled_at: Set((!gate_pending).then_some(now)),
        refunded_at: Set(None),
    })
    .await?;
    if gate_pending {
        tx.update_many::<enrolment::Entity>()
            .filter(enrolment::Column::Id.eq(enrolment.as_uuid()))
            .col_expr(enrolment::Column::Status, Expr::value(crate::states::EnrolmentStatus::Payment))
            .exec(tx)
            .await?;
        return Ok(Gate::AwaitingPayment(id));
    }
    if status == ChargeStatus::Billed {
        crate::outbox::enqueue_job(tx, "ledger_post", &serde_json::json!({ "charge": id.to_string() })).await?;
    }
    Ok(Gate::Charged(id))
}

/// Opens a charge for `quantity` seats bought by card (pending until paid).
pub async fn buy_seats(
    tx: &TenantTx,
    a: &Adoption,
    quantity: u32,
    by: PersonId,
    today: NaiveDate,
) -> Result<Charge, DbError> {
    if a.funding != Funding::Prepaid {
        return Err(DbError::Conflict("Seats are bought for a listing paid by prepaid seats.".into()));
    }
    lock_trust(tx).await?;
    let amount = a.price.seats(quantity);
    let month = month_of(today);
    if let Some(limit) = budget(tx).await? {
        let spent = spent_in_month(tx, &month).await?;
        if spent + amount > limit {
            return Err(DbError::Conflict(format!(
                "{quantity} seats cost {}: that would take this month's marketplace spending to {}, over the budget of {}.",
                m::format_pence(amount),
                m::format_pence(spent + amount),
                m::format_pence(limit)
            )));
        }
    }
    let fee = m::commission(amount, u32::try_from(a.commission_bps).unwrap_or(0));
    let row = tx
        .insert(charge::ActiveModel {
            tenant_id: Set(Uuid::nil()),
            id: Set(Uuid::now_v7()),
            listing_id: Set(a.listing.as_uuid()),
            course_id: Set(a.course.as_uuid()),
            seller_id: Set(a.seller.as_uuid()),
            kind: Set("seats".into()),
            funding: Set("prepaid".into()),
            person_id: Set(Some(by.as_uuid())),
            enrolment_id: Set(None),
            quantity: Set(i32::try_from(quantity).unwrap_or(i32::MAX)),
            unit_pence: Set(a.price.unit_for(quantity)),
            amount_pence: Set(amount),
            fee_pence: Set(fee),
            currency: Set(a.currency.clone()),
            status: Set(ChargeStatus::Pending),
            month: Set(month),
            checkout_id: Set(None),
            payment_intent: Set(None),
            refund_id: Set(None),
            invoice_id: Set(None),
            access_until: Set(None),
            created_at: Set(Utc::now()),
            settled_at: Set(None),
            refunded_at: Set(None),
        })
        .await?;
    Ok(Charge::from(row))
}

/// A charge of this trust.
pub async fn charge(tx: &TenantTx, id: ChargeId) -> Result<Option<Charge>, DbError> {
    Ok(tx.select::<charge::Entity>().filter(charge::Column::Id.eq(id.as_uuid())).one(tx).await?.map(Charge::from))
}

/// The charge awaiting this person's payment for this enrolment, if any.
pub async fn pending_for_enrolment(tx: &TenantTx, enrolment: EnrolmentId) -> Result<Option<Charge>, DbError> {
    Ok(tx
        .select::<charge::Entity>()
        .filter(charge::Column::EnrolmentId.eq(enrolment.as_uuid()))
        .filter(charge::Column::Status.eq(crate::states::ChargeStatus::Pending))
        .order_by_desc(charge::Column::CreatedAt)
        .one(tx)
        .await?
        .map(Charge::from))
}

/// The latest charge for this enrolment (any status), for the learner's access period.
pub async fn latest_for_enrolment(tx: &TenantTx, enrolment: EnrolmentId) -> Result<Option<Charge>, DbError> {
    Ok(tx
        .select::<charge::Entity>()
        .filter(charge::Column::EnrolmentId.eq(enrolment.as_uuid()))
        .order_by_desc(charge::Column::CreatedAt)
        .one(tx)
        .await?
        .map(Charge::from))
}

/// Records the checkout session opened for a pending charge.
pub async fn set_checkout(tx: &TenantTx, id: ChargeId, checkout: &str) -> Result<(), DbError> {
    tx.update_many::<charge::Entity>()
        .filter(charge::Column::Id.eq(id.as_uuid()))
        .filter(charge::Column::Status.eq(crate::states::ChargeStatus::Pending))
        .col_expr(charge::Column::CheckoutId, Expr::value(Some(checkout.to_owned())))
        .exec(tx)
        .await?;
    Ok(())
}

/// What a payment's webhook did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// The charge was pending and is now paid (its enrolment active, or its seats added).
    Now,
    /// It had been settled already (a repeated event).
    Already,
}

/// Marks a pending charge paid, from Stripe's word that its checkout completed: the learner's
/// enrolment becomes active, or the seats are added. Idempotent: only a pending charge changes.
pub async fn settle(
    tx: &TenantTx,
    id: ChargeId,
    checkout: &str,
    payment_intent: Option<&str>,
    today: NaiveDate,
) -> Result<Settled, DbError> {
    let Some(c) = charge(tx, id).await? else { return Err(DbError::NotFound) };
    if c.checkout_id.as_deref().is_some_and(|k| k != checkout) {
        return Err(DbError::Conflict(format!("charge {id} belongs to another checkout session")));
    }
    if c.status != ChargeStatus::Pending {
        return Ok(Settled::Already);
    }
    let a = adoption_for_course(tx, c.course).await?;
    let until = a
        .as_ref()
        .and_then(|a| today.checked_add_signed(Duration::days(i64::from(a.licence_days))))
        .filter(|_| c.kind == "enrolment");
    let res = tx
        .update_many::<charge::Entity>()
        .filter(charge::Column::Id.eq(id.as_uuid()))
        .filter(charge::Column::Status.eq(crate::states::ChargeStatus::Pending))
        .col_expr(charge::Column::Status, Expr::value(crate::states::ChargeStatus::Paid))
        .col_expr(charge::Column::CheckoutId, Expr::value(Some(checkout.to_owned())))
        .col_expr(charge::Column::PaymentIntent, Expr::value(payment_intent.map(str::to_owned)))
        .col_expr(charge::Column::SettledAt, Expr::value(Some(Utc::now())))
        .col_expr(charge::Column::AccessUntil, Expr::value(until))
        .exec(tx)
        .await?;
    if res.rows_affected != 1 {
        return Ok(Settled::Already);
    }
    if let Some(e) = c.enrolment {
        tx.update_many::<enrolment::Entity>()
            .filter(enrolment::Column::Id.eq(e.as_uuid()))
            .filter(enrolment::Column::Status.eq(crate::states::EnrolmentStatus::Payment))
            .col_expr(enrolment::Column::Status, Expr::value(crate::states::EnrolmentStatus::Active))
            .col_expr(enrolment::Column::EnrolledAt, Expr::value(Some(Utc::now())))
            .exec(tx)
            .await?;
    }
    if c.kind == "seats" {
        tx.update_many::<market_adoption::Entity>()
            .filter(market_adoption::Column::ListingId.eq(c.listing.as_uuid()))
            .col_expr(market_adoption::Column::Seats, Expr::col(market_adoption::Column::Seats).add(c.quantity))
            .exec(tx)
            .await?;
    }
    crate::outbox::enqueue_job(tx, "ledger_post", &serde_json::json!({ "charge": id.to_string() })).await?;
    Ok(Settled::Now)
}

/// Cancels a pending charge (its checkout expired or was abandoned): the enrolment waiting for
/// it is withdrawn. A settled charge is left alone.
pub async fn cancel_pending(tx: &TenantTx, id: ChargeId) -> Result<bool, DbError> {
    let Some(c) = charge(tx, id).await? else { return Ok(false) };
    let res = tx
        .update_many::<charge::Entity>()
        .filter(charge::Column::Id.eq(id.as_uuid()))
        .filter(charge::Column::Status.eq(crate::states::ChargeStatus::Pending))
        .col_expr(charge::Column::Status, Expr::value(crate::states::ChargeStatus::Cancelled))
        .exec(tx)
        .await?;
    if res.rows_affected == 1
        && let Some(e) = c.enrolment
    {
        tx.update_many::<enrolment::Entity>()
            .filter(enrolment::Column::Id.eq(e.as_uuid()))
            .filter(enrolment::Column::Status.eq(crate::states::EnrolmentStatus::Payment))
            .col_expr(enrolment::Column::Status, Expr::value(crate::states::EnrolmentStatus::Withdrawn))
            .exec(tx)
            .await?;
    }
    Ok(res.rows_affected == 1)
}

/// Marks a paid charge refunded (from Stripe's `charge.refunded`); its enrolment ends.
pub async fn refunded(tx: &TenantTx, id: ChargeId, refund: &str) -> Result<bool, DbError> {
    let Some(c) = charge(tx, id).await? else { return Err(DbError::NotFound) };
    if c.status == ChargeStatus::Refunded {
        return Ok(false);
    }
    if c.status != ChargeStatus::Paid {
        // Not paid yet (events out of order): try again later.
        return Err(DbError::Conflict(format!("charge {id} is {}, not paid: cannot refund yet", c.status)));
    }
    tx.update_many::<charge::Entity>()
        .filter(charge::Column::Id.eq(id.as_uuid()))
        .filter(charge::Column::Status.eq(crate::states::ChargeStatus::Paid))
        .col_expr(charge::Column::Status, Expr::value(crate::states::ChargeStatus::Refunded))
        .col_expr(charge::Column::RefundId, Expr::value(Some(refund.to_owned())))
        .col_expr(charge::Column::RefundedAt, Expr::value(Some(Utc::now())))
        .exec(tx)
        .await?;
    if let Some(e) = c.enrolment {
        tx.update_many::<enrolment::Entity>()
            .filter(enrolment::Column::Id.eq(e.as_uuid()))
            .filter(
                enrolment::Column::Status
                    .is_in([crate::states::EnrolmentStatus::Active, crate::states::EnrolmentStatus::Payment]),
            )
            .col_expr(enrolment::Column::Status, Expr::value(crate::states::EnrolmentStatus::Withdrawn))
            .exec(tx)
            .await?;
    }
    if c.kind == "seats" {
        // Seats refunded come off what is left (never below none: used seats stay used).
        tx.update_many::<market_adoption::Entity>()
            .filter(market_adoption::Column::ListingId.eq(c.listing.as_uuid()))
            .filter(market_adoption::Column::Seats.gte(c.quantity))
            .col_expr(market_adoption::Column::Seats, Expr::col(market_adoption::Column::Seats).sub(c.quantity))
            .exec(tx)
            .await?;
    }
    crate::outbox::enqueue_job(tx, "ledger_post", &serde_json::json!({ "charge": id.to_string() })).await?;
    Ok(true)
}

/// Ends the enrolments whose licence ran out before `today` (the trust's date): an active
/// enrolment on a marketplace course whose every charge's access ended, and none pending. A
/// completed one keeps its record. Returns how many ended.
pub async fn expire_licences(tx: &TenantTx, today: NaiveDate) -> Result<u64, DbError> {
    let sql = "UPDATE enrolments SET status = 'expired'
                WHERE tenant_id = $1 AND status = 'active'
                  AND id IN (SELECT c.enrolment_id FROM charges c
                              WHERE c.tenant_id = $1 AND c.enrolment_id IS NOT NULL AND c.access_until < $2
                                AND c.status IN ('billed', 'paid', 'covered'))
                  AND NOT EXISTS (SELECT 1 FROM charges n
                                   WHERE n.tenant_id = $1 AND n.enrolment_id = enrolments.id
                                     AND (n.status = 'pending' OR (n.access_until >= $2
                                          AND n.status IN ('billed', 'paid', 'covered'))))";
    let res = tx.execute(sql, vec![today.into()]).await?;
    Ok(res)
}

/// How many seats of the listing the trust has left.
pub async fn seats_left(tx: &TenantTx, listing: ListingId) -> Result<i32, DbError> {
    Ok(tx
        .select::<market_adoption::Entity>()
        .filter(market_adoption::Column::ListingId.eq(listing.as_uuid()))
        .one(tx)
        .await?
        .map_or(0, |a| a.seats))
}

/// A charge with what pages show beside it.
#[derive(Debug, Clone)]
pub struct ChargeRow {
    pub charge: Charge,
    pub course_title: String,
    pub learner: String,
}

/// The trust's charges, newest first (at most `limit`), with course titles and learners' names.
pub async fn charges(tx: &TenantTx, limit: u64) -> Result<Vec<ChargeRow>, DbError> {
    use sea_orm::FromQueryResult;
    let sql = "SELECT c.*, p.given_name AS given, p.family_name AS family FROM charges c
                 LEFT JOIN people p ON p.id = c.person_id
                WHERE c.tenant_id = $1 ORDER BY c.created_at DESC LIMIT $2";
    let vals: Vec<sea_orm::Value> = vec![i64::try_from(limit).unwrap_or(1000).into()];
    let rows = tx.query_all(sql, vals).await?;
    let mut list = Vec::with_capacity(rows.len());
    for r in &rows {
        let c = Charge::from(charge::Model::from_query_result(r, "")?);
        let given: Option<String> = r.try_get("", "given")?;
        let family: Option<String> = r.try_get("", "family")?;
        list.push((c, format!("{} {}", given.unwrap_or_default(), family.unwrap_or_default()).trim().to_owned()));
    }
    let courses =
        catalogue::courses_by_id(tx, &list.iter().map(|(c, _)| c.course.as_uuid()).collect::<Vec<_>>()).await?;
    Ok(list
        .into_iter()
        .map(|(c, learner)| ChargeRow {
            course_title: courses.get(&c.course.as_uuid()).map(|x| x.title.clone()).unwrap_or_default(),
            learner,
            charge: c,
        })
        .collect())
}
