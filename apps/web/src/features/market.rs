//! The marketplace: sellers list courses (on their own site), platform admins review listings,
//! training managers add listings to their trust's catalogue and choose how each is paid for
//! (billed monthly per enrolment, prepaid seats, or paid by the learner), within a monthly
//! budget; learners pay by card where the trust chose that; each side sees its own ledger.
//!
//! Payments go through Stripe Checkout (or the local test mode, which says so on every payment
//! page); the enrolment or seats follow from Stripe's signed webhook, never from the browser's
//! return.

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
use trellis_core::identity::Permission;
use trellis_core::market::{self as m, Funding, format_pence};
use trellis_core::{ChargeId, CourseId, ListingId};
use trellis_db::TenantTx;
use trellis_db::catalogue as cat;
use trellis_db::identity as id;
use trellis_db::market::{self as mk, Adoption, Listing, Seller};
use trellis_integrations::payments::CheckoutRequest;

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

// ---- Buying (a trust's training managers) ---------------------------------------------------

#[derive(Debug, Deserialize, Default)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
}

/// The marketplace from a trust's site: live listings, the ones the trust added, its budget.
#[handler]
pub async fn browse(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::BuyCourses>,
    token: &CsrfToken,
    Query(p): Query<SearchParams>,
) -> Result<Response, AppError> {
    let Member { me: _me, tx, .. } = member;
    let live = state.dbs.platform.listings_in("live", &p.q, 200).await?;
    let sellers = state.dbs.platform.sellers().await?;
    let adopted = mk::adoptions(&tx).await?;
    let budget = mk::budget(&tx).await?;
    let spent = mk::spent_in_month(&tx, &mk::month_of(site.today())).await?;
    tx.commit().await?;
    let by_listing: BTreeMap<String, &Adoption> = adopted.iter().map(|a| (a.listing.to_string(), a)).collect();
    let listings: Vec<_> = live
        .iter()
        .filter(|l| sellers.iter().find(|s| s.id == l.seller).is_none_or(|s| s.tenant != site.entry.id))
        .map(|l| {
            let mut j = listing_json(l, sellers.iter().find(|s| s.id == l.seller));
            j["adopted"] = by_listing.get(&l.id.to_string()).map_or(json!(null), |a| adoption_json(a));
            j
        })
        .collect();
    render(
        state,
        site,
        req,
        "pages/market_browse.html",
        "Marketplace",
        &[("Home", "/")],
        json!({
            "csrf_token": token.0,
            "q": p.q,
            "listings": listings,
            "adopted_count": adopted.len(),
            "budget": budget.map(format_pence),
            "budget_value": budget.map(|b| format_pence(b).trim_start_matches('£').replace(',', "")),
            "spent": format_pence(spent),
        }),
        StatusCode::OK,
    )
}

/// One listing, with the form that adds it to the trust's catalogue.
#[handler]
pub async fn listing_page(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::BuyCourses>,
    token: &CsrfToken,
    Path(lid): Path<String>,
) -> Result<Response, AppError> {
    let Member { me: _me, tx, .. } = member;
    let lid: ListingId = page::path_id(&lid)?;
    let l = state.dbs.platform.listing(lid).await?.filter(|l| l.status == "live").ok_or(AppError::NotFound)?;
    let seller = state.dbs.platform.seller(l.seller).await?;
    let adopted = mk::adoptions(&tx).await?.into_iter().find(|a| a.listing == lid);
    tx.commit().await?;
    let mut j = listing_json(&l, seller.as_ref());
    j["adopted"] = adopted.as_ref().map_or(json!(null), adoption_json);
    render(
        state,
        site,
        req,
        "pages/market_listing.html",
        &l.title,
        &[("Home", "/"), ("Marketplace", "/marketplace")],
        json!({ "csrf_token": token.0, "listing": j, "own": seller.is_some_and(|s| s.tenant == site.entry.id) }),
        StatusCode::OK,
    )
}

#[derive(Debug, Deserialize, Default)]
pub struct AddForm {
    #[serde(default)]
    funding: String,
}

/// Adds a listing to the trust's catalogue (or changes how it is paid for).
#[handler]
pub async fn add(
    _req: &Request,
    Data(state): Data<&AppState>,
    Data(_site): Data<&Arc<Site>>,
    member: Member<may::BuyCourses>,
    Path(lid): Path<String>,
    Form(f): Form<AddForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    payments_available(state)?;
    let lid: ListingId = page::path_id(&lid)?;
    let funding = Funding::parse(&f.funding)
        .ok_or_else(|| AppError::BadRequest("Choose how the trust pays for this course (funding).".into()))?;
    let l = state.dbs.platform.listing(lid).await?.filter(|l| l.status == "live").ok_or(AppError::NotFound)?;
    let seller = state.dbs.platform.seller(l.seller).await?.ok_or(AppError::NotFound)?;
    let a = mk::adopt(&tx, &l, &seller, funding, me.person).await?;
    id::audit(
        &tx,
        Some(me.person),
        "market.listing_added",
        &lid.to_string(),
        None,
        json!({ "funding": funding.as_str(), "price": a.price.pence }),
    )
    .await?;
    tx.commit().await?;
    Ok(see_other(&format!("/marketplace/{lid}")))
}

/// Takes a listing out of the trust's catalogue.
#[handler]
pub async fn remove(
    _req: &Request,
    Data(_state): Data<&AppState>,
    Data(_site): Data<&Arc<Site>>,
    member: Member<may::BuyCourses>,
    Path(lid): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let lid: ListingId = page::path_id(&lid)?;
    if mk::remove_adoption(&tx, lid, me.person).await? {
        id::audit(&tx, Some(me.person), "market.listing_removed", &lid.to_string(), None, json!({})).await?;
    }
    tx.commit().await?;
    Ok(see_other("/marketplace"))
}

