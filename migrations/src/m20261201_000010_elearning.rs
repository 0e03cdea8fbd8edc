//! E-learning (issue 5): packages (SCORM 1.2, SCORM 2004, cmi5) and the sessions made from them,
//! attempts with their raw commits, cmi5 sessions, and the xAPI learning record store: statements
//! with the activities and agents they mention (for the filters), attachments, documents (state,
//! activity and agent profiles), activity definitions, and the credentials a trust issues.
//!
//! Package rows are shared content (a national course can hold a package every trust offers);
//! everything a learner does belongs to the trust where they did it.

use crate::{APP_ROLE, PLATFORM_ROLE, is_postgres, protect_shared_content_table, protect_tenant_table};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn a(name: &str) -> Alias {
    Alias::new(name)
}
fn uuid(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).uuid().not_null().to_owned()
}
fn uuid_null(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).uuid().null().to_owned()
}
fn text(name: &str, len: u32) -> ColumnDef {
    ColumnDef::new(a(name)).string_len(len).not_null().default("").to_owned()
}
fn long_text(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).text().not_null().default("").to_owned()
}
fn long_text_null(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).text().null().to_owned()
}
fn int(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).integer().not_null().default(0).to_owned()
}
fn big(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).big_integer().not_null().default(0).to_owned()
}
fn double_null(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).double().null().to_owned()
}
fn boolean(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).boolean().not_null().default(false).to_owned()
}
fn at(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).timestamp_with_time_zone().not_null().to_owned()
}
fn at_null(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).timestamp_with_time_zone().null().to_owned()
}
fn blob(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).blob().not_null().to_owned()
}

async fn table(manager: &SchemaManager<'_>, name: &str, cols: Vec<ColumnDef>, key: &[&str]) -> Result<(), DbErr> {
    let mut t = Table::create().table(a(name)).to_owned();
    for mut c in cols {
        t.col(&mut c);
    }
    let mut pk = Index::create();
    for k in key {
        pk.col(a(k));
    }
    t.primary_key(&mut pk);
    manager.create_table(t).await
}

