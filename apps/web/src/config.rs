//! Loading the configuration: defaults → `TRELLIS_CONFIG` file → `TRELLIS__…` variables.

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use trellis_core::config::{Config, ConfigError};

/// The embedded defaults (`deploy/config/default.toml`).
pub const DEFAULTS: &str = include_str!("../../../deploy/config/default.toml");

/// Loads and validates the configuration from the process environment.
pub fn load() -> Result<Config, ConfigError> {
    load_from(std::env::var("TRELLIS_CONFIG").ok().as_deref(), Env::raw())
}

/// Loads from an optional file and a given environment provider (tests pass their own).
pub fn load_from(file: Option<&str>, env: Env) -> Result<Config, ConfigError> {
    let mut fig = Figment::from(Toml::string(DEFAULTS));
    if let Some(file) = file {
        if !std::path::Path::new(file).is_file() {
            return Err(ConfigError {
                key: "TRELLIS_CONFIG".into(),
                message: format!("no such file: {file}"),
            });
        }
        fig = fig.merge(Toml::file(file));
    }
    // Conventional aliases first, so the explicit TRELLIS__ keys win over them.
    fig = fig
        .merge(
            env.clone()
                .only(&["DATABASE_URL"])
                .map(|_| "database.url".into()),
        )
        .merge(env.clone().only(&["REDIS_URL"]).map(|_| "redis.url".into()));
    let prefixed = env
        .filter(|k| k.as_str().to_ascii_uppercase().starts_with("TRELLIS__"))
        .map(|k| {
            k.as_str()["TRELLIS__".len()..]
                .to_ascii_lowercase()
                .replace("__", ".")
                .into()
        });
    fig = fig.merge(prefixed);
    let config: Config = fig.extract().map_err(|e| {
        let key = if e.path.is_empty() {
            match &e.kind {
                figment::error::Kind::UnknownField(f, _) => f.clone(),
                figment::error::Kind::MissingField(f) => f.to_string(),
                _ => "(configuration)".to_owned(),
            }
        } else {
            let mut path = e.path.join(".");
            if let figment::error::Kind::UnknownField(f, _) = &e.kind {
                path = format!("{path}.{f}");
            }
            path
        };
        ConfigError {
            key,
            message: e.kind.to_string(),
        }
    })?;
    config.validate()?;
    Ok(config)
}
