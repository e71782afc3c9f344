//! One task invocation (LetsData: one Data Task Lambda invocation).
//!
//! Resume from the checkpoint, stream the file through decompression, record cutting and the
//! parser, and write documents and error records into the current part. A part is completed
//! and checkpointed when it reaches the target size, when the invocation's time budget is
//! nearly used (then the task is re-queued as RERUN), when input ends (COMPLETED), and when
//! reading fails (ERRORED, after saving what was read before the failure).

mod cursor;
mod output;
mod sink;
mod source;
mod tasklog;
mod wasm;

use crate::manifest::BUILTIN_FILE_TYPE;
use crate::{EngineSettings, LiveStats};
use letsdata_connectors::object::ObjectStores;
use letsdata_connectors::{ConnectorError, FailureKind};
use letsdata_model::spec::{
    BuiltinParser, Compression, Implementation, LogLevel, ReadConnector, ResourceLocation,
    WriteConnector,
};
use letsdata_model::task::{Checkpoint, TaskProgress};
use letsdata_model::{Dataset, DatasetSpec};
use letsdata_records::{
    FileCompression, ParseOutcome, RecordReader, builtin_parser, decompress, framing_for,
};
use letsdata_store::{Lease, StoreError, TaskStore};
use output::{DocTarget, ErrorContext, PartOutput};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
pub(crate) use tasklog::TaskLog;

/// `lastError` of a task stopped by `letsdata tasks stop`.
pub(crate) const STOPPED: &str =
    "stopped by request (letsdata tasks stop); redrive it to resume from its checkpoint";

/// Flags the heartbeat sets for a running invocation.
#[derive(Debug, Default)]
pub(crate) struct Signals {
    /// Another worker owns the task now.
    pub lost: AtomicBool,
    /// `letsdata tasks stop` asked the task to stop.
    pub stop: AtomicBool,
}

/// How an invocation ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    Completed,
    /// The time budget ran out; the task was checkpointed and should be queued again.
    Rerun,
    Errored(String),
    /// Another worker owns the task now; nothing more may be written.
    LeaseLost,
}

/// Everything an invocation needs, cheap to clone into a spawned task.
#[derive(Clone)]
pub(crate) struct Runner {
    pub objects: Arc<ObjectStores>,
    pub tasks: Arc<dyn TaskStore>,
    pub stats: Arc<LiveStats>,
    pub settings: EngineSettings,
    pub dataset: Arc<Dataset>,
    pub spec: Arc<DatasetSpec>,
    pub worker_id: String,
    pub log_dir: std::path::PathBuf,
    /// Runs user code (datasets with a Wasm implementation).
    pub sandbox: Option<letsdata_sandbox::Sandbox>,
    /// Clients of the stream, queue or table read or written, if any.
    pub aws: Option<letsdata_connectors::aws::AwsClients>,
}

/// The part of the time budget an invocation works before it flushes and re-queues itself.
fn soft_deadline(timeout: Duration) -> Duration {
    // Leave 20% (at most 30 s) of the budget for completing the part and checkpointing.
    let reserve = (timeout / 5).min(Duration::from_secs(30));
    timeout - reserve
}

impl Runner {
    pub(crate) fn task_log(&self, task_id: &str) -> TaskLog {
        TaskLog::new(
            self.log_dir.clone(),
            task_id,
            self.spec.compute_engine.log_level,
            &self.worker_id,
        )
    }

    /// Runs one invocation of the leased task.
    pub(crate) async fn invoke(&self, lease: &Lease, signals: &Signals, log: &TaskLog) -> Outcome {
        match self.invoke_inner(lease, signals, log).await {
            Ok(outcome) => outcome,
            Err(InvokeError::LeaseLost) => Outcome::LeaseLost,
            Err(InvokeError::Failed(message)) => Outcome::Errored(message),
        }
    }

