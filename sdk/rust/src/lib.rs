//! Write letsdata user implementations in Rust.
//!
//! A letsdata dataset turns records into documents with *user code*: an implementation of
//! one of LetsData's parser or reader interfaces, compiled to a WebAssembly component. This
//! crate gives you those interfaces as Rust traits and one macro, [`export!`], that turns
//! your type into the component's exports.
//!
//! | `readerType` | implement | export with |
//! |---|---|---|
//! | Single File Reader | [`SingleFileParser`] | `export!(single_file_parser: P)` |
//! | Single File State Machine Reader | [`SingleFileStateMachineReader`] + [`SingleFileStateMachineParser`] | `export!(single_file_state_machine_reader: R, parser: P)` |
//! | Multiple File State Machine Reader | [`MultipleFileStateMachineReader`] + [`SingleFileStateMachineParser`] | `export!(multiple_file_state_machine_reader: R, parser: P)` |
//! | Kinesis read connector | [`KinesisRecordReader`] | `export!(kinesis_record_reader: R)` |
//! | Kafka read connector | [`KafkaRecordReader`] | `export!(kafka_record_reader: R)` |
//! | SQS read connector | [`QueueMessageReader`] | `export!(queue_message_reader: R)` |
//! | DynamoDB Streams read connector | [`DynamoDbStreamsRecordReader`] | `export!(dynamodb_streams_record_reader: R)` |
//! | DynamoDB table read connector | [`DynamoDbTableItemReader`] | `export!(dynamodb_table_item_reader: R)` |
//! | `computeEngineType: LAMBDA_AND_SAGEMAKER` (beside one of the above) | [`SagemakerVectorsInterface`] | `export!(sagemaker_vectors_interface: V)` |
//!
//! Your types must implement [`Default`]: letsdata creates one value per task (one component
//! instance per task) and reuses it for every record of that task, and creates a fresh one
//! after a trap.
//!
//! # A complete example
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "my-parser"
//! version = "0.1.0"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! letsdata-sdk = { path = "…/sdk/rust" }
//! serde_json = "1"
//! ```
//!
//! `src/lib.rs`:
//!
//! ```ignore
//! use letsdata_sdk::{ErrorDoc, ParseDocumentResult, RecordParseHint, SingleDoc, SingleFileParser};
//!
//! #[derive(Default)]
//! struct Upper;
//!
//! impl SingleFileParser for Upper {
//!     fn get_s3_file_type(&self) -> String {
//!         "DATA".into()
//!     }
//!     fn get_record_start_pattern(&self, _file_type: &str) -> RecordParseHint {
//!         RecordParseHint::none()
//!     }
//!     fn get_record_end_pattern(&self, _file_type: &str) -> RecordParseHint {
//!         RecordParseHint::pattern("\n")
//!     }
//!     fn parse_document(
//!         &mut self,
//!         file_type: &str,
//!         _file_name: &str,
//!         offset_bytes: u64,
//!         record: &[u8],
//!     ) -> ParseDocumentResult {
//!         match serde_json::from_slice::<serde_json::Value>(record) {
//!             Ok(mut v) => {
//!                 if let Some(s) = v.get("name").and_then(|n| n.as_str()) {
//!                     v["name"] = s.to_uppercase().into();
//!                 }
//!                 ParseDocumentResult::success(SingleDoc::new(v.to_string()))
//!             }
//!             Err(e) => ParseDocumentResult::error(ErrorDoc::for_record(
//!                 file_type,
//!                 offset_bytes,
//!                 record.len(),
//!                 format!("not JSON: {e}"),
//!             )),
//!         }
//!     }
//! }
//!
//! letsdata_sdk::export!(single_file_parser: Upper);
//! ```
//!
//! A parser of many small records can also override
//! [`SingleFileParser::write_document`] to write each document straight into the batch
//! with [`DocumentWriter::single`] (no allocation per record); `examples/json-transform`
//! does, and docs/wasm.md's Performance section says what else paid off.
//!
//! Build it with `cargo build --release --target wasm32-wasip2` (once:
//! `rustup target add wasm32-wasip2`), upload `target/wasm32-wasip2/release/my_parser.wasm`
//! and point the dataset's `readConnector.artifactFileS3Link` at it with
//! `"artifactImplementationLanguage": "Wasm"`. See docs/wasm.md in the letsdata repository.
//!
//! # The sandbox
//!
//! Your code runs with no filesystem, network or environment variables; the clocks read the
//! Unix epoch; random numbers work. Output to stdout and stderr goes to the task's log. The
//! dataset's `memoryLimitInMegabytes` caps the component's memory and `timeoutInSeconds`
//! bounds each call; a panic ends the task attempt as ERRORED with the panic message.

#![warn(missing_docs)]

use std::cell::RefCell;

mod batch;

pub use batch::{DocumentWriter, WrittenDocument};

