//! Sending prepared messages to a destination's system, and sorting its answer into success,
//! a failure worth retrying, or a permanent refusal.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::config::{DeliveryPolicy, SecretRef, Target};
use crate::email::EmailSender;
use crate::files::{FileSink, S3Settings};
use crate::retry::retry_after;
use crate::signature::{SIGNATURE_HEADER, sign};

/// What a receiver answered; the body is cut to [`MAX_ANSWER_CHARS`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct Attempt {
    pub status: Option<u16>,
    pub answer: String,
    pub elapsed_ms: f64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Failure {
    pub reason: String,
    pub retryable: bool,
    #[serde(skip)]
    pub retry_after: Option<Duration>,
    pub status: Option<u16>,
}

impl Failure {
    fn retryable(reason: String) -> Failure {
        Failure {
            reason,
            retryable: true,
            retry_after: None,
            status: None,
        }
    }
}

const MAX_ANSWER_CHARS: usize = 1024;
/// The longest `Retry-After` honoured; longer ones are cut to it.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// One message ready to send: its idempotency key and its JSON.
pub type Message = (String, Value);

pub enum Sender {
    Webhook {
        client: reqwest::Client,
        url: String,
        signing_secret: Option<SecretRef>,
        bearer_token: Option<SecretRef>,
    },
    Nats {
        url: String,
        subject: String,
        token: Option<SecretRef>,
        jetstream: bool,
        timeout: Duration,
        /// Connected on first use and kept; the client reconnects by itself.
        client: tokio::sync::Mutex<Option<async_nats::Client>>,
    },
    Files {
        sink: FileSink,
        timeout: Duration,
    },
    Email(EmailSender),
}

impl Sender {
    pub fn new(target: &Target, policy: &DeliveryPolicy) -> Result<Sender, String> {
        Ok(match target {
            Target::Webhook {
                url,
                signing_secret,
                bearer_token,
            } => Sender::Webhook {
                client: reqwest::Client::builder()
                    .timeout(policy.timeout())
                    .user_agent(concat!("Silta/", env!("CARGO_PKG_VERSION")))
                    // A webhook that redirects elsewhere is a configuration to fix, not follow.
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(|error| format!("http client: {error}"))?,
                url: url.clone(),
                signing_secret: signing_secret.clone(),
                bearer_token: bearer_token.clone(),
            },
            Target::Nats {
                url,
                subject,
                token,
                jetstream,
            } => Sender::Nats {
                url: url.clone(),
                subject: subject.clone(),
                token: token.clone(),
                jetstream: *jetstream,
                timeout: policy.timeout(),
                client: tokio::sync::Mutex::new(None),
            },
            Target::Files {
                url,
                format,
                endpoint,
                region,
                access_key_id,
                secret_access_key,
            } => Sender::Files {
                sink: FileSink::new(
                    url,
                    *format,
                    &S3Settings {
                        endpoint: endpoint.as_deref(),
                        region: region.as_deref(),
                        access_key_id: access_key_id.as_ref(),
                        secret_access_key: secret_access_key.as_ref(),
                    },
                )?,
                timeout: policy.timeout(),
            },
            Target::Email {
                url,
                from,
                template,
                username,
                password,
            } => Sender::Email(EmailSender {
                url: url.clone(),
                from: from.clone(),
                template: template.clone(),
                username: username.clone(),
                password: password.clone(),
                timeout: policy.timeout(),
            }),
        })
    }