    async fn invoke_inner(
        &self,
        lease: &Lease,
        signals: &Signals,
        log: &TaskLog,
    ) -> Result<Outcome, InvokeError> {
        let started = Instant::now();
        let budget = soft_deadline(Duration::from_secs(u64::from(
            self.spec.compute_engine.timeout_in_seconds,
        )));
        let task = &lease.task;
        let checkpoint = task.checkpoint.clone().unwrap_or_default();
        if checkpoint.end_of_input {
            return Ok(Outcome::Completed);
        }
        let run = wasm::Invocation {
            lease,
            signals,
            log,
            started,
            budget,
            checkpoint: checkpoint.clone(),
        };
        let ReadConnector::S3(read) = &self.spec.read_connector else {
            return self.invoke_source(run).await;
        };
        let parser_spec = match &read.implementation {
            Implementation::Builtin(p) => p,
            Implementation::Wasm(_) => return self.invoke_wasm(run, read.reader_type).await,
        };
        let file_name = task
            .task_definition
            .files
            .get(BUILTIN_FILE_TYPE)
            .cloned()
            .unwrap_or_else(|| task.task_definition.manifest_line.clone());
        let offset: u64 = checkpoint
            .offsets
            .get(BUILTIN_FILE_TYPE)
            .and_then(|o| o.parse().ok())
            .unwrap_or(0);
        log.log(
            LogLevel::Info,
            format!(
                "invocation started: file {file_name} from offset {offset}, part {}",
                checkpoint.next_part
            ),
        );

        // Open the input. Uncompressed files resume with a ranged read; compressed ones (and
        // CSV, which needs its header) are read from the start and skipped forward.
        let needs_header = matches!(
            parser_spec,
            BuiltinParser::Csv {
                has_header: true,
                ..
            }
        );
        let (input, read_from) = self.open_at(&file_name, offset, needs_header, log).await?;
        let ranged = read_from == offset;
        let mut reader = RecordReader::new(input, framing_for(parser_spec), read_from);
        let mut parser = builtin_parser(parser_spec, &file_name);

        let mut out = self
            .part_output(&task.task_id, checkpoint.next_part)
            .await?;
        out.set_source(BUILTIN_FILE_TYPE, &file_name);
        let ctx = ErrorContext {
            dataset_name: &self.dataset.dataset_name,
            dataset_id: &self.dataset.dataset_id,
            task_id: &task.task_id,
            file_type: BUILTIN_FILE_TYPE,
            file_name: &file_name,
        };
        let mut st = State::new(&checkpoint, BUILTIN_FILE_TYPE, offset);
        let mut doc_id = String::new();

        if needs_header && offset > 0 {
            // Let the parser see the header row, then jump to the checkpoint.
            'header: loop {
                if let Some(rec) = reader.try_next() {
                    parser.parse(&rec, &mut out.docs, &mut doc_id);
                    out.docs.clear();
                    break 'header;
                }
                if !reader.fill().await.map_err(read_error(&file_name))? {
                    break 'header;
                }
            }
        }
        if !ranged && offset > 0 {
            reader
                .skip_to(offset)
                .await
                .map_err(read_error(&file_name))?;
        }

