//! `resources`: a resource of a trust's library (or of the national library).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "resources")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub kind: String,
    pub title: String,
    pub description: String,
    pub keywords: String,
    pub audience: String,
    pub licence: String,
    pub attribution_name: String,
    pub attribution_url: String,
    pub status: String,
    pub status_reason: String,
    pub contributor_id: Option<Uuid>,
    pub current_version: i32,
    pub pending_version: i32,
    pub national: String,
    pub proposed_version: i32,
    pub national_note: String,
    pub origin_tenant_id: Option<Uuid>,
    pub origin_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crate::tenant_scoped!(Entity, Column::TenantId);
