//! Tasks whose implementation is user code (a WebAssembly component, or a Python or
//! JavaScript handler) reading files through a `SingleFileParser`: records are cut on the
//! host with the parser's start and end hints and handed over in batches (one call per ~1 MiB
//! of records; a handler gets them as pipelined requests), so crossing into user code costs
//! little per record. Results are written in record order, so checkpoints and
//! part rolls fall on record boundaries exactly as with built-in parsers.
//!
//! A trap, a time-out or the memory limit ends the attempt ERRORED after checkpointing what
//! was done before the failing call; a redrive resumes from there (with new code after
//! `datasets code update`). State-machine readers are in `state_machine.rs`; this module also
//! holds what every Wasm driver shares: loading the dataset's code, the guest's log, writing a
//! reader's documents.

use super::cursor::framing_for_hints;
use super::files::single_file_position;
use super::invocation::{Cx, Driver, Invocation, Progress, Step};
use super::output::{ErrorContext, PartOutput};
use super::{Input, InvokeError, Runner, TaskLog, open_file, read_error};
use letsdata_connectors::source::FileInput;
use letsdata_model::location::validate_key;
use letsdata_model::spec::LogLevel;
use letsdata_model::task::{ConnectorFields, TaskProgress};
use letsdata_records::RecordReader;
use letsdata_sandbox::wit::{Document, ParseDocumentResultStatus, RecordParseHint, RecordSpan};
use letsdata_sandbox::{
    Code, DocumentKind, FileParser, Interface, Limits, ParsedBatch, ParsedDocument, Sandbox,
    SandboxError,
};
use std::future::Future;
use std::time::Duration;

/// Records per call into the sandbox are bounded by bytes and by count. A batch is at most
/// what the reader's buffer holds (1 MiB).
const BATCH_BYTES: usize = 1024 * 1024;
const BATCH_RECORDS: usize = 16384;

/// A failure of user code (a trap, the time or memory limit, a broken contract) is the
/// user's to fix.
pub(super) fn failed(e: SandboxError) -> InvokeError {
    InvokeError::user(e.to_string())
}

/// One record of a batch.
#[derive(Debug, Clone, Copy)]
struct BatchRecord {
    start_offset: u64,
    end_offset: u64,
    next_offset: u64,
}

/// Records waiting for one call: consecutive records of the reader's buffer, handed to the
/// guest as the one slice of the buffer they lie in (no copy on the host).
#[derive(Default)]
struct Batch {
    /// Offsets in the file of the first record's start and the last record's end.
    start: u64,
    end: u64,
    spans: Vec<RecordSpan>,
    records: Vec<BatchRecord>,
}

impl Batch {
    /// Adds a record (not truncated: its bytes are in the reader's buffer).
    fn push(&mut self, rec: &letsdata_records::Record<'_>) {
        if self.records.is_empty() {
            self.start = rec.start_offset;
        }
        self.end = rec.end_offset;
        self.spans.push(RecordSpan {
            offset_bytes: rec.start_offset,
            start: (rec.start_offset - self.start) as u32,
            end: (rec.end_offset - self.start) as u32,
        });
        self.records.push(BatchRecord {
            start_offset: rec.start_offset,
            end_offset: rec.end_offset,
            next_offset: rec.next_offset,
        });
    }

    /// The records' bytes: the slice of the reader's buffer they lie in.
    fn bytes<'r, R: tokio::io::AsyncRead + Unpin>(&self, reader: &'r RecordReader<R>) -> &'r [u8] {
        if self.records.is_empty() {
            return &[];
        }
        reader
            .buffered(self.start, self.end)
            .expect("a batch is handed over before the reader's next fill")
    }

    fn full(&self) -> bool {
        self.end - self.start >= BATCH_BYTES as u64 || self.records.len() >= BATCH_RECORDS
    }

    fn clear(&mut self) {
        self.spans.clear();
        self.records.clear();
    }
}

/// Writes what the guest printed into the task log.
pub(crate) fn drain_guest_log(log: &TaskLog, output: (Vec<u8>, u64)) {
    let (bytes, dropped) = output;
    if !bytes.is_empty() {
        for line in String::from_utf8_lossy(&bytes).lines() {
            if !line.trim().is_empty() {
                log.user(line);
            }
        }
    }
    if dropped > 0 {
        log.log(
            LogLevel::Warn,
            format!("user code printed {dropped} more bytes than the log keeps; they were dropped"),
        );
    }
}

