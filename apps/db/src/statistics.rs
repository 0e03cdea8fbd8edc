//! The figures behind a course's anonymised statistics: one line per enrolment (never a name),
//! for the web crate to group by month or staff group under disclosure control.

use crate::{DbError, TenantTx};
use trellis_domain::CourseId;

/// One enrolment on the course, without who it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// `YYYY-MM` of the enrolment (UTC).
    pub month: String,
    /// The learner's staff group here ("" where none is recorded).
    pub staff_group: String,
    pub accessed: bool,
    pub completed: bool,
    pub seconds: i64,
    /// The best score the content reported, −1 to 1.
    pub best_score: Option<f64>,
}

/// Every enrolment on `course` in this trust (requests turned down left out), one read.
pub async fn course_lines(tx: &TenantTx, course: CourseId) -> Result<Vec<Line>, DbError> {
    let month = tx.month_of("e.requested_at");
    // The course's tracking rows summed per enrolment in one pass (not three look-ups a line).
    let sql = format!(
        "SELECT {month} AS month, COALESCE(s.staff_group, '') AS staff_group,
                CASE WHEN g.enrolment_id IS NOT NULL THEN 1 ELSE 0 END AS accessed,
                CASE WHEN e.status = 'completed' THEN 1 ELSE 0 END AS completed,
                CAST(COALESCE(g.seconds, 0) AS BIGINT) AS seconds, g.best AS best_score
           FROM enrolments e
           LEFT JOIN staff_records s ON s.tenant_id = $1 AND s.person_id = e.person_id
           LEFT JOIN (SELECT p.enrolment_id AS enrolment_id, SUM(p.seconds_spent) AS seconds,
                             MAX(p.score_scaled) AS best
                        FROM object_progress p
                        JOIN enrolments pe ON pe.tenant_id = $1 AND pe.id = p.enrolment_id AND pe.course_id = $2
                       WHERE p.tenant_id = $1
                       GROUP BY p.enrolment_id) g ON g.enrolment_id = e.id
          WHERE e.tenant_id = $1 AND e.course_id = $2 AND e.status <> 'rejected'"
    );
    let rows = tx.query_all(&sql, vec![course.as_uuid().into()]).await?;
    rows.iter()
        .map(|r| {
            Ok(Line {
                month: r.try_get("", "month")?,
                staff_group: r.try_get("", "staff_group")?,
                accessed: r
                    .try_get::<i32>("", "accessed")
                    .or_else(|_| r.try_get::<i64>("", "accessed").map(|v| v as i32))?
                    != 0,
                completed: r
                    .try_get::<i32>("", "completed")
                    .or_else(|_| r.try_get::<i64>("", "completed").map(|v| v as i32))?
                    != 0,
                seconds: r.try_get("", "seconds")?,
                best_score: r.try_get("", "best_score")?,
            })
        })
        .collect()
}

/// One national course's enrolments in one month, across every trust (the open data's source).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NationalMonth {
    pub code: String,
    pub title: String,
    /// `YYYY-MM` (UTC) of enrolment.
    pub month: String,
    pub enrolled: u64,
    pub completed: u64,
}

impl crate::PlatformDb {
    /// The national catalogue's courses, enrolments by month across every trust (requests turned
    /// down left out): the platform path's aggregate read for the published open data. Counts
    /// only: nothing about anyone, nor which trust. People who objected to research extracts
    /// (`trellis_domain::privacy::Purpose::Research`) are not counted.
    pub async fn national_statistics_across_tenants(&self) -> Result<Vec<NationalMonth>, DbError> {
        use sea_orm::{ConnectionTrait, DbBackend, Statement};
        let backend = self.conn.get_database_backend();
        let month = if backend == DbBackend::Postgres {
            "to_char(e.requested_at AT TIME ZONE 'UTC', 'YYYY-MM')"
        } else {
            "substr(e.requested_at, 1, 7)"
        };
        let national = if backend == DbBackend::Postgres { "$1" } else { "?" };
        let sql = format!(
            "SELECT c.code AS code, c.title AS title, {month} AS month,
                    CAST(COUNT(*) AS BIGINT) AS enrolled,
                    CAST(SUM(CASE WHEN e.status = 'completed' THEN 1 ELSE 0 END) AS BIGINT) AS completed
               FROM enrolments e
               JOIN courses c ON c.tenant_id = {national} AND c.id = e.course_id AND c.seller_id IS NULL
              WHERE e.status <> 'rejected'
                AND NOT EXISTS (SELECT 1 FROM people p WHERE p.id = e.person_id AND p.objected_research_at IS NOT NULL)
              GROUP BY c.code, c.title, {month}
              ORDER BY c.code, 3"
        );
        let rows = self
            .conn
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [trellis_domain::TenantId::NATIONAL.as_uuid().into()],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                let n = |c: &str| r.try_get::<i64>("", c).map(|v| u64::try_from(v).unwrap_or(0));
                Ok(NationalMonth {
                    code: r.try_get("", "code")?,
                    title: r.try_get("", "title")?,
                    month: r.try_get("", "month")?,
                    enrolled: n("enrolled")?,
                    completed: n("completed")?,
                })
            })
            .collect()
    }
}

