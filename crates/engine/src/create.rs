//! `datasets create`: validate, check that the resources exist, store the dataset as CREATED.
//!
//! Nothing is created unless every check passes: the dataset record is the only thing written,
//! and it is written last. Resource checks (buckets and the manifest object exist) are reported
//! like validation problems, with the JSON path of the field to fix.

use crate::{Engine, EngineError};
use letsdata_model::dataset::DatasetResources;
use letsdata_model::spec::{
    Manifest, ManifestSource, ReadConnector, ResourceLocation, ValidationContext, WriteConnector,
    parse_dataset_spec,
};
use letsdata_model::time::now_millis;
use letsdata_model::{ConfigError, Dataset, DatasetProgress, DatasetSpec, DatasetStatus, Problem};
use serde_json::Value;

impl Engine {
    /// Creates a dataset from its JSON configuration (status CREATED; `run` processes it).
    pub async fn create_dataset(&self, config_text: &str) -> Result<Dataset, EngineError> {
        let json: Value = serde_json::from_str(config_text)
            .map_err(|e| EngineError::InvalidJson(e.to_string()))?;
        let ctx = ValidationContext {
            aws_resources: self.objects.is_s3(),
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
        let dataset_id = uuid::Uuid::new_v4().to_string();
        let resources = resources(&spec, &dataset_id, &self.objects.describe());
        self.check_resources(&spec, &resources).await?;

        let mut config = match json {
            Value::Object(map) => map,
            _ => unreachable!("validated as an object"),
        };
        config.shift_remove("datasetName");
        let now = now_millis();
        let dataset = Dataset {
            dataset_name: spec.dataset_name.clone(),
            dataset_id: dataset_id.clone(),
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

    /// Checks (with IO) that every resource the dataset reads or writes to a `Customer`
    /// location exists. Collects every problem before failing.
    async fn check_resources(
        &self,
        spec: &DatasetSpec,
        resources: &DatasetResources,
    ) -> Result<(), EngineError> {
        let mut problems = Vec::new();
        if let ReadConnector::S3(read) = &spec.read_connector {
            self.check_bucket(&read.bucket_name, "readConnector.bucketName", &mut problems)
                .await;
        }
        if let Manifest::Files {
            source: ManifestSource::S3Link { bucket, key, .. },
            ..
        } = &spec.manifest
        {
            let ok = self
                .check_bucket(bucket, "manifestFile.manifestFileS3Uri", &mut problems)
                .await;
            if ok {
                let exists = match self.objects.bucket(bucket) {
                    Ok(b) => b.exists(key).await,
                    Err(e) => Err(e),
                };
                match exists {
                    Ok(true) => {}
                    Ok(false) => problems.push(Problem {
                        path: "manifestFile.manifestFileS3Uri".into(),
                        message: format!("the manifest s3://{bucket}/{key} does not exist"),
                    }),
                    Err(e) => problems.push(Problem {
                        path: "manifestFile.manifestFileS3Uri".into(),
                        message: e.to_string(),
                    }),
                }
            }
        }
        if let WriteConnector::S3(write) = &spec.write_connector
            && write.resource_location == ResourceLocation::Customer
            && let Some(b) = &write.bucket_name
        {
            self.check_bucket(b, "writeConnector.bucketName", &mut problems)
                .await;
        }
        if spec.error_connector.resource_location == ResourceLocation::Customer
            && let Some(b) = &spec.error_connector.bucket_name
        {
            self.check_bucket(b, "errorConnector.bucketName", &mut problems)
                .await;
        }
        crate::aws::check_resources(self, spec, resources.write_resource.as_ref(), &mut problems)
            .await;
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { problems }.into())
        }
    }

    async fn check_bucket(&self, bucket: &str, path: &str, problems: &mut Vec<Problem>) -> bool {
        match self.objects.require_bucket(bucket).await {
            Ok(()) => true,
            Err(e) => {
                problems.push(Problem {
                    path: path.into(),
                    message: e.to_string(),
                });
                false
            }
        }
    }
}

/// Names a LetsData-located bucket: `ld-<datasetname>-<8 hex of the id>-<suffix>`.
fn generated_bucket(spec: &DatasetSpec, dataset_id: &str, suffix: &str) -> String {
    let name: String = spec
        .dataset_name
        .to_ascii_lowercase()
        .chars()
        .take(40)
        .collect();
    let id: String = dataset_id.chars().filter(|c| *c != '-').take(8).collect();
    format!("ld-{name}-{id}-{suffix}")
}

fn resources(spec: &DatasetSpec, dataset_id: &str, object_store: &str) -> DatasetResources {
    let read_bucket = match &spec.read_connector {
        ReadConnector::S3(read) => read.bucket_name.clone(),
        _ => String::new(),
    };
    let write_bucket = match &spec.write_connector {
        WriteConnector::S3(write) => write
            .bucket_name
            .clone()
            .unwrap_or_else(|| generated_bucket(spec, dataset_id, "output")),
        _ => String::new(),
    };
    DatasetResources {
        read_bucket,
        write_bucket,
        error_bucket: spec
            .error_connector
            .bucket_name
            .clone()
            .unwrap_or_else(|| generated_bucket(spec, dataset_id, "errors")),
        object_store: object_store.to_string(),
        task_database: String::new(),
        read_resource: crate::aws::read_resource(spec),
        write_resource: crate::aws::write_resource(spec, |suffix| {
            generated_bucket(spec, dataset_id, suffix)
        }),
    }
}
