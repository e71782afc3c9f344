//! The worker pool: runs a dataset's tasks, `concurrency` at a time, until none is left.
//!
//! Tasks are claimed in batches, each under its own lease, and each claimed task's invocation
//! starts at once: it opens its input and writers, then waits for one of the `concurrency`
//! slots to work in ([`crate::exec::slots`]). When tasks are short, a few more are started than
//! there are free slots, so the next tasks' I/O overlaps the current ones' work. One heartbeat
//! ([`keep_alive`]) renews every lease this worker holds in one write and picks up stop
//! requests. An invocation that finished its input frees its slot (before staging its final
//! part when that is small); then its fenced `finish` records the final checkpoint with the
//! status in one write (the store commits the writes of many tasks together) and the part is
//! published ([`record_end`]). Several processes may run the same dataset: leases keep them from running
//! a task twice, and the monitor (run by one of them at a time, under the dataset's monitor
//! lease) reaps leases of workers that died so their tasks resume from the last checkpoint,
//! and ends the dataset. A worker's claims do not count its own tasks that only record their
//! end against the dataset's concurrency ([`letsdata_store::Cap`]); `letsdata worker
//! --concurrency` caps its invocations over every dataset ([`crate::exec::slots::Budget`]).

use crate::datasets::DatasetConnectors;
use crate::datasets::{modify_dataset, spec_of};
use crate::exec::slots::{Slots, Started};
use crate::exec::{Outcome, Runner, Signals, log_completed};
use crate::monitor::Monitor;
use crate::{Engine, EngineError};
use letsdata_connectors::FailureKind;
use letsdata_model::spec::LogLevel;
use letsdata_model::task::TaskExecutionLog;
use letsdata_model::time::now_millis;
use letsdata_model::{Dataset, LeaseToken, TaskId, TaskStatus};
use letsdata_store::{Cap, Lease, Renewal, StoreError, TaskStore};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Invocations recording their end at most, besides the running ones.
const MAX_FINISHING: usize = 256;
/// Invocations started ahead of the free slots at most, unless `LETSDATA_TASKS_AHEAD` says.
/// Claims wait for a group commit (a few milliseconds): with tasks of a tenth of a millisecond,
/// 64 ahead ran out before the next claim came back and the slots idled (10,000 one-line files
/// 2.3–2.4 s with 64, 1.7–2.0 s with 256).
const DEFAULT_AHEAD: usize = 256;

/// Processes the dataset's tasks; returns the dataset once it is COMPLETED or ERRORED.
pub(crate) async fn process(engine: &Engine, dataset: &Dataset) -> Result<Dataset, EngineError> {
    let tasks = engine.store.open_task_store(&dataset.dataset_id).await?;
    let monitor = Monitor::new(engine, dataset, tasks.clone());
    let processed = run(engine, dataset, tasks, &monitor).await;
    // However the run ended, another worker takes the monitor duty over at once.
    monitor.release().await;
    processed
}

