//! Valid-looking configurations and hostile inputs that used to lose data or reach what
//! letsdata does not own: overlapping destinations, names for LetsData resources, links in
//! local buckets, repeated manifest lines, unusable tuning variables.

mod common;

use common::{TestHome, config, jsonl};
use serde_json::json;
use std::os::unix::fs::symlink;

/// Documents and error records in one bucket used to share part keys: a task without errors
/// then deleted its own document part. The input bucket as the output (LetsData) used to be
/// adopted and removed by `datasets delete`. Both are refused at create, naming the fields.
#[test]
fn overlapping_or_adopted_destinations_are_refused_at_create() {
    let home = TestHome::new();
    home.put("shared-in", "a.jsonl", jsonl(0, 10).as_bytes());
    home.bucket("shared-out");
    let mut cfg = config(
        "Shared",
        "shared-in",
        json!({"builtinParser": "jsonl",
        "documentIdField": "id"}),
        &["a.jsonl"],
    );
    for connector in ["writeConnector", "errorConnector"] {
        cfg[connector] = json!({"connectorDestination": "S3", "resourceLocation": "Customer",
            "bucketName": "shared-out"});
    }
    let run = home.create(&cfg);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stderr.contains(
            "errorConnector.bucketName: \"shared-out\" is also writeConnector.bucketName"
        ),
        "{}",
        run.stderr
    );

    let mut cfg = config(
        "Adopt",
        "shared-in",
        json!({"builtinParser": "jsonl",
        "documentIdField": "id"}),
        &["a.jsonl"],
    );
    cfg["writeConnector"]["bucketName"] = json!("shared-in");
    let run = home.create(&cfg);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stderr.contains(
            "writeConnector.bucketName: names the bucket, but with resourceLocation LetsData"
        ),
        "{}",
        run.stderr
    );
    cfg["writeConnector"]["resourceLocation"] = json!("Customer");
    let run = home.create(&cfg);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stderr
            .contains("is the bucket the dataset reads (readConnector.bucketName)"),
        "{}",
        run.stderr
    );
    let list = home.run(&["datasets", "list"]);
    assert_eq!(list.json(), json!([]), "nothing created");
    assert!(home.home().join("buckets/shared-in/a.jsonl").exists());
}

/// A link in a read bucket (to a file outside the home) is not read; a link in a LetsData
/// bucket (to a directory outside) does not make `datasets delete` remove what it points to.
#[test]
fn links_in_local_buckets_are_never_followed() {
    let home = TestHome::new();
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        outside.path().join("secret.jsonl"),
        "{\"id\":\"secret-1\"}\n{\"id\":\"secret-2\"}\n",
    )
    .expect("write");
    home.put("linked-in", "a.jsonl", jsonl(0, 50).as_bytes());
    symlink(
        outside.path().join("secret.jsonl"),
        home.bucket("linked-in").join("b.jsonl"),
    )
    .expect("ln");
    let cfg = config(
        "Linked",
        "linked-in",
        json!({"builtinParser": "jsonl",
        "documentIdField": "id"}),
        &["a.jsonl", "b.jsonl"],
    );
    let run = home.create(&cfg);
    assert_ne!(run.code, 0, "the linked file's task errors: {}", run.stderr);
    let ds = home.view("Linked");
    assert_eq!(ds["datasetProgress"]["documentsWritten"], 50, "{ds}");
    let errored = home.run(&[
        "tasks",
        "list",
        "--datasetName",
        "Linked",
        "--taskStatus",
        "ERRORED",
    ]);
    let errored = errored.json();
    let errored = errored.as_array().expect("array");
    assert_eq!(errored.len(), 1, "{errored:?}");
    let last_error = errored[0]["lastError"].as_str().expect("lastError");
    assert!(last_error.contains("is a symbolic link"), "{last_error}");
    let output = ds["resources"]["writeBucket"]
        .as_str()
        .expect("writeBucket")
        .to_string();
    let written = home.lines(&output, "");
    assert_eq!(written.len(), 50);
    assert!(
        written.iter().all(|l| !l.contains("secret")),
        "a linked file was read"
    );

    // A directory link placed in the LetsData output bucket survives as a link only.
    symlink(
        outside.path(),
        home.bucket(&output).join("Linked").join("escape"),
    )
    .expect("ln");
    let run = home.run(&["datasets", "delete", "--datasetName", "Linked"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        !home.home().join("buckets").join(&output).exists(),
        "the bucket is deleted"
    );
    assert!(
        outside.path().join("secret.jsonl").exists(),
        "delete followed a link out of the bucket"
    );
    assert!(home.home().join("buckets/linked-in/b.jsonl").is_symlink());
}

