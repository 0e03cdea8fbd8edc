//! `packages`: uploaded e-learning packages (SCORM 1.2, SCORM 2004, cmi5), owned by a trust or by
//! the national catalogue; their files are in the file store under `<owner>/packages/<id>/`.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "packages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub course_id: Uuid,
    pub standard: String,
    pub edition: String,
    pub title: String,
    pub identifier: String,
    pub file_count: i32,
    pub total_bytes: i64,
    pub sha256: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    /// Set on a marketplace snapshot: whose stored files it reads (`<owner>/packages/<package>/`).
    pub files_owner: Option<Uuid>,
    pub files_package: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crate::tenant_scoped!(Entity, Column::TenantId);
