//! LetsData Python and JavaScript implementations end to end through the CLI: the user's
//! Lambda handler project, packed as a .zip or .tar.gz, runs unchanged (the Python example,
//! a JavaScript parser), with the published config's container wiring as warnings; a raising
//! handler errors its task with the exception and a code update and redrive complete it; a
//! hung handler is stopped at the time limit; one that exits is reported with its stderr.

mod common;

use common::{TestHome, pack, project};
use serde_json::{Value, json};
use std::path::Path;

fn examples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn bucket_of(home: &TestHome, dataset: &str, which: &str) -> String {
    home.view(dataset)["resources"][which]
        .as_str()
        .expect("bucket")
        .to_string()
}

fn json_lines(home: &TestHome, dataset: &str, which: &str) -> Vec<Value> {
    home.lines(&bucket_of(home, dataset, which), dataset)
        .iter()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// A dataset reading `files` of bucket `input` with the project at `link`.
fn handler_config(name: &str, language: &str, link: &str, files: &[&str], timeout: u32) -> Value {
    json!({
        "datasetName": name,
        "region": "us-east-1",
        "readConnector": {
            "connectorDestination": "S3",
            "readerType": "SINGLEFILEREADER",
            "bucketName": "input",
            "artifactImplementationLanguage": language,
            "artifactFileS3Link": link,
        },
        "writeConnector": {"connectorDestination": "S3", "resourceLocation": "LetsData"},
        "errorConnector": {"connectorDestination": "S3", "resourceLocation": "LetsData"},
        "computeEngine": {
            "computeEngineType": "Lambda",
            "concurrency": 2,
            "timeoutInSeconds": timeout,
            "memoryLimitInMegabytes": 512,
            "logLevel": "INFO",
        },
        "manifestFile": {
            "manifestType": "S3ReaderTextManifestFile",
            "readerType": "SINGLEFILEREADER",
            "fileContents": files.join("\n"),
        },
    })
}

#[test]
fn the_python_example_runs_unchanged_with_its_letsdata_wiring_as_warnings() {
    let home = TestHome::new();
    let dir = examples().join("python-log-parser");
    let cfg: Value =
        serde_json::from_slice(&std::fs::read(dir.join("dataset.json")).expect("dataset.json"))
            .expect("JSON");
    let mut expected_docs = 0;
    let mut expected_errors = 0;
    let mut lines = 0;
    for name in ["server-0.log", "server-1.log"] {
        let text = std::fs::read_to_string(dir.join("input").join(name)).expect("input");
        for line in text.lines() {
            lines += 1;
            match serde_json::from_str::<Value>(line) {
                Ok(v) if v["lvl"] == "ERROR" => expected_docs += 1,
                Ok(_) => {}
                Err(_) => expected_errors += 1,
            }
        }
        home.put("python-log-parser-input", name, text.as_bytes());
    }
    assert!(expected_errors > 0 && expected_docs > 0);
    home.put(
        "letsdata-example-code",
        "python-log-parser.zip",
        &pack(&dir.join("project"), "zip"),
    );
    let run = home.create(&cfg);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // The published config's image fields are accepted, each with one warning line.
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), 2, "{}", run.stderr);
    assert!(
        warnings[0].starts_with("warning: readConnector.interfaceECRImagePath: is ignored: a container image cannot be pulled here"),
        "{}",
        run.stderr
    );
    let ds = run.json();
    assert_eq!(ds["datasetStatus"], "COMPLETED", "{ds:#}");
    assert_eq!(ds["code"]["current"]["interface"], "SingleFileParser");
    let sha = ds["code"]["current"]["sha256"].as_str().expect("sha");
    assert!(
        home.home()
            .join(format!("buckets/letsdata-artifacts/sha256/{sha}.zip"))
            .is_file()
    );
    let build = ds["initializationWorkflow"]["Create Dataset Code Builds"]["message"]
        .as_str()
        .expect("build message");
    assert!(
        build.contains("letsdata_lambda_function.lambda_handler loads in"),
        "{build}"
    );
    assert_eq!(ds["datasetProgress"]["documentsWritten"], expected_docs);
    assert_eq!(ds["datasetProgress"]["errorRecords"], expected_errors);
    assert_eq!(
        ds["datasetProgress"]["skipRecords"],
        lines - expected_docs - expected_errors
    );
    let docs = json_lines(&home, "PythonErrorLogs", "writeBucket");
    assert_eq!(docs.len(), expected_docs);
    let first = &docs[0];
    assert_eq!(first["recordType"], "ERROR");
    assert!(first["documentId"].as_str().expect("id").contains('-'));
    assert!(
        first["message"]
            .as_str()
            .expect("message")
            .starts_with("event ")
    );
    assert!(first["documentMetadata"]["offset"].is_u64(), "{first}");
    let errors = json_lines(&home, "PythonErrorLogs", "errorBucket");
    assert_eq!(errors.len(), expected_errors);
    assert!(
        errors[0]["errorMessage"]
            .as_str()
            .expect("message")
            .starts_with("not a JSON log line"),
        "{:#}",
        errors[0]
    );
    assert!(
        errors[0]["rawRecord"]
            .as_str()
            .expect("raw")
            .contains("oops"),
        "{:#}",
        errors[0]
    );
    // The handler's logging is the task's log.
    let task = &home.tasks("PythonErrorLogs")[0];
    let logs = home.run(&[
        "logs",
        "view",
        "--datasetName",
        "PythonErrorLogs",
        "--taskId",
        task["taskId"].as_str().expect("task id"),
    ]);
    assert!(
        logs.stdout.contains("not a log line at offset"),
        "{}",
        logs.stdout
    );
}

