//! The background worker: emails, reminder digests and staff imports, each carrying its trust.
//!
//! Work is written to the outbox table in the same transaction as the change that causes it, so
//! nothing is lost if a process dies between the two (a queue written after the commit could lose
//! it). Each item is claimed before it runs, so two workers never both take it; a failure is
//! retried with back-off. With Redis configured, enqueuers also publish on the `jobs` topic and
//! every worker wakes at once rather than at its next poll; the daily compliance run is claimed
//! per trust and day, so it runs once however many workers there are.
//!
//! Every job is idempotent: an email is marked sent once; a digest marks each reminder in the
//! transaction that queues it; an import applied twice finds nothing left to change.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::features::account::render_email;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use trellis_db::audit;
use trellis_db::outbox;
use trellis_db::outbox::DueItem;
use trellis_db::{compliance, staff};
use trellis_domain::PersonId;
use trellis_domain::staff_import;
use trellis_integrations::mailer::{Email, Mailer};

use crate::context::queue::{JOBS_TOPIC, Job, enqueue};

fn site_of(state: &AppState, item: &DueItem) -> Option<Arc<Site>> {
    state.directory.sites().into_iter().find(|s| s.entry.id == item.tenant)
}

/// Runs one item. `Ok` means done (record it); `Err` means try again later.
async fn run_item(state: &AppState, mailer: &Mailer, item: &DueItem) -> anyhow::Result<()> {
    match item.kind.as_str() {
        "email" => {
            let e = item.email().ok_or_else(|| anyhow::anyhow!("unreadable email payload"))?;
            mailer
                .send(&Email {
                    from_name: &e.from_name,
                    from_address: &state.config.mail.from_address,
                    to: &e.to,
                    subject: &e.subject,
                    text: &e.text,
                    html: &e.html,
                    calendar: e.calendar.as_deref(),
                    reply_to: e.reply_to.as_deref(),
                    list_unsubscribe: None,
                })
                .await
        }
        trellis_db::mailings::KIND => send_copy(state, mailer, item).await,
        crate::features::campaigns::SEND_JOB => {
            let site = site_of(state, item).ok_or_else(|| anyhow::anyhow!("unknown trust"))?;
            let p: serde_json::Value = serde_json::from_str(&item.payload)?;
            let id: uuid::Uuid =
                p["campaign"].as_str().and_then(|s| s.parse().ok()).ok_or_else(|| anyhow::anyhow!("no campaign"))?;
            let by: Option<PersonId> = p["by"].as_str().and_then(|s| s.parse().ok());
            crate::features::campaigns::send_job(state, &site, id, by).await
        }
        "reminders" => {
            let site = site_of(state, item).ok_or_else(|| anyhow::anyhow!("unknown trust"))?;
            send_reminders(state, &site).await
        }
        "staff_import" => {
            let site = site_of(state, item).ok_or_else(|| anyhow::anyhow!("unknown trust"))?;
            let p: serde_json::Value = serde_json::from_str(&item.payload)?;
            let file = p["file"].as_str().unwrap_or_default().to_owned();
            let by: Option<PersonId> = p["by"].as_str().and_then(|s| s.parse().ok());
            let choice = Whole {
                complete: p["complete"].as_bool().unwrap_or(false),
                confirmed: p["confirmed"].as_bool().unwrap_or(false),
            };
            import_staff(state, &site, &file, by, choice).await
        }
        trellis_db::data_exports::JOB => {
            let site = site_of(state, item).ok_or_else(|| anyhow::anyhow!("unknown trust"))?;
            let p: serde_json::Value = serde_json::from_str(&item.payload)?;
            let id: uuid::Uuid =
                p["id"].as_str().and_then(|s| s.parse().ok()).ok_or_else(|| anyhow::anyhow!("no request"))?;
            match crate::features::my_data::build(state, &site, id, p["token"].as_str().unwrap_or_default()).await {
                // After five tries the request is marked failed (the page says to ask again).
                Err(e) if item.attempts >= 4 => {
                    tracing::error!(error = %format!("{e:#}"), tenant = %site.entry.slug, "a copy of someone's data could not be made");
                    let tx = state.dbs.app.begin(site.entry.id).await?;
                    trellis_db::data_exports::failed(&tx, id, "it could not be made").await?;
                    tx.commit().await?;
                    Ok(())
                }
                other => other,
            }
        }
        trellis_db::held::JOB => {
            let site = site_of(state, item).ok_or_else(|| anyhow::anyhow!("unknown trust"))?;
            let p: serde_json::Value = serde_json::from_str(&item.payload)?;
            let id: uuid::Uuid =
                p["id"].as_str().and_then(|s| s.parse().ok()).ok_or_else(|| anyhow::anyhow!("no held upload"))?;
            crate::features::uploads::release(state, &site, id).await
        }
        trellis_db::portfolio::JOB => {
            let site = site_of(state, item).ok_or_else(|| anyhow::anyhow!("unknown trust"))?;
            let p: serde_json::Value = serde_json::from_str(&item.payload)?;
            crate::usecases::records::portfolio_link::forward(state, &site, &p).await
        }
        "invoices" => {
            let site = site_of(state, item).ok_or_else(|| anyhow::anyhow!("unknown trust"))?;
            let p: serde_json::Value = serde_json::from_str(&item.payload)?;
            invoice_trust(state, &site, p["month"].as_str().unwrap_or_default()).await.map(|_| ())
        }
        "payouts" => {
            let site = site_of(state, item).ok_or_else(|| anyhow::anyhow!("unknown trust"))?;
            let p: serde_json::Value = serde_json::from_str(&item.payload)?;
            let invoice: uuid::Uuid =
                p["invoice"].as_str().and_then(|s| s.parse().ok()).ok_or_else(|| anyhow::anyhow!("no invoice"))?;
            pay_out(state, &site, invoice).await
        }
        "ledger_post" => {
            let p: serde_json::Value = serde_json::from_str(&item.payload)?;
            let charge: trellis_domain::ChargeId =
                p["charge"].as_str().and_then(|s| s.parse().ok()).ok_or_else(|| anyhow::anyhow!("no charge"))?;
            state.dbs.platform.post_charge_across_tenants(charge).await?;
            Ok(())
        }
        other => anyhow::bail!("unknown job kind {other}"),
    }
}

