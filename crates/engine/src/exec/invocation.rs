//! The one invocation loop, for every kind of input and implementation.
//!
//! A [`Driver`] turns input into documents, error records and skips: a built-in parser over
//! files, a Wasm parser over files, a Wasm state-machine reader, or a record source through a
//! built-in parser or a Wasm reader. It works in steps (a buffer of a file, one call into user
//! code, one poll of a source) and returns after each, early when output is due. Everything
//! else is here, once:
//!
//! * between steps: a lost lease abandons the part (nothing of it becomes visible), a stop
//!   request or the end of the time budget makes what was read durable, checkpoints and ends
//!   the invocation (ERRORED "stopped", RERUN);
//! * after a step: buffered output is handed to the sinks in ~1 MiB chunks, and the part is
//!   rolled when full (and, for sources, every few seconds while records arrive and when the
//!   source goes idle);
//! * a roll makes the part durable *first* (both sinks commit) and checkpoints the driver's
//!   position *second* ([`roll`]); sources acknowledge what the checkpoint covers after it;
//! * a failure of the driver keeps everything before it (roll, then ERRORED with the reason).
//!
//! Idle sources are polled with exponential back-off (200 ms doubling to at most 1 minute).

use super::output::PartOutput;
use super::slots::Slot;
use super::{Failure, InvokeError, Outcome, Runner, STOPPED, Signals, TaskLog};
use crate::LiveStats;
use letsdata_connectors::FailureKind;
use letsdata_connectors::failpoints;
use letsdata_connectors::source::TaskSeed;
use letsdata_model::spec::LogLevel;
use letsdata_model::task::{Checkpoint, ConnectorFields, TaskProgress};
use letsdata_store::Lease;
use letsdata_store::StoreError;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// A final part of at most this many bytes is staged after the invocation gave its slot back.
const SMALL_FINAL_PART: u64 = 1024 * 1024;
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What one invocation works with.
pub(super) struct Invocation<'a> {
    pub runner: &'a Runner,
    pub lease: &'a Lease,
    pub signals: &'a Signals,
    pub log: &'a TaskLog,
    pub started: Instant,
    pub budget: Duration,
}

/// Counters of one invocation, and where in its input it is.
#[derive(Debug)]
pub(super) struct Progress {
    /// Totals as of the last checkpoint.
    pub totals: TaskProgress,
    /// Since the last checkpoint.
    pub pending: TaskProgress,
    /// Part of `pending` already added to the live stats.
    published: TaskProgress,
    /// Bytes of input up to the last record handled: a file's offset, the sum of several
    /// files' offsets, the bytes of the records of a source.
    pub resume: u64,
    /// `resume` at the last checkpoint.
    rolled_at: u64,
}

impl Progress {
    pub(super) fn new(totals: TaskProgress, resume: u64) -> Self {
        Self {
            totals,
            pending: TaskProgress::default(),
            published: TaskProgress::default(),
            resume,
            rolled_at: resume,
        }
    }
}

/// What follows a driver's step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    /// More input to read (possibly output is due first); a source had records.
    Continue,
    /// At the tip of a source: roll if due, pause briefly.
    CaughtUp,
    /// Nothing new: make what was read durable, then pause with growing back-off (unless
    /// `pause` is false).
    Idle { pause: bool },
    /// A pass over the input completed (a `Continuous` scan): roll, pause with back-off.
    PassDone,
    /// The input is finished; says why when it is not the plain end of a file.
    Finished(Option<String>),
}

/// What a driver's step works on.
pub(super) struct Cx<'a> {
    pub out: &'a mut PartOutput,
    pub progress: &'a mut Progress,
    pub log: &'a TaskLog,
    pub stats: &'a LiveStats,
}

