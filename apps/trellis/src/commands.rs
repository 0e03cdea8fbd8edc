//! The command line: serve, migrate, tenants apply, demo.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use trellis_db::ApplyOptions;
use trellis_domain::config::Config;
use trellis_domain::host::HostName;
use trellis_domain::tenant_spec::{self, SpecContext};
use trellis_web::{RunningServer, ShutdownSignal};

/// Trellis: a learning portal for every trust, from one server.
#[derive(Debug, Parser)]
#[command(name = "trellis", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve every trust's sub-site (migrating first if database.migrate_on_start).
    Serve,
    /// Apply pending database migrations (and create the roles when allowed).
    Migrate,
    /// Manage trusts declared as data.
    Tenants {
        #[command(subcommand)]
        command: TenantsCommand,
    },
    /// Migrate, apply tenants/, and serve the demo trusts on embedded defaults.
    Demo,
    /// Manage catalogues declared as data.
    Catalogue {
        #[command(subcommand)]
        command: CatalogueCommand,
    },
    /// Run the background worker only (emails, reminders, staff imports); for production, where
    /// `jobs.in_process = false` keeps this work out of the web servers.
    Worker,
    /// Issue a credential for a trust's learning record store (xAPI); prints the key and secret once.
    LrsCredential {
        /// The trust (slug).
        trust: String,
        /// Who will use it.
        name: String,
        /// all, read or write.
        #[arg(long, default_value = "all")]
        scope: String,
        /// The xAPI version the client speaks when it does not say (2.0.0 or 1.0.3).
        #[arg(long, default_value = "2.0.0")]
        xapi_version: String,
    },
    /// Issue an API token for a trust (printed once): for scripts such as scripts/catapult.sh.
    ApiToken {
        /// The trust (slug).
        trust: String,
        /// Which system will use it.
        name: String,
        /// What it may do: courses, enrolments, launch, conformance, scim (repeat the option).
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Days until it stops working (none: until revoked).
        #[arg(long)]
        days: Option<u32>,
    },
    /// Make <email> a platform administrator (creating the person if needed). The password is read
    /// from TRELLIS_ADMIN_PASSWORD, or a random one is made and printed once.
    PlatformAdmin { email: String },
    /// The operator key that seals secrets at rest (docs/operations.md).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Apply the retention schedule now (the worker does so daily): delete what is older than its
    /// class's period in every trust, and say how much went (docs/data-protection.md).
    Retention {
        /// Say what would go, and delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Print a new random operator key (64 hex characters), for secrets.key.
    Generate,
    /// Re-wrap every stored secret under secrets.key (the keys it replaces named in
    /// secrets.retired_keys), and seal any single sign-on secret still stored in clear.
    Rotate,
}

