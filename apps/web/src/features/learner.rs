//! What staff do: search the catalogue, read a course page, enrol (or ask to), leave, see "My
//! learning", and learn: each session is opened, timed and completed here, and course completion
//! follows.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::http::auth::{self, SignedIn};
use crate::http::page::{self, RequestInfo, see_other};
use crate::http::{Ctx, Member, may, tx};
use crate::usecases::learning::record::{Did, Recorded, record};
use chrono::NaiveDate;
use poem::http::StatusCode;
use poem::session::Session;
use poem::web::{CsrfToken, Data, Path, Query};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use trellis_db::audit;
use trellis_db::catalogue::{self as cat, Course, Object};
use trellis_db::compliance;
use trellis_db::learning::{self as learn, Enrolled, Enrolment};
use trellis_db::states::EnrolmentStatus;
use trellis_domain::identity::Permission;
use trellis_domain::learning::{Compliance, Event, ObjectKind, STAFF_GROUPS};
use trellis_domain::{CourseId, ObjectId};

pub(crate) fn course_json(c: &Course) -> serde_json::Value {
    json!({
        "id": c.id.to_string(),
        "code": c.code,
        "kind": c.kind,
        "title": c.title,
        "summary": c.summary,
        "topic": c.topic,
        "audience": c.audience,
        "duration": duration_words(c.duration_minutes),
        "duration_minutes": c.duration_minutes,
        "accreditation": c.accreditation,
        "cpd_points": c.cpd_points,
        "enrolment": c.enrolment,
        "status": c.status,
        "national": c.national,
    })
}

/// "1 hour 30 minutes".
pub(crate) fn duration_words(minutes: i32) -> String {
    let (h, m) = (minutes / 60, minutes % 60);
    let hours = match h {
        0 => String::new(),
        1 => "1 hour".into(),
        n => format!("{n} hours"),
    };
    let mins = match m {
        0 => String::new(),
        1 => "1 minute".into(),
        n => format!("{n} minutes"),
    };
    match (hours.is_empty(), mins.is_empty()) {
        (true, true) => "Not stated".into(),
        (false, true) => hours,
        (true, false) => mins,
        (false, false) => format!("{hours} {mins}"),
    }
}

pub(crate) fn date_words(d: NaiveDate) -> String {
    d.format("%-d %B %Y").to_string()
}

#[derive(Debug, Deserialize, Default)]
pub struct CatalogueParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    duration: String,
    #[serde(default)]
    mandatory: Option<String>,
    #[serde(default)]
    cpd: Option<String>,
    #[serde(default)]
    page: Option<u64>,
}

const PER_PAGE: u64 = 20;

