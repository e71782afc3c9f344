//! What a record of a stream, queue, table or topic carries besides its bytes: the arguments
//! LetsData's reader interfaces hand to user code with each record.
//!
//! Read connectors fill a [`RecordMeta`] for every record they poll; the engine passes it,
//! untouched, with the record's bytes to the sandbox, whose interface table turns it into the
//! call of the reader interface the component implements. A new kind of source adds a variant
//! here and a line to that table; nothing in between changes.

use std::sync::Arc;

/// One record's metadata, by kind of source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordMeta {
    /// A Kinesis record (`KinesisRecordReader.parseMessage`); the bytes are its data as
    /// written.
    Kinesis {
        stream_arn: Arc<str>,
        shard_id: Arc<str>,
        partition_key: String,
        sequence_number: String,
        /// Epoch milliseconds.
        approximate_arrival_timestamp: i64,
    },
    /// A DynamoDB Streams record (`DynamoDBStreamsRecordReader.parseRecord`); the bytes are
    /// the record as the JSON document built-in parsers see.
    DynamoDbStreams {
        stream_arn: Arc<str>,
        shard_id: Arc<str>,
        event_id: String,
        /// `INSERT`, `MODIFY` or `REMOVE`.
        event_name: &'static str,
        identity_principal_id: Option<String>,
        identity_type: Option<String>,
        sequence_number: String,
        size_bytes: u64,
        stream_view_type: String,
        /// Epoch milliseconds.
        approximate_creation_date_time: i64,
        /// The item's keys, as a JSON object.
        keys: String,
        /// The item before and after the change, as JSON objects, when the view type has them.
        old_image: Option<String>,
        new_image: Option<String>,
    },
    /// An SQS message (`QueueMessageReader.parseMessage`); the bytes are its body (UTF-8).
    Queue {
        message_id: String,
        message_group_id: Option<String>,
        message_deduplication_id: Option<String>,
        message_attributes: Vec<(String, String)>,
    },
    /// A Kafka record (`KafkaRecordReader.parseMessage`); the bytes are its value (empty for
    /// a record without one).
    Kafka {
        topic: Arc<str>,
        partition: i32,
        offset: i64,
        /// The record's key, when it has one.
        key: Option<Vec<u8>>,
        /// The record's timestamp, epoch milliseconds.
        timestamp: i64,
        headers: Vec<(String, Vec<u8>)>,
    },
    /// A DynamoDB table item (`DynamoDBTableItemReader.parseDynamoDBItem`); the bytes are the
    /// item as a JSON object.
    TableItem {
        table_name: Arc<str>,
        segment_number: u32,
        /// The item's key attributes, as a JSON object.
        keys: String,
    },
}
