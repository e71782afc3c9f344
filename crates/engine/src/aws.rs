//! The AWS stream, queue and table connectors in the dataset workflows: the resources a
//! dataset reads and writes (checked at create time, created by initialization when letsdata
//! owns them, deleted with the dataset), and the tasks of the stream, queue and table readers
//! (one per Kinesis or DynamoDB Streams shard, one per scan segment, `concurrency` for a queue).
//!
//! Clients use the dataset's `region`, `LETSDATA_AWS_ENDPOINT` when set (any AWS-compatible
//! endpoint) and the normal AWS credential chain.

use crate::{Engine, EngineError};
use letsdata_connectors::ConnectorError;
use letsdata_connectors::FailureKind;
use letsdata_connectors::aws::dynamodb::{KeyAttribute, TableKeySchema, TableSpec};
use letsdata_connectors::aws::{AwsClients, AwsSettings};
use letsdata_model::Problem;
use letsdata_model::dataset::AwsResource;
use letsdata_model::spec::{Manifest, ReadConnector, ResourceLocation, WriteConnector};
use letsdata_model::task::TaskDefinition;
use letsdata_model::{Dataset, DatasetSpec};
use letsdata_store::NewTask;
use std::time::Duration;

pub(crate) const KINESIS_STREAM: &str = "KinesisStream";
pub(crate) const DYNAMODB_STREAM: &str = "DynamoDBStream";
pub(crate) const SQS_QUEUE: &str = "SQSQueue";
pub(crate) const DYNAMODB_TABLE: &str = "DynamoDBTable";

/// How long initialization waits for a stream or table it created to become active.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);

impl Engine {
    /// AWS clients for `region` (one set per region, made on first use).
    pub(crate) async fn aws(&self, region: &str) -> AwsClients {
        let mut cache = self.aws.lock().await;
        if let Some(c) = cache.get(region) {
            return c.clone();
        }
        let mut settings = AwsSettings::from_env();
        settings.region = Some(region.to_string());
        let clients = AwsClients::connect(&settings).await;
        cache.insert(region.to_string(), clients.clone());
        clients
    }
}

/// The stream's name in a Kinesis stream ARN (`arn:…:stream/<name>`), or the input itself.
fn kinesis_name(name_or_arn: &str) -> &str {
    name_or_arn
        .rsplit_once(":stream/")
        .map_or(name_or_arn, |(_, name)| name)
}

/// The table of a DynamoDB stream ARN (`arn:…:table/<table>/stream/<label>`).
fn stream_table(arn: &str) -> &str {
    arn.split_once(":table/")
        .and_then(|(_, rest)| rest.split_once("/stream/"))
        .map_or(arn, |(table, _)| table)
}

/// The stream, queue or table a read connector reads (`None` for S3).
pub(crate) fn read_resource(spec: &DatasetSpec) -> Option<AwsResource> {
    let (resource_type, location, name, arn) = match &spec.read_connector {
        ReadConnector::S3(_) => return None,
        ReadConnector::Kinesis(r) => (
            KINESIS_STREAM,
            r.resource_location,
            kinesis_name(&r.stream_arn).to_string(),
            r.stream_arn.clone(),
        ),
        ReadConnector::DynamoDbStreams(r) => (
            DYNAMODB_STREAM,
            r.resource_location,
            stream_table(&r.stream_arn).to_string(),
            r.stream_arn.clone(),
        ),
        ReadConnector::Sqs(r) => (
            SQS_QUEUE,
            r.resource_location,
            r.queue_name.clone(),
            String::new(),
        ),
        ReadConnector::DynamoDb(r) => (
            DYNAMODB_TABLE,
            r.resource_location,
            r.table_name.clone(),
            String::new(),
        ),
    };
    Some(AwsResource {
        resource_type: resource_type.to_string(),
        resource_location: location.to_string(),
        name,
        arn,
        url: String::new(),
    })
}

