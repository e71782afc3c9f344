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

use crate::datasets::{DatasetConnectors, spec_of, transition};
use crate::workflow::{self, Record, Step, StepError};
use crate::{Engine, EngineError};
use letsdata_connectors::sink::SinkTask;
use letsdata_model::dataset::{ExecutionLog, RedriveWorkflow, StepResult, StepStatus};
use letsdata_model::lifecycle;
use letsdata_model::time::now_millis;
use letsdata_model::{Dataset, DatasetAction, Rejection, TaskStatus};
use letsdata_store::TaskStore;
use std::sync::Arc;

const STEP_INITIALIZE: &str = "Initialize";
const STEP_TASK_LIST: &str = "Compute Redrive Task List";

/// The steps of a redrive after its task list is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RedriveStep {
    UpdateTaskState,
    Enqueue,
    Finalize,
}

impl Step for RedriveStep {
    fn name(&self) -> &str {
        match self {
            Self::UpdateTaskState => "Update Task State",
            Self::Enqueue => "Enqueue Tasks For Processing",
            Self::Finalize => "Finalize Redrive Request",
        }
    }
}

const STEPS: [RedriveStep; 3] = [
    RedriveStep::UpdateTaskState,
    RedriveStep::Enqueue,
    RedriveStep::Finalize,
];

fn completed(start: i64, message: String) -> StepResult {
    StepResult {
        status: StepStatus::Completed,
        attempts: 1,
        start_datetime: start,
        end_datetime: Some(now_millis()),
        message,
    }
}

impl Engine {
    /// Redrives ERRORED tasks (all, or `task_ids`); returns the dataset, now PROCESSING.
    /// Run it with [`Engine::run_dataset`].
    pub async fn redrive(
        &self,
        dataset_name: &str,
        task_ids: Option<&[letsdata_model::TaskId]>,
        restart_from_beginning: bool,
    ) -> Result<Dataset, EngineError> {
        let dataset = self.dataset(dataset_name).await?;
        refuse_unless_errored(&dataset)?;
        let tasks = self.store.open_task_store(&dataset.dataset_id).await?;

        // Compute Redrive Task List (checked before anything changes).
        let list_start = now_millis();
        let errored = tasks.list_tasks(Some(TaskStatus::Errored)).await?;
        let selected: Vec<letsdata_model::TaskId> = match task_ids {
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

        // Checked ERRORED, not changed yet: where a test holds two redrives at once.
        letsdata_connectors::failpoints::hit("redrive-checked");
        // Initialize: ERRORED → REDRIVING, atomically.
        let start = now_millis();
        let redrive_id = uuid::Uuid::new_v4().to_string();
        let record = Record::Redrive(redrive_id.clone());
        let redriving = transition(
            self,
            &dataset.dataset_id,
            DatasetAction::Redrive,
            None,
            |d, _| {
                d.redrive_workflows.push(RedriveWorkflow {
                    redrive_id: redrive_id.clone(),
                    request_datetime: start,
                    task_ids: selected.clone(),
                    restart_from_beginning,
                    steps: serde_json::Map::new(),
                });
                record.set(
                    d,
                    STEP_INITIALIZE,
                    &completed(start, format!("redrive {redrive_id}")),
                );
                record.set(
                    d,
                    STEP_TASK_LIST,
                    &completed(list_start, format!("{} tasks", selected.len())),
                );
                record.declare(d, STEPS.iter().map(|s| s.name()));
            },
        )
        .await;
        let current = match redriving {
            Ok(d) => d,
            Err(EngineError::Refused(_)) => {
                refuse_unless_errored(&self.dataset(dataset_name).await?)?;
                return Err(EngineError::Refused(format!(
                    "cannot redrive dataset {dataset_name:?}: it changed meanwhile; try again"
                )));
            }
            Err(e) => return Err(e),
        };
        let redrive = Redrive {
            engine: self,
            dataset: &current,
            tasks,
            selected: &selected,
            restart_from_beginning,
        };
        workflow::run(self, &current.dataset_id, &record, &STEPS, |step| {
            redrive.execute(*step)
        })
        .await
        .map_err(|e| e.into_engine(dataset_name))
    }
}

/// What the redrive steps work on.
struct Redrive<'a> {
    engine: &'a Engine,
    dataset: &'a Dataset,
    tasks: Arc<dyn TaskStore>,
    selected: &'a [letsdata_model::TaskId],
    restart_from_beginning: bool,
}

impl Redrive<'_> {
    async fn execute(&self, step: RedriveStep) -> Result<String, StepError> {
        match step {
            RedriveStep::UpdateTaskState => {
                let mut reset = 0;
                for task_id in self.selected {
                    if self.restart_from_beginning {
                        self.delete_task_output(task_id).await?;
                    }
                    if self
                        .tasks
                        .reset_for_redrive(task_id, self.restart_from_beginning)
                        .await?
                    {
                        reset += 1;
                    }
                }
                let how = if self.restart_from_beginning {
                    "checkpoints reset, earlier output deleted"
                } else {
                    "resuming from checkpoints"
                };
                Ok(format!("{reset} tasks reset; {how}"))
            }
            // Reset tasks are CREATED, which the queue serves.
            RedriveStep::Enqueue => Ok(format!(
                "{} tasks queued",
                self.tasks.counts().await?.created
            )),
            // REDRIVING → PROCESSING, a new execution.
            RedriveStep::Finalize => {
                transition(
                    self.engine,
                    &self.dataset.dataset_id,
                    DatasetAction::FinishRedrive,
                    None,
                    |d, _| {
                        d.last_error = None;
                        d.execution_logs.push(ExecutionLog {
                            start_datetime: now_millis(),
                            end_datetime: None,
                            status: None,
                        });
                    },
                )
                .await?;
                Ok("dataset is PROCESSING".into())
            }
        }
    }

    /// Deletes what a task wrote (part objects can be taken back; other destinations keep
    /// what they were sent).
    async fn delete_task_output(&self, task_id: &str) -> Result<(), StepError> {
        let spec = spec_of(self.engine, self.dataset)?;
        let connectors = DatasetConnectors::of(&spec)?;
        let task = SinkTask {
            dataset_name: &self.dataset.dataset_name,
            task_id,
            attempt: 0,
        };
        for (_, sink, resource) in connectors.sinks(self.dataset, &spec)? {
            sink.delete_task_output(&self.engine.connectors, &resource, &task)
                .await?;
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
