//! Segment files: `<sequence number, 20 digits>.wal`, each holding a run of records in lsn
//! order. Reading them back on open.

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
    pub sequence: u64,
    pub path: PathBuf,
}

/// What reading a segment found: its number and the lsn of its first record, if any.
pub(crate) struct SegmentSummary {
    pub sequence: u64,
    pub first_lsn: Option<Lsn>,
}

pub(crate) fn segment_path(directory: &Path, sequence: u64) -> PathBuf {
    directory.join(format!("{sequence:020}.wal"))
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
        if let Ok(sequence) = stem.parse::<u64>() {
            segments.push(SegmentFile { sequence, path });
        }
    }
    segments.sort_by_key(|segment| segment.sequence);
    Ok(segments)
}

/// Reads every intact record of every segment, oldest first.
pub fn read_all(directory: &Path, repair: bool) -> Result<Vec<RecoveredRecord>, WalError> {
    read_segments(directory, repair).map(|(records, _)| records)
}

/// Reads every segment. Bytes after the last intact record of the log (a write torn by a crash)
/// are cut off when `repair` is set, so new appends follow the last intact record; damage
/// followed by intact records elsewhere is an error, because those records were acknowledged.
pub(crate) fn read_segments(
    directory: &Path,
    repair: bool,
) -> Result<(Vec<RecoveredRecord>, Vec<SegmentSummary>), WalError> {
    if !directory.exists() {
        return Ok((Vec::new(), Vec::new()));
    }
    struct Scanned {
        file: SegmentFile,
        records: Vec<RecoveredRecord>,
        intact_bytes: usize,
        total_bytes: usize,
    }
    let mut scanned = Vec::new();
    for file in list_segments(directory)? {
        let bytes = fs::read(&file.path).map_err(WalError::io(&file.path))?;
        let mut records = Vec::new();
        let mut offset = 0usize;
        while let Some((lsn, payload, frame_length)) = frame::decode(&bytes[offset..]) {
            records.push(RecoveredRecord {
                lsn,
                payload: payload.to_vec(),
            });
            offset += frame_length;
        }
        scanned.push(Scanned {
            file,
            records,
            intact_bytes: offset,
            total_bytes: bytes.len(),
        });
    }
    let last_with_records = scanned
        .iter()
        .rposition(|segment| !segment.records.is_empty());
    let mut records = Vec::new();
    let mut summaries = Vec::with_capacity(scanned.len());
    for (position, segment) in scanned.into_iter().enumerate() {
        if segment.intact_bytes < segment.total_bytes {
            let records_follow = last_with_records.is_some_and(|last| position < last);
            if records_follow {
                return Err(WalError::Corrupt {
                    path: segment.file.path,
                    offset: segment.intact_bytes as u64,
                });
            }
            tracing::warn!(segment = %segment.file.path.display(), offset = segment.intact_bytes, "cutting torn wal tail");
            if repair {
                let path = &segment.file.path;
                let file = fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(WalError::io(path))?;
                file.set_len(segment.intact_bytes as u64)
                    .map_err(WalError::io(path))?;
                file.sync_all().map_err(WalError::io(path))?;
            }
        }
        summaries.push(SegmentSummary {
            sequence: segment.file.sequence,
            first_lsn: segment.records.first().map(|record| record.lsn),
        });
        records.extend(segment.records);
    }
    Ok((records, summaries))
}
