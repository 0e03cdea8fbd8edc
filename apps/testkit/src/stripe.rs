//! A local stand-in for Stripe's API at the HTTP boundary: it speaks the shapes Trellis uses
//! (form-encoded requests with a bearer key and idempotency keys; JSON answers), records what it
//! was asked, and builds the events Stripe would send, for tests to sign and deliver.

use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::{Data, Form};
use poem::{EndpointExt, Request, Response, Route, handler, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The secret key tests configure (the stand-in checks it).
pub const SECRET_KEY: &str = "sk_test_trellis_standin";
/// The webhook signing secret tests configure.
pub const WEBHOOK_SECRET: &str = "whsec_trellis_standin";

/// A checkout session the stand-in opened.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub charge: String,
    pub tenant: String,
    pub amount: i64,
    pub fee: Option<i64>,
    pub destination: Option<String>,
    pub idempotency_key: Option<String>,
}

#[derive(Default)]
struct Book {
    sessions: Vec<Session>,
    by_key: HashMap<String, usize>,
    accounts: Vec<String>,
    refunds: Vec<(String, String)>,
    requests: usize,
    /// Invoices: id → (customer, our invoice id, our trust, items (description, pence), finalised).
    invoices: Vec<Invoice>,
    customers: usize,
    transfers: Vec<Transfer>,
    transfer_keys: HashMap<String, usize>,
}

/// An invoice the stand-in holds.
#[derive(Debug, Clone)]
pub struct Invoice {
    pub id: String,
    pub customer: String,
    pub ours: String,
    pub tenant: String,
    pub items: Vec<(String, i64)>,
    pub finalised: bool,
}

/// A transfer to a connected account.
#[derive(Debug, Clone)]
pub struct Transfer {
    pub id: String,
    pub amount: i64,
    pub destination: String,
    pub group: String,
}

/// The running stand-in.
pub struct StripeStandIn {
    pub port: u16,
    book: Arc<Mutex<Book>>,
    _task: tokio::task::JoinHandle<()>,
}

fn authorised(req: &Request) -> bool {
    req.header("authorization") == Some(&format!("Bearer {SECRET_KEY}"))
}

fn refuse() -> Response {
    Response::builder().status(StatusCode::UNAUTHORIZED).content_type("application/json").body(
        json!({ "error": { "type": "invalid_request_error", "message": "Invalid API Key provided" } }).to_string(),
    )
}

fn ok(v: Value) -> Response {
    Response::builder().content_type("application/json").body(v.to_string())
}

#[handler]
fn checkout(req: &Request, Data(book): Data<&Arc<Mutex<Book>>>, Form(f): Form<HashMap<String, String>>) -> Response {
    if !authorised(req) {
        return refuse();
    }
    let key = req.header("idempotency-key").map(str::to_owned);
    let Ok(mut b) = book.lock() else { return refuse() };
    b.requests += 1;
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let session = match key.as_ref().and_then(|k| b.by_key.get(k).copied()) {
        Some(i) => b.sessions[i].clone(),
        None => {
            if get("mode") != "payment" || get("line_items[0][price_data][currency]") != "gbp" {
                return Response::builder().status(StatusCode::BAD_REQUEST).content_type("application/json").body(
                    json!({ "error": { "type": "invalid_request_error", "message": "mode and currency" } }).to_string(),
                );
            }
            let unit: i64 = get("line_items[0][price_data][unit_amount]").parse().unwrap_or(0);
            let qty: i64 = get("line_items[0][quantity]").parse().unwrap_or(1);
            let s = Session {
                id: format!("cs_test_{:04}{}", b.sessions.len(), uuid::Uuid::now_v7().simple()),
                charge: get("metadata[charge]"),
                tenant: get("metadata[tenant]"),
                amount: unit * qty,
                fee: f.get("payment_intent_data[application_fee_amount]").and_then(|v| v.parse().ok()),
                destination: f.get("payment_intent_data[transfer_data][destination]").cloned(),
                idempotency_key: key.clone(),
            };
            b.sessions.push(s.clone());
            let i = b.sessions.len() - 1;
            if let Some(k) = key {
                b.by_key.insert(k, i);
            }
            s
        }
    };
    ok(json!({
        "id": session.id,
        "object": "checkout.session",
        "created": chrono_now(),
        "expires_at": chrono_now() + 86_400,
        "livemode": false,
        "automatic_tax": { "enabled": false },
        "custom_fields": [],
        "custom_text": {},
        "payment_method_types": ["card"],
        "shipping_options": [],
        "mode": "payment",
        "status": "open",
        "payment_status": "unpaid",
        "amount_total": session.amount,
        "currency": "gbp",
        "url": format!("https://checkout.stripe.test/c/pay/{}", session.id),
        "metadata": { "charge": session.charge, "tenant": session.tenant },
    }))
}

