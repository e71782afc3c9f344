//! Tests against a real broker, the one `LETSDATA_TEST_KAFKA_BOOTSTRAP` names (`host:port`; a
//! failure when unset, unless LETSDATA_SKIP_S3_TESTS compiles them as ignored), and, without one, against a port that refuses connections and a
//! listener that accepts them and never answers. Each test uses topics of its own.

use super::client::{CallPolicy, ClusterSettings, KafkaClient};
use super::sink::{KafkaSink, RECORD_OVERHEAD};
use super::source::KafkaSource;
use super::{KAFKA_TOPIC, partition_for};
use crate::aws::RetryPolicy;
use crate::s3::ObjectStores;
use crate::sink::{DocumentBatch, DocumentSink, SinkTask};
use crate::source::{Next, ReadSource, TaskInput};
use crate::{ConnectorContext, FailureKind};
use letsdata_model::record::RecordMeta;
use letsdata_model::spec::{
    BuiltinParser, Implementation, KafkaCluster, KafkaCompression, KafkaReadConnector,
    KafkaSecurity, KafkaWriteConnector, ResourceLocation, StreamManifest, StreamStart, StreamStop,
};
use letsdata_model::task::ConnectorFields;
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// The dataset the test's resources belong to; its provisioning step completed.
const OWNER: crate::owner::Owner<'static> = crate::owner::Owner::new("test-dataset", true);

