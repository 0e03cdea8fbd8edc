//! A training manager's work: assigning training (to people or groups, optionally mandatory with a
//! due date and renewal), deciding enrolment requests, the compliance matrix, reminders, and
//! importing staff from the HR system's CSV.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::context::queue as jobs;
use crate::error::AppError;
use crate::features::learner::{course_json, date_words};
use crate::http::form::FormErrors;
use crate::http::page::{self, RequestInfo};
use crate::http::{Ctx, Member, may};
use crate::usecases::learning::decide::{Decision, decide as decide_request};
use crate::usecases::uploads::{self, Scanned};
use bytes::Bytes;
use poem::http::StatusCode;
use poem::web::{CsrfToken, Data, Form, Multipart, Path, Query};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;
use trellis_db::audit;
use trellis_db::catalogue as cat;
use trellis_db::compliance::{self, MatrixQuery};
use trellis_db::held::{self, Kind};
use trellis_db::identity as id;
use trellis_db::learning as learn;
use trellis_db::staff;
use trellis_domain::identity::Email;
use trellis_domain::learning::{Audience, Compliance, STAFF_GROUPS, staff_group};
use trellis_domain::staff_import::{self, MAX_BYTES};
use trellis_domain::{CourseId, EnrolmentId, RequirementId};

/// Courses a rule may name: the trust's published courses and the national ones it offers.
async fn assignable(tx: &trellis_db::TenantTx) -> Result<Vec<cat::Course>, AppError> {
    let q = cat::Query { limit: 1000, ..cat::Query::default() };
    Ok(cat::search(tx, &q).await?.0.into_iter().map(|c| c.course).collect())
}

fn audience_words(a: &Audience, names: &BTreeMap<String, String>) -> String {
    match a {
        Audience::Everyone => "Everyone".into(),
        Audience::Person(p) => names.get(&p.to_string()).cloned().unwrap_or_else(|| "One person".into()),
        Audience::StaffGroup(v) => format!("Staff group: {v}"),
        Audience::Department(v) => format!("Department: {v}"),
        Audience::Position(v) => format!("Position: {v}"),
        Audience::PlaceOfWork(v) => format!("Place of work: {v}"),
    }
}

#[allow(clippy::too_many_arguments)] // each is a distinct part of the page
async fn rules_page(
    state: &AppState,
    site: &Site,
    req: &Request,
    token: &CsrfToken,
    errors: &FormErrors,
    values: serde_json::Value,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let rules = compliance::requirements(&tx).await?;
    let courses = assignable(&tx).await?;
    let titles = cat::courses_by_id(&tx, &rules.iter().map(|r| r.course.as_uuid()).collect::<Vec<_>>()).await?;
    let mut names = BTreeMap::new();
    for r in &rules {
        if let Audience::Person(p) = &r.audience
            && let Some(person) = id::member_person(&tx, *p).await?
        {
            names.insert(p.to_string(), format!("{} {} ({})", person.given_name, person.family_name, person.email));
        }
    }
    let departments = staff::departments(&tx).await?;
    tx.commit().await?;
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "Assign training", &[("Home", "/")]);
    ctx.insert("csrf_token", &token.0);
    errors.insert_into(&mut ctx);
    ctx.insert("values", &values);
    ctx.insert("notice", &notice);
    ctx.insert("groups", &STAFF_GROUPS);
    ctx.insert("departments", &departments);
    ctx.insert("courses", &courses.iter().map(course_json).collect::<Vec<_>>());
    ctx.insert(
        "rules",
        &rules
            .iter()
            .map(|r| {
                json!({
                    "id": r.id.to_string(),
                    "course": titles.get(&r.course.as_uuid()).map(|c| c.title.clone()).unwrap_or_default(),
                    "audience": audience_words(&r.audience, &names),
                    "mandatory": r.mandatory,
                    "due_days": r.due_days,
                    "renewal_months": r.renewal_months,
                })
            })
            .collect::<Vec<_>>(),
    );
    page::render(state, Some(site), "pages/admin_training.html", &ctx, status)
}

