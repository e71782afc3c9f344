//! The task state monitor: keeps `datasetProgress` current, reaps the leases of dead workers,
//! and moves the dataset to COMPLETED or ERRORED when its last task ends.

use crate::datasets::{DatasetConnectors, modify_dataset, spec_of};
use crate::worker::is_dead_local_worker;
use crate::{Engine, EngineError};
use letsdata_connectors::sink::SinkTask;
use letsdata_model::time::now_millis;
use letsdata_model::{Dataset, DatasetAction, DatasetProgress, DatasetStatus, TaskId, lifecycle};
use letsdata_store::{TaskCounts, TaskStore};
use std::sync::Arc;

pub(crate) struct Monitor<'a> {
    engine: &'a Engine,
    dataset_id: letsdata_model::DatasetId,
    tasks: Arc<dyn TaskStore>,
}

fn progress_of(counts: &TaskCounts) -> DatasetProgress {
    DatasetProgress {
        total_tasks: counts.total,
        completed_tasks: counts.completed,
        errored_tasks: counts.errored,
        processing_tasks: counts.processing,
        records_read: counts.progress.records_read,
        documents_written: counts.progress.documents_written,
        error_records: counts.progress.error_records,
        skip_records: counts.progress.skip_records,
        bytes_read: counts.progress.bytes_read,
    }
}

impl<'a> Monitor<'a> {
    pub(crate) fn new(engine: &'a Engine, dataset: &Dataset, tasks: Arc<dyn TaskStore>) -> Self {
        Self {
            engine,
            dataset_id: dataset.dataset_id.clone(),
            tasks,
        }
    }

    /// Returns the dataset record as it now is; with `progress`, first writes the current
    /// aggregate progress into it (if it changed: that sums every task's counters).
    pub(crate) async fn refresh(&self, progress: bool) -> Result<Dataset, EngineError> {
        let progress = if progress {
            Some(progress_of(&self.tasks.counts().await?))
        } else {
            None
        };
        let current = self
            .engine
            .store
            .get_dataset_by_id(&self.dataset_id)
            .await?;
        let Some(progress) = progress else {
            return current
                .ok_or_else(|| EngineError::DatasetNotFound(self.dataset_id.to_string()));
        };
        if let Some(current) = current
            && current.dataset_progress == progress
        {
            return Ok(current);
        }
        modify_dataset(self.engine, &self.dataset_id, |d| {
            d.dataset_progress = progress.clone();
        })
        .await
    }

    /// Puts tasks whose worker died or whose lease expired back in the queue (one statement;
    /// the leases are read first only to find holders that are dead processes of this host,
    /// whose tasks need not wait for their leases to expire, and are recorded as exited).
    pub(crate) async fn reap(&self) -> Result<u64, EngineError> {
        let mut dead: Vec<String> = Vec::new();
        for lease in self.tasks.leases().await? {
            if !dead.contains(&lease.owner) && is_dead_local_worker(&lease.owner) {
                dead.push(lease.owner);
            }
        }
        let reaped = self.tasks.reap(&dead).await?;
        for task in &reaped {
            tracing::warn!(task = %task.task_id, reason = %task.reason(), "task queued again");
        }
        Ok(reaped.len() as u64)
    }

    /// Takes or keeps this dataset's monitor duty for this worker: true when it holds it (see
    /// [`TaskStore::hold_monitor`]). The duty lasts a lease, and is renewed each time the
    /// worker looks (every second or so).
    pub(crate) async fn hold(&self) -> Result<bool, EngineError> {
        Ok(self
            .tasks
            .hold_monitor(&self.engine.worker_id, self.engine.settings.lease)
            .await?)
    }

    /// Gives the monitor duty up (this worker stops running the dataset), so another worker
    /// takes it at once; a failure only means it waits for the duty to expire.
    pub(crate) async fn release(&self) {
        if let Err(e) = self.tasks.release_monitor(&self.engine.worker_id).await {
            tracing::warn!(error = %e, "cannot give the monitor duty up; it expires in a lease");
        }
    }

