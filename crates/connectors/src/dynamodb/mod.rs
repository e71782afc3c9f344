//! The DynamoDB connector: segments of a table scan in ([`source`]), items out ([`sink`]).

mod client;
pub mod sink;
pub mod source;

pub use client::*;

use crate::aws::Access;
use crate::registry::Connector;
use crate::sink::{DocumentSink, SinkRole};
use crate::source::ReadSource;
use letsdata_model::DatasetSpec;
use letsdata_model::spec::{Manifest, ReadConnector, WriteConnector};

/// `DynamoDBTable`: the resource type of tables.
pub const DYNAMODB_TABLE: &str = "DynamoDBTable";

/// The DynamoDB connector.
#[derive(Debug)]
pub struct DynamoDb;

impl Connector for DynamoDb {
    fn name(&self) -> &'static str {
        "dynamodb"
    }

    fn source(&self, spec: &DatasetSpec) -> Option<Box<dyn ReadSource>> {
        match (&spec.read_connector, &spec.manifest) {
            (ReadConnector::DynamoDb(read), Manifest::DynamoDbTable(manifest)) => {
                Some(Box::new(source::DynamoDbSource {
                    access: Access::of(
                        spec.access_grant_role_arn.as_deref(),
                        read.resource_location,
                    ),
                    read: read.clone(),
                    manifest: *manifest,
                    region: spec.region.as_str(),
                }))
            }
            _ => None,
        }
    }

    fn sink(&self, spec: &DatasetSpec, role: SinkRole) -> Option<Box<dyn DocumentSink>> {
        match (&spec.write_connector, role) {
            (WriteConnector::DynamoDb(write), SinkRole::Write) => {
                Some(Box::new(sink::DynamoDbSink {
                    access: Access::of(
                        spec.access_grant_role_arn.as_deref(),
                        write.resource_location,
                    ),
                    write: write.clone(),
                    region: spec.region.as_str(),
                }))
            }
            _ => None,
        }
    }
}