/// Bindings generated from `wit/letsdata.wit`, one module per world. You do not need these
/// unless you want the raw interfaces.
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod bindings {
    /// World `single-file-reader`.
    pub mod single_file_reader {
        wit_bindgen::generate!({
            world: "single-file-reader",
            path: "wit",
            default_bindings_module: "letsdata_sdk::bindings::single_file_reader",
            pub_export_macro: true,
            export_macro_name: "__export_single_file_reader",
        });
    }
    /// World `single-file-state-machine`.
    pub mod single_file_state_machine {
        wit_bindgen::generate!({
            world: "single-file-state-machine",
            path: "wit",
            with: {
                "letsdata:data/types@0.1.0": crate::bindings::single_file_reader::letsdata::data::types,
            },
            default_bindings_module: "letsdata_sdk::bindings::single_file_state_machine",
            pub_export_macro: true,
            export_macro_name: "__export_single_file_state_machine",
        });
    }
    /// World `multiple-file-state-machine`.
    pub mod multiple_file_state_machine {
        wit_bindgen::generate!({
            world: "multiple-file-state-machine",
            path: "wit",
            with: {
                "letsdata:data/types@0.1.0": crate::bindings::single_file_reader::letsdata::data::types,
                "letsdata:data/system-file-reader@0.1.0": crate::bindings::single_file_state_machine::letsdata::data::system_file_reader,
            },
            default_bindings_module: "letsdata_sdk::bindings::multiple_file_state_machine",
            pub_export_macro: true,
            export_macro_name: "__export_multiple_file_state_machine",
        });
    }
    /// World `kinesis-reader`.
    pub mod kinesis_reader {
        wit_bindgen::generate!({
            world: "kinesis-reader",
            path: "wit",
            with: {
                "letsdata:data/types@0.1.0": crate::bindings::single_file_reader::letsdata::data::types,
            },
            default_bindings_module: "letsdata_sdk::bindings::kinesis_reader",
            pub_export_macro: true,
            export_macro_name: "__export_kinesis_reader",
        });
    }
    /// World `kafka-reader`.
    pub mod kafka_reader {
        wit_bindgen::generate!({
            world: "kafka-reader",
            path: "wit",
            with: {
                "letsdata:data/types@0.1.0": crate::bindings::single_file_reader::letsdata::data::types,
            },
            default_bindings_module: "letsdata_sdk::bindings::kafka_reader",
            pub_export_macro: true,
            export_macro_name: "__export_kafka_reader",
        });
    }
    /// World `queue-reader`.
    pub mod queue_reader {
        wit_bindgen::generate!({
            world: "queue-reader",
            path: "wit",
            with: {
                "letsdata:data/types@0.1.0": crate::bindings::single_file_reader::letsdata::data::types,
            },
            default_bindings_module: "letsdata_sdk::bindings::queue_reader",
            pub_export_macro: true,
            export_macro_name: "__export_queue_reader",
        });
    }
    /// World `dynamodb-streams-reader`.
    pub mod dynamodb_streams_reader {
        wit_bindgen::generate!({
            world: "dynamodb-streams-reader",
            path: "wit",
            with: {
                "letsdata:data/types@0.1.0": crate::bindings::single_file_reader::letsdata::data::types,
            },
            default_bindings_module: "letsdata_sdk::bindings::dynamodb_streams_reader",
            pub_export_macro: true,
            export_macro_name: "__export_dynamodb_streams_reader",
        });
    }
    /// World `dynamodb-table-reader`.
    pub mod dynamodb_table_reader {
        wit_bindgen::generate!({
            world: "dynamodb-table-reader",
            path: "wit",
            with: {
                "letsdata:data/types@0.1.0": crate::bindings::single_file_reader::letsdata::data::types,
            },
            default_bindings_module: "letsdata_sdk::bindings::dynamodb_table_reader",
            pub_export_macro: true,
            export_macro_name: "__export_dynamodb_table_reader",
        });
    }
    /// World `sagemaker-vectors`.
    pub mod sagemaker_vectors {
        wit_bindgen::generate!({
            world: "sagemaker-vectors",
            path: "wit",
            with: {
                "letsdata:data/types@0.1.0": crate::bindings::single_file_reader::letsdata::data::types,
            },
            default_bindings_module: "letsdata_sdk::bindings::sagemaker_vectors",
            pub_export_macro: true,
            export_macro_name: "__export_sagemaker_vectors",
        });
    }
}

pub use bindings::sagemaker_vectors::exports::letsdata::data::sagemaker_vectors_interface::{
    NamedVector, Truncation, VectorsDocument,
};

pub use bindings::single_file_reader::letsdata::data::types::{
    CompositeDoc, Document, ErrorDoc, OffsetMap, ParseCompositeDocumentResult, ParseDocumentResult,
    ParseDocumentResultStatus, RecordHintType, RecordParseHint, RecordSpan, SingleDoc,
    SingleFileReaderState, SkipDoc,
};

use bindings::single_file_state_machine::letsdata::data::system_file_reader as host_reader;

impl RecordParseHint {
    /// Records start (or end) where `pattern` occurs.
    pub fn pattern(pattern: &str) -> Self {
        Self {
            record_hint_type: RecordHintType::Pattern,
            pattern: pattern.to_string(),
            offset: 0,
        }
    }

    /// No pattern: a record starts at the cursor (start hint) or runs to the next record's
    /// start or the end of the file (end hint).
    pub fn none() -> Self {
        Self::pattern("")
    }

    /// Records are `len` bytes long (use as the start hint; the end hint is ignored).
    pub fn fixed_length(len: u32) -> Self {
        Self {
            record_hint_type: RecordHintType::Offset,
            pattern: String::new(),
            offset: len,
        }
    }
}

impl SingleDoc {
    /// A document whose serialized form (`serialize()`, one line of JSON) is `serialized`.
    pub fn new(serialized: impl Into<String>) -> Self {
        Self {
            document_id: None,
            record_type: None,
            partition_key: None,
            document_metadata: Vec::new(),
            serialized: serialized.into(),
        }
    }

    /// Sets the document id (`getDocumentId()`).
    pub fn with_document_id(mut self, id: impl Into<String>) -> Self {
        self.document_id = Some(id.into());
        self
    }

    /// Sets the record type (`getRecordType()`).
    pub fn with_record_type(mut self, record_type: impl Into<String>) -> Self {
        self.record_type = Some(record_type.into());
        self
    }

    /// Sets the partition key (`getPartitionKey()`).
    pub fn with_partition_key(mut self, key: impl Into<String>) -> Self {
        self.partition_key = Some(key.into());
        self
    }
}

fn offsets(file_type: &str, offset: u64) -> OffsetMap {
    vec![(file_type.to_string(), offset.to_string())]
}

impl ErrorDoc {
    /// An error document with explicit offset maps (keyed by file type).
    pub fn new(
        start_offsets: OffsetMap,
        end_offsets: OffsetMap,
        message: impl Into<String>,
    ) -> Self {
        Self {
            error_start_offset_map: start_offsets,
            error_end_offset_map: end_offsets,
            error_message: message.into(),
            document_id: None,
            record_type: None,
            partition_key: None,
            document_metadata: Vec::new(),
            serialized: None,
        }
    }

    /// An error document for the record of `len` bytes at `offset_bytes` of a file of
    /// `file_type`.
    pub fn for_record(
        file_type: &str,
        offset_bytes: u64,
        len: usize,
        message: impl Into<String>,
    ) -> Self {
        Self::new(
            offsets(file_type, offset_bytes),
            offsets(file_type, offset_bytes + len as u64),
            message,
        )
    }

    /// Sets the document id.
    pub fn with_document_id(mut self, id: impl Into<String>) -> Self {
        self.document_id = Some(id.into());
        self
    }

    /// Sets the record type.
    pub fn with_record_type(mut self, record_type: impl Into<String>) -> Self {
        self.record_type = Some(record_type.into());
        self
    }

