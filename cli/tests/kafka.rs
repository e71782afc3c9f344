//! The Kafka connectors through the CLI, against a real Kafka-protocol broker (tansu): a
//! 3-partition topic read into S3 across a SIGKILL, S3 into a LetsData topic read back, Kafka
//! into Redis, a missing Customer topic refused, an oversize record as an error record, and a
//! stopped broker ending the tasks ERRORED, then a redrive completing them.

mod common;

#[cfg(feature = "failpoints")]
use common::services::Private;
use common::services::{
    create_topic, kafka_bootstrap, kafka_read_config, produce, read_topic, redis_entries,
    redis_url, suffix, topic_exists,
};
use common::{TestHome, config, jsonl};
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Records `{"id": n, ...}` for ids `start..start + n` keyed by id, with one malformed record
/// (key `bad-<start>`) in the middle.
fn records(start: u64, n: u64) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = jsonl(start, n)
        .lines()
        .enumerate()
        .map(|(i, l)| ((start + i as u64).to_string(), l.to_string()))
        .collect();
    out.insert(
        out.len() / 2,
        (format!("bad-{start}"), "{not json".to_string()),
    );
    out
}

fn ids(lines: &[String]) -> Vec<u64> {
    lines
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("document is JSON");
            v["id"].as_u64().expect("id")
        })
        .collect()
}

