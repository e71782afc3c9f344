#!/usr/bin/env bash
# Runs the quickstart dataset end to end on the embedded default (SQLite + local directories):
# no AWS, no server. State goes to a fresh $LETSDATA_HOME under target/ unless you set one.
set -euo pipefail
cd "$(dirname "$0")/../.."
export LETSDATA_HOME="${LETSDATA_HOME:-$PWD/target/quickstart-home}"
rm -rf "$LETSDATA_HOME"
# The read bucket `quickstart-input` is a directory under $LETSDATA_HOME/buckets.
mkdir -p "$LETSDATA_HOME/buckets/quickstart-input"
cp -r examples/quickstart/input/. "$LETSDATA_HOME/buckets/quickstart-input/"

cargo build --release -p letsdata
TARGET="${CARGO_TARGET_DIR:-target}"
LETSDATA="$TARGET/release/letsdata"

echo "== letsdata datasets create --configFile examples/quickstart/dataset.json"
"$LETSDATA" datasets create --configFile examples/quickstart/dataset.json --prettyPrint
echo
echo "== letsdata tasks list --datasetName QuickstartEvents (status and progress per task)"
"$LETSDATA" tasks list --datasetName QuickstartEvents \
  | python3 -c 'import json,sys; [print(t["taskId"], t["taskStatus"], t["taskDefinition"]["manifestLine"], t["taskProgress"]) for t in json.load(sys.stdin)]'
echo
echo "== output documents and error records"
find "$LETSDATA_HOME/buckets" -path '*ld-quickstartevents*' -type f | sort
echo
echo "== the two malformed records, from the error bucket"
cat "$LETSDATA_HOME"/buckets/ld-quickstartevents-*-errors/QuickstartEvents/*/part-*.jsonl
