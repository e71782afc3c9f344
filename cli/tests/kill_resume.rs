//! `kill -9` of a running `letsdata datasets create`, then `letsdata run`: every good record is
//! in the output exactly once and every bad record in the errors exactly once.

#![cfg(feature = "failpoints")]

mod common;

use common::{TestHome, config, gzip};
use serde_json::json;
use std::collections::BTreeMap;

const FILES: u64 = 4;
const LINES: u64 = 150_000;

fn input(file: u64) -> String {
    let mut s = String::with_capacity((LINES * 90) as usize);
    for i in 0..LINES {
        let id = file * LINES + i;
        if i % 5000 == 4999 {
            s.push_str(&format!("{{\"id\":{id},\"truncated\n"));
        } else {
            s.push_str(&format!(
                "{{\"id\":{id},\"event\":\"view\",\"payload\":\"{:0>40}\"}}\n",
                i
            ));
        }
    }
    s
}

#[cfg(feature = "failpoints")]
#[test]
fn sigkill_mid_run_then_run_gives_exactly_once_output() {
    let mut home = TestHome::new();
    // Small parts, so there are many checkpoints to be killed between.
    home.env("LETSDATA_PART_SIZE_BYTES", "200000");
    let mut manifest = Vec::new();
    for f in 0..FILES {
        let data = input(f);
        if f % 2 == 0 {
            home.put("killinput", &format!("f{f}.jsonl"), data.as_bytes());
            manifest.push(format!("f{f}.jsonl"));
        } else {
            home.put(
                "killinput",
                &format!("f{f}.jsonl.gz"),
                &gzip(data.as_bytes()),
            );
            manifest.push(format!("f{f}.jsonl.gz"));
        }
    }
    let manifest: Vec<&str> = manifest.iter().map(String::as_str).collect();
    let cfg = config(
        "KillResume",
        "killinput",
        json!({"builtinParser": "jsonl", "documentIdField": "id"}),
        &manifest,
    );
    // Killed (SIGKILL, a failpoint) once four parts were published.
    home.create_killed(&cfg, "part-published-documents=3*off->return(kill)");

    let view = home.view("KillResume");
    assert_eq!(view["datasetStatus"], "PROCESSING", "killed mid-run");

    let run = home.run(&["run"]);
    assert_eq!(run.code, 0, "letsdata run: {}", run.stderr);
    let finished = run.json();
    assert_eq!(finished[0]["datasetStatus"], "COMPLETED");

    let ds = home.view("KillResume");
    let expected_bad = FILES * (LINES / 5000);
    assert_eq!(
        ds["datasetProgress"]["documentsWritten"],
        FILES * LINES - expected_bad
    );
    assert_eq!(ds["datasetProgress"]["errorRecords"], expected_bad);

    // Exactly once: every good id once, nothing else.
    let mut seen = vec![0u8; (FILES * LINES) as usize];
    for line in home.lines(
        ds["resources"]["writeBucket"].as_str().expect("b"),
        "KillResume",
    ) {
        let doc: serde_json::Value = serde_json::from_str(&line).expect("json");
        let id = doc["id"].as_u64().expect("id") as usize;
        seen[id] += 1;
    }
    for (id, n) in seen.iter().enumerate() {
        let bad = (id as u64 % LINES) % 5000 == 4999;
        assert_eq!(*n, u8::from(!bad), "document {id} written {n} times");
    }
    let mut errors: BTreeMap<(String, String), u32> = BTreeMap::new();
    for line in home.lines(
        ds["resources"]["errorBucket"].as_str().expect("b"),
        "KillResume",
    ) {
        let e: serde_json::Value = serde_json::from_str(&line).expect("json");
        let key = (
            e["fileName"].as_str().expect("file").to_string(),
            e["errorStartOffsetMap"]["DATA"]
                .as_str()
                .expect("offset")
                .to_string(),
        );
        *errors.entry(key).or_default() += 1;
    }
    assert_eq!(errors.len() as u64, expected_bad);
    assert!(
        errors.values().all(|n| *n == 1),
        "an error record was written twice"
    );

    // The killed invocations were noticed and closed.
    let lease_lost = common::lease_lost_invocations(&home.tasks("KillResume"));
    assert!(
        lease_lost >= 1,
        "the killed worker's invocations are marked LEASE_LOST"
    );
}
