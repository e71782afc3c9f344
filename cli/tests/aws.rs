//! The Kinesis, SQS, DynamoDB and DynamoDB Streams connectors end to end, through the real
//! `letsdata` binary against an AWS emulator (moto_server, started by scripts/test.sh and given
//! as `LETSDATA_TEST_S3_ENDPOINT`): streams, queues and tables are set up and inspected with the
//! connector clients, datasets are created with the CLI, and what they wrote is checked in the
//! emulator. Every test uses its own resources (random suffix).

mod common;

use bytes::Bytes;
use common::emulator::emulator;
use common::{TestHome, config, jsonl};
use letsdata_connectors::aws::AwsClients;
use letsdata_connectors::aws::attribute_value::JsonObject;
use letsdata_connectors::dynamodb::{DynamoDbClient, ScanRequest};
use letsdata_connectors::kinesis::{KinesisPutRecord, gunzip};
use letsdata_connectors::sqs::{ReceiveOptions, SqsMessage, SqsOutgoingMessage};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const ROLE: &str = "arn:aws:iam::123456789012:role/LetsDataAccess";
const ACCOUNT: &str = "123456789012";

/// A dataset config with both resource fields an emulator endpoint needs, S3 errors in a
/// LetsData bucket and a Lambda compute engine.
fn dataset(name: &str, read: Value, manifest: Value, write: Value, concurrency: u32) -> Value {
    json!({
        "datasetName": name,
        "region": "us-east-1",
        "accessGrantRoleArn": ROLE,
        "customerAccountForAccess": ACCOUNT,
        "readConnector": read,
        "writeConnector": write,
        "errorConnector": {"connectorDestination": "S3", "resourceLocation": "LetsData"},
        "computeEngine": {"computeEngineType": "Lambda", "concurrency": concurrency},
        "manifestFile": manifest,
    })
}

fn s3_out() -> Value {
    json!({"connectorDestination": "S3", "resourceLocation": "LetsData"})
}

/// Runs `datasets create` and checks it exited 0; returns the dataset as `datasets view` shows it.
fn create_ok(home: &TestHome, cfg: &Value) -> Value {
    let run = home.create(cfg);
    assert_eq!(
        run.code, 0,
        "datasets create failed\nstdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    let name = cfg["datasetName"].as_str().expect("name");
    home.view(name)
}

fn assert_completed(ds: &Value) {
    assert_eq!(
        ds["datasetStatus"],
        "COMPLETED",
        "{}",
        serde_json::to_string_pretty(ds).unwrap_or_default()
    );
}

/// Runs `datasets delete`; returns the dataset as `datasets view` then shows it, DELETED.
fn delete_dataset(home: &TestHome, name: &str) -> Value {
    let run = home.run(&["datasets", "delete", "--datasetName", name]);
    assert_eq!(run.code, 0, "delete: {}", run.stderr);
    let deleted = home.view(name);
    assert_eq!(deleted["datasetStatus"], "DELETED", "{deleted}");
    deleted
}

/// Asserts that the step of a workflow map (`initializationWorkflow`, `deleteWorkflow`)
/// COMPLETED, printing the whole workflow if not.
fn assert_step_completed(workflow: &Value, step: &str) {
    assert_eq!(workflow[step]["status"], "COMPLETED", "{step}: {workflow}");
}

/// Receives every message of the queue (hidden for ten minutes, so none comes twice), until
/// two long polls in a row bring nothing.
async fn receive_all(aws: &AwsClients, url: &str) -> Vec<SqsMessage> {
    let sqs = aws.sqs();
    let options = ReceiveOptions {
        max_messages: 10,
        wait_time: Duration::from_secs(1),
        visibility_timeout: Some(Duration::from_secs(600)),
    };
    let mut out = Vec::new();
    let mut empty = 0;
    while empty < 2 {
        let got = sqs.receive(url, &options).await.expect("receive");
        if got.is_empty() {
            empty += 1;
        } else {
            empty = 0;
            out.extend(got);
        }
    }
    out
}

/// Every item of the table.
async fn scan_all(ddb: &DynamoDbClient, table: &str) -> Vec<JsonObject> {
    let mut request = ScanRequest::segment(table, 0, 1);
    let mut items = Vec::new();
    loop {
        let page = ddb.scan(&request).await.expect("scan");
        items.extend(page.items);
        match page.last_evaluated_key {
            Some(k) => request.exclusive_start_key = Some(k),
            None => return items,
        }
    }
}

/// One DynamoDB API call straight to the emulator over HTTP (the test crate has no DynamoDB
/// SDK of its own and the connector's client only puts): for `DeleteItem`. The emulator does
/// not check signatures; the credential scope names the service.
fn dynamodb_call(endpoint: &str, action: &str, body: &Value) {
    use std::io::{Read, Write};
    let host = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let body = body.to_string();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-amz-json-1.0\r\n\
         X-Amz-Target: DynamoDB_20120810.{action}\r\nX-Amz-Date: 20250101T000000Z\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/dynamodb/aws4_request, \
         SignedHeaders=host;x-amz-date;x-amz-target, Signature=00\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = std::net::TcpStream::connect(&host).expect("connect to the emulator");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response);
    let status = response.lines().next().unwrap_or_default();
    assert!(
        status.split_whitespace().nth(1) == Some("200"),
        "DynamoDB {action} failed: {response}"
    );
}