    /// Keeps `content` in the error record instead of the record's bytes.
    pub fn with_serialized(mut self, content: impl Into<String>) -> Self {
        self.serialized = Some(content.into());
        self
    }
}

impl SkipDoc {
    /// A skip document with explicit offset maps (keyed by file type).
    pub fn new(
        start_offsets: OffsetMap,
        end_offsets: OffsetMap,
        message: impl Into<String>,
    ) -> Self {
        Self {
            skip_start_offset_map: start_offsets,
            skip_end_offset_map: end_offsets,
            skip_message: message.into(),
            document_id: None,
            record_type: None,
        }
    }

    /// A skip document for the record of `len` bytes at `offset_bytes`.
    pub fn for_record(
        file_type: &str,
        offset_bytes: u64,
        len: usize,
        message: impl Into<String>,
    ) -> Self {
        Self::new(
            offsets(file_type, offset_bytes),
            offsets(file_type, offset_bytes + len as u64),
            message,
        )
    }

    /// Sets the record type.
    pub fn with_record_type(mut self, record_type: impl Into<String>) -> Self {
        self.record_type = Some(record_type.into());
        self
    }
}

impl Document {
    /// The record type of any kind of document.
    pub fn record_type(&self) -> Option<&str> {
        match self {
            Document::Single(d) => d.record_type.as_deref(),
            Document::Error(d) => d.record_type.as_deref(),
            Document::Skip(d) => d.record_type.as_deref(),
        }
    }
}

impl ParseDocumentResult {
    /// `SUCCESS` with a document.
    pub fn success(doc: SingleDoc) -> Self {
        Self {
            next_record_type: None,
            document: Some(Document::Single(doc)),
            status: ParseDocumentResultStatus::Success,
        }
    }

    /// `ERROR`: the record goes to the error destination.
    pub fn error(doc: ErrorDoc) -> Self {
        Self {
            next_record_type: None,
            document: Some(Document::Error(doc)),
            status: ParseDocumentResultStatus::Error,
        }
    }

    /// `SKIP`: the record is counted as skipped and not written.
    pub fn skip(doc: SkipDoc) -> Self {
        Self {
            next_record_type: None,
            document: Some(Document::Skip(doc)),
            status: ParseDocumentResultStatus::Skip,
        }
    }

    /// Sets the record type expected after this one (state-machine parsers).
    pub fn with_next_record_type(mut self, record_type: impl Into<String>) -> Self {
        self.next_record_type = Some(record_type.into());
        self
    }
}

impl ParseCompositeDocumentResult {
    /// `SUCCESS`: `document` is written; `errors` (errors of some of the records it was
    /// built from) go to the error destination.
    pub fn success(document: SingleDoc, errors: Vec<ErrorDoc>) -> Self {
        Self {
            document: Some(CompositeDoc {
                document: Document::Single(document),
                errors,
            }),
            file_reader_state: SingleFileReaderState::Processing,
            status: ParseDocumentResultStatus::Success,
        }
    }

    /// `ERROR`: `document` and `errors` go to the error destination.
    pub fn error(document: ErrorDoc, errors: Vec<ErrorDoc>) -> Self {
        Self {
            document: Some(CompositeDoc {
                document: Document::Error(document),
                errors,
            }),
            file_reader_state: SingleFileReaderState::Processing,
            status: ParseDocumentResultStatus::Error,
        }
    }

    /// `SKIP`: nothing is written; `errors`, if any, go to the error destination.
    pub fn skip(document: SkipDoc, errors: Vec<ErrorDoc>) -> Self {
        Self {
            document: Some(CompositeDoc {
                document: Document::Skip(document),
                errors,
            }),
            file_reader_state: SingleFileReaderState::Processing,
            status: ParseDocumentResultStatus::Skip,
        }
    }

    /// The reader is at the end of its file(s): the task is complete.
    pub fn completed() -> Self {
        Self {
            document: None,
            file_reader_state: SingleFileReaderState::Completed,
            status: ParseDocumentResultStatus::Success,
        }
    }
}

/// LetsData `SingleFileParser`: one document per record of one file. Must not depend on the
/// order of calls: treat it as stateless.
pub trait SingleFileParser: Default + 'static {
    /// `getS3FileType()`.
    fn get_s3_file_type(&self) -> String;
    /// `getResolvedS3FileName(fileType, fileName)`: the object key to read for a manifest
    /// line. The default reads the manifest line's file name as is.
    fn get_resolved_s3_file_name(&self, _file_type: &str, file_name: &str) -> String {
        file_name.to_string()
    }
    /// `getRecordStartPattern(fileType)`.
    fn get_record_start_pattern(&self, file_type: &str) -> RecordParseHint;
    /// `getRecordEndPattern(fileType)`.
    fn get_record_end_pattern(&self, file_type: &str) -> RecordParseHint;
    /// `parseDocument(fileType, fileName, offsetBytes, byteArr, startIndex, endIndex)`:
    /// `record` is the record's bytes (start pattern and end pattern included) and
    /// `offset_bytes` its offset in the decompressed file.
    fn parse_document(
        &mut self,
        file_type: &str,
        file_name: &str,
        offset_bytes: u64,
        record: &[u8],
    ) -> ParseDocumentResult;
    /// Puts the result for one record into `out`: what letsdata calls for each record of a
    /// batch. The default pushes [`parse_document`](Self::parse_document)'s result. A parser
    /// of many small records can override it to write each document straight into the
    /// batch with [`DocumentWriter::single`], with no `ParseDocumentResult`, `String` or
    /// allocation per record (examples/json-transform does); it must put exactly one result
    /// per call, as `parse_document` would.
    fn write_document(
        &mut self,
        file_type: &str,
        file_name: &str,
        offset_bytes: u64,
        record: &[u8],
        out: &mut DocumentWriter,
    ) {
        out.push(self.parse_document(file_type, file_name, offset_bytes, record));
    }
}

