//! Payments: Stripe's API (Checkout Sessions, Connect accounts and onboarding links, refunds),
//! or, with no secret key, the local test mode that walks the same flows without the network.
//!
//! Requests are Stripe's form-encoded API over HTTPS with the secret key as a bearer token and
//! an `Idempotency-Key` on every create, so a retried request never makes a second payment. The
//! base address is configuration: tests point it at a local stand-in speaking Stripe's shapes.

use anyhow::{Context, anyhow};
use serde::Deserialize;
use std::time::Duration;
use trellis_core::config::PaymentsConfig;

/// The Stripe API version requests ask for.
pub const STRIPE_VERSION: &str = "2025-10-29.clover";

/// The signing secret of the local test mode's webhook (no Stripe account: nothing secret).
pub const TEST_MODE_WEBHOOK_SECRET: &str = "whsec_trellis_local_test_mode";

/// A checkout to open: one line item, paid to a seller's connected account less the fee.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    /// Our charge's id: the idempotency key and the session's `client_reference_id`.
    pub charge: String,
    /// The buying trust (in the metadata, so the webhook finds the charge's owner).
    pub tenant: String,
    pub name: String,
    pub unit_pence: i64,
    pub quantity: i64,
    pub currency: String,
    pub email: Option<String>,
    pub success_url: String,
    pub cancel_url: String,
    /// The seller's connected account and the platform's fee on the whole amount.
    pub destination: Option<String>,
    pub application_fee: i64,
}

/// An opened checkout session: where to send the payer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    pub id: String,
    pub url: String,
}

/// A connected account's onboarding link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Onboarding {
    pub account: String,
    pub url: String,
}

/// The payments provider the configuration chose.
#[derive(Clone)]
pub enum Payments {
    /// Stripe's API at `base` (api.stripe.com, or a stand-in in tests).
    Stripe { http: reqwest::Client, base: String, key: String },
    /// No network: checkout and onboarding are pages of the platform's own site (`platform_url`).
    TestMode { platform_url: String },
}

#[derive(Deserialize)]
struct IdUrl {
    id: String,
    url: Option<String>,
}

#[derive(Deserialize)]
struct Finalized {
    id: String,
    hosted_invoice_url: Option<String>,
}

/// An invoice to send a trust: its lines (description, pence).
#[derive(Debug, Clone)]
pub struct InvoiceRequest {
    /// Our invoice's id (metadata and idempotency keys).
    pub invoice: String,
    pub tenant: String,
    pub customer: Option<String>,
    pub name: String,
    pub email: Option<String>,
    pub currency: String,
    pub lines: Vec<(String, i64)>,
}

/// A sent invoice: the customer it is for, Stripe's id and where the trust pays it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentInvoice {
    pub customer: String,
    pub id: String,
    pub url: String,
}

#[derive(Deserialize)]
struct Link {
    url: String,
}

#[derive(Deserialize)]
struct StripeError {
    error: StripeErrorBody,
}

#[derive(Deserialize)]
struct StripeErrorBody {
    #[serde(default)]
    message: String,
    #[serde(default, rename = "type")]
    kind: String,
}

