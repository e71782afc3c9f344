//! User code (WebAssembly components) end to end through the CLI: each interface with its
//! example, the code build's export check, the sandbox's limits, a trap followed by a code
//! update and a redrive, and the code view.

mod common;

use common::{TestHome, component, wasm_config};
use serde_json::Value;
use std::path::Path;

fn examples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// Sets up an example as its README does: its input in the read bucket and its component at
/// the artifact link of its `dataset.json`, which is returned.
fn install_example(home: &TestHome, example: &str, crate_name: &str) -> Value {
    let dir = examples().join(example);
    let cfg: Value =
        serde_json::from_slice(&std::fs::read(dir.join("dataset.json")).expect("dataset.json"))
            .expect("dataset.json is JSON");
    let read = &cfg["readConnector"];
    let bucket = read["bucketName"].as_str().expect("bucketName");
    for entry in std::fs::read_dir(dir.join("input")).expect("input dir") {
        let path = entry.expect("entry").path();
        let key = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        home.put(bucket, &key, &std::fs::read(&path).expect("input file"));
    }
    let link = read["artifactFileS3Link"]
        .as_str()
        .expect("artifactFileS3Link");
    let (code_bucket, key) = link
        .trim_start_matches("s3://")
        .split_once('/')
        .expect("s3 link");
    home.put(code_bucket, key, &component(crate_name));
    cfg
}

fn write_bucket(home: &TestHome, dataset: &str) -> String {
    home.view(dataset)["resources"]["writeBucket"]
        .as_str()
        .expect("write bucket")
        .to_string()
}

fn error_bucket(home: &TestHome, dataset: &str) -> String {
    home.view(dataset)["resources"]["errorBucket"]
        .as_str()
        .expect("error bucket")
        .to_string()
}

fn docs(home: &TestHome, dataset: &str) -> Vec<Value> {
    home.lines(&write_bucket(home, dataset), dataset)
        .iter()
        .map(|l| serde_json::from_str(l).expect("output is JSON"))
        .collect()
}

fn errors(home: &TestHome, dataset: &str) -> Vec<Value> {
    home.lines(&error_bucket(home, dataset), dataset)
        .iter()
        .map(|l| serde_json::from_str(l).expect("error records are JSON"))
        .collect()
}

#[test]
fn json_transform_example_reshapes_events_and_reports_malformed_lines() {
    let home = TestHome::new();
    let wasm = component("json-transform");
    let cfg = install_example(&home, "json-transform", "json-transform");
    let name = cfg["datasetName"].as_str().expect("name").to_string();
    let input = std::fs::read(examples().join("json-transform/input/events.jsonl")).expect("input");
    let run = home.create(&cfg);
    assert_eq!(run.code, 0, "create: {}", run.stderr);
    let ds = run.json();
    assert_eq!(ds["datasetStatus"], "COMPLETED", "{ds:#}");

    // The code snapshot and its steps.
    let sha = ds["code"]["current"]["sha256"].as_str().expect("sha256");
    assert_eq!(sha.len(), 64);
    assert_eq!(ds["code"]["current"]["interface"], "SingleFileParser");
    for step in [
        "Implementation Artifact - Create Internal Copy",
        "Create Dataset Code Snapshot",
        "Create Dataset Code Builds",
    ] {
        assert_eq!(
            ds["initializationWorkflow"][step]["status"], "COMPLETED",
            "{step}: {:#}",
            ds["initializationWorkflow"]
        );
    }
    let internal = home
        .home()
        .join("buckets/letsdata-artifacts/sha256")
        .join(format!("{sha}.wasm"));
    assert_eq!(std::fs::read(internal).expect("internal copy"), wasm);

    let lines = String::from_utf8(input).expect("utf8");
    let total = lines.lines().filter(|l| !l.trim().is_empty()).count();
    let bad = lines
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).is_err())
        .count();
    assert!(bad > 0, "the sample input has malformed lines");
    let out = docs(&home, &name);
    assert_eq!(out.len(), total - bad);
    let first = &out[0];
    let source: Value = serde_json::from_str(lines.lines().next().expect("line")).expect("json");
    assert_eq!(first["id"], source["id"]);
    assert_eq!(first["ts"], source["ts"]);
    assert_eq!(first["user_id"], source["user"]["id"]);
    assert_eq!(first["country"], source["user"]["country"]);
    assert_eq!(
        first["event"],
        source["event"].as_str().expect("event").to_uppercase()
    );
    assert_eq!(
        first["value_x2"].as_f64().expect("value_x2"),
        source["value"].as_f64().expect("value") * 2.0
    );
    assert_eq!(first["msg"], source["msg"]);
    assert!(first.get("user").is_none() && first.get("value").is_none());

    let errs = errors(&home, &name);
    assert_eq!(errs.len(), bad);
    assert!(
        errs[0]["errorMessage"]
            .as_str()
            .expect("message")
            .contains("not a JSON event"),
        "{:#}",
        errs[0]
    );
    assert_eq!(ds["datasetProgress"]["errorRecords"], bad);

    // The second run of the same code does not compile it again.
    let mut cfg2 = cfg.clone();
    cfg2["datasetName"] = "JsonTransformAgain".into();
    let run = home.create(&cfg2);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let msg = run.json()["initializationWorkflow"]["Create Dataset Code Builds"]["message"]
        .as_str()
        .expect("message")
        .to_string();
    assert!(msg.contains("cached"), "{msg}");
}

