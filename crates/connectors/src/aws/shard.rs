//! Reading one shard, batch by batch: the part of Kinesis and DynamoDB Streams that is the same.
//!
//! A [`ShardReader`] takes a shard iterator from its [`ShardStart`] on the first poll, and
//! after that follows the next iterator each `GetRecords` returns. It remembers the sequence
//! number of the last record returned: the caller checkpoints it and resumes with
//! [`ShardStart::AfterSequenceNumber`]. An iterator that expired (they live 5 minutes) is
//! taken again after the last sequence number returned, so nothing is skipped or repeated; a
//! `LATEST` reader that has returned nothing yet renews at a few seconds before it first
//! started, so nothing is skipped either. A shard is closed (split or merged) when
//! `GetRecords` returns no next iterator; the reader then returns empty batches with
//! `shard_closed`.

use super::ShardStart;
use crate::ConnectorError;
use crate::source::{
    Next, RecordBatch, RecordSource, SourceRecord, TaskSeed, from_fields, to_fields,
};
use async_trait::async_trait;
use letsdata_model::spec::{StreamManifest, StreamStart, StreamStop};
use letsdata_model::task::{ConnectorFields, TaskDefinition};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How far before the first `LATEST` iterator a renewed one starts, against clock skew
/// between this machine and the service (records in the margin may be read twice, none lost).
const LATEST_RENEWAL_MARGIN: Duration = Duration::from_secs(5);

/// One `GetRecords` result.
pub(crate) struct ShardPage<R> {
    pub records: Vec<R>,
    /// `None` once the shard is closed and every record of it returned.
    pub next_iterator: Option<String>,
    pub millis_behind_latest: Option<i64>,
    /// The shards that continue this one, when the service says.
    pub child_shard_ids: Vec<String>,
}

/// The service calls a shard reader makes.
#[async_trait]
pub(crate) trait ShardApi: Send + Sync {
    type Record: Send;

    /// An iterator of `shard` at `from`.
    async fn iterator(&self, shard: &str, from: &ShardStart) -> Result<String, ConnectorError>;

    /// One `GetRecords` call (retried as the policy says); `Ok(None)` when the iterator expired.
    async fn get_records(
        &self,
        shard: &str,
        iterator: &str,
        limit: i32,
    ) -> Result<Option<ShardPage<Self::Record>>, ConnectorError>;

    /// A record's sequence number.
    fn sequence_number(record: &Self::Record) -> &str;
}

/// Reads one shard; see the module docs.
#[derive(Debug)]
pub(crate) struct ShardReader<A> {
    pub(crate) api: A,
    shard_id: String,
    start: ShardStart,
    iterator: Option<String>,
    /// When the first `LATEST` iterator was taken, to renew it without losing records.
    latest_taken_at: Option<SystemTime>,
    last_sequence_number: Option<String>,
    closed: bool,
    pub(crate) limit: i32,
}

impl<A: ShardApi> ShardReader<A> {
    pub(crate) fn new(api: A, shard_id: &str, start: ShardStart, limit: i32) -> Self {
        Self {
            api,
            shard_id: shard_id.to_string(),
            start,
            iterator: None,
            latest_taken_at: None,
            last_sequence_number: None,
            closed: false,
            limit,
        }
    }

    pub(crate) fn shard_id(&self) -> &str {
        &self.shard_id
    }

