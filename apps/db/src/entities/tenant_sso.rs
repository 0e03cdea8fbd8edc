//! `tenant_sso`: a trust's OpenID Connect settings (tenant-owned).
use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_sso")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub client_secret_env: Option<String>,
    pub label: String,
    pub claim_email: String,
    pub claim_email_verified: String,
    pub claim_given_name: String,
    pub claim_family_name: String,
    pub updated_at: DateTimeUtc,
    /// Set when a trust admin edits the settings: `tenants apply` then leaves them alone.
    pub admin_edited_at: Option<DateTimeUtc>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantSso")
            .field("tenant_id", &self.tenant_id)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crate::tenant_scoped!(Entity, Column::TenantId);
