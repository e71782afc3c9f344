//! The Kinesis read source: one task per shard, resumed after its last sequence number.

use super::{KINESIS_STREAM, KinesisRecord, KinesisShardApi, stream_name};
use crate::aws::shard::{ShardPage, ShardSource, ShardStream, millis, shard_seeds};
use crate::aws::{Access, clients, describe, existence_problem};
use crate::source::{ReadSource, SourceRecord, TaskInput, TaskSeeds, seeds};
use crate::{ConnectorContext, ConnectorError};
use async_trait::async_trait;
use letsdata_model::record::RecordMeta;
use letsdata_model::spec::{StreamManifest, StreamReadConnector};
use letsdata_model::task::{ConnectorFields, TaskDefinition};
use letsdata_model::{ConnectorResource, Problem};
use std::sync::Arc;

/// Reads the shards of a Kinesis stream.
#[derive(Debug, Clone)]
pub struct KinesisSource {
    pub(super) read: StreamReadConnector,
    pub(super) manifest: StreamManifest,
    pub(super) region: &'static str,
    /// As whom the stream, queue or table is reached (its `resourceLocation`).
    pub(super) access: Access,
}

#[async_trait]
impl ReadSource for KinesisSource {
    fn resource(&self) -> ConnectorResource {
        ConnectorResource {
            resource_type: KINESIS_STREAM.to_string(),
            resource_location: self.read.resource_location.to_string(),
            name: stream_name(&self.read.stream_arn).to_string(),
            arn: self.read.stream_arn.clone(),
            url: String::new(),
        }
    }

    fn task_type(&self) -> &'static str {
        "KINESIS"
    }

    fn wasm_interface(&self) -> &'static str {
        "KinesisRecordReader"
    }

    async fn check(&self, ctx: &ConnectorContext) -> Vec<Problem> {
        let found = async {
            let aws = clients(ctx, self.region, &self.access).await?;
            aws.kinesis().exists(&self.read.stream_arn).await
        };
        let found = found.await;
        existence_problem(
            "readConnector.streamArn",
            &describe("Kinesis stream", &self.resource()),
            self.region,
            &self.read.stream_arn,
            found,
        )
        .into_iter()
        .collect()
    }

    async fn tasks(&self, ctx: &ConnectorContext) -> Result<TaskSeeds, ConnectorError> {
        let aws = clients(ctx, self.region, &self.access).await?;
        let shards = aws.kinesis().list_shards(&self.read.stream_arn).await?;
        if shards.is_empty() {
            return Err(ConnectorError::User(format!(
                "the {} has no shards to read",
                describe("Kinesis stream", &self.resource())
            )));
        }
        Ok(seeds(shard_seeds(
            "KINESISSTREAMREADER",
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
        let api = KinesisShardApi {
            kinesis: aws.kinesis(),
            stream_arn: Arc::from(self.read.stream_arn.as_str()),
        };
        let source = ShardSource::open(api, self.manifest, task, position, 10_000)?;
        Ok(TaskInput::Records(Box::new(source)))
    }
}

#[async_trait]
impl ShardStream for KinesisShardApi {
    fn record(&self, shard: &Arc<str>, r: KinesisRecord) -> SourceRecord {
        let decoded = crate::gzip::is_gzip(&r.data).then(|| {
            crate::gunzip(&r.data).map_err(|e| format!("cannot gunzip the Kinesis record: {e}"))
        });
        SourceRecord {
            id: format!("{shard}:{}", r.sequence_number),
            meta: RecordMeta::Kinesis {
                stream_arn: self.stream_arn.clone(),
                shard_id: shard.clone(),
                partition_key: r.partition_key,
                approximate_arrival_timestamp: millis(r.arrival_timestamp),
                sequence_number: r.sequence_number,
            },
            raw: r.data,
            decoded,
        }
    }

    async fn children(&self, shard: &str) -> Result<Vec<String>, ConnectorError> {
        Ok(self
            .kinesis
            .list_shards(&self.stream_arn)
            .await?
            .into_iter()
            .filter(|s| s.parent_ids().any(|p| p == shard))
            .map(|s| s.shard_id)
            .collect())
    }

    fn caught_up(page: &ShardPage<KinesisRecord>) -> bool {
        page.millis_behind_latest == Some(0)
    }
}
