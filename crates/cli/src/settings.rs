//! Configuration layering: defaults, then the TOML file, then `SILTA_*` environment variables
//! (nested keys with `__`, e.g. `SILTA_LIMITS__MAX_BODY_BYTES`), then flags.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use silta_server::Config;

pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub data: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
}

pub fn load(overrides: &Overrides) -> anyhow::Result<Config> {
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
    if let Some(listen) = overrides.listen {
        figment = figment.merge(Serialized::default("listen", listen.to_string()));
    }
    figment.extract().context("invalid configuration")
}