/// Sends one recipient's copy of a bulk mailing, with its one-click unsubscribe headers, unless
/// they have objected to its purpose since it was queued (then it is dropped, not sent).
async fn send_copy(state: &AppState, mailer: &Mailer, item: &DueItem) -> anyhow::Result<()> {
    let copy: trellis_db::mailings::Copy = serde_json::from_str(&item.payload)?;
    let tx = state.dbs.app.begin_read(item.tenant).await?;
    let mailing = trellis_db::mailings::get(&tx, copy.mailing).await?;
    let person = PersonId::from_uuid(copy.person);
    let objected = match mailing.as_ref().and_then(|m| trellis_domain::privacy::Purpose::parse(&m.purpose)) {
        Some(purpose) => trellis_db::identity::objecting_members(&tx, purpose, &[person]).await?.contains(&person),
        None => false,
    };
    tx.commit().await?;
    let Some(m) = mailing else { return Ok(()) };
    if objected {
        return Ok(());
    }
    let (text, html) = m.for_recipient(&copy.unsubscribe);
    mailer
        .send(&Email {
            from_name: &m.from_name,
            from_address: &state.config.mail.from_address,
            to: &copy.to,
            subject: &m.subject,
            text: &text,
            html: &html,
            calendar: None,
            reply_to: None,
            list_unsubscribe: Some(&copy.unsubscribe),
        })
        .await
}

/// Sends the overdue digest: one email per person listing every overdue course they have not
/// been reminded about for its current due date, each then marked, in one transaction.
pub async fn send_reminders(state: &AppState, site: &Site) -> anyhow::Result<()> {
    let today = site.today();
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let due = compliance::overdue_unreminded(&tx, today, 5000).await?;
    for person in &due {
        let courses: Vec<_> = person
            .courses
            .iter()
            .map(|(cid, title, due_on)| {
                json!({ "title": title, "due_on": crate::features::learner::date_words(*due_on), "url": format!("{}courses/{cid}", site.url) })
            })
            .collect();
        let subject = if courses.len() == 1 {
            "You have overdue training".to_owned()
        } else {
            format!("You have {} overdue courses", courses.len())
        };
        let mail = render_email(
            state,
            site,
            "overdue_digest",
            &person.email,
            &subject,
            json!({ "name": person.given_name, "courses": courses, "learning_url": format!("{}learning", site.url) }),
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        outbox::enqueue_email(&tx, &mail).await?;
        for (cid, _, due_on) in &person.courses {
            compliance::mark_reminded(&tx, person.person, *cid, *due_on).await?;
        }
    }
    audit::record(&tx, None, "compliance.reminders_sent", "", None, json!({ "people": due.len() })).await?;
    tx.commit().await?;
    Ok(())
}

/// How long an invitation to join a trust stays open.
pub use crate::features::account::INVITATION_DAYS;

/// Imports a checked staff file, all or nothing, then applies the assignment rules to the staff
/// it added or moved. The result goes in the audit trail (shown on the import page).
/// Whether a staff file is the trust's whole staff list, and whether the manager confirmed the
/// many leavers it makes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Whole {
    pub complete: bool,
    pub confirmed: bool,
}

