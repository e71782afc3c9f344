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
use letsdata_model::{Dataset, DatasetAction, DatasetStatus};
use letsdata_store::StoreError;
use serde_json::Value;

/// Compute settings to change; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct ComputeUpdate {
    pub concurrency: Option<u32>,
    pub timeout_in_seconds: Option<u32>,
    pub memory_limit_in_megabytes: Option<u32>,
    pub log_level: Option<String>,
}

impl ComputeUpdate {
    fn is_empty(&self) -> bool {
        self.concurrency.is_none()
            && self.timeout_in_seconds.is_none()
            && self.memory_limit_in_megabytes.is_none()
            && self.log_level.is_none()
    }

    fn apply(&self, dataset: &mut Dataset) {
        let compute = dataset
            .config
            .entry("computeEngine")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Value::Object(map) = compute {
            if let Some(v) = self.concurrency {
                map.insert("concurrency".into(), v.into());
            }
            if let Some(v) = self.timeout_in_seconds {
                map.insert("timeoutInSeconds".into(), v.into());
            }
            if let Some(v) = self.memory_limit_in_megabytes {
                map.insert("memoryLimitInMegabytes".into(), v.into());
            }
            if let Some(v) = &self.log_level {
                map.insert("logLevel".into(), v.clone().into());
            }
        }
    }
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
                "nothing to update: give --concurrency, --timeoutInSeconds, --memoryLimitInMegabytes or --logLevel".into(),
            ));
        }
        // UPDATING, with the new settings (validated first), atomically.
        let (mut dataset, previous) = loop {
            let mut dataset = self.dataset(dataset_name).await?;
            let previous = dataset.dataset_status;
            let updating = lifecycle::next(previous, DatasetAction::UpdateCompute, None)
                .map_err(|e| refused(e, dataset_name))?;
            update.apply(&mut dataset);
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