/// LetsData `SingleFileStateMachineParser`: parses the records of files whose record types
/// follow a state machine. One parser serves every file type of a reader (dispatch on
/// `file_type`).
pub trait SingleFileStateMachineParser: Default + 'static {
    /// `getNextExpectedRecordType(fileType, lastProcessedRecordType)`; `None` = at the start
    /// of the file.
    fn get_next_expected_record_type(
        &self,
        file_type: &str,
        last_processed_record_type: Option<&str>,
    ) -> String;
    /// `getNextRecordStartPattern(fileType, nextExpectedRecordType)`.
    fn get_next_record_start_pattern(
        &self,
        file_type: &str,
        next_expected_record_type: &str,
    ) -> RecordParseHint;
    /// `getNextRecordEndPattern(fileType, nextExpectedRecordType)`.
    fn get_next_record_end_pattern(
        &self,
        file_type: &str,
        next_expected_record_type: &str,
    ) -> RecordParseHint;
    /// `parseDocument(fileType, fileName, offsetBytes, lastProcessedRecordType, byteArr, …)`:
    /// `record_type` is the type the record was cut as.
    fn parse_document(
        &mut self,
        file_type: &str,
        file_name: &str,
        offset_bytes: u64,
        record_type: &str,
        last_processed_record_type: Option<&str>,
        record: &[u8],
    ) -> ParseDocumentResult;
}

/// LetsData `SingleFileStateMachineReader`: combines consecutive records of one file.
pub trait SingleFileStateMachineReader: Default + 'static {
    /// `getS3FileType()`.
    fn get_s3_file_type(&self) -> String;
    /// `getResolvedS3FileName(fileType, fileName)`.
    fn get_resolved_s3_file_name(&self, _file_type: &str, file_name: &str) -> String {
        file_name.to_string()
    }
    /// `parseDocument(fileType, lastProcessedRecordType, lastProcessedDoc, reader)`: pull
    /// records with [`SystemFileReader::next_record`] and return one composite document;
    /// return [`ParseCompositeDocumentResult::completed`] once it returns `None`.
    fn parse_document(
        &mut self,
        file_type: &str,
        last_processed_record_type: Option<&str>,
        reader: &mut SystemFileReader<'_>,
    ) -> ParseCompositeDocumentResult;
}

/// LetsData `MultipleFileStateMachineReader`: joins the records of several files of one
/// task (manifest line `TYPE1:key1|TYPE2:key2|…`).
pub trait MultipleFileStateMachineReader: Default + 'static {
    /// `getS3FileTypes()`: the file types a manifest line must name.
    fn get_s3_file_types(&self) -> Vec<String>;
    /// `getResolvedS3FileNames(Map<fileType, fileName>)`. The default keeps the names.
    fn get_resolved_s3_file_names(
        &self,
        file_names: Vec<(String, String)>,
    ) -> Vec<(String, String)> {
        file_names
    }
    /// `parseDocument(lastProcessedRecordTypes, lastProcessedDoc, readers)`: `readers` holds
    /// one reader per file type, in the order of [`get_s3_file_types`](Self::get_s3_file_types).
    /// Return [`ParseCompositeDocumentResult::completed`] when all are at their end.
    fn parse_document(
        &mut self,
        readers: &mut [SystemFileReader<'_>],
    ) -> ParseCompositeDocumentResult;
}

/// LetsData `KinesisRecordReader`.
pub trait KinesisRecordReader: Default + 'static {
    /// `parseMessage(streamArn, shardId, partitionKey, sequenceNumber,
    /// approximateArrivalTimestamp, data)`; the timestamp is in milliseconds since the epoch.
    fn parse_message(
        &mut self,
        stream_arn: &str,
        shard_id: &str,
        partition_key: &str,
        sequence_number: &str,
        approximate_arrival_timestamp: i64,
        data: &[u8],
    ) -> ParseDocumentResult;
}

/// LetsData `KafkaRecordReader` (shaped like [`KinesisRecordReader`]): one call per record of
/// a topic's partition.
pub trait KafkaRecordReader: Default + 'static {
    /// `parseMessage(topic, partition, offset, key, timestamp, headers, value)`: `key` is
    /// `None` for a record without one, `value` empty for one without a value; the timestamp
    /// is the record's, in milliseconds since the epoch.
    #[allow(clippy::too_many_arguments)]
    fn parse_message(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
        key: Option<&[u8]>,
        timestamp: i64,
        headers: &[(String, Vec<u8>)],
        value: &[u8],
    ) -> ParseDocumentResult;
}

/// LetsData `QueueMessageReader`.
pub trait QueueMessageReader: Default + 'static {
    /// `parseMessage(messageId, messageGroupId, messageDeduplicationId, messageAttributes,
    /// messageBody)`.
    fn parse_message(
        &mut self,
        message_id: &str,
        message_group_id: Option<&str>,
        message_deduplication_id: Option<&str>,
        message_attributes: &[(String, String)],
        message_body: &str,
    ) -> ParseDocumentResult;
}

/// One DynamoDB Streams record, as handed to [`DynamoDbStreamsRecordReader`].
#[derive(Debug)]
pub struct StreamRecord<'a> {
    /// The stream's ARN.
    pub stream_arn: &'a str,
    /// The shard the record came from.
    pub shard_id: &'a str,
    /// The event id.
    pub event_id: &'a str,
    /// INSERT, MODIFY or REMOVE.
    pub event_name: &'a str,
    /// `userIdentity.principalId` (TTL deletions).
    pub identity_principal_id: Option<&'a str>,
    /// `userIdentity.type`.
    pub identity_type: Option<&'a str>,
    /// The record's sequence number (the checkpoint).
    pub sequence_number: &'a str,
    /// The record's size.
    pub size_bytes: u64,
    /// NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES or KEYS_ONLY.
    pub stream_view_type: &'a str,
    /// Milliseconds since the epoch.
    pub approximate_creation_date_time: i64,
    /// The item's keys, a JSON object.
    pub keys: &'a str,
    /// The item before the change, a JSON object.
    pub old_image: Option<&'a str>,
    /// The item after the change, a JSON object.
    pub new_image: Option<&'a str>,
}

/// LetsData `DynamoDBStreamsRecordReader`.
pub trait DynamoDbStreamsRecordReader: Default + 'static {
    /// `parseRecord(…)`.
    fn parse_record(&mut self, record: &StreamRecord<'_>) -> ParseDocumentResult;
}

/// LetsData `DynamoDBTableItemReader`.
pub trait DynamoDbTableItemReader: Default + 'static {
    /// `parseDynamoDBItem(tableName, segmentNumber, keys, item)`; keys and item are JSON
    /// objects.
    fn parse_dynamodb_item(
        &mut self,
        table_name: &str,
        segment_number: u32,
        keys: &str,
        item: &str,
    ) -> ParseDocumentResult;
}

