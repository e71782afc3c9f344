//! `computeEngine` and `manifestFile`.

use super::*;
use crate::spec::{LogLevel, ManifestSource, ReaderType, ResourceLocation};

fn link_manifest(extra: Value) -> Value {
    let mut m = json!({
        "manifestType": "S3ReaderS3LinkManifestFile",
        "readerType": "Single File Reader",
        "manifestFileS3Uri": "s3://manifests/quickstart/manifest.txt"
    });
    if let (Value::Object(m), Value::Object(extra)) = (&mut m, extra) {
        m.extend(extra);
    }
    with("manifestFile", m)
}

#[test]
fn compute_engine_type() {
    assert_only(
        &with("computeEngine.computeEngineType", json!("SPARK")),
        "computeEngine.computeEngineType",
        "\"SPARK\" compute engines are not supported yet; supported: Lambda",
    );
    assert_only(
        &with("computeEngine.computeEngineType", json!("EC2")),
        "computeEngine.computeEngineType",
        "\"EC2\" is not a compute engine type; accepted values: Lambda, LAMBDA_AND_SAGEMAKER, SPARK",
    );
    assert_only(
        &without("computeEngine.computeEngineType"),
        "computeEngine.computeEngineType",
        "is required",
    );
    assert_only(&without("computeEngine"), "computeEngine", "is required");
}

#[test]
fn concurrency_is_an_integer_from_1_to_1000() {
    for (bad, found) in [
        (json!("ten"), "\"ten\""),
        (json!(0), "0"),
        (json!(1001), "1001"),
        (json!(2.5), "2.5"),
        (json!(-3), "-3"),
        (json!(5.0), "5.0"),
        (json!(true), "true"),
    ] {
        assert_only(
            &with("computeEngine.concurrency", bad),
            "computeEngine.concurrency",
            &format!("must be an integer between 1 and 1000, found {found}"),
        );
    }
    assert_only(
        &without("computeEngine.concurrency"),
        "computeEngine.concurrency",
        "is required: the maximum number of tasks running in parallel (an integer between 1 and 1000)",
    );
    assert_eq!(
        parse_ok(&with("computeEngine.concurrency", json!(1000)))
            .compute_engine
            .concurrency,
        1000
    );
}

#[test]
fn memory_timeout_and_log_level() {
    let mut v = example();
    set(&mut v, "computeEngine.memoryLimitInMegabytes", json!(10240));
    set(&mut v, "computeEngine.timeoutInSeconds", json!(1));
    set(&mut v, "computeEngine.logLevel", json!("trace"));
    let c = parse_ok(&v).compute_engine;
    assert_eq!(
        (
            c.memory_limit_in_megabytes,
            c.timeout_in_seconds,
            c.log_level
        ),
        (10240, 1, LogLevel::Trace)
    );

    assert_only(
        &with("computeEngine.memoryLimitInMegabytes", json!(127)),
        "computeEngine.memoryLimitInMegabytes",
        "must be an integer between 128 and 10240, found 127",
    );
    assert_only(
        &with("computeEngine.memoryLimitInMegabytes", json!(10241)),
        "computeEngine.memoryLimitInMegabytes",
        "between 128 and 10240",
    );
    assert_only(
        &with("computeEngine.timeoutInSeconds", json!(901)),
        "computeEngine.timeoutInSeconds",
        "must be an integer between 1 and 900, found 901",
    );
    assert_only(
        &with("computeEngine.timeoutInSeconds", json!("60")),
        "computeEngine.timeoutInSeconds",
        "found \"60\"",
    );
    assert_only(
        &with("computeEngine.logLevel", json!("VERBOSE")),
        "computeEngine.logLevel",
        "\"VERBOSE\" is not a log level; accepted values: TRACE, DEBUG, INFO, WARN, ERROR",
    );
}

#[test]
fn manifest_reader_type_must_match_read_connector() {
    let ps = problems(&with(
        "manifestFile.readerType",
        json!("MULTIPLEFILESTATEMACHINEREADER"),
    ));
    assert_eq!(ps.len(), 1, "{}", render(&ps));
    assert_has(
        &ps,
        "manifestFile.readerType",
        "is Multiple File State Machine Reader (MULTIPLEFILESTATEMACHINEREADER) but readConnector.readerType is Single File Reader (SINGLEFILEREADER); they must be the same",
    );
    assert_only(
        &without("manifestFile.readerType"),
        "manifestFile.readerType",
        "is required",
    );
}