/// id → how many times it was seen.
fn counts(ids: impl IntoIterator<Item = u64>) -> BTreeMap<u64, u32> {
    let mut m = BTreeMap::new();
    for id in ids {
        *m.entry(id).or_default() += 1;
    }
    m
}

fn assert_each_once(seen: &BTreeMap<u64, u32>, expected: impl IntoIterator<Item = u64>) {
    let expected: BTreeSet<u64> = expected.into_iter().collect();
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).take(10).collect();
    assert!(
        twice.is_empty(),
        "documents written more than once: {twice:?}"
    );
    let got: BTreeSet<u64> = seen.keys().copied().collect();
    let missing: Vec<_> = expected.difference(&got).take(10).collect();
    let extra: Vec<_> = got.difference(&expected).take(10).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing documents {missing:?}, unexpected documents {extra:?} ({} seen, {} expected)",
        got.len(),
        expected.len()
    );
}

// ---------------------------------------------------------------------------------------

/// An S3 file → a Kinesis stream letsdata creates (2 shards): every document once in the stream
/// (gzip, partition key = document id), `output read` prints them, the malformed line is an
/// error record, and `datasets delete` removes the stream.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn s3_files_to_letsdata_kinesis_stream() {
    let Some(emu) = emulator().await else { return };
    let sfx = &emu.suffix;
    let input = format!("kin-in-{sfx}");
    emu.s3.create_bucket(&input).await.expect("input bucket");
    let ib = emu.s3.bucket(&input).expect("bucket");
    // One file, one task: the emulator's PutRecords is not safe for concurrent writers to a
    // shard (moto: "this function is not safe for concurrency"; two records can get the same
    // sequence number, and one replaces the other), and even at concurrency 1 a task's small
    // last part is written while the next task starts (the slot is given back first).
    let mut input_lines = jsonl(0, 3000);
    input_lines.push_str("{oops\n");
    ib.put("ab.jsonl", Bytes::from(input_lines))
        .await
        .expect("put");

    let home = emu.home();
    let name = format!("ToKinesis{sfx}");
    let mut cfg = config(
        &name,
        &input,
        json!({"builtinParser": "jsonl", "documentIdField": "id"}),
        &["ab.jsonl"],
    );
    cfg["writeConnector"] = json!({
        "connectorDestination": "Kinesis",
        "resourceLocation": "LetsData",
        "kinesisShardCount": 2,
    });
    cfg["accessGrantRoleArn"] = json!(ROLE);
    cfg["customerAccountForAccess"] = json!(ACCOUNT);
    let ds = create_ok(&home, &cfg);
    assert_completed(&ds);
    assert_eq!(ds["datasetProgress"]["documentsWritten"], 3000);
    assert_eq!(ds["datasetProgress"]["errorRecords"], 1);
    assert_step_completed(
        &ds["initializationWorkflow"],
        "Write Connector - Create Kinesis Stream",
    );
    let w = &ds["resources"]["writeResource"];
    assert_eq!(w["resourceType"], "KinesisStream", "{w}");
    assert_eq!(w["resourceLocation"], "LetsData", "{w}");
    let stream_name = w["name"].as_str().expect("stream name").to_string();
    let arn = w["arn"].as_str().expect("stream arn").to_string();
    assert!(
        arn.starts_with("arn:aws:kinesis:us-east-1:")
            && arn.ends_with(&format!(":stream/{stream_name}")),
        "{arn}"
    );

    // Every document exactly once, gzip-compressed, keyed by its id, over both shards.
    let kinesis = emu.aws.kinesis();
    let info = kinesis
        .describe_stream(&stream_name)
        .await
        .expect("describe")
        .expect("stream exists");
    assert_eq!(info.open_shard_count, 2);
    let records = emu.kinesis_records(&arn).await;
    let mut per_shard: BTreeMap<String, usize> = BTreeMap::new();
    let mut ids = Vec::new();
    for (shard, r) in &records {
        assert!(r.data.starts_with(&[0x1f, 0x8b]), "record is not gzip");
        let doc: Value = serde_json::from_slice(&gunzip(&r.data).expect("gunzip")).expect("json");
        let id = doc["id"].as_u64().expect("id");
        assert_eq!(
            r.partition_key,
            id.to_string(),
            "partition key = document id"
        );
        ids.push(id);
        *per_shard.entry(shard.clone()).or_default() += 1;
    }
    assert_each_once(&counts(ids), 0..3000);
    assert_eq!(per_shard.len(), 2, "both shards written: {per_shard:?}");

    // `output read` prints the same documents.
    let docs = home.output_read(&name, 10_000);
    assert_eq!(docs.len(), 3000);
    assert_each_once(
        &counts(docs.iter().map(|d| d["id"].as_u64().expect("id"))),
        0..3000,
    );
    let few = home.output_read(&name, 7);
    assert_eq!(few.len(), 7, "--limit is honoured");

    // The malformed line is in the error bucket.
    let errors = home.error_records(&name);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["rawRecord"], "{oops");
    assert_eq!(errors[0]["fileName"], "ab.jsonl");

    // Deleting the dataset deletes the stream letsdata created, not the input.
    let deleted = delete_dataset(&home, &name);
    assert_step_completed(
        &deleted["deleteWorkflow"],
        "Write Connector - Delete Kinesis Stream",
    );
    assert!(
        !kinesis.exists(&stream_name).await.expect("describe"),
        "the LetsData stream is deleted"
    );
    assert!(emu.s3.bucket_exists(&input).await.expect("head"));
}

