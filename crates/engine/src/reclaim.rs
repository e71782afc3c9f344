//! Cost workflows: descale, freeze and delete (LetsData's cost management).
//!
//! * **Descale** (COMPLETED | ERRORED → DESCALING → DESCALED): releases the dataset's compute:
//!   its worker slots are no longer reserved and no process runs its tasks.
//! * **Freeze** (COMPLETED | ERRORED | DESCALED → FREEZING → FROZEN): reclaims the internal
//!   resources (the task database and its queue). Output, error records and the dataset record
//!   with its final progress stay readable.
//! * **Delete** (→ DELETING → DELETED): removes everything, the write and error connectors'
//!   LetsData-located resources included (each connector names and runs its own delete step);
//!   the dataset record stays as a tombstone so the name cannot be reused.
//!
//! Each records its steps in the dataset record (`descaleWorkflow`, `freezeWorkflow`,
//! `deleteWorkflow`) through the workflow runner. Nothing is reclaimed while a task runs: a
//! dataset with running tasks is refused (stop it first). Steps are idempotent, so a workflow
//! interrupted half-way is finished by running the same command again.

use crate::datasets::{DatasetConnectors, sink_resource, spec_of, transition};
use crate::workflow::{self, Record, Step, StepError};
use crate::{Engine, EngineError};
use letsdata_connectors::owner::Owner;
use letsdata_connectors::sink::SinkRole;
use letsdata_model::dataset::StepStatus;
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

    fn record(self) -> Record {
        match self {
            Kind::Descale => Record::Descale,
            Kind::Freeze => Record::Freeze,
            Kind::Delete => Record::Delete,
        }
    }
}

/// The steps of the cost workflows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReclaimStep {
    ReleaseCompute,
    DeleteTaskDatabase,
    DeleteQueues,
    /// The write or error connector's LetsData-located resource, under its sink's step name.
    DeleteResource(SinkRole, &'static str),
    DeleteDatasetFiles,
}

impl Step for ReclaimStep {
    fn name(&self) -> &str {
        match self {
            Self::ReleaseCompute => "Compute Engine - Release Data Task Function Concurrency",
            Self::DeleteTaskDatabase => "Delete Internal Task Database",
            Self::DeleteQueues => "Delete Internal Queues",
            Self::DeleteResource(_, name) => name,
            Self::DeleteDatasetFiles => "Delete Dataset Files",
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
        let steps = self.reclaim_steps(kind, &dataset)?;
        let record = kind.record();
        // A workflow interrupted half-way (still in its transient status) is resumed.
        if dataset.dataset_status != kind.transient() {
            letsdata_model::lifecycle::next(dataset.dataset_status, start_action, None)
                .map_err(|e| EngineError::Refused(format!("dataset {dataset_name:?}: {e}")))?;
            let running = self.running_tasks(&dataset).await?;
            if running > 0 {
                return Err(EngineError::Refused(format!(
                    "dataset {dataset_name:?} has {running} running tasks; nothing is reclaimed while a task runs: stop them first with `letsdata tasks stop --datasetName {dataset_name}`"
                )));
            }
            transition(self, &dataset.dataset_id, start_action, None, |d, _| {
                if let Some(map) = record.steps_mut(d) {
                    map.clear();
                }
                record.declare(d, steps.iter().map(|s| s.name()));
            })
            .await?;
        }
        workflow::run(self, &dataset.dataset_id, &record, &steps, |step| {
            self.run_reclaim_step(&dataset, *step)
        })
        .await
        .map_err(|e| e.into_engine(dataset_name))?;
        transition(self, &dataset.dataset_id, finish_action, None, |_, _| {}).await
    }

    fn reclaim_steps(
        &self,
        kind: Kind,
        dataset: &Dataset,
    ) -> Result<Vec<ReclaimStep>, EngineError> {
        Ok(match kind {
            Kind::Descale => vec![ReclaimStep::ReleaseCompute],
            Kind::Freeze => vec![ReclaimStep::DeleteTaskDatabase, ReclaimStep::DeleteQueues],
            Kind::Delete => {
                let mut steps = vec![ReclaimStep::DeleteTaskDatabase, ReclaimStep::DeleteQueues];
                let spec = spec_of(self, dataset)?;
                let connectors = DatasetConnectors::of(&spec)?;
                for (role, sink, resource) in connectors.sinks(dataset, &spec)? {
                    if let Some(name) = sink.delete_step(&resource) {
                        steps.push(ReclaimStep::DeleteResource(role, name));
                    }
                }
                steps.push(ReclaimStep::DeleteDatasetFiles);
                steps
            }
        })
    }

    async fn running_tasks(&self, dataset: &Dataset) -> Result<u64, EngineError> {
        match self.existing_task_store(dataset).await? {
            Some(tasks) => Ok(tasks.counts().await?.processing),
            None => Ok(0),
        }
    }

    async fn run_reclaim_step(
        &self,
        dataset: &Dataset,
        step: ReclaimStep,
    ) -> Result<String, StepError> {
        let dir = self.home.join("datasets").join(&dataset.dataset_id);
        match step {
            ReclaimStep::ReleaseCompute => {
                let concurrency = spec_of(self, dataset)
                    .map(|s| s.compute_engine.concurrency)
                    .unwrap_or(0);
                Ok(format!("{concurrency} worker slots released"))
            }
            ReclaimStep::DeleteTaskDatabase => {
                self.store.drop_task_store(&dataset.dataset_id).await?;
                Ok("task database deleted".into())
            }
            ReclaimStep::DeleteQueues => {
                Ok("internal task queue deleted with the task database".into())
            }
            ReclaimStep::DeleteResource(role, _) => {
                let spec = spec_of(self, dataset)?;
                let resource = sink_resource(dataset, &spec, role)?;
                let connectors = DatasetConnectors::of(&spec)?;
                let sink = connectors.sink(role);
                // Provisioned: the step that created the resource completed.
                let provisioned = sink
                    .provision_step(&resource)
                    .and_then(|step| dataset.init_step(step))
                    .is_some_and(|r| r.status == StepStatus::Completed);
                let owner = Owner::new(dataset.dataset_id.as_str(), provisioned);
                Ok(sink.delete(&self.connectors, &resource, owner).await?)
            }
            ReclaimStep::DeleteDatasetFiles => {
                match tokio::fs::remove_dir_all(&dir).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(StepError::user(format!(
                            "cannot delete {}: {e}",
                            dir.display()
                        )));
                    }
                }
                Ok(format!("{} deleted (task logs included)", dir.display()))
            }
        }
    }
}
