//! Python and JavaScript handlers for the stream, queue and table readers, end to end through
//! the CLI against the AWS emulator (moto_server, started by scripts/test.sh): the counterpart
//! of wasm_readers.rs. An "echo" handler project in each language (below) implements
//! `QueueMessageReader.parseMessage`, `KinesisRecordReader.parseMessage`,
//! `DynamoDBStreamsRecordReader.parseRecord` and `DynamoDBTableItemReader.parseDynamoDBItem`:
//! each record comes back as a document holding the request's interface, function,
//! letsdataAuth and `data` (so the tests check exactly what each interface is sent), a record
//! marked bad as an error document, and (Python) a queue message `raise` raises.

mod common;

use bytes::Bytes;
use common::emulator::{Emulator, emulator};
use common::{TestHome, pack, project};
use letsdata_connectors::kinesis::KinesisPutRecord;
use letsdata_connectors::sqs::SqsOutgoingMessage;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

/// The Python echo reader (`letsdata_lambda_function.lambda_handler`).
const PYTHON_ECHO: &str = r#"
# An echo reader for letsdata's tests: each record comes back as a document holding the
# request's interface, function, letsdataAuth and data; a record marked bad comes back as an
# error document; a queue message "raise" raises (answered as LetsData's EXCEPTION reply).
import traceback

HEADERS = {"Content-Type": "application/json"}


def document(event, context, document_id, partition_key=None):
    return {
        "nextRecordType": None,
        "status": "SUCCESS",
        "document": {
            "documentType": "Document",
            "documentId": document_id,
            "recordType": event["interface"],
            "partitionKey": partition_key,
            "documentMetadata": None,
            "documentKeyValuesMap": {
                "language": "Python",
                "interface": event["interface"],
                "function": event["function"],
                "requestId": event["requestId"],
                "letsdataAuth": event["letsdataAuth"],
                "functionName": context.function_name,
                "remainingMillis": context.get_remaining_time_in_millis(),
                "data": event["data"],
            },
        },
    }


def error_document(event, document_id):
    where = {event["interface"]: document_id}
    return {
        "nextRecordType": None,
        "status": "ERROR",
        "document": {
            "documentType": "ErrorDoc",
            "documentId": document_id,
            "recordType": event["interface"],
            "partitionKey": None,
            "documentMetadata": None,
            "errorStartoffsetMap": where,
            "errorEndoffsetMap": where,
            "errorMessage": "%s.%s: the record is bad" % (event["interface"], event["function"]),
        },
    }


def parse_queue_message(event, context):
    d = event["data"]
    if d["messageBody"] == "raise":
        raise ValueError("the message body asks the reader to raise")
    if d["messageBody"] == "bad":
        return error_document(event, d["messageId"])
    return document(event, context, d["messageId"])


def parse_kinesis_record(event, context):
    d = event["data"]
    if d["data"] == "bad":
        return error_document(event, d["sequenceNumber"])
    return document(event, context, d["sequenceNumber"], d["partitionKey"])


def parse_stream_record(event, context):
    d = event["data"]
    if d["data"]["keys"].get("id") == "bad":
        return error_document(event, d["sequenceNumber"])
    return document(event, context, d["sequenceNumber"])


def parse_table_item(event, context):
    key = event["data"]["data"]["keys"].get("id")
    if key == "bad":
        return error_document(event, key)
    return document(event, context, key)


READERS = {
    ("QueueMessageReader", "parseMessage"): parse_queue_message,
    ("KinesisRecordReader", "parseMessage"): parse_kinesis_record,
    ("DynamoDBStreamsRecordReader", "parseRecord"): parse_stream_record,
    ("DynamoDBTableItemReader", "parseDynamoDBItem"): parse_table_item,
}


def lambda_handler(event, context):
    try:
        reader = READERS.get((event["interface"], event["function"]))
        if reader is None:
            raise NotImplementedError("no %s.%s here" % (event["interface"], event["function"]))
        result = reader(event, context)
        return {"StatusCode": 200, "headers": HEADERS,
                "body": {"statusCode": "SUCCESS", "data": result}}
    except Exception as e:
        return {"StatusCode": 500, "headers": HEADERS,
                "body": {"statusCode": "EXCEPTION", "errorMessage": str(e),
                         "exception": {"errorMessage": str(e),
                                       "errorType": type(e).__name__,
                                       "stackTrace": traceback.format_exc()}}}
"#;

/// The JavaScript echo reader (`index.handler`, an ES module).
const JAVASCRIPT_ECHO: &str = r#"
// An echo reader for letsdata's tests: each record comes back as a document holding the
// request's interface, function, letsdataAuth and data; a record marked bad comes back as an
// error document.
const HEADERS = { "Content-Type": "application/json" };

function document(event, context, documentId, partitionKey = null) {
  return {
    nextRecordType: null,
    status: "SUCCESS",
    document: {
      documentType: "Document",
      documentId,
      recordType: event.interface,
      partitionKey,
      documentMetadata: null,
      documentKeyValuesMap: {
        language: "Javascript",
        interface: event.interface,
        function: event.function,
        requestId: event.requestId,
        letsdataAuth: event.letsdataAuth,
        functionName: context.functionName,
        remainingMillis: context.getRemainingTimeInMillis(),
        data: event.data,
      },
    },
  };
}

