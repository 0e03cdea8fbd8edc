//! The platform's configuration: every key, its default, and the checks made at start-up.
//!
//! Loading (files and environment) happens in the binary; this module only describes and checks.

use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;

/// All of Trellis's settings. Defaults are the embedded ones: nothing needs installing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    #[serde(default)]
    pub redis: RedisConfig,
    pub log: LogConfig,
    pub paths: PathsConfig,
    pub auth: AuthConfig,
    pub mail: MailConfig,
    #[serde(default)]
    pub files: FilesConfig,
    #[serde(default)]
    pub jobs: JobsConfig,
    #[serde(default)]
    pub elearning: ElearningConfig,
    #[serde(default)]
    pub uploads: UploadsConfig,
    #[serde(default)]
    pub retention: RetentionConfig,
    #[serde(default)]
    pub payments: PaymentsConfig,
    #[serde(default)]
    pub sso: SsoConfig,
    #[serde(default)]
    pub secrets: SecretsConfig,
    #[serde(default)]
    pub development: DevelopmentConfig,
}

/// Secrets at rest: the operator key that wraps the data key of each secret admins enter (single
/// sign-on client secrets, ePortfolio credentials). See docs/operations.md.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    /// 64 hex characters (32 bytes). Empty: the key kept in `key_file`, made on first start (one
    /// machine only: refused when Redis is configured, since every instance needs the same key).
    pub key: String,
    /// Operator keys used before `key`: what they wrapped still opens, and `trellis keys rotate`
    /// re-wraps it under `key`.
    pub retired_keys: Vec<String>,
    /// Where the key is kept when `key` is empty (empty: `secrets.key` in `paths.data`).
    pub key_file: String,
}

impl fmt::Debug for SecretsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsConfig")
            .field("key", &if self.key.is_empty() { "(key file)" } else { "***" })
            .field("retired_keys", &self.retired_keys.len())
            .field("key_file", &self.key_file)
            .finish()
    }
}

/// Settings for development and tests only. Every one is off by default and must stay off in
/// production.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DevelopmentConfig {
    /// Lets the server fetch plain `http://` addresses and loopback, private, link-local and
    /// unique-local hosts when a URL comes from a trust (single sign-on issuers and the addresses
    /// their metadata names; later LRS forwarding, SFTP and S3 on such hosts). Tests and the demo
    /// set it, because their providers run on this machine.
    pub allow_local_network: bool,
    /// Host names the server resolves itself to these addresses when it fetches a URL a person
    /// or a trust supplied (only with `allow_local_network`): the tests point another trust's
    /// site on this machine at loopback with it, as a browser does for `*.localhost`.
    pub hosts: std::collections::BTreeMap<String, std::net::IpAddr>,
}

/// Single sign-on across trusts.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SsoConfig {
    /// Origins a provider's metadata may point at besides its issuer's own, keyed by the issuer's
    /// origin; e.g. `"https://accounts.google.com" = ["https://oauth2.googleapis.com",
    /// "https://www.googleapis.com"]`. Every other metadata URL must share the issuer's origin.
    pub metadata_origins: std::collections::BTreeMap<String, Vec<String>>,
}

/// The marketplace's payments: Stripe, the local test mode (only when asked for), or off.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentsConfig {
    /// `stripe`, `test` (the local test mode: no network, no money, every payment page says so;
    /// the demo sets it) or `off`. Empty: `stripe` when a secret key is set, otherwise `off`.
    pub mode: String,
    /// Stripe's secret API key.
    pub stripe_secret_key: String,
    /// The webhook endpoint's signing secret (`whsec_…`). The test mode uses a random secret of
    /// its own, made when the server starts and never sent anywhere.
    pub webhook_secret: String,
    /// Stripe's API address (tests point it at a local stand-in).
    pub stripe_api_base: String,
    /// The platform's commission on each sale, in basis points (1500 = 15%).
    pub commission_bps: u32,
    /// How many days after a payment a learner's (or seat) purchase may be refunded if unused.
    pub refund_days: u32,
}

impl Default for PaymentsConfig {
    fn default() -> Self {
        PaymentsConfig {
            mode: String::new(),
            stripe_secret_key: String::new(),
            webhook_secret: String::new(),
            stripe_api_base: "https://api.stripe.com/".into(),
            commission_bps: 1500,
            refund_days: 14,
        }
    }
}

