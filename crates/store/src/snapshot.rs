//! A query's view of one table: the Delta table at a version plus the in-memory buffer of rows
//! not yet committed to it. Together they hold every durable row exactly once.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::compute::cast;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::union::UnionExec;

#[derive(Debug)]
pub struct SnapshotTable {
    pub committed: Arc<dyn TableProvider>,
    pub buffered: Vec<RecordBatch>,
}

#[async_trait]
impl TableProvider for SnapshotTable {
    fn schema(&self) -> SchemaRef {
        self.committed.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// Filters go to the Delta scan for file and partition pruning; DataFusion applies them
    /// again on top, which also covers the buffered rows.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let committed_plan = self
            .committed
            .scan(state, projection, filters, limit)
            .await?;
        if self.buffered.is_empty() {
            return Ok(committed_plan);
        }
        let table_schema = self.schema();
        let projected_schema = match projection {
            Some(columns) => Arc::new(table_schema.project(columns)?),
            None => table_schema,
        };
        let mut buffered = Vec::with_capacity(self.buffered.len());
        for batch in &self.buffered {
            let projected = match projection {
                Some(columns) => batch.project(columns)?,
                None => batch.clone(),
            };
            buffered.push(conform(&projected, &projected_schema)?);
        }
        let buffered_plan = MemorySourceConfig::try_new_exec(&[buffered], projected_schema, None)?;
        UnionExec::try_new(vec![committed_plan, buffered_plan])
    }
}

/// Buffered rows are built with Silta's schema; the Delta provider may read the same columns
/// with other physical types (string views, for one), so they are cast to match.
fn conform(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    if batch.schema().fields() == schema.fields() {
        return Ok(batch.clone());
    }
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| cast(column, field.data_type()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}