function errorDocument(event, documentId) {
  const where = { [event.interface]: documentId };
  return {
    nextRecordType: null,
    status: "ERROR",
    document: {
      documentType: "ErrorDoc",
      documentId,
      recordType: event.interface,
      partitionKey: null,
      documentMetadata: null,
      errorStartoffsetMap: where,
      errorEndoffsetMap: where,
      errorMessage: `${event.interface}.${event.function}: the record is bad`,
    },
  };
}

const readers = {
  "QueueMessageReader.parseMessage": (event, context) => {
    const d = event.data;
    if (d.messageBody === "bad") return errorDocument(event, d.messageId);
    return document(event, context, d.messageId);
  },
  "KinesisRecordReader.parseMessage": (event, context) => {
    const d = event.data;
    if (d.data === "bad") return errorDocument(event, d.sequenceNumber);
    return document(event, context, d.sequenceNumber, d.partitionKey);
  },
  "DynamoDBStreamsRecordReader.parseRecord": (event, context) => {
    const d = event.data;
    if (d.data.keys.id === "bad") return errorDocument(event, d.sequenceNumber);
    return document(event, context, d.sequenceNumber);
  },
  "DynamoDBTableItemReader.parseDynamoDBItem": (event, context) => {
    const key = event.data.data.keys.id;
    if (key === "bad") return errorDocument(event, key);
    return document(event, context, key);
  },
};

export const handler = async (event, context) => {
  try {
    const reader = readers[`${event.interface}.${event.function}`];
    if (reader === undefined) throw new Error(`no ${event.interface}.${event.function} here`);
    return { StatusCode: 200, headers: HEADERS,
      body: { statusCode: "SUCCESS", data: reader(event, context) } };
  } catch (err) {
    return { StatusCode: 500, headers: HEADERS,
      body: { statusCode: "EXCEPTION", errorMessage: err.message,
        exception: { errorMessage: err.message, errorType: err.name, stackTrace: String(err.stack) } } };
  }
};
"#;

const PACKAGE_JSON: &str =
    r#"{"name": "echo-readers", "version": "1.0.0", "type": "module", "main": "index.js"}"#;

/// The two echo projects in the emulator's code bucket.
struct Links {
    python: String,
    javascript: String,
}

impl Links {
    /// The link of `language`'s project.
    fn of(&self, language: &str) -> &str {
        match language {
            "Python" => &self.python,
            "Javascript" => &self.javascript,
            other => panic!("no {other} project"),
        }
    }
}

/// Packs and uploads the echo projects (the Python one as a .zip, the JavaScript one as a
/// .tar.gz); returns their links.
async fn upload_projects(em: &Emulator) -> Links {
    let bucket = format!("code-{}", em.suffix);
    em.s3.create_bucket(&bucket).await.expect("code bucket");
    let (python, javascript) = tokio::task::spawn_blocking(|| {
        (
            project(&[("letsdata_lambda_function.py", PYTHON_ECHO)], "zip"),
            project(
                &[
                    ("index.js", JAVASCRIPT_ECHO),
                    ("package.json", PACKAGE_JSON),
                ],
                "gztar",
            ),
        )
    })
    .await
    .expect("join");
    let b = em.s3.bucket(&bucket).expect("bucket");
    b.put("echo-python.zip", Bytes::from(python))
        .await
        .expect("put the Python project");
    b.put("echo-javascript.tar.gz", Bytes::from(javascript))
        .await
        .expect("put the JavaScript project");
    Links {
        python: format!("s3://{bucket}/echo-python.zip"),
        javascript: format!("s3://{bucket}/echo-javascript.tar.gz"),
    }
}

/// A dataset run to its end: the dataset, its documents, error records and tasks.
struct Finished {
    name: String,
    ds: Value,
    docs: Vec<Value>,
    errors: Vec<Value>,
    tasks: Vec<Value>,
}

/// `datasets create` of `cfg`, which must exit with `code`; then what it wrote.
fn finish(home: &TestHome, cfg: &Value, code: i32) -> Finished {
    let r = home.create(cfg);
    assert_eq!(
        r.code, code,
        "datasets create exited {}:\n{}\n{}",
        r.code, r.stdout, r.stderr
    );
    let name = cfg["datasetName"].as_str().expect("name").to_string();
    let docs = home.output_read(&name, 100_000);
    Finished {
        ds: home.view(&name),
        docs,
        errors: home.error_records(&name),
        tasks: home.tasks(&name),
        name,
    }
}

/// Runs `datasets create` (which must succeed) and returns what the dataset wrote.
async fn run(home: TestHome, cfg: Value) -> (TestHome, Finished) {
    tokio::task::spawn_blocking(move || {
        let f = finish(&home, &cfg, 0);
        (home, f)
    })
    .await
    .expect("join")
}

/// The keys of a JSON object.
fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
    names.iter().copied().collect()
}

/// Now, in epoch milliseconds.
fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64
}

