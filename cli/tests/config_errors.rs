//! Invalid configurations exit non-zero, name every problem with its JSON path, and create
//! nothing.

mod common;

use common::{TestHome, config};
use serde_json::json;

fn assert_nothing_created(home: &TestHome) {
    let list = home.run(&["datasets", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert_eq!(list.json(), json!([]));
    assert!(
        !home.home().join("datasets").exists(),
        "no dataset directory"
    );
    let buckets: Vec<String> = std::fs::read_dir(home.home().join("buckets"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        buckets.iter().all(|b| !b.starts_with("ld-")),
        "no bucket created: {buckets:?}"
    );
}

#[test]
fn every_problem_is_reported_with_its_path() {
    let home = TestHome::new();
    home.bucket("input-bucket");
    let mut cfg = config(
        "Bad_Name",
        "input-bucket",
        json!({"builtinParser": "jsonx"}),
        &["a.jsonl"],
    );
    cfg["region"] = json!("mars-north-1");
    cfg["readConnector"]["bucketNmae"] = json!("x");
    cfg["computeEngine"]["concurrency"] = json!(0);
    cfg["manifestFile"]["readerType"] = json!("Single File State Machine Reader");
    let run = home.create(&cfg);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    for needle in [
        "datasetName:",
        "region:",
        "us-east-1",
        "readConnector.builtinParser:",
        "jsonl",
        "readConnector.bucketNmae: unknown field",
        "did you mean \"bucketName\"",
        "computeEngine.concurrency:",
        "manifestFile.readerType:",
    ] {
        assert!(
            run.stderr.contains(needle),
            "missing {needle:?} in:\n{}",
            run.stderr
        );
    }
    assert!(!run.stderr.contains("panicked") && !run.stderr.contains("backtrace"));
    assert_nothing_created(&home);
}

/// A stream read with no AWS credentials and no endpoint anywhere: `datasets create` says at once
/// what is missing and what to set, instead of the SDK's instance metadata time-outs.
#[test]
fn a_stream_without_aws_credentials_or_endpoint_says_what_to_set() {
    // Local: a server would run with the test's environment, not the one made here.
    let home = TestHome::local();
    let empty_home = tempfile::tempdir().expect("temp dir");
    let mut cfg = config("NoCredentials", "unused-bucket", json!({}), &[]);
    cfg["readConnector"] = json!({
        "connectorDestination": "KINESIS",
        "readerType": "KINESISSTREAMREADER",
        "streamArn": "arn:aws:kinesis:us-east-1:123456789012:stream/clicks",
        "resourceLocation": "Customer",
        "artifactImplementationLanguage": "Builtin",
    });
    cfg["manifestFile"] = json!({
        "manifestType": "KinesisStreamReaderManifest",
        "kinesisReaderTaskStopCondition": "StopWhenNoNewRecords",
    });
    let mut command = home.create_command(&cfg);
    // No AWS_* variable at all (credentials, profile, endpoint, AWS_EC2_METADATA_DISABLED), and
    // a HOME without ~/.aws.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("AWS_") {
            command.env_remove(key);
        }
    }
    command.env("HOME", empty_home.path());
    let started = std::time::Instant::now();
    let run: common::Run = command.output().expect("run letsdata").into();
    let took = started.elapsed();

    assert_ne!(run.code, 0, "create succeeded:\n{}", run.stdout);
    for needle in [
        "readConnector.streamArn: cannot reach the Kinesis stream \"clicks\" in region us-east-1",
        "no AWS credentials were found (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or a role)",
        "no endpoint (LETSDATA_AWS_ENDPOINT or AWS_ENDPOINT_URL) is set",
    ] {
        assert!(
            run.stderr.contains(needle),
            "missing {needle:?} in:\n{}",
            run.stderr
        );
    }
    for noise in ["IMDS", "dispatch failure", "panicked"] {
        assert!(!run.stderr.contains(noise), "{noise:?} in:\n{}", run.stderr);
    }
    assert!(
        took < std::time::Duration::from_secs(5),
        "took {took:?}: credentials were looked for where there can be none"
    );
    assert_nothing_created(&home);
}

#[test]
fn enum_values_are_case_and_space_insensitive() {
    let home = TestHome::new();
    home.put("input-bucket", "a.jsonl", b"{\"a\":1}\n");
    let mut cfg = config(
        "Spelled",
        "input-bucket",
        json!({"builtinParser": "JSONL"}),
        &["a.jsonl"],
    );
    cfg["readConnector"]["readerType"] = json!("SINGLEFILEREADER");
    cfg["readConnector"]["connectorDestination"] = json!("s3");
    cfg["writeConnector"]["resourceLocation"] = json!("letsdata");
    cfg["computeEngine"]["computeEngineType"] = json!("LAMBDA");
    cfg["manifestFile"]["readerType"] = json!("single file reader");
    let run = home.create(&cfg);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["datasetStatus"], "COMPLETED");
}

