//! A course's anonymised statistics for training managers (`/admin/statistics`): their trust's
//! figures by month of enrolment or by staff group, under disclosure control. Never a name.

use crate::error::AppError;
use crate::http::page::{self, RequestInfo};
use crate::http::{Ctx, Member, may};
use crate::usecases::statistics::course::{By, table};
use poem::http::StatusCode;
use poem::web::Query;
use poem::{Response, handler};
use serde::Deserialize;
use serde_json::json;
use trellis_db::catalogue as cat;
use trellis_domain::CourseId;

#[derive(Debug, Deserialize, Default)]
pub struct StatisticsQuery {
    #[serde(default)]
    course: String,
    #[serde(default)]
    by: String,
}

/// The page: choose a course and a grouping; the table follows.
#[handler]
pub async fn course_statistics(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageTraining>,
    Query(q): Query<StatisticsQuery>,
) -> Result<Response, AppError> {
    let Member { tx, .. } = member;
    // The trust's own courses and the national ones it offers.
    let mut courses: Vec<(CourseId, String)> =
        cat::own_courses(&tx).await?.into_iter().map(|c| (c.id, c.title)).collect();
    courses.extend(cat::national_courses(&tx).await?.into_iter().filter(|(_, on)| *on).map(|(c, _)| (c.id, c.title)));
    courses.sort_by(|a, b| a.1.cmp(&b.1));
    let by = if q.by == "group" { By::StaffGroup } else { By::Month };
    let mut error = None;
    let chosen = match q.course.trim() {
        "" => None,
        raw => match raw.parse::<CourseId>().ok().filter(|c| courses.iter().any(|(id, _)| id == c)) {
            Some(c) => Some(c),
            None => {
                error = Some("Choose one of your trust's courses");
                None
            }
        },
    };
    let figures = match chosen {
        Some(c) => {
            let (mut rows, all) = table(&trellis_db::statistics::course_lines(&tx, c).await?, by);
            if by == By::Month {
                for r in &mut rows {
                    r.label = crate::http::chart::month_words(&r.label).0;
                }
            }
            Some((rows, all))
        }
        None => None,
    };
    tx.commit().await?;
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "Course statistics",
        &[("Home", "/"), ("Admin", "/admin")],
    );
    ctx.insert(
        "courses",
        &courses
            .iter()
            .map(|(id, t)| json!({ "id": id.to_string(), "title": t, "chosen": Some(*id) == chosen }))
            .collect::<Vec<_>>(),
    );
    ctx.insert("by", if by == By::StaffGroup { "group" } else { "month" });
    ctx.insert("title", &chosen.and_then(|c| courses.iter().find(|(id, _)| *id == c)).map(|(_, t)| t.clone()));
    ctx.insert("rows", &figures.as_ref().map(|f| &f.0));
    ctx.insert("all", &figures.as_ref().map(|f| &f.1));
    ctx.insert("errors", &error.map(|m| vec![json!({ "field": "course", "message": m })]).unwrap_or_default());
    ctx.insert("error", &json!({ "course": error }));
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    page::render(state, Some(site), "pages/admin_statistics.html", &ctx, status)
}
