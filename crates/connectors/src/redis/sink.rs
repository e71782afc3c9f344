//! The Redis sink: each document the value of `<prefix><document id>`, a batch in one
//! pipeline; see the module docs of [`crate::redis`].

use super::client::{CHECK_BUDGET, COMMAND_BUDGET, RedisClient, escape_glob};
use super::{REDIS_KEYSPACE, REDIS_URL_ENV};
use crate::owner::Owner;
use crate::sink::{Deliver, Delivering, DocumentSink, Rejected, SinkTask, SinkWriter};
use crate::{ConnectorContext, ConnectorError, FailureKind};
use async_trait::async_trait;
use bytes::Bytes;
use letsdata_model::secrets::{redact_url, resolve};
use letsdata_model::spec::{RedisWriteConnector, ResourceLocation};
use letsdata_model::{ConnectorResource, Problem};
use std::borrow::Cow;
use std::time::Duration;

/// Largest pipeline sent at once (the documents of a larger batch go in several).
const MAX_PIPELINE_BYTES: usize = 16 * 1024 * 1024;
/// Keys one `MGET` reads.
const MGET_KEYS: usize = 500;

/// Writes documents as values of a Redis.
#[derive(Debug, Clone)]
pub struct RedisSink {
    pub(super) write: RedisWriteConnector,
    pub(super) dataset_name: String,
}

/// The Redis to connect to: the URL and password with their references resolved.
struct Target {
    url: String,
    password: Option<String>,
}

impl RedisSink {
    /// The configuration field a problem with reaching the Redis is reported on.
    fn url_field(&self) -> &'static str {
        match self.write.resource_location {
            ResourceLocation::Customer => "writeConnector.redisUrl",
            ResourceLocation::LetsData => "writeConnector.resourceLocation",
        }
    }

    /// Where the Redis is, or the problem (field, message) that says why it cannot be known.
    fn target(&self) -> Result<Target, Problem> {
        let problem = |path: &str, message: String| Problem {
            path: path.to_string(),
            message,
        };
        let url = match self.write.resource_location {
            ResourceLocation::Customer => {
                let configured = self.write.redis_url.as_deref().unwrap_or_default();
                resolve(configured).map_err(|e| problem("writeConnector.redisUrl", e))?
            }
            ResourceLocation::LetsData => match std::env::var(REDIS_URL_ENV) {
                Ok(url) if !url.trim().is_empty() => {
                    resolve(url.trim()).map_err(|e| problem(self.url_field(), e))?
                }
                _ => {
                    return Err(problem(
                        self.url_field(),
                        format!(
                            "a LetsData Redis is this installation's, and {REDIS_URL_ENV} is not set: set it (redis://host:port/db), or use resourceLocation Customer with a redisUrl"
                        ),
                    ));
                }
            },
        };
        let password = match &self.write.redis_password {
            Some(p) => Some(resolve(p).map_err(|e| problem("writeConnector.redisPassword", e))?),
            None => None,
        };
        Ok(Target { url, password })
    }

    /// The (shared) client of the Redis.
    async fn client(&self, ctx: &ConnectorContext) -> Result<RedisClient, ConnectorError> {
        let target = self
            .target()
            .map_err(|p| ConnectorError::User(p.to_string()))?;
        RedisClient::shared(ctx, &target.url, target.password.as_deref()).await
    }

    /// The problem of a Redis that does not answer a `PING`, if it does not.
    async fn reach_problem(&self, ctx: &ConnectorContext) -> Option<Problem> {
        let target = match self.target() {
            Ok(target) => target,
            Err(problem) => return Some(problem),
        };
        let client = match RedisClient::shared(ctx, &target.url, target.password.as_deref()).await {
            Ok(client) => client,
            Err(e) => {
                return Some(Problem {
                    path: self.url_field().to_string(),
                    message: e.to_string(),
                });
            }
        };
        let e = client.ping(CHECK_BUDGET).await.err()?;
        let path = if e.kind() == FailureKind::User && self.write.redis_password.is_some() {
            "writeConnector.redisPassword"
        } else {
            self.url_field()
        };
        let whose = match self.write.resource_location {
            ResourceLocation::Customer => "the Redis",
            ResourceLocation::LetsData => "this installation's Redis (LETSDATA_REDIS_URL)",
        };
        Some(Problem {
            path: path.to_string(),
            message: format!(
                "cannot reach {whose} at {}: {}",
                client.redacted_url(),
                detail(&e)
            ),
        })
    }
}

