//! The compliance matrix's totals, kept for a short while.
//!
//! Counting the totals reads every compliance entry the filters take in (600,000 for a trust of
//! 20,000 staff with 30 mandatory courses): the costly part of the matrix page. A manager paging,
//! sorting or coming back to the matrix asks for the same totals again, so they are kept per trust,
//! filters and day for [`KEEP`], and forgotten at once when this server changes the trust's
//! compliance (a rule added or removed, staff imported, a course completed, the daily run). Changes
//! made through another server show within [`KEEP`]; the page says when the totals were counted.

use chrono::{DateTime, NaiveDate, Utc};
use moka::sync::Cache;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use trellis_core::TenantId;
use trellis_db::compliance::{MatrixQuery, Totals};

/// How long counted totals are shown before they are counted again.
pub const KEEP: Duration = Duration::from_secs(120);

/// Totals and when they were counted.
#[derive(Debug)]
pub struct Counted {
    pub totals: Totals,
    pub at: DateTime<Utc>,
}

/// Counted totals per trust, filters and day.
pub struct TotalsCache {
    cache: Cache<String, Arc<Counted>>,
    /// Bumped when this server changes a trust's compliance; part of every key.
    generations: Mutex<HashMap<TenantId, u64>>,
}

impl Default for TotalsCache {
    fn default() -> Self {
        Self { cache: Cache::builder().max_capacity(10_000).time_to_live(KEEP).build(), generations: Mutex::default() }
    }
}

impl TotalsCache {
    fn key(&self, tenant: TenantId, q: &MatrixQuery, today: NaiveDate) -> String {
        let generation = self.generations.lock().map(|g| g.get(&tenant).copied().unwrap_or(0)).unwrap_or(0);
        let status = q.status.map(|s| s.as_str()).unwrap_or("");
        // Unit separators: no filter value can forge another's key.
        format!(
            "{tenant}\u{1f}{generation}\u{1f}{today}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{status}",
            q.staff_group, q.department, q.search
        )
    }

    /// The totals counted for this query today, if still kept.
    pub fn get(&self, tenant: TenantId, q: &MatrixQuery, today: NaiveDate) -> Option<Arc<Counted>> {
        self.cache.get(&self.key(tenant, q, today))
    }

    /// Keeps totals just counted; returns them as kept.
    pub fn put(&self, tenant: TenantId, q: &MatrixQuery, today: NaiveDate, totals: Totals) -> Arc<Counted> {
        let counted = Arc::new(Counted { totals, at: Utc::now() });
        self.cache.insert(self.key(tenant, q, today), counted.clone());
        counted
    }

    /// The trust's compliance changed: its kept totals are no longer shown.
    pub fn changed(&self, tenant: TenantId) {
        if let Ok(mut g) = self.generations.lock() {
            *g.entry(tenant).or_insert(0) += 1;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn kept_per_trust_filters_and_day_and_forgotten_on_change() {
        let c = TotalsCache::default();
        let a = TenantId::from_uuid(uuid::Uuid::now_v7());
        let b = TenantId::from_uuid(uuid::Uuid::now_v7());
        let day = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let all = MatrixQuery::default();
        let nurses = MatrixQuery { staff_group: "Nursing and Midwifery Registered".into(), ..Default::default() };
        let mut t = Totals::default();
        t.overall.complete = 7;
        c.put(a, &all, day, t);
        assert_eq!(c.get(a, &all, day).unwrap().totals.overall.complete, 7);
        assert!(c.get(b, &all, day).is_none(), "another trust");
        assert!(c.get(a, &nurses, day).is_none(), "other filters");
        assert!(c.get(a, &all, day.succ_opt().unwrap()).is_none(), "another day");
        let paged = MatrixQuery { offset: 50, sort: "overdue".into(), ..Default::default() };
        assert!(c.get(a, &paged, day).is_some(), "paging and sorting do not change the totals");
        c.changed(b);
        assert!(c.get(a, &all, day).is_some(), "a change elsewhere");
        c.changed(a);
        assert!(c.get(a, &all, day).is_none(), "a change here");
    }
}