        let mut last_position = reader.position();
        loop {
            while let Some(rec) = reader.try_next() {
                st.pending.records_read += 1;
                if rec.truncated {
                    out.push_oversize(&ctx, rec.start_offset, rec.end_offset, rec.bytes);
                    st.pending.error_records += 1;
                } else {
                    doc_id.clear();
                    match parser.parse(&rec, &mut out.docs, &mut doc_id) {
                        ParseOutcome::Document => {
                            out.end_doc(&doc_id);
                            st.pending.documents_written += 1;
                        }
                        ParseOutcome::Skip => st.pending.skip_records += 1,
                        ParseOutcome::Header => st.pending.records_read -= 1,
                        ParseOutcome::Error(message) => {
                            if log.enabled(LogLevel::Debug) {
                                log.log(
                                    LogLevel::Debug,
                                    format!(
                                        "error record at offsets {}..{}: {message}",
                                        rec.start_offset, rec.end_offset
                                    ),
                                );
                            }
                            out.push_error(
                                &ctx,
                                rec.start_offset,
                                rec.end_offset,
                                &message,
                                &doc_id,
                                rec.bytes,
                            );
                            st.pending.error_records += 1;
                        }
                    }
                }
                st.resume = rec.next_offset;
                if out.chunk_full() {
                    out.maybe_flush().await?;
                }
                if out.pending_bytes() >= self.settings.part_target_bytes {
                    self.roll(lease, &mut out, &mut st, false, log).await?;
                }
            }
            let position = reader.position();
            self.stats.add(
                &self.stats.bytes_read,
                position.saturating_sub(last_position),
            );
            last_position = position;
            self.publish(&mut st);

            if signals.lost.load(Ordering::Relaxed) {
                out.abort().await;
                return Err(InvokeError::LeaseLost);
            }
            if signals.stop.load(Ordering::Relaxed) {
                self.roll(lease, &mut out, &mut st, false, log).await?;
                log.log(
                    LogLevel::Warn,
                    format!("stopped by request: checkpointed at offset {}", st.resume),
                );
                return Ok(Outcome::Errored(STOPPED.to_string()));
            }
            if started.elapsed() >= budget {
                self.roll(lease, &mut out, &mut st, false, log).await?;
                log.log(
                    LogLevel::Info,
                    format!(
                        "time budget of {}s nearly used: checkpointed at offset {}, task queued again (RERUN)",
                        self.spec.compute_engine.timeout_in_seconds, st.resume
                    ),
                );
                return Ok(Outcome::Rerun);
            }
            match reader.fill().await {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    // Keep what was read before the failure, then fail the task.
                    self.roll(lease, &mut out, &mut st, false, log).await?;
                    return Err(read_error(&file_name)(e));
                }
            }
        }
        self.roll(lease, &mut out, &mut st, true, log).await?;
        log_completed(log, &st);
        Ok(Outcome::Completed)
    }

    /// Opens a file of the task at `offset`: a ranged read when uncompressed (and not
    /// `from_start`), otherwise from the start, to be skipped forward. Returns the input and
    /// the offset of its first byte.
    async fn open_at(
        &self,
        file_name: &str,
        offset: u64,
        from_start: bool,
        log: &TaskLog,
    ) -> Result<(Input, u64), InvokeError> {
        let compression = FileCompression::from_file_name(file_name);
        let ranged = matches!(compression, FileCompression::None) && !from_start;
        let read_from = if ranged { offset } else { 0 };
        let bucket = self.objects.bucket(&self.dataset.resources.read_bucket)?;
        let object = open_with_retry(&bucket, file_name, read_from, log).await?;
        Ok((decompress(compression, object.reader), read_from))
    }

    /// The task's output, starting at part `next_part`: part objects in the write bucket, or
    /// documents sent to the stream, queue or table the dataset writes.
    async fn part_output(&self, task_id: &str, next_part: u64) -> Result<PartOutput, InvokeError> {
        let resources = &self.dataset.resources;
        let (target, gzip) = match &self.spec.write_connector {
            WriteConnector::S3(write) => (
                DocTarget::Bucket(self.objects.bucket(&resources.write_bucket)?),
                write.compression == Compression::Gzip,
            ),
            other => (
                DocTarget::Destination(self.destination(other).await?),
                false,
            ),
        };
        Ok(PartOutput::new(
            target,
            self.objects.bucket(&resources.error_bucket)?,
            (&self.dataset.dataset_name, &self.dataset.dataset_id),
            task_id,
            gzip,
            next_part,
        ))
    }

    /// The writer of a Kinesis, SQS or DynamoDB write connector.
    async fn destination(&self, write: &WriteConnector) -> Result<sink::Destination, InvokeError> {
        let aws = self
            .aws
            .as_ref()
            .ok_or_else(|| InvokeError::Failed("no AWS clients for the write connector".into()))?;
        let resource = self
            .dataset
            .resources
            .write_resource
            .as_ref()
            .ok_or_else(|| InvokeError::Failed("the dataset has no write resource".into()))?;
        Ok(match write {
            WriteConnector::Kinesis(_) => {
                let arn = if resource.arn.is_empty() {
                    &resource.name
                } else {
                    &resource.arn
                };
                sink::Destination::Kinesis(aws.kinesis().writer(arn))
            }
            WriteConnector::Sqs(w) => {
                let sqs = aws.sqs();
                let url = if resource.url.is_empty() {
                    sqs.queue_url(&resource.name).await?
                } else {
                    resource.url.clone()
                };
                sink::Destination::Sqs(sqs.sender(&url, w.message_id_attribute_name.as_deref()))
            }
            WriteConnector::DynamoDb(w) => {
                let writer = aws.dynamodb().writer(&resource.name).await?;
                let fill_key = (w.resource_location == ResourceLocation::LetsData)
                    .then(|| w.partition_key_name.clone());
                sink::Destination::DynamoDb { writer, fill_key }
            }
            WriteConnector::S3(_) => {
                return Err(InvokeError::Failed("S3 is not a stream destination".into()));
            }
        })
    }

    /// Adds the records seen since the last publish to the live stats (for progress bars).
    fn publish(&self, st: &mut State) {
        let p = &st.pending;
        let s = &st.published;
        self.stats.add(
            &self.stats.records_read,
            p.records_read.saturating_sub(s.records_read),
        );
        self.stats.add(
            &self.stats.documents_written,
            p.documents_written.saturating_sub(s.documents_written),
        );
        self.stats.add(
            &self.stats.error_records,
            p.error_records.saturating_sub(s.error_records),
        );
        st.published = st.pending;
    }

    /// Completes the part, then checkpoints. Order matters: output first, checkpoint second.
    async fn roll(
        &self,
        lease: &Lease,
        out: &mut PartOutput,
        st: &mut State,
        end_of_input: bool,
        log: &TaskLog,
    ) -> Result<(), InvokeError> {
        // Make sure we still own the task before making a part visible.
        self.tasks.heartbeat(lease, self.settings.lease).await?;
        let part = out.part;
        let next_part = out.roll().await?;
        // Documents the destination rejected are error records now.
        let rejected = out.take_rejected();
        st.pending.documents_written = st.pending.documents_written.saturating_sub(rejected);
        st.pending.error_records += rejected;
        self.publish(st);
        st.pending.bytes_read = st.resume - st.rolled_at;
        st.rolled_at = st.resume;
        st.progress.add(&st.pending);
        st.pending = TaskProgress::default();
        st.published = TaskProgress::default();
        let mut checkpoint = Checkpoint {
            next_part,
            progress: st.progress,
            end_of_input,
            ..Default::default()
        };
        if let Some(p) = &st.position {
            checkpoint.sequence_number = p.sequence_number.clone();
            if p.sequence_number.is_none() {
                checkpoint.latest_start_millis = p.latest_start_millis;
            }
            checkpoint.last_evaluated_key = p.last_evaluated_key.clone();
            checkpoint.completed_scans = p.completed_scans;
        }
        match &st.files {
            _ if st.position.is_some() => {}
            Some(files) => {
                for f in files {
                    checkpoint
                        .offsets
                        .insert(f.file_type.clone(), f.offset.to_string());
                    if let Some(t) = &f.last_record_type {
                        checkpoint
                            .last_record_types
                            .insert(f.file_type.clone(), t.clone());
                    }
                }
            }
            None => {
                checkpoint
                    .offsets
                    .insert(st.file_type.clone(), st.resume.to_string());
            }
        }
        self.tasks
            .checkpoint(lease, &checkpoint, self.settings.lease)
            .await?;
        log.log(
            LogLevel::Debug,
            format!(
                "checkpoint: offset {}, part {part} durable, next part {next_part}, {} documents, {} errors so far",
                st.resume, st.progress.documents_written, st.progress.error_records
            ),
        );
        Ok(())
    }
}

