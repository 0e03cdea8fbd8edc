//! A trust's audit trail: who did what, to what, from where, and when. Appended in the
//! transaction of the change it records (the trust's own, or the identity path's), read newest
//! first.

use crate::entities::audit_event;
use crate::{DbError, TenantTx};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use trellis_domain::PersonId;

pub use crate::tenant_tx::Trail;

/// One entry of the audit trail.
#[derive(Debug, Clone)]
pub struct Entry {
    pub at: DateTime<Utc>,
    pub actor: Option<PersonId>,
    pub action: String,
    pub subject: String,
    pub ip: Option<String>,
    pub detail: String,
}

/// Appends to this trust's audit trail.
pub async fn record(
    tx: &impl Trail,
    actor: Option<PersonId>,
    action: &str,
    subject: &str,
    ip: Option<&str>,
    detail: serde_json::Value,
) -> Result<(), DbError> {
    tx.trail()
        .insert_only(audit_event::ActiveModel {
            tenant_id: Set(uuid::Uuid::nil()),
            id: Set(uuid::Uuid::now_v7()),
            at: Set(Utc::now()),
            actor_person_id: Set(actor.map(|a| a.as_uuid())),
            action: Set(action.into()),
            subject: Set(subject.chars().take(300).collect()),
            ip: Set(ip.map(str::to_owned)),
            detail: Set(detail.to_string()),
        })
        .await?;
    Ok(())
}

/// This trust's audit trail, newest first.
pub async fn trail(tx: &TenantTx, limit: u64) -> Result<Vec<Entry>, DbError> {
    trail_of(tx, "", limit).await
}

/// This trust's audit entries whose action starts with `prefix`, newest first.
pub async fn trail_of(tx: &TenantTx, prefix: &str, limit: u64) -> Result<Vec<Entry>, DbError> {
    let mut q = tx.select::<audit_event::Entity>();
    if !prefix.is_empty() {
        q = q.filter(audit_event::Column::Action.starts_with(prefix));
    }
    Ok(q.order_by_desc(audit_event::Column::At)
        .order_by_desc(audit_event::Column::Id)
        .limit(limit)
        .all(tx)
        .await?
        .into_iter()
        .map(|e| Entry {
            at: e.at,
            actor: e.actor_person_id.map(PersonId::from_uuid),
            action: e.action,
            subject: e.subject,
            ip: e.ip,
            detail: e.detail,
        })
        .collect())
}
