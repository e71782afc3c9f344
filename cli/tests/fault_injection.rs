//! The fault-injection suite: storms of SIGKILLs and SIGSTOPs past the task lease at failpoints chosen at random (file and stream datasets, part-object and stream
//! destinations) and a disk that fills up under a running dataset. Each checks that every input record ends up exactly once in the output or the
//! errors (at least once, and only repeated with the same document id, in a stream
//! destination), that no staging file is left, and that the progress counters equal what is
//! in the buckets.
//!
//! Size: `LETSDATA_FAULT_KILLS` faults per storm (default 10, a third of them stops;
//! `LETSDATA_FAULT_STOPS=0` makes them all kills) over `LETSDATA_FAULT_LINES`
//! input lines (default 40000); `LETSDATA_FAULT_SEED` replays a run (each test prints its
//! seed). The full-size run is in docs/dev/testing.md.

#![cfg(feature = "failpoints")]

mod common;

use common::services::{
    create_topic, kafka_bootstrap, kafka_read_config, produce, read_topic, suffix,
};
use common::{TestHome, config};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Stdio};
use std::time::Duration;

/// Where a storm's kills land: every point of a part's life, from writing to publishing, each
/// after up to (the number given - 1) hits.
const POINTS: &[(&str, u32)] = &[
    ("s3-part-write", 12),
    ("part-commit", 4),
    ("part-committed-documents", 4),
    ("part-committed", 4),
    ("part-checkpointed", 4),
    ("part-published-documents", 4),
];

/// The same points, each at its first hit: a stream task rolls a part per poll (4 MiB), so
/// a few hits would cover the whole input.
const FIRST_HITS: &[(&str, u32)] = &[
    ("s3-part-write", 1),
    ("part-commit", 1),
    ("part-committed-documents", 1),
    ("part-committed", 1),
    ("part-checkpointed", 1),
    ("part-published-documents", 1),
];

fn setting(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?}: expected a number")),
        Err(_) => default,
    }
}

fn rng(test: &str) -> fastrand::Rng {
    let seed = setting("LETSDATA_FAULT_SEED", fastrand::u64(..));
    eprintln!("{test}: LETSDATA_FAULT_SEED={seed}");
    fastrand::Rng::with_seed(seed)
}

/// Input lines for ids `start..start + n` ([`common::mixed_input`], 40 digits of payload).
fn input(start: u64, n: u64) -> (String, Vec<String>) {
    padded_input(start, n, 40)
}

/// [`common::mixed_input`]: the text and the bad lines.
fn padded_input(start: u64, n: u64, pad: usize) -> (String, Vec<String>) {
    let (text, _, bad) = common::mixed_input(start, n, pad);
    (text, bad)
}

/// Runs `first` (then `letsdata run`, again and again), each with a fault at a random
/// failpoint: a SIGKILL, or (one time in three, unless `LETSDATA_FAULT_STOPS=0`) a SIGSTOP that
/// outlasts the task lease. A
/// stopped worker sleeps through the rest of the storm (the next runs take its tasks over once
/// its lease expires) and is woken up (SIGCONT) once a last `letsdata run` without failpoints
/// finished the work: it must find its leases lost and exit without changing anything. Until
/// `faults` faults happened. Returns the last run's output.
fn storm(
    home: &TestHome,
    first: &[&str],
    points: &[(&str, u32)],
    faults: u64,
    rng: &mut fastrand::Rng,
) -> common::Run {
    let mut done = 0;
    let mut args: Vec<&str> = first.to_vec();
    let mut finished_early = 0;
    let mut stopped: Vec<Child> = Vec::new();
    while done < faults {
        let (point, most) = points[rng.usize(..points.len())];
        let stop = stops() && rng.u32(..3) == 0;
        let action = if stop { "stop" } else { "kill" };
        // One stop at most: a woken worker goes on without stopping again.
        let spec = format!("{point}={}*off->1*return({action})", rng.u32(..most));
        let mut child = home
            .command(&args)
            .env("LETSDATA_FAILPOINTS", &spec)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run letsdata");
        let pid = child.id();
        // Drained as it comes: a full pipe would block the worker.
        let mut pipe = child.stderr.take().expect("stderr");
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut pipe, &mut text);
            text
        });
        let stopped_now = loop {
            if stop && common::process_state(pid) == Some('T') {
                break true;
            }
            if child.try_wait().expect("wait").is_some() {
                break false;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        if stopped_now {
            eprintln!("{spec}: stopped past its lease");
            done += 1;
            stopped.push(child);
        } else {
            let status = child.wait().expect("wait");
            let stderr = stderr.join().expect("stderr");
            match status.signal() {
                Some(libc::SIGKILL) => {
                    eprintln!("{spec}: killed");
                    done += 1;
                }
                _ => {
                    assert!(status.success(), "{spec}: {status:?}: {stderr}");
                    // The point was not reached as often as asked (a part with no errors
                    // has no error object): the run went on to the end of what was left.
                    finished_early += 1;
                    assert!(
                        finished_early < 3,
                        "{spec}: the dataset finished after {done} faults; make the input larger: {}",
                        home.run(&["datasets", "list"]).stdout
                    );
                }
            }
        }
        args = vec!["run"];
    }
    let last = home.run(&["run"]);
    for worker in stopped {
        wake(worker);
    }
    last
}

