//! What a destination is: where it delivers, for which purpose, what it receives and how it
//! retries. Secrets are never stored: a destination names the environment variable or the file
//! that holds each one, and the value is read when a delivery needs it.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use silta_model::{Event, EventType};

use crate::conditions::{self, MAX_CONDITIONS};
use crate::mapping::Mapping;

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_BATCH_SIZE: usize = 1000;
pub const MAX_ATTEMPTS: u32 = 100;
pub const MAX_FILTER_ENTRIES: usize = 500;
const MAX_URL_CHARS: usize = 2048;
const MAX_SUBJECT_CHARS: usize = 256;
const MAX_TIMEOUT_MS: u64 = 120_000;
const MAX_BACKOFF_MS: u64 = 24 * 3600 * 1000;
const MAX_LINGER_MS: u64 = 24 * 3600 * 1000;
pub const MAX_ACTIVATED_AUDIENCES: usize = 100;
const MAX_CAP_HOURS: u32 = 24 * 366;

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn invalid(message: impl Into<String>) -> ConfigError {
    ConfigError(message.into())
}

/// A stored destination: what the user asked for, with its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Destination {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub spec: DestinationSpec,
}

/// What a user configures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationSpec {
    pub name: String,
    /// The consent purpose a person must have granted for their events to be sent.
    pub purpose: String,
    pub target: Target,
    #[serde(default)]
    pub filter: Filter,
    /// Without a mapping, events go out in the Segment spec's JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping: Option<Mapping>,
    #[serde(default)]
    pub delivery: DeliveryPolicy,
    /// Audiences whose entries and exits this destination receives, as `Audience Entered` and
    /// `Audience Exited` track events of the member's profile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub activate: Vec<String>,
    /// Whether collected events go out at all (a destination may want only its audiences).
    #[serde(default = "enabled")]
    pub forward_events: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_cap: Option<FrequencyCap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn enabled() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    /// HTTP POST of JSON: one event per request, or `{"batch": [...]}` when the batch size is
    /// above one.
    Webhook {
        url: String,
        /// Signs each body with HMAC-SHA256 so the receiver can verify the sender.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signing_secret: Option<SecretRef>,
        /// Sent as `Authorization: Bearer ...`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bearer_token: Option<SecretRef>,
    },
    /// One NATS message per event on `subject`, with the idempotency key as `Nats-Msg-Id`.
    Nats {
        url: String,
        subject: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<SecretRef>,
        /// Publish to the JetStream stream bound to `subject` and wait for its acknowledgement
        /// of every message (the stream stores them and drops duplicates by `Nats-Msg-Id`).
        #[serde(default)]
        jetstream: bool,
    },
    /// One file per delivered batch, in `url` (`file:///absolute/directory` or
    /// `s3://bucket/prefix`) under `dt=YYYY-MM-DD/`, named by the batch's idempotency key so
    /// that a retried batch overwrites its own file. `delivery.linger_ms` makes exports
    /// periodic: a batch waits that long to fill up.
    Files {
        url: String,
        #[serde(default)]
        format: FileFormat,
        /// S3-compatible storage other than AWS (MinIO, Ceph, a local test server).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        endpoint: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        region: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        access_key_id: Option<SecretRef>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret_access_key: Option<SecretRef>,
    },
    /// A dialog message: one email per event to the person's address (their profile's email),
    /// written from `template`, with an unsubscribe link that withdraws the destination's
    /// purpose. Each send is recorded as an `Email Sent` event of the person.
    Email {
        /// `smtp://host:port` (STARTTLS when the server offers it) or `smtps://host:port`.
        url: String,
        /// The sender, e.g. `Shop <news@shop.example>`.
        from: String,
        template: EmailTemplate,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<SecretRef>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<SecretRef>,
    },
}

/// An email's subject and plain-text body as MiniJinja templates over the event's Segment JSON
/// and `recipient` (`email`, `unsubscribe_url`); templates cannot reach anything else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailTemplate {
    pub subject: String,
    pub text: String,
}

pub const MAX_SUBJECT_TEMPLATE_CHARS: usize = 500;
pub const MAX_TEXT_TEMPLATE_CHARS: usize = 100_000;

/// At most `max` deliveries per person within `per_hours`; further events are passed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrequencyCap {
    pub max: u32,
    pub per_hours: u32,
}

/// Hours in which nothing is sent (`"21:00"` to `"08:00"` in `timezone`); deliveries wait
/// for the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    pub start: String,
    pub end: String,
    /// An IANA time zone such as `Europe/Helsinki`.
    #[serde(default = "utc")]
    pub timezone: String,
}

