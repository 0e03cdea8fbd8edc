//! Fresh databases for tests: a temporary SQLite file, or a PostgreSQL database cloned from a
//! migrated template (made once per set of migrations, under an advisory lock, because test
//! processes run in parallel).

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use trellis_migrations::MigratorTrait;

/// Which database the tests run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// From `TRELLIS_TEST_BACKEND` (default `sqlite`).
    pub fn current() -> Self {
        match std::env::var("TRELLIS_TEST_BACKEND").as_deref() {
            Ok("postgres") => Backend::Postgres,
            Ok("sqlite") | Err(_) => Backend::Sqlite,
            Ok(other) => panic!("TRELLIS_TEST_BACKEND={other}: expected sqlite or postgres"),
        }
    }
}

pub(crate) fn admin_url() -> String {
    std::env::var("TRELLIS_TEST_POSTGRES_URL")
        .expect("TRELLIS_TEST_BACKEND=postgres needs TRELLIS_TEST_POSTGRES_URL (a superuser URL)")
}

pub(crate) fn redis_url() -> String {
    std::env::var("TRELLIS_TEST_REDIS_URL").expect("TRELLIS_TEST_BACKEND=postgres needs TRELLIS_TEST_REDIS_URL")
}

fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

fn with_database(url: &str, db: &str) -> String {
    let mut u = url::Url::parse(url).expect("postgres url");
    u.set_path(&format!("/{db}"));
    u.to_string()
}

/// A database that lives as long as the test.
pub struct TestDb {
    pub backend: Backend,
    /// The owner's URL (migrations; a superuser on PostgreSQL).
    pub owner_url: String,
    /// The PostgreSQL database's name.
    pub name: Option<String>,
    /// A folder that lives as long as the test (mail, files).
    pub scratch: tempfile::TempDir,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh, unmigrated SQLite file or a migrated PostgreSQL database (from the template).
    pub async fn new() -> Self {
        match Backend::current() {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("trellis.db").display());
                Self { backend: Backend::Sqlite, owner_url: url, name: None, scratch: scratch(), _dir: Some(dir) }
            }
            Backend::Postgres => {
                let admin = admin_url();
                let template = ensure_template(&admin).await;
                let name = format!("trellis_t_{}", uuid::Uuid::now_v7().simple());
                let conn = Database::connect(admin.as_str()).await.expect("connect admin");
                lock(&conn).await;
                exec(&conn, &format!("CREATE DATABASE {name} TEMPLATE {template}")).await;
                unlock(&conn).await;
                conn.close().await.ok();
                Self {
                    backend: Backend::Postgres,
                    owner_url: with_database(&admin, &name),
                    name: Some(name),
                    scratch: scratch(),
                    _dir: None,
                }
            }
        }
    }

    /// An empty PostgreSQL database (not from the template), for migration tests. SQLite: as new.
    pub async fn empty() -> Self {
        match Backend::current() {
            Backend::Sqlite => Self::new().await,
            Backend::Postgres => {
                let admin = admin_url();
                let name = format!("trellis_t_{}", uuid::Uuid::now_v7().simple());
                let conn = Database::connect(admin.as_str()).await.expect("connect admin");
                exec(&conn, &format!("CREATE DATABASE {name}")).await;
                conn.close().await.ok();
                Self {
                    backend: Backend::Postgres,
                    owner_url: with_database(&admin, &name),
                    name: Some(name),
                    scratch: scratch(),
                    _dir: None,
                }
            }
        }
    }

    /// A raw connection as the application role (PostgreSQL), for tests of row-level security
    /// itself: what the database refuses even when the code path's filter is bypassed.
    pub async fn raw_app_connection(&self) -> DatabaseConnection {
        let url = match self.backend {
            Backend::Sqlite => self.owner_url.clone(),
            Backend::Postgres => trellis_db::role_url(&self.owner_url, trellis_db::APP_ROLE).expect("role url"),
        };
        Database::connect(url.as_str()).await.expect("connect as app role")
    }

    /// A raw connection as `role` (PostgreSQL; the owner on SQLite), for tests of what each role
    /// may do.
    pub async fn raw_connection_as(&self, role: &str) -> DatabaseConnection {
        let url = match self.backend {
            Backend::Sqlite => self.owner_url.clone(),
            Backend::Postgres => trellis_db::role_url(&self.owner_url, role).expect("role url"),
        };
        Database::connect(url.as_str()).await.expect("connect as the role")
    }

    /// A raw connection as the owner.
    pub async fn raw_owner_connection(&self) -> DatabaseConnection {
        Database::connect(self.owner_url.as_str()).await.expect("connect as owner")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.name.take() else { return };
        let admin = admin_url();
        // Drop runs inside the test's runtime: do the async work on a thread of its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async move {
                if let Ok(conn) = Database::connect(admin.as_str()).await {
                    let _ = conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

async fn exec(conn: &DatabaseConnection, sql: &str) {
    conn.execute_unprepared(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

const TEMPLATE_LOCK: i64 = 0x7465_6d70_6c61_7465;

async fn lock(conn: &DatabaseConnection) {
    conn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_lock($1)",
        [TEMPLATE_LOCK.into()],
    ))
    .await
    .expect("advisory lock");
}

async fn unlock(conn: &DatabaseConnection) {
    conn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_unlock($1)",
        [TEMPLATE_LOCK.into()],
    ))
    .await
    .expect("advisory unlock");
}

/// The template's name changes with the migrations (their names and their source), so a new or
/// edited migration makes a new template.
fn template_name() -> String {
    let names: Vec<String> = trellis_migrations::Migrator::migrations().iter().map(|m| m.name().to_owned()).collect();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in names.join(",").bytes().chain(trellis_migrations::SOURCES.iter().flat_map(|s| s.bytes())) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("trellis_tpl_{h:016x}")
}

async fn ensure_template(admin: &str) -> String {
    let template = template_name();
    let conn = Database::connect(admin).await.expect("connect to PostgreSQL (TRELLIS_TEST_POSTGRES_URL)");
    lock(&conn).await;
    let exists = conn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 1 AS one FROM pg_database WHERE datname = $1",
            [template.clone().into()],
        ))
        .await
        .expect("query")
        .is_some();
    if !exists {
        let building = format!("{template}_building");
        exec(&conn, &format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)")).await;
        exec(&conn, &format!("CREATE DATABASE {building}")).await;
        let cfg = trellis_domain::config::DatabaseConfig {
            url: with_database(admin, &building),
            app_url: String::new(),
            platform_url: String::new(),
            identity_url: String::new(),
            manage_roles: true,
            migrate_on_start: false,
            max_connections: 2,
        };
        trellis_db::migrate(&cfg).await.expect("migrate the template");
        // The migration's pool has gone; no connection may remain on a template.
        exec(&conn, &format!("ALTER DATABASE {building} RENAME TO {template}")).await;
    }
    unlock(&conn).await;
    conn.close().await.ok();
    template
}
