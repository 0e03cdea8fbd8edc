//! Opening a card checkout for a pending charge (prepaid seats, or a learner's own enrolment):
//! the payment itself is confirmed by Stripe's webhook, never by the browser's return.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use trellis_db::market::{self as mk, Adoption, Charge};
use trellis_integrations::payments::CheckoutRequest;

/// Opens the checkout and keeps its id on the charge (in a transaction of its own, after the
/// payment service answered). Returns the address to send the payer to.
pub async fn open(
    state: &AppState,
    site: &Site,
    charge: &Charge,
    a: &Adoption,
    name: &str,
    email: Option<String>,
    back: &str,
) -> Result<String, AppError> {
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
    Ok(c.url)
}
