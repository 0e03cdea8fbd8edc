//! The retention schedule, applied: every trust's expired data counted or deleted
//! (`trellis_db::retention`), the files of deleted held uploads removed from the file store, and
//! the file mail transport's old `.eml` files removed. Run daily by the worker (each trust once a
//! day, claimed, recorded in its audit trail as `retention.applied`) and by `trellis retention`.

use trellis_db::retention::{self, Applied, Class};
use trellis_db::{Databases, held};
use trellis_domain::TenantId;
use trellis_domain::config::Config;
use trellis_integrations::files::FileStore;

/// One trust's run.
#[derive(Debug, Clone)]
pub struct TrustRun {
    pub tenant: TenantId,
    pub slug: String,
    pub applied: Applied,
}

/// Applies the schedule to one trust, removing the files of held uploads it deleted.
pub async fn apply_trust(
    config: &Config,
    dbs: &Databases,
    files: &FileStore,
    tenant: TenantId,
    dry_run: bool,
) -> anyhow::Result<Applied> {
    let applied = retention::apply(dbs, tenant, &config.retention, chrono::Utc::now(), dry_run).await?;
    // Every file is tried, whatever one fails (a copy of someone's data must not be left behind
    // because another file's delete failed); a failure is logged with its key.
    let keys = applied
        .held_files
        .iter()
        .map(|id| held::file_key(tenant, *id))
        .chain(applied.export_files.iter().map(|id| trellis_db::data_exports::file_key(tenant, *id)));
    for key in keys {
        if let Err(e) = files.delete(&key).await {
            tracing::error!(error = %e, key = %key, "retention: a file was not deleted; delete it by hand");
        }
    }
    Ok(applied)
}

/// Removes the file mail transport's messages older than the schedule's period; how many (or,
/// with `dry_run`, how many would go).
pub fn old_mail_files(config: &Config, dry_run: bool) -> u64 {
    if config.mail.transport != "file" {
        return 0;
    }
    let cutoff =
        std::time::SystemTime::now() - std::time::Duration::from_secs(u64::from(config.retention.mail_days) * 86_400);
    let Ok(dir) = std::fs::read_dir(&config.mail.dir) else { return 0 };
    let mut n = 0;
    for e in dir.flatten() {
        let path = e.path();
        let old = e.metadata().and_then(|m| m.modified()).is_ok_and(|t| t < cutoff);
        if old && path.extension().is_some_and(|x| x == "eml") && (dry_run || std::fs::remove_file(&path).is_ok()) {
            n += 1;
        }
    }
    n
}

/// Every trust's run (the command line's), in the directory's order.
pub async fn apply_all(config: &Config, dbs: &Databases, dry_run: bool) -> anyhow::Result<Vec<TrustRun>> {
    let files = FileStore::open(&config.files)?;
    let mut out = Vec::new();
    for entry in dbs.platform.directory_of_all_tenants().await? {
        let applied = apply_trust(config, dbs, &files, entry.id, dry_run).await?;
        out.push(TrustRun { tenant: entry.id, slug: entry.slug.clone(), applied });
    }
    // The platform's own rows (its desk's enquiries, the national library's trail).
    let applied = apply_trust(config, dbs, &files, TenantId::NATIONAL, dry_run).await?;
    out.push(TrustRun { tenant: TenantId::NATIONAL, slug: "platform".into(), applied });
    Ok(out)
}

/// A run's counts as JSON, by class (for the audit trail).
pub fn counts_json(applied: &Applied) -> serde_json::Value {
    serde_json::Value::Object(
        applied.counts.iter().map(|(c, n): &(Class, u64)| (c.key().to_owned(), serde_json::json!(n))).collect(),
    )
}