/// Checks what an echoed document holds besides the request's `data`, which it returns
/// (its keys checked to be exactly `data_keys`): the handler of `language` answered
/// `interface.function` of this dataset, with a request id of one of its tasks.
fn echoed<'a>(
    doc: &'a Value,
    f: &Finished,
    language: &str,
    interface: &str,
    function: &str,
    data_keys: &[&str],
) -> &'a Value {
    let mut written = set(&[
        "language",
        "interface",
        "function",
        "requestId",
        "letsdataAuth",
        "functionName",
        "remainingMillis",
        "data",
        "documentId",
        "recordType",
    ]);
    // Only the Kinesis reader sets the document's partition key (the others' are null).
    if interface == "KinesisRecordReader" {
        written.insert("partitionKey");
    }
    assert_eq!(keys(doc), written, "{doc}");
    assert_eq!(doc["language"], language, "{doc}");
    assert_eq!(doc["interface"], interface, "{doc}");
    assert_eq!(doc["function"], function, "{doc}");
    assert_eq!(doc["recordType"], interface, "{doc}");
    let auth = &doc["letsdataAuth"];
    assert_eq!(
        keys(auth),
        set(&["tenantId", "userId", "datasetName", "datasetId"]),
        "{doc}"
    );
    assert_eq!(auth["datasetName"], f.name.as_str(), "{doc}");
    assert_eq!(auth["datasetId"], f.ds["datasetId"], "{doc}");
    assert_eq!(
        doc["functionName"],
        format!("letsdata-{}", f.name).as_str(),
        "{doc}"
    );
    assert!(
        doc["remainingMillis"].as_i64().is_some_and(|m| m > 0),
        "{doc}"
    );
    // `<taskId>-<n>`.
    let request = doc["requestId"].as_str().expect("requestId");
    let (task, n) = request.rsplit_once('-').expect("<taskId>-<n>");
    assert!(
        f.tasks.iter().any(|t| t["taskId"] == task),
        "request {request} is not of a task of the dataset"
    );
    assert!(n.parse::<u64>().is_ok_and(|n| n > 0), "{request}");
    let data = &doc["data"];
    assert_eq!(keys(data), set(data_keys), "{interface} data: {doc}");
    data
}

