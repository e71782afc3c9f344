//! The Kafka broker and the Redis of the tests: the ones `scripts/test.sh` started (their
//! addresses in `LETSDATA_TEST_KAFKA_BOOTSTRAP` and `LETSDATA_TEST_REDIS_URL`), and private
//! ones a test starts for itself when it stops them (SIGSTOP), so that the other tests of the
//! same binary keep theirs.

use letsdata_connectors::kafka::{CallPolicy, ClusterSettings, KafkaClient};
use rskafka::record::Record;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn required(var: &str, what: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            panic!("{var} is not set: {what}; scripts/test.sh starts it and sets the variable")
        })
}

/// The shared test broker (`host:port`).
pub fn kafka_bootstrap() -> String {
    required(
        "LETSDATA_TEST_KAFKA_BOOTSTRAP",
        "the Kafka-protocol test broker",
    )
}

/// The shared test Redis (`redis://host:port`).
pub fn redis_url() -> String {
    required("LETSDATA_TEST_REDIS_URL", "the test Redis")
}

/// A random suffix for names of topics, prefixes and datasets.
pub fn suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_string()
}

/// A client of the broker at `bootstrap`.
pub fn kafka(bootstrap: &str) -> KafkaClient {
    KafkaClient::new(ClusterSettings::plaintext(
        vec![bootstrap.to_string()],
        CallPolicy::default(),
    ))
    .expect("kafka client")
}

/// Creates a topic of `partitions` partitions.
pub async fn create_topic(bootstrap: &str, topic: &str, partitions: u32) {
    kafka(bootstrap)
        .create_topic(topic, partitions, 1)
        .await
        .expect("create topic");
}

/// Writes `(key, value)` records to one partition, in batches of 1000.
pub async fn produce(bootstrap: &str, topic: &str, partition: i32, records: &[(String, String)]) {
    let client = kafka(bootstrap);
    let p = client.partition(topic, partition);
    for chunk in records.chunks(1000) {
        let batch: Vec<Record> = chunk
            .iter()
            .map(|(k, v)| Record {
                key: Some(k.as_bytes().to_vec()),
                value: Some(v.as_bytes().to_vec()),
                headers: Default::default(),
                timestamp: chrono::Utc::now(),
            })
            .collect();
        p.produce(
            batch,
            rskafka::client::partition::Compression::NoCompression,
        )
        .await
        .expect("produce");
    }
}

/// Every record of every partition of `topic`: (partition, key, value).
pub async fn read_topic(bootstrap: &str, topic: &str) -> Vec<(i32, String, String)> {
    let client = kafka(bootstrap);
    let partitions = client
        .partitions(topic)
        .await
        .expect("list")
        .unwrap_or_default();
    let mut out = Vec::new();
    for partition in partitions {
        let p = client.partition(topic, partition);
        let mut offset = p.earliest().await.expect("earliest");
        loop {
            let fetched = p.fetch(offset, 4 << 20, 100).await.expect("fetch");
            for r in &fetched.records {
                let text = |b: &Option<Vec<u8>>| {
                    String::from_utf8_lossy(b.as_deref().unwrap_or_default()).into_owned()
                };
                out.push((partition, text(&r.record.key), text(&r.record.value)));
                offset = r.offset + 1;
            }
            if offset >= fetched.high_watermark {
                break;
            }
        }
    }
    out
}

/// Whether the topic exists.
pub async fn topic_exists(bootstrap: &str, topic: &str) -> bool {
    kafka(bootstrap)
        .partitions(topic)
        .await
        .expect("list")
        .is_some()
}

/// A Redis connection.
pub async fn redis(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect to redis")
}

/// Every key under `prefix` with its value, sorted.
pub async fn redis_entries(url: &str, prefix: &str) -> Vec<(String, String)> {
    let mut con = redis(url).await;
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut con)
        .await
        .expect("keys");
    keys.sort();
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(1000) {
        let values: Vec<String> = redis::cmd("MGET")
            .arg(chunk)
            .query_async(&mut con)
            .await
            .expect("mget");
        out.extend(chunk.iter().cloned().zip(values));
    }
    out
}

/// A broker or Redis this test runs itself; killed when dropped.
pub struct Private {
    child: Child,
    pub port: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

impl Private {
    fn start(mut command: Command, port: u16, what: &str) -> Self {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "{what} did not answer on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port }
    }

    /// A tansu broker of its own (`LETSDATA_TEST_TANSU_BIN`).
    pub fn kafka() -> Self {
        let bin = required("LETSDATA_TEST_TANSU_BIN", "the tansu broker binary");
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let mut c = Command::new(bin);
        c.args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", "memory://tansu/"]);
        Self::start(c, port, "tansu")
    }

    /// A redis-server of its own (`LETSDATA_TEST_REDIS_SERVER_BIN`), with a password when
    /// given.
    pub fn redis(password: Option<&str>) -> Self {
        let bin = required("LETSDATA_TEST_REDIS_SERVER_BIN", "redis-server");
        let port = free_port();
        let mut c = Command::new(bin);
        c.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"]);
        if let Some(p) = password {
            c.args(["--requirepass", p]);
        }
        Self::start(c, port, "redis-server")
    }

