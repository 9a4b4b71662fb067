//! The ingestion endpoints: `/v1/{track,identify,page,screen,group,alias,batch,import}`, the
//! analytics.js short paths, and the settings analytics.js loads.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use chrono::Utc;
use serde::Serialize;
use serde_json::json;
use silta_collect::{
    BotDetector, CollectError, Endpoint, Normaliser, ParsedRequest, Pseudonymiser, RequestMeta,
    WriteKeySources, anonymise, collect_events, decode_body, enforce_consent, extract_write_key,
    parse_request,
};
use silta_identity::{IdentityConfig, identifier_keys};
use silta_model::{BotPolicy, ConsentConfig, Event, Ingested, Rejected};
use silta_state::{Source, StateStore, Suppression};
use silta_wal::Wal;

use crate::config::SuppressionMode;
use crate::contracts::{Contracts, Enforced};
use crate::{ApiError, AppState};

/// Collection up to durability: normalise, quarantine what is invalid, append to the WAL and
/// wait for the fsync. Shared by the HTTP endpoints and the demo loader.
#[derive(Clone)]
pub struct Ingestor {
    pub normaliser: Normaliser,
    pub wal: Wal<Ingested>,
    /// Purposes, for sources that drop or anonymise events without analytics consent.
    pub consent: ConsentConfig,
    /// How events name people, to recognise erased ones.
    pub identity: Arc<IdentityConfig>,
    /// Identifiers of erased people, and what happens to their new events.
    pub suppression: Arc<RwLock<Suppression>>,
    pub suppression_mode: SuppressionMode,
    pub bots: Arc<BotDetector>,
    /// Replaces configured fields by keyed hashes before anything is stored.
    pub pseudonymiser: Option<Arc<Pseudonymiser>>,
    /// The approved tracking plans sources keep to.
    pub contracts: Arc<Contracts>,
}

/// What the client is told about an accepted request.
#[derive(Debug, Serialize)]
pub struct IngestOutcome {
    pub success: bool,
    pub accepted: usize,
    pub rejected: Vec<RejectedEvent>,
    /// Valid events not stored: the source drops bots' events or events without analytics
    /// consent, or they name an erased person.
    #[serde(skip_serializing_if = "is_zero")]
    pub withheld: usize,
    /// Events kept in quarantine because they break the source's tracking plan.
    #[serde(skip_serializing_if = "is_zero")]
    pub blocked: usize,
}

/// What a source's policies leave of valid events.
pub struct Admitted {
    /// Events to store.
    pub events: Vec<Event>,
    /// Dropped by the bot, consent or suppression policies.
    pub withheld: usize,
    /// What the source's tracking plan decided.
    pub contract: Enforced,
}

fn is_zero(count: &usize) -> bool {
    *count == 0
}

#[derive(Debug, Serialize)]
pub struct RejectedEvent {
    pub index: usize,
    #[serde(rename = "messageId", skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    pub reason: String,
}

fn unavailable(error: silta_wal::WalError) -> ApiError {
    tracing::error!(%error, "events could not be made durable");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "not_durable",
        "events could not be made durable; retry later",
    )
}

fn encode(record: Ingested) -> Result<(Vec<u8>, Ingested), ApiError> {
    let payload = serde_json::to_vec(&record).map_err(ApiError::internal)?;
    Ok((payload, record))
}

impl Ingestor {
    /// Makes a parsed request's events durable; invalid ones go to quarantine, and the
    /// source's policies apply to the valid ones (see [`Ingestor::admit`]).
    pub async fn ingest(
        &self,
        request: &ParsedRequest<'_>,
        meta: &RequestMeta,
        source: &Source,
        live: bool,
    ) -> Result<IngestOutcome, ApiError> {
        let mut collected = collect_events(request, meta, &self.normaliser);
        if let Some(pseudonymiser) = &self.pseudonymiser {
            collected
                .accepted
                .iter_mut()
                .for_each(|event| pseudonymiser.apply(event));
            for refused in &mut collected.rejected {
                pseudonymiser.apply_to_payload(&mut refused.rejected.payload);
            }
        }
        let admitted = self.admit(collected.accepted, meta.peer_ip, source, live);
        let accepted = admitted.events.len();
        let blocked = admitted.contract.blocked.len();
        let mut records = self.records(admitted.events, admitted.contract)?;
        let mut rejected = Vec::with_capacity(collected.rejected.len());
        for refused in collected.rejected {
            rejected.push(RejectedEvent {
                index: refused.index,
                message_id: refused.rejected.message_id.clone(),
                reason: refused.rejected.reason.clone(),
            });
            records.push(encode(Ingested::Rejected(refused.rejected))?);
        }
        self.append(records).await?;
        Ok(IngestOutcome {
            success: true,
            accepted,
            rejected,
            withheld: admitted.withheld,
            blocked,
        })
    }