/// The one error record, with its message and raw record.
fn one_error(f: &Finished, message: &str) -> Value {
    assert_eq!(f.errors.len(), 1, "{:#?}", f.errors);
    assert_eq!(f.ds["datasetProgress"]["errorRecords"], 1, "{}", f.ds);
    let e = &f.errors[0];
    assert_eq!(e["errorMessage"], message, "{e}");
    e["rawRecord"].clone()
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn queue_message_reader_in_javascript_reads_sqs() {
    let Some(em) = emulator().await else { return };
    let links = upload_projects(&em).await;
    let sqs = em.aws.sqs();
    let queue = format!("in-{}", em.suffix);
    let url = em.queue(&queue).await;
    // Each message has an attribute `origin` = `doc-<i>`.
    let messages: Vec<SqsOutgoingMessage> = (0..40)
        .map(|i| SqsOutgoingMessage {
            body: if i == 7 {
                "bad".into()
            } else {
                format!("hello {i}")
            },
            document_id: Some(format!("doc-{i}")),
            ..Default::default()
        })
        .collect();
    em.send(&url, Some("origin"), &messages).await;
    let mut cfg = em.code_dataset(
        "JsSqs",
        json!({"connectorDestination": "SQS", "queueName": queue}),
        "Javascript",
        links.of("Javascript"),
        json!({"sqsReaderTaskStopAfterConsecutiveEmptyReceives": 2}),
    );
    // One reader: the emulator's ReceiveMessage can hand a message to two concurrent readers,
    // which SQS allows (at-least-once) but would make the exact counts below vary.
    cfg["computeEngine"]["concurrency"] = json!(1);
    let (_home, f) = run(em.code_home(), cfg).await;
    assert_eq!(f.ds["datasetStatus"], "COMPLETED", "{}", f.ds);
    assert_eq!(f.ds["datasetProgress"]["documentsWritten"], 39, "{}", f.ds);
    let mut bodies = Vec::new();
    for d in &f.docs {
        let data = echoed(
            d,
            &f,
            "Javascript",
            "QueueMessageReader",
            "parseMessage",
            &["messageId", "messageAttributes", "messageBody"],
        );
        let body = data["messageBody"].as_str().expect("body");
        let i: u32 = body
            .strip_prefix("hello ")
            .and_then(|i| i.parse().ok())
            .unwrap_or_else(|| panic!("{d}"));
        assert_eq!(
            data["messageAttributes"],
            json!({"origin": format!("doc-{i}")}),
            "{d}"
        );
        let id = data["messageId"].as_str().expect("messageId");
        assert!(!id.is_empty(), "{d}");
        assert_eq!(d["documentId"], id, "the document id is the message id");
        bodies.push(body.to_string());
    }
    bodies.sort();
    let mut expected: Vec<String> = (0..40)
        .filter(|i| *i != 7)
        .map(|i| format!("hello {i}"))
        .collect();
    expected.sort();
    assert_eq!(bodies, expected);
    // The handler's error document is an error record of the bad message.
    let raw = one_error(&f, "QueueMessageReader.parseMessage: the record is bad");
    assert_eq!(raw, "bad");
    // Drained: every message was deleted after its output was durable.
    let counts = sqs.message_counts(&url).await.expect("counts");
    assert_eq!(counts.total(), 0, "{counts:?}");
}

#[tokio::test]
async fn the_javascript_example_reads_its_orders_from_sqs() {
    let Some(em) = emulator().await else { return };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/javascript-order-reader");
    let mut cfg: Value =
        serde_json::from_slice(&std::fs::read(dir.join("dataset.json")).expect("dataset.json"))
            .expect("JSON");
    // The example's names, made this run's own.
    let bucket = format!("example-code-{}", em.suffix);
    let queue = format!("letsdata-example-orders-{}", em.suffix);
    em.s3.create_bucket(&bucket).await.expect("code bucket");
    let project_dir = dir.join("project");
    let packed = tokio::task::spawn_blocking(move || pack(&project_dir, "gztar"))
        .await
        .expect("join");
    em.s3
        .bucket(&bucket)
        .expect("bucket")
        .put("javascript-order-reader.tgz", Bytes::from(packed))
        .await
        .expect("put the project");
    let read = &mut cfg["readConnector"];
    read["artifactFileS3Link"] = json!(format!("s3://{bucket}/javascript-order-reader.tgz"));
    read["queueName"] = json!(queue);
    cfg["datasetName"] = json!(format!("JavascriptOrders{}", em.suffix));

    // The example's messages, each with its `channel` attribute.
    let sqs = em.aws.sqs();
    let url = em.queue(&queue).await;
    let text = std::fs::read_to_string(dir.join("input/messages.jsonl")).expect("messages");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("message line"))
        .collect();
    let messages: Vec<SqsOutgoingMessage> = lines
        .iter()
        .map(|m| SqsOutgoingMessage {
            body: m["body"].as_str().expect("body").to_string(),
            document_id: Some(m["attributes"]["channel"].as_str().expect("channel").into()),
            ..Default::default()
        })
        .collect();
    em.send(&url, Some("channel"), &messages).await;
    // What the reader makes of each message.
    let (mut orders, mut bad, mut tests) = (BTreeSet::new(), 0, 0);
    for m in &lines {
        match serde_json::from_str::<Value>(m["body"].as_str().expect("body")) {
            Ok(o) if o["items"].as_array().is_some_and(|i| i.is_empty()) => bad += 1,
            Ok(o) if o["test"] == true => tests += 1,
            Ok(o) => {
                orders.insert(o["orderId"].as_str().expect("orderId").to_string());
            }
            Err(_) => bad += 1,
        }
    }
    assert!(bad > 0 && tests > 0 && !orders.is_empty());

    let (home, f) = run(em.code_home(), cfg).await;
    assert_eq!(f.ds["datasetStatus"], "COMPLETED", "{}", f.ds);
    let p = &f.ds["datasetProgress"];
    assert_eq!(p["documentsWritten"], orders.len(), "{}", f.ds);
    assert_eq!(p["errorRecords"], bad, "{}", f.ds);
    assert_eq!(p["skipRecords"], tests, "{}", f.ds);
    let written: BTreeSet<String> = f
        .docs
        .iter()
        .map(|d| d["documentId"].as_str().expect("documentId").to_string())
        .collect();
    assert_eq!(written, orders);
    // o-1002: 9.50 + 19.99 from the mobile app, for customer c-2.
    let o = f
        .docs
        .iter()
        .find(|d| d["documentId"] == "o-1002")
        .expect("o-1002");
    assert_eq!(
        (
            &o["total"],
            &o["itemCount"],
            &o["channel"],
            &o["partitionKey"],
            &o["recordType"]
        ),
        (
            &json!(29.49),
            &json!(2),
            &json!("mobile"),
            &json!("c-2"),
            &json!("Order")
        ),
        "{o}"
    );
    let reasons: Vec<&str> = f
        .errors
        .iter()
        .map(|e| e["errorMessage"].as_str().unwrap_or_default())
        .collect();
    assert!(
        reasons
            .iter()
            .filter(|r| r.contains("the message is not JSON"))
            .count()
            == 2
            && reasons
                .iter()
                .any(|r| r.contains("order o-1031: items is missing or empty")),
        "{reasons:?}"
    );
    let counts = sqs.message_counts(&url).await.expect("counts");
    assert_eq!(counts.total(), 0, "{counts:?}");
    // What the handler printed (console.log for each error) is the task's log.
    let task = f.tasks[0]["taskId"].as_str().expect("task id").to_string();
    let logs = home.run(&["logs", "view", "--datasetName", &f.name, "--taskId", &task]);
    assert_eq!(
        logs.stdout.matches(": the message is not JSON").count(),
        2,
        "{}",
        logs.stdout
    );
}

/// A queue of ten messages, the fifth of which makes the Python reader raise.
async fn raising_queue(em: &Emulator, tag: &str) -> (String, String) {
    let queue = format!("in-{tag}-{}", em.suffix);
    let url = em.queue(&queue).await;
    let messages: Vec<SqsOutgoingMessage> = (0..10)
        .map(|i| SqsOutgoingMessage {
            body: if i == 4 {
                "raise".into()
            } else {
                format!("hello {i}")
            },
            ..Default::default()
        })
        .collect();
    em.send(&url, None, &messages).await;
    (queue, url)
}