#[test]
fn repeated_manifest_lines_are_warned_about() {
    let home = TestHome::new();
    home.put("rep-in", "a.jsonl", jsonl(0, 5).as_bytes());
    home.put("rep-in", "b.jsonl", jsonl(5, 5).as_bytes());
    let cfg = config(
        "Repeated",
        "rep-in",
        json!({"builtinParser": "jsonl",
        "documentIdField": "id"}),
        &["a.jsonl", "b.jsonl", "a.jsonl"],
    );
    let run = home.create(&cfg);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("warning: Create Tasks (1/2): 1 manifest line repeats an earlier one (line 3 repeats line 1 (\"a.jsonl\"))"),
        "{}",
        run.stderr
    );
    let ds = run.json();
    assert_eq!(ds["datasetProgress"]["documentsWritten"], 15, "{ds}");
    let step = ds["initializationWorkflow"]["Create Tasks (1/2)"]["message"]
        .as_str()
        .expect("step message");
    assert!(step.contains("warning: 1 manifest line repeats"), "{step}");
}

#[test]
fn unusable_tuning_variables_are_refused() {
    for (var, value, needle) in [
        (
            "LETSDATA_LEASE_SECONDS",
            "30s",
            "LETSDATA_LEASE_SECONDS=\"30s\": expected the task lease in seconds",
        ),
        (
            "LETSDATA_HEARTBEAT_SECONDS",
            "60",
            "must be shorter than the lease",
        ),
        ("LETSDATA_PART_SIZE_BYTES", "0", "a whole number above 0"),
    ] {
        let mut home = TestHome::new();
        home.env(var, value);
        let run = home.run(&["datasets", "list"]);
        assert_eq!(run.code, 1, "{var}={value}: {}", run.stdout);
        assert!(run.stderr.contains(needle), "{}", run.stderr);
    }
}

/// Every staging file under a bucket directory (`<key>#<n>`: an upload that never completed).
#[cfg(feature = "failpoints")]
fn staging_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(staging_files(&path));
        } else if entry.file_name().to_string_lossy().contains('#') {
            found.push(path);
        }
    }
    found
}

/// A crash in the middle of a part's upload (over 8 MiB, so a multipart upload with a staging
/// file) leaves the staging file; the run that resumes the task removes it, and every record
/// is in the output exactly once. The crash is a failpoint (SIGKILL at the 12th write of a
/// part), not a timed kill.
#[cfg(feature = "failpoints")]
#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
fn a_crash_mid_part_leaves_no_staging_file_once_the_task_resumes() {
    let mut home = TestHome::new();
    home.put("crash-in", "a.jsonl", jsonl(0, 200_000).as_bytes());
    home.env("LETSDATA_PART_SIZE_BYTES", "16000000");
    let cfg = config(
        "CrashMidPart",
        "crash-in",
        json!({"builtinParser": "jsonl",
        "documentIdField": "id"}),
        &["a.jsonl"],
    );
    let crashed: common::Run = home
        .create_command(&cfg)
        .env("LETSDATA_FAILPOINTS", "s3-part-write=11*off->return(kill)")
        .output()
        .expect("run letsdata")
        .into();
    assert_eq!(
        crashed.code, -1,
        "killed by the failpoint: {}",
        crashed.stderr
    );
    let buckets = home.home().join("buckets");
    assert_eq!(
        staging_files(&buckets).len(),
        1,
        "the crash left the part's staging file"
    );

    let run = home.run(&["run"]);
    assert_eq!(run.code, 0, "letsdata run: {}", run.stderr);
    assert_eq!(staging_files(&buckets), Vec::<std::path::PathBuf>::new());
    let ds = home.view("CrashMidPart");
    assert_eq!(ds["datasetStatus"], "COMPLETED", "{ds}");
    assert_eq!(ds["datasetProgress"]["documentsWritten"], 200_000);
    let output = ds["resources"]["writeBucket"]
        .as_str()
        .expect("writeBucket");
    let lines = home.lines(output, "");
    assert_eq!(lines.len(), 200_000);
    let ids: std::collections::HashSet<u64> = common::ids(&lines).into_iter().collect();
    assert_eq!(ids.len(), 200_000, "every record exactly once");
}

/// Where a paused-worker test keeps its buckets: local directories, or the AWS emulator.
#[cfg(feature = "failpoints")]
enum Buckets {
    Local,
    S3(Box<common::emulator::Emulator>, tokio::runtime::Runtime),
}

#[cfg(feature = "failpoints")]
impl Buckets {
    fn home(&self) -> TestHome {
        match self {
            Self::Local => TestHome::new(),
            Self::S3(emu, _) => emu.home(),
        }
    }

