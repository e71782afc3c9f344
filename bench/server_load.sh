#!/usr/bin/env bash
# `letsdata server` under load, with the release build, on the embedded default:
#   bench/server_load.sh                        # 50 clients, 30 s
#   bench/server_load.sh --clients 100 --seconds 60 --busy-files 200000
# A tenant's dataset of 10,000 tasks (completed) is read by --clients concurrent connections
# (wrk, a second process on the loopback) for --seconds: `datasets view` and the first page
# (100) of `tasks list`, alternately, with its API key; meanwhile the server's worker processes
# another dataset of --busy-files one-line files. Prints requests/s, latency percentiles and
# errors (non-2xx answers and socket errors), and whether the other dataset was still processing
# when the load ended (it should be: the point is a server that is also working).
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=50
SECONDS_=30
BUSY=100000
while [ $# -gt 0 ]; do
  case "$1" in
    --clients) CLIENTS=$2; shift 2 ;;
    --seconds) SECONDS_=$2; shift 2 ;;
    --busy-files) BUSY=$2; shift 2 ;;
    *) echo "unknown argument $1; use --clients N --seconds S --busy-files N" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release --locked -p letsdata
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
LD="$TARGET/release/letsdata"
WORK="$(mktemp -d)"
SERVER=""
trap '[ -n "$SERVER" ] && kill $SERVER 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
export LETSDATA_HOME="$WORK/home"
unset LETSDATA_DATABASE_URL LETSDATA_AWS_ENDPOINT LETSDATA_ENDPOINT LETSDATA_API_KEY

TENANT_ID="$("$LD" admin tenants create --tenantName bench | python3 -c 'import json,sys; print(json.load(sys.stdin)["tenantId"])')"
KEY="$("$LD" admin apikeys create --tenantName bench | python3 -c 'import json,sys; print(json.load(sys.stdin)["apiKey"])')"
BUCKETS="$LETSDATA_HOME/tenants/$TENANT_ID/buckets"
python3 bench/one_line_datasets.py "$WORK" "$BUCKETS" Listed:listed-input:10000 "Busy:busy-input:$BUSY"

"$LD" server --listen 127.0.0.1:0 >"$WORK/listening" 2>"$WORK/server.log" &
SERVER=$!
for _ in $(seq 1 100); do [ -s "$WORK/listening" ] && break; sleep 0.1; done
URL="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listening"])' "$WORK/listening")"
export LETSDATA_ENDPOINT="$URL" LETSDATA_API_KEY="$KEY"
echo "server at $URL; creating the 10,000-task dataset and running it to the end"
"$LD" datasets create --configFile "$WORK/Listed.json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ", d["datasetStatus"], d["datasetProgress"]["completedTasks"], "tasks completed")'
"$LD" datasets create --configFile "$WORK/Busy.json" --detach >/dev/null
echo "the server's worker now processes Busy ($BUSY files); $CLIENTS clients for $SECONDS_ s:"
cat >"$WORK/load.lua" <<EOF
local paths = {"/api/v1/dataset?datasetName=Listed", "/api/v1/tasks/list?datasetName=Listed&limit=100"}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n % 2) + 1], {["Authorization"] = "Bearer $KEY"})
end
EOF
wrk -t2 -c"$CLIENTS" -d"${SECONDS_}s" --latency --timeout 10s -s "$WORK/load.lua" "$URL" | tee "$WORK/wrk.out"
BUSY_STATUS="$("$LD" datasets view --datasetName Busy | python3 -c 'import json,sys; d=json.load(sys.stdin); p=d["datasetProgress"]; print(d["datasetStatus"], p["completedTasks"], "of", p["totalTasks"], "tasks done")')"
echo "Busy when the load ended: $BUSY_STATUS"
python3 - "$WORK/wrk.out" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
rps = re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)
p99 = re.search(r"99%\s+([\d.]+\w+)", text).group(1)
p50 = re.search(r"50%\s+([\d.]+\w+)", text).group(1)
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
sock = re.search(r"Socket errors: (.*)", text)
print(f"summary: {rps} requests/s, p50 {p50}, p99 {p99}, "
      f"non-2xx {non2xx.group(1) if non2xx else 0}, socket errors: {sock.group(1) if sock else 'none'}")
EOF
