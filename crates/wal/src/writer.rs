//! The single writer thread and its group commit.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use tokio::sync::{mpsc, oneshot};

use crate::WalError;
use crate::frame::{self, Lsn};
use crate::segment::{self, RecoveredRecord};

#[derive(Debug, Clone, Copy)]
pub struct WalOptions {
    /// A new segment starts once the current one is this large.
    pub segment_bytes: u64,
    /// At most this many payload bytes share one fsync.
    pub max_group_bytes: usize,
    /// Appends waiting for the writer before `append` itself waits (backpressure).
    pub queue_depth: usize,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_bytes: 64 * 1024 * 1024,
            max_group_bytes: 8 * 1024 * 1024,
            queue_depth: 4096,
        }
    }
}

/// Records made durable by one group commit, in log order, handed to the consumer before any
/// of their appends is acknowledged.
pub struct Durable<T> {
    pub records: Vec<(Lsn, T)>,
}

/// Records waiting to be written, and where to say they are durable.
struct PendingAppend<T> {
    records: Vec<(Vec<u8>, T)>,
    done: oneshot::Sender<Result<(), WalError>>,
}

enum Command<T> {
    Append(PendingAppend<T>),
    ReleaseThrough(Lsn),
    /// Start a new segment now; answers with the last lsn of the sealed ones.
    Seal(oneshot::Sender<Result<Lsn, WalError>>),
}

/// Handle to the log. Cheap to clone; all clones feed the one writer thread.
pub struct Wal<T> {
    commands: mpsc::Sender<Command<T>>,
    /// The last lsn on disk and handed to the consumer.
    durable_lsn: Arc<AtomicU64>,
}

impl<T> Clone for Wal<T> {
    fn clone(&self) -> Self {
        Wal {
            commands: self.commands.clone(),
            durable_lsn: self.durable_lsn.clone(),
        }
    }
}

impl<T: Send + 'static> Wal<T> {
    /// Opens the log in `directory`, returning the handle and every record still on disk (the
    /// caller skips what it has already persisted). New records get lsns above both the log's
    /// own records and `lsn_floor`, so lsns never repeat even when all old segments are gone.
    pub fn open(
        directory: &Path,
        options: WalOptions,
        lsn_floor: Lsn,
        consumer: mpsc::UnboundedSender<Durable<T>>,
    ) -> Result<(Wal<T>, Vec<RecoveredRecord>), WalError> {
        fs::create_dir_all(directory).map_err(WalError::io(directory))?;
        let (recovered, segments) = segment::read_segments(directory, true)?;
        let after_recovered = recovered.last().map_or(0, |record| record.lsn + 1);
        let next_lsn = after_recovered.max(lsn_floor + 1).max(1);
        let durable_lsn = Arc::new(AtomicU64::new(next_lsn - 1));
        let writer = Writer::start(
            directory.to_path_buf(),
            segments,
            next_lsn,
            durable_lsn.clone(),
        )?;
        let (commands, receiver) = mpsc::channel(options.queue_depth);
        thread::Builder::new()
            .name("silta-wal".to_string())
            .spawn(move || writer.run(receiver, consumer, options))
            .map_err(WalError::io(directory))?;
        Ok((
            Wal {
                commands,
                durable_lsn,
            },
            recovered,
        ))
    }

    /// Every record up to this lsn is durable and on its way to the consumer; a reader that
    /// waits for the consumer to reach it sees every acknowledged write.
    pub fn durable_lsn(&self) -> Lsn {
        self.durable_lsn.load(Ordering::Acquire)
    }

    /// Appends records (encoded payload, item handed to the consumer) and resolves once they
    /// are on disk.
    pub async fn append(&self, records: Vec<(Vec<u8>, T)>) -> Result<(), WalError> {
        if records.is_empty() {
            return Ok(());
        }
        let (done, acknowledged) = oneshot::channel();
        self.commands
            .send(Command::Append(PendingAppend { records, done }))
            .await
            .map_err(|_| WalError::Closed)?;
        acknowledged.await.map_err(|_| WalError::Closed)?
    }

    /// Starts a new segment, so that once every record up to the returned lsn is released, no
    /// file holds any of them (records that must be erased, not merely persisted).
    pub async fn seal(&self) -> Result<Lsn, WalError> {
        let (done, sealed) = oneshot::channel();
        self.commands
            .send(Command::Seal(done))
            .await
            .map_err(|_| WalError::Closed)?;
        sealed.await.map_err(|_| WalError::Closed)?
    }

    /// Lets the log delete segments whose records are all at or below `lsn` (they are persisted).
    pub async fn release_through(&self, lsn: Lsn) {
        // A closed log has nothing left to delete.
        let _closed = self.commands.send(Command::ReleaseThrough(lsn)).await;
    }
}

