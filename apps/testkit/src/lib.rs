//! Test support: fresh databases on SQLite or PostgreSQL, a running server, tenant fixtures.
//!
//! The backend comes from `TRELLIS_TEST_BACKEND` (`sqlite`, the default, or `postgres`). With
//! `postgres`, `TRELLIS_TEST_POSTGRES_URL` must name a superuser connection (used only to make
//! databases and roles) and `TRELLIS_TEST_REDIS_URL` a Redis server; if either is missing or
//! down the tests fail rather than skip, so a silently skipped PostgreSQL run cannot pass.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod clamd;
mod db;
mod dns;
mod factory;
mod mail;
mod oidc;
mod peer;
mod s3;
mod sftp;
mod stripe;
mod visitor;

pub use clamd::{ClamdPeer, eicar};
pub use db::{Backend, TestDb};
pub use dns::DnsPeer;
pub use factory::{CourseFactory, PASSWORD, PersonFactory};
pub use mail::{Mail, SmtpSink};
pub use oidc::OidcPeer;
pub use s3::S3Peer;
pub use sftp::SftpPeer;
pub use stripe::{SECRET_KEY as STRIPE_SECRET_KEY, WEBHOOK_SECRET as STRIPE_WEBHOOK_SECRET};
pub use stripe::{Session as StripeSession, StripeStandIn};
pub use visitor::{Page, Visitor};

use std::path::{Path, PathBuf};
use trellis_domain::config::Config;
use trellis_web::RunningServer;

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

/// The demo trusts shipped in `tenants/`.
pub fn demo_tenants() -> PathBuf {
    repo_root().join("tenants")
}

/// The base domain tests use.
pub const BASE: &str = "trellis.test";

/// A configuration for tests: ephemeral ports, this test's database and Redis prefix.
pub fn test_config(db: &TestDb) -> Config {
    let root = repo_root();
    let mut env = vec![
        ("TRELLIS__SERVER__LISTEN", "127.0.0.1:0".to_owned()),
        ("TRELLIS__SERVER__METRICS_LISTEN", "127.0.0.1:0".to_owned()),
        ("TRELLIS__SERVER__BASE_DOMAIN", BASE.to_owned()),
        ("TRELLIS__SERVER__HOST_RELOAD_SECONDS", "3600".to_owned()),
        ("TRELLIS__DATABASE__URL", db.owner_url.clone()),
        ("TRELLIS__DATABASE__MAX_CONNECTIONS", "5".to_owned()),
        ("TRELLIS__PATHS__THEMES", root.join("themes").display().to_string()),
        ("TRELLIS__PATHS__TENANTS", root.join("tenants").display().to_string()),
        ("TRELLIS__PATHS__TERMS", root.join("deploy/terms/platform.toml").display().to_string()),
        ("TRELLIS__LOG__FILTER", "warn".to_owned()),
        // Cheap hashing in tests only: argon2id at its minimum sensible cost.
        ("TRELLIS__AUTH__PASSWORD_MEMORY_KIB", "64".to_owned()),
        ("TRELLIS__AUTH__PASSWORD_ITERATIONS", "1".to_owned()),
        ("TRELLIS__AUTH__SECRET", "5eed".repeat(16)),
        // The operator key for secrets at rest (a test's own, never a file).
        ("TRELLIS__SECRETS__KEY", "ab12".repeat(16)),
        ("TRELLIS__PATHS__DATA", db.scratch.path().join("data").display().to_string()),
        ("TRELLIS__MAIL__DIR", db.scratch.path().join("mail").display().to_string()),
        ("TRELLIS__MAIL__POLL_MS", "50".to_owned()),
        ("TRELLIS__FILES__DIR", db.scratch.path().join("files").display().to_string()),
        // The test peers (OpenID provider, S3) listen on this machine.
        ("TRELLIS__DEVELOPMENT__ALLOW_LOCAL_NETWORK", "true".to_owned()),
        // The marketplace's local test mode, asked for explicitly.
        ("TRELLIS__PAYMENTS__MODE", "test".to_owned()),
        // No virus scanning unless a test starts clamd (`ClamdPeer`) and asks for it.
        ("TRELLIS__UPLOADS__SCAN", "off".to_owned()),
    ];
    if db.backend == Backend::Postgres {
        env.push(("TRELLIS__REDIS__URL", db::redis_url()));
        env.push(("TRELLIS__REDIS__PREFIX", format!("trellis-test-{}", uuid::Uuid::now_v7().simple())));
    }
    config_from(&env)
}

/// Builds a configuration from the defaults plus the given `TRELLIS__…` pairs only (the
/// process environment is ignored, so tests do not depend on the developer's shell).
pub fn config_from(pairs: &[(&str, String)]) -> Config {
    try_config_from(pairs).expect("test configuration")
}

