//! One task invocation (LetsData: one Data Task Lambda invocation).
//!
//! The read connector opens the task at its checkpoint position, the write and error
//! connectors open writers for its output, and one [`invocation::Driver`] (chosen by the shape
//! of the input and the implementation) runs in the one invocation loop
//! ([`invocation::Invocation::run`]):
//!
//! | input | built-in parser | Wasm |
//! |---|---|---|
//! | files | [`files::BuiltinFiles`] | [`wasm::UserFiles`] (`SingleFileParser`: a component, or a Python / JavaScript handler, [`handler`]), [`state_machine::StateMachineFiles`] (state-machine readers) |
//! | records | [`records::Records`] | [`records::Records`] (the component's reader interface) |

mod cursor;
mod files;
mod handler;
mod invocation;
mod output;
mod records;
pub(crate) mod slots;
mod state_machine;
pub(crate) mod tasklog;
mod wasm;

use crate::datasets::DatasetConnectors;
use crate::{EngineSettings, LiveStats};
pub(crate) use invocation::Completion;
pub(crate) use invocation::log_completed;
use invocation::{Invocation, Progress};
use letsdata_connectors::ConnectorContext;
use letsdata_connectors::sink::{Fence, SinkTask};
use letsdata_connectors::source::TaskInput;
use letsdata_connectors::{ConnectorError, FailureKind};
use letsdata_model::spec::{Implementation, LogLevel};
use letsdata_model::{Dataset, DatasetSpec};
use letsdata_sandbox::InterfaceKind;
use letsdata_store::{Lease, StoreError, TaskStore};
use output::PartOutput;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64};
use std::time::{Duration, Instant};
pub(crate) use tasklog::TaskLog;
pub(crate) use wasm::drain_guest_log;

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
    /// When the invocation took its slot (epoch milliseconds; 0 until it has).
    pub working_since: AtomicI64,
    /// When it gave the slot back (epoch milliseconds; 0 until it has): the end of the time it
    /// counted towards the concurrency (staging a small final part comes after).
    pub working_until: Arc<AtomicI64>,
}

/// How an invocation ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The input is finished. With the final part staged, for the task's finish to record
    /// with the final checkpoint and then publish; `None` when the invocation saved the final
    /// checkpoint itself.
    Completed(Option<Box<Completion>>),
    /// The time budget ran out; the task was checkpointed and should be queued again.
    Rerun,
    Errored(Failure),
    /// Another worker owns the task now; nothing more may be written.
    LeaseLost,
}

/// Everything an invocation needs, cheap to clone into a spawned task.
#[derive(Clone)]
pub(crate) struct Runner {
    pub connectors: Arc<ConnectorContext>,
    pub tasks: Arc<dyn TaskStore>,
    pub stats: Arc<LiveStats>,
    pub settings: EngineSettings,
    pub dataset: Arc<Dataset>,
    pub spec: Arc<DatasetSpec>,
    /// The dataset's read source and sinks.
    pub connectors_of: Arc<DatasetConnectors>,
    pub worker_id: String,
    pub log_dir: std::path::PathBuf,
    /// Runs user code (datasets with a Wasm implementation).
    pub sandbox: Option<letsdata_sandbox::Sandbox>,
    /// Where this machine builds Python and JavaScript code (datasets with a handler).
    pub handlers: letsdata_lambda::Builds,
    /// The vectors engine's model (`LAMBDA_AND_SAGEMAKER` datasets): documents are embedded
    /// before they are written.
    pub vectors: Option<Arc<crate::vectors::Vectorizer>>,
    /// Where a handler's process works: a directory per task attempt under it.
    pub scratch_dir: std::path::PathBuf,
    /// The worker's slots: an invocation opens its input before it takes one.
    pub slots: Arc<slots::Slots>,
    /// The worker is shutting down ([`crate::Engine::drain`]).
    pub draining: Arc<std::sync::atomic::AtomicBool>,
}

