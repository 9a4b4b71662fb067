//! Erasing a person: the rows that mention any of their identifiers, from both tables, and then
//! every file that held them (Delta DELETE, VACUUM without retention, a checkpoint, and removal
//! of the log files before it, whose statistics and commit details could name them).
//!
//! Rows are matched by a function over the identifiers rather than by a predicate with the
//! values in it: a Delta commit records its predicate as text in the log.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::common::cast::as_string_array;
use datafusion::logical_expr::{ColumnarValue, Expr, ScalarUDF, Volatility, create_udf};
use datafusion::prelude::col;
use deltalake::DeltaTable;
use deltalake::operations::vacuum::VacuumMode;

use crate::store::Pick;
use crate::{EventStore, StoreError};

/// Values at least this long are searched for anywhere in text (an e-mail address in a note);
/// shorter ones only as a whole JSON string, so that `u-1` does not match `u-10`.
const DISTINCTIVE_CHARS: usize = 8;

/// Who is to be erased: their identifier values as stored (e-mail addresses normalised).
#[derive(Debug, Clone)]
pub struct Subject {
    /// Lower-cased values, for exact comparison with id columns.
    exact: HashSet<String>,
    /// What to look for in JSON text columns, lower-cased: distinctive values as they are,
    /// short ones as JSON strings (`"u-1"`).
    needles: Vec<String>,
}

impl Subject {
    pub fn new(values: &[String]) -> Subject {
        let lower: Vec<String> = values.iter().map(|value| value.to_lowercase()).collect();
        Subject {
            needles: lower
                .iter()
                .map(|value| {
                    if value.chars().count() >= DISTINCTIVE_CHARS {
                        value.clone()
                    } else {
                        serde_json::Value::from(value.as_str()).to_string()
                    }
                })
                .collect(),
            exact: lower.into_iter().collect(),
        }
    }

    fn mentioned_in(&self, exact: &[Option<&str>], json: &[Option<&str>]) -> bool {
        exact
            .iter()
            .flatten()
            .any(|value| self.exact.contains(&value.to_lowercase()))
            || json.iter().flatten().any(|text| {
                let text = text.to_lowercase();
                self.needles
                    .iter()
                    .any(|needle| text.contains(needle.as_str()))
            })
    }

    /// `name(exact columns…, json columns…)`: true where a row mentions the subject.
    fn udf(&self, name: &str, exact: usize, json: usize) -> ScalarUDF {
        let subject = self.clone();
        create_udf(
            name,
            vec![DataType::Utf8; exact + json],
            DataType::Boolean,
            Volatility::Immutable,
            Arc::new(move |arguments: &[ColumnarValue]| {
                let arrays: Vec<ArrayRef> = ColumnarValue::values_to_arrays(arguments)?
                    .iter()
                    .map(|array| cast(array, &DataType::Utf8))
                    .collect::<Result<_, _>>()?;
                let columns: Vec<&StringArray> = arrays
                    .iter()
                    .map(|array| as_string_array(array))
                    .collect::<Result<_, _>>()?;
                let rows = columns.first().map_or(0, |column| column.len());
                let matches: BooleanArray = (0..rows)
                    .map(|row| {
                        let ids: Vec<Option<&str>> = columns[..exact]
                            .iter()
                            .map(|column| cell(column, row))
                            .collect();
                        let texts: Vec<Option<&str>> = columns[exact..]
                            .iter()
                            .map(|column| cell(column, row))
                            .collect();
                        Some(subject.mentioned_in(&ids, &texts))
                    })
                    .collect();
                Ok(ColumnarValue::Array(Arc::new(matches)))
            }),
        )
    }

    /// Events with one of the identifiers in an id column or in traits, context or properties.
    pub fn events_predicate(&self) -> Expr {
        let udf = self.udf("mentions_erased_subject", 3, 4);
        udf.call(
            [
                "user_id",
                "anonymous_id",
                "previous_id",
                "traits",
                "context",
                "properties",
                "integrations",
            ]
            .into_iter()
            .map(col)
            .collect(),
        )
    }

    /// Quarantined events whose payload names one of the identifiers.
    pub fn quarantine_predicate(&self) -> Expr {
        self.udf("mentions_erased_subject", 0, 1)
            .call(vec![col("payload")])
    }
}