#[test]
fn text_manifest_needs_a_non_empty_line() {
    assert_only(
        &without("manifestFile.fileContents"),
        "manifestFile.fileContents",
        "is required: the files to read, one per line",
    );
    for blank in ["", "\n", "  \r\n\t\n"] {
        assert_only(
            &with("manifestFile.fileContents", json!(blank)),
            "manifestFile.fileContents",
            "must list at least one file",
        );
    }
    assert_only(
        &with("manifestFile.fileContents", json!(["a.jsonl"])),
        "manifestFile.fileContents",
        "must be a string, found array",
    );
}

#[test]
fn text_manifest_accepts_crlf_and_checks_keys() {
    let spec = parse_ok(&with(
        "manifestFile.fileContents",
        json!("a/one.jsonl\r\n\r\n  b/two.jsonl  \r\n"),
    ));
    assert_eq!(
        files(&spec).0.text_entries(),
        vec!["a/one.jsonl", "b/two.jsonl"]
    );
    let ps = problems(&with(
        "manifestFile.fileContents",
        json!("ok.jsonl\n../etc/passwd\n/abs.jsonl"),
    ));
    assert_eq!(ps.len(), 2, "{}", render(&ps));
    assert_has(
        &ps,
        "manifestFile.fileContents",
        "line 2: key \"../etc/passwd\" is invalid",
    );
    assert_has(
        &ps,
        "manifestFile.fileContents",
        "line 3: key \"/abs.jsonl\" is invalid",
    );
}

#[test]
fn s3_link_manifest() {
    let spec = parse_ok(&link_manifest(json!({})));
    assert_eq!(
        files(&spec).0,
        &ManifestSource::S3Link {
            bucket: "manifests".into(),
            key: "quickstart/manifest.txt".into(),
            resource_location: ResourceLocation::Customer
        }
    );
    assert_eq!(files(&spec).1, ReaderType::SingleFileReader);
    let spec = parse_ok(&link_manifest(
        json!({"readerManifestResourceLocation": "LetsData", "region": "us-east-1"}),
    ));
    assert!(matches!(
        files(&spec).0,
        ManifestSource::S3Link {
            resource_location: ResourceLocation::LetsData,
            ..
        }
    ));

    assert_only(
        &link_manifest(json!({"manifestFileS3Uri": "https://x/y"})),
        "manifestFile.manifestFileS3Uri",
        "is not an s3 link; expected s3://<bucketName>/<key>",
    );
    assert_only(
        &link_manifest(json!({"manifestFileS3Uri": "s3://b/../k"})),
        "manifestFile.manifestFileS3Uri",
        "is invalid",
    );
    assert_only(
        &link_manifest(json!({"readerManifestResourceLocation": "Nobody"})),
        "manifestFile.readerManifestResourceLocation",
        "accepted values: LetsData, Customer",
    );
    let mut v = link_manifest(json!({}));
    remove(&mut v, "manifestFile.manifestFileS3Uri");
    assert_only(
        &v,
        "manifestFile.manifestFileS3Uri",
        "is required: the s3://<bucketName>/<key> link",
    );
}

#[test]
fn fields_of_the_other_manifest_type_are_errors() {
    assert_only(
        &link_manifest(json!({"fileContents": "a.jsonl"})),
        "manifestFile.fileContents",
        "belongs to S3ReaderTextManifestFile; remove it or change manifestType",
    );
    assert_only(
        &with("manifestFile.manifestFileS3Uri", json!("s3://b/k")),
        "manifestFile.manifestFileS3Uri",
        "belongs to S3ReaderS3LinkManifestFile",
    );
    assert_only(
        &with("manifestFile.fileContent", json!("a")),
        "manifestFile.fileContent",
        "did you mean \"fileContents\"?",
    );
    parse_ok(&with("manifestFile.region", json!("us-east-1")));
}

#[test]
fn manifest_types() {
    for (t, destination) in [
        ("KinesisStreamReaderManifest", "KINESIS"),
        ("DynamoDBStreamReaderManifest", "DYNAMODBSTREAMS"),
        ("DynamoDBTableReaderManifest", "DYNAMODB"),
        ("SQSReaderManifest", "SQS"),
    ] {
        assert_only(
            &with("manifestFile.manifestType", json!(t)),
            "manifestFile.manifestType",
            &format!(
                "\"{t}\" lists the work of {destination} read connectors, but readConnector.connectorDestination is S3; use S3ReaderTextManifestFile or S3ReaderS3LinkManifestFile"
            ),
        );
    }
    let ps = problems(&with("manifestFile.manifestType", json!("TextManifest")));
    assert_eq!(ps.len(), 1, "{}", render(&ps));
    assert_has(
        &ps,
        "manifestFile.manifestType",
        "\"TextManifest\" is not a manifest type; accepted values: S3ReaderTextManifestFile, S3ReaderS3LinkManifestFile, KinesisStreamReaderManifest",
    );
    assert_only(
        &without("manifestFile.manifestType"),
        "manifestFile.manifestType",
        "is required",
    );
}
