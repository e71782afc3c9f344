//! A task's output: documents to the write connector's sink and error records to the error
//! connector's, numbered in parts.
//!
//! Documents and error records are buffered per record into reusable byte buffers and handed to
//! the sinks' writers in ~1 MiB chunks: as lines to writers that take bytes (part objects), or
//! one by one with their ids to the others (streams, queues, tables, ...). [`PartOutput::stage`]
//! makes the part durable in both sinks (part objects staged, not visible); the caller
//! checkpoints, recording what was staged, then [`PartOutput::publish`]es it, and only then
//! does the next part begin. Documents a sink rejects for their content become error records of the
//! same part, so they are durable before the checkpoint too.

use crate::vectors::{Constructed, TaskVectors, VectorsDoc};
use base64::Engine as _;
use letsdata_connectors::ConnectorError;
use letsdata_connectors::failpoints;
use letsdata_connectors::sink::{DocumentBatch, Fence, SinkWriter};
use letsdata_model::task::StagedParts;
use std::borrow::Cow;

const CHUNK: usize = 1024 * 1024;
/// Documents are embedded (the vectors engine) this many bytes of them at a time: a few hundred
/// documents, seconds of the model's time, so that an invocation's time budget is checked
/// often enough.
const VECTORS_CHUNK: usize = 32 * 1024;

/// Where a task's parts go.
pub(crate) struct PartOutput {
    documents: Box<dyn SinkWriter>,
    errors_out: Box<dyn SinkWriter>,
    /// The document writer takes lines (else documents one by one with their ids).
    lines: bool,
    /// Where each buffered document ends in `docs` (its `\n` excluded), and its id in `ids`;
    /// kept for documents written one by one, and for the vectors engine.
    doc_ends: Vec<(usize, usize)>,
    ids: String,
    /// Documents handed over in this part (for fallback ids).
    sent: u64,
    /// Documents the destination rejected since [`PartOutput::take_rejected`].
    rejected: u64,
    /// Documents the vectors engine skipped since [`PartOutput::take_skipped`].
    skipped: u64,
    dataset_name: String,
    dataset_id: String,
    task_id: String,
    /// File type and name error records of rejected documents carry.
    source: (String, String),
    pub(crate) part: u64,
    pub(crate) docs: Vec<u8>,
    pub(crate) errors: Vec<u8>,
    /// Uncompressed bytes in this part (both sinks).
    part_bytes: u64,
    /// A part is complete at this many bytes.
    part_target: u64,
    /// Embeds the documents before they are written (the vectors engine).
    vectors: Option<TaskVectors>,
}

/// Identifies the records an error record describes.
pub(crate) struct ErrorContext<'a> {
    pub dataset_name: &'a str,
    pub dataset_id: &'a str,
    pub task_id: &'a str,
    pub file_type: &'a str,
    pub file_name: &'a str,
}

impl PartOutput {
    /// Output of task `task_id` from part `part` on, completing parts at `part_target` bytes.
    pub(crate) fn new(
        documents: Box<dyn SinkWriter>,
        errors: Box<dyn SinkWriter>,
        (dataset_name, dataset_id): (&str, &str),
        task_id: &str,
        part: u64,
        part_target: u64,
    ) -> Self {
        Self {
            lines: documents.takes_lines(),
            documents,
            errors_out: errors,
            doc_ends: Vec::new(),
            ids: String::new(),
            sent: 0,
            rejected: 0,
            skipped: 0,
            dataset_name: dataset_name.to_string(),
            dataset_id: dataset_id.to_string(),
            task_id: task_id.to_string(),
            source: (String::new(), String::new()),
            part,
            // Grown as documents come, so a small task's stays small: with a megabyte
            // reserved per invocation, the hundreds opening or finishing at once made the
            // heap's peak 105 MB over 30,000 one-line files (26 MB without).
            docs: Vec::new(),
            errors: Vec::new(),
            part_bytes: 0,
            part_target,
            vectors: None,
        }
    }

    /// The vectors engine's stage for this invocation: documents are embedded before they are
    /// written.
    pub(crate) fn set_vectors(&mut self, vectors: TaskVectors) {
        self.vectors = Some(vectors);
    }

