//! The Kinesis sink: documents as gzip-compressed records, partitioned by document id.

use super::{KINESIS_STREAM, KinesisPutRecord, KinesisWriter, stream_name};
use crate::aws::{
    ACTIVE_TIMEOUT, Access, ShardStart, clients, describe, existence_problem,
    missing_customer_resource,
};
use crate::owner::{OWNER_TAG, Owner, left_in_place};
use crate::sink::{Deliver, Delivering, DocumentSink, Rejected, SinkTask, SinkWriter};
use crate::{ConnectorContext, ConnectorError};
use async_trait::async_trait;
use bytes::Bytes;
use letsdata_model::spec::{KinesisWriteConnector, ResourceLocation};
use letsdata_model::{ConnectorResource, Problem};
use std::borrow::Cow;

/// Writes a Kinesis stream.
#[derive(Debug, Clone)]
pub struct KinesisSink {
    pub(super) write: KinesisWriteConnector,
    pub(super) region: &'static str,
    /// As whom the stream, queue or table is reached (its `resourceLocation`).
    pub(super) access: Access,
}

/// The stream's ARN when known, else its name.
fn id(resource: &ConnectorResource) -> &str {
    if resource.arn.is_empty() {
        &resource.name
    } else {
        &resource.arn
    }
}

fn described(resource: &ConnectorResource) -> String {
    describe("Kinesis stream", resource)
}

#[async_trait]
impl DocumentSink for KinesisSink {
    fn plan(&self, generated: &dyn Fn(&str) -> String) -> ConnectorResource {
        let given = self
            .write
            .stream
            .clone()
            .unwrap_or_else(|| generated("output"));
        let (name, arn) = if given.starts_with("arn:") {
            (stream_name(&given).to_string(), given)
        } else {
            (given, String::new())
        };
        ConnectorResource {
            resource_type: KINESIS_STREAM.to_string(),
            resource_location: self.write.resource_location.to_string(),
            name,
            arn,
            url: String::new(),
        }
    }

    async fn check(&self, ctx: &ConnectorContext, resource: &ConnectorResource) -> Vec<Problem> {
        if self.write.resource_location != ResourceLocation::Customer {
            return Vec::new();
        }
        let field = if resource.arn.is_empty() {
            "writeConnector.streamName"
        } else {
            "writeConnector.streamArn"
        };
        let found = async {
            clients(ctx, self.region, &self.access)
                .await?
                .kinesis()
                .exists(id(resource))
                .await
        }
        .await;
        existence_problem(
            field,
            &described(resource),
            self.region,
            &resource.arn,
            found,
        )
        .into_iter()
        .collect()
    }

    fn provision_step(&self, _resource: &ConnectorResource) -> Option<&'static str> {
        Some(match self.write.resource_location {
            ResourceLocation::LetsData => "Write Connector - Create Kinesis Stream",
            ResourceLocation::Customer => "Write Connector - Check Customer Kinesis Stream",
        })
    }

    async fn provision(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        owner: Owner<'_>,
    ) -> Result<ConnectorResource, ConnectorError> {
        let kinesis = clients(ctx, self.region, &self.access).await?.kinesis();
        let exists = kinesis.exists(id(resource)).await?;
        let tags = [(OWNER_TAG, owner.tag())];
        let letsdata = self.write.resource_location == ResourceLocation::LetsData;
        if letsdata {
            let shards = i32::try_from(self.write.shard_count).unwrap_or(1);
            if exists || !kinesis.create_stream(&resource.name, shards, &tags).await? {
                // A stream's content cannot be told cheaply: only a tagged one is used.
                let claim = owner.claim(kinesis.tags(&resource.name).await?);
                owner.adopt(&described(resource), &claim, false)?;
            }
        } else if !exists {
            return Err(missing_customer_resource(&described(resource)));
        }
        let info = kinesis.wait_active(id(resource), ACTIVE_TIMEOUT).await?;
        if letsdata {
            // Tagged at creation already where the service honours it; again for those that
            // do not (an emulator), once the stream is active.
            kinesis.add_tags(&resource.name, &tags).await?;
        }
        let mut ready = resource.clone();
        ready.arn = info.arn;
        Ok(ready)
    }

    fn delete_step(&self, resource: &ConnectorResource) -> Option<&'static str> {
        resource
            .is_letsdata()
            .then_some("Write Connector - Delete Kinesis Stream")
    }

    async fn delete(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        owner: Owner<'_>,
    ) -> Result<String, ConnectorError> {
        let kinesis = clients(ctx, self.region, &self.access).await?.kinesis();
        if kinesis.exists(&resource.name).await? {
            let claim = owner.claim(kinesis.tags(&resource.name).await?);
            if let Some(why) = owner.refuse_delete(&claim, false) {
                return Ok(left_in_place(&described(resource), &why));
            }
            kinesis.delete_stream(&resource.name).await?;
        }
        Ok(format!("{} deleted", described(resource)))
    }

    async fn open(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        _task: &SinkTask<'_>,
    ) -> Result<Box<dyn SinkWriter>, ConnectorError> {
        let kinesis = clients(ctx, self.region, &self.access).await?.kinesis();
        Ok(Delivering::boxed(kinesis.writer(id(resource))))
    }

    async fn read_back(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        _dataset_name: &str,
        limit: usize,
    ) -> Result<Vec<Bytes>, ConnectorError> {
        let kinesis = clients(ctx, self.region, &self.access).await?.kinesis();
        let mut docs = Vec::new();
        let arn = match kinesis.describe_stream(&resource.name).await? {
            Some(info) => info.arn,
            None => return Ok(docs),
        };
        for shard in kinesis.list_shards(&arn).await? {
            let mut reader = kinesis
                .shard_reader(&arn, &shard.shard_id, ShardStart::Earliest)
                .with_limit(1000);
            // Read until the shard is closed or caught up (an empty batch at the tip).
            loop {
                let batch = reader.poll().await?;
                for record in &batch.records {
                    if docs.len() >= limit {
                        return Ok(docs);
                    }
                    docs.push(crate::gunzip(&record.data).unwrap_or_else(|_| record.data.clone()));
                }
                if batch.shard_closed
                    || (batch.records.is_empty() && batch.millis_behind_latest.unwrap_or(0) == 0)
                {
                    break;
                }
            }
        }
        Ok(docs)
    }
}

#[async_trait]
impl Deliver for KinesisWriter {
    fn describe(&self) -> String {
        format!("Kinesis stream {}", self.stream_arn())
    }

    async fn deliver(
        &self,
        documents: &[&[u8]],
        ids: &[Cow<'_, str>],
    ) -> Result<Vec<Rejected>, ConnectorError> {
        let records: Vec<KinesisPutRecord> = documents
            .iter()
            .zip(ids)
            .map(|(doc, id)| KinesisPutRecord {
                partition_key: id.to_string(),
                data: Bytes::copy_from_slice(doc),
            })
            .collect();
        Ok(self.put_records(&records).await?.rejected)
    }
}
