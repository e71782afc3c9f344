//! Shared helpers for the CLI tests: a private `$LETSDATA_HOME`, local buckets, and running
//! the real `letsdata` binary.

#![allow(dead_code)]

pub mod emulator;
pub mod services;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A private letsdata installation in a temporary directory.
///
/// With `LETSDATA_TEST_VIA_SERVER` set, the commands that can go through a server do: the home
/// starts a `letsdata server` on it (with the same environment) at its first such command, and
/// those commands get `LETSDATA_ENDPOINT` and an API key of the local tenant (whose buckets are
/// the home's). `scripts/test.sh` runs the scenario tests a second time so.
pub struct TestHome {
    pub dir: tempfile::TempDir,
    envs: Vec<(String, String)>,
    server: std::sync::Mutex<Option<(Child, String, String)>>,
    /// Never through a server (a test of a local workflow: `--detach`, then `letsdata run`).
    local: bool,
}

/// Commands that work on the store directly, never through a server.
const LOCAL_ONLY: &[&str] = &[
    "run", "worker", "workers", "server", "admin", "login", "logout",
];

/// Whether the scenario tests run through a server (see [`TestHome`]).
pub fn via_server() -> bool {
    std::env::var_os("LETSDATA_TEST_VIA_SERVER").is_some_and(|v| !v.is_empty())
}

impl Drop for TestHome {
    fn drop(&mut self) {
        if let Some((mut child, _, _)) = self.server.lock().ok().and_then(|mut s| s.take()) {
            stop_child(
                &mut child,
                Duration::from_secs(60),
                "the test's letsdata server",
            );
        }
    }
}

/// A test's own `letsdata server` on a free port of the loopback (`args` added to
/// `--listen 127.0.0.1:0`), its log in `server.log` of the test's home (a pipe nobody reads
/// would fill and stop it); stopped when dropped.
pub struct ServerProcess {
    pub child: Child,
    pub url: String,
}

impl ServerProcess {
    pub fn start(home: &TestHome, args: &[&str]) -> ServerProcess {
        let log_path = home.home().join("server.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let mut all = vec!["server", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let (child, url) = start_server(
            home.command(&all).stdout(Stdio::piped()).stderr(log),
            Some(&log_path),
        );
        ServerProcess { child, url }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        stop_child(
            &mut self.child,
            Duration::from_secs(30),
            "the letsdata server",
        );
    }
}

/// Starts `letsdata server` (`command`, with `--listen 127.0.0.1:0`, its stdout piped): the
/// process and the URL its one stdout line names. Without that line, the process is killed and
/// the test fails showing `log` (the server's stderr), when there is one.
pub fn start_server(command: &mut Command, log: Option<&Path>) -> (Child, String) {
    let mut child = command.spawn().expect("start letsdata server");
    let mut line = String::new();
    let _ = std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout piped")),
        &mut line,
    );
    let url = serde_json::from_str::<Value>(&line)
        .ok()
        .and_then(|l| l["listening"].as_str().map(str::to_string));
    match url {
        Some(url) => (child, url),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            let log = log
                .map(|l| std::fs::read_to_string(l).unwrap_or_default())
                .unwrap_or_default();
            panic!("letsdata server printed no listening line: {line:?}\n{log}")
        }
    }
}

/// Stops `child` (`what`): SIGTERM, then SIGKILL if it has not exited within `within`. Never
/// panics (it runs in `Drop`, also while a failed test unwinds).
pub fn stop_child(child: &mut Child, within: Duration, what: &str) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("{what} did not stop within {within:?} of SIGTERM; killing it");
    let _ = child.kill();
    let _ = child.wait();
}

