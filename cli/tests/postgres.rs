//! Datasets on the PostgreSQL store (`LETSDATA_DATABASE_URL`): the same CLI, every dataset and
//! task in the shared database, readable from another machine's home; a `kill -9` mid-run
//! loses and duplicates nothing.

mod common;

use common::emulator::{Emulator, emulator};
use common::services::PgSchema;
use common::{TestHome, config};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const FILES: u64 = 120;

/// A home whose store is `schema`.
fn home_on(schema: &PgSchema) -> TestHome {
    let mut home = TestHome::new();
    home.env("LETSDATA_DATABASE_URL", &schema.url());
    home
}

/// `FILES` small JSON-lines files (three records each; every tenth file ends in a truncated
/// record) and the manifest naming them.
fn small_files(home: &TestHome, bucket: &str) -> Vec<String> {
    let mut manifest = Vec::new();
    for f in 0..FILES {
        let mut text = String::new();
        for i in 0..3 {
            text.push_str(&format!("{{\"id\":{},\"file\":{f}}}\n", f * 3 + i));
        }
        if f % 10 == 9 {
            text.push_str("{\"id\":\"truncated\n");
        }
        let name = format!("part-{f:04}.jsonl");
        home.put(bucket, &name, text.as_bytes());
        manifest.push(name);
    }
    manifest
}

/// File `f` of [`numbered_input`]: `lines` JSON lines, ids `f * lines..`.
fn numbered_file(f: u64, lines: u64) -> String {
    let mut text = String::new();
    for i in 0..lines {
        text.push_str(&format!(
            "{{\"id\":{},\"payload\":\"{i:0>40}\"}}\n",
            f * lines + i
        ));
    }
    text
}

/// `files` JSON-lines files of `lines` records each in `bucket` (ids `0..files * lines`, file
/// `f` holding `f * lines..`), and the config of dataset `name` over them (the `jsonl` built-in,
/// ids from `id`).
fn numbered_input(home: &TestHome, name: &str, bucket: &str, files: u64, lines: u64) -> Value {
    let mut manifest = Vec::new();
    for f in 0..files {
        let key = format!("part-{f:04}.jsonl");
        home.put(bucket, &key, numbered_file(f, lines).as_bytes());
        manifest.push(key);
    }
    let manifest: Vec<&str> = manifest.iter().map(String::as_str).collect();
    config(
        name,
        bucket,
        json!({"builtinParser": "jsonl", "documentIdField": "id"}),
        &manifest,
    )
}

/// `datasets create --detach` of `cfg`: stored, for the workers to run.
fn create_detached(home: &TestHome, cfg: &Value) {
    let name = cfg["datasetName"].as_str().expect("datasetName");
    let path = home.config(name, cfg);
    let created = home.run(&[
        "datasets",
        "create",
        "--configFile",
        path.to_str().expect("utf8"),
        "--detach",
    ]);
    assert_eq!(created.code, 0, "{}", created.stderr);
}

/// Every document id of `0..total` in the dataset's output exactly once.
fn assert_each_document_once(home: &TestHome, ds: &Value, total: u64) {
    let name = ds["datasetName"].as_str().expect("datasetName");
    let mut seen = vec![0u8; total as usize];
    for line in home.lines(ds["resources"]["writeBucket"].as_str().expect("b"), name) {
        let doc: Value = serde_json::from_str(&line).expect("json");
        seen[doc["id"].as_u64().expect("id") as usize] += 1;
    }
    assert!(seen.iter().all(|n| *n == 1), "every document exactly once");
}

