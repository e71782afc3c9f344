//! A task's output: part objects in the write bucket and error records in the error bucket.
//!
//! Part `n` of a task is `<datasetName>/<taskId>/part-<n>.jsonl` (`.jsonl.gz` when compressed)
//! in both buckets. Documents and error records are buffered per record into reusable byte
//! buffers and handed to the streaming writers in ~1 MiB chunks. [`PartOutput::roll`] completes
//! both objects (durable, visible), and deletes a stale copy of an object this part did not
//! write, left by an earlier attempt that crashed before its checkpoint. After `roll` the
//! caller checkpoints, and only then does the next part begin, so only the part an
//! invocation resumes at can have such copies: later rolls (every 5 s in a stream task) do
//! not ask the buckets again.
//!
//! When the write connector is a Kinesis stream, an SQS queue or a DynamoDB table, documents
//! are sent there instead (in batches, whenever a chunk has accumulated and at every roll), and
//! documents the destination rejects for their content become error records of the same
//! part, so they are durable before the checkpoint too.

use super::sink::Destination;
use base64::Engine as _;
use letsdata_connectors::ConnectorError;
use letsdata_connectors::object::{Bucket, PartWriter};

const CHUNK: usize = 1024 * 1024;

/// Where a task's parts go.
pub(crate) struct PartOutput {
    /// `None` when documents go to a [`Destination`].
    write_bucket: Option<Bucket>,
    error_bucket: Bucket,
    destination: Option<Destination>,
    /// Destination mode: where each buffered document ends in `docs` (its `\n` excluded),
    /// and its id in `ids`.
    doc_ends: Vec<(usize, usize)>,
    ids: String,
    /// Documents handed to the destination in this part (for fallback ids).
    sent: u64,
    /// Documents the destination rejected since [`PartOutput::take_rejected`].
    rejected: u64,
    dataset_name: String,
    dataset_id: String,
    task_id: String,
    /// File type and name error records of rejected documents carry.
    source: (String, String),
    prefix: String,
    gzip: bool,
    pub(crate) part: u64,
    pub(crate) docs: Vec<u8>,
    pub(crate) errors: Vec<u8>,
    doc_writer: Option<PartWriter>,
    error_writer: Option<PartWriter>,
    /// Uncompressed bytes in this part (both objects).
    pub(crate) part_bytes: u64,
    /// Whether stale copies of the resumed part's objects have been deleted (or replaced).
    stale_cleared: bool,
}

/// Identifies the records an error record describes.
pub(crate) struct ErrorContext<'a> {
    pub dataset_name: &'a str,
    pub dataset_id: &'a str,
    pub task_id: &'a str,
    pub file_type: &'a str,
    pub file_name: &'a str,
}

/// Where documents go: part objects in the write bucket, or a stream, queue or table.
pub(crate) enum DocTarget {
    Bucket(Bucket),
    Destination(Destination),
}

impl PartOutput {
    pub(crate) fn new(
        target: DocTarget,
        error_bucket: Bucket,
        (dataset_name, dataset_id): (&str, &str),
        task_id: &str,
        gzip: bool,
        part: u64,
    ) -> Self {
        let (write_bucket, destination) = match target {
            DocTarget::Bucket(b) => (Some(b), None),
            DocTarget::Destination(d) => (None, Some(d)),
        };
        Self {
            write_bucket,
            error_bucket,
            destination,
            doc_ends: Vec::new(),
            ids: String::new(),
            sent: 0,
            rejected: 0,
            dataset_name: dataset_name.to_string(),
            dataset_id: dataset_id.to_string(),
            task_id: task_id.to_string(),
            source: (String::new(), String::new()),
            prefix: format!("{dataset_name}/{task_id}"),
            gzip,
            part,
            docs: Vec::with_capacity(CHUNK + 64 * 1024),
            errors: Vec::new(),
            doc_writer: None,
            error_writer: None,
            part_bytes: 0,
            stale_cleared: false,
        }
    }

    /// The file type and name of error records for documents the destination rejects.
    pub(crate) fn set_source(&mut self, file_type: &str, file_name: &str) {
        self.source = (file_type.to_string(), file_name.to_string());
    }