impl Runner {
    /// The sandbox, the dataset's current code, the invocation's limits and the reader
    /// interface the code implements, logged.
    pub(super) async fn user_code(
        &self,
        run: &Invocation<'_>,
    ) -> Result<(Sandbox, Code, Limits, Interface), InvokeError> {
        let interface = crate::code::interface(self.connectors_of.source.as_ref())
            .map_err(|e| InvokeError::internal(e.to_string()))?;
        let (sandbox, code, limits) = self.code_for(run, interface).await?;
        Ok((sandbox, code, limits, interface))
    }

    /// The sandbox, the dataset's current code and the invocation's limits, for an instance
    /// of `interface` (the reader's, or the vectors engine's), logged.
    pub(super) async fn code_for(
        &self,
        run: &Invocation<'_>,
        interface: Interface,
    ) -> Result<(Sandbox, Code, Limits), InvokeError> {
        let sandbox = self
            .sandbox
            .clone()
            .ok_or_else(|| InvokeError::internal("the sandbox for user code is not available"))?;
        let code = crate::code::current_code(
            &sandbox,
            self.connectors.objects(),
            &self.dataset,
            interface,
        )
        .await
        .map_err(InvokeError::user)?;
        let timeout = Duration::from_secs(u64::from(self.spec.compute_engine.timeout_in_seconds));
        let limits = Limits {
            memory_megabytes: u64::from(self.spec.compute_engine.memory_limit_in_megabytes),
            timeout,
            deadline: run.started + timeout,
        };
        run.log.log(
            LogLevel::Info,
            format!(
                "user code {} ({}), {} MB memory limit, {} s time limit",
                code.sha256(),
                interface.letsdata_name(),
                limits.memory_megabytes,
                timeout.as_secs()
            ),
        );
        Ok((sandbox, code, limits))
    }
}

/// Strings error records carry.
pub(super) struct Labels {
    pub dataset_name: String,
    pub dataset_id: String,
    pub task_id: String,
    pub file_type: String,
    pub file_name: String,
}

impl Labels {
    pub(super) fn new(runner: &Runner, task_id: &str, file_type: &str, file_name: &str) -> Self {
        Self {
            dataset_name: runner.dataset.dataset_name.clone(),
            dataset_id: runner.dataset.dataset_id.to_string(),
            task_id: task_id.to_string(),
            file_type: file_type.to_string(),
            file_name: file_name.to_string(),
        }
    }

    pub(super) fn context(&self) -> ErrorContext<'_> {
        ErrorContext {
            dataset_name: &self.dataset_name,
            dataset_id: &self.dataset_id,
            task_id: &self.task_id,
            file_type: &self.file_type,
            file_name: &self.file_name,
        }
    }
}

/// A `SingleFileParser` implementation: a Wasm component's instance, or a Python or
/// JavaScript handler's process (`handler.rs`).
pub(super) trait FileParsing: Send {
    /// `getS3FileType()`.
    fn s3_file_type(&mut self) -> impl Future<Output = Result<String, InvokeError>> + Send;
    /// `getResolvedS3FileName(fileType, fileName)`.
    fn resolved_s3_file_name(
        &mut self,
        file_type: &str,
        file_name: &str,
    ) -> impl Future<Output = Result<String, InvokeError>> + Send;
    /// `getRecordStartPattern(fileType)` (`end`: `getRecordEndPattern`).
    fn record_pattern(
        &mut self,
        file_type: &str,
        end: bool,
    ) -> impl Future<Output = Result<RecordParseHint, InvokeError>> + Send;
    /// `parseDocument` for each record of a batch (`records[span.start..span.end]`): one
    /// result per span, in order. A failure carries the results of the records before the
    /// one that failed (none when the whole call failed) and why.
    fn parse_documents(
        &mut self,
        file_type: &str,
        file_name: &str,
        records: &[u8],
        spans: &[RecordSpan],
    ) -> impl Future<Output = Result<ParsedBatch, (ParsedBatch, String)>> + Send;
    /// What the implementation printed since the last drain, and how much was dropped.
    fn drain_log(&mut self) -> (Vec<u8>, u64);
    /// The parser is done with (stopped, for a process): what it printed last.
    fn close(&mut self) -> impl Future<Output = (Vec<u8>, u64)> + Send;
}

