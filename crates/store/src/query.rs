//! SQL over the store: one DataFusion session per query over snapshots of every table.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{DataFrame, SQLOptions, SessionConfig, SessionContext};
use futures::StreamExt;

use crate::{EventStore, StoreError};

/// Limits for one query. User queries are read-only whatever the limits.
#[derive(Debug, Clone)]
pub struct QueryLimits {
    pub timeout: Duration,
    pub memory_bytes: usize,
    /// Rows returned at most; the rest is cut and the result marked truncated.
    pub max_rows: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits {
            timeout: Duration::from_secs(60),
            memory_bytes: 2 * 1024 * 1024 * 1024,
            max_rows: 10_000,
        }
    }
}

impl QueryLimits {
    /// Silta's own queries over its tables.
    pub fn internal() -> QueryLimits {
        QueryLimits {
            timeout: Duration::from_secs(600),
            memory_bytes: 8 * 1024 * 1024 * 1024,
            max_rows: usize::MAX,
        }
    }
}

/// Adds tables or functions to every query session (profiles, identities, ...).
pub trait QueryExtension: Send + Sync {
    fn register(&self, context: &SessionContext) -> Result<(), DataFusionError>;
}

impl EventStore {
    /// Runs one read-only SQL statement. DDL, DML and other statements are refused by the planner.
    /// Returns the result batches and whether rows were cut at `max_rows`.
    pub async fn query(
        &self,
        sql: &str,
        limits: &QueryLimits,
    ) -> Result<(Vec<RecordBatch>, bool), StoreError> {
        self.query_frame(limits, |context| async move {
            let read_only = SQLOptions::new()
                .with_allow_ddl(false)
                .with_allow_dml(false)
                .with_allow_statements(false);
            context.sql_with_options(sql, read_only).await
        })
        .await
    }

    /// Runs a query built with DataFusion's DataFrame API, for Silta's own queries whose
    /// parameters come from users: values stay values, never SQL text.
    pub async fn query_frame<F, Fut>(
        &self,
        limits: &QueryLimits,
        build: F,
    ) -> Result<(Vec<RecordBatch>, bool), StoreError>
    where
        F: FnOnce(SessionContext) -> Fut,
        Fut: Future<Output = Result<DataFrame, DataFusionError>>,
    {
        let run = async {
            let frame = build(self.session(limits)?).await?;
            collect_limited(frame, limits.max_rows).await
        };
        tokio::time::timeout(limits.timeout, run)
            .await
            .map_err(|_| StoreError::QueryTimeout(limits.timeout.as_millis()))?
    }

    /// Streams the answer of an internal query batch by batch, without a row or time limit.
    pub async fn for_each_batch(
        &self,
        sql: &str,
        mut each: impl FnMut(RecordBatch) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let context = self.session(&QueryLimits::internal())?;
        let mut stream = context.sql(sql).await?.execute_stream().await?;
        while let Some(batch) = stream.next().await {
            each(batch?)?;
        }
        Ok(())
    }

    /// Streams the answer of `frame` batch by batch, stopping at `limits`' timeout.
    pub async fn stream_frame(
        frame: DataFrame,
        limits: &QueryLimits,
        mut each: impl FnMut(RecordBatch) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let run = async {
            let mut stream = frame.execute_stream().await?;
            while let Some(batch) = stream.next().await {
                each(batch?)?;
            }
            Ok(())
        };
        tokio::time::timeout(limits.timeout, run)
            .await
            .map_err(|_| StoreError::QueryTimeout(limits.timeout.as_millis()))?
    }

    pub fn add_query_extension(&self, extension: Arc<dyn QueryExtension>) {
        self.query_extensions
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(extension);
    }

    /// A session over snapshots of every table (and what extensions add), within `limits`'
    /// memory, for Silta's own queries built with the DataFrame API.
    pub fn session(&self, limits: &QueryLimits) -> Result<SessionContext, StoreError> {
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(limits.memory_bytes, 1.0)
            .build_arc()?;
        let config = SessionConfig::new()
            .with_information_schema(true)
            .with_default_catalog_and_schema("silta", "public");
        let mut context = SessionContext::new_with_config_rt(config, runtime);
        datafusion_functions_json::register_all(&mut context)?;
        for (name, provider, table) in self.snapshot_tables() {
            table.update_datafusion_session(&context.state())?;
            context.register_table(name.as_str(), provider)?;
        }
        let extensions = self
            .query_extensions
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for extension in extensions {
            extension.register(&context)?;
        }
        Ok(context)
    }
}

async fn collect_limited(
    frame: DataFrame,
    max_rows: usize,
) -> Result<(Vec<RecordBatch>, bool), StoreError> {
    let mut stream = frame.execute_stream().await?;
    let mut batches = Vec::new();
    let mut rows = 0usize;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let room = max_rows - rows;
        if batch.num_rows() > room {
            batches.push(batch.slice(0, room));
            return Ok((batches, true));
        }
        rows += batch.num_rows();
        batches.push(batch);
    }
    Ok((batches, false))
}

/// A query's answer as JSON: column names, one object per row, and whether rows were cut.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct JsonAnswer {
    pub columns: Vec<String>,
    pub rows: Vec<serde_json::Value>,
    pub truncated: bool,
}

impl JsonAnswer {
    pub fn from_batches(
        batches: &[RecordBatch],
        truncated: bool,
    ) -> Result<JsonAnswer, StoreError> {
        let columns = batches
            .first()
            .map(|batch| {
                batch
                    .schema()
                    .fields()
                    .iter()
                    .map(|field| field.name().clone())
                    .collect()
            })
            .unwrap_or_default();
        Ok(JsonAnswer {
            columns,
            rows: batches_to_json_rows(batches)?,
            truncated,
        })
    }
}

impl EventStore {
    /// [`EventStore::query`], answered as JSON rows.
    pub async fn query_json(
        &self,
        sql: &str,
        limits: &QueryLimits,
    ) -> Result<JsonAnswer, StoreError> {
        let (batches, truncated) = self.query(sql, limits).await?;
        JsonAnswer::from_batches(&batches, truncated)
    }
}

/// Result batches as JSON objects, one per row.
pub fn batches_to_json_rows(batches: &[RecordBatch]) -> Result<Vec<serde_json::Value>, StoreError> {
    let mut writer = arrow::json::ArrayWriter::new(Vec::new());
    let references: Vec<&RecordBatch> = batches.iter().collect();
    writer.write_batches(&references)?;
    writer.finish()?;
    let bytes = writer.into_inner();
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(&bytes).map_err(|error| StoreError::Json(error.to_string()))
}
