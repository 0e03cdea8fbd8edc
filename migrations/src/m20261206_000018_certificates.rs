//! Certificates (issue 19): whether a course offers one (`NULL`: the default, on for a course
//! that is mandatory in the trust), and the links a learner makes so an employer or regulator can
//! check one (token kept as its SHA-256, expiring, revocable; every view counted and audited).

use crate::helpers::{a, add_column, at, at_null, index, int, table, text, uuid};
use crate::protect_tenant_table;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_column(manager, "courses", ColumnDef::new(a("certificate")).boolean().null().to_owned()).await?;
        table(
            manager,
            "certificate_links",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("person_id"),
                uuid("enrolment_id"),
                int("cycle"),
                text("token_sha256", 64),
                at("created_at"),
                at("expires_at"),
                at_null("revoked_at"),
                int("views"),
                at_null("last_viewed_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "certificate_links_token", "certificate_links", &["tenant_id", "token_sha256"], true).await?;
        index(
            manager,
            "certificate_links_person",
            "certificate_links",
            &["tenant_id", "person_id", "enrolment_id"],
            false,
        )
        .await?;
        protect_tenant_table(manager, "certificate_links").await?;
        Ok(())
    }
}
