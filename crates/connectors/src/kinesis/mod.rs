//! The Kinesis connector: shards of a stream in ([`source`]), gzip records out ([`sink`]).

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

/// `KinesisStream`: the resource type of streams.
pub const KINESIS_STREAM: &str = "KinesisStream";

/// The stream's name in a Kinesis stream ARN (`arn:…:stream/<name>`), or the input itself.
pub fn stream_name(name_or_arn: &str) -> &str {
    name_or_arn
        .rsplit_once(":stream/")
        .map_or(name_or_arn, |(_, name)| name)
}

/// The Kinesis connector.
#[derive(Debug)]
pub struct Kinesis;

impl Connector for Kinesis {
    fn name(&self) -> &'static str {
        "kinesis"
    }

    fn source(&self, spec: &DatasetSpec) -> Option<Box<dyn ReadSource>> {
        match (&spec.read_connector, &spec.manifest) {
            (ReadConnector::Kinesis(read), Manifest::Kinesis(manifest)) => {
                Some(Box::new(source::KinesisSource {
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
            (WriteConnector::Kinesis(write), SinkRole::Write) => {
                Some(Box::new(sink::KinesisSink {
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
