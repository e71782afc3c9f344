//! The interface table: every LetsData interface a component can implement, how the engine
//! drives it, and, for the stream, queue, table and topic readers, how a record's
//! [`RecordMeta`] becomes the call of the interface's export.
//!
//! A new reader interface is a variant of [`Interface`] (its names, functions and kind), a
//! world binding and a variant of `RecordBindings` with its call in
//! [`RecordReader::parse_record`], all here.

use crate::instance::{Limits, Session, guest_call, instantiate_error};
use crate::wit::ParseDocumentResult;
use crate::{Code, Sandbox, SandboxError};
use letsdata_model::record::RecordMeta;

/// A LetsData interface a component implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interface {
    SingleFileParser,
    SingleFileStateMachineReader,
    MultipleFileStateMachineReader,
    KinesisRecordReader,
    KafkaRecordReader,
    QueueMessageReader,
    DynamoDbStreamsRecordReader,
    DynamoDbTableItemReader,
    /// Not a reader: exported beside one by datasets of the vectors engine
    /// ([`crate::VectorsCode`]).
    SagemakerVectorsInterface,
}

/// How the engine drives an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterfaceKind {
    /// Batches of records cut from a file ([`crate::FileParser`]).
    FileParser,
    /// Documents pulled from the files' cursors ([`crate::StateMachine`]).
    StateMachine { multiple: bool },
    /// One call per record of a source ([`RecordReader`]).
    RecordReader,
    /// Documents through the vectors engine ([`crate::VectorsCode`]).
    Vectors,
}

impl Interface {
    /// Every interface.
    pub const ALL: [Interface; 9] = [
        Self::SingleFileParser,
        Self::SingleFileStateMachineReader,
        Self::MultipleFileStateMachineReader,
        Self::KinesisRecordReader,
        Self::KafkaRecordReader,
        Self::QueueMessageReader,
        Self::DynamoDbStreamsRecordReader,
        Self::DynamoDbTableItemReader,
        Self::SagemakerVectorsInterface,
    ];

