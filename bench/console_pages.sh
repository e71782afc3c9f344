#!/usr/bin/env bash
# The web console's pages of a large dataset, in a real browser, with the release build, on the
# embedded default (issue 19: the datasets and tasks pages of a 100,000-task dataset show their
# first 100 rows in under 1 s from navigation, median of 5):
#   bench/console_pages.sh                      # 100,000 tasks, 5 runs a page
#   bench/console_pages.sh --tasks 20000 --runs 9 --small 10
# A fresh LETSDATA_HOME (a temporary directory) with a tenant, its API key and a `letsdata
# server` on a free loopback port; through the server, a dataset `Large` of --tasks one-line
# files run to COMPLETED, and --small (default 4) datasets of 10 files each, so the datasets page
# has several rows. Then bench/src/bin/console_pages.rs, in headless Chromium (chromedriver:
# LETSDATA_BENCH_CHROMEDRIVER, else `chromedriver` on the PATH; apt-get install chromium
# chromium-driver), signs in once and loads the datasets page (`#/datasets`) and Large's tasks
# page (`#/datasets/Large/tasks`) --runs times each, each a full page load from about:blank:
# the time from the navigation's start (Performance API) until the page shows its rows (every
# dataset's; the first 100 tasks), with the navigation's timing, the API calls' timing in the
# browser and their time in the server (its request log). Prints each run and the median per
# page; exits 1 when a median is 1 s or more.
set -euo pipefail
cd "$(dirname "$0")/.."
TASKS=100000
RUNS=5
SMALL=4
while [ $# -gt 0 ]; do
  case "$1" in
    --tasks) TASKS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --small) SMALL=$2; shift 2 ;;
    *) echo "unknown argument $1; use --tasks N --runs N --small N" >&2; exit 2 ;;
  esac
done
if [ -z "${LETSDATA_BENCH_CHROMEDRIVER:-}" ] && ! command -v chromedriver >/dev/null; then
  echo "chromedriver is missing: apt-get install chromium chromium-driver" >&2
  exit 1
fi
cargo build --release --locked -p letsdata -p letsdata-bench
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
echo "writing $TASKS one-line files for Large and 10 each for $SMALL small datasets"
SMALL_SPECS=()
for n in $(seq 1 "$SMALL"); do SMALL_SPECS+=("Small$n:small$n-input:10"); done
python3 bench/one_line_datasets.py "$WORK" "$BUCKETS" "${SMALL_SPECS[@]}" "Large:large-input:$TASKS"

"$LD" server --listen 127.0.0.1:0 >"$WORK/listening" 2>"$WORK/server.log" &
SERVER=$!
for _ in $(seq 1 100); do [ -s "$WORK/listening" ] && break; sleep 0.1; done
URL="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listening"])' "$WORK/listening")"
export LETSDATA_ENDPOINT="$URL" LETSDATA_API_KEY="$KEY"
STATUS='import json,sys; d=json.load(sys.stdin); p=d["datasetProgress"]; print(" ", d["datasetName"], d["datasetStatus"], p["completedTasks"], "of", p["totalTasks"], "tasks completed"); sys.exit(d["datasetStatus"] != "COMPLETED")'
echo "server at $URL; creating the datasets and running them to the end"
for n in $(seq 1 "$SMALL"); do
  "$LD" datasets create --configFile "$WORK/Small$n.json" | python3 -c "$STATUS"
done
STARTED=$(date +%s)
"$LD" datasets create --configFile "$WORK/Large.json" | python3 -c "$STATUS"
echo "  (Large took $(($(date +%s) - STARTED)) s)"
"$TARGET/release/console_pages" --dataset Large --runs "$RUNS" --server-log "$WORK/server.log"
