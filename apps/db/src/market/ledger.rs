//! The ledger: each side's lines, posted once per charge and kind.

use super::*;

/// This party's own ledger lines (a trust's spending, a seller's earnings), newest first.
pub async fn ledger(tx: &TenantTx, limit: u64) -> Result<Vec<LedgerLine>, DbError> {
    Ok(tx
        .select::<ledger_entry::Entity>()
        .order_by_desc(ledger_entry::Column::At)
        .order_by_asc(ledger_entry::Column::Line)
        .limit(limit)
        .all(tx)
        .await?
        .into_iter()
        .map(LedgerLine::from)
        .collect())
}

/// This party's balance per account (`spend`, `earnings`, `paid_out`).
pub async fn balances(tx: &TenantTx) -> Result<HashMap<String, i64>, DbError> {
    // The kept totals (`ledger_balances`): one row an account, however long the ledger.
    let rows = tx
        .query_all("SELECT account, total_pence AS total FROM ledger_balances WHERE tenant_id = $1", Vec::new())
        .await?;
    rows.iter().map(|r| Ok((r.try_get::<String>("", "account")?, r.try_get::<i64>("", "total")?))).collect()
}

/// [`balances`] summed afresh from every ledger line: what the kept totals must always equal (the
/// market tests check it after sales, refunds and payouts; an operator can compare them).
pub async fn balances_recounted(tx: &TenantTx) -> Result<HashMap<String, i64>, DbError> {
    let sql = "SELECT account, CAST(COALESCE(SUM(amount_pence), 0) AS BIGINT) AS total FROM ledger_entries
                WHERE tenant_id = $1 GROUP BY account";
    let rows = tx.query_all(sql, Vec::new()).await?;
    rows.iter().map(|r| Ok((r.try_get::<String>("", "account")?, r.try_get::<i64>("", "total")?))).collect()
}

/// A seller's sales each month (`YYYY-MM`, UTC) from `since` on: the number sold (less refunds)
/// and what they earned, after commission and refunds, in pence. Months with none are absent.
pub async fn sales_by_month(tx: &TenantTx, since: DateTime<Utc>) -> Result<Vec<(String, i64, i64)>, DbError> {
    let month = tx.month_of("at");
    let sql = format!(
        "SELECT {month} AS month,
                CAST(COALESCE(SUM(CASE kind WHEN 'sale' THEN 1 WHEN 'refund' THEN -1 ELSE 0 END), 0) AS BIGINT) AS n,
                CAST(COALESCE(SUM(-amount_pence), 0) AS BIGINT) AS earned
           FROM ledger_entries
          WHERE tenant_id = $1 AND account = 'earnings' AND at >= $2 AND kind IN ('sale', 'refund')
          GROUP BY {month} ORDER BY 1"
    );
    let rows = tx.query_all(&sql, vec![since.into()]).await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<String>("", "month")?, r.try_get::<i64>("", "n")?, r.try_get::<i64>("", "earned")?)))
        .collect()
}

/// Writes one balanced ledger transaction's lines.
#[allow(clippy::too_many_arguments)]
pub(super) async fn insert_lines(
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
    // The kept totals, in the same transaction: each party's account moves by its lines.
    super::platform::keep_balances(tx, lines).await
}

/// A ledger transaction's id derived from what it records (the same parts give the same id, so
/// a posting is recognised when it is made again).
pub(super) fn derived_txn(parts: &[&[u8]]) -> Uuid {
    use sha2::{Digest, Sha256};
    let d = parts.iter().fold(Sha256::new(), |h, p| h.chain_update(p)).finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Builder::from_custom_bytes(b).into_uuid()
}

/// The ledger transaction of a charge's posting of `kind`.
pub(super) fn txn_id(charge: ChargeId, kind: &str) -> Uuid {
    derived_txn(&[charge.as_uuid().as_bytes(), kind.as_bytes()])
}