/// LetsData's reader error policy for a Python queue reader that raises on one message: by
/// default (`WriteErrorAndContinue`) the message is an error record holding the exception and
/// is deleted; with `onRecordErrorDeleteMessage: false` it stays in the queue; with
/// `onRecordError: FailTask` the task ends ERRORED with the exception.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn a_raising_python_queue_reader_follows_the_reader_error_policy() {
    let Some(em) = emulator().await else { return };
    let links = upload_projects(&em).await;
    let sqs = em.aws.sqs();
    let python = links.of("Python").to_string();
    let config = |name: &str, queue: &str, policy: Value| {
        let mut read = json!({"connectorDestination": "SQS", "queueName": queue});
        for (k, v) in policy.as_object().expect("policy") {
            read[k] = v.clone();
        }
        let mut cfg = em.code_dataset(
            name,
            read,
            "Python",
            &python,
            json!({"sqsReaderTaskStopAfterConsecutiveEmptyReceives": 2}),
        );
        cfg["computeEngine"]["concurrency"] = json!(1);
        cfg
    };
    let exception = "QueueMessageReader.parseMessage raised ValueError: the message body asks the reader to raise";
    let bodies = |f: &Finished| {
        let mut b: Vec<String> = f
            .docs
            .iter()
            .map(|d| {
                echoed(
                    d,
                    f,
                    "Python",
                    "QueueMessageReader",
                    "parseMessage",
                    &["messageId", "messageAttributes", "messageBody"],
                )["messageBody"]
                    .as_str()
                    .expect("body")
                    .to_string()
            })
            .collect();
        b.sort();
        b
    };
    let mut expected: Vec<String> = (0..10)
        .filter(|i| *i != 4)
        .map(|i| format!("hello {i}"))
        .collect();
    expected.sort();

    // The default: an error record with the exception, the message deleted, the task goes on.
    let (queue, url) = raising_queue(&em, "default").await;
    let cfg = config("PySqsRaise", &queue, json!({}));
    let home = em.code_home();
    let f = tokio::task::spawn_blocking(move || finish(&home, &cfg, 0))
        .await
        .expect("join");
    assert_eq!(f.ds["datasetStatus"], "COMPLETED", "{:#}", f.ds);
    assert_eq!(bodies(&f), expected);
    assert_eq!(f.errors.len(), 1, "{:#?}", f.errors);
    let message = f.errors[0]["errorMessage"].as_str().expect("message");
    assert!(message.contains(exception), "{message}");
    assert!(
        message.contains("Traceback (most recent call last)")
            && message.contains("in parse_queue_message"),
        "the stack trace: {message}"
    );
    assert_eq!(f.errors[0]["rawRecord"], "raise");
    let counts = sqs.message_counts(&url).await.expect("counts");
    assert_eq!(counts.total(), 0, "{counts:?}");

    // The failed message left in the queue.
    let (queue, url) = raising_queue(&em, "keep").await;
    let cfg = config(
        "PySqsKeep",
        &queue,
        json!({"onRecordError": "WriteErrorAndContinue", "onRecordErrorDeleteMessage": false}),
    );
    let home = em.code_home();
    let f = tokio::task::spawn_blocking(move || finish(&home, &cfg, 0))
        .await
        .expect("join");
    assert_eq!(f.ds["datasetStatus"], "COMPLETED", "{:#}", f.ds);
    assert_eq!(bodies(&f), expected);
    assert_eq!(f.errors.len(), 1, "{:#?}", f.errors);
    let counts = sqs.message_counts(&url).await.expect("counts");
    assert_eq!(counts.total(), 1, "the failed message stays: {counts:?}");

    // FailTask: the task ends ERRORED with the exception; what came before is written.
    let (queue, url) = raising_queue(&em, "fail").await;
    let cfg = config("PySqsFail", &queue, json!({"onRecordError": "FailTask"}));
    let home = em.code_home();
    let f = tokio::task::spawn_blocking(move || finish(&home, &cfg, 3))
        .await
        .expect("join");
    assert_eq!(f.tasks.len(), 1, "{:#?}", f.tasks);
    let task = &f.tasks[0];
    assert_eq!(task["taskStatus"], "ERRORED", "{task:#}");
    let e = task["lastError"].as_str().expect("lastError");
    assert!(e.contains(exception), "{e}");
    assert!(f.errors.is_empty(), "{:#?}", f.errors);
    assert!(f.docs.len() < 10, "{:#?}", f.docs);
    assert!(bodies(&f).iter().all(|b| b.starts_with("hello ")));
    let counts = sqs.message_counts(&url).await.expect("counts");
    assert!(counts.total() >= 1, "the raising message was deleted");
    assert!(
        f.docs.len() as u64 + counts.total() >= 10,
        "a message is neither written nor queued: {} written, {counts:?}",
        f.docs.len()
    );
}

