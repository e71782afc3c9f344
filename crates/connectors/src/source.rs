//! Read sources: what the engine asks of a read connector.
//!
//! A [`ReadSource`] is made from a dataset's configuration by the registry. At `datasets
//! create` it checks that what it reads exists; initialization asks it for the dataset's tasks
//! ([`TaskSeed`]s: a file or a set of files per manifest line, a shard, a scan segment, a
//! queue worker, a partition); each task invocation opens its task at the checkpoint position.
//!
//! A task comes in one of two shapes ([`TaskInput`]):
//!
//! * **files** ([`FileInput`]): objects streamed from an offset, which the engine decompresses
//!   and cuts into records itself (the cut depends on the implementation: a built-in parser's
//!   framing, a component's record hints, a state machine's record types). The position is
//!   [`FilePosition`]: an offset per file type, and the last record type read from each.
//! * **records** ([`RecordSource`]): batches of discrete records (stream records, messages,
//!   items) with their own ids and metadata. The source keeps its position itself: the engine
//!   says how many more records of the last batch it handled ([`RecordSource::consume`]) and asks
//!   for the position covering them ([`RecordSource::position`]) when it checkpoints.
//!
//! A position is the connector's own JSON object, stored flattened into the task's checkpoint
//! (see [`letsdata_model::task::Checkpoint`]); a connector must keep reading the fields it wrote
//! in earlier releases.
//!
//! # The commit protocol of a record source
//!
//! ```text
//! poll ─► records ─► engine: documents and error records buffered ─► consume(n)
//!   ... ─► before_commit ─► output made durable ─► checkpoint(position()) ─► after_commit
//! ```
//!
//! `after_commit` is where a queue deletes the messages now covered (they are redelivered if
//! the process dies before it); `before_commit` keeps them invisible while the output is made
//! durable; `release` gives back the records of a batch that will not be handled (a failure).

use crate::ConnectorContext;
use crate::ConnectorError;
use crate::s3::{Bucket, ObjectRead};
use async_trait::async_trait;
use bytes::Bytes;
use letsdata_model::ConnectorResource;
use letsdata_model::Problem;
use letsdata_model::record::RecordMeta;
use letsdata_model::task::{ConnectorFields, TaskDefinition};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A dataset's read connector.
#[async_trait]
pub trait ReadSource: Send + Sync {
    /// What is read, for the dataset's resources (`datasets view`).
    fn resource(&self) -> ConnectorResource;

    /// LetsData's type of the tasks (`READER`, `KINESIS`, `SQS`, ...).
    fn task_type(&self) -> &'static str;

    /// LetsData's name of the interface a Wasm implementation must export
    /// (`SingleFileParser`, `KinesisRecordReader`, ...).
    fn wasm_interface(&self) -> &'static str;

    /// Checks, with IO, that what is read exists. Each problem names the field to fix.
    async fn check(&self, ctx: &ConnectorContext) -> Vec<Problem>;

    /// The dataset's tasks, made as they are taken (a manifest of millions of lines is never
    /// held whole as tasks). Fails (as the user's error) when there is nothing to read.
    async fn tasks(&self, ctx: &ConnectorContext) -> Result<TaskSeeds, ConnectorError>;

    /// Opens `task` at `position` (empty: from its start).
    async fn open(
        &self,
        ctx: &ConnectorContext,
        task: &TaskDefinition,
        position: &ConnectorFields,
    ) -> Result<TaskInput, ConnectorError>;
}

/// The tasks a source wants, in claim order, made one at a time.
pub type TaskSeeds = Box<dyn Iterator<Item = TaskSeed> + Send>;

/// [`TaskSeeds`] of tasks already made (a source with a handful of tasks).
pub fn seeds(tasks: Vec<TaskSeed>) -> TaskSeeds {
    Box::new(tasks.into_iter())
}

/// A task a source wants.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSeed {
    /// What makes the task unique in its dataset; its id is derived from it, so listing the
    /// tasks again (after a crash, or when a closed shard's children are found) adds none twice.
    pub identity: String,
    /// Claim order: lower first.
    pub ordinal: u64,
    pub definition: TaskDefinition,
}

/// An opened task.
pub enum TaskInput {
    /// Objects of a bucket, cut into records by the engine.
    Files(FileInput),
    /// Batches of discrete records.
    Records(Box<dyn RecordSource>),
}

impl std::fmt::Debug for TaskInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Files(files) => f.debug_tuple("Files").field(files).finish(),
            Self::Records(_) => f.write_str("Records"),
        }
    }
}

/// The files of a task, and where each resumes.
#[derive(Debug)]
pub struct FileInput {
    /// File type → key, one entry for single-file readers.
    pub files: BTreeMap<String, String>,
    /// The manifest line the task was made from.
    pub manifest_line: String,
    pub position: FilePosition,
    bucket: Bucket,
}

/// Attempts at opening an object before a transient failure is the task's failure.
const OPEN_ATTEMPTS: u32 = 3;

impl FileInput {
    /// Files of `bucket`.
    pub fn new(
        bucket: Bucket,
        files: BTreeMap<String, String>,
        manifest_line: String,
        position: FilePosition,
    ) -> Self {
        Self {
            files,
            manifest_line,
            position,
            bucket,
        }
    }

    /// The bucket the files are in.
    pub fn bucket_name(&self) -> &str {
        self.bucket.name()
    }

