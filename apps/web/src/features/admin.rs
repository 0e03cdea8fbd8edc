//! A trust's administration: the approval queue and the audit trail.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::features::account::render_email;
use crate::http::page::see_other;
use crate::http::page::{self, RequestInfo};
use crate::http::{Ctx, Member, may};
use poem::http::StatusCode;
use poem::web::{CsrfToken, Data, Form, Path};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use trellis_db::audit;
use trellis_db::identity as id;
use trellis_db::outbox;
use trellis_domain::PersonId;

/// Registrations waiting for a decision.
#[handler]
pub async fn approvals(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageStaff>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let _ = me;
    let pending = id::pending_members(&tx, 200).await?;
    tx.commit().await?;
    let rows: Vec<_> = pending
        .iter()
        .map(|p| {
            json!({
                "id": p.person.id.to_string(),
                "name": format!("{} {}", p.person.given_name, p.person.family_name),
                "email": p.person.email,
                "email_verified": p.person.email_verified,
                "job_role": p.person.job_role,
                "place_of_work": p.person.place_of_work,
                "requested": p.requested_at.format("%-d %B %Y %H:%M").to_string(),
            })
        })
        .collect();
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "Registrations to approve", &[("Home", "/")]);
    ctx.insert("csrf_token", &token.0);
    ctx.insert("pending", &rows);
    page::render(state, Some(site), "pages/admin_approvals.html", &ctx, StatusCode::OK)
}

#[derive(Debug, Deserialize, Default)]
pub struct DecisionForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
}

/// Approves or rejects one registration of this trust (a reason is required to reject), and emails
/// the person either way.
#[handler]
pub async fn decide(
    req: &Request,
    Ctx { state, site, .. }: Ctx<'_>,
    member: Member<may::ManageStaff>,
    Path(person): Path<String>,
    Form(f): Form<DecisionForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let person: PersonId = page::path_id(&person)?;
    let approve = match f.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(AppError::BadRequest("Choose approve or reject.".into())),
    };
    let reason = f.reason.trim().to_owned();
    if !approve && reason.is_empty() {
        return Err(AppError::BadRequest(
            "Give a reason for rejecting the registration: it is sent to the person.".into(),
        ));
    }
    // Only a pending member of this trust can be decided; anyone else is "not found".
    let who = id::member_person(&tx, person).await?.ok_or(AppError::NotFound)?;
    id::decide_membership(&tx, person, approve, (!reason.is_empty()).then(|| reason.clone()), me.person).await?;
    let rules_changed =
        if approve { crate::usecases::compliance::apply_rules::arrived(&tx, site, person).await? } else { false };
    let (template, subject) = if approve {
        ("approved", "Your registration has been approved")
    } else {
        ("rejected", "Your registration was not approved")
    };
    let mail = render_email(
        state,
        site,
        template,
        &who.email,
        subject,
        json!({
            "name": who.given_name,
            "reason": reason,
            "sign_in_url": format!("{}sign-in", site.url),
        }),
    )?;
    outbox::enqueue_email(&tx, &mail).await?;
    audit::record(
        &tx,
        Some(me.person),
        if approve { "membership.approved" } else { "membership.rejected" },
        &who.id.to_string(),
        None,
        json!({ "reason": reason }),
    )
    .await?;
    tx.commit().await?;
    crate::usecases::compliance::apply_rules::changed(state, site, rules_changed);
    let said = format!("{} {} {}", who.given_name, who.family_name, if approve { "approved" } else { "rejected" });
    Ok(crate::http::page::see_other_saying(req, "/admin/approvals", said))
}

/// This trust's audit trail, newest first.
#[handler]
pub async fn audit_trail(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ReadAudit>,
) -> Result<Response, AppError> {
    let Member { me: _me, tx, .. } = member;
    let entries = audit::trail(&tx, 200).await?;
    // People are recorded by id; this trust's members are shown by name.
    let ids: Vec<trellis_domain::PersonId> = entries
        .iter()
        .flat_map(|e| e.actor.into_iter().chain(e.subject.parse::<trellis_domain::PersonId>().ok()))
        .collect();
    let names = id::member_names(&tx, &ids).await?;
    tx.commit().await?;
    let shown = |p: trellis_domain::PersonId| names.get(&p).cloned().unwrap_or_else(|| p.to_string());
    let rows: Vec<_> = entries
        .iter()
        .map(|e| {
            json!({
                "at": e.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                "actor": e.actor.map(shown),
                "action": e.action,
                "subject": e.subject.parse::<trellis_domain::PersonId>().map_or_else(|_| e.subject.clone(), shown),
                "ip": e.ip,
                "detail": e.detail,
            })
        })
        .collect();
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "Audit trail", &[("Home", "/")]);
    ctx.insert("entries", &rows);
    page::render(state, Some(site), "pages/admin_audit.html", &ctx, StatusCode::OK)
}

#[derive(Debug, Deserialize, Default)]
pub struct StaffQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: u64,
}

/// Staff per page of the list.
const STAFF_PAGE: u64 = 50;

