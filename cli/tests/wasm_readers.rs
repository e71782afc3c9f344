//! User code for the stream, queue and table readers, end to end through the CLI against the
//! AWS emulator (moto_server, started by scripts/test.sh): the test component
//! `examples/testing/readers` implements `KinesisRecordReader`, `QueueMessageReader`,
//! `DynamoDBStreamsRecordReader` and `DynamoDBTableItemReader`, echoing what it receives.

mod common;

use bytes::Bytes;
use common::emulator::{Emulator, emulator};
use common::{TestHome, component};
use letsdata_connectors::dynamodb::TableSpec;
use letsdata_connectors::kinesis::KinesisPutRecord;
use letsdata_connectors::sqs::SqsOutgoingMessage;
use serde_json::{Value, json};
use std::time::Duration;

/// Uploads the readers component; returns its link.
async fn upload_component(em: &Emulator) -> String {
    let bucket = format!("code-{}", em.suffix);
    em.s3.create_bucket(&bucket).await.expect("code bucket");
    let wasm = tokio::task::spawn_blocking(|| component("letsdata-test-readers"))
        .await
        .expect("join");
    em.s3
        .bucket(&bucket)
        .expect("bucket")
        .put("readers.wasm", Bytes::from(wasm))
        .await
        .expect("put component");
    format!("s3://{bucket}/readers.wasm")
}

