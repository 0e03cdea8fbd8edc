//! `learning_objects`: the sessions of one version of a course, in order.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "learning_objects")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub course_id: Uuid,
    pub version_id: Uuid,
    pub lineage: Uuid,
    pub position: i32,
    pub title: String,
    pub kind: String,
    pub body: String,
    pub url: Option<String>,
    pub file_key: Option<String>,
    pub file_name: Option<String>,
    pub file_type: Option<String>,
    pub file_size: Option<i64>,
    pub completion: String,
    pub min_minutes: Option<i32>,
    pub package_id: Option<Uuid>,
    pub launch: Option<String>,
    /// A session that shows a library resource: the resource (the trust's or a national one).
    pub resource_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crate::tenant_scoped!(Entity, Column::TenantId);
