#!/usr/bin/env bash
# Records per second through user code: the same JSON lines (2 files, concurrency 2, embedded
# default) through the jsonl built-in parser, a pass-through Wasm SingleFileParser
# (examples/testing/passthrough), and trivial Python and JavaScript SingleFileParsers written
# as LetsData Lambda handlers (each record parsed as JSON and returned as the document).
#   bench/handlers.sh                       # 2 x 200,000 records, 3 alternating runs of each
#   bench/handlers.sh --records 100000 --runs 5
#   bench/handlers.sh --bin target/debug/letsdata   # a quick check with another build
# Reports each implementation's median wall time of `datasets create` (initialization, the
# handler's load and the tasks) and records per second.
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=200000
RUNS=3
BIN=""
while [ $# -gt 0 ]; do
  case "$1" in
    --records) RECORDS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --bin) BIN=$2; shift 2 ;;
    *) echo "unknown argument $1; use --records N --runs N --bin PATH" >&2; exit 2 ;;
  esac
done
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
if [ -z "$BIN" ]; then
  cargo build --release -p letsdata
  BIN="$TARGET/release/letsdata"
fi
rustup target add wasm32-wasip2 >/dev/null 2>&1 || true
CARGO_TARGET_DIR="$TARGET/guests" cargo build --release --target wasm32-wasip2 \
  --manifest-path examples/Cargo.toml -p letsdata-test-passthrough
WASM="$TARGET/guests/wasm32-wasip2/release/letsdata_test_passthrough.wasm"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

python3 - "$WORK" "$RECORDS" "$WASM" "$BIN" "$RUNS" <<'PY'
import json, os, shutil, statistics, subprocess, sys, time, zipfile

work, records, wasm, binary, runs = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
inputs = os.path.join(work, "inputs")
os.makedirs(inputs)
for f in range(2):
    with open(os.path.join(inputs, f"part-{f}.jsonl"), "w") as out:
        for i in range(records):
            n = f * records + i
            out.write(json.dumps({"id": n, "name": f"item {n}", "value": n * 3, "tags": ["a", "b"]}) + "\n")
size = sum(os.path.getsize(os.path.join(inputs, p)) for p in os.listdir(inputs))

PYTHON = '''import json

def lambda_handler(event, context):
    d = event.get("data") or {}
    f = event["function"]
    if f == "getS3FileType":
        data = "ROWS"
    elif f == "getResolvedS3FileName":
        data = d["fileName"]
    elif f == "getRecordStartPattern":
        data = {"recordHintType": "PATTERN", "pattern": "", "offset": -1}
    elif f == "getRecordEndPattern":
        data = {"recordHintType": "PATTERN", "pattern": "\\n", "offset": -1}
    else:
        row = json.loads(d["content"])
        data = {"nextRecordType": None, "status": "SUCCESS",
                "document": {"documentType": "Document", "documentId": str(row["id"]),
                             "recordType": "ROW", "partitionKey": None, "documentMetadata": None,
                             "documentKeyValuesMap": row}}
    return {"StatusCode": 200, "body": {"statusCode": "SUCCESS", "data": data}}
'''
JAVASCRIPT = '''export const handler = async (event) => {
  const d = event.data || {};
  let data;
  switch (event.function) {
    case "getS3FileType": data = "ROWS"; break;
    case "getResolvedS3FileName": data = d.fileName; break;
    case "getRecordStartPattern": data = { recordHintType: "PATTERN", pattern: "", offset: -1 }; break;
    case "getRecordEndPattern": data = { recordHintType: "PATTERN", pattern: "\\n", offset: -1 }; break;
    default: {
      const row = JSON.parse(d.content);
      data = { nextRecordType: null, status: "SUCCESS", document: { documentType: "Document",
        documentId: String(row.id), recordType: "ROW", partitionKey: null, documentMetadata: null,
        documentKeyValuesMap: row } };
    }
  }
  return { StatusCode: 200, body: { statusCode: "SUCCESS", data } };
};
'''
code = os.path.join(work, "code")
os.makedirs(code)
with zipfile.ZipFile(os.path.join(code, "python.zip"), "w") as z:
    z.writestr("letsdata_lambda_function.py", PYTHON)
with zipfile.ZipFile(os.path.join(code, "javascript.zip"), "w") as z:
    z.writestr("index.js", JAVASCRIPT)
    z.writestr("package.json", '{"type": "module"}')
shutil.copy(wasm, os.path.join(code, "passthrough.wasm"))

IMPLEMENTATIONS = {
    "built-in jsonl": {"artifactImplementationLanguage": "Builtin", "builtinParser": "jsonl", "documentIdField": "id"},
    "Wasm pass-through": {"artifactImplementationLanguage": "Wasm", "artifactFileS3Link": "s3://bench-code/passthrough.wasm"},
    "Python": {"artifactImplementationLanguage": "Python", "artifactFileS3Link": "s3://bench-code/python.zip"},
    "JavaScript": {"artifactImplementationLanguage": "Javascript", "artifactFileS3Link": "s3://bench-code/javascript.zip"},
}

def run(label, impl, n):
    home = os.path.join(work, "home")
    shutil.rmtree(home, ignore_errors=True)
    buckets = os.path.join(home, "buckets")
    shutil.copytree(inputs, os.path.join(buckets, "bench-in"))
    shutil.copytree(code, os.path.join(buckets, "bench-code"))
    read = {"connectorDestination": "S3", "readerType": "Single File Reader", "bucketName": "bench-in"}
    read.update(impl)
    name = f"Bench{n}"
    cfg = {"datasetName": name, "region": "us-east-1", "readConnector": read,
           "writeConnector": {"connectorDestination": "S3", "resourceLocation": "LetsData"},
           "errorConnector": {"connectorDestination": "S3", "resourceLocation": "LetsData"},
           "computeEngine": {"computeEngineType": "Lambda", "concurrency": 2, "timeoutInSeconds": 900,
                             "memoryLimitInMegabytes": 1024, "logLevel": "WARN"},
           "manifestFile": {"manifestType": "S3ReaderTextManifestFile", "readerType": "Single File Reader",
                            "fileContents": "part-0.jsonl\npart-1.jsonl"}}
    path = os.path.join(work, "dataset.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    env = dict(os.environ, LETSDATA_HOME=home)
    subprocess.run(["sync"])
    start = time.monotonic()
    out = subprocess.run([binary, "datasets", "create", "--configFile", path], env=env,
                         capture_output=True, text=True)
    took = time.monotonic() - start
    if out.returncode != 0:
        sys.exit(f"{label}: datasets create exited {out.returncode}: {out.stderr[-2000:]}")
    ds = json.loads(out.stdout)
    written = ds["datasetProgress"]["documentsWritten"]
    if written != 2 * records:
        sys.exit(f"{label}: {written} documents, expected {2 * records}")
    return took

times = {label: [] for label in IMPLEMENTATIONS}
n = 0
for r in range(runs):
    for label, impl in IMPLEMENTATIONS.items():
        times[label].append(run(label, impl, n))
        n += 1
print(f"{2 * records} records ({size / 1e6:.1f} MB) in 2 files, concurrency 2, {runs} runs of each, alternating")
print("| Implementation | Wall time, median (range) | Records/s | MB/s |")
print("|---|---|---|---|")
for label, ts in times.items():
    m = statistics.median(ts)
    print(f"| {label} | {m:.2f} s ({min(ts):.2f}-{max(ts):.2f}) | {2 * records / m:,.0f} | {size / 1e6 / m:.0f} |")
PY