/// LetsData `SagemakerVectorsInterface`, for datasets of the vectors engine
/// (`computeEngineType: LAMBDA_AND_SAGEMAKER`): export it beside the reader interface. Each
/// document the reader produced goes through
/// [`extract_document_elements_for_vectorization`](Self::extract_document_elements_for_vectorization),
/// the model embeds the texts it returned (batched across documents), and
/// [`construct_vector_doc`](Self::construct_vector_doc) makes the document that is written.
///
/// ```ignore
/// #[derive(Default)]
/// struct Reviews;
///
/// impl SagemakerVectorsInterface for Reviews {
///     fn extract_document_elements_for_vectorization(
///         &mut self,
///         document: &VectorsDocument,
///     ) -> Result<Vec<(String, String)>, String> {
///         let v: serde_json::Value =
///             serde_json::from_str(&document.serialized).map_err(|e| e.to_string())?;
///         let text = v["review"].as_str().ok_or("the review has no text")?;
///         Ok(vec![("ReviewText".into(), text.into())])
///     }
///
///     fn construct_vector_doc(
///         &mut self,
///         document: &VectorsDocument,
///         vectors: Vec<NamedVector>,
///     ) -> Document {
///         // A VECTOR document: the id and the vectors.
///         let v: serde_json::Value = serde_json::from_str(&document.serialized).unwrap();
///         let vectors: serde_json::Map<_, _> =
///             vectors.into_iter().map(|n| (n.name, n.values.into())).collect();
///         let doc = serde_json::json!({"id": v["id"], "vectors": vectors});
///         Document::Single(SingleDoc::new(doc.to_string()))
///     }
/// }
///
/// letsdata_sdk::export!(sagemaker_vectors_interface: Reviews);
/// ```
pub trait SagemakerVectorsInterface: Default + 'static {
    /// `extractDocumentElementsForVectorization(document)`: the texts to embed, as (friendly
    /// name, text) pairs; `Err` sends the document to the error destination with that message.
    fn extract_document_elements_for_vectorization(
        &mut self,
        document: &VectorsDocument,
    ) -> Result<Vec<(String, String)>, String>;

    /// `constructVectorDoc(document, vectorsMap)`: the document to write, given the vectors of
    /// the texts the extraction returned (in its order, under its names; each says whether its
    /// text was cut to the model's maximum length). A [`Document::Error`] sends the document to
    /// the error destination, a [`Document::Skip`] counts it as skipped; a single document
    /// without an id keeps the reader's.
    fn construct_vector_doc(
        &mut self,
        document: &VectorsDocument,
        vectors: Vec<NamedVector>,
    ) -> Document;
}

/// LetsData `SystemFileReader`: the platform's cursor over one file of the task, combined
/// with the file type's [`SingleFileStateMachineParser`]. Handed to state-machine readers.
pub struct SystemFileReader<'a> {
    host: &'a host_reader::SystemFileReader,
    parser: &'a mut dyn ParserObject,
    file_type: String,
    file_name: String,
    /// A record cut with `peek` and its document.
    peeked: Option<Peeked>,
}

struct Peeked {
    record_type: String,
    start: RecordParseHint,
    end: RecordParseHint,
    document: Option<Document>,
}

/// Object-safe view of a [`SingleFileStateMachineParser`].
#[doc(hidden)]
pub trait ParserObject {
    fn next_type(&self, file_type: &str, last: Option<&str>) -> String;
    fn start(&self, file_type: &str, record_type: &str) -> RecordParseHint;
    fn end(&self, file_type: &str, record_type: &str) -> RecordParseHint;
    fn parse(
        &mut self,
        file_type: &str,
        file_name: &str,
        offset_bytes: u64,
        record_type: &str,
        last: Option<&str>,
        record: &[u8],
    ) -> ParseDocumentResult;
}

impl<P: SingleFileStateMachineParser> ParserObject for P {
    fn next_type(&self, file_type: &str, last: Option<&str>) -> String {
        self.get_next_expected_record_type(file_type, last)
    }
    fn start(&self, file_type: &str, record_type: &str) -> RecordParseHint {
        self.get_next_record_start_pattern(file_type, record_type)
    }
    fn end(&self, file_type: &str, record_type: &str) -> RecordParseHint {
        self.get_next_record_end_pattern(file_type, record_type)
    }
    fn parse(
        &mut self,
        file_type: &str,
        file_name: &str,
        offset_bytes: u64,
        record_type: &str,
        last: Option<&str>,
        record: &[u8],
    ) -> ParseDocumentResult {
        self.parse_document(
            file_type,
            file_name,
            offset_bytes,
            record_type,
            last,
            record,
        )
    }
}

impl<'a> SystemFileReader<'a> {
    fn new(host: &'a host_reader::SystemFileReader, parser: &'a mut dyn ParserObject) -> Self {
        Self {
            file_type: host.get_file_type(),
            file_name: host.get_file_name(),
            host,
            parser,
            peeked: None,
        }
    }

    /// `nextRecord(peek)`: the next record's document (error and skip documents included;
    /// a parser result without a document becomes a skip document), or `None` at the end of
    /// the file. With `peek` the cursor does not move and the next call returns the same
    /// document.
    pub fn next_record(&mut self, peek: bool) -> Option<Document> {
        if let Some(p) = self.peeked.take() {
            if peek {
                let doc = p.document.clone();
                self.peeked = Some(p);
                return doc;
            }
            // Move the cursor past the peeked record.
            self.host
                .next_record_bytes(&p.record_type, &p.start, &p.end, false);
            return p.document;
        }
        let last = self.host.get_last_record_type();
        let record_type = self.parser.next_type(&self.file_type, last.as_deref());
        let start = self.parser.start(&self.file_type, &record_type);
        let end = self.parser.end(&self.file_type, &record_type);
        let record = self
            .host
            .next_record_bytes(&record_type, &start, &end, peek)?;
        let result = self.parser.parse(
            &self.file_type,
            &self.file_name,
            record.offset_bytes,
            &record_type,
            last.as_deref(),
            &record.bytes,
        );
        let document = Some(result.document.unwrap_or_else(|| {
            Document::Skip(
                SkipDoc::for_record(
                    &self.file_type,
                    record.offset_bytes,
                    record.bytes.len(),
                    "skipped by the parser",
                )
                .with_record_type(record_type.clone()),
            )
        }));
        if peek {
            self.peeked = Some(Peeked {
                record_type,
                start,
                end,
                document: document.clone(),
            });
        }
        document
    }