#[derive(Debug, Deserialize, Default)]
pub struct SeatsForm {
    #[serde(default)]
    quantity: String,
}

/// Buys prepaid seats by card: opens a checkout and sends the manager to it.
#[handler]
pub async fn buy_seats(
    _req: &Request,
    Ctx { state, site, .. }: Ctx<'_>,
    member: Member<may::BuyCourses>,
    Path(lid): Path<String>,
    Form(f): Form<SeatsForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    payments_available(state)?;
    let lid: ListingId = page::path_id(&lid)?;
    let quantity: u32 = f
        .quantity
        .trim()
        .parse()
        .ok()
        .filter(|q| (1..=10_000).contains(q))
        .ok_or_else(|| AppError::BadRequest("Enter how many seats to buy (quantity), from 1 to 10,000.".into()))?;
    let a = mk::adoptions(&tx).await?.into_iter().find(|a| a.listing == lid).ok_or(AppError::NotFound)?;
    let charge = mk::buy_seats(&tx, &a, quantity, me.person, site.today()).await?;
    let course = cat::course(&tx, a.course).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let name = format!("{} — {quantity} seats", course.title);
    checkout(state, site, &charge, &a, &name, None, "/marketplace").await
}

/// Opens a checkout for a pending charge and redirects to it.
async fn checkout(
    state: &AppState,
    site: &Site,
    charge: &mk::Charge,
    a: &Adoption,
    name: &str,
    email: Option<String>,
    back: &str,
) -> Result<Response, AppError> {
    let r = CheckoutRequest {
        charge: charge.id.to_string(),
        tenant: site.entry.id.to_string(),
        name: name.to_owned(),
        unit_pence: charge.unit_pence,
        quantity: i64::from(charge.quantity),
        currency: charge.currency.clone(),
        email,
        success_url: format!("{}payments/done?charge={}", site.url, charge.id),
        cancel_url: format!("{}{}", site.url, back.trim_start_matches('/')),
        destination: a.seller_account.clone(),
        application_fee: charge.fee_pence,
    };
    let c = state.payments.create_checkout(&r).await.map_err(|e| {
        tracing::warn!(error = %format!("{e:#}"), "payments: cannot open a checkout");
        AppError::Unavailable("The payment service did not answer. Try again in a few minutes.".into())
    })?;
    let tx = state.dbs.app.begin(site.entry.id).await?;
    mk::set_checkout(&tx, charge.id, &c.id).await?;
    tx.commit().await?;
    Ok(see_other(&c.url))
}

#[derive(Debug, Deserialize, Default)]
pub struct BudgetForm {
    #[serde(default)]
    budget: String,
}

/// Sets the trust's monthly marketplace budget (blank: none).
#[handler]
pub async fn set_budget(
    _req: &Request,
    Data(_state): Data<&AppState>,
    Data(_site): Data<&Arc<Site>>,
    member: Member<may::BuyCourses>,
    Form(f): Form<BudgetForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let pence = if f.budget.trim().is_empty() {
        None
    } else {
        Some(m::parse_pounds(&f.budget).ok_or_else(|| {
            AppError::BadRequest(
                "Enter the monthly budget (budget) in pounds, for example 2500, or leave it blank.".into(),
            )
        })?)
    };
    mk::set_budget(&tx, pence, me.person).await?;
    id::audit(&tx, Some(me.person), "market.budget_set", "", None, json!({ "pence": pence })).await?;
    tx.commit().await?;
    Ok(see_other("/marketplace"))
}

#[derive(Debug, Deserialize, Default)]
pub struct FormatParams {
    #[serde(default)]
    format: String,
}

fn charge_status_words(s: &str) -> &'static str {
    match s {
        "pending" => "Awaiting payment",
        "paid" => "Paid by card",
        "billed" => "On the monthly bill",
        "covered" => "From prepaid seats",
        "cancelled" => "Cancelled",
        "refunded" => "Refunded",
        _ => "",
    }
}

