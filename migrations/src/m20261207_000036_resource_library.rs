//! The resource library (issue 20): learning resources that staff share under a licence they
//! choose, each with its versions (file, link or article, with captions, a transcript and alt
//! text), ratings, feedback and reports to moderators; who may contribute (a trust setting); who
//! has accepted the content policy; and a session of a course that shows a library resource.
//!
//! Resources and their versions are shared content: the national library's rows (owned by the
//! national catalogue) are readable by every trust, as national courses are. A trust's proposal
//! for the national library stays in the trust's row (`national`); a platform administrator who
//! accepts it makes a national copy (`origin_*` names where it came from).

use crate::helpers::{add_column, at, at_null, index, int, long_text, table, text, text_null, uuid, uuid_null};
use crate::{protect_shared_content_table, protect_tenant_table};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        table(
            manager,
            "resources",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                // video | audio | document | image | article | link
                text("kind", 16),
                text("title", 200),
                long_text("description"),
                text("keywords", 500),
                text("audience", 500),
                // cc-by | cc-by-sa | cc-by-nc | cc-by-nc-sa | cc-by-nd | cc-by-nc-nd | cc0 | platform
                text("licence", 16),
                text("attribution_name", 200),
                text("attribution_url", 2000),
                // published | hidden | removed
                text("status", 16),
                text("status_reason", 1000),
                uuid_null("contributor_id"),
                int("current_version"),
                // none | proposed | accepted | declined
                text("national", 16),
                // The version proposed (the one the curators see and copy).
                int("proposed_version"),
                text("national_note", 1000),
                uuid_null("origin_tenant_id"),
                uuid_null("origin_id"),
                at("created_at"),
                at("updated_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "resources_status", "resources", &["tenant_id", "status", "updated_at"], false).await?;
        index(manager, "resources_contributor", "resources", &["tenant_id", "contributor_id"], false).await?;
        index(manager, "resources_national", "resources", &["national", "updated_at"], false).await?;
        // One national copy of a trust's resource, however often Accept is pressed.
        index(manager, "resources_origin", "resources", &["tenant_id", "origin_tenant_id", "origin_id"], true).await?;
        protect_shared_content_table(manager, "resources").await?;

        table(
            manager,
            "resource_versions",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("resource_id"),
                int("number"),
                text_null("file_key", 300),
                text("file_name", 200),
                text("file_type", 120),
                ColumnDef::new(Alias::new("file_size")).big_integer().not_null().default(0).to_owned(),
                text("url", 2000),
                long_text("body"),
                text("alt_text", 500),
                text_null("captions_key", 300),
                long_text("transcript"),
                text("note", 500),
                uuid_null("created_by"),
                at("created_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "resource_versions_number", "resource_versions", &["tenant_id", "resource_id", "number"], true)
            .await?;
        index(manager, "resource_versions_creator", "resource_versions", &["tenant_id", "created_by"], false).await?;
        protect_shared_content_table(manager, "resource_versions").await?;

        // Ratings, feedback and reports belong to the trust of the person who gave them, also
        // for a national resource (`resource_tenant_id` says whose resource it is).
        table(
            manager,
            "resource_ratings",
            vec![
                uuid("tenant_id"),
                uuid("resource_tenant_id"),
                uuid("resource_id"),
                uuid("person_id"),
                int("stars"),
                at("updated_at"),
            ],
            &["tenant_id", "resource_id", "person_id"],
        )
        .await?;
        index(manager, "resource_ratings_person", "resource_ratings", &["tenant_id", "person_id"], false).await?;
        protect_tenant_table(manager, "resource_ratings").await?;
        table(
            manager,
            "resource_feedback",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("resource_tenant_id"),
                uuid("resource_id"),
                uuid_null("person_id"),
                long_text("body"),
                at("created_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(
            manager,
            "resource_feedback_resource",
            "resource_feedback",
            &["tenant_id", "resource_id", "created_at"],
            false,
        )
        .await?;
        index(manager, "resource_feedback_person", "resource_feedback", &["tenant_id", "person_id"], false).await?;
        protect_tenant_table(manager, "resource_feedback").await?;
        table(
            manager,
            "resource_reports",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("resource_tenant_id"),
                uuid("resource_id"),
                uuid_null("person_id"),
                // patient_data | copyright | wrong | offensive | other
                text("reason", 20),
                long_text("details"),
                // open | resolved
                text("status", 16),
                // hidden | removed | restored | kept
                text("outcome", 16),
                uuid_null("resolved_by"),
                at_null("resolved_at"),
                at("created_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "resource_reports_queue", "resource_reports", &["tenant_id", "status", "created_at"], false)
            .await?;
        index(
            manager,
            "resource_reports_resource",
            "resource_reports",
            &["resource_tenant_id", "resource_id", "status"],
            false,
        )
        .await?;
        index(manager, "resource_reports_person", "resource_reports", &["tenant_id", "person_id"], false).await?;
        protect_tenant_table(manager, "resource_reports").await?;

        // everyone (any approved member) | editors (content editors and training managers)
        table(
            manager,
            "library_settings",
            vec![uuid("tenant_id"), text("contributors", 16), at("updated_at")],
            &["tenant_id"],
        )
        .await?;
        protect_tenant_table(manager, "library_settings").await?;
        table(
            manager,
            "content_policy_acceptances",
            vec![uuid("tenant_id"), uuid("person_id"), text("version", 16), at("accepted_at")],
            &["tenant_id", "person_id", "version"],
        )
        .await?;
        protect_tenant_table(manager, "content_policy_acceptances").await?;

        // A course session that shows a library resource (the trust's own or a national one).
        add_column(manager, "learning_objects", uuid_null("resource_id")).await?;

        // Full-text search of the library, as of the catalogue.
        let db = manager.get_connection();
        if manager.get_database_backend() == sea_orm::DbBackend::Postgres {
            db.execute_unprepared(
                "ALTER TABLE resources ADD COLUMN search tsvector GENERATED ALWAYS AS (
                   setweight(to_tsvector('english', coalesce(title, '')), 'A') ||
                   setweight(to_tsvector('english', coalesce(keywords, '')), 'B') ||
                   setweight(to_tsvector('english', coalesce(description, '') || ' ' || coalesce(attribution_name, '')), 'C')
                 ) STORED;
                 CREATE INDEX resources_search ON resources USING gin (search);",
            )
            .await?;
        } else {
            db.execute_unprepared(
                "CREATE VIRTUAL TABLE resource_search USING fts5(
                   resource_id UNINDEXED, title, keywords, description, tokenize = 'porter unicode61');
                 CREATE TRIGGER resources_search_insert AFTER INSERT ON resources BEGIN
                   INSERT INTO resource_search (resource_id, title, keywords, description)
                   VALUES (new.id, new.title, new.keywords, new.description || ' ' || new.attribution_name);
                 END;
                 CREATE TRIGGER resources_search_update AFTER UPDATE ON resources BEGIN
                   DELETE FROM resource_search WHERE resource_id = old.id;
                   INSERT INTO resource_search (resource_id, title, keywords, description)
                   VALUES (new.id, new.title, new.keywords, new.description || ' ' || new.attribution_name);
                 END;
                 CREATE TRIGGER resources_search_delete AFTER DELETE ON resources BEGIN
                   DELETE FROM resource_search WHERE resource_id = old.id;
                 END;",
            )
            .await?;
        }
        Ok(())
    }
}
