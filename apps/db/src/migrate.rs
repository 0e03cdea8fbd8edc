//! `trellis migrate`: roles (when allowed), a lock, then the migrations, as the owner.

use crate::connect::{Backend, backend_of, open, sqlite_path};
use crate::{APP_ROLE, DbError, IDENTITY_ROLE, PLATFORM_ROLE};
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use trellis_domain::config::DatabaseConfig;
use trellis_migrations::Migrator;
use trellis_migrations::MigratorTrait;

/// An arbitrary, fixed key for the migration advisory lock.
const MIGRATION_LOCK: i64 = 0x0074_7265_6c6c_6973;

/// Applies pending migrations. Several instances may call this at once: one migrates, the
/// others wait for its lock and then find nothing to do.
pub async fn migrate(cfg: &DatabaseConfig) -> Result<Vec<String>, DbError> {
    let owner = open(&cfg.url, 3).await?;
    let result = migrate_with(cfg, &owner).await;
    // Close now: a database with open connections cannot be renamed, dropped or used as a template.
    owner.close().await?;
    result
}

async fn migrate_with(cfg: &DatabaseConfig, owner: &sea_orm::DatabaseConnection) -> Result<Vec<String>, DbError> {
    match backend_of(&cfg.url) {
        Backend::Postgres => {
            if cfg.manage_roles {
                ensure_roles(owner).await?;
            }
            check_roles_exist(owner).await?;
            if cfg.manage_roles {
                restrict_connect(owner).await?;
            }
            // Held by this transaction's connection while the migrations run on another.
            let lock = owner.begin().await?;
            lock.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock($1)",
                [MIGRATION_LOCK.into()],
            ))
            .await?;
            let applied = run(owner).await;
            lock.commit().await?;
            applied
        }
        Backend::Sqlite => {
            let lock_path = format!("{}.migrate-lock", sqlite_path(&cfg.url));
            let file = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
                let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path)?;
                f.lock()?;
                Ok(f)
            })
            .await
            .map_err(|e| DbError::Setup(e.to_string()))?
            .map_err(|e| DbError::Setup(format!("cannot take the migration lock: {e}")))?;
            let applied = run(owner).await;
            drop(file);
            applied
        }
    }
}

async fn run(owner: &sea_orm::DatabaseConnection) -> Result<Vec<String>, DbError> {
    let pending: Vec<String> =
        Migrator::get_pending_migrations(owner).await?.iter().map(|m| m.name().to_owned()).collect();
    Migrator::up(owner, None).await?;
    Ok(pending)
}

/// Creates the application and platform roles if they are missing (needs a superuser). Roles
/// belong to the whole server and test databases are made in parallel, so a concurrent creation
/// by someone else is not an error.
async fn ensure_roles(owner: &sea_orm::DatabaseConnection) -> Result<(), DbError> {
    let su = owner
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
        ))
        .await?
        .map(|r| r.try_get::<bool>("", "rolsuper"))
        .transpose()?
        .unwrap_or(false);
    if !su {
        return Ok(());
    }
    for (role, attrs) in [
        (APP_ROLE, "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"),
        (PLATFORM_ROLE, "LOGIN NOSUPERUSER BYPASSRLS NOCREATEDB NOCREATEROLE"),
        (IDENTITY_ROLE, "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"),
    ] {
        owner
            .execute_unprepared(&format!(
                "DO $$ BEGIN
                   IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                     CREATE ROLE {role} {attrs};
                   END IF;
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
                 END $$;"
            ))
            .await?;
    }
    Ok(())
}

/// No role connects to a database by default: `CONNECT` is taken from `PUBLIC` on every database
/// of the server, and given to Trellis's three roles on this one only (so the application role
/// cannot reach another application's database, or another test's). Needs a superuser; a
/// database dropped meanwhile (tests run in parallel) is skipped.
async fn restrict_connect(owner: &sea_orm::DatabaseConnection) -> Result<(), DbError> {
    let su = owner
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
        ))
        .await?
        .map(|r| r.try_get::<bool>("", "rolsuper"))
        .transpose()?
        .unwrap_or(false);
    if !su {
        return Ok(());
    }
    owner
        .execute_unprepared(&format!(
            "DO $$
             DECLARE d text;
             BEGIN
               FOR d IN SELECT datname FROM pg_database
                         WHERE datallowconn AND NOT datistemplate
                           AND has_database_privilege('public', oid, 'CONNECT') LOOP
                 BEGIN
                   EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC', d);
                 EXCEPTION WHEN undefined_object OR invalid_catalog_name THEN NULL;
                 END;
               END LOOP;
               EXECUTE format('GRANT CONNECT ON DATABASE %I TO {APP_ROLE}, {PLATFORM_ROLE}, {IDENTITY_ROLE}', current_database());
             END $$;"
        ))
        .await?;
    Ok(())
}

async fn check_roles_exist(owner: &sea_orm::DatabaseConnection) -> Result<(), DbError> {
    for role in [APP_ROLE, PLATFORM_ROLE, IDENTITY_ROLE] {
        let found = owner
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT 1 AS one FROM pg_roles WHERE rolname = $1",
                [role.into()],
            ))
            .await?
            .is_some();
        if !found {
            return Err(DbError::Setup(format!(
                "the role {role} does not exist: create it (see docs/operations.md) or migrate as a superuser with database.manage_roles = true"
            )));
        }
    }
    Ok(())
}
