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
    let mut error: Option<&str> = None;
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
            let lines = trellis_db::statistics::course_lines(&tx, c).await?;
            let (mut rows, mut all) = table(&lines, by);
            let other = table(&lines, if by == By::Month { By::StaffGroup } else { By::Month }).1;
            crate::usecases::statistics::course::totals_for_every_grouping(&mut all, &[other]);
            if by == By::Month {
                for r in &mut rows {
                    r.label = crate::http::chart::month_words(&r.label).0;
                }
            }
            Some((rows, all))
        }
        None => None,
    };
    let views = trellis_db::usage::since(&tx, site.today() - chrono::Duration::days(29)).await?;
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
    ctx.insert("by", by.key());
    ctx.insert("by_words", by_words(by));
    ctx.insert("heading", "Course statistics");
    ctx.insert(
        "intro",
        "How many of your staff enrolled on a course, opened it and completed it, the time they spent and how their scores fell: figures about groups, never about anyone.",
    );
    ctx.insert("action", "/admin/statistics");
    ctx.insert(
        "views",
        &json!({
            "site": views.site,
            "courses": views.courses.iter().filter_map(|(c, n)| courses.iter().find(|(id, _)| id == c).map(|(_, t)| json!({ "title": t, "views": n }))).take(20).collect::<Vec<_>>(),
        }),
    );
    ctx.insert("groupings", &[("month", "Month of enrolment"), ("group", "Staff group")]);
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

fn by_words(by: By) -> &'static str {
    match by {
        By::Month => "Month",
        By::StaffGroup => "Staff group",
        By::Trust => "Trust",
        By::Region => "Region",
    }
}

const ACROSS: [(&str, &str); 4] =
    [("month", "Month of enrolment"), ("group", "Staff group"), ("trust", "Trust"), ("region", "NHS England region")];

/// A course's figures across every trust, grouped by month, staff group, trust or region (the
/// only groupings: free filters would let small groups be found by differencing).
async fn across_trusts(
    state: &crate::context::AppState,
    course: CourseId,
    by: By,
) -> Result<(Vec<crate::usecases::statistics::course::Row>, crate::usecases::statistics::course::Row), AppError> {
    use crate::usecases::statistics::course::nested_table;
    let lines = state.dbs.platform.course_lines_across_tenants(course).await?;
    let sites = state.directory.sites();
    let of = |t: trellis_domain::TenantId| sites.iter().find(|s| s.entry.id == t);
    let keyed = |by: By| -> Vec<(String, String, &trellis_db::statistics::Line)> {
        lines
            .iter()
            .map(|l| {
                let key = match by {
                    By::Month => l.line.month.clone(),
                    By::StaffGroup => l.line.staff_group.clone(),
                    By::Trust => of(l.trust).map(|s| s.entry.name.clone()).unwrap_or_else(|| "A former trust".into()),
                    By::Region => of(l.trust).map(|s| s.entry.region.clone()).unwrap_or_default(),
                };
                (key, l.trust.to_string(), &l.line)
            })
            .collect()
    };
    // Regions are made of trusts, which the trust grouping publishes: nested, so that the two
    // together give no small count away.
    let (mut rows, mut all) = nested_table(&keyed(by), by, by == By::Region);
    let others: Vec<_> = [By::Month, By::StaffGroup, By::Trust, By::Region]
        .into_iter()
        .filter(|b| *b != by)
        .map(|b| nested_table(&keyed(b), b, b == By::Region).1)
        .collect();
    crate::usecases::statistics::course::totals_for_every_grouping(&mut all, &others);
    if by == By::Month {
        for r in &mut rows {
            r.label = crate::http::chart::month_words(&r.label).0;
        }
    }
    Ok((rows, all))
}

#[derive(Debug, Deserialize, Default)]
pub struct AcrossQuery {
    #[serde(default)]
    course: String,
    #[serde(default)]
    by: String,
}

