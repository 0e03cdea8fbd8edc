//! `certificate_links`: a learner's link that lets anyone holding it check one certificate of
//! theirs (the token kept as its SHA-256), until it expires or they revoke it.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "certificate_links")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub person_id: Uuid,
    /// The enrolment whose certificate it is (nil for a programme's).
    pub enrolment_id: Uuid,
    pub cycle: i32,
    /// The programme whose certificate it is, if a programme's.
    pub programme_id: Option<Uuid>,
    pub token_sha256: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    pub views: i32,
    pub last_viewed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crate::tenant_scoped!(Entity, Column::TenantId);
