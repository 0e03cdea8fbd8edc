//! `cmi5_sessions`: one launch of a cmi5 AU, from `launched` to `terminated` or `abandoned`.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cmi5_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub attempt_id: Uuid,
    pub registration: Uuid,
    pub launch_mode: String,
    pub fetch_key: String,
    pub fetched: bool,
    pub prefs_read: bool,
    pub verbs: String,
    pub launched_at: DateTimeUtc,
    pub initialized_at: Option<DateTimeUtc>,
    pub last_statement_at: Option<DateTimeUtc>,
    pub ended_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crate::tenant_scoped!(Entity, Column::TenantId);
