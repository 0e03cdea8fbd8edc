//! Loading the configuration: defaults → `TRELLIS_CONFIG` file → `TRELLIS__…` variables.

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use figment::value::Value;
use trellis_domain::config::{Config, ConfigError};

/// The embedded defaults (`deploy/config/default.toml`).
pub const DEFAULTS: &str = include_str!("../../../deploy/config/default.toml");

/// Loads and validates the configuration from the process environment.
pub fn load() -> Result<Config, ConfigError> {
    let vars: Vec<(String, String)> = std::env::vars().collect();
    load_from(std::env::var("TRELLIS_CONFIG").ok().as_deref(), &vars)
}

/// Loads from an optional file and the given environment variables.
///
/// `TRELLIS__SECTION__KEY` sets `section.key`; `DATABASE_URL` and `REDIS_URL` are aliases of
/// `database.url` and `redis.url` (an explicit `TRELLIS__…` key wins).
pub fn load_from(file: Option<&str>, vars: &[(String, String)]) -> Result<Config, ConfigError> {
    let mut fig = Figment::from(Toml::string(DEFAULTS));
    if let Some(file) = file.filter(|f| !f.is_empty()) {
        if !std::path::Path::new(file).is_file() {
            return Err(ConfigError { key: "TRELLIS_CONFIG".into(), message: format!("no such file: {file}") });
        }
        fig = fig.merge(Toml::file(file));
    }
    let value = |v: &str| v.parse::<Value>().unwrap_or_else(|_| Value::from(v.to_owned()));
    for (alias, key) in [("DATABASE_URL", "database.url"), ("REDIS_URL", "redis.url")] {
        if let Some((_, v)) = vars.iter().find(|(k, _)| k == alias) {
            // URLs stay strings: never let a value that looks like a number or list be re-typed.
            fig = fig.merge(Serialized::default(key, v.clone()));
        }
    }
    for (k, v) in vars {
        if let Some(rest) = k.strip_prefix("TRELLIS__") {
            let key = rest.to_ascii_lowercase().replace("__", ".");
            fig = fig.merge(Serialized::default(&key, value(v)));
        }
    }
    let config: Config = fig.extract().map_err(|e| {
        let mut path = e.path.join(".");
        let field = match &e.kind {
            figment::error::Kind::UnknownField(f, _) => Some(f.to_string()),
            figment::error::Kind::MissingField(f) => Some(f.to_string()),
            _ => None,
        };
        if let Some(f) = field.filter(|f| e.path.last().is_none_or(|last| last != f)) {
            path = if path.is_empty() { f } else { format!("{path}.{f}") };
        }
        ConfigError { key: if path.is_empty() { "(configuration)".into() } else { path }, message: e.kind.to_string() }
    })?;
    config.validate()?;
    Ok(config)
}