/// As [`config_from`], returning the error.
pub fn try_config_from(pairs: &[(&str, String)]) -> Result<Config, trellis_domain::config::ConfigError> {
    let vars: Vec<(String, String)> = pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    trellis_web::config::load_from(None, &vars)
}

/// A server running against a fresh database with the demo trusts applied.
pub struct TestApp {
    pub server: Option<RunningServer>,
    /// The SMTP sink the app sends its mail to.
    pub mail: SmtpSink,
    pub addr: std::net::SocketAddr,
    pub metrics_addr: std::net::SocketAddr,
    pub config: Config,
    pub db: TestDb,
    pub client: reqwest::Client,
}

/// Migrates a fresh database, applies `tenants` (the demo trusts if `None`), starts the server.
pub async fn spawn_app_with(tenants: Option<&Path>, tweak: impl FnOnce(&mut Config)) -> TestApp {
    trellis_integrations::oidc::install_crypto_provider();
    // Server logs in tests only when asked for: RUST_LOG=error cargo test …
    if let Ok(filter) = std::env::var("RUST_LOG") {
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    }
    let db = TestDb::new().await;
    let mut config = test_config(&db);
    let mail = SmtpSink::start().await;
    config.mail.transport = "smtp".into();
    config.mail.smtp_url = format!("smtp://127.0.0.1:{}", mail.port);
    tweak(&mut config);
    trellis_db::migrate(&config.database).await.expect("migrate");
    let dbs = trellis_db::connect(&config.database).await.expect("connect");
    let dir = tenants.map_or_else(demo_tenants, Path::to_path_buf);
    apply_dir(&config, &dbs, &dir, false).await.expect("apply tenants");
    let server = trellis_web::start(config.clone(), dbs).await.expect("start");
    TestApp {
        mail,
        addr: server.addr,
        metrics_addr: server.metrics_addr,
        server: Some(server),
        config,
        db,
        client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client"),
    }
}

/// [`spawn_app_with`] the demo trusts and the test configuration.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(None, |_| {}).await
}

