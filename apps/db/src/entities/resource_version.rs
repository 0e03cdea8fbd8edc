//! `resource_versions`: each version of a resource: its file, link or text, captions, transcript and alt text.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "resource_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub resource_id: Uuid,
    pub number: i32,
    pub file_key: Option<String>,
    pub file_name: String,
    pub file_type: String,
    pub file_size: i64,
    pub url: String,
    pub body: String,
    pub alt_text: String,
    pub captions_key: Option<String>,
    pub transcript: String,
    pub note: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crate::tenant_scoped!(Entity, Column::TenantId);
