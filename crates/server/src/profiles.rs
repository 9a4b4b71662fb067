//! Customer profiles: `GET /v1/profiles/{type}/{value}`, its event timeline and merge history.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use datafusion::prelude::{Expr, col, lit};
use serde::{Deserialize, Serialize};
use silta_identity::{
    ComputedTraits, Consent, IdentityGraph, LookupError, Merge, Profile, TraitValue,
};
use silta_state::Permission;
use silta_store::JsonAnswer;
use std::collections::BTreeMap;

use crate::{ApiError, AppState, auth, query};

#[derive(Debug, Serialize)]
pub struct ProfileView {
    pub profile_id: String,
    pub identifiers: Vec<IdentifierView>,
    pub traits: BTreeMap<String, TraitValue>,
    /// Built-in computed traits, with the ones declared in configuration beside them.
    pub computed: ComputedView,
    /// The current answer per purpose and the history of changes.
    pub consent: Consent,
}

#[derive(Debug, Serialize)]
pub struct ComputedView {
    #[serde(flatten)]
    pub built_in: ComputedTraits,
    pub average_revenue: Option<f64>,
    #[serde(flatten)]
    pub declared: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Serialize)]
pub struct IdentifierView {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

impl ProfileView {
    pub fn of(graph: &IdentityGraph, profile: &Profile) -> ProfileView {
        ProfileView {
            profile_id: profile.id.clone(),
            identifiers: graph
                .identifiers_of(profile)
                .into_iter()
                .map(|(kind, value)| IdentifierView { kind, value })
                .collect(),
            traits: profile.traits.0.clone(),
            computed: ComputedView {
                built_in: profile.computed.clone(),
                average_revenue: profile.computed.average_revenue(),
                declared: graph.declared_traits_of(profile).into_iter().collect(),
            },
            consent: profile.consent.clone(),
        }
    }
}

fn not_found(what: String) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "profile_not_found", what)
}

impl From<LookupError> for ApiError {
    fn from(error: LookupError) -> ApiError {
        let code = match error {
            LookupError::UnknownType(_) => "unknown_identifier_type",
            LookupError::Malformed(_) => "malformed_identifier",
        };
        ApiError::new(StatusCode::BAD_REQUEST, code, error.to_string())
    }
}

/// Looks a profile up and turns it into `T` while the graph is read-locked. For a `purpose`,
/// a person who has not granted it is answered as if unknown.
fn with_profile<T>(
    state: &AppState,
    kind: &str,
    value: &str,
    purpose: Option<&str>,
    view: impl FnOnce(&IdentityGraph, &Profile) -> T,
) -> Result<T, ApiError> {
    let graph = state.identity.read();
    if let Some(purpose) = purpose {
        graph.config().consent.check(purpose).map_err(|error| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "unknown_purpose",
                error.to_string(),
            )
        })?;
    }
    let profile = state
        .lookup(&graph, kind, value)?
        .filter(|profile| purpose.is_none_or(|purpose| profile.consent.granted(purpose)))
        .ok_or_else(|| not_found(format!("no profile has {kind} `{value}`")))?;
    Ok(view(&graph, profile))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForPurpose {
    /// Answer only if the person granted this purpose (e.g. `personalisation`).
    pub purpose: Option<String>,
}

