//! One partition of a topic: fetch, offsets and produce, each a bounded call of its
//! [`KafkaClient`].

use super::client::{Conn, KafkaClient};
use super::failure::{explain, protocol_error};
use crate::ConnectorError;
use rskafka::client::error::{Error as KafkaError, ProtocolError, ServerErrorResponse};
use rskafka::client::partition::{Compression, OffsetAt, PartitionClient, UnknownTopicHandling};
use rskafka::record::{Record, RecordAndOffset};
use std::sync::Arc;

/// Records fetched from a partition.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// At or after the offset asked for, in offset order.
    pub records: Vec<RecordAndOffset>,
    /// The offset after the partition's last committed record.
    pub high_watermark: i64,
}

/// What a produce did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Produced {
    Written,
    /// The broker refused the records for their content (too large, invalid); why.
    Refused(String),
}

/// One partition of a topic.
pub struct KafkaPartition {
    client: KafkaClient,
    topic: Arc<str>,
    partition: i32,
    /// The partition client of a connection generation.
    cached: std::sync::Mutex<Option<(u64, Arc<PartitionClient>)>>,
}

impl std::fmt::Debug for KafkaPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KafkaPartition({}#{})", self.topic, self.partition)
    }
}

enum FetchOutcome {
    Records(Fetched),
    OutOfRange(Option<i64>),
}

impl KafkaPartition {
    pub(super) fn new(client: KafkaClient, topic: &str, partition: i32) -> Self {
        Self {
            client,
            topic: Arc::from(topic),
            partition,
            cached: std::sync::Mutex::new(None),
        }
    }

    /// The topic's name.
    pub fn topic(&self) -> &Arc<str> {
        &self.topic
    }

    /// The partition's number.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// `partition 2 of Kafka topic "t" at host:port`.
    pub fn describe(&self) -> String {
        format!(
            "partition {} of {}",
            self.partition,
            super::describe(&self.topic, self.client.servers())
        )
    }

    /// The rskafka partition client of connection `conn`.
    async fn of(&self, conn: &Conn) -> Result<Arc<PartitionClient>, KafkaError> {
        if let Ok(cached) = self.cached.lock()
            && let Some((generation, pc)) = cached.as_ref()
            && *generation == conn.generation
        {
            return Ok(pc.clone());
        }
        let pc = Arc::new(
            conn.client
                .partition_client(&*self.topic, self.partition, UnknownTopicHandling::Error)
                .await?,
        );
        if let Ok(mut cached) = self.cached.lock() {
            *cached = Some((conn.generation, pc.clone()));
        }
        Ok(pc)
    }

    /// Records from `offset`, up to about `max_bytes`, waiting up to `max_wait_ms` (at least
    /// 1 ms) for some. An offset the partition no longer (or not yet) holds is the user's
    /// error.
    pub async fn fetch(
        &self,
        offset: i64,
        max_bytes: i32,
        max_wait_ms: i32,
    ) -> Result<Fetched, ConnectorError> {
        let what = || format!("cannot read {} at offset {offset}", self.describe());
        let timeout = self.client.policy().data_timeout;
        // Some brokers (tansu) answer a fetch that may not wait at all with no partition.
        let max_wait_ms = max_wait_ms.max(1);
        let outcome = self
            .client
            .call(&what, timeout, |c| async move {
                let pc = self.of(&c).await?;
                match pc.fetch_records(offset, 1..max_bytes, max_wait_ms).await {
                    Ok((records, high_watermark)) => Ok(FetchOutcome::Records(Fetched {
                        records,
                        high_watermark,
                    })),
                    Err(KafkaError::ServerError {
                        protocol_error: ProtocolError::OffsetOutOfRange,
                        response,
                        ..
                    }) => Ok(FetchOutcome::OutOfRange(match response {
                        Some(ServerErrorResponse::PartitionFetchState {
                            high_watermark, ..
                        }) => Some(high_watermark),
                        _ => None,
                    })),
                    Err(e) => Err(e),
                }
            })
            .await?;
        match outcome {
            FetchOutcome::Records(fetched) => Ok(fetched),
            FetchOutcome::OutOfRange(high_watermark) => {
                let earliest = self.earliest().await.ok();
                Err(self.out_of_range(offset, earliest, high_watermark))
            }
        }
    }

    /// The user's error of reading at an offset the partition does not hold.
    pub(crate) fn out_of_range(
        &self,
        offset: i64,
        earliest: Option<i64>,
        high_watermark: Option<i64>,
    ) -> ConnectorError {
        let holds = match (earliest, high_watermark) {
            (Some(e), Some(h)) if h > e => format!("it holds offsets {e} to {}", h - 1),
            (Some(e), Some(_)) => format!("it is empty, its next offset is {e}"),
            (Some(e), None) => format!("its earliest offset is {e}"),
            (None, Some(h)) => format!("its next offset is {h}"),
            (None, None) => "its offsets could not be read".to_string(),
        };
        ConnectorError::User(format!(
            "offset {offset} is not in {} ({holds}): the records from offset {offset} on were deleted (retention), or the topic was deleted and created again; the task cannot resume where it stopped without skipping records",
            self.describe()
        ))
    }

    /// The offset of the partition's earliest record still kept.
    pub async fn earliest(&self) -> Result<i64, ConnectorError> {
        self.offset(OffsetAt::Earliest, "earliest offset").await
    }

    /// The first offset whose record was written at or after `millis` (epoch ms), or -1 when
    /// there is none.
    pub async fn offset_at_time(&self, millis: i64) -> Result<i64, ConnectorError> {
        use rskafka::chrono::TimeZone;
        let at = rskafka::chrono::Utc
            .timestamp_millis_opt(millis)
            .single()
            .ok_or_else(|| ConnectorError::User(format!("{millis} is not a time in ms")))?;
        self.offset(OffsetAt::Timestamp(at), "offset at a time")
            .await
    }

    async fn offset(&self, at: OffsetAt, name: &str) -> Result<i64, ConnectorError> {
        let what = || format!("cannot read the {name} of {}", self.describe());
        let timeout = self.client.policy().admin_timeout;
        self.client
            .call(&what, timeout, |c| async move {
                self.of(&c).await?.get_offset(at).await
            })
            .await
    }

    /// The offset after the last record (the high watermark, from a fetch: some brokers
    /// answer `ListOffsets` for the latest offset wrongly).
    pub async fn high_watermark(&self) -> Result<i64, ConnectorError> {
        let earliest = self.earliest().await?;
        Ok(self.fetch(earliest, 2, 1).await?.high_watermark)
    }

    /// Writes `records` as one batch (acks=all); a batch refused for its content is
    /// [`Produced::Refused`].
    pub async fn produce(
        &self,
        records: Vec<Record>,
        compression: Compression,
    ) -> Result<Produced, ConnectorError> {
        let what = || format!("cannot produce to {}", self.describe());
        let timeout = self.client.policy().data_timeout;
        let records = Arc::new(records);
        self.client
            .call(&what, timeout, |c| {
                let records = (*records).clone();
                async move {
                    let pc = self.of(&c).await?;
                    match pc.produce(records, compression).await {
                        Ok(_) => Ok(Produced::Written),
                        Err(e) if is_refusal(&e) => Ok(Produced::Refused(explain(&e))),
                        Err(e) => Err(e),
                    }
                }
            })
            .await
    }
}

/// Whether the broker refused a batch for its content.
fn is_refusal(e: &KafkaError) -> bool {
    matches!(
        protocol_error(e),
        Some(
            ProtocolError::MessageTooLarge
                | ProtocolError::RecordListTooLarge
                | ProtocolError::InvalidRecord
        )
    )
}
