//! DynamoDB Streams: shards of a table's stream and shard readers.
//!
//! Reading works like Kinesis ([`crate::kinesis`], the same shard reader): one task per shard, children after their
//! parent ([`DynamoDbStreamShard::parent_shard_id`]), a [`DynamoDbStreamShardReader`] started
//! from a [`ShardStart`] and resumed after the checkpointed sequence number, an expired
//! iterator taken again after the last sequence number returned, and a shard closed when
//! `GetRecords` returns no next iterator. Records carry the change: `INSERT`, `MODIFY` or
//! `REMOVE`, the item's keys and, depending on the stream view type, its old and new images,
//! all as plain JSON (rule in [`super::attribute_value`]). Stream records live 24 hours.

use crate::aws::attribute_value::{self, JsonObject};
use crate::aws::shard::{ShardApi, ShardPage, ShardReader};
use crate::aws::{RetryPolicy, ShardStart, aws_error, has_code, retry, sdk_error, system_time};
use crate::{ConnectorError, FailureKind};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue as DynamoDbValue;
use aws_sdk_dynamodbstreams::Client;
use aws_sdk_dynamodbstreams::primitives::DateTime;
use aws_sdk_dynamodbstreams::types::{AttributeValue, OperationType, ShardIteratorType};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

/// DynamoDB Streams calls; cheap to clone.
#[derive(Debug, Clone)]
pub struct DynamoDbStreamsClient {
    client: Client,
    retry: RetryPolicy,
}

/// A table's stream, as `DescribeStream` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamoDbStreamInfo {
    /// Stream ARN.
    pub arn: String,
    /// The table whose changes it carries.
    pub table_name: String,
    /// `ENABLING`, `ENABLED`, `DISABLING` or `DISABLED`.
    pub status: String,
    /// `KEYS_ONLY`, `NEW_IMAGE`, `OLD_IMAGE` or `NEW_AND_OLD_IMAGES`.
    pub view_type: String,
}

/// One shard of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamoDbStreamShard {
    /// Shard id.
    pub shard_id: String,
    /// The shard this one follows; read it to the end first.
    pub parent_shard_id: Option<String>,
    /// First sequence number of the shard.
    pub starting_sequence_number: Option<String>,
    /// Last sequence number; `Some` once the shard is closed.
    pub ending_sequence_number: Option<String>,
}

impl DynamoDbStreamShard {
    /// Whether the shard takes no more records.
    pub fn is_closed(&self) -> bool {
        self.ending_sequence_number.is_some()
    }
}

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEventName {
    /// An item was added.
    Insert,
    /// An item was replaced or updated.
    Modify,
    /// An item was deleted.
    Remove,
}

impl StreamEventName {
    /// `INSERT`, `MODIFY` or `REMOVE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Insert => "INSERT",
            Self::Modify => "MODIFY",
            Self::Remove => "REMOVE",
        }
    }
}

/// One change record.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamoDbStreamRecord {
    /// Unique id of the record.
    pub event_id: String,
    /// What changed.
    pub event_name: StreamEventName,
    /// Position in the shard; the checkpoint.
    pub sequence_number: String,
    /// Size of the record in bytes.
    pub size_bytes: i64,
    /// View type of the stream when the record was written.
    pub stream_view_type: Option<String>,
    /// When the change was made (approximately).
    pub approximate_creation_time: Option<SystemTime>,
    /// The item's primary key.
    pub keys: JsonObject,
    /// The item before the change (`OLD_IMAGE`, `NEW_AND_OLD_IMAGES`; not for `INSERT`).
    pub old_image: Option<JsonObject>,
    /// The item after the change (`NEW_IMAGE`, `NEW_AND_OLD_IMAGES`; not for `REMOVE`).
    pub new_image: Option<JsonObject>,
}

/// One `GetRecords` result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DynamoDbStreamBatch {
    /// Records in shard order; may be empty even when more follow.
    pub records: Vec<DynamoDbStreamRecord>,
    /// The shard is closed and every record of it has been returned.
    pub shard_closed: bool,
}

impl DynamoDbStreamsClient {
    /// Wraps an SDK client.
    pub fn new(client: Client, retry: RetryPolicy) -> Self {
        Self { client, retry }
    }

