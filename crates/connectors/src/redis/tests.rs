//! Tests against a real Redis: the one `LETSDATA_TEST_REDIS_URL` names (a failure when unset,
//! unless LETSDATA_SKIP_S3_TESTS compiles them as ignored), and for the stopped-Redis and
//! password cases a `redis-server` of their own. Each test
//! writes under a random key prefix and removes its keys.

use super::REDIS_KEYSPACE;
use super::client::RedisClient;
use super::sink::{RedisSink, RedisWriter};
use crate::s3::ObjectStores;
use crate::sink::{Deliver, DocumentBatch, DocumentSink, Rejected, SinkTask};
use crate::{ConnectorContext, ConnectorError, FailureKind};
use letsdata_model::ConnectorResource;
use letsdata_model::spec::{RedisWriteConnector, ResourceLocation};
use std::borrow::Cow;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The dataset the test's resources belong to; its provisioning step completed.
const OWNER: crate::owner::Owner<'static> = crate::owner::Owner::new("test-dataset", true);

/// The test Redis, or `None` when `LETSDATA_TEST_REDIS_URL` is unset and LETSDATA_SKIP_S3_TESTS
/// skips the tests that need it (they are compiled as ignored then); unset otherwise fails.
fn test_redis(test: &str) -> Option<String> {
    match std::env::var("LETSDATA_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("LETSDATA_SKIP_S3_TESTS").is_some() => {
            eprintln!("{test}: skipped, LETSDATA_TEST_REDIS_URL is not set");
            None
        }
        _ => panic!(
            "{test}: LETSDATA_TEST_REDIS_URL is not set: run the tests with scripts/test.sh (it starts the service), or set LETSDATA_SKIP_S3_TESTS=1 to skip the tests that need one"
        ),
    }
}

fn context() -> (tempfile::TempDir, ConnectorContext) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx = ConnectorContext::new(
        Arc::new(ObjectStores::local(dir.path().to_path_buf())),
        "test",
    );
    (dir, ctx)
}

/// A prefix of its own, with glob characters that must be matched literally.
fn random_prefix() -> String {
    format!("letsdata-test:{}:[a]*?:", uuid::Uuid::new_v4().simple())
}

fn customer(url: &str, password: Option<&str>, prefix: Option<&str>) -> RedisSink {
    RedisSink {
        write: RedisWriteConnector {
            resource_location: ResourceLocation::Customer,
            redis_url: Some(url.to_string()),
            redis_password: password.map(str::to_string),
            key_prefix: prefix.map(str::to_string),
            ttl_in_seconds: Some(3600),
            max_value_size_in_bytes: 1000,
        },
        dataset_name: "RedisTestDataset".to_string(),
    }
}

fn generated(suffix: &str) -> String {
    format!("ds-1234-{suffix}")
}

const TASK: SinkTask<'static> = SinkTask {
    dataset_name: "RedisTestDataset",
    task_id: "t1",
    attempt: 1,
};

/// Writes `docs` with ids `ids` through a writer of `sink` and commits.
async fn write_all(
    ctx: &ConnectorContext,
    sink: &RedisSink,
    resource: &ConnectorResource,
    docs: &[Vec<u8>],
    ids: &[String],
) -> Result<Vec<Rejected>, ConnectorError> {
    let mut writer = sink.open(ctx, resource, &TASK).await?;
    let documents: Vec<&[u8]> = docs.iter().map(Vec::as_slice).collect();
    let ids: Vec<Cow<'_, str>> = ids.iter().map(|s| Cow::Borrowed(s.as_str())).collect();
    let batch = DocumentBatch::Documents {
        documents: &documents,
        ids: &ids,
    };
    let rejected = writer.write(0, batch).await?;
    writer.stage(0).await?;
    Ok(rejected)
}

async fn raw(url: &str) -> ::redis::aio::MultiplexedConnection {
    ::redis::Client::open(url)
        .expect("client")
        .get_multiplexed_async_connection()
        .await
        .expect("connect")
}