    /// Applies the source's policies to valid events: bots are flagged (by request rates too
    /// when the traffic is `live`), then the bot, consent and suppression policies and the
    /// tracking plan decide what is stored. A replayed event goes through here again.
    pub fn admit(
        &self,
        mut events: Vec<Event>,
        peer_ip: Option<std::net::IpAddr>,
        source: &Source,
        live: bool,
    ) -> Admitted {
        self.bots.flag(&mut events, peer_ip, source.channel, live);
        let before = events.len();
        if source.bot_policy == BotPolicy::Drop {
            events.retain(|event| !event.is_bot);
        }
        let withheld = before - events.len()
            + enforce_consent(&mut events, source.consent_policy, &self.consent)
            + self.enforce_suppression(&mut events);
        let contract = self.contracts.enforce(source, &mut events);
        Admitted {
            events,
            withheld,
            contract,
        }
    }

    /// WAL records for admitted events, the blocked ones and every event's violations.
    pub fn records(
        &self,
        events: Vec<Event>,
        contract: Enforced,
    ) -> Result<Vec<(Vec<u8>, Ingested)>, ApiError> {
        let mut records =
            Vec::with_capacity(events.len() + contract.blocked.len() + contract.reports.len());
        for event in events {
            records.push(encode(Ingested::Event(Box::new(event)))?);
        }
        for blocked in contract.blocked {
            records.push(encode(Ingested::Rejected(blocked))?);
        }
        for report in contract.reports {
            records.push(encode(Ingested::Violations(report))?);
        }
        Ok(records)
    }

    /// Appends records to the WAL and waits until they are durable.
    pub async fn append(&self, records: Vec<(Vec<u8>, Ingested)>) -> Result<(), ApiError> {
        if records.is_empty() {
            return Ok(());
        }
        self.wal.append(records).await.map_err(unavailable)
    }

    /// Refuses or anonymises the events that name an erased person; returns how many were
    /// refused.
    fn enforce_suppression(&self, events: &mut Vec<Event>) -> usize {
        let suppression = self
            .suppression
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if suppression.is_empty() {
            return 0;
        }
        let before = events.len();
        events.retain_mut(|event| {
            let erased = identifier_keys(event, &self.identity).iter().any(|key| {
                key.split_once(':')
                    .is_some_and(|(kind, value)| suppression.contains(kind, value))
            });
            match (erased, self.suppression_mode) {
                (false, _) => true,
                (true, SuppressionMode::Refuse) => false,
                (true, SuppressionMode::Anonymise) => {
                    anonymise(event);
                    true
                }
            }
        });
        before - events.len()
    }

    /// Reads the suppression list again after it changed.
    pub fn reload_suppression(&self, state: &StateStore) -> Result<(), ApiError> {
        let reloaded = state.suppression()?;
        *self
            .suppression
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = reloaded;
        Ok(())
    }

    /// Makes an event Silta records itself (consent set by API, an experiment exposure)
    /// durable, exactly as a collected one.
    pub async fn record(&self, event: Event) -> Result<(), ApiError> {
        self.append(vec![encode(Ingested::Event(Box::new(event)))?])
            .await
    }

    /// Keeps a body that could not be parsed at all, so that nothing is dropped silently.
    pub async fn quarantine_body(
        &self,
        body: &[u8],
        meta: &RequestMeta,
        reason: String,
    ) -> Result<(), ApiError> {
        let rejected = Rejected {
            received_at: meta.received_at,
            source_id: meta.source_id.clone(),
            message_id: None,
            reason,
            payload: String::from_utf8_lossy(body).into_owned(),
            violations: Vec::new(),
        };
        self.append(vec![encode(Ingested::Rejected(rejected))?])
            .await
    }
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn resolve_source(state: &AppState, write_key: Option<String>) -> Result<Source, ApiError> {
    let write_key = write_key.ok_or_else(|| ApiError::from(CollectError::MissingWriteKey))?;
    state
        .credentials
        .source_for_write_key(&write_key)?
        .ok_or_else(|| ApiError::unauthorized("unknown write key"))
}

/// Takes `events` from the rate limits of the client address and of the source, or says when
/// to retry.
fn admit(
    state: &AppState,
    peer: std::net::IpAddr,
    source: &Source,
    events: usize,
) -> Result<(), ApiError> {
    let refuse = |what: String, wait_seconds: u64| {
        let mut error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("{what} is over its rate limit; retry in {wait_seconds} s"),
        );
        error.retry_after_seconds = Some(wait_seconds);
        error
    };
    state
        .ip_rate_limiter
        .admit(&peer.to_string(), events)
        .map_err(|wait| refuse("this client address".to_string(), wait))?;
    state
        .rate_limiter
        .admit(&source.id, events)
        .map_err(|wait| refuse(format!("source {}", source.id), wait))
}