fn blank_rule() -> serde_json::Value {
    json!({ "course": "", "audience_kind": "staff_group", "staff_group": "", "department": "", "value": "", "email": "",
            "mandatory": true, "due_days": "28", "renewal_months": "12" })
}

/// The rules, and the form to add one.
#[handler]
pub async fn rules_form(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageTraining>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let _me = member.release().await?;
    rules_page(state, site, req, token, &FormErrors::new(), blank_rule(), None, StatusCode::OK).await
}

#[derive(Debug, Deserialize, Default)]
pub struct RuleForm {
    #[serde(default)]
    course: String,
    #[serde(default)]
    audience_kind: String,
    #[serde(default)]
    staff_group: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    mandatory: Option<String>,
    #[serde(default)]
    due_days: String,
    #[serde(default)]
    renewal_months: String,
}

/// Adds a rule and applies it at once: everyone it takes in is enrolled with the due date, and
/// mandatory training enters the compliance record.
#[handler]
pub async fn add_rule(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageTraining>,
    token: &CsrfToken,
    Form(f): Form<RuleForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let values = json!({
        "course": f.course, "audience_kind": f.audience_kind, "staff_group": f.staff_group, "department": f.department,
        "value": f.value, "email": f.email, "mandatory": f.mandatory.is_some(), "due_days": f.due_days,
        "renewal_months": f.renewal_months,
    });
    let mut e = FormErrors::new();
    let course = match f.course.parse::<CourseId>() {
        Ok(cid) => match cat::course(&tx, cid).await? {
            Some(c) if cat::in_catalogue(&tx, &c).await? => Some(c),
            _ => None,
        },
        Err(_) => None,
    };
    if course.is_none() {
        e.insert("course", "Choose a course from the catalogue");
    }
    let audience = match f.audience_kind.as_str() {
        "everyone" => Some(Audience::Everyone),
        "staff_group" => staff_group(&f.staff_group).map(|g| Audience::StaffGroup(g.to_owned())),
        "department" => Audience::parse("department", &f.department),
        "position" => Audience::parse("position", &f.value),
        "place_of_work" => Audience::parse("place_of_work", &f.value),
        "person" => match Email::parse(&f.email) {
            Ok(addr) => match trellis_db::identity::accounts::find_one(&tx, addr.as_str()).await? {
                Some(a) if a.member_here => Some(Audience::Person(a.id)),
                _ => None,
            },
            Err(_) => None,
        },
        _ => None,
    };
    if audience.is_none() {
        let (field, msg) = match f.audience_kind.as_str() {
            "staff_group" => ("staff_group", "Choose a staff group"),
            "department" => ("department", "Choose a department"),
            "person" => ("email", "Enter the email address of a member of staff of this trust"),
            "position" | "place_of_work" => ("value", "Enter the position or place of work as the HR system names it"),
            _ => ("audience_kind", "Choose who the training is for"),
        };
        e.insert(field, msg);
    }
    let number = |raw: &str, field: &str, label: &str, max: i32, e: &mut FormErrors| -> Option<i32> {
        match raw.trim() {
            "" => None,
            s => match s.parse::<i32>() {
                Ok(n) if (1..=max).contains(&n) => Some(n),
                _ => {
                    e.insert(field, format!("Enter {label} as a whole number from 1 to {max}, or leave it empty"));
                    None
                }
            },
        }
    };
    let due_days = number(&f.due_days, "due_days", "the days allowed", 3650, &mut e);
    let renewal = number(&f.renewal_months, "renewal_months", "the renewal period in months", 120, &mut e);
    let (Some(course), Some(audience), true) = (course, audience, e.is_empty()) else {
        tx.rollback().await?;
        return rules_page(state, site, req, token, &e, values, None, StatusCode::BAD_REQUEST).await;
    };
    let mandatory = f.mandatory.is_some();
    let (rule, applied) = compliance::add_requirement(
        &tx,
        &course,
        &audience,
        mandatory,
        due_days,
        renewal,
        Some(me.person),
        site.today(),
    )
    .await?;
    audit::record(
        &tx,
        Some(me.person),
        "training.assigned",
        &course.id.to_string(),
        None,
        json!({ "rule": rule.id.to_string(), "audience": audience.parts().0, "mandatory": mandatory,
                "enrolled": applied.enrolled, "assigned": applied.assigned }),
    )
    .await?;
    tx.commit().await?;
    state.totals.changed(site.entry.id);
    crate::usecases::compliance::totals::warm(state, site);
    let notice = format!(
        "{} assigned. {} {} enrolled{}.",
        course.title,
        applied.enrolled,
        if applied.enrolled == 1 { "person" } else { "people" },
        if mandatory { format!("; {} added to the compliance record", applied.assigned) } else { String::new() }
    );
    rules_page(state, site, req, token, &FormErrors::new(), blank_rule(), Some(notice), StatusCode::OK).await
}

