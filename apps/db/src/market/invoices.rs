//! Monthly invoices of enrolments billed to a trust, and the seller payouts they carry.

use super::*;
use crate::states::InvoiceStatus;

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
    pub status: InvoiceStatus,
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
    Ok(tx.select::<market_budget::Entity>().one(tx).await?.and_then(|b| b.stripe_customer))
}

/// Records the trust's Stripe customer.
pub async fn set_stripe_customer(tx: &TenantTx, customer: &str) -> Result<(), DbError> {
    let res = tx
        .update_many::<market_budget::Entity>()
        .col_expr(market_budget::Column::StripeCustomer, Expr::value(Some(customer.to_owned())))
        .exec(tx)
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
    let rows = tx.query_all(sql, vec![current.into()]).await?;
    rows.iter().map(|r| Ok(r.try_get::<String>("", "month")?)).collect()
}

/// Gathers the month's billed enrolments not yet invoiced into one open invoice, in one
/// transaction (so none is invoiced twice). `None` if there are none.
pub async fn invoice_month(tx: &TenantTx, month: &str) -> Result<Option<Invoice>, DbError> {
    lock_trust(tx).await?;
    let sql = "SELECT CAST(COALESCE(SUM(amount_pence), 0) AS BIGINT) AS total, COUNT(*) AS n FROM charges
                WHERE tenant_id = $1 AND month = $2 AND status = 'billed' AND invoice_id IS NULL";
    let row = tx.query_one(sql, vec![month.into()]).await?;
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
            status: Set(InvoiceStatus::Open),
            stripe_invoice: Set(None),
            hosted_url: Set(None),
            created_at: Set(Utc::now()),
            paid_at: Set(None),
        })
        .await?;
    tx.update_many::<charge::Entity>()
        .filter(charge::Column::Month.eq(month))
        .filter(charge::Column::Status.eq(crate::states::ChargeStatus::Billed))
        .filter(charge::Column::InvoiceId.is_null())
        .col_expr(charge::Column::InvoiceId, Expr::value(Some(id)))
        .exec(tx)
        .await?;
    Ok(Some(Invoice::from(row)))
}

/// An invoice's lines, by course.
pub async fn invoice_lines(tx: &TenantTx, id: Uuid) -> Result<Vec<InvoiceLine>, DbError> {
    let sql = "SELECT course_id, COUNT(*) AS n, CAST(COALESCE(SUM(amount_pence), 0) AS BIGINT) AS total FROM charges
                WHERE tenant_id = $1 AND invoice_id = $2 GROUP BY course_id";
    let rows = tx.query_all(sql, vec![id.into()]).await?;
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
    let rows = tx.query_all(sql, vec![id.into()]).await?;
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
        .exec(tx)
        .await?;
    Ok(())
}

/// The trust's invoices, newest first.
pub async fn invoices(tx: &TenantTx, limit: u64) -> Result<Vec<Invoice>, DbError> {
    Ok(tx
        .select::<invoice::Entity>()
        .order_by_desc(invoice::Column::CreatedAt)
        .limit(limit)
        .all(tx)
        .await?
        .into_iter()
        .map(Invoice::from)
        .collect())
}

/// One of the trust's invoices.
pub async fn invoice(tx: &TenantTx, id: Uuid) -> Result<Option<Invoice>, DbError> {
    Ok(tx.select::<invoice::Entity>().filter(invoice::Column::Id.eq(id)).one(tx).await?.map(Invoice::from))
}

/// Marks an open invoice paid (Stripe's `invoice.paid`) and queues the sellers' payouts. Once.
pub async fn invoice_paid(tx: &TenantTx, id: Uuid) -> Result<bool, DbError> {
    let res = tx
        .update_many::<invoice::Entity>()
        .filter(invoice::Column::Id.eq(id))
        .filter(invoice::Column::Status.eq(InvoiceStatus::Open))
        .col_expr(invoice::Column::Status, Expr::value(InvoiceStatus::Paid.as_str()))
        .col_expr(invoice::Column::PaidAt, Expr::value(Some(Utc::now())))
        .exec(tx)
        .await?;
    if res.rows_affected == 1 {
        crate::outbox::enqueue_job(tx, "payouts", &serde_json::json!({ "invoice": id.to_string() })).await?;
    }
    Ok(res.rows_affected == 1)
}