impl FileParsing for FileParser {
    async fn s3_file_type(&mut self) -> Result<String, InvokeError> {
        FileParser::s3_file_type(self).await.map_err(failed)
    }

    async fn resolved_s3_file_name(
        &mut self,
        file_type: &str,
        file_name: &str,
    ) -> Result<String, InvokeError> {
        FileParser::resolved_s3_file_name(self, file_type, file_name)
            .await
            .map_err(failed)
    }

    async fn record_pattern(
        &mut self,
        file_type: &str,
        end: bool,
    ) -> Result<RecordParseHint, InvokeError> {
        if end {
            self.record_end_pattern(file_type).await.map_err(failed)
        } else {
            self.record_start_pattern(file_type).await.map_err(failed)
        }
    }

    async fn parse_documents(
        &mut self,
        file_type: &str,
        file_name: &str,
        records: &[u8],
        spans: &[RecordSpan],
    ) -> Result<ParsedBatch, (ParsedBatch, String)> {
        FileParser::parse_documents(self, file_type, file_name, records, spans)
            .await
            .map_err(|e| (ParsedBatch::default(), e.to_string()))
    }

    fn drain_log(&mut self) -> (Vec<u8>, u64) {
        FileParser::drain_log(self)
    }

    async fn close(&mut self) -> (Vec<u8>, u64) {
        FileParser::drain_log(self)
    }
}

/// One file through a `SingleFileParser` (a component, or a Python / JavaScript handler).
pub(super) struct UserFiles<P> {
    parser: P,
    reader: RecordReader<Input>,
    labels: Labels,
    batch: Batch,
    /// Results of `batch` and how many of them are written.
    results: Option<(ParsedBatch, usize)>,
    /// Why the parser failed on the record after the results: the attempt fails once they
    /// are written.
    failure: Option<String>,
    /// A record over the maximum size that ended the batch (its head is the reader's copy).
    oversize: Option<(BatchRecord, Vec<u8>)>,
    /// The buffered input was used up when the batch was cut: read more next.
    drained: bool,
    /// The reader's position when bytes read were last counted.
    counted: u64,
    /// The file's size, when it is not compressed.
    size: Option<u64>,
}

impl<P: FileParsing> UserFiles<P> {
    /// Asks the parser for the file's type, name and record hints, and opens the file at its
    /// checkpoint. Returns the driver and the offset it resumes at.
    pub(super) async fn open(
        runner: &Runner,
        task_id: &str,
        next_part: u64,
        files: FileInput,
        mut parser: P,
        log: &TaskLog,
    ) -> Result<(Self, u64), InvokeError> {
        let file_type = parser.s3_file_type().await?;
        let manifest_name = files
            .files
            .values()
            .next()
            .cloned()
            .unwrap_or_else(|| files.manifest_line.clone());
        let file_name = parser
            .resolved_s3_file_name(&file_type, &manifest_name)
            .await?;
        validate_key(&file_name).map_err(|e| {
            InvokeError::user(format!(
                "getResolvedS3FileName returned {file_name:?} for {manifest_name:?}: {e}"
            ))
        })?;
        let start = parser.record_pattern(&file_type, false).await?;
        let end = parser.record_pattern(&file_type, true).await?;
        let framing = framing_for_hints(&start, &end).map_err(InvokeError::user)?;
        drain_guest_log(log, parser.drain_log());

        let position = &files.position;
        let offset: u64 = position
            .offsets
            .get(&file_type)
            .or_else(|| position.offsets.values().next())
            .and_then(|o| o.parse().ok())
            .unwrap_or(0);
        log.log(
            LogLevel::Info,
            format!(
                "invocation started: file {file_name} ({file_type}) from offset {offset}, part {next_part}"
            ),
        );
        let (input, read_from, len) = open_file(&files, &file_name, offset, false, log).await?;
        let mut reader = RecordReader::new(input, framing, read_from);
        if read_from < offset {
            reader
                .skip_to(offset)
                .await
                .map_err(read_error(&file_name))?;
        }
        let counted = reader.position();
        let driver = Self {
            parser,
            reader,
            labels: Labels::new(runner, task_id, &file_type, &file_name),
            batch: Batch::default(),
            results: None,
            failure: None,
            oversize: None,
            drained: false,
            counted,
            size: len.map(|len| read_from + len),
        };
        Ok((driver, offset))
    }
}

