//! Write destinations other than S3: a Kinesis stream, an SQS queue or a DynamoDB table.
//!
//! Delivery is at-least-once: documents are sent before the checkpoint that covers them, so a
//! crash between the two sends them again, with the same document id (the Kinesis partition
//! key, the SQS message id attribute, the DynamoDB item key letsdata fills in), so consumers
//! can de-duplicate. Throttling and 5xx answers are retried by the connectors with bounded
//! back-off; what is still failing then fails the task attempt (its checkpoint is not
//! advanced, so a redrive resends).

use bytes::Bytes;
use letsdata_connectors::ConnectorError;
use letsdata_connectors::aws::Rejected;
use letsdata_connectors::aws::dynamodb::DynamoDbWriter;
use letsdata_connectors::aws::kinesis::{KinesisPutRecord, KinesisWriter};
use letsdata_connectors::aws::sqs::{SqsOutgoingMessage, SqsSender};
use serde_json::Value;
use std::borrow::Cow;

pub(crate) enum Destination {
    Kinesis(KinesisWriter),
    Sqs(SqsSender),
    DynamoDb {
        writer: DynamoDbWriter,
        /// The key attribute letsdata fills with the document id when a document lacks it
        /// (tables letsdata creates).
        fill_key: Option<String>,
    },
}

impl Destination {
    /// `Kinesis stream arn:…`, for error records.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Kinesis(w) => format!("Kinesis stream {}", w.stream_arn()),
            Self::Sqs(s) => format!("SQS queue {}", s.queue_url()),
            Self::DynamoDb { writer, .. } => format!("DynamoDB table {}", writer.table_name()),
        }
    }

    /// Sends `docs[i]` (serialized JSON) with document id `ids[i]`. Returns the documents the
    /// destination rejected for their content, by index.
    pub(crate) async fn send(
        &self,
        docs: &[&[u8]],
        ids: &[Cow<'_, str>],
    ) -> Result<Vec<Rejected>, ConnectorError> {
        match self {
            Self::Kinesis(w) => {
                let records: Vec<KinesisPutRecord> = docs
                    .iter()
                    .zip(ids)
                    .map(|(doc, id)| KinesisPutRecord {
                        partition_key: id.to_string(),
                        data: Bytes::copy_from_slice(doc),
                    })
                    .collect();
                Ok(w.put_records(&records).await?.rejected)
            }
            Self::Sqs(s) => {
                let messages: Vec<SqsOutgoingMessage> = docs
                    .iter()
                    .zip(ids)
                    .map(|(doc, id)| SqsOutgoingMessage {
                        body: String::from_utf8_lossy(doc).into_owned(),
                        document_id: Some(id.to_string()),
                        ..Default::default()
                    })
                    .collect();
                Ok(s.send_batch(&messages).await?.rejected)
            }
            Self::DynamoDb { writer, fill_key } => {
                let mut rejected = Vec::new();
                let mut items = Vec::with_capacity(docs.len());
                let mut index_of = Vec::with_capacity(docs.len());
                for (i, (doc, id)) in docs.iter().zip(ids).enumerate() {
                    match serde_json::from_slice::<Value>(doc) {
                        Ok(Value::Object(mut item)) => {
                            if let Some(key) = fill_key
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
                                json_type(&other)
                            ),
                        }),
                        Err(e) => rejected.push(Rejected {
                            index: i,
                            reason: format!("the document is not valid JSON: {e}"),
                        }),
                    }
                }
                let report = writer.write(&items).await?;
                rejected.extend(report.rejected.into_iter().map(|r| Rejected {
                    index: index_of[r.index],
                    reason: r.reason,
                }));
                rejected.sort_by_key(|r| r.index);
                Ok(rejected)
            }
        }
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