/// A record longer than the maximum (64 MiB) through a Wasm parser: the records before it are
/// written, it becomes an error record (its head kept, never handed to the parser), and the
/// records after it go on.
#[test]
fn an_oversize_record_is_an_error_record_between_the_documents_around_it() {
    let home = TestHome::new();
    let mut cfg = install_example(&home, "json-transform", "json-transform");
    let event = |id: u64| {
        format!(
            r#"{{"id":{id},"ts":"t","event":"view","user":{{"id":"u{id}","country":"DE"}},"value":{id},"msg":"m"}}"#
        )
    };
    let mut input = String::new();
    for id in 1..=3 {
        input.push_str(&event(id));
        input.push('\n');
    }
    let oversize_at = input.len();
    let max = 64 * 1024 * 1024;
    input.push_str(&"x".repeat(max + 10));
    input.push('\n');
    for id in 4..=5 {
        input.push_str(&event(id));
        input.push('\n');
    }
    home.put("json-transform-input", "big.jsonl", input.as_bytes());
    cfg["datasetName"] = "OversizeRecord".into();
    cfg["manifestFile"]["fileContents"] = "big.jsonl".into();
    let run = home.create(&cfg);
    assert_eq!(run.code, 0, "create: {}", run.stderr);
    let ds = run.json();
    assert_eq!(ds["datasetStatus"], "COMPLETED", "{ds:#}");
    let ids: Vec<u64> = docs(&home, "OversizeRecord")
        .iter()
        .map(|d| d["id"].as_u64().expect("id"))
        .collect();
    assert_eq!(ids, [1, 2, 3, 4, 5]);
    let errs = errors(&home, "OversizeRecord");
    assert_eq!(errs.len(), 1);
    // json-transform's records end with their end pattern, "\n".
    let message = errs[0]["errorMessage"].as_str().expect("message");
    assert!(
        message.contains(&format!("{} bytes, more than the {max} bytes", max + 11)),
        "{message}"
    );
    assert_eq!(
        errs[0]["errorStartOffsetMap"]
            .as_object()
            .expect("map")
            .values()
            .next(),
        Some(&Value::from(oversize_at.to_string()))
    );
    // The error record keeps the record's first MiB, marked as cut, with its whole size.
    assert_eq!(
        errs[0]["rawRecord"].as_str().map(str::len),
        Some(1024 * 1024)
    );
    assert_eq!(errs[0]["rawRecordTruncated"], true);
    assert_eq!(errs[0]["rawRecordSizeBytes"], max as u64 + 11);
    assert_eq!(ds["datasetProgress"]["errorRecords"], 1);
    assert_eq!(ds["datasetProgress"]["documentsWritten"], 5);
}