    /// `getState()`.
    pub fn state(&self) -> SingleFileReaderState {
        self.host.get_state()
    }

    /// `getOffsetBytes()`: where the cursor is.
    pub fn offset_bytes(&self) -> String {
        self.host.get_offset_bytes()
    }

    /// `getFileType()`.
    pub fn file_type(&self) -> &str {
        &self.file_type
    }

    /// `getFileName()`.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// `getLastRecordType()`: the type of the last record consumed.
    pub fn last_record_type(&self) -> Option<String> {
        self.host.get_last_record_type()
    }
}

/// Glue between the generated bindings and the traits; used by [`export!`].
#[doc(hidden)]
pub mod __private {
    use super::*;
    use crate::bindings::dynamodb_streams_reader::exports::letsdata::data::dynamodb_streams_record_reader as ddbs;
    use crate::bindings::dynamodb_table_reader::exports::letsdata::data::dynamodb_table_item_reader as ddbt;
    use crate::bindings::kafka_reader::exports::letsdata::data::kafka_record_reader as kafka;
    use crate::bindings::kinesis_reader::exports::letsdata::data::kinesis_record_reader as kin;
    use crate::bindings::multiple_file_state_machine::exports::letsdata::data::multiple_file_state_machine_reader as mfsm;
    use crate::bindings::queue_reader::exports::letsdata::data::queue_message_reader as queue;
    use crate::bindings::sagemaker_vectors::exports::letsdata::data::sagemaker_vectors_interface as vectors;
    use crate::bindings::single_file_reader::exports::letsdata::data::single_file_parser as sfp;
    use crate::bindings::single_file_state_machine::exports::letsdata::data::single_file_state_machine_reader as sfsm;
    use std::marker::PhantomData;

    pub use crate::bindings::dynamodb_streams_reader::__export_dynamodb_streams_reader;
    pub use crate::bindings::dynamodb_table_reader::__export_dynamodb_table_reader;
    pub use crate::bindings::kafka_reader::__export_kafka_reader;
    pub use crate::bindings::kinesis_reader::__export_kinesis_reader;
    pub use crate::bindings::multiple_file_state_machine::__export_multiple_file_state_machine;
    pub use crate::bindings::queue_reader::__export_queue_reader;
    pub use crate::bindings::sagemaker_vectors::__export_sagemaker_vectors;
    pub use crate::bindings::single_file_reader::__export_single_file_reader;
    pub use crate::bindings::single_file_state_machine::__export_single_file_state_machine;

