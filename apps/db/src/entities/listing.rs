//! `listings`: a course offered in the national marketplace.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "listings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub seller_id: Uuid,
    pub source_tenant: Uuid,
    pub source_course: Uuid,
    pub course_id: Option<Uuid>,
    pub title: String,
    pub summary: String,
    pub price_pence: i64,
    pub currency: String,
    pub tiers: String,
    pub licence_days: i32,
    pub preview: String,
    pub preview_url: Option<String>,
    pub standards: String,
    pub status: crate::states::ListingStatus,
    pub review_note: String,
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<DateTimeUtc>,
    pub commission_bps: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
