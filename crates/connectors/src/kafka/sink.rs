//! The Kafka sink: each document a record keyed by its document id, on the partition Kafka's
//! default partitioner picks for the key.

use super::partition::{KafkaPartition, Produced};
use super::{
    KAFKA_TOPIC, KafkaClient, cluster_of, cluster_problem, connect, describe, installation_servers,
    no_installation_cluster, partition_for, servers_of,
};
use crate::owner::{Claim, Owner, left_in_place};
use crate::sink::{Deliver, Delivering, DocumentSink, Rejected, SinkTask, SinkWriter};
use crate::{ConnectorContext, ConnectorError, FailureKind};
use async_trait::async_trait;
use bytes::Bytes;
use letsdata_model::spec::{KafkaCompression, KafkaWriteConnector, ResourceLocation};
use letsdata_model::{ConnectorResource, Problem};
use rskafka::client::partition::Compression;
use rskafka::record::Record;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What a record adds to its key and value (offset, timestamp, lengths, batch share): the
/// margin kept below `maxMessageBytes`.
pub const RECORD_OVERHEAD: usize = 100;
/// Most bytes (keys and values) of one produced batch, whatever `maxMessageBytes` allows.
const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// How long provisioning waits for a created topic to be listed.
const VISIBLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Writes a Kafka topic.
#[derive(Debug, Clone)]
pub struct KafkaSink {
    pub(super) write: KafkaWriteConnector,
}

impl KafkaSink {
    async fn client(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
    ) -> Result<KafkaClient, ConnectorError> {
        let cluster = cluster_of(
            self.write.resource_location,
            &self.write.cluster,
            &resource.url,
        )?;
        connect(ctx, &cluster).await
    }
}

/// A generated name as a valid topic name (letters, digits, `.`, `_`, `-`).
fn topic_name(name: String) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(249)
        .collect()
}

fn compression(c: KafkaCompression) -> Compression {
    match c {
        KafkaCompression::None => Compression::NoCompression,
        KafkaCompression::Gzip => Compression::Gzip,
        KafkaCompression::Snappy => Compression::Snappy,
        KafkaCompression::Lz4 => Compression::Lz4,
        KafkaCompression::Zstd => Compression::Zstd,
    }
}

#[async_trait]
impl DocumentSink for KafkaSink {
    fn plan(&self, generated: &dyn Fn(&str) -> String) -> ConnectorResource {
        ConnectorResource {
            resource_type: KAFKA_TOPIC.to_string(),
            resource_location: self.write.resource_location.to_string(),
            name: self
                .write
                .topic_name
                .clone()
                .unwrap_or_else(|| topic_name(generated("output"))),
            arn: String::new(),
            url: servers_of(self.write.resource_location, &self.write.cluster),
        }
    }

    async fn check(&self, ctx: &ConnectorContext, resource: &ConnectorResource) -> Vec<Problem> {
        let location = self.write.resource_location;
        if location == ResourceLocation::LetsData {
            return match installation_servers() {
                Some(_) => Vec::new(),
                None => vec![Problem {
                    path: "writeConnector.resourceLocation".into(),
                    message: no_installation_cluster(),
                }],
            };
        }
        let client = match self.client(ctx, resource).await {
            Ok(c) => c,
            Err(e) => return vec![cluster_problem("writeConnector", location, &e)],
        };
        match client.partitions(&resource.name).await {
            Ok(Some(_)) => Vec::new(),
            Ok(None) => vec![Problem {
                path: "writeConnector.topicName".into(),
                message: format!(
                    "the Kafka topic {:?} does not exist at {}; create it first, or fix topicName",
                    resource.name,
                    client.servers()
                ),
            }],
            Err(e) => vec![cluster_problem("writeConnector", location, &e)],
        }
    }

