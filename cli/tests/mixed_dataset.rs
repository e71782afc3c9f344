//! A dataset with good files, a file with malformed records and a missing file ends ERRORED
//! with exact counts; every good record is in the output once, every bad one in the errors.

mod common;

use common::{TestHome, config, gzip, jsonl};
use serde_json::json;

#[test]
fn mixed_dataset_ends_errored_with_exact_counts() {
    let home = TestHome::new();
    home.put("input", "good/a.jsonl", jsonl(0, 500).as_bytes());
    // Two gzip members concatenated, CRLF line ends, no trailing newline.
    let mut multi = gzip(jsonl(500, 250).as_bytes());
    multi.extend(gzip(
        jsonl(750, 250).replace('\n', "\r\n").trim_end().as_bytes(),
    ));
    home.put("input", "good/b.jsonl.gz", &multi);
    let mut bad = jsonl(1000, 100);
    bad.push_str("{\"id\": 1100, \"broken\": \n");
    bad.push_str(&jsonl(1101, 99));
    bad.push_str("not json at all\n\n   \n");
    home.put("input", "bad/c.jsonl", bad.as_bytes());

    let cfg = config(
        "Mixed",
        "input",
        json!({"builtinParser": "jsonl", "documentIdField": "id"}),
        &[
            "good/a.jsonl",
            "good/b.jsonl.gz",
            "bad/c.jsonl",
            "missing/d.jsonl",
        ],
    );
    let run = home.create(&cfg);
    assert_eq!(
        run.code, 3,
        "an ERRORED dataset exits 3; stderr: {}",
        run.stderr
    );
    assert!(run.stderr.contains("finished ERRORED"), "{}", run.stderr);
    let ds = run.json();
    assert_eq!(ds["datasetStatus"], "ERRORED");
    let p = &ds["datasetProgress"];
    assert_eq!(p["totalTasks"], 4);
    assert_eq!(p["completedTasks"], 3);
    assert_eq!(p["erroredTasks"], 1);
    assert_eq!(p["recordsRead"], 1201);
    assert_eq!(p["documentsWritten"], 1199);
    assert_eq!(p["errorRecords"], 2);
    assert_eq!(ds["executionLogs"].as_array().map(Vec::len), Some(1));
    let steps = ds["initializationWorkflow"].as_object().expect("workflow");
    for step in [
        "Write Connector - Create S3 Bucket",
        "Error Connector - Create Error Bucket",
        "Create Internal Task Database",
        "Create Tasks (1/2)",
        "Finalize Initialization",
    ] {
        assert_eq!(steps[step]["status"], "COMPLETED", "step {step}");
    }

    // Every good record exactly once, in the order of each file.
    let write_bucket = ds["resources"]["writeBucket"].as_str().expect("bucket");
    let mut ids: Vec<u64> = home
        .lines(write_bucket, "Mixed")
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json doc")["id"]
                .as_u64()
                .expect("id")
        })
        .collect();
    ids.sort_unstable();
    let expected: Vec<u64> = (0..1200).filter(|i| *i != 1100).collect();
    assert_eq!(ids, expected);

    // Both bad records in the error bucket, with offsets and the raw record.
    let error_bucket = ds["resources"]["errorBucket"].as_str().expect("bucket");
    let errors: Vec<serde_json::Value> = home
        .lines(error_bucket, "Mixed")
        .iter()
        .map(|l| serde_json::from_str(l).expect("error record"))
        .collect();
    assert_eq!(errors.len(), 2);
    for e in &errors {
        assert_eq!(e["datasetName"], "Mixed");
        assert_eq!(e["fileName"], "bad/c.jsonl");
        let start: u64 = e["errorStartOffsetMap"]["DATA"]
            .as_str()
            .expect("start")
            .parse()
            .expect("n");
        let end: u64 = e["errorEndOffsetMap"]["DATA"]
            .as_str()
            .expect("end")
            .parse()
            .expect("n");
        assert_eq!(
            &bad.as_bytes()[start as usize..end as usize],
            e["rawRecord"].as_str().expect("raw").as_bytes()
        );
        assert!(!e["errorMessage"].as_str().unwrap_or("").is_empty());
    }
    assert_eq!(errors[1]["rawRecord"], "not json at all");

    // The missing file: that task ERRORED with a clear lastError.
    let errored = home.run(&[
        "tasks",
        "list",
        "--datasetName",
        "Mixed",
        "--taskStatus",
        "ERRORED",
    ]);
    assert_eq!(errored.code, 0);
    let errored = errored.json();
    let errored = errored.as_array().expect("array");
    assert_eq!(errored.len(), 1);
    let last_error = errored[0]["lastError"].as_str().expect("lastError");
    assert!(
        last_error.contains("missing/d.jsonl") && last_error.contains("does not exist"),
        "{last_error}"
    );

    // errors list / errors view: the archived error records, per task.
    let bad_task = home
        .tasks("Mixed")
        .into_iter()
        .find(|t| t["taskDefinition"]["manifestLine"] == "bad/c.jsonl")
        .expect("task c");
    let bad_id = bad_task["taskId"].as_str().expect("id").to_string();
    let list = home.run(&["errors", "list", "--datasetName", "Mixed"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let list = list.json();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["taskId"], bad_id.as_str());
    assert_eq!(list[0]["errorRecords"], 2);
    assert!(
        list[0]["errorFile"]
            .as_str()
            .expect("file")
            .starts_with(&format!("s3://{error_bucket}/Mixed/{bad_id}/part-"))
    );
    let view = home.run(&[
        "errors",
        "view",
        "--datasetName",
        "Mixed",
        "--taskId",
        &bad_id,
    ]);
    assert_eq!(view.code, 0, "{}", view.stderr);
    assert_eq!(view.json().as_array().map(Vec::len), Some(2));
    assert_eq!(view.json()[1]["rawRecord"], "not json at all");

    // logs view: at the default WARN level only the errored task logged something.
    let missing_id = errored[0]["taskId"].as_str().expect("id");
    let log = home.run(&[
        "logs",
        "view",
        "--datasetName",
        "Mixed",
        "--taskId",
        missing_id,
    ]);
    assert_eq!(log.code, 0, "{}", log.stderr);
    assert!(
        log.stdout.contains("ERROR") && log.stdout.contains("missing/d.jsonl does not exist"),
        "{}",
        log.stdout
    );
    let quiet = home.run(&[
        "logs",
        "view",
        "--datasetName",
        "Mixed",
        "--taskId",
        &bad_id,
    ]);
    assert_eq!(quiet.code, 0);
    assert_eq!(
        quiet.stdout, "",
        "nothing at WARN for a task that completed"
    );
    let unknown = home.run(&["logs", "view", "--datasetName", "Mixed", "--taskId", "nope"]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("does not exist in dataset"),
        "{}",
        unknown.stderr
    );

    // metrics view: per-minute metrics that add up to the dataset's totals.
    let metrics = home.run(&["metrics", "view", "--datasetName", "Mixed"]);
    assert_eq!(metrics.code, 0, "{}", metrics.stderr);
    let metrics = metrics.json();
    let minutes = metrics["metrics"].as_array().expect("minutes");
    assert!(!minutes.is_empty());
    let sum = |field: &str| {
        minutes
            .iter()
            .map(|m| m[field].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    assert_eq!(sum("tasksCompleted"), 3);
    assert_eq!(sum("tasksErrored"), 1);
    assert_eq!(sum("recordsRead"), 1201);
    assert_eq!(sum("documentsWritten"), 1199);
    assert_eq!(sum("errorRecords"), 2);
    assert!(minutes.iter().any(|m| {
        m["taskSuccessRate"]
            .as_f64()
            .is_some_and(|r| r > 0.0 && r <= 1.0)
    }));
    assert!(
        minutes
            .iter()
            .any(|m| m["averageTaskLatencyMillis"].is_u64())
    );

    // tasks view of a completed task shows its checkpoint and progress.
    let tasks = home.tasks("Mixed");
    let a = tasks
        .iter()
        .find(|t| t["taskDefinition"]["manifestLine"] == "good/a.jsonl")
        .expect("task a");
    let task_id = a["taskId"].as_str().expect("id");
    let view = home.run(&[
        "tasks",
        "view",
        "--datasetName",
        "Mixed",
        "--taskId",
        task_id,
        "--prettyPrint",
    ]);
    assert_eq!(view.code, 0);
    assert!(
        view.stdout.contains("\n  \"taskStatus\": \"COMPLETED\""),
        "pretty printed: {}",
        view.stdout
    );
    let v = view.json();
    assert_eq!(v["taskProgress"]["documentsWritten"], 500);
    assert_eq!(v["checkpoint"]["endOfInput"], true);
    // An uncompressed file's size is known: the task read all of it. A compressed file's
    // is not (its offsets are in decompressed bytes).
    let size = jsonl(0, 500).len();
    assert_eq!(v["taskProgress"]["inputBytes"], size, "{v:#}");
    assert_eq!(v["taskProgress"]["bytesRead"], size, "{v:#}");
    let b = tasks
        .iter()
        .find(|t| t["taskDefinition"]["manifestLine"] == "good/b.jsonl.gz")
        .expect("task b");
    assert!(b["taskProgress"].get("inputBytes").is_none(), "{b:#}");
    assert!(
        b["taskProgress"]["bytesRead"].as_u64().unwrap_or(0) > 0,
        "{b:#}"
    );
}

#[test]
fn csv_and_text_builtins_write_documents() {
    let home = TestHome::new();
    home.put(
        "inputs",
        "people.csv",
        b"name,city\n\"Smith, J\",Wellington\r\nAroha,\"Auckland\nNorth\"\nbad row\n",
    );
    home.put(
        "inputs",
        "log.txt",
        b"BEGIN one\nline\nEND\nnoise\nBEGIN two\nEND\n",
    );
    let cfg = config(
        "Csv",
        "inputs",
        json!({"builtinParser": "csv"}),
        &["people.csv"],
    );
    let run = home.create(&cfg);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ds = run.json();
    let docs = home.lines(ds["resources"]["writeBucket"].as_str().expect("b"), "Csv");
    assert_eq!(docs.len(), 2);
    let first: serde_json::Value = serde_json::from_str(&docs[0]).expect("json");
    assert_eq!(first, json!({"name": "Smith, J", "city": "Wellington"}));
    assert_eq!(ds["datasetProgress"]["errorRecords"], 1);

    let cfg = config(
        "Text",
        "inputs",
        json!({"builtinParser": "text", "recordStartPattern": "BEGIN", "recordEndPattern": "END\n"}),
        &["log.txt"],
    );
    let run = home.create(&cfg);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ds = run.json();
    let docs = home.lines(ds["resources"]["writeBucket"].as_str().expect("b"), "Text");
    let texts: Vec<String> = docs
        .iter()
        .map(|d| {
            serde_json::from_str::<serde_json::Value>(d).expect("json")["text"]
                .as_str()
                .expect("text")
                .to_string()
        })
        .collect();
    assert_eq!(texts.len(), 2, "{docs:?}");
    assert!(texts[0].starts_with("BEGIN one"), "{texts:?}");
    assert!(texts[1].starts_with("BEGIN two"), "{texts:?}");
}