#[test]
fn a_component_without_the_interface_fails_the_code_build() {
    let home = TestHome::new();
    home.put("code", "json-transform.wasm", &component("json-transform"));
    home.put("input", "a.txt", b"x\n");
    let cfg = wasm_config(
        "MissingExport",
        "input",
        "Single File State Machine Reader",
        "s3://code/json-transform.wasm",
        &["a.txt"],
    );
    let run = home.create(&cfg);
    assert_eq!(run.code, 3, "ERRORED exits 3: {}", run.stderr);
    let ds = run.json();
    assert_eq!(ds["datasetStatus"], "ERRORED");
    let step = &ds["initializationWorkflow"]["Create Dataset Code Builds"];
    assert_eq!(step["status"], "ERROR");
    let message = step["message"].as_str().expect("message");
    assert!(
        message.contains("letsdata:data/single-file-state-machine-reader@0.1.0")
            && message.contains("SingleFileStateMachineReader")
            && message.contains("letsdata:data/single-file-parser@0.1.0"),
        "{message}"
    );
    assert!(
        ds["lastError"]
            .as_str()
            .expect("lastError")
            .contains("Create Dataset Code Builds")
    );

    // A core module (not a component) and a missing artifact say what is wrong.
    home.put("code", "core.wasm", b"\0asm\x01\0\0\0");
    let cfg = wasm_config(
        "CoreModule",
        "input",
        "Single File Reader",
        "s3://code/core.wasm",
        &["a.txt"],
    );
    let ds = home.create(&cfg).json();
    let message = ds["lastError"].as_str().expect("lastError");
    assert!(message.contains("not a component"), "{message}");
    let cfg = wasm_config(
        "NoArtifact",
        "input",
        "Single File Reader",
        "s3://code/missing.wasm",
        &["a.txt"],
    );
    let ds = home.create(&cfg).json();
    let message = ds["lastError"].as_str().expect("lastError");
    assert!(
        message.contains("s3://code/missing.wasm does not exist"),
        "{message}"
    );
}

/// User code has no filesystem, no environment and no network (docs/wasm.md): a component
/// that tries to read and write files, list the environment and connect to a listener the
/// test holds open gets an error for each, and the listener sees no connection.
#[test]
fn user_code_reaches_no_file_environment_or_network() {
    let mut home = TestHome::new();
    home.env("LETSDATA_PROBE_SECRET", "do-not-leak");
    home.put(
        "code",
        "misbehave.wasm",
        &component("letsdata-test-misbehave"),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    listener.set_nonblocking(true).expect("nonblocking");
    let address = listener.local_addr().expect("address");
    home.put(
        "input",
        "probe.txt",
        format!("PROBE {address}\n").as_bytes(),
    );
    let cfg = wasm_config(
        "Probe",
        "input",
        "Single File Reader",
        "s3://code/misbehave.wasm",
        &["probe.txt"],
    );
    let run = home.create(&cfg);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ds = run.json();
    let docs = home.lines(ds["resources"]["writeBucket"].as_str().expect("b"), "");
    assert_eq!(docs.len(), 1, "{docs:?}");
    let probe: Value = serde_json::from_str(&docs[0]).expect("probe document");
    for attempt in ["read", "list", "write", "connect"] {
        let got = probe[attempt].as_str().expect("outcome");
        assert!(got.starts_with("denied: "), "{attempt}: {got}");
    }
    assert_eq!(probe["env"], 0, "the guest sees no environment variable");
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the guest connected to the listener"
    );
    assert!(!docs[0].contains("do-not-leak"));
}

