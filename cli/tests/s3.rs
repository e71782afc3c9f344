//! The same read/write path against an S3 endpoint (moto_server, started by scripts/test.sh):
//! input and manifest in S3, LetsData-located output and error buckets created in S3.

mod common;

use bytes::Bytes;
use common::emulator::endpoint;
use common::{TestHome, config, gzip, jsonl};
use letsdata_connectors::s3::{ObjectStores, S3Settings};
use serde_json::json;

fn settings(endpoint: &str) -> S3Settings {
    S3Settings {
        endpoint: endpoint.to_string(),
        region: "us-east-1".into(),
        access_key_id: Some("testing".into()),
        secret_access_key: Some("testing".into()),
        session_token: None,
        path_style: true,
        grant: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn s3_read_and_write_through_the_emulator() {
    let Some(endpoint) = endpoint() else { return };
    let s3 = ObjectStores::s3(settings(&endpoint));
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..10];
    let input = format!("input-{suffix}");
    let manifests = format!("manifests-{suffix}");
    s3.create_bucket(&input).await.expect("create input bucket");
    s3.create_bucket(&manifests)
        .await
        .expect("create manifest bucket");
    let ib = s3.bucket(&input).expect("bucket");
    ib.put("a.jsonl", Bytes::from(jsonl(0, 3000)))
        .await
        .expect("put");
    let mut b = jsonl(3000, 2000);
    b.push_str("{oops\n");
    ib.put("b/b.jsonl.gz", Bytes::from(gzip(b.as_bytes())))
        .await
        .expect("put");
    s3.bucket(&manifests)
        .expect("bucket")
        .put(
            "m.txt",
            Bytes::from_static(b"a.jsonl\nb/b.jsonl.gz\nmissing.jsonl\n"),
        )
        .await
        .expect("put");

    let mut home = TestHome::new();
    home.env("LETSDATA_AWS_ENDPOINT", &endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        // Force multipart uploads of the output parts.
        .env("LETSDATA_PART_SIZE_BYTES", "20000000");
    let mut cfg = config(
        &format!("SThree{suffix}"),
        &input,
        json!({"builtinParser": "jsonl", "documentIdField": "id"}),
        &["unused"],
    );
    cfg["manifestFile"] = json!({
        "manifestType": "S3ReaderS3LinkManifestFile",
        "readerType": "SINGLEFILEREADER",
        "manifestFileS3Uri": format!("s3://{manifests}/m.txt"),
    });
    cfg["writeConnector"]["compression"] = json!("gzip");
    cfg["accessGrantRoleArn"] = json!("arn:aws:iam::123456789012:role/LetsDataAccess");
    cfg["customerAccountForAccess"] = json!("123456789012");
    let run = tokio::task::spawn_blocking(move || {
        let r = home.create(&cfg);
        (home, r)
    })
    .await
    .expect("join");
    let (home, run) = run;
    assert_eq!(run.code, 3, "one task has a missing file: {}", run.stderr);
    let ds = run.json();
    assert_eq!(ds["resources"]["objectStore"], format!("s3:{endpoint}"));
    assert_eq!(ds["datasetProgress"]["documentsWritten"], 5000);
    assert_eq!(ds["datasetProgress"]["errorRecords"], 1);
    assert_eq!(ds["datasetProgress"]["erroredTasks"], 1);
    assert!(
        !home.home().join("buckets").exists(),
        "no local buckets in S3 mode"
    );

    // Output objects are in the S3 write bucket, gzip-compressed, one per task part.
    let write_bucket = ds["resources"]["writeBucket"]
        .as_str()
        .expect("write bucket");
    let wb = s3.bucket(write_bucket).expect("bucket");
    let objects = wb.list("").await.expect("list");
    assert_eq!(objects.len(), 2, "{objects:?}");
    let mut ids = Vec::new();
    for o in &objects {
        assert!(o.key.ends_with("/part-00000.jsonl.gz"), "{}", o.key);
        let data = wb.read_all(&o.key).await.expect("read");
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(&data[..]), &mut text)
            .expect("gunzip");
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("doc");
            ids.push(v["id"].as_u64().expect("id"));
        }
    }
    ids.sort_unstable();
    assert_eq!(ids, (0..5000).collect::<Vec<_>>());

    let error_bucket = ds["resources"]["errorBucket"]
        .as_str()
        .expect("error bucket");
    let eb = s3.bucket(error_bucket).expect("bucket");
    let errors = eb.list("").await.expect("list");
    assert_eq!(errors.len(), 1);
    let text = eb.read_all(&errors[0].key).await.expect("read");
    let e: serde_json::Value = serde_json::from_slice(text.trim_ascii_end()).expect("error record");
    assert_eq!(e["rawRecord"], "{oops");
    assert_eq!(e["fileName"], "b/b.jsonl.gz");

    // Delete removes the LetsData-located S3 buckets, not the customer's input.
    let name = ds["datasetName"].as_str().expect("name").to_string();
    let run = tokio::task::spawn_blocking(move || {
        home.run(&["datasets", "delete", "--datasetName", &name])
    })
    .await
    .expect("join");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["datasetStatus"], "DELETED");
    assert!(
        !s3.bucket_exists(write_bucket).await.expect("head"),
        "write bucket deleted"
    );
    assert!(
        !s3.bucket_exists(error_bucket).await.expect("head"),
        "error bucket deleted"
    );
    assert!(
        s3.bucket_exists(&input).await.expect("head"),
        "input bucket kept"
    );
}

