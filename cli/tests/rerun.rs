//! `timeoutInSeconds: 1` on a large file: the task checkpoints and re-queues itself (RERUN)
//! before each invocation's budget runs out, and finishes through more than one invocation with
//! every document written once.

mod common;

use common::{TestHome, config};
use serde_json::json;

#[test]
fn short_timeout_finishes_through_several_rerun_invocations() {
    let home = TestHome::new();
    const LINES: u64 = 3_000_000;
    let mut data = String::with_capacity((LINES * 70) as usize);
    for i in 0..LINES {
        data.push_str(&format!(
            "{{\"id\":{i},\"event\":\"click\",\"value\":{}}}\n",
            i * 7
        ));
    }
    // Uncompressed, so each RERUN resumes with a ranged read at the checkpoint offset.
    home.put("bigbucket", "big.jsonl", data.as_bytes());
    drop(data);
    let mut cfg = config(
        "Rerun",
        "bigbucket",
        json!({"builtinParser": "jsonl"}),
        &["big.jsonl"],
    );
    cfg["computeEngine"] = json!({"computeEngineType": "Lambda", "concurrency": 1, "timeoutInSeconds": 1, "logLevel": "INFO"});
    let run = home.create(&cfg);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ds = run.json();
    assert_eq!(ds["datasetStatus"], "COMPLETED");
    assert_eq!(ds["datasetProgress"]["documentsWritten"], LINES);

    let tasks = home.tasks("Rerun");
    let logs = tasks[0]["taskExecutionLogs"].as_array().expect("logs");
    let reruns = logs.iter().filter(|l| l["outcome"] == "RERUN").count();
    // How many depends on the machine's speed (each invocation works 0.8 s); one re-queue
    // and resume is what is checked, with every document written once below.
    assert!(
        reruns >= 1,
        "expected RERUN invocations, got {reruns}: {logs:?}"
    );
    assert_eq!(logs.last().expect("last")["outcome"], "COMPLETED");

    let mut ids: Vec<u64> = home
        .lines(ds["resources"]["writeBucket"].as_str().expect("b"), "Rerun")
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["id"]
                .as_u64()
                .expect("id")
        })
        .collect();
    assert_eq!(ids.len() as u64, LINES);
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len() as u64, LINES, "no duplicates");

    // The task log (logLevel INFO) records each re-queue.
    let log_dir = home
        .home()
        .join("datasets")
        .join(ds["datasetId"].as_str().expect("id"))
        .join("logs");
    let task_id = tasks[0]["taskId"].as_str().expect("task id");
    let log = std::fs::read_to_string(log_dir.join(format!("{task_id}.log"))).expect("task log");
    assert!(log.matches("RERUN").count() >= reruns, "{log}");
    assert!(
        !log.contains("DEBUG"),
        "DEBUG lines are filtered out at INFO"
    );
}