const JS_PARSER: &str = r#"
// A LetsData SingleFileParser in JavaScript: one CSV-ish line per record, "id,value".
const parser = {
  getS3FileType: () => "ROWS",
  getResolvedS3FileName: (type, name) => name,
  getRecordStartPattern: () => ({ recordHintType: "PATTERN", pattern: "", offset: -1 }),
  getRecordEndPattern: () => ({ recordHintType: "PATTERN", pattern: "\n", offset: -1 }),
  parseDocument: (type, name, offsetBytes, bytes, start, end) => {
    const text = bytes.toString("utf8", start, end).trim();
    const [id, value] = text.split(",");
    if (value === "hang") { for (;;) {} }
    if (value === "raise") { throw new RangeError("value out of range at " + offsetBytes); }
    if (value === undefined) {
      return { nextRecordType: null, status: "ERROR", document: { documentType: "ErrorDoc",
        errorStartoffsetMap: { [type]: String(offsetBytes) }, errorEndoffsetMap: { [type]: String(offsetBytes) },
        errorMessage: "no value" } };
    }
    return { nextRecordType: null, status: "SUCCESS", document: { documentType: "Document",
      documentId: id, recordType: "ROW", partitionKey: name, documentMetadata: null,
      documentKeyValuesMap: { id: Number(id), value: Number(value) } } };
  },
};

export const handler = async (event, context) => {
  try {
    if (!["Test", "Prod"].includes(process.env.LETS_DATA_STAGE)) { throw new Error("stage"); }
    const d = event.data;
    let result;
    switch (event.function) {
      case "getS3FileType": result = parser.getS3FileType(); break;
      case "getResolvedS3FileName": result = parser.getResolvedS3FileName(d.s3FileType, d.fileName); break;
      case "getRecordStartPattern": result = parser.getRecordStartPattern(d.s3FileType); break;
      case "getRecordEndPattern": result = parser.getRecordEndPattern(d.s3FileType); break;
      case "parseDocument": {
        const bytes = Buffer.from(d.content, "utf8");
        if (d.startIndex !== 0 || d.endIndex !== bytes.length) { throw new Error("indexes"); }
        result = parser.parseDocument(d.s3FileType, d.fileName, d.offsetBytes, bytes, 0, bytes.length);
        break;
      }
      default: throw new Error("unknown function " + event.function);
    }
    return { StatusCode: 200, headers: { "Content-Type": "application/json" },
      body: { statusCode: "SUCCESS", data: result } };
  } catch (err) {
    return { StatusCode: 500, headers: { "Content-Type": "application/json" },
      body: { statusCode: "EXCEPTION", errorMessage: err.message,
        exception: { errorMessage: err.message, errorType: err.name, stackTrace: JSON.stringify(err.stack) } } };
  }
};
"#;