/// The test broker, or `None` (the test is skipped) when `LETSDATA_TEST_KAFKA_BOOTSTRAP` is
/// unset.
fn test_broker(test: &str) -> Option<String> {
    match std::env::var("LETSDATA_TEST_KAFKA_BOOTSTRAP") {
        Ok(servers) if !servers.is_empty() => Some(servers),
        _ if std::env::var_os("LETSDATA_SKIP_S3_TESTS").is_some() => {
            eprintln!("{test}: skipped, LETSDATA_TEST_KAFKA_BOOTSTRAP is not set");
            None
        }
        _ => panic!(
            "{test}: LETSDATA_TEST_KAFKA_BOOTSTRAP is not set: run the tests with scripts/test.sh (it starts the service), or set LETSDATA_SKIP_S3_TESTS=1 to skip the tests that need one"
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

fn topic(what: &str) -> String {
    format!("letsdata-test-{what}-{}", uuid::Uuid::new_v4().simple())
}

fn cluster(servers: &str) -> KafkaCluster {
    KafkaCluster {
        bootstrap_servers: servers.split(',').map(str::to_string).collect(),
        security: KafkaSecurity::default(),
    }
}

fn sink(servers: &str, location: ResourceLocation, topic: &str, max: u32) -> KafkaSink {
    KafkaSink {
        write: KafkaWriteConnector {
            resource_location: location,
            cluster: match location {
                ResourceLocation::Customer => cluster(servers),
                ResourceLocation::LetsData => cluster(""),
            },
            topic_name: Some(topic.to_string()),
            partition_count: 3,
            replication_factor: 1,
            compression: KafkaCompression::Zstd,
            max_message_bytes: max,
        },
    }
}

fn source(servers: &str, topic: &str, start: StreamStart) -> KafkaSource {
    KafkaSource {
        read: KafkaReadConnector {
            cluster: cluster(servers),
            topic_name: topic.to_string(),
            resource_location: ResourceLocation::Customer,
            implementation: Implementation::Builtin(BuiltinParser::Jsonl {
                document_id_field: None,
            }),
        },
        manifest: StreamManifest {
            start,
            stop: StreamStop::AfterEmptyPolls(1),
        },
    }
}

/// A `LetsData` topic of `sink`, provisioned on the test broker. The broker is the
/// resource's recorded servers unless `LETSDATA_KAFKA_BOOTSTRAP_SERVERS` is set too.
async fn provisioned(
    ctx: &ConnectorContext,
    sink: &KafkaSink,
    servers: &str,
) -> letsdata_model::ConnectorResource {
    let mut resource = sink.plan(&|s| format!("generated-{s}"));
    assert_eq!(resource.resource_type, KAFKA_TOPIC);
    resource.url = servers.to_string();
    let ready = sink
        .provision(ctx, &resource, OWNER)
        .await
        .expect("provision");
    // Again, as a retried initialization step does.
    sink.provision(ctx, &resource, OWNER)
        .await
        .expect("provision again");
    ready
}

const TASK: SinkTask<'static> = SinkTask {
    dataset_name: "KafkaTest",
    task_id: "t1",
    attempt: 1,
};

/// Reads a task to its end: the records and the position after consuming them.
async fn read_all(input: TaskInput) -> (Vec<crate::source::SourceRecord>, ConnectorFields, Next) {
    let TaskInput::Records(mut records) = input else {
        panic!("a Kafka task reads records")
    };
    let mut all = Vec::new();
    loop {
        let batch = records.poll().await.expect("poll");
        records.consume(batch.records.len());
        all.extend(batch.records);
        if let Next::Finished(_) = batch.next {
            return (all, records.position().expect("position"), batch.next);
        }
    }
}

#[tokio::test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn documents_written_are_read_back_by_partition() {
    let Some(servers) = test_broker("documents_written_are_read_back_by_partition") else {
        return;
    };
    let (_dir, ctx) = context();
    let name = topic("roundtrip");
    let sink = sink(&servers, ResourceLocation::LetsData, &name, 1024 * 1024);
    let resource = provisioned(&ctx, &sink, &servers).await;
    assert_eq!(resource.name, name);
    assert_eq!(
        sink.provision_step(&resource),
        Some("Write Connector - Create Kafka Topic")
    );

    // 1000 documents in 4 batches.
    let ids: Vec<String> = (0..1000).map(|i| format!("doc-{i}")).collect();
    let docs: Vec<String> = ids
        .iter()
        .map(|id| format!("{{\"id\":\"{id}\",\"pad\":\"{}\"}}", "x".repeat(100)))
        .collect();
    let mut writer = sink.open(&ctx, &resource, &TASK).await.expect("open");
    assert_eq!(
        writer.describe(),
        format!("Kafka topic {name:?} at {servers}")
    );
    for part in 0..4 {
        let range = part * 250..(part + 1) * 250;
        let documents: Vec<&[u8]> = docs[range.clone()].iter().map(|d| d.as_bytes()).collect();
        let batch_ids: Vec<Cow<'_, str>> =
            ids[range].iter().map(|i| Cow::from(i.as_str())).collect();
        let rejected = writer
            .write(
                0,
                DocumentBatch::Documents {
                    documents: &documents,
                    ids: &batch_ids,
                },
            )
            .await
            .expect("write");
        assert!(rejected.is_empty(), "{rejected:?}");
    }
    assert_eq!(
        writer.stage(0).await.expect("stage"),
        crate::sink::Staged::Delivered
    );

    let back = sink
        .read_back(&ctx, &resource, "KafkaTest", 10_000)
        .await
        .expect("read back");
    let back: BTreeSet<String> = back
        .iter()
        .map(|b| String::from_utf8(b.to_vec()).expect("utf-8"))
        .collect();
    assert_eq!(back, docs.iter().cloned().collect::<BTreeSet<_>>());
    assert_eq!(
        sink.read_back(&ctx, &resource, "KafkaTest", 7)
            .await
            .expect("read back")
            .len(),
        7
    );

    // One task per partition; each reads its partition to its end.
    let source = source(&servers, &name, StreamStart::Earliest);
    assert!(source.check(&ctx).await.is_empty());
    let tasks: Vec<_> = source.tasks(&ctx).await.expect("tasks").collect();
    assert_eq!(tasks.len(), 3);
    let mut keys = BTreeSet::new();
    for (p, task) in tasks.iter().enumerate() {
        assert_eq!(task.identity, format!("0:{name}:{p}"));
        assert_eq!(task.definition.manifest_line, format!("partition {p}"));
        let input = source
            .open(&ctx, &task.definition, &ConnectorFields::new())
            .await
            .expect("open task");
        let (records, position, _) = read_all(input).await;
        for r in &records {
            let RecordMeta::Kafka {
                key,
                partition,
                offset,
                topic,
                ..
            } = &r.meta
            else {
                panic!("Kafka metadata expected")
            };
            let key = String::from_utf8(key.clone().expect("a key")).expect("utf-8");
            assert_eq!(*partition as usize, p);
            assert_eq!(partition_for(key.as_bytes(), 3), p, "{key}");
            assert_eq!(r.id, format!("{name}:{p}:{offset}"));
            assert_eq!(&**topic, name.as_str());
            assert!(keys.insert(key));
        }
        let next = records.len() as i64;
        assert_eq!(
            serde_json::Value::Object(position.clone()),
            serde_json::json!({"nextOffset": next})
        );
        // Resuming at the position reads nothing again.
        let input = source
            .open(&ctx, &task.definition, &position)
            .await
            .expect("reopen");
        let (again, position_again, next_again) = read_all(input).await;
        assert!(again.is_empty(), "{} records read twice", again.len());
        assert_eq!(position_again, position);
        assert!(matches!(next_again, Next::Finished(_)));
    }
    assert_eq!(keys, ids.iter().cloned().collect::<BTreeSet<_>>());

    let message = sink.delete(&ctx, &resource, OWNER).await.expect("delete");
    assert!(message.ends_with("deleted"), "{message}");
    sink.delete(&ctx, &resource, OWNER)
        .await
        .expect("delete again");
    assert!(source.tasks(&ctx).await.is_err());
}

#[tokio::test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn latest_is_fixed_at_open_and_records_after_it_are_read() {
    let Some(servers) = test_broker("latest_is_fixed_at_open_and_records_after_it_are_read") else {
        return;
    };
    let (_dir, ctx) = context();
    let name = topic("latest");
    let sink = sink(&servers, ResourceLocation::LetsData, &name, 1024 * 1024);
    let resource = provisioned(&ctx, &sink, &servers).await;
    let mut writer = sink.open(&ctx, &resource, &TASK).await.expect("open");
    let write = |n: usize, from: usize| {
        let ids: Vec<String> = (from..from + n).map(|i| format!("k{i}")).collect();
        (ids.clone(), ids)
    };
    let (old_ids, old_docs) = write(30, 0);
    let documents: Vec<&[u8]> = old_docs.iter().map(|d| d.as_bytes()).collect();
    let ids: Vec<Cow<'_, str>> = old_ids.iter().map(|i| Cow::from(i.as_str())).collect();
    let batch = DocumentBatch::Documents {
        documents: &documents,
        ids: &ids,
    };
    writer.write(0, batch).await.expect("write");

    let source = source(&servers, &name, StreamStart::Latest);
    let tasks: Vec<_> = source.tasks(&ctx).await.expect("tasks").collect();
    let mut opened = Vec::new();
    for task in &tasks {
        let TaskInput::Records(r) = source
            .open(&ctx, &task.definition, &ConnectorFields::new())
            .await
            .expect("open")
        else {
            panic!("records expected")
        };
        // The position is the partition's end, before any poll.
        let p: i32 = task.definition.input["partition"]
            .as_i64()
            .expect("partition") as i32;
        let expected = old_ids
            .iter()
            .filter(|id| partition_for(id.as_bytes(), 3) == p as usize)
            .count();
        assert_eq!(r.position().expect("position")["nextOffset"], expected);
        opened.push(r);
    }
    let (new_ids, new_docs) = write(20, 100);
    let documents: Vec<&[u8]> = new_docs.iter().map(|d| d.as_bytes()).collect();
    let ids: Vec<Cow<'_, str>> = new_ids.iter().map(|i| Cow::from(i.as_str())).collect();
    let batch = DocumentBatch::Documents {
        documents: &documents,
        ids: &ids,
    };
    writer.write(1, batch).await.expect("write");
    let mut seen = BTreeSet::new();
    for r in opened {
        let (records, _, _) = read_all(TaskInput::Records(r)).await;
        seen.extend(
            records
                .iter()
                .map(|r| String::from_utf8(r.raw.to_vec()).expect("utf-8")),
        );
    }
    assert_eq!(seen, new_ids.iter().cloned().collect::<BTreeSet<_>>());
    sink.delete(&ctx, &resource, OWNER).await.expect("delete");
}

