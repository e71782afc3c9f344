//! The worker pool: runs a dataset's tasks, `concurrency` at a time, until none is left.
//!
//! Each slot claims a task under a lease, renews the lease while the invocation runs, and ends
//! the invocation with a fenced `finish`. Several processes may run the same dataset: leases
//! keep them from running a task twice, and the monitor (run by each of them) reaps leases of
//! workers that died so their tasks resume from the last checkpoint.

use crate::datasets::DatasetConnectors;
use crate::datasets::{modify_dataset, spec_of};
use crate::exec::{Outcome, Runner, Signals};
use crate::monitor::Monitor;
use crate::{Engine, EngineError};
use letsdata_connectors::FailureKind;
use letsdata_model::spec::LogLevel;
use letsdata_model::task::TaskExecutionLog;
use letsdata_model::time::now_millis;
use letsdata_model::{Dataset, TaskStatus};
use letsdata_store::{Lease, StoreError};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::task::JoinSet;

/// Processes the dataset's tasks; returns the dataset once it is COMPLETED or ERRORED.
pub(crate) async fn process(engine: &Engine, dataset: &Dataset) -> Result<Dataset, EngineError> {
    let spec = spec_of(engine, dataset)?;
    let tasks = engine.store.open_task_store(&dataset.dataset_id).await?;
    let sandbox = match crate::code::artifact_of(&spec) {
        Some(_) => Some(
            engine
                .sandbox()
                .map_err(|e| EngineError::Refused(format!("cannot run user code: {e}")))?,
        ),
        None => None,
    };
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
    };
    let monitor = Monitor::new(engine, dataset, tasks.clone());
    let mut running: JoinSet<()> = JoinSet::new();
    let mut last_refresh = std::time::Instant::now();
    loop {
        let concurrency = runner.spec.compute_engine.concurrency as usize;
        while running.len() < concurrency {
            let log = TaskExecutionLog {
                worker_process_id: engine.worker_id.clone(),
                start_datetime: now_millis(),
                end_datetime: None,
                outcome: None,
                message: None,
            };
            match tasks
                .claim(&engine.worker_id, engine.settings.lease, log)
                .await?
            {
                Some(lease) => {
                    let runner = runner.clone();
                    running.spawn(async move { run_invocation(runner, lease).await });
                }
                None => break,
            }
        }
        if last_refresh.elapsed() >= engine.settings.poll_interval * 4 {
            let current = monitor.refresh().await?;
            reload_compute(engine, &current, &mut runner);
            last_refresh = std::time::Instant::now();
        }
        if running.is_empty() {
            monitor.reap().await?;
            let counts = tasks.counts().await?;
            if counts.unfinished() == 0 {
                break;
            }
            if counts.created + counts.rerun > 0 {
                continue;
            }
            // Other processes are running the remaining tasks: wait for them.
            tokio::time::sleep(engine.settings.poll_interval).await;
            continue;
        }
        tokio::select! {
            joined = running.join_next() => {
                if let Some(Err(e)) = joined {
                    tracing::error!(error = %e, "task invocation panicked");
                }
            }
            _ = tokio::time::sleep(engine.settings.poll_interval) => {}
        }
    }
    loop {
        monitor.finish().await?;
        let current = modify_dataset(engine, &dataset.dataset_id, |_| {}).await?;
        // An update in flight (UPDATING) returns to PROCESSING in a moment; then finish.
        if !letsdata_model::lifecycle::is_transient(current.dataset_status) {
            return Ok(current);
        }
        tokio::time::sleep(engine.settings.poll_interval).await;
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

/// Runs one invocation with a heartbeat, then records how it ended.
async fn run_invocation(runner: Runner, lease: Lease) {
    let signals = Arc::new(Signals::default());
    let heartbeat = {
        let tasks = runner.tasks.clone();
        let lease = lease.clone();
        let signals = signals.clone();
        let (every, lease_for) = (runner.settings.heartbeat, runner.settings.lease);
        tokio::spawn(async move {
            loop {
                if let Ok(true) = tasks.stop_requested(&lease.task.task_id).await {
                    signals.stop.store(true, Ordering::Relaxed);
                }
                tokio::time::sleep(every).await;
                match tasks.heartbeat(&lease, lease_for).await {
                    Ok(()) => {}
                    Err(StoreError::LeaseLost { .. }) => {
                        signals.lost.store(true, Ordering::Relaxed);
                        return;
                    }
                    Err(e) => tracing::warn!(error = %e, "lease heartbeat failed; will retry"),
                }
            }
        })
    };
    let log = runner.task_log(&lease.task.task_id);
    let outcome = runner.invoke(&lease, &signals, &log).await;
    heartbeat.abort();

    let start = lease
        .task
        .task_execution_logs
        .last()
        .map(|l| l.start_datetime)
        .unwrap_or_else(now_millis);
    let (status, error, label) = match &outcome {
        Outcome::Completed => (TaskStatus::Completed, None, "COMPLETED"),
        Outcome::Rerun => (TaskStatus::Rerun, None, "RERUN"),
        Outcome::Errored(failure) => (TaskStatus::Errored, Some(failure), "ERRORED"),
        Outcome::LeaseLost => {
            log.log(
                LogLevel::Warn,
                "lease lost: another worker owns the task now; stopped without writing",
            );
            return;
        }
    };
    if let Some(failure) = error {
        let whose = match failure.kind {
            FailureKind::User => "the input, the configuration or the user code needs a fix",
            FailureKind::Transient => "a service failed; a redrive may succeed",
            FailureKind::Internal => "an internal error",
        };
        log.log(
            LogLevel::Error,
            format!("task errored ({whose}): {}", failure.message),
        );
        runner.stats.add(&runner.stats.tasks_errored, 1);
    } else if status == TaskStatus::Completed {
        runner.stats.add(&runner.stats.tasks_completed, 1);
    }
    let error = error.map(|f| f.message.clone());
    let entry = TaskExecutionLog {
        worker_process_id: lease.owner.clone(),
        start_datetime: start,
        end_datetime: Some(now_millis()),
        outcome: Some(label.to_string()),
        message: error.clone(),
    };
    match runner
        .tasks
        .finish(&lease, status, error.as_deref(), entry)
        .await
    {
        // Recorded, the next task not claimed yet: where a test holds a worker between tasks.
        Ok(()) => letsdata_connectors::failpoints::hit("task-finished"),
        Err(StoreError::LeaseLost { .. }) => {
            log.log(
                LogLevel::Warn,
                "lease lost before the invocation was recorded",
            );
        }
        Err(e) => {
            tracing::error!(task = %lease.task.task_id, error = %e, "cannot record the end of a task invocation")
        }
    }
}
