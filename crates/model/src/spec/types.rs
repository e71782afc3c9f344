//! Validated dataset specification types.

use super::Problem;
use std::fmt;

/// The six regions LetsData supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    UsEast1,
    UsEast2,
    UsWest2,
    EuWest1,
    ApSouth1,
    ApNortheast1,
}

impl Region {
    pub const ALL: [Region; 6] = [
        Self::UsEast1,
        Self::UsEast2,
        Self::UsWest2,
        Self::EuWest1,
        Self::ApSouth1,
        Self::ApNortheast1,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UsEast1 => "us-east-1",
            Self::UsEast2 => "us-east-2",
            Self::UsWest2 => "us-west-2",
            Self::EuWest1 => "eu-west-1",
            Self::ApSouth1 => "ap-south-1",
            Self::ApNortheast1 => "ap-northeast-1",
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who owns a resource: `LetsData` (created and deleted by letsdata) or `Customer` (must exist).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceLocation {
    LetsData,
    Customer,
}

impl ResourceLocation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LetsData => "LetsData",
            Self::Customer => "Customer",
        }
    }
}

/// The S3 reader types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderType {
    SingleFileReader,
    SingleFileStateMachineReader,
    MultipleFileStateMachineReader,
}

impl ReaderType {
    /// LetsData's constant spelling (`SINGLEFILEREADER`).
    pub fn constant(self) -> &'static str {
        match self {
            Self::SingleFileReader => "SINGLEFILEREADER",
            Self::SingleFileStateMachineReader => "SINGLEFILESTATEMACHINEREADER",
            Self::MultipleFileStateMachineReader => "MULTIPLEFILESTATEMACHINEREADER",
        }
    }
    /// LetsData's display spelling (`Single File Reader`).
    pub fn display_name(self) -> &'static str {
        match self {
            Self::SingleFileReader => "Single File Reader",
            Self::SingleFileStateMachineReader => "Single File State Machine Reader",
            Self::MultipleFileStateMachineReader => "Multiple File State Machine Reader",
        }
    }
}

/// A built-in parser: no user code needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuiltinParser {
    /// One JSON value per line, written unchanged. `documentIdField` names a top-level field
    /// whose value is the document id (used in error records and, later, as a dedupe key).
    Jsonl { document_id_field: Option<String> },
    /// RFC 4180 CSV. With a header row (default) each row becomes an object keyed by the
    /// header; without one, an array of strings.
    Csv { delimiter: u8, has_header: bool },
    /// Text records cut by optional start/end patterns (default: one record per line);
    /// each becomes `{"fileName": "<key>", "offset": <n>, "text": "<record>"}`.
    Text {
        record_start_pattern: Option<String>,
        record_end_pattern: Option<String>,
    },
}

impl BuiltinParser {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Jsonl { .. } => "jsonl",
            Self::Csv { .. } => "csv",
            Self::Text { .. } => "text",
        }
    }
}

/// The language of a user implementation (`artifactImplementationLanguage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeLanguage {
    /// A WebAssembly component implementing LetsData's interfaces (`wit/letsdata.wit`).
    Wasm,
    /// A LetsData Python project: `letsdata_lambda_function.lambda_handler`, run by CPython.
    Python,
    /// A LetsData JavaScript project: `index.handler` (an ES module), run by Node.js.
    Javascript,
}

impl CodeLanguage {
    /// The `artifactImplementationLanguage` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wasm => "Wasm",
            Self::Python => "Python",
            Self::Javascript => "Javascript",
        }
    }

    /// Whether the implementation is a Lambda handler project run by an interpreter
    /// (Python, JavaScript) rather than a WebAssembly component.
    pub fn is_handler(self) -> bool {
        !matches!(self, Self::Wasm)
    }
}

impl fmt::Display for CodeLanguage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user implementation: a WebAssembly component, or a Python / JavaScript project packed as
/// a `.zip` or `.tar.gz` (`artifactImplementationLanguage` with `artifactFileS3Link`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCode {
    pub language: CodeLanguage,
    /// `artifactFileS3Link`: `s3://<bucket>/<key>`.
    pub bucket: String,
    pub key: String,
    /// `artifactFileS3LinkResourceLocation` (default `Customer`).
    pub resource_location: ResourceLocation,
    /// What a record the code fails on does to a stream, queue or table task (`onRecordError`);
    /// for files it fails the task, as LetsData documents.
    pub on_record_error: RecordErrorPolicy,
}

