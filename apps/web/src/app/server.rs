//! Starting and stopping the server: listeners, background reloads, graceful shutdown.

use crate::app::dispatch::Dispatch;
use crate::context::AppState;
use crate::context::directory::Directory;
pub use crate::context::directory::TENANTS_CHANGED;
use crate::context::metrics::Metrics;
use crate::context::rate_limit::RateLimiter;
use crate::context::security;
use crate::context::theme::Themes;
use crate::http::middleware::{limits, observe};
use anyhow::Context as _;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{EndpointExt, Response, Route, Server, get, handler, web::Data};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use trellis_db::Databases;
use trellis_domain::config::Config;
use trellis_domain::host::HostName;
use trellis_integrations::mailer::Mailer;
use trellis_integrations::redis_bus::RedisBus;

/// A running server: its addresses, and the means to stop it.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub metrics_addr: SocketAddr,
    pub state: AppState,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Something that resolves when the process should stop (SIGINT or SIGTERM).
pub type ShutdownSignal = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

impl RunningServer {
    /// Stops accepting, lets requests in flight finish (up to 10 s), stops background work.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// Runs until `signal` resolves, then stops gracefully.
    pub async fn run_until(self, signal: ShutdownSignal) {
        signal.await;
        tracing::info!("shutting down");
        self.stop().await;
    }
}

#[handler]
fn metrics_endpoint(Data(state): Data<&AppState>) -> Response {
    Response::builder().content_type("text/plain; version=0.0.4").body(state.metrics.render())
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Everything a server or a worker needs: themes, Redis, the host map, sessions, mail, files.
async fn build_state(config: Config, dbs: Databases) -> anyhow::Result<(AppState, Mailer)> {
    let themes = Themes::load(std::path::Path::new(&config.paths.themes))?;
    let redis = if config.redis.url.is_empty() {
        None
    } else {
        Some(RedisBus::connect(&config.redis.url, &config.redis.prefix).await.context("redis.url")?)
    };
    let base = HostName::parse(&config.server.base_domain).map_err(|e| anyhow::anyhow!("server.base_domain: {e}"))?;
    let url_config = config.clone();
    let directory = Arc::new(Directory::new(base, move |host| url_config.url_for_host(host)));
    let count = directory.reload(&dbs.platform).await.context("loading the host map")?;
    tracing::info!(trusts = count, "host map loaded");
    let proxies = config
        .server
        .trusted_proxies
        .iter()
        .map(|p| p.parse::<ipnet::IpNet>().or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from)))
        .collect::<Result<Vec<_>, _>>()
        .context("server.trusted_proxies")?;
    let limiter = match &redis {
        Some(bus) => RateLimiter::Redis { conn: bus.manager(), prefix: config.redis.prefix.clone() },
        None => RateLimiter::Memory(std::sync::Mutex::new(Default::default())),
    };
    let store = match &redis {
        Some(bus) => security::Store::Redis { conn: bus.manager(), prefix: config.redis.prefix.clone() },
        None => security::Store::Memory(std::sync::Mutex::new(Default::default())),
    };
    let csrf_key: [u8; 32] = match trellis_domain::config::hex_bytes(&config.auth.secret) {
        Some(bytes) if bytes.len() == 32 => bytes.try_into().unwrap_or([0; 32]),
        _ => rand::random(),
    };
    let security = crate::http::auth::Security {
        store: security::Shared(Arc::new(store)),
        csrf_key,
        secure: config.server.secure,
        absolute: Duration::from_secs(config.auth.session_absolute_hours * 3600),
    };
    let mailer = match config.mail.transport.as_str() {
        "smtp" => Mailer::smtp(&config.mail.smtp_url).context("mail.smtp_url")?,
        _ => Mailer::file(&config.mail.dir).context("mail.dir")?,
    };
    let mailer = if config.mail.dkim_selector.is_empty() {
        mailer
    } else {
        let pem = std::fs::read_to_string(&config.mail.dkim_key_file).context("mail.dkim_key_file")?;
        mailer.with_dkim(&config.mail.dkim_selector, config.mail.dkim_domain(), &pem).context("mail.dkim_key_file")?
    };
    let terms = trellis_domain::terms::load_platform(std::path::Path::new(&config.paths.terms))
        .map_err(|e| anyhow::anyhow!("paths.terms: {e}"))?;
    trellis_integrations::oidc::install_crypto_provider();
    let files = trellis_integrations::files::FileStore::open(&config.files)?;
    let platform_url = config.url_for_host(&config.server.base_domain);
    let install_key = trellis_domain::config::hex_bytes(&config.auth.secret).unwrap_or_default();
    let payments =
        trellis_integrations::payments::Payments::from_config(&config.payments, &platform_url, &install_key)?;
    let dummy_hash = crate::http::auth::password::hash(
        hex::encode(rand::random::<[u8; 16]>()),
        config.auth.password_memory_kib,
        config.auth.password_iterations,
    )
    .await?;
    let keyring = Arc::new(
        trellis_db::secrets::Keyring::from_config(&config.secrets, &config.paths.data).context("secrets.key")?,
    );
    let scanner = trellis_integrations::scan::Scanner::new(&config.uploads);
    match scanner.ping().await {
        Ok(()) => tracing::info!(mode = ?scanner.mode(), "virus scanner: clamd answers"),
        Err(e) if scanner.mode() != trellis_domain::config::ScanMode::Off => {
            tracing::warn!(mode = ?scanner.mode(), reason = %e, "virus scanner: clamd does not answer")
        }
        Err(_) => {}
    }
    let state = AppState {
        usage: Arc::default(),
        scanner,
        keyring,
        dummy_hash,
        payments,
        files,
        oidc: Arc::new(trellis_integrations::oidc::OidcClient::new(
            config.development.allow_local_network,
            config.sso.metadata_origins.clone(),
        )?),
        dns: trellis_integrations::dns::DomainChecker::new(&config.server.dns_servers)?,
        terms: Arc::new(terms),
        limiter: Arc::new(limiter),
        security,
        access: Arc::new(crate::context::access_log::AccessLog::new(&config.log)),
        config: Arc::new(config),
        dbs,
        directory,
        themes: Arc::new(themes),
        metrics: Arc::new(Metrics::new()?),
        redis,
        proxies: Arc::new(proxies),
        totals: Arc::default(),
        catalogue: Arc::default(),
        launch: crate::context::launch_token::Signer::new(&csrf_key),
        credentials: Arc::default(),
        commits: Arc::default(),
        versions: moka::sync::Cache::builder().max_capacity(20_000).time_to_idle(Duration::from_secs(3600)).build(),
        launches: moka::sync::Cache::builder().max_capacity(100_000).time_to_idle(Duration::from_secs(3600)).build(),
    };
    Ok((state, mailer))
}