    /// The interface of that LetsData name (`KinesisRecordReader`), as read connectors name
    /// the interface they need.
    pub fn from_letsdata_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|i| i.letsdata_name() == name)
    }

    /// How the engine drives it.
    pub fn kind(self) -> InterfaceKind {
        match self {
            Self::SingleFileParser => InterfaceKind::FileParser,
            Self::SingleFileStateMachineReader => InterfaceKind::StateMachine { multiple: false },
            Self::MultipleFileStateMachineReader => InterfaceKind::StateMachine { multiple: true },
            Self::KinesisRecordReader
            | Self::KafkaRecordReader
            | Self::QueueMessageReader
            | Self::DynamoDbStreamsRecordReader
            | Self::DynamoDbTableItemReader => InterfaceKind::RecordReader,
            Self::SagemakerVectorsInterface => InterfaceKind::Vectors,
        }
    }

    /// The WIT interface the component must export.
    pub fn export_name(self) -> String {
        format!("letsdata:data/{}@0.1.0", self.wit_name())
    }

    fn wit_name(self) -> &'static str {
        match self {
            Interface::SingleFileParser => "single-file-parser",
            Interface::SingleFileStateMachineReader => "single-file-state-machine-reader",
            Interface::MultipleFileStateMachineReader => "multiple-file-state-machine-reader",
            Interface::KinesisRecordReader => "kinesis-record-reader",
            Interface::KafkaRecordReader => "kafka-record-reader",
            Interface::QueueMessageReader => "queue-message-reader",
            Interface::DynamoDbStreamsRecordReader => "dynamodb-streams-record-reader",
            Interface::DynamoDbTableItemReader => "dynamodb-table-item-reader",
            Interface::SagemakerVectorsInterface => "sagemaker-vectors-interface",
        }
    }

    /// LetsData's name of the interface.
    pub fn letsdata_name(self) -> &'static str {
        match self {
            Interface::SingleFileParser => "SingleFileParser",
            Interface::SingleFileStateMachineReader => "SingleFileStateMachineReader",
            Interface::MultipleFileStateMachineReader => "MultipleFileStateMachineReader",
            Interface::KinesisRecordReader => "KinesisRecordReader",
            Interface::KafkaRecordReader => "KafkaRecordReader",
            Interface::QueueMessageReader => "QueueMessageReader",
            Interface::DynamoDbStreamsRecordReader => "DynamoDBStreamsRecordReader",
            Interface::DynamoDbTableItemReader => "DynamoDBTableItemReader",
            Interface::SagemakerVectorsInterface => "SagemakerVectorsInterface",
        }
    }

    /// The functions the interface must have.
    pub(crate) fn functions(self) -> &'static [&'static str] {
        match self {
            Interface::SingleFileParser => &[
                "get-s3-file-type",
                "get-resolved-s3-file-name",
                "get-record-start-pattern",
                "get-record-end-pattern",
                "parse-documents",
            ],
            Interface::SingleFileStateMachineReader => &[
                "get-s3-file-type",
                "get-resolved-s3-file-name",
                "parse-document",
            ],
            Interface::MultipleFileStateMachineReader => &[
                "get-s3-file-types",
                "get-resolved-s3-file-names",
                "parse-document",
            ],
            Interface::KinesisRecordReader
            | Interface::KafkaRecordReader
            | Interface::QueueMessageReader => &["parse-message"],
            Interface::DynamoDbStreamsRecordReader => &["parse-record"],
            Interface::DynamoDbTableItemReader => &["parse-dynamodb-item"],
            Interface::SagemakerVectorsInterface => &[
                "extract-document-elements-for-vectorization",
                "construct-vector-doc",
            ],
        }
    }

    /// The SDK macro that exports this interface (for error messages).
    pub(crate) fn sdk_hint(self) -> &'static str {
        match self {
            Interface::SingleFileParser => "letsdata_sdk::export!(single_file_parser: YourParser)",
            Interface::SingleFileStateMachineReader => {
                "letsdata_sdk::export!(single_file_state_machine_reader: YourReader, parser: YourParser)"
            }
            Interface::MultipleFileStateMachineReader => {
                "letsdata_sdk::export!(multiple_file_state_machine_reader: YourReader, parser: YourParser)"
            }
            Interface::KinesisRecordReader => {
                "letsdata_sdk::export!(kinesis_record_reader: YourReader)"
            }
            Interface::KafkaRecordReader => {
                "letsdata_sdk::export!(kafka_record_reader: YourReader)"
            }
            Interface::QueueMessageReader => {
                "letsdata_sdk::export!(queue_message_reader: YourReader)"
            }
            Interface::DynamoDbStreamsRecordReader => {
                "letsdata_sdk::export!(dynamodb_streams_record_reader: YourReader)"
            }
            Interface::DynamoDbTableItemReader => {
                "letsdata_sdk::export!(dynamodb_table_item_reader: YourReader)"
            }
            Interface::SagemakerVectorsInterface => {
                "letsdata_sdk::export!(sagemaker_vectors_interface: YourVectors)"
            }
        }
    }
}

/// Host bindings of the reader worlds (their document types are shared with the file worlds).
mod bindings {
    pub(crate) mod kinesis_reader {
        wasmtime::component::bindgen!({
            world: "kinesis-reader",
            path: "wit",
            exports: { default: async },
            with: {
                "letsdata:data/types": crate::bindings::single_file_reader::letsdata::data::types,
            },
        });
    }

    pub(crate) mod kafka_reader {
        wasmtime::component::bindgen!({
            world: "kafka-reader",
            path: "wit",
            exports: { default: async },
            with: {
                "letsdata:data/types": crate::bindings::single_file_reader::letsdata::data::types,
            },
        });
    }

    pub(crate) mod queue_reader {
        wasmtime::component::bindgen!({
            world: "queue-reader",
            path: "wit",
            exports: { default: async },
            with: {
                "letsdata:data/types": crate::bindings::single_file_reader::letsdata::data::types,
            },
        });
    }

    pub(crate) mod dynamodb_streams_reader {
        wasmtime::component::bindgen!({
            world: "dynamodb-streams-reader",
            path: "wit",
            exports: { default: async },
            with: {
                "letsdata:data/types": crate::bindings::single_file_reader::letsdata::data::types,
            },
        });
    }

