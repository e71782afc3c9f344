//! Kinesis data streams: shards, shard readers, the `PutRecords` writer and stream admin.
//!
//! **Reading.** A reading task owns one shard. [`KinesisClient::list_shards`] returns every
//! shard with its parent ids, so a caller can make one task per shard and start a child only
//! after its parents are closed and drained (which keeps per-key order across resharding).
//! A [`KinesisShardReader`] (the shared shard reader, [`crate::aws::shard`]) takes a shard
//! iterator from a [`ShardStart`] and [`KinesisShardReader::poll`] returns one `GetRecords`
//! batch; the caller checkpoints the last sequence number it processed and resumes with
//! [`ShardStart::AfterSequenceNumber`].
//!
//! **Writing.** [`KinesisWriter::put_records`] gzip-compresses each document (as LetsData
//! does; consumers gunzip, see [`gunzip`]), hashes partition keys longer than 256 bytes to
//! their SHA-256 hex, rejects records still over 1 MiB, and sends `PutRecords` calls of at
//! most 500 records and 5 MiB. Records that fail inside a call (`FailedRecordCount`,
//! throttling or internal failure of a shard) are sent again with back-off, up to the retry
//! policy's attempts; after that the call fails (transient). A retried record may land after
//! records that followed it in the input, so order is kept per partition key only when the
//! caller waits for one call before the next one with the same key.

use crate::aws::shard::{ShardApi, ShardPage, ShardReader};
use crate::aws::{
    BatchReport, RetryPolicy, ShardStart, aws_error, has_code, retry, sdk_error, system_time,
};
use crate::{ConnectorError, FailureKind};
use async_trait::async_trait;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::{Blob, DateTime};
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType, StreamStatus};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Largest record: data plus partition key.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// Largest `PutRecords` request: data plus partition keys of all records.
pub const MAX_REQUEST_BYTES: usize = 5 * 1024 * 1024;
/// Most records in one `PutRecords` request.
pub const MAX_REQUEST_RECORDS: usize = 500;
/// Longest partition key; longer ones are replaced by their SHA-256 hex.
pub const MAX_PARTITION_KEY_BYTES: usize = 256;

/// Kinesis calls; cheap to clone.
#[derive(Debug, Clone)]
pub struct KinesisClient {
    client: Client,
    retry: RetryPolicy,
}

/// One shard of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KinesisShard {
    /// `shardId-000000000000`.
    pub shard_id: String,
    /// The shard this one was split from, or the first of the two merged into it.
    pub parent_shard_id: Option<String>,
    /// The second shard merged into this one.
    pub adjacent_parent_shard_id: Option<String>,
    /// First sequence number of the shard.
    pub starting_sequence_number: String,
    /// Last sequence number; `Some` once the shard is closed.
    pub ending_sequence_number: Option<String>,
    /// Lowest hash key (decimal) routed to the shard.
    pub starting_hash_key: String,
    /// Highest hash key (decimal) routed to the shard.
    pub ending_hash_key: String,
}

impl KinesisShard {
    /// Whether the shard takes no more records (it was split or merged).
    pub fn is_closed(&self) -> bool {
        self.ending_sequence_number.is_some()
    }

    /// The shards that must be read to the end before this one.
    pub fn parent_ids(&self) -> impl Iterator<Item = &str> {
        self.parent_shard_id
            .iter()
            .chain(self.adjacent_parent_shard_id.iter())
            .map(String::as_str)
    }
}

/// A stream, as `DescribeStreamSummary` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KinesisStreamInfo {
    /// Stream name.
    pub name: String,
    /// Stream ARN.
    pub arn: String,
    /// `CREATING`, `ACTIVE`, `UPDATING` or `DELETING`.
    pub status: String,
    /// Open shards.
    pub open_shard_count: i32,
    /// How long records stay readable.
    pub retention_period_hours: i32,
}

