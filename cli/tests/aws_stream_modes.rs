//! Kinesis start and stop conditions through the CLI, against the AWS emulator: `AtTimestamp`
//! reads only what arrived from then on; a `Continuous` task reads until `letsdata tasks stop`,
//! and its redrive resumes after the checkpointed sequence number (nothing read twice, nothing
//! missed).

mod common;

use bytes::Bytes;
use common::emulator::{Emulator, emulator};
use common::{TestHome, wait_until};
use letsdata_connectors::kinesis::KinesisPutRecord;
use serde_json::{Value, json};
use std::time::Duration;

/// A letsdata home using the emulator, with 1 s heartbeats (stop requests are seen sooner).
fn stream_home(em: &Emulator) -> TestHome {
    let mut home = em.home();
    home.env("LETSDATA_HEARTBEAT_SECONDS", "1");
    home
}

/// Puts `{"id": i}` for every i in `ids`, in one writer at a time (the emulator's
/// `PutRecords` is not safe for concurrent writers).
async fn put(em: &Emulator, arn: &str, ids: std::ops::Range<u64>) {
    let records: Vec<KinesisPutRecord> = ids
        .map(|i| KinesisPutRecord {
            partition_key: format!("k{i}"),
            data: Bytes::from(json!({"id": i}).to_string()),
        })
        .collect();
    em.aws
        .kinesis()
        .writer(arn)
        .put_records(&records)
        .await
        .expect("put");
}

/// A dataset reading the Kinesis stream `arn` with `manifest`, writing to S3.
fn kinesis_config(name: &str, arn: &str, manifest: Value) -> Value {
    let mut manifest = manifest;
    manifest["manifestType"] = json!("KinesisStreamReaderManifest");
    json!({
        "datasetName": name,
        "region": "us-east-1",
        "accessGrantRoleArn": "arn:aws:iam::123456789012:role/LetsDataAccess",
        "customerAccountForAccess": "123456789012",
        "readConnector": {"connectorDestination": "KINESIS", "readerType": "KINESISSTREAMREADER",
                          "streamArn": arn, "artifactImplementationLanguage": "Builtin",
                          "documentIdField": "id"},
        "writeConnector": {"connectorDestination": "S3", "resourceLocation": "LetsData"},
        "errorConnector": {"connectorDestination": "S3", "resourceLocation": "LetsData"},
        "computeEngine": {"computeEngineType": "Lambda", "concurrency": 1},
        "manifestFile": manifest,
    })
}