    pub(crate) fn last_sequence_number(&self) -> Option<&str> {
        self.last_sequence_number.as_deref()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Where to take an iterator: after the last record returned, else the start; a `LATEST`
    /// reader that has returned nothing yet renews at the time it first started.
    fn position(&self) -> ShardStart {
        match (
            &self.last_sequence_number,
            &self.start,
            self.latest_taken_at,
        ) {
            (Some(seq), _, _) => ShardStart::AfterSequenceNumber(seq.clone()),
            (None, ShardStart::Latest, Some(at)) => {
                ShardStart::AtTimestamp(at.checked_sub(LATEST_RENEWAL_MARGIN).unwrap_or(at))
            }
            (None, start, _) => start.clone(),
        }
    }

    /// The next batch of records (possibly empty); an empty page with the shard closed once
    /// it is read to its end.
    pub(crate) async fn poll(&mut self) -> Result<ShardPage<A::Record>, ConnectorError> {
        if self.closed {
            return Ok(ShardPage {
                records: Vec::new(),
                next_iterator: None,
                millis_behind_latest: None,
                child_shard_ids: Vec::new(),
            });
        }
        let mut renewed = false;
        let page = loop {
            let iterator = match &self.iterator {
                Some(it) => it.clone(),
                None => {
                    let position = self.position();
                    if position == ShardStart::Latest {
                        self.latest_taken_at = Some(SystemTime::now());
                    }
                    let it = self.api.iterator(&self.shard_id, &position).await?;
                    self.iterator = Some(it.clone());
                    it
                }
            };
            match self
                .api
                .get_records(&self.shard_id, &iterator, self.limit)
                .await?
            {
                Some(page) => break page,
                None if !renewed => {
                    tracing::debug!(shard = %self.shard_id, "shard iterator expired, renewing");
                    self.iterator = None;
                    renewed = true;
                }
                None => {
                    return Err(crate::aws::aws_error(
                        format!("cannot read shard {}", self.shard_id),
                        "the shard iterator expired again right after it was renewed",
                        crate::FailureKind::Transient,
                    ));
                }
            }
        };
        if let Some(last) = page.records.last() {
            self.last_sequence_number = Some(A::sequence_number(last).to_string());
        }
        self.iterator = page.next_iterator.clone();
        self.closed = self.iterator.is_none();
        Ok(page)
    }
}

/// A shard task's own fields (`source`, `shardId`, `parentShardId`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ShardTask {
    /// The stream's ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_id: Option<String>,
    /// The closed shard whose child this one is, when its task was added as the parent
    /// finished (it is read from its start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_shard_id: Option<String>,
}

/// A shard task's position: the last sequence number whose output is durable, or, for a
/// `Latest` task that has not seen a record yet, when it first read (epoch ms).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ShardPosition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_start_millis: Option<i64>,
}

/// One task per shard, closed parents and their children alike. A shard task is identified by
/// its shard alone, so that the tasks a closed shard adds for its children are these.
pub(crate) fn shard_seeds(
    reader_type: &str,
    stream_arn: &str,
    shard_ids: impl IntoIterator<Item = String>,
) -> Vec<TaskSeed> {
    shard_ids
        .into_iter()
        .enumerate()
        .map(|(i, shard)| TaskSeed {
            identity: format!("0:{shard}"),
            ordinal: i as u64,
            definition: TaskDefinition {
                reader_type: reader_type.to_string(),
                manifest_line: shard.clone(),
                manifest_index: i as u64,
                input: to_fields(&ShardTask {
                    source: Some(stream_arn.to_string()),
                    shard_id: Some(shard),
                    parent_shard_id: None,
                }),
            },
        })
        .collect()
}

