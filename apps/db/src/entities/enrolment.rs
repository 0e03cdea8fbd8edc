//! `enrolments`: a person on a course in one trust (one row per person and course).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "enrolments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub person_id: Uuid,
    pub course_id: Uuid,
    pub version_id: Option<Uuid>,
    pub status: crate::states::EnrolmentStatus,
    pub source: String,
    pub cycle: i32,
    pub due_on: Option<Date>,
    pub requested_at: DateTimeUtc,
    pub enrolled_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    pub last_object_id: Option<Uuid>,
    pub last_activity_at: Option<DateTimeUtc>,
    pub decided_by: Option<Uuid>,
    pub reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crate::tenant_scoped!(Entity, Column::TenantId);
