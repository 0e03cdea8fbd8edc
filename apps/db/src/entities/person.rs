//! `people`: one identity each, platform-wide. A trust sees a person only through a membership.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "people")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub email: String,
    pub email_verified_at: Option<DateTimeUtc>,
    pub password_hash: Option<String>,
    pub given_name: String,
    pub family_name: String,
    pub job_role: String,
    pub place_of_work: String,
    pub register_kind: Option<String>,
    pub register_number: Option<String>,
    /// `active` or `deactivated`.
    pub status: String,
    pub platform_admin: bool,
    /// Bumped to end every session of this person ("sign out everywhere", password change).
    pub session_epoch: i32,
    /// Base32 TOTP secret, once two-step verification is set up.
    pub mfa_secret: Option<String>,
    pub mfa_enabled_at: Option<DateTimeUtc>,
    /// The last time step accepted, so a code is never accepted twice.
    pub mfa_last_step: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