#[handler]
fn account(req: &Request, Data(book): Data<&Arc<Mutex<Book>>>) -> Response {
    if !authorised(req) {
        return refuse();
    }
    let Ok(mut b) = book.lock() else { return refuse() };
    let id = format!("acct_standin_{}", b.accounts.len() + 1);
    b.accounts.push(id.clone());
    ok(json!({ "id": id, "object": "account", "type": "express", "charges_enabled": false, "payouts_enabled": false }))
}

#[handler]
fn account_link(req: &Request, Form(f): Form<HashMap<String, String>>) -> Response {
    if !authorised(req) {
        return refuse();
    }
    let acct = f.get("account").cloned().unwrap_or_default();
    ok(json!({
        "object": "account_link",
        "created": chrono_now(),
        "expires_at": chrono_now() + 300,
        "url": format!("https://connect.stripe.test/setup/e/{acct}"),
    }))
}

#[handler]
fn refund(req: &Request, Data(book): Data<&Arc<Mutex<Book>>>, Form(f): Form<HashMap<String, String>>) -> Response {
    if !authorised(req) {
        return refuse();
    }
    let Ok(mut b) = book.lock() else { return refuse() };
    let id = format!("re_standin_{}", b.refunds.len() + 1);
    b.refunds.push((id.clone(), f.get("metadata[charge]").cloned().unwrap_or_default()));
    ok(json!({
        "id": id, "object": "refund", "status": "succeeded", "payment_intent": f.get("payment_intent"),
        "amount": 0, "currency": "gbp", "created": chrono_now(),
    }))
}

#[handler]
fn customer(req: &Request, Data(book): Data<&Arc<Mutex<Book>>>) -> Response {
    if !authorised(req) {
        return refuse();
    }
    let Ok(mut b) = book.lock() else { return refuse() };
    b.customers += 1;
    ok(
        json!({ "id": format!("cus_standin_{}", b.customers), "object": "customer", "created": chrono_now(), "livemode": false }),
    )
}

#[handler]
fn create_invoice(
    req: &Request,
    Data(book): Data<&Arc<Mutex<Book>>>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if !authorised(req) {
        return refuse();
    }
    let Ok(mut b) = book.lock() else { return refuse() };
    let ours = f.get("metadata[invoice]").cloned().unwrap_or_default();
    if let Some(i) = b.invoices.iter().find(|i| i.ours == ours) {
        return ok(invoice_json(&i.id));
    }
    let id = format!("in_standin_{}", b.invoices.len() + 1);
    b.invoices.push(Invoice {
        id: id.clone(),
        customer: f.get("customer").cloned().unwrap_or_default(),
        ours,
        tenant: f.get("metadata[tenant]").cloned().unwrap_or_default(),
        items: Vec::new(),
        finalised: false,
    });
    ok(invoice_json(&id))
}

