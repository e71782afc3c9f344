//! Invocations of tasks whose implementation is user code (a WebAssembly component).
//!
//! - `SingleFileParser`: records are cut on the host with the component's start and end
//!   hints and handed over in batches (one call per ~1 MiB of records), so crossing into the
//!   sandbox costs little per record. Results are handled in record order, so checkpoints
//!   and part rolls fall on record boundaries exactly as with built-in parsers.
//! - State-machine readers: one call per composite document; the component pulls records
//!   through the task's file cursors (one per file type). The checkpoint holds every file's
//!   offset and last record type as of the last document returned.
//!
//! A trap, a time-out or the memory limit ends the attempt ERRORED after checkpointing what
//! was done before the failing call; a redrive resumes from there (with new code after
//! `datasets code update`).

use super::cursor::{RecordCursor, framing_for_hints};
use super::output::{ErrorContext, PartOutput};
use super::{
    FilePosition, InvokeError, Outcome, Runner, STOPPED, Signals, State, TaskLog, log_completed,
    read_error,
};
use letsdata_model::location::validate_key;
use letsdata_model::spec::{LogLevel, ReaderType};
use letsdata_model::task::Checkpoint;
use letsdata_records::{Framing, RecordReader};
use letsdata_sandbox::wit::{
    Document, ParseDocumentResultStatus, RecordSpan, SingleFileReaderState,
};
use letsdata_sandbox::{
    Code, DocumentKind, FileCursor, FileParser, Limits, ParsedDocument, Sandbox, SandboxError,
    StateMachine,
};
use letsdata_store::Lease;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Records per call into the sandbox are bounded by bytes and by count. A batch is at most
/// what the reader's buffer holds (1 MiB).
const BATCH_BYTES: usize = 1024 * 1024;
const BATCH_RECORDS: usize = 16384;

/// The parts of an invocation the Wasm paths share with the built-in one.
pub(super) struct Invocation<'a> {
    pub lease: &'a Lease,
    pub signals: &'a Signals,
    pub log: &'a TaskLog,
    pub started: Instant,
    pub budget: Duration,
    pub checkpoint: Checkpoint,
}