#[tokio::test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn delivers_reads_back_and_deletes_only_its_prefix() {
    let Some(url) = test_redis("delivers_reads_back_and_deletes_only_its_prefix") else {
        return;
    };
    let (_dir, ctx) = context();
    let prefix = random_prefix();
    let sink = customer(&url, None, Some(&prefix));
    let resource = sink.plan(&generated);
    assert_eq!(resource.resource_type, REDIS_KEYSPACE);
    assert_eq!(resource.resource_location, "Customer");
    assert_eq!(resource.name, prefix);
    assert_eq!(resource.url, url);
    assert_eq!(sink.check(&ctx, &resource).await, Vec::new());
    assert_eq!(
        sink.provision_step(&resource),
        Some("Write Connector - Check Customer Redis")
    );
    assert_eq!(sink.delete_step(&resource), None);
    let resource = sink
        .provision(&ctx, &resource, OWNER)
        .await
        .expect("provision");

    // A key that the prefix would match as an unescaped glob.
    let uuid_part = prefix.trim_end_matches("[a]*?:");
    let outside = format!("{uuid_part}a-x:outside");
    let mut con = raw(&url).await;
    ::redis::cmd("SET")
        .arg(&outside)
        .arg("keep me")
        .exec_async(&mut con)
        .await
        .expect("set outside");

    let mut docs: Vec<Vec<u8>> = (0..1000)
        .map(|i| format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(i % 50)).into_bytes())
        .collect();
    let mut ids: Vec<String> = (0..1000).map(|i| format!("doc-{i:04}")).collect();
    docs.push(vec![b'y'; 2000]);
    ids.push("too-large".to_string());
    let rejected = write_all(&ctx, &sink, &resource, &docs, &ids)
        .await
        .expect("write");
    assert_eq!(
        rejected,
        vec![Rejected {
            index: 1000,
            reason: "document of 2000 bytes exceeds maxValueSizeInBytes 1000".to_string(),
        }]
    );

    // Every document is under its key with a TTL; the rejected one is not there.
    let mut check = ::redis::pipe();
    for id in &ids[..1000] {
        check.cmd("GET").arg(format!("{prefix}{id}"));
        check.cmd("TTL").arg(format!("{prefix}{id}"));
    }
    let answers: Vec<::redis::Value> = check.query_async(&mut con).await.expect("check");
    for (i, pair) in answers.chunks(2).enumerate() {
        let value: Vec<u8> = ::redis::from_redis_value(pair[0].clone()).expect("value");
        let ttl: i64 = ::redis::from_redis_value(pair[1].clone()).expect("ttl");
        assert_eq!(value, docs[i], "value of {}", ids[i]);
        assert!(ttl > 0 && ttl <= 3600, "ttl of {} is {ttl}", ids[i]);
    }
    let exists: u64 = ::redis::cmd("EXISTS")
        .arg(format!("{prefix}too-large"))
        .query_async(&mut con)
        .await
        .expect("exists");
    assert_eq!(exists, 0);

    // Read back: in key order, up to the limit.
    let back = sink
        .read_back(&ctx, &resource, "RedisTestDataset", 5000)
        .await
        .expect("read");
    assert_eq!(back.len(), 1000);
    for (i, doc) in back.iter().enumerate() {
        assert_eq!(doc.as_ref(), docs[i].as_slice());
    }
    let first = sink
        .read_back(&ctx, &resource, "RedisTestDataset", 10)
        .await
        .expect("read");
    assert_eq!(first.len(), 10);
    assert_eq!(first[9].as_ref(), docs[9].as_slice());

    // Writing again overwrites (at least once delivery).
    write_all(&ctx, &sink, &resource, &docs[..3], &ids[..3])
        .await
        .expect("write again");

    let done = sink.delete(&ctx, &resource, OWNER).await.expect("delete");
    assert!(done.starts_with("1000 keys under prefix"), "{done}");
    let left = sink
        .read_back(&ctx, &resource, "RedisTestDataset", 10)
        .await
        .expect("read");
    assert!(left.is_empty());
    let kept: Option<String> = ::redis::cmd("GET")
        .arg(&outside)
        .query_async(&mut con)
        .await
        .expect("get outside");
    assert_eq!(kept.as_deref(), Some("keep me"));
    ::redis::cmd("DEL")
        .arg(&outside)
        .exec_async(&mut con)
        .await
        .expect("del outside");
}

