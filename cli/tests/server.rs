//! `letsdata server` through real HTTP: API keys and scopes, tenant isolation (another
//! tenant's dataset is not found, by name or by id, and nothing of it changes), revocation,
//! the audit log, configuration problems with their paths, bad requests answered 4xx with a
//! JSON body, the OpenAPI document, health, readiness and metrics.

mod common;

use common::{TestHome, config};
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A running `letsdata server` on a free port of the loopback.
struct Server {
    process: common::ServerProcess,
    url: String,
    http: reqwest::blocking::Client,
}

impl Server {
    fn start(home: &TestHome) -> Server {
        Server::start_with(home, &[], reqwest::blocking::Client::builder())
    }

    /// A server with `args` added to `--listen 127.0.0.1:0`, and a client made by `http`.
    fn start_with(
        home: &TestHome,
        args: &[&str],
        http: reqwest::blocking::ClientBuilder,
    ) -> Server {
        let process = common::ServerProcess::start(home, args);
        Server {
            url: process.url.clone(),
            process,
            http: http
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
        }
    }

    fn get(&self, key: Option<&str>, path: &str) -> (u16, Value) {
        let mut request = self.http.get(format!("{}{path}", self.url));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        answer(request.send().expect("GET"))
    }

    fn post(&self, key: Option<&str>, path: &str, body: &Value) -> (u16, Value) {
        let mut request = self.http.post(format!("{}{path}", self.url)).json(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        answer(request.send().expect("POST"))
    }
}

/// The status and the body (JSON, or a JSON string of a text body).
fn answer(response: reqwest::blocking::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// `letsdata admin` as the operator; its JSON.
fn admin(home: &TestHome, args: &[&str]) -> Value {
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    let run = home.run(&all);
    assert_eq!(run.code, 0, "admin {args:?}: {}", run.stderr);
    run.json()
}

/// A tenant with a key of every scope; the key's secret and id.
fn tenant_key(home: &TestHome, tenant: &str) -> (String, String) {
    admin(home, &["tenants", "create", "--tenantName", tenant]);
    let key = admin(home, &["apikeys", "create", "--tenantName", tenant]);
    (
        key["apiKey"].as_str().expect("apiKey").to_string(),
        key["apiKeyId"].as_str().expect("apiKeyId").to_string(),
    )
}

/// Waits until the dataset (as the key sees it) is finished.
fn finished(server: &Server, key: &str, name: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, dataset) =
            server.get(Some(key), &format!("/api/v1/dataset?datasetName={name}"));
        assert_eq!(status, 200, "{dataset}");
        let s = dataset["datasetStatus"]
            .as_str()
            .expect("status")
            .to_string();
        if s == "COMPLETED" || s == "ERRORED" {
            return dataset;
        }
        assert!(Instant::now() < deadline, "dataset {name} still {s}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Tenant A's dataset of three files (one bad line each), processed by the server's worker.
fn tenant_a_dataset(home: &TestHome, server: &Server, key: &str) -> Value {
    let tenant_a = admin(home, &["tenants", "list"])
        .as_array()
        .expect("tenants")
        .iter()
        .find(|t| t["tenantName"] == "tenant-a")
        .expect("tenant-a")
        .clone();
    // Tenant A's local bucket: its own directory, not the local tenant's.
    let bucket = home
        .home()
        .join("tenants")
        .join(tenant_a["tenantId"].as_str().expect("id"))
        .join("buckets")
        .join("a-input");
    std::fs::create_dir_all(&bucket).expect("bucket");
    for f in 0..3 {
        std::fs::write(
            bucket.join(format!("f{f}.jsonl")),
            format!("{{\"id\": {f}}}\nnot json {f}\n"),
        )
        .expect("input");
    }
    let cfg = config(
        "Shared",
        "a-input",
        json!({"builtinParser": "jsonl"}),
        &["f0.jsonl", "f1.jsonl", "f2.jsonl"],
    );
    let (status, created) = server.post(Some(key), "/api/v1/dataset/create", &cfg);
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["datasetName"], "Shared");
    finished(server, key, "Shared")
}

/// `dataset/create?wait=false` answers as soon as the dataset is recorded; the server
/// initializes and runs it meanwhile. A `wait` that is not a boolean is refused.
#[test]
fn a_dataset_created_without_waiting_is_initialized_by_the_server() {
    let home = TestHome::new();
    let tenant = admin(&home, &["tenants", "create", "--tenantName", "tenant-d"]);
    let key = admin(&home, &["apikeys", "create", "--tenantName", "tenant-d"])["apiKey"]
        .as_str()
        .expect("apiKey")
        .to_string();
    let server = Server::start(&home);
    let bucket = home
        .home()
        .join("tenants")
        .join(tenant["tenantId"].as_str().expect("tenantId"))
        .join("buckets")
        .join("a-input");
    std::fs::create_dir_all(&bucket).expect("bucket");
    std::fs::write(bucket.join("f.jsonl"), "{\"id\": 1}\n{\"id\": 2}\n").expect("input");
    let cfg = config(
        "Detached",
        "a-input",
        json!({"builtinParser": "jsonl"}),
        &["f.jsonl"],
    );
    let (status, body) = server.post(Some(&key), "/api/v1/dataset/create?wait=maybe", &cfg);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "InvalidParameters", "{body}");
    let (status, created) = server.post(Some(&key), "/api/v1/dataset/create?wait=false", &cfg);
    assert_eq!(status, 202, "{created}");
    assert_eq!(created["datasetStatus"], "CREATED", "{created}");
    let dataset = finished(&server, &key, "Detached");
    assert_eq!(dataset["datasetStatus"], "COMPLETED", "{dataset}");
    assert_eq!(
        dataset["datasetProgress"]["documentsWritten"], 2,
        "{dataset}"
    );
    let steps = dataset["initializationWorkflow"]
        .as_object()
        .expect("steps");
    assert!(
        steps.values().all(|s| s["status"] == "COMPLETED"),
        "{steps:#?}"
    );
}

#[test]
fn tenants_see_only_their_own_datasets() {
    let home = TestHome::new();
    let (key_a, _) = tenant_key(&home, "tenant-a");
    let (key_b, key_b_id) = tenant_key(&home, "tenant-b");
    let server = Server::start(&home);
    let dataset = tenant_a_dataset(&home, &server, &key_a);
    assert_eq!(dataset["datasetStatus"], "COMPLETED", "{dataset}");
    assert_eq!(
        dataset["datasetProgress"]["documentsWritten"], 3,
        "{dataset}"
    );
    let id = dataset["datasetId"].as_str().expect("id").to_string();
    let (_, tasks) = server.get(Some(&key_a), "/api/v1/tasks/list?datasetName=Shared");
    let task = tasks["tasks"][0]["taskId"]
        .as_str()
        .expect("task")
        .to_string();

    // Tenant B, by name and by id, on every operation: not found, and nothing changes.
    let refs = ["datasetName=Shared".to_string(), format!("datasetId={id}")];
    for r in &refs {
        for path in [
            format!("/api/v1/dataset?{r}"),
            format!("/api/v1/dataset/code?{r}"),
            format!("/api/v1/tasks/list?{r}"),
            format!("/api/v1/tasks?{r}&taskId={task}"),
            format!("/api/v1/tasks/redrive?{r}"),
            format!("/api/v1/errors/list?{r}"),
            format!("/api/v1/errors?{r}&taskId={task}"),
            format!("/api/v1/logs?{r}&taskId={task}"),
            format!("/api/v1/metrics?{r}"),
            format!("/api/v1/output?{r}"),
        ] {
            let (status, body) = server.get(Some(&key_b), &path);
            assert_eq!(status, 404, "GET {path}: {body}");
            assert_eq!(body["code"], "DatasetNotFound", "GET {path}: {body}");
        }
    }
    let by_name = json!({"datasetName": "Shared"});
    let by_id = json!({"datasetId": id});
    for body in [&by_name, &by_id] {
        for (path, extra) in [
            ("/api/v1/dataset/delete", json!({})),
            ("/api/v1/dataset/descale", json!({})),
            ("/api/v1/dataset/freeze", json!({})),
            ("/api/v1/dataset/compute", json!({"concurrency": 1})),
            (
                "/api/v1/dataset/code",
                json!({"artifactFileS3Link": "s3://x/y.wasm"}),
            ),
            ("/api/v1/tasks/stop", json!({})),
            ("/api/v1/tasks/redrive", json!({})),
        ] {
            let mut request = body.clone();
            for (k, v) in extra.as_object().expect("object") {
                request[k] = v.clone();
            }
            let (status, answer) = server.post(Some(&key_b), path, &request);
            assert_eq!(status, 404, "POST {path} {request}: {answer}");
        }
    }
    let (status, list) = server.get(Some(&key_b), "/api/v1/dataset/list");
    assert_eq!((status, list), (200, json!([])));
    // Tenant B may use the same name for its own dataset.
    let (_, still) = server.get(Some(&key_a), "/api/v1/dataset?datasetName=Shared");
    assert_eq!(still["datasetStatus"], "COMPLETED");
    assert_eq!(
        still["executionLogs"], dataset["executionLogs"],
        "nothing changed"
    );
    assert_eq!(
        still["updateDatetime"], dataset["updateDatetime"],
        "nothing changed"
    );
    // Tenant B's dataset of the same name reads its own (empty) bucket: the name of tenant A's
    // local bucket does not reach it.
    let cfg = config(
        "Shared",
        "a-input",
        json!({"builtinParser": "jsonl"}),
        &["f0.jsonl"],
    );
    let (status, refused) = server.post(Some(&key_b), "/api/v1/dataset/create", &cfg);
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .expect("message")
            .contains("a-input"),
        "{refused}"
    );

