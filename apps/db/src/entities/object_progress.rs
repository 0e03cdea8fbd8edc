//! `object_progress`: what a learner did on one session in one cycle of an enrolment.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "object_progress")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub enrolment_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub cycle: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub object_id: Uuid,
    pub person_id: Uuid,
    pub first_access_at: DateTimeUtc,
    pub last_access_at: DateTimeUtc,
    pub seconds_spent: i32,
    /// How many times the session was opened.
    pub visits: i32,
    pub completed_at: Option<DateTimeUtc>,
    /// The latest score, −1 to 1, for sessions that report one (e-learning packages).
    pub score_scaled: Option<f64>,
    /// `passed`, `failed`, or empty.
    pub success: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crate::tenant_scoped!(Entity, Column::TenantId);
