//! The Redis connector: documents out as values of a Redis ([`sink`]), the self-hosted
//! counterpart of LetsData's cache destination (Momento).
//!
//! # Where
//!
//! A `Customer` Redis is named by `redisUrl` (`redis://[user[:password]@]host[:port][/db]`,
//! `rediss://` for TLS), a `LetsData` one is this installation's ([`REDIS_URL_ENV`]). Either
//! may hold `${env:NAME}` references, resolved when connecting; `redisPassword`, when given,
//! replaces the URL's password. The resource a dataset records ([`REDIS_KEYSPACE`]) is its
//! key prefix (`keyPrefix`, else `<datasetName>:` for a `Customer` Redis and a generated
//! `<name>:` for the installation's) and the Redis URL with its password masked; a password
//! is never written into a record, a message or a log.
//!
//! # Writes
//!
//! A document becomes the value of the key `<prefix><document id>` (`SET key value [EX ttl]`),
//! all the documents of a batch in one pipeline (cut in pipelines of at most 16 MiB),
//! answered before the batch counts as delivered: what the engine checkpoints is in the Redis.
//! A document larger than `maxValueSizeInBytes` is not sent but rejected, for an error record.
//! Delivery is at least once; a document written again overwrites its key with the same
//! value.
//!
//! # Failures
//!
//! Each Redis URL (and password) has one lazily connected
//! [`::redis::aio::ConnectionManager`], cached in the [`crate::ConnectorContext`] under the
//! redacted URL and a digest of the credentials. Connections time out after 5 s, answers
//! after 10 s, and a lost connection is reconnected at most twice before the command fails. A
//! command that fails for a connection reason (timeout, refused or lost connection, a Redis
//! loading its data or out of memory) is retried with bounded back-off on a fresh connection
//! manager for at most 60 s (15 s for `datasets create`'s check); then it fails with a
//! transient [`crate::ConnectorError::Io`] naming the Redis by its redacted URL and the
//! command: a stopped (`SIGSTOP`) or unreachable Redis fails the task within about a minute,
//! and a redrive after it is back succeeds. A refused password (`NOAUTH`, `WRONGPASS`) is the
//! user's to fix ([`crate::FailureKind::User`]).
//!
//! # Deleting
//!
//! `datasets delete` removes the keys of a `LetsData` keyspace: `SCAN MATCH <prefix>*` (the
//! prefix's glob characters escaped) and `UNLINK`, page by page. Keys outside the prefix are
//! left alone.

mod client;
pub mod sink;

#[cfg(test)]
mod tests;

use crate::registry::Connector;
use crate::sink::{DocumentSink, SinkRole};
use letsdata_model::DatasetSpec;
use letsdata_model::spec::WriteConnector;

/// `RedisKeyspace`: the resource type of the keys under a prefix in a Redis.
pub const REDIS_KEYSPACE: &str = "RedisKeyspace";

/// The environment variable naming this installation's Redis, where `LetsData` keyspaces
/// live (`redis://[user[:password]@]host[:port][/db]`).
pub const REDIS_URL_ENV: &str = "LETSDATA_REDIS_URL";

/// The Redis connector.
#[derive(Debug)]
pub struct Redis;

impl Connector for Redis {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn sink(&self, spec: &DatasetSpec, role: SinkRole) -> Option<Box<dyn DocumentSink>> {
        match (&spec.write_connector, role) {
            (WriteConnector::Redis(write), SinkRole::Write) => Some(Box::new(sink::RedisSink {
                write: write.clone(),
                dataset_name: spec.dataset_name.clone(),
            })),
            _ => None,
        }
    }
}
