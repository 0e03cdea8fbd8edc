//! `people`: one identity each, platform-wide. A trust sees a person only through a membership.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "people")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub email: String,
    pub email_verified_at: Option<DateTimeUtc>,
    pub given_name: String,
    pub family_name: String,
    pub job_role: String,
    pub place_of_work: String,
    pub register_kind: Option<String>,
    pub register_number: Option<String>,
    /// `active` or `deactivated`.
    pub status: crate::states::PersonStatus,
    pub platform_admin: bool,
    /// Bumped to end every session of this person ("sign out everywhere", password change).
    pub session_epoch: i32,
    /// When two-step verification was turned on (the secret is in `person_secrets`).
    pub mfa_enabled_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    /// When they last confirmed their place of work and job role (`None`: not since registering).
    pub details_confirmed_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
    /// Objections to optional processing (`trellis_domain::privacy::Purpose`): when each was made.
    pub objected_bulletins_at: Option<DateTimeUtc>,
    pub objected_campaigns_at: Option<DateTimeUtc>,
    pub objected_research_at: Option<DateTimeUtc>,
    /// When they last signed in (at most hourly); the retention schedule anonymises accounts
    /// unused for `retention.inactive_accounts_days`.
    pub last_active_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
impl crate::PlatformOwned for Entity {}
