//! The marketplace's data: sellers and listings (platform-wide), the listings a trust adds and
//! how it pays (tenant-owned), charges (each sale or bill, the buying trust's), the ledger (each
//! line its owner's) and Stripe's events.
//!
//! A charge is written in the same transaction as the enrolment it pays for, so no paid
//! enrolment exists without its charge (billed, drawn from a seat, or paid), and none is active
//! while its payment is pending. Ledger lines follow a charge through the outbox: posting is
//! idempotent (one transaction per charge and kind, its lines' key unique), so the ledger always
//! catches up and never counts twice.

use crate::catalogue::{self, Course};
use crate::entities::{
    charge, course, course_version, enrolment, invoice, learning_object, ledger_entry, listing, market_adoption,
    market_budget, package, seller, stripe_event,
};
use crate::tenant_tx::begin_tx;
use crate::{DbError, PlatformDb, TenantTx};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, Set, Statement,
};
use std::collections::HashMap;
use trellis_core::market::{self as m, Funding, Line, Price};
use trellis_core::{ChargeId, CourseId, EnrolmentId, ListingId, PersonId, SellerId, TenantId};
use uuid::Uuid;

/// A seller as pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seller {
    pub id: SellerId,
    /// The seller's own site.
    pub tenant: TenantId,
    /// `vendor` or `trust`.
    pub kind: String,
    pub name: String,
    pub summary: String,
    pub website: String,
    pub stripe_account: Option<String>,
    pub charges_enabled: bool,
    pub payouts_enabled: bool,
}

impl From<seller::Model> for Seller {
    fn from(s: seller::Model) -> Self {
        Seller {
            id: SellerId::from_uuid(s.id),
            tenant: TenantId::from_uuid(s.site_id),
            kind: s.kind,
            name: s.name,
            summary: s.summary,
            website: s.website,
            stripe_account: s.stripe_account,
            charges_enabled: s.charges_enabled,
            payouts_enabled: s.payouts_enabled,
        }
    }
}

/// A listing as pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub id: ListingId,
    pub seller: SellerId,
    pub source_tenant: TenantId,
    pub source_course: CourseId,
    /// The reviewed snapshot buyers get (once live).
    pub course: Option<CourseId>,
    pub title: String,
    pub summary: String,
    pub price: Price,
    pub currency: String,
    pub licence_days: i32,
    pub preview: String,
    pub preview_url: Option<String>,
    pub standards: String,
    /// `submitted`, `live`, `rejected` or `withdrawn`.
    pub status: String,
    pub review_note: String,
    pub commission_bps: i32,
    pub created_at: DateTime<Utc>,
}

impl From<listing::Model> for Listing {
    fn from(l: listing::Model) -> Self {
        Listing {
            id: ListingId::from_uuid(l.id),
            seller: SellerId::from_uuid(l.seller_id),
            source_tenant: TenantId::from_uuid(l.source_tenant),
            source_course: CourseId::from_uuid(l.source_course),
            course: l.course_id.map(CourseId::from_uuid),
            title: l.title,
            summary: l.summary,
            price: Price::with_tiers_json(l.price_pence, &l.tiers),
            currency: l.currency,
            licence_days: l.licence_days,
            preview: l.preview,
            preview_url: l.preview_url,
            standards: l.standards,
            status: l.status,
            review_note: l.review_note,
            commission_bps: l.commission_bps,
            created_at: l.created_at,
        }
    }
}

/// A listing a trust added, with the terms it agreed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adoption {
    pub listing: ListingId,
    pub course: CourseId,
    pub seller: SellerId,
    pub seller_tenant: TenantId,
    pub seller_account: Option<String>,
    pub funding: Funding,
    pub seats: i32,
    pub price: Price,
    pub currency: String,
    pub licence_days: i32,
    pub commission_bps: i32,
}

impl From<market_adoption::Model> for Adoption {
    fn from(a: market_adoption::Model) -> Self {
        Adoption {
            listing: ListingId::from_uuid(a.listing_id),
            course: CourseId::from_uuid(a.course_id),
            seller: SellerId::from_uuid(a.seller_id),
            seller_tenant: TenantId::from_uuid(a.seller_tenant),
            seller_account: a.seller_account,
            funding: Funding::parse(&a.funding).unwrap_or(Funding::Billed),
            seats: a.seats,
            price: Price::with_tiers_json(a.price_pence, &a.tiers),
            currency: a.currency,
            licence_days: a.licence_days,
            commission_bps: a.commission_bps,
        }
    }
}

/// A charge as pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub id: ChargeId,
    pub tenant: TenantId,
    pub listing: ListingId,
    pub course: CourseId,
    pub seller: SellerId,
    /// `enrolment` (one enrolment), `seat` (an enrolment drawn from seats) or `seats` (bought).
    pub kind: String,
    pub funding: String,
    pub person: Option<PersonId>,
    pub enrolment: Option<EnrolmentId>,
    pub quantity: i32,
    pub unit_pence: i64,
    pub amount_pence: i64,
    pub fee_pence: i64,
    pub currency: String,
    /// `pending` (awaiting payment), `paid`, `billed`, `covered` (by a seat), `cancelled`, `refunded`.
    pub status: String,
    pub month: String,
    pub checkout_id: Option<String>,
    pub payment_intent: Option<String>,
    pub access_until: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
}

impl From<charge::Model> for Charge {
    fn from(c: charge::Model) -> Self {
        Charge {
            id: ChargeId::from_uuid(c.id),
            tenant: TenantId::from_uuid(c.tenant_id),
            listing: ListingId::from_uuid(c.listing_id),
            course: CourseId::from_uuid(c.course_id),
            seller: SellerId::from_uuid(c.seller_id),
            kind: c.kind,
            funding: c.funding,
            person: c.person_id.map(PersonId::from_uuid),
            enrolment: c.enrolment_id.map(EnrolmentId::from_uuid),
            quantity: c.quantity,
            unit_pence: c.unit_pence,
            amount_pence: c.amount_pence,
            fee_pence: c.fee_pence,
            currency: c.currency,
            status: c.status,
            month: c.month,
            checkout_id: c.checkout_id,
            payment_intent: c.payment_intent,
            access_until: c.access_until,
            created_at: c.created_at,
            settled_at: c.settled_at,
        }
    }
}

/// A ledger line as pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerLine {
    pub txn: Uuid,
    pub kind: String,
    pub account: String,
    pub pence: i64,
    pub charge: Option<ChargeId>,
    pub listing: Option<ListingId>,
    pub buyer: Option<TenantId>,
    pub person: Option<PersonId>,
    pub course: Option<CourseId>,
    pub memo: String,
    pub at: DateTime<Utc>,
}

impl From<ledger_entry::Model> for LedgerLine {
    fn from(l: ledger_entry::Model) -> Self {
        LedgerLine {
            txn: l.txn,
            kind: l.kind,
            account: l.account,
            pence: l.amount_pence,
            charge: l.charge_id.map(ChargeId::from_uuid),
            listing: l.listing_id.map(ListingId::from_uuid),
            buyer: l.buyer_tenant.map(TenantId::from_uuid),
            person: l.person_id.map(PersonId::from_uuid),
            course: l.course_id.map(CourseId::from_uuid),
            memo: l.memo,
            at: l.at,
        }
    }
}

