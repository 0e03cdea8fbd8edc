//! `report_grants`: a reporting lead (authorised by the trust's authoriser) or a report user
//! (nominated by a lead) for the trust's identifiable reports.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "report_grants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub kind: crate::states::ReportGrantKind,
    pub person_id: Uuid,
    pub person_name: String,
    pub person_email: String,
    pub granted_by: Uuid,
    pub parent_id: Option<Uuid>,
    pub statement: String,
    pub purpose: String,
    pub ip: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    pub revoked_by: Option<Uuid>,
    pub expiry_noted: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crate::tenant_scoped!(Entity, Column::TenantId);