    /// `host:port`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // SAFETY: kill(2) on the process this value started and still owns.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill({pid}, {signal})");
    }

    /// SIGSTOP: it stops answering, connections stay open.
    pub fn stop(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// SIGCONT.
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }
}

impl Drop for Private {
    fn drop(&mut self) {
        self.resume();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A dataset reading `topic` (Customer, on `bootstrap`) with the jsonl parser, from its
/// earliest records until three polls find nothing new.
pub fn kafka_read_config(name: &str, bootstrap: &str, topic: &str) -> Value {
    let mut cfg = super::config(name, "unused", json!({}), &["x"]);
    cfg["readConnector"] = json!({
        "connectorDestination": "KAFKA",
        "bootstrapServers": bootstrap,
        "topicName": topic,
        "resourceLocation": "Customer",
        "artifactImplementationLanguage": "Builtin",
        "builtinParser": "jsonl",
        "documentIdField": "id"
    });
    cfg["manifestFile"] = json!({
        "manifestType": "KafkaReaderManifest",
        "kafkaReaderTaskStartFromCondition": "Earliest",
        "kafkaReaderTaskStopCondition": "StopWhenNoNewRecords",
        "kafkaReaderTaskStopAfterConsecutiveEmptyPolls": 3
    });
    cfg
}

/// A schema of its own in the test PostgreSQL database (`LETSDATA_TEST_DATABASE_URL`, set by
/// `scripts/test.sh`), dropped with everything in it when the test ends: the store a test's
/// `letsdata` processes share through [`PgSchema::url`].
pub struct PgSchema {
    admin: String,
    pub schema: String,
}

impl PgSchema {
    pub fn new() -> Self {
        let admin = required("LETSDATA_TEST_DATABASE_URL", "the test PostgreSQL server");
        let schema = format!("letsdata_cli_{}", suffix());
        let this = Self { admin, schema };
        this.execute(&format!("CREATE SCHEMA {}", this.schema));
        this
    }

    /// `LETSDATA_DATABASE_URL` for the schema: the server's URL with the schema as
    /// `search_path`.
    pub fn url(&self) -> String {
        let separator = if self.admin.contains('?') { '&' } else { '?' };
        format!(
            "{}{separator}options=-c%20search_path%3D{}",
            self.admin, self.schema
        )
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    fn execute(&self, sql: &str) {
        use sqlx::Connection;
        Self::runtime().block_on(async {
            let mut conn = sqlx::PgConnection::connect(&self.admin)
                .await
                .expect("connect to the test PostgreSQL");
            sqlx::query(sql).execute(&mut conn).await.expect(sql);
        });
    }

    /// The first column of the first row of `sql`, run in the schema.
    pub fn scalar(&self, sql: &str) -> i64 {
        use sqlx::Connection;
        Self::runtime().block_on(async {
            let mut conn = sqlx::PgConnection::connect(&self.url())
                .await
                .expect("connect to the test PostgreSQL");
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&mut conn)
                .await
                .expect(sql)
        })
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        self.execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
    }
}

/// A PostgreSQL cluster of the test's own (`initdb` into a temporary directory, on a free
/// port), for tests that stop or restart the database: never the machine's shared server.
/// Run as the `postgres` user when the test runs as root (the server refuses root).
pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    /// The address it listens on.
    host: String,
    pub port: u16,
}

impl PrivatePostgres {
    pub fn start() -> Self {
        Self::start_on("127.0.0.1")
    }

