//! `audience_changes` in SQL: every entry into and exit from an audience with its time, so that
//! "who joined this week" is a query.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use silta_state::StateStore;
use silta_store::QueryExtension;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("audience", DataType::Utf8, false),
        Field::new("profile_id", DataType::Utf8, false),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("entered", DataType::Boolean, false),
    ]))
}

/// The table, read from the state database when a query scans it.
struct ChangesTable(Arc<StateStore>);

impl std::fmt::Debug for ChangesTable {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("audience_changes")
    }
}

#[async_trait]
impl TableProvider for ChangesTable {
    fn schema(&self) -> SchemaRef {
        schema()
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
        let changes = self
            .0
            .all_audience_changes()
            .map_err(|error| DataFusionError::External(Box::new(error)))?;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                changes.iter().map(|change| change.audience.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                changes.iter().map(|change| change.profile_id.as_str()),
            )),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(
                    changes.iter().map(|change| change.at.timestamp_micros()),
                )
                .with_timezone("UTC"),
            ),
            Arc::new(BooleanArray::from_iter(
                changes.iter().map(|change| Some(change.entered)),
            )),
        ];
        let batch = RecordBatch::try_new(schema(), columns)?;
        MemorySourceConfig::try_new_exec(&[vec![batch]], schema(), projection.cloned())
            .map(|plan| plan as Arc<dyn ExecutionPlan>)
    }
}

/// Registers `audience_changes` in every query session.
pub struct AudienceTables(pub Arc<StateStore>);

impl QueryExtension for AudienceTables {
    fn register(&self, context: &SessionContext) -> Result<(), DataFusionError> {
        context.register_table("audience_changes", Arc::new(ChangesTable(self.0.clone())))?;
        Ok(())
    }
}