/// What happens when user code fails on one record of a stream, queue or table (it raises,
/// traps or answers something that is not a result): LetsData's reader error policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordErrorPolicy {
    /// `FailTask`: the task ends ERRORED with the failure (after what came before is written).
    FailTask,
    /// `WriteErrorAndContinue` (the default): the record becomes an error record holding the
    /// failure, and the task goes on. `delete_message` (`onRecordErrorDeleteMessage`, SQS,
    /// default true): the failed message is deleted like a handled one; false leaves it in the
    /// queue, to be received again after its visibility timeout (or moved to the queue's
    /// dead-letter queue by its redrive policy).
    WriteErrorAndContinue { delete_message: bool },
}

impl UserCode {
    /// The `s3://bucket/key` link.
    pub fn link(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// The user implementation that turns records into documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Implementation {
    Builtin(BuiltinParser),
    Code(UserCode),
}

/// `readConnector` with `connectorDestination: S3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3ReadConnector {
    pub reader_type: ReaderType,
    pub bucket_name: String,
    pub bucket_resource_location: ResourceLocation,
    pub implementation: Implementation,
}

/// `readConnector` with `connectorDestination: KINESIS` (`readerType: KINESISSTREAMREADER`)
/// or `DYNAMODBSTREAMS`: one task per shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamReadConnector {
    /// `streamArn`: the Kinesis stream's or the DynamoDB table stream's ARN.
    pub stream_arn: String,
    pub resource_location: ResourceLocation,
    pub implementation: Implementation,
}

/// `readConnector` with `connectorDestination: SQS`: `concurrency` tasks share the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueReadConnector {
    pub queue_name: String,
    pub resource_location: ResourceLocation,
    pub implementation: Implementation,
}

/// A DynamoDB scan filter: `filterExpression` with its placeholder maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableFilter {
    pub expression: String,
    /// `expressionAttributeNames`: `#name` → attribute name.
    pub attribute_names: std::collections::BTreeMap<String, String>,
    /// `expressionAttributeValues`: `:value` → plain JSON value.
    pub attribute_values: serde_json::Map<String, serde_json::Value>,
}

/// `readConnector` with `connectorDestination: DYNAMODB`: a parallel scan, one task per segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableReadConnector {
    pub table_name: String,
    pub resource_location: ResourceLocation,
    pub implementation: Implementation,
    pub filter: Option<TableFilter>,
}

/// How a Kafka client authenticates and encrypts (`securityProtocol`, `saslMechanism`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KafkaSecurity {
    /// `securityProtocol` `SSL` or `SASL_SSL`: TLS to the brokers.
    pub tls: bool,
    /// `sslCaLocation`: a PEM file of certificates to trust besides the usual roots.
    pub ssl_ca_location: Option<String>,
    /// `securityProtocol` `SASL_PLAINTEXT` or `SASL_SSL`: how the client signs in.
    pub sasl: Option<KafkaSasl>,
}

/// SASL credentials of a Kafka client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaSasl {
    pub mechanism: KafkaSaslMechanism,
    pub username: String,
    /// The password as configured: literally, or a `${env:NAME}` reference
    /// ([`crate::secrets::resolve`]).
    pub password: String,
}

/// `saslMechanism`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KafkaSaslMechanism {
    Plain,
    ScramSha256,
    ScramSha512,
}

/// Where a Kafka topic is: the installation's own cluster (`LETSDATA_KAFKA_BOOTSTRAP_SERVERS`,
/// for `LetsData` topics) or the customer's (`bootstrapServers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaCluster {
    /// `bootstrapServers` (`host:port` each); empty for the installation's cluster.
    pub bootstrap_servers: Vec<String>,
    pub security: KafkaSecurity,
}

/// `readConnector` with `connectorDestination: KAFKA`: one task per partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaReadConnector {
    pub cluster: KafkaCluster,
    pub topic_name: String,
    pub resource_location: ResourceLocation,
    pub implementation: Implementation,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadConnector {
    S3(S3ReadConnector),
    Kinesis(StreamReadConnector),
    DynamoDbStreams(StreamReadConnector),
    Sqs(QueueReadConnector),
    DynamoDb(TableReadConnector),
    Kafka(KafkaReadConnector),
}

