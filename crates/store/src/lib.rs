//! The event store: the in-memory buffer of durable rows not yet committed, the Delta Lake tables
//! `events` and `quarantine` under `<data>/tables/`, the `messageId` dedupe index, the single
//! committer that moves rows from buffer to tables, and the DataFusion session that queries
//! buffer and table as one.

mod apply;
mod dedupe;
mod durable_files;
mod erase;
mod error;
mod query;
mod retention;
mod rows;
mod schema;
mod snapshot;
mod store;
mod table;

pub use apply::{AppliedEvents, Applier};
pub use erase::{Erased, Subject};
pub use error::StoreError;
pub use query::{JsonAnswer, QueryExtension, QueryLimits, batches_to_json_rows};
pub use rows::{TEXT_COLUMNS, events_from_batch};
pub use schema::{EVENTS_SCHEMA, LSN_COLUMN, QUARANTINE_SCHEMA};
pub use store::{EventStore, FlushOutcome, StoreOptions, StoreStats};