    /// Describes the stream; `None` when it does not exist.
    pub async fn describe_stream(
        &self,
        stream_arn: &str,
    ) -> Result<Option<DynamoDbStreamInfo>, ConnectorError> {
        let what = format!("cannot describe DynamoDB stream {stream_arn}");
        let out = match retry(&self.retry, &what, || {
            self.client
                .describe_stream()
                .stream_arn(stream_arn)
                .limit(1)
                .send()
        })
        .await
        {
            Ok(out) => out,
            Err(e) if has_code(&e, "ResourceNotFoundException") => return Ok(None),
            Err(e) => return Err(sdk_error(what, e)),
        };
        Ok(out.stream_description.map(|d| DynamoDbStreamInfo {
            arn: d.stream_arn.unwrap_or_else(|| stream_arn.to_string()),
            table_name: d.table_name.unwrap_or_default(),
            status: d
                .stream_status
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            view_type: d
                .stream_view_type
                .map(|v| v.as_str().to_string())
                .unwrap_or_default(),
        }))
    }

    /// Every shard of the stream, open and closed, in `DescribeStream` order.
    pub async fn list_shards(
        &self,
        stream_arn: &str,
    ) -> Result<Vec<DynamoDbStreamShard>, ConnectorError> {
        let what = format!("cannot list the shards of DynamoDB stream {stream_arn}");
        let mut shards = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let out = retry(&self.retry, &what, || {
                self.client
                    .describe_stream()
                    .stream_arn(stream_arn)
                    .set_exclusive_start_shard_id(start.clone())
                    .send()
            })
            .await
            .map_err(|e| sdk_error(&what, e))?;
            let Some(d) = out.stream_description else {
                return Ok(shards);
            };
            for s in d.shards.unwrap_or_default() {
                let (starting, ending) = s
                    .sequence_number_range
                    .map(|r| (r.starting_sequence_number, r.ending_sequence_number))
                    .unwrap_or_default();
                shards.push(DynamoDbStreamShard {
                    shard_id: s.shard_id.unwrap_or_default(),
                    parent_shard_id: s.parent_shard_id,
                    starting_sequence_number: starting,
                    ending_sequence_number: ending,
                });
            }
            match d.last_evaluated_shard_id {
                Some(last) if !last.is_empty() => start = Some(last),
                _ => return Ok(shards),
            }
        }
    }

    /// A reader of one shard, starting at `start`. Takes no iterator until the first poll.
    pub fn shard_reader(
        &self,
        stream_arn: &str,
        shard_id: &str,
        start: ShardStart,
    ) -> DynamoDbStreamShardReader {
        let api = StreamsShardApi {
            streams: self.clone(),
            stream_arn: Arc::from(stream_arn),
        };
        DynamoDbStreamShardReader(ShardReader::new(api, shard_id, start, 1000))
    }

    async fn shard_iterator(
        &self,
        stream_arn: &str,
        shard_id: &str,
        from: &ShardStart,
    ) -> Result<String, ConnectorError> {
        let what = format!("cannot open shard {shard_id} of DynamoDB stream {stream_arn}");
        let out = retry(&self.retry, &what, || {
            let req = self
                .client
                .get_shard_iterator()
                .stream_arn(stream_arn)
                .shard_id(shard_id);
            match from {
                ShardStart::Earliest => req.shard_iterator_type(ShardIteratorType::TrimHorizon),
                ShardStart::Latest => req.shard_iterator_type(ShardIteratorType::Latest),
                ShardStart::AtTimestamp(t) => req
                    .shard_iterator_type(ShardIteratorType::AtTimestamp)
                    .timestamp(DateTime::from(*t)),
                ShardStart::AfterSequenceNumber(seq) => req
                    .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                    .sequence_number(seq),
            }
            .send()
        })
        .await
        .map_err(|e| sdk_error(&what, e))?;
        out.shard_iterator
            .ok_or_else(|| aws_error(what, "no shard iterator returned", FailureKind::Internal))
    }
}

/// Reads one shard batch by batch; see the module docs.
#[derive(Debug)]
pub struct DynamoDbStreamShardReader(ShardReader<StreamsShardApi>);

/// The DynamoDB Streams calls of a shard reader.
#[derive(Debug)]
pub(crate) struct StreamsShardApi {
    pub(crate) streams: DynamoDbStreamsClient,
    pub(crate) stream_arn: Arc<str>,
}

#[async_trait]
impl ShardApi for StreamsShardApi {
    type Record = DynamoDbStreamRecord;

    async fn iterator(&self, shard: &str, from: &ShardStart) -> Result<String, ConnectorError> {
        self.streams
            .shard_iterator(&self.stream_arn, shard, from)
            .await
    }