#[tokio::test]
async fn default_prefixes_and_writer_description() {
    let sink = customer("redis://u:pw-secret-1@cache:6379/2", None, None);
    let resource = sink.plan(&generated);
    assert_eq!(resource.name, "RedisTestDataset:");
    assert_eq!(resource.url, "redis://u:****@cache:6379/2");

    let mut letsdata = customer("", None, None);
    letsdata.write.resource_location = ResourceLocation::LetsData;
    letsdata.write.redis_url = None;
    let resource = letsdata.plan(&generated);
    assert_eq!(resource.name, "ds-1234-output:");
    assert_eq!(resource.resource_location, "LetsData");
    assert_eq!(
        letsdata.provision_step(&resource),
        Some("Write Connector - Create Redis Keyspace")
    );
    assert_eq!(
        letsdata.delete_step(&resource),
        Some("Write Connector - Delete Redis Keyspace")
    );
    if std::env::var(super::REDIS_URL_ENV).is_err() {
        assert_eq!(resource.url, "");
        let (_dir, ctx) = context();
        let problems = letsdata.check(&ctx, &resource).await;
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].path, "writeConnector.resourceLocation");
        assert!(problems[0].message.contains("LETSDATA_REDIS_URL"));
        assert!(problems[0].message.contains("redisUrl"));
    }

    let (_dir, ctx) = context();
    let resource = sink.plan(&generated);
    let writer = sink.open(&ctx, &resource, &TASK).await.expect("open");
    assert_eq!(
        writer.describe(),
        "Redis redis://u:****@cache:6379/2 (keys RedisTestDataset:…)"
    );
}

#[tokio::test]
async fn an_unreachable_redis_is_a_transient_failure_in_bounded_time() {
    let url = "redis://u:hunter2-secret@127.0.0.1:1";
    let (_dir, ctx) = context();
    let sink = customer(url, None, Some("p:"));
    let resource = sink.plan(&generated);
    assert!(!resource.url.contains("hunter2"));

    let started = Instant::now();
    let problems = sink.check(&ctx, &resource).await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].path, "writeConnector.redisUrl");
    assert!(
        problems[0]
            .message
            .starts_with("cannot reach the Redis at redis://u:****@127.0.0.1:1: PING failed"),
        "{}",
        problems[0].message
    );
    assert!(!problems[0].message.contains("hunter2"));

    // A writer with a short budget, so as not to wait the full minute.
    let writer = RedisWriter {
        client: RedisClient::new(url, Some("other-secret")).expect("client"),
        prefix: "p:".to_string(),
        ttl_in_seconds: None,
        max_value_size_in_bytes: 100,
        budget: Duration::from_secs(3),
    };
    assert!(!writer.describe().contains("hunter2"));
    let started = Instant::now();
    let e = writer
        .deliver(&[b"{}"], &[Cow::Borrowed("id")])
        .await
        .expect_err("unreachable");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(e.kind(), FailureKind::Transient);
    let message = e.to_string();
    assert!(
        message
            .starts_with("Redis redis://u:****@127.0.0.1:1: SET of 1 documents (keys p:…) failed"),
        "{message}"
    );
    assert!(
        !message.contains("hunter2") && !message.contains("other-secret"),
        "{message}"
    );
}

#[tokio::test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn a_wrong_password_is_the_users_to_fix() {
    let Some(url) = test_redis("a_wrong_password_is_the_users_to_fix") else {
        return;
    };
    let (_dir, ctx) = context();
    let sink = customer(&url, Some("wrong-password-123"), Some(&random_prefix()));
    let resource = sink.plan(&generated);
    let problems = sink.check(&ctx, &resource).await;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].path, "writeConnector.redisPassword");
    assert!(
        problems[0].message.contains("check redisPassword"),
        "{}",
        problems[0].message
    );
    assert!(!problems[0].message.contains("wrong-password-123"));
    let e = write_all(
        &ctx,
        &sink,
        &resource,
        &[b"{}".to_vec()],
        &["a".to_string()],
    )
    .await
    .expect_err("wrong password");
    assert_eq!(e.kind(), FailureKind::User, "{e}");
    assert!(!e.to_string().contains("wrong-password-123"));
}