    /// Where the exported type's one value lives (a `thread_local!` declared by `export!`).
    pub trait Slot<T: 'static> {
        fn cell() -> &'static std::thread::LocalKey<RefCell<T>>;
    }

    /// Runs `f` on the value of `T` in `S`.
    fn with<T: 'static, S: Slot<T>, R>(f: impl FnOnce(&mut T) -> R) -> R {
        S::cell().with_borrow_mut(f)
    }

    /// Exports a [`SingleFileParser`].
    pub struct ParserExport<T, S>(PhantomData<(T, S)>);

    impl<T: SingleFileParser, S: Slot<T> + 'static> sfp::Guest for ParserExport<T, S> {
        fn get_s3_file_type() -> String {
            with::<T, S, _>(|p| p.get_s3_file_type())
        }
        fn get_resolved_s3_file_name(file_type: String, file_name: String) -> String {
            with::<T, S, _>(|p| p.get_resolved_s3_file_name(&file_type, &file_name))
        }
        fn get_record_start_pattern(file_type: String) -> RecordParseHint {
            with::<T, S, _>(|p| p.get_record_start_pattern(&file_type))
        }
        fn get_record_end_pattern(file_type: String) -> RecordParseHint {
            with::<T, S, _>(|p| p.get_record_end_pattern(&file_type))
        }
        fn parse_documents(
            file_type: String,
            file_name: String,
            records: Vec<u8>,
            spans: Vec<RecordSpan>,
        ) -> sfp::ParsedDocuments {
            with::<T, S, _>(|p| {
                // Documents are usually about as long as their records.
                let mut batch =
                    DocumentWriter::with_capacity(records.len() + records.len() / 4, spans.len());
                for s in &spans {
                    let record = &records[s.start as usize..s.end as usize];
                    let before = batch.len();
                    p.write_document(&file_type, &file_name, s.offset_bytes, record, &mut batch);
                    let put = batch.len() - before;
                    assert!(
                        put == 1,
                        "write_document put {put} results for the record at offset {} of {file_name}; it must put exactly one",
                        s.offset_bytes
                    );
                }
                batch.finish()
            })
        }
    }

    /// Exports a [`SingleFileStateMachineReader`] with its parser.
    pub struct SingleStateMachineExport<R, P, SR, SP>(PhantomData<(R, P, SR, SP)>);

    impl<R, P, SR, SP> sfsm::Guest for SingleStateMachineExport<R, P, SR, SP>
    where
        R: SingleFileStateMachineReader,
        P: SingleFileStateMachineParser,
        SR: Slot<R> + 'static,
        SP: Slot<P> + 'static,
    {
        fn get_s3_file_type() -> String {
            with::<R, SR, _>(|r| r.get_s3_file_type())
        }
        fn get_resolved_s3_file_name(file_type: String, file_name: String) -> String {
            with::<R, SR, _>(|r| r.get_resolved_s3_file_name(&file_type, &file_name))
        }
        fn parse_document(
            file_type: String,
            last_processed_record_type: Option<String>,
            reader: &host_reader::SystemFileReader,
        ) -> ParseCompositeDocumentResult {
            let host = reader;
            with::<P, SP, _>(|parser| {
                let mut file = SystemFileReader::new(host, parser);
                with::<R, SR, _>(|r| {
                    r.parse_document(&file_type, last_processed_record_type.as_deref(), &mut file)
                })
            })
        }
    }

    /// Exports a [`MultipleFileStateMachineReader`] with its parser.
    pub struct MultipleStateMachineExport<R, P, SR, SP>(PhantomData<(R, P, SR, SP)>);

    impl<R, P, SR, SP> mfsm::Guest for MultipleStateMachineExport<R, P, SR, SP>
    where
        R: MultipleFileStateMachineReader,
        P: SingleFileStateMachineParser,
        SR: Slot<R> + 'static,
        SP: Slot<P> + 'static,
    {
        fn get_s3_file_types() -> Vec<String> {
            with::<R, SR, _>(|r| r.get_s3_file_types())
        }
        fn get_resolved_s3_file_names(file_names: Vec<(String, String)>) -> Vec<(String, String)> {
            with::<R, SR, _>(|r| r.get_resolved_s3_file_names(file_names))
        }
        fn parse_document(
            _last_processed_record_types: Vec<(String, Option<String>)>,
            readers: Vec<host_reader::SystemFileReader>,
        ) -> ParseCompositeDocumentResult {
            // One parser value serves every file: each reader borrows it in turn through a
            // shared cell (the reader calls `next_record` on one file at a time).
            with::<P, SP, _>(|parser| {
                let shared = SharedParser(RefCell::new(parser));
                let mut parsers: Vec<ParserRef<'_, '_>> =
                    readers.iter().map(|_| ParserRef(&shared)).collect();
                let mut files: Vec<SystemFileReader<'_>> = readers
                    .iter()
                    .zip(parsers.iter_mut())
                    .map(|(r, p)| SystemFileReader::new(r, p))
                    .collect();
                with::<R, SR, _>(|r| r.parse_document(&mut files))
            })
        }
    }

    struct SharedParser<'p>(RefCell<&'p mut dyn ParserObject>);
    struct ParserRef<'s, 'p>(&'s SharedParser<'p>);

    impl ParserObject for ParserRef<'_, '_> {
        fn next_type(&self, file_type: &str, last: Option<&str>) -> String {
            self.0.0.borrow().next_type(file_type, last)
        }
        fn start(&self, file_type: &str, record_type: &str) -> RecordParseHint {
            self.0.0.borrow().start(file_type, record_type)
        }
        fn end(&self, file_type: &str, record_type: &str) -> RecordParseHint {
            self.0.0.borrow().end(file_type, record_type)
        }
        fn parse(
            &mut self,
            file_type: &str,
            file_name: &str,
            offset_bytes: u64,
            record_type: &str,
            last: Option<&str>,
            record: &[u8],
        ) -> ParseDocumentResult {
            self.0.0.borrow_mut().parse(
                file_type,
                file_name,
                offset_bytes,
                record_type,
                last,
                record,
            )
        }
    }

    /// Exports a [`KinesisRecordReader`].
    pub struct KinesisExport<T, S>(PhantomData<(T, S)>);

    impl<T: KinesisRecordReader, S: Slot<T> + 'static> kin::Guest for KinesisExport<T, S> {
        fn parse_message(
            stream_arn: String,
            shard_id: String,
            partition_key: String,
            sequence_number: String,
            approximate_arrival_timestamp: i64,
            data: Vec<u8>,
        ) -> ParseDocumentResult {
            with::<T, S, _>(|r| {
                r.parse_message(
                    &stream_arn,
                    &shard_id,
                    &partition_key,
                    &sequence_number,
                    approximate_arrival_timestamp,
                    &data,
                )
            })
        }
    }

    /// Exports a [`KafkaRecordReader`].
    pub struct KafkaExport<T, S>(PhantomData<(T, S)>);

    impl<T: KafkaRecordReader, S: Slot<T> + 'static> kafka::Guest for KafkaExport<T, S> {
        fn parse_message(
            topic: String,
            partition: i32,
            offset: i64,
            key: Option<Vec<u8>>,
            timestamp: i64,
            headers: Vec<(String, Vec<u8>)>,
            value: Vec<u8>,
        ) -> ParseDocumentResult {
            with::<T, S, _>(|r| {
                r.parse_message(
                    &topic,
                    partition,
                    offset,
                    key.as_deref(),
                    timestamp,
                    &headers,
                    &value,
                )
            })
        }
    }

    /// Exports a [`QueueMessageReader`].
    pub struct QueueExport<T, S>(PhantomData<(T, S)>);

    impl<T: QueueMessageReader, S: Slot<T> + 'static> queue::Guest for QueueExport<T, S> {
        fn parse_message(
            message_id: String,
            message_group_id: Option<String>,
            message_deduplication_id: Option<String>,
            message_attributes: Vec<(String, String)>,
            message_body: String,
        ) -> ParseDocumentResult {
            with::<T, S, _>(|r| {
                r.parse_message(
                    &message_id,
                    message_group_id.as_deref(),
                    message_deduplication_id.as_deref(),
                    &message_attributes,
                    &message_body,
                )
            })
        }
    }

    /// Exports a [`DynamoDbStreamsRecordReader`].
    pub struct StreamsExport<T, S>(PhantomData<(T, S)>);

    impl<T: DynamoDbStreamsRecordReader, S: Slot<T> + 'static> ddbs::Guest for StreamsExport<T, S> {
        #[allow(clippy::too_many_arguments)]
        fn parse_record(
            stream_arn: String,
            shard_id: String,
            event_id: String,
            event_name: String,
            identity_principal_id: Option<String>,
            identity_type: Option<String>,
            sequence_number: String,
            size_bytes: u64,
            stream_view_type: String,
            approximate_creation_date_time: i64,
            keys: String,
            old_image: Option<String>,
            new_image: Option<String>,
        ) -> ParseDocumentResult {
            let record = StreamRecord {
                stream_arn: &stream_arn,
                shard_id: &shard_id,
                event_id: &event_id,
                event_name: &event_name,
                identity_principal_id: identity_principal_id.as_deref(),
                identity_type: identity_type.as_deref(),
                sequence_number: &sequence_number,
                size_bytes,
                stream_view_type: &stream_view_type,
                approximate_creation_date_time,
                keys: &keys,
                old_image: old_image.as_deref(),
                new_image: new_image.as_deref(),
            };
            with::<T, S, _>(|r| r.parse_record(&record))
        }
    }

    /// Exports a [`DynamoDbTableItemReader`].
    pub struct TableExport<T, S>(PhantomData<(T, S)>);

    impl<T: DynamoDbTableItemReader, S: Slot<T> + 'static> ddbt::Guest for TableExport<T, S> {
        fn parse_dynamodb_item(
            table_name: String,
            segment_number: u32,
            keys: String,
            item: String,
        ) -> ParseDocumentResult {
            with::<T, S, _>(|r| r.parse_dynamodb_item(&table_name, segment_number, &keys, &item))
        }
    }

    /// Exports a [`SagemakerVectorsInterface`].
    pub struct VectorsExport<T, S>(PhantomData<(T, S)>);

    impl<T: SagemakerVectorsInterface, S: Slot<T> + 'static> vectors::Guest for VectorsExport<T, S> {
        fn extract_document_elements_for_vectorization(
            document: VectorsDocument,
        ) -> Result<Vec<(String, String)>, String> {
            with::<T, S, _>(|v| v.extract_document_elements_for_vectorization(&document))
        }
        fn construct_vector_doc(document: VectorsDocument, vectors: Vec<NamedVector>) -> Document {
            with::<T, S, _>(|v| v.construct_vector_doc(&document, vectors))
        }
    }
}