    // Every one of B's attempts is in the audit log, as B's key, answered 404 or 400.
    let audit = admin(&home, &["audit", "list", "--tenantName", "tenant-b"]);
    let entries = audit.as_array().expect("entries");
    assert_eq!(entries.len(), 2 * 7 + 1 + 2, "{audit:#}");
    assert!(entries.iter().all(|e| e["tenantId"] != dataset["tenantId"]));
    assert!(
        entries
            .iter()
            .filter(|e| e["actor"] == key_b_id.as_str())
            .all(|e| e["outcome"] == "404" || e["outcome"] == "400"),
        "{audit:#}"
    );
}

#[test]
fn keys_are_checked_scoped_and_revocable() {
    let home = TestHome::new();
    let (key, key_id) = tenant_key(&home, "tenant-a");
    let read_only = admin(
        &home,
        &[
            "apikeys",
            "create",
            "--tenantName",
            "tenant-a",
            "--scopes",
            "read,logs",
        ],
    );
    assert_eq!(read_only["scopes"], json!(["read", "logs"]));
    let read_only = read_only["apiKey"].as_str().expect("key").to_string();
    // Only the hash is stored: the secret is nowhere in the store's files.
    let mut files = Vec::new();
    common::collect_files(home.home(), &mut files);
    for file in &files {
        let bytes = std::fs::read(file).expect("read");
        assert!(
            !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
            "the secret is in {}",
            file.display()
        );
    }
    let server = Server::start(&home);
    for (auth, what) in [
        (None, "no key"),
        (Some("ldk_not-a-key"), "a wrong key"),
        (Some(""), "an empty key"),
    ] {
        let (status, body) = server.get(auth, "/api/v1/dataset/list");
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(body["code"], "Unauthorized", "{what}: {body}");
    }
    let (status, _) = server.get(Some(&read_only), "/api/v1/dataset/list");
    assert_eq!(status, 200);
    let cfg = config(
        "Scoped",
        "in",
        json!({"builtinParser": "jsonl"}),
        &["a.jsonl"],
    );
    let (status, body) = server.post(Some(&read_only), "/api/v1/dataset/create", &cfg);
    assert_eq!(status, 403, "{body}");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("manage"),
        "{body}"
    );
    let (status, body) = server.get(Some(&read_only), "/api/v1/output?datasetName=Scoped");
    assert_eq!(status, 403, "{body}");

    // Revoked: refused within a second (the server trusts a key it checked for half a second).
    let (status, _) = server.get(Some(&key), "/api/v1/dataset/list");
    assert_eq!(status, 200);
    let revoked = admin(&home, &["apikeys", "revoke", "--apiKeyId", &key_id]);
    let revoked_at = std::time::Instant::now();
    assert!(revoked["revokedDatetime"].is_i64(), "{revoked}");
    loop {
        let (status, body) = server.get(Some(&key), "/api/v1/dataset/list");
        if status == 401 {
            assert_eq!(body["code"], "Unauthorized", "{body}");
            break;
        }
        assert_eq!(status, 200, "{body}");
        assert!(
            revoked_at.elapsed() < std::time::Duration::from_secs(1),
            "the revoked key still works a second later"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let keys = admin(&home, &["apikeys", "list", "--tenantName", "tenant-a"]);
    assert_eq!(keys.as_array().expect("keys").len(), 2);
    assert!(!keys.to_string().contains("ldk_"), "no secret in {keys}");
}

#[test]
fn bad_requests_get_a_clear_4xx() {
    let home = TestHome::new();
    let (key, _) = tenant_key(&home, "tenant-a");
    let server = Server::start(&home);

    // A configuration with ten problems: all ten, with their paths.
    let mut cfg = config(
        "Bad_Name",
        "input-bucket",
        json!({"builtinParser": "jsonx"}),
        &["a"],
    );
    cfg["region"] = json!("mars-north-1");
    cfg["readConnector"]["bucketNmae"] = json!("x");
    cfg["readConnector"]["readerType"] = json!("Singel File Reader");
    cfg["computeEngine"]["concurrency"] = json!(0);
    cfg["computeEngine"]["timeoutInSeconds"] = json!(-1);
    cfg["computeEngine"]["memoryLimitInMegabytes"] = json!("lots");
    cfg["writeConnector"]["resourceLocation"] = json!("Elsewhere");
    cfg["errorConnector"]["connectorDestination"] = json!("Tape");
    let (status, body) = server.post(Some(&key), "/api/v1/dataset/create", &cfg);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "InvalidConfig");
    let problems = body["problems"].as_array().expect("problems");
    let paths: Vec<&str> = problems
        .iter()
        .map(|p| p["path"].as_str().expect("path"))
        .collect();
    assert_eq!(problems.len(), 10, "{body:#}");
    for path in [
        "datasetName",
        "region",
        "readConnector.builtinParser",
        "readConnector.bucketNmae",
        "readConnector.readerType",
        "computeEngine.concurrency",
        "computeEngine.timeoutInSeconds",
        "computeEngine.memoryLimitInMegabytes",
        "writeConnector.resourceLocation",
        "errorConnector.connectorDestination",
    ] {
        assert!(paths.contains(&path), "no problem at {path}: {paths:?}");
    }

    let raw = |method: reqwest::Method, path: &str, body: Vec<u8>, content_type: &str| {
        answer(
            server
                .http
                .request(method, format!("{}{path}", server.url))
                .bearer_auth(&key)
                .header("content-type", content_type)
                .body(body)
                .send()
                .expect("request"),
        )
    };
    let post = reqwest::Method::POST;
    let get = reqwest::Method::GET;
    for (method, path, body, content_type, expected, code) in [
        (
            post.clone(),
            "/api/v1/tasks/stop",
            b"{not json".to_vec(),
            "application/json",
            400,
            "InvalidBody",
        ),
        (
            post.clone(),
            "/api/v1/tasks/stop",
            br#"{"datasetName": "X", "color": 1}"#.to_vec(),
            "application/json",
            400,
            "InvalidBody",
        ),
        (
            post.clone(),
            "/api/v1/tasks/stop",
            br#"{"datasetName": 5}"#.to_vec(),
            "application/json",
            400,
            "InvalidBody",
        ),
        (
            post.clone(),
            "/api/v1/tasks/stop",
            b"datasetName=X".to_vec(),
            "text/plain",
            415,
            "UnsupportedMediaType",
        ),
        (
            post.clone(),
            "/api/v1/dataset/create",
            vec![b' '; 17 * 1024 * 1024],
            "application/json",
            413,
            "PayloadTooLarge",
        ),
        (
            post.clone(),
            "/api/v1/dataset/create",
            b"[1, 2".to_vec(),
            "application/json",
            400,
            "InvalidJson",
        ),
        (
            get.clone(),
            "/api/v1/tasks/list?datasetName=X&limit=100000",
            vec![],
            "application/json",
            400,
            "InvalidParameters",
        ),
        (
            get.clone(),
            "/api/v1/tasks/list?datasetName=X&limit=0",
            vec![],
            "application/json",
            400,
            "InvalidParameters",
        ),
        (
            get.clone(),
            "/api/v1/tasks/list?datasetName=X&color=red",
            vec![],
            "application/json",
            400,
            "InvalidParameters",
        ),
        (
            get.clone(),
            "/api/v1/dataset?datasetName=..%2F..%2Fetc",
            vec![],
            "application/json",
            400,
            "InvalidParameters",
        ),
        (
            get.clone(),
            "/api/v1/dataset?datasetName=a%00b",
            vec![],
            "application/json",
            400,
            "InvalidParameters",
        ),
        (
            get.clone(),
            "/api/v1/dataset",
            vec![],
            "application/json",
            400,
            "InvalidParameters",
        ),
        (
            get.clone(),
            "/api/v1/dataset?datasetName=A&datasetId=B",
            vec![],
            "application/json",
            400,
            "InvalidParameters",
        ),
        (
            get.clone(),
            "/api/v1/tasks?datasetName=X&taskId=%00",
            vec![],
            "application/json",
            400,
            "InvalidParameters",
        ),
        (
            get.clone(),
            "/api/v1/../../etc/passwd",
            vec![],
            "application/json",
            404,
            "NoSuchOperation",
        ),
        (
            get.clone(),
            "/api/v1/dataset/%2e%2e/list",
            vec![],
            "application/json",
            404,
            "NoSuchOperation",
        ),
        (
            get.clone(),
            "/api/v1/dataset/create",
            vec![],
            "application/json",
            405,
            "MethodNotAllowed",
        ),
        (
            get.clone(),
            "/api/v1/dataset?datasetName=Nope",
            vec![],
            "application/json",
            404,
            "DatasetNotFound",
        ),
    ] {
        let (status, answer) = raw(method.clone(), path, body, content_type);
        assert_eq!(status, expected, "{method} {path}: {answer}");
        assert_eq!(answer["code"], code, "{method} {path}: {answer}");
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[test]
fn health_readiness_metrics_and_the_openapi_document() {
    let home = TestHome::new();
    let (key, _) = tenant_key(&home, "tenant-a");
    let server = Server::start(&home);
    assert_eq!(server.get(None, "/healthz").0, 200);
    assert_eq!(server.get(None, "/readyz").0, 200);
    assert_eq!(server.get(Some(&key), "/api/v1/dataset/list").0, 200);
    let (status, metrics) = server.get(None, "/metrics");
    assert_eq!(status, 200);
    let metrics = metrics.as_str().expect("text").to_string();
    assert!(
        metrics.contains(
            "letsdata_http_requests_total{method=\"GET\",route=\"/api/v1/dataset/list\",status=\"200\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("letsdata_http_request_duration_seconds_bucket"),
        "{metrics}"
    );
    let (status, openapi) = server.get(None, "/openapi.json");
    assert_eq!(status, 200);
    assert!(
        openapi["openapi"]
            .as_str()
            .expect("version")
            .starts_with("3.1")
    );
    let paths = openapi["paths"].as_object().expect("paths");
    for path in [
        "/api/v1/dataset",
        "/api/v1/dataset/create",
        "/api/v1/dataset/list",
        "/api/v1/dataset/delete",
        "/api/v1/dataset/descale",
        "/api/v1/dataset/freeze",
        "/api/v1/dataset/code",
        "/api/v1/dataset/compute",
        "/api/v1/tasks/list",
        "/api/v1/tasks",
        "/api/v1/tasks/stop",
        "/api/v1/tasks/redrive",
        "/api/v1/errors/list",
        "/api/v1/errors",
        "/api/v1/logs",
        "/api/v1/metrics",
        "/api/v1/output",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} not in the OpenAPI document"
        );
    }
    assert_eq!(
        openapi["components"]["securitySchemes"]["apiKey"]["scheme"],
        "bearer"
    );

    // SIGTERM: a graceful stop, exit 0; one JSON log line per request.
    let mut server = server;
    common::signal(server.process.child.id(), "-TERM");
    let status = common::wait_exit(
        &mut server.process.child,
        Duration::from_secs(30),
        "server stopped",
    );
    assert_eq!(status.code(), Some(0));
    let log = std::fs::read_to_string(home.home().join("server.log")).expect("log");
    let requests: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["fields"]["message"] == "request")
        .collect();
    assert!(
        requests
            .iter()
            .any(|r| r["fields"]["route"] == "/api/v1/dataset/list"
                && r["fields"]["status"] == 200
                && r["fields"]["request_id"].is_string()
                && r["fields"]["millis"].is_number()),
        "{log}"
    );
    assert!(!log.contains(&key), "the key is not logged");
}

