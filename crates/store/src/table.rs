//! One Delta Lake table under `<data>/tables/<name>`: open or create, append with the WAL
//! position recorded atomically in the same commit, compact.

use std::path::Path;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use deltalake::DeltaTable;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::kernel::{StructType, Transaction};
use deltalake::operations::write::SchemaMode;
use deltalake::protocol::SaveMode;
use silta_wal::Lsn;

use crate::StoreError;
use crate::durable_files::DurableLocalFiles;

/// The Delta application id under which each commit records the last WAL record it contains.
const WAL_APP_ID: &str = "silta-wal";

#[derive(Clone)]
pub struct DeltaTableHandle {
    pub name: String,
    pub table: DeltaTable,
    pub provider: Arc<dyn TableProvider>,
    /// WAL records up to this one are in the table.
    pub persisted_lsn: Lsn,
    pub commits_since_compaction: usize,
}

/// A table's location: `<root>/<name>/`.
fn table_url(root: &Path, name: &str) -> Result<(std::path::PathBuf, url::Url), StoreError> {
    let directory = root.join(name);
    std::fs::create_dir_all(&directory).map_err(|source| StoreError::Io {
        path: directory.clone(),
        source,
    })?;
    let url = url::Url::from_directory_path(&directory)
        .map_err(|()| StoreError::Path(directory.display().to_string()))?;
    Ok((directory, url))
}

impl DeltaTableHandle {
    /// Opens the table, creating it with `schema` when the directory holds none yet.
    pub async fn open_or_create(
        root: &Path,
        name: &str,
        schema: &SchemaRef,
        partition_columns: &[&str],
    ) -> Result<DeltaTableHandle, StoreError> {
        let (directory, url) = table_url(root, name)?;
        let kernel_schema: StructType = schema.as_ref().try_into_kernel()?;
        if directory.join("_delta_log").is_dir() {
            let table = builder(url)?.load().await?;
            let table = add_missing_columns(table, &kernel_schema).await?;
            return DeltaTableHandle::from_table(name, table).await;
        }
        let table = builder(url)?
            .build()?
            .create()
            .with_table_name(name)
            .with_columns(kernel_schema.fields().cloned())
            .with_partition_columns(partition_columns.iter().map(|column| column.to_string()))
            .with_save_mode(SaveMode::Ignore)
            .await?;
        DeltaTableHandle::from_table(name, table).await
    }

    /// Opens a table that exists on disk, whatever its schema.
    pub async fn open_existing(root: &Path, name: &str) -> Result<DeltaTableHandle, StoreError> {
        let (_, url) = table_url(root, name)?;
        let table = builder(url)?.load().await?;
        DeltaTableHandle::from_table(name, table).await
    }

    async fn from_table(name: &str, table: DeltaTable) -> Result<DeltaTableHandle, StoreError> {
        let persisted_lsn = persisted_lsn(&table).await?;
        let provider = table.table_provider().await?;
        Ok(DeltaTableHandle {
            name: name.to_string(),
            table,
            provider,
            persisted_lsn,
            commits_since_compaction: 0,
        })
    }

    /// Appends `batches` and records `through_lsn` in the same commit, returning the new table.
    ///
    /// A failure after the commit itself (a checkpoint, say) still leaves the rows in the
    /// table; the log decides, so that the caller never appends the same rows twice.
    pub async fn append(
        &self,
        batches: Vec<RecordBatch>,
        through_lsn: Lsn,
    ) -> Result<(DeltaTable, Arc<dyn TableProvider>), StoreError> {
        let lsn = i64::try_from(through_lsn).map_err(|_| StoreError::LsnOverflow(through_lsn))?;
        let commit = CommitProperties::default()
            .with_application_transaction(Transaction::new(WAL_APP_ID, lsn));
        let written = async {
            let table = self
                .table
                .clone()
                .write(batches)
                .with_save_mode(SaveMode::Append)
                .with_commit_properties(commit)
                .await?;
            let provider = table.table_provider().await?;
            Ok::<_, StoreError>((table, provider))
        }
        .await;
        let error = match written {
            Ok(written) => return Ok(written),
            Err(error) => error,
        };
        let mut table = self.table.clone();
        table.update_state().await?;
        if persisted_lsn(&table).await? < through_lsn {
            return Err(error);
        }
        tracing::warn!(table = self.name, %error, "append committed, then failed");
        let provider = table.table_provider().await?;
        Ok((table, provider))
    }

    /// Replaces the whole content of the table with `batches` (reference data such as spend).
    pub async fn overwrite(
        &self,
        batches: Vec<RecordBatch>,
    ) -> Result<(DeltaTable, Arc<dyn TableProvider>), StoreError> {
        let table = self
            .table
            .clone()
            .write(batches)
            .with_save_mode(SaveMode::Overwrite)
            // Reference tables may gain columns between versions of Silta.
            .with_schema_mode(SchemaMode::Overwrite)
            .await?;
        let provider = table.table_provider().await?;
        Ok((table, provider))
    }

    /// Rewrites small files into large ones (Delta OPTIMIZE). Old files stay until VACUUM, so
    /// queries running on the previous version are unaffected.
    pub async fn compact(&self) -> Result<(DeltaTable, Arc<dyn TableProvider>, u64), StoreError> {
        let (table, metrics) = self.table.clone().optimize().await?;
        let provider = table.table_provider().await?;
        Ok((table, provider, metrics.num_files_removed))
    }
}

/// Adds the (nullable) columns of `schema` that a table written by an earlier version lacks;
/// its existing files read them as null.
async fn add_missing_columns(
    table: DeltaTable,
    schema: &StructType,
) -> Result<DeltaTable, StoreError> {
    let existing: Vec<String> = table
        .snapshot()?
        .schema()
        .fields()
        .map(|field| field.name().to_string())
        .collect();
    let missing: Vec<_> = schema
        .fields()
        .filter(|field| !existing.iter().any(|name| name == field.name()))
        .cloned()
        .collect();
    if missing.is_empty() {
        return Ok(table);
    }
    Ok(table.add_columns().with_fields(missing).await?)
}

/// Tables live on local disk, written through [`DurableLocalFiles`].
fn builder(url: url::Url) -> Result<deltalake::DeltaTableBuilder, StoreError> {
    Ok(deltalake::DeltaTableBuilder::from_url(url.clone())?
        .with_storage_backend(Arc::new(DurableLocalFiles::new()), url))
}

async fn persisted_lsn(table: &DeltaTable) -> Result<Lsn, StoreError> {
    let version = table
        .snapshot()?
        .transaction_version(table.log_store().as_ref(), WAL_APP_ID)
        .await?;
    Ok(version
        .and_then(|version| Lsn::try_from(version).ok())
        .unwrap_or(0))
}
