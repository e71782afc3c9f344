//! The redrive workflow: ERRORED → REDRIVING → PROCESSING, then the tasks run again.
//!
//! LetsData's five steps, recorded in the dataset's `redriveWorkflows` (one entry per request):
//! Initialize, Compute Redrive Task List, Update Task State, Enqueue Tasks For Processing,
//! Finalize Redrive Request. By default each redriven task resumes from its checkpoint; with
//! `restart_from_beginning` its checkpoint and counters are reset and its earlier output and
//! error objects deleted, so the rerun replaces them instead of adding to them.
//!
//! The task list is computed and checked before the dataset changes status, so a bad request
//! changes nothing. The status change is a compare-and-set on the dataset's version: of two
//! concurrent redrives exactly one wins; the other sees REDRIVING and is refused.

use crate::init::modify_dataset;
use crate::{Engine, EngineError};
use letsdata_model::dataset::{ExecutionLog, RedriveWorkflow, StepResult, StepStatus};
use letsdata_model::lifecycle;
use letsdata_model::time::now_millis;
use letsdata_model::{Dataset, DatasetAction, DatasetStatus, Rejection, TaskStatus};
use letsdata_store::StoreError;

const STEP_INITIALIZE: &str = "Initialize";
const STEP_TASK_LIST: &str = "Compute Redrive Task List";
const STEP_UPDATE_TASKS: &str = "Update Task State";
const STEP_ENQUEUE: &str = "Enqueue Tasks For Processing";
const STEP_FINALIZE: &str = "Finalize Redrive Request";
const STEPS: [&str; 5] = [
    STEP_INITIALIZE,
    STEP_TASK_LIST,
    STEP_UPDATE_TASKS,
    STEP_ENQUEUE,
    STEP_FINALIZE,
];

fn completed(start: i64, message: String) -> serde_json::Value {
    serde_json::to_value(StepResult {
        status: StepStatus::Completed,
        attempts: 1,
        start_datetime: start,
        end_datetime: Some(now_millis()),
        message,
    })
    .expect("step results serialize")
}