/// A document larger than the sandbox copies out in one call (wasmtime's 128 MiB) ends its
/// task with an error that says so, not wasmtime's "fuel allocated for hostcalls".
#[test]
fn an_oversize_document_from_user_code_gets_a_clear_error() {
    let home = TestHome::new();
    home.put(
        "code",
        "misbehave.wasm",
        &component("letsdata-test-misbehave"),
    );
    home.put("input", "huge.txt", b"one\nHUGE\nthree\n");
    let cfg = wasm_config(
        "Huge",
        "input",
        "Single File Reader",
        "s3://code/misbehave.wasm",
        &["huge.txt"],
    );
    let run = home.create(&cfg);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let task = &home.tasks("Huge")[0];
    assert_eq!(task["taskStatus"], "ERRORED");
    let e = task["lastError"].as_str().expect("lastError");
    assert!(
        e.contains("user code passed more than 128 MB between the sandbox and letsdata"),
        "{e}"
    );
    assert!(!e.contains("fuel"), "{e}");
}

#[test]
fn runaway_loops_and_memory_bombs_end_their_task_only() {
    let home = TestHome::new();
    home.put(
        "code",
        "misbehave.wasm",
        &component("letsdata-test-misbehave"),
    );
    home.put("input", "loop.txt", b"one\ntwo\nLOOP\nfour\n");
    home.put("input", "loop2.txt", b"LOOP\n");
    home.put("input", "bomb.txt", b"one\nBOMB\nthree\n");
    home.put("input", "fine.txt", b"one\nPRINT me\nBAD\nSKIP\nfive\n");
    let mut cfg = wasm_config(
        "Limits",
        "input",
        "Single File Reader",
        "s3://code/misbehave.wasm",
        &["loop.txt", "loop2.txt", "bomb.txt", "fine.txt"],
    );
    cfg["computeEngine"]["concurrency"] = 4.into();
    cfg["computeEngine"]["timeoutInSeconds"] = 10.into();
    cfg["computeEngine"]["memoryLimitInMegabytes"] = 128.into();
    let run = home.create(&cfg);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let ds = run.json();
    assert_eq!(ds["datasetStatus"], "ERRORED");
    let tasks = home.tasks("Limits");
    let by_file = |f: &str| {
        tasks
            .iter()
            .find(|t| t["taskDefinition"]["manifestLine"] == f)
            .cloned()
            .expect("task")
    };
    let looped = by_file("loop.txt");
    assert_eq!(looped["taskStatus"], "ERRORED");
    let e = looped["lastError"].as_str().expect("lastError");
    assert!(e.contains("time limit") && e.contains("10 s"), "{e}");
    let bombed = by_file("bomb.txt");
    assert_eq!(bombed["taskStatus"], "ERRORED");
    let e = bombed["lastError"].as_str().expect("lastError");
    assert!(e.contains("memory limit") && e.contains("128 MB"), "{e}");
    let fine = by_file("fine.txt");
    assert_eq!(fine["taskStatus"], "COMPLETED", "{fine:#}");
    // Two runaway loops (as many as the runtime has worker threads on a 2-core machine) do
    // not hold up the other tasks: guest code yields its thread at every epoch tick, so the
    // fine task ends while both loops still run (they run until their 10 s limit).
    let second = by_file("loop2.txt");
    assert_eq!(second["taskStatus"], "ERRORED");
    let at = |t: &Value| t["updateDatetime"].as_i64().expect("updateDatetime");
    assert!(
        at(&fine) < at(&looped).min(at(&second)),
        "the fine task finished at {} ms, the loops at {} and {} ms",
        at(&fine),
        at(&looped),
        at(&second)
    );
    assert_eq!(fine["checkpoint"]["progress"]["documentsWritten"], 3);
    assert_eq!(fine["checkpoint"]["progress"]["errorRecords"], 1);
    assert_eq!(fine["checkpoint"]["progress"]["skipRecords"], 1);

    // Records before the runaway one were checkpointed and written.
    assert_eq!(looped["checkpoint"]["progress"]["documentsWritten"], 0);
    // What the guest printed is in the task log.
    let log = home.run(&[
        "logs",
        "view",
        "--datasetName",
        "Limits",
        "--taskId",
        fine["taskId"].as_str().expect("id"),
    ]);
    assert!(
        log.stdout.contains("stdout says PRINT me") && log.stdout.contains("stderr says PRINT me"),
        "{}",
        log.stdout
    );
}

