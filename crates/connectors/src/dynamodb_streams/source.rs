//! The DynamoDB Streams read source: one task per shard of a table's stream, resumed after its
//! last sequence number. Each record is the change as a JSON document for built-in parsers.

use super::{DYNAMODB_STREAM, DynamoDbStreamRecord, StreamsShardApi, stream_table};
use crate::aws::shard::{ShardPage, ShardSource, ShardStream, millis, shard_seeds};
use crate::aws::{Access, clients, describe, existence_problem};
use crate::source::{ReadSource, SourceRecord, TaskInput, TaskSeeds, seeds};
use crate::{ConnectorContext, ConnectorError};
use async_trait::async_trait;
use bytes::Bytes;
use letsdata_model::record::RecordMeta;
use letsdata_model::spec::{StreamManifest, StreamReadConnector};
use letsdata_model::task::{ConnectorFields, TaskDefinition};
use letsdata_model::{ConnectorResource, Problem};
use std::sync::Arc;

/// Reads the shards of a DynamoDB table's stream.
#[derive(Debug, Clone)]
pub struct DynamoDbStreamsSource {
    pub(super) read: StreamReadConnector,
    pub(super) manifest: StreamManifest,
    pub(super) region: &'static str,
    /// As whom the stream, queue or table is reached (its `resourceLocation`).
    pub(super) access: Access,
}

#[async_trait]
impl ReadSource for DynamoDbStreamsSource {
    fn resource(&self) -> ConnectorResource {
        ConnectorResource {
            resource_type: DYNAMODB_STREAM.to_string(),
            resource_location: self.read.resource_location.to_string(),
            name: stream_table(&self.read.stream_arn).to_string(),
            arn: self.read.stream_arn.clone(),
            url: String::new(),
        }
    }

    fn task_type(&self) -> &'static str {
        "DYNAMODB_STREAMS"
    }

    fn wasm_interface(&self) -> &'static str {
        "DynamoDBStreamsRecordReader"
    }

    async fn check(&self, ctx: &ConnectorContext) -> Vec<Problem> {
        let found = async {
            let aws = clients(ctx, self.region, &self.access).await?;
            let stream = aws.dynamodb_streams();
            Ok(stream
                .describe_stream(&self.read.stream_arn)
                .await?
                .is_some())
        };
        let found = found.await;
        existence_problem(
            "readConnector.streamArn",
            &describe("DynamoDB stream of table", &self.resource()),
            self.region,
            &self.read.stream_arn,
            found,
        )
        .into_iter()
        .collect()
    }

    async fn tasks(&self, ctx: &ConnectorContext) -> Result<TaskSeeds, ConnectorError> {
        let aws = clients(ctx, self.region, &self.access).await?;
        let shards = aws
            .dynamodb_streams()
            .list_shards(&self.read.stream_arn)
            .await?;
        if shards.is_empty() {
            return Err(ConnectorError::User(format!(
                "the {} has no shards to read",
                describe("DynamoDB stream of table", &self.resource())
            )));
        }
        Ok(seeds(shard_seeds(
            "DYNAMODBSTREAMSREADER",
            &self.read.stream_arn,
            shards.into_iter().map(|s| s.shard_id),
        )))
    }

    async fn open(
        &self,
        ctx: &ConnectorContext,
        task: &TaskDefinition,
        position: &ConnectorFields,
    ) -> Result<TaskInput, ConnectorError> {
        let aws = clients(ctx, self.region, &self.access).await?;
        let api = StreamsShardApi {
            streams: aws.dynamodb_streams(),
            stream_arn: Arc::from(self.read.stream_arn.as_str()),
        };
        let source = ShardSource::open(api, self.manifest, task, position, 1000)?;
        Ok(TaskInput::Records(Box::new(source)))
    }
}

/// A change record as the JSON document built-in parsers see.
fn record_json(r: &DynamoDbStreamRecord) -> String {
    let mut v = serde_json::json!({
        "eventID": r.event_id,
        "eventName": r.event_name.as_str(),
        "sequenceNumber": r.sequence_number,
        "sizeBytes": r.size_bytes,
        "keys": r.keys,
    });
    if let Some(t) = r.approximate_creation_time {
        v["approximateCreationDateTime"] = millis(Some(t)).into();
    }
    if let Some(vt) = &r.stream_view_type {
        v["streamViewType"] = vt.clone().into();
    }
    if let Some(i) = &r.old_image {
        v["oldImage"] = serde_json::Value::Object(i.clone());
    }
    if let Some(i) = &r.new_image {
        v["newImage"] = serde_json::Value::Object(i.clone());
    }
    v.to_string()
}

fn json(object: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::to_string(object).unwrap_or_default()
}

#[async_trait]
impl ShardStream for StreamsShardApi {
    fn record(&self, shard: &Arc<str>, r: DynamoDbStreamRecord) -> SourceRecord {
        let raw = Bytes::from(record_json(&r));
        SourceRecord {
            id: r.event_id.clone(),
            raw,
            decoded: None,
            meta: RecordMeta::DynamoDbStreams {
                stream_arn: self.stream_arn.clone(),
                shard_id: shard.clone(),
                event_name: r.event_name.as_str(),
                identity_principal_id: None,
                identity_type: None,
                size_bytes: u64::try_from(r.size_bytes).unwrap_or(0),
                stream_view_type: r.stream_view_type.clone().unwrap_or_default(),
                approximate_creation_date_time: millis(r.approximate_creation_time),
                keys: json(&r.keys),
                old_image: r.old_image.as_ref().map(json),
                new_image: r.new_image.as_ref().map(json),
                sequence_number: r.sequence_number,
                event_id: r.event_id,
            },
        }
    }

    async fn children(&self, shard: &str) -> Result<Vec<String>, ConnectorError> {
        Ok(self
            .streams
            .list_shards(&self.stream_arn)
            .await?
            .into_iter()
            .filter(|s| s.parent_shard_id.as_deref() == Some(shard))
            .map(|s| s.shard_id)
            .collect())
    }

    fn caught_up(_page: &ShardPage<DynamoDbStreamRecord>) -> bool {
        false
    }
}
