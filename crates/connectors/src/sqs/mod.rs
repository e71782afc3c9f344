//! The SQS connector: messages of a queue in ([`source`]), messages out ([`sink`]).

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

/// `SQSQueue`: the resource type of queues.
pub const SQS_QUEUE: &str = "SQSQueue";

/// The SQS connector.
#[derive(Debug)]
pub struct Sqs;

impl Connector for Sqs {
    fn name(&self) -> &'static str {
        "sqs"
    }

    fn source(&self, spec: &DatasetSpec) -> Option<Box<dyn ReadSource>> {
        match (&spec.read_connector, &spec.manifest) {
            (ReadConnector::Sqs(read), Manifest::Sqs(manifest)) => {
                Some(Box::new(source::SqsSource {
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
            (WriteConnector::Sqs(write), SinkRole::Write) => Some(Box::new(sink::SqsSink {
                access: Access::of(
                    spec.access_grant_role_arn.as_deref(),
                    write.resource_location,
                ),
                write: write.clone(),
                region: spec.region.as_str(),
            })),
            _ => None,
        }
    }
}
