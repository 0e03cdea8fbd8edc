//! `charges`: one sale or bill, owned by the buying trust.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "charges")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub listing_id: Uuid,
    pub course_id: Uuid,
    pub seller_id: Uuid,
    pub kind: String,
    pub funding: String,
    pub person_id: Option<Uuid>,
    pub enrolment_id: Option<Uuid>,
    pub quantity: i32,
    pub unit_pence: i64,
    pub amount_pence: i64,
    pub fee_pence: i64,
    pub currency: String,
    pub status: crate::states::ChargeStatus,
    pub month: String,
    pub checkout_id: Option<String>,
    pub payment_intent: Option<String>,
    pub refund_id: Option<String>,
    pub invoice_id: Option<Uuid>,
    pub access_until: Option<Date>,
    pub created_at: DateTimeUtc,
    pub settled_at: Option<DateTimeUtc>,
    pub refunded_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crate::tenant_scoped!(Entity, Column::TenantId);
