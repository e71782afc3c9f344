use super::*;
use crate::project::Builds;
use crate::project::tests_support::{tar_gz_of, zip_of};
use letsdata_model::archive::ArchiveFormat;
use std::time::Duration;

fn options(dir: &std::path::Path, seconds: u64) -> StartOptions {
    StartOptions {
        scratch_dir: dir.join("scratch"),
        function_name: "letsdata-test".into(),
        function_arn: "arn:letsdata:function:test".into(),
        memory_megabytes: 512,
        log_level: "INFO".into(),
        stage: "Prod".into(),
        env: vec![],
        deadline: std::time::Instant::now() + Duration::from_secs(seconds),
    }
}

const PY: &str = r#"
import json, logging, os, sys, time
logging.getLogger().setLevel(logging.DEBUG)
def lambda_handler(event, context):
    kind = event.get("kind")
    if kind == "raise":
        raise ValueError("bad record " + str(event.get("n")))
    if kind == "exit":
        print("exiting now", file=sys.stderr)
        sys.exit(3)
    if kind == "loop":
        while True:
            pass
    if kind == "alloc":
        block = bytearray(1024 * 1024 * 1024)
        return len(block)
    if kind == "context":
        logging.getLogger("x").debug("hidden at INFO")
        logging.getLogger("x").info("shown at INFO")
        return {"name": context.function_name, "left": context.get_remaining_time_in_millis() > 0,
                "memory": context.memory_limit_in_mb, "request": context.aws_request_id,
                "stage": os.environ.get("LETS_DATA_STAGE"), "cwd": os.getcwd(),
                "secret": os.environ.get("CARGO_MANIFEST_DIR"),
                "alc": os.environ.get("AWS_LAMBDA_LOG_LEVEL")}
    print("handled", event.get("n"))
    return {"StatusCode": 200, "body": {"statusCode": "SUCCESS", "data": event.get("n")}}
"#;

async fn python(home: &std::path::Path, code: &str) -> Result<Handler, HandlerError> {
    let archive = zip_of(&[("letsdata_lambda_function.py", code)]);
    let sha = crate::project::sha256_hex(&archive);
    let built = Builds::new(home.join("cache"))
        .build(Language::Python, &sha, &archive, ArchiveFormat::Zip)
        .expect("built");
    Handler::start(&built, &options(home, 30)).await
}

fn deadline(seconds: u64) -> std::time::Instant {
    std::time::Instant::now() + Duration::from_secs(seconds)
}

/// The JSON a call returned (it must have returned).
fn value_of(r: &Reply) -> serde_json::Value {
    let Reply::Result(raw) = r else {
        panic!("{r:?}")
    };
    serde_json::from_str(raw.get()).expect("a result is JSON")
}

#[tokio::test]
async fn a_python_handler_answers_pipelined_calls_in_order_and_its_prints_are_its_log() {
    let home = tempfile::tempdir().expect("tempdir");
    let mut h = python(home.path(), PY).await.expect("started");
    let events: Vec<Vec<u8>> = (0..2000)
        .map(|n| format!("{{\"requestId\":\"r{n}\",\"n\":{n}}}").into_bytes())
        .collect();
    let replies = h.call_many(&events, deadline(30)).await.expect("answers");
    assert_eq!(replies.len(), 2000);
    for (n, r) in replies.iter().enumerate() {
        let v = value_of(r);
        assert_eq!(v["body"]["data"], n);
    }
    // The prints come over a pipe read by another task; stopping reads it to its end.
    let (bytes, dropped) = h.stop().await;
    let out = String::from_utf8_lossy(&bytes);
    assert_eq!(dropped, 0);
    assert!(
        out.contains("handled 0\n") && out.contains("handled 1999\n"),
        "{out}"
    );
}

#[tokio::test]
async fn a_raising_handler_keeps_running_and_its_exception_is_reported() {
    let home = tempfile::tempdir().expect("tempdir");
    let mut h = python(home.path(), PY).await.expect("started");
    let r = h
        .call(&serde_json::json!({"kind": "raise", "n": 7}), deadline(10))
        .await
        .expect("answer");
    let Reply::Raised(e) = r else { panic!("{r:?}") };
    assert_eq!(e.error_type, "ValueError");
    assert_eq!(e.error_message, "bad record 7");
    assert!(
        e.stack_trace.contains("lambda_handler"),
        "{}",
        e.stack_trace
    );
    let r = h
        .call(&serde_json::json!({"n": 8}), deadline(10))
        .await
        .expect("still answers");
    assert!(matches!(r, Reply::Result(_)), "{r:?}");
}

