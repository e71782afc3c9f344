//! `letsdata output read`: the documents a dataset wrote, from whichever destination it writes
//! (LetsData's letsdata-writeconnector-reader, built in): part objects in the write bucket
//! (gunzipped when compressed), Kinesis records from the start of every shard (gunzipped), SQS
//! messages (peeked: received, then made visible again, so they stay in the queue for the real
//! consumers) and DynamoDB items (a scan).

use crate::{Engine, EngineError};
use letsdata_connectors::aws::ShardStart;
use letsdata_connectors::aws::dynamodb::ScanRequest;
use letsdata_connectors::aws::kinesis::gunzip;
use letsdata_connectors::aws::sqs::{ReceiveOptions, VisibilityChange};
use letsdata_model::dataset::AwsResource;
use serde_json::Value;
use std::collections::HashSet;
use std::time::Duration;

/// A document as printed: its JSON, or its text when it is not JSON.
fn document(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

impl Engine {
    /// Up to `limit` documents the dataset wrote, in destination order (per task or shard).
    pub async fn read_output(
        &self,
        dataset_name: &str,
        limit: usize,
    ) -> Result<Vec<Value>, EngineError> {
        let dataset = self.dataset(dataset_name).await?;
        let region = dataset
            .config
            .get("region")
            .and_then(Value::as_str)
            .unwrap_or("us-east-1")
            .to_string();
        let mut docs = Vec::new();
        match &dataset.resources.write_resource {
            None => {
                let bucket_name = &dataset.resources.write_bucket;
                if !self.objects.bucket_exists(bucket_name).await? {
                    return Ok(docs);
                }
                let bucket = self.objects.bucket(bucket_name)?;
                for object in bucket.list(&format!("{}/", dataset.dataset_name)).await? {
                    let data = bucket.read_all(&object.key).await?;
                    let data = if object.key.ends_with(".gz") {
                        gunzip(&data).map_err(|e| {
                            EngineError::Corrupt(format!("s3://{bucket_name}/{}: {e}", object.key))
                        })?
                    } else {
                        data
                    };
                    for line in data.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                        if docs.len() >= limit {
                            return Ok(docs);
                        }
                        docs.push(document(line));
                    }
                }
            }
            Some(r) => self.read_resource(&region, r, limit, &mut docs).await?,
        }
        Ok(docs)
    }

    async fn read_resource(
        &self,
        region: &str,
        r: &AwsResource,
        limit: usize,
        docs: &mut Vec<Value>,
    ) -> Result<(), EngineError> {
        let aws = self.aws(region).await;
        match r.resource_type.as_str() {
            crate::aws::KINESIS_STREAM => {
                let kinesis = aws.kinesis();
                let arn = match kinesis.describe_stream(&r.name).await? {
                    Some(info) => info.arn,
                    None => return Ok(()),
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
                                return Ok(());
                            }
                            let data = gunzip(&record.data).unwrap_or_else(|_| record.data.clone());
                            docs.push(document(&data));
                        }
                        if batch.shard_closed
                            || (batch.records.is_empty()
                                && batch.millis_behind_latest.unwrap_or(0) == 0)
                        {
                            break;
                        }
                    }
                }
            }
            crate::aws::SQS_QUEUE => {
                let sqs = aws.sqs();
                let Some(url) = sqs.find_queue_url(&r.name).await? else {
                    return Ok(());
                };
                // Receiving hides what was received, so later receives bring the next
                // messages; then everything received is made visible again at once, for the
                // real consumers.
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
                    for m in messages {
                        handles.push(VisibilityChange {
                            receipt_handle: m.receipt_handle,
                            timeout: Duration::ZERO,
                        });
                        if docs.len() < limit && seen.insert(m.message_id) {
                            docs.push(document(m.body.as_bytes()));
                        }
                    }
                }
                sqs.change_visibility_batch(&url, &handles).await?;
            }
            crate::aws::DYNAMODB_TABLE => {
                let ddb = aws.dynamodb();
                if !ddb.exists(&r.name).await? {
                    return Ok(());
                }
                let mut request = ScanRequest::segment(&r.name, 0, 1);
                loop {
                    let page = ddb.scan(&request).await?;
                    for item in page.items {
                        if docs.len() >= limit {
                            return Ok(());
                        }
                        docs.push(Value::Object(item));
                    }
                    match page.last_evaluated_key {
                        Some(k) => request.exclusive_start_key = Some(k),
                        None => break,
                    }
                }
            }
            other => {
                return Err(EngineError::Refused(format!(
                    "cannot read documents from a {other}"
                )));
            }
        }
        Ok(())
    }
}