/// The calendar month of a date (`2026-12`), which budgets and tiers count by.
pub fn month_of(d: NaiveDate) -> String {
    format!("{:04}-{:02}", d.year(), d.month())
}

// ---- A trust's side (tenant-scoped) --------------------------------------------------------

/// The listing behind a marketplace course in this trust's catalogue, if it added one.
pub async fn adoption_for_course(tx: &TenantTx, course: CourseId) -> Result<Option<Adoption>, DbError> {
    Ok(tx
        .select::<market_adoption::Entity>()
        .filter(market_adoption::Column::CourseId.eq(course.as_uuid()))
        .one(tx.conn())
        .await?
        .map(Adoption::from))
}

/// Every listing this trust added.
pub async fn adoptions(tx: &TenantTx) -> Result<Vec<Adoption>, DbError> {
    Ok(tx
        .select::<market_adoption::Entity>()
        .order_by_asc(market_adoption::Column::AddedAt)
        .all(tx.conn())
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
    let Some(course) = l.course.filter(|_| l.status == "live") else {
        return Err(DbError::Conflict("This listing is not live in the marketplace.".into()));
    };
    if seller.tenant == tx.tenant() {
        return Err(DbError::Conflict("This is your own course: offer it from your catalogue instead.".into()));
    }
    if let Some(a) = tx
        .select::<market_adoption::Entity>()
        .filter(market_adoption::Column::ListingId.eq(l.id.as_uuid()))
        .one(tx.conn())
        .await?
    {
        tx.update_many::<market_adoption::Entity>()
            .filter(market_adoption::Column::ListingId.eq(l.id.as_uuid()))
            .col_expr(market_adoption::Column::Funding, Expr::value(funding.as_str()))
            .exec(tx.conn())
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
        .one(tx.conn())
        .await?
    else {
        return Ok(false);
    };
    catalogue::set_offered_unchecked(tx, CourseId::from_uuid(a.course_id), false, Some(by)).await?;
    Ok(true)
}

/// The trust's monthly budget for paid enrolments, if it set one.
pub async fn budget(tx: &TenantTx) -> Result<Option<i64>, DbError> {
    Ok(tx.select::<market_budget::Entity>().one(tx.conn()).await?.and_then(|b| b.monthly_pence))
}

/// Sets (or, with `None`, removes) the monthly budget.
pub async fn set_budget(tx: &TenantTx, pence: Option<i64>, by: PersonId) -> Result<(), DbError> {
    let customer = tx.select::<market_budget::Entity>().one(tx.conn()).await?.and_then(|b| b.stripe_customer);
    tx.delete_many::<market_budget::Entity>().exec(tx.conn()).await?;
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
    let row = tx.conn().query_one_raw(tx.stmt(sql, vec![tx.tenant().as_uuid().into(), month.into()])).await?;
    Ok(row.map(|r| r.try_get::<i64>("", "total")).transpose()?.unwrap_or(0))
}

/// How many enrolments on the listing were billed to the trust in `month` (for volume tiers).
async fn billed_in_month(tx: &TenantTx, listing: ListingId, month: &str) -> Result<i64, DbError> {
    let sql = "SELECT COUNT(*) AS n FROM charges
                WHERE tenant_id = $1 AND month = $2 AND listing_id = $3 AND kind = 'enrolment'
                  AND funding = 'billed' AND status = 'billed'";
    let row = tx
        .conn()
        .query_one_raw(tx.stmt(sql, vec![tx.tenant().as_uuid().into(), month.into(), listing.as_uuid().into()]))
        .await?;
    Ok(row.map(|r| r.try_get::<i64>("", "n")).transpose()?.unwrap_or(0))
}

/// On PostgreSQL, takes the trust's marketplace lock for this transaction, so two enrolments
/// cannot both fit the same budget headroom (SQLite has one writer already).
async fn lock_trust(tx: &TenantTx) -> Result<(), DbError> {
    if tx.is_postgres() {
        tx.conn()
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock(7001, hashtext($1))",
                [tx.tenant().to_string().into()],
            ))
            .await?;
    }
    Ok(())
}

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
            ("enrolment", "billed", unit, false)
        }
        Funding::Prepaid => {
            let res = tx
                .update_many::<market_adoption::Entity>()
                .filter(market_adoption::Column::ListingId.eq(a.listing.as_uuid()))
                .filter(market_adoption::Column::Seats.gt(0))
                .col_expr(market_adoption::Column::Seats, Expr::col(market_adoption::Column::Seats).sub(1))
                .exec(tx.conn())
                .await?;
            if res.rows_affected != 1 {
                return Err(DbError::Conflict(
                    "The trust has no seats left on this course. A training manager can buy more on the marketplace page."
                        .into(),
                ));
            }
            ("seat", "covered", 0, false)
        }
        Funding::Learner => ("enrolment", "pending", a.price.pence, true),
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
        status: Set(status.into()),
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
            .col_expr(enrolment::Column::Status, Expr::value("payment"))
            .exec(tx.conn())
            .await?;
        return Ok(Gate::AwaitingPayment(id));
    }
    if status == "billed" {
        crate::identity::enqueue_job(tx, "ledger_post", &serde_json::json!({ "charge": id.to_string() })).await?;
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
            status: Set("pending".into()),
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
    Ok(tx
        .select::<charge::Entity>()
        .filter(charge::Column::Id.eq(id.as_uuid()))
        .one(tx.conn())
        .await?
        .map(Charge::from))
}

/// The charge awaiting this person's payment for this enrolment, if any.
pub async fn pending_for_enrolment(tx: &TenantTx, enrolment: EnrolmentId) -> Result<Option<Charge>, DbError> {
    Ok(tx
        .select::<charge::Entity>()
        .filter(charge::Column::EnrolmentId.eq(enrolment.as_uuid()))
        .filter(charge::Column::Status.eq("pending"))
        .order_by_desc(charge::Column::CreatedAt)
        .one(tx.conn())
        .await?
        .map(Charge::from))
}

/// The latest charge for this enrolment (any status), for the learner's access period.
pub async fn latest_for_enrolment(tx: &TenantTx, enrolment: EnrolmentId) -> Result<Option<Charge>, DbError> {
    Ok(tx
        .select::<charge::Entity>()
        .filter(charge::Column::EnrolmentId.eq(enrolment.as_uuid()))
        .order_by_desc(charge::Column::CreatedAt)
        .one(tx.conn())
        .await?
        .map(Charge::from))
}

