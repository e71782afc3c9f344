#!/usr/bin/env bash
# The shared store (PostgreSQL), with the release build:
#   bench/shared_store.sh [--files N] [--tasks N]
# 1. Task claims + finishes per second through the store's own claim and finish code, 16
#    concurrent claimers (bench/src/bin/store_claims.rs), on PostgreSQL and, for comparison,
#    SQLite.
# 2. --files one-line JSON files (default 10,000; one task each, concurrency 2) through two
#    `letsdata worker` processes on PostgreSQL: wall time from `datasets create --detach` until
#    the dataset is COMPLETED, and per task.
# PostgreSQL: LETSDATA_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres);
# everything goes into schemas of its own, dropped at the end. Not a test: nothing asserts a
# speed.
set -euo pipefail
cd "$(dirname "$0")/.."
FILES=10000
TASKS=20000
while [ $# -gt 0 ]; do
  case "$1" in
    --files) FILES=$2; shift 2 ;;
    --tasks) TASKS=$2; shift 2 ;;
    *) echo "unknown argument $1; use --files N --tasks N" >&2; exit 2 ;;
  esac
done
URL="${LETSDATA_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
cargo build --release -p letsdata -p letsdata-bench
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
LD="$TARGET/release/letsdata"

echo "== claims + finishes, 16 claimers"
"$TARGET/release/store_claims" --tasks "$TASKS" --claimers 16 --database-url "$URL"

echo "== $FILES one-line files through 2 workers on PostgreSQL"
WORK="$(mktemp -d)"
SCHEMA="letsdata_bench_files_$$"
PIDS=""
cleanup() {
  [ -n "$PIDS" ] && kill $PIDS 2>/dev/null || true
  psql "$URL" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
psql "$URL" -qc "CREATE SCHEMA $SCHEMA"
case "$URL" in *\?*) SEP='&' ;; *) SEP='?' ;; esac
export LETSDATA_DATABASE_URL="$URL${SEP}options=-c%20search_path%3D$SCHEMA"
export LETSDATA_HOME="$WORK/home"
python3 - "$WORK" "$FILES" <<'PY'
import json, os, sys
work, files = sys.argv[1], int(sys.argv[2])
small = os.path.join(work, "home", "buckets", "small-in")
os.makedirs(small, exist_ok=True)
names = []
for i in range(files):
    name = f"f{i:07d}.jsonl"
    with open(os.path.join(small, name), "w") as f:
        f.write(json.dumps({"id": i, "name": f"item {i}", "tags": ["a", "b"]}) + "\n")
    names.append(name)
config = {
    "datasetName": "SharedSmall", "region": "us-east-1",
    "readConnector": {"connectorDestination": "S3", "readerType": "Single File Reader",
                      "bucketName": "small-in", "bucketResourceLocation": "Customer",
                      "artifactImplementationLanguage": "Builtin", "builtinParser": "jsonl"},
    "writeConnector": {"connectorDestination": "S3", "resourceLocation": "LetsData"},
    "errorConnector": {"connectorDestination": "S3", "resourceLocation": "LetsData"},
    "computeEngine": {"computeEngineType": "Lambda", "concurrency": 2},
    "manifestFile": {"manifestType": "S3ReaderTextManifestFile", "readerType": "SINGLEFILEREADER",
                     "fileContents": "\n".join(names)},
}
with open(os.path.join(work, "small.json"), "w") as f:
    json.dump(config, f)
PY
# The workers are up (and polling) before the dataset is created.
"$LD" worker >"$WORK/w1.out" 2>"$WORK/w1.err" &
PIDS="$!"
"$LD" worker >"$WORK/w2.out" 2>"$WORK/w2.err" &
PIDS="$PIDS $!"
sleep 2
START=$(date +%s.%N)
"$LD" datasets create --configFile "$WORK/small.json" --detach >/dev/null
until "$LD" datasets view --datasetName SharedSmall | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["datasetStatus"] in ("COMPLETED","ERRORED") else 1)'; do
  sleep 0.2
done
END=$(date +%s.%N)
kill -TERM $PIDS
wait $PIDS || true
PIDS=""
"$LD" datasets view --datasetName SharedSmall >"$WORK/view.json"
python3 - "$WORK/view.json" "$START" "$END" "$FILES" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["datasetProgress"]
took = float(sys.argv[3]) - float(sys.argv[2])
files = int(sys.argv[4])
print(f"status {d['datasetStatus']}: {p['completedTasks']} tasks, {p['documentsWritten']} documents")
print(f"{took:.2f} s from datasets create --detach to COMPLETED, {1000 * took / files:.2f} ms per task")
PY
for w in 1 2; do
  echo "worker $w ran: $(grep -c . "$WORK/w$w.out" || true) dataset run(s) to their end"
done