/// The stream, queue or table a write connector writes (`None` for S3); `generated` names
/// the resources letsdata creates when the configuration names none.
pub(crate) fn write_resource(
    spec: &DatasetSpec,
    generated: impl Fn(&str) -> String,
) -> Option<AwsResource> {
    let (resource_type, location, name) = match &spec.write_connector {
        WriteConnector::S3(_) => return None,
        WriteConnector::Kinesis(w) => (KINESIS_STREAM, w.resource_location, w.stream.clone()),
        WriteConnector::Sqs(w) => (SQS_QUEUE, w.resource_location, w.queue_name.clone()),
        WriteConnector::DynamoDb(w) => (DYNAMODB_TABLE, w.resource_location, w.table_name.clone()),
    };
    let name = name.unwrap_or_else(|| generated("output"));
    let (name, arn) = if name.starts_with("arn:") {
        (kinesis_name(&name).to_string(), name)
    } else {
        (name, String::new())
    };
    Some(AwsResource {
        resource_type: resource_type.to_string(),
        resource_location: location.to_string(),
        name,
        arn,
        url: String::new(),
    })
}

/// What a resource is called in messages: `Kinesis stream "clicks"`.
pub(crate) fn describe(r: &AwsResource) -> String {
    let what = match r.resource_type.as_str() {
        KINESIS_STREAM => "Kinesis stream",
        DYNAMODB_STREAM => "DynamoDB stream of table",
        SQS_QUEUE => "SQS queue",
        _ => "DynamoDB table",
    };
    format!("{what} {:?}", r.name)
}

/// Checks (with IO, at create time) that the stream, queue or table read exists, and the
/// destination written when it is the customer's. Problems name the field to fix.
pub(crate) async fn check_resources(
    engine: &Engine,
    spec: &DatasetSpec,
    dataset_write: Option<&AwsResource>,
    problems: &mut Vec<Problem>,
) {
    let region = spec.region.as_str();
    if let Some(read) = read_resource(spec) {
        let field = match &spec.read_connector {
            ReadConnector::Kinesis(_) | ReadConnector::DynamoDbStreams(_) => "streamArn",
            ReadConnector::Sqs(_) => "queueName",
            _ => "tableName",
        };
        if let Err(missing) = exists(engine, region, &read).await {
            problems.push(Problem {
                path: format!("readConnector.{field}"),
                message: missing.message,
            });
        }
    }
    if let Some(write) = dataset_write
        && write.resource_location == ResourceLocation::Customer.as_str()
    {
        let field = match &spec.write_connector {
            WriteConnector::Kinesis(_) if !write.arn.is_empty() => "streamArn",
            WriteConnector::Kinesis(_) => "streamName",
            WriteConnector::Sqs(_) => "queueName",
            _ => "tableName",
        };
        if let Err(missing) = exists(engine, region, write).await {
            problems.push(Problem {
                path: format!("writeConnector.{field}"),
                message: missing.message,
            });
        }
    }
}

/// Why a stream, queue or table could not be confirmed to exist.
#[derive(Debug)]
pub(crate) struct Missing {
    /// What is wrong and what to do.
    pub message: String,
    /// The check itself failed for a reason a retry can fix (timeout, throttling, 5xx).
    pub retryable: bool,
}

/// `Ok` when the resource exists; otherwise what is wrong and what to do.
pub(crate) async fn exists(engine: &Engine, region: &str, r: &AwsResource) -> Result<(), Missing> {
    let aws = engine.aws(region).await;
    let id = if r.arn.is_empty() { &r.name } else { &r.arn };
    let found = match r.resource_type.as_str() {
        KINESIS_STREAM => aws.kinesis().exists(id).await,
        DYNAMODB_STREAM => aws
            .dynamodb_streams()
            .describe_stream(&r.arn)
            .await
            .map(|s| s.is_some()),
        SQS_QUEUE => aws.sqs().exists(&r.name).await,
        _ => aws.dynamodb().exists(&r.name).await,
    };
    match found {
        Ok(true) => Ok(()),
        Ok(false) => Err(Missing {
            message: format!(
                "the {} does not exist in region {region}{}; create it first, or fix the name",
                describe(r),
                if r.arn.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", r.arn)
                }
            ),
            retryable: false,
        }),
        Err(e) => Err(Missing {
            retryable: e.kind() == FailureKind::Transient,
            message: format!("cannot check the {}: {e}", describe(r)),
        }),
    }
}

