//! The Redis write connector through the CLI, against real Redis servers: S3 into Redis with
//! every key holding its document, a value over the limit as an error record, a stopped Redis
//! ending the tasks ERRORED then a redrive completing them, passwords (literal or
//! `${env:NAME}`) never shown, and Momento refused with a pointer to Redis.

mod common;

use common::services::{Private, redis_entries, redis_url, suffix};
use common::{TestHome, config, jsonl};
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn redis_config(name: &str, bucket: &str, files: &[&str], write: Value) -> Value {
    let mut cfg = config(
        name,
        bucket,
        json!({"builtinParser": "jsonl", "documentIdField": "id"}),
        files,
    );
    cfg["writeConnector"] = write;
    cfg
}

#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
fn s3_into_redis_every_key_holds_its_document_and_oversize_values_are_error_records() {
    let redis = redis_url();
    let prefix = format!("docs-{}:", suffix());
    let home = TestHome::new();
    let mut input = jsonl(0, 4000);
    input.push_str(&format!(
        "{{\"id\":4000,\"blob\":\"{}\"}}\n",
        "x".repeat(3000)
    ));
    home.put("redisin", "a.jsonl", input.as_bytes());
    let cfg = redis_config(
        "ToRedis",
        "redisin",
        &["a.jsonl"],
        json!({"connectorDestination": "Redis", "redisUrl": redis, "keyPrefix": prefix,
               "ttlInSeconds": 3600, "maxValueSizeInBytes": 2048}),
    );
    let run = home.create(&cfg);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ds = run.json();
    assert_eq!(ds["datasetStatus"], "COMPLETED", "{ds}");
    assert_eq!(ds["datasetProgress"]["documentsWritten"], 4000);
    assert_eq!(ds["datasetProgress"]["errorRecords"], 1);
    assert_eq!(
        ds["resources"]["writeResource"]["resourceType"],
        "RedisKeyspace"
    );
    assert_eq!(ds["resources"]["writeResource"]["name"], prefix.as_str());

    let entries = rt().block_on(redis_entries(&redis, &prefix));
    assert_eq!(entries.len(), 4000, "every document a key");
    let expected: BTreeSet<String> = jsonl(0, 4000).lines().map(str::to_string).collect();
    let mut values = BTreeSet::new();
    for (key, value) in &entries {
        let v: Value = serde_json::from_str(value).expect("json");
        assert_eq!(
            *key,
            format!("{prefix}{}", v["id"]),
            "key = prefix + document id"
        );
        values.insert(value.clone());
    }
    assert_eq!(values, expected, "each key holds its document");
    let ttl: i64 = rt().block_on(async {
        let mut con = common::services::redis(&redis).await;
        redis::cmd("TTL")
            .arg(&entries[0].0)
            .query_async(&mut con)
            .await
            .expect("ttl")
    });
    assert!(ttl > 0 && ttl <= 3600, "ttl {ttl}");

    let errors = home.lines(
        ds["resources"]["errorBucket"].as_str().expect("b"),
        "ToRedis",
    );
    assert_eq!(errors.len(), 1);
    let e: Value = serde_json::from_str(&errors[0]).expect("json");
    assert_eq!(e["documentId"], "4000");
    assert!(
        e["errorMessage"]
            .as_str()
            .expect("message")
            .contains("maxValueSizeInBytes"),
        "{e}"
    );
    let read = home.run(&[
        "output",
        "read",
        "--datasetName",
        "ToRedis",
        "--limit",
        "10000",
    ]);
    assert_eq!(read.code, 0, "{}", read.stderr);
    assert_eq!(read.stdout.lines().count(), 4000);
}

