//! The task record: one per manifest line, with its checkpoint, progress and execution logs.

use crate::status::TaskStatus;
use serde::{Deserialize, Serialize};

/// A connector-owned part of a task record: what a task reads, or where it resumes. Each
/// read connector defines and reads its own fields (the S3 reader `files`, the Kinesis reader
/// `shardId`, `sequenceNumber`, …); the task record itself names none of them, so adding a
/// connector adds no field here. Stored flattened into the task's JSON, so the records look as
/// they always did and records written by earlier releases read unchanged.
pub type ConnectorFields = serde_json::Map<String, serde_json::Value>;

/// What one task reads: the manifest line it was made from and its read connector's fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskDefinition {
    pub reader_type: String,
    /// The manifest line the task was made from (a file key, a shard, a segment, …).
    pub manifest_line: String,
    /// Index of the line among the manifest's non-empty lines (0-based).
    pub manifest_index: u64,
    /// The read connector's description of the input (`files`; `source` + `shardId`;
    /// `segment` + `totalSegments`; `partition`; …).
    #[serde(flatten)]
    pub input: ConnectorFields,
}

/// Where a task resumes. Advanced only after the output and error objects before it are durable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// Number of the next output/error part object (`part-<n>`).
    pub next_part: u64,
    /// Progress counters as of this checkpoint.
    pub progress: TaskProgress,
    /// The reader reached the end of its input; everything before it is durable.
    #[serde(default)]
    pub end_of_input: bool,
    /// The part objects of the part this checkpoint completed, staged (durable, not visible):
    /// made visible after the checkpoint is stored, by the worker that wrote them or, if it
    /// did not get to it, by the task's next attempt. Recorded under the lease token, so a
    /// worker that lost its task can never make a part visible.
    #[serde(default, skip_serializing_if = "StagedParts::is_empty")]
    pub staged_parts: StagedParts,
    /// The read connector's position, opaque to everything else: file offsets
    /// (`offsets`, `lastRecordTypes`), a shard's `sequenceNumber`, a scan's
    /// `lastEvaluatedKey`, a partition's `nextOffset`, …
    #[serde(flatten)]
    pub position: ConnectorFields,
}

/// What the write and error connectors' writers staged for one part, each as the writer
/// describes it (opaque to everything else: a staging file, an S3 upload id and its parts).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StagedParts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documents: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<serde_json::Value>,
}

impl StagedParts {
    pub fn is_empty(&self) -> bool {
        self.documents.is_none() && self.errors.is_none()
    }
}

/// The id of the task of a dataset with this identity (what makes it unique in its dataset:
/// `<line index>:<manifest line>`, `0:<shard id>`, ...): a UUID v5 in the dataset id's
/// namespace, so listing the tasks again yields the same ids.
pub fn task_id(dataset_id: &str, identity: &str) -> crate::TaskId {
    let namespace = uuid::Uuid::parse_str(dataset_id).unwrap_or(uuid::Uuid::NAMESPACE_OID);
    crate::TaskId::new(uuid::Uuid::new_v5(&namespace, identity.as_bytes()).to_string())
}

/// Counters for one task (a counter left out reads as 0: a new task stores `{}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskProgress {
    pub records_read: u64,
    pub documents_written: u64,
    pub error_records: u64,
    pub skip_records: u64,
    /// Bytes of input handled: a file's offset (its decompressed bytes for a compressed
    /// file), the sum of several files' offsets, the bytes of a stream's records.
    pub bytes_read: u64,
    /// The size of the task's input, where letsdata knows it before reading it all (one
    /// uncompressed file, read by `Single File Reader`): `bytesRead` of it is the task's
    /// progress. Left out (0) when it is not known: several files, a compressed file, a stream.
    #[serde(skip_serializing_if = "is_zero")]
    pub input_bytes: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl TaskProgress {
    /// Adds `other`'s counters (`input_bytes` is a task's own, not a counter: it stays).
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
    pub task_id: crate::TaskId,
    pub dataset_name: String,
    pub dataset_id: crate::DatasetId,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Records written before connectors owned their fields read unchanged, and are written
    /// back with the same keys.
    #[test]
    fn task_ids_are_stable() {
        let id = "8f0e4f8e-6a43-4c1b-9d7e-2f1f4d7a9b10";
        assert_eq!(task_id(id, "0:a"), task_id(id, "0:a"));
        assert_ne!(task_id(id, "0:a"), task_id(id, "1:a"));
        // The ids earlier releases gave (UUID v5 of "<index>:<line>") stay the same.
        assert_eq!(task_id(id, "0:a"), "0d3b9b95-e000-50c4-a56e-69b1ba04e926");
    }

    #[test]
    fn records_of_earlier_releases_read_and_round_trip() {
        let old_checkpoint = json!({
            "offsets": {"DATA": "1234"},
            "lastRecordTypes": {},
            "nextPart": 3,
            "progress": {"recordsRead": 10, "documentsWritten": 9, "errorRecords": 1,
                         "skipRecords": 0, "bytesRead": 1234},
            "endOfInput": false
        });
        let c: Checkpoint = serde_json::from_value(old_checkpoint.clone()).expect("old checkpoint");
        assert_eq!(c.next_part, 3);
        assert_eq!(c.progress.records_read, 10);
        assert_eq!(c.position["offsets"], json!({"DATA": "1234"}));
        assert_eq!(serde_json::to_value(&c).expect("json"), old_checkpoint);

        let stream = json!({"offsets": {}, "lastRecordTypes": {}, "nextPart": 1,
            "progress": {"recordsRead": 0, "documentsWritten": 0, "errorRecords": 0,
                         "skipRecords": 0, "bytesRead": 0},
            "endOfInput": false, "sequenceNumber": "4960"});
        let c: Checkpoint = serde_json::from_value(stream).expect("stream checkpoint");
        assert_eq!(c.position["sequenceNumber"], "4960");

        let old_definition = json!({"readerType": "KINESISSTREAMREADER", "manifestLine": "shardId-1",
            "manifestIndex": 0, "files": {}, "source": "arn:aws:kinesis:us-east-1:1:stream/s",
            "shardId": "shardId-1"});
        let d: TaskDefinition = serde_json::from_value(old_definition.clone()).expect("definition");
        assert_eq!(d.manifest_line, "shardId-1");
        assert_eq!(d.input["shardId"], "shardId-1");
        assert_eq!(serde_json::to_value(&d).expect("json"), old_definition);
    }
}