/// The result of one CLI invocation.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl TestHome {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            envs: Vec::new(),
            server: std::sync::Mutex::new(None),
            local: false,
        }
    }

    /// A home whose commands never go through a server, also with `LETSDATA_TEST_VIA_SERVER`:
    /// for tests of the local store's own workflow (a server would run its datasets at once).
    pub fn local() -> Self {
        let mut home = Self::new();
        home.local = true;
        home
    }

    /// The home's server (started on first use): its URL and an API key of the local tenant.
    fn server(&self) -> (String, String) {
        let mut server = self.server.lock().expect("server lock");
        if let Some((_, url, key)) = server.as_ref() {
            return (url.clone(), key.clone());
        }
        let created = self
            .local_command(&["admin", "apikeys", "create", "--tenantName", "local"])
            .output()
            .expect("run letsdata admin");
        assert!(
            created.status.success(),
            "admin apikeys create: {}",
            String::from_utf8_lossy(&created.stderr)
        );
        let key: Value = serde_json::from_slice(&created.stdout).expect("key json");
        let key = key["apiKey"].as_str().expect("apiKey").to_string();
        let (child, url) = start_server(
            self.local_command(&["server", "--listen", "127.0.0.1:0"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
            None,
        );
        *server = Some((child, url.clone(), key.clone()));
        (url, key)
    }

    /// A `letsdata` command with this home, never through the server.
    fn local_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_letsdata"));
        cmd.args(args)
            .env("LETSDATA_HOME", self.home())
            .env_remove("LETSDATA_ENDPOINT")
            .env_remove("LETSDATA_API_KEY")
            .env_remove("LETSDATA_AWS_ENDPOINT")
            // Like LETSDATA_AWS_ENDPOINT, these put the buckets in S3.
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_ENDPOINT_URL_S3")
            .env_remove("LETSDATA_PART_SIZE_BYTES");
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        cmd
    }

    /// Sets an environment variable for every later invocation.
    pub fn env(&mut self, key: &str, value: &str) -> &mut Self {
        self.envs.push((key.to_string(), value.to_string()));
        self
    }

    pub fn home(&self) -> &Path {
        self.dir.path()
    }

    /// A `letsdata` command with this home (through its server with
    /// `LETSDATA_TEST_VIA_SERVER`, see [`TestHome`]).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.local_command(args);
        if via_server() && !self.local && args.first().is_some_and(|c| !LOCAL_ONLY.contains(c)) {
            let (url, key) = self.server();
            cmd.env("LETSDATA_ENDPOINT", url)
                .env("LETSDATA_API_KEY", key);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.command(args).output().expect("run letsdata").into()
    }

    /// Path of a local bucket directory (created).
    pub fn bucket(&self, name: &str) -> PathBuf {
        let dir = self.home().join("buckets").join(name);
        std::fs::create_dir_all(&dir).expect("create bucket dir");
        dir
    }

    /// Writes a file into a local bucket.
    pub fn put(&self, bucket: &str, key: &str, data: &[u8]) {
        let path = self.bucket(bucket).join(key);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, data).expect("write input");
    }

    /// Writes a config file and returns its path.
    pub fn config(&self, name: &str, config: &Value) -> PathBuf {
        let path = self.home().join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(config).expect("json")).expect("write");
        path
    }

    /// The `datasets create` command of `config` (written to the home), to run as the test
    /// needs.
    pub fn create_command(&self, config: &Value) -> Command {
        let name = config["datasetName"]
            .as_str()
            .unwrap_or("config")
            .to_string();
        let path = self.config(&name, config);
        self.command(&[
            "datasets",
            "create",
            "--configFile",
            path.to_str().expect("utf8"),
        ])
    }

    /// `datasets create` with `failpoints` (`LETSDATA_FAILPOINTS`), which must kill it
    /// (SIGKILL) mid-run: a crash at a point the test chooses, not when a timer fires.
    pub fn create_killed(&self, config: &Value, failpoints: &str) {
        run_killed(self.create_command(config), failpoints);
    }

    /// Every error record of the dataset (`errors list`, then `errors view` per task).
    pub fn error_records(&self, dataset: &str) -> Vec<Value> {
        let list = self.run(&["errors", "list", "--datasetName", dataset]);
        assert_eq!(list.code, 0, "errors list: {}", list.stderr);
        let tasks: std::collections::BTreeSet<String> = list
            .json()
            .as_array()
            .expect("array")
            .iter()
            .map(|o| o["taskId"].as_str().expect("taskId").to_string())
            .collect();
        let mut records = Vec::new();
        for t in tasks {
            let view = self.run(&["errors", "view", "--datasetName", dataset, "--taskId", &t]);
            assert_eq!(view.code, 0, "errors view: {}", view.stderr);
            records.extend(view.json().as_array().cloned().unwrap_or_default());
        }
        records
    }

    /// `datasets create` in the foreground.
    pub fn create(&self, config: &Value) -> Run {
        self.create_command(config)
            .output()
            .expect("run letsdata")
            .into()
    }

    /// `datasets create` in the background (output discarded), for tests that act on a dataset
    /// while it runs.
    pub fn spawn_create(&self, config: &Value) -> Child {
        self.create_command(config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn letsdata datasets create")
    }

    /// `datasets create` in the background (output discarded) with `failpoints`
    /// (`LETSDATA_FAILPOINTS`), returned once they stopped it (SIGSTOP): a worker held at a
    /// point the test chooses, with no store write in flight, until the test continues it
    /// (`signal(pid, "-CONT")`).
    pub fn spawn_held(&self, config: &Value, failpoints: &str) -> Child {
        let mut child = self
            .create_command(config)
            .env("LETSDATA_FAILPOINTS", failpoints)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn letsdata datasets create");
        let pid = child.id();
        wait_until(&mut child, "the worker is held by its failpoint", || {
            process_state(pid) == Some('T')
        });
        child
    }

    /// The dataset's tasks, optionally only those in `status`; empty while the dataset does not
    /// exist yet (a background `datasets create` has not stored it).
    pub fn tasks_now(&self, dataset: &str, status: Option<&str>) -> Vec<Value> {
        let mut args = vec!["tasks", "list", "--datasetName", dataset];
        if let Some(s) = status {
            args.extend(["--taskStatus", s]);
        }
        let r = self.run(&args);
        if r.code != 0 {
            return Vec::new();
        }
        r.json().as_array().cloned().unwrap_or_default()
    }

    pub fn view(&self, dataset: &str) -> Value {
        let r = self.run(&["datasets", "view", "--datasetName", dataset]);
        assert_eq!(r.code, 0, "view failed: {}", r.stderr);
        r.json()
    }

    /// `letsdata output read`: the documents printed, one JSON per line.
    pub fn output_read(&self, dataset: &str, limit: usize) -> Vec<Value> {
        let run = self.run(&[
            "output",
            "read",
            "--datasetName",
            dataset,
            "--limit",
            &limit.to_string(),
        ]);
        assert_eq!(run.code, 0, "output read: {}", run.stderr);
        run.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    pub fn tasks(&self, dataset: &str) -> Vec<Value> {
        let r = self.run(&["tasks", "list", "--datasetName", dataset]);
        assert_eq!(r.code, 0, "tasks list failed: {}", r.stderr);
        r.json().as_array().cloned().unwrap_or_default()
    }

    /// Every line of every object under `prefix` in a local bucket (gunzipping `.gz`).
    /// Fails on a staging file (`<key>#<n>`: a part that was never published or whose attempt
    /// died): anything reading the bucket directory would read it too.
    pub fn lines(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let root = self.home().join("buckets").join(bucket);
        let mut files = Vec::new();
        collect_files(&root.join(prefix), &mut files);
        files.sort();
        let mut out = Vec::new();
        for f in files {
            let name = f.to_string_lossy().to_string();
            assert!(
                !name.contains('#'),
                "a staging file is left in the bucket: {name}"
            );
            let data = std::fs::read(&f).expect("read output");
            out.extend(output_text(&name, &data).lines().map(str::to_string));
        }
        out
    }
}

/// An output object's text: gunzipped when its name ends in `.gz`.
pub fn output_text(name: &str, data: &[u8]) -> String {
    if name.ends_with(".gz") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(data), &mut s)
            .expect("gunzip");
        s
    } else {
        String::from_utf8(data.to_vec()).expect("utf8 output")
    }
}