/// Records the checkout session opened for a pending charge.
pub async fn set_checkout(tx: &TenantTx, id: ChargeId, checkout: &str) -> Result<(), DbError> {
    tx.update_many::<charge::Entity>()
        .filter(charge::Column::Id.eq(id.as_uuid()))
        .filter(charge::Column::Status.eq("pending"))
        .col_expr(charge::Column::CheckoutId, Expr::value(Some(checkout.to_owned())))
        .exec(tx.conn())
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
    if c.status != "pending" {
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
        .filter(charge::Column::Status.eq("pending"))
        .col_expr(charge::Column::Status, Expr::value("paid"))
        .col_expr(charge::Column::CheckoutId, Expr::value(Some(checkout.to_owned())))
        .col_expr(charge::Column::PaymentIntent, Expr::value(payment_intent.map(str::to_owned)))
        .col_expr(charge::Column::SettledAt, Expr::value(Some(Utc::now())))
        .col_expr(charge::Column::AccessUntil, Expr::value(until))
        .exec(tx.conn())
        .await?;
    if res.rows_affected != 1 {
        return Ok(Settled::Already);
    }
    if let Some(e) = c.enrolment {
        tx.update_many::<enrolment::Entity>()
            .filter(enrolment::Column::Id.eq(e.as_uuid()))
            .filter(enrolment::Column::Status.eq("payment"))
            .col_expr(enrolment::Column::Status, Expr::value("active"))
            .col_expr(enrolment::Column::EnrolledAt, Expr::value(Some(Utc::now())))
            .exec(tx.conn())
            .await?;
    }
    if c.kind == "seats" {
        tx.update_many::<market_adoption::Entity>()
            .filter(market_adoption::Column::ListingId.eq(c.listing.as_uuid()))
            .col_expr(market_adoption::Column::Seats, Expr::col(market_adoption::Column::Seats).add(c.quantity))
            .exec(tx.conn())
            .await?;
    }
    crate::identity::enqueue_job(tx, "ledger_post", &serde_json::json!({ "charge": id.to_string() })).await?;
    Ok(Settled::Now)
}

/// Cancels a pending charge (its checkout expired or was abandoned): the enrolment waiting for
/// it is withdrawn. A settled charge is left alone.
pub async fn cancel_pending(tx: &TenantTx, id: ChargeId) -> Result<bool, DbError> {
    let Some(c) = charge(tx, id).await? else { return Ok(false) };
    let res = tx
        .update_many::<charge::Entity>()
        .filter(charge::Column::Id.eq(id.as_uuid()))
        .filter(charge::Column::Status.eq("pending"))
        .col_expr(charge::Column::Status, Expr::value("cancelled"))
        .exec(tx.conn())
        .await?;
    if res.rows_affected == 1
        && let Some(e) = c.enrolment
    {
        tx.update_many::<enrolment::Entity>()
            .filter(enrolment::Column::Id.eq(e.as_uuid()))
            .filter(enrolment::Column::Status.eq("payment"))
            .col_expr(enrolment::Column::Status, Expr::value("withdrawn"))
            .exec(tx.conn())
            .await?;
    }
    Ok(res.rows_affected == 1)
}

/// Marks a paid charge refunded (from Stripe's `charge.refunded`); its enrolment ends.
pub async fn refunded(tx: &TenantTx, id: ChargeId, refund: &str) -> Result<bool, DbError> {
    let Some(c) = charge(tx, id).await? else { return Err(DbError::NotFound) };
    if c.status == "refunded" {
        return Ok(false);
    }
    if c.status != "paid" {
        // Not paid yet (events out of order): try again later.
        return Err(DbError::Conflict(format!("charge {id} is {}, not paid: cannot refund yet", c.status)));
    }
    tx.update_many::<charge::Entity>()
        .filter(charge::Column::Id.eq(id.as_uuid()))
        .filter(charge::Column::Status.eq("paid"))
        .col_expr(charge::Column::Status, Expr::value("refunded"))
        .col_expr(charge::Column::RefundId, Expr::value(Some(refund.to_owned())))
        .col_expr(charge::Column::RefundedAt, Expr::value(Some(Utc::now())))
        .exec(tx.conn())
        .await?;
    if let Some(e) = c.enrolment {
        tx.update_many::<enrolment::Entity>()
            .filter(enrolment::Column::Id.eq(e.as_uuid()))
            .filter(enrolment::Column::Status.is_in(["active", "payment"]))
            .col_expr(enrolment::Column::Status, Expr::value("withdrawn"))
            .exec(tx.conn())
            .await?;
    }
    if c.kind == "seats" {
        // Seats refunded come off what is left (never below none: used seats stay used).
        tx.update_many::<market_adoption::Entity>()
            .filter(market_adoption::Column::ListingId.eq(c.listing.as_uuid()))
            .filter(market_adoption::Column::Seats.gte(c.quantity))
            .col_expr(market_adoption::Column::Seats, Expr::col(market_adoption::Column::Seats).sub(c.quantity))
            .exec(tx.conn())
            .await?;
    }
    crate::identity::enqueue_job(tx, "ledger_post", &serde_json::json!({ "charge": id.to_string() })).await?;
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
    let res = tx.conn().execute_raw(tx.stmt(sql, vec![tx.tenant().as_uuid().into(), today.into()])).await?;
    Ok(res.rows_affected())
}

/// How many seats of the listing the trust has left.
pub async fn seats_left(tx: &TenantTx, listing: ListingId) -> Result<i32, DbError> {
    Ok(tx
        .select::<market_adoption::Entity>()
        .filter(market_adoption::Column::ListingId.eq(listing.as_uuid()))
        .one(tx.conn())
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
    let vals: Vec<sea_orm::Value> = vec![tx.tenant().as_uuid().into(), i64::try_from(limit).unwrap_or(1000).into()];
    let rows = tx.conn().query_all_raw(tx.stmt(sql, vals)).await?;
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

/// This party's own ledger lines (a trust's spending, a seller's earnings), newest first.
pub async fn ledger(tx: &TenantTx, limit: u64) -> Result<Vec<LedgerLine>, DbError> {
    Ok(tx
        .select::<ledger_entry::Entity>()
        .order_by_desc(ledger_entry::Column::At)
        .order_by_asc(ledger_entry::Column::Line)
        .limit(limit)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(LedgerLine::from)
        .collect())
}

/// This party's balance per account (`spend`, `earnings`, `paid_out`).
pub async fn balances(tx: &TenantTx) -> Result<HashMap<String, i64>, DbError> {
    let sql = "SELECT account, CAST(COALESCE(SUM(amount_pence), 0) AS BIGINT) AS total FROM ledger_entries
                WHERE tenant_id = $1 GROUP BY account";
    let rows = tx.conn().query_all_raw(tx.stmt(sql, vec![tx.tenant().as_uuid().into()])).await?;
    rows.iter().map(|r| Ok((r.try_get::<String>("", "account")?, r.try_get::<i64>("", "total")?))).collect()
}

/// A trust's monthly invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    pub id: Uuid,
    pub tenant: TenantId,
    pub month: String,
    pub amount_pence: i64,
    pub items: i32,
    pub currency: String,
    /// `open` (sent, unpaid) or `paid`.
    pub status: String,
    pub stripe_invoice: Option<String>,
    pub hosted_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
}

impl From<invoice::Model> for Invoice {
    fn from(i: invoice::Model) -> Self {
        Invoice {
            id: i.id,
            tenant: TenantId::from_uuid(i.tenant_id),
            month: i.month,
            amount_pence: i.amount_pence,
            items: i.items,
            currency: i.currency,
            status: i.status,
            stripe_invoice: i.stripe_invoice,
            hosted_url: i.hosted_url,
            created_at: i.created_at,
            paid_at: i.paid_at,
        }
    }
}

/// One line of an invoice: a course, how many enrolments, what they cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceLine {
    pub course_title: String,
    pub enrolments: i64,
    pub amount_pence: i64,
}

/// What an invoice owes one seller once paid: the sum of its sales less commission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payout {
    pub seller: SellerId,
    pub seller_tenant: TenantId,
    pub account: Option<String>,
    pub net_pence: i64,
}