/// A customer Kinesis stream of 3 shards → S3: one task per shard, killed (SIGKILL) after
/// parts were published, then `letsdata run`: every record exactly once in the output files.
#[cfg(feature = "failpoints")]
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn kinesis_shards_to_s3_survive_sigkill() {
    const N: u64 = 20_000;
    const CHUNK: u64 = 300;
    let Some(emu) = emulator().await else { return };
    let sfx = &emu.suffix;
    let stream = format!("kin-src-{sfx}");
    let arn = emu.stream(&stream, 3).await;
    let writer = emu.aws.kinesis().writer(&arn);
    let records = |ids: std::ops::Range<u64>| -> Vec<KinesisPutRecord> {
        ids.map(|i| KinesisPutRecord {
            partition_key: format!("k{}", i % 997),
            data: Bytes::from(format!(
                "{{\"id\":{i},\"event\":\"view\",\"payload\":\"{i:0>24}\"}}"
            )),
        })
        .collect()
    };
    // One PutRecords at a time: the emulator loses records of concurrent PutRecords calls.
    // Every record is in the stream before the run: a task ends after its empty polls, so
    // records added while it runs could arrive after it ended, on a slow enough machine.
    for start in (0..N).step_by(CHUNK as usize) {
        let chunk = records(start..(start + CHUNK).min(N));
        let report = writer.put_records(&chunk).await.expect("put");
        assert_eq!(report.succeeded, chunk.len());
    }
    let shard_ids: BTreeSet<String> = emu
        .aws
        .kinesis()
        .list_shards(&arn)
        .await
        .expect("shards")
        .into_iter()
        .map(|s| s.shard_id)
        .collect();
    assert_eq!(shard_ids.len(), 3);

    let mut home = emu.home();
    // Small parts, so there are checkpoints to be killed between.
    home.env("LETSDATA_PART_SIZE_BYTES", "10000");
    let name = format!("KinesisKill{sfx}");
    let cfg = dataset(
        &name,
        json!({
            "connectorDestination": "KINESIS",
            "readerType": "KINESISSTREAMREADER",
            "streamArn": arn,
            "resourceLocation": "Customer",
            "artifactImplementationLanguage": "Builtin",
            "documentIdField": "id",
        }),
        json!({
            "manifestType": "KinesisStreamReaderManifest",
            "kinesisReaderTaskStartFromCondition": "Earliest",
            "kinesisReaderTaskStopCondition": "StopWhenNoNewRecords",
            "kinesisReaderTaskStopAfterConsecutiveEmptyPolls": 3,
        }),
        s3_out(),
        3,
    );
    // Killed (a failpoint: SIGKILL) once parts were checkpointed and published: mid-run at a
    // point the test chooses, not when a timer fires.
    let home = tokio::task::spawn_blocking(move || {
        home.create_killed(&cfg, "part-published-documents=3*off->return(kill)");
        home
    })
    .await
    .expect("join");
    let killed = home.view(&name);
    assert_eq!(killed["datasetStatus"], "PROCESSING", "killed mid-run");

    let run = home.run(&["run"]);
    assert_eq!(run.code, 0, "letsdata run: {}", run.stderr);
    assert_eq!(
        run.json()[0]["datasetStatus"],
        "COMPLETED",
        "{}",
        run.stdout
    );

    let ds = home.view(&name);
    assert_completed(&ds);
    assert_eq!(
        ds["resources"]["readResource"]["resourceType"],
        "KinesisStream"
    );
    assert_eq!(ds["resources"]["readResource"]["arn"], arn.as_str());
    let tasks = home.tasks(&name);
    assert_eq!(tasks.len(), 3, "one task per shard");
    let mut task_shards = BTreeSet::new();
    for t in &tasks {
        assert_eq!(t["taskStatus"], "COMPLETED", "{t}");
        task_shards.insert(
            t["taskDefinition"]["shardId"]
                .as_str()
                .expect("shardId")
                .to_string(),
        );
        assert!(
            t["checkpoint"]["sequenceNumber"].as_str().is_some(),
            "a finished shard task has a checkpoint: {t}"
        );
    }
    assert_eq!(task_shards, shard_ids);
    let lease_lost = common::lease_lost_invocations(&tasks);
    assert!(
        lease_lost >= 1,
        "the killed worker's invocations are marked LEASE_LOST"
    );

    // Exactly once in the output files.
    let lines = emu
        .s3_lines(
            ds["resources"]["writeBucket"]
                .as_str()
                .expect("write bucket"),
            &format!("{name}/"),
        )
        .await;
    let ids = lines.iter().map(|l| {
        let doc: Value = serde_json::from_str(l).expect("json");
        doc["id"].as_u64().expect("id")
    });
    assert_each_once(&counts(ids), 0..N);

    // The progress counters agree with the output.
    let per_task: u64 = tasks
        .iter()
        .map(|t| t["taskProgress"]["documentsWritten"].as_u64().expect("n"))
        .sum();
    assert_eq!(
        (ds["datasetProgress"]["documentsWritten"].as_u64(), per_task),
        (Some(N), N),
        "documentsWritten (dataset, sum of tasks) after the resume"
    );
    assert_eq!(ds["datasetProgress"]["errorRecords"], 0);
}

