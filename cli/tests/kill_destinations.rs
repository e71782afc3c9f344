//! A SIGKILL during a run, for each kind of destination, then `letsdata run`: the README's
//! promise for destinations that cannot take documents back (streams, queues, tables, caches)
//! is at least once: every document is there, a repeat is the same document with the same id,
//! and every bad record is once in the errors. The kill is a failpoint: after a part's
//! documents were delivered and before the checkpoint recorded them, so the next attempt
//! delivers them again. And an SQS source: a message is deleted only once what it became is
//! durable, so a kill at any point loses none of them and the queue ends empty.

#![cfg(feature = "failpoints")]

mod common;

use common::emulator::{Emulator, emulator};
use common::services::{redis_url, suffix};
use common::{TestHome, config};
use letsdata_connectors::sqs::SqsOutgoingMessage;
use serde_json::{Value, json};
use std::collections::BTreeSet;

const LINES: u64 = 3000;
/// Fewer for SQS: the emulator's ReceiveMessage takes time in proportion to the queue's length
/// (about 2 s per call with 3000 messages).
const QUEUE_LINES: u64 = 300;
const ROLE: &str = "arn:aws:iam::123456789012:role/LetsDataAccess";
const ACCOUNT: &str = "123456789012";

/// `lines` input lines, every 97th not JSON: the text, the good ids, the bad lines.
fn input(lines: u64) -> (String, BTreeSet<u64>, Vec<String>) {
    common::mixed_input(0, lines, 60)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Creates the dataset with `failpoints` set, expects the process killed, then runs
/// `letsdata run` to the end; returns the dataset.
fn killed_then_resumed(home: &TestHome, cfg: &Value, failpoints: &str) -> Value {
    home.create_killed(cfg, failpoints);
    let run = home.run(&["run"]);
    let name = cfg["datasetName"].as_str().expect("name");
    assert_eq!(
        run.code,
        0,
        "letsdata run: {}\n{}",
        run.stderr,
        home.run(&["tasks", "list", "--datasetName", name]).stdout
    );
    let ds = home.view(name);
    assert_eq!(ds["datasetStatus"], "COMPLETED", "{ds}");
    ds
}

/// The id of a document as a destination gives it back (a number, or its text).
fn id_of(doc: &Value) -> u64 {
    match &doc["id"] {
        Value::Number(n) => n.as_u64().expect("id"),
        Value::String(s) => s.parse().expect("id"),
        other => panic!("a document without its id: {other} in {doc}"),
    }
}

/// Every document of the destination (`letsdata output read`): each good id at least once, a
/// repeat the same document; every bad line once in the errors (read by `lines`), and the
/// counters at least what is there.
fn at_least_once(
    home: &TestHome,
    ds: &Value,
    good: &BTreeSet<u64>,
    bad: &[String],
    errors: Vec<String>,
) {
    let name = ds["datasetName"].as_str().expect("name");
    let read = home.run(&[
        "output",
        "read",
        "--datasetName",
        name,
        "--limit",
        "1000000",
    ]);
    assert_eq!(read.code, 0, "output read: {}", read.stderr);
    let mut seen = std::collections::BTreeMap::<u64, Value>::new();
    for line in read.stdout.lines() {
        let doc: Value = serde_json::from_str(line).expect("a document");
        let id = id_of(&doc);
        if let Some(first) = seen.insert(id, doc.clone()) {
            assert_eq!(first, doc, "a repeat of document {id} differs");
        }
    }
    let ids: BTreeSet<u64> = seen.keys().copied().collect();
    let lost: Vec<_> = good.difference(&ids).take(10).collect();
    assert!(lost.is_empty(), "{name}: documents lost, e.g. {lost:?}");
    assert_eq!(&ids, good, "{name}: documents that were never input");
    let mut raw = common::raw_records(&errors);
    raw.sort();
    let mut expected = bad.to_vec();
    expected.sort();
    assert_eq!(raw, expected, "{name}: every bad record once in the errors");
    let p = &ds["datasetProgress"];
    assert_eq!(p["errorRecords"].as_u64(), Some(bad.len() as u64), "{p}");
    assert!(
        p["documentsWritten"].as_u64() >= Some(good.len() as u64),
        "{p}"
    );
}

/// The failpoints of a kill after the second part's documents were delivered, before the
/// checkpoint recorded them.
const KILL_DELIVERED: &str = "part-committed=1*off->return(kill)";

/// A dataset reading the input file from `bucket`, one task, small parts.
fn file_config(name: &str, bucket: &str, write: Value) -> Value {
    let mut cfg = config(
        name,
        bucket,
        json!({"builtinParser": "jsonl", "documentIdField": "id"}),
        &["a.jsonl"],
    );
    cfg["writeConnector"] = write;
    // One task: moto's Kinesis PutRecords is not safe for concurrent writers.
    cfg["computeEngine"]["concurrency"] = json!(1);
    cfg
}

/// On the emulator: the input in a bucket of its own, a home with parts of `part_size` bytes.
fn aws_home(
    emu: &Emulator,
    rt: &tokio::runtime::Runtime,
    text: &str,
    part_size: u64,
) -> (TestHome, String) {
    let bucket = format!("kill-in-{}", emu.suffix);
    rt.block_on(async {
        emu.s3.create_bucket(&bucket).await.expect("bucket");
        emu.s3
            .bucket(&bucket)
            .expect("bucket")
            .put("a.jsonl", bytes::Bytes::from(text.to_string()))
            .await
            .expect("put");
    });
    let mut home = emu.home();
    home.env("LETSDATA_PART_SIZE_BYTES", &part_size.to_string());
    (home, bucket)
}

fn aws_config(name: &str, bucket: &str, write: Value) -> Value {
    let mut cfg = file_config(name, bucket, write);
    cfg["accessGrantRoleArn"] = json!(ROLE);
    cfg["customerAccountForAccess"] = json!(ACCOUNT);
    cfg
}

/// A killed run of `lines` input lines into a LetsData destination on the emulator, then
/// `letsdata run`.
fn killed_into(write: Value, kind: &str, lines: u64) {
    let rt = rt();
    let Some(emu) = rt.block_on(emulator()) else {
        return;
    };
    let (text, good, bad) = input(lines);
    // Several parts (a few thousand bytes each), so the second part's commit is mid-run.
    let (home, bucket) = aws_home(&emu, &rt, &text, lines * 90 / 6);
    let cfg = aws_config(&format!("KilledInto{kind}{}", emu.suffix), &bucket, write);
    let ds = killed_then_resumed(&home, &cfg, KILL_DELIVERED);
    let errors = rt.block_on(emu.s3_lines(ds["resources"]["errorBucket"].as_str().expect("b"), ""));
    at_least_once(&home, &ds, &good, &bad, errors);
}

#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
fn a_kill_while_writing_s3_parts_on_s3_loses_and_repeats_nothing() {
    let rt = rt();
    let Some(emu) = rt.block_on(emulator()) else {
        return;
    };
    let (text, good, bad) = input(LINES);
    let (home, bucket) = aws_home(&emu, &rt, &text, 40_000);
    let cfg = aws_config(
        &format!("KilledIntoS3{}", emu.suffix),
        &bucket,
        json!({"connectorDestination": "S3", "resourceLocation": "LetsData"}),
    );
    let ds = killed_then_resumed(&home, &cfg, KILL_DELIVERED);
    let docs = rt.block_on(emu.s3_lines(ds["resources"]["writeBucket"].as_str().expect("b"), ""));
    let errors = rt.block_on(emu.s3_lines(ds["resources"]["errorBucket"].as_str().expect("b"), ""));
    // Part objects are exactly once.
    let ids: Vec<u64> = docs
        .iter()
        .map(|l| id_of(&serde_json::from_str(l).expect("document")))
        .collect();
    assert_eq!(ids.len(), good.len(), "documents written twice or lost");
    assert_eq!(ids.into_iter().collect::<BTreeSet<_>>(), good);
    at_least_once(&home, &ds, &good, &bad, errors);
}

#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
fn a_kill_while_writing_a_kinesis_stream_loses_nothing() {
    killed_into(
        json!({"connectorDestination": "Kinesis", "resourceLocation": "LetsData"}),
        "Kinesis",
        LINES,
    );
}

#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
fn a_kill_while_writing_an_sqs_queue_loses_nothing() {
    killed_into(
        json!({"connectorDestination": "SQS", "resourceLocation": "LetsData"}),
        "Sqs",
        QUEUE_LINES,
    );
}

#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
fn a_kill_while_writing_a_dynamodb_table_loses_nothing() {
    killed_into(
        json!({"connectorDestination": "DynamoDB", "resourceLocation": "LetsData"}),
        "Ddb",
        LINES,
    );
}

#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
fn a_kill_while_writing_redis_loses_nothing() {
    let mut home = TestHome::new();
    home.env("LETSDATA_PART_SIZE_BYTES", "40000");
    let (text, good, bad) = input(LINES);
    home.put("kill-in", "a.jsonl", text.as_bytes());
    let cfg = file_config(
        "KilledIntoRedis",
        "kill-in",
        json!({"connectorDestination": "Redis", "resourceLocation": "Customer",
            "redisUrl": redis_url(), "keyPrefix": format!("killed-{}:", suffix())}),
    );
    let ds = killed_then_resumed(&home, &cfg, KILL_DELIVERED);
    let errors = home.lines(ds["resources"]["errorBucket"].as_str().expect("b"), "");
    at_least_once(&home, &ds, &good, &bad, errors);
}

/// An SQS source into S3 parts, killed at each point between handling messages and deleting
/// them: after the output is staged but not recorded (a delete before that would lose the
/// messages), and after the commit but before the delete (they are read again). Received
/// messages stay invisible for 10 s here (`sqs-visibility-seconds`), so the next run gets a
/// killed reader's messages back quickly; a drained queue waits for them.
#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
fn an_sqs_message_is_deleted_only_once_its_output_is_durable() {
    let rt = rt();
    let Some(emu) = rt.block_on(emulator()) else {
        return;
    };
    let (text, good, bad) = input(QUEUE_LINES);
    for point in ["part-committed", "sqs-before-delete"] {
        let queue = format!("kill-q-{}", suffix());
        let url = rt.block_on(emu.queue(&queue));
        let messages: Vec<SqsOutgoingMessage> = text
            .lines()
            .map(|l| SqsOutgoingMessage {
                body: l.to_string(),
                ..Default::default()
            })
            .collect();
        let sent = rt
            .block_on(emu.aws.sqs().sender(&url, None).send_batch(&messages))
            .expect("send");
        assert_eq!(sent.succeeded, messages.len());
        let mut home = emu.home();
        home.env("LETSDATA_PART_SIZE_BYTES", "4000");
        let mut cfg = aws_config(
            &format!("KilledSqs{}", suffix()),
            "unused",
            json!({"connectorDestination": "S3", "resourceLocation": "LetsData"}),
        );
        cfg["readConnector"] = json!({"connectorDestination": "SQS", "queueName": queue,
            "artifactImplementationLanguage": "Builtin", "documentIdField": "id"});
        cfg["manifestFile"] = json!({"sqsReaderTaskStopCondition": "DrainQueues",
            "sqsReaderTaskStopAfterConsecutiveEmptyReceives": 2});
        home.env("LETSDATA_FAILPOINTS", "sqs-visibility-seconds=return(10)");
        let ds = killed_then_resumed(
            &home,
            &cfg,
            &format!("sqs-visibility-seconds=return(10);{point}=1*off->return(kill)"),
        );
        let docs =
            rt.block_on(emu.s3_lines(ds["resources"]["writeBucket"].as_str().expect("b"), ""));
        let errors =
            rt.block_on(emu.s3_lines(ds["resources"]["errorBucket"].as_str().expect("b"), ""));
        let ids: BTreeSet<u64> = docs
            .iter()
            .map(|l| id_of(&serde_json::from_str(l).expect("document")))
            .collect();
        let lost: Vec<_> = good.difference(&ids).take(10).collect();
        assert!(lost.is_empty(), "{point}: messages lost, e.g. {lost:?}");
        let raw: BTreeSet<String> = common::raw_records(&errors).into_iter().collect();
        assert_eq!(
            raw,
            bad.iter().cloned().collect::<BTreeSet<_>>(),
            "{point}: every bad message in the errors"
        );
        let counts = rt
            .block_on(emu.aws.sqs().message_counts(&url))
            .expect("counts");
        assert_eq!(
            counts.total(),
            0,
            "{point}: the queue is drained: {counts:?}"
        );
    }
}

/// A part over 8 MiB is a multipart upload of several chunks: killed once its first chunk
/// was uploaded (a failpoint), the upload is left incomplete; `letsdata run` writes the part
/// again, aborts the dead attempt's upload, and every document is in the output once.
#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
fn an_s3_part_over_8_mib_killed_mid_upload_is_written_once() {
    const BIG: u64 = 200_000;
    let rt = rt();
    let Some(emu) = rt.block_on(emulator()) else {
        return;
    };
    let mut text = String::new();
    for id in 0..BIG {
        text.push_str(&format!("{{\"id\":{id},\"payload\":\"{id:0>80}\"}}\n"));
    }
    let (home, bucket) = aws_home(&emu, &rt, &text, 64_000_000);
    let cfg = aws_config(
        &format!("BigPart{}", emu.suffix),
        &bucket,
        json!({"connectorDestination": "S3", "resourceLocation": "LetsData"}),
    );
    let ds = killed_then_resumed(&home, &cfg, "s3-chunk-uploaded=return(kill)");
    let out = ds["resources"]["writeBucket"].as_str().expect("b");
    let (objects, docs, uploads) = rt.block_on(async {
        let b = emu.s3.bucket(out).expect("bucket");
        (
            b.list("").await.expect("list"),
            emu.s3_lines(out, "").await,
            b.incomplete_uploads("").await.expect("uploads"),
        )
    });
    assert!(
        objects.iter().any(|o| o.size > 8 << 20),
        "a part over 8 MiB: {objects:?}"
    );
    let ids: Vec<u64> = docs
        .iter()
        .map(|l| id_of(&serde_json::from_str(l).expect("document")))
        .collect();
    assert_eq!(ids.len() as u64, BIG, "documents written twice or lost");
    assert_eq!(
        ids.into_iter().collect::<BTreeSet<_>>(),
        (0..BIG).collect::<BTreeSet<_>>()
    );
    assert_eq!(
        uploads,
        Vec::<String>::new(),
        "the dead attempt's upload was aborted"
    );
}