/// A `letsdata worker` on `home`'s store, its output discarded.
fn spawn_worker(home: &TestHome) -> std::process::Child {
    home.command(&["worker"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn letsdata worker")
}

/// Sends `worker` SIGTERM: it drains and exits 0 within a minute.
fn stop_worker(worker: &mut std::process::Child) {
    common::signal(worker.id(), "-TERM");
    let status = common::wait_exit(
        worker,
        std::time::Duration::from_secs(60),
        "the worker exited",
    );
    assert_eq!(status.code(), Some(0));
}

fn walk_pages(home: &TestHome, dataset: &str, limit: usize) -> Vec<Value> {
    let mut tasks = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let limit = limit.to_string();
        let mut args = vec!["tasks", "list", "--datasetName", dataset, "--limit", &limit];
        if let Some(t) = &token {
            args.extend(["--nextToken", t.as_str()]);
        }
        let page = home.run(&args);
        assert_eq!(page.code, 0, "tasks list: {}", page.stderr);
        let page = page.json();
        tasks.extend(page["tasks"].as_array().cloned().unwrap_or_default());
        match page["nextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => return tasks,
        }
    }
}

#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no test PostgreSQL"
)]
fn a_dataset_on_postgresql_runs_and_is_read_from_another_home() {
    let schema = PgSchema::new();
    let home = home_on(&schema);
    let manifest = small_files(&home, "pginput");
    let manifest: Vec<&str> = manifest.iter().map(String::as_str).collect();
    let mut cfg = config(
        "OnPostgres",
        "pginput",
        json!({"builtinParser": "jsonl", "documentIdField": "id"}),
        &manifest,
    );
    cfg["computeEngine"]["logLevel"] = json!("INFO");
    // `datasets create` on a shared store with no worker running: it initializes the dataset,
    // says that no worker runs it, and waits (showing progress) until one has.
    let mut create = home
        .create_command(&cfg)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn datasets create");
    common::wait_until(&mut create, "the dataset was initialized", || {
        home.run(&["datasets", "view", "--datasetName", "OnPostgres"])
            .stdout
            .contains("\"PROCESSING\"")
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        create.try_wait().expect("wait").is_none(),
        "datasets create waits for a worker"
    );
    let workers = home.run(&["workers", "list"]);
    assert_eq!(workers.code, 0, "{}", workers.stderr);
    assert_eq!(workers.json(), json!([]));
    let mut worker = home
        .command(&["worker", "--concurrency", "3"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn letsdata worker");
    let status = common::wait_exit(
        &mut create,
        std::time::Duration::from_secs(120),
        "datasets create returned once the worker ran the dataset",
    );
    let out = create.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("no worker is running against postgres://")
            && stderr.contains("start one with `letsdata worker`"),
        "{stderr}"
    );
    let printed: Value = serde_json::from_slice(&out.stdout).expect("the dataset as JSON");
    assert_eq!(printed["datasetStatus"], "COMPLETED");
    let workers = home.run(&["workers", "list"]).json();
    assert_eq!(workers.as_array().map(Vec::len), Some(1), "{workers}");
    assert_eq!(workers[0]["pid"], worker.id());
    assert_eq!(workers[0]["concurrency"], 3);
    assert_eq!(workers[0]["draining"], false);
    stop_worker(&mut worker);
    assert_eq!(
        home.run(&["workers", "list"]).json(),
        json!([]),
        "a stopped worker is unregistered"
    );
    let ds = home.view("OnPostgres");
    assert_eq!(ds["datasetStatus"], "COMPLETED");
    assert_eq!(ds["datasetProgress"]["totalTasks"], FILES);
    assert_eq!(ds["datasetProgress"]["documentsWritten"], FILES * 3);
    assert_eq!(ds["datasetProgress"]["errorRecords"], FILES / 10);
    let location = ds["resources"]["taskDatabase"]
        .as_str()
        .expect("taskDatabase");
    assert!(
        location.starts_with("postgres://") && !location.contains('@'),
        "the task database is named without credentials: {location}"
    );

    // The state is in the database, not in the home.
    assert_eq!(
        schema.scalar("SELECT COUNT(*) FROM tasks WHERE task_status = 'COMPLETED'"),
        FILES as i64
    );
    assert_eq!(schema.scalar("SELECT COUNT(*) FROM datasets"), 1);
    let mut files = Vec::new();
    common::collect_files(home.home(), &mut files);
    assert!(
        files
            .iter()
            .all(|f| f.extension().is_none_or(|e| e != "db")),
        "no SQLite database in a home on PostgreSQL: {files:?}"
    );

    // Another home (another machine's CLI) on the same database sees the same dataset.
    let other = home_on(&schema);
    let listed = other.run(&["datasets", "list"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let listed = listed.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(listed[0]["datasetName"], "OnPostgres");
    assert_eq!(
        other.view("OnPostgres")["datasetProgress"],
        ds["datasetProgress"]
    );
    let tasks = walk_pages(&other, "OnPostgres", 25);
    assert_eq!(tasks.len() as u64, FILES);
    let lines: Vec<&str> = tasks
        .iter()
        .map(|t| t["taskDefinition"]["manifestLine"].as_str().expect("line"))
        .collect();
    assert_eq!(lines, manifest, "pages cover the manifest once, in order");
    assert!(tasks.iter().all(|t| t["taskStatus"] == "COMPLETED"));
    // Task logs are in the store: the other home (no log files of its own) reads them.
    let task = tasks[9]["taskId"].as_str().expect("taskId");
    let log = other.run(&[
        "logs",
        "view",
        "--datasetName",
        "OnPostgres",
        "--taskId",
        task,
    ]);
    assert_eq!(log.code, 0, "{}", log.stderr);
    assert!(
        log.stdout.contains("INFO") && log.stdout.contains("part-"),
        "the task's log, from the store: {}",
        log.stdout
    );
    assert!(!other.home().join("datasets").exists());
    let metrics = other.run(&["metrics", "view", "--datasetName", "OnPostgres"]);
    assert_eq!(metrics.code, 0, "{}", metrics.stderr);
    let written: u64 = metrics.json()["metrics"]
        .as_array()
        .expect("minutes")
        .iter()
        .map(|m| m["documentsWritten"].as_u64().expect("count"))
        .sum();
    assert_eq!(written, FILES * 3, "per-minute metrics add up");

    // Every document once.
    let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
    for line in home.lines(
        ds["resources"]["writeBucket"].as_str().expect("b"),
        "OnPostgres",
    ) {
        let doc: Value = serde_json::from_str(&line).expect("json");
        *seen.entry(doc["id"].as_u64().expect("id")).or_default() += 1;
    }
    assert_eq!(seen.len() as u64, FILES * 3);
    assert!(seen.values().all(|n| *n == 1));

    // A name is unique in the shared store too; deleting reclaims the dataset's tasks.
    let again = other.create(&cfg);
    assert_ne!(again.code, 0);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    let deleted = home.run(&["datasets", "delete", "--datasetName", "OnPostgres"]);
    assert_eq!(deleted.code, 0, "{}", deleted.stderr);
    assert_eq!(schema.scalar("SELECT COUNT(*) FROM tasks"), 0);
}

#[test]
fn a_wrong_database_url_is_refused_before_anything_is_created() {
    let mut home = TestHome::new();
    home.env(
        "LETSDATA_DATABASE_URL",
        "mysql://root:secret@127.0.0.1/letsdata",
    );
    let r = home.run(&["datasets", "list"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr
            .contains("LETSDATA_DATABASE_URL must be a PostgreSQL URL"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("secret"),
        "the password is not printed: {}",
        r.stderr
    );

    let mut home = TestHome::new();
    // A closed port: refused at once, with the server's address.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    home.env(
        "LETSDATA_DATABASE_URL",
        &format!("postgres://letsdata:secret@127.0.0.1:{port}/letsdata"),
    );
    let started = std::time::Instant::now();
    let r = home.run(&["datasets", "list"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains(&format!(
            "cannot connect to postgres://127.0.0.1:{port}/letsdata"
        )),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("secret"), "{}", r.stderr);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(
        !home.home().join("letsdata.db").exists(),
        "no SQLite store made instead"
    );
}

/// `kill -9` of a worker on PostgreSQL mid-run, then `letsdata run`: every good record in the output exactly once, every bad one in the errors once, and
/// the killed invocations closed as LEASE_LOST.
#[cfg(feature = "failpoints")]
#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no test PostgreSQL"
)]
fn sigkill_mid_run_on_postgresql_then_run_gives_exactly_once_output() {
    const LINES: u64 = 40_000;
    let schema = PgSchema::new();
    let mut home = home_on(&schema);
    home.env("LETSDATA_PART_SIZE_BYTES", "200000");
    let mut manifest = Vec::new();
    for f in 0..4u64 {
        let mut text = String::new();
        for i in 0..LINES {
            let id = f * LINES + i;
            if i % 5000 == 4999 {
                text.push_str(&format!("{{\"id\":{id},\"truncated\n"));
            } else {
                text.push_str(&format!("{{\"id\":{id},\"payload\":\"{i:0>40}\"}}\n"));
            }
        }
        home.put("pgkill", &format!("f{f}.jsonl"), text.as_bytes());
        manifest.push(format!("f{f}.jsonl"));
    }
    let manifest: Vec<&str> = manifest.iter().map(String::as_str).collect();
    let cfg = config(
        "PgKill",
        "pgkill",
        json!({"builtinParser": "jsonl", "documentIdField": "id"}),
        &manifest,
    );
    create_detached(&home, &cfg);
    // A worker that kills itself (SIGKILL) right after publishing its fourth part.
    common::run_killed(
        home.command(&["worker"]),
        "part-published-documents=3*off->return(kill)",
    );
    assert_eq!(home.view("PgKill")["datasetStatus"], "PROCESSING");

    let run = home.run(&["run"]);
    assert_eq!(run.code, 0, "letsdata run: {}", run.stderr);
    let ds = home.view("PgKill");
    assert_eq!(ds["datasetStatus"], "COMPLETED");
    let bad = 4 * (LINES / 5000);
    assert_eq!(ds["datasetProgress"]["documentsWritten"], 4 * LINES - bad);
    assert_eq!(ds["datasetProgress"]["errorRecords"], bad);
    let mut seen = vec![0u8; (4 * LINES) as usize];
    for line in home.lines(
        ds["resources"]["writeBucket"].as_str().expect("b"),
        "PgKill",
    ) {
        let doc: Value = serde_json::from_str(&line).expect("json");
        seen[doc["id"].as_u64().expect("id") as usize] += 1;
    }
    for (id, n) in seen.iter().enumerate() {
        let bad = (id as u64 % LINES) % 5000 == 4999;
        assert_eq!(*n, u8::from(!bad), "document {id} written {n} times");
    }
    let errors = home.lines(
        ds["resources"]["errorBucket"].as_str().expect("b"),
        "PgKill",
    );
    assert_eq!(errors.len() as u64, bad, "every bad record once");
    assert!(common::lease_lost_invocations(&home.tasks("PgKill")) >= 1);
}

/// `letsdata worker` processes on one PostgreSQL store: a dataset created with `--detach` is
/// run by the workers; SIGTERM makes a worker checkpoint its running task, release it (RERUN,
/// no lease left to expire) and exit 0; two other workers finish the dataset together, every
/// document exactly once, and no invocation ended by a lost lease.
#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no test PostgreSQL"
)]
fn workers_share_a_dataset_and_sigterm_hands_the_running_task_over() {
    use std::process::Stdio;
    use std::time::Duration;
    const TASKS: u64 = 4;
    const LINES: u64 = 100_000;
    let schema = PgSchema::new();
    let mut home = home_on(&schema);
    // Many checkpoints: a shutdown never waits long for the next one.
    home.env("LETSDATA_PART_SIZE_BYTES", "20000");
    let mut cfg = numbered_input(&home, "Workers", "pgworkers", TASKS, LINES);
    cfg["computeEngine"]["concurrency"] = json!(1);
    create_detached(&home, &cfg);
    // Its stderr is read: it says how it shut down.
    let mut first = home
        .command(&["worker"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn letsdata worker");
    common::wait_until(&mut first, "the worker checkpointed a task", || {
        home.tasks_now("Workers", None)
            .iter()
            .any(|t| t["taskProgress"]["recordsRead"].as_u64().unwrap_or(0) > 0)
    });
    common::signal(first.id(), "-TERM");
    let status = common::wait_exit(&mut first, Duration::from_secs(60), "the worker drained");
    let out = first.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("SIGTERM: shutting down"), "{stderr}");
    let tasks = home.tasks("Workers");
    assert!(
        tasks.iter().all(|t| t["taskStatus"] != "PROCESSING"),
        "the drained worker released every task: {tasks:?}"
    );
    let handed_over: Vec<&Value> = tasks
        .iter()
        .filter(|t| t["taskStatus"] == "RERUN")
        .collect();
    assert!(
        !handed_over.is_empty() || home.view("Workers")["datasetStatus"] == "COMPLETED",
        "the running task was queued again: {tasks:?}"
    );
    for task in &handed_over {
        assert!(task["taskProgress"]["recordsRead"].as_u64().unwrap_or(0) > 0);
        let logs = task["taskExecutionLogs"].as_array().expect("logs");
        assert_eq!(logs.last().expect("log")["outcome"], "RERUN");
    }

    // Two workers finish it (on one machine here: local buckets are one machine's
    // directories).
    let mut second = spawn_worker(&home);
    let third = spawn_worker(&home);
    common::wait_until(&mut second, "the workers completed the dataset", || {
        home.view("Workers")["datasetStatus"] == "COMPLETED"
    });
    for mut w in [second, third] {
        stop_worker(&mut w);
    }
    let ds = home.view("Workers");
    assert_eq!(ds["datasetProgress"]["documentsWritten"], TASKS * LINES);
    assert_each_document_once(&home, &ds, TASKS * LINES);
    assert_eq!(
        common::lease_lost_invocations(&home.tasks("Workers")),
        0,
        "a graceful shutdown loses no lease"
    );
}

/// Three workers on PostgreSQL and S3 (the AWS emulator), a dataset of `concurrency: 2`: never
/// more than two of its tasks run at once, whichever workers run them (checked from the
/// invocations' intervals), and every document is written exactly once.
#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no test PostgreSQL"
)]
fn three_workers_keep_to_the_datasets_concurrency() {
    use std::time::Duration;
    const TASKS: u64 = 8;
    const LINES: u64 = 30_000;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let Some(em) = rt.block_on(emulator()) else {
        return;
    };
    let schema = PgSchema::new();
    let home = emulator_home_on(&schema, &em);
    let name = format!("Capped{}", em.suffix);
    let mut cfg = rt.block_on(numbered_s3_input(&em, &name, TASKS, LINES));
    cfg["computeEngine"]["concurrency"] = json!(2);
    let mut workers: Vec<_> = (0..3).map(|_| spawn_worker(&home)).collect();
    // The workers are up (and looking for work) before the dataset is created: each of them
    // tries to take its tasks from the start.
    std::thread::sleep(Duration::from_millis(1500));
    create_detached(&home, &cfg);
    common::wait_until(&mut workers[0], "the workers completed the dataset", || {
        home.view(&name)["datasetStatus"] == "COMPLETED"
    });
    for w in &mut workers {
        stop_worker(w);
    }
    let tasks = home.tasks(&name);
    let logs = common::execution_logs(&tasks);
    let owners: std::collections::BTreeSet<&str> = logs
        .iter()
        .map(|log| log["workerProcessId"].as_str().expect("worker"))
        .collect();
    let most = most_at_once(&logs);
    assert!(most <= 2, "{most} invocations ran at once: {logs:?}");
    assert!(!owners.is_empty());
    let ds = home.view(&name);
    assert_eq!(ds["datasetProgress"]["documentsWritten"], TASKS * LINES);
    rt.block_on(assert_each_s3_document_once(&em, &ds, TASKS * LINES));
}

/// The most invocations among `logs` (execution log entries) that ran at once.
fn most_at_once(logs: &[Value]) -> i32 {
    // +1 at each start, -1 at each end; ends first when they coincide.
    let mut events: Vec<(i64, i32)> = Vec::new();
    for log in logs {
        events.push((log["startDatetime"].as_i64().expect("start"), 1));
        events.push((
            log["endDatetime"].as_i64().expect("every invocation ended"),
            -1,
        ));
    }
    events.sort();
    let (mut running, mut most) = (0, 0);
    for (_, step) in events {
        running += step;
        most = most.max(running);
    }
    most
}

/// `letsdata worker --concurrency 1` alone, two datasets of `concurrency: 2` each: it runs one
/// task at a time over both (checked from the invocations' intervals), and finishes both.
#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no test PostgreSQL"
)]
fn a_workers_own_concurrency_caps_its_tasks_over_every_dataset() {
    const TASKS: u64 = 4;
    const LINES: u64 = 30_000;
    let schema = PgSchema::new();
    let mut home = home_on(&schema);
    home.env("LETSDATA_PART_SIZE_BYTES", "50000");
    let mut worker = home
        .command(&["worker", "--concurrency", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn letsdata worker");
    for name in ["CapA", "CapB"] {
        let mut cfg = numbered_input(&home, name, &name.to_lowercase(), TASKS, LINES);
        cfg["computeEngine"]["concurrency"] = json!(2);
        create_detached(&home, &cfg);
    }
    common::wait_until(&mut worker, "the worker completed both datasets", || {
        ["CapA", "CapB"]
            .iter()
            .all(|name| home.view(name)["datasetStatus"] == "COMPLETED")
    });
    stop_worker(&mut worker);
    let mut logs = common::execution_logs(&home.tasks("CapA"));
    logs.extend(common::execution_logs(&home.tasks("CapB")));
    assert_eq!(logs.len() as u64, 2 * TASKS, "{logs:?}");
    assert_eq!(most_at_once(&logs), 1, "one task at a time: {logs:?}");
    for name in ["CapA", "CapB"] {
        assert_each_document_once(&home, &home.view(name), TASKS * LINES);
    }
}

/// A TCP relay to the test PostgreSQL on a free port, in a process of its own: SIGSTOP
/// freezes every connection through it (a cut link, as the worker sees it), SIGCONT thaws them.
struct Relay {
    child: std::process::Child,
    port: u16,
}

impl Relay {
    fn to_postgres(schema: &PgSchema) -> Self {
        let target = schema.url();
        let rest = target.split_once('@').expect("user@host in the URL").1;
        let hostport = rest.split('/').next().expect("host:port");
        let (host, port) = hostport.split_once(':').unwrap_or((hostport, "5432"));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        let relay_port = listener.local_addr().expect("addr").port();
        drop(listener);
        let script = format!(
            r#"
import asyncio
async def pipe(r, w):
    try:
        while data := await r.read(65536):
            w.write(data)
            await w.drain()
    finally:
        w.close()
async def serve(r, w):
    ur, uw = await asyncio.open_connection("{host}", {port})
    await asyncio.gather(pipe(r, uw), pipe(ur, w), return_exceptions=True)
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", {relay_port})
    async with server:
        await server.serve_forever()
asyncio.run(main())
"#
        );
        let child = std::process::Command::new("python3")
            .args(["-c", &script])
            .spawn()
            .expect("python3 for the relay");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", relay_port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the relay did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Self {
            child,
            port: relay_port,
        }
    }

    /// `url` with its host and port replaced by the relay's.
    fn url(&self, url: &str) -> String {
        let (scheme_user, rest) = url.split_once('@').expect("user@host");
        let path = &rest[rest.find('/').expect("database")..];
        format!("{scheme_user}@127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every file under `dir` with its size and modification time.
fn snapshot(dir: &std::path::Path) -> BTreeMap<String, (u64, std::time::SystemTime)> {
    let mut files = Vec::new();
    common::collect_files(dir, &mut files);
    files
        .into_iter()
        .filter_map(|f| {
            let meta = std::fs::metadata(&f).ok()?;
            Some((f.display().to_string(), (meta.len(), meta.modified().ok()?)))
        })
        .collect()
}

/// A worker cut off from the database (its link frozen mid-task) gives its lease up before
/// the lease ends and writes nothing more; another worker takes the task over once the lease
/// expired and finishes it, every document exactly once.
#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no test PostgreSQL"
)]
fn a_worker_cut_off_from_the_database_stops_writing_before_its_lease_ends() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    const LINES: u64 = 400_000;
    let schema = PgSchema::new();
    let mut home = home_on(&schema);
    home.env("LETSDATA_PART_SIZE_BYTES", "20000")
        .env("LETSDATA_LEASE_SECONDS", "4")
        .env("LETSDATA_HEARTBEAT_SECONDS", "1");
    let mut cfg = numbered_input(&home, "CutOff", "pgcut", 1, LINES);
    cfg["computeEngine"]["concurrency"] = json!(1);
    create_detached(&home, &cfg);

    let relay = Relay::to_postgres(&schema);
    let log = home.home().join("cut-worker.log");
    let mut cut = home
        .command(&["worker"])
        .env("LETSDATA_DATABASE_URL", relay.url(&schema.url()))
        .env("LETSDATA_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("spawn letsdata worker");
    common::wait_until(&mut cut, "the worker checkpointed its task", || {
        home.tasks_now("CutOff", None)
            .iter()
            .any(|t| t["taskProgress"]["recordsRead"].as_u64().unwrap_or(0) > 0)
    });
    common::signal(relay.child.id(), "-STOP");
    let frozen = Instant::now();
    common::wait_until(&mut cut, "the worker gave its lease up", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("could not be renewed")
    });
    let gave_up = frozen.elapsed();
    assert!(
        gave_up < Duration::from_secs(4),
        "gave the lease up {gave_up:?} after the link froze, past the 4 s lease"
    );
    // Nothing written after that, until well past the lease.
    let bucket = home.home().join("buckets");
    std::thread::sleep(Duration::from_millis(300));
    let before = snapshot(&bucket);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(snapshot(&bucket), before, "the cut-off worker kept writing");

    // Another worker takes the task over once the lease expired and finishes it.
    let mut other = spawn_worker(&home);
    common::wait_until(&mut other, "the other worker completed the dataset", || {
        home.view("CutOff")["datasetStatus"] == "COMPLETED"
    });
    stop_worker(&mut other);
    // The link comes back: the cut-off worker learns its task is gone and exits when told.
    common::signal(relay.child.id(), "-CONT");
    common::signal(cut.id(), "-TERM");
    common::wait_exit(
        &mut cut,
        Duration::from_secs(60),
        "the cut-off worker exited",
    );

    let ds = home.view("CutOff");
    assert_eq!(ds["datasetProgress"]["documentsWritten"], LINES);
    assert_each_document_once(&home, &ds, LINES);
}

/// The database (a private cluster: `initdb` on a free port) crashes and comes back while three
/// workers run a dataset on S3 (the AWS emulator): they retry with back-off, and the dataset
/// completes, every document exactly once, no task ERRORED.
#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no test PostgreSQL"
)]
fn workers_ride_out_a_database_restart() {
    use common::services::PrivatePostgres;
    use std::time::Duration;
    const TASKS: u64 = 4;
    const LINES: u64 = 40_000;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let Some(em) = rt.block_on(emulator()) else {
        return;
    };
    let postgres = PrivatePostgres::start();
    let mut home = em.home();
    home.env("LETSDATA_DATABASE_URL", &postgres.url())
        .env("LETSDATA_PART_SIZE_BYTES", "50000")
        .env("LETSDATA_LEASE_SECONDS", "10")
        .env("LETSDATA_HEARTBEAT_SECONDS", "2");
    let name = format!("Restarted{}", em.suffix);
    let cfg = rt.block_on(numbered_s3_input(&em, &name, TASKS, LINES));
    create_detached(&home, &cfg);
    let mut workers: Vec<_> = (0..3).map(|_| spawn_worker(&home)).collect();
    let mut seen_running = Vec::new();
    common::wait_until(&mut workers[0], "the workers checkpointed", || {
        seen_running = home.tasks_now(&name, None);
        seen_running
            .iter()
            .any(|t| t["taskProgress"]["recordsRead"].as_u64().unwrap_or(0) > 0)
    });
    postgres.crash();
    assert!(
        seen_running.iter().any(|t| t["taskStatus"] != "COMPLETED"),
        "the database went down mid-run: make the input larger"
    );
    std::thread::sleep(Duration::from_secs(2));
    postgres.restart();
    common::wait_until(&mut workers[0], "the workers completed the dataset", || {
        let r = home.run(&["datasets", "view", "--datasetName", &name]);
        r.code == 0 && r.json()["datasetStatus"] == "COMPLETED"
    });
    for w in &mut workers {
        stop_worker(w);
    }
    let ds = home.view(&name);
    assert_eq!(ds["datasetProgress"]["erroredTasks"], 0);
    assert_eq!(ds["datasetProgress"]["documentsWritten"], TASKS * LINES);
    rt.block_on(assert_each_s3_document_once(&em, &ds, TASKS * LINES));
}