    /// Ends the document just written into `docs` (the parser wrote it there), with its id
    /// (empty: none).
    #[inline]
    pub(crate) fn end_doc(&mut self, id: &str) {
        if self.destination.is_some() {
            self.ids.push_str(id);
            self.doc_ends.push((self.docs.len(), self.ids.len()));
        }
        self.docs.push(b'\n');
    }

    /// Appends one document.
    pub(crate) fn push_doc(&mut self, doc: &[u8], id: &str) {
        self.docs.extend_from_slice(doc);
        self.end_doc(id);
    }

    /// Documents the destination rejected (now error records) since the last call.
    pub(crate) fn take_rejected(&mut self) -> u64 {
        std::mem::take(&mut self.rejected)
    }

    fn doc_key(&self) -> String {
        let ext = if self.gzip { "jsonl.gz" } else { "jsonl" };
        format!("{}/part-{:05}.{ext}", self.prefix, self.part)
    }

    fn error_key(&self) -> String {
        format!("{}/part-{:05}.jsonl", self.prefix, self.part)
    }

    /// Whether a chunk of documents or error records has accumulated ([`Self::maybe_flush`]
    /// would hand it to its writer).
    #[inline]
    pub(crate) fn chunk_full(&self) -> bool {
        self.docs.len() >= CHUNK || self.errors.len() >= CHUNK
    }

    /// Hands buffered bytes to the writers once a chunk has accumulated.
    pub(crate) async fn maybe_flush(&mut self) -> Result<(), ConnectorError> {
        if self.docs.len() >= CHUNK {
            self.flush_docs().await?;
        }
        if self.errors.len() >= CHUNK {
            self.flush_errors().await?;
        }
        Ok(())
    }

    async fn flush_docs(&mut self) -> Result<(), ConnectorError> {
        if self.docs.is_empty() {
            return Ok(());
        }
        if self.destination.is_some() {
            return self.send_docs().await;
        }
        if self.doc_writer.is_none() {
            let bucket = self
                .write_bucket
                .as_ref()
                .expect("no destination: a write bucket");
            self.doc_writer = Some(bucket.writer(&self.doc_key(), self.gzip)?);
        }
        let writer = self.doc_writer.as_mut().expect("writer opened above");
        writer.write(&self.docs).await?;
        self.part_bytes += self.docs.len() as u64;
        self.docs.clear();
        Ok(())
    }

    /// Sends the buffered documents to the destination; rejected ones become error records.
    async fn send_docs(&mut self) -> Result<(), ConnectorError> {
        let destination = self.destination.as_ref().expect("destination mode");
        let mut docs: Vec<&[u8]> = Vec::with_capacity(self.doc_ends.len());
        let mut ids: Vec<std::borrow::Cow<'_, str>> = Vec::with_capacity(self.doc_ends.len());
        let (mut doc_start, mut id_start) = (0, 0);
        for (i, &(doc_end, id_end)) in self.doc_ends.iter().enumerate() {
            docs.push(&self.docs[doc_start..doc_end]);
            let id = &self.ids[id_start..id_end];
            ids.push(if id.is_empty() {
                // Stable across retries: a replay starts the same part at the same record.
                format!("{}:{}:{}", self.task_id, self.part, self.sent + i as u64).into()
            } else {
                id.into()
            });
            doc_start = doc_end + 1;
            id_start = id_end;
        }
        let rejected = destination.send(&docs, &ids).await?;
        let what = destination.describe();
        let mut errors = std::mem::take(&mut self.errors);
        for r in &rejected {
            let ctx = ErrorContext {
                dataset_name: &self.dataset_name,
                dataset_id: &self.dataset_id,
                task_id: &self.task_id,
                file_type: &self.source.0,
                file_name: &self.source.1,
            };
            write_error_record(
                &mut errors,
                &ctx,
                Pairs(&[]),
                Pairs(&[]),
                &format!("the {what} rejected the document: {}", r.reason),
                Some(&ids[r.index]),
                docs[r.index],
            );
        }
        self.rejected += rejected.len() as u64;
        self.sent += docs.len() as u64;
        self.part_bytes += self.docs.len() as u64;
        drop(docs);
        drop(ids);
        self.errors = errors;
        self.docs.clear();
        self.doc_ends.clear();
        self.ids.clear();
        Ok(())
    }