    fn provision_step(&self, _resource: &ConnectorResource) -> Option<&'static str> {
        Some(match self.write.resource_location {
            ResourceLocation::LetsData => "Write Connector - Create Kafka Topic",
            ResourceLocation::Customer => "Write Connector - Check Customer Kafka Topic",
        })
    }

    async fn provision(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        owner: Owner<'_>,
    ) -> Result<ConnectorResource, ConnectorError> {
        let client = self.client(ctx, resource).await?;
        let name = &resource.name;
        let exists = client.partitions(name).await?.is_some();
        match self.write.resource_location {
            ResourceLocation::LetsData => {
                let created = !exists
                    && client
                        .create_topic(
                            name,
                            self.write.partition_count,
                            self.write.replication_factor,
                        )
                        .await?;
                wait_listed(&client, name).await?;
                if !created {
                    // Topics carry no tags: an existing one is used only when it is empty
                    // (an earlier attempt of this step created it).
                    let empty = topic_is_empty(&client, name).await?;
                    owner.adopt(&describe(name, client.servers()), &Claim::Untagged, empty)?;
                }
            }
            ResourceLocation::Customer if !exists => {
                return Err(ConnectorError::User(format!(
                    "the Kafka topic {name:?} does not exist: create it, or fix the writeConnector (resourceLocation Customer topics must exist at {})",
                    client.servers()
                )));
            }
            _ => {}
        }
        let mut ready = resource.clone();
        ready.url = client.servers().to_string();
        Ok(ready)
    }

    fn delete_step(&self, resource: &ConnectorResource) -> Option<&'static str> {
        resource
            .is_letsdata()
            .then_some("Write Connector - Delete Kafka Topic")
    }

    async fn delete(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        owner: Owner<'_>,
    ) -> Result<String, ConnectorError> {
        let client = self.client(ctx, resource).await?;
        let described = describe(&resource.name, client.servers());
        if client.partitions(&resource.name).await?.is_some() {
            let empty = topic_is_empty(&client, &resource.name).await?;
            if let Some(why) = owner.refuse_delete(&Claim::Untagged, empty) {
                return Ok(left_in_place(&described, &why));
            }
        }
        Ok(if client.delete_topic(&resource.name).await? {
            format!("{described} deleted")
        } else {
            format!("{described} was deleted already")
        })
    }

    async fn open(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        _task: &SinkTask<'_>,
    ) -> Result<Box<dyn SinkWriter>, ConnectorError> {
        let client = self.client(ctx, resource).await?;
        Ok(Delivering::boxed(
            KafkaWriter::open(&client, &resource.name, &self.write).await?,
        ))
    }

    async fn read_back(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        _dataset_name: &str,
        limit: usize,
    ) -> Result<Vec<Bytes>, ConnectorError> {
        let client = self.client(ctx, resource).await?;
        let mut docs = Vec::new();
        let Some(partitions) = client.partitions(&resource.name).await? else {
            return Ok(docs);
        };
        for p in partitions {
            let reader = client.partition(&resource.name, p);
            let mut offset = reader.earliest().await?;
            let mut end = None;
            loop {
                let fetched = reader.fetch(offset, 4 * 1024 * 1024, 1).await?;
                let end = *end.get_or_insert(fetched.high_watermark);
                let before = offset;
                for r in fetched.records {
                    if r.offset >= end || docs.len() >= limit {
                        break;
                    }
                    if r.offset >= offset {
                        offset = r.offset + 1;
                        docs.push(Bytes::from(r.record.value.unwrap_or_default()));
                    }
                }
                if docs.len() >= limit {
                    return Ok(docs);
                }
                if offset >= end || offset == before {
                    break;
                }
            }
        }
        Ok(docs)
    }
}

/// Waits until a topic just created is listed.
/// Whether no partition of `topic` holds a record.
async fn topic_is_empty(client: &KafkaClient, topic: &str) -> Result<bool, ConnectorError> {
    for p in client.partitions(topic).await?.unwrap_or_default() {
        let partition = client.partition(topic, p);
        if partition.high_watermark().await? > partition.earliest().await? {
            return Ok(false);
        }
    }
    Ok(true)
}