/// `POST /v1/{kind}`: every Segment call type, long and short paths, batch and import.
pub async fn ingest(
    State(state): State<AppState>,
    Path(kind): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IngestOutcome>, ApiError> {
    let received_at = Utc::now();
    let endpoint = Endpoint::from_path_segment(&kind).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no endpoint /v1/{kind}"),
        )
    })?;
    let limits = state.ingestor.normaliser.limits;
    let raw_body: Bytes = axum::body::to_bytes(body, limits.max_body_bytes)
        .await
        .map_err(|_| {
            ApiError::from(CollectError::BodyTooLarge {
                limit: limits.max_body_bytes,
            })
        })?;
    let gzip_header = header_text(&headers, header::CONTENT_ENCODING.as_str())
        .is_some_and(|encoding| encoding.eq_ignore_ascii_case("gzip"));
    let key_sources = WriteKeySources {
        authorization_header: header_text(&headers, header::AUTHORIZATION.as_str()),
        write_key_header: header_text(&headers, "x-write-key"),
        query_parameter: query.get("writeKey").map(String::as_str),
        body_field: None,
    };
    let decoded = decode_body(&raw_body, gzip_header, &limits)?;
    let meta_for = |source: &Source| RequestMeta {
        received_at,
        source_id: source.id.clone(),
        channel: source.channel,
        peer_ip: Some(peer.ip()),
        user_agent: header_text(&headers, header::USER_AGENT.as_str()).map(str::to_string),
    };
    let parsed = match parse_request(&decoded, endpoint, &limits) {
        Ok(parsed) => parsed,
        Err(error) => {
            // With a key outside the body the sender is known: keep what it sent.
            if let Some(write_key) = extract_write_key(key_sources)
                && let Ok(source) = resolve_source(&state, Some(write_key))
            {
                admit(&state, peer.ip(), &source, 1)?;
                state
                    .ingestor
                    .quarantine_body(&decoded, &meta_for(&source), error.to_string())
                    .await?;
            }
            return Err(error.into());
        }
    };
    let write_key = extract_write_key(WriteKeySources {
        body_field: parsed.write_key.as_deref(),
        ..key_sources
    });
    let source = resolve_source(&state, write_key)?;
    admit(&state, peer.ip(), &source, parsed.events.len())?;
    // An import carries history, not live traffic.
    let live = kind != "import";
    let outcome = state
        .ingestor
        .ingest(&parsed, &meta_for(&source), &source, live)
        .await?;
    if let (Endpoint::Single(_), Some(rejected)) = (endpoint, outcome.rejected.first()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_event",
            rejected.reason.clone(),
        ));
    }
    Ok(Json(outcome))
}

/// `GET /v1/projects/{writeKey}/settings`: what analytics.js loads before it sends anything.
/// It points the Segment destination back at this server.
pub async fn settings(
    State(state): State<AppState>,
    Path(write_key): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    resolve_source(&state, Some(write_key.clone()))?;
    let (protocol, host) = match state
        .public_url
        .as_deref()
        .and_then(|url| url.split_once("://"))
    {
        Some((protocol, host)) => (protocol, host.trim_end_matches('/')),
        None => (
            "http",
            header_text(&headers, header::HOST.as_str()).unwrap_or("localhost"),
        ),
    };
    Ok(Json(json!({
        "integrations": {
            "Segment.io": {
                "apiKey": write_key,
                "apiHost": format!("{host}/v1"),
                "protocol": protocol,
                "unbundledIntegrations": [],
                "addBundledMetadata": true,
            }
        },
        "plan": {"track": {"__default": {"enabled": true, "integrations": {}}}, "identify": {"__default": {"enabled": true}}, "group": {"__default": {"enabled": true}}},
        "edgeFunction": {},
        "analyticsNextEnabled": true,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        "metrics": {"sampleRate": 0},
        "legacyVideoPluginsEnabled": false,
        "remotePlugins": []
    })))
}
