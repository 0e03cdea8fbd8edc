//! Tutor access: a learner lets a named person (a tutor, an appraiser) read their record — all of
//! it or chosen courses — until a date at most twelve months ahead, and revokes it at once. The
//! tutor opens it with the link emailed to them (`/tutor/<token>`, no sign-in): a read-only view
//! and course summary PDFs. Every view is counted and audited; the learner sees who has looked.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::features::account::render_email;
use crate::features::records::table;
use crate::http::form::FormErrors;
use crate::http::page::{self, RequestInfo, see_other_saying};
use crate::http::{Ctx, CurrentSite, Member, may};
use crate::usecases::records::activity::{Filter, Report, courses_on_record};
use chrono::Utc;
use poem::http::StatusCode;
use poem::web::{Data, Form, Path};
use poem::{Request, Response, handler};
use serde_json::json;
use trellis_db::grants::{self, Grant, NewGrant};
use trellis_db::{audit, identity as id, outbox};
use trellis_domain::CourseId;
use trellis_domain::identity::Email;

/// The longest a grant may last.
pub const MAX_DAYS: i64 = 365;

#[allow(clippy::too_many_arguments)]
async fn page_of(
    state: &AppState,
    site: &Site,
    req: &Request,
    rows: &[id::ActivityRow],
    given: Vec<Grant>,
    errors: &FormErrors,
    values: serde_json::Value,
    status: StatusCode,
) -> Result<Response, AppError> {
    let zone = site.zone();
    let now = Utc::now();
    let day = |t: chrono::DateTime<Utc>| t.with_timezone(&zone).format("%-d %B %Y").to_string();
    let titles = courses_on_record(rows);
    let chosen: Vec<String> = values["courses"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "Who can see my record",
        &[("Home", "/"), ("My activity", "/account/activity")],
    );
    ctx.insert(
        "grants",
        &given
            .iter()
            .map(|g| {
                json!({
                    "id": g.id.to_string(), "name": g.tutor_name, "email": g.tutor_email,
                    "what": if g.courses.is_empty() { "Your whole record".to_owned() } else {
                        g.courses.iter().filter_map(|c| titles.iter().find(|t| t.0 == *c).map(|t| t.1.clone())).collect::<Vec<_>>().join(", ")
                    },
                    "made": day(g.created_at), "until": day(g.expires_at), "views": g.views,
                    "last": g.last_viewed_at.map(day),
                    "state": if g.revoked_at.is_some() { "Revoked" } else if g.expires_at <= now { "Ended" } else { "Open" },
                    "live": g.live(now),
                })
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert(
        "courses",
        &titles
            .iter()
            .map(|(c, t, trust)| json!({ "id": c.to_string(), "title": t, "trust": trust, "chosen": chosen.contains(&c.to_string()) }))
            .collect::<Vec<_>>(),
    );
    ctx.insert("values", &values);
    ctx.insert("max_days", &MAX_DAYS);
    errors.insert_into(&mut ctx);
    page::render(state, Some(site), "pages/tutors.html", &ctx, status)
}

/// The learner's grants and the form to give one.
#[handler]
pub async fn shared(Ctx { req, state, site }: Ctx<'_>, member: Member<may::Anyone>) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let given = grants::of_person(&tx, me.person).await?;
    tx.commit().await?;
    let values = json!({ "email": "", "name": "", "scope": "all", "courses": [], "until": "" });
    let rows = crate::features::records::read_as(state, site, me.person, "tutors", true).await?;
    page_of(state, site, req, &rows, given, &FormErrors::new(), values, StatusCode::OK).await
}

/// Gives a tutor access and emails them the link.
#[handler]
pub async fn give(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let one = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_owned()).unwrap_or_default();
    let course_ids: Vec<String> = pairs.iter().filter(|(k, _)| k == "courses").map(|(_, v)| v.clone()).collect();
    let mut errors = FormErrors::new();
    // In the form's order: name, then email.
    let name = one("name");
    if name.is_empty() || name.chars().count() > 200 {
        errors.insert("name", "Enter the name of the person, up to 200 characters");
    }
    let email = match Email::parse(&one("email")) {
        Ok(e) => Some(e),
        Err(m) => {
            errors.insert("email", m);
            None
        }
    };
    let until =
        page::last_day(&one, site.today(), MAX_DAYS, "Enter the last day they can see your record", &mut errors);
    let scope = one("scope");
    // Read to check the choices (and to show the form again): inside this request's writing
    // transaction, so the identity path's read-only one (no audit entry of its own here).
    let rows = {
        let itx = state.dbs.identity.begin_read(site.entry.id).await?;
        let rows = id::activity_of(&itx, me.person).await?;
        itx.commit().await?;
        rows
    };
    let known = courses_on_record(&rows);
    let mut courses = Vec::new();
    if scope == "chosen" {
        for c in &course_ids {
            match c.parse::<CourseId>().ok().filter(|c| known.iter().any(|k| k.0 == *c)) {
                Some(c) => courses.push(c),
                None => errors.insert("courses", "Choose courses from your record"),
            }
        }
        if course_ids.is_empty() {
            errors.insert("courses", "Choose at least one course, or share your whole record");
        }
    }
    let values = json!({
        "email": one("email"), "name": name, "scope": if scope == "chosen" { "chosen" } else { "all" },
        "courses": course_ids, "until": page::date_as_typed(&one("until"), [&one("until-day"), &one("until-month"), &one("until-year")]),
    });
    let (Some(email), Some(until)) = (email.filter(|_| errors.is_empty()), until) else {
        let given = grants::of_person(&tx, me.person).await?;
        tx.commit().await?;
        return page_of(state, site, req, &rows, given, &errors, values, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let token = page::link_token();
    // The end of the chosen day, in the trust's time zone.
    let expires = site.end_of_day(until);
    let grant = grants::create(
        &tx,
        &NewGrant {
            person: me.person,
            tutor_email: email.as_str(),
            tutor_name: &name,
            courses: &courses,
            token: &token,
            expires_at: expires,
        },
    )
    .await?;
    let until_words = until.format("%-d %B %Y").to_string();
    let mail = render_email(
        state,
        site,
        "tutor_access",
        email.as_str(),
        &format!("{} has shared their learning record with you", me.name),
        json!({ "learner": me.name, "tutor": name, "link": format!("{}tutor/{token}", site.url), "until": until_words }),
    )?;
    outbox::enqueue_email(&tx, &mail).await?;
    audit::record(
        &tx,
        Some(me.person),
        "record.tutor_granted",
        &grant.to_string(),
        None,
        json!({ "courses": courses.len(), "until": until.to_string() }),
    )
    .await?;
    tx.commit().await?;
    crate::context::queue::wake(state).await;
    Ok(see_other_saying(
        req,
        "/account/tutors",
        format!("{name} can see your record until {until_words}. We emailed them the link."),
    ))
}

/// Revokes a grant at once.
#[handler]
pub async fn revoke(
    Ctx { req, state: _, site: _ }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path(grant): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let grant: uuid::Uuid = page::path_id(&grant)?;
    if !grants::revoke(&tx, me.person, grant).await? {
        return Err(AppError::NotFound);
    }
    audit::record(&tx, Some(me.person), "record.tutor_revoked", &grant.to_string(), None, json!({})).await?;
    tx.commit().await?;
    Ok(see_other_saying(req, "/account/tutors", "Access revoked: the link no longer works"))
}

/// The grant behind a tutor's link, and the learner's record it opens (counted as a view).
async fn opened(
    state: &AppState,
    site: &Site,
    req: &Request,
    token: &str,
    what: &str,
) -> Result<Result<(Grant, Vec<id::ActivityRow>, String), Response>, AppError> {
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let Some(g) = grants::by_token(&tx, token).await? else {
        tx.commit().await?;
        return Err(AppError::NotFound);
    };
    if !g.live(Utc::now()) {
        tx.commit().await?;
        return Ok(Err(crate::features::account::message_page(
            state,
            site,
            req,
            StatusCode::GONE,
            "This link no longer works",
            "The person who shared their record stopped sharing it, or the time they chose has passed.",
            None,
        )?));
    }
    let learner = id::member_person(&tx, g.person).await?;
    grants::viewed(&tx, g.id).await?;
    let ip = crate::http::middleware::forwarded::client_ip(req, &state.proxies).map(|ip| ip.to_string());
    audit::record(
        &tx,
        None,
        "record.tutor_viewed",
        &g.id.to_string(),
        ip.as_deref(),
        json!({ "person": g.person.to_string(), "as": what }),
    )
    .await?;
    tx.commit().await?;
    let itx = state.dbs.identity.begin_read(site.entry.id).await?;
    let rows = id::activity_of(&itx, g.person).await?;
    itx.commit().await?;
    let rows = rows.into_iter().filter(|r| g.courses.is_empty() || g.courses.contains(&r.course)).collect();
    let name = learner.map(|p| format!("{} {}", p.given_name, p.family_name).trim().to_owned()).unwrap_or_default();
    Ok(Ok((g, rows, name)))
}

/// What a tutor sees: the learner's record (as they shared it), read only.
#[handler]
pub async fn view(
    req: &Request,
    Data(state): Data<&AppState>,
    CurrentSite(site): CurrentSite<'_>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let (g, rows, name) = match opened(state, site, req, &token, "screen").await? {
        Ok(x) => x,
        Err(gone) => return Ok(gone),
    };
    let zone = site.zone();
    let (header, lines) = table(Report::Summary, &rows, &Filter::default(), zone, false);
    let titles = courses_on_record(&rows);
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "A shared learning record", &[]);
    ctx.insert("learner", &name);
    ctx.insert("until", &g.expires_at.with_timezone(&zone).format("%-d %B %Y").to_string());
    ctx.insert("whole", &g.courses.is_empty());
    ctx.insert("header", &header);
    ctx.insert("lines", &lines);
    ctx.insert("token", &token);
    ctx.insert(
        "courses",
        &titles
            .iter()
            .map(|(c, t, trust)| json!({ "id": c.to_string(), "title": t, "trust": trust }))
            .collect::<Vec<_>>(),
    );
    let mut resp = page::render(state, Some(site), "pages/tutor_view.html", &ctx, StatusCode::OK)?;
    resp.headers_mut().insert("referrer-policy", poem::http::HeaderValue::from_static("no-referrer"));
    resp.headers_mut().insert("cache-control", poem::http::HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// A course summary PDF of a shared record.
#[handler]
pub async fn course_pdf(
    req: &Request,
    Data(state): Data<&AppState>,
    CurrentSite(site): CurrentSite<'_>,
    Path((token, course)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let course: CourseId = page::path_id(course.trim_end_matches(".pdf"))?;
    let (_, rows, name) = match opened(state, site, req, &token, "pdf").await? {
        Ok(x) => x,
        Err(gone) => return Ok(gone),
    };
    let Some(first) = rows.iter().find(|r| r.course == course) else { return Err(AppError::NotFound) };
    let title = first.course_title.clone();
    let zone = site.zone();
    let (header, lines) =
        table(Report::Course(course), &rows, &Filter { courses: vec![course], ..Filter::default() }, zone, false);
    let intro = vec![
        site.entry.name.clone(),
        format!("The learning record of {name}, shared with its reader"),
        format!("Course: {title}"),
        format!("Made {}", Utc::now().with_timezone(&zone).format("%-d %B %Y at %H:%M")),
    ];
    let mut table_rows = vec![header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>()];
    table_rows.extend(lines);
    let pdf = crate::http::pdf::response("Course summary".to_owned(), intro, table_rows, "course-summary.pdf").await?;
    // The reader is a tutor, not a member: the download log records it as the shared link's.
    Ok(crate::http::transfer::note(pdf, None, "activity", "course-summary.pdf (read through a tutor link)"))
}
