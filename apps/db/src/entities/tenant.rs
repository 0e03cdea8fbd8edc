//! `tenants`: one row a trust (platform-wide).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub short_name: Option<String>,
    pub ods_code: String,
    /// NHS England region ("" where not given).
    pub region: String,
    pub theme: String,
    pub time_zone: String,
    pub status: crate::states::TenantStatus,
    /// Administrators must use two-step verification.
    pub require_admin_mfa: bool,
    /// Video services whose players may be embedded (`youtube`, `vimeo`, comma-separated).
    pub embeds: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