/// Every invocation of these tasks (`taskExecutionLogs`), task after task.
pub fn execution_logs(tasks: &[Value]) -> Vec<Value> {
    tasks
        .iter()
        .flat_map(|t| {
            t["taskExecutionLogs"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

/// How many invocations of these tasks ended LEASE_LOST (a killed worker's, once reclaimed).
pub fn lease_lost_invocations(tasks: &[Value]) -> usize {
    execution_logs(tasks)
        .iter()
        .filter(|l| l["outcome"] == "LEASE_LOST")
        .count()
}

/// Polls `done` every 10 ms until it holds; panics, naming `what`, after two minutes or when
/// `child` exits first (the work it was to be caught doing finished too early).
pub fn wait_until(child: &mut Child, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        assert!(
            child.try_wait().expect("wait").is_none(),
            "letsdata finished before {what}; make the input larger"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until `child` exits (`what` happened), failing after `within`.
pub fn wait_exit(child: &mut Child, within: Duration, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Sends `signal` (`-STOP`, `-CONT`, ...) to process `pid`.
pub fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill {signal} {pid}");
}

/// The state letter of a process (`R`, `S`, `T` for stopped, ...), `None` once it is gone.
pub fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) S ...`: the state follows the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Every file under `dir`, recursively, appended to `out`.
pub fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// A dataset config reading `bucket` with the given parser and inline manifest.
pub fn config(name: &str, bucket: &str, parser: Value, manifest_lines: &[&str]) -> Value {
    let mut read = serde_json::json!({
        "connectorDestination": "S3",
        "readerType": "Single File Reader",
        "bucketName": bucket,
        "bucketResourceLocation": "Customer",
        "artifactImplementationLanguage": "Builtin",
    });
    if let (Some(r), Some(p)) = (read.as_object_mut(), parser.as_object()) {
        for (k, v) in p {
            r.insert(k.clone(), v.clone());
        }
    }
    serde_json::json!({
        "datasetName": name,
        "region": "us-east-1",
        "readConnector": read,
        "writeConnector": {"connectorDestination": "S3", "resourceLocation": "LetsData"},
        "errorConnector": {"connectorDestination": "S3", "resourceLocation": "LetsData"},
        "computeEngine": {"computeEngineType": "Lambda", "concurrency": 2},
        "manifestFile": {
            "manifestType": "S3ReaderTextManifestFile",
            "readerType": "SINGLEFILEREADER",
            "fileContents": manifest_lines.join("\n"),
        }
    })
}

/// gzip-compresses `data` as one member.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

/// Input lines `{"id": n, "event": "view", "payload": <n padded to pad digits>}` for ids
/// `start..start + n`; every 97th (id % 97 == 13) is not JSON (`not json <id>`). Returns the
/// text, the good ids and the bad lines.
pub fn mixed_input(
    start: u64,
    n: u64,
    pad: usize,
) -> (String, std::collections::BTreeSet<u64>, Vec<String>) {
    let mut text = String::with_capacity(n as usize * (pad + 40));
    let (mut good, mut bad) = (std::collections::BTreeSet::new(), Vec::new());
    for id in start..start + n {
        if id % 97 == 13 {
            let line = format!("not json {id}");
            text.push_str(&line);
            bad.push(line);
        } else {
            text.push_str(&format!(
                "{{\"id\":{id},\"event\":\"view\",\"payload\":\"{id:0>pad$}\"}}"
            ));
            good.insert(id);
        }
        text.push('\n');
    }
    (text, good, bad)
}

/// The raw record of each error record line, without its line ending.
pub fn raw_records(errors: &[String]) -> Vec<String> {
    errors
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("error record is JSON");
            v["rawRecord"]
                .as_str()
                .expect("rawRecord")
                .trim_end()
                .to_string()
        })
        .collect()
}

/// The `id` of each JSON document line.
pub fn ids(lines: &[String]) -> Vec<u64> {
    lines
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("a JSON document")["id"]
                .as_u64()
                .expect("a numeric id")
        })
        .collect()
}

/// `n` JSON lines `{"id":<start+i>,...}`.
pub fn jsonl(start: u64, n: u64) -> String {
    let mut s = String::new();
    for i in start..start + n {
        s.push_str(&format!(
            "{{\"id\":{i},\"event\":\"click\",\"user\":{{\"id\":\"u{}\",\"country\":\"NZ\"}},\"value\":{}}}\n",
            i % 97,
            i % 1000
        ));
    }
    s
}

/// The example and test components (`examples/`), built once per test process for
/// wasm32-wasip2 into their own target directory (the outer `cargo test` holds the lock of
/// the main one). Returns the component's bytes.
pub fn component(crate_name: &str) -> Vec<u8> {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let target = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(t) => PathBuf::from(t).join("guests"),
            None => repo.join("target").join("guests"),
        };
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--release", "--quiet", "--target", "wasm32-wasip2", "--manifest-path"])
            .arg(repo.join("examples").join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .expect("run cargo to build the example components");
        assert!(
            status.success(),
            "building the example components failed (is the wasm32-wasip2 target installed? `rustup target add wasm32-wasip2`)"
        );
        target.join("wasm32-wasip2").join("release")
    });
    let path = dir.join(format!("{}.wasm", crate_name.replace('-', "_")));
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// A dataset config whose implementation is the component at `s3://<code bucket>/<key>`.
pub fn wasm_config(
    name: &str,
    bucket: &str,
    reader_type: &str,
    artifact_link: &str,
    manifest_lines: &[&str],
) -> Value {
    let mut cfg = config(name, bucket, serde_json::json!({}), manifest_lines);
    cfg["readConnector"] = serde_json::json!({
        "connectorDestination": "S3",
        "readerType": reader_type,
        "bucketName": bucket,
        "bucketResourceLocation": "Customer",
        "artifactImplementationLanguage": "Wasm",
        "artifactFileS3Link": artifact_link,
        "artifactFileS3LinkResourceLocation": "Customer",
    });
    cfg["manifestFile"]["readerType"] = Value::String(reader_type.to_string());
    cfg
}

/// `dir` packed as `format` (`zip` or `gztar`, Python's `shutil.make_archive`), its files at
/// the top: a Python or JavaScript project as a user uploads it.
pub fn pack(dir: &Path, format: &str) -> Vec<u8> {
    let out = tempfile::tempdir().expect("tempdir");
    let base = out.path().join("project");
    let status = Command::new("python3")
        .args([
            "-c",
            "import shutil, sys; print(shutil.make_archive(sys.argv[1], sys.argv[2], root_dir=sys.argv[3]))",
        ])
        .arg(&base)
        .arg(format)
        .arg(dir)
        .output()
        .expect("python3 packs the project");
    assert!(status.status.success(), "{status:?}");
    let path = String::from_utf8(status.stdout).expect("utf8");
    std::fs::read(path.trim()).expect("archive")
}

/// A project of `files` (name, text) packed as `format`.
pub fn project(files: &[(&str, &str)], format: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    pack(dir.path(), format)
}

/// Runs `command` with `failpoints` (`LETSDATA_FAILPOINTS`), which must kill it (SIGKILL)
/// mid-run: a crash at a point the test chooses, not when a timer fires.
pub fn run_killed(mut command: Command, failpoints: &str) {
    use std::os::unix::process::ExitStatusExt;
    let out = command
        .env("LETSDATA_FAILPOINTS", failpoints)
        .output()
        .expect("run letsdata");
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGKILL),
        "{failpoints}: the run was not killed ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
