//! Opening the application's and the platform's pools, and checking the roles are safe.

use crate::identity::IdentityDb;
use crate::tenant_tx::Writer;
use crate::{DbError, PlatformDb, TenantTx};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use std::time::Duration;
use trellis_domain::TenantId;
use trellis_domain::config::{DatabaseConfig, redact_url};

/// Which database engine is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The application's pool: connects as the role that owns nothing and cannot bypass RLS.
/// Its only door is [`AppDb::begin`].
#[derive(Clone)]
pub struct AppDb {
    conn: DatabaseConnection,
    writer: Writer,
    /// Transactions begun on this pool since it opened (a request should cost one).
    begun: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl AppDb {
    /// Begins a transaction scoped to `tenant`.
    pub async fn begin(&self, tenant: TenantId) -> Result<TenantTx, DbError> {
        self.begun.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        TenantTx::begin(&self.conn, &self.writer, tenant).await
    }

    /// Begins a transaction scoped to `tenant` that only reads (pages that show, never change).
    pub async fn begin_read(&self, tenant: TenantId) -> Result<TenantTx, DbError> {
        self.begun.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        TenantTx::begin_mode(&self.conn, &self.writer, tenant, false).await
    }

    /// How many transactions have begun on this pool since it opened.
    pub fn transactions_begun(&self) -> u64 {
        self.begun.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `SELECT 1`, for readiness checks.
    pub async fn ping(&self) -> Result<(), DbError> {
        Ok(self.conn.ping().await?)
    }
}

/// The three pools and the backend.
#[derive(Clone)]
pub struct Databases {
    pub app: AppDb,
    pub platform: PlatformDb,
    /// The identity path (ADR 0014).
    pub identity: IdentityDb,
    pub backend: Backend,
}

/// The URL of `role` on the same server and database as `owner_url`, without a password (for
/// trust or peer authentication in development and CI; production sets the role URLs itself).
pub fn role_url(owner_url: &str, role: &str) -> Result<String, DbError> {
    let mut url = url::Url::parse(owner_url).map_err(|e| DbError::Setup(format!("database.url: {e}")))?;
    url.set_username(role).map_err(|()| DbError::Setup("database.url: cannot set a user name".into()))?;
    url.set_password(None).map_err(|()| DbError::Setup("database.url: cannot clear the password".into()))?;
    Ok(url.to_string())
}

pub(crate) fn backend_of(url: &str) -> Backend {
    if url.starts_with("sqlite:") { Backend::Sqlite } else { Backend::Postgres }
}

/// Whether a PostgreSQL URL names a loopback host and no `sslmode`.
fn loopback_without_sslmode(url: &str) -> bool {
    let Ok(u) = url::Url::parse(url) else { return false };
    let loopback = matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]" | "::1"));
    loopback && !u.query_pairs().any(|(k, _)| k == "sslmode")
}

pub(crate) async fn open(url: &str, max: u32) -> Result<DatabaseConnection, DbError> {
    if backend_of(url) == Backend::Sqlite {
        ensure_sqlite_dir(url)?;
    }
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(max)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    // Just-in-time compilation costs more than it saves on this workload's queries (10–100 ms
    // on a compliance total over 600,000 rows, measured in bench/learning.sh): off for our sessions.
    opts.map_sqlx_postgres_opts(|o| o.options([("jit", "off")]));
    // TLS to a server on this machine protects nothing, and with sqlx 0.9 (which no longer sets
    // TCP_NODELAY) a statement larger than one TLS record waits ~40 ms for a delayed ACK
    // (docs/performance.md). Unless the URL asks for TLS, none on the loopback interface.
    if backend_of(url) == Backend::Postgres && loopback_without_sslmode(url) {
        opts.map_sqlx_postgres_opts(|o| o.ssl_mode(sea_orm::sqlx::postgres::PgSslMode::Disable));
    }
    let conn = Database::connect(opts)
        .await
        .map_err(|e| DbError::Setup(format!("cannot connect to {}: {e}", redact_url(url))))?;
    if backend_of(url) == Backend::Sqlite {
        conn.execute_unprepared("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;").await?;
    }
    Ok(conn)
}

fn ensure_sqlite_dir(url: &str) -> Result<(), DbError> {
    let path = sqlite_path(url);
    if let Some(parent) = std::path::Path::new(&path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .map_err(|e| DbError::Setup(format!("cannot create {}: {e}", parent.display())))?;
    }
    Ok(())
}

/// The file path in a `sqlite:` URL.
pub(crate) fn sqlite_path(url: &str) -> String {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    rest.split('?').next().unwrap_or(rest).to_owned()
}

/// Opens the application's and the platform's pools. On PostgreSQL, refuses to start if the
/// application role could see past row-level security.
pub async fn connect(cfg: &DatabaseConfig) -> Result<Databases, DbError> {
    let backend = backend_of(&cfg.url);
    match backend {
        Backend::Sqlite => {
            let conn = open(&cfg.url, cfg.max_connections).await?;
            // One file, one writer: both handles queue for the same turn.
            let writer = Writer::for_conn(&conn);
            Ok(Databases {
                app: AppDb { conn: conn.clone(), writer: writer.clone(), begun: Default::default() },
                identity: IdentityDb { conn: conn.clone(), writer: writer.clone() },
                platform: PlatformDb::new(conn, writer),
                backend,
            })
        }
        Backend::Postgres => {
            let app_url =
                if cfg.app_url.is_empty() { role_url(&cfg.url, crate::APP_ROLE)? } else { cfg.app_url.clone() };
            let platform_url = if cfg.platform_url.is_empty() {
                role_url(&cfg.url, crate::PLATFORM_ROLE)?
            } else {
                cfg.platform_url.clone()
            };
            let identity_url = if cfg.identity_url.is_empty() {
                role_url(&cfg.url, crate::IDENTITY_ROLE)?
            } else {
                cfg.identity_url.clone()
            };
            let app = open(&app_url, cfg.max_connections).await?;
            check_role(&app, "database.app_url").await?;
            let identity = open(&identity_url, cfg.max_connections.div_ceil(4).max(2)).await?;
            check_role(&identity, "database.identity_url").await?;
            let platform = open(&platform_url, cfg.max_connections.div_ceil(4).max(2)).await?;
            Ok(Databases {
                app: AppDb { conn: app, writer: Writer::default(), begun: Default::default() },
                identity: IdentityDb { conn: identity, writer: Writer::default() },
                platform: PlatformDb::new(platform, Writer::default()),
                backend,
            })
        }
    }
}

/// The application and identity roles must be neither superuser nor BYPASSRLS and must own no
/// table.
async fn check_role(conn: &DatabaseConnection, key: &str) -> Result<(), DbError> {
    let row = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_user::text AS who, r.rolsuper AS su, r.rolbypassrls AS bypass,
                    (SELECT count(*) FROM pg_tables t WHERE t.tableowner = current_user) AS owned
             FROM pg_roles r WHERE r.rolname = current_user",
        ))
        .await?
        .ok_or_else(|| DbError::Setup("cannot read the application role".into()))?;
    let who: String = row.try_get("", "who")?;
    let su: bool = row.try_get("", "su")?;
    let bypass: bool = row.try_get("", "bypass")?;
    let owned: i64 = row.try_get("", "owned")?;
    if su || bypass || owned > 0 {
        return Err(DbError::Setup(format!(
            "{key} connects as \"{who}\", which {}; the application and identity roles must own nothing and be subject to row-level security",
            if su {
                "is a superuser"
            } else if bypass {
                "has BYPASSRLS"
            } else {
                "owns tables"
            }
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::loopback_without_sslmode;

    #[test]
    fn tls_is_left_off_only_for_loopback_urls_that_do_not_ask_for_it() {
        assert!(loopback_without_sslmode("postgres://u@127.0.0.1:5432/db"));
        assert!(loopback_without_sslmode("postgres://u@localhost/db"));
        assert!(!loopback_without_sslmode("postgres://u@127.0.0.1/db?sslmode=require"));
        assert!(!loopback_without_sslmode("postgres://u@db.internal:5432/db"));
    }
}
