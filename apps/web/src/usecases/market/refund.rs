//! A training manager refunds an unused card purchase of their trust: a course not yet started,
//! or seats none of which is used, within the configured days of paying. The refund is asked of
//! the payment service; the charge is marked refunded when its `charge.refunded` event arrives
//! (in the local test mode, that event is sent at once through the webhook's own door).

use super::stripe_events;
use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use serde_json::json;
use trellis_db::TenantTx;
use trellis_db::audit;
use trellis_db::market as mk;
use trellis_db::states::ChargeStatus;
use trellis_domain::{ChargeId, PersonId};

/// Asks for the refund of charge `cid` of the trust of `site`, by `by`. Reads in `tx` (the
/// request's), which it commits before asking the payment service.
pub async fn refund(state: &AppState, site: &Site, tx: TenantTx, cid: ChargeId, by: PersonId) -> Result<(), AppError> {
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
    if c.status != ChargeStatus::Paid || !in_time || started {
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
        stripe_events::send_local(state, "charge.refunded", object).await?;
    }
    let tx = state.dbs.app.begin(site.entry.id).await?;
    audit::record(&tx, Some(by), "market.refund_requested", &cid.to_string(), None, json!({})).await?;
    tx.commit().await?;
    Ok(())
}
