//! Tasks of record sources (stream shards, queues, table segments, ...): each poll's records
//! go through the implementation (a built-in parser over each record's bytes, or the
//! component's reader interface, one call per record) into the task's output, exactly like
//! file records.
//!
//! The output is made durable and the source's position checkpointed between polls: every 5 s
//! while records arrive, when a part is full, when the source goes idle, and at the end; the
//! source acknowledges what each checkpoint covers (a queue deletes its messages then).

use super::invocation::{Cx, Driver, Progress, Step};
use super::output::{ErrorContext, PartOutput};
use super::wasm::{Labels, drain_guest_log, failed, write_document};
use super::{InvokeError, Runner};
use letsdata_connectors::source::{Next, RecordSource, SourceRecord, TaskSeed};
use letsdata_model::spec::BuiltinParser;
use letsdata_model::spec::{Implementation, RecordErrorPolicy};
use letsdata_model::task::{ConnectorFields, TaskProgress};
use letsdata_records::{ParseOutcome, Record, RecordParser, builtin_parser};
use letsdata_sandbox::wit::{Document, ParseDocumentResult, ParseDocumentResultStatus};
use letsdata_sandbox::{Code, Interface, Limits, RecordReader, Sandbox, SandboxError};
use std::time::Duration;

/// Output is made durable and the position checkpointed at least this often while records
/// arrive.
const ROLL_INTERVAL: Duration = Duration::from_secs(5);

/// The implementation records go through.
pub(super) enum Parse {
    Builtin(Box<dyn RecordParser>),
    Wasm(Box<RecordReader>),
    /// A Python or JavaScript handler: one request per record.
    Handler(Box<super::handler::HandlerCode>),
}

impl Parse {
    /// A built-in parser over each record's bytes; `name` is what error records call the input.
    pub(super) fn builtin(parser: &BuiltinParser, name: &str) -> Self {
        Self::Builtin(builtin_parser(parser, name))
    }

    /// The component's reader interface.
    pub(super) async fn wasm(
        sandbox: &Sandbox,
        code: &Code,
        limits: Limits,
        interface: Interface,
    ) -> Result<Self, InvokeError> {
        let reader = RecordReader::new(sandbox, code, limits, interface)
            .await
            .map_err(failed)?;
        Ok(Self::Wasm(Box::new(reader)))
    }
}

/// User code failing on one record.
pub(super) struct RecordFailure {
    pub message: String,
    /// The code cannot go on (the time limit passed, its process died): the task fails
    /// whatever the reader error policy says.
    pub fatal: bool,
}

impl RecordFailure {
    pub(super) fn of_record(message: String) -> Self {
        Self {
            message,
            fatal: false,
        }
    }
}

/// One record source's task.
pub(super) struct Records {
    source: Box<dyn RecordSource>,
    parse: Parse,
    labels: Labels,
    doc_id: String,
    policy: RecordErrorPolicy,
}

impl Records {
    pub(super) fn new(
        runner: &Runner,
        task_id: &str,
        source: Box<dyn RecordSource>,
        parse: Parse,
    ) -> Self {
        let (file_type, name) = source.label();
        let labels = Labels::new(runner, task_id, file_type, name);
        let policy = match runner.spec.read_connector.implementation() {
            Implementation::Code(code) => code.on_record_error,
            Implementation::Builtin(_) => RecordErrorPolicy::FailTask,
        };
        Self {
            source,
            parse,
            labels,
            doc_id: String::new(),
            policy,
        }
    }

    /// What the task reads and where it starts, for the log.
    pub(super) fn describe_start(&self) -> String {
        let start = self.source.describe_start();
        let (file_type, name) = self.source.label();
        if start.is_empty() {
            format!("{file_type} {name}")
        } else {
            format!("{file_type} {name} {start}")
        }
    }

    /// Turns one record into a document, an error record or a skip.
    async fn handle(
        &mut self,
        r: &SourceRecord,
        out: &mut PartOutput,
        progress: &mut Progress,
        log: &super::TaskLog,
    ) -> Result<(), RecordFailure> {
        let ctx = self.labels.context();
        match &mut self.parse {
            Parse::Builtin(parser) => match r.data() {
                Ok(data) => builtin(
                    parser.as_mut(),
                    data,
                    &r.id,
                    &mut self.doc_id,
                    out,
                    progress,
                    &ctx,
                ),
                Err(why) => {
                    progress.pending.records_read += 1;
                    record_error(out, &mut progress.pending, &ctx, &r.id, why, &r.raw);
                }
            },
            Parse::Wasm(reader) => {
                let result = reader.parse_record(&r.meta, &r.raw).await;
                drain_guest_log(log, reader.drain_log());
                let result = result.map_err(|e| RecordFailure {
                    // A trap or the memory limit is this record's; the instance is made anew.
                    fatal: !matches!(e, SandboxError::Trap(_) | SandboxError::MemoryLimit { .. }),
                    message: e.to_string(),
                });
                user_result(result, out, &mut progress.pending, &ctx, &r.id, &r.raw)?;
            }
            Parse::Handler(handler) => {
                // Handlers get the record's data as text: a gzipped Kinesis record gunzipped
                // (LetsData's Kinesis writer gzips), as built-in parsers see it.
                let data = match r.data() {
                    Ok(d) => d,
                    Err(why) => {
                        progress.pending.records_read += 1;
                        record_error(out, &mut progress.pending, &ctx, &r.id, why, &r.raw);
                        progress.resume += r.raw.len() as u64;
                        return Ok(());
                    }
                };
                let result = handler.parse_record(&r.meta, data).await;
                drain_guest_log(log, handler.drain_output());
                // Its error records keep the record as the handler saw it.
                user_result(result, out, &mut progress.pending, &ctx, &r.id, data)?;
            }
        }
        progress.resume += r.raw.len() as u64;
        Ok(())
    }
}

