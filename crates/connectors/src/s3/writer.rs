//! Streaming object writes in two steps: staged (complete and durable, not visible), then
//! published (visible, atomically).
//!
//! A part object is written as a stream to where nothing reads it: locally a staging file
//! `<key>#<attempt>` beside the object (the listing hides it), on S3 a multipart upload
//! (uploads are not objects until completed). [`PartWriter::stage`] finishes it and returns
//! a [`StagedObject`]: what [`StagedObject::publish`] needs to make it visible (rename the
//! file; complete the upload). The engine records the staged object in the task's checkpoint
//! *before* publishing it, under its lease token: a worker that lost its task cannot record
//! one, so it can never make a part visible, and whoever holds the task next publishes what
//! the last checkpoint recorded if its writer did not get to it. Publishing twice is harmless
//! (the second finds the staging file, or the upload, gone and the object there).

use super::bucket::Bucket;
use crate::ConnectorError;
use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{MultipartId, PutPayload};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::sync::Arc;
use tokio::task::JoinSet;

/// Upload chunk size: memory per open writer is about twice this (three times on S3, with
/// two chunks in flight).
const UPLOAD_CAPACITY: usize = 8 * 1024 * 1024;
/// Chunks uploaded concurrently to S3.
const IN_FLIGHT: usize = 2;

/// A staged object: complete and durable, not yet visible. Recorded in a checkpoint as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum StagedObject {
    /// A local staging file `staging` (a key of the same bucket) to rename to `key`.
    #[serde(rename = "localFile")]
    Local { key: String, staging: String },
    /// An S3 multipart upload of `key` with every part uploaded, to complete.
    #[serde(rename = "s3Upload")]
    Upload {
        key: String,
        upload_id: String,
        /// The parts' ETags, in order.
        parts: Vec<String>,
    },
}

impl StagedObject {
    pub fn key(&self) -> &str {
        match self {
            Self::Local { key, .. } | Self::Upload { key, .. } => key,
        }
    }

    /// Makes the object visible in `bucket`. Idempotent: an object published already (by
    /// this worker or by whoever held the task next) is left as it is.
    pub async fn publish(&self, bucket: &Bucket) -> Result<(), ConnectorError> {
        match self {
            Self::Local { key, staging } => bucket.publish_staging_file(staging, key).await,
            Self::Upload {
                key,
                upload_id,
                parts,
            } => {
                let store = bucket.multipart(key)?;
                let path = bucket.path(key)?;
                let parts = parts
                    .iter()
                    .map(|etag| PartId {
                        content_id: etag.clone(),
                    })
                    .collect();
                match store.complete_multipart(&path, upload_id, parts).await {
                    Ok(_) => Ok(()),
                    // Completed already (S3 forgets a completed upload): the object is there.
                    Err(e) => match bucket.exists(key).await {
                        Ok(true) => Ok(()),
                        _ => Err(ConnectorError::from_store(bucket.name(), key, e)),
                    },
                }
            }
        }
    }

    /// Abandons the staged object (its checkpoint was refused: the lease was lost).
    pub async fn discard(&self, bucket: &Bucket) {
        let result = match self {
            Self::Local { staging, .. } => bucket.remove_staging_file(staging).await,
            Self::Upload { key, upload_id, .. } => {
                match (bucket.multipart(key), bucket.path(key)) {
                    (Ok(store), Ok(path)) => store
                        .abort_multipart(&path, upload_id)
                        .await
                        .map_err(|e| ConnectorError::from_store(bucket.name(), key, e)),
                    (Err(e), _) | (_, Err(e)) => Err(e),
                }
            }
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, key = self.key(), "discarding a staged part failed");
        }
    }
}

/// A local staging file: not created yet (it is, with the first bytes shipped or when the
/// part is staged, in the same blocking call), open, or in use by a write in flight.
enum LocalFile {
    NotCreated,
    Open(std::fs::File),
    InFlight,
}