/// The trust's catalogue: search and filters (a plain GET form, so it works without JavaScript).
#[handler]
pub async fn catalogue(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Query(p): Query<CatalogueParams>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let page_no = p.page.unwrap_or(1).max(1);
    let q = cat::Query {
        text: p.q.chars().take(200).collect(),
        topic: p.topic.clone(),
        staff_group: trellis_domain::learning::staff_group(&p.group).unwrap_or_default().to_owned(),
        duration: p.duration.clone(),
        mandatory: p.mandatory.is_some(),
        cpd: p.cpd.is_some(),
        offset: (page_no - 1) * PER_PAGE,
        limit: PER_PAGE,
    };
    // The listing and the search's ranking are kept per catalogue generation (catalogue_cache):
    // browsing reads nothing more from the database, a search at most its ranked matches.
    let listing = state.catalogue.listing(&tx, me.catalogue).await?;
    let ranked = if q.text.trim().is_empty() {
        None
    } else {
        Some(state.catalogue.ranked(&tx, me.catalogue, &q.text, &listing).await?)
    };
    // A search also looks in the resource library (its best few matches, on the first page).
    let resources = if q.text.trim().is_empty() || page_no > 1 {
        (vec![], 0)
    } else {
        let lq = trellis_db::library::Query { text: q.text.clone(), limit: 3, ..trellis_db::library::Query::default() };
        trellis_db::library::search(&tx, &lq).await?
    };
    tx.commit().await?;
    let (cards, total) = match &ranked {
        Some(positions) => listing.page_at(&q, positions),
        None => listing.page(&q, None),
    };
    let topics = &listing.topics;
    let pages = total.div_ceil(PER_PAGE).max(1);
    let query_string = |n: u64| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [("q", &p.q), ("topic", &p.topic), ("group", &p.group), ("duration", &p.duration)] {
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        if p.mandatory.is_some() {
            s.append_pair("mandatory", "1");
        }
        if p.cpd.is_some() {
            s.append_pair("cpd", "1");
        }
        s.append_pair("page", &n.to_string());
        format!("/courses?{}", s.finish())
    };
    let results: Vec<_> = cards
        .iter()
        .map(|c| {
            let mut j = course_json(&c.course);
            j["mandatory"] = json!(c.mandatory);
            j
        })
        .collect();
    let progs: Vec<_> = listing
        .programmes
        .iter()
        .map(|pr| {
            json!({
                "title": pr.title,
                "summary": pr.summary,
                "courses": pr.courses.iter().map(|(id, title)| json!({ "id": id.to_string(), "title": title }))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "Find training", &[("Home", "/")]);
    ctx.insert("results", &results);
    ctx.insert("total", &total);
    ctx.insert(
        "resources",
        &resources.0.iter().map(|r| json!({ "id": r.id.to_string(), "title": r.title })).collect::<Vec<_>>(),
    );
    ctx.insert("resources_total", &resources.1);
    let mut search = url::form_urlencoded::Serializer::new(String::from("/library?"));
    ctx.insert("resources_url", &search.append_pair("q", &p.q).finish());
    ctx.insert("page", &page_no);
    ctx.insert("pages", &pages);
    ctx.insert("prev_url", &(page_no > 1).then(|| query_string(page_no - 1)));
    ctx.insert("next_url", &(page_no < pages).then(|| query_string(page_no + 1)));
    ctx.insert("q", &p.q);
    ctx.insert("topic", &p.topic);
    ctx.insert("topics", topics);
    ctx.insert("group", &q.staff_group);
    ctx.insert("groups", &STAFF_GROUPS);
    ctx.insert("duration", &p.duration);
    ctx.insert("mandatory", &p.mandatory.is_some());
    ctx.insert("cpd", &p.cpd.is_some());
    // Programmes are for browsing; a search or a filter shows courses alone.
    let browsing = p.q.trim().is_empty()
        && p.topic.is_empty()
        && p.group.is_empty()
        && p.duration.is_empty()
        && p.mandatory.is_none()
        && p.cpd.is_none();
    ctx.insert("programmes", &if browsing { progs } else { vec![] });
    page::render(state, Some(site), "pages/catalogue.html", &ctx, StatusCode::OK)
}

/// Whether the person may see the page of a course the catalogue does not list: they are
/// enrolled, or they edit content here (a preview).
async fn visible_unlisted(
    tx: &trellis_db::TenantTx,
    me: &SignedIn,
    c: &Course,
    enrolment: Option<&Enrolment>,
) -> Result<bool, AppError> {
    Ok(enrolment.is_some_and(|e| e.status != EnrolmentStatus::Rejected && e.status != EnrolmentStatus::Withdrawn)
        || (me.may(Permission::EditContent) && (c.national || cat::owns(tx, c.id).await?)))
}

/// A course's page: what it is, who it is for, how long, accreditation and CPD, its sessions,
/// and the learner's place on it (enrol, ask, continue, leave).
#[handler]
pub async fn course_page(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &CsrfToken,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let id: CourseId = page::path_id(&id)?;
    let listing = state.catalogue.listing(&tx, me.catalogue).await?;
    let enrolment = learn::enrolment(&tx, me.person, id).await?;
    let (c, in_catalogue) = match listing.get(id) {
        Some(card) => (card.course.clone(), true),
        None => {
            let Some(c) = cat::course(&tx, id).await? else { return Err(AppError::NotFound) };
            if !visible_unlisted(&tx, &me, &c, enrolment.as_ref()).await? {
                return Err(AppError::NotFound);
            }
            (c, false)
        }
    };
    let version = enrolment.as_ref().and_then(|e| e.version).or(c.current_version);
    let objects = match version {
        Some(v) => version_objects(state, &tx, v).await?,
        None => Arc::new(vec![]),
    };
    let done = match &enrolment {
        Some(e) => learn::progress(&tx, e).await?,
        None => Default::default(),
    };
    let path_courses = if c.kind == "path" {
        let ids: Vec<_> = cat::path_courses(&tx, id).await?;
        let found = cat::courses_by_id(&tx, &ids.iter().map(CourseId::as_uuid).collect::<Vec<_>>()).await?;
        ids.iter().filter_map(|i| found.get(&i.as_uuid())).map(course_json).collect::<Vec<_>>()
    } else {
        vec![]
    };
    let mandatory = compliance::person_entry(&tx, me.person, id, site.today())
        .await?
        .map(|cell| json!({ "status": cell.status, "due_on": date_words(cell.due_on) }));
    // A marketplace course: its price and who pays, and what this learner's enrolment costs.
    let market = match c.seller {
        Some(_) => {
            let a = trellis_db::market::adoption_for_course(&tx, id).await?;
            let paid = match &enrolment {
                Some(e) => trellis_db::market::latest_for_enrolment(&tx, e.id).await?,
                None => None,
            };
            a.map(|a| {
                json!({
                    "price": trellis_domain::market::format_pence(a.price.pence),
                    "learner_pays": a.funding == trellis_domain::market::Funding::Learner,
                    "licence_days": a.licence_days,
                    "amount": paid.as_ref().map(|c| trellis_domain::market::format_pence(c.amount_pence)),
                    "access_until": paid.as_ref().and_then(|c| c.access_until).map(date_words),
                })
            })
        }
        None => None,
    };
    let certificate =
        crate::features::certificates::course_section(&tx, me.person, &c, enrolment.as_ref(), site.zone()).await?;
    tx.commit().await?;
    let sessions: Vec<_> = objects
        .iter()
        .map(|o| {
            json!({
                "id": o.id.to_string(),
                "title": o.title,
                "kind": o.kind,
                "done": done.get(&o.id).is_some_and(|p| p.completed_at.is_some()),
            })
        })
        .collect();
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        &c.title,
        &[("Home", "/"), ("Find training", "/courses")],
    );
    ctx.insert("csrf_token", &token.0);
    ctx.insert("course", &course_json(&c));
    let paragraphs: Vec<&str> = c.description.split("\n\n").map(str::trim).filter(|s| !s.is_empty()).collect();
    ctx.insert("paragraphs", &paragraphs);
    ctx.insert("started", &sessions.iter().any(|s| s["done"] == json!(true)));
    ctx.insert("sessions", &sessions);
    ctx.insert("path_courses", &path_courses);
    ctx.insert(
        "enrolment",
        &enrolment.as_ref().map(|e| {
            json!({
                "status": e.status,
                "source": e.source,
                "due_on": e.due_on.map(date_words),
                "reason": e.reason,
            })
        }),
    );
    ctx.insert("mandatory", &mandatory);
    ctx.insert("certificate", &certificate);
    ctx.insert("in_catalogue", &in_catalogue);
    ctx.insert("market", &market);
    ctx.insert("test_mode", &state.config.payments.test_mode());
    page::render(state, Some(site), "pages/course.html", &ctx, StatusCode::OK)
}

/// Enrols (open course) or asks to (approval course).
#[handler]
pub async fn enrol(
    req: &Request,
    Data(_state): Data<&AppState>,
    Data(_site): Data<&Arc<Site>>,
    member: Member<may::Anyone>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let id: CourseId = page::path_id(&id)?;
    let Some(c) = cat::course(&tx, id).await? else { return Err(AppError::NotFound) };
    if !cat::in_catalogue(&tx, &c).await? {
        return Err(AppError::NotFound);
    }
    let outcome = enrol_self(&tx, me.person, &c, json!({ "course": c.code })).await?;
    tx.commit().await?;
    Ok(page::see_other_saying(req, &format!("/courses/{id}"), enrolled_words(outcome, &c.title)))
}

/// Enrols `person` on `c` of their own accord (or asks to, for a course that needs approval),
/// recording it in the audit trail with `detail`; also used from a campaign's landing page.
pub(crate) async fn enrol_self(
    tx: &trellis_db::TenantTx,
    person: trellis_domain::PersonId,
    c: &Course,
    detail: serde_json::Value,
) -> Result<Enrolled, AppError> {
    let outcome = learn::enrol(tx, person, c, "self", c.enrolment == "open", None, None).await?;
    let action = match outcome {
        Enrolled::Active => "enrolment.enrolled",
        Enrolled::AwaitingPayment => "enrolment.awaiting_payment",
        Enrolled::Requested => "enrolment.requested",
        Enrolled::Already => return Ok(outcome),
    };
    audit::record(tx, Some(person), action, &c.id.to_string(), None, detail).await?;
    Ok(outcome)
}

/// What the page says after [`enrol_self`].
pub(crate) fn enrolled_words(outcome: Enrolled, title: &str) -> String {
    match outcome {
        Enrolled::Active => format!("You are enrolled on {title}"),
        Enrolled::Requested => format!("Request sent: a training manager will decide whether you can take {title}"),
        Enrolled::AwaitingPayment => format!("{title} is approved for you: it starts once it is paid for"),
        Enrolled::Already => format!("You are already on {title}"),
    }
}

/// Leaves a course (or withdraws a request). Assigned training cannot be left.
#[handler]
pub async fn leave(
    req: &Request,
    Data(_state): Data<&AppState>,
    Data(_site): Data<&Arc<Site>>,
    member: Member<may::Anyone>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let id: CourseId = page::path_id(&id)?;
    let left = learn::withdraw(&tx, me.person, id).await?;
    let title = if left {
        audit::record(&tx, Some(me.person), "enrolment.withdrawn", &id.to_string(), None, json!({})).await?;
        cat::course(&tx, id).await?.map(|c| c.title)
    } else {
        None
    };
    tx.commit().await?;
    Ok(match title {
        Some(t) => page::see_other_saying(req, "/learning", format!("You have left {t}")),
        None => see_other("/learning"),
    })
}

/// "My learning": mandatory training with its status and due date, courses in progress with
/// "continue where I left off", requests waiting, and completed courses.
#[handler]
pub async fn my_learning(Ctx { req, state, site }: Ctx<'_>, member: Member<may::Anyone>) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let view = learning_view(state, &tx, site, me.person).await?;
    let time = trellis_db::learning_time::of(&tx, me.person).await?;
    tx.commit().await?;
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "My learning", &[("Home", "/")]);
    if let Some(t) = &time {
        let sessions = match t.agreed {
            Some(_) => trellis_domain::learning_time::plan(
                &t.allowance,
                site.today(),
                &view.plan_items,
                trellis_domain::learning_time::PLANNED,
            ),
            None => Vec::new(),
        };
        ctx.insert(
            "learning_time",
            &json!({
                "words": t.allowance.words(),
                "agreed": t.agreed.is_some(),
                "sessions": sessions_json(&sessions),
            }),
        );
    }
    ctx.insert("mandatory", &view.mandatory);
    ctx.insert("in_progress", &view.in_progress);
    ctx.insert("requested", &view.requested);
    ctx.insert("completed", &view.completed);
    ctx.insert("declined", &view.declined);
    page::render(state, Some(site), "pages/my_learning.html", &ctx, StatusCode::OK)
}

/// An agreed allowance's sessions as pages show them.
pub(crate) fn sessions_json(sessions: &[trellis_domain::learning_time::Session]) -> Vec<serde_json::Value> {
    sessions
        .iter()
        .map(|s| {
            json!({
                "on": date_words(s.on),
                "day": trellis_domain::learning_time::day_name(chrono::Datelike::weekday(&s.on)),
                "parts": s.parts.iter().map(|p| json!({
                    "id": p.key, "title": p.title, "minutes": trellis_domain::learning_time::minutes_words(p.minutes),
                    "finishes": p.finishes, "late": p.late,
                })).collect::<Vec<_>>(),
            })
        })
        .collect()
}

/// A person's learning here, for My learning and their home: mandatory training (overdue first,
/// then due, not started, complete), and their enrolments by status.
pub(crate) struct LearningView {
    pub mandatory: Vec<serde_json::Value>,
    pub in_progress: Vec<serde_json::Value>,
    pub requested: Vec<serde_json::Value>,
    pub completed: Vec<serde_json::Value>,
    pub declined: Vec<serde_json::Value>,
    /// What learning time is planned for: mandatory training still to do and courses in progress,
    /// with their due dates and the minutes each still needs.
    pub plan_items: Vec<trellis_domain::learning_time::Item>,
}

/// Reads [`LearningView`] of `person` in the request's transaction (a handful of indexed reads).
pub(crate) async fn learning_view(
    state: &AppState,
    tx: &trellis_db::TenantTx,
    site: &Site,
    person: trellis_domain::PersonId,
) -> Result<LearningView, AppError> {
    let today = site.today();
    let enrolments = learn::enrolments_of(tx, person).await?;
    let entries = compliance::person_entries(tx, person, today).await?;
    let mut ids: Vec<_> = enrolments.iter().map(|e| e.course.as_uuid()).collect();
    ids.extend(entries.iter().map(|(c, _)| c.as_uuid()));
    let courses = cat::courses_by_id(tx, &ids).await?;
    let progress = learn::progress_summaries(tx, &enrolments).await?;
    let mut mandatory: Vec<_> = entries
        .iter()
        .filter_map(|(cid, cell)| {
            let c = courses.get(&cid.as_uuid())?;
            Some((
                cell.status,
                cell.due_on,
                json!({
                    "id": c.id.to_string(),
                    "title": c.title,
                    "status": cell.status,
                    "due_on": date_words(cell.due_on),
                    "due": cell.due_on.to_string(),
                    "expires_on": cell.expires_on.map(date_words),
                    "completed_on": cell.completed_on.map(date_words),
                    "completed_in": cell.completed_in.and_then(|t| state.directory.name_of(t)),
                }),
            ))
        })
        .collect();
    let rank = |s: Compliance| match s {
        Compliance::Overdue => 0,
        Compliance::Due => 1,
        Compliance::NotStarted => 2,
        Compliance::Complete => 3,
    };
    mandatory.sort_by_key(|(s, due, _)| (rank(*s), *due));
    let item = |e: &Enrolment| {
        let c = courses.get(&e.course.as_uuid())?;
        let (done, total) = progress.get(&e.id).copied().unwrap_or((0, 0));
        Some(json!({
            "id": c.id.to_string(),
            "title": c.title,
            "kind": c.kind,
            "done": done,
            "total": total,
            "percent": if total == 0 { 0 } else { done * 100 / total },
            "due_on": e.due_on.map(date_words),
            "overdue": e.due_on.is_some_and(|d| d < today),
            "completed_on": e.completed_at.map(|d| date_words(d.date_naive())),
            "completed_at": e.completed_at,
            "reason": e.reason,
        }))
    };
    let pick =
        |status: EnrolmentStatus| enrolments.iter().filter(|e| e.status == status).filter_map(item).collect::<Vec<_>>();
    // Minutes still needed: the course's length, less the share of its sessions done.
    let left = |course: &uuid::Uuid| -> u32 {
        let length = courses.get(course).map_or(0, |c| u32::try_from(c.duration_minutes).unwrap_or(0));
        let active = enrolments.iter().find(|e| e.course.as_uuid() == *course && e.status == EnrolmentStatus::Active);
        match active.and_then(|e| progress.get(&e.id).copied()) {
            Some((done, total)) if total > 0 && length > 0 => {
                let done = u32::try_from(done).unwrap_or(0).min(u32::try_from(total).unwrap_or(0));
                (length * (u32::try_from(total).unwrap_or(1) - done) / u32::try_from(total).unwrap_or(1)).max(1)
            }
            _ => length,
        }
    };
    let mut plan_items: Vec<trellis_domain::learning_time::Item> = entries
        .iter()
        .filter(|(_, cell)| cell.status != Compliance::Complete)
        .filter_map(|(cid, cell)| {
            let c = courses.get(&cid.as_uuid())?;
            Some(trellis_domain::learning_time::Item {
                key: c.id.to_string(),
                title: c.title.clone(),
                due: Some(cell.due_on),
                minutes: left(&cid.as_uuid()),
            })
        })
        .collect();
    for e in enrolments.iter().filter(|e| e.status == EnrolmentStatus::Active) {
        if plan_items.iter().any(|i| i.key == e.course.to_string()) {
            continue;
        }
        let Some(c) = courses.get(&e.course.as_uuid()) else { continue };
        plan_items.push(trellis_domain::learning_time::Item {
            key: c.id.to_string(),
            title: c.title.clone(),
            due: e.due_on,
            minutes: left(&e.course.as_uuid()),
        });
    }
    let mut completed = pick(EnrolmentStatus::Completed);
    completed.sort_by(|a, b| b["completed_at"].as_str().cmp(&a["completed_at"].as_str()));
    Ok(LearningView {
        mandatory: mandatory.into_iter().map(|(_, _, j)| j).collect(),
        in_progress: pick(EnrolmentStatus::Active),
        requested: pick(EnrolmentStatus::Requested),
        completed,
        declined: pick(EnrolmentStatus::Rejected),
        plan_items,
    })
}

/// The sessions of a course version: a published version's are kept in memory (they never change;
/// an edit starts a new draft version), a draft's are read each time.
pub(crate) async fn version_objects(
    state: &AppState,
    tx: &trellis_db::TenantTx,
    version: uuid::Uuid,
) -> Result<Arc<Vec<Object>>, AppError> {
    let key = (tx.tenant(), version);
    if let Some(o) = state.versions.get(&key) {
        return Ok(o);
    }
    let objects = Arc::new(cat::objects(tx, version).await?);
    if cat::version_is_published(tx, version).await? {
        state.versions.insert(key, objects.clone());
    }
    Ok(objects)
}

/// The learner's enrolment and the sessions of its version, if they may learn on it.
async fn learning_on(
    tx: &trellis_db::TenantTx,
    me: &SignedIn,
    course: CourseId,
) -> Result<(Course, Enrolment, Vec<Object>), AppError> {
    let c = cat::course(tx, course).await?.ok_or(AppError::NotFound)?;
    let e = learn::enrolment(tx, me.person, course)
        .await?
        .filter(|e| matches!(e.status, EnrolmentStatus::Active | EnrolmentStatus::Completed))
        .ok_or(AppError::NotFound)?;
    let version = e.version.or(c.current_version).ok_or(AppError::NotFound)?;
    let objects = cat::objects(tx, version).await?;
    Ok((c, e, objects))
}

/// "Continue": the session last opened, or the first not completed.
#[handler]
pub async fn resume(
    Data(_state): Data<&AppState>,
    Data(_site): Data<&Arc<Site>>,
    member: Member<may::Anyone>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let id: CourseId = page::path_id(&id)?;
    let (c, e, objects) = match learning_on(&tx, &me, id).await {
        Ok(x) => x,
        Err(AppError::NotFound) => return Ok(see_other(&format!("/courses/{id}"))),
        Err(other) => return Err(other),
    };
    if c.kind == "path" {
        // A path is learned course by course: the first not completed.
        let inner = cat::path_courses(&tx, id).await?;
        let mine = learn::enrolments_of(&tx, me.person).await?;
        tx.commit().await?;
        let next = inner
            .iter()
            .find(|cid| mine.iter().any(|x| x.course == **cid && x.status == EnrolmentStatus::Active))
            .or(inner.first());
        return Ok(see_other(&next.map_or_else(|| format!("/courses/{id}"), |n| format!("/learn/{n}"))));
    }
    let done = learn::progress(&tx, &e).await?;
    tx.commit().await?;
    let next = e
        .last_object
        .filter(|o| objects.iter().any(|x| x.id == *o) && done.get(o).is_none_or(|p| p.completed_at.is_none()))
        .or_else(|| objects.iter().find(|o| done.get(&o.id).is_none_or(|p| p.completed_at.is_none())).map(|o| o.id))
        .or_else(|| objects.first().map(|o| o.id));
    Ok(see_other(&next.map_or_else(|| format!("/courses/{id}"), |o| format!("/learn/{id}/{o}"))))
}

/// A session: shown, recorded as opened, with links to the previous and next.
#[handler]
pub async fn session_page(
    Ctx { req, state, site }: Ctx<'_>,
    _session: &Session,
    member: Member<may::Anyone, tx::Writes>,
    token: &CsrfToken,
    Path((course, object)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let course: CourseId = page::path_id(&course)?;
    let object: ObjectId = page::path_id(&object)?;
    let (c, e, objects) = learning_on(&tx, &me, course).await?;
    let i = objects.iter().position(|o| o.id == object).ok_or(AppError::NotFound)?;
    let o = &objects[i];
    let recorded = record(state, &tx, site, &e, o, Did::Event(Event::Open)).await?;
    let done = learn::progress(&tx, &e).await?;
    let mut own_window = false;
    let package = match crate::features::elearning::launch_from(o.clone()) {
        Some(l) => {
            own_window = l.standard == "cmi5" && l.item.launch_method == "OwnWindow";
            let attempts = trellis_db::elearning::attempts(&tx, &e, o.id).await?;
            Some(crate::features::elearning::play::session_view(&attempts, &l))
        }
        None => None,
    };
    // A library resource, as it is now (withdrawn by a moderator: said so).
    let resource = match o.resource {
        Some(rid) => match trellis_db::library::get(&tx, rid).await?.filter(|r| r.status == "published") {
            Some(r) => trellis_db::library::current(&tx, &r)
                .await?
                .map(|v| crate::features::library::content_json(&r, &v))
                .map(|mut c| {
                    c["page_url"] = json!(format!("/library/{rid}"));
                    c
                }),
            None => Some(json!({ "withdrawn": true })),
        },
        None => None,
    };
    let kind = ObjectKind::parse(&o.kind).unwrap_or(ObjectKind::Page);
    let events = if kind == ObjectKind::FaceToFace {
        Some(crate::features::events::for_learner(&tx, site, me.person, course).await?)
    } else {
        None
    };
    tx.commit().await?;
    let paragraphs: Vec<&str> = o.body.split("\n\n").map(str::trim).filter(|s| !s.is_empty()).collect();
    let base = format!("/learn/{course}/{}", o.id);
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        &o.title,
        &[("My learning", "/learning"), (&c.title, &format!("/courses/{course}"))],
    );
    ctx.insert("csrf_token", &token.0);
    ctx.insert("course", &course_json(&c));
    ctx.insert(
        "session",
        &json!({
            "id": o.id.to_string(),
            "title": o.title,
            "kind": kind,
            "url": o.url,
            "file_name": o.file_name,
            "file_type": o.file_type,
            "file_size_kb": o.file_size.map(|s| (s + 1023) / 1024),
            "completion": o.completion,
            "min_minutes": o.min_minutes,
            "done": done.get(&o.id).is_some_and(|p| p.completed_at.is_some()),
            "minutes_spent": done.get(&o.id).map_or(0, |p| p.seconds_spent / 60),
        }),
    );
    ctx.insert("paragraphs", &paragraphs);
    ctx.insert("position", &(i + 1));
    ctx.insert("count", &objects.len());
    ctx.insert("base_url", &base);
    ctx.insert("beat_url", &format!("{base}/beat"));
    ctx.insert("learn_js_url", state.themes.asset_url(&site.entry.theme, "js/learn.js"));
    ctx.insert("prev_url", &i.checked_sub(1).map(|j| format!("/learn/{course}/{}", objects[j].id)));
    ctx.insert("next_url", &objects.get(i + 1).map(|n| format!("/learn/{course}/{}", n.id)));
    ctx.insert("course_completed", &(recorded.course_completed || e.status == EnrolmentStatus::Completed));
    ctx.insert("package", &package);
    ctx.insert("content", &resource);
    ctx.insert("events", &events);
    // A link to a video on a service the trust allows: its player, once the person has said yes.
    let embed = (kind == ObjectKind::Link)
        .then(|| o.url.as_deref().and_then(|u| crate::features::embeds::embed_of(u, &site.entry.embeds)))
        .flatten();
    let consented = crate::http::cookies::consent_of(req) == Some(true);
    if let Some(e) = &embed {
        ctx.insert("embed", &json!({ "name": e.name, "src": e.src, "watch": e.watch, "consented": consented }));
    }
    let mut resp = page::render(state, Some(site), "pages/session.html", &ctx, StatusCode::OK)?;
    let mut csp = crate::http::middleware::security::CSP.to_owned();
    if own_window {
        // A cmi5 AU that runs in its own window: the launch form's redirects end at the content
        // origin, which this page (and only this page) allows forms to lead to.
        csp = csp.replace("form-action 'self'", &format!("form-action 'self' {}", state.config.content_origin()));
    }
    if let Some(e) = embed.as_ref().filter(|_| consented) {
        // The player's origin, on this page only, and only with consent.
        csp = format!("{csp}; frame-src 'self' {}", e.origin);
    }
    if csp != crate::http::middleware::security::CSP
        && let Ok(v) = poem::http::HeaderValue::from_str(&csp)
    {
        resp.headers_mut().insert("content-security-policy", v);
    }
    Ok(resp)
}

/// The session page's report that it is still being looked at (JSON; no page).
#[handler]
pub async fn beat(
    Ctx { state, site, .. }: Ctx<'_>,
    session: &Session,
    Path((course, object)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let Some(me) = auth::current(state, site, session).await? else {
        return Ok(Response::builder().status(StatusCode::UNAUTHORIZED).finish());
    };
    event(state, site, &me, &course, &object, Event::Beat).await.map(|r| {
        Response::builder()
            .content_type("application/json")
            .body(json!({ "seconds_spent": r.seconds_spent, "course_completed": r.course_completed }).to_string())
    })
}

async fn event(
    state: &AppState,
    site: &Site,
    me: &SignedIn,
    course: &str,
    object: &str,
    ev: Event,
) -> Result<Recorded, AppError> {
    let course: CourseId = page::path_id(course)?;
    let object: ObjectId = page::path_id(object)?;
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let (_, e, objects) = learning_on(&tx, me, course).await?;
    let o = objects.iter().find(|o| o.id == object).ok_or(AppError::NotFound)?;
    let r = record(state, &tx, site, &e, o, Did::Event(ev)).await?;
    tx.commit().await?;
    Ok(r)
}

/// "I have finished this session" (sessions completed by the learner's say-so), then the next.
#[handler]
pub async fn confirm(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path((course, object)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let me = member.release().await?;
    event(state, site, &me, &course, &object, Event::Confirm).await?;
    Ok(page::see_other_saying(req, &format!("/learn/{course}"), "Marked as finished"))
}

/// A session's file (video, audio, document): streamed from the file store, with byte ranges for
/// players that seek. Downloading counts as completing a document.
#[handler]
pub async fn file(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path((course, object)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let cid: CourseId = page::path_id(&course)?;
    let oid: ObjectId = page::path_id(&object)?;
    let (o, enrolment) = match learning_on(&tx, &me, cid).await {
        Ok((_, e, objects)) => (objects.into_iter().find(|o| o.id == oid), Some(e)),
        // Editors preview files of their own courses (nothing is recorded).
        Err(AppError::NotFound) if me.may(Permission::EditContent) && cat::owns(&tx, cid).await? => {
            (cat::object(&tx, oid).await?.filter(|o| o.course == cid), None)
        }
        Err(e) => return Err(e),
    };
    let o = o.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let key = o.file_key.clone().ok_or(AppError::NotFound)?;
    // Only an editor's preview can meet a file still waiting for its scan (it cannot be published).
    if trellis_db::held::is_held_key(&key) {
        return Err(AppError::Conflict("This file is waiting for a virus scan: try again in a few minutes.".into()));
    }
    let range = req.header("range").and_then(crate::http::range::parse_range);
    // A whole download of a document is recorded (in a write transaction of its own, so the
    // range requests of a video player stay read-only).
    if let Some(e) = enrolment.filter(|_| range.is_none() && o.kind == "document") {
        let tx = state.dbs.app.begin(site.entry.id).await?;
        record(state, &tx, site, &e, &o, Did::Event(Event::Download)).await?;
        tx.commit().await?;
    }
    serve_file(state, &key, &o, range).await
}

async fn serve_file(
    state: &AppState,
    key: &str,
    o: &Object,
    range: Option<(u64, Option<u64>)>,
) -> Result<Response, AppError> {
    let served = crate::http::range::Served {
        key,
        content_type: o.file_type.as_deref().unwrap_or("application/octet-stream"),
        name: o.file_name.as_deref().unwrap_or("file"),
        attachment: o.kind == "document",
    };
    crate::http::range::serve(state, &served, range).await
}
