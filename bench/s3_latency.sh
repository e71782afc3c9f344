#!/usr/bin/env bash
# Small objects on S3 over a slow link, with the release build:
#   sudo bench/s3_latency.sh                               # 1,000 objects, 20 ms, concurrency 8
#   sudo bench/s3_latency.sh --objects 2000 --delay-ms 50 --concurrency 4
#   sudo bench/s3_latency.sh --emulator s3s-fs                 # a faster S3 server than moto
# The S3 emulator runs in a network namespace reached through a veth pair with `tc netem` adding --delay-ms to every packet the
# worker sends it. A kernel without netem (CONFIG_NET_SCH_NETEM unset) gets the same added
# round-trip time from a relay in the namespace that holds every chunk of data half the delay
# in each direction. --objects one-line JSON objects are read by a dataset of one task per
# object, written to part objects on the same S3, twice: with one object in flight per slot
# (LETSDATA_TASKS_AHEAD=0: each task opens its object and starts its output when it gets a
# slot), then with the default (the next tasks open theirs while the slots work). Prints both
# wall times and the ratio. Needs root (ip netns, tc).
# Emulators: `moto` (moto_server, from the virtualenv scripts/test.sh installs; the default),
# or `s3s-fs` (the s3s project's S3 server over a directory, written in Rust; installed on first
# use with `cargo install s3s-fs@0.14.1 --features binary` into the cache). moto serves about
# 330 requests a second, which caps what the overlap can show; s3s-fs serves thousands. The
# output and error buckets are Customer buckets the script creates (s3s-fs has no bucket
# tagging, which letsdata's own buckets need).
set -euo pipefail
cd "$(dirname "$0")/.."
OBJECTS=1000
DELAY_MS=20
CONCURRENCY=8
EMULATOR=moto
while [ $# -gt 0 ]; do
  case "$1" in
    --objects) OBJECTS=$2; shift 2 ;;
    --delay-ms) DELAY_MS=$2; shift 2 ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    --emulator) EMULATOR=$2; shift 2 ;;
    *) echo "unknown argument $1; use --objects N --delay-ms N --concurrency N --emulator moto|s3s-fs" >&2; exit 2 ;;
  esac
done
if [ "$(id -u)" != 0 ]; then
  echo "needs root: network namespaces and tc netem (run it with sudo)" >&2
  exit 1
fi
CACHE="${LETSDATA_CACHE_DIR:-$HOME/.cache/letsdata-dev}"
MOTO="$CACHE/moto-5.2.5"
if ! "$MOTO/bin/python" -c "import moto, flask, boto3" >/dev/null 2>&1; then
  echo "no S3 emulator in $MOTO: run scripts/test.sh once (it installs moto[server]==5.2.5 there)" >&2
  exit 1
fi
S3S="$CACHE/s3s-fs/bin/s3s-fs"
case "$EMULATOR" in
  moto) ;;
  s3s-fs)
    if [ ! -x "$S3S" ]; then
      echo "installing s3s-fs 0.14.1 into $CACHE/s3s-fs"
      CARGO_TARGET_DIR="$CACHE/s3s-fs/target" cargo install --quiet --locked s3s-fs@0.14.1 \
        --features binary --root "$CACHE/s3s-fs"
    fi ;;
  *) echo "unknown emulator $EMULATOR: moto or s3s-fs" >&2; exit 2 ;;
