//! The write-ahead log. Every accepted request is appended here and fsynced before the client gets
//! its 200; many concurrent requests share one fsync (group commit). Records are checksummed
//! frames in numbered segment files under `<data>/wal/`. A torn write at the tail (a crash in the
//! middle of an append) is cut off on open; corruption anywhere else stops the open.

mod frame;
mod segment;
mod writer;

pub use frame::Lsn;
pub use segment::{RecoveredRecord, read_all};
pub use writer::{Durable, Wal, WalOptions};

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("wal i/o error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("wal segment {path} is corrupt at byte {offset}, before its last record")]
    Corrupt { path: PathBuf, offset: u64 },
    #[error("wal has stopped after an earlier write failure; restart the server")]
    Poisoned,
    #[error("wal writer has shut down")]
    Closed,
}

impl WalError {
    fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> WalError {
        let path = path.into();
        move |source| WalError::Io { path, source }
    }
}
