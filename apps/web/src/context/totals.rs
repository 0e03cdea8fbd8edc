//! The compliance matrix's totals, counted ahead and kept a short while.
//!
//! Counting the totals reads every compliance entry the filters take in (600,000 for a trust of
//! 20,000 staff with 30 mandatory courses): the costly part of the matrix page. So:
//!
//! - they are kept per trust, filters and day, for [`KEEP`]: a manager paging, sorting or coming
//!   back asks for the same totals again;
//! - a change this server makes to what the matrix covers (a rule added or removed, staff
//!   imported, the daily run) makes them out of date at once: the whole trust's are counted again
//!   in the background straight away, and a view waits for that count rather than show old ones;
//! - a learner completing a course changes them a little: for a while ([`KEEP`]) the last
//!   counted are still shown, marked with when they were counted, while they are counted again
//!   in the background;
//! - a training manager signing in has the whole trust's counted in the background, so the
//!   matrix is ready when they open it;
//! - one count at a time per trust, filters and day: a second request waits for the first's.
//!
//! Changes made through another server show within [`KEEP`].

use chrono::{DateTime, NaiveDate, Utc};
use moka::sync::Cache;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OnceCell;
use trellis_db::compliance::{MatrixQuery, Totals};
use trellis_domain::TenantId;

/// How long counted totals are shown before they are counted again.
pub const KEEP: Duration = Duration::from_secs(120);

/// Totals and when they were counted.
#[derive(Debug)]
pub struct Counted {
    pub totals: Totals,
    pub at: DateTime<Utc>,
}

pub(crate) type Slot = Arc<OnceCell<Arc<Counted>>>;

/// Counted totals per trust, filters and day.
pub struct TotalsCache {
    /// By trust, generation, day and filters: the count for exactly that state.
    current: Cache<String, Slot>,
    /// By trust, rules generation, day and filters: the latest count since the rules last
    /// changed (shown while a newer one is counted).
    pub(crate) latest: Cache<String, Arc<Counted>>,
    /// Per trust: (bumped on any change, part of every `current` key; bumped when the rules or
    /// the staff change, part of every `latest` key).
    generations: Mutex<HashMap<TenantId, (u64, u64)>>,
}

impl Default for TotalsCache {
    fn default() -> Self {
        Self {
            current: Cache::builder().max_capacity(10_000).time_to_live(KEEP).build(),
            latest: Cache::builder().max_capacity(10_000).time_to_live(KEEP).build(),
            generations: Mutex::default(),
        }
    }
}

fn filters_key(tenant: TenantId, q: &MatrixQuery, today: NaiveDate) -> String {
    let status = q.status.map(|s| s.as_str()).unwrap_or("");
    // Unit separators: no filter value can forge another's key.
    format!("{tenant}\u{1f}{today}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{status}", q.staff_group, q.department, q.search)
}

impl TotalsCache {
    fn generation(&self, tenant: TenantId) -> (u64, u64) {
        self.generations.lock().map(|g| g.get(&tenant).copied().unwrap_or((0, 0))).unwrap_or((0, 0))
    }

    pub(crate) fn slot(&self, tenant: TenantId, q: &MatrixQuery, today: NaiveDate) -> Slot {
        let key = format!("{}\u{1f}{}", self.generation(tenant).0, filters_key(tenant, q, today));
        self.current.get_with(key, || Arc::new(OnceCell::new()))
    }

    pub(crate) fn latest_key(&self, tenant: TenantId, q: &MatrixQuery, today: NaiveDate) -> String {
        format!("{}\u{1f}{}", self.generation(tenant).1, filters_key(tenant, q, today))
    }

    /// The totals counted for this query today at the current generation, if already counted.
    pub fn get(&self, tenant: TenantId, q: &MatrixQuery, today: NaiveDate) -> Option<Arc<Counted>> {
        self.slot(tenant, q, today).get().cloned()
    }

    /// Keeps totals just counted; returns them as kept.
    pub fn put(&self, tenant: TenantId, q: &MatrixQuery, today: NaiveDate, totals: Totals) -> Arc<Counted> {
        let counted = Arc::new(Counted { totals, at: Utc::now() });
        let kept = self.slot(tenant, q, today);
        let _ = kept.set(counted.clone());
        let shown = kept.get().cloned().unwrap_or(counted);
        self.latest.insert(self.latest_key(tenant, q, today), shown.clone());
        shown
    }

    /// What the matrix covers changed here (rules, staff, the daily run): the kept totals are not
    /// shown again; count the trust's afresh ([`warm`]).
    pub fn changed(&self, tenant: TenantId) {
        if let Ok(mut g) = self.generations.lock() {
            let e = g.entry(tenant).or_insert((0, 0));
            e.0 += 1;
            e.1 += 1;
        }
    }

    /// A learner's progress changed the totals a little (a completion): they are counted again,
    /// and the last counted are shown meanwhile.
    pub fn progressed(&self, tenant: TenantId) {
        if let Ok(mut g) = self.generations.lock() {
            g.entry(tenant).or_insert((0, 0)).0 += 1;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn kept_per_trust_filters_and_day_and_out_of_date_after_a_change() {
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
        c.progressed(a);
        assert!(c.get(a, &all, day).is_none(), "progress here: not current any more");
        assert_eq!(
            c.latest.get(&c.latest_key(a, &all, day)).unwrap().totals.overall.complete,
            7,
            "but still the latest, to show while counting again"
        );
        c.changed(a);
        assert!(c.latest.get(&c.latest_key(a, &all, day)).is_none(), "a change to the rules: nothing old is shown");
    }
}