impl LocalFile {
    /// Runs `write` on the file on a blocking thread, creating it first if need be.
    async fn with<T: Send + 'static>(
        &mut self,
        bucket: &Bucket,
        staging: &str,
        write: impl FnOnce(&mut std::fs::File) -> std::io::Result<T> + Send + 'static,
    ) -> Result<T, ConnectorError> {
        let key = staging.to_string();
        let (file, result) = match std::mem::replace(self, Self::InFlight) {
            Self::Open(mut f) => tokio::task::spawn_blocking(move || {
                let r = write(&mut f);
                (Some(f), r)
            })
            .await
            .map_err(|e| write_err(bucket, &key, e))?,
            Self::NotCreated => {
                let create = bucket.staging_file(staging)?;
                tokio::task::spawn_blocking(move || match create() {
                    Ok(mut f) => {
                        let r = write(&mut f);
                        (Some(f), r)
                    }
                    Err(e) => (None, Err(e)),
                })
                .await
                .map_err(|e| write_err(bucket, &key, e))?
            }
            Self::InFlight => unreachable!("one write at a time"),
        };
        *self = match file {
            Some(f) => Self::Open(f),
            None => Self::NotCreated,
        };
        result.map_err(|e| write_err(bucket, &key, e))
    }
}

/// Where the bytes go.
enum Target {
    /// A local staging file.
    Local { file: LocalFile, staging: String },
    /// An S3 multipart upload.
    Upload {
        store: Arc<dyn MultipartStore>,
        path: Path,
        id: MultipartId,
        /// Each chunk's part id, by chunk number, once uploaded.
        parts: Vec<Option<String>>,
        in_flight: JoinSet<(usize, object_store::Result<PartId>)>,
    },
}

/// One output object being written.
pub struct PartWriter {
    bucket: Bucket,
    key: String,
    target: Target,
    gzip: Option<GzEncoder<Vec<u8>>>,
    /// Bytes not handed to the target yet.
    buf: Vec<u8>,
    bytes_in: u64,
}

impl std::fmt::Debug for PartWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartWriter")
            .field("bucket", &self.bucket.name())
            .field("key", &self.key)
            .finish()
    }
}

impl PartWriter {
    /// Starts the object `key` of `bucket` for attempt `attempt` of its task (unique per
    /// attempt: it names the local staging file).
    pub(super) async fn start(
        bucket: &Bucket,
        key: &str,
        gzip: bool,
        attempt: u64,
    ) -> Result<Self, ConnectorError> {
        let target = if bucket.is_s3() {
            let store = bucket.multipart(key)?;
            let path = bucket.path(key)?;
            let id = store
                .create_multipart(&path)
                .await
                .map_err(|e| ConnectorError::from_store(bucket.name(), key, e))?;
            Target::Upload {
                store,
                path,
                id,
                parts: Vec::new(),
                in_flight: JoinSet::new(),
            }
        } else {
            Target::Local {
                file: LocalFile::NotCreated,
                staging: format!("{key}#{attempt}"),
            }
        };
        Ok(Self {
            bucket: bucket.clone(),
            key: key.to_string(),
            target,
            gzip: gzip.then(|| GzEncoder::new(Vec::new(), Compression::fast())),
            // Grows with what is written (a small part never holds a whole chunk).
            buf: Vec::new(),
            bytes_in: 0,
        })
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// Uncompressed bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.bytes_in
    }

    /// Appends bytes.
    pub async fn write(&mut self, data: &[u8]) -> Result<(), ConnectorError> {
        self.bytes_in += data.len() as u64;
        match &mut self.gzip {
            Some(encoder) => {
                encoder
                    .write_all(data)
                    .map_err(|e| write_err(&self.bucket, &self.key, e))?;
                if encoder.get_ref().len() >= UPLOAD_CAPACITY {
                    let chunk = std::mem::take(encoder.get_mut());
                    self.ship(chunk).await?;
                }
            }
            None => {
                self.buf.extend_from_slice(data);
                if self.buf.len() >= UPLOAD_CAPACITY {
                    let chunk = std::mem::take(&mut self.buf);
                    self.ship(chunk).await?;
                }
            }
        }
        Ok(())
    }

    /// Hands a chunk to the target.
    async fn ship(&mut self, chunk: Vec<u8>) -> Result<(), ConnectorError> {
        if chunk.is_empty() {
            return Ok(());
        }
        match &mut self.target {
            Target::Local { file, staging } => {
                file.with(&self.bucket, staging, move |f| f.write_all(&chunk))
                    .await
            }
            Target::Upload {
                store,
                path,
                id,
                parts,
                in_flight,
            } => {
                while in_flight.len() >= IN_FLIGHT {
                    let joined = in_flight.join_next().await.expect("in flight");
                    Self::landed(&self.bucket, &self.key, parts, joined)?;
                }
                let index = parts.len();
                parts.push(None);
                let (store, path, id) = (store.clone(), path.clone(), id.clone());
                let payload = PutPayload::from(Bytes::from(chunk));
                in_flight.spawn(async move {
                    (index, store.put_part(&path, &id, index, payload).await)
                });
                Ok(())
            }
        }
    }