/// The CLI as the server's client prints what it prints locally, with the same exit codes;
/// `login` keeps the key in a file only its owner reads.
#[test]
fn the_cli_through_the_server_prints_what_it_prints_locally() {
    let home = TestHome::new();
    for f in 0..3 {
        home.put(
            "cli-in",
            &format!("f{f}.jsonl"),
            format!("{{\"id\": {f}}}\nnot json {f}\n").as_bytes(),
        );
    }
    let cfg = config(
        "ViaServer",
        "cli-in",
        json!({"builtinParser": "jsonl"}),
        &["f0.jsonl", "f1.jsonl", "f2.jsonl"],
    );
    let local = home.create(&cfg);
    assert_eq!(local.code, 0, "{}", local.stderr);
    let task = home.tasks("ViaServer")[0]["taskId"]
        .as_str()
        .expect("task")
        .to_string();
    let key = admin(&home, &["apikeys", "create", "--tenantName", "local"]);
    let key = key["apiKey"].as_str().expect("key").to_string();
    let server = Server::start(&home);
    let through = |args: &[&str]| {
        let mut all = vec!["--endpoint", server.url.as_str()];
        all.extend_from_slice(args);
        let output = home
            .command(&all)
            .env("LETSDATA_API_KEY", &key)
            .output()
            .expect("run");
        common::Run::from(output)
    };
    for args in [
        vec!["datasets", "list"],
        vec![
            "datasets",
            "view",
            "--datasetName",
            "ViaServer",
            "--prettyPrint",
        ],
        vec!["tasks", "list", "--datasetName", "ViaServer"],
        vec![
            "tasks",
            "list",
            "--datasetName",
            "ViaServer",
            "--limit",
            "2",
        ],
        vec![
            "tasks",
            "list",
            "--datasetName",
            "ViaServer",
            "--taskStatus",
            "COMPLETED",
        ],
        vec![
            "tasks",
            "view",
            "--datasetName",
            "ViaServer",
            "--taskId",
            &task,
        ],
        vec!["tasks", "redrive", "view", "--datasetName", "ViaServer"],
        vec!["errors", "list", "--datasetName", "ViaServer"],
        vec![
            "errors",
            "list",
            "--datasetName",
            "ViaServer",
            "--limit",
            "1",
        ],
        vec![
            "errors",
            "view",
            "--datasetName",
            "ViaServer",
            "--taskId",
            &task,
        ],
        vec![
            "logs",
            "view",
            "--datasetName",
            "ViaServer",
            "--taskId",
            &task,
        ],
        vec!["metrics", "view", "--datasetName", "ViaServer"],
        vec![
            "metrics",
            "view",
            "--datasetName",
            "ViaServer",
            "--limit",
            "1",
        ],
        vec!["output", "read", "--datasetName", "ViaServer"],
        vec!["datasets", "code", "view", "--datasetName", "ViaServer"],
        // Failures: the same message and exit code.
        vec!["datasets", "view", "--datasetName", "Nope"],
        vec![
            "tasks",
            "view",
            "--datasetName",
            "ViaServer",
            "--taskId",
            "nope",
        ],
        vec!["tasks", "redrive", "--datasetName", "ViaServer"],
        vec![
            "datasets",
            "compute",
            "update",
            "--datasetName",
            "ViaServer",
        ],
    ] {
        let local = home.run(&args);
        let remote = through(&args);
        assert_eq!(
            (remote.code, &remote.stdout),
            (local.code, &local.stdout),
            "{args:?}\nlocal stderr: {}\nremote stderr: {}",
            local.stderr,
            remote.stderr
        );
        if local.code != 0 {
            assert_eq!(remote.stderr, local.stderr, "{args:?}");
        }
    }
    // A dataset created through the server runs on its worker; the CLI follows it to the end
    // and exits as locally (3 for ERRORED).
    let mut bad = cfg.clone();
    bad["datasetName"] = json!("ViaServerMissing");
    bad["manifestFile"]["fileContents"] = json!("f0.jsonl\nmissing.jsonl");
    let path = home.config("missing", &bad);
    let created = through(&[
        "datasets",
        "create",
        "--configFile",
        path.to_str().expect("utf8"),
    ]);
    assert_eq!(created.code, 3, "{}", created.stderr);
    let dataset: Value = serde_json::from_str(&created.stdout).expect("json");
    assert_eq!(dataset["datasetStatus"], "ERRORED");
    assert!(
        created
            .stderr
            .contains("dataset ViaServerMissing finished ERRORED"),
        "{}",
        created.stderr
    );

    // Commands on the store itself refuse a server.
    let refused = through(&["workers", "list"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("works on the store directly"),
        "{}",
        refused.stderr
    );

    // login: a wrong key is refused and nothing is stored; the right one is kept 0600.
    let config_home = tempfile::tempdir().expect("config dir");
    let login = |key: &str| {
        let output = home
            .command(&["--endpoint", &server.url, "login", "--apiKey", key])
            .env("XDG_CONFIG_HOME", config_home.path())
            .env_remove("LETSDATA_API_KEY")
            .output()
            .expect("login");
        common::Run::from(output)
    };
    let credentials = config_home.path().join("letsdata").join("credentials");
    let wrong = login("ldk_wrong");
    assert_eq!(wrong.code, 1, "{}", wrong.stderr);
    assert!(
        wrong.stderr.contains("refused the API key"),
        "{}",
        wrong.stderr
    );
    assert!(!credentials.exists());
    let logged_in = login(&key);
    assert_eq!(logged_in.code, 0, "{}", logged_in.stderr);
    assert_eq!(logged_in.json()["tenantName"], "local");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&credentials)
        .expect("credentials")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let view = home
        .command(&[
            "--endpoint",
            &server.url,
            "datasets",
            "view",
            "--datasetName",
            "ViaServer",
        ])
        .env("XDG_CONFIG_HOME", config_home.path())
        .env_remove("LETSDATA_API_KEY")
        .output()
        .expect("view");
    let view = common::Run::from(view);
    assert_eq!(view.code, 0, "{}", view.stderr);
    assert_eq!(view.json()["datasetName"], "ViaServer");
}

