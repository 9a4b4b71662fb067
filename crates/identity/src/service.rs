//! The identity graph as a running service: fed by the apply stage, rebuilt from the `events`
//! table, read by profile lookups and SQL.

use std::fmt;
use std::sync::{Mutex, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use datafusion::error::DataFusionError;
use silta_model::Event;
use silta_store::{AppliedEvents, EventStore, StoreError, events_from_batch};

use crate::graph::IdentityGraph;
use crate::identifier::{ConfigError, IdentityConfig};
use crate::tables::GraphTable;

/// Columns the graph reads from `events`, in the order the table was filled.
const REBUILD_QUERY: &str = "SELECT * FROM events ORDER BY received_at, message_id";

pub struct Identity {
    graph: RwLock<IdentityGraph>,
    /// The last tables built, with the graph version they show.
    tables: Mutex<Vec<(GraphTable, u64, RecordBatch)>>,
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

    /// Replaces the graph with one computed from every event in `store`, in the order they
    /// were received. Run before the apply stage starts.
    pub async fn rebuild(&self, store: &EventStore) -> Result<RebuildReport, StoreError> {
        let started = Instant::now();
        let config = self.read().config().clone();
        let mut graph =
            IdentityGraph::new(config).map_err(|error| StoreError::Path(error.to_string()))?;
        let mut events = 0u64;
        let mut resolving = Duration::ZERO;
        store
            .for_each_batch(REBUILD_QUERY, |batch| {
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
        let report = RebuildReport {
            events,
            identifiers: graph.identifier_count(),
            profiles: graph.profiles().count(),
            merges: graph.merges().len(),
            resolve_seconds: resolving.as_secs_f64(),
            total_seconds: started.elapsed().as_secs_f64(),
        };
        *self
            .graph
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = graph;
        Ok(report)
    }

    /// One of the graph's tables as it is now; rebuilt only when the graph has changed.
    pub fn table_batch(&self, table: GraphTable) -> Result<RecordBatch, DataFusionError> {
        let graph = self.read();
        let version = graph.version();
        let mut cache = self
            .tables
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, _, batch)) = cache
            .iter()
            .find(|(cached, cached_version, _)| *cached == table && *cached_version == version)
        {
            return Ok(batch.clone());
        }
        let batch = table.batch(&graph)?;
        cache.retain(|(cached, _, _)| *cached != table);
        cache.push((table, version, batch.clone()));
        Ok(batch)
    }
}

impl AppliedEvents for Identity {
    fn applied(&self, events: &[&Event]) {
        let mut graph = self
            .graph
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for event in events {
            graph.observe(event);
        }
    }
}
