#!/usr/bin/env bash
# Runs a Python or JavaScript example end to end on the embedded default (no AWS, no server):
#   examples/run-handler-example.sh python-log-parser
# Packs the example's project directory as its dataset.json's artifactFileS3Link names it,
# puts it and the sample input into local buckets under a fresh $LETSDATA_HOME, and creates the
# dataset from the example's dataset.json.
set -euo pipefail
EXAMPLE="${1:?usage: examples/run-handler-example.sh <python-log-parser>}"
cd "$(dirname "$0")/.."
export LETSDATA_HOME="${LETSDATA_HOME:-$PWD/target/example-$EXAMPLE-home}"
rm -rf "$LETSDATA_HOME"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -p letsdata
LETSDATA="$TARGET/release/letsdata"

CONFIG="examples/$EXAMPLE/dataset.json"
read -r INPUT_BUCKET CODE_BUCKET CODE_KEY < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["readConnector"]
bucket, key = r["artifactFileS3Link"][len("s3://"):].split("/", 1)
print(r["bucketName"], bucket, key)' "$CONFIG")
mkdir -p "$LETSDATA_HOME/buckets/$INPUT_BUCKET" "$LETSDATA_HOME/buckets/$CODE_BUCKET"
cp -r "examples/$EXAMPLE/input/." "$LETSDATA_HOME/buckets/$INPUT_BUCKET/"
# The project directory, packed as LetsData's dockerfile would copy it.
python3 - "examples/$EXAMPLE/project" "$LETSDATA_HOME/buckets/$CODE_BUCKET/$CODE_KEY" <<'PY'
import os, sys, tarfile, zipfile
src, dst = sys.argv[1], sys.argv[2]
if dst.endswith(".zip"):
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for root, _, files in os.walk(src):
            for f in files:
                path = os.path.join(root, f)
                z.write(path, os.path.relpath(path, src))
else:
    with tarfile.open(dst, "w:gz") as t:
        t.add(src, arcname=".")
PY

echo "== letsdata datasets create --configFile $CONFIG"
"$LETSDATA" datasets create --configFile "$CONFIG" --prettyPrint || true
NAME=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["datasetName"])' "$CONFIG")
echo "== documents"
find "$LETSDATA_HOME/buckets" -path "*$(echo "$NAME" | tr 'A-Z' 'a-z')*" -path '*-output*' -type f -exec cat {} + | head -5
echo "== error records"
find "$LETSDATA_HOME/buckets" -path "*$(echo "$NAME" | tr 'A-Z' 'a-z')*" -path '*-errors*' -type f -exec cat {} + | head -5