/// How the marketplace takes payments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentsMode {
    /// Through Stripe's API.
    Stripe,
    /// The local test mode, explicitly configured.
    Test,
    /// No payments: paid marketplace features are unavailable.
    Off,
}

impl PaymentsConfig {
    /// The mode in force (after validation).
    pub fn effective_mode(&self) -> PaymentsMode {
        match self.mode.as_str() {
            "test" => PaymentsMode::Test,
            "off" => PaymentsMode::Off,
            "stripe" => PaymentsMode::Stripe,
            _ if !self.stripe_secret_key.is_empty() => PaymentsMode::Stripe,
            _ => PaymentsMode::Off,
        }
    }

    /// Whether payments run in the local test mode (only when configured so).
    pub fn test_mode(&self) -> bool {
        self.effective_mode() == PaymentsMode::Test
    }

    /// Whether paid marketplace features are available at all.
    pub fn enabled(&self) -> bool {
        self.effective_mode() != PaymentsMode::Off
    }
}

impl fmt::Debug for PaymentsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaymentsConfig")
            .field("mode", &self.mode)
            .field("stripe_secret_key", &if self.stripe_secret_key.is_empty() { "" } else { "<redacted>" })
            .field("webhook_secret", &if self.webhook_secret.is_empty() { "" } else { "<redacted>" })
            .field("stripe_api_base", &self.stripe_api_base)
            .field("commission_bps", &self.commission_bps)
            .field("refund_days", &self.refund_days)
            .finish()
    }
}

/// Packaged e-learning: where its content is served from, and how large a package may be.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ElearningConfig {
    /// The content origin's address (scheme, host and port). It must be a different *site* from
    /// every trust (another registrable domain), so content scripts get no portal cookies and no
    /// same-site requests. Empty: `<scheme>://127.0.0.1:<port>` (the demo: trusts are `*.localhost`).
    pub content_origin: String,
    /// The largest package an editor may upload, in MiB (the zip as uploaded).
    pub max_package_mb: u64,
    /// The most files a package may hold, and the most it may unpack to, in MiB.
    pub max_package_files: usize,
    pub max_unpacked_mb: u64,
    /// How long a launch (the content's token) lasts, in hours.
    pub launch_hours: u64,
}

impl Default for ElearningConfig {
    fn default() -> Self {
        ElearningConfig {
            content_origin: String::new(),
            max_package_mb: 1024,
            max_package_files: 20_000,
            max_unpacked_mb: 2048,
            launch_hours: 12,
        }
    }
}

/// How long each class of data is kept before the daily retention run deletes it, in days
/// (docs/data-protection.md gives each default's source).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// The audit trail and the access log (report access, uploads and downloads).
    pub audit_days: u32,
    /// Tracking detail: each SCORM commit as the content sent it (the learning record itself,
    /// enrolments, completions and results, is kept).
    pub tracking_days: u32,
    /// Sign-in sessions, from when last used.
    pub sessions_days: u32,
    /// Emails sent (the outbox's copies, and the file transport's `.eml` files).
    pub mail_days: u32,
    /// Uploads held for a virus scan, from when they were resolved.
    pub held_uploads_days: u32,
    /// Enquiries to a trust's desk and their threads, from when they were closed.
    pub enquiries_days: u32,
    /// Accounts unused (not signed in) for this long are anonymised, as if their person had
    /// closed them.
    pub inactive_accounts_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            audit_days: 6 * 365 + 1,
            tracking_days: 6 * 365 + 1,
            sessions_days: 365,
            mail_days: 30,
            held_uploads_days: 30,
            enquiries_days: 3 * 365 + 1,
            inactive_accounts_days: 6 * 365 + 1,
        }
    }
}

