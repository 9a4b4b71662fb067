//! The graph as SQL tables (`profiles`, `identities`, `identity_merges`, `identity_refusals`)
//! and the function `profile_id(user_id, anonymous_id)`, so that queries count people.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Builder, Int64Builder, RecordBatch, StringArray, StringBuilder,
    TimestampMicrosecondBuilder, UInt32Array,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::cast::as_string_array;
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, Expr, ScalarUDF, Volatility, create_udf};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use silta_store::QueryExtension;

use crate::graph::IdentityGraph;
use crate::service::Identity;

fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn text(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

/// The tables this module serves, with their schemas and how each is built from the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphTable {
    Profiles,
    Identities,
    Merges,
    Refusals,
}

impl GraphTable {
    pub const ALL: [GraphTable; 4] = [
        GraphTable::Profiles,
        GraphTable::Identities,
        GraphTable::Merges,
        GraphTable::Refusals,
    ];

    pub fn name(self) -> &'static str {
        match self {
            GraphTable::Profiles => "profiles",
            GraphTable::Identities => "identities",
            GraphTable::Merges => "identity_merges",
            GraphTable::Refusals => "identity_refusals",
        }
    }

    fn schema(self) -> SchemaRef {
        let fields = match self {
            GraphTable::Profiles => vec![
                text("profile_id"),
                text("user_id"),
                Field::new("first_seen", timestamp(), true),
                Field::new("last_seen", timestamp(), true),
                Field::new("event_count", DataType::Int64, false),
                Field::new("order_count", DataType::Int64, false),
                Field::new("total_revenue", DataType::Float64, false),
                Field::new("average_revenue", DataType::Float64, true),
                text("channels"),
                text("sources"),
                text("device_types"),
                text("event_counts"),
                text("first_touch_source"),
                text("first_touch_medium"),
                text("first_touch_campaign"),
                text("last_touch_source"),
                text("last_touch_medium"),
                text("last_touch_campaign"),
                text("last_page"),
                Field::new("identifier_count", DataType::Int64, false),
                text("traits"),
                text("computed_traits"),
                text("consent"),
            ],
            GraphTable::Identities => {
                vec![text("identifier_type"), text("value"), text("profile_id")]
            }
            GraphTable::Merges => vec![
                text("survivor"),
                text("merged"),
                text("identifier_a"),
                text("identifier_b"),
                text("message_id"),
                text("source"),
                Field::new("at", timestamp(), true),
            ],
            GraphTable::Refusals => vec![
                text("message_id"),
                text("source"),
                Field::new("at", timestamp(), true),
                text("reason"),
            ],
        };
        Arc::new(Schema::new(fields))
    }

    /// The table now; only the `wanted` columns are sure to be filled (profiles leave the
    /// costly others null).
    pub fn batch(self, graph: &IdentityGraph, wanted: Columns) -> Result<RecordBatch> {
        let columns = match self {
            GraphTable::Profiles => profile_columns(graph, wanted),
            GraphTable::Identities => {
                let mut columns = Texts::new(3);
                for (kind, value, profile) in graph.identities() {
                    columns.row(&[Some(kind), Some(value), Some(profile)]);
                }
                columns.finish()
            }
            GraphTable::Merges => {
                let mut columns = Texts::new(6);
                let mut at = TimestampMicrosecondBuilder::new();
                for merge in graph.merges() {
                    let [a, b] = merge
                        .identifiers
                        .clone()
                        .map(|(kind, value)| format!("{kind}:{value}"));
                    columns.row(&[
                        Some(&merge.survivor),
                        Some(&merge.merged),
                        Some(&a),
                        Some(&b),
                        Some(&merge.message_id),
                        Some(&merge.source),
                    ]);
                    at.append_value(merge.at.timestamp_micros());
                }
                let mut columns = columns.finish();
                columns.push(utc(at));
                columns
            }
            GraphTable::Refusals => {
                let mut columns = Texts::new(2);
                let mut at = TimestampMicrosecondBuilder::new();
                let mut reasons = StringBuilder::new();
                for refusal in graph.refusals() {
                    columns.row(&[Some(&refusal.message_id), Some(&refusal.source)]);
                    at.append_value(refusal.at.timestamp_micros());
                    reasons.append_value(&refusal.reason);
                }
                let mut columns = columns.finish();
                columns.push(utc(at));
                columns.push(Arc::new(reasons.finish()));
                columns
            }
        };
        Ok(RecordBatch::try_new(self.schema(), columns)?)
    }
}