/// An invoice as Stripe answers (the fields the client requires).
fn invoice_json(id: &str) -> Value {
    json!({
        "id": id, "object": "invoice", "status": "draft",
        "hosted_invoice_url": format!("https://invoice.stripe.test/i/{id}"),
        "amount_due": 0, "amount_overpaid": 0, "amount_paid": 0, "amount_remaining": 0, "amount_shipping": 0,
        "attempt_count": 0, "attempted": false, "automatic_tax": { "enabled": false },
        "collection_method": "send_invoice", "created": chrono_now(), "currency": "gbp", "default_tax_rates": [],
        "discounts": [], "issuer": { "type": "self" },
        "lines": { "object": "list", "data": [], "has_more": false, "url": format!("/v1/invoices/{id}/lines") },
        "livemode": false, "payment_settings": {}, "period_end": chrono_now(), "period_start": chrono_now(),
        "post_payment_credit_notes_amount": 0, "pre_payment_credit_notes_amount": 0, "starting_balance": 0,
        "status_transitions": {}, "subtotal": 0, "total": 0,
    })
}

#[handler]
fn invoice_item(
    req: &Request,
    Data(book): Data<&Arc<Mutex<Book>>>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if !authorised(req) {
        return refuse();
    }
    let key = req.header("idempotency-key").unwrap_or_default().to_owned();
    let Ok(mut b) = book.lock() else { return refuse() };
    let inv = f.get("invoice").cloned().unwrap_or_default();
    let amount: i64 = f.get("amount").and_then(|a| a.parse().ok()).unwrap_or(0);
    let description = f.get("description").cloned().unwrap_or_default();
    let seen = b.transfer_keys.contains_key(&key);
    if !seen {
        b.transfer_keys.insert(key, 0);
        if let Some(i) = b.invoices.iter_mut().find(|i| i.id == inv) {
            i.items.push((description, amount));
        }
    }
    ok(json!({
        "id": format!("ii_{}", uuid::Uuid::now_v7().simple()), "object": "invoiceitem", "amount": amount,
        "currency": "gbp", "customer": f.get("customer"), "date": chrono_now(), "discountable": true,
        "livemode": false, "period": { "start": chrono_now(), "end": chrono_now() }, "proration": false,
        "quantity": 1, "quantity_decimal": "1",
    }))
}

#[handler]
fn finalize(
    req: &Request,
    Data(book): Data<&Arc<Mutex<Book>>>,
    poem::web::Path(id): poem::web::Path<String>,
) -> Response {
    if !authorised(req) {
        return refuse();
    }
    let Ok(mut b) = book.lock() else { return refuse() };
    if let Some(i) = b.invoices.iter_mut().find(|i| i.id == id) {
        i.finalised = true;
    }
    let mut v = invoice_json(&id);
    v["status"] = json!("open");
    ok(v)
}

