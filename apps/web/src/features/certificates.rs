//! Certificates: a learner downloads theirs when the course is done (page 1 the certificate, then
//! the course summary; drawn from current data each time), and makes links that let an employer
//! or regulator check it (`/certificate-check/<token>`: no sign-in; 410 once revoked or expired; every view
//! counted and audited).

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::http::middleware::forwarded;
use crate::http::page::{self, RequestInfo, see_other_saying};
use crate::http::{Ctx, CurrentSite, Member, may};
use crate::usecases::records::activity::{self as act, time_words};
use crate::usecases::records::certificate::{Standing, path_standing, standing};
use chrono::{Duration, Utc};
use poem::http::StatusCode;
use poem::web::{Form, Path};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::json;
use trellis_db::catalogue::{self as cat, Course};
use trellis_db::certificates as certs;
use trellis_db::enrolments::Enrolment;
use trellis_db::{TenantTx, audit, identity as id, learning as learn};
use trellis_domain::CourseId;

use crate::usecases::records::certificate::{MAX_LINK_DAYS, links_json};

/// What the course page shows of a learner's certificate: `None` when the course offers none or
/// they are not on it.
pub async fn course_section(
    tx: &TenantTx,
    person: trellis_domain::PersonId,
    c: &Course,
    e: Option<&Enrolment>,
    zone: chrono_tz::Tz,
) -> Result<Option<serde_json::Value>, AppError> {
    let Some(e) = e else { return Ok(None) };
    if !matches!(e.status, trellis_db::states::EnrolmentStatus::Active | trellis_db::states::EnrolmentStatus::Completed)
        || !certs::offered(tx, c).await?
    {
        return Ok(None);
    }
    let Standing { available, left } = learner_standing(tx, c, e).await?;
    let links: Vec<_> =
        certs::links_of(tx, person, e.id.as_uuid()).await?.into_iter().filter(|l| l.cycle == e.cycle).collect();
    Ok(Some(json!({
        "available": available, "left": left, "links": links_json(&links, zone), "max_days": MAX_LINK_DAYS,
        "base": format!("/courses/{}/certificate", c.id),
        "kind": if c.kind == "path" { "learning path" } else { "course" },
    })))
}

/// The sessions of the learner's version of the course.
async fn sessions_of(tx: &TenantTx, c: &Course, e: &Enrolment) -> Result<Vec<trellis_db::catalogue::Object>, AppError> {
    Ok(match e.version.or(c.current_version) {
        Some(v) => cat::objects(tx, v).await?,
        None => vec![],
    })
}

async fn learner_standing(tx: &TenantTx, c: &Course, e: &Enrolment) -> Result<Standing, AppError> {
    if c.kind == "path" {
        let inner = path_courses_of(tx, c, e).await?;
        let done: Vec<(&str, bool)> = inner
            .iter()
            .map(|(c, e)| {
                (
                    c.title.as_str(),
                    e.as_ref().is_some_and(|e| e.status == trellis_db::states::EnrolmentStatus::Completed),
                )
            })
            .collect();
        return Ok(path_standing(e, &done));
    }
    let objects = sessions_of(tx, c, e).await?;
    let progress = learn::progress(tx, e).await?;
    Ok(standing(e, &objects, &progress))
}

/// A learning path's courses, in order, each with the learner's enrolment on it here (a path is
/// a handful of courses: one read of the courses, one of each enrolment).
async fn path_courses_of(
    tx: &TenantTx,
    path: &Course,
    e: &Enrolment,
) -> Result<Vec<(Course, Option<Enrolment>)>, AppError> {
    let ids = cat::path_courses(tx, path.id).await?;
    let mut found = cat::courses_by_id(tx, &ids.iter().map(CourseId::as_uuid).collect::<Vec<_>>()).await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(c) = found.remove(&id.as_uuid()) {
            out.push((c, learn::enrolment(tx, e.person, id).await?));
        }
    }
    Ok(out)
}