/// Virus scanning of uploads (e-learning packages, logos, staff files) by ClamAV's clamd.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UploadsConfig {
    /// `required` (production: nothing is stored or served unscanned; while clamd cannot be
    /// reached, uploads wait as "waiting for a virus scan" and the worker scans them again),
    /// `optional` (scanned when clamd answers, accepted unscanned when it does not: the demo) or
    /// `off`.
    pub scan: String,
    /// Where clamd listens: `host:port` for TCP, or the path of its Unix socket (starting `/`).
    pub clamd: String,
    /// The largest file sent to clamd, in MiB: clamd's `StreamMaxLength` (and `MaxFileSize`,
    /// `MaxScanSize`) must be at least this. A larger file is refused when scanning is required.
    pub scan_max_mb: u64,
    /// How long one scan may take, in seconds, before the scanner counts as unavailable.
    pub scan_timeout_secs: u64,
}

/// What [`UploadsConfig::scan`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanMode {
    Required,
    Optional,
    Off,
}

impl UploadsConfig {
    pub fn scan_mode(&self) -> ScanMode {
        match self.scan.as_str() {
            "required" => ScanMode::Required,
            "off" => ScanMode::Off,
            _ => ScanMode::Optional,
        }
    }
}

impl Default for UploadsConfig {
    fn default() -> Self {
        UploadsConfig {
            scan: "optional".into(),
            clamd: "127.0.0.1:3310".into(),
            scan_max_mb: 1100,
            scan_timeout_secs: 120,
        }
    }
}

/// Where uploaded files (course media, imports) are kept.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilesConfig {
    /// `local` (a folder, the embedded default) or `s3` (any S3-compatible store).
    pub store: String,
    /// The folder for `local`.
    pub dir: String,
    /// The largest media file an editor may upload, in MiB.
    pub max_upload_mb: u64,
    pub s3_bucket: String,
    /// Empty: AWS; otherwise the S3-compatible service's URL (MinIO, Ceph, a cloud's S3 API).
    pub s3_endpoint: String,
    pub s3_region: String,
    pub s3_access_key_id: String,
    pub s3_secret_access_key: String,
}

impl Default for FilesConfig {
    fn default() -> Self {
        FilesConfig {
            store: "local".into(),
            dir: "data/files".into(),
            max_upload_mb: 500,
            s3_bucket: String::new(),
            s3_endpoint: String::new(),
            s3_region: "eu-west-2".into(),
            s3_access_key_id: String::new(),
            s3_secret_access_key: String::new(),
        }
    }
}

impl fmt::Debug for FilesConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilesConfig")
            .field("store", &self.store)
            .field("dir", &self.dir)
            .field("s3_bucket", &self.s3_bucket)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("s3_secret_access_key", &if self.s3_secret_access_key.is_empty() { "" } else { "***" })
            .finish_non_exhaustive()
    }
}

/// The background worker (emails, reminders, imports).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// Run the worker inside `trellis serve` (the embedded default). Set false when separate
    /// `trellis worker` processes do the work.
    pub in_process: bool,
    /// How often (seconds) the worker looks for face-to-face events starting within a day whose
    /// places have not been reminded.
    pub event_reminders_every_secs: u64,
    /// How often (seconds) the worker queues each trust's daily export of completions to HR and
    /// tries the deliveries that are due.
    pub hr_export_every_secs: u64,
    /// How far behind now (seconds) an export of completions ends, so a completion being recorded
    /// as it is made goes in the next export rather than being missed.
    pub hr_export_settle_secs: u64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            in_process: true,
            event_reminders_every_secs: 60,
            hr_export_every_secs: 60,
            hr_export_settle_secs: 60,
        }
    }
}

/// Sign-in, sessions, passwords and rate limits.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// 64 hex characters (32 bytes) keying CSRF tokens; shared by every instance. Empty: a random
    /// key per process (one instance only: refused when Redis is configured).
    #[serde(default)]
    pub secret: String,
    pub session_idle_minutes: u64,
    pub session_absolute_hours: u64,
    /// argon2id memory cost in KiB and passes (OWASP: 19456 KiB, 2).
    pub password_memory_kib: u32,
    pub password_iterations: u32,
    /// Failed sign-ins allowed per account (across every trust) in each window.
    pub attempts_per_account: u64,
    /// Failed sign-ins (and registrations, password-reset and confirmation requests) allowed per
    /// client address in each window: high, since a hospital's staff share one address.
    pub failures_per_address: u64,
    pub attempt_window_seconds: u64,
    /// Emailed links (confirmation, password reset) one person may be sent per hour.
    pub links_per_recipient_per_hour: u64,
    /// How long emailed links work.
    pub link_hours: i64,
    /// Platform administrators must use two-step verification (set up at their first sign-in).
    pub platform_admin_mfa_required: bool,
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("secret", &if self.secret.is_empty() { "(random)" } else { "***" })
            .field("session_idle_minutes", &self.session_idle_minutes)
            .field("session_absolute_hours", &self.session_absolute_hours)
            .finish_non_exhaustive()
    }
}