impl ReadConnector {
    /// The implementation that turns records into documents.
    pub fn implementation(&self) -> &Implementation {
        match self {
            Self::S3(r) => &r.implementation,
            Self::Kinesis(r) | Self::DynamoDbStreams(r) => &r.implementation,
            Self::Sqs(r) => &r.implementation,
            Self::DynamoDb(r) => &r.implementation,
            Self::Kafka(r) => &r.implementation,
        }
    }

    /// LetsData's `connectorDestination` token.
    pub fn destination(&self) -> &'static str {
        match self {
            Self::S3(_) => "S3",
            Self::Kinesis(_) => "KINESIS",
            Self::DynamoDbStreams(_) => "DYNAMODBSTREAMS",
            Self::Sqs(_) => "SQS",
            Self::DynamoDb(_) => "DYNAMODB",
            Self::Kafka(_) => "KAFKA",
        }
    }

    /// LetsData's task type for tasks reading this connector.
    pub fn task_type(&self) -> &'static str {
        match self {
            Self::S3(_) => "READER",
            Self::Kinesis(_) => "KINESIS",
            Self::DynamoDbStreams(_) => "DYNAMODB_STREAMS",
            Self::Sqs(_) => "SQS",
            Self::DynamoDb(_) => "DYNAMODB_TABLE",
            Self::Kafka(_) => "KAFKA",
        }
    }
}

/// Output compression for S3 objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
}

/// `writeConnector` with `connectorDestination: S3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3WriteConnector {
    pub resource_location: ResourceLocation,
    /// Required for `Customer`; optional for `LetsData` (generated when absent).
    pub bucket_name: Option<String>,
    pub compression: Compression,
}

/// `writeConnector` with `connectorDestination: Kinesis`. Documents are gzip-compressed
/// records, partitioned by document id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KinesisWriteConnector {
    pub resource_location: ResourceLocation,
    /// `streamName` or `streamArn`: required for `Customer`; generated for `LetsData` when absent.
    pub stream: Option<String>,
    /// `kinesisShardCount` of a stream letsdata creates (default 1).
    pub shard_count: u32,
}

/// `writeConnector` with `connectorDestination: SQS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsWriteConnector {
    pub resource_location: ResourceLocation,
    /// Required for `Customer`; generated for `LetsData` when absent.
    pub queue_name: Option<String>,
    /// `messageIdAttributeName`: the message attribute carrying the document id.
    pub message_id_attribute_name: Option<String>,
}

/// `writeConnector` with `connectorDestination: DynamoDB`: documents become items as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamoDbWriteConnector {
    pub resource_location: ResourceLocation,
    /// Required for `Customer`; generated for `LetsData` when absent.
    pub table_name: Option<String>,
    /// `partitionKeyName` of a table letsdata creates (string key, default `documentId`);
    /// documents without it get the document id under that name.
    pub partition_key_name: String,
}

/// Compression of the record batches a Kafka producer sends (`compression`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KafkaCompression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

/// `writeConnector` with `connectorDestination: Kafka`: each document a record keyed by its
/// document id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaWriteConnector {
    pub resource_location: ResourceLocation,
    /// The customer's cluster (`Customer`); the installation's own for `LetsData`.
    pub cluster: KafkaCluster,
    /// Required for `Customer`; generated for `LetsData` when absent.
    pub topic_name: Option<String>,
    /// `kafkaPartitionCount` of a topic letsdata creates (default 1).
    pub partition_count: u32,
    /// `kafkaReplicationFactor` of a topic letsdata creates (default 1).
    pub replication_factor: u32,
    pub compression: KafkaCompression,
    /// `maxMessageBytes`: a larger record is an error record (default 1 MiB, Kafka's
    /// `message.max.bytes`).
    pub max_message_bytes: u32,
}

/// `writeConnector` with `connectorDestination: Redis` (the self-hosted counterpart of
/// LetsData's cache destination): each document a value under `keyPrefix` + document id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisWriteConnector {
    pub resource_location: ResourceLocation,
    /// `redisUrl` (`redis://` or `rediss://`), as configured (it may hold `${env:NAME}`
    /// references); `None` for `LetsData`: the installation's Redis (`LETSDATA_REDIS_URL`).
    pub redis_url: Option<String>,
    /// `redisPassword`, literally or as a `${env:NAME}` reference.
    pub redis_password: Option<String>,
    /// `keyPrefix`; defaults to `<datasetName>:` (`Customer`) or a generated prefix
    /// (`LetsData`).
    pub key_prefix: Option<String>,
    /// `ttlInSeconds`: keys expire after this long (none: they do not expire).
    pub ttl_in_seconds: Option<u32>,
    /// `maxValueSizeInBytes`: a larger document is an error record (default 1 MiB).
    pub max_value_size_in_bytes: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteConnector {
    S3(S3WriteConnector),
    Kinesis(KinesisWriteConnector),
    Sqs(SqsWriteConnector),
    DynamoDb(DynamoDbWriteConnector),
    Kafka(KafkaWriteConnector),
    Redis(RedisWriteConnector),
}

