use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use arrow::array::RecordBatch;
use datafusion::catalog::TableProvider;
use silta_wal::Lsn;
use tokio::sync::{Mutex, Notify, watch};

use crate::StoreError;
use crate::query::QueryExtension;
use crate::schema::{EVENT_DATE_COLUMN, EVENTS_SCHEMA, QUARANTINE_SCHEMA, VIOLATIONS_SCHEMA};
use crate::snapshot::SnapshotTable;
use crate::table::DeltaTableHandle;

#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// A repeated `messageId` from the same source within this window is dropped.
    pub dedupe_window: Duration,
    /// The committer writes the buffer to the tables at least this often...
    pub flush_interval: Duration,
    /// ...and as soon as this many rows are buffered.
    pub flush_rows: usize,
    /// Small files are compacted after this many commits to a table.
    pub compact_after_commits: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            dedupe_window: Duration::from_secs(24 * 3600),
            flush_interval: Duration::from_secs(5),
            flush_rows: 200_000,
            compact_after_commits: 50,
        }
    }
}

/// Rows that are durable in the WAL but not yet in a table, per table.
#[derive(Default)]
pub(crate) struct Buffer {
    pub(crate) events: Vec<RecordBatch>,
    pub(crate) quarantine: Vec<RecordBatch>,
    pub(crate) violations: Vec<RecordBatch>,
    pub(crate) rows: usize,
    /// Every WAL record up to here has been applied to the buffer (or dropped as a duplicate).
    pub(crate) applied_lsn: Lsn,
}

pub(crate) struct Tables {
    pub(crate) events: DeltaTableHandle,
    pub(crate) quarantine: DeltaTableHandle,
    pub(crate) violations: DeltaTableHandle,
    /// Reference tables written whole, such as `spend`; they have no buffer.
    pub(crate) reference: BTreeMap<String, DeltaTableHandle>,
}

/// Tables fed by the WAL; every other table under `tables/` is a reference table.
const WAL_TABLES: [&str; 3] = ["events", "quarantine", "violations"];

/// The buffer and the tables, swapped together under one lock so that a query sees each durable
/// row exactly once: either still buffered or already committed.
pub(crate) struct Shared {
    pub(crate) tables: Tables,
    pub(crate) buffer: Buffer,
}

pub struct EventStore {
    pub(crate) options: StoreOptions,
    pub(crate) shared: RwLock<Shared>,
    /// Only one task commits to the tables at a time.
    pub(crate) committer: Mutex<()>,
    /// Wakes the committer early when the buffer is full.
    pub(crate) buffer_full: Notify,
    /// The last WAL record applied to the buffer, for readers that must see their own writes.
    pub(crate) applied: watch::Sender<Lsn>,
    pub(crate) tables_root: PathBuf,
    pub(crate) query_extensions: RwLock<Vec<Arc<dyn QueryExtension>>>,
}

/// What a flush did; `persisted_lsn` is safe to release from the WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlushOutcome {
    pub rows: usize,
    pub persisted_lsn: Lsn,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct StoreStats {
    pub buffered_rows: usize,
    pub applied_lsn: Lsn,
    pub events_persisted_lsn: Lsn,
    pub events_table_version: Option<u64>,
    /// Parquet files in the current version of `events`.
    pub events_files: usize,
    pub quarantine_table_version: Option<u64>,
}

impl EventStore {
    /// Opens (or creates) the tables under `tables_root`.
    pub async fn open(
        tables_root: &Path,
        options: StoreOptions,
    ) -> Result<Arc<EventStore>, StoreError> {
        let events = DeltaTableHandle::open_or_create(
            tables_root,
            "events",
            &EVENTS_SCHEMA,
            &[EVENT_DATE_COLUMN],
        )
        .await?;
        let quarantine =
            DeltaTableHandle::open_or_create(tables_root, "quarantine", &QUARANTINE_SCHEMA, &[])
                .await?;
        let violations =
            DeltaTableHandle::open_or_create(tables_root, "violations", &VIOLATIONS_SCHEMA, &[])
                .await?;
        let reference = open_reference_tables(tables_root).await?;
        let applied_lsn = events
            .persisted_lsn
            .max(quarantine.persisted_lsn)
            .max(violations.persisted_lsn);
        Ok(Arc::new(EventStore {
            options,
            shared: RwLock::new(Shared {
                tables: Tables {
                    events,
                    quarantine,
                    violations,
                    reference,
                },
                buffer: Buffer {
                    applied_lsn,
                    ..Buffer::default()
                },
            }),
            committer: Mutex::new(()),
            buffer_full: Notify::new(),
            applied: watch::Sender::new(applied_lsn),
            tables_root: tables_root.to_path_buf(),
            query_extensions: RwLock::new(Vec::new()),
        }))
    }

    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    pub fn tables_root(&self) -> &Path {
        &self.tables_root
    }

