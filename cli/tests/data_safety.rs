//! Valid-looking configurations and hostile inputs that used to lose data or reach what
//! letsdata does not own: overlapping destinations, names for LetsData resources, links in
//! local buckets, repeated manifest lines, unusable tuning variables.

mod common;

use common::{TestHome, config, jsonl};
use serde_json::json;
use std::os::unix::fs::symlink;

/// Documents and error records in one bucket used to share part keys: a task without errors
/// then deleted its own document part. The input bucket as the output (LetsData) used to be
/// adopted and removed by `datasets delete`. Both are refused at create, naming the fields.
#[test]
fn overlapping_or_adopted_destinations_are_refused_at_create() {
    let home = TestHome::new();
    home.put("shared-in", "a.jsonl", jsonl(0, 10).as_bytes());
    home.bucket("shared-out");
    let mut cfg = config(
        "Shared",
        "shared-in",
        json!({"builtinParser": "jsonl",
        "documentIdField": "id"}),
        &["a.jsonl"],
    );
    for connector in ["writeConnector", "errorConnector"] {
        cfg[connector] = json!({"connectorDestination": "S3", "resourceLocation": "Customer",
            "bucketName": "shared-out"});
    }
    let run = home.create(&cfg);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stderr.contains(
            "errorConnector.bucketName: \"shared-out\" is also writeConnector.bucketName"
        ),
        "{}",
        run.stderr
    );

    let mut cfg = config(
        "Adopt",
        "shared-in",
        json!({"builtinParser": "jsonl",
        "documentIdField": "id"}),
        &["a.jsonl"],
    );
    cfg["writeConnector"]["bucketName"] = json!("shared-in");
    let run = home.create(&cfg);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stderr.contains(
            "writeConnector.bucketName: names the bucket, but with resourceLocation LetsData"
        ),
        "{}",
        run.stderr
    );
    cfg["writeConnector"]["resourceLocation"] = json!("Customer");
    let run = home.create(&cfg);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stderr
            .contains("is the bucket the dataset reads (readConnector.bucketName)"),
        "{}",
        run.stderr
    );
    let list = home.run(&["datasets", "list"]);
    assert_eq!(list.json(), json!([]), "nothing created");
    assert!(home.home().join("buckets/shared-in/a.jsonl").exists());
}

/// A link in a read bucket (to a file outside the home) is not read; a link in a LetsData
/// bucket (to a directory outside) does not make `datasets delete` remove what it points to.
#[test]
fn links_in_local_buckets_are_never_followed() {
    let home = TestHome::new();
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        outside.path().join("secret.jsonl"),
        "{\"id\":\"secret-1\"}\n{\"id\":\"secret-2\"}\n",
    )
    .expect("write");
    home.put("linked-in", "a.jsonl", jsonl(0, 50).as_bytes());
    symlink(
        outside.path().join("secret.jsonl"),
        home.bucket("linked-in").join("b.jsonl"),
    )
    .expect("ln");
    let cfg = config(
        "Linked",
        "linked-in",
        json!({"builtinParser": "jsonl",
        "documentIdField": "id"}),
        &["a.jsonl", "b.jsonl"],
    );
    let run = home.create(&cfg);
    assert_ne!(run.code, 0, "the linked file's task errors: {}", run.stderr);
    let ds = home.view("Linked");
    assert_eq!(ds["datasetProgress"]["documentsWritten"], 50, "{ds}");
    let errored = home.run(&[
        "tasks",
        "list",
        "--datasetName",
        "Linked",
        "--taskStatus",
        "ERRORED",
    ]);
    let errored = errored.json();
    let errored = errored.as_array().expect("array");
    assert_eq!(errored.len(), 1, "{errored:?}");
    let last_error = errored[0]["lastError"].as_str().expect("lastError");
    assert!(last_error.contains("is a symbolic link"), "{last_error}");
    let output = ds["resources"]["writeBucket"]
        .as_str()
        .expect("writeBucket")
        .to_string();
    let written = home.lines(&output, "");
    assert_eq!(written.len(), 50);
    assert!(
        written.iter().all(|l| !l.contains("secret")),
        "a linked file was read"
    );

    // A directory link placed in the LetsData output bucket survives as a link only.
    symlink(
        outside.path(),
        home.bucket(&output).join("Linked").join("escape"),
    )
    .expect("ln");
    let run = home.run(&["datasets", "delete", "--datasetName", "Linked"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        !home.home().join("buckets").join(&output).exists(),
        "the bucket is deleted"
    );
    assert!(
        outside.path().join("secret.jsonl").exists(),
        "delete followed a link out of the bucket"
    );
    assert!(home.home().join("buckets/linked-in/b.jsonl").is_symlink());
}

#[test]
fn repeated_manifest_lines_are_warned_about() {
    let home = TestHome::new();
    home.put("rep-in", "a.jsonl", jsonl(0, 5).as_bytes());
    home.put("rep-in", "b.jsonl", jsonl(5, 5).as_bytes());
    let cfg = config(
        "Repeated",
        "rep-in",
        json!({"builtinParser": "jsonl",
        "documentIdField": "id"}),
        &["a.jsonl", "b.jsonl", "a.jsonl"],
    );
    let run = home.create(&cfg);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("warning: Create Tasks (1/2): 1 manifest line repeats an earlier one (line 3 repeats line 1 (\"a.jsonl\"))"),
        "{}",
        run.stderr
    );
    let ds = run.json();
    assert_eq!(ds["datasetProgress"]["documentsWritten"], 15, "{ds}");
    let step = ds["initializationWorkflow"]["Create Tasks (1/2)"]["message"]
        .as_str()
        .expect("step message");
    assert!(step.contains("warning: 1 manifest line repeats"), "{step}");
}

#[test]
fn unusable_tuning_variables_are_refused() {
    for (var, value, needle) in [
        (
            "LETSDATA_LEASE_SECONDS",
            "30s",
            "LETSDATA_LEASE_SECONDS=\"30s\": expected the task lease in seconds",
        ),
        (
            "LETSDATA_HEARTBEAT_SECONDS",
            "60",
            "must be shorter than the lease",
        ),
        ("LETSDATA_PART_SIZE_BYTES", "0", "a whole number above 0"),
    ] {
        let mut home = TestHome::new();
        home.env(var, value);
        let run = home.run(&["datasets", "list"]);
        assert_eq!(run.code, 1, "{var}={value}: {}", run.stdout);
        assert!(run.stderr.contains(needle), "{}", run.stderr);
    }
}