/// The initialization step for the write destination, if it is a stream, queue or table.
pub(crate) fn write_step(spec: &DatasetSpec) -> Option<&'static str> {
    let letsdata = spec.write_connector.resource_location() == ResourceLocation::LetsData;
    Some(match (&spec.write_connector, letsdata) {
        (WriteConnector::S3(_), _) => return None,
        (WriteConnector::Kinesis(_), true) => "Write Connector - Create Kinesis Stream",
        (WriteConnector::Sqs(_), true) => "Write Connector - Create SQS Queue",
        (WriteConnector::DynamoDb(_), true) => "Write Connector - Create Dynamo DB Table",
        (WriteConnector::Kinesis(_), false) => "Write Connector - Check Customer Kinesis Stream",
        (WriteConnector::Sqs(_), false) => "Write Connector - Check Customer SQS Queue",
        (WriteConnector::DynamoDb(_), false) => "Write Connector - Check Customer Dynamo DB Table",
    })
}

/// The step that deletes a write destination letsdata created.
pub(crate) fn delete_step(dataset: &Dataset) -> Option<&'static str> {
    let w = dataset.resources.write_resource.as_ref()?;
    if w.resource_location != ResourceLocation::LetsData.as_str() {
        return None;
    }
    Some(match w.resource_type.as_str() {
        KINESIS_STREAM => "Write Connector - Delete Kinesis Stream",
        SQS_QUEUE => "Write Connector - Delete SQS Queue",
        _ => "Write Connector - Delete Dynamo DB Table",
    })
}

/// Initialization: creates the stream, queue or table letsdata owns (idempotent; waits until
/// it is active), or checks that the customer's exists; returns it with its ARN (and URL).
pub(crate) async fn prepare_write_resource(
    engine: &Engine,
    spec: &DatasetSpec,
    resource: &AwsResource,
) -> Result<AwsResource, ConnectorError> {
    let aws = engine.aws(spec.region.as_str()).await;
    let create = resource.resource_location == ResourceLocation::LetsData.as_str();
    let mut r = resource.clone();
    let missing = |r: &AwsResource| ConnectorError::Aws {
        what: format!("the {} does not exist", describe(r)),
        code: Some("ResourceNotFoundException".into()),
        message:
            "create it, or fix the writeConnector (resourceLocation Customer resources must exist)"
                .into(),
        kind: FailureKind::User,
    };
    match &spec.write_connector {
        WriteConnector::Kinesis(w) => {
            let kinesis = aws.kinesis();
            let id = if r.arn.is_empty() {
                r.name.clone()
            } else {
                r.arn.clone()
            };
            if create && !kinesis.exists(&id).await? {
                kinesis
                    .create_stream(&r.name, i32::try_from(w.shard_count).unwrap_or(1))
                    .await?;
            }
            if !create && !kinesis.exists(&id).await? {
                return Err(missing(&r));
            }
            let info = kinesis.wait_active(&id, ACTIVE_TIMEOUT).await?;
            r.arn = info.arn;
        }
        WriteConnector::Sqs(_) => {
            let sqs = aws.sqs();
            let url = match sqs.find_queue_url(&r.name).await? {
                Some(url) => url,
                None if create => sqs.create_queue(&r.name).await?,
                None => return Err(missing(&r)),
            };
            r.arn = sqs.queue_arn(&url).await?;
            r.url = url;
        }
        WriteConnector::DynamoDb(w) => {
            let ddb = aws.dynamodb();
            if !ddb.exists(&r.name).await? {
                if !create {
                    return Err(missing(&r));
                }
                let table = TableSpec {
                    name: r.name.clone(),
                    key_schema: TableKeySchema {
                        hash_key: KeyAttribute::string(&w.partition_key_name),
                        range_key: None,
                    },
                    stream_enabled: false,
                };
                ddb.create_table(&table).await?;
            }
            let info = ddb.wait_active(&r.name, ACTIVE_TIMEOUT).await?;
            r.arn = info.arn;
        }
        WriteConnector::S3(_) => {}
    }
    Ok(r)
}