/// The trust as Stripe's customer, if it has been made one.
pub async fn stripe_customer(tx: &TenantTx) -> Result<Option<String>, DbError> {
    Ok(tx.select::<market_budget::Entity>().one(tx.conn()).await?.and_then(|b| b.stripe_customer))
}

/// Records the trust's Stripe customer.
pub async fn set_stripe_customer(tx: &TenantTx, customer: &str) -> Result<(), DbError> {
    let res = tx
        .update_many::<market_budget::Entity>()
        .col_expr(market_budget::Column::StripeCustomer, Expr::value(Some(customer.to_owned())))
        .exec(tx.conn())
        .await?;
    if res.rows_affected == 0 {
        tx.insert(market_budget::ActiveModel {
            tenant_id: Set(Uuid::nil()),
            monthly_pence: Set(None),
            stripe_customer: Set(Some(customer.to_owned())),
            updated_by: Set(None),
            updated_at: Set(Utc::now()),
        })
        .await?;
    }
    Ok(())
}

/// Months before `current` with enrolments billed but not yet invoiced, oldest first.
pub async fn months_to_invoice(tx: &TenantTx, current: &str) -> Result<Vec<String>, DbError> {
    let sql = "SELECT DISTINCT month FROM charges
                WHERE tenant_id = $1 AND status = 'billed' AND invoice_id IS NULL AND month < $2 ORDER BY month";
    let rows = tx.conn().query_all_raw(tx.stmt(sql, vec![tx.tenant().as_uuid().into(), current.into()])).await?;
    rows.iter().map(|r| Ok(r.try_get::<String>("", "month")?)).collect()
}

/// Gathers the month's billed enrolments not yet invoiced into one open invoice, in one
/// transaction (so none is invoiced twice). `None` if there are none.
pub async fn invoice_month(tx: &TenantTx, month: &str) -> Result<Option<Invoice>, DbError> {
    lock_trust(tx).await?;
    let sql = "SELECT CAST(COALESCE(SUM(amount_pence), 0) AS BIGINT) AS total, COUNT(*) AS n FROM charges
                WHERE tenant_id = $1 AND month = $2 AND status = 'billed' AND invoice_id IS NULL";
    let row = tx.conn().query_one_raw(tx.stmt(sql, vec![tx.tenant().as_uuid().into(), month.into()])).await?;
    let (total, n) = match row {
        Some(r) => (r.try_get::<i64>("", "total")?, r.try_get::<i64>("", "n")?),
        None => (0, 0),
    };
    if n == 0 {
        return Ok(None);
    }
    let id = Uuid::now_v7();
    let row = tx
        .insert(invoice::ActiveModel {
            tenant_id: Set(Uuid::nil()),
            id: Set(id),
            month: Set(month.to_owned()),
            amount_pence: Set(total),
            items: Set(i32::try_from(n).unwrap_or(i32::MAX)),
            currency: Set(m::CURRENCY.into()),
            status: Set("open".into()),
            stripe_invoice: Set(None),
            hosted_url: Set(None),
            created_at: Set(Utc::now()),
            paid_at: Set(None),
        })
        .await?;
    tx.update_many::<charge::Entity>()
        .filter(charge::Column::Month.eq(month))
        .filter(charge::Column::Status.eq("billed"))
        .filter(charge::Column::InvoiceId.is_null())
        .col_expr(charge::Column::InvoiceId, Expr::value(Some(id)))
        .exec(tx.conn())
        .await?;
    Ok(Some(Invoice::from(row)))
}

/// An invoice's lines, by course.
pub async fn invoice_lines(tx: &TenantTx, id: Uuid) -> Result<Vec<InvoiceLine>, DbError> {
    let sql = "SELECT course_id, COUNT(*) AS n, CAST(COALESCE(SUM(amount_pence), 0) AS BIGINT) AS total FROM charges
                WHERE tenant_id = $1 AND invoice_id = $2 GROUP BY course_id";
    let rows = tx.conn().query_all_raw(tx.stmt(sql, vec![tx.tenant().as_uuid().into(), id.into()])).await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut ids = Vec::new();
    for r in &rows {
        let c: Uuid = r.try_get("", "course_id")?;
        ids.push(c);
        out.push((c, r.try_get::<i64>("", "n")?, r.try_get::<i64>("", "total")?));
    }
    let courses = catalogue::courses_by_id(tx, &ids).await?;
    Ok(out
        .into_iter()
        .map(|(c, n, total)| InvoiceLine {
            course_title: courses.get(&c).map(|x| x.title.clone()).unwrap_or_default(),
            enrolments: n,
            amount_pence: total,
        })
        .collect())
}

/// What a paid invoice owes each seller (its sales less commission).
pub async fn invoice_payouts(tx: &TenantTx, id: Uuid) -> Result<Vec<Payout>, DbError> {
    let sql = "SELECT c.seller_id AS seller_id, a.seller_tenant AS seller_tenant, a.seller_account AS account,
                      CAST(COALESCE(SUM(c.amount_pence - c.fee_pence), 0) AS BIGINT) AS net
                 FROM charges c JOIN market_adoptions a ON a.tenant_id = c.tenant_id AND a.listing_id = c.listing_id
                WHERE c.tenant_id = $1 AND c.invoice_id = $2
                GROUP BY c.seller_id, a.seller_tenant, a.seller_account";
    let rows = tx.conn().query_all_raw(tx.stmt(sql, vec![tx.tenant().as_uuid().into(), id.into()])).await?;
    rows.iter()
        .map(|r| {
            Ok(Payout {
                seller: SellerId::from_uuid(r.try_get("", "seller_id")?),
                seller_tenant: TenantId::from_uuid(r.try_get("", "seller_tenant")?),
                account: r.try_get("", "account")?,
                net_pence: r.try_get("", "net")?,
            })
        })
        .collect()
}

/// Records where Stripe (or the test mode) keeps the invoice.
pub async fn set_invoice_stripe(tx: &TenantTx, id: Uuid, stripe: &str, url: &str) -> Result<(), DbError> {
    tx.update_many::<invoice::Entity>()
        .filter(invoice::Column::Id.eq(id))
        .col_expr(invoice::Column::StripeInvoice, Expr::value(Some(stripe.to_owned())))
        .col_expr(invoice::Column::HostedUrl, Expr::value(Some(url.to_owned())))
        .exec(tx.conn())
        .await?;
    Ok(())
}

