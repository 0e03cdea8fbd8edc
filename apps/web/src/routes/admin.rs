//! A trust's administration: the approval queue and the audit trail.

use crate::auth::{self, SignedIn};
use crate::directory::Site;
use crate::error::AppError;
use crate::routes::account::{message_page, render_email};
use crate::routes::page::{self, RequestInfo};
use crate::state::AppState;
use poem::http::StatusCode;
use poem::session::Session;
use poem::web::{CsrfToken, Data, Form, Path};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use trellis_core::PersonId;
use trellis_core::identity::Permission;
use trellis_db::identity as id;

/// The signed-in person if they hold `permission` here; otherwise the response to send (sign-in
/// redirect, or a 403 page recorded in the audit trail).
async fn require(
    state: &AppState,
    site: &Site,
    req: &Request,
    session: &Session,
    permission: Permission,
) -> Result<Result<SignedIn, Response>, AppError> {
    let me = match auth::signed_in_and_agreed(state, site, session).await? {
        Ok(me) => me,
        Err(redirect) => return Ok(Err(redirect)),
    };
    if me.may(permission) {
        return Ok(Ok(me));
    }
    let tx = state.dbs.app.begin(site.entry.id).await?;
    id::audit(
        &tx,
        Some(me.person),
        "access.denied",
        req.uri().path(),
        None,
        json!({ "permission": format!("{permission:?}") }),
    )
    .await?;
    tx.commit().await?;
    Ok(Err(message_page(
        state,
        site,
        req,
        StatusCode::FORBIDDEN,
        "You do not have permission to see this page",
        "This page is for the trust's training managers. If you need access, ask one of them.",
        Some(("Go to the home page", "/")),
    )?))
}

/// Registrations waiting for a decision.
#[handler]
pub async fn approvals(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    session: &Session,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let me = match require(state, site, req, session, Permission::ManageStaff).await? {
        Ok(me) => me,
        Err(resp) => return Ok(resp),
    };
    let _ = me;
    let tx = state.dbs.app.begin(site.entry.id).await?;
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
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    session: &Session,
    Path(person): Path<String>,
    Form(f): Form<DecisionForm>,
) -> Result<Response, AppError> {
    let me = match require(state, site, req, session, Permission::ManageStaff).await? {
        Ok(me) => me,
        Err(resp) => return Ok(resp),
    };
    let person: PersonId = person.parse().map_err(|_| AppError::NotFound)?;
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
    let tx = state.dbs.app.begin(site.entry.id).await?;
    // Only a pending member of this trust can be decided; anyone else is "not found".
    let who = id::member_person(&tx, person).await?.ok_or(AppError::NotFound)?;
    id::decide_membership(&tx, person, approve, (!reason.is_empty()).then(|| reason.clone()), me.person).await?;
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
    id::enqueue_email(&tx, &mail).await?;
    id::audit(
        &tx,
        Some(me.person),
        if approve { "membership.approved" } else { "membership.rejected" },
        &who.email,
        None,
        json!({ "reason": reason }),
    )
    .await?;
    tx.commit().await?;
    Ok(Response::builder().status(StatusCode::SEE_OTHER).header("location", "/admin/approvals").finish())
}

/// This trust's audit trail, newest first.
#[handler]
pub async fn audit_trail(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    session: &Session,
) -> Result<Response, AppError> {
    if let Err(resp) = require(state, site, req, session, Permission::ReadAudit).await? {
        return Ok(resp);
    }
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let entries = id::audit_trail(&tx, 200).await?;
    tx.commit().await?;
    let rows: Vec<_> = entries
        .iter()
        .map(|e| {
            json!({
                "at": e.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                "actor": e.actor.map(|a| a.to_string()),
                "action": e.action,
                "subject": e.subject,
                "ip": e.ip,
                "detail": e.detail,
            })
        })
        .collect();
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "Audit trail", &[("Home", "/")]);
    ctx.insert("entries", &rows);
    page::render(state, Some(site), "pages/admin_audit.html", &ctx, StatusCode::OK)
}
