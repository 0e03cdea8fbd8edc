//! The upload and download log: every upload and download of content (packages, media, logos,
//! staff files, certificates, reports, exports), kept in the access log as `upload.<what>` and
//! `download.<what>` with who, when, the size in bytes and the trust. A trust's admins read their
//! trust's; platform admins read every trust's (a named cross-trust read).

use crate::entities::access_event;
use crate::{DbError, PlatformDb, TenantTx};
use chrono::{DateTime, Utc};
use sea_orm::Condition;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use trellis_domain::{PersonId, TenantId};
use uuid::Uuid;

/// Uploads, downloads, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Upload,
    Download,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Upload => "upload",
            Direction::Download => "download",
        }
    }

    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "upload" => Some(Direction::Upload),
            "download" => Some(Direction::Download),
            _ => None,
        }
    }
}

/// One upload or download to record.
#[derive(Debug, Clone)]
pub struct NewTransfer<'a> {
    pub direction: Direction,
    /// `package`, `media`, `logo`, `staff_file`, `certificate`, `report`, `export`, …
    pub what: &'a str,
    pub person: Option<PersonId>,
    /// The file as people know it (its name, or the certificate's course).
    pub subject: &'a str,
    pub bytes: u64,
    pub ip: &'a str,
    /// Anything else worth keeping (the scan's outcome, an API token's id), as JSON.
    pub detail: serde_json::Value,
}

/// Records an upload or download in the caller's transaction.
pub async fn record(tx: &TenantTx, t: &NewTransfer<'_>) -> Result<(), DbError> {
    tx.insert_only(access_event::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        id: Set(Uuid::now_v7()),
        at: Set(Utc::now()),
        person_id: Set(t.person.map(|p| p.as_uuid())),
        kind: Set(format!("{}.{}", t.direction.as_str(), t.what).chars().take(40).collect()),
        subject: Set(t.subject.chars().filter(|c| !c.is_control()).take(200).collect()),
        detail: Set(t.detail.to_string()),
        rows: Set(0),
        format: Set(String::new()),
        ip: Set(t.ip.chars().take(64).collect()),
        bytes: Set(i64::try_from(t.bytes).unwrap_or(i64::MAX)),
    })
    .await
}

/// What the log is read by: direction, a period, and where the page starts (older than `before`).
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub direction: Option<Direction>,
    pub from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub to: Option<DateTime<Utc>>,
    /// Older than this entry (the previous page's last): its time and id.
    pub before: Option<(DateTime<Utc>, Uuid)>,
    pub limit: u64,
}

/// One upload or download.
#[derive(Debug, Clone, PartialEq)]
pub struct Transfer {
    pub id: Uuid,
    pub tenant: TenantId,
    pub at: DateTime<Utc>,
    pub person: Option<PersonId>,
    pub direction: Direction,
    pub what: String,
    pub subject: String,
    pub bytes: i64,
    pub ip: String,
    pub detail: serde_json::Value,
}

fn filtered<Q: QueryFilter + QueryOrder + QuerySelect>(mut q: Q, query: &Query) -> Q {
    let kinds = match query.direction {
        Some(d) => Condition::all().add(access_event::Column::Kind.starts_with(format!("{}.", d.as_str()))),
        None => Condition::any()
            .add(access_event::Column::Kind.starts_with("upload."))
            .add(access_event::Column::Kind.starts_with("download.")),
    };
    q = q.filter(kinds);
    if let Some(f) = query.from {
        q = q.filter(access_event::Column::At.gte(f));
    }
    if let Some(t) = query.to {
        q = q.filter(access_event::Column::At.lt(t));
    }
    if let Some((at, id)) = query.before {
        q = q.filter(
            Condition::any()
                .add(access_event::Column::At.lt(at))
                .add(Condition::all().add(access_event::Column::At.eq(at)).add(access_event::Column::Id.lt(id))),
        );
    }
    q.order_by_desc(access_event::Column::At).order_by_desc(access_event::Column::Id).limit(query.limit.clamp(1, 500))
}

fn transfer(m: access_event::Model) -> Option<Transfer> {
    let (direction, what) = m.kind.split_once('.')?;
    Some(Transfer {
        id: m.id,
        tenant: TenantId::from_uuid(m.tenant_id),
        at: m.at,
        person: m.person_id.map(PersonId::from_uuid),
        direction: Direction::parse(direction)?,
        what: what.to_owned(),
        subject: m.subject,
        bytes: m.bytes,
        ip: m.ip,
        detail: serde_json::from_str(&m.detail).unwrap_or(serde_json::Value::Null),
    })
}

/// This trust's uploads and downloads, newest first.
pub async fn transfers(tx: &TenantTx, query: &Query) -> Result<Vec<Transfer>, DbError> {
    Ok(filtered(tx.select::<access_event::Entity>(), query).all(tx).await?.into_iter().filter_map(transfer).collect())
}

impl PlatformDb {
    /// Every trust's uploads and downloads, newest first (platform administrators' view).
    pub async fn transfers_across_tenants(&self, query: &Query) -> Result<Vec<Transfer>, DbError> {
        Ok(filtered(access_event::Entity::find(), query)
            .all(&self.conn)
            .await?
            .into_iter()
            .filter_map(transfer)
            .collect())
    }
}
