//! `held_uploads`: an upload kept aside, unserved, until it is scanned for viruses.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "held_uploads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub kind: String,
    pub target: String,
    pub file_name: String,
    pub bytes: i64,
    pub sha256: String,
    pub uploaded_by: Option<Uuid>,
    pub received_at: DateTimeUtc,
    pub status: String,
    pub detail: String,
    pub resolved_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crate::tenant_scoped!(Entity, Column::TenantId);
