//! Line managers (issue 22): a line manager's team page (`/team`: each of their team's mandatory
//! training, overdue courses, courses in progress and last activity, with a reminder to send from
//! a template and the places they have asked for, to approve or decline), and the admins' page
//! that sets who manages whom (`/admin/line-managers`). A line manager is anyone a member of staff
//! is assigned to, by an admin or by the staff import; they see their own team only.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::features::account::render_email;
use crate::features::training::DecideForm;
use crate::http::form::FormErrors;
use crate::http::page::{self, RequestInfo, see_other_saying};
use crate::http::{Ctx, Member, may};
use crate::usecases::learning::decide::{Decision, decide as decide_request};
use poem::http::StatusCode;
use poem::web::{CsrfToken, Form, Path, Query};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::json;
use trellis_db::catalogue as cat;
use trellis_db::compliance;
use trellis_db::identity as id;
use trellis_db::teams::{self, Refused, Source};
use trellis_db::{TenantTx, audit, outbox};
use trellis_domain::learning::Compliance;
use trellis_domain::{EnrolmentId, PersonId};

pub(crate) fn when(site: &Site, at: chrono::DateTime<chrono::Utc>) -> String {
    at.with_timezone(&site.zone()).format("%-d %B %Y").to_string()
}

/// The start of the trust's day, as a time: one reminder a day per person.
pub(crate) fn start_of_today(site: &Site) -> chrono::DateTime<chrono::Utc> {
    site.at(site.today(), chrono::NaiveTime::MIN).unwrap_or_else(chrono::Utc::now)
}