/// A customer SQS queue drained by two tasks into a customer DynamoDB table: good messages
/// become items; malformed ones, and documents the table refuses (no key attribute, a key of
/// the wrong type), become error records; the queue is empty afterwards.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn sqs_queue_drained_into_dynamodb_table() {
    const M: u64 = 200;
    let Some(emu) = emulator().await else { return };
    let sfx = &emu.suffix;
    let queue = format!("q-src-{sfx}");
    let url = emu.queue(&queue).await;
    let table = format!("t-out-{sfx}");
    emu.table(&table, false).await;
    let mut messages: Vec<SqsOutgoingMessage> = (0..M)
        .map(|i| SqsOutgoingMessage {
            body: json!({"uid": format!("u{i}"), "id": format!("k{i}"), "n": i, "nested": {"even": i % 2 == 0}})
                .to_string(),
            ..Default::default()
        })
        .collect();
    // Two malformed messages, then two documents the table refuses (its key is the string
    // "id"; the document id is "uid").
    let bad = [
        "{broken",
        "not json at all",
        "{\"uid\":\"u-no-key\",\"name\":\"no key attribute\"}",
        "{\"uid\":\"u-number-key\",\"id\":5}",
    ];
    for (i, b) in bad.iter().enumerate() {
        messages.insert(
            (i + 1) * 50,
            SqsOutgoingMessage {
                body: b.to_string(),
                ..Default::default()
            },
        );
    }
    let report = emu
        .aws
        .sqs()
        .sender(&url, None)
        .send_batch(&messages)
        .await
        .expect("send");
    assert_eq!(report.succeeded, messages.len());

    let home = emu.home();
    let name = format!("SqsToDdb{sfx}");
    let cfg = dataset(
        &name,
        json!({
            "connectorDestination": "SQS",
            "queueName": queue,
            "artifactImplementationLanguage": "Builtin",
            "documentIdField": "uid",
        }),
        json!({
            "sqsReaderTaskStopCondition": "DrainQueues",
            "sqsReaderTaskStopAfterConsecutiveEmptyReceives": 3,
        }),
        json!({
            "connectorDestination": "DynamoDB",
            "resourceLocation": "Customer",
            "tableName": table,
        }),
        2,
    );
    let ds = create_ok(&home, &cfg);
    assert_completed(&ds);
    // SQS delivers at least once, and the emulator's ReceiveMessage is not atomic across
    // concurrent receivers (moto checks visibility, then marks the message received, without a
    // lock): now and then a message is read twice. Every record read is counted once, as a
    // document or as an error record.
    let progress = &ds["datasetProgress"];
    let count = |k: &str| {
        progress[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k}: {progress}"))
    };
    let (read, written, errored) = (
        count("recordsRead"),
        count("documentsWritten"),
        count("errorRecords"),
    );
    let expected_read = M + bad.len() as u64;
    assert!(
        (expected_read..=expected_read + 3).contains(&read),
        "{read} records read for {expected_read} messages: {progress}"
    );
    assert_eq!(written + errored, read, "{progress}");
    assert!(written >= M && errored >= 4, "{progress}");
    assert_step_completed(
        &ds["initializationWorkflow"],
        "Write Connector - Check Customer Dynamo DB Table",
    );
    assert_eq!(ds["resources"]["readResource"]["resourceType"], "SQSQueue");
    assert_eq!(
        ds["resources"]["writeResource"]["resourceType"],
        "DynamoDBTable"
    );
    assert_eq!(
        ds["resources"]["writeResource"]["resourceLocation"],
        "Customer"
    );
    assert_eq!(ds["resources"]["writeResource"]["name"], table.as_str());
    let tasks = home.tasks(&name);
    assert_eq!(tasks.len(), 2, "tasks = computeEngine.concurrency");
    assert!(tasks.iter().all(|t| t["taskStatus"] == "COMPLETED"));

    // Messages are deleted once their documents are durable.
    let left = emu.aws.sqs().message_counts(&url).await.expect("counts");
    assert_eq!(left.total(), 0, "{left:?}");

    // The table holds exactly the good documents.
    let items = scan_all(&emu.aws.dynamodb(), &table).await;
    assert_eq!(items.len() as u64, M);
    let mut seen = BTreeMap::new();
    for item in &items {
        let id = item["id"].as_str().expect("id");
        let n = item["n"].as_u64().expect("n");
        assert_eq!(id, format!("k{n}"));
        assert_eq!(item["nested"]["even"], n % 2 == 0);
        *seen.entry(n).or_default() += 1;
    }
    assert_each_once(&seen, 0..M);

    // The bad messages are error records.
    let errors = home.error_records(&name);
    assert_eq!(errors.len() as u64, errored);
    let raws: BTreeSet<&str> = errors
        .iter()
        .map(|e| e["rawRecord"].as_str().expect("rawRecord"))
        .collect();
    assert_eq!(raws, bad.iter().copied().collect(), "{errors:#?}");
    let by_raw = |raw: &str| {
        errors
            .iter()
            .find(|e| e["rawRecord"] == raw)
            .expect("error record")
            .clone()
    };
    let no_key = by_raw(bad[2]);
    assert_eq!(no_key["documentId"], "u-no-key");
    let message = no_key["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("DynamoDB table {table} rejected the document"))
            && message.contains("no partition key attribute \"id\""),
        "{message}"
    );
    let number_key = by_raw(bad[3]);
    assert_eq!(number_key["documentId"], "u-number-key");
    let message = number_key["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.contains("partition key attribute \"id\" must be a string"),
        "{message}"
    );
    for raw in &bad[..2] {
        let e = by_raw(raw);
        assert!(
            e["errorMessage"]
                .as_str()
                .is_some_and(|m| m.contains("invalid JSON")),
            "{e}"
        );
    }
}

