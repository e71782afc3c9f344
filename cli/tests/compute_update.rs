//! `datasets compute update` from a second process while the dataset is processing: the new
//! concurrency applies without restarting it. The worker is held once its first task's end is
//! recorded by a failpoint (`task-finished`), so the update lands while work is left, however
//! fast the machine.

#![cfg(feature = "failpoints")]

mod common;

use common::{TestHome, config, jsonl};
use serde_json::json;
use std::time::{Duration, Instant};

const FILES: u64 = 16;
/// Lines per file: a task takes far longer than claiming the next one, so tasks claimed
/// together overlap.
const LINES: u64 = 20_000;

/// The most invocations running at the same moment, from the task execution logs.
fn max_parallel(tasks: &[serde_json::Value], from: i64) -> usize {
    let intervals: Vec<(i64, i64)> = common::execution_logs(tasks)
        .iter()
        .filter_map(|l| Some((l["startDatetime"].as_i64()?, l["endDatetime"].as_i64()?)))
        .filter(|(s, _)| *s >= from)
        .collect();
    intervals
        .iter()
        .map(|(s, _)| {
            intervals
                .iter()
                .filter(|(s2, e2)| s2 <= s && s < e2)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn concurrency_update_applies_to_a_processing_dataset() {
    let home = TestHome::new();
    let mut manifest = Vec::new();
    for f in 0..FILES {
        home.put(
            "compute-in",
            &format!("f{f}.jsonl"),
            jsonl(f * LINES, LINES).as_bytes(),
        );
        manifest.push(format!("f{f}.jsonl"));
    }
    let manifest: Vec<&str> = manifest.iter().map(String::as_str).collect();
    let mut cfg = config(
        "Resize",
        "compute-in",
        json!({"builtinParser": "jsonl"}),
        &manifest,
    );
    cfg["computeEngine"]["concurrency"] = json!(1);
    // Stopped (SIGSTOP) once the first task's end is recorded (its slot may have taken the
    // next one already: it is freed once the final part is staged; the intervals below tell
    // how many ran at once).
    let mut child = home.spawn_held(&cfg, "task-finished=1*return(stop)");
    let pid = child.id();
    let stopped_at = Instant::now();
    assert_eq!(home.tasks_now("Resize", Some("COMPLETED")).len(), 1);

    // A bad value is refused and changes nothing.
    let bad = home.run(&[
        "datasets",
        "compute",
        "update",
        "--datasetName",
        "Resize",
        "--concurrency",
        "0",
    ]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("computeEngine.concurrency"),
        "{}",
        bad.stderr
    );

    // A worker reads the compute settings again at its first step a second or more after it
    // last read them: held that long, it reads them as soon as it continues.
    if let Some(rest) = Duration::from_millis(1200).checked_sub(stopped_at.elapsed()) {
        std::thread::sleep(rest);
    }
    let updated_at = letsdata_now();
    let update = home.run(&[
        "datasets",
        "compute",
        "update",
        "--datasetName",
        "Resize",
        "--concurrency",
        "3",
        "--logLevel",
        "info",
    ]);
    assert_eq!(update.code, 0, "{}", update.stderr);
    let ds = update.json();
    assert_eq!(ds["datasetStatus"], "PROCESSING", "back from UPDATING");
    assert_eq!(ds["computeEngine"]["concurrency"], 3);
    common::signal(pid, "-CONT");

    let status = child.wait().expect("wait");
    assert!(status.success(), "datasets create finished with {status}");
    let ds = home.view("Resize");
    assert_eq!(ds["datasetStatus"], "COMPLETED");
    assert_eq!(ds["datasetProgress"]["documentsWritten"], FILES * LINES);

    let tasks = home.tasks("Resize");
    let before: Vec<serde_json::Value> = tasks
        .iter()
        .filter(|t| {
            t["taskExecutionLogs"][0]["endDatetime"]
                .as_i64()
                .unwrap_or(i64::MAX)
                <= updated_at
        })
        .cloned()
        .collect();
    assert_eq!(before.len(), 1, "one task ended before the update");
    assert!(
        max_parallel(&before, 0) <= 1,
        "concurrency 1 before the update"
    );
    let after = max_parallel(&tasks, updated_at);
    assert!(
        (2..=3).contains(&after),
        "up to 3 tasks at once after the update, saw {after}"
    );
}

fn letsdata_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
