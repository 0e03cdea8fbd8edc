//! Each signed-in session on a trust's site, so a person can see where they are signed in and end
//! one session without ending the others. The session store keeps the handle; this table keeps
//! what the person sees (when, from where, with what browser) and whether it was ended.

use crate::entities::person_session;
use crate::{DbError, TenantTx};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use trellis_domain::PersonId;
use uuid::Uuid;

/// How a session was signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Password,
    TwoStep,
    SingleSignOn,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Password => "password",
            Method::TwoStep => "mfa",
            Method::SingleSignOn => "sso",
        }
    }
}

/// A session as its person sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub method: String,
}

/// Records a new session and returns its handle.
pub async fn start(
    tx: &TenantTx,
    person: PersonId,
    method: Method,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> Result<Uuid, DbError> {
    let now = Utc::now();
    let id = Uuid::now_v7();
    tx.insert(person_session::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        id: Set(id),
        person_id: Set(person.as_uuid()),
        created_at: Set(now),
        last_seen_at: Set(now),
        ip: Set(ip.map(|s| s.chars().take(64).collect())),
        user_agent: Set(user_agent.map(|s| s.chars().take(300).collect())),
        method: Set(method.as_str().to_owned()),
        ended_at: Set(None),
    })
    .await?;
    Ok(id)
}

/// Whether the session is the person's and has not been ended.
pub async fn is_live(tx: &TenantTx, person: PersonId, id: Uuid) -> Result<bool, DbError> {
    Ok(tx
        .select::<person_session::Entity>()
        .filter(person_session::Column::Id.eq(id))
        .filter(person_session::Column::PersonId.eq(person.as_uuid()))
        .filter(person_session::Column::EndedAt.is_null())
        .one(tx)
        .await?
        .is_some())
}

/// Notes that the session was used now (called at most once a minute per session).
pub async fn touch(tx: &TenantTx, id: Uuid) -> Result<(), DbError> {
    tx.update_many::<person_session::Entity>()
        .filter(person_session::Column::Id.eq(id))
        .col_expr(person_session::Column::LastSeenAt, Expr::value(Utc::now()))
        .exec(tx)
        .await?;
    Ok(())
}

/// The person's sessions on this site that have not been ended, most recently used first
/// (at most 50; `newer_than` drops ones long idle, which the store has forgotten anyway).
pub async fn live_sessions(
    tx: &TenantTx,
    person: PersonId,
    newer_than: DateTime<Utc>,
) -> Result<Vec<SessionRecord>, DbError> {
    Ok(tx
        .select::<person_session::Entity>()
        .filter(person_session::Column::PersonId.eq(person.as_uuid()))
        .filter(person_session::Column::EndedAt.is_null())
        .filter(person_session::Column::LastSeenAt.gt(newer_than))
        .order_by_desc(person_session::Column::LastSeenAt)
        .limit(50)
        .all(tx)
        .await?
        .into_iter()
        .map(|s| SessionRecord {
            id: s.id,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            ip: s.ip,
            user_agent: s.user_agent,
            method: s.method,
        })
        .collect())
}

/// Ends one of the person's sessions on this site; false if there was no such live session.
pub async fn end(tx: &TenantTx, person: PersonId, id: Uuid) -> Result<bool, DbError> {
    let res = tx
        .update_many::<person_session::Entity>()
        .filter(person_session::Column::Id.eq(id))
        .filter(person_session::Column::PersonId.eq(person.as_uuid()))
        .filter(person_session::Column::EndedAt.is_null())
        .col_expr(person_session::Column::EndedAt, Expr::value(Some(Utc::now())))
        .exec(tx)
        .await?;
    Ok(res.rows_affected == 1)
}