/// A DynamoDB table scanned in 3 segments (a task each) into a queue letsdata creates, with
/// the document id in a message attribute; `datasets delete` deletes the queue.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn dynamodb_parallel_scan_to_letsdata_queue() {
    const K: usize = 300;
    let Some(emu) = emulator().await else { return };
    let sfx = &emu.suffix;
    let table = format!("t-src-{sfx}");
    emu.table(&table, false).await;
    let items: Vec<JsonObject> = (0..K)
        .map(|i| {
            json!({"id": format!("item-{i:04}"), "n": i, "tags": ["x", i % 3]})
                .as_object()
                .cloned()
                .expect("object")
        })
        .collect();
    let report = emu
        .aws
        .dynamodb()
        .writer(&table)
        .await
        .expect("writer")
        .write(&items)
        .await
        .expect("write items");
    assert_eq!(report.succeeded, K);

    let home = emu.home();
    let name = format!("DdbToSqs{sfx}");
    let cfg = dataset(
        &name,
        json!({
            "connectorDestination": "DYNAMODB",
            "tableName": table,
            "artifactImplementationLanguage": "Builtin",
            "documentIdField": "id",
        }),
        json!({
            "manifestType": "DynamoDBTableReaderManifest",
            "dynamoDBTableReaderSegments": 3,
            "dynamoDBTableReaderTaskStopCondition": "SingleTableScan",
        }),
        json!({
            "connectorDestination": "SQS",
            "resourceLocation": "LetsData",
            "messageIdAttributeName": "docId",
        }),
        2,
    );
    let ds = create_ok(&home, &cfg);
    assert_completed(&ds);
    assert_eq!(ds["datasetProgress"]["documentsWritten"], K);
    assert_eq!(ds["datasetProgress"]["errorRecords"], 0);
    assert_step_completed(
        &ds["initializationWorkflow"],
        "Write Connector - Create SQS Queue",
    );
    let tasks = home.tasks(&name);
    assert_eq!(tasks.len(), 3, "one task per segment");
    let segments: BTreeSet<u64> = tasks
        .iter()
        .map(|t| {
            assert_eq!(t["taskStatus"], "COMPLETED", "{t}");
            assert_eq!(t["taskDefinition"]["totalSegments"], 3, "{t}");
            t["taskDefinition"]["segment"].as_u64().expect("segment")
        })
        .collect();
    assert_eq!(segments, BTreeSet::from([0, 1, 2]));
    let per_task: u64 = tasks
        .iter()
        .map(|t| t["taskProgress"]["documentsWritten"].as_u64().expect("n"))
        .sum();
    assert_eq!(per_task, K as u64);

    let w = &ds["resources"]["writeResource"];
    assert_eq!(w["resourceType"], "SQSQueue", "{w}");
    assert_eq!(w["resourceLocation"], "LetsData", "{w}");
    let queue = w["name"].as_str().expect("queue name").to_string();
    assert!(
        w["arn"].as_str().is_some_and(|a| a.ends_with(&queue)),
        "{w}"
    );
    let url = emu
        .aws
        .sqs()
        .find_queue_url(&queue)
        .await
        .expect("lookup")
        .expect("the queue exists");
    assert_eq!(
        w["url"].as_str(),
        Some(url.as_str()),
        "the queue's URL is shown: {w}"
    );

    // `output read` peeks: all documents, left in the queue (checked at the end).
    let peeked = home.output_read(&name, 10_000);

    // K messages, distinct ids in the docId attribute, each matching its body.
    let messages = receive_all(&emu.aws, &url).await;
    assert_eq!(messages.len(), K);
    let mut ids = BTreeSet::new();
    for m in &messages {
        let id = m
            .message_attributes
            .get("docId")
            .unwrap_or_else(|| panic!("no docId attribute: {m:?}"));
        let body: Value = serde_json::from_str(&m.body).expect("json body");
        assert_eq!(body["id"], id.as_str());
        let n = body["n"].as_u64().expect("n") as usize;
        assert_eq!(body, json!({"id": id, "n": n, "tags": ["x", n % 3]}));
        ids.insert(id.clone());
    }
    let expected: BTreeSet<String> = (0..K).map(|i| format!("item-{i:04}")).collect();
    assert_eq!(ids, expected);

    // Deleting the dataset deletes the queue letsdata created, not the table read.
    let deleted = delete_dataset(&home, &name);
    assert_step_completed(
        &deleted["deleteWorkflow"],
        "Write Connector - Delete SQS Queue",
    );
    assert_eq!(
        emu.aws.sqs().find_queue_url(&queue).await.expect("lookup"),
        None,
        "the LetsData queue is deleted"
    );
    assert!(emu.aws.dynamodb().exists(&table).await.expect("describe"));

    let peeked_ids: BTreeSet<&str> = peeked
        .iter()
        .map(|d| d["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        (peeked.len(), peeked_ids.len()),
        (K, K),
        "`output read` prints every message of the queue once"
    );
}