/// One enrolment on a course, without who it is, with the trust it is at.
#[derive(Debug, Clone, PartialEq)]
pub struct TrustLine {
    pub trust: trellis_domain::TenantId,
    pub line: Line,
}

impl crate::PlatformDb {
    /// Every enrolment on `course` at every trust (requests turned down left out), without who:
    /// the platform path's aggregate read for national and sellers' anonymised statistics. The
    /// caller groups them only by month, staff group, trust or region, under disclosure control.
    pub async fn course_lines_across_tenants(&self, course: CourseId) -> Result<Vec<TrustLine>, DbError> {
        use sea_orm::{ConnectionTrait, DbBackend, Statement};
        let backend = self.conn.get_database_backend();
        let (month, p) = if backend == DbBackend::Postgres {
            ("to_char(e.requested_at AT TIME ZONE 'UTC', 'YYYY-MM')", "$1")
        } else {
            ("substr(e.requested_at, 1, 7)", "?1")
        };
        let sql = format!(
            "SELECT e.tenant_id AS tenant_id, {month} AS month, COALESCE(s.staff_group, '') AS staff_group,
                    CASE WHEN g.enrolment_id IS NOT NULL THEN 1 ELSE 0 END AS accessed,
                    CASE WHEN e.status = 'completed' THEN 1 ELSE 0 END AS completed,
                    CAST(COALESCE(g.seconds, 0) AS BIGINT) AS seconds, g.best AS best_score
               FROM enrolments e
               LEFT JOIN staff_records s ON s.tenant_id = e.tenant_id AND s.person_id = e.person_id
               LEFT JOIN (SELECT op.tenant_id AS tenant_id, op.enrolment_id AS enrolment_id,
                                 SUM(op.seconds_spent) AS seconds, MAX(op.score_scaled) AS best
                            FROM object_progress op
                            JOIN enrolments pe ON pe.tenant_id = op.tenant_id AND pe.id = op.enrolment_id
                                              AND pe.course_id = {p}
                           GROUP BY op.tenant_id, op.enrolment_id) g
                      ON g.tenant_id = e.tenant_id AND g.enrolment_id = e.id
              WHERE e.course_id = {p} AND e.status <> 'rejected'"
        );
        let rows =
            self.conn.query_all_raw(Statement::from_sql_and_values(backend, sql, [course.as_uuid().into()])).await?;
        let flag = |r: &sea_orm::QueryResult, c: &str| -> Result<bool, DbError> {
            Ok(r.try_get::<i32>("", c).or_else(|_| r.try_get::<i64>("", c).map(|v| v as i32))? != 0)
        };
        rows.iter()
            .map(|r| {
                Ok(TrustLine {
                    trust: trellis_domain::TenantId::from_uuid(r.try_get("", "tenant_id")?),
                    line: Line {
                        month: r.try_get("", "month")?,
                        staff_group: r.try_get("", "staff_group")?,
                        accessed: flag(r, "accessed")?,
                        completed: flag(r, "completed")?,
                        seconds: r.try_get("", "seconds")?,
                        best_score: r.try_get("", "best_score")?,
                    },
                })
            })
            .collect()
    }

    /// The national catalogue's own courses (not marketplace ones), by title.
    pub async fn national_courses_across_tenants(&self) -> Result<Vec<(CourseId, String)>, DbError> {
        use crate::entities::course;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
        Ok(course::Entity::find()
            .filter(course::Column::TenantId.eq(trellis_domain::TenantId::NATIONAL.as_uuid()))
            .filter(course::Column::SellerId.is_null())
            .order_by_asc(course::Column::Title)
            .all(&self.conn)
            .await?
            .into_iter()
            .map(|c| (CourseId::from_uuid(c.id), c.title))
            .collect())
    }
}
