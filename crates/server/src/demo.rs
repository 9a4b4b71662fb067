//! Loading the demo data set through the ingestion path, and `POST /v1/demo` (admin).

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use silta_collect::{Endpoint, RequestMeta, parse_request};
use silta_demo::{DEMO_SOURCES, DemoOptions, DemoSummary, MediaMixTruth, SpendRow};
use silta_state::{Actor, Permission, Source};

use crate::spend::{SpendRecord, spend_batch};
use crate::{ApiError, AppState, auth};

/// Largest demo that may be requested over HTTP.
const MAX_DEMO_EVENTS: u64 = 100_000_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoRequest {
    #[serde(default = "default_events")]
    pub events: u64,
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Last day of demo data; yesterday (UTC) when absent.
    #[serde(default)]
    pub end_date: Option<NaiveDate>,
}

fn default_events() -> u64 {
    1_000_000
}

fn default_seed() -> u64 {
    42
}

impl Default for DemoRequest {
    fn default() -> Self {
        DemoRequest {
            events: default_events(),
            seed: default_seed(),
            end_date: None,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct DemoReport {
    pub summary: DemoSummary,
    pub accepted: usize,
    pub rejected: usize,
    pub spend_rows: usize,
    /// Sources created by this load, with their write keys (shown once).
    pub new_sources: Vec<silta_state::NewSecret<Source>>,
    pub truth_file: String,
}

/// Finds the demo sources by name, creating the missing ones.
fn demo_sources(
    state: &AppState,
    actor: &Actor,
) -> Result<(Vec<Source>, Vec<silta_state::NewSecret<Source>>), ApiError> {
    let existing = state.credentials.sources()?;
    let mut sources = Vec::with_capacity(DEMO_SOURCES.len());
    let mut created = Vec::new();
    for demo_source in DEMO_SOURCES {
        let found = existing.iter().find(|source| {
            source.name == demo_source.name && source.channel == demo_source.channel
        });
        match found {
            Some(source) => sources.push(source.clone()),
            None => {
                let new_source =
                    state
                        .credentials
                        .add_source(demo_source.name, demo_source.channel, actor)?;
                sources.push(new_source.owner.clone());
                created.push(new_source);
            }
        }
    }
    Ok((sources, created))
}

/// Generates the demo and sends every batch through normalisation and the WAL, exactly as an
/// HTTP request would go; writes the `spend` table and the media-mix ground truth file.
/// `actor` is recorded in the audit log as the creator of missing demo sources.
pub async fn load_demo(
    state: &AppState,
    request: &DemoRequest,
    actor: &Actor,
) -> Result<DemoReport, ApiError> {
    let end_date = request
        .end_date
        .unwrap_or_else(|| Utc::now().date_naive() - chrono::Duration::days(1));
    let options = DemoOptions::new(request.events, request.seed, end_date);
    let (sources, new_sources) = demo_sources(state, actor)?;
    let (batches_sender, mut batches) = tokio::sync::mpsc::channel(64);
    let generator_options = options.clone();
    let generator = tokio::task::spawn_blocking(move || {
        silta_demo::generate_events(&generator_options, |batch| {
            batches_sender.blocking_send(batch)
        })
    });
    let mut accepted = 0usize;
    let mut rejected = 0usize;
    while let Some(batch) = batches.recv().await {
        let source = &sources[batch.source_index];
        let meta = RequestMeta {
            received_at: Utc::now(),
            source_id: source.id.clone(),
            channel: source.channel,
            peer_ip: None,
            user_agent: None,
        };
        let parsed = parse_request(
            &batch.body,
            Endpoint::Batch,
            &state.ingestor.normaliser.limits,
        )?;
        let outcome = state.ingestor.ingest(&parsed, &meta, source, false).await?;
        accepted += outcome.accepted;
        rejected += outcome.rejected.len();
    }
    let summary = generator
        .await
        .map_err(ApiError::internal)?
        .map_err(|_| ApiError::internal("demo loading stopped"))?;
    let (spend, truth) = silta_demo::generate_media_mix(&options);
    state
        .store
        .overwrite_reference_table("spend", vec![spend_batch(&spend_records(&spend))?])
        .await?;
    let truth_file = write_truth(state, &truth)?;
    Ok(DemoReport {
        summary,
        accepted,
        rejected,
        spend_rows: spend.len(),
        new_sources,
        truth_file,
    })
}

fn spend_records(rows: &[SpendRow]) -> Vec<SpendRecord> {
    rows.iter()
        .map(|row| SpendRecord {
            date: row.date,
            channel: row.channel.clone(),
            campaign: None,
            spend: row.spend,
            impressions: Some(row.impressions),
            clicks: Some(row.clicks),
        })
        .collect()
}

fn write_truth(state: &AppState, truth: &MediaMixTruth) -> Result<String, ApiError> {
    let directory = state.data_dir.join("demo");
    std::fs::create_dir_all(&directory).map_err(ApiError::internal)?;
    let path = directory.join("media_mix_truth.json");
    let text = serde_json::to_string_pretty(truth).map_err(ApiError::internal)?;
    std::fs::write(&path, text).map_err(ApiError::internal)?;
    Ok(path.display().to_string())
}

/// `POST /v1/demo`: loads the demo data set into this server (admin).
pub async fn load(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Result<Json<DemoRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<DemoReport>, ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::Administer)?;
    let Json(request) = request?;
    if request.events > MAX_DEMO_EVENTS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("at most {MAX_DEMO_EVENTS} demo events"),
        ));
    }
    Ok(Json(load_demo(&state, &request, &actor).await?))
}