/// The trust's invoices, newest first.
pub async fn invoices(tx: &TenantTx, limit: u64) -> Result<Vec<Invoice>, DbError> {
    Ok(tx
        .select::<invoice::Entity>()
        .order_by_desc(invoice::Column::CreatedAt)
        .limit(limit)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(Invoice::from)
        .collect())
}

/// One of the trust's invoices.
pub async fn invoice(tx: &TenantTx, id: Uuid) -> Result<Option<Invoice>, DbError> {
    Ok(tx.select::<invoice::Entity>().filter(invoice::Column::Id.eq(id)).one(tx.conn()).await?.map(Invoice::from))
}

/// Marks an open invoice paid (Stripe's `invoice.paid`) and queues the sellers' payouts. Once.
pub async fn invoice_paid(tx: &TenantTx, id: Uuid) -> Result<bool, DbError> {
    let res = tx
        .update_many::<invoice::Entity>()
        .filter(invoice::Column::Id.eq(id))
        .filter(invoice::Column::Status.eq("open"))
        .col_expr(invoice::Column::Status, Expr::value("paid"))
        .col_expr(invoice::Column::PaidAt, Expr::value(Some(Utc::now())))
        .exec(tx.conn())
        .await?;
    if res.rows_affected == 1 {
        crate::identity::enqueue_job(tx, "payouts", &serde_json::json!({ "invoice": id.to_string() })).await?;
    }
    Ok(res.rows_affected == 1)
}

/// Writes one balanced ledger transaction's lines.
#[allow(clippy::too_many_arguments)]
async fn insert_lines(
    tx: &sea_orm::DatabaseTransaction,
    txn: Uuid,
    kind: &str,
    lines: &[Line],
    currency: &str,
    c: Option<&Charge>,
    buyer: Option<TenantId>,
    seller: Option<SellerId>,
    memo: &str,
    at: DateTime<Utc>,
) -> Result<(), DbError> {
    if !m::balanced(lines) {
        return Err(DbError::Conflict(format!("ledger {txn}: {kind} lines do not balance")));
    }
    let models: Vec<ledger_entry::ActiveModel> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| ledger_entry::ActiveModel {
            tenant_id: Set(l.owner.as_uuid()),
            id: Set(Uuid::now_v7()),
            txn: Set(txn),
            line: Set(i32::try_from(i).unwrap_or(0)),
            kind: Set(kind.into()),
            account: Set(l.account.as_str().into()),
            amount_pence: Set(l.pence),
            currency: Set(currency.to_owned()),
            charge_id: Set(c.map(|c| c.id.as_uuid())),
            listing_id: Set(c.map(|c| c.listing.as_uuid())),
            buyer_tenant: Set(buyer.map(|b| b.as_uuid())),
            seller_id: Set(seller.map(|s| s.as_uuid())),
            person_id: Set(c.and_then(|c| c.person).map(|p| p.as_uuid())),
            course_id: Set(c.map(|c| c.course.as_uuid())),
            memo: Set(memo.to_owned()),
            at: Set(at),
        })
        .collect();
    ledger_entry::Entity::insert_many(models).exec(tx).await?;
    Ok(())
}

/// A ledger transaction's id derived from what it records (the same parts give the same id, so
/// a posting is recognised when it is made again).
fn derived_txn(parts: &[&[u8]]) -> Uuid {
    use sha2::{Digest, Sha256};
    let d = parts.iter().fold(Sha256::new(), |h, p| h.chain_update(p)).finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Builder::from_custom_bytes(b).into_uuid()
}

/// The ledger transaction of a charge's posting of `kind`.
fn txn_id(charge: ChargeId, kind: &str) -> Uuid {
    derived_txn(&[charge.as_uuid().as_bytes(), kind.as_bytes()])
}

// ---- The platform's side ------------------------------------------------------------------

/// A raw statement on a platform connection ([`crate::tenant_tx::statement`]).
fn pstmt(conn: &impl ConnectionTrait, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    crate::tenant_tx::statement(conn.get_database_backend(), sql, values)
}

/// A Stripe event as the admin view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeEvent {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub received_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
}

impl From<stripe_event::Model> for StripeEvent {
    fn from(e: stripe_event::Model) -> Self {
        StripeEvent {
            id: e.id,
            kind: e.kind,
            status: e.status,
            attempts: e.attempts,
            last_error: e.last_error,
            received_at: e.received_at,
            processed_at: e.processed_at,
        }
    }
}

/// The platform's view of the ledger: what every party's accounts come to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerTotals {
    /// All trusts' spending.
    pub spend: i64,
    /// All sellers' earnings, net of commission (what they are owed plus what they were paid).
    pub earnings: i64,
    /// What was paid out to sellers.
    pub paid_out: i64,
    /// The platform's commission (positive).
    pub commission: i64,
    /// The sum of every line (zero when the books balance).
    pub sum: i64,
    pub lines: i64,
}

impl PlatformDb {
    /// Registers a site as a seller (once; again returns the one it has).
    pub async fn register_seller(
        &self,
        tenant: TenantId,
        kind: &str,
        name: &str,
        summary: &str,
        website: &str,
    ) -> Result<Seller, DbError> {
        if let Some(s) = self.seller_of_site(tenant).await? {
            return Ok(s);
        }
        let row = seller::ActiveModel {
            id: Set(Uuid::now_v7()),
            site_id: Set(tenant.as_uuid()),
            kind: Set(kind.into()),
            name: Set(name.into()),
            summary: Set(summary.into()),
            website: Set(website.into()),
            stripe_account: Set(None),
            charges_enabled: Set(false),
            payouts_enabled: Set(false),
            created_at: Set(Utc::now()),
        }
        .insert(&self.conn)
        .await?;
        crate::platform::audit(&self.conn, "site admin", "market.seller_registered", Some(tenant), row.id.to_string())
            .await?;
        Ok(Seller::from(row))
    }

    /// The seller a site registered, if it did.
    pub async fn seller_of_site(&self, tenant: TenantId) -> Result<Option<Seller>, DbError> {
        Ok(seller::Entity::find()
            .filter(seller::Column::SiteId.eq(tenant.as_uuid()))
            .one(&self.conn)
            .await?
            .map(Seller::from))
    }

    /// A seller by id.
    pub async fn seller(&self, id: SellerId) -> Result<Option<Seller>, DbError> {
        Ok(seller::Entity::find_by_id(id.as_uuid()).one(&self.conn).await?.map(Seller::from))
    }

    /// Every seller, by name.
    pub async fn sellers(&self) -> Result<Vec<Seller>, DbError> {
        Ok(seller::Entity::find()
            .order_by_asc(seller::Column::Name)
            .all(&self.conn)
            .await?
            .into_iter()
            .map(Seller::from)
            .collect())
    }

