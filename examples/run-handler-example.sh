#!/usr/bin/env bash
# Runs a Python or JavaScript example end to end, on one machine, with no AWS account:
#   examples/run-handler-example.sh python-log-parser        # S3 files: local buckets
#   examples/run-handler-example.sh javascript-order-reader  # an SQS queue: the AWS emulator
# Packs the example's project directory as its dataset.json's artifactFileS3Link names it and
# creates the dataset from dataset.json under a fresh $LETSDATA_HOME.
#  - An S3 reader's example: the project and the sample input go into local buckets
#    (directories under $LETSDATA_HOME/buckets); no service runs.
#  - A queue reader's example: the AWS emulator (moto_server, installed into
#    ~/.cache/letsdata-dev like the test suite's, or yours when LETSDATA_AWS_ENDPOINT is set)
#    holds the code bucket and the queue, which gets the messages of input/messages.jsonl
#    (one {"body", "attributes"} per line).
# Then shows the dataset, a few documents and the error records.
set -euo pipefail
EXAMPLE="${1:?usage: examples/run-handler-example.sh <python-log-parser | javascript-order-reader>}"
cd "$(dirname "$0")/.."
[ -f "examples/$EXAMPLE/dataset.json" ] || { echo "no example examples/$EXAMPLE (it needs a dataset.json)" >&2; exit 2; }
export LETSDATA_HOME="${LETSDATA_HOME:-$PWD/target/example-$EXAMPLE-home}"
rm -rf "$LETSDATA_HOME"
mkdir -p "$LETSDATA_HOME"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -p letsdata
LETSDATA="$TARGET/release/letsdata"
CONFIG="examples/$EXAMPLE/dataset.json"
SOURCE=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["readConnector"]["connectorDestination"].upper())' "$CONFIG")
PACKED="$LETSDATA_HOME/project-archive"

# The project directory, packed as LetsData's dockerfile would copy it.
pack() { # destination-key
  python3 - "examples/$EXAMPLE/project" "$PACKED" "$1" <<'PY'
import os, sys, tarfile, zipfile
src, dst, key = sys.argv[1], sys.argv[2], sys.argv[3]
if key.endswith(".zip"):
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for root, _, files in os.walk(src):
            for f in files:
                path = os.path.join(root, f)
                z.write(path, os.path.relpath(path, src))
else:
    with tarfile.open(dst, "w:gz") as t:
        t.add(src, arcname=".")
PY
}
read -r CODE_BUCKET CODE_KEY < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["readConnector"]
print(*r["artifactFileS3Link"][len("s3://"):].split("/", 1))' "$CONFIG")
pack "$CODE_KEY"

if [ "$SOURCE" = "S3" ]; then
  INPUT_BUCKET=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["readConnector"]["bucketName"])' "$CONFIG")
  mkdir -p "$LETSDATA_HOME/buckets/$INPUT_BUCKET" "$LETSDATA_HOME/buckets/$CODE_BUCKET"
  cp -r "examples/$EXAMPLE/input/." "$LETSDATA_HOME/buckets/$INPUT_BUCKET/"
  cp "$PACKED" "$LETSDATA_HOME/buckets/$CODE_BUCKET/$CODE_KEY"
  PY=python3
else
  MOTO_VENV="$HOME/.cache/letsdata-dev/moto-5.2.5"
  if ! "$MOTO_VENV/bin/python" -c "import moto, flask, boto3" >/dev/null 2>&1; then
    echo "== installing the AWS emulator (moto[server]==5.2.5) into $MOTO_VENV"
    python3 -m venv "$MOTO_VENV"
    "$MOTO_VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==5.2.5"
  fi
  PY="$MOTO_VENV/bin/python"
  if [ -z "${LETSDATA_AWS_ENDPOINT:-}" ]; then
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$MOTO_VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" > "$LETSDATA_HOME/moto.log" 2>&1 &
    MOTO_PID=$!
    trap 'kill $MOTO_PID 2>/dev/null || true' EXIT
    export LETSDATA_AWS_ENDPOINT="http://127.0.0.1:$PORT"
    for _ in $(seq 1 100); do
      python3 -c "import urllib.request; urllib.request.urlopen('$LETSDATA_AWS_ENDPOINT/moto-api/')" >/dev/null 2>&1 && break
      sleep 0.2
    done
    echo "== the AWS emulator answers on $LETSDATA_AWS_ENDPOINT"
  fi
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"
  export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}"
  "$PY" - "$CONFIG" "$PACKED" "examples/$EXAMPLE/input/messages.jsonl" <<'PY'
import json, os, sys
import boto3
config, packed, messages = sys.argv[1], sys.argv[2], sys.argv[3]
endpoint = os.environ["LETSDATA_AWS_ENDPOINT"]
read = json.load(open(config))["readConnector"]
bucket, key = read["artifactFileS3Link"][len("s3://"):].split("/", 1)
s3 = boto3.client("s3", endpoint_url=endpoint)
s3.create_bucket(Bucket=bucket)
s3.upload_file(packed, bucket, key)
sqs = boto3.client("sqs", endpoint_url=endpoint)
url = sqs.create_queue(QueueName=read["queueName"])["QueueUrl"]
lines = [json.loads(l) for l in open(messages) if l.strip()]
for i in range(0, len(lines), 10):
    entries = [{"Id": str(n), "MessageBody": m["body"],
                "MessageAttributes": {k: {"DataType": "String", "StringValue": v}
                                      for k, v in (m.get("attributes") or {}).items()}}
               for n, m in enumerate(lines[i:i + 10])]
    sqs.send_message_batch(QueueUrl=url, Entries=entries)
print("== s3://%s/%s uploaded; %d messages sent to %s" % (bucket, key, len(lines), read["queueName"]))
PY
fi

echo "== letsdata datasets create --configFile $CONFIG"
STATUS=0
"$LETSDATA" datasets create --configFile "$CONFIG" --prettyPrint || STATUS=$?
NAME=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["datasetName"])' "$CONFIG")
# The written objects of the dataset whose path holds `kind` (output or errors).
show() { # kind lines
  "$PY" - "$NAME" "$1" "$2" <<'PY'
import os, sys
name, kind, lines = sys.argv[1].lower(), "-" + sys.argv[2], int(sys.argv[3])
out = []
endpoint = os.environ.get("LETSDATA_AWS_ENDPOINT")
if endpoint:
    import boto3
    s3 = boto3.client("s3", endpoint_url=endpoint)
    for b in s3.list_buckets()["Buckets"]:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=b["Name"]):
            for o in page.get("Contents", []):
                path = b["Name"] + "/" + o["Key"]
                if name in path and kind in path:
                    out += s3.get_object(Bucket=b["Name"], Key=o["Key"])["Body"].read().decode().splitlines()
else:
    root = os.path.join(os.environ["LETSDATA_HOME"], "buckets")
    for d, _, files in os.walk(root):
        for f in files:
            path = os.path.join(d, f)
            if name in path and kind in path:
                out += open(path, errors="replace").read().splitlines()
print("\n".join(out[:lines]) if out else "(none)")
PY
}
echo "== documents (the first 5)"
show output 5
echo "== error records"
show errors 10
exit $STATUS
