//! The DynamoDB sink: documents become items as they are (`BatchWriteItem`). In a table
//! letsdata creates, a document without the partition key gets the document id under it.

use super::{DYNAMODB_TABLE, DynamoDbWriter, KeyAttribute, ScanRequest, TableKeySchema, TableSpec};
use crate::aws::{
    ACTIVE_TIMEOUT, Access, clients, describe, existence_problem, missing_customer_resource,
};
use crate::owner::{OWNER_TAG, Owner, left_in_place};
use crate::sink::{Deliver, Delivering, DocumentSink, Rejected, SinkTask, SinkWriter};
use crate::{ConnectorContext, ConnectorError};
use async_trait::async_trait;
use bytes::Bytes;
use letsdata_model::spec::{DynamoDbWriteConnector, ResourceLocation};
use letsdata_model::{ConnectorResource, Problem};
use serde_json::Value;
use std::borrow::Cow;

/// Writes a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoDbSink {
    pub(super) write: DynamoDbWriteConnector,
    pub(super) region: &'static str,
    /// As whom the stream, queue or table is reached (its `resourceLocation`).
    pub(super) access: Access,
}

fn described(resource: &ConnectorResource) -> String {
    describe("DynamoDB table", resource)
}

#[async_trait]
impl DocumentSink for DynamoDbSink {
    fn plan(&self, generated: &dyn Fn(&str) -> String) -> ConnectorResource {
        ConnectorResource {
            resource_type: DYNAMODB_TABLE.to_string(),
            resource_location: self.write.resource_location.to_string(),
            name: self
                .write
                .table_name
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
                .dynamodb()
                .exists(&resource.name)
                .await
        }
        .await;
        existence_problem(
            "writeConnector.tableName",
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
            ResourceLocation::LetsData => "Write Connector - Create Dynamo DB Table",
            ResourceLocation::Customer => "Write Connector - Check Customer Dynamo DB Table",
        })
    }

    async fn provision(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        owner: Owner<'_>,
    ) -> Result<ConnectorResource, ConnectorError> {
        let ddb = clients(ctx, self.region, &self.access).await?.dynamodb();
        let exists = ddb.exists(&resource.name).await?;
        match self.write.resource_location {
            ResourceLocation::Customer if !exists => {
                return Err(missing_customer_resource(&described(resource)));
            }
            ResourceLocation::Customer => {}
            ResourceLocation::LetsData => {
                let table = TableSpec {
                    name: resource.name.clone(),
                    key_schema: TableKeySchema {
                        hash_key: KeyAttribute::string(&self.write.partition_key_name),
                        range_key: None,
                    },
                    stream_enabled: false,
                    tags: vec![(OWNER_TAG.to_string(), owner.tag().to_string())],
                };
                if exists || !ddb.create_table(&table).await? {
                    // Tagged at creation: an untagged table is ours only when it is empty.
                    let info = ddb.wait_active(&resource.name, ACTIVE_TIMEOUT).await?;
                    let claim = owner.claim(ddb.tags(&info.arn).await?);
                    let empty = ddb.is_empty(&resource.name).await?;
                    owner.adopt(&described(resource), &claim, empty)?;
                }
            }
        }
        let info = ddb.wait_active(&resource.name, ACTIVE_TIMEOUT).await?;
        let mut ready = resource.clone();
        ready.arn = info.arn;
        Ok(ready)
    }

    fn delete_step(&self, resource: &ConnectorResource) -> Option<&'static str> {
        resource
            .is_letsdata()
            .then_some("Write Connector - Delete Dynamo DB Table")
    }

    async fn delete(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        owner: Owner<'_>,
    ) -> Result<String, ConnectorError> {
        let ddb = clients(ctx, self.region, &self.access).await?.dynamodb();
        if let Some(info) = ddb.describe_table(&resource.name).await? {
            let claim = owner.claim(ddb.tags(&info.arn).await?);
            let empty = ddb.is_empty(&resource.name).await?;
            if let Some(why) = owner.refuse_delete(&claim, empty) {
                return Ok(left_in_place(&described(resource), &why));
            }
            ddb.delete_table(&resource.name).await?;
        }
        Ok(format!("{} deleted", described(resource)))
    }

    async fn open(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        _task: &SinkTask<'_>,
    ) -> Result<Box<dyn SinkWriter>, ConnectorError> {
        let writer = clients(ctx, self.region, &self.access)
            .await?
            .dynamodb()
            .writer(&resource.name)
            .await?;
        let fill_key = (self.write.resource_location == ResourceLocation::LetsData)
            .then(|| self.write.partition_key_name.clone());
        Ok(Delivering::boxed(TableWriter { writer, fill_key }))
    }

    async fn read_back(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        _dataset_name: &str,
        limit: usize,
    ) -> Result<Vec<Bytes>, ConnectorError> {
        let ddb = clients(ctx, self.region, &self.access).await?.dynamodb();
        let mut docs = Vec::new();
        if !ddb.exists(&resource.name).await? {
            return Ok(docs);
        }
        let mut request = ScanRequest::segment(&resource.name, 0, 1);
        loop {
            let page = ddb.scan(&request).await?;
            for item in page.items {
                if docs.len() >= limit {
                    return Ok(docs);
                }
                docs.push(Bytes::from(Value::Object(item).to_string()));
            }
            match page.last_evaluated_key {
                Some(k) => request.exclusive_start_key = Some(k),
                None => return Ok(docs),
            }
        }
    }
}

/// Documents as items of a table.
struct TableWriter {
    writer: DynamoDbWriter,
    /// The key attribute letsdata fills with the document id when a document lacks it
    /// (tables letsdata creates).
    fill_key: Option<String>,
}

#[async_trait]
impl Deliver for TableWriter {
    fn describe(&self) -> String {
        format!("DynamoDB table {}", self.writer.table_name())
    }

    async fn deliver(
        &self,
        documents: &[&[u8]],
        ids: &[Cow<'_, str>],
    ) -> Result<Vec<Rejected>, ConnectorError> {
        let mut rejected = Vec::new();
        let mut items = Vec::with_capacity(documents.len());
        let mut index_of = Vec::with_capacity(documents.len());
        for (i, (doc, id)) in documents.iter().zip(ids).enumerate() {
            match serde_json::from_slice::<Value>(doc) {
                Ok(Value::Object(mut item)) => {
                    if let Some(key) = &self.fill_key
                        && !item.contains_key(key)
                    {
                        item.insert(key.clone(), Value::String(id.to_string()));
                    }
                    items.push(item);
                    index_of.push(i);
                }
                Ok(other) => rejected.push(Rejected {
                    index: i,
                    reason: format!(
                        "a DynamoDB item must be a JSON object, the document is {}",
                        letsdata_model::json_kind(&other)
                    ),
                }),
                Err(e) => rejected.push(Rejected {
                    index: i,
                    reason: format!("the document is not valid JSON: {e}"),
                }),
            }
        }
        let report = self.writer.write(&items).await?;
        rejected.extend(report.rejected.into_iter().map(|r| Rejected {
            index: index_of[r.index],
            reason: r.reason,
        }));
        rejected.sort_by_key(|r| r.index);
        Ok(rejected)
    }
}