struct Writer {
    directory: PathBuf,
    file: File,
    file_bytes: u64,
    next_lsn: Lsn,
    /// (sequence, first lsn) of every segment with records, oldest first; the last one is being
    /// written.
    segments: Vec<(u64, Lsn)>,
    /// Creates the next segment file ahead of time: creating a file and making its directory
    /// entry durable takes tens of milliseconds, which must not fall inside a group commit.
    next_segment: Option<thread::JoinHandle<Result<(), WalError>>>,
    poisoned: bool,
    durable_lsn: Arc<AtomicU64>,
}

impl Writer {
    fn start(
        directory: PathBuf,
        on_disk: Vec<segment::SegmentSummary>,
        next_lsn: Lsn,
        durable_lsn: Arc<AtomicU64>,
    ) -> Result<Writer, WalError> {
        let mut segments = Vec::with_capacity(on_disk.len() + 1);
        for summary in &on_disk {
            match summary.first_lsn {
                Some(first_lsn) => segments.push((summary.sequence, first_lsn)),
                // Empty segments were created ahead of time by the previous run.
                None => remove_segment(&directory, summary.sequence),
            }
        }
        let sequence = on_disk.last().map_or(1, |summary| summary.sequence + 1);
        create_segment(&directory, sequence)?;
        segments.push((sequence, next_lsn));
        let mut writer = Writer {
            file: open_segment(&directory, sequence)?,
            directory,
            file_bytes: 0,
            next_lsn,
            segments,
            next_segment: None,
            poisoned: false,
            durable_lsn,
        };
        writer.prepare_next_segment();
        Ok(writer)
    }

    fn current_sequence(&self) -> u64 {
        self.segments.last().map_or(1, |(sequence, _)| *sequence)
    }

    fn prepare_next_segment(&mut self) {
        let directory = self.directory.clone();
        let sequence = self.current_sequence() + 1;
        self.next_segment = Some(thread::spawn(move || create_segment(&directory, sequence)));
    }

    fn run<T>(
        mut self,
        mut commands: mpsc::Receiver<Command<T>>,
        consumer: mpsc::UnboundedSender<Durable<T>>,
        options: WalOptions,
    ) {
        let mut frames = Vec::with_capacity(options.max_group_bytes);
        while let Some(first) = commands.blocking_recv() {
            let mut group = Vec::new();
            let mut group_bytes = 0usize;
            let mut next = Some(first);
            while let Some(command) = next.take() {
                match command {
                    Command::Append(pending) => {
                        group_bytes += pending
                            .records
                            .iter()
                            .map(|(payload, _)| payload.len())
                            .sum::<usize>();
                        group.push(pending);
                    }
                    Command::ReleaseThrough(lsn) => self.release_through(lsn),
                    Command::Seal(done) => {
                        let _ = done.send(self.seal());
                    }
                }
                if group_bytes < options.max_group_bytes {
                    next = commands.try_recv().ok();
                }
            }
            if group.is_empty() {
                continue;
            }
            self.commit_group(group, &mut frames, &consumer, options);
        }
    }

