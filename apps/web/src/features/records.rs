//! *My activity* (`/account/activity`): a person's own learning record in every trust they have
//! learnt at, as three reports on screen (paged), as CSV and as PDF. Reading one's own record
//! across trusts is the identity path's named read of that person's rows (ADR 0014), recorded in
//! this trust's audit trail; nothing else crosses.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::http::page::{self, RequestInfo};
use crate::http::{Ctx, Member, may};
use crate::usecases::records::activity::{self as act, Filter, ProgrammeShape, Report, Sort};
use poem::http::StatusCode;
use poem::{Body, Request, Response, handler};
use serde_json::json;
use trellis_db::audit;
use trellis_db::identity as id;
use trellis_domain::{CourseId, ProgrammeId};

/// Lines on one screen of a report.
const PAGE: usize = 50;

/// The report's shape as asked for in the query string (repeated `course` keys for several).
struct Asked {
    report: Report,
    filter: Filter,
    /// Programmes ticked: their courses join the filter's.
    programmes: Vec<ProgrammeId>,
    page: usize,
    /// The dates as typed (shown again), and a message for each that is not a real date.
    from_typed: String,
    to_typed: String,
    errors: Vec<(&'static str, &'static str)>,
}

fn asked(req: &Request) -> Asked {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()).into_owned().collect();
    let one = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str()).unwrap_or("");
    let courses: Vec<CourseId> =
        pairs.iter().filter(|(k, _)| k == "course").filter_map(|(_, v)| v.parse().ok()).collect();
    let programmes: Vec<ProgrammeId> =
        pairs.iter().filter(|(k, _)| k == "programme").filter_map(|(_, v)| v.parse().ok()).collect();
    let report = match one("report") {
        "detail" => Report::Detail,
        "course" => match (programmes.first(), courses.first()) {
            (Some(p), _) => Report::Programme(*p),
            (None, Some(c)) => Report::Course(*c),
            (None, None) => Report::Summary,
        },
        _ => Report::Summary,
    };
    let mut errors = Vec::new();
    let mut date = |name: &'static str, label: &'static str| {
        let parts = [one(&format!("{name}-day")), one(&format!("{name}-month")), one(&format!("{name}-year"))];
        let typed = page::date_as_typed(one(name), parts);
        match page::date_entered(one(name), parts) {
            None => (None, typed),
            Some(Ok(d)) => (Some(d), typed),
            Some(Err(())) => {
                errors.push((name, label));
                (None, typed)
            }
        }
    };
    let (from, from_typed) = date("from", "Enter the first day as a real date, like 1 9 2026");
    let (to, to_typed) = date("to", "Enter the last day as a real date, like 30 11 2026");
    if let (Some(f), Some(t)) = (from, to)
        && t < f
    {
        errors.push(("to", "The last day must be on or after the first day"));
    }
    if pairs.iter().any(|(k, v)| k == "course" && v.parse::<CourseId>().is_err()) {
        errors.push(("course", "Choose courses from the list of your courses"));
    }
    if pairs.iter().any(|(k, v)| k == "programme" && v.parse::<ProgrammeId>().is_err()) {
        errors.push(("programme", "Choose programmes from the list"));
    }
    let page = one("page").parse::<usize>().unwrap_or(1).max(1);
    Asked {
        report,
        filter: Filter { courses, from, to, sort: Sort::parse(one("sort")) },
        programmes,
        page,
        from_typed,
        to_typed,
        errors,
    }
}

/// The query string for the same report and filters (for paging and the CSV and PDF links).
fn query_of(a: &Asked, report: &str) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    s.append_pair("report", report);
    for c in &a.filter.courses {
        s.append_pair("course", &c.to_string());
    }
    for p in &a.programmes {
        s.append_pair("programme", &p.to_string());
    }
    if let Some(d) = a.filter.from {
        s.append_pair("from", &d.to_string());
    }
    if let Some(d) = a.filter.to {
        s.append_pair("to", &d.to_string());
    }
    s.append_pair("sort", a.filter.sort.as_str());
    s.finish()
}

/// Reads the person's record through the identity path and notes the read in the audit trail;
/// with `summary`, one row per enrolment with its sessions summed (all the summarised record
/// needs, and a few hundred rows where the detail has tens of thousands).
pub(crate) async fn read_as(
    state: &AppState,
    site: &Site,
    person: trellis_domain::PersonId,
    what: &str,
    summary: bool,
) -> Result<Vec<id::ActivityRow>, AppError> {
    read_by(state, site, person, Some(person), what, summary).await
}