/// A home on `schema` whose buckets are the AWS emulator's (S3), with 4-second leases.
fn emulator_home_on(schema: &PgSchema, em: &Emulator) -> TestHome {
    let mut home = em.home();
    home.env("LETSDATA_DATABASE_URL", &schema.url())
        .env("LETSDATA_LEASE_SECONDS", "4")
        .env("LETSDATA_PART_SIZE_BYTES", "100000");
    home
}

/// [`numbered_input`] in a new bucket of the emulator: the config of dataset `name`, with
/// concurrency 3.
async fn numbered_s3_input(em: &Emulator, name: &str, files: u64, lines: u64) -> Value {
    let bucket = format!("input-{}", em.suffix);
    em.s3.create_bucket(&bucket).await.expect("create bucket");
    let b = em.s3.bucket(&bucket).expect("bucket");
    let mut manifest = Vec::new();
    for f in 0..files {
        let key = format!("part-{f:04}.jsonl");
        b.put(&key, bytes::Bytes::from(numbered_file(f, lines)))
            .await
            .expect("put input");
        manifest.push(key);
    }
    let manifest: Vec<&str> = manifest.iter().map(String::as_str).collect();
    let mut cfg = config(
        name,
        &bucket,
        json!({"builtinParser": "jsonl", "documentIdField": "id"}),
        &manifest,
    );
    cfg["computeEngine"]["concurrency"] = json!(3);
    cfg["accessGrantRoleArn"] = json!("arn:aws:iam::123456789012:role/LetsDataAccess");
    cfg["customerAccountForAccess"] = json!("123456789012");
    cfg
}