#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
fn passwords_are_never_shown_whether_literal_or_environment_references() {
    let server = Private::redis(Some("hunter2-secret"));
    let prefix = format!("pw-{}:", suffix());
    let mut home = TestHome::new();
    home.env("LD_TEST_REDIS_PASSWORD", "hunter2-secret");
    home.put("pwin", "a.jsonl", jsonl(0, 200).as_bytes());

    // A literal password in the URL works, and is masked in everything printed.
    let literal = redis_config(
        "Literal",
        "pwin",
        &["a.jsonl"],
        json!({"connectorDestination": "Redis", "keyPrefix": prefix,
               "redisUrl": format!("redis://:hunter2-secret@{}", server.address())}),
    );
    let run = home.create(&literal);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["datasetStatus"], "COMPLETED");
    // An environment variable reference works, and is shown as the reference.
    let reference = redis_config(
        "Reference",
        "pwin",
        &["a.jsonl"],
        json!({"connectorDestination": "Redis", "keyPrefix": format!("{prefix}ref:"),
               "redisUrl": format!("redis://{}", server.address()),
               "redisPassword": "${env:LD_TEST_REDIS_PASSWORD}"}),
    );
    let run = home.create(&reference);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["datasetStatus"], "COMPLETED");
    let view = home.run(&["datasets", "view", "--datasetName", "Reference"]);
    assert!(
        view.stdout.contains("${env:LD_TEST_REDIS_PASSWORD}"),
        "{}",
        view.stdout
    );
    // A wrong password: refused at create, and not in the message.
    let wrong = redis_config(
        "Wrong",
        "pwin",
        &["a.jsonl"],
        json!({"connectorDestination": "Redis", "keyPrefix": prefix,
               "redisUrl": format!("redis://:wrong-pass-42@{}", server.address())}),
    );
    let run = home.create(&wrong);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stderr.contains("writeConnector"), "{}", run.stderr);
    assert!(!run.stderr.contains("wrong-pass-42"), "{}", run.stderr);

    let mut shown = String::new();
    for args in [
        vec!["datasets", "list"],
        vec!["datasets", "view", "--datasetName", "Literal"],
        vec!["tasks", "list", "--datasetName", "Literal"],
    ] {
        let r = home.run(&args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        shown.push_str(&r.stdout);
        shown.push_str(&r.stderr);
    }
    for task in home.tasks("Literal") {
        let log = home.run(&[
            "logs",
            "view",
            "--datasetName",
            "Literal",
            "--taskId",
            task["taskId"].as_str().expect("id"),
        ]);
        shown.push_str(&log.stdout);
    }
    assert!(!shown.contains("hunter2-secret"), "{shown}");
    assert!(shown.contains("redis://:****@"), "{shown}");
}

#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
#[cfg(feature = "failpoints")]
fn a_stopped_redis_ends_the_tasks_errored_and_a_redrive_completes_them() {
    let server = Private::redis(None);
    let url = format!("redis://{}", server.address());
    let prefix = "stop:";
    let mut home = TestHome::new();
    home.env("LETSDATA_PART_SIZE_BYTES", "20000");
    const FILES: u64 = 2;
    const LINES: u64 = 60_000;
    let mut manifest = Vec::new();
    for f in 0..FILES {
        home.put(
            "rstopin",
            &format!("f{f}.jsonl"),
            jsonl(f * LINES, LINES).as_bytes(),
        );
        manifest.push(format!("f{f}.jsonl"));
    }
    let manifest: Vec<&str> = manifest.iter().map(String::as_str).collect();
    let cfg = redis_config(
        "RedisStop",
        "rstopin",
        &manifest,
        json!({"connectorDestination": "Redis", "redisUrl": url, "keyPrefix": prefix}),
    );
    // The worker is held (a failpoint's SIGSTOP) at its 4th checkpoint while the service
    // stops, so the window cannot close by the tasks finishing first, however fast the machine.
    let mut child = home.spawn_held(&cfg, "part-checkpointed=3*off->1*return(stop)");
    server.stop();
    common::signal(child.id(), "-CONT");
    let status = common::wait_exit(
        &mut child,
        std::time::Duration::from_secs(300),
        "the tasks gave up on the stopped Redis",
    );
    assert_eq!(status.code(), Some(3), "the dataset ends ERRORED");
    let errored = home.tasks_now("RedisStop", Some("ERRORED"));
    assert!(!errored.is_empty());
    for t in &errored {
        let e = t["lastError"].as_str().expect("lastError");
        assert!(e.contains("Redis") && e.contains(&server.address()), "{e}");
        let log = home.run(&[
            "logs",
            "view",
            "--datasetName",
            "RedisStop",
            "--taskId",
            t["taskId"].as_str().expect("id"),
        ]);
        assert!(
            log.stdout
                .contains("a service failed; a redrive may succeed"),
            "{}",
            log.stdout
        );
    }
    server.resume();
    let redrive = home.run(&["tasks", "redrive", "--datasetName", "RedisStop"]);
    assert_eq!(redrive.code, 0, "{}\n{}", redrive.stdout, redrive.stderr);
    assert_eq!(home.view("RedisStop")["datasetStatus"], "COMPLETED");
    let entries = rt().block_on(redis_entries(&url, prefix));
    assert_eq!(entries.len() as u64, FILES * LINES, "every document a key");
}

#[test]
fn momento_is_refused_with_a_pointer_to_redis() {
    let home = TestHome::new();
    home.put("momin", "a.jsonl", jsonl(0, 1).as_bytes());
    let cfg = redis_config(
        "Momento",
        "momin",
        &["a.jsonl"],
        json!({"connectorDestination": "Momento", "resourceLocation": "LetsData"}),
    );
    let run = home.create(&cfg);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("writeConnector.connectorDestination")
            && run.stderr.contains("Momento\" is not supported")
            && run.stderr.contains("Redis"),
        "{}",
        run.stderr
    );
}