pub async fn import_staff(
    state: &AppState,
    site: &Site,
    file: &str,
    by: Option<PersonId>,
    choice: Whole,
) -> anyhow::Result<()> {
    let complete = choice.complete;
    let key = crate::features::training::import_key(site, file, complete);
    if !state.files.exists(&key).await.unwrap_or(false) {
        let tx = state.dbs.app.begin(site.entry.id).await?;
        let why =
            json!([{ "line": 0, "column": "file", "message": "The file is not there as checked: check it again." }]);
        audit::record(&tx, by, "staff.import_failed", file, None, json!({ "errors": why })).await?;
        tx.commit().await?;
        return Ok(());
    }
    let bytes = state.files.get_bytes(&key).await?;
    let record_failure = |errors: serde_json::Value| async move {
        let tx = state.dbs.app.begin(site.entry.id).await?;
        audit::record(&tx, by, "staff.import_failed", file, None, json!({ "errors": errors })).await?;
        tx.commit().await?;
        anyhow::Ok(())
    };
    let rows = match staff_import::parse(&bytes) {
        Ok(r) => r,
        Err(errors) => return record_failure(json!(errors.into_iter().take(20).collect::<Vec<_>>())).await,
    };
    // All trust work, as the application role under row-level security: accounts are found and
    // made through the narrow functions, and an existing account only gets an invitation.
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let done = staff::apply(&tx, &rows, by, chrono::Duration::days(INVITATION_DAYS), complete, site.today()).await?;
    if !done.plan.errors.is_empty() {
        tx.rollback().await?;
        return record_failure(json!(done.plan.errors.into_iter().take(20).collect::<Vec<_>>())).await;
    }
    if complete && done.plan.needs_confirmation() && !choice.confirmed {
        tx.rollback().await?;
        let message = format!(
            "{} people would become leavers, more than a tenth of your staff: check the file again, and confirm them if it is right.",
            done.plan.leaving
        );
        return record_failure(json!([{ "line": 0, "column": "file", "message": message }])).await;
    }
    for (email, raw) in &done.invitations {
        let mail = crate::features::account::invitation_email(state, site, email, raw)?;
        outbox::enqueue_email(&tx, &mail).await?;
    }
    let applied = compliance::apply_all(&tx, site.today()).await?;
    let plan = &done.plan;
    audit::record(
        &tx,
        by,
        "staff.imported",
        file,
        None,
        json!({ "add": plan.add, "update": plan.update, "unchanged": plan.unchanged,
                "moving": plan.moving, "leaving": plan.leaving, "managers": plan.managers, "complete": complete,
                "enrolled": applied.enrolled, "assigned": applied.assigned }),
    )
    .await?;
    tx.commit().await?;
    if done.platform_admins_skipped > 0 {
        // Never imported, and never said to the trust: only the platform's own audit knows.
        state
            .dbs
            .platform
            .record_platform_audit(
                "staff import",
                "import.platform_admin_skipped",
                Some(site.entry.id),
                format!("{} row(s)", done.platform_admins_skipped),
            )
            .await?;
    }
    // Leavers whose grace period has already run out (a grace of 0 days, or an end date long past);
    // should this fail, the daily run takes them up (the import itself is done).
    if let Err(e) = crate::features::training::suspend_leavers(state, site).await {
        tracing::warn!(error = %e, tenant = %site.entry.slug, "leavers not suspended after the import; the daily run will");
    }
    state.totals.changed(site.entry.id);
    crate::usecases::compliance::totals::warm(state, site);
    let _ = state.files.delete(&key).await;
    Ok(())
}

