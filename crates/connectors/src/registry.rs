//! The connectors, one line each. A dataset's read connector is the first entry whose
//! [`Connector::source`] takes its configuration; its write and error connectors likewise with
//! [`Connector::sink`].

use crate::ConnectorError;
use crate::sink::{DocumentSink, SinkRole};
use crate::source::ReadSource;
use letsdata_model::DatasetSpec;

/// One kind of connector: a read source, a document sink, or both.
pub trait Connector: Sync {
    /// The connector's name (its directory).
    fn name(&self) -> &'static str;

    /// The read source of `spec`, when its read connector is this one.
    fn source(&self, _spec: &DatasetSpec) -> Option<Box<dyn ReadSource>> {
        None
    }

    /// The sink of `spec`'s write or error connector, when that is this one.
    fn sink(&self, _spec: &DatasetSpec, _role: SinkRole) -> Option<Box<dyn DocumentSink>> {
        None
    }
}

/// Every connector.
pub static CONNECTORS: &[&dyn Connector] = &[
    &crate::s3::S3,
    &crate::kinesis::Kinesis,
    &crate::dynamodb_streams::DynamoDbStreams,
    &crate::sqs::Sqs,
    &crate::dynamodb::DynamoDb,
    &crate::kafka::Kafka,
    &crate::redis::Redis,
];

/// The read source of a dataset.
pub fn source_for(spec: &DatasetSpec) -> Result<Box<dyn ReadSource>, ConnectorError> {
    CONNECTORS
        .iter()
        .find_map(|c| c.source(spec))
        .ok_or_else(|| {
            ConnectorError::User(format!(
                "no connector reads connectorDestination {}",
                spec.read_connector.destination()
            ))
        })
}

/// The write (or error) sink of a dataset.
pub fn sink_for(
    spec: &DatasetSpec,
    role: SinkRole,
) -> Result<Box<dyn DocumentSink>, ConnectorError> {
    CONNECTORS
        .iter()
        .find_map(|c| c.sink(spec, role))
        .ok_or_else(|| {
            ConnectorError::User(format!(
                "no connector writes the {} of this dataset",
                role.field()
            ))
        })
}