fn utc(mut builder: TimestampMicrosecondBuilder) -> ArrayRef {
    Arc::new(builder.finish().with_timezone("UTC"))
}

/// Builders for a run of text columns filled row by row.
struct Texts(Vec<StringBuilder>);

impl Texts {
    fn new(columns: usize) -> Texts {
        Texts((0..columns).map(|_| StringBuilder::new()).collect())
    }

    fn row(&mut self, values: &[Option<&str>]) {
        for (builder, value) in self.0.iter_mut().zip(values) {
            builder.append_option(*value);
        }
    }

    fn finish(self) -> Vec<ArrayRef> {
        self.0
            .into_iter()
            .map(|mut builder| Arc::new(builder.finish()) as ArrayRef)
            .collect()
    }
}

fn json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Which columns of a table a scan reads, by position (tables have fewer than 64 columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns(u64);

impl Columns {
    pub const ALL: Columns = Columns(u64::MAX);

    pub fn of(projection: Option<&Vec<usize>>) -> Columns {
        match projection {
            None => Columns::ALL,
            Some(indices) => Columns(indices.iter().fold(0, |mask, index| mask | (1 << index))),
        }
    }

    fn has(self, index: usize) -> bool {
        self.0 & (1 << index) != 0
    }

    pub fn contains(self, other: Columns) -> bool {
        self.0 & other.0 == other.0
    }
}

/// Positions of the profile columns that are costly to build.
const USER_ID: usize = 1;
const CHANNELS: usize = 8;
const EVENT_COUNTS: usize = 11;
const IDENTIFIER_COUNT: usize = 19;
const TRAITS: usize = 20;
const COMPUTED_TRAITS: usize = 21;
const CONSENT: usize = 22;

fn profile_columns(graph: &IdentityGraph, wanted: Columns) -> Vec<ArrayRef> {
    let mut ids = Texts::new(2);
    let mut first_seen = TimestampMicrosecondBuilder::new();
    let mut last_seen = TimestampMicrosecondBuilder::new();
    let mut event_count = Int64Builder::new();
    let mut order_count = Int64Builder::new();
    let mut total_revenue = Float64Builder::new();
    let mut average_revenue = Float64Builder::new();
    let mut details = Texts::new(11);
    let mut identifier_count = Int64Builder::new();
    let mut traits = StringBuilder::new();
    let mut declared = StringBuilder::new();
    let mut consent = StringBuilder::new();
    let micros = |time: Option<DateTime<Utc>>| time.map(|time| time.timestamp_micros());
    let needs_identifiers = wanted.has(USER_ID) || wanted.has(IDENTIFIER_COUNT);
    let summaries = (CHANNELS..=EVENT_COUNTS).any(|index| wanted.has(index));
    let json_if = |index: usize, value: &dyn Fn() -> String| wanted.has(index).then(value);
    for profile in graph.profiles() {
        let computed = &profile.computed;
        let identifiers = if needs_identifiers {
            graph.identifiers_of(profile)
        } else {
            Vec::new()
        };
        let user_id = identifiers
            .iter()
            .find(|(kind, _)| kind == "user_id")
            .map(|(_, value)| value.as_str());
        ids.row(&[Some(&profile.id), user_id]);
        first_seen.append_option(micros(computed.first_seen));
        last_seen.append_option(micros(computed.last_seen));
        event_count.append_value(computed.event_count as i64);
        order_count.append_value(computed.order_count as i64);
        total_revenue.append_value(computed.total_revenue);
        average_revenue.append_option(computed.average_revenue());
        let first = computed.first_touch.as_ref();
        let last = computed.last_touch.as_ref();
        let [channels, sources, device_types, event_counts] = if summaries {
            [
                Some(json_text(&computed.channels)),
                Some(json_text(&computed.sources)),
                Some(json_text(&computed.device_types)),
                Some(json_text(&computed.event_counts)),
            ]
        } else {
            [None, None, None, None]
        };
        details.row(&[
            channels.as_deref(),
            sources.as_deref(),
            device_types.as_deref(),
            event_counts.as_deref(),
            first.and_then(|touch| touch.source.as_deref()),
            first.and_then(|touch| touch.medium.as_deref()),
            first.and_then(|touch| touch.campaign.as_deref()),
            last.and_then(|touch| touch.source.as_deref()),
            last.and_then(|touch| touch.medium.as_deref()),
            last.and_then(|touch| touch.campaign.as_deref()),
            computed.last_page.as_ref().map(|visit| visit.path.as_str()),
        ]);
        identifier_count.append_value(identifiers.len() as i64);
        traits.append_option(json_if(TRAITS, &|| json_text(&profile.traits.values())));
        declared.append_option(json_if(COMPUTED_TRAITS, &|| {
            let declared_values: serde_json::Map<String, serde_json::Value> =
                graph.declared_traits_of(profile).into_iter().collect();
            json_text(&declared_values)
        }));
        consent.append_option(json_if(CONSENT, &|| {
            let granted: BTreeMap<&str, bool> = profile
                .consent
                .purposes
                .iter()
                .map(|(purpose, state)| (purpose.as_str(), state.granted))
                .collect();
            json_text(&granted)
        }));
    }
    let mut columns = ids.finish();
    columns.extend([
        utc(first_seen),
        utc(last_seen),
        Arc::new(event_count.finish()) as ArrayRef,
        Arc::new(order_count.finish()),
        Arc::new(total_revenue.finish()),
        Arc::new(average_revenue.finish()),
    ]);
    columns.extend(details.finish());
    columns.push(Arc::new(identifier_count.finish()));
    columns.push(Arc::new(traits.finish()));
    columns.push(Arc::new(declared.finish()));
    columns.push(Arc::new(consent.finish()));
    columns
}

/// A table built from the graph only when a query scans it.
#[derive(Debug)]
struct GraphTableProvider {
    table: GraphTable,
    identity: Arc<Identity>,
}

#[async_trait]
impl TableProvider for GraphTableProvider {
    fn schema(&self) -> SchemaRef {
        self.table.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let batch = self
            .identity
            .table_batch(self.table, Columns::of(projection))?;
        MemorySourceConfig::try_new_exec(&[vec![batch]], self.schema(), projection.cloned())
            .map(|plan| plan as Arc<dyn ExecutionPlan>)
    }
}

/// A function of `(user_id, anonymous_id)` answered from the graph, one value per event.
fn person_function(
    name: &str,
    returns: DataType,
    identity: Arc<Identity>,
    answer: fn(&IdentityGraph, &StringArray, &StringArray) -> ArrayRef,
) -> ScalarUDF {
    create_udf(
        name,
        vec![DataType::Utf8, DataType::Utf8],
        returns,
        Volatility::Volatile,
        Arc::new(move |arguments: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(arguments)?;
            let user_ids = cast(&arrays[0], &DataType::Utf8)?;
            let anonymous_ids = cast(&arrays[1], &DataType::Utf8)?;
            let (user_ids, anonymous_ids) = (
                as_string_array(&user_ids)?,
                as_string_array(&anonymous_ids)?,
            );
            let answered = identity.with_graph(|graph| answer(graph, user_ids, anonymous_ids));
            Ok(ColumnarValue::Array(answered))
        }),
    )
}