/// Runs `datasets create` and returns the dataset and the documents it wrote.
async fn run(home: TestHome, cfg: Value) -> (TestHome, Value, Vec<Value>) {
    tokio::task::spawn_blocking(move || {
        let r = home.create(&cfg);
        assert_eq!(r.code, 0, "create failed:\n{}\n{}", r.stdout, r.stderr);
        let ds = r.json();
        let name = cfg["datasetName"].as_str().expect("name");
        let docs = home.output_read(name, 100_000);
        (home, ds, docs)
    })
    .await
    .expect("join")
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn queue_message_reader_component_reads_sqs() {
    let Some(em) = emulator().await else { return };
    let link = upload_component(&em).await;
    let sqs = em.aws.sqs();
    let queue = format!("in-{}", em.suffix);
    let url = sqs.create_queue(&queue, &[]).await.expect("queue");
    let messages: Vec<SqsOutgoingMessage> = (0..40)
        .map(|i| SqsOutgoingMessage {
            body: match i {
                7 => "bad".into(),
                // A trap: by the default reader error policy (WriteErrorAndContinue), an error
                // record holding the failure, and the task goes on.
                20 => "panic".into(),
                _ => format!("hello {i}"),
            },
            ..Default::default()
        })
        .collect();
    sqs.sender(&url, None)
        .send_batch(&messages)
        .await
        .expect("send");
    let mut cfg = em.code_dataset(
        "WasmSqs",
        json!({"connectorDestination": "SQS", "queueName": queue}),
        "Wasm",
        &link,
        json!({"sqsReaderTaskStopAfterConsecutiveEmptyReceives": 2}),
    );
    // One reader: the emulator's ReceiveMessage can hand a message to two concurrent readers,
    // which SQS allows (at-least-once) but would make the exact counts below vary.
    cfg["computeEngine"]["concurrency"] = json!(1);
    let (home, ds, docs) = run(em.code_home(), cfg).await;
    assert_eq!(ds["datasetStatus"], "COMPLETED", "{ds}");
    assert_eq!(ds["datasetProgress"]["documentsWritten"], 38, "{ds}");
    assert_eq!(ds["datasetProgress"]["errorRecords"], 2, "{ds}");
    let mut bodies: Vec<String> = docs
        .iter()
        .map(|d| d["body"].as_str().expect("body").to_string())
        .collect();
    bodies.sort();
    let mut expected: Vec<String> = (0..40)
        .filter(|i| *i != 7 && *i != 20)
        .map(|i| format!("hello {i}"))
        .collect();
    expected.sort();
    assert_eq!(bodies, expected);
    assert!(
        docs.iter()
            .all(|d| !d["id"].as_str().unwrap_or("").is_empty())
    );
    // The error document of the component is in the error bucket.
    let name = ds["datasetName"].as_str().expect("name").to_string();
    let errors = tokio::task::spawn_blocking(move || {
        let list = home.run(&["errors", "list", "--datasetName", &name]).json();
        let task = list[0]["taskId"].as_str().expect("task").to_string();
        home.run(&["errors", "view", "--datasetName", &name, "--taskId", &task])
            .json()
    })
    .await
    .expect("join");
    let errors = errors.as_array().expect("error records");
    assert_eq!(errors.len(), 2, "{errors:#?}");
    let bad = errors
        .iter()
        .find(|e| e["rawRecord"] == "bad")
        .expect("the rejected message");
    assert_eq!(bad["errorMessage"], "the body is bad", "{bad}");
    let trapped = errors
        .iter()
        .find(|e| e["rawRecord"] == "panic")
        .expect("the message the component trapped on");
    let message = trapped["errorMessage"].as_str().expect("message");
    assert!(
        message.contains("user code failed") && message.contains("asked to panic on message"),
        "{message}"
    );
    // Drained: every message was deleted after its output was durable.
    let counts = sqs.message_counts(&url).await.expect("counts");
    assert_eq!(counts.total(), 0, "{counts:?}");
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn kinesis_record_reader_component_reads_every_shard() {
    let Some(em) = emulator().await else { return };
    let link = upload_component(&em).await;
    let kinesis = em.aws.kinesis();
    let stream = format!("in-{}", em.suffix);
    kinesis
        .create_stream(&stream, 2, &[])
        .await
        .expect("stream");
    let info = kinesis
        .wait_active(&stream, Duration::from_secs(30))
        .await
        .expect("active");
    let records: Vec<KinesisPutRecord> = (0..100)
        .map(|i| KinesisPutRecord {
            partition_key: format!("key-{i}"),
            data: Bytes::from(format!("record {i}")),
        })
        .collect();
    kinesis
        .writer(&info.arn)
        .put_records(&records)
        .await
        .expect("put");
    let cfg = em.code_dataset(
        "WasmKinesis",
        json!({"connectorDestination": "KINESIS", "readerType": "KINESISSTREAMREADER", "streamArn": info.arn}),
        "Wasm",
        &link,
        json!({
            "manifestType": "KinesisStreamReaderManifest",
            "kinesisReaderTaskStartFromCondition": "Earliest",
            "kinesisReaderTaskStopCondition": "StopWhenNoNewRecords",
            "kinesisReaderTaskStopAfterConsecutiveEmptyPolls": 2,
        }),
    );
    let (home, ds, docs) = run(em.code_home(), cfg).await;
    assert_eq!(ds["datasetStatus"], "COMPLETED", "{ds}");
    assert_eq!(
        ds["datasetProgress"]["totalTasks"], 2,
        "a task per shard: {ds}"
    );
    assert_eq!(ds["datasetProgress"]["documentsWritten"], 100, "{ds}");
    let mut keys: Vec<String> = docs
        .iter()
        .map(|d| d["key"].as_str().expect("key").to_string())
        .collect();
    keys.sort();
    let mut expected: Vec<String> = (0..100).map(|i| format!("key-{i}")).collect();
    expected.sort();
    assert_eq!(keys, expected);
    for d in &docs {
        assert_eq!(d["stream"], info.arn.as_str());
        assert!(d["shard"].as_str().expect("shard").starts_with("shardId-"));
        assert!(!d["seq"].as_str().expect("seq").is_empty());
    }
    // Each task checkpointed the last sequence number of its shard.
    let name = ds["datasetName"].as_str().expect("name").to_string();
    let tasks = tokio::task::spawn_blocking(move || home.tasks(&name))
        .await
        .expect("join");
    for t in &tasks {
        assert_eq!(t["taskType"], "KINESIS");
        assert!(
            t["checkpoint"]["sequenceNumber"].is_string(),
            "no sequence number checkpoint: {t}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn dynamodb_readers_components_read_streams_and_tables() {
    let Some(em) = emulator().await else { return };
    let link = upload_component(&em).await;
    let ddb = em.aws.dynamodb();
    let table = format!("t-{}", em.suffix);
    ddb.create_table(&TableSpec::new(&table).with_stream(true))
        .await
        .expect("table");
    let info = ddb
        .wait_active(&table, Duration::from_secs(30))
        .await
        .expect("active");
    let writer = ddb.writer(&table).await.expect("writer");
    let items: Vec<serde_json::Map<String, Value>> = (0..30)
        .map(|i| {
            json!({"id": format!("item-{i}"), "n": i})
                .as_object()
                .cloned()
                .expect("object")
        })
        .collect();
    writer.write(&items).await.expect("insert");
    // Modify five of them.
    let modified: Vec<_> = items[..5]
        .iter()
        .map(|i| {
            let mut m = i.clone();
            m.insert("n".into(), json!(1000));
            m
        })
        .collect();
    writer.write(&modified).await.expect("modify");

    // The table, scanned in 3 segments.
    let cfg = em.code_dataset(
        "WasmTable",
        json!({"connectorDestination": "DYNAMODB", "tableName": table}),
        "Wasm",
        &link,
        json!({"manifestType": "DynamoDBTableReaderManifest", "dynamoDBTableReaderSegments": 3}),
    );
    let (_home, ds, docs) = run(em.code_home(), cfg).await;
    assert_eq!(ds["datasetStatus"], "COMPLETED", "{ds}");
    assert_eq!(ds["datasetProgress"]["totalTasks"], 3, "{ds}");
    let mut ids: Vec<String> = docs
        .iter()
        .map(|d| {
            let item: Value =
                serde_json::from_str(d["item"].as_str().expect("item")).expect("json");
            assert_eq!(d["table"], table.as_str());
            item["id"].as_str().expect("id").to_string()
        })
        .collect();
    ids.sort();
    let mut expected: Vec<String> = (0..30).map(|i| format!("item-{i}")).collect();
    expected.sort();
    assert_eq!(ids, expected, "every item once, across the segments");

    // The table's stream: 30 INSERTs and 5 MODIFYs.
    let stream_arn = info.stream_arn.expect("stream arn");
    let cfg = em.code_dataset(
        "WasmStreams",
        json!({"connectorDestination": "DYNAMODBSTREAMS", "streamArn": stream_arn}),
        "Wasm",
        &link,
        json!({
            "manifestType": "DynamoDBStreamReaderManifest",
            "dynamoDBReaderTaskStartFromCondition": "Earliest",
            "dynamoDBReaderTaskStopCondition": "StopWhenNoNewRecords",
            "dynamoDBReaderTaskStopAfterConsecutiveEmptyPolls": 2,
        }),
    );
    let (_home, ds, docs) = run(em.code_home(), cfg).await;
    assert_eq!(ds["datasetStatus"], "COMPLETED", "{ds}");
    let inserts = docs.iter().filter(|d| d["event"] == "INSERT").count();
    let modifies: Vec<&Value> = docs.iter().filter(|d| d["event"] == "MODIFY").collect();
    assert_eq!((inserts, modifies.len()), (30, 5), "{docs:?}");
    for m in modifies {
        let new: Value = serde_json::from_str(m["new"].as_str().expect("new image")).expect("json");
        assert_eq!(new["n"], 1000, "{m}");
    }
}