esac
cargo build --release -p letsdata
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
LD="$TARGET/release/letsdata"
WORK="$(mktemp -d)"
NS="ldbench$$"
HOST_IF="ldbh$$"
NS_IF="ldbn$$"
NET="10.$((RANDOM % 200 + 20)).$((RANDOM % 250)).0"
HOST_IP="${NET%.0}.1"
NS_IP="${NET%.0}.2"
MOTO_PID=""
cleanup() {
  [ -n "$MOTO_PID" ] && kill "$MOTO_PID" 2>/dev/null || true
  [ -n "${RELAY_PID:-}" ] && kill "$RELAY_PID" 2>/dev/null || true
  ip link del "$HOST_IF" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add "$NS"
ip link add "$HOST_IF" type veth peer name "$NS_IF"
ip link set "$NS_IF" netns "$NS"
ip addr add "$HOST_IP/24" dev "$HOST_IF"
ip link set "$HOST_IF" up
ip netns exec "$NS" ip addr add "$NS_IP/24" dev "$NS_IF"
ip netns exec "$NS" ip link set "$NS_IF" up
ip netns exec "$NS" ip link set lo up
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
if [ "$EMULATOR" = moto ]; then
  ip netns exec "$NS" "$MOTO/bin/moto_server" -H "$NS_IP" -p 5055 >"$WORK/moto.log" 2>&1 &
else
  mkdir -p "$WORK/s3s"
  ip netns exec "$NS" "$S3S" --host "$NS_IP" --port 5055 --access-key "$AWS_ACCESS_KEY_ID" \
    --secret-key "$AWS_SECRET_ACCESS_KEY" "$WORK/s3s" >"$WORK/s3s.log" 2>&1 &
fi
MOTO_PID=$!
RELAY_PID=""
ENDPOINT="http://$NS_IP:5055"
for _ in $(seq 1 100); do
  if python3 -c "import socket; socket.create_connection(('$NS_IP', 5055), 0.2)" >/dev/null 2>&1; then break; fi
  sleep 0.2
done
# The input, uploaded before the link is slowed down.
"$MOTO/bin/python" - "$ENDPOINT" "$OBJECTS" "$CONCURRENCY" "$WORK" <<'EOF'
import boto3, json, os, sys
from concurrent.futures import ThreadPoolExecutor
endpoint, objects, concurrency, work = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
s3 = boto3.client("s3", endpoint_url=endpoint)
for bucket in ("latency-in", "latency-out", "latency-errors"):
    s3.create_bucket(Bucket=bucket)
def put(i):
    body = json.dumps({"id": i, "name": f"item {i}", "tags": ["a", "b"]}) + "\n"
    s3.put_object(Bucket="latency-in", Key=f"o{i:07d}.jsonl", Body=body.encode())
with ThreadPoolExecutor(16) as pool:
    list(pool.map(put, range(objects)))
for name in ("Latency0", "LatencyAhead"):
    json.dump({
        "datasetName": name, "region": "us-east-1",
        "accessGrantRoleArn": "arn:aws:iam::123456789012:role/LetsDataAccess",
        "customerAccountForAccess": "123456789012",
        "readConnector": {"connectorDestination": "S3", "readerType": "Single File Reader",
                          "bucketName": "latency-in", "bucketResourceLocation": "Customer",
                          "artifactImplementationLanguage": "Builtin", "builtinParser": "jsonl"},
        "writeConnector": {"connectorDestination": "S3", "resourceLocation": "Customer",
                           "bucketName": "latency-out"},
        "errorConnector": {"connectorDestination": "S3", "resourceLocation": "Customer",
                           "bucketName": "latency-errors"},
        "computeEngine": {"computeEngineType": "Lambda", "concurrency": concurrency},
        "manifestFile": {"manifestType": "S3ReaderTextManifestFile", "readerType": "SINGLEFILEREADER",
                         "fileContents": "\n".join(f"o{i:07d}.jsonl" for i in range(objects))},
    }, open(os.path.join(work, f"{name}.json"), "w"))
EOF
if tc qdisc add dev "$HOST_IF" root netem delay "${DELAY_MS}ms" 2>/dev/null; then
  HOW="tc netem on the veth"
  PORT=5055
else
  HOW="a relay holding each chunk $((DELAY_MS / 2)) ms each way (this kernel has no netem)"
  PORT=5056
  cat >"$WORK/relay.py" <<'EOF'
import asyncio, sys
host, listen, target, delay = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]) / 2000
async def pump(reader, writer):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()
    async def send():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                writer.close()
                return
            writer.write(data)
            await writer.drain()
    sender = asyncio.create_task(send())
    while True:
        data = await reader.read(65536)
        queue.put_nowait((loop.time() + delay, data))
        if not data:
            break
    await sender
async def relay(client_reader, client_writer):
    await asyncio.sleep(delay)
    reader, writer = await asyncio.open_connection(host, target)
    await asyncio.sleep(delay)
    await asyncio.gather(pump(client_reader, writer), pump(reader, client_writer), return_exceptions=True)
async def main():
    server = await asyncio.start_server(relay, host, listen)
    async with server:
        await server.serve_forever()
asyncio.run(main())
EOF
  ip netns exec "$NS" python3 "$WORK/relay.py" "$NS_IP" "$PORT" 5055 "$DELAY_MS" >"$WORK/relay.log" 2>&1 &
  RELAY_PID=$!
  sleep 1
  ENDPOINT="http://$NS_IP:$PORT"
fi
RTT=$(python3 - "$NS_IP" "$PORT" <<'EOF'
import socket, sys, time
best = 1e9
for _ in range(5):
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
    t = time.time()
    s.sendall(b"GET /latency-in HTTP/1.1\r\nHost: x\r\n\r\n")
    s.recv(1)
    best = min(best, time.time() - t)
    s.close()
print(round(best * 1000, 1))
EOF
)
echo "S3 emulator ($EMULATOR) at $ENDPOINT through $HOW: a request answered in $RTT ms at best; $OBJECTS objects, concurrency $CONCURRENCY"

export LETSDATA_HOME="$WORK/home" LETSDATA_AWS_ENDPOINT="$ENDPOINT"
run() { # label dataset [env...]
  local label=$1 name=$2
  shift 2
  local start end
  start=$(date +%s.%N)
  env "$@" "$LD" datasets create --configFile "$WORK/$name.json" >"$WORK/$name.out" 2>"$WORK/$name.err" || {
    echo "$label failed:" >&2; cat "$WORK/$name.err" >&2; exit 1; }
  end=$(date +%s.%N)
  python3 - "$WORK/$name.out" "$OBJECTS" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["datasetProgress"]
assert d["datasetStatus"] == "COMPLETED", d["datasetStatus"]
assert p["documentsWritten"] == int(sys.argv[2]), p
EOF
  python3 -c "print(round($end - $start, 2))"
}
ONE=$(run "one object in flight per slot" Latency0 LETSDATA_TASKS_AHEAD=0)
echo "one object in flight per slot (LETSDATA_TASKS_AHEAD=0): $ONE s"
AHEAD=$(run "tasks ahead" LatencyAhead)
echo "next objects opened while the slots work (default): $AHEAD s"
python3 -c "print(f'speed-up: {$ONE / $AHEAD:.1f}x')"
[ "$EMULATOR" = moto ] || exit 0
python3 - "$WORK/moto.log" <<'EOF'
import collections, re, sys
calls = collections.Counter()
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r'"(GET|PUT|POST|HEAD|DELETE) ([^ ?]*)(\?[^ ]*)? HTTP', line)
    if m:
        query = m.group(3) or ""
        kind = next((k for k in ("uploads", "partNumber", "uploadId", "list-type", "location") if k in query), "")
        calls[f"{m.group(1)} {kind}".strip()] += 1
print("requests the emulator served:", ", ".join(f"{k}: {v}" for k, v in calls.most_common()))
EOF