/// Where one file of a state-machine task stands.
#[derive(Debug, Clone)]
struct FilePosition {
    file_type: String,
    offset: u64,
    last_record_type: Option<String>,
}

/// Counters and positions of one invocation.
struct State {
    /// The file type offsets are checkpointed under (single-file tasks).
    file_type: String,
    /// Every file's position (state-machine tasks); `resume` is then their sum.
    files: Option<Vec<FilePosition>>,
    /// Totals as of the last checkpoint.
    progress: TaskProgress,
    /// Since the last checkpoint.
    pending: TaskProgress,
    /// Part of `pending` already added to the live stats.
    published: TaskProgress,
    /// Where reading resumes after the last record processed.
    resume: u64,
    /// `resume` at the last checkpoint.
    rolled_at: u64,
    /// Stream, queue and table tasks: their position (`resume` counts bytes read).
    position: Option<source::SourcePosition>,
}

impl State {
    fn new(checkpoint: &Checkpoint, file_type: &str, offset: u64) -> Self {
        Self {
            file_type: file_type.to_string(),
            files: None,
            progress: checkpoint.progress,
            pending: TaskProgress::default(),
            published: TaskProgress::default(),
            resume: offset,
            rolled_at: offset,
            position: None,
        }
    }
}

/// A decompressed input stream.
type Input = std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>;

