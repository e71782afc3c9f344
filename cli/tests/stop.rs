//! `letsdata tasks stop` from a second process: the running tasks checkpoint and stop, the
//! dataset goes STOPPING_ERROR → ERRORED, and a redrive finishes the work exactly once.

mod common;

use common::{TestHome, config, jsonl, wait_until};
use serde_json::json;

const FILES: u64 = 30;
const LINES: u64 = 40_000;

#[test]
fn stop_a_running_dataset_then_redrive_it() {
    let mut home = TestHome::new();
    home.env("LETSDATA_HEARTBEAT_SECONDS", "1")
        .env("LETSDATA_PART_SIZE_BYTES", "500000");
    let mut manifest = Vec::new();
    for f in 0..FILES {
        home.put(
            "stop-in",
            &format!("f{f}.jsonl"),
            jsonl(f * LINES, LINES).as_bytes(),
        );
        manifest.push(format!("f{f}.jsonl"));
    }
    let manifest: Vec<&str> = manifest.iter().map(String::as_str).collect();
    let cfg = config(
        "Stopper",
        "stop-in",
        json!({"builtinParser": "jsonl"}),
        &manifest,
    );
    let mut child = home.spawn_create(&cfg);
    wait_until(&mut child, "a task completed", || {
        !home.tasks_now("Stopper", Some("COMPLETED")).is_empty()
    });

    let stop = home.run(&["tasks", "stop", "--datasetName", "Stopper"]);
    assert_eq!(stop.code, 0, "{}", stop.stderr);
    assert_eq!(stop.json()["datasetStatus"], "ERRORED");
    let status = child.wait().expect("wait");
    assert_eq!(
        status.code(),
        Some(3),
        "the running `datasets create` ends with the dataset ERRORED"
    );

    let tasks = home.tasks("Stopper");
    assert!(
        tasks
            .iter()
            .all(|t| t["taskStatus"] == "COMPLETED" || t["taskStatus"] == "ERRORED"),
        "nothing left running"
    );
    let stopped: Vec<&serde_json::Value> = tasks
        .iter()
        .filter(|t| t["taskStatus"] == "ERRORED")
        .collect();
    assert!(!stopped.is_empty(), "some tasks were stopped");
    assert!(stopped.iter().all(|t| {
        t["lastError"]
            .as_str()
            .unwrap_or("")
            .contains("stopped by request")
    }));

    // Refused once it is no longer processing.
    let again = home.run(&["tasks", "stop", "--datasetName", "Stopper"]);
    assert_eq!(again.code, 1);
    assert!(
        again
            .stderr
            .contains("cannot stop dataset in status ERRORED"),
        "{}",
        again.stderr
    );

    // Redrive: the stopped tasks resume from their checkpoints; every document once.
    let run = home.run(&["tasks", "redrive", "--datasetName", "Stopper"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ds = run.json();
    assert_eq!(ds["datasetStatus"], "COMPLETED");
    assert_eq!(ds["datasetProgress"]["documentsWritten"], FILES * LINES);
    let mut seen = vec![0u8; (FILES * LINES) as usize];
    for line in home.lines(
        ds["resources"]["writeBucket"].as_str().expect("bucket"),
        "Stopper",
    ) {
        let doc: serde_json::Value = serde_json::from_str(&line).expect("doc");
        seen[doc["id"].as_u64().expect("id") as usize] += 1;
    }
    assert!(seen.iter().all(|n| *n == 1), "every document exactly once");
}

#[test]
fn actions_are_refused_while_a_stop_is_in_progress() {
    let home = TestHome::new();
    let lines = 1_000_000;
    for f in 0..2 {
        home.put(
            "busy-in",
            &format!("f{f}.jsonl"),
            jsonl(f * lines, lines).as_bytes(),
        );
    }
    let cfg = config(
        "Busy",
        "busy-in",
        json!({"builtinParser": "jsonl"}),
        &["f0.jsonl", "f1.jsonl"],
    );
    let mut child = home.spawn_create(&cfg);
    wait_until(&mut child, "both tasks are running", || {
        home.tasks_now("Busy", Some("PROCESSING")).len() == 2
    });
    // The worker is held (SIGSTOP) so that it cannot notice the stop: the dataset stays
    // STOPPING_ERROR until the test lets it go, however slow the machine.
    common::signal(child.id(), "-STOP");
    let mut stop = home
        .command(&["tasks", "stop", "--datasetName", "Busy"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn stop");
    wait_until(&mut stop, "the dataset is STOPPING_ERROR", || {
        home.view("Busy")["datasetStatus"] == "STOPPING_ERROR"
    });
    for args in [
        vec![
            "datasets",
            "compute",
            "update",
            "--datasetName",
            "Busy",
            "--concurrency",
            "4",
        ],
        vec!["datasets", "delete", "--datasetName", "Busy"],
        vec!["tasks", "redrive", "--datasetName", "Busy"],
        vec!["tasks", "stop", "--datasetName", "Busy"],
    ] {
        let r = home.run(&args);
        assert_eq!(r.code, 1, "{args:?} must be refused");
        assert!(
            r.stderr.contains("STOPPING_ERROR"),
            "{args:?}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("transient status"),
            "{args:?}: {}",
            r.stderr
        );
    }
    assert_eq!(
        home.view("Busy")["datasetStatus"],
        "STOPPING_ERROR",
        "held while the worker is"
    );
    common::signal(child.id(), "-CONT");
    assert!(stop.wait().expect("stop").success());
    child.wait().expect("create");
    assert_eq!(home.view("Busy")["datasetStatus"], "ERRORED");
}
