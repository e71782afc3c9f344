//! The Kafka connector: the partitions of a topic in ([`source`]), records keyed by document
//! id out ([`sink`]).
//!
//! # Clusters and clients
//!
//! A `Customer` topic is on the cluster the configuration names (`bootstrapServers` and its
//! security settings); a `LetsData` topic is on the installation's own cluster,
//! [`BOOTSTRAP_SERVERS_ENV`] (plaintext), as LetsData runs its own MSK cluster. [`KafkaClient`]
//! ([`client`]) wraps one rskafka client per cluster and security settings, cached in the
//! [`ConnectorContext`] under a key that holds a hash of the password, never the password.
//! The password (`${env:NAME}` references resolved on the worker) is in no message either.
//!
//! # Every call is bounded
//!
//! rskafka has no request timeout and, by default, retries forever: a broker that stops
//! answering (SIGSTOP, a half-open connection) makes a call hang. Every call here is therefore
//! one bounded attempt after another ([`CallPolicy`]): each attempt has a timeout (10 s for
//! metadata and administration, 30 s for produce and fetch), rskafka's own retries get a short
//! deadline, transient failures (no answer, connection failures, retriable broker errors such as
//! `LeaderNotAvailable`) are retried with the bounded back-off of [`crate::aws::RetryPolicy`]
//! within a total budget of about a minute, after which the call fails as
//! [`FailureKind::Transient`](crate::FailureKind) with a message naming the broker, topic and
//! partition. An attempt that got no answer drops the cached client, so the next attempt
//! connects afresh. A topic that does not exist is the user's error. Delivery is at least once:
//! a produce retried after a timeout may have been written already.
//!
//! # Reading
//!
//! One task per partition; a task's checkpoint position is `{"nextOffset": n}`, the offset of
//! the next record to read. Without one, a task starts at the earliest offset, at the high
//! watermark (`Latest`, learnt from a fetch, fixed by the first checkpoint so that a rerun
//! does not move it) or at the first offset at or after a time. Existence is checked by
//! listing the topics: a metadata request for one topic creates it on brokers that
//! auto-create topics.
//!
//! # Writing
//!
//! Each document is a record whose key is the document id and whose value is the document,
//! sent to the partition Kafka's default partitioner picks for the key ([`partition_for`]:
//! murmur2), so that consumers see documents of one id in order. The records of a batch are
//! grouped per partition and produced concurrently with `acks=all`; a record larger than
//! `maxMessageBytes` is rejected (an error record) instead of sent.

pub mod client;
mod failure;
mod partition;
mod partitioner;
pub mod sink;
pub mod source;
#[cfg(test)]
mod tests;

pub use client::{CallPolicy, ClusterSettings, KafkaClient};
pub use partition::{Fetched, KafkaPartition, Produced};
pub use partitioner::{murmur2, partition_for};

use crate::ConnectorContext;
use crate::ConnectorError;
use crate::registry::Connector;
use crate::sink::{DocumentSink, SinkRole};
use crate::source::ReadSource;
use letsdata_model::spec::{KafkaCluster, KafkaSecurity, Manifest, ReadConnector};
use letsdata_model::spec::{ResourceLocation, WriteConnector};
use letsdata_model::{DatasetSpec, Problem};

/// `KafkaTopic`: the resource type of topics.
pub const KAFKA_TOPIC: &str = "KafkaTopic";

/// The installation's own cluster, for `LetsData` topics: `host:port,host:port` (plaintext).
pub const BOOTSTRAP_SERVERS_ENV: &str = "LETSDATA_KAFKA_BOOTSTRAP_SERVERS";

/// The Kafka connector.
#[derive(Debug)]
pub struct Kafka;

