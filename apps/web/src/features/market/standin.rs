//! The local test mode's pages, standing in for Stripe's hosted checkout, invoice and onboarding
//! pages (they exist only in the test mode, which says so on every page).

use super::*;

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
    hooks::send_local(state, kind, object).await?;
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
    hooks::send_local(state, "invoice.paid", object).await?;
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
    hooks::send_local(state, "account.updated", object).await?;
    let site = state.directory.sites().into_iter().find(|x| x.entry.id == s.tenant).ok_or(AppError::NotFound)?;
    Ok(see_other(&format!("{}selling", site.url)))
}