/// The last line of a completed task's log.
fn log_completed(log: &TaskLog, st: &State) {
    log.log(
        LogLevel::Info,
        format!(
            "task completed: {} records read, {} documents written, {} error records, {} skipped",
            st.progress.records_read,
            st.progress.documents_written,
            st.progress.error_records,
            st.progress.skip_records
        ),
    );
}

/// Why an invocation stopped early.
enum InvokeError {
    LeaseLost,
    Failed(String),
}

impl From<StoreError> for InvokeError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::LeaseLost { .. } => InvokeError::LeaseLost,
            other => InvokeError::Failed(format!("task database error: {other}")),
        }
    }
}

impl From<ConnectorError> for InvokeError {
    fn from(e: ConnectorError) -> Self {
        InvokeError::Failed(e.to_string())
    }
}

fn read_error(file_name: &str) -> impl Fn(std::io::Error) -> InvokeError + '_ {
    move |e| {
        let hint = match e.kind() {
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof => {
                "; the file may be truncated, corrupt, or not compressed the way its extension (.gz, .zst) says"
            }
            _ => "",
        };
        // Errors from the object stream carry the connector error; show it as is.
        InvokeError::Failed(format!("reading {file_name} failed: {e}{hint}"))
    }
}

/// Opens the input, retrying errors a retry can fix (3 attempts, exponential back-off).
async fn open_with_retry(
    bucket: &letsdata_connectors::object::Bucket,
    key: &str,
    offset: u64,
    log: &TaskLog,
) -> Result<letsdata_connectors::object::ObjectRead, ConnectorError> {
    let mut delay = Duration::from_millis(200);
    let mut attempt = 1;
    loop {
        match bucket.open_read(key, offset).await {
            Ok(o) => return Ok(o),
            Err(e) if e.kind() == FailureKind::Transient && attempt < 3 => {
                tracing::warn!(key, error = %e, attempt, "opening input failed; retrying");
                log.log(
                    LogLevel::Warn,
                    format!(
                        "opening {key} failed (attempt {attempt} of 3), retrying in {delay:?}: {e}"
                    ),
                );
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}