fn failed(e: SandboxError) -> InvokeError {
    InvokeError::Failed(e.to_string())
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
pub(super) fn drain_guest_log(log: &TaskLog, output: (Vec<u8>, u64)) {
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
    /// Runs a task with the dataset's current code.
    pub(super) async fn invoke_wasm(
        &self,
        run: Invocation<'_>,
        reader_type: ReaderType,
    ) -> Result<Outcome, InvokeError> {
        let (sandbox, code, limits) = self
            .user_code(&run, crate::code::interface_for(reader_type))
            .await?;
        match reader_type {
            ReaderType::SingleFileReader => self.run_parser(run, &sandbox, &code, limits).await,
            ReaderType::SingleFileStateMachineReader => {
                self.run_state_machine(run, &sandbox, &code, limits, false)
                    .await
            }
            ReaderType::MultipleFileStateMachineReader => {
                self.run_state_machine(run, &sandbox, &code, limits, true)
                    .await
            }
        }
    }

    /// The sandbox, the dataset's current code for `interface` and the invocation's limits,
    /// logged.
    pub(super) async fn user_code(
        &self,
        run: &Invocation<'_>,
        interface: letsdata_sandbox::Interface,
    ) -> Result<(Sandbox, Code, Limits), InvokeError> {
        let sandbox = self.sandbox.clone().ok_or_else(|| {
            InvokeError::Failed("the sandbox for user code is not available".into())
        })?;
        let code = crate::code::current_code(&sandbox, &self.objects, &self.dataset, interface)
            .await
            .map_err(InvokeError::Failed)?;
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

    /// Checks for a lost lease, a stop request and the time budget between calls.
    async fn between_calls(
        &self,
        run: &Invocation<'_>,
        out: &mut PartOutput,
        st: &mut State,
    ) -> Result<Option<Outcome>, InvokeError> {
        if run.signals.lost.load(Ordering::Relaxed) {
            out.abort().await;
            return Err(InvokeError::LeaseLost);
        }
        if run.signals.stop.load(Ordering::Relaxed) {
            self.roll(run.lease, out, st, false, run.log).await?;
            run.log
                .log(LogLevel::Warn, "stopped by request: checkpointed");
            return Ok(Some(Outcome::Errored(STOPPED.to_string())));
        }
        if run.started.elapsed() >= run.budget {
            self.roll(run.lease, out, st, false, run.log).await?;
            run.log.log(
                LogLevel::Info,
                format!(
                    "time budget of {}s nearly used: checkpointed, task queued again (RERUN)",
                    self.spec.compute_engine.timeout_in_seconds
                ),
            );
            return Ok(Some(Outcome::Rerun));
        }
        Ok(None)
    }

    /// A `SingleFileParser` task.
    async fn run_parser(
        &self,
        run: Invocation<'_>,
        sandbox: &Sandbox,
        code: &Code,
        limits: Limits,
    ) -> Result<Outcome, InvokeError> {
        let task = &run.lease.task;
        let log = run.log;
        let mut parser = FileParser::new(sandbox, code, limits)
            .await
            .map_err(failed)?;
        let file_type = parser.s3_file_type().await.map_err(failed)?;
        let manifest_name = task
            .task_definition
            .files
            .values()
            .next()
            .cloned()
            .unwrap_or_else(|| task.task_definition.manifest_line.clone());
        let file_name = parser
            .resolved_s3_file_name(&file_type, &manifest_name)
            .await
            .map_err(failed)?;
        validate_key(&file_name).map_err(|e| {
            InvokeError::Failed(format!(
                "getResolvedS3FileName returned {file_name:?} for {manifest_name:?}: {e}"
            ))
        })?;
        let start = parser
            .record_start_pattern(&file_type)
            .await
            .map_err(failed)?;
        let end = parser
            .record_end_pattern(&file_type)
            .await
            .map_err(failed)?;
        let framing = framing_for_hints(&start, &end).map_err(InvokeError::Failed)?;
        drain_guest_log(log, parser.drain_log());

        let checkpoint = &run.checkpoint;
        let offset: u64 = checkpoint
            .offsets
            .get(&file_type)
            .or_else(|| checkpoint.offsets.values().next())
            .and_then(|o| o.parse().ok())
            .unwrap_or(0);
        log.log(
            LogLevel::Info,
            format!(
                "invocation started: file {file_name} ({file_type}) from offset {offset}, part {}",
                checkpoint.next_part
            ),
        );
        let (input, read_from) = self.open_at(&file_name, offset, false, log).await?;
        let mut reader = RecordReader::new(input, framing, read_from);
        if read_from < offset {
            reader
                .skip_to(offset)
                .await
                .map_err(read_error(&file_name))?;
        }
        let mut out = self
            .part_output(&task.task_id, checkpoint.next_part)
            .await?;
        let ctx = ErrorContext {
            dataset_name: &self.dataset.dataset_name,
            dataset_id: &self.dataset.dataset_id,
            task_id: &task.task_id,
            file_type: &file_type,
            file_name: &file_name,
        };
        let mut st = State::new(checkpoint, &file_type, offset);
        let mut batch = Batch::default();
        let mut last_position = reader.position();
        loop {
            // Cut records into the batch until it is full, a record over the maximum size
            // comes, or the buffered input is used up.
            let mut oversize = None;
            let mut drained = true;
            while let Some(rec) = reader.try_next() {
                if rec.truncated {
                    // Its head is the reader's copy, outside the buffer the batch lies in.
                    let at = BatchRecord {
                        start_offset: rec.start_offset,
                        end_offset: rec.end_offset,
                        next_offset: rec.next_offset,
                    };
                    oversize = Some((at, rec.bytes.to_vec()));
                    drained = false;
                    break;
                }
                batch.push(&rec);
                if batch.full() {
                    drained = false;
                    break;
                }
            }
            // The batch's records are still in the reader's buffer: before `fill` moves it.
            self.parse_batch(
                &run,
                &mut parser,
                batch.bytes(&reader),
                &mut batch,
                &mut out,
                &mut st,
                &ctx,
            )
            .await?;
            if let Some((rec, head)) = oversize {
                out.push_oversize(&ctx, rec.start_offset, rec.end_offset, &head);
                st.pending.records_read += 1;
                st.pending.error_records += 1;
                st.resume = rec.next_offset;
                self.flush_or_roll(&run, &mut out, &mut st).await?;
            }
            if !drained {
                continue;
            }
            let position = reader.position();
            self.stats.add(
                &self.stats.bytes_read,
                position.saturating_sub(last_position),
            );
            last_position = position;
            self.publish(&mut st);
            if let Some(outcome) = self.between_calls(&run, &mut out, &mut st).await? {
                return Ok(outcome);
            }
            match reader.fill().await {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    self.roll(run.lease, &mut out, &mut st, false, log).await?;
                    return Err(read_error(&file_name)(e));
                }
            }
        }
        self.roll(run.lease, &mut out, &mut st, true, log).await?;
        log_completed(log, &st);
        Ok(Outcome::Completed)
    }

    /// Hands a batch to the parser and writes the results in record order (nothing for an
    /// empty batch). `bytes` are the batch's bytes ([`Batch::bytes`]).
    #[allow(clippy::too_many_arguments)]
    async fn parse_batch(
        &self,
        run: &Invocation<'_>,
        parser: &mut FileParser,
        bytes: &[u8],
        batch: &mut Batch,
        out: &mut PartOutput,
        st: &mut State,
        ctx: &ErrorContext<'_>,
    ) -> Result<(), InvokeError> {
        if batch.records.is_empty() {
            return Ok(());
        }
        let results = parser
            .parse_documents(ctx.file_type, ctx.file_name, bytes, &batch.spans)
            .await;
        drain_guest_log(run.log, parser.drain_log());
        let results = match results {
            Ok(r) => r,
            Err(e) => {
                // Keep everything before this batch, then fail the attempt.
                let (first, last) = (batch.start, batch.end);
                batch.clear();
                self.roll(run.lease, out, st, false, run.log).await?;
                return Err(InvokeError::Failed(format!(
                    "{e} (while parsing the records between offsets {first} and {last} of {}; a redrive resumes at offset {})",
                    ctx.file_name, st.resume
                )));
            }
        };
        for (rec, result) in batch.records.iter().zip(results.iter()) {
            st.pending.records_read += 1;
            let raw = &bytes[(rec.start_offset - batch.start) as usize
                ..(rec.end_offset - batch.start) as usize];
            write_result(out, st, ctx, rec, raw, result);
            st.resume = rec.next_offset;
            if self.output_due(out) {
                self.flush_or_roll(run, out, st).await?;
            }
        }
        batch.clear();
        Ok(())
    }

    /// Whether buffered output is due to be handed to the writers, or the part to be rolled.
    #[inline]
    fn output_due(&self, out: &PartOutput) -> bool {
        out.chunk_full() || out.pending_bytes() >= self.settings.part_target_bytes
    }

    /// Hands buffered output to the writers, and rolls the part when it is full (after a
    /// record's result is written and `st.resume` moved past it).
    async fn flush_or_roll(
        &self,
        run: &Invocation<'_>,
        out: &mut PartOutput,
        st: &mut State,
    ) -> Result<(), InvokeError> {
        out.maybe_flush().await?;
        if out.pending_bytes() >= self.settings.part_target_bytes {
            self.roll(run.lease, out, st, false, run.log).await?;
        }
        Ok(())
    }

    /// A `SingleFileStateMachineReader` or `MultipleFileStateMachineReader` task.
    async fn run_state_machine(
        &self,
        run: Invocation<'_>,
        sandbox: &Sandbox,
        code: &Code,
        limits: Limits,
        multiple: bool,
    ) -> Result<Outcome, InvokeError> {
        let task = &run.lease.task;
        let log = run.log;
        let mut reader = StateMachine::new(sandbox, code, limits, multiple)
            .await
            .map_err(failed)?;
        let types = reader.s3_file_types().await.map_err(failed)?;
        let files = &task.task_definition.files;
        let names: Vec<(String, String)> = if multiple {
            for file_type in files.keys() {
                if !types.contains(file_type) {
                    return Err(InvokeError::Failed(format!(
                        "the manifest line names file type {file_type}, which the reader does not read (getS3FileTypes: {})",
                        types.join(", ")
                    )));
                }
            }
            let mut names = Vec::new();
            for file_type in &types {
                let Some(key) = files.get(file_type) else {
                    return Err(InvokeError::Failed(format!(
                        "the manifest line has no file of type {file_type}; the reader needs {} (write the line as {})",
                        types.join(", "),
                        types
                            .iter()
                            .map(|t| format!("{t}:<key>"))
                            .collect::<Vec<_>>()
                            .join("|")
                    )));
                };
                names.push((file_type.clone(), key.clone()));
            }
            names
        } else {
            let file_type = types.first().cloned().unwrap_or_default();
            let key = files
                .values()
                .next()
                .cloned()
                .unwrap_or_else(|| task.task_definition.manifest_line.clone());
            vec![(file_type, key)]
        };
        let resolved = reader
            .resolved_s3_file_names(&names)
            .await
            .map_err(failed)?;
        drain_guest_log(log, reader.drain_log());

        let checkpoint = &run.checkpoint;
        let mut cursors: Vec<Box<dyn FileCursor>> = Vec::with_capacity(resolved.len());
        let mut positions = Vec::with_capacity(resolved.len());
        for (file_type, file_name) in &resolved {
            validate_key(file_name).map_err(|e| {
                InvokeError::Failed(format!(
                    "getResolvedS3FileName returned {file_name:?} for file type {file_type}: {e}"
                ))
            })?;
            let offset: u64 = checkpoint
                .offsets
                .get(file_type)
                .and_then(|o| o.parse().ok())
                .unwrap_or(0);
            let last = checkpoint.last_record_types.get(file_type).cloned();
            let (input, read_from) = self.open_at(file_name, offset, false, log).await?;
            let mut records = RecordReader::new(input, Framing::Lines, read_from);
            if read_from < offset {
                records
                    .skip_to(offset)
                    .await
                    .map_err(read_error(file_name))?;
            }
            positions.push(FilePosition {
                file_type: file_type.clone(),
                offset,
                last_record_type: last.clone(),
            });
            cursors.push(Box::new(RecordCursor::new(
                file_type.clone(),
                file_name.clone(),
                records,
                offset,
                last,
            )));
        }
        reader.set_cursors(cursors);
        log.log(
            LogLevel::Info,
            format!(
                "invocation started: {}, part {}",
                positions
                    .iter()
                    .map(|p| format!(
                        "{} from offset {}{}",
                        p.file_type,
                        p.offset,
                        p.last_record_type
                            .as_ref()
                            .map(|t| format!(" after a {t} record"))
                            .unwrap_or_default()
                    ))
                    .collect::<Vec<_>>()
                    .join(", "),
                checkpoint.next_part
            ),
        );
        let all_types = resolved
            .iter()
            .map(|(t, _)| t.as_str())
            .collect::<Vec<_>>()
            .join("|");
        let all_names = resolved
            .iter()
            .map(|(_, n)| n.as_str())
            .collect::<Vec<_>>()
            .join("|");
        let ctx = ErrorContext {
            dataset_name: &self.dataset.dataset_name,
            dataset_id: &self.dataset.dataset_id,
            task_id: &task.task_id,
            file_type: &all_types,
            file_name: &all_names,
        };
        let total: u64 = positions.iter().map(|p| p.offset).sum();
        let mut st = State::new(checkpoint, &all_types, total);
        st.files = Some(positions);
        let mut out = self
            .part_output(&task.task_id, checkpoint.next_part)
            .await?;
        let mut consumed = 0u64;
        loop {
            let result = reader.parse_document().await;
            drain_guest_log(log, reader.drain_log());
            let result = match result {
                Ok(r) => r,
                Err(e) => {
                    // `st` still holds the positions after the last document returned.
                    self.roll(run.lease, &mut out, &mut st, false, log).await?;
                    let at = st
                        .files
                        .iter()
                        .flatten()
                        .map(|f| format!("{} offset {}", f.file_type, f.offset))
                        .collect::<Vec<_>>()
                        .join(", ");
                    return Err(InvokeError::Failed(format!(
                        "{e} (in parseDocument; a redrive resumes at {at})"
                    )));
                }
            };
            let now_consumed: u64 = reader.cursors().iter().map(|c| c.records_consumed()).sum();
            let new_records = now_consumed - consumed;
            consumed = now_consumed;
            st.pending.records_read += new_records;
            let completed = result.file_reader_state == SingleFileReaderState::Completed;
            match result.document {
                Some(composite) => {
                    let status = result.status;
                    write_document(&mut out, &mut st, &ctx, composite.document, status);
                    for e in composite.errors {
                        out.push_error_doc(
                            &ctx,
                            &e.error_start_offset_map,
                            &e.error_end_offset_map,
                            &e.error_message,
                            e.document_id.as_deref(),
                            e.serialized.as_deref().unwrap_or("").as_bytes(),
                        );
                        st.pending.error_records += 1;
                    }
                }
                None if completed => {}
                None if new_records == 0 => {
                    self.roll(run.lease, &mut out, &mut st, false, log).await?;
                    return Err(InvokeError::Failed(
                        "parseDocument returned no document, consumed no record and did not report COMPLETED; return ParseCompositeDocumentResult::completed() at the end of the files".into(),
                    ));
                }
                None => st.pending.skip_records += 1,
            }
            let mut total = 0;
            if let Some(files) = &mut st.files {
                for (f, c) in files.iter_mut().zip(reader.cursors()) {
                    f.offset = c.offset();
                    f.last_record_type = c.last_record_type().map(str::to_string);
                    total += f.offset;
                }
            }
            self.stats
                .add(&self.stats.bytes_read, total.saturating_sub(st.resume));
            st.resume = total;
            if self.output_due(&out) {
                self.flush_or_roll(&run, &mut out, &mut st).await?;
            }
            if completed {
                break;
            }
            self.publish(&mut st);
            if let Some(outcome) = self.between_calls(&run, &mut out, &mut st).await? {
                return Ok(outcome);
            }
        }
        self.roll(run.lease, &mut out, &mut st, true, log).await?;
        log_completed(log, &st);
        Ok(Outcome::Completed)
    }
}

/// Why a serialized document cannot be written as one output line.
fn unwritable(serialized: &str) -> Option<&'static str> {
    if serialized.is_empty() {
        return Some("the serialized document is empty");
    }
    if memchr::memchr2(b'\n', b'\r', serialized.as_bytes()).is_some() {
        return Some(
            "the serialized document contains a line break; output files hold one document per line (serialize it without pretty-printing)",
        );
    }
    None
}

