//! Buying: a trust's training managers add listings, buy seats, set a budget, see and refund what
//! the trust spent.

use super::*;
use crate::usecases::market::{self as uc, adopt, checkout};
use trellis_db::audit;
use trellis_db::states::ChargeStatus;
use trellis_db::states::ListingStatus;

#[derive(Debug, Deserialize, Default)]
pub struct SearchParams {
    #[serde(default)]
    pub(crate) q: String,
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
    let l =
        state.dbs.platform.listing(lid).await?.filter(|l| l.status == ListingStatus::Live).ok_or(AppError::NotFound)?;
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
    req: &Request,
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
    adopt::add(state, &tx, lid, funding, me.person).await?;
    tx.commit().await?;
    Ok(page::see_other_saying(req, &format!("/marketplace/{lid}"), "Added to your trust's catalogue"))
}

/// Takes a listing out of the trust's catalogue.
#[handler]
pub async fn remove(
    req: &Request,
    Data(_state): Data<&AppState>,
    Data(_site): Data<&Arc<Site>>,
    member: Member<may::BuyCourses>,
    Path(lid): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let lid: ListingId = page::path_id(&lid)?;
    adopt::remove(&tx, lid, me.person).await?;
    tx.commit().await?;
    Ok(page::see_other_saying(req, "/marketplace", "Removed from your trust's catalogue"))
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
    let quantity = uc::buy_seats::quantity(&f.quantity)?;
    let (charge, a, course) = uc::buy_seats::start(&tx, lid, quantity, me.person, site.today()).await?;
    tx.commit().await?;
    let name = format!("{} — {quantity} seats", course.title);
    let url = checkout::open(state, site, &charge, &a, &name, None, "/marketplace").await?;
    Ok(see_other(&url))
}

#[derive(Debug, Deserialize, Default)]
pub struct BudgetForm {
    #[serde(default)]
    budget: String,
}

/// Sets the trust's monthly marketplace budget (blank: none).
#[handler]
pub async fn set_budget(
    req: &Request,
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
    audit::record(&tx, Some(me.person), "market.budget_set", "", None, json!({ "pence": pence })).await?;
    tx.commit().await?;
    let said = match pence {
        Some(p) => format!("Monthly budget set to {}", format_pence(p)),
        None => "Monthly budget removed: there is no limit".to_owned(),
    };
    Ok(page::see_other_saying(req, "/marketplace", said))
}

#[derive(Debug, Deserialize, Default)]
pub struct FormatParams {
    #[serde(default)]
    format: String,
}

fn charge_status_words(s: &ChargeStatus) -> &'static str {
    match s {
        ChargeStatus::Pending => "Awaiting payment",
        ChargeStatus::Paid => "Paid by card",
        ChargeStatus::Billed => "On the monthly bill",
        ChargeStatus::Covered => "From prepaid seats",
        ChargeStatus::Cancelled => "Cancelled",
        ChargeStatus::Refunded => "Refunded",
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
                c.status.to_string(),
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
                "refundable": c.status == ChargeStatus::Paid,
                "receipt": matches!(c.status, ChargeStatus::Paid | ChargeStatus::Billed | ChargeStatus::Refunded | ChargeStatus::Covered),
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
                "status": if i.status == trellis_db::states::InvoiceStatus::Paid { "Paid" } else { "Due" }, "url": i.hosted_url,
            })).collect::<Vec<_>>(),
            "refund_days": state.config.payments.refund_days,
            "charges": list,
            "spent": format_pence(balances.get("spend").copied().unwrap_or(0)),
        }),
        StatusCode::OK,
    )
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

/// A refund of an unused card purchase, within the terms (training managers, for the trust's own).
#[handler]
pub async fn refund(
    req: &Request,
    Ctx { state, site, .. }: Ctx<'_>,
    member: Member<may::BuyCourses>,
    Path(cid): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    payments_available(state)?;
    let cid: ChargeId = page::path_id(&cid)?;
    uc::refund::refund(state, site, tx, cid, me.person).await?;
    Ok(page::see_other_saying(
        req,
        "/marketplace/spending",
        "Refund asked for: it shows here once the payment provider confirms it",
    ))
}
