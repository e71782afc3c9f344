//! The Kinesis, SQS, DynamoDB Streams and DynamoDB read and write connectors and their manifests.

use super::*;
use crate::spec::{
    BuiltinParser, CodeLanguage, Implementation, Manifest, QueueManifest, QueueStop, ReadConnector,
    RecordErrorPolicy, ResourceLocation, StreamManifest, StreamStart, StreamStop, TableManifest,
    TableScanMode, WriteConnector,
};

const STREAM_ARN: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/clicks";
const TABLE_STREAM_ARN: &str =
    "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2024-01-01T00:00:00.000";

/// The example reading `read` with `manifest`.
fn reading(read: Value, manifest: Value) -> Value {
    let mut v = example();
    set(&mut v, "readConnector", read);
    set(&mut v, "manifestFile", manifest);
    v
}

pub(super) fn kinesis() -> Value {
    reading(
        json!({
            "connectorDestination": "KINESIS",
            "readerType": "KINESISSTREAMREADER",
            "streamArn": STREAM_ARN,
            "resourceLocation": "Customer",
            "artifactImplementationLanguage": "Builtin",
        }),
        json!({
            "manifestType": "KinesisStreamReaderManifest",
            "kinesisReaderTaskStopCondition": "Continuous",
            "kinesisReaderTaskStartFromCondition": "Earliest",
            "kinesisReaderTaskContinuousPollFrequency": "Poll with exponential frequency (max 1 min)",
        }),
    )
}

#[test]
fn kinesis_read_connector_with_letsdata_manifest() {
    let spec = parse_ok(&kinesis());
    let ReadConnector::Kinesis(r) = &spec.read_connector else {
        panic!("{:?}", spec.read_connector)
    };
    assert_eq!(r.stream_arn, STREAM_ARN);
    assert_eq!(r.resource_location, ResourceLocation::Customer);
    assert_eq!(
        r.implementation,
        Implementation::Builtin(BuiltinParser::Jsonl {
            document_id_field: None
        })
    );
    assert_eq!(
        spec.manifest,
        Manifest::Kinesis(StreamManifest {
            start: StreamStart::Earliest,
            stop: StreamStop::Continuous,
        })
    );

    let mut v = kinesis();
    set(
        &mut v,
        "manifestFile.kinesisReaderTaskStopCondition",
        json!("StopWhenNoNewRecords"),
    );
    set(
        &mut v,
        "manifestFile.kinesisReaderTaskStopAfterConsecutiveEmptyPolls",
        json!(5),
    );
    set(
        &mut v,
        "manifestFile.kinesisReaderTaskStartFromCondition",
        json!("AtTimestamp"),
    );
    set(
        &mut v,
        "manifestFile.kinesisReaderTaskStartTimestamp",
        json!("2026-01-31T12:00:00Z"),
    );
    assert_eq!(
        parse_ok(&v).manifest,
        Manifest::Kinesis(StreamManifest {
            start: StreamStart::AtTimestamp(1_769_860_800_000),
            stop: StreamStop::AfterEmptyPolls(5),
        })
    );
}

#[test]
fn kinesis_problems_name_the_field() {
    assert_only(
        &{
            let mut v = kinesis();
            set(&mut v, "readConnector.streamArn", json!("clicks"));
            v
        },
        "readConnector.streamArn",
        "\"clicks\" is not the ARN of the Kinesis stream to read; expected e.g. arn:aws:kinesis:",
    );
    assert_only(
        &{
            let mut v = kinesis();
            set(
                &mut v,
                "readConnector.readerType",
                json!("SINGLEFILEREADER"),
            );
            v
        },
        "readConnector.readerType",
        "use KINESISSTREAMREADER",
    );
    assert_only(
        &{
            let mut v = kinesis();
            set(&mut v, "readConnector.bucketName", json!("input"));
            v
        },
        "readConnector.bucketName",
        "is not applicable to KINESIS read connectors; remove it",
    );
    assert_only(
        &{
            let mut v = kinesis();
            set(
                &mut v,
                "manifestFile.kinesisReaderTaskStartFromCondition",
                json!("AtTimestamp"),
            );
            v
        },
        "manifestFile.kinesisReaderTaskStartTimestamp",
        "is required with kinesisReaderTaskStartFromCondition AtTimestamp",
    );
    assert_only(
        &{
            let mut v = kinesis();
            set(
                &mut v,
                "manifestFile.kinesisReaderTaskStopAfterConsecutiveEmptyPolls",
                json!(3),
            );
            v
        },
        "manifestFile.kinesisReaderTaskStopAfterConsecutiveEmptyPolls",
        "is only used with kinesisReaderTaskStopCondition StopWhenNoNewRecords",
    );
    assert_only(
        &{
            let mut v = kinesis();
            set(
                &mut v,
                "manifestFile.manifestType",
                json!("SQSReaderManifest"),
            );
            v
        },
        "manifestFile.manifestType",
        "\"SQSReaderManifest\" lists the work of SQS read connectors, but readConnector.connectorDestination is KINESIS; use KinesisStreamReaderManifest",
    );
    assert_only(
        &{
            let mut v = kinesis();
            set(&mut v, "readConnector.builtinParser", json!("csv"));
            v
        },
        "readConnector.builtinParser",
        "use jsonl or text",
    );
}