#[tokio::test]
async fn the_context_environment_and_log_level_are_lambdas() {
    let home = tempfile::tempdir().expect("tempdir");
    let mut h = python(home.path(), PY).await.expect("started");
    let r = h
        .call(
            &serde_json::json!({"kind": "context", "requestId": "req-1"}),
            deadline(10),
        )
        .await
        .expect("answer");
    let v = value_of(&r);
    assert_eq!(v["name"], "letsdata-test");
    assert_eq!(v["left"], true);
    assert_eq!(v["memory"], "512");
    assert_eq!(v["request"], "req-1");
    assert_eq!(v["stage"], "Prod");
    assert!(v["cwd"].as_str().unwrap_or("").ends_with("scratch"), "{v}");
    // The worker's environment (cargo sets this one for the test) does not reach it.
    assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
    assert_eq!(v["secret"], serde_json::Value::Null);
    // Set only with Lambda's Advanced Logging Controls; Powertools 1.x fails to load with it.
    assert_eq!(v["alc"], serde_json::Value::Null);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let out = String::from_utf8_lossy(&h.drain_output().0).into_owned();
    assert!(
        out.contains("shown at INFO") && out.contains("req-1"),
        "{out}"
    );
    assert!(!out.contains("hidden at INFO"), "{out}");
}

#[tokio::test]
async fn an_exiting_handler_is_reported_with_its_stderr() {
    let home = tempfile::tempdir().expect("tempdir");
    let mut h = python(home.path(), PY).await.expect("started");
    let e = h
        .call(&serde_json::json!({"kind": "exit"}), deadline(10))
        .await
        .expect_err("exited");
    let text = e.to_string();
    assert!(matches!(e, HandlerError::Exited { .. }), "{text}");
    assert!(
        text.contains("exit status: 3") && text.contains("exiting now"),
        "{text}"
    );
}

#[tokio::test]
async fn a_looping_handler_is_stopped_at_the_deadline() {
    let home = tempfile::tempdir().expect("tempdir");
    let mut h = python(home.path(), PY).await.expect("started");
    let started = std::time::Instant::now();
    let e = h
        .call(
            &serde_json::json!({"kind": "loop"}),
            std::time::Instant::now() + Duration::from_millis(800),
        )
        .await
        .expect_err("timed out");
    assert!(matches!(e, HandlerError::TimedOut { .. }), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_memory_limit_holds() {
    let home = tempfile::tempdir().expect("tempdir");
    let mut h = python(home.path(), PY).await.expect("started");
    let r = h
        .call(&serde_json::json!({"kind": "alloc"}), deadline(10))
        .await
        .expect("answer");
    let Reply::Raised(e) = r else { panic!("{r:?}") };
    assert_eq!(e.error_type, "MemoryError");
}

#[tokio::test]
async fn a_handler_that_cannot_load_says_why() {
    let home = tempfile::tempdir().expect("tempdir");
    let e = python(home.path(), "import pyspark_is_not_installed\n")
        .await
        .expect_err("load error");
    let text = e.to_string();
    assert!(matches!(e, HandlerError::Load { .. }), "{text}");
    assert!(
        text.contains("ModuleNotFoundError") && text.contains("pyspark_is_not_installed"),
        "{text}"
    );
}

#[tokio::test]
async fn a_node_handler_runs_async_callback_and_cjs_styles() {
    let home = tempfile::tempdir().expect("tempdir");
    let cache = Builds::new(home.path().join("cache"));
    for (i, (name, code)) in [
        (
            "index.js",
            "export const handler = async (event, context) => { console.log('seen', event.n); \
             if (event.kind === 'raise') { throw new TypeError('bad ' + event.n); } \
             return {n: event.n, left: context.getRemainingTimeInMillis() > 0, id: context.awsRequestId, fn: context.functionName}; };",
        ),
        (
            "index.mjs",
            "export function handler(event, context, callback) { setTimeout(() => callback(null, {n: event.n, left: true, id: context.awsRequestId, fn: context.functionName}), 1); }",
        ),
        (
            "index.cjs",
            "exports.handler = async (event, context) => ({n: event.n, left: true, id: context.awsRequestId, fn: context.functionName});",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let archive = tar_gz_of(&[(name, code), ("package.json", "{\"type\": \"module\"}")]);
        let built = cache
            .build(
                Language::Javascript,
                &format!("js{i}"),
                &archive,
                ArchiveFormat::TarGz,
            )
            .expect("built");
        let mut h = Handler::start(&built, &options(home.path(), 30))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let events: Vec<Vec<u8>> = (0..300)
            .map(|n| format!("{{\"requestId\":\"r{n}\",\"n\":{n}}}").into_bytes())
            .collect();
        let replies = h.call_many(&events, deadline(30)).await.expect("answers");
        for (n, r) in replies.iter().enumerate() {
            let v = value_of(r);
            assert_eq!(v["n"], n, "{name}");
            assert_eq!(v["left"], true, "{name}");
            assert_eq!(v["id"], format!("r{n}"), "{name}");
            assert_eq!(v["fn"], "letsdata-test", "{name}");
        }
        if name == "index.js" {
            let r = h
                .call(&serde_json::json!({"kind": "raise", "n": 1}), deadline(10))
                .await
                .expect("answer");
            let Reply::Raised(e) = r else { panic!("{r:?}") };
            assert_eq!((e.error_type.as_str(), e.error_message.as_str()), ("TypeError", "bad 1"));
            tokio::time::sleep(Duration::from_millis(100)).await;
            let out = String::from_utf8_lossy(&h.drain_output().0).into_owned();
            assert!(out.contains("seen 299"), "{out}");
        }
        h.stop().await;
    }
}