/// Validates and applies a folder of tenant files, as `trellis tenants apply` does.
pub async fn apply_dir(
    config: &Config,
    dbs: &trellis_db::Databases,
    dir: &Path,
    overwrite: bool,
) -> anyhow::Result<trellis_db::ApplyReport> {
    let ctx = spec_context(config);
    let specs = trellis_domain::tenant_spec::load_dir(dir, &ctx)
        .map_err(|e| anyhow::anyhow!(e.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")))?;
    let keyring = trellis_db::secrets::Keyring::from_config(&config.secrets, &config.paths.data)?;
    let opts = trellis_db::ApplyOptions {
        overwrite_admin_edits: overwrite,
        actor: "test".into(),
        dry_run: false,
        keyring: Some(std::sync::Arc::new(keyring)),
    };
    Ok(dbs.platform.apply_tenant_specs_across_tenants(&specs, &opts).await?)
}

/// What tenant files are checked against.
pub fn spec_context(config: &Config) -> trellis_domain::tenant_spec::SpecContext {
    trellis_domain::tenant_spec::SpecContext {
        themes: trellis_web::Themes::load(Path::new(&config.paths.themes)).expect("themes").names(),
        base_domain: trellis_domain::host::HostName::parse(&config.server.base_domain).expect("base"),
        allow_local_network: config.development.allow_local_network,
    }
}

impl TestApp {
    /// The URL of `path` on this server (connect to 127.0.0.1; set the Host header yourself).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `GET path` with `Host: host`.
    pub async fn get(&self, host: &str, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).header("host", host).send().await.expect("request")
    }

    /// A trust's host under the test base domain.
    pub fn host_of(slug: &str) -> String {
        format!("{slug}.{BASE}")
    }

    /// Fresh pools on this app's database (as the application and platform roles).
    pub async fn dbs(&self) -> trellis_db::Databases {
        trellis_db::connect(&self.config.database).await.expect("connect")
    }

    /// A client of the content origin (`127.0.0.1:<port>`: a different site from every trust).
    pub fn content(&self) -> Visitor {
        Visitor::new(self.addr, &format!("127.0.0.1:{}", self.addr.port()))
    }

    /// Another server on the same database (as a second instance behind a load balancer).
    pub async fn another_server(&self) -> RunningServer {
        trellis_web::start(self.config.clone(), self.dbs().await).await.expect("start another server")
    }

    /// A browser-like visitor of `slug`'s site.
    pub fn visitor(&self, slug: &str) -> Visitor {
        Visitor::new(self.addr, &Self::host_of(slug))
    }

    /// Adds a person with a verified email, a password and an approved membership of `slug` with
    /// `roles` (as if registered and approved). Returns their id.
    pub async fn member(
        &self,
        slug: &str,
        email: &str,
        password: &str,
        roles: &[trellis_domain::identity::Role],
    ) -> trellis_domain::PersonId {
        let dbs = self.dbs().await;
        let tenant = dbs
            .platform
            .directory_of_all_tenants()
            .await
            .expect("directory")
            .into_iter()
            .find(|e| e.slug == slug)
            .expect("trust")
            .id;
        let auth = &self.config.auth;
        let hash = trellis_web::hash_password(password.into(), auth.password_memory_kib, auth.password_iterations)
            .await
            .expect("hash");
        let new = trellis_db::identity::NewPerson {
            email: email.into(),
            password_hash: Some(hash),
            given_name: "Test".into(),
            family_name: "Person".into(),
            job_role: "Tester".into(),
            place_of_work: "XT1".into(),
            register_kind: None,
            register_number: None,
        };
        trellis_db::identity::accounts::seed_member(&dbs, tenant, new, roles).await.expect("member").0
    }

    /// Applies the national catalogue (`deploy/catalogue/national.toml`).
    pub async fn seed_national(&self) {
        let spec = trellis_domain::catalogue_spec::load(&repo_root().join("deploy/catalogue/national.toml"))
            .expect("national.toml");
        let dbs = self.dbs().await;
        let tx = dbs.app.begin(trellis_domain::TenantId::NATIONAL).await.expect("begin");
        trellis_db::catalogue::apply_spec(&tx, &spec).await.expect("apply");
        tx.commit().await.expect("commit");
    }

    /// A national course's id, by code.
    pub async fn national_course(&self, code: &str) -> trellis_domain::CourseId {
        let dbs = self.dbs().await;
        let tx = dbs.app.begin(trellis_domain::TenantId::NATIONAL).await.expect("begin");
        let found =
            trellis_db::catalogue::own_courses(&tx).await.expect("courses").into_iter().find(|c| c.code == code);
        tx.commit().await.expect("commit");
        found.expect("a national course with that code").id
    }

    /// Sets a member's HR record in a trust (staff group, department…).
    pub async fn staff_record(&self, slug: &str, person: trellis_domain::PersonId, group: &str, department: &str) {
        let dbs = self.dbs().await;
        let tx = dbs.app.begin(self.tenant_id(slug).await).await.expect("begin");
        trellis_db::staff::set_record(
            &tx,
            person,
            &trellis_db::staff::StaffRecord {
                assignment_number: None,
                position: "Tester".into(),
                department: department.into(),
                staff_group: group.into(),
                place_of_work: "Test site".into(),
                end_date: None,
            },
        )
        .await
        .expect("record");
        tx.commit().await.expect("commit");
    }

    /// Re-reads the host map now (after applying tenant files in a test).
    pub async fn reload(&self) {
        let server = self.server.as_ref().expect("running");
        server.state.directory.reload(&server.state.dbs.platform).await.expect("reload");
    }

    /// The id of trust `slug`.
    pub async fn tenant_id(&self, slug: &str) -> trellis_domain::TenantId {
        self.dbs()
            .await
            .platform
            .directory_of_all_tenants()
            .await
            .expect("directory")
            .into_iter()
            .find(|e| e.slug == slug)
            .expect("trust")
            .id
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
    }
}

/// Writes `tenant.toml` (and a small logo) for `slug` under `dir`.
pub fn write_tenant(dir: &Path, slug: &str, toml: &str) -> PathBuf {
    let folder = dir.join(slug);
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::write(folder.join("tenant.toml"), toml).expect("write");
    std::fs::write(
        folder.join("logo.svg"),
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10" fill="#fff"/></svg>"##,
    )
    .expect("write logo");
    folder.join("tenant.toml")
}

/// A minimal valid tenant file.
pub fn minimal_tenant(name: &str, ods: &str, primary: &str) -> String {
    format!(
        "name = \"{name}\"\nods_code = \"{ods}\"\n\n[branding]\nlogo = \"logo.svg\"\n\n[branding.colours]\nprimary = \"{primary}\"\n\n[[messages]]\nkey = \"hello\"\ntitle = \"Hello from {name}\"\nbody = \"A message for {name} staff.\"\nstarts = 2020-01-01\n"
    )
}

/// A folder zipped (files only, paths relative to it, `/` separators), as an editor would upload
/// a package.
pub fn zip_dir(dir: &Path) -> Vec<u8> {
    use std::io::Write;
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let mut stack = vec![dir.to_path_buf()];
    let mut files = Vec::new();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read the package folder") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    for p in files {
        let rel = p.strip_prefix(dir).expect("under the folder");
        let name = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
        out.start_file(name, opts).expect("zip entry");
        out.write_all(&std::fs::read(&p).expect("read")).expect("zip write");
    }
    out.finish().expect("zip").into_inner()
}

/// One of the repository's test packages (`tests/packages/<name>`), zipped.
pub fn test_package(name: &str) -> Vec<u8> {
    zip_dir(&repo_root().join("tests/packages").join(name))
}