const PACKAGE_JSON: &str =
    r#"{"name": "rows-parser", "version": "1.0.0", "type": "module", "main": "index.js"}"#;

/// A Python SingleFileParser of newline-ended records (file type ROWS) that imports `imports`
/// and runs `parse` (indented for the `else` branch) for each record's `d["content"]`, which
/// sets `data` (`document(id, partition_key, key_values)` builds a Document's result).
fn python_rows_parser(imports: &str, parse: &str) -> String {
    format!(
        r#"
import {imports}

def document(document_id, partition_key, key_values):
    return {{"nextRecordType": None, "status": "SUCCESS",
            "document": {{"documentType": "Document", "documentId": document_id,
                         "recordType": "ROW", "partitionKey": partition_key,
                         "documentMetadata": None, "documentKeyValuesMap": key_values}}}}

def lambda_handler(event, context):
    d = event.get("data") or {{}}
    f = event["function"]
    if f == "getS3FileType":
        data = "ROWS"
    elif f == "getResolvedS3FileName":
        data = d["fileName"]
    elif f == "getRecordStartPattern":
        data = {{"recordHintType": "PATTERN", "pattern": "", "offset": -1}}
    elif f == "getRecordEndPattern":
        data = {{"recordHintType": "PATTERN", "pattern": "\n", "offset": -1}}
    else:{parse}
    return {{"StatusCode": 200, "body": {{"statusCode": "SUCCESS", "data": data}}}}
"#
    )
}

/// `datasets code update` of `dataset` to the project at `link`, then `tasks redrive`, which
/// must complete it: the dataset, and the `id`s of its documents, sorted.
fn update_and_redrive(home: &TestHome, dataset: &str, link: &str) -> (Value, Vec<u64>) {
    let update = home.run(&[
        "datasets",
        "code",
        "update",
        "--datasetName",
        dataset,
        "--artifactFileS3Link",
        link,
    ]);
    assert_eq!(update.code, 0, "{}", update.stderr);
    let redrive = home.run(&["tasks", "redrive", "--datasetName", dataset]);
    assert_eq!(redrive.code, 0, "{}", redrive.stderr);
    let ds = home.view(dataset);
    assert_eq!(ds["datasetStatus"], "COMPLETED", "{ds:#}");
    let mut ids: Vec<u64> = json_lines(home, dataset, "writeBucket")
        .iter()
        .map(|d| d["id"].as_u64().expect("id"))
        .collect();
    ids.sort();
    (ds, ids)
}

fn rows(from: u64, to: u64) -> String {
    (from..to).map(|i| format!("{i},{}\n", i * 10)).collect()
}