impl<P: FileParsing> Driver for UserFiles<P> {
    async fn step(&mut self, cx: &mut Cx<'_>) -> Result<Step, InvokeError> {
        let ctx = self.labels.context();
        let st = &mut *cx.progress;
        let out = &mut *cx.out;
        // The last batch's results, in record order; output may come due on the way.
        if let Some((results, written)) = &mut self.results {
            let bytes = self.batch.bytes(&self.reader);
            for (rec, result) in self.batch.records.iter().zip(results.iter()).skip(*written) {
                st.pending.records_read += 1;
                let raw = &bytes[(rec.start_offset - self.batch.start) as usize
                    ..(rec.end_offset - self.batch.start) as usize];
                write_result(out, &mut st.pending, &ctx, rec, raw, result);
                st.resume = rec.next_offset;
                *written += 1;
                if out.due() && *written < self.batch.records.len() {
                    return Ok(Step::Continue);
                }
            }
            self.results = None;
            self.batch.clear();
            if let Some(why) = self.failure.take() {
                return Err(InvokeError::user(why));
            }
            return Ok(Step::Continue);
        }
        if let Some((rec, head)) = self.oversize.take() {
            out.push_oversize(&ctx, rec.start_offset, rec.end_offset, &head);
            st.pending.records_read += 1;
            st.pending.error_records += 1;
            st.resume = rec.next_offset;
            return Ok(Step::Continue);
        }
        if self.drained {
            self.drained = false;
            let position = self.reader.position();
            cx.stats
                .add(&cx.stats.bytes_read, position.saturating_sub(self.counted));
            self.counted = position;
            return match self.reader.fill().await {
                Ok(true) => Ok(Step::Continue),
                Ok(false) => Ok(Step::Finished(None)),
                Err(e) => Err(read_error(&self.labels.file_name)(e)),
            };
        }
        // Cut records into the batch until it is full, a record over the maximum size comes,
        // or the buffered input is used up.
        self.drained = true;
        while let Some(rec) = self.reader.try_next() {
            if rec.truncated {
                let at = BatchRecord {
                    start_offset: rec.start_offset,
                    end_offset: rec.end_offset,
                    next_offset: rec.next_offset,
                };
                self.oversize = Some((at, rec.bytes.to_vec()));
                self.drained = false;
                break;
            }
            self.batch.push(&rec);
            if self.batch.full() {
                self.drained = false;
                break;
            }
        }
        if self.batch.records.is_empty() {
            return Ok(Step::Continue);
        }
        // The batch's records are still in the reader's buffer: before `fill` moves it.
        let results = self
            .parser
            .parse_documents(
                &self.labels.file_type,
                &self.labels.file_name,
                self.batch.bytes(&self.reader),
                &self.batch.spans,
            )
            .await;
        drain_guest_log(cx.log, self.parser.drain_log());
        match results {
            Ok(r) => {
                self.results = Some((r, 0));
                Ok(Step::Continue)
            }
            Err((done, e)) if !done.is_empty() => {
                // The results before the failing record are written (the loop rolls them),
                // then the attempt fails.
                let at = self.batch.records[done.len().min(self.batch.records.len() - 1)];
                self.failure = Some(format!(
                    "{e} (while parsing the record at offset {} of {}; a redrive resumes there)",
                    at.start_offset, self.labels.file_name
                ));
                self.results = Some((done, 0));
                Ok(Step::Continue)
            }
            Err((_, e)) => {
                // Everything before this batch is kept (the loop rolls), then the attempt fails.
                let (first, last) = (self.batch.start, self.batch.end);
                self.batch.clear();
                Err(InvokeError::user(format!(
                    "{e} (while parsing the records between offsets {first} and {last} of {}; a redrive resumes at offset {})",
                    self.labels.file_name, st.resume
                )))
            }
        }
    }