/// Removes a rule (people stay enrolled; its incomplete compliance entries go).
#[handler]
pub async fn remove_rule(
    req: &Request,
    Ctx { state, site, .. }: Ctx<'_>,
    member: Member<may::ManageTraining>,
    Path(rule): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let rule: RequirementId = page::path_id(&rule)?;
    if !compliance::remove_requirement(&tx, rule).await? {
        return Err(AppError::NotFound);
    }
    audit::record(&tx, Some(me.person), "training.rule_removed", &rule.to_string(), None, json!({})).await?;
    tx.commit().await?;
    state.totals.changed(site.entry.id);
    crate::usecases::compliance::totals::warm(state, site);
    Ok(page::see_other_saying(
        req,
        "/admin/training",
        "Rule removed: people stay enrolled, and its training no longer counts towards compliance",
    ))
}

/// Enrolment requests waiting for a decision.
#[handler]
pub async fn requests_page(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageTraining>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let Member { me: _me, tx, .. } = member;
    let list = learn::requests(&tx, 200).await?;
    let mut rows = Vec::new();
    for r in &list {
        let who = id::member_person(&tx, r.enrolment.person).await?;
        rows.push(json!({
            "id": r.enrolment.id.to_string(),
            "course": r.course_title,
            "name": who.as_ref().map(|p| format!("{} {}", p.given_name, p.family_name)).unwrap_or_default(),
            "email": who.as_ref().map(|p| p.email.clone()).unwrap_or_default(),
            "requested": date_words(r.enrolment.requested_at.date_naive()),
        }));
    }
    tx.commit().await?;
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "Enrolment requests", &[("Home", "/")]);
    ctx.insert("csrf_token", &token.0);
    ctx.insert("requests", &rows);
    page::render(state, Some(site), "pages/admin_requests.html", &ctx, StatusCode::OK)
}

#[derive(Debug, Deserialize, Default)]
pub struct DecideForm {
    #[serde(default)]
    pub(crate) decision: String,
    #[serde(default)]
    pub(crate) reason: String,
}

/// Approves or declines a request (a reason is required to decline; the learner sees it).
#[handler]
pub async fn decide(
    req: &Request,
    Data(_state): Data<&AppState>,
    Data(_site): Data<&Arc<Site>>,
    member: Member<may::ManageTraining>,
    Path(enrolment): Path<String>,
    Form(f): Form<DecideForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let eid: EnrolmentId = page::path_id(&enrolment)?;
    let decision = Decision::parse(&f.decision, &f.reason)?;
    decide_request(&tx, eid, &decision, me.person, false).await?;
    tx.commit().await?;
    let said = if decision.approved() { "Request approved" } else { "Request declined: the learner sees your reason" };
    Ok(page::see_other_saying(req, "/admin/enrolments", said))
}

#[derive(Debug, Deserialize, Default)]
pub struct MatrixParams {
    #[serde(default)]
    group: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    page: Option<u64>,
}

const MATRIX_PAGE: u64 = 50;

fn matrix_query(p: &MatrixParams, offset: u64, limit: u64) -> MatrixQuery {
    MatrixQuery {
        staff_group: staff_group(&p.group).unwrap_or_default().to_owned(),
        department: p.department.chars().take(200).collect(),
        search: p.q.chars().take(100).collect(),
        status: Compliance::parse(&p.status),
        sort: p.sort.clone(),
        offset,
        limit,
    }
}

