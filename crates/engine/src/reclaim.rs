//! Cost workflows: descale, freeze and delete (LetsData's cost management).
//!
//! * **Descale** (COMPLETED | ERRORED → DESCALING → DESCALED): releases the dataset's compute:
//!   its worker slots are no longer reserved and no process runs its tasks.
//! * **Freeze** (COMPLETED | ERRORED | DESCALED → FREEZING → FROZEN): reclaims the internal
//!   resources (the task database and its queue). Output, error records and the dataset record
//!   with its final progress stay readable.
//! * **Delete** (→ DELETING → DELETED): removes everything, LetsData-located output and error
//!   buckets included; the dataset record stays as a tombstone so the name cannot be reused.
//!
//! Each records its steps in the dataset record (`descaleWorkflow`, `freezeWorkflow`,
//! `deleteWorkflow`) like the initialization workflow. Nothing is reclaimed while a task runs:
//! a dataset with running tasks is refused (stop it first). Steps are idempotent, so a workflow
//! interrupted half-way is finished by running the same command again.

use crate::init::{modify_dataset, spec_of};
use crate::{Engine, EngineError};
use letsdata_model::dataset::{StepResult, StepStatus};
use letsdata_model::lifecycle;
use letsdata_model::time::now_millis;
use letsdata_model::{Dataset, DatasetAction, DatasetStatus};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Descale,
    Freeze,
    Delete,
}

impl Kind {
    fn actions(self) -> (DatasetAction, DatasetAction) {
        match self {
            Kind::Descale => (DatasetAction::Descale, DatasetAction::FinishDescale),
            Kind::Freeze => (DatasetAction::Freeze, DatasetAction::FinishFreeze),
            Kind::Delete => (DatasetAction::Delete, DatasetAction::FinishDelete),
        }
    }

    fn transient(self) -> DatasetStatus {
        match self {
            Kind::Descale => DatasetStatus::Descaling,
            Kind::Freeze => DatasetStatus::Freezing,
            Kind::Delete => DatasetStatus::Deleting,
        }
    }

    fn workflow(self, d: &mut Dataset) -> &mut serde_json::Map<String, serde_json::Value> {
        match self {
            Kind::Descale => &mut d.descale_workflow,
            Kind::Freeze => &mut d.freeze_workflow,
            Kind::Delete => &mut d.delete_workflow,
        }
    }
}

impl Engine {
    /// Descales a finished dataset.
    pub async fn descale(&self, dataset_name: &str) -> Result<Dataset, EngineError> {
        self.reclaim(dataset_name, Kind::Descale).await
    }

    /// Freezes a finished dataset: its task database goes, its output stays.
    pub async fn freeze(&self, dataset_name: &str) -> Result<Dataset, EngineError> {
        self.reclaim(dataset_name, Kind::Freeze).await
    }

    /// Deletes a dataset and everything it created; a tombstone remains.
    pub async fn delete(&self, dataset_name: &str) -> Result<Dataset, EngineError> {
        self.reclaim(dataset_name, Kind::Delete).await
    }

    async fn reclaim(&self, dataset_name: &str, kind: Kind) -> Result<Dataset, EngineError> {
        let (start_action, finish_action) = kind.actions();
        let dataset = self.dataset(dataset_name).await?;
        // A workflow interrupted half-way (still in its transient status) is resumed.
        let resuming = dataset.dataset_status == kind.transient();
        if !resuming {
            lifecycle::next(dataset.dataset_status, start_action, None)
                .map_err(|e| EngineError::Refused(format!("dataset {dataset_name:?}: {e}")))?;
            let running = self.running_tasks(&dataset).await?;
            if running > 0 {
                return Err(EngineError::Refused(format!(
                    "dataset {dataset_name:?} has {running} running tasks; nothing is reclaimed while a task runs: stop them first with `letsdata tasks stop --datasetName {dataset_name}`"
                )));
            }
            let mut refusal = None;
            modify_dataset(self, &dataset.dataset_id, |d| {
                match lifecycle::next(d.dataset_status, start_action, None) {
                    Ok(next) => {
                        refusal = None;
                        d.dataset_status = next;
                        let steps = kind.workflow(d);
                        steps.clear();
                        for step in steps_of(kind, &dataset) {
                            steps.insert(step.to_string(), serde_json::json!({}));
                        }
                    }
                    Err(e) => refusal = Some(format!("dataset {dataset_name:?}: {e}")),
                }
            })
            .await?;
            if let Some(message) = refusal {
                return Err(EngineError::Refused(message));
            }
        }
        for step in steps_of(kind, &dataset) {
            let start = now_millis();
            let message = self.run_reclaim_step(&dataset, step).await?;
            let result = StepResult {
                status: StepStatus::Completed,
                attempts: 1,
                start_datetime: start,
                end_datetime: Some(now_millis()),
                message,
            };
            let value = serde_json::to_value(&result).expect("step results serialize");
            modify_dataset(self, &dataset.dataset_id, |d| {
                kind.workflow(d).insert(step.to_string(), value.clone());
            })
            .await?;
        }
        modify_dataset(self, &dataset.dataset_id, |d| {
            if let Ok(next) = lifecycle::next(d.dataset_status, finish_action, None) {
                d.dataset_status = next;
            }
        })
        .await
    }