/// A `redis-server` of the test's own, killed when dropped.
struct OwnRedis {
    child: Child,
    port: u16,
}

impl OwnRedis {
    fn start(password: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--requirepass",
                password,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("no redis-server to start ({e}): scripts/test.sh says how to install one")
            });
        Self { child, port }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn a_stopped_redis_fails_the_write_transiently_and_a_redrive_works() {
    if test_redis("a_stopped_redis_fails_the_write_transiently_and_a_redrive_works").is_none() {
        return;
    }
    let password = "stop-test-secret";
    let server = OwnRedis::start(password);
    let url = format!("redis://127.0.0.1:{}", server.port);
    let (_dir, ctx) = context();
    let sink = customer(&url, Some(password), Some(&random_prefix()));
    let resource = sink.plan(&generated);
    let started = Instant::now();
    while !sink.check(&ctx, &resource).await.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the Redis does not start"
        );
    }

    // Without the password: NOAUTH, the user's to fix.
    let no_password = customer(&url, None, Some(&resource.name));
    let e = write_all(
        &ctx,
        &no_password,
        &resource,
        &[b"{}".to_vec()],
        &["a".to_string()],
    )
    .await
    .expect_err("no password");
    assert_eq!(e.kind(), FailureKind::User, "{e}");
    assert!(e.to_string().contains("check redisPassword"), "{e}");

    let docs: Vec<Vec<u8>> = (0..100)
        .map(|i| format!("{{\"n\":{i}}}").into_bytes())
        .collect();
    let ids: Vec<String> = (0..100).map(|i| format!("{i:03}")).collect();
    write_all(&ctx, &sink, &resource, &docs, &ids)
        .await
        .expect("write");

    server.signal("-STOP");
    let started = Instant::now();
    let e = write_all(&ctx, &sink, &resource, &docs, &ids)
        .await
        .expect_err("stopped");
    let took = started.elapsed();
    server.signal("-CONT");
    assert_eq!(e.kind(), FailureKind::Transient, "{e}");
    assert!(took < Duration::from_secs(75), "failed after {took:?}");
    let message = e.to_string();
    assert!(
        message.starts_with(&format!("Redis {url}: SET of 100 documents")),
        "{message}"
    );
    assert!(!message.contains(password), "{message}");
    eprintln!("stopped Redis: failed after {took:?}: {message}");

    // The redrive, once the Redis is back.
    write_all(&ctx, &sink, &resource, &docs, &ids)
        .await
        .expect("redrive");
    let back = sink
        .read_back(&ctx, &resource, "RedisTestDataset", 1000)
        .await
        .expect("read");
    assert_eq!(back.len(), 100);
}

/// Over TLS, against the Redis `LETSDATA_TEST_REDIS_TLS_URL` names (`rediss://…`; with
/// `#insecure` for a self-signed certificate). The test suite has no TLS Redis: run it by
/// hand with `--ignored`.
#[tokio::test]
#[ignore = "needs a TLS Redis: set LETSDATA_TEST_REDIS_TLS_URL and run with --ignored"]
async fn writes_over_tls() {
    let url = std::env::var("LETSDATA_TEST_REDIS_TLS_URL")
        .expect("LETSDATA_TEST_REDIS_TLS_URL names the TLS Redis to test against");
    let (_dir, ctx) = context();
    let sink = customer(&url, None, Some(&random_prefix()));
    let resource = sink.plan(&generated);
    assert_eq!(sink.check(&ctx, &resource).await, Vec::new());
    let docs: Vec<Vec<u8>> = (0..10)
        .map(|i| format!("{{\"n\":{i}}}").into_bytes())
        .collect();
    let ids: Vec<String> = (0..10).map(|i| format!("{i:02}")).collect();
    write_all(&ctx, &sink, &resource, &docs, &ids)
        .await
        .expect("write");
    let back = sink
        .read_back(&ctx, &resource, "RedisTestDataset", 100)
        .await
        .expect("read");
    assert_eq!(back.len(), 10);
    let done = sink.delete(&ctx, &resource, OWNER).await.expect("delete");
    assert!(done.starts_with("10 keys"), "{done}");
}