fn cell(column: &StringArray, row: usize) -> Option<&str> {
    column.is_valid(row).then(|| column.value(row))
}

/// What an erasure or a retention run removed. Row counts are unknown (`None`) when whole
/// files went at once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Erased {
    pub events: Option<u64>,
    pub quarantined: Option<u64>,
    /// Rows of the `violations` table (retention only: they hold no personal data).
    #[serde(default)]
    pub violations: Option<u64>,
    /// Data files deleted by vacuum.
    pub files: u64,
    /// Log files deleted after the checkpoint.
    pub log_files: u64,
}

/// Deletes matching rows, then the files and log entries that held them. Returns the new table.
async fn purge(
    table: DeltaTable,
    predicate: Expr,
    erased: &mut Erased,
) -> Result<(DeltaTable, Option<u64>), StoreError> {
    let version_before = table.version();
    let (table, deleted) = table.delete().with_predicate(predicate).await?;
    let rows = deleted.num_deleted_rows.map(|rows| rows as u64);
    let (table, vacuumed) = table
        .vacuum()
        .with_retention_period(chrono::Duration::zero())
        .with_enforce_retention_duration(false)
        .with_mode(VacuumMode::Full)
        .await?;
    erased.files += vacuumed.files_deleted.len() as u64;
    if table.version() == version_before {
        // Nothing matched and nothing was left to vacuum: the log names no deleted row.
        return Ok((table, rows));
    }
    deltalake::checkpoints::create_checkpoint(&table, None).await?;
    let version = table.version().unwrap_or_default();
    // Every log file before the checkpoint, however recent.
    let cutoff = chrono::Utc::now().timestamp_millis() + 1_000;
    erased.log_files += deltalake::checkpoints::cleanup_expired_logs_for(
        version,
        table.log_store().as_ref(),
        cutoff,
        None,
    )
    .await? as u64;
    // The table in memory still lists the deleted log files; read it again from the checkpoint.
    let mut reloaded = DeltaTable::new(table.log_store());
    reloaded.load().await?;
    Ok((reloaded, rows))
}

impl EventStore {
    /// Commits what is buffered, then erases `subject` from the events and quarantine tables.
    /// The caller makes sure no new row for the subject arrives meanwhile (suppression).
    pub async fn erase(
        &self,
        subject: &Subject,
    ) -> Result<(crate::FlushOutcome, Erased), StoreError> {
        self.purge_tables([
            (Pick::Events, Some(subject.events_predicate())),
            (Pick::Quarantine, Some(subject.quarantine_predicate())),
            (Pick::Violations, None),
        ])
        .await
    }

    /// Commits what is buffered, then deletes the rows each predicate matches from its
    /// table, with every file and log entry that held them.
    pub(crate) async fn purge_tables(
        &self,
        predicates: [(Pick, Option<Expr>); 3],
    ) -> Result<(crate::FlushOutcome, Erased), StoreError> {
        let _committer = self.committer.lock().await;
        let flushed = self.flush_locked().await?;
        let mut erased = Erased::default();
        for (pick, predicate) in predicates {
            let Some(predicate) = predicate else {
                continue;
            };
            let handle = pick.of(&self.read_shared().tables).clone();
            let (table, rows) = purge(handle.table, predicate, &mut erased).await?;
            match pick {
                Pick::Events => erased.events = rows,
                Pick::Quarantine => erased.quarantined = rows,
                Pick::Violations => erased.violations = rows,
            }
            let provider = table.table_provider().await?;
            let mut shared = self.write_shared();
            let handle = pick.of_mut(&mut shared.tables);
            handle.table = table;
            handle.provider = provider;
        }
        Ok((flushed, erased))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_is_found_by_exact_ids_and_as_a_json_string_only() {
        let subject = Subject::new(&["ada@example.com".to_string(), "u-1".to_string()]);
        assert!(subject.mentioned_in(&[Some("U-1")], &[]));
        assert!(subject.mentioned_in(&[None], &[Some(r#"{"email":"Ada@Example.com"}"#)]));
        assert!(!subject.mentioned_in(&[Some("u-10")], &[Some(r#"{"id":"u-10"}"#)]));
        assert!(subject.mentioned_in(&[], &[Some(r#"{"note":"see ada@example.com."}"#)]));
        assert!(!subject.mentioned_in(&[], &[Some(r#"{"note":"see u-1."}"#)]));
    }
}