async fn run(
    engine: &Engine,
    dataset: &Dataset,
    tasks: Arc<dyn TaskStore>,
    monitor: &Monitor<'_>,
) -> Result<Dataset, EngineError> {
    let spec = spec_of(engine, dataset)?;
    let sandbox = match crate::code::artifact_of(&spec) {
        Some(code) if !code.language.is_handler() => Some(
            engine
                .sandbox()
                .map_err(|e| EngineError::Refused(format!("cannot run user code: {e}")))?,
        ),
        _ => None,
    };
    let vectors = crate::vectors::vectorizer(engine, dataset, &spec).await?;
    let mut runner = Runner {
        connectors: engine.connectors.clone(),
        connectors_of: Arc::new(DatasetConnectors::of(&spec)?),
        tasks: tasks.clone(),
        stats: engine.stats.clone(),
        settings: engine.settings.clone(),
        dataset: Arc::new(dataset.clone()),
        spec: Arc::new(spec),
        worker_id: engine.worker_id.clone(),
        log_dir: engine
            .home
            .join("datasets")
            .join(&dataset.dataset_id)
            .join("logs"),
        sandbox,
        handlers: engine.handler_builds(),
        vectors,
        scratch_dir: engine
            .home
            .join("scratch")
            .join(dataset.dataset_id.as_str()),
        slots: Arc::new(Slots::default()),
        draining: engine.draining.clone(),
    };
    let held = Arc::new(Held::default());
    let heartbeat = tokio::spawn(keep_alive(
        held.clone(),
        tasks.clone(),
        engine.worker_id.clone(),
        engine.settings.heartbeat,
        engine.settings.lease,
    ));
    let _heartbeat = AbortOnDrop(heartbeat);
    // Gives leases up a heartbeat before they could expire unrenewed.
    let _watch = AbortOnDrop(tokio::spawn(watch_leases(
        held.clone(),
        engine.settings.lease,
        engine.settings.heartbeat,
    )));
    let (marks, marker) = published_marks(tasks.clone());
    let mut running: JoinSet<()> = JoinSet::new();
    let mut last_refresh = Instant::now();
    // Summing the progress of every task takes longer the more tasks there are: it is done
    // at most once per 20 times its last duration (≤ 5% of a core; about every 20 s with a
    // million tasks), the dataset record read every time (compute and code updates).
    let (mut last_progress, mut progress_took) = (Instant::now(), Duration::ZERO);
    // Whether this worker does the dataset's monitor duty (one worker at a time does).
    let mut duty = monitor.hold().await?;
    loop {
        // Ended invocations are joined at once: each holds its task's memory until it is.
        while let Some(joined) = running.try_join_next() {
            ended(joined);
        }
        let concurrency = runner.spec.compute_engine.concurrency as usize;
        runner.slots.set_limit(concurrency);
        if let (Some(vectorizer), Some(vectors)) =
            (&runner.vectors, &runner.spec.compute_engine.vectors)
        {
            vectorizer.set_concurrency(vectors.endpoint.concurrency as usize);
        }
        // Invocations started ahead of the free slots open their input meanwhile.
        let most_ahead = engine.settings.tasks_ahead.unwrap_or(DEFAULT_AHEAD);
        let wanted = concurrency + runner.slots.ahead(most_ahead);
        // Every worker's leases of the dataset count towards its concurrency.
        let cap = concurrency + most_ahead;
        while !engine.draining()
            && runner.slots.started() < wanted
            && running.len() < wanted + MAX_FINISHING
        {
            let log = TaskExecutionLog {
                worker_process_id: engine.worker_id.clone(),
                start_datetime: now_millis(),
                end_datetime: None,
                outcome: None,
                message: None,
            };
            // Room in this worker's own budget (`letsdata worker --concurrency`) first.
            let room = engine.budget.reserve(wanted - runner.slots.started());
            if room == 0 {
                break;
            }
            let claimed = Instant::now();
            let finishing = held.finishing_ids();
            let leases = tasks
                .claim_many(
                    &engine.worker_id,
                    engine.settings.lease,
                    log,
                    room,
                    Cap {
                        most: cap,
                        finishing: &finishing,
                    },
                )
                .await;
            let leases = match leases {
                Ok(leases) => leases,
                Err(e) => {
                    engine.budget.give_back(room);
                    return Err(e.into());
                }
            };
            engine.budget.give_back(room - leases.len());
            if leases.is_empty() {
                break;
            }
            for lease in leases {
                let signals = held.hold(&lease, claimed);
                let started = runner.slots.start(&engine.budget);
                running.spawn(run_invocation(
                    runner.clone(),
                    lease,
                    (signals, started),
                    held.clone(),
                    marks.clone(),
                ));
            }
        }
        if last_refresh.elapsed() >= engine.settings.poll_interval * 4 {
            duty = monitor.hold().await?;
            let with_progress = duty && last_progress.elapsed() >= progress_took * 20;
            let began = Instant::now();
            let current = monitor.refresh(with_progress).await?;
            if with_progress {
                (last_progress, progress_took) = (Instant::now(), began.elapsed());
            }
            reload_compute(engine, &current, &mut runner);
            last_refresh = Instant::now();
        }
        if running.is_empty() {
            if engine.draining() {
                break;
            }
            if duty {
                monitor.reap().await?;
            }
            let counts = tasks.counts().await?;
            if counts.unfinished() == 0 {
                break;
            }
            // Runnable tasks go on at once, unless other workers hold the dataset's whole
            // concurrency or this worker's budget is spent on other datasets: then wait.
            if counts.created + counts.rerun > 0
                && (counts.processing as usize) < cap
                && engine.budget.has_room()
            {
                continue;
            }
            tokio::select! {
                _ = engine.budget.freed.notified() => {}
                _ = tokio::time::sleep(engine.settings.poll_interval) => {}
            }
            continue;
        }
        tokio::select! {
            joined = running.join_next(), if !running.is_empty() => {
                if let Some(joined) = joined {
                    ended(joined);
                }
            }
            _ = runner.slots.done.notified() => {}
            // Another dataset's invocation left room in the worker's budget.
            _ = engine.budget.freed.notified() => {}
            _ = tokio::time::sleep(engine.settings.poll_interval) => {}
        }
    }
    // Every invocation has ended: the last marks are recorded before the monitor looks for
    // final parts left unpublished.
    drop(marks);
    if let Err(e) = marker.await {
        tracing::warn!(error = %e, "recording published parts stopped");
    }
    if engine.draining() {
        // Shutting down: the tasks this worker ran are queued again; the dataset goes on
        // elsewhere.
        return monitor.refresh(true).await;
    }
    loop {
        // The worker with the monitor duty ends the dataset; the others wait for it (and take
        // the duty over should that worker stop).
        let duty = monitor.hold().await?;
        if duty {
            monitor.finish().await?;
        }
        let current = modify_dataset(engine, &dataset.dataset_id, |_| {}).await?;
        // An update in flight (UPDATING) returns to PROCESSING in a moment; then finish.
        if !letsdata_model::lifecycle::is_transient(current.dataset_status)
            && (duty || !current.dataset_status.is_unfinished())
        {
            return Ok(current);
        }
        tokio::time::sleep(engine.settings.poll_interval).await;
    }
}