/// A table's stream (inserts, a modify, a remove) → S3: one document per stream event, with
/// its event name, keys and images.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn dynamodb_stream_events_to_s3() {
    let Some(emu) = emulator().await else { return };
    let sfx = &emu.suffix;
    let table = format!("t-stream-{sfx}");
    let stream_arn = emu.table(&table, true).await.expect("stream enabled");
    let writer = emu.aws.dynamodb().writer(&table).await.expect("writer");
    let item = |v: Value| v.as_object().cloned().expect("object");
    for doc in [
        json!({"id": "a", "v": 1}),
        json!({"id": "b", "v": 1}),
        json!({"id": "c", "v": 1}),
        json!({"id": "a", "v": 2, "s": "two"}),
    ] {
        let r = writer.write(&[item(doc)]).await.expect("put");
        assert_eq!(r.succeeded, 1);
    }
    dynamodb_call(
        &emu.endpoint,
        "DeleteItem",
        &json!({"TableName": table, "Key": {"id": {"S": "b"}}}),
    );

    let home = emu.home();
    let name = format!("DdbStream{sfx}");
    let cfg = dataset(
        &name,
        json!({
            "connectorDestination": "DYNAMODBSTREAMS",
            "streamArn": stream_arn,
            "artifactImplementationLanguage": "Builtin",
        }),
        json!({
            "manifestType": "DynamoDBStreamReaderManifest",
            "dynamoDBReaderTaskStartFromCondition": "Earliest",
            "dynamoDBReaderTaskStopCondition": "StopWhenNoNewRecords",
            "dynamoDBReaderTaskStopAfterConsecutiveEmptyPolls": 3,
        }),
        s3_out(),
        2,
    );
    let ds = create_ok(&home, &cfg);
    assert_completed(&ds);
    assert_eq!(ds["datasetProgress"]["documentsWritten"], 5);
    assert_eq!(ds["datasetProgress"]["errorRecords"], 0);
    let r = &ds["resources"]["readResource"];
    assert_eq!(r["resourceType"], "DynamoDBStream", "{r}");
    assert_eq!(r["arn"], stream_arn.as_str(), "{r}");
    let shards = emu
        .aws
        .dynamodb_streams()
        .list_shards(&stream_arn)
        .await
        .expect("shards");
    let tasks = home.tasks(&name);
    assert_eq!(tasks.len(), shards.len(), "one task per shard");
    assert!(tasks.iter().all(|t| t["taskStatus"] == "COMPLETED"));

    let lines = emu
        .s3_lines(
            ds["resources"]["writeBucket"]
                .as_str()
                .expect("write bucket"),
            &format!("{name}/"),
        )
        .await;
    let docs: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(docs.len(), 5, "{docs:#?}");
    let printed = home.output_read(&name, 100);
    assert_eq!(printed.len(), 5);

    let event_ids: BTreeSet<&str> = docs
        .iter()
        .map(|d| d["eventID"].as_str().expect("eventID"))
        .collect();
    assert_eq!(event_ids.len(), 5, "one document per event");
    // Per key, in stream order.
    let mut by_key: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for d in &docs {
        assert!(d["sequenceNumber"].as_str().is_some(), "{d}");
        by_key
            .entry(d["keys"]["id"].as_str().expect("key").to_string())
            .or_default()
            .push(d);
    }
    let names = |k: &str| -> Vec<&str> {
        by_key[k]
            .iter()
            .map(|d| d["eventName"].as_str().expect("eventName"))
            .collect()
    };
    assert_eq!(names("a"), ["INSERT", "MODIFY"]);
    assert_eq!(names("b"), ["INSERT", "REMOVE"]);
    assert_eq!(names("c"), ["INSERT"]);
    let a = &by_key["a"];
    assert_eq!(a[0]["newImage"], json!({"id": "a", "v": 1}));
    assert!(a[0].get("oldImage").is_none_or(Value::is_null), "{}", a[0]);
    assert_eq!(a[1]["oldImage"], json!({"id": "a", "v": 1}));
    assert_eq!(a[1]["newImage"], json!({"id": "a", "v": 2, "s": "two"}));
    let b = &by_key["b"];
    assert_eq!(b[1]["oldImage"], json!({"id": "b", "v": 1}));
    assert!(b[1].get("newImage").is_none_or(Value::is_null), "{}", b[1]);
}