/// Writes one parser result for the record `rec` (bytes `raw`).
fn write_result(
    out: &mut PartOutput,
    st: &mut State,
    ctx: &ErrorContext<'_>,
    rec: &BatchRecord,
    raw: &[u8],
    result: ParsedDocument<'_>,
) {
    let error = |out: &mut PartOutput, st: &mut State, message: &str, id: &str, content: &[u8]| {
        out.push_error(ctx, rec.start_offset, rec.end_offset, message, id, content);
        st.pending.error_records += 1;
    };
    let id = result.document_id.unwrap_or("");
    match (result.kind, result.status) {
        (DocumentKind::Single, ParseDocumentResultStatus::Success) => {
            let serialized = result.serialized.unwrap_or("");
            if let Some(why) = unwritable(serialized) {
                error(out, st, why, id, raw);
            } else {
                out.push_doc(serialized.as_bytes(), id);
                st.pending.documents_written += 1;
            }
        }
        (DocumentKind::Error, _) => {
            let content = result.serialized.map(str::as_bytes).unwrap_or(raw);
            error(out, st, result.error_message, id, content);
        }
        (DocumentKind::Skip, _)
        | (DocumentKind::None | DocumentKind::Single, ParseDocumentResultStatus::Skip) => {
            st.pending.skip_records += 1;
        }
        (DocumentKind::Single, ParseDocumentResultStatus::Error) => error(
            out,
            st,
            "the parser returned status ERROR with a document that is not an error document",
            id,
            raw,
        ),
        (DocumentKind::None, status) => error(
            out,
            st,
            &format!("the parser returned status {status:?} without a document"),
            "",
            raw,
        ),
    }
}

/// Writes a state-machine reader's (or a stream reader's) document.
pub(super) fn write_document(
    out: &mut PartOutput,
    st: &mut State,
    ctx: &ErrorContext<'_>,
    document: Document,
    status: ParseDocumentResultStatus,
) {
    match (document, status) {
        (Document::Single(doc), ParseDocumentResultStatus::Success) => {
            match unwritable(&doc.serialized) {
                Some(why) => {
                    out.push_error_doc(
                        ctx,
                        &[],
                        &[],
                        why,
                        doc.document_id.as_deref(),
                        doc.serialized.as_bytes(),
                    );
                    st.pending.error_records += 1;
                }
                None => {
                    out.push_doc(
                        doc.serialized.as_bytes(),
                        doc.document_id.as_deref().unwrap_or(""),
                    );
                    st.pending.documents_written += 1;
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
            st.pending.error_records += 1;
        }
        (Document::Skip(_), _) | (Document::Single(_), ParseDocumentResultStatus::Skip) => {
            st.pending.skip_records += 1;
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
            st.pending.error_records += 1;
        }
    }
}

#[cfg(test)]
mod tests;