/// Outgoing email.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    /// `file` (written under `dir`, for the demo) or `smtp`.
    pub transport: String,
    pub dir: String,
    /// `smtp://host:port` (plain, for a local relay) or `smtps://user:pass@host` (TLS).
    #[serde(default)]
    pub smtp_url: String,
    pub from_address: String,
    /// How often the outbox is polled, in milliseconds.
    pub poll_ms: u64,
    /// DKIM: the selector whose DNS record (`<selector>._domainkey.<domain>`) publishes the public
    /// key. Empty: mail is not signed.
    #[serde(default)]
    pub dkim_selector: String,
    /// DKIM: the signing domain (`d=`); empty means the domain of `from_address`.
    #[serde(default)]
    pub dkim_domain: String,
    /// DKIM: a file holding the RSA private key in PKCS#1 PEM.
    #[serde(default)]
    pub dkim_key_file: String,
}

impl MailConfig {
    /// The DKIM signing domain: `dkim_domain`, or the domain of the from address.
    pub fn dkim_domain(&self) -> &str {
        if self.dkim_domain.is_empty() {
            self.from_address.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
        } else {
            &self.dkim_domain
        }
    }
}

/// The HTTP listeners and how hosts map to trusts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// The public listener.
    pub listen: SocketAddr,
    /// The internal listener for `/metrics`; never exposed on a trust's host.
    pub metrics_listen: SocketAddr,
    /// `<slug>.<base_domain>` is a trust's site; the bare base domain is the platform.
    pub base_domain: String,
    /// The scheme and port used to build absolute links (`http://localhost:8080`).
    pub public_scheme: String,
    /// The port shown in links; 0 means the port the public listener is bound to.
    pub public_port: Option<u16>,
    /// Proxies whose `X-Forwarded-*` and `Forwarded` headers are believed (addresses or CIDRs).
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Name servers asked when a trust admin's custom domain is checked (`ip:port`); empty: the
    /// system's resolver.
    #[serde(default)]
    pub dns_servers: Vec<SocketAddr>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Largest total size of request headers, in bytes.
    pub max_header_bytes: usize,
    /// How often every instance reloads the host map even without a change notice, in seconds.
    pub host_reload_seconds: u64,
    /// How often page views counted in memory are written to the database, in seconds.
    #[serde(default = "default_usage_flush")]
    pub usage_flush_seconds: u64,
    /// Send `Secure` cookies and HSTS (off only in local development over plain HTTP).
    pub secure: bool,
}

fn default_usage_flush() -> u64 {
    60
}

/// The database and the three roles that use it.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// The owner's URL: runs migrations. `DATABASE_URL` sets it.
    pub url: String,
    /// The application role's URL (owns nothing, no BYPASSRLS). Empty: `url` with user `trellis_app`.
    #[serde(default)]
    pub app_url: String,
    /// `PlatformDb`'s URL (BYPASSRLS). Empty: `url` with user `trellis_platform`.
    #[serde(default)]
    pub platform_url: String,
    /// The identity path's URL (no BYPASSRLS; ADR 0014). Empty: `url` with user `trellis_identity`.
    #[serde(default)]
    pub identity_url: String,
    /// Create the two roles when migrating as a superuser (development and CI).
    pub manage_roles: bool,
    /// Run migrations when `serve` starts.
    pub migrate_on_start: bool,
    pub max_connections: u32,
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &redact_url(&self.url))
            .field("app_url", &redact_url(&self.app_url))
            .field("platform_url", &redact_url(&self.platform_url))
            .field("identity_url", &redact_url(&self.identity_url))
            .field("manage_roles", &self.manage_roles)
            .field("migrate_on_start", &self.migrate_on_start)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

