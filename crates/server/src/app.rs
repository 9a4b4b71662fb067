use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{delete, get, patch, post, put};
use axum::{Json, Router};
use silta_identity::{Identity, IdentityGraph, LookupError, Profile};
use silta_state::StateStore;
use silta_store::{EventStore, QueryLimits};
use tower_http::cors::CorsLayer;

use crate::config::Retention;
use crate::contracts::{plans, quarantine, violations};
use crate::rate_limit::RateLimiter;
use crate::{
    Config, Ingestor, admin, analytics, audiences, bots, consent, console, demo, destinations,
    experiment_results, experiments, ingest, media_mix, profiles, query, retention, spend,
    subjects,
};

/// Everything a request handler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub credentials: Arc<StateStore>,
    pub store: Arc<EventStore>,
    pub ingestor: Ingestor,
    pub rate_limiter: Arc<RateLimiter>,
    pub ip_rate_limiter: Arc<RateLimiter>,
    pub query_limits: QueryLimits,
    pub data_dir: std::path::PathBuf,
    pub identity: Arc<Identity>,
    /// Where browsers reach Silta (`https://cdp.example.com`), for analytics.js settings.
    pub public_url: Option<String>,
    pub retention: Retention,
    pub media_mix: Arc<media_mix::Models>,
    pub destinations: Arc<destinations::Destinations>,
    pub destination_hosts: Arc<Vec<String>>,
    /// The configuration the server runs with, secrets left out ([`Config::auditable`]).
    pub configuration: Arc<serde_json::Value>,
}

impl AppState {
    pub fn new(
        credentials: Arc<StateStore>,
        store: Arc<EventStore>,
        ingestor: Ingestor,
        query_limits: QueryLimits,
        identity: Arc<Identity>,
        destinations: Arc<destinations::Destinations>,
        config: &Config,
    ) -> AppState {
        AppState {
            credentials,
            store,
            ingestor,
            rate_limiter: Arc::new(RateLimiter::new(config.rate_limit_events_per_second)),
            ip_rate_limiter: Arc::new(RateLimiter::new(config.rate_limit_events_per_second_per_ip)),
            query_limits,
            data_dir: config.data.clone(),
            identity,
            public_url: config.public_url.clone(),
            retention: config.retention.clone(),
            media_mix: Arc::new(media_mix::Models::open(&config.data)),
            destinations,
            destination_hosts: Arc::new(config.destination_hosts.clone()),
            configuration: Arc::new(config.auditable()),
        }
    }
}

impl AppState {
    /// The profile holding `kind:value`, or with `profile_id` the profile of that id (or the
    /// one it was merged into). Where fields are pseudonymised at collection, the graph holds
    /// pseudonyms: a clear value is looked up as its pseudonym too.
    pub fn lookup<'g>(
        &self,
        graph: &'g IdentityGraph,
        kind: &str,
        value: &str,
    ) -> Result<Option<&'g Profile>, LookupError> {
        if kind == PROFILE_ID {
            return Ok(graph.profile(value));
        }
        Ok(self
            .resolve(graph, kind, value)?
            .map(|(_, profile)| profile))
    }

    /// [`AppState::lookup`], with the value as the graph holds it (the value or its pseudonym).
    pub fn resolve<'g>(
        &self,
        graph: &'g IdentityGraph,
        kind: &str,
        value: &str,
    ) -> Result<Option<(String, &'g Profile)>, LookupError> {
        if let Some(profile) = graph.lookup(kind, value)? {
            return Ok(Some((value.to_string(), profile)));
        }
        let Some(pseudonymiser) = &self.ingestor.pseudonymiser else {
            return Ok(None);
        };
        let pseudonym = pseudonymiser.pseudonym(value);
        Ok(graph
            .lookup(kind, &pseudonym)?
            .map(|profile| (pseudonym, profile)))
    }
}

/// Looks a profile up by its own id rather than by one of its identifiers.
const PROFILE_ID: &str = "profile_id";

const OPENAPI: &str = include_str!("../openapi.json");

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    let stats = state.store.stats();
    Json(serde_json::json!({"status": "ok", "buffered_rows": stats.buffered_rows}))
}