/// [`read_as`], for a reader who is not the person (`by`: `None` for someone holding a
/// verification link), noted as such in the audit trail.
pub(crate) async fn read_by(
    state: &AppState,
    site: &Site,
    person: trellis_domain::PersonId,
    by: Option<trellis_domain::PersonId>,
    what: &str,
    summary: bool,
) -> Result<Vec<id::ActivityRow>, AppError> {
    let itx = state.dbs.identity.begin(site.entry.id).await?;
    let rows =
        if summary { id::activity_summary_of(&itx, person).await? } else { id::activity_of(&itx, person).await? };
    audit::record(&itx, by, "record.activity_read", &person.to_string(), None, json!({ "as": what })).await?;
    itx.commit().await?;
    Ok(rows)
}

/// Lines of a report as table cells: `(header, rows)`. `iso`: dates as ISO 8601 (CSV), else words.
pub(crate) fn table(
    report: Report,
    rows: &[id::ActivityRow],
    f: &Filter,
    zone: chrono_tz::Tz,
    iso: bool,
) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let date = |t: chrono::DateTime<chrono::Utc>| {
        let t = t.with_timezone(&zone);
        if iso { t.format("%Y-%m-%dT%H:%M:%S%:z").to_string() } else { t.format("%-d %b %Y").to_string() }
    };
    let time = |s: i64| if iso { s.to_string() } else { act::time_words(s) };
    match report {
        Report::Summary => (
            vec![
                "Trust",
                "Course",
                "Code",
                "Status",
                "Enrolled",
                "Completed",
                "Result",
                if iso { "Seconds" } else { "Time spent" },
                "CPD points",
                "Accredited by",
            ],
            act::courses(rows, f, zone)
                .into_iter()
                .map(|l| {
                    vec![
                        l.trust,
                        l.title,
                        l.code,
                        l.status.to_owned(),
                        date(l.enrolled),
                        l.completed.map(date).unwrap_or_default(),
                        l.result,
                        time(l.seconds),
                        l.cpd_points.map(|p| p.to_string()).unwrap_or_default(),
                        l.accreditation,
                    ]
                })
                .collect(),
        ),
        Report::Detail | Report::Course(_) | Report::Programme(_) => (
            vec![
                "Trust",
                "Course",
                "Session",
                "First opened",
                "Last opened",
                "Visits",
                if iso { "Seconds" } else { "Time spent" },
                "Status",
                "Score",
            ],
            act::sessions(rows, f, zone)
                .into_iter()
                .map(|l| {
                    let score = match (l.score, l.success) {
                        (Some(s), "") => format!("{s}%"),
                        (Some(s), w) => format!("{w} ({s}%)"),
                        (None, w) => w.to_owned(),
                    };
                    vec![
                        l.trust,
                        l.course_title,
                        l.session,
                        date(l.first),
                        date(l.last),
                        l.visits.to_string(),
                        time(l.seconds),
                        l.status.to_owned(),
                        score,
                    ]
                })
                .collect(),
        ),
    }
}

fn report_name(r: Report) -> (&'static str, &'static str) {
    match r {
        Report::Summary => ("summary", "Activity record (summarised)"),
        Report::Detail => ("detail", "Activity detail"),
        Report::Course(_) => ("course", "Course summary"),
        Report::Programme(_) => ("course", "Programme summary"),
    }
}

/// The programmes this trust's catalogue lists, as the record reads them.
pub(crate) async fn programme_shapes(
    state: &AppState,
    tx: &trellis_db::TenantTx,
    catalogue: trellis_db::catalogue::Generations,
) -> Result<Vec<ProgrammeShape>, AppError> {
    let listing = state.catalogue.listing(tx, catalogue).await?;
    Ok(listing
        .programmes
        .iter()
        .map(|p| ProgrammeShape {
            id: p.id,
            title: p.title.clone(),
            certificate: p.certificate,
            items: p
                .courses
                .iter()
                .map(|(c, t)| (*c, t.clone(), p.paths.get(c).cloned().unwrap_or_default()))
                .collect(),
        })
        .collect())
}

/// A report's filter: the course of a course summary, the courses of a programme summary, or the
/// courses ticked with those of the programmes ticked.
fn effective(a: &Asked, shapes: &[ProgrammeShape]) -> Filter {
    let of = |p: ProgrammeId| shapes.iter().find(|s| s.id == p).map(ProgrammeShape::courses).unwrap_or_default();
    match a.report {
        Report::Course(c) => Filter { courses: vec![c], ..a.filter.clone() },
        Report::Programme(p) => Filter { courses: of(p), ..a.filter.clone() },
        _ => {
            let mut courses = a.filter.courses.clone();
            for p in &a.programmes {
                courses.extend(of(*p));
            }
            Filter { courses, ..a.filter.clone() }
        }
    }
}