    /// Records the seller's connected Stripe account.
    pub async fn set_seller_account(&self, id: SellerId, account: &str) -> Result<(), DbError> {
        seller::Entity::update_many()
            .filter(seller::Column::Id.eq(id.as_uuid()))
            .col_expr(seller::Column::StripeAccount, Expr::value(Some(account.to_owned())))
            .exec(&self.conn)
            .await?;
        Ok(())
    }

    /// Records what Stripe says a connected account may do (`account.updated`).
    pub async fn set_account_status(&self, account: &str, charges: bool, payouts: bool) -> Result<bool, DbError> {
        let res = seller::Entity::update_many()
            .filter(seller::Column::StripeAccount.eq(account))
            .col_expr(seller::Column::ChargesEnabled, Expr::value(charges))
            .col_expr(seller::Column::PayoutsEnabled, Expr::value(payouts))
            .exec(&self.conn)
            .await?;
        Ok(res.rows_affected > 0)
    }

    /// Submits a listing of one of the seller's own published courses for review.
    pub async fn submit_listing(
        &self,
        seller: &Seller,
        course: &Course,
        input: &m::ListingInput,
        standards: &str,
    ) -> Result<Listing, DbError> {
        if course.national || course.status != "published" || course.kind != "course" {
            return Err(DbError::Conflict("List one of your own published courses (not a path).".into()));
        }
        let now = Utc::now();
        let row = listing::ActiveModel {
            id: Set(Uuid::now_v7()),
            seller_id: Set(seller.id.as_uuid()),
            source_tenant: Set(seller.tenant.as_uuid()),
            source_course: Set(course.id.as_uuid()),
            course_id: Set(None),
            title: Set(input.title.clone()),
            summary: Set(input.summary.clone()),
            price_pence: Set(input.price.pence),
            currency: Set(m::CURRENCY.into()),
            tiers: Set(input.price.tiers_json()),
            licence_days: Set(input.licence_days),
            preview: Set(input.preview.clone()),
            preview_url: Set(input.preview_url.clone()),
            standards: Set(standards.into()),
            status: Set("submitted".into()),
            review_note: Set(String::new()),
            reviewed_by: Set(None),
            reviewed_at: Set(None),
            commission_bps: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&self.conn)
        .await?;
        Ok(Listing::from(row))
    }

    /// A listing by id.
    pub async fn listing(&self, id: ListingId) -> Result<Option<Listing>, DbError> {
        Ok(listing::Entity::find_by_id(id.as_uuid()).one(&self.conn).await?.map(Listing::from))
    }

    /// A seller's listings, newest first.
    pub async fn listings_of_seller(&self, seller: SellerId) -> Result<Vec<Listing>, DbError> {
        Ok(listing::Entity::find()
            .filter(listing::Column::SellerId.eq(seller.as_uuid()))
            .order_by_desc(listing::Column::CreatedAt)
            .all(&self.conn)
            .await?
            .into_iter()
            .map(Listing::from)
            .collect())
    }

    /// Listings in a status (`submitted` for the review queue, `live` for the marketplace),
    /// matching `q` in the title or summary when given.
    pub async fn listings_in(&self, status: &str, q: &str, limit: u64) -> Result<Vec<Listing>, DbError> {
        let mut query = listing::Entity::find().filter(listing::Column::Status.eq(status));
        let q = q.trim();
        if !q.is_empty() {
            let like = format!("%{}%", q.replace(['%', '_'], ""));
            query = query.filter(
                sea_orm::Condition::any()
                    .add(Expr::col(listing::Column::Title).like(&like))
                    .add(Expr::col(listing::Column::Summary).like(&like)),
            );
        }
        Ok(query
            .order_by_asc(listing::Column::Title)
            .limit(limit)
            .all(&self.conn)
            .await?
            .into_iter()
            .map(Listing::from)
            .collect())
    }

    /// Turns a listing down, with the reason the seller sees.
    pub async fn reject_listing(&self, id: ListingId, by: PersonId, note: &str) -> Result<bool, DbError> {
        let res = listing::Entity::update_many()
            .filter(listing::Column::Id.eq(id.as_uuid()))
            .filter(listing::Column::Status.eq("submitted"))
            .col_expr(listing::Column::Status, Expr::value("rejected"))
            .col_expr(listing::Column::ReviewNote, Expr::value(note))
            .col_expr(listing::Column::ReviewedBy, Expr::value(Some(by.as_uuid())))
            .col_expr(listing::Column::ReviewedAt, Expr::value(Some(Utc::now())))
            .exec(&self.conn)
            .await?;
        crate::platform::audit(&self.conn, &by.to_string(), "market.listing_rejected", None, id.to_string()).await?;
        Ok(res.rows_affected == 1)
    }

