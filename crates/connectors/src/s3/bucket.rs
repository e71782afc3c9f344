//! One bucket: streaming reads, listing, deletes.

use super::S3Settings;
use super::admin as s3admin;
use super::nofollow::NoFollow;
use super::writer::PartWriter;
use crate::ConnectorError;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use letsdata_model::location::validate_key;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, GetResultPayload, ObjectStore};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Read buffer for local files.
const LOCAL_READ_BUFFER: usize = 1024 * 1024;
use std::pin::Pin;
use std::sync::Arc;
use tokio::io::AsyncBufRead;
use tokio_util::io::StreamReader;

/// A bucket resolved by [`super::ObjectStores`].
#[derive(Clone)]
pub struct Bucket {
    name: String,
    store: Arc<dyn ObjectStore>,
    /// The S3 settings when the bucket is on S3 (for what `object_store` does not do).
    s3: Option<Arc<S3Settings>>,
    /// The directory of a local bucket.
    local_dir: Option<std::path::PathBuf>,
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
        s3: Option<Arc<S3Settings>>,
        local_dir: Option<std::path::PathBuf>,
    ) -> Self {
        Self {
            name: name.to_string(),
            store,
            s3,
            local_dir,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
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
        let path = self.path(key)?;
        let options = GetOptions {
            range: (offset > 0).then_some(GetRange::Offset(offset)),
            ..Default::default()
        };
        let result = match self.store.get_opts(&path, options).await {
            Ok(r) => r,
            // Asking for an offset at the very end of the object is not an error: nothing is left.
            Err(object_store::Error::Generic { .. })
            | Err(object_store::Error::NotModified { .. })
                if offset > 0 =>
            {
                let meta = self.store.head(&path).await.map_err(|e| self.err(key, e))?;
                if meta.size <= offset {
                    return Ok(ObjectRead {
                        reader: Box::pin(tokio::io::BufReader::new(tokio::io::empty())),
                        size: meta.size,
                    });
                }
                self.store
                    .get_opts(
                        &path,
                        GetOptions {
                            range: Some(GetRange::Offset(offset)),
                            ..Default::default()
                        },
                    )
                    .await
                    .map_err(|e| self.err(key, e))?
            }
            Err(e) => return Err(self.err(key, e)),
        };
        let size = result.meta.size;
        // Local files: read the file directly with a large buffer instead of object_store's
        // 8 KiB chunked stream (one blocking call per chunk).
        let result = match result.payload {
            GetResultPayload::File(file, _) => {
                let start = result.range.start;
                let len = result.range.end - result.range.start;
                let mut file = tokio::fs::File::from_std(file);
                file.seek(std::io::SeekFrom::Start(start))
                    .await
                    .map_err(|e| {
                        ConnectorError::io(format!("cannot read s3://{}/{key}", self.name), e)
                    })?;
                return Ok(ObjectRead {
                    reader: Box::pin(tokio::io::BufReader::with_capacity(
                        LOCAL_READ_BUFFER,
                        file.take(len),
                    )),
                    size,
                });
            }
            GetResultPayload::Stream(_) => result,
        };
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

    /// Removes what writers that died left under `prefix` (a key prefix ending in `/`): the
    /// staging files of a local bucket (`<key>#<n>`, which the listing hides) and the
    /// incomplete multipart uploads of an S3 bucket (stored, and billed, until aborted).
    /// Returns how many were removed.
    pub async fn remove_incomplete(&self, prefix: &str) -> Result<u64, ConnectorError> {
        if let Some(s3) = &self.s3 {
            return s3admin::abort_uploads(s3, &self.name, prefix).await;
        }
        let Some(root) = &self.local_dir else {
            return Ok(0);
        };
        // `object_store` never lists staging files: look at the directory itself (the task's
        // parts are directly under its prefix).
        let prefix_path = self.path(prefix.trim_end_matches('/'))?;
        if NoFollow::link_in(root, &prefix_path).is_some() {
            // Never through a link.
            return Ok(0);
        }
        let dir = root.join(prefix.trim_end_matches('/'));
        let entries = match std::fs::read_dir(&dir) {
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
            let name = entry.file_name();
            let staging = name
                .to_str()
                .and_then(|n| n.rsplit_once('#'))
                .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            // `file_type` does not follow links: a link is never a staging file of ours.
            if staging && entry.file_type().is_ok_and(|t| t.is_file()) {
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

    /// Starts writing an object; it becomes visible only when [`PartWriter::finish`] returns.
    pub fn writer(&self, key: &str, gzip: bool) -> Result<PartWriter, ConnectorError> {
        let path = self.path(key)?;
        Ok(PartWriter::new(
            self.store.clone(),
            &self.name,
            key,
            path,
            gzip,
        ))
    }
}
