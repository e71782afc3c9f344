//! `letsdata tasks stop` from a second process: the running tasks checkpoint and stop, the
//! dataset goes STOPPING_ERROR → ERRORED, and a redrive finishes the work exactly once. The
//! worker is held (a failpoint's SIGSTOP, no store write in flight) while the stop is asked for,
//! so the dataset cannot finish first and the window cannot close, however fast the machine.

#![cfg(feature = "failpoints")]

mod common;

use common::{TestHome, config, jsonl, wait_until};
use serde_json::json;

const FILES: u64 = 30;
const LINES: u64 = 40_000;
/// Lines of the first file: its task ends long before the second one, which is running
/// when the worker is held after the first.
const FIRST_LINES: u64 = 2_000;

/// The lines of file `f` of the stop test: ids `f * LINES ..`, fewer in the first.
fn lines_of(f: u64) -> u64 {
    if f == 0 { FIRST_LINES } else { LINES }
}

#[test]
fn stop_a_running_dataset_then_redrive_it() {
    let mut home = TestHome::new();
    // No task claimed ahead of the slots: the stop finds most tasks not yet claimed (it errors
    // them at once) and one running (it checkpoints and stops at its next heartbeat).
    home.env("LETSDATA_HEARTBEAT_SECONDS", "1")
        .env("LETSDATA_PART_SIZE_BYTES", "500000")
        .env("LETSDATA_TASKS_AHEAD", "0");
    let mut manifest = Vec::new();
    for f in 0..FILES {
        home.put(
            "stop-in",
            &format!("f{f}.jsonl"),
            jsonl(f * LINES, lines_of(f)).as_bytes(),
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
    // Held once its first task (the small file) is recorded COMPLETED: the second running,
    // most of the work left.
    let mut child = home.spawn_held(&cfg, "task-finished=1*return(stop)");
    assert!(!home.tasks_now("Stopper", Some("COMPLETED")).is_empty());
    assert!(!home.tasks_now("Stopper", Some("PROCESSING")).is_empty());

    let stop = stop_in_progress(&home, "Stopper");
    common::signal(child.id(), "-CONT");
    let stop: common::Run = stop.wait_with_output().expect("stop").into();
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
    let total: u64 = (0..FILES).map(lines_of).sum();
    assert_eq!(ds["datasetProgress"]["documentsWritten"], total);
    let mut seen = vec![0u8; (FILES * LINES) as usize];
    for line in home.lines(
        ds["resources"]["writeBucket"].as_str().expect("bucket"),
        "Stopper",
    ) {
        let doc: serde_json::Value = serde_json::from_str(&line).expect("doc");
        seen[doc["id"].as_u64().expect("id") as usize] += 1;
    }
    let once = |id: usize| u8::from((id as u64 % LINES) < lines_of(id as u64 / LINES));
    assert!(
        seen.iter().enumerate().all(|(id, n)| *n == once(id)),
        "every document exactly once"
    );
}

#[test]
fn actions_are_refused_while_a_stop_is_in_progress() {
    let mut home = TestHome::new();
    home.env("LETSDATA_HEARTBEAT_SECONDS", "1");
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
    // The worker is held (a failpoint's SIGSTOP) so that it cannot notice the stop: the
    // dataset stays STOPPING_ERROR until the test lets it go, however slow the machine.
    let mut child = home.spawn_held(&cfg, "s3-part-write=3*off->1*return(stop)");
    let held = std::time::Instant::now();
    let running = home.tasks_now("Busy", Some("PROCESSING"));
    assert!(!running.is_empty());
    let stop = stop_in_progress(&home, "Busy");
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
    // Held past a heartbeat: the heartbeat, which looks for stop requests, is due the moment
    // the worker continues, with nearly all of the tasks' input left.
    if let Some(rest) = std::time::Duration::from_millis(1500).checked_sub(held.elapsed()) {
        std::thread::sleep(rest);
    }
    common::signal(child.id(), "-CONT");
    let stop: common::Run = stop.wait_with_output().expect("stop").into();
    assert_eq!(stop.code, 0, "{}", stop.stderr);
    child.wait().expect("create");
    assert_eq!(home.view("Busy")["datasetStatus"], "ERRORED");
    // The running tasks (nearly all of their 1M lines left) noticed the stop, checkpointed
    // and stopped, rather than running to the end.
    let tasks = home.tasks("Busy");
    for task in &running {
        let now = tasks
            .iter()
            .find(|t| t["taskId"] == task["taskId"])
            .expect("task");
        assert_eq!(now["taskStatus"], "ERRORED", "{now}");
        assert!(
            now["lastError"]
                .as_str()
                .unwrap_or("")
                .contains("stopped by request"),
            "{now}"
        );
        let written = now["taskProgress"]["documentsWritten"]
            .as_u64()
            .expect("documentsWritten");
        assert!(written < lines, "stopped partway: {now}");
    }
}

/// `tasks stop` of `dataset` in the background, once the dataset is STOPPING_ERROR (its worker
/// is held, so it stays so until the test continues the worker).
fn stop_in_progress(home: &TestHome, dataset: &str) -> std::process::Child {
    let mut stop = home
        .command(&["tasks", "stop", "--datasetName", dataset])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn stop");
    wait_until(&mut stop, "the dataset is STOPPING_ERROR", || {
        home.view(dataset)["datasetStatus"] == "STOPPING_ERROR"
    });
    stop
}
