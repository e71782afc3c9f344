//! The Kafka read source: one task per partition of a topic, resumed at its next offset.

use super::partition::KafkaPartition;
use super::{KAFKA_TOPIC, KafkaClient, cluster_of, cluster_problem, connect, describe, servers_of};
use crate::source::{
    Next, ReadSource, RecordBatch, RecordSource, SourceRecord, TaskInput, TaskSeed, TaskSeeds,
    from_fields, seeds, to_fields,
};
use crate::{ConnectorContext, ConnectorError};
use async_trait::async_trait;
use bytes::Bytes;
use letsdata_model::record::RecordMeta;
use letsdata_model::spec::{KafkaReadConnector, StreamManifest, StreamStart, StreamStop};
use letsdata_model::task::{ConnectorFields, TaskDefinition};
use letsdata_model::{ConnectorResource, Problem};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Most bytes one poll fetches.
const FETCH_MAX_BYTES: i32 = 4 * 1024 * 1024;
/// Longest a poll waits for new records (short: some brokers do not end a waiting fetch when
/// records arrive).
const FETCH_MAX_WAIT_MS: i32 = 500;

/// Reads the partitions of a Kafka topic.
#[derive(Debug, Clone)]
pub struct KafkaSource {
    pub(super) read: KafkaReadConnector,
    pub(super) manifest: StreamManifest,
}

/// A partition task's own fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitionTask {
    /// The topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
}

/// A partition task's checkpoint position: the offset of the next record to read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitionPosition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<i64>,
}

impl KafkaSource {
    fn servers(&self) -> String {
        servers_of(self.read.resource_location, &self.read.cluster)
    }

    async fn client(&self, ctx: &ConnectorContext) -> Result<KafkaClient, ConnectorError> {
        let cluster = cluster_of(self.read.resource_location, &self.read.cluster, "")?;
        connect(ctx, &cluster).await
    }

    /// The topic's partitions; a topic that does not exist, or has none, is the user's error.
    async fn partitions(
        &self,
        client: &KafkaClient,
        topic: &str,
    ) -> Result<Vec<i32>, ConnectorError> {
        match client.partitions(topic).await? {
            Some(p) if !p.is_empty() => Ok(p),
            Some(_) => Err(ConnectorError::User(format!(
                "the {} has no partitions to read",
                describe(topic, client.servers())
            ))),
            None => Err(ConnectorError::User(missing(topic, client.servers()))),
        }
    }
}

fn missing(topic: &str, servers: &str) -> String {
    format!(
        "the Kafka topic {topic:?} does not exist at {servers}; create it first, or fix topicName"
    )
}

#[async_trait]
impl ReadSource for KafkaSource {
    fn resource(&self) -> ConnectorResource {
        ConnectorResource {
            resource_type: KAFKA_TOPIC.to_string(),
            resource_location: self.read.resource_location.to_string(),
            name: self.read.topic_name.clone(),
            arn: String::new(),
            url: self.servers(),
        }
    }

