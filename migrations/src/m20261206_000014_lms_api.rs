//! The LMS API (issue 16): API tokens a trust's administrators issue (shown once, kept as a
//! SHA-256 hash, with scopes; revocable), one model for every integration that calls the trust
//! (the LMS API now, SCIM later); external learners, the actors a conformance-scoped token may
//! launch for (an xAPI account a test suite names), recorded apart from the trust's own people;
//! the courses a token imported (which the API may delete); and an attempt's external actor, so such an attempt speaks as the caller's actor.

use crate::helpers::{a, add_column, at, at_null, index, table, text, uuid, uuid_null};
use crate::protect_tenant_table;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        table(
            manager,
            "api_tokens",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                text("name", 200),
                // The SHA-256 of the token's secret part (hex).
                text("secret_sha256", 64),
                // Space-separated scopes.
                text("scopes", 200),
                uuid_null("created_by"),
                at("created_at"),
                at_null("expires_at"),
                at_null("last_used_at"),
                at_null("revoked_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        protect_tenant_table(manager, "api_tokens").await?;

        table(
            manager,
            "external_learners",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                // The hash of the actor's identifier (trellis_elearning::lrs::agent_hash).
                text("actor_key", 64),
                ColumnDef::new(a("actor")).text().not_null().default("").to_owned(),
                uuid("token_id"),
                at("created_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "external_learners_actor", "external_learners", &["tenant_id", "actor_key"], true).await?;
        protect_tenant_table(manager, "external_learners").await?;

        // Courses an API token imported: the API may delete these (and only these).
        table(
            manager,
            "api_courses",
            vec![uuid("tenant_id"), uuid("course_id"), uuid("token_id"), at("created_at")],
            &["tenant_id", "course_id"],
        )
        .await?;
        protect_tenant_table(manager, "api_courses").await?;

        add_column(manager, "attempts", ColumnDef::new(a("external_actor")).text().null().to_owned()).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(a("attempts")).drop_column(a("external_actor")).to_owned()).await?;
        manager.drop_table(Table::drop().table(a("api_courses")).to_owned()).await?;
        manager.drop_table(Table::drop().table(a("external_learners")).to_owned()).await?;
        manager.drop_table(Table::drop().table(a("api_tokens")).to_owned()).await
    }
}