/// People per chunk of the export: each chunk is one query in its own short transaction.
const EXPORT_CHUNK: u64 = 1_000;

use crate::http::export::cell;

fn status_words(c: Compliance) -> &'static str {
    match c {
        Compliance::Complete => "In date",
        Compliance::Due => "Started",
        Compliance::Overdue => "Overdue",
        Compliance::NotStarted => "Not started",
    }
}

/// The compliance record as CSV, one line per person and mandatory course, with the matrix's
/// filters. Streamed: read a thousand people at a time, so an export of any size holds neither
/// a long transaction nor the whole file in memory.
#[handler]
pub async fn export(
    _req: &Request,
    Ctx { state, site, .. }: Ctx<'_>,
    member: Member<may::ManageTraining>,
    Query(p): Query<MatrixParams>,
) -> Result<Response, AppError> {
    let me = member.release().await?;
    let q = matrix_query(&p, 0, EXPORT_CHUNK);
    let today = site.today();
    let tenant = site.entry.id;
    let tx = state.dbs.app.begin(tenant).await?;
    audit::record(
        &tx,
        Some(me.person),
        "compliance.exported",
        "",
        None,
        json!({ "group": q.staff_group, "department": q.department, "q": q.search, "status": p.status }),
    )
    .await?;
    tx.commit().await?;
    let mut header = csv::Writer::from_writer(Vec::new());
    header
        .write_record([
            "Family name",
            "Given name",
            "Email",
            "Assignment number",
            "Staff group",
            "Department",
            "Course",
            "Status",
            "Due",
            "Completed",
            "Expires",
            "Completed at",
        ])
        .map_err(|e| AppError::Internal(e.into()))?;
    let first = Bytes::from(header.into_inner().map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?);
    let state = state.clone();
    // The cursor: None before the first chunk; Some(None) once finished.
    let chunks = futures_util::stream::unfold(Some(None), move |cursor: Option<Option<compliance::ExportCursor>>| {
        let state = state.clone();
        let q = q.clone();
        async move {
            let after = cursor?;
            let read = async {
                let tx = state.dbs.app.begin_read(tenant).await?;
                let chunk = compliance::export_chunk(&tx, &q, today, after.as_ref(), EXPORT_CHUNK).await?;
                tx.commit().await?;
                Ok::<_, trellis_db::DbError>(chunk)
            };
            match read.await {
                Ok((lines, next)) => {
                    let mut w = csv::Writer::from_writer(Vec::new());
                    for l in &lines {
                        let date = |d: Option<chrono::NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
                        let row = [
                            cell(&l.family_name),
                            cell(&l.given_name),
                            cell(&l.email),
                            cell(&l.assignment_number),
                            cell(&l.staff_group),
                            cell(&l.department),
                            cell(&l.course),
                            status_words(l.cell.status).to_owned(),
                            l.cell.due_on.to_string(),
                            date(l.cell.completed_on),
                            date(l.cell.expires_on),
                            // Where a shared course was completed, when it was another trust.
                            cell(&l.cell.completed_in.and_then(|t| state.directory.name_of(t)).unwrap_or_default()),
                        ];
                        if let Err(e) = w.write_record(&row) {
                            return Some((Err(std::io::Error::other(e)), None));
                        }
                    }
                    let bytes = w.into_inner().map_err(|e| std::io::Error::other(e.to_string()));
                    let more = next.map(Some);
                    // An empty chunk with more to come cannot happen (a chunk ends at a person).
                    Some((bytes.map(Bytes::from), more))
                }
                Err(e) => {
                    tracing::error!(error = %e, "compliance export failed part way");
                    Some((Err(std::io::Error::other("the export failed part way; try again")), None))
                }
            }
        }
    });
    let body = futures_util::StreamExt::chain(futures_util::stream::once(async move { Ok(first) }), chunks);
    let name = format!("compliance-{}-{today}.csv", site.entry.slug);
    Ok(Response::builder()
        .content_type("text/csv; charset=utf-8")
        .header("content-disposition", format!("attachment; filename=\"{name}\""))
        .header("cache-control", "no-store")
        .body(poem::Body::from_bytes_stream(body)))
}