/// Deletes the stream, queue or table letsdata created for the dataset (gone already is fine).
pub(crate) async fn delete_write_resource(
    engine: &Engine,
    dataset: &Dataset,
) -> Result<String, EngineError> {
    let Some(r) = &dataset.resources.write_resource else {
        return Ok("no write resource".into());
    };
    let region = dataset
        .config
        .get("region")
        .and_then(|v| v.as_str())
        .unwrap_or("us-east-1");
    let aws = engine.aws(region).await;
    match r.resource_type.as_str() {
        KINESIS_STREAM => {
            let kinesis = aws.kinesis();
            if kinesis.exists(&r.name).await? {
                kinesis.delete_stream(&r.name).await?;
            }
        }
        SQS_QUEUE => {
            let sqs = aws.sqs();
            if let Some(url) = sqs.find_queue_url(&r.name).await? {
                sqs.delete_queue(&url).await?;
            }
        }
        _ => aws.dynamodb().delete_table(&r.name).await?,
    }
    Ok(format!("{} deleted", describe(r)))
}

/// The tasks of a stream, queue or table read connector: one per shard (Kinesis, DynamoDB
/// Streams; closed parents and their children alike), one per scan segment (DynamoDB table),
/// `concurrency` for a queue. Task ids are derived from the dataset id and what they read, so
/// creating them again inserts nothing twice.
pub(crate) async fn source_tasks(
    engine: &Engine,
    dataset: &Dataset,
    spec: &DatasetSpec,
) -> Result<Vec<NewTask>, ConnectorError> {
    let aws = engine.aws(spec.region.as_str()).await;
    let task_type = spec.read_connector.task_type();
    let mut definitions: Vec<TaskDefinition> = Vec::new();
    match (&spec.read_connector, &spec.manifest) {
        (ReadConnector::Kinesis(r), _) => {
            for shard in aws.kinesis().list_shards(&r.stream_arn).await? {
                definitions.push(TaskDefinition {
                    reader_type: "KINESISSTREAMREADER".into(),
                    manifest_line: shard.shard_id.clone(),
                    source: Some(r.stream_arn.clone()),
                    shard_id: Some(shard.shard_id),
                    ..Default::default()
                });
            }
        }
        (ReadConnector::DynamoDbStreams(r), _) => {
            for shard in aws.dynamodb_streams().list_shards(&r.stream_arn).await? {
                definitions.push(TaskDefinition {
                    reader_type: "DYNAMODBSTREAMSREADER".into(),
                    manifest_line: shard.shard_id.clone(),
                    source: Some(r.stream_arn.clone()),
                    shard_id: Some(shard.shard_id),
                    ..Default::default()
                });
            }
        }
        (ReadConnector::DynamoDb(r), Manifest::DynamoDbTable(m)) => {
            for segment in 0..m.segments {
                definitions.push(TaskDefinition {
                    reader_type: "DYNAMODBTABLEREADER".into(),
                    manifest_line: format!("segment {segment} of {}", m.segments),
                    source: Some(r.table_name.clone()),
                    segment: Some(segment),
                    total_segments: Some(m.segments),
                    ..Default::default()
                });
            }
        }
        (ReadConnector::Sqs(r), Manifest::Sqs(m)) => {
            for i in 0..m.tasks {
                definitions.push(TaskDefinition {
                    reader_type: "SQSQUEUEREADER".into(),
                    manifest_line: format!("queue reader {i} of {}", m.tasks),
                    source: Some(r.queue_name.clone()),
                    ..Default::default()
                });
            }
        }
        _ => {}
    }
    Ok(definitions
        .into_iter()
        .enumerate()
        .map(|(i, mut definition)| {
            definition.manifest_index = i as u64;
            // Shard tasks are identified by their shard alone, so that the tasks a closed
            // shard adds for its children are the same as those listed here.
            let index = if definition.shard_id.is_some() {
                0
            } else {
                i as u64
            };
            NewTask {
                task_id: crate::manifest::task_id_for(
                    &dataset.dataset_id,
                    index,
                    &definition.manifest_line,
                ),
                ordinal: i as u64,
                task_type: task_type.to_string(),
                definition,
            }
        })
        .collect())
}
