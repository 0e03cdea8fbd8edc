//! `tenant_hosts`: custom domains that reach a trust (platform-wide: resolved before a tenant is known).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_hosts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub host: String,
    pub tenant_id: Uuid,
    /// `declared` (in tenant.toml by the operator) or `admin` (added by a trust admin).
    pub kind: String,
    /// Only verified hosts are served.
    pub verified_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    /// The value a trust admin puts in a DNS TXT record to prove the domain is theirs.
    pub verify_token: Option<String>,
    /// When the DNS was last checked, and what was found.
    pub checked_at: Option<DateTimeUtc>,
    pub check_result: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