#[test]
fn a_trap_errors_one_task_and_a_code_update_and_redrive_complete_it() {
    let home = TestHome::new();
    home.put(
        "code",
        "misbehave.wasm",
        &component("letsdata-test-misbehave"),
    );
    home.put("code", "json-transform.wasm", &component("json-transform"));
    let mut trap = String::new();
    for i in 0..3000 {
        trap.push_str(&format!(
            "{{\"id\":{i},\"event\":\"view\",\"value\":{i}}}\n"
        ));
    }
    trap.push_str("PANIC here\n");
    for i in 3000..3010 {
        trap.push_str(&format!(
            "{{\"id\":{i},\"event\":\"view\",\"value\":{i}}}\n"
        ));
    }
    home.put("input", "trap.jsonl", trap.as_bytes());
    home.put("input", "ok.jsonl", b"{\"id\":1}\n{\"id\":2}\n");
    let cfg = wasm_config(
        "Trap",
        "input",
        "Single File Reader",
        "s3://code/misbehave.wasm",
        &["trap.jsonl", "ok.jsonl"],
    );
    let run = home.create(&cfg);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let tasks = home.tasks("Trap");
    let failed = tasks
        .iter()
        .find(|t| t["taskDefinition"]["manifestLine"] == "trap.jsonl")
        .expect("task");
    let ok = tasks
        .iter()
        .find(|t| t["taskDefinition"]["manifestLine"] == "ok.jsonl")
        .expect("task");
    assert_eq!(ok["taskStatus"], "COMPLETED");
    assert_eq!(failed["taskStatus"], "ERRORED");
    let e = failed["lastError"].as_str().expect("lastError");
    assert!(e.contains("asked to panic"), "{e}");

    // New code, then a redrive of the errored task: it resumes and completes.
    let update = home.run(&[
        "datasets",
        "code",
        "update",
        "--datasetName",
        "Trap",
        "--artifactFileS3Link",
        "s3://code/json-transform.wasm",
    ]);
    assert_eq!(update.code, 0, "{}", update.stderr);
    let view = update.json();
    assert_eq!(view["datasetStatus"], "ERRORED", "back to its status");
    assert_eq!(view["previous"].as_array().expect("previous").len(), 1);
    assert_eq!(
        view["current"]["artifactFileS3Link"],
        "s3://code/json-transform.wasm"
    );
    assert_ne!(view["current"]["sha256"], view["previous"][0]["sha256"]);

    let redrive = home.run(&["tasks", "redrive", "--datasetName", "Trap"]);
    assert_eq!(redrive.code, 0, "{}", redrive.stderr);
    let ds = home.view("Trap");
    assert_eq!(ds["datasetStatus"], "COMPLETED", "{ds:#}");
    // The PANIC line is not JSON for the new code: one error record; every event once.
    let out = docs(&home, "Trap");
    let mut ids: Vec<i64> = out.iter().filter_map(|d| d["id"].as_i64()).collect();
    ids.sort();
    let mut expected: Vec<i64> = (0..3010).collect();
    expected.extend([1, 2]);
    expected.sort();
    assert_eq!(ids, expected);
    let errs = errors(&home, "Trap");
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!(errs[0]["rawRecord"], "PANIC here\n");

    // A code update to something that does not build keeps the current code.
    home.put("code", "junk.wasm", b"\0asm\x0d\0\x01\0junk");
    let bad = home.run(&[
        "datasets",
        "code",
        "update",
        "--datasetName",
        "Trap",
        "--artifactFileS3Link",
        "s3://code/junk.wasm",
    ]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("keeps its current code"),
        "{}",
        bad.stderr
    );
    let view = home
        .run(&["datasets", "code", "view", "--datasetName", "Trap"])
        .json();
    assert_eq!(
        view["current"]["artifactFileS3Link"],
        "s3://code/json-transform.wasm"
    );
    assert_eq!(view["datasetStatus"], "COMPLETED");
    let workflows = view["codeUpdateWorkflows"].as_array().expect("workflows");
    assert_eq!(workflows.len(), 2);
    assert_eq!(
        workflows[1]["Create Dataset Code Builds"]["status"],
        "ERROR"
    );
}

