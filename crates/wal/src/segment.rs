//! Segment files: `<first lsn, 20 digits>.wal`. Reading them back on open.

use std::fs;
use std::path::{Path, PathBuf};

use crate::WalError;
use crate::frame::{self, Lsn};

/// A record read back from disk on open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredRecord {
    pub lsn: Lsn,
    pub payload: Vec<u8>,
}

pub(crate) struct SegmentFile {
    pub first_lsn: Lsn,
    pub path: PathBuf,
}

pub(crate) fn segment_path(directory: &Path, first_lsn: Lsn) -> PathBuf {
    directory.join(format!("{first_lsn:020}.wal"))
}

/// The segment files of a directory, oldest first.
pub(crate) fn list_segments(directory: &Path) -> Result<Vec<SegmentFile>, WalError> {
    let mut segments = Vec::new();
    let entries = fs::read_dir(directory).map_err(WalError::io(directory))?;
    for entry in entries {
        let path = entry.map_err(WalError::io(directory))?.path();
        let Some(stem) = path
            .extension()
            .filter(|extension| *extension == "wal")
            .and_then(|_| path.file_stem())
            .and_then(|stem| stem.to_str())
        else {
            continue;
        };
        if let Ok(first_lsn) = stem.parse::<Lsn>() {
            segments.push(SegmentFile { first_lsn, path });
        }
    }
    segments.sort_by_key(|segment| segment.first_lsn);
    Ok(segments)
}

/// Reads every intact record of every segment, oldest first. A torn tail of the newest segment is
/// cut off (when `repair` is set) so new appends follow the last intact record; damage in any
/// older segment is an error, because records after it were acknowledged.
pub fn read_all(directory: &Path, repair: bool) -> Result<Vec<RecoveredRecord>, WalError> {
    if !directory.exists() {
        return Ok(Vec::new());
    }
    let segments = list_segments(directory)?;
    let mut records = Vec::new();
    for (position, segment) in segments.iter().enumerate() {
        let is_newest = position + 1 == segments.len();
        let bytes = fs::read(&segment.path).map_err(WalError::io(&segment.path))?;
        let mut offset = 0usize;
        while offset < bytes.len() {
            let Some((lsn, payload, frame_length)) = frame::decode(&bytes[offset..]) else {
                break;
            };
            records.push(RecoveredRecord {
                lsn,
                payload: payload.to_vec(),
            });
            offset += frame_length;
        }
        if offset == bytes.len() {
            continue;
        }
        if !is_newest {
            return Err(WalError::Corrupt {
                path: segment.path.clone(),
                offset: offset as u64,
            });
        }
        tracing::warn!(segment = %segment.path.display(), offset, "cutting torn wal tail");
        if repair {
            let file = fs::OpenOptions::new()
                .write(true)
                .open(&segment.path)
                .map_err(WalError::io(&segment.path))?;
            file.set_len(offset as u64)
                .map_err(WalError::io(&segment.path))?;
            file.sync_all().map_err(WalError::io(&segment.path))?;
        }
    }
    Ok(records)
}