    /// An input bucket holding `key`; returns its name.
    fn input(&self, home: &TestHome, key: &str, data: &[u8]) -> String {
        match self {
            Self::Local => {
                home.put("paused-in", key, data);
                "paused-in".to_string()
            }
            Self::S3(emu, rt) => {
                let bucket = format!("paused-in-{}", common::services::suffix());
                rt.block_on(async {
                    emu.s3.create_bucket(&bucket).await.expect("bucket");
                    emu.s3
                        .bucket(&bucket)
                        .expect("bucket")
                        .put(key, bytes::Bytes::copy_from_slice(data))
                        .await
                        .expect("put");
                });
                bucket
            }
        }
    }

    /// Every line of the bucket's objects; fails on a local staging file.
    fn lines(&self, home: &TestHome, bucket: &str) -> Vec<String> {
        match self {
            Self::Local => home.lines(bucket, ""),
            Self::S3(emu, rt) => rt.block_on(emu.s3_lines(bucket, "")),
        }
    }

    /// What attempts left unfinished: local staging files, S3 incomplete uploads.
    fn leftovers(&self, home: &TestHome, buckets: &[&str]) -> Vec<String> {
        match self {
            Self::Local => staging_files(&home.home().join("buckets"))
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            Self::S3(emu, rt) => rt.block_on(async {
                let mut found = Vec::new();
                for b in buckets {
                    let bucket = emu.s3.bucket(b).expect("bucket");
                    found.extend(bucket.incomplete_uploads("").await.expect("uploads"));
                }
                found
            }),
        }
    }
}

/// A worker paused inside part completion for longer than its lease, while a second worker
/// takes the task over and finishes the dataset, used to make its stale part visible when it
/// woke up (duplicates, or documents lost). The worker stops itself (SIGSTOP, a failpoint) at
/// each point of a part's completion in turn: before its objects are staged, staged but not
/// recorded by a checkpoint, and recorded but not yet visible. Whatever the point, every
/// document and error record is in the buckets exactly once, the counters match, and nothing
/// unfinished is left (staging files, incomplete uploads).
#[cfg(feature = "failpoints")]
fn a_worker_paused_past_its_lease_changes_nothing(buckets: &Buckets) {
    use std::collections::HashMap;
    const LINES: u64 = 30_000;
    let mut input = String::new();
    for i in 0..LINES {
        if i % 97 == 0 {
            input.push_str(&format!("not json {i}\n"));
        } else {
            input.push_str(&format!("{{\"id\":{i},\"pad\":\"{}\"}}\n", "p".repeat(40)));
        }
    }
    let bad = (0..LINES).filter(|i| i % 97 == 0).count();
    for point in ["part-commit", "part-committed", "part-checkpointed"] {
        let mut home = buckets.home();
        let bucket = buckets.input(&home, "a.jsonl", input.as_bytes());
        home.env("LETSDATA_PART_SIZE_BYTES", "200000")
            .env("LETSDATA_LEASE_SECONDS", "2")
            .env("LETSDATA_HEARTBEAT_SECONDS", "1");
        let mut cfg = config(
            "PausedWorker",
            &bucket,
            json!({"builtinParser": "jsonl", "documentIdField": "id"}),
            &["a.jsonl"],
        );
        if let Buckets::S3(..) = buckets {
            cfg["accessGrantRoleArn"] = json!("arn:aws:iam::123456789012:role/LetsDataAccess");
            cfg["customerAccountForAccess"] = json!("123456789012");
        }
        // The third part's completion stops the first worker.
        let mut paused = home
            .create_command(&cfg)
            .env(
                "LETSDATA_FAILPOINTS",
                format!("{point}=2*off->1*return(stop)"),
            )
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn letsdata");
        let pid = paused.id();
        common::wait_until(&mut paused, "the worker stops itself", || {
            common::process_state(pid) == Some('T')
        });
        // A second worker takes the task over once the lease expires, and finishes it,
        // cutting its parts elsewhere (so a stale part of the first would not match).
        let run: common::Run = home
            .command(&["run"])
            .env("LETSDATA_PART_SIZE_BYTES", "330000")
            .output()
            .expect("run letsdata")
            .into();
        assert_eq!(run.code, 0, "{point}: letsdata run: {}", run.stderr);
        assert_eq!(
            common::process_state(pid),
            Some('T'),
            "{point}: the first worker stayed stopped throughout"
        );
        // The first worker wakes up and goes on where it stopped.
        common::signal(pid, "-CONT");
        let status = paused.wait().expect("wait");
        assert!(status.code().is_some(), "{point}: {status:?}");

        let ds = home.view("PausedWorker");
        assert_eq!(ds["datasetStatus"], "COMPLETED", "{point}: {ds}");
        let (write, error) = (
            ds["resources"]["writeBucket"].as_str().expect("bucket"),
            ds["resources"]["errorBucket"].as_str().expect("bucket"),
        );
        let docs = buckets.lines(&home, write);
        let errors = buckets.lines(&home, error);
        let mut seen: HashMap<u64, usize> = HashMap::new();
        for l in &docs {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            *seen.entry(v["id"].as_u64().expect("id")).or_default() += 1;
        }
        assert_eq!(
            seen.len() as u64,
            LINES - bad as u64,
            "{point}: documents lost"
        );
        assert!(seen.values().all(|n| *n == 1), "{point}: documents twice");
        assert_eq!(docs.len() as u64, LINES - bad as u64, "{point}");
        assert_eq!(errors.len(), bad, "{point}: error records");
        assert_eq!(
            ds["datasetProgress"]["documentsWritten"].as_u64(),
            Some(LINES - bad as u64),
            "{point}: {ds}"
        );
        assert_eq!(
            ds["datasetProgress"]["errorRecords"].as_u64(),
            Some(bad as u64),
            "{point}"
        );
        assert_eq!(
            buckets.leftovers(&home, &[write, error]),
            Vec::<String>::new(),
            "{point}"
        );
    }
}