impl WriteConnector {
    pub fn resource_location(&self) -> ResourceLocation {
        match self {
            Self::S3(w) => w.resource_location,
            Self::Kinesis(w) => w.resource_location,
            Self::Sqs(w) => w.resource_location,
            Self::DynamoDb(w) => w.resource_location,
            Self::Kafka(w) => w.resource_location,
            Self::Redis(w) => w.resource_location,
        }
    }

    /// LetsData's `connectorDestination` token.
    pub fn destination(&self) -> &'static str {
        match self {
            Self::S3(_) => "S3",
            Self::Kinesis(_) => "Kinesis",
            Self::Sqs(_) => "SQS",
            Self::DynamoDb(_) => "DynamoDB",
            Self::Kafka(_) => "Kafka",
            Self::Redis(_) => "Redis",
        }
    }
}

/// `errorConnector` (S3 only, as in LetsData).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorConnector {
    pub resource_location: ResourceLocation,
    /// Required for `Customer`; optional for `LetsData` (generated when absent).
    pub bucket_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "TRACE",
            Self::Debug => "DEBUG",
            Self::Info => "INFO",
            Self::Warn => "WARN",
            Self::Error => "ERROR",
        }
    }
}

/// `computeEngine`: its tasks run on the local worker pool.
///
/// With `computeEngineType: Lambda` the task settings are `computeEngine`'s own fields
/// (`concurrency`, `memoryLimitInMegabytes`, `timeoutInSeconds`, `logLevel`). With
/// `LAMBDA_AND_SAGEMAKER` (LetsData's vectors engine) they come from its `lambda` block
/// (`lambdaConcurrency`, `lambdaMemoryLimitInMegabytes`, `lambdaTimeoutInSeconds`,
/// `logLevel`, same ranges and defaults) and [`ComputeEngine::vectors`] holds its `model` and
/// `endpoint` blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputeEngine {
    /// Maximum tasks running in parallel (1..=1000).
    pub concurrency: u32,
    /// Recorded; enforced for user code (default 1024, 128..=10240).
    pub memory_limit_in_megabytes: u32,
    /// Per-invocation budget (default 900, 1..=900).
    pub timeout_in_seconds: u32,
    /// Task log level (default WARN).
    pub log_level: LogLevel,
    /// The model and endpoint of a `LAMBDA_AND_SAGEMAKER` engine; `None` for `Lambda`.
    pub vectors: Option<VectorsEngine>,
}

/// The `model` and `endpoint` blocks of a `LAMBDA_AND_SAGEMAKER` compute engine: the model
/// whose inferences the tasks call, and how they reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VectorsEngine {
    /// Required when the endpoint is `LetsData`'s (letsdata runs this model); optional, and
    /// validated when given, for a `Customer` endpoint (which already serves its model).
    pub model: Option<VectorsModel>,
    pub endpoint: VectorsEndpoint,
    /// `builtinVectorsFields` [I]: the document fields the built-in `SagemakerVectorsInterface`
    /// embeds, one vector each, named after the field (a dotted path reaches into objects).
    /// The document goes out as LetsData's FEATURE document: itself plus
    /// `vectors: {field: [...]}`. Absent: the read connector's user code implements
    /// `SagemakerVectorsInterface` (required without user code).
    pub builtin_fields: Option<Vec<String>>,
}