/// A JavaScript Kinesis reader's dataset killed (SIGKILL) after parts were published, then
/// `letsdata run`: every record exactly once in the S3 output. The handler's process dies with
/// the worker; the next attempt starts a new one and resumes each shard at its checkpoint.
#[cfg(feature = "failpoints")]
#[tokio::test(flavor = "multi_thread")]
async fn a_javascript_kinesis_readers_dataset_killed_mid_run_resumes_with_every_record_once() {
    const N: usize = 3000;
    let Some(em) = emulator().await else { return };
    let links = upload_projects(&em).await;
    let arn = em.stream(&format!("kill-{}", em.suffix), 2).await;
    let writer = em.aws.kinesis().writer(&arn);
    // One PutRecords at a time: the emulator loses records of concurrent calls.
    for start in (0..N).step_by(300) {
        let chunk: Vec<KinesisPutRecord> = (start..start + 300)
            .map(|i| KinesisPutRecord {
                partition_key: format!("k{}", i % 97),
                data: Bytes::from(format!("record {i:05}")),
            })
            .collect();
        let report = writer.put_records(&chunk).await.expect("put");
        assert_eq!(report.succeeded, chunk.len());
    }
    let cfg = em.code_dataset(
        "JsKinesisKill",
        json!({"connectorDestination": "KINESIS", "readerType": "KINESISSTREAMREADER", "streamArn": arn}),
        "Javascript",
        links.of("Javascript"),
        json!({
            "manifestType": "KinesisStreamReaderManifest",
            "kinesisReaderTaskStartFromCondition": "Earliest",
            "kinesisReaderTaskStopCondition": "StopWhenNoNewRecords",
            "kinesisReaderTaskStopAfterConsecutiveEmptyPolls": 3,
        }),
    );
    let name = cfg["datasetName"].as_str().expect("name").to_string();
    let mut home = em.code_home();
    // Small parts, so there are checkpoints to be killed between.
    home.env("LETSDATA_PART_SIZE_BYTES", "50000");
    let home = tokio::task::spawn_blocking(move || {
        home.create_killed(&cfg, "part-published-documents=3*off->return(kill)");
        home
    })
    .await
    .expect("join");
    assert_eq!(
        home.view(&name)["datasetStatus"],
        "PROCESSING",
        "killed mid-run"
    );
    let home = tokio::task::spawn_blocking(move || {
        let run = home.run(&["run"]);
        assert_eq!(run.code, 0, "letsdata run: {}", run.stderr);
        home
    })
    .await
    .expect("join");
    assert_eq!(home.view(&name)["datasetStatus"], "COMPLETED");
    let mut records = Vec::new();
    let mut ids = BTreeSet::new();
    for d in home.output_read(&name, 100_000) {
        records.push(d["data"]["data"].as_str().expect("the record").to_string());
        // The document id is the sequence number, unique within a shard.
        let id = d["documentId"].as_str().expect("documentId").to_string();
        ids.insert((
            d["data"]["shardId"].as_str().expect("shardId").to_string(),
            id,
        ));
    }
    records.sort();
    let expected: Vec<String> = (0..N).map(|i| format!("record {i:05}")).collect();
    assert_eq!(records.len(), N, "every record exactly once");
    assert_eq!(records, expected);
    assert_eq!(ids.len(), N);
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn kinesis_record_reader_in_python_reads_every_shard() {
    let Some(em) = emulator().await else { return };
    let links = upload_projects(&em).await;
    let arn = em.stream(&format!("in-{}", em.suffix), 2).await;
    let kinesis = em.aws.kinesis();
    let before = now_millis();
    let records: Vec<(String, String)> = (0..100)
        .map(|i| {
            let data = if i == 42 {
                "bad".to_string()
            } else {
                format!("record {i}")
            };
            (format!("key-{i}"), data)
        })
        .collect();
    // The writer gzips each record, as LetsData's Kinesis write connector does: handlers get
    // the text.
    let records: Vec<KinesisPutRecord> = records
        .into_iter()
        .map(|(partition_key, data)| KinesisPutRecord {
            partition_key,
            data: Bytes::from(data),
        })
        .collect();
    kinesis
        .writer(&arn)
        .put_records(&records)
        .await
        .expect("put");
    let cfg = em.code_dataset(
        "PyKinesis",
        json!({"connectorDestination": "KINESIS", "readerType": "KINESISSTREAMREADER", "streamArn": arn}),
        "Python",
        links.of("Python"),
        json!({
            "manifestType": "KinesisStreamReaderManifest",
            "kinesisReaderTaskStartFromCondition": "Earliest",
            "kinesisReaderTaskStopCondition": "StopWhenNoNewRecords",
            "kinesisReaderTaskStopAfterConsecutiveEmptyPolls": 2,
        }),
    );
    let (_home, f) = run(em.code_home(), cfg).await;
    let after = now_millis();
    assert_eq!(f.ds["datasetStatus"], "COMPLETED", "{}", f.ds);
    assert_eq!(
        f.ds["datasetProgress"]["totalTasks"], 2,
        "a task per shard: {}",
        f.ds
    );
    assert_eq!(f.ds["datasetProgress"]["documentsWritten"], 99, "{}", f.ds);
    let mut partition_keys = Vec::new();
    let mut shards = BTreeSet::new();
    for d in &f.docs {
        let data = echoed(
            d,
            &f,
            "Python",
            "KinesisRecordReader",
            "parseMessage",
            &[
                "streamArn",
                "shardId",
                "partitionKey",
                "sequenceNumber",
                "approximateArrivalTimestamp",
                "data",
            ],
        );
        assert_eq!(data["streamArn"], arn.as_str(), "{d}");
        let shard = data["shardId"].as_str().expect("shardId");
        assert!(shard.starts_with("shardId-"), "{d}");
        shards.insert(shard.to_string());
        let key = data["partitionKey"].as_str().expect("partitionKey");
        let i = key.strip_prefix("key-").expect("key-<i>");
        assert_eq!(data["data"], format!("record {i}").as_str(), "{d}");
        let seq = data["sequenceNumber"].as_str().expect("sequenceNumber");
        assert!(!seq.is_empty(), "{d}");
        assert_eq!(
            d["documentId"], seq,
            "the document id is the sequence number"
        );
        assert_eq!(d["partitionKey"], key, "{d}");
        // Epoch milliseconds.
        let at = data["approximateArrivalTimestamp"]
            .as_i64()
            .unwrap_or_else(|| panic!("not an integer: {d}"));
        assert!(
            (before - 60_000..=after + 60_000).contains(&at),
            "approximateArrivalTimestamp {at} is not within the test's run ({before}..{after}) in epoch ms"
        );
        partition_keys.push(key.to_string());
    }
    partition_keys.sort();
    let mut expected: Vec<String> = (0..100)
        .filter(|i| *i != 42)
        .map(|i| format!("key-{i}"))
        .collect();
    expected.sort();
    assert_eq!(partition_keys, expected);
    assert_eq!(shards.len(), 2, "records of both shards: {shards:?}");
    let raw = one_error(&f, "KinesisRecordReader.parseMessage: the record is bad");
    assert_eq!(raw, "bad");
    // Each task checkpointed the last sequence number of its shard.
    for t in &f.tasks {
        assert_eq!(t["taskType"], "KINESIS");
        assert!(
            t["checkpoint"]["sequenceNumber"].is_string(),
            "no sequence number checkpoint: {t}"
        );
    }
}

/// The table's items: `item-<i>` with `n` = i (1000 for the first five, modified after), and
/// `bad` (n = -1), which the echo readers reject.
const ITEMS: u32 = 30;
const MODIFIED: u32 = 5;

/// `i` of an `item-<i>` id.
fn item_number(id: &str) -> u32 {
    id.strip_prefix("item-")
        .and_then(|i| i.parse().ok())
        .unwrap_or_else(|| panic!("not an item-<i> id: {id}"))
}

/// The dataset name prefix of a language.
fn short(language: &str) -> &'static str {
    match language {
        "Python" => "Py",
        _ => "Js",
    }
}