/// The trust's staff: search by name or email, paged, with their roles and status.
#[handler]
pub async fn staff(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageStaff>,
    token: &CsrfToken,
    poem::web::Query(q): poem::web::Query<StaffQuery>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let search: String = q.q.chars().take(100).collect();
    let (members, total) = id::staff_page(&tx, &search, q.page * STAFF_PAGE, STAFF_PAGE).await?;
    tx.commit().await?;
    let rows: Vec<_> = members
        .iter()
        .map(|m| {
            json!({
                "id": m.person.id.to_string(),
                "name": format!("{} {}", m.person.given_name, m.person.family_name),
                "email": m.person.email,
                "job_role": m.person.job_role,
                "suspended": m.status == id::MembershipStatus::Suspended,
                "roles": m.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                "is_me": m.person.id == me.person,
            })
        })
        .collect();
    let pages = total.div_ceil(STAFF_PAGE).max(1);
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "Staff",
        &[("Home", "/"), ("Your profile", "/profile")],
    );
    ctx.insert("csrf_token", &token.0);
    ctx.insert("staff", &rows);
    ctx.insert("q", &search);
    ctx.insert("total", &total);
    ctx.insert("page", &(q.page + 1));
    ctx.insert("pages", &pages);
    let encoded: String = url::form_urlencoded::byte_serialize(search.as_bytes()).collect();
    let link = |p: u64| format!("/admin/staff?q={encoded}&page={p}");
    ctx.insert("prev_url", &(q.page > 0).then(|| link(q.page - 1)));
    ctx.insert("next_url", &(q.page + 1 < pages).then(|| link(q.page + 1)));
    ctx.insert(
        "all_roles",
        &trellis_domain::identity::Role::ALL
            .iter()
            .map(|r| json!({ "value": r.as_str(), "label": r.label() }))
            .collect::<Vec<_>>(),
    );
    page::render(state, Some(site), "pages/admin_staff.html", &ctx, StatusCode::OK)
}

fn back_to_staff() -> Response {
    see_other("/admin/staff")
}

/// Suspends or reinstates a member (never oneself).
#[handler]
pub async fn staff_status(
    _req: &Request,
    Ctx { state, site, .. }: Ctx<'_>,
    member: Member<may::ManageStaff>,
    Path(person): Path<String>,
    Form(f): Form<DecisionForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let person: PersonId = page::path_id(&person)?;
    let suspend = match f.decision.as_str() {
        "suspend" => true,
        "reinstate" => false,
        _ => return Err(AppError::BadRequest("Choose suspend or reinstate.".into())),
    };
    if person == me.person {
        return Err(AppError::BadRequest("You cannot suspend your own account: ask another training manager.".into()));
    }
    let who = id::member_person(&tx, person).await?.ok_or(AppError::NotFound)?;
    id::set_suspended(&tx, person, suspend, me.person).await?;
    if !suspend {
        // Reinstated by hand: no longer a leaver until a later staff file says so.
        trellis_db::staff::clear_leaving(&tx, person).await?;
    }
    // Back on the staff: rules added meanwhile reach them.
    let rules_changed =
        if suspend { false } else { crate::usecases::compliance::apply_rules::arrived(&tx, site, person).await? };
    let action = if suspend { "membership.suspended" } else { "membership.reinstated" };
    audit::record(&tx, Some(me.person), action, &who.id.to_string(), None, json!({})).await?;
    tx.commit().await?;
    crate::usecases::compliance::apply_rules::changed(state, site, rules_changed);
    Ok(back_to_staff())
}

/// Sets a member's roles exactly to those ticked (a training manager cannot drop their own).
#[handler]
pub async fn staff_roles(
    _req: &Request,
    Data(_state): Data<&AppState>,
    Data(_site): Data<&Arc<Site>>,
    member: Member<may::ManageStaff>,
    Path(person): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    use trellis_domain::identity::Role;
    let Member { me, tx, .. } = member;
    let person: PersonId = page::path_id(&person)?;
    let mut roles = Vec::new();
    for (k, v) in pairs.iter().filter(|(k, _)| k == "roles") {
        let role = Role::parse(v).ok_or_else(|| AppError::BadRequest(format!("\"{v}\" is not a role ({k}).")))?;
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    roles.sort();
    if person == me.person && !roles.contains(&Role::TrainingManager) {
        return Err(AppError::BadRequest(
            "You cannot remove your own training manager role: ask another training manager.".into(),
        ));
    }
    let who = id::member_person(&tx, person).await?.ok_or(AppError::NotFound)?;
    let before = id::membership(&tx, person).await?.map(|m| m.roles).unwrap_or_default();
    id::set_roles(&tx, person, &roles, me.person).await?;
    let names = |rs: &[Role]| rs.iter().map(|r| r.as_str()).collect::<Vec<_>>();
    audit::record(
        &tx,
        Some(me.person),
        "roles.changed",
        &who.id.to_string(),
        None,
        json!({ "before": names(&before), "after": names(&roles) }),
    )
    .await?;
    tx.commit().await?;
    Ok(back_to_staff())
}