#[cfg(feature = "failpoints")]
#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
fn a_three_partition_topic_into_s3_survives_sigkill_with_every_record_exactly_once() {
    let bootstrap = kafka_bootstrap();
    let topic = format!("clicks-{}", suffix());
    const PER_PARTITION: u64 = 100_000;
    rt().block_on(async {
        create_topic(&bootstrap, &topic, 3).await;
        for p in 0..3 {
            produce(
                &bootstrap,
                &topic,
                p,
                &records(p as u64 * PER_PARTITION, PER_PARTITION),
            )
            .await;
        }
    });
    let mut home = TestHome::new();
    // Small parts: many checkpoints to be killed between.
    home.env("LETSDATA_PART_SIZE_BYTES", "50000");
    let mut cfg = kafka_read_config("KafkaKill", &bootstrap, &topic);
    cfg["computeEngine"]["concurrency"] = json!(3);
    // Killed (SIGKILL, a failpoint) once four parts were published.
    home.create_killed(&cfg, "part-published-documents=3*off->return(kill)");
    assert_eq!(home.view("KafkaKill")["datasetStatus"], "PROCESSING");
    assert!(
        home.tasks("KafkaKill")
            .iter()
            .any(|t| t["checkpoint"]["nextOffset"].as_u64().unwrap_or(0) > 0),
        "a task checkpointed a partition offset before the kill"
    );

    let run = home.run(&["run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()[0]["datasetStatus"], "COMPLETED");
    let ds = home.view("KafkaKill");
    assert_eq!(
        ds["datasetProgress"]["totalTasks"], 3,
        "a task per partition"
    );
    assert_eq!(
        ds["resources"]["readResource"]["resourceType"],
        "KafkaTopic"
    );
    let docs = home.lines(
        ds["resources"]["writeBucket"].as_str().expect("b"),
        "KafkaKill",
    );
    let mut got = ids(&docs);
    got.sort();
    let expected: Vec<u64> = (0..3 * PER_PARTITION).collect();
    assert_eq!(got.len(), expected.len(), "no record twice");
    assert_eq!(got, expected, "every record once");
    let errors = home.lines(
        ds["resources"]["errorBucket"].as_str().expect("b"),
        "KafkaKill",
    );
    assert_eq!(errors.len(), 3, "each malformed record once: {errors:?}");
    for t in home.tasks("KafkaKill") {
        let p = t["taskDefinition"]["partition"]
            .as_u64()
            .expect("partition");
        assert_eq!(
            t["checkpoint"]["nextOffset"],
            PER_PARTITION + 1,
            "partition {p} read to its end"
        );
    }
}

#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
fn s3_into_a_letsdata_topic_every_document_readable_and_deleted_with_the_dataset() {
    let bootstrap = kafka_bootstrap();
    let mut home = TestHome::new();
    home.env("LETSDATA_KAFKA_BOOTSTRAP_SERVERS", &bootstrap);
    home.put("kafkain", "a.jsonl", jsonl(0, 5000).as_bytes());
    let mut b = jsonl(5000, 5000);
    b.push_str("not json\n");
    home.put("kafkain", "b.jsonl", b.as_bytes());
    let mut cfg = config(
        "ToKafka",
        "kafkain",
        json!({"builtinParser": "jsonl", "documentIdField": "id"}),
        &["a.jsonl", "b.jsonl"],
    );
    cfg["writeConnector"] = json!({"connectorDestination": "Kafka", "resourceLocation": "LetsData",
        "kafkaPartitionCount": 3, "compression": "lz4"});
    // One task at a time: tansu loses a batch when two connections produce to one partition
    // at once (docs/dev/testing.md).
    cfg["computeEngine"]["concurrency"] = json!(1);
    let run = home.create(&cfg);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ds = run.json();
    assert_eq!(ds["datasetStatus"], "COMPLETED", "{ds}");
    assert_eq!(ds["datasetProgress"]["documentsWritten"], 10_000);
    assert_eq!(ds["datasetProgress"]["errorRecords"], 1);
    let w = &ds["resources"]["writeResource"];
    assert_eq!(w["resourceType"], "KafkaTopic");
    assert_eq!(w["resourceLocation"], "LetsData");
    assert_eq!(w["url"], bootstrap.as_str());
    assert_eq!(
        ds["initializationWorkflow"]["Write Connector - Create Kafka Topic"]["status"],
        "COMPLETED"
    );
    let topic = w["name"].as_str().expect("topic").to_string();

    let records = rt().block_on(read_topic(&bootstrap, &topic));
    assert_eq!(records.len(), 10_000, "every document once in the topic");
    let partitions: BTreeSet<i32> = records.iter().map(|r| r.0).collect();
    assert_eq!(partitions.len(), 3, "spread over the partitions");
    for (_, key, value) in &records {
        let v: Value = serde_json::from_str(value).expect("value is the document");
        assert_eq!(v["id"].to_string(), *key, "the key is the document id");
    }
    let read = home.run(&[
        "output",
        "read",
        "--datasetName",
        "ToKafka",
        "--limit",
        "20000",
    ]);
    assert_eq!(read.code, 0, "{}", read.stderr);
    let mut got = ids(&read.stdout.lines().map(str::to_string).collect::<Vec<_>>());
    got.sort();
    assert_eq!(got, (0..10_000).collect::<Vec<u64>>());

    let del = home.run(&["datasets", "delete", "--datasetName", "ToKafka"]);
    assert_eq!(del.code, 0, "{}", del.stderr);
    assert_eq!(
        home.view("ToKafka")["deleteWorkflow"]["Write Connector - Delete Kafka Topic"]["status"],
        "COMPLETED"
    );
    assert!(
        !rt().block_on(topic_exists(&bootstrap, &topic)),
        "the LetsData topic is deleted with the dataset"
    );
}

#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
fn kafka_into_redis_every_key_holds_its_document() {
    let bootstrap = kafka_bootstrap();
    let redis = redis_url();
    let topic = format!("toredis-{}", suffix());
    let prefix = format!("test-{}:", suffix());
    rt().block_on(async {
        create_topic(&bootstrap, &topic, 2).await;
        produce(&bootstrap, &topic, 0, &records(0, 1500)).await;
        produce(&bootstrap, &topic, 1, &records(1500, 1500)).await;
    });
    let home = TestHome::new();
    let mut cfg = kafka_read_config("KafkaToRedis", &bootstrap, &topic);
    cfg["writeConnector"] = json!({"connectorDestination": "Redis", "redisUrl": redis,
        "keyPrefix": prefix, "ttlInSeconds": 3600});
    let run = home.create(&cfg);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ds = run.json();
    assert_eq!(ds["datasetStatus"], "COMPLETED", "{ds}");
    assert_eq!(ds["datasetProgress"]["documentsWritten"], 3000);
    assert_eq!(ds["datasetProgress"]["errorRecords"], 2);
    let entries = rt().block_on(redis_entries(&redis, &prefix));
    assert_eq!(entries.len(), 3000);
    for (key, value) in &entries {
        let v: Value = serde_json::from_str(value).expect("json");
        assert_eq!(*key, format!("{prefix}{}", v["id"]));
    }
}

#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
fn a_customer_topic_that_does_not_exist_is_refused_at_create() {
    let bootstrap = kafka_bootstrap();
    let missing = format!("missing-{}", suffix());
    let home = TestHome::new();
    let run = home.create(&kafka_read_config("NoTopic", &bootstrap, &missing));
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stderr.contains("readConnector.topicName")
            && run
                .stderr
                .contains(&format!("\"{missing}\" does not exist")),
        "{}",
        run.stderr
    );
    home.put("kin", "a.jsonl", jsonl(0, 10).as_bytes());
    let mut cfg = config(
        "NoOutTopic",
        "kin",
        json!({"builtinParser": "jsonl"}),
        &["a.jsonl"],
    );
    cfg["writeConnector"] = json!({"connectorDestination": "Kafka", "resourceLocation": "Customer",
        "bootstrapServers": bootstrap, "topicName": missing});
    let run = home.create(&cfg);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stderr.contains("writeConnector.topicName"),
        "{}",
        run.stderr
    );
    assert!(
        !rt().block_on(topic_exists(&bootstrap, &missing)),
        "checking does not create the topic"
    );
    let list = home.run(&["datasets", "list"]).json();
    assert_eq!(list, json!([]), "nothing created");
}