    fn task_type(&self) -> &'static str {
        "KAFKA"
    }

    fn wasm_interface(&self) -> &'static str {
        "KafkaRecordReader"
    }

    async fn check(&self, ctx: &ConnectorContext) -> Vec<Problem> {
        let location = self.read.resource_location;
        let client = match self.client(ctx).await {
            Ok(c) => c,
            Err(e) => return vec![cluster_problem("readConnector", location, &e)],
        };
        match client.partitions(&self.read.topic_name).await {
            Ok(Some(_)) => Vec::new(),
            Ok(None) => vec![Problem {
                path: "readConnector.topicName".into(),
                message: missing(&self.read.topic_name, client.servers()),
            }],
            Err(e) => vec![cluster_problem("readConnector", location, &e)],
        }
    }

    async fn tasks(&self, ctx: &ConnectorContext) -> Result<TaskSeeds, ConnectorError> {
        let client = self.client(ctx).await?;
        let topic = &self.read.topic_name;
        Ok(seeds(
            self.partitions(&client, topic)
                .await?
                .into_iter()
                .enumerate()
                .map(|(i, partition)| TaskSeed {
                    identity: format!("0:{topic}:{partition}"),
                    ordinal: i as u64,
                    definition: TaskDefinition {
                        reader_type: "KAFKAREADER".into(),
                        manifest_line: format!("partition {partition}"),
                        manifest_index: i as u64,
                        input: to_fields(&PartitionTask {
                            source: Some(topic.clone()),
                            partition: Some(partition),
                        }),
                    },
                })
                .collect(),
        ))
    }

    async fn open(
        &self,
        ctx: &ConnectorContext,
        task: &TaskDefinition,
        position: &ConnectorFields,
    ) -> Result<TaskInput, ConnectorError> {
        let fields: PartitionTask = from_fields(&task.input, "Kafka partition task")?;
        let position: PartitionPosition = from_fields(position, "Kafka partition position")?;
        let partition = fields.partition.ok_or_else(|| {
            ConnectorError::Corrupt(
                "the task definition has no partition; the task database may be from another version".into(),
            )
        })?;
        let topic = fields
            .source
            .unwrap_or_else(|| self.read.topic_name.clone());
        let client = self.client(ctx).await?;
        // Listing first: asking for one topic's metadata creates it on some brokers.
        let partitions = self.partitions(&client, &topic).await?;
        let reader = client.partition(&topic, partition);
        if !partitions.contains(&partition) {
            return Err(ConnectorError::User(format!(
                "{} does not exist (the topic has partitions {partitions:?})",
                reader.describe()
            )));
        }
        let next_offset = match position.next_offset {
            Some(n) => n,
            None => start_offset(&reader, self.manifest.start).await?,
        };
        Ok(TaskInput::Records(Box::new(PartitionSource::new(
            reader,
            next_offset,
            self.manifest.stop,
        ))))
    }
}

/// Where a task without a position starts.
async fn start_offset(reader: &KafkaPartition, start: StreamStart) -> Result<i64, ConnectorError> {
    match start {
        StreamStart::Earliest => reader.earliest().await,
        StreamStart::Latest => reader.high_watermark().await,
        StreamStart::AtTimestamp(ms) => {
            let earliest = reader.earliest().await?;
            let high = reader.fetch(earliest, 2, 1).await?.high_watermark;
            let at = reader.offset_at_time(ms).await?;
            // -1: no record that late; past the end: a broker's odd answer.
            Ok(if at < 0 || at > high {
                high
            } else {
                at.max(earliest)
            })
        }
    }
}

/// One partition task's records.
pub(crate) struct PartitionSource {
    reader: KafkaPartition,
    label: String,
    /// The offset the next poll fetches from (after the last record returned).
    fetch_offset: i64,
    /// The offset after the last record consumed: the position.
    next_offset: i64,
    /// Offsets of the last batch's records not consumed yet.
    batch: std::collections::VecDeque<i64>,
    stop: StreamStop,
    empty_polls: u32,
}

impl PartitionSource {
    pub(crate) fn new(reader: KafkaPartition, next_offset: i64, stop: StreamStop) -> Self {
        Self {
            label: format!("{}#{}", reader.topic(), reader.partition()),
            reader,
            fetch_offset: next_offset,
            next_offset,
            batch: Default::default(),
            stop,
            empty_polls: 0,
        }
    }
}

/// A fetched record as the engine sees it.
fn source_record(
    topic: &Arc<str>,
    partition: i32,
    r: rskafka::record::RecordAndOffset,
) -> SourceRecord {
    let record = r.record;
    SourceRecord {
        id: format!("{topic}:{partition}:{}", r.offset),
        raw: Bytes::from(record.value.unwrap_or_default()),
        decoded: None,
        meta: RecordMeta::Kafka {
            topic: topic.clone(),
            partition,
            offset: r.offset,
            key: record.key,
            timestamp: record.timestamp.timestamp_millis(),
            headers: record.headers.into_iter().collect(),
        },
    }
}

#[async_trait]
impl RecordSource for PartitionSource {
    fn label(&self) -> (&str, &str) {
        ("PARTITION", &self.label)
    }

