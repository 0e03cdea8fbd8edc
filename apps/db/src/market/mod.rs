//! The marketplace's data: sellers and listings (platform-wide), the listings a trust adds and
//! how it pays (tenant-owned), charges (each sale or bill, the buying trust's), the ledger (each
//! line its owner's) and Stripe's events.
//!
//! A charge is written in the same transaction as the enrolment it pays for, so no paid
//! enrolment exists without its charge (billed, drawn from a seat, or paid), and none is active
//! while its payment is pending. Ledger lines follow a charge through the outbox: posting is
//! idempotent (one transaction per charge and kind, its lines' key unique), so the ledger always
//! catches up and never counts twice.
//!
//! By subject: [`adoptions`] (a trust's listings and budget), [`charges`] (sales, seats, refunds,
//! licences), [`invoices`] (monthly bills), [`ledger`] (each side's lines) and [`platform`]
//! (sellers, listings, review and Stripe's events, platform-wide).

mod adoptions;
mod charges;
mod invoices;
mod ledger;
mod platform;

pub use adoptions::*;
pub use charges::*;
pub use invoices::*;
pub use ledger::*;
pub use platform::*;

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
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
    Set, Statement,
};
use std::collections::HashMap;
use trellis_domain::market::{self as m, Funding, Line, Price};
use trellis_domain::{ChargeId, CourseId, EnrolmentId, ListingId, PersonId, SellerId, TenantId};
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
    pub status: crate::states::ListingStatus,
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
    pub status: crate::states::ChargeStatus,
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
