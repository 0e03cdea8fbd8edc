//! `sellers`: a seller in the marketplace (a vendor's site or a trust that sells).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sellers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub site_id: Uuid,
    pub kind: String,
    pub name: String,
    pub summary: String,
    pub website: String,
    pub stripe_account: Option<String>,
    pub charges_enabled: bool,
    pub payouts_enabled: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
