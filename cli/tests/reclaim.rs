//! descale → freeze → delete: output readable after freeze and gone after delete; refused
//! actions; the name cannot be reused.

mod common;

use common::{TestHome, config, jsonl};
use serde_json::json;

#[test]
fn descale_freeze_delete() {
    let home = TestHome::new();
    let mut data = jsonl(0, 100);
    data.push_str("{bad\n");
    home.put("reclaim-in", "a.jsonl", data.as_bytes());
    let cfg = config(
        "Reclaim",
        "reclaim-in",
        json!({"builtinParser": "jsonl"}),
        &["a.jsonl"],
    );
    let run = home.create(&cfg);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ds = run.json();
    let write_bucket = ds["resources"]["writeBucket"]
        .as_str()
        .expect("b")
        .to_string();
    let error_bucket = ds["resources"]["errorBucket"]
        .as_str()
        .expect("b")
        .to_string();
    let dataset_dir = home
        .home()
        .join("datasets")
        .join(ds["datasetId"].as_str().expect("id"));

    // Freeze needs a finished dataset; delete of a finished one is fine; redrive is refused.
    let r = home.run(&["datasets", "descale", "--datasetName", "Reclaim"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ds = r.json();
    assert_eq!(ds["datasetStatus"], "DESCALED");
    assert_eq!(
        ds["descaleWorkflow"]["Compute Engine - Release Data Task Function Concurrency"]["status"],
        "COMPLETED"
    );
    let again = home.run(&["datasets", "descale", "--datasetName", "Reclaim"]);
    assert_eq!(again.code, 1);
    assert!(
        again
            .stderr
            .contains("cannot descale dataset in status DESCALED"),
        "{}",
        again.stderr
    );
    assert!(
        again.stderr.contains("allowed actions in DESCALED"),
        "{}",
        again.stderr
    );

    let r = home.run(&["datasets", "freeze", "--datasetName", "Reclaim"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ds = r.json();
    assert_eq!(ds["datasetStatus"], "FROZEN");
    assert_eq!(
        ds["freezeWorkflow"]["Delete Internal Task Database"]["status"],
        "COMPLETED"
    );
    assert!(
        !dataset_dir.join("tasks.db").exists(),
        "task database reclaimed"
    );
    // Output, errors and the final progress stay readable.
    assert_eq!(home.lines(&write_bucket, "Reclaim").len(), 100);
    assert_eq!(home.lines(&error_bucket, "Reclaim").len(), 1);
    assert_eq!(
        home.view("Reclaim")["datasetProgress"]["documentsWritten"],
        100
    );
    let errors = home.run(&["errors", "list", "--datasetName", "Reclaim"]);
    assert_eq!(errors.code, 0, "{}", errors.stderr);
    assert_eq!(errors.json()[0]["errorRecords"], 1);
    let tasks = home.run(&["tasks", "list", "--datasetName", "Reclaim"]);
    assert_eq!(tasks.code, 1);
    assert!(
        tasks.stderr.contains("task database was reclaimed"),
        "{}",
        tasks.stderr
    );
    let redrive = home.run(&["tasks", "redrive", "--datasetName", "Reclaim"]);
    assert_eq!(redrive.code, 1);

    let r = home.run(&["datasets", "delete", "--datasetName", "Reclaim"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ds = r.json();
    assert_eq!(ds["datasetStatus"], "DELETED");
    for step in [
        "Write Connector - Delete S3 Bucket",
        "Error Connector - Delete Error Bucket",
        "Delete Dataset Files",
    ] {
        assert_eq!(ds["deleteWorkflow"][step]["status"], "COMPLETED", "{step}");
    }
    assert!(
        !home.home().join("buckets").join(&write_bucket).exists(),
        "output bucket deleted"
    );
    assert!(
        !home.home().join("buckets").join(&error_bucket).exists(),
        "error bucket deleted"
    );
    assert!(!dataset_dir.exists(), "dataset files deleted");
    assert!(
        home.home()
            .join("buckets")
            .join("reclaim-in")
            .join("a.jsonl")
            .exists(),
        "Customer input untouched"
    );
    assert_eq!(
        home.view("Reclaim")["datasetStatus"],
        "DELETED",
        "tombstone"
    );
    let again = home.run(&["datasets", "delete", "--datasetName", "Reclaim"]);
    assert_eq!(again.code, 1);
    let reuse = home.create(&cfg);
    assert_eq!(reuse.code, 1);
    assert!(
        reuse
            .stderr
            .contains("was deleted; names of deleted datasets cannot be reused"),
        "{}",
        reuse.stderr
    );
}