    /// Sends `messages` as one delivery: one request for a webhook, one message each on NATS,
    /// one file for files, one email each for email.
    pub async fn send(&self, messages: &[Message]) -> Result<Attempt, Failure> {
        let started = Instant::now();
        let (status, answer) = match self {
            Sender::Webhook {
                client,
                url,
                signing_secret,
                bearer_token,
            } => {
                let outcome = post(
                    client,
                    url,
                    signing_secret.as_ref(),
                    bearer_token.as_ref(),
                    messages,
                )
                .await?;
                (Some(outcome.0), outcome.1)
            }
            Sender::Nats {
                url,
                subject,
                token,
                jetstream,
                timeout,
                client,
            } => {
                let mut connected = client.lock().await;
                let client = connect(&mut connected, url, token.as_ref(), *timeout).await?;
                let answer = if *jetstream {
                    publish_to_stream(client, *timeout, subject, messages).await?
                } else {
                    publish(client, *timeout, subject, messages).await?;
                    format!("published {} on {subject}", messages.len())
                };
                (None, answer)
            }
            Sender::Files { sink, timeout } => {
                let key = batch_key(messages);
                let writing = sink.write(&key, messages, Utc::now());
                let path = tokio::time::timeout(*timeout, writing)
                    .await
                    .map_err(|_| Failure::retryable("files: writing timed out".to_string()))?
                    .map_err(Failure::retryable)?;
                (None, format!("wrote {} to {path}", messages.len()))
            }
            Sender::Email(sender) => (None, sender.send(messages).await?),
        };
        Ok(Attempt {
            status,
            answer,
            elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }
}

/// A batch's idempotency key: the same events give the same key on every retry.
fn batch_key(messages: &[Message]) -> String {
    if let [(key, _)] = messages {
        return key.clone();
    }
    let mut digest = Sha256::new();
    for (key, _) in messages {
        digest.update(key.as_bytes());
        digest.update(b"\n");
    }
    format!("batch-{}", hex::encode(&digest.finalize()[..16]))
}

fn cut(text: &str) -> String {
    text.chars().take(MAX_ANSWER_CHARS).collect()
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    signing_secret: Option<&SecretRef>,
    bearer_token: Option<&SecretRef>,
    messages: &[Message],
) -> Result<(u16, String), Failure> {
    let body = match messages {
        [(_, message)] => message.clone(),
        _ => json!({"batch": messages.iter().map(|(_, message)| message).collect::<Vec<_>>()}),
    };
    let body = serde_json::to_vec(&body).map_err(|error| Failure::retryable(error.to_string()))?;
    let mut request = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("Idempotency-Key", batch_key(messages));
    if let Some(secret) = signing_secret {
        let secret = secret.read().map_err(Failure::retryable)?;
        request = request.header(
            SIGNATURE_HEADER,
            sign(&secret, Utc::now().timestamp(), &body),
        );
    }
    if let Some(token) = bearer_token {
        request = request.bearer_auth(token.read().map_err(Failure::retryable)?);
    }
    let response = request
        .body(body)
        .send()
        .await
        // Connection refused, reset, timed out: the receiver may be back soon.
        .map_err(|error| Failure::retryable(format!("http: {}", without_url(&error))))?;
    let status = response.status();
    let wait = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| retry_after(value, Utc::now(), MAX_RETRY_AFTER));
    let answer = cut(&response.text().await.unwrap_or_default());
    if status.is_success() {
        return Ok((status.as_u16(), answer));
    }
    let code = status.as_u16();
    Err(Failure {
        reason: format!("http {code}: {answer}"),
        // Timeouts, too early, too many requests and server errors pass; other refusals
        // would be refused again.
        retryable: matches!(code, 408 | 425 | 429) || status.is_server_error(),
        retry_after: wait,
        status: Some(code),
    })
}

/// reqwest's errors name the URL, which may carry a token in its query.
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "the webhook");
    }
    if let Some(source) = std::error::Error::source(error) {
        text = format!("{text}: {source}");
    }
    text
}

/// The kept client, connecting on first use.
async fn connect<'c>(
    connected: &'c mut Option<async_nats::Client>,
    url: &str,
    token: Option<&SecretRef>,
    timeout: Duration,
) -> Result<&'c async_nats::Client, Failure> {
    if connected.is_none() {
        let mut options = async_nats::ConnectOptions::new()
            .connection_timeout(timeout)
            .name("silta");
        if let Some(token) = token {
            options = options.token(token.read().map_err(Failure::retryable)?);
        }
        let client = tokio::time::timeout(timeout, options.connect(url))
            .await
            .map_err(|_| Failure::retryable("nats: connecting timed out".to_string()))?
            .map_err(|error| Failure::retryable(format!("nats: {error}")))?;
        *connected = Some(client);
    }
    connected
        .as_ref()
        .ok_or_else(|| Failure::retryable("nats: not connected".to_string()))
}

/// A message's headers: JetStream streams on the subject drop duplicates by `Nats-Msg-Id`.
fn nats_message(key: &str, message: &serde_json::Value) -> (async_nats::HeaderMap, Vec<u8>) {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", key);
    (headers, serde_json::to_vec(message).unwrap_or_default())
}

async fn publish(
    client: &async_nats::Client,
    timeout: Duration,
    subject: &str,
    messages: &[Message],
) -> Result<(), Failure> {
    let sending = async {
        for (key, message) in messages {
            let (headers, payload) = nats_message(key, message);
            client
                .publish_with_headers(subject.to_string(), headers, payload.into())
                .await
                .map_err(|error| Failure::retryable(format!("nats: {error}")))?;
        }
        // The server has the messages once the flush round trip returns.
        client
            .flush()
            .await
            .map_err(|error| Failure::retryable(format!("nats: {error}")))
    };
    tokio::time::timeout(timeout, sending)
        .await
        .map_err(|_| Failure::retryable("nats: publishing timed out".to_string()))?
}

/// Publishes to the stream bound to `subject`, all messages first and then every
/// acknowledgement; a message without one (no stream, a full stream, a timeout) fails the batch.
async fn publish_to_stream(
    client: &async_nats::Client,
    timeout: Duration,
    subject: &str,
    messages: &[Message],
) -> Result<String, Failure> {
    let stream = async_nats::jetstream::new(client.clone());
    let failed = |error: &dyn std::fmt::Display| Failure::retryable(format!("jetstream: {error}"));
    let sending = async {
        let mut pending = Vec::with_capacity(messages.len());
        for (key, message) in messages {
            let (headers, payload) = nats_message(key, message);
            let ack = stream
                .publish_with_headers(subject.to_string(), headers, payload.into())
                .await
                .map_err(|error| failed(&error))?;
            pending.push(ack);
        }
        let mut duplicates = 0;
        for ack in pending {
            duplicates += usize::from(ack.await.map_err(|error| failed(&error))?.duplicate);
        }
        Ok(format!(
            "stored {} on {subject} ({duplicates} already there)",
            messages.len()
        ))
    };
    tokio::time::timeout(timeout, sending)
        .await
        .map_err(|_| Failure::retryable("jetstream: publishing timed out".to_string()))?
}
