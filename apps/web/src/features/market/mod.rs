//! The marketplace: sellers list courses (on their own site), platform admins review listings,
//! training managers add listings to their trust's catalogue and choose how each is paid for
//! (billed monthly per enrolment, prepaid seats, or paid by the learner), within a monthly
//! budget; learners pay by card where the trust chose that; each side sees its own ledger.
//!
//! Payments go through Stripe Checkout (or the local test mode, which says so on every payment
//! page); the enrolment or seats follow from Stripe's signed webhook, never from the browser's
//! return.
//!
//! One file per audience: [`buying`] (a trust's training managers), [`learners`] (paying for
//! their own enrolment), [`selling`] (vendors and selling trusts), [`review`] (the platform's
//! public marketplace, listing review and Stripe's webhook) and [`standin`] (the local test
//! mode's pages that stand in for Stripe's).

mod buying;
mod learners;
mod review;
mod selling;
mod standin;

pub use buying::*;
pub use learners::*;
pub use review::*;
pub use selling::*;
pub use standin::*;

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::features::platform_admin;
use crate::http::page::{self, RequestInfo, see_other};
use crate::http::{Ctx, CurrentSite, Member, PlatformAdmin, may};
use crate::usecases::market::stripe_events as hooks;
use poem::http::StatusCode;
use poem::web::{CsrfToken, Data, Form, Path, Query};
use poem::{Body, Request, Response, handler};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use trellis_db::TenantTx;
use trellis_db::catalogue as cat;
use trellis_db::identity as id;
use trellis_db::market::{self as mk, Adoption, Listing, Seller};
use trellis_domain::identity::Permission;
use trellis_domain::market::{self as m, Funding, format_pence};
use trellis_domain::{ChargeId, CourseId, ListingId};

// A page's parts, each named at the call: clearer here than a struct built for one call.
#[allow(clippy::too_many_arguments)]
fn render(
    state: &AppState,
    site: &Site,
    req: &Request,
    template: &str,
    title: &str,
    crumbs: &[(&str, &str)],
    extra: serde_json::Value,
    status: StatusCode,
) -> Result<Response, AppError> {
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), title, crumbs);
    if let serde_json::Value::Object(map) = extra {
        for (k, v) in map {
            ctx.insert(k, &v);
        }
    }
    ctx.insert("test_mode", &state.config.payments.test_mode());
    page::render(state, Some(site), template, &ctx, status)
}

fn funding_words(f: &str) -> &'static str {
    match f {
        "billed" => "Billed to the trust monthly, per enrolment",
        "prepaid" => "Prepaid seats, bought by card",
        "learner" => "Paid by the learner, by card",
        _ => "",
    }
}

fn listing_json(l: &Listing, seller: Option<&Seller>) -> serde_json::Value {
    json!({
        "id": l.id.to_string(),
        "title": l.title,
        "summary": l.summary,
        "price": format_pence(l.price.pence),
        "tiers": l.price.tiers.iter().map(|t| json!({ "from": t.from, "price": format_pence(t.pence) })).collect::<Vec<_>>(),
        "licence_days": l.licence_days,
        "preview": l.preview,
        "preview_url": l.preview_url,
        "standards": l.standards,
        "status": l.status,
        "review_note": l.review_note,
        "commission": format!("{:.2}%", f64::from(l.commission_bps) / 100.0),
        "submitted": l.created_at.format("%-d %B %Y").to_string(),
        "seller": seller.map(|s| json!({ "name": s.name, "summary": s.summary, "website": s.website, "kind": s.kind })),
    })
}

fn adoption_json(a: &Adoption) -> serde_json::Value {
    json!({
        "listing": a.listing.to_string(),
        "course": a.course.to_string(),
        "funding": a.funding.as_str(),
        "funding_words": funding_words(a.funding.as_str()),
        "seats": a.seats,
        "price": format_pence(a.price.pence),
        "licence_days": a.licence_days,
    })
}

/// The standards a course's sessions use, in words (for a listing).
fn standards_of(objects: &[cat::Object], packages: &[trellis_db::elearning::Package]) -> String {
    let mut s: Vec<String> = packages
        .iter()
        .map(|p| match p.standard.as_str() {
            "scorm12" => "SCORM 1.2".to_owned(),
            "scorm2004" => "SCORM 2004".to_owned(),
            "cmi5" => "cmi5".to_owned(),
            other => other.to_owned(),
        })
        .collect();
    for o in objects {
        let k = match o.kind.as_str() {
            "video" => "video",
            "audio" => "audio",
            "document" => "document",
            "link" => "web link",
            "page" => "web page",
            _ => continue,
        };
        s.push(k.to_owned());
    }
    s.sort();
    s.dedup();
    s.join(", ")
}

/// A PDF, made off the async threads (laying out a long statement takes a while).
async fn pdf_response(
    title: String,
    lines: Vec<String>,
    rows: Vec<Vec<String>>,
    file: &str,
) -> Result<Response, AppError> {
    crate::http::pdf::response(title, lines, rows, file).await
}

/// Paid features need a payments provider: Stripe, or the test mode asked for explicitly.
fn payments_available(state: &AppState) -> Result<(), AppError> {
    if state.payments.enabled() {
        Ok(())
    } else {
        Err(AppError::Conflict(
            "Paid courses are not available on this service: no way of taking payments is set up. The service's operator can set one up.".into(),
        ))
    }
}

/// The test mode's pages exist only in the test mode.
fn test_mode_only(state: &AppState) -> Result<(), AppError> {
    if state.payments.test_mode() { Ok(()) } else { Err(AppError::NotFound) }
}
