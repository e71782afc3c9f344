//! `datasets create`: validate, check that the resources exist, store the dataset as CREATED.
//!
//! Nothing is created unless every check passes: the dataset record is the only thing written,
//! and it is written last. The connectors check what they read and write (buckets, the
//! manifest object, streams, queues, tables); their problems are reported like validation
//! problems, with the JSON path of the field to fix.

use crate::datasets::{DatasetConnectors, generated_name};
use crate::{Engine, EngineError};
use letsdata_model::dataset::DatasetResources;
use letsdata_model::spec::{ValidationContext, parse_dataset_spec};
use letsdata_model::time::now_millis;
use letsdata_model::{ConfigError, Dataset, DatasetProgress, DatasetStatus, Problem};
use serde_json::Value;

impl Engine {
    /// Creates a dataset from its JSON configuration (status CREATED; `run` processes it).
    pub async fn create_dataset(&self, config_text: &str) -> Result<Dataset, EngineError> {
        let json: Value = serde_json::from_str(config_text)
            .map_err(|e| EngineError::InvalidJson(e.to_string()))?;
        let ctx = ValidationContext {
            aws_resources: self.objects().is_s3(),
        };
        let spec = parse_dataset_spec(&json, ctx)?;
        if let Some(existing) = self
            .store
            .get_dataset(&self.tenant.tenant_id, &spec.dataset_name)
            .await?
        {
            let message = if existing.dataset_status == DatasetStatus::Deleted {
                format!(
                    "a dataset named {:?} was deleted; names of deleted datasets cannot be reused, choose another",
                    spec.dataset_name
                )
            } else {
                format!(
                    "a dataset named {:?} already exists; dataset names are unique per tenant, choose another",
                    spec.dataset_name
                )
            };
            return Err(ConfigError {
                problems: vec![Problem {
                    path: "datasetName".into(),
                    message,
                }],
            }
            .into());
        }
        let connectors = DatasetConnectors::of(&spec)?;
        let dataset_id = uuid::Uuid::new_v4().to_string();
        let generated = |suffix: &str| generated_name(&spec.dataset_name, &dataset_id, suffix);
        let mut resources = DatasetResources {
            object_store: self.objects().describe(),
            ..Default::default()
        };
        resources.set_read(connectors.source.resource());
        let write = connectors.write.plan(&generated);
        let error = connectors.error.plan(&generated);

        // Checks (with IO): every problem of every connector, before failing.
        let mut problems = connectors.source.check(&self.connectors).await;
        problems.extend(connectors.write.check(&self.connectors, &write).await);
        problems.extend(connectors.error.check(&self.connectors, &error).await);
        if !problems.is_empty() {
            return Err(ConfigError { problems }.into());
        }
        resources.set_write(write);
        resources.set_error(error);

        let mut config = match json {
            Value::Object(map) => map,
            _ => unreachable!("validated as an object"),
        };
        config.shift_remove("datasetName");
        let now = now_millis();
        let dataset = Dataset {
            dataset_name: spec.dataset_name.clone(),
            dataset_id: dataset_id.clone().into(),
            tenant_id: self.tenant.tenant_id.clone(),
            user_id: self.tenant.user_id.clone(),
            dataset_status: DatasetStatus::Created,
            config,
            dataset_progress: DatasetProgress::default(),
            execution_logs: Vec::new(),
            initialization_workflow: serde_json::Map::new(),
            redrive_workflows: Vec::new(),
            descale_workflow: serde_json::Map::new(),
            freeze_workflow: serde_json::Map::new(),
            delete_workflow: serde_json::Map::new(),
            resources,
            code: None,
            code_update_workflows: Vec::new(),
            last_error: None,
            create_datetime: now,
            update_datetime: now,
            version: 0,
        };
        self.store.insert_dataset(&dataset).await?;
        Ok(dataset)
    }
}