/// The filter's choices that are not on offer: courses not on the record, programmes not listed.
fn unknown_choices(a: &mut Asked, rows: &[id::ActivityRow], shapes: &[ProgrammeShape]) {
    if a.filter.courses.iter().any(|c| !rows.iter().any(|r| r.course == *c)) {
        a.errors.push(("course", "Choose courses from the list of your courses"));
    }
    if a.programmes.iter().any(|p| !shapes.iter().any(|s| s.id == *p)) {
        a.errors.push(("programme", "Choose programmes from the list"));
    }
}

/// *My activity* on screen.
#[handler]
pub async fn activity(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &poem::web::CsrfToken,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let shapes = programme_shapes(state, &tx, me.catalogue).await?;
    let a = asked(req);
    // A programme summary lists the verification links made for its certificate.
    let links = match a.report {
        Report::Programme(p) => trellis_db::certificates::programme_links_of(&tx, me.person, p.as_uuid()).await?,
        _ => Vec::new(),
    };
    tx.commit().await?;
    let (key, title) = report_name(a.report);
    let rows = read_as(state, site, me.person, "screen", a.report == Report::Summary).await?;
    let mut a = a;
    unknown_choices(&mut a, &rows, &shapes);
    let zone = site.zone();
    let f = effective(&a, &shapes);
    let (header, lines) = if a.errors.is_empty() { table(a.report, &rows, &f, zone, false) } else { (vec![], vec![]) };
    let total = lines.len();
    let cpd = act::cpd_total(&act::courses(&rows, &f, zone));
    let pages = total.div_ceil(PAGE).max(1);
    let page_no = a.page.min(pages);
    let shown: Vec<_> = lines.into_iter().skip((page_no - 1) * PAGE).take(PAGE).collect();
    // Every course on the record, for the filter (and a course summary's heading).
    let courses = act::courses_on_record(&rows);
    let course_line = match a.report {
        Report::Course(c) => {
            act::courses(&rows, &Filter { courses: vec![c], ..Filter::default() }, zone).into_iter().next().map(|l| {
                json!({
                    "title": l.title, "trust": l.trust, "status": l.status,
                    "enrolled": l.enrolled.with_timezone(&zone).format("%-d %B %Y").to_string(),
                    "completed": l.completed.map(|d| d.with_timezone(&zone).format("%-d %B %Y").to_string()),
                    "result": l.result, "time": act::time_words(l.seconds),
                })
            })
        }
        _ => None,
    };
    let day = |d: chrono::DateTime<chrono::Utc>| d.with_timezone(&zone).format("%-d %B %Y").to_string();
    let programme = match a.report {
        Report::Programme(p) if a.errors.is_empty() => shapes.iter().find(|s| s.id == p).map(|shape| {
            let items = act::programme_items(&rows, shape, zone);
            let left = act::programme_left(&items);
            let done = items.iter().filter(|i| i.completed.is_some()).count();
            json!({
                "id": p.to_string(), "title": shape.title, "done": done, "of": items.len(),
                "certificate": shape.certificate, "available": left.is_empty(), "left": left,
                "cert": {
                    "base": format!("/account/activity/programmes/{p}/certificate"), "kind": "programme",
                    "links": crate::usecases::records::certificate::links_json(&links, zone),
                    "max_days": crate::usecases::records::certificate::MAX_LINK_DAYS,
                },
                "items": items.iter().map(|i| json!({
                    "title": i.title, "trust": i.trust, "status": i.status,
                    "completed": i.completed.map(day), "result": i.result, "time": act::time_words(i.seconds),
                })).collect::<Vec<_>>(),
            })
        }),
        _ => None,
    };
    let qs = query_of(&a, key);
    let link = |n: usize| format!("/account/activity?{qs}&page={n}");
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "My activity", &[("Home", "/")]);
    ctx.insert("csrf_token", &token.0);
    ctx.insert("report", &json!({ "key": key, "title": title }));
    ctx.insert("header", &header);
    ctx.insert("lines", &shown);
    ctx.insert("total", &total);
    ctx.insert("cpd", &cpd);
    ctx.insert("page_no", &page_no);
    ctx.insert("pages", &pages);
    ctx.insert("prev_url", &(page_no > 1).then(|| link(page_no - 1)));
    ctx.insert("next_url", &(page_no < pages).then(|| link(page_no + 1)));
    ctx.insert("csv_url", &format!("/account/activity.csv?{qs}"));
    ctx.insert("pdf_url", &format!("/account/activity.pdf?{qs}"));
    ctx.insert(
        "courses",
        &courses
            .iter()
            .map(|(c, t, trust)| json!({ "id": c.to_string(), "title": t, "trust": trust, "chosen": a.filter.courses.contains(c) }))
            .collect::<Vec<_>>(),
    );
    ctx.insert("course_line", &course_line);
    ctx.insert("programme", &programme);
    ctx.insert(
        "programmes",
        &shapes
            .iter()
            .map(|p| json!({ "id": p.id.to_string(), "title": p.title, "chosen": a.programmes.contains(&p.id) }))
            .collect::<Vec<_>>(),
    );
    ctx.insert("values", &json!({ "from": a.from_typed, "to": a.to_typed, "sort": a.filter.sort.as_str() }));
    ctx.insert(
        "error",
        &a.errors.iter().map(|(k, m)| (k.to_string(), m.to_string())).collect::<std::collections::BTreeMap<_, _>>(),
    );
    ctx.insert("errors", &a.errors.iter().map(|(k, m)| json!({ "field": k, "message": m })).collect::<Vec<_>>());
    let status = if a.errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    page::render(state, Some(site), "pages/activity.html", &ctx, status)
}

