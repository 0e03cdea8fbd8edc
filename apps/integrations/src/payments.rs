//! Payments: Stripe's API (Checkout Sessions, Connect accounts and onboarding links, refunds),
//! or, with no secret key, the local test mode that walks the same flows without the network.
//!
//! Requests go through `async-stripe` (the 1.0 split crates) with an `Idempotency-Key` on every
//! create, so a retried request never makes a second payment. The base address is
//! configuration: tests point it at a local stand-in speaking Stripe's shapes.

use anyhow::anyhow;
use std::collections::HashMap;
use std::time::Duration;
use stripe::{IdempotencyKey, RequestStrategy, StripeRequest};
use stripe_types::Currency;
use trellis_domain::config::PaymentsConfig;

/// The Stripe API version the client speaks (async-stripe's).
pub const STRIPE_VERSION: &str = "2026-09-30.endive";

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
    /// Stripe's API (api.stripe.com, or a stand-in in tests).
    Stripe { client: Box<stripe::Client> },
    /// No network: checkout and onboarding are pages of the platform's own site (`platform_url`);
    /// its webhooks are signed with `webhook_secret`, made for this installation and never sent
    /// anywhere.
    TestMode { platform_url: String, webhook_secret: String },
    /// No payments configured: every paid operation is refused.
    Off,
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