    fn describe_start(&self) -> String {
        format!("from offset {}", self.next_offset)
    }

    async fn poll(&mut self) -> Result<RecordBatch, ConnectorError> {
        let fetched = self
            .reader
            .fetch(self.fetch_offset, FETCH_MAX_BYTES, FETCH_MAX_WAIT_MS)
            .await?;
        let high = fetched.high_watermark;
        // Whole batches come back: drop what precedes the offset asked for.
        let records: Vec<_> = fetched
            .records
            .into_iter()
            .filter(|r| r.offset >= self.fetch_offset)
            .collect();
        self.batch.clear();
        let next = if let Some(last) = records.last() {
            self.empty_polls = 0;
            self.fetch_offset = last.offset + 1;
            if self.fetch_offset < high {
                Next::More
            } else {
                Next::CaughtUp
            }
        } else if high < self.fetch_offset {
            // Brokers that do not answer OffsetOutOfRange past the end.
            return Err(self
                .reader
                .out_of_range(self.fetch_offset, None, Some(high)));
        } else {
            self.empty_polls += 1;
            match self.stop {
                StreamStop::AfterEmptyPolls(k) if self.empty_polls >= k => Next::Finished(format!(
                    "{} consecutive polls found no new records: the task ends",
                    self.empty_polls
                )),
                _ => Next::Idle { pause: true },
            }
        };
        let (topic, partition) = (self.reader.topic().clone(), self.reader.partition());
        let records = records
            .into_iter()
            .map(|r| {
                self.batch.push_back(r.offset);
                source_record(&topic, partition, r)
            })
            .collect();
        Ok(RecordBatch { records, next })
    }

    fn consume(&mut self, n: usize) {
        for _ in 0..n {
            match self.batch.pop_front() {
                Some(offset) => self.next_offset = offset + 1,
                None => break,
            }
        }
    }

    fn position(&self) -> Result<ConnectorFields, ConnectorError> {
        Ok(to_fields(&PartitionPosition {
            next_offset: Some(self.next_offset),
        }))
    }

    async fn release(&mut self) {
        // The records not consumed are read again by the next poll.
        self.batch.clear();
        self.fetch_offset = self.next_offset;
    }
}

#[cfg(test)]
mod unit {
    use super::*;
    use crate::kafka::client::{CallPolicy, ClusterSettings};

    fn source(next: i64) -> PartitionSource {
        let settings =
            ClusterSettings::plaintext(vec!["127.0.0.1:1".into()], CallPolicy::default());
        let client = KafkaClient::new(settings).expect("client");
        PartitionSource::new(client.partition("t", 2), next, StreamStop::Continuous)
    }

    #[test]
    fn position_round_trips_and_consume_moves_it() {
        let fields = to_fields(&PartitionPosition {
            next_offset: Some(42),
        });
        assert_eq!(
            serde_json::Value::Object(fields.clone()),
            serde_json::json!({"nextOffset": 42})
        );
        let back: PartitionPosition = from_fields(&fields, "p").expect("reads");
        assert_eq!(back.next_offset, Some(42));
        let empty: PartitionPosition = from_fields(&ConnectorFields::new(), "p").expect("reads");
        assert_eq!(empty.next_offset, None);

        let mut s = source(42);
        assert_eq!(s.label(), ("PARTITION", "t#2"));
        assert_eq!(s.describe_start(), "from offset 42");
        // A batch with a gap (compaction): offsets 42, 43, 47.
        s.batch.extend([42, 43, 47]);
        s.consume(2);
        assert_eq!(s.position().expect("pos")["nextOffset"], 44);
        s.consume(1);
        assert_eq!(s.position().expect("pos")["nextOffset"], 48);
        s.consume(5);
        assert_eq!(s.position().expect("pos")["nextOffset"], 48);
    }

    #[test]
    fn task_fields_are_topic_and_partition() {
        let fields = to_fields(&PartitionTask {
            source: Some("clicks".into()),
            partition: Some(3),
        });
        assert_eq!(
            serde_json::Value::Object(fields),
            serde_json::json!({"source": "clicks", "partition": 3})
        );
    }
}