    /// Records an uploaded chunk's part id.
    fn landed(
        bucket: &Bucket,
        key: &str,
        parts: &mut [Option<String>],
        joined: Result<(usize, object_store::Result<PartId>), tokio::task::JoinError>,
    ) -> Result<(), ConnectorError> {
        let (index, result) = joined.map_err(|e| ConnectorError::Io {
            what: format!("cannot write s3://{}/{key}", bucket.name()),
            message: e.to_string(),
            kind: crate::FailureKind::Internal,
        })?;
        let part = result.map_err(|e| ConnectorError::from_store(bucket.name(), key, e))?;
        parts[index] = Some(part.content_id);
        // A chunk is uploaded, the upload not complete: a crash here leaves it incomplete.
        crate::failpoints::hit("s3-chunk-uploaded");
        Ok(())
    }

    /// Completes the object without making it visible: once this returns, it is durable and
    /// [`StagedObject::publish`] makes it visible.
    pub async fn stage(mut self) -> Result<StagedObject, ConnectorError> {
        let rest = match self.gzip.take() {
            Some(encoder) => encoder
                .finish()
                .map_err(|e| write_err(&self.bucket, &self.key, e))?,
            None => std::mem::take(&mut self.buf),
        };
        let rest = match self.target {
            Target::Upload { .. } => {
                self.ship(rest).await?;
                Vec::new()
            }
            Target::Local { .. } => rest,
        };
        match &mut self.target {
            Target::Local { file, staging } => {
                // Created (for a small part) and the rest written by the thread that then
                // flushes it to the disk with the parts staged meanwhile. A kill -9 keeps what
                // the kernel has; the flush makes the part survive a crash of the machine too,
                // like the checkpoint that records it.
                let last_write: super::flush::LastWrite =
                    match std::mem::replace(file, LocalFile::NotCreated) {
                        LocalFile::Open(mut f) => Box::new(move || {
                            f.write_all(&rest)?;
                            Ok(f)
                        }),
                        LocalFile::NotCreated => {
                            let create = self.bucket.staging_file(staging)?;
                            Box::new(move || {
                                let mut f = create()?;
                                f.write_all(&rest)?;
                                Ok(f)
                            })
                        }
                        LocalFile::InFlight => unreachable!("one write at a time"),
                    };
                self.bucket
                    .flush_staging_file(last_write)
                    .await
                    .map_err(|e| write_err(&self.bucket, staging, e))?;
                Ok(StagedObject::Local {
                    key: self.key.clone(),
                    staging: staging.clone(),
                })
            }
            Target::Upload {
                id,
                parts,
                in_flight,
                ..
            } => {
                while let Some(joined) = in_flight.join_next().await {
                    Self::landed(&self.bucket, &self.key, parts, joined)?;
                }
                Ok(StagedObject::Upload {
                    key: self.key.clone(),
                    upload_id: id.clone(),
                    parts: parts
                        .iter_mut()
                        .map(|p| p.take().expect("every chunk landed"))
                        .collect(),
                })
            }
        }
    }

    /// Abandons the object (nothing becomes visible).
    pub async fn abort(self) {
        match self.target {
            Target::Local {
                file: LocalFile::NotCreated,
                ..
            } => {}
            Target::Local { staging, .. } => {
                if let Err(e) = self.bucket.remove_staging_file(&staging).await {
                    tracing::debug!(error = %e, key = %self.key, "removing a staging file failed");
                }
            }
            Target::Upload {
                store,
                path,
                id,
                mut in_flight,
                ..
            } => {
                in_flight.abort_all();
                if let Err(e) = store.abort_multipart(&path, &id).await {
                    tracing::debug!(error = %e, key = %self.key, "abort of part upload failed");
                }
            }
        }
    }
}

fn write_err(bucket: &Bucket, key: &str, e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Io {
        what: format!("cannot write s3://{}/{key}", bucket.name()),
        message: e.to_string(),
        kind: crate::FailureKind::Transient,
    }
}