/// Redis: sessions, cache, rate limits, jobs and change notices across instances. Empty: in-process.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    #[serde(default)]
    pub url: String,
    /// Prefix for every key and channel, so several deployments (or test runs) share one server.
    #[serde(default = "default_prefix")]
    pub prefix: String,
}

fn default_prefix() -> String {
    "trellis".to_owned()
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig").field("url", &redact_url(&self.url)).field("prefix", &self.prefix).finish()
    }
}

/// Logging.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` for people, `json` for log collectors.
    pub format: String,
    /// A `tracing` filter such as `info,trellis=debug`.
    pub filter: String,
    /// The access log: `all`, `errors` (4xx, 5xx and slow requests) or `off`.
    pub access: String,
    /// With `all`: one in this many ordinary requests is logged (errors and slow ones always).
    pub access_sample: u32,
}

/// Where the platform's own files are.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathsConfig {
    pub themes: String,
    pub tenants: String,
    pub data: String,
    /// The platform's terms and privacy notice (versioned documents).
    pub terms: String,
}

/// A setting that is present but wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration key `{key}`: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

fn bad(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError { key: key.to_owned(), message: message.into() }
}

impl Config {
    /// Checks what serde cannot: URLs, domains, proxies, formats.
    pub fn validate(&self) -> Result<(), ConfigError> {
        crate::host::HostName::parse(&self.server.base_domain).map_err(|e| bad("server.base_domain", e.to_string()))?;
        if !matches!(self.server.public_scheme.as_str(), "http" | "https") {
            return Err(bad("server.public_scheme", "must be http or https"));
        }
        for p in &self.server.trusted_proxies {
            let ok = p.parse::<std::net::IpAddr>().is_ok() || is_cidr(p);
            if !ok {
                return Err(bad("server.trusted_proxies", format!("\"{p}\" is not an address or CIDR range")));
            }
        }
        match self.files.store.as_str() {
            "local" if self.files.dir.is_empty() => return Err(bad("files.dir", "must name a folder")),
            "local" => {}
            "s3" if self.files.s3_bucket.is_empty() => {
                return Err(bad("files.s3_bucket", "must be set when files.store is s3"));
            }
            "s3" => {}
            _ => return Err(bad("files.store", "must be local or s3")),
        }
        if self.files.store == "s3" && !self.files.s3_endpoint.is_empty() && !self.development.allow_local_network {
            // An S3-compatible store on this machine or over plain http is for development (moto,
            // MinIO on loopback); the operator's own private network is fine over https.
            let u = url::Url::parse(&self.files.s3_endpoint)
                .map_err(|_| bad("files.s3_endpoint", "must be a URL like https://s3.example.net"))?;
            let loopback = match u.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
                None => true,
            };
            if u.scheme() != "https" || loopback {
                return Err(bad(
                    "files.s3_endpoint",
                    "an http:// endpoint, or one on this machine, needs development.allow_local_network",
                ));
            }
        }
        if self.files.max_upload_mb == 0 {
            return Err(bad("files.max_upload_mb", "must be at least 1"));
        }
        if self.server.max_body_bytes == 0 {
            return Err(bad("server.max_body_bytes", "must be greater than 0"));
        }
        if self.server.max_header_bytes < 1024 {
            return Err(bad("server.max_header_bytes", "must be at least 1024"));
        }
        if self.server.usage_flush_seconds == 0 {
            return Err(bad("server.usage_flush_seconds", "must be at least 1"));
        }
        if self.server.host_reload_seconds == 0 {
            return Err(bad("server.host_reload_seconds", "must be at least 1"));
        }
        for (key, url) in [
            ("database.url", &self.database.url),
            ("database.app_url", &self.database.app_url),
            ("database.platform_url", &self.database.platform_url),
            ("database.identity_url", &self.database.identity_url),
        ] {
            if !(url.is_empty()
                || url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
            {
                return Err(bad(key, "must start with sqlite:, postgres:// or postgresql://"));
            }
        }
        if self.database.url.is_empty() {
            return Err(bad("database.url", "must be set (DATABASE_URL)"));
        }
        if self.database.max_connections == 0 {
            return Err(bad("database.max_connections", "must be at least 1"));
        }
        if !(self.redis.url.is_empty()
            || self.redis.url.starts_with("redis://")
            || self.redis.url.starts_with("rediss://"))
        {
            return Err(bad("redis.url", "must start with redis:// or rediss://"));
        }
        if self.redis.prefix.is_empty() || self.redis.prefix.contains(char::is_whitespace) {
            return Err(bad("redis.prefix", "must be a non-empty word"));
        }
        if !self.auth.secret.is_empty() && (self.auth.secret.len() != 64 || hex_bytes(&self.auth.secret).is_none()) {
            return Err(bad("auth.secret", "must be 64 hex characters (32 bytes)"));
        }
        if self.auth.secret.is_empty() && !self.redis.url.is_empty() {
            return Err(bad("auth.secret", "must be set when redis.url is (every instance needs the same key)"));
        }
        let hex32 = |v: &str| v.len() == 64 && hex_bytes(v).is_some();
        if !self.secrets.key.is_empty() && !hex32(&self.secrets.key) {
            return Err(bad("secrets.key", "must be 64 hex characters (32 bytes)"));
        }
        if self.secrets.key.is_empty() && !self.redis.url.is_empty() {
            return Err(bad("secrets.key", "must be set when redis.url is (every instance needs the same key)"));
        }
        if self.secrets.retired_keys.iter().any(|k| !hex32(k)) {
            return Err(bad("secrets.retired_keys", "each must be 64 hex characters (32 bytes)"));
        }
        if self.auth.password_memory_kib < 64 || self.auth.password_iterations == 0 {
            return Err(bad("auth.password_memory_kib", "must be at least 64, with at least one iteration"));
        }
        if self.auth.session_idle_minutes == 0 || self.auth.session_absolute_hours == 0 {
            return Err(bad("auth.session_idle_minutes", "session time-outs must be positive"));
        }
        if !matches!(self.mail.transport.as_str(), "file" | "smtp") {
            return Err(bad("mail.transport", "must be file or smtp"));
        }
        if self.mail.transport == "smtp"
            && !(self.mail.smtp_url.starts_with("smtp://") || self.mail.smtp_url.starts_with("smtps://"))
        {
            return Err(bad("mail.smtp_url", "must start with smtp:// or smtps:// when mail.transport is smtp"));
        }
        if crate::identity::Email::parse(&self.mail.from_address).is_err() {
            return Err(bad("mail.from_address", "must be an email address"));
        }
        if !self.mail.dkim_selector.is_empty() && self.mail.dkim_key_file.is_empty() {
            return Err(bad(
                "mail.dkim_key_file",
                "must name the DKIM private key's file when mail.dkim_selector is set",
            ));
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(bad("log.format", "must be text or json"));
        }
        if !matches!(self.log.access.as_str(), "all" | "errors" | "off") {
            return Err(bad("log.access", "must be all, errors or off"));
        }
        if self.log.access_sample == 0 {
            return Err(bad("log.access_sample", "must be at least 1"));
        }
        let e = &self.elearning;
        if e.max_package_mb == 0 || e.max_package_files == 0 || e.max_unpacked_mb == 0 || e.launch_hours == 0 {
            return Err(bad("elearning.max_package_mb", "package limits and launch_hours must be at least 1"));
        }
        let r = &self.retention;
        for (key, days) in [
            ("retention.audit_days", r.audit_days),
            ("retention.tracking_days", r.tracking_days),
            ("retention.sessions_days", r.sessions_days),
            ("retention.mail_days", r.mail_days),
            ("retention.held_uploads_days", r.held_uploads_days),
            ("retention.enquiries_days", r.enquiries_days),
            ("retention.inactive_accounts_days", r.inactive_accounts_days),
        ] {
            if days == 0 {
                return Err(bad(key, "must be at least 1 (a day)"));
            }
        }
        if !matches!(self.uploads.scan.as_str(), "required" | "optional" | "off") {
            return Err(bad("uploads.scan", "must be required, optional or off"));
        }
        if self.uploads.clamd.trim().is_empty() {
            return Err(bad("uploads.clamd", "must be host:port or the path of clamd's socket"));
        }
        if self.uploads.scan_mode() == ScanMode::Required && self.uploads.scan_max_mb < e.max_package_mb {
            return Err(bad(
                "uploads.scan_max_mb",
                "must be at least elearning.max_package_mb when scanning is required (and clamd's StreamMaxLength at least this)",
            ));
        }
        if self.payments.commission_bps > 5000 {
            return Err(bad("payments.commission_bps", "must be at most 5000 (50%)"));
        }
        if !matches!(self.payments.mode.as_str(), "" | "stripe" | "test" | "off") {
            return Err(bad("payments.mode", "must be stripe, test or off"));
        }
        if self.payments.mode == "stripe" && self.payments.stripe_secret_key.is_empty() {
            return Err(bad("payments.stripe_secret_key", "is required when payments.mode is stripe"));
        }
        if self.payments.mode == "test" && !self.payments.stripe_secret_key.is_empty() {
            return Err(bad("payments.mode", "is test, but a Stripe secret key is set: choose one"));
        }
        for (issuer, origins) in &self.sso.metadata_origins {
            for o in std::iter::once(issuer).chain(origins) {
                let ok = url::Url::parse(o).is_ok_and(|u| u.origin().ascii_serialization() == o.trim_end_matches('/'));
                if !ok {
                    return Err(bad(
                        "sso.metadata_origins",
                        format!("\"{o}\" is not an origin (scheme://host[:port])"),
                    ));
                }
            }
        }
        if self.payments.effective_mode() == PaymentsMode::Stripe && !self.payments.webhook_secret.starts_with("whsec_")
        {
            return Err(bad(
                "payments.webhook_secret",
                "is required with a Stripe key (whsec_…, from the webhook endpoint)",
            ));
        }
        if url::Url::parse(&self.payments.stripe_api_base).map(|u| !u.scheme().starts_with("http")).unwrap_or(true) {
            return Err(bad("payments.stripe_api_base", "must be an http(s) URL"));
        }
        if !e.content_origin.is_empty() {
            let u = url::Url::parse(&e.content_origin)
                .map_err(|_| bad("elearning.content_origin", "must be a URL like https://content.example.net"))?;
            let host = u.host_str().unwrap_or_default().to_ascii_lowercase();
            let base = self.server.base_domain.to_ascii_lowercase();
            if !matches!(u.scheme(), "http" | "https") || host.is_empty() || u.path() != "/" {
                return Err(bad("elearning.content_origin", "must be http(s)://host[:port] with no path"));
            }
            if host == base || host.ends_with(&format!(".{base}")) {
                return Err(bad(
                    "elearning.content_origin",
                    "must be a different site from the trusts' (not the base domain or under it): content must never share their cookies",
                ));
            }
        }
        Ok(())
    }

