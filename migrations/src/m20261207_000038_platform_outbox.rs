//! The platform's own enquiry desk (issue 20) keeps its enquiries, and queues its emails, under
//! the national catalogue's owner, which is not a trust: the outbox's foreign key to `tenants` is
//! dropped so a row may belong to it. (No trust is ever deleted, so its cascade did nothing.)
//! Row-level security on the outbox is unchanged.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == sea_orm::DbBackend::Postgres {
            db.execute_unprepared(
                "DO $fk$ DECLARE c text; BEGIN
                   FOR c IN SELECT conname FROM pg_constraint WHERE conrelid = 'outbox'::regclass AND contype = 'f' LOOP
                     EXECUTE 'ALTER TABLE outbox DROP CONSTRAINT ' || quote_ident(c);
                   END LOOP;
                 END $fk$;",
            )
            .await?;
        } else {
            // SQLite cannot drop a constraint: the table is made again without it.
            db.execute_unprepared(
                r#"CREATE TABLE "outbox_next" ( "tenant_id" uuid_text NOT NULL, "id" uuid_text NOT NULL, "kind" varchar(32) NOT NULL, "payload" text NOT NULL, "created_at" timestamp_with_timezone_text NOT NULL, "attempts" integer NOT NULL DEFAULT 0, "next_attempt_at" timestamp_with_timezone_text NOT NULL, "sent_at" timestamp_with_timezone_text NULL, "last_error" text NULL, PRIMARY KEY ("tenant_id", "id") );
                   INSERT INTO "outbox_next" ("tenant_id", "id", "kind", "payload", "created_at", "attempts", "next_attempt_at", "sent_at", "last_error")
                     SELECT "tenant_id", "id", "kind", "payload", "created_at", "attempts", "next_attempt_at", "sent_at", "last_error" FROM "outbox";
                   DROP TABLE "outbox";
                   ALTER TABLE "outbox_next" RENAME TO "outbox";
                   CREATE INDEX "outbox_due" ON "outbox" ("sent_at", "next_attempt_at");"#,
            )
            .await?;
        }
        Ok(())
    }
}