/// Whether storms stop workers too (unless `LETSDATA_FAULT_STOPS=0`). A stop holds the
/// worker's store writes first (`letsdata_store::hold_writes`): the stopped worker is between
/// two store calls, never inside a SQLite write that would lock the other runs out.
fn stops() -> bool {
    setting("LETSDATA_FAULT_STOPS", 1) != 0
}

/// Wakes a worker stopped past its lease and waits until it exits by itself.
fn wake(mut worker: Child) {
    let pid = worker.id();
    common::signal(pid, "-CONT");
    let status = worker.wait().expect("wait");
    assert!(
        status.code().is_some(),
        "the woken worker exited by itself: {status:?}"
    );
}

/// A storm's settings (kills, input lines per file or partition, the random source) and a home
/// with small parts: many checkpoints to be killed between.
fn setup(test: &str) -> (u64, u64, fastrand::Rng, TestHome) {
    let mut home = TestHome::new();
    // A short lease: a worker stopped past it is taken over within seconds.
    home.env("LETSDATA_PART_SIZE_BYTES", "50000")
        .env("LETSDATA_LEASE_SECONDS", "3")
        .env("LETSDATA_HEARTBEAT_SECONDS", "1");
    (
        setting("LETSDATA_FAULT_KILLS", 10),
        setting("LETSDATA_FAULT_LINES", 40_000),
        rng(test),
        home,
    )
}

/// Two input files of `lines` lines each in `bucket` (the second gzipped when `gzip`), and the
/// config of dataset `name` reading them. Returns the config and the bad lines.
fn two_files(
    home: &TestHome,
    name: &str,
    bucket: &str,
    lines: u64,
    gzip: bool,
) -> (Value, Vec<String>) {
    let (a, mut bad) = input(0, lines);
    let (b, bad_b) = input(lines, lines);
    bad.extend(bad_b);
    home.put(bucket, "a.jsonl", a.as_bytes());
    let (second, b) = if gzip {
        ("b.jsonl.gz", common::gzip(b.as_bytes()))
    } else {
        ("b.jsonl", b.into_bytes())
    };
    home.put(bucket, second, &b);
    let cfg = config(
        name,
        bucket,
        json!({"builtinParser": "jsonl", "documentIdField": "id"}),
        &["a.jsonl", second],
    );
    (cfg, bad)
}

/// The storm over dataset `cfg` at `concurrency`, created by the storm's first run; the last
/// (clean) run must succeed.
fn storm_dataset(
    home: &TestHome,
    mut cfg: Value,
    concurrency: u32,
    points: &[(&str, u32)],
    kills: u64,
    rng: &mut fastrand::Rng,
) {
    cfg["computeEngine"]["concurrency"] = json!(concurrency);
    let name = cfg["datasetName"].as_str().expect("name").to_string();
    let path = home.config(&name, &cfg);
    let create = [
        "datasets",
        "create",
        "--configFile",
        path.to_str().expect("utf8"),
    ];
    let last = storm(home, &create, points, kills, rng);
    assert_eq!(last.code, 0, "{}", last.stderr);
}

