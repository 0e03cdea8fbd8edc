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

/// The platform's open data (`/statistics/open-data.csv` on the base domain, no sign-in): the
/// national catalogue's enrolments and completions by course and month across every trust,
/// under the same disclosure control, each course's months followed by its total. Its columns
/// are documented in docs/learning.md.
#[handler]
pub async fn open_data(
    poem::web::Data(state): poem::web::Data<&crate::context::AppState>,
) -> Result<Response, AppError> {
    use trellis_domain::disclosure::column;
    let months = state.dbs.platform.national_statistics_across_tenants().await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| AppError::Internal(e.into());
    w.write_record(["course_code", "course_title", "month", "enrolled", "completed"]).map_err(fail)?;
    let mut i = 0;
    while i < months.len() {
        let code = &months[i].code;
        let end = months[i..].iter().position(|m| &m.code != code).map_or(months.len(), |n| i + n);
        let course = &months[i..end];
        let (enrolled, enrolled_all) = column(&course.iter().map(|m| m.enrolled).collect::<Vec<_>>());
        let (completed, completed_all) = column(&course.iter().map(|m| m.completed).collect::<Vec<_>>());
        let cell = |s: &str| crate::http::export::cell(s);
        for (j, m) in course.iter().enumerate() {
            w.write_record([
                cell(&m.code),
                cell(&m.title),
                m.month.clone(),
                enrolled[j].to_string(),
                completed[j].to_string(),
            ])
            .map_err(fail)?;
        }
        w.write_record([
            cell(code),
            cell(&course[0].title),
            "all".to_owned(),
            enrolled_all.to_string(),
            completed_all.to_string(),
        ])
        .map_err(fail)?;
        i = end;
    }
    let bytes = w.into_inner().map_err(|e| AppError::Internal(anyhow::anyhow!("csv: {e}")))?;
    Ok(Response::builder()
        .content_type("text/csv; charset=utf-8")
        .header("content-disposition", "attachment; filename=\"trellis-open-data.csv\"")
        .header("cache-control", "public, max-age=3600")
        .body(poem::Body::from(bytes)))
}