fn utc() -> String {
    "UTC".to_string()
}

/// How exported files are written: one row per message, one column per top-level field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    #[default]
    Csv,
    Parquet,
}

impl FileFormat {
    pub fn extension(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Parquet => "parquet",
        }
    }
}

impl Target {
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Webhook { .. } => "webhook",
            Target::Nats { .. } => "nats",
            Target::Files { .. } => "files",
            Target::Email { .. } => "email",
        }
    }
}

/// Where a secret is held: an environment variable of the Silta process, or a file (a mounted
/// secret). The value is read when a delivery needs it, so a rotated file takes effect at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
}

/// Secrets longer than this are refused when read (a wrong file, not a secret).
const MAX_SECRET_BYTES: u64 = 64 * 1024;

impl SecretRef {
    pub fn read(&self) -> Result<String, String> {
        let value = match (&self.env, &self.file) {
            (Some(name), _) => std::env::var(name)
                .map_err(|_| format!("environment variable {name} is not set"))?,
            (None, Some(path)) => {
                let unreadable = |_| format!("secret file {} cannot be read", path.display());
                let size = std::fs::metadata(path).map_err(unreadable)?.len();
                if size > MAX_SECRET_BYTES {
                    return Err(format!("secret file {} is too large", path.display()));
                }
                std::fs::read_to_string(path).map_err(unreadable)?
            }
            (None, None) => return Err("a secret names neither env nor file".to_string()),
        };
        let value = value.trim_end_matches(['\r', '\n']).to_string();
        if value.is_empty() {
            return Err("the secret is empty".to_string());
        }
        Ok(value)
    }

    fn validate(&self, field: &str) -> Result<(), ConfigError> {
        match (&self.env, &self.file) {
            (Some(name), None) => {
                let mut characters = name.chars();
                let starts_well = characters
                    .next()
                    .is_some_and(|first| first.is_ascii_uppercase() || first == '_');
                let rest_well =
                    characters.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
                if !starts_well || !rest_well || name.len() > 128 {
                    return Err(invalid(format!(
                        "{field}.env must be an environment variable name such as HOOK_SECRET"
                    )));
                }
                Ok(())
            }
            (None, Some(path)) if path.is_absolute() => Ok(()),
            (None, Some(_)) => Err(invalid(format!("{field}.file must be an absolute path"))),
            _ => Err(invalid(format!(
                "{field} must name exactly one of `env` and `file`"
            ))),
        }
    }
}

/// Which events a destination receives. An empty list admits everything of that kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Source ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<EventType>,
    /// Track event names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// Events flagged as bots are left out unless this is set.
    #[serde(default)]
    pub include_bots: bool,
    /// Only people in one of these audiences (as last computed), checked at delivery.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audiences: Vec<String>,
    /// Conditions on the event's fields (as in funnel steps), all of which must hold.
    #[serde(default, rename = "where", skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<silta_analytics::Filter>,
}

impl Filter {
    pub fn admits(&self, event: &Event) -> bool {
        if event.is_bot && !self.include_bots {
            return false;
        }
        if !self.sources.is_empty() && !self.sources.contains(&event.source_id) {
            return false;
        }
        if !self.types.is_empty() && !self.types.contains(&event.event_type) {
            return false;
        }
        let named = self.events.is_empty()
            || event
                .event
                .as_ref()
                .is_some_and(|name| self.events.contains(name));
        if !named || self.conditions.is_empty() {
            return named;
        }
        self.conditions
            .iter()
            .all(|condition| conditions::holds(condition, event))
    }
}

/// How a destination batches and retries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryPolicy {
    /// Events per request for webhooks; for NATS, messages (one per event) published together
    /// and confirmed by one flush.
    pub batch_size: usize,
    /// Attempts before a batch goes to the dead-letter queue.
    pub max_attempts: u32,
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    pub timeout_ms: u64,
    /// How long a batch smaller than `batch_size` waits for more events before it is sent.
    pub linger_ms: u64,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy {
            batch_size: 1,
            max_attempts: 10,
            initial_backoff_ms: 500,
            max_backoff_ms: 300_000,
            timeout_ms: 10_000,
            linger_ms: 0,
        }
    }
}

impl DeliveryPolicy {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    pub fn linger(&self) -> Duration {
        Duration::from_millis(self.linger_ms)
    }
}