    fn position(&self, progress: &Progress) -> Result<ConnectorFields, InvokeError> {
        Ok(single_file_position(
            &self.labels.file_type,
            progress.resume,
        ))
    }

    fn input_bytes(&self) -> Option<u64> {
        self.size
    }

    async fn close(&mut self, log: &TaskLog) {
        drain_guest_log(log, self.parser.close().await);
    }
}

/// Why a serialized document cannot be written as one output line.
pub(crate) fn unwritable(serialized: &[u8]) -> Option<&'static str> {
    if serialized.is_empty() {
        return Some("the serialized document is empty");
    }
    if memchr::memchr2(b'\n', b'\r', serialized).is_some() {
        return Some(
            "the serialized document contains a line break; output files hold one document per line (serialize it without pretty-printing)",
        );
    }
    None
}

/// Writes one parser result for the record `rec` (bytes `raw`).
fn write_result(
    out: &mut PartOutput,
    counts: &mut TaskProgress,
    ctx: &ErrorContext<'_>,
    rec: &BatchRecord,
    raw: &[u8],
    result: ParsedDocument<'_>,
) {
    let error = |out: &mut PartOutput,
                 counts: &mut TaskProgress,
                 message: &str,
                 id: &str,
                 content: &[u8]| {
        out.push_error(ctx, rec.start_offset, rec.end_offset, message, id, content);
        counts.error_records += 1;
    };
    let id = result.document_id.unwrap_or("");
    match (result.kind, result.status) {
        (DocumentKind::Single, ParseDocumentResultStatus::Success) => {
            let serialized = result.serialized.unwrap_or("");
            if let Some(why) = unwritable(serialized.as_bytes()) {
                error(out, counts, why, id, raw);
            } else {
                out.push_doc(serialized.as_bytes(), id);
                counts.documents_written += 1;
            }
        }
        (DocumentKind::Error, _) => {
            let content = result.serialized.map(str::as_bytes).unwrap_or(raw);
            error(out, counts, result.error_message, id, content);
        }
        (DocumentKind::Skip, _)
        | (DocumentKind::None | DocumentKind::Single, ParseDocumentResultStatus::Skip) => {
            counts.skip_records += 1;
        }
        (DocumentKind::Single, ParseDocumentResultStatus::Error) => error(
            out,
            counts,
            "the parser returned status ERROR with a document that is not an error document",
            id,
            raw,
        ),
        (DocumentKind::None, status) => error(
            out,
            counts,
            &format!("the parser returned status {status:?} without a document"),
            "",
            raw,
        ),
    }
}

/// Writes a state-machine reader's (or a stream reader's) document.
pub(super) fn write_document(
    out: &mut PartOutput,
    counts: &mut TaskProgress,
    ctx: &ErrorContext<'_>,
    document: Document,
    status: ParseDocumentResultStatus,
) {
    match (document, status) {
        (Document::Single(doc), ParseDocumentResultStatus::Success) => {
            match unwritable(doc.serialized.as_bytes()) {
                Some(why) => {
                    out.push_error_doc(
                        ctx,
                        &[],
                        &[],
                        why,
                        doc.document_id.as_deref(),
                        doc.serialized.as_bytes(),
                    );
                    counts.error_records += 1;
                }
                None => {
                    out.push_doc(
                        doc.serialized.as_bytes(),
                        doc.document_id.as_deref().unwrap_or(""),
                    );
                    counts.documents_written += 1;
                }
            }
        }
        (Document::Error(e), _) => {
            out.push_error_doc(
                ctx,
                &e.error_start_offset_map,
                &e.error_end_offset_map,
                &e.error_message,
                e.document_id.as_deref(),
                e.serialized.as_deref().unwrap_or("").as_bytes(),
            );
            counts.error_records += 1;
        }
        (Document::Skip(_), _) | (Document::Single(_), ParseDocumentResultStatus::Skip) => {
            counts.skip_records += 1;
        }
        (Document::Single(doc), ParseDocumentResultStatus::Error) => {
            out.push_error_doc(
                ctx,
                &[],
                &[],
                "the reader returned status ERROR with a document that is not an error document",
                doc.document_id.as_deref(),
                doc.serialized.as_bytes(),
            );
            counts.error_records += 1;
        }
    }
}

#[cfg(test)]
mod tests;
