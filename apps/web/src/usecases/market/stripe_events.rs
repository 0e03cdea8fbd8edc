//! Stripe's webhooks: verified, kept, and processed exactly once.
//!
//! An event is accepted only with a valid `Stripe-Signature` (HMAC-SHA256 of `t.payload` with the
//! endpoint's secret, any of several `v1` values, within five minutes), then written to
//! `stripe_events` keyed by its id, so a repeated delivery is recognised and dropped. Processing
//! claims the event, applies it in the buying trust's transaction with conditional updates (a
//! charge settles only from `pending`), and marks it done; an event that cannot be processed yet
//! (a refund before its payment, say) is kept, retried with back-off by the worker, and shown to
//! platform admins. The order events arrive in does not matter.
//!
//! The local test mode builds the same events, signs them with its own secret and passes them
//! through the same door.

use crate::context::AppState;
use anyhow::{Context, anyhow};
use serde_json::{Value, json};
use trellis_db::audit;
use trellis_db::market::{self as mk, Settled};
use trellis_domain::market::{SIGNATURE_TOLERANCE_SECS, sign, verify_signature};
use trellis_domain::{ChargeId, TenantId};
/// The secret webhooks are signed with: the endpoint's, or the test mode's own (random for this
/// installation, never sent anywhere). `None` when payments are off: every delivery is refused.
pub fn webhook_secret(state: &AppState) -> Option<&str> {
    use trellis_integrations::payments::Payments;
    match &state.payments {
        Payments::Stripe { .. } => Some(&state.config.payments.webhook_secret),
        Payments::TestMode { webhook_secret, .. } => Some(webhook_secret),
        Payments::Off => None,
    }
}

/// Why a delivery was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("signature: {0}")]
    Signature(#[from] trellis_domain::market::SignatureError),
    #[error("not an event: {0}")]
    Payload(String),
}

/// Receives one delivery: verifies, keeps, and processes it. `Ok(false)` for a repeat. Errors in
/// processing do not refuse the delivery: the event is kept and retried.
pub async fn receive(state: &AppState, payload: &[u8], signature: &str) -> Result<bool, Refused> {
    let now = chrono::Utc::now().timestamp();
    let secret = webhook_secret(state).ok_or_else(|| Refused::Payload("payments are not set up".into()))?;
    verify_signature(payload, signature, secret, now, SIGNATURE_TOLERANCE_SECS)?;
    let v: Value = serde_json::from_slice(payload).map_err(|e| Refused::Payload(e.to_string()))?;
    let id = v["id"].as_str().filter(|s| !s.is_empty() && s.len() <= 255).ok_or(Refused::Payload("no id".into()))?;
    let kind = v["type"].as_str().unwrap_or_default();
    let text = String::from_utf8_lossy(payload);
    let new = match state.dbs.platform.record_stripe_event(id, kind, &text).await {
        Ok(n) => n,
        Err(e) => return Err(Refused::Payload(format!("cannot keep the event: {e}"))),
    };
    if new {
        // Kept already claimed by this delivery, so the worker cannot take it in between.
        run(state, id, &v, 0).await;
    }
    Ok(new)
}

/// Processes a kept event if it is due and unclaimed; records the outcome.
pub async fn process(state: &AppState, id: &str) {
    let claimed = match state.dbs.platform.claim_stripe_event(id).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, event = id, "payments: cannot claim the event");
            return;
        }
    };
    let Some((payload, attempts)) = claimed else { return };
    match serde_json::from_str::<Value>(&payload) {
        Ok(v) => run(state, id, &v, attempts).await,
        Err(e) => {
            if let Err(e) = state.dbs.platform.stripe_event_failed(id, attempts, &format!("not JSON: {e}")).await {
                tracing::error!(error = %e, event = id, "payments: outcome not recorded");
            }
        }
    }
}

/// Applies a claimed event and records the outcome.
async fn run(state: &AppState, id: &str, v: &Value, attempts: i32) {
    let outcome = apply(state, v).await;
    let recorded = match outcome {
        Ok(()) => state.dbs.platform.stripe_event_done(id).await,
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), event = id, "payments: event not processed; will retry");
            state.dbs.platform.stripe_event_failed(id, attempts, &format!("{e:#}")).await
        }
    };
    if let Err(e) = recorded {
        tracing::error!(error = %e, event = id, "payments: outcome not recorded");
    }
    crate::context::queue::wake(state).await;
}

/// Retries the events due (the worker calls this each round).
pub async fn retry_due(state: &AppState) {
    match state.dbs.platform.due_stripe_events(50).await {
        Ok(ids) => {
            for id in ids {
                process(state, &id).await;
            }
        }
        Err(e) => tracing::warn!(error = %e, "payments: cannot read due events"),
    }
}

fn metadata_charge(obj: &Value) -> Option<ChargeId> {
    obj["metadata"]["charge"].as_str().or_else(|| obj["client_reference_id"].as_str()).and_then(|s| s.parse().ok())
}

