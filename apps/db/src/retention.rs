//! The retention schedule applied to one trust: what is older than its class's period is
//! counted (a dry run) or deleted. The periods and their sources are in docs/data-protection.md;
//! the daily run (the worker) and `trellis retention [--dry-run]` both come here.

use crate::entities::{access_event, attempt_commit, data_export, enquiry, held_upload, outbox, person_session};
use crate::{Databases, DbError};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, QueryFilter};
use trellis_domain::TenantId;
use trellis_domain::config::RetentionConfig;
use uuid::Uuid;

/// A class of data the schedule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Class {
    Audit,
    AccessLog,
    Tracking,
    Sessions,
    Mail,
    HeldUploads,
    DataExports,
    Enquiries,
}

impl Class {
    pub fn key(self) -> &'static str {
        match self {
            Class::Audit => "audit",
            Class::AccessLog => "access_log",
            Class::Tracking => "tracking",
            Class::Sessions => "sessions",
            Class::Mail => "mail",
            Class::HeldUploads => "held_uploads",
            Class::DataExports => "data_exports",
            Class::Enquiries => "enquiries",
        }
    }

    /// What it is, in words.
    pub fn words(self) -> &'static str {
        match self {
            Class::Audit => "audit trail entries",
            Class::AccessLog => "access log entries (report access, uploads and downloads)",
            Class::Tracking => "SCORM commits as sent (tracking detail)",
            Class::Sessions => "sign-in sessions",
            Class::Mail => "sent emails (the outbox's copies)",
            Class::HeldUploads => "uploads held for a virus scan, resolved",
            Class::DataExports => "copies of people's data whose link has expired",
            Class::Enquiries => "closed enquiries to the desk, with their threads",
        }
    }
}

/// What one trust's run found (and, unless a dry run, deleted).
#[derive(Debug, Clone, Default)]
pub struct Applied {
    pub counts: Vec<(Class, u64)>,
    /// Held uploads deleted whose file may still be in the file store (the caller deletes it).
    pub held_files: Vec<Uuid>,
    /// Copies of people's data deleted, whose zip the caller deletes.
    pub export_files: Vec<Uuid>,
}

/// Applies the schedule to one trust as of `now`: counts what has expired, and unless `dry_run`
/// deletes it, in one transaction (the audit trail through its owner's function, in its own).
pub async fn apply(
    dbs: &Databases,
    tenant: TenantId,
    schedule: &RetentionConfig,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<Applied, DbError> {
    let before = |days: u32| now - chrono::Duration::days(i64::from(days));
    let tx = dbs.app.begin(tenant).await?;
    let mut out = Applied::default();

    // The audit trail: counted here on a dry run; otherwise deleted (and counted) after this
    // transaction, only through its owner's function.
    let audit_before = before(schedule.audit_days);
    if dry_run {
        let audit = tx
            .select::<crate::entities::audit_event::Entity>()
            .filter(crate::entities::audit_event::Column::At.lt(audit_before))
            .count(&tx)
            .await?;
        out.counts.push((Class::Audit, audit));
    }

    macro_rules! class {
        ($class:expr, $entity:ty, $filter:expr) => {{
            let n = if dry_run {
                tx.select::<$entity>().filter($filter).count(&tx).await?
            } else {
                tx.delete_many::<$entity>().filter($filter).exec(&tx).await?.rows_affected
            };
            out.counts.push(($class, n));
        }};
    }
    class!(Class::AccessLog, access_event::Entity, access_event::Column::At.lt(before(schedule.audit_days)));
    class!(
        Class::Tracking,
        attempt_commit::Entity,
        attempt_commit::Column::ReceivedAt.lt(before(schedule.tracking_days))
    );
    class!(
        Class::Sessions,
        person_session::Entity,
        person_session::Column::LastSeenAt.lt(before(schedule.sessions_days))
    );
    class!(
        Class::Mail,
        outbox::Entity,
        // Unsent mail (sent_at null) is never matched: NULL < t is not true.
        outbox::Column::SentAt.lt(before(schedule.mail_days))
    );
    let held_before = before(schedule.held_uploads_days);
    let held_filter = held_upload::Column::ResolvedAt.lt(held_before);
    if !dry_run {
        out.held_files = tx
            .select::<held_upload::Entity>()
            .filter(held_filter.clone())
            .all(&tx)
            .await?
            .into_iter()
            .map(|h| h.id)
            .collect();
    }
    class!(Class::HeldUploads, held_upload::Entity, held_filter);
    // A copy of someone's data goes once its link has expired (7 days; no setting: the link's life).
    let expired = data_export::Column::ExpiresAt.lt(now);
    if !dry_run {
        out.export_files = tx
            .select::<data_export::Entity>()
            .filter(expired.clone())
            .all(&tx)
            .await?
            .into_iter()
            .map(|e| e.id)
            .collect();
    }
    class!(Class::DataExports, data_export::Entity, expired);
    // Closed enquiries, with their threads (messages first).
    let closed_before = before(schedule.enquiries_days);
    if !dry_run {
        tx.execute(
            "DELETE FROM enquiry_messages WHERE tenant_id = $1 AND enquiry_id IN
               (SELECT id FROM enquiries WHERE tenant_id = $1 AND closed_at < $2)",
            vec![closed_before.into()],
        )
        .await?;
    }
    class!(Class::Enquiries, enquiry::Entity, enquiry::Column::ClosedAt.lt(closed_before));
    tx.commit().await?;
    if !dry_run {
        let audit = dbs.platform.purge_audit_across_tenants(tenant, audit_before).await?;
        out.counts.insert(0, (Class::Audit, audit));
    }
    Ok(out)
}
