//! The platform's side: sellers, listings and their review, Stripe's events, ledger totals.

use super::*;
use crate::states::ChargeStatus;
use crate::states::CourseStatus;
use crate::states::ListingStatus;
use crate::states::StripeEventStatus;
use crate::states::VersionStatus;

/// A raw statement on a platform connection ([`crate::tenant_tx::statement`]).
pub(super) fn pstmt(conn: &impl ConnectionTrait, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    crate::tenant_tx::statement(conn.get_database_backend(), sql, values)
}

/// Moves each party's kept balance (`ledger_balances`) by its ledger lines, in the transaction
/// that writes them (the platform path: the lines belong to several parties).
pub(super) async fn keep_balances(tx: &sea_orm::DatabaseTransaction, lines: &[Line]) -> Result<(), DbError> {
    for l in lines {
        tx.execute_raw(pstmt(
            tx,
            "INSERT INTO ledger_balances (tenant_id, account, total_pence) VALUES ($1, $2, $3)
             ON CONFLICT (tenant_id, account) DO UPDATE SET total_pence = ledger_balances.total_pence + excluded.total_pence",
            vec![l.owner.as_uuid().into(), l.account.as_str().into(), l.pence.into()],
        ))
        .await?;
    }
    Ok(())
}

/// A Stripe event as the admin view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeEvent {
    pub id: String,
    pub kind: String,
    pub status: StripeEventStatus,
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
        if course.national || course.status != CourseStatus::Published || course.kind != "course" {
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
            status: Set(ListingStatus::Submitted),
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
            .filter(listing::Column::Status.eq(crate::states::ListingStatus::Submitted))
            .col_expr(listing::Column::Status, Expr::value(crate::states::ListingStatus::Rejected))
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
        if l.status != ListingStatus::Submitted {
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
        c.status = Set(CourseStatus::Published);
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
            status: Set(VersionStatus::Published),
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
            .col_expr(listing::Column::Status, Expr::value(crate::states::ListingStatus::Live))
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
        Ok(Listing {
            status: ListingStatus::Live,
            course: Some(CourseId::from_uuid(new_course)),
            commission_bps: bps,
            ..l
        })
    }

    /// Withdraws a live listing from the marketplace (trusts that added it keep it).
    pub async fn withdraw_listing(&self, id: ListingId, seller: SellerId) -> Result<bool, DbError> {
        let res = listing::Entity::update_many()
            .filter(listing::Column::Id.eq(id.as_uuid()))
            .filter(listing::Column::SellerId.eq(seller.as_uuid()))
            .filter(
                listing::Column::Status
                    .is_in([crate::states::ListingStatus::Submitted, crate::states::ListingStatus::Live]),
            )
            .col_expr(listing::Column::Status, Expr::value(crate::states::ListingStatus::Withdrawn))
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
        if matches!(c.status, ChargeStatus::Billed | ChargeStatus::Paid | ChargeStatus::Refunded) && c.amount_pence > 0
        {
            kinds.push("sale");
        }
        let card = c.funding == "learner" || c.kind == "seats";
        if card && matches!(c.status, ChargeStatus::Paid | ChargeStatus::Refunded) && c.amount_pence > 0 {
            kinds.push("payout");
        }
        if c.status == ChargeStatus::Refunded && c.amount_pence > 0 {
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
        // A new event is kept already claimed (for two minutes) by the delivery that brought it,
        // which processes it at once; the worker retries it only if that delivery never finishes.
        let sql = "INSERT INTO stripe_events (id, kind, payload, status, attempts, received_at, next_at)
                   VALUES ($1, $2, $3, 'received', 0, $4, $5) ON CONFLICT (id) DO NOTHING";
        let claim = now + Duration::minutes(2);
        let res = self
            .conn
            .execute_raw(pstmt(&self.conn, sql, vec![id.into(), kind.into(), payload.into(), now.into(), claim.into()]))
            .await?;
        Ok(res.rows_affected() == 1)
    }

    /// Takes a kept event to process (for two minutes); its payload, or `None` if it is done or
    /// another worker has it.
    pub async fn claim_stripe_event(&self, id: &str) -> Result<Option<(String, i32)>, DbError> {
        let now = Utc::now();
        let res = stripe_event::Entity::update_many()
            .filter(stripe_event::Column::Id.eq(id))
            .filter(stripe_event::Column::Status.is_in([StripeEventStatus::Received, StripeEventStatus::Failed]))
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
            .col_expr(stripe_event::Column::Status, Expr::value(StripeEventStatus::Processed.as_str()))
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
            .col_expr(stripe_event::Column::Status, Expr::value(StripeEventStatus::Failed.as_str()))
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
            .filter(stripe_event::Column::Status.is_in([StripeEventStatus::Received, StripeEventStatus::Failed]))
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
            .filter(stripe_event::Column::Status.ne(StripeEventStatus::Processed))
            .order_by_desc(stripe_event::Column::ReceivedAt)
            .limit(limit)
            .all(&self.conn)
            .await?
            .into_iter()
            .map(StripeEvent::from)
            .collect();
        let done = stripe_event::Entity::find()
            .filter(stripe_event::Column::Status.eq(StripeEventStatus::Processed))
            .order_by_desc(stripe_event::Column::ReceivedAt)
            .limit(limit)
            .all(&self.conn)
            .await?;
        failed.extend(done.into_iter().map(StripeEvent::from));
        Ok(failed)
    }
}
