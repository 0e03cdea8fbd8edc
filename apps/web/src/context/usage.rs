//! Page views counted in memory, without cookies: each trust's pages and each course's, by day,
//! added to the database in batches every `server.usage_flush_seconds` (and when the server
//! stops). A crash loses at most one interval's counts; the figures are for trends, not billing.

use crate::context::AppState;
use chrono::NaiveDate;
use std::collections::HashMap;
use std::sync::Mutex;
use trellis_domain::{CourseId, TenantId};

type Key = (TenantId, NaiveDate, Option<CourseId>);

/// Views not yet written.
#[derive(Debug, Default)]
pub struct Usage {
    pending: Mutex<HashMap<Key, u64>>,
}

impl Usage {
    /// Counts one page view of a trust's site (and of `course`, if the page is one of its).
    pub fn view(&self, tenant: TenantId, course: Option<CourseId>) {
        let day = chrono::Utc::now().date_naive();
        if let Ok(mut p) = self.pending.lock() {
            *p.entry((tenant, day, None)).or_default() += 1;
            if course.is_some() {
                *p.entry((tenant, day, course)).or_default() += 1;
            }
        }
    }

    fn take(&self) -> HashMap<Key, u64> {
        self.pending.lock().map(|mut p| std::mem::take(&mut *p)).unwrap_or_default()
    }

    fn put_back(&self, counts: HashMap<Key, u64>) {
        if let Ok(mut p) = self.pending.lock() {
            for (k, n) in counts {
                *p.entry(k).or_default() += n;
            }
        }
    }
}

/// Writes the counts so far, one transaction per trust; a trust whose write fails keeps its
/// counts for the next time.
pub async fn flush(state: &AppState) {
    let counts = state.usage.take();
    let mut by_trust: HashMap<TenantId, Vec<(NaiveDate, Option<CourseId>, u64)>> = HashMap::new();
    for ((t, d, c), n) in counts {
        by_trust.entry(t).or_default().push((d, c, n));
    }
    for (tenant, rows) in by_trust {
        let written = async {
            let tx = state.dbs.app.begin(tenant).await?;
            for (d, c, n) in &rows {
                trellis_db::usage::add(&tx, *d, *c, *n).await?;
            }
            tx.commit().await?;
            Ok::<_, trellis_db::DbError>(())
        }
        .await;
        if let Err(e) = written {
            tracing::warn!(error = %e, tenant = %tenant, "page views not written; kept for the next time");
            state.usage.put_back(rows.into_iter().map(|(d, c, n)| ((tenant, d, c), n)).collect());
        }
    }
}

/// The course a page is about, from its path: `/courses/<id>…` or `/learn/<id>…`.
pub fn course_of(path: &str) -> Option<CourseId> {
    let rest = path.strip_prefix("/courses/").or_else(|| path.strip_prefix("/learn/"))?;
    rest.split('/').next()?.parse().ok()
}