impl Driver for Records {
    async fn step(&mut self, cx: &mut Cx<'_>) -> Result<Step, InvokeError> {
        let batch = self.source.poll().await?;
        let mut handled = 0;
        for r in &batch.records {
            let failure = match self.handle(r, cx.out, cx.progress, cx.log).await {
                Ok(()) => {
                    handled += 1;
                    continue;
                }
                Err(f) => f,
            };
            match self.policy {
                RecordErrorPolicy::WriteErrorAndContinue { delete_message } if !failure.fatal => {
                    // The record is an error record holding the failure; the task goes on.
                    let ctx = self.labels.context();
                    let pending = &mut cx.progress.pending;
                    pending.records_read += 1;
                    let raw = r.data().map(|d| &d[..]).unwrap_or(&r.raw);
                    record_error(cx.out, pending, &ctx, &r.id, &failure.message, raw);
                    cx.progress.resume += r.raw.len() as u64;
                    if delete_message {
                        handled += 1;
                    } else {
                        self.source.consume(handled);
                        handled = 0;
                        self.source.leave(1);
                    }
                }
                _ => {
                    // The records before it are handled: the checkpoint covers them.
                    self.source.consume(handled);
                    return Err(InvokeError::user(failure.message));
                }
            }
        }
        self.source.consume(handled);
        Ok(match batch.next {
            Next::More => Step::Continue,
            Next::CaughtUp => Step::CaughtUp,
            Next::Idle { pause } => Step::Idle { pause },
            Next::PassDone => Step::PassDone,
            Next::Finished(why) => Step::Finished(Some(why)),
        })
    }

    fn position(&self, _progress: &Progress) -> Result<ConnectorFields, InvokeError> {
        Ok(self.source.position()?)
    }

    fn describe_position(&self, _progress: &Progress) -> String {
        String::new()
    }

    async fn before_commit(&mut self) -> Result<(), InvokeError> {
        Ok(self.source.before_commit().await?)
    }

    async fn after_commit(&mut self) -> Result<(), InvokeError> {
        Ok(self.source.after_commit().await?)
    }

    async fn abandon(&mut self) {
        self.source.release().await;
    }

    async fn follow_ups(&mut self) -> Result<Vec<TaskSeed>, InvokeError> {
        Ok(self.source.follow_ups().await?)
    }

    fn roll_interval(&self) -> Option<Duration> {
        Some(ROLL_INTERVAL)
    }

    fn acknowledges(&self) -> bool {
        true
    }

    async fn close(&mut self, log: &super::TaskLog) {
        if let Parse::Handler(handler) = &mut self.parse {
            drain_guest_log(log, handler.close().await);
        }
    }
}

/// Parses one record's data with a built-in parser. `id` is the record's own id (used when
/// the parser finds no `documentIdField`).
fn builtin(
    parser: &mut dyn RecordParser,
    data: &[u8],
    id: &str,
    doc_id: &mut String,
    out: &mut PartOutput,
    progress: &mut Progress,
    ctx: &ErrorContext<'_>,
) {
    let rec = Record {
        bytes: data,
        start_offset: progress.resume,
        end_offset: progress.resume + data.len() as u64,
        next_offset: progress.resume + data.len() as u64,
        truncated: false,
    };
    let counts = &mut progress.pending;
    counts.records_read += 1;
    doc_id.clear();
    match parser.parse(&rec, &mut out.docs, doc_id) {
        ParseOutcome::Document => {
            out.end_doc(if doc_id.is_empty() { id } else { doc_id });
            counts.documents_written += 1;
        }
        ParseOutcome::Skip => counts.skip_records += 1,
        ParseOutcome::Header => counts.records_read -= 1,
        ParseOutcome::Error(message) => {
            let id = if doc_id.is_empty() {
                id
            } else {
                doc_id.as_str()
            };
            record_error(out, counts, ctx, id, &message, data);
        }
    }
}

/// An error record for one record of a source, located by the record's id.
fn record_error(
    out: &mut PartOutput,
    counts: &mut TaskProgress,
    ctx: &ErrorContext<'_>,
    id: &str,
    message: &str,
    raw: &[u8],
) {
    let at = [(ctx.file_type.to_string(), id.to_string())];
    out.push_error_doc(ctx, &at, &at, message, Some(id), raw);
    counts.error_records += 1;
}

/// Handles a reader component's result for one record.
fn user_result(
    result: Result<ParseDocumentResult, RecordFailure>,
    out: &mut PartOutput,
    counts: &mut TaskProgress,
    ctx: &ErrorContext<'_>,
    id: &str,
    raw: &[u8],
) -> Result<(), RecordFailure> {
    let result = result?;
    counts.records_read += 1;
    match (result.document, result.status) {
        // An error document without content of its own: the record it is about is the raw record.
        (Some(Document::Error(e)), _) if e.serialized.is_none() => {
            out.push_error_doc(
                ctx,
                &e.error_start_offset_map,
                &e.error_end_offset_map,
                &e.error_message,
                Some(e.document_id.as_deref().unwrap_or(id)),
                raw,
            );
            counts.error_records += 1;
        }
        (Some(doc), status) => write_document(out, counts, ctx, doc, status),
        (None, ParseDocumentResultStatus::Skip) => counts.skip_records += 1,
        (None, status) => record_error(
            out,
            counts,
            ctx,
            id,
            &format!("the reader returned status {status:?} without a document"),
            raw,
        ),
    }
    Ok(())
}