    async fn running_tasks(&self, dataset: &Dataset) -> Result<u64, EngineError> {
        match self.existing_task_store(dataset).await? {
            Some(tasks) => Ok(tasks.counts().await?.processing),
            None => Ok(0),
        }
    }

    async fn run_reclaim_step(&self, dataset: &Dataset, step: &str) -> Result<String, EngineError> {
        let dir = self.home.join("datasets").join(&dataset.dataset_id);
        match step {
            STEP_RELEASE_COMPUTE => {
                let concurrency = spec_of(self, dataset)
                    .map(|s| s.compute_engine.concurrency)
                    .unwrap_or(0);
                Ok(format!("{concurrency} worker slots released"))
            }
            STEP_DELETE_TASK_DATABASE => {
                self.store.drop_task_store(&dataset.dataset_id).await?;
                Ok("task database deleted".into())
            }
            STEP_DELETE_QUEUES => Ok("internal task queue deleted with the task database".into()),
            STEP_DELETE_WRITE_BUCKET => {
                let n = self
                    .objects
                    .delete_bucket(&dataset.resources.write_bucket)
                    .await?;
                Ok(format!(
                    "bucket {} deleted ({n} objects)",
                    dataset.resources.write_bucket
                ))
            }
            STEP_DELETE_ERROR_BUCKET => {
                let n = self
                    .objects
                    .delete_bucket(&dataset.resources.error_bucket)
                    .await?;
                Ok(format!(
                    "bucket {} deleted ({n} objects)",
                    dataset.resources.error_bucket
                ))
            }
            STEP_DELETE_DATASET_FILES => {
                match tokio::fs::remove_dir_all(&dir).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(EngineError::Corrupt(format!(
                            "cannot delete {}: {e}",
                            dir.display()
                        )));
                    }
                }
                Ok(format!("{} deleted (task logs included)", dir.display()))
            }
            step if Some(step) == crate::aws::delete_step(dataset) => {
                crate::aws::delete_write_resource(self, dataset).await
            }
            other => Err(EngineError::Corrupt(format!("unknown step {other:?}"))),
        }
    }
}

const STEP_RELEASE_COMPUTE: &str = "Compute Engine - Release Data Task Function Concurrency";
const STEP_DELETE_TASK_DATABASE: &str = "Delete Internal Task Database";
const STEP_DELETE_QUEUES: &str = "Delete Internal Queues";
const STEP_DELETE_WRITE_BUCKET: &str = "Write Connector - Delete S3 Bucket";
const STEP_DELETE_ERROR_BUCKET: &str = "Error Connector - Delete Error Bucket";
const STEP_DELETE_DATASET_FILES: &str = "Delete Dataset Files";

fn steps_of(kind: Kind, dataset: &Dataset) -> Vec<&'static str> {
    match kind {
        Kind::Descale => vec![STEP_RELEASE_COMPUTE],
        Kind::Freeze => vec![STEP_DELETE_TASK_DATABASE, STEP_DELETE_QUEUES],
        Kind::Delete => {
            let mut steps = vec![STEP_DELETE_TASK_DATABASE, STEP_DELETE_QUEUES];
            let write_letsdata = dataset
                .config
                .get("writeConnector")
                .and_then(|w| w.get("resourceLocation"))
                .and_then(|r| r.as_str())
                .is_some_and(|r| r.trim().eq_ignore_ascii_case("letsdata"));
            let error_letsdata = dataset
                .config
                .get("errorConnector")
                .and_then(|w| w.get("resourceLocation"))
                .and_then(|r| r.as_str())
                .is_some_and(|r| r.trim().eq_ignore_ascii_case("letsdata"));
            if write_letsdata && !dataset.resources.write_bucket.is_empty() {
                steps.push(STEP_DELETE_WRITE_BUCKET);
            }
            steps.extend(crate::aws::delete_step(dataset));
            if error_letsdata {
                steps.push(STEP_DELETE_ERROR_BUCKET);
            }
            steps.push(STEP_DELETE_DATASET_FILES);
            steps
        }
    }
}
