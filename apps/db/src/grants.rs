//! Tutor access: a learner's grants to named people to read their record (all of it or chosen
//! courses) until a date, revocable at once; opened by an emailed link, every view counted.

use crate::entities::record_grant;
use crate::{DbError, TenantTx};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, Set};
use trellis_domain::{CourseId, PersonId};
use uuid::Uuid;

/// A grant as the learner (and the tutor's page) sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: Uuid,
    pub person: PersonId,
    pub tutor_email: String,
    pub tutor_name: String,
    /// The courses granted (empty: the whole record).
    pub courses: Vec<CourseId>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub views: i32,
    pub last_viewed_at: Option<DateTime<Utc>>,
}

impl Grant {
    /// Usable now: neither revoked nor expired.
    pub fn live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

impl From<record_grant::Model> for Grant {
    fn from(m: record_grant::Model) -> Self {
        Grant {
            id: m.id,
            person: PersonId::from_uuid(m.person_id),
            tutor_email: m.tutor_email,
            tutor_name: m.tutor_name,
            courses: m.courses.split(';').filter_map(|c| c.trim().parse().ok()).collect(),
            created_at: m.created_at,
            expires_at: m.expires_at,
            revoked_at: m.revoked_at,
            views: m.views,
            last_viewed_at: m.last_viewed_at,
        }
    }
}

/// What a learner grants.
#[derive(Debug, Clone)]
pub struct NewGrant<'a> {
    pub person: PersonId,
    pub tutor_email: &'a str,
    pub tutor_name: &'a str,
    pub courses: &'a [CourseId],
    pub token: &'a str,
    pub expires_at: DateTime<Utc>,
}

/// Records a grant; keeps only the token's hash.
pub async fn create(tx: &TenantTx, g: &NewGrant<'_>) -> Result<Uuid, DbError> {
    let id = Uuid::now_v7();
    tx.insert(record_grant::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        id: Set(id),
        person_id: Set(g.person.as_uuid()),
        tutor_email: Set(g.tutor_email.to_owned()),
        tutor_name: Set(g.tutor_name.to_owned()),
        courses: Set(g.courses.iter().map(ToString::to_string).collect::<Vec<_>>().join(";")),
        token_sha256: Set(crate::links::hash(g.token)),
        created_at: Set(Utc::now()),
        expires_at: Set(g.expires_at),
        revoked_at: Set(None),
        views: Set(0),
        last_viewed_at: Set(None),
    })
    .await?;
    Ok(id)
}

/// The learner's grants, newest first.
pub async fn of_person(tx: &TenantTx, person: PersonId) -> Result<Vec<Grant>, DbError> {
    Ok(tx
        .select::<record_grant::Entity>()
        .filter(record_grant::Column::PersonId.eq(person.as_uuid()))
        .order_by_desc(record_grant::Column::CreatedAt)
        .all(tx)
        .await?
        .into_iter()
        .map(Grant::from)
        .collect())
}

/// Revokes one of the learner's grants at once. Whether there was such a live grant.
pub async fn revoke(tx: &TenantTx, person: PersonId, id: Uuid) -> Result<bool, DbError> {
    crate::links::revoke::<record_grant::Entity>(tx, person, id).await
}

/// The grant with this token on this trust's site, live or not.
pub async fn by_token(tx: &TenantTx, token: &str) -> Result<Option<Grant>, DbError> {
    Ok(crate::links::by_token::<record_grant::Entity>(tx, token).await?.map(Grant::from))
}

/// Counts a view.
pub async fn viewed(tx: &TenantTx, id: Uuid) -> Result<(), DbError> {
    crate::links::viewed::<record_grant::Entity>(tx, id).await
}