    async fn flush_errors(&mut self) -> Result<(), ConnectorError> {
        if self.errors.is_empty() {
            return Ok(());
        }
        if self.error_writer.is_none() {
            self.error_writer = Some(self.error_bucket.writer(&self.error_key(), false)?);
        }
        let writer = self.error_writer.as_mut().expect("writer opened above");
        writer.write(&self.errors).await?;
        self.part_bytes += self.errors.len() as u64;
        self.errors.clear();
        Ok(())
    }

    /// Bytes in the current part, buffered or written.
    pub(crate) fn pending_bytes(&self) -> u64 {
        self.part_bytes + self.docs.len() as u64 + self.errors.len() as u64
    }

    /// Makes the current part durable and moves to the next part number.
    /// Returns the next part number to checkpoint.
    pub(crate) async fn roll(&mut self) -> Result<u64, ConnectorError> {
        self.flush_docs().await?;
        self.flush_errors().await?;
        let doc_key = self.doc_key();
        let error_key = self.error_key();
        let wrote_docs = match (self.doc_writer.take(), &self.write_bucket) {
            (Some(w), _) => {
                w.finish().await?;
                true
            }
            (None, Some(bucket)) => {
                if !self.stale_cleared {
                    bucket.delete_if_exists(&doc_key).await?;
                }
                false
            }
            // Documents went to the destination: the part number moves on too, so that the
            // fallback document ids (`<taskId>:<part>:<n>`) of the next part are new ones.
            (None, None) => self.sent > 0,
        };
        let wrote_errors = match self.error_writer.take() {
            Some(w) => {
                w.finish().await?;
                true
            }
            None => {
                if !self.stale_cleared {
                    self.error_bucket.delete_if_exists(&error_key).await?;
                }
                false
            }
        };
        // The next part number (or this one again, now free of stale copies) cannot have
        // any: the checkpoint that follows this roll comes before any later part begins.
        self.stale_cleared = true;
        if wrote_docs || wrote_errors {
            self.part += 1;
        }
        self.sent = 0;
        self.part_bytes = 0;
        Ok(self.part)
    }

    /// Abandons the current part (the lease was lost): nothing of it becomes visible.
    pub(crate) async fn abort(&mut self) {
        if let Some(w) = self.doc_writer.take() {
            w.abort().await;
        }
        if let Some(w) = self.error_writer.take() {
            w.abort().await;
        }
        self.docs.clear();
        self.errors.clear();
        self.doc_ends.clear();
        self.ids.clear();
    }

    /// Appends one error record (a JSON line) describing a bad record.
    pub(crate) fn push_error(
        &mut self,
        ctx: &ErrorContext<'_>,
        start: u64,
        end: u64,
        message: &str,
        document_id: &str,
        raw: &[u8],
    ) {
        self.write_error(
            ctx,
            OffsetMap(ctx.file_type, start),
            OffsetMap(ctx.file_type, end),
            message,
            (!document_id.is_empty()).then_some(document_id),
            raw,
        );
    }

    /// Appends the error record of a record longer than the maximum; `head` is the part of it
    /// the reader kept.
    pub(crate) fn push_oversize(
        &mut self,
        ctx: &ErrorContext<'_>,
        start: u64,
        end: u64,
        head: &[u8],
    ) {
        let message = format!(
            "record is {} bytes, more than the {} bytes a record may have",
            end - start,
            letsdata_records::DEFAULT_MAX_RECORD_BYTES
        );
        self.push_error(ctx, start, end, &message, "", head);
    }

    /// Appends one error record for an error document of user code, with the document's
    /// own offset maps (one entry per file type; empty maps are allowed).
    pub(crate) fn push_error_doc(
        &mut self,
        ctx: &ErrorContext<'_>,
        start: &[(String, String)],
        end: &[(String, String)],
        message: &str,
        document_id: Option<&str>,
        raw: &[u8],
    ) {
        self.write_error(ctx, Pairs(start), Pairs(end), message, document_id, raw);
    }

    fn write_error<M: serde::Serialize>(
        &mut self,
        ctx: &ErrorContext<'_>,
        start: M,
        end: M,
        message: &str,
        document_id: Option<&str>,
        raw: &[u8],
    ) {
        write_error_record(&mut self.errors, ctx, start, end, message, document_id, raw);
    }
}

