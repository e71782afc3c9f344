#!/usr/bin/env bash
# Runs one of the Wasm examples end to end on the embedded default (no AWS, no server):
#   examples/run-wasm-example.sh json-transform | state-machine | web-archive
# Builds the example's component for wasm32-wasip2, puts it and the sample input into local
# buckets under a fresh $LETSDATA_HOME, and creates the dataset from the example's dataset.json.
set -euo pipefail
EXAMPLE="${1:?usage: examples/run-wasm-example.sh <json-transform|state-machine|web-archive>}"
cd "$(dirname "$0")/.."
export LETSDATA_HOME="${LETSDATA_HOME:-$PWD/target/example-$EXAMPLE-home}"
rm -rf "$LETSDATA_HOME"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"

rustup target add wasm32-wasip2 >/dev/null 2>&1 || true
CARGO_TARGET_DIR="$TARGET/guests" cargo build --release --target wasm32-wasip2 \
  --manifest-path examples/Cargo.toml -p "$EXAMPLE"
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
cp "$TARGET/guests/wasm32-wasip2/release/$CODE_KEY" "$LETSDATA_HOME/buckets/$CODE_BUCKET/$CODE_KEY"

echo "== letsdata datasets create --configFile $CONFIG"
"$LETSDATA" datasets create --configFile "$CONFIG" --prettyPrint || true
NAME=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["datasetName"])' "$CONFIG")
echo "== documents"
find "$LETSDATA_HOME/buckets" -path "*$(echo "$NAME" | tr 'A-Z' 'a-z')*" -path '*-output*' -type f -exec cat {} +
echo "== error records"
find "$LETSDATA_HOME/buckets" -path "*$(echo "$NAME" | tr 'A-Z' 'a-z')*" -path '*-errors*' -type f -exec cat {} +