/// The message of an error, without the Redis it names when the caller names it already.
fn detail(e: &ConnectorError) -> String {
    match e {
        ConnectorError::Io { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

#[async_trait]
impl DocumentSink for RedisSink {
    fn plan(&self, generated: &dyn Fn(&str) -> String) -> ConnectorResource {
        let location = self.write.resource_location;
        let name = match (&self.write.key_prefix, location) {
            (Some(prefix), _) => prefix.clone(),
            (None, ResourceLocation::Customer) => format!("{}:", self.dataset_name),
            (None, ResourceLocation::LetsData) => format!("{}:", generated("output")),
        };
        let url = match location {
            ResourceLocation::Customer => {
                redact_url(self.write.redis_url.as_deref().unwrap_or_default()).into_owned()
            }
            ResourceLocation::LetsData => std::env::var(REDIS_URL_ENV)
                .map(|url| redact_url(url.trim()).into_owned())
                .unwrap_or_default(),
        };
        ConnectorResource {
            resource_type: REDIS_KEYSPACE.to_string(),
            resource_location: location.to_string(),
            name,
            url,
            ..Default::default()
        }
    }

    async fn check(&self, ctx: &ConnectorContext, _resource: &ConnectorResource) -> Vec<Problem> {
        self.reach_problem(ctx).await.into_iter().collect()
    }

    fn provision_step(&self, _resource: &ConnectorResource) -> Option<&'static str> {
        Some(match self.write.resource_location {
            ResourceLocation::LetsData => "Write Connector - Create Redis Keyspace",
            ResourceLocation::Customer => "Write Connector - Check Customer Redis",
        })
    }

    /// Nothing to create (keys live under the prefix): checks that the Redis answers.
    async fn provision(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        _owner: Owner<'_>,
    ) -> Result<ConnectorResource, ConnectorError> {
        let client = self.client(ctx).await?;
        client.ping(COMMAND_BUDGET).await?;
        let mut ready = resource.clone();
        if ready.url.is_empty() {
            ready.url = client.redacted_url().to_string();
        }
        Ok(ready)
    }

    fn delete_step(&self, resource: &ConnectorResource) -> Option<&'static str> {
        resource
            .is_letsdata()
            .then_some("Write Connector - Delete Redis Keyspace")
    }

    async fn delete(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        _owner: Owner<'_>,
    ) -> Result<String, ConnectorError> {
        let prefix = &resource.name;
        if prefix.is_empty() {
            return Err(ConnectorError::User(
                "the key prefix is empty: deleting its keys would delete every key of the Redis; delete them by hand".to_string(),
            ));
        }
        let client = self.client(ctx).await?;
        let deleted = delete_prefix(&client, prefix, COMMAND_BUDGET).await?;
        Ok(format!(
            "{deleted} keys under prefix {prefix:?} deleted from the Redis at {}",
            client.redacted_url()
        ))
    }

    async fn open(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        _task: &SinkTask<'_>,
    ) -> Result<Box<dyn SinkWriter>, ConnectorError> {
        let client = self.client(ctx).await?;
        Ok(Delivering::boxed(RedisWriter {
            client,
            prefix: resource.name.clone(),
            ttl_in_seconds: self.write.ttl_in_seconds,
            max_value_size_in_bytes: self.write.max_value_size_in_bytes,
            budget: COMMAND_BUDGET,
        }))
    }

    /// The values of the first `limit` keys under the prefix, in key order.
    async fn read_back(
        &self,
        ctx: &ConnectorContext,
        resource: &ConnectorResource,
        _dataset_name: &str,
        limit: usize,
    ) -> Result<Vec<Bytes>, ConnectorError> {
        let client = self.client(ctx).await?;
        read_prefix(&client, &resource.name, limit, COMMAND_BUDGET).await
    }
}

/// `UNLINK`s every key under `prefix`; returns how many there were.
pub(super) async fn delete_prefix(
    client: &RedisClient,
    prefix: &str,
    budget: Duration,
) -> Result<u64, ConnectorError> {
    let pattern = format!("{}*", escape_glob(prefix));
    let (mut cursor, mut deleted) = (0u64, 0u64);
    loop {
        let (next, keys) = client.scan_page(&pattern, cursor, budget).await?;
        if !keys.is_empty() {
            let keys = &keys;
            let what = format!("UNLINK of {} keys under {prefix:?}", keys.len());
            deleted += client
                .run(&what, budget, |mut con| async move {
                    ::redis::cmd("UNLINK")
                        .arg(keys)
                        .query_async::<u64>(&mut con)
                        .await
                })
                .await?;
        }
        if next == 0 {
            return Ok(deleted);
        }
        cursor = next;
    }
}

/// The values of the first `limit` keys under `prefix`, in key order.
pub(super) async fn read_prefix(
    client: &RedisClient,
    prefix: &str,
    limit: usize,
    budget: Duration,
) -> Result<Vec<Bytes>, ConnectorError> {
    let pattern = format!("{}*", escape_glob(prefix));
    let mut keys = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, page) = client.scan_page(&pattern, cursor, budget).await?;
        keys.extend(page);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    // SCAN may return a key more than once.
    keys.sort();
    keys.dedup();
    keys.truncate(limit);
    let mut docs = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(MGET_KEYS) {
        let what = format!("MGET of {} keys under {prefix:?}", chunk.len());
        let values = client
            .run(&what, budget, |mut con| async move {
                ::redis::cmd("MGET")
                    .arg(chunk)
                    .query_async::<Vec<Option<Vec<u8>>>>(&mut con)
                    .await
            })
            .await?;
        // A key that expired since the scan has no value any more.
        docs.extend(values.into_iter().flatten().map(Bytes::from));
    }
    Ok(docs)
}

