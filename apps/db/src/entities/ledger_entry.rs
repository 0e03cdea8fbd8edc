//! `ledger_entries`: one double-entry line, owned by the party whose account it is.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ledger_entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub txn: Uuid,
    pub line: i32,
    pub kind: String,
    pub account: String,
    pub amount_pence: i64,
    pub currency: String,
    pub charge_id: Option<Uuid>,
    pub listing_id: Option<Uuid>,
    pub buyer_tenant: Option<Uuid>,
    pub seller_id: Option<Uuid>,
    pub person_id: Option<Uuid>,
    pub course_id: Option<Uuid>,
    pub memo: String,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crate::tenant_scoped!(Entity, Column::TenantId);
