//! Tests of the dataset validator.

mod aws;
mod compute_manifest;
mod connectors;
mod kafka_redis;
mod overlap;
mod root;
mod vectors;

use super::{ConfigError, DatasetSpec, Problem, ValidationContext, parse_dataset_spec};
use serde_json::{Value, json};

/// The quickstart configuration: valid.
fn example() -> Value {
    json!({
        "datasetName": "QuickstartJsonl",
        "region": "us-east-1",
        "readConnector": {
            "connectorDestination": "S3",
            "readerType": "Single File Reader",
            "bucketName": "quickstart-input",
            "bucketResourceLocation": "Customer",
            "artifactImplementationLanguage": "Builtin",
            "builtinParser": "jsonl",
            "documentIdField": "id"
        },
        "writeConnector": {"connectorDestination": "S3", "resourceLocation": "LetsData"},
        "errorConnector": {"connectorDestination": "S3", "resourceLocation": "LetsData"},
        "computeEngine": {"computeEngineType": "Lambda", "concurrency": 2},
        "manifestFile": {
            "manifestType": "S3ReaderTextManifestFile",
            "readerType": "SINGLEFILEREADER",
            "fileContents": "events/part-0.jsonl\nevents/part-1.jsonl.gz\n"
        }
    })
}

/// The object holding the field at a dotted path, and the field's name.
fn parent<'v>(v: &'v mut Value, path: &str) -> (&'v mut serde_json::Map<String, Value>, String) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().expect("non-empty path").to_string();
    let mut cur = v;
    for part in parts {
        cur = cur.get_mut(part).expect("parent exists");
    }
    (cur.as_object_mut().expect("parent is an object"), last)
}

/// The example with `path` set to `value`.
fn with(path: &str, value: Value) -> Value {
    let mut v = example();
    set(&mut v, path, value);
    v
}

/// The example without `path`.
fn without(path: &str) -> Value {
    let mut v = example();
    remove(&mut v, path);
    v
}

fn set(v: &mut Value, path: &str, value: Value) {
    let (obj, field) = parent(v, path);
    obj.insert(field, value);
}

fn remove(v: &mut Value, path: &str) {
    let (obj, field) = parent(v, path);
    obj.remove(&field);
}

fn parse(v: &Value) -> Result<DatasetSpec, ConfigError> {
    parse_dataset_spec(v, ValidationContext::default())
}

fn parse_ok(v: &Value) -> DatasetSpec {
    match parse(v) {
        Ok(spec) => spec,
        Err(e) => panic!("expected a valid configuration, got {e}"),
    }
}

fn problems(v: &Value) -> Vec<Problem> {
    problems_ctx(v, ValidationContext::default())
}

fn problems_ctx(v: &Value, ctx: ValidationContext) -> Vec<Problem> {
    match parse_dataset_spec(v, ctx) {
        Ok(spec) => panic!("expected problems, got {spec:?}"),
        Err(e) => {
            assert!(!e.problems.is_empty());
            e.problems
        }
    }
}

/// Asserts that some problem is at `path` and its message contains `needle`.
#[track_caller]
fn assert_has(problems: &[Problem], path: &str, needle: &str) {
    assert!(
        problems
            .iter()
            .any(|p| p.path == path && p.message.contains(needle)),
        "no problem at {path:?} containing {needle:?} in:\n{}",
        render(problems)
    );
}

/// Asserts that the configuration has exactly one problem, at `path`, containing `needle`.
#[track_caller]
fn assert_only(v: &Value, path: &str, needle: &str) {
    let ps = problems(v);
    assert_eq!(ps.len(), 1, "expected one problem, got:\n{}", render(&ps));
    assert_has(&ps, path, needle);
}

fn render(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("  {p}\n")).collect()
}

/// The S3 read connector of a spec (panics otherwise).
fn s3_read(spec: &DatasetSpec) -> &super::S3ReadConnector {
    match &spec.read_connector {
        super::ReadConnector::S3(r) => r,
        other => panic!("not an S3 read connector: {other:?}"),
    }
}

/// The S3 write connector of a spec (panics otherwise).
fn s3_write(spec: &DatasetSpec) -> &super::S3WriteConnector {
    match &spec.write_connector {
        super::WriteConnector::S3(w) => w,
        other => panic!("not an S3 write connector: {other:?}"),
    }
}

/// The file manifest of a spec (panics otherwise).
fn files(spec: &DatasetSpec) -> (&super::ManifestSource, super::ReaderType) {
    match &spec.manifest {
        super::Manifest::Files {
            source,
            reader_type,
        } => (source, *reader_type),
        other => panic!("not a file manifest: {other:?}"),
    }
}