    pub(crate) mod dynamodb_table_reader {
        wasmtime::component::bindgen!({
            world: "dynamodb-table-reader",
            path: "wit",
            exports: { default: async },
            with: {
                "letsdata:data/types": crate::bindings::single_file_reader::letsdata::data::types,
            },
        });
    }
}

/// A reader instance's bindings, by interface.
enum RecordBindings {
    Kinesis(bindings::kinesis_reader::KinesisReader),
    Kafka(bindings::kafka_reader::KafkaReader),
    Queue(bindings::queue_reader::QueueReader),
    Streams(bindings::dynamodb_streams_reader::DynamodbStreamsReader),
    Table(bindings::dynamodb_table_reader::DynamodbTableReader),
}

impl RecordBindings {
    fn interface(&self) -> Interface {
        match self {
            Self::Kinesis(_) => Interface::KinesisRecordReader,
            Self::Kafka(_) => Interface::KafkaRecordReader,
            Self::Queue(_) => Interface::QueueMessageReader,
            Self::Streams(_) => Interface::DynamoDbStreamsRecordReader,
            Self::Table(_) => Interface::DynamoDbTableItemReader,
        }
    }
}

/// One task's instance of a stream, queue, table or topic reader component: one call per
/// record.
pub struct RecordReader {
    session: Session,
    bindings: RecordBindings,
}

impl std::fmt::Debug for RecordReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordReader")
            .field("code", &self.session.code)
            .finish()
    }
}

/// A record of another kind of source than the instance reads.
fn wrong_record(interface: Interface, meta: &RecordMeta) -> SandboxError {
    SandboxError::MissingExport(format!(
        "this reader instance implements {}, which does not read {} records",
        interface.letsdata_name(),
        match meta {
            RecordMeta::Kinesis { .. } => "Kinesis",
            RecordMeta::Kafka { .. } => "Kafka",
            RecordMeta::DynamoDbStreams { .. } => "DynamoDB Streams",
            RecordMeta::Queue { .. } => "queue",
            RecordMeta::TableItem { .. } => "DynamoDB table",
        }
    ))
}

/// Bytes a reader interface takes as a string.
fn text(raw: &[u8]) -> Result<&str, SandboxError> {
    std::str::from_utf8(raw)
        .map_err(|e| SandboxError::Trap(format!("the record is not UTF-8 text: {e}")))
}

impl RecordReader {
    /// Instantiates `code` for `interface` (one of the reader interfaces).
    pub async fn new(
        sandbox: &Sandbox,
        code: &Code,
        limits: Limits,
        interface: Interface,
    ) -> Result<Self, SandboxError> {
        let mut session = Session::new(sandbox, code, limits, Vec::new());
        let bindings = Self::instantiate(&mut session, interface).await?;
        Ok(Self { session, bindings })
    }

    async fn instantiate(
        session: &mut Session,
        interface: Interface,
    ) -> Result<RecordBindings, SandboxError> {
        use bindings::{
            dynamodb_streams_reader::DynamodbStreamsReader,
            dynamodb_table_reader::DynamodbTableReader, kafka_reader::KafkaReader,
            kinesis_reader::KinesisReader, queue_reader::QueueReader,
        };
        let linker = session.linker()?;
        session.arm();
        let (store, component) = (&mut session.store, &session.code.component);
        let result = match interface {
            Interface::KinesisRecordReader => {
                KinesisReader::instantiate_async(store, component, &linker)
                    .await
                    .map(RecordBindings::Kinesis)
            }
            Interface::KafkaRecordReader => {
                KafkaReader::instantiate_async(store, component, &linker)
                    .await
                    .map(RecordBindings::Kafka)
            }
            Interface::QueueMessageReader => {
                QueueReader::instantiate_async(store, component, &linker)
                    .await
                    .map(RecordBindings::Queue)
            }
            Interface::DynamoDbStreamsRecordReader => {
                DynamodbStreamsReader::instantiate_async(store, component, &linker)
                    .await
                    .map(RecordBindings::Streams)
            }
            Interface::DynamoDbTableItemReader => {
                DynamodbTableReader::instantiate_async(store, component, &linker)
                    .await
                    .map(RecordBindings::Table)
            }
            other => {
                return Err(SandboxError::Instantiate(format!(
                    "{} is not a record reader interface",
                    other.letsdata_name()
                )));
            }
        };
        result.map_err(instantiate_error)
    }