/// Turns one task's input into output; see the module docs.
pub(super) trait Driver: Send {
    /// Handles the next piece of input.
    fn step(&mut self, cx: &mut Cx<'_>) -> impl Future<Output = Result<Step, InvokeError>> + Send;

    /// The checkpoint position covering everything handed to the output so far.
    fn position(&self, progress: &Progress) -> Result<ConnectorFields, InvokeError>;

    /// The size of the whole input in bytes, when it is known before reading it all (one
    /// uncompressed file): recorded with the task's progress ([`TaskProgress::input_bytes`]).
    fn input_bytes(&self) -> Option<u64> {
        None
    }

    /// Where the task stands, for log lines (`offset 1234`); empty to say nothing.
    fn describe_position(&self, progress: &Progress) -> String {
        format!("offset {}", progress.resume)
    }

    /// Output covering the position is about to be made durable.
    fn before_commit(&mut self) -> impl Future<Output = Result<(), InvokeError>> + Send {
        async { Ok(()) }
    }

    /// The checkpoint covering the position is stored.
    fn after_commit(&mut self) -> impl Future<Output = Result<(), InvokeError>> + Send {
        async { Ok(()) }
    }

    /// The attempt fails: input read but not handled is given back.
    fn abandon(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Tasks to add now that the input is finished.
    fn follow_ups(&mut self) -> impl Future<Output = Result<Vec<TaskSeed>, InvokeError>> + Send {
        async { Ok(Vec::new()) }
    }

    /// How often output is made durable while records arrive (`None`: only when parts fill).
    fn roll_interval(&self) -> Option<Duration> {
        None
    }

    /// The invocation is over: user code stops, and what it printed last goes to `log`.
    /// Called once the input is finished and again however the invocation ended.
    fn close(&mut self, log: &TaskLog) -> impl Future<Output = ()> + Send {
        let _ = log;
        async {}
    }

    /// Whether [`Driver::after_commit`] tells the source what a checkpoint covers: the final
    /// checkpoint is then saved by the invocation, not with the task's finish.
    fn acknowledges(&self) -> bool {
        false
    }
}

/// The final part of an invocation that finished its input: staged, for the task's finish to
/// record with the final checkpoint, and then to publish.
pub(crate) struct Completion {
    pub checkpoint: Checkpoint,
    pub out: PartOutput,
}

impl std::fmt::Debug for Completion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Completion")
            .field("checkpoint", &self.checkpoint)
            .finish_non_exhaustive()
    }
}

/// The task log's last line of a completed task.
pub(crate) fn log_completed(log: &TaskLog, p: &TaskProgress) {
    log.log(
        LogLevel::Info,
        format!(
            "task completed: {} records read, {} documents written, {} error records, {} skipped",
            p.records_read, p.documents_written, p.error_records, p.skip_records
        ),
    );
}

