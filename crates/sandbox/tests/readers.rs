//! The stream, queue and table reader interfaces through the host, with a component that
//! implements all four (`examples/testing/readers`); and the export check.

use letsdata_model::record::RecordMeta;
use letsdata_sandbox::wit::{Document, ParseDocumentResultStatus};
use letsdata_sandbox::{Interface, Limits, RecordReader, Sandbox, SandboxError};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Builds the example and test components (once per test process) and reads one.
fn component(crate_name: &str) -> Vec<u8> {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let target = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(t) => PathBuf::from(t).join("guests"),
            None => repo.join("target").join("guests"),
        };
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--release", "--quiet", "--target", "wasm32-wasip2"])
            .arg("--manifest-path")
            .arg(repo.join("examples/Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .expect("run cargo");
        assert!(status.success(), "building the test components failed");
        target.join("wasm32-wasip2/release")
    });
    std::fs::read(dir.join(format!("{}.wasm", crate_name.replace('-', "_")))).expect("component")
}

fn limits() -> Limits {
    Limits {
        memory_megabytes: 256,
        timeout: Duration::from_secs(30),
        deadline: Instant::now() + Duration::from_secs(30),
    }
}

fn serialized(doc: Option<Document>) -> serde_json::Value {
    match doc {
        Some(Document::Single(d)) => serde_json::from_str(&d.serialized).expect("json"),
        other => panic!("not a single document: {other:?}"),
    }
}