/// The compliance matrix: staff by mandatory courses, trust-wide totals per course and staff group.
#[handler]
pub async fn matrix(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageTraining>,
    token: &CsrfToken,
    Query(p): Query<MatrixParams>,
) -> Result<Response, AppError> {
    let Member { me: _me, tx, .. } = member;
    let page_no = p.page.unwrap_or(1).max(1);
    let q = matrix_query(&p, (page_no - 1) * MATRIX_PAGE, MATRIX_PAGE);
    let today = site.today();
    // The totals counted ahead (or by a request already counting them), else counted now.
    let counted = state.totals.totals(state, site.entry.id, &q, today).await?;
    let (m, _) = compliance::matrix(&tx, &q, today, Some(&counted.totals)).await?;
    let departments = staff::departments(&tx).await?;
    let reminders = audit::trail_of(&tx, "compliance.reminders", 1).await?.into_iter().next();
    tx.commit().await?;
    let pages = m.people.div_ceil(MATRIX_PAGE).max(1);
    let filters_qs = {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in
            [("group", &p.group), ("department", &p.department), ("q", &p.q), ("status", &p.status), ("sort", &p.sort)]
        {
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        s.finish()
    };
    let link = |n: u64| {
        if filters_qs.is_empty() {
            format!("/admin/compliance?page={n}")
        } else {
            format!("/admin/compliance?{filters_qs}&page={n}")
        }
    };
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "Compliance", &[("Home", "/")]);
    ctx.insert("csrf_token", &token.0);
    ctx.insert(
        "courses",
        &m.courses.iter().map(|(id, t)| json!({ "id": id.to_string(), "title": t })).collect::<Vec<_>>(),
    );
    ctx.insert(
        "rows",
        &m.rows
            .iter()
            .map(|r| {
                json!({
                    "name": r.name, "email": r.email, "staff_group": r.staff_group, "department": r.department,
                    "cells": r.cells.iter().map(|c| c.as_ref().map(|c| json!({
                        "status": c.status, "due_on": date_words(c.due_on),
                        "completed_on": c.completed_on.map(date_words),
                        "completed_in": c.completed_in.and_then(|t| state.directory.name_of(t)),
                    }))).collect::<Vec<_>>(),
                })
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert(
        "course_totals",
        &m.courses
            .iter()
            .zip(&m.course_totals)
            .map(|((_, t), c)| json!({ "title": t, "counts": c, "percent": c.percent_complete() }))
            .collect::<Vec<_>>(),
    );
    ctx.insert(
        "group_totals",
        &m.group_totals
            .iter()
            .map(|(g, c)| json!({ "group": if g.is_empty() { "Not recorded" } else { g }, "counts": c, "percent": c.percent_complete() }))
            .collect::<Vec<_>>(),
    );
    ctx.insert("overall", &json!({ "counts": m.overall, "percent": m.overall.percent_complete() }));
    ctx.insert("people", &m.people);
    ctx.insert(
        "export_url",
        &if filters_qs.is_empty() {
            "/admin/compliance/export.csv".to_owned()
        } else {
            format!("/admin/compliance/export.csv?{filters_qs}")
        },
    );
    ctx.insert("totals_at", &counted.at.with_timezone(&site.zone()).format("%H:%M").to_string());
    ctx.insert("page", &page_no);
    ctx.insert("pages", &pages);
    ctx.insert("prev_url", &(page_no > 1).then(|| link(page_no - 1)));
    ctx.insert("next_url", &(page_no < pages).then(|| link(page_no + 1)));
    ctx.insert("groups", &STAFF_GROUPS);
    ctx.insert("departments", &departments);
    // The last reminder run: still sending (asked for, not yet sent), or what it did.
    ctx.insert(
        "reminders",
        &reminders.map(|e| {
            let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap_or_default();
            json!({
                "running": e.action == "compliance.reminders_requested",
                "at": e.at.with_timezone(&site.zone()).format("%-d %B %Y at %H:%M").to_string(),
                "people": detail.get("people").and_then(serde_json::Value::as_i64),
            })
        }),
    );
    ctx.insert("status_js_url", state.themes.asset_url(&site.entry.theme, "js/status.js"));
    ctx.insert(
        "f",
        &json!({ "group": q.staff_group, "department": p.department, "q": p.q, "status": p.status, "sort": p.sort }),
    );
    page::render(state, Some(site), "pages/admin_compliance.html", &ctx, StatusCode::OK)
}

/// Queues the reminder digest now (the worker also sends it daily). Nobody is reminded twice
/// about the same due date.
#[handler]
pub async fn remind(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(_site): Data<&Arc<Site>>,
    member: Member<may::ManageTraining>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    jobs::enqueue(&tx, &jobs::Job::Reminders).await?;
    audit::record(&tx, Some(me.person), "compliance.reminders_requested", "", None, json!({})).await?;
    tx.commit().await?;
    jobs::wake(state).await;
    Ok(page::see_other_saying(
        req,
        "/admin/compliance?reminders=queued",
        "Reminders are being sent to everyone overdue who has not been reminded of this due date",
    ))
}

async fn import_page(
    state: &AppState,
    site: &Site,
    req: &Request,
    token: &CsrfToken,
    plan: Option<serde_json::Value>,
    status: StatusCode,
) -> Result<Response, AppError> {
    import_page_with(state, site, req, token, plan, None, status).await
}

/// The import page, with the grace period's form refused (`(value typed, message)`).
async fn import_page_with(
    state: &AppState,
    site: &Site,
    req: &Request,
    token: &CsrfToken,
    plan: Option<serde_json::Value>,
    grace_refused: Option<(&str, &str)>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let history = audit::trail_of(&tx, "staff.import", 30).await?;
    let held = held::recent(&tx, Kind::StaffFile, None, 20).await?;
    let grace = staff::leaver_grace_days(&tx).await?;
    tx.commit().await?;
    // One import is one entry: its newest state (queued, then imported or failed), by its file.
    let mut seen = std::collections::HashSet::new();
    let history: Vec<_> = history.into_iter().filter(|h| seen.insert(h.subject.clone())).take(10).collect();
    let running = history.iter().any(|h| h.action == "staff.import_queued");
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "Import staff",
        &[("Home", "/"), ("Staff", "/admin/staff")],
    );
    ctx.insert("csrf_token", &token.0);
    ctx.insert("plan", &plan);
    ctx.insert("grace_days", &grace_refused.map_or_else(|| grace.to_string(), |(typed, _)| typed.to_owned()));
    grace_refused.map_or_else(FormErrors::new, |(_, m)| FormErrors::one("grace_days", m)).insert_into(&mut ctx);
    ctx.insert(
        "history",
        &history
            .iter()
            .map(|h| {
                json!({
                    "at": h.at.format("%-d %B %Y %H:%M UTC").to_string(),
                    "action": h.action,
                    "detail": serde_json::from_str::<serde_json::Value>(&h.detail).unwrap_or_default(),
                })
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert("held", &uploads::held_rows(&held));
    ctx.insert("max_mb", &(MAX_BYTES / 1024 / 1024));
    ctx.insert("running", &running);
    ctx.insert("status_js_url", state.themes.asset_url(&site.entry.theme, "js/status.js"));
    ctx.insert("progress_js_url", state.themes.asset_url(&site.entry.theme, "js/progress.js"));
    page::render(state, Some(site), "pages/admin_import.html", &ctx, status)
}

/// The import page: upload a CSV for a dry run; recent imports and their results.
#[handler]
pub async fn import_form(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageTraining>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let _me = member.release().await?;
    import_page(state, site, req, token, None, StatusCode::OK).await
}

/// A dry run: the file is read and checked row by row and compared with the trust's staff;
/// nothing changes. A good file is kept, so "Apply" imports exactly what was checked.
#[handler]
pub async fn import_check(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageTraining>,
    token: &CsrfToken,
    mut multipart: Multipart,
) -> Result<Response, AppError> {
    let me = member.release().await?;
    let mut bytes = None;
    let mut name = String::new();
    let mut held_id = None;
    let mut complete = false;
    while let Some(field) =
        multipart.next_field().await.map_err(|e| AppError::BadRequest(format!("The form could not be read: {e}")))?
    {
        if field.name() == Some("held") {
            held_id = field.text().await.ok().and_then(|t| t.trim().parse::<uuid::Uuid>().ok());
        } else if field.name() == Some("complete") {
            complete = field.text().await.is_ok_and(|t| t.trim() == "yes");
        } else if field.name() == Some("file") {
            name = field.file_name().unwrap_or_default().chars().take(200).collect();
            let b = field.bytes().await.map_err(|e| AppError::BadRequest(format!("The upload was cut short: {e}")))?;
            if b.len() > MAX_BYTES {
                return Err(AppError::PayloadTooLarge(format!(
                    "The file is larger than {} MB.",
                    MAX_BYTES / 1024 / 1024
                )));
            }
            bytes = Some(Bytes::from(b));
        }
    }
    // A file that waited for its virus scan, and was found clean: checked from where it waited.
    let mut scanned = false;
    if bytes.as_ref().is_none_or(|b| b.is_empty())
        && let Some(id) = held_id
    {
        let tx = state.dbs.app.begin_read(site.entry.id).await?;
        let h = held::by_id(&tx, id).await?;
        tx.commit().await?;
        let h = h.filter(|h| h.kind == Some(Kind::StaffFile) && h.status == "released").ok_or(AppError::NotFound)?;
        let key = held::file_key(site.entry.id, h.id);
        bytes = Some(state.files.get_bytes(&key).await.map_err(AppError::Internal)?);
        scanned = true;
    }
    let Some(bytes) = bytes.filter(|b| !b.is_empty()) else {
        let plan = json!({ "errors": [{ "line": 0, "column": "file", "message": "Choose a CSV file to check" }], "rows": [], "file": "" });
        return import_page(state, site, req, token, Some(plan), StatusCode::BAD_REQUEST).await;
    };
    if !scanned {
        let who = crate::http::transfer::uploader(state, req, Some(me.person), None);
        match uploads::scan_bytes(state, site, &who, Kind::StaffFile, &name, &bytes).await? {
            Scanned::Pass => {}
            Scanned::Refuse(m) | Scanned::Infected(m) => {
                let plan = json!({ "errors": [{ "line": 0, "column": "file", "message": m }], "rows": [], "file": "" });
                return import_page(state, site, req, token, Some(plan), StatusCode::UNPROCESSABLE_ENTITY).await;
            }
            Scanned::Hold(_) => {
                let sha = hex::encode(Sha256::digest(&bytes));
                let file = uploads::HeldFile::Bytes(&bytes);
                uploads::hold(state, site, Some(me.person), Kind::StaffFile, "", &name, file, &sha).await?;
                return Ok(page::see_other_saying(
                    req,
                    "/admin/staff/import",
                    "File received: it is waiting for a virus scan. Check it here once it has been scanned",
                ));
            }
        }
    }
    let rows = match staff_import::parse(&bytes) {
        Ok(rows) => rows,
        Err(errors) => {
            let plan = json!({ "errors": errors, "rows": [], "file": "" });
            return import_page(state, site, req, token, Some(plan), StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let plan = staff::plan(&tx, &rows, complete, site.today()).await?;
    let grace = staff::leaver_grace_days(&tx).await?;
    tx.commit().await?;
    let sha = hex::encode(Sha256::digest(&bytes));
    if plan.errors.is_empty() {
        // Kept under the choice it was checked with: applying it cannot change whole for partial.
        state.files.put(&import_key(site, &sha, complete), bytes).await.map_err(AppError::Internal)?;
    }
    let status = if plan.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let mut j = serde_json::to_value(&plan).map_err(|e| AppError::Internal(e.into()))?;
    j["file"] = json!(if plan.errors.is_empty() { sha } else { String::new() });
    j["shown"] = json!(plan.rows.iter().filter(|r| r.action != "unchanged").take(500).collect::<Vec<_>>());
    j["complete"] = json!(complete);
    j["grace_days"] = json!(grace);
    j["needs_confirmation"] = json!(complete && plan.needs_confirmation());
    import_page(state, site, req, token, Some(j), status).await
}

#[derive(Debug, Deserialize, Default)]
pub struct LeaverSettings {
    #[serde(default)]
    grace_days: String,
}

/// Sets how many days after leaving the staff list (or their end date) a member is suspended.
#[handler]
pub async fn leaver_settings(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageTraining>,
    token: &CsrfToken,
    Form(f): Form<LeaverSettings>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let Some(days) = f.grace_days.trim().parse::<i32>().ok().filter(|d| (0..=365).contains(d)) else {
        tx.commit().await?;
        let refused = Some((f.grace_days.as_str(), "Enter a number of days from 0 to 365"));
        return import_page_with(state, site, req, token, None, refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    staff::set_leaver_grace_days(&tx, days).await?;
    audit::record(&tx, Some(me.person), "staff.leaver_grace_set", "", None, json!({ "days": days })).await?;
    tx.commit().await?;
    Ok(page::see_other_saying(
        req,
        "/admin/staff/import",
        format!(
            "Leavers are now suspended {days} {} after they leave the staff list or their end date",
            if days == 1 { "day" } else { "days" }
        ),
    ))
}

/// Suspends the members whose grace period as leavers has run out (the daily run, and after
/// each import): each audited with why; a trust's only training manager is kept, and logged.
pub async fn suspend_leavers(state: &AppState, site: &Site) -> Result<usize, AppError> {
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let grace = staff::leaver_grace_days(&tx).await?;
    let due = staff::due_leavers(&tx, site.today(), grace, 1000).await?;
    let mut suspended = 0;
    for (person, why) in &due {
        if staff::suspend_leaver(&tx, *person).await? {
            suspended += 1;
            let detail = json!({ "reason": format!("Leaver: {why}") });
            audit::record(&tx, None, "membership.suspended", &person.to_string(), None, detail).await?;
        } else {
            let detail = json!({ "reason": format!("Leaver ({why}), kept as the only training manager") });
            audit::record(&tx, None, "membership.leaver_kept", &person.to_string(), None, detail).await?;
        }
    }
    tx.commit().await?;
    if suspended > 0 {
        state.totals.changed(site.entry.id);
    }
    Ok(suspended)
}

/// Where a checked staff file waits to be applied (a whole staff list apart from a partial one).
pub(crate) fn import_key(site: &Site, sha: &str, complete: bool) -> String {
    format!("{}/imports/{sha}{}.csv", site.entry.id, if complete { ".whole" } else { "" })
}

#[derive(Debug, Deserialize, Default)]
pub struct ApplyForm {
    #[serde(default)]
    file: String,
    /// `yes`: the file lists all the trust's staff (those missing from it are leavers).
    #[serde(default)]
    complete: String,
    /// `yes`: the manager confirms the many leavers such a file makes.
    #[serde(default)]
    confirm_leavers: String,
}

/// Applies a checked file: queued for the worker, which imports it all or nothing and records
/// the result (shown on the import page).
#[handler]
pub async fn import_apply(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(_site): Data<&Arc<Site>>,
    member: Member<may::ManageTraining>,
    Form(f): Form<ApplyForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    if f.file.len() != 64 || !f.file.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::BadRequest("Check the file again before applying it.".into()));
    }
    let job = jobs::Job::StaffImport {
        file: f.file.clone(),
        by: me.person,
        complete: f.complete == "yes",
        confirmed: f.confirm_leavers == "yes",
    };
    jobs::enqueue(&tx, &job).await?;
    audit::record(&tx, Some(me.person), "staff.import_queued", &f.file, None, json!({})).await?;
    tx.commit().await?;
    jobs::wake(state).await;
    Ok(page::see_other_saying(req, "/admin/staff/import", "Import started: its progress is shown below"))
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn spreadsheet_cells_cannot_be_formulas() {
        assert_eq!(cell("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
        for s in ["+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(cell(s).starts_with('\''), "{s:?}");
        }
        assert_eq!(cell("Ward 7"), "Ward 7");
        assert_eq!(cell(""), "");
    }
}