    /// The content origin (`scheme://host[:port]`, no trailing slash).
    pub fn content_origin(&self) -> String {
        if !self.elearning.content_origin.is_empty() {
            return self.elearning.content_origin.trim_end_matches('/').to_owned();
        }
        self.url_for_host("127.0.0.1").trim_end_matches('/').to_owned()
    }

    /// The content origin's host name, as requests name it in `Host` (without the port).
    pub fn content_host(&self) -> String {
        let origin = self.content_origin();
        url::Url::parse(&origin).ok().and_then(|u| u.host_str().map(str::to_ascii_lowercase)).unwrap_or_default()
    }

    /// The absolute URL of a host on this platform, e.g. `http://north.localhost:8080/`.
    pub fn url_for_host(&self, host: &str) -> String {
        let port = match (self.server.public_scheme.as_str(), self.server.public_port) {
            (_, None | Some(0)) | ("http", Some(80)) | ("https", Some(443)) => String::new(),
            (_, Some(p)) => format!(":{p}"),
        };
        format!("{}://{host}{port}/", self.server.public_scheme)
    }
}

/// Decodes hex, if it is hex.
pub fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

fn is_cidr(s: &str) -> bool {
    s.split_once('/').is_some_and(|(ip, bits)| {
        let Ok(bits) = bits.parse::<u8>() else {
            return false;
        };
        match ip.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(_)) => bits <= 32,
            Ok(std::net::IpAddr::V6(_)) => bits <= 128,
            Err(_) => false,
        }
    })
}

/// A URL with any password replaced, for logs and error messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact_url("postgres://app:s3cret@db:5432/x"), "postgres://app:***@db:5432/x");
        assert_eq!(redact_url("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(redact_url("sqlite://data/t.db"), "sqlite://data/t.db");
    }
}
