//! The catalogue and learning (issue 4): courses and learning paths with versioned sessions,
//! programmes, national courses a trust offers, staff records from HR, enrolments, progress,
//! completions, assignment rules (mandatory training) and the compliance record they produce,
//! and the worker's schedule.
//!
//! National courses are rows owned by the national catalogue's id ([`crate::NATIONAL_CATALOGUE`]);
//! on PostgreSQL every trust may read them (a second, read-only policy) and none may change them.

use crate::{is_postgres, protect_shared_content_table, protect_tenant_table};
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
fn text_null(name: &str, len: u32) -> ColumnDef {
    ColumnDef::new(a(name)).string_len(len).null().to_owned()
}
fn long_text(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).text().not_null().default("").to_owned()
}
fn int(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).integer().not_null().default(0).to_owned()
}
fn int_null(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).integer().null().to_owned()
}
fn big_null(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).big_integer().null().to_owned()
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
fn date_null(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).date().null().to_owned()
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
        // Content: owned by a trust or by the national catalogue.
        table(
            manager,
            "courses",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                text("code", 40),
                text("kind", 8),
                text("title", 200),
                text("summary", 500),
                long_text("description"),
                text("topic", 80),
                text("audience", 300),
                int("duration_minutes"),
                text("accreditation", 300),
                int_null("cpd_points"),
                text("enrolment", 16),
                text("status", 16),
                uuid_null("current_version_id"),
                // Left for the marketplace: what a seller charges per enrolment.
                big_null("price_pence"),
                text_null("currency", 3),
                uuid_null("seller_id"),
                at("created_at"),
                at("updated_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "courses_id", "courses", &["id"], true).await?;
        index(manager, "courses_code", "courses", &["tenant_id", "code"], true).await?;
        index(manager, "courses_listing", "courses", &["tenant_id", "status", "title"], false).await?;
        protect_shared_content_table(manager, "courses").await?;

        table(
            manager,
            "course_versions",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("course_id"),
                int("number"),
                text("status", 16),
                at("created_at"),
                at_null("published_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "course_versions_number", "course_versions", &["tenant_id", "course_id", "number"], true)
            .await?;
        protect_shared_content_table(manager, "course_versions").await?;

        table(
            manager,
            "learning_objects",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("course_id"),
                uuid("version_id"),
                uuid("lineage"),
                int("position"),
                text("title", 200),
                text("kind", 16),
                long_text("body"),
                text_null("url", 2000),
                text_null("file_key", 200),
                text_null("file_name", 200),
                text_null("file_type", 100),
                big_null("file_size"),
                text("completion", 16),
                int_null("min_minutes"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "learning_objects_version", "learning_objects", &["tenant_id", "version_id", "position"], false)
            .await?;
        protect_shared_content_table(manager, "learning_objects").await?;

        // A learning path's courses, in order (a path is a course row of kind `path`).
        table(
            manager,
            "path_courses",
            vec![uuid("tenant_id"), uuid("path_id"), uuid("course_id"), int("position")],
            &["tenant_id", "path_id", "course_id"],
        )
        .await?;
        protect_shared_content_table(manager, "path_courses").await?;

        table(
            manager,
            "programmes",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                text("code", 40),
                text("title", 200),
                text("summary", 500),
                text("status", 16),
                at("created_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "programmes_code", "programmes", &["tenant_id", "code"], true).await?;
        protect_shared_content_table(manager, "programmes").await?;
        table(
            manager,
            "programme_courses",
            vec![uuid("tenant_id"), uuid("programme_id"), uuid("course_id"), int("position")],
            &["tenant_id", "programme_id", "course_id"],
        )
        .await?;
        protect_shared_content_table(manager, "programme_courses").await?;

        // National courses a trust offers in its catalogue.
        table(
            manager,
            "catalogue_offers",
            vec![uuid("tenant_id"), uuid("course_id"), at("offered_at"), uuid_null("offered_by")],
            &["tenant_id", "course_id"],
        )
        .await?;
        protect_tenant_table(manager, "catalogue_offers").await?;

        // What the trust's HR system says about each member of staff.
        table(
            manager,
            "staff_records",
            vec![
                uuid("tenant_id"),
                uuid("person_id"),
                text_null("assignment_number", 20),
                text("position", 200),
                text("department", 200),
                text("staff_group", 100),
                text("place_of_work", 200),
                at("updated_at"),
            ],
            &["tenant_id", "person_id"],
        )
        .await?;
        index(manager, "staff_records_assignment", "staff_records", &["tenant_id", "assignment_number"], true).await?;
        index(manager, "staff_records_group", "staff_records", &["tenant_id", "staff_group"], false).await?;
        index(manager, "staff_records_department", "staff_records", &["tenant_id", "department"], false).await?;
        protect_tenant_table(manager, "staff_records").await?;

        table(
            manager,
            "enrolments",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("person_id"),
                uuid("course_id"),
                uuid_null("version_id"),
                text("status", 16),
                text("source", 16),
                ColumnDef::new(a("cycle")).integer().not_null().default(1).to_owned(),
                date_null("due_on"),
                at("requested_at"),
                at_null("enrolled_at"),
                at_null("completed_at"),
                uuid_null("last_object_id"),
                at_null("last_activity_at"),
                uuid_null("decided_by"),
                text_null("reason", 500),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "enrolments_person_course", "enrolments", &["tenant_id", "person_id", "course_id"], true)
            .await?;
        index(manager, "enrolments_course_status", "enrolments", &["tenant_id", "course_id", "status"], false).await?;
        index(manager, "enrolments_status", "enrolments", &["tenant_id", "status", "requested_at"], false).await?;
        protect_tenant_table(manager, "enrolments").await?;

        table(
            manager,
            "object_progress",
            vec![
                uuid("tenant_id"),
                uuid("enrolment_id"),
                int("cycle"),
                uuid("object_id"),
                uuid("person_id"),
                at("first_access_at"),
                at("last_access_at"),
                int("seconds_spent"),
                at_null("completed_at"),
            ],
            &["tenant_id", "enrolment_id", "cycle", "object_id"],
        )
        .await?;
        protect_tenant_table(manager, "object_progress").await?;

        table(
            manager,
            "completions",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("person_id"),
                uuid("course_id"),
                uuid("enrolment_id"),
                uuid_null("version_id"),
                at("completed_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(
            manager,
            "completions_person",
            "completions",
            &["tenant_id", "person_id", "course_id", "completed_at"],
            false,
        )
        .await?;
        protect_tenant_table(manager, "completions").await?;

        // Assignment rules: a course for a person or a group, optionally mandatory, with a due
        // date (days after assignment) and a renewal period.
        table(
            manager,
            "requirements",
            vec![
                uuid("tenant_id"),
                uuid("id"),
                uuid("course_id"),
                text("audience_kind", 16),
                text("audience_value", 200),
                boolean("mandatory"),
                int_null("due_days"),
                int_null("renewal_months"),
                uuid_null("created_by"),
                at("created_at"),
            ],
            &["tenant_id", "id"],
        )
        .await?;
        index(manager, "requirements_course", "requirements", &["tenant_id", "course_id"], false).await?;
        protect_tenant_table(manager, "requirements").await?;

        // The compliance record: one row per person and mandatory course.
        table(
            manager,
            "assignments",
            vec![
                uuid("tenant_id"),
                uuid("person_id"),
                uuid("course_id"),
                uuid("requirement_id"),
                at("assigned_at"),
                ColumnDef::new(a("due_on")).date().not_null().to_owned(),
                at_null("started_at"),
                at_null("completed_at"),
                date_null("expires_on"),
                date_null("reminded_due_on"),
            ],
            &["tenant_id", "person_id", "course_id"],
        )
        .await?;
        index(manager, "assignments_course", "assignments", &["tenant_id", "course_id", "due_on"], false).await?;
        index(manager, "assignments_due", "assignments", &["tenant_id", "due_on"], false).await?;
        protect_tenant_table(manager, "assignments").await?;

        // Scheduled work per trust (the daily compliance run), claimed so each runs once a day.
        table(
            manager,
            "job_schedule",
            vec![uuid("tenant_id"), text("name", 40), ColumnDef::new(a("last_run_on")).date().not_null().to_owned()],
            &["tenant_id", "name"],
        )
        .await?;
        protect_tenant_table(manager, "job_schedule").await?;

        // Full-text search of the catalogue.
        let db = manager.get_connection();
        if is_postgres(manager) {
            db.execute_unprepared(
                "ALTER TABLE courses ADD COLUMN search tsvector GENERATED ALWAYS AS (
                   setweight(to_tsvector('english', coalesce(title, '')), 'A') ||
                   setweight(to_tsvector('english', coalesce(topic, '') || ' ' || coalesce(summary, '')), 'B') ||
                   setweight(to_tsvector('english', coalesce(description, '') || ' ' || coalesce(accreditation, '')), 'C')
                 ) STORED;
                 CREATE INDEX courses_search ON courses USING gin (search);",
            )
            .await?;
        } else {
            db.execute_unprepared(
                "CREATE VIRTUAL TABLE course_search USING fts5(
                   course_id UNINDEXED, title, topic, summary, description, tokenize = 'porter unicode61');
                 CREATE TRIGGER courses_search_insert AFTER INSERT ON courses BEGIN
                   INSERT INTO course_search (course_id, title, topic, summary, description)
                   VALUES (new.id, new.title, new.topic, new.summary, new.description || ' ' || new.accreditation);
                 END;
                 CREATE TRIGGER courses_search_update AFTER UPDATE ON courses BEGIN
                   DELETE FROM course_search WHERE course_id = old.id;
                   INSERT INTO course_search (course_id, title, topic, summary, description)
                   VALUES (new.id, new.title, new.topic, new.summary, new.description || ' ' || new.accreditation);
                 END;
                 CREATE TRIGGER courses_search_delete AFTER DELETE ON courses BEGIN
                   DELETE FROM course_search WHERE course_id = old.id;
                 END;",
            )
            .await?;
        }
        Ok(())
    }
}
