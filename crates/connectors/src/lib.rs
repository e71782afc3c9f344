//! letsdata-connectors: where data comes from and goes to.
//!
//! Every connector is one directory behind two traits, and [`registry::CONNECTORS`] lists
//! them, one line each:
//!
//! * a [`source::ReadSource`] knows the tasks a dataset gets (files, shards, segments, queue
//!   workers), checks at `datasets create` that what it reads exists, and opens a task at its
//!   checkpoint position: as files to cut into records ([`source::FileInput`]), or as a
//!   [`source::RecordSource`] that polls batches of records, says which position covers the
//!   records handled, and acknowledges them once their output is durable;
//! * a [`sink::DocumentSink`] names, checks, provisions and deletes what a write (or error)
//!   connector writes, opens a [`sink::SinkWriter`] per task that takes batches of documents
//!   and reports the ones the destination rejects, and reads documents back for
//!   `letsdata output read`.
//!
//! The engine sees only the traits: a checkpoint position is the connector's own JSON, a task's
//! input description too, and a record's metadata for user code is a
//! [`letsdata_model::record::RecordMeta`]. Adding a connector is a directory and a registry line
//! (docs/dev/adding-a-connector.md).
//!
//! | directory | reads | writes |
//! |---|---|---|
//! | [`s3`] | files of a bucket (local directory or S3) | part objects |
//! | [`kinesis`] | shards of a stream | gzip records |
//! | [`dynamodb_streams`] | shards of a table's stream | |
//! | [`sqs`] | messages of a queue | messages |
//! | [`dynamodb`] | segments of a table scan | items |
//!
//! [`aws`] holds what the AWS connectors share: SDK configuration, retries as data, failure
//! classification, DynamoDB attribute values and the shard reader.

pub mod aws;
mod context;
pub mod dynamodb;
pub mod dynamodb_streams;
mod error;
pub mod failpoints;
mod gzip;
pub mod kafka;
pub mod kinesis;
pub mod owner;
pub mod redis;
pub mod registry;
pub mod s3;
pub mod sink;
pub mod source;
pub mod sqs;

pub use context::ConnectorContext;
pub use error::{ConnectorError, FailureKind};
pub use gzip::{gunzip, gzip};
pub use registry::{sink_for, source_for};
