//! The Silta server: the axum app (ingestion, query, administration, OpenAPI), its
//! configuration, and the runtime that wires WAL, apply stage and committer together.

mod admin;
mod analytics;
mod app;
mod audiences;
mod auth;
mod bots;
mod config;
mod consent;
mod console;
mod contracts;
mod demo;
mod destinations;
mod error;
mod experiment_results;
mod experiments;
mod ingest;
mod media_mix;
mod output;
mod profiles;
mod query;
mod rate_limit;
mod retention;
mod runtime;
mod spend;
mod subjects;

pub use analytics::attribution::{AttributionRequest, attribution};
pub use analytics::funnel::{FunnelRequest, funnel};
pub use analytics::retention::{RetentionRequest, retention};
pub use analytics::web::{WebRequest, web};
pub use app::{AppState, app};
pub use audiences::{
    AudienceView, DefinitionRequest, Preview, preview_definition, refresh_all as refresh_audiences,
    refresh_audience, save as save_audience,
};
pub use config::{
    Config, MIN_ADMIN_TOKEN_CHARS, Pseudonymisation, Retention, Secret, SuppressionMode,
};
pub use contracts::plans::{
    PlanOverview, Proposal, VersionSummary, attach as attach_plan, delete as delete_plan,
    diff as diff_plan, draft as draft_plan, list_plans, parse_since, plan_overview,
    propose as propose_plan, read_plan, resolve_version as plan_version, review as review_plan,
};
pub use contracts::quarantine::{
    QuarantineEntry, QuarantineQuery, ReplayOutcome, ReplayRequest, list_quarantine,
    quarantine_record, replay as replay_quarantine,
};
pub use contracts::violations::{ViolationCounts, ViolationsQuery, count_violations};
pub use demo::{DemoReport, DemoRequest, load_demo};
pub use destinations::manage::{
    create_destination, dead_letters, delete_destination, list_destinations, replace_destination,
    replay_dead_letters, show_destination, sync_destination, test_destination,
};
pub use error::ApiError;
pub use experiment_results::{ResultsOptions, experiment_results};
pub use ingest::{IngestOutcome, Ingestor};
pub use media_mix::{
    FitRequest, KpiSource, Measure, ModelRecord, Models as MediaMixModels, SpendSource,
    Status as FitStatus, plan as plan_budget, prepare_fit, run_fit, scenarios as compare_scenarios,
};
pub use output::{Format, Tabular, csv_text};
pub use profiles::{MergeHistory, ProfileView};
pub use retention::apply_retention;
pub use runtime::{
    Silta, install_tls_provider, local_admin_token_path, open_offline, server_info_path,
};
pub use spend::{SpendLoaded, SpendRecord, parse_spend_csv, replace_spend};
pub use subjects::{SubjectExport, erase_subject, export_subject};