#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
fn a_record_over_the_size_limit_is_an_error_record_and_the_task_goes_on() {
    let bootstrap = kafka_bootstrap();
    let topic = format!("sized-{}", suffix());
    rt().block_on(create_topic(&bootstrap, &topic, 1));
    let home = TestHome::new();
    let mut input = jsonl(0, 100);
    input.push_str(&format!(
        "{{\"id\":100,\"blob\":\"{}\"}}\n",
        "x".repeat(5000)
    ));
    input.push_str(&jsonl(101, 100));
    home.put("sizein", "a.jsonl", input.as_bytes());
    let mut cfg = config(
        "KafkaSized",
        "sizein",
        json!({"builtinParser": "jsonl", "documentIdField": "id"}),
        &["a.jsonl"],
    );
    cfg["writeConnector"] = json!({"connectorDestination": "Kafka", "resourceLocation": "Customer",
        "bootstrapServers": bootstrap, "topicName": topic, "maxMessageBytes": 2048});
    let run = home.create(&cfg);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ds = run.json();
    assert_eq!(ds["datasetStatus"], "COMPLETED");
    assert_eq!(ds["datasetProgress"]["documentsWritten"], 200);
    assert_eq!(ds["datasetProgress"]["errorRecords"], 1);
    let errors = home.lines(
        ds["resources"]["errorBucket"].as_str().expect("b"),
        "KafkaSized",
    );
    let e: Value = serde_json::from_str(&errors[0]).expect("json");
    assert_eq!(e["documentId"], "100");
    let message = e["errorMessage"].as_str().expect("message");
    assert!(message.contains("maxMessageBytes"), "{message}");
    assert_eq!(rt().block_on(read_topic(&bootstrap, &topic)).len(), 200);
}

#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
#[cfg(feature = "failpoints")]
fn a_stopped_broker_ends_the_tasks_errored_and_a_redrive_completes_them() {
    let broker = Private::kafka();
    let bootstrap = broker.address();
    let mut home = TestHome::new();
    home.env("LETSDATA_KAFKA_BOOTSTRAP_SERVERS", &bootstrap);
    home.env("LETSDATA_PART_SIZE_BYTES", "20000");
    // One task: tansu loses an acknowledged batch when two connections produce to one
    // partition at once (docs/dev/testing.md), so a topic destination is written by one task.
    const FILES: u64 = 1;
    const LINES: u64 = 120_000;
    let mut manifest = Vec::new();
    for f in 0..FILES {
        home.put(
            "stopin",
            &format!("f{f}.jsonl"),
            jsonl(f * LINES, LINES).as_bytes(),
        );
        manifest.push(format!("f{f}.jsonl"));
    }
    let manifest: Vec<&str> = manifest.iter().map(String::as_str).collect();
    let mut cfg = config(
        "BrokerStop",
        "stopin",
        json!({"builtinParser": "jsonl", "documentIdField": "id"}),
        &manifest,
    );
    cfg["writeConnector"] = json!({"connectorDestination": "Kafka", "resourceLocation": "LetsData",
        "kafkaPartitionCount": 2});
    // The worker is held (a failpoint's SIGSTOP) at its 2nd checkpoint while the service
    // stops, so the window cannot close by the task finishing first, however fast the machine.
    let mut child = home.spawn_held(&cfg, "part-checkpointed=1*off->1*return(stop)");
    broker.stop();
    common::signal(child.id(), "-CONT");
    let status = common::wait_exit(
        &mut child,
        std::time::Duration::from_secs(300),
        "the tasks gave up on the stopped broker",
    );
    assert_eq!(status.code(), Some(3), "the dataset ends ERRORED");
    let ds = home.view("BrokerStop");
    assert_eq!(ds["datasetStatus"], "ERRORED");
    let errored = home.tasks_now("BrokerStop", Some("ERRORED"));
    assert!(!errored.is_empty());
    for t in &errored {
        let e = t["lastError"].as_str().expect("lastError");
        assert!(e.contains("Kafka topic") && e.contains(&bootstrap), "{e}");
    }
    let log = home.run(&[
        "logs",
        "view",
        "--datasetName",
        "BrokerStop",
        "--taskId",
        errored[0]["taskId"].as_str().expect("id"),
    ]);
    assert!(
        log.stdout
            .contains("a service failed; a redrive may succeed"),
        "{}",
        log.stdout
    );

    broker.resume();
    let redrive = home.run(&["tasks", "redrive", "--datasetName", "BrokerStop"]);
    assert_eq!(redrive.code, 0, "{}\n{}", redrive.stdout, redrive.stderr);
    assert_eq!(home.view("BrokerStop")["datasetStatus"], "COMPLETED");
    let topic = ds["resources"]["writeResource"]["name"]
        .as_str()
        .expect("topic")
        .to_string();
    let records = rt().block_on(read_topic(&bootstrap, &topic));
    let keys: BTreeSet<u64> = records
        .iter()
        .map(|(_, k, _)| k.parse().expect("id key"))
        .collect();
    assert_eq!(
        keys,
        (0..FILES * LINES).collect::<BTreeSet<u64>>(),
        "every document delivered (at least once)"
    );
    drop(broker);
}