impl Connector for Kafka {
    fn name(&self) -> &'static str {
        "kafka"
    }

    fn source(&self, spec: &DatasetSpec) -> Option<Box<dyn ReadSource>> {
        match (&spec.read_connector, &spec.manifest) {
            (ReadConnector::Kafka(read), Manifest::Kafka(manifest)) => {
                Some(Box::new(source::KafkaSource {
                    read: read.clone(),
                    manifest: *manifest,
                }))
            }
            _ => None,
        }
    }

    fn sink(&self, spec: &DatasetSpec, role: SinkRole) -> Option<Box<dyn DocumentSink>> {
        match (&spec.write_connector, role) {
            (WriteConnector::Kafka(write), SinkRole::Write) => Some(Box::new(sink::KafkaSink {
                write: write.clone(),
            })),
            _ => None,
        }
    }
}

/// The servers of [`BOOTSTRAP_SERVERS_ENV`], if it names any.
pub fn installation_servers() -> Option<Vec<String>> {
    let servers: Vec<String> = std::env::var(BOOTSTRAP_SERVERS_ENV)
        .ok()?
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    (!servers.is_empty()).then_some(servers)
}

/// Why a `LetsData` topic has no cluster, for problems and errors.
fn no_installation_cluster() -> String {
    format!(
        "a LetsData Kafka topic is on this installation's own cluster, and none is configured: set {BOOTSTRAP_SERVERS_ENV} (host:port,host:port), or use resourceLocation Customer with your cluster's bootstrapServers"
    )
}

/// The cluster a topic is on: the configured one (`Customer`), or the installation's
/// (`LetsData`, from [`BOOTSTRAP_SERVERS_ENV`]; `fallback`, the servers recorded with the
/// resource, when the variable is unset).
pub(crate) fn cluster_of(
    location: ResourceLocation,
    configured: &KafkaCluster,
    fallback: &str,
) -> Result<KafkaCluster, ConnectorError> {
    match location {
        ResourceLocation::Customer => Ok(configured.clone()),
        ResourceLocation::LetsData => {
            let servers = installation_servers().or_else(|| {
                let recorded: Vec<String> = fallback
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                (!recorded.is_empty()).then_some(recorded)
            });
            match servers {
                Some(bootstrap_servers) => Ok(KafkaCluster {
                    bootstrap_servers,
                    security: KafkaSecurity::default(),
                }),
                None => Err(ConnectorError::User(no_installation_cluster())),
            }
        }
    }
}

/// The servers of a topic's cluster as `host:port,host:port`, empty when unknown.
pub(crate) fn servers_of(location: ResourceLocation, configured: &KafkaCluster) -> String {
    match location {
        ResourceLocation::Customer => configured.bootstrap_servers.join(","),
        ResourceLocation::LetsData => installation_servers()
            .map(|s| s.join(","))
            .unwrap_or_default(),
    }
}

/// The client of `cluster`, made once per process.
pub(crate) async fn connect(
    ctx: &ConnectorContext,
    cluster: &KafkaCluster,
) -> Result<KafkaClient, ConnectorError> {
    let settings = client::ClusterSettings::resolve(cluster)?;
    let key = settings.cache_key();
    ctx.client(&key, || async move { KafkaClient::new(settings) })
        .await
}

/// The problem of a cluster that cannot be reached or configured, on the field to fix
/// (`connector` is `readConnector` or `writeConnector`).
pub(crate) fn cluster_problem(
    connector: &str,
    location: ResourceLocation,
    e: &ConnectorError,
) -> Problem {
    let message = e.to_string();
    let field = match location {
        ResourceLocation::LetsData => "resourceLocation",
        ResourceLocation::Customer if message.starts_with("saslPassword") => "saslPassword",
        ResourceLocation::Customer if message.starts_with("sslCaLocation") => "sslCaLocation",
        ResourceLocation::Customer => "bootstrapServers",
    };
    Problem {
        path: format!("{connector}.{field}"),
        message,
    }
}

/// How messages name a topic: `Kafka topic "clicks" at kafka1:9092`.
pub(crate) fn describe(topic: &str, servers: &str) -> String {
    format!("Kafka topic {topic:?} at {servers}")
}
