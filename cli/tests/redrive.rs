//! `letsdata tasks redrive`: fix what failed, redrive the ERRORED tasks, end COMPLETED.

mod common;

use common::{TestHome, config, gzip, jsonl};
use serde_json::json;

fn ids(home: &TestHome, ds: &serde_json::Value, prefix: &str) -> Vec<u64> {
    let mut ids: Vec<u64> = home
        .lines(
            ds["resources"]["writeBucket"].as_str().expect("bucket"),
            prefix,
        )
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("doc")["id"]
                .as_u64()
                .expect("id")
        })
        .collect();
    ids.sort_unstable();
    ids
}

#[test]
fn redrive_after_the_missing_file_is_added() {
    let home = TestHome::new();
    home.put("redrive-in", "a.jsonl", jsonl(0, 300).as_bytes());
    let cfg = config(
        "Redrive",
        "redrive-in",
        json!({"builtinParser": "jsonl"}),
        &["a.jsonl", "late/b.jsonl.gz"],
    );
    let run = home.create(&cfg);
    assert_eq!(run.code, 3, "{}", run.stderr);

    // Refused while nothing is fixed? No: a redrive is allowed; but an unknown task id is refused
    // and changes nothing.
    let bad = home.run(&[
        "tasks",
        "redrive",
        "--datasetName",
        "Redrive",
        "--taskIds",
        "nope",
    ]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("task \"nope\" does not exist"),
        "{}",
        bad.stderr
    );
    let ds = home.view("Redrive");
    assert_eq!(ds["datasetStatus"], "ERRORED");
    assert_eq!(ds["redriveWorkflows"], json!([]));

    home.put(
        "redrive-in",
        "late/b.jsonl.gz",
        &gzip(jsonl(300, 200).as_bytes()),
    );
    let run = home.run(&["tasks", "redrive", "--datasetName", "Redrive"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ds = run.json();
    assert_eq!(ds["datasetStatus"], "COMPLETED");
    assert_eq!(ds["datasetProgress"]["completedTasks"], 2);
    assert_eq!(ds["datasetProgress"]["erroredTasks"], 0);
    assert_eq!(ds["datasetProgress"]["documentsWritten"], 500);
    assert_eq!(ds["lastError"], serde_json::Value::Null);
    let logs = ds["executionLogs"].as_array().expect("logs");
    assert_eq!(logs.len(), 2, "a new execution per redrive");
    assert_eq!(logs[0]["status"], "ERRORED");
    assert_eq!(logs[1]["status"], "COMPLETED");
    let workflows = ds["redriveWorkflows"].as_array().expect("redrives");
    assert_eq!(workflows.len(), 1);
    for step in [
        "Initialize",
        "Compute Redrive Task List",
        "Update Task State",
        "Enqueue Tasks For Processing",
        "Finalize Redrive Request",
    ] {
        assert_eq!(workflows[0]["steps"][step]["status"], "COMPLETED", "{step}");
    }
    assert_eq!(ids(&home, &ds, "Redrive"), (0..500).collect::<Vec<_>>());

    let view = home.run(&["tasks", "redrive", "view", "--datasetName", "Redrive"]);
    assert_eq!(view.code, 0, "{}", view.stderr);
    assert_eq!(view.json().as_array().map(Vec::len), Some(1));

    // Nothing left to redrive.
    let again = home.run(&["tasks", "redrive", "--datasetName", "Redrive"]);
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("in status COMPLETED"),
        "{}",
        again.stderr
    );
}

#[test]
fn restart_from_beginning_replaces_earlier_output() {
    let mut home = TestHome::new();
    home.env("LETSDATA_PART_SIZE_BYTES", "20000");
    // A truncated gzip: the task writes the records before the damage, then ERRORS.
    let full = gzip(jsonl(0, 5000).as_bytes());
    home.put("restart-in", "data.jsonl.gz", &full[..full.len() * 3 / 4]);
    let cfg = config(
        "Restart",
        "restart-in",
        json!({"builtinParser": "jsonl"}),
        &["data.jsonl.gz"],
    );
    let run = home.create(&cfg);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let ds = run.json();
    let before = ids(&home, &ds, "Restart");
    assert!(
        before.len() > 1000,
        "parts before the damage are kept: {}",
        before.len()
    );
    let task = &home.tasks("Restart")[0];
    assert!(
        task["lastError"]
            .as_str()
            .unwrap_or("")
            .contains("truncated"),
        "{task}"
    );

    // The fixed file is shorter than what was already written: the old parts must go.
    home.put(
        "restart-in",
        "data.jsonl.gz",
        &gzip(jsonl(0, 1000).as_bytes()),
    );
    let run = home.run(&[
        "tasks",
        "redrive",
        "--datasetName",
        "Restart",
        "--restartFromBeginning",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ds = run.json();
    assert_eq!(ds["datasetStatus"], "COMPLETED");
    assert_eq!(ds["datasetProgress"]["documentsWritten"], 1000);
    assert_eq!(ids(&home, &ds, "Restart"), (0..1000).collect::<Vec<_>>());
    assert_eq!(ds["redriveWorkflows"][0]["restartFromBeginning"], true);
}

#[cfg(feature = "failpoints")]
#[test]
fn two_concurrent_redrives_exactly_one_wins() {
    let home = TestHome::new();
    home.put("race-in", "a.jsonl", jsonl(0, 10).as_bytes());
    let cfg = config(
        "Race",
        "race-in",
        json!({"builtinParser": "jsonl"}),
        &["a.jsonl", "b.jsonl"],
    );
    assert_eq!(home.create(&cfg).code, 3);
    home.put("race-in", "b.jsonl", jsonl(10, 10).as_bytes());

    // Both redrives stop themselves (SIGSTOP, a failpoint) once they checked that the dataset
    // is ERRORED and before either changed it: both are inside the critical section at once.
    let spawn = || {
        home.command(&["tasks", "redrive", "--datasetName", "Race", "--detach"])
            .env("LETSDATA_FAILPOINTS", "redrive-checked=return(stop)")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let (mut a, b) = (spawn(), spawn());
    let pids = [a.id(), b.id()];
    common::wait_until(&mut a, "both redrives checked the dataset", || {
        pids.iter()
            .all(|pid| common::process_state(*pid) == Some('T'))
    });
    for pid in pids {
        common::signal(pid, "-CONT");
    }
    let results: Vec<common::Run> = [a, b]
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait").into())
        .collect();
    let winners = results.iter().filter(|r| r.code == 0).count();
    assert_eq!(
        winners,
        1,
        "exactly one redrive wins: {:?}",
        results
            .iter()
            .map(|r| (&r.code, &r.stderr))
            .collect::<Vec<_>>()
    );
    let loser = results.iter().find(|r| r.code != 0).expect("a loser");
    assert_eq!(loser.code, 1);
    assert!(
        loser
            .stderr
            .contains("cannot redrive dataset \"Race\" in status"),
        "{}",
        loser.stderr
    );
    assert_eq!(
        home.view("Race")["redriveWorkflows"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    let run = home.run(&["run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ds = home.view("Race");
    assert_eq!(ds["datasetStatus"], "COMPLETED");
    assert_eq!(ds["datasetProgress"]["documentsWritten"], 20);
}