#[test]
fn a_raising_javascript_parser_errors_its_task_and_a_code_update_and_redrive_complete_it() {
    let home = TestHome::new();
    home.put(
        "code",
        "rows.tar.gz",
        &project(
            &[("index.js", JS_PARSER), ("package.json", PACKAGE_JSON)],
            "gztar",
        ),
    );
    let mut bad = rows(0, 3000);
    bad.push_str("3000,raise\n");
    bad.push_str(&rows(3001, 3010));
    bad.push_str("3010\n");
    home.put("input", "bad.csv", bad.as_bytes());
    home.put("input", "ok.csv", rows(5000, 5100).as_bytes());
    let cfg = handler_config(
        "JsRows",
        "Javascript",
        "s3://code/rows.tar.gz",
        &["bad.csv", "ok.csv"],
        300,
    );
    let run = home.create(&cfg);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let tasks = home.tasks("JsRows");
    let task = |line: &str| {
        tasks
            .iter()
            .find(|t| t["taskDefinition"]["manifestLine"] == line)
            .expect("task")
            .clone()
    };
    assert_eq!(task("ok.csv")["taskStatus"], "COMPLETED");
    let failed = task("bad.csv");
    assert_eq!(failed["taskStatus"], "ERRORED");
    let e = failed["lastError"].as_str().expect("lastError");
    assert!(
        e.contains("SingleFileParser.parseDocument raised RangeError: value out of range at"),
        "{e}"
    );
    assert!(e.contains("at Object.parseDocument"), "the stack: {e}");
    // What came before the raising record is written (and checkpointed).
    assert_eq!(
        failed["taskProgress"]["documentsWritten"], 3000,
        "{failed:#}"
    );

    // The fixed code (the record now an error record), then a redrive: every row once.
    let fixed = JS_PARSER.replace(
        r#"if (value === "raise") { throw new RangeError("value out of range at " + offsetBytes); }"#,
        r#"if (value === "raise") { return { status: "SKIP", document: null, nextRecordType: null }; }"#,
    );
    assert_ne!(fixed, JS_PARSER);
    home.put(
        "code",
        "rows-fixed.zip",
        &project(
            &[("index.js", &fixed), ("package.json", PACKAGE_JSON)],
            "zip",
        ),
    );
    let (ds, ids) = update_and_redrive(&home, "JsRows", "s3://code/rows-fixed.zip");
    let mut expected: Vec<u64> = (0..3000).chain(3001..3010).chain(5000..5100).collect();
    expected.sort();
    assert_eq!(ids, expected);
    let errors = json_lines(&home, "JsRows", "errorBucket");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0]["errorMessage"], "no value");
    assert_eq!(ds["datasetProgress"]["skipRecords"], 1);
}

#[test]
fn a_hung_handler_is_stopped_at_the_time_limit_and_an_exiting_one_is_reported_with_its_stderr_and_completed_after_a_code_update()
 {
    let home = TestHome::new();
    home.put(
        "code",
        "rows.zip",
        &project(
            &[("index.js", JS_PARSER), ("package.json", PACKAGE_JSON)],
            "zip",
        ),
    );
    home.put(
        "input",
        "hang.csv",
        format!("{}7,hang\n", rows(0, 5)).as_bytes(),
    );
    let cfg = handler_config(
        "JsHang",
        "javascript",
        "s3://code/rows.zip",
        &["hang.csv"],
        5,
    );
    let started = std::time::Instant::now();
    let run = home.create(&cfg);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    let task = &home.tasks("JsHang")[0];
    assert_eq!(task["taskStatus"], "ERRORED");
    let e = task["lastError"].as_str().expect("lastError");
    assert!(
        e.contains("did not answer before the invocation's time limit"),
        "{e}"
    );

    // A parser whose interpreter exits on one record; a code update and a redrive complete it.
    let exiting = python_rows_parser(
        "os, sys",
        r#"
        row_id, value = d["content"].strip().split(",")
        if value == "exit":
            print("giving up on purpose", file=sys.stderr)
            sys.stderr.flush()
            os._exit(7)
        data = document(row_id, None, {"id": int(row_id)})"#,
    );
    home.put(
        "code",
        "exits.zip",
        &project(&[("letsdata_lambda_function.py", &exiting)], "zip"),
    );
    home.put(
        "input",
        "any.csv",
        format!("{}50,exit\n{}", rows(0, 50), rows(51, 60)).as_bytes(),
    );
    let cfg = handler_config("PyExit", "Python", "s3://code/exits.zip", &["any.csv"], 60);
    let run = home.create(&cfg);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let task = &home.tasks("PyExit")[0];
    let e = task["lastError"].as_str().expect("lastError");
    assert!(
        e.contains("the handler's interpreter exited (exit status: 7)")
            && e.contains("giving up on purpose"),
        "{e}"
    );
    let fixed = exiting.replace("os._exit(7)", "return {\"StatusCode\": 200, \"body\": {\"statusCode\": \"SUCCESS\", \"data\": {\"status\": \"SKIP\", \"document\": None, \"nextRecordType\": None}}}");
    assert_ne!(fixed, exiting);
    home.put(
        "code",
        "fixed.zip",
        &project(&[("letsdata_lambda_function.py", &fixed)], "zip"),
    );
    let (ds, ids) = update_and_redrive(&home, "PyExit", "s3://code/fixed.zip");
    let expected: Vec<u64> = (0..50).chain(51..60).collect();
    assert_eq!(ids, expected, "every row once");
    assert_eq!(ds["datasetProgress"]["skipRecords"], 1);
}

