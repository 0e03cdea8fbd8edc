//! `tenant_branding`: a trust's colours, logo and contact details (tenant-owned, one row a trust).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_branding")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    pub primary_colour: String,
    pub on_primary_colour: String,
    pub link_colour: String,
    pub accent_colour: String,
    pub logo_sha256: Option<String>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_address: Option<String>,
    pub contact_website: Option<String>,
    /// Set when a trust admin edits the branding: `tenants apply` then leaves it alone.
    pub admin_edited_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crate::tenant_scoped!(Entity, Column::TenantId);