    /// Approves a submitted listing: its course's current published version is copied into the
    /// national content space as the marketplace snapshot (sessions and packages; the packages
    /// read the seller's stored files), priced and attributed to the seller, at `commission_bps`.
    pub async fn approve_listing(&self, id: ListingId, by: PersonId, commission_bps: u32) -> Result<Listing, DbError> {
        let (tx, _turn) = begin_tx(&self.conn, &self.writer, true).await?;
        let Some(l) = listing::Entity::find_by_id(id.as_uuid()).one(&tx).await?.map(Listing::from) else {
            return Err(DbError::NotFound);
        };
        if l.status != "submitted" {
            return Err(DbError::Conflict(format!("This listing is {}, not waiting for review.", l.status)));
        }
        let src = course::Entity::find()
            .filter(course::Column::TenantId.eq(l.source_tenant.as_uuid()))
            .filter(course::Column::Id.eq(l.source_course.as_uuid()))
            .one(&tx)
            .await?
            .ok_or(DbError::NotFound)?;
        let Some(version) = src.current_version_id else {
            return Err(DbError::Conflict("The seller's course has no published version.".into()));
        };
        let national = TenantId::NATIONAL.as_uuid();
        let now = Utc::now();
        let new_course = Uuid::now_v7();
        let new_version = Uuid::now_v7();
        let mut c = src.clone().into_active_model().reset_all();
        c.tenant_id = Set(national);
        c.id = Set(new_course);
        c.code = Set(format!("MKT-{}", &id.as_uuid().simple().to_string()[24..]).to_uppercase());
        c.title = Set(l.title.clone());
        c.summary = Set(l.summary.clone());
        c.status = Set("published".into());
        c.current_version_id = Set(Some(new_version));
        c.price_pence = Set(Some(l.price.pence));
        c.currency = Set(Some(l.currency.clone()));
        c.seller_id = Set(Some(l.seller.as_uuid()));
        c.created_at = Set(now);
        c.updated_at = Set(now);
        c.insert(&tx).await?;
        course_version::ActiveModel {
            tenant_id: Set(national),
            id: Set(new_version),
            course_id: Set(new_course),
            number: Set(1),
            status: Set("published".into()),
            created_at: Set(now),
            published_at: Set(Some(now)),
        }
        .insert(&tx)
        .await?;
        let objects = learning_object::Entity::find()
            .filter(learning_object::Column::TenantId.eq(l.source_tenant.as_uuid()))
            .filter(learning_object::Column::VersionId.eq(version))
            .order_by_asc(learning_object::Column::Position)
            .all(&tx)
            .await?;
        let mut packages: HashMap<Uuid, Uuid> = HashMap::new();
        for o in objects {
            let package = match o.package_id {
                Some(p) => match packages.get(&p) {
                    Some(n) => Some(*n),
                    None => {
                        let src_p = package::Entity::find()
                            .filter(package::Column::TenantId.eq(o.tenant_id))
                            .filter(package::Column::Id.eq(p))
                            .one(&tx)
                            .await?
                            .ok_or(DbError::NotFound)?;
                        let new_p = Uuid::now_v7();
                        let mut am = src_p.clone().into_active_model().reset_all();
                        am.tenant_id = Set(national);
                        am.id = Set(new_p);
                        am.course_id = Set(new_course);
                        am.files_owner = Set(Some(src_p.files_owner.unwrap_or(src_p.tenant_id)));
                        am.files_package = Set(Some(src_p.files_package.unwrap_or(src_p.id)));
                        am.insert(&tx).await?;
                        packages.insert(p, new_p);
                        Some(new_p)
                    }
                },
                None => None,
            };
            let mut am = o.into_active_model().reset_all();
            am.tenant_id = Set(national);
            am.id = Set(Uuid::now_v7());
            am.course_id = Set(new_course);
            am.version_id = Set(new_version);
            am.lineage = Set(Uuid::now_v7());
            am.package_id = Set(package);
            am.insert(&tx).await?;
        }
        let bps = i32::try_from(commission_bps).unwrap_or(0);
        listing::Entity::update_many()
            .filter(listing::Column::Id.eq(id.as_uuid()))
            .col_expr(listing::Column::Status, Expr::value("live"))
            .col_expr(listing::Column::CourseId, Expr::value(Some(new_course)))
            .col_expr(listing::Column::CommissionBps, Expr::value(bps))
            .col_expr(listing::Column::ReviewedBy, Expr::value(Some(by.as_uuid())))
            .col_expr(listing::Column::ReviewedAt, Expr::value(Some(now)))
            .col_expr(listing::Column::UpdatedAt, Expr::value(now))
            .exec(&tx)
            .await?;
        tx.execute_raw(pstmt(
            &tx,
            "INSERT INTO catalogue_generations (tenant_id, generation) VALUES ($1, 1)
             ON CONFLICT (tenant_id) DO UPDATE SET generation = catalogue_generations.generation + 1",
            vec![national.into()],
        ))
        .await?;
        crate::platform::audit(&tx, &by.to_string(), "market.listing_approved", Some(l.source_tenant), id.to_string())
            .await?;
        tx.commit().await?;
        Ok(Listing { status: "live".into(), course: Some(CourseId::from_uuid(new_course)), commission_bps: bps, ..l })
    }

