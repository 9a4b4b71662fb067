use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use silta_collect::Limits;
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
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data: PathBuf::from("./data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            limits: Limits::default(),
            truncate_ip: true,
            rate_limit_events_per_second: 1_000_000,
            dedupe_window_hours: 24,
            flush_interval_ms: 5_000,
            flush_rows: 200_000,
            compact_after_commits: 50,
            query_timeout_ms: 60_000,
            query_memory_mb: 2_048,
            query_max_rows: 10_000,
            identity: IdentityConfig::default(),
            public_url: None,
        }
    }
}