#[handler]
fn transfer(req: &Request, Data(book): Data<&Arc<Mutex<Book>>>, Form(f): Form<HashMap<String, String>>) -> Response {
    if !authorised(req) {
        return refuse();
    }
    let key = req.header("idempotency-key").unwrap_or_default().to_owned();
    let Ok(mut b) = book.lock() else { return refuse() };
    let existing = b.transfer_keys.get(&format!("t:{key}")).copied();
    let t = match existing {
        Some(i) => b.transfers[i].clone(),
        None => {
            let t = Transfer {
                id: format!("tr_standin_{}", b.transfers.len() + 1),
                amount: f.get("amount").and_then(|a| a.parse().ok()).unwrap_or(0),
                destination: f.get("destination").cloned().unwrap_or_default(),
                group: f.get("transfer_group").cloned().unwrap_or_default(),
            };
            b.transfers.push(t.clone());
            let n = b.transfers.len() - 1;
            b.transfer_keys.insert(format!("t:{key}"), n);
            t
        }
    };
    ok(json!({
        "id": t.id, "object": "transfer", "amount": t.amount, "destination": t.destination, "amount_reversed": 0,
        "currency": "gbp", "created": chrono_now(), "livemode": false, "metadata": {}, "reversed": false,
        "reversals": { "object": "list", "data": [], "has_more": false, "url": format!("/v1/transfers/{}/reversals", t.id) },
    }))
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

impl StripeStandIn {
    /// Starts the stand-in on a loopback port.
    pub async fn start() -> Self {
        let book: Arc<Mutex<Book>> = Arc::default();
        let app = Route::new()
            .at("/v1/checkout/sessions", post(checkout))
            .at("/v1/accounts", post(account))
            .at("/v1/account_links", post(account_link))
            .at("/v1/refunds", post(refund))
            .at("/v1/customers", post(customer))
            .at("/v1/invoices", post(create_invoice))
            .at("/v1/invoiceitems", post(invoice_item))
            .at("/v1/invoices/:id/finalize", post(finalize))
            .at("/v1/transfers", post(transfer))
            .data(book.clone());
        let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.expect("bind the Stripe stand-in");
        let port = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().map(std::net::SocketAddr::port))
            .expect("the stand-in's port");
        let task = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor).run(app).await;
        });
        Self { port, book, _task: task }
    }

    /// The API base to configure (`payments.stripe_api_base`).
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// The sessions opened so far.
    pub fn sessions(&self) -> Vec<Session> {
        self.book.lock().map(|b| b.sessions.clone()).unwrap_or_default()
    }

    /// How many requests for checkout sessions arrived (retries included).
    pub fn checkout_requests(&self) -> usize {
        self.book.lock().map(|b| b.requests).unwrap_or_default()
    }

    /// The refunds asked for: (refund id, our charge id).
    pub fn refunds(&self) -> Vec<(String, String)> {
        self.book.lock().map(|b| b.refunds.clone()).unwrap_or_default()
    }

    /// The invoices sent so far.
    pub fn invoices(&self) -> Vec<Invoice> {
        self.book.lock().map(|b| b.invoices.clone()).unwrap_or_default()
    }

    /// The transfers made so far.
    pub fn transfers(&self) -> Vec<Transfer> {
        self.book.lock().map(|b| b.transfers.clone()).unwrap_or_default()
    }

    /// The event Stripe sends when an invoice is paid.
    pub fn invoice_paid_event(i: &Invoice) -> String {
        let total: i64 = i.items.iter().map(|(_, p)| p).sum();
        json!({
            "id": format!("evt_{}", uuid::Uuid::now_v7().simple()),
            "object": "event",
            "type": "invoice.paid",
            "created": chrono_now(),
            "livemode": false,
            "data": { "object": {
                "id": i.id, "object": "invoice", "status": "paid", "paid": true, "amount_paid": total,
                "customer": i.customer, "metadata": { "invoice": i.ours, "tenant": i.tenant },
            }},
        })
        .to_string()
    }

    /// The event Stripe sends when a session is paid.
    pub fn completed_event(s: &Session) -> String {
        json!({
            "id": format!("evt_{}", uuid::Uuid::now_v7().simple()),
            "object": "event",
            "type": "checkout.session.completed",
            "created": chrono_now(),
            "livemode": false,
            "data": { "object": {
                "id": s.id, "object": "checkout.session", "status": "complete", "payment_status": "paid",
                "amount_total": s.amount, "currency": "gbp", "client_reference_id": s.charge,
                "payment_intent": format!("pi_{}", s.id.trim_start_matches("cs_")),
                "metadata": { "charge": s.charge, "tenant": s.tenant },
            }},
        })
        .to_string()
    }

    /// The event Stripe sends when a session's payment is refunded.
    pub fn refunded_event(s: &Session) -> String {
        json!({
            "id": format!("evt_{}", uuid::Uuid::now_v7().simple()),
            "object": "event",
            "type": "charge.refunded",
            "created": chrono_now(),
            "livemode": false,
            "data": { "object": {
                "id": format!("ch_{}", s.id.trim_start_matches("cs_")), "object": "charge", "refunded": true,
                "amount_refunded": s.amount,
                "payment_intent": format!("pi_{}", s.id.trim_start_matches("cs_")),
                "metadata": { "charge": s.charge, "tenant": s.tenant },
                "refunds": { "object": "list", "data": [{ "id": format!("re_{}", s.id.trim_start_matches("cs_")) }] },
            }},
        })
        .to_string()
    }

    /// A `Stripe-Signature` header for `payload`, now, as Stripe signs.
    pub fn sign(payload: &str) -> String {
        trellis_domain::market::sign(payload.as_bytes(), WEBHOOK_SECRET, chrono_now())
    }
}
