use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("delta table error: {0}")]
    Delta(#[from] deltalake::DeltaTableError),
    #[error("query error: {0}")]
    Query(#[from] datafusion::error::DataFusionError),
    #[error("arrow error: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("i/o error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("json error: {0}")]
    Json(String),
    #[error("unexpected column types in {0}")]
    UnexpectedColumns(&'static str),
    #[error("not a usable table path: {0}")]
    Path(String),
    #[error("wal position {0} does not fit a delta transaction version")]
    LsnOverflow(u64),
    #[error("corrupt wal record {lsn}: {message}")]
    CorruptRecord { lsn: u64, message: String },
    #[error("query exceeded its time limit of {0} ms")]
    QueryTimeout(u128),
    #[error("an observer of applied events failed: {0}")]
    Observer(String),
}
