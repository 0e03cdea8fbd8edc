//! `event_bookings`: a person's place (or place on the waiting list) at an event, and the register.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "event_bookings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub event_id: Uuid,
    pub person_id: Uuid,
    pub status: String,
    pub attendance: String,
    pub result: String,
    pub requested_at: DateTimeUtc,
    pub booked_at: Option<DateTimeUtc>,
    pub cancelled_at: Option<DateTimeUtc>,
    pub reminded_at: Option<DateTimeUtc>,
    pub marked_at: Option<DateTimeUtc>,
    pub marked_by: Option<Uuid>,
    pub note: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crate::tenant_scoped!(Entity, Column::TenantId);