/// Runs a fenced store write (a checkpoint, a finish) again while it fails in a way a retry can
/// fix (a lost connection, a database restarting), pausing 100 ms, then twice as long each time
/// up to 2 s, for at most `within`; then its last result. Once an attempt failed that way,
/// whether it was recorded is unknown: a later "lease lost" may be that attempt's own doing
/// (it recorded the end, or the lease moved on after it recorded the checkpoint), so the
/// unknown outcome is returned instead, and what the write covers is kept, not aborted.
pub(crate) async fn retry_store<T, F, Fut>(within: Duration, mut write: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let deadline = std::time::Instant::now() + within;
    let mut pause = Duration::from_millis(100);
    let mut unknown: Option<StoreError> = None;
    loop {
        match write().await {
            Err(e) if e.is_retryable() && std::time::Instant::now() + pause < deadline => {
                tracing::warn!(error = %e, retry_in = ?pause, "a task's store write failed; retrying");
                unknown = Some(e);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            Err(StoreError::LeaseLost { .. }) if unknown.is_some() => {
                return Err(unknown.expect("checked"));
            }
            other => return other,
        }
    }
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
            self.settings.task_log_max_bytes,
            // On a shared store the log is kept in the store too, for every machine.
            self.settings.database_url.is_some(),
        )
    }

    /// Waits for a slot to work in (see [`slots`]).
    async fn take_slot(&self, signals: &Signals) -> slots::Slot {
        let mut slot = self.slots.take().await;
        slot.note_release(signals.working_until.clone());
        signals.working_since.store(
            letsdata_model::time::now_millis(),
            std::sync::atomic::Ordering::Relaxed,
        );
        slot
    }

    /// Runs one invocation of the leased task: opens its input and writers, takes a slot,
    /// works, and gives the slot back when it returns.
    pub(crate) async fn invoke(
        &self,
        lease: &Lease,
        signals: &Signals,
        log: &Arc<TaskLog>,
    ) -> Outcome {
        match self.invoke_inner(lease, signals, log).await {
            Ok(outcome) => outcome,
            Err(InvokeError::LeaseLost) => Outcome::LeaseLost,
            Err(InvokeError::Failed(failure)) => Outcome::Errored(failure),
        }
    }

    async fn invoke_inner(
        &self,
        lease: &Lease,
        signals: &Signals,
        log: &Arc<TaskLog>,
    ) -> Result<Outcome, InvokeError> {
        let started = Instant::now();
        let budget = soft_deadline(Duration::from_secs(u64::from(
            self.spec.compute_engine.timeout_in_seconds,
        )));
        let task = &lease.task;
        let checkpoint = task.checkpoint.clone().unwrap_or_default();
        let mut out = self.output(lease, checkpoint.next_part).await?;
        // What the last checkpoint staged is published before anything else (its worker may
        // have died first), and what earlier attempts left is removed.
        let fence = LeaseFence {
            runner: self,
            lease,
            lost: AtomicBool::new(false),
        };
        if let Err(e) = out.recover(&checkpoint.staged_parts, &fence).await {
            if fence.lost.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(InvokeError::LeaseLost);
            }
            return Err(e.into());
        }
        if checkpoint.end_of_input {
            return Ok(Outcome::Completed(None));
        }
        let input = self
            .connectors_of
            .source
            .open(
                &self.connectors,
                &task.task_definition,
                &checkpoint.position,
            )
            .await?;
        let run = Invocation {
            runner: self,
            lease,
            signals,
            log,
            started,
            budget,
        };
        if let Some(model) = &self.vectors {
            out.set_vectors(self.task_vectors(&run, model, log).await?);
        }
        let progress = |resume| Progress::new(checkpoint.progress, resume);
        match (input, self.spec.read_connector.implementation()) {
            (TaskInput::Files(files), Implementation::Builtin(parser)) => {
                let (driver, resume, source) = files::BuiltinFiles::open(
                    self,
                    &task.task_id,
                    checkpoint.next_part,
                    files,
                    parser,
                    log,
                )
                .await?;
                out.set_source(&source.0, &source.1);
                // Nothing fails between starting the part and the loop, which stages or
                // abandons it whatever happens.
                out.prepare().await?;
                let slot = self.take_slot(signals).await;
                run.run(driver, out, progress(resume), slot).await
            }
            (TaskInput::Files(files), Implementation::Code(code)) if code.language.is_handler() => {
                // The handler's process runs in a slot (it counts against the concurrency).
                let slot = self.take_slot(signals).await;
                let parser = self.handler_code(&run, &task.task_id).await?;
                let (driver, resume) = wasm::UserFiles::open(
                    self,
                    &task.task_id,
                    checkpoint.next_part,
                    files,
                    parser,
                    log,
                )
                .await?;
                run.run(driver, out, progress(resume), slot).await
            }
            (TaskInput::Files(files), Implementation::Code(_)) => {
                // User code runs in a slot (its instances count against the concurrency).
                let slot = self.take_slot(signals).await;
                let (sandbox, code, limits, interface) = self.user_code(&run).await?;
                match interface.kind() {
                    InterfaceKind::FileParser => {
                        let parser = letsdata_sandbox::FileParser::new(&sandbox, &code, limits)
                            .await
                            .map_err(wasm::failed)?;
                        let (driver, resume) = wasm::UserFiles::open(
                            self,
                            &task.task_id,
                            checkpoint.next_part,
                            files,
                            parser,
                            log,
                        )
                        .await?;
                        run.run(driver, out, progress(resume), slot).await
                    }
                    InterfaceKind::StateMachine { multiple } => {
                        let (driver, resume) = state_machine::StateMachineFiles::open(
                            self,
                            &task.task_id,
                            checkpoint.next_part,
                            files,
                            (&sandbox, &code, limits),
                            multiple,
                            log,
                        )
                        .await?;
                        run.run(driver, out, progress(resume), slot).await
                    }
                    InterfaceKind::RecordReader | InterfaceKind::Vectors => {
                        Err(InvokeError::internal(format!(
                            "{} reads no files",
                            interface.letsdata_name()
                        )))
                    }
                }
            }
            (TaskInput::Records(source), implementation) => {
                let slot = self.take_slot(signals).await;
                let parse = match implementation {
                    Implementation::Builtin(parser) => {
                        records::Parse::builtin(parser, source.label().1)
                    }
                    Implementation::Code(code) if code.language.is_handler() => {
                        let reader = self.handler_code(&run, &task.task_id).await?;
                        records::Parse::Handler(Box::new(reader))
                    }
                    Implementation::Code(_) => {
                        let (sandbox, code, limits, interface) = self.user_code(&run).await?;
                        records::Parse::wasm(&sandbox, &code, limits, interface).await?
                    }
                };
                let (file_type, name) = source.label();
                out.set_source(file_type, name);
                let driver = records::Records::new(self, &task.task_id, source, parse);
                log.log(
                    LogLevel::Info,
                    format!(
                        "invocation started: {}, part {}",
                        driver.describe_start(),
                        checkpoint.next_part
                    ),
                );
                run.run(driver, out, progress(0), slot).await
            }
        }
    }

    /// The vectors engine's stage of this invocation: the dataset's model and its
    /// `SagemakerVectorsInterface` (the built-in one when `builtinVectorsFields` names the
    /// fields, else the user code's: a component's instance, or a handler's process of its own).
    async fn task_vectors(
        &self,
        run: &Invocation<'_>,
        model: &Arc<crate::vectors::Vectorizer>,
        log: &Arc<TaskLog>,
    ) -> Result<crate::vectors::TaskVectors, InvokeError> {
        use crate::vectors::{BuiltinVectors, VectorsInterface, WasmVectors};
        let spec = self.spec.compute_engine.vectors.as_ref();
        let interface: Box<dyn VectorsInterface> = match spec
            .and_then(|v| v.builtin_fields.as_deref())
        {
            Some(fields) => Box::new(BuiltinVectors::new(fields)),
            None => match self.spec.read_connector.implementation() {
                Implementation::Code(code) if code.language.is_handler() => Box::new(
                    self.handler_vectors(run, &run.lease.task.task_id, log.clone())
                        .await?,
                ),
                Implementation::Code(_) => {
                    let vectors_interface = letsdata_sandbox::Interface::SagemakerVectorsInterface;
                    let (sandbox, code, limits) = self.code_for(run, vectors_interface).await?;
                    // Code loaded by this process already was not checked for this export.
                    sandbox
                        .check_exports(&code, vectors_interface)
                        .map_err(|e| InvokeError::user(e.to_string()))?;
                    let instance = letsdata_sandbox::VectorsCode::new(&sandbox, &code, limits)
                        .await
                        .map_err(wasm::failed)?;
                    Box::new(WasmVectors::new(instance, log.clone()))
                }
                Implementation::Builtin(_) => {
                    return Err(InvokeError::user(
                        "the dataset has neither computeEngine.builtinVectorsFields nor user code implementing SagemakerVectorsInterface",
                    ));
                }
            },
        };
        Ok(crate::vectors::TaskVectors::new(model.clone(), interface))
    }

    /// The task's output, starting at part `next_part`: writers of the write and error
    /// connectors for this attempt.
    async fn output(&self, lease: &Lease, next_part: u64) -> Result<PartOutput, InvokeError> {
        let task_id = lease.task.task_id.as_str();
        let task = SinkTask {
            dataset_name: &self.dataset.dataset_name,
            task_id,
            attempt: lease.token.get() as u64,
        };
        let [(_, write, write_resource), (_, error, error_resource)] = self
            .connectors_of
            .sinks(&self.dataset, &self.spec)
            .map_err(|e| InvokeError::internal(e.to_string()))?;
        let documents = write.open(&self.connectors, &write_resource, &task).await?;
        let errors = error.open(&self.connectors, &error_resource, &task).await?;
        Ok(PartOutput::new(
            documents,
            errors,
            (&self.dataset.dataset_name, &self.dataset.dataset_id),
            task_id,
            next_part,
            self.settings.part_target_bytes,
        ))
    }
}