/// An invocation joined: only a panic is left to report (it recorded its own end).
fn ended(joined: Result<(), tokio::task::JoinError>) {
    if let Err(e) = joined {
        tracing::error!(error = %e, "task invocation panicked");
    }
}

/// Picks up compute settings changed by `datasets compute update`, and code changed by
/// `datasets code update`, while the dataset runs (invocations that start later use them).
fn reload_compute(engine: &Engine, current: &Dataset, runner: &mut Runner) {
    if current.code != runner.dataset.code {
        tracing::info!("dataset code updated");
        runner.dataset = Arc::new(current.clone());
        if let Ok(spec) = spec_of(engine, current) {
            runner.spec = Arc::new(spec);
        }
    }
    match spec_of(engine, current) {
        Ok(spec) if spec.compute_engine != runner.spec.compute_engine => {
            tracing::info!(
                concurrency = spec.compute_engine.concurrency,
                "compute settings updated"
            );
            runner.spec = Arc::new(spec);
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot reload the dataset's compute settings"),
    }
}

/// The leases this worker holds (invocations opening, waiting for a slot, working or recording
/// their end), each one's signals, and when it was last known held: the instant before the
/// claim or renewal that extended it (its real expiry is no earlier than that plus the lease).
#[derive(Default)]
struct Held {
    leases: Mutex<HashMap<TaskId, HeldLease>>,
}

/// One lease [`Held`].
#[derive(Clone)]
struct HeldLease {
    task_id: TaskId,
    token: LeaseToken,
    signals: Arc<Signals>,
    renewed: Instant,
    /// Its invocation is done working (its slot is free) and only records its end.
    finishing: bool,
}

impl Held {
    fn hold(&self, lease: &Lease, claimed: Instant) -> Arc<Signals> {
        let signals = Arc::new(Signals::default());
        let held = HeldLease {
            task_id: lease.task.task_id.clone(),
            token: lease.token,
            signals: signals.clone(),
            renewed: claimed,
            finishing: false,
        };
        self.leases
            .lock()
            .expect("held leases lock poisoned")
            .insert(held.task_id.clone(), held);
        signals
    }

    fn release(&self, task_id: &TaskId) {
        self.leases
            .lock()
            .expect("held leases lock poisoned")
            .remove(task_id);
    }

    /// The invocation of `task_id` is done working: it only records its end now.
    fn finishing(&self, task_id: &TaskId) {
        self.update(task_id, |held| held.finishing = true);
    }

    /// The tasks whose invocations only record their ends: not counted against the dataset's
    /// concurrency by this worker's claims.
    fn finishing_ids(&self) -> Vec<TaskId> {
        self.leases
            .lock()
            .expect("held leases lock poisoned")
            .values()
            .filter(|held| held.finishing)
            .map(|held| held.task_id.clone())
            .collect()
    }

    /// The lease of `task_id` under `token` was extended by a renewal asked at `asked`.
    fn renewed(&self, task_id: &TaskId, token: LeaseToken, asked: Instant) {
        self.update(task_id, |held| {
            if held.token == token {
                held.renewed = asked;
            }
        });
    }

    /// Applies `change` to the lease of `task_id`, if this worker still holds one.
    fn update(&self, task_id: &TaskId, change: impl FnOnce(&mut HeldLease)) {
        if let Some(held) = self
            .leases
            .lock()
            .expect("held leases lock poisoned")
            .get_mut(task_id)
        {
            change(held);
        }
    }

    fn all(&self) -> Vec<HeldLease> {
        self.leases
            .lock()
            .expect("held leases lock poisoned")
            .values()
            .cloned()
            .collect()
    }
}

/// The worker's heartbeat: every `every`, extends all held leases in one write, and flags the
/// invocations whose lease was lost or whose task was asked to stop. A renewal that fails or
/// does not answer within `every` is tried again at the next beat; meanwhile [`watch_leases`]
/// makes sure no invocation writes past its lease.
async fn keep_alive(
    held: Arc<Held>,
    tasks: Arc<dyn TaskStore>,
    owner: String,
    every: Duration,
    lease_for: Duration,
) {
    loop {
        tokio::time::sleep(every).await;
        let leases = held.all();
        if leases.is_empty() {
            continue;
        }
        let ids: Vec<(TaskId, LeaseToken)> = leases
            .iter()
            .map(|l| (l.task_id.clone(), l.token))
            .collect();
        let asked = Instant::now();
        match tokio::time::timeout(every, tasks.renew(&owner, &ids, lease_for)).await {
            Ok(Ok(found)) => {
                for (lease, renewal) in leases.iter().zip(found) {
                    match renewal {
                        Renewal::Held { stop_requested } => {
                            held.renewed(&lease.task_id, lease.token, asked);
                            if stop_requested {
                                lease.signals.stop.store(true, Ordering::Relaxed);
                            }
                        }
                        Renewal::Lost => lease.signals.lost.store(true, Ordering::Relaxed),
                    }
                }
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "lease heartbeat failed; will retry"),
            Err(_) => tracing::warn!(
                within = ?every,
                "lease heartbeat got no answer; will retry"
            ),
        }
    }
}

/// How often [`watch_leases`] looks.
const WATCH_EVERY: Duration = Duration::from_millis(200);

/// Gives up every lease that could not be renewed for `lease_for - margin` (the store is
/// unreachable, the worker's link is cut): its invocation stops writing and ends as if the
/// lease were lost, while the lease still holds, so the worker that takes the task over never
/// writes next to it.
async fn watch_leases(held: Arc<Held>, lease_for: Duration, margin: Duration) {
    let give_up_after = lease_for.saturating_sub(margin);
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        for lease in held.all() {
            if lease.renewed.elapsed() >= give_up_after
                && !lease.signals.lost.swap(true, Ordering::Relaxed)
            {
                tracing::warn!(
                    task = %lease.task_id,
                    unrenewed_for = ?lease.renewed.elapsed(),
                    "the task's lease could not be renewed and would soon expire: the invocation stops writing"
                );
            }
        }
    }
}

