//! The dataset record: the user's configuration plus the system fields LetsData adds
//! (`datasetId`, `datasetStatus`, `datasetProgress`, `executionLogs`, `initializationWorkflow`, ...).

use crate::status::DatasetStatus;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The status of one workflow step: `WAIT` while running or waiting to be retried,
/// `ERROR` after a failed attempt, `COMPLETED` when done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StepStatus {
    Wait,
    Error,
    Completed,
}

/// The latest result of a workflow step, as shown in `initializationWorkflow`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepResult {
    pub status: StepStatus,
    pub attempts: u32,
    pub start_datetime: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_datetime: Option<i64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// Aggregate task progress. Eventually consistent: the task state monitor refreshes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetProgress {
    pub total_tasks: u64,
    pub completed_tasks: u64,
    pub errored_tasks: u64,
    pub processing_tasks: u64,
    pub records_read: u64,
    pub documents_written: u64,
    pub error_records: u64,
    pub skip_records: u64,
    pub bytes_read: u64,
}

/// One execution of the dataset (the initial run, later each redrive).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionLog {
    pub start_datetime: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_datetime: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<DatasetStatus>,
}

/// Resources the dataset uses, resolved at creation (names of LetsData-located resources are
/// generated, Customer ones copied from the config) and completed by initialization.
///
/// Buckets are stored by name (`readBucket`, `writeBucket`, `errorBucket`), every other
/// resource as a [`ConnectorResource`] (`readResource`, `writeResource`); [`Self::read`],
/// [`Self::write`] and [`Self::error`] (and their setters) give one view of both, so the
/// engine handles every connector's resource the same way while `datasets view` keeps the
/// shape it always had.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetResources {
    /// Empty when the read connector is not S3.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub read_bucket: String,
    /// Empty when the write connector is not S3.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub write_bucket: String,
    pub error_bucket: String,
    /// Where buckets live: `local` (directories under `$LETSDATA_HOME/buckets`) or an S3 endpoint.
    pub object_store: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub task_database: String,
    /// What a read connector other than S3 reads (stream, queue, table, topic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_resource: Option<ConnectorResource>,
    /// What a write connector other than S3 writes (stream, queue, table, topic, cache).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_resource: Option<ConnectorResource>,
    /// The vectors engine's model (`LAMBDA_AND_SAGEMAKER`), once initialization copied it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sagemaker_model: Option<SagemakerModel>,
}

/// The model of a `LAMBDA_AND_SAGEMAKER` dataset as letsdata keeps it: `modelUrl`'s
/// `model.tar.gz` copied into the internal artifact bucket by content, unpacked on each
/// machine that runs the dataset's tasks (LetsData: the SageMaker model and endpoint).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SagemakerModel {
    /// `computeEngine.model.modelUrl`.
    pub model_url: String,
    /// The archive's sha256 (hex).
    pub sha256: String,
    /// `s3://<artifact bucket>/sha256/<sha256>.tar.gz`.
    pub internal_copy: String,
    pub size_bytes: u64,
    /// The length of the vectors the model makes.
    pub dimension: u32,
    /// The longest text the model encodes, in tokens; longer ones are cut.
    pub max_tokens: u32,
}

impl DatasetResources {
    fn bucket(name: &str, location: &str) -> Option<ConnectorResource> {
        (!name.is_empty()).then(|| ConnectorResource {
            resource_type: ConnectorResource::S3_BUCKET.to_string(),
            resource_location: location.to_string(),
            name: name.to_string(),
            ..Default::default()
        })
    }

    /// What the read connector reads (`None` before creation resolved it).
    pub fn read(&self) -> Option<ConnectorResource> {
        self.read_resource
            .clone()
            .or_else(|| Self::bucket(&self.read_bucket, "Customer"))
    }

    /// What the write connector writes. A bucket's location is not stored; `location` is the
    /// one the configuration gives.
    pub fn write(&self, location: &str) -> Option<ConnectorResource> {
        self.write_resource
            .clone()
            .or_else(|| Self::bucket(&self.write_bucket, location))
    }

    /// The error connector's bucket.
    pub fn error(&self, location: &str) -> Option<ConnectorResource> {
        Self::bucket(&self.error_bucket, location)
    }

    /// Records what the read connector reads.
    pub fn set_read(&mut self, r: ConnectorResource) {
        if r.is_bucket() {
            self.read_bucket = r.name;
        } else {
            self.read_resource = Some(r);
        }
    }

    /// Records what the write connector writes.
    pub fn set_write(&mut self, r: ConnectorResource) {
        if r.is_bucket() {
            self.write_bucket = r.name;
        } else {
            self.write_resource = Some(r);
        }
    }

