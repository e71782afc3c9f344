//! One bucket: streaming reads, listing, deletes.

use super::S3Settings;
use super::admin as s3admin;
use super::flush::{self, LocalFlush};
use super::nofollow::{self, NoFollow, Open};
use super::writer::PartWriter;
use crate::ConnectorError;
use crate::sink::Fence;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use letsdata_model::location::validate_key;
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore};

/// Read buffer for local files.
const LOCAL_READ_BUFFER: usize = 1024 * 1024;
/// Local files this small (what is left of them) are read on the calling thread.
const INLINE_READ: u64 = 64 * 1024;
use std::pin::Pin;
use std::sync::Arc;
use tokio::io::AsyncBufRead;
use tokio_util::io::StreamReader;

/// A bucket resolved by [`super::ObjectStores`].
#[derive(Clone)]
pub struct Bucket {
    name: String,
    store: Arc<dyn ObjectStore>,
    /// The S3 settings and multipart uploads when the bucket is on S3 (for what
    /// `ObjectStore` does not do).
    s3: Option<(Arc<S3Settings>, Arc<dyn MultipartStore>)>,
    /// The directory of a local bucket.
    local_dir: Option<std::path::PathBuf>,
    /// How its staged parts are made durable (a local bucket).
    flush: LocalFlush,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bucket").field("name", &self.name).finish()
    }
}

/// An object being read.
pub struct ObjectRead {
    /// The object's bytes from the requested offset, buffered.
    pub reader: Pin<Box<dyn AsyncBufRead + Send>>,
    /// The object's full size in bytes.
    pub size: u64,
}

/// A listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    pub last_modified_millis: i64,
}