#[tokio::test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn records_over_max_message_bytes_are_rejected_not_sent() {
    let Some(servers) = test_broker("records_over_max_message_bytes_are_rejected_not_sent") else {
        return;
    };
    let (_dir, ctx) = context();
    let name = topic("large");
    let sink = sink(&servers, ResourceLocation::LetsData, &name, 2048);
    let resource = provisioned(&ctx, &sink, &servers).await;
    let mut writer = sink.open(&ctx, &resource, &TASK).await.expect("open");
    let big = "b".repeat(2048 - RECORD_OVERHEAD);
    let documents: Vec<&[u8]> = vec![b"small", big.as_bytes(), b"also small"];
    let ids: Vec<Cow<'_, str>> = vec!["1".into(), "2".into(), "3".into()];
    let batch = DocumentBatch::Documents {
        documents: &documents,
        ids: &ids,
    };
    let rejected = writer.write(0, batch).await.expect("write");
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0].index, 1);
    assert!(
        rejected[0].reason.contains("exceeds maxMessageBytes 2048"),
        "{}",
        rejected[0].reason
    );
    let back = sink
        .read_back(&ctx, &resource, "KafkaTest", 100)
        .await
        .expect("read back");
    let mut back: Vec<String> = back
        .iter()
        .map(|b| String::from_utf8(b.to_vec()).expect("utf-8"))
        .collect();
    back.sort();
    assert_eq!(back, vec!["also small", "small"]);
    sink.delete(&ctx, &resource, OWNER).await.expect("delete");
}

