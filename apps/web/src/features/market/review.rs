//! The platform's side: the public marketplace, platform admins' listing review and kept
//! payment events, and Stripe's webhook.

use super::*;
use crate::usecases::market::approve_listing::{self, Decision};

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
    req: &Request,
    Data(state): Data<&AppState>,
    PlatformAdmin(admin): PlatformAdmin,
    Path(lid): Path<String>,
    Form(f): Form<ReviewForm>,
) -> Result<Response, AppError> {
    let lid: ListingId = page::path_id(&lid)?;
    let decision = Decision::parse(&f.decision, &f.note)?;
    approve_listing::decide(state, lid, admin, &decision).await?;
    let said = match decision {
        Decision::Approve => "Listing approved: it is live in the marketplace",
        Decision::Reject(_) => "Listing sent back to its seller with your note",
    };
    Ok(page::see_other_saying(req, "/admin/marketplace", said))
}

/// Retries a kept event now (platform admins).
#[handler]
pub async fn retry_event(
    req: &Request,
    Data(state): Data<&AppState>,
    PlatformAdmin(_admin): PlatformAdmin,
    Path(eid): Path<String>,
) -> Result<Response, AppError> {
    hooks::process(state, &eid).await;
    Ok(page::see_other_saying(req, "/admin/marketplace", "Event tried again: its state is shown below"))
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