/// `--tlsCert` / `--tlsKey`: HTTPS only; the CLI trusts the certificate through SSL_CERT_FILE.
#[test]
fn tls() {
    let home = TestHome::new();
    let (key, _) = tenant_key(&home, "tenant-a");
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let cert = home.home().join("cert.pem");
    let private = home.home().join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).expect("cert");
    std::fs::write(&private, certified.key_pair.serialize_pem()).expect("key");
    let mut server = Server::start_with(
        &home,
        &[
            "--tlsCert",
            cert.to_str().expect("utf8"),
            "--tlsKey",
            private.to_str().expect("utf8"),
        ],
        reqwest::blocking::Client::builder().add_root_certificate(
            reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).expect("pem"),
        ),
    );
    // The certificate names localhost.
    server.url = server.url.replace("127.0.0.1", "localhost");
    assert!(
        server.url.starts_with("https://localhost:"),
        "{}",
        server.url
    );
    let (status, list) = server.get(Some(&key), "/api/v1/dataset/list");
    assert_eq!((status, list), (200, json!([])));
    // Plain HTTP to the HTTPS port gets no answer.
    let plain = server.url.replace("https://", "http://");
    assert!(reqwest::blocking::get(format!("{plain}/healthz")).is_err());
    let run = home
        .command(&["--endpoint", &server.url, "datasets", "list"])
        .env("LETSDATA_API_KEY", &key)
        .env("SSL_CERT_FILE", &cert)
        .output()
        .expect("run");
    let run = common::Run::from(run);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "[]");
}

