//! Completions back to HR. Each day (or when a training manager asks) the completions recorded
//! since the last delivered export are queued as one export; the worker writes them as a CSV,
//! streamed from the database a page at a time into a temporary file while counting rows and
//! hashing, and delivers the file to the trust's SFTP server or S3 bucket. A failed delivery
//! stays queued, shown with its error, and is tried again with back-off (1, 5, 15 and 60 minutes,
//! then every 6 hours) until it is delivered; the next export starts where the delivered one ended.
//!
//! The file (documented in docs/integration.md): a header, then one row per completion:
//! `Assignment Number,Competence,Achieved Date,Expiry Date`, dates as DD/MM/YYYY in the trust's
//! time zone; the expiry is the achieved date plus the renewal period of the rule that makes the
//! course mandatory for the person (empty when none does).

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use chrono::{DateTime, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt as _;
use trellis_db::audit;
use trellis_db::hr_export::{self as store, Export, Settings};
use trellis_integrations::hr_delivery::{self, S3Target, SftpTarget};

/// What each secret is sealed for: the trust's own.
pub fn purpose(site: &Site, what: &str) -> String {
    format!("hr export {what} {}", site.entry.id)
}

/// The first row of every file.
pub const HEADER: &str = "Assignment Number,Competence,Achieved Date,Expiry Date";

/// Rows read from the database at a time.
const PAGE: u64 = 10_000;

/// How long a claimed delivery is left to finish before another worker may try it.
const LEASE_MINUTES: i64 = 15;

/// When to try again after `attempts` failed attempts.
pub fn backoff(attempts: i32) -> chrono::Duration {
    chrono::Duration::minutes(match attempts {
        ..=1 => 1,
        2 => 5,
        3 => 15,
        4 => 60,
        _ => 360,
    })
}

/// The end of a new export: now, less the settling time (so a completion being recorded now, in
/// a transaction not yet committed, falls in the next export rather than between two).
fn until_now(state: &AppState) -> DateTime<Utc> {
    let settle = i64::try_from(state.config.jobs.hr_export_settle_secs).unwrap_or(60);
    Utc::now() - chrono::Duration::seconds(settle)
}

/// Queues an export now (a training manager's *Send now*), due at once. Returns the export and
/// whether it is new (false: one was waiting already, and is now due at once).
pub async fn send_now(
    state: &AppState,
    tx: &trellis_db::TenantTx,
    by: trellis_domain::PersonId,
) -> Result<Option<(Export, bool)>, AppError> {
    let s = store::settings(tx).await?;
    if s.target.is_empty() {
        return Ok(None);
    }
    let (e, new) = store::queue(tx, &s.target, until_now(state)).await?;
    store::retry_now(tx).await?;
    audit::record(tx, Some(by), "hr_export.queued", &e.id.to_string(), None, json!({ "new": new })).await?;
    Ok(Some((e, new)))
}

/// The daily export: queued on the trust's first run of the day, if it sends to HR.
pub async fn queue_daily(state: &AppState, site: &Site) -> Result<(), AppError> {
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let s = store::settings(&tx).await?;
    if s.target.is_empty() || !trellis_db::compliance::claim_daily(&tx, "hr_export", site.today()).await? {
        tx.rollback().await?;
        return Ok(());
    }
    let (e, new) = store::queue(&tx, &s.target, until_now(state)).await?;
    if new {
        audit::record(&tx, None, "hr_export.queued", &e.id.to_string(), None, json!({ "daily": true })).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Writes an export's rows to `path`: (rows, SHA-256 of the file).
pub async fn write_file(
    state: &AppState,
    site: &Site,
    e: &Export,
    path: &std::path::Path,
) -> Result<(i64, String), AppError> {
    let mut out =
        tokio::io::BufWriter::new(tokio::fs::File::create(path).await.map_err(|x| AppError::Internal(x.into()))?);
    let mut hash = Sha256::new();
    let mut count: i64 = 0;
    let head = format!("{HEADER}\r\n");
    hash.update(head.as_bytes());
    out.write_all(head.as_bytes()).await.map_err(|x| AppError::Internal(x.into()))?;
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let zone = site.zone();
    let mut after = None;
    loop {
        let page = store::rows(&tx, e.since, e.until, after, PAGE).await?;
        after = page.last;
        let rows = page.rows;
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::with_capacity(rows.len() * 64));
        for r in &rows {
            let achieved = r.completed_at.with_timezone(&zone).date_naive();
            let expiry = r
                .renewal_months
                .and_then(|m| u32::try_from(m).ok())
                .and_then(|m| achieved.checked_add_months(chrono::Months::new(m)))
                .map(|d| d.format("%d/%m/%Y").to_string())
                .unwrap_or_default();
            let achieved = achieved.format("%d/%m/%Y").to_string();
            w.write_record([r.assignment_number.as_str(), r.competence.as_str(), achieved.as_str(), expiry.as_str()])
                .map_err(|x| AppError::Internal(x.into()))?;
        }
        let chunk = w.into_inner().map_err(|x| AppError::Internal(anyhow::anyhow!("{x}")))?;
        hash.update(&chunk);
        out.write_all(&chunk).await.map_err(|x| AppError::Internal(x.into()))?;
        count += i64::try_from(rows.len()).unwrap_or(0);
        if (page.read as u64) < PAGE {
            break;
        }
    }
    tx.commit().await?;
    out.flush().await.map_err(|x| AppError::Internal(x.into()))?;
    Ok((count, hex::encode(hash.finalize())))
}

/// The file's name: the trust, the export's end (so names sort in order) and the end of the
/// export's id (so two exports in one second differ, and every attempt at one export writes the
/// same name).
pub fn file_name(site: &Site, e: &Export) -> String {
    let id = e.id.simple().to_string();
    format!("completions-{}-{}-{}.csv", site.entry.slug, e.until.format("%Y%m%dT%H%M%SZ"), &id[id.len() - 8..])
}

/// Sends a file as the settings say.
async fn send(state: &AppState, site: &Site, s: &Settings, path: &std::path::Path, name: &str) -> anyhow::Result<()> {
    let allow_local = state.config.development.allow_local_network;
    let open =
        |what: &str, sealed: &str| -> anyhow::Result<Option<String>> {
            if sealed.is_empty() {
                return Ok(None);
            }
            Ok(Some(state.keyring.open(&purpose(site, what), sealed).map_err(|e| {
                anyhow::anyhow!("a stored secret could not be read ({e}): enter it again in the settings")
            })?))
        };
    match s.target.as_str() {
        "sftp" => {
            let t = SftpTarget {
                host: s.sftp_host.clone(),
                port: u16::try_from(s.sftp_port).unwrap_or(22),
                user: s.sftp_user.clone(),
                dir: s.sftp_dir.clone(),
                host_key: s.sftp_host_key.clone(),
                password: open("sftp password", &s.sftp_password_sealed)?,
                key: open("ssh key", &s.ssh_key_sealed)?,
            };
            hr_delivery::send_sftp(&t, allow_local, path, name).await
        }
        "s3" => {
            let t = S3Target {
                bucket: s.s3_bucket.clone(),
                prefix: s.s3_prefix.clone(),
                region: s.s3_region.clone(),
                endpoint: s.s3_endpoint.clone(),
                access_key: s.s3_access_key.clone(),
                secret_key: open("s3 secret", &s.s3_secret_sealed)?.unwrap_or_default(),
            };
            hr_delivery::send_s3(&t, allow_local, path, name).await
        }
        _ => anyhow::bail!("sending to HR is switched off in the settings"),
    }
}

/// Delivers the trust's waiting export if its attempt is due. Returns whether one was tried.
pub async fn deliver_due(state: &AppState, site: &Site) -> Result<bool, AppError> {
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let Some(e) = store::claim_due(&tx, Utc::now(), chrono::Duration::minutes(LEASE_MINUTES)).await? else {
        tx.rollback().await?;
        return Ok(false);
    };
    let settings = store::settings(&tx).await?;
    tx.commit().await?;
    let dir = tempfile::tempdir().map_err(|x| AppError::Internal(x.into()))?;
    let name = file_name(site, &e);
    let path = dir.path().join(&name);
    let started = std::time::Instant::now();
    let (rows, sha) = write_file(state, site, &e, &path).await?;
    let written = started.elapsed();
    let sent = send(state, site, &settings, &path, &name).await;
    tracing::info!(
        tenant = %site.entry.slug, export = %e.id, rows,
        written_ms = written.as_millis() as u64, sent_ms = (started.elapsed() - written).as_millis() as u64,
        "HR export made and sent"
    );
    let tx = state.dbs.app.begin(site.entry.id).await?;
    match sent {
        Ok(()) => {
            store::delivered(&tx, e.id, rows, &sha, &name).await?;
            let detail =
                json!({ "rows": rows, "sha256": sha, "file": name, "target": settings.target, "attempts": e.attempts });
            audit::record(&tx, None, "hr_export.delivered", &e.id.to_string(), None, detail).await?;
        }
        Err(err) => {
            let why = format!("{err:#}");
            tracing::warn!(tenant = %site.entry.slug, export = %e.id, error = %why, "HR export not delivered; it stays queued");
            store::failed(&tx, e.id, &why, Utc::now() + backoff(e.attempts)).await?;
            let detail = json!({ "error": why, "attempts": e.attempts });
            audit::record(&tx, None, "hr_export.failed", &e.id.to_string(), None, detail).await?;
        }
    }
    tx.commit().await?;
    Ok(true)
}

/// The worker's round: every trust's daily export queued, and due deliveries tried.
pub async fn run(state: &AppState) {
    for site in state.directory.sites() {
        if let Err(e) = queue_daily(state, &site).await {
            tracing::warn!(error = %e, tenant = %site.entry.slug, "HR export not queued; the next run will try again");
        }
        if let Err(e) = deliver_due(state, &site).await {
            tracing::warn!(error = %e, tenant = %site.entry.slug, "HR export not attempted; the next run will try again");
        }
    }
}
