//! The local file system as Delta Lake sees it, with every written file made durable.
//!
//! `object_store`'s local backend never calls fsync. Silta deletes WAL segments once a commit
//! holds their rows, so a commit must survive power loss the moment it returns; and a Delta log
//! entry must never become durable before the data files it names. This wrapper fsyncs each file
//! once it is complete, and the directories that name it, before the write is reported done.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result, UploadPart,
};

/// How many directory levels above a written file are synced: the partition directory
/// (`event_date=...`) and the table directory, which may both be new.
const SYNCED_ANCESTORS: usize = 2;

#[derive(Debug, Clone)]
pub struct DurableLocalFiles {
    inner: Arc<LocalFileSystem>,
}

impl DurableLocalFiles {
    pub fn new() -> DurableLocalFiles {
        DurableLocalFiles {
            inner: Arc::new(LocalFileSystem::new()),
        }
    }

    async fn make_durable(&self, location: &Path) -> Result<()> {
        let file = self.inner.path_to_filesystem(location)?;
        sync_file_and_ancestors(file).await
    }
}

impl fmt::Display for DurableLocalFiles {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "DurableLocalFiles({})", self.inner)
    }
}

async fn sync_file_and_ancestors(file: PathBuf) -> Result<()> {
    tokio::task::spawn_blocking(move || {
        std::fs::File::open(&file)?.sync_all()?;
        let mut directory = file.parent();
        for _ in 0..SYNCED_ANCESTORS {
            let Some(current) = directory else { break };
            std::fs::File::open(current)?.sync_all()?;
            directory = current.parent();
        }
        Ok::<(), std::io::Error>(())
    })
    .await
    .map_err(|error| std::io::Error::other(error.to_string()))
    .and_then(|synced| synced)
    .map_err(|source| object_store::Error::Generic {
        store: "DurableLocalFiles",
        source: Box::new(source),
    })
}

/// A multipart upload (how Parquet files are written) that is durable once complete.
#[derive(Debug)]
struct DurableUpload {
    inner: Box<dyn MultipartUpload>,
    file: PathBuf,
}

#[async_trait]
impl MultipartUpload for DurableUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.inner.put_part(data)
    }

    async fn complete(&mut self) -> Result<PutResult> {
        let result = self.inner.complete().await?;
        sync_file_and_ancestors(self.file.clone()).await?;
        Ok(result)
    }

    async fn abort(&mut self) -> Result<()> {
        self.inner.abort().await
    }
}

#[async_trait]
impl ObjectStore for DurableLocalFiles {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let result = self.inner.put_opts(location, payload, opts).await?;
        self.make_durable(location).await?;
        Ok(result)
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        let inner = self.inner.put_multipart_opts(location, opts).await?;
        let file = self.inner.path_to_filesystem(location)?;
        Ok(Box::new(DurableUpload { inner, file }))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> Result<Vec<bytes::Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await?;
        self.make_durable(to).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await?;
        self.make_durable(to).await
    }
}
