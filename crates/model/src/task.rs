//! The task record: one per manifest line, with its checkpoint, progress and execution logs.

use crate::status::TaskStatus;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What one task reads. For the S3 readers it is the file (or files, keyed by file type).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskDefinition {
    pub reader_type: String,
    /// The manifest line the task was made from.
    pub manifest_line: String,
    /// Index of the line among the manifest's non-empty lines (0-based).
    pub manifest_index: u64,
    /// File type → file name (key in the read bucket). Empty for stream, queue and table tasks.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// The stream ARN, queue name or table name a stream, queue or table task reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The shard a Kinesis or DynamoDB Streams task reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_id: Option<String>,
    /// The closed shard whose child this shard is, when its task was added as the parent
    /// finished (it is read from its start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_shard_id: Option<String>,
    /// The parallel-scan segment (and the number of segments) a DynamoDB table task scans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_segments: Option<u32>,
}

/// Where a task resumes. Advanced only after the output and error objects before it are durable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// File type → offset (in the decompressed stream) where reading resumes, as a string
    /// like LetsData's offset maps.
    pub offsets: BTreeMap<String, String>,
    /// File type → type of the last record processed.
    pub last_record_types: BTreeMap<String, String>,
    /// Number of the next output/error part object (`part-<n>`).
    pub next_part: u64,
    /// Progress counters as of this checkpoint.
    pub progress: TaskProgress,
    /// The reader reached the end of its input; everything before it is durable.
    #[serde(default)]
    pub end_of_input: bool,
    /// Kinesis and DynamoDB Streams tasks: the last sequence number whose documents are durable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<String>,
    /// Kinesis tasks starting at `Latest`: when the task first read its shard (epoch ms), so
    /// later invocations resume there (`AT_TIMESTAMP`) until a record gives a sequence number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_start_millis: Option<i64>,
    /// DynamoDB table tasks: where the scan of the segment resumes (typed JSON of the key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_evaluated_key: Option<String>,
    /// DynamoDB table tasks: completed scans of the segment (`Continuous` scans repeat).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub completed_scans: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Counters for one task.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskProgress {
    pub records_read: u64,
    pub documents_written: u64,
    pub error_records: u64,
    pub skip_records: u64,
    pub bytes_read: u64,
}

impl TaskProgress {
    pub fn add(&mut self, other: &TaskProgress) {
        self.records_read += other.records_read;
        self.documents_written += other.documents_written;
        self.error_records += other.error_records;
        self.skip_records += other.skip_records;
        self.bytes_read += other.bytes_read;
    }
}

/// One invocation of a task (LetsData: one Lambda invocation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskExecutionLog {
    pub worker_process_id: String,
    pub start_datetime: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_datetime: Option<i64>,
    /// `COMPLETED`, `RERUN`, `ERRORED`, or `LEASE_LOST` when the worker died or lost the lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A task as stored and as printed by `letsdata tasks view`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub task_id: String,
    pub dataset_name: String,
    pub dataset_id: String,
    pub tenant_id: String,
    pub task_type: String,
    pub task_status: TaskStatus,
    pub task_definition: TaskDefinition,
    pub task_progress: TaskProgress,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub task_execution_logs: Vec<TaskExecutionLog>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_process_id: Option<String>,
    pub create_datetime: i64,
    pub update_datetime: i64,
}
