//! The DynamoDB Streams connector: the shards of a table's stream in ([`source`]).

mod client;
pub mod source;

pub use client::*;

use crate::aws::Access;
use crate::registry::Connector;
use crate::source::ReadSource;
use letsdata_model::DatasetSpec;
use letsdata_model::spec::{Manifest, ReadConnector};

/// `DynamoDBStream`: the resource type of table streams.
pub const DYNAMODB_STREAM: &str = "DynamoDBStream";

/// The table of a DynamoDB stream ARN (`arn:…:table/<table>/stream/<label>`).
pub fn stream_table(arn: &str) -> &str {
    arn.split_once(":table/")
        .and_then(|(_, rest)| rest.split_once("/stream/"))
        .map_or(arn, |(table, _)| table)
}

/// The DynamoDB Streams connector.
#[derive(Debug)]
pub struct DynamoDbStreams;

impl Connector for DynamoDbStreams {
    fn name(&self) -> &'static str {
        "dynamodb_streams"
    }

    fn source(&self, spec: &DatasetSpec) -> Option<Box<dyn ReadSource>> {
        match (&spec.read_connector, &spec.manifest) {
            (ReadConnector::DynamoDbStreams(read), Manifest::DynamoDbStreams(manifest)) => {
                Some(Box::new(source::DynamoDbStreamsSource {
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
}