    fn commit_group<T>(
        &mut self,
        group: Vec<PendingAppend<T>>,
        frames: &mut Vec<u8>,
        consumer: &mpsc::UnboundedSender<Durable<T>>,
        options: WalOptions,
    ) {
        if self.poisoned {
            self.refuse(group);
            return;
        }
        frames.clear();
        let first_lsn = self.next_lsn;
        let mut lsn = first_lsn;
        for pending in &group {
            for (payload, _) in &pending.records {
                frame::encode(lsn, payload, frames);
                lsn += 1;
            }
        }
        if let Err(error) = self.write_durably(frames, lsn, options) {
            tracing::error!(%error, "wal write failed; refusing further appends");
            self.refuse(group);
            return;
        }
        let mut durable = Vec::with_capacity((lsn - first_lsn) as usize);
        let mut acknowledgements = Vec::with_capacity(group.len());
        let mut record_lsn = first_lsn;
        for pending in group {
            for (_, item) in pending.records {
                durable.push((record_lsn, item));
                record_lsn += 1;
            }
            acknowledgements.push(pending.done);
        }
        // The consumer sees the records before any client hears they are durable. A consumer
        // that has stopped can no longer make them visible: the records stay on disk for the
        // next start, and no client hears they were accepted.
        if consumer.send(Durable { records: durable }).is_err() {
            tracing::error!("wal consumer stopped; refusing further appends");
            self.poisoned = true;
            for done in acknowledgements {
                let _ = done.send(Err(WalError::Poisoned));
            }
            return;
        }
        self.durable_lsn.store(lsn - 1, Ordering::Release);
        for done in acknowledgements {
            let _ = done.send(Ok(()));
        }
    }

    fn refuse<T>(&mut self, group: Vec<PendingAppend<T>>) {
        self.poisoned = true;
        for pending in group {
            let _ = pending.done.send(Err(WalError::Poisoned));
        }
    }

    /// Writes and fsyncs `frames`, first moving to a new segment if the current one is full
    /// (so that a failure to roll never concerns records already durable).
    fn write_durably(
        &mut self,
        frames: &[u8],
        next_lsn: Lsn,
        options: WalOptions,
    ) -> Result<(), WalError> {
        if self.file_bytes >= options.segment_bytes {
            self.roll(self.next_lsn)?;
        }
        let path = segment::segment_path(&self.directory, self.current_sequence());
        self.file.write_all(frames).map_err(WalError::io(&path))?;
        self.file.sync_data().map_err(WalError::io(&path))?;
        self.file_bytes += frames.len() as u64;
        self.next_lsn = next_lsn;
        Ok(())
    }

    /// Continues in the segment created ahead of time.
    fn roll(&mut self, next_lsn: Lsn) -> Result<(), WalError> {
        let sequence = self.current_sequence() + 1;
        match self.next_segment.take().map(thread::JoinHandle::join) {
            Some(Ok(created)) => created?,
            _ => create_segment(&self.directory, sequence)?,
        }
        self.file = open_segment(&self.directory, sequence)?;
        self.file_bytes = 0;
        self.segments.push((sequence, next_lsn));
        self.prepare_next_segment();
        Ok(())
    }

    fn seal(&mut self) -> Result<Lsn, WalError> {
        if self.file_bytes > 0 {
            self.roll(self.next_lsn)?;
        }
        Ok(self.next_lsn - 1)
    }

    /// Deletes every segment except the newest whose successor starts at or below `lsn + 1`.
    fn release_through(&mut self, lsn: Lsn) {
        while self.segments.len() > 1 && self.segments[1].1 <= lsn + 1 {
            let (oldest, _) = self.segments.remove(0);
            remove_segment(&self.directory, oldest);
        }
    }
}