/// The attempt's hold on its task, for the sinks to check before removing what another
/// attempt could still use.
struct LeaseFence<'a> {
    runner: &'a Runner,
    lease: &'a Lease,
    /// The check found the lease lost.
    lost: AtomicBool,
}

#[async_trait::async_trait]
impl Fence for LeaseFence<'_> {
    async fn check(&self) -> Result<(), ConnectorError> {
        match self
            .runner
            .tasks
            .heartbeat(self.lease, self.runner.settings.lease)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                if matches!(e, StoreError::LeaseLost { .. }) {
                    self.lost.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                Err(ConnectorError::Io {
                    what: "cannot check the task's lease".into(),
                    message: e.to_string(),
                    kind: FailureKind::Transient,
                })
            }
        }
    }
}

/// Why an invocation failed: whose fault it is, and what happened (the task's `lastError`).
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

/// Why an invocation stopped early.
pub(crate) enum InvokeError {
    LeaseLost,
    Failed(Failure),
}

impl InvokeError {
    /// A failure the user fixes: the input, the configuration or the user code.
    pub(crate) fn user(message: impl Into<String>) -> Self {
        Self::failed(FailureKind::User, message)
    }

    /// A failure of letsdata itself.
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::failed(FailureKind::Internal, message)
    }

    pub(crate) fn failed(kind: FailureKind, message: impl Into<String>) -> Self {
        Self::Failed(Failure {
            kind,
            message: message.into(),
        })
    }
}