/// The trust a charge belongs to, from our own record (never from the event's word alone).
async fn owner(state: &AppState, charge: ChargeId, claimed: Option<&str>) -> anyhow::Result<TenantId> {
    let c = state
        .dbs
        .platform
        .charge_across_tenants(charge)
        .await?
        .ok_or_else(|| anyhow!("no charge {charge} (not yet written?)"))?;
    if let Some(t) = claimed
        && t != c.tenant.to_string()
    {
        return Err(anyhow!("charge {charge} does not belong to trust {t}"));
    }
    Ok(c.tenant)
}

fn today_of(state: &AppState, tenant: TenantId) -> chrono::NaiveDate {
    state
        .directory
        .sites()
        .iter()
        .find(|s| s.entry.id == tenant)
        .map_or_else(|| chrono::Utc::now().date_naive(), |s| s.today())
}

async fn apply(state: &AppState, v: &Value) -> anyhow::Result<()> {
    let obj = &v["data"]["object"];
    match v["type"].as_str().unwrap_or_default() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            if obj["payment_status"].as_str() != Some("paid") {
                // Paid later (a delayed method): async_payment_succeeded settles it.
                return Ok(());
            }
            let charge = metadata_charge(obj).context("checkout session without our charge")?;
            let tenant = owner(state, charge, obj["metadata"]["tenant"].as_str()).await?;
            let session = obj["id"].as_str().context("checkout session without an id")?;
            let intent = obj["payment_intent"].as_str();
            let tx = state.dbs.app.begin(tenant).await?;
            let settled = mk::settle(&tx, charge, session, intent, today_of(state, tenant)).await?;
            if settled == Settled::Now {
                audit::record(&tx, None, "market.paid", &charge.to_string(), None, json!({ "checkout": session }))
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        }
        "checkout.session.expired" | "checkout.session.async_payment_failed" => {
            let Some(charge) = metadata_charge(obj) else { return Ok(()) };
            let tenant = owner(state, charge, obj["metadata"]["tenant"].as_str()).await?;
            let tx = state.dbs.app.begin(tenant).await?;
            mk::cancel_pending(&tx, charge).await?;
            tx.commit().await?;
            Ok(())
        }
        "charge.refunded" => {
            let charge = metadata_charge(obj).context("refunded charge without our charge id")?;
            let tenant = owner(state, charge, obj["metadata"]["tenant"].as_str()).await?;
            let refund = obj["refunds"]["data"][0]["id"].as_str().or_else(|| obj["id"].as_str()).unwrap_or("refund");
            let tx = state.dbs.app.begin(tenant).await?;
            if mk::refunded(&tx, charge, refund).await? {
                audit::record(&tx, None, "market.refunded", &charge.to_string(), None, json!({})).await?;
            }
            tx.commit().await?;
            Ok(())
        }
        "invoice.paid" => {
            let invoice: uuid::Uuid = obj["metadata"]["invoice"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .context("invoice without our invoice id")?;
            let tenant: TenantId =
                obj["metadata"]["tenant"].as_str().and_then(|s| s.parse().ok()).context("invoice without its trust")?;
            let tx = state.dbs.app.begin(tenant).await?;
            // Scoped to the trust the metadata names: another trust's invoice is not found.
            mk::invoice(&tx, invoice).await?.with_context(|| format!("no invoice {invoice} in trust {tenant}"))?;
            if mk::invoice_paid(&tx, invoice).await? {
                audit::record(&tx, None, "market.invoice_paid", &invoice.to_string(), None, json!({})).await?;
            }
            tx.commit().await?;
            Ok(())
        }
        "account.updated" => {
            let account = obj["id"].as_str().context("account without an id")?;
            let charges = obj["charges_enabled"].as_bool().unwrap_or(false);
            let payouts = obj["payouts_enabled"].as_bool().unwrap_or(false);
            state.dbs.platform.set_account_status(account, charges, payouts).await?;
            Ok(())
        }
        // Events we do not act on are recorded and done.
        _ => Ok(()),
    }
}

/// Test mode: builds an event as Stripe would send it, signs it, and delivers it through
/// [`receive`].
pub async fn deliver_test_event(state: &AppState, kind: &str, object: Value) -> Result<bool, Refused> {
    let event = json!({
        "id": format!("evt_local_{}", uuid::Uuid::now_v7().simple()),
        "object": "event",
        "api_version": trellis_integrations::payments::STRIPE_VERSION,
        "created": chrono::Utc::now().timestamp(),
        "livemode": false,
        "type": kind,
        "data": { "object": object },
    });
    let body = event.to_string();
    let secret = state.payments.test_mode_secret().ok_or_else(|| Refused::Payload("not in test mode".into()))?;
    let header = sign(body.as_bytes(), secret, chrono::Utc::now().timestamp());
    receive(state, body.as_bytes(), &header).await
}

/// The local test mode: sends the event Stripe would send, through the webhook's own door.
pub async fn send_local(state: &AppState, kind: &str, object: serde_json::Value) -> Result<(), crate::error::AppError> {
    deliver_test_event(state, kind, object)
        .await
        .map(|_| ())
        .map_err(|e| crate::error::AppError::Internal(anyhow::anyhow!("{e}")))
}