/// What the trust spent on which courses for whom: on screen, or `?format=csv`.
#[handler]
pub async fn spending(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::BuyCourses>,
    token: &CsrfToken,
    Query(p): Query<FormatParams>,
) -> Result<Response, AppError> {
    let Member { me: _me, tx, .. } = member;
    let rows = mk::charges(&tx, 5000).await?;
    let balances = mk::balances(&tx).await?;
    let invoices = mk::invoices(&tx, 60).await?;
    tx.commit().await?;
    let zone = site.zone();
    if p.format == "csv" {
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record([
            "date",
            "course",
            "learner",
            "kind",
            "funding",
            "quantity",
            "unit_pence",
            "amount_pence",
            "status",
            "charge",
        ]);
        for r in &rows {
            let c = &r.charge;
            let _ = w.write_record([
                c.created_at.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string(),
                r.course_title.clone(),
                r.learner.clone(),
                c.kind.clone(),
                c.funding.clone(),
                c.quantity.to_string(),
                c.unit_pence.to_string(),
                c.amount_pence.to_string(),
                c.status.clone(),
                c.id.to_string(),
            ]);
        }
        let body = w.into_inner().map_err(|e| AppError::Internal(anyhow::anyhow!("csv: {e}")))?;
        return Ok(Response::builder()
            .content_type("text/csv; charset=utf-8")
            .header("content-disposition", "attachment; filename=\"marketplace-spending.csv\"")
            .header("cache-control", "no-store")
            .body(Body::from(body)));
    }
    let list: Vec<_> = rows
        .iter()
        .map(|r| {
            let c = &r.charge;
            json!({
                "date": c.created_at.with_timezone(&zone).format("%-d %b %Y").to_string(),
                "course": r.course_title,
                "learner": r.learner,
                "quantity": c.quantity,
                "amount": format_pence(c.amount_pence),
                "status": charge_status_words(&c.status),
                "funding": funding_words(&c.funding),
                "id": c.id.to_string(),
                "refundable": c.status == "paid",
                "receipt": matches!(c.status.as_str(), "paid" | "billed" | "refunded" | "covered"),
            })
        })
        .collect();
    render(
        state,
        site,
        req,
        "pages/market_spending.html",
        "Marketplace spending",
        &[("Home", "/"), ("Marketplace", "/marketplace")],
        json!({
            "csrf_token": token.0,
            "invoices": invoices.iter().map(|i| json!({
                "month": i.month, "amount": format_pence(i.amount_pence), "items": i.items,
                "status": if i.status == "paid" { "Paid" } else { "Due" }, "url": i.hosted_url,
            })).collect::<Vec<_>>(),
            "refund_days": state.config.payments.refund_days,
            "charges": list,
            "spent": format_pence(balances.get("spend").copied().unwrap_or(0)),
        }),
        StatusCode::OK,
    )
}

/// A PDF, made off the async threads (laying out a long statement takes a while).
async fn pdf_response(
    title: String,
    lines: Vec<String>,
    rows: Vec<Vec<String>>,
    file: &str,
) -> Result<Response, AppError> {
    let bytes = tokio::task::spawn_blocking(move || crate::http::pdf::pdf(&title, &lines, &rows))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("pdf: {e}")))?;
    if bytes.is_empty() {
        return Err(AppError::Internal(anyhow::anyhow!("pdf: the document could not be made")));
    }
    Ok(Response::builder()
        .content_type("application/pdf")
        .header("content-disposition", format!("attachment; filename=\"{file}\""))
        .header("cache-control", "no-store")
        .body(Body::from(bytes)))
}

/// The trust's marketplace statement as PDF: every charge, and the total spent.
#[handler]
pub async fn spending_pdf(
    _req: &Request,
    Data(_state): Data<&AppState>,
    CurrentSite(site): CurrentSite<'_>,
    member: Member<may::BuyCourses>,
) -> Result<Response, AppError> {
    let Member { me: _me, tx, .. } = member;
    let rows = mk::charges(&tx, 5000).await?;
    let balances = mk::balances(&tx).await?;
    tx.commit().await?;
    let zone = site.zone();
    let mut table = vec![vec!["Date".to_owned(), "Course".to_owned(), "For".to_owned(), "Amount".to_owned()]];
    for r in &rows {
        let c = &r.charge;
        let who = if c.kind == "seats" { format!("{} seats", c.quantity) } else { r.learner.clone() };
        table.push(vec![
            c.created_at.with_timezone(&zone).format("%-d %b %Y").to_string(),
            r.course_title.clone(),
            who,
            format!("{} ({})", format_pence(c.amount_pence), charge_status_words(&c.status).to_lowercase()),
        ]);
    }
    let lines = vec![
        site.entry.name.clone(),
        format!(
            "Spent on marketplace courses, net of refunds: {}",
            format_pence(balances.get("spend").copied().unwrap_or(0))
        ),
        format!("Made {}", chrono::Utc::now().with_timezone(&zone).format("%-d %B %Y %H:%M")),
    ];
    pdf_response("Marketplace statement".into(), lines, table, "marketplace-statement.pdf").await
}

/// A receipt for one charge: the trust's managers, or the learner who paid it.
#[handler]
pub async fn receipt_pdf(
    Data(_state): Data<&AppState>,
    CurrentSite(site): CurrentSite<'_>,
    member: Member<may::Anyone>,
    Path(cid): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let cid: ChargeId = page::path_id(&cid)?;
    let c = mk::charge(&tx, cid).await?.ok_or(AppError::NotFound)?;
    if !(me.may(Permission::BuyCourses) || c.person == Some(me.person)) {
        return Err(AppError::NotFound);
    }
    let course = cat::course(&tx, c.course).await?.map(|c| c.title).unwrap_or_default();
    tx.commit().await?;
    let zone = site.zone();
    let when = c.settled_at.unwrap_or(c.created_at).with_timezone(&zone).format("%-d %B %Y %H:%M").to_string();
    let lines = vec![
        site.entry.name.clone(),
        format!("Receipt {}", c.id),
        format!("Date: {when}"),
        format!("Status: {}", charge_status_words(&c.status)),
        format!("How paid: {}", funding_words(&c.funding)),
        c.access_until.map_or_else(String::new, |d| format!("Access until {}", d.format("%-d %B %Y"))),
    ];
    let table = vec![
        vec!["Course".to_owned(), "Quantity".to_owned(), "Unit price".to_owned(), "Amount".to_owned()],
        vec![course, c.quantity.to_string(), format_pence(c.unit_pence), format_pence(c.amount_pence)],
    ];
    pdf_response("Receipt".into(), lines.into_iter().filter(|l| !l.is_empty()).collect(), table, "receipt.pdf").await
}