#[derive(Debug, Subcommand)]
enum CatalogueCommand {
    /// Create the courses, paths and programmes a file declares that are missing (by code); never
    /// changes existing ones. Without --trust, into the national catalogue.
    Apply {
        file: PathBuf,
        /// The trust (slug) that owns the courses.
        #[arg(long)]
        trust: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum TenantsCommand {
    /// Create or update trusts from <dir>/<slug>/tenant.toml. Idempotent; never deletes.
    Apply {
        /// The folder holding one sub-folder per trust.
        dir: PathBuf,
        /// Replace branding and messages that trust admins have edited.
        #[arg(long)]
        overwrite_admin_edits: bool,
        /// Report what would change, and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.filter));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if config.log.format == "json" { builder.json().try_init() } else { builder.try_init() };
}

/// Runs a command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = trellis_web::config::load()?;
    init_logging(&config);
    match cli.command {
        Command::Serve => {
            if config.database.migrate_on_start {
                migrate(&config).await?;
            }
            let server = start(&config).await?;
            print_addresses(&server);
            server.run_until(shutdown_signal()).await;
            Ok(())
        }
        Command::Migrate => migrate(&config).await,
        Command::Catalogue { command: CatalogueCommand::Apply { file, trust } } => {
            let dbs = trellis_db::connect(&config.database).await?;
            for line in crate::demo::apply_catalogue(&dbs, &file, trust.as_deref()).await? {
                println!("{line}");
            }
            Ok(())
        }
        Command::LrsCredential { trust, name, scope, xapi_version } => {
            let dbs = trellis_db::connect(&config.database).await?;
            let entry = dbs
                .platform
                .directory_of_all_tenants()
                .await?
                .into_iter()
                .find(|e| e.slug == trust)
                .ok_or_else(|| anyhow::anyhow!("no trust {trust}"))?;
            let (key, secret) = trellis_web::issue_lrs_credential(&dbs, entry.id, &name, &scope, &xapi_version).await?;
            println!("key: {key}\nsecret: {secret}");
            Ok(())
        }
        Command::ApiToken { trust, name, scopes, days } => {
            let dbs = trellis_db::connect(&config.database).await?;
            let entry = dbs
                .platform
                .directory_of_all_tenants()
                .await?
                .into_iter()
                .find(|e| e.slug == trust)
                .ok_or_else(|| anyhow::anyhow!("no trust {trust}"))?;
            let token = trellis_web::issue_api_token(&dbs, entry.id, &name, &scopes, days, None).await?;
            println!("token: {token}");
            Ok(())
        }
        Command::Worker => {
            let dbs = trellis_db::connect(&config.database).await?;
            let worker = trellis_web::start_worker(config, dbs).await?;
            println!("worker running; Ctrl+C to stop");
            worker.run_until(shutdown_signal()).await;
            Ok(())
        }
        Command::PlatformAdmin { email } => {
            let email = trellis_domain::identity::Email::parse(&email).map_err(|m| anyhow::anyhow!("{m}"))?;
            let (password, generated) = match std::env::var("TRELLIS_ADMIN_PASSWORD") {
                Ok(p) => (p, false),
                Err(_) => {
                    // 120 bits from the operating system-seeded CSPRNG, in groups for reading aloud.
                    let hex = hex::encode(rand::random::<[u8; 15]>());
                    let groups: Vec<&str> =
                        (0..hex.len()).step_by(6).map(|i| &hex[i..(i + 6).min(hex.len())]).collect();
                    (groups.join("-"), true)
                }
            };
            trellis_domain::identity::check_password(&password, &[email.as_str()])
                .map_err(|m| anyhow::anyhow!("TRELLIS_ADMIN_PASSWORD: {m}"))?;
            let dbs = trellis_db::connect(&config.database).await?;
            let hash = trellis_web::hash_password(
                password.clone(),
                config.auth.password_memory_kib,
                config.auth.password_iterations,
            )
            .await?;
            trellis_db::identity::appoint_platform_admin(&dbs, email.as_str(), hash, "cli").await?;
            println!(
                "{email} is a platform administrator; sign in at {}sign-in",
                config.url_for_host(&config.server.base_domain)
            );
            if generated {
                println!("password (shown once): {password}");
            }
            Ok(())
        }
        Command::Keys { command: KeysCommand::Generate } => {
            println!("{}", hex::encode(rand::random::<[u8; 32]>()));
            Ok(())
        }
        Command::Keys { command: KeysCommand::Rotate } => {
            let keyring = trellis_db::secrets::Keyring::from_config(&config.secrets, &config.paths.data)?;
            let dbs = trellis_db::connect(&config.database).await?;
            let actor = format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "operator".into()));
            let done = dbs.platform.rotate_secrets(&keyring, &actor).await?;
            println!(
                "operator key {}: {} secrets re-wrapped, {} sealed that were in clear, {} already current",
                keyring.key_id(),
                done.rewrapped,
                done.sealed,
                done.current
            );
            if done.unreadable > 0 {
                println!(
                    "{} could not be read (an operator key not in secrets.retired_keys, or an earlier format): left as they are; their owners enter them again",
                    done.unreadable
                );
            }
            Ok(())
        }
        Command::Retention { dry_run } => {
            let dbs = trellis_db::connect(&config.database).await?;
            let runs = trellis_web::retention::apply_all(&config, &dbs, dry_run).await?;
            let verb = if dry_run { "would delete" } else { "deleted" };
            for run in &runs {
                let said: Vec<String> = run
                    .applied
                    .counts
                    .iter()
                    .filter(|(_, n)| *n > 0)
                    .map(|(c, n)| format!("{n} {}", c.words()))
                    .collect();
                if said.is_empty() {
                    println!("{}: nothing has expired", run.slug);
                } else {
                    println!("{}: {verb} {}", run.slug, said.join(", "));
                }
            }
            let mail = trellis_web::retention::old_mail_files(&config, dry_run);
            if mail > 0 {
                println!("mail files ({}): {verb} {mail}", config.mail.dir);
            }
            let inactive =
                trellis_web::retention::anonymise_inactive_accounts(config.clone(), dbs.clone(), dry_run).await?;
            match (dry_run, inactive.found) {
                (_, 0) => println!("accounts unused for {} days: none", config.retention.inactive_accounts_days),
                (true, n) => println!(
                    "accounts unused for {} days: would anonymise {n}",
                    config.retention.inactive_accounts_days
                ),
                (false, _) => println!(
                    "accounts unused for {} days: anonymised {}, kept {} (a trust's only training manager)",
                    config.retention.inactive_accounts_days, inactive.anonymised, inactive.kept
                ),
            }
            if !dry_run {
                let actor = format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "operator".into()));
                let total: u64 = runs.iter().flat_map(|r| r.applied.counts.iter().map(|(_, n)| *n)).sum::<u64>() + mail;
                dbs.platform
                    .record_platform_audit(&actor, "retention.applied", None, format!("{total} item(s) deleted"))
                    .await?;
            }
            Ok(())
        }
        Command::Tenants { command: TenantsCommand::Apply { dir, overwrite_admin_edits, dry_run } } => {
            apply(&config, &dir, overwrite_admin_edits, dry_run).await
        }
        Command::Demo => {
            // The demo runs its peers on this machine (a local OpenID provider in scripts/demo-sso)
            // and takes payments in the local test mode unless a Stripe key is configured: both
            // are development settings, set here and nowhere else.
            let mut config = config;
            config.development.allow_local_network = true;
            if config.payments.mode.is_empty() && config.payments.stripe_secret_key.is_empty() {
                config.payments.mode = "test".into();
            }
            migrate(&config).await?;
            apply(&config, Path::new(&config.paths.tenants), false, false).await?;
            let dbs = trellis_db::connect(&config.database).await?;
            let managers = crate::demo::seed(&config, &dbs).await?;
            crate::demo::seed_learning(&config, &dbs).await?;
            crate::demo::seed_marketplace(&config, &dbs).await?;
            let server = start(&config).await?;
            let db_words = if config.database.url.starts_with("sqlite:") {
                format!("on embedded defaults (SQLite at {})", config.database.url)
            } else {
                format!("on PostgreSQL ({})", trellis_domain::config::redact_url(&config.database.url))
            };
            println!("\nThe Trellis demo is running {db_words}.");
            print_addresses(&server);
            println!("  Mail:      written to {}/ as .eml files", config.mail.dir);
            println!("  Demo platform administrator: {} at the platform's /sign-in", crate::demo::PLATFORM_ADMIN);
            println!("  Demo training managers (password \"{}\", the administrator's too):", crate::demo::PASSWORD);
            for (slug, email) in managers {
                println!("    {slug}: {email}");
            }
            println!("  Demo learners, same password: {}@<the trust's email domain>", crate::demo::LEARNER);
            println!("  A staff file to try the import with: deploy/demo/staff.csv (Northmoor)");
            println!(
                "  Marketplace ({}): Brightwater (a vendor) and Northmoor sell a course each; a trust's manager adds them at /marketplace",
                match config.payments.effective_mode() {
                    trellis_domain::config::PaymentsMode::Test => "payments in the local test mode: no card is charged",
                    trellis_domain::config::PaymentsMode::Stripe => "Stripe",
                    trellis_domain::config::PaymentsMode::Off => "payments off",
                }
            );
            match crate::demo::package_examples(&config) {
                Ok(zips) if !zips.is_empty() => {
                    println!("  E-learning packages to upload (Courses → a course → Upload an e-learning package):");
                    for z in zips {
                        println!("    {}", z.display());
                    }
                }
                Ok(_) => {}
                Err(e) => println!("  (the example e-learning packages could not be written: {e:#})"),
            }
            let origin = server.state.config.content_origin();
            println!("  E-learning content is served from {origin} (its own site: it never sees the trusts' cookies)");
            println!(
                "  Each trust's xAPI LRS: <trust's address>xapi (credentials: Your profile → Learning record store)"
            );
            println!("Press Ctrl+C to stop.");
            server.run_until(shutdown_signal()).await;
            Ok(())
        }
    }
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
    let applied = trellis_db::migrate(&config.database).await?;
    if applied.is_empty() {
        println!("migrate: the database is up to date");
    } else {
        for m in applied {
            println!("migrate: applied {m}");
        }
    }
    Ok(())
}

