#!/usr/bin/env bash
# Many small tasks and a huge manifest, on the embedded default (SQLite + local buckets), with
# the release build:
#   bench/small_tasks.sh                                   # 10,000 files; 1,000,000-line manifest
#   bench/small_tasks.sh --files 100000 --manifest-lines 2000000
#   bench/small_tasks.sh --files 0                         # only the manifest part
#   bench/small_tasks.sh --manifest-lines 0                # only the small files
# 1. --files one-line JSON files, one task each (named by a manifest file in a local bucket),
#    concurrency 2: wall time, time per task and the run's peak RSS (`--files 1000000` shows
#    memory flat over a million tasks processed);
#    the same files read, parsed and written one output file each by a plain Python
#    multiprocessing script (2 processes), and counted by DuckDB when `import duckdb` works in
#    python3 (or in $DUCKDB_PYTHON).
# 2. A --manifest-lines manifest (an S3-link manifest file in a local bucket): Create Tasks time
#    (from the initialization workflow) and the peak RSS of the run that created them (stopped
#    once the tasks exist), then the peak RSS and time of `tasks list` (whole and one
#    `--limit 1000` page) and of `metrics view` over that many tasks.
set -euo pipefail
cd "$(dirname "$0")/.."
FILES=10000
LINES=1000000
while [ $# -gt 0 ]; do
  case "$1" in
    --files) FILES=$2; shift 2 ;;
    --manifest-lines) LINES=$2; shift 2 ;;
    *) echo "unknown argument $1; use --files N --manifest-lines N" >&2; exit 2 ;;
  esac
done
cargo build --release -p letsdata
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
LD="$TARGET/release/letsdata"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export LETSDATA_HOME="$WORK/home"
PY="${DUCKDB_PYTHON:-python3}"

# Inputs and configs.
python3 - "$WORK" "$FILES" "$LINES" <<'EOF'
import json, os, sys
work, files, lines = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
home = os.path.join(work, "home", "buckets")
small = os.path.join(home, "small-in")
os.makedirs(small, exist_ok=True)
for i in range(files):
    with open(os.path.join(small, f"f{i:07d}.jsonl"), "w") as f:
        f.write(json.dumps({"id": i, "name": f"item {i}", "tags": ["a", "b"]}) + "\n")
man = os.path.join(home, "manifests")
os.makedirs(man, exist_ok=True)
with open(os.path.join(man, "small.txt"), "w") as f:
    for i in range(files):
        f.write(f"f{i:07d}.jsonl\n")
with open(os.path.join(man, "big.txt"), "w") as f:
    for i in range(lines):
        f.write(f"data/2026/12/part-{i:09d}.jsonl\n")
def config(name, manifest):
    return {
        "datasetName": name, "region": "us-east-1",
        "readConnector": {"connectorDestination": "S3", "readerType": "Single File Reader",
                          "bucketName": "small-in", "bucketResourceLocation": "Customer",
                          "artifactImplementationLanguage": "Builtin", "builtinParser": "jsonl"},
        "writeConnector": {"connectorDestination": "S3", "resourceLocation": "LetsData"},
        "errorConnector": {"connectorDestination": "S3", "resourceLocation": "LetsData"},
        "computeEngine": {"computeEngineType": "Lambda", "concurrency": 2},
        "manifestFile": manifest,
    }
json.dump(config("Small", {"manifestType": "S3ReaderS3LinkManifestFile", "readerType": "SINGLEFILEREADER",
                           "manifestFileS3Uri": "s3://manifests/small.txt"}),
          open(os.path.join(work, "small.json"), "w"))
json.dump(config("Big", {"manifestType": "S3ReaderS3LinkManifestFile", "readerType": "SINGLEFILEREADER",
                         "manifestFileS3Uri": "s3://manifests/big.txt"}),
          open(os.path.join(work, "big.json"), "w"))
EOF

timed() { # label command... : prints wall seconds and peak RSS
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" || {
    echo "$1 failed:" >&2; cat "$WORK/err" >&2; return 1; }
  read -r WALL RSS_KB < <(tail -1 "$WORK/time")
  RSS_MB=$(python3 -c "print(round($RSS_KB / 1024, 1))")
}