    async fn get_records(
        &self,
        shard: &str,
        iterator: &str,
        limit: i32,
    ) -> Result<Option<ShardPage<DynamoDbStreamRecord>>, ConnectorError> {
        let what = format!(
            "cannot read shard {shard} of DynamoDB stream {}",
            self.stream_arn
        );
        let r = retry(&self.streams.retry, &what, || {
            self.streams
                .client
                .get_records()
                .shard_iterator(iterator)
                .limit(limit)
                .send()
        })
        .await;
        let out = match r {
            Ok(out) => out,
            Err(e) if has_code(&e, "ExpiredIteratorException") => return Ok(None),
            Err(e) => return Err(sdk_error(what, e)),
        };
        let mut records = Vec::new();
        for r in out.records.unwrap_or_default() {
            records.push(
                convert_record(r)
                    .map_err(|message| aws_error(&what, message, FailureKind::Internal))?,
            );
        }
        Ok(Some(ShardPage {
            records,
            next_iterator: out.next_shard_iterator,
            millis_behind_latest: None,
            child_shard_ids: Vec::new(),
        }))
    }

    fn sequence_number(record: &DynamoDbStreamRecord) -> &str {
        &record.sequence_number
    }
}

impl DynamoDbStreamShardReader {
    /// Sets the most records one poll returns (1..=1000, the default 1000).
    pub fn with_limit(mut self, limit: i32) -> Self {
        self.0.limit = limit.clamp(1, 1000);
        self
    }

    /// The shard read.
    pub fn shard_id(&self) -> &str {
        self.0.shard_id()
    }

    /// Sequence number of the last record returned, the position to checkpoint.
    pub fn last_sequence_number(&self) -> Option<&str> {
        self.0.last_sequence_number()
    }

    /// Whether the shard is closed and fully read.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }

    /// Returns the next batch of records (possibly empty); callers pause between empty polls.
    pub async fn poll(&mut self) -> Result<DynamoDbStreamBatch, ConnectorError> {
        let page = self.0.poll().await?;
        Ok(DynamoDbStreamBatch {
            records: page.records,
            shard_closed: page.next_iterator.is_none(),
        })
    }
}

fn convert_record(
    r: aws_sdk_dynamodbstreams::types::Record,
) -> Result<DynamoDbStreamRecord, String> {
    let event_name = match r.event_name {
        Some(OperationType::Insert) => StreamEventName::Insert,
        Some(OperationType::Modify) => StreamEventName::Modify,
        Some(OperationType::Remove) => StreamEventName::Remove,
        other => return Err(format!("unknown stream event {other:?}")),
    };
    let d = r.dynamodb.ok_or("stream record without its change")?;
    let image = |m: Option<HashMap<String, AttributeValue>>| -> Result<Option<JsonObject>, String> {
        m.map(|m| item_to_json(&m)).transpose()
    };
    Ok(DynamoDbStreamRecord {
        event_id: r.event_id.unwrap_or_default(),
        event_name,
        sequence_number: d
            .sequence_number
            .ok_or("stream record without a sequence number")?,
        size_bytes: d.size_bytes.unwrap_or_default(),
        stream_view_type: d.stream_view_type.map(|v| v.as_str().to_string()),
        approximate_creation_time: d
            .approximate_creation_date_time
            .as_ref()
            .and_then(system_time),
        keys: image(d.keys)?.unwrap_or_default(),
        old_image: image(d.old_image)?,
        new_image: image(d.new_image)?,
    })
}

fn item_to_json(item: &HashMap<String, AttributeValue>) -> Result<JsonObject, String> {
    let converted: attribute_value::Item = item
        .iter()
        .map(|(k, v)| Ok((k.clone(), to_dynamodb(v)?)))
        .collect::<Result<_, String>>()?;
    attribute_value::item_to_json(&converted).map_err(|e| e.to_string())
}

/// The same value in the DynamoDB crate's type, which the JSON conversion works on.
fn to_dynamodb(v: &AttributeValue) -> Result<DynamoDbValue, String> {
    Ok(match v {
        AttributeValue::S(s) => DynamoDbValue::S(s.clone()),
        AttributeValue::N(n) => DynamoDbValue::N(n.clone()),
        AttributeValue::B(b) => DynamoDbValue::B(b.clone()),
        AttributeValue::Bool(b) => DynamoDbValue::Bool(*b),
        AttributeValue::Null(b) => DynamoDbValue::Null(*b),
        AttributeValue::Ss(v) => DynamoDbValue::Ss(v.clone()),
        AttributeValue::Ns(v) => DynamoDbValue::Ns(v.clone()),
        AttributeValue::Bs(v) => DynamoDbValue::Bs(v.clone()),
        AttributeValue::L(l) => {
            DynamoDbValue::L(l.iter().map(to_dynamodb).collect::<Result<_, _>>()?)
        }
        AttributeValue::M(m) => DynamoDbValue::M(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), to_dynamodb(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => return Err(format!("unsupported attribute value {other:?}")),
    })
}
