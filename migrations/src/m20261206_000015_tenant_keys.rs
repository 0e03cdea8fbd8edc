//! Keys ready for distribution by tenant (issue 17): every tenant-owned table's primary key and
//! unique constraints include `tenant_id`. `email_tokens` was keyed on `id` alone with a unique
//! `token_sha256` across trusts: its key becomes `(tenant_id, id)` and the hash is unique per
//! trust (a link is only ever looked up on its own trust's site). The unique indexes on `id`
//! alone of `courses`, `charges` and `invoices` become plain indexes (the platform still finds a
//! row by id; uniqueness is the `(tenant_id, id)` key's).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const PLAIN_ID_INDEXES: &[(&str, &str)] =
    &[("courses_id", "courses"), ("charges_id", "charges"), ("invoices_id", "invoices")];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, table) in PLAIN_ID_INDEXES {
            db.execute_unprepared(&format!("DROP INDEX {name}; CREATE INDEX {name} ON {table} (id);")).await?;
        }
        if crate::is_postgres(manager) {
            db.execute_unprepared(
                "ALTER TABLE email_tokens DROP CONSTRAINT email_tokens_pkey;
                 ALTER TABLE email_tokens ADD PRIMARY KEY (tenant_id, id);
                 ALTER TABLE email_tokens DROP CONSTRAINT email_tokens_token_sha256_key;
                 CREATE UNIQUE INDEX email_tokens_token ON email_tokens (tenant_id, token_sha256);",
            )
            .await?;
        } else {
            // SQLite cannot change a table's key: the table is made again with the new one.
            db.execute_unprepared(
                r#"CREATE TABLE "email_tokens_new" (
                     "id" uuid_text NOT NULL,
                     "token_sha256" varchar(64) NOT NULL,
                     "person_id" uuid_text NOT NULL,
                     "tenant_id" uuid_text NOT NULL,
                     "purpose" varchar(16) NOT NULL,
                     "new_email" varchar(254) NULL,
                     "expires_at" timestamp_with_timezone_text NOT NULL,
                     "used_at" timestamp_with_timezone_text NULL,
                     "created_at" timestamp_with_timezone_text NOT NULL,
                     "payload" text NULL,
                     PRIMARY KEY ("tenant_id", "id"),
                     FOREIGN KEY ("person_id") REFERENCES "people" ("id"));
                   INSERT INTO "email_tokens_new" ("id", "token_sha256", "person_id", "tenant_id", "purpose",
                     "new_email", "expires_at", "used_at", "created_at", "payload")
                     SELECT "id", "token_sha256", "person_id", "tenant_id", "purpose", "new_email", "expires_at",
                       "used_at", "created_at", "payload" FROM "email_tokens";
                   DROP TABLE "email_tokens";
                   ALTER TABLE "email_tokens_new" RENAME TO "email_tokens";
                   CREATE INDEX "email_tokens_person" ON "email_tokens" ("person_id");
                   CREATE UNIQUE INDEX "email_tokens_token" ON "email_tokens" ("tenant_id", "token_sha256");"#,
            )
            .await?;
        }
        Ok(())
    }
}