/// The team page of the signed-in line manager.
#[handler]
pub async fn team_page(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let people = teams::team(&tx, me.person, site.today()).await?;
    if people.is_empty() {
        tx.commit().await?;
        return Err(AppError::forbidden(
            "You do not manage anyone here",
            "This page is for line managers: it lists the training of the people they manage. Your trust's training managers set who manages whom.",
            Some(("Go to your home page", "/")),
        ));
    }
    let requests = teams::team_requests(&tx, me.person).await?;
    let times = trellis_db::learning_time::waiting_for(&tx, me.person).await?;
    tx.commit().await?;
    let rows: Vec<_> = people
        .iter()
        .map(|p| {
            json!({
                "id": p.person.to_string(),
                "name": format!("{} {}", p.given_name, p.family_name).trim(),
                "email": p.email,
                "mandatory": p.mandatory,
                "complete": p.complete,
                "overdue": p.overdue,
                "in_progress": p.in_progress,
                "last_active": p.last_active.map(|d| when(site, d)),
                "last_reminded": p.last_reminded.map(|d| when(site, d)),
            })
        })
        .collect();
    let overdue_people = people.iter().filter(|p| p.overdue > 0).count();
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "Your team", &[("Home", "/")]);
    ctx.insert("csrf_token", &token.0);
    ctx.insert("people", &rows);
    ctx.insert("overdue_people", &overdue_people);
    ctx.insert(
        "requests",
        &requests
            .iter()
            .map(|r| {
                json!({ "id": r.enrolment.to_string(), "name": r.name, "course": r.course_title,
                        "course_id": r.course.to_string(), "asked": when(site, r.requested_at) })
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert(
        "times",
        &times
            .iter()
            .map(|(t, name)| json!({ "id": t.person.to_string(), "name": name, "words": t.allowance.words() }))
            .collect::<Vec<_>>(),
    );
    page::render(state, Some(site), "pages/team.html", &ctx, StatusCode::OK)
}

/// The mandatory training `person` still has to do here, soonest due first, as an email lists it
/// (title, link, due date in words, and whether it is overdue).
pub(crate) async fn still_to_do(
    tx: &TenantTx,
    site: &Site,
    person: PersonId,
) -> Result<Vec<serde_json::Value>, AppError> {
    let entries = compliance::person_entries(tx, person, site.today()).await?;
    let open: Vec<_> = entries.iter().filter(|(_, c)| c.status != Compliance::Complete).collect();
    let courses = cat::courses_by_id(tx, &open.iter().map(|(c, _)| c.as_uuid()).collect::<Vec<_>>()).await?;
    let mut list: Vec<_> = open
        .iter()
        .filter_map(|(cid, cell)| {
            let c = courses.get(&cid.as_uuid())?;
            Some((cell.due_on, c.title.clone(), cell.status == Compliance::Overdue, c.id))
        })
        .collect();
    list.sort();
    Ok(list
        .into_iter()
        .map(|(due, title, overdue, id)| {
            json!({
                "title": title, "url": format!("{}courses/{id}", site.url), "overdue": overdue,
                "due_on": crate::features::learner::date_words(due),
            })
        })
        .collect())
}

/// Sends one of the team a reminder of their training from the template (at most one a day from
/// each manager to each person), recorded.
#[handler]
pub async fn remind(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path(person): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let person: PersonId = page::path_id(&person)?;
    if !teams::manages(&tx, me.person, person).await? {
        return Err(AppError::NotFound);
    }
    let Some(who) = id::member_person(&tx, person).await? else { return Err(AppError::NotFound) };
    let list = still_to_do(&tx, site, person).await?;
    let name = format!("{} {}", who.given_name, who.family_name).trim().to_owned();
    if !teams::record_reminder(&tx, me.person, person, None, start_of_today(site)).await? {
        tx.commit().await?;
        return Ok(see_other_saying(req, "/team", format!("{name} was already reminded today")));
    }
    let mail = render_email(
        state,
        site,
        "team_reminder",
        &who.email,
        &format!("A reminder from {} about your training", me.name.split_whitespace().next().unwrap_or(&me.name)),
        json!({
            "name": who.given_name,
            "manager": me.name,
            "courses": list,
            "learning_url": format!("{}learning", site.url),
        }),
    )?;
    outbox::enqueue_email(&tx, &mail).await?;
    audit::record(&tx, Some(me.person), "team.reminded", &person.to_string(), None, json!({ "courses": list.len() }))
        .await?;
    tx.commit().await?;
    Ok(see_other_saying(req, "/team", format!("{name} has been emailed a reminder of their training")))
}

/// A line manager approves or declines a place one of their team asked for, as a training manager
/// can (a reason is needed to decline; the learner sees it).
#[handler]
pub async fn decide(
    Ctx { req, .. }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path(enrolment): Path<String>,
    Form(f): Form<DecideForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let eid: EnrolmentId = page::path_id(&enrolment)?;
    let Some(request) = teams::team_requests(&tx, me.person).await?.into_iter().find(|r| r.enrolment == eid.as_uuid())
    else {
        return Err(AppError::NotFound);
    };
    let decision = Decision::parse(&f.decision, &f.reason)?;
    decide_request(&tx, eid, &decision, me.person, true).await?;
    tx.commit().await?;
    let said = if decision.approved() {
        format!("{}'s place on {} approved", request.name, request.course_title)
    } else {
        format!("{}'s place on {} declined: they see your reason", request.name, request.course_title)
    };
    Ok(see_other_saying(req, "/team", said))
}

// ---- The admins' page ----

#[derive(Debug, Deserialize, Default)]
pub struct AdminQuery {
    #[serde(default)]
    q: String,
}

#[allow(clippy::too_many_arguments)] // the page's parts
async fn admin_render(
    state: &AppState,
    site: &Site,
    req: &Request,
    tx: &TenantTx,
    token: &CsrfToken,
    search: &str,
    errors: &FormErrors,
    values: serde_json::Value,
    status: StatusCode,
) -> Result<Response, AppError> {
    let pairs = teams::pairs(tx, search, 500).await?;
    let mut ctx =
        page::context(state, Some(site), &RequestInfo::of(req), "Line managers", &[("Home", "/"), ("Admin", "/admin")]);
    errors.insert_into(&mut ctx);
    ctx.insert("csrf_token", &token.0);
    ctx.insert("values", &values);
    ctx.insert("q", search);
    ctx.insert(
        "pairs",
        &pairs
            .iter()
            .map(|p| {
                json!({
                    "person": p.person.to_string(), "person_name": p.person_name, "person_email": p.person_email,
                    "manager_name": p.manager_name, "manager_email": p.manager_email,
                    "source": if p.source == "import" { "Staff import" } else { "Set here" },
                })
            })
            .collect::<Vec<_>>(),
    );
    page::render(state, Some(site), "pages/admin_line_managers.html", &ctx, status)
}

/// Who manages whom at the trust, with a form to set a line manager.
#[handler]
pub async fn admin_page(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageStaff>,
    token: &CsrfToken,
    Query(q): Query<AdminQuery>,
) -> Result<Response, AppError> {
    let Member { tx, .. } = member;
    let resp =
        admin_render(state, site, req, &tx, token, q.q.trim(), &FormErrors::new(), json!({}), StatusCode::OK).await?;
    tx.commit().await?;
    Ok(resp)
}

#[derive(Debug, Deserialize, Default)]
pub struct SetForm {
    #[serde(default)]
    person: String,
    #[serde(default)]
    manager: String,
}

/// Sets a member's line manager, both named by their email addresses.
#[handler]
pub async fn admin_set(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageStaff>,
    token: &CsrfToken,
    Form(f): Form<SetForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let mut errors = FormErrors::new();
    let mut find = async |field: &str, email: &str, whom: &str| -> Result<Option<PersonId>, AppError> {
        let email = email.trim();
        if email.is_empty() {
            errors.insert(field, format!("Enter the email address of {whom}"));
            return Ok(None);
        }
        let found = id::member_by_email(&tx, email).await?;
        if found.is_none() {
            errors.insert(field, format!("Nobody at this trust has the email address {email}"));
        }
        Ok(found)
    };
    let person = find("person", &f.person, "the member of staff").await?;
    let manager = find("manager", &f.manager, "their line manager").await?;
    if let (Some(person), Some(manager)) = (person, manager) {
        match teams::set_manager(&tx, person, Some(manager), Source::Admin).await? {
            Ok(()) => {
                audit::record(
                    &tx,
                    Some(me.person),
                    "team.manager_set",
                    &person.to_string(),
                    None,
                    json!({ "manager": manager.to_string() }),
                )
                .await?;
                tx.commit().await?;
                let said = format!("{} now has {} as their line manager", f.person.trim(), f.manager.trim());
                return Ok(see_other_saying(req, "/admin/line-managers", said));
            }
            Err(Refused::Themselves) => errors.insert("manager", "Someone cannot be their own line manager"),
            Err(Refused::Loop) => errors.insert(
                "manager",
                format!(
                    "{} is managed by {}, directly or through others: that would make a loop",
                    f.manager.trim(),
                    f.person.trim()
                ),
            ),
            Err(Refused::NotMember(p)) => {
                let field = if p == manager { "manager" } else { "person" };
                errors.insert(field, "Only an approved member of this trust can be given or be a line manager");
            }
        }
    }
    let values = json!({ "person": f.person, "manager": f.manager });
    let resp =
        admin_render(state, site, req, &tx, token, "", &errors, values, StatusCode::UNPROCESSABLE_ENTITY).await?;
    tx.commit().await?;
    Ok(resp)
}

/// Removes a member's line manager.
#[handler]
pub async fn admin_remove(
    Ctx { req, .. }: Ctx<'_>,
    member: Member<may::ManageStaff>,
    Path(person): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let person: PersonId = page::path_id(&person)?;
    if teams::manager_of(&tx, person).await?.is_none() {
        return Err(AppError::NotFound);
    }
    teams::set_manager(&tx, person, None, Source::Admin).await?.map_err(|_| AppError::NotFound)?;
    audit::record(&tx, Some(me.person), "team.manager_removed", &person.to_string(), None, json!({})).await?;
    tx.commit().await?;
    Ok(see_other_saying(req, "/admin/line-managers", "Line manager removed"))
}

/// Once a month (the worker's first run of the month for the trust): each line manager with
/// someone in their team overdue is emailed who, and how many courses each. Returns how many
/// emails were queued.
pub async fn monthly_digest(state: &AppState, site: &Site) -> Result<usize, AppError> {
    let today = site.today();
    let tx = state.dbs.app.begin(site.entry.id).await?;
    if !compliance::claim_monthly(&tx, "team_digest", today).await? {
        tx.commit().await?;
        return Ok(0);
    }
    let managers = teams::managers_with_overdue(&tx, today).await?;
    let mut sent = 0;
    for manager in managers {
        let Some(boss) = id::member_person(&tx, manager).await? else { continue };
        let overdue: Vec<_> = teams::team(&tx, manager, today)
            .await?
            .into_iter()
            .filter(|p| p.overdue > 0)
            .map(|p| json!({ "name": format!("{} {}", p.given_name, p.family_name).trim(), "overdue": p.overdue }))
            .collect();
        if overdue.is_empty() {
            continue;
        }
        let n = overdue.len();
        let mail = render_email(
            state,
            site,
            "team_digest",
            &boss.email,
            &format!("{n} of your team {} overdue training", if n == 1 { "has" } else { "have" }),
            json!({ "name": boss.given_name, "people": overdue, "team_url": format!("{}team", site.url) }),
        )?;
        outbox::enqueue_email(&tx, &mail).await?;
        sent += 1;
    }
    audit::record(&tx, None, "team.digests_sent", "", None, json!({ "managers": sent })).await?;
    tx.commit().await?;
    Ok(sent)
}
