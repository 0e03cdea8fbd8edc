//! Counting the totals, in the request or in the background (needs the application's state, so
//! it sits above the cache the state holds).

use crate::context::AppState;
use crate::context::totals::{Counted, Slot, TotalsCache};
use chrono::{NaiveDate, Utc};
use std::sync::Arc;
use trellis_db::compliance::MatrixQuery;
use trellis_domain::TenantId;

impl TotalsCache {
    /// The totals to show: the current count (waiting for one already under way, or counting
    /// now), or — if the trust changed since — the last count, while a new one is made in the
    /// background.
    pub async fn totals(
        &self,
        state: &AppState,
        tenant: TenantId,
        q: &MatrixQuery,
        today: NaiveDate,
    ) -> Result<Arc<Counted>, trellis_db::DbError> {
        let slot = self.slot(tenant, q, today);
        if let Some(c) = slot.get() {
            return Ok(c.clone());
        }
        if let Some(last) = self.latest.get(&self.latest_key(tenant, q, today)) {
            spawn_count(state, tenant, q.clone(), today);
            return Ok(last);
        }
        count_into(state, &slot, tenant, q, today).await
    }
}

/// Counts into the slot (once, however many ask) and keeps the count as the latest.
async fn count_into(
    state: &AppState,
    slot: &Slot,
    tenant: TenantId,
    q: &MatrixQuery,
    today: NaiveDate,
) -> Result<Arc<Counted>, trellis_db::DbError> {
    let counted = slot
        .get_or_try_init(|| async {
            let tx = state.dbs.app.begin_read(tenant).await?;
            let totals = trellis_db::compliance::count_totals(&tx, q, today).await?;
            tx.commit().await?;
            Ok::<_, trellis_db::DbError>(Arc::new(Counted { totals, at: Utc::now() }))
        })
        .await?
        .clone();
    state.totals.latest.insert(state.totals.latest_key(tenant, q, today), counted.clone());
    if trust_wide(q) {
        // The day's trust-wide figures kept for the trend on the training manager's home.
        let tx = state.dbs.app.begin(tenant).await?;
        trellis_db::compliance::record_history(&tx, today, &counted.totals.overall).await?;
        tx.commit().await?;
    }
    Ok(counted)
}

/// Whether the query takes in the whole trust (no filter): its totals are the trust's figures.
fn trust_wide(q: &MatrixQuery) -> bool {
    q.staff_group.is_empty() && q.department.is_empty() && q.search.trim().is_empty() && q.status.is_none()
}

fn spawn_count(state: &AppState, tenant: TenantId, q: MatrixQuery, today: NaiveDate) {
    let state = state.clone();
    tokio::spawn(async move {
        let slot = state.totals.slot(tenant, &q, today);
        if slot.get().is_none()
            && let Err(e) = count_into(&state, &slot, tenant, &q, today).await
        {
            tracing::warn!(error = %e, "counting the compliance totals failed");
        }
    });
}

/// Counts the whole trust's totals in the background (after a change to its rules or staff, the
/// daily run, or a training manager's sign-in), so the matrix need not count them when opened.
pub fn warm(state: &AppState, site: &crate::context::directory::Site) {
    spawn_count(state, site.entry.id, MatrixQuery::default(), site.today());
}