/// Epoch milliseconds as a time.
fn at_millis(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// A time as epoch milliseconds (0 when unknown).
pub(crate) fn millis(t: Option<SystemTime>) -> i64 {
    t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Where a shard task starts reading.
fn start_of(start: StreamStart, task: &ShardTask, position: &ShardPosition) -> ShardStart {
    if let Some(seq) = &position.sequence_number {
        return ShardStart::AfterSequenceNumber(seq.clone());
    }
    if task.parent_shard_id.is_some() {
        // A child found when its parent closed: every record of it is new to the dataset.
        return ShardStart::Earliest;
    }
    if let (StreamStart::Latest, Some(ms)) = (start, position.latest_start_millis) {
        // Resuming a `Latest` task that has not seen a record yet: from when it first read.
        return ShardStart::AtTimestamp(at_millis(ms));
    }
    match start {
        StreamStart::Earliest => ShardStart::Earliest,
        StreamStart::Latest => ShardStart::Latest,
        StreamStart::AtTimestamp(ms) => ShardStart::AtTimestamp(at_millis(ms)),
    }
}

/// What a stream adds to its shard API to be read by a [`ShardSource`].
#[async_trait]
pub(crate) trait ShardStream: ShardApi {
    /// A record as the engine sees it.
    fn record(&self, shard: &Arc<str>, record: Self::Record) -> SourceRecord;

    /// The shards that continue `shard` once it is closed.
    async fn children(&self, shard: &str) -> Result<Vec<String>, ConnectorError>;

    /// Whether a page with records says the reader is at the tip of the shard.
    fn caught_up(page: &ShardPage<Self::Record>) -> bool;
}

/// One shard task's records.
pub(crate) struct ShardSource<A> {
    reader: ShardReader<A>,
    shard: Arc<str>,
    task: ShardTask,
    definition: TaskDefinition,
    stop: StreamStop,
    empty_polls: u32,
    /// The last sequence number consumed, and for a `Latest` task without one, when it
    /// first read.
    position: ShardPosition,
    /// Sequence numbers of the last batch, to move the position on `consume`.
    batch: Vec<String>,
}

impl<A: ShardStream> ShardSource<A> {
    /// Opens a shard task at its checkpoint position.
    pub(crate) fn open(
        api: A,
        manifest: StreamManifest,
        definition: &TaskDefinition,
        position: &ConnectorFields,
        limit: i32,
    ) -> Result<Self, ConnectorError> {
        let task: ShardTask = from_fields(&definition.input, "shard task")?;
        let mut position: ShardPosition = from_fields(position, "shard position")?;
        let shard = task.shard_id.clone().ok_or_else(|| {
            ConnectorError::Corrupt(
                "the task definition has no shard id; the task database may be from another version".into(),
            )
        })?;
        if manifest.start == StreamStart::Latest && position.sequence_number.is_none() {
            position.latest_start_millis = Some(
                position
                    .latest_start_millis
                    .unwrap_or_else(letsdata_model::time::now_millis),
            );
        } else {
            position.latest_start_millis = None;
        }
        let start = start_of(manifest.start, &task, &position);
        Ok(Self {
            reader: ShardReader::new(api, &shard, start, limit),
            shard: Arc::from(shard.as_str()),
            task,
            definition: definition.clone(),
            stop: manifest.stop,
            empty_polls: 0,
            position,
            batch: Vec::new(),
        })
    }
}

#[async_trait]
impl<A: ShardStream> RecordSource for ShardSource<A> {
    fn label(&self) -> (&str, &str) {
        ("SHARD", &self.shard)
    }

    fn describe_start(&self) -> String {
        self.position
            .sequence_number
            .as_deref()
            .map(|s| format!("after sequence number {s}"))
            .unwrap_or_default()
    }

    async fn poll(&mut self) -> Result<RecordBatch, ConnectorError> {
        let page = self.reader.poll().await?;
        let closed = page.next_iterator.is_none();
        let next = if closed {
            Next::Finished(format!(
                "shard {} is closed and read to its end",
                self.shard
            ))
        } else if !page.records.is_empty() {
            self.empty_polls = 0;
            if A::caught_up(&page) {
                Next::CaughtUp
            } else {
                Next::More
            }
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
        self.batch.clear();
        let api = &self.reader.api;
        let records = page
            .records
            .into_iter()
            .map(|r| {
                self.batch.push(A::sequence_number(&r).to_string());
                api.record(&self.shard, r)
            })
            .collect();
        Ok(RecordBatch { records, next })
    }

    fn consume(&mut self, n: usize) {
        if let Some(seq) = n.checked_sub(1).and_then(|last| self.batch.get(last)) {
            self.position.sequence_number = Some(seq.clone());
            self.position.latest_start_millis = None;
        }
        self.batch.drain(..n.min(self.batch.len()));
    }

    fn position(&self) -> Result<ConnectorFields, ConnectorError> {
        Ok(to_fields(&self.position))
    }

    async fn follow_ups(&mut self) -> Result<Vec<TaskSeed>, ConnectorError> {
        if !self.reader.is_closed() {
            return Ok(Vec::new());
        }
        let children = self.reader.api.children(&self.shard).await?;
        Ok(children
            .into_iter()
            .map(|child| TaskSeed {
                identity: format!("0:{child}"),
                ordinal: self.definition.manifest_index,
                definition: TaskDefinition {
                    reader_type: self.definition.reader_type.clone(),
                    manifest_line: child.clone(),
                    manifest_index: self.definition.manifest_index,
                    input: to_fields(&ShardTask {
                        source: self.task.source.clone(),
                        shard_id: Some(child),
                        parent_shard_id: Some(self.shard.to_string()),
                    }),
                },
            })
            .collect())
    }
}