/// A customer Kinesis stream → a DynamoDB table letsdata creates (keyed by "documentId"):
/// documents without that attribute get their document id (`<shardId>:<sequenceNumber>`
/// without a documentIdField), one with it keeps its own, an item over 400 KB is an error
/// record; `datasets delete` deletes the table.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn kinesis_to_letsdata_dynamodb_table() {
    let Some(emu) = emulator().await else { return };
    let sfx = &emu.suffix;
    let stream = format!("kin-ddb-{sfx}");
    let arn = emu.stream(&stream, 1).await;
    let mut docs: Vec<Value> = (0..40).map(|i| json!({"n": i, "kind": "plain"})).collect();
    docs.push(json!({"n": 40, "documentId": "mine"}));
    docs.push(json!({"n": 41, "big": "x".repeat(450 * 1024)}));
    let records: Vec<KinesisPutRecord> = docs
        .iter()
        .map(|d| KinesisPutRecord {
            partition_key: d["n"].to_string(),
            data: Bytes::from(d.to_string()),
        })
        .collect();
    let report = emu
        .aws
        .kinesis()
        .writer(&arn)
        .put_records(&records)
        .await
        .expect("put");
    assert_eq!(report.succeeded, records.len());
    // n → the record's default document id.
    let record_ids: BTreeMap<u64, String> = emu
        .kinesis_records(&arn)
        .await
        .into_iter()
        .map(|(shard, r)| {
            let doc: Value =
                serde_json::from_slice(&gunzip(&r.data).expect("gunzip")).expect("json");
            (
                doc["n"].as_u64().expect("n"),
                format!("{shard}:{}", r.sequence_number),
            )
        })
        .collect();
    assert_eq!(record_ids.len(), 42);

    let home = emu.home();
    let name = format!("KinToDdb{sfx}");
    let cfg = dataset(
        &name,
        json!({
            "connectorDestination": "KINESIS",
            "streamArn": arn,
            "artifactImplementationLanguage": "Builtin",
        }),
        json!({
            "manifestType": "KinesisStreamReaderManifest",
            "kinesisReaderTaskStopCondition": "StopWhenNoNewRecords",
            "kinesisReaderTaskStopAfterConsecutiveEmptyPolls": 2,
        }),
        json!({"connectorDestination": "DynamoDB", "resourceLocation": "LetsData"}),
        1,
    );
    let ds = create_ok(&home, &cfg);
    assert_completed(&ds);
    assert_eq!(ds["datasetProgress"]["documentsWritten"], 41);
    assert_eq!(ds["datasetProgress"]["errorRecords"], 1);
    assert_step_completed(
        &ds["initializationWorkflow"],
        "Write Connector - Create Dynamo DB Table",
    );
    let w = &ds["resources"]["writeResource"];
    assert_eq!(w["resourceType"], "DynamoDBTable", "{w}");
    assert_eq!(w["resourceLocation"], "LetsData", "{w}");
    let table = w["name"].as_str().expect("table name").to_string();
    let info = emu
        .aws
        .dynamodb()
        .describe_table(&table)
        .await
        .expect("describe")
        .expect("the table exists");
    assert_eq!(info.key_schema.hash_key.name, "documentId");
    assert_eq!(w["arn"], info.arn.as_str());

    let items = scan_all(&emu.aws.dynamodb(), &table).await;
    let by_n: BTreeMap<u64, &JsonObject> = items
        .iter()
        .map(|i| (i["n"].as_u64().expect("n"), i))
        .collect();
    assert_eq!(items.len(), 41);
    assert_eq!(
        by_n.keys().copied().collect::<Vec<_>>(),
        (0..41).collect::<Vec<_>>()
    );
    for n in 0..40 {
        assert_eq!(by_n[&n]["documentId"], record_ids[&n].as_str(), "item {n}");
        assert_eq!(by_n[&n]["kind"], "plain");
    }
    assert_eq!(by_n[&40]["documentId"], "mine");
    assert_eq!(home.output_read(&name, 1000).len(), 41);

    let errors = home.error_records(&name);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["documentId"], record_ids[&41].as_str());
    let message = errors[0]["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("DynamoDB table {table} rejected the document")),
        "{message}"
    );

    let deleted = delete_dataset(&home, &name);
    assert_step_completed(
        &deleted["deleteWorkflow"],
        "Write Connector - Delete Dynamo DB Table",
    );
    assert!(
        !emu.aws.dynamodb().exists(&table).await.expect("describe"),
        "the LetsData table is deleted"
    );
    assert!(emu.aws.kinesis().exists(&arn).await.expect("describe"));
}

/// S3 input → a queue letsdata creates, with a document over the SQS limit and a malformed
/// line: both are error records (the first saying why), the others are delivered.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn oversize_and_malformed_documents_are_error_records() {
    let Some(emu) = emulator().await else { return };
    let sfx = &emu.suffix;
    let input = format!("big-in-{sfx}");
    emu.s3.create_bucket(&input).await.expect("input bucket");
    let mut data = jsonl(0, 40);
    data.push_str(&format!(
        "{{\"id\":40,\"big\":\"{}\"}}\n",
        "x".repeat(300 * 1024)
    ));
    data.push_str("{\"id\":41,\"truncated\n");
    data.push_str(&jsonl(42, 10));
    emu.s3
        .bucket(&input)
        .expect("bucket")
        .put("in.jsonl", Bytes::from(data))
        .await
        .expect("put");

    let home = emu.home();
    let name = format!("Oversize{sfx}");
    let mut cfg = config(
        &name,
        &input,
        json!({"builtinParser": "jsonl", "documentIdField": "id"}),
        &["in.jsonl"],
    );
    cfg["writeConnector"] = json!({"connectorDestination": "SQS", "resourceLocation": "LetsData"});
    cfg["accessGrantRoleArn"] = json!(ROLE);
    cfg["customerAccountForAccess"] = json!(ACCOUNT);
    let ds = create_ok(&home, &cfg);
    assert_completed(&ds);
    assert_eq!(ds["datasetProgress"]["documentsWritten"], 50);
    assert_eq!(ds["datasetProgress"]["errorRecords"], 2);
    let tasks = home.tasks(&name);
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["taskProgress"]["documentsWritten"], 50);
    assert_eq!(tasks[0]["taskProgress"]["errorRecords"], 2);

    let errors = home.error_records(&name);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    let oversize = errors
        .iter()
        .find(|e| e["documentId"] == "40")
        .unwrap_or_else(|| panic!("no error record for document 40: {errors:#?}"));
    let message = oversize["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.contains("exceeds the SQS limit of 262144 bytes"),
        "{message}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e["rawRecord"] == "{\"id\":41,\"truncated"),
        "{errors:#?}"
    );

    let url = ds["resources"]["writeResource"]["name"]
        .as_str()
        .expect("queue name")
        .to_string();
    let url = emu
        .aws
        .sqs()
        .find_queue_url(&url)
        .await
        .expect("lookup")
        .expect("queue exists");
    let messages = receive_all(&emu.aws, &url).await;
    let ids = messages.iter().map(|m| {
        let doc: Value = serde_json::from_str(&m.body).expect("json");
        doc["id"].as_u64().expect("id")
    });
    assert_each_once(&counts(ids), (0..40).chain(42..52));
}