    /// Whether each document's end and id are kept.
    #[inline]
    fn tracks_documents(&self) -> bool {
        !self.lines || self.vectors.is_some()
    }

    /// The file type and name of error records for documents the destination rejects.
    pub(crate) fn set_source(&mut self, file_type: &str, file_name: &str) {
        self.source = (file_type.to_string(), file_name.to_string());
    }

    /// Ends the document just written into `docs` (the parser wrote it there), with its id
    /// (empty: none).
    #[inline]
    pub(crate) fn end_doc(&mut self, id: &str) {
        if self.tracks_documents() {
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

    /// Documents the vectors engine's interface skipped since the last call.
    pub(crate) fn take_skipped(&mut self) -> u64 {
        std::mem::take(&mut self.skipped)
    }

    /// Whether a chunk of documents or error records has accumulated ([`Self::flush`] would
    /// hand it to its writer).
    #[inline]
    pub(crate) fn chunk_full(&self) -> bool {
        self.docs_chunk_full() || self.errors.len() >= CHUNK
    }

    #[inline]
    fn docs_chunk_full(&self) -> bool {
        let chunk = if self.vectors.is_some() {
            VECTORS_CHUNK
        } else {
            CHUNK
        };
        self.docs.len() >= chunk
    }

    /// Whether the part has reached its target size (it is due to be rolled).
    #[inline]
    pub(crate) fn part_full(&self) -> bool {
        self.pending_bytes() >= self.part_target
    }

    /// Whether output is due: a chunk to hand over, or the part to roll.
    #[inline]
    pub(crate) fn due(&self) -> bool {
        self.chunk_full() || self.part_full()
    }

    /// Hands buffered bytes to the writers once a chunk has accumulated.
    pub(crate) async fn flush(&mut self) -> Result<(), ConnectorError> {
        if self.docs_chunk_full() {
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
        self.vectorize().await?;
        if self.docs.is_empty() {
            return Ok(());
        }
        if !self.lines {
            return self.send_docs().await;
        }
        self.documents
            .write(self.part, DocumentBatch::Lines(&self.docs))
            .await?;
        self.part_bytes += self.docs.len() as u64;
        self.docs.clear();
        self.doc_ends.clear();
        self.ids.clear();
        Ok(())
    }

    /// The vectors engine: replaces the buffered documents with the documents their
    /// `SagemakerVectorsInterface` constructed (keeping the reader's ids where it gave none);
    /// those it cannot vectorize become error records of the part, those it skips are counted.
    async fn vectorize(&mut self) -> Result<(), ConnectorError> {
        let Some(mut vectors) = self.vectors.take() else {
            return Ok(());
        };
        let docs = std::mem::take(&mut self.docs);
        let doc_ends = std::mem::take(&mut self.doc_ends);
        let ids = std::mem::take(&mut self.ids);
        let mut chunk = Vec::with_capacity(doc_ends.len());
        let (mut doc_start, mut id_start) = (0, 0);
        for &(doc_end, id_end) in &doc_ends {
            let id = &ids[id_start..id_end];
            chunk.push(VectorsDoc {
                text: &docs[doc_start..doc_end],
                id: (!id.is_empty()).then_some(id),
            });
            doc_start = doc_end + 1;
            id_start = id_end;
        }
        let outcome = vectors.run(&chunk).await;
        self.vectors = Some(vectors);
        let mut errors = std::mem::take(&mut self.errors);
        for (doc, made) in chunk.iter().zip(outcome?) {
            match made {
                Constructed::Document { serialized, id } => {
                    match super::wasm::unwritable(&serialized) {
                        None => self.push_doc(&serialized, id.as_deref().or(doc.id).unwrap_or("")),
                        Some(why) => {
                            self.reject(
                                &mut errors,
                                &format!("constructVectorDoc: {why}"),
                                doc.id,
                                doc.text,
                            );
                            self.rejected += 1;
                        }
                    }
                }
                Constructed::Error(reason) => {
                    self.reject(&mut errors, &reason, doc.id, doc.text);
                    self.rejected += 1;
                }
                Constructed::Skip => self.skipped += 1,
            }
        }
        self.errors = errors;
        Ok(())
    }

    /// Appends to `errors` the error record of a document that will not be written (the
    /// destination or the vectors engine rejected it for `message`).
    fn reject(&self, errors: &mut Vec<u8>, message: &str, id: Option<&str>, doc: &[u8]) {
        let ctx = ErrorContext {
            dataset_name: &self.dataset_name,
            dataset_id: &self.dataset_id,
            task_id: &self.task_id,
            file_type: &self.source.0,
            file_name: &self.source.1,
        };
        write_error_record(
            errors,
            &ctx,
            Pairs(&[]),
            Pairs(&[]),
            message,
            id,
            doc,
            doc.len() as u64,
        );
    }

    /// Sends the buffered documents one by one; rejected ones become error records.
    async fn send_docs(&mut self) -> Result<(), ConnectorError> {
        let mut docs: Vec<&[u8]> = Vec::with_capacity(self.doc_ends.len());
        let mut ids: Vec<Cow<'_, str>> = Vec::with_capacity(self.doc_ends.len());
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
        let batch = DocumentBatch::Documents {
            documents: &docs,
            ids: &ids,
        };
        let rejected = self.documents.write(self.part, batch).await?;
        let what = self.documents.describe();
        let mut errors = std::mem::take(&mut self.errors);
        for r in &rejected {
            self.reject(
                &mut errors,
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
        self.errors_out
            .write(self.part, DocumentBatch::Lines(&self.errors))
            .await?;
        self.part_bytes += self.errors.len() as u64;
        self.errors.clear();
        Ok(())
    }

    /// Bytes in the current part, buffered or written.
    pub(crate) fn pending_bytes(&self) -> u64 {
        self.part_bytes + self.docs.len() as u64 + self.errors.len() as u64
    }

    /// Documents are about to be written: the document writer may start its part now (an
    /// upload begun while the invocation waits for a slot).
    pub(crate) async fn prepare(&mut self) -> Result<(), ConnectorError> {
        self.documents.prepare(self.part).await
    }

    /// Before the invocation's first write: publishes what the task's last checkpoint
    /// staged (its worker may have died before publishing it) and removes what earlier
    /// attempts left unfinished.
    pub(crate) async fn recover(
        &mut self,
        last: &StagedParts,
        fence: &dyn Fence,
    ) -> Result<(), ConnectorError> {
        self.documents
            .recover(last.documents.as_ref(), fence)
            .await?;
        self.errors_out.recover(last.errors.as_ref(), fence).await?;
        Ok(())
    }

    /// Makes the current part durable in both sinks (part objects staged, not yet visible)
    /// and moves to the next part number. Returns the next part number and what was staged,
    /// for the checkpoint to record before [`Self::publish`].
    pub(crate) async fn stage(&mut self) -> Result<(u64, StagedParts), ConnectorError> {
        self.flush_docs().await?;
        self.flush_errors().await?;
        failpoints::hit("part-commit");
        let documents = self.documents.stage(self.part).await?;
        failpoints::hit("part-committed-documents");
        let errors = self.errors_out.stage(self.part).await?;
        failpoints::hit("part-committed");
        if documents.wrote() || errors.wrote() {
            self.part += 1;
        }
        self.sent = 0;
        self.part_bytes = 0;
        let staged = StagedParts {
            documents: documents.pending().cloned(),
            errors: errors.pending().cloned(),
        };
        Ok((self.part, staged))
    }

    /// Makes what [`Self::stage`] staged visible, once the checkpoint recorded it.
    pub(crate) async fn publish(&mut self, staged: &StagedParts) -> Result<(), ConnectorError> {
        if let Some(v) = &staged.documents {
            self.documents.publish(v).await?;
        }
        failpoints::hit("part-published-documents");
        if let Some(v) = &staged.errors {
            self.errors_out.publish(v).await?;
        }
        Ok(())
    }

    /// Abandons the current part (the lease was lost): nothing of it becomes visible.
    pub(crate) async fn abort(&mut self) {
        self.documents.abort().await;
        self.errors_out.abort().await;
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
        write_error_record(
            &mut self.errors,
            ctx,
            OffsetMap(ctx.file_type, start),
            OffsetMap(ctx.file_type, end),
            message,
            (!document_id.is_empty()).then_some(document_id),
            raw,
            raw.len() as u64,
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
        write_error_record(
            &mut self.errors,
            ctx,
            OffsetMap(ctx.file_type, start),
            OffsetMap(ctx.file_type, end),
            &message,
            None,
            head,
            end - start,
        );
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
        write_error_record(
            &mut self.errors,
            ctx,
            Pairs(start),
            Pairs(end),
            message,
            document_id,
            raw,
            raw.len() as u64,
        );
    }
}

/// Most bytes of a bad record kept in its error record's `rawRecord`, counted as written
/// (after JSON escaping, or base64): a longer record is cut there and marked with
/// `rawRecordTruncated` and its `rawRecordSizeBytes`, so one error record stays small whatever
/// the record holds (a record of NUL bytes would otherwise grow sixfold as `\u0000`).
pub(crate) const RAW_RECORD_MAX_BYTES: usize = 1024 * 1024;

/// How many bytes `b` takes in a JSON string (serde_json's escaping).
fn escaped_len(b: u8) -> usize {
    match b {
        b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
        0..=0x1f => 6,
        _ => 1,
    }
}

/// The raw record as kept: its text (or base64), the encoding, and whether it was cut.
/// `size` is the whole record's size (`raw` may already be only its head).
fn kept_raw(raw: &[u8], size: u64) -> (std::borrow::Cow<'_, str>, &'static str, bool) {
    use std::borrow::Cow;
    let cut_before = size > raw.len() as u64;
    // Text, when it is UTF-8 (a head cut inside a character still is, up to there).
    let text = match std::str::from_utf8(raw) {
        Ok(s) => Some(s),
        Err(e) if cut_before && e.error_len().is_none() => {
            Some(std::str::from_utf8(&raw[..e.valid_up_to()]).expect("valid up to there"))
        }
        Err(_) => None,
    };
    match text {
        Some(s) => {
            let mut written = 0;
            let mut keep = s.len();
            for (i, b) in s.bytes().enumerate() {
                written += escaped_len(b);
                if written > RAW_RECORD_MAX_BYTES {
                    keep = i;
                    while !s.is_char_boundary(keep) {
                        keep -= 1;
                    }
                    break;
                }
            }
            let truncated = cut_before || keep < s.len();
            (Cow::Borrowed(&s[..keep]), "utf8", truncated)
        }
        None => {
            let keep = raw.len().min(RAW_RECORD_MAX_BYTES / 4 * 3);
            let encoded = base64::engine::general_purpose::STANDARD.encode(&raw[..keep]);
            (
                Cow::Owned(encoded),
                "base64",
                cut_before || keep < raw.len(),
            )
        }
    }
}

/// Appends one error record (a JSON line) to `errors`; `size` is the bad record's whole size
/// (`raw` may hold only its head).
#[allow(clippy::too_many_arguments)]
fn write_error_record<M: serde::Serialize>(
    errors: &mut Vec<u8>,
    ctx: &ErrorContext<'_>,
    start: M,
    end: M,
    message: &str,
    document_id: Option<&str>,
    raw: &[u8],
    size: u64,
) {
    let (raw_text, encoding, truncated) = kept_raw(raw, size);
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
        raw_record_truncated: truncated,
        raw_record_size_bytes: truncated.then_some(size),
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
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    raw_record_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_record_size_bytes: Option<u64>,
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

/// The error context of the tests below.
#[cfg(test)]
fn test_context() -> ErrorContext<'static> {
    ErrorContext {
        dataset_name: "Ds",
        dataset_id: "d1",
        task_id: "t1",
        file_type: "DATA",
        file_name: "a.jsonl",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(raw: &[u8], size: u64) -> serde_json::Value {
        let ctx = test_context();
        let mut out = Vec::new();
        write_error_record(
            &mut out,
            &ctx,
            OffsetMap("DATA", 0),
            OffsetMap("DATA", size),
            "bad",
            None,
            raw,
            size,
        );
        assert_eq!(out.last(), Some(&b'\n'));
        serde_json::from_slice(&out).expect("one JSON line")
    }

    #[test]
    fn raw_records_are_kept_whole_up_to_the_cap() {
        let r = record(b"{\"id\": 1, \"broken", 17);
        assert_eq!(r["rawRecord"], "{\"id\": 1, \"broken");
        assert_eq!(r["rawRecordEncoding"], "utf8");
        assert!(r.get("rawRecordTruncated").is_none() && r.get("rawRecordSizeBytes").is_none());
        let r = record(&[0xff, 0xfe, b'x'], 3);
        assert_eq!(r["rawRecordEncoding"], "base64");
        assert_eq!(r["rawRecord"], "//54");
    }

    /// 3 MiB of NUL bytes would be 18 MiB escaped: the record keeps what fits in the cap.
    #[test]
    fn a_record_of_control_characters_is_cut_by_its_escaped_size() {
        let raw = vec![0u8; 3 << 20];
        let mut out = Vec::new();
        let ctx = test_context();
        write_error_record(
            &mut out,
            &ctx,
            OffsetMap("DATA", 0),
            OffsetMap("DATA", 1),
            "bad",
            None,
            &raw,
            raw.len() as u64,
        );
        assert!(
            out.len() < RAW_RECORD_MAX_BYTES + 1024,
            "{} bytes",
            out.len()
        );
        let r: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(
            r["rawRecord"].as_str().map(str::len),
            Some(RAW_RECORD_MAX_BYTES / 6)
        );
        assert_eq!(r["rawRecordTruncated"], true);
        assert_eq!(r["rawRecordSizeBytes"], 3 << 20);

        // Binary: base64 of the first three quarters of the cap.
        let r = record(&vec![0xffu8; 2 << 20], 2 << 20);
        assert_eq!(r["rawRecordEncoding"], "base64");
        assert_eq!(
            r["rawRecord"].as_str().map(str::len),
            Some(RAW_RECORD_MAX_BYTES)
        );
        assert_eq!(r["rawRecordTruncated"], true);
    }

    /// The head of an oversize record may end inside a character: it is still text, cut
    /// there, and marked with the whole record's size.
    #[test]
    fn an_oversize_records_head_is_kept_as_text() {
        let head = "é".repeat(10);
        let cut = &head.as_bytes()[..19];
        let r = record(cut, 5_000_000);
        assert_eq!(r["rawRecordEncoding"], "utf8");
        assert_eq!(r["rawRecord"], "é".repeat(9));
        assert_eq!(r["rawRecordTruncated"], true);
        assert_eq!(r["rawRecordSizeBytes"], 5_000_000);
    }
}

#[cfg(test)]
mod properties {
    //! The error-record writer over arbitrary bytes: always one JSON line, bounded, and its
    //! `rawRecord` is the record (or the start of it, marked as cut).
    use super::*;
    use proptest::prelude::*;

    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..2048),
            ".{0,512}".prop_map(String::into_bytes),
            (0usize..3_000_000, any::<u8>()).prop_map(|(n, b)| vec![b; n]),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn an_error_record_is_one_bounded_json_line_holding_the_record(
            raw in bytes(),
            more in prop_oneof![Just(0u64), 0u64..1_000_000_000],
        ) {
            let ctx = test_context();
            let size = raw.len() as u64 + more;
            let mut out = Vec::new();
            write_error_record(&mut out, &ctx, OffsetMap("DATA", 0), OffsetMap("DATA", size),
                "bad", None, &raw, size);
            prop_assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 1);
            prop_assert!(out.len() < RAW_RECORD_MAX_BYTES + 1024, "{} bytes", out.len());
            let r: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
            let kept = match r["rawRecordEncoding"].as_str() {
                Some("utf8") => r["rawRecord"].as_str().expect("text").as_bytes().to_vec(),
                Some("base64") => base64::engine::general_purpose::STANDARD
                    .decode(r["rawRecord"].as_str().expect("text"))
                    .expect("base64"),
                other => panic!("encoding {other:?}"),
            };
            prop_assert!(raw.starts_with(&kept), "rawRecord is the record's start");
            let cut = r["rawRecordTruncated"] == true;
            prop_assert_eq!(cut, kept.len() as u64 != size);
            if cut {
                prop_assert_eq!(r["rawRecordSizeBytes"].as_u64(), Some(size));
            }
        }
    }
}
