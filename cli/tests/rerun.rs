//! A task whose invocation budget runs out checkpoints and re-queues itself (RERUN); the next
//! invocation resumes with a ranged read at the checkpoint's offset. The budget ends at a step
//! the test chooses (the failpoint `invocation-budget`), not by the clock: every invocation
//! after the first handles one buffer of input and re-queues, so the file is read in many
//! invocations, each from exactly where the one before checkpointed.

#![cfg(feature = "failpoints")]

mod common;

use common::{TestHome, config};
use serde_json::json;

/// The numbers `key` is followed by in each line of `log` containing it (`from byte 123`).
fn numbers_after(log: &str, key: &str) -> Vec<u64> {
    log.lines()
        .filter_map(|l| {
            let rest = &l[l.find(key)? + key.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

#[test]
fn each_rerun_invocation_reads_from_its_checkpoint() {
    let mut home = TestHome::new();
    const LINES: u64 = 300_000;
    let mut data = String::with_capacity((LINES * 50) as usize);
    for i in 0..LINES {
        data.push_str(&format!(
            "{{\"id\":{i},\"event\":\"click\",\"value\":{}}}\n",
            i * 7
        ));
    }
    let size = data.len() as u64;
    // Uncompressed, so each RERUN resumes with a ranged read at the checkpoint offset.
    home.put("bigbucket", "big.jsonl", data.as_bytes());
    drop(data);
    home.env("LETSDATA_FAILPOINTS", "invocation-budget=2*off->return");
    let mut cfg = config(
        "Rerun",
        "bigbucket",
        json!({"builtinParser": "jsonl"}),
        &["big.jsonl"],
    );
    cfg["computeEngine"] = json!({"computeEngineType": "Lambda", "concurrency": 1,
        "timeoutInSeconds": 900, "logLevel": "INFO"});
    let run = home.create(&cfg);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ds = run.json();
    assert_eq!(ds["datasetStatus"], "COMPLETED");
    assert_eq!(ds["datasetProgress"]["documentsWritten"], LINES);

    let tasks = home.tasks("Rerun");
    let logs = tasks[0]["taskExecutionLogs"].as_array().expect("logs");
    let reruns = logs.iter().filter(|l| l["outcome"] == "RERUN").count();
    assert!(
        reruns >= 5,
        "expected many RERUN invocations, got {reruns}: {logs:?}"
    );
    assert_eq!(logs.last().expect("last")["outcome"], "COMPLETED");

    let mut ids =
        common::ids(&home.lines(ds["resources"]["writeBucket"].as_str().expect("b"), "Rerun"));
    assert_eq!(ids.len() as u64, LINES);
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len() as u64, LINES, "no duplicates");

    // The task log (logLevel INFO) says where each invocation read the file from and where
    // each RERUN checkpointed: the reads start at 0, then at each checkpoint in turn, and
    // together cover the file once.
    let log_dir = home
        .home()
        .join("datasets")
        .join(ds["datasetId"].as_str().expect("id"))
        .join("logs");
    let task_id = tasks[0]["taskId"].as_str().expect("task id");
    let log = std::fs::read_to_string(log_dir.join(format!("{task_id}.log"))).expect("task log");
    assert!(
        !log.contains("skipping to offset"),
        "a ranged read each time: {log}"
    );
    let reads = numbers_after(&log, "reading big.jsonl from byte ");
    let checkpoints = numbers_after(&log, "nearly used: checkpointed at offset ");
    assert_eq!(checkpoints.len(), reruns, "{log}");
    assert_eq!(reads.len(), reruns + 1, "one read per invocation: {log}");
    assert_eq!(reads[0], 0);
    assert_eq!(
        &reads[1..],
        &checkpoints[..],
        "each read starts at the last checkpoint"
    );
    assert!(
        checkpoints.windows(2).all(|w| w[0] < w[1]) && checkpoints.last() <= Some(&size),
        "each invocation goes on: {checkpoints:?} of {size} bytes"
    );
    assert!(
        !log.contains("DEBUG"),
        "DEBUG lines are filtered out at INFO"
    );
}