#[test]
fn state_machine_example_joins_meta_and_data_records() {
    let home = TestHome::new();
    let cfg = install_example(&home, "state-machine", "state-machine");
    let name = cfg["datasetName"].as_str().expect("name").to_string();
    let run = home.create(&cfg);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ds = run.json();
    assert_eq!(ds["datasetStatus"], "COMPLETED");
    let out = docs(&home, &name);
    let sensors: Vec<&str> = out
        .iter()
        .map(|d| d["sensor"].as_str().expect("sensor"))
        .collect();
    assert_eq!(sensors, vec!["s1", "s5"]);
    assert_eq!(out[0]["count"], 3);
    assert_eq!(out[0]["max"], 22.0);
    assert_eq!(out[1]["mean"], 2.5);
    // s2 (a bad reading) and the pair with bad META: a composite error plus the record's own.
    let errs = errors(&home, &name);
    assert_eq!(errs.len(), 4, "{errs:#?}");
    assert!(errs.iter().any(|e| {
        e["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("\"oops\" is not a number"))
    }));
    assert_eq!(ds["datasetProgress"]["recordsRead"], 10);
    assert_eq!(ds["datasetProgress"]["skipRecords"], 1);
    let task = &home.tasks(&name)[0];
    assert_eq!(task["checkpoint"]["lastRecordTypes"]["SENSORS"], "DATA");
}

