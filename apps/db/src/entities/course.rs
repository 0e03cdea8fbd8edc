//! `courses`: courses and learning paths (owned by a trust or by the national catalogue).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "courses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub code: String,
    pub kind: String,
    pub title: String,
    pub summary: String,
    pub description: String,
    pub topic: String,
    pub audience: String,
    pub duration_minutes: i32,
    pub accreditation: String,
    pub cpd_points: Option<i32>,
    /// Offers a completion certificate: `None` is the default (when the course is mandatory here).
    pub certificate: Option<bool>,
    pub enrolment: String,
    pub status: crate::states::CourseStatus,
    pub current_version_id: Option<Uuid>,
    pub price_pence: Option<i64>,
    pub currency: Option<String>,
    pub seller_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crate::tenant_scoped!(Entity, Column::TenantId);