/// `profile_id(user_id, anonymous_id)`: the person's profile id, so that queries count people.
fn profile_ids(
    graph: &IdentityGraph,
    user_ids: &StringArray,
    anonymous_ids: &StringArray,
) -> ArrayRef {
    let ids: StringArray = user_ids
        .iter()
        .zip(anonymous_ids.iter())
        .map(|(user_id, anonymous_id)| graph.profile_id_of(user_id, anonymous_id))
        .collect();
    Arc::new(ids)
}

/// `profile_index(user_id, anonymous_id)`: the person's profile as a number, for analyses that
/// group millions of events by person without building a string per event.
fn profile_indexes(
    graph: &IdentityGraph,
    user_ids: &StringArray,
    anonymous_ids: &StringArray,
) -> ArrayRef {
    let indexes: UInt32Array = user_ids
        .iter()
        .zip(anonymous_ids.iter())
        .map(|(user_id, anonymous_id)| graph.profile_index_of(user_id, anonymous_id))
        .collect();
    Arc::new(indexes)
}

/// Registers the graph's tables, `profile_id` and `profile_index` in every query session.
pub struct SqlTables(pub Arc<Identity>);

impl QueryExtension for SqlTables {
    fn register(&self, context: &SessionContext) -> Result<(), DataFusionError> {
        for table in GraphTable::ALL {
            context.register_table(
                table.name(),
                Arc::new(GraphTableProvider {
                    table,
                    identity: self.0.clone(),
                }),
            )?;
        }
        let identity = &self.0;
        context.register_udf(person_function(
            "profile_id",
            DataType::Utf8,
            identity.clone(),
            profile_ids,
        ));
        context.register_udf(person_function(
            "profile_index",
            DataType::UInt32,
            identity.clone(),
            profile_indexes,
        ));
        Ok(())
    }
}