impl Engine {
    /// Redrives ERRORED tasks (all, or `task_ids`); returns the dataset, now PROCESSING.
    /// Run it with [`Engine::run_dataset`].
    pub async fn redrive(
        &self,
        dataset_name: &str,
        task_ids: Option<&[String]>,
        restart_from_beginning: bool,
    ) -> Result<Dataset, EngineError> {
        let dataset = self.dataset(dataset_name).await?;
        refuse_unless_errored(&dataset)?;
        let tasks = self.store.open_task_store(&dataset.dataset_id).await?;

        // Compute Redrive Task List (checked before anything changes).
        let list_start = now_millis();
        let errored = tasks.list_tasks(Some(TaskStatus::Errored)).await?;
        let selected: Vec<String> = match task_ids {
            None => errored.iter().map(|t| t.task_id.clone()).collect(),
            Some(ids) => {
                let mut problems = Vec::new();
                for id in ids {
                    if !errored.iter().any(|t| &t.task_id == id) {
                        match tasks.get_task(id).await? {
                            None => problems.push(format!("task {id:?} does not exist")),
                            Some(t) => problems.push(format!(
                                "task {id:?} is {}, only ERRORED tasks can be redriven",
                                t.task_status
                            )),
                        }
                    }
                }
                if !problems.is_empty() {
                    // A concurrent redrive may have reset the tasks: report that first.
                    refuse_unless_errored(&self.dataset(dataset_name).await?)?;
                    return Err(EngineError::Refused(format!(
                        "cannot redrive dataset {dataset_name:?}: {}",
                        problems.join("; ")
                    )));
                }
                ids.to_vec()
            }
        };
        if selected.is_empty() {
            refuse_unless_errored(&self.dataset(dataset_name).await?)?;
            return Err(EngineError::Refused(format!(
                "dataset {dataset_name:?} has no ERRORED tasks to redrive"
            )));
        }

        // Initialize: ERRORED → REDRIVING, atomically.
        let start = now_millis();
        let redrive_id = uuid::Uuid::new_v4().to_string();
        let mut current = dataset;
        loop {
            refuse_unless_errored(&current)?;
            current.dataset_status =
                lifecycle::next(current.dataset_status, DatasetAction::Redrive, None)
                    .map_err(|e| EngineError::Refused(e.to_string()))?;
            let mut steps = serde_json::Map::new();
            for step in STEPS {
                steps.insert(step.to_string(), serde_json::json!({}));
            }
            steps.insert(
                STEP_INITIALIZE.into(),
                completed(start, format!("redrive {redrive_id}")),
            );
            steps.insert(
                STEP_TASK_LIST.into(),
                completed(list_start, format!("{} tasks", selected.len())),
            );
            current.redrive_workflows.push(RedriveWorkflow {
                redrive_id: redrive_id.clone(),
                request_datetime: start,
                task_ids: selected.clone(),
                restart_from_beginning,
                steps,
            });
            match self.store.update_dataset(&mut current).await {
                Ok(()) => break,
                Err(StoreError::Conflict(_)) => {
                    current = self.dataset(dataset_name).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let id = current.dataset_id.clone();
        let set_step = |step: &'static str, value: serde_json::Value| {
            let redrive_id = redrive_id.clone();
            move |d: &mut Dataset| {
                if let Some(w) = d
                    .redrive_workflows
                    .iter_mut()
                    .find(|w| w.redrive_id == redrive_id)
                {
                    w.steps.insert(step.to_string(), value.clone());
                }
            }
        };

        // Update Task State.
        let step_start = now_millis();
        let mut reset = 0;
        for task_id in &selected {
            if restart_from_beginning {
                self.delete_task_output(&current, task_id).await?;
            }
            if tasks
                .reset_for_redrive(task_id, restart_from_beginning)
                .await?
            {
                reset += 1;
            }
        }
        let how = if restart_from_beginning {
            "checkpoints reset, earlier output deleted"
        } else {
            "resuming from checkpoints"
        };
        modify_dataset(
            self,
            &id,
            set_step(
                STEP_UPDATE_TASKS,
                completed(step_start, format!("{reset} tasks reset; {how}")),
            ),
        )
        .await?;

        // Enqueue Tasks For Processing: reset tasks are CREATED, which the queue serves.
        let step_start = now_millis();
        let queued = tasks.counts().await?.created;
        modify_dataset(
            self,
            &id,
            set_step(
                STEP_ENQUEUE,
                completed(step_start, format!("{queued} tasks queued")),
            ),
        )
        .await?;

        // Finalize Redrive Request: REDRIVING → PROCESSING, a new execution.
        let step_start = now_millis();
        let finalize = set_step(
            STEP_FINALIZE,
            completed(step_start, "dataset is PROCESSING".into()),
        );
        modify_dataset(self, &id, |d| {
            finalize(d);
            d.dataset_status = DatasetStatus::Processing;
            d.last_error = None;
            d.execution_logs.push(ExecutionLog {
                start_datetime: now_millis(),
                end_datetime: None,
                status: None,
            });
        })
        .await
    }

    /// Deletes a task's part objects in the write and error buckets.
    async fn delete_task_output(
        &self,
        dataset: &Dataset,
        task_id: &str,
    ) -> Result<(), EngineError> {
        let prefix = format!("{}/{task_id}/", dataset.dataset_name);
        for bucket_name in [
            &dataset.resources.write_bucket,
            &dataset.resources.error_bucket,
        ] {
            if !self.objects.bucket_exists(bucket_name).await? {
                continue;
            }
            let bucket = self.objects.bucket(bucket_name)?;
            for object in bucket.list(&prefix).await? {
                bucket.delete_if_exists(&object.key).await?;
            }
        }
        Ok(())
    }
}

fn refuse_unless_errored(dataset: &Dataset) -> Result<(), EngineError> {
    let status = dataset.dataset_status;
    let Err(e) = lifecycle::next(status, DatasetAction::Redrive, None) else {
        return Ok(());
    };
    let why = match e.reason {
        Rejection::Busy => {
            "it is in a transient status; no other action is allowed until it finishes".to_string()
        }
        _ => {
            let allowed: Vec<&str> = e.allowed.iter().map(|a| a.describe()).collect();
            format!(
                "only ERRORED datasets can be redriven; allowed actions in {status}: {}",
                if allowed.is_empty() {
                    "none".to_string()
                } else {
                    allowed.join(", ")
                }
            )
        }
    };
    Err(EngineError::Refused(format!(
        "cannot redrive dataset {:?} in status {status}: {why}",
        dataset.dataset_name
    )))
}
