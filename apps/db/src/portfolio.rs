//! ePortfolio live links: a learner's link to an ePortfolio's learning record store. Each course
//! they complete here is queued (through the outbox, retried until it goes or they unlink) to be
//! sent to every live link of theirs.

use crate::entities::portfolio_link;
use crate::{DbError, TenantTx, outbox};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, Set};
use trellis_domain::{CourseId, PersonId};
use uuid::Uuid;

/// The outbox job that sends one completion to one link.
pub const JOB: &str = "portfolio_forward";

/// A link as its learner sees it (the sealed secret stays inside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub id: Uuid,
    pub person: PersonId,
    pub endpoint: String,
    pub username: String,
    pub secret_sealed: String,
    pub created_at: DateTime<Utc>,
    pub unlinked_at: Option<DateTime<Utc>>,
    pub sent: i32,
    pub last_sent_at: Option<DateTime<Utc>>,
    pub last_error: String,
}

impl From<portfolio_link::Model> for Link {
    fn from(m: portfolio_link::Model) -> Self {
        Link {
            id: m.id,
            person: PersonId::from_uuid(m.person_id),
            endpoint: m.endpoint,
            username: m.username,
            secret_sealed: m.secret_sealed,
            created_at: m.created_at,
            unlinked_at: m.unlinked_at,
            sent: m.sent,
            last_sent_at: m.last_sent_at,
            last_error: m.last_error,
        }
    }
}

/// Records a link.
pub async fn link(
    tx: &TenantTx,
    person: PersonId,
    endpoint: &str,
    username: &str,
    secret_sealed: &str,
) -> Result<Uuid, DbError> {
    let id = Uuid::now_v7();
    tx.insert(portfolio_link::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        id: Set(id),
        person_id: Set(person.as_uuid()),
        endpoint: Set(endpoint.to_owned()),
        username: Set(username.to_owned()),
        secret_sealed: Set(secret_sealed.to_owned()),
        created_at: Set(Utc::now()),
        unlinked_at: Set(None),
        sent: Set(0),
        last_sent_at: Set(None),
        last_error: Set(String::new()),
    })
    .await?;
    Ok(id)
}

/// The person's links, newest first.
pub async fn links_of(tx: &TenantTx, person: PersonId) -> Result<Vec<Link>, DbError> {
    Ok(tx
        .select::<portfolio_link::Entity>()
        .filter(portfolio_link::Column::PersonId.eq(person.as_uuid()))
        .order_by_desc(portfolio_link::Column::CreatedAt)
        .all(tx)
        .await?
        .into_iter()
        .map(Link::from)
        .collect())
}

/// One link, whoever's it is (the worker's read).
pub async fn by_id(tx: &TenantTx, id: Uuid) -> Result<Option<Link>, DbError> {
    Ok(tx.select::<portfolio_link::Entity>().filter(portfolio_link::Column::Id.eq(id)).one(tx).await?.map(Link::from))
}

/// Ends one of the person's links at once. Whether there was such a live one.
pub async fn unlink(tx: &TenantTx, person: PersonId, id: Uuid) -> Result<bool, DbError> {
    let res = tx
        .update_many::<portfolio_link::Entity>()
        .filter(portfolio_link::Column::Id.eq(id))
        .filter(portfolio_link::Column::PersonId.eq(person.as_uuid()))
        .filter(portfolio_link::Column::UnlinkedAt.is_null())
        .col_expr(portfolio_link::Column::UnlinkedAt, Expr::value(Some(Utc::now())))
        .exec(tx)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Records a sending: done (counted), or the reason it failed.
pub async fn sent(tx: &TenantTx, id: Uuid, error: Option<&str>) -> Result<(), DbError> {
    let q = tx.update_many::<portfolio_link::Entity>().filter(portfolio_link::Column::Id.eq(id));
    match error {
        None => q
            .col_expr(portfolio_link::Column::Sent, Expr::col(portfolio_link::Column::Sent).add(1))
            .col_expr(portfolio_link::Column::LastSentAt, Expr::value(Some(Utc::now())))
            .col_expr(portfolio_link::Column::LastError, Expr::value(String::new())),
        Some(e) => q.col_expr(portfolio_link::Column::LastError, Expr::value(e.chars().take(300).collect::<String>())),
    }
    .exec(tx)
    .await?;
    Ok(())
}

/// Queues a completion for each of the person's live links (or only `only`).
pub async fn queue_completion(
    tx: &TenantTx,
    person: PersonId,
    course: CourseId,
    enrolment: Uuid,
    at: DateTime<Utc>,
    only: Option<Uuid>,
) -> Result<usize, DbError> {
    let mut links = tx
        .select::<portfolio_link::Entity>()
        .filter(portfolio_link::Column::PersonId.eq(person.as_uuid()))
        .filter(portfolio_link::Column::UnlinkedAt.is_null());
    if let Some(id) = only {
        links = links.filter(portfolio_link::Column::Id.eq(id));
    }
    let links = links.all(tx).await?;
    for l in &links {
        outbox::enqueue_job(
            tx,
            JOB,
            &serde_json::json!({
                "link": l.id.to_string(), "person": person.to_string(), "course": course.to_string(),
                "enrolment": enrolment.to_string(), "at": at.to_rfc3339(),
            }),
        )
        .await?;
    }
    Ok(links.len())
}