/// The AWS SDK's standard `AWS_ENDPOINT_URL`, without `LETSDATA_AWS_ENDPOINT`, puts the buckets
/// in S3 at that endpoint too (not only the stream, queue and table clients, which the SDK
/// points there itself): a dataset reads its input from S3 and writes its output there.
#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn aws_endpoint_url_puts_the_buckets_in_s3() {
    let Some(endpoint) = endpoint() else { return };
    let s3 = ObjectStores::s3(settings(&endpoint));
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..10];
    let input = format!("input-{suffix}");
    s3.create_bucket(&input).await.expect("create input bucket");
    s3.bucket(&input)
        .expect("bucket")
        .put("a.jsonl", Bytes::from(jsonl(0, 500)))
        .await
        .expect("put");

    let mut home = TestHome::new();
    home.env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1");
    let mut cfg = config(
        &format!("EndpointUrl{suffix}"),
        &input,
        json!({"builtinParser": "jsonl", "documentIdField": "id"}),
        &["a.jsonl"],
    );
    cfg["accessGrantRoleArn"] = json!("arn:aws:iam::123456789012:role/LetsDataAccess");
    cfg["customerAccountForAccess"] = json!("123456789012");
    let (home, run) = tokio::task::spawn_blocking(move || {
        let r = home.create(&cfg);
        (home, r)
    })
    .await
    .expect("join");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ds = run.json();
    assert_eq!(ds["datasetStatus"], "COMPLETED", "{ds}");
    assert_eq!(ds["resources"]["objectStore"], format!("s3:{endpoint}"));
    assert_eq!(ds["datasetProgress"]["documentsWritten"], 500);
    assert!(
        !home.home().join("buckets").exists(),
        "no local buckets with AWS_ENDPOINT_URL"
    );

    let write_bucket = ds["resources"]["writeBucket"]
        .as_str()
        .expect("write bucket");
    let wb = s3.bucket(write_bucket).expect("bucket");
    let mut ids = Vec::new();
    for o in wb.list("").await.expect("list") {
        let data = wb.read_all(&o.key).await.expect("read");
        for line in std::str::from_utf8(&data).expect("utf8").lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("doc");
            ids.push(v["id"].as_u64().expect("id"));
        }
    }
    ids.sort_unstable();
    assert_eq!(ids, (0..500).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
async fn missing_customer_bucket_in_s3_is_a_clear_error() {
    let Some(endpoint) = endpoint() else { return };
    let mut home = TestHome::new();
    home.env("LETSDATA_AWS_ENDPOINT", &endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing");
    let mut cfg = config(
        "NoSuchInput",
        "no-such-bucket-here",
        json!({"builtinParser": "jsonl"}),
        &["a.jsonl"],
    );
    cfg["accessGrantRoleArn"] = json!("arn:aws:iam::123456789012:role/LetsDataAccess");
    cfg["customerAccountForAccess"] = json!("123456789012");
    let run = tokio::task::spawn_blocking(move || home.create(&cfg))
        .await
        .expect("join");
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("readConnector.bucketName: bucket \"no-such-bucket-here\" does not exist"),
        "{}",
        run.stderr
    );
}
