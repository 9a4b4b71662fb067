//! The identity graph as a running service: fed by the apply stage, rebuilt from the `events`
//! table, read by profile lookups and SQL.

use std::fmt;
use std::sync::{Mutex, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use chrono::{DateTime, SecondsFormat, Utc};
use datafusion::error::DataFusionError;
use silta_model::Event;
use silta_store::{AppliedEvents, EventStore, StoreError, TEXT_COLUMNS, events_from_batch};

use crate::graph::IdentityGraph;
use crate::identifier::{ConfigError, IdentityConfig};
use crate::tables::{Columns, GraphTable};

/// The text columns the graph reads; the others are read as NULL, so that sorting moves as few
/// bytes as it can.
const TEXT_COLUMNS_USED: [&str; 15] = [
    "message_id",
    "type",
    "event",
    "name",
    "user_id",
    "anonymous_id",
    "previous_id",
    "source",
    "channel",
    "page_path",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "properties",
    "context",
];

/// `SELECT` of every column [`events_from_batch`] needs, the unused ones as NULL (and traits
/// only where an identify call sent them).
fn rebuild_columns() -> String {
    let texts: Vec<String> = TEXT_COLUMNS
        .iter()
        .map(|&column| match column {
            "traits" => {
                "CASE WHEN type = 'identify' THEN traits ELSE '{}' END AS traits".to_string()
            }
            used if TEXT_COLUMNS_USED.contains(&used) => used.to_string(),
            unused => format!("CAST(NULL AS VARCHAR) AS {unused}"),
        })
        .collect();
    format!(
        "SELECT {}, revenue, timestamp, original_timestamp, sent_at, received_at FROM events",
        texts.join(", ")
    )
}

/// An RFC 3339 literal of a time in microseconds, for a filter in SQL.
fn rfc3339(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Events sorted at once, about: the table is read in slices so that no sort has to hold (or
/// spill) the whole table.
const EVENTS_PER_SLICE: u64 = 500_000;

/// One slice of the table, in the order the live graph saw its events.
enum Slice {
    /// Events with a WAL position `[from, until)`, in that order.
    Arrival { from: i64, until: i64 },
    /// Events written before positions were recorded, received in `[from, until)`
    /// (microseconds), by arrival time and then message id.
    Received { from: i64, until: i64 },
}

impl Slice {
    fn filter(&self) -> String {
        match self {
            Slice::Arrival { from, until } => {
                format!("WHERE lsn >= {from} AND lsn < {until} ORDER BY lsn")
            }
            Slice::Received { from, until } => format!(
                "WHERE lsn IS NULL AND received_at >= '{}' AND received_at < '{}' \
                 ORDER BY received_at, message_id",
                rfc3339(*from),
                rfc3339(*until)
            ),
        }
    }
}

/// `(first, last, count)` of the one-row answer of `sql`, if the table has rows for it.
async fn range(store: &EventStore, sql: &str) -> Result<Option<(i64, i64, u64)>, StoreError> {
    let mut range = None;
    store
        .for_each_batch(sql, |batch| {
            let first = batch.column(0).as_primitive_opt::<Int64Type>();
            let last = batch.column(1).as_primitive_opt::<Int64Type>();
            let events = batch.column(2).as_primitive_opt::<Int64Type>();
            if let (Some(first), Some(last), Some(events)) = (first, last, events)
                && batch.num_rows() == 1
                && !first.is_null(0)
            {
                range = Some((first.value(0), last.value(0), events.value(0) as u64));
            }
            Ok(())
        })
        .await?;
    Ok(range)
}

/// `[from, until)` ranges of about `EVENTS_PER_SLICE` events between `first` and `last`.
fn split(first: i64, last: i64, events: u64) -> Vec<(i64, i64)> {
    let slices = events.div_ceil(EVENTS_PER_SLICE).max(1) as i64;
    let width = ((last - first) / slices).max(1);
    (0..slices)
        .map(|slice| {
            let from = first + slice * width;
            let until = if slice == slices - 1 {
                last + 1
            } else {
                from + width
            };
            (from, until)
        })
        .collect()
}

/// The slices that cover the table: events without a WAL position first (they came before
/// positions were recorded), then the rest in WAL order.
async fn slices(store: &EventStore) -> Result<Vec<Slice>, StoreError> {
    let mut slices = Vec::new();
    let unpositioned = "SELECT CAST(min(received_at) AS BIGINT), CAST(max(received_at) AS BIGINT), \
                        count(*) FROM events WHERE lsn IS NULL";
    if let Some((first, last, events)) = range(store, unpositioned).await? {
        slices.extend(
            split(first, last, events)
                .into_iter()
                .map(|(from, until)| Slice::Received { from, until }),
        );
    }
    let positioned = "SELECT min(lsn), max(lsn), count(*) FROM events WHERE lsn IS NOT NULL";
    if let Some((first, last, events)) = range(store, positioned).await? {
        slices.extend(
            split(first, last, events)
                .into_iter()
                .map(|(from, until)| Slice::Arrival { from, until }),
        );
    }
    Ok(slices)
}

/// Table builds kept for reuse while the graph is unchanged.
const MAX_CACHED_TABLES: usize = 6;

pub struct Identity {
    graph: RwLock<IdentityGraph>,
    /// The last tables built, with the graph version they show and the columns they hold.
    tables: Mutex<Vec<(GraphTable, u64, Columns, RecordBatch)>>,
}

impl fmt::Debug for Identity {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Identity")
    }
}

/// What a rebuild did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RebuildReport {
    pub events: u64,
    pub identifiers: usize,
    pub profiles: usize,
    pub merges: usize,
    /// Time spent resolving identities, without reading the table.
    pub resolve_seconds: f64,
    pub total_seconds: f64,
}

impl Identity {
    pub fn new(config: IdentityConfig) -> Result<Identity, ConfigError> {
        Ok(Identity {
            graph: RwLock::new(IdentityGraph::new(config)?),
            tables: Mutex::new(Vec::new()),
        })
    }

    pub fn read(&self) -> RwLockReadGuard<'_, IdentityGraph> {
        // Every graph change completes before its lock is released; a panic mid-change is a bug
        // the consistency tests exist to catch.
        self.graph
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn with_graph<T>(&self, read: impl FnOnce(&IdentityGraph) -> T) -> T {
        read(&self.read())
    }

    /// Replaces the graph with one computed from every event in `store`, in the order the
    /// write-ahead log took them, as the live graph did. Run before the apply stage starts.
    pub async fn rebuild(&self, store: &EventStore) -> Result<RebuildReport, StoreError> {
        let started = Instant::now();
        let config = self.read().config().clone();
        let mut graph =
            IdentityGraph::new(config).map_err(|error| StoreError::Path(error.to_string()))?;
        let mut events = 0u64;
        let mut resolving = Duration::ZERO;
        for slice in slices(store).await? {
            let query = format!("{} {}", rebuild_columns(), slice.filter());
            store
                .for_each_batch(&query, |batch| {
                    let decoded = events_from_batch(&batch)?;
                    let resolve_started = Instant::now();
                    for event in &decoded {
                        graph.observe(event);
                    }
                    resolving += resolve_started.elapsed();
                    events += decoded.len() as u64;
                    Ok(())
                })
                .await?;
        }
        let report = RebuildReport {
            events,
            identifiers: graph.identifier_count(),
            profiles: graph.profiles().count(),
            merges: graph.merges().count(),
            resolve_seconds: resolving.as_secs_f64(),
            total_seconds: started.elapsed().as_secs_f64(),
        };
        *self
            .graph
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = graph;
        Ok(report)
    }

    /// Erases a person from the graph; see [`IdentityGraph::forget`].
    pub fn forget(&self, profile_id: &str) -> Option<Vec<(String, String)>> {
        self.graph
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .forget(profile_id)
    }

    /// One of the graph's tables as it is now, with at least the `wanted` columns (the others
    /// may be null); rebuilt only when the graph has changed or more columns are wanted.
    pub fn table_batch(
        &self,
        table: GraphTable,
        wanted: Columns,
    ) -> Result<RecordBatch, DataFusionError> {
        let graph = self.read();
        let version = graph.version();
        let mut cache = self
            .tables
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let cached = cache.iter().find(|(cached, cached_version, columns, _)| {
            *cached == table && *cached_version == version && columns.contains(wanted)
        });
        if let Some((_, _, _, batch)) = cached {
            return Ok(batch.clone());
        }
        let batch = table.batch(&graph, wanted)?;
        cache.retain(|(cached, cached_version, _, _)| {
            *cached != table || *cached_version == version
        });
        if cache.len() >= MAX_CACHED_TABLES {
            cache.remove(0);
        }
        cache.push((table, version, wanted, batch.clone()));
        Ok(batch)
    }
}

impl AppliedEvents for Identity {
    fn applied(&self, events: &[&Event]) -> Result<(), String> {
        // In log order, the order a rebuild reads the table in: a restart gives the same
        // profiles.
        let mut graph = self
            .graph
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for &event in events {
            graph.observe(event);
        }
        Ok(())
    }
}