/// The overleaf of a learning path's certificate: each course with its status, completion date,
/// result and time spent.
async fn path_rows(
    tx: &TenantTx,
    path: &Course,
    e: &Enrolment,
    day: &(dyn Fn(chrono::DateTime<Utc>) -> String + Sync),
) -> Result<Vec<Vec<String>>, AppError> {
    let mut rows = vec![["Course", "Status", "Completed", "Result", "Time spent"].map(str::to_owned).to_vec()];
    for (c, inner) in path_courses_of(tx, path, e).await? {
        let Some(inner) = inner else {
            rows.push(vec![c.title, "Not started".to_owned(), String::new(), String::new(), time_words(0)]);
            continue;
        };
        let progress = learn::progress(tx, &inner).await?;
        let seconds: i64 = progress.values().map(|p| i64::from(p.seconds_spent)).sum();
        let best = progress
            .values()
            .filter_map(|p| p.score_scaled)
            .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))));
        let success = if progress.values().any(|p| p.success == "passed") {
            "passed"
        } else if progress.values().any(|p| p.success == "failed") {
            "failed"
        } else {
            ""
        };
        let result = act::result_words(success, best);
        rows.push(vec![
            c.title,
            crate::usecases::records::activity::status_words(inner.status.as_str()).to_owned(),
            inner.completed_at.map(day).unwrap_or_default(),
            result,
            time_words(seconds),
        ]);
    }
    Ok(rows)
}

/// The learner's own enrolment on a course that offers a certificate, with the course.
async fn own(tx: &TenantTx, person: trellis_domain::PersonId, id: CourseId) -> Result<(Course, Enrolment), AppError> {
    let c = cat::course(tx, id).await?.ok_or(AppError::NotFound)?;
    let e = learn::enrolment(tx, person, id).await?.ok_or(AppError::NotFound)?;
    if !certs::offered(tx, &c).await? {
        return Err(AppError::NotFound);
    }
    Ok((c, e))
}