#[cfg(feature = "failpoints")]
#[test]
fn a_worker_paused_past_its_lease_inside_part_completion_changes_nothing() {
    a_worker_paused_past_its_lease_changes_nothing(&Buckets::Local);
}

/// The same on S3: parts are multipart uploads, completed only once a checkpoint records them.
#[cfg(feature = "failpoints")]
#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
fn a_worker_paused_past_its_lease_inside_part_completion_changes_nothing_on_s3() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let Some(emu) = rt.block_on(common::emulator::emulator()) else {
        return;
    };
    a_worker_paused_past_its_lease_changes_nothing(&Buckets::S3(Box::new(emu), rt));
}

/// A crash in the middle of the initialization workflow, after each step in turn did its
/// work and before it was recorded (a failpoint: SIGKILL), then `letsdata run`: the
/// initialization resumes, running the killed step again (steps are idempotent: the buckets
/// letsdata created are its own, the tasks are not created twice), and the dataset completes
/// with every record exactly once.
#[cfg(feature = "failpoints")]
#[test]
fn a_crash_mid_initialization_resumes_without_duplicates() {
    use std::os::unix::process::ExitStatusExt;
    const DOCS: u64 = 1000;
    let mut step = 0;
    loop {
        let home = TestHome::new();
        home.put("init-in", "a.jsonl", jsonl(0, DOCS / 2).as_bytes());
        home.put("init-in", "b.jsonl", jsonl(DOCS / 2, DOCS / 2).as_bytes());
        let cfg = config(
            "CrashInit",
            "init-in",
            json!({"builtinParser": "jsonl", "documentIdField": "id"}),
            &["a.jsonl", "b.jsonl"],
        );
        let out = home
            .create_command(&cfg)
            .env(
                "LETSDATA_FAILPOINTS",
                format!("workflow-step-executed={step}*off->return(kill)"),
            )
            .output()
            .expect("run letsdata");
        if out.status.signal() != Some(libc::SIGKILL) {
            // Past the last step: every step was killed once.
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(step >= 8, "only {step} initialization steps");
            break;
        }
        let killed = home.view("CrashInit");
        let workflow = killed["initializationWorkflow"]
            .as_object()
            .expect("workflow")
            .clone();
        let run = home.run(&["run"]);
        assert_eq!(run.code, 0, "step {step}: letsdata run: {}", run.stderr);
        let ds = home.view("CrashInit");
        assert_eq!(ds["datasetStatus"], "COMPLETED", "step {step}: {ds}");
        for (name, result) in ds["initializationWorkflow"].as_object().expect("workflow") {
            assert_eq!(
                result["status"], "COMPLETED",
                "step {step}: {name}: {result}"
            );
            // The killed step (WAIT when killed) ran again; the others once.
            let again = workflow[name]["status"] == "WAIT";
            let attempts = if again { 2 } else { 1 };
            assert_eq!(
                result["attempts"], attempts,
                "step {step}: {name}: {result}"
            );
        }
        assert_eq!(
            home.tasks("CrashInit").len(),
            2,
            "step {step}: tasks created once"
        );
        let docs = home.lines(ds["resources"]["writeBucket"].as_str().expect("b"), "");
        let mut ids = common::ids(&docs);
        ids.sort_unstable();
        assert!(
            ids.iter().copied().eq(0..DOCS),
            "step {step}: {} documents, not each of the {DOCS} once",
            ids.len()
        );
        step += 1;
    }
}

/// `LETSDATA_FAILPOINTS` on a build without failpoints is refused, not ignored.
#[cfg(not(feature = "failpoints"))]
#[test]
fn failpoints_need_a_build_with_them() {
    let mut home = TestHome::new();
    home.env("LETSDATA_FAILPOINTS", "s3-part-write=return(kill)");
    let run = home.run(&["datasets", "list"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("built without failpoints"),
        "{}",
        run.stderr
    );
}