#[test]
#[cfg_attr(
    skip_emulator_tests,
    ignore = "LETSDATA_SKIP_S3_TESTS: no AWS emulator"
)]
fn a_kafka_record_reader_component_reads_a_topic() {
    let bootstrap = kafka_bootstrap();
    let topic = format!("wasm-{}", suffix());
    rt().block_on(async {
        create_topic(&bootstrap, &topic, 2).await;
        let mut recs: Vec<(String, String)> = (0..30)
            .map(|i| (format!("k{i}"), format!("hello {i}")))
            .collect();
        recs.push(("k-bad".into(), "bad".into()));
        produce(&bootstrap, &topic, 0, &recs).await;
        produce(&bootstrap, &topic, 1, &[("k-one".into(), "one".into())]).await;
    });
    let home = TestHome::new();
    home.put(
        "code",
        "readers.wasm",
        &common::component("letsdata-test-readers"),
    );
    let mut cfg = kafka_read_config("WasmKafka", &bootstrap, &topic);
    let read = cfg["readConnector"].as_object_mut().expect("object");
    read.remove("builtinParser");
    read.remove("documentIdField");
    read.insert("artifactImplementationLanguage".into(), json!("Wasm"));
    read.insert("artifactFileS3Link".into(), json!("s3://code/readers.wasm"));
    let run = home.create(&cfg);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ds = run.json();
    assert_eq!(ds["datasetStatus"], "COMPLETED", "{ds}");
    assert_eq!(ds["code"]["current"]["interface"], "KafkaRecordReader");
    assert_eq!(ds["datasetProgress"]["documentsWritten"], 31);
    assert_eq!(ds["datasetProgress"]["errorRecords"], 1);
    let docs: Vec<Value> = home
        .lines(
            ds["resources"]["writeBucket"].as_str().expect("b"),
            "WasmKafka",
        )
        .iter()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let first = docs
        .iter()
        .find(|d| d["key"] == "k0")
        .expect("the record keyed k0");
    assert_eq!(first["topic"], topic.as_str());
    assert_eq!(first["partition"], 0);
    assert_eq!(first["offset"], 0);
    assert_eq!(first["value"], "hello 0");
    assert!(first["at"].as_i64().expect("timestamp") > 1_700_000_000_000);
    assert!(
        docs.iter()
            .any(|d| d["partition"] == 1 && d["value"] == "one")
    );
    let errors = home.lines(
        ds["resources"]["errorBucket"].as_str().expect("b"),
        "WasmKafka",
    );
    assert_eq!(errors.len(), 1);
    let e: Value = serde_json::from_str(&errors[0]).expect("json");
    assert_eq!(e["errorMessage"], "the value is bad");
    assert_eq!(e["rawRecord"], "bad");
}