#[tokio::test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn a_missing_topic_is_the_users_error_and_is_not_created() {
    let Some(servers) = test_broker("a_missing_topic_is_the_users_error_and_is_not_created") else {
        return;
    };
    let (_dir, ctx) = context();
    let name = topic("missing");
    let source = source(&servers, &name, StreamStart::Earliest);
    let problems = source.check(&ctx).await;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].path, "readConnector.topicName");
    assert!(
        problems[0].message.contains("does not exist"),
        "{problems:?}"
    );
    let Err(e) = source.tasks(&ctx).await else {
        panic!("no tasks expected")
    };
    assert_eq!(e.kind(), FailureKind::User, "{e}");

    let sink = sink(&servers, ResourceLocation::Customer, &name, 1024 * 1024);
    let resource = sink.plan(&|s| s.to_string());
    assert_eq!(resource.url, servers);
    let problems = sink.check(&ctx, &resource).await;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].path, "writeConnector.topicName");
    let e = sink
        .provision(&ctx, &resource, OWNER)
        .await
        .expect_err("missing");
    assert_eq!(e.kind(), FailureKind::User, "{e}");
    assert!(e.to_string().contains("does not exist"), "{e}");
    let e = match sink.open(&ctx, &resource, &TASK).await {
        Ok(_) => panic!("opened a writer of a missing topic"),
        Err(e) => e,
    };
    assert_eq!(e.kind(), FailureKind::User, "{e}");

    let settings = ClusterSettings::plaintext(vec![servers.clone()], CallPolicy::default());
    let topics = KafkaClient::new(settings)
        .expect("client")
        .topics()
        .await
        .expect("topics");
    assert!(!topics.contains_key(&name), "the checks created the topic");
}

/// A policy that gives up within a few seconds.
fn quick() -> CallPolicy {
    CallPolicy {
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
        },
        admin_timeout: Duration::from_secs(1),
        data_timeout: Duration::from_secs(1),
        budget: Duration::from_secs(4),
        inner_deadline: Duration::from_millis(300),
    }
}

#[tokio::test]
async fn a_refused_connection_is_transient_and_bounded() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    drop(listener);
    let client =
        KafkaClient::new(ClusterSettings::plaintext(vec![addr.clone()], quick())).expect("client");
    let start = std::time::Instant::now();
    let e = client.topics().await.expect_err("nothing listens");
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(e.kind(), FailureKind::Transient, "{e}");
    let text = e.to_string();
    assert!(
        text.contains(&format!("cannot list the Kafka topics at {addr}")),
        "{text}"
    );
}

#[tokio::test]
async fn a_broker_that_never_answers_times_out() {
    // Accepts connections and reads nothing, like a stopped broker.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let held = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let client =
        KafkaClient::new(ClusterSettings::plaintext(vec![addr.clone()], quick())).expect("client");
    let start = std::time::Instant::now();
    let e = client
        .partition("t", 2)
        .fetch(0, 1024, 100)
        .await
        .expect_err("no answer");
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(e.kind(), FailureKind::Transient, "{e}");
    let text = e.to_string();
    assert!(
        text.starts_with(&format!(
            "cannot read partition 2 of Kafka topic \"t\" at {addr} at offset 0: no answer within 1 s ("
        )),
        "{text}"
    );
    held.abort();
}

