//! Destinations: the systems Silta feeds with what it collects (webhooks, NATS subjects,
//! CSV and Parquet files in a directory or S3-compatible storage, emails through SMTP). A
//! destination's configuration, the filter and mapping of what it receives, its durable queue
//! and dead-letter queue (`<data>/outbox.redb`), and the worker that delivers at least once
//! with retries, backoff and jitter.

mod conditions;
mod config;
mod deliver;
mod email;
mod files;
mod mapping;
mod outbox;
mod quiet;
mod retry;
mod segment;
mod signature;
mod stats;
mod worker;

pub use config::{
    ConfigError, DeliveryPolicy, Destination, DestinationSpec, EmailTemplate, FileFormat,
    FileLocation, Filter, FrequencyCap, QuietHours, SecretRef, Target,
};
pub use deliver::{Attempt, Failure, Message, Sender};
pub use mapping::{FieldRule, Mapping, Transform};
pub use outbox::{DeadLetter, Outbox, OutboxError, Queued};
pub use quiet::QuietWindow;
pub use retry::{backoff, retry_after};
pub use segment::segment_json;
pub use signature::{SIGNATURE_HEADER, sign};
pub use stats::{DestinationStats, Stats};
pub use worker::{Contact, People, Worker, message_for};