#[tokio::test]
async fn stream_queue_and_table_readers_run_in_the_sandbox() {
    let dir = tempfile::tempdir().expect("tmp");
    let sandbox = Sandbox::new(dir.path()).expect("sandbox");
    let (code, compiled) = sandbox
        .load(&component("letsdata-test-readers"))
        .expect("load");
    assert!(compiled);
    for interface in [
        Interface::KinesisRecordReader,
        Interface::KafkaRecordReader,
        Interface::QueueMessageReader,
        Interface::DynamoDbStreamsRecordReader,
        Interface::DynamoDbTableItemReader,
    ] {
        sandbox.check_exports(&code, interface).expect("exported");
    }
    match sandbox.check_exports(&code, Interface::SingleFileParser) {
        Err(SandboxError::MissingExport(m)) => {
            assert!(m.contains("letsdata:data/single-file-parser@0.1.0"), "{m}");
            assert!(
                m.contains("letsdata:data/kinesis-record-reader@0.1.0"),
                "{m}"
            );
        }
        other => panic!("expected a missing export: {other:?}"),
    }

    let mut kinesis = RecordReader::new(&sandbox, &code, limits(), Interface::KinesisRecordReader)
        .await
        .expect("new");
    let kinesis_record = RecordMeta::Kinesis {
        stream_arn: "arn:s".into(),
        shard_id: "shard-1".into(),
        partition_key: "k".into(),
        sequence_number: "49".into(),
        approximate_arrival_timestamp: 1_700_000_000_000,
    };
    let r = kinesis
        .parse_record(&kinesis_record, b"hello")
        .await
        .expect("parse");
    assert_eq!(r.status, ParseDocumentResultStatus::Success);
    let doc = serialized(r.document);
    assert_eq!(doc["shard"], "shard-1");
    assert_eq!(doc["data"], "hello");
    assert_eq!(doc["at"], 1_700_000_000_000i64);
    // The instance implements only the interface it was created for.
    assert!(matches!(
        kinesis
            .parse_record(
                &RecordMeta::TableItem {
                    table_name: "t".into(),
                    segment_number: 0,
                    keys: "{}".into()
                },
                b"{}"
            )
            .await,
        Err(SandboxError::MissingExport(_))
    ));

    let mut kafka = RecordReader::new(&sandbox, &code, limits(), Interface::KafkaRecordReader)
        .await
        .expect("new");
    let record = RecordMeta::Kafka {
        topic: "clicks".into(),
        partition: 2,
        offset: 41,
        key: Some(b"k-1".to_vec()),
        timestamp: 1_700_000_000_001,
        headers: vec![("source".into(), b"web".to_vec())],
    };
    let r = kafka.parse_record(&record, b"hello").await.expect("parse");
    assert_eq!(r.status, ParseDocumentResultStatus::Success);
    let doc = serialized(r.document);
    assert_eq!(doc["topic"], "clicks");
    assert_eq!(
        (doc["partition"].clone(), doc["offset"].clone()),
        (json!(2), json!(41))
    );
    assert_eq!(doc["key"], "k-1");
    assert_eq!(doc["headers"][0], json!(["source", "web"]));
    assert_eq!(doc["value"], "hello");
    assert!(matches!(
        kafka.parse_record(&kinesis_record, b"x").await,
        Err(SandboxError::MissingExport(_))
    ));

    let mut queue = RecordReader::new(&sandbox, &code, limits(), Interface::QueueMessageReader)
        .await
        .expect("new");
    let attrs = vec![("docId".to_string(), "7".to_string())];
    let message =
        |id: &str, group: Option<&str>, attributes: &[(String, String)]| RecordMeta::Queue {
            message_id: id.into(),
            message_group_id: group.map(str::to_string),
            message_deduplication_id: None,
            message_attributes: attributes.to_vec(),
        };
    let r = queue
        .parse_record(&message("m-1", Some("g"), &attrs), b"body")
        .await
        .expect("parse");
    let doc = serialized(r.document);
    assert_eq!(doc["group"], "g");
    assert_eq!(doc["attributes"][0][1], "7");
    let r = queue
        .parse_record(&message("m-2", None, &[]), b"bad")
        .await
        .expect("parse");
    assert_eq!(r.status, ParseDocumentResultStatus::Error);

    let mut streams = RecordReader::new(
        &sandbox,
        &code,
        limits(),
        Interface::DynamoDbStreamsRecordReader,
    )
    .await
    .expect("new");
    let record = |event_name: &'static str| RecordMeta::DynamoDbStreams {
        stream_arn: "arn:t/stream".into(),
        shard_id: "s".into(),
        event_id: "e".into(),
        event_name,
        identity_principal_id: None,
        identity_type: None,
        sequence_number: "100".into(),
        size_bytes: 10,
        stream_view_type: "NEW_AND_OLD_IMAGES".into(),
        approximate_creation_date_time: 0,
        keys: r#"{"id":"a"}"#.into(),
        old_image: None,
        new_image: Some(r#"{"id":"a","n":1}"#.into()),
    };
    let doc = serialized(
        streams
            .parse_record(&record("INSERT"), b"{}")
            .await
            .expect("parse")
            .document,
    );
    assert_eq!(doc["event"], "INSERT");
    assert_eq!(doc["new"], r#"{"id":"a","n":1}"#);
    let r = streams
        .parse_record(&record("REMOVE"), b"{}")
        .await
        .expect("parse");
    assert_eq!(r.status, ParseDocumentResultStatus::Skip);

    let mut table = RecordReader::new(
        &sandbox,
        &code,
        limits(),
        Interface::DynamoDbTableItemReader,
    )
    .await
    .expect("new");
    let doc = serialized(
        table
            .parse_record(
                &RecordMeta::TableItem {
                    table_name: "t".into(),
                    segment_number: 3,
                    keys: r#"{"id":"a"}"#.into(),
                },
                br#"{"id":"a"}"#,
            )
            .await
            .expect("parse")
            .document,
    );
    assert_eq!(doc["segment"], 3);

    // A second sandbox on the same cache directory loads the compiled code without compiling.
    let again = Sandbox::new(dir.path()).expect("sandbox");
    let (_, compiled) = again
        .load(&component("letsdata-test-readers"))
        .expect("load");
    assert!(!compiled, "the compiled component was cached on disk");
}
