//! Usage figures without cookies: page views per trust and per course per day. The web servers
//! count views in memory and add them here in batches (`add`), so a page view costs no write.

use crate::{DbError, TenantTx};
use chrono::NaiveDate;
use trellis_domain::CourseId;
use uuid::Uuid;

/// Adds `views` to a day's count for the whole site (`course` none) or one course.
pub async fn add(tx: &TenantTx, day: NaiveDate, course: Option<CourseId>, views: u64) -> Result<(), DbError> {
    let sql = "INSERT INTO page_views (tenant_id, day, course_id, views) VALUES ($1, $2, $3, $4)
               ON CONFLICT (tenant_id, day, course_id) DO UPDATE SET views = page_views.views + excluded.views";
    let course = course.map_or(Uuid::nil(), |c| c.as_uuid());
    tx.execute(sql, vec![day.into(), course.into(), i64::try_from(views).unwrap_or(i64::MAX).into()]).await?;
    Ok(())
}

/// Views from `since` on: the whole site's, and each course's (most viewed first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Views {
    pub site: u64,
    pub courses: Vec<(CourseId, u64)>,
}

pub async fn since(tx: &TenantTx, since: NaiveDate) -> Result<Views, DbError> {
    let sql = "SELECT course_id, CAST(SUM(views) AS BIGINT) AS views FROM page_views
                WHERE tenant_id = $1 AND day >= $2 GROUP BY course_id";
    let rows = tx.query_all(sql, vec![since.into()]).await?;
    let mut out = Views::default();
    for r in rows {
        let course: Uuid = r.try_get("", "course_id")?;
        let views = u64::try_from(r.try_get::<i64>("", "views")?).unwrap_or(0);
        if course.is_nil() {
            out.site = views;
        } else {
            out.courses.push((CourseId::from_uuid(course), views));
        }
    }
    out.courses.sort_by_key(|c| std::cmp::Reverse(c.1));
    Ok(out)
}