#[allow(clippy::too_many_arguments)]
fn across_page(
    state: &crate::context::AppState,
    site: Option<&crate::context::directory::Site>,
    req: &poem::Request,
    heading: &str,
    intro: &str,
    action: &str,
    courses: &[(CourseId, String)],
    chosen: Option<CourseId>,
    by: By,
    figures: Option<(Vec<crate::usecases::statistics::course::Row>, crate::usecases::statistics::course::Row)>,
    error: Option<&str>,
    crumbs: &[(&str, &str)],
) -> Result<Response, AppError> {
    let mut ctx = page::context(state, site, &RequestInfo::of(req), heading, crumbs);
    ctx.insert(
        "courses",
        &courses
            .iter()
            .map(|(id, t)| json!({ "id": id.to_string(), "title": t, "chosen": Some(*id) == chosen }))
            .collect::<Vec<_>>(),
    );
    ctx.insert("by", by.key());
    ctx.insert("by_words", by_words(by));
    ctx.insert("heading", heading);
    ctx.insert("intro", intro);
    ctx.insert("action", action);
    ctx.insert("groupings", &ACROSS);
    ctx.insert("title", &chosen.and_then(|c| courses.iter().find(|(id, _)| *id == c)).map(|(_, t)| t.clone()));
    ctx.insert("rows", &figures.as_ref().map(|f| &f.0));
    ctx.insert("all", &figures.as_ref().map(|f| &f.1));
    ctx.insert("errors", &error.map(|m| vec![json!({ "field": "course", "message": m })]).unwrap_or_default());
    ctx.insert("error", &json!({ "course": error }));
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    page::render(state, site, "pages/admin_statistics.html", &ctx, status)
}

fn chosen_of(raw: &str, courses: &[(CourseId, String)]) -> (Option<CourseId>, bool) {
    match raw.trim() {
        "" => (None, false),
        raw => match raw.parse::<CourseId>().ok().filter(|c| courses.iter().any(|(id, _)| id == c)) {
            Some(c) => (Some(c), false),
            None => (None, true),
        },
    }
}

/// National figures for platform administrators: a national course across every trust.
#[handler]
pub async fn national(
    req: &poem::Request,
    poem::web::Data(state): poem::web::Data<&crate::context::AppState>,
    crate::http::PlatformAdmin(_admin): crate::http::PlatformAdmin,
    Query(q): Query<AcrossQuery>,
) -> Result<Response, AppError> {
    let courses = state.dbs.platform.national_courses_across_tenants().await?;
    let by = By::parse(&q.by);
    let (chosen, wrong) = chosen_of(&q.course, &courses);
    let figures = match chosen {
        Some(c) => Some(across_trusts(state, c, by).await?),
        None => None,
    };
    across_page(
        state,
        None,
        req,
        "National course statistics",
        "A national course's figures across every trust: how many enrolled, opened it and completed it, the time spent and how scores fell, by month, staff group, trust or NHS England region; never about anyone, and under the same control at every level, national included.",
        "/admin/statistics",
        &courses,
        chosen,
        by,
        figures,
        wrong.then_some("Choose one of the national courses"),
        &[("Home", "/"), ("Platform administration", "/admin")],
    )
}

/// A seller's figures: each of its listed courses across the trusts that bought it, never names.
#[handler]
pub async fn seller(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Sell>,
    Query(q): Query<AcrossQuery>,
) -> Result<Response, AppError> {
    member.tx.commit().await?;
    let Some(me) = state.dbs.platform.seller_of_site(site.entry.id).await? else {
        return Err(AppError::forbidden(
            "Register as a seller first",
            "Figures for your courses show once you sell them.",
            Some(("Selling", "/selling")),
        ));
    };
    let mut courses: Vec<(CourseId, String)> = state
        .dbs
        .platform
        .listings_of_seller(me.id)
        .await?
        .into_iter()
        .filter_map(|l| l.course.map(|c| (c, l.title)))
        .collect();
    courses.sort_by(|a, b| a.1.cmp(&b.1));
    courses.dedup_by(|a, b| a.0 == b.0);
    let by = By::parse(&q.by);
    let (chosen, wrong) = chosen_of(&q.course, &courses);
    let figures = match chosen {
        Some(c) => Some(across_trusts(state, c, by).await?),
        None => None,
    };
    across_page(
        state,
        Some(site),
        req,
        "Statistics of your courses",
        "How your listed courses are used across the trusts that bought them: how many enrolled, opened and completed each, the time spent and how scores fell, by month, staff group, trust or NHS England region; figures about groups, never names.",
        "/selling/statistics",
        &courses,
        chosen,
        by,
        figures,
        wrong.then_some("Choose one of your listed courses"),
        &[("Home", "/"), ("Selling", "/selling")],
    )
}