/// The certificate as PDF (the learner's own only): page 1 the certificate, then the course
/// summary. Drawn from current data on each download.
#[handler]
pub async fn pdf(
    Ctx { req: _, state: _, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let id: CourseId = page::path_id(&id)?;
    let (c, e) = own(&tx, me.person, id).await?;
    let Some(doc) = document(&tx, site, me.person, &c, &e).await? else { return Err(AppError::NotFound) };
    tx.commit().await?;
    crate::http::pdf::response_overleaf(doc.title, doc.lines, doc.rows, &doc.file).await
}

/// A certificate's content, for its PDF: the lines of page 1 and the course summary overleaf.
pub(crate) struct Document {
    pub title: String,
    pub lines: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub file: String,
}

/// The learner's certificate of `course` here, if they have one (every required session done).
pub(crate) async fn of_course(
    tx: &TenantTx,
    site: &Site,
    person: trellis_domain::PersonId,
    course: CourseId,
) -> Result<Option<Document>, AppError> {
    match own(tx, person, course).await {
        Ok((c, e)) => document(tx, site, person, &c, &e).await,
        Err(AppError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn document(
    tx: &TenantTx,
    site: &Site,
    person: trellis_domain::PersonId,
    c: &Course,
    e: &Enrolment,
) -> Result<Option<Document>, AppError> {
    let s = learner_standing(tx, c, e).await?;
    if !s.available {
        return Ok(None);
    }
    let person = id::member_person(tx, person).await?.ok_or(AppError::NotFound)?;
    let zone = site.zone();
    let day = |t: chrono::DateTime<Utc>| t.with_timezone(&zone).format("%-d %B %Y").to_string();
    let completed = e.completed_at.map(day).unwrap_or_default();
    let name = format!("{} {}", person.given_name, person.family_name).trim().to_owned();
    let mut lines = vec![
        "This is to certify that".to_owned(),
        name.clone(),
        "completed".to_owned(),
        c.title.clone(),
        format!("on {completed}"),
        format!("at {} (ODS code {})", site.entry.name, site.entry.ods_code),
    ];
    if let Some(p) = c.cpd_points {
        lines.push(format!("CPD: {p} {}", if p == 1 { "point" } else { "points" }));
    }
    if !c.accreditation.is_empty() {
        lines.push(format!("Accredited by {}", c.accreditation));
    }
    lines.push(format!("Certificate number {}", certs::number(site.entry.id, e.id.as_uuid(), e.cycle)));
    lines.push(format!("Made {}", Utc::now().with_timezone(&zone).format("%-d %B %Y at %H:%M")));
    lines.push(
        if c.kind == "path" { "Overleaf: the courses of the learning path." } else { "Overleaf: the course summary." }
            .to_owned(),
    );
    let rows = if c.kind == "path" { path_rows(tx, c, e, &day).await? } else { session_rows(tx, c, e, &day).await? };
    Ok(Some(Document {
        title: "Certificate of completion".to_owned(),
        lines,
        rows,
        file: format!(
            "certificate-{}-{}.pdf",
            c.code.to_lowercase(),
            e.completed_at.map(|d| d.date_naive().to_string()).unwrap_or_default()
        ),
    }))
}

/// The overleaf of a course's certificate: every session with its status, score, dates and time.
async fn session_rows(
    tx: &TenantTx,
    c: &Course,
    e: &Enrolment,
    day: &(dyn Fn(chrono::DateTime<Utc>) -> String + Sync),
) -> Result<Vec<Vec<String>>, AppError> {
    let objects = sessions_of(tx, c, e).await?;
    let progress = learn::progress(tx, e).await?;
    let mut rows =
        vec![["Session", "Status", "Score", "First opened", "Last opened", "Time spent"].map(str::to_owned).to_vec()];
    for o in objects.iter() {
        let p = progress.get(&o.id);
        let score = p.and_then(|p| p.score_scaled).map(|s| format!("{}%", (s * 100.0).round() as i64));
        let success = p.map(|p| p.success.as_str()).unwrap_or("");
        rows.push(vec![
            o.title.clone(),
            match p {
                Some(p) if p.completed_at.is_some() => "Completed".to_owned(),
                Some(_) => "In progress".to_owned(),
                None => "Not started".to_owned(),
            },
            match (success, score) {
                ("passed", Some(s)) => format!("Passed ({s})"),
                ("failed", Some(s)) => format!("Failed ({s})"),
                ("passed", None) => "Passed".to_owned(),
                ("failed", None) => "Failed".to_owned(),
                (_, s) => s.unwrap_or_default(),
            },
            p.map(|p| day(p.first_access_at)).unwrap_or_default(),
            p.map(|p| day(p.last_access_at)).unwrap_or_default(),
            time_words(p.map_or(0, |p| i64::from(p.seconds_spent))),
        ]);
    }
    Ok(rows)
}

#[derive(Debug, Deserialize, Default)]
pub struct LinkForm {
    #[serde(default)]
    days: String,
}

/// Makes a verification link for the learner's certificate and shows it (once).
#[handler]
pub async fn create_link(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path(id): Path<String>,
    Form(f): Form<LinkForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let id: CourseId = page::path_id(&id)?;
    let (c, e) = own(&tx, me.person, id).await?;
    if !learner_standing(&tx, &c, &e).await?.available {
        return Err(AppError::NotFound);
    }
    let days = link_days(&f)?;
    let made =
        Made { of: certs::Of::Enrolment(e.id.as_uuid(), e.cycle), days, about: json!({ "course": id.to_string() }) };
    let back = format!("/courses/{id}#certificate");
    let shown =
        Shown { title: &c.title, back: &back, kind: "course", crumb: (c.title.as_str(), &format!("/courses/{id}")) };
    make_link(state, site, req, tx, me.person, made, shown).await
}

/// A verification link to make: whose certificate, for how many days, and what the audit notes.
struct Made {
    of: certs::Of,
    days: i64,
    about: serde_json::Value,
}

/// How the page that shows a new link names the certificate and the way back.
struct Shown<'a> {
    title: &'a str,
    back: &'a str,
    kind: &'a str,
    crumb: (&'a str, &'a str),
}

/// Makes a verification link in `tx` (audited) and shows it, once.
async fn make_link(
    state: &AppState,
    site: &Site,
    req: &Request,
    tx: TenantTx,
    person: trellis_domain::PersonId,
    made: Made,
    shown: Shown<'_>,
) -> Result<Response, AppError> {
    let token = crate::http::page::link_token();
    let expires = Utc::now() + Duration::days(made.days);
    let link = certs::create_link(&tx, person, made.of, &token, expires).await?;
    let mut about = made.about;
    about["days"] = json!(made.days);
    audit::record(&tx, Some(person), "certificate.link_made", &link.to_string(), None, about).await?;
    tx.commit().await?;
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "Verification link made",
        &[("Home", "/"), shown.crumb],
    );
    ctx.insert("url", &format!("{}certificate-check/{token}", site.url));
    ctx.insert("of", &json!({ "title": shown.title, "back": shown.back, "kind": shown.kind }));
    ctx.insert("until", &expires.with_timezone(&site.zone()).format("%-d %B %Y").to_string());
    page::render(state, Some(site), "pages/certificate_link.html", &ctx, StatusCode::OK)
}

/// Revokes one of the person's links at once (audited), then back to `back`.
async fn revoke(
    tx: TenantTx,
    person: trellis_domain::PersonId,
    link: &str,
    req: &Request,
    back: &str,
) -> Result<Response, AppError> {
    let link: uuid::Uuid = page::path_id(link)?;
    if !certs::revoke(&tx, person, link).await? {
        return Err(AppError::NotFound);
    }
    audit::record(&tx, Some(person), "certificate.link_revoked", &link.to_string(), None, json!({})).await?;
    tx.commit().await?;
    Ok(see_other_saying(req, back, "Verification link revoked: it no longer works"))
}

/// How long a new verification link stays open, as chosen.
fn link_days(f: &LinkForm) -> Result<i64, AppError> {
    match f.days.trim().parse::<i64>() {
        Ok(d) if (1..=MAX_LINK_DAYS).contains(&d) => Ok(d),
        _ => Err(AppError::BadRequest(format!("Choose how long the link stays open: 1 to {MAX_LINK_DAYS} days"))),
    }
}

/// Revokes one of the learner's links, at once.
#[handler]
pub async fn revoke_link(
    Ctx { req, state: _, site: _ }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path((id, link)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let id: CourseId = page::path_id(&id)?;
    revoke(tx, me.person, &link, req, &format!("/courses/{id}#certificate")).await
}

/// What anyone holding a verification link sees: who, which course, when, and its status now.
#[handler]
pub async fn verify(
    req: &Request,
    poem::web::Data(state): poem::web::Data<&AppState>,
    CurrentSite(site): CurrentSite<'_>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let Some(link) = certs::by_token(&tx, &token).await? else {
        tx.commit().await?;
        return Err(AppError::NotFound);
    };
    if !link.live(Utc::now()) {
        tx.commit().await?;
        return gone(state, site, req);
    }
    if let Some(programme) = link.programme {
        return verify_programme(state, site, req, tx, link, programme).await;
    }
    let e = trellis_db::enrolments::by_id(&tx, link.enrolment).await?.ok_or(AppError::NotFound)?;
    let c = cat::course(&tx, e.course).await?.ok_or(AppError::NotFound)?;
    let person = id::member_person(&tx, link.person).await?;
    count_view(state, req, &tx, &link, json!({ "person": link.person.to_string() })).await?;
    tx.commit().await?;
    let zone = site.zone();
    let completed = e.cycle == link.cycle && e.status == trellis_db::states::EnrolmentStatus::Completed;
    check_page(
        state,
        site,
        req,
        &link,
        person,
        json!({
            "course": c.title,
            "completed_on": e.completed_at.filter(|_| completed).map(|d| d.with_timezone(&zone).format("%-d %B %Y").to_string()),
            "status": if completed { "Completed" } else { "No longer completed: the course has been started again" },
            "number": certs::number(site.entry.id, e.id.as_uuid(), link.cycle),
        }),
    )
}

/// Counts a view of a live link and records it (with the viewer's address) in the audit trail.
async fn count_view(
    state: &AppState,
    req: &Request,
    tx: &TenantTx,
    link: &certs::Link,
    detail: serde_json::Value,
) -> Result<(), AppError> {
    certs::viewed(tx, link.id).await?;
    let ip = forwarded::client_ip(req, &state.proxies).map(|ip| ip.to_string());
    audit::record(tx, None, "certificate.viewed", &link.id.to_string(), ip.as_deref(), detail).await?;
    Ok(())
}

/// The certificate check page: `check` says what and its standing; the name and the link's last
/// day are added here. Never cached, never sent on as a referrer.
fn check_page(
    state: &AppState,
    site: &Site,
    req: &Request,
    link: &certs::Link,
    person: Option<trellis_db::identity::Person>,
    mut check: serde_json::Value,
) -> Result<Response, AppError> {
    check["name"] = json!(
        person
            .map(|p| format!("{} {}", p.given_name, p.family_name).trim().to_owned())
            .unwrap_or_else(|| "No longer a member here".to_owned())
    );
    check["until"] = json!(link.expires_at.with_timezone(&site.zone()).format("%-d %B %Y").to_string());
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "Certificate check", &[]);
    ctx.insert("check", &check);
    let mut resp = page::render(state, Some(site), "pages/certificate_check.html", &ctx, StatusCode::OK)?;
    resp.headers_mut().insert("referrer-policy", poem::http::HeaderValue::from_static("no-referrer"));
    resp.headers_mut().insert("cache-control", poem::http::HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// A programme's certificate check: the programme's standing drawn afresh from the person's
/// record (the identity path's read, noted as a check by someone holding the link).
async fn verify_programme(
    state: &AppState,
    site: &Site,
    req: &Request,
    tx: TenantTx,
    link: certs::Link,
    programme: uuid::Uuid,
) -> Result<Response, AppError> {
    let generations = cat::generations(&tx).await?;
    let shapes = crate::features::records::programme_shapes(state, &tx, generations).await?;
    let person = id::member_person(&tx, link.person).await?;
    count_view(
        state,
        req,
        &tx,
        &link,
        json!({ "person": link.person.to_string(), "programme": programme.to_string() }),
    )
    .await?;
    tx.commit().await?;
    let pid = trellis_domain::ProgrammeId::from_uuid(programme);
    let Some((shape, _, items)) =
        programme_standing(state, site, shapes, pid, link.person, None, "certificate check").await?
    else {
        return gone(state, site, req);
    };
    let zone = site.zone();
    let completed = act::programme_left(&items).is_empty();
    let on = items.iter().filter_map(|i| i.completed).max().filter(|_| completed);
    check_page(
        state,
        site,
        req,
        &link,
        person,
        json!({
            "course": shape.title,
            "programme": true,
            "completed_on": on.map(|d| d.with_timezone(&zone).format("%-d %B %Y").to_string()),
            "status": if completed { "Completed" } else { "No longer completed" },
            "number": certs::programme_number(site.entry.id, programme, link.person),
        }),
    )
}

fn gone(state: &AppState, site: &Site, req: &Request) -> Result<Response, AppError> {
    crate::features::account::message_page(
        state,
        site,
        req,
        StatusCode::GONE,
        "This link no longer works",
        "The person who made it revoked it, or it expired. Ask them for a new one.",
        None,
    )
}

/// A programme's certificate as PDF (the learner's own): page 1 the certificate, then each course
/// and learning path of the programme with where and when it was completed. Available once every
/// one of them is completed, at any trust on the service (the learner's record, read as My
/// activity reads it); 404 until then, or where the programme offers none.
#[handler]
pub async fn programme_pdf(
    Ctx { req: _, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let id: trellis_domain::ProgrammeId = page::path_id(&id)?;
    let shapes = crate::features::records::programme_shapes(state, &tx, me.catalogue).await?;
    let person = id::member_person(&tx, me.person).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let Some((shape, rows, items)) =
        programme_standing(state, site, shapes, id, me.person, Some(me.person), "programme certificate").await?
    else {
        return Err(AppError::NotFound);
    };
    let zone = site.zone();
    if !act::programme_left(&items).is_empty() {
        return Err(AppError::NotFound);
    }
    let day = |t: chrono::DateTime<Utc>| t.with_timezone(&zone).format("%-d %B %Y").to_string();
    let completed = items.iter().filter_map(|i| i.completed).max();
    let name = format!("{} {}", person.given_name, person.family_name).trim().to_owned();
    let mut lines = vec![
        "This is to certify that".to_owned(),
        name,
        "completed the programme".to_owned(),
        shape.title.clone(),
        format!("on {}", completed.map(day).unwrap_or_default()),
        format!("at {} (ODS code {})", site.entry.name, site.entry.ods_code),
    ];
    let cpd =
        act::cpd_total(&act::courses(&rows, &act::Filter { courses: shape.courses(), ..Default::default() }, zone));
    if cpd > 0 {
        lines.push(format!("CPD: {cpd} {}", if cpd == 1 { "point" } else { "points" }));
    }
    lines.push(format!("Certificate number {}", certs::programme_number(site.entry.id, shape.id.as_uuid(), me.person)));
    lines.push(format!("Made {}", Utc::now().with_timezone(&zone).format("%-d %B %Y at %H:%M")));
    lines.push("Overleaf: the courses of the programme.".to_owned());
    let mut rows = vec![["Course", "Where", "Status", "Completed", "Result", "Time spent"].map(str::to_owned).to_vec()];
    for i in &items {
        rows.push(vec![
            i.title.clone(),
            i.trust.clone(),
            i.status.to_owned(),
            i.completed.map(day).unwrap_or_default(),
            i.result.clone(),
            time_words(i.seconds),
        ]);
    }
    let file = format!(
        "certificate-{}-{}.pdf",
        crate::usecases::records::archive::file_name(&shape.title),
        completed.map(|d| d.date_naive().to_string()).unwrap_or_default()
    );
    crate::http::pdf::response_overleaf("Certificate of completion".to_owned(), lines, rows, &file).await
}

/// Where a learner stands on a programme offered here with a certificate: the programme, and each
/// of its courses and paths from the learner's record at every trust (the identity path's read,
/// audited as `what`). `None` when the programme is not offered here or offers no certificate.
pub(crate) async fn programme_standing(
    state: &AppState,
    site: &Site,
    shapes: Vec<act::ProgrammeShape>,
    id: trellis_domain::ProgrammeId,
    person: trellis_domain::PersonId,
    by: Option<trellis_domain::PersonId>,
    what: &str,
) -> Result<Option<(act::ProgrammeShape, Vec<id::ActivityRow>, Vec<act::ProgrammeItem>)>, AppError> {
    let Some(shape) = shapes.into_iter().find(|s| s.id == id && s.certificate) else { return Ok(None) };
    let rows = crate::features::records::read_by(state, site, person, by, what, true).await?;
    let items = act::programme_items(&rows, &shape, site.zone());
    Ok(Some((shape, rows, items)))
}

/// Makes a verification link for the learner's programme certificate and shows it (once).
#[handler]
pub async fn programme_create_link(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path(id): Path<String>,
    Form(f): Form<LinkForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let id: trellis_domain::ProgrammeId = page::path_id(&id)?;
    let shapes = crate::features::records::programme_shapes(state, &tx, me.catalogue).await?;
    tx.commit().await?;
    let days = link_days(&f)?;
    let Some((shape, _, items)) =
        programme_standing(state, site, shapes, id, me.person, Some(me.person), "programme certificate").await?
    else {
        return Err(AppError::NotFound);
    };
    if !act::programme_left(&items).is_empty() {
        return Err(AppError::NotFound);
    }
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let made = Made { of: certs::Of::Programme(id.as_uuid()), days, about: json!({ "programme": id.to_string() }) };
    let back = format!("/account/activity?report=course&programme={id}#certificate");
    let shown = Shown { title: &shape.title, back: &back, kind: "programme", crumb: ("My activity", &back) };
    make_link(state, site, req, tx, me.person, made, shown).await
}

/// Revokes one of the learner's links for a programme's certificate, at once.
#[handler]
pub async fn programme_revoke_link(
    Ctx { req, state: _, site: _ }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path((id, link)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let id: trellis_domain::ProgrammeId = page::path_id(&id)?;
    revoke(tx, me.person, &link, req, &format!("/account/activity?report=course&programme={id}#certificate")).await
}