impl Payments {
    /// What `payments.mode` chose. The test mode's webhook secret is derived from `install_key`
    /// (the installation's `auth.secret`), or random for this process when there is none.
    pub fn from_config(config: &PaymentsConfig, platform_url: &str, install_key: &[u8]) -> anyhow::Result<Payments> {
        match config.effective_mode() {
            trellis_domain::config::PaymentsMode::Off => return Ok(Payments::Off),
            trellis_domain::config::PaymentsMode::Test => {
                return Ok(Payments::TestMode {
                    platform_url: platform_url.trim_end_matches('/').to_owned(),
                    webhook_secret: test_mode_secret(install_key),
                });
            }
            trellis_domain::config::PaymentsMode::Stripe => {}
        }
        crate::oidc::install_crypto_provider();
        let base = format!("{}/", config.stripe_api_base.trim_end_matches('/'));
        let client = stripe::ClientBuilder::new(config.stripe_secret_key.clone())
            .url(base)
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| anyhow!("payments: the Stripe client: {e}"))?;
        Ok(Payments::Stripe { client: Box::new(client) })
    }

    /// Whether this is the local test mode (pages say so).
    pub fn test_mode(&self) -> bool {
        matches!(self, Payments::TestMode { .. })
    }

    /// Whether paid features are available (Stripe or the test mode).
    pub fn enabled(&self) -> bool {
        !matches!(self, Payments::Off)
    }

    /// The test mode's webhook signing secret (`None` outside the test mode).
    pub fn test_mode_secret(&self) -> Option<&str> {
        match self {
            Payments::TestMode { webhook_secret, .. } => Some(webhook_secret),
            _ => None,
        }
    }

    fn client(&self) -> anyhow::Result<&stripe::Client> {
        match self {
            Payments::Stripe { client } => Ok(client),
            Payments::TestMode { .. } => Err(anyhow!("payments are in test mode")),
            Payments::Off => Err(anyhow!("payments are not set up on this service")),
        }
    }

    /// Opens a Checkout Session (mode `payment`) for one line item.
    pub async fn create_checkout(&self, r: &CheckoutRequest) -> anyhow::Result<Checkout> {
        if let Payments::TestMode { platform_url, .. } = self {
            let id = format!("cs_test_local_{}", r.charge.replace('-', ""));
            return Ok(Checkout { url: format!("{platform_url}/payments/test/checkout/{id}"), id });
        }
        use stripe_checkout::checkout_session::{
            CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
            CreateCheckoutSessionPaymentIntentData, CreateCheckoutSessionPaymentIntentDataTransferData, ProductData,
        };
        let metadata: HashMap<String, String> =
            [("charge".to_owned(), r.charge.clone()), ("tenant".to_owned(), r.tenant.clone())].into();
        let mut price = CreateCheckoutSessionLineItemsPriceData::new(currency(&r.currency));
        price.unit_amount = Some(r.unit_pence);
        price.product_data = Some(ProductData::new(r.name.as_str()));
        let mut item = CreateCheckoutSessionLineItems::new();
        item.price_data = Some(price);
        item.quantity = Some(u64::try_from(r.quantity).unwrap_or(1));
        let mut pi = CreateCheckoutSessionPaymentIntentData::new();
        pi.metadata = Some(metadata.clone());
        if let Some(d) = &r.destination {
            pi.application_fee_amount = Some(r.application_fee);
            pi.transfer_data = Some(CreateCheckoutSessionPaymentIntentDataTransferData::new(d.as_str()));
        }
        let mut req = CreateCheckoutSession::new()
            .mode(stripe_checkout::CheckoutSessionMode::Payment)
            .line_items(vec![item])
            .metadata(metadata)
            .client_reference_id(r.charge.as_str())
            .success_url(r.success_url.as_str())
            .cancel_url(r.cancel_url.as_str())
            .payment_intent_data(pi);
        if let Some(e) = &r.email {
            req = req.customer_email(e.as_str());
        }
        let c = req
            .customize()
            .request_strategy(idempotent(&format!("checkout-{}", r.charge))?)
            .send(self.client()?)
            .await
            .map_err(|e| anyhow!("Stripe: create a checkout session: {e}"))?;
        let url = c.url.ok_or_else(|| anyhow!("Stripe: the checkout session has no url"))?;
        Ok(Checkout { id: c.id.to_string(), url })
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
        if let Payments::TestMode { platform_url, .. } = self {
            let account = existing.map_or_else(|| format!("acct_local_{}", seller.replace('-', "")), str::to_owned);
            return Ok(Onboarding { url: format!("{platform_url}/payments/test/onboard/{account}"), account });
        }
        use stripe_connect::account::{CreateAccount, CreateAccountType};
        use stripe_connect::account_link::{CreateAccountLink, CreateAccountLinkType};
        let client = self.client()?;
        let account = match existing {
            Some(a) => a.to_owned(),
            None => {
                let metadata: HashMap<String, String> = [("seller".to_owned(), seller.to_owned())].into();
                let a = CreateAccount::new()
                    .type_(CreateAccountType::Express)
                    .country("GB")
                    .email(email)
                    .metadata(metadata)
                    .customize()
                    .request_strategy(idempotent(&format!("account-{seller}"))?)
                    .send(client)
                    .await
                    .map_err(|e| anyhow!("Stripe: create a connected account: {e}"))?;
                a.id.to_string()
            }
        };
        let l = CreateAccountLink::new(account.as_str(), CreateAccountLinkType::AccountOnboarding)
            .refresh_url(refresh_url)
            .return_url(return_url)
            .send(client)
            .await
            .map_err(|e| anyhow!("Stripe: create an onboarding link: {e}"))?;
        Ok(Onboarding { account, url: l.url })
    }

    /// Sends a trust its monthly invoice (collected by Stripe, due in 30 days): makes the trust a
    /// customer if it is not one, adds the lines, finalises it. Idempotent by our invoice's id.
    pub async fn send_invoice(&self, r: &InvoiceRequest) -> anyhow::Result<SentInvoice> {
        if let Payments::TestMode { platform_url, .. } = self {
            let id = format!("in_local_{}", r.invoice.replace('-', ""));
            let customer = r.customer.clone().unwrap_or_else(|| format!("cus_local_{}", r.tenant.replace('-', "")));
            return Ok(SentInvoice { url: format!("{platform_url}/payments/test/invoice/{id}"), id, customer });
        }
        use stripe_billing::invoice::{CreateInvoice, FinalizeInvoiceInvoice};
        use stripe_billing::invoice_item::CreateInvoiceItem;
        use stripe_core::customer::CreateCustomer;
        let client = self.client()?;
        let customer = match &r.customer {
            Some(c) => c.clone(),
            None => {
                let metadata: HashMap<String, String> = [("tenant".to_owned(), r.tenant.clone())].into();
                let mut req = CreateCustomer::new().name(r.name.as_str()).metadata(metadata);
                if let Some(e) = &r.email {
                    req = req.email(e.as_str());
                }
                let c = req
                    .customize()
                    .request_strategy(idempotent(&format!("customer-{}", r.tenant))?)
                    .send(client)
                    .await
                    .map_err(|e| anyhow!("Stripe: create a customer: {e}"))?;
                c.id.to_string()
            }
        };
        let metadata: HashMap<String, String> =
            [("invoice".to_owned(), r.invoice.clone()), ("tenant".to_owned(), r.tenant.clone())].into();
        let inv = CreateInvoice::new()
            .customer(customer.as_str())
            .collection_method(stripe_billing::InvoiceCollectionMethod::SendInvoice)
            .days_until_due(30u32)
            .auto_advance(false)
            .metadata(metadata)
            .customize()
            .request_strategy(idempotent(&format!("invoice-{}", r.invoice))?)
            .send(client)
            .await
            .map_err(|e| anyhow!("Stripe: create an invoice: {e}"))?;
        let id = inv.id.ok_or_else(|| anyhow!("Stripe: the invoice has no id"))?;
        for (i, (description, pence)) in r.lines.iter().enumerate() {
            CreateInvoiceItem::new()
                .customer(customer.as_str())
                .invoice(id.as_str())
                .amount(*pence)
                .currency(currency(&r.currency))
                .description(description.as_str())
                .customize()
                .request_strategy(idempotent(&format!("invoice-{}-{i}", r.invoice))?)
                .send(client)
                .await
                .map_err(|e| anyhow!("Stripe: add an invoice item: {e}"))?;
        }
        let f = FinalizeInvoiceInvoice::new(id.clone())
            .customize()
            .request_strategy(idempotent(&format!("finalize-{}", r.invoice))?)
            .send(client)
            .await
            .map_err(|e| anyhow!("Stripe: finalise the invoice: {e}"))?;
        let url =
            f.hosted_invoice_url.ok_or_else(|| anyhow!("Stripe: the finalised invoice has no hosted_invoice_url"))?;
        Ok(SentInvoice { customer, id: id.to_string(), url })
    }

    /// Pays a seller's connected account from the platform's balance (a billed invoice's
    /// sales less commission). Idempotent by `key`. Test mode: a local transfer id.
    pub async fn transfer(
        &self,
        key: &str,
        account: &str,
        pence: i64,
        currency_code: &str,
        group: &str,
    ) -> anyhow::Result<String> {
        if self.test_mode() {
            return Ok(format!("tr_local_{}", key.replace(['-', ':'], "")));
        }
        use stripe_connect::transfer::CreateTransfer;
        let metadata: HashMap<String, String> = [("invoice".to_owned(), group.to_owned())].into();
        let t = CreateTransfer::new(currency(currency_code), account)
            .amount(pence)
            .transfer_group(group)
            .metadata(metadata)
            .customize()
            .request_strategy(idempotent(&format!("transfer-{key}"))?)
            .send(self.client()?)
            .await
            .map_err(|e| anyhow!("Stripe: transfer to {account}: {e}"))?;
        Ok(t.id.to_string())
    }

    /// Refunds a payment in full, taking back the transfer to the seller and the platform's fee.
    /// Test mode: `None` (the caller sends the refund event itself).
    pub async fn refund(&self, charge: &str, payment_intent: &str) -> anyhow::Result<Option<String>> {
        if self.test_mode() {
            return Ok(None);
        }
        use stripe_core::refund::CreateRefund;
        let metadata: HashMap<String, String> = [("charge".to_owned(), charge.to_owned())].into();
        let r = CreateRefund::new()
            .payment_intent(payment_intent)
            .reverse_transfer(true)
            .refund_application_fee(true)
            .metadata(metadata)
            .customize()
            .request_strategy(idempotent(&format!("refund-{charge}"))?)
            .send(self.client()?)
            .await
            .map_err(|e| anyhow!("Stripe: refund {payment_intent}: {e}"))?;
        Ok(Some(r.id.to_string()))
    }
}

/// The test mode's signing secret: keyed from the installation's secret, so every instance of one
/// installation agrees and no two installations share it; random per process without one.
fn test_mode_secret(install_key: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let key: Vec<u8> = if install_key.is_empty() { rand::random::<[u8; 32]>().to_vec() } else { install_key.to_vec() };
    match <Hmac<sha2::Sha256> as Mac>::new_from_slice(&key) {
        Ok(mut m) => {
            m.update(b"trellis payments test-mode webhook secret");
            format!("whsec_{}", hex::encode(m.finalize().into_bytes()))
        }
        Err(_) => format!("whsec_{}", hex::encode(rand::random::<[u8; 32]>())),
    }
}

fn idempotent(key: &str) -> anyhow::Result<RequestStrategy> {
    Ok(RequestStrategy::Idempotent(IdempotencyKey::new(key).map_err(|e| anyhow!("idempotency key {key}: {e:?}"))?))
}

fn currency(code: &str) -> Currency {
    code.parse().unwrap_or(Currency::GBP)
}