/// Every document id of `0..total` exactly once in the dataset's S3 output.
async fn assert_each_s3_document_once(em: &Emulator, ds: &Value, total: u64) {
    let name = ds["datasetName"].as_str().expect("datasetName");
    let bucket = ds["resources"]["writeBucket"]
        .as_str()
        .expect("writeBucket");
    let mut seen = vec![0u32; total as usize];
    for line in em.s3_lines(bucket, name).await {
        let doc: Value = serde_json::from_str(&line).expect("json");
        seen[doc["id"].as_u64().expect("id") as usize] += 1;
    }
    let wrong: Vec<(usize, u32)> = seen
        .iter()
        .enumerate()
        .filter(|(_, n)| **n != 1)
        .map(|(id, n)| (id, *n))
        .take(10)
        .collect();
    assert!(
        wrong.is_empty(),
        "documents not written exactly once (id, times): {wrong:?}"
    );
}

/// The pid in a worker id (`<host>:<pid>:<random>`).
fn pid_of(worker_id: &str) -> u32 {
    worker_id
        .rsplit(':')
        .nth(1)
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no pid in the worker id {worker_id:?}"))
}

/// The workers running tasks of `dataset` that have checkpointed.
fn workers_past_a_checkpoint(home: &TestHome, dataset: &str) -> Vec<u32> {
    home.tasks_now(dataset, Some("PROCESSING"))
        .iter()
        .filter(|t| t["taskProgress"]["recordsRead"].as_u64().unwrap_or(0) > 0)
        .filter_map(|t| t["workerProcessId"].as_str().map(pid_of))
        .collect()
}