/// Invoices a trust for the enrolments billed to it in `month` (if any are not yet invoiced), and
/// sends every invoice of the trust not yet sent (Stripe, or the test mode). Idempotent: charges
/// join one invoice only, and Stripe's requests carry the invoice's id as idempotency key.
pub async fn invoice_trust(
    state: &AppState,
    site: &Site,
    month: &str,
) -> anyhow::Result<Option<trellis_db::market::Invoice>> {
    use trellis_db::market as mk;
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let made = mk::invoice_month(&tx, month).await?;
    if let Some(i) = &made {
        audit::record(
            &tx,
            None,
            "market.invoiced",
            &i.id.to_string(),
            None,
            json!({ "month": i.month, "pence": i.amount_pence }),
        )
        .await?;
    }
    tx.commit().await?;
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let unsent: Vec<_> = mk::invoices(&tx, 100).await?.into_iter().filter(|i| i.stripe_invoice.is_none()).collect();
    let customer = mk::stripe_customer(&tx).await?;
    let mut lines = Vec::new();
    for i in &unsent {
        lines.push(mk::invoice_lines(&tx, i.id).await?);
    }
    tx.commit().await?;
    for (i, ls) in unsent.iter().zip(lines) {
        let r = trellis_integrations::payments::InvoiceRequest {
            invoice: i.id.to_string(),
            tenant: site.entry.id.to_string(),
            customer: customer.clone(),
            name: site.entry.name.clone(),
            email: None,
            currency: i.currency.clone(),
            lines: ls
                .iter()
                .map(|l| (format!("{} — {} enrolments ({})", l.course_title, l.enrolments, i.month), l.amount_pence))
                .collect(),
        };
        let sent = state.payments.send_invoice(&r).await?;
        let tx = state.dbs.app.begin(site.entry.id).await?;
        if customer.as_deref() != Some(sent.customer.as_str()) {
            mk::set_stripe_customer(&tx, &sent.customer).await?;
        }
        mk::set_invoice_stripe(&tx, i.id, &sent.id, &sent.url).await?;
        tx.commit().await?;
    }
    Ok(made)
}

/// Pays each seller its share of a paid invoice (sales less commission) and records the payout.
/// A seller without a connected account yet fails the job, which is retried until it has one.
pub async fn pay_out(state: &AppState, site: &Site, invoice: uuid::Uuid) -> anyhow::Result<()> {
    use trellis_db::market as mk;
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let i = mk::invoice(&tx, invoice).await?.ok_or_else(|| anyhow::anyhow!("no invoice {invoice}"))?;
    let payouts = mk::invoice_payouts(&tx, invoice).await?;
    tx.commit().await?;
    let mut waiting = Vec::new();
    for p in payouts.iter().filter(|p| p.net_pence > 0) {
        let key = format!("{invoice}:{}", p.seller);
        let account = match &p.account {
            Some(a) => a.clone(),
            None => match state.dbs.platform.seller(p.seller).await?.and_then(|s| s.stripe_account) {
                Some(a) => a,
                None => {
                    waiting.push(p.seller.to_string());
                    continue;
                }
            },
        };
        let transfer = state.payments.transfer(&key, &account, p.net_pence, &i.currency, &invoice.to_string()).await?;
        let memo = format!("invoice {} ({transfer})", i.month);
        state.dbs.platform.post_payout_across_tenants(&key, p, site.entry.id, &memo).await?;
    }
    if waiting.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("sellers not yet onboarded with Stripe: {}", waiting.join(", "))
    }
}

/// Runs everything due, once. Returns how many items were done.
pub async fn drain(state: &AppState, mailer: &Mailer) -> usize {
    let due = match state.dbs.platform.due_outbox_across_tenants(50).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "jobs: cannot read the outbox");
            return 0;
        }
    };
    let mut done = 0;
    for item in due {
        match state.dbs.platform.claim_outbox_across_tenants(&item).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "jobs: cannot claim");
                continue;
            }
        }
        match run_item(state, mailer, &item).await {
            Ok(()) => {
                done += 1;
                if let Err(err) = state.dbs.platform.outbox_sent_across_tenants(&item).await {
                    tracing::error!(error = %err, tenant = %item.tenant, kind = %item.kind, "jobs: done but not recorded");
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, tenant = %item.tenant, kind = %item.kind, attempt = item.attempts + 1, "jobs: failed; will retry");
                let _ = state.dbs.platform.outbox_failed_across_tenants(&item, &format!("{err:#}")).await;
            }
        }
    }
    done
}