/// Records, many tasks at a time, that final parts are published ([`TaskStore::published`]),
/// until every sender is gone. A mark not recorded only makes the monitor publish that part
/// again (harmless: publishing is idempotent).
fn published_marks(
    tasks: Arc<dyn TaskStore>,
) -> (mpsc::UnboundedSender<TaskId>, tokio::task::JoinHandle<()>) {
    let (marks, mut queue) = mpsc::unbounded_channel();
    let marker = tokio::spawn(async move {
        let mut ids = Vec::new();
        while queue.recv_many(&mut ids, 1024).await > 0 {
            if let Err(e) = tasks.published(&ids).await {
                tracing::warn!(error = %e, "cannot record that final parts are published; the monitor publishes them again");
            }
            ids.clear();
        }
    });
    (marks, marker)
}

/// Aborts a spawned task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs one invocation (it takes a slot once its input is open), then records how it ended
/// (once the slot is free again): the status, with the final checkpoint of an invocation that
/// finished its input, whose final part is published once that is recorded.
async fn run_invocation(
    runner: Runner,
    lease: Lease,
    (signals, started): (Arc<Signals>, Started),
    held: Arc<Held>,
    marks: mpsc::UnboundedSender<TaskId>,
) {
    // Released however the invocation ends (a panic too): a lease this worker kept renewing
    // for an invocation that is gone would never expire, and the task never be reaped.
    let _held = Release(&held, &lease.task.task_id);
    let opened = now_millis();
    let log = Arc::new(runner.task_log(&lease.task.task_id));
    let outcome = runner.invoke(&lease, &signals, &log).await;
    // Its slot is free: this worker's next claims do not count the task against the
    // dataset's concurrency while its end is recorded.
    held.finishing(&lease.task.task_id);
    drop(started);
    // The invocation's interval is the time it held its slot (from when it opened its input
    // until it ended if it never took one).
    let working_since = signals.working_since.load(Ordering::Relaxed);
    let working_until = signals.working_until.load(Ordering::Relaxed);
    let interval = if working_since > 0 {
        let until = if working_until > 0 {
            working_until
        } else {
            now_millis()
        };
        (working_since, until.max(working_since))
    } else {
        (opened, now_millis())
    };
    record_end(&runner, &lease, interval, outcome, &log, &marks).await;
    let shipment = log.take_shipment();
    if !shipment.is_empty()
        && let Err(e) = runner
            .tasks
            .append_task_log(&lease.task.task_id, &shipment)
            .await
    {
        tracing::warn!(task = %lease.task.task_id, error = %e, "cannot keep the task's log in the store; this machine's file has it");
    }
}