/// Generates a crawl with the example's generator.
#[cfg(feature = "failpoints")]
fn crawl(home: &TestHome, pages: u64, start: u64, name: &str) -> String {
    let out = home.bucket("crawl");
    let run = std::process::Command::new("python3")
        .arg(examples().join("web-archive/make_input.py"))
        .args([
            "--pages",
            &pages.to_string(),
            "--start",
            &start.to_string(),
            "--name",
            name,
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("python3");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8(run.stdout)
        .expect("utf8")
        .trim()
        .to_string()
}

/// What the crawl of pages [start, start + pages) must give: documents, error pages, skips.
fn expected_pages(start: u64, pages: u64) -> (Vec<String>, u64, u64) {
    let mut ok = Vec::new();
    let (mut bad, mut skipped) = (0, 0);
    for i in start..start + pages {
        match i % 10 {
            3 => skipped += 1,
            7 => bad += 1,
            _ => ok.push(format!("http://example.com/page/{i}")),
        }
    }
    (ok, bad, skipped)
}

#[test]
fn web_archive_example_joins_three_files_per_page() {
    let home = TestHome::new();
    let cfg = install_example(&home, "web-archive", "web-archive");
    let name = cfg["datasetName"].as_str().expect("name").to_string();
    let run = home.create(&cfg);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ds = run.json();
    assert_eq!(ds["datasetStatus"], "COMPLETED", "{ds:#}");
    let (ok, bad, skipped) = expected_pages(0, 40);
    let out = docs(&home, &name);
    let urls: Vec<&str> = out
        .iter()
        .map(|d| d["url"].as_str().expect("url"))
        .collect();
    assert_eq!(urls, ok);
    assert_eq!(out[0]["title"], "Page 0");
    assert_eq!(out[0]["status"], 200);
    assert!(
        out[0]["text"]
            .as_str()
            .expect("text")
            .starts_with("Page 0.")
    );
    assert_eq!(ds["datasetProgress"]["skipRecords"], skipped);
    // Each bad page: the composite error and the WAT record's own error.
    let errs = errors(&home, &name);
    assert_eq!(errs.len() as u64, bad * 2, "{errs:#?}");
    let composite = errs
        .iter()
        .find(|e| {
            e["errorMessage"]
                .as_str()
                .is_some_and(|m| m.contains("records are invalid"))
        })
        .expect("composite error");
    for file_type in ["WARC", "WAT", "WET"] {
        assert!(
            composite["errorStartOffsetMap"][file_type].is_string(),
            "{composite:#}"
        );
    }
    let task = &home.tasks(&name)[0];
    for file_type in ["WARC", "WAT", "WET"] {
        assert!(
            task["checkpoint"]["offsets"][file_type].is_string(),
            "{task:#}"
        );
    }
    assert_eq!(task["checkpoint"]["lastRecordTypes"]["WARC"], "response");

    // A manifest line without one of the reader's file types fails its task clearly.
    let mut cfg = cfg.clone();
    cfg["datasetName"] = "CrawlMissing".into();
    cfg["manifestFile"]["fileContents"] = "WARC:crawl-00000.warc.gz|WAT:crawl-00000.wat.gz".into();
    let run = home.create(&cfg);
    assert_eq!(run.code, 3);
    let task = &home.tasks("CrawlMissing")[0];
    let e = task["lastError"].as_str().expect("lastError");
    assert!(e.contains("no file of type WET"), "{e}");
}

#[cfg(feature = "failpoints")]
#[test]
fn web_archive_resumes_every_file_from_its_checkpoint_after_sigkill() {
    let mut home = TestHome::new();
    home.env("LETSDATA_PART_SIZE_BYTES", "20000");
    home.put("code", "web-archive.wasm", &component("web-archive"));
    const PAGES: u64 = 6000;
    let lines = [
        crawl(&home, PAGES, 0, "crawl-a"),
        crawl(&home, PAGES, PAGES, "crawl-b"),
    ];
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let cfg = wasm_config(
        "CrawlKill",
        "crawl",
        "Multiple File State Machine Reader",
        "s3://code/web-archive.wasm",
        &lines,
    );
    // Killed (SIGKILL, a failpoint) once five parts were published.
    home.create_killed(&cfg, "part-published-documents=4*off->return(kill)");
    assert_eq!(home.view("CrawlKill")["datasetStatus"], "PROCESSING");
    let resumed_from: Vec<Value> = home
        .tasks("CrawlKill")
        .iter()
        .map(|t| t["checkpoint"]["offsets"].clone())
        .collect();
    assert!(
        resumed_from.iter().any(|o| o["WAT"].is_string()),
        "killed after a checkpoint: {resumed_from:?}"
    );

    let run = home.run(&["run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()[0]["datasetStatus"], "COMPLETED");
    let (mut ok, bad, skipped) = expected_pages(0, 2 * PAGES);
    let out = docs(&home, "CrawlKill");
    let mut urls: Vec<String> = out
        .iter()
        .map(|d| d["url"].as_str().expect("url").to_string())
        .collect();
    urls.sort();
    ok.sort();
    assert_eq!(urls.len(), ok.len(), "every page exactly once");
    assert_eq!(urls, ok);
    let errs = errors(&home, "CrawlKill");
    assert_eq!(errs.len() as u64, bad * 2);
    let ds = home.view("CrawlKill");
    assert_eq!(ds["datasetProgress"]["skipRecords"], skipped);
    assert_eq!(ds["datasetProgress"]["documentsWritten"], ok.len());
}