/// The writer of one task: documents as values under the prefix.
pub(super) struct RedisWriter {
    pub(super) client: RedisClient,
    pub(super) prefix: String,
    pub(super) ttl_in_seconds: Option<u32>,
    pub(super) max_value_size_in_bytes: u32,
    /// How long a failing pipeline is retried.
    pub(super) budget: Duration,
}

impl RedisWriter {
    /// The pipelines of `SET`s of a batch (with the number of documents of each), and the
    /// documents rejected as too large.
    fn pipelines(
        &self,
        documents: &[&[u8]],
        ids: &[Cow<'_, str>],
    ) -> (Vec<(::redis::Pipeline, usize)>, Vec<Rejected>) {
        let max = self.max_value_size_in_bytes as usize;
        let mut rejected = Vec::new();
        let mut pipelines = Vec::new();
        let (mut pipe, mut count, mut bytes) = (::redis::pipe(), 0usize, 0usize);
        for (index, (doc, id)) in documents.iter().zip(ids).enumerate() {
            if doc.len() > max {
                rejected.push(Rejected {
                    index,
                    reason: format!(
                        "document of {} bytes exceeds maxValueSizeInBytes {max}",
                        doc.len()
                    ),
                });
                continue;
            }
            let key = format!("{}{id}", self.prefix);
            bytes += key.len() + doc.len();
            let set = pipe.cmd("SET").arg(&key).arg(*doc);
            if let Some(ttl) = self.ttl_in_seconds {
                set.arg("EX").arg(ttl);
            }
            set.ignore();
            count += 1;
            if bytes >= MAX_PIPELINE_BYTES {
                pipelines.push((std::mem::replace(&mut pipe, ::redis::pipe()), count));
                (count, bytes) = (0, 0);
            }
        }
        if count > 0 {
            pipelines.push((pipe, count));
        }
        (pipelines, rejected)
    }
}

#[async_trait]
impl Deliver for RedisWriter {
    fn describe(&self) -> String {
        format!(
            "Redis {} (keys {}…)",
            self.client.redacted_url(),
            self.prefix
        )
    }

    async fn deliver(
        &self,
        documents: &[&[u8]],
        ids: &[Cow<'_, str>],
    ) -> Result<Vec<Rejected>, ConnectorError> {
        let (pipelines, rejected) = self.pipelines(documents, ids);
        for (pipe, count) in &pipelines {
            let what = format!("SET of {count} documents (keys {}…)", self.prefix);
            self.client
                .run(&what, self.budget, |mut con| async move {
                    pipe.exec_async(&mut con).await
                })
                .await?;
        }
        Ok(rejected)
    }
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    fn writer(max: u32, ttl: Option<u32>) -> RedisWriter {
        RedisWriter {
            client: RedisClient::new("redis://127.0.0.1:1", None).expect("client"),
            prefix: "ds:".to_string(),
            ttl_in_seconds: ttl,
            max_value_size_in_bytes: max,
            budget: Duration::from_secs(1),
        }
    }

    fn ids(n: usize) -> Vec<Cow<'static, str>> {
        (0..n).map(|i| Cow::Owned(format!("id{i}"))).collect()
    }

    /// A document over the limit is rejected and not sent; one at the limit is sent.
    #[tokio::test]
    async fn oversize_documents_are_rejected_not_sent() {
        let w = writer(10, Some(60));
        let docs: [&[u8]; 3] = [b"0123456789", b"0123456789A", b"{}"];
        let (pipelines, rejected) = w.pipelines(&docs, &ids(3));
        assert_eq!(
            rejected,
            vec![Rejected {
                index: 1,
                reason: "document of 11 bytes exceeds maxValueSizeInBytes 10".to_string(),
            }]
        );
        assert_eq!(pipelines.len(), 1);
        assert_eq!(pipelines[0].1, 2);
        let packed = String::from_utf8_lossy(&pipelines[0].0.get_packed_pipeline()).into_owned();
        assert!(packed.contains("ds:id0") && packed.contains("ds:id2"));
        assert!(!packed.contains("ds:id1"));
        assert_eq!(packed.matches("EX").count(), 2);
    }

    /// Nothing to send when every document is rejected; large batches are cut.
    #[tokio::test]
    async fn pipelines_are_bounded() {
        let w = writer(1, None);
        let (pipelines, rejected) = w.pipelines(&[b"ab", b"cd"], &ids(2));
        assert!(pipelines.is_empty());
        assert_eq!(rejected.len(), 2);

        let w = writer(u32::MAX, None);
        let big = vec![b'x'; 6 * 1024 * 1024];
        let docs: Vec<&[u8]> = (0..4).map(|_| big.as_slice()).collect();
        let (pipelines, rejected) = w.pipelines(&docs, &ids(4));
        assert!(rejected.is_empty());
        let counts: Vec<usize> = pipelines.iter().map(|p| p.1).collect();
        assert_eq!(counts, vec![3, 1]);
        let packed = String::from_utf8_lossy(&pipelines[1].0.get_packed_pipeline()).into_owned();
        assert!(!packed.contains("EX"));
    }
}
