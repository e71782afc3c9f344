//! letsdata-connectors: where data comes from and goes to.
//!
//! Buckets are the one storage abstraction of the S3 connectors. A bucket name resolves to
//! the directory `$LETSDATA_HOME/buckets/<bucketName>/` by default, or, when
//! `LETSDATA_AWS_ENDPOINT` is set, to the S3 bucket of that name at the endpoint. Both go
//! through the `object_store` crate so reading, writing and listing share one code path;
//! only bucket creation and existence checks differ (S3 uses the AWS SDK).
//!
//! * [`object::ObjectStores`] resolves bucket names to [`object::Bucket`]s.
//! * [`object::Bucket::open_read`] streams an object (optionally from an offset).
//! * [`object::PartWriter`] streams one output object (optionally gzip) and makes it visible
//!   atomically when finished, which is what exactly-once file output rests on.

pub mod aws;
mod error;
pub mod object;

pub use error::{ConnectorError, FailureKind};