/// A download's request: what was asked (refused by name if wrong) and the person's rows.
async fn download(
    req: &Request,
    state: &AppState,
    site: &Site,
    member: Member<may::Anyone>,
    what: &str,
) -> Result<(crate::http::auth::SignedIn, Asked, Filter, Vec<id::ActivityRow>, Option<String>), AppError> {
    let Member { me, tx, .. } = member;
    let shapes = programme_shapes(state, &tx, me.catalogue).await?;
    tx.commit().await?;
    let mut a = asked(req);
    if let Some((_, m)) = a.errors.first() {
        return Err(AppError::BadRequest((*m).to_owned()));
    }
    let rows = read_as(state, site, me.person, what, a.report == Report::Summary).await?;
    unknown_choices(&mut a, &rows, &shapes);
    if let Some((_, m)) = a.errors.first() {
        return Err(AppError::BadRequest((*m).to_owned()));
    }
    let f = effective(&a, &shapes);
    // What a summary is of, for its heading.
    let of = match a.report {
        Report::Programme(p) => shapes.iter().find(|s| s.id == p).map(|s| format!("Programme: {}", s.title)),
        Report::Course(c) => rows.iter().find(|r| r.course == c).map(|r| format!("Course: {}", r.course_title)),
        _ => None,
    };
    Ok((me, a, f, rows, of))
}

/// *My activity* as CSV: ISO 8601 dates, time in seconds, no cell a spreadsheet could run.
#[handler]
pub async fn activity_csv(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
) -> Result<Response, AppError> {
    let (_, a, f, rows, _) = download(req, state, site, member, "csv").await?;
    let (key, _) = report_name(a.report);
    let (header, lines) = table(a.report, &rows, &f, site.zone(), true);
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header).map_err(|e| AppError::Internal(e.into()))?;
    for l in &lines {
        w.write_record(l.iter().map(|c| crate::http::export::cell(c))).map_err(|e| AppError::Internal(e.into()))?;
    }
    let bytes = w.into_inner().map_err(|e| AppError::Internal(anyhow::anyhow!("csv: {e}")))?;
    let today = site.today();
    Ok(Response::builder()
        .content_type("text/csv; charset=utf-8")
        .header("content-disposition", format!("attachment; filename=\"my-activity-{key}-{today}.csv\""))
        .header("cache-control", "no-store")
        .body(Body::from(bytes)))
}

/// *My activity* as PDF: tagged, with the trust's name, who it is for, when it was made and the
/// filters; page numbers on every page.
#[handler]
pub async fn activity_pdf(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
) -> Result<Response, AppError> {
    let (me, a, f, rows, of) = download(req, state, site, member, "pdf").await?;
    let (key, title) = report_name(a.report);
    let zone = site.zone();
    let (header, lines) = table(a.report, &rows, &f, zone, false);
    let mut intro = vec![
        site.entry.name.clone(),
        format!("For {}", me.name),
        format!("Made {}", chrono::Utc::now().with_timezone(&zone).format("%-d %B %Y at %H:%M")),
    ];
    intro.extend(of);
    let days = match (a.filter.from, a.filter.to) {
        (Some(f), Some(t)) => Some(format!("Activity from {} to {}", f.format("%-d %B %Y"), t.format("%-d %B %Y"))),
        (Some(f), None) => Some(format!("Activity from {}", f.format("%-d %B %Y"))),
        (None, Some(t)) => Some(format!("Activity up to {}", t.format("%-d %B %Y"))),
        (None, None) => None,
    };
    intro.extend(days);
    intro.push(format!("{} {}", lines.len(), if lines.len() == 1 { "line" } else { "lines" }));
    let cpd = act::cpd_total(&act::courses(&rows, &f, zone));
    if cpd > 0 {
        intro.push(format!("CPD points from completed courses: {cpd}"));
    }
    let mut table_rows = vec![header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>()];
    table_rows.extend(lines);
    crate::http::pdf::response(title.to_owned(), intro, table_rows, &format!("my-activity-{key}-{}.pdf", site.today()))
        .await
}
