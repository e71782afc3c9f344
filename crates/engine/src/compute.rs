//! The compute update workflow: `datasets compute update` (PROCESSING | COMPLETED | ERRORED →
//! UPDATING → back).
//!
//! The new settings are validated like a new configuration before anything changes; the status
//! changes are compare-and-set, so an update racing another action loses cleanly. A dataset
//! that is processing picks the new settings up without restarting: every worker pool re-reads
//! the configuration about once a second (new concurrency at once, the new time budget and log
//! level from the next invocation).

use crate::datasets::spec_of;
use crate::{Engine, EngineError};
use letsdata_model::lifecycle;
use letsdata_model::spec::EndpointType;
use letsdata_model::{Dataset, DatasetAction, DatasetStatus};
use letsdata_store::StoreError;
use serde_json::{Map, Value};

/// Compute settings to change; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct ComputeUpdate {
    pub concurrency: Option<u32>,
    pub timeout_in_seconds: Option<u32>,
    pub memory_limit_in_megabytes: Option<u32>,
    pub log_level: Option<String>,
    /// The vectors engine's endpoint (`LAMBDA_AND_SAGEMAKER`): inferences at once.
    pub sagemaker_endpoint_concurrency: Option<u32>,
    /// The vectors engine's endpoint memory.
    pub sagemaker_memory_limit_in_megabytes: Option<u32>,
}

impl ComputeUpdate {
    fn is_empty(&self) -> bool {
        self.concurrency.is_none()
            && self.timeout_in_seconds.is_none()
            && self.memory_limit_in_megabytes.is_none()
            && self.log_level.is_none()
            && !self.touches_endpoint()
    }

    fn touches_endpoint(&self) -> bool {
        self.sagemaker_endpoint_concurrency.is_some()
            || self.sagemaker_memory_limit_in_megabytes.is_some()
    }

    /// Writes the new settings into the configuration where its engine type keeps them: a
    /// `Lambda` engine's own fields, or a `LAMBDA_AND_SAGEMAKER` engine's `lambda` block
    /// (`lambdaConcurrency`, ...) and its endpoint's `sagemakerServerless` (or
    /// `sagemakerProvisioned`) block.
    fn apply(&self, dataset: &mut Dataset, vectors: Option<EndpointType>) {
        let compute = dataset
            .config
            .entry("computeEngine")
            .or_insert_with(|| Value::Object(Default::default()));
        let Value::Object(map) = compute else {
            return;
        };
        let (task, [concurrency, timeout, memory]) = match vectors {
            None => (
                map,
                ["concurrency", "timeoutInSeconds", "memoryLimitInMegabytes"],
            ),
            Some(kind) => {
                let endpoint = object_at(map, "endpoint");
                let sizes = object_at(endpoint, kind.sizes_block());
                if let Some(v) = self.sagemaker_endpoint_concurrency {
                    sizes.insert("sagemakerEndpointConcurrency".into(), v.into());
                }
                if let Some(v) = self.sagemaker_memory_limit_in_megabytes {
                    sizes.insert("sagemakerMemoryLimitInMegabytes".into(), v.into());
                }
                (
                    object_at(map, "lambda"),
                    [
                        "lambdaConcurrency",
                        "lambdaTimeoutInSeconds",
                        "lambdaMemoryLimitInMegabytes",
                    ],
                )
            }
        };
        if let Some(v) = self.concurrency {
            task.insert(concurrency.into(), v.into());
        }
        if let Some(v) = self.timeout_in_seconds {
            task.insert(timeout.into(), v.into());
        }
        if let Some(v) = self.memory_limit_in_megabytes {
            task.insert(memory.into(), v.into());
        }
        if let Some(v) = &self.log_level {
            task.insert("logLevel".into(), v.clone().into());
        }
    }
}

/// The object `map[field]`, made (or replacing a value that is not an object) if needed.
fn object_at<'a>(map: &'a mut Map<String, Value>, field: &str) -> &'a mut Map<String, Value> {
    let value = map
        .entry(field)
        .or_insert_with(|| Value::Object(Map::new()));
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    value.as_object_mut().expect("made an object")
}

fn refused(e: letsdata_model::InvalidTransition, name: &str) -> EngineError {
    EngineError::Refused(format!("dataset {name:?}: {e}"))
}

impl Engine {
    /// Updates the dataset's compute settings; returns the dataset afterwards.
    pub async fn update_compute(
        &self,
        dataset_name: &str,
        update: &ComputeUpdate,
    ) -> Result<Dataset, EngineError> {
        if update.is_empty() {
            return Err(EngineError::Refused(
                "nothing to update: give --concurrency, --timeoutInSeconds, --memoryLimitInMegabytes, --logLevel, --sagemakerEndpointConcurrency or --sagemakerMemoryLimitInMegabytes".into(),
            ));
        }
        // UPDATING, with the new settings (validated first), atomically.
        let (mut dataset, previous) = loop {
            let mut dataset = self.dataset(dataset_name).await?;
            let previous = dataset.dataset_status;
            let updating = lifecycle::next(previous, DatasetAction::UpdateCompute, None)
                .map_err(|e| refused(e, dataset_name))?;
            let endpoint = spec_of(self, &dataset)?
                .compute_engine
                .vectors
                .map(|v| v.endpoint.kind);
            if endpoint.is_none() && update.touches_endpoint() {
                return Err(EngineError::Refused(format!(
                    "dataset {dataset_name:?} has no SageMaker endpoint: --sagemakerEndpointConcurrency and --sagemakerMemoryLimitInMegabytes are for computeEngineType LAMBDA_AND_SAGEMAKER"
                )));
            }
            update.apply(&mut dataset, endpoint);
            spec_of(self, &dataset)?;
            dataset.dataset_status = updating;
            match self.store.update_dataset(&mut dataset).await {
                Ok(()) => break (dataset, previous),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        // Back to the status it had (the pools pick the settings up on their own).
        loop {
            dataset.dataset_status = lifecycle::next(
                DatasetStatus::Updating,
                DatasetAction::FinishUpdate,
                Some(previous),
            )
            .map_err(|e| refused(e, dataset_name))?;
            match self.store.update_dataset(&mut dataset).await {
                Ok(()) => return Ok(dataset),
                // The monitor refreshed progress meanwhile: keep its changes, finish the update.
                Err(StoreError::Conflict(_)) => {
                    dataset = self.dataset(dataset_name).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}
