//! A `$LETSDATA_HOME` made by the previous release (0.1.0, before connectors owned their task
//! fields and checkpoint positions), with a dataset half-run when its process was SIGKILLed,
//! resumes with this release: every record exactly once in the output or the errors.
//!
//! `fixtures/home-0.1.0.tar.gz` holds that home without its input bucket: the 0.1.0 binary ran
//! `datasets create` on three files of 300,000 JSON lines (`f0.jsonl`, `f1.jsonl.gz`,
//! `f2.jsonl`, one malformed line in 5,000) with 300 kB parts and concurrency 2, and was killed
//! when two tasks had checkpointed (offsets 1,499,042 and 1,798,684, next parts 5 and 6; part
//! 5 of the first task was written after its checkpoint, a stale copy the resume replaces).
//! The test writes the same input again.

mod common;

use common::{TestHome, gzip};
use std::collections::BTreeSet;

const FILES: u64 = 3;
const LINES: u64 = 300_000;

/// The fixture's input, byte for byte (the generator that made it).
fn input(file: u64) -> String {
    let mut s = String::with_capacity((LINES * 90) as usize);
    for i in 0..LINES {
        let id = file * LINES + i;
        if i % 5000 == 4999 {
            s.push_str(&format!("{{\"id\":{id},\"truncated\n"));
        } else {
            s.push_str(&format!(
                "{{\"id\":{id},\"event\":\"view\",\"payload\":\"{i:0>40}\"}}\n"
            ));
        }
    }
    s
}

#[test]
fn a_half_run_dataset_of_the_previous_release_resumes_exactly_once() {
    let home = TestHome::new();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/home-0.1.0.tar.gz"
    );
    let status = std::process::Command::new("tar")
        .args(["xzf", fixture, "-C"])
        .arg(home.home())
        .status()
        .expect("run tar");
    assert!(status.success(), "unpack the fixture");
    home.put("oldinput", "f0.jsonl", input(0).as_bytes());
    home.put("oldinput", "f1.jsonl.gz", &gzip(input(1).as_bytes()));
    home.put("oldinput", "f2.jsonl", input(2).as_bytes());

    // The old records read: the dataset, its tasks and their checkpoints.
    let before = home.view("OldRelease");
    assert_eq!(before["datasetStatus"], "PROCESSING");
    let tasks = home.tasks("OldRelease");
    assert_eq!(tasks.len(), 3);
    let offsets: BTreeSet<String> = tasks
        .iter()
        .filter_map(|t| t["checkpoint"]["offsets"]["DATA"].as_str())
        .map(str::to_string)
        .collect();
    assert_eq!(
        offsets,
        BTreeSet::from(["1499042".to_string(), "1798684".to_string()])
    );
    for t in &tasks {
        assert!(
            t["taskDefinition"]["files"]["DATA"].is_string(),
            "the old task definition reads: {t}"
        );
    }

    let run = home.run(&["run"]);
    assert_eq!(run.code, 0, "letsdata run: {}", run.stderr);
    assert_eq!(run.json()[0]["datasetStatus"], "COMPLETED");

    let ds = home.view("OldRelease");
    let bad = FILES * (LINES / 5000);
    let p = &ds["datasetProgress"];
    assert_eq!(p["recordsRead"], FILES * LINES);
    assert_eq!(p["documentsWritten"], FILES * LINES - bad);
    assert_eq!(p["errorRecords"], bad);

    let write_bucket = ds["resources"]["writeBucket"].as_str().expect("bucket");
    let docs = home.lines(write_bucket, "OldRelease");
    assert_eq!(docs.len() as u64, FILES * LINES - bad, "no document twice");
    let ids: BTreeSet<u64> = docs
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            v["id"].as_u64().expect("id")
        })
        .collect();
    assert_eq!(ids.len() as u64, FILES * LINES - bad, "every document once");
    let expected: BTreeSet<u64> = (0..FILES * LINES).filter(|i| i % 5000 != 4999).collect();
    assert_eq!(ids, expected);

    let error_bucket = ds["resources"]["errorBucket"].as_str().expect("bucket");
    let errors = home.lines(error_bucket, "OldRelease");
    assert_eq!(errors.len() as u64, bad, "every bad record once");
    let raw: BTreeSet<String> = errors
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            v["rawRecord"].as_str().expect("raw").to_string()
        })
        .collect();
    assert_eq!(raw.len() as u64, bad);
}