/// The ids of the documents a dataset wrote, sorted.
fn ids_written(home: &TestHome, name: &str) -> Vec<u64> {
    let out = home.run(&["output", "read", "--datasetName", name, "--limit", "100000"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut ids: Vec<u64> = out
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("json")["id"]
                .as_u64()
                .expect("id")
        })
        .collect();
    ids.sort_unstable();
    ids
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn at_timestamp_reads_only_what_arrived_from_then_on() {
    let Some(em) = emulator().await else { return };
    let arn = em.stream(&format!("ts-{}", em.suffix), 1).await;
    put(&em, &arn, 0..50).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let from = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    put(&em, &arn, 50..80).await;
    let name = format!("AtTs{}", em.suffix);
    let cfg = kinesis_config(
        &name,
        &arn,
        json!({
            "kinesisReaderTaskStartFromCondition": "AtTimestamp",
            "kinesisReaderTaskStartTimestamp": from,
            "kinesisReaderTaskStopCondition": "StopWhenNoNewRecords",
            "kinesisReaderTaskStopAfterConsecutiveEmptyPolls": 2,
        }),
    );
    let home = stream_home(&em);
    tokio::task::spawn_blocking(move || {
        let r = home.create(&cfg);
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        assert_eq!(ids_written(&home, &name), (50..80).collect::<Vec<_>>());
    })
    .await
    .expect("join");
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn continuous_reads_until_stopped_and_a_redrive_resumes() {
    let Some(em) = emulator().await else { return };
    let arn = em.stream(&format!("cont-{}", em.suffix), 1).await;
    put(&em, &arn, 0..100).await;
    let name = format!("Cont{}", em.suffix);
    let cfg = kinesis_config(
        &name,
        &arn,
        json!({
            "kinesisReaderTaskStartFromCondition": "Earliest",
            "kinesisReaderTaskStopCondition": "Continuous",
        }),
    );
    let home = stream_home(&em);
    let (home, name) = tokio::task::spawn_blocking(move || {
        let mut child = home.spawn_create(&cfg);
        // A Continuous task does not end by itself: wait for its first checkpoint.
        wait_until(&mut child, "the first 100 records checkpointed", || {
            home.tasks_now(&name, None).first().is_some_and(|t| {
                t["checkpoint"]["progress"]["documentsWritten"].as_u64() == Some(100)
            })
        });
        let stop = home.run(&["tasks", "stop", "--datasetName", &name]);
        assert_eq!(stop.code, 0, "{}", stop.stderr);
        let status = child.wait().expect("wait");
        assert_eq!(status.code(), Some(3), "stopped: the dataset is ERRORED");
        let task = &home.tasks(&name)[0];
        assert_eq!(task["taskStatus"], "ERRORED");
        assert!(
            task["lastError"]
                .as_str()
                .unwrap_or("")
                .contains("stopped by request"),
            "{task}"
        );
        assert!(task["checkpoint"]["sequenceNumber"].is_string(), "{task}");
        assert_eq!(ids_written(&home, &name), (0..100).collect::<Vec<_>>());
        (home, name)
    })
    .await
    .expect("join");

    // More records arrive; the redrive reads them after the checkpoint, and is stopped again.
    put(&em, &arn, 100..150).await;
    tokio::task::spawn_blocking(move || {
        let mut child = home
            .command(&["tasks", "redrive", "--datasetName", &name])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redrive");
        wait_until(&mut child, "the next 50 records checkpointed", || {
            home.tasks_now(&name, None).first().is_some_and(|t| {
                t["checkpoint"]["progress"]["documentsWritten"].as_u64() == Some(150)
            })
        });
        let stop = home.run(&["tasks", "stop", "--datasetName", &name]);
        assert_eq!(stop.code, 0, "{}", stop.stderr);
        child.wait().expect("wait");
        assert_eq!(ids_written(&home, &name), (0..150).collect::<Vec<_>>());
    })
    .await
    .expect("join");
}

/// Documents without an id of their own get `<taskId>:<part>:<n>`: unique across the parts of a
/// task, so a table keyed by document id holds every document (none overwrites another).
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn fallback_document_ids_are_unique_across_parts() {
    let Some(em) = emulator().await else { return };
    let s3 = &em.s3;
    let input = format!("ids-in-{}", em.suffix);
    s3.create_bucket(&input).await.expect("bucket");
    let lines: String = (0..400)
        .map(|i| format!("{{\"n\":{i},\"pad\":\"{}\"}}\n", "x".repeat(40)))
        .collect();
    s3.bucket(&input)
        .expect("bucket")
        .put("events.jsonl", Bytes::from(lines))
        .await
        .expect("put");
    let name = format!("Ids{}", em.suffix);
    let cfg = json!({
        "datasetName": name,
        "region": "us-east-1",
        "accessGrantRoleArn": "arn:aws:iam::123456789012:role/LetsDataAccess",
        "customerAccountForAccess": "123456789012",
        "readConnector": {"connectorDestination": "S3", "readerType": "SINGLEFILEREADER",
                          "bucketName": input, "artifactImplementationLanguage": "Builtin",
                          "builtinParser": "jsonl"},
        "writeConnector": {"connectorDestination": "DynamoDB", "resourceLocation": "LetsData"},
        "errorConnector": {"connectorDestination": "S3", "resourceLocation": "LetsData"},
        "computeEngine": {"computeEngineType": "Lambda", "concurrency": 1},
        "manifestFile": {"manifestType": "S3ReaderTextManifestFile", "readerType": "SINGLEFILEREADER",
                         "fileContents": "events.jsonl"},
    });
    let mut home = stream_home(&em);
    // A part every ~2 KB of output: about ten parts.
    home.env("LETSDATA_PART_SIZE_BYTES", "2000");
    tokio::task::spawn_blocking(move || {
        let r = home.create(&cfg);
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        assert_eq!(r.json()["datasetProgress"]["documentsWritten"], 400);
        let task = &home.tasks(&name)[0];
        assert!(
            task["checkpoint"]["nextPart"].as_u64().expect("part") >= 5,
            "several parts: {task}"
        );
        let out = home.run(&["output", "read", "--datasetName", &name, "--limit", "10000"]);
        let items: Vec<Value> = out
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("item"))
            .collect();
        let mut n: Vec<u64> = items.iter().map(|i| i["n"].as_u64().expect("n")).collect();
        n.sort_unstable();
        assert_eq!(
            n,
            (0..400).collect::<Vec<_>>(),
            "every document is its own item"
        );
        let mut ids: Vec<&str> = items
            .iter()
            .map(|i| i["documentId"].as_str().expect("documentId"))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 400);
    })
    .await
    .expect("join");
}
