//! The SQS sink: each document a message (batches of 10, at most 256 KiB), the document id in
//! the `messageIdAttributeName` attribute.

use super::{ReceiveOptions, SQS_QUEUE, SqsOutgoingMessage, SqsSender, VisibilityChange};
use crate::aws::{Access, clients, describe, existence_problem, missing_customer_resource};
use crate::owner::{OWNER_TAG, Owner, left_in_place};
use crate::sink::{Deliver, Delivering, DocumentSink, Rejected, SinkTask, SinkWriter};
use crate::{ConnectorContext, ConnectorError};
use async_trait::async_trait;
use bytes::Bytes;
use letsdata_model::spec::{ResourceLocation, SqsWriteConnector};
use letsdata_model::{ConnectorResource, Problem};
use std::borrow::Cow;
use std::collections::HashSet;
use std::time::Duration;

/// Writes an SQS queue.
#[derive(Debug, Clone)]
pub struct SqsSink {
    pub(super) write: SqsWriteConnector,
    pub(super) region: &'static str,
    /// As whom the stream, queue or table is reached (its `resourceLocation`).
    pub(super) access: Access,
}

fn described(resource: &ConnectorResource) -> String {
    describe("SQS queue", resource)
}

#[async_trait]
impl DocumentSink for SqsSink {
    fn plan(&self, generated: &dyn Fn(&str) -> String) -> ConnectorResource {
        ConnectorResource {
            resource_type: SQS_QUEUE.to_string(),
            resource_location: self.write.resource_location.to_string(),
            name: self
                .write
                .queue_name
                .clone()
                .unwrap_or_else(|| generated("output")),
            ..Default::default()
        }
    }

    async fn check(&self, ctx: &ConnectorContext, resource: &ConnectorResource) -> Vec<Problem> {
        if self.write.resource_location != ResourceLocation::Customer {
            return Vec::new();
        }
        let found = async {
            clients(ctx, self.region, &self.access)
                .await?
                .sqs()
                .exists(&resource.name)
                .await
        }
        .await;
        existence_problem(
            "writeConnector.queueName",
            &described(resource),
            self.region,
            "",
            found,
        )
        .into_iter()
        .collect()
    }

    fn provision_step(&self, _resource: &ConnectorResource) -> Option<&'static str> {
        Some(match self.write.resource_location {
            ResourceLocation::LetsData => "Write Connector - Create SQS Queue",
            ResourceLocation::Customer => "Write Connector - Check Customer SQS Queue",
        })
    }

    async fn provision(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        owner: Owner<'_>,
    ) -> Result<ConnectorResource, ConnectorError> {
        let sqs = clients(ctx, self.region, &self.access).await?.sqs();
        let tags = [(OWNER_TAG, owner.tag())];
        let letsdata = self.write.resource_location == ResourceLocation::LetsData;
        let url = match sqs.find_queue_url(&resource.name).await? {
            Some(url) if letsdata => {
                let claim = owner.claim(sqs.tags(&url).await?);
                let empty = sqs.message_counts(&url).await?.total() == 0;
                owner.adopt(&described(resource), &claim, empty)?;
                sqs.tag(&url, &tags).await?;
                url
            }
            Some(url) => url,
            None if letsdata => sqs.create_queue(&resource.name, &tags).await?,
            None => return Err(missing_customer_resource(&described(resource))),
        };
        let mut ready = resource.clone();
        ready.arn = sqs.queue_arn(&url).await?;
        ready.url = url;
        Ok(ready)
    }

    fn delete_step(&self, resource: &ConnectorResource) -> Option<&'static str> {
        resource
            .is_letsdata()
            .then_some("Write Connector - Delete SQS Queue")
    }

    async fn delete(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        owner: Owner<'_>,
    ) -> Result<String, ConnectorError> {
        let sqs = clients(ctx, self.region, &self.access).await?.sqs();
        if let Some(url) = sqs.find_queue_url(&resource.name).await? {
            let claim = owner.claim(sqs.tags(&url).await?);
            let empty = sqs.message_counts(&url).await?.total() == 0;
            if let Some(why) = owner.refuse_delete(&claim, empty) {
                return Ok(left_in_place(&described(resource), &why));
            }
            sqs.delete_queue(&url).await?;
        }
        Ok(format!("{} deleted", described(resource)))
    }

    async fn open(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        _task: &SinkTask<'_>,
    ) -> Result<Box<dyn SinkWriter>, ConnectorError> {
        let sqs = clients(ctx, self.region, &self.access).await?.sqs();
        let url = if resource.url.is_empty() {
            sqs.queue_url(&resource.name).await?
        } else {
            resource.url.clone()
        };
        let sender = sqs.sender(&url, self.write.message_id_attribute_name.as_deref());
        Ok(Delivering::boxed(sender))
    }

    /// Peeks: receiving hides what was received, so later receives bring the next messages;
    /// then everything received is made visible again at once, for the real consumers.
    async fn read_back(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        _dataset_name: &str,
        limit: usize,
    ) -> Result<Vec<Bytes>, ConnectorError> {
        let sqs = clients(ctx, self.region, &self.access).await?.sqs();
        let mut docs = Vec::new();
        let Some(url) = sqs.find_queue_url(&resource.name).await? else {
            return Ok(docs);
        };
        let options = ReceiveOptions {
            max_messages: 10,
            wait_time: Duration::from_secs(1),
            visibility_timeout: Some(Duration::from_secs(60)),
        };
        let mut seen = HashSet::new();
        let mut handles = Vec::new();
        let mut empty = 0;
        while empty < 2 && docs.len() < limit {
            let messages = sqs.receive(&url, &options).await?;
            empty = if messages.is_empty() { empty + 1 } else { 0 };
            let mut new = false;
            for m in messages {
                handles.push(VisibilityChange {
                    receipt_handle: m.receipt_handle,
                    timeout: Duration::ZERO,
                });
                if seen.insert(m.message_id) {
                    new = true;
                    if docs.len() < limit {
                        docs.push(Bytes::from(m.body));
                    }
                }
            }
            if !new && empty == 0 {
                // Only messages read already: their visibility ran out while this read went
                // on (a long queue), so the queue has been gone through.
                break;
            }
        }
        sqs.change_visibility_batch(&url, &handles).await?;
        Ok(docs)
    }
}

#[async_trait]
impl Deliver for SqsSender {
    fn describe(&self) -> String {
        format!("SQS queue {}", self.queue_url())
    }

    async fn deliver(
        &self,
        documents: &[&[u8]],
        ids: &[Cow<'_, str>],
    ) -> Result<Vec<Rejected>, ConnectorError> {
        let messages: Vec<SqsOutgoingMessage> = documents
            .iter()
            .zip(ids)
            .map(|(doc, id)| SqsOutgoingMessage {
                body: String::from_utf8_lossy(doc).into_owned(),
                document_id: Some(id.to_string()),
                ..Default::default()
            })
            .collect();
        Ok(self.send_batch(&messages).await?.rejected)
    }
}