/// Loads themes, connects Redis (if configured), loads the host map, binds both listeners and
/// starts serving. Returns once the listeners are bound.
pub async fn start(mut config: Config, dbs: Databases) -> anyhow::Result<RunningServer> {
    let acceptor = TcpListener::bind(config.server.listen.to_string())
        .into_acceptor()
        .await
        .with_context(|| format!("server.listen {}", config.server.listen))?;
    let addr = acceptor.local_addr().first().and_then(|a| a.as_socket_addr().copied()).context("no local address")?;
    let metrics_acceptor = TcpListener::bind(config.server.metrics_listen.to_string())
        .into_acceptor()
        .await
        .with_context(|| format!("server.metrics_listen {}", config.server.metrics_listen))?;
    let metrics_addr =
        metrics_acceptor.local_addr().first().and_then(|a| a.as_socket_addr().copied()).context("no local address")?;

    if config.server.public_port == Some(0) {
        config.server.public_port = Some(addr.port());
    }
    let (state, mailer) = build_state(config, dbs).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();

    // Periodic reload: heals any lost notice.
    {
        let state = state.clone();
        let mut stop = stop_rx.clone();
        let every = Duration::from_secs(state.config.server.host_reload_seconds);
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => reload(&state).await,
                    _ = stop.changed() => return,
                }
            }
        }));
    }
    // Page views, counted in memory, written in batches (and once more on the way out).
    {
        let state = state.clone();
        let mut stop = stop_rx.clone();
        let every = Duration::from_secs(state.config.server.usage_flush_seconds);
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => crate::context::usage::flush(&state).await,
                    _ = stop.changed() => {
                        crate::context::usage::flush(&state).await;
                        return;
                    }
                }
            }
        }));
    }
    // SCORM commits, applied in groups.
    tasks.push(tokio::spawn(crate::context::commit_queue::Committer::run(state.clone(), stop_rx.clone())));
    // The outbox: mail written in the same transaction as the change that caused it.
    if state.config.jobs.in_process {
        tasks.push(tokio::spawn(crate::app::worker::run(state.clone(), mailer, stop_rx.clone())));
    }
    // Change notices from other instances.
    if let Some(bus) = state.redis.clone() {
        let state = state.clone();
        let stop = stop_rx.clone();
        let (kick_tx, mut kick_rx) = tokio::sync::mpsc::channel::<()>(1);
        tasks.push(tokio::spawn(async move {
            bus.subscribe(TENANTS_CHANGED, stop, move |_| {
                let _ = kick_tx.try_send(());
            })
            .await;
        }));
        tasks.push(tokio::spawn(async move {
            while kick_rx.recv().await.is_some() {
                reload(&state).await;
            }
        }));
    }

    let cfg = state.config.clone();
    let (max_headers, max_body) = (cfg.server.max_header_bytes, cfg.server.max_body_bytes);
    let max_upload = usize::try_from(cfg.files.max_upload_mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX);
    let max_package = usize::try_from(cfg.elearning.max_package_mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX);
    let obs_state = state.clone();
    let app = Dispatch::new(state.clone())
        .around(move |ep, req| {
            let body = match limits::kind(&req) {
                limits::Kind::Upload => max_upload.max(max_body),
                limits::Kind::Package => max_package.max(max_body),
                limits::Kind::Records => crate::features::xapi::MAX_BODY.max(max_body),
                limits::Kind::Plain => max_body,
            };
            limits::limit(ep, req, max_headers, body)
        })
        .around(move |ep, req| observe::observe(ep, req, obs_state.clone()));

    let rx = stop_rx.clone();
    tasks.push(tokio::spawn(async move {
        if let Err(e) = Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(app, stopped(rx), Some(Duration::from_secs(10)))
            .await
        {
            tracing::error!(error = %e, "server stopped with an error");
        }
    }));
    let metrics_app = Route::new().at("/metrics", get(metrics_endpoint)).data(state.clone());
    let rx = stop_rx.clone();
    tasks.push(tokio::spawn(async move {
        if let Err(e) = Server::new_with_acceptor(metrics_acceptor)
            .run_with_graceful_shutdown(metrics_app, stopped(rx), Some(Duration::from_secs(2)))
            .await
        {
            tracing::error!(error = %e, "metrics server stopped with an error");
        }
    }));
    Ok(RunningServer { addr, metrics_addr, state, stop: stop_tx, tasks })
}

