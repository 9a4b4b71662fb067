//! Configuration layering: defaults, then the TOML file, then `SILTA_*` environment variables
//! (nested keys with `__`, e.g. `SILTA_LIMITS__MAX_BODY_BYTES`), then flags.

use std::path::PathBuf;

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use silta_server::Config;

use crate::commands::serve::ServeArgs;

pub struct Overrides<'a> {
    pub config_file: Option<PathBuf>,
    pub data: Option<PathBuf>,
    /// The flags of `silta serve` that override configuration keys.
    pub serve: Option<&'a ServeArgs>,
}

pub fn load(overrides: &Overrides<'_>) -> anyhow::Result<Config> {
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    if let Some(path) = &overrides.config_file {
        anyhow::ensure!(
            path.exists(),
            "configuration file {} does not exist",
            path.display()
        );
        figment = figment.merge(Toml::file(path));
    }
    // Only variables naming a configuration key count; others (SILTA_LOG, ...) are not ours.
    let known_keys: Vec<String> = serde_json::to_value(Config::default())?
        .as_object()
        .map(|keys| keys.keys().cloned().collect())
        .unwrap_or_default();
    let environment = Env::prefixed("SILTA_").split("__").filter(move |key| {
        let top_level = key.as_str().split('.').next().unwrap_or_default();
        known_keys
            .iter()
            .any(|known| known.eq_ignore_ascii_case(top_level))
    });
    figment = figment.merge(environment);
    if let Some(data) = &overrides.data {
        figment = figment.merge(Serialized::default("data", data));
    }
    if let Some(serve) = overrides.serve {
        if let Some(listen) = serve.listen {
            figment = figment.merge(Serialized::default("listen", listen.to_string()));
        }
        if let Some(cert) = &serve.tls_cert {
            figment = figment.merge(Serialized::default("tls_cert", cert));
        }
        if let Some(key) = &serve.tls_key {
            figment = figment.merge(Serialized::default("tls_key", key));
        }
    }
    let mut config: Config = figment.extract().context("invalid configuration")?;
    // Tables are addressed by URL, which needs an absolute path.
    config.data = std::path::absolute(&config.data)
        .with_context(|| format!("data directory {}", config.data.display()))?;
    Ok(config)
}
