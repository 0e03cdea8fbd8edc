//! `person_secrets`: a person's password hash and TOTP secret. Only the identity role reads or
//! writes them (never the application or the platform role).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "person_secrets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub person_id: Uuid,
    /// argon2id, PHC string; none for accounts that sign in only by single sign-on (or not yet).
    pub password_hash: Option<String>,
    /// Base32 TOTP secret, once two-step verification is set up.
    pub mfa_secret: Option<String>,
    /// The last time step accepted, so a code is never accepted twice.
    pub mfa_last_step: Option<i64>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