async fn reload(state: &AppState) {
    match state.directory.reload(&state.dbs.platform).await {
        Ok(n) => {
            state.metrics.host_reloads.inc();
            tracing::debug!(trusts = n, "host map reloaded");
        }
        Err(e) => tracing::warn!(error = %e, "host map reload failed; keeping the previous map"),
    }
}

/// Tells every running instance to reload the host map (no-op without Redis: they reload on
/// their timer).
pub async fn announce_tenants_changed(config: &Config) -> anyhow::Result<bool> {
    if config.redis.url.is_empty() {
        return Ok(false);
    }
    let bus = RedisBus::connect(&config.redis.url, &config.redis.prefix).await?;
    bus.publish(TENANTS_CHANGED, "apply").await?;
    Ok(true)
}

/// A running worker (no listeners): the background jobs and the host map's reload.
pub struct RunningWorker {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningWorker {
    /// Runs until `signal` resolves, then finishes the job in hand and stops.
    pub async fn run_until(self, signal: ShutdownSignal) {
        signal.await;
        tracing::info!("shutting down");
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// The retention schedule's unused accounts (`trellis retention`): anonymised, or with `dry_run`
/// only counted.
pub async fn anonymise_inactive_accounts(
    config: Config,
    dbs: Databases,
    dry_run: bool,
) -> anyhow::Result<crate::features::erasure::InactiveRun> {
    let (state, _mailer) = build_state(config, dbs).await?;
    Ok(crate::features::erasure::anonymise_inactive(&state, dry_run).await?)
}

/// Starts a worker: `trellis worker`, for deployments where web servers leave jobs to others.
pub async fn start_worker(config: Config, dbs: Databases) -> anyhow::Result<RunningWorker> {
    let (state, mailer) = build_state(config, dbs).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    {
        let state = state.clone();
        let mut stop = stop_rx.clone();
        let every = Duration::from_secs(state.config.server.host_reload_seconds);
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = tick.tick() => reload(&state).await,
                    _ = stop.changed() => return,
                }
            }
        }));
    }
    tasks.push(tokio::spawn(crate::app::worker::run(state, mailer, stop_rx)));
    Ok(RunningWorker { stop: stop_tx, tasks })
}
