//! `tasks stop`: stop a dataset's tasks, even when another process is running them.
//!
//! Without task ids the whole dataset stops: PROCESSING → STOPPING_ERROR (STOPPING_COMPLETE
//! when every task had already completed) → ERRORED (COMPLETED). Tasks not running become
//! ERRORED at once; running ones are flagged in the task database, and their workers, in any
//! process, see the flag at their next heartbeat (every few seconds), complete their part,
//! checkpoint and end ERRORED. The stopped tasks can be redriven later and resume from their
//! checkpoints. With task ids only those tasks stop and the dataset goes on processing.

use crate::datasets::modify_dataset;
use crate::exec::STOPPED;
use crate::monitor::Monitor;
use crate::{Engine, EngineError};
use letsdata_model::lifecycle;
use letsdata_model::{Dataset, DatasetAction, DatasetStatus};
use std::time::{Duration, Instant};

impl Engine {
    /// Stops the dataset's tasks (all, or `task_ids`) and waits until none of them runs.
    pub async fn stop(
        &self,
        dataset_name: &str,
        task_ids: Option<&[letsdata_model::TaskId]>,
    ) -> Result<Dataset, EngineError> {
        let dataset = self.dataset(dataset_name).await?;
        let tasks = self.store.open_task_store(&dataset.dataset_id).await?;
        if let Some(ids) = task_ids {
            for id in ids {
                self.task(dataset_name, id).await?;
            }
        }
        let whole = task_ids.is_none();
        if whole {
            // PROCESSING → STOPPING_*, atomically; refused in any other status.
            let counts = tasks.counts().await?;
            let action = DatasetAction::stop(counts.completed == counts.total);
            let mut refusal = None;
            modify_dataset(self, &dataset.dataset_id, |d| {
                match lifecycle::next(d.dataset_status, action, None) {
                    Ok(next) => {
                        d.dataset_status = next;
                        refusal = None;
                    }
                    Err(e) => refusal = Some(format!("dataset {dataset_name:?}: {e}")),
                }
            })
            .await?;
            if let Some(message) = refusal {
                return Err(EngineError::Refused(message));
            }
        } else if !matches!(dataset.dataset_status, DatasetStatus::Processing) {
            return Err(EngineError::Refused(format!(
                "dataset {dataset_name:?} is {}; only the tasks of a PROCESSING dataset can be stopped",
                dataset.dataset_status
            )));
        }

        // Flag the tasks, then wait for their workers to stop (re-flagging tasks whose dead
        // workers' leases were reaped back into the queue).
        let monitor = Monitor::new(self, &dataset, tasks.clone());
        let deadline = Instant::now() + self.settings.lease * 2 + Duration::from_secs(30);
        loop {
            monitor.reap().await?;
            tasks.request_stop(task_ids, STOPPED).await?;
            let running = tasks
                .list_tasks(Some(letsdata_model::TaskStatus::Processing))
                .await?
                .into_iter()
                .filter(|t| task_ids.is_none_or(|ids| ids.contains(&t.task_id)))
                .count();
            if running == 0 {
                break;
            }
            if Instant::now() >= deadline {
                return Err(EngineError::Refused(format!(
                    "{running} tasks of dataset {dataset_name:?} are still running; they stop at their next heartbeat, check with `letsdata tasks list --datasetName {dataset_name} --taskStatus PROCESSING`"
                )));
            }
            tokio::time::sleep(self.settings.poll_interval).await;
        }
        if whole {
            monitor.finish().await?;
        }
        self.dataset(dataset_name).await
    }
}