/// Every document id, with how often it was written.
fn id_counts(docs: &[String]) -> BTreeMap<u64, usize> {
    let mut counts = BTreeMap::new();
    for l in docs {
        let v: Value = serde_json::from_str(l).expect("document is JSON");
        *counts.entry(v["id"].as_u64().expect("id")).or_default() += 1;
    }
    counts
}

/// Checks a completed dataset whose output and errors are part objects in local buckets:
/// every good record once, every bad one once, counters equal to the buckets, no staging file
/// (`lines` fails on one).
fn exactly_once(home: &TestHome, dataset: &str, good: &BTreeSet<u64>, bad: &[String]) {
    let ds = home.view(dataset);
    assert_eq!(ds["datasetStatus"], "COMPLETED", "{ds}");
    let docs = home.lines(ds["resources"]["writeBucket"].as_str().expect("b"), "");
    let errors = home.lines(ds["resources"]["errorBucket"].as_str().expect("b"), "");
    let counts = id_counts(&docs);
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "documents written twice: {twice:?}");
    let got: BTreeSet<u64> = counts.keys().copied().collect();
    let lost: Vec<_> = good.difference(&got).take(10).collect();
    assert!(lost.is_empty(), "documents lost: {lost:?}...");
    assert_eq!(got, *good);
    let mut raw = common::raw_records(&errors);
    raw.sort();
    let mut expected: Vec<String> = bad.to_vec();
    expected.sort();
    assert_eq!(raw, expected, "every bad record once in the errors");
    let p = &ds["datasetProgress"];
    assert_eq!(
        p["documentsWritten"].as_u64(),
        Some(docs.len() as u64),
        "{p}"
    );
    assert_eq!(p["errorRecords"].as_u64(), Some(errors.len() as u64), "{p}");
}

#[test]
fn a_file_dataset_survives_a_sigkill_storm() {
    let (kills, lines, mut rng, home) = setup("a_file_dataset_survives_a_sigkill_storm");
    let (cfg, bad) = two_files(&home, "FileStorm", "storm-in", lines, true);
    storm_dataset(&home, cfg, 2, POINTS, kills, &mut rng);
    let good: BTreeSet<u64> = (0..2 * lines).filter(|id| id % 97 != 13).collect();
    exactly_once(&home, "FileStorm", &good, &bad);
}

#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
fn a_stream_dataset_survives_a_sigkill_storm() {
    let (kills, lines, mut rng, home) = setup("a_stream_dataset_survives_a_sigkill_storm");
    let bootstrap = kafka_bootstrap();
    let topic = format!("storm-{}", suffix());
    let mut bad = Vec::new();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            create_topic(&bootstrap, &topic, 2).await;
            for p in 0..2u64 {
                let (text, b) = padded_input(p * lines, lines, 400);
                bad.extend(b);
                let records: Vec<(String, String)> = text
                    .lines()
                    .enumerate()
                    .map(|(i, l)| ((p * lines + i as u64).to_string(), l.to_string()))
                    .collect();
                produce(&bootstrap, &topic, p as i32, &records).await;
            }
        });
    let cfg = kafka_read_config("StreamStorm", &bootstrap, &topic);
    storm_dataset(&home, cfg, 2, FIRST_HITS, kills, &mut rng);
    let good: BTreeSet<u64> = (0..2 * lines).filter(|id| id % 97 != 13).collect();
    exactly_once(&home, "StreamStorm", &good, &bad);
}