#[test]
fn sqs_read_connector_defaults_to_drain_queues_with_concurrency_tasks() {
    let v = reading(
        json!({
            "connectorDestination": "SQS",
            "queueName": "orders-in",
            "artifactImplementationLanguage": "Builtin",
            "documentIdField": "orderId",
        }),
        json!({"sqsReaderTaskStopCondition": "DrainQueues", "sqsReaderTaskStopAfterConsecutiveEmptyReceives": 4}),
    );
    let spec = parse_ok(&v);
    assert!(matches!(&spec.read_connector, ReadConnector::Sqs(r) if r.queue_name == "orders-in"));
    assert_eq!(
        spec.manifest,
        Manifest::Sqs(QueueManifest {
            stop: QueueStop::DrainQueues { empty_receives: 4 },
            tasks: 2,
        })
    );
    let mut bad = v.clone();
    set(&mut bad, "readConnector.queueName", json!("orders in"));
    assert_only(&bad, "readConnector.queueName", "contains ' '");
}

#[test]
fn stream_queue_and_table_readers_with_code_take_the_reader_error_policy() {
    let sqs = |extra: Value| {
        let mut read = json!({
            "connectorDestination": "SQS",
            "queueName": "orders-in",
            "artifactImplementationLanguage": "Python",
            "artifactFileS3Link": "s3://code/reader.zip",
        });
        for (k, v) in extra.as_object().expect("object") {
            read[k] = v.clone();
        }
        reading(read, json!({"sqsReaderTaskStopCondition": "DrainQueues"}))
    };
    let policy = |v: &Value| match &parse_ok(v).read_connector {
        ReadConnector::Sqs(r) => match &r.implementation {
            Implementation::Code(c) => c.on_record_error,
            other => panic!("not code: {other:?}"),
        },
        other => panic!("not SQS: {other:?}"),
    };
    assert_eq!(
        policy(&sqs(json!({}))),
        RecordErrorPolicy::WriteErrorAndContinue {
            delete_message: true
        }
    );
    assert_eq!(
        policy(&sqs(json!({"onRecordErrorDeleteMessage": false}))),
        RecordErrorPolicy::WriteErrorAndContinue {
            delete_message: false
        }
    );
    assert_eq!(
        policy(&sqs(json!({"onRecordError": "failtask"}))),
        RecordErrorPolicy::FailTask
    );
    assert_only(
        &sqs(json!({"onRecordError": "Ignore"})),
        "readConnector.onRecordError",
        "\"Ignore\" is not a reader error policy; accepted values: FailTask, WriteErrorAndContinue",
    );
    assert_only(
        &sqs(json!({"onRecordError": "FailTask", "onRecordErrorDeleteMessage": true})),
        "readConnector.onRecordErrorDeleteMessage",
        "applies with onRecordError WriteErrorAndContinue",
    );
    let kinesis = reading(
        json!({
            "connectorDestination": "KINESIS",
            "streamArn": "arn:aws:kinesis:us-east-1:123456789012:stream/clicks",
            "artifactImplementationLanguage": "Wasm",
            "artifactFileS3Link": "s3://code/reader.wasm",
            "onRecordErrorDeleteMessage": false,
        }),
        json!({"manifestType": "KinesisStreamReaderManifest", "kinesisReaderTaskStopCondition": "Continuous", "kinesisReaderTaskStartFromCondition": "Earliest"}),
    );
    assert_only(
        &kinesis,
        "readConnector.onRecordErrorDeleteMessage",
        "applies to SQS readers",
    );
    let builtin = reading(
        json!({
            "connectorDestination": "SQS",
            "queueName": "orders-in",
            "artifactImplementationLanguage": "Builtin",
            "onRecordError": "FailTask",
        }),
        json!({"sqsReaderTaskStopCondition": "DrainQueues"}),
    );
    assert_only(
        &builtin,
        "readConnector.onRecordError",
        "is not used with artifactImplementationLanguage Builtin",
    );
}