impl Invocation<'_> {
    /// Runs the task's input through `driver` into `out` until it is finished, stopped, out
    /// of time, failed or taken by another worker.
    pub(super) async fn run<D: Driver>(
        &self,
        mut driver: D,
        out: PartOutput,
        progress: Progress,
        slot: Slot,
    ) -> Result<Outcome, InvokeError> {
        let outcome = self.drive(&mut driver, out, progress, slot).await;
        // However the invocation ended, what the user's code printed last reaches the log.
        driver.close(self.log).await;
        outcome
    }

    async fn drive<D: Driver>(
        &self,
        driver: &mut D,
        mut out: PartOutput,
        mut progress: Progress,
        slot: Slot,
    ) -> Result<Outcome, InvokeError> {
        let runner = self.runner;
        let mut backoff = FIRST_BACKOFF;
        let mut last_roll = Instant::now();
        let started_at = progress.resume;
        if let Some(size) = driver.input_bytes() {
            progress.totals.input_bytes = size;
        }
        let finished = loop {
            if self.signals.lost.load(Ordering::Relaxed) {
                out.abort().await;
                return Err(InvokeError::LeaseLost);
            }
            if self.signals.stop.load(Ordering::Relaxed) {
                self.roll(driver, &mut out, &mut progress, false).await?;
                let at = driver.describe_position(&progress);
                self.log.log(
                    LogLevel::Warn,
                    if at.is_empty() {
                        "stopped by request: checkpointed".to_string()
                    } else {
                        format!("stopped by request: checkpointed at {at}")
                    },
                );
                return Ok(Outcome::Errored(Failure {
                    kind: FailureKind::User,
                    message: STOPPED.to_string(),
                }));
            }
            // The failpoint `invocation-budget` ends the budget at a chosen check (once the
            // invocation handled some input, so that every invocation gets on), for tests of
            // RERUN.
            let draining = runner.draining.load(Ordering::Relaxed);
            if draining
                || self.started.elapsed() >= self.budget
                || (progress.resume > started_at && failpoints::decide("invocation-budget"))
            {
                self.roll(driver, &mut out, &mut progress, false).await?;
                let at = driver.describe_position(&progress);
                let at = if at.is_empty() {
                    String::new()
                } else {
                    format!(" at {at}")
                };
                self.log.log(
                    LogLevel::Info,
                    if draining {
                        format!(
                            "worker {} shutting down: checkpointed{at}, task queued again (RERUN)",
                            runner.worker_id
                        )
                    } else {
                        format!(
                            "time budget of {}s nearly used: checkpointed{at}, task queued again (RERUN)",
                            runner.spec.compute_engine.timeout_in_seconds
                        )
                    },
                );
                return Ok(Outcome::Rerun);
            }
            let step = {
                let mut cx = Cx {
                    out: &mut out,
                    progress: &mut progress,
                    log: self.log,
                    stats: &runner.stats,
                };
                driver.step(&mut cx).await
            };
            let step = match step {
                Ok(step) => step,
                Err(InvokeError::Failed(failure)) => {
                    // Keep what was handled before the failure, then fail the attempt.
                    driver.abandon().await;
                    self.roll(driver, &mut out, &mut progress, false).await?;
                    return Err(InvokeError::Failed(failure));
                }
                Err(lost) => {
                    out.abort().await;
                    return Err(lost);
                }
            };
            if out.chunk_full() {
                out.flush().await?;
            }
            runner.publish(&mut progress);
            let roll_due = out.part_full()
                || driver
                    .roll_interval()
                    .is_some_and(|every| last_roll.elapsed() >= every);
            match step {
                Step::Continue => {
                    if roll_due {
                        self.roll(driver, &mut out, &mut progress, false).await?;
                        last_roll = Instant::now();
                    }
                    backoff = FIRST_BACKOFF;
                }
                Step::CaughtUp => {
                    if roll_due {
                        self.roll(driver, &mut out, &mut progress, false).await?;
                        last_roll = Instant::now();
                    }
                    backoff = FIRST_BACKOFF;
                    self.wait(FIRST_BACKOFF).await;
                }
                Step::Idle { pause } => {
                    // Idle: make what was read durable, then wait.
                    if progress.pending != TaskProgress::default() {
                        self.roll(driver, &mut out, &mut progress, false).await?;
                        last_roll = Instant::now();
                    }
                    if pause {
                        self.wait(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
                Step::PassDone => {
                    self.roll(driver, &mut out, &mut progress, false).await?;
                    last_roll = Instant::now();
                    self.log.log(
                        LogLevel::Info,
                        format!(
                            "a pass over the input completed; the next one starts in {backoff:?}"
                        ),
                    );
                    self.wait(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Step::Finished(why) => break why,
            }
        };
        // The user's code is done: its last prints come before the task's last lines.
        driver.close(self.log).await;
        if let Some(why) = &finished {
            self.log.log(LogLevel::Info, why);
        }
        let seeds = driver.follow_ups().await?;
        if !seeds.is_empty() {
            let source = runner.connectors_of.source.as_ref();
            let tasks: Vec<letsdata_store::NewTask> = seeds
                .into_iter()
                .map(|seed| {
                    crate::datasets::new_task(&runner.dataset.dataset_id, source.task_type(), seed)
                })
                .collect();
            let added = runner.tasks.insert_tasks(&tasks).await?;
            self.log.log(
                LogLevel::Info,
                format!(
                    "{} tasks follow this one ({added} new): {}",
                    tasks.len(),
                    tasks
                        .iter()
                        .map(|t| t.definition.manifest_line.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        if driver.acknowledges() {
            // The source is told what the final checkpoint covers: it is saved here.
            self.roll(driver, &mut out, &mut progress, true).await?;
            log_completed(self.log, &progress.totals);
            return Ok(Outcome::Completed(None));
        }
        // The input is done with: a small final part is staged without the slot (only I/O is
        // left), a larger one in it (its bytes stay bounded by the slots). It is recorded with
        // the task's finish, in one write (see `pool::record_end`).
        if out.pending_bytes() <= SMALL_FINAL_PART {
            drop(slot);
        }
        let checkpoint = self.stage(driver, &mut out, &mut progress, true).await?;
        Ok(Outcome::Completed(Some(Box::new(Completion {
            checkpoint,
            out,
        }))))
    }

    /// Stages the part (durable, not visible), checkpoints (recording what was staged, under
    /// the lease token), then publishes it. Order matters: output durable first, checkpoint
    /// second, visible third: a worker that lost the task cannot record a checkpoint, so it
    /// never makes a part visible.
    pub(super) async fn roll<D: Driver>(
        &self,
        driver: &mut D,
        out: &mut PartOutput,
        progress: &mut Progress,
        end_of_input: bool,
    ) -> Result<(), InvokeError> {
        let runner = self.runner;
        let part = out.part;
        let checkpoint = self.stage(driver, out, progress, end_of_input).await?;
        let within = runner
            .settings
            .lease
            .saturating_sub(runner.settings.heartbeat);
        match super::retry_store(within, || {
            runner
                .tasks
                .checkpoint(self.lease, &checkpoint, runner.settings.lease)
        })
        .await
        {
            Ok(()) => {}
            Err(StoreError::LeaseLost { .. }) => {
                // Not recorded: nobody will publish what was staged.
                out.abort().await;
                return Err(InvokeError::LeaseLost);
            }
            // Whether it was recorded is unknown: what was staged stays, for the next attempt
            // to publish (recorded) or remove (not).
            Err(e) => return Err(e.into()),
        }
        failpoints::hit("part-checkpointed");
        out.publish(&checkpoint.staged_parts).await?;
        driver.after_commit().await?;
        self.log.log(
            LogLevel::Debug,
            format!(
                "checkpoint: offset {}, part {part} durable, next part {}, {} documents, {} errors so far",
                progress.resume,
                checkpoint.next_part,
                progress.totals.documents_written,
                progress.totals.error_records
            ),
        );
        Ok(())
    }

    /// Makes the part durable (staged, not visible) and returns the checkpoint that records
    /// it with the driver's position and the counters.
    async fn stage<D: Driver>(
        &self,
        driver: &mut D,
        out: &mut PartOutput,
        progress: &mut Progress,
        end_of_input: bool,
    ) -> Result<Checkpoint, InvokeError> {
        driver.before_commit().await?;
        let (next_part, staged) = out.stage().await?;
        // Documents the destination rejected are error records now.
        let rejected = out.take_rejected();
        // And documents the vectors engine's interface skipped are skips.
        let skipped = out.take_skipped();
        progress.pending.documents_written = progress
            .pending
            .documents_written
            .saturating_sub(rejected + skipped);
        progress.pending.error_records += rejected;
        progress.pending.skip_records += skipped;
        self.runner.publish(progress);
        progress.pending.bytes_read = progress.resume - progress.rolled_at;
        progress.rolled_at = progress.resume;
        progress.totals.add(&progress.pending);
        progress.pending = TaskProgress::default();
        progress.published = TaskProgress::default();
        Ok(Checkpoint {
            next_part,
            progress: progress.totals,
            end_of_input,
            staged_parts: staged,
            position: driver.position(progress)?,
        })
    }

    /// Waits `pause`, returning early when the task is asked to stop or loses its lease.
    async fn wait(&self, pause: Duration) {
        let until = Instant::now() + pause;
        while Instant::now() < until {
            if self.signals.lost.load(Ordering::Relaxed)
                || self.signals.stop.load(Ordering::Relaxed)
                || self.runner.draining.load(Ordering::Relaxed)
                || self.started.elapsed() >= self.budget
            {
                return;
            }
            tokio::time::sleep((until - Instant::now()).min(Duration::from_millis(100))).await;
        }
    }
}

impl Runner {
    /// Adds the records seen since the last publish to the live stats (for progress bars).
    pub(super) fn publish(&self, progress: &mut Progress) {
        let p = &progress.pending;
        let s = &progress.published;
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
        progress.published = progress.pending;
    }
}