/// A stream destination cannot take documents back: after the storm every document is in
/// the topic at least once, a repeat carries the same key (document id), and every bad record
/// is once in the errors. One task at a time: tansu loses a batch when two connections
/// produce to one partition at once (docs/dev/testing.md).
#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
fn a_stream_destination_survives_a_sigkill_storm() {
    let (kills, lines, mut rng, mut home) = setup("a_stream_destination_survives_a_sigkill_storm");
    let bootstrap = kafka_bootstrap();
    home.env("LETSDATA_KAFKA_BOOTSTRAP_SERVERS", &bootstrap);
    let (mut cfg, mut bad) = two_files(&home, "TopicStorm", "storm-out", lines, false);
    cfg["writeConnector"] = json!({"connectorDestination": "Kafka", "resourceLocation": "LetsData",
        "kafkaPartitionCount": 2});
    storm_dataset(&home, cfg, 1, POINTS, kills, &mut rng);
    let ds = home.view("TopicStorm");
    assert_eq!(ds["datasetStatus"], "COMPLETED", "{ds}");
    let topic = ds["resources"]["writeResource"]["name"]
        .as_str()
        .expect("topic")
        .to_string();
    let records = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(read_topic(&bootstrap, &topic));
    let mut ids = BTreeSet::new();
    for (_, key, value) in &records {
        let v: Value = serde_json::from_str(value).expect("document");
        assert_eq!(
            v["id"].to_string(),
            *key,
            "a repeat carries its document id"
        );
        ids.insert(v["id"].as_u64().expect("id"));
    }
    let good: BTreeSet<u64> = (0..2 * lines).filter(|id| id % 97 != 13).collect();
    let lost: Vec<_> = good.difference(&ids).collect();
    let per_partition: BTreeMap<i32, usize> = records.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r.0).or_default() += 1;
        m
    });
    assert!(
        lost.is_empty(),
        "{} documents not in the topic ({} records by partition {per_partition:?}), e.g. {:?}",
        lost.len(),
        records.len(),
        &lost[..lost.len().min(20)]
    );
    assert_eq!(ids, good, "every document in the topic");
    let errors = home.lines(ds["resources"]["errorBucket"].as_str().expect("b"), "");
    let mut raw = common::raw_records(&errors);
    raw.sort();
    bad.sort();
    assert_eq!(raw, bad, "every bad record once in the errors");
    assert_eq!(
        ds["datasetProgress"]["errorRecords"].as_u64(),
        Some(errors.len() as u64)
    );
    assert!(
        ds["datasetProgress"]["documentsWritten"].as_u64() >= Some(good.len() as u64),
        "{ds}"
    );
}

/// A small tmpfs mounted over a directory for the test's life.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &std::path::Path, size: &str) -> Self {
        std::fs::create_dir_all(dir).expect("mount point");
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test mounts a small tmpfs to fill it up, which needs root (or CAP_SYS_ADMIN): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self(dir.to_path_buf())
    }

    fn resize(&self, size: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .expect("run mount");
        assert!(status.success(), "remount {}", self.0.display());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// The buckets' disk fills up while a dataset writes its output: the tasks end ERRORED
/// saying so, nothing of a part that did not fit is visible, and once there is room again a
/// redrive completes the dataset with every record exactly once.
#[test]
fn a_full_disk_fails_the_tasks_and_a_redrive_completes_them() {
    let mut home = TestHome::new();
    home.env("LETSDATA_PART_SIZE_BYTES", "200000");
    let lines = 40_000;
    let (a, bad) = input(0, lines);
    let buckets = home.home().join("buckets");
    // Room for the input and about half of the output.
    let disk = Tmpfs::mount(&buckets, &format!("{}", a.len() * 3 / 2 + (1 << 20)));
    home.put("full-in", "a.jsonl", a.as_bytes());
    let cfg = config(
        "DiskFull",
        "full-in",
        json!({"builtinParser": "jsonl", "documentIdField": "id"}),
        &["a.jsonl"],
    );
    let run = home.create(&cfg);
    assert_ne!(run.code, 0, "the disk filled up: {}", run.stdout);
    let ds = home.view("DiskFull");
    assert_eq!(ds["datasetStatus"], "ERRORED", "{ds}");
    let tasks = home.tasks("DiskFull");
    let last_error = tasks[0]["lastError"].as_str().unwrap_or_default();
    assert!(
        last_error.contains("No space left on device"),
        "the task says why: {last_error}"
    );

    disk.resize("64m");
    let redrive = home.run(&["tasks", "redrive", "--datasetName", "DiskFull"]);
    assert_eq!(redrive.code, 0, "{}", redrive.stderr);
    let good: BTreeSet<u64> = (0..lines).filter(|id| id % 97 != 13).collect();
    exactly_once(&home, "DiskFull", &good, &bad);
}