impl DestinationSpec {
    /// Checks everything a user can get wrong; `purposes` are the configured consent purposes,
    /// `allowed_hosts` the hosts destinations may reach (empty: any).
    pub fn validate(
        &self,
        purposes: &[String],
        allowed_hosts: &[String],
    ) -> Result<(), ConfigError> {
        let name_chars = self.name.trim().chars().count();
        if name_chars == 0 || name_chars > MAX_NAME_CHARS {
            return Err(invalid(format!(
                "name must be 1 to {MAX_NAME_CHARS} characters"
            )));
        }
        if !purposes.contains(&self.purpose) {
            return Err(invalid(format!(
                "unknown purpose `{}`; expected one of {}",
                self.purpose,
                purposes.join(", ")
            )));
        }
        self.validate_target(allowed_hosts)?;
        let filter = &self.filter;
        if filter.sources.len() + filter.events.len() + filter.audiences.len() > MAX_FILTER_ENTRIES
        {
            return Err(invalid(format!(
                "filter lists at most {MAX_FILTER_ENTRIES} sources, events and audiences together"
            )));
        }
        if filter.conditions.len() > MAX_CONDITIONS {
            return Err(invalid(format!(
                "filter.where holds at most {MAX_CONDITIONS} conditions"
            )));
        }
        for condition in &filter.conditions {
            condition.validate().map_err(|error| {
                invalid(format!("filter.where on `{}`: {error}", condition.field))
            })?;
        }
        if let Some(mapping) = &self.mapping {
            mapping.validate().map_err(invalid)?;
        }
        let policy = &self.delivery;
        if !(1..=MAX_BATCH_SIZE).contains(&policy.batch_size) {
            return Err(invalid(format!(
                "delivery.batch_size must be 1 to {MAX_BATCH_SIZE}"
            )));
        }
        if !(1..=MAX_ATTEMPTS).contains(&policy.max_attempts) {
            return Err(invalid(format!(
                "delivery.max_attempts must be 1 to {MAX_ATTEMPTS}"
            )));
        }
        if policy.initial_backoff_ms == 0
            || policy.initial_backoff_ms > policy.max_backoff_ms
            || policy.max_backoff_ms > MAX_BACKOFF_MS
        {
            return Err(invalid(format!(
                "delivery backoff must satisfy 0 < initial_backoff_ms <= max_backoff_ms <= {MAX_BACKOFF_MS}"
            )));
        }
        if !(1..=MAX_TIMEOUT_MS).contains(&policy.timeout_ms) {
            return Err(invalid(format!(
                "delivery.timeout_ms must be 1 to {MAX_TIMEOUT_MS}"
            )));
        }
        if policy.linger_ms > MAX_LINGER_MS {
            return Err(invalid(format!(
                "delivery.linger_ms must be at most {MAX_LINGER_MS}"
            )));
        }
        if let Some(cap) = &self.frequency_cap
            && (cap.max == 0 || cap.per_hours == 0 || cap.per_hours > MAX_CAP_HOURS)
        {
            return Err(invalid(format!(
                "frequency_cap needs max >= 1 and per_hours from 1 to {MAX_CAP_HOURS}"
            )));
        }
        if let Some(quiet) = &self.quiet_hours {
            crate::quiet::QuietWindow::parse(quiet).map_err(invalid)?;
        }
        if self.activate.len() > MAX_ACTIVATED_AUDIENCES {
            return Err(invalid(format!(
                "activate lists at most {MAX_ACTIVATED_AUDIENCES} audiences"
            )));
        }
        Ok(())
    }

