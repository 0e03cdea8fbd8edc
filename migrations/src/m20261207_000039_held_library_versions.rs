//! Library files and course media wait for their virus scan while the scanner is away (issue 20):
//! a resource's new version that waits is numbered but not yet current (`pending_version`), and
//! the version's files are kept in the trust's held area until the worker scans them. A resource
//! whose first version waits has the status `scanning`. A course session's file that waits is
//! found again by its key when it has been scanned (`learning_objects_file`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("ALTER TABLE resources ADD COLUMN pending_version integer NOT NULL DEFAULT 0").await?;
        db.execute_unprepared("CREATE INDEX learning_objects_file ON learning_objects (tenant_id, file_key)").await?;
        Ok(())
    }
}