async fn apply(config: &Config, dir: &Path, overwrite: bool, dry_run: bool) -> anyhow::Result<()> {
    let themes = trellis_web::Themes::load(Path::new(&config.paths.themes))?;
    let ctx = SpecContext {
        themes: themes.names(),
        base_domain: HostName::parse(&config.server.base_domain)
            .map_err(|e| anyhow::anyhow!("server.base_domain: {e}"))?,
        allow_local_network: config.development.allow_local_network,
    };
    let specs = tenant_spec::load_dir(dir, &ctx).map_err(|errors| {
        let list: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
        anyhow::anyhow!("{} problem(s) in {}; nothing was applied:\n{}", errors.len(), dir.display(), list.join("\n"))
    })?;
    let dbs = trellis_db::connect(&config.database).await?;
    let actor = format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "operator".into()));
    let keyring = trellis_db::secrets::Keyring::from_config(&config.secrets, &config.paths.data)?;
    let opts =
        ApplyOptions { overwrite_admin_edits: overwrite, actor, dry_run, keyring: Some(std::sync::Arc::new(keyring)) };
    let report = dbs.platform.apply_tenant_specs_across_tenants(&specs, &opts).await?;
    for line in &report.lines {
        println!("{}{line}", if dry_run { "(dry run) " } else { "" });
    }
    if report.changed && !dry_run {
        match trellis_web::announce_tenants_changed(config).await {
            Ok(true) => println!("announced the change to running instances"),
            Ok(false) => {
                println!("running instances pick the change up within {} s", config.server.host_reload_seconds)
            }
            Err(e) => println!(
                "could not announce the change ({e:#}); running instances pick it up within {} s",
                config.server.host_reload_seconds
            ),
        }
    }
    Ok(())
}

async fn start(config: &Config) -> anyhow::Result<RunningServer> {
    let dbs = trellis_db::connect(&config.database).await.context("database")?;
    trellis_web::start(config.clone(), dbs).await
}

/// Prints where everything is, with the ports actually bound.
fn print_addresses(server: &RunningServer) {
    let config = &server.state.config;
    println!("  Platform:  {}", config.url_for_host(&config.server.base_domain));
    for site in server.state.directory.sites() {
        println!("  {:<10} {}", format!("{}:", site.entry.slug), site.url);
    }
    println!("  Metrics:   http://{}/metrics (internal listener)", server.metrics_addr);
    println!("  Listening on {}", server.addr);
}

fn shutdown_signal() -> ShutdownSignal {
    Box::pin(async {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => {}
            () = term => {}
        }
    })
}