#[test]
fn missing_customer_resources_are_reported_before_anything_is_created() {
    let home = TestHome::new();
    let mut cfg = config(
        "NoBuckets",
        "nowhere-bucket",
        json!({"builtinParser": "jsonl"}),
        &["a.jsonl"],
    );
    cfg["errorConnector"] = json!({"connectorDestination": "S3", "resourceLocation": "Customer", "bucketName": "no-error-bucket"});
    let run = home.create(&cfg);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("readConnector.bucketName: bucket \"nowhere-bucket\" does not exist"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("errorConnector.bucketName: bucket \"no-error-bucket\" does not exist"),
        "{}",
        run.stderr
    );
    assert_nothing_created(&home);

    // A manifest link to an object that does not exist.
    home.bucket("manifests");
    home.bucket("nowhere-bucket");
    let mut cfg = config(
        "NoManifest",
        "nowhere-bucket",
        json!({"builtinParser": "jsonl"}),
        &["a.jsonl"],
    );
    cfg["manifestFile"] = json!({"manifestType": "S3ReaderS3LinkManifestFile", "readerType": "SINGLEFILEREADER", "manifestFileS3Uri": "s3://manifests/m.txt"});
    let run = home.create(&cfg);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(
            "manifestFile.manifestFileS3Uri: the manifest s3://manifests/m.txt does not exist"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn s3_link_manifest_and_escaping_keys() {
    let home = TestHome::new();
    home.put("data-bucket", "x/1.jsonl", b"{\"a\":1}\n{\"a\":2}\n");
    home.put("manifests", "m.txt", b"x/1.jsonl\n\n");
    let mut cfg = config(
        "Linked",
        "data-bucket",
        json!({"builtinParser": "jsonl"}),
        &["unused"],
    );
    cfg["manifestFile"] = json!({"manifestType": "S3ReaderS3LinkManifestFile", "readerType": "SINGLEFILEREADER", "manifestFileS3Uri": "s3://manifests/m.txt", "readerManifestResourceLocation": "Customer"});
    let run = home.create(&cfg);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["datasetProgress"]["documentsWritten"], 2);

    let cfg = config(
        "Escape",
        "data-bucket",
        json!({"builtinParser": "jsonl"}),
        &["../../etc/passwd"],
    );
    let run = home.create(&cfg);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("manifestFile.fileContents"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(".."), "{}", run.stderr);
}

#[test]
fn duplicate_names_bad_json_and_unknown_datasets() {
    let home = TestHome::new();
    home.put("input-bucket", "a.jsonl", b"{\"a\":1}\n");
    let cfg = config(
        "Once",
        "input-bucket",
        json!({"builtinParser": "jsonl"}),
        &["a.jsonl"],
    );
    assert_eq!(home.create(&cfg).code, 0);
    let again = home.create(&cfg);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);

    let path = home.home().join("broken.json");
    std::fs::write(&path, "{\"datasetName\": ").expect("write");
    let run = home.run(&[
        "datasets",
        "create",
        "--configFile",
        path.to_str().expect("utf8"),
    ]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("not valid JSON"), "{}", run.stderr);

    let run = home.run(&["datasets", "view", "--datasetName", "Nope"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("dataset \"Nope\" does not exist"),
        "{}",
        run.stderr
    );
    let run = home.run(&["tasks", "view", "--datasetName", "Once", "--taskId", "nope"]);
    assert_eq!(run.code, 1);
    let run = home.run(&[
        "tasks",
        "list",
        "--datasetName",
        "Once",
        "--taskStatus",
        "DONE",
    ]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("accepted values"), "{}", run.stderr);
}

#[test]
fn detach_then_run() {
    // `--detach`, then `letsdata run`: the local store's workflow.
    let home = TestHome::local();
    home.put("input-bucket", "a.jsonl", b"{\"a\":1}\n{\"a\":2}\n");
    let cfg = config(
        "Detached",
        "input-bucket",
        json!({"builtinParser": "jsonl"}),
        &["a.jsonl"],
    );
    let path = home.config("Detached", &cfg);
    let run = home.run(&[
        "datasets",
        "create",
        "--configFile",
        path.to_str().expect("utf8"),
        "--detach",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["datasetStatus"], "CREATED");
    assert_eq!(home.view("Detached")["datasetStatus"], "CREATED");
    let run = home.run(&["run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(home.view("Detached")["datasetStatus"], "COMPLETED");
    // Nothing left to do: run exits at once with an empty list.
    let run = home.run(&["run"]);
    assert_eq!(run.code, 0);
    assert_eq!(run.json(), json!([]));
}

#[test]
fn a_manifest_gone_before_initialization_fails_that_step_clearly() {
    // `--detach`, then `letsdata run`: the local store's workflow.
    let home = TestHome::local();
    home.put("data-bucket", "x.jsonl", b"{\"a\":1}\n");
    home.put("manifests", "m.txt", b"x.jsonl\n");
    let mut cfg = config(
        "Vanished",
        "data-bucket",
        json!({"builtinParser": "jsonl"}),
        &["unused"],
    );
    cfg["manifestFile"] = json!({"manifestType": "S3ReaderS3LinkManifestFile", "readerType": "SINGLEFILEREADER", "manifestFileS3Uri": "s3://manifests/m.txt"});
    let path = home.config("Vanished", &cfg);
    let run = home.run(&[
        "datasets",
        "create",
        "--configFile",
        path.to_str().expect("utf8"),
        "--detach",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    std::fs::remove_file(home.bucket("manifests").join("m.txt")).expect("remove manifest");

    let run = home.run(&["run"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let ds = home.view("Vanished");
    assert_eq!(ds["datasetStatus"], "ERRORED");
    let step = &ds["initializationWorkflow"]["Create Tasks (1/2)"];
    assert_eq!(step["status"], "ERROR");
    assert!(
        step["message"]
            .as_str()
            .unwrap_or("")
            .contains("s3://manifests/m.txt does not exist"),
        "{step}"
    );
    assert_eq!(
        ds["initializationWorkflow"]["Finalize Initialization"],
        json!({}),
        "later steps not started"
    );
    assert!(
        ds["lastError"]
            .as_str()
            .unwrap_or("")
            .contains("Create Tasks (1/2)")
    );
}