/// The daily compliance run for every trust whose day it has not yet run: reconcile rules and
/// audiences (and record what it fixed), re-open courses whose completion is about to expire, and
/// queue the reminder digest.
pub async fn daily(state: &AppState) {
    let mut retention_ran = false;
    for site in state.directory.sites() {
        // The retention schedule, once a day per trust (claimed), its counts in the audit trail.
        let retained = async {
            let tx = state.dbs.app.begin(site.entry.id).await?;
            let claimed = compliance::claim_daily(&tx, "retention", site.today()).await?;
            tx.commit().await?;
            if claimed {
                retention_ran = true;
                let config = &state.config;
                let applied =
                    crate::usecases::retention::apply_trust(config, &state.dbs, &state.files, site.entry.id, false)
                        .await?;
                let tx = state.dbs.app.begin(site.entry.id).await?;
                let counts = crate::usecases::retention::counts_json(&applied);
                audit::record(&tx, None, "retention.applied", "", None, counts).await?;
                tx.commit().await?;
            }
            Ok::<_, anyhow::Error>(())
        }
        .await;
        if let Err(e) = retained {
            tracing::warn!(error = %format!("{e:#}"), tenant = %site.entry.slug, "retention run failed; tomorrow's will take it up");
        }
        let today = site.today();
        let result = async {
            let tx = state.dbs.app.begin(site.entry.id).await?;
            let claimed = compliance::claim_daily(&tx, "compliance", today).await?;
            if claimed {
                // Rules and audiences brought into line: anyone missed by a path into a rule's
                // audience gets their entries, anyone who left one loses the open entries.
                let fixed = compliance::reconcile(&tx, today).await?;
                if fixed != compliance::Reconciled::default() {
                    state.totals.changed(site.entry.id);
                    audit::record(&tx, None, "compliance.reconciled", "", None, json!(fixed)).await?;
                }
                let reopened = compliance::reopen_for_renewal(&tx, today).await?;
                // Marketplace licences that ran out end their enrolments.
                let expired = trellis_db::market::expire_licences(&tx, today).await?;
                if expired > 0 {
                    audit::record(&tx, None, "market.licences_expired", "", None, json!({ "enrolments": expired }))
                        .await?;
                }
                enqueue(&tx, &Job::Reminders).await?;
                if reopened > 0 {
                    state.totals.changed(site.entry.id);
                    audit::record(&tx, None, "compliance.renewals_opened", "", None, json!({ "enrolments": reopened }))
                        .await?;
                }
            }
            tx.commit().await.map(|()| claimed)
        }
        .await;
        // A new day: the day's totals counted before the first manager opens the matrix (on a web
        // server; a dedicated worker's cache serves no pages).
        if matches!(result, Ok(true)) && state.config.jobs.in_process {
            crate::usecases::compliance::totals::warm(state, &site);
        }
        if let Err(e) = result {
            tracing::warn!(error = %e, tenant = %site.entry.slug, "daily compliance run failed; will retry");
        }
        // Leavers from the staff import whose grace period ran out, once a day.
        let leavers = async {
            let tx = state.dbs.app.begin(site.entry.id).await?;
            let claimed = compliance::claim_daily(&tx, "leavers", today).await?;
            tx.commit().await?;
            if claimed {
                crate::features::training::suspend_leavers(state, &site).await?;
            }
            Ok::<_, AppError>(())
        }
        .await;
        if let Err(e) = leavers {
            tracing::warn!(error = %e, tenant = %site.entry.slug, "leavers not suspended; tomorrow's run will take them up");
        }
        // Line managers' monthly digest of their team's overdue training.
        if let Err(e) = crate::features::team::monthly_digest(state, &site).await {
            tracing::warn!(error = %e, tenant = %site.entry.slug, "line managers' digest not sent; the next run will try again");
        }
        // Coaches' reminders of follow-ups falling due.
        if let Err(e) = crate::features::coaching::follow_up_reminders(state, &site).await {
            tracing::warn!(error = %e, tenant = %site.entry.slug, "coaches' follow-up reminders not sent; the next run will try again");
        }
        // Organisation reporting: grants whose time ran out, and monthly report emails due.
        let reporting = async {
            let tx = state.dbs.app.begin(site.entry.id).await?;
            if compliance::claim_daily(&tx, "reporting", today).await? {
                crate::features::reporting::daily(state, &site, &tx, chrono::Utc::now()).await?;
            }
            tx.commit().await?;
            Ok::<_, AppError>(())
        }
        .await;
        if let Err(e) = reporting {
            tracing::warn!(error = %e, tenant = %site.entry.slug, "daily reporting run failed; will retry");
        }
        // Monthly invoices: the months before this one with billed enrolments not yet invoiced.
        let invoicing = async {
            let tx = state.dbs.app.begin(site.entry.id).await?;
            if compliance::claim_daily(&tx, "invoices", today).await? {
                for month in trellis_db::market::months_to_invoice(&tx, &trellis_db::market::month_of(today)).await? {
                    outbox::enqueue_job(&tx, "invoices", &json!({ "month": month })).await?;
                }
            }
            tx.commit().await
        }
        .await;
        if let Err(e) = invoicing {
            tracing::warn!(error = %e, tenant = %site.entry.slug, "monthly invoicing not queued; will retry");
        }
    }
    // The platform's own rows (its desk's enquiries), once a day.
    let platform_retention = async {
        let national = trellis_domain::TenantId::NATIONAL;
        let tx = state.dbs.app.begin(national).await?;
        let claimed = compliance::claim_daily(&tx, "retention", chrono::Utc::now().date_naive()).await?;
        tx.commit().await?;
        if claimed {
            crate::usecases::retention::apply_trust(&state.config, &state.dbs, &state.files, national, false).await?;
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    if let Err(e) = platform_retention {
        tracing::warn!(error = %format!("{e:#}"), "retention of the platform's own rows failed; tomorrow's run will take it up");
    }
    // Unused accounts anonymised (platform-wide people: claimed once a day for the platform).
    let inactive = async {
        let tx = state.dbs.app.begin(trellis_domain::TenantId::NATIONAL).await?;
        let claimed = compliance::claim_daily(&tx, "inactive_accounts", chrono::Utc::now().date_naive()).await?;
        tx.commit().await?;
        if claimed {
            let run = crate::features::erasure::anonymise_inactive(state, false).await?;
            if run.found > 0 {
                tracing::info!(anonymised = run.anonymised, kept = run.kept, "retention: unused accounts anonymised");
                state
                    .dbs
                    .platform
                    .record_platform_audit(
                        "retention",
                        "retention.inactive_accounts",
                        None,
                        json!({ "anonymised": run.anonymised, "kept": run.kept }).to_string(),
                    )
                    .await?;
            }
        }
        Ok::<_, AppError>(())
    }
    .await;
    if let Err(e) = inactive {
        tracing::warn!(error = %e, "retention: unused accounts not anonymised; tomorrow's run will take them up");
    }
    // The file mail transport's old messages, on the day's first run.
    if retention_ran {
        let gone = crate::usecases::retention::old_mail_files(&state.config, false);
        if gone > 0 {
            tracing::info!(files = gone, "retention: old mail files removed");
        }
    }
}

/// Reminders of face-to-face events and learning-lab slots starting within a day, for every trust
/// (each place claimed once, so several workers never remind anyone twice).
pub async fn event_reminders(state: &AppState) {
    for site in state.directory.sites() {
        if let Err(e) = crate::features::labs::send_reminders(state, &site).await {
            tracing::warn!(error = %e, tenant = %site.entry.slug, "learning lab reminders not sent; will retry");
        }
        if let Err(e) = crate::features::events::send_reminders(state, &site).await {
            tracing::warn!(error = %e, tenant = %site.entry.slug, "event reminders not sent; the next run will try again");
        }
    }
}

/// Polls (and, with Redis, listens) until `stop`.
pub async fn run(state: AppState, mailer: Mailer, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_millis(state.config.mail.poll_ms.max(50));
    let (kick_tx, mut kick_rx) = tokio::sync::mpsc::channel::<()>(1);
    if let Some(bus) = state.redis.clone() {
        let stop = stop.clone();
        tokio::spawn(async move {
            bus.subscribe(JOBS_TOPIC, stop, move |_| {
                let _ = kick_tx.try_send(());
            })
            .await;
        });
    }
    let mut last_daily = tokio::time::Instant::now() - Duration::from_secs(3600);
    let mut last_reminders = last_daily;
    let mut last_hr_export = last_daily;
    loop {
        if last_daily.elapsed() >= Duration::from_secs(60) {
            daily(&state).await;
            last_daily = tokio::time::Instant::now();
        }
        if last_reminders.elapsed() >= Duration::from_secs(state.config.jobs.event_reminders_every_secs.max(1)) {
            event_reminders(&state).await;
            last_reminders = tokio::time::Instant::now();
        }
        if last_hr_export.elapsed() >= Duration::from_secs(state.config.jobs.hr_export_every_secs.max(1)) {
            crate::usecases::hr_export::run(&state).await;
            last_hr_export = tokio::time::Instant::now();
        }
        crate::usecases::market::stripe_events::retry_due(&state).await;
        while drain(&state, &mailer).await > 0 {}
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = kick_rx.recv() => {}
            _ = stop.changed() => return,
        }
    }
}
