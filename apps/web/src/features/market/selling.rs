//! Selling, on a vendor's or a trust's site: registering, Stripe onboarding, listings, earnings.

use super::*;
use trellis_db::audit;
use trellis_db::states::CourseStatus;

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
        .filter(|c| c.status == CourseStatus::Published && c.kind == "course")
        .map(|c| json!({ "id": c.id.to_string(), "title": c.title }))
        .collect();
    let balances = mk::balances(&tx).await?;
    let lines = mk::ledger(&tx, 200).await?;
    let months = crate::http::chart::months_to(site.today(), 12);
    let since = crate::http::chart::first_day(&months)
        .unwrap_or_else(|| site.today())
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    let by_month: BTreeMap<String, (i64, i64)> =
        mk::sales_by_month(&tx, since).await?.into_iter().map(|(m, n, e)| (m, (n, e))).collect();
    tx.commit().await?;
    let sales: Vec<(String, i64, String)> = months
        .iter()
        .map(|m| {
            let (n, e) = by_month.get(m).copied().unwrap_or((0, 0));
            (m.clone(), e, format!("{} ({n} {})", format_pence(e), if n == 1 { "sale" } else { "sales" }))
        })
        .collect();
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
        "sales": crate::http::chart::month_columns(&sales),
        "sales_since": crate::http::chart::month_words(&months[0]).0,
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
    audit::record(&tx, Some(me.person), "market.seller_registered", "", None, json!({ "kind": f.kind })).await?;
    tx.commit().await?;
    Ok(page::see_other_saying(req, "/selling", "Registered as a seller: set up payouts next"))
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
        Some(c) => cat::course(&tx, c)
            .await?
            .filter(|c| !c.national && c.status == CourseStatus::Published && c.kind == "course"),
        None => None,
    };
    let (objects, packages) = match &course {
        Some(c) => match c.current_version {
            Some(v) => (cat::objects(&tx, v).await?, trellis_db::elearning::packages_of(&tx, c.id).await?),
            None => (Vec::new(), Vec::new()),
        },
        None => (Vec::new(), Vec::new()),
    };
    // A session showing the trust's own library resource would show nothing to a buying trust.
    let mut own_library = false;
    for rid in objects.iter().filter_map(|o| o.resource) {
        own_library |= trellis_db::library::get(&tx, rid).await?.is_none_or(|r| !r.is_national());
    }
    tx.commit().await?;
    if course.is_none() {
        errors.push(("course".to_owned(), "Choose one of your published courses.".to_owned()));
    } else if own_library {
        errors.push((
            "course".to_owned(),
            "This course shows resources of your trust's library, which other trusts cannot see: have them accepted into the national library, or take those sessions out, before you sell it.".to_owned(),
        ));
    }
    let input = match m::check_listing(&f.listing) {
        Ok(i) => Some(i),
        Err(e) => {
            errors.extend(e.into_iter().map(|(k, v)| (k.to_owned(), v)));
            None
        }
    };
    let (Some(course), Some(input)) = (course.filter(|_| !own_library), input) else {
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
    audit::record(
        &tx,
        Some(me.person),
        "market.listing_submitted",
        &l.id.to_string(),
        None,
        json!({ "course": course.code }),
    )
    .await?;
    tx.commit().await?;
    Ok(page::see_other_saying(req, "/selling", "Listing sent for review: the platform checks it before it goes live"))
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
    req: &Request,
    Ctx { state, site, .. }: Ctx<'_>,
    member: Member<may::Sell>,
    Path(lid): Path<String>,
) -> Result<Response, AppError> {
    let me = member.release().await?;
    let lid: ListingId = page::path_id(&lid)?;
    let s = state.dbs.platform.seller_of_site(site.entry.id).await?.ok_or(AppError::NotFound)?;
    if state.dbs.platform.withdraw_listing(lid, s.id).await? {
        let tx = state.dbs.app.begin(site.entry.id).await?;
        audit::record(&tx, Some(me.person), "market.listing_withdrawn", &lid.to_string(), None, json!({})).await?;
        tx.commit().await?;
        return Ok(page::see_other_saying(
            req,
            "/selling",
            "Listing withdrawn: trusts can no longer add it, and enrolments already made go on",
        ));
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