/// The seller's statement as PDF: its ledger lines (sales, payouts, refunds).
#[handler]
pub async fn earnings_pdf(
    _req: &Request,
    Data(_state): Data<&AppState>,
    CurrentSite(site): CurrentSite<'_>,
    member: Member<may::Sell>,
) -> Result<Response, AppError> {
    let Member { me: _me, tx, .. } = member;
    let lines = mk::ledger(&tx, 100_000).await?;
    let balances = mk::balances(&tx).await?;
    tx.commit().await?;
    let zone = site.zone();
    let mut table = vec![vec!["Date".to_owned(), "What".to_owned(), "Account".to_owned(), "Amount".to_owned()]];
    for l in &lines {
        table.push(vec![
            l.at.with_timezone(&zone).format("%-d %b %Y").to_string(),
            format!("{} — {}", l.kind, l.memo),
            l.account.replace('_', " "),
            format_pence(-l.pence),
        ]);
    }
    let earned = -balances.get("earnings").copied().unwrap_or(0) - balances.get("paid_out").copied().unwrap_or(0);
    let text = vec![
        site.entry.name.clone(),
        format!("Earned after commission: {}", format_pence(earned)),
        format!("Paid out: {}", format_pence(-balances.get("paid_out").copied().unwrap_or(0))),
        format!("Made {}", chrono::Utc::now().with_timezone(&zone).format("%-d %B %Y %H:%M")),
    ];
    pdf_response("Marketplace earnings statement".into(), text, table, "marketplace-earnings.pdf").await
}

// ---- Learners paying ---------------------------------------------------------------------

/// Opens the checkout for the learner's own enrolment that waits for payment.
#[handler]
pub async fn pay(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path(cid): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    payments_available(state)?;
    let cid: CourseId = page::path_id(&cid)?;
    let e = trellis_db::learning::enrolment(&tx, me.person, cid)
        .await?
        .filter(|e| e.status == "payment")
        .ok_or(AppError::NotFound)?;
    let charge = mk::pending_for_enrolment(&tx, e.id).await?.ok_or(AppError::NotFound)?;
    let a = mk::adoption_for_course(&tx, cid).await?.ok_or(AppError::NotFound)?;
    let course = cat::course(&tx, cid).await?.ok_or(AppError::NotFound)?;
    let email = id::member_person(&tx, me.person).await?.map(|p| p.email);
    tx.commit().await?;
    let _ = req;
    checkout(state, site, &charge, &a, &course.title, email, &format!("/courses/{cid}")).await
}

#[derive(Debug, Deserialize, Default)]
pub struct DoneParams {
    #[serde(default)]
    charge: String,
}

/// Where a checkout returns: the payment is confirmed by Stripe's webhook, not by this visit.
#[handler]
pub async fn done(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Query(p): Query<DoneParams>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let charge: Option<ChargeId> = p.charge.parse().ok();
    let c = match charge {
        Some(c) => mk::charge(&tx, c).await?,
        None => None,
    };
    tx.commit().await?;
    let c = c.filter(|c| c.person == Some(me.person)).ok_or(AppError::NotFound)?;
    let (heading, body, link) = match (c.status.as_str(), c.kind.as_str()) {
        ("paid", "seats") => ("Seats bought", format!("{} seats were added.", c.quantity), ("Back to the marketplace", "/marketplace".to_owned())),
        ("paid", _) => (
            "Payment received",
            "You are enrolled: the course is on My learning.".to_owned(),
            ("Download your receipt (PDF)", format!("/marketplace/charges/{}/receipt.pdf", c.id)),
        ),
        _ => (
            "Payment being confirmed",
            "Your payment is being confirmed. This page will show the result when you refresh it; you will not be charged twice.".to_owned(),
            ("Refresh", format!("/payments/done?charge={}", c.id)),
        ),
    };
    render(
        state,
        site,
        req,
        "pages/message.html",
        heading,
        &[("Home", "/")],
        json!({ "heading": heading, "body": body, "link": { "label": link.0, "href": link.1 } }),
        StatusCode::OK,
    )
}

// ---- Selling (a vendor's or a trust's site) -----------------------------------------------

/// The seller's page: registering to sell, Stripe onboarding, listings, earnings.
#[handler]
pub async fn selling(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Sell>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let Member { tx, .. } = member;
    selling_page(tx, state, site, req, token, &[], json!({}), StatusCode::OK).await
}