    /// A cluster listening on `host` (an address of a network namespace's link, say), which
    /// lets any client in without a password.
    pub fn start_on(host: &str) -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|versions| {
                versions
                    .flatten()
                    .map(|v| v.path().join("bin"))
                    .filter(|b| b.join("initdb").exists())
                    .max()
            })
            .or_else(|| {
                // Elsewhere: initdb on the PATH.
                let out = Command::new("sh")
                    .args(["-c", "command -v initdb"])
                    .output()
                    .ok()?;
                let path = String::from_utf8(out.stdout).ok()?;
                std::path::Path::new(path.trim()).parent().map(|p| p.to_path_buf())
            })
            .expect(
                "PostgreSQL's initdb is not installed (Debian: apt-get install postgresql; scripts/test.sh installs it)",
            );
        let dir = tempfile::tempdir().expect("tempdir");
        let port = std::net::TcpListener::bind((host, 0))
            .expect("port")
            .local_addr()
            .expect("addr")
            .port();
        let this = Self {
            dir,
            bin,
            host: host.to_string(),
            port,
        };
        if Self::as_root() {
            let status = Command::new("chown")
                .args([
                    "-R",
                    "postgres:postgres",
                    &this.dir.path().display().to_string(),
                ])
                .status()
                .expect("chown");
            assert!(status.success(), "chown the cluster directory to postgres");
        }
        this.run(
            "initdb",
            &[
                "-D",
                &this.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        let hba = std::path::Path::new(&this.data()).join("pg_hba.conf");
        let mut rules = std::fs::read_to_string(&hba).expect("pg_hba.conf");
        rules.push_str("host all all 0.0.0.0/0 trust\n");
        std::fs::write(&hba, rules).expect("pg_hba.conf");
        this.pg_ctl(&["start", "-w"]);
        this
    }

    fn as_root() -> bool {
        // SAFETY-free: the effective uid through the id command.
        Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let program = self.bin.join(tool).display().to_string();
        let mut command = if Self::as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", &program]);
            c
        } else {
            Command::new(&program)
        };
        let out = command
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .expect(tool);
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn pg_ctl(&self, args: &[&str]) {
        let options = format!(
            "-p {} -c listen_addresses={} -k {} -c fsync=off",
            self.port,
            self.host,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        let data = self.data();
        let mut all = vec![
            "-D",
            data.as_str(),
            "-o",
            options.as_str(),
            "-l",
            log.as_str(),
        ];
        all.extend_from_slice(args);
        self.run("pg_ctl", &all);
    }

    /// The cluster's URL (its `postgres` database).
    pub fn url(&self) -> String {
        format!("postgres://postgres@{}:{}/postgres", self.host, self.port)
    }

    /// Stops the server at once, as a crash would (`pg_ctl stop -m immediate`).
    pub fn crash(&self) {
        self.pg_ctl(&["stop", "-m", "immediate", "-w"]);
    }

    pub fn restart(&self) {
        self.pg_ctl(&["start", "-w"]);
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data();
        let program = self.bin.join("pg_ctl").display().to_string();
        let mut command = if Self::as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", &program]);
            c
        } else {
            Command::new(&program)
        };
        let _ = command
            .args(["-D", &data, "stop", "-m", "immediate"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A network namespace joined to this one by a veth pair (made with `ip`, as root): the host
/// end has [`NetNs::host_ip`], the namespace's end the other address of a /30. Deleted (with
/// the pair) when dropped. `None` (with a note) when LETSDATA_SKIP_NETNS_TESTS is set.
pub struct NetNs {
    pub name: String,
    ns_dev: String,
    pub host_ip: String,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("ip {args:?}: {e} (the iproute2 package has it)"));
    assert!(
        out.status.success(),
        "ip {args:?}: {} (network namespaces need root; set LETSDATA_SKIP_NETNS_TESTS=1 to skip)",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl NetNs {
    pub fn new() -> Option<Self> {
        if std::env::var("LETSDATA_SKIP_NETNS_TESTS").is_ok() {
            eprintln!("skipped: LETSDATA_SKIP_NETNS_TESTS is set");
            return None;
        }
        let tag = &suffix()[..6];
        // A /30 in 10.200.0.0/16 of its own (by the tag), unlikely to meet another's.
        let n = u32::from_str_radix(tag, 16).expect("hex") % (1 << 14);
        let (a, b) = ((n >> 6) as u8, ((n & 63) << 2) as u8);
        let this = Self {
            name: format!("ld{tag}"),
            ns_dev: format!("ld{tag}n"),
            host_ip: format!("10.200.{a}.{}", b + 1),
        };
        let host_dev = format!("ld{tag}h");
        let ns_ip = format!("10.200.{a}.{}/30", b + 2);
        ip(&["netns", "add", &this.name]);
        ip(&[
            "link",
            "add",
            &host_dev,
            "type",
            "veth",
            "peer",
            "name",
            &this.ns_dev,
        ]);
        ip(&["link", "set", &this.ns_dev, "netns", &this.name]);
        ip(&[
            "addr",
            "add",
            &format!("{}/30", this.host_ip),
            "dev",
            &host_dev,
        ]);
        ip(&["link", "set", &host_dev, "up"]);
        this.exec_ip(&["addr", "add", &ns_ip, "dev", &this.ns_dev]);
        this.exec_ip(&["link", "set", &this.ns_dev, "up"]);
        this.exec_ip(&["link", "set", "lo", "up"]);
        Some(this)
    }

    fn exec_ip(&self, args: &[&str]) {
        let mut all = vec!["netns", "exec", &self.name, "ip"];
        all.extend_from_slice(args);
        ip(&all);
    }

    /// `command` run inside the namespace (same program, arguments and environment).
    pub fn inside(&self, command: &Command) -> Command {
        let mut inside = Command::new("ip");
        inside
            .args(["netns", "exec", &self.name])
            .arg(command.get_program())
            .args(command.get_args());
        for (key, value) in command.get_envs() {
            match value {
                Some(value) => inside.env(key, value),
                None => inside.env_remove(key),
            };
        }
        if let Some(dir) = command.get_current_dir() {
            inside.current_dir(dir);
        }
        inside
    }

    /// Cuts the namespace's link (its end of the pair goes down): nothing gets in or out.
    pub fn cut(&self) {
        self.exec_ip(&["link", "set", &self.ns_dev, "down"]);
    }

    /// Joins the link again.
    pub fn restore(&self) {
        self.exec_ip(&["link", "set", &self.ns_dev, "up"]);
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        // Deleting the namespace deletes its end of the pair, and so the pair.
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .status();
    }
}