/// One record read from a shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KinesisRecord {
    /// The partition key the producer gave.
    pub partition_key: String,
    /// Position in the shard; the checkpoint.
    pub sequence_number: String,
    /// When Kinesis accepted the record.
    pub arrival_timestamp: Option<SystemTime>,
    /// The record's bytes as written (gzip for records written by [`KinesisWriter`]).
    pub data: Bytes,
}

/// One `GetRecords` result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KinesisBatch {
    /// Records in shard order; may be empty even when more follow.
    pub records: Vec<KinesisRecord>,
    /// How far the reader is behind the tip of the shard.
    pub millis_behind_latest: Option<i64>,
    /// The shard is closed and every record of it has been returned.
    pub shard_closed: bool,
    /// The shards that continue this one, once it is closed.
    pub child_shard_ids: Vec<String>,
}

/// A record to write: the caller's partition key and the uncompressed document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KinesisPutRecord {
    /// Partition key (any length; hashed when over 256 bytes).
    pub partition_key: String,
    /// The serialized document; the writer gzips it.
    pub data: Bytes,
}

impl KinesisClient {
    /// Wraps an SDK client.
    pub fn new(client: Client, retry: RetryPolicy) -> Self {
        Self { client, retry }
    }

    /// Creates a provisioned stream with this many shards and these tags; `false` when a
    /// stream of that name exists already (left as it is). The stream is `CREATING` at first;
    /// see [`KinesisClient::wait_active`].
    pub async fn create_stream(
        &self,
        name: &str,
        shard_count: i32,
        tags: &[(&str, &str)],
    ) -> Result<bool, ConnectorError> {
        let what = format!("cannot create Kinesis stream {name:?}");
        let r = retry(&self.retry, &what, || {
            let mut req = self
                .client
                .create_stream()
                .stream_name(name)
                .shard_count(shard_count);
            for (k, v) in tags {
                req = req.tags(*k, *v);
            }
            req.send()
        })
        .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) if has_code(&e, "ResourceInUseException") => Ok(false),
            Err(e) => Err(sdk_error(what, e)),
        }
    }

    /// The tags of a stream (name).
    pub async fn tags(&self, name: &str) -> Result<Vec<(String, String)>, ConnectorError> {
        let what = format!("cannot list the tags of Kinesis stream {name:?}");
        let out = retry(&self.retry, &what, || {
            self.client.list_tags_for_stream().stream_name(name).send()
        })
        .await
        .map_err(|e| sdk_error(what, e))?;
        Ok(out
            .tags
            .into_iter()
            .map(|t| (t.key, t.value.unwrap_or_default()))
            .collect())
    }

    /// Adds tags to an `ACTIVE` stream (name); tags it has already are kept or overwritten.
    pub async fn add_tags(&self, name: &str, tags: &[(&str, &str)]) -> Result<(), ConnectorError> {
        let what = format!("cannot tag Kinesis stream {name:?}");
        retry(&self.retry, &what, || {
            let mut req = self.client.add_tags_to_stream().stream_name(name);
            for (k, v) in tags {
                req = req.tags(*k, *v);
            }
            req.send()
        })
        .await
        .map_err(|e| sdk_error(what, e))?;
        Ok(())
    }

    /// Describes a stream given by name or ARN (`arn:...`); `None` when it does not exist.
    pub async fn describe_stream(
        &self,
        name_or_arn: &str,
    ) -> Result<Option<KinesisStreamInfo>, ConnectorError> {
        let what = format!("cannot describe Kinesis stream {name_or_arn:?}");
        let r = retry(&self.retry, &what, || {
            let req = self.client.describe_stream_summary();
            if is_arn(name_or_arn) {
                req.stream_arn(name_or_arn).send()
            } else {
                req.stream_name(name_or_arn).send()
            }
        })
        .await;
        match r {
            Ok(out) => Ok(out.stream_description_summary.map(|s| KinesisStreamInfo {
                name: s.stream_name,
                arn: s.stream_arn,
                status: s.stream_status.as_str().to_string(),
                open_shard_count: s.open_shard_count,
                retention_period_hours: s.retention_period_hours,
            })),
            Err(e) if has_code(&e, "ResourceNotFoundException") => Ok(None),
            Err(e) => Err(sdk_error(what, e)),
        }
    }

    /// Whether a stream (name or ARN) exists, in any status.
    pub async fn exists(&self, name_or_arn: &str) -> Result<bool, ConnectorError> {
        Ok(self.describe_stream(name_or_arn).await?.is_some())
    }

    /// Waits until the stream (name or ARN) is `ACTIVE`; fails when it does not exist or
    /// the timeout passes first.
    pub async fn wait_active(
        &self,
        name_or_arn: &str,
        timeout: Duration,
    ) -> Result<KinesisStreamInfo, ConnectorError> {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(100);
        loop {
            match self.describe_stream(name_or_arn).await? {
                Some(info) if info.status == StreamStatus::Active.as_str() => return Ok(info),
                Some(_) if Instant::now() < deadline => {}
                Some(info) => {
                    return Err(aws_error(
                        format!("Kinesis stream {name_or_arn:?} is not active"),
                        format!("still {} after {timeout:?}", info.status),
                        FailureKind::Transient,
                    ));
                }
                None => {
                    return Err(aws_error(
                        format!("Kinesis stream {name_or_arn:?} is not active"),
                        "the stream does not exist",
                        FailureKind::User,
                    ));
                }
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// Deletes a stream (name or ARN) and its consumers. Idempotent.
    pub async fn delete_stream(&self, name_or_arn: &str) -> Result<(), ConnectorError> {
        let what = format!("cannot delete Kinesis stream {name_or_arn:?}");
        let r = retry(&self.retry, &what, || {
            let req = self.client.delete_stream().enforce_consumer_deletion(true);
            if is_arn(name_or_arn) {
                req.stream_arn(name_or_arn).send()
            } else {
                req.stream_name(name_or_arn).send()
            }
        })
        .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if has_code(&e, "ResourceNotFoundException") => Ok(()),
            Err(e) => Err(sdk_error(what, e)),
        }
    }

    /// Every shard of the stream, open and closed, in `ListShards` order (parents first).
    pub async fn list_shards(&self, stream_arn: &str) -> Result<Vec<KinesisShard>, ConnectorError> {
        let what = format!("cannot list the shards of Kinesis stream {stream_arn}");
        let mut shards = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            // The stream and the token are mutually exclusive: the token names the stream.
            let out = retry(&self.retry, &what, || match &next_token {
                Some(t) => self.client.list_shards().next_token(t).send(),
                None => self.client.list_shards().stream_arn(stream_arn).send(),
            })
            .await
            .map_err(|e| sdk_error(&what, e))?;
            for s in out.shards.unwrap_or_default() {
                let (start_seq, end_seq) = s
                    .sequence_number_range
                    .map(|r| (r.starting_sequence_number, r.ending_sequence_number))
                    .unwrap_or_default();
                let (start_hash, end_hash) = s
                    .hash_key_range
                    .map(|r| (r.starting_hash_key, r.ending_hash_key))
                    .unwrap_or_default();
                shards.push(KinesisShard {
                    shard_id: s.shard_id,
                    parent_shard_id: s.parent_shard_id,
                    adjacent_parent_shard_id: s.adjacent_parent_shard_id,
                    starting_sequence_number: start_seq,
                    ending_sequence_number: end_seq,
                    starting_hash_key: start_hash,
                    ending_hash_key: end_hash,
                });
            }
            match out.next_token {
                Some(t) if !t.is_empty() => next_token = Some(t),
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
    ) -> KinesisShardReader {
        let api = KinesisShardApi {
            kinesis: self.clone(),
            stream_arn: Arc::from(stream_arn),
        };
        KinesisShardReader(ShardReader::new(api, shard_id, start, 10_000))
    }

    /// A writer to the stream.
    pub fn writer(&self, stream_arn: &str) -> KinesisWriter {
        KinesisWriter {
            kinesis: self.clone(),
            stream_arn: stream_arn.to_string(),
        }
    }

    async fn shard_iterator(
        &self,
        stream_arn: &str,
        shard_id: &str,
        from: &ShardStart,
    ) -> Result<String, ConnectorError> {
        let what = format!("cannot open shard {shard_id} of Kinesis stream {stream_arn}");
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
                    .starting_sequence_number(seq),
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
pub struct KinesisShardReader(ShardReader<KinesisShardApi>);

/// The Kinesis calls of a shard reader.
#[derive(Debug)]
pub(crate) struct KinesisShardApi {
    pub(crate) kinesis: KinesisClient,
    pub(crate) stream_arn: Arc<str>,
}

#[async_trait]
impl ShardApi for KinesisShardApi {
    type Record = KinesisRecord;

    async fn iterator(&self, shard: &str, from: &ShardStart) -> Result<String, ConnectorError> {
        self.kinesis
            .shard_iterator(&self.stream_arn, shard, from)
            .await
    }

    async fn get_records(
        &self,
        shard: &str,
        iterator: &str,
        limit: i32,
    ) -> Result<Option<ShardPage<KinesisRecord>>, ConnectorError> {
        let what = format!(
            "cannot read shard {shard} of Kinesis stream {}",
            self.stream_arn
        );
        let r = retry(&self.kinesis.retry, &what, || {
            self.kinesis
                .client
                .get_records()
                .stream_arn(&*self.stream_arn)
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
        Ok(Some(ShardPage {
            records: out
                .records
                .into_iter()
                .map(|r| KinesisRecord {
                    partition_key: r.partition_key.unwrap_or_default(),
                    arrival_timestamp: r
                        .approximate_arrival_timestamp
                        .as_ref()
                        .and_then(system_time),
                    sequence_number: r.sequence_number,
                    data: Bytes::from(r.data.into_inner()),
                })
                .collect(),
            next_iterator: out.next_shard_iterator,
            millis_behind_latest: out.millis_behind_latest,
            child_shard_ids: out
                .child_shards
                .unwrap_or_default()
                .into_iter()
                .map(|c| c.shard_id)
                .collect(),
        }))
    }

    fn sequence_number(record: &KinesisRecord) -> &str {
        &record.sequence_number
    }
}

impl KinesisShardReader {
    /// Sets the most records one poll returns (1..=10000, the default 10000).
    pub fn with_limit(mut self, limit: i32) -> Self {
        self.0.limit = limit.clamp(1, 10_000);
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

    /// Returns the next batch of records (possibly empty). Callers poll again after a pause
    /// when the batch is empty and `millis_behind_latest` is 0 (Kinesis allows five
    /// `GetRecords` per second and shard).
    pub async fn poll(&mut self) -> Result<KinesisBatch, ConnectorError> {
        let page = self.0.poll().await?;
        Ok(KinesisBatch {
            records: page.records,
            millis_behind_latest: page.millis_behind_latest,
            shard_closed: page.next_iterator.is_none(),
            child_shard_ids: page.child_shard_ids,
        })
    }
}

/// Writes gzip-compressed documents to one stream; see the module docs.
#[derive(Debug, Clone)]
pub struct KinesisWriter {
    kinesis: KinesisClient,
    stream_arn: String,
}

impl KinesisWriter {
    /// The stream written.
    pub fn stream_arn(&self) -> &str {
        &self.stream_arn
    }

    /// Writes the records in `PutRecords` calls within the service limits. Returns how many
    /// were written and which were rejected (over 1 MiB after gzip, empty partition key);
    /// fails when a call fails for good or records still fail after the retries.
    pub async fn put_records(
        &self,
        records: &[KinesisPutRecord],
    ) -> Result<BatchReport, ConnectorError> {
        let mut report = BatchReport::default();
        let mut batch: Vec<(usize, PutRecordsRequestEntry)> = Vec::new();
        let mut batch_bytes = 0;
        for (index, record) in records.iter().enumerate() {
            if record.partition_key.is_empty() {
                report.reject(index, "the partition key is empty");
                continue;
            }
            let key = effective_partition_key(&record.partition_key);
            let data = gzip(&record.data);
            let size = data.len() + key.len();
            if size > MAX_RECORD_BYTES {
                report.reject(
                    index,
                    format!(
                        "record of {size} bytes (gzip-compressed document and partition key) exceeds the Kinesis limit of {MAX_RECORD_BYTES} bytes"
                    ),
                );
                continue;
            }
            if batch.len() == MAX_REQUEST_RECORDS || batch_bytes + size > MAX_REQUEST_BYTES {
                report.succeeded += self.send(std::mem::take(&mut batch)).await?;
                batch_bytes = 0;
            }
            let entry = PutRecordsRequestEntry::builder()
                .data(Blob::new(data))
                .partition_key(key)
                .build()
                .map_err(|e| {
                    aws_error(
                        "cannot build a Kinesis record",
                        e.to_string(),
                        FailureKind::Internal,
                    )
                })?;
            batch.push((index, entry));
            batch_bytes += size;
        }
        if !batch.is_empty() {
            report.succeeded += self.send(batch).await?;
        }
        Ok(report.finish())
    }

    /// One `PutRecords` call, then calls for the records that failed, until none fail.
    async fn send(
        &self,
        mut pending: Vec<(usize, PutRecordsRequestEntry)>,
    ) -> Result<usize, ConnectorError> {
        let what = format!("cannot put records to Kinesis stream {}", self.stream_arn);
        let total = pending.len();
        let policy = &self.kinesis.retry;
        let mut attempt = 1;
        loop {
            let entries: Vec<PutRecordsRequestEntry> =
                pending.iter().map(|(_, e)| e.clone()).collect();
            let out = retry(policy, &what, || {
                self.kinesis
                    .client
                    .put_records()
                    .stream_arn(&self.stream_arn)
                    .set_records(Some(entries.clone()))
                    .send()
            })
            .await
            .map_err(|e| sdk_error(&what, e))?;
            if out.failed_record_count.unwrap_or(0) == 0 {
                return Ok(total);
            }
            // Results are in request order; failed ones carry an error code.
            let mut first_error = String::new();
            let mut failed = Vec::new();
            for (entry, result) in pending.into_iter().zip(out.records.iter()) {
                if let Some(code) = &result.error_code {
                    if first_error.is_empty() {
                        first_error = format!(
                            "{code}: {}",
                            result.error_message.as_deref().unwrap_or_default()
                        );
                    }
                    failed.push(entry);
                }
            }
            if failed.is_empty() {
                return Ok(total);
            }
            if attempt >= policy.max_attempts {
                return Err(aws_error(
                    what,
                    format!(
                        "{} of {total} records still failing after {attempt} attempts ({first_error})",
                        failed.len()
                    ),
                    FailureKind::Transient,
                ));
            }
            tracing::debug!(
                stream = %self.stream_arn,
                failed = failed.len(),
                attempt,
                "retrying failed Kinesis records"
            );
            tokio::time::sleep(policy.backoff(attempt - 1)).await;
            attempt += 1;
            pending = failed;
        }
    }
}

/// The partition key sent for `key`: itself up to 256 bytes, else its SHA-256 hex (64 bytes),
/// which keeps records of one key on one shard.
pub fn effective_partition_key(key: &str) -> String {
    if key.len() <= MAX_PARTITION_KEY_BYTES {
        key.to_string()
    } else {
        format!("{:x}", Sha256::digest(key.as_bytes()))
    }
}

pub use crate::gzip::{gunzip, gzip};

fn is_arn(name_or_arn: &str) -> bool {
    name_or_arn.starts_with("arn:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_partition_keys_are_hashed_to_sha256_hex() {
        assert_eq!(effective_partition_key("doc-1"), "doc-1");
        let exact = "k".repeat(256);
        assert_eq!(effective_partition_key(&exact), exact);
        let long = "k".repeat(257);
        let hashed = effective_partition_key(&long);
        assert_eq!(hashed.len(), 64);
        assert!(hashed.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            hashed,
            "a5de0e3c93b4322bf1d2e6cc13119219d665142374de7f2b06bae237759c73e2"
        );
    }
}