#[allow(clippy::too_many_arguments)] // each is a distinct part of the page
async fn selling_page(
    tx: TenantTx,
    state: &AppState,
    site: &Site,
    req: &Request,
    token: &CsrfToken,
    errors: &[(String, String)],
    values: serde_json::Value,
    status: StatusCode,
) -> Result<Response, AppError> {
    let seller = state.dbs.platform.seller_of_site(site.entry.id).await?;
    let listings = match &seller {
        Some(s) => state.dbs.platform.listings_of_seller(s.id).await?,
        None => Vec::new(),
    };
    let own: Vec<_> = cat::own_courses(&tx)
        .await?
        .into_iter()
        .filter(|c| c.status == "published" && c.kind == "course")
        .map(|c| json!({ "id": c.id.to_string(), "title": c.title }))
        .collect();
    let balances = mk::balances(&tx).await?;
    let lines = mk::ledger(&tx, 200).await?;
    tx.commit().await?;
    let zone = site.zone();
    let lines: Vec<_> = lines
        .iter()
        .filter(|l| l.account == "earnings" || l.account == "paid_out")
        .filter(|l| l.kind != "payout" || l.account == "paid_out")
        .map(|l| {
            json!({
                "date": l.at.with_timezone(&zone).format("%-d %b %Y").to_string(),
                "kind": l.kind,
                "amount": format_pence(-l.pence),
                "memo": l.memo,
            })
        })
        .collect();
    let mut ctx = json!({
        "csrf_token": token.0,
        "seller": seller.as_ref().map(|s| json!({
            "name": s.name, "summary": s.summary, "website": s.website, "kind": s.kind,
            "stripe_account": s.stripe_account, "charges_enabled": s.charges_enabled, "payouts_enabled": s.payouts_enabled,
        })),
        "listings": listings.iter().map(|l| listing_json(l, None)).collect::<Vec<_>>(),
        "courses": own,
        "earned": format_pence(
            -balances.get("earnings").copied().unwrap_or(0) - balances.get("paid_out").copied().unwrap_or(0)
        ),
        "paid_out": format_pence(-balances.get("paid_out").copied().unwrap_or(0)),
        "owed": format_pence(-balances.get("earnings").copied().unwrap_or(0)),
        "lines": lines,
        "values": values,
        "commission": format!("{:.2}%", f64::from(state.config.payments.commission_bps) / 100.0),
    });
    ctx["errors"] = json!(errors.iter().map(|(f, m)| json!({ "field": f, "message": m })).collect::<Vec<_>>());
    ctx["error"] = json!(errors.iter().cloned().collect::<BTreeMap<_, _>>());
    render(state, site, req, "pages/selling.html", "Selling in the marketplace", &[("Home", "/")], ctx, status)
}

#[derive(Debug, Deserialize, Default)]
pub struct RegisterForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    website: String,
}