impl From<StoreError> for InvokeError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::LeaseLost { .. } => InvokeError::LeaseLost,
            other => InvokeError::failed(
                FailureKind::Transient,
                format!("task database error: {other}"),
            ),
        }
    }
}

impl From<ConnectorError> for InvokeError {
    fn from(e: ConnectorError) -> Self {
        InvokeError::failed(e.kind(), e.to_string())
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
        let kind = match e.kind() {
            std::io::ErrorKind::InvalidData
            | std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::NotFound
            | std::io::ErrorKind::PermissionDenied => FailureKind::User,
            _ => FailureKind::Transient,
        };
        // Errors from the object stream carry the connector error; show it as is.
        InvokeError::failed(kind, format!("reading {file_name} failed: {e}{hint}"))
    }
}

/// A decompressed input stream.
type Input = std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>;

/// Opens a file of the task at `offset`: a ranged read when uncompressed (and not
/// `from_start`), otherwise from the start, to be skipped forward. Returns the input, the
/// offset of its first byte, and how many bytes it holds when that is known (uncompressed).
async fn open_file(
    files: &letsdata_connectors::source::FileInput,
    file_name: &str,
    offset: u64,
    from_start: bool,
    log: &TaskLog,
) -> Result<(Input, u64, Option<u64>), InvokeError> {
    let compression = letsdata_records::FileCompression::from_file_name(file_name);
    let ranged = matches!(compression, letsdata_records::FileCompression::None) && !from_start;
    let read_from = if ranged { offset } else { 0 };
    log.log(
        LogLevel::Info,
        if read_from == offset {
            format!("reading {file_name} from byte {read_from}")
        } else {
            format!(
                "reading {file_name} from byte {read_from}, skipping to offset {offset} (a \
                 compressed file, or a header to read first)"
            )
        },
    );
    let on_retry = |message: &str| log.log(LogLevel::Warn, message);
    let object = files.open(file_name, read_from, &on_retry).await?;
    let len = matches!(compression, letsdata_records::FileCompression::None)
        .then(|| object.size.saturating_sub(read_from));
    Ok((
        letsdata_records::decompress(compression, object.reader),
        read_from,
        len,
    ))
}