/// The whole HTTP API. Browsers may call the ingestion routes from any origin; every other route
/// needs an API token and is not open to cross-origin calls.
pub fn app(state: AppState) -> Router {
    let collection = Router::new()
        .route("/v1/projects/{write_key}/settings", get(ingest::settings))
        .route("/v1/{kind}", post(ingest::ingest))
        .layer(CorsLayer::very_permissive());
    Router::new()
        .route("/health", get(health))
        .route("/", get(console::home))
        .route("/console", get(console::home))
        .route("/console/", get(console::index))
        .route("/console/{*path}", get(console::file))
        .route("/v1/session", get(console::session::show))
        .route("/v1/overview", get(console::overview::show))
        .route("/v1/debugger/events", get(console::debugger::latest))
        .route("/openapi.json", get(openapi))
        .route("/v1/query", post(query::query))
        .route("/v1/bots", get(bots::report))
        .route("/v1/analytics/funnel", post(analytics::funnel::handle))
        .route(
            "/v1/analytics/retention",
            post(analytics::retention::handle),
        )
        .route("/v1/analytics/web", get(analytics::web::handle))
        .route(
            "/v1/analytics/attribution",
            post(analytics::attribution::handle),
        )
        .route(
            "/v1/spend",
            put(spend::put).layer(DefaultBodyLimit::max(spend::MAX_SPEND_BYTES)),
        )
        .route("/v1/audiences", get(audiences::list))
        .route("/v1/audiences/preview", post(audiences::preview))
        .route(
            "/v1/audiences/{key}",
            get(audiences::get)
                .put(audiences::put)
                .delete(audiences::delete),
        )
        .route("/v1/audiences/{key}/refresh", post(audiences::refresh))
        .route("/v1/audiences/{key}/members", get(audiences::export))
        .route("/v1/audiences/{key}/changes", get(audiences::changes))
        .route(
            "/v1/sources",
            get(admin::list_sources).post(admin::add_source),
        )
        .route("/v1/sources/{id}", patch(admin::update_source))
        .route(
            "/v1/sources/{id}/contract",
            put(plans::put_contract).delete(plans::delete_contract),
        )
        .route("/v1/plans", get(plans::list))
        .route("/v1/plans/draft", get(plans::get_draft))
        .route("/v1/plans/{key}", get(plans::get).delete(plans::remove))
        .route(
            "/v1/plans/{key}/versions",
            post(plans::put_version).layer(DefaultBodyLimit::max(silta_contracts::MAX_PLAN_BYTES)),
        )
        .route(
            "/v1/plans/{key}/versions/{version}",
            get(plans::get_version),
        )
        .route(
            "/v1/plans/{key}/versions/{version}/{verdict}",
            post(plans::review_route),
        )
        .route("/v1/plans/{key}/diff", get(plans::get_diff))
        .route("/v1/violations", get(violations::list))
        .route("/v1/quarantine", get(quarantine::list))
        .route("/v1/quarantine/replay", post(quarantine::replay_route))
        .route("/v1/quarantine/{record}", get(quarantine::show))
        .route(
            "/v1/sources/{id}/write-keys",
            get(admin::list_write_keys).post(admin::add_write_key),
        )
        .route(
            "/v1/sources/{id}/write-keys/{key_id}",
            delete(admin::revoke_write_key),
        )
        .route("/v1/tokens", get(admin::list_tokens).post(admin::add_token))
        .route("/v1/tokens/{id}", delete(admin::revoke_token))
        .route("/v1/tokens/{id}/rotate", post(admin::rotate_token))
        .route("/v1/audit", get(admin::audit))
        .route("/v1/configuration", get(admin::configuration))
        .route("/v1/retention/apply", post(retention::apply))
        .route("/v1/experiments", get(experiments::list))
        .route(
            "/v1/experiments/{key}",
            get(experiments::get)
                .put(experiments::put)
                .delete(experiments::delete),
        )
        .route(
            "/v1/experiments/{key}/assignment",
            get(experiments::assignment),
        )
        .route(
            "/v1/experiments/{key}/assignments",
            post(experiments::assignments),
        )
        .route(
            "/v1/experiments/{key}/analysis",
            post(experiments::analysis),
        )
        .route(
            "/v1/experiments/{key}/results",
            get(experiment_results::results),
        )
        .route("/v1/subjects/requests", get(subjects::list_requests))
        .route("/v1/subjects/requests/{id}", get(subjects::get_request))
        .route("/v1/subjects/{kind}/{value}", get(subjects::export))
        .route(
            "/v1/subjects/{kind}/{value}/erase",
            post(subjects::request_erasure),
        )
        .route(
            "/v1/media-mix/models",
            get(media_mix::list)
                .post(media_mix::create)
                .layer(DefaultBodyLimit::max(media_mix::MAX_MEDIA_MIX_BODY_BYTES)),
        )
        .route(
            "/v1/media-mix/models/{id}",
            get(media_mix::get).delete(media_mix::delete),
        )
        .route(
            "/v1/media-mix/models/{id}/plans",
            post(media_mix::plan_route),
        )
        .route(
            "/v1/media-mix/models/{id}/scenarios",
            post(media_mix::scenarios_route),
        )
        .route(
            "/v1/destinations",
            get(destinations::routes::list).post(destinations::routes::create),
        )
        .route(
            "/v1/destinations/{id}",
            get(destinations::routes::get)
                .put(destinations::routes::replace)
                .delete(destinations::routes::delete),
        )
        .route(
            "/v1/destinations/{id}/test",
            post(destinations::routes::test),
        )
        .route(
            "/v1/destinations/{id}/dead-letters",
            get(destinations::routes::dead_letters),
        )
        .route(
            "/v1/destinations/{id}/dead-letters/replay",
            post(destinations::routes::replay),
        )
        .route(
            "/v1/destinations/{id}/sync",
            post(destinations::routes::sync),
        )
        .route(
            "/v1/unsubscribe/{token}",
            get(destinations::unsubscribe::confirm).post(destinations::unsubscribe::withdraw),
        )
        .route("/metrics", get(destinations::routes::metrics))
        .route("/v1/demo", post(demo::load))
        .route("/v1/profiles/{id}/merges", get(profiles::get_merges))
        .route("/v1/profiles/{kind}/{value}", get(profiles::get_profile))
        .route(
            "/v1/profiles/{kind}/{value}/audiences",
            get(profiles::get_audiences),
        )
        .route(
            "/v1/profiles/{kind}/{value}/events",
            get(profiles::get_timeline),
        )
        .route(
            "/v1/profiles/{kind}/{value}/consent",
            put(consent::set_consent),
        )
        .merge(collection)
        .with_state(state)
}
