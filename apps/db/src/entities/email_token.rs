//! `email_tokens`: single-use, expiring links (verify, reset). Only a hash is stored.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub token_sha256: String,
    pub person_id: Uuid,
    /// The trust whose site issued the link; it only works there.
    pub tenant_id: Uuid,
    pub purpose: String,
    pub new_email: Option<String>,
    /// What else the link carries (a single sign-on identity to link, as JSON).
    pub payload: Option<String>,
    pub expires_at: DateTimeUtc,
    pub used_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