/// Registers the site as a seller.
#[handler]
pub async fn register(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Sell>,
    token: &CsrfToken,
    Form(f): Form<RegisterForm>,
) -> Result<Response, AppError> {
    let me = member.release().await?;
    payments_available(state)?;
    let mut errors = Vec::new();
    if !matches!(f.kind.as_str(), "vendor" | "trust") {
        errors.push(("kind".to_owned(), "Choose whether you sell as a content vendor or as a trust.".to_owned()));
    }
    let summary = f.summary.trim();
    if summary.is_empty() || summary.chars().count() > 1000 {
        errors.push(("summary".to_owned(), "Describe who you are for buyers, in up to 1,000 characters.".to_owned()));
    }
    let website = f.website.trim();
    if !website.is_empty() && url::Url::parse(website).map(|u| u.scheme() != "https").unwrap_or(true) {
        errors.push(("website".to_owned(), "A website starts with https://.".to_owned()));
    }
    if !errors.is_empty() {
        let values = json!({ "kind": f.kind, "summary": f.summary, "website": f.website });
        return selling_page(
            state.dbs.app.begin_read(site.entry.id).await?,
            state,
            site,
            req,
            token,
            &errors,
            values,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    state.dbs.platform.register_seller(site.entry.id, &f.kind, &site.entry.name, summary, website).await?;
    let tx = state.dbs.app.begin(site.entry.id).await?;
    id::audit(&tx, Some(me.person), "market.seller_registered", "", None, json!({ "kind": f.kind })).await?;
    tx.commit().await?;
    Ok(see_other("/selling"))
}

/// Starts (or resumes) Stripe Connect onboarding for the seller.
#[handler]
pub async fn onboard(
    _req: &Request,
    Ctx { state, site, .. }: Ctx<'_>,
    member: Member<may::Sell>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    payments_available(state)?;
    let s = state.dbs.platform.seller_of_site(site.entry.id).await?.ok_or(AppError::NotFound)?;
    let email = id::member_person(&tx, me.person).await?.map(|p| p.email).unwrap_or_default();
    tx.commit().await?;
    let back = format!("{}selling", site.url);
    let o =
        state.payments.onboard(&s.id.to_string(), s.stripe_account.as_deref(), &email, &back, &back).await.map_err(
            |e| {
                tracing::warn!(error = %format!("{e:#}"), "payments: cannot start onboarding");
                AppError::Unavailable("The payment service did not answer. Try again in a few minutes.".into())
            },
        )?;
    if s.stripe_account.as_deref() != Some(o.account.as_str()) {
        state.dbs.platform.set_seller_account(s.id, &o.account).await?;
    }
    Ok(see_other(&o.url))
}

/// Submits a listing of one of the site's published courses for review.
#[handler]
pub async fn submit(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Sell>,
    token: &CsrfToken,
    Form(f): Form<ListingFormWithCourse>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    payments_available(state)?;
    let s = state.dbs.platform.seller_of_site(site.entry.id).await?.ok_or(AppError::NotFound)?;
    let values = json!({
        "course": f.course, "title": f.listing.title, "summary": f.listing.summary, "price": f.listing.price,
        "tiers": f.listing.tiers, "licence_days": f.listing.licence_days, "preview": f.listing.preview,
        "preview_url": f.listing.preview_url,
    });
    let mut errors: Vec<(String, String)> = Vec::new();
    let course_id: Option<CourseId> = f.course.parse().ok();
    let course = match course_id {
        Some(c) => cat::course(&tx, c).await?.filter(|c| !c.national && c.status == "published" && c.kind == "course"),
        None => None,
    };
    let (objects, packages) = match &course {
        Some(c) => match c.current_version {
            Some(v) => (cat::objects(&tx, v).await?, trellis_db::elearning::packages_of(&tx, c.id).await?),
            None => (Vec::new(), Vec::new()),
        },
        None => (Vec::new(), Vec::new()),
    };
    tx.commit().await?;
    if course.is_none() {
        errors.push(("course".to_owned(), "Choose one of your published courses.".to_owned()));
    }
    let input = match m::check_listing(&f.listing) {
        Ok(i) => Some(i),
        Err(e) => {
            errors.extend(e.into_iter().map(|(k, v)| (k.to_owned(), v)));
            None
        }
    };
    let (Some(course), Some(input)) = (course, input) else {
        return selling_page(
            state.dbs.app.begin_read(site.entry.id).await?,
            state,
            site,
            req,
            token,
            &errors,
            values,
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let used: std::collections::HashSet<_> = objects.iter().filter_map(|o| o.package).collect();
    let packages: Vec<_> = packages.into_iter().filter(|p| used.contains(&p.id.as_uuid())).collect();
    let l = state.dbs.platform.submit_listing(&s, &course, &input, &standards_of(&objects, &packages)).await?;
    let tx = state.dbs.app.begin(site.entry.id).await?;
    id::audit(
        &tx,
        Some(me.person),
        "market.listing_submitted",
        &l.id.to_string(),
        None,
        json!({ "course": course.code }),
    )
    .await?;
    tx.commit().await?;
    Ok(see_other("/selling"))
}

/// The listing form with the course it lists.
#[derive(Debug, Deserialize, Default)]
pub struct ListingFormWithCourse {
    #[serde(default)]
    course: String,
    #[serde(flatten)]
    listing: m::ListingForm,
}

/// Withdraws one of the seller's listings.
#[handler]
pub async fn withdraw(
    _req: &Request,
    Ctx { state, site, .. }: Ctx<'_>,
    member: Member<may::Sell>,
    Path(lid): Path<String>,
) -> Result<Response, AppError> {
    let me = member.release().await?;
    let lid: ListingId = page::path_id(&lid)?;
    let s = state.dbs.platform.seller_of_site(site.entry.id).await?.ok_or(AppError::NotFound)?;
    if state.dbs.platform.withdraw_listing(lid, s.id).await? {
        let tx = state.dbs.app.begin(site.entry.id).await?;
        id::audit(&tx, Some(me.person), "market.listing_withdrawn", &lid.to_string(), None, json!({})).await?;
        tx.commit().await?;
    }
    Ok(see_other("/selling"))
}

/// The seller's earnings as CSV (their own ledger lines).
#[handler]
pub async fn earnings_csv(
    _req: &Request,
    Data(_state): Data<&AppState>,
    Data(_site): Data<&Arc<Site>>,
    member: Member<may::Sell>,
) -> Result<Response, AppError> {
    let Member { me: _me, tx, .. } = member;
    let lines = mk::ledger(&tx, 100_000).await?;
    tx.commit().await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(["date", "kind", "account", "amount_pence", "buyer", "course", "charge", "memo"]);
    for l in &lines {
        let _ = w.write_record([
            l.at.to_rfc3339(),
            l.kind.clone(),
            l.account.clone(),
            (-l.pence).to_string(),
            l.buyer.map(|b| b.to_string()).unwrap_or_default(),
            l.course.map(|c| c.to_string()).unwrap_or_default(),
            l.charge.map(|c| c.to_string()).unwrap_or_default(),
            l.memo.clone(),
        ]);
    }
    let body = w.into_inner().map_err(|e| AppError::Internal(anyhow::anyhow!("csv: {e}")))?;
    Ok(Response::builder()
        .content_type("text/csv; charset=utf-8")
        .header("content-disposition", "attachment; filename=\"marketplace-earnings.csv\"")
        .body(Body::from(body)))
}

// ---- The platform: public marketplace, review, payments ---------------------------------

/// The public marketplace on the platform's own host.
#[handler]
pub async fn public_browse(
    req: &Request,
    Data(state): Data<&AppState>,
    Query(p): Query<SearchParams>,
) -> Result<Response, AppError> {
    let live = state.dbs.platform.listings_in("live", &p.q, 200).await?;
    let sellers = state.dbs.platform.sellers().await?;
    let listings: Vec<_> = live.iter().map(|l| listing_json(l, sellers.iter().find(|s| s.id == l.seller))).collect();
    platform_admin::render(
        state,
        req,
        "pages/market_public.html",
        "Marketplace",
        json!({ "listings": listings, "q": p.q, "test_mode": state.config.payments.test_mode() }),
        StatusCode::OK,
    )
}

/// Platform admins' review queue and payments view.
#[handler]
pub async fn review_queue(
    req: &Request,
    Data(state): Data<&AppState>,
    PlatformAdmin(_admin): PlatformAdmin,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let waiting = state.dbs.platform.listings_in("submitted", "", 200).await?;
    let sellers = state.dbs.platform.sellers().await?;
    let totals = state.dbs.platform.ledger_totals_across_tenants().await?;
    let events = state.dbs.platform.stripe_events(100).await?;
    let commission = state.dbs.platform.commission_lines(100).await?;
    let listings: Vec<_> = waiting.iter().map(|l| listing_json(l, sellers.iter().find(|s| s.id == l.seller))).collect();
    platform_admin::render(
        state,
        req,
        "pages/market_admin.html",
        "Marketplace administration",
        json!({
            "csrf_token": token.0,
            "listings": listings,
            "commission_rate": format!("{:.2}%", f64::from(state.config.payments.commission_bps) / 100.0),
            "totals": {
                "spend": format_pence(totals.spend),
                "earnings": format_pence(totals.earnings),
                "commission": format_pence(totals.commission),
                "balanced": totals.sum == 0,
                "lines": totals.lines,
            },
            "commission_lines": commission.iter().map(|l| json!({
                "date": l.at.format("%-d %b %Y %H:%M").to_string(), "amount": format_pence(-l.pence), "memo": l.memo,
            })).collect::<Vec<_>>(),
            "events": events.iter().map(|e| json!({
                "id": e.id, "kind": e.kind, "status": e.status, "attempts": e.attempts,
                "error": e.last_error, "received": e.received_at.format("%-d %b %Y %H:%M:%S").to_string(),
            })).collect::<Vec<_>>(),
            "test_mode": state.config.payments.test_mode(),
        }),
        StatusCode::OK,
    )
}

#[derive(Debug, Deserialize, Default)]
pub struct ReviewForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
}

/// Approves (publishing the snapshot) or rejects a listing.
#[handler]
pub async fn review(
    Data(state): Data<&AppState>,
    PlatformAdmin(admin): PlatformAdmin,
    Path(lid): Path<String>,
    Form(f): Form<ReviewForm>,
) -> Result<Response, AppError> {
    let lid: ListingId = page::path_id(&lid)?;
    match f.decision.as_str() {
        "approve" => {
            state.dbs.platform.approve_listing(lid, admin, state.config.payments.commission_bps).await?;
        }
        "reject" => {
            let note = f.note.trim();
            if note.is_empty() {
                return Err(AppError::BadRequest("Give the seller a reason (note) when you reject a listing.".into()));
            }
            state.dbs.platform.reject_listing(lid, admin, &note.chars().take(1000).collect::<String>()).await?;
        }
        _ => return Err(AppError::BadRequest("Choose approve or reject (decision).".into())),
    }
    Ok(see_other("/admin/marketplace"))
}

/// Retries a kept event now (platform admins).
#[handler]
pub async fn retry_event(
    Data(state): Data<&AppState>,
    PlatformAdmin(_admin): PlatformAdmin,
    Path(eid): Path<String>,
) -> Result<Response, AppError> {
    hooks::process(state, &eid).await;
    Ok(see_other("/admin/marketplace"))
}

/// Stripe's webhook endpoint: `400` for a bad signature (Stripe then retries), `200` once kept.
#[handler]
pub async fn webhook(req: &Request, Data(state): Data<&AppState>, body: bytes::Bytes) -> Response {
    let sig = req.header("stripe-signature").unwrap_or_default();
    match hooks::receive(state, &body, sig).await {
        Ok(new) => Response::builder()
            .content_type("application/json")
            .body(json!({ "received": true, "duplicate": !new }).to_string()),
        Err(e) => {
            tracing::info!(error = %e, "payments: webhook refused");
            crate::error::problem(StatusCode::BAD_REQUEST, "Webhook refused", &e.to_string(), "/stripe/webhook")
        }
    }
}

// ---- The local test mode ------------------------------------------------------------------

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

/// Sends the event Stripe would send, through the webhook's own door.
async fn test_event(state: &AppState, kind: &str, object: serde_json::Value) -> Result<(), AppError> {
    hooks::deliver_test_event(state, kind, object)
        .await
        .map(|_| ())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))
}

/// Test mode's checkout page: what would be paid, with Pay and Cancel.
#[handler]
pub async fn test_checkout(
    req: &Request,
    Data(state): Data<&AppState>,
    token: &CsrfToken,
    Path(cs): Path<String>,
) -> Result<Response, AppError> {
    test_mode_only(state)?;
    let c = state.dbs.platform.charge_by_checkout_across_tenants(&cs).await?.ok_or(AppError::NotFound)?;
    platform_admin::render(
        state,
        req,
        "pages/market_test_checkout.html",
        "Test payment",
        json!({
            "csrf_token": token.0,
            "checkout": cs,
            "quantity": c.quantity,
            "unit": format_pence(c.unit_pence),
            "amount": format_pence(c.amount_pence),
            "status": c.status,
            "test_mode": true,
        }),
        StatusCode::OK,
    )
}

#[derive(Debug, Deserialize, Default)]
pub struct TestPayForm {
    #[serde(default)]
    action: String,
}

/// Test mode: "pays" or cancels, by sending the signed event Stripe would send.
#[handler]
pub async fn test_checkout_post(
    Data(state): Data<&AppState>,
    Path(cs): Path<String>,
    Form(f): Form<TestPayForm>,
) -> Result<Response, AppError> {
    test_mode_only(state)?;
    let c = state.dbs.platform.charge_by_checkout_across_tenants(&cs).await?.ok_or(AppError::NotFound)?;
    let site = state.directory.sites().into_iter().find(|s| s.entry.id == c.tenant).ok_or(AppError::NotFound)?;
    let (kind, status, payment) = match f.action.as_str() {
        "pay" => ("checkout.session.completed", "complete", "paid"),
        "cancel" => ("checkout.session.expired", "expired", "unpaid"),
        _ => return Err(AppError::BadRequest("Choose pay or cancel (action).".into())),
    };
    let object = json!({
        "id": cs,
        "object": "checkout.session",
        "mode": "payment",
        "status": status,
        "payment_status": payment,
        "amount_total": c.amount_pence,
        "currency": c.currency,
        "client_reference_id": c.id.to_string(),
        "payment_intent": (payment == "paid").then(|| format!("pi_local_{}", c.id.as_uuid().simple())),
        "metadata": { "charge": c.id.to_string(), "tenant": c.tenant.to_string() },
    });
    test_event(state, kind, object).await?;
    if payment == "paid" {
        Ok(see_other(&format!("{}payments/done?charge={}", site.url, c.id)))
    } else if c.kind == "seats" {
        Ok(see_other(&format!("{}marketplace", site.url)))
    } else {
        Ok(see_other(&format!("{}courses/{}", site.url, c.course)))
    }
}

/// Test mode's hosted invoice page: what the trust owes, with Pay.
#[handler]
pub async fn test_invoice(
    req: &Request,
    Data(state): Data<&AppState>,
    token: &CsrfToken,
    Path(inv): Path<String>,
) -> Result<Response, AppError> {
    test_mode_only(state)?;
    let i = state.dbs.platform.invoice_by_stripe_across_tenants(&inv).await?.ok_or(AppError::NotFound)?;
    platform_admin::render(
        state,
        req,
        "pages/market_test_invoice.html",
        "Test invoice",
        json!({
            "csrf_token": token.0, "invoice": inv, "month": i.month, "items": i.items,
            "amount": format_pence(i.amount_pence), "status": i.status, "test_mode": true,
        }),
        StatusCode::OK,
    )
}

/// Test mode: pays the invoice by sending Stripe's `invoice.paid`.
#[handler]
pub async fn test_invoice_post(Data(state): Data<&AppState>, Path(inv): Path<String>) -> Result<Response, AppError> {
    test_mode_only(state)?;
    let i = state.dbs.platform.invoice_by_stripe_across_tenants(&inv).await?.ok_or(AppError::NotFound)?;
    let object = json!({
        "id": inv, "object": "invoice", "status": "paid", "paid": true, "amount_paid": i.amount_pence,
        "currency": i.currency, "metadata": { "invoice": i.id.to_string(), "tenant": i.tenant.to_string() },
    });
    test_event(state, "invoice.paid", object).await?;
    Ok(see_other(&format!("/payments/test/invoice/{inv}")))
}

/// Test mode's onboarding page for a seller's connected account.
#[handler]
pub async fn test_onboard(
    req: &Request,
    Data(state): Data<&AppState>,
    token: &CsrfToken,
    Path(account): Path<String>,
) -> Result<Response, AppError> {
    test_mode_only(state)?;
    platform_admin::render(
        state,
        req,
        "pages/market_test_onboard.html",
        "Test onboarding",
        json!({ "csrf_token": token.0, "account": account, "test_mode": true }),
        StatusCode::OK,
    )
}

/// Test mode: completes onboarding (Stripe's `account.updated`) and returns to the seller's page.
#[handler]
pub async fn test_onboard_post(
    Data(state): Data<&AppState>,
    Path(account): Path<String>,
) -> Result<Response, AppError> {
    test_mode_only(state)?;
    let sellers = state.dbs.platform.sellers().await?;
    let s = sellers.iter().find(|s| s.stripe_account.as_deref() == Some(account.as_str())).ok_or(AppError::NotFound)?;
    let object = json!({
        "id": account, "object": "account", "charges_enabled": true, "payouts_enabled": true, "details_submitted": true,
    });
    test_event(state, "account.updated", object).await?;
    let site = state.directory.sites().into_iter().find(|x| x.entry.id == s.tenant).ok_or(AppError::NotFound)?;
    Ok(see_other(&format!("{}selling", site.url)))
}

/// A refund of an unused card purchase, within the terms (training managers, for the trust's own).
#[handler]
pub async fn refund(
    _req: &Request,
    Ctx { state, site, .. }: Ctx<'_>,
    member: Member<may::BuyCourses>,
    Path(cid): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    payments_available(state)?;
    let cid: ChargeId = page::path_id(&cid)?;
    let c = mk::charge(&tx, cid).await?.ok_or(AppError::NotFound)?;
    let started = match c.enrolment {
        Some(e) => {
            let list = trellis_db::learning::enrolments_of(&tx, c.person.unwrap_or_default()).await?;
            list.iter().find(|x| x.id == e).is_some_and(|x| x.last_activity_at.is_some())
        }
        // Seats bought: refundable only while none of them has been used.
        None => mk::seats_left(&tx, c.listing).await? < c.quantity,
    };
    tx.commit().await?;
    let days = i64::from(state.config.payments.refund_days);
    let in_time = c.settled_at.is_some_and(|t| chrono::Utc::now() - t <= chrono::Duration::days(days));
    if c.status != "paid" || !in_time || started {
        return Err(AppError::Conflict(format!(
            "Only a card payment for a course not yet started (or seats none of which is used) can be refunded, within {days} days of paying."
        )));
    }
    let intent = c.payment_intent.clone().unwrap_or_default();
    let refund = state.payments.refund(&c.id.to_string(), &intent).await.map_err(|e| {
        tracing::warn!(error = %format!("{e:#}"), "payments: cannot refund");
        AppError::Unavailable("The payment service did not answer. Try again in a few minutes.".into())
    })?;
    if refund.is_none() {
        // Test mode: Stripe's charge.refunded, as it would follow.
        let object = json!({
            "id": format!("ch_local_{}", c.id.as_uuid().simple()),
            "object": "charge",
            "refunded": true,
            "payment_intent": intent,
            "metadata": { "charge": c.id.to_string(), "tenant": c.tenant.to_string() },
            "refunds": { "data": [{ "id": format!("re_local_{}", c.id.as_uuid().simple()) }] },
        });
        test_event(state, "charge.refunded", object).await?;
    }
    let tx = state.dbs.app.begin(site.entry.id).await?;
    id::audit(&tx, Some(me.person), "market.refund_requested", &cid.to_string(), None, json!({})).await?;
    tx.commit().await?;
    Ok(see_other("/marketplace/spending"))
}