/// Reads the table, scanned in 3 segments, with `language`'s handler.
async fn check_table_scan(em: &Emulator, links: &Links, table: &str, language: &str) {
    let cfg = em.code_dataset(
        &format!("{}Table", short(language)),
        json!({"connectorDestination": "DYNAMODB", "tableName": table}),
        language,
        links.of(language),
        json!({"manifestType": "DynamoDBTableReaderManifest", "dynamoDBTableReaderSegments": 3}),
    );
    let (_home, f) = run(em.code_home(), cfg).await;
    assert_eq!(f.ds["datasetStatus"], "COMPLETED", "{}", f.ds);
    assert_eq!(f.ds["datasetProgress"]["totalTasks"], 3, "{}", f.ds);
    let mut ids = Vec::new();
    for d in &f.docs {
        let data = echoed(
            d,
            &f,
            language,
            "DynamoDBTableItemReader",
            "parseDynamoDBItem",
            &["tableName", "segmentNumber", "data"],
        );
        assert_eq!(data["tableName"], table, "{d}");
        assert!(data["segmentNumber"].as_u64().is_some_and(|s| s < 3), "{d}");
        assert_eq!(keys(&data["data"]), set(&["keys", "item"]), "{d}");
        let id = data["data"]["keys"]["id"].as_str().expect("id");
        let i = item_number(id);
        let n = if i < MODIFIED { 1000 } else { i };
        assert_eq!(data["data"]["keys"], json!({"id": id}), "{d}");
        assert_eq!(data["data"]["item"], json!({"id": id, "n": n}), "{d}");
        assert_eq!(d["documentId"], id, "the document id is the key");
        ids.push(id.to_string());
    }
    ids.sort();
    let mut expected: Vec<String> = (0..ITEMS).map(|i| format!("item-{i}")).collect();
    expected.sort();
    assert_eq!(ids, expected, "every item once, across the segments");
    let raw = one_error(
        &f,
        "DynamoDBTableItemReader.parseDynamoDBItem: the record is bad",
    );
    let item: Value = serde_json::from_str(raw.as_str().expect("raw record")).expect("JSON");
    assert_eq!(item, json!({"id": "bad", "n": -1}));
}

