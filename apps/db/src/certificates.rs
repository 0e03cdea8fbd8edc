//! Certificates: whether a course offers one here, and the links a learner makes so that someone
//! else can check one (an employer, a regulator). The certificate itself is drawn from current
//! data on each download (the web crate's `features::certificates`).

use crate::catalogue::Course;
use crate::entities::{certificate_link, requirement};
use crate::{DbError, TenantTx};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, Set};
use sha2::{Digest, Sha256};
use trellis_domain::PersonId;
use uuid::Uuid;

/// Whether the course offers a completion certificate here: the editor's choice, else on when a
/// rule of this trust makes the course mandatory.
pub async fn offered(tx: &TenantTx, course: &Course) -> Result<bool, DbError> {
    if let Some(choice) = course.certificate {
        return Ok(choice);
    }
    Ok(tx
        .select::<requirement::Entity>()
        .filter(requirement::Column::CourseId.eq(course.id.as_uuid()))
        .filter(requirement::Column::Mandatory.eq(true))
        .one(tx)
        .await?
        .is_some())
}

/// A verification link as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub id: Uuid,
    pub person: PersonId,
    pub enrolment: Uuid,
    pub cycle: i32,
    /// A programme's certificate (then `enrolment` is nil).
    pub programme: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub views: i32,
    pub last_viewed_at: Option<DateTime<Utc>>,
}

impl Link {
    /// Usable now: neither revoked nor expired.
    pub fn live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

impl From<certificate_link::Model> for Link {
    fn from(m: certificate_link::Model) -> Self {
        Link {
            id: m.id,
            person: PersonId::from_uuid(m.person_id),
            enrolment: m.enrolment_id,
            cycle: m.cycle,
            programme: m.programme_id,
            created_at: m.created_at,
            expires_at: m.expires_at,
            revoked_at: m.revoked_at,
            views: m.views,
            last_viewed_at: m.last_viewed_at,
        }
    }
}

/// Whose certificate a verification link checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Of {
    /// One cycle of an enrolment on a course or learning path.
    Enrolment(Uuid, i32),
    /// A programme.
    Programme(Uuid),
}

/// Makes a link for a certificate, open until `expires_at`; keeps only the token's hash.
pub async fn create_link(
    tx: &TenantTx,
    person: PersonId,
    of: Of,
    token: &str,
    expires_at: DateTime<Utc>,
) -> Result<Uuid, DbError> {
    let (enrolment, cycle, programme) = match of {
        Of::Enrolment(e, c) => (e, c, None),
        Of::Programme(p) => (Uuid::nil(), 0, Some(p)),
    };
    let id = Uuid::now_v7();
    tx.insert(certificate_link::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        id: Set(id),
        person_id: Set(person.as_uuid()),
        enrolment_id: Set(enrolment),
        cycle: Set(cycle),
        programme_id: Set(programme),
        token_sha256: Set(crate::links::hash(token)),
        created_at: Set(Utc::now()),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
        views: Set(0),
        last_viewed_at: Set(None),
    })
    .await?;
    Ok(id)
}

/// The person's links for an enrolment, newest first.
pub async fn links_of(tx: &TenantTx, person: PersonId, enrolment: Uuid) -> Result<Vec<Link>, DbError> {
    links_where(tx, person, certificate_link::Column::EnrolmentId.eq(enrolment)).await
}

async fn links_where(
    tx: &TenantTx,
    person: PersonId,
    which: sea_orm::sea_query::SimpleExpr,
) -> Result<Vec<Link>, DbError> {
    Ok(tx
        .select::<certificate_link::Entity>()
        .filter(certificate_link::Column::PersonId.eq(person.as_uuid()))
        .filter(which)
        .order_by_desc(certificate_link::Column::CreatedAt)
        .all(tx)
        .await?
        .into_iter()
        .map(Link::from)
        .collect())
}

/// The person's links for a programme's certificate, newest first.
pub async fn programme_links_of(tx: &TenantTx, person: PersonId, programme: Uuid) -> Result<Vec<Link>, DbError> {
    links_where(tx, person, certificate_link::Column::ProgrammeId.eq(programme)).await
}

/// Revokes one of the person's links (at once). Whether there was such a live link.
pub async fn revoke(tx: &TenantTx, person: PersonId, id: Uuid) -> Result<bool, DbError> {
    crate::links::revoke::<certificate_link::Entity>(tx, person, id).await
}

/// The link with this token on this trust's site, live or not (the caller tells the two apart).
pub async fn by_token(tx: &TenantTx, token: &str) -> Result<Option<Link>, DbError> {
    Ok(crate::links::by_token::<certificate_link::Entity>(tx, token).await?.map(Link::from))
}

/// Counts a view of a live link.
pub async fn viewed(tx: &TenantTx, id: Uuid) -> Result<(), DbError> {
    crate::links::viewed::<certificate_link::Entity>(tx, id).await
}

/// A certificate's number: the same for the same enrolment and cycle, whenever it is drawn.
pub fn number(tenant: trellis_domain::TenantId, enrolment: Uuid, cycle: i32) -> String {
    number_of(&format!("{tenant}:{enrolment}:{cycle}"))
}

/// A programme certificate's number: the same for the same person and programme here.
pub fn programme_number(tenant: trellis_domain::TenantId, programme: Uuid, person: PersonId) -> String {
    number_of(&format!("{tenant}:programme:{programme}:{person}"))
}

fn number_of(what: &str) -> String {
    let h = Sha256::digest(what.as_bytes());
    let s = hex::encode_upper(&h[..6]);
    format!("TR-{}-{}-{}", &s[..4], &s[4..8], &s[8..12])
}