/// Whether the invocation of execution log entry `log` ran on the worker process `pid`.
fn ran_on(log: &Value, pid: u32) -> bool {
    log["workerProcessId"]
        .as_str()
        .is_some_and(|w| pid_of(w) == pid)
}

/// Whether a task of `dataset` that worker `pid` lost (reaped: `LEASE_LOST`) runs or ran on
/// another worker since.
fn taken_over_from(home: &TestHome, dataset: &str, pid: u32) -> bool {
    home.tasks_now(dataset, None).iter().any(|t| {
        let logs = t["taskExecutionLogs"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        logs.iter()
            .any(|l| l["outcome"] == "LEASE_LOST" && ran_on(l, pid))
            && logs.last().is_some_and(|l| !ran_on(l, pid))
    })
}

/// Some invocation of `dataset` was reaped, every one that was ran on worker `pid`, and the
/// reason recorded ends with `why`.
fn assert_reaped_only_from(home: &TestHome, dataset: &str, pid: u32, why: &str) {
    let logs = common::execution_logs(&home.tasks(dataset));
    let reaped: Vec<&Value> = logs
        .iter()
        .filter(|l| l["outcome"] == "LEASE_LOST")
        .collect();
    assert!(!reaped.is_empty(), "an invocation was reaped: {logs:?}");
    for log in reaped {
        assert!(ran_on(log, pid), "only worker {pid} lost leases: {log}");
        assert!(
            log["message"].as_str().is_some_and(|m| m.ends_with(why)),
            "{log}"
        );
    }
}

/// Three workers on PostgreSQL and S3 (the AWS emulator); one is killed (SIGKILL) in the
/// middle of a task: the other two finish the dataset, every document exactly once, and the
/// killed worker's invocations are closed as exited.
#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator or test PostgreSQL"
)]
fn three_workers_on_s3_lose_nothing_when_one_is_killed() {
    const FILES: u64 = 6;
    const LINES: u64 = 30_000;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let Some(em) = rt.block_on(emulator()) else {
        return;
    };
    let schema = PgSchema::new();
    let home = emulator_home_on(&schema, &em);
    let name = format!("Killed{}", em.suffix);
    let cfg = rt.block_on(numbered_s3_input(&em, &name, FILES, LINES));
    let mut workers: Vec<_> = (0..3).map(|_| spawn_worker(&home)).collect();
    create_detached(&home, &cfg);
    let mut victim = None;
    common::wait_until(&mut workers[0], "a worker checkpointed a task", || {
        victim = workers_past_a_checkpoint(&home, &name).first().copied();
        victim.is_some()
    });
    let victim = victim.expect("victim");
    let at = workers
        .iter()
        .position(|w| w.id() == victim)
        .expect("the task's worker is one of ours");
    let mut killed = workers.remove(at);
    common::signal(victim, "-KILL");
    killed.wait().expect("reap the killed worker");
    common::wait_until(
        &mut workers[0],
        "the other workers completed the dataset",
        || home.view(&name)["datasetStatus"] == "COMPLETED",
    );
    for w in &mut workers {
        stop_worker(w);
    }
    let ds = home.view(&name);
    assert_eq!(ds["datasetProgress"]["documentsWritten"], FILES * LINES);
    rt.block_on(assert_each_s3_document_once(&em, &ds, FILES * LINES));
    assert_reaped_only_from(&home, &name, victim, "exited while running the task");
}