/// Reads the table's stream (31 INSERTs, 5 MODIFYs) with `language`'s handler.
async fn check_stream(em: &Emulator, links: &Links, stream_arn: &str, language: &str) {
    let cfg = em.code_dataset(
        &format!("{}Streams", short(language)),
        json!({"connectorDestination": "DYNAMODBSTREAMS", "streamArn": stream_arn}),
        language,
        links.of(language),
        json!({
            "manifestType": "DynamoDBStreamReaderManifest",
            "dynamoDBReaderTaskStartFromCondition": "Earliest",
            "dynamoDBReaderTaskStopCondition": "StopWhenNoNewRecords",
            "dynamoDBReaderTaskStopAfterConsecutiveEmptyPolls": 2,
        }),
    );
    let (_home, f) = run(em.code_home(), cfg).await;
    assert_eq!(f.ds["datasetStatus"], "COMPLETED", "{}", f.ds);
    let mut inserts = BTreeSet::new();
    let mut modifies = BTreeSet::new();
    for d in &f.docs {
        let data = echoed(
            d,
            &f,
            language,
            "DynamoDBStreamsRecordReader",
            "parseRecord",
            &[
                "streamArn",
                "shardId",
                "eventId",
                "eventName",
                "identityPrincipalId",
                "identityType",
                "sequenceNumber",
                "sizeBytes",
                "streamViewType",
                "approximateCreationDateTime",
                "data",
            ],
        );
        assert_eq!(data["streamArn"], stream_arn, "{d}");
        assert!(
            data["shardId"]
                .as_str()
                .is_some_and(|s| s.starts_with("shardId-")),
            "{d}"
        );
        assert!(
            data["eventId"].as_str().is_some_and(|e| !e.is_empty()),
            "{d}"
        );
        // Null: the DynamoDB Streams source does not read a record's identity (yet).
        assert_eq!(data["identityPrincipalId"], Value::Null, "{d}");
        assert_eq!(data["identityType"], Value::Null, "{d}");
        let seq = data["sequenceNumber"].as_str().expect("sequenceNumber");
        assert_eq!(
            d["documentId"], seq,
            "the document id is the sequence number"
        );
        assert!(data["sizeBytes"].is_u64(), "{d}");
        assert_eq!(data["streamViewType"], "NEW_AND_OLD_IMAGES", "{d}");
        // Epoch seconds.
        let at = data["approximateCreationDateTime"]
            .as_i64()
            .unwrap_or_else(|| panic!("not an integer: {d}"));
        let now = now_millis() / 1000;
        assert!(
            (now - 3600..=now + 60).contains(&at),
            "approximateCreationDateTime {at} is not within the last hour in epoch seconds ({now})"
        );
        let image = &data["data"];
        assert_eq!(keys(image), set(&["keys", "oldImage", "newImage"]), "{d}");
        let id = image["keys"]["id"].as_str().expect("id");
        assert_eq!(image["keys"], json!({"id": id}), "{d}");
        let i = item_number(id);
        match data["eventName"].as_str() {
            Some("INSERT") => {
                assert_eq!(image["oldImage"], json!({}), "{d}");
                assert_eq!(image["newImage"], json!({"id": id, "n": i}), "{d}");
                assert!(inserts.insert(i), "{id} inserted twice");
            }
            Some("MODIFY") => {
                assert_eq!(image["oldImage"], json!({"id": id, "n": i}), "{d}");
                assert_eq!(image["newImage"], json!({"id": id, "n": 1000}), "{d}");
                assert!(modifies.insert(i), "{id} modified twice");
            }
            _ => panic!("an event that is neither INSERT nor MODIFY: {d}"),
        }
    }
    assert_eq!(inserts, (0..ITEMS).collect::<BTreeSet<u32>>());
    assert_eq!(modifies, (0..MODIFIED).collect::<BTreeSet<u32>>());
    // The bad item's INSERT is the error record.
    let raw = one_error(
        &f,
        "DynamoDBStreamsRecordReader.parseRecord: the record is bad",
    );
    let record: Value = serde_json::from_str(raw.as_str().expect("raw record")).expect("JSON");
    assert_eq!(record["eventName"], "INSERT", "{record}");
    assert_eq!(record["keys"], json!({"id": "bad"}), "{record}");
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn dynamodb_readers_in_python_and_javascript_read_streams_and_tables() {
    let Some(em) = emulator().await else { return };
    let links = upload_projects(&em).await;
    let table = format!("t-{}", em.suffix);
    let stream_arn = em.table(&table, true).await.expect("stream arn");
    let writer = em.aws.dynamodb().writer(&table).await.expect("writer");
    let mut items: Vec<serde_json::Map<String, Value>> = (0..ITEMS)
        .map(|i| {
            json!({"id": format!("item-{i}"), "n": i})
                .as_object()
                .cloned()
                .expect("object")
        })
        .collect();
    items.insert(
        ITEMS as usize / 2,
        json!({"id": "bad", "n": -1})
            .as_object()
            .cloned()
            .expect("object"),
    );
    writer.write(&items).await.expect("insert");
    // Modify the first five.
    let modified: Vec<_> = items[..MODIFIED as usize]
        .iter()
        .map(|i| {
            let mut m = i.clone();
            m.insert("n".into(), json!(1000));
            m
        })
        .collect();
    writer.write(&modified).await.expect("modify");
    for language in ["Python", "Javascript"] {
        check_table_scan(&em, &links, &table, language).await;
        check_stream(&em, &links, &stream_arn, language).await;
    }
}