/// The vectors engine's `model` block.
///
/// letsdata runs the model directory (`modelUrl`, a `model.tar.gz` as SageMaker takes it) as a
/// sentence-transformers encoder whatever `HF_TASK` says; a custom `inference.py`
/// (`SAGEMAKER_PROGRAM`, `SAGEMAKER_SUBMIT_DIRECTORY`) is not run. The environment variables
/// and the container image name are accepted and recorded only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VectorsModel {
    /// `modelResourceLocation` (default `LetsData`, the only one accepted: a model in the
    /// customer's SageMaker is not something letsdata can run).
    pub resource_location: ResourceLocation,
    /// `modelUrl`, `s3://<bucket>/<key>`: its bucket.
    pub url_bucket: String,
    /// `modelUrl`'s key (non-empty).
    pub url_key: String,
    /// Who owns `modelUrl`'s bucket: `modelUrlResourceLocation` (default `Customer`).
    pub url_resource_location: ResourceLocation,
    /// `modelEnvironmentVariables` (default empty): `HF_TASK`, `SAGEMAKER_PROGRAM`,
    /// `SAGEMAKER_SUBMIT_DIRECTORY` and any other, recorded only.
    pub environment: std::collections::BTreeMap<String, String>,
    /// `modelContainerImageName` (e.g. `HuggingFace_Inference_4_12_3`), recorded only.
    pub container_image_name: Option<String>,
}

impl VectorsModel {
    /// The `s3://bucket/key` link of the model.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.url_bucket, self.url_key)
    }
}

/// The vectors engine's `endpoint` block: the SageMaker endpoint the tasks' inferences go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VectorsEndpoint {
    /// `sagemakerEndpointType` (default `Serverless`).
    pub kind: EndpointType,
    /// `sagemakerEndpointResourceLocation`: `LetsData` (default), an endpoint letsdata creates
    /// for [`VectorsEngine::model`] (run in-process), or `Customer`, an existing endpoint
    /// letsdata calls with `InvokeEndpoint` through the access grant (`{"inputs": [texts]}` in,
    /// one vector per text out; the concurrency bounds the calls at once, the memory is not
    /// used).
    pub resource_location: ResourceLocation,
    /// `sagemakerEndpointName`: the `Customer` endpoint's name (required for `Customer`,
    /// refused for `LetsData`); 1 to 63 characters, `[a-zA-Z0-9](-*[a-zA-Z0-9])*`.
    pub endpoint_name: Option<String>,
    /// `sagemakerEndpointConcurrency` (1..=200, default 5): how many inferences run at once,
    /// separately from the task concurrency.
    pub concurrency: u32,
    /// `sagemakerMemoryLimitInMegabytes`: one of SageMaker Serverless' sizes, 1024, 2048,
    /// 3072, 4096, 5120 or 6144 (default 2048).
    pub memory_limit_in_megabytes: u32,
    /// `sagemakerProvisioned.sagemakerInstanceType` (e.g. `ml.m5.xlarge`), recorded only.
    pub instance_type: Option<String>,
    /// `sagemakerProvisioned.sagemakerInitialInstanceCount` (1..=100), recorded only.
    pub initial_instance_count: Option<u32>,
}

/// `sagemakerEndpointType`. The concurrency and memory come from the `sagemakerServerless`
/// block for `Serverless` and from `sagemakerProvisioned` for `Provisioned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointType {
    Serverless,
    Provisioned,
}

impl EndpointType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Serverless => "Serverless",
            Self::Provisioned => "Provisioned",
        }
    }

    /// The `endpoint` block holding this type's concurrency and memory.
    pub fn sizes_block(self) -> &'static str {
        match self {
            Self::Serverless => "sagemakerServerless",
            Self::Provisioned => "sagemakerProvisioned",
        }
    }
}

impl fmt::Display for EndpointType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestSource {
    /// `S3ReaderTextManifestFile`: `fileContents` inline.
    Text { file_contents: String },
    /// `S3ReaderS3LinkManifestFile`: `manifestFileS3Uri`.
    S3Link {
        bucket: String,
        key: String,
        resource_location: ResourceLocation,
    },
}

/// Where a stream reader task starts when it has no checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStart {
    /// The oldest record still in the stream (`TRIM_HORIZON`).
    Earliest,
    /// Records added after the task starts.
    Latest,
    /// Records added at or after this time (milliseconds since the epoch; Kinesis only).
    AtTimestamp(i64),
}

/// When a stream reader task completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStop {
    /// Never on its own: it reads until stopped (`letsdata tasks stop` / `datasets stop`).
    Continuous,
    /// After this many consecutive polls that returned no records, or when its shard is
    /// closed and fully read.
    AfterEmptyPolls(u32),
}

/// `KinesisStreamReaderManifest` / `DynamoDBStreamReaderManifest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamManifest {
    pub start: StreamStart,
    pub stop: StreamStop,
}