    fn validate_target(&self, allowed_hosts: &[String]) -> Result<(), ConfigError> {
        match &self.target {
            Target::Webhook {
                url,
                signing_secret,
                bearer_token,
            } => {
                check_url(url, &["http", "https"], allowed_hosts)?;
                if let Some(secret) = signing_secret {
                    secret.validate("target.signing_secret")?;
                }
                if let Some(token) = bearer_token {
                    token.validate("target.bearer_token")?;
                }
            }
            Target::Nats {
                url,
                subject,
                token,
                ..
            } => {
                check_url(url, &["nats", "tls"], allowed_hosts)?;
                check_subject(subject)?;
                if let Some(token) = token {
                    token.validate("target.token")?;
                }
            }
            Target::Files {
                url,
                endpoint,
                region,
                access_key_id,
                secret_access_key,
                ..
            } => {
                let location = FileLocation::parse(url)?;
                let s3_settings = endpoint.is_some()
                    || region.is_some()
                    || access_key_id.is_some()
                    || secret_access_key.is_some();
                if matches!(location, FileLocation::Directory(_)) && s3_settings {
                    return Err(invalid(
                        "endpoint, region and access keys apply only to s3:// urls",
                    ));
                }
                if let Some(endpoint) = endpoint {
                    check_url(endpoint, &["http", "https"], allowed_hosts).map_err(|error| {
                        invalid(error.0.replace("target.url", "target.endpoint"))
                    })?;
                }
                if let Some(region) = region
                    && (region.is_empty()
                        || region.len() > 64
                        || !region
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-'))
                {
                    return Err(invalid(
                        "target.region must be a region name such as eu-north-1",
                    ));
                }
                if access_key_id.is_some() != secret_access_key.is_some() {
                    return Err(invalid(
                        "target.access_key_id and target.secret_access_key go together",
                    ));
                }
                if let Some(key) = access_key_id {
                    key.validate("target.access_key_id")?;
                }
                if let Some(secret) = secret_access_key {
                    secret.validate("target.secret_access_key")?;
                }
            }
            Target::Email {
                url,
                from,
                template,
                username,
                password,
            } => {
                check_url(url, &["smtp", "smtps"], allowed_hosts)?;
                if from.parse::<lettre::message::Mailbox>().is_err() {
                    return Err(invalid(
                        "target.from must be an address such as `Shop <news@shop.example>`",
                    ));
                }
                crate::email::check_template(template).map_err(invalid)?;
                if username.is_some() != password.is_some() {
                    return Err(invalid("target.username and target.password go together"));
                }
                for (field, secret) in
                    [("target.username", username), ("target.password", password)]
                {
                    if let Some(secret) = secret {
                        secret.validate(field)?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn check_url(url: &str, schemes: &[&str], allowed_hosts: &[String]) -> Result<(), ConfigError> {
    if url.len() > MAX_URL_CHARS {
        return Err(invalid(format!(
            "target.url is longer than {MAX_URL_CHARS} characters"
        )));
    }
    let parsed = url::Url::parse(url)
        .map_err(|error| invalid(format!("target.url is not a URL: {error}")))?;
    if !schemes.contains(&parsed.scheme()) {
        return Err(invalid(format!(
            "target.url must use {}",
            schemes.join(" or ")
        )));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(
            "target.url must not hold credentials: name an environment variable instead",
        ));
    }
    let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
    if !allowed_hosts.is_empty()
        && !allowed_hosts
            .iter()
            .any(|allowed| host_matches(allowed, &host))
    {
        return Err(invalid(format!(
            "target.url's host `{host}` is not among the hosts destinations may reach (destination_hosts)"
        )));
    }
    Ok(())
}

/// Where a files destination writes.
#[derive(Debug, Clone, PartialEq)]
pub enum FileLocation {
    Directory(PathBuf),
    S3 { bucket: String, prefix: String },
}

impl FileLocation {
    pub fn parse(url: &str) -> Result<FileLocation, ConfigError> {
        if url.len() > MAX_URL_CHARS {
            return Err(invalid(format!(
                "target.url is longer than {MAX_URL_CHARS} characters"
            )));
        }
        let parsed = url::Url::parse(url)
            .map_err(|error| invalid(format!("target.url is not a URL: {error}")))?;
        match parsed.scheme() {
            "file" => {
                let path = parsed
                    .to_file_path()
                    .map_err(|()| invalid("target.url must be file:///an/absolute/directory"))?;
                if path
                    .components()
                    .any(|part| part == std::path::Component::ParentDir)
                {
                    return Err(invalid("target.url must not contain `..`"));
                }
                Ok(FileLocation::Directory(path))
            }
            "s3" => {
                let bucket = parsed.host_str().unwrap_or_default().to_string();
                let well_named = (3..=63).contains(&bucket.len())
                    && bucket.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'
                    });
                if !well_named {
                    return Err(invalid(
                        "target.url must be s3://bucket/prefix with a valid bucket name",
                    ));
                }
                let prefix = parsed.path().trim_matches('/').to_string();
                if prefix.split('/').any(|part| part == "..") {
                    return Err(invalid("target.url must not contain `..`"));
                }
                Ok(FileLocation::S3 { bucket, prefix })
            }
            _ => Err(invalid("target.url must use file or s3")),
        }
    }
}

/// `crm.example.com` matches itself; `*.example.com` matches its subdomains.
fn host_matches(allowed: &str, host: &str) -> bool {
    let allowed = allowed.to_ascii_lowercase();
    match allowed.strip_prefix("*.") {
        Some(domain) => host.ends_with(&format!(".{domain}")),
        None => allowed == host,
    }
}

/// A publishable NATS subject: dot-separated tokens, no wildcards or whitespace.
fn check_subject(subject: &str) -> Result<(), ConfigError> {
    let well_formed = !subject.is_empty()
        && subject.len() <= MAX_SUBJECT_CHARS
        && subject.split('.').all(|token| {
            !token.is_empty()
                && token
                    .chars()
                    .all(|c| !c.is_whitespace() && !c.is_control() && c != '*' && c != '>')
        });
    if well_formed {
        Ok(())
    } else {
        Err(invalid(format!(
            "target.subject must be dot-separated tokens without wildcards or spaces, at most {MAX_SUBJECT_CHARS} characters"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn purposes() -> Vec<String> {
        ["analytics", "marketing"].map(String::from).to_vec()
    }

    fn spec(value: serde_json::Value) -> DestinationSpec {
        serde_json::from_value(value).expect("spec parses")
    }

    fn webhook() -> serde_json::Value {
        json!({"name": "CRM", "purpose": "marketing",
               "target": {"type": "webhook", "url": "https://crm.example.com/hook"}})
    }

    #[test]
    fn a_plain_webhook_is_valid_with_defaults() {
        let spec = spec(webhook());
        assert_eq!(spec.validate(&purposes(), &[]), Ok(()));
        assert_eq!(
            spec.validate(&purposes(), &["*.example.com".to_string()]),
            Ok(())
        );
        let refused = spec
            .validate(
                &purposes(),
                &["127.0.0.1".to_string(), "*.other.com".to_string()],
            )
            .expect_err("host not allowed");
        assert!(
            refused.0.contains("`crm.example.com` is not among"),
            "{refused}"
        );
        assert_eq!(spec.delivery.batch_size, 1);
        assert!(spec.enabled);
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            (json!({"purpose": "ads"}), "unknown purpose `ads`"),
            (json!({"name": " "}), "name must be"),
            (
                json!({"target": {"type": "webhook", "url": "ftp://x"}}),
                "must use http or https",
            ),
            (
                json!({"target": {"type": "webhook", "url": "https://u:p@x.example"}}),
                "must not hold credentials",
            ),
            (
                json!({"target": {"type": "webhook", "url": "https://x.example",
                                  "signing_secret": {"env": "lower"}}}),
                "signing_secret.env",
            ),
            (
                json!({"target": {"type": "nats", "url": "nats://127.0.0.1:4222", "subject": "a.*"}}),
                "target.subject",
            ),
            (
                json!({"target": {"type": "webhook", "url": "https://x.example",
                                  "bearer_token": {"file": "relative/path"}}}),
                "absolute path",
            ),
            (
                json!({"target": {"type": "webhook", "url": "https://x.example",
                                  "bearer_token": {}}}),
                "exactly one",
            ),
            (json!({"delivery": {"batch_size": 0}}), "batch_size"),
            (json!({"delivery": {"max_attempts": 1000}}), "max_attempts"),
            (
                json!({"delivery": {"initial_backoff_ms": 10, "max_backoff_ms": 5}}),
                "backoff",
            ),
        ];
        for (change, expected) in cases {
            let mut value = webhook();
            for (key, field) in change.as_object().expect("object") {
                value[key] = field.clone();
            }
            let error = spec(value).validate(&purposes(), &[]).expect_err("invalid");
            assert!(error.0.contains(expected), "{error} lacks {expected}");
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let mut value = webhook();
        value["colour"] = json!("red");
        assert!(serde_json::from_value::<DestinationSpec>(value).is_err());
    }

    #[test]
    fn the_filter_admits_by_source_type_name_and_bot_flag() {
        let filter = Filter {
            sources: vec!["web".into()],
            types: vec![EventType::Track],
            events: vec!["Order Completed".into()],
            include_bots: false,
            audiences: Vec::new(),
            conditions: Vec::new(),
        };
        let order = Event {
            source_id: "web".into(),
            event_type: EventType::Track,
            event: Some("Order Completed".into()),
            ..Event::default()
        };
        assert!(filter.admits(&order));
        assert!(!filter.admits(&Event {
            is_bot: true,
            ..order.clone()
        }));
        assert!(!filter.admits(&Event {
            source_id: "app".into(),
            ..order.clone()
        }));
        assert!(!filter.admits(&Event {
            event: Some("Page Viewed".into()),
            ..order.clone()
        }));
        assert!(Filter::default().admits(&Event {
            event_type: EventType::Identify,
            ..order
        }));
    }
}