    /// The lowest lsn a new WAL record may have: above everything any table has persisted.
    pub fn lsn_floor(&self) -> Lsn {
        let shared = self.read_shared();
        Pick::ALL
            .iter()
            .map(|pick| pick.of(&shared.tables).persisted_lsn)
            .max()
            .unwrap_or(0)
    }

    /// Waits until the buffer holds every WAL record up to `lsn`, or `timeout` passes.
    pub async fn wait_until_applied(&self, lsn: Lsn, timeout: Duration) {
        let mut applied = self.applied.subscribe();
        // A timeout leaves the query to run on what is applied so far.
        let _ = tokio::time::timeout(timeout, applied.wait_for(|applied_lsn| *applied_lsn >= lsn))
            .await;
    }

    pub fn stats(&self) -> StoreStats {
        let shared = self.read_shared();
        StoreStats {
            buffered_rows: shared.buffer.rows,
            applied_lsn: shared.buffer.applied_lsn,
            events_persisted_lsn: shared.tables.events.persisted_lsn,
            events_table_version: shared.tables.events.table.version(),
            events_files: shared
                .tables
                .events
                .table
                .get_file_uris()
                .map_or(0, Iterator::count),
            quarantine_table_version: shared.tables.quarantine.table.version(),
        }
    }

    pub(crate) fn read_shared(&self) -> std::sync::RwLockReadGuard<'_, Shared> {
        // A panic while holding the lock leaves consistent data behind: every write to `Shared`
        // is a single assignment or push.
        self.shared
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn write_shared(&self) -> std::sync::RwLockWriteGuard<'_, Shared> {
        self.shared
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Snapshots of the WAL-fed tables (table version plus buffer) for one query.
    pub(crate) fn snapshot_tables(
        &self,
    ) -> Vec<(String, Arc<dyn TableProvider>, deltalake::DeltaTable)> {
        let shared = self.read_shared();
        let mut tables: Vec<(String, Arc<dyn TableProvider>, deltalake::DeltaTable)> = Pick::ALL
            .iter()
            .map(|pick| {
                let handle = pick.of(&shared.tables);
                let snapshot: Arc<dyn TableProvider> = Arc::new(SnapshotTable {
                    committed: handle.provider.clone(),
                    buffered: pick.buffered(&shared.buffer).clone(),
                });
                (handle.name.clone(), snapshot, handle.table.clone())
            })
            .collect();
        for (name, handle) in &shared.tables.reference {
            tables.push((name.clone(), handle.provider.clone(), handle.table.clone()));
        }
        tables
    }