impl Bucket {
    pub(super) fn new(
        name: &str,
        store: Arc<dyn ObjectStore>,
        s3: Option<(Arc<S3Settings>, Arc<dyn MultipartStore>)>,
        local_dir: Option<std::path::PathBuf>,
        flush: LocalFlush,
    ) -> Self {
        Self {
            name: name.to_string(),
            store,
            s3,
            local_dir,
            flush,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the bucket is on S3 (else a local directory).
    pub fn is_s3(&self) -> bool {
        self.s3.is_some()
    }

    /// The multipart uploads of an S3 bucket.
    pub(super) fn multipart(&self, key: &str) -> Result<Arc<dyn MultipartStore>, ConnectorError> {
        match &self.s3 {
            Some((_, multipart)) => Ok(multipart.clone()),
            None => Err(ConnectorError::Io {
                what: format!("cannot write s3://{}/{key}", self.name),
                message: "a local bucket has no multipart uploads".into(),
                kind: crate::FailureKind::Internal,
            }),
        }
    }

    /// The directory of a local bucket and `key`'s path below it, validated (`None` on S3).
    /// Opened only with [`nofollow::open_below`] and its kin, which never follow a link.
    fn local_file(
        &self,
        key: &str,
    ) -> Result<Option<(std::path::PathBuf, std::path::PathBuf)>, ConnectorError> {
        let Some(root) = &self.local_dir else {
            return Ok(None);
        };
        self.path(key)?;
        Ok(Some((root.clone(), std::path::PathBuf::from(key))))
    }

    fn local_io(&self, what: &str, key: &str, e: std::io::Error) -> ConnectorError {
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            return ConnectorError::AccessDenied {
                bucket: self.name.clone(),
                key: key.to_string(),
                message: e.to_string(),
            };
        }
        ConnectorError::io(format!("cannot {what} s3://{}/{key}", self.name), e)
    }

    /// What creates (or truncates) the staging file `staging` of a local bucket, never through
    /// a link: a blocking call, for the caller to run with its first write.
    pub(super) fn staging_file(
        &self,
        staging: &str,
    ) -> Result<impl FnOnce() -> std::io::Result<std::fs::File> + Send + 'static, ConnectorError>
    {
        let Some((root, relative)) = self.local_file(staging)? else {
            return Err(self.local_io("stage", staging, std::io::ErrorKind::Unsupported.into()));
        };
        Ok(move || {
            let below = nofollow::Root::open(&root)?;
            match below.open_below(&relative, Open::Create) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    // The first part of its directory: made, then opened (never through a
                    // link either).
                    if let Some(dir) = relative.parent() {
                        std::fs::create_dir_all(root.join(dir))?;
                    }
                    below.open_below(&relative, Open::Create)
                }
                opened => opened,
            }
        })
    }

    /// Writes the last bytes of a staging file of this local bucket (`last_write`) and makes
    /// it durable, with the parts staged meanwhile ([`flush`]); then closes it.
    pub(super) async fn flush_staging_file(
        &self,
        last_write: flush::LastWrite,
    ) -> std::io::Result<()> {
        flush::durable(last_write, self.flush).await
    }

    /// Removes the staging file `staging` of a local bucket (gone already is fine).
    pub(super) async fn remove_staging_file(&self, staging: &str) -> Result<(), ConnectorError> {
        let Some((root, relative)) = self.local_file(staging)? else {
            return Ok(());
        };
        let removed =
            tokio::task::spawn_blocking(move || match nofollow::remove_below(&root, &relative) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => other,
            })
            .await
            .map_err(|e| self.local_io("remove", staging, std::io::Error::other(e)))?;
        removed.map_err(|e| self.local_io("remove", staging, e))
    }

    /// Renames the staging file `staging` of a local bucket to `key` (a name in the same
    /// directory). A staging file gone with the object there was published already.
    ///
    /// Done on the calling thread: a rename within a directory only changes the directory
    /// entry (microseconds), far less than handing it to a blocking thread and back, which
    /// for a small task cost more than its own work.
    pub(super) async fn publish_staging_file(
        &self,
        staging: &str,
        key: &str,
    ) -> Result<(), ConnectorError> {
        let (Some((root, from)), Some((_, to))) =
            (self.local_file(staging)?, self.local_file(key)?)
        else {
            return Err(self.local_io("publish", key, std::io::ErrorKind::Unsupported.into()));
        };
        let renamed = match nofollow::rename_below(&root, &from, &to) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match nofollow::open_below(&root, &to, Open::Read) {
                    Ok(_) => Ok(()),
                    Err(_) => Err(e),
                }
            }
            other => other,
        };
        renamed.map_err(|e| self.local_io("publish", key, e))
    }

    /// Opens an object of a local bucket from byte `offset` on. The file is opened on the
    /// calling thread and, when what is left of it is small ([`INLINE_READ`]), read there
    /// whole: a thread hand-off costs more than that (a task per small file paid two). A
    /// larger file up to [`LOCAL_READ_BUFFER`] is read whole in one blocking call; a still
    /// larger one is streamed.
    async fn open_local_read(
        &self,
        root: &std::path::Path,
        key: &str,
        offset: u64,
    ) -> Result<ObjectRead, ConnectorError> {
        use std::io::{Read, Seek};
        self.path(key)?;
        let read_whole = move |mut file: std::fs::File, size: u64| {
            let len = size.saturating_sub(offset);
            if offset > 0 {
                file.seek(std::io::SeekFrom::Start(offset.min(size)))?;
            }
            let mut bytes = Vec::with_capacity(len as usize);
            file.take(len).read_to_end(&mut bytes)?;
            Ok::<_, std::io::Error>((size, Err(bytes)))
        };
        let opened =
            nofollow::open_below(root, std::path::Path::new(key), Open::Read).and_then(|file| {
                let meta = file.metadata()?;
                if !meta.is_file() {
                    return Err(std::io::ErrorKind::NotFound.into());
                }
                Ok((file, meta.len()))
            });
        let opened = match opened {
            Ok((file, size)) if size.saturating_sub(offset) <= INLINE_READ => {
                read_whole(file, size)
            }
            Ok((mut file, size)) => tokio::task::spawn_blocking(move || {
                if size.saturating_sub(offset) <= LOCAL_READ_BUFFER as u64 {
                    return read_whole(file, size);
                }
                file.seek(std::io::SeekFrom::Start(offset))?;
                Ok((size, Ok(file)))
            })
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r),
            Err(e) => Err(e),
        }
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ConnectorError::ObjectNotFound {
                bucket: self.name.clone(),
                key: key.to_string(),
            },
            _ => self.local_io("read", key, e),
        })?;
        Ok(match opened {
            (size, Err(bytes)) => ObjectRead {
                reader: Box::pin(std::io::Cursor::new(bytes)),
                size,
            },
            (size, Ok(file)) => ObjectRead {
                reader: Box::pin(tokio::io::BufReader::with_capacity(
                    LOCAL_READ_BUFFER,
                    tokio::fs::File::from_std(file),
                )),
                size,
            },
        })
    }

    /// Validates a key (it must stay inside the bucket) and converts it to a store path.
    pub fn path(&self, key: &str) -> Result<Path, ConnectorError> {
        validate_key(key).map_err(|e| ConnectorError::InvalidLocation(e.to_string()))?;
        Path::parse(key).map_err(|e| ConnectorError::InvalidLocation(format!("key {key:?}: {e}")))
    }

    fn err(&self, key: &str, e: object_store::Error) -> ConnectorError {
        ConnectorError::from_store(&self.name, key, e)
    }

    /// Streams the object from byte `offset` on.
    pub async fn open_read(&self, key: &str, offset: u64) -> Result<ObjectRead, ConnectorError> {
        if let Some(root) = &self.local_dir {
            return self.open_local_read(root, key, offset).await;
        }
        let path = self.path(key)?;
        if offset > 0 {
            // A task that checkpointed at the very end of its file resumes there: nothing is
            // left, and a ranged GET from the end is refused (416), so ask for the size first.
            let meta = self.store.head(&path).await.map_err(|e| self.err(key, e))?;
            if meta.size <= offset {
                return Ok(ObjectRead {
                    reader: Box::pin(tokio::io::BufReader::new(tokio::io::empty())),
                    size: meta.size,
                });
            }
        }
        let options = GetOptions {
            range: (offset > 0).then_some(GetRange::Offset(offset)),
            ..Default::default()
        };
        let result = self
            .store
            .get_opts(&path, options)
            .await
            .map_err(|e| self.err(key, e))?;
        let size = result.meta.size;
        let bucket = self.name.clone();
        let key_owned = key.to_string();
        let stream = result.into_stream().map_err(move |e| {
            std::io::Error::other(ConnectorError::from_store(&bucket, &key_owned, e))
        });
        Ok(ObjectRead {
            reader: Box::pin(StreamReader::new(stream)),
            size,
        })
    }

    /// Reads a whole (small) object, e.g. a manifest.
    pub async fn read_all(&self, key: &str) -> Result<Bytes, ConnectorError> {
        let path = self.path(key)?;
        let result = self.store.get(&path).await.map_err(|e| self.err(key, e))?;
        result.bytes().await.map_err(|e| self.err(key, e))
    }

    /// Reads a whole object of at most `limit` bytes without reading more: `Ok(Err(size))`
    /// when it is larger (its size is checked first, and the read stops past the limit).
    pub async fn read_at_most(
        &self,
        key: &str,
        limit: u64,
    ) -> Result<Result<Bytes, u64>, ConnectorError> {
        let path = self.path(key)?;
        let meta = self.store.head(&path).await.map_err(|e| self.err(key, e))?;
        if meta.size > limit {
            return Ok(Err(meta.size));
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(0..limit.saturating_add(1))),
            ..Default::default()
        };
        let bytes = match self.store.get_opts(&path, options).await {
            Ok(r) => r.bytes().await.map_err(|e| self.err(key, e))?,
            // An empty object has no byte 0.
            Err(_) if meta.size == 0 => Bytes::new(),
            Err(e) => return Err(self.err(key, e)),
        };
        if bytes.len() as u64 > limit {
            // It grew since the size check.
            return Ok(Err(bytes.len() as u64));
        }
        Ok(Ok(bytes))
    }

    /// Whether the object exists.
    pub async fn exists(&self, key: &str) -> Result<bool, ConnectorError> {
        let path = self.path(key)?;
        match self.store.head(&path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.err(key, e)),
        }
    }

    /// Writes a small object in one request.
    pub async fn put(&self, key: &str, data: Bytes) -> Result<(), ConnectorError> {
        let path = self.path(key)?;
        self.store
            .put(&path, data.into())
            .await
            .map(|_| ())
            .map_err(|e| self.err(key, e))
    }

    /// Deletes the object; a missing object is not an error.
    pub async fn delete_if_exists(&self, key: &str) -> Result<(), ConnectorError> {
        let path = self.path(key)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err(key, e)),
        }
    }

    /// Lists the objects under `prefix` (a key prefix ending in `/`, or empty), sorted by key.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, ConnectorError> {
        let prefix_path = if prefix.is_empty() {
            None
        } else {
            Some(self.path(prefix.trim_end_matches('/'))?)
        };
        let mut out: Vec<ObjectInfo> = self
            .store
            .list(prefix_path.as_ref())
            .map(|r| {
                r.map(|m| ObjectInfo {
                    key: m.location.to_string(),
                    size: m.size,
                    last_modified_millis: m.last_modified.timestamp_millis(),
                })
            })
            .try_collect()
            .await
            .map_err(|e| self.err(prefix, e))?;
        // Local stores list in-progress uploads too (`<key>#<n>` staging files); hide them.
        out.retain(|o| !o.key.contains('#'));
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// The keys of the incomplete multipart uploads under `prefix` of an S3 bucket (none for
    /// a local bucket, whose unfinished parts are staging files beside their keys).
    pub async fn incomplete_uploads(&self, prefix: &str) -> Result<Vec<String>, ConnectorError> {
        match &self.s3 {
            Some((s3, _)) => Ok(s3admin::list_uploads(s3, &self.name, prefix)
                .await?
                .into_iter()
                .map(|(key, _)| key)
                .collect()),
            None => Ok(Vec::new()),
        }
    }

    /// Removes what writers of attempts before `attempt` left under `prefix` (a key prefix
    /// ending in `/`; with `recursive`, in every directory below it too): the staging files
    /// of a local bucket (`<key>#<attempt>`, which the listing hides) and the incomplete
    /// multipart uploads of an S3 bucket (stored, and billed, until aborted; an upload
    /// completed meanwhile is left as it is). An S3 upload does not say which attempt began
    /// it: `fence` is checked after listing them and before aborting any, so every upload
    /// aborted was begun before this attempt held the task (a worker that lost it cannot
    /// abort its successor's). Returns how many were removed.
    pub async fn remove_incomplete(
        &self,
        prefix: &str,
        attempt: u64,
        recursive: bool,
        fence: &dyn Fence,
    ) -> Result<u64, ConnectorError> {
        if let Some((s3, _)) = &self.s3 {
            let uploads = s3admin::list_uploads(s3, &self.name, prefix).await?;
            if uploads.is_empty() {
                return Ok(0);
            }
            fence.check().await?;
            return s3admin::abort_uploads(s3, &self.name, &uploads).await;
        }
        let Some(root) = &self.local_dir else {
            return Ok(0);
        };
        let prefix_path = self.path(prefix.trim_end_matches('/'))?;
        if NoFollow::link_in(root, &prefix_path).is_some() {
            // Never through a link.
            return Ok(0);
        }
        let dir = root.join(prefix.trim_end_matches('/'));
        tokio::task::spawn_blocking(move || remove_staging_files(&dir, attempt, recursive))
            .await
            .map_err(|e| {
                ConnectorError::io("cannot remove staging files", std::io::Error::other(e))
            })?
    }

    /// Starts writing an object for attempt `attempt` of a task; it becomes visible only once
    /// staged ([`PartWriter::stage`]) and published ([`super::StagedObject::publish`]).
    pub async fn writer(
        &self,
        key: &str,
        gzip: bool,
        attempt: u64,
    ) -> Result<PartWriter, ConnectorError> {
        PartWriter::start(self, key, gzip, attempt).await
    }
}

/// Removes the staging files (`<name>#<n>`, `n < attempt`) in `dir` (and, with `recursive`,
/// below it), never following a link. Returns how many.
fn remove_staging_files(
    dir: &std::path::Path,
    attempt: u64,
    recursive: bool,
) -> Result<u64, ConnectorError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => {
            return Err(ConnectorError::io(
                format!("cannot list {}", dir.display()),
                e,
            ));
        }
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        // `file_type` does not follow links: a link is never a staging file of ours, nor a
        // directory to go into.
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() && recursive {
            removed += remove_staging_files(&entry.path(), attempt, recursive)?;
            continue;
        }
        let name = entry.file_name();
        let staging = name
            .to_str()
            .and_then(|n| n.rsplit_once('#'))
            .and_then(|(_, n)| n.parse::<u64>().ok())
            .is_some_and(|n| n < attempt);
        if staging && file_type.is_file() {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(ConnectorError::io(
                        format!("cannot remove {}", entry.path().display()),
                        e,
                    ));
                }
            }
        }
    }
    Ok(removed)
}