    /// Records the error connector's bucket.
    pub fn set_error(&mut self, r: ConnectorResource) {
        self.error_bucket = r.name;
    }
}

/// Something outside letsdata a dataset reads or writes: a bucket, stream, queue, table, topic
/// or cache, as shown in `datasets view` (buckets by name only, see [`DatasetResources`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorResource {
    /// `S3Bucket`, `KinesisStream`, `DynamoDBStream`, `SQSQueue`, `DynamoDBTable`, … (each
    /// connector names its own).
    pub resource_type: String,
    /// `LetsData` (created and deleted by letsdata) or `Customer`.
    pub resource_location: String,
    pub name: String,
    /// Known once the resource exists (filled by initialization).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub arn: String,
    /// Where the resource is reached, when its name does not say: an SQS queue's URL, the
    /// bootstrap servers of a Kafka topic, a cache's address (never with credentials).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
}

impl ConnectorResource {
    /// The resource type of buckets.
    pub const S3_BUCKET: &'static str = "S3Bucket";

    /// Whether this is a bucket (stored by name in [`DatasetResources`]).
    pub fn is_bucket(&self) -> bool {
        self.resource_type == Self::S3_BUCKET
    }

    /// Whether letsdata created it (and deletes it with the dataset).
    pub fn is_letsdata(&self) -> bool {
        self.resource_location.eq_ignore_ascii_case("letsdata")
    }
}

/// One redrive request and its workflow steps (LetsData's five redrive steps).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RedriveWorkflow {
    pub redrive_id: String,
    pub request_datetime: i64,
    /// The tasks redriven.
    pub task_ids: Vec<crate::TaskId>,
    pub restart_from_beginning: bool,
    /// Step name → latest result, like `initializationWorkflow`.
    pub steps: Map<String, Value>,
}

/// One version of a dataset's implementation (a WebAssembly component), as copied into
/// letsdata's content-addressed artifact store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeArtifact {
    /// sha256 of the component's bytes (hex): the version's identity.
    pub sha256: String,
    /// The `artifactFileS3Link` it was copied from.
    pub artifact_file_s3_link: String,
    /// Where letsdata keeps its copy (`s3://<artifact bucket>/sha256/<hex>.wasm`).
    pub internal_copy: String,
    pub size_bytes: u64,
    /// The LetsData interface the component implements (checked by the code build).
    pub interface: String,
    /// When this version became the dataset's code.
    pub activated_datetime: i64,
}

/// A dataset's code snapshot: the version tasks run now, and the ones before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetCode {
    pub current: CodeArtifact,
    /// Earlier versions, most recent first.
    #[serde(default)]
    pub previous: Vec<CodeArtifact>,
}

/// A dataset as stored and as printed by `letsdata datasets view`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dataset {
    pub dataset_name: String,
    pub dataset_id: crate::DatasetId,
    pub tenant_id: String,
    pub user_id: String,
    pub dataset_status: DatasetStatus,
    /// The configuration as the user wrote it (top-level fields other than `datasetName`).
    #[serde(flatten)]
    pub config: Map<String, Value>,
    pub dataset_progress: DatasetProgress,
    pub execution_logs: Vec<ExecutionLog>,
    /// Step name → latest result; steps not started yet are `{}`.
    pub initialization_workflow: Map<String, Value>,
    /// One entry per redrive request, oldest first.
    #[serde(default)]
    pub redrive_workflows: Vec<RedriveWorkflow>,
    /// Steps of the descale workflow (step name → result), once requested.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub descale_workflow: Map<String, Value>,
    /// Steps of the freeze workflow, once requested.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub freeze_workflow: Map<String, Value>,
    /// Steps of the delete workflow, once requested.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub delete_workflow: Map<String, Value>,
    pub resources: DatasetResources,
    /// The implementation's code snapshot (Wasm implementations only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<DatasetCode>,
    /// Steps of the code update workflows, most recent last (`datasets code update`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub code_update_workflows: Vec<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub create_datetime: i64,
    pub update_datetime: i64,
    /// Optimistic-concurrency version; every store update is conditional on it.
    #[serde(skip)]
    pub version: i64,
}

impl Dataset {
    /// Records a step result in `initializationWorkflow`, keeping the step order.
    pub fn set_init_step(&mut self, name: &str, result: &StepResult) {
        let value = serde_json::to_value(result).expect("step results always serialize");
        self.initialization_workflow.insert(name.to_string(), value);
    }

    /// The latest result of an initialization step, if it has started.
    pub fn init_step(&self, name: &str) -> Option<StepResult> {
        self.initialization_workflow
            .get(name)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }
}