    /// Creates or replaces the reference table `name` with `batches` (all of one schema).
    pub async fn overwrite_reference_table(
        &self,
        name: &str,
        batches: Vec<RecordBatch>,
    ) -> Result<(), StoreError> {
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|character| character.is_ascii_lowercase() || character == '_')
            && !WAL_TABLES.contains(&name);
        let Some(schema) = batches
            .first()
            .map(RecordBatch::schema)
            .filter(|_| valid_name)
        else {
            return Err(StoreError::Path(format!(
                "cannot write reference table `{name}`"
            )));
        };
        let _committer = self.committer.lock().await;
        let existing = self.read_shared().tables.reference.get(name).cloned();
        let handle = match existing {
            Some(handle) => handle,
            None => DeltaTableHandle::open_or_create(&self.tables_root, name, &schema, &[]).await?,
        };
        let (table, provider) = handle.overwrite(batches).await?;
        let mut shared = self.write_shared();
        shared.tables.reference.insert(
            name.to_string(),
            DeltaTableHandle {
                table,
                provider,
                ..handle
            },
        );
        Ok(())
    }

    /// Commits every buffered row to the tables; each commit records the WAL position it covers.
    pub async fn flush(&self) -> Result<FlushOutcome, StoreError> {
        let _committer = self.committer.lock().await;
        self.flush_locked().await
    }

    /// [`EventStore::flush`] for a caller that holds the committer lock.
    pub(crate) async fn flush_locked(&self) -> Result<FlushOutcome, StoreError> {
        let (buffered, through_lsn) = {
            let shared = self.read_shared();
            (
                Pick::ALL.map(|pick| (pick, pick.buffered(&shared.buffer).clone())),
                shared.buffer.applied_lsn,
            )
        };
        let mut rows = 0;
        for (pick, batches) in buffered {
            if batches.is_empty() {
                continue;
            }
            let handle = pick.of(&self.read_shared().tables).clone();
            let (table, provider) = handle.append(batches.clone(), through_lsn).await?;
            // Each table's new version and its buffer change together, at once: should the next
            // table's commit fail, this one's rows must not be committed a second time.
            let mut shared = self.write_shared();
            let handle = pick.of_mut(&mut shared.tables);
            handle.table = table;
            handle.provider = provider;
            handle.persisted_lsn = through_lsn;
            handle.commits_since_compaction += 1;
            // Rows applied while the commit ran stay buffered for the next flush.
            pick.buffered_mut(&mut shared.buffer).drain(..batches.len());
            let committed: usize = batches.iter().map(RecordBatch::num_rows).sum();
            shared.buffer.rows -= committed;
            rows += committed;
        }
        Ok(FlushOutcome {
            rows,
            persisted_lsn: through_lsn,
        })
    }

    /// Compacts each table that has had enough commits since its last compaction.
    pub async fn compact_if_due(&self) -> Result<u64, StoreError> {
        let _committer = self.committer.lock().await;
        let mut files_removed = 0;
        for pick in Pick::ALL {
            let handle = pick.of(&self.read_shared().tables).clone();
            if handle.commits_since_compaction < self.options.compact_after_commits {
                continue;
            }
            let (table, provider, removed) = handle.compact().await?;
            let mut shared = self.write_shared();
            let handle = pick.of_mut(&mut shared.tables);
            handle.table = table;
            handle.provider = provider;
            handle.commits_since_compaction = 0;
            files_removed += removed;
            tracing::info!(table = handle.name, files_removed = removed, "compacted");
        }
        Ok(files_removed)
    }

    /// Runs until the process ends: flushes on the interval or when the buffer is full, compacts
    /// when due, and tells `persisted` how far the WAL may be released.
    pub async fn run_committer<F, Fut>(self: Arc<Self>, persisted: F)
    where
        F: Fn(Lsn) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.options.flush_interval) => {}
                () = self.buffer_full.notified() => {}
            }
            match self.flush().await {
                Ok(outcome) => persisted(outcome.persisted_lsn).await,
                Err(error) => {
                    tracing::error!(%error, "flush failed; rows stay buffered and in the wal");
                    continue;
                }
            }
            if let Err(error) = self.compact_if_due().await {
                tracing::warn!(%error, "compaction failed");
            }
        }
    }
}

/// One of the tables the WAL feeds.
#[derive(Clone, Copy)]
pub(crate) enum Pick {
    Events,
    Quarantine,
    Violations,
}

impl Pick {
    pub(crate) const ALL: [Pick; 3] = [Pick::Events, Pick::Quarantine, Pick::Violations];

    pub(crate) fn of(self, tables: &Tables) -> &DeltaTableHandle {
        match self {
            Pick::Events => &tables.events,
            Pick::Quarantine => &tables.quarantine,
            Pick::Violations => &tables.violations,
        }
    }

    fn buffered(self, buffer: &Buffer) -> &Vec<RecordBatch> {
        match self {
            Pick::Events => &buffer.events,
            Pick::Quarantine => &buffer.quarantine,
            Pick::Violations => &buffer.violations,
        }
    }

    fn buffered_mut(self, buffer: &mut Buffer) -> &mut Vec<RecordBatch> {
        match self {
            Pick::Events => &mut buffer.events,
            Pick::Quarantine => &mut buffer.quarantine,
            Pick::Violations => &mut buffer.violations,
        }
    }

    pub(crate) fn of_mut(self, tables: &mut Tables) -> &mut DeltaTableHandle {
        match self {
            Pick::Events => &mut tables.events,
            Pick::Quarantine => &mut tables.quarantine,
            Pick::Violations => &mut tables.violations,
        }
    }
}

async fn open_reference_tables(
    tables_root: &Path,
) -> Result<BTreeMap<String, DeltaTableHandle>, StoreError> {
    let mut reference = BTreeMap::new();
    let entries = std::fs::read_dir(tables_root).map_err(|source| StoreError::Io {
        path: tables_root.to_path_buf(),
        source,
    })?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_delta_table = entry.path().join("_delta_log").is_dir();
        if !is_delta_table || WAL_TABLES.contains(&name.as_str()) {
            continue;
        }
        let handle = DeltaTableHandle::open_existing(tables_root, &name).await?;
        reference.insert(name, handle);
    }
    Ok(reference)
}