/// Exports your implementation as the component's interface. Use it once, at the top
/// level of your crate:
///
/// ```ignore
/// letsdata_sdk::export!(single_file_parser: MyParser);
/// letsdata_sdk::export!(single_file_state_machine_reader: MyReader, parser: MyParser);
/// letsdata_sdk::export!(multiple_file_state_machine_reader: MyReader, parser: MyParser);
/// letsdata_sdk::export!(kinesis_record_reader: MyReader);
/// letsdata_sdk::export!(kafka_record_reader: MyReader);
/// letsdata_sdk::export!(queue_message_reader: MyReader);
/// letsdata_sdk::export!(dynamodb_streams_record_reader: MyReader);
/// letsdata_sdk::export!(dynamodb_table_item_reader: MyReader);
/// // Beside one of the above, for computeEngineType LAMBDA_AND_SAGEMAKER:
/// letsdata_sdk::export!(sagemaker_vectors_interface: MyVectors);
/// ```
#[macro_export]
macro_rules! export {
    (@slot $name:ident, $t:ty) => {
        struct $name;
        impl $crate::__private::Slot<$t> for $name {
            fn cell() -> &'static ::std::thread::LocalKey<::std::cell::RefCell<$t>> {
                ::std::thread_local! {
                    static VALUE: ::std::cell::RefCell<$t> =
                        ::std::cell::RefCell::new(<$t as ::std::default::Default>::default());
                }
                &VALUE
            }
        }
    };
    (single_file_parser: $t:ty $(,)?) => {
        const _: () = {
    $crate::export!(@slot __LetsdataSlot, $t);
            type __LetsdataExport = $crate::__private::ParserExport<$t, __LetsdataSlot>;
            $crate::__private::__export_single_file_reader!(
                __LetsdataExport with_types_in $crate::bindings::single_file_reader
            );
        };
    };
    (single_file_state_machine_reader: $r:ty, parser: $p:ty $(,)?) => {
        const _: () = {
    $crate::export!(@slot __LetsdataReaderSlot, $r);
    $crate::export!(@slot __LetsdataParserSlot, $p);
            type __LetsdataExport = $crate::__private::SingleStateMachineExport<
                $r,
                $p,
                __LetsdataReaderSlot,
                __LetsdataParserSlot,
            >;
            $crate::__private::__export_single_file_state_machine!(
                __LetsdataExport with_types_in $crate::bindings::single_file_state_machine
            );
        };
    };
    (multiple_file_state_machine_reader: $r:ty, parser: $p:ty $(,)?) => {
        const _: () = {
    $crate::export!(@slot __LetsdataReaderSlot, $r);
    $crate::export!(@slot __LetsdataParserSlot, $p);
            type __LetsdataExport = $crate::__private::MultipleStateMachineExport<
                $r,
                $p,
                __LetsdataReaderSlot,
                __LetsdataParserSlot,
            >;
            $crate::__private::__export_multiple_file_state_machine!(
                __LetsdataExport with_types_in $crate::bindings::multiple_file_state_machine
            );
        };
    };
    (kinesis_record_reader: $t:ty $(,)?) => {
        const _: () = {
    $crate::export!(@slot __LetsdataSlot, $t);
            type __LetsdataExport = $crate::__private::KinesisExport<$t, __LetsdataSlot>;
            $crate::__private::__export_kinesis_reader!(
                __LetsdataExport with_types_in $crate::bindings::kinesis_reader
            );
        };
    };
    (kafka_record_reader: $t:ty $(,)?) => {
        const _: () = {
    $crate::export!(@slot __LetsdataSlot, $t);
            type __LetsdataExport = $crate::__private::KafkaExport<$t, __LetsdataSlot>;
            $crate::__private::__export_kafka_reader!(
                __LetsdataExport with_types_in $crate::bindings::kafka_reader
            );
        };
    };
    (queue_message_reader: $t:ty $(,)?) => {
        const _: () = {
    $crate::export!(@slot __LetsdataSlot, $t);
            type __LetsdataExport = $crate::__private::QueueExport<$t, __LetsdataSlot>;
            $crate::__private::__export_queue_reader!(
                __LetsdataExport with_types_in $crate::bindings::queue_reader
            );
        };
    };
    (dynamodb_streams_record_reader: $t:ty $(,)?) => {
        const _: () = {
    $crate::export!(@slot __LetsdataSlot, $t);
            type __LetsdataExport = $crate::__private::StreamsExport<$t, __LetsdataSlot>;
            $crate::__private::__export_dynamodb_streams_reader!(
                __LetsdataExport with_types_in $crate::bindings::dynamodb_streams_reader
            );
        };
    };
    (sagemaker_vectors_interface: $t:ty $(,)?) => {
        const _: () = {
    $crate::export!(@slot __LetsdataSlot, $t);
            type __LetsdataExport = $crate::__private::VectorsExport<$t, __LetsdataSlot>;
            $crate::__private::__export_sagemaker_vectors!(
                __LetsdataExport with_types_in $crate::bindings::sagemaker_vectors
            );
        };
    };
    (dynamodb_table_item_reader: $t:ty $(,)?) => {
        const _: () = {
    $crate::export!(@slot __LetsdataSlot, $t);
            type __LetsdataExport = $crate::__private::TableExport<$t, __LetsdataSlot>;
            $crate::__private::__export_dynamodb_table_reader!(
                __LetsdataExport with_types_in $crate::bindings::dynamodb_table_reader
            );
        };
    };
}