async fn index(manager: &SchemaManager<'_>, name: &str, table: &str, cols: &[&str], unique: bool) -> Result<(), DbErr> {
    let mut i = Index::create().name(name).table(a(table)).to_owned();
    for c in cols {
        i.col(a(c));
    }
    if unique {
        i.unique();
    }
    manager.create_index(i).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // An uploaded package: checked, its files in the file store under
        // `<owner>/packages/<id>/`, its launchables made sessions of one course version.
        table(
            manager,
            "packages",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("course_id"),
                text("standard", 16),
                text("edition", 40),
                text("title", 300),
                text("identifier", 500),
                int("file_count"),
                big("total_bytes"),
                text("sha256", 64),
                uuid_null("created_by"),
                at("created_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "packages_course", "packages", &["tenant_id", "course_id"], false).await?;
        protect_shared_content_table(manager, "packages").await?;

        // A session made from a package: which package, and how to launch it (JSON: href,
        // parameters, identifier, mastery score, launch data, cmi5 moveOn and launch method, blocks).
        for col in [uuid_null("package_id"), long_text_null("launch")] {
            manager.alter_table(Table::alter().table(a("learning_objects")).add_column(col).to_owned()).await?;
        }
        // The learning record keeps scores and results whatever the standard.
        for col in [double_null("score_scaled"), text("success", 16)] {
            manager.alter_table(Table::alter().table(a("object_progress")).add_column(col).to_owned()).await?;
        }

        // One learner's attempt at one packaged session (a SCO or an AU) in one enrolment cycle.
        table(
            manager,
            "attempts",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("enrolment_id"),
                int("cycle"),
                uuid("object_id"),
                uuid("person_id"),
                int("number"),
                text("standard", 16),
                uuid("registration"),
                text("completion", 16),
                text("success", 16),
                double_null("score_scaled"),
                double_null("score_raw"),
                double_null("score_min"),
                double_null("score_max"),
                big("total_cs"),
                int("launches"),
                // The attempt's record as JSON (trellis_elearning::cmi::Attempt, or cmi5 state).
                long_text("record"),
                at("started_at"),
                at("updated_at"),
                at_null("completed_at"),
                at_null("ended_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(
            manager,
            "attempts_number",
            "attempts",
            &["tenant_id", "enrolment_id", "cycle", "object_id", "number"],
            true,
        )
        .await?;
        index(manager, "attempts_registration", "attempts", &["tenant_id", "registration"], false).await?;
        protect_tenant_table(manager, "attempts").await?;

        // Every commit the runtime sent, as sent, for the trace view of an attempt.
        table(
            manager,
            "attempt_commits",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("attempt_id"),
                int("launch"),
                big("seq"),
                at("received_at"),
                long_text("payload"),
                text("outcome", 300),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "attempt_commits_attempt", "attempt_commits", &["tenant_id", "attempt_id", "id"], false).await?;
        protect_tenant_table(manager, "attempt_commits").await?;

        // A cmi5 session: one launch of an AU, from `launched` to `terminated` or `abandoned`.
        table(
            manager,
            "cmi5_sessions",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("attempt_id"),
                uuid("registration"),
                text("launch_mode", 16),
                text("fetch_key", 64),
                boolean("fetched"),
                boolean("prefs_read"),
                // cmi5-defined verbs seen in this session, space separated.
                text("verbs", 200),
                at("launched_at"),
                at_null("initialized_at"),
                at_null("last_statement_at"),
                at_null("ended_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "cmi5_sessions_attempt", "cmi5_sessions", &["tenant_id", "attempt_id", "launched_at"], false)
            .await?;
        protect_tenant_table(manager, "cmi5_sessions").await?;

        // xAPI statements. `seq` orders them as stored (paging, `since`/`until` ties); the JSON is
        // the statement as the LRS returns it (with `stored`, `authority`, `version`). Verbs,
        // objects and actors are matched by a hash of their canonical form (IRIs can be long).
        table(
            manager,
            "xapi_statements",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                big("seq"),
                at("stored"),
                at("timestamp"),
                text("verb_key", 32),
                text("object_key", 32),
                text("actor_key", 32),
                uuid_null("registration"),
                // The statement a StatementRef object (or a voiding statement) points at.
                uuid_null("ref_target"),
                boolean("voided"),
                text("version", 16),
                long_text("body"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "xapi_statements_order", "xapi_statements", &["tenant_id", "seq"], true).await?;
        index(manager, "xapi_statements_verb", "xapi_statements", &["tenant_id", "verb_key", "seq"], false).await?;
        index(manager, "xapi_statements_registration", "xapi_statements", &["tenant_id", "registration", "seq"], false)
            .await?;
        protect_tenant_table(manager, "xapi_statements").await?;

        // What a statement mentions, for `activity`/`agent` filters (related or not), by hash.
        table(
            manager,
            "xapi_statement_refs",
            vec![
                uuid("tenant_id"),
                text("kind", 8),
                text("ref_key", 32),
                big("seq"),
                uuid("statement_id"),
                boolean("related_only"),
            ],
            &["tenant_id", "kind", "ref_key", "seq", "statement_id"],
        )
        .await?;
        protect_tenant_table(manager, "xapi_statement_refs").await?;

        table(
            manager,
            "xapi_attachments",
            vec![uuid("tenant_id"), text("sha2", 128), text("content_type", 255), big("length"), blob("body")],
            &["tenant_id", "sha2"],
        )
        .await?;
        protect_tenant_table(manager, "xapi_attachments").await?;

        // State, activity profile and agent profile documents.
        table(
            manager,
            "xapi_documents",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                text("api", 16),
                long_text("activity_id"),
                text("agent_key", 32),
                text("registration", 40),
                long_text("doc_id"),
                text("content_type", 255),
                blob("body"),
                text("etag", 70),
                at("updated"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        protect_tenant_table(manager, "xapi_documents").await?;

        table(
            manager,
            "xapi_activities",
            vec![
                uuid("tenant_id"),
                text("activity_key", 32),
                long_text("activity_id"),
                long_text("definition"),
                at("updated"),
            ],
            &["tenant_id", "activity_key"],
        )
        .await?;
        protect_tenant_table(manager, "xapi_activities").await?;

        // Credentials a trust's admin issues to an activity provider or a reporting tool.
        table(
            manager,
            "xapi_credentials",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                text("name", 200),
                text("key", 64),
                text("secret_sha256", 64),
                text("scope", 16),
                // The xAPI version the client speaks when a request does not say.
                text("version", 8),
                uuid_null("created_by"),
                at("created_at"),
                at_null("last_used_at"),
                at_null("revoked_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "xapi_credentials_key", "xapi_credentials", &["tenant_id", "key"], true).await?;
        protect_tenant_table(manager, "xapi_credentials").await?;

        // Long keys: unique by hash on PostgreSQL (a btree entry is limited to about 2.7 kB).
        let db = manager.get_connection();
        if is_postgres(manager) {
            db.execute_unprepared(&format!(
                "CREATE UNIQUE INDEX xapi_documents_key ON xapi_documents
                   (tenant_id, api, md5(activity_id), agent_key, registration, md5(doc_id));
                 CREATE SEQUENCE xapi_statements_seq;
                 GRANT USAGE ON SEQUENCE xapi_statements_seq TO {APP_ROLE}, {PLATFORM_ROLE};"
            ))
            .await?;
        } else {
            db.execute_unprepared(
                "CREATE UNIQUE INDEX xapi_documents_key ON xapi_documents
                   (tenant_id, api, activity_id, agent_key, registration, doc_id);",
            )
            .await?;
        }
        Ok(())
    }
}