async fn wait_listed(client: &KafkaClient, topic: &str) -> Result<(), ConnectorError> {
    let start = Instant::now();
    loop {
        if client
            .partitions(topic)
            .await?
            .is_some_and(|p| !p.is_empty())
        {
            return Ok(());
        }
        if start.elapsed() > VISIBLE_TIMEOUT {
            return Err(ConnectorError::Io {
                what: format!("the {} was created", describe(topic, client.servers())),
                message: format!("but is not listed after {} s", VISIBLE_TIMEOUT.as_secs()),
                kind: FailureKind::Transient,
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Delivers documents to the partitions of a topic.
pub(crate) struct KafkaWriter {
    /// By partition number, sorted: the default partitioner's index space.
    partitions: Vec<KafkaPartition>,
    compression: Compression,
    max_message_bytes: usize,
    description: String,
}

impl KafkaWriter {
    /// A writer of `topic`, which must exist.
    pub(crate) async fn open(
        client: &KafkaClient,
        topic: &str,
        write: &KafkaWriteConnector,
    ) -> Result<Self, ConnectorError> {
        let description = describe(topic, client.servers());
        let partitions = match client.partitions(topic).await? {
            Some(p) if !p.is_empty() => p,
            _ => {
                return Err(ConnectorError::User(format!(
                    "the {description} does not exist: create it, or fix the writeConnector"
                )));
            }
        };
        Ok(Self {
            partitions: partitions
                .into_iter()
                .map(|p| client.partition(topic, p))
                .collect(),
            compression: compression(write.compression),
            max_message_bytes: usize::try_from(write.max_message_bytes).unwrap_or(usize::MAX),
            description,
        })
    }

    /// The documents too large to send, and the others grouped by partition index.
    fn sort(&self, documents: &[&[u8]], ids: &[Cow<'_, str>]) -> Sorted {
        let mut sorted = Sorted::default();
        for (index, (doc, id)) in documents.iter().zip(ids).enumerate() {
            let size = id.len() + doc.len() + RECORD_OVERHEAD;
            if size > self.max_message_bytes {
                sorted.rejected.push(Rejected {
                    index,
                    reason: format!(
                        "record of {size} bytes exceeds maxMessageBytes {} (document id, document and about {RECORD_OVERHEAD} bytes of record overhead)",
                        self.max_message_bytes
                    ),
                });
            } else {
                let p = partition_for(id.as_bytes(), self.partitions.len());
                sorted.by_partition.entry(p).or_default().push(index);
            }
        }
        sorted
    }

    /// Batches of `indices` within the batch size, in order.
    fn batches<'a>(
        &self,
        indices: &'a [usize],
        sizes: impl Fn(usize) -> usize,
    ) -> Vec<&'a [usize]> {
        let limit = self.max_message_bytes.min(MAX_BATCH_BYTES);
        let mut out = Vec::new();
        let (mut start, mut bytes) = (0, 0);
        for (i, &index) in indices.iter().enumerate() {
            let size = sizes(index);
            if i > start && bytes + size > limit {
                out.push(&indices[start..i]);
                (start, bytes) = (i, 0);
            }
            bytes += size;
        }
        if start < indices.len() {
            out.push(&indices[start..]);
        }
        out
    }

    /// Produces the documents of one partition, batch after batch; a batch the broker refuses
    /// is sent again record by record, and the records it refuses are rejected.
    async fn deliver_partition(
        &self,
        partition: &KafkaPartition,
        indices: &[usize],
        documents: &[&[u8]],
        ids: &[Cow<'_, str>],
    ) -> Result<Vec<Rejected>, ConnectorError> {
        let now = rskafka::chrono::Utc::now();
        let record = |i: usize| Record {
            key: Some(ids[i].as_bytes().to_vec()),
            value: Some(documents[i].to_vec()),
            headers: BTreeMap::new(),
            timestamp: now,
        };
        let mut rejected = Vec::new();
        let size = |i: usize| ids[i].len() + documents[i].len() + RECORD_OVERHEAD;
        for batch in self.batches(indices, size) {
            let records = batch.iter().map(|&i| record(i)).collect();
            if let Produced::Refused(reason) = partition.produce(records, self.compression).await? {
                if let [index] = batch {
                    rejected.push(refused(*index, &reason));
                    continue;
                }
                for &index in batch {
                    if let Produced::Refused(reason) = partition
                        .produce(vec![record(index)], self.compression)
                        .await?
                    {
                        rejected.push(refused(index, &reason));
                    }
                }
            }
        }
        Ok(rejected)
    }
}

fn refused(index: usize, reason: &str) -> Rejected {
    Rejected {
        index,
        reason: format!("the Kafka broker refused the record: {reason}"),
    }
}

/// Documents sorted by [`KafkaWriter::sort`].
#[derive(Debug, Default)]
struct Sorted {
    rejected: Vec<Rejected>,
    /// Partition index → document indices, in order.
    by_partition: BTreeMap<usize, Vec<usize>>,
}

#[async_trait]
impl Deliver for KafkaWriter {
    fn describe(&self) -> String {
        self.description.clone()
    }

    async fn deliver(
        &self,
        documents: &[&[u8]],
        ids: &[Cow<'_, str>],
    ) -> Result<Vec<Rejected>, ConnectorError> {
        let Sorted {
            mut rejected,
            by_partition,
        } = self.sort(documents, ids);
        let deliveries = by_partition.iter().map(|(&p, indices)| {
            self.deliver_partition(&self.partitions[p], indices, documents, ids)
        });
        for result in futures::future::join_all(deliveries).await {
            rejected.extend(result?);
        }
        rejected.sort_by_key(|r| r.index);
        Ok(rejected)
    }
}

#[cfg(test)]
mod unit {
    use super::*;
    use crate::kafka::client::{CallPolicy, ClusterSettings};

    fn writer(partitions: i32, max: usize) -> KafkaWriter {
        let settings =
            ClusterSettings::plaintext(vec!["127.0.0.1:1".into()], CallPolicy::default());
        let client = KafkaClient::new(settings).expect("client");
        KafkaWriter {
            partitions: (0..partitions).map(|p| client.partition("t", p)).collect(),
            compression: Compression::NoCompression,
            max_message_bytes: max,
            description: describe("t", client.servers()),
        }
    }

    #[test]
    fn records_over_max_message_bytes_are_rejected() {
        let w = writer(3, 1024);
        let big = vec![b'x'; 1024 - RECORD_OVERHEAD - 1];
        let fits = vec![b'y'; 1024 - RECORD_OVERHEAD - 2];
        let docs: Vec<&[u8]> = vec![b"{}", &big, &fits];
        let ids: Vec<Cow<'_, str>> = vec!["a".into(), "bb".into(), "cc".into()];
        let sorted = w.sort(&docs, &ids);
        assert_eq!(sorted.rejected.len(), 1);
        assert_eq!(sorted.rejected[0].index, 1);
        assert!(
            sorted.rejected[0]
                .reason
                .starts_with("record of 1025 bytes exceeds maxMessageBytes 1024"),
            "{}",
            sorted.rejected[0].reason
        );
        let sent: Vec<usize> = sorted.by_partition.values().flatten().copied().collect();
        assert_eq!(sent.len(), 2);
        assert_eq!(
            sorted
                .by_partition
                .get(&partition_for(b"a", 3))
                .map(|v| v.contains(&0)),
            Some(true)
        );
    }

    #[test]
    fn batches_stay_within_the_limit_in_order() {
        let w = writer(1, 1000);
        let indices: Vec<usize> = (0..10).collect();
        let batches = w.batches(&indices, |_| 300);
        assert_eq!(batches, vec![&[0, 1, 2][..], &[3, 4, 5], &[6, 7, 8], &[9]]);
        assert!(w.batches(&[], |_| 1).is_empty());
        assert_eq!(w.describe(), "Kafka topic \"t\" at 127.0.0.1:1");
    }

    #[test]
    fn generated_names_are_topic_names() {
        assert_eq!(
            topic_name("ld-My Data-1234-output".into()),
            "ld-My-Data-1234-output"
        );
    }
}
