//! `enquiries`: an enquiry to a trust's desk from its *Contact us* form.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "enquiries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub reference: String,
    pub person_id: Option<Uuid>,
    pub name: String,
    pub email: String,
    pub topic: String,
    pub subject: String,
    /// `open`, `answered` or `closed`.
    pub status: String,
    /// A request to close an account: the date by which it must be dealt with.
    pub due_at: Option<DateTimeUtc>,
    pub token_hash: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub closed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crate::tenant_scoped!(Entity, Column::TenantId);