/// Streams, queues and tables that do not exist (read, or Customer write destinations) fail
/// `datasets create` with the field and the resource named; nothing is created.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn missing_aws_resources_are_clear_errors() {
    let Some(emu) = emulator().await else { return };
    let sfx = &emu.suffix;
    let queue = format!("q-exists-{sfx}");
    let url = emu.queue(&queue).await;
    emu.aws
        .sqs()
        .sender(&url, None)
        .send_batch(&[SqsOutgoingMessage {
            body: "{\"id\":1}".into(),
            ..Default::default()
        }])
        .await
        .expect("send");
    let sqs_read = json!({
        "connectorDestination": "SQS",
        "queueName": queue,
        "artifactImplementationLanguage": "Builtin",
    });
    let sqs_manifest = json!({"sqsReaderTaskStopCondition": "DrainQueues"});
    let home = emu.home();

    let missing_queue = format!("q-missing-{sfx}");
    let missing_stream = format!("s-missing-{sfx}");
    let missing_table = format!("t-missing-{sfx}");
    let cases = [
        (
            dataset(
                &format!("MissingQueue{sfx}"),
                json!({
                    "connectorDestination": "SQS",
                    "queueName": missing_queue,
                    "artifactImplementationLanguage": "Builtin",
                }),
                sqs_manifest.clone(),
                s3_out(),
                1,
            ),
            "readConnector.queueName",
            format!("SQS queue \"{missing_queue}\" does not exist in region us-east-1"),
        ),
        (
            dataset(
                &format!("MissingStream{sfx}"),
                json!({
                    "connectorDestination": "KINESIS",
                    "readerType": "KINESISSTREAMREADER",
                    "streamArn": format!("arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{missing_stream}"),
                    "resourceLocation": "Customer",
                    "artifactImplementationLanguage": "Builtin",
                }),
                json!({
                    "manifestType": "KinesisStreamReaderManifest",
                    "kinesisReaderTaskStopCondition": "StopWhenNoNewRecords",
                }),
                s3_out(),
                1,
            ),
            "readConnector.streamArn",
            format!("Kinesis stream \"{missing_stream}\" does not exist in region us-east-1"),
        ),
        (
            dataset(
                &format!("MissingTable{sfx}"),
                json!({
                    "connectorDestination": "DYNAMODB",
                    "tableName": missing_table,
                    "artifactImplementationLanguage": "Builtin",
                }),
                json!({"manifestType": "DynamoDBTableReaderManifest"}),
                s3_out(),
                1,
            ),
            "readConnector.tableName",
            format!("DynamoDB table \"{missing_table}\" does not exist in region us-east-1"),
        ),
        (
            dataset(
                &format!("MissingOutStream{sfx}"),
                sqs_read.clone(),
                sqs_manifest.clone(),
                json!({
                    "connectorDestination": "Kinesis",
                    "resourceLocation": "Customer",
                    "streamName": missing_stream,
                }),
                1,
            ),
            "writeConnector.streamName",
            format!("Kinesis stream \"{missing_stream}\" does not exist in region us-east-1"),
        ),
        (
            dataset(
                &format!("MissingOutQueue{sfx}"),
                sqs_read.clone(),
                sqs_manifest.clone(),
                json!({
                    "connectorDestination": "SQS",
                    "resourceLocation": "Customer",
                    "queueName": missing_queue,
                }),
                1,
            ),
            "writeConnector.queueName",
            format!("SQS queue \"{missing_queue}\" does not exist in region us-east-1"),
        ),
        (
            dataset(
                &format!("MissingOutTable{sfx}"),
                sqs_read.clone(),
                sqs_manifest.clone(),
                json!({
                    "connectorDestination": "DynamoDB",
                    "resourceLocation": "Customer",
                    "tableName": missing_table,
                }),
                1,
            ),
            "writeConnector.tableName",
            format!("DynamoDB table \"{missing_table}\" does not exist in region us-east-1"),
        ),
    ];
    for (cfg, field, message) in &cases {
        let run = home.create(cfg);
        assert_ne!(
            run.code, 0,
            "{}: create succeeded\n{}",
            cfg["datasetName"], run.stdout
        );
        assert!(
            run.stderr.contains(field) && run.stderr.contains(message.as_str()),
            "{}: expected {field}: …{message}…, got:\n{}",
            cfg["datasetName"],
            run.stderr
        );
    }

    // Nothing was created, and the existing queue was not read.
    let list = home.run(&["datasets", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert_eq!(list.json(), json!([]), "no dataset stored");
    assert!(
        !emu.aws.sqs().exists(&missing_queue).await.expect("lookup"),
        "the missing queue was not created"
    );
    assert!(
        !emu.aws
            .kinesis()
            .exists(&missing_stream)
            .await
            .expect("describe"),
        "the missing stream was not created"
    );
    assert!(
        !emu.aws
            .dynamodb()
            .exists(&missing_table)
            .await
            .expect("describe"),
        "the missing table was not created"
    );
    let counts = emu.aws.sqs().message_counts(&url).await.expect("counts");
    assert_eq!(counts.visible, 1, "{counts:?}");
}
