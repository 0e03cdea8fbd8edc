//! Uploads waiting for a virus scan: kept aside (the file under `<trust>/held/<id>`, never
//! served) while scanning is required and the scanner cannot be reached; the worker scans each
//! again (the outbox job [`JOB`]) and completes or discards it.

use crate::entities::held_upload;
use crate::{DbError, TenantTx, outbox};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use trellis_domain::PersonId;
use uuid::Uuid;

/// The outbox job that scans one held upload again.
pub const JOB: &str = "scan_held";

/// What a held upload is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An e-learning package for a course (`target` is the course's id).
    Package,
    /// The trust's logo.
    Logo,
    /// A staff file (CSV) to check and import.
    StaffFile,
    /// A course session's video, audio or document (scanned, never held: see the course editor).
    Media,
    /// A file of the resource library, or its captions (scanned, never held, as media).
    Resource,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Package => "package",
            Kind::Logo => "logo",
            Kind::StaffFile => "staff_file",
            Kind::Media => "media",
            Kind::Resource => "resource",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "package" => Some(Kind::Package),
            "logo" => Some(Kind::Logo),
            "staff_file" => Some(Kind::StaffFile),
            "media" => Some(Kind::Media),
            "resource" => Some(Kind::Resource),
            _ => None,
        }
    }
}

/// Where a held upload has got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Not yet scanned.
    Waiting,
    /// Scanned clean and completed (the package added, the logo set, the staff file kept).
    Released,
    /// The scanner found a virus: the file is gone.
    Infected,
    /// Scanned clean, but refused as it would have been on upload (a bad package, say).
    Refused,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Waiting => "waiting",
            Status::Released => "released",
            Status::Infected => "infected",
            Status::Refused => "refused",
        }
    }
}

/// A held upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub id: Uuid,
    pub kind: Option<Kind>,
    pub target: String,
    pub file_name: String,
    pub bytes: i64,
    pub sha256: String,
    pub uploaded_by: Option<PersonId>,
    pub received_at: DateTime<Utc>,
    pub status: String,
    pub detail: String,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl From<held_upload::Model> for Held {
    fn from(m: held_upload::Model) -> Self {
        Held {
            id: m.id,
            kind: Kind::parse(&m.kind),
            target: m.target,
            file_name: m.file_name,
            bytes: m.bytes,
            sha256: m.sha256,
            uploaded_by: m.uploaded_by.map(PersonId::from_uuid),
            received_at: m.received_at,
            status: m.status,
            detail: m.detail,
            resolved_at: m.resolved_at,
        }
    }
}

/// What is held, as the upload brought it.
#[derive(Debug, Clone)]
pub struct NewHeld<'a> {
    pub id: Uuid,
    pub kind: Kind,
    pub target: &'a str,
    pub file_name: &'a str,
    pub bytes: u64,
    pub sha256: &'a str,
    pub uploaded_by: Option<PersonId>,
}

/// Where a held upload's file is kept in the file store.
pub fn file_key(tenant: trellis_domain::TenantId, id: Uuid) -> String {
    format!("{tenant}/held/{id}")
}

/// Whether a file store key is in a trust's held area (a file waiting for its scan: never served).
pub fn is_held_key(key: &str) -> bool {
    key.split('/').nth(1) == Some("held")
}

/// Records a held upload (its file already kept at [`file_key`]) and queues its scan, in the
/// caller's transaction.
pub async fn hold(tx: &TenantTx, h: &NewHeld<'_>) -> Result<(), DbError> {
    tx.insert(held_upload::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        id: Set(h.id),
        kind: Set(h.kind.as_str().to_owned()),
        target: Set(h.target.chars().take(64).collect()),
        file_name: Set(h.file_name.chars().take(200).collect()),
        bytes: Set(i64::try_from(h.bytes).unwrap_or(i64::MAX)),
        sha256: Set(h.sha256.chars().take(64).collect()),
        uploaded_by: Set(h.uploaded_by.map(|p| p.as_uuid())),
        received_at: Set(Utc::now()),
        status: Set(Status::Waiting.as_str().to_owned()),
        detail: Set(String::new()),
        resolved_at: Set(None),
    })
    .await?;
    outbox::enqueue_job(tx, JOB, &serde_json::json!({ "id": h.id.to_string() })).await
}

/// One held upload.
pub async fn by_id(tx: &TenantTx, id: Uuid) -> Result<Option<Held>, DbError> {
    Ok(tx.select::<held_upload::Entity>().filter(held_upload::Column::Id.eq(id)).one(tx).await?.map(Held::from))
}

/// The newest held uploads of a kind (and target, if given), newest first: what the upload's page
/// lists as waiting or recently resolved.
pub async fn recent(tx: &TenantTx, kind: Kind, target: Option<&str>, limit: u64) -> Result<Vec<Held>, DbError> {
    let mut q = tx.select::<held_upload::Entity>().filter(held_upload::Column::Kind.eq(kind.as_str()));
    if let Some(t) = target {
        q = q.filter(held_upload::Column::Target.eq(t));
    }
    Ok(q.order_by_desc(held_upload::Column::ReceivedAt)
        .limit(limit)
        .all(tx)
        .await?
        .into_iter()
        .map(Held::from)
        .collect())
}

/// Records how a waiting upload ended; false if it was no longer waiting (another worker did it).
pub async fn resolve(tx: &TenantTx, id: Uuid, status: Status, detail: &str) -> Result<bool, DbError> {
    let res = tx
        .update_many::<held_upload::Entity>()
        .filter(held_upload::Column::Id.eq(id))
        .filter(held_upload::Column::Status.eq(Status::Waiting.as_str()))
        .col_expr(held_upload::Column::Status, Expr::value(status.as_str()))
        .col_expr(held_upload::Column::Detail, Expr::value(detail.chars().take(500).collect::<String>()))
        .col_expr(held_upload::Column::ResolvedAt, Expr::value(Some(Utc::now())))
        .exec(tx)
        .await?;
    Ok(res.rows_affected == 1)
}
