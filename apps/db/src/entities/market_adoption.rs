//! `market_adoptions`: a listing a trust added to its catalogue, and how it pays.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "market_adoptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub listing_id: Uuid,
    pub course_id: Uuid,
    pub seller_id: Uuid,
    pub seller_tenant: Uuid,
    pub seller_account: Option<String>,
    pub funding: String,
    pub seats: i32,
    pub price_pence: i64,
    pub currency: String,
    pub tiers: String,
    pub licence_days: i32,
    pub commission_bps: i32,
    pub added_by: Option<Uuid>,
    pub added_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crate::tenant_scoped!(Entity, Column::TenantId);
