#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, and every test, including the S3 tests
# against a local S3 emulator (moto_server), which this script installs and starts if needed.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${LETSDATA_CACHE_DIR:-$HOME/.cache/letsdata-dev}"
mkdir -p "$CACHE"
# Build outside the clone so a fresh clone does not recompile every dependency.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"

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
trap 'kill $MOTO_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$MOTO_PORT/moto-api/')" >/dev/null 2>&1; then break; fi
  sleep 0.2
done
export LETSDATA_TEST_S3_ENDPOINT="http://127.0.0.1:$MOTO_PORT"
echo "moto_server $MOTO_VERSION on $LETSDATA_TEST_S3_ENDPOINT"

# --- WebAssembly target for the SDK, the examples and the test components (user code).
if command -v rustup >/dev/null 2>&1; then
  rustup target add wasm32-wasip2 >/dev/null
fi
# The CLI tests build examples/ themselves into $CARGO_TARGET_DIR/guests; building them here
# first makes a failure show up as what it is.
CARGO_TARGET_DIR="$CARGO_TARGET_DIR/guests" cargo build --release --locked --target wasm32-wasip2 \
  --manifest-path examples/Cargo.toml

# --- checks
cargo fmt --all -- --check
cargo fmt --manifest-path examples/Cargo.toml --all -- --check
rustfmt --edition 2024 --check sdk/rust/src/lib.rs
cargo clippy --workspace --all-targets --locked -- -D warnings
CARGO_TARGET_DIR="$CARGO_TARGET_DIR/guests" cargo clippy --locked --target wasm32-wasip2 \
  --manifest-path examples/Cargo.toml -- -D warnings
cargo test --workspace --locked
# The SDK's and the examples' own unit tests, natively (batch encoding and parsing logic
# without the sandbox).
CARGO_TARGET_DIR="$CARGO_TARGET_DIR/examples-native" cargo test --locked \
  --manifest-path examples/Cargo.toml -p letsdata-sdk -p json-transform
