//! The outbox worker: sends what committed transactions wrote to the outbox. Each item is claimed
//! before sending, so two instances never both send it; a failure is retried with back-off.

use crate::state::AppState;
use std::time::Duration;
use tokio::sync::watch;
use trellis_integrations::mailer::{Email, Mailer};

/// Sends everything due, once. Returns how many were sent.
pub async fn drain(state: &AppState, mailer: &Mailer) -> usize {
    let due = match state.dbs.platform.due_outbox_across_tenants(50).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "outbox: cannot read");
            return 0;
        }
    };
    let mut sent = 0;
    for item in due {
        match state.dbs.platform.claim_outbox_across_tenants(&item).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "outbox: cannot claim");
                continue;
            }
        }
        let e = &item.email;
        let email = Email {
            from_name: &e.from_name,
            from_address: &state.config.mail.from_address,
            to: &e.to,
            subject: &e.subject,
            text: &e.text,
            html: &e.html,
        };
        match mailer.send(&email).await {
            Ok(()) => {
                sent += 1;
                if let Err(err) = state.dbs.platform.outbox_sent_across_tenants(&item).await {
                    tracing::error!(error = %err, tenant = %item.tenant, "outbox: sent but not recorded");
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, tenant = %item.tenant, attempt = item.attempts + 1, "outbox: send failed; will retry");
                let _ = state.dbs.platform.outbox_failed_across_tenants(&item, &format!("{err:#}")).await;
            }
        }
    }
    sent
}

/// Polls the outbox until `stop`.
pub async fn run(state: AppState, mailer: Mailer, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_millis(state.config.mail.poll_ms.max(50));
    loop {
        drain(&state, &mailer).await;
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}