/// Three workers on PostgreSQL and S3; one is frozen (SIGSTOP) past its lease while it runs
/// tasks, the others take them over from their checkpoints, then it is thawed (SIGCONT): it
/// gives its stale tasks up without writing, no document is missing or written twice, and it
/// goes on as a worker (SIGTERM: exits 0).
#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator or test PostgreSQL"
)]
fn a_worker_frozen_past_its_lease_gives_its_tasks_up_when_thawed() {
    use std::time::Duration;
    const FILES: u64 = 6;
    const LINES: u64 = 30_000;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let Some(em) = rt.block_on(emulator()) else {
        return;
    };
    let schema = PgSchema::new();
    let home = emulator_home_on(&schema, &em);
    let name = format!("Frozen{}", em.suffix);
    let cfg = rt.block_on(numbered_s3_input(&em, &name, FILES, LINES));
    let log_path = home.home().join("stale-worker.log");
    let mut stale = home
        .command(&["worker"])
        .env("LETSDATA_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log_path).expect("log file"))
        .spawn()
        .expect("spawn letsdata worker");
    create_detached(&home, &cfg);
    common::wait_until(&mut stale, "the worker checkpointed a task", || {
        !workers_past_a_checkpoint(&home, &name).is_empty()
    });
    common::signal(stale.id(), "-STOP");
    let mut others: Vec<_> = (0..2).map(|_| spawn_worker(&home)).collect();
    let stale_pid = stale.id();
    common::wait_until(
        &mut others[0],
        "another worker took a frozen task over",
        || taken_over_from(&home, &name, stale_pid),
    );
    common::signal(stale_pid, "-CONT");
    common::wait_until(&mut others[0], "the workers completed the dataset", || {
        home.view(&name)["datasetStatus"] == "COMPLETED"
    });
    // The thawed worker is a worker still: it drains and exits 0.
    std::thread::sleep(Duration::from_secs(2));
    stop_worker(&mut stale);
    for w in &mut others {
        stop_worker(w);
    }
    let ds = home.view(&name);
    assert_eq!(ds["datasetProgress"]["documentsWritten"], FILES * LINES);
    rt.block_on(assert_each_s3_document_once(&em, &ds, FILES * LINES));
    assert_reaped_only_from(&home, &name, stale_pid, "stopped renewing its lease");
    let said = std::fs::read_to_string(&log_path).expect("stale log");
    assert!(
        said.contains("the invocation stops writing") || said.contains("lease"),
        "the thawed worker says it gave its tasks up: {said}"
    );
}

/// A worker in a network namespace of its own, reaching PostgreSQL and S3 (both bound to the
/// namespace link's host address) over a veth pair, has its link cut in the middle of its
/// tasks: two workers outside take them over from their checkpoints once its leases expire;
/// the link comes back and the cut-off worker's late writes are refused; every document is in
/// the output exactly once.
#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator or test PostgreSQL"
)]
fn a_worker_whose_link_is_cut_mid_task_loses_and_duplicates_nothing() {
    use common::emulator::{PrivateMoto, emulator_at};
    use common::services::{NetNs, PrivatePostgres};
    const FILES: u64 = 6;
    const LINES: u64 = 30_000;
    if common::emulator::endpoint().is_none() {
        return;
    }
    let Some(net) = NetNs::new() else { return };
    let pg = PrivatePostgres::start_on(&net.host_ip);
    let moto = PrivateMoto::start_on(&net.host_ip);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let em = rt.block_on(emulator_at(&moto.endpoint));
    let mut home = em.home();
    home.env("LETSDATA_DATABASE_URL", &pg.url())
        .env("LETSDATA_LEASE_SECONDS", "4")
        .env("LETSDATA_PART_SIZE_BYTES", "100000");
    let name = format!("Cut{}", em.suffix);
    let cfg = rt.block_on(numbered_s3_input(&em, &name, FILES, LINES));
    let mut cut_off = net
        .inside(&home.command(&["worker"]))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn letsdata worker in the namespace");
    let cut_pid = cut_off.id();
    create_detached(&home, &cfg);
    common::wait_until(
        &mut cut_off,
        "the namespaced worker checkpointed a task",
        || workers_past_a_checkpoint(&home, &name).contains(&cut_pid),
    );
    net.cut();
    let mut others: Vec<_> = (0..2).map(|_| spawn_worker(&home)).collect();
    common::wait_until(
        &mut others[0],
        "another worker took a cut-off task over",
        || taken_over_from(&home, &name, cut_pid),
    );
    net.restore();
    common::wait_until(&mut others[0], "the workers completed the dataset", || {
        home.view(&name)["datasetStatus"] == "COMPLETED"
    });
    for w in &mut others {
        stop_worker(w);
    }
    // The cut-off worker, its link back, is a worker still.
    stop_worker(&mut cut_off);
    let ds = home.view(&name);
    assert_eq!(ds["datasetProgress"]["documentsWritten"], FILES * LINES);
    rt.block_on(assert_each_s3_document_once(&em, &ds, FILES * LINES));
    assert_reaped_only_from(&home, &name, cut_pid, "stopped renewing its lease");
}

