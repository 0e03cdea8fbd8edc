//! The outbox: emails and jobs written in the transaction of the change that causes them (so
//! they go only if it commits), claimed and delivered by the worker across trusts.

use crate::entities::outbox;
use crate::tenant_tx::Trail;
use crate::{DbError, PlatformDb, TenantTx};
use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use trellis_domain::TenantId;

/// An email, rendered and ready to send.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct OutgoingEmail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The sender's display name (the trust's name).
    pub from_name: String,
    /// A calendar file (iCalendar, with its METHOD) to attach: an event's invitation, update or
    /// cancellation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<String>,
    /// Where replies go, when not to the site's address (a coach's own email, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

/// Writes an email to the outbox, in the caller's transaction: it is sent only if that commits.
pub async fn enqueue_email(tx: &impl Trail, email: &OutgoingEmail) -> Result<(), DbError> {
    let now = Utc::now();
    tx.trail()
        .insert_only(outbox::ActiveModel {
            tenant_id: Set(uuid::Uuid::nil()),
            id: Set(uuid::Uuid::now_v7()),
            kind: Set("email".into()),
            payload: Set(serde_json::to_string(email).map_err(|e| DbError::Setup(e.to_string()))?),
            created_at: Set(now),
            attempts: Set(0),
            next_attempt_at: Set(now),
            sent_at: Set(None),
            last_error: Set(None),
        })
        .await?;
    Ok(())
}

/// An outbox item due for delivery.
#[derive(Debug, Clone)]
pub struct DueItem {
    pub tenant: TenantId,
    pub id: uuid::Uuid,
    pub attempts: i32,
    /// `email`, or a job's kind (`reminders`, `staff_import`).
    pub kind: String,
    pub payload: String,
}

impl DueItem {
    /// The email, if this item is one.
    pub fn email(&self) -> Option<OutgoingEmail> {
        if self.kind == "email" { serde_json::from_str(&self.payload).ok() } else { None }
    }
}

/// Writes a job to the outbox, in the caller's transaction: it runs only if that commits.
pub async fn enqueue_job(tx: &TenantTx, kind: &str, payload: &serde_json::Value) -> Result<(), DbError> {
    let now = Utc::now();
    tx.insert(outbox::ActiveModel {
        tenant_id: Set(uuid::Uuid::nil()),
        id: Set(uuid::Uuid::now_v7()),
        kind: Set(kind.into()),
        payload: Set(payload.to_string()),
        created_at: Set(now),
        attempts: Set(0),
        next_attempt_at: Set(now),
        sent_at: Set(None),
        last_error: Set(None),
    })
    .await?;
    Ok(())
}

impl PlatformDb {
    /// Outbox items due now, across trusts, oldest first: everything else before bulk mail's
    /// copies, so a password reset or a reminder is not kept waiting behind a campaign's
    /// twenty thousand emails (the bulk fills what is left of `limit`).
    pub async fn due_outbox_across_tenants(&self, limit: u64) -> Result<Vec<DueItem>, DbError> {
        let now = Utc::now();
        let mut due = outbox::Entity::find()
            .filter(outbox::Column::SentAt.is_null())
            .filter(outbox::Column::NextAttemptAt.lte(now))
            .filter(outbox::Column::Kind.ne(crate::mailings::KIND))
            .order_by_asc(outbox::Column::NextAttemptAt)
            .limit(limit)
            .all(&self.conn)
            .await?;
        let room = limit.saturating_sub(due.len() as u64);
        if room > 0 {
            due.extend(
                outbox::Entity::find()
                    .filter(outbox::Column::SentAt.is_null())
                    .filter(outbox::Column::NextAttemptAt.lte(now))
                    .filter(outbox::Column::Kind.eq(crate::mailings::KIND))
                    .order_by_asc(outbox::Column::NextAttemptAt)
                    .limit(room)
                    .all(&self.conn)
                    .await?,
            );
        }
        Ok(due
            .into_iter()
            .map(|o| DueItem {
                tenant: TenantId::from_uuid(o.tenant_id),
                id: o.id,
                attempts: o.attempts,
                kind: o.kind,
                payload: o.payload,
            })
            .collect())
    }

    /// Records an outbox item as sent (only once: a second sender's update changes nothing).
    pub async fn outbox_sent_across_tenants(&self, item: &DueItem) -> Result<bool, DbError> {
        let res = outbox::Entity::update_many()
            .filter(outbox::Column::TenantId.eq(item.tenant.as_uuid()))
            .filter(outbox::Column::Id.eq(item.id))
            .filter(outbox::Column::SentAt.is_null())
            .col_expr(outbox::Column::SentAt, Expr::value(Some(Utc::now())))
            .col_expr(outbox::Column::Attempts, Expr::value(item.attempts + 1))
            .exec(&self.conn)
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Records a failed attempt and when to try again (exponential back-off, capped at an hour).
    pub async fn outbox_failed_across_tenants(&self, item: &DueItem, error: &str) -> Result<(), DbError> {
        let backoff = Duration::seconds(Ord::min(2_i64.pow(item.attempts.clamp(0, 11).unsigned_abs()), 3600));
        outbox::Entity::update_many()
            .filter(outbox::Column::TenantId.eq(item.tenant.as_uuid()))
            .filter(outbox::Column::Id.eq(item.id))
            .col_expr(outbox::Column::Attempts, Expr::value(item.attempts + 1))
            .col_expr(outbox::Column::NextAttemptAt, Expr::value(Utc::now() + backoff))
            .col_expr(outbox::Column::LastError, Expr::value(Some(error.chars().take(1000).collect::<String>())))
            .exec(&self.conn)
            .await?;
        Ok(())
    }
}

impl PlatformDb {
    /// Takes an outbox item for this sender for two minutes; false if another sender has it.
    pub async fn claim_outbox_across_tenants(&self, item: &DueItem) -> Result<bool, DbError> {
        let now = Utc::now();
        let res = outbox::Entity::update_many()
            .filter(outbox::Column::TenantId.eq(item.tenant.as_uuid()))
            .filter(outbox::Column::Id.eq(item.id))
            .filter(outbox::Column::SentAt.is_null())
            .filter(outbox::Column::NextAttemptAt.lte(now))
            .col_expr(outbox::Column::NextAttemptAt, Expr::value(now + Duration::minutes(2)))
            .exec(&self.conn)
            .await?;
        Ok(res.rows_affected == 1)
    }
}