/// When a table scan task completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableScanMode {
    /// After one full scan of its segment.
    SingleTableScan,
    /// Scans its segment again and again until stopped.
    Continuous,
}

/// `DynamoDBTableReaderManifest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableManifest {
    /// Parallel-scan segments = tasks (default: `computeEngine.concurrency`).
    pub segments: u32,
    pub mode: TableScanMode,
}

/// When a queue reader task completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueStop {
    /// After this many consecutive empty receives (`DrainQueues`).
    DrainQueues { empty_receives: u32 },
    /// Never on its own.
    Continuous,
}

/// The SQS reader's manifest (`SQSReaderManifest`, `manifestType` optional).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueManifest {
    pub stop: QueueStop,
    /// Tasks reading the queue: `computeEngine.concurrency`.
    pub tasks: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    /// S3 readers: one task per manifest line.
    Files {
        source: ManifestSource,
        reader_type: ReaderType,
    },
    Kinesis(StreamManifest),
    DynamoDbStreams(StreamManifest),
    DynamoDbTable(TableManifest),
    Sqs(QueueManifest),
    /// `KafkaReaderManifest`: one task per partition.
    Kafka(StreamManifest),
}

/// A validated dataset configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSpec {
    pub dataset_name: String,
    pub region: Region,
    pub access_grant_role_arn: Option<String>,
    pub customer_account_for_access: Option<String>,
    pub read_connector: ReadConnector,
    pub write_connector: WriteConnector,
    pub error_connector: ErrorConnector,
    pub compute_engine: ComputeEngine,
    pub manifest: Manifest,
    /// Fields accepted but ignored here (LetsData's Java and container image wiring next to
    /// Python or JavaScript code), each with why: printed as warnings at create.
    pub warnings: Vec<Problem>,
}

impl fmt::Display for ResourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ReaderType {
    pub const ALL: [ReaderType; 3] = [
        Self::SingleFileReader,
        Self::SingleFileStateMachineReader,
        Self::MultipleFileStateMachineReader,
    ];
}

/// Shows the display name (`Single File Reader`).
impl fmt::Display for ReaderType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

impl fmt::Display for BuiltinParser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Compression {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl LogLevel {
    pub const ALL: [LogLevel; 5] = [
        Self::Trace,
        Self::Debug,
        Self::Info,
        Self::Warn,
        Self::Error,
    ];
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The entries of an inline text manifest (`fileContents`): one per line, lines separated by
/// `\n` or `\r\n`, each trimmed, blank lines skipped.
pub fn text_manifest_entries(file_contents: &str) -> impl Iterator<Item = &str> {
    file_contents
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
}

/// The files of one manifest line, keyed by file type. A Multiple File State Machine Reader's
/// line is `TYPE1:key1|TYPE2:key2|…`; other readers' lines are one key, returned under
/// `single_file_type`.
pub fn manifest_line_files(
    reader_type: ReaderType,
    line: &str,
    single_file_type: &str,
) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut files = std::collections::BTreeMap::new();
    if reader_type != ReaderType::MultipleFileStateMachineReader {
        crate::location::validate_key(line).map_err(|e| e.to_string())?;
        files.insert(single_file_type.to_string(), line.to_string());
        return Ok(files);
    }
    for part in line.split('|') {
        let part = part.trim();
        let Some((file_type, key)) = part.split_once(':') else {
            return Err(format!(
                "{part:?} is not FILETYPE:key; a Multiple File State Machine Reader's manifest line lists its files as TYPE1:key1|TYPE2:key2"
            ));
        };
        let (file_type, key) = (file_type.trim(), key.trim());
        if file_type.is_empty() {
            return Err(format!("{part:?} has no file type before ':'"));
        }
        crate::location::validate_key(key).map_err(|e| format!("file type {file_type}: {e}"))?;
        if files
            .insert(file_type.to_string(), key.to_string())
            .is_some()
        {
            return Err(format!("file type {file_type} is listed twice"));
        }
    }
    Ok(files)
}

impl ManifestSource {
    /// The entries of a `Text` manifest (see [`text_manifest_entries`]); empty for `S3Link`.
    pub fn text_entries(&self) -> Vec<&str> {
        match self {
            Self::Text { file_contents } => text_manifest_entries(file_contents).collect(),
            Self::S3Link { .. } => Vec::new(),
        }
    }
}
