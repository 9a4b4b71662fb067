use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use silta_collect::{BotLimits, Limits};
use silta_identity::IdentityConfig;

/// Server configuration. Read from a TOML file, then `SILTA_*` environment variables, then
/// command-line flags, each overriding the one before (done by the `silta` binary).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub data: PathBuf,
    pub listen: SocketAddr,
    pub limits: Limits,
    /// Keep only the network part of IP addresses (IPv4 /24, IPv6 /48).
    pub truncate_ip: bool,
    /// Events per second each source may send; bursts of one second are allowed. 0 = no limit.
    pub rate_limit_events_per_second: u64,
    /// Events per second one client address may send, across sources. 0 = no limit.
    pub rate_limit_events_per_second_per_ip: u64,
    pub dedupe_window_hours: u64,
    pub flush_interval_ms: u64,
    pub flush_rows: usize,
    pub compact_after_commits: usize,
    pub query_timeout_ms: u64,
    pub query_memory_mb: usize,
    pub query_max_rows: usize,
    /// Identity resolution: identifier traits, limits per identifier type, phone region.
    pub identity: IdentityConfig,
    /// Where browsers reach Silta, e.g. `https://cdp.example.com` behind a TLS proxy; the
    /// analytics.js settings send events there. Without it: the request's host, over http.
    pub public_url: Option<String>,
    /// An admin token to accept (at least 32 characters), e.g. from `SILTA_ADMIN_TOKEN`; with
    /// it, the first start prints no token. Never written to logs or the audit log.
    pub admin_token: Option<Secret>,
    /// PEM certificate chain and private key: serve HTTPS (rustls) instead of HTTP.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// New events of an erased person: refused (default) or stored anonymised.
    pub suppression: SuppressionMode,
    pub retention: Retention,
    /// Minutes between recomputations of every audience's members (0: only on request).
    pub audience_refresh_minutes: u64,
    /// Request rates beyond which live traffic counts as a bot's.
    pub bots: BotLimits,
    pub pseudonymise: Pseudonymisation,
    /// Hosts destinations may deliver to (`crm.example.com`, `*.example.com`); empty: any.
    pub destination_hosts: Vec<String>,
}

/// Fields replaced by a keyed hash at collection, e.g. `["traits.email", "user_id"]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Pseudonymisation {
    pub fields: Vec<String>,
    /// The key: a file of at least 32 bytes outside the data directory, so that a copy of the
    /// data alone cannot be re-identified by hashing guesses.
    pub key_file: Option<PathBuf>,
}

/// How long data is kept; applied at start and then every `interval_hours`. 0 keeps forever.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Retention {
    /// Events whose day (UTC) is older than this many days are deleted (25 months).
    pub events_days: u32,
    /// Quarantined events received longer ago than this are deleted.
    pub quarantine_days: u32,
    pub interval_hours: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            events_days: 762,
            quarantine_days: 30,
            interval_hours: 24,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SuppressionMode {
    #[default]
    Refuse,
    Anonymise,
}

/// A secret from the configuration: its `Debug` form never shows it.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("[redacted]")
    }
}

/// Shortest admin token accepted from the configuration.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 32;

impl Config {
    /// The configuration as the audit log records it: everything but secrets.
    pub fn auditable(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(fields) = value.as_object_mut() {
            fields.remove("admin_token");
        }
        value
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data: PathBuf::from("./data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            limits: Limits::default(),
            truncate_ip: true,
            rate_limit_events_per_second: 1_000_000,
            rate_limit_events_per_second_per_ip: 50_000,
            dedupe_window_hours: 24,
            flush_interval_ms: 5_000,
            flush_rows: 200_000,
            compact_after_commits: 50,
            query_timeout_ms: 60_000,
            query_memory_mb: 2_048,
            query_max_rows: 10_000,
            identity: IdentityConfig::default(),
            public_url: None,
            admin_token: None,
            tls_cert: None,
            tls_key: None,
            suppression: SuppressionMode::default(),
            retention: Retention::default(),
            audience_refresh_minutes: 60,
            bots: BotLimits::default(),
            pseudonymise: Pseudonymisation::default(),
            destination_hosts: Vec::new(),
        }
    }
}