/// Appends one error record (a JSON line) to `errors`.
fn write_error_record<M: serde::Serialize>(
    errors: &mut Vec<u8>,
    ctx: &ErrorContext<'_>,
    start: M,
    end: M,
    message: &str,
    document_id: Option<&str>,
    raw: &[u8],
) {
    let (raw_text, encoding) = match std::str::from_utf8(raw) {
        Ok(s) => (std::borrow::Cow::Borrowed(s), "utf8"),
        Err(_) => (
            std::borrow::Cow::Owned(base64::engine::general_purpose::STANDARD.encode(raw)),
            "base64",
        ),
    };
    let record = ErrorRecord {
        dataset_name: ctx.dataset_name,
        dataset_id: ctx.dataset_id,
        task_id: ctx.task_id,
        file_type: ctx.file_type,
        file_name: ctx.file_name,
        error_start_offset_map: start,
        error_end_offset_map: end,
        error_message: message,
        document_id,
        raw_record: &raw_text,
        raw_record_encoding: encoding,
    };
    serde_json::to_writer(&mut *errors, &record).expect("writing to a Vec cannot fail");
    errors.push(b'\n');
}

/// An offset map given as pairs, serialized as a JSON object.
struct Pairs<'a>(&'a [(String, String)]);

impl serde::Serialize for Pairs<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// One error record; `M` is the offset map's form.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorRecord<'a, M> {
    dataset_name: &'a str,
    dataset_id: &'a str,
    task_id: &'a str,
    file_type: &'a str,
    file_name: &'a str,
    error_start_offset_map: M,
    error_end_offset_map: M,
    error_message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    document_id: Option<&'a str>,
    raw_record: &'a str,
    raw_record_encoding: &'a str,
}

/// `{"<fileType>": "<offset>"}` without allocating a map.
struct OffsetMap<'a>(&'a str, u64);

impl serde::Serialize for OffsetMap<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(self.0, &self.1.to_string())?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use letsdata_connectors::object::ObjectStores;

    /// Stale copies are deleted for the part an invocation resumes at, and only for it.
    #[tokio::test]
    async fn only_the_resumed_part_is_cleared_of_stale_copies() {
        let dir = tempfile::tempdir().expect("tempdir");
        for b in ["docs", "errors"] {
            std::fs::create_dir_all(dir.path().join(b)).expect("bucket dir");
        }
        let stores = ObjectStores::local(dir.path().to_path_buf());
        let (docs, errors) = (
            stores.bucket("docs").expect("docs"),
            stores.bucket("errors").expect("errors"),
        );
        let stale = |key: &'static str| Bytes::from_static(key.as_bytes());
        // An earlier attempt wrote part 3 with documents and errors, then died before its
        // checkpoint; this attempt resumes at part 3 and has no errors there.
        errors
            .put("Ds/t1/part-00003.jsonl", stale("old errors"))
            .await
            .expect("put");
        let mut out = PartOutput::new(
            DocTarget::Bucket(docs.clone()),
            errors.clone(),
            ("Ds", "id"),
            "t1",
            false,
            3,
        );
        out.push_doc(br#"{"a":1}"#, "a");
        assert_eq!(out.roll().await.expect("roll"), 4);
        assert!(docs.exists("Ds/t1/part-00003.jsonl").await.expect("exists"));
        assert!(
            !errors
                .exists("Ds/t1/part-00003.jsonl")
                .await
                .expect("exists"),
            "the stale error object of the resumed part is deleted"
        );

        // Part 4 began after part 3's checkpoint, so nothing can have written it: the roll
        // does not look (an object put there by hand stays).
        errors
            .put("Ds/t1/part-00004.jsonl", stale("not from letsdata"))
            .await
            .expect("put");
        out.push_doc(br#"{"a":2}"#, "b");
        assert_eq!(out.roll().await.expect("roll"), 5);
        assert!(
            errors
                .exists("Ds/t1/part-00004.jsonl")
                .await
                .expect("exists")
        );

        // A part with nothing in it keeps its number and writes nothing.
        assert_eq!(out.roll().await.expect("roll"), 5);
        assert!(!docs.exists("Ds/t1/part-00005.jsonl").await.expect("exists"));
    }
}