    async fn reinstantiate(&mut self) -> Result<(), SandboxError> {
        let interface = self.bindings.interface();
        self.session.renew();
        self.bindings = Self::instantiate(&mut self.session, interface).await?;
        Ok(())
    }

    /// The interface's call for one record: `meta` says what kind of record it is and carries
    /// its arguments, `raw` is its bytes.
    pub async fn parse_record(
        &mut self,
        meta: &RecordMeta,
        raw: &[u8],
    ) -> Result<ParseDocumentResult, SandboxError> {
        match meta {
            RecordMeta::Kinesis {
                stream_arn,
                shard_id,
                partition_key,
                sequence_number,
                approximate_arrival_timestamp,
            } => guest_call!(
                self,
                let RecordBindings::Kinesis(k),
                else wrong_record(self.bindings.interface(), meta),
                |store| async {
                    k.letsdata_data_kinesis_record_reader()
                        .call_parse_message(
                            store,
                            stream_arn,
                            shard_id,
                            partition_key,
                            sequence_number,
                            *approximate_arrival_timestamp,
                            raw,
                        )
                        .await
                }
            ),
            RecordMeta::Kafka {
                topic,
                partition,
                offset,
                key,
                timestamp,
                headers,
            } => guest_call!(
                self,
                let RecordBindings::Kafka(k),
                else wrong_record(self.bindings.interface(), meta),
                |store| async {
                    k.letsdata_data_kafka_record_reader()
                        .call_parse_message(
                            store,
                            topic,
                            *partition,
                            *offset,
                            key.as_deref(),
                            *timestamp,
                            headers,
                            raw,
                        )
                        .await
                }
            ),
            RecordMeta::Queue {
                message_id,
                message_group_id,
                message_deduplication_id,
                message_attributes,
            } => {
                let body = text(raw)?;
                guest_call!(
                    self,
                    let RecordBindings::Queue(q),
                    else wrong_record(self.bindings.interface(), meta),
                    |store| async {
                        q.letsdata_data_queue_message_reader()
                            .call_parse_message(
                                store,
                                message_id,
                                message_group_id.as_deref(),
                                message_deduplication_id.as_deref(),
                                message_attributes,
                                body,
                            )
                            .await
                    }
                )
            }
            RecordMeta::DynamoDbStreams {
                stream_arn,
                shard_id,
                event_id,
                event_name,
                identity_principal_id,
                identity_type,
                sequence_number,
                size_bytes,
                stream_view_type,
                approximate_creation_date_time,
                keys,
                old_image,
                new_image,
            } => guest_call!(
                self,
                let RecordBindings::Streams(s),
                else wrong_record(self.bindings.interface(), meta),
                |store| async {
                    s.letsdata_data_dynamodb_streams_record_reader()
                        .call_parse_record(
                            store,
                            stream_arn,
                            shard_id,
                            event_id,
                            event_name,
                            identity_principal_id.as_deref(),
                            identity_type.as_deref(),
                            sequence_number,
                            *size_bytes,
                            stream_view_type,
                            *approximate_creation_date_time,
                            keys,
                            old_image.as_deref(),
                            new_image.as_deref(),
                        )
                        .await
                }
            ),
            RecordMeta::TableItem {
                table_name,
                segment_number,
                keys,
            } => {
                let item = text(raw)?;
                guest_call!(
                    self,
                    let RecordBindings::Table(t),
                    else wrong_record(self.bindings.interface(), meta),
                    |store| async {
                        t.letsdata_data_dynamodb_table_item_reader()
                            .call_parse_dynamodb_item(store, table_name, *segment_number, keys, item)
                            .await
                    }
                )
            }
        }
    }

    /// What the guest printed since the last drain, and how many bytes were dropped.
    pub fn drain_log(&mut self) -> (Vec<u8>, u64) {
        self.session.drain_log()
    }
}