/// Stops renewing a lease when dropped.
struct Release<'a>(&'a Held, &'a TaskId);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.release(self.1);
    }
}

async fn record_end(
    runner: &Runner,
    lease: &Lease,
    (start, end): (i64, i64),
    outcome: Outcome,
    log: &crate::exec::TaskLog,
    marks: &mpsc::UnboundedSender<TaskId>,
) {
    let (status, error, label, mut completion) = match outcome {
        Outcome::Completed(completion) => (TaskStatus::Completed, None, "COMPLETED", completion),
        Outcome::Rerun => (TaskStatus::Rerun, None, "RERUN", None),
        Outcome::Errored(failure) => (TaskStatus::Errored, Some(failure), "ERRORED", None),
        Outcome::LeaseLost => {
            log.log(
                LogLevel::Warn,
                "lease lost: another worker owns the task now; stopped without writing",
            );
            return;
        }
    };
    if let Some(failure) = &error {
        let whose = match failure.kind {
            FailureKind::User => "the input, the configuration or the user code needs a fix",
            FailureKind::Transient => "a service failed; a redrive may succeed",
            FailureKind::Internal => "an internal error",
        };
        log.log(
            LogLevel::Error,
            format!("task errored ({whose}): {}", failure.message),
        );
    }
    let error = error.map(|f| f.message);
    let entry = TaskExecutionLog {
        worker_process_id: lease.owner.clone(),
        start_datetime: start,
        end_datetime: Some(end),
        outcome: Some(label.to_string()),
        message: error.clone(),
    };
    let last = completion.as_ref().map(|c| &c.checkpoint);
    let within = runner
        .settings
        .lease
        .saturating_sub(runner.settings.heartbeat);
    match crate::exec::retry_store(within, || {
        runner
            .tasks
            .finish(lease, status, error.as_deref(), entry.clone(), last)
    })
    .await
    {
        Ok(()) => {
            if let Some(done) = &mut completion {
                let staged = &done.checkpoint.staged_parts;
                // The final checkpoint is recorded, the part not yet published.
                letsdata_connectors::failpoints::hit("part-checkpointed");
                // Recorded: publish. Should this fail, or the worker stop first, the monitor
                // publishes it before the dataset ends (`Monitor::publish_completed`).
                match done.out.publish(staged).await {
                    Ok(()) if staged.is_empty() => {}
                    Ok(()) => {
                        // Recorded with others' (`published_marks`); the pool waits for it.
                        let _ = marks.send(lease.task.task_id.clone());
                    }
                    Err(e) => log.log(
                        LogLevel::Warn,
                        format!("publishing the final part failed ({e}); it is published again before the dataset ends"),
                    ),
                }
                log_completed(log, &done.checkpoint.progress);
            }
            if status == TaskStatus::Completed {
                runner.stats.add(&runner.stats.tasks_completed, 1);
            } else if status == TaskStatus::Errored {
                runner.stats.add(&runner.stats.tasks_errored, 1);
            }
            // Recorded: where a test holds a worker once a task's end is recorded.
            letsdata_connectors::failpoints::hit("task-finished");
        }
        Err(StoreError::LeaseLost { .. }) => {
            if let Some(done) = &mut completion {
                // Not recorded: nothing of the final part becomes visible.
                done.out.abort().await;
            }
            log.log(
                LogLevel::Warn,
                "lease lost before the invocation was recorded",
            );
        }
        Err(e) => {
            // Whether it was recorded is unknown: what was staged stays, for the next attempt
            // (not recorded) or the monitor (recorded) to publish.
            tracing::error!(task = %lease.task.task_id, error = %e, "cannot record the end of a task invocation")
        }
    }
}