/// On a shared PostgreSQL store the server only serves (`--inProcessWorker` defaults to
/// false) and a `letsdata worker` runs the datasets; tenants are isolated there too.
#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no test PostgreSQL"
)]
fn on_postgresql_the_server_serves_and_workers_run() {
    let schema = common::services::PgSchema::new();
    let mut home = TestHome::new();
    home.env("LETSDATA_DATABASE_URL", &schema.url());
    let (key_a, _) = tenant_key(&home, "tenant-a");
    let (key_b, _) = tenant_key(&home, "tenant-b");
    let server = Server::start(&home);
    let mut worker = home
        .command(&["worker"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("worker");
    let dataset = tenant_a_dataset(&home, &server, &key_a);
    common::signal(worker.id(), "-TERM");
    common::wait_exit(&mut worker, Duration::from_secs(60), "the worker exited");
    assert_eq!(dataset["datasetStatus"], "COMPLETED", "{dataset}");
    assert_eq!(dataset["datasetProgress"]["documentsWritten"], 3);
    let id = dataset["datasetId"].as_str().expect("id");
    for path in [
        "/api/v1/dataset?datasetName=Shared".to_string(),
        format!("/api/v1/dataset?datasetId={id}"),
        "/api/v1/tasks/list?datasetName=Shared".to_string(),
    ] {
        let (status, body) = server.get(Some(&key_b), &path);
        assert_eq!(status, 404, "{path}: {body}");
    }
    let (status, tasks) = server.get(
        Some(&key_a),
        "/api/v1/tasks/list?datasetName=Shared&limit=2",
    );
    assert_eq!(status, 200, "{tasks}");
    assert_eq!(tasks["tasks"].as_array().expect("tasks").len(), 2);
    assert!(tasks["nextToken"].is_string());
}