#[test]
fn dynamodb_table_and_stream_read_connectors() {
    let table = reading(
        json!({
            "connectorDestination": "DYNAMODB",
            "tableName": "orders",
            "artifactImplementationLanguage": "Builtin",
            "filterExpression": "#s = :active",
            "expressionAttributeNames": {"#s": "status"},
            "expressionAttributeValues": {":active": "ACTIVE"},
        }),
        json!({"manifestType": "DynamoDBTableReaderManifest", "dynamoDBTableReaderSegments": 4}),
    );
    let spec = parse_ok(&table);
    let ReadConnector::DynamoDb(r) = &spec.read_connector else {
        panic!("{:?}", spec.read_connector)
    };
    let filter = r.filter.as_ref().expect("filter");
    assert_eq!(filter.attribute_names["#s"], "status");
    assert_eq!(
        spec.manifest,
        Manifest::DynamoDbTable(TableManifest {
            segments: 4,
            mode: TableScanMode::SingleTableScan,
        })
    );
    let mut bad = table.clone();
    set(
        &mut bad,
        "readConnector.expressionAttributeValues",
        json!({"active": 1}),
    );
    assert_only(
        &bad,
        "readConnector.expressionAttributeValues",
        "maps a :placeholder",
    );

    let streams = reading(
        json!({
            "connectorDestination": "DynamoDB Streams",
            "streamArn": TABLE_STREAM_ARN,
            "artifactImplementationLanguage": "Wasm",
            "artifactFileS3Link": "s3://code/reader.wasm",
        }),
        json!({"manifestType": "DynamoDBStreamReaderManifest", "dynamoDBReaderTaskStopCondition": "Continuous", "dynamoDBReaderTaskStartFromCondition": "Latest"}),
    );
    let spec = parse_ok(&streams);
    assert!(matches!(
        &spec.read_connector,
        ReadConnector::DynamoDbStreams(r) if matches!(&r.implementation, Implementation::Code(c) if c.language == CodeLanguage::Wasm)
    ));
    let mut at = streams.clone();
    set(
        &mut at,
        "manifestFile.dynamoDBReaderTaskStartFromCondition",
        json!("AtTimestamp"),
    );
    assert_only(
        &at,
        "manifestFile.dynamoDBReaderTaskStartFromCondition",
        "AtTimestamp is not available for DynamoDB Streams",
    );
    let mut wrong = streams;
    set(&mut wrong, "readConnector.streamArn", json!(STREAM_ARN));
    assert_only(
        &wrong,
        "readConnector.streamArn",
        "is not the ARN of the DynamoDB table stream to read",
    );
}

#[test]
fn kinesis_sqs_and_dynamodb_write_connectors() {
    let spec = parse_ok(&with(
        "writeConnector",
        json!({"connectorDestination": "Kinesis", "resourceLocation": "LetsData", "kinesisShardCount": 4}),
    ));
    let WriteConnector::Kinesis(w) = &spec.write_connector else {
        panic!("{:?}", spec.write_connector)
    };
    assert_eq!((w.shard_count, w.stream.as_deref()), (4, None));

    assert_only(
        &with(
            "writeConnector",
            json!({"connectorDestination": "Kinesis", "resourceLocation": "Customer"}),
        ),
        "writeConnector.streamName",
        "is required when resourceLocation is Customer",
    );
    assert_only(
        &with(
            "writeConnector",
            json!({"connectorDestination": "Kinesis", "resourceLocation": "Customer", "streamName": "s", "kinesisShardCount": 2}),
        ),
        "writeConnector.kinesisShardCount",
        "a Customer stream keeps its shards",
    );

    let spec = parse_ok(&with(
        "writeConnector",
        json!({"connectorDestination": "SQS", "resourceLocation": "Customer", "queueName": "out", "messageIdAttributeName": "docId"}),
    ));
    let WriteConnector::Sqs(w) = &spec.write_connector else {
        panic!("{:?}", spec.write_connector)
    };
    assert_eq!(w.message_id_attribute_name.as_deref(), Some("docId"));

    let spec = parse_ok(&with(
        "writeConnector",
        json!({"connectorDestination": "DynamoDB", "resourceLocation": "LetsData"}),
    ));
    let WriteConnector::DynamoDb(w) = &spec.write_connector else {
        panic!("{:?}", spec.write_connector)
    };
    assert_eq!(
        (w.table_name.as_deref(), w.partition_key_name.as_str()),
        (None, "documentId")
    );
    assert_only(
        &with(
            "writeConnector",
            json!({"connectorDestination": "DynamoDB", "resourceLocation": "Customer", "tableName": "tab!e"}),
        ),
        "writeConnector.tableName",
        "contains '!'",
    );
    assert_only(
        &with(
            "writeConnector",
            json!({"connectorDestination": "SQS", "resourceLocation": "LetsData", "bucketName": "b"}),
        ),
        "writeConnector.bucketName",
        "is not applicable to SQS write connectors; remove it",
    );
}

#[test]
fn aws_resources_need_the_access_fields() {
    let ctx = ValidationContext {
        aws_resources: true,
    };
    let mut v = kinesis();
    remove(&mut v, "readConnector.resourceLocation");
    let ps = problems_ctx(&v, ctx);
    assert_has(
        &ps,
        "accessGrantRoleArn",
        "is required when a resource is Customer-owned (readConnector.resourceLocation is Customer)",
    );
}

/// The example datasets in `examples/datasets/` are valid (with AWS resources, so the access
/// fields are required too).
#[test]
fn example_datasets_are_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/datasets");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/datasets") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).expect("read");
            let v: Value = serde_json::from_str(&text).expect("JSON");
            let ctx = ValidationContext {
                aws_resources: true,
            };
            if let Err(e) = parse_dataset_spec(&v, ctx) {
                panic!("{}: {e}", path.display());
            }
            n += 1;
        }
    }
    assert!(n >= 5, "{n} example datasets");
}
