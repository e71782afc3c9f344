//! The S3 connector: files of a bucket in, part objects out (and the error connector).
//!
//! A bucket name resolves to the directory `$LETSDATA_HOME/buckets/<bucketName>/` by default,
//! or, when an endpoint is set (`LETSDATA_AWS_ENDPOINT`, else the AWS SDK's `AWS_ENDPOINT_URL_S3`
//! or `AWS_ENDPOINT_URL`: [`crate::aws::endpoint_from_env`]), to the S3 bucket of that name at
//! the endpoint. Both
//! go through the `object_store` crate so reading, writing and listing share one code path;
//! only bucket creation and existence checks differ (S3 uses the AWS SDK). Local buckets never
//! follow symbolic links (`nofollow`).
//!
//! * [`ObjectStores`] resolves bucket names to [`Bucket`]s.
//! * [`Bucket::open_read`] streams an object (optionally from an offset).
//! * [`PartWriter`] streams one output object (optionally gzip) to where nothing reads it;
//!   [`StagedObject::publish`] makes it visible atomically once a checkpoint records it,
//!   which is what exactly-once file output rests on. A local part's last write and its flush
//!   to the disk go to one thread (`flush`), which makes the parts staged meanwhile durable
//!   together (one `syncfs`).
//! * [`source::S3Source`]: one task per manifest line, opened as [`crate::source::FileInput`].
//! * [`sink::S3Sink`]: part objects `<datasetName>/<taskId>/part-<n>.jsonl[.gz]`.

mod admin;
mod bucket;
mod flush;
mod manifest;
mod nofollow;
pub mod sink;
pub mod source;
mod store;
mod writer;

pub use crate::aws::AWS_ENDPOINT_ENV;
pub use bucket::{Bucket, ObjectInfo, ObjectRead};
pub use flush::{LOCAL_FLUSH_ENV, LocalFlush};
pub use manifest::{BUILTIN_FILE_TYPE, parse_manifest_lines};
pub use sink::part_objects;
pub use store::{ObjectStores, S3Settings};
pub use writer::{PartWriter, StagedObject};

use crate::aws::Access;
use crate::registry::Connector;
use crate::sink::{DocumentSink, SinkRole};
use crate::source::ReadSource;
use letsdata_model::DatasetSpec;
use letsdata_model::spec::{Manifest, ManifestSource, ReadConnector, WriteConnector};

/// The S3 connector.
#[derive(Debug)]
pub struct S3;

impl Connector for S3 {
    fn name(&self) -> &'static str {
        "s3"
    }

    fn source(&self, spec: &DatasetSpec) -> Option<Box<dyn ReadSource>> {
        match (&spec.read_connector, &spec.manifest) {
            (
                ReadConnector::S3(read),
                Manifest::Files {
                    source,
                    reader_type,
                },
            ) => {
                let role_arn = spec.access_grant_role_arn.as_deref();
                let manifest_access = match source {
                    ManifestSource::S3Link {
                        resource_location, ..
                    } => Access::of(role_arn, *resource_location),
                    ManifestSource::Text { .. } => Access::Own,
                };
                Some(Box::new(source::S3Source {
                    access: Access::of(role_arn, read.bucket_resource_location),
                    manifest_access,
                    read: read.clone(),
                    manifest: source.clone(),
                    reader_type: *reader_type,
                }))
            }
            _ => None,
        }
    }

    fn sink(&self, spec: &DatasetSpec, role: SinkRole) -> Option<Box<dyn DocumentSink>> {
        let (location, bucket_name, gzip) = match role {
            SinkRole::Write => match &spec.write_connector {
                WriteConnector::S3(w) => (
                    w.resource_location,
                    w.bucket_name.clone(),
                    w.compression == letsdata_model::spec::Compression::Gzip,
                ),
                _ => return None,
            },
            SinkRole::Error => (
                spec.error_connector.resource_location,
                spec.error_connector.bucket_name.clone(),
                false,
            ),
        };
        Some(Box::new(sink::S3Sink {
            role,
            access: Access::of(spec.access_grant_role_arn.as_deref(), location),
            location,
            bucket_name,
            gzip,
        }))
    }
}
