//! `tasks list`, `errors list` and `metrics view` in pages (`--limit N --nextToken T`) and
//! whole (streamed a page at a time): the pages cover the whole list once, in order, and the
//! whole list is the same JSON the pages make up, compact or pretty.

mod common;

use common::{TestHome, config};
use serde_json::{Value, json};

const FILES: u64 = 25;

/// A completed dataset of `FILES` one-document files, each with one bad line (an error
/// object per task).
fn dataset(home: &TestHome) {
    let mut manifest = Vec::new();
    for f in 0..FILES {
        home.put(
            "lists-in",
            &format!("f{f:02}.jsonl"),
            format!("{{\"id\": {f}}}\nnot json {f}\n").as_bytes(),
        );
        manifest.push(format!("f{f:02}.jsonl"));
    }
    let manifest: Vec<&str> = manifest.iter().map(String::as_str).collect();
    let cfg = config(
        "Lists",
        "lists-in",
        json!({"builtinParser": "jsonl"}),
        &manifest,
    );
    let run = home.create(&cfg);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["datasetStatus"], "COMPLETED");
}

/// Every page of `args` (`--limit limit`), following nextToken; the items under `key`.
fn pages(home: &TestHome, args: &[&str], key: &str, limit: usize) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let limit = limit.to_string();
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["--limit", &limit]);
        if let Some(t) = &token {
            a.extend(["--nextToken", t]);
        }
        let run = home.run(&a);
        assert_eq!(run.code, 0, "{a:?}: {}", run.stderr);
        let page = run.json();
        let items = page[key].as_array().expect("items").clone();
        assert!(items.len() <= limit.parse().expect("n"));
        out.push(items);
        match &page["nextToken"] {
            Value::Null => break,
            Value::String(t) => token = Some(t.clone()),
            other => panic!("nextToken {other}"),
        }
        assert!(out.len() <= 100, "pages never end");
    }
    out
}

#[test]
fn tasks_list_in_pages_and_whole() {
    let home = TestHome::new();
    dataset(&home);
    let args = ["tasks", "list", "--datasetName", "Lists"];
    let whole = home.run(&args);
    assert_eq!(whole.code, 0, "{}", whole.stderr);
    let all = whole.json().as_array().expect("array").clone();
    assert_eq!(all.len() as u64, FILES);
    let lines: Vec<u64> = all
        .iter()
        .map(|t| {
            t["taskDefinition"]["manifestIndex"]
                .as_u64()
                .expect("index")
        })
        .collect();
    assert_eq!(lines, (0..FILES).collect::<Vec<_>>(), "manifest order");

    // Pretty: the same list, indented as one JSON document.
    let mut pretty_args = args.to_vec();
    pretty_args.push("--prettyPrint");
    let pretty = home.run(&pretty_args);
    assert_eq!(pretty.code, 0);
    assert_eq!(
        pretty.stdout,
        format!("{}\n", serde_json::to_string_pretty(&all).expect("json"))
    );

    for limit in [1, 7, 25, 100] {
        let pages = pages(&home, &args, "tasks", limit);
        assert_eq!(
            pages.len(),
            (FILES as usize).div_ceil(limit),
            "limit {limit}"
        );
        assert_eq!(pages.concat(), all, "limit {limit}");
    }
    let mut completed = args.to_vec();
    completed.extend(["--taskStatus", "COMPLETED"]);
    assert_eq!(pages(&home, &completed, "tasks", 10).concat(), all);
    let mut errored = args.to_vec();
    errored.extend(["--taskStatus", "ERRORED"]);
    assert_eq!(
        pages(&home, &errored, "tasks", 10),
        vec![Vec::<Value>::new()]
    );

    // A token that is not one, and a limit out of range, are refused.
    let bad = home.run(&[
        "tasks",
        "list",
        "--datasetName",
        "Lists",
        "--nextToken",
        "nonsense",
    ]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("--nextToken") && bad.stderr.contains("nonsense"),
        "{}",
        bad.stderr
    );
    let zero = home.run(&["tasks", "list", "--datasetName", "Lists", "--limit", "0"]);
    assert_ne!(zero.code, 0);
    assert!(zero.stderr.contains("--limit"), "{}", zero.stderr);
}

#[test]
fn errors_list_and_metrics_in_pages_and_whole() {
    let home = TestHome::new();
    dataset(&home);
    let args = ["errors", "list", "--datasetName", "Lists"];
    let whole = home.run(&args);
    assert_eq!(whole.code, 0, "{}", whole.stderr);
    let all = whole.json().as_array().expect("array").clone();
    assert_eq!(all.len() as u64, FILES, "an error object per task");
    assert!(all.iter().all(|o| o["errorRecords"] == 1));
    for limit in [1, 10, 25, 30] {
        let pages = pages(&home, &args, "errors", limit);
        assert_eq!(
            pages.len(),
            (FILES as usize).div_ceil(limit),
            "limit {limit}"
        );
        assert_eq!(pages.concat(), all, "limit {limit}");
    }
    let bad = home.run(&[
        "errors",
        "list",
        "--datasetName",
        "Lists",
        "--nextToken",
        "Other/x",
    ]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("--nextToken"), "{}", bad.stderr);

    let metrics = home.run(&["metrics", "view", "--datasetName", "Lists"]);
    assert_eq!(metrics.code, 0, "{}", metrics.stderr);
    let minutes = metrics.json()["metrics"]
        .as_array()
        .expect("minutes")
        .clone();
    assert!(!minutes.is_empty());
    let total: u64 = minutes
        .iter()
        .map(|m| m["tasksCompleted"].as_u64().expect("n"))
        .sum();
    assert_eq!(total, FILES);
    let paged = pages(
        &home,
        &["metrics", "view", "--datasetName", "Lists"],
        "metrics",
        1,
    );
    assert_eq!(paged.len(), minutes.len());
    assert_eq!(paged.concat(), minutes);
}
