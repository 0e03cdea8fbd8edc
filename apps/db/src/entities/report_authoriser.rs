//! `report_authorisers`: a trust's authoriser of organisation reporting (HR director, medical
//! director, SIRO or Caldicott Guardian), recorded by a platform administrator and confirmed by
//! an emailed link.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "report_authorisers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub role: crate::states::AuthoriserRole,
    pub email: String,
    pub token_sha256: String,
    pub recorded_by: String,
    pub created_at: DateTimeUtc,
    pub link_expires_at: DateTimeUtc,
    pub confirmed_at: Option<DateTimeUtc>,
    pub person_id: Option<Uuid>,
    pub confirmed_ip: String,
    pub ended_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crate::tenant_scoped!(Entity, Column::TenantId);