fn remove_segment(directory: &Path, sequence: u64) {
    let path = segment::segment_path(directory, sequence);
    if let Err(error) = fs::remove_file(&path) {
        tracing::warn!(%error, segment = %path.display(), "could not delete wal segment");
    }
}

/// Creates an empty segment file and makes its directory entry durable.
fn create_segment(directory: &Path, sequence: u64) -> Result<(), WalError> {
    let path = segment::segment_path(directory, sequence);
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|file| file.sync_all())
        .map_err(WalError::io(&path))?;
    File::open(directory)
        .and_then(|directory_handle| directory_handle.sync_all())
        .map_err(WalError::io(directory))
}

fn open_segment(directory: &Path, sequence: u64) -> Result<File, WalError> {
    let path = segment::segment_path(directory, sequence);
    OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(WalError::io(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lsns_on_disk(directory: &std::path::Path) -> Vec<Lsn> {
        segment::read_all(directory, false)
            .expect("reads")
            .iter()
            .map(|record| record.lsn)
            .collect()
    }

    async fn append_texts(wal: &Wal<String>, texts: &[&str]) {
        let records = texts
            .iter()
            .map(|text| (text.as_bytes().to_vec(), text.to_string()))
            .collect();
        wal.append(records).await.expect("durable");
    }

    #[tokio::test]
    async fn records_survive_reopen_with_increasing_lsns() {
        let directory = tempfile::tempdir().expect("tempdir");
        let (consumer, mut durable) = mpsc::unbounded_channel();
        let (wal, recovered) =
            Wal::open(directory.path(), WalOptions::default(), 0, consumer).expect("opens");
        assert!(recovered.is_empty());
        append_texts(&wal, &["a", "b"]).await;
        append_texts(&wal, &["c"]).await;
        let mut seen = Vec::new();
        while let Ok(batch) = durable.try_recv() {
            seen.extend(batch.records);
        }
        assert_eq!(
            seen,
            vec![
                (1, "a".to_string()),
                (2, "b".to_string()),
                (3, "c".to_string())
            ]
        );
        drop(wal);

        let (consumer, _durable) = mpsc::unbounded_channel();
        let (wal, recovered) =
            Wal::<String>::open(directory.path(), WalOptions::default(), 0, consumer)
                .expect("reopens");
        let lsns: Vec<Lsn> = recovered.iter().map(|record| record.lsn).collect();
        assert_eq!(lsns, vec![1, 2, 3]);
        assert_eq!(recovered[2].payload, b"c");
        append_texts(&wal, &["d"]).await;
        drop(wal);
        let reread = segment::read_all(directory.path(), false).expect("reads");
        assert_eq!(reread.last().map(|record| record.lsn), Some(4));
    }

    #[tokio::test]
    async fn sealed_and_released_records_leave_no_file_behind() {
        let directory = tempfile::tempdir().expect("tempdir");
        let (consumer, _durable) = mpsc::unbounded_channel();
        let (wal, _) =
            Wal::open(directory.path(), WalOptions::default(), 0, consumer).expect("opens");
        append_texts(&wal, &["erase-me", "and-me"]).await;
        let sealed = wal.seal().await.expect("seals");
        assert_eq!(sealed, 2);
        assert_eq!(
            wal.seal().await.expect("seals again"),
            2,
            "an empty segment stays"
        );
        append_texts(&wal, &["keep"]).await;
        wal.release_through(sealed).await;
        // Commands run in order: once this answers, the release has run.
        wal.seal().await.expect("seals");
        drop(wal);
        assert_eq!(lsns_on_disk(directory.path()), vec![3]);
    }

    #[tokio::test]
    async fn a_torn_tail_is_cut_and_released_segments_are_deleted() {
        let directory = tempfile::tempdir().expect("tempdir");
        let options = WalOptions {
            segment_bytes: 1,
            ..WalOptions::default()
        };
        let (consumer, _durable) = mpsc::unbounded_channel();
        let (wal, _) = Wal::open(directory.path(), options, 0, consumer).expect("opens");
        append_texts(&wal, &["one"]).await;
        append_texts(&wal, &["two"]).await;
        wal.release_through(1).await;
        append_texts(&wal, &["three"]).await;
        drop(wal);
        let remaining = lsns_on_disk(directory.path());
        assert_eq!(remaining, vec![2, 3]);

        // Simulate a crash in the middle of an append to the segment after the last record.
        let newest = segment::list_segments(directory.path())
            .expect("lists")
            .pop()
            .expect("one segment");
        let mut file = OpenOptions::new()
            .append(true)
            .open(&newest.path)
            .expect("open");
        file.write_all(&[9, 0, 0, 0, 1, 2]).expect("write");
        drop(file);
        let (consumer, _durable) = mpsc::unbounded_channel();
        let (wal, recovered) = Wal::<String>::open(directory.path(), options, 0, consumer)
            .expect("reopens past a torn tail");
        assert_eq!(recovered.last().map(|record| record.lsn), Some(3));
        append_texts(&wal, &["four"]).await;
        drop(wal);
        let lsns = lsns_on_disk(directory.path());
        assert_eq!(lsns, vec![2, 3, 4]);
    }

    #[tokio::test]
    async fn lsns_stay_above_the_floor_when_the_log_is_empty() {
        let directory = tempfile::tempdir().expect("tempdir");
        let (consumer, mut durable) = mpsc::unbounded_channel();
        let (wal, _) =
            Wal::open(directory.path(), WalOptions::default(), 41, consumer).expect("opens");
        append_texts(&wal, &["x"]).await;
        let batch = durable.recv().await.expect("durable batch");
        assert_eq!(batch.records[0].0, 42);
    }

    #[tokio::test]
    async fn appends_are_refused_once_the_consumer_stops() {
        let directory = tempfile::tempdir().expect("tempdir");
        let (consumer, durable) = mpsc::unbounded_channel();
        let (wal, _) =
            Wal::open(directory.path(), WalOptions::default(), 0, consumer).expect("opens");
        append_texts(&wal, &["seen"]).await;
        drop(durable);
        let refused = wal
            .append(vec![(b"unseen".to_vec(), "unseen".to_string())])
            .await;
        assert!(matches!(refused, Err(WalError::Poisoned)), "{refused:?}");
        assert_eq!(wal.durable_lsn(), 1);
        drop(wal);
        // The refused record is on disk all the same, for the next start to apply.
        let lsns = lsns_on_disk(directory.path());
        assert_eq!(lsns, vec![1, 2]);
    }

    #[tokio::test]
    async fn a_failed_write_is_reported_and_stops_further_appends() {
        let directory = tempfile::tempdir().expect("tempdir");
        let options = WalOptions {
            segment_bytes: 1,
            ..WalOptions::default()
        };
        let (consumer, mut durable) = mpsc::unbounded_channel();
        let (wal, _) = Wal::open(directory.path(), options, 0, consumer).expect("opens");
        // The segment after the first record lands on a device that is always full.
        let second = segment::segment_path(directory.path(), 2);
        while !second.exists() {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        std::fs::remove_file(&second).expect("remove prepared segment");
        std::os::unix::fs::symlink("/dev/full", &second).expect("symlink");
        append_texts(&wal, &["fits"]).await;
        let failed = wal
            .append(vec![(b"no room".to_vec(), "no room".to_string())])
            .await;
        assert!(matches!(failed, Err(WalError::Poisoned)), "{failed:?}");
        let after = wal
            .append(vec![(b"later".to_vec(), "later".to_string())])
            .await;
        assert!(matches!(after, Err(WalError::Poisoned)));
        assert_eq!(wal.durable_lsn(), 1);
        let delivered = durable.recv().await.expect("first record delivered");
        assert_eq!(delivered.records.len(), 1);
        assert!(
            durable.try_recv().is_err(),
            "failed records never reach the consumer"
        );
    }
}