    /// Streams object `key` from byte `offset`, retrying failures a retry can fix (3 attempts,
    /// 200 ms doubling); `on_retry` hears about each retried failure.
    pub async fn open(
        &self,
        key: &str,
        offset: u64,
        on_retry: &(dyn Fn(&str) + Sync),
    ) -> Result<ObjectRead, ConnectorError> {
        let mut delay = std::time::Duration::from_millis(200);
        let mut attempt = 1;
        loop {
            match self.bucket.open_read(key, offset).await {
                Ok(o) => return Ok(o),
                Err(e) if e.kind() == crate::FailureKind::Transient && attempt < OPEN_ATTEMPTS => {
                    tracing::warn!(key, error = %e, attempt, "opening input failed; retrying");
                    on_retry(&format!(
                        "opening {key} failed (attempt {attempt} of {OPEN_ATTEMPTS}), retrying in {delay:?}: {e}"
                    ));
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Where the files of a task resume: the checkpoint position of file tasks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilePosition {
    /// File type → offset in the decompressed stream where reading resumes (a string, like
    /// LetsData's offset maps).
    #[serde(default)]
    pub offsets: BTreeMap<String, String>,
    /// File type → type of the last record read (state-machine readers).
    #[serde(default)]
    pub last_record_types: BTreeMap<String, String>,
}

impl FilePosition {
    /// Reads a checkpoint position (empty: every file from its start).
    pub fn from_fields(fields: &ConnectorFields) -> Result<Self, ConnectorError> {
        from_fields(fields, "file")
    }

    /// The position as checkpoint fields.
    pub fn to_fields(&self) -> ConnectorFields {
        to_fields(self)
    }

    /// Where `file_type` resumes (0 when it has no offset).
    pub fn offset(&self, file_type: &str) -> u64 {
        self.offsets
            .get(file_type)
            .and_then(|o| o.parse().ok())
            .unwrap_or(0)
    }
}

/// Reads a connector's position or task fields from their JSON.
pub(crate) fn from_fields<T: serde::de::DeserializeOwned>(
    fields: &ConnectorFields,
    what: &str,
) -> Result<T, ConnectorError> {
    serde_json::from_value(serde_json::Value::Object(fields.clone())).map_err(|e| {
        ConnectorError::Corrupt(format!(
            "the task's {what} fields cannot be read ({e}); the task database may come from another version"
        ))
    })
}

/// A connector's position or task fields as JSON.
pub(crate) fn to_fields<T: Serialize>(value: &T) -> ConnectorFields {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => ConnectorFields::new(),
    }
}

/// One record of a record source.
#[derive(Debug, Clone)]
pub struct SourceRecord {
    /// The record's own id (`<shard>:<sequence number>`, the message id, the item's key):
    /// error records name it, and it is the document id when the parser finds none.
    pub id: String,
    /// The record as read: what error records carry and reader components receive.
    pub raw: Bytes,
    /// What built-in parsers see when it differs from `raw` (a Kinesis record's gunzipped
    /// data), or why it cannot be decoded (the record then becomes an error record).
    pub decoded: Option<Result<Bytes, String>>,
    /// What reader components receive besides the bytes.
    pub meta: RecordMeta,
}

impl SourceRecord {
    /// The bytes built-in parsers see.
    pub fn data(&self) -> Result<&Bytes, &str> {
        match &self.decoded {
            None => Ok(&self.raw),
            Some(Ok(data)) => Ok(data),
            Some(Err(why)) => Err(why),
        }
    }
}

/// One poll's records and what follows them.
#[derive(Debug)]
pub struct RecordBatch {
    pub records: Vec<SourceRecord>,
    pub next: Next,
}

/// What follows a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Poll again at once.
    More,
    /// At the tip of the input: pause briefly before the next poll (Kinesis allows five reads a
    /// second per shard).
    CaughtUp,
    /// Nothing new: make what was read durable, then pause with growing back-off, unless
    /// `pause` is false (a long poll waited already).
    Idle { pause: bool },
    /// A pass over the input is complete (a `Continuous` scan): make it durable, then pause
    /// with growing back-off before the next pass.
    PassDone,
    /// The input is finished (a closed shard read to its end, a single scan done, the
    /// configured number of empty polls): the task completes. Says why, for the task log.
    Finished(String),
}

/// A task's input as batches of records; see the module docs for the commit protocol.
#[async_trait]
pub trait RecordSource: Send {
    /// The kind and name of what the task reads, for logs and error records
    /// (`("SHARD", "shardId-000000000001")`, `("QUEUE", "orders")`).
    fn label(&self) -> (&str, &str);

    /// Where the task starts, for the task log (`after sequence number 4960…`), or empty.
    fn describe_start(&self) -> String {
        String::new()
    }

    /// The next batch (possibly empty).
    async fn poll(&mut self) -> Result<RecordBatch, ConnectorError>;

    /// The next `n` records of the last batch (after those consumed already) were handled:
    /// the position moves past them.
    fn consume(&mut self, n: usize);

    /// The next `n` records of the last batch failed in user code and, by the reader error
    /// policy, stay where they are: a queue neither deletes them nor gives them back early
    /// (they are received again after their visibility timeout, or go to the queue's
    /// dead-letter queue); a stream or table moves past them, as `consume` does.
    fn leave(&mut self, n: usize) {
        self.consume(n);
    }

    /// The position covering every record consumed.
    fn position(&self) -> Result<ConnectorFields, ConnectorError>;

    /// Output covering the consumed records is about to be made durable.
    async fn before_commit(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }

    /// The checkpoint covering the consumed records is stored.
    async fn after_commit(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }

    /// The records of the last batch not consumed will not be handled by this task attempt.
    async fn release(&mut self) {}

    /// Tasks to add now that this one's input is finished (the children of a closed shard).
    async fn follow_ups(&mut self) -> Result<Vec<TaskSeed>, ConnectorError> {
        Ok(Vec::new())
    }
}