impl Payments {
    /// Stripe when a secret key is configured, else the local test mode.
    pub fn from_config(config: &PaymentsConfig, platform_url: &str) -> anyhow::Result<Payments> {
        if config.test_mode() {
            return Ok(Payments::TestMode { platform_url: platform_url.trim_end_matches('/').to_owned() });
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("payments: HTTP client")?;
        Ok(Payments::Stripe {
            http,
            base: config.stripe_api_base.trim_end_matches('/').to_owned(),
            key: config.stripe_secret_key.clone(),
        })
    }

    /// Whether this is the local test mode (pages say so).
    pub fn test_mode(&self) -> bool {
        matches!(self, Payments::TestMode { .. })
    }

    async fn post<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        idempotency: Option<&str>,
        form: &[(String, String)],
    ) -> anyhow::Result<T> {
        let Payments::Stripe { http, base, key } = self else { return Err(anyhow!("payments are in test mode")) };
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let mut req = http
            .post(format!("{base}{path}"))
            .bearer_auth(key)
            .header("Stripe-Version", STRIPE_VERSION)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(k) = idempotency {
            req = req.header("Idempotency-Key", k);
        }
        let res = req.send().await.with_context(|| format!("Stripe: POST {path}"))?;
        let status = res.status();
        let bytes = res.bytes().await.context("Stripe: reading the answer")?;
        if !status.is_success() {
            let e = serde_json::from_slice::<StripeError>(&bytes)
                .map(|e| format!("{} ({})", e.error.message, e.error.kind))
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).chars().take(300).collect());
            return Err(anyhow!("Stripe: POST {path}: {status}: {e}"));
        }
        serde_json::from_slice(&bytes).with_context(|| format!("Stripe: POST {path}: unexpected answer"))
    }

    /// Opens a Checkout Session (mode `payment`) for one line item.
    pub async fn create_checkout(&self, r: &CheckoutRequest) -> anyhow::Result<Checkout> {
        if let Payments::TestMode { platform_url } = self {
            let id = format!("cs_test_local_{}", r.charge.replace('-', ""));
            return Ok(Checkout { url: format!("{platform_url}/payments/test/checkout/{id}"), id });
        }
        let s = |v: &str| v.to_owned();
        let mut form: Vec<(String, String)> = vec![
            (s("mode"), s("payment")),
            (s("client_reference_id"), r.charge.clone()),
            (s("success_url"), r.success_url.clone()),
            (s("cancel_url"), r.cancel_url.clone()),
            (s("line_items[0][quantity]"), r.quantity.to_string()),
            (s("line_items[0][price_data][currency]"), r.currency.clone()),
            (s("line_items[0][price_data][unit_amount]"), r.unit_pence.to_string()),
            (s("line_items[0][price_data][product_data][name]"), r.name.clone()),
            (s("metadata[charge]"), r.charge.clone()),
            (s("metadata[tenant]"), r.tenant.clone()),
            (s("payment_intent_data[metadata][charge]"), r.charge.clone()),
            (s("payment_intent_data[metadata][tenant]"), r.tenant.clone()),
        ];
        if let Some(e) = &r.email {
            form.push((s("customer_email"), e.clone()));
        }
        if let Some(d) = &r.destination {
            form.push((s("payment_intent_data[application_fee_amount]"), r.application_fee.to_string()));
            form.push((s("payment_intent_data[transfer_data][destination]"), d.clone()));
        }
        let c: IdUrl = self.post("/v1/checkout/sessions", Some(&format!("checkout-{}", r.charge)), &form).await?;
        let url = c.url.ok_or_else(|| anyhow!("Stripe: the checkout session has no url"))?;
        Ok(Checkout { id: c.id, url })
    }

    /// Creates a seller's connected account (Express, in the UK) if it has none, and the link
    /// that takes them through Stripe's onboarding.
    pub async fn onboard(
        &self,
        seller: &str,
        existing: Option<&str>,
        email: &str,
        return_url: &str,
        refresh_url: &str,
    ) -> anyhow::Result<Onboarding> {
        if let Payments::TestMode { platform_url } = self {
            let account = existing.map_or_else(|| format!("acct_local_{}", seller.replace('-', "")), str::to_owned);
            return Ok(Onboarding { url: format!("{platform_url}/payments/test/onboard/{account}"), account });
        }
        let account = match existing {
            Some(a) => a.to_owned(),
            None => {
                let s = |v: &str| v.to_owned();
                let form = vec![
                    (s("type"), s("express")),
                    (s("country"), s("GB")),
                    (s("email"), email.to_owned()),
                    (s("capabilities[card_payments][requested]"), s("true")),
                    (s("capabilities[transfers][requested]"), s("true")),
                    (s("metadata[seller]"), seller.to_owned()),
                ];
                let a: IdUrl = self.post("/v1/accounts", Some(&format!("account-{seller}")), &form).await?;
                a.id
            }
        };
        let form = vec![
            ("account".to_owned(), account.clone()),
            ("refresh_url".to_owned(), refresh_url.to_owned()),
            ("return_url".to_owned(), return_url.to_owned()),
            ("type".to_owned(), "account_onboarding".to_owned()),
        ];
        let l: Link = self.post("/v1/account_links", None, &form).await?;
        Ok(Onboarding { account, url: l.url })
    }

    /// Sends a trust its monthly invoice (collected by Stripe, due in 30 days): makes the trust a
    /// customer if it is not one, adds the lines, finalises it. Idempotent by our invoice's id.
    pub async fn send_invoice(&self, r: &InvoiceRequest) -> anyhow::Result<SentInvoice> {
        if let Payments::TestMode { platform_url } = self {
            let id = format!("in_local_{}", r.invoice.replace('-', ""));
            let customer = r.customer.clone().unwrap_or_else(|| format!("cus_local_{}", r.tenant.replace('-', "")));
            return Ok(SentInvoice { url: format!("{platform_url}/payments/test/invoice/{id}"), id, customer });
        }
        let s = |v: &str| v.to_owned();
        let customer = match &r.customer {
            Some(c) => c.clone(),
            None => {
                let mut form = vec![(s("name"), r.name.clone()), (s("metadata[tenant]"), r.tenant.clone())];
                if let Some(e) = &r.email {
                    form.push((s("email"), e.clone()));
                }
                let c: IdUrl = self.post("/v1/customers", Some(&format!("customer-{}", r.tenant)), &form).await?;
                c.id
            }
        };
        let form = vec![
            (s("customer"), customer.clone()),
            (s("collection_method"), s("send_invoice")),
            (s("days_until_due"), s("30")),
            (s("auto_advance"), s("false")),
            (s("pending_invoice_items_behavior"), s("exclude")),
            (s("metadata[invoice]"), r.invoice.clone()),
            (s("metadata[tenant]"), r.tenant.clone()),
        ];
        let inv: IdUrl = self.post("/v1/invoices", Some(&format!("invoice-{}", r.invoice)), &form).await?;
        for (i, (description, pence)) in r.lines.iter().enumerate() {
            let form = vec![
                (s("customer"), customer.clone()),
                (s("invoice"), inv.id.clone()),
                (s("amount"), pence.to_string()),
                (s("currency"), r.currency.clone()),
                (s("description"), description.clone()),
            ];
            let _: IdUrl = self.post("/v1/invoiceitems", Some(&format!("invoice-{}-{i}", r.invoice)), &form).await?;
        }
        let f: Finalized = self
            .post(&format!("/v1/invoices/{}/finalize", inv.id), Some(&format!("finalize-{}", r.invoice)), &[])
            .await?;
        let url =
            f.hosted_invoice_url.ok_or_else(|| anyhow!("Stripe: the finalised invoice has no hosted_invoice_url"))?;
        Ok(SentInvoice { customer, id: f.id, url })
    }

    /// Pays a seller's connected account from the platform's balance (a billed invoice's
    /// sales less commission). Idempotent by `key`. Test mode: a local transfer id.
    pub async fn transfer(
        &self,
        key: &str,
        account: &str,
        pence: i64,
        currency: &str,
        group: &str,
    ) -> anyhow::Result<String> {
        if self.test_mode() {
            return Ok(format!("tr_local_{}", key.replace(['-', ':'], "")));
        }
        let form = vec![
            ("amount".to_owned(), pence.to_string()),
            ("currency".to_owned(), currency.to_owned()),
            ("destination".to_owned(), account.to_owned()),
            ("transfer_group".to_owned(), group.to_owned()),
            ("metadata[invoice]".to_owned(), group.to_owned()),
        ];
        let t: IdUrl = self.post("/v1/transfers", Some(&format!("transfer-{key}")), &form).await?;
        Ok(t.id)
    }

    /// Refunds a payment in full, taking back the transfer to the seller and the platform's fee.
    /// Test mode: `None` (the caller sends the refund event itself).
    pub async fn refund(&self, charge: &str, payment_intent: &str) -> anyhow::Result<Option<String>> {
        if self.test_mode() {
            return Ok(None);
        }
        let form = vec![
            ("payment_intent".to_owned(), payment_intent.to_owned()),
            ("reverse_transfer".to_owned(), "true".to_owned()),
            ("refund_application_fee".to_owned(), "true".to_owned()),
            ("metadata[charge]".to_owned(), charge.to_owned()),
        ];
        let r: IdUrl = self.post("/v1/refunds", Some(&format!("refund-{charge}")), &form).await?;
        Ok(Some(r.id))
    }
}