#[test]
fn a_project_that_does_not_load_fails_the_code_build_with_the_reason() {
    let home = TestHome::new();
    home.put(
        "code",
        "broken.zip",
        &project(
            &[(
                "letsdata_lambda_function.py",
                "import pyspark_is_not_installed\n\ndef lambda_handler(event, context):\n    return None\n",
            )],
            "zip",
        ),
    );
    home.put("input", "any.csv", b"1,2\n");
    let cfg = handler_config(
        "PyBroken",
        "Python",
        "s3://code/broken.zip",
        &["any.csv"],
        60,
    );
    let run = home.create(&cfg);
    assert_ne!(run.code, 0, "{}", run.stdout);
    let ds = home.view("PyBroken");
    let step = &ds["initializationWorkflow"]["Create Dataset Code Builds"];
    assert_eq!(step["status"], "ERROR", "{ds:#}");
    let message = step["message"].as_str().expect("message");
    assert!(
        message.contains("could not be loaded: ModuleNotFoundError")
            && message.contains("pyspark_is_not_installed"),
        "{message}"
    );
}

/// A Python parser's dataset killed (SIGKILL) after some parts were published, then
/// `letsdata run`: every record's document exactly once. The handler's process dies with the
/// worker; the next attempt starts a new one and resumes at the checkpoint.
#[cfg(feature = "failpoints")]
#[test]
fn a_python_parsers_dataset_killed_mid_run_resumes_with_every_record_once() {
    let mut home = TestHome::new();
    home.env("LETSDATA_PART_SIZE_BYTES", "20000");
    let parser = python_rows_parser(
        "json",
        r#"
        row = json.loads(d["content"])
        data = document(str(row["id"]), d["fileName"], {"id": row["id"], "twice": row["id"] * 2})"#,
    );
    home.put(
        "code",
        "rows.zip",
        &project(&[("letsdata_lambda_function.py", &parser)], "zip"),
    );
    const ROWS: u64 = 20_000;
    let file = |from: u64| -> String {
        (from..from + ROWS)
            .map(|i| format!("{{\"id\":{i}}}\n"))
            .collect()
    };
    home.put("input", "a.jsonl", file(0).as_bytes());
    home.put("input", "b.jsonl", file(ROWS).as_bytes());
    let cfg = handler_config(
        "PyKill",
        "Python",
        "s3://code/rows.zip",
        &["a.jsonl", "b.jsonl"],
        300,
    );
    home.create_killed(&cfg, "part-published-documents=4*off->return(kill)");
    assert_eq!(home.view("PyKill")["datasetStatus"], "PROCESSING");
    let resumed: Vec<Value> = home
        .tasks("PyKill")
        .iter()
        .map(|t| t["checkpoint"]["offsets"].clone())
        .collect();
    assert!(
        resumed.iter().any(|o| o["ROWS"].is_string()),
        "killed after a checkpoint: {resumed:?}"
    );
    let run = home.run(&["run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()[0]["datasetStatus"], "COMPLETED");
    let mut ids: Vec<u64> = json_lines(&home, "PyKill", "writeBucket")
        .iter()
        .map(|d| {
            assert_eq!(d["twice"], d["id"].as_u64().expect("id") * 2);
            d["id"].as_u64().expect("id")
        })
        .collect();
    ids.sort();
    let expected: Vec<u64> = (0..2 * ROWS).collect();
    assert_eq!(ids.len(), expected.len(), "every record exactly once");
    assert_eq!(ids, expected);
}
