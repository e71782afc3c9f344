//! Streaming object writes that become visible atomically.
//!
//! `object_store`'s `BufWriter` sends one PUT for small objects and a multipart upload for large
//! ones; either way the object appears only when the upload completes (locally: a staging file
//! renamed into place). A crash before [`PartWriter::finish`] leaves no partial object, and
//! writing the same key again replaces it: together with deterministic part names this gives
//! exactly-once output files.

use crate::ConnectorError;
use async_compression::Level;
use async_compression::tokio::write::GzipEncoder;
use object_store::ObjectStore;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Upload chunk size: memory per open writer is about twice this.
const UPLOAD_CAPACITY: usize = 8 * 1024 * 1024;

enum Sink {
    Plain(BufWriter),
    Gzip(GzipEncoder<BufWriter>),
}

/// One output object being written.
pub struct PartWriter {
    sink: Sink,
    bucket: String,
    key: String,
    bytes_in: u64,
}

impl std::fmt::Debug for PartWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartWriter")
            .field("bucket", &self.bucket)
            .field("key", &self.key)
            .finish()
    }
}

impl PartWriter {
    pub(super) fn new(
        store: Arc<dyn ObjectStore>,
        bucket: &str,
        key: &str,
        path: Path,
        gzip: bool,
    ) -> Self {
        let inner = BufWriter::with_capacity(store, path, UPLOAD_CAPACITY);
        let sink = if gzip {
            Sink::Gzip(GzipEncoder::with_quality(inner, Level::Fastest))
        } else {
            Sink::Plain(inner)
        };
        Self {
            sink,
            bucket: bucket.to_string(),
            key: key.to_string(),
            bytes_in: 0,
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// Uncompressed bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.bytes_in
    }

    fn io_err(&self, e: std::io::Error) -> ConnectorError {
        ConnectorError::io(format!("cannot write s3://{}/{}", self.bucket, self.key), e)
    }

    fn sink(&mut self) -> &mut (dyn AsyncWrite + Unpin + Send) {
        match &mut self.sink {
            Sink::Plain(w) => w,
            Sink::Gzip(w) => w,
        }
    }

    /// Appends bytes.
    pub async fn write(&mut self, data: &[u8]) -> Result<(), ConnectorError> {
        let r = self.sink().write_all(data).await;
        r.map_err(|e| self.io_err(e))?;
        self.bytes_in += data.len() as u64;
        Ok(())
    }

    /// Completes the object: once this returns, it is durable and visible.
    pub async fn finish(mut self) -> Result<(), ConnectorError> {
        let r = self.sink().shutdown().await;
        r.map_err(|e| self.io_err(e))
    }

    /// Abandons the object (nothing becomes visible).
    pub async fn abort(self) {
        let mut inner = match self.sink {
            Sink::Plain(w) => w,
            Sink::Gzip(w) => w.into_inner(),
        };
        if let Err(e) = inner.abort().await {
            tracing::debug!(error = %e, key = %self.key, "abort of part upload failed");
        }
    }
}