/// `GET /v1/profiles/{type}/{value}?purpose=`
pub async fn get_profile(
    State(state): State<AppState>,
    Path((kind, value)): Path<(String, String)>,
    for_purpose: Result<Query<ForPurpose>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Result<Json<ProfileView>, ApiError> {
    auth::require(&state, &headers, Permission::ReadProfiles)?;
    let Query(for_purpose) = for_purpose?;
    query::read_your_writes(&state).await;
    with_profile(
        &state,
        &kind,
        &value,
        for_purpose.purpose.as_deref(),
        ProfileView::of,
    )
    .map(Json)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    #[serde(default = "default_page_size")]
    pub limit: usize,
    #[serde(default)]
    pub offset: usize,
    /// Answer only if the person granted this purpose.
    pub purpose: Option<String>,
}

fn default_page_size() -> usize {
    100
}

const MAX_PAGE_SIZE: usize = 1_000;
const MAX_OFFSET: usize = 1_000_000;

#[derive(Debug, Serialize)]
pub struct Timeline {
    pub profile_id: String,
    pub limit: usize,
    pub offset: usize,
    pub events: Vec<serde_json::Value>,
}

const TIMELINE_COLUMNS: [&str; 14] = [
    "message_id",
    "type",
    "event",
    "name",
    "user_id",
    "anonymous_id",
    "timestamp",
    "source",
    "channel",
    "page_path",
    "utm_campaign",
    "revenue",
    "currency",
    "properties",
];

/// `GET /v1/profiles/{type}/{value}/events?limit=&offset=`: newest first, across every
/// identity merged into the profile.
pub async fn get_timeline(
    State(state): State<AppState>,
    Path((kind, value)): Path<(String, String)>,
    page: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Result<Json<Timeline>, ApiError> {
    auth::require(&state, &headers, Permission::ReadProfiles)?;
    let Query(page) = page?;
    if page.limit == 0 || page.limit > MAX_PAGE_SIZE || page.offset > MAX_OFFSET {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_page",
            format!("limit must be 1..={MAX_PAGE_SIZE} and offset at most {MAX_OFFSET}"),
        ));
    }
    query::read_your_writes(&state).await;
    let (profile_id, identifiers) = with_profile(
        &state,
        &kind,
        &value,
        page.purpose.as_deref(),
        |graph, profile| (profile.id.clone(), graph.identifiers_of(profile)),
    )?;
    let matches_column = |column: &str, kind: &str| -> Option<Expr> {
        let values: Vec<Expr> = identifiers
            .iter()
            .filter(|(identifier_kind, _)| identifier_kind == kind)
            .map(|(_, value)| lit(value.clone()))
            .collect();
        (!values.is_empty()).then(|| col(column).in_list(values, false))
    };
    let Some(filter) = [
        matches_column("user_id", "user_id"),
        matches_column("anonymous_id", "anonymous_id"),
    ]
    .into_iter()
    .flatten()
    .reduce(Expr::or) else {
        // A profile known only by, say, an e-mail from a CRM import has no events of its own.
        return Ok(Json(Timeline {
            profile_id,
            limit: page.limit,
            offset: page.offset,
            events: Vec::new(),
        }));
    };
    let (batches, _) = state
        .store
        .query_frame(&state.query_limits, |context| async move {
            context
                .table("events")
                .await?
                .filter(filter)?
                .select_columns(&TIMELINE_COLUMNS)?
                .sort(vec![col("timestamp").sort(false, false)])?
                .limit(page.offset, Some(page.limit))
        })
        .await?;
    let answer = JsonAnswer::from_batches(&batches, false)?;
    Ok(Json(Timeline {
        profile_id,
        limit: page.limit,
        offset: page.offset,
        events: answer.rows,
    }))
}

#[derive(Debug, Serialize)]
pub struct MergeHistory {
    /// The profile asked for, or the one it was merged into.
    pub profile_id: String,
    pub merges: Vec<Merge>,
}

/// `GET /v1/profiles/{id}/merges`: a merged-away id answers with its surviving profile.
pub async fn get_merges(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<MergeHistory>, ApiError> {
    auth::require(&state, &headers, Permission::ReadProfiles)?;
    let graph = state.identity.read();
    let profile = graph
        .profile(&id)
        .ok_or_else(|| not_found(format!("no profile `{id}`")))?;
    Ok(Json(MergeHistory {
        profile_id: profile.id.clone(),
        merges: graph.merges_of(profile).into_iter().cloned().collect(),
    }))
}

#[derive(Debug, Serialize)]
pub struct ProfileAudiences {
    pub profile_id: String,
    /// Keys of the audiences the profile belonged to at their last refresh.
    pub audiences: Vec<String>,
}

/// `GET /v1/profiles/{type}/{value}/audiences?purpose=`
pub async fn get_audiences(
    State(state): State<AppState>,
    Path((kind, value)): Path<(String, String)>,
    for_purpose: Result<Query<ForPurpose>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Result<Json<ProfileAudiences>, ApiError> {
    auth::require(&state, &headers, Permission::ReadProfiles)?;
    let Query(for_purpose) = for_purpose?;
    query::read_your_writes(&state).await;
    let profile_id = with_profile(
        &state,
        &kind,
        &value,
        for_purpose.purpose.as_deref(),
        |_, profile| profile.id.clone(),
    )?;
    Ok(Json(ProfileAudiences {
        audiences: state.credentials.audiences_of(&profile_id)?,
        profile_id,
    }))
}