/// `url` with `param` (`key=value`) added to its query.
fn with_param(url: &str, param: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{param}")
}

/// `sslmode` is honoured: `require` connects over TLS to a server that has it (the test
/// server, when its `ssl` is on: Debian's cluster with its snakeoil certificate), and is
/// refused, with one clear message and exit 1 and no password, by a server that has not (a
/// private cluster, `ssl` off).
#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no test PostgreSQL"
)]
fn sslmode_require_connects_over_tls_or_is_refused() {
    use common::services::PrivatePostgres;
    let schema = PgSchema::new();
    if schema.scalar("SELECT (current_setting('ssl') = 'on')::INT::INT8") == 1 {
        let app = format!("letsdata-tls-{}", common::services::suffix());
        let mut home = TestHome::new();
        home.env(
            "LETSDATA_DATABASE_URL",
            &with_param(
                &with_param(&schema.url(), "sslmode=require"),
                &format!("application_name={app}"),
            ),
        );
        let mut worker = spawn_worker(&home);
        let listed = home.run(&["datasets", "list"]);
        assert_eq!(listed.code, 0, "{}", listed.stderr);
        // The worker's sessions (it keeps them open) are encrypted.
        let encrypted = format!(
            "SELECT COUNT(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
             WHERE s.ssl AND a.application_name = '{app}'"
        );
        common::wait_until(&mut worker, "the worker connected over TLS", || {
            schema.scalar(&encrypted) > 0
        });
        let plain = format!(
            "SELECT COUNT(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
             WHERE NOT s.ssl AND a.application_name = '{app}'"
        );
        assert_eq!(schema.scalar(&plain), 0, "no session without TLS");
        stop_worker(&mut worker);
    } else {
        eprintln!("note: the test PostgreSQL has ssl off: only the refusal is tested");
    }

    let plain = PrivatePostgres::start();
    let url = plain
        .url()
        .replace("postgres@", "postgres:secret-password@");
    let mut home = TestHome::new();
    home.env(
        "LETSDATA_DATABASE_URL",
        &with_param(&url, "sslmode=require"),
    );
    let r = home.run(&["datasets", "list"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "cannot connect to postgres://127.0.0.1:{}/postgres",
            plain.port
        )),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.to_lowercase().contains("tls") || r.stderr.to_lowercase().contains("ssl"),
        "the message says TLS was the problem: {}",
        r.stderr
    );
    assert!(!r.stderr.contains("secret-password"), "{}", r.stderr);
    assert_eq!(
        r.stderr.trim().lines().count(),
        1,
        "one message: {}",
        r.stderr
    );
}