if [ "$FILES" -gt 0 ]; then
  timed "$LD" datasets create --configFile "$WORK/small.json"
  PER_TASK=$(python3 -c "print(round($WALL * 1000 / $FILES, 3))")
  echo "letsdata: $FILES one-line files, concurrency 2: ${WALL} s (${PER_TASK} ms per task), peak RSS ${RSS_MB} MB"

  cat >"$WORK/plain.py" <<'EOF'
import json, os, sys
from multiprocessing import Pool
src, dst = sys.argv[1], sys.argv[2]
def one(name):
    with open(os.path.join(src, name)) as f, open(os.path.join(dst, name), "w") as out:
        for line in f:
            out.write(json.dumps(json.loads(line)) + "\n")
if __name__ == "__main__":
    os.makedirs(dst, exist_ok=True)
    with Pool(2) as pool:
        pool.map(one, sorted(os.listdir(src)), chunksize=64)
EOF
  timed python3 "$WORK/plain.py" "$LETSDATA_HOME/buckets/small-in" "$WORK/plain-out"
  echo "python multiprocessing (2 processes, read + parse + write each file): ${WALL} s"
  if "$PY" -c "import duckdb" >/dev/null 2>&1; then
    timed "$PY" -c "import duckdb; con = duckdb.connect(); con.execute('SET threads=2'); print(con.execute(\"SELECT count(*) FROM read_json_auto('$LETSDATA_HOME/buckets/small-in/*.jsonl')\").fetchone()[0])"
    echo "duckdb (2 threads, count over the files): ${WALL} s"
  else
    echo "duckdb: not installed (pip install duckdb, or DUCKDB_PYTHON=/path/to/python)"
  fi
fi

[ "$LINES" -gt 0 ] || exit 0
# The manifest: created, then the run is stopped once the tasks exist.
"$LD" datasets create --configFile "$WORK/big.json" --detach >/dev/null
/usr/bin/time -f "%e %M" -o "$WORK/run-time" "$LD" run >/dev/null 2>"$WORK/run-err" &
RUN=$!
until "$LD" tasks list --datasetName Big --limit 1 2>/dev/null | grep -q '"taskId"' \
  && [ "$(python3 -c "import json,sys; print(json.load(sys.stdin)['datasetStatus'])" \
        < <("$LD" datasets view --datasetName Big))" = PROCESSING ]; do
  kill -0 "$RUN" 2>/dev/null || { echo "letsdata run ended early:" >&2; cat "$WORK/run-err" >&2; exit 1; }
  sleep 0.5
done
"$LD" tasks stop --datasetName Big >/dev/null 2>&1 || true
wait "$RUN" || true
# The last line: GNU time first says when the command exited non-zero (the stopped run: 3).
read -r _ RUN_RSS_KB < <(tail -1 "$WORK/run-time")
"$LD" datasets view --datasetName Big | python3 -c "
import json, sys
d = json.load(sys.stdin)
steps = d['initializationWorkflow']
ms = sum(s['endDatetime'] - s['startDatetime'] for n, s in steps.items() if n.startswith('Create Tasks') and s)
print(f'Create Tasks for $LINES manifest lines: {ms / 1000:.1f} s, peak RSS of the run {round($RUN_RSS_KB / 1024, 1)} MB')
"
timed "$LD" tasks list --datasetName Big
echo "tasks list ($LINES tasks, $(wc -c <"$WORK/out") bytes of JSON): ${WALL} s, peak RSS ${RSS_MB} MB"
timed "$LD" tasks list --datasetName Big --limit 1000
echo "tasks list --limit 1000 (first page): ${WALL} s, peak RSS ${RSS_MB} MB"
timed "$LD" metrics view --datasetName Big
echo "metrics view: ${WALL} s, peak RSS ${RSS_MB} MB"
du -sh "$LETSDATA_HOME/datasets" | awk '{print "task state on disk: " $1}'