#[test]
fn the_password_is_neither_in_the_cache_key_nor_in_debug_output() {
    let mut cluster = cluster("k1:9092,k2:9092");
    cluster.security = KafkaSecurity {
        tls: false,
        ssl_ca_location: None,
        sasl: Some(letsdata_model::spec::KafkaSasl {
            mechanism: letsdata_model::spec::KafkaSaslMechanism::ScramSha512,
            username: "alice".into(),
            password: "s3cr3t-pw".into(),
        }),
    };
    let settings = ClusterSettings::resolve(&cluster).expect("settings");
    let key = settings.cache_key();
    assert!(!key.contains("s3cr3t-pw"), "{key}");
    assert!(
        key.contains("k1:9092,k2:9092") && key.contains("alice"),
        "{key}"
    );
    assert!(!format!("{settings:?}").contains("s3cr3t-pw"));
    let mut other = cluster.clone();
    if let Some(sasl) = other.security.sasl.as_mut() {
        sasl.password = "another".into();
    }
    let other_key = ClusterSettings::resolve(&other)
        .expect("settings")
        .cache_key();
    assert_ne!(key, other_key);

    // An unset password variable, a missing CA file: the user's errors, without secrets.
    if let Some(sasl) = other.security.sasl.as_mut() {
        sasl.password = "${env:LETSDATA_TEST_KAFKA_UNSET_PASSWORD}".into();
    }
    let e = ClusterSettings::resolve(&other).expect_err("unset variable");
    assert_eq!(e.kind(), FailureKind::User);
    assert!(
        e.to_string().contains("LETSDATA_TEST_KAFKA_UNSET_PASSWORD"),
        "{e}"
    );
    let mut tls = cluster.clone();
    tls.security.tls = true;
    tls.security.ssl_ca_location = Some("/nonexistent/ca.pem".into());
    let e = KafkaClient::new(ClusterSettings::resolve(&tls).expect("settings"))
        .expect_err("missing CA file");
    assert_eq!(e.kind(), FailureKind::User);
    assert!(e.to_string().contains("sslCaLocation"), "{e}");
    assert!(!e.to_string().contains("s3cr3t-pw"), "{e}");
}

#[tokio::test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn a_topic_holding_records_is_adopted_and_deleted_only_by_the_dataset_that_provisioned_it() {
    let Some(servers) = test_broker(
        "a_topic_holding_records_is_adopted_and_deleted_only_by_the_dataset_that_provisioned_it",
    ) else {
        return;
    };
    let (_dir, ctx) = context();
    let name = topic("owned");
    let sink = sink(&servers, ResourceLocation::LetsData, &name, 1024 * 1024);
    let resource = provisioned(&ctx, &sink, &servers).await;
    let mut writer = sink.open(&ctx, &resource, &TASK).await.expect("open");
    let doc: &[u8] = br#"{"id":"x1"}"#;
    let rejected = writer
        .write(
            0,
            DocumentBatch::Documents {
                documents: &[doc],
                ids: &[Cow::Borrowed("x1")],
            },
        )
        .await
        .expect("write");
    assert!(rejected.is_empty(), "{rejected:?}");
    writer.stage(0).await.expect("stage");

    // Topics carry no tags: one holding records is never adopted, even by its own dataset
    // (an earlier attempt of the step leaves it empty).
    let stranger = crate::owner::Owner::new("another-dataset", false);
    for owner in [stranger, OWNER] {
        let e = sink
            .provision(&ctx, &resource, owner)
            .await
            .expect_err("adopted a topic holding records");
        assert_eq!(e.kind(), FailureKind::User, "{e}");
        assert!(e.to_string().contains("did not create it"), "{e}");
    }
    let listed = || async {
        let settings = ClusterSettings::plaintext(vec![servers.clone()], CallPolicy::default());
        KafkaClient::new(settings)
            .expect("client")
            .topics()
            .await
            .expect("topics")
            .contains_key(&name)
    };
    let left = sink
        .delete(&ctx, &resource, stranger)
        .await
        .expect("delete");
    assert!(left.contains("left in place"), "{left}");
    assert!(
        listed().await,
        "a dataset that never provisioned it deleted it"
    );
    let done = sink.delete(&ctx, &resource, OWNER).await.expect("delete");
    assert!(done.ends_with("deleted"), "{done}");
}