    /// Every task has ended: set the final status and close the execution log entry. A
    /// dataset that completed has its sinks' leftovers removed (staging files and incomplete
    /// uploads of attempts that died or lost their task): every task published what it
    /// staged before it completed. When every task ran in one attempt there are none, and
    /// nothing is listed (a walk of every task's prefix: a tenth of a run of 10,000 one-line
    /// files).
    pub(crate) async fn finish(&self) -> Result<(), EngineError> {
        let counts = self.tasks.counts().await?;
        if counts.unfinished() == 0 {
            // Every task has ended: what any of them staged is published before the dataset
            // ends and its leftovers (staging files) are removed.
            self.publish_completed().await?;
        }
        let progress = progress_of(&counts);
        let mut completed = false;
        let dataset = modify_dataset(self.engine, &self.dataset_id, |d| {
            // (Run again when another writer changed the record meanwhile.)
            completed = false;
            d.dataset_progress = progress.clone();
            if counts.unfinished() > 0 {
                return;
            }
            let action = match d.dataset_status {
                DatasetStatus::Processing if counts.errored > 0 => DatasetAction::ErrorProcessing,
                DatasetStatus::Processing => DatasetAction::CompleteProcessing,
                DatasetStatus::StoppingError | DatasetStatus::StoppingComplete => {
                    DatasetAction::FinishStop
                }
                // Busy (an update in flight) or finished already: nothing to do now.
                _ => return,
            };
            let Ok(status) = lifecycle::next(d.dataset_status, action, None) else {
                return;
            };
            d.dataset_status = status;
            completed = status == DatasetStatus::Completed;
            d.last_error = (counts.errored > 0).then(|| {
                format!(
                    "{} of {} tasks ERRORED; `letsdata tasks list --datasetName {} --taskStatus ERRORED` shows them",
                    counts.errored, counts.total, d.dataset_name
                )
            });
            if let Some(log) = d.execution_logs.last_mut()
                && log.end_datetime.is_none()
            {
                log.end_datetime = Some(now_millis());
                log.status = Some(status);
            }
        })
        .await?;
        if completed && counts.max_lease_token > 1 {
            self.remove_leftovers(&dataset).await;
        }
        Ok(())
    }

    /// Publishes the final parts of COMPLETED tasks whose worker stopped between recording the
    /// task's finish (with the final checkpoint, which lists the staged parts) and publishing
    /// them. Publishing is idempotent: a worker still publishing its own is not disturbed.
    /// Returns how many tasks it published for.
    pub(crate) async fn publish_completed(&self) -> Result<u64, EngineError> {
        let mut published = 0;
        let mut dataset_and_spec = None;
        loop {
            let tasks = self.tasks.unpublished(256).await?;
            if tasks.is_empty() {
                return Ok(published);
            }
            let (dataset, spec, connectors) = match &dataset_and_spec {
                Some(found) => found,
                None => {
                    let dataset = self
                        .engine
                        .store
                        .get_dataset_by_id(&self.dataset_id)
                        .await?
                        .ok_or_else(|| EngineError::DatasetNotFound(self.dataset_id.to_string()))?;
                    let spec = spec_of(self.engine, &dataset)?;
                    let connectors = DatasetConnectors::of(&spec)?;
                    dataset_and_spec.insert((dataset, spec, connectors))
                }
            };
            let sinks = connectors.sinks(dataset, spec)?;
            let ids: Vec<TaskId> = tasks.iter().map(|t| t.task_id.clone()).collect();
            for task in tasks {
                let staged = task.checkpoint.map(|c| c.staged_parts).unwrap_or_default();
                for ((_, sink, resource), value) in
                    sinks.iter().zip([staged.documents, staged.errors])
                {
                    let Some(value) = value else { continue };
                    let of = SinkTask {
                        dataset_name: &dataset.dataset_name,
                        task_id: task.task_id.as_str(),
                        attempt: 0,
                    };
                    let mut writer = sink.open(&self.engine.connectors, resource, &of).await?;
                    writer.publish(&value).await?;
                }
                tracing::info!(task = %task.task_id, "published the final part of a task whose worker stopped before it did");
                published += 1;
            }
            self.tasks.published(&ids).await?;
        }
    }

    /// Removes what the dataset's task attempts left unfinished in its sinks; a failure is
    /// only logged (the dataset's output is complete either way).
    async fn remove_leftovers(&self, dataset: &Dataset) {
        let removed = async {
            let spec = spec_of(self.engine, dataset)?;
            let connectors = DatasetConnectors::of(&spec)?;
            let mut removed = 0;
            for (_, sink, resource) in connectors.sinks(dataset, &spec)? {
                removed += sink
                    .remove_leftovers(&self.engine.connectors, &resource, &dataset.dataset_name)
                    .await?;
            }
            Ok::<u64, EngineError>(removed)
        }
        .await;
        match removed {
            Ok(0) => {}
            Ok(n) => tracing::info!(dataset = %dataset.dataset_name, removed = n,
                "removed staging files and incomplete uploads of attempts that did not finish"),
            Err(e) => tracing::warn!(dataset = %dataset.dataset_name, error = %e,
                "cannot remove the leftovers of unfinished attempts"),
        }
    }
}