    /// Withdraws a live listing from the marketplace (trusts that added it keep it).
    pub async fn withdraw_listing(&self, id: ListingId, seller: SellerId) -> Result<bool, DbError> {
        let res = listing::Entity::update_many()
            .filter(listing::Column::Id.eq(id.as_uuid()))
            .filter(listing::Column::SellerId.eq(seller.as_uuid()))
            .filter(listing::Column::Status.is_in(["submitted", "live"]))
            .col_expr(listing::Column::Status, Expr::value("withdrawn"))
            .exec(&self.conn)
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// A charge of any trust, for the payment pages and webhooks (the charge id is the key).
    pub async fn charge_across_tenants(&self, id: ChargeId) -> Result<Option<Charge>, DbError> {
        Ok(charge::Entity::find().filter(charge::Column::Id.eq(id.as_uuid())).one(&self.conn).await?.map(Charge::from))
    }

    /// The invoice Stripe (or the test mode) knows by `stripe_id`.
    pub async fn invoice_by_stripe_across_tenants(&self, stripe_id: &str) -> Result<Option<Invoice>, DbError> {
        Ok(invoice::Entity::find()
            .filter(invoice::Column::StripeInvoice.eq(stripe_id))
            .one(&self.conn)
            .await?
            .map(Invoice::from))
    }

    /// The charge a checkout session was opened for.
    pub async fn charge_by_checkout_across_tenants(&self, checkout: &str) -> Result<Option<Charge>, DbError> {
        Ok(charge::Entity::find()
            .filter(charge::Column::CheckoutId.eq(checkout))
            .one(&self.conn)
            .await?
            .map(Charge::from))
    }

    /// Posts a charge's ledger lines: the sale when it is billed or paid, and its reversal too
    /// when refunded. Each posting is one transaction whose lines balance, keyed by the charge
    /// and the kind, so posting again changes nothing.
    pub async fn post_charge_across_tenants(&self, id: ChargeId) -> Result<usize, DbError> {
        let Some(c) = self.charge_across_tenants(id).await? else { return Err(DbError::NotFound) };
        let Some(s) = self.seller(c.seller).await? else { return Err(DbError::NotFound) };
        let mut kinds: Vec<&str> = Vec::new();
        if matches!(c.status.as_str(), "billed" | "paid" | "refunded") && c.amount_pence > 0 {
            kinds.push("sale");
        }
        let card = c.funding == "learner" || c.kind == "seats";
        if card && matches!(c.status.as_str(), "paid" | "refunded") && c.amount_pence > 0 {
            kinds.push("payout");
        }
        if c.status == "refunded" && c.amount_pence > 0 {
            kinds.push("refund");
            if card {
                kinds.push("reversal");
            }
        }
        let mut posted = 0;
        for kind in kinds {
            let txn = txn_id(c.id, kind);
            let (tx, _turn) = begin_tx(&self.conn, &self.writer, true).await?;
            let exists = ledger_entry::Entity::find().filter(ledger_entry::Column::Txn.eq(txn)).one(&tx).await?;
            if exists.is_some() {
                tx.rollback().await?;
                continue;
            }
            let net = c.amount_pence - c.fee_pence;
            let lines: Vec<Line> = match kind {
                "sale" => m::sale_lines(c.tenant, s.tenant, c.amount_pence, c.fee_pence),
                "refund" => m::refund_lines(c.tenant, s.tenant, c.amount_pence, c.fee_pence),
                // A card payment goes to the seller's connected account at once (a destination
                // charge); a refund takes it back (the transfer reversed).
                "payout" => m::payout_lines(s.tenant, net),
                _ => m::payout_lines(s.tenant, net).into_iter().map(|l| Line { pence: -l.pence, ..l }).collect(),
            };
            if !m::balanced(&lines) {
                return Err(DbError::Conflict(format!("charge {id}: {kind} lines do not balance")));
            }
            let at = if kind == "sale" { c.settled_at.unwrap_or(c.created_at) } else { Utc::now() };
            let memo = format!("{} × {}", c.quantity, c.kind);
            insert_lines(&tx, txn, kind, &lines, &c.currency, Some(&c), Some(c.tenant), Some(c.seller), &memo, at)
                .await?;
            tx.commit().await?;
            posted += 1;
        }
        Ok(posted)
    }

    /// Posts a payout to a seller (their earnings paid out), once per `key`.
    pub async fn post_payout_across_tenants(
        &self,
        key: &str,
        p: &Payout,
        buyer: TenantId,
        memo: &str,
    ) -> Result<bool, DbError> {
        let txn = derived_txn(&[b"payout", key.as_bytes()]);
        let (tx, _turn) = begin_tx(&self.conn, &self.writer, true).await?;
        if ledger_entry::Entity::find().filter(ledger_entry::Column::Txn.eq(txn)).one(&tx).await?.is_some() {
            tx.rollback().await?;
            return Ok(false);
        }
        let lines = m::payout_lines(p.seller_tenant, p.net_pence);
        insert_lines(&tx, txn, "payout", &lines, m::CURRENCY, None, Some(buyer), Some(p.seller), memo, Utc::now())
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The whole ledger's totals (the platform's commission page and the reconciliation test).
    pub async fn ledger_totals_across_tenants(&self) -> Result<LedgerTotals, DbError> {
        let sql = "SELECT account, CAST(COALESCE(SUM(amount_pence), 0) AS BIGINT) AS total, COUNT(*) AS n
                     FROM ledger_entries GROUP BY account";
        let rows = self.conn.query_all_raw(pstmt(&self.conn, sql, vec![])).await?;
        let mut t = LedgerTotals::default();
        for r in rows {
            let account: String = r.try_get("", "account")?;
            let total: i64 = r.try_get("", "total")?;
            t.sum += total;
            t.lines += r.try_get::<i64>("", "n")?;
            match account.as_str() {
                "spend" => t.spend += total,
                "earnings" => t.earnings -= total,
                "paid_out" => {
                    t.earnings -= total;
                    t.paid_out -= total;
                }
                "commission" => t.commission -= total,
                _ => {}
            }
        }
        Ok(t)
    }

    /// The platform's commission lines, newest first.
    pub async fn commission_lines(&self, limit: u64) -> Result<Vec<LedgerLine>, DbError> {
        Ok(ledger_entry::Entity::find()
            .filter(ledger_entry::Column::TenantId.eq(TenantId::PLATFORM.as_uuid()))
            .order_by_desc(ledger_entry::Column::At)
            .limit(limit)
            .all(&self.conn)
            .await?
            .into_iter()
            .map(LedgerLine::from)
            .collect())
    }

    /// Keeps a verified Stripe event. False if it was already kept (a repeated delivery).
    pub async fn record_stripe_event(&self, id: &str, kind: &str, payload: &str) -> Result<bool, DbError> {
        let now = Utc::now();
        let sql = "INSERT INTO stripe_events (id, kind, payload, status, attempts, received_at, next_at)
                   VALUES ($1, $2, $3, 'received', 0, $4, $4) ON CONFLICT (id) DO NOTHING";
        let res = self
            .conn
            .execute_raw(pstmt(&self.conn, sql, vec![id.into(), kind.into(), payload.into(), now.into()]))
            .await?;
        Ok(res.rows_affected() == 1)
    }

    /// Takes a kept event to process (for two minutes); its payload, or `None` if it is done or
    /// another worker has it.
    pub async fn claim_stripe_event(&self, id: &str) -> Result<Option<(String, i32)>, DbError> {
        let now = Utc::now();
        let res = stripe_event::Entity::update_many()
            .filter(stripe_event::Column::Id.eq(id))
            .filter(stripe_event::Column::Status.is_in(["received", "failed"]))
            .filter(stripe_event::Column::NextAt.lte(now))
            .col_expr(stripe_event::Column::NextAt, Expr::value(now + Duration::minutes(2)))
            .exec(&self.conn)
            .await?;
        if res.rows_affected != 1 {
            return Ok(None);
        }
        Ok(stripe_event::Entity::find_by_id(id.to_owned()).one(&self.conn).await?.map(|e| (e.payload, e.attempts)))
    }

    /// Records an event processed.
    pub async fn stripe_event_done(&self, id: &str) -> Result<(), DbError> {
        stripe_event::Entity::update_many()
            .filter(stripe_event::Column::Id.eq(id))
            .col_expr(stripe_event::Column::Status, Expr::value("processed"))
            .col_expr(stripe_event::Column::ProcessedAt, Expr::value(Some(Utc::now())))
            .col_expr(stripe_event::Column::Attempts, Expr::col(stripe_event::Column::Attempts).add(1))
            .col_expr(stripe_event::Column::LastError, Expr::value(Option::<String>::None))
            .exec(&self.conn)
            .await?;
        Ok(())
    }

    /// Records a failed attempt and when to retry (back-off, capped at an hour).
    pub async fn stripe_event_failed(&self, id: &str, attempts: i32, error: &str) -> Result<(), DbError> {
        let backoff = Duration::seconds(Ord::min(2_i64.pow(attempts.clamp(0, 11).unsigned_abs()), 3600));
        stripe_event::Entity::update_many()
            .filter(stripe_event::Column::Id.eq(id))
            .col_expr(stripe_event::Column::Status, Expr::value("failed"))
            .col_expr(stripe_event::Column::Attempts, Expr::value(attempts + 1))
            .col_expr(stripe_event::Column::NextAt, Expr::value(Utc::now() + backoff))
            .col_expr(stripe_event::Column::LastError, Expr::value(Some(error.chars().take(1000).collect::<String>())))
            .exec(&self.conn)
            .await?;
        Ok(())
    }

    /// Events waiting to be processed or retried, due now.
    pub async fn due_stripe_events(&self, limit: u64) -> Result<Vec<String>, DbError> {
        Ok(stripe_event::Entity::find()
            .filter(stripe_event::Column::Status.is_in(["received", "failed"]))
            .filter(stripe_event::Column::NextAt.lte(Utc::now()))
            .order_by_asc(stripe_event::Column::NextAt)
            .limit(limit)
            .all(&self.conn)
            .await?
            .into_iter()
            .map(|e| e.id)
            .collect())
    }

    /// Recent events, failed ones first (the admin view).
    pub async fn stripe_events(&self, limit: u64) -> Result<Vec<StripeEvent>, DbError> {
        let mut failed: Vec<StripeEvent> = stripe_event::Entity::find()
            .filter(stripe_event::Column::Status.ne("processed"))
            .order_by_desc(stripe_event::Column::ReceivedAt)
            .limit(limit)
            .all(&self.conn)
            .await?
            .into_iter()
            .map(StripeEvent::from)
            .collect();
        let done = stripe_event::Entity::find()
            .filter(stripe_event::Column::Status.eq("processed"))
            .order_by_desc(stripe_event::Column::ReceivedAt)
            .limit(limit)
            .all(&self.conn)
            .await?;
        failed.extend(done.into_iter().map(StripeEvent::from));
        Ok(failed)
    }
}
