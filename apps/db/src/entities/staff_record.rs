//! `staff_records`: what the trust's HR system says about a member of staff.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "staff_records")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub person_id: Uuid,
    pub assignment_number: Option<String>,
    pub position: String,
    pub department: String,
    pub staff_group: String,
    pub place_of_work: String,
    pub updated_at: DateTimeUtc,
    pub end_date: Option<Date>,
    pub missing_since: Option<Date>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crate::tenant_scoped!(Entity, Column::TenantId);
